//! Following the cluster: a watch on pods (not polling) that says when the set of containers that
//! cannot pull changes, so the TUI reads again only when there is something new to diagnose.

use super::{Options, Session};
use crate::facts::kube::{PULL_FAILURE_REASONS, containers, name_of, namespace_of};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use std::collections::{BTreeMap, BTreeSet};

/// `namespace/pod/container` of every container that cannot pull.
fn failing(pod: &Pod) -> Vec<String> {
    let pod = &crate::facts::pod::Pod::from_api(pod.clone());
    containers(pod)
        .iter()
        .filter(|c| {
            c.waiting_reason()
                .is_some_and(|r| PULL_FAILURE_REASONS.contains(&r))
        })
        .map(|c| format!("{}/{}/{}", namespace_of(pod), name_of(pod), c.name))
        .collect()
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
/// only if it still exists): after the first complete list (`false`), and whenever the failing
/// set changes (`true`). Stops when `tell` returns false.
pub async fn follow_pods(
    session: &Session,
    options: &Options,
    mut tell: impl FnMut(&Followed, bool) -> bool,
) -> Result<(), String> {
    let kube = &session.kube;
    let api: Api<Pod> = match &options.namespace {
        Some(ns) => Api::namespaced(kube.client.clone(), ns),
        None => Api::all(kube.client.clone()),
    };
    let key = |p: &Pod| {
        let meta = &p.metadata;
        format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or("default"),
            meta.name.as_deref().unwrap_or("")
        )
    };
    let set = |pods: &BTreeMap<String, Vec<String>>| -> BTreeSet<String> {
        pods.values().flatten().cloned().collect()
    };
    let mut pods: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut listing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // The first complete list is the baseline the TUI was read from: no change to report.
    let mut known: Option<BTreeSet<String>> = None;
    let events = watcher(api, watcher::Config::default().page_size(500)).default_backoff();
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        let listed = matches!(event, Ok(Event::InitDone));
        match event {
            Ok(Event::Init) => listing.clear(),
            Ok(Event::InitApply(p)) => {
                listing.insert(key(&p), failing(&p));
                continue;
            }
            Ok(Event::InitDone) => pods = std::mem::take(&mut listing),
            Ok(Event::Apply(p)) => {
                pods.insert(key(&p), failing(&p));
            }
            Ok(Event::Delete(p)) => {
                pods.remove(&key(&p));
            }
            // The watcher retries with backoff; a failed call changes nothing known.
            Err(_) => continue,
        }
        let now = set(&pods);
        match &known {
            Some(before) if *before != now => {
                known = Some(now);
                if !tell(&pods, true) {
                    return Ok(());
                }
            }
            Some(_) => {}
            None if listed => {
                known = Some(now);
                if !tell(&pods, false) {
                    return Ok(());
                }
            }
            None => {}
        }
    }
    Ok(())
}
