//! What a setup finds in place and would change — a ServiceAccount and its role annotation, a
//! role's trust and policies — and who relies on it: the pods that run as it.

pub use crate::chain::identity_lane::ROLE_ANNOTATION;
use crate::facts::Facts;
use k8s_openapi::api::core::v1::ServiceAccount;

/// How many pod names a sentence lists before it counts the rest.
const NAMED: usize = 5;

/// The role a ServiceAccount's IRSA annotation names, if any.
pub fn annotated_role(sa: &ServiceAccount) -> Option<&str> {
    sa.metadata
        .annotations
        .as_ref()?
        .get(ROLE_ANNOTATION)
        .map(String::as_str)
}

/// The pods of the input that run as this ServiceAccount.
pub fn pods_using(facts: &Facts, namespace: &str, service_account: &str) -> Vec<String> {
    let mut pods: Vec<String> = facts
        .pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .filter(|p| {
            let named = p
                .spec
                .as_ref()
                .and_then(|s| s.service_account_name.as_deref());
            named.unwrap_or("default") == service_account
        })
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    pods.sort();
    pods
}

/// The ServiceAccounts (`NAMESPACE/NAME`) whose annotation names this role, and their pods.
pub fn users_of_role(facts: &Facts, role_arn: &str) -> (Vec<String>, Vec<String>) {
    let mut accounts = Vec::new();
    let mut pods = Vec::new();
    for ((ns, name), sa) in &facts.service_accounts {
        if annotated_role(sa) == Some(role_arn) {
            accounts.push(format!("{ns}/{name}"));
            pods.extend(
                pods_using(facts, ns, name)
                    .into_iter()
                    .map(|p| format!("{ns}/{p}")),
            );
        }
    }
    (accounts, pods)
}

/// "used by 2 pods (a, b)", or "no pod in the input uses it".
pub fn used_by(pods: &[String]) -> String {
    match pods.len() {
        0 => "no pod in the input uses it".to_string(),
        n => {
            let mut names = pods[..n.min(NAMED)].join(", ");
            if n > NAMED {
                names.push_str(&format!(" and {} more", n - NAMED));
            }
            format!("used by {} ({names})", crate::text::plural(n, "pod"))
        }
    }
}
