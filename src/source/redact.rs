//! `snapshot --redact`: account ids, the cluster name, the OIDC issuer id, role names and
//! repository names replaced consistently, so the snapshot still diagnoses the same and can go
//! into a ticket.

use serde_json::Value;
use std::collections::BTreeMap;

/// The replacements for one snapshot: each sensitive token and what stands in its place.
pub struct Redactor {
    map: BTreeMap<String, String>,
}

impl Redactor {
    /// Learns the tokens from the documents.
    pub fn new(documents: &[Value]) -> Redactor {
        let mut map = BTreeMap::new();
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        let mut add = |token: &str, kind: &'static str, map: &mut BTreeMap<String, String>| {
            if token.len() >= 3 && !map.contains_key(token) {
                let n = counts.entry(kind).or_default();
                *n += 1;
                let replacement = if kind == "account" {
                    format!("{:012}", 900_000_000_000u64 + *n)
                } else {
                    format!("{kind}-{n}")
                };
                map.insert(token.to_string(), replacement);
            }
        };
        let mut strings = Vec::new();
        for d in documents {
            collect_strings(d, &mut strings);
        }
        for s in &strings {
            for account in twelve_digit_runs(s) {
                add(&account, "account", &mut map);
            }
        }
        for d in documents {
            if let Some(name) = d["cluster"]["name"].as_str() {
                add(name, "cluster", &mut map);
            }
            if let Some(issuer) = d["cluster"]["identity"]["oidc"]["issuer"].as_str()
                && let Some(id) = issuer.rsplit('/').next()
            {
                add(id, "issuer", &mut map);
            }
            for role in d["RoleDetailList"].as_array().into_iter().flatten() {
                if let Some(name) = role["RoleName"].as_str() {
                    add(name, "role", &mut map);
                }
            }
            for repo in d["repositories"].as_array().into_iter().flatten() {
                if let Some(name) = repo["repositoryName"].as_str() {
                    add(name, "repository", &mut map);
                }
            }
        }
        Redactor { map }
    }

    /// Replaces every token in every string of the documents.
    pub fn apply(&self, documents: &mut [Value]) {
        for d in documents {
            self.value(d);
        }
    }

    fn value(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.value(i)),
            _ => {}
        }
    }

    /// A string with its tokens replaced where they stand alone (not inside a longer name).
    /// URL-encoded policy documents are decoded first, so their contents are redacted too.
    pub fn text(&self, s: &str) -> String {
        let decoded;
        let s = if s.starts_with("%7B") {
            decoded = percent_encoding::percent_decode_str(&s.replace('+', "%20"))
                .decode_utf8_lossy()
                .into_owned();
            decoded.as_str()
        } else {
            s
        };
        let mut out = s.to_string();
        // Longest tokens first, so `shop/web` goes before `web`.
        let mut tokens: Vec<(&String, &String)> = self.map.iter().collect();
        tokens.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        for (token, replacement) in tokens {
            out = replace_standalone(&out, token, replacement);
        }
        out
    }
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

fn twelve_digit_runs(s: &str) -> Vec<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in bytes.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                if i - st == 12 {
                    out.push(s[st..i].to_string());
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn replace_standalone(text: &str, token: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(token) {
        let before = rest[..pos].chars().next_back();
        let after = rest[pos + token.len()..].chars().next();
        out.push_str(&rest[..pos]);
        if before.is_some_and(is_name_char) || after.is_some_and(is_name_char) {
            out.push_str(token);
        } else {
            out.push_str(replacement);
        }
        rest = &rest[pos + token.len()..];
    }
    out.push_str(rest);
    out
}

/// Redacts a snapshot object (its documents and its source block) in place.
pub fn redact_snapshot(snapshot: &mut Value) {
    let documents = snapshot["documents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let redactor = Redactor::new(&documents);
    if let Some(list) = snapshot["documents"].as_array_mut() {
        redactor.apply(list);
    }
    redactor.value(&mut snapshot["source"]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replaces_consistently_and_only_whole_names() {
        let docs = vec![
            json!({"cluster": {"name": "prod", "arn": "arn:aws:eks:us-east-1:111122223333:cluster/prod"}}),
            json!({"RoleDetailList": [{"RoleName": "web", "Arn": "arn:aws:iam::111122223333:role/web"}]}),
            json!({"image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/web:1", "note": "webhook of production"}),
        ];
        let r = Redactor::new(&docs);
        let mut out = docs.clone();
        r.apply(&mut out);
        let text = serde_json::to_string(&out).unwrap();
        assert!(!text.contains("111122223333"));
        assert!(
            text.contains("arn:aws:iam::900000000001:role/role-1"),
            "{text}"
        );
        assert!(
            text.contains("900000000001.dkr.ecr.us-east-1.amazonaws.com/role-1:1"),
            "{text}"
        );
        assert!(
            text.contains("webhook of production"),
            "names inside words stay: {text}"
        );
        assert!(text.contains("cluster/cluster-1"), "{text}");
    }
}
