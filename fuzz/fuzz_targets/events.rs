//! Any string as a kubelet event message: classified, and escaped for a terminal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = pulldoctor::chain::events::classify(text);
        let escaped = pulldoctor::text::escape_line(text);
        assert!(!escaped.chars().any(char::is_control));
    }
});
