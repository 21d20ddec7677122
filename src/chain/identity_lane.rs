//! The identity lane: the pod's own AWS identity (IRSA or EKS Pod Identity), which the
//! application uses. On a stock node it does not pull images, so it never takes the blame for a
//! failed pull.

use super::Subject;
use super::access;
use super::outcome::Outcome;
use super::pull_identity::{AnnotatedPullRole, ECR_ROLE_ANNOTATION, TokenPull};
use super::pull_lane::PullLane;
use super::trust::{self, Assumer};
use crate::facts::{Fact, Role};
use crate::iam::arn;
use crate::report::{Cause, LinkId, Status};
use std::collections::BTreeMap;

pub const ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
pub const AUDIENCE_ANNOTATION: &str = "eks.amazonaws.com/audience";
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// The pod's AWS identity as the ServiceAccount and EKS configure it.
#[derive(Debug, Clone, PartialEq)]
pub enum AppIdentity {
    None,
    Irsa {
        role_arn: String,
        audience: String,
    },
    PodIdentity {
        role_arn: String,
        association_id: Option<String>,
    },
    /// The annotation is there but is no role ARN.
    Malformed(String),
    Unknown(String),
}

impl AppIdentity {
    pub fn role_arn(&self) -> Option<&str> {
        match self {
            AppIdentity::Irsa { role_arn, .. } | AppIdentity::PodIdentity { role_arn, .. } => {
                Some(role_arn)
            }
            _ => None,
        }
    }
}

pub struct IdentityLane {
    pub links: BTreeMap<LinkId, Outcome>,
    pub identity: AppIdentity,
    pub assumer: Option<Assumer>,
}

pub fn app_identity(subject: &Subject<'_>) -> AppIdentity {
    let facts = subject.facts;
    let sa = match &subject.service_account {
        Fact::Known(sa) => *sa,
        Fact::Absent => return AppIdentity::None,
        Fact::Unknown(why) => return AppIdentity::Unknown(why.clone()),
    };
    let annotations = sa.metadata.annotations.clone().unwrap_or_default();
    let association =
        facts.pod_identity_association(&subject.namespace, &subject.service_account_name);
    // The webhook gives Pod Identity precedence over IRSA when both are configured.
    if let Fact::Known(a) = &association {
        if a.role_arn.is_empty() {
            return AppIdentity::Unknown(format!(
                "the association's role was not read: aws eks describe-pod-identity-association --cluster-name {} --association-id {}",
                crate::text::shell_arg(&facts.cluster_name()),
                crate::text::shell_arg(&a.association_id.as_deref().unwrap_or("ID"))
            ));
        }
        return AppIdentity::PodIdentity {
            role_arn: a.role_arn.clone(),
            association_id: a.association_id.clone(),
        };
    }
    if let Some(role_arn) = annotations.get(ROLE_ANNOTATION) {
        if !arn::is_well_formed_role_arn(role_arn) {
            return AppIdentity::Malformed(role_arn.clone());
        }
        return AppIdentity::Irsa {
            role_arn: role_arn.clone(),
            audience: annotations
                .get(AUDIENCE_ANNOTATION)
                .cloned()
                .unwrap_or_else(|| default_audience(subject, role_arn)),
        };
    }
    AppIdentity::None
}

pub fn walk(subject: &Subject<'_>, pull: &PullLane) -> IdentityLane {
    let mut links = BTreeMap::new();
    let identity = app_identity(subject);
    links.insert(LinkId::ServiceAccount, service_account(subject));
    let skip_rest = |links: &mut BTreeMap<LinkId, Outcome>, why: &str| {
        for id in [
            LinkId::CredentialInjection,
            LinkId::Role,
            LinkId::TrustPolicy,
            LinkId::OidcProvider,
            LinkId::RolePermissions,
        ] {
            links.insert(id, Outcome::new(Status::Skipped, why));
        }
    };
    let annotation = match &identity {
        AppIdentity::None => {
            let mut note = "no eks.amazonaws.com/role-arn annotation and no Pod Identity association: the pod has no AWS identity of its own".to_string();
            if let Fact::Unknown(why) = subject
                .facts
                .pod_identity_association(&subject.namespace, &subject.service_account_name)
                && matches!(subject.service_account, Fact::Known(_))
            {
                note = format!(
                    "no eks.amazonaws.com/role-arn annotation; Pod Identity not checked ({why})"
                );
            }
            if matches!(subject.service_account, Fact::Absent) {
                note = "the ServiceAccount does not exist".to_string();
            }
            links.insert(
                LinkId::RoleAnnotation,
                Outcome::new(Status::Skipped, note.clone()),
            );
            skip_rest(&mut links, "the pod has no AWS identity");
            return IdentityLane {
                links,
                identity,
                assumer: None,
            };
        }
        AppIdentity::Unknown(why) => {
            links.insert(
                LinkId::RoleAnnotation,
                Outcome::new(Status::Unknown, why.clone()),
            );
            skip_rest(&mut links, "the pod's AWS identity is unknown");
            return IdentityLane {
                links,
                identity,
                assumer: None,
            };
        }
        AppIdentity::Malformed(value) => {
            links.insert(
                LinkId::RoleAnnotation,
                Outcome::broken(
                    Cause::RoleArnMalformed,
                    format!(
                        "{ROLE_ANNOTATION} on ServiceAccount {}/{} is \"{value}\", which is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                        subject.namespace, subject.service_account_name
                    ),
                ),
            );
            skip_rest(&mut links, "the role annotation is malformed");
            return IdentityLane {
                links,
                identity,
                assumer: None,
            };
        }
        AppIdentity::Irsa { role_arn, .. } => Outcome::new(
            Status::Ok,
            format!(
                "IRSA: ServiceAccount {} is annotated with {role_arn}",
                subject.service_account_name
            ),
        ),
        AppIdentity::PodIdentity { role_arn, .. } => Outcome::new(
            Status::Ok,
            format!(
                "EKS Pod Identity: an association gives ServiceAccount {} the role {role_arn}",
                subject.service_account_name
            ),
        ),
    };
    links.insert(LinkId::RoleAnnotation, annotation);
    links.insert(
        LinkId::CredentialInjection,
        credential_injection(subject, &identity),
    );
    let role_arn = identity.role_arn().unwrap_or_default().to_string();
    let role = subject.facts.role(&role_arn);
    links.insert(
        LinkId::Role,
        match &role {
            Fact::Known(r) => Outcome::new(Status::Ok, format!("role {} exists", r.arn)),
            Fact::Absent => Outcome::broken(
                Cause::RoleMissing,
                format!("role {role_arn} does not exist"),
            ),
            Fact::Unknown(why) => Outcome::new(Status::Unknown, why.clone()),
        },
    );
    let assumer = assumer(subject, &identity);
    links.insert(LinkId::TrustPolicy, trust_policy(&role, assumer.as_ref()));
    links.insert(
        LinkId::OidcProvider,
        oidc_provider(subject, &identity, &role_arn),
    );
    links.insert(
        LinkId::RolePermissions,
        role_permissions(subject, &role, pull),
    );
    if let AppIdentity::Irsa { role_arn, .. } = &identity {
        super::web_identity::weigh(&mut links, subject, role_arn);
    }
    IdentityLane {
        links,
        identity,
        assumer: assumer.ok(),
    }
}

fn service_account(subject: &Subject<'_>) -> Outcome {
    let (ns, name) = (&subject.namespace, &subject.service_account_name);
    match &subject.service_account {
        Fact::Known(_) => Outcome::new(Status::Ok, format!("ServiceAccount {ns}/{name} exists")),
        Fact::Absent => {
            let mut o = Outcome::broken(
                Cause::ServiceAccountMissing,
                format!("ServiceAccount {ns}/{name} does not exist"),
            );
            if let Some(failure) = &subject.create_failure {
                o.evidence.push(format!("controller: {failure}"));
            }
            o
        }
        Fact::Unknown(why) => Outcome::new(Status::Unknown, why.clone()),
    }
}

/// The webhook injected nothing: the pod predates the identity, or (created after it) the
/// webhook did not see it in time. Says which came first where both times are known.
fn not_injected(
    subject: &Subject<'_>,
    missing: &str,
    what: &str,
    given_at: Option<Timestamp>,
) -> Outcome {
    let created = pod_created(subject);
    let why = match (created, given_at) {
        (Some(pod), Some(given)) if pod < given => format!(
            "the pod was created at {pod}, before {what} (at {given}); the webhook only mutates pods at creation"
        ),
        (Some(pod), Some(given)) => format!(
            "the pod was created at {pod}, after {what} (at {given}), yet the webhook did not mutate it: it was unavailable, or had not yet seen {what} (it caches them)"
        ),
        _ => "it was created before its ServiceAccount was given this identity (the webhook only mutates pods at creation)".to_string(),
    };
    Outcome::broken(
        Cause::PodPredatesAnnotation,
        format!("{missing}: {why}; restart the workload"),
    )
    .with_evidence(timing(subject, what, given_at))
}

/// The times compared, for evidence.
fn timing(subject: &Subject<'_>, what: &str, given_at: Option<Timestamp>) -> Vec<String> {
    let at = |t: Option<Timestamp>| t.map_or("not known".to_string(), |t| t.to_string());
    vec![
        format!("pod created: {}", at(pod_created(subject))),
        format!("{what} created: {}", at(given_at)),
    ]
}

fn pod_created(subject: &Subject<'_>) -> Option<Timestamp> {
    subject
        .pod?
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
}

/// When the ServiceAccount's role annotation was last written: its managed-fields entry that
/// owns it (a live read has them; `kubectl get -o json` leaves them out).
fn annotated_at(subject: &Subject<'_>) -> Option<Timestamp> {
    let Fact::Known(sa) = &subject.service_account else {
        return None;
    };
    let owns = |fields: &serde_json::Value| {
        fields["f:metadata"]["f:annotations"]
            .get(format!("f:{ROLE_ANNOTATION}"))
            .is_some()
    };
    sa.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|f| f.fields_v1.as_ref().is_some_and(|v| owns(&v.0)))
        .filter_map(|f| Some(f.time.as_ref()?.0))
        .max()
}

/// When the ServiceAccount's Pod Identity association was created.
fn associated_at(subject: &Subject<'_>) -> Option<Timestamp> {
    match subject
        .facts
        .pod_identity_association(&subject.namespace, &subject.service_account_name)
    {
        Fact::Known(a) => a.created_at.as_deref()?.parse().ok(),
        _ => None,
    }
}

/// The container has the agent's credential URI: what answers it is the Pod Identity Agent's
/// DaemonSet on the node, which the add-on installs.
fn pod_identity_agent(subject: &Subject<'_>) -> Outcome {
    let injected = "the container has the Pod Identity agent's credential URI";
    match subject.facts.pod_identity_agent() {
        Fact::Known(agent) if agent.ready > 0 => {
            Outcome::new(Status::Ok, injected).with_evidence(vec![format!(
                "the eks-pod-identity-agent DaemonSet has {} of {} pods ready",
                agent.ready, agent.desired
            )])
        }
        Fact::Known(agent) => Outcome::broken(
            Cause::PodIdentityAgentMissing,
            format!(
                "{injected}, but no pod of the eks-pod-identity-agent DaemonSet is ready ({} desired): nothing on the node answers it, so the application gets no credentials",
                agent.desired
            ),
        ),
        Fact::Absent => Outcome::broken(
            Cause::PodIdentityAgentMissing,
            format!(
                "{injected}, but kube-system has no eks-pod-identity-agent DaemonSet (the EKS Pod Identity Agent add-on): nothing on the node answers it, so the application gets no credentials"
            ),
        ),
        // Not read: the injection itself is in order, and the agent is named as not known.
        Fact::Unknown(why) => Outcome::new(Status::Ok, injected).with_evidence(vec![why]),
    }
}

type Timestamp = k8s_openapi::jiff::Timestamp;

fn env<'a>(subject: &'a Subject<'_>, name: &str) -> Option<&'a str> {
    subject
        .env
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn credential_injection(subject: &Subject<'_>, identity: &AppIdentity) -> Outcome {
    if subject.pod.is_none() {
        return Outcome::new(Status::Skipped, "no pod exists yet");
    }
    if subject.ephemeral {
        return Outcome::new(
            Status::Skipped,
            "ephemeral containers get no injected credentials",
        );
    }
    if subject.skipped_by_webhook {
        return Outcome::new(
            Status::Skipped,
            "the pod's eks.amazonaws.com/skip-containers annotation excludes this container",
        );
    }
    match identity {
        AppIdentity::Irsa { role_arn, .. } => match env(subject, "AWS_ROLE_ARN") {
            Some(injected) if injected == role_arn => Outcome::new(
                Status::Ok,
                format!("the container has AWS_ROLE_ARN={injected}"),
            ),
            Some(injected) => Outcome::broken(
                Cause::PodRoleMismatch,
                format!(
                    "the container runs with AWS_ROLE_ARN={injected}, but its ServiceAccount now names {role_arn}: restart the workload"
                ),
            ),
            None if env(subject, "AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some() => Outcome::new(
                Status::Ok,
                "the container has Pod Identity credentials, which take precedence",
            ),
            None => not_injected(
                subject,
                "the container has no AWS_ROLE_ARN or web identity token",
                "the annotation",
                annotated_at(subject),
            ),
        },
        AppIdentity::PodIdentity { association_id, .. } => {
            match env(subject, "AWS_CONTAINER_CREDENTIALS_FULL_URI") {
                Some(_) => pod_identity_agent(subject),
                // The webhook gave the pod IRSA's variables where an association is meant: it
                // mutated the pod before it knew of the association (it caches them).
                None => match env(subject, "AWS_ROLE_ARN") {
                    Some(injected) => Outcome::broken(
                        Cause::PodRoleMismatch,
                        format!(
                            "the container runs with IRSA's AWS_ROLE_ARN={injected}, but its ServiceAccount's Pod Identity association{} is meant: the webhook mutated the pod before it knew of the association; restart the workload",
                            association_id.as_deref().map(|id| format!(" {id}")).unwrap_or_default()
                        ),
                    )
                    .with_evidence(timing(subject, "the association", associated_at(subject))),
                    None => not_injected(
                        subject,
                        "the container has no AWS_CONTAINER_CREDENTIALS_FULL_URI",
                        "the association",
                        associated_at(subject),
                    ),
                },
            }
        }
        _ => Outcome::new(Status::Skipped, "no AWS identity"),
    }
}

/// The audience the webhook puts in a token when the ServiceAccount names none. In China,
/// reports disagree between `sts.amazonaws.com` and `sts.amazonaws.com.cn`: the one the
/// cluster's OIDC provider lists, when it lists only that one, is taken as configured.
fn default_audience(subject: &Subject<'_>, role_arn: &str) -> String {
    const CHINA_AUDIENCE: &str = "sts.amazonaws.com.cn";
    let listed = match (arn::partition_of(role_arn).as_str(), subject.facts.issuer()) {
        ("aws-cn", Fact::Known(issuer)) => {
            match subject.facts.oidc_provider(&provider_arn(issuer, role_arn)) {
                Fact::Known(Some(audiences)) => audiences.clone(),
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let china_only =
        listed.iter().any(|a| a == CHINA_AUDIENCE) && !listed.iter().any(|a| a == DEFAULT_AUDIENCE);
    match china_only {
        true => CHINA_AUDIENCE.to_string(),
        false => DEFAULT_AUDIENCE.to_string(),
    }
}

/// The provider ARN for the cluster's issuer in the role's account.
pub fn provider_arn(issuer: &str, role_arn: &str) -> String {
    arn::iam(
        &arn::partition_of(role_arn),
        &arn::account_of(role_arn).unwrap_or_default(),
        &format!("oidc-provider/{}", issuer.trim_start_matches("https://")),
    )
}

fn assumer(subject: &Subject<'_>, identity: &AppIdentity) -> Result<Assumer, String> {
    match identity {
        AppIdentity::Irsa { role_arn, audience } => {
            let issuer = match subject.facts.issuer() {
                Fact::Known(i) => i.to_string(),
                Fact::Absent => return Err("the cluster has no OIDC issuer".to_string()),
                Fact::Unknown(why) => return Err(why),
            };
            Ok(Assumer::Irsa {
                provider_arn: provider_arn(&issuer, role_arn),
                issuer_key: issuer.trim_start_matches("https://").to_string(),
                subject: format!(
                    "system:serviceaccount:{}:{}",
                    subject.namespace, subject.service_account_name
                ),
                audience: audience.clone(),
            })
        }
        AppIdentity::PodIdentity { .. } => Ok(Assumer::PodIdentity {
            cluster_name: subject.facts.cluster_name(),
            namespace: subject.namespace.clone(),
            service_account: subject.service_account_name.clone(),
        }),
        _ => Err("no AWS identity".to_string()),
    }
}

fn trust_policy(role: &Fact<&Role>, assumer: Result<&Assumer, &String>) -> Outcome {
    let role = match role {
        Fact::Known(r) => r,
        Fact::Absent => return Outcome::new(Status::Skipped, "the role does not exist"),
        Fact::Unknown(_) => return Outcome::new(Status::Unknown, "the role was not read"),
    };
    let doc = match &role.trust {
        Ok(doc) => doc,
        Err(e) => {
            return Outcome::new(
                Status::Unknown,
                format!("the trust policy of {} is unreadable: {e}", role.name),
            );
        }
    };
    match assumer {
        Ok(a) => trust::analyse(doc, a),
        Err(why) => Outcome::new(
            Status::Unknown,
            format!("cannot check the trust policy: {why}"),
        ),
    }
}

fn oidc_provider(subject: &Subject<'_>, identity: &AppIdentity, role_arn: &str) -> Outcome {
    let AppIdentity::Irsa { audience, .. } = identity else {
        return Outcome::new(
            Status::Skipped,
            "EKS Pod Identity needs no IAM OIDC provider",
        );
    };
    let issuer = match subject.facts.issuer() {
        Fact::Known(i) => i,
        Fact::Absent => return Outcome::new(Status::Unknown, "the cluster reports no OIDC issuer"),
        Fact::Unknown(why) => return Outcome::new(Status::Unknown, why),
    };
    let provider = provider_arn(issuer, role_arn);
    let account = arn::account_of(role_arn).unwrap_or_default();
    match subject.facts.oidc_provider(&provider) {
        Fact::Known(Some(audiences)) if audiences.iter().any(|a| a == audience) => Outcome::new(
            Status::Ok,
            format!("{provider} exists and lists the audience {audience}"),
        ),
        Fact::Known(Some(audiences)) => Outcome::broken(
            Cause::OidcProviderAudienceMissing,
            format!(
                "the OIDC provider for this cluster lists the audiences [{}], not {audience}: STS rejects the token (Incorrect token audience)",
                audiences.join(", ")
            ),
        ),
        Fact::Known(None) => Outcome::new(
            Status::Unknown,
            format!(
                "{} exists; its audiences were not read: aws iam get-open-id-connect-provider --open-id-connect-provider-arn {}",
                provider,
                crate::text::shell_arg(&provider)
            ),
        ),
        Fact::Absent => Outcome::broken(
            Cause::OidcProviderMissing,
            format!(
                "account {account} has no IAM OIDC provider for {issuer}: STS rejects the token (No OpenIDConnect provider found)"
            ),
        ),
        Fact::Unknown(why) => Outcome::new(Status::Unknown, why),
    }
}

/// The `ecr-role-arn` role's ECR permissions: `broken` only where the node is shown to pull with
/// it and the image was not pulled — the annotation is tenant-writable, and a pulled image proves
/// the pull worked.
fn annotated_role_permissions(
    subject: &Subject<'_>,
    role: &Role,
    annotated: &AnnotatedPullRole,
    access: Outcome,
) -> Outcome {
    if access.status != Status::Broken {
        return access;
    }
    let lacks = format!("role {} cannot pull: {}", role.name, access.summary);
    let mut outcome = match (&annotated.mode, subject.pulled) {
        (TokenPull::InUse(_), false) => Outcome::broken(
            Cause::RoleMissingEcrPull,
            format!(
                "role {} is the pull identity ({ECR_ROLE_ANNOTATION}) and cannot pull: {}",
                role.name, access.summary
            ),
        ),
        (TokenPull::NotInUse(why), _) => Outcome::new(
            Status::Skipped,
            format!(
                "{ECR_ROLE_ANNOTATION} names role {}, but this node does not pull with it ({why}); {lacks}",
                role.name
            ),
        ),
        (_, true) => Outcome::new(
            Status::Unknown,
            format!(
                "the container pulled its image, so the node did not pull with role {} or the facts are newer than the pull; {lacks}",
                role.name
            ),
        ),
        (TokenPull::Unknown(why), false) => Outcome::new(
            Status::Unknown,
            format!(
                "{ECR_ROLE_ANNOTATION} names role {}; if the node's credential provider reads it, {lacks}; not known: {why}",
                role.name
            ),
        ),
    };
    if let TokenPull::InUse(why) | TokenPull::Unknown(why) = &annotated.mode {
        outcome.evidence.push(why.clone());
    }
    outcome
}

/// The app role's ECR permissions matter only where it is the pull identity.
fn role_permissions(subject: &Subject<'_>, role: &Fact<&Role>, pull: &PullLane) -> Outcome {
    let Fact::Known(role) = role else {
        return Outcome::new(Status::Skipped, "the role was not found or not read");
    };
    let annotated = subject.annotated_pull_role.as_ref().filter(|a| {
        arn::role_name_of(&a.arn) == role.name
            && arn::account_of(&a.arn) == arn::account_of(&role.arn)
    });
    let Some(ecr) = &pull.ecr else {
        return Outcome::new(Status::Skipped, "the image is not on private ECR");
    };
    let access = access::pull_access(subject.facts, role, ecr, pull.cache);
    if let Some(annotated) = annotated {
        return annotated_role_permissions(subject, role, annotated, access.identity);
    }
    let pull_roles = subject.pull_identity.roles().join(", ");
    let mut outcome = Outcome::new(
        Status::Skipped,
        format!(
            "role {} is the application's identity; on this node the kubelet pulls images as {}, so this role's ECR permissions do not matter for the pull",
            role.name,
            if pull_roles.is_empty() {
                "the node role".to_string()
            } else {
                pull_roles
            }
        ),
    );
    if access.identity.status == Status::Ok
        && pull.status(LinkId::PullPermissions) == Some(Status::Broken)
    {
        let note = format!(
            "role {} may pull from {}, but that does not help: IRSA and Pod Identity credentials are for the application, not for the kubelet",
            role.name, ecr.repository
        );
        outcome.evidence.push(note.clone());
        outcome.misconception = Some(note);
    }
    outcome
}
