//! One connection per kube context: the Kubernetes client (kubeconfig read and exec plugin run
//! once) and the AWS configuration and clients (credentials resolved once), built when the
//! context is first used and shared by every read, watch, plan, verification and write after.

use super::{Limits, Options, aws, kube};
use crate::iam::arn;
use tokio::sync::OnceCell;

pub struct Session {
    pub kube: kube::Kube,
    pub context: kube::ContextInfo,
    pub aws: aws::Aws,
    /// `--cluster`, else what the context names (its cluster ARN or `aws eks get-token` args).
    named_cluster: Option<String>,
    /// `--region`, else the context's.
    region: Option<String>,
    /// The cluster found by the context's API endpoint, when nothing names it: once found, kept.
    found_cluster: OnceCell<String>,
    /// AWS lookups kept across reads that ask for it ([`Options::reuse`]).
    pub(super) kept: super::read::KeptLookups,
}

impl Session {
    /// Reads the kubeconfig and the AWS configuration for these options' context and profile.
    /// Nothing is sent yet: the first call authenticates.
    pub async fn connect(options: &Options) -> Result<Session, String> {
        let limits = Limits::new(options.concurrency, options.timeout)
            .with_max_body(options.max_body)
            .with_rate(options.rate);
        let (kube, context) = kube::connect(
            options.kubeconfig.as_deref(),
            options.context.as_deref(),
            limits.clone(),
        )
        .await?;
        let (named_cluster, region) = cluster_from_context(options, &context);
        let aws = aws::connect(options.profile.as_deref(), region.as_deref(), limits).await?;
        Ok(Session {
            kube,
            context,
            aws,
            named_cluster,
            region,
            found_cluster: OnceCell::new(),
            kept: super::read::KeptLookups::default(),
        })
    }

    /// How many AWS lookups are kept for later reads.
    pub fn kept_lookups(&self) -> usize {
        self.kept.len()
    }

    /// The EKS cluster of this context: named, else found by its API endpoint.
    pub async fn cluster_name(&self) -> Result<String, String> {
        if let Some(name) = &self.named_cluster {
            return Ok(name.clone());
        }
        let server = self.context.server.as_deref();
        self.found_cluster
            .get_or_try_init(|| async {
                find_cluster_by_endpoint(&self.aws, server).await.ok_or(())
            })
            .await
            .cloned()
            .map_err(|()| {
                format!(
                    "cannot tell which EKS cluster context {} is: pass --cluster NAME",
                    self.context.context.as_deref().unwrap_or("(current)")
                )
            })
    }

    /// The Region the cluster's AWS calls go to.
    pub fn region(&self) -> Option<String> {
        self.region.clone().or_else(|| self.aws.region())
    }
}

/// The EKS cluster and region: `--cluster`, else the context's cluster ARN or the
/// `aws eks get-token` arguments.
fn cluster_from_context(
    options: &Options,
    context: &kube::ContextInfo,
) -> (Option<String>, Option<String>) {
    let from_arn = context
        .cluster_entry
        .as_deref()
        .and_then(arn::Arn::parse)
        .filter(|a| a.service == "eks")
        .map(|a| {
            (
                a.resource.trim_start_matches("cluster/").to_string(),
                a.region,
            )
        });
    let cluster = options
        .cluster
        .clone()
        .or_else(|| from_arn.as_ref().map(|(name, _)| name.clone()))
        .or_else(|| context.exec_cluster.clone());
    let region = options
        .region
        .clone()
        .or_else(|| from_arn.map(|(_, region)| region))
        .or_else(|| context.exec_region.clone());
    (cluster, region)
}

/// The cluster whose API endpoint is this context's server.
async fn find_cluster_by_endpoint(aws: &aws::Aws, server: Option<&str>) -> Option<String> {
    let server = server?.trim_end_matches('/');
    let clusters = aws
        .call(
            "eks:ListClusters",
            "the region",
            aws.eks.list_clusters().send(),
        )
        .await
        .ok()?;
    for name in clusters.clusters() {
        let described = aws
            .call(
                "eks:DescribeCluster",
                name,
                aws.eks.describe_cluster().name(name).send(),
            )
            .await
            .ok()?;
        if described
            .cluster()
            .and_then(|c| c.endpoint())
            .map(|e| e.trim_end_matches('/'))
            == Some(server)
        {
            return Some(name.clone());
        }
    }
    None
}
