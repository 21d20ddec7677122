//! Carrying out a plan, in one place for the command line, the TUI and the wizard: re-read each
//! target → confirm → back up → write (the caller then diagnoses again). Only a [`Writer`]
//! writes; only a [`WritePermission`] — which the command line grants for `--allow-writes`
//! alone — makes one; and it carries out only a [`Checked`] plan, which only the guard makes.
//! Each target's read-now and write live together: `kube_writes`, `iam_writes`, `ecr_writes`,
//! `ec2_writes`.

use super::guard::Checked;
use super::write_plan::{Plan, Write};
use crate::iam::policy::PolicyDocument;
use crate::report::Apply;
use crate::source::live::Session;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Proof that the user passed `--allow-writes`. Only this crate's command line creates one.
#[derive(Clone)]
pub struct WritePermission(());

impl WritePermission {
    pub(crate) fn from_flag(allow_writes: bool) -> Option<WritePermission> {
        allow_writes.then_some(WritePermission(()))
    }
}

/// The one thing that writes: the context's session behind a [`WritePermission`].
pub struct Writer {
    pub(super) session: Arc<Session>,
    account: String,
    _permission: WritePermission,
}

/// What the target looks like now.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Now {
    /// A document, normalised (or `None`: there is none).
    Document(Option<String>),
    /// Whether the thing the call creates or attaches is already there.
    Present(bool),
}

/// What to do with one write after reading the target again.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Proceed,
    AlreadyDone,
    Changed(String),
}

/// A policy document in one canonical text, so that AWS's URL-encoding and spacing compare equal.
pub(super) fn normal(text: &str) -> String {
    PolicyDocument::from_text(text)
        .map(|d| d.to_pretty_json())
        .unwrap_or_else(|_| text.to_string())
}

impl Writer {
    pub async fn new(
        _permission: WritePermission,
        session: Arc<Session>,
    ) -> Result<Writer, String> {
        let aws = &session.aws;
        let caller = aws
            .call(
                "sts:GetCallerIdentity",
                "the current credentials",
                aws.sts.get_caller_identity().send(),
            )
            .await
            .map_err(|e| e.message)?;
        Ok(Writer {
            account: caller.account().unwrap_or_default().to_string(),
            session,
            _permission,
        })
    }

    /// Reads the target again and decides: go ahead, already done, or changed since the plan.
    async fn check(&self, write: &Write) -> Result<Check, String> {
        let owner = write.apply.account();
        if !owner.is_empty() && owner != self.account {
            return Err(format!(
                "{} changes account {owner}, and these credentials are of account {}: run it with credentials of {owner} (--profile)",
                write.apply.target(),
                self.account
            ));
        }
        let now = self.now(&write.apply).await?;
        let after = write.after.as_deref().map(normal);
        let before = write.before.as_deref().map(normal);
        Ok(match now {
            Now::Present(true) => Check::AlreadyDone,
            Now::Present(false) => Check::Proceed,
            Now::Document(current) if current.is_some() && current == after => Check::AlreadyDone,
            Now::Document(current) if current == before => Check::Proceed,
            Now::Document(_) => Check::Changed(format!(
                "{} changed since it was read: plan again",
                write.apply.target()
            )),
        })
    }

    async fn now(&self, apply: &Apply) -> Result<Now, String> {
        match apply {
            _ if apply.is_kubernetes() => self.now_kube(apply).await,
            Apply::CreatePodIdentityAssociation { .. }
            | Apply::SetRepositoryPolicy { .. }
            | Apply::RestoreImage { .. } => self.now_eks_ecr(apply).await,
            Apply::CreateGatewayEndpoint { .. }
            | Apply::ModifyVpcEndpoint { .. }
            | Apply::AllowHttpsIngress { .. } => self.now_ec2(apply).await,
            _ => self.now_iam(apply).await,
        }
    }

    /// Makes the call; [`apply`] has checked, confirmed and backed up first.
    async fn execute(&self, write: &Write) -> Result<(), String> {
        match &write.apply {
            apply if apply.is_kubernetes() => self.execute_kube(write).await,
            Apply::CreatePodIdentityAssociation { .. }
            | Apply::SetRepositoryPolicy { .. }
            | Apply::RestoreImage { .. } => self.execute_eks_ecr(write).await,
            Apply::CreateGatewayEndpoint { .. }
            | Apply::ModifyVpcEndpoint { .. }
            | Apply::AllowHttpsIngress { .. } => self.execute_ec2(write).await,
            _ => self.execute_iam(write).await,
        }
    }

    pub(super) fn document(write: &Write) -> Result<String, String> {
        write
            .after
            .clone()
            .ok_or_else(|| format!("{} needs a document", write.apply.call()))
    }
}

/// Reads every target again before anything is written: the writes still to make. A plan is
/// applied whole or not at all, so one changed document stops all of it.
pub async fn pending<'a>(writer: &Writer, plan: &'a Checked) -> Result<Vec<&'a Write>, String> {
    let mut pending = Vec::new();
    for write in &plan.plan().writes {
        match writer.check(write).await? {
            Check::Proceed => pending.push(write),
            Check::AlreadyDone => {}
            Check::Changed(why) => return Err(why),
        }
    }
    Ok(pending)
}

/// What the user agreed to before the writes: asked by `confirm` (told whether a typed `yes`
/// is due) once the targets are read again, and whether the plan may change what exists.
pub struct Consent<'a> {
    pub take_over: bool,
    pub confirm: Box<dyn FnOnce(bool) -> Result<(), String> + Send + 'a>,
}

impl Consent<'_> {
    /// Confirmed already, on a screen that showed the plan (the TUI's).
    pub fn given(take_over: bool) -> Consent<'static> {
        Consent {
            take_over,
            confirm: Box::new(|_| Ok(())),
        }
    }
}

/// What [`apply`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// The targets already as planned: nothing was sent to them.
    pub already: Vec<String>,
    /// One line per change made, naming its backup.
    pub changes: Vec<String>,
}

/// Carries out a checked plan: re-reads every target, asks for consent when something is left
/// to change, then backs up and writes each in turn. The one place anything is written.
pub async fn apply(
    writer: &Writer,
    plan: &Checked,
    consent: Consent<'_>,
    backups: &Path,
) -> Result<Applied, String> {
    let pending = pending(writer, plan).await?;
    let inner = plan.plan();
    let mut applied = Applied {
        already: inner
            .writes
            .iter()
            .filter(|w| !pending.contains(w))
            .map(|w| w.apply.target())
            .collect(),
        changes: Vec::new(),
    };
    if pending.is_empty() {
        return Ok(applied);
    }
    if !inner.takes_over.is_empty() && !consent.take_over {
        return Err("nothing applied: this setup changes what exists (\"takes over\" in the plan above) — add --take-over to change it".into());
    }
    let typed =
        inner.target_chosen_by.is_some() || pending.iter().any(|w| w.apply.needs_typed_yes());
    (consent.confirm)(typed)?;
    for write in pending {
        let backup = back_up(backups, inner, write)?;
        writer
            .execute(write)
            .await
            .map_err(|e| format!("{e} (backup kept at {})", backup.display()))?;
        applied.changes.push(format!(
            "applied {} on {} — backup: {}",
            write.apply.call(),
            write.apply.target(),
            backup.display()
        ));
    }
    Ok(applied)
}

/// Where backups and the change log live: `--backup-dir`, else `$PULLDOCTOR_STATE_DIR`, else
/// `$XDG_STATE_HOME/pulldoctor`, else `~/.local/state/pulldoctor`.
pub fn state_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("PULLDOCTOR_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("pulldoctor");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/pulldoctor")
}

pub(super) fn now_text() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    k8s_openapi::jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// Saves what a write replaces, and records the change in the log. Returns the backup's path.
fn back_up(dir: &Path, plan: &Plan, write: &Write) -> Result<PathBuf, String> {
    let backups = dir.join("backups");
    std::fs::create_dir_all(&backups)
        .map_err(|e| format!("cannot create {}: {e}", backups.display()))?;
    let when = now_text();
    let name: String = format!("{when}-{}-{}", write.apply.call(), write.apply.target())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = backups.join(format!("{name}.json"));
    let record = serde_json::json!({
        "at": when, "subject": plan.subject, "cause": plan.purpose.to_string(), "call": write.apply.call(),
        "target": write.apply.target(), "account": write.apply.account(), "apply": write.apply,
        "before": write.before, "after": write.after, "backup": path,
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&record).unwrap_or_default() + "\n",
    )
    .map_err(|e| format!("cannot write the backup {}: {e}", path.display()))?;
    use std::io::Write as _;
    let log = dir.join("changes.log");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    writeln!(file, "{record}").map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    Ok(path)
}
