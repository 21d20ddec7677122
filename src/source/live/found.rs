//! What the stages of a live read found, gathered: AWS documents, Kubernetes objects and how
//! each lookup ended — merged as lookups end, put in a stable order, turned into documents.

use super::Gaps;
use crate::facts::ingest::Document;
use serde::Serialize;
use serde_json::{Value, json};

/// What stages found: AWS documents, Kubernetes objects (for one `List`), and how lookups ended.
#[derive(Default, Clone)]
pub(super) struct Found {
    pub documents: Vec<Value>,
    pub items: Vec<Value>,
    pub gaps: Gaps,
}

impl Found {
    pub fn push_document(&mut self, shape: &impl Serialize) {
        self.documents
            .push(serde_json::to_value(shape).unwrap_or_default());
    }

    pub fn item(&mut self, object: &impl Serialize) {
        let value = serde_json::to_value(object).unwrap_or_default();
        self.items.push(super::kept::for_diagnosis(value));
    }

    /// The documents of a read: the AWS documents, then one `List` of the Kubernetes objects,
    /// then how each lookup ended; and the problems met.
    pub fn into_documents(self, origin: &str) -> (Vec<Document>, Vec<String>) {
        let Found {
            mut documents,
            items,
            gaps,
        } = self;
        documents.push(json!({"apiVersion": "v1", "kind": "List", "items": items}));
        documents.extend(gaps.documents);
        let documents = documents
            .into_iter()
            .enumerate()
            .map(|(i, value)| Document {
                origin: format!("{origin}[{i}]"),
                value,
            })
            .collect();
        (documents, gaps.problems)
    }

    pub fn merge(&mut self, other: Found) {
        self.documents.extend(other.documents);
        self.items.extend(other.items);
        self.gaps.merge(other.gaps);
    }

    /// Lookups end in whatever order the network answers: sorted, the same read gives the same
    /// documents.
    pub fn in_stable_order(&mut self) {
        sort_values(&mut self.documents);
        // Kubernetes objects are told apart by kind, namespace and name: sorted by those, not by
        // their whole text (ten thousand pods).
        let key = |o: &Value| {
            let meta = &o["metadata"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&o["kind"]),
                text(&meta["namespace"]),
                text(&meta["name"]),
            )
        };
        self.items.sort_by_cached_key(key);
        self.gaps.in_stable_order();
    }
}

/// Sorts JSON values by their text.
pub(super) fn sort_values(values: &mut Vec<Value>) {
    let mut keyed: Vec<(String, Value)> = values.drain(..).map(|v| (v.to_string(), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    values.extend(keyed.into_iter().map(|(_, v)| v));
}
