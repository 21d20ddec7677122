//! The blast radius as a list: the findings a broken entity stops, and the node groups it would.

use super::action::Screen;
use crate::report::Finding;

/// The findings failing for the same cause through `finding`'s broken entity (it among them),
/// and a line on the node groups whose role lacks the same permission.
pub fn screen(findings: &[Finding], finding: usize) -> Result<Screen, String> {
    let f = &findings[finding];
    let Some(radius) = &f.blast_radius else {
        return Err("no blast radius: nothing is broken in this chain".into());
    };
    let same: Vec<usize> = findings
        .iter()
        .enumerate()
        .filter(|(_, other)| {
            other.cause == f.cause
                && other
                    .blast_radius
                    .as_ref()
                    .is_some_and(|r| r.entity == radius.entity)
        })
        .map(|(i, _)| i)
        .collect();
    let cause = f.cause.map_or("the same cause", |c| c.as_str());
    let mut lines = vec![match same.len() {
        1 => format!("only this finding fails for {cause} through it"),
        n => format!("{n} findings fail for {cause} through it"),
    }];
    // Node groups are weighed for a missing permission only: say nothing of them otherwise.
    if !radius.node_groups.is_empty() {
        lines.push(format!(
            "the next pod on node group(s) {} fails too: their role lacks the same permission",
            radius.node_groups.join(", ")
        ));
    }
    Ok(Screen::Related {
        title: format!("blast radius of {}", radius.entity),
        lines,
        findings: same,
    })
}
