//! Key bindings and `:` commands as data: the footer, the help screen, the key → action
//! translation and the command line all read these two tables.

use super::action::{Action, Screen};
use super::browse;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Lists,
    Chain,
    Fix,
    Wizard,
    ReadFailed,
}

impl Scope {
    pub fn covers(self, screen: &Screen) -> bool {
        match self {
            Scope::Everywhere => true,
            Scope::Lists => screen.is_list(),
            Scope::Chain => matches!(screen, Screen::Chain { .. }),
            Scope::Fix => matches!(screen, Screen::Fix { .. }),
            Scope::Wizard => matches!(screen, Screen::Wizard),
            Scope::ReadFailed => matches!(screen, Screen::ReadFailed),
        }
    }
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    /// How the footer and help show the key.
    pub label: &'static str,
    pub scope: Scope,
    pub action: Action,
    pub help: &'static str,
    /// The footer's word for the binding; `None`: shown only in help.
    pub footer: Option<&'static str>,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        label: "↑/k",
        scope: Scope::Everywhere,
        action: Action::Up,
        help: "move up",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        label: "↓/j",
        scope: Scope::Everywhere,
        action: Action::Down,
        help: "move down",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::PageUp],
        label: "PgUp",
        scope: Scope::Everywhere,
        action: Action::PageUp,
        help: "page up",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::PageDown],
        label: "PgDn",
        scope: Scope::Everywhere,
        action: Action::PageDown,
        help: "page down",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Home, KeyCode::Char('g')],
        label: "g",
        scope: Scope::Everywhere,
        action: Action::Top,
        help: "go to the top",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::End, KeyCode::Char('G')],
        label: "G",
        scope: Scope::Everywhere,
        action: Action::Bottom,
        help: "go to the bottom",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Enter],
        label: "enter",
        scope: Scope::Lists,
        action: Action::Open,
        help: "open the selected row",
        footer: Some("open the selected row"),
    },
    Binding {
        keys: &[KeyCode::Enter, KeyCode::Char('f')],
        label: "f",
        scope: Scope::Chain,
        action: Action::OpenFix,
        help: "open the fix for the broken link",
        footer: Some("open the fix for the broken link"),
    },
    Binding {
        keys: &[KeyCode::Char('a')],
        label: "a",
        scope: Scope::Wizard,
        action: Action::Apply,
        help: "apply the setup",
        footer: Some("apply the setup"),
    },
    Binding {
        keys: &[KeyCode::Char('e')],
        label: "e",
        scope: Scope::Wizard,
        action: Action::Export,
        help: "export the setup as files",
        footer: Some("export the setup as files"),
    },
    Binding {
        keys: &[KeyCode::Char('a')],
        label: "a",
        scope: Scope::Fix,
        action: Action::Apply,
        help: "apply the chosen fix (needs --allow-writes)",
        footer: Some("apply the chosen fix"),
    },
    Binding {
        keys: &[KeyCode::Tab],
        label: "tab",
        scope: Scope::Fix,
        action: Action::NextFix,
        help: "choose the next fix",
        footer: Some("choose the next fix"),
    },
    Binding {
        keys: &[KeyCode::PageDown, KeyCode::Char('J')],
        label: "PgDn/J",
        scope: Scope::Chain,
        action: Action::EvidenceDown,
        help: "scroll the evidence down",
        footer: Some("scroll the evidence"),
    },
    Binding {
        keys: &[KeyCode::PageUp, KeyCode::Char('K')],
        label: "PgUp/K",
        scope: Scope::Chain,
        action: Action::EvidenceUp,
        help: "scroll the evidence up",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Char('b')],
        label: "b",
        scope: Scope::Chain,
        action: Action::Radius,
        help: "blast radius: who else the broken entity stops",
        footer: Some("blast radius"),
    },
    Binding {
        keys: &[KeyCode::Char('y')],
        label: "y",
        scope: Scope::Chain,
        action: Action::Copy,
        help: "copy as Markdown",
        footer: Some("copy as Markdown"),
    },
    Binding {
        keys: &[KeyCode::Char('y')],
        label: "y",
        scope: Scope::Fix,
        action: Action::Copy,
        help: "copy the fix's commands (OSC 52, and a file)",
        footer: Some("copy the fix's commands"),
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        label: "/",
        scope: Scope::Lists,
        action: Action::StartFilter,
        help: "filter the list",
        footer: Some("filter the list"),
    },
    Binding {
        keys: &[KeyCode::Char(':')],
        label: ":",
        scope: Scope::Everywhere,
        action: Action::StartCommand,
        help: "command: :pods :sa :roles :repos :ns NAME|all :ctx :wizard :q",
        footer: Some("command"),
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        label: "r",
        scope: Scope::ReadFailed,
        action: Action::Refresh,
        help: "read again (the selected pod alone, where one is selected)",
        footer: Some("read again"),
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        label: "r",
        scope: Scope::Everywhere,
        action: Action::Refresh,
        help: "read again (the selected pod alone, where one is selected)",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Esc],
        label: "esc",
        scope: Scope::Everywhere,
        action: Action::Back,
        help: "back (or clear the filter)",
        footer: Some("back"),
    },
    Binding {
        keys: &[KeyCode::Char('?')],
        label: "?",
        scope: Scope::Everywhere,
        action: Action::Help,
        help: "help",
        footer: Some("help"),
    },
    Binding {
        keys: &[KeyCode::Char('q')],
        label: "q",
        scope: Scope::Everywhere,
        action: Action::Quit,
        help: "quit",
        footer: Some("quit"),
    },
];

/// The action a key triggers on this screen, if any. Ctrl-C always quits.
pub fn action_for(key: KeyEvent, screen: &Screen) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    BINDINGS
        .iter()
        .filter(|b| b.scope.covers(screen))
        // The most specific scope wins (enter opens a row in lists, the fix in the chain).
        .find(|b| b.keys.contains(&key.code) && b.scope != Scope::Everywhere)
        .or_else(|| {
            BINDINGS
                .iter()
                .find(|b| b.scope == Scope::Everywhere && b.keys.contains(&key.code))
        })
        .map(|b| b.action.clone())
}

/// The bindings to show in the footer for this screen.
pub fn footer(screen: &Screen) -> Vec<&'static Binding> {
    BINDINGS
        .iter()
        .filter(|b| b.footer.is_some() && b.scope.covers(screen))
        .collect()
}

/// What a `:` command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Quit,
    Pods,
    Browse(browse::Kind),
    /// `:ns NAME`, `:ns` or `:ns all` for every namespace.
    Namespace,
    /// `:ctx` lists the contexts, `:ctx NAME` switches.
    Context,
    Wizard,
}

pub struct Command {
    /// The name, then its aliases, in the k9s manner.
    pub names: &'static [&'static str],
    /// How help shows it.
    pub usage: &'static str,
    pub kind: CommandKind,
}

pub const COMMANDS: &[Command] = &[
    Command {
        names: &["pods", "po", "pod"],
        usage: ":pods",
        kind: CommandKind::Pods,
    },
    Command {
        names: &["sa", "serviceaccounts", "serviceaccount"],
        usage: ":sa",
        kind: CommandKind::Browse(browse::Kind::ServiceAccounts),
    },
    Command {
        names: &["roles", "role"],
        usage: ":roles",
        kind: CommandKind::Browse(browse::Kind::Roles),
    },
    Command {
        names: &["repos", "repositories", "repo"],
        usage: ":repos",
        kind: CommandKind::Browse(browse::Kind::Repositories),
    },
    Command {
        names: &["ns", "namespace"],
        usage: ":ns NAME|all",
        kind: CommandKind::Namespace,
    },
    Command {
        names: &["ctx", "context"],
        usage: ":ctx",
        kind: CommandKind::Context,
    },
    Command {
        names: &["wizard", "setup"],
        usage: ":wizard",
        kind: CommandKind::Wizard,
    },
    Command {
        names: &["q", "quit", "q!"],
        usage: ":q",
        kind: CommandKind::Quit,
    },
];

/// The command a typed verb names.
pub fn command(verb: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names.contains(&verb))
}

/// Every command as help and the unknown-command message show them.
pub fn command_usage() -> String {
    COMMANDS
        .iter()
        .map(|c| c.usage)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Help shows the commands in the `:` binding's text: it must name each one of the table.
    #[test]
    fn the_command_binding_names_every_command() {
        let binding = BINDINGS
            .iter()
            .find(|b| b.action == Action::StartCommand)
            .map(|b| b.help)
            .unwrap_or_default();
        assert!(binding.ends_with(&command_usage()), "{binding}");
    }
}
