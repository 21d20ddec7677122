//! Fixes of what the pull identity may do: its permissions, denies, boundary, who it is, and
//! another account's repository policy.

use super::*;

/// What the pull identity may do: its permissions, denies, boundary, and who it is.
pub(super) fn access_fixes(
    cause: Cause,
    link: &Link,
    subject: &Subject<'_>,
    pull: &PullLane,
    identity: &IdentityLane,
) -> Vec<Fix> {
    let (facts, ecr) = (subject.facts, pull.ecr.as_ref());
    use Cause::*;
    match cause {
        RoleMissingEcrPull => match (identity.identity.role_arn().map(|a| facts.role(a)), ecr) {
            (Some(Fact::Known(role)), Some(ecr)) => permission_fixes(cause, role, ecr, pull.cache),
            _ => Vec::new(),
        },
        PullPermissionMissing | AuthTokenNotWildcard | PullThroughCacheImportMissing => {
            pull_identity_role(subject, pull)
                .zip(ecr)
                .map(|(role, ecr)| permission_fixes(cause, role, ecr, pull.cache))
                .unwrap_or_default()
        }
        PullExplicitDeny | RepositoryPolicyDenies => vec![fix(
            cause,
            "Review the explicit deny",
            false,
            vec![step(
                format!("{} An explicit deny wins over every allow, and pulldoctor never removes one for you: it may be deliberate (a guard rail). Ask its owner, then edit that statement.", crate::text::sentence(&link.summary)),
                ecr.map(|e| if cause == RepositoryPolicyDenies {
                    format!("aws ecr get-repository-policy --registry-id {} --region {} --repository-name {}", crate::text::shell_arg(&e.account), crate::text::shell_arg(&e.region), crate::text::shell_arg(&e.repository))
                } else {
                    let role = pull_identity_role(subject, pull).map(|r| r.name.clone()).unwrap_or_else(|| "ROLE".into());
                    format!("aws iam list-role-policies --role-name {}; aws iam list-attached-role-policies --role-name {}", crate::text::shell_arg(&role), crate::text::shell_arg(&role))
                }),
            )],
        )],
        PullBoundaryDenies => boundary_fix(subject, pull),
        OrganizationPolicyDenies => organization_fix(cause, link, subject),
        SessionPolicyDenies => vec![fix(
            cause,
            "Find who issues the pull identity's credentials with a session policy",
            false,
            vec![step(
                format!("{} A session policy is passed when the credentials are issued (AssumeRole with a policy, a credential helper or broker): it is on no role, so no IAM change fixes it. Look up the AssumeRole calls of the role in CloudTrail to see who passes it.", crate::text::sentence(&link.summary)),
                Some(format!(
                    "aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=AssumeRole --max-results 20 --region {}",
                    crate::text::shell_arg(&pull.ecr.as_ref().map_or_else(|| "REGION".to_string(), |e| e.region.clone()))
                )),
            )],
        )],
        NodeRoleUnresolved => vec![fix(
            cause,
            "Find the node's IAM role",
            false,
            vec![
                step(
                    "The node carries no label that names its role. Read the instance profile of the node's EC2 instance, then map that role as a node (access entry of type EC2_LINUX, or aws-auth with system:nodes).",
                    Some("aws ec2 describe-instances --instance-ids INSTANCE_ID --query 'Reservations[].Instances[].IamInstanceProfile.Arn'".to_string()),
                ),
                step(
                    "Then grant it ECR pulls.",
                    Some(format!("aws eks create-access-entry --cluster-name {} --principal-arn NODE_ROLE_ARN --type EC2_LINUX", crate::text::shell_arg(&facts.cluster_name()))),
                ),
            ],
        )],
        NodeRoleMissing => {
            let role_arn = subject.pull_identity.roles().first().cloned().unwrap_or_default();
            let role = arn::role_name_of(&role_arn);
            let service = match subject.pull_identity.kind() {
                crate::report::PullIdentityKind::FargateRole => "eks-fargate-pods.amazonaws.com",
                _ => "ec2.amazonaws.com",
            };
            let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]});
            let mut recreate = step(
                format!("The role the nodes pull with no longer exists; new credentials cannot be issued. Recreate it (trusting {service}) with {PULL_ONLY} attached, or move the nodes to a node group with a valid role."),
                Some(format!("aws iam create-role --role-name {} --assume-role-policy-document file://node-trust-policy.json && aws iam attach-role-policy --role-name {} --policy-arn {}", crate::text::shell_arg(&role), crate::text::shell_arg(&role), crate::text::shell_arg(&arn::iam(&arn::partition_of(&role_arn), "aws", &format!("policy/{PULL_ONLY}"))))),
            );
            recreate.document = serde_json::to_string_pretty(&trust).ok();
            vec![fix(cause, format!("Recreate the pull identity {role}"), true, vec![recreate])]
        }
        CrossAccountNotAllowed => cross_account_fix(subject, pull),
        _ => Vec::new(),
    }
}

/// The single existing pull-identity role, for fixes that edit it.
pub(super) fn pull_identity_role<'a>(subject: &Subject<'a>, pull: &PullLane) -> Option<&'a Role> {
    let arn = pull.access.first().map(|(arn, _)| arn.clone())?;
    match subject.facts.role(&arn) {
        Fact::Known(r) => Some(r),
        _ => None,
    }
}

fn inline_policy<'a>(role: &'a Role, name: &str) -> Option<&'a PolicyDocument> {
    role.permissions
        .as_ref()?
        .inline
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, d)| d.as_ref().ok())
}

fn permission_fixes(cause: Cause, role: &Role, ecr: &EcrImage, cache: CachePull) -> Vec<Fix> {
    let account = arn::account_of(&role.arn).unwrap_or_default();
    let policy_arn = arn::iam(
        &arn::partition_of(&role.arn),
        "aws",
        &format!("policy/{PULL_ONLY}"),
    );
    let current = inline_policy(role, SCOPED_POLICY_NAME);
    let proposed = documents::scoped_pull_policy(current, &ecr.repository_arn(), cache);
    let why = match cause {
        Cause::AuthTokenNotWildcard => {
            "ecr:GetAuthorizationToken has no resource-level permissions: it must be allowed on \"*\"."
        }
        Cause::PullThroughCacheImportMissing if cache == CachePull::CreateAndImport => {
            "The first pull through a pull-through cache creates the repository and imports the image: it needs ecr:CreateRepository and ecr:BatchImportUpstreamImage (from the role's policies or the registry policy)."
        }
        Cause::PullThroughCacheImportMissing => {
            "A pull-through cache pull of an image not yet cached needs ecr:BatchImportUpstreamImage."
        }
        _ => {
            "The pull identity needs ecr:GetAuthorizationToken on \"*\" and ecr:BatchGetImage + ecr:GetDownloadUrlForLayer on the repository."
        }
    };
    let scoped = fix(
        cause,
        format!(
            "Allow role {} to pull from {} only",
            role.name, ecr.repository
        ),
        true,
        vec![applied(
            document_step(
                format!(
                    "{why} This adds the repository to the role's inline policy {SCOPED_POLICY_NAME}."
                ),
                current,
                &proposed,
            ),
            Apply::PutRolePolicy {
                account: account.clone(),
                role: role.name.clone(),
                policy_name: SCOPED_POLICY_NAME.to_string(),
            },
        )],
    );
    // The managed policy holds no ecr:CreateRepository: it cannot fix a cache's first pull.
    if cache == CachePull::CreateAndImport {
        return vec![scoped];
    }
    let attach = fix(
        cause,
        format!("Attach {PULL_ONLY} to role {}", role.name),
        true,
        vec![applied(
            step(
                format!(
                    "{why} The AWS managed policy grants pulls from every repository the account can reach (what EKS recommends for node roles)."
                ),
                None,
            ),
            Apply::AttachRolePolicy {
                account,
                role: role.name.clone(),
                policy_arn,
            },
        )],
    );
    vec![scoped, attach]
}

fn boundary_fix(subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
    let (Some(role), Some(ecr)) = (pull_identity_role(subject, pull), pull.ecr.as_ref()) else {
        return Vec::new();
    };
    let Some(boundary) = &role.boundary_arn else {
        return Vec::new();
    };
    let mut steps = vec![];
    if let Fact::Known((current, false)) = subject.facts.managed_policy(boundary) {
        let proposed = documents::boundary_allowing_pull(&current, &ecr.repository_arn());
        steps.push(applied(
            document_step(
                format!("The permissions boundary {boundary} caps what role {} may do, whatever its policies allow. Add the pull actions to the boundary (a new default version).", role.name),
                Some(&current),
                &proposed,
            ),
            Apply::CreatePolicyVersion { policy_arn: boundary.clone() },
        ));
    } else {
        steps.push(step(
            format!("The permissions boundary {boundary} does not allow the pull actions; ask its owner to allow ecr:GetAuthorizationToken and the pull actions."),
            Some(format!("aws iam get-policy --policy-arn {boundary}")),
        ));
    }
    vec![fix(
        Cause::PullBoundaryDenies,
        "Let the permissions boundary allow ECR pulls",
        true,
        steps,
    )]
}

fn cross_account_fix(subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
    let (Some(role), Some(ecr)) = (pull_identity_role(subject, pull), pull.ecr.as_ref()) else {
        return Vec::new();
    };
    let key = RepoKey::of(ecr);
    let current = match subject.facts.repository_policy(&key) {
        Fact::Known(Ok(doc)) => Some(doc.clone()),
        _ => None,
    };
    let proposed = documents::repository_policy_allowing(current.as_ref(), &role.arn, &role.name);
    vec![fix(
        Cause::CrossAccountNotAllowed,
        format!(
            "Let {} pull from {} in account {}",
            role.name, ecr.repository, ecr.account
        ),
        true,
        vec![applied(
            document_step(
                format!(
                    "Across accounts the repository's owner ({}) must allow the puller in the repository policy. This adds one statement for role {} and keeps the rest.",
                    ecr.account, role.name
                ),
                current.as_ref(),
                &proposed,
            ),
            Apply::SetRepositoryPolicy {
                registry: ecr.account.clone(),
                region: ecr.region.clone(),
                repository: ecr.repository.clone(),
            },
        )],
    )]
}

/// An organization's policy is changed in its management account, never here: who to ask, and
/// the commands that show them which policy it is.
fn organization_fix(cause: Cause, link: &Link, subject: &Subject<'_>) -> Vec<Fix> {
    let role = subject
        .pull_identity
        .roles()
        .first()
        .cloned()
        .unwrap_or_default();
    let account = arn::account_of(&role).unwrap_or_else(|| "ACCOUNT".to_string());
    let list = |filter: &str| {
        format!(
            "aws organizations list-policies-for-target --target-id {} --filter {filter}",
            crate::text::shell_arg(&account)
        )
    };
    vec![fix(
        cause,
        "Ask the organization's administrators about the policy that denies the pull",
        false,
        vec![
            step(
                format!(
                    "{} Service and resource control policies live in the organization's management account: no change in account {account} lifts them. Ask the management account (or a delegated administrator) to exempt this role or repository; these list the policies on the account (and on each parent OU, from list-parents).",
                    crate::text::sentence(&link.summary)
                ),
                Some(format!(
                    "{}; {}",
                    list("SERVICE_CONTROL_POLICY"),
                    list("RESOURCE_CONTROL_POLICY")
                )),
            ),
            step(
                "Then read each policy for a Deny on ecr:* (run in the management account).",
                Some("aws organizations describe-policy --policy-id POLICY_ID".to_string()),
            ),
        ],
    )]
}
