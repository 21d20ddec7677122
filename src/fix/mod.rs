//! Fix plans for a broken link: why, the exact commands with the real names filled in, and for
//! a changed document the proposed document and its diff. Nothing here writes.

pub mod apply;
pub mod command;
pub mod documents;
mod ec2_writes;
mod ecr_writes;
pub mod guard;
mod iam_writes;
mod kube_writes;
mod network;
pub mod plan_file;
pub mod write_plan;

use crate::chain::Subject;
use crate::chain::access::CachePull;
use crate::chain::identity_lane::{AppIdentity, IdentityLane, ROLE_ANNOTATION};
use crate::chain::pull_lane::PullLane;
use crate::ecr::reference::EcrImage;
use crate::facts::{Fact, RepoKey, Role};
use crate::iam::arn;
use crate::iam::managed::PULL_ONLY;
use crate::iam::policy::PolicyDocument;
use crate::report::{Apply, Cause, Fix, Link, Step};
use documents::SCOPED_POLICY_NAME;

fn step(explain: impl Into<String>, command: Option<String>) -> Step {
    Step {
        explain: explain.into(),
        command,
        document: None,
        diff: None,
        current: None,
        apply: None,
    }
}

/// A step that pulldoctor can carry out with `fix --allow-writes`; its command is the write's
/// own (see [`command`]), with the step's document as an annotation's value.
fn applied(mut step: Step, apply: Apply) -> Step {
    step.command = Some(command::line(
        &apply,
        &command::default_file(&apply),
        step.document.as_deref(),
    ));
    step.apply = Some(apply);
    step
}

/// A step that writes `proposed` in place of `current`, with its diff.
fn document_step(
    explain: impl Into<String>,
    current: Option<&PolicyDocument>,
    proposed: &PolicyDocument,
) -> Step {
    let proposed_text = proposed.to_pretty_json();
    let current_text = current.map(|d| d.to_pretty_json()).unwrap_or_default();
    Step {
        explain: explain.into(),
        command: None,
        diff: Some(documents::diff(&current_text, &proposed_text)),
        document: Some(proposed_text),
        current: current.map(|_| current_text),
        apply: None,
    }
}

fn fix(cause: Cause, title: impl Into<String>, writes: bool, steps: Vec<Step>) -> Fix {
    Fix {
        cause,
        title: title.into(),
        writes,
        steps,
        target_chosen_by: None,
    }
}

/// Fixes of the pull identity when a ServiceAccount annotation named it: the plan and each diff
/// say who chose the target.
fn mark_tenant_target(subject: &Subject<'_>, cause: Cause, fixes: &mut [Fix]) {
    use Cause::*;
    let pull_identity_cause = matches!(
        cause,
        RoleMissingEcrPull
            | PullPermissionMissing
            | AuthTokenNotWildcard
            | PullThroughCacheImportMissing
            | PullBoundaryDenies
            | CrossAccountNotAllowed
    );
    let Some(annotated) = subject.annotated_pull_role.as_ref().filter(|a| a.in_use()) else {
        return;
    };
    if !pull_identity_cause {
        return;
    }
    let chosen_by = format!(
        "role {} is named by the annotation {} of ServiceAccount {}/{}, which anyone who may edit ServiceAccounts in {} can change",
        annotated.arn,
        crate::chain::pull_identity::ECR_ROLE_ANNOTATION,
        subject.namespace,
        subject.service_account_name,
        subject.namespace
    );
    for fix in fixes {
        for step in &mut fix.steps {
            if let Some(diff) = &mut step.diff {
                *diff = format!("# target chosen by tenant-writable metadata: {chosen_by}\n{diff}");
            }
        }
        fix.target_chosen_by = Some(chosen_by.clone());
    }
}

/// The pod's name, or `POD` for a workload's finding.
fn pod_name<'a>(subject: &Subject<'a>) -> &'a str {
    subject
        .pod
        .map(crate::facts::kube::name_of)
        .unwrap_or("POD")
}

/// `deployment/web` for `kubectl rollout restart` / `set image`, when the pod has a controller.
fn controller(subject: &Subject<'_>) -> Option<String> {
    let workload = subject.workload.as_deref()?;
    let (kind, name) = workload.split_once('/')?;
    Some(format!("{}/{name}", kind.to_ascii_lowercase()))
}

fn set_image(subject: &Subject<'_>, image: &str) -> String {
    let ns = &subject.namespace;
    match controller(subject) {
        Some(target) => format!(
            "kubectl -n {} set image {} {}={}",
            crate::text::shell_arg(&ns),
            crate::text::shell_arg(&target),
            crate::text::shell_arg(&subject.container),
            crate::text::shell_arg(&image)
        ),
        None => format!(
            "kubectl -n {} edit pod {}",
            crate::text::shell_arg(&ns),
            crate::text::shell_arg(pod_name(subject))
        ),
    }
}

pub fn plan(
    subject: &Subject<'_>,
    link: &Link,
    pull: &PullLane,
    identity: &IdentityLane,
) -> Vec<Fix> {
    let Some(cause) = link.cause else {
        return Vec::new();
    };
    let mut fixes = plan_for(cause, subject, link, pull, identity);
    mark_tenant_target(subject, cause, &mut fixes);
    fixes
}

fn plan_for(
    cause: Cause,
    subject: &Subject<'_>,
    link: &Link,
    pull: &PullLane,
    identity: &IdentityLane,
) -> Vec<Fix> {
    use Cause::*;
    match cause {
        InvalidImageName
        | ImageReferenceMalformed
        | ImageNeverPull
        | RegistryHostNotCovered
        | RegistryInOtherPartition
        | PlatformMismatch => reference_fixes(cause, subject),
        ServiceAccountMissing
        | RoleArnMalformed
        | PodPredatesAnnotation
        | PodRoleMismatch
        | RoleMissing
        | TrustWrongProvider
        | TrustWrongSubject
        | TrustWrongAudience
        | TrustWrongAction
        | TrustConditionKeyHasScheme
        | TrustWildcardInStringequals
        | TrustNoAudienceCondition
        | TrustPodIdentityPrincipalMissing => identity_fixes(cause, subject, identity),
        OidcProviderMissing | OidcProviderAudienceMissing => oidc_fixes(cause, subject, identity),
        RoleMissingEcrPull
        | PullPermissionMissing
        | AuthTokenNotWildcard
        | PullThroughCacheImportMissing
        | PullExplicitDeny
        | RepositoryPolicyDenies
        | PullBoundaryDenies
        | NodeRoleUnresolved
        | NodeRoleMissing
        | CrossAccountNotAllowed => access_fixes(cause, link, subject, pull, identity),
        RepositoryMissing | ImageTagMissing | ImageDigestMissing => {
            registry_fixes(cause, subject, pull)
        }
        ImageArchived => archive_fixes(subject, pull),
        PodIdentityAgentMissing => agent_fixes(subject),
        NetworkUnreachable | LayerDownloadDenied | RateLimited => {
            network_fixes(cause, subject, pull)
        }
        NoRouteToRegistry
        | VpcEndpointMissing
        | VpcEndpointPrivateDnsDisabled
        | VpcEndpointNotInAz
        | S3GatewayNotOnRouteTable
        | VpcEndpointPolicyDenies
        | VpcEndpointSecurityGroupBlocks
        | NetworkAclBlocks => network::path_fixes(cause, &link.summary, pull),
        NodeDiskFull | NodeNotReady | SandboxImageNotCached => node_fixes(cause, subject),
        PullThroughCacheUpstreamAuthFailed | PullThroughCacheUpstreamRateLimited => {
            upstream_fixes(cause, pull)
        }
    }
}

/// The image reference and how the kubelet is told to pull it.
fn reference_fixes(cause: Cause, subject: &Subject<'_>) -> Vec<Fix> {
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

/// The app-identity lane: the ServiceAccount, its annotation or association, the role, its trust and the OIDC provider.
fn identity_fixes(cause: Cause, subject: &Subject<'_>, identity: &IdentityLane) -> Vec<Fix> {
    let (facts, ns, sa) = (
        subject.facts,
        &subject.namespace,
        &subject.service_account_name,
    );
    use Cause::*;
    match cause {
        ServiceAccountMissing => vec![fix(
            cause,
            format!("Create ServiceAccount {ns}/{sa}"),
            true,
            vec![Step {
                explain: format!(
                    "Pods name ServiceAccount {sa}, which does not exist in {ns}; the controller cannot create them until it does. If the pod should have an AWS identity, annotate it afterwards."
                ),
                command: Some(format!(
                    "kubectl -n {} create serviceaccount {}",
                    crate::text::shell_arg(&ns),
                    crate::text::shell_arg(&sa)
                )),
                document: Some(format!(
                    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {sa}\n  namespace: {ns}\n"
                )),
                diff: None,
                current: None,
                apply: None,
            }],
        )],
        RoleArnMalformed => {
            let value = match &identity.identity {
                AppIdentity::Malformed(v) => v.clone(),
                _ => String::new(),
            };
            let partition = facts.partition();
            let account = facts.account();
            let corrected =
                correct_role_arn(&value, account.as_deref().map(|a| (partition.as_str(), a)));
            let mut annotate = step(
                format!("{ROLE_ANNOTATION} must be a full role ARN; \"{value}\" is not one."),
                Some(format!(
                    "kubectl -n {} annotate serviceaccount {} {}={} --overwrite",
                    crate::text::shell_arg(&ns),
                    crate::text::shell_arg(&sa),
                    crate::text::shell_arg(&ROLE_ANNOTATION),
                    crate::text::shell_arg(
                        &corrected
                            .as_deref()
                            .unwrap_or("arn:aws:iam::ACCOUNT:role/ROLE")
                    )
                )),
            );
            // Applied only where the right ARN is clear (a bare role name in the cluster's account).
            if let Some(arn) = &corrected {
                annotate.current = Some(value.clone());
                annotate.document = Some(arn.clone());
                annotate.diff = Some(documents::diff(&format!("{value}\n"), &format!("{arn}\n")));
                annotate = applied(
                    annotate,
                    Apply::AnnotateServiceAccount {
                        namespace: ns.clone(),
                        name: sa.clone(),
                        key: ROLE_ANNOTATION.to_string(),
                    },
                );
            }
            vec![fix(
                cause,
                "Correct the role annotation",
                true,
                vec![annotate],
            )]
        }
        PodPredatesAnnotation | PodRoleMismatch => {
            let explain = "The pod identity webhook sets credentials only when a pod is created; pods created before the annotation or association keep what they had.";
            let restart = match subject.workload.as_deref().and_then(|w| w.split_once('/')) {
                Some((kind @ ("Deployment" | "StatefulSet" | "DaemonSet"), name)) => applied(
                    step(explain, None),
                    Apply::RolloutRestart {
                        namespace: ns.clone(),
                        kind: kind.to_string(),
                        name: name.to_string(),
                    },
                ),
                // A bare pod is not recreated by anyone: deleting it is for the user to decide.
                _ => step(
                    format!("{explain} Recreate the pod from its manifest."),
                    Some(format!(
                        "kubectl -n {} delete pod {} && kubectl apply -f POD_MANIFEST.yaml",
                        crate::text::shell_arg(&ns),
                        crate::text::shell_arg(pod_name(subject))
                    )),
                ),
            };
            vec![fix(
                cause,
                "Recreate the pods so the webhook injects the current identity",
                true,
                vec![restart],
            )]
        }
        RoleMissing => role_missing(identity),
        TrustWrongProvider
        | TrustWrongSubject
        | TrustWrongAudience
        | TrustWrongAction
        | TrustConditionKeyHasScheme
        | TrustWildcardInStringequals
        | TrustNoAudienceCondition
        | TrustPodIdentityPrincipalMissing => trust_fix(subject, identity, cause),
        _ => Vec::new(),
    }
}

/// What the pull identity may do: its permissions, denies, boundary, and who it is.
fn access_fixes(
    cause: Cause,
    link: &Link,
    subject: &Subject<'_>,
    pull: &PullLane,
    identity: &IdentityLane,
) -> Vec<Fix> {
    let (facts, ecr) = (subject.facts, pull.ecr.as_ref());
    use Cause::*;
    match cause {
        RoleMissingEcrPull => match (identity.identity.role_arn().map(|a| facts.role(a)), ecr) {
            (Some(Fact::Known(role)), Some(ecr)) => permission_fixes(cause, role, ecr, pull.cache),
            _ => Vec::new(),
        },
        PullPermissionMissing | AuthTokenNotWildcard | PullThroughCacheImportMissing => {
            pull_identity_role(subject, pull)
                .zip(ecr)
                .map(|(role, ecr)| permission_fixes(cause, role, ecr, pull.cache))
                .unwrap_or_default()
        }
        PullExplicitDeny | RepositoryPolicyDenies => vec![fix(
            cause,
            "Review the explicit deny",
            false,
            vec![step(
                format!("{} An explicit deny wins over every allow, and pulldoctor never removes one for you: it may be deliberate (a guard rail). Ask its owner, then edit that statement.", crate::text::sentence(&link.summary)),
                ecr.map(|e| if cause == RepositoryPolicyDenies {
                    format!("aws ecr get-repository-policy --registry-id {} --region {} --repository-name {}", crate::text::shell_arg(&e.account), crate::text::shell_arg(&e.region), crate::text::shell_arg(&e.repository))
                } else {
                    let role = pull_identity_role(subject, pull).map(|r| r.name.clone()).unwrap_or_else(|| "ROLE".into());
                    format!("aws iam list-role-policies --role-name {}; aws iam list-attached-role-policies --role-name {}", crate::text::shell_arg(&role), crate::text::shell_arg(&role))
                }),
            )],
        )],
        PullBoundaryDenies => boundary_fix(subject, pull),
        NodeRoleUnresolved => vec![fix(
            cause,
            "Find the node's IAM role",
            false,
            vec![
                step(
                    "The node carries no label that names its role. Read the instance profile of the node's EC2 instance, then map that role as a node (access entry of type EC2_LINUX, or aws-auth with system:nodes).",
                    Some("aws ec2 describe-instances --instance-ids INSTANCE_ID --query 'Reservations[].Instances[].IamInstanceProfile.Arn'".to_string()),
                ),
                step(
                    "Then grant it ECR pulls.",
                    Some(format!("aws eks create-access-entry --cluster-name {} --principal-arn NODE_ROLE_ARN --type EC2_LINUX", crate::text::shell_arg(&facts.cluster_name()))),
                ),
            ],
        )],
        NodeRoleMissing => {
            let role_arn = subject.pull_identity.roles().first().cloned().unwrap_or_default();
            let role = arn::role_name_of(&role_arn);
            let service = match subject.pull_identity.kind() {
                crate::report::PullIdentityKind::FargateRole => "eks-fargate-pods.amazonaws.com",
                _ => "ec2.amazonaws.com",
            };
            let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]});
            let mut recreate = step(
                format!("The role the nodes pull with no longer exists; new credentials cannot be issued. Recreate it (trusting {service}) with {PULL_ONLY} attached, or move the nodes to a node group with a valid role."),
                Some(format!("aws iam create-role --role-name {} --assume-role-policy-document file://node-trust-policy.json && aws iam attach-role-policy --role-name {} --policy-arn {}", crate::text::shell_arg(&role), crate::text::shell_arg(&role), crate::text::shell_arg(&arn::iam(&arn::partition_of(&role_arn), "aws", &format!("policy/{PULL_ONLY}"))))),
            );
            recreate.document = serde_json::to_string_pretty(&trust).ok();
            vec![fix(cause, format!("Recreate the pull identity {role}"), true, vec![recreate])]
        }
        CrossAccountNotAllowed => cross_account_fix(subject, pull),
        _ => Vec::new(),
    }
}

/// The repository and the image in it.
/// An archived image is restored to the standard storage class (a write), or pushed again.
fn archive_fixes(subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
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

fn registry_fixes(cause: Cause, subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
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
                    step(
                        "If a lifecycle policy removed it, check its rules.",
                        Some(format!(
                            "aws ecr get-lifecycle-policy --registry-id {} --region {} --repository-name {}",
                            crate::text::shell_arg(&e.account),
                            crate::text::shell_arg(&e.region),
                            crate::text::shell_arg(&e.repository)
                        )),
                    ),
                ],
            )]
        }
        _ => Vec::new(),
    }
}

/// The Pod Identity Agent: install the add-on where its DaemonSet is missing, else see why its
/// pods are not ready. Pods need no restart: the agent answers the URI they already have.
fn agent_fixes(subject: &Subject<'_>) -> Vec<Fix> {
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

/// The path from the nodes to the registry.
fn network_fixes(cause: Cause, subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
    let (facts, ecr) = (subject.facts, pull.ecr.as_ref());
    use Cause::*;
    match cause {
        NetworkUnreachable => {
            let region = ecr
                .map(|e| e.region.clone())
                .or_else(|| facts.region())
                .unwrap_or_else(|| "REGION".into());
            vec![fix(
                cause,
                "Give the nodes a path to ECR",
                false,
                vec![step(
                    format!(
                        "Nodes in private subnets need a NAT gateway or interface endpoints com.amazonaws.{region}.ecr.api and com.amazonaws.{region}.ecr.dkr plus the S3 gateway endpoint, with security groups allowing 443 from the nodes."
                    ),
                    Some(format!(
                        "aws ec2 describe-vpc-endpoints --region {} --filters Name=service-name,Values=com.amazonaws.{}.ecr.api,com.amazonaws.{}.ecr.dkr,com.amazonaws.{}.s3",
                        crate::text::shell_arg(&region),
                        crate::text::shell_arg(&region),
                        crate::text::shell_arg(&region),
                        crate::text::shell_arg(&region)
                    )),
                )],
            )]
        }
        LayerDownloadDenied => {
            let region = ecr
                .map(|e| e.region.clone())
                .unwrap_or_else(|| "REGION".into());
            vec![fix(
                cause,
                "Allow ECR's layer bucket through the S3 endpoint",
                false,
                vec![step(
                    format!(
                        "Layers come from the bucket prod-{region}-starport-layer-bucket; an S3 gateway endpoint policy must allow s3:GetObject on arn:aws:s3:::prod-{region}-starport-layer-bucket/*."
                    ),
                    Some(format!(
                        "aws ec2 describe-vpc-endpoints --region {} --filters Name=service-name,Values=com.amazonaws.{}.s3 --query 'VpcEndpoints[].PolicyDocument'",
                        crate::text::shell_arg(&region),
                        crate::text::shell_arg(&region)
                    )),
                )],
            )]
        }
        RateLimited => vec![fix(
            cause,
            "Reduce or authenticate the pulls",
            false,
            vec![step(
                "The registry throttles: authenticate pulls from public registries, cache them in ECR with a pull-through cache rule, or stagger node launches. The kubelet retries with back-off on its own.",
                None,
            )],
        )],
        _ => Vec::new(),
    }
}

/// The cluster's IAM OIDC provider, which STS trusts service-account tokens through.
fn oidc_fixes(cause: Cause, subject: &Subject<'_>, identity: &IdentityLane) -> Vec<Fix> {
    let facts = subject.facts;
    use Cause::*;
    match cause {
        OidcProviderMissing => {
            let issuer = match facts.issuer() {
                Fact::Known(i) => i.to_string(),
                _ => "ISSUER_URL".to_string(),
            };
            vec![fix(
                cause,
                "Create the IAM OIDC provider for the cluster's issuer",
                true,
                vec![applied(
                    step(
                        "STS trusts a service-account token only through an IAM OIDC provider for the cluster's issuer, in the account of the role.",
                        None,
                    ),
                    Apply::CreateOpenIdConnectProvider {
                        account: identity
                            .identity
                            .role_arn()
                            .and_then(arn::account_of)
                            .unwrap_or_default(),
                        url: issuer.clone(),
                        client_id: "sts.amazonaws.com".to_string(),
                    },
                )],
            )]
        }
        OidcProviderAudienceMissing => {
            let (provider, audience) = match &identity.identity {
                AppIdentity::Irsa { role_arn, audience } => match facts.issuer() {
                    Fact::Known(i) => (
                        crate::chain::identity_lane::provider_arn(i, role_arn),
                        audience.clone(),
                    ),
                    _ => ("PROVIDER_ARN".to_string(), audience.clone()),
                },
                _ => ("PROVIDER_ARN".to_string(), "sts.amazonaws.com".to_string()),
            };
            vec![fix(
                cause,
                format!("Add the audience {audience} to the OIDC provider"),
                true,
                vec![applied(
                    step(
                        "The token's audience must be one of the provider's client IDs.",
                        None,
                    ),
                    Apply::AddClientId {
                        provider_arn: provider.clone(),
                        client_id: audience.clone(),
                    },
                )],
            )]
        }
        _ => Vec::new(),
    }
}

/// The node: its disk, its readiness. Guided only: pulldoctor does not touch nodes.
fn node_fixes(cause: Cause, subject: &Subject<'_>) -> Vec<Fix> {
    let node = subject
        .pod
        .and_then(|p| p.spec.as_ref()?.node_name.clone())
        .unwrap_or_else(|| "NODE".to_string());
    let replace = step(
        "Or move the pods off it and let the node group replace it.",
        Some(format!(
            "kubectl cordon {} && kubectl drain {} --ignore-daemonsets --delete-emptydir-data",
            crate::text::shell_arg(&node),
            crate::text::shell_arg(&node)
        )),
    );
    let look = step(
        "See the node's conditions and what it reports.",
        Some(format!(
            "kubectl describe node {}",
            crate::text::shell_arg(&node)
        )),
    );
    match cause {
        Cause::NodeDiskFull => vec![fix(
            cause,
            format!("Free or grow the image store of node {node}"),
            false,
            vec![
                look,
                step(
                    "Remove unused images on the node (through SSM or SSH), or lower the kubelet's imageGCHighThresholdPercent so it collects them sooner.",
                    Some("sudo crictl rmi --prune".to_string()),
                ),
                step(
                    "Give the nodes a larger root volume: the node group's disk size or its launch template's block device.",
                    None,
                ),
                replace,
            ],
        )],
        Cause::SandboxImageNotCached => {
            let region = match &subject.image_ref {
                Ok(crate::ecr::reference::ImageRef::Ecr(e)) => e.region.clone(),
                _ => "REGION".to_string(),
            };
            vec![fix(
                cause,
                format!("Put the sandbox image back on node {node}"),
                false,
                vec![
                    step(
                        "Pull it again on the node with the node's ECR credentials (through SSM or SSH); EKS AMIs run the same pull at boot.",
                        Some(format!(
                            "sudo crictl pull --creds \"AWS:$(aws ecr get-login-password --region {})\" {}",
                            crate::text::shell_arg(&region),
                            crate::text::shell_quote(&subject.image)
                        )),
                    ),
                    step(
                        "Keep it from being collected again: newer EKS AMIs pin the sandbox image. Move the node group to a current AMI release.",
                        None,
                    ),
                    replace,
                ],
            )]
        }
        _ => vec![fix(
            cause,
            format!("Bring node {node} back or replace it"),
            false,
            vec![look, replace],
        )],
    }
}

/// A pull-through cache whose upstream refuses or throttles it.
fn upstream_fixes(cause: Cause, pull: &PullLane) -> Vec<Fix> {
    let prefix = pull.cache_prefix.as_deref().unwrap_or("PREFIX");
    let upstream = pull.cache_upstream.as_deref().unwrap_or("the upstream");
    let region = pull
        .ecr
        .as_ref()
        .map(|e| e.region.clone())
        .unwrap_or_else(|| "REGION".into());
    let validate = step(
        "Ask ECR whether the rule can use its upstream now.",
        Some(format!(
            "aws ecr validate-pull-through-cache-rule --ecr-repository-prefix {} --region {}",
            crate::text::shell_arg(&prefix),
            crate::text::shell_arg(&region)
        )),
    );
    match cause {
        Cause::PullThroughCacheUpstreamAuthFailed => vec![fix(
            cause,
            format!("Give cache rule {prefix} working credentials for {upstream}"),
            false,
            vec![
                step(
                    "The rule's credentials live in a Secrets Manager secret whose name starts with ecr-pullthroughcache/ (username and accessToken). Put a valid token into it, or point the rule at another secret.",
                    Some(format!(
                        "aws ecr update-pull-through-cache-rule --ecr-repository-prefix {} --region {} --credential-arn SECRET_ARN",
                        crate::text::shell_arg(&prefix),
                        crate::text::shell_arg(&region)
                    )),
                ),
                validate,
            ],
        )],
        _ => vec![fix(
            cause,
            format!("Stop {upstream} throttling cache rule {prefix}"),
            false,
            vec![
                step(
                    format!(
                        "{upstream} limits pulls: give the rule credentials with a higher limit, cache the tags before scaling out, or stagger node launches. The kubelet retries with back-off."
                    ),
                    None,
                ),
                validate,
            ],
        )],
    }
}

/// The single existing pull-identity role, for fixes that edit it.
fn pull_identity_role<'a>(subject: &Subject<'a>, pull: &PullLane) -> Option<&'a Role> {
    let arn = pull.access.first().map(|(arn, _)| arn.clone())?;
    match subject.facts.role(&arn) {
        Fact::Known(r) => Some(r),
        _ => None,
    }
}

fn inline_policy<'a>(role: &'a Role, name: &str) -> Option<&'a PolicyDocument> {
    role.permissions
        .as_ref()?
        .inline
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, d)| d.as_ref().ok())
}

fn permission_fixes(cause: Cause, role: &Role, ecr: &EcrImage, cache: CachePull) -> Vec<Fix> {
    let account = arn::account_of(&role.arn).unwrap_or_default();
    let policy_arn = arn::iam(
        &arn::partition_of(&role.arn),
        "aws",
        &format!("policy/{PULL_ONLY}"),
    );
    let current = inline_policy(role, SCOPED_POLICY_NAME);
    let proposed = documents::scoped_pull_policy(current, &ecr.repository_arn(), cache);
    let why = match cause {
        Cause::AuthTokenNotWildcard => {
            "ecr:GetAuthorizationToken has no resource-level permissions: it must be allowed on \"*\"."
        }
        Cause::PullThroughCacheImportMissing if cache == CachePull::CreateAndImport => {
            "The first pull through a pull-through cache creates the repository and imports the image: it needs ecr:CreateRepository and ecr:BatchImportUpstreamImage (from the role's policies or the registry policy)."
        }
        Cause::PullThroughCacheImportMissing => {
            "A pull-through cache pull of an image not yet cached needs ecr:BatchImportUpstreamImage."
        }
        _ => {
            "The pull identity needs ecr:GetAuthorizationToken on \"*\" and ecr:BatchGetImage + ecr:GetDownloadUrlForLayer on the repository."
        }
    };
    let scoped = fix(
        cause,
        format!(
            "Allow role {} to pull from {} only",
            role.name, ecr.repository
        ),
        true,
        vec![applied(
            document_step(
                format!(
                    "{why} This adds the repository to the role's inline policy {SCOPED_POLICY_NAME}."
                ),
                current,
                &proposed,
            ),
            Apply::PutRolePolicy {
                account: account.clone(),
                role: role.name.clone(),
                policy_name: SCOPED_POLICY_NAME.to_string(),
            },
        )],
    );
    // The managed policy holds no ecr:CreateRepository: it cannot fix a cache's first pull.
    if cache == CachePull::CreateAndImport {
        return vec![scoped];
    }
    let attach = fix(
        cause,
        format!("Attach {PULL_ONLY} to role {}", role.name),
        true,
        vec![applied(
            step(
                format!(
                    "{why} The AWS managed policy grants pulls from every repository the account can reach (what EKS recommends for node roles)."
                ),
                None,
            ),
            Apply::AttachRolePolicy {
                account,
                role: role.name.clone(),
                policy_arn,
            },
        )],
    );
    vec![scoped, attach]
}

fn role_missing(identity: &IdentityLane) -> Vec<Fix> {
    let Some(role_arn) = identity.identity.role_arn() else {
        return Vec::new();
    };
    let name = arn::role_name_of(role_arn);
    let Some(assumer) = &identity.assumer else {
        return vec![fix(
            Cause::RoleMissing,
            format!("Create role {name}"),
            true,
            vec![step(
                "Create the role with a trust policy for this ServiceAccount.",
                Some(format!(
                    "aws iam create-role --role-name {} --assume-role-policy-document file://trust-policy.json",
                    crate::text::shell_arg(&name)
                )),
            )],
        )];
    };
    let trust = documents::new_trust_policy(assumer);
    vec![fix(
        Cause::RoleMissing,
        format!("Create role {name} for this ServiceAccount"),
        true,
        vec![applied(
            document_step(
                format!(
                    "The ServiceAccount names role {name}, which does not exist. Create it with a trust policy for exactly this ServiceAccount, then attach the permissions the application needs."
                ),
                None,
                &trust,
            ),
            Apply::CreateRole {
                account: arn::account_of(role_arn).unwrap_or_default(),
                role: name.clone(),
                permissions_boundary: None,
            },
        )],
    )]
}

fn trust_fix(subject: &Subject<'_>, identity: &IdentityLane, cause: Cause) -> Vec<Fix> {
    let (Some(role_arn), Some(assumer)) = (identity.identity.role_arn(), &identity.assumer) else {
        return Vec::new();
    };
    let Fact::Known(role) = subject.facts.role(role_arn) else {
        return Vec::new();
    };
    let Ok(current) = &role.trust else {
        return Vec::new();
    };
    let proposed = documents::corrected_trust_policy(current, assumer);
    let who = match assumer {
        crate::chain::trust::Assumer::Irsa { subject, .. } => subject.clone(),
        crate::chain::trust::Assumer::PodIdentity { .. } => "EKS Pod Identity".to_string(),
    };
    vec![fix(
        cause,
        format!("Let {who} assume role {}", role.name),
        true,
        vec![applied(
            document_step(
                "Edit the one statement that comes closest, keeping every other statement as it is.",
                Some(current),
                &proposed,
            ),
            Apply::UpdateAssumeRolePolicy {
                account: arn::account_of(&role.arn).unwrap_or_default(),
                role: role.name.clone(),
            },
        )],
    )]
}

fn boundary_fix(subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
    let (Some(role), Some(ecr)) = (pull_identity_role(subject, pull), pull.ecr.as_ref()) else {
        return Vec::new();
    };
    let Some(boundary) = &role.boundary_arn else {
        return Vec::new();
    };
    let mut steps = vec![];
    if let Fact::Known((current, false)) = subject.facts.managed_policy(boundary) {
        let proposed = documents::boundary_allowing_pull(&current, &ecr.repository_arn());
        steps.push(applied(
            document_step(
                format!("The permissions boundary {boundary} caps what role {} may do, whatever its policies allow. Add the pull actions to the boundary (a new default version).", role.name),
                Some(&current),
                &proposed,
            ),
            Apply::CreatePolicyVersion { policy_arn: boundary.clone() },
        ));
    } else {
        steps.push(step(
            format!("The permissions boundary {boundary} does not allow the pull actions; ask its owner to allow ecr:GetAuthorizationToken and the pull actions."),
            Some(format!("aws iam get-policy --policy-arn {boundary}")),
        ));
    }
    vec![fix(
        Cause::PullBoundaryDenies,
        "Let the permissions boundary allow ECR pulls",
        true,
        steps,
    )]
}

fn cross_account_fix(subject: &Subject<'_>, pull: &PullLane) -> Vec<Fix> {
    let (Some(role), Some(ecr)) = (pull_identity_role(subject, pull), pull.ecr.as_ref()) else {
        return Vec::new();
    };
    let key = RepoKey::of(ecr);
    let current = match subject.facts.repository_policy(&key) {
        Fact::Known(Ok(doc)) => Some(doc.clone()),
        _ => None,
    };
    let proposed = documents::repository_policy_allowing(current.as_ref(), &role.arn, &role.name);
    vec![fix(
        Cause::CrossAccountNotAllowed,
        format!(
            "Let {} pull from {} in account {}",
            role.name, ecr.repository, ecr.account
        ),
        true,
        vec![applied(
            document_step(
                format!(
                    "Across accounts the repository's owner ({}) must allow the puller in the repository policy. This adds one statement for role {} and keeps the rest.",
                    ecr.account, role.name
                ),
                current.as_ref(),
                &proposed,
            ),
            Apply::SetRepositoryPolicy {
                registry: ecr.account.clone(),
                region: ecr.region.clone(),
                repository: ecr.repository.clone(),
            },
        )],
    )]
}

/// `111122223333.dkr.ecr.us-east-1.amazon.com/web:1` → the `.amazonaws.com` form.
fn suggest_ecr_host(image: &str) -> Option<String> {
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

/// A well-formed ARN from a bare role name or a padded ARN.
fn correct_role_arn(value: &str, account: Option<(&str, &str)>) -> Option<String> {
    let trimmed = value.trim().trim_matches('"');
    if arn::is_well_formed_role_arn(trimmed) {
        return Some(trimmed.to_string());
    }
    if !trimmed.contains(':') && !trimmed.is_empty() {
        let name = trimmed.trim_start_matches("role/");
        return account.map(|(partition, a)| arn::iam(partition, a, &format!("role/{name}")));
    }
    None
}
