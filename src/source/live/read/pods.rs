//! Stage 1: the pods being diagnosed, page by page (failing ones first), and the warning
//! events about them or about controllers that cannot create pods.

use super::*;
use crate::ecr::reference::{self, EcrImage, ImageRef};
use crate::facts::kube::{PULL_FAILURE_REASONS, containers, namespace_of, service_account_of};
use crate::facts::pod::Pod;
use crate::facts::scope;
use crate::source::live::Options;
use crate::source::live::session::Session;
use k8s_openapi::api::core::v1::Event;
use std::collections::BTreeSet;

/// A pod that cannot pull, or that is still being created (its sandbox image may be what fails).
pub(in crate::source::live) fn failing(pod: &Pod) -> bool {
    containers(pod).iter().any(|c| {
        c.waiting_reason()
            .is_some_and(|r| PULL_FAILURE_REASONS.contains(&r) || r == "ContainerCreating")
    })
}

/// Stage 1: the pods being diagnosed — of one page, or none (the controllers that cannot create
/// pods, from the warning events).
pub(in crate::source::live) struct Pods {
    pub pods: Vec<Pod>,
    /// Controllers whose pods cannot be created: (kind, namespace, name).
    pub create_failures: BTreeSet<(String, String, String)>,
}

/// A page's pods in two parts, those that fail first: read with every pod (the TUI's `--all`),
/// a page's failing pods are looked into on their own, so they are diagnosed before its healthy
/// ones. Empty parts are dropped.
pub(in crate::source::live) fn failing_first(pods: Vec<Pod>) -> Vec<Vec<Pod>> {
    let (failing, healthy): (Vec<Pod>, Vec<Pod>) = pods.into_iter().partition(failing);
    [failing, healthy]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect()
}

/// The pods to diagnose, page by page: each page's to `on_page` as it arrives.
pub(in crate::source::live) async fn pod_pages(
    session: &Session,
    options: &Options,
    shared: &Shared,
    on_page: impl FnMut(Vec<Pod>),
) -> Result<(), String> {
    let (namespace, pod) = (options.namespace.as_deref(), options.pod.as_deref());
    let named = |p: &Pod| {
        options.named.iter().any(|(ns, name)| {
            namespace_of(p) == ns && p.metadata.name.as_deref() == Some(name.as_str())
        })
    };
    let selecting = |p: &Pod| options.all || pod.is_some() || failing(p) || named(p);
    session
        .kube
        .pods(namespace, pod, selecting, on_page)
        .await
        .map_err(|e| match e.code {
            // Nothing answered at all: say where to look, and what works without a cluster.
            0 => format!(
                "{} — is the endpoint of context {} reachable from here (VPN, a private endpoint)? Without a cluster: pulldoctor demo",
                e.message,
                session.context.context.as_deref().unwrap_or("(current)")
            ),
            _ => e.message,
        })?;
    shared.record(|found| found.gaps.covered(scope::PODS));
    Ok(())
}

/// The warning events (read beside the pods): the controllers that cannot create pods, whose
/// events are kept; the others are kept by [`keep_events_about`] once every pod is listed.
pub(in crate::source::live) async fn warning_events(
    session: &Session,
    options: &Options,
    shared: &Shared,
) -> (BTreeSet<(String, String, String)>, Vec<Event>) {
    let (namespace, pod) = (options.namespace.as_deref(), options.pod.as_deref());
    let events = session
        .kube
        .warning_events(namespace, pod)
        .await
        .unwrap_or_else(|e| {
            shared.record(|found| found.gaps.error(scope::EVENTS, &e.message));
            Vec::new()
        });
    let (create, other): (Vec<Event>, Vec<Event>) = events
        .into_iter()
        .partition(|e| e.reason.as_deref() == Some("FailedCreate"));
    let create_failures = create
        .iter()
        .filter_map(|e| {
            let o = &e.involved_object;
            Some((o.kind.clone()?, o.namespace.clone()?, o.name.clone()?))
        })
        .collect();
    shared.record(|found| create.iter().for_each(|e| found.item(e)));
    (create_failures, other)
}

/// Of `events`, those about a pod being diagnosed (`selected`: namespace and name).
pub(in crate::source::live) fn keep_events_about(
    found: &mut Found,
    events: &[Event],
    selected: &BTreeSet<(String, String)>,
) {
    for e in events {
        let o = &e.involved_object;
        let key = (
            o.namespace.clone().unwrap_or_default(),
            o.name.clone().unwrap_or_default(),
        );
        if o.kind.as_deref() == Some("Pod") && selected.contains(&key) {
            found.item(e);
        }
    }
}

/// A pod's namespace and name.
pub(in crate::source::live) fn pod_key(pod: &Pod) -> (String, String) {
    (
        namespace_of(pod).to_string(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

/// The (namespace, ServiceAccount) of every pod being diagnosed.
pub(in crate::source::live) fn pod_service_accounts(read: &Pods) -> BTreeSet<(String, String)> {
    read.pods
        .iter()
        .map(|p| {
            (
                namespace_of(p).to_string(),
                service_account_of(p).to_string(),
            )
        })
        .collect()
}

/// The ECR images of the pods being diagnosed.
pub(in crate::source::live) fn ecr_images(read: &Pods) -> Vec<EcrImage> {
    read.pods
        .iter()
        .flat_map(containers)
        .filter_map(|c| match reference::parse(c.image) {
            Ok(ImageRef::Ecr(e)) => Some(e),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, waiting: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": waiting.map_or(json!({"running": {}}),
                    |r| json!({"waiting": {"reason": r}}))}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_pages_failing_pods_come_first_and_empty_parts_not_at_all() {
        let names = |parts: Vec<Vec<Pod>>| -> Vec<Vec<String>> {
            let name = |p: Pod| p.metadata.name.unwrap_or_default();
            parts
                .into_iter()
                .map(|part| part.into_iter().map(name).collect())
                .collect()
        };
        let page = vec![
            pod("ok-1", None),
            pod("pull-1", Some("ImagePullBackOff")),
            pod("ok-2", None),
            pod("pull-2", Some("ErrImagePull")),
        ];
        assert_eq!(
            names(failing_first(page)),
            [vec!["pull-1", "pull-2"], vec!["ok-1", "ok-2"]]
        );
        assert_eq!(names(failing_first(vec![pod("ok", None)])), [vec!["ok"]]);
        assert!(failing_first(Vec::new()).is_empty());
    }
}
