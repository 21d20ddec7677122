//! Any bytes as a bundle file: read (JSON, YAML, UTF-16), ingested, diagnosed, rendered.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::source::{self, bundle};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut b = bundle::Bundle::default();
    bundle::add_text(&mut b, "fuzz", text);
    let facts = source::facts_from_bundle(&b, "bundle");
    let report = diagnose(
        &facts,
        &Selection {
            all: true,
            ..Default::default()
        },
    );
    let _ = pulldoctor::report::text::render(&report);
});
