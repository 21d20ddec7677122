//! What CloudTrail recorded of the pull: AWS's own refusal of the pull identity's ECR call, set
//! beside what the policies pulldoctor read say. A refusal that agrees proves the broken link; one
//! naming a policy pulldoctor cannot read (an organization's, a session's, an endpoint's) decides
//! a link the read policies allow, and one naming any policy decides a link they left `unknown`;
//! any other disagreement leaves the link `unknown`, showing both.

use super::Subject;
use super::outcome::Outcome;
use crate::ecr::reference::EcrImage;
use crate::facts::TrailLookup;
use crate::facts::trail::{TrailEvent, resource_key};
use crate::report::{Cause, LinkId, PullIdentityKind, Status};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// The ECR calls a pull makes.
const PULL_CALLS: [&str; 4] = [
    "GetAuthorizationToken",
    "BatchGetImage",
    "GetDownloadUrlForLayer",
    "BatchCheckLayerAvailability",
];

/// CloudTrail delivers an event about five minutes after the call, typically.
const DELIVERY: SignedDuration = SignedDuration::from_mins(5);

/// The kind of policy a refusal's message names ("… with an explicit deny in a service control
/// policy", "… because no identity-based policy allows …").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refuser {
    ServiceControl,
    ResourceControl,
    Boundary,
    Session,
    VpcEndpoint,
    Identity,
    Resource,
    /// The message names none ("… is not authorized to perform …").
    Unstated,
}

impl Refuser {
    fn of(message: &str) -> Refuser {
        let m = message.to_ascii_lowercase();
        let kinds = [
            ("service control polic", Refuser::ServiceControl),
            ("resource control polic", Refuser::ResourceControl),
            ("permissions boundar", Refuser::Boundary),
            ("session polic", Refuser::Session),
            ("vpc endpoint polic", Refuser::VpcEndpoint),
            ("identity-based polic", Refuser::Identity),
            ("resource-based polic", Refuser::Resource),
        ];
        kinds
            .into_iter()
            .find(|(words, _)| m.contains(words))
            .map_or(Refuser::Unstated, |(_, kind)| kind)
    }

    /// A policy pulldoctor cannot read: only the recorded refusal shows it.
    fn unreadable(self) -> bool {
        matches!(
            self,
            Refuser::ServiceControl
                | Refuser::ResourceControl
                | Refuser::Session
                | Refuser::VpcEndpoint
        )
    }

    /// The link it speaks of.
    fn link(self) -> LinkId {
        match self {
            Refuser::Resource => LinkId::RepositoryPolicy,
            Refuser::VpcEndpoint => LinkId::Network,
            _ => LinkId::PullPermissions,
        }
    }

    /// The causes that say the same; the first is the one it decides.
    fn causes(self, explicit: bool) -> &'static [Cause] {
        use Cause::*;
        match (self, explicit) {
            (Refuser::ServiceControl | Refuser::ResourceControl, _) => &[OrganizationPolicyDenies],
            (Refuser::Session, _) => &[SessionPolicyDenies],
            (Refuser::Boundary, _) => &[PullBoundaryDenies],
            (Refuser::VpcEndpoint, _) => &[VpcEndpointPolicyDenies],
            (Refuser::Identity, true) => &[PullExplicitDeny],
            (Refuser::Identity, false) => &[PullPermissionMissing, AuthTokenNotWildcard],
            (Refuser::Resource, _) => &[RepositoryPolicyDenies, CrossAccountNotAllowed],
            (Refuser::Unstated, _) => &[],
        }
    }

    fn words(self) -> &'static str {
        match self {
            Refuser::ServiceControl => "a service control policy of the organization",
            Refuser::ResourceControl => "a resource control policy of the organization",
            Refuser::Boundary => "the role's permissions boundary",
            Refuser::Session => "the session policy",
            Refuser::VpcEndpoint => "the VPC endpoint's policy",
            Refuser::Identity => "the role's own policies",
            Refuser::Resource => "the repository policy",
            Refuser::Unstated => "a policy the message does not name",
        }
    }
}

/// The sessions of the pull identity CloudTrail is read for: the node's instance (its role's
/// session is named after it).
fn sessions(subject: &Subject<'_>) -> Vec<String> {
    let Some(node) = subject
        .pod
        .and_then(|p| p.spec.as_ref()?.node_name.as_deref())
    else {
        return Vec::new();
    };
    subject
        .facts
        .nodes
        .get(node)
        .and_then(crate::facts::kube::instance_id)
        .map(str::to_string)
        .into_iter()
        .collect()
}

/// A lookup of the pull identity's calls: its key, and the user name its events carry (`None`:
/// any — the events are told by role and repository alone).
struct Lookup {
    key: String,
    user: Option<String>,
    words: String,
}

/// What CloudTrail is read for: the node role's session (the instance id); for the Fargate pod
/// execution role or an `ecr-role-arn` role, whose session names are not known ahead, the
/// repository's own events (by resource name).
fn lookups(subject: &Subject<'_>, ecr: &EcrImage) -> Vec<Lookup> {
    match subject.pull_identity.kind() {
        PullIdentityKind::FargateRole | PullIdentityKind::ServiceAccountRole => {
            let arn = ecr.repository_arn();
            vec![Lookup {
                key: resource_key(&arn),
                user: None,
                words: format!("repository {arn}"),
            }]
        }
        PullIdentityKind::NodeRole | PullIdentityKind::Unknown => sessions(subject)
            .into_iter()
            .map(|session| Lookup {
                key: session.clone(),
                words: format!("session {session}"),
                user: Some(session),
            })
            .collect(),
    }
}

/// One line for the evidence: when, what, on what, by whom, and AWS's words.
fn line(event: &TrailEvent) -> String {
    format!(
        "CloudTrail {}: ecr:{}{} by {} refused — {}: {}",
        event.time,
        event.name,
        event
            .repository
            .as_deref()
            .map(|r| format!(" on {r}"))
            .unwrap_or_default(),
        event
            .principal
            .as_deref()
            .or(event.role.as_deref())
            .unwrap_or("?"),
        event.error_code.as_deref().unwrap_or("?"),
        event.error_message.as_deref().unwrap_or("")
    )
}

/// A refusal of this pull: the pull identity's (`roles`), an ECR pull call, of this repository
/// where the call names one, after the pod was created (its image set).
fn is_refusal_of(
    event: &TrailEvent,
    roles: &[String],
    ecr: &EcrImage,
    since: Option<Timestamp>,
) -> bool {
    let denied = matches!(
        event.error_code.as_deref(),
        Some("AccessDenied" | "AccessDeniedException")
    );
    let this_repository = match (&event.repository, &event.registry) {
        (Some(repository), registry) => {
            *repository == ecr.repository && registry.as_ref().is_none_or(|r| *r == ecr.account)
        }
        (None, _) => event.name == "GetAuthorizationToken",
    };
    denied
        && event.source == "ecr.amazonaws.com"
        && PULL_CALLS.contains(&event.name.as_str())
        && event.role.as_ref().is_some_and(|r| roles.contains(r))
        && this_repository
        && since.is_none_or(|since| event.time >= since)
}

/// Sets CloudTrail's word beside the pull lane's links of a failing pod.
pub fn weigh(links: &mut BTreeMap<LinkId, Outcome>, subject: &Subject<'_>, ecr: &EcrImage) {
    if !subject.failing || subject.pulled {
        return;
    }
    let roles = subject.pull_identity.roles();
    let since = subject
        .pod
        .and_then(|p| p.metadata.creation_timestamp.as_ref())
        .map(|t| t.0);
    for lookup in lookups(subject, ecr) {
        let reach = match subject.facts.trail_lookup(&lookup.key) {
            TrailLookup::NotLooked => continue,
            TrailLookup::Failed(why) => {
                note(
                    links,
                    format!("CloudTrail was not read for {}: {why}", lookup.words),
                );
                continue;
            }
            TrailLookup::Read { reach } => reach,
        };
        let latest = subject
            .facts
            .trail
            .events
            .iter()
            .filter(|e| lookup.user.is_none() || e.username == lookup.user)
            .filter(|e| is_refusal_of(e, roles, ecr, since))
            .max_by_key(|e| e.time);
        match latest {
            Some(event) => decide(links, event),
            None => note(
                links,
                nothing_recorded(
                    subject,
                    ("refusal of this pull", &lookup.words),
                    since,
                    reach,
                ),
            ),
        }
    }
}

/// Evidence on `pull-permissions`, the link CloudTrail speaks of most.
fn note(links: &mut BTreeMap<LinkId, Outcome>, line: String) {
    if let Some(link) = links.get_mut(&LinkId::PullPermissions) {
        link.evidence.push(line);
    }
}

/// Why no refusal is on record: none was made, or it may not be delivered (or reached) yet.
/// `what` is the refusal looked for, `whose` the lookup's user name in words.
pub(super) fn nothing_recorded(
    subject: &Subject<'_>,
    (what, whose): (&str, &str),
    since: Option<Timestamp>,
    reach: Option<Timestamp>,
) -> String {
    let now = subject.facts.observed_at().unwrap_or_else(Timestamp::now);
    match (since, reach) {
        (Some(since), _) if now.duration_since(since) < DELIVERY => format!(
            "CloudTrail holds no {what} for {whose} yet: the pod is {} s old, and CloudTrail delivers events about 5 minutes after the call",
            now.duration_since(since).as_secs()
        ),
        (Some(since), Some(reach)) if reach > since => format!(
            "CloudTrail's answer for {whose} reached back to {reach} only (the pod was created at {since}): no refusal in that window"
        ),
        _ => format!("CloudTrail recorded no {what} for {whose}"),
    }
}

/// The recorded refusal against the link it speaks of.
fn decide(links: &mut BTreeMap<LinkId, Outcome>, event: &TrailEvent) {
    let message = event.error_message.as_deref().unwrap_or_default();
    let refuser = Refuser::of(message);
    let explicit = message.to_ascii_lowercase().contains("explicit deny");
    let causes = refuser.causes(explicit);
    let Some(link) = links.get_mut(&refuser.link()) else {
        return;
    };
    let agrees = link.status == Status::Broken
        && (refuser == Refuser::Unstated || link.cause.is_some_and(|c| causes.contains(&c)));
    // What the read policies allow, only a policy they do not hold can refuse; what they left
    // unknown, AWS's answer settles.
    let decides = match link.status {
        Status::Unknown => refuser != Refuser::Unstated,
        Status::Broken => false,
        _ => refuser.unreadable(),
    };
    if agrees {
        link.evidence
            .push(format!("AWS refused it so: {}", line(event)));
    } else if decides {
        // What the read policies allowed is worth showing beside the refusal; why a link was
        // unknown (what could not be read, in the words of the call that failed) is not.
        let read = (link.status == Status::Ok)
            .then(|| format!("the policies read said: {}", link.summary));
        let mut decided = Outcome::broken(
            causes[0],
            format!(
                "AWS refused ecr:{} to {} at {}: {} denies it",
                event.name,
                event.role.as_deref().unwrap_or("the pull identity"),
                event.time,
                refuser.words()
            ),
        )
        .with_evidence(std::iter::once(line(event)).chain(read).collect());
        decided.evidence.extend(std::mem::take(&mut link.evidence));
        *link = decided;
    } else {
        let read = format!(
            "the policies read say {}: {}",
            link.status.as_str(),
            link.summary
        );
        let mut unsettled = Outcome::new(
            Status::Unknown,
            format!(
                "AWS refused ecr:{} citing {}, which the policies read do not explain (a refusal from before a policy change looks the same, until the kubelet's next pull)",
                event.name,
                refuser.words()
            ),
        )
        .with_evidence(vec![line(event), read]);
        unsettled
            .evidence
            .extend(std::mem::take(&mut link.evidence));
        *link = unsettled;
    }
}
