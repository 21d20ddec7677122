//! The report: findings, their chains and fixes, as `diagnose` prints them (text or JSON,
//! schema `pulldoctor.report/v1`) and the TUI shows them.

pub mod markdown;
pub mod text;

use crate::facts::SourceInfo;
use crate::text::{escape_block, escape_line};
use serde::Serialize;

pub const SCHEMA: &str = "pulldoctor.report/v1";

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    #[schemars(extend("const" = SCHEMA))]
    pub schema: &'static str,
    pub source: SourceInfo,
    pub findings: Vec<Finding>,
    /// Input that was reported and skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub namespace: String,
    pub pod: Option<String>,
    pub workload: Option<String>,
    pub container: String,
    pub image: String,
    pub state: String,
    pub verdict: Status,
    pub broken_link: Option<LinkId>,
    pub cause: Option<Cause>,
    pub summary: String,
    pub pull_identity: PullIdentity,
    /// The ServiceAccount the pod (or workload) runs as.
    pub service_account: String,
    /// The app's own AWS identity (IRSA or Pod Identity) — not what pulls the image.
    pub app_identity: AppIdentity,
    pub links: Vec<Link>,
    pub fixes: Vec<Fix>,
    /// The pod cannot pull (or the workload cannot create pods, or the pod could not be read
    /// and may be failing): its `unknown` is an open failure, which counts for the exit status.
    pub failing: bool,
    /// For a broken finding: who else its broken entity stops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<BlastRadius>,
}

/// Who else the broken entity of a finding stops.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlastRadius {
    /// The broken entity: a role's ARN, a repository, an image, the OIDC provider, a network hop.
    pub entity: String,
    /// Other workloads (`NAMESPACE/KIND/NAME`, or `NAMESPACE/POD`) that fail for the same cause
    /// through the same entity.
    pub workloads: Vec<String>,
    /// Node groups whose role lacks the same permission: the next pod scheduled there fails too.
    pub node_groups: Vec<String>,
}

impl BlastRadius {
    /// One line for a person, or `None` when nobody else is stopped.
    pub fn line(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.workloads.is_empty() {
            parts.push(format!(
                "{} other workload(s): {}",
                self.workloads.len(),
                self.workloads.join(", ")
            ));
        }
        if !self.node_groups.is_empty() {
            parts.push(format!(
                "the next pod on node group(s) {}",
                self.node_groups.join(", ")
            ));
        }
        (!parts.is_empty()).then(|| format!("{} also stops {}", self.entity, parts.join("; ")))
    }
}

/// Where the report's JSON Schema is published (the MCP server serves it at this URI).
pub const SCHEMA_URI: &str = "pulldoctor://schema/report/v1";

/// The JSON Schema (2020-12) of the report `diagnose -o json` prints, derived from the types
/// that print it.
pub fn json_schema() -> serde_json::Value {
    // As the report is written (a field skipped when empty is not required), not as it is read.
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Report>();
    schema.insert("$id".into(), SCHEMA_URI.into());
    schema.insert("title".into(), SCHEMA.into());
    schema.to_value()
}

impl Report {
    /// Contract §1: 1 when a finding is broken, or a failing one is left unknown; else 0.
    pub fn exit_status(&self) -> u8 {
        let open = self
            .findings
            .iter()
            .any(|f| f.verdict == Status::Broken || (f.failing && f.verdict == Status::Unknown));
        u8::from(open)
    }
}

impl Finding {
    pub fn link(&self, id: LinkId) -> Option<&Link> {
        self.links.iter().find(|l| l.id == id)
    }

    /// `shop/web-7f9c6d-x2x` or `shop/ReplicaSet/api-5d8`.
    pub fn subject(&self) -> String {
        match (&self.pod, &self.workload) {
            (Some(pod), _) => format!("{}/{pod}", self.namespace),
            (None, Some(w)) => format!("{}/{w}", self.namespace),
            (None, None) => self.namespace.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullIdentity {
    pub kind: PullIdentityKind,
    pub arn: Option<String>,
    /// When the node's role could be any of several, all of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// Where the role was found (a node group, a Fargate profile, an annotation): for the
    /// screens that say so; the node-role link's evidence says it in the report.
    #[serde(skip)]
    pub resolved_from: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppIdentity {
    pub kind: AppIdentityKind,
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AppIdentityKind {
    Irsa,
    PodIdentity,
    None,
    Malformed,
    Unknown,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PullIdentityKind {
    NodeRole,
    FargateRole,
    ServiceAccountRole,
    Unknown,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub id: LinkId,
    pub lane: Lane,
    pub status: Status,
    pub cause: Option<Cause>,
    pub summary: String,
    pub evidence: Vec<String>,
    pub basis: Basis,
    /// The network link's path as observed, hop by hop (empty for other links, or without EC2
    /// facts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<Hop>,
    /// The app role could pull where the pull identity cannot (see the evidence): for the
    /// finding's summary.
    #[serde(skip)]
    pub misconception: Option<String>,
}

/// One hop of the way a pull takes from the node to the registry.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hop {
    pub kind: HopKind,
    /// The EC2 id (or the registry's host); empty for a hop that is missing.
    pub id: String,
    /// What was seen of it, in a few words.
    pub detail: String,
    pub status: Status,
}

/// The hops in one line, the broken one marked ✗ and an unknown one ?: the path as text output
/// prints it.
pub fn path_line(hops: &[Hop]) -> String {
    hops.iter()
        .map(|h| {
            let mark = match h.status {
                Status::Broken => " ✗",
                Status::Unknown => " ?",
                _ => "",
            };
            match h.id.as_str() {
                "" => format!("{} ({}){mark}", h.kind.as_str(), h.detail),
                id => format!("{} {id}{mark}", h.kind.as_str()),
            }
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HopKind {
    Node,
    /// A Fargate pod's own network interface (it has no node of its own).
    PodInterface,
    Subnet,
    RouteTable,
    NatGateway,
    InternetGateway,
    /// A route target pulldoctor cannot see past (transit gateway, peering, appliance).
    Beyond,
    Endpoint,
    Registry,
}

impl HopKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HopKind::Node => "node",
            HopKind::PodInterface => "pod interface",
            HopKind::Subnet => "subnet",
            HopKind::RouteTable => "route table",
            HopKind::NatGateway => "NAT gateway",
            HopKind::InternetGateway => "internet gateway",
            HopKind::Beyond => "route target",
            HopKind::Endpoint => "endpoint",
            HopKind::Registry => "registry",
        }
    }
}

#[derive(
    Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skipped,
    Warning,
    Unknown,
    Broken,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::Warning => "warning",
            Status::Unknown => "unknown",
            Status::Broken => "broken",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    Observed,
    Event,
    Pulled,
}

impl Basis {
    /// The name the JSON report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Observed => "observed",
            Basis::Event => "event",
            Basis::Pulled => "pulled",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    Pull,
    Identity,
    Both,
}

impl Lane {
    /// The name the JSON report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Pull => "pull",
            Lane::Identity => "identity",
            Lane::Both => "both",
        }
    }
}

macro_rules! kebab_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

kebab_enum!(
    /// The links of the chain (contract §3), in the order a failing pull walks them.
    LinkId {
        Pod = "pod",
        ImageReference = "image-reference",
        Repository = "repository",
        Image = "image",
        Platform = "platform",
        NodeRole = "node-role",
        PullPermissions = "pull-permissions",
        RepositoryPolicy = "repository-policy",
        Network = "network",
        ServiceAccount = "service-account",
        RoleAnnotation = "role-annotation",
        CredentialInjection = "credential-injection",
        Role = "role",
        TrustPolicy = "trust-policy",
        OidcProvider = "oidc-provider",
        RolePermissions = "role-permissions",
    }
);

impl LinkId {
    pub fn lane(self) -> Lane {
        use LinkId::*;
        match self {
            Pod => Lane::Both,
            ImageReference | Repository | Image | Platform | NodeRole | PullPermissions
            | RepositoryPolicy | Network => Lane::Pull,
            _ => Lane::Identity,
        }
    }
}

kebab_enum!(
    /// Cause codes (contract §3).
    Cause {
        InvalidImageName = "invalid-image-name",
        ImageNeverPull = "image-never-pull",
        RegistryHostNotCovered = "registry-host-not-covered",
        ImageReferenceMalformed = "image-reference-malformed",
        RegistryInOtherPartition = "registry-in-other-partition",
        ServiceAccountMissing = "service-account-missing",
        RoleArnMalformed = "role-arn-malformed",
        PodPredatesAnnotation = "pod-predates-annotation",
        PodRoleMismatch = "pod-role-mismatch",
        PodIdentityAgentMissing = "pod-identity-agent-missing",
        RoleMissing = "role-missing",
        TrustWrongProvider = "trust-wrong-provider",
        TrustWrongSubject = "trust-wrong-subject",
        TrustWrongAudience = "trust-wrong-audience",
        TrustWrongAction = "trust-wrong-action",
        TrustConditionKeyHasScheme = "trust-condition-key-has-scheme",
        TrustWildcardInStringequals = "trust-wildcard-in-stringequals",
        TrustNoAudienceCondition = "trust-no-audience-condition",
        TrustPodIdentityPrincipalMissing = "trust-pod-identity-principal-missing",
        OidcProviderMissing = "oidc-provider-missing",
        OidcProviderAudienceMissing = "oidc-provider-audience-missing",
        RoleMissingEcrPull = "role-missing-ecr-pull",
        NodeRoleUnresolved = "node-role-unresolved",
        NodeRoleMissing = "node-role-missing",
        PullPermissionMissing = "pull-permission-missing",
        AuthTokenNotWildcard = "auth-token-not-wildcard",
        PullExplicitDeny = "pull-explicit-deny",
        PullBoundaryDenies = "pull-boundary-denies",
        OrganizationPolicyDenies = "organization-policy-denies",
        SessionPolicyDenies = "session-policy-denies",
        PullThroughCacheImportMissing = "pull-through-cache-import-missing",
        RepositoryMissing = "repository-missing",
        RepositoryPolicyDenies = "repository-policy-denies",
        CrossAccountNotAllowed = "cross-account-not-allowed",
        ImageTagMissing = "image-tag-missing",
        ImageDigestMissing = "image-digest-missing",
        ImageArchived = "image-archived",
        PlatformMismatch = "platform-mismatch",
        NetworkUnreachable = "network-unreachable",
        LayerDownloadDenied = "layer-download-denied",
        RateLimited = "rate-limited",
        NodeDiskFull = "node-disk-full",
        NodeNotReady = "node-not-ready",
        PullThroughCacheUpstreamAuthFailed = "pull-through-cache-upstream-auth-failed",
        PullThroughCacheUpstreamRateLimited = "pull-through-cache-upstream-rate-limited",
        SandboxImageNotCached = "sandbox-image-not-cached",
        NoRouteToRegistry = "no-route-to-registry",
        VpcEndpointMissing = "vpc-endpoint-missing",
        VpcEndpointPrivateDnsDisabled = "vpc-endpoint-private-dns-disabled",
        VpcEndpointNotInAz = "vpc-endpoint-not-in-az",
        S3GatewayNotOnRouteTable = "s3-gateway-not-on-route-table",
        VpcEndpointPolicyDenies = "vpc-endpoint-policy-denies",
        VpcEndpointSecurityGroupBlocks = "vpc-endpoint-security-group-blocks",
        NetworkAclBlocks = "network-acl-blocks",
    }
);

/// What a cause is about, which decides what fixes it and what its fix may write: a new cause
/// is placed here once (the match is exhaustive) instead of in each list that groups causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CauseFamily {
    /// The image reference and how the kubelet is told to pull it.
    ImageReference,
    /// The app identity's wiring in the cluster: ServiceAccount, annotation, injection, role.
    AppIdentity,
    /// The role's trust policy.
    Trust,
    /// The account's IAM OIDC provider for the cluster.
    OidcProvider,
    /// The pull identity lacks an allow that a policy grant gives.
    PullGrant,
    /// The pull identity is denied, capped, unknown or in another account.
    PullAccess,
    /// The repository or the image is not in the registry.
    Registry,
    /// The image is in ECR's archive.
    Archive,
    /// The Pod Identity agent is not running.
    PodIdentityAgent,
    /// The pull reached nothing, or was refused on the way, per the kubelet's message.
    Transport,
    /// A hop of the observed network path.
    NetworkPath,
    /// The node itself.
    Node,
    /// A pull-through cache's upstream registry.
    Upstream,
}

impl Cause {
    pub fn family(self) -> CauseFamily {
        use Cause::*;
        use CauseFamily as F;
        match self {
            InvalidImageName
            | ImageReferenceMalformed
            | ImageNeverPull
            | RegistryHostNotCovered
            | RegistryInOtherPartition
            | PlatformMismatch => F::ImageReference,
            ServiceAccountMissing
            | RoleArnMalformed
            | PodPredatesAnnotation
            | PodRoleMismatch
            | RoleMissing => F::AppIdentity,
            TrustWrongProvider
            | TrustWrongSubject
            | TrustWrongAudience
            | TrustWrongAction
            | TrustConditionKeyHasScheme
            | TrustWildcardInStringequals
            | TrustNoAudienceCondition
            | TrustPodIdentityPrincipalMissing => F::Trust,
            OidcProviderMissing | OidcProviderAudienceMissing => F::OidcProvider,
            RoleMissingEcrPull
            | PullPermissionMissing
            | AuthTokenNotWildcard
            | PullThroughCacheImportMissing => F::PullGrant,
            PullExplicitDeny
            | RepositoryPolicyDenies
            | PullBoundaryDenies
            | OrganizationPolicyDenies
            | SessionPolicyDenies
            | NodeRoleUnresolved
            | NodeRoleMissing
            | CrossAccountNotAllowed => F::PullAccess,
            RepositoryMissing | ImageTagMissing | ImageDigestMissing => F::Registry,
            ImageArchived => F::Archive,
            PodIdentityAgentMissing => F::PodIdentityAgent,
            NetworkUnreachable | LayerDownloadDenied | RateLimited => F::Transport,
            NoRouteToRegistry
            | VpcEndpointMissing
            | VpcEndpointPrivateDnsDisabled
            | VpcEndpointNotInAz
            | S3GatewayNotOnRouteTable
            | VpcEndpointPolicyDenies
            | VpcEndpointSecurityGroupBlocks
            | NetworkAclBlocks => F::NetworkPath,
            NodeDiskFull | NodeNotReady | SandboxImageNotCached => F::Node,
            PullThroughCacheUpstreamAuthFailed | PullThroughCacheUpstreamRateLimited => F::Upstream,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fix {
    pub cause: Cause,
    pub title: String,
    pub writes: bool,
    pub steps: Vec<Step>,
    /// Set when the fix's target was chosen by metadata a tenant can write (a ServiceAccount
    /// annotation): what chose it. Plans and diffs say so, and the TUI asks again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_chosen_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub explain: String,
    pub command: Option<String>,
    /// The proposed document (policy JSON or manifest YAML), when a document changes.
    pub document: Option<String>,
    /// A unified diff of `document` against the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The document this step replaces, as it was read (for the check that it has not changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// The one API call that carries this step out, when pulldoctor can (`fix --allow-writes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply: Option<Apply>,
}

impl Step {
    /// The command as it works pasted into a shell: when it reads its document from a file
    /// (`file://NAME`), a here-document writes that file first.
    pub fn script(&self) -> Option<String> {
        let command = self.command.as_ref()?;
        let file = command
            .split_whitespace()
            .find_map(|word| word.strip_prefix("file://"))
            .filter(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            });
        let (Some(file), Some(document)) = (file, &self.document) else {
            return Some(command.clone());
        };
        // A delimiter no line of the document is.
        let mut end = "PULLDOCTOR_EOF".to_string();
        while document.lines().any(|l| l == end) {
            end.push('_');
        }
        let newline = if document.ends_with('\n') { "" } else { "\n" };
        Some(format!(
            "cat > {file} <<'{end}'\n{document}{newline}{end}\n{command}"
        ))
    }
}

/// An API call a fix step makes; the document it writes is the step's `document`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(tag = "call", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Apply {
    #[serde(rename = "iam:PutRolePolicy")]
    PutRolePolicy {
        account: String,
        role: String,
        policy_name: String,
    },
    #[serde(rename = "iam:AttachRolePolicy")]
    AttachRolePolicy {
        account: String,
        role: String,
        policy_arn: String,
    },
    #[serde(rename = "iam:UpdateAssumeRolePolicy")]
    UpdateAssumeRolePolicy { account: String, role: String },
    #[serde(rename = "iam:CreateRole")]
    CreateRole {
        account: String,
        role: String,
        /// A permissions boundary to create the role with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        permissions_boundary: Option<String>,
    },
    #[serde(rename = "iam:CreatePolicyVersion")]
    CreatePolicyVersion { policy_arn: String },
    #[serde(rename = "iam:CreateOpenIDConnectProvider")]
    CreateOpenIdConnectProvider {
        account: String,
        url: String,
        client_id: String,
    },
    #[serde(rename = "iam:AddClientIDToOpenIDConnectProvider")]
    AddClientId {
        provider_arn: String,
        client_id: String,
    },
    #[serde(rename = "ecr:SetRepositoryPolicy")]
    SetRepositoryPolicy {
        registry: String,
        region: String,
        repository: String,
    },
    /// Moves an archived image back to the standard storage class, where it can be pulled.
    #[serde(rename = "ecr:UpdateImageStorageClass")]
    RestoreImage {
        registry: String,
        region: String,
        repository: String,
        digest: String,
    },
    /// Sets one annotation of a ServiceAccount to the step's document.
    #[serde(rename = "kube:AnnotateServiceAccount")]
    AnnotateServiceAccount {
        namespace: String,
        name: String,
        key: String,
    },
    /// `kubectl rollout restart`: a new pod-template annotation, so the controller replaces pods.
    #[serde(rename = "kube:RolloutRestart")]
    RolloutRestart {
        namespace: String,
        kind: String,
        name: String,
    },
    /// Creates the ServiceAccount, or sets its role annotation when it exists.
    #[serde(rename = "kube:ApplyServiceAccount")]
    ApplyServiceAccount {
        namespace: String,
        name: String,
        role_arn: Option<String>,
    },
    #[serde(rename = "eks:CreatePodIdentityAssociation")]
    CreatePodIdentityAssociation {
        cluster: String,
        namespace: String,
        service_account: String,
        role_arn: String,
    },
    /// A gateway endpoint (S3) on the node subnet's route tables.
    #[serde(rename = "ec2:CreateVpcEndpoint")]
    CreateGatewayEndpoint {
        region: String,
        vpc_id: String,
        service_name: String,
        route_table_ids: Vec<String>,
    },
    /// One change to an endpoint: a route table or a subnet added, private DNS turned on, or its
    /// policy set to the step's document.
    #[serde(rename = "ec2:ModifyVpcEndpoint")]
    ModifyVpcEndpoint {
        region: String,
        vpc_endpoint_id: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add_route_table_ids: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add_subnet_ids: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        enable_private_dns: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        policy: bool,
    },
    /// TCP 443 into a security group from an address block.
    #[serde(rename = "ec2:AuthorizeSecurityGroupIngress")]
    AllowHttpsIngress {
        region: String,
        group_id: String,
        cidr: String,
    },
}

impl Apply {
    /// A write to the cluster (a ServiceAccount, a restart), not to AWS.
    pub fn is_kubernetes(&self) -> bool {
        matches!(
            self,
            Apply::AnnotateServiceAccount { .. }
                | Apply::ApplyServiceAccount { .. }
                | Apply::RolloutRestart { .. }
        )
    }

    /// Trust and repository policies decide who may act at all: they need a typed `yes`.
    pub fn needs_typed_yes(&self) -> bool {
        matches!(
            self,
            Apply::UpdateAssumeRolePolicy { .. }
                | Apply::SetRepositoryPolicy { .. }
                | Apply::CreateRole { .. }
        )
    }

    pub fn call(&self) -> &'static str {
        match self {
            Apply::PutRolePolicy { .. } => "iam:PutRolePolicy",
            Apply::AttachRolePolicy { .. } => "iam:AttachRolePolicy",
            Apply::UpdateAssumeRolePolicy { .. } => "iam:UpdateAssumeRolePolicy",
            Apply::CreateRole { .. } => "iam:CreateRole",
            Apply::CreatePolicyVersion { .. } => "iam:CreatePolicyVersion",
            Apply::CreateOpenIdConnectProvider { .. } => "iam:CreateOpenIDConnectProvider",
            Apply::AddClientId { .. } => "iam:AddClientIDToOpenIDConnectProvider",
            Apply::SetRepositoryPolicy { .. } => "ecr:SetRepositoryPolicy",
            Apply::RestoreImage { .. } => "ecr:UpdateImageStorageClass",
            Apply::AnnotateServiceAccount { .. } => "kube:AnnotateServiceAccount",
            Apply::RolloutRestart { .. } => "kube:RolloutRestart",
            Apply::ApplyServiceAccount { .. } => "kube:ApplyServiceAccount",
            Apply::CreatePodIdentityAssociation { .. } => "eks:CreatePodIdentityAssociation",
            Apply::CreateGatewayEndpoint { .. } => "ec2:CreateVpcEndpoint",
            Apply::ModifyVpcEndpoint { .. } => "ec2:ModifyVpcEndpoint",
            Apply::AllowHttpsIngress { .. } => "ec2:AuthorizeSecurityGroupIngress",
        }
    }

    /// The account whose IAM or registry the call changes.
    pub fn account(&self) -> String {
        match self {
            Apply::PutRolePolicy { account, .. }
            | Apply::AttachRolePolicy { account, .. }
            | Apply::UpdateAssumeRolePolicy { account, .. }
            | Apply::CreateRole { account, .. }
            | Apply::CreateOpenIdConnectProvider { account, .. } => account.clone(),
            Apply::CreatePolicyVersion { policy_arn: arn }
            | Apply::AddClientId {
                provider_arn: arn, ..
            } => crate::iam::arn::account_of(arn).unwrap_or_default(),
            Apply::SetRepositoryPolicy { registry, .. } | Apply::RestoreImage { registry, .. } => {
                registry.clone()
            }
            // Kubernetes objects belong to the cluster, not to an account.
            Apply::AnnotateServiceAccount { .. }
            | Apply::RolloutRestart { .. }
            | Apply::ApplyServiceAccount { .. }
            | Apply::CreatePodIdentityAssociation { .. } => String::new(),
            // The VPC's objects are named by id; EC2 refuses another account's.
            Apply::CreateGatewayEndpoint { .. }
            | Apply::ModifyVpcEndpoint { .. }
            | Apply::AllowHttpsIngress { .. } => String::new(),
        }
    }

    /// What the call changes, for the plan.
    pub fn target(&self) -> String {
        match self {
            Apply::PutRolePolicy {
                role, policy_name, ..
            } => format!("inline policy {policy_name} of role {role}"),
            Apply::AttachRolePolicy {
                role, policy_arn, ..
            } => format!("role {role} ← {policy_arn}"),
            Apply::UpdateAssumeRolePolicy { role, .. } => format!("trust policy of role {role}"),
            Apply::CreateRole { role, .. } => format!("new role {role}"),
            Apply::CreatePolicyVersion { policy_arn } => format!("default version of {policy_arn}"),
            Apply::CreateOpenIdConnectProvider { url, .. } => format!("new OIDC provider {url}"),
            Apply::AddClientId {
                provider_arn,
                client_id,
            } => format!("audience {client_id} of {provider_arn}"),
            Apply::SetRepositoryPolicy {
                registry,
                region,
                repository,
            } => {
                format!("policy of repository {repository} ({registry}, {region})")
            }
            Apply::RestoreImage {
                registry,
                region,
                repository,
                digest,
            } => format!("storage class of image {repository}@{digest} ({registry}, {region})"),
            Apply::AnnotateServiceAccount {
                namespace,
                name,
                key,
            } => format!("annotation {key} of ServiceAccount {namespace}/{name}"),
            Apply::RolloutRestart {
                namespace,
                kind,
                name,
            } => format!("{kind} {namespace}/{name} (rollout restart)"),
            Apply::ApplyServiceAccount {
                namespace, name, ..
            } => format!("ServiceAccount {namespace}/{name}"),
            Apply::CreatePodIdentityAssociation {
                namespace,
                service_account,
                ..
            } => format!("Pod Identity association of {namespace}/{service_account}"),
            Apply::CreateGatewayEndpoint {
                vpc_id,
                service_name,
                route_table_ids,
                ..
            } => format!(
                "new endpoint {service_name} in {vpc_id} on {}",
                route_table_ids.join(", ")
            ),
            Apply::ModifyVpcEndpoint {
                vpc_endpoint_id,
                add_route_table_ids,
                add_subnet_ids,
                enable_private_dns,
                policy,
                ..
            } => {
                let mut changes: Vec<String> = add_route_table_ids
                    .iter()
                    .map(|t| format!("+ route table {t}"))
                    .chain(add_subnet_ids.iter().map(|s| format!("+ subnet {s}")))
                    .collect();
                if *enable_private_dns {
                    changes.push("private DNS on".into());
                }
                if *policy {
                    changes.push("policy".into());
                }
                format!("endpoint {vpc_endpoint_id} ({})", changes.join(", "))
            }
            Apply::AllowHttpsIngress { group_id, cidr, .. } => {
                format!("security group {group_id} ← TCP 443 from {cidr}")
            }
        }
    }
}

fn escape_line_in(s: &mut String) {
    if let std::borrow::Cow::Owned(e) = escape_line(s) {
        *s = e;
    }
}

fn escape_block_in(s: &mut String) {
    if let std::borrow::Cow::Owned(e) = escape_block(s) {
        *s = e;
    }
}

impl Report {
    /// The same report for a person's eyes: every text escaped (see [`crate::text`]). JSON
    /// output uses the report as it is.
    pub fn escaped(&self) -> Report {
        let mut report = self.clone();
        let source = &mut report.source;
        for field in [
            &mut source.context,
            &mut source.cluster,
            &mut source.region,
            &mut source.account,
            &mut source.captured_at,
        ] {
            field.iter_mut().for_each(escape_line_in);
        }
        report.problems.iter_mut().for_each(escape_line_in);
        report.findings = report.findings.iter().map(Finding::escaped).collect();
        report
    }
}

impl Finding {
    /// The finding for a person's eyes (see [`Report::escaped`]).
    pub fn escaped(&self) -> Finding {
        let mut finding = self.clone();
        for field in [
            &mut finding.namespace,
            &mut finding.container,
            &mut finding.image,
            &mut finding.state,
            &mut finding.summary,
            &mut finding.service_account,
        ] {
            escape_line_in(field);
        }
        finding.pod.iter_mut().for_each(escape_line_in);
        finding.workload.iter_mut().for_each(escape_line_in);
        if let Some(radius) = &mut finding.blast_radius {
            escape_line_in(&mut radius.entity);
            radius.workloads.iter_mut().for_each(escape_line_in);
            radius.node_groups.iter_mut().for_each(escape_line_in);
        }
        finding
            .pull_identity
            .arn
            .iter_mut()
            .for_each(escape_line_in);
        finding
            .pull_identity
            .candidates
            .iter_mut()
            .for_each(escape_line_in);
        finding
            .pull_identity
            .resolved_from
            .iter_mut()
            .for_each(escape_line_in);
        finding
            .app_identity
            .role_arn
            .iter_mut()
            .for_each(escape_line_in);
        for link in &mut finding.links {
            escape_line_in(&mut link.summary);
            link.evidence.iter_mut().for_each(escape_line_in);
            for hop in &mut link.path {
                escape_line_in(&mut hop.id);
                escape_line_in(&mut hop.detail);
            }
        }
        for fix in &mut finding.fixes {
            escape_line_in(&mut fix.title);
            for step in &mut fix.steps {
                escape_line_in(&mut step.explain);
                step.command.iter_mut().for_each(escape_block_in);
                for text in [&mut step.document, &mut step.diff, &mut step.current] {
                    text.iter_mut().for_each(escape_block_in);
                }
            }
        }
        finding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/report.schema.json` is the schema the types derive (written anew with
    /// `PULLDOCTOR_WRITE_SCHEMA=1`).
    #[test]
    fn report_schema_published_is_the_derived_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.schema.json");
        let derived = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("PULLDOCTOR_WRITE_SCHEMA").is_some() {
            std::fs::write(path, &derived).unwrap();
        }
        let published = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            published == derived,
            "{path} is not the derived schema: run `PULLDOCTOR_WRITE_SCHEMA=1 cargo test --lib report_schema`"
        );
    }

    /// The names people read are the names the JSON contract uses.
    #[test]
    fn names_match_the_json() {
        for basis in [Basis::Observed, Basis::Event, Basis::Pulled] {
            assert_eq!(serde_json::to_value(basis).unwrap(), basis.as_str());
        }
        for status in [
            Status::Ok,
            Status::Skipped,
            Status::Warning,
            Status::Unknown,
            Status::Broken,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }
}
