//! Stage 2: the Kubernetes objects the pods name — ServiceAccounts, nodes, controllers.

use super::*;
use crate::facts::kube::namespace_of;
use crate::facts::scope;
use crate::source::live::kube;
use crate::source::live::session::Session;
use futures::future::join_all;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Stage 2: the ServiceAccounts of the namespaces involved, the pods' nodes, the controllers
/// that cannot create pods.
pub(in crate::source::live) struct Objects {
    pub service_accounts: Vec<ServiceAccount>,
    pub nodes: Vec<Arc<Node>>,
}

pub(in crate::source::live) async fn objects(
    session: &Session,
    shared: &Shared,
    read: &Pods,
) -> Objects {
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
