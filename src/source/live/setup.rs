//! What the setup wizard reads beyond a diagnosis: the namespace's ServiceAccounts, the Pod
//! Identity agent, the Fargate profiles, the chosen role, and the chosen repositories with their
//! images and policies — in the same document shapes as every other read.

use super::kube;
use super::read::{self, Found, RoleResult};
use super::session::Session;
use crate::facts::aws::AuthorizationDetails;
use crate::facts::ingest::Document;
use crate::facts::{RepoKey, scope};
use crate::iam::arn;
use futures::future::join_all;
use std::collections::BTreeSet;

/// What a setup names: where the ServiceAccount is, which role it gets, which repositories its
/// pods pull from, and whose credentials read them.
pub struct SetupTarget<'a> {
    pub caller_account: &'a str,
    pub cluster: &'a str,
    pub namespace: &'a str,
    pub service_account: Option<&'a str>,
    pub role_arn: &'a str,
    pub repositories: &'a [RepoKey],
}

/// Documents to add to a collection for checking and planning `target`.
pub async fn collect_setup(session: &Session, target: &SetupTarget<'_>) -> Vec<Document> {
    let (aws, cluster, namespace) = (&session.aws, target.cluster, target.namespace);
    let mut found = Found::default();
    let (accounts, agent, profiles, role, associations) = tokio::join!(
        session.kube.service_accounts(namespace),
        session
            .kube
            .workload("DaemonSet", "kube-system", "eks-pod-identity-agent"),
        aws.call(
            "eks:ListFargateProfiles",
            cluster,
            aws.eks.list_fargate_profiles().cluster_name(cluster).send()
        ),
        read::fetch_role(aws, target.role_arn, target.caller_account),
        read::pod_identity_associations(aws, cluster, Some(namespace)),
    );
    match accounts {
        Ok(list) => {
            found.gaps.covered(&scope::service_accounts(namespace));
            list.iter().for_each(|s| {
                found
                    .items
                    .push(serde_json::to_value(s).unwrap_or_default())
            });
        }
        Err(e) => kube::record(&mut found.gaps, &scope::service_accounts(namespace), e),
    }
    match agent {
        Ok(ds) => found.items.push(ds),
        Err(e) => kube::record(&mut found.gaps, scope::POD_IDENTITY_AGENT, e),
    }
    // The ServiceAccount's own Pod Identity association, if it has one already.
    let own: Vec<(String, String, String)> = associations
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, name, _)| Some(name.as_str()) == target.service_account)
        .collect();
    let described = join_all(
        own.iter()
            .map(|(ns, sa, id)| read::association(aws, cluster, ns, sa, id)),
    )
    .await;
    for document in described.into_iter().map(|r| r.unwrap_or_else(|(d, _)| d)) {
        found.push_document(&document);
    }
    let names: Vec<String> = profiles
        .map(|out| out.fargate_profile_names().to_vec())
        .unwrap_or_default();
    let profiles = join_all(names.iter().map(|n| read::fargate_profile(aws, cluster, n))).await;
    for profile in profiles.into_iter().flatten().flatten() {
        found.push_document(&profile);
    }
    let role_scope = scope::role(
        &arn::account_of(target.role_arn).unwrap_or_default(),
        &arn::role_name_of(target.role_arn),
    );
    match role {
        RoleResult::Found(detail) => found.push_document(&AuthorizationDetails {
            roles: vec![*detail],
            policies: Vec::new(),
            partial: true,
        }),
        RoleResult::Absent => found.gaps.covered(&role_scope),
        RoleResult::Failed(message) => found.gaps.error(&role_scope, &message),
    }
    let registries: BTreeSet<read::Registry> = target
        .repositories
        .iter()
        .map(|k| (k.registry.clone(), k.region.clone()))
        .collect();
    let listings = read::Shared::default();
    read::listings(aws, &listings, &registries).await;
    found.merge(listings.into_found());
    for key in target.repositories {
        let (images, policy) = tokio::join!(
            read::describe_images(aws, key),
            read::repository_policy(aws, key)
        );
        if let Ok(answer) = images {
            found
                .gaps
                .covered(&scope::images(&key.registry, &key.region, &key.name));
            found.push_document(&answer);
        }
        match policy {
            Ok(answer) => found.push_document(&answer),
            Err(e) => found.gaps.error(
                &scope::repository_policy(&key.registry, &key.region, &key.name),
                &e.message,
            ),
        }
    }
    found.into_documents("setup").0
}
