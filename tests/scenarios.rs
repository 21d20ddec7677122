//! Every scenario in assets/scenarios is diagnosed (all pods) and checked against its `expect`
//! list; together the scenarios must produce every cause code of the contract.

use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::report::{Cause, Report, Status};
use pulldoctor::scenario;
use pulldoctor::source::{self, bundle};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn scenario_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            ) {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios"),
        &mut files,
    );
    files
}

fn run(path: &Path) -> (Report, Vec<scenario::Expectation>) {
    let b = bundle::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let expect = b
        .expect
        .as_ref()
        .unwrap_or_else(|| panic!("{}: no expect list", path.display()));
    let expectations =
        scenario::parse(expect).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let facts = source::facts_from_bundle(&b, "snapshot");
    let report = diagnose(
        &facts,
        &Selection {
            all: true,
            ..Default::default()
        },
    );
    (report, expectations)
}

#[test]
fn every_scenario_meets_its_expectations() {
    let files = scenario_files();
    assert!(
        files.len() >= 8,
        "expected the demo and the cause scenarios, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let (report, expectations) = run(path);
        assert!(
            !expectations.is_empty(),
            "{}: empty expect list",
            path.display()
        );
        assert!(
            report.problems.is_empty(),
            "{}: input problems: {:?}",
            path.display(),
            report.problems
        );
        for e in scenario::check(&expectations, &report) {
            failures.push(format!(
                "{}: {e}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn scenarios_cover_every_cause_code() {
    let mut covered = BTreeSet::new();
    for path in scenario_files() {
        let (_, expectations) = run(&path);
        for e in expectations {
            covered.extend(e.cause.clone());
            covered.extend(e.warnings.clone());
        }
    }
    let missing: Vec<&str> = Cause::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "causes no scenario expects: {missing:?}"
    );
}

#[test]
fn every_finding_with_a_broken_link_carries_a_fix() {
    for path in scenario_files() {
        let (report, _) = run(&path);
        for f in &report.findings {
            if f.verdict == Status::Broken {
                assert!(
                    !f.fixes.is_empty(),
                    "{}: {} ({:?}) has no fix",
                    path.display(),
                    f.subject(),
                    f.cause
                );
                for fix in &f.fixes {
                    assert_eq!(Some(fix.cause), f.cause);
                    assert!(fix.steps.iter().all(|s| !s.explain.is_empty()));
                }
            }
        }
    }
}

#[test]
fn the_demo_is_deterministic_and_lists_every_pod() {
    let demo = source::demo::bundle();
    let facts = source::facts_from_bundle(&demo, "demo");
    let all = Selection {
        all: true,
        ..Default::default()
    };
    let first = diagnose(&facts, &all);
    assert_eq!(first, diagnose(&facts, &all));
    assert!(
        facts.pods.len() >= 12,
        "the demo has {} pods",
        facts.pods.len()
    );
    let namespaces: BTreeSet<&str> = first
        .findings
        .iter()
        .map(|f| f.namespace.as_str())
        .collect();
    assert!(namespaces.len() >= 3);
    // Without --all only pods that cannot pull (and workloads that cannot create pods) show.
    let failing = diagnose(&facts, &Selection::default());
    assert!(failing.findings.iter().all(|f| f.state != "Running"));
    assert!(failing.findings.len() < first.findings.len());
}
