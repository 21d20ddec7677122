//! JSON read as it streams by: a Kubernetes list's items are handed on one at a time as they are
//! parsed, so a `kubectl get pods -A -o json` of 100,000 pods is never one tree in memory. Each
//! item is a document of its own; the list itself follows, holding only the items that named no
//! kind of their own (a typed list's, read once its kind is known) and how many it handed on.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

use crate::facts::ingest::STREAMED_ITEMS;

/// Reads one JSON value from `reader`: the items of a list (at the top, in a top-level array, or
/// in a snapshot's `documents`) go to `emit` as they are parsed; what remains is returned.
pub fn read(
    reader: impl std::io::Read,
    emit: &mut dyn FnMut(Value),
) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let value = Level { emit, top: true }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A value at the top (`top`) or one level below it (a document of an array or of `documents`).
struct Level<'a> {
    emit: &'a mut dyn FnMut(Value),
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    /// A top-level array: each element a document, handed on as it is read.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if !self.top {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<Value>()? {
                items.push(item);
            }
            return Ok(Value::Array(items));
        }
        while let Some(document) = seq.next_element_seed(Level {
            emit: &mut *self.emit,
            top: false,
        })? {
            (self.emit)(document);
        }
        Ok(Value::Array(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        let mut streamed = 0u64;
        while let Some(key) = map.next_key::<String>()? {
            let value = match key.as_str() {
                "items" => {
                    let (kept, handed) = map.next_value_seed(Items {
                        emit: &mut *self.emit,
                    })?;
                    streamed += handed;
                    Value::Array(kept)
                }
                "documents" if self.top => map.next_value_seed(Level {
                    emit: &mut *self.emit,
                    top: true,
                })?,
                _ => map.next_value::<Value>()?,
            };
            // As serde_json's own `Value`: a key given twice keeps its last value.
            object.insert(key, value);
        }
        if streamed > 0 {
            object.insert(STREAMED_ITEMS.to_string(), Value::from(streamed));
        }
        Ok(Value::Object(object))
    }
}

/// A list's items: those that name their kind handed on; the others kept for the list.
struct Items<'a> {
    emit: &'a mut dyn FnMut(Value),
}

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = (Vec<Value>, u64);
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = (Vec<Value>, u64);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list's items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut kept, mut handed) = (Vec::new(), 0);
        while let Some(item) = seq.next_element::<Value>()? {
            let whole = item.get("kind").is_some() && item.get("apiVersion").is_some();
            if whole {
                (self.emit)(item);
                handed += 1;
            } else {
                kept.push(item);
            }
        }
        Ok((kept, handed))
    }

    // `items` that is not an array stays what it is, for the list to say so.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok((vec![value], 0))
    }
}

use serde::Deserialize as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(text: &str) -> (Value, Vec<Value>) {
        let mut out = Vec::new();
        let rest = read(text.as_bytes(), &mut |v| out.push(v)).unwrap_or(Value::Null);
        (rest, out)
    }

    #[test]
    fn a_lists_items_are_handed_on_and_the_list_says_how_many() {
        let (rest, items) = streamed(
            r#"{"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}, {"metadata": {"name": "b"}}], "kind": "List"}"#,
        );
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["metadata"]["name"], "a");
        assert_eq!(rest["kind"], "List");
        assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(rest[STREAMED_ITEMS], 1);
    }

    #[test]
    fn documents_of_a_snapshot_and_of_an_array_are_handed_on() {
        let (rest, docs) = streamed(
            r#"{"source": {"kind": "live"}, "documents": [{"Account": "1"}, {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod"}]}]}"#,
        );
        assert_eq!(rest["source"]["kind"], "live");
        assert_eq!(rest["documents"], Value::Array(vec![]));
        // The pod first (as it was parsed), then each document.
        assert_eq!(docs.len(), 3, "{docs:?}");
        let (_, docs) = streamed(r#"[{"Account": "1"}, {"Account": "2"}]"#);
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn trailing_text_is_an_error() {
        let mut sink = |_| {};
        assert!(read(r#"{"a": 1} {"#.as_bytes(), &mut sink).is_err());
    }
}
