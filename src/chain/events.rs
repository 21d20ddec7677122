//! What the kubelet said: the latest pull-failure event of a container, classified.
//! During back-off the waiting message only says "Back-off pulling image", so the detail lives
//! in the latest `Failed` event.

use crate::facts::Facts;
use crate::facts::kube::PodEvent;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullError {
    /// `not found`, `manifest unknown`: the repository, tag or digest is missing.
    NotFound,
    /// An image index without the node's platform.
    NoPlatformMatch,
    /// No credentials reached the registry (`no basic auth credentials`, `401 Unauthorized`).
    Unauthorized,
    /// Credentials were refused (`403 Forbidden`, `not authorized to perform`).
    Forbidden,
    /// The layer download from S3 was refused.
    LayerDenied,
    /// No network path: timeouts, DNS failures.
    Network,
    /// Throttled by ECR or an upstream registry.
    RateLimited,
    /// The runtime rejected the reference.
    InvalidReference,
    /// `imagePullPolicy: Never` and the image is not on the node.
    NeverPull,
    /// The service-account-token pull mode could not assume its role.
    AssumeRoleFailed,
    /// KEP-2535: a cached image the pod is not entitled to.
    NotEnsured,
    /// The node's image store is full (`no space left on device`).
    DiskFull,
    /// A pull-through cache could not authenticate to its upstream registry.
    UpstreamAuthFailed,
    Other,
}

impl PullError {
    pub fn describe(self) -> &'static str {
        match self {
            PullError::NotFound => "the registry answered not found",
            PullError::NoPlatformMatch => "the image has no build for the node's platform",
            PullError::Unauthorized => {
                "the registry got no credentials (401 / no basic auth credentials)"
            }
            PullError::Forbidden => "the registry refused the credentials (403 Forbidden)",
            PullError::LayerDenied => "the layer download from S3 was refused",
            PullError::Network => "the registry could not be reached (timeout or DNS)",
            PullError::RateLimited => "the pull was throttled",
            PullError::InvalidReference => "the runtime rejected the image reference",
            PullError::NeverPull => "pull policy Never and the image is not on the node",
            PullError::AssumeRoleFailed => "the credential provider could not assume its role",
            PullError::NotEnsured => "the cached image is not verified for this pod",
            PullError::DiskFull => "the node ran out of disk space while unpacking the image",
            PullError::UpstreamAuthFailed => {
                "the pull-through cache could not authenticate to its upstream registry"
            }
            PullError::Other => "an unclassified pull error",
        }
    }
}

/// Classifies a kubelet / containerd / dockershim pull error message.
pub fn classify(message: &str) -> PullError {
    let m = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&["is not present with pull policy of never"]) {
        PullError::NeverPull
    } else if has(&["no space left on device"]) {
        PullError::DiskFull
    } else if has(&["authentication to the upstream registry failed"]) {
        PullError::UpstreamAuthFailed
    } else if has(&["does not have the proper auth"]) {
        PullError::NotEnsured
    } else if has(&[
        "invalid reference format",
        "couldn't parse image",
        "could not parse image",
    ]) {
        PullError::InvalidReference
    } else if has(&["failed to assume role", "no arn provided"]) {
        PullError::AssumeRoleFailed
    } else if has(&[
        "error pulling image configuration",
        "starport-layer-bucket",
        "/blobs/sha256:",
    ]) && has(&["403", "accessdenied", "access denied"])
    {
        PullError::LayerDenied
    } else if has(&["no match for platform", "no matching manifest for"]) {
        PullError::NoPlatformMatch
    } else if has(&[
        "toomanyrequests",
        "rate exceeded",
        "throttlingexception",
        "pull rate limit",
    ]) {
        PullError::RateLimited
    } else if has(&[
        "i/o timeout",
        "tls handshake timeout",
        "context deadline exceeded",
        "client.timeout exceeded",
        "no such host",
        "connection refused",
        "network is unreachable",
        "no route to host",
    ]) {
        PullError::Network
    } else if has(&[
        "no basic auth credentials",
        "401 unauthorized",
        "authorization failed",
        "failed to fetch anonymous token",
        "unauthorized: authentication required",
    ]) {
        PullError::Unauthorized
    } else if has(&[
        "403 forbidden",
        "not authorized to perform",
        "no resource-based policy allows",
        "denied: ",
    ]) {
        PullError::Forbidden
    } else if has(&[
        "not found",
        "manifest unknown",
        "name unknown",
        "does not exist",
    ]) {
        PullError::NotFound
    } else {
        PullError::Other
    }
}

/// The pull error a container's waiting message still carries once the events are gone. Before
/// Kubernetes 1.32 the back-off message was only `Back-off pulling image "REF"`; since then
/// (kubernetes PR #127918) it goes on `: REASON: ERROR`, the error of the last pull.
pub fn waiting_pull_error(message: &str) -> Option<String> {
    const BACK_OFF: &str = "Back-off pulling image \"";
    let Some(rest) = message.strip_prefix(BACK_OFF) else {
        return Some(message.to_string());
    };
    let after_reference = &rest[rest.find('"')? + 1..];
    let error = after_reference.strip_prefix(": ")?;
    (!error.trim().is_empty()).then(|| message.to_string())
}

/// The events by the object they are about, built once per diagnosis so that finding a pod's
/// events does not scan every event of the cluster (which made large inputs quadratic).
pub struct EventIndex<'a> {
    /// `kind/namespace/name` → its events.
    by_object: HashMap<String, Vec<&'a PodEvent>>,
}

impl<'a> EventIndex<'a> {
    pub fn new(facts: &'a Facts) -> EventIndex<'a> {
        let mut by_object: HashMap<_, Vec<&PodEvent>> = HashMap::new();
        for e in &facts.events {
            by_object
                .entry(format!("{}/{}/{}", e.kind, e.namespace, e.name))
                .or_default()
                .push(e);
        }
        EventIndex { by_object }
    }

    fn about(&self, kind: &str, namespace: &str, name: &str) -> &[&'a PodEvent] {
        self.by_object
            .get(&format!("{kind}/{namespace}/{name}"))
            .map_or(&[], Vec::as_slice)
    }

    /// The latest detailed pull-failure event of this image in this pod.
    pub fn latest_pull_failure(
        &self,
        namespace: &str,
        pod: &str,
        image: &str,
    ) -> Option<&'a PodEvent> {
        let quoted = format!("\"{image}\"");
        self.about("Pod", namespace, pod)
            .iter()
            .copied()
            .filter(|e| {
                let detailed = e.message.starts_with("Failed to pull image")
                    || e.reason == "ErrImageNeverPull"
                    || e.reason == "InspectFailed";
                detailed && (e.message.contains(&quoted) || e.message.contains(image))
            })
            .max_by(|a, b| a.at.cmp(&b.at))
    }

    /// The latest `FailedCreatePodSandBox` event of a pod that says the sandbox (pause) image
    /// could not be pulled, and that image. Such a pod waits in `ContainerCreating`, not in
    /// `ImagePullBackOff`, yet it cannot start for a pull.
    pub fn latest_sandbox_pull_failure(
        &self,
        namespace: &str,
        pod: &str,
    ) -> Option<(&'a PodEvent, String)> {
        const MARK: &str = "failed to get sandbox image \"";
        self.about("Pod", namespace, pod)
            .iter()
            .copied()
            .filter(|e| e.reason == "FailedCreatePodSandBox")
            .filter_map(|e| {
                let rest = &e.message[e.message.find(MARK)? + MARK.len()..];
                Some((e, rest[..rest.find('"')?].to_string()))
            })
            .max_by(|(a, _), (b, _)| a.at.cmp(&b.at))
    }

    /// The latest `FailedCreate` event of a controller.
    pub fn latest_create_failure(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> Option<&'a PodEvent> {
        self.about(kind, namespace, name)
            .iter()
            .copied()
            .filter(|e| e.reason == "FailedCreate")
            .max_by(|a, b| a.at.cmp(&b.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message string of the failure catalogue, verbatim, with its class.
    #[test]
    fn catalogue_messages() {
        use PullError::*;
        let img = "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.4";
        let cases: Vec<(String, PullError)> = vec![
            (format!("Failed to pull image \"{img}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": {img}: not found"), NotFound),
            (format!("Failed to pull image \"{img}\": manifest for {img} not found: manifest unknown"), NotFound),
            ("Error response from daemon: repository 111122223333.dkr.ecr.us-east-1.amazonaws.com/yelb/yelb-ui not found: name unknown: The repository with name 'yelb/yelb-ui' does not exist in the registry with id '111122223333'".into(), NotFound),
            (format!("Failed to pull image \"{img}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"), Unauthorized),
            ("Error response from daemon: Get https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/shop/web/manifests/1.4: no basic auth credentials".to_string(), Unauthorized),
            (format!("Failed to pull image \"{img}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": unexpected status from HEAD request to https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/shop/web/manifests/1.4: 401 Unauthorized"), Unauthorized),
            ("failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized".into(), Unauthorized),
            (format!("Failed to pull image \"{img}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": unexpected status from HEAD request to https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/shop/web/manifests/1.4: 403 Forbidden"), Forbidden),
            ("Failed to pull image: 403 Forbidden".into(), Forbidden),
            ("User: arn:aws:sts::111122223333:assumed-role/node/i-0 is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:444455556666:repository/web because no resource-based policy allows the ecr:BatchGetImage action".into(), Forbidden),
            (format!("Failed to pull image \"{img}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{img}\": no match for platform in manifest: not found"), NoPlatformMatch),
            ("no matching manifest for linux/arm64/v8 in the manifest list entries".into(), NoPlatformMatch),
            (format!("Failed to pull image \"{img}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": failed to do request: Head \"https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/shop/web/manifests/1.4\": dial tcp 10.0.12.7:443: i/o timeout"), Network),
            ("Get https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/: net/http: TLS handshake timeout".into(), Network),
            ("Get https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/: net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)".into(), Network),
            ("Failed getting credential from external registry credential provider: error execing credential provider plugin ecr-credential-provider for image 111122223333.dkr.ecr.us-east-1.amazonaws.com/web: context deadline exceeded".into(), Network),
            ("error pulling image configuration: Get https://prod-us-east-1-starport-layer-bucket.s3.amazonaws.com/abc: dial tcp: i/o timeout".into(), Network),
            ("error pulling image configuration: error parsing HTTP 403 response body: invalid character '<' looking for beginning of value: \"<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?>\\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>\"".into(), LayerDenied),
            ("failed to copy: httpReadSeeker: failed open: unexpected status code https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/shop/web/blobs/sha256:4f3e2d1c0b9a8f7e6d5c4b3a29180706f5e4d3c2b1a09f8e7d6c5b4a39281706: 403 Forbidden".into(), LayerDenied),
            (format!("Back-off pulling image \"{img}\": ErrImagePull: failed to pull and unpack image \"{img}\": failed to resolve reference \"{img}\": {img}: not found"), NotFound),
            ("toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading".into(), RateLimited),
            ("ThrottlingException: Rate exceeded".into(), RateLimited),
            ("toomanyrequests: Rate exceeded".into(), RateLimited),
            ("failed to copy: httpReadSeeker: failed open: failed to do request: Get \"https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/ab\": dial tcp 104.16.1.1:443: i/o timeout".into(), Network),
            (format!("Container image \"{img}\" is not present with pull policy of Never"), NeverPull),
            (format!("Container image \"{img}\" is present with pull policy of \"IfNotPresent\" but does not have the proper auth (image secret) that was used to pull the image"), NotEnsured),
            ("failed to assume role: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity".into(), AssumeRoleFailed),
            ("no arn provided, cannot assume role using ServiceAccountToken".into(), AssumeRoleFailed),
            (format!("Failed to apply default image tag \"{img}::1\": couldn't parse image name \"{img}::1\": invalid reference format"), InvalidReference),
            ("something nobody has seen before".into(), Other),
        ];
        for (message, want) in cases {
            assert_eq!(classify(&message), want, "{message}");
        }
    }

    #[test]
    fn the_back_off_message_keeps_the_error_since_kubernetes_1_32() {
        let img = "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.4";
        assert_eq!(
            waiting_pull_error(&format!("Back-off pulling image \"{img}\"")),
            None
        );
        let kept = format!("Back-off pulling image \"{img}\": ErrImagePull: {img}: not found");
        assert_eq!(waiting_pull_error(&kept).as_deref(), Some(kept.as_str()));
        assert_eq!(
            waiting_pull_error("rpc error: code = Unknown").as_deref(),
            Some("rpc error: code = Unknown")
        );
    }
}
