//! End to end: the real binary in a real terminal (tmux), driven by keys, read from the screen.
//! tmux is installed by scripts/test; without it this test fails rather than skip.

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (scripts/test installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "pd"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "pd"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits (bounded) until the screen shows `text`.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {text:?}:\n{screen}"
            );
            sleep(Duration::from_millis(50));
        }
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["-L", &self.socket, "has-session", "-t", "pd"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn demo_in_a_real_terminal() {
    let tmux = Tmux {
        socket: format!("pulldoctor-test-{}", std::process::id()),
    };
    let binary = env!("CARGO_BIN_EXE_pulldoctor");
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "pd",
        "-x",
        "80",
        "-y",
        "24",
        &format!("{binary} demo"),
    ]);
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
    let deadline = Instant::now() + Duration::from_secs(5);
    while tmux.alive() && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
    }
    assert!(!tmux.alive(), "q quits");
}
