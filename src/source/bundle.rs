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

/// Reads a bundle directory or file. Only an unreadable path is an error; bad content is a
/// problem in the bundle.
pub fn read(path: &Path) -> Result<Bundle, BundleError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| BundleError(format!("cannot read {}: {e}", path.display())))?;
    let mut bundle = Bundle::default();
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| BundleError(format!("cannot list {}: {e}", path.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for file in entries {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            match std::fs::read_to_string(&file) {
                Ok(text) => add_text(&mut bundle, &name, &text),
                Err(e) => bundle
                    .problems
                    .push(format!("{name}: unreadable ({e}); skipped")),
            }
        }
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BundleError(format!("cannot read {}: {e}", path.display())))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        add_text(&mut bundle, &name, &text);
    }
    Ok(bundle)
}

/// Parses one file's text (JSON, else YAML) and adds what it holds.
pub fn add_text(bundle: &mut Bundle, name: &str, text: &str) {
    let value = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(json_error) => match serde_saphyr::from_str::<Value>(text) {
            Ok(v) if !v.is_null() && !v.is_string() => v,
            _ => {
                bundle.problems.push(format!(
                    "{name}: neither JSON nor YAML ({json_error}); skipped"
                ));
                return;
            }
        },
    };
    add_value(bundle, name, value);
}

fn add_value(bundle: &mut Bundle, name: &str, value: Value) {
    match value {
        Value::Array(items) => {
            for (i, value) in items.into_iter().enumerate() {
                bundle.documents.push(Document {
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
                Some(docs @ Value::Array(_)) => add_value(bundle, name, docs),
                Some(_) => bundle
                    .problems
                    .push(format!("{name}: documents is not a list; skipped")),
                None => {}
            }
        }
        other => bundle.documents.push(Document {
            origin: name.to_string(),
            value: other,
        }),
    }
}
