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
    let list = tmux.wait_for("pods (15)");
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
