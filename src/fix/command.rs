//! The command line of each write, defined once: what a fix's step shows for the user to paste,
//! and what the wizard's exported script runs. Every value is shell-quoted (tenant and AWS text
//! is hostile), so a pasted command does what the plan says and nothing else.

use crate::report::{Apply, Finding};
use crate::text::shell_arg;

/// The file a write's document is read from on the command line, when it has none of its own
/// (the wizard names files per role and repository).
pub fn default_file(apply: &Apply) -> String {
    match apply {
        Apply::PutRolePolicy { policy_name, .. } => format!("{policy_name}.json"),
        Apply::UpdateAssumeRolePolicy { .. } | Apply::CreateRole { .. } => {
            "trust-policy.json".into()
        }
        Apply::CreatePolicyVersion { .. } => "boundary.json".into(),
        Apply::SetRepositoryPolicy { .. } => "repository-policy.json".into(),
        Apply::ApplyServiceAccount { .. } => "serviceaccount.yaml".into(),
        _ => "endpoint-policy.json".into(),
    }
}

/// The command that makes `apply`: `file` holds its document (a policy, a manifest); `value` is
/// an annotation's new value.
pub fn line(apply: &Apply, file: &str, value: Option<&str>) -> String {
    let q = |s: &str| shell_arg(s);
    let file_url = q(&format!("file://{file}"));
    match apply {
        Apply::PutRolePolicy {
            role, policy_name, ..
        } => format!(
            "aws iam put-role-policy --role-name {} --policy-name {} --policy-document {file_url}",
            q(role),
            q(policy_name)
        ),
        Apply::AttachRolePolicy {
            role, policy_arn, ..
        } => format!(
            "aws iam attach-role-policy --role-name {} --policy-arn {}",
            q(role),
            q(policy_arn)
        ),
        Apply::UpdateAssumeRolePolicy { role, .. } => format!(
            "aws iam update-assume-role-policy --role-name {} --policy-document {file_url}",
            q(role)
        ),
        Apply::CreateRole {
            role,
            permissions_boundary,
            ..
        } => {
            let boundary = permissions_boundary
                .as_deref()
                .map(|b| format!(" --permissions-boundary {}", q(b)))
                .unwrap_or_default();
            format!(
                "aws iam create-role --role-name {} --assume-role-policy-document {file_url}{boundary}",
                q(role)
            )
        }
        Apply::CreatePolicyVersion { policy_arn } => format!(
            "aws iam create-policy-version --policy-arn {} --policy-document {file_url} --set-as-default",
            q(policy_arn)
        ),
        Apply::CreateOpenIdConnectProvider { url, client_id, .. } => format!(
            "aws iam create-open-id-connect-provider --url {} --client-id-list {}",
            q(url),
            q(client_id)
        ),
        Apply::AddClientId {
            provider_arn,
            client_id,
        } => format!(
            "aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {} --client-id {}",
            q(provider_arn),
            q(client_id)
        ),
        Apply::SetRepositoryPolicy {
            registry,
            region,
            repository,
        } => format!(
            "aws ecr set-repository-policy --registry-id {} --region {} --repository-name {} --policy-text {file_url}",
            q(registry),
            q(region),
            q(repository)
        ),
        Apply::RestoreImage {
            registry,
            region,
            repository,
            digest,
        } => format!(
            "aws ecr update-image-storage-class --registry-id {} --region {} --repository-name {} --image-id {} --target-storage-class STANDARD",
            q(registry),
            q(region),
            q(repository),
            q(&format!("imageDigest={digest}"))
        ),
        Apply::AnnotateServiceAccount {
            namespace,
            name,
            key,
        } => format!(
            "kubectl -n {} annotate serviceaccount {} {}={} --overwrite",
            q(namespace),
            q(name),
            q(key),
            q(value.unwrap_or("VALUE"))
        ),
        Apply::RolloutRestart {
            namespace,
            kind,
            name,
        } => format!(
            "kubectl -n {} rollout restart {}/{}",
            q(namespace),
            q(&kind.to_lowercase()),
            q(name)
        ),
        Apply::ApplyServiceAccount { .. } => format!("kubectl apply -f {}", q(file)),
        Apply::CreatePodIdentityAssociation {
            cluster,
            namespace,
            service_account,
            role_arn,
        } => format!(
            "aws eks create-pod-identity-association --cluster-name {} --namespace {} --service-account {} --role-arn {}",
            q(cluster),
            q(namespace),
            q(service_account),
            q(role_arn)
        ),
        Apply::CreateGatewayEndpoint {
            region,
            vpc_id,
            service_name,
            route_table_ids,
        } => format!(
            "aws ec2 create-vpc-endpoint --region {} --vpc-id {} --service-name {} --vpc-endpoint-type Gateway --route-table-ids {}",
            q(region),
            q(vpc_id),
            q(service_name),
            words(route_table_ids)
        ),
        Apply::ModifyVpcEndpoint { .. } => modify_endpoint(apply, &file_url),
        Apply::AllowHttpsIngress {
            region,
            group_id,
            cidr,
        } => format!(
            "aws ec2 authorize-security-group-ingress --region {} --group-id {} --protocol tcp --port 443 --cidr {}",
            q(region),
            q(group_id),
            q(cidr)
        ),
    }
}

/// `modify-vpc-endpoint` with the one change the write makes.
fn modify_endpoint(apply: &Apply, file_url: &str) -> String {
    let Apply::ModifyVpcEndpoint {
        region,
        vpc_endpoint_id,
        add_route_table_ids,
        add_subnet_ids,
        enable_private_dns,
        policy,
    } = apply
    else {
        return String::new();
    };
    let mut out = format!(
        "aws ec2 modify-vpc-endpoint --region {} --vpc-endpoint-id {}",
        shell_arg(region),
        shell_arg(vpc_endpoint_id)
    );
    if !add_route_table_ids.is_empty() {
        out.push_str(&format!(
            " --add-route-table-ids {}",
            words(add_route_table_ids)
        ));
    }
    if !add_subnet_ids.is_empty() {
        out.push_str(&format!(" --add-subnet-ids {}", words(add_subnet_ids)));
    }
    if *enable_private_dns {
        out.push_str(" --private-dns-enabled");
    }
    if *policy {
        out.push_str(&format!(" --policy-document {file_url}"));
    }
    out
}

/// Several values, each quoted, as separate words.
fn words(values: &[String]) -> String {
    values.iter().map(shell_arg).collect::<Vec<_>>().join(" ")
}

/// The commands of the chosen fix of a finding, as a shell snippet to paste.
pub fn script(f: &Finding, choice: usize) -> String {
    use crate::text::escape_line;
    let mut out = format!(
        "# pulldoctor: {} ({})\n",
        escape_line(&f.subject()),
        f.cause.map(|c| c.as_str()).unwrap_or("-")
    );
    // The one fix chosen: pasting alternatives one after the other would apply them all.
    if let Some(fix) = f.fixes.get(choice) {
        out.push_str(&format!("\n# {}\n", escape_line(&fix.title)));
        for step in &fix.steps {
            if let Some(script) = step.script() {
                out.push_str(&script);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_stay_one_word() {
        let apply = Apply::CreatePolicyVersion {
            policy_arn: "arn:aws:iam::1:policy/b; rm -rf ~".into(),
        };
        let command = line(&apply, "boundary.json", None);
        assert_eq!(
            shlex::split(&command).unwrap(),
            [
                "aws",
                "iam",
                "create-policy-version",
                "--policy-arn",
                "arn:aws:iam::1:policy/b; rm -rf ~",
                "--policy-document",
                "file://boundary.json",
                "--set-as-default"
            ]
        );
        let annotate = Apply::AnnotateServiceAccount {
            namespace: "shop".into(),
            name: "web $(id)".into(),
            key: "eks.amazonaws.com/role-arn".into(),
        };
        let words = shlex::split(&line(&annotate, "", Some("arn:aws:iam::1:role/x'y"))).unwrap();
        assert_eq!(words[5], "web $(id)");
        assert_eq!(
            words[6],
            "eks.amazonaws.com/role-arn=arn:aws:iam::1:role/x'y"
        );
    }
}
