//! Text from a cluster or AWS is written by tenants: before it reaches a terminal or a file a
//! person reads, control and bidirectional characters are escaped visibly, and a value put into a
//! printed shell command is quoted. JSON output never passes through here: it stays exact.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters that reorder the text around them (the "Trojan Source" set).
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing yet change what text says or where it breaks: zero-width
/// spaces and joiners, the byte-order mark, line and paragraph separators, tag characters.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2028}' | '\u{2029}' | '\u{2060}'..='\u{2064}' | '\u{206A}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

fn escape_with(text: &str, keep: fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| (c.is_control() || is_bidi(c) || is_invisible(c)) && !keep(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// One line of hostile text: every control character (newlines too) and bidirectional mark is
/// written as an escape, so it cannot move the cursor, retitle the terminal or fake a line.
pub fn escape_line(text: &str) -> Cow<'_, str> {
    escape_with(text, |_| false)
}

/// A block of hostile text (a document, a diff): newlines and tabs stay, the rest is escaped.
pub fn escape_block(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| c == '\n' || c == '\t')
}

/// A value for a printed shell command: as it is when it needs no quoting, else single-quoted.
/// A NUL cannot be quoted; it is shown escaped (the command is then visibly wrong, not silently).
pub fn shell_quote(value: &str) -> Cow<'_, str> {
    match shlex::try_quote(value) {
        Ok(quoted) => quoted,
        Err(_) => Cow::Owned(format!("'{}'", escape_line(value).replace('\'', "'\\''"))),
    }
}

/// [`shell_quote`] of any value a printed command names: every interpolation into a command
/// goes through it.
pub fn shell_arg<T: std::fmt::Display + ?Sized>(value: &T) -> String {
    shell_quote(&value.to_string()).into_owned()
}

/// The candidate a typo away from `wanted` (at most two edits, and fewer than a third of its
/// length): for "did you mean …?". The closest wins; of equals, the first in sorted order.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 2.min(wanted.chars().count().saturating_sub(1) / 3).max(1);
    let mut near: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != wanted)
        // A swap of two letters (shpo for shop) is one typo, as a person counts.
        .map(|c| (strsim::osa_distance(wanted, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    near.sort();
    near.first().map(|(_, c)| *c)
}

/// "1 pod", "2 pods".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A summary made a sentence, so that the next one does not run on from it.
pub fn sentence(text: &str) -> String {
    let text = text.trim_end();
    match text.chars().last() {
        Some('.' | '!' | '?' | ':') | None => text.to_string(),
        Some(_) => format!("{text}."),
    }
}

/// An age as kubectl prints it: `45s`, `3m`, `5h`, `2d` (`-` before its time).
pub fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 0 => "-".to_string(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_typo_away_is_near_and_a_different_name_is_not() {
        use super::nearest;
        assert_eq!(
            nearest("shop/serch", ["shop/search", "shop/cart"]),
            Some("shop/search")
        );
        assert_eq!(nearest("1.O", ["1.0", "2.0"]), Some("1.0"));
        assert_eq!(nearest("web", ["api", "cart"]), None);
        assert_eq!(nearest("v1", ["v2"]), Some("v2"));
        assert_eq!(nearest("same", ["same"]), None);
        assert_eq!(nearest("shpo", ["shop", "platform"]), Some("shop"));
        assert_eq!(
            super::sentence("layers come from S3"),
            "layers come from S3."
        );
        assert_eq!(super::sentence("done."), "done.");
    }

    use super::*;

    #[test]
    fn escapes_what_steers_a_terminal() {
        let cases = [
            ("plain text", "plain text"),
            ("\u{1b}]0;owned\u{7}", "\\u{1b}]0;owned\\u{7}"),
            ("\u{1b}[2J", "\\u{1b}[2J"),
            ("two\nlines", "two\\nlines"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("c1 \u{9b}31m", "c1 \\u{9b}31m"),
            ("ünïcode ✓", "ünïcode ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(escape_line(input), want, "{input:?}");
        }
        assert_eq!(escape_block("a\n\tb\u{1b}c"), "a\n\tb\\u{1b}c");
    }

    #[test]
    fn quotes_what_a_shell_would_read() {
        let cases = [
            ("web", "web"),
            ("shop/web", "shop/web"),
            ("arn:aws:iam::1:role/x", "arn:aws:iam::1:role/x"),
            ("a b", "'a b'"),
            ("x;rm -rf ~", "'x;rm -rf ~'"),
            ("$(id)", "'$(id)'"),
            ("it's", "\"it's\""),
        ];
        for (input, want) in cases {
            assert_eq!(shell_quote(input), want, "{input:?}");
        }
        assert!(!shell_quote("a\0b").contains('\0'));
    }
}
