//! The setup wizard for a new app: from a few answers and the cluster's facts, the
//! ServiceAccount, the role and its trust policy, the app's policy, and the changes the image
//! pull needs — checked first, then exported or applied.

pub mod export;

use crate::chain::trust::Assumer;
use crate::ecr::reference::{self, ImageRef};
use crate::facts::{Fact, Facts, RepoKey};
use crate::fix::apply::{Plan, Write};
use crate::fix::documents;
use crate::iam::arn;
use crate::iam::policy::{Effect, PolicyDocument};
use crate::report::{Apply, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Irsa,
    PodIdentity,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Irsa => "irsa",
            Mode::PodIdentity => "pod-identity",
        }
    }
}

/// What the engineer answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    pub namespace: String,
    pub service_account: String,
    /// Repository names in the cluster's registry, or full image references / repository URIs
    /// for other accounts and regions.
    pub repositories: Vec<String>,
    /// `None`: Pod Identity where its agent runs, else IRSA.
    pub mode: Option<Mode>,
    pub role_name: Option<String>,
    pub permissions_boundary: Option<String>,
    /// The permissions the app itself needs.
    pub app_policy: Option<PolicyDocument>,
}

/// One check the wizard made, shown before the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub status: Status,
    pub text: String,
}

/// Everything the wizard would create or change.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub answers: Answers,
    pub mode: Mode,
    pub mode_reason: String,
    pub cluster: String,
    pub account: String,
    pub region: String,
    pub role_name: String,
    pub role_arn: String,
    pub trust: PolicyDocument,
    /// The role's current trust policy, when the role exists.
    pub current_trust: Option<PolicyDocument>,
    pub checks: Vec<Check>,
    /// The calls that make it so, in order.
    pub plan: Plan,
    pub repositories: Vec<RepoKey>,
    pub issuer: Option<String>,
    pub pull_roles: Vec<String>,
}

const NAME_RULE: &str =
    "lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit";

use crate::facts::kube::dns_label;

const ROLE_NAME_RULE: &str = "up to 64 of letters, digits and +=,.@_-";

/// IAM's rule for role names.
fn role_name_ok(role: &str) -> bool {
    !role.is_empty()
        && role.len() <= 64
        && role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// The `cause` of a setup's plan: it fixes nothing; the wizard's own guard rails shaped it.
pub const SETUP_CAUSE: &str = "setup";

/// Each answer checked on its own, as the TUI checks a step before the next.
pub fn validate(answers: &Answers) -> Vec<String> {
    let mut errors = Vec::new();
    if !dns_label(&answers.namespace) {
        errors.push(format!("namespace \"{}\": {NAME_RULE}", answers.namespace));
    }
    if !dns_label(&answers.service_account) {
        errors.push(format!(
            "ServiceAccount \"{}\": {NAME_RULE}",
            answers.service_account
        ));
    }
    if answers.repositories.is_empty() {
        errors.push("name at least one ECR repository the app's images come from".into());
    }
    if answers.repositories.iter().any(|r| r.trim().is_empty()) {
        errors.push("a repository name is empty".into());
    }
    if let Some(role) = &answers.role_name
        && !role_name_ok(role)
    {
        errors.push(format!("role name \"{role}\": {ROLE_NAME_RULE}"));
    }
    if let Some(b) = &answers.permissions_boundary
        && !b.contains(":policy/")
    {
        errors.push(format!("permissions boundary \"{b}\" is not a policy ARN"));
    }
    if let Some(policy) = &answers.app_policy {
        errors.extend(guard_rails(policy));
    }
    errors
}

/// No `*` in actions or resources, except the resource of `ecr:GetAuthorizationToken`.
pub fn guard_rails(policy: &PolicyDocument) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, s) in policy.statements.iter().enumerate() {
        if s.effect != Effect::Allow {
            continue;
        }
        let actions: Vec<&str> = s.action.iter().flat_map(|a| a.iter()).collect();
        if s.not_action.is_some() || actions.iter().any(|a| a.contains('*')) {
            errors.push(format!(
                "statement {}: name the actions; no * and no NotAction",
                i + 1
            ));
        }
        let only_token =
            !actions.is_empty() && actions.iter().all(|a| *a == "ecr:GetAuthorizationToken");
        let wild = s.not_resource.is_some()
            || s.resource
                .iter()
                .flat_map(|r| r.iter())
                .any(|r| r == "*" || r.ends_with(":*"));
        if wild && !only_token {
            errors.push(format!(
                "statement {}: name the resources; * is only for ecr:GetAuthorizationToken",
                i + 1
            ));
        }
    }
    errors
}

/// The repositories of the answers, in the cluster's account and region unless they say otherwise.
pub fn repository_keys(
    answers: &Answers,
    account: &str,
    region: &str,
) -> Result<Vec<RepoKey>, String> {
    answers
        .repositories
        .iter()
        .map(|r| repository_key(r, account, region))
        .collect()
}

/// A pod of the new ServiceAccount as the cluster would run it, to diagnose the whole chain
/// before any app is deployed.
pub fn verification_pod(setup: &Setup, facts: &Facts) -> Option<serde_json::Value> {
    let key = setup.repositories.first()?;
    let tag = facts
        .images
        .get(key)
        .and_then(|images| {
            images
                .iter()
                .flat_map(|i| i.image_tags.iter())
                .next()
                .cloned()
        })
        .unwrap_or_else(|| "latest".into());
    let host = format!("{}.dkr.ecr.{}.amazonaws.com", key.registry, key.region);
    let node = facts
        .nodes
        .iter()
        .find(|(_, n)| {
            n.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key("eks.amazonaws.com/nodegroup"))
        })
        .map(|(name, _)| name.clone());
    let env = match setup.mode {
        Mode::Irsa => serde_json::json!([{"name": "AWS_ROLE_ARN", "value": setup.role_arn},
            {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}]),
        Mode::PodIdentity => {
            serde_json::json!([{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"}])
        }
    };
    Some(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pulldoctor-setup-check", "namespace": setup.answers.namespace},
        "spec": {"serviceAccountName": setup.answers.service_account, "nodeName": node,
                 "containers": [{"name": "app", "image": format!("{host}/{}:{tag}", key.name), "env": env}]},
        "status": {"containerStatuses": [{"name": "app", "image": format!("{host}/{}:{tag}", key.name), "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}}))
}

/// A repository answer as a repository of a registry: a bare name is in the cluster's own.
fn repository_key(answer: &str, account: &str, region: &str) -> Result<RepoKey, String> {
    if !answer.contains('.') {
        return Ok(RepoKey {
            registry: account.into(),
            region: region.into(),
            name: answer.into(),
        });
    }
    let image = if answer.contains(':') || answer.contains('@') {
        answer.to_string()
    } else {
        format!("{answer}:latest")
    };
    match reference::parse(&image) {
        Ok(ImageRef::Ecr(e)) => Ok(RepoKey {
            registry: e.account,
            region: e.region,
            name: e.repository,
        }),
        _ => Err(format!("\"{answer}\" is not a private ECR repository")),
    }
}

/// Plans the setup from the facts: the checks first, then every change in order.
pub fn plan(facts: &Facts, answers: &Answers) -> Result<Setup, Vec<String>> {
    let errors = validate(answers);
    if !errors.is_empty() {
        return Err(errors);
    }
    let account = facts
        .account()
        .ok_or_else(|| vec!["the account is unknown: read the cluster first".to_string()])?;
    let region = facts.region().unwrap_or_else(|| "us-east-1".into());
    let partition = arn::partition_for_region(&region);
    let cluster = facts.cluster_name();
    let (ns, sa) = (&answers.namespace, &answers.service_account);
    let mut checks = Vec::new();
    let mut check = |status: Status, text: String| checks.push(Check { status, text });

    // The mode: Pod Identity where its agent runs, else IRSA — and say why.
    let agent = facts.workloads.iter().any(|w| {
        w.kind == "DaemonSet" && w.namespace == "kube-system" && w.name == "eks-pod-identity-agent"
    });
    let (mode, mode_reason) = match answers.mode {
        Some(m) => (m, "chosen with --mode".to_string()),
        None if agent => (
            Mode::PodIdentity,
            "the eks-pod-identity-agent DaemonSet runs in kube-system".to_string(),
        ),
        None => (
            Mode::Irsa,
            "no eks-pod-identity-agent DaemonSet in kube-system, so IRSA".to_string(),
        ),
    };
    if mode == Mode::PodIdentity && !agent {
        check(Status::Warning, "Pod Identity chosen, but the eks-pod-identity-agent DaemonSet was not seen: install the add-on".into());
    }
    // The namespace.
    if facts.service_account_namespaces.contains(ns) {
        check(Status::Ok, format!("namespace {ns} exists"));
    } else {
        check(
            Status::Warning,
            format!("namespace {ns} was not seen: create it first (kubectl create namespace {ns})"),
        );
    }
    let mut writes: Vec<Write> = Vec::new();
    // The OIDC provider (IRSA).
    let issuer = match facts.issuer() {
        Fact::Known(i) => Some(i.to_string()),
        _ => None,
    };
    if mode == Mode::Irsa {
        let Some(issuer) = &issuer else {
            return Err(vec![
                "the cluster's OIDC issuer is unknown: read the cluster (aws eks describe-cluster)"
                    .into(),
            ]);
        };
        let provider = format!(
            "arn:{partition}:iam::{account}:oidc-provider/{}",
            issuer.trim_start_matches("https://")
        );
        match facts.oidc_provider(&provider) {
            Fact::Known(_) => check(Status::Ok, format!("IAM OIDC provider {provider} exists")),
            Fact::Absent => {
                check(
                    Status::Warning,
                    format!("no IAM OIDC provider for {issuer}: the plan creates it"),
                );
                writes.push(Write {
                    apply: Apply::CreateOpenIdConnectProvider {
                        account: account.clone(),
                        url: issuer.clone(),
                        client_id: "sts.amazonaws.com".into(),
                    },
                    before: None,
                    after: None,
                    diff: None,
                });
            }
            Fact::Unknown(why) => check(Status::Unknown, why),
        }
    }
    // The role and its trust policy.
    let role_name = answers
        .role_name
        .clone()
        .unwrap_or_else(|| format!("{cluster}-{ns}-{sa}"));
    if !role_name_ok(&role_name) {
        return Err(vec![format!(
            "the role name {role_name} made from the cluster, namespace and ServiceAccount is not a valid IAM role name ({ROLE_NAME_RULE}, this one has {}): give one with --role-name",
            role_name.len()
        )]);
    }
    let role_arn = format!("arn:{partition}:iam::{account}:role/{role_name}");
    let assumer = match mode {
        Mode::Irsa => {
            let issuer = issuer.clone().unwrap_or_default();
            Assumer::Irsa {
                provider_arn: format!(
                    "arn:{partition}:iam::{account}:oidc-provider/{}",
                    issuer.trim_start_matches("https://")
                ),
                issuer_key: issuer.trim_start_matches("https://").to_string(),
                subject: format!("system:serviceaccount:{ns}:{sa}"),
                audience: "sts.amazonaws.com".into(),
            }
        }
        Mode::PodIdentity => Assumer::PodIdentity {
            cluster_name: cluster.clone(),
            namespace: ns.clone(),
            service_account: sa.clone(),
        },
    };
    let trust = documents::new_trust_policy(&assumer);
    let current_trust = match facts.role(&role_arn) {
        Fact::Known(role) => {
            let current = role.trust.clone().ok();
            let proposed = current
                .as_ref()
                .map(|c| documents::corrected_trust_policy(c, &assumer));
            let unchanged = proposed.is_some() && proposed == current;
            check(
                if unchanged {
                    Status::Ok
                } else {
                    Status::Warning
                },
                if unchanged {
                    format!("role {role_name} exists and already trusts this ServiceAccount")
                } else {
                    format!(
                        "role {role_name} exists: the plan edits its trust policy (see the diff), it does not replace it"
                    )
                },
            );
            if !unchanged {
                let after = proposed.unwrap_or_else(|| trust.clone());
                writes.push(document_write(
                    Apply::UpdateAssumeRolePolicy {
                        account: account.clone(),
                        role: role_name.clone(),
                    },
                    current.as_ref(),
                    &after,
                ));
            }
            current
        }
        absent_or_unknown => {
            match absent_or_unknown {
                Fact::Unknown(why) => check(
                    Status::Unknown,
                    format!("whether role {role_name} exists is unknown: {why}"),
                ),
                _ => check(Status::Ok, format!("role name {role_name} is free")),
            }
            writes.push(document_write(
                Apply::CreateRole {
                    account: account.clone(),
                    role: role_name.clone(),
                    permissions_boundary: answers.permissions_boundary.clone(),
                },
                None,
                &trust,
            ));
            None
        }
    };
    if let Some(policy) = &answers.app_policy {
        writes.push(document_write(
            Apply::PutRolePolicy {
                account: account.clone(),
                role: role_name.clone(),
                policy_name: "app".into(),
            },
            None,
            policy,
        ));
    }
    // The pull: every identity that may pull this app's images, for every repository.
    let repositories: Vec<RepoKey> = answers
        .repositories
        .iter()
        .map(|r| repository_key(r, &account, &region))
        .collect::<Result<_, _>>()
        .map_err(|e| vec![e])?;
    let pull_roles = pull_identities(facts, ns);
    if pull_roles.is_empty() {
        check(
            Status::Unknown,
            "no node group or Fargate profile was read: the pull identity is unknown".into(),
        );
    }
    for key in &repositories {
        match facts.repository(key) {
            Fact::Known(()) => check(
                Status::Ok,
                format!(
                    "repository {} exists in {} {}",
                    key.name, key.registry, key.region
                ),
            ),
            Fact::Absent => check(
                Status::Warning,
                format!(
                    "repository {} does not exist in {} {}: create it (aws ecr create-repository --repository-name {})",
                    key.name, key.registry, key.region, key.name
                ),
            ),
            Fact::Unknown(why) => check(Status::Unknown, why),
        }
    }
    let mut cross_account: std::collections::BTreeMap<RepoKey, Vec<(String, String)>> =
        Default::default();
    for role in &pull_roles {
        let Fact::Known(r) = facts.role(role) else {
            check(
                Status::Unknown,
                format!("the policies of pull identity {role} were not read"),
            );
            continue;
        };
        let mut missing = Vec::new();
        for key in &repositories {
            let image = crate::ecr::reference::EcrImage {
                host: String::new(),
                account: key.registry.clone(),
                region: key.region.clone(),
                partition: partition.to_string(),
                repository: key.name.clone(),
                tag: Some("latest".into()),
                digest: None,
            };
            let access = crate::chain::access::pull_access(facts, r, &image, false);
            match (access.identity.status, access.repository.cause) {
                (Status::Ok, None) => {
                    check(Status::Ok, format!("{} may pull from {}", r.name, key.name))
                }
                (_, Some(crate::report::Cause::CrossAccountNotAllowed)) => {
                    check(
                        Status::Warning,
                        format!(
                            "repository {} (account {}) does not allow {}: the plan adds a statement for its owner",
                            key.name, key.registry, r.name
                        ),
                    );
                    // One repository policy write per repository, with a statement per role.
                    cross_account
                        .entry(key.clone())
                        .or_default()
                        .push((r.arn.clone(), r.name.clone()));
                }
                (Status::Broken, _) => missing.push(image.repository_arn()),
                (_, _) => check(
                    Status::Unknown,
                    format!(
                        "whether {} may pull from {} is unknown: {}",
                        r.name, key.name, access.identity.summary
                    ),
                ),
            }
        }
        if !missing.is_empty() {
            check(
                Status::Warning,
                format!(
                    "pull identity {} cannot pull from {}: the plan adds them to its {} policy (that is what makes the image pull work)",
                    r.name,
                    missing.join(", "),
                    documents::SCOPED_POLICY_NAME
                ),
            );
            let current = r
                .permissions
                .as_ref()
                .and_then(|p| {
                    p.inline
                        .iter()
                        .find(|(n, _)| n == documents::SCOPED_POLICY_NAME)
                })
                .and_then(|(_, d)| d.clone().ok());
            let mut proposed = current.clone();
            for repo in &missing {
                proposed = Some(documents::scoped_pull_policy(
                    proposed.as_ref(),
                    repo,
                    false,
                ));
            }
            writes.push(document_write(
                Apply::PutRolePolicy {
                    account: arn::account_of(&r.arn).unwrap_or_default(),
                    role: r.name.clone(),
                    policy_name: documents::SCOPED_POLICY_NAME.into(),
                },
                current.as_ref(),
                &proposed.expect("at least one repository"),
            ));
        }
    }
    for (key, roles) in &cross_account {
        let current = match facts.repository_policy(key) {
            Fact::Known(Ok(doc)) => Some(doc.clone()),
            _ => None,
        };
        let mut proposed = current.clone();
        for (role_arn, role_name) in roles {
            proposed = Some(documents::repository_policy_allowing(
                proposed.as_ref(),
                role_arn,
                role_name,
            ));
        }
        writes.push(document_write(
            Apply::SetRepositoryPolicy {
                registry: key.registry.clone(),
                region: key.region.clone(),
                repository: key.name.clone(),
            },
            current.as_ref(),
            &proposed.expect("at least one role"),
        ));
    }
    // The ServiceAccount last: its annotation names a role that now exists.
    writes.push(Write {
        apply: match mode {
            Mode::Irsa => Apply::ApplyServiceAccount {
                namespace: ns.clone(),
                name: sa.clone(),
                role_arn: Some(role_arn.clone()),
            },
            Mode::PodIdentity => Apply::ApplyServiceAccount {
                namespace: ns.clone(),
                name: sa.clone(),
                role_arn: None,
            },
        },
        before: None,
        after: None,
        diff: None,
    });
    if mode == Mode::PodIdentity {
        writes.push(Write {
            apply: Apply::CreatePodIdentityAssociation {
                cluster: cluster.clone(),
                namespace: ns.clone(),
                service_account: sa.clone(),
                role_arn: role_arn.clone(),
            },
            before: None,
            after: None,
            diff: None,
        });
    }
    let plan = Plan {
        schema: crate::fix::apply::PLAN_SCHEMA.into(),
        subject: format!("{ns}/ServiceAccount/{sa}"),
        container: String::new(),
        cause: SETUP_CAUSE.into(),
        title: format!(
            "set up ServiceAccount {ns}/{sa} with role {role_name} ({})",
            mode.as_str()
        ),
        writes,
        by_hand: Vec::new(),
    };
    Ok(Setup {
        answers: answers.clone(),
        mode,
        mode_reason,
        cluster,
        account,
        region,
        role_name,
        role_arn,
        trust,
        current_trust,
        checks,
        plan,
        repositories,
        issuer,
        pull_roles,
    })
}

fn document_write(apply: Apply, current: Option<&PolicyDocument>, after: &PolicyDocument) -> Write {
    let before = current.map(|c| c.to_pretty_json());
    let after_text = after.to_pretty_json();
    Write {
        diff: Some(documents::diff(
            before.as_deref().unwrap_or(""),
            &after_text,
        )),
        apply,
        before,
        after: Some(after_text),
    }
}

/// The roles that may pull a pod of this namespace: a Fargate profile that selects the
/// namespace, else every node role the input names.
fn pull_identities(facts: &Facts, namespace: &str) -> Vec<String> {
    let fargate: Vec<String> = facts
        .fargate_profiles
        .values()
        .filter(|p| {
            p.selectors
                .iter()
                .any(|s| s.namespace.as_deref() == Some(namespace))
        })
        .map(|p| p.pod_execution_role_arn.clone())
        .collect();
    if !fargate.is_empty() {
        return fargate;
    }
    let mut roles: Vec<String> = facts
        .nodegroups
        .values()
        .map(|g| g.node_role.clone())
        .collect();
    roles.sort();
    roles.dedup();
    roles
}
