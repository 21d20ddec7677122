//! What a plan may write, checked before it is shown or applied — above all a plan read from a
//! file, which anyone could have edited. A fix may make only the calls, and add only the
//! statements, that a fix of its cause makes; a setup only those of one app's identity (its
//! role, its trust, its ServiceAccount) and its images' pull. Anything wider refuses the plan
//! whole.
//!
//! [`check`] is the only way to obtain a [`Checked`] plan, and a `Checked` plan is the only thing
//! the writer carries out: a plan that skipped the guard does not compile.
//!
//! ```compile_fail
//! # async fn f(writer: &pulldoctor::fix::apply::Writer, plan: pulldoctor::fix::write_plan::Plan) {
//! // An unchecked plan is not what `apply` takes:
//! let _ = pulldoctor::fix::apply::pending(writer, &plan).await;
//! # }
//! ```
//!
//! ```compile_fail
//! # fn f(plan: pulldoctor::fix::write_plan::Plan) {
//! // Nor can one be made outside the guard:
//! let _ = pulldoctor::fix::guard::Checked(plan);
//! # }
//! ```
//!
//! ```no_run
//! # async fn f(writer: &pulldoctor::fix::apply::Writer, plan: pulldoctor::fix::write_plan::Plan) {
//! // The guard's answer is:
//! let checked = pulldoctor::fix::guard::check(plan).unwrap();
//! let _ = pulldoctor::fix::apply::pending(writer, &checked).await;
//! # }
//! ```

use super::write_plan::{Plan, Purpose, SetupScope, Write};
use crate::chain::access::{CREATE_ACTION, IMPORT_ACTION, PULL_ACTIONS, TOKEN_ACTION};
use crate::chain::trust::{POD_IDENTITY_SERVICE, WEB_IDENTITY};
use crate::iam::managed::{PULL_ONLY, READ_ONLY};
use crate::iam::policy::{Effect, PolicyDocument, Statement};
use crate::report::{Apply, Cause, CauseFamily};

/// A plan the guard passed: what [`super::apply`] carries out. Only [`check`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked(Plan);

impl Checked {
    pub fn plan(&self) -> &Plan {
        &self.0
    }
}

/// Read access only: a checked plan cannot be changed after the guard passed it.
impl std::ops::Deref for Checked {
    type Target = Plan;
    fn deref(&self) -> &Plan {
        &self.0
    }
}

/// The kinds of document a fix writes, each with its own rules for added statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// An identity policy or boundary of the pull identity: ECR pull actions only.
    Pull,
    /// A trust policy: this cluster's provider or the Pod Identity service, nothing wider.
    Trust,
    /// A repository policy: the pull actions for named principals.
    Repository,
    /// A VPC endpoint's policy: the pull's calls for named principals.
    Endpoint,
}

/// Refuses a plan that is not what its purpose writes; passes the rest as [`Checked`].
pub fn check(plan: Plan) -> Result<Checked, String> {
    for write in &plan.writes {
        let checked = match &plan.purpose {
            Purpose::Fix(cause) => check_write(*cause, write),
            Purpose::Setup(scope) => check_setup_write(scope, write),
        };
        checked.map_err(|why| {
            let purpose = match &plan.purpose {
                Purpose::Fix(cause) => format!("no fix of {cause}"),
                Purpose::Setup(scope) => format!(
                    "no setup of ServiceAccount {}/{}",
                    scope.namespace, scope.service_account
                ),
            };
            format!(
                "refused: {} on {}: {why}; {purpose} writes that",
                write.apply.call(),
                write.apply.target()
            )
        })?;
    }
    Ok(Checked(plan))
}

/// The policy name a setup gives the app's own permissions.
pub const APP_POLICY_NAME: &str = "app";

/// A setup writes: its role (created with a trust policy for its ServiceAccount alone, or that
/// trust added), the app's own policy on that role within [`app_policy_rails`], the pull
/// identities' scoped pull policy, repository policies letting them pull, the cluster's OIDC
/// provider, and its ServiceAccount or Pod Identity association naming its role.
fn check_setup_write(scope: &SetupScope, write: &Write) -> Result<(), String> {
    let setup_role = crate::iam::arn::role_name_of(&scope.role_arn);
    let setup_account = crate::iam::arn::account_of(&scope.role_arn);
    let own_role = |account: &str, role: &str| {
        if role == setup_role && setup_account.as_deref() == Some(account) {
            Ok(())
        } else {
            Err(format!(
                "role {role} of account {account} is not the setup's role {}",
                scope.role_arn
            ))
        }
    };
    let own_account = |namespace: &str, name: &str| {
        if namespace == scope.namespace && name == scope.service_account {
            Ok(())
        } else {
            Err(format!(
                "ServiceAccount {namespace}/{name} is not the setup's"
            ))
        }
    };
    let names_role = |arn: &str| {
        if arn == scope.role_arn {
            Ok(())
        } else {
            Err(format!("{arn} is not the setup's role"))
        }
    };
    match &write.apply {
        Apply::CreateRole { account, role, .. }
        | Apply::UpdateAssumeRolePolicy { account, role } => {
            own_role(account, role)?;
            document(write, Family::Trust)?;
            setup_trust(scope, write)
        }
        Apply::PutRolePolicy {
            account,
            role,
            policy_name,
        } if policy_name == APP_POLICY_NAME => {
            own_role(account, role)?;
            let after = write.after.as_deref().ok_or("the plan has no document")?;
            let policy = PolicyDocument::from_text(after)
                .map_err(|e| format!("the document does not parse: {}", e.0))?;
            match app_policy_rails(&policy).first() {
                Some(why) => Err(why.clone()),
                None => Ok(()),
            }
        }
        Apply::PutRolePolicy { policy_name, .. }
            if policy_name == super::documents::SCOPED_POLICY_NAME =>
        {
            document(write, Family::Pull)
        }
        Apply::SetRepositoryPolicy { .. } => document(write, Family::Repository),
        Apply::CreateOpenIdConnectProvider { .. } => check_write(Cause::OidcProviderMissing, write),
        Apply::ApplyServiceAccount {
            namespace,
            name,
            role_arn,
        } => {
            own_account(namespace, name)?;
            role_arn.as_deref().map_or(Ok(()), names_role)
        }
        Apply::CreatePodIdentityAssociation {
            namespace,
            service_account,
            role_arn,
            ..
        } => {
            own_account(namespace, service_account)?;
            names_role(role_arn)
        }
        _ => Err("this call".to_string()),
    }
}

/// A setup's trust statements that name a ServiceAccount name the setup's alone.
fn setup_trust(scope: &SetupScope, write: &Write) -> Result<(), String> {
    let wanted = format!(
        "system:serviceaccount:{}:{}",
        scope.namespace, scope.service_account
    );
    let after = write.after.as_deref().unwrap_or_default();
    let document = PolicyDocument::from_text(after).map_err(|e| e.0)?;
    let before = write
        .before
        .as_deref()
        .and_then(|b| PolicyDocument::from_text(b).ok())
        .map(|d| d.statements)
        .unwrap_or_default();
    for statement in document.statements.iter().filter(|s| !before.contains(s)) {
        let subjects = statement
            .condition
            .values()
            .flat_map(|keys| keys.iter())
            .filter(|(key, _)| key.ends_with(":sub"))
            .flat_map(|(_, values)| values.iter());
        if let Some(other) = subjects.into_iter().find(|s| *s != wanted) {
            return Err(format!("it trusts {other}, not {wanted}"));
        }
    }
    Ok(())
}

/// The read calls pulldoctor's own agent makes, as `deploy/iam-policy.json` grants them: a
/// statement of these alone may name every resource, so the wizard can set up pulldoctor's role.
fn agent_reads() -> &'static std::collections::BTreeSet<String> {
    static READS: std::sync::LazyLock<std::collections::BTreeSet<String>> =
        std::sync::LazyLock::new(|| {
            let text = include_str!("../../deploy/iam-policy.json");
            // Unreadable, it would allow nothing more: the rails fail closed.
            PolicyDocument::from_text(text)
                .map(|policy| {
                    policy
                        .statements
                        .iter()
                        .flat_map(|s| s.action.iter().flat_map(|a| a.iter()))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        });
    &READS
}

/// The app's own policy: no `*` in actions or resources (but the resource of
/// `ecr:GetAuthorizationToken`, and of the read calls pulldoctor's agent makes), no `NotAction`
/// or `NotResource`. One line per statement that breaks them.
pub fn app_policy_rails(policy: &PolicyDocument) -> Vec<String> {
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
        let only_token = !actions.is_empty() && actions.iter().all(|a| *a == TOKEN_ACTION);
        let only_agent_reads =
            !actions.is_empty() && actions.iter().all(|a| agent_reads().contains(*a));
        let wild = s.not_resource.is_some()
            || s.resource
                .iter()
                .flat_map(|r| r.iter())
                .any(|r| r == "*" || r.ends_with(":*"));
        if wild && !only_token && !only_agent_reads {
            errors.push(format!(
                "statement {}: name the resources; * is only for ecr:GetAuthorizationToken and pulldoctor's own reads (deploy/iam-policy.json)",
                i + 1
            ));
        }
    }
    errors
}

fn check_write(cause: Cause, write: &Write) -> Result<(), String> {
    use Cause::*;
    let pull = cause.family() == CauseFamily::PullGrant;
    let trust = cause.family() == CauseFamily::Trust;
    match (&write.apply, cause) {
        (Apply::PutRolePolicy { .. }, _) if pull => document(write, Family::Pull),
        (Apply::AttachRolePolicy { policy_arn, .. }, _) if pull => {
            let name = policy_arn.rsplit('/').next().unwrap_or_default();
            let managed = policy_arn.contains(":iam::aws:policy/");
            if managed && (name == PULL_ONLY || name == READ_ONLY) {
                Ok(())
            } else {
                Err(format!(
                    "{policy_arn} is not an AWS managed ECR pull policy"
                ))
            }
        }
        (Apply::CreatePolicyVersion { .. }, PullBoundaryDenies) => document(write, Family::Pull),
        (Apply::UpdateAssumeRolePolicy { .. }, _) if trust => document(write, Family::Trust),
        (Apply::CreateRole { .. }, RoleMissing) => document(write, Family::Trust),
        (Apply::RestoreImage { .. }, ImageArchived) => Ok(()),
        (Apply::SetRepositoryPolicy { .. }, CrossAccountNotAllowed) => {
            document(write, Family::Repository)
        }
        (Apply::CreateOpenIdConnectProvider { url, client_id, .. }, OidcProviderMissing) => {
            let host = url.trim_start_matches("https://");
            if host.starts_with("oidc.eks.")
                && !url.contains('*')
                && client_id == "sts.amazonaws.com"
            {
                Ok(())
            } else {
                Err(format!(
                    "{url} with audience {client_id} is not an EKS issuer and STS"
                ))
            }
        }
        (Apply::AddClientId { client_id, .. }, OidcProviderAudienceMissing) => {
            if client_id.is_empty() || client_id.contains('*') {
                Err(format!("audience {client_id:?}"))
            } else {
                Ok(())
            }
        }
        (Apply::AnnotateServiceAccount { key, .. }, RoleArnMalformed) => {
            let value = write.after.as_deref().unwrap_or_default();
            if key == crate::chain::identity_lane::ROLE_ANNOTATION
                && crate::iam::arn::is_well_formed_role_arn(value)
            {
                Ok(())
            } else {
                Err(format!("annotation {key} = {value:?} is not a role ARN"))
            }
        }
        (Apply::RolloutRestart { .. }, PodPredatesAnnotation | PodRoleMismatch) => Ok(()),
        (
            Apply::CreateGatewayEndpoint {
                service_name,
                route_table_ids,
                ..
            },
            VpcEndpointMissing,
        ) => {
            let s3 = service_name.starts_with("com.amazonaws.") && service_name.ends_with(".s3");
            if s3 && !route_table_ids.is_empty() && write.after.is_none() {
                Ok(())
            } else {
                Err(format!(
                    "{service_name} is not an S3 gateway endpoint on a route table"
                ))
            }
        }
        (Apply::ModifyVpcEndpoint { .. }, VpcEndpointPolicyDenies) => {
            endpoint_change(&write.apply, EndpointChange::Policy)?;
            document(write, Family::Endpoint)
        }
        (Apply::ModifyVpcEndpoint { .. }, S3GatewayNotOnRouteTable) => {
            endpoint_change(&write.apply, EndpointChange::RouteTable)
        }
        (Apply::ModifyVpcEndpoint { .. }, VpcEndpointNotInAz) => {
            endpoint_change(&write.apply, EndpointChange::Subnet)
        }
        (Apply::ModifyVpcEndpoint { .. }, VpcEndpointPrivateDnsDisabled) => {
            endpoint_change(&write.apply, EndpointChange::PrivateDns)
        }
        (Apply::AllowHttpsIngress { cidr, .. }, VpcEndpointSecurityGroupBlocks) => {
            // A subnet's block, never the whole internet.
            match cidr
                .split_once('/')
                .map(|(ip, bits)| (ip.parse::<std::net::Ipv4Addr>(), bits.parse::<u8>()))
            {
                Some((Ok(_), Ok(bits))) if (16..=32).contains(&bits) => Ok(()),
                _ => Err(format!("{cidr} is wider than a subnet")),
            }
        }
        _ => Err("this call".to_string()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndpointChange {
    RouteTable,
    Subnet,
    PrivateDns,
    Policy,
}

/// An endpoint change makes exactly the one change its cause needs.
fn endpoint_change(apply: &Apply, wanted: EndpointChange) -> Result<(), String> {
    let Apply::ModifyVpcEndpoint {
        add_route_table_ids,
        add_subnet_ids,
        enable_private_dns,
        policy,
        ..
    } = apply
    else {
        return Err("this call".into());
    };
    let made: Vec<EndpointChange> = [
        (!add_route_table_ids.is_empty(), EndpointChange::RouteTable),
        (!add_subnet_ids.is_empty(), EndpointChange::Subnet),
        (*enable_private_dns, EndpointChange::PrivateDns),
        (*policy, EndpointChange::Policy),
    ]
    .into_iter()
    .filter_map(|(on, change)| on.then_some(change))
    .collect();
    if made == [wanted] {
        Ok(())
    } else {
        Err(format!(
            "it changes {made:?} of the endpoint, not {wanted:?} alone"
        ))
    }
}

/// The statements `after` adds to `before` obey the family's rules, and no deny is dropped.
fn document(write: &Write, family: Family) -> Result<(), String> {
    let parse = |text: &str| {
        PolicyDocument::from_text(text).map_err(|e| format!("the document does not parse: {}", e.0))
    };
    let after = parse(write.after.as_deref().ok_or("the plan has no document")?)?;
    let before = match write.before.as_deref() {
        Some(text) => parse(text)?.statements,
        None => Vec::new(),
    };
    if let Some(dropped) = before
        .iter()
        .find(|s| s.effect == Effect::Deny && !after.statements.contains(s))
    {
        return Err(format!(
            "it removes a Deny statement ({})",
            dropped.sid.as_deref().unwrap_or("without a Sid")
        ));
    }
    for statement in after.statements.iter().filter(|s| !before.contains(s)) {
        let rule = match family {
            Family::Pull => pull_statement(statement),
            Family::Trust => trust_statement(statement),
            Family::Repository => repository_statement(statement),
            Family::Endpoint => endpoint_statement(statement),
        };
        rule.map_err(|why| {
            format!(
                "statement {} {why}",
                statement.sid.as_deref().unwrap_or("without a Sid")
            )
        })?;
    }
    Ok(())
}

fn plain_allow(s: &Statement) -> Result<(), String> {
    if s.effect != Effect::Allow {
        return Err("is not an Allow".into());
    }
    if s.not_action.is_some() || s.not_resource.is_some() || s.not_principal.is_some() {
        return Err("uses NotAction, NotResource or NotPrincipal".into());
    }
    Ok(())
}

fn actions(s: &Statement) -> Vec<&str> {
    s.action
        .as_ref()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn only_actions(s: &Statement, allowed: &[&str]) -> Result<(), String> {
    match actions(s)
        .into_iter()
        .find(|a| !allowed.iter().any(|x| x.eq_ignore_ascii_case(a)))
    {
        Some(other) => Err(format!("allows {other}")),
        None => Ok(()),
    }
}

fn pull_statement(s: &Statement) -> Result<(), String> {
    plain_allow(s)?;
    if s.principal.is_some() {
        return Err("names a principal".into());
    }
    let mut allowed: Vec<&str> = PULL_ACTIONS.to_vec();
    allowed.extend([
        TOKEN_ACTION,
        IMPORT_ACTION,
        CREATE_ACTION,
        "ecr:BatchCheckLayerAvailability",
    ]);
    only_actions(s, &allowed)?;
    let token_only = actions(s)
        .iter()
        .all(|a| a.eq_ignore_ascii_case(TOKEN_ACTION));
    let resources: Vec<&str> = s
        .resource
        .as_ref()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    for resource in resources {
        let repository = resource.contains(":ecr:")
            && resource.contains(":repository/")
            && !resource.contains('*');
        if !(repository || token_only && resource == "*") {
            return Err(format!("applies to {resource}"));
        }
    }
    Ok(())
}

fn trust_statement(s: &Statement) -> Result<(), String> {
    plain_allow(s)?;
    let principal = s.principal.as_ref().ok_or("names no principal")?;
    if principal.is_wildcard() || !principal.values("AWS").is_empty() {
        return Err("trusts an AWS principal".into());
    }
    let federated = principal.values("Federated");
    let services = principal.values("Service");
    if !federated.is_empty() {
        if !services.is_empty()
            || federated
                .iter()
                .any(|f| !f.contains(":oidc-provider/oidc.eks."))
        {
            return Err("trusts a provider other than an EKS OIDC provider".into());
        }
        only_actions(s, &[WEB_IDENTITY])?;
        let has_subject = s
            .condition
            .values()
            .flat_map(|keys| keys.keys())
            .any(|k| k.ends_with(":sub"));
        if !has_subject {
            return Err("lets any ServiceAccount of the cluster in (no :sub condition)".into());
        }
        return Ok(());
    }
    if services.iter().all(|s| *s == POD_IDENTITY_SERVICE) && !services.is_empty() {
        return only_actions(s, &["sts:AssumeRole", "sts:TagSession"]);
    }
    Err("trusts a principal no fix trusts".into())
}

/// The statement is for named AWS principals only: no `*`, no wildcard in an ARN.
fn named_principal(s: &Statement) -> Result<(), String> {
    let principal = s.principal.as_ref().ok_or("names no principal")?;
    let aws = principal.values("AWS");
    if principal.is_wildcard() || aws.is_empty() || aws.iter().any(|p| p.contains('*')) {
        return Err("is not for a named role".into());
    }
    Ok(())
}

fn repository_statement(s: &Statement) -> Result<(), String> {
    plain_allow(s)?;
    named_principal(s)?;
    let mut allowed: Vec<&str> = PULL_ACTIONS.to_vec();
    allowed.push("ecr:BatchCheckLayerAvailability");
    only_actions(s, &allowed)
}

/// An endpoint policy's added statement: the pull's calls for a named principal, on the
/// repository, `*` for the token, ECR's layer bucket for S3.
fn endpoint_statement(s: &Statement) -> Result<(), String> {
    plain_allow(s)?;
    // ECR signs the layer URLs, so the layer bucket's statement names every principal, as AWS's
    // own example does; every other statement names one.
    let layer_bucket = |r: &str| {
        r.starts_with("arn:aws")
            && r.contains(":s3:::prod-")
            && r.ends_with("-starport-layer-bucket/*")
    };
    let layers_only = actions(s)
        .iter()
        .all(|a| a.eq_ignore_ascii_case("s3:GetObject"))
        && s.resource
            .as_ref()
            .is_some_and(|r| r.iter().all(layer_bucket));
    if !layers_only {
        named_principal(s)?;
    }
    let mut allowed: Vec<&str> = PULL_ACTIONS.to_vec();
    allowed.extend([
        TOKEN_ACTION,
        "ecr:BatchCheckLayerAvailability",
        "s3:GetObject",
    ]);
    only_actions(s, &allowed)?;
    let all = actions(s);
    let only = |a: &str| all.iter().all(|x| x.eq_ignore_ascii_case(a));
    for resource in s.resource.as_ref().map(|r| r.iter()).into_iter().flatten() {
        let repository = resource.contains(":ecr:")
            && resource.contains(":repository/")
            && !resource.contains('*');
        let token = only(TOKEN_ACTION) && resource == "*";
        let layers = only("s3:GetObject") && layer_bucket(resource);
        if !(repository || token || layers) {
            return Err(format!("applies to {resource}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(apply: Apply, before: Option<serde_json::Value>, after: serde_json::Value) -> Write {
        Write {
            apply,
            before: before.map(|b| b.to_string()),
            after: Some(after.to_string()),
            diff: None,
        }
    }

    fn put() -> Apply {
        Apply::PutRolePolicy {
            account: "111122223333".into(),
            role: "node".into(),
            policy_name: "pulldoctor-ecr-pull".into(),
        }
    }

    const REPO: &str = "arn:aws:ecr:us-east-1:111122223333:repository/shop/web";

    #[test]
    fn pull_fixes_write_only_pull_statements() {
        let good = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "EcrAuthToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {"Sid": "EcrPull", "Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": REPO}]});
        assert_eq!(
            check_write(Cause::PullPermissionMissing, &write(put(), None, good)),
            Ok(())
        );
        let cases = [
            json!({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            json!({"Effect": "Allow", "Action": "ecr:*", "Resource": REPO}),
            json!({"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}),
            json!({"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/*"}),
            json!({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}),
            json!({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
        ];
        for statement in cases {
            let doc = json!({"Version": "2012-10-17", "Statement": [statement]});
            assert!(
                check_write(
                    Cause::PullPermissionMissing,
                    &write(put(), None, doc.clone())
                )
                .is_err(),
                "{doc}"
            );
        }
        // A deny the role had is never dropped.
        let deny = json!({"Sid": "NoProd", "Effect": "Deny", "Action": "ecr:*", "Resource": REPO});
        let before = json!({"Version": "2012-10-17", "Statement": [deny]});
        let after = json!({"Version": "2012-10-17", "Statement": []});
        let refused = check_write(
            Cause::PullPermissionMissing,
            &write(put(), Some(before), after),
        );
        assert!(refused.unwrap_err().contains("removes a Deny"));
    }

    #[test]
    fn a_call_no_fix_of_the_cause_makes_is_refused() {
        let trust = Apply::UpdateAssumeRolePolicy {
            account: "111122223333".into(),
            role: "node".into(),
        };
        let doc = json!({"Version": "2012-10-17", "Statement": []});
        assert!(
            check_write(
                Cause::PullPermissionMissing,
                &write(trust, None, doc.clone())
            )
            .is_err()
        );
        let attach = Apply::AttachRolePolicy {
            account: "111122223333".into(),
            role: "node".into(),
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
        };
        assert!(check_write(Cause::PullPermissionMissing, &write(attach, None, doc)).is_err());
    }

    #[test]
    fn trust_fixes_trust_only_this_cluster_or_pod_identity() {
        let apply = || Apply::UpdateAssumeRolePolicy {
            account: "111122223333".into(),
            role: "app".into(),
        };
        let provider =
            "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC";
        let good = json!({"Statement": [{"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:shop:web"}}}]});
        assert_eq!(
            check_write(Cause::TrustWrongSubject, &write(apply(), None, good)),
            Ok(())
        );
        let bad = [
            json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
            json!({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity"}),
            json!({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        ];
        for statement in bad {
            let doc = json!({"Statement": [statement]});
            assert!(
                check_write(Cause::TrustWrongSubject, &write(apply(), None, doc.clone())).is_err(),
                "{doc}"
            );
        }
    }

    fn endpoint(route_tables: &[&str], subnets: &[&str], dns: bool, policy: bool) -> Apply {
        Apply::ModifyVpcEndpoint {
            region: "us-east-1".into(),
            vpc_endpoint_id: "vpce-1".into(),
            add_route_table_ids: route_tables.iter().map(|t| t.to_string()).collect(),
            add_subnet_ids: subnets.iter().map(|t| t.to_string()).collect(),
            enable_private_dns: dns,
            policy,
        }
    }

    #[test]
    fn network_fixes_make_their_one_change_and_open_nothing_wider() {
        let bare = |apply: Apply| Write {
            apply,
            before: None,
            after: None,
            diff: None,
        };
        let table = bare(endpoint(&["rtb-1"], &[], false, false));
        assert_eq!(check_write(Cause::S3GatewayNotOnRouteTable, &table), Ok(()));
        // The same call for another cause, or with a second change, is refused.
        assert!(check_write(Cause::VpcEndpointNotInAz, &table).is_err());
        let two = bare(endpoint(&["rtb-1"], &["subnet-1"], false, false));
        assert!(check_write(Cause::S3GatewayNotOnRouteTable, &two).is_err());
        let dns = bare(endpoint(&[], &[], true, false));
        assert_eq!(
            check_write(Cause::VpcEndpointPrivateDnsDisabled, &dns),
            Ok(())
        );
        // 443 from a subnet, never from everywhere.
        let ingress = |cidr: &str| {
            bare(Apply::AllowHttpsIngress {
                region: "us-east-1".into(),
                group_id: "sg-1".into(),
                cidr: cidr.into(),
            })
        };
        let cause = Cause::VpcEndpointSecurityGroupBlocks;
        assert_eq!(check_write(cause, &ingress("10.0.1.0/24")), Ok(()));
        for wide in ["0.0.0.0/0", "10.0.0.0/8", "not-a-block"] {
            assert!(check_write(cause, &ingress(wide)).is_err(), "{wide}");
        }
        // A gateway endpoint for S3 only.
        let create = |service: &str| {
            bare(Apply::CreateGatewayEndpoint {
                region: "us-east-1".into(),
                vpc_id: "vpc-1".into(),
                service_name: service.into(),
                route_table_ids: vec!["rtb-1".into()],
            })
        };
        let missing = Cause::VpcEndpointMissing;
        assert_eq!(
            check_write(missing, &create("com.amazonaws.us-east-1.s3")),
            Ok(())
        );
        assert!(check_write(missing, &create("com.amazonaws.vpce.us-east-1.vpce-svc-1")).is_err());
    }

    #[test]
    fn endpoint_policy_fixes_add_the_pull_for_a_named_role_only() {
        let before = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/platform/*"},
            {"Sid": "NoDelete", "Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository", "Resource": "*"}]});
        let with = |added: serde_json::Value| {
            let mut after = before.clone();
            after["Statement"].as_array_mut().unwrap().push(added);
            write(endpoint(&[], &[], false, true), Some(before.clone()), after)
        };
        let cause = Cause::VpcEndpointPolicyDenies;
        let role = json!({"AWS": "arn:aws:iam::111122223333:role/node"});
        let good = json!({"Effect": "Allow", "Principal": role, "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": REPO});
        assert_eq!(check_write(cause, &with(good)), Ok(()));
        let layers = json!({"Effect": "Allow", "Principal": role, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"});
        assert_eq!(check_write(cause, &with(layers)), Ok(()));
        // ECR signs the layer URLs: the layer bucket's statement may name every principal.
        let any_layers = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"});
        assert_eq!(check_write(cause, &with(any_layers)), Ok(()));
        for wider in [
            json!({"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": REPO}),
            json!({"Effect": "Allow", "Principal": role, "Action": "ecr:*", "Resource": REPO}),
            json!({"Effect": "Allow", "Principal": role, "Action": "s3:GetObject", "Resource": "*"}),
            json!({"Effect": "Allow", "Principal": role, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"}),
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other-bucket/*"}),
            json!({"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"}),
        ] {
            assert!(check_write(cause, &with(wider.clone())).is_err(), "{wider}");
        }
        // Dropping the deny is refused.
        let after = json!({"Version": "2012-10-17", "Statement": []});
        let dropped = write(endpoint(&[], &[], false, true), Some(before.clone()), after);
        assert!(
            check_write(cause, &dropped)
                .unwrap_err()
                .contains("removes a Deny")
        );
    }
}
