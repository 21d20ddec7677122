//! Where on-call engineers already are: the kubectl plugin name, the k9s plugin entry, shell
//! completions and the man page — each run for real.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

#[path = "support/terminal.rs"]
mod terminal;

use std::path::Path;
use std::process::Command;
use terminal::Terminal;

fn demo() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenarios/demo.yaml")
        .display()
        .to_string()
}

fn run(binary: &str, args: &[&str]) -> std::process::Output {
    Command::new(binary).args(args).output().unwrap()
}

#[test]
fn the_binary_answers_to_its_kubectl_plugin_name() {
    let plugin = env!("CARGO_BIN_EXE_kubectl-pulldoctor");
    let help = run(plugin, &["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage: kubectl pulldoctor"), "{text}");
    // The same program under either name: the same report.
    let args = ["diagnose", "--from", &demo(), "-o", "json"];
    let as_plugin = run(plugin, &args);
    let as_itself = run(env!("CARGO_BIN_EXE_pulldoctor"), &args);
    assert_eq!(as_plugin.status.code(), Some(1));
    assert_eq!(as_plugin.stdout, as_itself.stdout);
    // kubectl's flags, as kubectl passes them through to a plugin.
    let named = run(
        plugin,
        &[
            "diagnose",
            "--from",
            &demo(),
            "-n",
            "shop",
            "cart-5b8d4f-q7w",
        ],
    );
    let text = String::from_utf8_lossy(&named.stdout);
    assert!(text.contains("image-tag-missing"), "{text}");
}

#[test]
fn the_krew_manifest_names_the_plugin_binary() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/krew/pulldoctor.yaml");
    let manifest: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(manifest["metadata"]["name"], "pulldoctor");
    for platform in manifest["spec"]["platforms"].as_array().unwrap() {
        assert_eq!(platform["bin"], "kubectl-pulldoctor");
    }
}

/// The Shift-letter keys k9s binds in its views (`internal/view`, `internal/ui`: the pod and
/// container views with the table, browser and extenders they share), read from k9s's source at
/// each release tag: `git grep -ho 'ui.KeyShift[A-Z]' TAG -- internal/view internal/ui`. Shift-I
/// ("Sort IP") is bound until v0.50.18.
const K9S_BOUND_SHIFT_KEYS: [(&str, &str); 7] = [
    ("v0.32.7", "A B C D E F I J K L M N O P R S T U V W X Z"),
    ("v0.40.10", "A B C D E F I J K L M N O P R S T U V W X Z"),
    ("v0.50.0", "A B C D F I J K L M N O P R S T U V X Z"),
    ("v0.50.9", "A B C D F I J K L M N O P R S T U V X Z"),
    ("v0.50.17", "A B C D F I J K L M N O P R S T U V X Z"),
    ("v0.50.18", "A C F J K L N O P R S U V"),
    ("v0.51.0", "A C F J K L N O P R S U V"),
];

/// The k9s entry, its variables expanded as k9s expands them on the pod view, opens pulldoctor on
/// that pod.
#[test]
fn the_k9s_plugin_opens_pulldoctor_on_the_selected_pod() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/k9s/plugins.yaml");
    let config: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let plugin = &config["plugins"]["pulldoctor"];
    assert_eq!(plugin["scopes"], serde_json::json!(["pods"]));
    assert_eq!(plugin["command"], "pulldoctor");
    assert!(plugin["description"].as_str().is_some());
    // k9s drops a plugin whose key a view of its own binds: the key must be free in the pod and
    // container views of every release people run.
    let key = plugin["shortCut"].as_str().unwrap();
    for (version, bound) in K9S_BOUND_SHIFT_KEYS {
        let letter = key.strip_prefix("Shift-").expect("a Shift- key");
        assert!(
            !bound.split(' ').any(|b| b == letter),
            "{key} is bound by k9s {version}"
        );
    }
    let expand = |arg: &str| match arg {
        "$CONTEXT" => "prod-east".to_string(),
        "$NAMESPACE" => "billing".to_string(),
        "$NAME" => "api-58d7c9-t4r".to_string(),
        other => {
            assert!(!other.starts_with('$'), "unexpanded {other}");
            other.to_string()
        }
    };
    let mut words: Vec<String> = vec![env!("CARGO_BIN_EXE_pulldoctor").to_string()];
    words.extend(
        plugin["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| expand(a.as_str().unwrap())),
    );
    // Against the demo snapshot rather than a cluster.
    words.extend(["--from".to_string(), demo()]);
    let line = shlex::try_join(words.iter().map(String::as_str)).unwrap();
    let screen = Terminal::start("k9s-plugin", 100, 30, &line);
    let chain = screen.wait_for("PULL LANE");
    assert!(screen.alternate_screen(), "the TUI, not a printed report");
    assert!(chain.contains("billing/api-58d7c9-t4r"), "{chain}");
    assert!(chain.contains("trust-wrong-subject"), "{chain}");
    // Back to the list, which holds every pod.
    screen.keys(&["Escape"]);
    screen.wait_for("pods (16)");
    screen.keys(&["q"]);
    assert!(screen.wait_for_exit());
}

#[test]
fn completions_load_in_bash_and_complete_subcommands() {
    let script = run(env!("CARGO_BIN_EXE_pulldoctor"), &["completions", "bash"]);
    assert!(script.status.success());
    let dir = std::env::temp_dir().join(format!("pulldoctor-completions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pulldoctor.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    // Source it, then ask for the words after `pulldoctor di`, as bash would on <tab>.
    let probe = format!(
        "source {}; COMP_WORDS=(pulldoctor di); COMP_CWORD=1; _pulldoctor pulldoctor di pulldoctor; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        shlex::try_quote(file.to_str().unwrap()).unwrap()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.lines().any(|w| w == "diagnose"),
        "{words} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shell in ["zsh", "fish"] {
        let out = run(env!("CARGO_BIN_EXE_pulldoctor"), &["completions", shell]);
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_man_page_is_roff_naming_every_command() {
    let out = run(env!("CARGO_BIN_EXE_pulldoctor"), &["man"]);
    // roff writes a hyphen as `\-`.
    let page = String::from_utf8_lossy(&out.stdout).replace("\\-", "-");
    assert!(page.contains(".TH pulldoctor 1"), "{page}");
    for command in [
        "diagnose",
        "snapshot",
        "collect-script",
        "fix",
        "wizard",
        "completions",
    ] {
        assert!(
            page.contains(&format!("pulldoctor {command}")),
            "{command} missing"
        );
    }
    // One page: no reference to a page per command, which nothing installs.
    assert!(!page.contains("pulldoctor-diagnose(1)"), "{page}");
}

/// `--version` names the commit of a git checkout; `cargo install --path .` installs both names.
#[test]
fn version_names_the_commit_and_install_gives_both_binaries() {
    let out = run(env!("CARGO_BIN_EXE_pulldoctor"), &["--version"]);
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(head.status.success(), "the tests run in a git checkout");
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert_eq!(
        version,
        format!("pulldoctor {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
    let metadata = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    let mut binaries: Vec<&str> = metadata["packages"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == serde_json::json!(["bin"]))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    binaries.sort();
    assert_eq!(binaries, ["kubectl-pulldoctor", "pulldoctor"]);
}

/// The README's first command names no binary: `cargo run` must pick pulldoctor of the two. Asked
/// of cargo's own reading of the manifest — running `cargo run` here would build every dependency
/// again without the dev-dependencies' features.
#[test]
fn cargo_run_runs_pulldoctor() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = &metadata["packages"][0];
    let bins: Vec<&str> = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"][0] == "bin")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(bins.len() > 1, "{bins:?}");
    assert_eq!(package["default_run"], "pulldoctor");
}
