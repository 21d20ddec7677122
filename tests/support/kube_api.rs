//! A Kubernetes API stand-in: serves a scenario's objects over real HTTP with paging
//! (limit/continue), field selectors, injectable faults and latency, and counts requests.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Fault {
    /// Applies to requests whose path contains this.
    pub path_contains: String,
    pub status: u16,
    /// How many requests it answers before it stops (usize::MAX: always).
    pub remaining: usize,
}

pub struct KubeState {
    pub objects: Mutex<Vec<Value>>,
    /// Watch events (one JSON line each) for every open watch.
    pub events: tokio::sync::broadcast::Sender<String>,
    pub requests: Mutex<Vec<String>>,
    /// When each request arrived, and what it asked: the waves of a read under latency.
    pub arrivals: Mutex<Vec<(std::time::Instant, String)>>,
    pub faults: Mutex<Vec<Fault>>,
    pub latency: Mutex<Duration>,
    /// Whether list pages after the first are answered; a test closes it to look at what a
    /// read shows between pages without racing a clock.
    pub later_pages: tokio::sync::watch::Sender<bool>,
}

pub struct KubeApi {
    pub addr: SocketAddr,
    pub state: Arc<KubeState>,
}

impl KubeApi {
    pub async fn start(objects: Vec<Value>) -> KubeApi {
        let state = Arc::new(KubeState {
            objects: Mutex::new(objects),
            events: tokio::sync::broadcast::channel(64).0,
            requests: Mutex::default(),
            arrivals: Mutex::default(),
            faults: Mutex::default(),
            latency: Mutex::default(),
            later_pages: tokio::sync::watch::Sender::new(true),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        KubeApi { addr, state }
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The stored object of this kind and name.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.state
            .objects
            .lock()
            .unwrap()
            .iter()
            .find(|o| {
                o["kind"] == kind
                    && o["metadata"]["namespace"] == namespace
                    && o["metadata"]["name"] == name
            })
            .cloned()
    }

    /// Adds an object, as a controller would, and tells every watch.
    pub fn add(&self, object: Value) {
        self.state.objects.lock().unwrap().push(object.clone());
        let _ = self
            .state
            .events
            .send(json!({"type": "ADDED", "object": object}).to_string() + "\n");
    }

    /// Replaces the object of the same kind, namespace and name, and tells every open watch
    /// (as the API server does when the kubelet updates a pod's status).
    pub fn replace(&self, object: Value) {
        let mut objects = self.state.objects.lock().unwrap();
        objects.retain(|o| {
            !(o["kind"] == object["kind"]
                && o["metadata"]["namespace"] == object["metadata"]["namespace"]
                && o["metadata"]["name"] == object["metadata"]["name"])
        });
        objects.push(object.clone());
        let line = json!({"type": "MODIFIED", "object": object}).to_string() + "\n";
        let _ = self.state.events.send(line);
    }

    /// Deletes the object of this kind and name, and tells every open watch.
    pub fn remove(&self, kind: &str, namespace: &str, name: &str) {
        let Some(object) = self.object(kind, namespace, name) else {
            return;
        };
        self.state.objects.lock().unwrap().retain(|o| {
            !(o["kind"] == kind
                && o["metadata"]["namespace"] == namespace
                && o["metadata"]["name"] == name)
        });
        let line = json!({"type": "DELETED", "object": object}).to_string() + "\n";
        let _ = self.state.events.send(line);
    }

    /// The requests that were not reads: what a test of a read-only path expects none of.
    pub fn writes(&self) -> Vec<String> {
        let mut requests = self.requests();
        requests.retain(|r| !r.starts_with("GET "));
        requests
    }

    /// The `events.k8s.io` Events held about `pod`.
    pub fn events_about(&self, pod: &str) -> Vec<Value> {
        let objects = self.state.objects.lock().unwrap();
        objects
            .iter()
            .filter(|o| o["apiVersion"] == "events.k8s.io/v1" && o["regarding"]["name"] == pod)
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.state.requests.lock().unwrap().clear();
        self.state.arrivals.lock().unwrap().clear();
        self.state.faults.lock().unwrap().clear();
        *self.state.latency.lock().unwrap() = Duration::ZERO;
        self.state.later_pages.send_replace(true);
    }

    /// Holds every list page after the first until `release_later_pages`.
    pub fn hold_later_pages(&self) {
        self.state.later_pages.send_replace(false);
    }

    pub fn release_later_pages(&self) {
        self.state.later_pages.send_replace(true);
    }

    pub fn fault(&self, path_contains: &str, status: u16, remaining: usize) {
        self.state.faults.lock().unwrap().push(Fault {
            path_contains: path_contains.to_string(),
            status,
            remaining,
        });
    }

    /// A kubeconfig whose cluster entry is the EKS cluster ARN, as `aws eks update-kubeconfig`
    /// writes it.
    pub fn kubeconfig(&self, cluster_arn: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: \"{cluster_arn}\"\n  cluster:\n    server: http://{}\ncontexts:\n- name: test\n  context:\n    cluster: \"{cluster_arn}\"\n    user: test\nusers:\n- name: test\n  user:\n    token: test-token\n",
            self.addr
        )
    }
}

/// A resource the stand-in serves: what discovery tells a client, and what a path names.
struct Resource {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
}

const fn resource(
    group: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
) -> Resource {
    Resource {
        group,
        version: "v1",
        plural,
        kind,
        namespaced,
        short,
    }
}

const RESOURCES: &[Resource] = &[
    resource("", "pods", "Pod", true, &["po"]),
    resource("", "secrets", "Secret", true, &[]),
    resource("", "events", "Event", true, &["ev"]),
    resource("", "serviceaccounts", "ServiceAccount", true, &["sa"]),
    resource("", "nodes", "Node", false, &["no"]),
    resource("", "configmaps", "ConfigMap", true, &["cm"]),
    resource("", "namespaces", "Namespace", false, &["ns"]),
    resource("", "services", "Service", true, &["svc"]),
    resource(
        "rbac.authorization.k8s.io",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
    ),
    resource(
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
    ),
    resource("apps", "replicasets", "ReplicaSet", true, &["rs"]),
    resource("apps", "statefulsets", "StatefulSet", true, &["sts"]),
    resource("apps", "daemonsets", "DaemonSet", true, &["ds"]),
    resource("apps", "deployments", "Deployment", true, &["deploy"]),
    resource("batch", "jobs", "Job", true, &[]),
    resource(
        "karpenter.k8s.aws",
        "ec2nodeclasses",
        "EC2NodeClass",
        false,
        &[],
    ),
    resource("eks.amazonaws.com", "nodeclasses", "NodeClass", false, &[]),
    resource("events.k8s.io", "events", "Event", true, &[]),
];

impl Resource {
    fn group_version(&self) -> String {
        match self.group {
            "" => self.version.to_string(),
            group => format!("{group}/{}", self.version),
        }
    }
}

fn resource_of(group: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
}

/// The discovery documents a client such as kubectl reads before it lists anything: the
/// version, the core and named groups, and each group version's resources.
fn discovery(parts: &[&str]) -> Option<Value> {
    let groups: BTreeSet<&str> = RESOURCES
        .iter()
        .map(|r| r.group)
        .filter(|g| !g.is_empty())
        .collect();
    let resources = |group: &str| -> Value {
        let list: Vec<Value> = RESOURCES
            .iter()
            .filter(|r| r.group == group)
            .map(|r| json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                "kind": r.kind, "verbs": ["get", "list", "watch"], "shortNames": r.short}))
            .collect();
        let group_version = match group {
            "" => "v1".to_string(),
            g => format!("{g}/v1"),
        };
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list})
    };
    Some(match parts {
        ["version"] => {
            json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-stand-in", "platform": "linux/amd64"})
        }
        ["api"] => json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        ["api", "v1"] => resources(""),
        ["apis"] => {
            let list: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let version = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
                    json!({"name": g, "versions": [version], "preferredVersion": version})
                })
                .collect();
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list})
        }
        ["apis", group, "v1"] if groups.contains(group) => resources(group),
        _ => return None,
    })
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "reason": reason, "code": code})
            .to_string(),
        ))
        .unwrap()
}

fn field(object: &Value, path: &str) -> Option<String> {
    let mut v = object;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    v.as_str().map(str::to_string)
}

#[expect(
    clippy::too_many_lines,
    reason = "one arm per Kubernetes path the stand-in serves, read as one table"
)]
async fn handle(State(state): State<Arc<KubeState>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    // A metadata-only list, as kube-rs's list_metadata asks for it: no object bodies come back.
    let metadata_only = request
        .headers()
        .get("accept")
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=PartialObjectMetadataList"));
    let uri = request.uri().clone();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let query: HashMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    state
        .requests
        .lock()
        .unwrap()
        .push(format!("{method} {uri}"));
    state
        .arrivals
        .lock()
        .unwrap()
        .push((std::time::Instant::now(), format!("{method} {path}")));
    let latency = *state.latency.lock().unwrap();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if query.contains_key("continue") {
        let mut open = state.later_pages.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }
    {
        let mut faults = state.faults.lock().unwrap();
        if let Some(f) = faults
            .iter_mut()
            .find(|f| path.contains(&f.path_contains) && f.remaining > 0)
        {
            f.remaining = f.remaining.saturating_sub(1);
            let reason = match f.status {
                403 => "Forbidden",
                404 => "NotFound",
                429 => "TooManyRequests",
                _ => "InternalError",
            };
            return status(
                f.status,
                reason,
                &format!("injected {} for {path}", f.status),
            );
        }
    }
    if method != Method::GET && method != Method::PATCH && method != Method::POST {
        return status(
            405,
            "MethodNotAllowed",
            "the stand-in reads, creates and merge-patches only",
        );
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if method == Method::GET
        && let Some(document) = discovery(&parts)
    {
        return json_response(StatusCode::OK, document);
    }
    let (group, rest): (&str, &[&str]) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, "v1", rest @ ..] => (group, rest),
        _ => return status(404, "NotFound", "unknown path"),
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return status(404, "NotFound", "unknown path"),
    };
    let Some(resource) = resource_of(group, plural) else {
        return status(404, "NotFound", "unknown resource");
    };
    let kind = resource.kind;
    // Secret data never leaves the stand-in: a read that is not metadata-only is refused, so a
    // test sees any attempt.
    if kind == "Secret" && !metadata_only {
        return status(
            403,
            "Forbidden",
            "the stand-in sends Secrets as metadata only",
        );
    }
    let selectors: Vec<(String, String)> = query
        .get("fieldSelector")
        .map(|s| {
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    if method == Method::POST {
        let mut object: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        object["kind"] = Value::String(kind.to_string());
        object["apiVersion"] = Value::String(resource.group_version());
        if let Some(ns) = namespace {
            object["metadata"]["namespace"] = Value::String(ns.to_string());
        }
        let mut objects = state.objects.lock().unwrap();
        let name = object["metadata"]["name"].clone();
        if objects.iter().any(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == object["metadata"]["namespace"]
        }) {
            return status(409, "AlreadyExists", "already exists");
        }
        objects.push(object.clone());
        return json_response(StatusCode::CREATED, object);
    }
    if method == Method::PATCH {
        let Some(name) = name else {
            return status(405, "MethodNotAllowed", "patch a named object");
        };
        let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut objects = state.objects.lock().unwrap();
        let Some(object) = objects.iter_mut().find(|o| {
            o["kind"] == kind
                && same_group(o, resource)
                && o["metadata"]["name"] == name
                && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns)
        }) else {
            return status(404, "NotFound", &format!("{plural} \"{name}\" not found"));
        };
        merge(object, &patch);
        return json_response(StatusCode::OK, object.clone());
    }
    if query.get("watch").is_some_and(|w| w == "true" || w == "1") {
        let namespace = namespace.map(str::to_string);
        let wanted = move |o: &Value| {
            o["kind"] == kind
                && same_group(o, resource)
                && namespace
                    .as_deref()
                    .is_none_or(|ns| o["metadata"]["namespace"] == ns)
                && selectors
                    .iter()
                    .all(|(k, v)| field(o, k).as_deref() == Some(v.as_str()))
        };
        return watch(&state, wanted);
    }
    // Only the page is cloned: a list of 10,000 pods must not copy every object per request.
    let stored = state.objects.lock().unwrap();
    let synthesized;
    let objects: &[Value] = if kind == "Namespace" {
        synthesized = namespaces(&stored);
        &synthesized
    } else {
        &stored
    };
    let matching: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == kind && same_group(o, resource))
        .filter(|o| namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns))
        .filter(|o| name.is_none_or(|n| o["metadata"]["name"] == n))
        .filter(|o| {
            selectors
                .iter()
                .all(|(k, v)| field(o, k).as_deref() == Some(v.as_str()))
        })
        .collect();
    if let Some(name) = name {
        return match matching.first() {
            Some(o) => json_response(StatusCode::OK, (*o).clone()),
            None => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
        };
    }
    let start: usize = query
        .get("continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|o| match metadata_only {
            true => json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]}),
            false => (*o).clone(),
        })
        .collect();
    let next = start + page.len();
    let mut metadata = json!({"resourceVersion": "1"});
    if next < matching.len() {
        metadata["continue"] = Value::String(next.to_string());
    }
    let (api_version, list_kind) = match metadata_only {
        true => (
            "meta.k8s.io/v1".to_string(),
            "PartialObjectMetadataList".to_string(),
        ),
        false => (resource.group_version(), format!("{kind}List")),
    };
    json_response(
        StatusCode::OK,
        json!({"apiVersion": api_version, "kind": list_kind, "metadata": metadata, "items": page}),
    )
}

/// Core and `events.k8s.io` Events share a kind: an object is listed by the group it was
/// created in (objects of other kinds by kind alone, whatever version a scenario wrote).
fn same_group(object: &Value, resource: &Resource) -> bool {
    resource.kind != "Event"
        || object["apiVersion"]
            .as_str()
            .is_none_or(|v| v == resource.group_version())
}

/// The namespaces the objects live in, and the two every cluster has, as Namespace objects.
fn namespaces(objects: &[Value]) -> Vec<Value> {
    let names: BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| o["metadata"]["namespace"].as_str())
        .chain(["default", "kube-system"])
        .collect();
    names
        .into_iter()
        .map(|name| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}}))
        .collect()
}

/// JSON merge patch (RFC 7386).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A watch: a chunked stream of newline-delimited events, as the API server sends them — of the
/// objects `wanted` (the watch's kind, namespace and field selectors) only.
fn watch(state: &KubeState, wanted: impl Fn(&Value) -> bool + Send + Sync + 'static) -> Response {
    let receiver = state.events.subscribe();
    let wanted = Arc::new(wanted);
    let stream = futures::stream::unfold(receiver, move |mut rx| {
        let wanted = wanted.clone();
        async move {
            loop {
                let line = rx.recv().await.ok()?;
                let event: Value = serde_json::from_str(&line).unwrap_or_default();
                if wanted(&event["object"]) {
                    return Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(line)), rx));
                }
            }
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn json_response(code: StatusCode, value: Value) -> Response {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}
