//! Following the cluster: a watch on pods (not polling), and one on the kubelet's sandbox failure
//! events, that says when the set of containers that cannot pull (or start) changes, so the TUI reads again only when there is something new to diagnose.

use super::{Options, Session};
use crate::facts::kube::{PULL_FAILURE_REASONS, containers, name_of, namespace_of};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use std::collections::{BTreeMap, BTreeSet};

/// What the watch keeps of a pod: its containers that cannot pull, and those still being
/// created (`namespace/pod/container` each).
#[derive(Default)]
struct Watched {
    pulls: Vec<String>,
    creating: Vec<String>,
}

fn watched(pod: &Pod) -> Watched {
    let pod = &crate::facts::pod::Pod::from_api(pod.clone());
    let mut seen = Watched::default();
    for c in containers(pod) {
        let key = || format!("{}/{}/{}", namespace_of(pod), name_of(pod), c.name);
        match c.waiting_reason() {
            Some(r) if PULL_FAILURE_REASONS.contains(&r) => seen.pulls.push(key()),
            Some("ContainerCreating") => seen.creating.push(key()),
            _ => {}
        }
    }
    seen
}

/// The kubelet's event for a pod whose sandbox it could not create: a pause image that cannot be
/// pulled leaves the pod `ContainerCreating`, and only this event says so.
const SANDBOX_FAILURE: &str = "FailedCreatePodSandBox";

/// What either watch saw.
enum Seen {
    Pod(Box<Result<Event<Pod>, watcher::Error>>),
    Sandbox(Box<Result<Event<CoreEvent>, watcher::Error>>),
}

/// Watches pods until `changed` returns false; calls it whenever the failing set changes.
/// kube-rs's watcher lists in pages, resumes from the last resource version, re-lists only when
/// the server says the version is gone, and backs off when the API fails.
pub async fn follow(
    session: &Session,
    options: &Options,
    mut changed: impl FnMut() -> bool,
) -> Result<(), String> {
    follow_pods(session, options, |_, new| !new || changed()).await
}

/// Every pod followed (`namespace/name`), with its containers that cannot pull.
pub type Followed = BTreeMap<String, Vec<String>>;

/// [`follow`], telling `tell` every pod as the watch knows it (the agent says a pod recovered
/// only if it still exists): after the first complete lists (`false`), and whenever the failing
/// set changes (`true`). A pod fails when a container cannot pull, or when it is still being
/// created and the kubelet said it could not create its sandbox (a second watch, on those
/// events only). Stops when `tell` returns false.
pub async fn follow_pods(
    session: &Session,
    options: &Options,
    mut tell: impl FnMut(&Followed, bool) -> bool,
) -> Result<(), String> {
    let kube = &session.kube;
    let (pods_api, events_api): (Api<Pod>, Api<CoreEvent>) = match &options.namespace {
        Some(ns) => (
            Api::namespaced(kube.client.clone(), ns),
            Api::namespaced(kube.client.clone(), ns),
        ),
        None => (Api::all(kube.client.clone()), Api::all(kube.client.clone())),
    };
    let key = |meta: &ObjectMeta| {
        format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or("default"),
            meta.name.as_deref().unwrap_or("")
        )
    };
    let involved = |e: &CoreEvent| {
        let o = &e.involved_object;
        format!(
            "{}/{}",
            o.namespace.as_deref().unwrap_or("default"),
            o.name.as_deref().unwrap_or("")
        )
    };
    let pods_watch = watcher(pods_api, watcher::Config::default().page_size(500))
        .default_backoff()
        .map(|e| Seen::Pod(Box::new(e)));
    let sandbox_config = watcher::Config::default()
        .fields(&format!("reason={SANDBOX_FAILURE}"))
        .page_size(500);
    let sandbox_watch = watcher(events_api, sandbox_config)
        .default_backoff()
        .map(|e| Seen::Sandbox(Box::new(e)));
    let mut seen = std::pin::pin!(futures::stream::select(pods_watch, sandbox_watch));
    let (mut pods, mut pods_listing) = (BTreeMap::new(), BTreeMap::new());
    // Each sandbox failure event (`namespace/name`) with the pod it is about.
    let (mut sandbox, mut sandbox_listing) = (BTreeMap::new(), BTreeMap::new());
    let (mut pods_listed, mut sandbox_listed) = (false, false);
    // The first complete lists are the baseline the TUI was read from: no change to report.
    let mut known: Option<BTreeSet<String>> = None;
    while let Some(event) = seen.next().await {
        match event {
            Seen::Pod(event) => match *event {
                Ok(Event::Init) => pods_listing.clear(),
                Ok(Event::InitApply(p)) => {
                    pods_listing.insert(key(&p.metadata), watched(&p));
                    continue;
                }
                Ok(Event::InitDone) => {
                    pods = std::mem::take(&mut pods_listing);
                    pods_listed = true;
                }
                Ok(Event::Apply(p)) => {
                    pods.insert(key(&p.metadata), watched(&p));
                }
                Ok(Event::Delete(p)) => {
                    pods.remove(&key(&p.metadata));
                }
                // The watcher retries with backoff; a failed call changes nothing known.
                Err(_) => continue,
            },
            Seen::Sandbox(event) => match *event {
                Ok(Event::Init) => sandbox_listing.clear(),
                Ok(Event::InitApply(e)) => {
                    sandbox_listing.insert(key(&e.metadata), involved(&e));
                    continue;
                }
                Ok(Event::InitDone) => {
                    sandbox = std::mem::take(&mut sandbox_listing);
                    sandbox_listed = true;
                }
                Ok(Event::Apply(e)) => {
                    sandbox.insert(key(&e.metadata), involved(&e));
                }
                Ok(Event::Delete(e)) => {
                    sandbox.remove(&key(&e.metadata));
                }
                // Events not watchable (RBAC without `watch` on events): pods are followed
                // without them, sandbox failures seen at the next read; the watcher keeps trying.
                Err(_) if !sandbox_listed => sandbox_listed = true,
                Err(_) => continue,
            },
        }
        if !(pods_listed && sandbox_listed) {
            continue;
        }
        let sandboxed: BTreeSet<&String> = sandbox.values().collect();
        let now: BTreeSet<String> = pods
            .iter()
            .flat_map(|(pod, seen)| failing(pod, seen, &sandboxed))
            .cloned()
            .collect();
        let new = match &known {
            Some(before) if *before == now => continue,
            Some(_) => true,
            None => false,
        };
        known = Some(now);
        let followed: Followed = pods
            .iter()
            .map(|(pod, seen)| {
                let containers = failing(pod, seen, &sandboxed).cloned().collect();
                (pod.clone(), containers)
            })
            .collect();
        if !tell(&followed, new) {
            return Ok(());
        }
    }
    Ok(())
}

/// A pod's failing containers: those that cannot pull, and those being created of a pod whose
/// sandbox failed.
fn failing<'a>(
    pod: &String,
    seen: &'a Watched,
    sandboxed: &BTreeSet<&String>,
) -> impl Iterator<Item = &'a String> {
    let creating = if sandboxed.contains(pod) {
        seen.creating.as_slice()
    } else {
        &[]
    };
    seen.pulls.iter().chain(creating)
}
