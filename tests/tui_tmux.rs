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
        chain.contains("▶├ ✗ BROKEN   pull-permissions"),
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
