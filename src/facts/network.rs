//! What EC2 says about a node's path to a registry: its instance, subnet, the VPC's route
//! tables, endpoints, NAT gateways and DNS attributes. A VPC listed in a map was read whole, so
//! what it lacks there is absent.

use super::aws::{
    Instance, NatGateway, NetworkAcl, NetworkInterface, RouteTable, SecurityGroup, Subnet,
    VpcEndpoint,
};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ec2 {
    pub instances: BTreeMap<String, Instance>,
    /// Fargate pods' interfaces, by the pod's IP.
    pub interfaces: BTreeMap<String, NetworkInterface>,
    pub subnets: BTreeMap<String, Subnet>,
    /// By VPC.
    pub route_tables: BTreeMap<String, Vec<RouteTable>>,
    /// By VPC.
    pub endpoints: BTreeMap<String, Vec<VpcEndpoint>>,
    /// By VPC.
    pub nat_gateways: BTreeMap<String, Vec<NatGateway>>,
    /// By id.
    pub security_groups: BTreeMap<String, SecurityGroup>,
    /// By VPC.
    pub network_acls: BTreeMap<String, Vec<NetworkAcl>>,
    /// `enableDnsSupport` and `enableDnsHostnames` by VPC.
    pub dns_support: BTreeMap<String, bool>,
    pub dns_hostnames: BTreeMap<String, bool>,
}

impl Ec2 {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
            && self.interfaces.is_empty()
            && self.subnets.is_empty()
            && self.route_tables.is_empty()
    }

    /// A fresh read wins over what was known of the same things.
    pub fn merge(&mut self, fresh: Ec2) {
        self.instances.extend(fresh.instances);
        self.interfaces.extend(fresh.interfaces);
        self.subnets.extend(fresh.subnets);
        self.route_tables.extend(fresh.route_tables);
        self.endpoints.extend(fresh.endpoints);
        self.nat_gateways.extend(fresh.nat_gateways);
        self.security_groups.extend(fresh.security_groups);
        self.network_acls.extend(fresh.network_acls);
        self.dns_support.extend(fresh.dns_support);
        self.dns_hostnames.extend(fresh.dns_hostnames);
    }

    /// The network ACL of a subnet: its association, else its VPC's default.
    pub fn network_acl_of(&self, subnet: &Subnet) -> Option<&NetworkAcl> {
        let acls = self.network_acls.get(&subnet.vpc_id)?;
        acls.iter()
            .find(|a| {
                a.associations
                    .iter()
                    .any(|x| x.subnet_id.as_deref() == Some(subnet.subnet_id.as_str()))
            })
            .or_else(|| acls.iter().find(|a| a.is_default))
    }

    /// The route table a subnet uses: its explicit association, else its VPC's main table.
    pub fn route_table_of(&self, subnet: &Subnet) -> Option<&RouteTable> {
        let tables = self.route_tables.get(&subnet.vpc_id)?;
        tables
            .iter()
            .find(|t| {
                t.associations
                    .iter()
                    .any(|a| a.subnet_id.as_deref() == Some(subnet.subnet_id.as_str()))
            })
            .or_else(|| {
                tables
                    .iter()
                    .find(|t| t.associations.iter().any(|a| a.main))
            })
    }
}
