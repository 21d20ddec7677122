//! What moves the TUI: the [`Action`]s its reducer takes, the [`Effect`]s it asks the runtime
//! for, and the [`Screen`]s it shows — apart from the state, so that the keymap and the views
//! name them without naming the state.

use super::browse;
use crate::diagnose::{self, Selection};
use crate::facts::Facts;
use crate::report::Report;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    OpenFix,
    Back,
    Copy,
    Refresh,
    StartFilter,
    StartCommand,
    Help,
    Quit,
    /// A character typed into the filter or command line.
    Input(char),
    InputBackspace,
    InputSubmit,
    InputCancel,
    Resize,
    /// New facts and their diagnosis (a refresh, or a live update), made in the background.
    Diagnosed(Box<Diagnosed>),
    /// While a read goes on: the pods read whole so far, diagnosed.
    PartlyDiagnosed(Box<Diagnosed>),
    /// Reading the facts failed; the old ones stay.
    LoadFailed(String),
    /// The stage a read is at.
    Progress(String),
    /// AWS keeps a read waiting: said while the read goes on.
    Slow(String),
    /// Choose the next of the finding's fixes.
    NextFix,
    /// The findings the chain's broken entity stops, and the node groups it would.
    Radius,
    /// Scroll the chain's evidence pane.
    EvidenceDown,
    EvidenceUp,
    /// Export the finished wizard's files.
    Export,
    /// The wizard's checks and plan, or why there are none.
    Planned(Result<Box<crate::wizard::Setup>, String>),
    /// The chain a pod of the set-up ServiceAccount would see.
    Verified(Result<String, String>),
    /// Apply the chosen fix (asks first; needs --allow-writes).
    Apply,
    /// How applying went: one line per change, or why nothing was written.
    Applied(Result<Vec<String>, String>),
    /// The watch saw the set of pods that cannot pull change.
    ClusterChanged,
}

impl Action {
    /// Sent by background work, not typed: taken whatever is open, and it leaves the message.
    pub(super) fn is_from_background(&self) -> bool {
        matches!(
            self,
            Action::Diagnosed(_)
                | Action::PartlyDiagnosed(_)
                | Action::LoadFailed(_)
                | Action::Progress(_)
                | Action::Slow(_)
                | Action::Planned(_)
                | Action::Verified(_)
                | Action::Applied(_)
                | Action::ClusterChanged
                | Action::Resize
        )
    }
}

/// One pod, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodName {
    pub namespace: String,
    pub name: String,
}

/// What a read brought back.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// Everything: it replaces the facts.
    Everything(Facts),
    /// One pod and what its chain needs: it is folded into the facts.
    Pod(PodName, Facts),
}

/// Facts and their diagnosis (as made, before any text is escaped for the screen). Made off the
/// UI thread: the UI thread only draws and reduces.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosed {
    pub facts: Arc<Facts>,
    pub report: Arc<Report>,
}

impl Diagnosed {
    /// Every container of every pod, diagnosed.
    pub fn of(facts: Facts) -> Diagnosed {
        let report = diagnose::diagnose(
            &facts,
            &Selection {
                all: true,
                ..Default::default()
            },
        );
        Diagnosed {
            facts: Arc::new(facts),
            report: Arc::new(report),
        }
    }

    /// A read settled into the facts it refreshes (one pod's read is folded into them), then
    /// diagnosed.
    pub fn settle(read: Read, current: &Facts) -> Diagnosed {
        match read {
            Read::Everything(facts) => Diagnosed::of(facts),
            Read::Pod(pod, fresh) => {
                let mut facts = current.clone();
                facts.refresh_pod(&pod.namespace, &pod.name, fresh);
                Diagnosed::of(facts)
            }
        }
    }
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Copy text to the clipboard and save it to a file named for `name`, ending in `suffix`.
    Copy {
        suffix: &'static str,
        name: String,
        text: String,
    },
    /// Read the facts again (in the background) — of one pod where that is all that is asked —
    /// diagnose them there, and send them back as [`Action::Diagnosed`].
    Reload(Option<PodName>),
    /// Check and plan the wizard's answers (reading what they name) and send back
    /// [`Action::Planned`].
    Plan(Box<crate::wizard::Answers>),
    /// Diagnose a pod of the set-up ServiceAccount and send back [`Action::Verified`].
    Verify(Box<crate::wizard::Setup>),
    /// Write the wizard's files into a directory.
    Export {
        setup: Box<crate::wizard::Setup>,
        dir: String,
    },
    /// Carry out a confirmed plan (in the background) and send back [`Action::Applied`].
    Apply(Box<crate::fix::guard::Checked>),
    /// Read another kubeconfig context from now on (`:ctx NAME`).
    SwitchContext(String),
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Pods,
    /// The setup wizard for a new app.
    Wizard,
    /// The chain of one finding (index into the report).
    Chain {
        finding: usize,
    },
    Fix {
        finding: usize,
    },
    /// ServiceAccounts, roles or repositories.
    Browse(browse::Kind),
    /// The pods related to one ServiceAccount, role or repository.
    Related {
        title: String,
        lines: Vec<String>,
        findings: Vec<usize>,
    },
    /// The read failed before any read succeeded: what went wrong and what to do, never an
    /// empty list that passes for an all-clear.
    ReadFailed,
}

impl Screen {
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            Screen::Pods | Screen::Browse(_) | Screen::Related { .. }
        )
    }
}
