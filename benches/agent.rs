//! Benchmark (not a test): `pulldoctor agent --events` on the synthetic cluster — 10,000 pods, 500
//! failing — served by the Kubernetes API stand-in and moto (AWS answered from the front's memory
//! after the first read). Reports the time to the first read, the time from a new pod's failure
//! (its watch event) to its Event, the requests of one read, what an hour costs at the defaults
//! (a read per `--resync`, 5 minutes, plus at most one per 10 s under churn: both from the counts
//! of one read, not an hour's run), and the agent's resident memory after each of several reads
//! under churn (pods replaced), to show it flat.
//! Run: `scripts/test --no-run && PULLDOCTOR_MOTO_SERVER=target/moto-venv/bin/moto_server cargo bench --bench agent`
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// A failing pod of the synthetic cluster, renamed: a new replica that cannot pull either.
fn failing_copy(h: &support::Harness, name: &str) -> Value {
    let objects = h.kube.state.objects.lock().unwrap();
    let failing = objects
        .iter()
        .find(|o| {
            o["kind"] == "Pod"
                && o["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                    == "ImagePullBackOff"
        })
        .expect("a failing pod");
    let mut pod = failing.clone();
    pod["metadata"]["name"] = name.into();
    pod["metadata"]["uid"] = format!("uid-{name}").into();
    pod
}

/// A failing pod of the synthetic cluster starts running, as after a fix.
fn recover_one(h: &support::Harness) {
    let mut pod = {
        let objects = h.kube.state.objects.lock().unwrap();
        objects
            .iter()
            .find(|o| {
                o["kind"] == "Pod"
                    && o["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                        == "ImagePullBackOff"
                    && !o["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .starts_with("churn-")
            })
            .expect("a failing pod")
            .clone()
    };
    pod["status"]["phase"] = "Running".into();
    pod["status"]["containerStatuses"][0]["state"] =
        serde_json::json!({"running": {"startedAt": "2026-12-05T12:00:00Z"}});
    pod["status"]["containerStatuses"][0]["ready"] = true.into();
    h.kube.replace(pod);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = support::TempDir::new("bench-agent");
    let path = common::synthetic_snapshot(&dir.0, 10_000, 500, false);
    let h = support::Harness::new(&path).await;
    let addr = format!("127.0.0.1:{}", support::free_port());
    let data = format!("127.0.0.1:{}", support::free_port());
    let mut child = h
        .command(&[
            "agent",
            "--listen",
            &addr,
            "--data-listen",
            &data,
            "--events",
            "--event-delay",
            "0s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    let posts = || {
        h.kube
            .requests()
            .iter()
            .filter(|r| r.starts_with("POST "))
            .count()
    };
    let ready = wait_for("the first Events", Duration::from_secs(600), || posts() > 0).await;
    // The first read's Events, all of them: the count stops growing.
    let mut told = posts();
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        if posts() == told {
            break;
        }
        told = posts();
    }
    let first_requests = h.kube.requests().len() + h.front.requests().len();
    println!(
        "first read (through moto): its first Event after {ready:.2?}, {told} Events in all, {first_requests} requests; RSS {} KiB",
        rss_kib(pid).unwrap_or_default()
    );
    h.front
        .state
        .replay
        .store(true, std::sync::atomic::Ordering::Relaxed);
    // Quick: six churn reads 11 s apart. PULLDOCTOR_BENCH_MINUTES=60: an hour of churn at one
    // round a minute — a replica replaced by a new one that cannot pull either, and every fifth
    // round a failing pod pulls (a fix applied) — counting every request made in it.
    let minutes: Option<u64> = std::env::var("PULLDOCTOR_BENCH_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok());
    let (rounds, pause) = match minutes {
        Some(m) => (m, Duration::from_secs(60)),
        None => (6, Duration::from_secs(11)),
    };
    let (kube_before, aws_before) = (h.kube.requests().len(), h.front.requests().len());
    let churn_started = Instant::now();
    let mut rss = Vec::new();
    let mut replaced: Option<(String, String)> = None;
    for round in 0..rounds {
        // Past the least gap between reads, so the time measured is the read's own.
        let next = churn_started + pause * u32::try_from(round + 1).unwrap_or(u32::MAX);
        tokio::time::sleep_until(next.into()).await;
        let (kube_then, aws_then) = (h.kube.requests().len(), h.front.requests().len());
        if let Some((namespace, name)) = replaced.take() {
            h.kube.remove("Pod", &namespace, &name);
        }
        if round % 5 == 4 {
            recover_one(&h);
        }
        let name = format!("churn-{round}");
        let pod = failing_copy(&h, &name);
        let namespace = pod["metadata"]["namespace"].as_str().unwrap().to_string();
        h.kube.add(pod);
        replaced = Some((namespace, name.clone()));
        let took = wait_for("the new pod's Event", Duration::from_secs(300), || {
            !h.kube.events_about(&name).is_empty()
        })
        .await;
        rss.push(rss_kib(pid).unwrap_or_default());
        if round == 0 {
            let kube = h.kube.requests();
            let reads = kube[kube_then..]
                .iter()
                .filter(|r| r.starts_with("GET "))
                .count();
            let aws = h.front.requests().len() - aws_then;
            println!(
                "a new failing pod's Event {took:.2?} after its watch event; that read (reusing AWS lookups): {reads} Kubernetes GETs + {aws} AWS calls"
            );
        } else {
            println!("churn round {round}: Event {took:.2?} after the watch event");
        }
    }
    let kube = h.kube.requests().len() - kube_before;
    let aws = h.front.requests().len() - aws_before;
    println!(
        "{rounds} churn rounds over {:.0?}: {kube} Kubernetes requests + {aws} AWS calls (Events and watches included)",
        churn_started.elapsed()
    );
    println!(
        "RSS after each churn read: {:?} KiB ({:.0?} since start)",
        rss,
        started.elapsed()
    );
    let _ = child.kill();
    let _ = child.wait();
}
