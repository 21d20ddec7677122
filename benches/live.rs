//! Benchmark (not a test): a live read of a synthetic cluster — 10,000 pods, 500 failing, 100
//! roles, 50 repositories — served by the Kubernetes API stand-in and moto (through the AWS
//! front) with 20 ms injected latency per request. Reports wall time, requests, the round trips
//! the latency adds, and the peak memory of the pulldoctor process.
//! Run: `scripts/test --no-run && PULLDOCTOR_MOTO_SERVER=target/moto-venv/bin/moto_server cargo bench --bench live`
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

struct Run {
    wall: Duration,
    findings: usize,
    kube: Vec<String>,
    aws: Vec<String>,
    peak_rss: Option<String>,
}

/// One `diagnose` of the failing pods, under `/usr/bin/time` when it exists (for peak memory).
fn diagnose(h: &support::Harness, concurrency: &str, latency: Duration) -> Run {
    h.kube.clear();
    h.front.clear();
    *h.kube.state.latency.lock().unwrap() = latency;
    *h.front.state.latency.lock().unwrap() = latency;
    let command = h.command(&["diagnose", "--output", "json", "--concurrency", concurrency]);
    let timed = std::path::Path::new("/usr/bin/time").exists();
    let mut runner = if timed {
        let mut t = std::process::Command::new("/usr/bin/time");
        t.args(["-f", "peak RSS %M KiB"])
            .arg(command.get_program())
            .args(command.get_args());
        for (k, v) in command.get_envs() {
            match v {
                Some(v) => t.env(k, v),
                None => t.env_remove(k),
            };
        }
        t
    } else {
        command
    };
    let start = Instant::now();
    let out = tokio::task::block_in_place(|| runner.output().unwrap());
    let wall = start.elapsed();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    Run {
        wall,
        findings: report["findings"].as_array().unwrap().len(),
        kube: h.kube.requests(),
        aws: h.front.requests(),
        peak_rss: timed.then(|| {
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_string()
        }),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = support::TempDir::new("bench");
    let path = dir.0.join("synthetic.json");
    let documents = common::synthetic_cluster(10_000, 500);
    let snapshot = serde_json::json!({"source": {"cluster": "bench", "region": "us-east-1"}, "documents": documents});
    std::fs::write(&path, snapshot.to_string()).unwrap();
    let started = Instant::now();
    let h = support::Harness::new(&path).await;
    println!(
        "synthetic cluster: 10,000 pods (500 failing), 100 roles, 50 repositories; stand-ins seeded in {:.1?}",
        started.elapsed()
    );
    let latency = Duration::from_millis(20);
    for concurrency in ["16", "32", "64"] {
        let fast = diagnose(&h, concurrency, Duration::ZERO);
        let slow = diagnose(&h, concurrency, latency);
        let pages = slow.kube.iter().filter(|r| r.contains("/pods")).count();
        let distinct: std::collections::BTreeSet<&String> =
            slow.aws.iter().chain(slow.kube.iter()).collect();
        let added = (slow.wall.as_secs_f64() - fast.wall.as_secs_f64()) / latency.as_secs_f64();
        println!(
            "concurrency {concurrency}: {:.2?} with 20 ms latency ({:.2?} without); {} findings; {} Kubernetes + {} AWS requests, {} distinct; {pages} pod list pages; the latency added {added:.0} round trips; {}",
            slow.wall,
            fast.wall,
            slow.findings,
            slow.kube.len(),
            slow.aws.len(),
            distinct.len(),
            slow.peak_rss
                .as_deref()
                .unwrap_or("peak RSS: /usr/bin/time not installed")
        );
    }
}
