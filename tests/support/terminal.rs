//! The real binary in a real terminal (tmux), driven by keys and read from the screen. The
//! session is killed on drop. tmux is installed by scripts/test; without it a test fails.

use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub struct Terminal {
    socket: String,
}

impl Terminal {
    /// Starts `command_line` in a detached session of `cols` × `rows`.
    pub fn start(name: &str, cols: u16, rows: u16, command_line: &str) -> Terminal {
        let terminal = Terminal {
            socket: format!("pulldoctor-{name}-{}", std::process::id()),
        };
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let started = terminal.tmux(&[
            "new-session",
            "-d",
            "-s",
            "pd",
            "-x",
            &cols,
            "-y",
            &rows,
            command_line,
        ]);
        assert!(started.status.success(), "tmux new-session: {started:?}");
        terminal
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (scripts/test installs it)")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "pd"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "pd"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Waits (bounded) until the screen shows `text` and has stopped changing: a capture taken
    /// while a frame is half written would otherwise pass for the whole screen.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?}"), |screen| screen.contains(text))
    }

    /// Waits (bounded) until the screen is as `wanted` says (described by `what`) and has
    /// stopped changing.
    pub fn wait_until(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_within(Duration::from_secs(20), what, wanted)
    }

    /// [`Terminal::wait_until`], for at most `limit`: a read of thousands of pods on a loaded
    /// machine.
    pub fn wait_within(
        &self,
        limit: Duration,
        what: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        let mut previous = String::new();
        loop {
            let screen = self.screen();
            if wanted(&screen) && screen == previous {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what} (or never settled):\n{screen}"
            );
            previous = screen;
            sleep(Duration::from_millis(60));
        }
    }

    /// Whether the program has the terminal's alternate screen open.
    pub fn alternate_screen(&self) -> bool {
        let shown = self.tmux(&["display-message", "-p", "-t", "pd", "#{alternate_on}"]);
        String::from_utf8_lossy(&shown.stdout).trim() == "1"
    }

    pub fn alive(&self) -> bool {
        self.tmux(&["has-session", "-t", "pd"]).status.success()
    }

    /// Waits (bounded) for the program to end.
    pub fn wait_for_exit(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.alive() && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
        !self.alive()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
