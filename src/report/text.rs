//! The report as text a person grasps in ten seconds: per finding the verdict, the chain with
//! the broken link marked, and the fix.

use super::{Finding, Lane, Report, Status};
use std::fmt::Write;

/// A status as a glyph plus a word, so it reads without colour.
pub fn marker(status: Status) -> &'static str {
    match status {
        Status::Ok => "✓ ok",
        Status::Skipped => "· skipped",
        Status::Warning => "! warning",
        Status::Unknown => "? unknown",
        Status::Broken => "✗ BROKEN",
    }
}

/// The report as text, written finding by finding: 20,000 findings are never one string, nor
/// one escaped copy of the report (each finding is escaped as it is written).
pub fn write(out: &mut impl std::io::Write, report: &Report) -> std::io::Result<()> {
    use crate::text::escape_line;
    let mut head = String::new();
    let count = |s: Status| report.findings.iter().filter(|f| f.verdict == s).count();
    let source = &report.source;
    let _ = writeln!(
        head,
        "pulldoctor — {} finding{}: {} broken, {} unknown, {} warning, {} ok  [{}{}{}]",
        report.findings.len(),
        if report.findings.len() == 1 { "" } else { "s" },
        count(Status::Broken),
        count(Status::Unknown),
        count(Status::Warning),
        count(Status::Ok),
        escape_line(&source.kind),
        source
            .cluster
            .as_deref()
            .map(|c| format!(", cluster {}", escape_line(c)))
            .unwrap_or_default(),
        source
            .region
            .as_deref()
            .map(|r| format!(", {}", escape_line(r)))
            .unwrap_or_default(),
    );
    if report.findings.is_empty() {
        let _ = writeln!(
            head,
            "\nNo pod is failing to pull an image. Use --all to check the identity chain of running pods too."
        );
    }
    out.write_all(head.as_bytes())?;
    let mut text = String::new();
    for finding in &report.findings {
        text.clear();
        text.push('\n');
        render_finding(&mut text, finding);
        out.write_all(text.as_bytes())?;
    }
    if !report.problems.is_empty() {
        text.clear();
        let _ = writeln!(text, "\nInput skipped:");
        for p in &report.problems {
            let _ = writeln!(text, "  - {}", escape_line(p));
        }
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

pub fn render_finding(out: &mut String, f: &Finding) {
    let f = &f.escaped();
    let _ = writeln!(
        out,
        "{}  {}  container {}",
        marker(f.verdict),
        f.subject(),
        f.container
    );
    let _ = writeln!(out, "  image    {}  ({})", f.image, f.state);
    if let (Some(link), Some(cause)) = (f.broken_link, f.cause) {
        let _ = writeln!(out, "  broken   {link}: {cause}");
    }
    let _ = writeln!(out, "  why      {}", f.summary);
    let pulls = match (&f.pull_identity.arn, f.pull_identity.candidates.is_empty()) {
        (Some(arn), _) => arn.clone(),
        (None, false) => format!("one of {}", f.pull_identity.candidates.join(", ")),
        (None, true) => "unknown".to_string(),
    };
    let kind = match f.pull_identity.kind {
        super::PullIdentityKind::NodeRole => "node role ",
        super::PullIdentityKind::FargateRole => "Fargate pod execution role ",
        super::PullIdentityKind::ServiceAccountRole => "ecr-role-arn role ",
        super::PullIdentityKind::Unknown => "",
    };
    let _ = writeln!(out, "  pulls as {kind}{pulls}");
    if let Some(line) = f.blast_radius.as_ref().and_then(super::BlastRadius::line) {
        let _ = writeln!(out, "  radius   {line}");
    }
    let mut lane = Lane::Both;
    for link in &f.links {
        if link.lane != lane {
            lane = link.lane;
            let title = match lane {
                Lane::Identity => "identity lane (the app's own AWS identity — not used to pull)",
                _ => "pull lane (what the kubelet pulls with)",
            };
            let _ = writeln!(out, "  {title}");
        }
        let pointer = if Some(link.id) == f.broken_link {
            "▶"
        } else {
            " "
        };
        let _ = writeln!(
            out,
            "   {pointer} {:<10} {:<20} {}",
            marker(link.status),
            link.id.as_str(),
            link.summary
        );
        if Some(link.id) == f.broken_link || link.status == Status::Warning {
            for e in &link.evidence {
                let _ = writeln!(out, "                                   {e}");
            }
            if !link.path.is_empty() {
                let path = super::path_line(&link.path);
                let _ = writeln!(out, "                                   path: {path}");
            }
        }
    }
    for fix in &f.fixes {
        let _ = writeln!(
            out,
            "  fix: {}{}",
            fix.title,
            if fix.writes { "" } else { " (guided)" }
        );
        for step in &fix.steps {
            let _ = writeln!(out, "     {}", step.explain);
            if let Some(script) = step.script() {
                for (i, line) in script.lines().enumerate() {
                    let prompt = if i == 0 { "$ " } else { "  " };
                    let _ = writeln!(out, "     {prompt}{line}");
                }
            }
            // A new document is printed once, by the here-document above; a change, as its diff.
            let written = step.current.is_none() && step.script() != step.command;
            if written {
            } else if let Some(diff) = &step.diff {
                for line in diff.lines() {
                    let _ = writeln!(out, "       {line}");
                }
            } else if let (Some(document), None) = (&step.document, &step.apply) {
                for line in document.lines() {
                    let _ = writeln!(out, "       {line}");
                }
            }
        }
    }
}
