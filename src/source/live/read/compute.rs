//! Stage 3b: the cluster and how its nodes get their role — node groups, Fargate profiles,
//! node classes, access entries and `aws-auth`.

use super::*;
use crate::facts::scope;
use crate::source::live::session::Session;
use crate::source::live::{aws, kube};
use futures::future::join_all;
use std::collections::BTreeSet;

/// Which EKS cluster this is (read once, beside the first page of pods).
pub(in crate::source::live) async fn cluster_name(
    session: &Session,
    shared: &Shared,
) -> Result<String, String> {
    let find = async { (session.cluster_name().await, Found::default()) };
    shared.cluster_name.once(&shared.found, (), find).await
}

/// Stage 3b: the cluster and how its nodes get their role — node groups, Fargate profiles,
/// Karpenter/Auto Mode node classes, and for self-managed nodes access entries and `aws-auth`.
pub(in crate::source::live) struct Compute {
    pub issuer: Option<String>,
    pub node_roles: BTreeSet<String>,
    /// Node classes name a role by name; its account is the caller's, known after this stage.
    pub node_class_roles: BTreeSet<String>,
}

/// What `DescribeCluster` says that the pods' chains need.
#[derive(Clone, Default)]
pub(in crate::source::live) struct ClusterRead {
    issuer: Option<String>,
    /// Auto Mode's node role.
    auto_node_role: Option<String>,
}

pub(in crate::source::live) async fn compute(
    session: &Session,
    shared: &Shared,
    cluster: &str,
    read: &Pods,
    objects: &Objects,
) -> Compute {
    let (aws, eks, nodes) = (&session.aws, &session.aws.eks, &objects.nodes);
    let into = &shared.found;
    let nodegroups: BTreeSet<String> = nodes
        .iter()
        .filter_map(|n| label(&n.metadata, "eks.amazonaws.com/nodegroup").map(str::to_string))
        .collect();
    let fargate_profiles: BTreeSet<String> = read
        .pods
        .iter()
        .filter_map(|p| {
            let labels = p.metadata.labels.as_ref()?;
            labels.get("eks.amazonaws.com/fargate-profile").cloned()
        })
        .collect();
    let node_classes: BTreeSet<kube::NodeClass> = nodes
        .iter()
        .filter_map(|n| kube::NodeClass::of(n))
        .collect();
    let self_managed = nodes.iter().any(|n| {
        let fargate = n
            .metadata
            .name
            .as_deref()
            .is_some_and(|x| x.starts_with("fargate-"))
            || label(&n.metadata, "eks.amazonaws.com/compute-type").is_some();
        !fargate
            && label(&n.metadata, "eks.amazonaws.com/nodegroup").is_none()
            && label(&n.metadata, "karpenter.k8s.aws/ec2nodeclass").is_none()
    });
    let (described, groups, profiles, classes, candidates) = tokio::join!(
        shared
            .cluster
            .once(into, (), describe_cluster(aws, cluster)),
        join_all(nodegroups.iter().map(|ng| {
            shared.nodegroups.once(into, ng.clone(), async move {
                let mut found = Found::default();
                let request = eks
                    .describe_nodegroup()
                    .cluster_name(cluster)
                    .nodegroup_name(ng);
                let role = match aws.call("eks:DescribeNodegroup", ng, request.send()).await {
                    Ok(answer) => answer.nodegroup().map(|g| {
                        found.push_document(&DescribeNodegroup {
                            nodegroup: Nodegroup {
                                nodegroup_name: g.nodegroup_name().unwrap_or_default().to_string(),
                                node_role: g.node_role().unwrap_or_default().to_string(),
                                ami_type: g.ami_type().map(|a| a.as_str().to_string()),
                                launch_template: g.launch_template().map(|t| {
                                    serde_json::json!({"id": t.id(), "name": t.name(), "version": t.version()})
                                }),
                            },
                        });
                        g.node_role().map(str::to_string)
                    }),
                    Err(e) => {
                        found.gaps.error(&scope::nodegroup(ng), &e.message);
                        None
                    }
                };
                (role.flatten(), found)
            })
        })),
        join_all(fargate_profiles.iter().map(|fp| {
            shared.fargate_profiles.once(into, fp.clone(), async move {
                let mut found = Found::default();
                let role = match fargate_profile(aws, cluster, fp).await {
                    Ok(Some(profile)) => {
                        found.push_document(&profile);
                        Some(profile.fargate_profile.pod_execution_role_arn)
                    }
                    Ok(None) => None,
                    Err(e) => {
                        found.gaps.error(&scope::fargate_profile(fp), &e.message);
                        None
                    }
                };
                (role, found)
            })
        })),
        join_all(node_classes.iter().map(|class| {
            shared.node_classes.once(into, class.clone(), async move {
                let mut found = Found::default();
                let role = match session.kube.node_class(class).await {
                    Ok(value) => {
                        let role = value["spec"]["role"].as_str().map(str::to_string);
                        found.items.push(value);
                        role
                    }
                    Err(e) => {
                        kube::record(
                            &mut found.gaps,
                            &scope::node_class(class.kind(), &class.name),
                            e,
                        );
                        None
                    }
                };
                (role, found)
            })
        })),
        async {
            if self_managed {
                let read = node_role_candidates(session, cluster);
                shared.node_role_candidates.once(into, (), read).await
            } else {
                Vec::new()
            }
        },
    );
    let auto_mode = nodes
        .iter()
        .any(|n| label(&n.metadata, "eks.amazonaws.com/compute-type") == Some("auto"));
    let mut node_roles: BTreeSet<String> = groups.into_iter().flatten().collect();
    node_roles.extend(profiles.into_iter().flatten());
    node_roles.extend(candidates);
    if auto_mode {
        node_roles.extend(described.auto_node_role.clone());
    }
    Compute {
        issuer: described.issuer,
        node_roles,
        node_class_roles: classes.into_iter().flatten().collect(),
    }
}

/// The cluster: its OIDC issuer and Auto Mode configuration.
async fn describe_cluster(aws: &aws::Aws, cluster: &str) -> (ClusterRead, Found) {
    let mut found = Found::default();
    let mut out = ClusterRead::default();
    match aws
        .call(
            "eks:DescribeCluster",
            cluster,
            aws.eks.describe_cluster().name(cluster).send(),
        )
        .await
    {
        Ok(answer) => {
            if let Some(c) = answer.cluster() {
                let compute_config = c.compute_config().map(|c| ComputeConfig {
                    enabled: c.enabled(),
                    node_role_arn: c.node_role_arn().map(str::to_string),
                });
                out.issuer = c
                    .identity()
                    .and_then(|i| i.oidc())
                    .and_then(|o| o.issuer())
                    .map(str::to_string);
                out.auto_node_role = compute_config
                    .as_ref()
                    .and_then(|c| c.node_role_arn.clone());
                found.push_document(&DescribeCluster {
                    cluster: Cluster {
                        name: c.name().unwrap_or_default().to_string(),
                        arn: c.arn().map(str::to_string),
                        identity: Some(ClusterIdentity {
                            oidc: Some(Oidc {
                                issuer: out.issuer.clone(),
                            }),
                        }),
                        compute_config,
                    },
                });
            }
        }
        Err(e) => found.gaps.error(scope::CLUSTER, &e.message),
    }
    (out, found)
}

/// One Fargate profile, as `aws eks describe-fargate-profile` prints it.
pub(in crate::source::live) async fn fargate_profile(
    aws: &aws::Aws,
    cluster: &str,
    name: &str,
) -> Result<Option<DescribeFargateProfile>, aws::AwsError> {
    let request = aws
        .eks
        .describe_fargate_profile()
        .cluster_name(cluster)
        .fargate_profile_name(name);
    let answer = aws
        .call("eks:DescribeFargateProfile", name, request.send())
        .await?;
    Ok(answer.fargate_profile().map(|p| DescribeFargateProfile {
        fargate_profile: FargateProfile {
            fargate_profile_name: p.fargate_profile_name().unwrap_or_default().to_string(),
            pod_execution_role_arn: p.pod_execution_role_arn().unwrap_or_default().to_string(),
            selectors: p
                .selectors()
                .iter()
                .map(|s| FargateSelector {
                    namespace: s.namespace().map(str::to_string),
                    labels: s
                        .labels()
                        .map(|l| l.clone().into_iter().collect())
                        .unwrap_or_default(),
                })
                .collect(),
        },
    }))
}

/// For self-managed nodes: access entries and `aws-auth`, which name the node roles.
async fn node_role_candidates(session: &Session, cluster: &str) -> (Vec<String>, Found) {
    let (aws, mut found) = (&session.aws, Found::default());
    let (config_map, entries) = tokio::join!(
        session.kube.aws_auth(),
        aws.call(
            "eks:ListAccessEntries",
            cluster,
            aws.eks.list_access_entries().cluster_name(cluster).send()
        ),
    );
    let mut roles = Vec::new();
    match config_map {
        Ok(cm) => {
            let text = cm.data.as_ref().and_then(|d| d.get("mapRoles"));
            if let Some(mapped) = text
                .and_then(|t| serde_saphyr::from_str::<Vec<crate::facts::kube::MappedRole>>(t).ok())
            {
                roles.extend(
                    mapped
                        .into_iter()
                        .filter(|m| m.is_node_role())
                        .map(|m| m.rolearn),
                );
            }
            found.item(&cm);
        }
        Err(e) => kube::record(&mut found.gaps, scope::AWS_AUTH, e),
    }
    match entries {
        Ok(list) => {
            found.gaps.covered(scope::ACCESS_ENTRIES);
            let described = join_all(list.access_entries().iter().map(|p| {
                let request = aws
                    .eks
                    .describe_access_entry()
                    .cluster_name(cluster)
                    .principal_arn(p);
                aws.call("eks:DescribeAccessEntry", p, request.send())
            }))
            .await;
            for e in described.iter().flatten().filter_map(|d| d.access_entry()) {
                if matches!(e.r#type(), Some("EC2_LINUX" | "EC2_WINDOWS" | "EC2")) {
                    let entry = AccessEntry {
                        principal_arn: e.principal_arn().unwrap_or_default().to_string(),
                        entry_type: e.r#type().map(str::to_string),
                        kubernetes_groups: e.kubernetes_groups().to_vec(),
                    };
                    roles.push(entry.principal_arn.clone());
                    found.push_document(&DescribeAccessEntry {
                        access_entry: entry,
                    });
                }
            }
        }
        Err(e) => found.gaps.error(scope::ACCESS_ENTRIES, &e.message),
    }
    (roles, found)
}
