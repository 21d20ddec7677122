//! The AWS documents a bundle may hold, in the shapes the AWS CLI prints them: defined once here,
//! read by ingest and written by the live reader (and the wizard's setup read), so a live read
//! and a collected bundle cannot drift apart. Only the fields the chain reads are declared;
//! everything else is ignored. The `Describe…`/`List…`/`Get…` types are whole documents (the
//! CLI's output of that call, plus the `registryId`/`region` pulldoctor records beside an answer
//! that does not name what was asked); the others are their parts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CallerIdentity {
    #[serde(rename = "Account")]
    pub account: String,
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "UserId", default)]
    pub user_id: String,
}

/// `aws eks describe-cluster`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeCluster {
    pub cluster: Cluster,
}

/// `aws eks describe-nodegroup`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeNodegroup {
    pub nodegroup: Nodegroup,
}

/// `aws eks describe-fargate-profile`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeFargateProfile {
    pub fargate_profile: FargateProfile,
}

/// `aws eks describe-pod-identity-association`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribePodIdentityAssociation {
    pub association: PodIdentityAssociation,
}

/// `aws eks describe-access-entry`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeAccessEntry {
    pub access_entry: AccessEntry,
}

/// `aws iam list-open-id-connect-providers`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ListOidcProviders {
    #[serde(rename = "OpenIDConnectProviderList")]
    pub providers: Vec<OidcProviderEntry>,
}

/// `aws ecr describe-repositories`, with the registry and Region asked (an empty list names
/// neither).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRepositories {
    pub repositories: Vec<Repository>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `aws ecr describe-images`, with the repository asked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImages {
    pub image_details: Vec<ImageDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `aws ecr batch-get-image`, with what was asked: its failures (`ImageNotFound`) name only the
/// image id, so the registry and repository are recorded beside them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetImage {
    pub images: Vec<ImageManifest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<ImageFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// One image `batch-get-image` did not return, and why (`ImageNotFound`, `ImageTagDoesNotMatchDigest`, …).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFailure {
    pub image_id: ImageId,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

/// `aws ecr get-repository-policy`, with the Region asked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct GetRepositoryPolicy {
    #[serde(flatten)]
    pub policy: RepositoryPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `aws ecr get-registry-policy`, with the Region asked; `policyText: null` records a registry
/// without one (`RegistryPolicyNotFoundException`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRegistryPolicy {
    pub registry_id: String,
    pub policy_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `aws ecr validate-pull-through-cache-rule`: whether ECR can reach and authenticate to the
/// rule's upstream (it reads the credential's secret itself; pulldoctor never does).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatePullThroughCacheRule {
    pub ecr_repository_prefix: String,
    pub registry_id: String,
    #[serde(default)]
    pub upstream_registry_url: Option<String>,
    pub is_valid: bool,
    #[serde(default)]
    pub failure: Option<String>,
}

/// `aws ecr describe-pull-through-cache-rules`, with the registry asked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribePullThroughCacheRules {
    pub pull_through_cache_rules: Vec<PullThroughCacheRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub name: String,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub identity: Option<ClusterIdentity>,
    #[serde(default)]
    pub compute_config: Option<ComputeConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ClusterIdentity {
    #[serde(default)]
    pub oidc: Option<Oidc>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Oidc {
    #[serde(default)]
    pub issuer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComputeConfig {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub node_role_arn: Option<String>,
}

impl Cluster {
    pub fn issuer(&self) -> Option<&str> {
        self.identity.as_ref()?.oidc.as_ref()?.issuer.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nodegroup {
    pub nodegroup_name: String,
    pub node_role: String,
    /// `AL2023_x86_64_STANDARD`, `BOTTLEROCKET_ARM_64`, `CUSTOM`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ami_type: Option<String>,
    /// A launch template can carry user data that rewrites the node's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<serde_json::Value>,
}

impl Nodegroup {
    /// Nodes of an EKS-built AMI with EKS's own bootstrap: no user data of the owner's, so the
    /// image credential provider runs with the stock config (which has no `tokenAttributes`).
    /// `None` when the group's description does not say.
    pub fn stock_bootstrap(&self) -> Option<bool> {
        let ami = self.ami_type.as_deref()?;
        Some(ami != "CUSTOM" && self.launch_template.is_none())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FargateProfile {
    pub fargate_profile_name: String,
    pub pod_execution_role_arn: String,
    #[serde(default)]
    pub selectors: Vec<FargateSelector>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FargateSelector {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodIdentityAssociation {
    pub namespace: String,
    pub service_account: String,
    /// Empty in `list-pod-identity-associations` summaries, which do not name the role.
    #[serde(default)]
    pub role_arn: String,
    #[serde(default)]
    pub association_id: Option<String>,
    #[serde(default)]
    pub target_role_arn: Option<String>,
    /// When it was created (`describe-pod-identity-association`'s `createdAt`), RFC 3339.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "timestamp_text"
    )]
    pub created_at: Option<String>,
}

/// A timestamp as the AWS CLI prints it: ISO 8601 text, or (AWS CLI v1, and the raw API's JSON)
/// epoch seconds. Kept as RFC 3339 text.
fn timestamp_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Number(n)) => {
            let seconds = n
                .as_f64()
                .ok_or_else(|| D::Error::custom("a timestamp out of range"))?;
            k8s_openapi::jiff::Timestamp::from_millisecond((seconds * 1000.0) as i64)
                .map(|t| Some(t.to_string()))
                .map_err(D::Error::custom)
        }
        Some(other) => Err(D::Error::custom(format!("a timestamp, not {other}"))),
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntry {
    pub principal_arn: String,
    #[serde(default, rename = "type")]
    pub entry_type: Option<String>,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
}

/// `aws iam get-account-authorization-details`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AuthorizationDetails {
    #[serde(rename = "RoleDetailList")]
    pub roles: Vec<RoleDetail>,
    #[serde(rename = "Policies", default)]
    pub policies: Vec<ManagedPolicyDetail>,
    /// A live read lists roles one by one, which covers no account completely.
    #[serde(
        rename = "pulldoctorPartial",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RoleDetail {
    #[serde(rename = "RoleName")]
    pub role_name: String,
    #[serde(rename = "Arn")]
    pub arn: String,
    /// An object (CLI) or a URL-encoded string (API); parsed later so a bad one is reported.
    #[serde(rename = "AssumeRolePolicyDocument", default)]
    pub assume_role_policy_document: Value,
    #[serde(rename = "RolePolicyList", default)]
    pub role_policy_list: Vec<InlinePolicy>,
    #[serde(rename = "AttachedManagedPolicies", default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(rename = "PermissionsBoundary", default)]
    pub permissions_boundary: Option<Boundary>,
    /// `None` when the document does not carry them: the tags are then unknown.
    #[serde(rename = "Tags", default)]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value", default)]
    pub value: String,
}

/// Tags as a map, `None` when they were not read.
pub fn tag_map(tags: Option<&Vec<Tag>>) -> Option<std::collections::BTreeMap<String, String>> {
    tags.map(|t| t.iter().map(|t| (t.key.clone(), t.value.clone())).collect())
}

/// `aws organizations describe-organization`; `{"Organization": null}` records an account that
/// is in no organization (the CLI's `AWSOrganizationsNotInUseException`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeOrganization {
    #[serde(rename = "Organization")]
    pub organization: Option<Organization>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Organization {
    #[serde(rename = "Id")]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct InlinePolicy {
    #[serde(rename = "PolicyName")]
    pub policy_name: String,
    #[serde(rename = "PolicyDocument")]
    pub policy_document: Value,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AttachedPolicy {
    #[serde(rename = "PolicyName", default)]
    pub policy_name: Option<String>,
    #[serde(rename = "PolicyArn")]
    pub policy_arn: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Boundary {
    #[serde(rename = "PermissionsBoundaryArn")]
    pub permissions_boundary_arn: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ManagedPolicyDetail {
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "PolicyName", default)]
    pub policy_name: Option<String>,
    #[serde(rename = "PolicyVersionList", default)]
    pub versions: Vec<PolicyVersion>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PolicyVersion {
    #[serde(rename = "Document")]
    pub document: Value,
    #[serde(rename = "IsDefaultVersion", default)]
    pub is_default_version: bool,
    #[serde(rename = "VersionId", default)]
    pub version_id: Option<String>,
}

/// `aws iam get-role`: the role and its trust policy, not its permission policies.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct GetRole {
    #[serde(rename = "RoleName")]
    pub role_name: String,
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "AssumeRolePolicyDocument", default)]
    pub assume_role_policy_document: Value,
    #[serde(rename = "PermissionsBoundary", default)]
    pub permissions_boundary: Option<Boundary>,
    #[serde(rename = "Tags", default)]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OidcProviderEntry {
    #[serde(rename = "Arn")]
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OidcProviderDetail {
    #[serde(rename = "Url")]
    pub url: String,
    #[serde(rename = "ClientIDList", default)]
    pub client_id_list: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    pub repository_arn: String,
    pub registry_id: String,
    pub repository_name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDetail {
    pub registry_id: String,
    pub repository_name: String,
    pub image_digest: String,
    #[serde(default)]
    pub image_tags: Vec<String>,
    #[serde(default)]
    pub image_manifest_media_type: Option<String>,
    /// `ACTIVE`, `ARCHIVED` (ECR's archive storage class: listed, not pullable) or `ACTIVATING`
    /// (being restored); absent from answers before the archive class existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_status: Option<String>,
}

impl ImageDetail {
    /// Whether this listed image is the one `image` names: by digest when it has one, else by tag.
    pub fn is_image(&self, image: &crate::ecr::reference::EcrImage) -> bool {
        match &image.digest {
            Some(d) => &self.image_digest == d,
            None => self
                .image_tags
                .iter()
                .any(|t| Some(t) == image.tag.as_ref()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub registry_id: String,
    pub repository_name: String,
    pub image_id: ImageId,
    pub image_manifest: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageId {
    #[serde(default)]
    pub image_digest: Option<String>,
    #[serde(default)]
    pub image_tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryPolicy {
    pub registry_id: String,
    pub repository_name: String,
    /// `null` when the repository has no policy (`RepositoryPolicyNotFoundException`).
    pub policy_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullThroughCacheRule {
    pub ecr_repository_prefix: String,
    #[serde(default)]
    pub upstream_registry_url: Option<String>,
    #[serde(default)]
    pub registry_id: Option<String>,
}

/// `aws ec2 describe-instances`: the nodes' instances (subnet, security groups, public IP).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeInstances {
    #[serde(rename = "Reservations", default)]
    pub reservations: Vec<Reservation>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Reservation {
    #[serde(rename = "Instances", default)]
    pub instances: Vec<Instance>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    pub instance_id: String,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub placement: Option<Placement>,
    #[serde(default)]
    pub public_ip_address: Option<String>,
    #[serde(default)]
    pub private_ip_address: Option<String>,
    #[serde(default)]
    pub security_groups: Vec<GroupRef>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Placement {
    #[serde(default)]
    pub availability_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupRef {
    pub group_id: String,
}

/// `aws ec2 describe-network-interfaces`: a Fargate pod's own interface (found by its IP).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeNetworkInterfaces {
    #[serde(rename = "NetworkInterfaces", default)]
    pub network_interfaces: Vec<NetworkInterface>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub network_interface_id: String,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub private_ip_address: Option<String>,
    #[serde(default)]
    pub groups: Vec<GroupRef>,
    #[serde(default)]
    pub association: Option<InterfaceAssociation>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InterfaceAssociation {
    #[serde(default)]
    pub public_ip: Option<String>,
}

impl NetworkInterface {
    /// The interface as the host of a path: what an instance would say of itself.
    pub fn as_instance(&self) -> Instance {
        Instance {
            instance_id: self.network_interface_id.clone(),
            subnet_id: self.subnet_id.clone(),
            vpc_id: self.vpc_id.clone(),
            placement: Some(Placement {
                availability_zone: self.availability_zone.clone(),
            }),
            public_ip_address: self.association.as_ref().and_then(|a| a.public_ip.clone()),
            private_ip_address: self.private_ip_address.clone(),
            security_groups: self.groups.clone(),
        }
    }
}

/// `aws ec2 describe-subnets`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeSubnets {
    #[serde(rename = "Subnets", default)]
    pub subnets: Vec<Subnet>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub cidr_block: Option<String>,
}

/// `aws ec2 describe-route-tables`, with the VPC asked (every table of it).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeRouteTables {
    #[serde(rename = "RouteTables", default)]
    pub route_tables: Vec<RouteTable>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTable {
    pub route_table_id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub associations: Vec<RouteTableAssociation>,
    #[serde(default)]
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTableAssociation {
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub main: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Route {
    #[serde(default)]
    pub destination_cidr_block: Option<String>,
    #[serde(default)]
    pub destination_prefix_list_id: Option<String>,
    #[serde(default)]
    pub gateway_id: Option<String>,
    #[serde(default)]
    pub nat_gateway_id: Option<String>,
    #[serde(default)]
    pub transit_gateway_id: Option<String>,
    #[serde(default)]
    pub vpc_peering_connection_id: Option<String>,
    #[serde(default)]
    pub network_interface_id: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

/// `aws ec2 describe-vpc-endpoints`, with the VPC asked (every endpoint of it).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeVpcEndpoints {
    #[serde(rename = "VpcEndpoints", default)]
    pub vpc_endpoints: Vec<VpcEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcEndpoint {
    pub vpc_endpoint_id: String,
    pub vpc_id: String,
    pub service_name: String,
    #[serde(default)]
    pub vpc_endpoint_type: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub private_dns_enabled: Option<bool>,
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    #[serde(default)]
    pub route_table_ids: Vec<String>,
    #[serde(default)]
    pub groups: Vec<EndpointGroup>,
    #[serde(default)]
    pub policy_document: Option<String>,
    /// The Region of the service, for a cross-Region endpoint.
    #[serde(default)]
    pub service_region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointGroup {
    pub group_id: String,
}

/// `aws ec2 describe-nat-gateways`, with the VPC asked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeNatGateways {
    #[serde(rename = "NatGateways", default)]
    pub nat_gateways: Vec<NatGateway>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGateway {
    pub nat_gateway_id: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
}

/// `aws ec2 describe-vpc-attribute --attribute enableDnsSupport` (or `enableDnsHostnames`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVpcAttribute {
    pub vpc_id: String,
    #[serde(default)]
    pub enable_dns_support: Option<AttributeBoolean>,
    #[serde(default)]
    pub enable_dns_hostnames: Option<AttributeBoolean>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeBoolean {
    #[serde(default)]
    pub value: Option<bool>,
}

/// `aws ec2 describe-security-groups`, with the VPC asked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeSecurityGroups {
    #[serde(rename = "SecurityGroups", default)]
    pub security_groups: Vec<SecurityGroup>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    pub group_id: String,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub ip_permissions: Vec<IpPermission>,
    #[serde(default)]
    pub ip_permissions_egress: Vec<IpPermission>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpPermission {
    /// `tcp`, `6`, or `-1` for every protocol.
    pub ip_protocol: String,
    #[serde(default)]
    pub from_port: Option<i32>,
    #[serde(default)]
    pub to_port: Option<i32>,
    #[serde(default)]
    pub ip_ranges: Vec<IpRange>,
    #[serde(default)]
    pub user_id_group_pairs: Vec<GroupRef>,
    /// Managed prefix lists: address sets pulldoctor does not expand.
    #[serde(default)]
    pub prefix_list_ids: Vec<PrefixListRef>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrefixListRef {
    pub prefix_list_id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpRange {
    pub cidr_ip: String,
}

/// `aws ec2 describe-network-acls`, with the VPC asked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DescribeNetworkAcls {
    #[serde(rename = "NetworkAcls", default)]
    pub network_acls: Vec<NetworkAcl>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAcl {
    pub network_acl_id: String,
    pub vpc_id: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub associations: Vec<NetworkAclAssociation>,
    #[serde(default)]
    pub entries: Vec<NetworkAclEntry>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAclAssociation {
    #[serde(default)]
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAclEntry {
    pub rule_number: i32,
    /// `6` (TCP), or `-1` for every protocol.
    pub protocol: String,
    /// `allow` or `deny`.
    pub rule_action: String,
    pub egress: bool,
    #[serde(default)]
    pub cidr_block: Option<String>,
    #[serde(default)]
    pub port_range: Option<PortRange>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortRange {
    pub from: i32,
    pub to: i32,
}

/// How a refused or failed AWS call is worded, from its error code: the same words whether the
/// SDK met it (a live read) or the AWS CLI did (a collected bundle records the CLI's error).
pub fn refusal(code: &str, action: &str, target: &str, detail: &str) -> String {
    match code {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            format!("AccessDenied: {action} on {target} was refused — grant {action} to settle it")
        }
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException" => format!(
            "{code}: the AWS credentials were refused for {action} (log in again, e.g. aws sso login, or pass --profile)"
        ),
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" => {
            format!("throttled: {action} on {target} (retries exhausted)")
        }
        "" => format!("{action} on {target} failed: {detail}"),
        _ => format!("{code}: {action} on {target}: {detail}"),
    }
}

/// The code and message of an AWS CLI error line: `An error occurred (CODE) when calling the
/// OPERATION operation: MESSAGE`; anything else (a connection failure) has no code.
pub fn cli_error(text: &str) -> (&str, &str) {
    let text = text.trim();
    let parsed = text
        .strip_prefix("An error occurred (")
        .and_then(|rest| rest.split_once(')'))
        .map(|(code, rest)| {
            let message = rest.split_once("operation: ").map_or(rest, |(_, m)| m);
            (code, message.trim())
        });
    parsed.unwrap_or(("", text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cli_error_is_worded_as_the_sdk_error_of_the_same_code() {
        let line = "\nAn error occurred (AccessDeniedException) when calling the DescribeImages operation: User: x is not authorized\n";
        assert_eq!(
            cli_error(line),
            ("AccessDeniedException", "User: x is not authorized")
        );
        let (code, detail) = cli_error(line);
        assert_eq!(
            refusal(code, "ecr:DescribeImages", "shop/web", detail),
            "AccessDenied: ecr:DescribeImages on shop/web was refused — grant ecr:DescribeImages to settle it"
        );
        let (code, detail) = cli_error("Could not connect to the endpoint URL: \"https://x/\"");
        assert_eq!(code, "");
        assert_eq!(
            refusal(code, "eks:DescribeCluster", "lab", detail),
            "eks:DescribeCluster on lab failed: Could not connect to the endpoint URL: \"https://x/\""
        );
    }

    /// The AWS CLI prints `createdAt` as ISO text (v2) or epoch seconds (v1): both read the same.
    #[test]
    fn an_association_time_reads_as_text_or_epoch_seconds() {
        let read = |created: Value| -> Option<String> {
            let value =
                serde_json::json!({"namespace": "a", "serviceAccount": "b", "createdAt": created});
            serde_json::from_value::<PodIdentityAssociation>(value)
                .unwrap()
                .created_at
        };
        let epoch = read(serde_json::json!(1795860000));
        let text = read(serde_json::json!("2026-11-28T10:00:00Z"));
        assert_eq!(epoch.as_deref(), Some("2026-11-28T10:00:00Z"));
        assert_eq!(epoch, text);
        assert_eq!(read(Value::Null), None);
    }
}
