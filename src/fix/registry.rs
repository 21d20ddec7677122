//! Fixes of the image reference and the registry: the repository, the image, the archive, the
//! Pod Identity agent, another partition, AWS's add-on images.

use super::*;

/// The image reference and how the kubelet is told to pull it.
pub(super) fn reference_fixes(cause: Cause, subject: &Subject<'_>) -> Vec<Fix> {
    let ns = &subject.namespace;
    use Cause::*;
    match cause {
        InvalidImageName | ImageReferenceMalformed => vec![fix(
            cause,
            "Correct the image reference",
            false,
            vec![
                step(
                    format!("\"{}\" is not a valid reference: repository names are lowercase, a tag follows one colon, a digest is sha256: and 64 hex digits. Correct it in the workload.", subject.image),
                    Some(set_image(subject, "ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG")),
                ),
            ],
        )],
        ImageNeverPull => vec![fix(
            cause,
            "Let the kubelet pull the image",
            false,
            vec![step(
                "imagePullPolicy: Never only works when the image is already on the node. Use IfNotPresent.",
                controller(subject).map(|target| {
                    format!("kubectl -n {} patch {} --type strategic -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"containers\":[{{\"name\":\"{}\",\"imagePullPolicy\":\"IfNotPresent\"}}]}}}}}}}}'", crate::text::shell_arg(&ns), crate::text::shell_arg(&target), subject.container)
                }),
            )],
        )],
        RegistryHostNotCovered => {
            let suggestion = suggest_ecr_host(&subject.image);
            vec![fix(
                cause,
                "Use a registry host the node's credential provider covers",
                false,
                vec![step(
                    "The kubelet only fetches ECR credentials for hosts like ACCOUNT.dkr.ecr.REGION.amazonaws.com (and the dual-stack, FIPS, China and ISO forms). Any other host, even an alias of ECR, is pulled without credentials.",
                    Some(set_image(subject, suggestion.as_deref().unwrap_or("ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG"))),
                )],
            )]
        }
        RegistryInOtherPartition => partition_fixes(subject),
        PlatformMismatch if addon_image(subject).is_some() => {
            addon_image(subject).map_or_else(Vec::new, |e| addon_version_fixes(cause, subject, &e))
        }
        PlatformMismatch => vec![fix(
            cause,
            "Build the image for the node's platform, or schedule onto matching nodes",
            false,
            vec![
                step("Build and push a multi-platform image.", Some(format!("docker buildx build --platform linux/amd64,linux/arm64 -t {} --push .", crate::text::shell_arg(&subject.image)))),
                step(
                    "Or keep the pod on nodes of a platform the image offers.",
                    controller(subject).map(|t| format!("kubectl -n {} patch {} -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"nodeSelector\":{{\"kubernetes.io/arch\":\"amd64\"}}}}}}}}}}'", crate::text::shell_arg(&ns), crate::text::shell_arg(&t))),
                ),
            ],
        )],
        _ => Vec::new(),
    }
}

/// The repository and the image in it.
/// An archived image is restored to the standard storage class (a write), or pushed again.
pub(super) fn archive_fixes(subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
    let Some(e) = pull.ecr.as_ref() else {
        return Vec::new();
    };
    let Some(image) = crate::chain::pull_lane::archived_image(subject.facts, &RepoKey::of(e), e)
    else {
        return Vec::new();
    };
    let quoted = |s: &str| crate::text::shell_arg(s);
    if image.image_status.as_deref() == Some("ACTIVATING") {
        return vec![fix(
            Cause::ImageArchived,
            "Wait for the restore to finish",
            false,
            vec![step(
                "The image is being restored from the archive; the kubelet's next try after its status reads ACTIVE succeeds. Watch it:",
                Some(format!(
                    "aws ecr describe-images --registry-id {} --region {} --repository-name {} --image-ids {} --query 'imageDetails[].imageStatus'",
                    quoted(&e.account),
                    quoted(&e.region),
                    quoted(&e.repository),
                    quoted(&format!("imageDigest={}", image.image_digest))
                )),
            )],
        )];
    }
    let mut restore = applied(
        step(
            "Restore the image to the standard storage class (ECR's archive keeps it listed but refuses pulls); the restore takes a while, during which its status reads ACTIVATING. If a lifecycle rule archived it, exclude the tag from the rule, or it archives the image again.",
            None,
        ),
        Apply::RestoreImage {
            registry: e.account.clone(),
            region: e.region.clone(),
            repository: e.repository.clone(),
            digest: image.image_digest.clone(),
        },
    );
    restore.current = Some("ARCHIVE".to_string());
    vec![
        fix(
            Cause::ImageArchived,
            "Restore the image from ECR's archive",
            true,
            vec![restore],
        ),
        fix(
            Cause::ImageArchived,
            "Push the image again",
            false,
            vec![step(
                "A new push lands in the standard storage class.",
                Some(format!("docker push {}", quoted(&subject.image))),
            )],
        ),
    ]
}

pub(super) fn registry_fixes(cause: Cause, subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
    let ecr = pull.ecr.as_ref();
    use Cause::*;
    match cause {
        RepositoryMissing => {
            let Some(e) = ecr else { return Vec::new() };
            let key = RepoKey {
                registry: e.account.clone(),
                region: e.region.clone(),
                name: e.repository.clone(),
            };
            // A typo is corrected in the workload, never created as a repository of its own.
            let corrected = crate::chain::pull_lane::near_repository(subject.facts, &key).map(|near| {
                fix(
                    cause,
                    format!("Point the workload at {near}"),
                    false,
                    vec![step(
                        format!(
                            "Repository {} does not exist, and {near} does: the reference has a typo. Correct it in the workload.",
                            e.repository
                        ),
                        Some(set_image(subject, &format!("{}/{near}{}", e.host, e.version()))),
                    )],
                )
            });
            corrected.into_iter().chain([fix(
                cause,
                format!(
                    "Create repository {} or correct the reference",
                    e.repository
                ),
                true,
                vec![
                    step(
                        format!(
                            "Repository {} does not exist in {} {}. If the reference has a typo, correct the workload instead.",
                            e.repository, e.account, e.region
                        ),
                        Some(format!(
                            "aws ecr create-repository --registry-id {} --region {} --repository-name {}",
                            crate::text::shell_arg(&e.account),
                            crate::text::shell_arg(&e.region),
                            crate::text::shell_arg(&e.repository)
                        )),
                    ),
                    step(
                        "Then push the image.",
                        Some(format!(
                            "docker push {}",
                            crate::text::shell_arg(&subject.image)
                        )),
                    ),
                ],
            )]).collect()
        }
        ImageTagMissing | ImageDigestMissing => {
            let Some(e) = ecr else { return Vec::new() };
            if e.in_addon_registry() {
                return addon_version_fixes(cause, subject, e);
            }
            vec![fix(
                cause,
                "Push the image or point the workload at one that exists",
                false,
                vec![
                    step(
                        format!(
                            "{}{} is not in the repository (a typo, a push that never ran, or a lifecycle policy expired it). List what is there:",
                            e.repository,
                            e.version()
                        ),
                        Some(format!(
                            "aws ecr describe-images --registry-id {} --region {} --repository-name {} --query 'sort_by(imageDetails,&imagePushedAt)[-10:].imageTags'",
                            crate::text::shell_arg(&e.account),
                            crate::text::shell_arg(&e.region),
                            crate::text::shell_arg(&e.repository)
                        )),
                    ),
                    match near_tag(subject, e) {
                        Some(near) => step(
                            format!(
                                "Tag {near} exists a typo away: correct the workload's reference."
                            ),
                            Some(set_image(
                                subject,
                                &format!("{}/{}:{near}", e.host, e.repository),
                            )),
                        ),
                        None => step(
                            "Point the workload at an existing tag, or push the missing one.",
                            Some(set_image(
                                subject,
                                &format!("{}/{}:EXISTING_TAG", e.host, e.repository),
                            )),
                        ),
                    },
                ]
                .into_iter()
                .chain(history_steps(subject, e))
                .collect(),
            )]
        }
        _ => Vec::new(),
    }
}

/// The Pod Identity Agent: install the add-on where its DaemonSet is missing, else see why its
/// pods are not ready. Pods need no restart: the agent answers the URI they already have.
pub(super) fn agent_fixes(subject: &Subject<'_>) -> Vec<Fix> {
    let cause = Cause::PodIdentityAgentMissing;
    let facts = subject.facts;
    if facts.pod_identity_agent.is_some() {
        return vec![fix(
            cause,
            "Find why the Pod Identity Agent's pods are not ready",
            false,
            vec![step(
                "The DaemonSet exists but none of its pods is ready: its events and pods say why (an image it cannot pull, a node selector no node matches, host port 80 on 169.254.170.23 taken).",
                Some(
                    "kubectl -n kube-system describe daemonset eks-pod-identity-agent".to_string(),
                ),
            )],
        )];
    }
    vec![fix(
        cause,
        "Install the EKS Pod Identity Agent add-on",
        false,
        vec![step(
            "Pod Identity associations give credentials only through the agent on each node. Once its pods run, the containers' credential URI answers (no restart needed).",
            Some(format!(
                "aws eks create-addon --region {} --cluster-name {} --addon-name eks-pod-identity-agent",
                crate::text::shell_arg(&facts.region().unwrap_or_else(|| "REGION".to_string())),
                crate::text::shell_arg(&facts.cluster_name())
            )),
        )],
    )]
}

/// An image of another partition's registry: AWS publishes add-on images in every partition, so
/// the cluster's own Region has them; any other image must be copied across.
fn partition_fixes(subject: &Subject<'_>) -> Vec<Fix> {
    use crate::ecr::reference::{addon_registry_of, registry_host};
    let cause = Cause::RegistryInOtherPartition;
    let Ok(crate::ecr::reference::ImageRef::Ecr(e)) = &subject.image_ref else {
        return Vec::new();
    };
    let region = subject
        .facts
        .region()
        .unwrap_or_else(|| "REGION".to_string());
    let version = match (&e.digest, &e.tag) {
        (Some(_), _) | (None, None) => ":TAG".to_string(),
        (None, Some(tag)) => format!(":{tag}"),
    };
    if e.in_addon_registry() {
        let host = registry_host(addon_registry_of(&region), &region);
        let image = format!("{host}/{}{version}", e.repository);
        return vec![fix(
            cause,
            format!("Pull the add-on image from {region}'s own add-on registry"),
            false,
            vec![step(
                format!(
                    "AWS publishes the EKS add-on images in every partition: {region}'s registry is {host} (a digest differs between registries, so name the tag)."
                ),
                Some(set_image(subject, &image)),
            )],
        )];
    }
    let account = subject
        .facts
        .account()
        .unwrap_or_else(|| "ACCOUNT".to_string());
    let host = registry_host(&account, &region);
    vec![fix(
        cause,
        format!("Copy the image into a registry of the cluster's partition ({region})"),
        false,
        vec![
            step(
                format!(
                    "Credentials of one partition are not valid in another: copy the image into a registry of the cluster's, with a tool holding credentials of both (pull from {}, push to {host}).",
                    e.host
                ),
                Some(format!(
                    "aws ecr create-repository --region {} --repository-name {}",
                    crate::text::shell_arg(&region),
                    crate::text::shell_arg(&e.repository)
                )),
            ),
            step(
                "Then point the workload at the copy.",
                Some(set_image(
                    subject,
                    &format!("{host}/{}{version}", e.repository),
                )),
            ),
        ],
    )]
}

/// The image, when it is one of AWS's EKS add-on registries.
fn addon_image(subject: &Subject<'_>) -> Option<EcrImage> {
    match &subject.image_ref {
        Ok(crate::ecr::reference::ImageRef::Ecr(e)) if e.in_addon_registry() => Some(e.clone()),
        _ => None,
    }
}

/// The EKS add-on that ships an image of AWS's add-on registries, by repository.
fn addon_of(repository: &str) -> Option<&'static str> {
    match repository {
        "amazon-k8s-cni" | "amazon-k8s-cni-init" | "amazon/aws-network-policy-agent" => {
            Some("vpc-cni")
        }
        "eks/coredns" => Some("coredns"),
        "eks/kube-proxy" => Some("kube-proxy"),
        "eks/aws-ebs-csi-driver" => Some("aws-ebs-csi-driver"),
        "eks/aws-efs-csi-driver" => Some("aws-efs-csi-driver"),
        "eks/eks-pod-identity-agent" => Some("eks-pod-identity-agent"),
        _ => None,
    }
}

/// An image of AWS's add-on registries is AWS's to build and cannot be listed or pushed: the
/// versions EKS publishes for the add-on are what there is to choose from.
fn addon_version_fixes(cause: Cause, subject: &Subject<'_>, e: &EcrImage) -> Vec<Fix> {
    let addon = addon_of(&e.repository);
    let region = crate::text::shell_arg(&e.region);
    let versions = match addon {
        Some(name) => format!(
            "aws eks describe-addon-versions --region {region} --addon-name {} --query 'addons[].addonVersions[].addonVersion'",
            crate::text::shell_arg(name)
        ),
        None => format!(
            "aws eks describe-addon-versions --region {region} --query 'addons[].{{name:addonName,versions:addonVersions[].addonVersion}}'"
        ),
    };
    let why = match cause {
        Cause::PlatformMismatch => format!(
            "AWS builds {} for the platforms it lists; another version of the add-on may offer the node's. AWS's registry {} cannot be listed: the add-on's versions are what EKS publishes:",
            e.repository, e.account
        ),
        _ => format!(
            "{}{} is not in AWS's registry {}, which cannot be listed: the add-on's versions are what EKS publishes:",
            e.repository,
            e.version(),
            e.account
        ),
    };
    let choose = match addon {
        Some(name) => step(
            "A managed add-on: update it to one of them (EKS sets the image). A self-managed one: point the workload at that version's tag.",
            Some(format!(
                "aws eks update-addon --region {region} --cluster-name {} --addon-name {} --addon-version VERSION",
                crate::text::shell_arg(&subject.facts.cluster_name()),
                crate::text::shell_arg(name)
            )),
        ),
        None => step(
            "Point the workload at a version that exists.",
            Some(set_image(
                subject,
                &format!("{}/{}:VERSION", e.host, e.repository),
            )),
        ),
    };
    let mut steps = vec![step(why, Some(versions)), choose];
    if cause == Cause::PlatformMismatch {
        steps.push(step(
            "Or keep the pod on nodes of a platform the image offers (the platform link lists them).",
            None,
        ));
    }
    vec![fix(
        cause,
        match addon {
            Some(name) => format!("Use a version of the {name} add-on that exists for these nodes"),
            None => "Use a version of the add-on that exists for these nodes".to_string(),
        },
        false,
        steps,
    )]
}

/// What follows from how the image went, as CloudTrail recorded it; without a record, where to
/// look.
fn history_steps(subject: &Subject<'_>, e: &EcrImage) -> Vec<Step> {
    use crate::chain::history::{Fate, fates, rule_words};
    let repository = format!(
        "--registry-id {} --region {} --repository-name {}",
        crate::text::shell_arg(&e.account),
        crate::text::shell_arg(&e.region),
        crate::text::shell_arg(&e.repository)
    );
    let fates = fates(subject.facts, e);
    if fates.is_empty() {
        return vec![step(
            "If a lifecycle policy removed it, check its rules.",
            Some(format!("aws ecr get-lifecycle-policy {repository}")),
        )];
    }
    fates
        .iter()
        .map(|fate| match fate {
            Fate::Expired { rule, event, .. } => step(
                format!(
                    "{} expired it at {}. {}",
                    rule.map_or_else(|| "A lifecycle rule".to_string(), rule_words),
                    event.time,
                    // A rule for untagged images expires what no tag names any more: the tags
                    // are not the rule's to keep.
                    if rule.is_some_and(|r| r.selection.to_ascii_lowercase().starts_with("untagged")) {
                        "The rule expires images no tag names: push it again with a tag, and pin workloads by digest only to images a tag keeps."
                    } else {
                        "Push it again, and keep the rule from expiring what workloads still run: exclude their tags from it (tagPatternList) or count more."
                    }
                ),
                Some(format!("aws ecr get-lifecycle-policy {repository}")),
            ),
            Fate::Deleted { event } => step(
                format!(
                    "{} deleted it at {}. Push it again, or point the workload at an image that exists.",
                    event.principal.as_deref().unwrap_or("Someone"),
                    event.time
                ),
                None,
            ),
            Fate::Moved { event, digest } => step(
                format!(
                    "A push at {} moved tag {} onto another image, leaving the pinned one untagged. Pin the workload to the image the tag names now, by digest.",
                    event.time,
                    e.tag.as_deref().unwrap_or("latest")
                ),
                Some(set_image(
                    subject,
                    &format!(
                        "{}/{}@{}",
                        e.host,
                        e.repository,
                        digest.unwrap_or("DIGEST_THE_TAG_NAMES_NOW")
                    ),
                )),
            ),
        })
        .chain(fates.iter().any(|f| matches!(f, Fate::Moved { .. })).then(|| {
            step(
                "Make the repository's tags immutable, so a push cannot move one under a running workload again.",
                Some(format!(
                    "aws ecr put-image-tag-mutability {repository} --image-tag-mutability IMMUTABLE"
                )),
            )
        }))
        .collect()
}

/// A tag of the repository a typo away from the one the image names.
fn near_tag(subject: &Subject<'_>, e: &EcrImage) -> Option<String> {
    let wanted = e.tag.as_deref().filter(|_| e.digest.is_none())?;
    let key = RepoKey {
        registry: e.account.clone(),
        region: e.region.clone(),
        name: e.repository.clone(),
    };
    let images = subject.facts.images.get(&key)?;
    let tags = images
        .iter()
        .flat_map(|i| i.image_tags.iter().map(String::as_str));
    crate::chain::pull_lane::near_tag(wanted, tags).map(str::to_string)
}

/// `111122223333.dkr.ecr.us-east-1.amazon.com/web:1` → the `.amazonaws.com` form.
pub(super) fn suggest_ecr_host(image: &str) -> Option<String> {
    let (host, rest) = image.split_once('/')?;
    let mut labels = host.split('.');
    let account = labels.next()?;
    let _dkr = labels.next()?;
    let _ecr = labels.next()?;
    let region = labels.next()?;
    if account.len() != 12 {
        return None;
    }
    Some(format!("{account}.dkr.ecr.{region}.amazonaws.com/{rest}"))
}
