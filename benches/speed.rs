//! Benchmarks (not tests): the diagnosis of a large synthetic cluster, and drawing the pod list
//! of the TUI with 10,000 pods. Run: cargo bench --bench speed
//! `cargo bench --bench speed -- large` runs only the 100,000-pod ingest and diagnosis, so that
//! `/usr/bin/time -v` measures its peak memory alone.
//! `cargo bench --bench speed -- memory` writes the 100,000-pod cluster as `kubectl` prints JSON
//! (four spaces a level) and runs `pulldoctor diagnose --from` on it: the input's size, the
//! process's peak memory and their ratio (target: under 3x).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod common;

use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::facts::ingest::{Document, ingest};
use pulldoctor::tui::app::{Action, App, Diagnosed};
use pulldoctor::tui::theme::Theme;
use pulldoctor::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

fn time<T>(runs: u32, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = None;
    let start = Instant::now();
    for _ in 0..runs {
        last = Some(f());
    }
    (start.elapsed() / runs, last.expect("at least one run"))
}

fn documents(pods: usize, failing: usize) -> Vec<Document> {
    common::synthetic_cluster(pods, failing, true)
        .into_iter()
        .map(|value| Document {
            origin: "bench".into(),
            value,
        })
        .collect()
}

/// 100,000 pods of which 20,000 fail: ingest and diagnosis must stay linear.
fn large() {
    // With PULLDOCTOR_BENCH_WRITE=FILE the bundle is also written out, to time the binary on it.
    if let Some(path) = std::env::var_os("PULLDOCTOR_BENCH_WRITE") {
        let bundle = serde_json::Value::Array(common::synthetic_cluster(100_000, 20_000, true));
        std::fs::write(path, bundle.to_string()).expect("the bundle is written");
    }
    let docs = documents(100_000, 20_000);
    let (ingest_time, facts) = time(1, || ingest(&docs));
    drop(docs);
    let (failing_time, failing) = time(1, || diagnose(&facts, &Selection::default()));
    println!(
        "100,000 pods: ingest {ingest_time:>10.2?}; diagnose the {} failing {failing_time:>10.2?}",
        failing.findings.len()
    );
}

/// The binary on a 100,000-pod snapshot file: peak memory against the input's size.
fn memory() {
    let dir = std::env::temp_dir().join(format!("pulldoctor-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("snapshot.json");
    let snapshot = serde_json::json!({
        "source": {"cluster": "bench", "region": "us-east-1"},
        "documents": common::synthetic_cluster(100_000, 20_000, true),
    });
    let mut text = Vec::new();
    let indent = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    serde::Serialize::serialize(
        &snapshot,
        &mut serde_json::Serializer::with_formatter(&mut text, indent),
    )
    .unwrap();
    drop(snapshot);
    std::fs::write(&path, &text).unwrap();
    let input_mib = text.len() as f64 / (1024.0 * 1024.0);
    drop(text);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pulldoctor"));
    command
        .args(["diagnose", "--max-input-mb", "4096", "-o", "json", "--from"])
        .arg(&path);
    let (out, wall, peak) = common::timed(&command);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak_mib = peak.map(|k| k as f64 / 1024.0);
    println!(
        "100,000 pods from a {input_mib:.0} MiB file: {wall:.2?}, peak {}",
        match peak_mib {
            Some(p) => format!("{p:.0} MiB ({:.2}x the input)", p / input_mib),
            None => "not measured (no /usr/bin/time)".to_string(),
        }
    );
    // PULLDOCTOR_BENCH_KEEP=1 keeps the file, to measure other commands on it.
    match std::env::var_os("PULLDOCTOR_BENCH_KEEP") {
        Some(_) => println!("kept: {}", path.display()),
        None => {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "large") {
        large();
        return;
    }
    if std::env::args().any(|a| a == "memory") {
        memory();
        return;
    }
    let docs = documents(10_000, 500);
    let (ingest_time, facts) = time(3, || ingest(&docs));
    let (failing_time, failing) = time(3, || diagnose(&facts, &Selection::default()));
    let (all_time, all) = time(3, || {
        diagnose(
            &facts,
            &Selection {
                all: true,
                ..Default::default()
            },
        )
    });
    println!(
        "synthetic cluster: {} pods, {} failing",
        facts.pods.len(),
        failing.findings.len()
    );
    println!("ingest:                      {ingest_time:>10.2?}");
    println!(
        "diagnose failing pods only:  {failing_time:>10.2?}  ({} findings)",
        failing.findings.len()
    );
    println!(
        "diagnose every pod (--all):  {all_time:>10.2?}  ({} findings)",
        all.findings.len()
    );

    let demo = pulldoctor::source::facts_from_bundle(&pulldoctor::source::demo::bundle(), "demo");
    let (demo_time, demo_report) = time(50, || {
        diagnose(
            &demo,
            &Selection {
                all: true,
                ..Default::default()
            },
        )
    });
    println!(
        "diagnose the demo (--all):   {demo_time:>10.2?}  ({} findings)",
        demo_report.findings.len()
    );

    let mut app = App::new(
        Diagnosed::of(facts),
        k8s_openapi::jiff::Timestamp::from_second(1_795_000_000).unwrap(),
    );
    let theme = Theme { color: true };
    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let frames = 200;
        let (frame_time, _) = time(frames, || {
            app.update(Action::Down);
            terminal.draw(|f| view::draw(f, &mut app, theme)).unwrap();
        });
        println!(
            "draw the pod list, 10,000 pods, {w}x{h}: {frame_time:>8.2?} a frame (mean of {frames})"
        );
    }
    app.update(Action::StartFilter);
    for c in "ns1".chars() {
        app.update(Action::Input(c));
    }
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let (filtered, _) = time(100, || {
        terminal.draw(|f| view::draw(f, &mut app, theme)).unwrap();
    });
    println!("draw with a filter, 200x60:  {filtered:>10.2?} a frame");
    large();
}
