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

/// The commands the TUI copies (`y` on the fix pane) work pasted into a shell: each document a
/// command reads from a file is written first. Pasted into bash with stub clients, for every
/// fix of every scenario, every `file://` a command names holds that step's document.
#[test]
fn copied_fix_commands_carry_their_documents() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("pulldoctor-paste-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // Each client records the content of every file:// it is given, by name.
    let stub = "#!/usr/bin/env bash\nfor a in \"$@\"; do case \"$a\" in file://*) f=\"${a#file://}\"; cp \"$f\" \"$PASTE_SEEN/$f\" ;; esac; done\n";
    for client in ["aws", "kubectl", "docker", "sudo", "crictl"] {
        let path = bin.join(client);
        std::fs::write(&path, stub).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(scenarios.join("causes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(scenarios.join("demo.yaml"));
    let mut checked = 0;
    for path in files {
        let facts = source::facts_from_bundle(&bundle::read(&path).unwrap(), "snapshot");
        let report = diagnose(
            &facts,
            &Selection {
                all: true,
                ..Default::default()
            },
        );
        for finding in report.findings.iter().filter(|f| !f.fixes.is_empty()) {
            let work = dir.join("work");
            let seen = dir.join("seen");
            for d in [&work, &seen] {
                let _ = std::fs::remove_dir_all(d);
                std::fs::create_dir_all(d).unwrap();
            }
            let script: String = (0..finding.fixes.len())
                .map(|choice| pulldoctor::fix::command::script(finding, choice))
                .collect();
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(&script)
                .current_dir(&work)
                .env(
                    "PATH",
                    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
                )
                .env("PASTE_SEEN", &seen)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}\n{script}",
                finding.subject(),
                String::from_utf8_lossy(&out.stderr)
            );
            for step in finding.fixes.iter().flat_map(|f| &f.steps) {
                let (Some(command), Some(document)) = (&step.command, &step.document) else {
                    continue;
                };
                let Some(file) = command
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("file://"))
                else {
                    continue;
                };
                let written = std::fs::read_to_string(seen.join(file)).unwrap_or_else(|e| {
                    panic!(
                        "{}: {file} was not written ({e})\n{script}",
                        finding.subject()
                    )
                });
                assert_eq!(
                    written.trim_end(),
                    document.trim_end(),
                    "{}: {file}",
                    finding.subject()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "only {checked} documents checked");
    let _ = std::fs::remove_dir_all(&dir);
}
