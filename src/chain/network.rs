//! The network link from observed facts: the node's instance and subnet, the route its subnet's
//! table gives to the internet (NAT, internet gateway), and the VPC's endpoints for the
//! registry's Region (ecr.api for the token, ecr.dkr for the registry, S3 for the layers). The
//! destination decides what the path needs: a private registry can be reached through endpoints
//! or egress; public ECR, a cache's upstream and other registries only through egress.
//! Without EC2 facts the caller falls back to what the kubelet's event says.

use super::Subject;
use super::events::PullError;
use super::firewall::{Block, Reach, acl_allows, groups_allow};
use super::outcome::{Culprit, Destination, NetworkPath, Outcome};
use crate::facts::aws::{Instance, RouteTable, Subnet, VpcEndpoint};
use crate::facts::{Fact, scope};
use crate::report::{Cause, Hop, HopKind, Status};

/// How the subnet reaches the internet.
enum Egress {
    Yes(HopKind, String, String),
    No(String),
    /// A target pulldoctor cannot see past (transit gateway, peering, an appliance).
    Beyond(String, String),
}

impl Egress {
    fn how(&self) -> String {
        match self {
            Egress::Yes(kind, id, detail) => format!("{} {id}{detail}", kind.as_str()),
            Egress::No(why) => why.clone(),
            Egress::Beyond(id, _) => format!(
                "{id}, beyond what pulldoctor can see (a transit gateway, peering or appliance)"
            ),
        }
    }
}

/// A verdict on the path: the link's outcome and the hop that decides it.
type Judged = (Outcome, Option<Culprit>);

/// The network link from EC2 facts, or `None` when there are none to judge by.
pub fn observed(subject: &Subject<'_>, destination: &Destination) -> Option<Outcome> {
    let path = match located(subject)? {
        Ok(path) => path,
        Err(unknown) => return Some(unknown),
    };
    let judged = match destination {
        Destination::PrivateEcr { region } => private_registry(subject, &path, region),
        other => internet_only(subject, &path, other),
    };
    Some(along(subject, destination, &path, judged))
}

/// The registry answered with a refusal (401, 403, a refused layer): the answer proves the
/// route, so of the path only the endpoint policies on the way can have refused the pull.
/// `None` where the path was not read or the registry is not a private one.
pub fn refused(subject: &Subject<'_>, destination: &Destination) -> Option<Outcome> {
    let Destination::PrivateEcr { region } = destination else {
        return None;
    };
    // Without the pull identity the policies cannot be evaluated for it: the event decides.
    if subject.pull_identity.roles().is_empty() {
        return None;
    }
    let path = located(subject)?.ok()?;
    let judged = endpoint_policies(subject, &path, region).unwrap_or_else(|| {
        let checked: Vec<String> = SERVICES
            .iter()
            .flat_map(|name| on_way(&path, region, name))
            .filter(|e| e.policy_document.is_some())
            .map(|e| e.vpc_endpoint_id)
            .collect();
        let policies = match checked.is_empty() {
            true => "no VPC endpoint policy is on the way".to_string(),
            false => format!(
                "the policies of the endpoints on the way ({}) allow it",
                checked.join(", ")
            ),
        };
        let outcome = match subject.pull_error {
            Some(PullError::LayerDenied) => Outcome::new(
                Status::Unknown,
                format!(
                    "every observed hop is in place and {policies}; the event says a layer download was refused (403): what remains is a proxy or firewall on the way, or what was not read"
                ),
            ),
            _ => Outcome::new(
                Status::Ok,
                format!("the registry answered, so the path holds; {policies}"),
            ),
        };
        (outcome, None)
    });
    Some(along(subject, destination, &path, judged))
}

/// The node's path, or why it is not known; `None` when nothing of EC2 was read.
fn located<'a>(subject: &Subject<'a>) -> Option<Result<Path<'a>, Outcome>> {
    let (instance, fargate) = match host(subject)? {
        Fact::Known(found) => found,
        Fact::Unknown(why) => return Some(Err(Outcome::new(Status::Unknown, why))),
        Fact::Absent => return None,
    };
    Some(path(subject, instance, fargate).map_err(|why| Outcome::new(Status::Unknown, why)))
}

/// The verdict on a path, with its hops as the link's path and evidence.
fn along(
    subject: &Subject<'_>,
    destination: &Destination,
    path: &Path<'_>,
    (outcome, culprit): Judged,
) -> Outcome {
    let service_region = match destination {
        Destination::PrivateEcr { region } => region.clone(),
        _ => path.region.clone(),
    };
    let hops = path.hops(
        subject,
        destination,
        &service_region,
        &outcome,
        culprit.as_ref(),
    );
    Outcome {
        network: Some(Box::new(NetworkPath {
            region: path.region.clone(),
            service_region,
            vpc: path.subnet.vpc_id.clone(),
            subnet: path.subnet.subnet_id.clone(),
            subnet_cidr: path.subnet.cidr_block.clone(),
            route_table: path.table.route_table_id.clone(),
            hops,
            culprit,
        })),
        ..outcome
    }
}

/// Where the pull starts: the node's instance, or a Fargate pod's own interface (`true`).
/// `None` when the pod runs nowhere EC2 knows of; absent when nothing of EC2 was read at all.
fn host(subject: &Subject<'_>) -> Option<Fact<(Instance, bool)>> {
    let facts = subject.facts;
    let pod = subject.pod?;
    let node_name = pod.spec.as_ref()?.node_name.as_deref()?;
    let provider_id = facts
        .nodes
        .get(node_name)
        .and_then(|n| n.spec.as_ref()?.provider_id.as_deref())
        .unwrap_or_default();
    // `aws:///us-east-1a/i-0123456789abcdef0`, or a Fargate pod's `…/fargate-ip-…`.
    let last = provider_id.rsplit('/').next().unwrap_or_default();
    if last.starts_with("i-") {
        return Some(instance(subject, last));
    }
    let fargate = node_name.starts_with("fargate-") || last.starts_with("fargate-");
    let ip = pod.status.as_ref()?.pod_ip.as_deref().filter(|_| fargate)?;
    if let Some(interface) = facts.ec2.interfaces.get(ip) {
        return Some(Fact::Known((interface.as_instance(), true)));
    }
    let scope = scope::ec2_interface(ip);
    let why = match facts.errors.get(&scope) {
        Some(error) => format!(
            "the Fargate pod's interface ({ip}) could not be read ({error}): ec2:DescribeNetworkInterfaces is needed"
        ),
        None if facts.covered.contains(&scope) => format!(
            "no network interface has the Fargate pod's IP {ip}: the pod was replaced since it was listed"
        ),
        None => format!(
            "the Fargate pod's interface was not read: aws ec2 describe-network-interfaces --filters Name=addresses.private-ip-address,Values={}",
            crate::text::shell_arg(&ip)
        ),
    };
    Some(match facts.ec2.is_empty() {
        true => Fact::Absent,
        false => Fact::Unknown(why),
    })
}

/// The EC2 facts of the node's instance: absent when nothing of EC2 was read at all.
fn instance(subject: &Subject<'_>, id: &str) -> Fact<(Instance, bool)> {
    let facts = subject.facts;
    if let Some(i) = facts.ec2.instances.get(id) {
        return Fact::Known((i.clone(), false));
    }
    let scope = scope::ec2_instance(id);
    if let Some(error) = facts.errors.get(&scope) {
        return Fact::Unknown(format!(
            "the node's instance {id} could not be read ({error}): ec2:DescribeInstances is needed"
        ));
    }
    match facts.ec2.is_empty() {
        true => Fact::Absent,
        false => Fact::Unknown(format!(
            "the node's instance {} was not read: aws ec2 describe-instances --instance-ids {}",
            id,
            crate::text::shell_arg(&id)
        )),
    }
}

/// The hops from the node's instance: subnet, route table, default route.
struct Path<'a> {
    region: String,
    /// The node's instance, or a Fargate pod's interface.
    instance: Instance,
    fargate: bool,
    subnet: &'a Subnet,
    table: &'a RouteTable,
    egress: Egress,
    endpoints: &'a [VpcEndpoint],
}

impl Path<'_> {
    /// Node → subnet → route table → the endpoints or the egress used → registry, the broken
    /// hop marked.
    fn hops(
        &self,
        subject: &Subject<'_>,
        destination: &Destination,
        service_region: &str,
        outcome: &Outcome,
        culprit: Option<&Culprit>,
    ) -> Vec<Hop> {
        let hop = |kind, id: &str, detail: String, broken: bool| Hop {
            kind,
            id: id.to_string(),
            detail,
            status: if broken { Status::Broken } else { Status::Ok },
        };
        let node = &self.instance;
        let subnet = self.subnet;
        let mut hops = vec![
            hop(
                match self.fargate {
                    true => HopKind::PodInterface,
                    false => HopKind::Node,
                },
                &node.instance_id,
                match (self.fargate, node.private_ip_address.as_deref()) {
                    (true, ip) => format!("Fargate, IP {}", ip.unwrap_or("?")),
                    (false, Some(ip)) => format!("private IP {ip}"),
                    (false, None) => String::new(),
                },
                matches!(culprit, Some(Culprit::NodeGroup { .. })),
            ),
            hop(
                HopKind::Subnet,
                &subnet.subnet_id,
                format!(
                    "{} in {}",
                    subnet.cidr_block.as_deref().unwrap_or("?"),
                    subnet.availability_zone.as_deref().unwrap_or("?")
                ),
                matches!(culprit, Some(Culprit::Acl { .. })),
            ),
            hop(
                HopKind::RouteTable,
                &self.table.route_table_id,
                match &self.egress {
                    Egress::No(why) => why.clone(),
                    other => format!("default route to {}", other.how()),
                },
                matches!(culprit, Some(Culprit::Egress)),
            ),
        ];
        if matches!(destination, Destination::PrivateEcr { .. }) {
            let through_endpoints = !matches!(self.egress, Egress::Yes(..));
            for name in SERVICES {
                let found = service(self.endpoints, service_region, name);
                let on_way = found.iter().find(|e| match name {
                    "s3" => {
                        e.vpc_endpoint_type.as_deref() != Some("Gateway")
                            || e.route_table_ids.contains(&self.table.route_table_id)
                    }
                    _ => true,
                });
                match on_way.or(found.first()) {
                    Some(e) => hops.push(hop(
                        HopKind::Endpoint,
                        &e.vpc_endpoint_id,
                        format!(
                            "{name} ({}{})",
                            e.vpc_endpoint_type.as_deref().unwrap_or("Interface"),
                            match e.vpc_endpoint_type.as_deref() == Some("Gateway")
                                && !e.route_table_ids.contains(&self.table.route_table_id)
                            {
                                true => ", not on this route table",
                                false => "",
                            }
                        ),
                        culprit.is_some_and(|c| c.names_endpoint(&e.vpc_endpoint_id)),
                    )),
                    None if through_endpoints => hops.push(hop(
                        HopKind::Endpoint,
                        "",
                        format!("no com.amazonaws.{service_region}.{name}"),
                        true,
                    )),
                    None => {}
                }
            }
        }
        match &self.egress {
            Egress::Yes(kind, id, detail) => {
                hops.push(hop(*kind, id, detail.trim_start().to_string(), false))
            }
            Egress::Beyond(id, detail) => hops.push(Hop {
                status: Status::Unknown,
                ..hop(HopKind::Beyond, id, detail.clone(), false)
            }),
            Egress::No(_) => {}
        }
        hops.push(Hop {
            status: match outcome.status {
                Status::Ok => Status::Ok,
                _ => Status::Unknown,
            },
            ..hop(
                HopKind::Registry,
                &registry_host(subject, destination),
                match outcome.status {
                    Status::Ok => "reachable".to_string(),
                    _ => "not reached".to_string(),
                },
                false,
            )
        });
        hops
    }
}

const SERVICES: [&str; 3] = ["ecr.api", "ecr.dkr", "s3"];

fn registry_host(subject: &Subject<'_>, destination: &Destination) -> String {
    use crate::ecr::reference::ImageRef;
    match (destination, &subject.image_ref) {
        (Destination::Upstream { host } | Destination::Internet { host }, _) => host.clone(),
        (Destination::PublicEcr, _) => "public.ecr.aws".to_string(),
        (_, Ok(ImageRef::Ecr(e))) => e.host.clone(),
        _ => String::new(),
    }
}

fn path<'a>(subject: &Subject<'a>, instance: Instance, fargate: bool) -> Result<Path<'a>, String> {
    let ec2 = &subject.facts.ec2;
    let subnet_id = instance
        .subnet_id
        .as_deref()
        .ok_or_else(|| format!("instance {} names no subnet", instance.instance_id))?;
    let vpc_of_instance = instance.vpc_id.as_deref().unwrap_or_default();
    let vpc_not_read = |vpc: &str| {
        subject.facts.unknown_reason(
            &scope::ec2_vpc(vpc),
            format!("the subnets, route tables and endpoints of {} were not read (ec2:DescribeSubnets, ec2:DescribeRouteTables, ec2:DescribeVpcEndpoints): aws ec2 describe-route-tables --filters Name=vpc-id,Values={}", vpc, crate::text::shell_arg(&vpc)),
        )
    };
    let subnet = ec2
        .subnets
        .get(subnet_id)
        .ok_or_else(|| vpc_not_read(vpc_of_instance))?;
    let vpc = &subnet.vpc_id;
    let not_read = || vpc_not_read(vpc);
    let table = ec2.route_table_of(subnet).ok_or_else(not_read)?;
    let endpoints = ec2.endpoints.get(vpc).ok_or_else(not_read)?;
    // The VPC's Region: the zone's name less its letter, else the cluster's.
    let region = subnet
        .availability_zone
        .as_deref()
        .map(|z| {
            z.trim_end_matches(|c: char| c.is_ascii_lowercase())
                .to_string()
        })
        .filter(|r| !r.is_empty())
        .or_else(|| subject.facts.source.region.clone())
        .unwrap_or_else(|| "REGION".to_string());
    Ok(Path {
        region,
        subnet,
        table,
        egress: egress(subject, &instance, table),
        endpoints,
        instance,
        fargate,
    })
}

/// The default route of the table and whether it leads to the internet.
fn egress(subject: &Subject<'_>, instance: &Instance, table: &RouteTable) -> Egress {
    let default = table
        .routes
        .iter()
        .find(|r| r.destination_cidr_block.as_deref() == Some("0.0.0.0/0"));
    let Some(route) = default else {
        return Egress::No("no default route (0.0.0.0/0)".to_string());
    };
    if route.state.as_deref() == Some("blackhole") {
        return Egress::No("the default route is a blackhole".to_string());
    }
    if let Some(nat) = &route.nat_gateway_id {
        let state = subject
            .facts
            .ec2
            .nat_gateways
            .values()
            .flatten()
            .find(|g| &g.nat_gateway_id == nat)
            .and_then(|g| g.state.clone());
        return match state.as_deref() {
            Some("available") => Egress::Yes(HopKind::NatGateway, nat.clone(), String::new()),
            Some(other) => Egress::No(format!("NAT gateway {nat} is {other}")),
            None => Egress::Beyond(nat.clone(), "a NAT gateway whose state was not read".into()),
        };
    }
    if let Some(gateway) = route
        .gateway_id
        .as_deref()
        .filter(|g| g.starts_with("igw-"))
    {
        return match &instance.public_ip_address {
            Some(ip) => Egress::Yes(
                HopKind::InternetGateway,
                gateway.to_string(),
                format!(" (public IP {ip})"),
            ),
            None => Egress::No(format!(
                "internet gateway {gateway}, but the instance has no public IP"
            )),
        };
    }
    let target = route
        .transit_gateway_id
        .clone()
        .or_else(|| route.vpc_peering_connection_id.clone())
        .or_else(|| route.network_interface_id.clone())
        .or_else(|| route.gateway_id.clone())
        .unwrap_or_else(|| "an unnamed target".to_string());
    Egress::Beyond(target, "beyond what pulldoctor can see".into())
}

/// The observed path leads there: `ok`, unless the event says the pull timed out anyway — then
/// what was checked, and what remains.
fn reached(subject: &Subject<'_>, how: String) -> Outcome {
    match subject.pull_error {
        Some(PullError::Network) => Outcome::new(
            Status::Unknown,
            format!(
                "{how}, yet the event says the pull timed out: what remains is DNS resolution in the VPC, a firewall or proxy on the way, security groups or network ACLs"
            ),
        ),
        _ => Outcome::new(Status::Ok, how),
    }
}

/// Public ECR, a cache's upstream, another registry: only a route to the internet helps.
fn internet_only(subject: &Subject<'_>, path: &Path<'_>, destination: &Destination) -> Judged {
    match &path.egress {
        Egress::Yes(..) => (
            reached(
                subject,
                format!(
                    "the node reaches the internet through {}",
                    path.egress.how()
                ),
            ),
            None,
        ),
        Egress::No(why) => (
            Outcome::broken(
                Cause::NoRouteToRegistry,
                format!(
                    "the node has no route to the internet ({why}); it needs {}",
                    destination.needs()
                ),
            ),
            Some(Culprit::Egress),
        ),
        Egress::Beyond(..) => (
            Outcome::new(
                Status::Unknown,
                format!(
                    "the default route goes to {}: whether it reaches the internet is not known",
                    path.egress.how()
                ),
            ),
            None,
        ),
    }
}

fn service(endpoints: &[VpcEndpoint], region: &str, name: &str) -> Vec<VpcEndpoint> {
    let wanted = format!("com.amazonaws.{region}.{name}");
    endpoints
        .iter()
        .filter(|e| {
            e.service_name == wanted
                || e.service_region.as_deref() == Some(region)
                    && e.service_name.ends_with(&format!(".{name}"))
        })
        .filter(|e| {
            e.state
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("available"))
        })
        .cloned()
        .collect()
}

/// A private registry: egress, or the three endpoints with what they need.
fn private_registry(subject: &Subject<'_>, path: &Path<'_>, region: &str) -> Judged {
    // Endpoints with private DNS carry ECR's traffic whatever else the subnet can reach: their
    // policies apply even beside a NAT gateway.
    if let Some(refused) = endpoint_policies(subject, path, region) {
        return refused;
    }
    if let Some(blocked) = firewalls(subject, path, region) {
        return blocked;
    }
    if let Egress::Yes(..) = &path.egress {
        return (
            reached(
                subject,
                format!("the node reaches ECR through {}", path.egress.how()),
            ),
            None,
        );
    }
    match endpoint_gap(subject, path, region) {
        Some((broken, culprit)) => match &path.egress {
            Egress::Beyond(..) => (
                Outcome::new(
                    Status::Unknown,
                    format!(
                        "{}; unless the default route to {} reaches ECR",
                        broken.summary,
                        path.egress.how()
                    ),
                ),
                None,
            ),
            _ => (broken, Some(culprit)),
        },
        None => {
            let timeout = subject.pull_error == Some(PullError::Network);
            let outcome = match timeout {
                true => Outcome::new(
                    Status::Unknown,
                    "every observed hop is in place (route table, ecr.api, ecr.dkr and S3 endpoints in the node's zone, with their policies, security groups and network ACL where read); the event says the pull timed out: what remains is DNS resolution in the VPC, a firewall or proxy, or what was not read",
                ),
                false => Outcome::new(
                    Status::Ok,
                    format!("the node reaches ECR through the VPC endpoints of {region}"),
                ),
            };
            (outcome, None)
        }
    }
}

/// The first endpoint hop that is missing or wrong, when there is no egress.
fn endpoint_gap(
    subject: &Subject<'_>,
    path: &Path<'_>,
    region: &str,
) -> Option<(Outcome, Culprit)> {
    let vpc = &path.subnet.vpc_id;
    let no_egress = match &path.egress {
        Egress::Yes(..) => return None,
        other => other.how(),
    };
    // Every service without an endpoint, so that one fix creates them all.
    let missing: Vec<&'static str> = SERVICES
        .into_iter()
        .filter(|name| service(path.endpoints, region, name).is_empty())
        .collect();
    for name in ["ecr.api", "ecr.dkr"] {
        let found = service(path.endpoints, region, name);
        let Some(endpoint) = found.first() else {
            return Some((
                Outcome::broken(
                    Cause::VpcEndpointMissing,
                    format!(
                        "no interface endpoint com.amazonaws.{region}.{name} in {vpc}, and no route to the internet ({no_egress})"
                    ),
                ),
                Culprit::MissingEndpoints { services: missing },
            ));
        };
        if name == "ecr.dkr" {
            let dns = subject.facts.ec2.dns_support.get(vpc).copied();
            let hostnames = subject.facts.ec2.dns_hostnames.get(vpc).copied();
            if endpoint.private_dns_enabled == Some(false)
                || dns == Some(false)
                || hostnames == Some(false)
            {
                return Some((
                    Outcome::broken(
                        Cause::VpcEndpointPrivateDnsDisabled,
                        format!(
                            "endpoint {} for ecr.dkr needs private DNS (the registry host must resolve to it) and the VPC's enableDnsSupport and enableDnsHostnames",
                            endpoint.vpc_endpoint_id
                        ),
                    ),
                    Culprit::Endpoint {
                        id: endpoint.vpc_endpoint_id.clone(),
                    },
                ));
            }
        }
        let zone = path.subnet.availability_zone.as_deref();
        if let Some(zone) = zone
            && let Some(zones) = elsewhere(subject, endpoint, zone)
        {
            // Every ECR interface endpoint without the zone, so that one fix adds it to all.
            let ids: Vec<String> = ["ecr.api", "ecr.dkr"]
                .into_iter()
                .flat_map(|n| service(path.endpoints, region, n))
                .filter(|e| elsewhere(subject, e, zone).is_some())
                .map(|e| e.vpc_endpoint_id)
                .collect();
            return Some((
                Outcome::broken(
                    Cause::VpcEndpointNotInAz,
                    format!(
                        "endpoint {} for {name} has no subnet in the node's zone {zone} (it is in {})",
                        endpoint.vpc_endpoint_id,
                        zones.join(", ")
                    ),
                ),
                Culprit::NotInZone { ids },
            ));
        }
    }
    let s3 = service(path.endpoints, region, "s3");
    let table = &path.table.route_table_id;
    let gateway_on_table = s3.iter().any(|e| {
        e.vpc_endpoint_type.as_deref() == Some("Gateway") && e.route_table_ids.contains(table)
    });
    let interface = s3
        .iter()
        .any(|e| e.vpc_endpoint_type.as_deref() == Some("Interface"));
    if gateway_on_table || interface {
        return None;
    }
    Some(
        match s3
            .iter()
            .find(|e| e.vpc_endpoint_type.as_deref() == Some("Gateway"))
        {
            Some(gateway) => (
                Outcome::broken(
                    Cause::S3GatewayNotOnRouteTable,
                    format!(
                        "the S3 gateway endpoint {} is not on the node subnet's route table {table}: layers come from S3",
                        gateway.vpc_endpoint_id
                    ),
                ),
                Culprit::Endpoint {
                    id: gateway.vpc_endpoint_id.clone(),
                },
            ),
            None => (
                Outcome::broken(
                    Cause::VpcEndpointMissing,
                    format!(
                        "no S3 endpoint (com.amazonaws.{region}.s3) in {vpc}, and no route to the internet ({no_egress}): layers come from S3"
                    ),
                ),
                Culprit::MissingEndpoints { services: missing },
            ),
        },
    )
}

/// The zones of an interface endpoint's subnets, when they are known and leave out `zone`.
fn elsewhere(subject: &Subject<'_>, endpoint: &VpcEndpoint, zone: &str) -> Option<Vec<String>> {
    let zones: Vec<String> = endpoint
        .subnet_ids
        .iter()
        .filter_map(|s| subject.facts.ec2.subnets.get(s))
        .filter_map(|s| s.availability_zone.clone())
        .collect();
    (!zones.is_empty() && !zones.iter().any(|z| z == zone)).then_some(zones)
}

/// The endpoints of a service that carry the pull: an S3 gateway on the node's route table, an
/// interface endpoint whose private DNS takes the service's name.
fn on_way(path: &Path<'_>, region: &str, name: &str) -> Vec<VpcEndpoint> {
    let table = &path.table.route_table_id;
    service(path.endpoints, region, name)
        .into_iter()
        .filter(|e| match e.vpc_endpoint_type.as_deref() {
            Some("Gateway") => e.route_table_ids.contains(table),
            _ => e.private_dns_enabled != Some(false),
        })
        .collect()
}

/// The endpoint policies on the pull's way, evaluated for the pull identity: the token on
/// `ecr.api`, the manifest and layer URLs on `ecr.dkr`, the layers on the S3 gateway.
fn endpoint_policies(subject: &Subject<'_>, path: &Path<'_>, region: &str) -> Option<Judged> {
    use crate::iam::eval::{self, Caller, Context, Decision, Request, Sourced};
    use crate::iam::policy::PolicyDocument;
    let Ok(crate::ecr::reference::ImageRef::Ecr(image)) = &subject.image_ref else {
        return None;
    };
    let role = subject.pull_identity.roles().first()?.clone();
    let context = match subject.facts.role(&role) {
        Fact::Known(r) => super::access::pull_context(subject.facts, r, image),
        _ => Context::open(),
    };
    let repository = image.repository_arn();
    // The layer bucket is in the registry's Region, and so in its partition.
    let bucket = crate::iam::arn::build(
        crate::iam::arn::partition_for_region(region),
        "s3",
        "",
        "",
        &format!("prod-{region}-starport-layer-bucket/*"),
    );
    let calls: [(&str, &str, &str); 4] = [
        ("ecr.api", "ecr:GetAuthorizationToken", "*"),
        ("ecr.dkr", "ecr:BatchGetImage", &repository),
        ("ecr.dkr", "ecr:GetDownloadUrlForLayer", &repository),
        ("s3", "s3:GetObject", &bucket),
    ];
    for (service_name, action, resource) in calls {
        for endpoint in on_way(path, region, service_name) {
            let Some(text) = &endpoint.policy_document else {
                continue;
            };
            // Through this endpoint the request carries its id and VPC, and no public address.
            let mut context = context.clone();
            context
                .set("aws:SourceVpce", vec![endpoint.vpc_endpoint_id.clone()])
                .set("aws:SourceVpc", vec![path.subnet.vpc_id.clone()])
                .absent("aws:SourceIp");
            if let Some(ip) = &path.instance.private_ip_address {
                context.set("aws:VpcSourceIp", vec![ip.clone()]);
            }
            let source = format!("the policy of endpoint {}", endpoint.vpc_endpoint_id);
            let document = match PolicyDocument::from_text(text) {
                Ok(d) => d,
                Err(e) => {
                    return Some((
                        Outcome::new(Status::Unknown, format!("{source} does not parse: {}", e.0)),
                        None,
                    ));
                }
            };
            let result = eval::evaluate(
                &[Sourced {
                    source: &source,
                    document: &document,
                }],
                &Request {
                    action,
                    resource: Some(resource),
                    principal: Some(Caller::Aws(&role)),
                    context,
                },
            );
            // With no statement that allows the pull, a `Deny` whose condition is not known
            // changes nothing: the endpoint refuses it either way.
            let decision = match result.decision {
                Decision::Indeterminate if !result.allow_possible => Decision::ImplicitDeny,
                other => other,
            };
            match decision {
                Decision::Allow => {}
                Decision::ExplicitDeny | Decision::ImplicitDeny => {
                    let actions: Vec<&str> = calls
                        .iter()
                        .filter(|(s, _, _)| *s == service_name)
                        .map(|(_, a, _)| *a)
                        .collect();
                    // Layers come through URLs that ECR signs, so AWS's example statement for
                    // the layer bucket names every principal.
                    let principal = match service_name {
                        "s3" => serde_json::json!("*"),
                        _ => serde_json::json!({"AWS": role}),
                    };
                    let statement = serde_json::json!({
                        "Sid": "PulldoctorAllowPull",
                        "Effect": "Allow",
                        "Principal": principal,
                        "Action": actions,
                        "Resource": resource,
                    });
                    return Some((
                        Outcome::broken(
                            Cause::VpcEndpointPolicyDenies,
                            format!(
                                "{source} does not allow {action} on {resource} for {role}{}",
                                match (decision, result.deciding.first()) {
                                    (Decision::ExplicitDeny, Some(by)) =>
                                        format!(" ({by} denies it)"),
                                    (_, Some(by)) => format!(
                                        ": no statement allows it, whatever {by} decides (once one does, that condition decides)"
                                    ),
                                    (_, None) => ": no statement allows it".to_string(),
                                }
                            ),
                        ),
                        Some(Culprit::EndpointPolicy {
                            id: endpoint.vpc_endpoint_id.clone(),
                            policy: text.clone(),
                            statement,
                            denied: decision == Decision::ExplicitDeny,
                        }),
                    ));
                }
                Decision::Indeterminate => {
                    return Some((
                        Outcome::new(
                            Status::Unknown,
                            format!(
                                "whether {source} allows {action} is not known: {}",
                                result.unknown_reason.unwrap_or_default()
                            ),
                        ),
                        None,
                    ));
                }
            }
        }
    }
    None
}

/// A security group rule on 443 names a prefix list: whether it holds the peer is not known.
fn prefix_list_unknown(endpoint: &str, list: &str) -> Judged {
    (
        Outcome::new(
            Status::Unknown,
            format!(
                "between the node and endpoint {endpoint}, TCP 443 is allowed only through prefix list {list}, whose addresses pulldoctor does not read: aws ec2 get-managed-prefix-list-entries --prefix-list-id {}",
                crate::text::shell_quote(list)
            ),
        ),
        None,
    )
}

/// Security groups and the node subnet's network ACL between the node and the interface
/// endpoints it uses: 443 into the endpoint, 443 out of the node, the answer back to an
/// ephemeral port. Judged only on what was read.
fn firewalls(subject: &Subject<'_>, path: &Path<'_>, region: &str) -> Option<Judged> {
    let ec2 = &subject.facts.ec2;
    let node = &path.instance;
    let node_groups: Vec<String> = node
        .security_groups
        .iter()
        .map(|g| g.group_id.clone())
        .collect();
    let node_blocks: Vec<Block> = node
        .private_ip_address
        .as_deref()
        .and_then(Block::parse)
        .into_iter()
        .chain(path.subnet.cidr_block.as_deref().and_then(Block::parse))
        .collect();
    for name in ["ecr.api", "ecr.dkr"] {
        for endpoint in service(path.endpoints, region, name)
            .into_iter()
            .filter(|e| e.private_dns_enabled != Some(false))
        {
            let endpoint_groups: Vec<&crate::facts::aws::SecurityGroup> = endpoint
                .groups
                .iter()
                .filter_map(|g| ec2.security_groups.get(&g.group_id))
                .collect();
            let endpoint_group_ids: Vec<String> =
                endpoint.groups.iter().map(|g| g.group_id.clone()).collect();
            let complete =
                !endpoint_groups.is_empty() && endpoint_groups.len() == endpoint.groups.len();
            let ingress = match complete {
                true => groups_allow(&endpoint_groups, false, &node_blocks, &node_groups),
                false => Reach::Yes,
            };
            if let Reach::PrefixList(list) = &ingress {
                return Some(prefix_list_unknown(&endpoint.vpc_endpoint_id, list));
            }
            if let Reach::No = ingress {
                return Some((
                    Outcome::broken(
                        Cause::VpcEndpointSecurityGroupBlocks,
                        format!(
                            "the security groups of endpoint {} ({}) let no TCP 443 in from the node ({})",
                            endpoint.vpc_endpoint_id,
                            endpoint_group_ids.join(", "),
                            node_groups.join(", ")
                        ),
                    ),
                    Some(Culprit::EndpointGroup {
                        endpoint: endpoint.vpc_endpoint_id.clone(),
                        group: endpoint_group_ids.first().cloned().unwrap_or_default(),
                    }),
                ));
            }
            let endpoint_blocks: Vec<Block> = endpoint
                .subnet_ids
                .iter()
                .filter_map(|s| {
                    ec2.subnets
                        .get(s)?
                        .cidr_block
                        .as_deref()
                        .and_then(Block::parse)
                })
                .collect();
            let mine: Vec<&crate::facts::aws::SecurityGroup> = node_groups
                .iter()
                .filter_map(|g| ec2.security_groups.get(g))
                .collect();
            let complete =
                !mine.is_empty() && mine.len() == node_groups.len() && !endpoint_blocks.is_empty();
            let egress = match complete {
                true => groups_allow(&mine, true, &endpoint_blocks, &endpoint_group_ids),
                false => Reach::Yes,
            };
            if let Reach::PrefixList(list) = &egress {
                return Some(prefix_list_unknown(&endpoint.vpc_endpoint_id, list));
            }
            if let Reach::No = egress {
                return Some((
                    Outcome::broken(
                        Cause::VpcEndpointSecurityGroupBlocks,
                        format!(
                            "the node's security groups ({}) let no TCP 443 out to endpoint {}",
                            node_groups.join(", "),
                            endpoint.vpc_endpoint_id
                        ),
                    ),
                    Some(Culprit::NodeGroup {
                        endpoint: endpoint.vpc_endpoint_id.clone(),
                        group: node_groups.first().cloned().unwrap_or_default(),
                    }),
                ));
            }
            let Some(acl) = ec2.network_acl_of(path.subnet) else {
                continue;
            };
            for peer in &endpoint_blocks {
                let out = acl_allows(acl, true, 443, *peer);
                // The answer comes back to an ephemeral port (Linux uses 32768–60999).
                let back = acl_allows(acl, false, 40000, *peer);
                if !(out && back) {
                    return Some((
                        Outcome::broken(
                            Cause::NetworkAclBlocks,
                            format!(
                                "network ACL {} of subnet {} drops {} endpoint {}",
                                acl.network_acl_id,
                                path.subnet.subnet_id,
                                if out {
                                    "the answers (to ephemeral ports) from"
                                } else {
                                    "TCP 443 out to"
                                },
                                endpoint.vpc_endpoint_id
                            ),
                        ),
                        Some(Culprit::Acl {
                            id: acl.network_acl_id.clone(),
                        }),
                    ));
                }
            }
        }
    }
    None
}
