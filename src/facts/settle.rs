//! The second pass of ingestion: documents whose account, Region or registry comes from other
//! documents are keyed once every document has been seen.

use super::aws::*;
use super::pod::Pod;
use super::{Facts, RepoKey, Role, RolePermissions};
use crate::iam::arn;
use crate::iam::policy::PolicyDocument;
use serde_json::Value;

/// ECR documents whose registry region is settled once every document has been seen.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) authorization_details: Vec<(String, bool, AuthorizationDetails)>,
    pub(super) provider_lists: Vec<Vec<OidcProviderEntry>>,
    pub(super) provider_details: Vec<OidcProviderDetail>,
    pub(super) empty_listings: Vec<Option<String>>,
    pub(super) images: Vec<(Option<String>, ImageDetail)>,
    pub(super) manifests: Vec<(Option<String>, ImageManifest)>,
    /// (Region, registry, repository, failure) of `batch-get-image` answers.
    pub(super) failures: Vec<(Option<String>, String, String, ImageFailure)>,
    pub(super) policies: Vec<(Option<String>, RepositoryPolicy)>,
    pub(super) pull_through: Vec<(Option<String>, Vec<PullThroughCacheRule>)>,
    pub(super) registry_policies: Vec<GetRegistryPolicy>,
}

/// A pod read twice (two documents name it) counts once, as its last reading: one pass, so
/// ingest stays linear in the number of pods.
fn dedupe_pods(pods: &mut Vec<Pod>) {
    let key = |p: &Pod| (p.metadata.namespace.clone(), p.metadata.name.clone());
    let last: std::collections::HashMap<_, usize> =
        pods.iter().enumerate().map(|(i, p)| (key(p), i)).collect();
    let mut index = 0;
    pods.retain(|p| {
        let keep = last.get(&key(p)) == Some(&index);
        index += 1;
        keep
    });
}

/// Second pass: documents whose account or region comes from other documents.
pub(super) fn settle(facts: &mut Facts, pending: Pending) {
    dedupe_pods(&mut facts.pods);
    if facts.covered.contains(super::scope::PODS) {
        facts.pods_listed = true;
    }
    // Lists a live source read completely are known, even when empty.
    use super::scope;
    if facts.covered.contains(scope::POD_IDENTITY) {
        facts.pod_identity.get_or_insert_with(Vec::new);
    }
    if facts.covered.contains(scope::ACCESS_ENTRIES) {
        facts.access_entries.get_or_insert_with(Vec::new);
    }
    if facts.covered.contains(scope::AWS_AUTH) {
        facts.aws_auth_roles.get_or_insert_with(Vec::new);
    }
    let Pending {
        authorization_details,
        provider_lists,
        provider_details,
        empty_listings,
        images,
        manifests,
        failures,
        policies,
        pull_through,
        registry_policies,
    } = pending;
    // A VPC read whole holds no more endpoints, route tables or NAT gateways than it listed.
    let vpcs: Vec<String> = facts
        .covered
        .iter()
        .filter_map(|s| s.strip_prefix("ec2-vpc/").map(str::to_string))
        .collect();
    for vpc in vpcs {
        facts.ec2.route_tables.entry(vpc.clone()).or_default();
        facts.ec2.endpoints.entry(vpc.clone()).or_default();
        facts.ec2.nat_gateways.entry(vpc).or_default();
    }
    settle_iam(facts, authorization_details);
    settle_oidc(facts, provider_lists, provider_details);
    settle_ecr(
        facts,
        EcrPending {
            empty_listings,
            images,
            manifests,
            failures,
            policies,
            pull_through,
            registry_policies,
        },
    );
}

/// Roles and managed policies, keyed by account (the caller's when a document names none).
fn settle_iam(facts: &mut Facts, authorization_details: Vec<(String, bool, AuthorizationDetails)>) {
    let account = facts.account();
    for (doc_account, complete, details) in authorization_details {
        let acct = if doc_account.is_empty() {
            account.clone().unwrap_or_default()
        } else {
            doc_account
        };
        if complete {
            facts.iam_accounts.insert(acct.clone());
        }
        for policy in details.policies {
            let default = policy.versions.iter().find(|v| v.is_default_version);
            let doc = match default {
                Some(v) => PolicyDocument::from_value(&v.document).map_err(|e| e.0),
                None => Err("no default version in the input".to_string()),
            };
            facts.policies.insert(policy.arn, doc);
        }
        for r in details.roles {
            let role = Role {
                trust: trust_of(&r.assume_role_policy_document),
                permissions: Some(RolePermissions {
                    inline: r
                        .role_policy_list
                        .iter()
                        .map(|p| {
                            (
                                p.policy_name.clone(),
                                PolicyDocument::from_value(&p.policy_document).map_err(|e| e.0),
                            )
                        })
                        .collect(),
                    attached: r
                        .attached_managed_policies
                        .iter()
                        .map(|p| p.policy_arn.clone())
                        .collect(),
                }),
                boundary_arn: r.permissions_boundary.map(|b| b.permissions_boundary_arn),
                tags: tag_map(r.tags.as_ref()),
                arn: r.arn,
                name: r.role_name.clone(),
            };
            facts.roles.insert((acct.clone(), r.role_name), role);
        }
    }
}

/// The account's OIDC providers: listed (ARNs) and described (audiences).
fn settle_oidc(
    facts: &mut Facts,
    provider_lists: Vec<Vec<OidcProviderEntry>>,
    provider_details: Vec<OidcProviderDetail>,
) {
    let (account, region) = (facts.account(), facts.region());
    for list in provider_lists {
        if list.is_empty() {
            facts.oidc_provider_accounts.extend(account.clone());
        }
        for entry in list {
            facts
                .oidc_provider_accounts
                .extend(arn::account_of(&entry.arn));
            facts.oidc_providers.entry(entry.arn).or_insert(None);
        }
    }
    for detail in provider_details {
        let url = detail.url.trim_start_matches("https://");
        let Some(acct) = account.clone() else {
            facts.problems.push(format!(
                "OIDC provider {url}: no account to build its ARN from (add the output of aws sts get-caller-identity); skipped"
            ));
            continue;
        };
        let partition = region
            .as_deref()
            .map(arn::partition_for_region)
            .unwrap_or("aws");
        let provider_arn = arn::iam(partition, &acct, &format!("oidc-provider/{url}"));
        facts.oidc_provider_accounts.insert(acct);
        facts
            .oidc_providers
            .insert(provider_arn, Some(detail.client_id_list));
    }
}

/// The ECR answers still to key by repository, once every listing is in.
struct EcrPending {
    empty_listings: Vec<Option<String>>,
    images: Vec<(Option<String>, ImageDetail)>,
    manifests: Vec<(Option<String>, ImageManifest)>,
    /// (Region, registry, repository, failure) of `batch-get-image` answers.
    failures: Vec<(Option<String>, String, String, ImageFailure)>,
    policies: Vec<(Option<String>, RepositoryPolicy)>,
    pull_through: Vec<(Option<String>, Vec<PullThroughCacheRule>)>,
    registry_policies: Vec<GetRegistryPolicy>,
}

/// Listings, images, manifests, repository policies and cache rules, each keyed by its
/// repository (the Region from the document, else the listing, else the cluster's).
fn settle_ecr(facts: &mut Facts, pending: EcrPending) {
    let (account, region) = (facts.account(), facts.region());
    for listing in pending.empty_listings {
        let (registry, reg) = match listing.as_deref().and_then(|l| l.split_once('|')) {
            Some((r, g)) if !g.is_empty() => (Some(r.to_string()), Some(g.to_string())),
            Some((r, _)) => (Some(r.to_string()), region.clone()),
            None => (account.clone(), region.clone()),
        };
        if let (Some(registry), Some(reg)) = (registry, reg) {
            facts.repository_listings.insert((registry, reg));
        }
    }
    let key_for = |facts: &Facts, doc_region: Option<String>, registry: &str, name: &str| {
        let region = doc_region
            .or_else(|| {
                facts
                    .repositories
                    .iter()
                    .find(|k| k.registry == registry && k.name == name)
                    .map(|k| k.region.clone())
            })
            .or_else(|| region.clone())
            .unwrap_or_default();
        RepoKey {
            registry: registry.to_string(),
            region,
            name: name.to_string(),
        }
    };
    for (doc_region, image) in pending.images {
        let key = key_for(
            facts,
            doc_region,
            &image.registry_id,
            &image.repository_name,
        );
        let list = facts.images.entry(key).or_default();
        if !image.image_digest.is_empty() {
            list.push(image);
        }
    }
    for (doc_region, manifest) in pending.manifests {
        let key = key_for(
            facts,
            doc_region,
            &manifest.registry_id,
            &manifest.repository_name,
        );
        for id in [
            &manifest.image_id.image_tag,
            &manifest.image_id.image_digest,
        ]
        .into_iter()
        .flatten()
        {
            facts
                .manifests
                .insert((key.clone(), id.clone()), manifest.image_manifest.clone());
        }
    }
    for (doc_region, registry, repository, failure) in pending.failures {
        let key = key_for(facts, doc_region, &registry, &repository);
        let code = failure.failure_code.unwrap_or_default();
        for id in [failure.image_id.image_tag, failure.image_id.image_digest]
            .into_iter()
            .flatten()
        {
            facts.image_failures.insert((key.clone(), id), code.clone());
        }
    }
    for (doc_region, policy) in pending.policies {
        let key = key_for(
            facts,
            doc_region,
            &policy.registry_id,
            &policy.repository_name,
        );
        let doc = policy
            .policy_text
            .map(|text| PolicyDocument::from_text(&text).map_err(|e| e.0));
        facts.repository_policies.insert(key, doc);
    }
    for (registry, rules) in pending.pull_through {
        let registry = registry
            .or_else(|| rules.iter().find_map(|r| r.registry_id.clone()))
            .or_else(|| account.clone())
            .unwrap_or_default();
        facts
            .pull_through_rules
            .entry(registry)
            .or_default()
            .extend(rules);
    }
    for answer in pending.registry_policies {
        let Some(region) = answer.region.or_else(|| region.clone()) else {
            facts.problems.push(format!(
                "registry policy of {}: no Region to key it by (add \"region\" or the cluster); skipped",
                answer.registry_id
            ));
            continue;
        };
        let doc = answer
            .policy_text
            .map(|text| PolicyDocument::from_text(&text).map_err(|e| e.0));
        facts
            .registry_policies
            .insert((answer.registry_id, region), doc);
    }
}

pub(super) fn trust_of(value: &Value) -> Result<PolicyDocument, String> {
    if value.is_null() {
        return Err("the trust policy is missing".to_string());
    }
    PolicyDocument::from_value(value).map_err(|e| e.0)
}
