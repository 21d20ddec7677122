//! Following the cluster: a watch on pods (not polling) that says when the set of containers that
//! cannot pull changes, so the TUI reads again only when there is something new to diagnose.

use super::Options;
use crate::facts::kube::{PULL_FAILURE_REASONS, containers, name_of, namespace_of};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use std::collections::BTreeSet;
use std::time::Duration;

/// `namespace/pod/container` of every container that cannot pull.
fn failing(pod: &Pod) -> Vec<String> {
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
/// Reconnects (with a fresh list) when the watch ends or fails.
pub async fn follow(options: &Options, mut changed: impl FnMut() -> bool) -> Result<(), String> {
    let limits = super::Limits::new(1, options.timeout).with_max_body(options.max_body);
    let (kube, _) = super::kube::connect(
        options.kubeconfig.as_deref(),
        options.context.as_deref(),
        limits,
    )
    .await?;
    let api: Api<Pod> = match &options.namespace {
        Some(ns) => Api::namespaced(kube.client.clone(), ns),
        None => Api::all(kube.client.clone()),
    };
    loop {
        let list = match api.list(&ListParams::default()).await {
            Ok(list) => list,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        let mut pods: std::collections::BTreeMap<String, Vec<String>> = list
            .items
            .iter()
            .map(|p| (format!("{}/{}", namespace_of(p), name_of(p)), failing(p)))
            .collect();
        let set = |pods: &std::collections::BTreeMap<String, Vec<String>>| -> BTreeSet<String> {
            pods.values().flatten().cloned().collect()
        };
        let mut known = set(&pods);
        let version = list.metadata.resource_version.unwrap_or_default();
        let stream = match api
            .watch(&WatchParams::default().timeout(290), &version)
            .await
        {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(WatchEvent::Added(p) | WatchEvent::Modified(p)) => {
                    pods.insert(format!("{}/{}", namespace_of(&p), name_of(&p)), failing(&p));
                }
                Ok(WatchEvent::Deleted(p)) => {
                    pods.remove(&format!("{}/{}", namespace_of(&p), name_of(&p)));
                }
                Ok(WatchEvent::Bookmark(_)) => continue,
                Ok(WatchEvent::Error(_)) | Err(_) => break,
            }
            let now = set(&pods);
            if now != known {
                known = now;
                if !changed() {
                    return Ok(());
                }
            }
        }
    }
}
