//! Reading the Kubernetes API (kube-rs): kubeconfig as kubectl handles it, paged lists, a bound
//! on concurrent requests, retries for throttling and server errors, and refusals turned into
//! recorded gaps rather than failures.

use super::{Gaps, Limits};
use crate::facts::pod::Pod as FactPod;
use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;
use std::path::Path;

/// What the kubeconfig says about the cluster, for finding the EKS cluster and region.
#[derive(Debug, Clone, Default)]
pub struct ContextInfo {
    pub context: Option<String>,
    /// The kubeconfig's cluster entry name (`aws eks update-kubeconfig` writes the cluster ARN).
    pub cluster_entry: Option<String>,
    pub server: Option<String>,
    /// `--cluster-name` / `--region` of an `aws eks get-token` exec plugin.
    pub exec_cluster: Option<String>,
    pub exec_region: Option<String>,
    pub namespace: Option<String>,
}

pub struct Kube {
    pub client: kube::Client,
    pub limits: Limits,
    /// Every request sent, by verb and resource.
    pub calls: super::tally::Tally<super::tally::KubeCall>,
}

/// Loads the kubeconfig (`--kubeconfig`, else `KUBECONFIG` with several files, else
/// `~/.kube/config`) and connects with the chosen context.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    limits: Limits,
) -> Result<(Kube, ContextInfo), String> {
    let (mut config, info) = match in_cluster(kubeconfig, context) {
        Some(config) => (config?, ContextInfo::default()),
        None => from_kubeconfig(kubeconfig, context).await?,
    };
    // Reads are timed out per call by `Kube::call`, which says which call was too slow.
    config.connect_timeout = Some(limits.timeout);
    config.read_timeout = None;
    // Every answer is read through a cap: a response that never ends stops at --max-input-mb.
    let max_body = limits.max_body;
    // The client runs the kubeconfig's exec plugin (`aws eks get-token`) here, blocking: on a
    // blocking thread, within --timeout, so a plugin that never answers is one clear error.
    let built = tokio::task::spawn_blocking(move || kube::client::ClientBuilder::try_from(config));
    let builder = match tokio::time::timeout(limits.timeout, built).await {
        Err(_) => {
            return Err(format!(
                "the kubeconfig's credential plugin did not answer within --timeout ({} s) (run it by hand to see why, e.g. aws eks get-token; or pass --context)",
                limits.timeout.as_secs()
            ));
        }
        Ok(Err(e)) => return Err(format!("cannot create a Kubernetes client: {e}")),
        Ok(Ok(result)) => result.map_err(|e| format!("cannot create a Kubernetes client: {e}"))?,
    };
    let calls = super::tally::Tally::default();
    let counted = calls.clone();
    let client = builder
        .with_layer(&tower::util::MapRequestLayer::new(
            move |request: http::Request<kube::client::Body>| {
                counted.add(super::tally::KubeCall::of(request.method(), request.uri()));
                request
            },
        ))
        .with_layer(&tower::util::MapResponseLayer::new(
            move |response: http::Response<_>| {
                response.map(|body| http_body_util::Limited::new(body, max_body))
            },
        ))
        .build();
    Ok((
        Kube {
            client,
            limits,
            calls,
        },
        info,
    ))
}

/// In a pod with no kubeconfig (the agent): the ServiceAccount's token and the API server the
/// pod is given. A kubeconfig, when there is one, still wins.
fn in_cluster(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Option<Result<kube::Config, String>> {
    let home_config = std::env::var_os("HOME")
        .map(|home| Path::new(&home).join(".kube/config"))
        .is_some_and(|p| p.exists());
    let kubeconfig_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    if kubeconfig.is_some() || context.is_some() || kubeconfig_set || home_config {
        return None;
    }
    std::env::var_os("KUBERNETES_SERVICE_HOST")?;
    Some(
        kube::Config::incluster()
            .map_err(|e| format!("cannot use the pod's in-cluster configuration: {e}")),
    )
}

async fn from_kubeconfig(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<(kube::Config, ContextInfo), String> {
    let config_file = read_kubeconfig(kubeconfig)?;
    let chosen = context
        .map(str::to_string)
        .or_else(|| config_file.current_context.clone());
    let info = context_info(&config_file, chosen.as_deref());
    if let Some(name) = &chosen
        && !config_file.contexts.iter().any(|c| &c.name == name)
    {
        return Err(format!("context \"{name}\" is not in the kubeconfig"));
    }
    let options = KubeConfigOptions {
        context: chosen,
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(config_file, &options)
        .await
        .map_err(|e| format!("cannot use the kubeconfig: {e}"))?;
    Ok((config, info))
}

fn read_kubeconfig(kubeconfig: Option<&Path>) -> Result<Kubeconfig, String> {
    let from_env = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
    let file = match (kubeconfig, &from_env) {
        (Some(path), _) => path.display().to_string(),
        (None, Some(value)) => format!("$KUBECONFIG ({})", value.to_string_lossy()),
        (None, None) => "~/.kube/config".to_string(),
    };
    // Every file kube-rs would read is checked first: a device that never ends (`/dev/zero`)
    // or a huge file is refused, not read into memory.
    let paths: Vec<std::path::PathBuf> = match (kubeconfig, &from_env) {
        (Some(path), _) => vec![path.to_path_buf()],
        (None, Some(value)) => std::env::split_paths(value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        (None, None) => std::env::var_os("HOME")
            .map(|home| std::path::Path::new(&home).join(".kube/config"))
            .into_iter()
            .collect(),
    };
    for path in paths.iter().filter(|p| p.exists()) {
        let text = crate::source::bundle::read_capped(path, MAX_KUBECONFIG_BYTES)
            .map_err(|why| format!("kubeconfig {}: {why}", path.display()))?;
        // A pipe (`--kubeconfig <(…)`) can be read once: parse what was read.
        if kubeconfig.is_some() && crate::source::bundle::is_pipe_path(path) {
            return Kubeconfig::from_yaml(&text)
                .map_err(|e| kubeconfig_error(&file, &e.to_string()));
        }
    }
    match kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    }
    .map_err(|e| kubeconfig_error(&file, &e.to_string()))
}

/// Objects a list page asks for, and the most pages a list reads (a million objects).
const PAGE_SIZE: u32 = 500;
const MAX_PAGES: usize = 2_000;

/// A kubeconfig larger than this is refused (real ones are kilobytes).
const MAX_KUBECONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// What a first run without a cluster can do.
pub const FIRST_RUN: &str = "for an EKS cluster: aws eks update-kubeconfig --name CLUSTER --region REGION (or pass --kubeconfig / --context); without one: pulldoctor demo";

/// Where a kubeconfig is wrong, never what it says: it holds tokens and keys, and a parser's
/// message quotes the lines around the error.
fn kubeconfig_error(file: &str, error: &str) -> String {
    #[expect(
        clippy::expect_used,
        reason = "a literal pattern, compiled by every test run"
    )]
    static POSITION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"line (\d+),? column (\d+)").expect("valid regex")
    });
    let fix = "(fix it, pass --kubeconfig, or use --from a bundle)";
    match POSITION.captures(error) {
        Some(at) => format!(
            "{file} does not parse at line {}, column {} {fix}",
            &at[1], &at[2]
        ),
        None if error.contains("No such file") || error.contains("not found") => {
            format!("no kubeconfig: {file} does not exist; {FIRST_RUN}")
        }
        None => format!("cannot read {file}: it is not a kubeconfig {fix}"),
    }
}

/// The kubeconfig's contexts, and the one in use (`context`, else the current one).
pub fn contexts(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<(Vec<String>, Option<String>), String> {
    let config = read_kubeconfig(kubeconfig)?;
    let names = config.contexts.iter().map(|c| c.name.clone()).collect();
    let current = context.map(str::to_string).or(config.current_context);
    Ok((names, current))
}

fn context_info(config: &Kubeconfig, context: Option<&str>) -> ContextInfo {
    let named = context.and_then(|c| config.contexts.iter().find(|n| n.name == c));
    let ctx = named.and_then(|n| n.context.as_ref());
    let cluster_entry = ctx.map(|c| c.cluster.clone());
    let server = cluster_entry.as_ref().and_then(|name| {
        config
            .clusters
            .iter()
            .find(|c| &c.name == name)
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.clone())
    });
    let exec_args: Vec<String> = ctx
        .and_then(|c| c.user.as_ref())
        .and_then(|user| config.auth_infos.iter().find(|a| &a.name == user))
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.as_ref())
        .and_then(|e| e.args.clone())
        .unwrap_or_default();
    let after = |flag: &str| {
        exec_args
            .iter()
            .position(|a| a == flag)
            .and_then(|i| exec_args.get(i + 1).cloned())
    };
    ContextInfo {
        context: context.map(str::to_string),
        cluster_entry,
        server,
        exec_cluster: after("--cluster-name")
            .or_else(|| after("--cluster-id"))
            .or_else(|| after("-i")),
        exec_region: after("--region"),
        namespace: ctx.and_then(|c| c.namespace.clone()),
    }
}

/// A failed call: the HTTP status (0 for transport errors) and what to tell the user.
#[derive(Debug, Clone)]
pub struct CallError {
    pub code: u16,
    pub message: String,
}

fn classify(error: kube::Error, what: &str, verb: &str, resource: &str) -> CallError {
    match error {
        kube::Error::Api(status) => {
            let code = status.code;
            let message = match code {
                401 => format!(
                    "Unauthorized: {what} — the credentials of this context were refused (log in again)"
                ),
                403 => format!("Forbidden: {what} — needs RBAC verb \"{verb}\" on \"{resource}\""),
                404 => format!("NotFound: {what}"),
                429 => format!("throttled: {what} (429 Too Many Requests, retries exhausted)"),
                _ => format!("HTTP {code}: {what}: {}", status.message),
            };
            CallError { code, message }
        }
        // A transport failure: the deepest cause's own words (connection refused, no such
        // host), never the client's error chain.
        other => CallError {
            code: 0,
            message: format!(
                "cannot reach the cluster's API server ({what}): {}",
                super::innermost(&other)
            ),
        },
    }
}

/// Whether a failed call is worth another try.
fn retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        _ => true,
    }
}

/// Whose place in the concurrency bound a call takes.
#[derive(Clone, Copy)]
enum Lane {
    /// One of the bounded lookups.
    Shared,
    /// A list read page after page (the pods, the events): one request at a time, so it is not
    /// queued behind the lookups its own pages start.
    Own,
}

impl Kube {
    /// One API call with the concurrency bound, a timeout, and up to three tries with backoff.
    async fn call<T, F, Fut>(
        &self,
        what: &str,
        verb: &str,
        resource: &str,
        f: F,
    ) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        self.call_in(Lane::Shared, what, verb, resource, f).await
    }

    async fn call_in<T, F, Fut>(
        &self,
        lane: Lane,
        what: &str,
        verb: &str,
        resource: &str,
        mut f: F,
    ) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let mut delay = std::time::Duration::from_millis(200);
        // The tries share one budget of twice --timeout, so a server that never answers costs
        // that, not three timeouts and their backoff.
        let deadline = tokio::time::Instant::now() + self.limits.timeout * 2;
        for attempt in 1..=3 {
            let _permit = match lane {
                Lane::Shared => Some(self.limits.permit().await),
                Lane::Own => None,
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let outcome = tokio::time::timeout(left.min(self.limits.timeout), f()).await;
            let last = attempt == 3 || tokio::time::Instant::now() + delay >= deadline;
            match outcome {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) if !last && retryable(&e) => {}
                Ok(Err(e)) => return Err(classify(e, what, verb, resource)),
                Err(_) if !last => {}
                Err(_) => {
                    return Err(CallError {
                        code: 0,
                        message: format!("{what} timed out after {:?}", self.limits.timeout),
                    });
                }
            }
            drop(_permit);
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Every page of a list.
    async fn list<K>(
        &self,
        api: &Api<K>,
        params: ListParams,
        what: &str,
        resource: &str,
    ) -> Result<Vec<K>, CallError>
    where
        K: Clone + DeserializeOwned + Debug,
    {
        let mut items = Vec::new();
        let all = |_: &K| true;
        self.list_pages(Lane::Shared, api, params, what, resource, all, |page| {
            items.extend(page)
        })
        .await?;
        Ok(items)
    }

    /// Every page of a list, what `keep` accepts of each page handed to `on_page` as it
    /// arrives (the next page needs this one's continue token).
    #[expect(
        clippy::too_many_arguments,
        reason = "a list's what, where and how, each distinct"
    )]
    async fn list_pages<K>(
        &self,
        lane: Lane,
        api: &Api<K>,
        params: ListParams,
        what: &str,
        resource: &str,
        keep: impl Fn(&K) -> bool,
        mut on_page: impl FnMut(Vec<K>),
    ) -> Result<(), CallError>
    where
        K: Clone + DeserializeOwned + Debug,
    {
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_params = params.clone().limit(PAGE_SIZE);
            if let Some(t) = &token {
                page_params = page_params.continue_token(t);
            }
            let page = self
                .call_in(lane, what, "list", resource, || api.list(&page_params))
                .await?;
            on_page(page.items.into_iter().filter(|item| keep(item)).collect());
            let next = page.metadata.continue_.filter(|t| !t.is_empty());
            if next.is_none() {
                return Ok(());
            }
            // An API server that hands back the token it was given would page forever.
            if next == token {
                break;
            }
            token = next;
        }
        Err(CallError {
            code: 0,
            message: format!(
                "{what}: the API server's pages did not end (a continue token repeated, or more than {MAX_PAGES} pages of {PAGE_SIZE}); stopped"
            ),
        })
    }

    /// The pods of a namespace (or all), or the one named `only`; of each page, the pods
    /// `keep` accepts, as the diagnosis keeps them, handed to `on_page` as the page arrives.
    pub async fn pods(
        &self,
        namespace: Option<&str>,
        only: Option<&str>,
        keep: impl Fn(&FactPod) -> bool,
        mut on_page: impl FnMut(Vec<FactPod>),
    ) -> Result<(), CallError> {
        let api: Api<Pod> = namespaced_or_all(&self.client, namespace);
        let params = match only {
            Some(name) => ListParams::default().fields(&format!("metadata.name={name}")),
            None => ListParams::default(),
        };
        self.list_pages(
            Lane::Own,
            &api,
            params,
            &format!("list pods{}", in_ns(namespace)),
            "pods",
            |_| true,
            |page| {
                let page = page.into_iter().map(FactPod::from_api);
                on_page(page.filter(|p| keep(p)).collect())
            },
        )
        .await
    }

    /// Warning events only (a field selector): pull failures and FailedCreate are warnings.
    /// With `about`, only those about that pod.
    pub async fn warning_events(
        &self,
        namespace: Option<&str>,
        about: Option<&str>,
    ) -> Result<Vec<Event>, CallError> {
        let api: Api<Event> = namespaced_or_all(&self.client, namespace);
        let fields = match about {
            Some(pod) => format!("type=Warning,involvedObject.kind=Pod,involvedObject.name={pod}"),
            None => "type=Warning".to_string(),
        };
        let mut events = Vec::new();
        self.list_pages(
            Lane::Own,
            &api,
            ListParams::default().fields(&fields),
            &format!("list events{}", in_ns(namespace)),
            "events",
            |_| true,
            |page| events.extend(page),
        )
        .await?;
        Ok(events)
    }

    pub async fn service_accounts(
        &self,
        namespace: &str,
    ) -> Result<Vec<ServiceAccount>, CallError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        self.list(
            &api,
            ListParams::default(),
            &format!("list serviceaccounts in {namespace}"),
            "serviceaccounts",
        )
        .await
    }

    /// The Secrets of a namespace, metadata only (names, times, who wrote them): the API server
    /// sends no data, so no secret value ever reaches this process.
    pub async fn secret_metadata(&self, namespace: &str) -> Result<Vec<ObjectMeta>, CallError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let params = ListParams::default();
        let listed = self
            .call(
                &format!("list secrets (metadata only) in {namespace}"),
                "list",
                "secrets",
                || api.list_metadata(&params),
            )
            .await?;
        Ok(listed.items.into_iter().map(|i| i.metadata).collect())
    }

    pub async fn node(&self, name: &str) -> Result<Node, CallError> {
        let api: Api<Node> = Api::all(self.client.clone());
        self.call(&format!("get node {name}"), "get", "nodes", || {
            api.get(name)
        })
        .await
    }

    /// Whether a namespace exists: `Some(false)` only on the API's 404; `None` when it could not
    /// be asked (RBAC often forbids reading namespaces).
    pub async fn namespace_exists(&self, name: &str) -> Option<bool> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        match self
            .call(
                &format!("get namespace {name}"),
                "get",
                "namespaces",
                || api.get(name),
            )
            .await
        {
            Ok(_) => Some(true),
            Err(e) if e.code == 404 => Some(false),
            Err(_) => None,
        }
    }

    pub async fn aws_auth(&self) -> Result<ConfigMap, CallError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), "kube-system");
        self.call(
            "get configmap kube-system/aws-auth",
            "get",
            "configmaps",
            || api.get("aws-auth"),
        )
        .await
    }

    /// A controller named by a FailedCreate event, as JSON.
    pub async fn workload(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, CallError> {
        let what = format!("get {} {namespace}/{name}", kind.to_lowercase());
        match kind {
            "ReplicaSet" => {
                self.get_json::<ReplicaSet>(namespace, name, &what, "replicasets")
                    .await
            }
            "StatefulSet" => {
                self.get_json::<StatefulSet>(namespace, name, &what, "statefulsets")
                    .await
            }
            "DaemonSet" => {
                self.get_json::<DaemonSet>(namespace, name, &what, "daemonsets")
                    .await
            }
            "Job" => self.get_json::<Job>(namespace, name, &what, "jobs").await,
            other => Err(CallError {
                code: 0,
                message: format!("{other} controllers are not read"),
            }),
        }
    }

    async fn get_json<K>(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        resource: &str,
    ) -> Result<Value, CallError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let object = self.call(what, "get", resource, || api.get(name)).await?;
        Ok(serde_json::to_value(object).unwrap_or_default())
    }

    /// A node class, which names the node role in `spec.role`: Karpenter's EC2NodeClass or EKS
    /// Auto Mode's NodeClass.
    pub async fn node_class(&self, class: &NodeClass) -> Result<Value, CallError> {
        let (group, plural) = match class.kind {
            NodeClassKind::Karpenter => ("karpenter.k8s.aws", "ec2nodeclasses"),
            NodeClassKind::AutoMode => ("eks.amazonaws.com", "nodeclasses"),
        };
        let kind = class.kind();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind));
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        let name = &class.name;
        let object = self
            .call(
                &format!("get {} {name}", kind.to_lowercase()),
                "get",
                &format!("{plural}.{group}"),
                || api.get(name),
            )
            .await?;
        let mut value = serde_json::to_value(object).unwrap_or_default();
        value["apiVersion"] = Value::String(format!("{group}/v1"));
        value["kind"] = Value::String(kind.into());
        Ok(value)
    }
}

/// Which node class a node's labels name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeClassKind {
    Karpenter,
    AutoMode,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeClass {
    pub kind: NodeClassKind,
    pub name: String,
}

impl NodeClass {
    /// Its kind as the API names it.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            NodeClassKind::Karpenter => "EC2NodeClass",
            NodeClassKind::AutoMode => "NodeClass",
        }
    }

    /// The node class a node's labels name, if any.
    pub fn of(node: &k8s_openapi::api::core::v1::Node) -> Option<NodeClass> {
        let labels = node.metadata.labels.as_ref()?;
        if let Some(name) = labels.get("karpenter.k8s.aws/ec2nodeclass") {
            return Some(NodeClass {
                kind: NodeClassKind::Karpenter,
                name: name.clone(),
            });
        }
        if labels
            .get("eks.amazonaws.com/compute-type")
            .map(String::as_str)
            == Some("auto")
        {
            return labels
                .get("eks.amazonaws.com/nodeclass")
                .map(|name| NodeClass {
                    kind: NodeClassKind::AutoMode,
                    name: name.clone(),
                });
        }
        None
    }
}

fn namespaced_or_all<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn in_ns(namespace: Option<&str>) -> String {
    namespace
        .map(|n| format!(" in {n}"))
        .unwrap_or_else(|| " (all namespaces)".to_string())
}

/// Records a failed Kubernetes call: a 404 of a single object is a covered absence.
pub fn record(gaps: &mut Gaps, scope_name: &str, error: CallError) {
    if error.code == 404 {
        gaps.covered(scope_name);
    } else {
        gaps.error(scope_name, &error.message);
    }
}
