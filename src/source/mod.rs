//! Where facts come from: offline bundles and snapshots, and the embedded demo.

pub mod bundle;
pub mod demo;
pub mod live;
pub mod redact;
pub mod remote;
pub mod stream;

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
    facts_from_owned_bundle(bundle.clone(), kind)
}

/// [`facts_from_bundle`], consuming the bundle: its documents are dropped as they are read.
pub fn facts_from_owned_bundle(mut bundle: Bundle, kind: &str) -> Facts {
    let documents = std::mem::take(&mut bundle.documents);
    with_bundle_source(ingest::ingest_owned(documents), bundle, kind)
}

/// The facts of a bundle directory or file (`--from`), each document read into them as it is
/// parsed: a large input is never held whole, as JSON and as facts at once.
pub fn facts_from_path(
    path: &std::path::Path,
    limit: u64,
    kind: &str,
) -> Result<Facts, bundle::BundleError> {
    let mut ingester = ingest::Ingester::default();
    let rest = bundle::read_each(path, limit, &mut |document| {
        ingester.add(&document.origin, std::borrow::Cow::Owned(document.value))
    })?;
    Ok(with_bundle_source(ingester.finish(), rest, kind))
}

/// The bundle's own problems beside the documents', and its recorded source.
fn with_bundle_source(mut facts: Facts, bundle: Bundle, kind: &str) -> Facts {
    let Bundle {
        problems: bundle_problems,
        source,
        ..
    } = bundle;
    let mut problems = bundle_problems;
    problems.append(&mut facts.problems);
    facts.problems = problems;
    let recorded: SourceInfo = source
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
