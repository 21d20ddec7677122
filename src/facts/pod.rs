//! A pod as the diagnosis keeps it: the fields some link reads, in the shape and names of the
//! Kubernetes API (so a pod's JSON deserializes into it as it is), and nothing else. The typed
//! `k8s_openapi` pod holds every field of the API inline — about 6 KiB a pod before a byte of
//! data — which made the facts of a 100,000-pod cluster 3.6 times its JSON; the live read keeps
//! the API's type, and only the facts hold this one.

use k8s_openapi::api::core::v1::{ContainerState, EnvVar};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<PodSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<PodStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_references: Option<Vec<OwnerReference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Time>,
    /// What an Event about the pod names it by (the agent's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<Container>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_containers: Option<Vec<Container>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "hostIP")]
    pub host_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_statuses: Option<Vec<ContainerStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_container_statuses: Option<Vec<ContainerStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default, rename = "imageID")]
    pub image_id: String,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub restart_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ContainerState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_state: Option<ContainerState>,
}

/// As the API writes a pod, its kind included: a live read's documents are read again as pods.
impl Serialize for Pod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut pod = serializer.serialize_struct("Pod", 5)?;
        pod.serialize_field("apiVersion", "v1")?;
        pod.serialize_field("kind", "Pod")?;
        pod.serialize_field("metadata", &self.metadata)?;
        pod.serialize_field("spec", &self.spec)?;
        pod.serialize_field("status", &self.status)?;
        pod.end()
    }
}

impl Pod {
    /// The fields the diagnosis reads of a pod the API answered with.
    pub fn from_api(pod: k8s_openapi::api::core::v1::Pod) -> Pod {
        let container = |c: k8s_openapi::api::core::v1::Container| Container {
            name: c.name,
            image: c.image,
            image_pull_policy: c.image_pull_policy,
            env: c.env,
        };
        let ephemeral = |c: k8s_openapi::api::core::v1::EphemeralContainer| Container {
            name: c.name,
            image: c.image,
            image_pull_policy: c.image_pull_policy,
            env: c.env,
        };
        let statuses = |list: Option<Vec<k8s_openapi::api::core::v1::ContainerStatus>>| {
            list.map(|list| {
                list.into_iter()
                    .map(|s| ContainerStatus {
                        name: s.name,
                        image: s.image,
                        image_id: s.image_id,
                        ready: s.ready,
                        restart_count: s.restart_count,
                        state: s.state,
                        last_state: s.last_state,
                    })
                    .collect()
            })
        };
        let meta = pod.metadata;
        Pod {
            metadata: ObjectMeta {
                name: meta.name,
                namespace: meta.namespace,
                labels: meta.labels,
                annotations: meta.annotations,
                owner_references: meta.owner_references,
                creation_timestamp: meta.creation_timestamp,
                uid: meta.uid,
            },
            spec: pod.spec.map(|s| PodSpec {
                containers: s.containers.into_iter().map(container).collect(),
                init_containers: s
                    .init_containers
                    .map(|l| l.into_iter().map(container).collect()),
                ephemeral_containers: s
                    .ephemeral_containers
                    .map(|l| l.into_iter().map(ephemeral).collect()),
                service_account_name: s.service_account_name,
                node_name: s.node_name,
                image_pull_secrets: s.image_pull_secrets.map(|l| {
                    l.into_iter()
                        .map(|r| LocalObjectReference { name: r.name })
                        .collect()
                }),
            }),
            status: pod.status.map(|s| PodStatus {
                phase: s.phase,
                reason: s.reason,
                message: s.message,
                host_ip: s.host_ip,
                pod_ip: s.pod_ip,
                container_statuses: statuses(s.container_statuses),
                init_container_statuses: statuses(s.init_container_statuses),
                ephemeral_container_statuses: statuses(s.ephemeral_container_statuses),
            }),
        }
    }
}
