//! Live sources against the stand-ins: every scenario seeded into a Kubernetes API stand-in and
//! moto gives the same report as the scenario read offline; faults leave the run complete and
//! the affected links unknown with their reason; each entity is fetched once; nothing writes.

mod support;

use pulldoctor::report::Report;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::Harness;

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("causes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.insert(0, dir.join("demo.yaml"));
    files
}

type Key = (String, Option<String>, Option<String>, String);

fn key_of(f: &Value) -> Key {
    (
        f["namespace"].as_str().unwrap_or_default().to_string(),
        f["pod"].as_str().map(str::to_string),
        f["workload"].as_str().map(str::to_string),
        f["container"].as_str().unwrap_or_default().to_string(),
    )
}

/// Differences between the offline and the live report: verdict, broken link and cause of every
/// finding, and the status of every link the offline facts decide.
fn differences(offline: &Report, live: &Value) -> Vec<String> {
    let offline = serde_json::to_value(offline).unwrap();
    let index = |r: &Value| -> BTreeMap<Key, Value> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (key_of(f), f.clone()))
            .collect()
    };
    let (a, b) = (index(&offline), index(live));
    let mut out = Vec::new();
    for (key, f) in &a {
        let Some(g) = b.get(key) else {
            out.push(format!("{key:?}: no live finding"));
            continue;
        };
        for field in ["verdict", "brokenLink", "cause"] {
            if f[field] != g[field] {
                out.push(format!(
                    "{key:?}: {field} offline {} live {} — live summary: {}",
                    f[field], g[field], g["summary"]
                ));
            }
        }
        for (la, lb) in f["links"]
            .as_array()
            .unwrap()
            .iter()
            .zip(g["links"].as_array().unwrap())
        {
            if la["status"] != "unknown" && la["status"] != lb["status"] {
                out.push(format!(
                    "{key:?}: link {} offline {} live {} ({})",
                    la["id"], la["status"], lb["status"], lb["summary"]
                ));
            }
        }
    }
    for key in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("{key:?}: only live"));
    }
    out
}

/// Findings where one set of credentials cannot see what the scenario holds: a role in another
/// account. Live must say unknown and name that account, never guess.
fn cross_account_iam(name: &str, key: &Key) -> bool {
    name == "oidc" && key.1.as_deref() == Some("other-account")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_reads_the_same_live_as_offline() {
    let mut failures = Vec::new();
    for path in scenarios() {
        let harness = Harness::new(&path).await;
        let (live, out) = tokio::task::block_in_place(|| harness.live_report(&[]));
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}: exit {:?}: {}",
            harness.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(live["source"]["kind"], "live");
        let offline = harness.offline_report();
        if let Some(problems) = live.get("problems") {
            failures.push(format!("{}: live input problems {problems}", harness.name));
        }
        for d in differences(&offline, &live) {
            let exempt = live["findings"].as_array().unwrap().iter().any(|f| {
                cross_account_iam(&harness.name, &key_of(f))
                    && d.starts_with(&format!("{:?}", key_of(f)))
                    && f["verdict"] == "unknown"
                    && f["summary"].as_str().unwrap_or("").contains("777788889999")
            });
            if !exempt {
                failures.push(format!("{}: {d}", harness.name));
            }
        }
        // A read-only run sends no mutating request to either stand-in.
        let writes: Vec<String> = harness
            .front
            .requests()
            .into_iter()
            .filter(|op| support::aws_front::is_mutating(op))
            .collect();
        assert!(
            writes.is_empty(),
            "{}: mutating AWS requests {writes:?}",
            harness.name
        );
        assert!(
            harness
                .kube
                .requests()
                .iter()
                .all(|r| r.starts_with("GET ")),
            "{}: {:?}",
            harness.name,
            harness.kube.requests()
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
