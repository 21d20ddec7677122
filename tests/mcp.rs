//! `pulldoctor mcp` driven by the official MCP Python SDK over stdio (tests/clients/mcp_client.py,
//! installed by scripts/test): the tools and their schemas, each answer equal to what
//! `diagnose -o json` says of the same pod, errors as tool results, no tool that writes — on a
//! bundle, and on a live read through the stand-ins, which count writes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::Harness;

const DEMO: &str = "assets/scenarios/demo.yaml";

fn python() -> PathBuf {
    let path = std::env::var_os("PULLDOCTOR_MCP_PYTHON").map_or_else(
        || PathBuf::from("target/mcp-venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "the MCP Python SDK's venv is not at {}: run scripts/test, which installs it",
        path.display()
    );
    path
}

/// Runs `server` (a pulldoctor command) under the Python client, making `calls`.
fn drive(server: &Command, calls: &Value) -> Value {
    let mut client = Command::new(python());
    client
        .arg("tests/clients/mcp_client.py")
        .arg(calls.to_string())
        .arg(server.get_program())
        .args(server.get_args());
    for (k, v) in server.get_envs() {
        match v {
            Some(v) => client.env(k, v),
            None => client.env_remove(k),
        };
    }
    let out = client.output().unwrap();
    assert!(
        out.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pulldoctor(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pulldoctor"));
    command.args(args);
    command
}

fn call(name: &str, arguments: Value) -> Value {
    json!({"name": name, "arguments": arguments})
}

/// The findings of `pod` in a `diagnose -o json` report.
fn of_pod<'a>(report: &'a Value, namespace: &str, pod: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["namespace"] == namespace && f["pod"] == pod)
        .collect()
}

/// Each tool's answers for every failing pod of `report` equal the report's.
fn answers_match(server: &Command, report: &Value) {
    let pods: std::collections::BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["failing"] == true && f["pod"].is_string())
        .map(|f| {
            let text = |v: &Value| v.as_str().unwrap().to_string();
            (text(&f["namespace"]), text(&f["pod"]))
        })
        .collect();
    assert!(!pods.is_empty());
    let mut calls = vec![call("list_failing_pods", json!({}))];
    for (namespace, pod) in &pods {
        let at = json!({"namespace": namespace, "pod": pod});
        calls.push(call("diagnose_pod", at.clone()));
        calls.push(call("plan_fix", at));
    }
    let answer = drive(server, &Value::Array(calls));
    let results = answer["results"].as_array().unwrap();
    let listed = &results[0]["structured"];
    assert_eq!(listed["total"].as_u64().unwrap() as usize, {
        let failing = report["findings"].as_array().unwrap();
        failing.iter().filter(|f| f["failing"] == true).count()
    });
    for (i, (namespace, pod)) in pods.iter().enumerate() {
        let expected = of_pod(report, namespace, pod);
        let diagnosed = &results[1 + 2 * i];
        assert_eq!(diagnosed["isError"], false, "{diagnosed}");
        let findings = diagnosed["structured"]["findings"].as_array().unwrap();
        for finding in &expected {
            assert!(
                findings.contains(finding),
                "{namespace}/{pod}: diagnose_pod differs from diagnose -o json:\n{finding:#}\n{findings:#?}"
            );
        }
        assert!(
            diagnosed["structured"]["markdown"]
                .as_str()
                .unwrap()
                .contains(pod)
        );
        let plan = &results[2 + 2 * i]["structured"];
        assert_eq!(plan["applied"], false);
        for finding in &expected {
            let container = plan["containers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["container"] == finding["container"])
                .unwrap();
            assert_eq!(container["fixes"], finding["fixes"], "{namespace}/{pod}");
            assert_eq!(container["cause"], finding["cause"], "{namespace}/{pod}");
        }
    }
}

#[test]
fn the_tools_answer_as_diagnose_does_on_a_bundle() {
    let server = pulldoctor(&["mcp", "--from", DEMO]);
    let out = pulldoctor(&["diagnose", "--from", DEMO, "-o", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    answers_match(&server, &report);

    // The tools, each saying what it is for, with schemas of what goes in and comes out.
    let answer = drive(&server, &json!([]));
    assert_eq!(answer["server"], "pulldoctor");
    let tools = answer["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "diagnose_pod",
            "explain_link",
            "list_failing_pods",
            "plan_fix"
        ]
    );
    for tool in tools {
        assert!(tool["description"].as_str().unwrap().len() > 40, "{tool}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
    }

    // A link explained as the report has it; a link or pod that is not there is an error
    // result with the CLI's line; a tool that would write does not exist.
    let broken = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["verdict"] == "broken")
        .unwrap();
    let (namespace, pod) = (&broken["namespace"], &broken["pod"]);
    let link_id = broken["brokenLink"].as_str().unwrap();
    let answer = drive(
        &server,
        &json!([
            call(
                "explain_link",
                json!({"namespace": namespace, "pod": pod, "link": link_id})
            ),
            call(
                "explain_link",
                json!({"namespace": namespace, "pod": pod, "link": "nope"})
            ),
            call(
                "diagnose_pod",
                json!({"namespace": "shop", "pod": "no-such-pod"})
            ),
            call("plan_fix", json!({"namespace": namespace, "pod": pod})),
            call("apply_fix", json!({"namespace": namespace, "pod": pod})),
            call(
                "fix",
                json!({"namespace": namespace, "pod": pod, "allowWrites": true})
            ),
        ]),
    );
    let results = answer["results"].as_array().unwrap();
    let link = broken["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == link_id)
        .unwrap();
    assert_eq!(&results[0]["structured"]["link"], link);
    assert_eq!(results[1]["isError"], true);
    assert!(
        results[1]["text"][0]
            .as_str()
            .unwrap()
            .contains("its links are")
    );
    assert_eq!(results[2]["isError"], true);
    assert!(
        results[2]["text"][0]
            .as_str()
            .unwrap()
            .contains("pod shop/no-such-pod is not in the input"),
        "{}",
        results[2]
    );
    assert_eq!(results[3]["structured"]["applied"], false);
    for forged in &results[4..] {
        assert!(
            forged["protocolError"]
                .as_str()
                .unwrap()
                .contains("not found"),
            "{forged}"
        );
    }
}

#[test]
fn the_server_refuses_allow_writes() {
    let out = pulldoctor(&["mcp", "--from", DEMO, "--allow-writes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("writes nothing"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tools_answer_as_diagnose_does_live_and_write_nothing() {
    let h = Harness::new(Path::new(DEMO)).await;
    let (report, _) = tokio::task::block_in_place(|| h.live_report(&[]));
    h.kube.clear();
    h.front.clear();
    tokio::task::block_in_place(|| answers_match(&h.command(&["mcp"]), &report));
    assert!(!h.kube.requests().is_empty(), "the server read the cluster");
    // A pod that pulls: the shared read looked into failing pods' AWS side only, so the server
    // reads it by name, as `diagnose NAMESPACE/POD` does.
    let healthy = "platform/metrics-6d9c8b-r5t";
    let named = tokio::task::block_in_place(|| h.run(&["diagnose", healthy, "-o", "json"]));
    let named: Value = serde_json::from_slice(&named.stdout).unwrap();
    let answer = tokio::task::block_in_place(|| {
        drive(
            &h.command(&["mcp"]),
            &json!([call(
                "diagnose_pod",
                json!({"namespace": "platform", "pod": "metrics-6d9c8b-r5t"})
            )]),
        )
    });
    let findings = &answer["results"][0]["structured"]["findings"];
    assert_eq!(findings, &named["findings"]);
    assert_eq!(findings[0]["verdict"], "ok", "{findings:#}");
    assert_eq!(h.kube.writes(), Vec::<String>::new());
    assert_eq!(h.front.writes(), Vec::<String>::new());
}

/// The report's JSON Schema: served as a resource, published as `docs/report.schema.json`, and
/// met — by the SDK's own validator — by the report of every scenario, while a report with a
/// verdict the contract does not have, or a finding without links, is not.
#[test]
fn the_report_schema_is_served_and_every_scenario_report_meets_it() {
    let dir = support::TempDir::new("mcp-schema");
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir("assets/scenarios/causes")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scenarios.push(PathBuf::from(DEMO));
    let mut reports = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        let out = pulldoctor(&["diagnose", "--all", "-o", "json", "--from"])
            .arg(scenario)
            .output()
            .unwrap();
        let file = dir.0.join(format!("{i}.json"));
        std::fs::write(&file, &out.stdout).unwrap();
        reports.push(file);
    }
    let mut report: Value = serde_json::from_slice(&std::fs::read(&reports[0]).unwrap()).unwrap();
    report["findings"][0]["verdict"] = json!("fine");
    report["findings"][0]
        .as_object_mut()
        .unwrap()
        .remove("links");
    let tampered = dir.0.join("tampered.json");
    std::fs::write(&tampered, report.to_string()).unwrap();
    reports.push(tampered.clone());

    let mut server = pulldoctor(&["mcp", "--from", DEMO]);
    server.env("MCP_REPORTS", std::env::join_paths(&reports).unwrap());
    let answer = drive(&server, &json!([]));

    assert_eq!(
        answer["resources"],
        json!([{"uri": "pulldoctor://schema/report/v1", "name": "report-schema", "mimeType": "application/schema+json"}])
    );
    let published: Value =
        serde_json::from_str(&std::fs::read_to_string("docs/report.schema.json").unwrap()).unwrap();
    assert_eq!(
        answer["schema"], published,
        "docs/report.schema.json is not what the server serves: write it with `PULLDOCTOR_WRITE_SCHEMA=1 cargo test --lib report_schema`"
    );
    assert!(
        answer["unknownResource"]
            .as_str()
            .unwrap()
            .contains("no resource")
    );
    let errors = answer["reportErrors"].as_object().unwrap();
    for file in &reports[..reports.len() - 1] {
        let found = &errors[file.to_str().unwrap()];
        assert_eq!(found, &json!([]), "{}", file.display());
    }
    let found = errors[tampered.to_str().unwrap()].to_string();
    assert!(
        found.contains("'fine'") && found.contains("'links'"),
        "{found}"
    );
}
