//! The setup wizard for a new app: from a few answers and the cluster's facts, the
//! ServiceAccount, the role and its trust policy, the app's policy, and the changes the image
//! pull needs — checked first, then exported or applied.

pub mod existing;
pub mod export;

use crate::chain::trust::Assumer;
use crate::ecr::reference::{self, ImageRef};
use crate::facts::{Fact, Facts, RepoKey};
use crate::fix::documents;
use crate::fix::guard::{self, APP_POLICY_NAME, Checked};
use crate::fix::write_plan::{Plan, Purpose, SetupScope, Write};
use crate::iam::arn;
use crate::iam::policy::PolicyDocument;
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
    /// The writes, passed by the guard (a setup wider than its purpose is no setup).
    pub plan: Checked,
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
        errors.extend(guard::app_policy_rails(policy));
    }
    errors
}

/// `ACTION=RESOURCE` permissions (`--allow`, the TUI's last question) as a policy: one statement
/// each.
pub fn allow_list(allow: &[String]) -> Result<PolicyDocument, String> {
    let statements: Vec<serde_json::Value> = allow
        .iter()
        .map(|a| match a.split_once('=') {
            Some((action, resource)) if !action.is_empty() && !resource.is_empty() => {
                Ok(serde_json::json!({"Effect": "Allow", "Action": action, "Resource": resource}))
            }
            _ => Err(format!("{a}: write ACTION=RESOURCE")),
        })
        .collect::<Result<_, _>>()?;
    PolicyDocument::from_value(
        &serde_json::json!({"Version": "2012-10-17", "Statement": statements}),
    )
    .map_err(|e| e.0)
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
    let host = crate::ecr::reference::registry_host(&key.registry, &key.region);
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
    let mut draft = Draft {
        facts,
        answers,
        partition: arn::partition_for_region(&region),
        cluster: facts.cluster_name(),
        account,
        region,
        checks: Vec::new(),
        writes: Vec::new(),
        takes_over: Vec::new(),
    };
    let (mode, mode_reason) = draft.mode();
    draft.namespace();
    let issuer = match facts.issuer() {
        Fact::Known(i) => Some(i.to_string()),
        _ => None,
    };
    if mode == Mode::Irsa {
        draft.oidc_provider(issuer.as_deref())?;
    }
    let role = draft.role(mode, issuer.as_deref())?;
    let repositories: Vec<RepoKey> = answers
        .repositories
        .iter()
        .map(|r| repository_key(r, &draft.account, &draft.region))
        .collect::<Result<_, _>>()
        .map_err(|e| vec![e])?;
    let pull_roles = pull_identities(facts, &answers.namespace);
    draft.repositories(&repositories, &pull_roles);
    draft.pull(&repositories, &pull_roles);
    draft.app_permissions();
    draft.service_account(mode, &role.arn)?;
    let (ns, sa) = (&answers.namespace, &answers.service_account);
    let plan = Plan {
        schema: crate::fix::write_plan::PLAN_SCHEMA.into(),
        subject: format!("{ns}/ServiceAccount/{sa}"),
        container: String::new(),
        purpose: Purpose::Setup(SetupScope {
            namespace: ns.clone(),
            service_account: sa.clone(),
            role_arn: role.arn.clone(),
        }),
        title: format!(
            "set up ServiceAccount {ns}/{sa} with role {} ({})",
            role.name,
            mode.as_str()
        ),
        writes: draft.writes,
        by_hand: Vec::new(),
        target_chosen_by: None,
        takes_over: draft.takes_over,
    };
    Ok(Setup {
        answers: answers.clone(),
        mode,
        mode_reason,
        cluster: draft.cluster,
        account: draft.account,
        region: draft.region,
        role_name: role.name,
        role_arn: role.arn,
        trust: role.trust,
        current_trust: role.current_trust,
        checks: draft.checks,
        plan: guard::check(plan).map_err(|why| vec![why])?,
        repositories,
        issuer,
        pull_roles,
    })
}

/// A setup as it is planned: the checks shown and the writes made, in order.
struct Draft<'a> {
    facts: &'a Facts,
    answers: &'a Answers,
    account: String,
    region: String,
    partition: &'static str,
    cluster: String,
    checks: Vec<Check>,
    writes: Vec<Write>,
    /// What exists that the plan changes, and who relies on it.
    takes_over: Vec<String>,
}

/// The app's role as planned.
struct PlannedRole {
    name: String,
    arn: String,
    trust: PolicyDocument,
    current_trust: Option<PolicyDocument>,
}

impl Draft<'_> {
    fn check(&mut self, status: Status, text: String) {
        self.checks.push(Check { status, text });
    }

    fn write(&mut self, apply: Apply) {
        self.writes.push(Write {
            apply,
            before: None,
            after: None,
            diff: None,
        });
    }

    /// Pod Identity where its agent runs, else IRSA — and why.
    fn mode(&mut self) -> (Mode, String) {
        let found = self.facts.pod_identity_agent();
        let agent = matches!(found, crate::facts::Fact::Known(_));
        let (mode, reason) = match (self.answers.mode, found) {
            (Some(m), _) => (m, "chosen with --mode".to_string()),
            (None, crate::facts::Fact::Known(_)) => (
                Mode::PodIdentity,
                "the eks-pod-identity-agent DaemonSet runs in kube-system".to_string(),
            ),
            (None, crate::facts::Fact::Absent) => (
                Mode::Irsa,
                "no eks-pod-identity-agent DaemonSet in kube-system, so IRSA".to_string(),
            ),
            (None, crate::facts::Fact::Unknown(why)) => (
                Mode::Irsa,
                format!("IRSA, since the agent is not known: {why}"),
            ),
        };
        if mode == Mode::PodIdentity && !agent {
            self.check(Status::Warning, "Pod Identity chosen, but the eks-pod-identity-agent DaemonSet was not seen: install the add-on".into());
        }
        (mode, reason)
    }

    fn namespace(&mut self) {
        let ns = &self.answers.namespace;
        let known = &self.facts.service_account_namespaces;
        let (status, text) = if known.contains(ns) {
            (Status::Ok, format!("namespace {ns} exists"))
        } else {
            let near = crate::text::nearest(ns, known.iter().map(String::as_str))
                .map(|n| format!(" (did you mean {n}?)"))
                .unwrap_or_default();
            (
                Status::Warning,
                format!(
                    "namespace {ns} does not exist in what was read{near}: create it first (kubectl create namespace {})",
                    crate::text::shell_arg(&ns)
                ),
            )
        };
        self.check(status, text);
    }

    /// What the app itself may do in AWS: said plainly when nothing.
    fn app_permissions(&mut self) {
        if self.answers.app_policy.is_none() {
            self.check(
                Status::Warning,
                "the app's role gets no AWS permissions of its own: this setup grants the image pull only (to the nodes' roles, which pull); name what the app needs with --allow ACTION=RESOURCE or --app-policy FILE".into(),
            );
        }
    }

    fn provider_arn(&self, issuer: &str) -> String {
        crate::iam::arn::iam(
            self.partition,
            &self.account,
            &format!("oidc-provider/{}", issuer.trim_start_matches("https://")),
        )
    }

    /// IRSA: the account's IAM OIDC provider for the cluster's issuer, created when absent.
    fn oidc_provider(&mut self, issuer: Option<&str>) -> Result<(), Vec<String>> {
        let Some(issuer) = issuer else {
            return Err(vec![
                "the cluster's OIDC issuer is unknown: read the cluster (aws eks describe-cluster)"
                    .into(),
            ]);
        };
        let provider = self.provider_arn(issuer);
        match self.facts.oidc_provider(&provider) {
            Fact::Known(_) => {
                self.check(Status::Ok, format!("IAM OIDC provider {provider} exists"))
            }
            Fact::Absent => {
                self.check(
                    Status::Warning,
                    format!("no IAM OIDC provider for {issuer}: the plan creates it"),
                );
                self.write(Apply::CreateOpenIdConnectProvider {
                    account: self.account.clone(),
                    url: issuer.to_string(),
                    client_id: "sts.amazonaws.com".into(),
                });
            }
            Fact::Unknown(why) => self.check(Status::Unknown, why),
        }
        Ok(())
    }

    /// The app's role: created with its trust policy, or its trust policy edited (never
    /// replaced); and the app's own permissions.
    fn role(&mut self, mode: Mode, issuer: Option<&str>) -> Result<PlannedRole, Vec<String>> {
        let (ns, sa) = (&self.answers.namespace, &self.answers.service_account);
        let name = self
            .answers
            .role_name
            .clone()
            .unwrap_or_else(|| format!("{}-{ns}-{sa}", self.cluster));
        if !role_name_ok(&name) {
            return Err(vec![format!(
                "the role name {name} made from the cluster, namespace and ServiceAccount is not a valid IAM role name ({ROLE_NAME_RULE}, this one has {}): give one with --role-name",
                name.len()
            )]);
        }
        let arn = crate::iam::arn::iam(self.partition, &self.account, &format!("role/{name}"));
        let assumer = match mode {
            Mode::Irsa => {
                let issuer = issuer.unwrap_or_default();
                Assumer::Irsa {
                    provider_arn: self.provider_arn(issuer),
                    issuer_key: issuer.trim_start_matches("https://").to_string(),
                    subject: format!("system:serviceaccount:{ns}:{sa}"),
                    audience: "sts.amazonaws.com".into(),
                }
            }
            Mode::PodIdentity => Assumer::PodIdentity {
                cluster_name: self.cluster.clone(),
                namespace: ns.clone(),
                service_account: sa.clone(),
            },
        };
        let trust = documents::new_trust_policy(&assumer);
        let current_trust = match self.facts.role(&arn) {
            Fact::Known(role) => self.edit_trust(&name, role, &assumer, &trust),
            absent_or_unknown => {
                match absent_or_unknown {
                    Fact::Unknown(why) => self.check(
                        Status::Unknown,
                        format!("whether role {name} exists is unknown: {why}"),
                    ),
                    _ => self.check(Status::Ok, format!("role name {name} is free")),
                }
                self.writes.push(document_write(
                    Apply::CreateRole {
                        account: self.account.clone(),
                        role: name.clone(),
                        permissions_boundary: self.answers.permissions_boundary.clone(),
                    },
                    None,
                    &trust,
                ));
                None
            }
        };
        if let Some(policy) = &self.answers.app_policy {
            self.writes.push(document_write(
                Apply::PutRolePolicy {
                    account: self.account.clone(),
                    role: name.clone(),
                    policy_name: APP_POLICY_NAME.into(),
                },
                None,
                policy,
            ));
        }
        Ok(PlannedRole {
            name,
            arn,
            trust,
            current_trust,
        })
    }

    /// An existing role's trust policy, with this ServiceAccount added where it is missing.
    fn edit_trust(
        &mut self,
        name: &str,
        role: &crate::facts::Role,
        assumer: &Assumer,
        trust: &PolicyDocument,
    ) -> Option<PolicyDocument> {
        let current = role.trust.clone().ok();
        let proposed = current
            .as_ref()
            .map(|c| documents::corrected_trust_policy(c, assumer));
        let unchanged = proposed.is_some() && proposed == current;
        if unchanged {
            self.check(
                Status::Ok,
                format!("role {name} exists and already trusts this ServiceAccount"),
            );
            return current;
        }
        self.check(
            Status::Warning,
            format!(
                "role {name} exists: the plan edits its trust policy (see the diff), it does not replace it"
            ),
        );
        let (accounts, pods) = existing::users_of_role(self.facts, &role.arn);
        let named_by = match accounts.len() {
            0 => "no ServiceAccount in the input names it".to_string(),
            _ => format!("named by ServiceAccount {}", accounts.join(", ")),
        };
        self.takes_over.push(format!(
            "role {name} exists ({named_by}, {}): the plan adds {}/{} to its trust policy",
            existing::used_by(&pods),
            self.answers.namespace,
            self.answers.service_account
        ));
        let after = proposed.unwrap_or_else(|| trust.clone());
        self.writes.push(document_write(
            Apply::UpdateAssumeRolePolicy {
                account: self.account.clone(),
                role: name.to_string(),
            },
            current.as_ref(),
            &after,
        ));
        current
    }

    /// Whether each repository exists, and whether anything pulls at all.
    fn repositories(&mut self, repositories: &[RepoKey], pull_roles: &[String]) {
        if pull_roles.is_empty() {
            self.check(
                Status::Unknown,
                "no node group or Fargate profile was read: the pull identity is unknown".into(),
            );
        }
        for key in repositories {
            match self.facts.repository(key) {
                Fact::Known(()) => self.check(
                    Status::Ok,
                    format!(
                        "repository {} exists in {} {}",
                        key.name, key.registry, key.region
                    ),
                ),
                Fact::Absent => self.check(
                    Status::Warning,
                    format!("repository {} does not exist in {} {}: create it (aws ecr create-repository --repository-name {})", key.name, key.registry, key.region, crate::text::shell_arg(&key.name)),
                ),
                Fact::Unknown(why) => self.check(Status::Unknown, why),
            }
        }
    }

    /// The pull: every identity that may pull this app's images, for every repository — its
    /// own policy widened to the repositories, or another account's repository policy.
    fn pull(&mut self, repositories: &[RepoKey], pull_roles: &[String]) {
        let facts = self.facts;
        let mut cross_account: std::collections::BTreeMap<RepoKey, Vec<(String, String)>> =
            Default::default();
        for role in pull_roles {
            let Fact::Known(r) = facts.role(role) else {
                self.check(
                    Status::Unknown,
                    format!("the policies of pull identity {role} were not read"),
                );
                continue;
            };
            let missing = self.pull_of(r, repositories, &mut cross_account);
            if !missing.is_empty() {
                self.widen_pull_policy(r, &missing);
            }
        }
        for (key, roles) in &cross_account {
            let current = match facts.repository_policy(key) {
                Fact::Known(Ok(doc)) => Some(doc.clone()),
                _ => None,
            };
            let proposed = roles.iter().fold(current.clone(), |policy, (arn, name)| {
                Some(documents::repository_policy_allowing(
                    policy.as_ref(),
                    arn,
                    name,
                ))
            });
            let Some(proposed) = proposed else { continue };
            self.writes.push(document_write(
                Apply::SetRepositoryPolicy {
                    registry: key.registry.clone(),
                    region: key.region.clone(),
                    repository: key.name.clone(),
                },
                current.as_ref(),
                &proposed,
            ));
        }
    }

    /// What role `r` may pull of `repositories`: the repository ARNs its own policies miss;
    /// another account's repositories that do not allow it go to `cross_account`.
    fn pull_of(
        &mut self,
        r: &crate::facts::Role,
        repositories: &[RepoKey],
        cross_account: &mut std::collections::BTreeMap<RepoKey, Vec<(String, String)>>,
    ) -> Vec<String> {
        let mut missing = Vec::new();
        for key in repositories {
            let image = crate::ecr::reference::EcrImage {
                host: String::new(),
                account: key.registry.clone(),
                region: key.region.clone(),
                partition: self.partition.to_string(),
                repository: key.name.clone(),
                tag: Some("latest".into()),
                digest: None,
            };
            let access =
                crate::chain::access::pull_access(self.facts, r, &image, Default::default());
            match (access.identity.status, access.repository.cause) {
                (Status::Ok, None) => {
                    self.check(Status::Ok, format!("{} may pull from {}", r.name, key.name))
                }
                (_, Some(crate::report::Cause::CrossAccountNotAllowed)) => {
                    self.check(
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
                (_, _) => self.check(
                    Status::Unknown,
                    format!(
                        "whether {} may pull from {} is unknown: {}",
                        r.name, key.name, access.identity.summary
                    ),
                ),
            }
        }
        missing
    }

    /// Adds `missing` repositories to the pull identity's scoped policy.
    fn widen_pull_policy(&mut self, r: &crate::facts::Role, missing: &[String]) {
        self.check(
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
        let proposed = missing.iter().fold(current.clone(), |policy, repo| {
            Some(documents::scoped_pull_policy(
                policy.as_ref(),
                repo,
                Default::default(),
            ))
        });
        let Some(proposed) = proposed else { return };
        self.writes.push(document_write(
            Apply::PutRolePolicy {
                account: arn::account_of(&r.arn).unwrap_or_default(),
                role: r.name.clone(),
                policy_name: documents::SCOPED_POLICY_NAME.into(),
            },
            current.as_ref(),
            &proposed,
        ));
    }

    /// The ServiceAccount last (its annotation names a role that now exists), then for Pod
    /// Identity its association. One that exists is changed only as a take-over, shown as a
    /// diff with the pods that use it.
    fn service_account(&mut self, mode: Mode, role_arn: &str) -> Result<(), Vec<String>> {
        let (ns, sa) = (
            self.answers.namespace.clone(),
            self.answers.service_account.clone(),
        );
        let wanted = (mode == Mode::Irsa).then(|| role_arn.to_string());
        let apply = Apply::ApplyServiceAccount {
            namespace: ns.clone(),
            name: sa.clone(),
            role_arn: wanted.clone(),
        };
        match self.facts.service_account(&ns, &sa) {
            Fact::Known(existing) => {
                let current = existing::annotated_role(existing).map(str::to_string);
                let users = existing::used_by(&existing::pods_using(self.facts, &ns, &sa));
                match (&wanted, &current) {
                    (Some(w), Some(c)) if w == c => self.check(
                        Status::Ok,
                        format!("ServiceAccount {ns}/{sa} exists and already names role {w}"),
                    ),
                    (None, None) => self.check(
                        Status::Ok,
                        format!("ServiceAccount {ns}/{sa} exists ({users}); Pod Identity leaves it as it is"),
                    ),
                    (None, Some(c)) => self.check(
                        Status::Warning,
                        format!("ServiceAccount {ns}/{sa} names role {c} in its {} annotation: the SDKs take that (IRSA) before Pod Identity — remove the annotation for the association to count", existing::ROLE_ANNOTATION),
                    ),
                    (Some(w), current) => {
                        let was = current.as_deref().map_or_else(
                            || "has no role annotation".to_string(),
                            |c| format!("is annotated with role {c}"),
                        );
                        let keep = current
                            .as_deref()
                            .and_then(arn::Arn::parse)
                            .and_then(|a| a.role_name().map(str::to_string))
                            .map(|r| format!(" (to keep that role, give {r} as the role name)"))
                            .unwrap_or_default();
                        self.check(
                            Status::Warning,
                            format!("ServiceAccount {ns}/{sa} exists ({users}): the plan changes its role — see \"takes over\""),
                        );
                        self.takes_over.push(format!(
                            "ServiceAccount {ns}/{sa} exists and {was} ({users}): the plan points it at role {w}; its pods take the new role when they restart{keep}"
                        ));
                        self.writes.push(annotation_write(apply, current.as_deref(), w));
                    }
                }
            }
            Fact::Absent => {
                self.check(Status::Ok, format!("ServiceAccount {ns}/{sa} is new"));
                self.write(apply);
            }
            Fact::Unknown(why) => {
                self.check(
                    Status::Unknown,
                    format!("whether ServiceAccount {ns}/{sa} exists is unknown: {why}"),
                );
                self.write(apply);
            }
        }
        if mode == Mode::PodIdentity {
            self.association(role_arn)?;
        }
        Ok(())
    }

    /// Pod Identity: the ServiceAccount's association, created when there is none. EKS holds one
    /// per ServiceAccount: one to another role is never replaced by a setup.
    fn association(&mut self, role_arn: &str) -> Result<(), Vec<String>> {
        let (ns, sa) = (&self.answers.namespace, &self.answers.service_account);
        let create = Apply::CreatePodIdentityAssociation {
            cluster: self.cluster.clone(),
            namespace: ns.clone(),
            service_account: sa.clone(),
            role_arn: role_arn.to_string(),
        };
        match self.facts.pod_identity_association(ns, sa) {
            Fact::Known(a) if a.role_arn == role_arn => self.check(
                Status::Ok,
                format!("the Pod Identity association of {ns}/{sa} already names role {role_arn}"),
            ),
            Fact::Known(a) => {
                let other = if a.role_arn.is_empty() {
                    "a role the listing does not name".to_string()
                } else {
                    format!("role {}", a.role_arn)
                };
                return Err(vec![format!(
                    "ServiceAccount {ns}/{sa} has a Pod Identity association already, with {other} ({}): EKS holds one per ServiceAccount and pulldoctor does not replace it — choose that role (--role-name), or delete the association first",
                    existing::used_by(&existing::pods_using(self.facts, ns, sa))
                )]);
            }
            Fact::Absent => self.write(create),
            Fact::Unknown(why) => {
                self.check(
                    Status::Unknown,
                    format!("whether {ns}/{sa} has a Pod Identity association is unknown: {why}"),
                );
                self.write(create);
            }
        }
        Ok(())
    }
}

/// The ServiceAccount's role annotation as it is and as the plan leaves it.
fn annotation_write(apply: Apply, current: Option<&str>, wanted: &str) -> Write {
    let line = |role: &str| format!("{}: {role}\n", existing::ROLE_ANNOTATION);
    let before = current.map(line);
    let after = line(wanted);
    Write {
        diff: Some(documents::diff(before.as_deref().unwrap_or(""), &after)),
        apply,
        before,
        after: Some(after),
    }
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
