//! A plan file (`fix --plan-out`, or anyone's) read strictly: what it says is compared with a
//! fresh plan, never sent. JSON that two parsers could read two ways is refused before that —
//! duplicate keys (serde keeps the last, a person reading the file sees the first), unknown
//! fields, documents in any encoding but plain JSON.

use super::write_plan::{PLAN_SCHEMA, Plan};
use crate::iam::policy::PolicyDocument;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeSet;
use std::fmt;

/// The plan in `text`, or why it is refused.
pub fn parse(text: &str) -> Result<Plan, String> {
    no_duplicate_keys(text)?;
    let plan: Plan =
        serde_json::from_str(text).map_err(|e| format!("not a pulldoctor plan: {e}"))?;
    if plan.schema != PLAN_SCHEMA {
        return Err(format!("not a {PLAN_SCHEMA} plan"));
    }
    for write in &plan.writes {
        for document in [&write.before, &write.after].into_iter().flatten() {
            plain_document(document)?;
        }
    }
    Ok(plan)
}

/// A document is plain text (an annotation's value) or plain JSON without duplicate keys; an
/// encoded policy (URL-encoding, as IAM returns it) is refused.
fn plain_document(document: &str) -> Result<(), String> {
    let trimmed = document.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return no_duplicate_keys(document).map_err(|e| format!("a document of the plan: {e}"));
    }
    if PolicyDocument::from_text(document).is_ok() {
        return Err("a document of the plan is encoded (not plain JSON)".to_string());
    }
    Ok(())
}

/// Refuses JSON in which an object names a key twice, at any depth.
fn no_duplicate_keys(text: &str) -> Result<(), String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    de::Deserialize::deserialize(&mut deserializer)
        .and_then(|Unique| deserializer.end())
        .map_err(|e| format!("refused: {e}"))
}

/// Deserializes any JSON value, failing on a duplicate key.
struct Unique;

impl<'de> de::Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Unique, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut keys = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!("the key {key:?} appears twice")));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_key_at_any_depth_is_refused() {
        assert!(no_duplicate_keys(r#"{"a": {"b": 1, "c": [{"d": 1}]}}"#).is_ok());
        let twice = no_duplicate_keys(r#"{"a": [{"AWS": "*", "AWS": "arn"}]}"#).unwrap_err();
        assert!(twice.contains("\"AWS\" appears twice"), "{twice}");
        assert!(no_duplicate_keys(r#"{"a": 1} trailing"#).is_err());
    }

    #[test]
    fn an_encoded_policy_is_refused_and_plain_text_kept() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert!(plain_document(encoded).unwrap_err().contains("encoded"));
        assert!(plain_document("arn:aws:iam::111122223333:role/app").is_ok());
        assert!(plain_document(r#"{"Version": "2012-10-17", "Statement": []}"#).is_ok());
    }
}
