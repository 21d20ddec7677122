//! Proposed documents: the current one with the one wrong statement edited or one statement
//! added — never a whole policy replaced.

use crate::chain::access::{CachePull, PULL_ACTIONS, TOKEN_ACTION};
use crate::chain::trust::{self, Assumer, POD_IDENTITY_SERVICE, WEB_IDENTITY};
use crate::iam::policy::{Effect, PolicyDocument, Principal, Statement, Strings};
use crate::report::Cause;
use std::collections::BTreeMap;

pub const SCOPED_POLICY_NAME: &str = "pulldoctor-ecr-pull";

fn strings(values: &[&str]) -> Strings {
    match values {
        [one] => Strings::One(one.to_string()),
        many => Strings::Many(many.iter().map(|s| s.to_string()).collect()),
    }
}

fn statement(
    sid: &str,
    principal: Option<Principal>,
    actions: &[&str],
    resource: Option<&str>,
) -> Statement {
    Statement {
        sid: Some(sid.to_string()),
        effect: Effect::Allow,
        principal,
        not_principal: None,
        action: Some(strings(actions)),
        not_action: None,
        resource: resource.map(|r| Strings::One(r.to_string())),
        not_resource: None,
        condition: BTreeMap::new(),
    }
}

fn empty_document() -> PolicyDocument {
    PolicyDocument {
        version: Some("2012-10-17".to_string()),
        id: None,
        statements: Vec::new(),
    }
}

fn principal(kind: &str, value: &str) -> Principal {
    Principal::Map(BTreeMap::from([(
        kind.to_string(),
        Strings::One(value.to_string()),
    )]))
}

/// A fresh trust policy for a new role of this identity.
pub fn new_trust_policy(assumer: &Assumer) -> PolicyDocument {
    let mut doc = empty_document();
    doc.statements.push(canonical_trust_statement(assumer));
    doc
}

fn canonical_trust_statement(assumer: &Assumer) -> Statement {
    match assumer {
        Assumer::Irsa {
            provider_arn,
            issuer_key,
            subject,
            audience,
        } => {
            let mut s = statement(
                "AllowServiceAccount",
                Some(principal("Federated", provider_arn)),
                &[WEB_IDENTITY],
                None,
            );
            s.condition.insert(
                "StringEquals".to_string(),
                BTreeMap::from([
                    (format!("{issuer_key}:sub"), Strings::One(subject.clone())),
                    (format!("{issuer_key}:aud"), Strings::One(audience.clone())),
                ]),
            );
            s
        }
        Assumer::PodIdentity { .. } => statement(
            "AllowEksPodIdentity",
            Some(principal("Service", POD_IDENTITY_SERVICE)),
            &["sts:AssumeRole", "sts:TagSession"],
            None,
        ),
    }
}

/// The trust policy with the closest statement corrected in every way it fails, or the
/// canonical statement added when no statement comes close.
pub fn corrected_trust_policy(current: &PolicyDocument, assumer: &Assumer) -> PolicyDocument {
    let mut doc = current.clone();
    let index = trust::closest_statement(current, assumer);
    match (assumer, index) {
        (Assumer::PodIdentity { .. }, Some(i)) => {
            let s = &mut doc.statements[i];
            let mut actions = s.action.clone().unwrap_or(Strings::Many(Vec::new()));
            actions.push("sts:AssumeRole");
            actions.push("sts:TagSession");
            s.action = Some(actions);
        }
        (
            Assumer::Irsa {
                provider_arn,
                issuer_key,
                subject,
                audience,
            },
            Some(i),
        ) => {
            let failures = trust::irsa_failures(
                &current.statements[i],
                provider_arn,
                issuer_key,
                subject,
                audience,
            );
            let s = &mut doc.statements[i];
            for (cause, _) in failures {
                correct_irsa(s, cause, provider_arn, issuer_key, subject, audience);
            }
            if !s
                .condition
                .values()
                .any(|keys| keys.keys().any(|k| k.ends_with(":aud")))
            {
                correct_irsa(
                    s,
                    Cause::TrustNoAudienceCondition,
                    provider_arn,
                    issuer_key,
                    subject,
                    audience,
                );
            }
        }
        (_, None) => doc.statements.push(canonical_trust_statement(assumer)),
    }
    doc
}

fn correct_irsa(
    s: &mut Statement,
    cause: Cause,
    provider: &str,
    issuer_key: &str,
    subject: &str,
    audience: &str,
) {
    match cause {
        Cause::TrustWrongProvider => {
            s.principal = Some(principal("Federated", provider));
            s.not_principal = None;
            // Condition keys that name another issuer move to this cluster's.
            for keys in s.condition.values_mut() {
                let renamed: BTreeMap<String, Strings> = std::mem::take(keys)
                    .into_iter()
                    .map(|(k, v)| match k.rsplit_once(':') {
                        Some((prefix, claim)) if prefix.starts_with("oidc.") => {
                            (format!("{issuer_key}:{claim}"), v)
                        }
                        _ => (k, v),
                    })
                    .collect();
                *keys = renamed;
            }
        }
        Cause::TrustWrongAction => {
            s.action = Some(Strings::One(WEB_IDENTITY.to_string()));
            s.not_action = None;
        }
        Cause::TrustConditionKeyHasScheme => {
            for keys in s.condition.values_mut() {
                let renamed: BTreeMap<String, Strings> = std::mem::take(keys)
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k.trim_start_matches("https://")
                                .trim_start_matches("http://")
                                .to_string(),
                            v,
                        )
                    })
                    .collect();
                *keys = renamed;
            }
        }
        Cause::TrustWildcardInStringequals => {
            let key = format!("{issuer_key}:sub");
            if let Some(values) = s
                .condition
                .get_mut("StringEquals")
                .and_then(|k| k.remove(&key))
            {
                s.condition
                    .entry("StringLike".to_string())
                    .or_default()
                    .insert(key, values);
            }
            s.condition.retain(|_, keys| !keys.is_empty());
        }
        Cause::TrustWrongSubject => push_condition(s, &format!("{issuer_key}:sub"), subject),
        Cause::TrustWrongAudience | Cause::TrustNoAudienceCondition => {
            push_condition(s, &format!("{issuer_key}:aud"), audience)
        }
        _ => {}
    }
}

/// Adds a value to the condition that holds `key` (keeping the other values), or to
/// `StringEquals` when no condition names it.
fn push_condition(s: &mut Statement, key: &str, value: &str) {
    for keys in s.condition.values_mut() {
        if let Some(values) = keys
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
        {
            values.push(value);
            return;
        }
    }
    s.condition
        .entry("StringEquals".to_string())
        .or_default()
        .insert(key.to_string(), Strings::One(value.to_string()));
}

/// The role's scoped pull policy: its current `pulldoctor-ecr-pull` inline policy with this
/// repository added, or a new one.
pub fn scoped_pull_policy(
    current: Option<&PolicyDocument>,
    repository_arn: &str,
    cache: CachePull,
) -> PolicyDocument {
    let mut doc = current.cloned().unwrap_or_else(empty_document);
    if !doc
        .statements
        .iter()
        .any(|s| s.sid.as_deref() == Some("EcrAuthToken"))
    {
        doc.statements
            .push(statement("EcrAuthToken", None, &[TOKEN_ACTION], Some("*")));
    }
    let mut actions: Vec<&str> = PULL_ACTIONS.to_vec();
    actions.extend(cache.actions());
    match doc
        .statements
        .iter_mut()
        .find(|s| s.sid.as_deref() == Some("EcrPull"))
    {
        Some(s) => {
            let mut resources = s.resource.clone().unwrap_or(Strings::Many(Vec::new()));
            resources.push(repository_arn);
            s.resource = Some(resources);
            let mut existing = s.action.clone().unwrap_or(Strings::Many(Vec::new()));
            for a in actions {
                existing.push(a);
            }
            s.action = Some(existing);
        }
        None => doc
            .statements
            .push(statement("EcrPull", None, &actions, Some(repository_arn))),
    }
    doc
}

/// The repository policy with a statement that lets `role_arn` pull.
pub fn repository_policy_allowing(
    current: Option<&PolicyDocument>,
    role_arn: &str,
    role_name: &str,
) -> PolicyDocument {
    let mut doc = current.cloned().unwrap_or_else(empty_document);
    let sid: String = format!(
        "AllowPull{}",
        role_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
    );
    doc.statements.push(statement(
        &sid,
        Some(principal("AWS", role_arn)),
        &[
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchCheckLayerAvailability",
        ],
        None,
    ));
    doc
}

/// A permissions boundary with the pull actions allowed.
pub fn boundary_allowing_pull(current: &PolicyDocument, repository_arn: &str) -> PolicyDocument {
    let mut doc = current.clone();
    doc.statements
        .push(statement("AllowEcrToken", None, &[TOKEN_ACTION], Some("*")));
    doc.statements.push(statement(
        "AllowEcrPull",
        None,
        &PULL_ACTIONS,
        Some(repository_arn),
    ));
    doc
}

/// A unified diff of two documents, for the fix's `diff`.
pub fn diff(current: &str, proposed: &str) -> String {
    similar::TextDiff::from_lines(current, proposed)
        .unified_diff()
        .context_radius(3)
        .header("current", "proposed")
        .to_string()
}
