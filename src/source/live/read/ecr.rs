//! Stages 3d, 4c, 5b, 5c and 6: the registries' repositories, their images, policies and
//! manifests, and the pull-through cache rules with the registry policies that grant them.

use super::*;
use crate::ecr::reference::EcrImage;
use crate::facts::RepoKey;
use crate::facts::scope;
use crate::iam::arn;
use crate::source::live::aws;
use ::aws_sdk_ecr::types::ImageIdentifier;
use futures::future::join_all;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Stage 3d: the repositories of each registry the images are in. Returns the repositories
/// known to exist, and the registries whose listing failed (their repositories may exist).
pub(in crate::source::live) struct Listings {
    pub known: BTreeSet<RepoKey>,
    pub failed: BTreeSet<Registry>,
}

pub(in crate::source::live) async fn listings(
    aws: &aws::Aws,
    shared: &Shared,
    registries: &BTreeSet<Registry>,
) -> Listings {
    let answers = join_all(registries.iter().map(|key| {
        let (registry, region) = key;
        shared
            .listings
            .once(&shared.found, key.clone(), async move {
                let mut found = Found::default();
                match repositories(aws, registry, region).await {
                    Ok(listing) => {
                        found.push_document(&listing);
                        let names = listing.repositories.into_iter().map(|r| r.repository_name);
                        (Some(Arc::new(names.collect())), found)
                    }
                    Err(e) => {
                        found
                            .gaps
                            .error(&scope::repositories(registry, region), &e.message);
                        (None, found)
                    }
                }
            })
    }))
    .await;
    let mut out = Listings {
        known: BTreeSet::new(),
        failed: BTreeSet::new(),
    };
    for ((registry, region), names) in registries.iter().zip(answers) {
        match names {
            Some(names) => out.known.extend(names.iter().map(|name| RepoKey {
                registry: registry.clone(),
                region: region.clone(),
                name: name.clone(),
            })),
            None => {
                out.failed.insert((registry.clone(), region.clone()));
            }
        }
    }
    out
}

/// The repositories of one registry in one Region, as `aws ecr describe-repositories` prints
/// them, with what was asked.
pub(in crate::source::live) async fn repositories(
    aws: &aws::Aws,
    registry: &str,
    region: &str,
) -> Result<DescribeRepositories, aws::AwsError> {
    let client = aws.ecr(region);
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let target = format!("registry {registry} in {region}");
    loop {
        let mut request = client.describe_repositories().registry_id(registry);
        if let Some(t) = &token {
            request = request.next_token(t);
        }
        let page = aws
            .call("ecr:DescribeRepositories", &target, request.send())
            .await?;
        names.extend(
            page.repositories()
                .iter()
                .filter_map(|r| r.repository_name().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let partition = arn::partition_for_region(region);
    Ok(DescribeRepositories {
        repositories: names
            .into_iter()
            .map(|n| Repository {
                repository_arn: arn::build(
                    partition,
                    "ecr",
                    region,
                    registry,
                    &format!("repository/{n}"),
                ),
                registry_id: registry.to_string(),
                repository_name: n,
            })
            .collect(),
        registry_id: Some(registry.to_string()),
        region: Some(region.to_string()),
    })
}

/// Stage 4c: of each repository that exists (or may: its listing failed), the images, the
/// repository policy and the manifests of the images asked for. Returns the repositories an
/// image asked for is not among the images of.
pub(in crate::source::live) async fn repository_contents(
    aws: &aws::Aws,
    shared: &Shared,
    images: &[EcrImage],
    listings: &Listings,
) -> BTreeSet<RepoKey> {
    let into = &shared.found;
    let repos: BTreeSet<RepoKey> = images
        .iter()
        .map(RepoKey::of)
        .filter(|k| {
            listings.known.contains(k)
                || listings
                    .failed
                    .contains(&(k.registry.clone(), k.region.clone()))
        })
        .collect();
    let manifests: BTreeSet<(RepoKey, String)> = images
        .iter()
        .filter(|e| repos.contains(&RepoKey::of(e)))
        .map(|e| (RepoKey::of(e), e.reference()))
        .collect();
    let (image_lists, _, _) = tokio::join!(
        join_all(repos.iter().map(|key| {
            shared.images.once(into, key.clone(), async move {
                let mut found = Found::default();
                let scope = scope::images(&key.registry, &key.region, &key.name);
                match describe_images(aws, key).await {
                    Ok(answer) => {
                        found.gaps.covered(&scope);
                        found.push_document(&answer);
                        (Some(Arc::new(answer.image_details)), found)
                    }
                    Err(e) if e.is(&["RepositoryNotFoundException"]) => (None, found),
                    Err(e) => {
                        found.gaps.error(&scope, &e.message);
                        (None, found)
                    }
                }
            })
        })),
        join_all(repos.iter().map(|key| {
            shared
                .repository_policies
                .once(into, key.clone(), async move {
                    let mut found = Found::default();
                    match repository_policy(aws, key).await {
                        Ok(answer) => found.push_document(&answer),
                        Err(e) if e.is(&["RepositoryNotFoundException"]) => {}
                        Err(e) => found.gaps.error(
                            &scope::repository_policy(&key.registry, &key.region, &key.name),
                            &e.message,
                        ),
                    }
                    ((), found)
                })
        })),
        read_manifests(aws, shared, &manifests),
    );
    repos
        .into_iter()
        .zip(image_lists)
        .filter(|(key, details)| {
            details.as_ref().is_some_and(|details| {
                images
                    .iter()
                    .filter(|e| RepoKey::of(e) == *key)
                    .any(|e| !details.iter().any(|d| listed(e, d)))
            })
        })
        .map(|(key, _)| key)
        .collect()
}

/// The manifest of each image, once: by digest or tag. An image the registry says it does not
/// hold is recorded as such (`failures`), a refused call as a gap.
async fn read_manifests(aws: &aws::Aws, shared: &Shared, manifests: &BTreeSet<(RepoKey, String)>) {
    join_all(manifests.iter().map(|manifest| {
        let (key, id) = manifest;
        shared
            .manifests
            .once(&shared.found, manifest.clone(), async move {
                let mut found = Found::default();
                match batch_get_image(aws, key, id).await {
                    Ok(answer) if answer.images.is_empty() && answer.failures.is_empty() => {}
                    Ok(answer) => found.push_document(&answer),
                    Err(e) if e.is(&["RepositoryNotFoundException"]) => {}
                    Err(e) => found.gaps.error(
                        &scope::manifest(&key.registry, &key.region, &key.name, id),
                        &e.message,
                    ),
                }
                ((), found)
            })
    }))
    .await;
}

/// Stage 4c for AWS's EKS add-on registries: every account may pull from them and none may list
/// or describe them, so the manifest is what answers for the repository and the image.
pub(in crate::source::live) async fn addon_manifests(
    aws: &aws::Aws,
    shared: &Shared,
    images: &[EcrImage],
) {
    let manifests: BTreeSet<(RepoKey, String)> = images
        .iter()
        .map(|e| (RepoKey::of(e), e.reference()))
        .collect();
    read_manifests(aws, shared, &manifests).await;
}

/// Whether `image` is this listed image: by digest, else by tag.
fn listed(image: &EcrImage, detail: &ImageDetail) -> bool {
    image.digest.as_deref() == Some(detail.image_digest.as_str())
        || image
            .tag
            .as_ref()
            .is_some_and(|t| detail.image_tags.contains(t))
}

/// A repository's images, as `aws ecr describe-images` prints them, with what was asked.
pub(in crate::source::live) async fn describe_images(
    aws: &aws::Aws,
    key: &RepoKey,
) -> Result<DescribeImages, aws::AwsError> {
    let client = aws.ecr(&key.region);
    let mut details = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = client
            .describe_images()
            .registry_id(&key.registry)
            .repository_name(&key.name);
        if let Some(t) = &token {
            request = request.next_token(t);
        }
        let page = aws
            .call("ecr:DescribeImages", &key.name, request.send())
            .await?;
        details.extend(page.image_details().iter().map(|d| ImageDetail {
            registry_id: key.registry.clone(),
            repository_name: key.name.clone(),
            image_digest: d.image_digest().unwrap_or_default().to_string(),
            image_tags: d.image_tags().to_vec(),
            image_manifest_media_type: d.image_manifest_media_type().map(str::to_string),
            image_status: d.image_status().map(|s| s.as_str().to_string()),
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(DescribeImages {
        image_details: details,
        registry_id: Some(key.registry.clone()),
        repository_name: Some(key.name.clone()),
        region: Some(key.region.clone()),
    })
}

/// A repository's policy (`policyText: null` when it has none).
pub(in crate::source::live) async fn repository_policy(
    aws: &aws::Aws,
    key: &RepoKey,
) -> Result<GetRepositoryPolicy, aws::AwsError> {
    let request = aws
        .ecr(&key.region)
        .get_repository_policy()
        .registry_id(&key.registry)
        .repository_name(&key.name);
    let policy_text = match aws
        .call("ecr:GetRepositoryPolicy", &key.name, request.send())
        .await
    {
        Ok(out) => out.policy_text().map(str::to_string),
        Err(e) if e.is(&["RepositoryPolicyNotFoundException"]) => None,
        Err(e) => return Err(e),
    };
    Ok(GetRepositoryPolicy {
        policy: RepositoryPolicy {
            registry_id: key.registry.clone(),
            repository_name: key.name.clone(),
            policy_text,
        },
        region: Some(key.region.clone()),
    })
}

/// The manifest of one image (by digest or tag), in any of the media types a kubelet accepts.
async fn batch_get_image(
    aws: &aws::Aws,
    key: &RepoKey,
    id: &str,
) -> Result<BatchGetImage, aws::AwsError> {
    let image_id = if id.starts_with("sha256:") {
        ImageIdentifier::builder().image_digest(id).build()
    } else {
        ImageIdentifier::builder().image_tag(id).build()
    };
    let request = aws
        .ecr(&key.region)
        .batch_get_image()
        .registry_id(&key.registry)
        .repository_name(&key.name)
        .image_ids(image_id)
        .accepted_media_types("application/vnd.oci.image.index.v1+json")
        .accepted_media_types("application/vnd.docker.distribution.manifest.list.v2+json")
        .accepted_media_types("application/vnd.oci.image.manifest.v1+json")
        .accepted_media_types("application/vnd.docker.distribution.manifest.v2+json");
    let answer = aws
        .call("ecr:BatchGetImage", &key.name, request.send())
        .await?;
    Ok(BatchGetImage {
        images: answer
            .images()
            .iter()
            .filter_map(|i| {
                let image_id = i.image_id()?;
                Some(ImageManifest {
                    registry_id: key.registry.clone(),
                    repository_name: key.name.clone(),
                    image_id: ImageId {
                        image_digest: image_id.image_digest().map(str::to_string),
                        image_tag: image_id.image_tag().map(str::to_string),
                    },
                    image_manifest: i.image_manifest()?.to_string(),
                })
            })
            .collect(),
        failures: answer
            .failures()
            .iter()
            .map(|f| ImageFailure {
                image_id: ImageId {
                    image_digest: f
                        .image_id()
                        .and_then(|i| i.image_digest())
                        .map(str::to_string),
                    image_tag: f.image_id().and_then(|i| i.image_tag()).map(str::to_string),
                },
                failure_code: f.failure_code().map(|c| c.as_str().to_string()),
                failure_reason: f.failure_reason().map(str::to_string),
            })
            .collect(),
        registry_id: Some(key.registry.clone()),
        repository_name: Some(key.name.clone()),
        region: Some(key.region.clone()),
    })
}

/// Stage 5b: the pull-through cache rules of registries, which can explain a missing
/// repository or image.
pub(in crate::source::live) async fn cache_rules(
    aws: &aws::Aws,
    shared: &Shared,
    registries: &[Registry],
) -> Vec<CacheRule> {
    let rules = join_all(registries.iter().map(|key| {
        let (registry, region) = key;
        shared
            .cache_rules
            .once(&shared.found, key.clone(), async move {
                let mut found = Found::default();
                let request = aws
                    .ecr(region)
                    .describe_pull_through_cache_rules()
                    .registry_id(registry);
                let rules = match aws
                    .call(
                        "ecr:DescribePullThroughCacheRules",
                        registry,
                        request.send(),
                    )
                    .await
                {
                    Ok(out) => {
                        found.push_document(&DescribePullThroughCacheRules {
                            pull_through_cache_rules: out
                                .pull_through_cache_rules()
                                .iter()
                                .map(|r| PullThroughCacheRule {
                                    ecr_repository_prefix: r
                                        .ecr_repository_prefix()
                                        .unwrap_or_default()
                                        .to_string(),
                                    upstream_registry_url: r
                                        .upstream_registry_url()
                                        .map(str::to_string),
                                    registry_id: Some(registry.clone()),
                                })
                                .collect(),
                            registry_id: Some(registry.clone()),
                        });
                        out.pull_through_cache_rules()
                            .iter()
                            .map(|r| CacheRule {
                                registry: registry.clone(),
                                region: region.clone(),
                                prefix: r.ecr_repository_prefix().unwrap_or_default().to_string(),
                            })
                            .collect()
                    }
                    Err(e) => {
                        found.gaps.error(&scope::pull_through(registry), &e.message);
                        Vec::new()
                    }
                };
                (Arc::new(rules), found)
            })
    }))
    .await;
    rules.iter().flat_map(|r| r.iter().cloned()).collect()
}

/// Stage 5c: the registry permissions policies of registries with cache rules: they can grant
/// what a pull-through cache does for the puller. A registry without one is a fact.
pub(in crate::source::live) async fn registry_policies(
    aws: &aws::Aws,
    shared: &Shared,
    registries: &[Registry],
) {
    join_all(registries.iter().map(|key| {
        let (registry, region) = key;
        shared
            .registry_policies
            .once(&shared.found, key.clone(), async move {
                let mut found = Found::default();
                let request = aws.ecr(region).get_registry_policy();
                let policy_text = match aws
                    .call("ecr:GetRegistryPolicy", registry, request.send())
                    .await
                {
                    Ok(out) => out.policy_text().map(str::to_string),
                    Err(e) if e.is(&["RegistryPolicyNotFoundException"]) => None,
                    Err(e) => {
                        let scope = scope::registry_policy(registry, region);
                        found.gaps.error(&scope, &e.message);
                        return ((), found);
                    }
                };
                found.push_document(&GetRegistryPolicy {
                    registry_id: registry.clone(),
                    policy_text,
                    region: Some(region.clone()),
                });
                ((), found)
            })
    }))
    .await;
}

/// A pull-through cache rule as read: its registry, Region and prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::source::live) struct CacheRule {
    pub registry: String,
    pub region: String,
    pub prefix: String,
}

/// Stage 6 (only for images under a cache rule): ECR's own check that each rule can use its
/// upstream. It reads the rule's credentials itself; pulldoctor never reads the secret.
pub(in crate::source::live) async fn validate_cache_rules(
    aws: &aws::Aws,
    shared: &Shared,
    rules: &[CacheRule],
) {
    join_all(rules.iter().map(|rule| {
        shared
            .validated
            .once(&shared.found, rule.clone(), async move {
                let mut found = Found::default();
                let request = aws
                    .ecr(&rule.region)
                    .validate_pull_through_cache_rule()
                    .registry_id(&rule.registry)
                    .ecr_repository_prefix(&rule.prefix);
                match aws
                    .call(
                        "ecr:ValidatePullThroughCacheRule",
                        &rule.prefix,
                        request.send(),
                    )
                    .await
                {
                    Ok(out) => found.push_document(&ValidatePullThroughCacheRule {
                        ecr_repository_prefix: rule.prefix.clone(),
                        registry_id: rule.registry.clone(),
                        upstream_registry_url: out.upstream_registry_url().map(str::to_string),
                        is_valid: out.is_valid(),
                        failure: out.failure().map(str::to_string),
                    }),
                    // Not knowing leaves the event to tell; a refusal is a problem, not a verdict.
                    Err(e) => found.gaps.problems.push(e.message),
                }
                ((), found)
            })
    }))
    .await;
}
