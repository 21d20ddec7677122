//! Counts of the calls a session made, by what they were: the agent exports them as request
//! counters. Cheap enough to keep for every session.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Calls counted by a key of closed-list labels.
#[derive(Debug)]
pub struct Tally<K>(Arc<Mutex<BTreeMap<K, u64>>>);

impl<K> Clone for Tally<K> {
    fn clone(&self) -> Tally<K> {
        Tally(self.0.clone())
    }
}

impl<K> Default for Tally<K> {
    fn default() -> Tally<K> {
        Tally(Arc::default())
    }
}

impl<K: Ord + Clone> Tally<K> {
    pub fn add(&self, key: K) {
        *super::memo::lock(&self.0).entry(key).or_default() += 1;
    }

    /// Every key counted so far, with its count.
    pub fn counts(&self) -> Vec<(K, u64)> {
        super::memo::lock(&self.0)
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }
}

/// An AWS call: `service`, `operation` (as in `iam:GetRole`) and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AwsCall {
    pub service: String,
    pub operation: String,
    pub outcome: &'static str,
}

impl AwsCall {
    /// `outcome` from the error code: a closed list, so a metric's series stay few.
    pub fn new(action: &str, error_code: Option<&str>) -> AwsCall {
        let (service, operation) = action.split_once(':').unwrap_or((action, ""));
        let outcome = match error_code {
            None => "ok",
            Some("Timeout") => "timeout",
            Some(c)
                if c.contains("Throttl")
                    || c.contains("TooManyRequests")
                    || c == "RequestLimitExceeded" =>
            {
                "throttled"
            }
            Some(c) if c.contains("AccessDenied") || c.contains("Unauthorized") => "denied",
            Some(c) if c.contains("NotFound") || c == "NoSuchEntity" => "not-found",
            Some(_) => "error",
        };
        AwsCall {
            service: service.to_string(),
            operation: operation.to_string(),
            outcome,
        }
    }
}

/// A Kubernetes API request: its verb and resource, as the API server's audit log names them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeCall {
    pub verb: &'static str,
    pub resource: String,
}

impl KubeCall {
    pub fn of(method: &http::Method, uri: &http::Uri) -> KubeCall {
        let path: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
        // After /api/v1 or /apis/GROUP/VERSION: [namespaces, NS,] PLURAL [, NAME [, SUB]].
        let rest = match path.as_slice() {
            ["api", _, rest @ ..] | ["apis", _, _, rest @ ..] => rest,
            _ => &[][..],
        };
        let rest = match rest {
            ["namespaces", _, more @ ..] if !more.is_empty() => more,
            other => other,
        };
        let named = rest.len() > 1;
        let watch = uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
        let verb = match *method {
            http::Method::GET if watch => "watch",
            http::Method::GET if named => "get",
            http::Method::GET => "list",
            http::Method::POST => "create",
            http::Method::PATCH => "patch",
            http::Method::PUT => "update",
            http::Method::DELETE => "delete",
            _ => "other",
        };
        KubeCall {
            verb,
            resource: rest.first().map_or("", |r| *r).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_calls_are_named_as_the_audit_log_names_them() {
        let call = |method: http::Method, uri: &str| {
            let c = KubeCall::of(&method, &uri.parse().unwrap_or_default());
            format!("{} {}", c.verb, c.resource)
        };
        assert_eq!(
            call(http::Method::GET, "/api/v1/pods?&limit=500"),
            "list pods"
        );
        assert_eq!(
            call(
                http::Method::GET,
                "/api/v1/pods?watch=true&resourceVersion=1"
            ),
            "watch pods"
        );
        assert_eq!(
            call(
                http::Method::GET,
                "/api/v1/namespaces/shop/serviceaccounts/web"
            ),
            "get serviceaccounts"
        );
        assert_eq!(
            call(http::Method::GET, "/api/v1/namespaces/shop"),
            "get namespaces"
        );
        assert_eq!(
            call(
                http::Method::POST,
                "/apis/events.k8s.io/v1/namespaces/shop/events"
            ),
            "create events"
        );
        assert_eq!(
            call(
                http::Method::PATCH,
                "/apis/events.k8s.io/v1/namespaces/shop/events/x.1"
            ),
            "patch events"
        );
    }

    #[test]
    fn aws_outcomes_are_a_closed_list() {
        assert_eq!(AwsCall::new("iam:GetRole", None).outcome, "ok");
        assert_eq!(
            AwsCall::new("iam:GetRole", Some("NoSuchEntity")).outcome,
            "not-found"
        );
        assert_eq!(
            AwsCall::new("ecr:DescribeImages", Some("ThrottlingException")).outcome,
            "throttled"
        );
        assert_eq!(
            AwsCall::new("iam:GetRole", Some("AccessDenied")).outcome,
            "denied"
        );
        assert_eq!(
            AwsCall::new("iam:GetRole", Some("Whatever")).outcome,
            "error"
        );
        assert_eq!(AwsCall::new("iam:GetRole", None).operation, "GetRole");
    }
}
