//! `pulldoctor agent`: runs in the cluster, follows pods with the watcher the TUI uses, diagnoses
//! the pods that cannot pull, and says why where people already look — an Event on the pod
//! (opt-in, the only write it makes) and Prometheus series labelled by link and cause.

pub mod metrics;
mod serve;
pub mod track;

use crate::diagnose::Selection;
use crate::facts::Facts;
use crate::report::Report;
use crate::source::live::follow::{Followed, follow_pods};
use crate::source::live::{self, Session, lock};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use track::{Notice, PodRef, Timing, Tracker};

/// How the agent runs, beside the live read's options.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Write Events on the pods (`--events`).
    pub events: bool,
    pub timing: Timing,
    /// How often the facts are read again when no pod changes: IAM and ECR are not watched.
    pub resync: Duration,
    /// How old a kept AWS lookup a read started by pods changing may use (`--aws-cache`).
    pub aws_cache: Duration,
}

/// How often the agent looks at what is due (an Event whose delay ended) between reads.
const TICK: Duration = Duration::from_secs(1);

/// The least time between two reads (or `resync`, if shorter): pods churning in a large cluster
/// change the failing set often, and each change must not cost a read of its own.
const MIN_GAP: Duration = Duration::from_secs(10);

/// What the HTTP endpoints read.
#[derive(Default)]
pub struct Shared {
    metrics: metrics::Metrics,
    report: Mutex<Option<Arc<Report>>>,
    /// What the last read found, as the snapshot `--from` replays: what `--from-agent` opens.
    snapshot: Mutex<Option<axum::body::Bytes>>,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn report(&self) -> Option<Arc<Report>> {
        lock(&self.report).clone()
    }

    fn snapshot(&self) -> Option<axum::body::Bytes> {
        lock(&self.snapshot).clone()
    }

    fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }
}

/// Where the agent serves: its health and metrics for the cluster, and what it read for those who
/// may reach the pod itself.
pub struct Listeners {
    /// `/metrics`, `/healthz`, `/readyz`.
    pub public: tokio::net::TcpListener,
    /// `/report`, `/snapshot`.
    pub data: tokio::net::TcpListener,
}

/// Serves on `listeners` and diagnoses until the process ends; returns only on an error that
/// stops it (an HTTP server failing).
pub async fn run(
    options: live::Options,
    settings: Settings,
    listeners: Listeners,
) -> Result<(), String> {
    let shared = Arc::new(Shared::default());
    let server = tokio::spawn(serve::serve(listeners, shared.clone()));
    let session = Arc::new(Session::connect(&options).await?);
    let followed: Arc<Mutex<Option<Followed>>> = Arc::default();
    let changed = Arc::new(tokio::sync::Notify::new());
    let watch = {
        let (session, options) = (session.clone(), options.clone());
        let (followed, changed) = (followed.clone(), changed.clone());
        tokio::spawn(async move {
            follow_pods(&session, &options, |pods, new| {
                *lock(&followed) = Some(pods.clone());
                if new {
                    changed.notify_one();
                }
                true
            })
            .await
        })
    };
    let recorder = settings.events.then(|| {
        let reporter = Reporter {
            controller: "pulldoctor".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Recorder::new(session.kube.client.clone(), reporter)
    });
    let mut agent = Agent {
        tracker: Tracker::new(settings.timing),
        session,
        options,
        settings,
        shared,
        recorder,
        started: Instant::now(),
        current: None,
    };
    let result = tokio::select! {
        () = agent.follow(&changed, &followed) => Ok(()),
        served = server => served.map_err(|e| e.to_string()).and_then(|r| r),
    };
    watch.abort();
    result
}

struct Agent {
    session: Arc<Session>,
    options: live::Options,
    settings: Settings,
    shared: Arc<Shared>,
    recorder: Option<Recorder>,
    tracker: Tracker,
    started: Instant,
    /// The pods that cannot pull, as the last read that ended well diagnosed them: derived once
    /// per read, looked at every tick.
    current: Option<Vec<track::Failure>>,
}

impl Agent {
    /// Reads when the watch saw the failing pods change, or when the facts are `resync` old;
    /// between reads, says what is due.
    async fn follow(&mut self, changed: &tokio::sync::Notify, followed: &Mutex<Option<Followed>>) {
        let mut read_at: Option<Instant> = None;
        let mut stale = true;
        let gap = MIN_GAP.min(self.settings.resync);
        loop {
            let due = |after: Duration| read_at.is_none_or(|t| t.elapsed() >= after);
            // A resync asks AWS everything anew; a read for pods that changed reuses what is
            // younger than --aws-cache: 300 replicas replaced cost the Kubernetes reads only.
            let reuse = if due(self.settings.resync) {
                Some(Duration::ZERO)
            } else if stale && due(gap) {
                Some(self.settings.aws_cache)
            } else {
                None
            };
            if let Some(reuse) = reuse {
                stale = false;
                self.read(reuse).await;
                read_at = Some(Instant::now());
            }
            self.tell(followed).await;
            let (aws, kube) = (&self.session.aws.calls, &self.session.kube.calls);
            self.shared.metrics.requests(aws.counts(), kube.counts());
            tokio::select! {
                () = changed.notified() => stale = true,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// One read of the cluster and AWS, diagnosed off the async threads; a failed read keeps
    /// the last diagnosis and says why on stderr and `/readyz`.
    async fn read(&mut self, reuse: Duration) {
        let began = Instant::now();
        let options = live::Options {
            reuse: Some(reuse),
            ..self.options.clone()
        };
        let collected = live::collect(&self.session, &options).await;
        self.shared.metrics.kept(self.session.kept_lookups());
        let diagnosed = match collected {
            Ok(collected) => tokio::task::spawn_blocking(move || {
                let facts = crate::source::facts_from_collected(&collected);
                let snapshot = axum::body::Bytes::from(collected.snapshot_text());
                drop(collected);
                let report = crate::diagnose::diagnose(&facts, &Selection::default());
                let uids = uids(&facts);
                let failures = track::failures(&report, |ns, name| {
                    uids.get(&(ns, name)).map(|uid| uid.to_string())
                });
                (failures, Arc::new(report), snapshot)
            })
            .await
            .map_err(|e| format!("the diagnosis stopped: {e}")),
            Err(why) => Err(why),
        };
        match diagnosed {
            Ok((failures, report, snapshot)) => {
                self.shared.metrics.diagnosed(&report, began.elapsed());
                *lock(&self.shared.report) = Some(report);
                *lock(&self.shared.snapshot) = Some(snapshot);
                *lock(&self.shared.last_error) = None;
                self.current = Some(failures);
            }
            Err(why) => {
                eprintln!(
                    "pulldoctor agent: the read failed: {}",
                    crate::text::escape_line(&why)
                );
                *lock(&self.shared.last_error) = Some(why);
            }
        }
    }

    /// The Events due now, published when `--events` is on.
    async fn tell(&mut self, followed: &Mutex<Option<Followed>>) {
        let Some(failures) = &self.current else {
            return;
        };
        let notices = {
            let followed = lock(followed);
            // Before the watch has listed, a pod is taken to exist.
            let exists = |pod: &PodRef| {
                followed.as_ref().is_none_or(|pods| {
                    pods.contains_key(&format!("{}/{}", pod.namespace, pod.name))
                })
            };
            self.tracker
                .observe(failures.clone(), exists, self.started.elapsed())
        };
        let Some(recorder) = &self.recorder else {
            return;
        };
        for notice in notices {
            let (event, pod) = event_of(notice);
            if let Err(e) = recorder.publish(&event, &reference(&pod)).await {
                eprintln!(
                    "pulldoctor agent: no Event on pod {}/{}: {}",
                    crate::text::escape_line(&pod.namespace),
                    crate::text::escape_line(&pod.name),
                    crate::text::escape_line(&e.to_string())
                );
            }
        }
        let (aws, kube) = (&self.session.aws.calls, &self.session.kube.calls);
        self.shared.metrics.requests(aws.counts(), kube.counts());
    }
}

/// Each pod's uid by namespace and name, for the Events' references.
fn uids(facts: &Facts) -> std::collections::HashMap<(&str, &str), &str> {
    facts
        .pods
        .iter()
        .filter_map(|p| {
            let key = (
                crate::facts::kube::namespace_of(p),
                crate::facts::kube::name_of(p),
            );
            Some((key, p.metadata.uid.as_deref()?))
        })
        .collect()
}

fn event_of(notice: Notice) -> (Event, PodRef) {
    match notice {
        Notice::Diagnosed(failure) => (
            Event {
                type_: EventType::Warning,
                reason: "PullDiagnosed".into(),
                note: Some(failure.note),
                action: failure.action.unwrap_or_default(),
                secondary: None,
            },
            failure.pod,
        ),
        Notice::Recovered(pod) => (
            Event {
                type_: EventType::Normal,
                reason: "PullRecovered".into(),
                note: Some("pulldoctor: the pod pulled its images".into()),
                action: "recovered".into(),
                secondary: None,
            },
            pod,
        ),
    }
}

fn reference(pod: &PodRef) -> k8s_openapi::api::core::v1::ObjectReference {
    k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some(pod.namespace.clone()),
        name: Some(pod.name.clone()),
        uid: pod.uid.clone(),
        ..Default::default()
    }
}
