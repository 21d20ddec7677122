//! IAM policy documents as AWS writes them: a statement or a list of them, strings or lists of
//! strings, principals as `"*"` or a map, conditions as operator → key → value(s).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A policy document. Documents arrive as JSON objects (AWS CLI) or URL-encoded JSON strings
/// (raw API answers); [`PolicyDocument::from_value`] accepts both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(rename = "Id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "Statement", deserialize_with = "one_or_many")]
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "Effect")]
    pub effect: Effect,
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(
        rename = "NotPrincipal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_principal: Option<Principal>,
    #[serde(
        rename = "Action",
        default,
        deserialize_with = "opt_strings",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<Strings>,
    #[serde(
        rename = "NotAction",
        default,
        deserialize_with = "opt_strings",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_action: Option<Strings>,
    #[serde(
        rename = "Resource",
        default,
        deserialize_with = "opt_strings",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource: Option<Strings>,
    #[serde(
        rename = "NotResource",
        default,
        deserialize_with = "opt_strings",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_resource: Option<Strings>,
    /// operator (e.g. `StringEquals`, `ForAnyValue:StringLike`) → condition key → values.
    #[serde(
        rename = "Condition",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub condition: BTreeMap<String, BTreeMap<String, Strings>>,
}

/// A string or a list of strings; kept in the form it arrived in so that a proposed document
/// differs from the current one only where the fix changes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Strings {
    One(String),
    Many(Vec<String>),
}

impl Strings {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Strings::One(s) => std::slice::from_ref(s),
            Strings::Many(v) => v,
        };
        slice.iter().map(String::as_str)
    }

    pub fn contains(&self, value: &str) -> bool {
        self.iter().any(|v| v == value)
    }

    /// Adds a value, turning a single string into a list.
    pub fn push(&mut self, value: &str) {
        if self.contains(value) {
            return;
        }
        match self {
            Strings::One(s) => *self = Strings::Many(vec![s.clone(), value.to_string()]),
            Strings::Many(v) => v.push(value.to_string()),
        }
    }
}

/// `"Principal": "*"` or `{"AWS": …, "Service": …, "Federated": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Principal {
    Any(String),
    Map(BTreeMap<String, Strings>),
}

impl Principal {
    /// The values given for one principal type (`AWS`, `Service`, `Federated`).
    pub fn values(&self, kind: &str) -> Vec<&str> {
        match self {
            Principal::Any(_) => vec![],
            Principal::Map(m) => m.get(kind).map(|s| s.iter().collect()).unwrap_or_default(),
        }
    }

    pub fn is_wildcard(&self) -> bool {
        match self {
            Principal::Any(s) => s == "*",
            Principal::Map(m) => m.get("AWS").is_some_and(|s| s.contains("*")),
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Statement>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Box<Statement>),
        Many(Vec<Statement>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![*s],
        OneOrMany::Many(v) => v,
    })
}

fn opt_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Strings>, D::Error> {
    Option::<Strings>::deserialize(d)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyParseError(pub String);

impl std::fmt::Display for PolicyParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PolicyDocument {
    /// Parses a document given as a JSON object, a JSON string, or a URL-encoded JSON string.
    pub fn from_value(value: &Value) -> Result<Self, PolicyParseError> {
        match value {
            Value::String(text) => Self::from_text(text),
            other => serde_json::from_value(other.clone())
                .map_err(|e| PolicyParseError(format!("not an IAM policy document: {e}"))),
        }
    }

    pub fn from_text(text: &str) -> Result<Self, PolicyParseError> {
        let trimmed = text.trim_start();
        let decoded;
        let json = if trimmed.starts_with('{') {
            text
        } else {
            // Form encoding writes a space as `+`; a literal plus arrives as `%2B`.
            let spaced = text.replace('+', "%20");
            decoded = percent_encoding::percent_decode_str(&spaced)
                .decode_utf8()
                .map_err(|e| PolicyParseError(format!("policy text is not UTF-8: {e}")))?
                .into_owned();
            decoded.as_str()
        };
        serde_json::from_str(json)
            .map_err(|e| PolicyParseError(format!("not an IAM policy document: {e}")))
    }

    /// The document as AWS CLI users write it, two-space indented.
    pub fn to_pretty_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// A short name for statement `index`, for evidence lines.
    pub fn statement_label(&self, index: usize) -> String {
        match &self.statements[index].sid {
            Some(sid) if !sid.is_empty() => format!("statement {} (Sid \"{sid}\")", index + 1),
            _ => format!("statement {}", index + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_object_string_and_url_encoded_forms() {
        let object = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
        });
        let from_object = PolicyDocument::from_value(&object).unwrap();
        assert_eq!(from_object.statements.len(), 1);
        let text = object.to_string();
        assert_eq!(PolicyDocument::from_text(&text).unwrap(), from_object);
        let encoded: String =
            percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(
            PolicyDocument::from_value(&Value::String(encoded)).unwrap(),
            from_object
        );
    }

    #[test]
    fn rejects_documents_without_statements() {
        assert!(PolicyDocument::from_text("{\"Version\":\"2012-10-17\"}").is_err());
        assert!(PolicyDocument::from_text("%7B%7D").is_err());
        assert!(PolicyDocument::from_text("not json").is_err());
    }

    #[test]
    fn strings_push_turns_one_into_many_and_skips_duplicates() {
        let mut s = Strings::One("a".into());
        s.push("a");
        assert_eq!(s, Strings::One("a".into()));
        s.push("b");
        assert_eq!(s, Strings::Many(vec!["a".into(), "b".into()]));
    }
}
