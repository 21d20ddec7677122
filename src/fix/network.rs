//! Fixes of the observed network path, from its typed hops: the real ids filled in and quoted,
//! applied with `--allow-writes` where one EC2 call repairs the hop (an endpoint's route table,
//! subnet, private DNS or policy; an S3 gateway endpoint; 443 into an endpoint's security group).
//! Routes, NAT gateways, network ACLs and the VPC's DNS attributes are the network owner's:
//! guided only.

use super::{applied, document_step, fix, step};
use crate::chain::outcome::{Culprit, NetworkPath};
use crate::chain::pull_lane::PullLane;
use crate::iam::policy::{PolicyDocument, Statement};
use crate::report::{Apply, Cause, Fix, LinkId, Step};
use crate::text::shell_quote;

pub(super) fn path_fixes(cause: Cause, summary: &str, pull: &PullLane) -> Vec<Fix> {
    // Each step goes on from the summary: a sentence of its own.
    let summary = &crate::text::sentence(summary);
    let Some(path) = pull
        .links
        .get(&LinkId::Network)
        .and_then(|o| o.network.as_deref())
    else {
        return Vec::new();
    };
    let q = |id: &str| shell_quote(id).into_owned();
    let (region, vpc, table) = (&path.region, &path.vpc, &path.route_table);
    match (cause, &path.culprit) {
        (Cause::NoRouteToRegistry, _) => vec![fix(
            cause,
            "Give the nodes a route to the internet",
            false,
            vec![step(
                format!(
                    "{summary} Add a NAT gateway route to the subnet's route table {} (or move the nodes to subnets that have one).",
                    path.route_table
                ),
                Some(format!(
                    "aws ec2 create-route --region {} --route-table-id {} --destination-cidr-block 0.0.0.0/0 --nat-gateway-id NAT_GATEWAY_ID",
                    crate::text::shell_arg(&region),
                    crate::text::shell_arg(&table)
                )),
            )],
        )],
        (Cause::S3GatewayNotOnRouteTable, Some(Culprit::Endpoint { id, .. })) => vec![fix(
            cause,
            format!(
                "Put the S3 gateway endpoint on route table {}",
                path.route_table
            ),
            true,
            vec![applied(
                step(
                    format!("{summary} Associate it with the node subnet's table."),
                    None,
                ),
                modify(path, id, Change::RouteTable),
            )],
        )],
        (Cause::VpcEndpointPrivateDnsDisabled, Some(Culprit::Endpoint { id, .. })) => vec![fix(
            cause,
            "Turn on private DNS for the ECR endpoint",
            true,
            vec![
                applied(
                    step(summary.to_string(), None),
                    modify(path, id, Change::PrivateDns),
                ),
                step(
                    "Private DNS needs both DNS attributes of the VPC on (a VPC-wide change: its owner's to make).",
                    Some(format!(
                        "aws ec2 modify-vpc-attribute --region {} --vpc-id {} --enable-dns-support; aws ec2 modify-vpc-attribute --region {} --vpc-id {} --enable-dns-hostnames",
                        crate::text::shell_arg(&region),
                        crate::text::shell_arg(&vpc),
                        crate::text::shell_arg(&region),
                        crate::text::shell_arg(&vpc)
                    )),
                ),
            ],
        )],
        (Cause::VpcEndpointNotInAz, Some(Culprit::NotInZone { ids })) => vec![fix(
            cause,
            "Add the node's zone to the endpoints",
            true,
            ids.iter()
                .map(|id| {
                    applied(
                        step(
                            format!("{summary} Add the node's subnet to endpoint {id}."),
                            None,
                        ),
                        modify(path, id, Change::Subnet),
                    )
                })
                .collect(),
        )],
        (
            Cause::VpcEndpointPolicyDenies,
            Some(Culprit::EndpointPolicy {
                id,
                policy,
                statement,
                denied,
            }),
        ) => endpoint_policy_fix(summary, path, id, policy, statement, *denied),
        (Cause::VpcEndpointSecurityGroupBlocks, Some(culprit)) => {
            security_group_fix(summary, path, culprit)
        }
        (Cause::NetworkAclBlocks, Some(Culprit::Acl { id })) => vec![fix(
            cause,
            "Open the subnet's network ACL for the pull",
            false,
            vec![step(
                format!(
                    "{summary} A network ACL is stateless: allow TCP 443 out and the ephemeral ports 1024-65535 back in."
                ),
                Some(format!(
                    "aws ec2 create-network-acl-entry --region {} --network-acl-id {} --egress --rule-number 90 --protocol tcp --port-range From=443,To=443 --cidr-block ENDPOINT_SUBNET_CIDR --rule-action allow",
                    crate::text::shell_arg(&region),
                    q(id)
                )),
            )],
        )],
        (Cause::VpcEndpointMissing, Some(Culprit::MissingEndpoints { services })) => {
            missing_endpoints_fix(summary, path, services)
        }
        _ => Vec::new(),
    }
}

/// The one change an endpoint fix makes.
enum Change {
    RouteTable,
    Subnet,
    PrivateDns,
    Policy,
}

fn modify(path: &NetworkPath, id: &str, change: Change) -> Apply {
    Apply::ModifyVpcEndpoint {
        region: path.region.clone(),
        vpc_endpoint_id: id.to_string(),
        add_route_table_ids: match change {
            Change::RouteTable => vec![path.route_table.clone()],
            _ => Vec::new(),
        },
        add_subnet_ids: match change {
            Change::Subnet => vec![path.subnet.clone()],
            _ => Vec::new(),
        },
        enable_private_dns: matches!(change, Change::PrivateDns),
        policy: matches!(change, Change::Policy),
    }
}

fn endpoint_policy_fix(
    summary: &str,
    path: &NetworkPath,
    id: &str,
    policy: &str,
    statement: &serde_json::Value,
    denied: bool,
) -> Vec<Fix> {
    let cause = Cause::VpcEndpointPolicyDenies;
    let command = format!(
        "aws ec2 modify-vpc-endpoint --region {} --vpc-endpoint-id {} --policy-document file://endpoint-policy.json",
        shell_quote(&path.region),
        shell_quote(id)
    );
    let current = PolicyDocument::from_text(policy).ok();
    let added: Option<Statement> = serde_json::from_value(statement.clone()).ok();
    match (current, added, denied) {
        (Some(current), Some(added), false) => {
            let mut proposed = current.clone();
            proposed.statements.push(added);
            vec![fix(
                cause,
                format!("Let endpoint {id}'s policy allow the pull"),
                true,
                vec![applied(
                    document_step(
                        format!(
                            "{summary} This adds one statement for the pull identity and keeps the rest (an endpoint policy never grants by itself: it only limits what IAM allows)."
                        ),
                        Some(&current),
                        &proposed,
                    ),
                    modify(path, id, Change::Policy),
                )],
            )]
        }
        _ => vec![fix(
            cause,
            format!("Let endpoint {id}'s policy allow the pull"),
            false,
            vec![step(
                format!(
                    "{summary} A statement of the policy denies it: an added Allow cannot win over a Deny, so the Deny must be narrowed by whoever owns it."
                ),
                Some(command),
            )],
        )],
    }
}

fn security_group_fix(summary: &str, path: &NetworkPath, culprit: &Culprit) -> Vec<Fix> {
    let cause = Cause::VpcEndpointSecurityGroupBlocks;
    let region = &path.region;
    match (culprit, &path.subnet_cidr) {
        (Culprit::EndpointGroup { group, .. }, Some(cidr)) => vec![fix(
            cause,
            format!("Let TCP 443 into {group} from the node subnet"),
            true,
            vec![applied(
                step(
                    format!("{summary} Allow 443 in from the node subnet ({cidr})."),
                    None,
                ),
                Apply::AllowHttpsIngress {
                    region: path.region.clone(),
                    group_id: group.clone(),
                    cidr: cidr.clone(),
                },
            )],
        )],
        (Culprit::EndpointGroup { group, .. } | Culprit::NodeGroup { group, .. }, _) => {
            let direction = match culprit {
                Culprit::NodeGroup { .. } => "egress",
                _ => "ingress",
            };
            vec![fix(
                cause,
                "Let TCP 443 through between the nodes and the endpoint",
                false,
                vec![step(
                    format!(
                        "{summary} Security groups of nodes are shared by the node group: allow 443 {direction} where its owner agrees."
                    ),
                    Some(format!(
                        "aws ec2 authorize-security-group-{} --region {} --group-id {} --protocol tcp --port 443 --cidr ENDPOINT_SUBNET_CIDR",
                        crate::text::shell_arg(&direction),
                        crate::text::shell_arg(&region),
                        shell_quote(group)
                    )),
                )],
            )]
        }
        _ => Vec::new(),
    }
}

/// One fix that creates every missing endpoint: the S3 gateway by API call (its route table is
/// known); the interface endpoints guided, since they need a security group the owner chooses.
fn missing_endpoints_fix(summary: &str, path: &NetworkPath, services: &[&str]) -> Vec<Fix> {
    let mut steps = vec![step(
        format!(
            "{summary} Nodes without a route to the internet reach ECR through three endpoints: ecr.api (the token), ecr.dkr (the registry) and S3 (the layers). Missing here: {}.",
            services.join(", ")
        ),
        None,
    )];
    for service in services {
        steps.extend(endpoint_steps(path, service));
    }
    let writes = steps.iter().any(|s| s.apply.is_some());
    vec![fix(
        Cause::VpcEndpointMissing,
        format!("Create the missing endpoints ({})", services.join(", ")),
        writes,
        steps,
    )]
}

/// The command (and, for S3's gateway, the call) that creates one endpoint, and its Terraform.
fn endpoint_steps(path: &NetworkPath, service: &str) -> Vec<Step> {
    let q = |id: &str| shell_quote(id).into_owned();
    let service_name = format!("com.amazonaws.{}.{service}", path.service_region);
    let terraform = |fields: &[(&str, String)]| Step {
        explain: format!("{service} in Terraform:"),
        command: None,
        document: Some(format!(
            "resource \"aws_vpc_endpoint\" \"{}\" {{\n{}}}\n",
            service.replace('.', "_"),
            [
                ("vpc_id", hcl(&path.vpc)),
                ("service_name", hcl(&service_name)),
            ]
            .iter()
            .chain(fields)
            .map(|(key, value)| format!("  {key:<19} = {value}\n"))
            .collect::<String>()
        )),
        diff: None,
        current: None,
        apply: None,
    };
    if service == "s3" {
        let create = applied(
            step(
                "The S3 gateway endpoint on the node subnet's route table (gateway endpoints cost nothing).",
                None,
            ),
            Apply::CreateGatewayEndpoint {
                region: path.region.clone(),
                vpc_id: path.vpc.clone(),
                service_name: service_name.clone(),
                route_table_ids: vec![path.route_table.clone()],
            },
        );
        let tf = terraform(&[
            ("vpc_endpoint_type", hcl("Gateway")),
            ("route_table_ids", format!("[{}]", hcl(&path.route_table))),
        ]);
        return vec![create, tf];
    }
    // An endpoint for another Region's ECR is an interface endpoint across Regions.
    let service_region = match path.service_region == path.region {
        true => String::new(),
        false => format!(" --service-region {}", q(&path.service_region)),
    };
    vec![
        step(
            format!(
                "The {service} interface endpoint, with private DNS, in the node's subnet, behind a security group that lets TCP 443 in from the nodes (choose or create one)."
            ),
            Some(format!(
                "aws ec2 create-vpc-endpoint --region {} --vpc-id {} --service-name {}{service_region} --vpc-endpoint-type Interface --subnet-ids {} --security-group-ids SG_ALLOWING_443_FROM_NODES --private-dns-enabled",
                q(&path.region),
                q(&path.vpc),
                q(&service_name),
                q(&path.subnet)
            )),
        ),
        terraform(&[
            ("vpc_endpoint_type", hcl("Interface")),
            ("subnet_ids", format!("[{}]", hcl(&path.subnet))),
            (
                "security_group_ids",
                format!("[{}]", hcl("SG_ALLOWING_443_FROM_NODES")),
            ),
            ("private_dns_enabled", "true".to_string()),
        ]),
    ]
}

/// A Terraform string literal: JSON's escapes, and `${` / `%{` kept from interpolating.
fn hcl(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_default()
        .replace("${", "$${")
        .replace("%{", "%%{")
}
