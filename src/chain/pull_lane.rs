//! The pull lane: what the kubelet needs to pull the image — a reference it can resolve, a
//! repository and image that exist for the node's platform, a pull identity whose policies and
//! the repository's policy allow the pull, and a network path.

use super::Subject;
use super::access::{self, CachePull, PullAccess};
use super::events::PullError;
use super::outcome::{Destination, Outcome};
use super::pull_identity::Resolution;
use super::registry::*;
pub use super::registry::{
    PULLED_PREFIX, archived_image, near_repository, near_tag, node_platform,
};
use crate::ecr::reference::{EcrImage, ImageRef};
use crate::facts::{Fact, RepoKey};
use crate::report::{Cause, LinkId, Status};
use std::collections::BTreeMap;

pub struct PullLane {
    pub links: BTreeMap<LinkId, Outcome>,
    pub ecr: Option<EcrImage>,
    /// The repository is served by a pull-through cache rule (its prefix).
    pub cache_prefix: Option<String>,
    /// What a pull-through cache must do for this pull (create the repository, import).
    pub cache: CachePull,
    /// The upstream registry of the cache rule serving the repository.
    pub cache_upstream: Option<String>,
    /// Pull access of each candidate pull identity that exists.
    pub access: Vec<(String, PullAccess)>,
    /// Where the pull must get to, which decides what a network path needs.
    pub destination: Destination,
}

/// Where this pull goes, from its reference and the host its event names.
fn destination(subject: &Subject<'_>) -> Destination {
    match &subject.image_ref {
        Ok(ImageRef::Ecr(e)) => match other_host(subject, &e.host) {
            Some(host) => Destination::Upstream { host },
            None => Destination::PrivateEcr {
                region: e.region.clone(),
            },
        },
        Ok(ImageRef::PublicEcr { .. }) => Destination::PublicEcr,
        Ok(ImageRef::Other { host } | ImageRef::EcrLookalike { host }) => {
            Destination::Internet { host: host.clone() }
        }
        Err(_) => Destination::Internet {
            host: "the registry".to_string(),
        },
    }
}

/// The host the event says the pull failed to reach, when it is neither the image's registry
/// nor AWS's (ECR, its S3 layer bucket).
fn other_host(subject: &Subject<'_>, registry: &str) -> Option<String> {
    let event = subject.event.as_deref()?;
    event
        .split("https://")
        .skip(1)
        .filter_map(|rest| rest.split(['/', '"', ':', ' ']).next())
        .find(|host| {
            !host.is_empty()
                && !host.eq_ignore_ascii_case(registry)
                && !host.ends_with(".amazonaws.com")
                && !host.ends_with(".amazonaws.com.cn")
        })
        .map(str::to_string)
}

impl PullLane {
    pub fn status(&self, id: LinkId) -> Option<Status> {
        self.links.get(&id).map(|o| o.status)
    }
}

pub fn walk(subject: &Subject<'_>) -> PullLane {
    let mut lane = PullLane {
        links: BTreeMap::new(),
        ecr: None,
        cache_prefix: None,
        cache: CachePull::Cached,
        cache_upstream: None,
        access: Vec::new(),
        destination: destination(subject),
    };
    lane.links.insert(LinkId::Pod, pod(subject));
    lane.links
        .insert(LinkId::ImageReference, image_reference(subject));
    lane.links
        .insert(LinkId::Network, network(subject, &lane.destination));
    let ecr = match &subject.image_ref {
        Ok(ImageRef::Ecr(image)) if other_partition(subject, image).is_none() => image.clone(),
        other => {
            let why = match other {
                Ok(ImageRef::PublicEcr { host }) => {
                    format!("{host} is public ECR, not a private registry")
                }
                Ok(ImageRef::Other { host }) => format!("{host} is not ECR"),
                Ok(ImageRef::Ecr(image)) => format!(
                    "{} is in partition {}: the cluster's credentials cannot reach it",
                    image.host, image.partition
                ),
                _ => "the image reference is not a usable private ECR reference".to_string(),
            };
            for id in [
                LinkId::Repository,
                LinkId::Image,
                LinkId::Platform,
                LinkId::NodeRole,
                LinkId::PullPermissions,
                LinkId::RepositoryPolicy,
            ] {
                lane.links
                    .insert(id, Outcome::new(Status::Skipped, why.clone()));
            }
            return lane;
        }
    };
    let key = RepoKey::of(&ecr);
    let (repository, cache_prefix, repo_missing) = repository(subject, &key);
    lane.cache_upstream = match subject.facts.pull_through_rule(&key) {
        Fact::Known(rule) => rule.upstream_registry_url.clone(),
        _ => None,
    };
    lane.links.insert(LinkId::Repository, repository);
    lane.cache_prefix = cache_prefix;
    let first_pull = lane.cache_prefix.is_some() && subject.facts.repository(&key) == Fact::Absent;
    let (image, cache) = if repo_missing {
        (
            Outcome::new(Status::Skipped, "the repository does not exist"),
            CachePull::Cached,
        )
    } else if first_pull {
        (
            Outcome::new(
                Status::Ok,
                format!(
                    "{}{} is not cached yet: the first pull through the cache creates the repository and imports the image",
                    ecr.repository,
                    ecr.version()
                ),
            ),
            CachePull::CreateAndImport,
        )
    } else {
        image(subject, &key, &ecr, lane.cache_prefix.is_some())
    };
    lane.cache = cache;
    // The upstream matters only when the image must come from it.
    let upstream = match cache {
        CachePull::Cached if subject.pull_error != Some(PullError::UpstreamAuthFailed) => None,
        _ => upstream_trouble(
            subject,
            &key,
            lane.cache_prefix.as_deref(),
            lane.cache_upstream.as_deref(),
        ),
    };
    let image = upstream.unwrap_or(image);
    if lane.cache_prefix.is_some() && subject.pull_error == Some(PullError::RateLimited) {
        let upstream = lane.cache_upstream.as_deref().unwrap_or("its upstream");
        let throttled = Outcome::broken(
            Cause::PullThroughCacheUpstreamRateLimited,
            format!("the pull-through cache's upstream {upstream} throttled the import of an image not cached yet"),
        )
        .with_evidence(event_evidence(subject));
        lane.links.insert(LinkId::Network, throttled);
    }
    lane.links.insert(LinkId::Image, image);
    let platform = match cache {
        CachePull::CreateAndImport if !subject.pulled => Outcome::new(
            Status::Unknown,
            format!(
                "{} is not cached yet, so its manifest is the upstream's ({}): its platforms are known after the first pull",
                ecr.repository,
                lane.cache_upstream
                    .as_deref()
                    .unwrap_or("the rule's upstream")
            ),
        ),
        _ => platform(subject, &key, &ecr),
    };
    lane.links.insert(LinkId::Platform, platform);
    let (node_role, existing) = node_role(subject);
    lane.links.insert(LinkId::NodeRole, node_role);
    let (permissions, repo_policy, access) = permissions(subject, &ecr, &existing, cache);
    lane.links.insert(
        LinkId::PullPermissions,
        pulled_by_annotated_role(subject, permissions),
    );
    lane.links.insert(LinkId::RepositoryPolicy, repo_policy);
    lane.access = access;
    super::trail::weigh(&mut lane.links, subject, &ecr);
    super::history::explain(&mut lane.links, subject.facts, &ecr);
    aws_owned_registry(&mut lane, subject, &ecr);
    pull_secrets(&mut lane, subject);
    lane.ecr = Some(ecr);
    lane
}

/// The `ecr-role-arn` role is named by tenant-writable metadata: once the image was pulled, its
/// lack of a permission proves nothing about this pull, so it never earns a pull fix.
fn pulled_by_annotated_role(subject: &Subject<'_>, permissions: Outcome) -> Outcome {
    let annotated =
        subject.pull_identity.kind() == crate::report::PullIdentityKind::ServiceAccountRole;
    if !(annotated && subject.pulled && permissions.status == Status::Broken) {
        return permissions;
    }
    Outcome {
        evidence: permissions.evidence.clone(),
        ..Outcome::new(
            Status::Unknown,
            format!(
                "the container pulled its image, yet the facts say: {}; the facts may be newer than the pull, or the node pulled otherwise",
                permissions.summary
            ),
        )
    }
}

fn pod(subject: &Subject<'_>) -> Outcome {
    if let Some(failure) = &subject.create_failure {
        return Outcome::new(Status::Warning, format!("no pod can be created: {failure}"));
    }
    match subject.waiting_reason.as_deref() {
        Some("InvalidImageName") => Outcome::broken(
            Cause::InvalidImageName,
            format!(
                "the kubelet cannot parse the image reference \"{}\"",
                subject.image
            ),
        )
        .with_evidence(event_evidence(subject)),
        Some("ErrImageNeverPull") => Outcome::broken(
            Cause::ImageNeverPull,
            format!(
                "imagePullPolicy is Never and \"{}\" is not on the node",
                subject.image
            ),
        )
        .with_evidence(event_evidence(subject)),
        _ if subject.failing => {
            if let Some(broken) = node_trouble(subject) {
                return broken.with_evidence(event_evidence(subject));
            }
            let what = subject
                .pull_error
                .map(|e| e.describe())
                .unwrap_or("no pull-failure event is left (events expire after about an hour)");
            let mut evidence = event_evidence(subject);
            evidence.extend(network_plugin_note(subject));
            Outcome::new(Status::Warning, format!("{}: {what}", subject.state))
                .with_evidence(evidence)
        }
        _ => Outcome::new(
            Status::Ok,
            format!("container {} is {}", subject.container, subject.state),
        ),
    }
}

/// An ECR token lives 12 hours; a static one in a Secret is dead after that.
const ECR_TOKEN_HOURS: i64 = 12;

/// The pod's `imagePullSecrets` (metadata only: name, when and by whom last written). The
/// kubelet tries each of them besides the node's credentials, so they show on the pull; a static
/// ECR token in one expired 12 hours after it was written — harmless while the node's
/// credentials work, a warning to clean up.
fn pull_secrets(lane: &mut PullLane, subject: &Subject<'_>) {
    let Some(pod) = subject.pod else { return };
    let names: Vec<&str> = pod
        .spec
        .as_ref()
        .and_then(|s| s.image_pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .map(|r| r.name.as_str())
        .collect();
    if names.is_empty() || !matches!(subject.image_ref, Ok(ImageRef::Ecr(_))) {
        return;
    }
    let now = subject.facts.observed_at();
    let mut evidence = Vec::new();
    let mut stale = Vec::new();
    for name in names {
        match subject.facts.secret(&subject.namespace, name) {
            Fact::Known(meta) => {
                let (written, by) = last_write(meta);
                let hours = match (now, written) {
                    (Some(now), Some(at)) => Some((now.as_second() - at.as_second()) / 3600),
                    _ => None,
                };
                if hours.is_some_and(|h| h >= ECR_TOKEN_HOURS) {
                    stale.push(name.to_string());
                }
                evidence.push(format!(
                    "imagePullSecrets {name}: last written {}{} by {}",
                    written.map_or("at an unknown time".to_string(), |t| t.to_string()),
                    hours.map_or(String::new(), |h| format!(" ({h} h before this input)")),
                    by.unwrap_or("an unknown writer")
                ));
            }
            Fact::Absent => evidence.push(format!(
                "imagePullSecrets {name} does not exist: the kubelet skips it"
            )),
            Fact::Unknown(why) => evidence.push(format!("imagePullSecrets {name}: {why}")),
        }
    }
    let Some(link) = lane.links.get_mut(&LinkId::PullPermissions) else {
        return;
    };
    link.evidence.extend(evidence);
    if link.status == Status::Ok && !stale.is_empty() {
        link.status = Status::Warning;
        link.summary = format!(
            "{}; imagePullSecrets {} was last written more than {ECR_TOKEN_HOURS} h ago, so an ECR token in it has expired: the kubelet tries it besides the node's credentials, harmless while they work — remove it, or let something refresh it",
            link.summary,
            stale.join(", ")
        );
    }
}

/// When a Secret was last written and by whom: its newest managed-fields entry, else its
/// creation.
fn last_write(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> (Option<k8s_openapi::jiff::Timestamp>, Option<&str>) {
    let newest = meta
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|f| Some((f.time.as_ref()?.0, f.manager.as_deref())))
        .max_by_key(|(t, _)| *t);
    match newest {
        Some((at, by)) => (Some(at), by),
        None => (meta.creation_timestamp.as_ref().map(|t| t.0), None),
    }
}

/// AWS's EKS add-on registries (the pause image, add-ons): every AWS account may pull from them
/// and none may list or describe them, so the manifest (`ecr:BatchGetImage`) answers for the
/// repository, the image and its platforms. A sandbox image the registry got no credentials for,
/// while the pull identity's side is in order, is the node's own copy gone: containerd pulls
/// sandbox images without the kubelet's credential provider, so once image garbage collection
/// removed the pre-pulled pause image it cannot get it back (awslabs/amazon-eks-ami#1597, #1740,
/// #2061).
fn aws_owned_registry(lane: &mut PullLane, subject: &Subject<'_>, ecr: &EcrImage) {
    if !ecr.in_addon_registry() {
        return;
    }
    let facts = subject.facts;
    let key = RepoKey::of(ecr);
    let wanted = (key.clone(), ecr.reference());
    let serves = format!(
        "AWS's EKS add-on registry {} serves {} (every AWS account may pull from it; only its manifests can be read)",
        ecr.account, ecr.repository
    );
    let (repository, image, platform) = if facts.manifests.contains_key(&wanted) {
        (
            Outcome::new(Status::Ok, serves),
            Outcome::new(
                Status::Ok,
                format!(
                    "{}{} exists (its manifest was read)",
                    ecr.repository,
                    ecr.version()
                ),
            ),
            platform(subject, &key, ecr),
        )
    } else if let Some(code) = not_found(facts, &key, &wanted.1) {
        (
            Outcome::new(Status::Ok, serves),
            missing_image(ecr, Vec::new())
                .with_evidence(vec![format!("ecr:BatchGetImage answers {code}")]),
            Outcome::new(Status::Skipped, "the image does not exist"),
        )
    } else {
        let why = manifest_not_read(subject, &key, ecr);
        (
            unknown_or_pulled(subject, &why, None),
            unknown_or_pulled(subject, &why, None),
            unknown_or_pulled(subject, &why, None),
        )
    };
    lane.links.insert(LinkId::Repository, repository);
    lane.links.insert(LinkId::Image, image);
    lane.links.insert(LinkId::Platform, platform);
    let allowed = lane.status(LinkId::PullPermissions) == Some(Status::Ok);
    if subject.sandbox && allowed && subject.pull_error == Some(PullError::Unauthorized) {
        let gone = Outcome::broken(
            Cause::SandboxImageNotCached,
            format!(
                "the node no longer holds the sandbox image {}: containerd pulls it without the node's ECR credentials, so once image garbage collection removed it the registry answers 401",
                subject.image
            ),
        )
        .with_evidence(event_evidence(subject));
        lane.links.insert(LinkId::Image, gone);
    }
}

/// A cache rule whose upstream refuses ECR: ECR's own validation of the rule says so, or
/// (when it was not read) the event does.
fn upstream_trouble(
    subject: &Subject<'_>,
    key: &RepoKey,
    prefix: Option<&str>,
    upstream: Option<&str>,
) -> Option<Outcome> {
    let prefix = prefix?;
    let upstream = upstream.unwrap_or("its upstream");
    let validation = subject
        .facts
        .cache_rule_validations
        .get(&(key.registry.clone(), prefix.to_string()));
    match validation {
        Some(v) if v.is_valid => None,
        Some(v) => Some(Outcome::broken(
            Cause::PullThroughCacheUpstreamAuthFailed,
            format!(
                "pull-through cache rule {prefix} cannot use its upstream {upstream}: {}",
                v.failure.as_deref().unwrap_or("ECR finds the rule not valid")
            ),
        )),
        None => (subject.pull_error == Some(PullError::UpstreamAuthFailed)).then(|| {
            Outcome::broken(
                Cause::PullThroughCacheUpstreamAuthFailed,
                format!(
                    "pull-through cache rule {prefix} could not authenticate to {upstream}: the credentials of the rule are wrong or expired"
                ),
            )
            .with_evidence(event_evidence(subject))
        }),
    }
}

/// The node itself stops the pull: its image store is full, or it is not ready. Neither IAM nor
/// the network is then to blame.
fn node_trouble(subject: &Subject<'_>) -> Option<Outcome> {
    let node_name = subject.pod?.spec.as_ref()?.node_name.as_deref()?;
    let node = subject.facts.nodes.get(node_name);
    let condition = |kind: &str| {
        node?
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == kind)
    };
    let describe = |c: &k8s_openapi::api::core::v1::NodeCondition| {
        format!(
            "node {node_name} condition {}={}{}",
            c.type_,
            c.status,
            c.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )
    };
    if subject.pull_error == Some(PullError::DiskFull) {
        let pressure = condition("DiskPressure").map(describe);
        return Some(
            Outcome::broken(
                Cause::NodeDiskFull,
                format!(
                    "node {node_name} ran out of disk space unpacking the image: its image store is full"
                ),
            )
            .with_evidence(pressure.into_iter().collect()),
        );
    }
    let ready = condition("Ready")?;
    if waits_for_network_plugin(ready) {
        return None;
    }
    (ready.status != "True").then(|| {
        Outcome::broken(
            Cause::NodeNotReady,
            format!(
                "node {node_name} is not ready (Ready={}): its kubelet cannot be trusted to pull",
                ready.status
            ),
        )
        .with_evidence(vec![describe(ready)])
    })
}

/// A node whose kubelet is alive but not ready because its network plugin (the VPC CNI) has not
/// started: the CNI's own pod needs its image first, so the readiness follows the pull, not
/// the other way round. A kubelet that stopped posting status is `Unknown`, never this.
fn waits_for_network_plugin(ready: &k8s_openapi::api::core::v1::NodeCondition) -> bool {
    let message = ready.message.as_deref().unwrap_or_default();
    ready.status == "False"
        && [
            "NetworkPluginNotReady",
            "cni config uninitialized",
            "cni plugin not initialized",
        ]
        .iter()
        .any(|m| message.contains(m))
}

/// What the pod link says of a node not ready only for its network plugin.
fn network_plugin_note(subject: &Subject<'_>) -> Option<String> {
    let node_name = subject.pod?.spec.as_ref()?.node_name.as_deref()?;
    let ready = subject
        .facts
        .nodes
        .get(node_name)?
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    waits_for_network_plugin(ready).then(|| {
        format!(
            "node {node_name} is NotReady only because its network plugin has not started (its kubelet reports this pull's failures): it stays NotReady until this pull succeeds, so the pull is what to fix, not the node"
        )
    })
}

fn image_reference(subject: &Subject<'_>) -> Outcome {
    match &subject.image_ref {
        Err(e) => Outcome::broken(Cause::ImageReferenceMalformed, e.0.clone()),
        Ok(ImageRef::EcrLookalike { host }) => {
            let digits = host.chars().take_while(char::is_ascii_digit).count();
            let account = match digits {
                12 => String::new(),
                n => format!(" (its account has {n} digits; AWS account ids have 12)"),
            };
            // `amazon.com` for `amazonaws.com`, and the like: the host a typo away.
            let labels: Vec<&str> = host.split('.').collect();
            let meant = labels
                .len()
                .checked_sub(2)
                .map(|i| labels[i])
                .filter(|domain| {
                    *domain != "amazonaws" && strsim::levenshtein(domain, "amazonaws") <= 3
                })
                .map(|domain| {
                    format!(
                        "did you mean {}? ",
                        host.replacen(&format!(".{domain}."), ".amazonaws.", 1)
                    )
                })
                .unwrap_or_default();
            // The suggestion first: on a small screen the end of a headline is cut.
            Outcome::broken(
                Cause::RegistryHostNotCovered,
                format!(
                    "{meant}{host} looks like private ECR but matches none of the hosts the node's ECR credential provider covers{account}, so the kubelet pulls it without credentials"
                ),
            )
        }
        Ok(ImageRef::Ecr(e)) if other_partition(subject, e).is_some() => {
            let cluster = other_partition(subject, e).unwrap_or_default();
            Outcome::broken(
                Cause::RegistryInOtherPartition,
                format!(
                    "{} is a registry of partition {}, and the cluster is in {cluster}: credentials of one partition are not valid in another, so no pull identity of this cluster can pull from it",
                    e.host, e.partition
                ),
            )
        }
        Ok(ImageRef::Ecr(e)) => Outcome::new(
            Status::Ok,
            format!(
                "private ECR: account {}, region {}, repository {}, {}",
                e.account,
                e.region,
                e.repository,
                e.version().trim_start_matches([':', '@'])
            ),
        ),
        Ok(ImageRef::PublicEcr { host }) => Outcome::new(
            Status::Ok,
            format!("{host} is public ECR: no private-ECR links apply"),
        ),
        Ok(ImageRef::Other { host }) => {
            Outcome::new(Status::Ok, format!("{host} is not ECR: no ECR links apply"))
        }
    }
}

/// The cluster's partition, when it is known and is not the registry's.
fn other_partition(subject: &Subject<'_>, image: &EcrImage) -> Option<String> {
    subject
        .facts
        .known_partition()
        .filter(|cluster| *cluster != image.partition)
}

/// The node-role link and the candidate roles that exist.
fn node_role<'a>(subject: &Subject<'a>) -> (Outcome, Vec<&'a crate::facts::Role>) {
    let facts = subject.facts;
    match &subject.pull_identity {
        Resolution::Unresolved(why) => (
            Outcome::broken(Cause::NodeRoleUnresolved, why.clone()),
            vec![],
        ),
        Resolution::Unknown(why) if subject.pod.is_none() => {
            (Outcome::new(Status::Skipped, why.clone()), vec![])
        }
        Resolution::Unknown(why) => (unknown_or_pulled(subject, why, None), vec![]),
        Resolution::Resolved { roles, how, .. } => {
            let mut existing = Vec::new();
            let mut absent = Vec::new();
            let mut unknown = Vec::new();
            for role in roles {
                match facts.role(role) {
                    Fact::Known(r) => existing.push(r),
                    Fact::Absent => absent.push(role.clone()),
                    Fact::Unknown(why) => unknown.push(why),
                }
            }
            let mut evidence = vec![format!("resolved from {how}")];
            // The tenant's annotation, and why it does not name the pull identity here.
            if let Some(annotated) = subject.annotated_pull_role.as_ref().filter(|a| !a.in_use()) {
                evidence.push(format!(
                    "the ServiceAccount's {} names {}, which is not taken as the pull identity: {}",
                    super::pull_identity::ECR_ROLE_ANNOTATION,
                    annotated.arn,
                    annotated.mode.reason()
                ));
            }
            let outcome = if absent.len() == roles.len() {
                Outcome::broken(
                    Cause::NodeRoleMissing,
                    format!("the pull identity {} does not exist", absent.join(", ")),
                )
            } else if !unknown.is_empty() || !absent.is_empty() {
                let mut why = unknown.join("; ");
                if !absent.is_empty() {
                    why = format!("{} do not exist; {why}", absent.join(", "));
                }
                unknown_or_pulled(subject, &why, None)
            } else if roles.len() == 1 {
                Outcome::new(Status::Ok, format!("the kubelet pulls as {}", roles[0]))
            } else {
                Outcome::new(
                    Status::Ok,
                    format!("the kubelet pulls as one of {}", roles.join(", ")),
                )
            };
            (outcome.with_evidence(evidence), existing)
        }
    }
}

/// `pull-permissions` and `repository-policy` over every candidate role.
fn permissions(
    subject: &Subject<'_>,
    ecr: &EcrImage,
    roles: &[&crate::facts::Role],
    cache: CachePull,
) -> (Outcome, Outcome, Vec<(String, PullAccess)>) {
    if roles.is_empty() {
        let why = "no pull identity to evaluate (see node-role)";
        let status = if subject.pod.is_none() {
            Status::Skipped
        } else {
            Status::Unknown
        };
        let outcome = if subject.pulled {
            unknown_or_pulled(subject, why, None)
        } else {
            Outcome::new(status, why)
        };
        return (outcome.clone(), outcome, Vec::new());
    }
    let access: Vec<(String, PullAccess)> = roles
        .iter()
        .map(|r| {
            (
                r.arn.clone(),
                access::pull_access(subject.facts, r, ecr, cache),
            )
        })
        .collect();
    let combine = |pick: fn(&PullAccess) -> &Outcome, hint: Option<String>| -> Outcome {
        let outcomes: Vec<&Outcome> = access.iter().map(|(_, a)| pick(a)).collect();
        let first = outcomes[0].clone();
        let all_same = outcomes.iter().all(|o| o.status == first.status);
        let combined = if all_same {
            first
        } else {
            Outcome::new(
                Status::Unknown,
                "the candidate node roles disagree; which one applies depends on the role this node runs as",
            )
            .with_evidence(
                access
                    .iter()
                    .map(|(arn, a)| format!("{arn}: {} — {}", pick(a).status.as_str(), pick(a).summary))
                    .collect(),
            )
        };
        match combined.status {
            Status::Unknown => {
                let mut o = unknown_or_pulled(subject, &combined.summary, hint);
                o.evidence = combined.evidence;
                o
            }
            _ => combined,
        }
    };
    let identity_hint = matches!(subject.pull_error, Some(PullError::Unauthorized))
        .then(|| "the event says the registry got no credentials: probably the pull identity cannot get an ECR token".to_string());
    let repo_hint = matches!(subject.pull_error, Some(PullError::Forbidden)).then(|| {
        format!(
            "the event says 403 Forbidden: probably the repository policy of {} does not allow this pull identity",
            ecr.account
        )
    });
    let identity = combine(|a| &a.identity, identity_hint);
    let repository = combine(|a| &a.repository, repo_hint);
    (identity, repository, access)
}

fn network(subject: &Subject<'_>, destination: &Destination) -> Outcome {
    // Observed facts decide where the registry did not answer at all; an answer (403, not
    // found) proves the path.
    let unanswered = matches!(
        subject.pull_error,
        None | Some(PullError::Network | PullError::Other)
    );
    if subject.failing
        && unanswered
        && let Some(observed) = super::network::observed(subject, destination)
    {
        return observed.with_evidence(event_evidence(subject));
    }
    // A refusal proves the route; an endpoint policy on the way can still be what refused.
    let refusal = matches!(
        subject.pull_error,
        Some(PullError::Forbidden | PullError::Unauthorized | PullError::LayerDenied)
    );
    if subject.failing
        && refusal
        && let Some(refused) = super::network::refused(subject, destination)
    {
        return refused.with_evidence(event_evidence(subject));
    }
    let evidence = event_evidence(subject);
    match subject.pull_error {
        Some(PullError::Network) => Outcome::broken(
            Cause::NetworkUnreachable,
            format!("the node cannot reach the registry: it needs {}", destination.needs()),
        )
        .with_evidence(evidence),
        Some(PullError::LayerDenied) => Outcome::broken(
            Cause::LayerDownloadDenied,
            "the layer download from ECR's S3 bucket was refused: an S3 VPC endpoint policy or a proxy blocks it",
        )
        .with_evidence(evidence),
        Some(PullError::RateLimited) => Outcome::broken(
            Cause::RateLimited,
            "the registry throttled the pull",
        )
        .with_evidence(evidence),
        Some(_) => Outcome::new(Status::Ok, "the event points at no network problem"),
        None if subject.failing => Outcome::new(
            Status::Unknown,
            "no pull-failure event is left to tell (events expire after about an hour)",
        ),
        None if subject.pulled => Outcome {
            pulled: true,
            ..Outcome::new(
                Status::Ok,
                format!("{PULLED_PREFIX}the image was pulled, so the registry was reachable"),
            )
        },
        None => Outcome::new(Status::Ok, "nothing points at the network"),
    }
}
