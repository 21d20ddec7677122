//! What the TUI asks of the world, behind one trait: read again, follow the cluster, apply a
//! plan, plan and verify a setup, switch context. Each call returns a future that the TUI runs
//! on the process's runtime and aborts when the context changes; a backend that cannot do
//! something says so in [`Abilities`] and the TUI does not offer it.

use super::app::{PodName, Read};
use crate::facts::Facts;
use crate::fix::guard::Checked;
use crate::wizard::{Answers, Setup};
use futures::future::BoxFuture;
use std::sync::Arc;

/// Work a backend hands the TUI to run in the background.
pub type Job<T> = BoxFuture<'static, T>;

/// What a read tells while it goes on.
pub enum News {
    /// A read of everything: the facts of the pods read whole so far.
    Partly(Box<Facts>),
    /// The stage it is at, with counts.
    Progress(String),
    /// AWS keeps a call waiting `--timeout`: said at once, not after the call gives up.
    Slow(String),
}

/// Told the [`News`] of a read.
pub type Listener = Box<dyn Fn(News) + Send + Sync>;

/// What a backend can do; the TUI offers only these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Abilities {
    /// Read the facts again (a bundle can be re-read; the demo cannot).
    pub read: bool,
    /// Watch the cluster for pods that start or stop failing.
    pub follow: bool,
    /// Apply plans (live, with `--allow-writes`).
    pub apply: bool,
    /// Verify a setup after applying it against fresh reads.
    pub verify: bool,
}

pub trait Backend: Send + Sync {
    fn abilities(&self) -> Abilities;

    /// Reads the facts again: everything, or one pod and what its chain needs, telling
    /// `listener` how it goes.
    fn read(&self, pod: Option<PodName>, listener: Listener) -> Job<Result<Read, String>>;

    /// Follows the cluster: calls `changed` whenever the pods that cannot pull change, and ends
    /// when it returns false.
    fn follow(&self, changed: Box<dyn FnMut() -> bool + Send>) -> Job<()> {
        drop(changed);
        Box::pin(async {})
    }

    /// Carries out a confirmed plan: checks, backups, writes.
    fn apply(&self, plan: Checked) -> Job<Result<Vec<String>, String>> {
        drop(plan);
        Box::pin(async { Err("read-only: nothing was applied".to_string()) })
    }

    /// Checks and plans the wizard's answers; a live backend first reads what they name.
    fn plan(&self, answers: Answers, facts: Arc<Facts>) -> Job<Result<Setup, String>> {
        Box::pin(async move {
            crate::wizard::plan(&facts, &answers).map_err(|errors| errors.join("; "))
        })
    }

    /// Diagnoses a pod of a newly set-up ServiceAccount against fresh reads: its chain as text.
    fn verify(&self, setup: Setup) -> Job<Result<String, String>> {
        drop(setup);
        Box::pin(async { Err("nothing to verify against".to_string()) })
    }

    /// `:ctx`: the kubeconfig's contexts and the one in use (none offline).
    fn contexts(&self) -> (Vec<String>, Option<String>) {
        (Vec::new(), None)
    }

    /// The backend of another context.
    fn switch(&self, context: &str) -> Option<Arc<dyn Backend>> {
        let _ = context;
        None
    }
}
