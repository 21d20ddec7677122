//! Fixes of the app-identity lane: the ServiceAccount, its annotation, the pods that predate it,
//! the role, its trust policy and the OIDC provider.

use super::*;

/// The app-identity lane: the ServiceAccount, its annotation or association, the role, its trust and the OIDC provider.
pub(super) fn identity_fixes(
    cause: Cause,
    subject: &Subject<'_>,
    identity: &IdentityLane,
) -> Vec<Fix> {
    let (facts, ns, sa) = (
        subject.facts,
        &subject.namespace,
        &subject.service_account_name,
    );
    use Cause::*;
    match cause {
        ServiceAccountMissing => vec![fix(
            cause,
            format!("Create ServiceAccount {ns}/{sa}"),
            true,
            vec![Step {
                explain: format!(
                    "Pods name ServiceAccount {sa}, which does not exist in {ns}; the controller cannot create them until it does. If the pod should have an AWS identity, annotate it afterwards."
                ),
                command: Some(format!(
                    "kubectl -n {} create serviceaccount {}",
                    crate::text::shell_arg(&ns),
                    crate::text::shell_arg(&sa)
                )),
                document: Some(format!(
                    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {sa}\n  namespace: {ns}\n"
                )),
                diff: None,
                current: None,
                apply: None,
            }],
        )],
        RoleArnMalformed => {
            let value = match &identity.identity {
                AppIdentity::Malformed(v) => v.clone(),
                _ => String::new(),
            };
            let partition = facts.partition();
            let account = facts.account();
            let corrected =
                correct_role_arn(&value, account.as_deref().map(|a| (partition.as_str(), a)));
            let mut annotate = step(
                format!("{ROLE_ANNOTATION} must be a full role ARN; \"{value}\" is not one."),
                Some(format!(
                    "kubectl -n {} annotate serviceaccount {} {}={} --overwrite",
                    crate::text::shell_arg(&ns),
                    crate::text::shell_arg(&sa),
                    crate::text::shell_arg(&ROLE_ANNOTATION),
                    crate::text::shell_arg(
                        &corrected
                            .as_deref()
                            .unwrap_or("arn:aws:iam::ACCOUNT:role/ROLE")
                    )
                )),
            );
            // Applied only where the right ARN is clear (a bare role name in the cluster's account).
            if let Some(arn) = &corrected {
                annotate.current = Some(value.clone());
                annotate.document = Some(arn.clone());
                annotate.diff = Some(documents::diff(&format!("{value}\n"), &format!("{arn}\n")));
                annotate = applied(
                    annotate,
                    Apply::AnnotateServiceAccount {
                        namespace: ns.clone(),
                        name: sa.clone(),
                        key: ROLE_ANNOTATION.to_string(),
                    },
                );
            }
            vec![fix(
                cause,
                "Correct the role annotation",
                true,
                vec![annotate],
            )]
        }
        PodPredatesAnnotation | PodRoleMismatch => {
            let explain = "The pod identity webhook sets credentials only when a pod is created; pods created before the annotation or association keep what they had.";
            let restart = match subject.workload.as_deref().and_then(|w| w.split_once('/')) {
                Some((kind @ ("Deployment" | "StatefulSet" | "DaemonSet"), name)) => applied(
                    step(explain, None),
                    Apply::RolloutRestart {
                        namespace: ns.clone(),
                        kind: kind.to_string(),
                        name: name.to_string(),
                    },
                ),
                // A bare pod is not recreated by anyone: deleting it is for the user to decide.
                _ => step(
                    format!("{explain} Recreate the pod from its manifest."),
                    Some(format!(
                        "kubectl -n {} delete pod {} && kubectl apply -f POD_MANIFEST.yaml",
                        crate::text::shell_arg(&ns),
                        crate::text::shell_arg(pod_name(subject))
                    )),
                ),
            };
            vec![fix(
                cause,
                "Recreate the pods so the webhook injects the current identity",
                true,
                vec![restart],
            )]
        }
        RoleMissing => role_missing(identity),
        _ if cause.family() == CauseFamily::Trust => trust_fix(subject, identity, cause),
        _ => Vec::new(),
    }
}

/// The cluster's IAM OIDC provider, which STS trusts service-account tokens through.
pub(super) fn oidc_fixes(cause: Cause, subject: &Subject<'_>, identity: &IdentityLane) -> Vec<Fix> {
    let facts = subject.facts;
    use Cause::*;
    match cause {
        OidcProviderMissing => {
            let issuer = match facts.issuer() {
                Fact::Known(i) => i.to_string(),
                _ => "ISSUER_URL".to_string(),
            };
            vec![fix(
                cause,
                "Create the IAM OIDC provider for the cluster's issuer",
                true,
                vec![applied(
                    step(
                        "STS trusts a service-account token only through an IAM OIDC provider for the cluster's issuer, in the account of the role.",
                        None,
                    ),
                    Apply::CreateOpenIdConnectProvider {
                        account: identity
                            .identity
                            .role_arn()
                            .and_then(arn::account_of)
                            .unwrap_or_default(),
                        url: issuer.clone(),
                        client_id: "sts.amazonaws.com".to_string(),
                    },
                )],
            )]
        }
        OidcProviderAudienceMissing => {
            let (provider, audience) = match &identity.identity {
                AppIdentity::Irsa { role_arn, audience } => match facts.issuer() {
                    Fact::Known(i) => (
                        crate::chain::identity_lane::provider_arn(i, role_arn),
                        audience.clone(),
                    ),
                    _ => ("PROVIDER_ARN".to_string(), audience.clone()),
                },
                _ => ("PROVIDER_ARN".to_string(), "sts.amazonaws.com".to_string()),
            };
            vec![fix(
                cause,
                format!("Add the audience {audience} to the OIDC provider"),
                true,
                vec![applied(
                    step(
                        "The token's audience must be one of the provider's client IDs.",
                        None,
                    ),
                    Apply::AddClientId {
                        provider_arn: provider.clone(),
                        client_id: audience.clone(),
                    },
                )],
            )]
        }
        _ => Vec::new(),
    }
}

fn role_missing(identity: &IdentityLane) -> Vec<Fix> {
    let Some(role_arn) = identity.identity.role_arn() else {
        return Vec::new();
    };
    let name = arn::role_name_of(role_arn);
    let Some(assumer) = &identity.assumer else {
        return vec![fix(
            Cause::RoleMissing,
            format!("Create role {name}"),
            true,
            vec![step(
                "Create the role with a trust policy for this ServiceAccount.",
                Some(format!(
                    "aws iam create-role --role-name {} --assume-role-policy-document file://trust-policy.json",
                    crate::text::shell_arg(&name)
                )),
            )],
        )];
    };
    let trust = documents::new_trust_policy(assumer);
    vec![fix(
        Cause::RoleMissing,
        format!("Create role {name} for this ServiceAccount"),
        true,
        vec![applied(
            document_step(
                format!(
                    "The ServiceAccount names role {name}, which does not exist. Create it with a trust policy for exactly this ServiceAccount, then attach the permissions the application needs."
                ),
                None,
                &trust,
            ),
            Apply::CreateRole {
                account: arn::account_of(role_arn).unwrap_or_default(),
                role: name.clone(),
                permissions_boundary: None,
            },
        )],
    )]
}

fn trust_fix(subject: &Subject<'_>, identity: &IdentityLane, cause: Cause) -> Vec<Fix> {
    let (Some(role_arn), Some(assumer)) = (identity.identity.role_arn(), &identity.assumer) else {
        return Vec::new();
    };
    let Fact::Known(role) = subject.facts.role(role_arn) else {
        return Vec::new();
    };
    let Ok(current) = &role.trust else {
        return Vec::new();
    };
    let proposed = documents::corrected_trust_policy(current, assumer);
    let who = match assumer {
        crate::chain::trust::Assumer::Irsa { subject, .. } => subject.clone(),
        crate::chain::trust::Assumer::PodIdentity { .. } => "EKS Pod Identity".to_string(),
    };
    vec![fix(
        cause,
        format!("Let {who} assume role {}", role.name),
        true,
        vec![applied(
            document_step(
                "Edit the one statement that comes closest, keeping every other statement as it is.",
                Some(current),
                &proposed,
            ),
            Apply::UpdateAssumeRolePolicy {
                account: arn::account_of(&role.arn).unwrap_or_default(),
                role: role.name.clone(),
            },
        )],
    )]
}

/// A well-formed ARN from a bare role name or a padded ARN.
pub(super) fn correct_role_arn(value: &str, account: Option<(&str, &str)>) -> Option<String> {
    let trimmed = value.trim().trim_matches('"');
    if arn::is_well_formed_role_arn(trimmed) {
        return Some(trimmed.to_string());
    }
    if !trimmed.contains(':') && !trimmed.is_empty() {
        let name = trimmed.trim_start_matches("role/");
        return account.map(|(partition, a)| arn::iam(partition, a, &format!("role/{name}")));
    }
    None
}
