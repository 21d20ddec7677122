//! Credential helpers (a kubeconfig exec plugin, a `credential_process`) that never answered
//! are abandoned when `--timeout` runs out; at exit they are ended, with whatever they started,
//! so none is left holding the terminal's output open.

/// Ends every process descended from this one (Linux; elsewhere nothing).
#[cfg(target_os = "linux")]
pub fn end_children() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let parents: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid …`: the name may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut family = vec![std::process::id() as i32];
    let mut next = 0;
    while next < family.len() {
        let parent = family[next];
        family.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    for pid in family.into_iter().skip(1) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn end_children() {}
