//! What installs the agent: the plain manifests read as the API's types (a misspelt field is
//! lost in the round trip, so it fails here), the restricted pod, read-only RBAC, the arguments
//! the binary's own parser accepts; the chart's values against its schema and templates; the
//! IAM policy listing exactly the calls the live read can make.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};
use serde_json::Value;
use std::collections::BTreeSet;

const MANIFESTS: &str = "deploy/pulldoctor-agent.yaml";
const CHART: &str = "charts/pulldoctor-agent";

fn documents() -> Vec<Value> {
    let text = std::fs::read_to_string(MANIFESTS).unwrap();
    serde_saphyr::from_multiple::<Value>(&text).unwrap()
}

/// `value` read as `T` and written back is `value`: no field unknown to the API's schema.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value) -> T {
    let object: T = serde_json::from_value(value.clone()).unwrap();
    let back = serde_json::to_value(&object).unwrap();
    assert_eq!(&back, value, "a field the API does not know");
    object
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("a {kind} in {MANIFESTS}"))
}

#[test]
fn the_manifests_are_the_apis_types() {
    let documents = documents();
    let kinds: Vec<&str> = documents
        .iter()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment"
        ]
    );
    typed::<Namespace>(of_kind(&documents, "Namespace"));
    typed::<ServiceAccount>(of_kind(&documents, "ServiceAccount"));
    typed::<ClusterRoleBinding>(of_kind(&documents, "ClusterRoleBinding"));
    typed::<Service>(of_kind(&documents, "Service"));
    typed::<ClusterRole>(of_kind(&documents, "ClusterRole"));
    typed::<Deployment>(of_kind(&documents, "Deployment"));
}

#[test]
fn the_agent_runs_restricted_with_arguments_it_accepts() {
    let documents = documents();
    let deployment: Deployment = typed(of_kind(&documents, "Deployment"));
    let spec = deployment.spec;
    assert_eq!(spec.replicas, Some(1), "two would say every Event twice");
    let pod = spec.template.spec.unwrap();
    let security = pod.security_context.unwrap();
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let [container] = pod.containers.as_slice() else {
        panic!("one container");
    };
    let context = container.security_context.clone().unwrap();
    assert_eq!(context.read_only_root_filesystem, Some(true));
    assert_eq!(context.allow_privilege_escalation, Some(false));
    assert_eq!(
        context.capabilities.unwrap().drop,
        Some(vec!["ALL".to_string()])
    );
    let resources = container.resources.clone().unwrap();
    assert!(resources.requests.is_some() && resources.limits.is_some());
    let args = container.args.clone().unwrap();
    let line = std::iter::once("pulldoctor".to_string()).chain(args);
    let cli = pulldoctor::cmd::Cli::try_parse_from(line).unwrap();
    assert!(matches!(
        cli.command,
        Some(pulldoctor::cmd::Command::Agent(_))
    ));
    let probes = [&container.readiness_probe, &container.liveness_probe];
    let paths: Vec<String> = probes
        .iter()
        .map(|p| (*p).clone().unwrap().http_get.unwrap().path.unwrap())
        .collect();
    assert_eq!(paths, ["/readyz", "/healthz"]);
}

/// The rules a ClusterRole grants, as `(group, resource, verb)`.
fn grants(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.clone().unwrap_or_default() {
            for resource in rule.resources.clone().unwrap_or_default() {
                for verb in &rule.verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn the_agent_may_only_read_and_never_secrets() {
    let documents = documents();
    let role: ClusterRole = typed(of_kind(&documents, "ClusterRole"));
    let grants = grants(&role.rules.unwrap());
    for (group, resource, verb) in &grants {
        assert!(
            ["get", "list", "watch"].contains(&verb.as_str()),
            "{verb} {resource}.{group}"
        );
        assert_ne!(resource, "secrets");
    }
    assert!(grants.contains(&("".into(), "pods".into(), "watch".into())));
}

#[test]
fn the_charts_rbac_and_the_manifests_agree() {
    let template = std::fs::read_to_string(format!("{CHART}/templates/rbac.yaml")).unwrap();
    let start = template.find("rules:\n").unwrap();
    let end = template
        .find("  {{- if .Values.readSecretMetadata }}")
        .unwrap();
    let rules: Vec<PolicyRule> = serde_saphyr::from_str(&template[start + 7..end]).unwrap();
    let documents = documents();
    let role: ClusterRole = typed(of_kind(&documents, "ClusterRole"));
    assert_eq!(grants(&rules), grants(&role.rules.unwrap()));
}

/// Every `.Values.X.Y` a template names, as `X.Y`.
fn value_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices(".Values.") {
        let rest = &text[at + ".Values.".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            .collect();
        out.insert(path.trim_end_matches('.').to_string());
    }
    out
}

#[test]
fn the_charts_values_match_its_schema_and_templates() {
    let values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(format!("{CHART}/values.yaml")).unwrap())
            .unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{CHART}/values.schema.json")).unwrap(),
    )
    .unwrap();
    // Every default value is one the schema describes, with the type it says.
    fn check(value: &Value, schema: &Value, root: &Value, at: &str) {
        let schema = match schema["$ref"].as_str() {
            Some(r) => &root["definitions"][r.trim_start_matches("#/definitions/")],
            None => schema,
        };
        let kind = match value {
            Value::Object(_) => "object",
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() => "integer",
            Value::Array(_) => "array",
            _ => "other",
        };
        if let Some(wanted) = schema["type"].as_str() {
            assert_eq!(kind, wanted, "{at}");
        }
        if let Some(choices) = schema["enum"].as_array() {
            assert!(choices.contains(value), "{at}: {value}");
        }
        if let (Value::Object(fields), Some(properties)) = (value, schema["properties"].as_object())
        {
            for (name, field) in fields {
                let described = properties.get(name);
                assert!(described.is_some(), "{at}.{name} is not in the schema");
                check(field, described.unwrap(), root, &format!("{at}.{name}"));
            }
        }
    }
    check(&values, &schema, &schema, "values");
    // Every value a template reads has a default.
    for entry in std::fs::read_dir(format!("{CHART}/templates")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for path in value_paths(&text) {
            let mut at = &values;
            for key in path.split('.') {
                at = at
                    .get(key)
                    .unwrap_or_else(|| panic!(".Values.{path} has no default"));
            }
        }
    }
}

/// The AWS actions the live read can call (the wizard's own reads are not the agent's).
fn actions_in_source() -> BTreeSet<String> {
    let pattern =
        regex::Regex::new(r#""((?:sts|eks|iam|ecr|ec2|organizations|cloudtrail):[A-Za-z]+)""#)
            .unwrap();
    let mut out = BTreeSet::new();
    let mut folders = vec![std::path::PathBuf::from("src/source/live")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.file_name().is_some_and(|n| n != "setup.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.extend(pattern.captures_iter(&text).map(|c| c[1].to_string()));
            }
        }
    }
    out
}

#[test]
fn the_iam_policy_lists_exactly_the_reads_the_agent_makes() {
    let policy: Value =
        serde_json::from_str(&std::fs::read_to_string("deploy/iam-policy.json").unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let allowed: BTreeSet<String> = statements
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(allowed, actions_in_source());
    assert!(
        allowed.iter().all(|a| {
            let verb = a.split(':').nth(1).unwrap();
            ["Get", "List", "Describe", "BatchGet", "Validate", "Lookup"]
                .iter()
                .any(|p| verb.starts_with(p))
        }),
        "reads only: {allowed:?}"
    );
    let parsed = pulldoctor::iam::policy::PolicyDocument::from_text(
        &std::fs::read_to_string("deploy/iam-policy.json").unwrap(),
    );
    assert!(parsed.is_ok(), "the document parses as IAM reads it");
}
