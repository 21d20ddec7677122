//! The Writer's EC2 calls: what the endpoint or security group looks like now, and the one call
//! that changes it. Each target family's reads and writes are one file: this, `iam_writes`, `kube_writes`, `ecr_writes`.

use super::apply::{Now, Writer, normal};
use super::write_plan::Write;
use crate::report::Apply;
use crate::source::live::aws::Aws;
use aws_sdk_ec2::types::{Filter, VpcEndpointType};

/// The EC2 client of the Region the write names (the VPC's).
fn client(aws: &Aws, region: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::config::Builder::from(&aws.config)
        .region(aws_sdk_ec2::config::Region::new(region.to_string()))
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

impl Writer {
    /// The endpoint or group as it is: whether the change is made already, or the policy.
    pub(super) async fn now_ec2(&self, apply: &Apply) -> Result<Now, String> {
        let aws = &self.session.aws;
        match apply {
            Apply::CreateGatewayEndpoint {
                region,
                vpc_id,
                service_name,
                route_table_ids,
            } => {
                let request = client(aws, region)
                    .describe_vpc_endpoints()
                    .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
                    .filters(
                        Filter::builder()
                            .name("service-name")
                            .values(service_name)
                            .build(),
                    );
                let out = aws
                    .call("ec2:DescribeVpcEndpoints", vpc_id, request.send())
                    .await
                    .map_err(|e| e.message)?;
                Ok(Now::Present(out.vpc_endpoints().iter().any(|e| {
                    route_table_ids
                        .iter()
                        .all(|t| e.route_table_ids().contains(t))
                })))
            }
            Apply::ModifyVpcEndpoint {
                region,
                vpc_endpoint_id,
                add_route_table_ids,
                add_subnet_ids,
                enable_private_dns,
                policy,
            } => {
                let request = client(aws, region)
                    .describe_vpc_endpoints()
                    .vpc_endpoint_ids(vpc_endpoint_id);
                let out = aws
                    .call("ec2:DescribeVpcEndpoints", vpc_endpoint_id, request.send())
                    .await
                    .map_err(|e| e.message)?;
                let endpoint = out
                    .vpc_endpoints()
                    .first()
                    .ok_or_else(|| format!("endpoint {vpc_endpoint_id} is gone: plan again"))?;
                if *policy {
                    return Ok(Now::Document(endpoint.policy_document().map(normal)));
                }
                let has =
                    |have: &[String], wanted: &[String]| wanted.iter().all(|w| have.contains(w));
                Ok(Now::Present(
                    has(endpoint.route_table_ids(), add_route_table_ids)
                        && has(endpoint.subnet_ids(), add_subnet_ids)
                        && (!enable_private_dns || endpoint.private_dns_enabled() == Some(true)),
                ))
            }
            Apply::AllowHttpsIngress {
                region,
                group_id,
                cidr,
            } => {
                let request = client(aws, region)
                    .describe_security_groups()
                    .group_ids(group_id);
                let out = aws
                    .call("ec2:DescribeSecurityGroups", group_id, request.send())
                    .await
                    .map_err(|e| e.message)?;
                let allowed = out.security_groups().iter().any(|g| {
                    g.ip_permissions().iter().any(|p| {
                        p.ip_protocol() == Some("tcp")
                            && p.from_port() == Some(443)
                            && p.to_port() == Some(443)
                            && p.ip_ranges().iter().any(|r| r.cidr_ip() == Some(cidr))
                    })
                });
                Ok(Now::Present(allowed))
            }
            other => Err(format!("{} is not an EC2 write", other.call())),
        }
    }

    /// The one EC2 call of the write.
    pub(super) async fn execute_ec2(&self, write: &Write) -> Result<(), String> {
        let aws = &self.session.aws;
        let target = write.apply.target();
        let call = write.apply.call();
        let done = match &write.apply {
            Apply::CreateGatewayEndpoint {
                region,
                vpc_id,
                service_name,
                route_table_ids,
            } => {
                let request = client(aws, region)
                    .create_vpc_endpoint()
                    .vpc_id(vpc_id)
                    .service_name(service_name)
                    .vpc_endpoint_type(VpcEndpointType::Gateway)
                    .set_route_table_ids(Some(route_table_ids.clone()));
                aws.call(call, &target, request.send()).await.map(|_| ())
            }
            Apply::ModifyVpcEndpoint {
                region,
                vpc_endpoint_id,
                add_route_table_ids,
                add_subnet_ids,
                enable_private_dns,
                policy,
            } => {
                let mut request = client(aws, region)
                    .modify_vpc_endpoint()
                    .vpc_endpoint_id(vpc_endpoint_id);
                for table in add_route_table_ids {
                    request = request.add_route_table_ids(table);
                }
                for subnet in add_subnet_ids {
                    request = request.add_subnet_ids(subnet);
                }
                if *enable_private_dns {
                    request = request.private_dns_enabled(true);
                }
                if *policy {
                    request = request.policy_document(Writer::document(write)?);
                }
                aws.call(call, &target, request.send()).await.map(|_| ())
            }
            Apply::AllowHttpsIngress {
                region,
                group_id,
                cidr,
            } => {
                let request = client(aws, region)
                    .authorize_security_group_ingress()
                    .group_id(group_id)
                    .ip_protocol("tcp")
                    .from_port(443)
                    .to_port(443)
                    .cidr_ip(cidr);
                aws.call(call, &target, request.send()).await.map(|_| ())
            }
            other => return Err(format!("{} is not an EC2 write", other.call())),
        };
        done.map_err(|e| e.message)
    }
}
