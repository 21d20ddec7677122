//! When a failing pod gets an Event, and which: decided from the diagnosis and the time alone, so
//! the rules (a delay before the first, a new one when the cause changes, a refresh while it
//! persists, one on recovery) are tested without a cluster.

use crate::report::{Finding, Report, Status};
use std::collections::BTreeMap;
use std::time::Duration;

/// The API server keeps an Event's note to 1 kB.
const MAX_NOTE_BYTES: usize = 1024;

/// A pod an Event is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

/// What the diagnosis says about one pod that cannot pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub pod: PodRef,
    /// The Event's `action`: the cause code (or `unknown-LINK`). The Recorder folds Events that
    /// differ only in their note, so a changed diagnosis must change this.
    pub action: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Warning `PullDiagnosed`.
    Diagnosed(Failure),
    /// Normal `PullRecovered`.
    Recovered(PodRef),
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long a pod fails before its first Event: one that pulls meanwhile gets none.
    pub delay: Duration,
    /// How often an unchanged diagnosis is said again, so it outlives the API server's one-hour
    /// Event retention.
    pub refresh: Duration,
}

struct Tracked {
    failing_since: Duration,
    /// The action last said, and when.
    said: Option<(String, Duration)>,
    pod: PodRef,
}

/// The pods seen failing, keyed by namespace and name.
pub struct Tracker {
    timing: Timing,
    pods: BTreeMap<(String, String), Tracked>,
}

impl Tracker {
    pub fn new(timing: Timing) -> Tracker {
        Tracker {
            timing,
            pods: BTreeMap::new(),
        }
    }

    /// The Events due at `now` (time since the agent started) for the pods failing now; a pod
    /// no longer failing is forgotten, with `PullRecovered` if it was told about and still
    /// `exists` (a deleted pod gets nothing).
    pub fn observe(
        &mut self,
        failures: Vec<Failure>,
        exists: impl Fn(&PodRef) -> bool,
        now: Duration,
    ) -> Vec<Notice> {
        let mut notices = Vec::new();
        let mut failing = BTreeMap::new();
        for failure in failures {
            let key = (failure.pod.namespace.clone(), failure.pod.name.clone());
            let mut tracked = self.pods.remove(&key).unwrap_or(Tracked {
                failing_since: now,
                said: None,
                pod: failure.pod.clone(),
            });
            if let Some(action) = &failure.action
                && self.due(&tracked, action, now)
            {
                tracked.said = Some((action.clone(), now));
                notices.push(Notice::Diagnosed(failure.clone()));
            }
            tracked.pod = failure.pod;
            failing.insert(key, tracked);
        }
        for (_, gone) in std::mem::replace(&mut self.pods, failing) {
            if gone.said.is_some() && exists(&gone.pod) {
                notices.push(Notice::Recovered(gone.pod));
            }
        }
        notices
    }

    fn due(&self, tracked: &Tracked, action: &str, now: Duration) -> bool {
        if now.saturating_sub(tracked.failing_since) < self.timing.delay {
            return false;
        }
        match &tracked.said {
            None => true,
            Some((said, _)) if said != action => true,
            Some((_, at)) => now.saturating_sub(*at) >= self.timing.refresh,
        }
    }

    /// How many pods are followed: what the agent's memory grows with.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }
}

/// One [`Failure`] per pod that cannot pull: its first container's finding that is broken, else
/// unknown (what the pod's Event says), with the pod's uid from `uid_of`.
pub fn failures(report: &Report, uid_of: impl Fn(&str, &str) -> Option<String>) -> Vec<Failure> {
    let mut by_pod: BTreeMap<(&str, &str), &Finding> = BTreeMap::new();
    for finding in report.findings.iter().filter(|f| f.failing) {
        let Some(pod) = finding.pod.as_deref() else {
            continue;
        };
        let rank = |f: &Finding| match f.verdict {
            Status::Broken => 0,
            Status::Unknown => 1,
            _ => 2,
        };
        let slot = by_pod.entry((&finding.namespace, pod)).or_insert(finding);
        if rank(finding) < rank(slot) {
            *slot = finding;
        }
    }
    by_pod
        .into_iter()
        .map(|((namespace, name), finding)| Failure {
            pod: PodRef {
                namespace: namespace.to_string(),
                name: name.to_string(),
                uid: uid_of(namespace, name),
            },
            action: action(finding),
            note: note(finding),
        })
        .collect()
}

/// The cause code, or `unknown-LINK` for a link that could not be checked; nothing to say for a
/// pod whose chain holds (the kubelet's own events say more).
fn action(finding: &Finding) -> Option<String> {
    match (finding.verdict, finding.cause, finding.broken_link) {
        (Status::Broken, Some(cause), _) => Some(cause.as_str().to_string()),
        (Status::Broken | Status::Unknown, _, Some(link)) => {
            Some(format!("{}-{}", finding.verdict.as_str(), link.as_str()))
        }
        (Status::Unknown, _, None) => Some("unknown".to_string()),
        _ => None,
    }
}

/// `pulldoctor: LINK broken (CAUSE) on CONTAINER: SUMMARY — fix: COMMAND`, escaped, within the
/// note's limit.
fn note(finding: &Finding) -> String {
    let link = finding.broken_link.map_or("chain", |l| l.as_str());
    let cause = finding
        .cause
        .map(|c| format!(" ({})", c.as_str()))
        .unwrap_or_default();
    let fix = finding
        .fixes
        .first()
        .and_then(|f| f.steps.iter().find_map(|s| s.command.as_deref()))
        .map(|c| format!(" — fix: {c}"))
        .unwrap_or_default();
    let text = format!(
        "pulldoctor: {link} {}{cause} on container {}: {}{fix}",
        finding.verdict.as_str(),
        finding.container,
        finding.summary
    );
    truncate(&crate::text::escape_line(&text), MAX_NOTE_BYTES)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        delay: Duration::from_secs(120),
        refresh: Duration::from_secs(1800),
    };

    fn failure(name: &str, action: &str) -> Failure {
        Failure {
            pod: PodRef {
                namespace: "shop".into(),
                name: name.into(),
                uid: None,
            },
            action: Some(action.into()),
            note: format!("pulldoctor: {action}"),
        }
    }

    fn at(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    fn actions(notices: &[Notice]) -> Vec<String> {
        notices
            .iter()
            .map(|n| match n {
                Notice::Diagnosed(f) => {
                    format!("{} {}", f.pod.name, f.action.clone().unwrap_or_default())
                }
                Notice::Recovered(p) => format!("{} recovered", p.name),
            })
            .collect()
    }

    #[test]
    fn the_first_event_waits_for_the_delay() {
        let mut tracker = Tracker::new(TIMING);
        let web = || vec![failure("web", "node-role-lacks-pull")];
        assert!(tracker.observe(web(), |_| true, at(0)).is_empty());
        assert!(tracker.observe(web(), |_| true, at(119)).is_empty());
        assert_eq!(
            actions(&tracker.observe(web(), |_| true, at(120))),
            ["web node-role-lacks-pull"]
        );
        assert!(
            tracker.observe(web(), |_| true, at(200)).is_empty(),
            "said once"
        );
    }

    #[test]
    fn a_pod_that_pulls_within_the_delay_gets_nothing() {
        let mut tracker = Tracker::new(TIMING);
        tracker.observe(vec![failure("web", "x")], |_| true, at(0));
        assert!(tracker.observe(Vec::new(), |_| true, at(60)).is_empty());
        assert!(tracker.is_empty());
    }

    #[test]
    fn a_changed_cause_is_said_at_once_and_a_lasting_one_again_later() {
        let mut tracker = Tracker::new(TIMING);
        tracker.observe(vec![failure("web", "a")], |_| true, at(0));
        assert_eq!(
            tracker
                .observe(vec![failure("web", "a")], |_| true, at(120))
                .len(),
            1
        );
        assert_eq!(
            actions(&tracker.observe(vec![failure("web", "b")], |_| true, at(130))),
            ["web b"]
        );
        assert!(
            tracker
                .observe(vec![failure("web", "b")], |_| true, at(1900))
                .is_empty()
        );
        assert_eq!(
            tracker
                .observe(vec![failure("web", "b")], |_| true, at(1930))
                .len(),
            1
        );
    }

    #[test]
    fn recovery_is_said_for_a_pod_told_about_that_still_exists() {
        let mut tracker = Tracker::new(TIMING);
        let both = || vec![failure("web", "a"), failure("api", "a")];
        tracker.observe(both(), |_| true, at(0));
        assert_eq!(tracker.observe(both(), |_| true, at(120)).len(), 2);
        let notices = tracker.observe(Vec::new(), |p| p.name == "web", at(130));
        assert_eq!(actions(&notices), ["web recovered"], "api was deleted");
        assert!(tracker.is_empty());
    }

    #[test]
    fn a_note_is_cut_at_the_limit_on_a_character_boundary() {
        let long = "é".repeat(1000);
        let cut = truncate(&long, MAX_NOTE_BYTES);
        assert!(cut.len() <= MAX_NOTE_BYTES && cut.ends_with('…'));
        assert_eq!(truncate("short", MAX_NOTE_BYTES), "short");
    }
}
