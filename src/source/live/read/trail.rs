//! Stage 7: CloudTrail's record of the pull identity and of the tokens exchanged, one page of
//! LookupEvents (the newest first) per lookup: the session of each EC2 node a failing pod waits
//! on (named after the instance), in the Region of the pod's registry; the repository of a pod
//! that cannot pull on Fargate or with an `ecr-role-arn` role (those sessions' names are not
//! known ahead), by resource name; the token exchanges, recorded under the token's subject, of
//! the ServiceAccounts of pods whose app restarts or whose `ecr-role-arn` pull fails, for a role
//! of the caller's account; and each Region's calls that remove an image or move a tag, where
//! an image of one's own registry is missing. Read at the end of a read, after every page (at
//! two a second, no page and no partial diagnosis waits for them), at most `TRAIL_PAGES` of
//! them.

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

/// The Region of the first private ECR image of a pod that cannot pull: where ECR records the
/// refusal, and where the node's credential provider asks STS.
fn registry_region(pod: &Pod) -> Option<String> {
    failing_images(pod).into_iter().next().map(|e| e.region)
}

/// The user names to look up, each with the Region to look in: each EC2 instance a pod that
/// cannot pull waits on (its role's session), with the Region of the first such pod's registry;
/// and the token subjects of ServiceAccounts whose exchanges may say why (see `web_identities`).
pub(in crate::source::live) fn sessions(
    pods: &Pods,
    objects: &Objects,
    account: Option<&str>,
    cluster_region: Option<&str>,
) -> BTreeMap<String, Wanted> {
    let instances: BTreeMap<&str, String> = objects
        .nodes
        .iter()
        .filter_map(|n| Some((n.metadata.name.as_deref()?, instance_id(n)?.to_string())))
        .collect();
    let mut sessions: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut want = |key: String, region: String| {
        sessions
            .entry(key)
            .or_insert(Wanted { region, pods: 0 })
            .pods += 1;
    };
    for pod in pods.pods.iter().filter(|p| cannot_pull(p)) {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        if let (Some(instance), Some(region)) =
            (node.and_then(|n| instances.get(n)), registry_region(pod))
        {
            want(instance.clone(), region);
        }
    }
    if let (Some(account), Some(region)) = (account, cluster_region) {
        for (who, region) in web_identities(pods, objects, account, region) {
            want(who, region);
        }
    }
    for image in repositories(pods, objects, account) {
        want(resource_key(&image.repository_arn()), image.region);
    }
    sessions
}

/// A lookup wanted: the Region to look in, and how many failing pods it may speak for.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::source::live) struct Wanted {
    pub region: String,
    pub pods: usize,
}

impl Wanted {
    /// Wanted by more pods: wanted by the pods of both.
    pub(in crate::source::live) fn merge(
        into: &mut BTreeMap<String, Wanted>,
        more: &BTreeMap<String, Wanted>,
    ) {
        for (key, wanted) in more {
            into.entry(key.clone())
                .or_insert(Wanted {
                    region: wanted.region.clone(),
                    pods: 0,
                })
                .pods += wanted.pods;
        }
    }
}

/// The most pages of LookupEvents one read asks for: CloudTrail answers two a second, and the
/// read's end waits for them.
pub(in crate::source::live) const TRAIL_PAGES: usize = 10;

/// The lookups a read makes, in order, and those it leaves: why a missing image is gone first
/// (the commonest failure), then the lookups that speak for the most failing pods.
fn chosen(
    sessions: &BTreeMap<String, Wanted>,
    history_regions: &BTreeSet<String>,
) -> (Vec<(String, Lookup)>, Vec<String>) {
    let by_name = history_regions.iter().flat_map(|region| {
        CHANGES.iter().map(move |name| {
            let lookup = Lookup {
                attribute: (LookupAttributeKey::EventName, (*name).to_string()),
                region: region.clone(),
            };
            (event_key(region, name), lookup)
        })
    });
    let mut busiest: Vec<(&String, &Wanted)> = sessions.iter().collect();
    busiest.sort_by(|a, b| b.1.pods.cmp(&a.1.pods).then(a.0.cmp(b.0)));
    let by_session = busiest.into_iter().map(|(key, wanted)| {
        let attribute = match resource_of(key) {
            Some(arn) => (LookupAttributeKey::ResourceName, arn.to_string()),
            None => (LookupAttributeKey::Username, key.clone()),
        };
        let lookup = Lookup {
            attribute,
            region: wanted.region.clone(),
        };
        (key.clone(), lookup)
    });
    let mut all: Vec<(String, Lookup)> = by_name.chain(by_session).collect();
    let left = all.split_off(all.len().min(TRAIL_PAGES));
    (all, left.into_iter().map(|(key, _)| key).collect())
}

/// How one lookup asks: by which attribute, in which Region.
#[derive(Debug, Clone, PartialEq)]
struct Lookup {
    attribute: (LookupAttributeKey, String),
    region: String,
}

/// The repositories whose own events to look up: where a pod cannot pull with an identity whose
/// session names are not known ahead — Fargate's pod execution role, or an `ecr-role-arn` role of
/// the caller's account.
fn repositories(pods: &Pods, objects: &Objects, account: Option<&str>) -> Vec<EcrImage> {
    let token_pulls: BTreeSet<(&str, &str)> = objects
        .service_accounts
        .iter()
        .filter(|sa| account.is_some_and(|account| names_own_role(sa, ECR_ROLE, account)))
        .filter_map(key_of)
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

/// Whether the ServiceAccount's `annotation` names a role of `account` (where its calls are
/// recorded).
fn names_own_role(sa: &ServiceAccount, annotation: &str, account: &str) -> bool {
    sa.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(annotation))
        .is_some_and(|role| {
            crate::iam::arn::is_well_formed_role_arn(role)
                && crate::iam::arn::account_of(role).as_deref() == Some(account)
        })
}

fn key_of(sa: &ServiceAccount) -> Option<(&str, &str)> {
    Some((
        sa.metadata.namespace.as_deref()?,
        sa.metadata.name.as_deref()?,
    ))
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
    let roles: BTreeMap<(&str, &str), (bool, bool)> = objects
        .service_accounts
        .iter()
        .filter_map(|sa| {
            let own = |annotation| names_own_role(sa, annotation, account);
            Some((
                key_of(sa)?,
                (own("eks.amazonaws.com/role-arn"), own(ECR_ROLE)),
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
    sessions: &BTreeMap<String, Wanted>,
    history_regions: &BTreeSet<String>,
) {
    let (asked, left) = chosen(sessions, history_regions);
    shared.record(|found| {
        for key in left {
            found.gaps.error(
                &scope::trail(&key),
                &format!("a read asks CloudTrail at most {TRAIL_PAGES} times (it answers two a second), for the lookups that speak for the most failing pods, and this one was not among them"),
            );
        }
    });
    join_all(
        asked
            .into_iter()
            .map(|(key, lookup)| once(aws, shared, key, lookup.attribute, lookup.region)),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// At most `TRAIL_PAGES` lookups: why an image is gone first, then the sessions that speak
    /// for the most failing pods; the rest are left, each named.
    #[test]
    fn a_read_asks_cloudtrail_a_bounded_number_of_times_busiest_first() {
        let sessions: BTreeMap<String, Wanted> = (0..20)
            .map(|i| {
                let wanted = Wanted {
                    region: "us-east-1".to_string(),
                    pods: i % 5,
                };
                (format!("i-{i:017x}"), wanted)
            })
            .collect();
        let regions: BTreeSet<String> = ["eu-west-1".to_string()].into();
        let (asked, left) = chosen(&sessions, &regions);
        assert_eq!(asked.len(), TRAIL_PAGES);
        assert_eq!(left.len(), 20 + 3 - TRAIL_PAGES);
        let keys: Vec<&str> = asked.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(
            &keys[..3],
            [
                "event/eu-west-1/PolicyExecutionEvent",
                "event/eu-west-1/BatchDeleteImage",
                "event/eu-west-1/PutImage"
            ]
        );
        // Then the sessions of four failing pods each (i % 5 == 4), lowest id first.
        assert_eq!(keys[3], "i-00000000000000004");
        assert!(asked[3..].iter().all(|(key, _)| sessions[key].pods >= 3));
        assert!(left.iter().all(|key| sessions[key].pods <= 3));
        assert_eq!(asked[3].1.attribute.0, LookupAttributeKey::Username);
    }
}
