//! Scenario expectations (contract §5): the `expect` list of a scenario, checked against a
//! report. Used by the test suite; kept in the library so outside suites can use it too.

use crate::report::{Finding, Report};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expectation {
    /// `namespace/pod`.
    #[serde(default)]
    pub pod: Option<String>,
    /// `namespace/Kind/name` for a workload whose pods cannot be created.
    #[serde(default)]
    pub workload: Option<String>,
    #[serde(default)]
    pub container: Option<String>,
    pub verdict: String,
    #[serde(default)]
    pub broken_link: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    /// Link-level causes of links that are warnings (a warning never sets the finding's cause).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Expectation {
    fn matches_subject(&self, f: &Finding) -> bool {
        let subject_ok = match (&self.pod, &self.workload) {
            (Some(pod), _) => {
                f.pod.as_ref().map(|p| format!("{}/{p}", f.namespace)) == Some(pod.clone())
            }
            (None, Some(w)) => {
                f.pod.is_none()
                    && f.workload.as_ref().map(|x| format!("{}/{x}", f.namespace))
                        == Some(w.clone())
            }
            (None, None) => false,
        };
        subject_ok && self.container.as_ref().is_none_or(|c| *c == f.container)
    }

    pub fn label(&self) -> String {
        let subject = self
            .pod
            .clone()
            .or_else(|| self.workload.clone())
            .unwrap_or_default();
        match &self.container {
            Some(c) => format!("{subject} [{c}]"),
            None => subject,
        }
    }
}

pub fn parse(value: &serde_json::Value) -> Result<Vec<Expectation>, String> {
    serde_json::from_value(value.clone()).map_err(|e| format!("expect list does not parse: {e}"))
}

/// Every mismatch between the expectations and the report, as readable lines.
pub fn check(expectations: &[Expectation], report: &Report) -> Vec<String> {
    let mut errors = Vec::new();
    for e in expectations {
        let found: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| e.matches_subject(f))
            .collect();
        let Some(f) = found.first() else {
            errors.push(format!("{}: no finding", e.label()));
            continue;
        };
        if found.len() > 1 && e.container.is_none() {
            errors.push(format!(
                "{}: {} findings; name the container",
                e.label(),
                found.len()
            ));
            continue;
        }
        let got = (
            f.verdict.as_str().to_string(),
            f.broken_link.map(|l| l.as_str().to_string()),
            f.cause.map(|c| c.as_str().to_string()),
        );
        let want = (e.verdict.clone(), e.broken_link.clone(), e.cause.clone());
        if got != want {
            errors.push(format!(
                "{}: expected {} / {} / {}, got {} / {} / {} — {}",
                e.label(),
                want.0,
                want.1.as_deref().unwrap_or("-"),
                want.2.as_deref().unwrap_or("-"),
                got.0,
                got.1.as_deref().unwrap_or("-"),
                got.2.as_deref().unwrap_or("-"),
                f.summary
            ));
        }
        for w in &e.warnings {
            let has = f.links.iter().any(|l| {
                l.status == crate::report::Status::Warning
                    && l.cause.map(|c| c.as_str()) == Some(w.as_str())
            });
            if !has {
                errors.push(format!(
                    "{}: expected a warning link with cause {w}",
                    e.label()
                ));
            }
        }
    }
    errors
}
