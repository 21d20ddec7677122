//! A finding as Markdown, to paste into an incident ticket or a chat: the verdict, the chain as a
//! short list with the broken link marked, its evidence, and the fix's commands in code blocks.
//! Cluster and AWS text is hostile here too: control characters are escaped visibly, Markdown's
//! own characters are escaped in prose, and code spans and blocks get fences longer than any run
//! of backticks inside them.

use super::{Finding, Lane, Report, Status};
use crate::text::{escape_block, escape_line};
use std::fmt::Write;

/// Every finding of the report, one section each.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let source = &report.source;
    let _ = writeln!(
        out,
        "## pulldoctor: {} finding(s) [{}{}]\n",
        report.findings.len(),
        prose(&source.kind),
        source
            .cluster
            .as_deref()
            .map(|c| format!(", cluster {}", prose(c)))
            .unwrap_or_default()
    );
    for finding in &report.findings {
        out.push_str(&finding_markdown(finding));
        out.push('\n');
    }
    out
}

/// One finding.
pub fn finding_markdown(f: &Finding) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {} {} {} (container {})\n",
        mark(f.verdict),
        f.verdict.as_str(),
        code(&f.subject()),
        code(&f.container)
    );
    let headline = match (f.broken_link, f.cause) {
        (Some(link), Some(cause)) => format!("**{}: {}** — ", link.as_str(), cause.as_str()),
        _ => String::new(),
    };
    let _ = writeln!(out, "{headline}{}\n", prose(&f.summary));
    let _ = writeln!(out, "- image: {} ({})", code(&f.image), prose(&f.state));
    if let Some(arn) = &f.pull_identity.arn {
        let _ = writeln!(out, "- pulls as: {}", code(arn));
    }
    if let Some(line) = f.blast_radius.as_ref().and_then(super::BlastRadius::line) {
        let _ = writeln!(out, "- blast radius: {}", prose(&line));
    }
    // Each lane on one line, the broken link in bold; then its evidence.
    let _ = writeln!(out, "\nchain:");
    for (title, identity) in [("pull", false), ("app identity", true)] {
        let links: Vec<String> = f
            .links
            .iter()
            .filter(|l| l.status != Status::Skipped && (l.lane == Lane::Identity) == identity)
            .map(|l| match Some(l.id) == f.broken_link {
                true => format!("**{} {}**", mark(l.status), l.id.as_str()),
                false => format!("{} {}", mark(l.status), l.id.as_str()),
            })
            .collect();
        if !links.is_empty() {
            let _ = writeln!(out, "- {title}: {}", links.join(" → "));
        }
    }
    if let Some(link) = f.links.iter().find(|l| Some(l.id) == f.broken_link) {
        let _ = writeln!(out, "- evidence ({}):", link.id.as_str());
        for evidence in &link.evidence {
            let _ = writeln!(out, "  - {}", prose(evidence));
        }
    }
    if let Some(fix) = f.fixes.first() {
        let _ = writeln!(out, "\nfix: {}\n", prose(&fix.title));
        for (i, step) in fix.steps.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, prose(&step.explain));
            if let Some(script) = step.script() {
                out.push_str(&block("sh", &script));
            }
            // A document the here-document above writes is not shown twice.
            let written = step.script() != step.command;
            if let Some(diff) = &step.diff {
                out.push_str(&block("diff", diff));
            } else if let (Some(document), None, false) = (&step.document, &step.apply, written) {
                // A snippet to use as it is (Terraform), not a change pulldoctor makes.
                out.push_str(&block("", document));
            }
        }
    }
    out
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Ok => "✓",
        Status::Broken => "✗",
        Status::Unknown => "?",
        Status::Warning => "!",
        Status::Skipped => "·",
    }
}

/// Text with Markdown's characters escaped, on one line: no emphasis, link, HTML, table or
/// heading of a tenant's, no `@mention` that pings, no `$…$` math, no bare URL made a link.
fn prose(text: &str) -> String {
    let mut out = String::new();
    for c in escape_line(text).chars() {
        if "\\`*_[]<>#|~@$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    // A URL's `://` and `www.` are what make GitHub link it.
    out.replace("://", ":\\/\\/").replace("www.", "www\\.")
}

/// A code span whose fence no backtick inside can close.
fn code(text: &str) -> String {
    let text = escape_line(text);
    let fence = "`".repeat(longest_backtick_run(&text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A fenced code block, indented under a list item.
fn block(language: &str, text: &str) -> String {
    let text = escape_block(text);
    let fence = "`".repeat((longest_backtick_run(&text) + 1).max(3));
    let mut out = format!("   {fence}{language}\n");
    for line in text.lines() {
        let _ = writeln!(out, "   {line}");
    }
    let _ = writeln!(out, "   {fence}");
    out
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_break_out_of_its_place() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(
            prose("**bold** [link](x) <b>"),
            "\\*\\*bold\\*\\* \\[link\\](x) \\<b\\>"
        );
        let fenced = block("sh", "echo ```\nrm");
        assert!(fenced.starts_with("   ````sh\n"), "{fenced}");
        assert!(fenced.ends_with("   ````\n"), "{fenced}");
        // Control characters are shown, not passed through.
        assert!(!prose("a\u{1b}[31mred").contains('\u{1b}'));
        // No mention, math, link or invisible character of a tenant's survives.
        assert_eq!(
            prose("@oncall $x$ https://evil.example www.evil.example"),
            "\\@oncall \\$x\\$ https:\\/\\/evil.example www\\.evil.example"
        );
        for invisible in ['\u{200b}', '\u{feff}', '\u{2028}', '\u{e0041}'] {
            let shown = prose(&format!("a{invisible}b"));
            assert!(!shown.contains(invisible), "{shown}");
            assert!(shown.contains("\\u{"), "{shown}");
        }
    }
}
