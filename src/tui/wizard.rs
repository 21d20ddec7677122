//! The setup wizard in the TUI: one question a step, each answer validated as it is given, then
//! the checks and the plan, to export or (with --allow-writes) apply.

use crate::facts::Facts;
use crate::wizard::{self, Answers, Mode, Setup};

pub const STEPS: [&str; 6] = [
    "namespace",
    "ServiceAccount",
    "ECR repositories (comma-separated: numbers from the list, names in this registry, or URIs)",
    "mode: auto, irsa or pod-identity",
    "role name (empty: CLUSTER-NAMESPACE-SERVICEACCOUNT)",
    "what the app itself needs from AWS (ACTION=RESOURCE, comma-separated; empty: nothing, the setup grants the image pull only)",
];

/// The short name of each question, as the status line shows it while it is answered.
pub const FIELDS: [&str; 6] = [
    "namespace",
    "ServiceAccount",
    "repositories",
    "mode",
    "role name",
    "app permissions",
];

#[derive(Debug, Clone, Default)]
pub struct WizardState {
    pub answers: Answers,
    /// The raw text of each answer, as typed.
    pub typed: [String; 6],
    pub step: usize,
    pub error: Option<String>,
    /// The checks and plan, once every answer is in.
    pub setup: Option<Setup>,
    /// After applying: the chain a pod of the new ServiceAccount would see.
    pub verified: Option<String>,
    /// The repositories the registries were read to hold, to pick from by number: names in the
    /// cluster's own registry, URIs elsewhere.
    pub repositories: Vec<String>,
    /// The namespaces the facts know, to say when an answer names none of them.
    pub namespaces: Vec<String>,
    /// A namespace answered that does not exist, once: the same answer again goes ahead.
    unseen_namespace: Option<String>,
}

/// The line above the verification's chain.
const VERIFIED: &str = "a pod of the new ServiceAccount would see:";

/// How many repositories the list shows; the rest are typed.
const LISTED: usize = 15;

impl WizardState {
    pub fn new(namespace: Option<&str>, facts: &Facts) -> WizardState {
        let mut state = WizardState::default();
        if let Some(ns) = namespace {
            state.typed[0] = ns.to_string();
        }
        state.list_repositories(facts);
        state
    }

    /// The repositories to pick from and the namespaces there are, as the facts know them
    /// (again when new facts arrive).
    pub fn list_repositories(&mut self, facts: &Facts) {
        self.namespaces = facts.service_account_namespaces.iter().cloned().collect();
        let (account, region) = (facts.account(), facts.region());
        self.repositories = facts
            .repositories
            .iter()
            .map(|r| {
                if Some(&r.registry) == account.as_ref() && Some(&r.region) == region.as_ref() {
                    r.name.clone()
                } else {
                    format!(
                        "{}.dkr.ecr.{}.amazonaws.com/{}",
                        r.registry, r.region, r.name
                    )
                }
            })
            .collect();
    }

    pub fn done(&self) -> bool {
        self.step >= STEPS.len()
    }

    /// Takes the answer of the current step; moves on when it is valid. After the last one the
    /// runtime plans (see [`WizardState::planned`]).
    pub fn answer(&mut self, text: &str) {
        self.typed[self.step] = text.to_string();
        let text = text.trim();
        let a = &mut self.answers;
        match self.step {
            0 => {
                a.namespace = text.to_string();
                if let Some(why) = self.namespace_unseen(text) {
                    self.error = Some(why);
                    return;
                }
            }
            1 => a.service_account = text.to_string(),
            2 => {
                let mut chosen = Vec::new();
                for r in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    match r.parse::<usize>() {
                        Ok(n) if (1..=self.repositories.len().min(LISTED)).contains(&n) => {
                            chosen.push(self.repositories[n - 1].clone())
                        }
                        Ok(n) => {
                            self.error = Some(format!("{n} is not a number from the list"));
                            return;
                        }
                        Err(_) => chosen.push(r.to_string()),
                    }
                }
                // Shown as names from now on, not as the numbers typed.
                self.typed[2] = chosen.join(", ");
                a.repositories = chosen;
            }
            3 => {
                a.mode = match text {
                    "" | "auto" => None,
                    "irsa" => Some(Mode::Irsa),
                    "pod-identity" => Some(Mode::PodIdentity),
                    other => {
                        self.error =
                            Some(format!("\"{other}\": answer auto, irsa or pod-identity"));
                        return;
                    }
                }
            }
            4 => a.role_name = (!text.is_empty()).then(|| text.to_string()),
            _ => {
                let allow: Vec<String> = text
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect();
                match allow.is_empty() {
                    true => a.app_policy = None,
                    false => match wizard::allow_list(&allow) {
                        Ok(policy) => a.app_policy = Some(policy),
                        Err(why) => {
                            self.error = Some(why);
                            return;
                        }
                    },
                }
            }
        }
        // Only this step's own answer is judged now; later answers are not given yet.
        let field = [
            "namespace",
            "ServiceAccount",
            "repository",
            "mode",
            "role name",
            "statement",
        ][self.step];
        let errors: Vec<String> = wizard::validate(&self.partial())
            .into_iter()
            .filter(|e| e.to_lowercase().contains(&field.to_lowercase()))
            .collect();
        if let Some(first) = errors.first() {
            self.error = Some(first.clone());
            return;
        }
        self.error = None;
        self.step += 1;
    }

    /// Why a namespace answered the first time is not taken: it does not exist here. The same
    /// answer again is taken (the plan then says to create it).
    fn namespace_unseen(&mut self, namespace: &str) -> Option<String> {
        if self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace) {
            return None;
        }
        if self.unseen_namespace.as_deref() == Some(namespace) {
            return None;
        }
        self.unseen_namespace = Some(namespace.to_string());
        let near = crate::text::nearest(namespace, self.namespaces.iter().map(String::as_str))
            .map(|n| format!(" (did you mean {n}?)"))
            .unwrap_or_default();
        Some(format!(
            "namespace {namespace} does not exist in this cluster{near}: enter it again to set it up there anyway"
        ))
    }

    /// Esc while answering: back one question, its answer as it was typed. False at the first.
    pub fn back(&mut self) -> bool {
        self.error = None;
        self.setup = None;
        if self.step == 0 {
            return false;
        }
        self.step = self.step.min(STEPS.len()) - 1;
        true
    }

    /// The plan, or why there is none: then the last question is asked again.
    pub fn planned(&mut self, result: Result<Setup, String>) {
        match result {
            Ok(setup) => self.setup = Some(setup),
            Err(why) => {
                self.error = Some(why);
                self.step = STEPS.len() - 1;
            }
        }
    }

    /// The answers so far, with placeholders where none is given yet.
    fn partial(&self) -> Answers {
        let mut a = self.answers.clone();
        if self.step < 1 {
            a.service_account = "placeholder".into();
        }
        if self.step < 2 {
            a.repositories = vec!["placeholder".into()];
        }
        a
    }

    /// The lines the wizard screen shows.
    pub fn lines(&self) -> Vec<WizardLine> {
        use LineKind::*;
        let mut out = vec![
            WizardLine::plain(
                "Set up a new app: its ServiceAccount, role, trust and policies, and what the image pull needs.",
            ),
            WizardLine::plain(""),
        ];
        for (i, question) in STEPS.iter().enumerate() {
            let (kind, marker) = if i == self.step {
                (Current, "▶")
            } else if i < self.step {
                (Plain, "✓")
            } else {
                (Plain, " ")
            };
            out.push(WizardLine::new(
                kind,
                format!("{marker} {question}: {}", self.typed[i]),
            ));
            if i == 2 && self.step == 2 && !self.repositories.is_empty() {
                for (n, name) in self.repositories.iter().take(LISTED).enumerate() {
                    out.push(WizardLine::plain(format!("    {:>2}  {name}", n + 1)));
                }
                if self.repositories.len() > LISTED {
                    out.push(WizardLine::plain(format!(
                        "        … and {} more (type their names)",
                        self.repositories.len() - LISTED
                    )));
                }
            }
        }
        if let Some(e) = &self.error {
            out.push(WizardLine::plain(""));
            out.push(WizardLine::new(Error, format!("✗ {e}")));
        }
        if let Some(setup) = &self.setup {
            out.push(WizardLine::plain(""));
            out.push(WizardLine::plain(format!(
                "mode {} — {}",
                setup.mode.as_str(),
                setup.mode_reason
            )));
            for c in &setup.checks {
                out.push(WizardLine::plain(format!(
                    "{:<10} {}",
                    crate::report::text::marker(c.status),
                    crate::text::escape_line(&c.text)
                )));
            }
            out.push(WizardLine::plain(""));
            out.extend(
                crate::fix::write_plan::render(&setup.plan)
                    .lines()
                    .map(WizardLine::plain),
            );
            out.push(WizardLine::plain(""));
            out.push(WizardLine::plain(
                "e exports the files (YAML, JSON, shell, Terraform); a applies (needs --allow-writes)",
            ));
        }
        if let Some(verified) = &self.verified {
            out.push(WizardLine::plain(""));
            out.push(WizardLine::new(Verified, VERIFIED));
            out.extend(verified.lines().map(WizardLine::plain));
        }
        out
    }
}

/// What a line of the wizard screen is, for its style and for finding it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Plain,
    /// The question being asked.
    Current,
    Error,
    /// The heading of the verification after an apply.
    Verified,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WizardLine {
    pub kind: LineKind,
    pub text: String,
}

impl WizardLine {
    fn new(kind: LineKind, text: impl Into<String>) -> WizardLine {
        WizardLine {
            kind,
            text: text.into(),
        }
    }

    fn plain(text: impl Into<String>) -> WizardLine {
        WizardLine::new(LineKind::Plain, text)
    }
}
