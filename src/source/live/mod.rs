//! Live sources: the same documents a bundle holds, read from the Kubernetes API and AWS.
//! Lazy (AWS facts only for the pods being diagnosed), deduplicated (each entity once), bounded
//! in concurrency, and honest: a refused or failed call is recorded as a gap that names it.
//!
//! The result is a list of bundle documents, so `diagnose` reads live facts exactly as it reads a
//! bundle, and `snapshot` writes them for `--from` to replay.

pub mod aws;
pub mod follow;
pub mod kube;

use crate::ecr::reference::{self, ImageRef};
use crate::facts::ingest::Document;
use crate::facts::kube::{PULL_FAILURE_REASONS, containers, namespace_of};
use crate::facts::{SourceInfo, scope};
use crate::iam::arn;
use ::aws_sdk_ecr::types::ImageIdentifier;
use futures::future::join_all;
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bound on concurrent requests and the timeout of each.
#[derive(Clone)]
pub struct Limits {
    semaphore: Arc<Semaphore>,
    pub timeout: Duration,
    /// The largest response body read (`--max-input-mb`): an answer that never ends stops here.
    pub max_body: usize,
}

impl Limits {
    pub fn new(concurrency: usize, timeout: Duration) -> Limits {
        Limits {
            semaphore: Arc::new(Semaphore::new(concurrency.max(1))),
            timeout,
            max_body: crate::source::bundle::DEFAULT_MAX_INPUT_MB as usize * 1024 * 1024,
        }
    }

    pub fn with_max_body(mut self, bytes: usize) -> Limits {
        self.max_body = bytes;
        self
    }

    pub async fn permit(&self) -> OwnedSemaphorePermit {
        self.semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }
}

/// How lookups ended, as `pulldoctorLookup` documents.
#[derive(Default)]
pub struct Gaps {
    documents: Vec<Value>,
    pub problems: Vec<String>,
}

impl Gaps {
    pub fn covered(&mut self, scope: &str) {
        self.documents
            .push(json!({"pulldoctorLookup": {"scope": scope, "covered": true}}));
    }

    pub fn error(&mut self, scope: &str, message: &str) {
        self.documents
            .push(json!({"pulldoctorLookup": {"scope": scope, "error": message}}));
        self.problems.push(message.to_string());
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    /// Every pod, not only those that cannot pull.
    pub all: bool,
    /// Only this pod (of `namespace`), whether it can pull or not: the TUI's refresh of one pod.
    pub pod: Option<String>,
    /// Pods named on the command line (namespace, name): read whether they can pull or not.
    pub named: Vec<(String, String)>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub cluster: Option<String>,
    pub concurrency: usize,
    pub timeout: Duration,
    /// The largest API response body read, in bytes.
    pub max_body: usize,
}

pub struct Collected {
    pub source: SourceInfo,
    pub documents: Vec<Document>,
    /// Lookups that failed: each also stands in the documents as a gap.
    pub problems: Vec<String>,
}

impl Collected {
    /// The snapshot file `--from` replays.
    pub fn snapshot(&self) -> Value {
        json!({
            "schema": "pulldoctor.snapshot/v1",
            "source": {
                "kind": "snapshot",
                "context": self.source.context,
                "cluster": self.source.cluster,
                "region": self.source.region,
                "account": self.source.account,
            },
            "documents": self.documents.iter().map(|d| d.value.clone()).collect::<Vec<_>>(),
        })
    }
}

fn failing(pod: &Pod) -> bool {
    containers(pod).iter().any(|c| {
        c.waiting_reason()
            .is_some_and(|r| PULL_FAILURE_REASONS.contains(&r))
    })
}

fn label<'a>(
    object: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    object.labels.as_ref()?.get(key).map(String::as_str)
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

/// Reads everything the diagnosis of the selected pods needs.
pub async fn collect(options: &Options) -> Result<Collected, String> {
    let limits = Limits::new(options.concurrency, options.timeout).with_max_body(options.max_body);
    let (kube, context) = kube::connect(
        options.kubeconfig.as_deref(),
        options.context.as_deref(),
        limits.clone(),
    )
    .await?;
    let namespace = options.namespace.as_deref();
    let mut gaps = Gaps::default();
    let mut items: Vec<Value> = Vec::new();
    let mut documents: Vec<Value> = Vec::new();

    // Wave 1: pods and warning events.
    let pod = options.pod.as_deref();
    let named = |p: &Pod| {
        options.named.iter().any(|(ns, name)| {
            namespace_of(p) == ns && p.metadata.name.as_deref() == Some(name.as_str())
        })
    };
    let selecting = |p: &Pod| options.all || pod.is_some() || failing(p) || named(p);
    let (pods, events) = tokio::join!(
        kube.pods(namespace, pod, selecting),
        kube.warning_events(namespace, pod)
    );
    let pods = pods.map_err(|e| e.message)?;
    gaps.covered(scope::PODS);
    let events = match events {
        Ok(events) => events,
        Err(e) => {
            gaps.error(scope::EVENTS, &e.message);
            Vec::new()
        }
    };
    let selected: Vec<&Pod> = pods.iter().collect();
    let mut create_failures: BTreeSet<(String, String, String)> = BTreeSet::new();
    for e in &events {
        let o = &e.involved_object;
        if e.reason.as_deref() == Some("FailedCreate")
            && let (Some(kind), Some(ns), Some(name)) = (&o.kind, &o.namespace, &o.name)
        {
            create_failures.insert((kind.clone(), ns.clone(), name.clone()));
        }
    }
    let selected_names: BTreeSet<(String, String)> = selected
        .iter()
        .map(|p| {
            (
                namespace_of(p).to_string(),
                p.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    for p in &selected {
        items.push(serde_json::to_value(p).unwrap_or_default());
    }
    for e in &events {
        let o = &e.involved_object;
        let about_selected = o.kind.as_deref() == Some("Pod")
            && selected_names.contains(&(
                o.namespace.clone().unwrap_or_default(),
                o.name.clone().unwrap_or_default(),
            ));
        if about_selected || e.reason.as_deref() == Some("FailedCreate") {
            items.push(serde_json::to_value(e).unwrap_or_default());
        }
    }

    // Wave 2: ServiceAccounts of the namespaces involved, the nodes, the failing controllers.
    let namespaces: BTreeSet<String> = selected
        .iter()
        .map(|p| namespace_of(p).to_string())
        .chain(create_failures.iter().map(|(_, ns, _)| ns.clone()))
        .collect();
    let node_names: BTreeSet<String> = selected
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    let (accounts, nodes, workloads) = tokio::join!(
        join_all(namespaces.iter().map(|ns| kube.service_accounts(ns))),
        join_all(node_names.iter().map(|n| kube.node(n))),
        join_all(
            create_failures
                .iter()
                .map(|(kind, ns, name)| kube.workload(kind, ns, name))
        ),
    );
    let mut service_accounts: Vec<ServiceAccount> = Vec::new();
    for (ns, result) in namespaces.iter().zip(accounts) {
        match result {
            Ok(list) => {
                gaps.covered(&scope::service_accounts(ns));
                service_accounts.extend(list);
            }
            Err(e) => kube::record(&mut gaps, &scope::service_accounts(ns), e),
        }
    }
    let mut known_nodes: Vec<Node> = Vec::new();
    for (name, result) in node_names.iter().zip(nodes) {
        match result {
            Ok(node) => known_nodes.push(node),
            Err(e) => kube::record(&mut gaps, &scope::node(name), e),
        }
    }
    for result in workloads {
        match result {
            Ok(w) => items.push(w),
            Err(e) => gaps.problems.push(e.message),
        }
    }
    items.extend(
        service_accounts
            .iter()
            .map(|s| serde_json::to_value(s).unwrap_or_default()),
    );
    items.extend(
        known_nodes
            .iter()
            .map(|n| serde_json::to_value(n).unwrap_or_default()),
    );

    // Which EKS cluster, and the AWS clients.
    let (cluster_name, region) = cluster_from_context(options, &context);
    let aws = aws::connect(
        options.profile.as_deref(),
        region.as_deref(),
        limits.clone(),
    )
    .await;
    let cluster_name = match cluster_name {
        Some(name) => name,
        None => find_cluster_by_endpoint(&aws, context.server.as_deref())
            .await
            .ok_or_else(|| {
                format!(
                    "cannot tell which EKS cluster context {} is: pass --cluster NAME",
                    context.context.as_deref().unwrap_or("(current)")
                )
            })?,
    };

    // Wave 3: the caller, the cluster, node groups, Fargate profiles, node classes, node-role
    // candidates, Pod Identity associations, OIDC providers, ECR registries.
    let nodegroups: BTreeSet<String> = known_nodes
        .iter()
        .filter_map(|n| label(&n.metadata, "eks.amazonaws.com/nodegroup").map(str::to_string))
        .collect();
    let fargate_profiles: BTreeSet<String> = selected
        .iter()
        .filter_map(|p| label(&p.metadata, "eks.amazonaws.com/fargate-profile").map(str::to_string))
        .collect();
    let node_classes: BTreeSet<kube::NodeClass> =
        known_nodes.iter().filter_map(kube::NodeClass::of).collect();
    let self_managed = known_nodes.iter().any(|n| {
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
    let images: Vec<crate::ecr::reference::EcrImage> = selected
        .iter()
        .flat_map(|p| {
            containers(p)
                .into_iter()
                .map(|c| c.image.to_string())
                .collect::<Vec<_>>()
        })
        .filter_map(|image| match reference::parse(&image) {
            Ok(ImageRef::Ecr(e)) => Some(e),
            _ => None,
        })
        .collect();
    let registries: BTreeSet<(String, String)> = images
        .iter()
        .map(|e| (e.account.clone(), e.region.clone()))
        .collect();

    let eks = &aws.eks;
    let (
        caller,
        organization,
        cluster,
        groups,
        profiles,
        classes,
        candidates,
        associations,
        providers,
        listings,
    ) = tokio::join!(
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
            "eks:DescribeCluster",
            &cluster_name,
            eks.describe_cluster().name(&cluster_name).send()
        ),
        join_all(nodegroups.iter().map(|ng| {
            aws.call(
                "eks:DescribeNodegroup",
                ng,
                eks.describe_nodegroup()
                    .cluster_name(&cluster_name)
                    .nodegroup_name(ng)
                    .send(),
            )
        })),
        join_all(fargate_profiles.iter().map(|fp| {
            aws.call(
                "eks:DescribeFargateProfile",
                fp,
                eks.describe_fargate_profile()
                    .cluster_name(&cluster_name)
                    .fargate_profile_name(fp)
                    .send(),
            )
        })),
        join_all(node_classes.iter().map(|c| kube.node_class(c))),
        node_role_candidates(&kube, &aws, &cluster_name, self_managed),
        pod_identity_associations(&aws, &cluster_name, namespace),
        aws.call(
            "iam:ListOpenIDConnectProviders",
            "the account",
            aws.iam.list_open_id_connect_providers().send()
        ),
        join_all(
            registries
                .iter()
                .map(|(registry, reg)| repositories(&aws, registry, reg))
        ),
    );

    let account = match caller {
        Ok(c) => {
            let account = c.account().unwrap_or_default().to_string();
            documents.push(json!({"Account": account, "Arn": c.arn().unwrap_or_default(), "UserId": c.user_id().unwrap_or_default()}));
            Some(account)
        }
        // Without credentials every AWS link would be unknown for the same reason: say it once.
        Err(e)
            if e.is(&[
                aws::NO_CREDENTIALS,
                "ExpiredToken",
                "ExpiredTokenException",
                "InvalidClientTokenId",
                "UnrecognizedClientException",
            ]) =>
        {
            return Err(e.message);
        }
        Err(e) => {
            gaps.problems.push(e.message);
            None
        }
    };
    // The organization settles `aws:PrincipalOrgID` conditions; an account in none is a fact.
    match organization {
        Ok(out) => documents
            .push(json!({"Organization": out.organization().map(|o| json!({"Id": o.id()}))})),
        Err(e) if e.is(&["AWSOrganizationsNotInUseException"]) => {
            documents.push(json!({"Organization": null}));
        }
        Err(e) => gaps.error(scope::ORGANIZATION, &e.message),
    }
    let mut issuer = None;
    let mut auto_role = None;
    match cluster {
        Ok(out) => {
            if let Some(c) = out.cluster() {
                issuer = c
                    .identity()
                    .and_then(|i| i.oidc())
                    .and_then(|o| o.issuer())
                    .map(str::to_string);
                auto_role = c
                    .compute_config()
                    .and_then(|c| c.node_role_arn())
                    .map(str::to_string);
                documents.push(json!({"cluster": {
                    "name": c.name(), "arn": c.arn(),
                    "identity": {"oidc": {"issuer": issuer}},
                    "computeConfig": {"enabled": c.compute_config().and_then(|c| c.enabled()), "nodeRoleArn": auto_role},
                }}));
            }
        }
        Err(e) => gaps.error(scope::CLUSTER, &e.message),
    }
    let mut role_arns: BTreeSet<String> = BTreeSet::new();
    for (ng, result) in nodegroups.iter().zip(groups) {
        match result {
            Ok(out) => {
                if let Some(g) = out.nodegroup() {
                    role_arns.extend(g.node_role().map(str::to_string));
                    documents.push(json!({"nodegroup": {"nodegroupName": g.nodegroup_name(), "nodeRole": g.node_role()}}));
                }
            }
            Err(e) => gaps.error(&scope::nodegroup(ng), &e.message),
        }
    }
    for (fp, result) in fargate_profiles.iter().zip(profiles) {
        match result {
            Ok(out) => {
                if let Some(p) = out.fargate_profile() {
                    role_arns.extend(p.pod_execution_role_arn().map(str::to_string));
                    let selectors: Vec<Value> = p
                        .selectors()
                        .iter()
                        .map(|s| json!({"namespace": s.namespace(), "labels": s.labels().cloned().unwrap_or_default()}))
                        .collect();
                    documents.push(json!({"fargateProfile": {"fargateProfileName": p.fargate_profile_name(), "podExecutionRoleArn": p.pod_execution_role_arn(), "selectors": selectors}}));
                }
            }
            Err(e) => gaps.error(&scope::fargate_profile(fp), &e.message),
        }
    }
    for (class, result) in node_classes.iter().zip(classes) {
        match result {
            Ok(value) => {
                if let (Some(role), Some(acct)) = (value["spec"]["role"].as_str(), &account) {
                    role_arns.insert(format!("arn:aws:iam::{acct}:role/{role}"));
                }
                items.push(value);
            }
            Err(e) => kube::record(&mut gaps, &scope::node_class(class.kind(), &class.name), e),
        }
    }
    if known_nodes
        .iter()
        .any(|n| label(&n.metadata, "eks.amazonaws.com/compute-type") == Some("auto"))
    {
        role_arns.extend(auto_role);
    }
    for doc in candidates.documents {
        if let Some(arn) = doc["accessEntry"]["principalArn"].as_str() {
            role_arns.insert(arn.to_string());
        }
        documents.push(doc);
    }
    role_arns.extend(candidates.roles);
    for (scope_name, message) in candidates.gaps {
        gaps.error(&scope_name, &message);
    }
    items.extend(candidates.items);

    // Roles the ServiceAccounts name, and Pod Identity roles.
    let needed_accounts: BTreeSet<(String, String)> = selected
        .iter()
        .map(|p| {
            (
                namespace_of(p).to_string(),
                crate::facts::kube::service_account_of(p).to_string(),
            )
        })
        .collect();
    for sa in &service_accounts {
        let key = (
            sa.metadata.namespace.clone().unwrap_or_default(),
            sa.metadata.name.clone().unwrap_or_default(),
        );
        if !needed_accounts.contains(&key) {
            continue;
        }
        for annotation in [
            "eks.amazonaws.com/role-arn",
            "eks.amazonaws.com/ecr-role-arn",
        ] {
            if let Some(value) = sa
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(annotation))
                && arn::is_well_formed_role_arn(value)
            {
                role_arns.insert(value.clone());
            }
        }
    }
    match associations {
        Ok(list) => {
            gaps.covered(scope::POD_IDENTITY);
            let wanted: Vec<_> = list
                .into_iter()
                .filter(|(ns, sa, _)| needed_accounts.contains(&(ns.clone(), sa.clone())))
                .collect();
            let described = join_all(wanted.iter().map(|(_, _, id)| {
                aws.call(
                    "eks:DescribePodIdentityAssociation",
                    id,
                    eks.describe_pod_identity_association()
                        .cluster_name(&cluster_name)
                        .association_id(id)
                        .send(),
                )
            }))
            .await;
            for ((ns, sa, id), result) in wanted.iter().zip(described) {
                let role = match result {
                    Ok(out) => out
                        .association()
                        .and_then(|a| a.role_arn())
                        .map(str::to_string),
                    Err(e) => {
                        gaps.problems.push(e.message);
                        None
                    }
                };
                role_arns.extend(role.clone());
                documents.push(json!({"association": {"namespace": ns, "serviceAccount": sa, "associationId": id, "roleArn": role.unwrap_or_default()}}));
            }
        }
        Err(e) => gaps.error(scope::POD_IDENTITY, &e.message),
    }

    // Wave 4: roles with their policies, OIDC provider, images, manifests, repository policies.
    let caller_account = account.clone().unwrap_or_default();
    let provider_arn = issuer.as_deref().map(|i| {
        format!(
            "arn:aws:iam::{caller_account}:oidc-provider/{}",
            i.trim_start_matches("https://")
        )
    });
    let provider_listed = match &providers {
        Ok(out) => {
            let arns: Vec<Value> = out
                .open_id_connect_provider_list()
                .iter()
                .map(|p| json!({"Arn": p.arn()}))
                .collect();
            documents.push(json!({"OpenIDConnectProviderList": arns}));
            gaps.covered(&scope::oidc_providers(&caller_account));
            out.open_id_connect_provider_list()
                .iter()
                .any(|p| p.arn() == provider_arn.as_deref())
        }
        Err(e) => {
            gaps.error(&scope::oidc_providers(&caller_account), &e.message);
            false
        }
    };
    let mut repositories_known: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut listing_failed: BTreeSet<(String, String)> = BTreeSet::new();
    for ((registry, reg), result) in registries.iter().zip(listings) {
        match result {
            Ok(names) => {
                let repos: Vec<Value> = names
                    .iter()
                    .map(|n| json!({"repositoryArn": format!("arn:{}:ecr:{reg}:{registry}:repository/{n}", arn::partition_for_region(reg)), "registryId": registry, "repositoryName": n}))
                    .collect();
                documents
                    .push(json!({"repositories": repos, "registryId": registry, "region": reg}));
                repositories_known.extend(
                    names
                        .into_iter()
                        .map(|n| (registry.clone(), reg.clone(), n)),
                );
            }
            Err(e) => {
                gaps.error(&scope::repositories(registry, reg), &e.message);
                listing_failed.insert((registry.clone(), reg.clone()));
            }
        }
    }
    let repos: BTreeSet<(String, String, String)> = images
        .iter()
        .map(|e| (e.account.clone(), e.region.clone(), e.repository.clone()))
        .filter(|k| {
            repositories_known.contains(k) || listing_failed.contains(&(k.0.clone(), k.1.clone()))
        })
        .collect();
    let manifests: BTreeSet<(String, String, String, String)> = images
        .iter()
        .filter(|e| repos.contains(&(e.account.clone(), e.region.clone(), e.repository.clone())))
        .map(|e| {
            (
                e.account.clone(),
                e.region.clone(),
                e.repository.clone(),
                e.digest
                    .clone()
                    .or_else(|| e.tag.clone())
                    .unwrap_or_else(|| "latest".into()),
            )
        })
        .collect();
    let (roles, provider, image_lists, policies, manifest_docs) = tokio::join!(
        join_all(
            role_arns
                .iter()
                .map(|r| fetch_role(&aws, r, &caller_account))
        ),
        async {
            match (&provider_arn, provider_listed) {
                (Some(arn), true) => Some(
                    aws.call(
                        "iam:GetOpenIDConnectProvider",
                        arn,
                        aws.iam
                            .get_open_id_connect_provider()
                            .open_id_connect_provider_arn(arn)
                            .send(),
                    )
                    .await,
                ),
                _ => None,
            }
        },
        join_all(
            repos
                .iter()
                .map(|(registry, reg, name)| describe_images(&aws, registry, reg, name))
        ),
        join_all(repos.iter().map(|(registry, reg, name)| {
            aws.call(
                "ecr:GetRepositoryPolicy",
                name,
                aws.ecr(reg)
                    .get_repository_policy()
                    .registry_id(registry)
                    .repository_name(name)
                    .send(),
            )
        })),
        join_all(manifests.iter().map(|(registry, reg, name, id)| {
            let image_id = if id.starts_with("sha256:") {
                ImageIdentifier::builder().image_digest(id).build()
            } else {
                ImageIdentifier::builder().image_tag(id).build()
            };
            aws.call(
                "ecr:BatchGetImage",
                name,
                aws.ecr(reg)
                    .batch_get_image()
                    .registry_id(registry)
                    .repository_name(name)
                    .image_ids(image_id)
                    .accepted_media_types("application/vnd.oci.image.index.v1+json")
                    .accepted_media_types(
                        "application/vnd.docker.distribution.manifest.list.v2+json",
                    )
                    .accepted_media_types("application/vnd.oci.image.manifest.v1+json")
                    .accepted_media_types("application/vnd.docker.distribution.manifest.v2+json")
                    .send(),
            )
        })),
    );
    if let Some(result) = provider {
        match result {
            Ok(out) => {
                documents.push(json!({"Url": out.url(), "ClientIDList": out.client_id_list()}))
            }
            Err(e) => gaps.problems.push(e.message),
        }
    }
    let mut role_details = Vec::new();
    let mut policy_arns: BTreeSet<String> = BTreeSet::new();
    for (role_arn, result) in role_arns.iter().zip(roles) {
        match result {
            RoleResult::Found(detail) => {
                for p in detail["AttachedManagedPolicies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    policy_arns.extend(p["PolicyArn"].as_str().map(str::to_string));
                }
                policy_arns.extend(
                    detail["PermissionsBoundary"]["PermissionsBoundaryArn"]
                        .as_str()
                        .map(str::to_string),
                );
                role_details.push(detail);
            }
            RoleResult::Absent => gaps.covered(&scope::role(
                &arn::account_of(role_arn).unwrap_or_default(),
                &arn::role_name_of(role_arn),
            )),
            RoleResult::Failed(message) => gaps.error(
                &scope::role(
                    &arn::account_of(role_arn).unwrap_or_default(),
                    &arn::role_name_of(role_arn),
                ),
                &message,
            ),
        }
    }
    let mut missing_images = false;
    for ((registry, reg, name), result) in repos.iter().zip(image_lists) {
        match result {
            Ok(details) => {
                let wanted_missing = images.iter().any(|e| {
                    &e.account == registry
                        && &e.repository == name
                        && !details.iter().any(|d| {
                            e.digest.as_deref().is_some_and(|x| d["imageDigest"] == x)
                                || e.tag.as_ref().is_some_and(|t| {
                                    d["imageTags"]
                                        .as_array()
                                        .is_some_and(|tags| tags.iter().any(|x| x == t))
                                })
                        })
                });
                missing_images |= wanted_missing;
                gaps.covered(&scope::images(registry, reg, name));
                documents.push(json!({"imageDetails": details, "registryId": registry, "repositoryName": name, "region": reg}));
            }
            Err(e) if e.is(&["RepositoryNotFoundException"]) => {}
            Err(e) => gaps.error(&scope::images(registry, reg, name), &e.message),
        }
    }
    for ((registry, reg, name), result) in repos.iter().zip(policies) {
        match result {
            Ok(out) => documents.push(json!({"registryId": registry, "repositoryName": name, "policyText": out.policy_text(), "region": reg})),
            Err(e) if e.is(&["RepositoryPolicyNotFoundException"]) => {
                documents.push(json!({"registryId": registry, "repositoryName": name, "policyText": null, "region": reg}))
            }
            Err(e) if e.is(&["RepositoryNotFoundException"]) => {}
            Err(e) => gaps.error(&scope::repository_policy(registry, reg, name), &e.message),
        }
    }
    for ((registry, reg, name, id), result) in manifests.iter().zip(manifest_docs) {
        match result {
            Ok(out) => {
                let found: Vec<Value> = out
                    .images()
                    .iter()
                    .filter_map(|i| {
                        Some(json!({"registryId": registry, "repositoryName": name,
                            "imageId": {"imageTag": i.image_id()?.image_tag(), "imageDigest": i.image_id()?.image_digest()},
                            "imageManifest": i.image_manifest()?}))
                    })
                    .collect();
                if !found.is_empty() {
                    documents.push(json!({"images": found, "region": reg}));
                }
            }
            Err(e) if e.is(&["RepositoryNotFoundException"]) => {}
            Err(e) => gaps.error(&scope::manifest(registry, reg, name, id), &e.message),
        }
    }

    // Wave 5: managed policies (each once, for every role that attaches it), and — only when a
    // repository or image is missing — the pull-through cache rules that could explain it.
    let needs_cache_rules = missing_images
        || images.iter().any(|e| {
            !repositories_known.contains(&(
                e.account.clone(),
                e.region.clone(),
                e.repository.clone(),
            ))
        });
    let cache_registries: Vec<(String, String)> = if needs_cache_rules {
        registries.iter().cloned().collect()
    } else {
        Vec::new()
    };
    let (policy_docs, cache_rules) = tokio::join!(
        join_all(policy_arns.iter().map(|p| fetch_policy(&aws, p))),
        join_all(cache_registries.iter().map(|(registry, reg)| {
            aws.call(
                "ecr:DescribePullThroughCacheRules",
                registry,
                aws.ecr(reg)
                    .describe_pull_through_cache_rules()
                    .registry_id(registry)
                    .send(),
            )
        })),
    );
    let mut managed = Vec::new();
    for (policy_arn, result) in policy_arns.iter().zip(policy_docs) {
        match result {
            Ok(doc) => managed.push(json!({"Arn": policy_arn, "PolicyVersionList": [{"Document": doc, "IsDefaultVersion": true}]})),
            Err(e) => gaps.error(&scope::policy(policy_arn), &e.message),
        }
    }
    for ((registry, _), result) in cache_registries.iter().zip(cache_rules) {
        match result {
            Ok(out) => {
                let rules: Vec<Value> = out
                    .pull_through_cache_rules()
                    .iter()
                    .map(|r| json!({"ecrRepositoryPrefix": r.ecr_repository_prefix(), "upstreamRegistryUrl": r.upstream_registry_url(), "registryId": registry}))
                    .collect();
                documents.push(json!({"pullThroughCacheRules": rules, "registryId": registry}));
            }
            Err(e) => gaps.error(&scope::pull_through(registry), &e.message),
        }
    }
    // Roles read one by one: a partial listing, so a role not read stays unknown.
    documents.push(
        json!({"RoleDetailList": role_details, "Policies": managed, "pulldoctorPartial": true}),
    );
    documents.push(json!({"apiVersion": "v1", "kind": "List", "items": items}));
    documents.extend(gaps.documents);
    let source = SourceInfo {
        kind: "live".to_string(),
        context: context.context.clone(),
        cluster: Some(cluster_name),
        region: region.or_else(|| aws.region()),
        account,
        captured_at: None,
    };
    Ok(Collected {
        source,
        documents: documents
            .into_iter()
            .enumerate()
            .map(|(i, value)| Document {
                origin: format!("live[{i}]"),
                value,
            })
            .collect(),
        problems: gaps.problems,
    })
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

struct Candidates {
    documents: Vec<Value>,
    items: Vec<Value>,
    roles: Vec<String>,
    gaps: Vec<(String, String)>,
}

/// For self-managed nodes: access entries and `aws-auth`, which name the node roles.
async fn node_role_candidates(
    kube: &kube::Kube,
    aws: &aws::Aws,
    cluster: &str,
    needed: bool,
) -> Candidates {
    let mut out = Candidates {
        documents: vec![],
        items: vec![],
        roles: vec![],
        gaps: vec![],
    };
    if !needed {
        return out;
    }
    let (config_map, entries) = tokio::join!(
        kube.aws_auth(),
        aws.call(
            "eks:ListAccessEntries",
            cluster,
            aws.eks.list_access_entries().cluster_name(cluster).send()
        ),
    );
    match config_map {
        Ok(cm) => out.items.push(serde_json::to_value(cm).unwrap_or_default()),
        Err(e) if e.code == 404 => out
            .documents
            .push(json!({"pulldoctorLookup": {"scope": scope::AWS_AUTH, "covered": true}})),
        Err(e) => out.gaps.push((scope::AWS_AUTH.to_string(), e.message)),
    }
    match entries {
        Ok(list) => {
            out.documents.push(
                json!({"pulldoctorLookup": {"scope": scope::ACCESS_ENTRIES, "covered": true}}),
            );
            let described = join_all(list.access_entries().iter().map(|p| {
                aws.call(
                    "eks:DescribeAccessEntry",
                    p,
                    aws.eks
                        .describe_access_entry()
                        .cluster_name(cluster)
                        .principal_arn(p)
                        .send(),
                )
            }))
            .await;
            for result in described.into_iter().flatten() {
                if let Some(e) = result.access_entry() {
                    let node = matches!(e.r#type(), Some("EC2_LINUX" | "EC2_WINDOWS" | "EC2"));
                    if node {
                        out.documents.push(json!({"accessEntry": {"principalArn": e.principal_arn(), "type": e.r#type(), "kubernetesGroups": e.kubernetes_groups()}}));
                    }
                }
            }
        }
        Err(e) => out
            .gaps
            .push((scope::ACCESS_ENTRIES.to_string(), e.message)),
    }
    if let Some(cm) = out.items.first()
        && let Some(text) = cm["data"]["mapRoles"].as_str()
        && let Ok(mapped) = serde_saphyr::from_str::<Vec<crate::facts::kube::MappedRole>>(text)
    {
        out.roles.extend(
            mapped
                .into_iter()
                .filter(|m| m.is_node_role())
                .map(|m| m.rolearn),
        );
    }
    out
}

/// Every association of the cluster (or namespace): namespace, ServiceAccount, id.
async fn pod_identity_associations(
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

/// The repository names of one registry in one region.
async fn repositories(
    aws: &aws::Aws,
    registry: &str,
    region: &str,
) -> Result<Vec<String>, aws::AwsError> {
    let client = aws.ecr(region);
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = client.describe_repositories().registry_id(registry);
        if let Some(t) = &token {
            request = request.next_token(t);
        }
        let target = format!("registry {registry} in {region}");
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
            return Ok(names);
        }
    }
}

async fn describe_images(
    aws: &aws::Aws,
    registry: &str,
    region: &str,
    name: &str,
) -> Result<Vec<Value>, aws::AwsError> {
    let client = aws.ecr(region);
    let mut details = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = client
            .describe_images()
            .registry_id(registry)
            .repository_name(name);
        if let Some(t) = &token {
            request = request.next_token(t);
        }
        let page = aws.call("ecr:DescribeImages", name, request.send()).await?;
        for d in page.image_details() {
            details.push(json!({"registryId": registry, "repositoryName": name, "imageDigest": d.image_digest(),
                "imageTags": d.image_tags(), "imageManifestMediaType": d.image_manifest_media_type()}));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(details);
        }
    }
}

enum RoleResult {
    Found(Value),
    Absent,
    Failed(String),
}

/// A role with its inline and attached policies, as a `RoleDetailList` entry.
async fn fetch_role(aws: &aws::Aws, role_arn: &str, caller_account: &str) -> RoleResult {
    let account = arn::account_of(role_arn).unwrap_or_default();
    let name = arn::role_name_of(role_arn);
    if !caller_account.is_empty() && account != caller_account {
        return RoleResult::Failed(format!(
            "role {role_arn} is in account {account}; these credentials read the IAM of account {caller_account} (use --profile for {account})"
        ));
    }
    let role = match aws
        .call(
            "iam:GetRole",
            &name,
            aws.iam.get_role().role_name(&name).send(),
        )
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
            aws.iam.list_role_policies().role_name(&name).send()
        ),
        aws.call(
            "iam:ListAttachedRolePolicies",
            &name,
            aws.iam
                .list_attached_role_policies()
                .role_name(&name)
                .send()
        ),
    );
    let (inline_names, attached) = match (inline_names, attached) {
        (Ok(i), Ok(a)) => (i, a),
        (Err(e), _) | (_, Err(e)) => return RoleResult::Failed(e.message),
    };
    let inline = join_all(inline_names.policy_names().iter().map(|p| {
        aws.call(
            "iam:GetRolePolicy",
            p,
            aws.iam
                .get_role_policy()
                .role_name(&name)
                .policy_name(p)
                .send(),
        )
    }))
    .await;
    let mut role_policies = Vec::new();
    for result in inline {
        match result {
            Ok(p) => role_policies.push(
                json!({"PolicyName": p.policy_name(), "PolicyDocument": p.policy_document()}),
            ),
            Err(e) => return RoleResult::Failed(e.message),
        }
    }
    let attached: Vec<Value> = attached
        .attached_policies()
        .iter()
        .map(|p| json!({"PolicyName": p.policy_name(), "PolicyArn": p.policy_arn()}))
        .collect();
    let mut detail = json!({
        "RoleName": role.role_name(), "Arn": role.arn(),
        "AssumeRolePolicyDocument": role.assume_role_policy_document(),
        "RolePolicyList": role_policies, "AttachedManagedPolicies": attached,
        "Tags": role.tags().iter().map(|t| json!({"Key": t.key(), "Value": t.value()})).collect::<Vec<_>>(),
    });
    if let Some(b) = role
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
    {
        detail["PermissionsBoundary"] = json!({"PermissionsBoundaryArn": b});
    }
    RoleResult::Found(detail)
}

/// The default version of a managed policy.
pub(crate) async fn fetch_policy(
    aws: &aws::Aws,
    policy_arn: &str,
) -> Result<String, aws::AwsError> {
    let policy = aws
        .call(
            "iam:GetPolicy",
            policy_arn,
            aws.iam.get_policy().policy_arn(policy_arn).send(),
        )
        .await?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1")
        .to_string();
    let out = aws
        .call(
            "iam:GetPolicyVersion",
            policy_arn,
            aws.iam
                .get_policy_version()
                .policy_arn(policy_arn)
                .version_id(&version)
                .send(),
        )
        .await?;
    Ok(out
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or_default()
        .to_string())
}

/// What the setup wizard needs beyond a diagnosis: the namespace's ServiceAccounts, the Pod
/// Identity agent, the Fargate profiles, the chosen role, and the chosen repositories with their
/// images and policies. Documents to add to a collection.
pub async fn collect_setup(
    options: &Options,
    caller_account: &str,
    cluster: &str,
    namespace: &str,
    service_account: Option<&str>,
    role_arn: &str,
    repositories: &[crate::facts::RepoKey],
) -> Result<Vec<Document>, String> {
    let limits = Limits::new(options.concurrency, options.timeout).with_max_body(options.max_body);
    let (kube, _) = kube::connect(
        options.kubeconfig.as_deref(),
        options.context.as_deref(),
        limits.clone(),
    )
    .await?;
    let aws = aws::connect(
        options.profile.as_deref(),
        options.region.as_deref(),
        limits,
    )
    .await;
    let mut gaps = Gaps::default();
    let mut items = Vec::new();
    let mut documents = Vec::new();
    let (accounts, agent, profiles, role) = tokio::join!(
        kube.service_accounts(namespace),
        kube.workload("DaemonSet", "kube-system", "eks-pod-identity-agent"),
        aws.call(
            "eks:ListFargateProfiles",
            cluster,
            aws.eks.list_fargate_profiles().cluster_name(cluster).send()
        ),
        fetch_role(&aws, role_arn, caller_account),
    );
    match accounts {
        Ok(list) => {
            gaps.covered(&scope::service_accounts(namespace));
            items.extend(
                list.iter()
                    .map(|s| serde_json::to_value(s).unwrap_or_default()),
            );
        }
        Err(e) => kube::record(&mut gaps, &scope::service_accounts(namespace), e),
    }
    match agent {
        Ok(ds) => items.push(ds),
        Err(e) if e.code == 404 => {}
        Err(e) => gaps.problems.push(e.message),
    }
    // The ServiceAccount's own Pod Identity association, if it has one already.
    if let (Ok(all), Some(sa)) = (
        pod_identity_associations(&aws, cluster, Some(namespace)).await,
        service_account,
    ) {
        for (ns, name, id) in all.into_iter().filter(|(_, name, _)| name == sa) {
            let described = aws
                .call(
                    "eks:DescribePodIdentityAssociation",
                    &id,
                    aws.eks
                        .describe_pod_identity_association()
                        .cluster_name(cluster)
                        .association_id(&id)
                        .send(),
                )
                .await;
            let role = described.ok().and_then(|o| {
                o.association()
                    .and_then(|a| a.role_arn())
                    .map(str::to_string)
            });
            documents.push(json!({"association": {"namespace": ns, "serviceAccount": name, "associationId": id, "roleArn": role.unwrap_or_default()}}));
        }
    }
    if let Ok(out) = profiles {
        for name in out.fargate_profile_names() {
            if let Ok(p) = aws
                .call(
                    "eks:DescribeFargateProfile",
                    name,
                    aws.eks
                        .describe_fargate_profile()
                        .cluster_name(cluster)
                        .fargate_profile_name(name)
                        .send(),
                )
                .await
                && let Some(p) = p.fargate_profile()
            {
                let selectors: Vec<Value> = p.selectors().iter().map(|s| json!({"namespace": s.namespace(), "labels": s.labels().cloned().unwrap_or_default()})).collect();
                documents.push(json!({"fargateProfile": {"fargateProfileName": p.fargate_profile_name(), "podExecutionRoleArn": p.pod_execution_role_arn(), "selectors": selectors}}));
            }
        }
    }
    let role_scope = scope::role(
        &arn::account_of(role_arn).unwrap_or_default(),
        &arn::role_name_of(role_arn),
    );
    match role {
        RoleResult::Found(detail) => documents
            .push(json!({"RoleDetailList": [detail], "Policies": [], "pulldoctorPartial": true})),
        RoleResult::Absent => gaps.covered(&role_scope),
        RoleResult::Failed(message) => gaps.error(&role_scope, &message),
    }
    let registries: BTreeSet<(String, String)> = repositories
        .iter()
        .map(|k| (k.registry.clone(), k.region.clone()))
        .collect();
    for (registry, region) in &registries {
        match self::repositories(&aws, registry, region).await {
            Ok(names) => {
                let repos: Vec<Value> = names
                    .iter()
                    .map(|n| json!({"repositoryArn": format!("arn:{}:ecr:{region}:{registry}:repository/{n}", arn::partition_for_region(region)), "registryId": registry, "repositoryName": n}))
                    .collect();
                documents
                    .push(json!({"repositories": repos, "registryId": registry, "region": region}));
            }
            Err(e) => gaps.error(&scope::repositories(registry, region), &e.message),
        }
    }
    for key in repositories {
        let (images, policy) = tokio::join!(
            describe_images(&aws, &key.registry, &key.region, &key.name),
            aws.call(
                "ecr:GetRepositoryPolicy",
                &key.name,
                aws.ecr(&key.region)
                    .get_repository_policy()
                    .registry_id(&key.registry)
                    .repository_name(&key.name)
                    .send()
            ),
        );
        if let Ok(details) = images {
            gaps.covered(&scope::images(&key.registry, &key.region, &key.name));
            documents.push(json!({"imageDetails": details, "registryId": key.registry, "repositoryName": key.name, "region": key.region}));
        }
        match policy {
            Ok(out) => documents.push(json!({"registryId": key.registry, "repositoryName": key.name, "policyText": out.policy_text(), "region": key.region})),
            Err(e) if e.is(&["RepositoryPolicyNotFoundException"]) => {
                documents.push(json!({"registryId": key.registry, "repositoryName": key.name, "policyText": null, "region": key.region}))
            }
            Err(e) => gaps.error(&scope::repository_policy(&key.registry, &key.region, &key.name), &e.message),
        }
    }
    documents.push(json!({"apiVersion": "v1", "kind": "List", "items": items}));
    documents.extend(gaps.documents);
    Ok(documents
        .into_iter()
        .enumerate()
        .map(|(i, value)| Document {
            origin: format!("setup[{i}]"),
            value,
        })
        .collect())
}
