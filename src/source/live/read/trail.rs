//! Stage 7: CloudTrail's record of the pull identity — for each EC2 node a failing pod waits
//! on, the calls of its role's session (named after the instance): one page of LookupEvents,
//! the newest first, in the Region of the pod's registry; and each Region's calls that remove
//! an image or move a tag, where an image of one's own registry is missing. Read at the end of a
//! read, after every page: at two a second, no page (and no partial diagnosis) waits for them.

use super::*;
use crate::facts::kube::{PULL_FAILURE_REASONS, containers, instance_id};
use crate::facts::pod::Pod;
use crate::facts::scope;
use crate::facts::trail::{CHANGES, LookupEvent, LookupEvents, event_key};
use crate::source::live::aws;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use futures::future::join_all;
use std::collections::{BTreeMap, BTreeSet};

/// The most events one lookup returns (LookupEvents' own maximum).
const PAGE: i32 = 50;

/// A pod whose container cannot pull with the node's credentials (not a sandbox still being
/// created: containerd pulls sandbox images without them).
fn cannot_pull(pod: &Pod) -> bool {
    containers(pod).iter().any(|c| {
        c.waiting_reason()
            .is_some_and(|r| PULL_FAILURE_REASONS.contains(&r))
    })
}

/// The sessions of the pull identity to look up: each EC2 instance a pod that cannot pull waits
/// on, with the Region of the first such pod's registry.
pub(in crate::source::live) fn sessions(
    pods: &Pods,
    objects: &Objects,
) -> BTreeMap<String, String> {
    let instances: BTreeMap<&str, String> = objects
        .nodes
        .iter()
        .filter_map(|n| Some((n.metadata.name.as_deref()?, instance_id(n)?.to_string())))
        .collect();
    let mut sessions: BTreeMap<String, String> = BTreeMap::new();
    for pod in pods.pods.iter().filter(|p| cannot_pull(p)) {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        let region =
            containers(pod)
                .iter()
                .find_map(|c| match crate::ecr::reference::parse(c.image) {
                    Ok(crate::ecr::reference::ImageRef::Ecr(e)) => Some(e.region),
                    _ => None,
                });
        if let (Some(instance), Some(region)) = (node.and_then(|n| instances.get(n)), region) {
            sessions.entry(instance.clone()).or_insert(region);
        }
    }
    sessions
}

/// Stage 7, at the end of a read (LookupEvents answers two a second: no page waits for it):
/// each session once, and why an image of one's own registry is gone — in each Region where
/// one is missing, one page of each call that removes an image or moves a tag (`CHANGES`).
pub(in crate::source::live) async fn trail(
    aws: &aws::Aws,
    shared: &Shared,
    sessions: &BTreeMap<String, String>,
    history_regions: &BTreeSet<String>,
) {
    let by_session = sessions.iter().map(|(session, region)| {
        let attribute = (LookupAttributeKey::Username, session.clone());
        once(aws, shared, session.clone(), attribute, region.clone())
    });
    let by_name = history_regions.iter().flat_map(|region| {
        CHANGES.iter().map(move |name| {
            let attribute = (LookupAttributeKey::EventName, (*name).to_string());
            once(
                aws,
                shared,
                event_key(region, name),
                attribute,
                region.clone(),
            )
        })
    });
    join_all(
        by_session
            .map(futures::future::Either::Left)
            .chain(by_name.map(futures::future::Either::Right)),
    )
    .await;
}

/// One lookup per read, under `key`.
async fn once(
    aws: &aws::Aws,
    shared: &Shared,
    key: String,
    attribute: (LookupAttributeKey, String),
    region: String,
) {
    shared
        .trail
        .once(&shared.found, key.clone(), async move {
            let mut found = Found::default();
            lookup(aws, &key, attribute, &region, &mut found).await;
            ((), found)
        })
        .await;
}

async fn lookup(
    aws: &aws::Aws,
    key: &str,
    (attribute_key, value): (LookupAttributeKey, String),
    region: &str,
    found: &mut Found,
) {
    let scope = scope::trail(key);
    let attribute = LookupAttribute::builder()
        .attribute_key(attribute_key)
        .attribute_value(&value)
        .build();
    let attribute = match attribute {
        Ok(a) => a,
        Err(e) => return found.gaps.error(&scope, &e.to_string()),
    };
    let request = aws
        .cloudtrail(region)
        .lookup_events()
        .lookup_attributes(attribute)
        .max_results(PAGE);
    let _turn = aws.trail_turn().await;
    let answer = aws
        .call("cloudtrail:LookupEvents", &value, request.send())
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(e) => return found.gaps.error(&scope, &e.message),
    };
    let time =
        |t: &aws_smithy_types::DateTime| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok();
    let events: Vec<LookupEvent> = out
        .events()
        .iter()
        .filter_map(|e| {
            Some(LookupEvent {
                event_id: e.event_id()?.to_string(),
                event_name: e.event_name().map(str::to_string),
                event_time: e.event_time().and_then(time).map(serde_json::Value::String),
                event_source: e.event_source().map(str::to_string),
                username: e.username().map(str::to_string),
                cloud_trail_event: e.cloud_trail_event()?.to_string(),
            })
        })
        .collect();
    // A full page leaves older events unread: what it covers starts at its oldest.
    let reached = match out.next_token() {
        Some(_) => out
            .events()
            .iter()
            .filter_map(|e| e.event_time())
            .min()
            .and_then(time),
        None => None,
    };
    if !events.is_empty() {
        found.push_document(&LookupEvents { events });
    }
    found.gaps.covered_back_to(&scope, reached);
}
