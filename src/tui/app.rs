//! The application state, changed only through [`Action`]s. Drawing reads it; nothing here does
//! IO — side effects come back as [`Effect`]s for the runtime to carry out.

use super::browse::Table;
use super::keymap::{self, CommandKind};
use super::loaded::{Listing, Loaded};
use super::views::Views;
use crate::facts::Facts;
use crate::report::{Finding, Report, Status};
use k8s_openapi::jiff::Timestamp;
use std::sync::Arc;

pub use super::action::{Action, Diagnosed, Effect, PodName, Read, Screen};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
    /// Confirming the plan in `App::plan`.
    Confirm,
    /// Confirming again a plan whose target tenant-writable metadata chose, or that takes over
    /// what exists.
    ConfirmAgain,
    /// Answering the wizard's current question.
    Wizard,
    /// The directory to export the wizard's files to.
    ExportDir,
}

pub struct App {
    /// What was read and diagnosed.
    data: Loaded,
    /// What the lists show of it: the namespace, the filter, the rows they leave.
    list: Listing,
    /// The screens opened, each with its cursor, scroll and choice.
    views: Views,
    /// What the user is typing or answering, and what the app last said.
    prompt: Prompt,
    /// The reads under way, and what waits for them.
    reads: Reads,
    /// Where the app reads from and what it may do there.
    context: Context,
    wizard: super::wizard::WizardState,
    /// What the last frame measured.
    drawn: Drawn,
}

/// The line at the bottom: what is typed, help, the last message, a plan awaiting its yes.
#[derive(Default)]
struct Prompt {
    input: Option<(InputKind, String)>,
    help: bool,
    message: Option<String>,
    /// The plan the open confirmation is for.
    plan: Option<crate::fix::guard::Checked>,
}

/// Reads in flight and what waits on them.
#[derive(Default)]
struct Reads {
    /// What is being read in the background, while it is.
    loading: Option<String>,
    /// The list shows a read still under way (the pods read whole so far): later parts of it
    /// replace it. A read again over a whole read shows only its end, never a shorter list.
    showing_part: bool,
    /// The cluster changed while a read was under way: read again when it ends.
    changed_while_loading: bool,
    /// No read of this context has ended well yet: a failure then has a screen of its own.
    never_read: bool,
    /// Why the reads of this context failed, while none has succeeded: the TUI then ends as
    /// `diagnose` does (exit 2, the reason on the normal screen).
    failed: Option<String>,
    /// The wizard's last answer came while the cluster was being read: plan when it is.
    plan_when_read: bool,
    /// A pod to open as soon as it is diagnosed (`pulldoctor NS/POD`, the k9s plugin).
    focus: Option<PodName>,
}

/// What the runtime offers: applying, and the kubeconfig's contexts for `:ctx`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// `--allow-writes` was given: the fix pane and the wizard may apply.
    pub writes_allowed: bool,
    /// Live: the kubeconfig's contexts, and the one in use.
    pub contexts: Vec<String>,
    pub current: Option<String>,
}

/// Measured by the view as it draws, for the keys that move by a page.
struct Drawn {
    /// Rows a page moves: the last drawn height.
    page: usize,
    /// How far the evidence pane can scroll.
    evidence_limit: std::cell::Cell<u16>,
}

impl App {
    pub fn new(diagnosed: Diagnosed, now: Timestamp) -> App {
        let mut app = App {
            data: Loaded::new(diagnosed, now),
            list: Listing::default(),
            views: Views::default(),
            prompt: Prompt::default(),
            reads: Reads::default(),
            context: Context::default(),
            wizard: Default::default(),
            drawn: Drawn {
                page: 10,
                evidence_limit: Default::default(),
            },
        };
        app.refilter();
        app
    }

    pub fn facts(&self) -> &Arc<Facts> {
        self.data.facts()
    }

    /// The diagnosis, escaped for the screen.
    pub fn report(&self) -> &Report {
        self.data.report()
    }

    /// The diagnosis as made (unescaped).
    pub fn raw(&self) -> Arc<Report> {
        self.data.raw().clone()
    }

    pub fn filter(&self) -> &str {
        self.list.filter()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.list.namespace()
    }

    /// The line being typed, and what it is for.
    pub fn input(&self) -> Option<(InputKind, &str)> {
        self.prompt.input.as_ref().map(|(k, t)| (*k, t.as_str()))
    }

    pub fn help_open(&self) -> bool {
        self.prompt.help
    }

    pub fn message(&self) -> Option<&str> {
        self.prompt.message.as_deref()
    }

    /// Says what the runtime did for an effect (a copy, an export).
    pub fn tell(&mut self, message: String) {
        self.prompt.message = Some(message);
    }

    /// What is being read, while it is.
    pub fn loading(&self) -> Option<&str> {
        self.reads.loading.as_deref()
    }

    /// Why every read of this context failed, while none has succeeded.
    pub fn read_failed(&self) -> Option<&str> {
        self.reads.failed.as_deref()
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    /// What the runtime offers, told at start and on each switch of context.
    pub fn set_context(&mut self, context: Context) {
        self.context = context;
    }

    pub fn wizard(&self) -> &super::wizard::WizardState {
        &self.wizard
    }

    /// The fix chosen in the open fix pane.
    pub fn fix_choice(&self) -> usize {
        self.views.top().choice
    }

    /// Set by the view from the height it drew.
    pub fn set_page(&mut self, rows: usize) {
        self.drawn.page = rows;
    }

    /// Set by the view from the evidence it laid out.
    pub fn set_evidence_limit(&self, lines: u16) {
        self.drawn.evidence_limit.set(lines);
    }

    pub fn screen(&self) -> &Screen {
        &self.views.top().screen
    }

    /// The findings the pod list shows, after the namespace and the filter.
    pub fn visible_findings(&self) -> &[usize] {
        self.list.visible()
    }

    /// Recomputes the rows shown; called whenever the filter, namespace or report changes,
    /// so that drawing a frame never scans every pod.
    fn refilter(&mut self) {
        self.list.refresh(&self.data, &self.views.top().screen);
    }

    fn rebuild_browse(&mut self) {
        self.list
            .rebuild_browse(&self.data, &self.views.top().screen);
    }

    fn set_filter(&mut self, filter: String) {
        self.list
            .set_filter(filter, &self.data, &self.views.top().screen);
    }

    /// The widest cell of each pod-list column over the visible rows.
    pub fn pod_widths(&self) -> &super::columns::PodWidths {
        self.list.pod_widths()
    }

    /// The table of the browse screen open, filtered (`None` on other screens).
    pub fn browse_table(&self) -> Option<&Table> {
        self.list.browse()
    }

    /// How many rows the current list has.
    pub fn row_count(&self) -> usize {
        match self.screen() {
            Screen::Pods => self.visible_findings().len(),
            Screen::Browse(_) => self.browse_table().map_or(0, |t| t.rows.len()),
            Screen::Related { findings, .. } => findings.len(),
            Screen::Chain { finding } => self.data.report().findings[*finding].links.len(),
            Screen::Fix { .. } | Screen::Wizard | Screen::ReadFailed => 0,
        }
    }

    pub fn selected(&self) -> usize {
        self.views.top().cursor
    }

    fn set_selected(&mut self, value: usize) {
        self.views.top_mut().cursor = value;
    }

    /// How far the fix pane or the wizard is scrolled.
    pub fn scroll(&self) -> u16 {
        self.views.top().scroll
    }

    fn set_scroll(&mut self, value: u16) {
        self.views.top_mut().scroll = value;
    }

    fn push(&mut self, screen: Screen) {
        let start = match &screen {
            Screen::Chain { finding } => self.focus_link(*finding),
            _ => 0,
        };
        self.views.push(screen, start);
        self.rebuild_browse();
    }

    /// The broken link, else the first unknown or warning: where the eye should go.
    fn focus_link(&self, finding: usize) -> usize {
        let f = &self.data.report().findings[finding];
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
        self.views.pop();
        self.rebuild_browse();
    }

    /// Back to the pod list, unfiltered.
    fn close_all(&mut self) {
        self.views.close_all();
        self.set_filter(String::new());
    }

    /// The reducer: what arrives from the background is taken whatever is open; a key goes to
    /// the line being typed, else closes help, else acts on the screen.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if action.is_from_background() {
            return self.on_background(action);
        }
        if self.prompt.input.is_some() {
            return self.on_input(action);
        }
        if std::mem::take(&mut self.prompt.help) {
            // Any key closes help; q still quits.
            return match action {
                Action::Quit => vec![Effect::Quit],
                _ => Vec::new(),
            };
        }
        // A key clears the last message; what arrives from the background leaves it standing,
        // so that "applied …" stays while the facts are read again.
        self.prompt.message = None;
        if self.navigate(&action) {
            return Vec::new();
        }
        self.on_key(action)
    }

    /// A key while the filter, command, confirmation or a wizard answer is being typed.
    fn on_input(&mut self, action: Action) -> Vec<Effect> {
        let Some((kind, text)) = &mut self.prompt.input else {
            return Vec::new();
        };
        let kind = *kind;
        match action {
            Action::Input(c) => text.push(c),
            Action::InputBackspace => {
                text.pop();
            }
            Action::InputSubmit => {
                let Some((kind, text)) = self.prompt.input.take() else {
                    return Vec::new();
                };
                return self.submitted(kind, text);
            }
            Action::InputCancel => {
                self.prompt.input = None;
                match kind {
                    InputKind::Filter => {
                        self.set_filter(String::new());
                    }
                    // Back one question, its answer as typed; before the first, out of the wizard.
                    InputKind::Wizard if self.wizard.back() => {
                        let answer = self.wizard.typed[self.wizard.step].clone();
                        self.prompt.input = Some((InputKind::Wizard, answer));
                    }
                    InputKind::Wizard => self.pop(),
                    _ => {}
                }
                return Vec::new();
            }
            Action::Quit => return vec![Effect::Quit],
            _ => return Vec::new(),
        }
        // The filter applies as it is typed.
        if let Some((InputKind::Filter, text)) = &self.prompt.input {
            let typed = text.clone();
            self.set_filter(typed);
            self.set_selected(0);
        }
        Vec::new()
    }

    /// The line typed, submitted with Enter.
    fn submitted(&mut self, kind: InputKind, text: String) -> Vec<Effect> {
        match kind {
            InputKind::Command => return self.command(text.trim()),
            InputKind::Confirm => return self.confirmed(text.trim(), false),
            InputKind::ConfirmAgain => return self.confirmed(text.trim(), true),
            InputKind::Wizard => {
                self.wizard.answer(&text);
                if !self.wizard.done() {
                    let next = self.wizard.typed[self.wizard.step].clone();
                    self.prompt.input = Some((InputKind::Wizard, next));
                } else if self.reads.loading.is_some() {
                    // The checks need the cluster as read: plan when it arrives.
                    self.reads.plan_when_read = true;
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
        Vec::new()
    }

    /// Moves the cursor of a list or chain, or scrolls a pane of text. False: not a move.
    fn navigate(&mut self, action: &Action) -> bool {
        let last = self.row_count().saturating_sub(1);
        let (page, pane) = (
            self.drawn.page,
            matches!(self.screen(), Screen::Fix { .. } | Screen::Wizard),
        );
        let chain = matches!(self.screen(), Screen::Chain { .. });
        let (cursor, scroll) = (self.selected(), self.scroll());
        // Half a page at a time: what was read stays in view.
        let half = (page / 2).max(1) as u16;
        match action {
            Action::EvidenceDown if chain => self.set_scroll(
                scroll
                    .saturating_add(half)
                    .min(self.drawn.evidence_limit.get()),
            ),
            Action::EvidenceUp if chain => self.set_scroll(scroll.saturating_sub(half)),
            Action::Up if pane => self.set_scroll(scroll.saturating_sub(1)),
            Action::Down if pane => self.set_scroll(scroll.saturating_add(1)),
            Action::PageUp if pane => self.set_scroll(scroll.saturating_sub(page as u16)),
            Action::PageDown if pane => self.set_scroll(scroll.saturating_add(page as u16)),
            Action::Up => self.set_selected(cursor.saturating_sub(1)),
            Action::Down => self.set_selected((cursor + 1).min(last)),
            Action::PageUp => self.set_selected(cursor.saturating_sub(page)),
            Action::PageDown => self.set_selected((cursor + page).min(last)),
            Action::Top => {
                self.set_selected(0);
                self.set_scroll(0);
            }
            Action::Bottom => self.set_selected(last),
            _ => return false,
        }
        // Another link's evidence starts at its top.
        if chain && self.selected() != cursor {
            self.set_scroll(0);
        }
        true
    }

    /// A key that acts on the screen: open, go back, fix, copy, read again, ask.
    fn on_key(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Open => self.open(),
            Action::OpenFix => {
                if let Screen::Chain { finding } = self.screen().clone() {
                    if self.data.report().findings[finding].fixes.is_empty() {
                        self.prompt.message =
                            Some("nothing is broken here, so there is no fix".to_string());
                    } else {
                        self.push(Screen::Fix { finding });
                    }
                }
            }
            Action::Back => {
                if !self.list.filter().is_empty() && self.screen().is_list() {
                    self.set_filter(String::new());
                } else {
                    self.pop();
                }
            }
            Action::NextFix => {
                if let Screen::Fix { finding } = self.screen() {
                    let count = self.data.report().findings[*finding].fixes.len().max(1);
                    let view = self.views.top_mut();
                    view.choice = (view.choice + 1) % count;
                }
            }
            Action::Radius => self.open_radius(),
            Action::Apply => return self.start_apply(),
            Action::Export => self.start_export(),
            Action::Copy => match self.screen() {
                // The chosen fix, from the raw finding: documents pasted as they were read.
                Screen::Fix { finding } => {
                    let f = &self.data.raw().findings[*finding];
                    return vec![Effect::Copy {
                        name: format!("fix-{}", f.subject().replace('/', "-")),
                        suffix: ".sh",
                        text: crate::fix::command::script(f, self.fix_choice()),
                    }];
                }
                // From the raw finding: the Markdown escapes it for Markdown.
                Screen::Chain { finding } => {
                    let f = &self.data.raw().findings[*finding];
                    return vec![Effect::Copy {
                        name: f.subject().replace('/', "-"),
                        suffix: ".md",
                        text: crate::report::markdown::finding_markdown(f),
                    }];
                }
                _ => {}
            },
            Action::Refresh if self.reads.loading.is_none() => {
                let pod = self.selected_pod();
                self.reads.loading = Some(match &pod {
                    Some(p) => format!("reading {}/{} again…", p.namespace, p.name),
                    None => "reading again…".to_string(),
                });
                return vec![Effect::Reload(pod)];
            }
            Action::StartFilter => {
                self.prompt.input = Some((InputKind::Filter, self.list.filter().to_string()))
            }
            Action::StartCommand => self.prompt.input = Some((InputKind::Command, String::new())),
            Action::Help => self.prompt.help = true,
            Action::Quit => return vec![Effect::Quit],
            _ => {}
        }
        Vec::new()
    }

    /// What the background sends back: facts and their diagnosis, a failed read, a plan, a
    /// verification, the end of an apply, a change the watch saw.
    fn on_background(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Diagnosed(diagnosed) => {
                self.reads.loading = None;
                self.reads.showing_part = false;
                self.read_succeeded();
                self.replace_facts(*diagnosed);
                self.open_focus();
                if std::mem::take(&mut self.reads.plan_when_read) {
                    return self.plan_wizard();
                }
                if std::mem::take(&mut self.reads.changed_while_loading) {
                    return self.read_again("the cluster changed; reading again…");
                }
            }
            // Shown while the first read goes on (nothing else to show); one that ended has said
            // it all.
            Action::PartlyDiagnosed(diagnosed)
                if self.reads.loading.is_some()
                    && (self.reads.showing_part || self.data.facts().pods.is_empty()) =>
            {
                let pods = diagnosed.facts.pods.len();
                self.reads.showing_part = true;
                self.replace_facts(*diagnosed);
                self.reads.loading = Some(format!(
                    "{pods} pod(s) read so far, diagnosed; reading the rest…"
                ));
            }
            Action::PartlyDiagnosed(_) => {}
            // The stage, while no partial list says more.
            Action::Progress(text) if self.reads.loading.is_some() && !self.reads.showing_part => {
                self.reads.loading = Some(text);
            }
            Action::Slow(text) => self.prompt.message = Some(text),
            Action::ClusterChanged if self.reads.loading.is_some() => {
                self.reads.changed_while_loading = true
            }
            Action::ClusterChanged => {
                return self.read_again("the cluster changed; reading again…");
            }
            Action::LoadFailed(why) => {
                self.reads.loading = None;
                self.reads.showing_part = false;
                self.reads.focus = None;
                if self.reads.never_read {
                    self.views.set_root(Screen::ReadFailed);
                    self.reads.failed = Some(why);
                } else {
                    self.prompt.message = Some(why);
                }
                // The checks then say what they could not see.
                if std::mem::take(&mut self.reads.plan_when_read) {
                    return self.plan_wizard();
                }
            }
            Action::Planned(result) => {
                self.reads.loading = None;
                self.wizard.planned(result.map(|setup| *setup));
                if !self.wizard.done() && self.prompt.input.is_none() {
                    let last = self.wizard.typed[self.wizard.step].clone();
                    self.prompt.input = Some((InputKind::Wizard, last));
                }
            }
            Action::Verified(result) => {
                self.reads.loading = None;
                self.wizard.verified = Some(match result {
                    Ok(text) => text,
                    Err(why) => format!("the check could not run: {why}"),
                });
                // Scroll the verification into view: it comes after the whole plan.
                let lines = self.wizard.lines();
                let verified = lines
                    .iter()
                    .position(|l| l.kind == super::wizard::LineKind::Verified);
                self.set_scroll(verified.map_or(0, |i| i.saturating_sub(2) as u16));
            }
            Action::Applied(result) => return self.applied(result),
            _ => {}
        }
        Vec::new()
    }

    fn read_again(&mut self, why: &str) -> Vec<Effect> {
        self.reads.loading = Some(why.to_string());
        vec![Effect::Reload(None)]
    }

    /// How applying went; then verify (a setup) or read the pod again (a fix).
    fn applied(&mut self, result: Result<Vec<String>, String>) -> Vec<Effect> {
        self.reads.loading = None;
        let lines = match result {
            Ok(lines) if lines.is_empty() => {
                self.prompt.message = Some("nothing to change: already as planned".into());
                return Vec::new();
            }
            Ok(lines) => lines,
            Err(why) => {
                self.prompt.message = Some(format!("not applied: {why}"));
                return Vec::new();
            }
        };
        self.prompt.message = Some(lines.join("; "));
        if matches!(self.screen(), Screen::Wizard) {
            let Some(setup) = self.wizard.setup.clone() else {
                return Vec::new();
            };
            self.reads.loading = Some("applied; checking a pod of the new ServiceAccount…".into());
            return vec![Effect::Verify(Box::new(setup))];
        }
        // Re-verify: read the pod's facts again. What they share with other pods (the role,
        // the repository) is fresh for those pods too.
        let pod = self.selected_pod();
        self.reads.loading = Some(match &pod {
            Some(p) => format!("applied; reading {}/{} again…", p.namespace, p.name),
            None => "applied; reading again…".into(),
        });
        vec![Effect::Reload(pod)]
    }

    /// The pod under the cursor: the pod of the open chain or fix, or the selected row of a pod
    /// list. `None` for a workload whose pods were never created, and on other screens.
    fn selected_pod(&self) -> Option<PodName> {
        let finding = match self.screen() {
            Screen::Chain { finding } | Screen::Fix { finding } => Some(*finding),
            Screen::Pods => self.list.visible().get(self.selected()).copied(),
            Screen::Related { findings, .. } => findings.get(self.selected()).copied(),
            Screen::Browse(_) | Screen::Wizard | Screen::ReadFailed => None,
        }?;
        let f = &self.data.report().findings[finding];
        Some(PodName {
            namespace: f.namespace.clone(),
            name: f.pod.clone()?,
        })
    }

    /// New facts and their diagnosis: keep the user where they were.
    fn replace_facts(&mut self, diagnosed: Diagnosed) {
        let key = |f: &Finding| {
            (
                f.namespace.clone(),
                f.pod.clone(),
                f.workload.clone(),
                f.container.clone(),
            )
        };
        let old: Vec<_> = self.data.report().findings.iter().map(key).collect();
        self.data.replace(diagnosed);
        self.refilter();
        if self.views.contains(&Screen::Wizard) && self.wizard.step <= 2 {
            self.wizard.list_repositories(self.data.facts());
        }
        let new_index = |i: usize| {
            self.data
                .report()
                .findings
                .iter()
                .position(|f| key(f) == old[i])
        };
        self.views.remap(|screen| match screen {
            Screen::Chain { finding } => {
                new_index(*finding).map(|finding| Screen::Chain { finding })
            }
            Screen::Fix { finding } => new_index(*finding).map(|finding| Screen::Fix { finding }),
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
        });
        self.rebuild_browse();
        let rows = self.row_count();
        let selected = self.selected().min(rows.saturating_sub(1));
        self.set_selected(selected);
    }

    /// Opens `pod`'s chain now, or once a read has diagnosed it.
    pub fn focus_on(&mut self, pod: PodName) {
        self.reads.focus = Some(pod);
        self.open_focus();
    }

    fn open_focus(&mut self) {
        let Some(pod) = self.reads.focus.clone() else {
            return;
        };
        let found = self
            .report()
            .findings
            .iter()
            .position(|f| f.namespace == pod.namespace && f.pod.as_deref() == Some(&pod.name));
        match found {
            Some(finding) => {
                self.reads.focus = None;
                self.push(Screen::Chain { finding });
            }
            None if self.reads.loading.is_none() => {
                self.reads.focus = None;
                let message = format!(
                    "pod {}/{} is not in {}",
                    pod.namespace,
                    pod.name,
                    match self.data.facts().source.kind.as_str() {
                        "live" => "the cluster",
                        _ => "this input",
                    }
                );
                self.prompt.message = Some(crate::text::escape_line(&message).into_owned());
            }
            None => {}
        }
    }

    fn open(&mut self) {
        let selected = self.selected();
        match self.screen().clone() {
            Screen::Pods => {
                if let Some(&finding) = self.list.visible().get(selected) {
                    self.push(Screen::Chain { finding });
                }
            }
            Screen::Related { findings, .. } => {
                if let Some(&finding) = findings.get(selected) {
                    self.push(Screen::Chain { finding });
                }
            }
            Screen::Browse(_) => {
                let row = self.browse_table().and_then(|t| t.rows.get(selected));
                if let Some(row) = row {
                    let related = Screen::Related {
                        title: row.title.clone(),
                        lines: row.details.clone(),
                        findings: row.findings.clone(),
                    };
                    self.push(related);
                }
            }
            Screen::Chain { .. } | Screen::Fix { .. } | Screen::Wizard | Screen::ReadFailed => {}
        }
    }

    /// The blast radius of the open chain's broken entity, or why there is none.
    fn open_radius(&mut self) {
        if let Screen::Chain { finding } = *self.screen() {
            match super::radius::screen(&self.data.report().findings, finding) {
                Ok(screen) => self.push(screen),
                Err(why) => self.tell(why),
            }
        }
    }

    /// Opens the setup wizard at its first question.
    pub fn open_wizard(&mut self) {
        self.views.close_all();
        self.push(Screen::Wizard);
        self.wizard = super::wizard::WizardState::new(self.list.namespace(), self.data.facts());
        self.prompt.input = Some((InputKind::Wizard, self.wizard.typed[0].clone()));
    }

    /// The first read of a context is under way: until one succeeds, a failure is its own screen.
    pub fn begin_first_read(&mut self, what: &str) {
        self.reads.never_read = true;
        self.reads.loading = Some(what.to_string());
    }

    /// Nothing of this context has been read yet (counts of zero would pass for an all-clear).
    pub fn nothing_read(&self) -> bool {
        self.reads.never_read && self.data.report().findings.is_empty()
    }

    fn read_succeeded(&mut self) {
        self.reads.never_read = false;
        self.reads.failed = None;
        self.views.set_root(Screen::Pods);
    }

    /// Leaves this context's cluster for another's: nothing of the old one stays on screen.
    fn switch_context(&mut self, name: &str) -> Vec<Effect> {
        self.context.current = Some(name.to_string());
        self.views.close_all();
        self.list = Listing::default();
        self.prompt.plan = None;
        self.reads.plan_when_read = false;
        self.reads.changed_while_loading = false;
        self.replace_facts(Diagnosed::of(Facts::default()));
        self.reads.failed = None;
        self.views.set_root(Screen::Pods);
        self.begin_first_read(&format!("reading context {name}…"));
        vec![Effect::SwitchContext(name.to_string())]
    }

    /// Hands the wizard's answers to the background to check and plan.
    fn plan_wizard(&mut self) -> Vec<Effect> {
        self.reads.loading = Some("checking the cluster and AWS for the setup…".into());
        vec![Effect::Plan(Box::new(self.wizard.answers.clone()))]
    }

    /// `e` on a finished wizard: ask where the files go.
    fn start_export(&mut self) {
        if let Some(setup) = &self.wizard.setup {
            let dir = format!(
                "pulldoctor-setup-{}-{}",
                setup.answers.namespace, setup.answers.service_account
            );
            self.prompt.message = Some("export to directory:".into());
            self.prompt.input = Some((InputKind::ExportDir, dir));
        }
    }

    /// The finding as diagnosed, before its text was escaped for the screen: a plan must send
    /// the documents exactly as they are, not as they are shown.
    fn unescaped(&self, index: usize) -> Option<crate::report::Finding> {
        self.data.raw().findings.get(index).cloned()
    }

    /// `a` in the fix pane or on a finished wizard: plan and ask for confirmation.
    fn start_apply(&mut self) -> Vec<Effect> {
        if !self.context.writes_allowed {
            self.prompt.message =
                Some("read-only: start pulldoctor with --allow-writes to apply".into());
            return Vec::new();
        }
        let planned = match self.screen().clone() {
            Screen::Fix { finding } => match self.unescaped(finding) {
                Some(raw) => crate::fix::write_plan::of_fix(&raw, self.fix_choice() + 1)
                    .and_then(crate::fix::guard::check),
                None => Err("the finding changed: read again (r)".to_string()),
            },
            Screen::Wizard => match &self.wizard.setup {
                Some(setup) => Ok(setup.plan.clone()),
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        match planned {
            Err(why) => self.prompt.message = Some(why),
            Ok(plan) if plan.writes.is_empty() => {
                self.prompt.message =
                    Some("no API call fixes this: the steps are for you to do".into());
            }
            Ok(plan) => {
                let typed = plan.writes.iter().any(|w| w.apply.needs_typed_yes());
                let changes: Vec<String> = plan
                    .writes
                    .iter()
                    .map(|w| {
                        format!(
                            "{} on {}",
                            w.apply.call(),
                            crate::text::escape_line(&w.apply.target())
                        )
                    })
                    .collect();
                self.prompt.message = Some(format!(
                    "{} {}: {}",
                    if typed {
                        "type yes to apply"
                    } else {
                        "y to apply"
                    },
                    crate::text::plural(plan.writes.len(), "change"),
                    changes.join("; ")
                ));
                self.prompt.plan = Some(plan);
                self.prompt.input = Some((InputKind::Confirm, String::new()));
            }
        }
        Vec::new()
    }

    fn confirmed(&mut self, answer: &str, again: bool) -> Vec<Effect> {
        let Some(plan) = self.prompt.plan.take() else {
            return Vec::new();
        };
        let typed = again || plan.writes.iter().any(|w| w.apply.needs_typed_yes());
        let yes = if typed {
            answer == "yes"
        } else {
            matches!(answer, "y" | "Y" | "yes")
        };
        if !yes {
            self.prompt.message = Some("not applied".into());
            return Vec::new();
        }
        if let (false, Some(why)) = (again, plan.asked_again()) {
            self.prompt.message = Some(why);
            self.prompt.plan = Some(plan);
            self.prompt.input = Some((InputKind::ConfirmAgain, String::new()));
            return Vec::new();
        }
        self.reads.loading = Some("applying…".into());
        vec![Effect::Apply(Box::new(plan))]
    }

    /// `:` commands in the k9s manner (the table is [`super::keymap::COMMANDS`]).
    fn command(&mut self, text: &str) -> Vec<Effect> {
        let mut words = text.split_whitespace();
        let (verb, arg) = (words.next().unwrap_or(""), words.next());
        if verb.is_empty() {
            return Vec::new();
        }
        let Some(command) = keymap::command(verb) else {
            self.prompt.message = Some(format!(
                "unknown command :{verb} — try {}",
                keymap::command_usage()
            ));
            return Vec::new();
        };
        match command.kind {
            CommandKind::Quit => return vec![Effect::Quit],
            CommandKind::Pods => self.close_all(),
            CommandKind::Browse(kind) => {
                self.close_all();
                self.push(Screen::Browse(kind));
            }
            CommandKind::Namespace => self.set_namespace(arg),
            CommandKind::Context => return self.context_command(arg),
            CommandKind::Wizard => self.open_wizard(),
        }
        Vec::new()
    }

    /// `:ns NAME`; `:ns` or `:ns all` for every namespace.
    fn set_namespace(&mut self, name: Option<&str>) {
        let name = name.filter(|n| !matches!(*n, "all" | "-A"));
        let (data, screen) = (&self.data, &self.views.top().screen);
        self.list
            .set_namespace(name.map(str::to_string), data, screen);
        self.set_selected(0);
        self.prompt.message = Some(match name {
            None => "all namespaces".to_string(),
            Some(ns)
                if self
                    .data
                    .report()
                    .findings
                    .iter()
                    .any(|f| f.namespace == ns) =>
            {
                format!("namespace {ns}")
            }
            Some(ns) => format!("namespace {ns}: no pods in this input"),
        });
    }

    /// `:ctx` lists the kubeconfig's contexts; `:ctx NAME` switches to one.
    fn context_command(&mut self, name: Option<&str>) -> Vec<Effect> {
        let message = match name {
            _ if self.context.contexts.is_empty() => {
                "offline input: there is no kube context to switch to".to_string()
            }
            None => {
                let names: Vec<String> = self
                    .context
                    .contexts
                    .iter()
                    .map(|c| match Some(c) == self.context.current.as_ref() {
                        true => format!("{c} (in use)"),
                        false => c.clone(),
                    })
                    .collect();
                format!("contexts: {} — :ctx NAME switches", names.join(", "))
            }
            Some(name) if !self.context.contexts.iter().any(|c| c == name) => {
                format!("no context {name} in the kubeconfig; :ctx lists them")
            }
            Some(name) if self.context.current.as_deref() == Some(name) => {
                format!("already on context {name}")
            }
            Some(name) => return self.switch_context(name),
        };
        self.prompt.message = Some(message);
        Vec::new()
    }

    /// The age of finding `index`'s pod, relative to the snapshot's time or now.
    pub fn age(&self, index: usize) -> &str {
        self.data.age(index)
    }
}
