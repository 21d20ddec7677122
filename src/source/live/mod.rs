//! Live sources: the same documents a bundle holds, read from the Kubernetes API and AWS.
//! Lazy (AWS facts only for the pods being diagnosed), deduplicated (each entity once), bounded
//! in concurrency, and honest: a refused or failed call is recorded as a gap that names it.
//!
//! The result is a list of bundle documents, so `diagnose` reads live facts exactly as it reads a
//! bundle, and `snapshot` writes them for `--from` to replay.

pub mod aws;
pub mod follow;
pub mod kube;
mod read;
pub mod session;
pub mod setup;

use crate::facts::aws::AuthorizationDetails;
use crate::facts::ingest::Document;
use crate::facts::{RepoKey, SourceInfo};
use read::Found;
pub(crate) use read::fetch_policy;
use serde_json::{Value, json};
pub use session::Session;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bound on concurrent requests and the timeout of each.
#[derive(Clone)]
pub struct Limits {
    semaphore: Arc<Semaphore>,
    pub timeout: Duration,
    /// The largest response body read (`--max-input-mb`): an answer that never ends stops here.
    pub max_body: usize,
}

impl Limits {
    pub fn new(concurrency: usize, timeout: Duration) -> Limits {
        Limits {
            semaphore: Arc::new(Semaphore::new(concurrency.max(1))),
            timeout,
            max_body: crate::source::bundle::DEFAULT_MAX_INPUT_MB as usize * 1024 * 1024,
        }
    }

    pub fn with_max_body(mut self, bytes: usize) -> Limits {
        self.max_body = bytes;
        self
    }

    #[allow(clippy::expect_used, reason = "the semaphore is never closed")]
    pub async fn permit(&self) -> OwnedSemaphorePermit {
        self.semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }
}

/// How lookups ended, as `pulldoctorLookup` documents.
#[derive(Default)]
pub struct Gaps {
    documents: Vec<Value>,
    pub problems: Vec<String>,
}

impl Gaps {
    pub fn covered(&mut self, scope: &str) {
        self.documents
            .push(json!({"pulldoctorLookup": {"scope": scope, "covered": true}}));
    }

    pub fn merge(&mut self, other: Gaps) {
        self.documents.extend(other.documents);
        self.problems.extend(other.problems);
    }

    pub fn error(&mut self, scope: &str, message: &str) {
        self.documents
            .push(json!({"pulldoctorLookup": {"scope": scope, "error": message}}));
        self.problems.push(message.to_string());
    }
}

/// A long read's progress, said as it goes (stage and counts), for a progress line; silent unless
/// the command line asked for it.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Fn(String) + Send + Sync>>);

impl Progress {
    pub fn new(say: impl Fn(String) + Send + Sync + 'static) -> Progress {
        Progress(Some(Arc::new(say)))
    }

    fn say(&self, what: impl FnOnce() -> String) {
        if let Some(say) = &self.0 {
            say(what());
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(on)"
        } else {
            "Progress(off)"
        })
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    /// Every pod, not only those that cannot pull.
    pub all: bool,
    /// Only this pod (of `namespace`), whether it can pull or not: the TUI's refresh of one pod.
    pub pod: Option<String>,
    /// Pods named on the command line (namespace, name): read whether they can pull or not.
    pub named: Vec<(String, String)>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub cluster: Option<String>,
    pub concurrency: usize,
    pub timeout: Duration,
    /// The largest API response body read, in bytes.
    pub max_body: usize,
    pub progress: Progress,
}

pub struct Collected {
    pub source: SourceInfo,
    pub documents: Vec<Document>,
    /// Lookups that failed: each also stands in the documents as a gap.
    pub problems: Vec<String>,
}

impl Collected {
    /// The snapshot file `--from` replays.
    pub fn snapshot(&self) -> Value {
        json!({
            "schema": "pulldoctor.snapshot/v1",
            "source": {
                "kind": "snapshot",
                "context": self.source.context,
                "cluster": self.source.cluster,
                "region": self.source.region,
                "account": self.source.account,
            },
            "documents": self.documents.iter().map(|d| d.value.clone()).collect::<Vec<_>>(),
        })
    }
}

/// The deepest cause's own words, on one short line: never a `Debug` dump, an error chain or a
/// response body.
pub(crate) fn innermost(error: &dyn std::error::Error) -> String {
    let mut last = error;
    while let Some(source) = last.source() {
        last = source;
    }
    one_line(&last.to_string())
}

pub(crate) fn one_line(text: &str) -> String {
    const MAX: usize = 160;
    let line = text.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// Reads everything the diagnosis of the selected pods needs, in stages (see [`read`]).
pub async fn collect(session: &Session, options: &Options) -> Result<Collected, String> {
    session.aws.forget_silence();
    let mut found = Found::default();
    let progress = &options.progress;
    progress.say(|| "listing pods…".to_string());
    // What does not depend on the pods — who the credentials are, the account's OIDC providers
    // and organization, which cluster this is — is read while the pod list pages in.
    let (pods, account, cluster) = tokio::join!(
        read::pods(session, options, &mut found),
        read::account(session),
        session.cluster_name(),
    );
    let pods = pods?;
    progress.say(|| {
        format!(
            "{} pod(s) to diagnose; reading their nodes, ServiceAccounts and controllers…",
            pods.pods.len()
        )
    });
    let objects = read::objects(session, &pods, &mut found).await;
    let cluster = cluster?;
    progress.say(|| {
        format!(
            "{} pod(s), {} node(s): reading the account, node groups, identities, repositories and the network path…",
            pods.pods.len(),
            objects.nodes.len()
        )
    });
    // The network path runs beside the IAM and ECR stages: neither waits for the other.
    let (network, iam_and_ecr) = tokio::join!(
        read::network(&session.aws, &objects, &pods.pods),
        iam_and_ecr(session, options, &cluster, &pods, &objects, account),
    );
    found.merge(network);
    let (account, rest) = iam_and_ecr?;
    found.merge(rest);
    let source = SourceInfo {
        kind: "live".to_string(),
        context: session.context.context.clone(),
        cluster: Some(cluster),
        region: session.region(),
        account,
        captured_at: None,
    };
    Ok(Collected::new(source, found, "live"))
}

/// Stages 3 to 5 (the account read beside the pod list): compute, identities and listings; then roles, the OIDC provider
/// and repository contents; then policies, cache rules and registry policies. The caller's
/// account and what was found.
async fn iam_and_ecr(
    session: &Session,
    options: &Options,
    cluster: &str,
    pods: &read::Pods,
    objects: &read::Objects,
    account: Result<(read::Account, Found), String>,
) -> Result<(Option<String>, Found), String> {
    let mut found = Found::default();
    let images = read::ecr_images(pods);
    let registries: BTreeSet<read::Registry> = images
        .iter()
        .map(|e| (e.account.clone(), e.region.clone()))
        .collect();
    let wanted = read::pod_service_accounts(pods);
    let namespace = options.namespace.as_deref();
    let aws = &session.aws;
    let ((compute, compute_found), (identity_roles, identity_found), listings) = tokio::join!(
        read::compute(session, cluster, pods, objects),
        read::identities(session, cluster, namespace, &wanted, objects),
        read::listings(aws, &registries),
    );
    let (account, account_found) = account?;
    let (listings, listings_found) = listings;
    for part in [account_found, compute_found, identity_found, listings_found] {
        found.merge(part);
    }
    let caller_account = account.account.clone().unwrap_or_default();
    let mut role_arns = compute.node_roles;
    role_arns.extend(identity_roles);
    if !caller_account.is_empty() {
        role_arns.extend(
            compute
                .node_class_roles
                .iter()
                .map(|role| format!("arn:aws:iam::{caller_account}:role/{role}")),
        );
    }
    let provider_arn = compute
        .issuer
        .as_deref()
        .map(|i| {
            format!(
                "arn:aws:iam::{caller_account}:oidc-provider/{}",
                i.trim_start_matches("https://")
            )
        })
        .filter(|arn| account.providers.contains(arn));
    options.progress.say(|| {
        format!(
            "reading {} role(s), the OIDC provider and the images of {} repositories…",
            role_arns.len(),
            listings.known.len()
        )
    });
    let ((roles, policy_arns, roles_found), provider_found, (missing_images, contents_found)) = tokio::join!(
        read::roles(aws, &role_arns, &caller_account),
        read::oidc_provider(aws, provider_arn.as_deref()),
        read::repository_contents(aws, &images, &listings),
    );
    for part in [roles_found, provider_found, contents_found] {
        found.merge(part);
    }
    // Cache rules only when a repository or image is missing: they could explain it.
    let needs_cache_rules = missing_images
        || images
            .iter()
            .any(|e| !listings.known.contains(&RepoKey::of(e)));
    let cache_registries: Vec<read::Registry> = if needs_cache_rules {
        registries.into_iter().collect()
    } else {
        Vec::new()
    };
    let own = own_registries(&cache_registries, &caller_account);
    options.progress.say(|| {
        format!(
            "{} role(s) read; reading {} managed policies, cache rules and registry policies…",
            roles.len(),
            policy_arns.len()
        )
    });
    let ((managed, managed_found), (rules, cache_found), registry_found) = tokio::join!(
        read::managed_policies(aws, &policy_arns),
        read::cache_rules(aws, &cache_registries),
        read::registry_policies(aws, &own),
    );
    for part in [managed_found, cache_found, registry_found] {
        found.merge(part);
    }
    // The rules that serve an image being diagnosed, in one's own registry: validated once each.
    let serving: BTreeSet<read::CacheRule> = rules
        .into_iter()
        .filter(|r| r.registry == caller_account)
        .filter(|r| {
            images.iter().any(|e| {
                e.account == r.registry
                    && e.region == r.region
                    && e.repository.starts_with(&format!("{}/", r.prefix))
            })
        })
        .collect();
    if !serving.is_empty() {
        let rules: Vec<read::CacheRule> = serving.into_iter().collect();
        found.merge(read::validate_cache_rules(aws, &rules).await);
    }
    // Roles read one by one: a partial listing, so a role not read stays unknown.
    let details = AuthorizationDetails {
        roles,
        policies: managed,
        partial: true,
    };
    found
        .documents
        .push(serde_json::to_value(&details).unwrap_or_default());
    Ok((account.account, found))
}

/// Of `registries`, those of the caller's account: `GetRegistryPolicy` reads only one's own.
fn own_registries(registries: &[read::Registry], account: &str) -> Vec<read::Registry> {
    registries
        .iter()
        .filter(|(registry, _)| registry == account)
        .cloned()
        .collect()
}

impl Collected {
    fn new(source: SourceInfo, found: Found, origin: &str) -> Collected {
        let (documents, problems) = found.into_documents(origin);
        Collected {
            source,
            documents,
            problems,
        }
    }
}
