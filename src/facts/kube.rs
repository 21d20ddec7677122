//! Kubernetes facts in the form the chain reads them: events of both APIs as one shape,
//! workloads of every kind as one shape, and the `aws-auth` role mappings.

use super::pod::{Container, ContainerStatus, Pod};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;

/// A kubelet or controller event about one object (core/v1 or events.k8s.io/v1).
#[derive(Debug, Clone, PartialEq)]
pub struct PodEvent {
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub reason: String,
    pub message: String,
    pub at: Option<Timestamp>,
    pub warning: bool,
}

impl PodEvent {
    pub fn from_core(e: &k8s_openapi::api::core::v1::Event) -> Option<PodEvent> {
        let object = &e.involved_object;
        Some(PodEvent {
            namespace: object
                .namespace
                .clone()
                .or_else(|| e.metadata.namespace.clone())?,
            kind: object.kind.clone()?,
            name: object.name.clone()?,
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            at: e
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or_else(|| e.event_time.as_ref().map(|t| t.0))
                .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0)),
            warning: e.type_.as_deref() == Some("Warning"),
        })
    }

    pub fn from_events_v1(e: &k8s_openapi::api::events::v1::Event) -> Option<PodEvent> {
        let object = e.regarding.as_ref()?;
        Some(PodEvent {
            namespace: object
                .namespace
                .clone()
                .or_else(|| e.metadata.namespace.clone())?,
            kind: object.kind.clone()?,
            name: object.name.clone()?,
            reason: e.reason.clone().unwrap_or_default(),
            message: e.note.clone().unwrap_or_default(),
            at: e
                .series
                .as_ref()
                .map(|s| s.last_observed_time.0)
                .or_else(|| e.deprecated_last_timestamp.as_ref().map(|t| t.0))
                .or_else(|| e.event_time.as_ref().map(|t| t.0))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0)),
            warning: e.type_.as_deref() == Some("Warning"),
        })
    }
}

/// A controller whose pods could not be created, in one shape for every kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub service_account: String,
    pub containers: Vec<(String, String)>,
    /// The controller's own word on why it cannot create pods (a `ReplicaFailure` condition).
    pub failure: Option<String>,
}

/// A DaemonSet's pods: ready, and desired (one per node its selector matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonSetReadiness {
    pub ready: i32,
    pub desired: i32,
}

/// One `mapRoles` entry of the `aws-auth` ConfigMap.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MappedRole {
    pub rolearn: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl MappedRole {
    pub fn is_node_role(&self) -> bool {
        self.groups.iter().any(|g| g == "system:nodes")
    }
}

/// Reads the `mapRoles` YAML of the `aws-auth` ConfigMap.
pub fn aws_auth_roles(config_map: &ConfigMap) -> Result<Vec<MappedRole>, String> {
    let Some(text) = config_map.data.as_ref().and_then(|d| d.get("mapRoles")) else {
        return Ok(Vec::new());
    };
    serde_saphyr::from_str(text).map_err(|e| format!("aws-auth mapRoles does not parse: {e}"))
}

/// One container of a pod with its status, across containers, init and ephemeral containers.
#[derive(Debug, Clone, Copy)]
pub struct ContainerView<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub status: Option<&'a ContainerStatus>,
    pub spec: Option<&'a Container>,
}

impl ContainerView<'_> {
    pub fn waiting_reason(&self) -> Option<&str> {
        self.status?
            .state
            .as_ref()?
            .waiting
            .as_ref()?
            .reason
            .as_deref()
    }

    pub fn waiting_message(&self) -> Option<&str> {
        self.status?
            .state
            .as_ref()?
            .waiting
            .as_ref()?
            .message
            .as_deref()
    }

    /// A container whose status carries an image ID has pulled its image.
    pub fn has_pulled(&self) -> bool {
        self.status
            .is_some_and(|s| !s.image_id.is_empty() && s.image_id != "<nil>")
    }

    pub fn state_label(&self) -> String {
        let Some(state) = self.status.and_then(|s| s.state.as_ref()) else {
            return "Pending".to_string();
        };
        if let Some(w) = &state.waiting {
            return w.reason.clone().unwrap_or_else(|| "Waiting".to_string());
        }
        if state.running.is_some() {
            return "Running".to_string();
        }
        if let Some(t) = &state.terminated {
            return t.reason.clone().unwrap_or_else(|| "Terminated".to_string());
        }
        "Pending".to_string()
    }

    pub fn env(&self, name: &str) -> Option<&str> {
        self.spec?
            .env
            .as_ref()?
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value.as_deref().unwrap_or(""))
    }
}

/// The EC2 instance a node runs on, from its provider id (`aws:///us-east-1a/i-0abc…`); `None`
/// for a Fargate node or one outside EC2.
pub fn instance_id(node: &k8s_openapi::api::core::v1::Node) -> Option<&str> {
    let provider = node.spec.as_ref()?.provider_id.as_deref()?;
    provider
        .rsplit('/')
        .next()
        .filter(|id| id.starts_with("i-"))
}

/// Waiting reasons that mean the image cannot be pulled (or will not be).
pub const PULL_FAILURE_REASONS: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "ImageInspectError",
    "RegistryUnavailable",
];

pub fn containers(pod: &Pod) -> Vec<ContainerView<'_>> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let status = pod.status.as_ref();
    fn find<'p>(
        statuses: Option<&'p Vec<ContainerStatus>>,
        name: &str,
    ) -> Option<&'p ContainerStatus> {
        statuses.and_then(|list| list.iter().find(|s| s.name == name))
    }
    let mut out = Vec::new();
    for c in spec.init_containers.iter().flatten() {
        out.push(ContainerView {
            name: &c.name,
            image: c.image.as_deref().unwrap_or(""),
            status: find(
                status.and_then(|s| s.init_container_statuses.as_ref()),
                &c.name,
            ),
            spec: Some(c),
        });
    }
    for c in &spec.containers {
        out.push(ContainerView {
            name: &c.name,
            image: c.image.as_deref().unwrap_or(""),
            status: find(status.and_then(|s| s.container_statuses.as_ref()), &c.name),
            spec: Some(c),
        });
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        out.push(ContainerView {
            name: &c.name,
            image: c.image.as_deref().unwrap_or(""),
            status: find(
                status.and_then(|s| s.ephemeral_container_statuses.as_ref()),
                &c.name,
            ),
            spec: None,
        });
    }
    out
}

pub fn namespace_of(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

pub fn name_of(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("")
}

pub fn service_account_of(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.service_account_name.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

/// `Deployment/web` for a pod of a ReplicaSet owned by Deployment `web`, else the owner itself.
pub fn workload_of(pod: &Pod) -> Option<String> {
    let owner = pod.metadata.owner_references.as_ref()?.iter().next()?;
    if owner.kind == "ReplicaSet"
        && let Some((deployment, hash)) = owner.name.rsplit_once('-')
    {
        let template_hash = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("pod-template-hash"));
        if template_hash.is_some_and(|h| h == hash) {
            return Some(format!("Deployment/{deployment}"));
        }
    }
    Some(format!("{}/{}", owner.kind, owner.name))
}

/// A DNS label as Kubernetes names namespaces and containers: `[a-z0-9-]`, at most 63, starting
/// and ending with a letter or digit.
pub fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS subdomain as Kubernetes names most objects: dot-separated labels, at most 253.
pub fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}
