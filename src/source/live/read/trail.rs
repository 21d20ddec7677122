//! Stage 7: CloudTrail's record of the pull identity — for each EC2 node a failing pod waits
//! on, the calls of its role's session (named after the instance): one page of LookupEvents,
//! the newest first, in the Region of the pod's registry; the token exchanges (recorded under
//! the token's subject) of the ServiceAccounts of pods whose app restarts or whose
//! `ecr-role-arn` pull fails, for a role of the caller's account; and each Region's calls that
//! remove an image or move a tag, where an image of one's own registry is missing. Read at the end of a read, after
//! every page: at two a second, no page (and no partial diagnosis) waits for them.

use super::*;
use crate::ecr::reference::{EcrImage, ImageRef};
use crate::facts::kube::{PULL_FAILURE_REASONS, containers, instance_id};
use crate::facts::pod::Pod;
use crate::facts::scope;
use crate::facts::trail::{
    CHANGES, LookupEvent, LookupEvents, event_key, resource_key, resource_of, web_identity_key,
};
use crate::source::live::aws;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use futures::future::join_all;
use std::collections::{BTreeMap, BTreeSet};

/// The annotation naming the role the node's credential provider pulls with, in token pull mode.
const ECR_ROLE: &str = "eks.amazonaws.com/ecr-role-arn";

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

/// The private ECR images of a pod's containers that cannot pull.
fn failing_images(pod: &Pod) -> Vec<EcrImage> {
    containers(pod)
        .iter()
        .filter(|c| {
            c.waiting_reason()
                .is_some_and(|r| PULL_FAILURE_REASONS.contains(&r))
        })
        .filter_map(|c| match crate::ecr::reference::parse(c.image) {
            Ok(ImageRef::Ecr(e)) => Some(e),
            _ => None,
        })
        .collect()
}

/// A pod on Fargate: its node is Fargate's, or its profile labelled it.
fn on_fargate(pod: &Pod) -> bool {
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    node.is_some_and(|n| n.starts_with("fargate-"))
        || pod
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("eks.amazonaws.com/fargate-profile"))
}

/// A pod whose app may be without its credentials: a container restarted, or waits to.
fn restarting(pod: &Pod) -> bool {
    containers(pod).iter().any(|c| {
        c.status.is_some_and(|s| s.restart_count > 0)
            || c.waiting_reason() == Some("CrashLoopBackOff")
    })
}

/// The Region of the first private ECR image of a pod.
fn registry_region(pod: &Pod) -> Option<String> {
    containers(pod)
        .iter()
        .find_map(|c| match crate::ecr::reference::parse(c.image) {
            Ok(crate::ecr::reference::ImageRef::Ecr(e)) => Some(e.region),
            _ => None,
        })
}

/// The user names to look up, each with the Region to look in: each EC2 instance a pod that
/// cannot pull waits on (its role's session), with the Region of the first such pod's registry;
/// and the token subjects of ServiceAccounts whose exchanges may say why (see `web_identities`).
pub(in crate::source::live) fn sessions(
    pods: &Pods,
    objects: &Objects,
    account: Option<&str>,
    cluster_region: Option<&str>,
) -> BTreeMap<String, String> {
    let instances: BTreeMap<&str, String> = objects
        .nodes
        .iter()
        .filter_map(|n| Some((n.metadata.name.as_deref()?, instance_id(n)?.to_string())))
        .collect();
    let mut sessions: BTreeMap<String, String> = BTreeMap::new();
    for pod in pods.pods.iter().filter(|p| cannot_pull(p)) {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        if let (Some(instance), Some(region)) =
            (node.and_then(|n| instances.get(n)), registry_region(pod))
        {
            sessions.entry(instance.clone()).or_insert(region);
        }
    }
    if let (Some(account), Some(region)) = (account, cluster_region) {
        for (who, region) in web_identities(pods, objects, account, region) {
            sessions.entry(who).or_insert(region);
        }
    }
    for image in repositories(pods, objects, account) {
        let key = resource_key(&image.repository_arn());
        sessions.entry(key).or_insert(image.region);
    }
    sessions
}

/// The repositories whose own events to look up: where a pod cannot pull with an identity whose
/// session names are not known ahead — Fargate's pod execution role, or an `ecr-role-arn` role of
/// the caller's account.
fn repositories(pods: &Pods, objects: &Objects, account: Option<&str>) -> Vec<EcrImage> {
    let token_pulls: BTreeSet<(&str, &str)> = objects
        .service_accounts
        .iter()
        .filter(|sa| {
            let role = sa
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ECR_ROLE));
            role.is_some_and(|role| {
                account.is_some()
                    && crate::iam::arn::is_well_formed_role_arn(role)
                    && crate::iam::arn::account_of(role).as_deref() == account
            })
        })
        .filter_map(|sa| {
            Some((
                sa.metadata.namespace.as_deref()?,
                sa.metadata.name.as_deref()?,
            ))
        })
        .collect();
    pods.pods
        .iter()
        .filter(|pod| {
            on_fargate(pod)
                || pod
                    .metadata
                    .namespace
                    .as_deref()
                    .is_some_and(|ns| token_pulls.contains(&(ns, service_account_of(pod))))
        })
        .flat_map(failing_images)
        .collect()
}

fn service_account_of(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.service_account_name.as_deref())
        .unwrap_or("default")
}

/// Token subjects to look up, where the role is the caller's account's (its exchanges are
/// recorded there): of each restarting pod whose ServiceAccount has an IRSA role, in the
/// cluster's Region (the app's); of each pod that cannot pull whose ServiceAccount has an
/// `ecr-role-arn` role, in its registry's Region (the node's credential provider asks STS there).
fn web_identities(
    pods: &Pods,
    objects: &Objects,
    account: &str,
    cluster_region: &str,
) -> Vec<(String, String)> {
    let own = |sa: &ServiceAccount, annotation: &str| {
        sa.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(annotation))
            .is_some_and(|role| {
                crate::iam::arn::is_well_formed_role_arn(role)
                    && crate::iam::arn::account_of(role).as_deref() == Some(account)
            })
    };
    let roles: BTreeMap<(&str, &str), (bool, bool)> = objects
        .service_accounts
        .iter()
        .filter_map(|sa| {
            let key = (
                sa.metadata.namespace.as_deref()?,
                sa.metadata.name.as_deref()?,
            );
            Some((
                key,
                (own(sa, "eks.amazonaws.com/role-arn"), own(sa, ECR_ROLE)),
            ))
        })
        .collect();
    let mut out = Vec::new();
    for pod in &pods.pods {
        let Some(namespace) = pod.metadata.namespace.as_deref() else {
            continue;
        };
        let name = service_account_of(pod);
        let (app, pull) = roles.get(&(namespace, name)).copied().unwrap_or_default();
        let region = if pull && cannot_pull(pod) {
            registry_region(pod)
        } else {
            (app && restarting(pod)).then(|| cluster_region.to_string())
        };
        if let Some(region) = region {
            out.push((web_identity_key(namespace, name), region));
        }
    }
    out
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
        let attribute = match resource_of(session) {
            Some(arn) => (LookupAttributeKey::ResourceName, arn.to_string()),
            None => (LookupAttributeKey::Username, session.clone()),
        };
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
