//! What a link comes to, shared by the lanes and the network path: its outcome, where the pull
//! goes, and the observed path with the hop that stops it.

use crate::report::{Cause, Hop, Status};

/// One link's worth of result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub cause: Option<Cause>,
    pub summary: String,
    pub evidence: Vec<String>,
    /// `ok` only because the image was pulled already (basis `pulled`).
    pub pulled: bool,
    /// For an `unknown` link: the cause the kubelet's event suggests, for the finding's summary.
    pub hint: Option<String>,
    /// The network link's observed path.
    pub network: Option<Box<NetworkPath>>,
    /// The app role's link when that role could pull and the pull identity cannot: the belief
    /// that IRSA pulls images, named where it bites (in the finding's summary).
    pub misconception: Option<String>,
}

impl Outcome {
    pub fn new(status: Status, summary: impl Into<String>) -> Outcome {
        Outcome {
            status,
            cause: None,
            summary: summary.into(),
            evidence: Vec::new(),
            pulled: false,
            hint: None,
            network: None,
            misconception: None,
        }
    }

    pub fn broken(cause: Cause, summary: impl Into<String>) -> Outcome {
        Outcome {
            cause: Some(cause),
            ..Outcome::new(Status::Broken, summary)
        }
    }

    pub fn with_evidence(mut self, evidence: Vec<String>) -> Outcome {
        self.evidence.extend(evidence);
        self
    }
}

/// Where a pull goes: what decides whether VPC endpoints can carry it or it needs the internet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A private ECR registry of this Region: interface endpoints (ecr.api, ecr.dkr) and the S3
    /// gateway endpoint carry it, or egress.
    PrivateEcr { region: String },
    /// `public.ecr.aws`: no VPC endpoint exists, only a route to the internet helps.
    PublicEcr,
    /// The layer download went to another host (a pull-through cache redirecting to its
    /// upstream's CDN): the internet, whatever endpoints exist.
    Upstream { host: String },
    /// A registry outside AWS.
    Internet { host: String },
}

impl Destination {
    /// What the nodes need to reach it.
    pub fn needs(&self) -> String {
        match self {
            Destination::PrivateEcr { region } => format!(
                "a NAT gateway, or the interface endpoints com.amazonaws.{region}.ecr.api and com.amazonaws.{region}.ecr.dkr plus the S3 gateway endpoint"
            ),
            Destination::PublicEcr => "a route to the internet (NAT gateway, or an internet gateway and a public IP): public.ecr.aws has no VPC endpoint".to_string(),
            Destination::Upstream { host } => format!(
                "a route to the internet for {host}: the pull-through cache sent the download to its upstream's host, which no ECR endpoint carries"
            ),
            Destination::Internet { host } => {
                format!("a route to the internet for {host}: it is not in AWS")
            }
        }
    }
}

/// The observed path of one pull: what the network link's hops show and its fixes name.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPath {
    /// The Region of the VPC, where endpoints are made.
    pub region: String,
    /// The Region whose ECR endpoints the pull needs (the registry's).
    pub service_region: String,
    pub vpc: String,
    pub subnet: String,
    pub subnet_cidr: Option<String>,
    pub route_table: String,
    pub hops: Vec<Hop>,
    /// The hop that stops the pull, when one does.
    pub culprit: Option<Culprit>,
}

/// The hop that stops the pull, with what its fix needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Culprit {
    /// No working route to the internet, where only the internet helps.
    Egress,
    /// No endpoint of these services (`ecr.api`, `ecr.dkr`, `s3`) in the VPC.
    MissingEndpoints { services: Vec<&'static str> },
    /// An endpoint is there but off the way (private DNS off, or an S3 gateway not on the route
    /// table).
    Endpoint { id: String },
    /// The endpoint's policy does not allow the pull; an added statement would, unless a
    /// statement denies it.
    EndpointPolicy {
        id: String,
        policy: String,
        statement: serde_json::Value,
        denied: bool,
    },
    /// These interface endpoints have no subnet in the node's zone.
    NotInZone { ids: Vec<String> },
    /// A security group of the endpoint lets no 443 in from the node.
    EndpointGroup { endpoint: String, group: String },
    /// The node's security groups let no 443 out to the endpoint.
    NodeGroup { endpoint: String, group: String },
    /// The node subnet's network ACL drops the pull or its answers.
    Acl { id: String },
}

impl Culprit {
    /// This is about the endpoint `id`.
    pub fn names_endpoint(&self, id: &str) -> bool {
        match self {
            Culprit::Endpoint { id: own, .. } | Culprit::EndpointPolicy { id: own, .. } => {
                own == id
            }
            Culprit::EndpointGroup { endpoint, .. } | Culprit::NodeGroup { endpoint, .. } => {
                endpoint == id
            }
            Culprit::NotInZone { ids } => ids.iter().any(|i| i == id),
            _ => false,
        }
    }
}
