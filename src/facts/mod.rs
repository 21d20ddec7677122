//! The typed facts the chain reads. Each lookup answers known, known-absent, or unknown with
//! what would settle it: the difference between absent and unknown is what keeps a diagnosis
//! honest.

pub mod aws;
pub mod ingest;
pub mod kube;
pub mod network;
pub mod pod;
mod refresh;
mod settle;
pub mod trail;

use crate::iam::arn::{self, Arn};
use crate::iam::policy::PolicyDocument;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
pub use pod::Pod;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the input says about one thing.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact<T> {
    Known(T),
    /// The input covers where it would be, and it is not there.
    Absent,
    /// The input does not say; the string names what would settle it.
    Unknown(String),
}

/// Where the facts came from, for the report's `source`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SourceInfo {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// When a snapshot was taken; ages are shown relative to it.
    #[serde(rename = "capturedAt", skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<String>,
}

/// An IAM role with what is known of its policies.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub arn: String,
    pub name: String,
    /// The trust policy, or why it could not be read.
    pub trust: Result<PolicyDocument, String>,
    /// `None` when only the role itself was read (`get-role`), not its permission policies.
    pub permissions: Option<RolePermissions>,
    pub boundary_arn: Option<String>,
    /// The role's tags (`aws:PrincipalTag/…`), `None` when they were not read.
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolePermissions {
    pub inline: Vec<(String, Result<PolicyDocument, String>)>,
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepoKey {
    pub registry: String,
    pub region: String,
    pub name: String,
}

impl RepoKey {
    /// The repository an ECR image reference names.
    pub fn of(image: &crate::ecr::reference::EcrImage) -> RepoKey {
        RepoKey {
            registry: image.account.clone(),
            region: image.region.clone(),
            name: image.repository.clone(),
        }
    }
}

/// A pod of the input that could not be read whole, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadablePod {
    pub namespace: String,
    pub name: String,
    pub why: String,
}

/// Everything the input said, indexed for the chain's lookups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub source: SourceInfo,
    /// What was reported and skipped while reading the input.
    pub problems: Vec<String>,

    pub pods: Vec<Pod>,
    /// Whether the input held a pod list at all: without one, "nothing is failing" is not known.
    pub pods_listed: bool,
    /// Pods the input holds whose spec or status could not be read whole: they may be failing.
    pub unreadable_pods: Vec<UnreadablePod>,
    pub service_accounts: BTreeMap<(String, String), ServiceAccount>,
    /// Namespaces whose ServiceAccounts were listed (every namespace has `default`).
    pub service_account_namespaces: BTreeSet<String>,
    pub nodes: BTreeMap<String, Node>,
    pub events: Vec<kube::PodEvent>,
    pub workloads: Vec<kube::Workload>,
    /// `aws-auth` mapRoles entries, `None` when the ConfigMap was not read.
    pub aws_auth_roles: Option<Vec<kube::MappedRole>>,
    /// Node class (see [`node_class`]: Karpenter's EC2NodeClass, Auto Mode's NodeClass) → the
    /// IAM role name its spec names.
    pub node_classes: BTreeMap<String, String>,

    pub caller: Option<aws::CallerIdentity>,
    /// The organization of the account: `Some(None)` in none, `None` when it was not read.
    pub organization: Option<Option<String>>,
    /// Whether the nodes' `ecr-credential-provider` exchanges ServiceAccount tokens
    /// (`tokenAttributes` in a `CredentialProviderConfig` of the input); `None` when the input
    /// holds no such config — no API serves it.
    pub token_pull_config: Option<bool>,
    pub cluster: Option<aws::Cluster>,
    pub nodegroups: BTreeMap<String, aws::Nodegroup>,
    pub fargate_profiles: BTreeMap<String, aws::FargateProfile>,
    /// Pod Identity associations; `None` when none were read.
    pub pod_identity: Option<Vec<aws::PodIdentityAssociation>>,
    /// The EKS Pod Identity Agent's DaemonSet, when it was seen: pods ready of those desired.
    pub pod_identity_agent: Option<kube::DaemonSetReadiness>,
    /// Access entries; `None` when none were read.
    pub access_entries: Option<Vec<aws::AccessEntry>>,

    /// Accounts whose roles were all listed (`get-account-authorization-details`).
    pub iam_accounts: BTreeSet<String>,
    /// Roles by (account, role name).
    pub roles: BTreeMap<(String, String), Role>,
    /// Managed policy ARN → default version document.
    pub policies: BTreeMap<String, Result<PolicyDocument, String>>,
    /// Accounts whose OIDC providers were listed.
    pub oidc_provider_accounts: BTreeSet<String>,
    /// Provider ARN → its audiences, when `get-open-id-connect-provider` was read.
    pub oidc_providers: BTreeMap<String, Option<Vec<String>>>,

    /// (registry, region) pairs whose repositories were listed.
    pub repository_listings: BTreeSet<(String, String)>,
    pub repositories: BTreeSet<RepoKey>,
    /// Images per repository, when `describe-images` was read for it.
    pub images: BTreeMap<RepoKey, Vec<aws::ImageDetail>>,
    /// Manifests by repository and tag or digest.
    pub manifests: BTreeMap<(RepoKey, String), String>,
    /// Images `batch-get-image` answered it does not hold, by repository and tag or digest: the
    /// failure code (`ImageNotFound`).
    pub image_failures: BTreeMap<(RepoKey, String), String>,
    /// Repository policies: `None` inside means the repository has no policy.
    pub repository_policies: BTreeMap<RepoKey, Option<Result<PolicyDocument, String>>>,
    /// Pull-through cache rules per registry account, when read.
    pub pull_through_rules: BTreeMap<String, Vec<aws::PullThroughCacheRule>>,
    /// The nodes' network path, from EC2.
    pub ec2: network::Ec2,
    /// Secrets by (namespace, name), metadata only: pulldoctor never holds a secret's data.
    pub secrets: BTreeMap<(String, String), ObjectMeta>,
    /// Namespaces whose Secrets were listed (an unlisted name there is absent).
    pub secret_namespaces: BTreeSet<String>,
    /// Validations of pull-through cache rules, by (registry, prefix).
    pub cache_rule_validations: BTreeMap<(String, String), aws::ValidatePullThroughCacheRule>,
    /// Registry permissions policies by (registry, Region); `None`: the registry has none. They
    /// grant what a pull-through cache does for a principal (create, import) and replication.
    pub registry_policies: BTreeMap<(String, String), Option<Result<PolicyDocument, String>>>,

    /// CloudTrail's record of the pull identities' calls, where it was looked up.
    pub trail: trail::Trail,

    /// Scopes (see [`scope`]) that a live lookup answered completely: what is not there is absent.
    pub covered: BTreeSet<String>,
    /// Scopes whose lookup failed, with the call and permission that would settle them.
    pub errors: BTreeMap<String, String>,
}

/// Whether CloudTrail was asked for a session's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailLookup<'a> {
    /// Not asked (not a session pulldoctor looks up, or an input without it): no evidence
    /// either way.
    NotLooked,
    /// Asked and refused or failed: why.
    Failed(&'a str),
    /// Answered, back to `reach` (`None`: all 90 days CloudTrail keeps).
    Read {
        reach: Option<k8s_openapi::jiff::Timestamp>,
    },
}

/// The key of a node class in [`Facts::node_classes`]: its kind (`EC2NodeClass` for Karpenter,
/// `NodeClass` for EKS Auto Mode) and name, since both may be called `default`.
pub fn node_class(kind: &str, name: &str) -> String {
    format!("{kind}/{name}")
}

/// Why a role is not read: it is in another account than the credentials'.
pub fn other_account_role(role_arn: &str, account: &str, caller_account: &str) -> String {
    format!(
        "role {role_arn} is in account {account}; these credentials read the IAM of account {caller_account} (use --profile for {account})"
    )
}

/// Names of lookup scopes, shared by the live sources (which record them) and the lookups.
pub mod scope {
    pub fn service_accounts(namespace: &str) -> String {
        format!("serviceaccounts/{namespace}")
    }
    pub fn role(account: &str, name: &str) -> String {
        format!("role/{account}/{name}")
    }
    pub fn policy(arn: &str) -> String {
        format!("policy/{arn}")
    }
    pub fn oidc_providers(account: &str) -> String {
        format!("oidc-providers/{account}")
    }
    pub fn repositories(registry: &str, region: &str) -> String {
        format!("repositories/{registry}/{region}")
    }
    pub fn images(registry: &str, region: &str, repository: &str) -> String {
        format!("images/{registry}/{region}/{repository}")
    }
    pub fn manifest(registry: &str, region: &str, repository: &str, id: &str) -> String {
        format!("manifest/{registry}/{region}/{repository}/{id}")
    }
    pub fn repository_policy(registry: &str, region: &str, repository: &str) -> String {
        format!("repository-policy/{registry}/{region}/{repository}")
    }
    pub fn ec2_instance(id: &str) -> String {
        format!("ec2-instance/{id}")
    }
    /// A Fargate pod's interface, by the pod's IP.
    pub fn ec2_interface(ip: &str) -> String {
        format!("ec2-interface/{ip}")
    }
    pub fn ec2_subnet(id: &str) -> String {
        format!("ec2-subnet/{id}")
    }
    /// The route tables, endpoints and NAT gateways of a VPC.
    pub fn ec2_vpc(vpc: &str) -> String {
        format!("ec2-vpc/{vpc}")
    }
    pub fn secrets(namespace: &str) -> String {
        format!("secrets/{namespace}")
    }
    pub fn registry_policy(registry: &str, region: &str) -> String {
        format!("registry-policy/{registry}/{region}")
    }
    pub fn pull_through(registry: &str) -> String {
        format!("pull-through-cache/{registry}")
    }
    pub fn node(name: &str) -> String {
        format!("node/{name}")
    }
    /// CloudTrail's events of one lookup: a session (a node's instance id), or a Region's calls
    /// of one name (`trail::event_key`).
    pub fn trail(key: &str) -> String {
        format!("{TRAIL_PREFIX}{key}")
    }
    pub const TRAIL_PREFIX: &str = "cloudtrail/";
    pub fn nodegroup(name: &str) -> String {
        format!("nodegroup/{name}")
    }
    pub fn fargate_profile(name: &str) -> String {
        format!("fargate-profile/{name}")
    }
    /// `kind` is `EC2NodeClass` or `NodeClass`.
    pub fn node_class(kind: &str, name: &str) -> String {
        format!("nodeclass/{}", super::node_class(kind, name))
    }
    pub const CLUSTER: &str = "cluster";
    pub const EVENTS: &str = "events";
    pub const POD_IDENTITY: &str = "pod-identity-associations";
    /// The EKS Pod Identity Agent's DaemonSet (kube-system/eks-pod-identity-agent).
    pub const POD_IDENTITY_AGENT: &str = "daemonset/kube-system/eks-pod-identity-agent";
    pub const ACCESS_ENTRIES: &str = "access-entries";
    pub const AWS_AUTH: &str = "aws-auth";
    pub const ORGANIZATION: &str = "organization";
    pub const PODS: &str = "pods";
}

impl Facts {
    /// What a lookup that found nothing means: absent where the scope was answered completely,
    /// else unknown — naming the failed call when one failed, and the command that settles it.
    pub fn gap<T>(&self, scope: &str, settle: String) -> Fact<T> {
        if self.covered.contains(scope) {
            return Fact::Absent;
        }
        Fact::Unknown(self.unknown_reason(scope, settle))
    }

    pub fn unknown_reason(&self, scope: &str, settle: String) -> String {
        match self.errors.get(scope) {
            Some(error) => format!("{error} ({settle})"),
            None => settle,
        }
    }

    /// The account of the cluster (and of its IAM), from the caller or the cluster ARN.
    pub fn account(&self) -> Option<String> {
        self.caller
            .as_ref()
            .map(|c| c.account.clone())
            .or_else(|| {
                self.cluster
                    .as_ref()?
                    .arn
                    .as_deref()
                    .and_then(arn::account_of)
            })
            .or_else(|| self.source.account.clone())
    }

    pub fn region(&self) -> Option<String> {
        self.cluster
            .as_ref()
            .and_then(|c| c.arn.as_deref())
            .and_then(Arn::parse)
            .map(|a| a.region)
            .or_else(|| self.source.region.clone())
    }

    /// The partition ARNs are built in: the cluster's ARN's, else its Region's, else the
    /// caller's ARN's.
    pub fn partition(&self) -> String {
        self.known_partition().unwrap_or_else(|| "aws".to_string())
    }

    /// The partition, when the facts say it (not assumed).
    pub fn known_partition(&self) -> Option<String> {
        let cluster = self.cluster.as_ref().and_then(|c| c.arn.as_deref());
        let caller = self.caller.as_ref().map(|c| c.arn.as_str());
        match (cluster, self.region(), caller) {
            (Some(arn), _, _) => Arn::parse(arn).map(|a| a.partition),
            (None, Some(region), _) => Some(arn::partition_for_region(&region).to_string()),
            (None, None, Some(arn)) => Arn::parse(arn).map(|a| a.partition),
            (None, None, None) => None,
        }
    }

    pub fn cluster_name(&self) -> String {
        self.cluster
            .as_ref()
            .map(|c| c.name.clone())
            .or_else(|| self.source.cluster.clone())
            .unwrap_or_else(|| "CLUSTER".to_string())
    }

    pub fn service_account(&self, namespace: &str, name: &str) -> Fact<&ServiceAccount> {
        match self
            .service_accounts
            .get(&(namespace.to_string(), name.to_string()))
        {
            Some(sa) => Fact::Known(sa),
            None if self.service_account_namespaces.contains(namespace) => Fact::Absent,
            None => self.gap(
                &scope::service_accounts(namespace),
                format!("the ServiceAccounts of namespace {} were not read: kubectl -n {} get serviceaccount {} -o json", namespace, crate::text::shell_arg(&namespace), crate::text::shell_arg(&name)),
            ),
        }
    }

    pub fn role(&self, role_arn: &str) -> Fact<&Role> {
        let Some(parsed) = Arn::parse(role_arn) else {
            return Fact::Unknown(format!("{role_arn} is not an ARN"));
        };
        let Some(name) = parsed.role_name() else {
            return Fact::Unknown(format!("{role_arn} is not a role ARN"));
        };
        let role_scope = scope::role(&parsed.account, name);
        match self.roles.get(&(parsed.account.clone(), name.to_string())) {
            Some(role) => Fact::Known(role),
            // A failed lookup of this role outweighs an older listing of every role.
            None if self.iam_accounts.contains(&parsed.account)
                && !self.errors.contains_key(&role_scope) =>
            {
                Fact::Absent
            }
            None => {
                let settle = format!(
                    "the roles of account {} were not read: aws iam get-role --role-name {}",
                    parsed.account,
                    crate::text::shell_arg(&name)
                );
                // Read (live or by the collect script) with another account's credentials: say
                // so, whichever way it was read.
                match self.caller.as_ref().map(|c| c.account.as_str()) {
                    Some(caller)
                        if caller != parsed.account
                            && !self.errors.contains_key(&role_scope)
                            && !self.covered.contains(&role_scope) =>
                    {
                        Fact::Unknown(format!(
                            "{} ({settle})",
                            other_account_role(role_arn, &parsed.account, caller)
                        ))
                    }
                    _ => self.gap(&role_scope, settle),
                }
            }
        }
    }

    /// The default version of a managed policy: from the input, else a built-in copy of an AWS
    /// managed policy (the bool says the copy was used).
    pub fn managed_policy(&self, policy_arn: &str) -> Fact<(PolicyDocument, bool)> {
        match self.policies.get(policy_arn) {
            Some(Ok(doc)) => Fact::Known((doc.clone(), false)),
            Some(Err(why)) => Fact::Unknown(format!("policy {policy_arn} is malformed: {why}")),
            None => match crate::iam::managed::builtin(policy_arn) {
                Some(doc) => Fact::Known((doc, true)),
                None => self.gap(
                    &scope::policy(policy_arn),
                    format!("the document of {} was not read: aws iam get-policy-version --policy-arn {} --version-id DEFAULT_VERSION", policy_arn, crate::text::shell_arg(&policy_arn)),
                ),
            },
        }
    }

    /// An OIDC provider by ARN: its audiences, or `None` inside when only its ARN was listed.
    pub fn oidc_provider(&self, provider_arn: &str) -> Fact<Option<&Vec<String>>> {
        let account = arn::account_of(provider_arn).unwrap_or_default();
        match self.oidc_providers.get(provider_arn) {
            Some(audiences) => Fact::Known(audiences.as_ref()),
            None if self.oidc_provider_accounts.contains(&account) => Fact::Absent,
            None => self.gap(
                &scope::oidc_providers(&account),
                format!("the OIDC providers of account {account} were not read: aws iam list-open-id-connect-providers"),
            ),
        }
    }

    pub fn repository(&self, key: &RepoKey) -> Fact<()> {
        if self.repositories.contains(key) {
            Fact::Known(())
        } else if self
            .repository_listings
            .contains(&(key.registry.clone(), key.region.clone()))
        {
            Fact::Absent
        } else {
            self.gap(
                &scope::repositories(&key.registry, &key.region),
                format!("the repositories of registry {} in {} were not read: aws ecr describe-repositories --registry-id {} --region {} --repository-names {}", key.registry, key.region, crate::text::shell_arg(&key.registry), crate::text::shell_arg(&key.region), crate::text::shell_arg(&key.name)),
            )
        }
    }

    pub fn repository_policy(&self, key: &RepoKey) -> Fact<&Result<PolicyDocument, String>> {
        // A repository that does not exist (yet) has no policy.
        if self.repository(key) == Fact::Absent {
            return Fact::Absent;
        }
        match self.repository_policies.get(key) {
            Some(Some(policy)) => Fact::Known(policy),
            Some(None) => Fact::Absent,
            None => self.gap(
                &scope::repository_policy(&key.registry, &key.region, &key.name),
                format!("the policy of repository {} was not read: aws ecr get-repository-policy --registry-id {} --region {} --repository-name {}", key.name, crate::text::shell_arg(&key.registry), crate::text::shell_arg(&key.region), crate::text::shell_arg(&key.name)),
            ),
        }
    }

    /// A Secret's metadata.
    pub fn secret(&self, namespace: &str, name: &str) -> Fact<&ObjectMeta> {
        match self.secrets.get(&(namespace.to_string(), name.to_string())) {
            Some(meta) => Fact::Known(meta),
            None if self.secret_namespaces.contains(namespace)
                || self.covered.contains(&scope::secrets(namespace)) =>
            {
                Fact::Absent
            }
            None => self.gap(
                &scope::secrets(namespace),
                format!("the Secrets of namespace {namespace} were not listed (pulldoctor reads their metadata only)"),
            ),
        }
    }

    /// Whether CloudTrail was asked for the calls of `key` (a session, or `trail::event_key`),
    /// and how far back it answered.
    pub fn trail_lookup(&self, key: &str) -> TrailLookup<'_> {
        let scope = scope::trail(key);
        if let Some(why) = self.errors.get(&scope) {
            return TrailLookup::Failed(why);
        }
        match self.trail.reach.get(key) {
            Some(reach) if self.covered.contains(&scope) => TrailLookup::Read { reach: *reach },
            _ => TrailLookup::NotLooked,
        }
    }

    /// The instant the input describes: when it was captured, else its latest event.
    pub fn observed_at(&self) -> Option<k8s_openapi::jiff::Timestamp> {
        let captured = self
            .source
            .captured_at
            .as_deref()
            .and_then(|t| t.parse().ok());
        captured.or_else(|| self.events.iter().filter_map(|e| e.at).max())
    }

    /// The registry permissions policy of the registry of `key`.
    pub fn registry_policy(&self, key: &RepoKey) -> Fact<&Result<PolicyDocument, String>> {
        match self
            .registry_policies
            .get(&(key.registry.clone(), key.region.clone()))
        {
            Some(Some(policy)) => Fact::Known(policy),
            Some(None) => Fact::Absent,
            None => self.gap(
                &scope::registry_policy(&key.registry, &key.region),
                format!("the registry policy of {} in {} was not read: aws ecr get-registry-policy --region {} (with credentials of account {})", key.registry, key.region, crate::text::shell_arg(&key.region), crate::text::shell_arg(&key.registry)),
            ),
        }
    }

    /// The pull-through cache rule whose prefix the repository name starts with.
    pub fn pull_through_rule(&self, key: &RepoKey) -> Fact<&aws::PullThroughCacheRule> {
        match self.pull_through_rules.get(&key.registry) {
            Some(rules) => rules
                .iter()
                .find(|r| {
                    key.name
                        .starts_with(&format!("{}/", r.ecr_repository_prefix))
                })
                .map_or(Fact::Absent, Fact::Known),
            None => Fact::Unknown(self.unknown_reason(
                &scope::pull_through(&key.registry),
                format!("the pull-through cache rules of registry {} were not read: aws ecr describe-pull-through-cache-rules --registry-id {} --region {}", key.registry, crate::text::shell_arg(&key.registry), crate::text::shell_arg(&key.region)),
            )),
        }
    }

    /// The issuer of this cluster's service-account tokens.
    pub fn issuer(&self) -> Fact<&str> {
        match &self.cluster {
            Some(cluster) => cluster.issuer().map_or(Fact::Absent, Fact::Known),
            None => Fact::Unknown(self.unknown_reason(
                scope::CLUSTER,
                format!(
                    "the cluster was not described: aws eks describe-cluster --name {}",
                    crate::text::shell_arg(&self.cluster_name())
                ),
            )),
        }
    }

    /// The Pod Identity association of a ServiceAccount.
    /// The Pod Identity Agent, which serves associations' credentials on each node: absent
    /// only where its DaemonSet was asked for by name and not found.
    pub fn pod_identity_agent(&self) -> Fact<&kube::DaemonSetReadiness> {
        match &self.pod_identity_agent {
            Some(agent) => Fact::Known(agent),
            None => match self.covered.contains(scope::POD_IDENTITY_AGENT) {
                true => Fact::Absent,
                false => Fact::Unknown(self.unknown_reason(
                    scope::POD_IDENTITY_AGENT,
                    "the eks-pod-identity-agent DaemonSet was not read: kubectl -n kube-system get daemonset eks-pod-identity-agent -o json".to_string(),
                )),
            },
        }
    }

    pub fn pod_identity_association(
        &self,
        namespace: &str,
        service_account: &str,
    ) -> Fact<&aws::PodIdentityAssociation> {
        match &self.pod_identity {
            Some(list) => list
                .iter()
                .find(|a| a.namespace == namespace && a.service_account == service_account)
                .map_or(Fact::Absent, Fact::Known),
            None => Fact::Unknown(self.unknown_reason(
                scope::POD_IDENTITY,
                format!("Pod Identity associations were not read: aws eks list-pod-identity-associations --cluster-name {} --namespace {} --service-account {}", crate::text::shell_arg(&self.cluster_name()), crate::text::shell_arg(&namespace), crate::text::shell_arg(&service_account)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_of_another_account_is_unknown_unless_its_lookup_was_answered() {
        let arn = "arn:aws:iam::777788889999:role/reporting";
        let mut facts = Facts {
            caller: Some(aws::CallerIdentity {
                account: "111122223333".into(),
                arn: "arn:aws:iam::111122223333:user/oncall".into(),
                user_id: "A".into(),
            }),
            ..Facts::default()
        };
        match facts.role(arn) {
            Fact::Unknown(why) => assert!(
                why.starts_with(&other_account_role(arn, "777788889999", "111122223333")),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        // Answered completely (as by that account's credentials): absent, not unknown.
        facts
            .covered
            .insert(scope::role("777788889999", "reporting"));
        assert!(matches!(facts.role(arn), Fact::Absent));
    }
}
