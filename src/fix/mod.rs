//! Fix plans for a broken link: why, the exact commands with the real names filled in, and for
//! a changed document the proposed document and its diff. Nothing here writes.

mod access;
pub mod apply;
pub mod command;
pub mod documents;
mod ec2_writes;
mod ecr_writes;
pub mod guard;
mod iam_writes;
mod identity;
mod kube_writes;
mod network;
pub mod plan_file;
mod registry;
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
use crate::report::{Apply, Cause, CauseFamily, Fix, Link, Step};
use access::access_fixes;
use documents::SCOPED_POLICY_NAME;
use identity::{identity_fixes, oidc_fixes};
use registry::{agent_fixes, archive_fixes, reference_fixes, registry_fixes};
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
    use CauseFamily::*;
    match cause.family() {
        ImageReference => reference_fixes(cause, subject),
        AppIdentity | Trust => identity_fixes(cause, subject, identity),
        OidcProvider => oidc_fixes(cause, subject, identity),
        PullGrant | PullAccess => access_fixes(cause, link, subject, pull, identity),
        Registry => registry_fixes(cause, subject, pull),
        Archive => archive_fixes(subject, pull),
        PodIdentityAgent => agent_fixes(subject),
        Transport => network_fixes(cause, subject, pull),
        NetworkPath => network::path_fixes(cause, &link.summary, pull),
        Node => node_fixes(cause, subject),
        Upstream => upstream_fixes(cause, pull),
    }
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
