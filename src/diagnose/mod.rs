//! The diagnosis: a pure function from [`Facts`] to a [`Report`]. Each finding walks one
//! container image of one pod (or one workload whose pods cannot be created) through both
//! lanes of the chain ([`crate::chain`]) and attaches the fixes of its broken link ([`crate::fix`]).

mod blast;

use crate::chain::events::PullError;
use crate::chain::outcome::Outcome;
use crate::chain::{Subject, events, identity_lane, pull_identity, pull_lane};
use crate::ecr::reference::{self, ImageRef};
use crate::facts::kube::{self, PULL_FAILURE_REASONS, Workload};
use crate::facts::pod::Pod;
use crate::facts::{Fact, Facts};
use crate::report::{Basis, Finding, Link, LinkId, PullIdentity, Report, SCHEMA, Status};

/// Which findings to produce.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Every container of every pod, not only those that cannot pull.
    pub all: bool,
    /// Only these namespaces (empty: all).
    pub namespaces: Vec<String>,
    /// Only these pods, as `namespace/name` (empty: all).
    pub pods: Vec<String>,
}

impl Selection {
    fn wants(&self, namespace: &str, name: Option<&str>) -> bool {
        (self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace))
            && (self.pods.is_empty()
                || name.is_some_and(|n| self.pods.iter().any(|p| *p == format!("{namespace}/{n}"))))
    }
}

/// Why a pod (`namespace/name`) or workload (`namespace/kind/name`) of the selection is not in
/// the facts, if one is not: a typo is an error, never "nothing is failing".
pub fn missing_pod(facts: &Facts, selection: &Selection) -> Option<String> {
    use crate::facts::kube::{name_of, namespace_of};
    let read: std::collections::HashSet<String> = facts
        .pods
        .iter()
        .map(|p| format!("{}/{}", namespace_of(p), name_of(p)))
        .chain(
            facts
                .unreadable_pods
                .iter()
                .map(|p| format!("{}/{}", p.namespace, p.name)),
        )
        .chain(
            facts
                .workloads
                .iter()
                .map(|w| format!("{}/{}/{}", w.namespace, w.kind, w.name)),
        )
        .collect();
    let missing = selection.pods.iter().find(|p| !read.contains(p.as_str()))?;
    Some(format!(
        "pod {} is not in the input (check the name and namespace: kubectl get pods -n {})",
        crate::text::escape_line(missing),
        crate::text::shell_quote(&crate::text::escape_line(
            missing.split('/').next().unwrap_or_default()
        ))
    ))
}

pub fn diagnose(facts: &Facts, selection: &Selection) -> Report {
    let events = events::EventIndex::new(facts);
    let mut findings = Vec::new();
    for pod in &facts.pods {
        let namespace = kube::namespace_of(pod);
        if !selection.wants(namespace, Some(kube::name_of(pod))) {
            continue;
        }
        for container in kube::containers(pod) {
            let failing = container
                .waiting_reason()
                .is_some_and(|r| PULL_FAILURE_REASONS.contains(&r));
            // A pod named on the command line is diagnosed whatever its state.
            if failing || selection.all || !selection.pods.is_empty() {
                findings.push(diagnose_container(facts, &events, pod, &container, failing));
            }
        }
        findings.extend(diagnose_sandbox(facts, &events, pod));
    }
    for unreadable in &facts.unreadable_pods {
        if selection.wants(&unreadable.namespace, Some(&unreadable.name)) {
            findings.push(unreadable_pod(unreadable));
        }
    }
    for workload in &facts.workloads {
        // A workload is named as the list shows it: NAMESPACE/KIND/NAME.
        let name = format!("{}/{}", workload.kind, workload.name);
        if selection.wants(&workload.namespace, Some(&name)) {
            findings.extend(diagnose_workload(facts, &events, workload));
        }
    }
    findings.sort_by(|a, b| {
        (b.verdict, &a.namespace, &a.pod, &a.workload, &a.container).cmp(&(
            a.verdict,
            &b.namespace,
            &b.pod,
            &b.workload,
            &b.container,
        ))
    });
    if findings.iter().any(|f| f.verdict == Status::Broken) {
        // The radius counts every failing pod of the input, whatever this selection shows.
        let whole = selection.namespaces.is_empty() && selection.pods.is_empty();
        let pool = match whole {
            true => findings.clone(),
            false => diagnose(facts, &Selection::default()).findings,
        };
        blast::attach(&mut findings, &pool, facts);
    }
    Report {
        schema: SCHEMA,
        source: source_info(facts),
        findings,
        problems: facts.problems.clone(),
    }
}

/// A pod the input holds but that could not be read whole: it may be failing, so it is an
/// `unknown` failure, never left out of an all-clear.
fn unreadable_pod(pod: &crate::facts::UnreadablePod) -> Finding {
    let summary = format!(
        "pod {}/{} could not be read ({}): whether it can pull is not known",
        pod.namespace, pod.name, pod.why
    );
    Finding {
        namespace: pod.namespace.clone(),
        pod: Some(pod.name.clone()),
        workload: None,
        container: String::new(),
        image: String::new(),
        state: "Unreadable".to_string(),
        verdict: Status::Unknown,
        broken_link: None,
        cause: None,
        summary: summary.clone(),
        pull_identity: PullIdentity {
            kind: crate::report::PullIdentityKind::Unknown,
            arn: None,
            candidates: Vec::new(),
            resolved_from: None,
        },
        service_account: String::new(),
        app_identity: crate::report::AppIdentity {
            kind: crate::report::AppIdentityKind::Unknown,
            role_arn: None,
        },
        links: vec![Link {
            id: LinkId::Pod,
            lane: LinkId::Pod.lane(),
            status: Status::Unknown,
            cause: None,
            summary,
            evidence: Vec::new(),
            basis: Basis::Observed,
            path: Vec::new(),
            misconception: None,
        }],
        fixes: Vec::new(),
        failing: true,
        blast_radius: None,
    }
}

fn source_info(facts: &Facts) -> crate::facts::SourceInfo {
    let mut source = facts.source.clone();
    if source.cluster.is_none() {
        source.cluster = facts.cluster.as_ref().map(|c| c.name.clone());
    }
    if source.region.is_none() {
        source.region = facts.region();
    }
    if source.account.is_none() {
        source.account = facts.account();
    }
    source
}

fn diagnose_container(
    facts: &Facts,
    events: &events::EventIndex<'_>,
    pod: &Pod,
    container: &kube::ContainerView<'_>,
    failing: bool,
) -> Finding {
    let namespace = kube::namespace_of(pod).to_string();
    let name = kube::name_of(pod);
    let service_account_name = kube::service_account_of(pod).to_string();
    let service_account = facts.service_account(&namespace, &service_account_name);
    let event = events
        .latest_pull_failure(&namespace, name, container.image)
        .map(|e| e.message.clone())
        .or_else(|| {
            container
                .waiting_message()
                .and_then(events::waiting_pull_error)
        });
    let pull_error = event.as_deref().map(events::classify);
    let sa_object = match &service_account {
        Fact::Known(sa) => Some(*sa),
        _ => None,
    };
    let annotated =
        pull_identity::annotated_pull_role(facts, Some(pod), sa_object, event.as_deref());
    let skip_list = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("eks.amazonaws.com/skip-containers"))
        .map(|s| s.split(',').any(|c| c.trim() == container.name))
        .unwrap_or(false);
    let subject = Subject {
        facts,
        namespace,
        pod: Some(pod),
        workload: kube::workload_of(pod),
        container: container.name.to_string(),
        image: container.image.to_string(),
        state: container.state_label(),
        waiting_reason: container.waiting_reason().map(str::to_string),
        failing,
        pulled: container.has_pulled(),
        event,
        pull_error,
        service_account_name,
        service_account,
        image_ref: reference::parse(container.image),
        pull_identity: pull_identity::resolve(facts, Some(pod), annotated.as_ref()),
        annotated_pull_role: annotated,
        env: container
            .spec
            .and_then(|c| c.env.as_ref())
            .map(|env| {
                env.iter()
                    .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
        skipped_by_webhook: skip_list,
        ephemeral: container.spec.is_none(),
        create_failure: None,
        sandbox: false,
    };
    build_finding(&subject)
}

/// The name a sandbox finding carries as its container: no real container can have it.
pub const SANDBOX: &str = "(sandbox)";

/// A pod that cannot start because its sandbox (pause) image cannot be pulled: the kubelet
/// pulls it with the node's credentials, like any image, but the pod waits in
/// `ContainerCreating`. Only while no container of the pod runs.
fn diagnose_sandbox(facts: &Facts, events: &events::EventIndex<'_>, pod: &Pod) -> Option<Finding> {
    let (namespace, name) = (kube::namespace_of(pod), kube::name_of(pod));
    let started = kube::containers(pod).iter().any(|c| c.has_pulled());
    if started {
        return None;
    }
    let (event, image) = events.latest_sandbox_pull_failure(namespace, name)?;
    let service_account_name = kube::service_account_of(pod).to_string();
    let service_account = facts.service_account(namespace, &service_account_name);
    let sa_object = match &service_account {
        Fact::Known(sa) => Some(*sa),
        _ => None,
    };
    let annotated =
        pull_identity::annotated_pull_role(facts, Some(pod), sa_object, Some(&event.message));
    let subject = Subject {
        facts,
        namespace: namespace.to_string(),
        pod: Some(pod),
        workload: kube::workload_of(pod),
        container: SANDBOX.to_string(),
        image_ref: reference::parse(&image),
        image,
        state: "ContainerCreating".to_string(),
        waiting_reason: Some("ContainerCreating".to_string()),
        failing: true,
        pulled: false,
        pull_error: Some(events::classify(&event.message)),
        event: Some(event.message.clone()),
        service_account_name,
        service_account,
        pull_identity: pull_identity::resolve(facts, Some(pod), annotated.as_ref()),
        annotated_pull_role: annotated,
        env: Vec::new(),
        skipped_by_webhook: false,
        ephemeral: false,
        create_failure: None,
        sandbox: true,
    };
    Some(build_finding(&subject))
}

/// A controller whose pods cannot be created because their ServiceAccount is missing.
fn diagnose_workload(
    facts: &Facts,
    events: &events::EventIndex<'_>,
    workload: &Workload,
) -> Option<Finding> {
    let failure = workload.failure.clone().or_else(|| {
        events
            .latest_create_failure(&workload.namespace, &workload.kind, &workload.name)
            .map(|e| e.message.clone())
    })?;
    let (container, image) = workload.containers.first().cloned().unwrap_or_default();
    let service_account = facts.service_account(&workload.namespace, &workload.service_account);
    let sa_object = match &service_account {
        Fact::Known(sa) => Some(*sa),
        _ => None,
    };
    let annotated = pull_identity::annotated_pull_role(facts, None, sa_object, None);
    let subject = Subject {
        facts,
        namespace: workload.namespace.clone(),
        pod: None,
        workload: Some(format!("{}/{}", workload.kind, workload.name)),
        container,
        state: "FailedCreate".to_string(),
        waiting_reason: None,
        failing: false,
        pulled: false,
        event: None,
        pull_error: None,
        service_account_name: workload.service_account.clone(),
        service_account,
        image_ref: reference::parse(&image),
        image,
        pull_identity: pull_identity::resolve(facts, None, annotated.as_ref()),
        annotated_pull_role: annotated,
        env: Vec::new(),
        skipped_by_webhook: false,
        ephemeral: false,
        create_failure: Some(failure),
        sandbox: false,
    };
    Some(build_finding(&subject))
}

const PULL_ORDER: [LinkId; 9] = [
    LinkId::Pod,
    LinkId::ImageReference,
    LinkId::Repository,
    LinkId::Image,
    LinkId::Platform,
    LinkId::NodeRole,
    LinkId::PullPermissions,
    LinkId::RepositoryPolicy,
    LinkId::Network,
];
const IDENTITY_ORDER: [LinkId; 7] = [
    LinkId::ServiceAccount,
    LinkId::RoleAnnotation,
    LinkId::CredentialInjection,
    LinkId::Role,
    LinkId::TrustPolicy,
    LinkId::OidcProvider,
    LinkId::RolePermissions,
];

fn build_finding(subject: &Subject<'_>) -> Finding {
    let pull = pull_lane::walk(subject);
    let identity = identity_lane::walk(subject, &pull);
    let mut links: Vec<Link> = Vec::new();
    let order: Vec<LinkId> = if subject.failing {
        PULL_ORDER
            .iter()
            .chain(IDENTITY_ORDER.iter())
            .copied()
            .collect()
    } else {
        let mut o = vec![LinkId::Pod];
        o.extend(IDENTITY_ORDER);
        o.extend(PULL_ORDER.iter().skip(1));
        o
    };
    // What the event suggests for the first pull-lane link that is unknown, for the summary.
    let mut probable: Option<String> = None;
    for id in order {
        let outcome = pull
            .links
            .get(&id)
            .or_else(|| identity.links.get(&id))
            .cloned()
            .unwrap_or_else(|| Outcome::new(Status::Skipped, "not evaluated"));
        if outcome.status == Status::Unknown && id.lane() != crate::report::Lane::Identity {
            probable = probable.or_else(|| outcome.hint.clone());
        }
        links.push(to_link(id, outcome, subject));
    }
    let broken = links.iter().find(|l| l.status == Status::Broken);
    let verdict = verdict(&links, subject.failing);
    let summary = summarise(subject, &links, verdict, probable.as_deref());
    let broken_link = broken.map(|l| l.id);
    let cause = broken.and_then(|l| l.cause);
    // The broken link's fixes; with nothing broken, those of a warning that has a cause.
    let fixes = broken
        .or_else(|| {
            links
                .iter()
                .find(|l| l.status == Status::Warning && l.cause.is_some())
        })
        .map(|l| crate::fix::plan(subject, l, &pull, &identity))
        .unwrap_or_default();
    Finding {
        namespace: subject.namespace.clone(),
        pod: subject.pod.map(|p| kube::name_of(p).to_string()),
        workload: subject.workload.clone(),
        container: subject.container.clone(),
        image: subject.image.clone(),
        state: subject.state.clone(),
        verdict,
        broken_link,
        cause,
        summary,
        pull_identity: PullIdentity {
            kind: subject.pull_identity.kind(),
            arn: match subject.pull_identity.roles() {
                [one] => Some(one.clone()),
                _ => None,
            },
            candidates: match subject.pull_identity.roles() {
                [_, _, ..] => subject.pull_identity.roles().to_vec(),
                _ => Vec::new(),
            },
            resolved_from: subject.pull_identity.how().map(str::to_string),
        },
        service_account: subject.service_account_name.clone(),
        app_identity: app_identity_report(&identity.identity),
        links,
        fixes,
        failing: subject.failing || subject.create_failure.is_some(),
        blast_radius: None,
    }
}

fn app_identity_report(identity: &identity_lane::AppIdentity) -> crate::report::AppIdentity {
    use crate::report::AppIdentityKind as K;
    use identity_lane::AppIdentity as A;
    let (kind, role_arn) = match identity {
        A::Irsa { role_arn, .. } => (K::Irsa, Some(role_arn.clone())),
        A::PodIdentity { role_arn, .. } => (K::PodIdentity, Some(role_arn.clone())),
        A::None => (K::None, None),
        A::Malformed(value) => (K::Malformed, Some(value.clone())),
        A::Unknown(_) => (K::Unknown, None),
    };
    crate::report::AppIdentity { kind, role_arn }
}

fn to_link(id: LinkId, outcome: Outcome, subject: &Subject<'_>) -> Link {
    let basis = if outcome.pulled {
        Basis::Pulled
    } else if outcome.network.is_some() {
        Basis::Observed
    } else if matches!(id, LinkId::Pod | LinkId::Network)
        && subject.event.is_some()
        && subject.failing
    {
        Basis::Event
    } else {
        Basis::Observed
    };
    Link {
        id,
        lane: id.lane(),
        status: outcome.status,
        cause: outcome.cause,
        summary: outcome.summary,
        evidence: outcome.evidence,
        basis,
        path: outcome.network.map(|n| n.hops).unwrap_or_default(),
        misconception: outcome.misconception,
    }
}

/// Contract §4: broken, else unknown, else warning, else ok — and a container that cannot pull
/// with nothing broken is unknown.
fn verdict(links: &[Link], failing: bool) -> Status {
    let worst = |s: Status| links.iter().any(|l| l.status == s);
    if worst(Status::Broken) {
        Status::Broken
    } else if worst(Status::Unknown) || failing {
        Status::Unknown
    } else if worst(Status::Warning) {
        Status::Warning
    } else {
        Status::Ok
    }
}

/// What can refuse a pull that every readable policy allows, each with where to look.
fn unreadable_denials(subject: &Subject<'_>, links: &[Link]) -> String {
    let (account, region, host) = match &subject.image_ref {
        Ok(ImageRef::Ecr(e)) => (e.account.as_str(), e.region.as_str(), e.host.as_str()),
        _ => ("ACCOUNT", "REGION", "the registry host"),
    };
    let pulling = subject
        .facts
        .account()
        .unwrap_or_else(|| "the pulling account".to_string());
    // A registry outside the cluster's Region is where a Region-deny SCP (aws:RequestedRegion)
    // bites, and nothing the account can read shows it: name it first.
    let region_deny = match subject.facts.region().as_deref() {
        Some(home) if region != "REGION" && home != region => format!(
            " that denies Regions other than the usual ones (a Condition on aws:RequestedRegion: the registry is in {region}, the cluster in {home})"
        ),
        _ => String::new(),
    };
    let organisation = format!(
        "a service control policy{region_deny} or resource control policy of AWS Organizations (aws organizations list-policies-for-target --target-id {} --filter SERVICE_CONTROL_POLICY, and RESOURCE_CONTROL_POLICY for {}, from the management account)",
        crate::text::shell_arg(&pulling),
        crate::text::shell_arg(&account)
    );
    // The network link read the endpoints on the way when it shows a path.
    let endpoints_read = links
        .iter()
        .any(|l| l.id == LinkId::Network && !l.path.is_empty());
    let endpoints = (!endpoints_read).then(|| format!("a VPC endpoint policy on the ECR endpoints (aws ec2 describe-vpc-endpoints --region {} --filters Name=service-name,Values=com.amazonaws.{}.ecr.api,com.amazonaws.{}.ecr.dkr --query 'VpcEndpoints[].PolicyDocument')", crate::text::shell_arg(&region), crate::text::shell_arg(&region), crate::text::shell_arg(&region)));
    let provider = credential_provider_hint(subject, host);
    std::iter::once(organisation)
        .chain(endpoints)
        .chain(std::iter::once(provider))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where the node's credential provider is configured: the Windows AMI keeps it elsewhere.
fn credential_provider_hint(subject: &Subject<'_>, host: &str) -> String {
    let windows =
        crate::chain::pull_lane::node_platform(subject).is_some_and(|(os, _)| os == "windows");
    match windows {
        true => format!(
            "the Windows node's credential provider configuration, whose matchImages must cover {host} (the file the kubelet's --image-credential-provider-config names, under C:\\Program Files\\Kubernetes on the EKS Windows AMI; the kubelet log says \"Failed getting credential from external registry credential provider\" when it fails)"
        ),
        false => format!(
            "the node's credential provider configuration, whose matchImages must cover {host} (/etc/eks/image-credential-provider/config.json on the node; the kubelet log says \"Failed getting credential from external registry credential provider\" when it fails)"
        ),
    }
}

fn summarise(
    subject: &Subject<'_>,
    links: &[Link],
    verdict: Status,
    probable: Option<&str>,
) -> String {
    if let Some(broken) = links.iter().find(|l| l.status == Status::Broken) {
        // Name the misconception where it bites: the app role could pull, the node role cannot.
        let misconception = links
            .iter()
            .find(|l| l.id == LinkId::RolePermissions)
            .and_then(|l| l.misconception.as_ref())
            .filter(|_| broken.id == LinkId::PullPermissions);
        return match misconception {
            Some(note) => format!("{} — {note}", broken.summary),
            None => broken.summary.clone(),
        };
    }
    if subject.failing {
        let reported = subject
            .pull_error
            .map(|e| e.describe().to_string())
            .unwrap_or_else(|| {
                "no pull-failure event is left (events expire after about an hour)".to_string()
            });
        let unknown: Vec<&Link> = links
            .iter()
            .filter(|l| l.status == Status::Unknown && l.lane != crate::report::Lane::Identity)
            .collect();
        if unknown.is_empty() {
            return match subject.pull_error {
                Some(PullError::Forbidden | PullError::Unauthorized) => format!(
                    "The pull fails ({reported}), but every fact pulldoctor can read allows it. What it cannot read: {}.",
                    unreadable_denials(subject, links)
                ),
                _ => format!(
                    "The pull fails ({reported}), but every fact pulldoctor can read checks out: the cause is outside what it sees (read the event)."
                ),
            };
        }
        let names: Vec<&str> = unknown.iter().map(|l| l.id.as_str()).collect();
        let hint = match probable
            .map(str::chars)
            .as_mut()
            .map(|c| (c.next(), c.as_str()))
        {
            Some((Some(first), rest)) => format!(" {}{rest}.", first.to_uppercase()),
            _ => String::new(),
        };
        return format!(
            "The pull fails ({reported}).{hint} Not yet known: {} — each names the command that settles it.",
            names.join(", ")
        );
    }
    match verdict {
        Status::Unknown => {
            let first = links.iter().find(|l| l.status == Status::Unknown);
            format!(
                "Nothing is broken, but {} is unknown: {}",
                first.map(|l| l.id.as_str()).unwrap_or("a link"),
                first.map(|l| l.summary.as_str()).unwrap_or("")
            )
        }
        Status::Warning => {
            let first = links.iter().find(|l| l.status == Status::Warning);
            first.map(|l| l.summary.clone()).unwrap_or_default()
        }
        _ => "Every link of the chain is in order.".to_string(),
    }
}
