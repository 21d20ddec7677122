//! The Writer's Kubernetes writes: what the ServiceAccount looks like now, and the one patch,
//! create or restart that changes it.

use super::apply::{Now, Writer};
use super::write_plan::Write;
use crate::chain::identity_lane::ROLE_ANNOTATION;
use crate::report::Apply;
use ::kube::api::{Patch, PatchParams};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::ServiceAccount;

impl Writer {
    /// The ServiceAccount as it is, or a restart (always to do).
    pub(super) async fn now_kube(&self, apply: &Apply) -> Result<Now, String> {
        Ok(match apply {
            Apply::AnnotateServiceAccount {
                namespace,
                name,
                key,
            } => {
                let sa = self
                    .service_account(namespace, name)
                    .await?
                    .ok_or_else(|| format!("ServiceAccount {namespace}/{name} does not exist"))?;
                Now::Document(sa.metadata.annotations.and_then(|a| a.get(key).cloned()))
            }
            // A restart is an event, not a state: it always goes ahead (once the pods are new,
            // the diagnosis no longer proposes it).
            Apply::RolloutRestart { .. } => Now::Present(false),
            Apply::ApplyServiceAccount {
                namespace,
                name,
                role_arn,
            } => match self.service_account(namespace, name).await? {
                None => Now::Present(false),
                Some(sa) => {
                    let current = sa
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(ROLE_ANNOTATION));
                    Now::Present(role_arn.is_none() || current == role_arn.as_ref())
                }
            },
            other => return Err(format!("{} is not read here", other.call())),
        })
    }

    async fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServiceAccount>, String> {
        let api: ::kube::Api<ServiceAccount> =
            ::kube::Api::namespaced(self.session.kube.client.clone(), namespace);
        api.get_opt(name)
            .await
            .map_err(|e| format!("cannot read ServiceAccount {namespace}/{name}: {e}"))
    }

    /// A write to the cluster: a ServiceAccount, or a controller's restart.
    pub(super) async fn execute_kube(&self, write: &Write) -> Result<(), String> {
        let document = || Writer::document(write);
        match &write.apply {
            Apply::AnnotateServiceAccount {
                namespace,
                name,
                key,
            } => {
                let api: ::kube::Api<ServiceAccount> =
                    ::kube::Api::namespaced(self.session.kube.client.clone(), namespace);
                let patch = serde_json::json!({"metadata": {"annotations": {key: document()?}}});
                api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("patching ServiceAccount {namespace}/{name} failed: {e}"))
            }
            Apply::ApplyServiceAccount {
                namespace,
                name,
                role_arn,
            } => {
                let api: ::kube::Api<ServiceAccount> =
                    ::kube::Api::namespaced(self.session.kube.client.clone(), namespace);
                let annotations: std::collections::BTreeMap<String, String> = role_arn
                    .iter()
                    .map(|r| (ROLE_ANNOTATION.to_string(), r.clone()))
                    .collect();
                let exists = self.service_account(namespace, name).await?.is_some();
                let result = if exists {
                    let patch = serde_json::json!({"metadata": {"annotations": annotations}});
                    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .map(|_| ())
                } else {
                    let sa = ServiceAccount {
                        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                            name: Some(name.clone()),
                            namespace: Some(namespace.clone()),
                            annotations: Some(annotations),
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    api.create(&::kube::api::PostParams::default(), &sa)
                        .await
                        .map(|_| ())
                };
                result
                    .map_err(|e| format!("applying ServiceAccount {namespace}/{name} failed: {e}"))
            }
            Apply::RolloutRestart {
                namespace,
                kind,
                name,
            } => {
                let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": super::apply::now_text()}}}}});
                let client = self.session.kube.client.clone();
                let result = match kind.as_str() {
                    "Deployment" => restart::<Deployment>(client, namespace, name, &patch).await,
                    "StatefulSet" => restart::<StatefulSet>(client, namespace, name, &patch).await,
                    "DaemonSet" => restart::<DaemonSet>(client, namespace, name, &patch).await,
                    other => return Err(format!("{other} controllers cannot be restarted")),
                };
                result.map_err(|e| format!("restarting {kind} {namespace}/{name} failed: {e}"))
            }
            _ => Err(format!("{} is not a Kubernetes write", write.apply.call())),
        }
    }
}

/// Merge-patches a controller's pod template, as `kubectl rollout restart` does.
async fn restart<K>(
    client: ::kube::Client,
    namespace: &str,
    name: &str,
    patch: &serde_json::Value,
) -> Result<(), ::kube::Error>
where
    K: ::kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    ::kube::Api::<K>::namespaced(client, namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(|_| ())
}
