//! Every printed command quotes what it names: role names are AWS text (a bundle's, or an
//! account's) and may hold anything IAM or a forger allows. Hostile names are put into the
//! pull-permission scenario (every role of it); every command a fix prints must read back, as a
//! shell reads it, with the name whole inside one word — never a second command, a glob or a
//! substitution.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use proptest::prelude::*;
use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::source::{self, bundle};
use std::path::Path;

const ROLES: [&str; 5] = ["pp-missing", "pp-token", "pp-deny", "pp-boundary", "pp-ptc"];

/// The printed commands of the scenario whose roles are renamed `NAME-<n>`.
fn commands_with_roles_named(name: &str) -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/causes/pull-permissions.yaml");
    let mut text = std::fs::read_to_string(path).unwrap();
    for (i, role) in ROLES.iter().enumerate() {
        let hostile = format!("{name}-{i}");
        let json = serde_json::to_string(&hostile).unwrap();
        let inner = &json[1..json.len() - 1];
        text = text
            .replace(&format!("role/{role}\""), &format!("role/{inner}\""))
            .replace(
                &format!("\"RoleName\": \"{role}\""),
                &format!("\"RoleName\": {json}"),
            );
    }
    let mut b = bundle::Bundle::default();
    bundle::add_text(&mut b, "hostile.yaml", &text);
    let facts = source::facts_from_bundle(&b, "snapshot");
    let report = diagnose(
        &facts,
        &Selection {
            all: true,
            ..Default::default()
        },
    );
    report
        .findings
        .iter()
        .flat_map(|f| &f.fixes)
        .flat_map(|fix| &fix.steps)
        .filter_map(|s| s.command.clone())
        .collect()
}

/// For each byte of `command`, whether a shell reads it bare: outside quotes, not escaped.
fn bare_bytes(command: &str) -> Vec<bool> {
    let (mut single, mut double, mut escaped) = (false, false, false);
    command
        .bytes()
        .map(|b| {
            let bare = !single && !double && !escaped;
            match b {
                _ if escaped => escaped = false,
                b'\\' if !single => escaped = true,
                b'\'' if !double => single = !single,
                b'"' if !single => double = !double,
                _ => {}
            }
            bare && !matches!(b, b'\'' | b'"' | b'\\')
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn every_printed_command_keeps_a_hostile_name_in_one_word(
        name in "[a-z]{1,3}[ ;&|$`'\"*?(){}<>!#~\\\\]{1,3}[a-z]{0,3}"
    ) {
        let commands = commands_with_roles_named(&name);
        let mut named = 0;
        for command in &commands {
            let bare = bare_bytes(command);
            let words = shlex::split(command).unwrap_or_default();
            for i in 0..ROLES.len() {
                let hostile = format!("{name}-{i}");
                named += words.iter().filter(|w| w.contains(&hostile)).count();
                for (at, _) in command.match_indices(&hostile) {
                    // Not one character of the name is read bare by a shell: no operator,
                    // glob, substitution or space of it acts.
                    let special = hostile.bytes().enumerate().filter(|(_, b)| !b.is_ascii_alphanumeric() && *b != b'-');
                    for (offset, _) in special {
                        prop_assert!(!bare[at + offset], "{hostile:?} is read by the shell in: {command}");
                    }
                }
            }
        }
        prop_assert!(named > 0, "no command names a role: {commands:#?}");
    }
}
