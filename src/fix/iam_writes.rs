//! The Writer's IAM writes: the role, its policies or the OIDC provider as they are now, and the
//! one call that changes them.

use super::apply::{Now, Writer, normal};
use super::write_plan::Write;
use crate::report::Apply;
use crate::source::live;

impl Writer {
    /// The role, its policies or the OIDC provider as they are.
    pub(super) async fn now_iam(&self, apply: &Apply) -> Result<Now, String> {
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

    /// The one IAM call of the write.
    pub(super) async fn execute_iam(&self, write: &Write) -> Result<(), String> {
        let (iam, aws) = (&self.session.aws.iam, &self.session.aws);
        let document = || Writer::document(write);
        let target = write.apply.target();
        let done = match &write.apply {
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
            _ => return Err(format!("{} is not an IAM write", write.apply.call())),
        };
        done.map_err(|e| e.message)
    }
}
