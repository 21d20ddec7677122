//! The live read in stages, run for each page of pods as it arrives. Each stage asks for what
//! the stages before it found (small typed keys: pods, node names, role ARNs, repositories),
//! makes its calls concurrently under the session's bound, and records what it found in the
//! read's [`Shared`] state as documents in the AWS CLI's shapes ([`crate::facts::aws`]) and
//! Kubernetes objects, with every lookup's end as a gap or a coverage. Each lookup is memoized
//! there: pages that need the same thing share one fetch. Stages that need nothing from each
//! other run together.

use super::memo::{Batches, Memo, lock};
use super::session::Session;
use super::{Options, aws, kube};
use crate::ecr::reference::{self, EcrImage, ImageRef};
use crate::facts::RepoKey;
use crate::facts::aws::*;
use crate::facts::kube::{PULL_FAILURE_REASONS, containers, namespace_of, service_account_of};
use crate::facts::pod::Pod;
use crate::facts::scope;
use crate::iam::arn;
use ::aws_sdk_ecr::types::ImageIdentifier;
use futures::future::join_all;
use k8s_openapi::api::core::v1::{Event, Node, ServiceAccount};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

pub(super) use super::found::{Found, sort_values};

/// A registry in a Region.
pub(super) type Registry = (String, String);

/// A pod that cannot pull, or that is still being created (its sandbox image may be what fails).
fn failing(pod: &Pod) -> bool {
    containers(pod).iter().any(|c| {
        c.waiting_reason()
            .is_some_and(|r| PULL_FAILURE_REASONS.contains(&r) || r == "ContainerCreating")
    })
}

fn label<'a>(
    object: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    object.labels.as_ref()?.get(key).map(String::as_str)
}

/// Stage 1: the pods being diagnosed — of one page, or none (the controllers that cannot create
/// pods, from the warning events).
pub(super) struct Pods {
    pub pods: Vec<Pod>,
    /// Controllers whose pods cannot be created: (kind, namespace, name).
    pub create_failures: BTreeSet<(String, String, String)>,
}

/// A page's pods in two parts, those that fail first: read with every pod (the TUI's `--all`),
/// a page's failing pods are looked into on their own, so they are diagnosed before its healthy
/// ones. Empty parts are dropped.
pub(super) fn failing_first(pods: Vec<Pod>) -> Vec<Vec<Pod>> {
    let (failing, healthy): (Vec<Pod>, Vec<Pod>) = pods.into_iter().partition(failing);
    [failing, healthy]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect()
}

/// The pods to diagnose, page by page: each page's to `on_page` as it arrives.
pub(super) async fn pod_pages(
    session: &Session,
    options: &Options,
    shared: &Shared,
    on_page: impl FnMut(Vec<Pod>),
) -> Result<(), String> {
    let (namespace, pod) = (options.namespace.as_deref(), options.pod.as_deref());
    let named = |p: &Pod| {
        options.named.iter().any(|(ns, name)| {
            namespace_of(p) == ns && p.metadata.name.as_deref() == Some(name.as_str())
        })
    };
    let selecting = |p: &Pod| options.all || pod.is_some() || failing(p) || named(p);
    session
        .kube
        .pods(namespace, pod, selecting, on_page)
        .await
        .map_err(|e| match e.code {
            // Nothing answered at all: say where to look, and what works without a cluster.
            0 => format!(
                "{} — is the endpoint of context {} reachable from here (VPN, a private endpoint)? Without a cluster: pulldoctor demo",
                e.message,
                session.context.context.as_deref().unwrap_or("(current)")
            ),
            _ => e.message,
        })?;
    shared.record(|found| found.gaps.covered(scope::PODS));
    Ok(())
}

/// The warning events (read beside the pods): the controllers that cannot create pods, whose
/// events are kept; the others are kept by [`keep_events_about`] once every pod is listed.
pub(super) async fn warning_events(
    session: &Session,
    options: &Options,
    shared: &Shared,
) -> (BTreeSet<(String, String, String)>, Vec<Event>) {
    let (namespace, pod) = (options.namespace.as_deref(), options.pod.as_deref());
    let events = session
        .kube
        .warning_events(namespace, pod)
        .await
        .unwrap_or_else(|e| {
            shared.record(|found| found.gaps.error(scope::EVENTS, &e.message));
            Vec::new()
        });
    let (create, other): (Vec<Event>, Vec<Event>) = events
        .into_iter()
        .partition(|e| e.reason.as_deref() == Some("FailedCreate"));
    let create_failures = create
        .iter()
        .filter_map(|e| {
            let o = &e.involved_object;
            Some((o.kind.clone()?, o.namespace.clone()?, o.name.clone()?))
        })
        .collect();
    shared.record(|found| create.iter().for_each(|e| found.item(e)));
    (create_failures, other)
}

/// Of `events`, those about a pod being diagnosed (`selected`: namespace and name).
pub(super) fn keep_events_about(
    found: &mut Found,
    events: &[Event],
    selected: &BTreeSet<(String, String)>,
) {
    for e in events {
        let o = &e.involved_object;
        let key = (
            o.namespace.clone().unwrap_or_default(),
            o.name.clone().unwrap_or_default(),
        );
        if o.kind.as_deref() == Some("Pod") && selected.contains(&key) {
            found.item(e);
        }
    }
}

/// The VPCs of a batch of instances or interfaces.
type Vpcs = Arc<Vec<Option<String>>>;

/// A Pod Identity association: namespace, ServiceAccount, id.
type Association = (String, String, String);

/// One read's state: what was found so far, and each kind of lookup memoized (see [`Memo`]),
/// so that the pods of every page share one fetch of each thing.
#[derive(Default)]
pub(super) struct Shared {
    found: Mutex<Found>,
    cluster_name: Memo<(), Result<String, String>>,
    account: Memo<(), Result<Arc<Account>, String>>,
    service_accounts: Memo<String, Arc<Vec<ServiceAccount>>>,
    secrets: Memo<String, ()>,
    nodes: Memo<String, Option<Arc<Node>>>,
    workloads: Memo<(String, String, String), ()>,
    cluster: Memo<(), ClusterRead>,
    nodegroups: Memo<String, Option<String>>,
    fargate_profiles: Memo<String, Option<String>>,
    node_classes: Memo<kube::NodeClass, Option<String>>,
    node_role_candidates: Memo<(), Vec<String>>,
    associations: Memo<(), Option<Arc<Vec<Association>>>>,
    association_roles: Memo<String, String>,
    pod_identity_agent: Memo<(), ()>,
    listings: Memo<Registry, Option<Arc<BTreeSet<String>>>>,
    images: Memo<RepoKey, Option<Arc<Vec<ImageDetail>>>>,
    repository_policies: Memo<RepoKey, ()>,
    manifests: Memo<(RepoKey, String), ()>,
    roles: Memo<String, Option<Arc<RoleDetail>>>,
    providers: Memo<String, ()>,
    policies: Memo<String, Option<Arc<ManagedPolicyDetail>>>,
    cache_rules: Memo<Registry, Arc<Vec<CacheRule>>>,
    registry_policies: Memo<Registry, ()>,
    validated: Memo<CacheRule, ()>,
    instances: Batches<String, Vpcs>,
    interfaces: Batches<String, Vpcs>,
    vpcs: Memo<String, ()>,
}

impl Shared {
    /// Adds to what was found.
    pub fn record(&self, add: impl FnOnce(&mut Found)) {
        add(&mut lock(&self.found));
    }

    /// The roles and managed policies read, as one partial listing: a role not read stays
    /// unknown.
    pub fn authorization_details(&self) -> AuthorizationDetails {
        let roles = self.roles.values().into_iter().flatten();
        let policies = self.policies.values().into_iter().flatten();
        AuthorizationDetails {
            roles: roles.map(|r| (*r).clone()).collect(),
            policies: policies.map(|p| (*p).clone()).collect(),
            partial: true,
        }
    }

    /// A copy of everything found so far, with the roles and policies read so far.
    pub fn snapshot(&self) -> Found {
        let mut found = lock(&self.found).clone();
        found.push_document(&self.authorization_details());
        found.in_stable_order();
        found
    }

    /// Everything found, in a stable order.
    pub fn into_found(self) -> Found {
        let mut found = self.found.into_inner().unwrap_or_else(|e| e.into_inner());
        found.in_stable_order();
        found
    }
}

/// Stage 2: the ServiceAccounts of the namespaces involved, the pods' nodes, the controllers
/// that cannot create pods.
pub(super) struct Objects {
    pub service_accounts: Vec<ServiceAccount>,
    pub nodes: Vec<Arc<Node>>,
}

pub(super) async fn objects(session: &Session, shared: &Shared, read: &Pods) -> Objects {
    let kube = &session.kube;
    let namespaces: BTreeSet<String> = read
        .pods
        .iter()
        .map(|p| namespace_of(p).to_string())
        .chain(read.create_failures.iter().map(|(_, ns, _)| ns.clone()))
        .collect();
    let node_names: BTreeSet<String> = read
        .pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    // Namespaces whose pods name imagePullSecrets: their Secrets, metadata only.
    let secret_namespaces: BTreeSet<String> = read
        .pods
        .iter()
        .filter(|p| {
            p.spec
                .as_ref()
                .is_some_and(|s| s.image_pull_secrets.as_ref().is_some_and(|l| !l.is_empty()))
        })
        .map(|p| namespace_of(p).to_string())
        .collect();
    let into = &shared.found;
    let (accounts, nodes, _, _) = tokio::join!(
        join_all(namespaces.iter().map(|ns| {
            shared.service_accounts.once(into, ns.clone(), async move {
                let mut found = Found::default();
                match kube.service_accounts(ns).await {
                    Ok(list) => {
                        found.gaps.covered(&scope::service_accounts(ns));
                        list.iter().for_each(|s| found.item(s));
                        (Arc::new(list), found)
                    }
                    Err(e) => {
                        kube::record(&mut found.gaps, &scope::service_accounts(ns), e);
                        (Arc::default(), found)
                    }
                }
            })
        })),
        join_all(node_names.iter().map(|name| {
            shared.nodes.once(into, name.clone(), async move {
                let mut found = Found::default();
                match kube.node(name).await {
                    Ok(node) => {
                        found.item(&node);
                        (Some(Arc::new(node)), found)
                    }
                    Err(e) => {
                        kube::record(&mut found.gaps, &scope::node(name), e);
                        (None, found)
                    }
                }
            })
        })),
        join_all(read.create_failures.iter().map(|key| {
            let (kind, ns, name) = key;
            shared.workloads.once(into, key.clone(), async move {
                let mut found = Found::default();
                match kube.workload(kind, ns, name).await {
                    Ok(w) => found.items.push(w),
                    Err(e) => found.gaps.problems.push(e.message),
                }
                ((), found)
            })
        })),
        join_all(secret_namespaces.iter().map(|ns| {
            shared.secrets.once(into, ns.clone(), async move {
                let mut found = Found::default();
                match kube.secret_metadata(ns).await {
                    Ok(list) => {
                        found.gaps.covered(&scope::secrets(ns));
                        for metadata in list {
                            found.items.push(
                                json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata}),
                            );
                        }
                    }
                    Err(e) => kube::record(&mut found.gaps, &scope::secrets(ns), e),
                }
                ((), found)
            })
        })),
    );
    Objects {
        service_accounts: accounts.iter().flat_map(|l| l.iter().cloned()).collect(),
        nodes: nodes.into_iter().flatten().collect(),
    }
}

/// Stage 3a: who the credentials are, their organization, and the account's OIDC providers.
pub(super) struct Account {
    pub account: Option<String>,
    pub providers: Vec<String>,
}

/// Errors that mean no AWS call can work with these credentials: said once, not per link.
const NO_USABLE_CREDENTIALS: [&str; 5] = [
    aws::NO_CREDENTIALS,
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
];

/// Who the credentials are (read once, beside the first page of pods); an error when no AWS
/// call can work with them.
pub(super) async fn account(session: &Session, shared: &Shared) -> Result<Arc<Account>, String> {
    shared
        .account
        .once(&shared.found, (), async {
            match read_account(session).await {
                Ok((account, found)) => (Ok(Arc::new(account)), found),
                Err(message) => (Err(message), Found::default()),
            }
        })
        .await
}

/// Which EKS cluster this is (read once, beside the first page of pods).
pub(super) async fn cluster_name(session: &Session, shared: &Shared) -> Result<String, String> {
    let find = async { (session.cluster_name().await, Found::default()) };
    shared.cluster_name.once(&shared.found, (), find).await
}

/// A pod's namespace and name.
pub(super) fn pod_key(pod: &Pod) -> (String, String) {
    (
        namespace_of(pod).to_string(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

async fn read_account(session: &Session) -> Result<(Account, Found), String> {
    let aws = &session.aws;
    let mut found = Found::default();
    let (caller, organization, providers) = tokio::join!(
        aws.call(
            "sts:GetCallerIdentity",
            "the current credentials",
            aws.sts.get_caller_identity().send()
        ),
        aws.call(
            "organizations:DescribeOrganization",
            "the account",
            aws.organizations.describe_organization().send()
        ),
        aws.call(
            "iam:ListOpenIDConnectProviders",
            "the account",
            aws.iam.list_open_id_connect_providers().send()
        ),
    );
    let account = match caller {
        Ok(c) => {
            let identity = CallerIdentity {
                account: c.account().unwrap_or_default().to_string(),
                arn: c.arn().unwrap_or_default().to_string(),
                user_id: c.user_id().unwrap_or_default().to_string(),
            };
            found.push_document(&identity);
            Some(identity.account)
        }
        Err(e) if e.is(&NO_USABLE_CREDENTIALS) => return Err(e.message),
        Err(e) => {
            found.gaps.problems.push(e.message);
            None
        }
    };
    // The organization settles `aws:PrincipalOrgID` conditions; an account in none is a fact.
    match organization {
        Ok(out) => found.push_document(&DescribeOrganization {
            organization: out.organization().map(|o| Organization {
                id: o.id().unwrap_or_default().to_string(),
            }),
        }),
        Err(e) if e.is(&["AWSOrganizationsNotInUseException"]) => {
            found.push_document(&DescribeOrganization { organization: None })
        }
        Err(e) => found.gaps.error(scope::ORGANIZATION, &e.message),
    }
    let providers_scope = scope::oidc_providers(account.as_deref().unwrap_or_default());
    let providers = match providers {
        Ok(out) => {
            let arns: Vec<String> = out
                .open_id_connect_provider_list()
                .iter()
                .filter_map(|p| p.arn().map(str::to_string))
                .collect();
            found.push_document(&ListOidcProviders {
                providers: arns
                    .iter()
                    .map(|arn| OidcProviderEntry { arn: arn.clone() })
                    .collect(),
            });
            found.gaps.covered(&providers_scope);
            arns
        }
        Err(e) => {
            found.gaps.error(&providers_scope, &e.message);
            Vec::new()
        }
    };
    Ok((Account { account, providers }, found))
}

/// Stage 3b: the cluster and how its nodes get their role — node groups, Fargate profiles,
/// Karpenter/Auto Mode node classes, and for self-managed nodes access entries and `aws-auth`.
pub(super) struct Compute {
    pub issuer: Option<String>,
    pub node_roles: BTreeSet<String>,
    /// Node classes name a role by name; its account is the caller's, known after this stage.
    pub node_class_roles: BTreeSet<String>,
}

/// What `DescribeCluster` says that the pods' chains need.
#[derive(Clone, Default)]
pub(super) struct ClusterRead {
    issuer: Option<String>,
    /// Auto Mode's node role.
    auto_node_role: Option<String>,
}

pub(super) async fn compute(
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
pub(super) async fn fargate_profile(
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

/// The (namespace, ServiceAccount) of every pod being diagnosed.
pub(super) fn pod_service_accounts(read: &Pods) -> BTreeSet<(String, String)> {
    read.pods
        .iter()
        .map(|p| {
            (
                namespace_of(p).to_string(),
                service_account_of(p).to_string(),
            )
        })
        .collect()
}

/// Stage 3c: the roles the pods' ServiceAccounts name (IRSA, `ecr-role-arn`) and their Pod
/// Identity associations' roles.
pub(super) async fn identities(
    session: &Session,
    shared: &Shared,
    cluster: &str,
    namespace: Option<&str>,
    wanted: &BTreeSet<(String, String)>,
    objects: &Objects,
) -> BTreeSet<String> {
    let mut roles: BTreeSet<String> = BTreeSet::new();
    for sa in &objects.service_accounts {
        let key = (
            sa.metadata.namespace.clone().unwrap_or_default(),
            sa.metadata.name.clone().unwrap_or_default(),
        );
        let annotations = sa
            .metadata
            .annotations
            .as_ref()
            .filter(|_| wanted.contains(&key));
        for annotation in [
            "eks.amazonaws.com/role-arn",
            "eks.amazonaws.com/ecr-role-arn",
        ] {
            if let Some(value) = annotations.and_then(|a| a.get(annotation))
                && arn::is_well_formed_role_arn(value)
            {
                roles.insert(value.clone());
            }
        }
    }
    let (aws, into) = (&session.aws, &shared.found);
    let listed = shared
        .associations
        .once(into, (), async {
            let mut found = Found::default();
            match pod_identity_associations(aws, cluster, namespace).await {
                Ok(list) => {
                    found.gaps.covered(scope::POD_IDENTITY);
                    (Some(Arc::new(list)), found)
                }
                Err(e) => {
                    found.gaps.error(scope::POD_IDENTITY, &e.message);
                    (None, found)
                }
            }
        })
        .await;
    let Some(listed) = listed else {
        return roles;
    };
    let associated = listed
        .iter()
        .any(|(ns, sa, _)| wanted.contains(&(ns.clone(), sa.clone())));
    // Associations give credentials only through the agent on each node: read its DaemonSet once.
    let agent = async {
        if associated {
            shared
                .pod_identity_agent
                .once(into, (), async {
                    let mut found = Found::default();
                    match session
                        .kube
                        .workload("DaemonSet", "kube-system", "eks-pod-identity-agent")
                        .await
                    {
                        Ok(daemonset) => found.items.push(daemonset),
                        Err(e) => kube::record(&mut found.gaps, scope::POD_IDENTITY_AGENT, e),
                    }
                    ((), found)
                })
                .await
        }
    };
    let (described, ()) = tokio::join!(
        join_all(
            listed
                .iter()
                .filter(|(ns, sa, _)| wanted.contains(&(ns.clone(), sa.clone())))
                .map(|(ns, sa, id)| {
                    shared.association_roles.once(into, id.clone(), async move {
                        let mut found = Found::default();
                        let document = match association(aws, cluster, ns, sa, id).await {
                            Ok(document) => document,
                            Err((document, message)) => {
                                found.gaps.problems.push(message);
                                document
                            }
                        };
                        found.push_document(&document);
                        (document.association.role_arn, found)
                    })
                }),
        ),
        agent
    );
    roles.extend(described.into_iter().filter(|role| !role.is_empty()));
    roles
}

/// One Pod Identity association with its role; when it cannot be described, the association
/// without a role and why.
pub(super) async fn association(
    aws: &aws::Aws,
    cluster: &str,
    namespace: &str,
    service_account: &str,
    id: &str,
) -> Result<DescribePodIdentityAssociation, (DescribePodIdentityAssociation, String)> {
    let request = aws
        .eks
        .describe_pod_identity_association()
        .cluster_name(cluster)
        .association_id(id);
    let answer = aws
        .call("eks:DescribePodIdentityAssociation", id, request.send())
        .await;
    let role = answer.as_ref().ok().and_then(|o| {
        o.association()
            .and_then(|a| a.role_arn())
            .map(str::to_string)
    });
    let created_at = answer.as_ref().ok().and_then(|o| {
        o.association()?
            .created_at()?
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .ok()
    });
    let document = DescribePodIdentityAssociation {
        association: PodIdentityAssociation {
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
            role_arn: role.unwrap_or_default(),
            association_id: Some(id.to_string()),
            target_role_arn: None,
            created_at,
        },
    };
    match answer {
        Ok(_) => Ok(document),
        Err(e) => Err((document, e.message)),
    }
}

/// Every association of the cluster (or namespace): namespace, ServiceAccount, id.
pub(super) async fn pod_identity_associations(
    aws: &aws::Aws,
    cluster: &str,
    namespace: Option<&str>,
) -> Result<Vec<(String, String, String)>, aws::AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = aws
            .eks
            .list_pod_identity_associations()
            .cluster_name(cluster);
        if let Some(ns) = namespace {
            request = request.namespace(ns);
        }
        if let Some(t) = &token {
            request = request.next_token(t);
        }
        let page = aws
            .call("eks:ListPodIdentityAssociations", cluster, request.send())
            .await?;
        for a in page.associations() {
            out.push((
                a.namespace().unwrap_or_default().to_string(),
                a.service_account().unwrap_or_default().to_string(),
                a.association_id().unwrap_or_default().to_string(),
            ));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The ECR images of the pods being diagnosed.
pub(super) fn ecr_images(read: &Pods) -> Vec<EcrImage> {
    read.pods
        .iter()
        .flat_map(containers)
        .filter_map(|c| match reference::parse(c.image) {
            Ok(ImageRef::Ecr(e)) => Some(e),
            _ => None,
        })
        .collect()
}

/// Stage 3d: the repositories of each registry the images are in. Returns the repositories
/// known to exist, and the registries whose listing failed (their repositories may exist).
pub(super) struct Listings {
    pub known: BTreeSet<RepoKey>,
    pub failed: BTreeSet<Registry>,
}

pub(super) async fn listings(
    aws: &aws::Aws,
    shared: &Shared,
    registries: &BTreeSet<Registry>,
) -> Listings {
    let answers = join_all(registries.iter().map(|key| {
        let (registry, region) = key;
        shared
            .listings
            .once(&shared.found, key.clone(), async move {
                let mut found = Found::default();
                match repositories(aws, registry, region).await {
                    Ok(listing) => {
                        found.push_document(&listing);
                        let names = listing.repositories.into_iter().map(|r| r.repository_name);
                        (Some(Arc::new(names.collect())), found)
                    }
                    Err(e) => {
                        found
                            .gaps
                            .error(&scope::repositories(registry, region), &e.message);
                        (None, found)
                    }
                }
            })
    }))
    .await;
    let mut out = Listings {
        known: BTreeSet::new(),
        failed: BTreeSet::new(),
    };
    for ((registry, region), names) in registries.iter().zip(answers) {
        match names {
            Some(names) => out.known.extend(names.iter().map(|name| RepoKey {
                registry: registry.clone(),
                region: region.clone(),
                name: name.clone(),
            })),
            None => {
                out.failed.insert((registry.clone(), region.clone()));
            }
        }
    }
    out
}

/// The repositories of one registry in one Region, as `aws ecr describe-repositories` prints
/// them, with what was asked.
pub(super) async fn repositories(
    aws: &aws::Aws,
    registry: &str,
    region: &str,
) -> Result<DescribeRepositories, aws::AwsError> {
    let client = aws.ecr(region);
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let target = format!("registry {registry} in {region}");
    loop {
        let mut request = client.describe_repositories().registry_id(registry);
        if let Some(t) = &token {
            request = request.next_token(t);
        }
        let page = aws
            .call("ecr:DescribeRepositories", &target, request.send())
            .await?;
        names.extend(
            page.repositories()
                .iter()
                .filter_map(|r| r.repository_name().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let partition = arn::partition_for_region(region);
    Ok(DescribeRepositories {
        repositories: names
            .into_iter()
            .map(|n| Repository {
                repository_arn: arn::build(
                    partition,
                    "ecr",
                    region,
                    registry,
                    &format!("repository/{n}"),
                ),
                registry_id: registry.to_string(),
                repository_name: n,
            })
            .collect(),
        registry_id: Some(registry.to_string()),
        region: Some(region.to_string()),
    })
}

/// Stage 4a: the roles with their policies. Returns the managed policies they attach (next
/// stage).
pub(super) async fn roles(
    aws: &aws::Aws,
    shared: &Shared,
    role_arns: &BTreeSet<String>,
    caller_account: &str,
) -> BTreeSet<String> {
    let details = join_all(role_arns.iter().map(|role_arn| {
        shared
            .roles
            .once(&shared.found, role_arn.clone(), async move {
                let mut found = Found::default();
                let role_scope = || {
                    scope::role(
                        &arn::account_of(role_arn).unwrap_or_default(),
                        &arn::role_name_of(role_arn),
                    )
                };
                let detail = match fetch_role(aws, role_arn, caller_account).await {
                    RoleResult::Found(detail) => Some(Arc::new(*detail)),
                    RoleResult::Absent => {
                        found.gaps.covered(&role_scope());
                        None
                    }
                    RoleResult::Failed(message) => {
                        found.gaps.error(&role_scope(), &message);
                        None
                    }
                };
                (detail, found)
            })
    }))
    .await;
    let mut policy_arns = BTreeSet::new();
    for detail in details.iter().flatten() {
        policy_arns.extend(
            detail
                .attached_managed_policies
                .iter()
                .map(|p| p.policy_arn.clone()),
        );
        policy_arns.extend(
            detail
                .permissions_boundary
                .as_ref()
                .map(|b| b.permissions_boundary_arn.clone()),
        );
    }
    policy_arns
}

pub(super) enum RoleResult {
    Found(Box<RoleDetail>),
    Absent,
    Failed(String),
}

/// A role with its inline and attached policies, as a `RoleDetailList` entry.
pub(super) async fn fetch_role(aws: &aws::Aws, role_arn: &str, caller_account: &str) -> RoleResult {
    let account = arn::account_of(role_arn).unwrap_or_default();
    let name = arn::role_name_of(role_arn);
    if !caller_account.is_empty() && account != caller_account {
        return RoleResult::Failed(crate::facts::other_account_role(
            role_arn,
            &account,
            caller_account,
        ));
    }
    let iam = &aws.iam;
    let role = match aws
        .call("iam:GetRole", &name, iam.get_role().role_name(&name).send())
        .await
    {
        Ok(out) => out,
        Err(e) if e.is(&["NoSuchEntity"]) => return RoleResult::Absent,
        Err(e) => return RoleResult::Failed(e.message),
    };
    let Some(role) = role.role() else {
        return RoleResult::Failed(format!("iam:GetRole for {name} returned no role"));
    };
    let (inline_names, attached) = tokio::join!(
        aws.call(
            "iam:ListRolePolicies",
            &name,
            iam.list_role_policies().role_name(&name).send()
        ),
        aws.call(
            "iam:ListAttachedRolePolicies",
            &name,
            iam.list_attached_role_policies().role_name(&name).send()
        ),
    );
    let (inline_names, attached) = match (inline_names, attached) {
        (Ok(i), Ok(a)) => (i, a),
        (Err(e), _) | (_, Err(e)) => return RoleResult::Failed(e.message),
    };
    let inline = join_all(inline_names.policy_names().iter().map(|p| {
        let request = iam.get_role_policy().role_name(&name).policy_name(p);
        aws.call("iam:GetRolePolicy", p, request.send())
    }))
    .await;
    let mut role_policies = Vec::new();
    for result in inline {
        match result {
            Ok(p) => role_policies.push(InlinePolicy {
                policy_name: p.policy_name().to_string(),
                policy_document: Value::String(p.policy_document().to_string()),
            }),
            Err(e) => return RoleResult::Failed(e.message),
        }
    }
    RoleResult::Found(Box::new(RoleDetail {
        role_name: role.role_name().to_string(),
        arn: role.arn().to_string(),
        assume_role_policy_document: role
            .assume_role_policy_document()
            .map(|d| Value::String(d.to_string()))
            .unwrap_or_default(),
        role_policy_list: role_policies,
        attached_managed_policies: attached
            .attached_policies()
            .iter()
            .map(|p| AttachedPolicy {
                policy_name: p.policy_name().map(str::to_string),
                policy_arn: p.policy_arn().unwrap_or_default().to_string(),
            })
            .collect(),
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(|arn| Boundary {
                permissions_boundary_arn: arn.to_string(),
            }),
        tags: Some(
            role.tags()
                .iter()
                .map(|t| Tag {
                    key: t.key().to_string(),
                    value: t.value().to_string(),
                })
                .collect(),
        ),
    }))
}

/// Stage 4b: the cluster's OIDC provider, when the account lists it.
pub(super) async fn oidc_provider(aws: &aws::Aws, shared: &Shared, provider_arn: Option<&str>) {
    let Some(arn) = provider_arn else {
        return;
    };
    let read = async {
        let mut found = Found::default();
        let request = aws
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn);
        match aws
            .call("iam:GetOpenIDConnectProvider", arn, request.send())
            .await
        {
            Ok(out) => found.push_document(&OidcProviderDetail {
                url: out.url().unwrap_or_default().to_string(),
                client_id_list: out.client_id_list().to_vec(),
            }),
            Err(e) => found.gaps.problems.push(e.message),
        }
        ((), found)
    };
    shared
        .providers
        .once(&shared.found, arn.to_string(), read)
        .await
}

/// Stage 4c: of each repository that exists (or may: its listing failed), the images, the
/// repository policy and the manifests of the images asked for. Returns whether an image
/// asked for is not among the repository's images.
pub(super) async fn repository_contents(
    aws: &aws::Aws,
    shared: &Shared,
    images: &[EcrImage],
    listings: &Listings,
) -> bool {
    let into = &shared.found;
    let repos: BTreeSet<RepoKey> = images
        .iter()
        .map(RepoKey::of)
        .filter(|k| {
            listings.known.contains(k)
                || listings
                    .failed
                    .contains(&(k.registry.clone(), k.region.clone()))
        })
        .collect();
    let manifests: BTreeSet<(RepoKey, String)> = images
        .iter()
        .filter(|e| repos.contains(&RepoKey::of(e)))
        .map(|e| (RepoKey::of(e), e.reference()))
        .collect();
    let (image_lists, _, _) = tokio::join!(
        join_all(repos.iter().map(|key| {
            shared.images.once(into, key.clone(), async move {
                let mut found = Found::default();
                let scope = scope::images(&key.registry, &key.region, &key.name);
                match describe_images(aws, key).await {
                    Ok(answer) => {
                        found.gaps.covered(&scope);
                        found.push_document(&answer);
                        (Some(Arc::new(answer.image_details)), found)
                    }
                    Err(e) if e.is(&["RepositoryNotFoundException"]) => (None, found),
                    Err(e) => {
                        found.gaps.error(&scope, &e.message);
                        (None, found)
                    }
                }
            })
        })),
        join_all(repos.iter().map(|key| {
            shared
                .repository_policies
                .once(into, key.clone(), async move {
                    let mut found = Found::default();
                    match repository_policy(aws, key).await {
                        Ok(answer) => found.push_document(&answer),
                        Err(e) if e.is(&["RepositoryNotFoundException"]) => {}
                        Err(e) => found.gaps.error(
                            &scope::repository_policy(&key.registry, &key.region, &key.name),
                            &e.message,
                        ),
                    }
                    ((), found)
                })
        })),
        read_manifests(aws, shared, &manifests),
    );
    repos.iter().zip(image_lists).any(|(key, details)| {
        details.is_some_and(|details| {
            images
                .iter()
                .filter(|e| RepoKey::of(e) == *key)
                .any(|e| !details.iter().any(|d| listed(e, d)))
        })
    })
}

/// The manifest of each image, once: by digest or tag. An image the registry says it does not
/// hold is recorded as such (`failures`), a refused call as a gap.
async fn read_manifests(aws: &aws::Aws, shared: &Shared, manifests: &BTreeSet<(RepoKey, String)>) {
    join_all(manifests.iter().map(|manifest| {
        let (key, id) = manifest;
        shared
            .manifests
            .once(&shared.found, manifest.clone(), async move {
                let mut found = Found::default();
                match batch_get_image(aws, key, id).await {
                    Ok(answer) if answer.images.is_empty() && answer.failures.is_empty() => {}
                    Ok(answer) => found.push_document(&answer),
                    Err(e) if e.is(&["RepositoryNotFoundException"]) => {}
                    Err(e) => found.gaps.error(
                        &scope::manifest(&key.registry, &key.region, &key.name, id),
                        &e.message,
                    ),
                }
                ((), found)
            })
    }))
    .await;
}

/// Stage 4c for AWS's EKS add-on registries: every account may pull from them and none may list
/// or describe them, so the manifest is what answers for the repository and the image.
pub(super) async fn addon_manifests(aws: &aws::Aws, shared: &Shared, images: &[EcrImage]) {
    let manifests: BTreeSet<(RepoKey, String)> = images
        .iter()
        .map(|e| (RepoKey::of(e), e.reference()))
        .collect();
    read_manifests(aws, shared, &manifests).await;
}

/// Whether `image` is this listed image: by digest, else by tag.
fn listed(image: &EcrImage, detail: &ImageDetail) -> bool {
    image.digest.as_deref() == Some(detail.image_digest.as_str())
        || image
            .tag
            .as_ref()
            .is_some_and(|t| detail.image_tags.contains(t))
}

/// A repository's images, as `aws ecr describe-images` prints them, with what was asked.
pub(super) async fn describe_images(
    aws: &aws::Aws,
    key: &RepoKey,
) -> Result<DescribeImages, aws::AwsError> {
    let client = aws.ecr(&key.region);
    let mut details = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = client
            .describe_images()
            .registry_id(&key.registry)
            .repository_name(&key.name);
        if let Some(t) = &token {
            request = request.next_token(t);
        }
        let page = aws
            .call("ecr:DescribeImages", &key.name, request.send())
            .await?;
        details.extend(page.image_details().iter().map(|d| ImageDetail {
            registry_id: key.registry.clone(),
            repository_name: key.name.clone(),
            image_digest: d.image_digest().unwrap_or_default().to_string(),
            image_tags: d.image_tags().to_vec(),
            image_manifest_media_type: d.image_manifest_media_type().map(str::to_string),
            image_status: d.image_status().map(|s| s.as_str().to_string()),
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(DescribeImages {
        image_details: details,
        registry_id: Some(key.registry.clone()),
        repository_name: Some(key.name.clone()),
        region: Some(key.region.clone()),
    })
}

/// A repository's policy (`policyText: null` when it has none).
pub(super) async fn repository_policy(
    aws: &aws::Aws,
    key: &RepoKey,
) -> Result<GetRepositoryPolicy, aws::AwsError> {
    let request = aws
        .ecr(&key.region)
        .get_repository_policy()
        .registry_id(&key.registry)
        .repository_name(&key.name);
    let policy_text = match aws
        .call("ecr:GetRepositoryPolicy", &key.name, request.send())
        .await
    {
        Ok(out) => out.policy_text().map(str::to_string),
        Err(e) if e.is(&["RepositoryPolicyNotFoundException"]) => None,
        Err(e) => return Err(e),
    };
    Ok(GetRepositoryPolicy {
        policy: RepositoryPolicy {
            registry_id: key.registry.clone(),
            repository_name: key.name.clone(),
            policy_text,
        },
        region: Some(key.region.clone()),
    })
}

/// The manifest of one image (by digest or tag), in any of the media types a kubelet accepts.
async fn batch_get_image(
    aws: &aws::Aws,
    key: &RepoKey,
    id: &str,
) -> Result<BatchGetImage, aws::AwsError> {
    let image_id = if id.starts_with("sha256:") {
        ImageIdentifier::builder().image_digest(id).build()
    } else {
        ImageIdentifier::builder().image_tag(id).build()
    };
    let request = aws
        .ecr(&key.region)
        .batch_get_image()
        .registry_id(&key.registry)
        .repository_name(&key.name)
        .image_ids(image_id)
        .accepted_media_types("application/vnd.oci.image.index.v1+json")
        .accepted_media_types("application/vnd.docker.distribution.manifest.list.v2+json")
        .accepted_media_types("application/vnd.oci.image.manifest.v1+json")
        .accepted_media_types("application/vnd.docker.distribution.manifest.v2+json");
    let answer = aws
        .call("ecr:BatchGetImage", &key.name, request.send())
        .await?;
    Ok(BatchGetImage {
        images: answer
            .images()
            .iter()
            .filter_map(|i| {
                let image_id = i.image_id()?;
                Some(ImageManifest {
                    registry_id: key.registry.clone(),
                    repository_name: key.name.clone(),
                    image_id: ImageId {
                        image_digest: image_id.image_digest().map(str::to_string),
                        image_tag: image_id.image_tag().map(str::to_string),
                    },
                    image_manifest: i.image_manifest()?.to_string(),
                })
            })
            .collect(),
        failures: answer
            .failures()
            .iter()
            .map(|f| ImageFailure {
                image_id: ImageId {
                    image_digest: f
                        .image_id()
                        .and_then(|i| i.image_digest())
                        .map(str::to_string),
                    image_tag: f.image_id().and_then(|i| i.image_tag()).map(str::to_string),
                },
                failure_code: f.failure_code().map(|c| c.as_str().to_string()),
                failure_reason: f.failure_reason().map(str::to_string),
            })
            .collect(),
        registry_id: Some(key.registry.clone()),
        repository_name: Some(key.name.clone()),
        region: Some(key.region.clone()),
    })
}

/// Stage 5a: each managed policy once, for every role that attaches it.
pub(super) async fn managed_policies(
    aws: &aws::Aws,
    shared: &Shared,
    policy_arns: &BTreeSet<String>,
) {
    join_all(policy_arns.iter().map(|policy_arn| {
        shared
            .policies
            .once(&shared.found, policy_arn.clone(), async move {
                let mut found = Found::default();
                let detail = match fetch_policy(aws, policy_arn).await {
                    Ok(document) => Some(Arc::new(ManagedPolicyDetail {
                        arn: policy_arn.clone(),
                        policy_name: None,
                        versions: vec![PolicyVersion {
                            document: Value::String(document),
                            is_default_version: true,
                            version_id: None,
                        }],
                    })),
                    Err(e) => {
                        found.gaps.error(&scope::policy(policy_arn), &e.message);
                        None
                    }
                };
                (detail, found)
            })
    }))
    .await;
}

/// The default version of a managed policy.
pub(crate) async fn fetch_policy(
    aws: &aws::Aws,
    policy_arn: &str,
) -> Result<String, aws::AwsError> {
    let iam = &aws.iam;
    let policy = aws
        .call(
            "iam:GetPolicy",
            policy_arn,
            iam.get_policy().policy_arn(policy_arn).send(),
        )
        .await?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1")
        .to_string();
    let request = iam
        .get_policy_version()
        .policy_arn(policy_arn)
        .version_id(&version);
    let out = aws
        .call("iam:GetPolicyVersion", policy_arn, request.send())
        .await?;
    Ok(out
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or_default()
        .to_string())
}

/// Stage 5b: the pull-through cache rules of registries, which can explain a missing
/// repository or image.
pub(super) async fn cache_rules(
    aws: &aws::Aws,
    shared: &Shared,
    registries: &[Registry],
) -> Vec<CacheRule> {
    let rules = join_all(registries.iter().map(|key| {
        let (registry, region) = key;
        shared
            .cache_rules
            .once(&shared.found, key.clone(), async move {
                let mut found = Found::default();
                let request = aws
                    .ecr(region)
                    .describe_pull_through_cache_rules()
                    .registry_id(registry);
                let rules = match aws
                    .call(
                        "ecr:DescribePullThroughCacheRules",
                        registry,
                        request.send(),
                    )
                    .await
                {
                    Ok(out) => {
                        found.push_document(&DescribePullThroughCacheRules {
                            pull_through_cache_rules: out
                                .pull_through_cache_rules()
                                .iter()
                                .map(|r| PullThroughCacheRule {
                                    ecr_repository_prefix: r
                                        .ecr_repository_prefix()
                                        .unwrap_or_default()
                                        .to_string(),
                                    upstream_registry_url: r
                                        .upstream_registry_url()
                                        .map(str::to_string),
                                    registry_id: Some(registry.clone()),
                                })
                                .collect(),
                            registry_id: Some(registry.clone()),
                        });
                        out.pull_through_cache_rules()
                            .iter()
                            .map(|r| CacheRule {
                                registry: registry.clone(),
                                region: region.clone(),
                                prefix: r.ecr_repository_prefix().unwrap_or_default().to_string(),
                            })
                            .collect()
                    }
                    Err(e) => {
                        found.gaps.error(&scope::pull_through(registry), &e.message);
                        Vec::new()
                    }
                };
                (Arc::new(rules), found)
            })
    }))
    .await;
    rules.iter().flat_map(|r| r.iter().cloned()).collect()
}

/// Stage 5c: the registry permissions policies of registries with cache rules: they can grant
/// what a pull-through cache does for the puller. A registry without one is a fact.
pub(super) async fn registry_policies(aws: &aws::Aws, shared: &Shared, registries: &[Registry]) {
    join_all(registries.iter().map(|key| {
        let (registry, region) = key;
        shared
            .registry_policies
            .once(&shared.found, key.clone(), async move {
                let mut found = Found::default();
                let request = aws.ecr(region).get_registry_policy();
                let policy_text = match aws
                    .call("ecr:GetRegistryPolicy", registry, request.send())
                    .await
                {
                    Ok(out) => out.policy_text().map(str::to_string),
                    Err(e) if e.is(&["RegistryPolicyNotFoundException"]) => None,
                    Err(e) => {
                        let scope = scope::registry_policy(registry, region);
                        found.gaps.error(&scope, &e.message);
                        return ((), found);
                    }
                };
                found.push_document(&GetRegistryPolicy {
                    registry_id: registry.clone(),
                    policy_text,
                    region: Some(region.clone()),
                });
                ((), found)
            })
    }))
    .await;
}

/// A pull-through cache rule as read: its registry, Region and prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct CacheRule {
    pub registry: String,
    pub region: String,
    pub prefix: String,
}

/// Stage 6 (only for images under a cache rule): ECR's own check that each rule can use its
/// upstream. It reads the rule's credentials itself; pulldoctor never reads the secret.
pub(super) async fn validate_cache_rules(aws: &aws::Aws, shared: &Shared, rules: &[CacheRule]) {
    join_all(rules.iter().map(|rule| {
        shared
            .validated
            .once(&shared.found, rule.clone(), async move {
                let mut found = Found::default();
                let request = aws
                    .ecr(&rule.region)
                    .validate_pull_through_cache_rule()
                    .registry_id(&rule.registry)
                    .ecr_repository_prefix(&rule.prefix);
                match aws
                    .call(
                        "ecr:ValidatePullThroughCacheRule",
                        &rule.prefix,
                        request.send(),
                    )
                    .await
                {
                    Ok(out) => found.push_document(&ValidatePullThroughCacheRule {
                        ecr_repository_prefix: rule.prefix.clone(),
                        registry_id: rule.registry.clone(),
                        upstream_registry_url: out.upstream_registry_url().map(str::to_string),
                        is_valid: out.is_valid(),
                        failure: out.failure().map(str::to_string),
                    }),
                    // Not knowing leaves the event to tell; a refusal is a problem, not a verdict.
                    Err(e) => found.gaps.problems.push(e.message),
                }
                ((), found)
            })
    }))
    .await;
}

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
pub(super) async fn network(aws: &aws::Aws, shared: &Shared, objects: &Objects, pods: &[Pod]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, waiting: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": waiting.map_or(json!({"running": {}}),
                    |r| json!({"waiting": {"reason": r}}))}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_pages_failing_pods_come_first_and_empty_parts_not_at_all() {
        let names = |parts: Vec<Vec<Pod>>| -> Vec<Vec<String>> {
            let name = |p: Pod| p.metadata.name.unwrap_or_default();
            parts
                .into_iter()
                .map(|part| part.into_iter().map(name).collect())
                .collect()
        };
        let page = vec![
            pod("ok-1", None),
            pod("pull-1", Some("ImagePullBackOff")),
            pod("ok-2", None),
            pod("pull-2", Some("ErrImagePull")),
        ];
        assert_eq!(
            names(failing_first(page)),
            [vec!["pull-1", "pull-2"], vec!["ok-1", "ok-2"]]
        );
        assert_eq!(names(failing_first(vec![pod("ok", None)])), [vec!["ok"]]);
        assert!(failing_first(Vec::new()).is_empty());
    }
}
