//! Does the role's trust policy let this ServiceAccount of this cluster assume it? When it does
//! not, the statement that comes closest names the cause.

use super::outcome::Outcome;
use crate::iam::eval::{self, Caller, Context, Decision, Match, Request, Sourced};
use crate::iam::policy::{Effect, PolicyDocument, Statement};
use crate::report::{Cause, Status};

pub const WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
pub const POD_IDENTITY_SERVICE: &str = "pods.eks.amazonaws.com";

/// Who asks to assume the role.
#[derive(Debug, Clone)]
pub enum Assumer {
    Irsa {
        provider_arn: String,
        /// The issuer without `https://`: the prefix of the `:sub` and `:aud` condition keys.
        issuer_key: String,
        subject: String,
        audience: String,
    },
    PodIdentity {
        cluster_name: String,
        namespace: String,
        service_account: String,
    },
}

impl Assumer {
    /// The keys the assume call carries that we know; any other key is unknown.
    fn context(&self) -> Context {
        let mut context = Context::open();
        match self {
            Assumer::Irsa {
                issuer_key,
                subject,
                audience,
                ..
            } => {
                context
                    .carried(&["aws:", "sts:", &format!("{issuer_key}:")])
                    .set(format!("{issuer_key}:sub"), vec![subject.clone()])
                    .set(format!("{issuer_key}:aud"), vec![audience.clone()]);
            }
            Assumer::PodIdentity {
                cluster_name,
                namespace,
                service_account,
            } => {
                context
                    .carried(&["aws:", "sts:"])
                    .set(
                        "aws:RequestTag/eks-cluster-name",
                        vec![cluster_name.clone()],
                    )
                    .set(
                        "aws:RequestTag/kubernetes-namespace",
                        vec![namespace.clone()],
                    )
                    .set(
                        "aws:RequestTag/kubernetes-service-account",
                        vec![service_account.clone()],
                    );
            }
        }
        context
    }
}

fn decide(
    doc: &PolicyDocument,
    action: &str,
    caller: Caller<'_>,
    assumer: &Assumer,
) -> eval::Evaluation {
    eval::evaluate(
        &[Sourced {
            source: "the trust policy",
            document: doc,
        }],
        &Request {
            action,
            resource: None,
            principal: Some(caller),
            context: assumer.context(),
        },
    )
}

pub fn analyse(doc: &PolicyDocument, assumer: &Assumer) -> Outcome {
    match assumer {
        Assumer::Irsa { provider_arn, .. } => irsa(doc, provider_arn, assumer),
        Assumer::PodIdentity { .. } => pod_identity(doc, assumer),
    }
}

fn irsa(doc: &PolicyDocument, provider_arn: &str, assumer: &Assumer) -> Outcome {
    let Assumer::Irsa {
        issuer_key,
        subject,
        audience,
        ..
    } = assumer
    else {
        unreachable!("irsa() is only called for IRSA");
    };
    let result = decide(doc, WEB_IDENTITY, Caller::Federated(provider_arn), assumer);
    let by = result
        .deciding
        .iter()
        .map(|s| s.label.clone())
        .collect::<Vec<_>>()
        .join(", ");
    match result.decision {
        Decision::Allow => {
            let checks_audience = doc.statements.iter().any(|s| {
                s.effect == Effect::Allow
                    && s.condition.values().any(|keys| {
                        keys.keys()
                            .any(|k| k.eq_ignore_ascii_case(&format!("{issuer_key}:aud")))
                    })
            });
            if checks_audience {
                Outcome::new(Status::Ok, format!("{by} lets {subject} assume the role"))
            } else {
                Outcome {
                    cause: Some(Cause::TrustNoAudienceCondition),
                    ..Outcome::new(
                        Status::Warning,
                        format!(
                            "{by} lets {subject} assume the role, but without a {issuer_key}:aud condition any audience is accepted"
                        ),
                    )
                }
            }
        }
        Decision::ExplicitDeny => Outcome::broken(
            Cause::TrustWrongSubject,
            format!("{by} of the trust policy denies {subject}"),
        ),
        Decision::Indeterminate => Outcome::new(
            Status::Unknown,
            format!(
                "the trust policy could not be evaluated: {}",
                result.unknown_reason.unwrap_or_default()
            ),
        ),
        Decision::ImplicitDeny => {
            closest_irsa_failure(doc, provider_arn, issuer_key, subject, audience)
        }
    }
}

/// Why one statement does not let the ServiceAccount in, most fundamental first.
pub fn irsa_failures(
    statement: &Statement,
    provider_arn: &str,
    issuer_key: &str,
    subject: &str,
    audience: &str,
) -> Vec<(Cause, String)> {
    let mut failures = Vec::new();
    let federated = statement
        .principal
        .as_ref()
        .map(|p| p.values("Federated"))
        .unwrap_or_default();
    if !federated.contains(&provider_arn) {
        let found = if federated.is_empty() {
            "no OIDC provider".to_string()
        } else {
            federated.join(", ")
        };
        failures.push((
            Cause::TrustWrongProvider,
            format!("trusts {found}; this cluster's provider is {provider_arn}"),
        ));
    }
    if eval::action_matches(statement, WEB_IDENTITY) != Match::Yes {
        failures.push((
            Cause::TrustWrongAction,
            format!("does not allow {WEB_IDENTITY}, the action IRSA uses"),
        ));
    }
    let mut context = Context::open();
    context
        .carried(&["aws:", "sts:", &format!("{issuer_key}:")])
        .set(format!("{issuer_key}:sub"), vec![subject.to_string()])
        .set(format!("{issuer_key}:aud"), vec![audience.to_string()]);
    for (operator, keys) in &statement.condition {
        for (key, values) in keys {
            let shown = values.iter().collect::<Vec<_>>().join(", ");
            if key.starts_with("https://") || key.starts_with("http://") {
                failures.push((
                    Cause::TrustConditionKeyHasScheme,
                    format!(
                        "condition key {key} starts with a scheme; IAM's key is {issuer_key}:{}",
                        key.rsplit(':').next().unwrap_or("sub")
                    ),
                ));
                continue;
            }
            let (prefix, claim) = key.rsplit_once(':').unwrap_or((key.as_str(), ""));
            if prefix.starts_with("oidc.") && !prefix.eq_ignore_ascii_case(issuer_key) {
                failures.push((
                    Cause::TrustWrongProvider,
                    format!(
                        "condition key {key} names issuer {prefix}; this cluster's is {issuer_key}"
                    ),
                ));
                continue;
            }
            // A condition we cannot decide is not named as the failure.
            if eval::condition_matches(operator, key, values, &context) != Match::No {
                continue;
            }
            match claim {
                "sub" => {
                    let literal = operator.trim_end_matches("IfExists").ends_with("StringEquals")
                        && values.iter().any(|v| v.contains('*') || v.contains('?'));
                    let would_match = values.iter().any(|v| eval::glob_match(v, subject, false));
                    if literal && would_match {
                        failures.push((
                            Cause::TrustWildcardInStringequals,
                            format!("{operator} compares {key} literally with \"{shown}\"; a wildcard needs StringLike"),
                        ));
                    } else {
                        failures.push((
                            Cause::TrustWrongSubject,
                            format!("{operator} {key} is \"{shown}\"; the pod's token says \"{subject}\""),
                        ));
                    }
                }
                "aud" => failures.push((
                    Cause::TrustWrongAudience,
                    format!("{operator} {key} is \"{shown}\"; the pod's token audience is \"{audience}\""),
                )),
                _ => failures.push((
                    Cause::TrustWrongSubject,
                    format!("condition {operator} {key} = \"{shown}\" does not hold for this pod"),
                )),
            }
        }
    }
    failures
}

fn closest_irsa_failure(
    doc: &PolicyDocument,
    provider_arn: &str,
    issuer_key: &str,
    subject: &str,
    audience: &str,
) -> Outcome {
    let closest = doc
        .statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.effect == Effect::Allow)
        .map(|(i, s)| {
            (
                i,
                irsa_failures(s, provider_arn, issuer_key, subject, audience),
            )
        })
        .filter(|(_, f)| !f.is_empty())
        .min_by_key(|(_, f)| f.len());
    match closest {
        None => Outcome::broken(
            Cause::TrustWrongProvider,
            format!(
                "the trust policy has no statement that allows {WEB_IDENTITY} from {provider_arn}"
            ),
        ),
        Some((index, failures)) => {
            let (cause, first) = failures[0].clone();
            let label = doc.statement_label(index);
            Outcome::broken(cause, format!("{label} of the trust policy {first}")).with_evidence(
                failures
                    .iter()
                    .map(|(c, text)| format!("{label}: {text} [{c}]"))
                    .collect(),
            )
        }
    }
}

fn pod_identity(doc: &PolicyDocument, assumer: &Assumer) -> Outcome {
    let caller = Caller::Service(POD_IDENTITY_SERVICE);
    let assume = decide(doc, "sts:AssumeRole", caller, assumer);
    let tag = decide(doc, "sts:TagSession", caller, assumer);
    let names_service = doc.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && s.principal
                .as_ref()
                .is_some_and(|p| p.values("Service").contains(&POD_IDENTITY_SERVICE))
    });
    match (assume.decision, tag.decision) {
        (Decision::Allow, Decision::Allow) => Outcome::new(
            Status::Ok,
            format!(
                "the trust policy lets {POD_IDENTITY_SERVICE} assume the role and tag the session"
            ),
        ),
        (Decision::Indeterminate, _) | (_, Decision::Indeterminate) => Outcome::new(
            Status::Unknown,
            "the trust policy could not be evaluated (a condition operator pulldoctor does not evaluate)",
        ),
        _ if !names_service => Outcome::broken(
            Cause::TrustPodIdentityPrincipalMissing,
            format!(
                "no statement of the trust policy trusts the service principal {POD_IDENTITY_SERVICE}, which EKS Pod Identity assumes roles as"
            ),
        ),
        (a, t) => {
            let missing: Vec<&str> = [("sts:AssumeRole", a), ("sts:TagSession", t)]
                .into_iter()
                .filter(|(_, d)| *d != Decision::Allow)
                .map(|(action, _)| action)
                .collect();
            Outcome::broken(
                Cause::TrustWrongAction,
                format!(
                    "the trust policy names {POD_IDENTITY_SERVICE} but does not allow {}; Pod Identity needs sts:AssumeRole and sts:TagSession",
                    missing.join(" and ")
                ),
            )
        }
    }
}

/// The index of the statement a fix should edit: the closest IRSA statement, if any.
pub fn closest_statement(doc: &PolicyDocument, assumer: &Assumer) -> Option<usize> {
    let Assumer::Irsa {
        provider_arn,
        issuer_key,
        subject,
        audience,
    } = assumer
    else {
        return doc.statements.iter().position(|s| {
            s.principal
                .as_ref()
                .is_some_and(|p| p.values("Service").contains(&POD_IDENTITY_SERVICE))
        });
    };
    doc.statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.effect == Effect::Allow)
        .map(|(i, s)| {
            (
                i,
                irsa_failures(s, provider_arn, issuer_key, subject, audience).len(),
            )
        })
        .min_by_key(|(_, n)| *n)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/ABC";
    const PROVIDER: &str =
        "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC";

    fn assumer() -> Assumer {
        Assumer::Irsa {
            provider_arn: PROVIDER.into(),
            issuer_key: ISSUER.into(),
            subject: "system:serviceaccount:shop:web".into(),
            audience: "sts.amazonaws.com".into(),
        }
    }

    fn trust(statement: serde_json::Value) -> PolicyDocument {
        PolicyDocument::from_value(&json!({"Version": "2012-10-17", "Statement": [statement]}))
            .unwrap()
    }

    fn irsa_statement(condition: serde_json::Value) -> serde_json::Value {
        json!({"Effect": "Allow", "Principal": {"Federated": PROVIDER},
               "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition})
    }

    #[test]
    fn trust_policy_causes() {
        let sub = format!("{ISSUER}:sub");
        let aud = format!("{ISSUER}:aud");
        let cases: Vec<(&str, serde_json::Value, Status, Option<Cause>)> = vec![
            (
                "exact",
                irsa_statement(
                    json!({"StringEquals": {&sub: "system:serviceaccount:shop:web", &aud: "sts.amazonaws.com"}}),
                ),
                Status::Ok,
                None,
            ),
            (
                "StringLike wildcard",
                irsa_statement(
                    json!({"StringLike": {&sub: "system:serviceaccount:shop:*"}, "StringEquals": {&aud: "sts.amazonaws.com"}}),
                ),
                Status::Ok,
                None,
            ),
            (
                "wildcard in StringEquals",
                irsa_statement(
                    json!({"StringEquals": {&sub: "system:serviceaccount:shop:*", &aud: "sts.amazonaws.com"}}),
                ),
                Status::Broken,
                Some(Cause::TrustWildcardInStringequals),
            ),
            (
                "wrong subject",
                irsa_statement(
                    json!({"StringEquals": {&sub: "system:serviceaccount:shop:webapp", &aud: "sts.amazonaws.com"}}),
                ),
                Status::Broken,
                Some(Cause::TrustWrongSubject),
            ),
            (
                "wrong audience",
                irsa_statement(
                    json!({"StringEquals": {&sub: "system:serviceaccount:shop:web", &aud: "sts.amazon.com"}}),
                ),
                Status::Broken,
                Some(Cause::TrustWrongAudience),
            ),
            (
                "scheme in key",
                irsa_statement(
                    json!({"StringEquals": {format!("https://{ISSUER}:sub"): "system:serviceaccount:shop:web"}}),
                ),
                Status::Broken,
                Some(Cause::TrustConditionKeyHasScheme),
            ),
            (
                "no audience",
                irsa_statement(json!({"StringEquals": {&sub: "system:serviceaccount:shop:web"}})),
                Status::Warning,
                Some(Cause::TrustNoAudienceCondition),
            ),
            (
                "other cluster's provider",
                json!({"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/OTHER"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/OTHER:sub": "system:serviceaccount:shop:web"}}}),
                Status::Broken,
                Some(Cause::TrustWrongProvider),
            ),
            (
                "wrong action",
                json!({"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {&sub: "system:serviceaccount:shop:web", &aud: "sts.amazonaws.com"}}}),
                Status::Broken,
                Some(Cause::TrustWrongAction),
            ),
            (
                "ec2 only",
                json!({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
                Status::Broken,
                Some(Cause::TrustWrongProvider),
            ),
        ];
        for (name, statement, status, cause) in cases {
            let outcome = analyse(&trust(statement), &assumer());
            assert_eq!(
                (outcome.status, outcome.cause),
                (status, cause),
                "{name}: {}",
                outcome.summary
            );
        }
    }

    #[test]
    fn pod_identity_trust() {
        let assumer = Assumer::PodIdentity {
            cluster_name: "prod".into(),
            namespace: "shop".into(),
            service_account: "web".into(),
        };
        let ok = trust(
            json!({"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}),
        );
        assert_eq!(analyse(&ok, &assumer).status, Status::Ok);
        let no_tag = trust(
            json!({"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        );
        assert_eq!(
            analyse(&no_tag, &assumer).cause,
            Some(Cause::TrustWrongAction)
        );
        let irsa_only = trust(irsa_statement(json!({})));
        assert_eq!(
            analyse(&irsa_only, &assumer).cause,
            Some(Cause::TrustPodIdentityPrincipalMissing)
        );
    }
}
