//! Benchmark (not a test): a live read of a synthetic cluster — 10,000 pods, 500 failing, 100
//! roles, 50 repositories — served by the Kubernetes API stand-in and moto (through the AWS
//! front; EC2 from the front), first without EC2 facts (nodes without instances), then with the
//! nodes' instances and VPCs. The first run goes through moto; the front records its answers and
//! the timed runs are answered from that memory, with 0, 20 and 200 ms injected latency per
//! request, so they time pulldoctor, not moto. Reports requests, peak memory of the pulldoctor
//! process, and the critical path: the round trips of latency the wall time grows by, against the
//! target of the pod list's pages + 8.
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

/// The round trips of latency on pulldoctor's critical path: wall time with a latency minus
/// without, over the latency, against the target of the pod list's pages + 8.
fn critical_path(h: &support::Harness, concurrency: &str) {
    let fast = diagnose(h, concurrency, Duration::ZERO);
    let distinct: std::collections::BTreeSet<&String> =
        fast.aws.iter().chain(fast.kube.iter()).collect();
    println!(
        "concurrency {concurrency}: {} findings; {} Kubernetes + {} AWS requests ({} EC2), {} distinct; {}",
        fast.findings,
        fast.kube.len(),
        fast.aws.len(),
        fast.aws.iter().filter(|r| r.starts_with("ec2:")).count(),
        distinct.len(),
        fast.peak_rss
            .as_deref()
            .unwrap_or("peak RSS: /usr/bin/time not installed")
    );
    for latency in [Duration::from_millis(20), Duration::from_millis(200)] {
        let slow = diagnose(h, concurrency, latency);
        if std::env::var_os("PULLDOCTOR_BENCH_WAVES").is_some() && latency.as_millis() == 200 {
            waves(h);
        }
        let pages = slow.kube.iter().filter(|r| r.contains("/pods")).count();
        let trips = (slow.wall.as_secs_f64() - fast.wall.as_secs_f64()) / latency.as_secs_f64();
        println!(
            "  concurrency {concurrency}, AWS from memory, {} ms latency: {:.2?} ({:.2?} without): {trips:.1} round trips on the critical path; target {pages} pod list pages + 8 = {}: {}",
            latency.as_millis(),
            slow.wall,
            fast.wall,
            pages + 8,
            if trips <= (pages + 8) as f64 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}

/// When the TUI, opened on the live cluster, first shows a diagnosed failing pod — the time an
/// on-call engineer waits for something to look at — and when it has read everything (no
/// reading mark left).
fn first_screen(h: &support::Harness, latency: Duration) -> (Duration, Duration) {
    h.kube.clear();
    h.front.clear();
    *h.kube.state.latency.lock().unwrap() = latency;
    *h.front.state.latency.lock().unwrap() = latency;
    let started = std::time::Instant::now();
    let terminal =
        support::terminal::Terminal::start("first-screen", 120, 40, &h.shell_line(&[], &[]));
    let shows_failing =
        |screen: &str| screen.contains("ImagePullBackOff") || screen.contains("ErrImagePull");
    let wait = |done: &dyn Fn(&str) -> bool| {
        while !done(&terminal.screen()) {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{}",
                terminal.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    };
    let first = wait(&shows_failing);
    let whole = wait(&|screen| shows_failing(screen) && !screen.contains('⟳'));
    (first, whole)
}

/// The requests of the last read in waves (arrivals closer than half the latency apart): what
/// waited on what, to find the critical path.
fn waves(h: &support::Harness) {
    let mut arrivals = h.kube.state.arrivals.lock().unwrap().clone();
    arrivals.extend(h.front.state.arrivals.lock().unwrap().iter().cloned());
    arrivals.sort();
    let mut wave: std::collections::BTreeMap<String, usize> = Default::default();
    let mut last = arrivals.first().map(|a| a.0);
    let mut number = 0;
    let show = |number: usize, wave: &mut std::collections::BTreeMap<String, usize>| {
        let ops: Vec<String> = wave.iter().map(|(op, n)| format!("{op} x{n}")).collect();
        println!("    wave {number}: {}", ops.join(", "));
        wave.clear();
    };
    for (at, op) in arrivals {
        if last.is_some_and(|l| at.duration_since(l) > Duration::from_millis(100)) {
            number += 1;
            show(number, &mut wave);
        }
        last = Some(at);
        let op = op.split('?').next().unwrap_or(&op).to_string();
        *wave.entry(op).or_default() += 1;
    }
    show(number + 1, &mut wave);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = support::TempDir::new("bench");
    for (network, concurrencies) in [(false, &["32"][..]), (true, &["16", "32", "64"][..])] {
        let h = seeded(&dir, network).await;
        let fast = diagnose(&h, "32", Duration::ZERO);
        println!("causes: {:?}; through moto: {:.2?}", fast.causes, fast.wall);
        // From here AWS answers from the front's memory (moto's answers to the run above), so
        // the times are pulldoctor's and the latency's, not moto's.
        h.front
            .state
            .replay
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for concurrency in concurrencies {
            critical_path(&h, concurrency);
        }
        for latency in [Duration::ZERO, Duration::from_millis(20)] {
            let (first, whole) = tokio::task::block_in_place(|| first_screen(&h, latency));
            println!(
                "  the TUI showed its first diagnosed failing pod after {first:.2?}, everything read after {whole:.2?} ({} ms latency, AWS from memory)",
                latency.as_millis()
            );
        }
    }
}
