//! End to end: the real binary in a real terminal (tmux), driven by keys, read from the screen.
//! tmux is installed by scripts/test; without it this test fails rather than skip.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

#[path = "support/terminal.rs"]
mod terminal;

use terminal::Terminal;

#[test]
fn demo_in_a_real_terminal() {
    let binary = env!("CARGO_BIN_EXE_pulldoctor");
    let tmux = Terminal::start("demo", 80, 24, &format!("{binary} demo"));
    // The list: failing pods first.
    let list = tmux.wait_for("pods (16)");
    assert!(list.contains("✗ BROKEN"), "{list}");
    let first_row = list.lines().nth(3).unwrap_or("");
    assert!(
        first_row.contains("BROKEN"),
        "failing pods come first:\n{list}"
    );
    // Select a failing pod with the filter and open its chain.
    tmux.keys(&["/", "checkout", "Enter"]);
    tmux.wait_for("pods (1)");
    tmux.keys(&["Enter"]);
    let chain = tmux.wait_for("PULL LANE");
    assert!(chain.contains("shop/checkout-6c9e7a-m3n"), "{chain}");
    assert!(chain.contains("pull-permission-missing"), "{chain}");
    assert!(
        chain.contains("▶├ ✗ pull-permissions"),
        "the broken link is marked:\n{chain}"
    );
    // The fix.
    tmux.keys(&["f"]);
    let fix = tmux.wait_for("aws iam put-role-policy");
    assert!(fix.contains("eks-node-legacy"), "{fix}");
    // Quit restores the terminal and ends the program.
    tmux.keys(&["q"]);
    assert!(tmux.wait_for_exit(), "q quits");
}

/// A bug (a panic) with the TUI's terminal open: the terminal is restored first, then a report
/// says where it happened and where to file it — never a raw-mode screen with a backtrace
/// smeared across it.
#[test]
fn a_panic_restores_the_terminal_then_reports() {
    let binary = env!("CARGO_BIN_EXE_pulldoctor");
    let tmux = Terminal::start(
        "crash",
        100,
        30,
        &format!("RUST_BACKTRACE=0 {binary} crash-test; echo exit=$?; sleep 30"),
    );
    let screen = tmux.wait_for("exit=");
    assert!(screen.contains("exit=101"), "{screen}");
    assert!(screen.contains("This is a bug in pulldoctor"), "{screen}");
    assert!(screen.contains("issue tracker"), "{screen}");
    assert!(
        screen.contains("crash-test: a deliberate panic"),
        "{screen}"
    );
    // Restored: lines start at the left margin (raw mode would leave them staircased) and the
    // report is on the normal screen, where the shell's output stays.
    let report_lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        report_lines
            .iter()
            .all(|l| !l.starts_with("   ") || l.contains("at ")),
        "{screen}"
    );
    assert!(!tmux.alternate_screen(), "{screen}");
}

/// With no kubeconfig, or one whose API server does not answer, the TUI opens on why (whole,
/// wrapped at 80 columns) and what to do; leaving exits 2 with the reason on the normal screen.
#[test]
fn a_read_that_never_succeeded_is_said_and_exits_2() {
    let binary = env!("CARGO_BIN_EXE_pulldoctor");
    let dir = std::env::temp_dir().join(format!("pulldoctor-first-run-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let dead = dir.join("dead-kubeconfig");
    std::fs::write(
        &dead,
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: dead\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: dead\n  context: {cluster: dead, user: u}\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let env = format!(
        "env -u KUBECONFIG -u AWS_PROFILE HOME={} AWS_EC2_METADATA_DISABLED=true",
        dir.join("home").display()
    );
    let cases = [
        (
            "no-kubeconfig",
            String::new(),
            "without one: pulldoctor demo",
        ),
        (
            "dead-server",
            format!("--kubeconfig {}", dead.display()),
            "cannot reach the cluster's API server",
        ),
    ];
    for (name, args, said) in cases {
        let tmux = Terminal::start(
            name,
            80,
            24,
            &format!("{env} {binary} --timeout 3 {args}; echo exit=$?; sleep 30"),
        );
        let screen = tmux.wait_for("could not read the cluster");
        let screen = if screen.contains(said) {
            screen
        } else {
            tmux.wait_for(said)
        };
        assert!(screen.contains("nothing read yet"), "{screen}");
        assert!(!screen.contains("no pods in this input"), "{screen}");
        assert!(screen.contains("pulldoctor demo"), "{screen}");
        tmux.keys(&["q"]);
        let after = tmux.wait_for("exit=");
        assert!(after.contains("exit=2"), "{after}");
        assert!(
            after.contains("pulldoctor: "),
            "the reason, printed: {after}"
        );
        assert!(!tmux.alternate_screen(), "{after}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
