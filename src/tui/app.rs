//! The application state, changed only through [`Action`]s. Drawing reads it; nothing here does
//! IO — side effects come back as [`Effect`]s for the runtime to carry out.

use super::browse::{self, Table};
use crate::diagnose::{self, Selection};
use crate::facts::Facts;
use crate::report::{Finding, Report, Status};
use k8s_openapi::jiff::Timestamp;

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
    /// New facts from a source (a refresh, or a live update).
    Facts(Box<Read>),
    /// Reading the facts failed; the old ones stay.
    LoadFailed(String),
    /// Choose the next of the finding's fixes.
    NextFix,
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

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Copy text to the clipboard and save it to a file named for `name`.
    Copy {
        name: String,
        text: String,
    },
    /// Read the facts again (in the background) — of one pod where that is all that is asked —
    /// and send them back as [`Action::Facts`].
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
    Apply(Box<crate::fix::apply::Plan>),
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
}

impl Screen {
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            Screen::Pods | Screen::Browse(_) | Screen::Related { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
    /// Confirming the plan in `App::plan`.
    Confirm,
    /// Answering the wizard's current question.
    Wizard,
    /// The directory to export the wizard's files to.
    ExportDir,
}

pub struct App {
    pub facts: Facts,
    pub report: Report,
    /// Finding indices in list order: failing first, grouped by namespace and workload.
    pub order: Vec<usize>,
    pub stack: Vec<Screen>,
    /// Selected row per screen depth.
    pub cursor: Vec<usize>,
    pub filter: String,
    pub namespace: Option<String>,
    visible: Vec<usize>,
    ages: Vec<String>,
    pub input: Option<(InputKind, String)>,
    pub help: bool,
    pub message: Option<String>,
    /// Ages are relative to this instant (the snapshot's time for offline input).
    pub now: Timestamp,
    /// Rows a page moves; set by the view from the last drawn height.
    pub page: usize,
    /// Which link of the chain is selected.
    pub link: usize,
    pub fix_scroll: u16,
    /// What is being read in the background, while it is.
    pub loading: Option<String>,
    /// The cluster changed while a read was under way: read again when it ends.
    changed_while_loading: bool,
    /// The wizard's last answer came while the cluster was being read: plan when it is.
    plan_when_read: bool,
    /// `--allow-writes` was given: the fix pane may apply.
    pub writes_allowed: bool,
    /// Which fix of the fix pane is chosen.
    pub fix_choice: usize,
    /// The plan waiting for confirmation.
    pub plan: Option<crate::fix::apply::Plan>,
    pub wizard: super::wizard::WizardState,
    /// Live: the kubeconfig's contexts and the one in use, for `:ctx`.
    pub contexts: Vec<String>,
    pub context: Option<String>,
}

impl App {
    pub fn new(facts: Facts, now: Timestamp) -> App {
        // The TUI shows only escaped text (see `crate::text`).
        let report = diagnose::diagnose(
            &facts,
            &Selection {
                all: true,
                ..Default::default()
            },
        )
        .escaped();
        let mut app = App {
            facts,
            report,
            order: Vec::new(),
            stack: vec![Screen::Pods],
            cursor: vec![0],
            filter: String::new(),
            namespace: None,
            visible: Vec::new(),
            ages: Vec::new(),
            input: None,
            help: false,
            message: None,
            now,
            page: 10,
            link: 0,
            fix_scroll: 0,
            loading: None,
            changed_while_loading: false,
            plan_when_read: false,
            writes_allowed: false,
            fix_choice: 0,
            plan: None,
            wizard: Default::default(),
            contexts: Vec::new(),
            context: None,
        };
        app.reorder();
        app
    }

    pub fn screen(&self) -> &Screen {
        self.stack.last().expect("the pod list is never popped")
    }

    fn reorder(&mut self) {
        let findings = &self.report.findings;
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
        self.order = order;
        self.compute_ages();
        self.refilter();
    }

    /// The findings the pod list shows, after the namespace and the filter.
    pub fn visible_findings(&self) -> &[usize] {
        &self.visible
    }

    /// Recomputes the visible rows; called whenever the filter, namespace or report changes,
    /// so that drawing a frame never scans every pod.
    fn refilter(&mut self) {
        let needle = self.filter.to_lowercase();
        self.visible = self
            .order
            .iter()
            .copied()
            .filter(|&i| {
                let f = &self.report.findings[i];
                self.namespace.as_ref().is_none_or(|ns| *ns == f.namespace)
                    && (needle.is_empty() || row_text(f).contains(&needle))
            })
            .collect();
    }

    /// The browse table of the current screen, filtered.
    pub fn browse_table(&self, kind: browse::Kind) -> Table {
        let mut table = browse::table(kind, &self.report, self.namespace.as_deref());
        let needle = self.filter.to_lowercase();
        if !needle.is_empty() {
            table
                .rows
                .retain(|r| r.cells.join(" ").to_lowercase().contains(&needle));
        }
        table
    }

    /// How many rows the current list has.
    pub fn row_count(&self) -> usize {
        match self.screen() {
            Screen::Pods => self.visible_findings().len(),
            Screen::Browse(kind) => self.browse_table(*kind).rows.len(),
            Screen::Related { findings, .. } => findings.len(),
            Screen::Chain { finding } => self.report.findings[*finding].links.len(),
            Screen::Fix { .. } | Screen::Wizard => 0,
        }
    }

    pub fn selected(&self) -> usize {
        *self.cursor.last().unwrap_or(&0)
    }

    fn set_selected(&mut self, value: usize) {
        if let Some(c) = self.cursor.last_mut() {
            *c = value;
        }
    }

    fn push(&mut self, screen: Screen) {
        let start = match &screen {
            Screen::Chain { finding } => self.focus_link(*finding),
            _ => 0,
        };
        self.stack.push(screen);
        self.cursor.push(start);
        self.fix_scroll = 0;
        self.fix_choice = 0;
    }

    /// The broken link, else the first unknown or warning: where the eye should go.
    fn focus_link(&self, finding: usize) -> usize {
        let f = &self.report.findings[finding];
        let rank = |s: Status| match s {
            Status::Broken => 0,
            Status::Unknown => 1,
            Status::Warning => 2,
            _ => 3,
        };
        f.links
            .iter()
            .enumerate()
            .min_by_key(|(i, l)| (rank(l.status), *i))
            .map(|(i, _)| i)
            .unwrap_or(0)
    }

    fn pop(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
            self.cursor.pop();
            self.fix_scroll = 0;
        }
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if let Some((kind, text)) = &mut self.input {
            match action {
                Action::Input(c) => {
                    text.push(c);
                    if *kind == InputKind::Filter {
                        self.filter = text.clone();
                        self.refilter();
                        self.set_selected(0);
                    }
                }
                Action::InputBackspace => {
                    text.pop();
                    if *kind == InputKind::Filter {
                        self.filter = text.clone();
                        self.refilter();
                    }
                }
                Action::InputSubmit => {
                    let (kind, text) = self.input.take().expect("input is open");
                    match kind {
                        InputKind::Command => return self.command(text.trim()),
                        InputKind::Confirm => return self.confirmed(text.trim()),
                        InputKind::Wizard => {
                            self.wizard.answer(&text);
                            if !self.wizard.done() {
                                let next = self.wizard.typed[self.wizard.step].clone();
                                self.input = Some((InputKind::Wizard, next));
                            } else if self.loading.is_some() {
                                // The checks need the cluster as read: plan when it arrives.
                                self.plan_when_read = true;
                            } else {
                                return self.plan_wizard();
                            }
                        }
                        InputKind::ExportDir => {
                            if let Some(setup) = self.wizard.setup.clone() {
                                return vec![Effect::Export {
                                    setup: Box::new(setup),
                                    dir: text.trim().to_string(),
                                }];
                            }
                        }
                        InputKind::Filter => {}
                    }
                }
                Action::InputCancel => {
                    if *kind == InputKind::Filter {
                        self.filter.clear();
                        self.refilter();
                    }
                    self.input = None;
                }
                Action::Quit => return vec![Effect::Quit],
                _ => {}
            }
            return Vec::new();
        }
        if self.help {
            // Any key closes help; q still quits.
            self.help = false;
            return if matches!(action, Action::Quit) {
                vec![Effect::Quit]
            } else {
                Vec::new()
            };
        }
        // A key clears the last message; what arrives from the background leaves it standing,
        // so that "applied …" stays while the facts are read again.
        let from_background = matches!(
            action,
            Action::Facts(_)
                | Action::LoadFailed(_)
                | Action::Planned(_)
                | Action::Verified(_)
                | Action::Applied(_)
                | Action::ClusterChanged
                | Action::Resize
        );
        if !from_background {
            self.message = None;
        }
        let rows = self.row_count();
        let last = rows.saturating_sub(1);
        match action {
            Action::Up if matches!(self.screen(), Screen::Fix { .. } | Screen::Wizard) => {
                self.fix_scroll = self.fix_scroll.saturating_sub(1);
            }
            Action::PageUp if matches!(self.screen(), Screen::Fix { .. } | Screen::Wizard) => {
                self.fix_scroll = self.fix_scroll.saturating_sub(self.page as u16);
            }
            Action::PageDown if matches!(self.screen(), Screen::Fix { .. } | Screen::Wizard) => {
                self.fix_scroll = self.fix_scroll.saturating_add(self.page as u16);
            }
            Action::Up => self.set_selected(self.selected().saturating_sub(1)),
            Action::Down => {
                if matches!(self.screen(), Screen::Fix { .. } | Screen::Wizard) {
                    self.fix_scroll = self.fix_scroll.saturating_add(1);
                } else {
                    self.set_selected((self.selected() + 1).min(last));
                }
            }
            Action::PageUp => self.set_selected(self.selected().saturating_sub(self.page)),
            Action::PageDown => self.set_selected((self.selected() + self.page).min(last)),
            Action::Top => {
                self.set_selected(0);
                self.fix_scroll = 0;
            }
            Action::Bottom => self.set_selected(last),
            Action::Open => self.open(),
            Action::OpenFix => {
                if let Screen::Chain { finding } = self.screen().clone() {
                    if self.report.findings[finding].fixes.is_empty() {
                        self.message =
                            Some("nothing is broken here, so there is no fix".to_string());
                    } else {
                        self.push(Screen::Fix { finding });
                    }
                }
            }
            Action::Back => {
                if !self.filter.is_empty() && self.screen().is_list() {
                    self.filter.clear();
                    self.refilter();
                } else {
                    self.pop();
                }
            }
            Action::NextFix => {
                if let Screen::Fix { finding } = self.screen() {
                    let count = self.report.findings[*finding].fixes.len().max(1);
                    self.fix_choice = (self.fix_choice + 1) % count;
                }
            }
            Action::Apply => return self.start_apply(),
            Action::Export => self.start_export(),
            Action::Planned(result) => {
                self.loading = None;
                self.wizard.planned(result.map(|setup| *setup));
                if !self.wizard.done() {
                    let last = self.wizard.typed[self.wizard.step].clone();
                    self.input = Some((InputKind::Wizard, last));
                }
            }
            Action::Verified(result) => {
                self.loading = None;
                self.wizard.verified = Some(match result {
                    Ok(text) => text,
                    Err(why) => format!("the check could not run: {why}"),
                });
                // Scroll the verification into view: it comes after the whole plan.
                let lines = self.wizard.lines();
                self.fix_scroll = lines
                    .iter()
                    .position(|l| l.kind == super::wizard::LineKind::Verified)
                    .map_or(0, |i| i.saturating_sub(2) as u16);
            }
            Action::Applied(result) => {
                self.loading = None;
                match result {
                    Ok(lines) if lines.is_empty() => {
                        self.message = Some("nothing to change: already as planned".into())
                    }
                    Ok(lines) if matches!(self.screen(), Screen::Wizard) => {
                        self.message = Some(lines.join("; "));
                        if let Some(setup) = self.wizard.setup.clone() {
                            self.loading =
                                Some("applied; checking a pod of the new ServiceAccount…".into());
                            return vec![Effect::Verify(Box::new(setup))];
                        }
                    }
                    Ok(lines) => {
                        self.message = Some(lines.join("; "));
                        // Re-verify: read the pod's facts again. What they share with other
                        // pods (the role, the repository) is fresh for those pods too.
                        let pod = self.selected_pod();
                        self.loading = Some(match &pod {
                            Some(p) => {
                                format!("applied; reading {}/{} again…", p.namespace, p.name)
                            }
                            None => "applied; reading again…".into(),
                        });
                        return vec![Effect::Reload(pod)];
                    }
                    Err(why) => self.message = Some(format!("not applied: {why}")),
                }
            }
            Action::Copy => {
                if let Screen::Fix { finding } = self.screen() {
                    let f = &self.report.findings[*finding];
                    let text = fix_commands(f);
                    return vec![Effect::Copy {
                        name: f.subject().replace('/', "-"),
                        text,
                    }];
                }
            }
            Action::Refresh => {
                if self.loading.is_none() {
                    let pod = self.selected_pod();
                    self.loading = Some(match &pod {
                        Some(p) => format!("reading {}/{} again…", p.namespace, p.name),
                        None => "reading again…".to_string(),
                    });
                    return vec![Effect::Reload(pod)];
                }
            }
            Action::StartFilter => self.input = Some((InputKind::Filter, self.filter.clone())),
            Action::StartCommand => self.input = Some((InputKind::Command, String::new())),
            Action::Help => self.help = true,
            Action::Quit => return vec![Effect::Quit],
            Action::Facts(read) => {
                self.loading = None;
                match *read {
                    Read::Everything(facts) => self.replace_facts(facts),
                    Read::Pod(pod, fresh) => {
                        let mut facts = std::mem::take(&mut self.facts);
                        facts.refresh_pod(&pod.namespace, &pod.name, fresh);
                        self.replace_facts(facts);
                    }
                }
                if std::mem::take(&mut self.plan_when_read) {
                    return self.plan_wizard();
                }
                if std::mem::take(&mut self.changed_while_loading) {
                    self.loading = Some("the cluster changed; reading again…".to_string());
                    return vec![Effect::Reload(None)];
                }
            }
            Action::ClusterChanged => {
                if self.loading.is_some() {
                    self.changed_while_loading = true;
                } else {
                    self.loading = Some("the cluster changed; reading again…".to_string());
                    return vec![Effect::Reload(None)];
                }
            }
            Action::LoadFailed(why) => {
                self.loading = None;
                self.message = Some(why);
                // The checks then say what they could not see.
                if std::mem::take(&mut self.plan_when_read) {
                    return self.plan_wizard();
                }
            }
            Action::Resize
            | Action::Input(_)
            | Action::InputBackspace
            | Action::InputSubmit
            | Action::InputCancel => {}
        }
        Vec::new()
    }

    /// The pod under the cursor: the pod of the open chain or fix, or the selected row of a pod
    /// list. `None` for a workload whose pods were never created, and on other screens.
    fn selected_pod(&self) -> Option<PodName> {
        let finding = match self.screen() {
            Screen::Chain { finding } | Screen::Fix { finding } => Some(*finding),
            Screen::Pods => self.visible.get(self.selected()).copied(),
            Screen::Related { findings, .. } => findings.get(self.selected()).copied(),
            Screen::Browse(_) | Screen::Wizard => None,
        }?;
        let f = &self.report.findings[finding];
        Some(PodName {
            namespace: f.namespace.clone(),
            name: f.pod.clone()?,
        })
    }

    /// New facts: diagnose again and keep the user where they were.
    fn replace_facts(&mut self, facts: Facts) {
        let key = |f: &Finding| {
            (
                f.namespace.clone(),
                f.pod.clone(),
                f.workload.clone(),
                f.container.clone(),
            )
        };
        let old: Vec<_> = self.report.findings.iter().map(key).collect();
        self.facts = facts;
        self.report = diagnose::diagnose(
            &self.facts,
            &Selection {
                all: true,
                ..Default::default()
            },
        )
        .escaped();
        self.reorder();
        if self.stack.contains(&Screen::Wizard) && self.wizard.step <= 2 {
            self.wizard.list_repositories(&self.facts);
        }
        let new_index = |i: usize| self.report.findings.iter().position(|f| key(f) == old[i]);
        let mut stack = Vec::new();
        for screen in &self.stack {
            let mapped = match screen {
                Screen::Chain { finding } => {
                    new_index(*finding).map(|finding| Screen::Chain { finding })
                }
                Screen::Fix { finding } => {
                    new_index(*finding).map(|finding| Screen::Fix { finding })
                }
                Screen::Related {
                    title,
                    lines,
                    findings,
                } => Some(Screen::Related {
                    title: title.clone(),
                    lines: lines.clone(),
                    findings: findings.iter().filter_map(|&i| new_index(i)).collect(),
                }),
                other => Some(other.clone()),
            };
            match mapped {
                Some(s) => stack.push(s),
                None => break,
            }
        }
        self.cursor.truncate(stack.len());
        self.stack = stack;
        let rows = self.row_count();
        let selected = self.selected().min(rows.saturating_sub(1));
        self.set_selected(selected);
    }

    fn open(&mut self) {
        let selected = self.selected();
        match self.screen().clone() {
            Screen::Pods => {
                if let Some(&finding) = self.visible.get(selected) {
                    self.push(Screen::Chain { finding });
                }
            }
            Screen::Related { findings, .. } => {
                if let Some(&finding) = findings.get(selected) {
                    self.push(Screen::Chain { finding });
                }
            }
            Screen::Browse(kind) => {
                let table = self.browse_table(kind);
                if let Some(row) = table.rows.get(selected) {
                    self.push(Screen::Related {
                        title: row.title.clone(),
                        lines: row.details.clone(),
                        findings: row.findings.clone(),
                    });
                }
            }
            Screen::Chain { .. } | Screen::Fix { .. } | Screen::Wizard => {}
        }
    }

    /// Opens the setup wizard at its first question.
    pub fn open_wizard(&mut self) {
        self.stack.truncate(1);
        self.cursor.truncate(1);
        self.push(Screen::Wizard);
        self.wizard = super::wizard::WizardState::new(self.namespace.as_deref(), &self.facts);
        self.input = Some((InputKind::Wizard, self.wizard.typed[0].clone()));
    }

    /// Leaves this context's cluster for another's: nothing of the old one stays on screen.
    fn switch_context(&mut self, name: &str) -> Vec<Effect> {
        self.context = Some(name.to_string());
        self.stack.truncate(1);
        self.cursor.truncate(1);
        self.filter.clear();
        self.namespace = None;
        self.plan = None;
        self.plan_when_read = false;
        self.changed_while_loading = false;
        self.replace_facts(Facts::default());
        self.loading = Some(format!("reading context {name}…"));
        vec![Effect::SwitchContext(name.to_string())]
    }

    /// Hands the wizard's answers to the background to check and plan.
    fn plan_wizard(&mut self) -> Vec<Effect> {
        self.loading = Some("checking the cluster and AWS for the setup…".into());
        vec![Effect::Plan(Box::new(self.wizard.answers.clone()))]
    }

    /// `e` on a finished wizard: ask where the files go.
    fn start_export(&mut self) {
        if let Some(setup) = &self.wizard.setup {
            let dir = format!(
                "pulldoctor-setup-{}-{}",
                setup.answers.namespace, setup.answers.service_account
            );
            self.message = Some("export to directory:".into());
            self.input = Some((InputKind::ExportDir, dir));
        }
    }

    /// The finding as diagnosed, before its text was escaped for the screen: a plan must send
    /// the documents exactly as they are, not as they are shown.
    fn unescaped(&self, index: usize) -> Option<crate::report::Finding> {
        let shown = self.report.findings.get(index)?;
        let raw = diagnose::diagnose(
            &self.facts,
            &Selection {
                all: true,
                namespaces: vec![shown.namespace.clone()],
                ..Default::default()
            },
        );
        raw.findings.into_iter().find(|f| f.escaped() == *shown)
    }

    /// `a` in the fix pane or on a finished wizard: plan and ask for confirmation.
    fn start_apply(&mut self) -> Vec<Effect> {
        if !self.writes_allowed {
            self.message = Some("read-only: start pulldoctor with --allow-writes to apply".into());
            return Vec::new();
        }
        let planned = match self.screen().clone() {
            Screen::Fix { finding } => match self.unescaped(finding) {
                Some(raw) => crate::fix::apply::plan(&raw, self.fix_choice + 1),
                None => Err("the finding changed: read again (r)".to_string()),
            },
            Screen::Wizard => match &self.wizard.setup {
                Some(setup) => Ok(setup.plan.clone()),
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        match planned {
            Err(why) => self.message = Some(why),
            Ok(plan) if plan.writes.is_empty() => {
                self.message = Some("no API call fixes this: the steps are for you to do".into());
            }
            Ok(plan) => {
                let typed = plan.writes.iter().any(|w| w.apply.needs_typed_yes());
                let changes: Vec<String> = plan
                    .writes
                    .iter()
                    .map(|w| format!("{} on {}", w.apply.call(), w.apply.target()))
                    .collect();
                self.message = Some(format!(
                    "{} {}: {}",
                    if typed {
                        "type yes to apply"
                    } else {
                        "y to apply"
                    },
                    plural(plan.writes.len(), "change"),
                    changes.join("; ")
                ));
                self.plan = Some(plan);
                self.input = Some((InputKind::Confirm, String::new()));
            }
        }
        Vec::new()
    }

    fn confirmed(&mut self, answer: &str) -> Vec<Effect> {
        let Some(plan) = self.plan.take() else {
            return Vec::new();
        };
        let typed = plan.writes.iter().any(|w| w.apply.needs_typed_yes());
        let yes = if typed {
            answer == "yes"
        } else {
            matches!(answer, "y" | "Y" | "yes")
        };
        if !yes {
            self.message = Some("not applied".into());
            return Vec::new();
        }
        self.loading = Some("applying…".into());
        vec![Effect::Apply(Box::new(plan))]
    }

    /// `:` commands in the k9s manner.
    fn command(&mut self, text: &str) -> Vec<Effect> {
        let mut words = text.split_whitespace();
        let verb = words.next().unwrap_or("");
        let arg = words.next();
        let go = |app: &mut App, screen: Screen| {
            app.stack.truncate(1);
            app.cursor.truncate(1);
            app.filter.clear();
            app.refilter();
            if screen != Screen::Pods {
                app.push(screen);
            }
            app.set_selected(0);
        };
        match (verb, arg) {
            ("q" | "quit" | "q!", _) => return vec![Effect::Quit],
            ("pods" | "po" | "pod", _) => go(self, Screen::Pods),
            ("sa" | "serviceaccounts" | "serviceaccount", _) => {
                go(self, Screen::Browse(browse::Kind::ServiceAccounts))
            }
            ("roles" | "role", _) => go(self, Screen::Browse(browse::Kind::Roles)),
            ("repos" | "repositories" | "repo", _) => {
                go(self, Screen::Browse(browse::Kind::Repositories))
            }
            ("ns" | "namespace", Some("all" | "-A")) | ("ns" | "namespace", None) => {
                self.namespace = None;
                self.refilter();
                self.set_selected(0);
                self.message = Some("all namespaces".to_string());
            }
            ("ns" | "namespace", Some(ns)) => {
                self.namespace = Some(ns.to_string());
                self.refilter();
                self.set_selected(0);
                let known = self.report.findings.iter().any(|f| f.namespace == ns);
                self.message = Some(if known {
                    format!("namespace {ns}")
                } else {
                    format!("namespace {ns}: no pods in this input")
                });
            }
            ("ctx" | "context", _) if self.contexts.is_empty() => {
                self.message = Some("offline input: there is no kube context to switch to".into());
            }
            ("ctx" | "context", None) => {
                let names: Vec<String> = self
                    .contexts
                    .iter()
                    .map(|c| {
                        if Some(c) == self.context.as_ref() {
                            format!("{c} (in use)")
                        } else {
                            c.clone()
                        }
                    })
                    .collect();
                self.message = Some(format!(
                    "contexts: {} — :ctx NAME switches",
                    names.join(", ")
                ));
            }
            ("ctx" | "context", Some(name)) if !self.contexts.iter().any(|c| c == name) => {
                self.message = Some(format!(
                    "no context {name} in the kubeconfig; :ctx lists them"
                ));
            }
            ("ctx" | "context", Some(name)) if self.context.as_deref() == Some(name) => {
                self.message = Some(format!("already on context {name}"));
            }
            ("ctx" | "context", Some(name)) => return self.switch_context(name),
            ("wizard" | "setup", _) => self.open_wizard(),
            ("", _) => {}
            (other, _) => {
                self.message = Some(format!(
                    "unknown command :{other} — try :pods :sa :roles :repos :ns NAME"
                ))
            }
        }
        Vec::new()
    }

    /// The age of finding `index`'s pod, relative to `now`.
    pub fn age(&self, index: usize) -> &str {
        self.ages.get(index).map(String::as_str).unwrap_or("-")
    }

    /// Pod ages per finding, computed once per report.
    fn compute_ages(&mut self) {
        let created: std::collections::HashMap<(&str, &str), i64> = self
            .facts
            .pods
            .iter()
            .filter_map(|p| {
                let t = p.metadata.creation_timestamp.as_ref()?.0.as_second();
                Some((
                    (
                        crate::facts::kube::namespace_of(p),
                        crate::facts::kube::name_of(p),
                    ),
                    t,
                ))
            })
            .collect();
        self.ages = self
            .report
            .findings
            .iter()
            .map(|f| {
                f.pod
                    .as_deref()
                    .and_then(|pod| created.get(&(f.namespace.as_str(), pod)))
                    .map(|t| human_age(self.now.as_second() - t))
                    .unwrap_or_else(|| "-".to_string())
            })
            .collect();
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

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

pub fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 0 => "-".to_string(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The commands of a finding's fixes as a shell snippet.
pub fn fix_commands(f: &Finding) -> String {
    let mut out = format!(
        "# pulldoctor: {} ({})\n",
        f.subject(),
        f.cause.map(|c| c.as_str()).unwrap_or("-")
    );
    for fix in &f.fixes {
        out.push_str(&format!("\n# {}\n", fix.title));
        for step in &fix.steps {
            if let Some(c) = &step.command {
                out.push_str(c);
                out.push('\n');
            }
        }
    }
    out
}
