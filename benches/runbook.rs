//! Benchmark (not a test): pulldoctor against what an on-call engineer does instead, on the same
//! seeded stand-ins (the synthetic 10,000-pod cluster, 500 failing; the Kubernetes API stand-in
//! and moto behind the AWS front) with the same injected latency per request:
//! (a) the per-pod runbook (`benches/runbook/runbook.sh`: real kubectl and AWS CLI commands) on a
//!     sample of failing pods, extrapolated to every failing pod;
//! (b) the collect script (real kubectl and AWS CLI) plus `pulldoctor diagnose --from`;
//! (c) `pulldoctor diagnose`, live.
//! Prints the wall time, requests and peak memory of each and the ratios (a)/(c) and (b)/(c).
//! Run: `scripts/test --no-run && cargo bench --bench runbook` (the AWS CLI and moto from
//! `target/moto-venv`, kubectl from the PATH).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LATENCY: Duration = Duration::from_millis(20);
/// Failing pods the runbook is run for; its time per pod is their mean.
const SAMPLE: usize = 5;

struct Measured {
    wall: Duration,
    kube: usize,
    aws: usize,
    peak_kib: Option<u64>,
}

/// Runs `command` against the stand-ins from a clean count, with the latency on. `what` names a
/// command that must finish with a diagnosis (exit 0 or 1); `None`: any exit (the runbook's last
/// command may fail, as it does for the engineer).
fn measure(h: &support::Harness, command: &Command, what: Option<&str>) -> Measured {
    h.kube.clear();
    h.front.clear();
    *h.kube.state.latency.lock().unwrap() = LATENCY;
    *h.front.state.latency.lock().unwrap() = LATENCY;
    let (out, wall, peak_kib) = tokio::task::block_in_place(|| common::timed(command));
    if let Some(what) = what {
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Measured {
        wall,
        kube: h.kube.requests().len(),
        aws: h.front.requests().len(),
        peak_kib,
    }
}

fn row(name: &str, m: &Measured, scale: f64) {
    println!(
        "{name:<44} {:>10.1} s {:>9.0} {:>9.0} {:>12}",
        m.wall.as_secs_f64() * scale,
        m.kube as f64 * scale,
        m.aws as f64 * scale,
        m.peak_kib
            .map(|k| format!("{:.0} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "-".into())
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    support::real_clients::available()
        .expect("kubectl and the AWS CLI, as scripts/test installs them");
    let dir = support::TempDir::new("runbook");
    let path = common::synthetic_snapshot(&dir.0, 10_000, 500, false);
    let h = support::Harness::new(&path).await;
    let cluster = h.facts.cluster.as_ref().unwrap().name.clone();
    // The failing pods, as a diagnosis of the seeded facts lists them.
    let report = pulldoctor::diagnose::diagnose(&h.facts, &Default::default());
    let failing: Vec<(String, String)> = report
        .findings
        .iter()
        .filter_map(|f| Some((f.namespace.clone(), f.pod.clone()?)))
        .collect();
    println!(
        "synthetic cluster: 10,000 pods ({} failing), 100 roles, 50 repositories; {} ms latency per request on both stand-ins",
        failing.len(),
        LATENCY.as_millis()
    );

    // (c) pulldoctor, live.
    let live = measure(
        &h,
        &h.command(&["diagnose", "--output", "json"]),
        Some("diagnose"),
    );

    // (b) the collect script, then a diagnosis of its bundle (no request: it reads files).
    let script = dir.0.join("collect.sh");
    let out = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .arg("collect-script")
        .output()
        .unwrap();
    std::fs::write(&script, out.stdout).unwrap();
    let bundle = dir.0.join("bundle");
    let mut collect = support::real_clients::command("bash", &h, &dir.0);
    collect
        .arg(&script)
        .args([cluster.as_str(), bundle.to_str().unwrap(), support::REGION]);
    let mut collected = measure(&h, &collect, None);
    let mut from = Command::new(env!("CARGO_BIN_EXE_pulldoctor"));
    from.args(["diagnose", "--output", "json", "--from"])
        .arg(&bundle);
    let (out, wall, peak) = common::timed(&from);
    assert!(matches!(out.status.code(), Some(0 | 1)), "diagnose --from");
    collected.wall += wall;
    collected.peak_kib = collected.peak_kib.max(peak);

    // (a) the runbook, pod by pod, on a sample spread over the failing pods.
    let runbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/runbook/runbook.sh");
    let step = failing.len() / SAMPLE;
    let mut by_hand = Measured {
        wall: Duration::ZERO,
        kube: 0,
        aws: 0,
        peak_kib: None,
    };
    for (ns, pod) in failing.iter().step_by(step.max(1)).take(SAMPLE) {
        let mut command = support::real_clients::command("bash", &h, &dir.0);
        // The engineer's shell has the cluster's Region configured.
        command
            .env("AWS_DEFAULT_REGION", support::REGION)
            .arg(&runbook)
            .args([cluster.as_str(), ns, pod]);
        let m = measure(&h, &command, None);
        by_hand.wall += m.wall;
        by_hand.kube += m.kube;
        by_hand.aws += m.aws;
        by_hand.peak_kib = by_hand.peak_kib.max(m.peak_kib);
    }
    let per_pod = 1.0 / SAMPLE as f64;
    let all_pods = failing.len() as f64 * per_pod;

    println!(
        "\n{:<44} {:>12} {:>9} {:>9} {:>12}",
        "", "wall", "k8s req", "AWS req", "peak memory"
    );
    row("(a) runbook by hand, per failing pod", &by_hand, per_pod);
    row(
        &format!("(a) runbook by hand, x {} failing pods", failing.len()),
        &by_hand,
        all_pods,
    );
    row("(b) collect script + diagnose --from", &collected, 1.0);
    row("(c) pulldoctor diagnose (live)", &live, 1.0);
    let c = live.wall.as_secs_f64();
    let c_per_pod = c / failing.len() as f64;
    let a_per_pod = by_hand.wall.as_secs_f64() * per_pod;
    println!(
        "\n(a)/(c) per failing pod: {:.0}x ({:.2} s against {:.1} ms; target at least 50x)",
        a_per_pod / c_per_pod,
        a_per_pod,
        c_per_pod * 1000.0
    );
    println!(
        "(b)/(c) whole cluster: {:.1}x ({:.1} s against {:.1} s; target at least 10x)",
        collected.wall.as_secs_f64() / c,
        collected.wall.as_secs_f64(),
        c
    );
}
