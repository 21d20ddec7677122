//! Offline input: a bundle directory of JSON/YAML documents, or one file holding them (a JSON
//! array, a snapshot object with `documents`, or a single document).

use crate::facts::ingest::Document;
use serde_json::Value;
use std::path::Path;

/// What a bundle file or directory holds.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub documents: Vec<Document>,
    /// The `expect` list of a scenario, when present.
    pub expect: Option<Value>,
    /// The `source` block of a snapshot, when present.
    pub source: Option<Value>,
    /// Files that could not be read as documents: reported, skipped.
    pub problems: Vec<String>,
}

#[derive(Debug)]
pub struct BundleError(pub String);

impl std::fmt::Display for BundleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The default cap on one input file (`--max-input-mb`): far above any real `kubectl` output of
/// a large cluster, far below what would exhaust memory.
pub const DEFAULT_MAX_INPUT_MB: u64 = 512;

/// Reads a bundle directory or file with the default size cap.
pub fn read(path: &Path) -> Result<Bundle, BundleError> {
    read_limited(path, DEFAULT_MAX_INPUT_MB * 1024 * 1024)
}

/// Reads a bundle directory or file; no file larger than `limit` bytes is read. Only an
/// unreadable path is an error; bad content is a problem in the bundle, and every entry of a
/// directory that is not read is listed as one.
pub fn read_limited(path: &Path, limit: u64) -> Result<Bundle, BundleError> {
    let mut sink = Sink::Keep(Vec::new());
    let mut bundle = read_into(path, limit, &mut sink)?;
    if let Sink::Keep(documents) = sink {
        bundle.documents = documents;
    }
    Ok(bundle)
}

/// [`read_limited`], handing each document to `each` as it is read instead of keeping it: a
/// large list is never held whole. The bundle returned holds the rest (problems, source).
pub fn read_each(
    path: &Path,
    limit: u64,
    each: &mut dyn FnMut(Document),
) -> Result<Bundle, BundleError> {
    read_into(path, limit, &mut Sink::Hand(each))
}

/// Where a bundle's documents go: kept, or handed on as they are read.
enum Sink<'a> {
    Keep(Vec<Document>),
    Hand(&'a mut dyn FnMut(Document)),
}

impl Sink<'_> {
    fn deliver(&mut self, document: Document) {
        match self {
            Sink::Keep(documents) => documents.push(document),
            Sink::Hand(each) => each(document),
        }
    }
}

fn read_into(path: &Path, limit: u64, sink: &mut Sink<'_>) -> Result<Bundle, BundleError> {
    // `-` is standard input, as kubectl's `-f -`.
    let path = if path == Path::new("-") {
        Path::new("/dev/stdin")
    } else {
        path
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| BundleError(format!("cannot read {}: {e}", path.display())))?;
    let mut bundle = Bundle::default();
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| BundleError(format!("cannot list {}: {e}", path.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for file in entries {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let skipped = match std::fs::metadata(&file) {
                _ if name.starts_with('.') => Some("a hidden file".to_string()),
                Err(e) => Some(format!("unreadable ({e})")),
                Ok(m) if m.is_dir() => {
                    Some("a directory (a bundle is one flat directory)".to_string())
                }
                Ok(m) if !m.is_file() => Some(format!("{}, not a file", file_kind(&m))),
                Ok(_) => None,
            };
            if let Some(why) = skipped {
                bundle.problems.push(format!("{name}: {why}; skipped"));
                continue;
            }
            if streamed(&mut bundle, &name, &file, limit, sink) {
                continue;
            }
            match read_text(&file, limit) {
                Ok(text) => add_text_into(&mut bundle, &name, &text, sink),
                Err(why) => bundle.problems.push(format!("{name}: {why}; skipped")),
            }
        }
    } else {
        let display = path.display();
        if !meta.is_file() && !is_pipe(&meta) {
            return Err(BundleError(format!(
                "{display} is {}, not a bundle file or directory",
                file_kind(&meta)
            )));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !streamed(&mut bundle, &name, path, limit, sink) {
            let text =
                read_text(path, limit).map_err(|why| BundleError(format!("{display}: {why}")))?;
            add_text_into(&mut bundle, &name, &text, sink);
        }
    }
    Ok(bundle)
}

/// A regular file of plain JSON, within the cap, read as it streams by (see
/// [`super::stream`]): checked whole first, so a truncated file gives nothing, as it would read
/// whole. False when the file is not such a file: it is then read as text.
fn streamed(bundle: &mut Bundle, name: &str, path: &Path, limit: u64, sink: &mut Sink<'_>) -> bool {
    use std::io::{BufRead, BufReader};
    let open = || std::fs::File::open(path).ok().map(BufReader::new);
    let plain_json = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= limit)
        && open().is_some_and(|mut reader| {
            let start = reader.fill_buf().map(<[u8]>::to_vec).unwrap_or_default();
            let first = start.iter().find(|b| !b.is_ascii_whitespace());
            matches!(first, Some(b'{' | b'['))
        })
        && open().is_some_and(|reader| {
            serde_json::from_reader::<_, serde::de::IgnoredAny>(reader).is_ok()
        });
    let Some(reader) = open().filter(|_| plain_json) else {
        return false;
    };
    let rest = super::stream::read(reader, &mut |value| {
        sink.deliver(Document {
            origin: name.to_string(),
            value,
        })
    });
    match rest {
        Ok(rest) => add_value(bundle, name, rest, sink),
        Err(e) => bundle.problems.push(format!("{name}: {e}; skipped")),
    }
    true
}

/// A small input file a command names (a kubeconfig, a policy, a plan): a file or a pipe, read
/// up to `limit` bytes — never a device that never ends (`/dev/zero`).
pub fn read_capped(path: &Path, limit: u64) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("unreadable ({e})"))?;
    if !meta.is_file() && !is_pipe(&meta) {
        return Err(format!("{}, not a file", file_kind(&meta)));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(format!("larger than {} KiB", limit / 1024));
    }
    read_text(path, limit).map_err(|e| e.replace(" (raise the cap with --max-input-mb)", ""))
}

/// Whether `path` is a pipe (what `<(…)` and `/dev/stdin` give).
pub fn is_pipe_path(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| is_pipe(&m))
}

#[cfg(unix)]
fn is_pipe(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_fifo()
}

#[cfg(not(unix))]
fn is_pipe(_: &std::fs::Metadata) -> bool {
    false
}

/// What a path that is neither a file nor a directory is, for the message.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_fifo() {
            return "a named pipe";
        }
    }
    let _ = meta;
    "a special file"
}

/// One file's text, at most `limit` bytes; UTF-16 with a byte-order mark (what PowerShell's `>`
/// writes) is decoded, a UTF-8 byte-order mark dropped.
fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("unreadable ({e})"))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("unreadable ({e})"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "larger than {} MiB (raise the cap with --max-input-mb)",
            limit / (1024 * 1024)
        ));
    }
    decode(bytes)
}

fn decode(bytes: Vec<u8>) -> Result<String, String> {
    let utf16 = |bytes: &[u8], from: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| from([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16(&units).map_err(|_| "not valid UTF-16 text".to_string())
    };
    match bytes.as_slice() {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).map_err(|_| "not UTF-8 text".to_string())
        }
        _ => String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string()),
    }
}

/// Parses one file's text (JSON, else YAML — one document or several, `---` between them) and
/// adds what it holds.
pub fn add_text(bundle: &mut Bundle, name: &str, text: &str) {
    let mut sink = Sink::Keep(std::mem::take(&mut bundle.documents));
    add_text_into(bundle, name, text, &mut sink);
    if let Sink::Keep(documents) = sink {
        bundle.documents = documents;
    }
}

fn add_text_into(bundle: &mut Bundle, name: &str, text: &str, sink: &mut Sink<'_>) {
    let several = || {
        serde_saphyr::from_multiple::<Value>(text)
            .ok()
            .map(|docs| {
                docs.into_iter()
                    .filter(|d| !d.is_null())
                    .collect::<Vec<_>>()
            })
            .filter(|docs| docs.len() > 1)
            .map(Value::Array)
    };
    let value = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(json_error) => match serde_saphyr::from_str::<Value>(text).ok().or_else(several) {
            Some(v) if !v.is_null() && !v.is_string() => v,
            _ => {
                bundle.problems.push(format!(
                    "{name}: neither JSON nor YAML ({json_error}); skipped"
                ));
                return;
            }
        },
    };
    add_value(bundle, name, value, sink);
}

fn add_value(bundle: &mut Bundle, name: &str, value: Value, sink: &mut Sink<'_>) {
    match value {
        Value::Array(items) => {
            for (i, value) in items.into_iter().enumerate() {
                sink.deliver(Document {
                    origin: format!("{name}[{i}]"),
                    value,
                });
            }
        }
        Value::Object(mut map) if map.contains_key("documents") || map.contains_key("expect") => {
            if let Some(expect) = map.remove("expect") {
                bundle.expect = Some(expect);
            }
            if let Some(source) = map.remove("source") {
                bundle.source = Some(source);
            }
            match map.remove("documents") {
                Some(docs @ Value::Array(_)) => add_value(bundle, name, docs, sink),
                Some(_) => bundle
                    .problems
                    .push(format!("{name}: documents is not a list; skipped")),
                None => {}
            }
        }
        other => sink.deliver(Document {
            origin: name.to_string(),
            value: other,
        }),
    }
}
