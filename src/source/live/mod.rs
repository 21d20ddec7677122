//! Live sources: the same documents a bundle holds, read from the Kubernetes API and AWS.
//! Lazy (AWS facts only for the pods being diagnosed), deduplicated (each entity once), bounded
//! in concurrency, and honest: a refused or failed call is recorded as a gap that names it.
//!
//! The result is a list of bundle documents, so `diagnose` reads live facts exactly as it reads a
//! bundle, and `snapshot` writes them for `--from` to replay.

pub mod aws;
pub mod children;
pub mod follow;
mod found;
mod kept;
pub mod kube;
mod memo;
mod read;
pub mod session;
pub mod tally;
pub use memo::lock;
pub mod setup;

use crate::ecr::reference::EcrImage;
use crate::facts::ingest::Document;
use crate::facts::pod::Pod;
use crate::facts::{RepoKey, SourceInfo};
use crate::iam::arn;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Event;
use read::Found;
pub(crate) use read::fetch_policy;
use serde_json::{Value, json};
pub use session::Session;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bound on concurrent requests, their rate (the agent's), and the timeout of each.
#[derive(Clone)]
pub struct Limits {
    semaphore: Arc<Semaphore>,
    pacer: Option<Arc<Pacer>>,
    pub timeout: Duration,
    /// The largest response body read (`--max-input-mb`): an answer that never ends stops here.
    pub max_body: usize,
}

impl Limits {
    pub fn new(concurrency: usize, timeout: Duration) -> Limits {
        Limits {
            semaphore: Arc::new(Semaphore::new(concurrency.max(1))),
            pacer: None,
            timeout,
            max_body: crate::source::bundle::DEFAULT_MAX_INPUT_MB as usize * 1024 * 1024,
        }
    }

    pub fn with_max_body(mut self, bytes: usize) -> Limits {
        self.max_body = bytes;
        self
    }

    /// At most `per_second` calls a second, on average, beside the concurrency bound: a process
    /// that reads all day (the agent) stays far below the APIs' throttling.
    pub fn with_rate(mut self, per_second: Option<u32>) -> Limits {
        self.pacer = per_second.filter(|n| *n > 0).map(|n| {
            Arc::new(Pacer {
                interval: Duration::from_secs(1) / n,
                next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            })
        });
        self
    }

    #[expect(clippy::expect_used, reason = "the semaphore is never closed")]
    pub async fn permit(&self) -> OwnedSemaphorePermit {
        if let Some(pacer) = &self.pacer {
            pacer.wait().await;
        }
        self.semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }
}

/// Spaces calls `interval` apart: each takes the next free slot and sleeps until it.
struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// How lookups ended, as `pulldoctorLookup` documents.
#[derive(Default, Clone)]
pub struct Gaps {
    documents: Vec<Value>,
    pub problems: Vec<String>,
}

impl Gaps {
    pub fn covered(&mut self, scope: &str) {
        self.documents
            .push(json!({"pulldoctorLookup": {"scope": scope, "covered": true}}));
    }

    /// Covered back to `reached` (RFC 3339; `None`: as far as the service keeps).
    pub fn covered_back_to(&mut self, scope: &str, reached: Option<String>) {
        let mut lookup = json!({"scope": scope, "covered": true});
        if let Some(reached) = reached {
            lookup["reachedBack"] = Value::String(reached);
        }
        self.documents.push(json!({ "pulldoctorLookup": lookup }));
    }

    pub fn merge(&mut self, other: Gaps) {
        self.documents.extend(other.documents);
        self.problems.extend(other.problems);
    }

    fn in_stable_order(&mut self) {
        read::sort_values(&mut self.documents);
        self.problems.sort();
        self.problems.dedup();
    }

    pub fn error(&mut self, scope: &str, message: &str) {
        self.documents
            .push(json!({"pulldoctorLookup": {"scope": scope, "error": message}}));
        self.problems.push(message.to_string());
    }
}

/// Something a long read tells as it goes; silent unless the caller listens.
pub struct Callback<T>(Option<Arc<dyn Fn(T) + Send + Sync>>);

/// A long read's progress (stage and counts), for a progress line.
pub type Progress = Callback<String>;

/// What a long read has diagnosable so far: the pods whose lookups have all ended, with
/// everything their chains need (see [`collect`]), for a screen to show before the rest is read.
pub type Partial = Callback<Collected>;

impl<T> Callback<T> {
    pub fn new(tell: impl Fn(T) + Send + Sync + 'static) -> Callback<T> {
        Callback(Some(Arc::new(tell)))
    }

    fn listening(&self) -> bool {
        self.0.is_some()
    }

    fn tell(&self, what: impl FnOnce() -> T) {
        if let Some(tell) = &self.0 {
            tell(what());
        }
    }
}

impl<T> Default for Callback<T> {
    fn default() -> Self {
        Callback(None)
    }
}

impl<T> Clone for Callback<T> {
    fn clone(&self) -> Self {
        Callback(self.0.clone())
    }
}

impl<T> std::fmt::Debug for Callback<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "on" } else { "off" })
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
    /// At most this many calls a second (the agent's `--api-rate`); `None`: no rate bound.
    pub rate: Option<u32>,
    pub timeout: Duration,
    /// The largest API response body read, in bytes.
    pub max_body: usize,
    pub progress: Progress,
    pub partial: Partial,
    /// Told when an AWS service keeps a call waiting `--timeout` (see [`aws::Aws::call`]).
    pub slow: Progress,
    /// Use the session's AWS lookups kept from earlier reads when younger than this, and keep
    /// this read's (the agent's); `None`: every lookup asked anew and nothing kept.
    pub reuse: Option<Duration>,
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
            "schema": SNAPSHOT_SCHEMA,
            "source": self.snapshot_source(),
            "documents": self.documents.iter().map(|d| d.value.clone()).collect::<Vec<_>>(),
        })
    }

    /// [`Collected::snapshot`] as JSON text, written from the documents without copying them,
    /// and when.
    pub fn snapshot_text(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Snapshot<'a> {
            schema: &'static str,
            source: Value,
            documents: Vec<&'a Value>,
        }
        let mut source = self.snapshot_source();
        // Ages in a TUI that opens it later are told from the read, not from the opening.
        source["capturedAt"] = Value::String(k8s_openapi::jiff::Timestamp::now().to_string());
        let snapshot = Snapshot {
            schema: SNAPSHOT_SCHEMA,
            source,
            documents: self.documents.iter().map(|d| &d.value).collect(),
        };
        serde_json::to_vec(&snapshot).unwrap_or_default()
    }

    fn snapshot_source(&self) -> Value {
        json!({
            "kind": "snapshot",
            "context": self.source.context,
            "cluster": self.source.cluster,
            "region": self.source.region,
            "account": self.source.account,
        })
    }
}

const SNAPSHOT_SCHEMA: &str = "pulldoctor.snapshot/v1";

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

/// Reads everything the diagnosis of the selected pods needs, in stages (see [`read`]). The
/// pods' lookups start page by page as the pod list arrives; what two pages share is read once
/// ([`memo`]). A listener of `options.partial` is told, as pages' lookups end, what can be
/// diagnosed so far.
pub async fn collect(session: &Session, options: &Options) -> Result<Collected, String> {
    session.aws.forget_silence();
    session.aws.tell_slowness_to(options.slow.clone());
    // A namespace that does not exist lists no pods: that is a typo, not an all-clear.
    if let Some(ns) = &options.namespace
        && session.kube.namespace_exists(ns).await == Some(false)
    {
        return Err(format!(
            "namespace {} does not exist in context {} (kubectl get namespaces lists them)",
            crate::text::escape_line(ns),
            crate::text::escape_line(session.context.context.as_deref().unwrap_or("(current)"))
        ));
    }
    let reading = Reading {
        session,
        options,
        shared: match options.reuse {
            Some(age) => {
                session.kept.forget_older_than(age);
                read::Shared::reusing(&session.kept, age)
            }
            None => read::Shared::default(),
        },
        listed: AtomicUsize::new(0),
        done: Mutex::default(),
        events: OnceLock::new(),
        last_partial: Mutex::default(),
    };
    let (shared, progress) = (&reading.shared, &options.progress);
    progress.tell(|| "listing pods…".to_string());
    let (pages, arriving) = futures::channel::mpsc::unbounded::<Vec<Pod>>();
    let listing = async move {
        read::pod_pages(session, options, shared, |page| {
            // The receiver lives until every page is in: a send cannot fail.
            let _ = pages.unbounded_send(page);
        })
        .await
    };
    let looking_up = arriving
        .flat_map(|pods| futures::stream::iter(read::failing_first(pods)))
        // Boxed: a page's lookups are a large future, and the TUI reads on a worker's stack.
        .map(|pods| Box::pin(reading.page(pods)))
        .buffer_unordered(usize::MAX)
        .try_collect::<Vec<PageLookups>>();
    // The controllers that cannot create pods, from the warning events read beside the pods.
    let events = async {
        let (create_failures, events) = read::warning_events(session, options, shared).await;
        let _ = reading.events.set(events);
        let pods = read::Pods {
            pods: Vec::new(),
            create_failures,
        };
        read::objects(session, shared, &pods).await;
    };
    // What does not depend on the pods — who the credentials are, the account's OIDC providers
    // and organization, which cluster this is — is read while the pod list pages in.
    let (listed, looked_up, (), account, cluster) = tokio::join!(
        listing,
        looking_up,
        events,
        read::account(session, shared),
        read::cluster_name(session, shared),
    );
    listed?;
    let cluster = cluster?;
    let account = account?;
    let looked_up = looked_up?;
    let listed = reading.listed.load(Ordering::Relaxed);
    progress.tell(|| format!("{listed} pod(s): the last lookups…"));
    let mut sessions = BTreeMap::new();
    for page in &looked_up {
        read::Wanted::merge(&mut sessions, &page.sessions);
    }
    let history_regions: BTreeSet<String> = looked_up
        .iter()
        .flat_map(|p| p.history_regions.iter().cloned())
        .collect();
    tokio::join!(
        cache_rules(&session.aws, shared, &looked_up, &account),
        read::trail(&session.aws, shared, &sessions, &history_regions),
    );
    let source = reading.source(cluster, &account);
    let Reading {
        shared,
        done,
        events,
        ..
    } = reading;
    let details = shared.authorization_details();
    let mut found = shared.into_found();
    let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    read::keep_events_about(&mut found, events.get().map_or(&[], Vec::as_slice), &done);
    found.push_document(&details);
    Ok(Collected::new(source, found, "live"))
}

/// One read in progress.
struct Reading<'a> {
    session: &'a Session,
    options: &'a Options,
    shared: read::Shared,
    /// How many pods to diagnose were listed so far.
    listed: AtomicUsize,
    /// The pods whose lookups have all ended, kept as found.
    done: Mutex<BTreeSet<(String, String)>>,
    /// The warning events, once read.
    events: OnceLock<Vec<Event>>,
    /// When `options.partial` was last told.
    last_partial: Mutex<Option<Instant>>,
}

/// How often a listener is told of a partial read at most: each is a copy of all found so far.
const PARTIAL_EVERY: Duration = Duration::from_millis(250);

impl Reading<'_> {
    /// Stages 2 to 6 for one page of pods; then its pods are kept with what they need.
    async fn page(&self, pods: Vec<Pod>) -> Result<PageLookups, String> {
        let (session, options, shared) = (self.session, self.options, &self.shared);
        let count = self.listed.fetch_add(pods.len(), Ordering::Relaxed) + pods.len();
        options.progress.tell(|| {
            format!("{count} pod(s) to diagnose so far; reading their nodes, ServiceAccounts, roles and repositories…")
        });
        let pods = read::Pods {
            pods,
            create_failures: BTreeSet::new(),
        };
        let objects = read::objects(session, shared, &pods).await;
        let cluster = read::cluster_name(session, shared).await?;
        let account = read::account(session, shared).await?;
        let (_, mut page) = tokio::join!(
            read::network(&session.aws, shared, &objects, &pods.pods),
            iam_and_ecr(
                session, options, shared, &cluster, &pods, &objects, &account
            ),
        );
        page.sessions = read::sessions(
            &pods,
            &objects,
            account.account.as_deref(),
            session.aws.region().as_deref(),
        );
        shared.record(|found| pods.pods.iter().for_each(|p| found.item(p)));
        memo::lock(&self.done).extend(pods.pods.iter().map(read::pod_key));
        // A page of failing pods is always told: dropped by the pace, it would wait for the
        // next page (or the read's end) to show what the user is here for.
        let urgent = pods.pods.iter().any(read::failing);
        self.tell_partial(cluster, &account, urgent);
        Ok(page)
    }

    fn source(&self, cluster: String, account: &read::Account) -> SourceInfo {
        SourceInfo {
            kind: "live".to_string(),
            context: self.session.context.context.clone(),
            cluster: Some(cluster),
            region: self.session.region(),
            account: account.account.clone(),
            captured_at: None,
        }
    }

    /// Tells a listener what can be diagnosed now: the pods whose lookups have ended, once the
    /// events about them are in.
    fn tell_partial(&self, cluster: String, account: &read::Account, urgent: bool) {
        let Some(events) = self.events.get() else {
            return;
        };
        if !self.options.partial.listening() {
            return;
        }
        {
            let mut last = memo::lock(&self.last_partial);
            if !urgent && last.is_some_and(|at| at.elapsed() < PARTIAL_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let done = memo::lock(&self.done).clone();
        let mut found = self.shared.snapshot();
        read::keep_events_about(&mut found, events, &done);
        let source = self.source(cluster, account);
        self.options
            .partial
            .tell(|| Collected::new(source, found, "live"));
    }
}

/// What one page's lookups leave for the end: its images, and whether one of them (or its
/// repository) is missing — then every registry's cache rules are read, as they could explain it.
struct PageLookups {
    images: Vec<EcrImage>,
    missing: bool,
    /// What to look up in CloudTrail by user or resource name (an instance's session, a
    /// ServiceAccount's token, a repository), with the Region and the failing pods it is for.
    sessions: BTreeMap<String, read::Wanted>,
    /// The Regions where an image of one's own registry is missing: CloudTrail says why.
    history_regions: BTreeSet<String>,
}

/// Stages 3 to 6 for one page, in three branches that wait for nothing of each other: how the
/// nodes get their role, then those roles and their policies, and the OIDC provider; the
/// ServiceAccounts' roles and their policies; the registries' listings, then the repositories'
/// contents and, when an image is missing, the cache rules.
async fn iam_and_ecr(
    session: &Session,
    options: &Options,
    shared: &read::Shared,
    cluster: &str,
    pods: &read::Pods,
    objects: &read::Objects,
    account: &read::Account,
) -> PageLookups {
    let aws = &session.aws;
    let caller_account = account.account.as_deref().unwrap_or_default();
    // ARNs are built in the partition of the session's Region (aws-cn, aws-us-gov differ).
    let partition = aws
        .region()
        .map(|r| arn::partition_for_region(&r).to_string())
        .unwrap_or_else(|| "aws".to_string());
    let partition = &partition;
    let roles_and_policies = |role_arns: BTreeSet<String>| async move {
        let policy_arns = read::roles(aws, shared, &role_arns, caller_account).await;
        read::managed_policies(aws, shared, &policy_arns).await;
    };
    let nodes = async move {
        let compute = read::compute(session, shared, cluster, pods, objects).await;
        let mut role_arns = compute.node_roles;
        if !caller_account.is_empty() {
            role_arns.extend(
                compute
                    .node_class_roles
                    .iter()
                    .map(|role| arn::iam(partition, caller_account, &format!("role/{role}"))),
            );
        }
        let provider_arn = compute
            .issuer
            .as_deref()
            .map(|i| {
                let path = format!("oidc-provider/{}", i.trim_start_matches("https://"));
                arn::iam(partition, caller_account, &path)
            })
            .filter(|arn| account.providers.contains(arn));
        tokio::join!(
            roles_and_policies(role_arns),
            read::oidc_provider(aws, shared, provider_arn.as_deref()),
        );
    };
    let identities = async move {
        let wanted = read::pod_service_accounts(pods);
        let namespace = options.namespace.as_deref();
        let role_arns =
            read::identities(session, shared, cluster, namespace, &wanted, objects).await;
        roles_and_policies(role_arns).await;
    };
    let registries = async move {
        let (addons, images): (Vec<EcrImage>, Vec<EcrImage>) = read::ecr_images(pods)
            .into_iter()
            .partition(EcrImage::in_addon_registry);
        let registries: BTreeSet<read::Registry> = images
            .iter()
            .map(|e| (e.account.clone(), e.region.clone()))
            .collect();
        let listings = read::listings(aws, shared, &registries).await;
        let (missing_images, ()) = tokio::join!(
            read::repository_contents(aws, shared, &images, &listings),
            read::addon_manifests(aws, shared, &addons),
        );
        // Cache rules only when a repository or image is missing: they could explain it.
        let missing = !missing_images.is_empty()
            || images
                .iter()
                .any(|e| !listings.known.contains(&RepoKey::of(e)));
        // CloudTrail shows an account its own calls: why an image of one's own registry is gone.
        let history_regions: BTreeSet<String> = missing_images
            .into_iter()
            .filter(|k| k.registry == caller_account)
            .map(|k| k.region)
            .collect();
        let page = PageLookups {
            images,
            missing,
            sessions: BTreeMap::new(),
            history_regions,
        };
        cache_rules(aws, shared, std::slice::from_ref(&page), account).await;
        page
    };
    tokio::join!(nodes, identities, registries).2
}

/// When any page's image (or its repository) is missing, the cache rules and registry policies
/// of the registries of every page's images (a page with a missing image read its own already:
/// each is read once); then ECR's check of each rule, in one's own registry, that serves one of
/// the images.
async fn cache_rules(
    aws: &aws::Aws,
    shared: &read::Shared,
    pages: &[PageLookups],
    account: &read::Account,
) {
    if !pages.iter().any(|p| p.missing) {
        return;
    }
    let images: Vec<&EcrImage> = pages.iter().flat_map(|p| &p.images).collect();
    let registries: Vec<read::Registry> = images
        .iter()
        .map(|e| (e.account.clone(), e.region.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let caller_account = account.account.clone().unwrap_or_default();
    let own = own_registries(&registries, &caller_account);
    let (rules, ()) = tokio::join!(
        read::cache_rules(aws, shared, &registries),
        read::registry_policies(aws, shared, &own),
    );
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
    let serving: Vec<read::CacheRule> = serving.into_iter().collect();
    read::validate_cache_rules(aws, shared, &serving).await;
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

#[cfg(test)]
mod pacing {
    use super::Limits;
    use std::time::Duration;

    /// In virtual time: 11 calls at 10 a second take a second, whatever the concurrency.
    #[tokio::test(start_paused = true)]
    async fn a_rate_spaces_the_calls() {
        let limits = Limits::new(16, Duration::from_secs(20)).with_rate(Some(10));
        let start = tokio::time::Instant::now();
        for _ in 0..11 {
            drop(limits.permit().await);
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        let unbounded = Limits::new(16, Duration::from_secs(20)).with_rate(None);
        let start = tokio::time::Instant::now();
        for _ in 0..11 {
            drop(unbounded.permit().await);
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
