//! Where facts come from: offline bundles and snapshots, and the embedded demo.

pub mod bundle;
pub mod demo;
pub mod live;
pub mod redact;

use crate::facts::{Facts, SourceInfo, ingest};
use bundle::Bundle;

/// Facts from a live collection.
pub fn facts_from_collected(collected: &live::Collected) -> Facts {
    let mut facts = ingest::ingest(&collected.documents);
    facts.source = collected.source.clone();
    facts
}

/// Facts from a bundle, with the bundle's own problems reported beside the documents'.
pub fn facts_from_bundle(bundle: &Bundle, kind: &str) -> Facts {
    let mut facts = ingest::ingest(&bundle.documents);
    let mut problems = bundle.problems.clone();
    problems.append(&mut facts.problems);
    facts.problems = problems;
    let recorded: SourceInfo = bundle
        .source
        .as_ref()
        .map(|s| SourceInfo {
            kind: String::new(),
            context: s["context"].as_str().map(str::to_string),
            cluster: s["cluster"].as_str().map(str::to_string),
            region: s["region"].as_str().map(str::to_string),
            account: s["account"].as_str().map(str::to_string),
            captured_at: s["capturedAt"].as_str().map(str::to_string),
        })
        .unwrap_or_default();
    facts.source = SourceInfo {
        kind: kind.to_string(),
        ..recorded
    };
    facts
}
