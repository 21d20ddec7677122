//! Any policy document evaluated for the pull's actions, as identity and as resource policy,
//! in an open context and in a closed one.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pulldoctor::iam::eval::{Caller, Context, Request, Sourced, evaluate};
use pulldoctor::iam::policy::PolicyDocument;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(document) = PolicyDocument::from_text(text) else {
        return;
    };
    let mut open = Context::open();
    open.set("aws:PrincipalArn", vec!["arn:aws:iam::111122223333:role/node".into()])
        .carried(&["aws:", "ecr:"])
        .absent("aws:PrincipalTag/");
    let closed = Context::closed([("aws:RequestedRegion", vec!["us-east-1".to_string()])]);
    for context in [open, closed] {
        for action in ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "sts:AssumeRoleWithWebIdentity"] {
            for principal in [None, Some(Caller::Aws("arn:aws:iam::111122223333:role/node"))] {
                let request = Request {
                    action,
                    resource: Some("arn:aws:ecr:us-east-1:111122223333:repository/shop/web"),
                    principal,
                    context: context.clone(),
                };
                let _ = evaluate(&[Sourced { source: "fuzz", document: &document }], &request);
            }
        }
    }
});
