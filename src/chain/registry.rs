//! The registry's links of the pull lane: the repository, the image (by tag or digest, archived
//! or not) and its platform against the node's, from the registry's listings and manifests.

use super::Subject;
use super::access::CachePull;
use super::events::PullError;
use super::outcome::Outcome;
use crate::ecr::manifest::{self, ManifestKind};
use crate::ecr::reference::EcrImage;
use crate::facts::{Fact, RepoKey, scope};
use crate::report::{Cause, Status};

/// `batch-get-image`'s word that the registry holds no such image (its other failures, such as
/// a KMS error, say nothing of existence).
pub(super) fn not_found<'f>(
    facts: &'f crate::facts::Facts,
    key: &RepoKey,
    id: &str,
) -> Option<&'f str> {
    facts
        .image_failures
        .get(&(key.clone(), id.to_string()))
        .map(String::as_str)
        .filter(|code| *code == "ImageNotFound")
}

/// Why the manifest of the image is not known, with the command that reads it.
pub(super) fn manifest_not_read(subject: &Subject<'_>, key: &RepoKey, ecr: &EcrImage) -> String {
    subject.facts.unknown_reason(
        &scope::manifest(&key.registry, &key.region, &key.name, &ecr.reference()),
        format!("the manifest was not read: aws ecr batch-get-image --registry-id {} --region {} --repository-name {} --image-ids {} --accepted-media-types application/vnd.oci.image.index.v1+json application/vnd.docker.distribution.manifest.list.v2+json", crate::text::shell_arg(&ecr.account), crate::text::shell_arg(&ecr.region), crate::text::shell_arg(&ecr.repository), crate::text::shell_arg(&ecr.image_id_arg())),
    )
}

/// The repository link, the cache rule's prefix when one serves it, and whether it is missing.
pub(super) fn repository(subject: &Subject<'_>, key: &RepoKey) -> (Outcome, Option<String>, bool) {
    let facts = subject.facts;
    let rule = facts.pull_through_rule(key);
    let prefix = match &rule {
        Fact::Known(r) => Some(r.ecr_repository_prefix.clone()),
        _ => None,
    };
    match facts.repository(key) {
        Fact::Known(()) => (
            Outcome::new(
                Status::Ok,
                format!(
                    "repository {} exists in {} {}",
                    key.name, key.registry, key.region
                ),
            ),
            prefix,
            false,
        ),
        Fact::Absent => match rule {
            Fact::Known(r) => (
                Outcome::new(
                    Status::Ok,
                    format!(
                        "repository {} does not exist yet; pull-through cache rule {} creates it from {} on the first pull",
                        key.name,
                        r.ecr_repository_prefix,
                        r.upstream_registry_url.as_deref().unwrap_or("its upstream")
                    ),
                ),
                prefix,
                false,
            ),
            Fact::Unknown(why)
                if COMMON_CACHE_PREFIXES.contains(&key.name.split('/').next().unwrap_or("")) =>
            {
                (
                    Outcome::new(
                        Status::Unknown,
                        format!(
                            "repository {} does not exist, but its name looks like a pull-through cache repository created on first pull; {why}",
                            key.name
                        ),
                    ),
                    None,
                    false,
                )
            }
            _ => (
                Outcome::broken(
                    Cause::RepositoryMissing,
                    format!(
                        "repository {} does not exist in registry {} in {}{}",
                        key.name,
                        key.registry,
                        key.region,
                        near_repository(facts, key)
                            .map(|near| format!("; did you mean {near}?"))
                            .unwrap_or_default()
                    ),
                ),
                None,
                true,
            ),
        },
        Fact::Unknown(why) => {
            let hint = (subject.pull_error == Some(PullError::NotFound)).then(|| {
                "the event says not found: probably the repository or the tag is missing"
                    .to_string()
            });
            (unknown_or_pulled(subject, &why, hint), prefix, false)
        }
    }
}

/// A listed tag a typo away from `wanted` — never for a well-formed version (`2.2` is not a typo
/// of `2.0`: it may be a release that expired).
pub fn near_tag<'a>(wanted: &str, tags: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let numeric = wanted
        .trim_start_matches('v')
        .split('.')
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
    if numeric {
        return None;
    }
    crate::text::nearest(wanted, tags)
}

/// An existing repository of the same registry and region a typo away from `key`'s name.
pub fn near_repository(facts: &crate::facts::Facts, key: &RepoKey) -> Option<String> {
    let same_registry = facts
        .repositories
        .iter()
        .filter(|r| r.registry == key.registry && r.region == key.region);
    crate::text::nearest(&key.name, same_registry.map(|r| r.name.as_str())).map(str::to_string)
}

/// The listed image `ecr` names when it is archived or being restored.
pub fn archived_image<'a>(
    facts: &'a crate::facts::Facts,
    key: &RepoKey,
    ecr: &EcrImage,
) -> Option<&'a crate::facts::aws::ImageDetail> {
    facts
        .images
        .get(key)?
        .iter()
        .find(|i| i.is_image(ecr))
        .filter(|i| matches!(i.image_status.as_deref(), Some("ARCHIVED" | "ACTIVATING")))
}

/// An image listed in ECR's archive storage class (or being restored from it): the registry
/// answers 404 for it although `describe-images` lists it.
pub(super) fn archived(
    key: &RepoKey,
    ecr: &EcrImage,
    facts: &crate::facts::Facts,
) -> Option<Outcome> {
    let found = archived_image(facts, key, ecr)?;
    let status = found.image_status.as_deref()?;
    let summary = match status {
        "ARCHIVED" => format!(
            "{}{} is in ECR's archive storage class ({}): it is listed but cannot be pulled until it is restored",
            ecr.repository,
            ecr.version(),
            short(&found.image_digest)
        ),
        "ACTIVATING" => format!(
            "{}{} is being restored from ECR's archive ({}, status ACTIVATING): it cannot be pulled until its status is ACTIVE",
            ecr.repository,
            ecr.version(),
            short(&found.image_digest)
        ),
        _ => return None,
    };
    let evidence = vec![format!(
        "describe-images: {} imageStatus {status}",
        found.image_digest
    )];
    Some(Outcome::broken(Cause::ImageArchived, summary).with_evidence(evidence))
}

/// The image link and whether a pull-through cache must import the image.
pub(super) fn image(
    subject: &Subject<'_>,
    key: &RepoKey,
    ecr: &EcrImage,
    cached: bool,
) -> (Outcome, CachePull) {
    let facts = subject.facts;
    let wanted = ecr
        .digest
        .clone()
        .or_else(|| ecr.tag.clone())
        .unwrap_or_else(|| "latest".into());
    if let Some(archived) = archived(key, ecr, facts) {
        return (archived, CachePull::Cached);
    }
    if facts.manifests.contains_key(&(key.clone(), wanted.clone())) {
        return (
            Outcome::new(
                Status::Ok,
                format!("{}{} exists", ecr.repository, ecr.version()),
            ),
            CachePull::Cached,
        );
    }
    let images_scope = scope::images(&key.registry, &key.region, &key.name);
    let none = Vec::new();
    let listed = facts
        .images
        .get(key)
        .or_else(|| facts.covered.contains(&images_scope).then_some(&none));
    let Some(images) = listed else {
        // batch-get-image's answer that it holds no such image settles it as well.
        if !cached && let Some(code) = not_found(facts, key, &wanted) {
            let outcome = missing_image(ecr, Vec::new())
                .with_evidence(vec![format!("ecr:BatchGetImage answers {code}")]);
            return (outcome, CachePull::Cached);
        }
        let why = facts.unknown_reason(
            &images_scope,
            format!("the images of {} were not read: aws ecr describe-images --registry-id {} --region {} --repository-name {} --image-ids {}", ecr.repository, crate::text::shell_arg(&ecr.account), crate::text::shell_arg(&ecr.region), crate::text::shell_arg(&ecr.repository), crate::text::shell_arg(&ecr.image_id_arg())),
        );
        let hint = (subject.pull_error == Some(PullError::NotFound)).then(|| {
            format!(
                "the event says not found: probably {}{} is missing",
                ecr.repository,
                ecr.version()
            )
        });
        return (unknown_or_pulled(subject, &why, hint), CachePull::Cached);
    };
    let found = images.iter().find(|i| i.is_image(ecr));
    if let Some(found) = found {
        return (
            Outcome::new(
                Status::Ok,
                format!(
                    "{}{} exists ({})",
                    ecr.repository,
                    ecr.version(),
                    short(&found.image_digest)
                ),
            ),
            CachePull::Cached,
        );
    }
    if cached {
        return (
            Outcome::new(
                Status::Ok,
                format!(
                    "{}{} is not cached yet; the pull-through cache imports it on the first pull",
                    ecr.repository,
                    ecr.version()
                ),
            ),
            CachePull::Import,
        );
    }
    let mut tags: Vec<&str> = images
        .iter()
        .flat_map(|i| i.image_tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    let evidence = vec![if tags.is_empty() {
        format!("repository {} holds no tagged image", ecr.repository)
    } else {
        format!("tags in {}: {}", ecr.repository, tags.join(", "))
    }];
    (
        missing_image(ecr, tags).with_evidence(evidence),
        CachePull::Cached,
    )
}

/// The image is not in its repository: by digest, or by tag with the nearest of `tags`.
pub(super) fn missing_image(ecr: &EcrImage, tags: Vec<&str>) -> Outcome {
    match &ecr.digest {
        Some(d) => Outcome::broken(
            Cause::ImageDigestMissing,
            format!("no image with digest {} in {}", short(d), ecr.repository),
        ),
        None => {
            let wanted = ecr.tag.as_deref().unwrap_or("latest");
            Outcome::broken(
                Cause::ImageTagMissing,
                format!(
                    "tag {wanted} does not exist in {}{}",
                    ecr.repository,
                    near_tag(wanted, tags.iter().copied())
                        .map(|near| format!("; did you mean {near}?"))
                        .unwrap_or_default()
                ),
            )
        }
    }
}

pub(super) fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}

/// The node's OS and architecture; Fargate runs linux/amd64 unless labelled otherwise.
pub fn node_platform(subject: &Subject<'_>) -> Option<(String, String)> {
    let node_name = subject.pod?.spec.as_ref()?.node_name.as_deref()?;
    let labels = subject
        .facts
        .nodes
        .get(node_name)?
        .metadata
        .labels
        .as_ref()?;
    let os = labels
        .get("kubernetes.io/os")
        .cloned()
        .unwrap_or_else(|| "linux".into());
    let arch = labels.get("kubernetes.io/arch")?.clone();
    Some((os, arch))
}

pub(super) fn platform(subject: &Subject<'_>, key: &RepoKey, ecr: &EcrImage) -> Outcome {
    let facts = subject.facts;
    let wanted = ecr
        .digest
        .clone()
        .or_else(|| ecr.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let media_type = facts.images.get(key).and_then(|images| {
        images
            .iter()
            .find(|i| i.image_digest == wanted || i.image_tags.contains(&wanted))
            .and_then(|i| i.image_manifest_media_type.clone())
    });
    let parsed = match facts.manifests.get(&(key.clone(), wanted)) {
        Some(text) => Some(manifest::parse(text)),
        None => match media_type.as_deref() {
            Some(m) if !m.contains("index") && !m.contains("list") => {
                Some(Ok(ManifestKind::Single))
            }
            _ => None,
        },
    };
    let Some(node) = node_platform(subject) else {
        return match parsed {
            Some(Ok(ManifestKind::Single)) => Outcome::new(Status::Ok, "single-platform image"),
            _ => unknown_or_pulled(
                subject,
                "the node's kubernetes.io/arch label was not read",
                None,
            ),
        };
    };
    let (os, arch) = node;
    match parsed {
        Some(Ok(ManifestKind::Single)) => Outcome::new(
            Status::Ok,
            "single-platform image: any node pulls it (a wrong architecture fails at start with exec format error, not at pull)",
        ),
        Some(Ok(ManifestKind::Index(platforms))) => {
            let offered = platforms
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            if manifest::offers(&platforms, &os, &arch) {
                Outcome::new(Status::Ok, format!("the image index offers {os}/{arch}"))
                    .with_evidence(vec![
                        format!("image: {offered}"),
                        format!("node: {os}/{arch}"),
                    ])
            } else {
                Outcome::broken(
                    Cause::PlatformMismatch,
                    format!("the image offers {offered}; the node is {os}/{arch}"),
                )
                .with_evidence(vec![
                    format!("image: {offered}"),
                    format!("node: {os}/{arch}"),
                ])
            }
        }
        Some(Err(e)) => Outcome::new(Status::Unknown, format!("the manifest does not parse: {e}")),
        None => {
            let why = manifest_not_read(subject, key, ecr);
            let hint = (subject.pull_error == Some(PullError::NoPlatformMatch))
                .then(|| format!("the event says the image has no build for {os}/{arch}"));
            unknown_or_pulled(subject, &why, hint)
        }
    }
}

/// Summaries of links that are `ok` only because the image was pulled already start so.
pub const PULLED_PREFIX: &str = "Pulled already: ";

/// Repository prefixes that pull-through cache rules conventionally use.
pub(super) const COMMON_CACHE_PREFIXES: [&str; 9] = [
    "ecr-public",
    "docker-hub",
    "quay",
    "ghcr",
    "k8s",
    "registry-k8s-io",
    "github",
    "gitlab",
    "azure",
];

/// A link whose facts are missing: `ok` if the image was pulled already, else `unknown` with
/// what would settle it and what the event suggests.
pub(super) fn unknown_or_pulled(subject: &Subject<'_>, why: &str, hint: Option<String>) -> Outcome {
    if subject.pulled {
        return Outcome {
            pulled: true,
            ..Outcome::new(
                Status::Ok,
                format!(
                    "{PULLED_PREFIX}the container's status carries an image ID, so this worked ({why})"
                ),
            )
        };
    }
    match hint {
        Some(h) => Outcome {
            hint: Some(h.clone()),
            ..Outcome::new(Status::Unknown, format!("{h}; to confirm: {why}"))
        },
        None => Outcome::new(Status::Unknown, why.to_string()),
    }
}

pub(super) fn event_evidence(subject: &Subject<'_>) -> Vec<String> {
    subject
        .event
        .iter()
        .map(|m| format!("event: {m}"))
        .collect()
}
