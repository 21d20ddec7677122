//! Property tests: no input makes a parser, the ingest or the diagnosis panic.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use proptest::prelude::*;
use pulldoctor::chain::events;
use pulldoctor::diagnose::{Selection, diagnose};
use pulldoctor::ecr::{manifest, reference};
use pulldoctor::facts::ingest::{Document, ingest};
use pulldoctor::iam::policy::PolicyDocument;
use pulldoctor::source::bundle::{self, Bundle};
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9:/*?.@_-]{0,24}".prop_map(Value::String),
        prop::sample::select(vec![
            "Allow",
            "Deny",
            "*",
            "sts:AssumeRoleWithWebIdentity",
            "ecr:*",
            "arn:aws:iam::111122223333:role/x",
            "2012-10-17",
            "StringEquals",
            "ForAnyValue:StringLike",
            "Pod",
            "v1",
            "List"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop::sample::select(vec![
            "Statement",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
            "Federated",
            "AWS",
            "Service",
            "apiVersion",
            "kind",
            "metadata",
            "spec",
            "status",
            "items",
            "name",
            "namespace",
            "containers",
            "image",
            "repositories",
            "imageDetails",
            "RoleDetailList",
            "cluster",
            "nodegroup",
            "policyText",
            "repositoryName",
            "registryId",
            "Account",
            "Arn",
            "UserId",
            "Url",
            "ClientIDList",
            "association",
            "imageManifest",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.prop_map(str::to_string), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn policy_parser_never_panics(text in ".{0,200}", value in json_value()) {
        let _ = PolicyDocument::from_text(&text);
        let _ = PolicyDocument::from_value(&value);
        let _ = PolicyDocument::from_text(&value.to_string());
    }

    /// Any policy, evaluated for any action and resource in any context, gives an answer.
    #[test]
    fn policy_evaluation_never_panics(
        value in json_value(),
        action in "[a-z]{1,5}:[A-Za-z*?]{0,12}",
        resource in "[a-z:*/?0-9-]{0,40}",
        key in "[a-zA-Z:/]{1,20}",
        given in ".{0,20}",
    ) {
        use pulldoctor::iam::eval::{evaluate, Caller, Context, Request, Sourced};
        if let Ok(document) = PolicyDocument::from_value(&value) {
            let mut context = Context::open();
            context.set(key.clone(), vec![given.clone()]).carried(&["aws:"]);
            for principal in [None, Some(Caller::Aws("arn:aws:iam::111122223333:role/x"))] {
                let request = Request { action: &action, resource: Some(&resource), principal, context: context.clone() };
                let _ = evaluate(&[Sourced { source: "fuzz", document: &document }], &request);
            }
        }
    }

    /// Escaped text never carries a control or bidirectional character.
    #[test]
    fn escaped_text_is_inert(text in "\\PC{0,40}|[\\x00-\\x1f\\x7f-\\x9f\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}a-z]{0,40}") {
        let line = pulldoctor::text::escape_line(&text);
        let steering = |c: char| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c);
        prop_assert!(!line.chars().any(steering), "{:?}", line);
    }

    #[test]
    fn image_reference_parser_never_panics(image in "[a-zA-Z0-9:/@._-]{0,80}", account in "[0-9]{10,13}") {
        let _ = reference::parse(&image);
        let _ = reference::parse(&format!("{account}.dkr.ecr.{image}"));
    }

    #[test]
    fn manifest_parser_never_panics(text in ".{0,120}", value in json_value()) {
        let _ = manifest::parse(&text);
        let _ = manifest::parse(&value.to_string());
    }

    #[test]
    fn event_classifier_never_panics(message in ".{0,200}") {
        let _ = events::classify(&message);
    }

    #[test]
    fn bundle_text_never_panics(text in ".{0,300}") {
        let mut b = Bundle::default();
        bundle::add_text(&mut b, "fuzz", &text);
    }

    #[test]
    fn ingest_and_diagnosis_never_panic(values in prop::collection::vec(json_value(), 0..8)) {
        let docs: Vec<Document> = values.into_iter().map(|value| Document { origin: "fuzz".into(), value }).collect();
        let facts = ingest(&docs);
        let _ = diagnose(&facts, &Selection { all: true, ..Default::default() });
    }

    /// The demo with documents dropped at random: every subset still diagnoses, and a link is
    /// only broken by what remains (no panic, no report without its findings).
    #[test]
    fn any_subset_of_the_demo_diagnoses(mask in prop::collection::vec(any::<bool>(), 64)) {
        let demo = pulldoctor::source::demo::bundle();
        let docs: Vec<Document> = demo.documents.iter().enumerate().filter(|(i, _)| mask[i % 64]).map(|(_, d)| d.clone()).collect();
        let facts = ingest(&docs);
        let report = diagnose(&facts, &Selection { all: true, ..Default::default() });
        prop_assert_eq!(report.findings.len() >= facts.pods.len(), true);
    }
}
