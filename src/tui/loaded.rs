//! What the TUI holds of a read: the facts and their diagnosis ([`Loaded`]), and what the lists
//! show of them after the namespace and the filter ([`Listing`]). Both are derived once per report
//! or filter change, so that drawing a frame never scans every pod.

use super::action::{Diagnosed, Screen};
use super::browse::{self, Table};
use super::columns::PodWidths;
use crate::facts::Facts;
use crate::report::{Finding, Report};
use k8s_openapi::jiff::Timestamp;
use std::collections::HashMap;
use std::sync::Arc;

/// The facts read and their diagnosis, twice: as made, and escaped for the screen.
pub struct Loaded {
    facts: Arc<Facts>,
    /// The diagnosis as made: plans are made from it, so documents are sent exactly as read.
    raw: Arc<Report>,
    /// The same diagnosis with hostile text escaped: everything shown comes from it.
    report: Report,
    /// Finding indices in list order: failing first, grouped by namespace and workload.
    order: Vec<usize>,
    /// Each finding's pod age, relative to `now`.
    ages: Vec<String>,
    /// Ages are relative to this instant (the snapshot's time for offline input).
    now: Timestamp,
}

impl Loaded {
    /// The TUI shows only escaped text (see `crate::text`).
    pub fn new(diagnosed: Diagnosed, now: Timestamp) -> Loaded {
        let report = diagnosed.report.escaped();
        Loaded {
            order: list_order(&report.findings),
            ages: ages(&diagnosed.facts, &report.findings, now),
            facts: diagnosed.facts,
            raw: diagnosed.report,
            report,
            now,
        }
    }

    /// Takes a new read, its ages relative to the same instant.
    pub fn replace(&mut self, diagnosed: Diagnosed) {
        *self = Loaded::new(diagnosed, self.now);
    }

    pub fn facts(&self) -> &Arc<Facts> {
        &self.facts
    }

    /// The diagnosis escaped: what is shown.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The diagnosis as made (unescaped): what plans and copies are made from.
    pub fn raw(&self) -> &Arc<Report> {
        &self.raw
    }

    /// The age of finding `index`'s pod.
    pub fn age(&self, index: usize) -> &str {
        self.ages.get(index).map(String::as_str).unwrap_or("-")
    }
}

/// Failing first, then by namespace, workload, pod and container.
fn list_order(findings: &[Finding]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&findings[a], &findings[b]);
        (y.verdict, &x.namespace, &x.workload, &x.pod, &x.container).cmp(&(
            x.verdict,
            &y.namespace,
            &y.workload,
            &y.pod,
            &y.container,
        ))
    });
    order
}

/// Pod ages per finding, computed once per report.
fn ages(facts: &Facts, findings: &[Finding], now: Timestamp) -> Vec<String> {
    let created: HashMap<(&str, &str), i64> = facts
        .pods
        .iter()
        .filter_map(|p| {
            let t = p.metadata.creation_timestamp.as_ref()?.0.as_second();
            let key = (
                crate::facts::kube::namespace_of(p),
                crate::facts::kube::name_of(p),
            );
            Some((key, t))
        })
        .collect();
    findings
        .iter()
        .map(|f| {
            f.pod
                .as_deref()
                .and_then(|pod| created.get(&(f.namespace.as_str(), pod)))
                .map(|t| crate::text::human_age(now.as_second() - t))
                .unwrap_or_else(|| "-".to_string())
        })
        .collect()
}

/// What the lists show: the namespace and filter chosen, the pod rows they leave, and the table
/// of the browse screen open.
#[derive(Default)]
pub struct Listing {
    filter: String,
    namespace: Option<String>,
    /// Finding indices of the pod list, in list order.
    visible: Vec<usize>,
    /// The pod list's widest cells, measured when its rows change.
    pod_widths: PodWidths,
    /// The table of the browse screen open, built when its data changes, not per frame.
    browse: Option<Table>,
}

impl Listing {
    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    pub fn pod_widths(&self) -> &PodWidths {
        &self.pod_widths
    }

    pub fn browse(&self) -> Option<&Table> {
        self.browse.as_ref()
    }

    pub fn set_filter(&mut self, filter: String, loaded: &Loaded, screen: &Screen) {
        self.filter = filter;
        self.refresh(loaded, screen);
    }

    pub fn set_namespace(&mut self, namespace: Option<String>, loaded: &Loaded, screen: &Screen) {
        self.namespace = namespace;
        self.refresh(loaded, screen);
    }

    /// Recomputes the rows; called whenever the filter, namespace or report changes.
    pub fn refresh(&mut self, loaded: &Loaded, screen: &Screen) {
        let needle = self.filter.to_lowercase();
        let findings = &loaded.report.findings;
        self.visible = loaded
            .order
            .iter()
            .copied()
            .filter(|&i| {
                let f = &findings[i];
                self.namespace.as_ref().is_none_or(|ns| *ns == f.namespace)
                    && (needle.is_empty() || row_text(f).contains(&needle))
            })
            .collect();
        let mut widths = PodWidths::default();
        for &i in &self.visible {
            let f = &findings[i];
            widths.measure(f, super::theme::marker(f.verdict), loaded.age(i));
        }
        self.pod_widths = widths;
        self.rebuild_browse(loaded, screen);
    }

    /// Builds the open browse screen's table: on opening it, and when the report, namespace or
    /// filter change.
    pub fn rebuild_browse(&mut self, loaded: &Loaded, screen: &Screen) {
        self.browse = match screen {
            Screen::Browse(kind) => {
                let mut table = browse::table(*kind, &loaded.report, self.namespace());
                let needle = self.filter.to_lowercase();
                if !needle.is_empty() {
                    table
                        .rows
                        .retain(|r| r.cells.join(" ").to_lowercase().contains(&needle));
                }
                Some(table)
            }
            _ => None,
        };
    }
}

fn row_text(f: &Finding) -> String {
    format!(
        "{} {} {} {} {} {} {}",
        f.namespace,
        f.pod.as_deref().or(f.workload.as_deref()).unwrap_or(""),
        f.container,
        f.state,
        f.verdict.as_str(),
        f.broken_link.map(|l| l.as_str()).unwrap_or(""),
        f.cause.map(|c| c.as_str()).unwrap_or("")
    )
    .to_lowercase()
}
