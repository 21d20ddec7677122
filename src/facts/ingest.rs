//! Turns bundle documents (kubectl and AWS CLI JSON, recognised by shape) into [`Facts`].
//! Unknown or malformed documents are reported in `Facts::problems` and skipped.

use super::aws::*;
use super::kube::{PodEvent, Workload, aws_auth_roles, dns_label, dns_subdomain};
use super::pod::Pod;
use super::settle::{Pending, settle, trust_of};
use super::{Facts, RepoKey, Role};
use crate::iam::arn::{self, Arn};
use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Node, PodTemplateSpec, ServiceAccount};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One document with the name of where it came from (a file, or a file and an index).
#[derive(Debug, Clone)]
pub struct Document {
    pub origin: String,
    pub value: Value,
}

pub fn ingest(documents: &[Document]) -> Facts {
    let mut ingester = Ingester::default();
    for d in documents {
        ingester.add(&d.origin, Cow::Borrowed(&d.value));
    }
    ingester.finish()
}

/// The key a list whose items were read on their own as they streamed by carries: how many
/// (never in real input; see `source::stream`).
pub const STREAMED_ITEMS: &str = "pulldoctorStreamedItems";

/// [`ingest`], consuming the documents: each list item is dropped as soon as it is read, so a
/// large bundle is never held twice (as JSON values and as facts).
pub fn ingest_owned(documents: Vec<Document>) -> Facts {
    let mut ingester = Ingester::default();
    for d in documents {
        ingester.add(&d.origin, Cow::Owned(d.value));
    }
    ingester.finish()
}

/// Facts built one document at a time, as a bundle is read: nothing waits for the whole input.
#[derive(Default)]
pub struct Ingester {
    facts: Facts,
    pending: Pending,
}

impl Ingester {
    pub fn add(&mut self, origin: &str, value: Cow<'_, Value>) {
        let facts = &mut self.facts;
        let before = facts.problems.len();
        if let Err(problem) = ingest_one(facts, &mut self.pending, value) {
            facts.problems.push(problem);
        }
        for problem in &mut facts.problems[before..] {
            *problem = format!("{origin}: {problem}");
        }
    }

    pub fn finish(self) -> Facts {
        let Ingester { mut facts, pending } = self;
        settle(&mut facts, pending);
        facts
    }
}

fn parse<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T, String> {
    T::deserialize(value).map_err(|e| format!("{what} does not parse: {e}"))
}

/// A Kubernetes object whose fields may be bad one by one: a field that does not parse is
/// dropped (and said in `problems`), so one bad field keeps the object with that fact unknown.
fn parse_lenient<T: DeserializeOwned>(
    value: &Value,
    what: &str,
    problems: &mut Vec<String>,
) -> Result<T, String> {
    const MAX_DROPPED: usize = 8;
    // The usual case parses as it is; only a bad object is copied to drop its bad fields.
    if let Ok(object) = T::deserialize(value) {
        return Ok(object);
    }
    let mut value = value.clone();
    for _ in 0..=MAX_DROPPED {
        let error = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(object) => return Ok(object),
            Err(e) => e,
        };
        let path = error.path().to_string();
        if !drop_at(&mut value, error.path()) {
            return Err(format!("{what} does not parse: {}", error.inner()));
        }
        problems.push(format!(
            "{what}: {path} does not parse ({}); read without it",
            error.inner()
        ));
    }
    Err(format!("{what} does not parse: too many bad fields"))
}

/// Removes the value at `path`; false when the path is the whole object or not there.
fn drop_at(value: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut here = value;
    for segment in parents {
        here = match (segment, here) {
            (Segment::Map { key }, Value::Object(map)) => match map.get_mut(key.as_str()) {
                Some(next) => next,
                None => return false,
            },
            (Segment::Seq { index }, Value::Array(list)) => match list.get_mut(*index) {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, here) {
        (Segment::Map { key }, Value::Object(map)) => map.remove(key.as_str()).is_some(),
        (Segment::Seq { index }, Value::Array(list)) if *index < list.len() => {
            list.remove(*index);
            true
        }
        _ => false,
    }
}

fn ingest_one(
    facts: &mut Facts,
    pending: &mut Pending,
    value: Cow<'_, Value>,
) -> Result<(), String> {
    let Some(object) = value.as_object() else {
        return Err("not a JSON object; skipped".to_string());
    };
    if object.contains_key("apiVersion") && object.contains_key("kind") {
        let mut problems = Vec::new();
        let kind = value["kind"].as_str().unwrap_or_default();
        let result = if kind == "List" || kind.ends_with("List") {
            ingest_list(facts, value, &mut problems)
        } else {
            ingest_kube(facts, &value, &mut problems)
        };
        facts.problems.append(&mut problems);
        return result;
    }
    let value = value.as_ref();
    let object = value.as_object().ok_or("not a JSON object; skipped")?;
    if let Some(lookup) = object.get("pulldoctorLookup") {
        return ingest_lookup(facts, lookup);
    }
    if object.contains_key("Events") {
        return ingest_trail(facts, value);
    }
    let known = ingest_account(facts, value, object)?
        || ingest_eks(facts, object)?
        || ingest_iam(facts, pending, value, object)?
        || ingest_ecr(facts, pending, value, object)?
        || ingest_ec2(facts, value, object)?;
    match known {
        true => Ok(()),
        false => Err("not a document pulldoctor knows; skipped".to_string()),
    }
}

/// How a live lookup ended: answered completely (what is missing is absent), or failed.
fn ingest_lookup(facts: &mut Facts, lookup: &Value) -> Result<(), String> {
    let scope = lookup["scope"]
        .as_str()
        .ok_or("pulldoctorLookup without a scope")?;
    // The collect script records the AWS CLI's error line with the call it was answering.
    let from_cli = lookup["cliError"].as_str().map(|text| {
        let (code, detail) = super::aws::cli_error(text);
        let call = |key: &str| lookup[key].as_str().unwrap_or("?");
        super::aws::refusal(code, call("action"), call("target"), detail)
    });
    match (
        lookup["covered"].as_bool(),
        lookup["error"].as_str().or(from_cli.as_deref()),
    ) {
        (_, Some(error)) => {
            facts.errors.insert(scope.to_string(), error.to_string());
        }
        (Some(true), None) => {
            facts.covered.insert(scope.to_string());
            if let Some(session) = scope.strip_prefix(super::scope::TRAIL_PREFIX) {
                let reach = match lookup["reachedBack"].as_str() {
                    Some(time) => Some(super::trail::parse_time(time).ok_or_else(|| {
                        format!("pulldoctorLookup {scope}: reachedBack {time} does not parse")
                    })?),
                    None => None,
                };
                facts.trail.reach.insert(session.to_string(), reach);
            }
        }
        _ => {
            return Err(format!(
                "pulldoctorLookup {scope} says neither covered nor error"
            ));
        }
    }
    Ok(())
}

/// CloudTrail events (`lookup-events`): each record that reads is kept, one that does not is
/// said in `problems`.
fn ingest_trail(facts: &mut Facts, value: &Value) -> Result<(), String> {
    let lookup: super::trail::LookupEvents = parse(value, "CloudTrail events")?;
    let mut events = Vec::new();
    for event in lookup.events {
        match event.parse() {
            Ok(event) => events.push(event),
            Err(why) => facts.problems.push(format!("{why}; skipped")),
        }
    }
    facts.trail.add(events);
    Ok(())
}

/// Who the credentials are and their organization. Ok(false): not one of these.
fn ingest_account(
    facts: &mut Facts,
    value: &Value,
    object: &Map<String, Value>,
) -> Result<bool, String> {
    let has = |key: &str| object.contains_key(key);
    if has("Account") && has("Arn") && has("UserId") {
        facts.caller = Some(parse(value, "caller identity")?);
    } else if has("Organization") {
        let d: DescribeOrganization = parse(value, "organization")?;
        facts.organization = Some(d.organization.map(|o| o.id));
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// The cluster and how its nodes and pods get their roles. Ok(false): not one of these.
fn ingest_eks(facts: &mut Facts, object: &Map<String, Value>) -> Result<bool, String> {
    if let Some(cluster) = object.get("cluster") {
        let cluster: Cluster = parse(cluster, "cluster")?;
        eks_name(&cluster.name, "cluster")?;
        if let Some(issuer) = cluster.issuer()
            && !issuer
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:/_-".contains(c))
        {
            return Err("the cluster's OIDC issuer is not a URL EKS issues; skipped".into());
        }
        facts.cluster = Some(cluster);
    } else if let Some(ng) = object.get("nodegroup") {
        let ng: Nodegroup = parse(ng, "node group")?;
        eks_name(&ng.nodegroup_name, "node group")?;
        facts.nodegroups.insert(ng.nodegroup_name.clone(), ng);
    } else if let Some(profile) = object.get("fargateProfile") {
        let p: FargateProfile = parse(profile, "Fargate profile")?;
        eks_name(&p.fargate_profile_name, "Fargate profile")?;
        facts
            .fargate_profiles
            .insert(p.fargate_profile_name.clone(), p);
    } else if let Some(a) = object.get("association") {
        let a: PodIdentityAssociation = parse(a, "Pod Identity association")?;
        upsert_association(facts, a);
    } else if let Some(list) = object.get("associations") {
        let list: Vec<PodIdentityAssociation> = parse(list, "Pod Identity associations")?;
        facts.pod_identity.get_or_insert_with(Vec::new);
        for a in list {
            upsert_association(facts, a);
        }
    } else if let Some(entry) = object.get("accessEntry") {
        let e: AccessEntry = parse(entry, "access entry")?;
        let entries = facts.access_entries.get_or_insert_with(Vec::new);
        entries.retain(|x| x.principal_arn != e.principal_arn);
        entries.push(e);
    } else if let Some(list) = object.get("accessEntries") {
        let arns: Vec<String> = parse(list, "access entries")?;
        let entries = facts.access_entries.get_or_insert_with(Vec::new);
        for principal_arn in arns {
            if !entries.iter().any(|x| x.principal_arn == principal_arn) {
                entries.push(AccessEntry {
                    principal_arn,
                    entry_type: None,
                    kubernetes_groups: Vec::new(),
                });
            }
        }
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// Roles, policies and OIDC providers. Ok(false): not one of these.
fn ingest_iam(
    facts: &mut Facts,
    pending: &mut Pending,
    value: &Value,
    object: &Map<String, Value>,
) -> Result<bool, String> {
    let has = |key: &str| object.contains_key(key);
    if has("RoleDetailList") {
        let details: AuthorizationDetails = parse(value, "IAM authorization details")?;
        let account = details.roles.iter().find_map(|r| arn::account_of(&r.arn));
        // A live source reads roles one by one: that lists no account completely.
        let complete = !details.partial;
        pending
            .authorization_details
            .push((account.unwrap_or_default(), complete, details));
    } else if let Some(role) = object.get("Role") {
        let r: GetRole = parse(role, "role")?;
        add_role_only(facts, r);
    } else if let Some(list) = object.get("OpenIDConnectProviderList") {
        pending
            .provider_lists
            .push(parse(list, "OIDC provider list")?);
    } else if has("Url") && has("ClientIDList") {
        pending
            .provider_details
            .push(parse(value, "OIDC provider")?);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// Repositories, images, manifests, repository policies, cache rules. Ok(false): not one of these.
fn ingest_ecr(
    facts: &mut Facts,
    pending: &mut Pending,
    value: &Value,
    object: &Map<String, Value>,
) -> Result<bool, String> {
    let has = |key: &str| object.contains_key(key);
    if has("repositories") {
        let listing: DescribeRepositories = parse(value, "repositories")?;
        if listing.repositories.is_empty() {
            pending.empty_listings.push(
                listing
                    .registry_id
                    .map(|r| format!("{r}|{}", listing.region.unwrap_or_default())),
            );
        }
        for repo in listing.repositories {
            let Some(parsed) = Arn::parse(&repo.repository_arn) else {
                return Err(format!(
                    "repository ARN {} does not parse",
                    repo.repository_arn
                ));
            };
            facts
                .repository_listings
                .insert((repo.registry_id.clone(), parsed.region.clone()));
            facts.repositories.insert(RepoKey {
                registry: repo.registry_id,
                region: parsed.region,
                name: repo.repository_name,
            });
        }
    } else if has("imageDetails") {
        let answer: DescribeImages = parse(value, "image details")?;
        if answer.image_details.is_empty() {
            // An empty answer still covers its repository, but names none: key it by the ask.
            if let (Some(name), Some(registry)) = (answer.repository_name, answer.registry_id) {
                pending.images.push((
                    answer.region.clone(),
                    ImageDetail {
                        registry_id: registry,
                        repository_name: name,
                        image_digest: String::new(),
                        image_tags: Vec::new(),
                        image_manifest_media_type: None,
                        image_status: None,
                    },
                ));
            }
        }
        let region = answer.region;
        pending.images.extend(
            answer
                .image_details
                .into_iter()
                .map(|i| (region.clone(), i)),
        );
    } else if has("images") {
        let answer: BatchGetImage = parse(value, "image manifests")?;
        let region = answer.region;
        pending
            .manifests
            .extend(answer.images.into_iter().map(|m| (region.clone(), m)));
        // A failure names only the image: without the repository beside it, it says nothing.
        if let (Some(registry), Some(repository)) = (answer.registry_id, answer.repository_name) {
            pending.failures.extend(
                answer
                    .failures
                    .into_iter()
                    .map(|f| (region.clone(), registry.clone(), repository.clone(), f)),
            );
        }
    } else if has("isValid") && has("ecrRepositoryPrefix") {
        let answer: ValidatePullThroughCacheRule = parse(value, "cache rule validation")?;
        facts.cache_rule_validations.insert(
            (
                answer.registry_id.clone(),
                answer.ecr_repository_prefix.clone(),
            ),
            answer,
        );
    } else if has("registryId") && has("policyText") && !has("repositoryName") {
        let answer: GetRegistryPolicy = parse(value, "registry policy")?;
        pending.registry_policies.push(answer);
    } else if has("repositoryName") && has("policyText") {
        let answer: GetRepositoryPolicy = parse(value, "repository policy")?;
        pending.policies.push((answer.region, answer.policy));
    } else if has("pullThroughCacheRules") {
        let answer: DescribePullThroughCacheRules = parse(value, "pull-through cache rules")?;
        pending
            .pull_through
            .push((answer.registry_id, answer.pull_through_cache_rules));
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// EC2's describes of the pods' network path.
fn ingest_ec2(
    facts: &mut Facts,
    value: &Value,
    object: &Map<String, Value>,
) -> Result<bool, String> {
    let has = |key: &str| object.contains_key(key);
    if has("Reservations") {
        let answer: DescribeInstances = parse(value, "EC2 instances")?;
        for instance in answer.reservations.into_iter().flat_map(|r| r.instances) {
            facts
                .ec2
                .instances
                .insert(instance.instance_id.clone(), instance);
        }
    } else if has("NetworkInterfaces") {
        let answer: DescribeNetworkInterfaces = parse(value, "network interfaces")?;
        for interface in answer.network_interfaces {
            if let Some(ip) = interface.private_ip_address.clone() {
                facts.ec2.interfaces.insert(ip, interface);
            }
        }
    } else if has("Subnets") {
        let answer: DescribeSubnets = parse(value, "subnets")?;
        for subnet in answer.subnets {
            facts.ec2.subnets.insert(subnet.subnet_id.clone(), subnet);
        }
    } else if has("RouteTables") {
        let answer: DescribeRouteTables = parse(value, "route tables")?;
        for table in answer.route_tables {
            facts
                .ec2
                .route_tables
                .entry(table.vpc_id.clone())
                .or_default()
                .push(table);
        }
    } else if has("VpcEndpoints") {
        let answer: DescribeVpcEndpoints = parse(value, "VPC endpoints")?;
        for endpoint in answer.vpc_endpoints {
            facts
                .ec2
                .endpoints
                .entry(endpoint.vpc_id.clone())
                .or_default()
                .push(endpoint);
        }
    } else if has("SecurityGroups") {
        let answer: DescribeSecurityGroups = parse(value, "security groups")?;
        for group in answer.security_groups {
            facts
                .ec2
                .security_groups
                .insert(group.group_id.clone(), group);
        }
    } else if has("NetworkAcls") {
        let answer: DescribeNetworkAcls = parse(value, "network ACLs")?;
        for acl in answer.network_acls {
            facts
                .ec2
                .network_acls
                .entry(acl.vpc_id.clone())
                .or_default()
                .push(acl);
        }
    } else if has("NatGateways") {
        let answer: DescribeNatGateways = parse(value, "NAT gateways")?;
        for gateway in answer.nat_gateways {
            let vpc = gateway.vpc_id.clone().unwrap_or_default();
            facts.ec2.nat_gateways.entry(vpc).or_default().push(gateway);
        }
    } else if has("VpcId") && (has("EnableDnsSupport") || has("EnableDnsHostnames")) {
        let answer: DescribeVpcAttribute = parse(value, "VPC attribute")?;
        if let Some(v) = answer.enable_dns_support.and_then(|a| a.value) {
            facts.ec2.dns_support.insert(answer.vpc_id.clone(), v);
        }
        if let Some(v) = answer.enable_dns_hostnames.and_then(|a| a.value) {
            facts.ec2.dns_hostnames.insert(answer.vpc_id, v);
        }
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// EKS names (clusters, node groups, Fargate profiles): a letter or digit, then letters, digits,
/// `-` and `_`, at most 100. Others would reach printed commands unchecked.
fn eks_name(name: &str, what: &str) -> Result<(), String> {
    let ok = name.len() <= 100
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("the {what} name is not one EKS allows; skipped"))
    }
}

fn upsert_association(facts: &mut Facts, a: PodIdentityAssociation) {
    let list = facts.pod_identity.get_or_insert_with(Vec::new);
    if let Some(existing) = list
        .iter_mut()
        .find(|x| x.namespace == a.namespace && x.service_account == a.service_account)
    {
        // A described association (with its role) beats a list summary without one.
        if !a.role_arn.is_empty() || existing.role_arn.is_empty() {
            *existing = a;
        }
    } else {
        list.push(a);
    }
}

fn ingest_kube(facts: &mut Facts, value: &Value, problems: &mut Vec<String>) -> Result<(), String> {
    let kind = value["kind"].as_str().unwrap_or_default();
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    if kind == "List" || kind.ends_with("List") {
        return ingest_list(facts, Cow::Borrowed(value), problems);
    }
    let name = value["metadata"]["name"].as_str().unwrap_or("?");
    let namespace = value["metadata"]["namespace"].as_str().unwrap_or("");
    let what = format!(
        "{kind} {namespace}{}{name}",
        if namespace.is_empty() { "" } else { "/" }
    );
    // Kubernetes allows only these names; others would reach printed commands unchecked.
    let owners_ok = value["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|o| o["name"].as_str().is_none_or(dns_subdomain));
    let named_ok = value["metadata"]["name"].as_str().is_none_or(dns_subdomain)
        && (namespace.is_empty() || dns_label(namespace))
        && owners_ok;
    if !named_ok {
        return Err(format!(
            "{what}: a name or namespace Kubernetes does not allow; skipped"
        ));
    }
    match kind {
        "Pod" => ingest_pod(facts, value, &what, problems)?,
        "ServiceAccount" => {
            let sa: ServiceAccount = parse_lenient(value, &what, problems)?;
            let ns = sa.metadata.namespace.clone().unwrap_or_default();
            facts.service_account_namespaces.insert(ns.clone());
            facts
                .service_accounts
                .insert((ns, sa.metadata.name.clone().unwrap_or_default()), sa);
        }
        // Only the metadata is kept: whatever data a bundle's Secret carries is never read.
        "Secret" => {
            let meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta =
                parse(&value["metadata"], &what)?;
            facts.secret_namespaces.insert(namespace.to_string());
            facts
                .secrets
                .insert((namespace.to_string(), name.to_string()), meta);
        }
        "Node" => {
            let node: Node = parse_lenient(value, &what, problems)?;
            facts
                .nodes
                .insert(node.metadata.name.clone().unwrap_or_default(), node);
        }
        "Event" if api_version.starts_with("events.k8s.io") => {
            let e: k8s_openapi::api::events::v1::Event = parse(value, &what)?;
            facts.events.extend(PodEvent::from_events_v1(&e));
        }
        "Event" => {
            let e: k8s_openapi::api::core::v1::Event = parse(value, &what)?;
            facts.events.extend(PodEvent::from_core(&e));
        }
        "DaemonSet" if name == "eks-pod-identity-agent" && namespace == "kube-system" => {
            let d: DaemonSet = parse(value, &what)?;
            facts.pod_identity_agent = Some(super::kube::DaemonSetReadiness {
                ready: d.status.as_ref().map_or(0, |s| s.number_ready),
                desired: d.status.as_ref().map_or(0, |s| s.desired_number_scheduled),
            });
            facts.workloads.extend(ingest_workload(kind, value, &what)?)
        }
        "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => {
            facts.workloads.extend(ingest_workload(kind, value, &what)?)
        }
        "ConfigMap" if name == "aws-auth" && namespace == "kube-system" => {
            let cm: ConfigMap = parse(value, &what)?;
            facts.aws_auth_roles = Some(aws_auth_roles(&cm)?);
        }
        // Karpenter's EC2NodeClass and Auto Mode's NodeClass name the node role in spec.role.
        class @ ("EC2NodeClass" | "NodeClass") => {
            let role = value["spec"]["role"]
                .as_str()
                .ok_or(format!("{what} has no spec.role"))?;
            facts
                .node_classes
                .insert(super::node_class(class, name), role.to_string());
        }
        // A node's /etc/eks/image-credential-provider/config.json, added to a bundle by hand.
        "CredentialProviderConfig" => {
            let ecr = value["providers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"].as_str() == Some("ecr-credential-provider"))
                .ok_or(format!("{kind} names no ecr-credential-provider"))?;
            facts.token_pull_config =
                Some(ecr.get("tokenAttributes").is_some_and(|t| !t.is_null()));
        }
        "Namespace" | "Deployment" | "ConfigMap" => {}
        other => return Err(format!("{other} objects are not read; skipped")),
    }
    Ok(())
}

/// A `List` (or a typed list such as `PodList`): each item on its own, so one bad item costs
/// only itself.
fn ingest_list(
    facts: &mut Facts,
    value: Cow<'_, Value>,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    let kind = value["kind"].as_str().unwrap_or_default().to_string();
    let api_version = value["apiVersion"].as_str().unwrap_or_default().to_string();
    let streamed = value.get(STREAMED_ITEMS).is_some();
    // Items borrowed, or taken one by one out of a list this ingest owns (each dropped once read).
    let items: Box<dyn Iterator<Item = Cow<'_, Value>>> = match value {
        Cow::Borrowed(v) => Box::new(
            v["items"]
                .as_array()
                .ok_or("a List without items")?
                .iter()
                .map(Cow::Borrowed),
        ),
        Cow::Owned(mut v) => match v.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => Box::new(items.into_iter().map(Cow::Owned)),
            _ => return Err("a List without items".to_string()),
        },
    };
    let mut items = items.peekable();
    // An empty List is what `kubectl get pods -A -o json` prints for a cluster with no pods; a
    // list whose items were read on their own as they streamed by is not empty.
    if kind == "PodList" || (items.peek().is_none() && !streamed) {
        facts.pods_listed = true;
    }
    let mut failed = Vec::new();
    for (i, mut item) in items.enumerate() {
        // Items of a typed list (PodList) may omit their own kind.
        if item.get("kind").is_none() && kind != "List" {
            let item = item.to_mut();
            item["kind"] = Value::String(kind.trim_end_matches("List").to_string());
            item["apiVersion"] = Value::String(api_version.clone());
        }
        if let Err(p) = ingest_kube(facts, &item, problems) {
            failed.push(format!("item {i}: {p}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// A pod, unless a name in it is one Kubernetes does not allow.
fn ingest_pod(
    facts: &mut Facts,
    value: &Value,
    what: &str,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    // A pod that cannot be read whole may be the one failing: it becomes an unknown finding.
    let unreadable = |facts: &mut Facts, why: String| {
        facts.pods_listed = true;
        facts.unreadable_pods.push(super::UnreadablePod {
            namespace: value["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string(),
            name: value["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            why,
        });
    };
    if value["metadata"]["name"].as_str().is_none() {
        return Err(format!("{what}: no metadata.name; skipped"));
    }
    let mut dropped = Vec::new();
    let pod: Pod = match parse_lenient(value, what, &mut dropped) {
        Ok(pod) => pod,
        Err(why) => {
            unreadable(facts, why.clone());
            return Err(why);
        }
    };
    if let Some(first) = dropped
        .iter()
        .find(|p| p.contains(": spec") || p.contains(": status"))
    {
        unreadable(facts, first.clone());
    }
    problems.extend(dropped);
    let spec = pod.spec.as_ref();
    let names_ok = spec.is_none_or(|s| {
        s.service_account_name.as_deref().is_none_or(dns_subdomain)
            && s.containers.iter().all(|c| dns_label(&c.name))
            && s.init_containers
                .iter()
                .flatten()
                .all(|c| dns_label(&c.name))
    });
    if !names_ok {
        let why = format!(
            "{what}: a container or ServiceAccount name Kubernetes does not allow; skipped"
        );
        unreadable(facts, why.clone());
        return Err(why);
    }
    facts.pods_listed = true;
    let containers = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    if containers == 0 {
        problems.push(format!(
            "{what}: no containers in its spec; nothing of it can be diagnosed"
        ));
    }
    facts.pods.push(pod);
    Ok(())
}

/// A controller, for the pods it cannot create (`None`: a Job without a spec).
fn ingest_workload(kind: &str, value: &Value, what: &str) -> Result<Option<Workload>, String> {
    Ok(match kind {
        "ReplicaSet" => {
            let rs: ReplicaSet = parse(value, what)?;
            let failure = rs.status.as_ref().and_then(|s| {
                s.conditions
                    .iter()
                    .flatten()
                    .find(|c| {
                        c.type_.as_deref() == Some("ReplicaFailure")
                            && c.status.as_deref() == Some("True")
                    })
                    .map(|c| c.message.clone().unwrap_or_default())
            });
            Some(workload(
                "ReplicaSet",
                &rs.metadata,
                rs.spec.template.as_ref(),
                failure,
            ))
        }
        "StatefulSet" => {
            let s: StatefulSet = parse(value, what)?;
            Some(workload(
                "StatefulSet",
                &s.metadata,
                Some(&s.spec.template),
                None,
            ))
        }
        "DaemonSet" => {
            let d: DaemonSet = parse(value, what)?;
            Some(workload(
                "DaemonSet",
                &d.metadata,
                Some(&d.spec.template),
                None,
            ))
        }
        "Job" => {
            let j: Job = parse(value, what)?;
            j.spec
                .as_ref()
                .map(|spec| workload("Job", &j.metadata, Some(&spec.template), None))
        }
        _ => None,
    })
}

fn workload(
    kind: &str,
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    template: Option<&PodTemplateSpec>,
    failure: Option<String>,
) -> Workload {
    let spec = template.and_then(|t| t.spec.as_ref());
    Workload {
        kind: kind.to_string(),
        namespace: metadata.namespace.clone().unwrap_or_default(),
        name: metadata.name.clone().unwrap_or_default(),
        service_account: spec
            .and_then(|s| s.service_account_name.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".to_string()),
        containers: spec
            .map(|s| {
                s.containers
                    .iter()
                    .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
        failure,
    }
}

fn add_role_only(facts: &mut Facts, r: GetRole) {
    let account = arn::account_of(&r.arn).unwrap_or_default();
    let key = (account, r.role_name.clone());
    let role = facts.roles.entry(key).or_insert_with(|| Role {
        arn: r.arn.clone(),
        name: r.role_name.clone(),
        trust: Err(String::new()),
        permissions: None,
        boundary_arn: None,
        tags: None,
    });
    role.trust = trust_of(&r.assume_role_policy_document);
    role.boundary_arn = r.permissions_boundary.map(|b| b.permissions_boundary_arn);
    if r.tags.is_some() {
        role.tags = tag_map(r.tags.as_ref());
    }
}
