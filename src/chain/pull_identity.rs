//! Who pulls the image: the node's role (EC2), the pod execution role (Fargate), or — only in the
//! service-account-token pull mode — the role in `eks.amazonaws.com/ecr-role-arn`.

use crate::facts::pod::Pod;
use crate::facts::trail::CREDENTIAL_PROVIDER_SESSION;
use crate::facts::{Facts, scope};
use crate::iam::arn;
use crate::report::PullIdentityKind;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};

pub const ECR_ROLE_ANNOTATION: &str = "eks.amazonaws.com/ecr-role-arn";

#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// One role, or several candidates when the input cannot tell which one the node runs as.
    Resolved {
        kind: PullIdentityKind,
        roles: Vec<String>,
        how: String,
    },
    /// The input covers every place a node role is named, and none names this node's.
    Unresolved(String),
    /// The input does not say; names what would settle it.
    Unknown(String),
}

impl Resolution {
    pub fn kind(&self) -> PullIdentityKind {
        match self {
            Resolution::Resolved { kind, .. } => *kind,
            _ => PullIdentityKind::Unknown,
        }
    }

    /// Where the role was found, when it was.
    pub fn how(&self) -> Option<&str> {
        match self {
            Resolution::Resolved { how, .. } => Some(how),
            _ => None,
        }
    }

    pub fn roles(&self) -> &[String] {
        match self {
            Resolution::Resolved { roles, .. } => roles,
            _ => &[],
        }
    }
}

fn label<'a>(
    labels: Option<&'a std::collections::BTreeMap<String, String>>,
    key: &str,
) -> Option<&'a str> {
    labels?.get(key).map(String::as_str)
}

/// Whether the node's credential provider pulls with the role in `ecr-role-arn`. The annotation
/// is tenant-writable: it names the pull identity only where the input shows the provider uses it.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenPull {
    /// The input shows it does (the node's CredentialProviderConfig, or the kubelet's event).
    InUse(String),
    /// The input shows it does not (Fargate; a CredentialProviderConfig without tokenAttributes).
    NotInUse(String),
    /// Nothing readable says: the stock EKS config has no tokenAttributes, and no API serves a
    /// node's config.
    Unknown(String),
}

impl TokenPull {
    /// The same answer, with what else was seen beside it.
    fn noting(self, seen: &str) -> TokenPull {
        match self {
            TokenPull::InUse(why) => TokenPull::InUse(format!("{why}; {seen}")),
            TokenPull::NotInUse(why) => TokenPull::NotInUse(format!("{why}; {seen}")),
            TokenPull::Unknown(why) => TokenPull::Unknown(format!("{why}; {seen}")),
        }
    }

    /// What the input showed, or what it did not say.
    pub fn reason(&self) -> &str {
        match self {
            TokenPull::InUse(why) | TokenPull::NotInUse(why) | TokenPull::Unknown(why) => why,
        }
    }
}

/// The role a ServiceAccount's `eks.amazonaws.com/ecr-role-arn` annotation names.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotatedPullRole {
    pub arn: String,
    pub mode: TokenPull,
}

impl AnnotatedPullRole {
    pub fn in_use(&self) -> bool {
        matches!(self.mode, TokenPull::InUse(_))
    }
}

/// Words of an event that only the service-account-token exchange writes: the session name the
/// provider assumes the role with, and the token it exchanges.
const TOKEN_PULL_WORDS: [&str; 3] = [
    "/ecr-credential-provider",
    "serviceaccounttoken",
    "assumerolewithwebidentity",
];

/// The ServiceAccount's `ecr-role-arn` role, if annotated, and whether the node pulls with it.
pub fn annotated_pull_role(
    facts: &Facts,
    pod: Option<&Pod>,
    service_account: Option<&ServiceAccount>,
    event: Option<&str>,
) -> Option<AnnotatedPullRole> {
    let arn = service_account?
        .metadata
        .annotations
        .as_ref()?
        .get(ECR_ROLE_ANNOTATION)?
        .clone();
    let mode = match pod {
        None => TokenPull::Unknown("no pod was scheduled, so no node pulls yet".to_string()),
        Some(pod) if is_fargate(facts, pod) => TokenPull::NotInUse(
            "on Fargate the pod execution role pulls; the annotation is not read".to_string(),
        ),
        Some(pod) => token_pull_on_node(facts, pod, &arn, event),
    };
    Some(AnnotatedPullRole { arn, mode })
}

fn token_pull_on_node(facts: &Facts, pod: &Pod, arn: &str, event: Option<&str>) -> TokenPull {
    let mode = token_pull_shown(facts, pod, event);
    // The exchange CloudTrail recorded is shown, never taken as proof: the session name is the
    // caller's choice, and the app the role trusts holds the same token.
    match recorded_exchange(facts, pod, arn) {
        Some(recorded) => mode.noting(&recorded),
        None => mode,
    }
}

fn token_pull_shown(facts: &Facts, pod: &Pod, event: Option<&str>) -> TokenPull {
    if let Some(message) = event.filter(|m| names_token_exchange(pod, m)) {
        return TokenPull::InUse(format!(
            "the pull-failure event shows the node's credential provider exchanging the ServiceAccount token: {message}"
        ));
    }
    let group = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .and_then(|n| facts.nodes.get(n))
        .and_then(|n| label(n.metadata.labels.as_ref(), "eks.amazonaws.com/nodegroup"))
        .and_then(|ng| facts.nodegroups.get(ng));
    if let Some(group) = group.filter(|g| g.stock_bootstrap() == Some(true)) {
        return TokenPull::NotInUse(format!(
            "managed node group {} runs an EKS AMI ({}) with no launch template, so its credential provider config is EKS's own, which has no tokenAttributes: the node role pulls",
            group.nodegroup_name,
            group.ami_type.as_deref().unwrap_or_default()
        ));
    }
    match facts.token_pull_config {
        Some(true) => TokenPull::InUse(
            "the input's CredentialProviderConfig gives ecr-credential-provider tokenAttributes (read as every EC2 node's)".to_string(),
        ),
        Some(false) => TokenPull::NotInUse(
            "the input's CredentialProviderConfig gives ecr-credential-provider no tokenAttributes: the node role pulls".to_string(),
        ),
        None => TokenPull::Unknown(format!(
            "whether the node's credential provider reads {ECR_ROLE_ANNOTATION} (tokenAttributes in /etc/eks/image-credential-provider/config.json) is not readable through an API, and the stock EKS config has none: the node role pulls unless that file says otherwise"
        )),
    }
}

/// Whether the kubelet's message speaks of the token exchange outside the image references it
/// quotes: those are the tenant's text (a repository or tag may be named `serviceaccounttoken`),
/// and appear whole, as a repository path in a URL, and as a tag.
fn names_token_exchange(pod: &Pod, message: &str) -> bool {
    let mut message = message.to_ascii_lowercase();
    let images = crate::facts::kube::containers(pod);
    for text in images
        .iter()
        .filter(|c| !c.image.is_empty())
        .flat_map(|c| tenant_text(c.image))
    {
        // A space, not nothing: what is left on either side must not join into a word.
        message = message.replace(&text.to_ascii_lowercase(), " ");
    }
    TOKEN_PULL_WORDS.iter().any(|w| message.contains(w))
}

/// An image reference as a message may quote it: whole, its repository, its tag and digest.
fn tenant_text(image: &str) -> Vec<String> {
    let mut text = vec![image.to_string()];
    if let Ok(reference) = oci_spec::distribution::Reference::try_from(image) {
        text.push(reference.repository().to_string());
        text.extend(reference.tag().map(str::to_string));
        text.extend(reference.digest().map(str::to_string));
    }
    text
}

/// CloudTrail's record of this pod's ServiceAccount token exchanged for `arn` in a session named
/// `ecr-credential-provider` (as the kubelet's provider names it) since the pod was created.
fn recorded_exchange(facts: &Facts, pod: &Pod, arn: &str) -> Option<String> {
    let namespace = pod.metadata.namespace.as_deref()?;
    let service_account = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.as_deref())
        .unwrap_or("default");
    let since = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let exchange = facts
        .trail
        .exchanges((namespace, service_account), arn, since)
        .filter(|e| e.session_name.as_deref() == Some(CREDENTIAL_PROVIDER_SESSION))
        .max_by_key(|e| e.time)?;
    let answer = match (&exchange.error_code, &exchange.error_message) {
        (None, _) => "accepted".to_string(),
        (Some(code), message) => format!(
            "refused — {code}: {}",
            message.as_deref().unwrap_or_default()
        ),
    };
    Some(format!(
        "CloudTrail records the ServiceAccount's token exchanged for {arn} at {} in session {CREDENTIAL_PROVIDER_SESSION} ({answer}), as the node's credential provider would; any holder of the token chooses its session's name, so this does not show the node pulls with it",
        exchange.time
    ))
}

fn is_fargate(facts: &Facts, pod: &Pod) -> bool {
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    let node_labels = node_name
        .and_then(|n| facts.nodes.get(n))
        .and_then(|n| n.metadata.labels.as_ref());
    label(
        pod.metadata.labels.as_ref(),
        "eks.amazonaws.com/fargate-profile",
    )
    .is_some()
        || node_name.is_some_and(|n| n.starts_with("fargate-"))
        || label(node_labels, "eks.amazonaws.com/compute-type") == Some("fargate")
}

/// The pull identity: the annotated role only where the node is shown to pull with it, else the
/// node's role (or Fargate's pod execution role).
pub fn resolve(
    facts: &Facts,
    pod: Option<&Pod>,
    annotated: Option<&AnnotatedPullRole>,
) -> Resolution {
    if let Some(AnnotatedPullRole {
        arn,
        mode: TokenPull::InUse(why),
    }) = annotated
    {
        return Resolution::Resolved {
            kind: PullIdentityKind::ServiceAccountRole,
            roles: vec![arn.clone()],
            how: format!(
                "ServiceAccount annotation {ECR_ROLE_ANNOTATION} (service-account-token pull mode: {why})"
            ),
        };
    }
    let Some(pod) = pod else {
        return Resolution::Unknown("no pod was scheduled, so no node pulls yet".to_string());
    };
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    if is_fargate(facts, pod) {
        return fargate(
            facts,
            pod,
            label(
                pod.metadata.labels.as_ref(),
                "eks.amazonaws.com/fargate-profile",
            ),
        );
    }
    let Some(node_name) = node_name else {
        return Resolution::Unknown("the pod is not scheduled to a node".to_string());
    };
    let Some(node) = facts.nodes.get(node_name) else {
        return Resolution::Unknown(facts.unknown_reason(
            &scope::node(node_name),
            format!(
                "node {} was not read: kubectl get node {} -o json",
                node_name,
                crate::text::shell_arg(&node_name)
            ),
        ));
    };
    from_node(facts, node_name, node)
}

fn fargate(facts: &Facts, pod: &Pod, profile: Option<&str>) -> Resolution {
    let namespace = crate::facts::kube::namespace_of(pod);
    let chosen = match profile {
        Some(name) => facts.fargate_profiles.get(name),
        None => facts.fargate_profiles.values().find(|p| {
            p.selectors.iter().any(|s| {
                s.namespace.as_deref() == Some(namespace)
                    && s.labels
                        .iter()
                        .all(|(k, v)| label(pod.metadata.labels.as_ref(), k) == Some(v.as_str()))
            })
        }),
    };
    match chosen {
        Some(p) => Resolution::Resolved {
            kind: PullIdentityKind::FargateRole,
            roles: vec![p.pod_execution_role_arn.clone()],
            how: format!(
                "pod execution role of Fargate profile {}",
                p.fargate_profile_name
            ),
        },
        None => Resolution::Unknown(facts.unknown_reason(
            &scope::fargate_profile(profile.unwrap_or("")),
            format!("the Fargate profile was not read: aws eks describe-fargate-profile --cluster-name {} --fargate-profile-name {}", crate::text::shell_arg(&facts.cluster_name()), crate::text::shell_arg(&profile.unwrap_or("PROFILE"))),
        )),
    }
}

fn from_node(facts: &Facts, node_name: &str, node: &Node) -> Resolution {
    let labels = node.metadata.labels.as_ref();
    let cluster = facts.cluster_name();
    if let Some(ng) = label(labels, "eks.amazonaws.com/nodegroup") {
        return match facts.nodegroups.get(ng) {
            Some(group) => Resolution::Resolved {
                kind: PullIdentityKind::NodeRole,
                roles: vec![group.node_role.clone()],
                how: format!("nodeRole of managed node group {ng} (node {node_name})"),
            },
            None => Resolution::Unknown(facts.unknown_reason(
                &scope::nodegroup(ng),
                format!("node group {} was not described: aws eks describe-nodegroup --cluster-name {} --nodegroup-name {}", ng, crate::text::shell_arg(&cluster), crate::text::shell_arg(&ng)),
            )),
        };
    }
    if label(labels, "eks.amazonaws.com/compute-type") == Some("auto") {
        // A NodeClass of its own names its role; the built-in `default` one uses the cluster's.
        let class = label(labels, "eks.amazonaws.com/nodeclass").unwrap_or("default");
        if let Some(name) = facts
            .node_classes
            .get(&crate::facts::node_class("NodeClass", class))
        {
            return Resolution::Resolved {
                kind: PullIdentityKind::NodeRole,
                roles: vec![role_arn_from_name(facts, name)],
                how: format!("spec.role of EKS Auto Mode NodeClass {class} (node {node_name})"),
            };
        }
        if class != "default" {
            return Resolution::Unknown(facts.unknown_reason(
                &scope::node_class("NodeClass", class),
                format!("the Auto Mode NodeClass {} was not read: kubectl get nodeclasses.eks.amazonaws.com {} -o jsonpath='{{.spec.role}}'", class, crate::text::shell_arg(&class)),
            ));
        }
        let from_cluster = facts
            .cluster
            .as_ref()
            .and_then(|c| c.compute_config.as_ref())
            .and_then(|c| c.node_role_arn.clone());
        return match from_cluster {
            Some(role) => Resolution::Resolved {
                kind: PullIdentityKind::NodeRole,
                roles: vec![role],
                how: format!(
                    "EKS Auto Mode node role of cluster {cluster} (node {node_name}, NodeClass default)"
                ),
            },
            None => Resolution::Unknown(format!(
                "the Auto Mode node role was not read: aws eks describe-cluster --name {} --query cluster.computeConfig.nodeRoleArn",
                crate::text::shell_arg(&cluster)
            )),
        };
    }
    if let Some(class) = label(labels, "karpenter.k8s.aws/ec2nodeclass") {
        return match facts
            .node_classes
            .get(&crate::facts::node_class("EC2NodeClass", class))
        {
            Some(name) => Resolution::Resolved {
                kind: PullIdentityKind::NodeRole,
                roles: vec![role_arn_from_name(facts, name)],
                how: format!("spec.role of Karpenter EC2NodeClass {class} (node {node_name})"),
            },
            None => Resolution::Unknown(facts.unknown_reason(
                &scope::node_class("EC2NodeClass", class),
                format!(
                    "EC2NodeClass {} was not read: kubectl get ec2nodeclass {} -o json",
                    class,
                    crate::text::shell_arg(&class)
                ),
            )),
        };
    }
    candidates(facts, node_name)
}

/// A role name (Karpenter's `spec.role`) as an ARN in the cluster's account.
fn role_arn_from_name(facts: &Facts, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_string();
    }
    arn::iam(
        &facts.partition(),
        &facts.account().unwrap_or_else(|| "ACCOUNT".to_string()),
        &format!("role/{name}"),
    )
}

/// Self-managed nodes: every role that access entries or `aws-auth` map to `system:nodes`.
fn candidates(facts: &Facts, node_name: &str) -> Resolution {
    let mut roles: Vec<String> = Vec::new();
    let mut add = |role: &str| {
        let name = arn::role_name_of(role);
        if !roles.iter().any(|r| arn::role_name_of(r) == name) {
            roles.push(role.to_string());
        }
    };
    for entry in facts.access_entries.iter().flatten() {
        if matches!(
            entry.entry_type.as_deref(),
            Some("EC2_LINUX" | "EC2_WINDOWS" | "EC2")
        ) {
            add(&entry.principal_arn);
        }
    }
    for mapped in facts.aws_auth_roles.iter().flatten() {
        if mapped.is_node_role() {
            add(&mapped.rolearn);
        }
    }
    let how = format!(
        "node {node_name} has no node group, Karpenter or Auto Mode label; roles mapped to system:nodes by access entries and aws-auth"
    );
    match roles.len() {
        0 if facts.access_entries.is_some() || facts.aws_auth_roles.is_some() => {
            Resolution::Unresolved(format!(
                "node {node_name} has no node group, Karpenter or Auto Mode label, and neither access entries nor aws-auth map any role to system:nodes"
            ))
        }
        0 => Resolution::Unknown(format!(
            "node {} has no node group label, and neither access entries nor aws-auth were read: aws eks list-access-entries --cluster-name {}; kubectl -n kube-system get configmap aws-auth -o json",
            node_name,
            crate::text::shell_arg(&facts.cluster_name())
        )),
        _ => Resolution::Resolved {
            kind: PullIdentityKind::NodeRole,
            roles,
            how,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(image: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "app"},
            "spec": {"nodeName": "n1", "containers": [{"name": "main", "image": image}]}
        }))
        .unwrap()
    }

    /// The image reference in a kubelet message is the tenant's text: a repository named after
    /// the exchange's words does not make the annotated role the pull identity; the provider's
    /// own words do.
    #[test]
    fn only_the_providers_words_show_the_token_pull() {
        let facts = Facts::default();
        let arn = "arn:aws:iam::111122223333:role/admin";
        for (repository, tag) in [
            ("team/assumerolewithwebidentity/serviceaccounttoken", "1"),
            (
                "team/web",
                "ecr-credential-provider-assumerolewithwebidentity",
            ),
        ] {
            let image = format!("111122223333.dkr.ecr.us-east-1.amazonaws.com/{repository}:{tag}");
            let steered = format!(
                "Failed to pull image \"{image}\": failed to resolve reference \"{image}\": unexpected status from HEAD request to https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/{repository}/manifests/{tag}: 403 Forbidden"
            );
            let mode = token_pull_on_node(&facts, &pod(&image), arn, Some(&steered));
            assert!(matches!(mode, TokenPull::Unknown(_)), "{mode:?}");
        }
        // A debug container's image is the tenant's text too.
        let steered = "111122223333.dkr.ecr.us-east-1.amazonaws.com/serviceaccounttoken:1";
        let mut debugged = pod("111122223333.dkr.ecr.us-east-1.amazonaws.com/team/web:1");
        debugged.spec.as_mut().unwrap().ephemeral_containers = Some(vec![
            serde_json::from_value(serde_json::json!({"name": "debug", "image": steered})).unwrap(),
        ]);
        let message = format!("Failed to pull image \"{steered}\": 403 Forbidden");
        let mode = token_pull_on_node(&facts, &debugged, arn, Some(&message));
        assert!(matches!(mode, TokenPull::Unknown(_)), "{mode:?}");

        let image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/team/web:1";

        let provider = format!(
            "Failed to pull image \"{image}\": error execing credential provider plugin ecr-credential-provider for image {image}: operation error STS: AssumeRoleWithWebIdentity, https response error StatusCode: 403, api error AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
        );
        let mode = token_pull_on_node(&facts, &pod(image), arn, Some(&provider));
        assert!(matches!(mode, TokenPull::InUse(_)), "{mode:?}");
    }
}
