//! Stages 4a, 4b and 5a: the roles with their policies, the cluster's OIDC provider, and each
//! managed policy once.

use super::*;
use crate::facts::scope;
use crate::iam::arn;
use crate::source::live::aws;
use futures::future::join_all;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Stage 4a: the roles with their policies. Returns the managed policies they attach (next
/// stage).
pub(in crate::source::live) async fn roles(
    aws: &aws::Aws,
    shared: &Shared,
    role_arns: &BTreeSet<String>,
    caller_account: &str,
) -> BTreeSet<String> {
    let details = join_all(role_arns.iter().map(|role_arn| {
        shared
            .roles
            .once(&shared.found, role_arn.clone(), async move {
                let mut found = Found::default();
                let role_scope = || {
                    scope::role(
                        &arn::account_of(role_arn).unwrap_or_default(),
                        &arn::role_name_of(role_arn),
                    )
                };
                let detail = match fetch_role(aws, role_arn, caller_account).await {
                    RoleResult::Found(detail) => Some(Arc::new(*detail)),
                    RoleResult::Absent => {
                        found.gaps.covered(&role_scope());
                        None
                    }
                    RoleResult::Failed(message) => {
                        found.gaps.error(&role_scope(), &message);
                        None
                    }
                };
                (detail, found)
            })
    }))
    .await;
    let mut policy_arns = BTreeSet::new();
    for detail in details.iter().flatten() {
        policy_arns.extend(
            detail
                .attached_managed_policies
                .iter()
                .map(|p| p.policy_arn.clone()),
        );
        policy_arns.extend(
            detail
                .permissions_boundary
                .as_ref()
                .map(|b| b.permissions_boundary_arn.clone()),
        );
    }
    policy_arns
}

pub(in crate::source::live) enum RoleResult {
    Found(Box<RoleDetail>),
    Absent,
    Failed(String),
}

/// A role with its inline and attached policies, as a `RoleDetailList` entry.
pub(in crate::source::live) async fn fetch_role(
    aws: &aws::Aws,
    role_arn: &str,
    caller_account: &str,
) -> RoleResult {
    let account = arn::account_of(role_arn).unwrap_or_default();
    let name = arn::role_name_of(role_arn);
    if !caller_account.is_empty() && account != caller_account {
        return RoleResult::Failed(crate::facts::other_account_role(
            role_arn,
            &account,
            caller_account,
        ));
    }
    let iam = &aws.iam;
    let role = match aws
        .call("iam:GetRole", &name, iam.get_role().role_name(&name).send())
        .await
    {
        Ok(out) => out,
        Err(e) if e.is(&["NoSuchEntity"]) => return RoleResult::Absent,
        Err(e) => return RoleResult::Failed(e.message),
    };
    let Some(role) = role.role() else {
        return RoleResult::Failed(format!("iam:GetRole for {name} returned no role"));
    };
    let (inline_names, attached) = tokio::join!(
        aws.call(
            "iam:ListRolePolicies",
            &name,
            iam.list_role_policies().role_name(&name).send()
        ),
        aws.call(
            "iam:ListAttachedRolePolicies",
            &name,
            iam.list_attached_role_policies().role_name(&name).send()
        ),
    );
    let (inline_names, attached) = match (inline_names, attached) {
        (Ok(i), Ok(a)) => (i, a),
        (Err(e), _) | (_, Err(e)) => return RoleResult::Failed(e.message),
    };
    let inline = join_all(inline_names.policy_names().iter().map(|p| {
        let request = iam.get_role_policy().role_name(&name).policy_name(p);
        aws.call("iam:GetRolePolicy", p, request.send())
    }))
    .await;
    let mut role_policies = Vec::new();
    for result in inline {
        match result {
            Ok(p) => role_policies.push(InlinePolicy {
                policy_name: p.policy_name().to_string(),
                policy_document: Value::String(p.policy_document().to_string()),
            }),
            Err(e) => return RoleResult::Failed(e.message),
        }
    }
    RoleResult::Found(Box::new(RoleDetail {
        role_name: role.role_name().to_string(),
        arn: role.arn().to_string(),
        assume_role_policy_document: role
            .assume_role_policy_document()
            .map(|d| Value::String(d.to_string()))
            .unwrap_or_default(),
        role_policy_list: role_policies,
        attached_managed_policies: attached
            .attached_policies()
            .iter()
            .map(|p| AttachedPolicy {
                policy_name: p.policy_name().map(str::to_string),
                policy_arn: p.policy_arn().unwrap_or_default().to_string(),
            })
            .collect(),
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(|arn| Boundary {
                permissions_boundary_arn: arn.to_string(),
            }),
        tags: Some(
            role.tags()
                .iter()
                .map(|t| Tag {
                    key: t.key().to_string(),
                    value: t.value().to_string(),
                })
                .collect(),
        ),
    }))
}

/// Stage 4b: the cluster's OIDC provider, when the account lists it.
pub(in crate::source::live) async fn oidc_provider(
    aws: &aws::Aws,
    shared: &Shared,
    provider_arn: Option<&str>,
) {
    let Some(arn) = provider_arn else {
        return;
    };
    let read = async {
        let mut found = Found::default();
        let request = aws
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn);
        match aws
            .call("iam:GetOpenIDConnectProvider", arn, request.send())
            .await
        {
            Ok(out) => found.push_document(&OidcProviderDetail {
                url: out.url().unwrap_or_default().to_string(),
                client_id_list: out.client_id_list().to_vec(),
            }),
            Err(e) => found.gaps.problems.push(e.message),
        }
        ((), found)
    };
    shared
        .providers
        .once(&shared.found, arn.to_string(), read)
        .await
}

/// Stage 5a: each managed policy once, for every role that attaches it.
pub(in crate::source::live) async fn managed_policies(
    aws: &aws::Aws,
    shared: &Shared,
    policy_arns: &BTreeSet<String>,
) {
    join_all(policy_arns.iter().map(|policy_arn| {
        shared
            .policies
            .once(&shared.found, policy_arn.clone(), async move {
                let mut found = Found::default();
                let detail = match fetch_policy(aws, policy_arn).await {
                    Ok(document) => Some(Arc::new(ManagedPolicyDetail {
                        arn: policy_arn.clone(),
                        policy_name: None,
                        versions: vec![PolicyVersion {
                            document: Value::String(document),
                            is_default_version: true,
                            version_id: None,
                        }],
                    })),
                    Err(e) => {
                        found.gaps.error(&scope::policy(policy_arn), &e.message);
                        None
                    }
                };
                (detail, found)
            })
    }))
    .await;
}

/// The default version of a managed policy.
pub(crate) async fn fetch_policy(
    aws: &aws::Aws,
    policy_arn: &str,
) -> Result<String, aws::AwsError> {
    let iam = &aws.iam;
    let policy = aws
        .call(
            "iam:GetPolicy",
            policy_arn,
            iam.get_policy().policy_arn(policy_arn).send(),
        )
        .await?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1")
        .to_string();
    let request = iam
        .get_policy_version()
        .policy_arn(policy_arn)
        .version_id(&version);
    let out = aws
        .call("iam:GetPolicyVersion", policy_arn, request.send())
        .await?;
    Ok(out
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or_default()
        .to_string())
}
