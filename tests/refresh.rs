//! Reading one pod again (the TUI's `r`) folds the fresh read into the cluster's facts: what it
//! found gone is gone, what it could not look up is unknown (never absent), what it found
//! settles an earlier failure — and the other pods are untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::facts::{Facts, scope};
use pulldoctor::source;
use serde_json::Value;

const NAMESPACE: &str = "billing";
const POD: &str = "api-58d7c9-t4r";

fn demo() -> Facts {
    source::facts_from_bundle(&source::demo::bundle(), "demo")
}

fn findings(facts: &Facts) -> Vec<Value> {
    let selection = Selection {
        all: true,
        ..Default::default()
    };
    let report = serde_json::to_value(diagnose(facts, &selection)).unwrap();
    report["findings"].as_array().unwrap().clone()
}

fn finding_of_pod(facts: &Facts) -> Value {
    findings(facts)
        .into_iter()
        .find(|f| f["namespace"] == NAMESPACE && f["pod"] == POD)
        .expect("the pod has a finding")
}

fn others(facts: &Facts) -> Vec<Value> {
    findings(facts)
        .into_iter()
        .filter(|f| !(f["namespace"] == NAMESPACE && f["pod"] == POD))
        .collect()
}

/// A read of the pod alone, as the live source makes it, with `change` applied.
fn fresh_read(facts: &Facts, change: impl FnOnce(&mut Facts)) -> Facts {
    let mut fresh = Facts {
        pods: facts
            .pods
            .iter()
            .filter(|p| p.metadata.name.as_deref() == Some(POD))
            .cloned()
            .collect(),
        ..Default::default()
    };
    change(&mut fresh);
    fresh
}

#[test]
fn a_fresh_read_of_one_pod_replaces_what_it_looked_up() {
    let mut facts = demo();
    let role_key = ("111122223333".to_string(), "billing-api".to_string());
    let role = facts.roles[&role_key].clone();
    let role_scope = scope::role(&role_key.0, &role_key.1);
    let start = finding_of_pod(&facts);
    assert_eq!(start["cause"], "trust-wrong-subject");
    let untouched = others(&facts);

    // The role was deleted since: the fresh read looked and found nothing.
    let fresh = fresh_read(&facts, |f| {
        f.covered.insert(role_scope.clone());
    });
    facts.refresh_pod(NAMESPACE, POD, fresh);
    let gone = finding_of_pod(&facts);
    assert_eq!(gone["cause"], "role-missing", "{gone:#}");
    assert_eq!(others(&facts), untouched, "other pods are untouched");

    // Then the lookup failed: unknown, naming the failure — not still absent.
    let fresh = fresh_read(&facts, |f| {
        f.errors.insert(
            role_scope.clone(),
            "iam:GetRole was refused (AccessDenied)".into(),
        );
    });
    facts.refresh_pod(NAMESPACE, POD, fresh);
    let unknown = finding_of_pod(&facts);
    assert_eq!(unknown["verdict"], "unknown", "{unknown:#}");
    assert!(
        unknown.to_string().contains("iam:GetRole was refused"),
        "{unknown:#}"
    );

    // Then the role is back: found, and the failure is settled.
    let fresh = fresh_read(&facts, |f| {
        f.roles.insert(role_key.clone(), role.clone());
    });
    facts.refresh_pod(NAMESPACE, POD, fresh);
    assert!(!facts.errors.contains_key(&role_scope));
    assert_eq!(finding_of_pod(&facts), start);
    assert_eq!(others(&facts), untouched);
    assert_eq!(findings(&facts).len(), findings(&demo()).len());
}

#[test]
fn a_pod_gone_since_leaves_the_list() {
    let mut facts = demo();
    let before = findings(&facts).len();
    facts.refresh_pod(NAMESPACE, POD, Facts::default());
    let after = findings(&facts);
    assert_eq!(after.len(), before - 1);
    assert!(!after.iter().any(|f| f["pod"] == POD));
}
