//! Stage 3e: the pods' network path from EC2 — instances, Fargate interfaces, and each VPC read
//! whole once.

use super::*;
use crate::facts::pod::Pod;
use crate::facts::scope;
use crate::source::live::aws;
use futures::future::join_all;
use k8s_openapi::api::core::v1::Node;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The instance ids of nodes (`spec.providerID` is `aws:///ZONE/i-…`).
fn instance_ids(nodes: &[&Node]) -> Vec<String> {
    let mut ids: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.spec.as_ref()?.provider_id.as_deref())
        .filter(|p| p.starts_with("aws://"))
        .filter_map(|p| p.rsplit('/').next())
        .filter(|i| i.starts_with("i-"))
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn vpc_filter(vpc: &str) -> ::aws_sdk_ec2::types::Filter {
    ::aws_sdk_ec2::types::Filter::builder()
        .name("vpc-id")
        .values(vpc)
        .build()
}

/// The IPs of pods on Fargate: each has an interface of its own in the profile's subnets.
fn fargate_pod_ips(pods: &[Pod]) -> Vec<String> {
    let mut ips: Vec<String> = pods
        .iter()
        .filter(|p| {
            let node = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
            node.is_some_and(|n| n.starts_with("fargate-"))
        })
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Stage 3e: the pods' network path, from EC2 — the nodes' instances and the Fargate pods'
/// interfaces (together), then per VPC its subnets, route tables, endpoints, NAT gateways, DNS
/// attributes, security groups and network ACLs (each VPC read whole, once).
pub(in crate::source::live) async fn network(
    aws: &aws::Aws,
    shared: &Shared,
    objects: &Objects,
    pods: &[Pod],
) {
    let into = &shared.found;
    let nodes: Vec<&Node> = objects.nodes.iter().map(|n| &**n).collect();
    let vpcs_of = |vpcs: Vec<Option<String>>, found| (Arc::new(vpcs), found);
    let (instance_vpcs, interface_vpcs) = tokio::join!(
        shared
            .instances
            .once(into, instance_ids(&nodes), |ids| async move {
                let (instances, found) = instances(aws, &ids).await;
                vpcs_of(instances.into_iter().map(|i| i.vpc_id).collect(), found)
            }),
        shared
            .interfaces
            .once(into, fargate_pod_ips(pods), |ips| async move {
                let (interfaces, found) = fargate_interfaces(aws, &ips).await;
                vpcs_of(interfaces.into_iter().map(|i| i.vpc_id).collect(), found)
            }),
    );
    let vpcs: BTreeSet<String> = instance_vpcs
        .iter()
        .chain(&interface_vpcs)
        .flat_map(|vpcs| vpcs.iter().flatten().cloned())
        .collect();
    join_all(vpcs.iter().map(|vpc| {
        let read = async { ((), vpc_path(aws, vpc).await) };
        shared.vpcs.once(into, vpc.clone(), read)
    }))
    .await;
}

/// The nodes' instances, in one call.
async fn instances(aws: &aws::Aws, ids: &[String]) -> (Vec<Instance>, Found) {
    let mut found = Found::default();
    if ids.is_empty() {
        return (Vec::new(), found);
    }
    let request = aws
        .ec2
        .describe_instances()
        .set_instance_ids(Some(ids.to_vec()));
    let answer = match aws
        .call(
            "ec2:DescribeInstances",
            "the nodes' instances",
            request.send(),
        )
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            ids.iter()
                .for_each(|id| found.gaps.error(&scope::ec2_instance(id), &e.message));
            return (Vec::new(), found);
        }
    };
    let instances: Vec<Instance> = answer
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| Instance {
            instance_id: i.instance_id().unwrap_or_default().to_string(),
            subnet_id: i.subnet_id().map(str::to_string),
            vpc_id: i.vpc_id().map(str::to_string),
            placement: Some(Placement {
                availability_zone: i
                    .placement()
                    .and_then(|p| p.availability_zone())
                    .map(str::to_string),
            }),
            public_ip_address: i.public_ip_address().map(str::to_string),
            private_ip_address: i.private_ip_address().map(str::to_string),
            security_groups: group_refs(i.security_groups().iter().map(|g| g.group_id())),
        })
        .collect();
    ids.iter()
        .for_each(|id| found.gaps.covered(&scope::ec2_instance(id)));
    found.push_document(&DescribeInstances {
        reservations: vec![Reservation {
            instances: instances.clone(),
        }],
    });
    (instances, found)
}

fn group_refs<'a>(ids: impl Iterator<Item = Option<&'a str>>) -> Vec<GroupRef> {
    ids.flatten()
        .map(|id| GroupRef {
            group_id: id.to_string(),
        })
        .collect()
}

/// The Fargate pods' own interfaces, found by their IPs in one call.
async fn fargate_interfaces(aws: &aws::Aws, ips: &[String]) -> (Vec<NetworkInterface>, Found) {
    let mut found = Found::default();
    if ips.is_empty() {
        return (Vec::new(), found);
    }
    let filter = ::aws_sdk_ec2::types::Filter::builder()
        .name("addresses.private-ip-address")
        .set_values(Some(ips.to_vec()))
        .build();
    let request = aws.ec2.describe_network_interfaces().filters(filter);
    let answer = match aws
        .call(
            "ec2:DescribeNetworkInterfaces",
            "the Fargate pods' interfaces",
            request.send(),
        )
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            ips.iter()
                .for_each(|ip| found.gaps.error(&scope::ec2_interface(ip), &e.message));
            return (Vec::new(), found);
        }
    };
    let interfaces: Vec<NetworkInterface> = answer
        .network_interfaces()
        .iter()
        .map(|i| NetworkInterface {
            network_interface_id: i.network_interface_id().unwrap_or_default().to_string(),
            subnet_id: i.subnet_id().map(str::to_string),
            vpc_id: i.vpc_id().map(str::to_string),
            availability_zone: i.availability_zone().map(str::to_string),
            private_ip_address: i.private_ip_address().map(str::to_string),
            groups: group_refs(i.groups().iter().map(|g| g.group_id())),
            association: i.association().map(|a| InterfaceAssociation {
                public_ip: a.public_ip().map(str::to_string),
            }),
        })
        .collect();
    ips.iter()
        .for_each(|ip| found.gaps.covered(&scope::ec2_interface(ip)));
    found.push_document(&DescribeNetworkInterfaces {
        network_interfaces: interfaces.clone(),
    });
    (interfaces, found)
}

/// One VPC, whole: subnets, route tables, endpoints, NAT gateways, DNS attributes.
async fn vpc_path(aws: &aws::Aws, vpc: &str) -> Found {
    use ::aws_sdk_ec2::types::VpcAttributeName;
    let (ec2, mut found) = (&aws.ec2, Found::default());
    let (subnets, tables, endpoints, gateways, dns, hostnames, groups, acls) = tokio::join!(
        aws.call(
            "ec2:DescribeSubnets",
            vpc,
            ec2.describe_subnets().filters(vpc_filter(vpc)).send()
        ),
        aws.call(
            "ec2:DescribeRouteTables",
            vpc,
            ec2.describe_route_tables().filters(vpc_filter(vpc)).send()
        ),
        aws.call(
            "ec2:DescribeVpcEndpoints",
            vpc,
            ec2.describe_vpc_endpoints().filters(vpc_filter(vpc)).send()
        ),
        aws.call(
            "ec2:DescribeNatGateways",
            vpc,
            ec2.describe_nat_gateways().filter(vpc_filter(vpc)).send()
        ),
        aws.call(
            "ec2:DescribeVpcAttribute",
            vpc,
            ec2.describe_vpc_attribute()
                .vpc_id(vpc)
                .attribute(VpcAttributeName::EnableDnsSupport)
                .send()
        ),
        aws.call(
            "ec2:DescribeVpcAttribute",
            vpc,
            ec2.describe_vpc_attribute()
                .vpc_id(vpc)
                .attribute(VpcAttributeName::EnableDnsHostnames)
                .send()
        ),
        aws.call(
            "ec2:DescribeSecurityGroups",
            vpc,
            ec2.describe_security_groups()
                .filters(vpc_filter(vpc))
                .send()
        ),
        aws.call(
            "ec2:DescribeNetworkAcls",
            vpc,
            ec2.describe_network_acls().filters(vpc_filter(vpc)).send()
        ),
    );
    // Security groups and ACLs refine the verdict; without them the hops above still stand.
    match groups {
        Ok(out) => found.push_document(&DescribeSecurityGroups {
            security_groups: out.security_groups().iter().map(security_group).collect(),
        }),
        Err(e) => found.gaps.problems.push(e.message),
    }
    match acls {
        Ok(out) => found.push_document(&DescribeNetworkAcls {
            network_acls: out.network_acls().iter().map(network_acl).collect(),
        }),
        Err(e) => found.gaps.problems.push(e.message),
    }
    let (subnets, tables, endpoints, gateways) = match (subnets, tables, endpoints, gateways) {
        (Ok(s), Ok(t), Ok(e), Ok(g)) => (s, t, e, g),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            found.gaps.error(&scope::ec2_vpc(vpc), &e.message);
            return found;
        }
    };
    found.gaps.covered(&scope::ec2_vpc(vpc));
    found.push_document(&DescribeSubnets {
        subnets: subnets
            .subnets()
            .iter()
            .map(|s| Subnet {
                subnet_id: s.subnet_id().unwrap_or_default().to_string(),
                vpc_id: s.vpc_id().unwrap_or_default().to_string(),
                availability_zone: s.availability_zone().map(str::to_string),
                cidr_block: s.cidr_block().map(str::to_string),
            })
            .collect(),
    });
    found.push_document(&DescribeRouteTables {
        route_tables: tables.route_tables().iter().map(route_table).collect(),
    });
    found.push_document(&DescribeVpcEndpoints {
        vpc_endpoints: endpoints.vpc_endpoints().iter().map(vpc_endpoint).collect(),
    });
    found.push_document(&DescribeNatGateways {
        nat_gateways: gateways
            .nat_gateways()
            .iter()
            .map(|g| NatGateway {
                nat_gateway_id: g.nat_gateway_id().unwrap_or_default().to_string(),
                state: g.state().map(|s| s.as_str().to_string()),
                subnet_id: g.subnet_id().map(str::to_string),
                vpc_id: g.vpc_id().map(str::to_string),
            })
            .collect(),
    });
    let flag = |v: Option<bool>| Some(AttributeBoolean { value: v });
    if let Ok(out) = dns {
        found.push_document(&DescribeVpcAttribute {
            vpc_id: vpc.to_string(),
            enable_dns_support: flag(out.enable_dns_support().and_then(|a| a.value())),
            enable_dns_hostnames: None,
        });
    }
    if let Ok(out) = hostnames {
        found.push_document(&DescribeVpcAttribute {
            vpc_id: vpc.to_string(),
            enable_dns_support: None,
            enable_dns_hostnames: flag(out.enable_dns_hostnames().and_then(|a| a.value())),
        });
    }
    found
}

fn route_table(t: &::aws_sdk_ec2::types::RouteTable) -> RouteTable {
    RouteTable {
        route_table_id: t.route_table_id().unwrap_or_default().to_string(),
        vpc_id: t.vpc_id().unwrap_or_default().to_string(),
        associations: t
            .associations()
            .iter()
            .map(|a| RouteTableAssociation {
                subnet_id: a.subnet_id().map(str::to_string),
                main: a.main().unwrap_or(false),
            })
            .collect(),
        routes: t
            .routes()
            .iter()
            .map(|r| Route {
                destination_cidr_block: r.destination_cidr_block().map(str::to_string),
                destination_prefix_list_id: r.destination_prefix_list_id().map(str::to_string),
                gateway_id: r.gateway_id().map(str::to_string),
                nat_gateway_id: r.nat_gateway_id().map(str::to_string),
                transit_gateway_id: r.transit_gateway_id().map(str::to_string),
                vpc_peering_connection_id: r.vpc_peering_connection_id().map(str::to_string),
                network_interface_id: r.network_interface_id().map(str::to_string),
                state: r.state().map(|s| s.as_str().to_string()),
            })
            .collect(),
    }
}

fn vpc_endpoint(e: &::aws_sdk_ec2::types::VpcEndpoint) -> VpcEndpoint {
    VpcEndpoint {
        vpc_endpoint_id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
        vpc_id: e.vpc_id().unwrap_or_default().to_string(),
        service_name: e.service_name().unwrap_or_default().to_string(),
        vpc_endpoint_type: e.vpc_endpoint_type().map(|t| t.as_str().to_string()),
        state: e.state().map(|s| s.as_str().to_string()),
        private_dns_enabled: e.private_dns_enabled(),
        subnet_ids: e.subnet_ids().to_vec(),
        route_table_ids: e.route_table_ids().to_vec(),
        groups: e
            .groups()
            .iter()
            .filter_map(|g| {
                Some(EndpointGroup {
                    group_id: g.group_id()?.to_string(),
                })
            })
            .collect(),
        policy_document: e.policy_document().map(str::to_string),
        service_region: e.service_region().map(str::to_string),
    }
}

fn permission(p: &::aws_sdk_ec2::types::IpPermission) -> IpPermission {
    IpPermission {
        ip_protocol: p.ip_protocol().unwrap_or("-1").to_string(),
        from_port: p.from_port(),
        to_port: p.to_port(),
        ip_ranges: p
            .ip_ranges()
            .iter()
            .filter_map(|r| {
                Some(IpRange {
                    cidr_ip: r.cidr_ip()?.to_string(),
                })
            })
            .collect(),
        user_id_group_pairs: p
            .user_id_group_pairs()
            .iter()
            .filter_map(|g| {
                Some(GroupRef {
                    group_id: g.group_id()?.to_string(),
                })
            })
            .collect(),
        prefix_list_ids: p
            .prefix_list_ids()
            .iter()
            .filter_map(|l| {
                Some(PrefixListRef {
                    prefix_list_id: l.prefix_list_id()?.to_string(),
                })
            })
            .collect(),
    }
}

fn security_group(g: &::aws_sdk_ec2::types::SecurityGroup) -> SecurityGroup {
    SecurityGroup {
        group_id: g.group_id().unwrap_or_default().to_string(),
        vpc_id: g.vpc_id().map(str::to_string),
        ip_permissions: g.ip_permissions().iter().map(permission).collect(),
        ip_permissions_egress: g.ip_permissions_egress().iter().map(permission).collect(),
    }
}

fn network_acl(a: &::aws_sdk_ec2::types::NetworkAcl) -> NetworkAcl {
    NetworkAcl {
        network_acl_id: a.network_acl_id().unwrap_or_default().to_string(),
        vpc_id: a.vpc_id().unwrap_or_default().to_string(),
        is_default: a.is_default().unwrap_or(false),
        associations: a
            .associations()
            .iter()
            .map(|x| NetworkAclAssociation {
                subnet_id: x.subnet_id().map(str::to_string),
            })
            .collect(),
        entries: a
            .entries()
            .iter()
            .map(|e| NetworkAclEntry {
                rule_number: e.rule_number().unwrap_or(32767),
                protocol: e.protocol().unwrap_or("-1").to_string(),
                rule_action: e
                    .rule_action()
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
                egress: e.egress().unwrap_or(false),
                cidr_block: e.cidr_block().map(str::to_string),
                port_range: e.port_range().and_then(|r| {
                    Some(PortRange {
                        from: r.from()?,
                        to: r.to()?,
                    })
                }),
            })
            .collect(),
    }
}
