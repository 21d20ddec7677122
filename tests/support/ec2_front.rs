//! EC2 as the AWS front serves it from a scenario: the nodes' instances and their VPCs'
//! subnets, route tables, endpoints, NAT gateways and DNS attributes, in the EC2 query
//! protocol's XML. moto holds EC2 too, but gives every object an id of its own, while the
//! scenario's nodes name theirs (`spec.providerID`); serving the scenario keeps both the same.

use axum::body::Body;
use axum::response::Response;
use pulldoctor::facts::network::Ec2;
use std::collections::BTreeMap;

fn text(tag: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => {
            let v = v
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<{tag}>{v}</{tag}>")
        }
        None => String::new(),
    }
}

fn set(tag: &str, items: impl IntoIterator<Item = String>) -> String {
    let items: String = items
        .into_iter()
        .map(|i| format!("<item>{i}</item>"))
        .collect();
    format!("<{tag}>{items}</{tag}>")
}

fn response(action: &str, inner: String) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/xml")
        .body(Body::from(format!(
            "<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>front</requestId>{inner}</{action}Response>"
        )))
        .unwrap()
}

/// The values of `Name.N` parameters, and the first filter's values.
fn numbered(form: &BTreeMap<String, String>, prefix: &str) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| {
            k.strip_prefix(prefix)
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|(_, v)| v.clone())
        .collect()
}

/// The answer to an EC2 read, or `None` for an action this does not serve.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per EC2 action the stand-in answers, read as one table"
)]
pub fn answer(action: &str, form: &BTreeMap<String, String>, ec2: &Ec2) -> Option<Response> {
    let vpc = form.get("Filter.1.Value.1").cloned().unwrap_or_default();
    Some(match action {
        "DescribeInstances" => {
            let ids = numbered(form, "InstanceId.");
            let instances = ec2
                .instances
                .values()
                .filter(|i| ids.is_empty() || ids.contains(&i.instance_id))
                .map(|i| {
                    let zone = i
                        .placement
                        .as_ref()
                        .and_then(|p| p.availability_zone.as_deref());
                    format!(
                        "{}{}{}<placement>{}</placement>{}",
                        text("instanceId", Some(&i.instance_id)),
                        text("subnetId", i.subnet_id.as_deref()),
                        text("vpcId", i.vpc_id.as_deref()),
                        text("availabilityZone", zone),
                        text("ipAddress", i.public_ip_address.as_deref()),
                    ) + &text("privateIpAddress", i.private_ip_address.as_deref())
                        + &set(
                            "groupSet",
                            i.security_groups
                                .iter()
                                .map(|g| text("groupId", Some(&g.group_id))),
                        )
                });
            let reservation = format!(
                "<reservationId>r-front</reservationId>{}",
                set("instancesSet", instances)
            );
            response(action, set("reservationSet", [reservation]))
        }
        "DescribeNetworkInterfaces" => {
            let ips = numbered(form, "Filter.1.Value.");
            let interfaces = ec2
                .interfaces
                .iter()
                .filter(|(ip, _)| ips.contains(ip))
                .map(|(_, i)| {
                    format!(
                        "{}{}{}{}{}{}{}",
                        text("networkInterfaceId", Some(&i.network_interface_id)),
                        text("subnetId", i.subnet_id.as_deref()),
                        text("vpcId", i.vpc_id.as_deref()),
                        text("availabilityZone", i.availability_zone.as_deref()),
                        text("privateIpAddress", i.private_ip_address.as_deref()),
                        set(
                            "groupSet",
                            i.groups.iter().map(|g| text("groupId", Some(&g.group_id)))
                        ),
                        i.association
                            .as_ref()
                            .map(|a| format!(
                                "<association>{}</association>",
                                text("publicIp", a.public_ip.as_deref())
                            ))
                            .unwrap_or_default()
                    )
                });
            response(action, set("networkInterfaceSet", interfaces))
        }
        "DescribeSubnets" => {
            let subnets = ec2.subnets.values().filter(|s| s.vpc_id == vpc).map(|s| {
                format!(
                    "{}{}{}{}",
                    text("subnetId", Some(&s.subnet_id)),
                    text("vpcId", Some(&s.vpc_id)),
                    text("availabilityZone", s.availability_zone.as_deref()),
                    text("cidrBlock", s.cidr_block.as_deref())
                )
            });
            response(action, set("subnetSet", subnets))
        }
        "DescribeRouteTables" => {
            let tables = ec2.route_tables.get(&vpc).into_iter().flatten().map(|t| {
                let associations = t.associations.iter().map(|a| {
                    format!(
                        "{}<main>{}</main>",
                        text("subnetId", a.subnet_id.as_deref()),
                        a.main
                    )
                });
                let routes = t.routes.iter().map(|r| {
                    [
                        text("destinationCidrBlock", r.destination_cidr_block.as_deref()),
                        text(
                            "destinationPrefixListId",
                            r.destination_prefix_list_id.as_deref(),
                        ),
                        text("gatewayId", r.gateway_id.as_deref()),
                        text("natGatewayId", r.nat_gateway_id.as_deref()),
                        text("transitGatewayId", r.transit_gateway_id.as_deref()),
                        text(
                            "vpcPeeringConnectionId",
                            r.vpc_peering_connection_id.as_deref(),
                        ),
                        text("networkInterfaceId", r.network_interface_id.as_deref()),
                        text("state", r.state.as_deref()),
                    ]
                    .concat()
                });
                format!(
                    "{}{}{}{}",
                    text("routeTableId", Some(&t.route_table_id)),
                    text("vpcId", Some(&t.vpc_id)),
                    set("associationSet", associations),
                    set("routeSet", routes)
                )
            });
            response(action, set("routeTableSet", tables))
        }
        "DescribeVpcEndpoints" => {
            // By id (the writer's re-check), else by VPC and perhaps service name.
            let ids = numbered(form, "VpcEndpointId.");
            let service = form.get("Filter.2.Value.1");
            let endpoints = ec2.endpoints.values().flatten();
            let endpoints = endpoints.filter(|e| match ids.is_empty() {
                false => ids.contains(&e.vpc_endpoint_id),
                true => e.vpc_id == vpc && service.is_none_or(|s| *s == e.service_name),
            });
            let endpoints = endpoints.map(|e| {
                format!(
                    "{}{}{}{}{}{}{}{}{}{}{}",
                    text("vpcEndpointId", Some(&e.vpc_endpoint_id)),
                    text("vpcEndpointType", e.vpc_endpoint_type.as_deref()),
                    text("vpcId", Some(&e.vpc_id)),
                    text("serviceName", Some(&e.service_name)),
                    text("state", e.state.as_deref()),
                    text("policyDocument", e.policy_document.as_deref()),
                    set("routeTableIdSet", e.route_table_ids.clone()),
                    set("subnetIdSet", e.subnet_ids.clone()),
                    set(
                        "groupSet",
                        e.groups.iter().map(|g| text("groupId", Some(&g.group_id)))
                    ),
                    e.private_dns_enabled
                        .map(|p| format!("<privateDnsEnabled>{p}</privateDnsEnabled>"))
                        .unwrap_or_default(),
                    text("serviceRegion", e.service_region.as_deref())
                )
            });
            response(action, set("vpcEndpointSet", endpoints))
        }
        "DescribeNatGateways" => {
            let gateways = ec2.nat_gateways.get(&vpc).into_iter().flatten().map(|g| {
                format!(
                    "{}{}{}{}",
                    text("natGatewayId", Some(&g.nat_gateway_id)),
                    text("state", g.state.as_deref()),
                    text("subnetId", g.subnet_id.as_deref()),
                    text("vpcId", g.vpc_id.as_deref())
                )
            });
            response(action, set("natGatewaySet", gateways))
        }
        "DescribeSecurityGroups" => {
            let permission = |p: &pulldoctor::facts::aws::IpPermission| {
                format!(
                    "{}{}{}{}{}",
                    text("ipProtocol", Some(&p.ip_protocol)),
                    p.from_port
                        .map(|f| format!("<fromPort>{f}</fromPort>"))
                        .unwrap_or_default(),
                    p.to_port
                        .map(|t| format!("<toPort>{t}</toPort>"))
                        .unwrap_or_default(),
                    set(
                        "ipRanges",
                        p.ip_ranges.iter().map(|r| text("cidrIp", Some(&r.cidr_ip)))
                    ),
                    set(
                        "groups",
                        p.user_id_group_pairs
                            .iter()
                            .map(|g| text("groupId", Some(&g.group_id)))
                    )
                ) + &set(
                    "prefixListIds",
                    p.prefix_list_ids
                        .iter()
                        .map(|l| text("prefixListId", Some(&l.prefix_list_id))),
                )
            };
            let groups = ec2
                .security_groups
                .values()
                .filter(|g| {
                    let ids = numbered(form, "GroupId.");
                    match ids.is_empty() {
                        true => g.vpc_id.as_deref() == Some(vpc.as_str()),
                        false => ids.contains(&g.group_id),
                    }
                })
                .map(|g| {
                    format!(
                        "{}{}{}{}",
                        text("groupId", Some(&g.group_id)),
                        text("vpcId", g.vpc_id.as_deref()),
                        set("ipPermissions", g.ip_permissions.iter().map(permission)),
                        set(
                            "ipPermissionsEgress",
                            g.ip_permissions_egress.iter().map(permission)
                        )
                    )
                });
            response(action, set("securityGroupInfo", groups))
        }
        "DescribeNetworkAcls" => {
            let acls = ec2.network_acls.get(&vpc).into_iter().flatten().map(|a| {
                let entries = a.entries.iter().map(|e| {
                    format!(
                        "<ruleNumber>{}</ruleNumber>{}{}<egress>{}</egress>{}{}",
                        e.rule_number,
                        text("protocol", Some(&e.protocol)),
                        text("ruleAction", Some(&e.rule_action)),
                        e.egress,
                        text("cidrBlock", e.cidr_block.as_deref()),
                        e.port_range
                            .as_ref()
                            .map(|r| format!(
                                "<portRange><from>{}</from><to>{}</to></portRange>",
                                r.from, r.to
                            ))
                            .unwrap_or_default()
                    )
                });
                format!(
                    "{}{}<default>{}</default>{}{}",
                    text("networkAclId", Some(&a.network_acl_id)),
                    text("vpcId", Some(&a.vpc_id)),
                    a.is_default,
                    set(
                        "associationSet",
                        a.associations
                            .iter()
                            .map(|x| text("subnetId", x.subnet_id.as_deref()))
                    ),
                    set("entrySet", entries)
                )
            });
            response(action, set("networkAclSet", acls))
        }
        "DescribeVpcAttribute" => {
            let vpc = form.get("VpcId").cloned().unwrap_or_default();
            let (tag, value) = match form.get("Attribute").map(String::as_str) {
                Some("enableDnsHostnames") => ("enableDnsHostnames", ec2.dns_hostnames.get(&vpc)),
                _ => ("enableDnsSupport", ec2.dns_support.get(&vpc)),
            };
            let value = value.copied().unwrap_or(true);
            response(
                action,
                format!(
                    "{}<{tag}><value>{value}</value></{tag}>",
                    text("vpcId", Some(&vpc))
                ),
            )
        }
        _ => return None,
    })
}

/// An EC2 write a network fix makes, carried out on the scenario's facts; `None` for an action
/// this does not serve.
pub fn write(action: &str, form: &BTreeMap<String, String>, ec2: &mut Ec2) -> Option<Response> {
    use pulldoctor::facts::aws::{IpPermission, IpRange, VpcEndpoint};
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let done = || response(action, "<return>true</return>".to_string());
    Some(match action {
        "ModifyVpcEndpoint" => {
            let id = get("VpcEndpointId");
            let endpoint = ec2
                .endpoints
                .values_mut()
                .flatten()
                .find(|e| e.vpc_endpoint_id == id)?;
            endpoint
                .route_table_ids
                .extend(numbered(form, "AddRouteTableId."));
            endpoint.subnet_ids.extend(numbered(form, "AddSubnetId."));
            if form.get("PrivateDnsEnabled").map(String::as_str) == Some("true") {
                endpoint.private_dns_enabled = Some(true);
            }
            if let Some(policy) = form.get("PolicyDocument") {
                endpoint.policy_document = Some(policy.clone());
            }
            done()
        }
        "CreateVpcEndpoint" => {
            let vpc = get("VpcId");
            let endpoints = ec2.endpoints.entry(vpc.clone()).or_default();
            let id = format!("vpce-front{}", endpoints.len());
            endpoints.push(VpcEndpoint {
                vpc_endpoint_id: id.clone(),
                vpc_id: vpc,
                service_name: get("ServiceName"),
                vpc_endpoint_type: Some(get("VpcEndpointType")),
                state: Some("available".into()),
                private_dns_enabled: None,
                subnet_ids: numbered(form, "SubnetId."),
                route_table_ids: numbered(form, "RouteTableId."),
                groups: Vec::new(),
                policy_document: None,
                service_region: None,
            });
            response(
                action,
                format!(
                    "<vpcEndpoint>{}</vpcEndpoint>",
                    text("vpcEndpointId", Some(&id))
                ),
            )
        }
        "AuthorizeSecurityGroupIngress" => {
            let group = ec2.security_groups.get_mut(&get("GroupId"))?;
            group.ip_permissions.push(IpPermission {
                ip_protocol: get("IpProtocol"),
                from_port: get("FromPort").parse().ok(),
                to_port: get("ToPort").parse().ok(),
                ip_ranges: vec![IpRange {
                    cidr_ip: get("CidrIp"),
                }],
                user_id_group_pairs: Vec::new(),
                prefix_list_ids: Vec::new(),
            });
            done()
        }
        _ => return None,
    })
}
