//! Blast radius: who else the broken entity of a finding stops — the other workloads that fail
//! for the same cause through the same role, repository or network hop (a VPC endpoint, a route
//! table, a security group), and the node groups whose role lacks the same permission (the next
//! pod scheduled there fails too).

use crate::chain::access::{self, CachePull};
use crate::ecr::reference::{self, ImageRef};
use crate::facts::{Fact, Facts};
use crate::report::{BlastRadius, CauseFamily, Finding, Hop, LinkId, Status};
use std::collections::BTreeSet;

/// The entity a broken link is about, as a person names it; `None` where the radius is not
/// told (the pod itself, a network link without an observed path).
fn entity(f: &Finding) -> Option<String> {
    let repository = || match reference::parse(&f.image) {
        Ok(ImageRef::Ecr(e)) => Some(format!(
            "repository {} of {} in {}",
            e.repository, e.account, e.region
        )),
        _ => None,
    };
    match f.broken_link? {
        LinkId::NodeRole | LinkId::PullPermissions => f.pull_identity.arn.clone(),
        LinkId::Repository | LinkId::RepositoryPolicy => repository(),
        LinkId::Image | LinkId::Platform => Some(format!("image {}", f.image)),
        LinkId::Role
        | LinkId::TrustPolicy
        | LinkId::RolePermissions
        | LinkId::CredentialInjection => f.app_identity.role_arn.clone(),
        LinkId::OidcProvider => Some("the cluster's IAM OIDC provider".to_string()),
        LinkId::Network => f
            .links
            .iter()
            .find(|l| l.id == LinkId::Network)
            .and_then(|l| stopping_hop(&l.path)),
        _ => None,
    }
}

/// The hop of an observed path that stops the pull, by its id; a missing hop (no endpoint, no
/// route) by the hop before it, which lacks it.
fn stopping_hop(path: &[Hop]) -> Option<String> {
    let at = path.iter().position(|h| h.status == Status::Broken)?;
    let hop = &path[at];
    if !hop.id.is_empty() {
        return Some(format!("{} {}", hop.kind.as_str(), hop.id));
    }
    let before = path[..at].iter().rev().find(|h| !h.id.is_empty())?;
    Some(format!(
        "{} {} (no {})",
        before.kind.as_str(),
        before.id,
        hop.kind.as_str()
    ))
}

/// How a workload is named in a radius: its controller, else its pod.
fn workload_of(f: &Finding) -> String {
    match &f.workload {
        Some(w) => format!("{}/{w}", f.namespace),
        None => f.subject(),
    }
}

/// Sets the radius of each broken finding, from `pool`: the failing findings of the whole input.
pub fn attach(findings: &mut [Finding], pool: &[Finding], facts: &Facts) {
    for f in findings.iter_mut().filter(|f| f.verdict == Status::Broken) {
        let Some(entity) = entity(f) else {
            continue;
        };
        let own = workload_of(f);
        let workloads: BTreeSet<String> = pool
            .iter()
            .filter(|g| g.failing && g.cause == f.cause && entity_matches(g, &entity))
            .map(workload_of)
            .filter(|w| *w != own)
            .collect();
        f.blast_radius = Some(BlastRadius {
            entity,
            workloads: workloads.into_iter().collect(),
            node_groups: node_groups_lacking(f, facts),
        });
    }
}

fn entity_matches(g: &Finding, wanted: &str) -> bool {
    entity(g).as_deref() == Some(wanted)
}

/// The node groups whose role may not pull this image either, when the finding's pull identity
/// lacks a permission: the next pod scheduled there fails too.
fn node_groups_lacking(f: &Finding, facts: &Facts) -> Vec<String> {
    let grant = f
        .cause
        .is_some_and(|c| c.family() == CauseFamily::PullGrant);
    let Ok(ImageRef::Ecr(image)) = reference::parse(&f.image) else {
        return Vec::new();
    };
    if !grant || f.broken_link != Some(LinkId::PullPermissions) {
        return Vec::new();
    }
    facts
        .nodegroups
        .values()
        .filter(|ng| f.pull_identity.arn.as_deref() != Some(ng.node_role.as_str()))
        .filter(|ng| match facts.role(&ng.node_role) {
            Fact::Known(role) => {
                access::pull_access(facts, role, &image, CachePull::Cached)
                    .identity
                    .status
                    == Status::Broken
            }
            _ => false,
        })
        .map(|ng| ng.nodegroup_name.clone())
        .collect()
}
