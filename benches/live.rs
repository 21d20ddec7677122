//! Benchmark (not a test): a live read of a synthetic cluster — 10,000 pods, 500 failing, 100
//! roles, 50 repositories — served by the Kubernetes API stand-in and moto (through the AWS
//! front; EC2 from the front) with 20 ms injected latency per request, first without EC2 facts
//! (nodes without instances), then with the nodes' instances and VPCs. Reports wall time,
//! requests, the round trips the latency adds, and the peak memory of the pulldoctor process.
//! Run: `scripts/test --no-run && PULLDOCTOR_MOTO_SERVER=target/moto-venv/bin/moto_server cargo bench --bench live`
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

struct Run {
    wall: Duration,
    findings: usize,
    /// Findings per broken link's cause.
    causes: std::collections::BTreeMap<String, usize>,
    kube: Vec<String>,
    aws: Vec<String>,
    peak_rss: Option<String>,
}

/// One `diagnose` of the failing pods, with its peak memory.
fn diagnose(h: &support::Harness, concurrency: &str, latency: Duration) -> Run {
    h.kube.clear();
    h.front.clear();
    *h.kube.state.latency.lock().unwrap() = latency;
    *h.front.state.latency.lock().unwrap() = latency;
    let command = h.command(&["diagnose", "--output", "json", "--concurrency", concurrency]);
    let (out, wall, peak) = tokio::task::block_in_place(|| common::timed(&command));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    Run {
        wall,
        findings: report["findings"].as_array().unwrap().len(),
        causes: report["findings"].as_array().unwrap().iter().fold(
            Default::default(),
            |mut counts, f| {
                *counts
                    .entry(f["cause"].as_str().unwrap_or("none").to_string())
                    .or_default() += 1;
                counts
            },
        ),
        kube: h.kube.requests(),
        aws: h.front.requests(),
        peak_rss: peak.map(|kib| format!("peak RSS {kib} KiB")),
    }
}

/// The stand-ins seeded with the synthetic cluster, with or without its EC2 network facts.
async fn seeded(dir: &support::TempDir, network: bool) -> support::Harness {
    let path = common::synthetic_snapshot(&dir.0, 10_000, 500, network);
    let started = Instant::now();
    let h = support::Harness::new(&path).await;
    println!(
        "synthetic cluster: 10,000 pods (500 failing), 100 roles, 50 repositories{}; stand-ins seeded in {:.1?}",
        match network {
            true => ", 50 instances in 2 VPCs (EC2 read)",
            false => ", nodes without instances (no EC2 read)",
        },
        started.elapsed()
    );
    h
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = support::TempDir::new("bench");
    for (network, concurrencies) in [(false, &["32"][..]), (true, &["16", "32", "64"][..])] {
        let h = seeded(&dir, network).await;
        let fast = diagnose(&h, "32", Duration::ZERO);
        println!("causes: {:?}", fast.causes);
        // A long latency drowns moto's own time: the round trips on the critical path.
        let long = Duration::from_millis(200);
        let slow = diagnose(&h, "32", long);
        println!(
            "concurrency 32, 200 ms latency: {:.2?} ({:.2?} without): the latency added {:.1} round trips",
            slow.wall,
            fast.wall,
            (slow.wall.as_secs_f64() - fast.wall.as_secs_f64()) / long.as_secs_f64()
        );
        let latency = Duration::from_millis(20);
        for concurrency in concurrencies {
            let fast = diagnose(&h, concurrency, Duration::ZERO);
            let slow = diagnose(&h, concurrency, latency);
            let pages = slow.kube.iter().filter(|r| r.contains("/pods")).count();
            let distinct: std::collections::BTreeSet<&String> =
                slow.aws.iter().chain(slow.kube.iter()).collect();
            let ec2 = slow.aws.iter().filter(|r| r.starts_with("ec2:")).count();
            let added = (slow.wall.as_secs_f64() - fast.wall.as_secs_f64()) / latency.as_secs_f64();
            println!(
                "concurrency {concurrency}: {:.2?} with 20 ms latency ({:.2?} without); {} findings; {} Kubernetes + {} AWS requests ({ec2} EC2), {} distinct; {pages} pod list pages; the latency added {added:.0} round trips; {}",
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
}
