//! Real clients against the stand-ins: the machine's `kubectl` lists from the Kubernetes API
//! stand-in as from an API server, and the collect script — run with that `kubectl` and the
//! pinned AWS CLI — writes, for every scenario, a bundle that diagnoses as the live read does.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use futures::StreamExt;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use support::{Harness, TempDir, real_clients};

fn kubectl(h: &Harness, dir: &Path, args: &[&str]) -> Output {
    real_clients::command(real_clients::kubectl(), h, dir)
        .args(args)
        .output()
        .expect("kubectl runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kubectl_lists_from_the_stand_in_as_from_an_api_server() {
    let Some(_) = real_clients::available() else {
        return;
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/demo.yaml");
    let h = Harness::new(&path).await;
    let dir = TempDir::new("kubectl");
    let run = |args: &[&str]| tokio::task::block_in_place(|| kubectl(&h, &dir.0, args));

    // Several kinds in one call, across namespaces: one List of both kinds.
    let out = run(&["get", "pods,serviceaccounts", "-A", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: std::collections::BTreeSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["Pod", "ServiceAccount"]
    );
    let pods = h.facts.pods.len();
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "Pod")
        .count();
    assert_eq!(listed, pods, "every pod, across the pages kubectl asks for");

    // A namespace, a field selector, a named object, a group's kind, the table a person reads.
    let out = run(&[
        "get",
        "pods",
        "-n",
        "billing",
        "--field-selector",
        "metadata.name=api-58d7c9-t4r",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "api-58d7c9-t4r",
        "{}",
        text(&out)
    );
    let out = run(&[
        "-n",
        "billing",
        "get",
        "pod",
        "api-58d7c9-t4r",
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["kind"],
        "Pod"
    );
    let out = run(&[
        "-n",
        "kube-system",
        "get",
        "configmap",
        "aws-auth",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(r#"configmaps "aws-auth" not found"#),
        "{}",
        text(&out)
    );
    let out = run(&["get", "replicasets", "-A", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["kind"],
        "List"
    );
    let out = run(&["get", "pods", "-n", "billing"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("api-58d7c9-t4r"),
        "{}",
        text(&out)
    );

    // The agent's plain manifests as `kubectl apply --dry-run=client` reads them: each object of
    // a kind the API serves, looked up, none sent.
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/pulldoctor-agent.yaml");
    let out = run(&[
        "apply",
        "--dry-run=client",
        "--validate=false",
        "-f",
        manifests.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    for object in [
        "namespace/pulldoctor",
        "serviceaccount/pulldoctor-agent",
        "clusterrole.rbac.authorization.k8s.io/pulldoctor-agent",
        "clusterrolebinding.rbac.authorization.k8s.io/pulldoctor-agent",
        "service/pulldoctor-agent",
        "deployment.apps/pulldoctor-agent",
    ] {
        assert!(
            said.contains(&format!("{object} created (dry run)")),
            "{object}: {}",
            text(&out)
        );
    }
    assert_eq!(h.kube.writes(), Vec::<String>::new());

    // A kind RBAC refuses: kubectl says Forbidden and exits 1, as against a real API server.
    h.kube.fault("/api/v1/nodes", 403, usize::MAX);
    let out = run(&["get", "nodes", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Forbidden"),
        "{}",
        text(&out)
    );
}

/// The collect script, run for real on one scenario: its bundle's report and what it printed.
fn collect(h: &Harness, dir: &Path) -> (Value, String) {
    let script = dir.join("collect.sh");
    let out = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .arg("collect-script")
        .output()
        .unwrap();
    std::fs::write(&script, &out.stdout).unwrap();
    let bundle = dir.join("bundle");
    let cluster = h.facts.cluster.as_ref().unwrap().name.clone();
    let run = real_clients::command("bash", h, dir)
        .arg(&script)
        .args([
            cluster.as_str(),
            bundle.to_str().unwrap(),
            h.region.as_str(),
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&run.stderr).into_owned();
    let report = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(["diagnose", "--all", "--output", "json", "--from"])
        .arg(&bundle)
        .output()
        .unwrap();
    let parsed = serde_json::from_slice(&report.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no report from the bundle ({e}): {}\ncollect printed: {printed}",
            h.name,
            String::from_utf8_lossy(&report.stderr)
        )
    });
    (parsed, printed)
}

/// Whether an evidence line judges a pull secret by its Secret's metadata.
fn secret_age(line: &Value) -> bool {
    line.as_str()
        .is_some_and(|l| l.starts_with("imagePullSecrets "))
}

/// A finding with what depends on reading Secrets taken out: the one documented exception. The
/// script never reads Secrets (kubectl cannot ask for their metadata alone), so a pull secret's
/// age — a warning — is not judged from a bundle: that link's status and words, the evidence
/// about the secret, and a verdict of warning (live) against ok (bundle).
fn without_secrets(f: &Value) -> Value {
    let mut f = f.clone();
    let mut judged_secret = false;
    for link in f["links"].as_array_mut().unwrap() {
        if link["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().any(secret_age))
        {
            judged_secret = true;
            link["status"] = Value::Null;
            link["summary"] = Value::Null;
            link["evidence"]
                .as_array_mut()
                .unwrap()
                .retain(|e| !secret_age(e));
        }
    }
    if judged_secret && matches!(f["verdict"].as_str(), Some("warning" | "ok")) {
        f["verdict"] = Value::Null;
        f["summary"] = Value::Null;
    }
    f
}

/// Differences between the live report and the bundle's, finding by finding.
fn differences(live: &Value, collected: &Value) -> Vec<String> {
    let index = |r: &Value| -> std::collections::BTreeMap<String, Value> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let key = format!("{}/{} {}", f["namespace"], f["pod"], f["container"]);
                (key, f.clone())
            })
            .collect()
    };
    let (a, b) = (index(live), index(collected));
    let mut out = Vec::new();
    for (key, f) in &a {
        match b.get(key) {
            None => out.push(format!("{key}: not in the bundle's report")),
            Some(g) if without_secrets(f) != without_secrets(g) => {
                out.push(format!("{key}:\n  live      {f}\n  collected {g}"))
            }
            Some(_) => {}
        }
    }
    for key in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("{key}: only in the bundle's report"));
    }
    out
}

/// The CloudTrail lookups among a run's requests: what each asked for, once.
fn trail_lookups(requests: &[String]) -> std::collections::BTreeSet<String> {
    requests
        .iter()
        .filter_map(|r| r.strip_prefix("cloudtrail:LookupEvents|"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_collect_script_run_for_real_diagnoses_every_scenario_as_live() {
    let Some(_) = real_clients::available() else {
        return;
    };
    // Scenarios side by side: each has its own stand-ins; the AWS CLI's start-up is the cost.
    let failures: Vec<String> = futures::stream::iter(support::scenarios())
        .map(|path| async move {
            let h = Harness::new(&path).await;
            let dir = TempDir::new(&format!("collect-{}", h.name));
            let (live, _) = tokio::task::block_in_place(|| h.live_report(&[]));
            let live_lookups = trail_lookups(&h.front.requests());
            h.front.clear();
            let (collected, printed) = tokio::task::block_in_place(|| collect(&h, &dir.0));
            let mut problems: Vec<String> = differences(&live, &collected)
                .into_iter()
                .map(|d| format!("{}: {d}", h.name))
                .collect();
            // The script asks CloudTrail what the live read asks, and no more.
            let script_lookups = trail_lookups(&h.front.requests());
            if script_lookups != live_lookups {
                problems.push(format!(
                    "{}: CloudTrail lookups only live {:?}, only the script's {:?}",
                    h.name,
                    live_lookups.difference(&script_lookups).collect::<Vec<_>>(),
                    script_lookups.difference(&live_lookups).collect::<Vec<_>>(),
                ));
            }
            if let Some(p) = collected.get("problems") {
                problems.push(format!("{}: bundle problems {p}", h.name));
            }
            let writes = h.front.writes();
            if !writes.is_empty() {
                problems.push(format!("{}: the script wrote {writes:?}", h.name));
            }
            if !problems.is_empty() {
                problems.push(format!("{}: the script printed:\n{printed}", h.name));
            }
            problems
        })
        .buffer_unordered(4)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The fix the TUI copies (`y` on the fix pane), pasted into bash with the real AWS CLI and
/// kubectl against the stand-ins, repairs its link: for every finding of these scenarios whose
/// first fix is commands only, the link it named is no longer broken when read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pasted_fix_commands_repair_their_link() {
    let Some(_) = real_clients::available() else {
        return;
    };
    let causes = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes");
    let mut pasted = 0;
    let mut failures = Vec::new();
    for name in ["pull-permissions", "trust", "repository"] {
        let h = Harness::new(&causes.join(format!("{name}.yaml"))).await;
        let dir = TempDir::new(&format!("paste-{name}"));
        let report = h.offline_report();
        let mut expected = Vec::new();
        for f in report.findings.iter().filter(|f| f.broken_link.is_some()) {
            let Some(fix) = f.fixes.first() else { continue };
            // Steps without a command explain; every command must be one of the two clients.
            let commands: Vec<&str> = fix
                .steps
                .iter()
                .filter_map(|s| s.command.as_deref())
                .collect();
            let commands_only = fix.writes
                && !commands.is_empty()
                && commands
                    .iter()
                    .all(|c| c.starts_with("aws ") || c.starts_with("kubectl "));
            if !commands_only {
                continue;
            }
            let script = pulldoctor::fix::command::script(f, 0);
            let out = tokio::task::block_in_place(|| {
                // A Region, as an engineer's shell has one configured (IAM's commands name none).
                real_clients::command("bash", &h, &dir.0)
                    .env("AWS_DEFAULT_REGION", &h.region)
                    .arg("-c")
                    .arg(format!("set -e\n{script}"))
                    .current_dir(&dir.0)
                    .output()
                    .unwrap()
            });
            if !out.status.success() {
                failures.push(format!("{name} {}: {}\n{script}", f.subject(), text(&out)));
                continue;
            }
            pasted += 1;
            expected.push((
                f.namespace.clone(),
                f.pod.clone(),
                f.container.clone(),
                f.broken_link,
            ));
        }
        let (live, _) = tokio::task::block_in_place(|| h.live_report(&[]));
        for (namespace, pod, container, link) in expected {
            let finding = live["findings"].as_array().unwrap().iter().find(|f| {
                f["namespace"] == namespace.as_str()
                    && f["pod"].as_str() == pod.as_deref()
                    && f["container"] == container.as_str()
            });
            let link = link.unwrap().to_string();
            let status = finding
                .and_then(|f| f["links"].as_array())
                .and_then(|links| links.iter().find(|l| l["id"] == link.as_str()))
                .map(|l| l["status"].clone());
            if status.as_ref().is_some_and(|s| s == "broken") {
                failures.push(format!(
                    "{name} {namespace}/{pod:?}: {link} still broken after the paste"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("{pasted} copied fixes pasted and checked");
    assert!(pasted >= 5, "only {pasted} fixes were pasted");
}
