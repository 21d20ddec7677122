//! A plan as data: the writes a fix or a setup makes, with the documents before and after —
//! what the user confirms, what `--plan-out` saves, and what the guard checks. No IO here.

use crate::report::{Apply, Cause, Finding};
use serde::{Deserialize, Serialize};

pub const PLAN_SCHEMA: &str = "pulldoctor.plan/v1";

/// Every write a fix makes, with the documents before and after: what the user confirms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    pub schema: String,
    pub subject: String,
    pub container: String,
    /// What the plan is for, which decides what it may write (see [`crate::fix::guard`]).
    #[serde(rename = "cause")]
    pub purpose: Purpose,
    pub title: String,
    pub writes: Vec<Write>,
    /// Steps no API call carries out, for the user to do.
    pub by_hand: Vec<String>,
    /// What chose the target, when tenant-writable metadata did (see [`crate::report::Fix`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_chosen_by: Option<String>,
    /// What exists that the plan changes, and who relies on it (a setup's take-over): applying
    /// it needs an explicit choice (`--take-over`, a second confirmation in the TUI).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub takes_over: Vec<String>,
}

impl Plan {
    /// Why a plan is confirmed a second time, if it is: its target was chosen by tenant-writable
    /// metadata, or it changes what exists (a setup's take-over).
    pub fn asked_again(&self) -> Option<String> {
        use crate::text::escape_line;
        if let Some(chosen_by) = &self.target_chosen_by {
            return Some(format!(
                "the target was chosen by tenant-writable metadata: {}. Type yes to apply anyway",
                escape_line(chosen_by)
            ));
        }
        self.takes_over.first()?;
        Some(format!(
            "this takes over what exists ({} in the plan, \"! takes over\"): type yes to go ahead",
            crate::text::plural(self.takes_over.len(), "change")
        ))
    }
}

/// What a plan is for: the fix of one cause, or the setup of one app's identity. Written in a
/// plan file as the cause's code, or as `{"setup": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PurposeText", into = "PurposeText")]
pub enum Purpose {
    Fix(Cause),
    Setup(SetupScope),
}

/// What a setup is for: one ServiceAccount and its role. Its plan writes nothing else (but the
/// pull identities' access to the named repositories).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupScope {
    pub namespace: String,
    pub service_account: String,
    /// The role's whole ARN: a ServiceAccount or association may name it only, not a role of
    /// the same name in another account.
    pub role_arn: String,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum PurposeText {
    Cause(String),
    Setup { setup: SetupScope },
}

impl TryFrom<PurposeText> for Purpose {
    type Error = String;
    fn try_from(text: PurposeText) -> Result<Purpose, String> {
        match text {
            PurposeText::Cause(code) => Cause::parse(&code)
                .map(Purpose::Fix)
                .ok_or_else(|| format!("the plan names no known cause ({code:?})")),
            PurposeText::Setup { setup } => Ok(Purpose::Setup(setup)),
        }
    }
}

impl From<Purpose> for PurposeText {
    fn from(purpose: Purpose) -> PurposeText {
        match purpose {
            Purpose::Fix(cause) => PurposeText::Cause(cause.to_string()),
            Purpose::Setup(setup) => PurposeText::Setup { setup },
        }
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Purpose::Fix(cause) => write!(f, "{cause}"),
            Purpose::Setup(_) => f.write_str("setup"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Write {
    pub apply: Apply,
    /// The document as it was read when the plan was made (`None`: there was none).
    pub before: Option<String>,
    /// The document the call writes (`None` for calls that take none).
    pub after: Option<String>,
    pub diff: Option<String>,
}

/// The plan of fix number `choice` (1-based) of a finding.
pub fn of_fix(finding: &Finding, choice: usize) -> Result<Plan, String> {
    let fix = finding.fixes.get(choice.saturating_sub(1)).ok_or_else(|| {
        format!(
            "{} has {} fix(es); --choice {choice} is not one of them",
            finding.subject(),
            finding.fixes.len()
        )
    })?;
    Ok(Plan {
        schema: PLAN_SCHEMA.to_string(),
        subject: finding.subject(),
        container: finding.container.clone(),
        purpose: Purpose::Fix(fix.cause),
        title: fix.title.clone(),
        writes: fix
            .steps
            .iter()
            .filter_map(|s| {
                Some(Write {
                    apply: s.apply.clone()?,
                    before: s.current.clone(),
                    after: s.document.clone(),
                    diff: s.diff.clone(),
                })
            })
            .collect(),
        by_hand: fix
            .steps
            .iter()
            .filter(|s| s.apply.is_none())
            .map(|s| match &s.command {
                Some(c) => format!("{}\n    $ {c}", s.explain),
                None => s.explain.clone(),
            })
            .collect(),
        target_chosen_by: fix.target_chosen_by.clone(),
        takes_over: Vec::new(),
    })
}

pub fn render(plan: &Plan) -> String {
    use crate::text::{escape_block, escape_line};
    let container = if plan.container.is_empty() {
        String::new()
    } else {
        format!(" [{}]", escape_line(&plan.container))
    };
    let mut out = format!(
        "plan for {}{container} — {}: {}\n",
        escape_line(&plan.subject),
        escape_line(&plan.purpose.to_string()),
        escape_line(&plan.title)
    );
    if let Some(chosen_by) = &plan.target_chosen_by {
        out.push_str(&format!(
            "  ! the target was chosen by tenant-writable metadata: {}; check that this role should pull this image before applying\n",
            escape_line(chosen_by)
        ));
    }
    for what in &plan.takes_over {
        out.push_str(&format!("  ! takes over: {}\n", escape_line(what)));
    }
    if plan.writes.is_empty() {
        out.push_str("  no API call fixes this; do it by hand:\n");
    }
    for (i, w) in plan.writes.iter().enumerate() {
        let account = w.apply.account();
        let account = if account.is_empty() {
            String::new()
        } else {
            format!(" (account {})", escape_line(&account))
        };
        out.push_str(&format!(
            "  {}. {} on {}{account}\n",
            i + 1,
            w.apply.call(),
            escape_line(&w.apply.target())
        ));
        if let Some(diff) = &w.diff {
            for line in escape_block(diff).lines() {
                out.push_str(&format!("       {line}\n"));
            }
        }
    }
    for step in &plan.by_hand {
        out.push_str(&format!("  by hand: {}\n", escape_block(step)));
    }
    out
}

/// The same calls on the same targets, sending the same documents: equal as JSON values (so
/// spacing does not count), or as text — never after a policy parser dropped or merged keys.
pub fn same_writes(a: &[Write], b: &[Write]) -> bool {
    let document = |d: &Option<String>| {
        d.as_deref().map(|t| {
            serde_json::from_str::<serde_json::Value>(t)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| t.to_string())
        })
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.apply == y.apply
                && document(&x.after) == document(&y.after)
                && document(&x.before) == document(&y.before)
        })
}
