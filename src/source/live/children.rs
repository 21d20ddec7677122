//! Credential helpers (a kubeconfig exec plugin, a `credential_process`) that never answered
//! are abandoned when `--timeout` runs out; at exit they are ended, with whatever they started,
//! so none is left holding the terminal's output open.

/// Ends every process descended from this one (Linux; elsewhere nothing). The tree is frozen
/// first (SIGSTOP), read again until nothing new appears — a shell may be starting its command —
/// then ended (SIGKILL), so no grandchild is orphaned on the way.
#[cfg(target_os = "linux")]
pub fn end_children() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let mut frozen: Vec<i32> = Vec::new();
    for _ in 0..5 {
        let fresh: Vec<i32> = descendants()
            .into_iter()
            .filter(|pid| !frozen.contains(pid))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for &pid in &fresh {
            let _ = kill(Pid::from_raw(pid), Signal::SIGSTOP);
        }
        frozen.extend(fresh);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for pid in frozen {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// The processes descended from this one that still run (zombies are not counted).
#[cfg(target_os = "linux")]
fn descendants() -> Vec<i32> {
    let parents: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid …`: the name may hold spaces and parentheses.
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let running = fields.next()? != "Z";
            let ppid = fields.next()?.parse().ok()?;
            Some((pid, ppid)).filter(|_| running)
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
    family.split_off(1)
}

#[cfg(not(target_os = "linux"))]
pub fn end_children() {}
