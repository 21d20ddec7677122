//! Applying a fix: plan → diff → confirm → back up → apply → re-verify. Only a [`Writer`] writes,
//! and only a [`WritePermission`] — which the command line grants for `--allow-writes` alone —
//! makes one.

use crate::chain::identity_lane::ROLE_ANNOTATION;
use crate::iam::policy::PolicyDocument;
use crate::report::{Apply, Finding};
use crate::source::live::{self, Session};
use ::kube::api::{Patch, PatchParams};
use aws_sdk_ecr::types::{ImageIdentifier, TargetStorageClass};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::ServiceAccount;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Proof that the user passed `--allow-writes`. Only this crate's command line creates one.
#[derive(Clone)]
pub struct WritePermission(());

impl WritePermission {
    pub(crate) fn from_flag(allow_writes: bool) -> Option<WritePermission> {
        allow_writes.then_some(WritePermission(()))
    }
}

pub const PLAN_SCHEMA: &str = "pulldoctor.plan/v1";

/// Every write a fix makes, with the documents before and after: what the user confirms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    pub schema: String,
    pub subject: String,
    pub container: String,
    pub cause: String,
    pub title: String,
    pub writes: Vec<Write>,
    /// Steps no API call carries out, for the user to do.
    pub by_hand: Vec<String>,
    /// What chose the target, when tenant-writable metadata did (see [`Fix`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_chosen_by: Option<String>,
    /// What exists that the plan changes, and who relies on it (a setup's take-over): applying
    /// it needs an explicit choice (`--take-over`, a second confirmation in the TUI).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub takes_over: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Write {
    pub apply: Apply,
    /// The document as it was read when the plan was made (`None`: there was none).
    pub before: Option<String>,
    /// The document the call writes (`None` for calls that take none).
    pub after: Option<String>,
    pub diff: Option<String>,
}

/// The plan of fix number `choice` (1-based) of a finding.
pub fn plan(finding: &Finding, choice: usize) -> Result<Plan, String> {
    let fix = finding.fixes.get(choice.saturating_sub(1)).ok_or_else(|| {
        format!(
            "{} has {} fix(es); --choice {choice} is not one of them",
            finding.subject(),
            finding.fixes.len()
        )
    })?;
    Ok(Plan {
        schema: PLAN_SCHEMA.to_string(),
        subject: finding.subject(),
        container: finding.container.clone(),
        cause: fix.cause.to_string(),
        title: fix.title.clone(),
        writes: fix
            .steps
            .iter()
            .filter_map(|s| {
                Some(Write {
                    apply: s.apply.clone()?,
                    before: s.current.clone(),
                    after: s.document.clone(),
                    diff: s.diff.clone(),
                })
            })
            .collect(),
        by_hand: fix
            .steps
            .iter()
            .filter(|s| s.apply.is_none())
            .map(|s| match &s.command {
                Some(c) => format!("{}\n    $ {c}", s.explain),
                None => s.explain.clone(),
            })
            .collect(),
        target_chosen_by: fix.target_chosen_by.clone(),
        takes_over: Vec::new(),
    })
}

pub fn render(plan: &Plan) -> String {
    use crate::text::{escape_block, escape_line};
    let container = if plan.container.is_empty() {
        String::new()
    } else {
        format!(" [{}]", escape_line(&plan.container))
    };
    let mut out = format!(
        "plan for {}{container} — {}: {}\n",
        escape_line(&plan.subject),
        escape_line(&plan.cause),
        escape_line(&plan.title)
    );
    if let Some(chosen_by) = &plan.target_chosen_by {
        out.push_str(&format!(
            "  ! the target was chosen by tenant-writable metadata: {}; check that this role should pull this image before applying\n",
            escape_line(chosen_by)
        ));
    }
    for what in &plan.takes_over {
        out.push_str(&format!("  ! takes over: {}\n", escape_line(what)));
    }
    if plan.writes.is_empty() {
        out.push_str("  no API call fixes this; do it by hand:\n");
    }
    for (i, w) in plan.writes.iter().enumerate() {
        let account = w.apply.account();
        let account = if account.is_empty() {
            String::new()
        } else {
            format!(" (account {})", escape_line(&account))
        };
        out.push_str(&format!(
            "  {}. {} on {}{account}\n",
            i + 1,
            w.apply.call(),
            escape_line(&w.apply.target())
        ));
        if let Some(diff) = &w.diff {
            for line in escape_block(diff).lines() {
                out.push_str(&format!("       {line}\n"));
            }
        }
    }
    for step in &plan.by_hand {
        out.push_str(&format!("  by hand: {}\n", escape_block(step)));
    }
    out
}

/// The one thing that writes: the context's session behind a [`WritePermission`].
pub struct Writer {
    pub(super) session: Arc<Session>,
    account: String,
    _permission: WritePermission,
}

/// What the target looks like now.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Now {
    /// A document, normalised (or `None`: there is none).
    Document(Option<String>),
    /// Whether the thing the call creates or attaches is already there.
    Present(bool),
}

/// What to do with one write after reading the target again.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Proceed,
    AlreadyDone,
    Changed(String),
}

/// A policy document in one canonical text, so that AWS's URL-encoding and spacing compare equal.
pub(super) fn normal(text: &str) -> String {
    PolicyDocument::from_text(text)
        .map(|d| d.to_pretty_json())
        .unwrap_or_else(|_| text.to_string())
}

/// The same calls on the same targets, sending the same documents: equal as JSON values (so
/// spacing does not count), or as text — never after a policy parser dropped or merged keys.
pub fn same_writes(a: &[Write], b: &[Write]) -> bool {
    let document = |d: &Option<String>| {
        d.as_deref().map(|t| {
            serde_json::from_str::<serde_json::Value>(t)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| t.to_string())
        })
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.apply == y.apply
                && document(&x.after) == document(&y.after)
                && document(&x.before) == document(&y.before)
        })
}

impl Writer {
    pub async fn new(
        _permission: WritePermission,
        session: Arc<Session>,
    ) -> Result<Writer, String> {
        let aws = &session.aws;
        let caller = aws
            .call(
                "sts:GetCallerIdentity",
                "the current credentials",
                aws.sts.get_caller_identity().send(),
            )
            .await
            .map_err(|e| e.message)?;
        Ok(Writer {
            account: caller.account().unwrap_or_default().to_string(),
            session,
            _permission,
        })
    }

    /// Reads the target again and decides: go ahead, already done, or changed since the plan.
    pub async fn check(&self, write: &Write) -> Result<Check, String> {
        let owner = write.apply.account();
        if !owner.is_empty() && owner != self.account {
            return Err(format!(
                "{} changes account {owner}, and these credentials are of account {}: run it with credentials of {owner} (--profile)",
                write.apply.target(),
                self.account
            ));
        }
        let now = self.now(&write.apply).await?;
        let after = write.after.as_deref().map(normal);
        let before = write.before.as_deref().map(normal);
        Ok(match now {
            Now::Present(true) => Check::AlreadyDone,
            Now::Present(false) => Check::Proceed,
            Now::Document(current) if current.is_some() && current == after => Check::AlreadyDone,
            Now::Document(current) if current == before => Check::Proceed,
            Now::Document(_) => Check::Changed(format!(
                "{} changed since it was read: plan again",
                write.apply.target()
            )),
        })
    }

    async fn now(&self, apply: &Apply) -> Result<Now, String> {
        match apply {
            _ if apply.is_kubernetes() => self.now_kube(apply).await,
            Apply::CreatePodIdentityAssociation { .. }
            | Apply::SetRepositoryPolicy { .. }
            | Apply::RestoreImage { .. } => self.now_eks_ecr(apply).await,
            Apply::CreateGatewayEndpoint { .. }
            | Apply::ModifyVpcEndpoint { .. }
            | Apply::AllowHttpsIngress { .. } => self.now_ec2(apply).await,
            _ => self.now_iam(apply).await,
        }
    }

    /// The ServiceAccount as it is, or a restart (always to do).
    async fn now_kube(&self, apply: &Apply) -> Result<Now, String> {
        Ok(match apply {
            Apply::AnnotateServiceAccount {
                namespace,
                name,
                key,
            } => {
                let sa = self
                    .service_account(namespace, name)
                    .await?
                    .ok_or_else(|| format!("ServiceAccount {namespace}/{name} does not exist"))?;
                Now::Document(sa.metadata.annotations.and_then(|a| a.get(key).cloned()))
            }
            // A restart is an event, not a state: it always goes ahead (once the pods are new,
            // the diagnosis no longer proposes it).
            Apply::RolloutRestart { .. } => Now::Present(false),
            Apply::ApplyServiceAccount {
                namespace,
                name,
                role_arn,
            } => match self.service_account(namespace, name).await? {
                None => Now::Present(false),
                Some(sa) => {
                    let current = sa
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(ROLE_ANNOTATION));
                    Now::Present(role_arn.is_none() || current == role_arn.as_ref())
                }
            },
            other => return Err(format!("{} is not read here", other.call())),
        })
    }

    /// The role, its policies or the OIDC provider as they are.
    async fn now_iam(&self, apply: &Apply) -> Result<Now, String> {
        let (iam, aws) = (&self.session.aws.iam, &self.session.aws);
        let missing = |e: &live::aws::AwsError, codes: &[&str]| e.is(codes);
        Ok(match apply {
            Apply::UpdateAssumeRolePolicy { role, .. } => {
                let out = aws
                    .call("iam:GetRole", role, iam.get_role().role_name(role).send())
                    .await
                    .map_err(|e| e.message)?;
                Now::Document(
                    out.role()
                        .and_then(|r| r.assume_role_policy_document())
                        .map(normal),
                )
            }
            Apply::CreateRole { role, .. } => match aws
                .call("iam:GetRole", role, iam.get_role().role_name(role).send())
                .await
            {
                Ok(out) => Now::Document(
                    out.role()
                        .and_then(|r| r.assume_role_policy_document())
                        .map(normal),
                ),
                Err(e) if missing(&e, &["NoSuchEntity"]) => Now::Document(None),
                Err(e) => return Err(e.message),
            },
            Apply::PutRolePolicy {
                role, policy_name, ..
            } => {
                match aws
                    .call(
                        "iam:GetRolePolicy",
                        role,
                        iam.get_role_policy()
                            .role_name(role)
                            .policy_name(policy_name)
                            .send(),
                    )
                    .await
                {
                    Ok(out) => Now::Document(Some(normal(out.policy_document()))),
                    Err(e) if missing(&e, &["NoSuchEntity"]) => Now::Document(None),
                    Err(e) => return Err(e.message),
                }
            }
            Apply::AttachRolePolicy {
                role, policy_arn, ..
            } => {
                let out = aws
                    .call(
                        "iam:ListAttachedRolePolicies",
                        role,
                        iam.list_attached_role_policies().role_name(role).send(),
                    )
                    .await
                    .map_err(|e| e.message)?;
                Now::Present(
                    out.attached_policies()
                        .iter()
                        .any(|p| p.policy_arn() == Some(policy_arn)),
                )
            }
            Apply::CreatePolicyVersion { policy_arn } => {
                let document = live::fetch_policy(aws, policy_arn)
                    .await
                    .map_err(|e| e.message)?;
                Now::Document(Some(normal(&document)))
            }
            Apply::CreateOpenIdConnectProvider { url, .. } => {
                let out = aws
                    .call(
                        "iam:ListOpenIDConnectProviders",
                        "the account",
                        iam.list_open_id_connect_providers().send(),
                    )
                    .await
                    .map_err(|e| e.message)?;
                let path = url.trim_start_matches("https://");
                Now::Present(
                    out.open_id_connect_provider_list()
                        .iter()
                        .any(|p| p.arn().is_some_and(|a| a.ends_with(path))),
                )
            }
            Apply::AddClientId {
                provider_arn,
                client_id,
            } => {
                let out = aws
                    .call(
                        "iam:GetOpenIDConnectProvider",
                        provider_arn,
                        iam.get_open_id_connect_provider()
                            .open_id_connect_provider_arn(provider_arn)
                            .send(),
                    )
                    .await
                    .map_err(|e| e.message)?;
                Now::Present(out.client_id_list().iter().any(|c| c == client_id))
            }
            other => return Err(format!("{} is not read here", other.call())),
        })
    }

    /// The Pod Identity association or the repository policy as it is.
    async fn now_eks_ecr(&self, apply: &Apply) -> Result<Now, String> {
        let aws = &self.session.aws;
        let missing = |e: &live::aws::AwsError, codes: &[&str]| e.is(codes);
        Ok(match apply {
            Apply::CreatePodIdentityAssociation {
                cluster,
                namespace,
                service_account,
                ..
            } => {
                let request = aws
                    .eks
                    .list_pod_identity_associations()
                    .cluster_name(cluster)
                    .namespace(namespace)
                    .service_account(service_account);
                let out = aws
                    .call("eks:ListPodIdentityAssociations", cluster, request.send())
                    .await
                    .map_err(|e| e.message)?;
                Now::Present(!out.associations().is_empty())
            }
            Apply::SetRepositoryPolicy {
                registry,
                region,
                repository,
            } => {
                let ecr = aws.ecr(region);
                match aws
                    .call(
                        "ecr:GetRepositoryPolicy",
                        repository,
                        ecr.get_repository_policy()
                            .registry_id(registry)
                            .repository_name(repository)
                            .send(),
                    )
                    .await
                {
                    Ok(out) => Now::Document(out.policy_text().map(normal)),
                    Err(e) if missing(&e, &["RepositoryPolicyNotFoundException"]) => {
                        Now::Document(None)
                    }
                    Err(e) => return Err(e.message),
                }
            }
            Apply::RestoreImage {
                registry,
                region,
                repository,
                digest,
            } => {
                let image = ImageIdentifier::builder().image_digest(digest).build();
                let out = aws
                    .call(
                        "ecr:DescribeImages",
                        repository,
                        aws.ecr(region)
                            .describe_images()
                            .registry_id(registry)
                            .repository_name(repository)
                            .image_ids(image)
                            .send(),
                    )
                    .await
                    .map_err(|e| e.message)?;
                let archived = out
                    .image_details()
                    .iter()
                    .any(|d| d.image_status().map(|s| s.as_str()) == Some("ARCHIVED"));
                Now::Present(!archived)
            }
            other => return Err(format!("{} is not read here", other.call())),
        })
    }

    async fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServiceAccount>, String> {
        let api: ::kube::Api<ServiceAccount> =
            ::kube::Api::namespaced(self.session.kube.client.clone(), namespace);
        api.get_opt(name)
            .await
            .map_err(|e| format!("cannot read ServiceAccount {namespace}/{name}: {e}"))
    }

    /// Makes the call. The caller has checked, confirmed and backed up first.
    pub async fn execute(&self, write: &Write) -> Result<(), String> {
        if write.apply.is_kubernetes() {
            self.execute_kube(write).await
        } else {
            self.execute_aws(write).await
        }
    }

    pub(super) fn document(write: &Write) -> Result<String, String> {
        write
            .after
            .clone()
            .ok_or_else(|| format!("{} needs a document", write.apply.call()))
    }

    /// A write to the cluster: a ServiceAccount, or a controller's restart.
    async fn execute_kube(&self, write: &Write) -> Result<(), String> {
        let document = || Writer::document(write);
        match &write.apply {
            Apply::AnnotateServiceAccount {
                namespace,
                name,
                key,
            } => {
                let api: ::kube::Api<ServiceAccount> =
                    ::kube::Api::namespaced(self.session.kube.client.clone(), namespace);
                let patch = serde_json::json!({"metadata": {"annotations": {key: document()?}}});
                api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("patching ServiceAccount {namespace}/{name} failed: {e}"))
            }
            Apply::ApplyServiceAccount {
                namespace,
                name,
                role_arn,
            } => {
                let api: ::kube::Api<ServiceAccount> =
                    ::kube::Api::namespaced(self.session.kube.client.clone(), namespace);
                let annotations: std::collections::BTreeMap<String, String> = role_arn
                    .iter()
                    .map(|r| (ROLE_ANNOTATION.to_string(), r.clone()))
                    .collect();
                let exists = self.service_account(namespace, name).await?.is_some();
                let result = if exists {
                    let patch = serde_json::json!({"metadata": {"annotations": annotations}});
                    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .map(|_| ())
                } else {
                    let sa = ServiceAccount {
                        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                            name: Some(name.clone()),
                            namespace: Some(namespace.clone()),
                            annotations: Some(annotations),
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    api.create(&::kube::api::PostParams::default(), &sa)
                        .await
                        .map(|_| ())
                };
                result
                    .map_err(|e| format!("applying ServiceAccount {namespace}/{name} failed: {e}"))
            }
            Apply::RolloutRestart {
                namespace,
                kind,
                name,
            } => {
                let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now_text()}}}}});
                let client = self.session.kube.client.clone();
                let result = match kind.as_str() {
                    "Deployment" => restart::<Deployment>(client, namespace, name, &patch).await,
                    "StatefulSet" => restart::<StatefulSet>(client, namespace, name, &patch).await,
                    "DaemonSet" => restart::<DaemonSet>(client, namespace, name, &patch).await,
                    other => return Err(format!("{other} controllers cannot be restarted")),
                };
                result.map_err(|e| format!("restarting {kind} {namespace}/{name} failed: {e}"))
            }
            _ => Err(format!("{} is not a Kubernetes write", write.apply.call())),
        }
    }

    /// A write to AWS: IAM, EKS, ECR or EC2.
    async fn execute_aws(&self, write: &Write) -> Result<(), String> {
        let (iam, aws) = (&self.session.aws.iam, &self.session.aws);
        let document = || Writer::document(write);
        let target = write.apply.target();
        let done = match &write.apply {
            Apply::CreateGatewayEndpoint { .. }
            | Apply::ModifyVpcEndpoint { .. }
            | Apply::AllowHttpsIngress { .. } => return self.execute_ec2(write).await,
            Apply::CreatePodIdentityAssociation {
                cluster,
                namespace,
                service_account,
                role_arn,
            } => {
                let request = aws
                    .eks
                    .create_pod_identity_association()
                    .cluster_name(cluster)
                    .namespace(namespace)
                    .service_account(service_account)
                    .role_arn(role_arn);
                aws.call(write.apply.call(), &target, request.send())
                    .await
                    .map(|_| ())
            }
            Apply::UpdateAssumeRolePolicy { role, .. } => aws
                .call(
                    write.apply.call(),
                    &target,
                    iam.update_assume_role_policy()
                        .role_name(role)
                        .policy_document(document()?)
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::CreateRole {
                role,
                permissions_boundary,
                ..
            } => aws
                .call(
                    write.apply.call(),
                    &target,
                    iam.create_role()
                        .role_name(role)
                        .assume_role_policy_document(document()?)
                        .set_permissions_boundary(permissions_boundary.clone())
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::PutRolePolicy {
                role, policy_name, ..
            } => aws
                .call(
                    write.apply.call(),
                    &target,
                    iam.put_role_policy()
                        .role_name(role)
                        .policy_name(policy_name)
                        .policy_document(document()?)
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::AttachRolePolicy {
                role, policy_arn, ..
            } => aws
                .call(
                    write.apply.call(),
                    &target,
                    iam.attach_role_policy()
                        .role_name(role)
                        .policy_arn(policy_arn)
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::CreatePolicyVersion { policy_arn } => aws
                .call(
                    write.apply.call(),
                    &target,
                    iam.create_policy_version()
                        .policy_arn(policy_arn)
                        .policy_document(document()?)
                        .set_as_default(true)
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::CreateOpenIdConnectProvider { url, client_id, .. } => aws
                .call(
                    write.apply.call(),
                    &target,
                    iam.create_open_id_connect_provider()
                        .url(url)
                        .client_id_list(client_id)
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::AddClientId {
                provider_arn,
                client_id,
            } => aws
                .call(
                    write.apply.call(),
                    &target,
                    iam.add_client_id_to_open_id_connect_provider()
                        .open_id_connect_provider_arn(provider_arn)
                        .client_id(client_id)
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::SetRepositoryPolicy {
                registry,
                region,
                repository,
            } => aws
                .call(
                    write.apply.call(),
                    &target,
                    aws.ecr(region)
                        .set_repository_policy()
                        .registry_id(registry)
                        .repository_name(repository)
                        .policy_text(document()?)
                        .send(),
                )
                .await
                .map(|_| ()),
            Apply::RestoreImage {
                registry,
                region,
                repository,
                digest,
            } => aws
                .call(
                    write.apply.call(),
                    &target,
                    aws.ecr(region)
                        .update_image_storage_class()
                        .registry_id(registry)
                        .repository_name(repository)
                        .image_id(ImageIdentifier::builder().image_digest(digest).build())
                        .target_storage_class(TargetStorageClass::Standard)
                        .send(),
                )
                .await
                .map(|_| ()),
            _ => return Err(format!("{} is not an AWS write", write.apply.call())),
        };
        done.map_err(|e| e.message)
    }
}

/// Reads every target again before anything is written: the writes still to make. A plan is
/// applied whole or not at all, so one changed document stops all of it.
pub async fn pending<'a>(writer: &Writer, plan: &'a Plan) -> Result<Vec<&'a Write>, String> {
    let mut pending = Vec::new();
    for write in &plan.writes {
        match writer.check(write).await? {
            Check::Proceed => pending.push(write),
            Check::AlreadyDone => {}
            Check::Changed(why) => return Err(why),
        }
    }
    Ok(pending)
}

/// Backs up and makes each pending write; one line per change.
pub async fn carry_out(
    writer: &Writer,
    plan: &Plan,
    pending: &[&Write],
    dir: &Path,
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for write in pending {
        let backup = back_up(dir, plan, write)?;
        writer
            .execute(write)
            .await
            .map_err(|e| format!("{e} (backup kept at {})", backup.display()))?;
        lines.push(format!(
            "applied {} on {} — backup: {}",
            write.apply.call(),
            write.apply.target(),
            backup.display()
        ));
    }
    Ok(lines)
}

/// Merge-patches a controller's pod template, as `kubectl rollout restart` does.
async fn restart<K>(
    client: ::kube::Client,
    namespace: &str,
    name: &str,
    patch: &serde_json::Value,
) -> Result<(), ::kube::Error>
where
    K: ::kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    ::kube::Api::<K>::namespaced(client, namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(|_| ())
}

/// Where backups and the change log live: `--backup-dir`, else `$PULLDOCTOR_STATE_DIR`, else
/// `$XDG_STATE_HOME/pulldoctor`, else `~/.local/state/pulldoctor`.
pub fn state_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("PULLDOCTOR_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("pulldoctor");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/pulldoctor")
}

fn now_text() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    k8s_openapi::jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// Saves what a write replaces, and records the change in the log. Returns the backup's path.
pub fn back_up(dir: &Path, plan: &Plan, write: &Write) -> Result<PathBuf, String> {
    let backups = dir.join("backups");
    std::fs::create_dir_all(&backups)
        .map_err(|e| format!("cannot create {}: {e}", backups.display()))?;
    let when = now_text();
    let name: String = format!("{when}-{}-{}", write.apply.call(), write.apply.target())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = backups.join(format!("{name}.json"));
    let record = serde_json::json!({
        "at": when, "subject": plan.subject, "cause": plan.cause, "call": write.apply.call(),
        "target": write.apply.target(), "account": write.apply.account(), "apply": write.apply,
        "before": write.before, "after": write.after, "backup": path,
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&record).unwrap_or_default() + "\n",
    )
    .map_err(|e| format!("cannot write the backup {}: {e}", path.display()))?;
    use std::io::Write as _;
    let log = dir.join("changes.log");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    writeln!(file, "{record}").map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    Ok(path)
}
