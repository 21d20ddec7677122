//! IAM policy evaluation for the questions the chain asks: may this principal do this action on
//! this resource, given these identity policies, this boundary and this resource policy?
//!
//! Written here rather than taken from `iam-rs`: the chain needs to name the statement that
//! decided (and, for trust policies, why each statement failed), which needs per-statement
//! results that crate does not expose, and trust policies carry no `Resource`.

use super::policy::{Effect, PolicyDocument, Principal, Statement, Strings};
use std::collections::BTreeMap;

/// The condition keys a request carries. A key is present with values, known to be absent, or
/// unknown: a condition on an unknown key cannot be decided, so it never reads as "no".
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Lower-cased key → values.
    present: BTreeMap<String, Vec<String>>,
    /// Lower-cased keys, or prefixes ending in `/` (`aws:principaltag/`), known not to be sent.
    absent: Vec<String>,
    /// Every key not present is absent: the context is fully described.
    closed: bool,
    /// Lower-cased key prefixes (`aws:`) the request can carry at all; a key under none of
    /// them (another service's, another issuer's) is absent. Empty: any prefix.
    carried: Vec<String>,
    /// Lower-cased key or prefix → why its value is not known, for the summary.
    unknown: BTreeMap<String, String>,
}

/// What a context says of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValue<'a> {
    Present(&'a [String]),
    Absent,
    /// Not established; the string says why (empty when nothing more is known).
    Unknown(&'a str),
}

impl Context {
    /// A context that names every key it carries: any other key is absent.
    pub fn closed<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Vec<String>)>) -> Context {
        let mut context = Context {
            closed: true,
            ..Context::default()
        };
        for (key, values) in pairs {
            context.set(key, values);
        }
        context
    }

    /// A context in which any key not set or marked absent is unknown.
    pub fn open() -> Context {
        Context::default()
    }

    pub fn set(&mut self, key: impl Into<String>, values: Vec<String>) -> &mut Context {
        self.present.insert(key.into().to_ascii_lowercase(), values);
        self
    }

    /// Only keys under these prefixes (`aws:`, `ecr:`, an issuer's `oidc…/id/X:`) can be in the
    /// request; any other key is absent.
    pub fn carried(&mut self, prefixes: &[&str]) -> &mut Context {
        self.carried = prefixes.iter().map(|p| p.to_ascii_lowercase()).collect();
        self
    }

    /// Marks a key (or, ending in `/`, every key under a prefix) as not sent.
    pub fn absent(&mut self, key: &str) -> &mut Context {
        self.absent.push(key.to_ascii_lowercase());
        self
    }

    /// Says why a key (or a prefix ending in `/`) is unknown.
    pub fn unknown(&mut self, key: &str, why: impl Into<String>) -> &mut Context {
        self.unknown.insert(key.to_ascii_lowercase(), why.into());
        self
    }

    /// Condition keys are case-insensitive.
    pub fn get(&self, key: &str) -> KeyValue<'_> {
        let key = key.to_ascii_lowercase();
        if let Some(values) = self.present.get(&key) {
            return KeyValue::Present(values);
        }
        let under = |prefix: &String| {
            *prefix == key || (prefix.ends_with('/') && key.starts_with(prefix.as_str()))
        };
        let foreign =
            !self.carried.is_empty() && !self.carried.iter().any(|p| key.starts_with(p.as_str()));
        if self.closed || foreign || self.absent.iter().any(under) {
            return KeyValue::Absent;
        }
        let why = self
            .unknown
            .iter()
            .find(|(prefix, _)| under(prefix))
            .map_or("", |(_, why)| why.as_str());
        KeyValue::Unknown(why)
    }
}

/// One call as IAM sees it.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub action: &'a str,
    /// `None` for trust policies, which have no resource.
    pub resource: Option<&'a str>,
    /// Only for resource-based and trust policies: who is asking.
    pub principal: Option<Caller<'a>>,
    /// The condition keys the request carries.
    pub context: Context,
}

#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// An IAM role (or role session), by role ARN.
    Aws(&'a str),
    Service(&'a str),
    Federated(&'a str),
}

/// A tri-state match: a condition operator we do not evaluate makes a statement `Unknown`
/// rather than silently matching or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Yes,
    No,
    Unknown(String),
}

impl Match {
    fn and(self, other: impl FnOnce() -> Match) -> Match {
        match self {
            Match::No => Match::No,
            Match::Yes => other(),
            Match::Unknown(why) => match other() {
                Match::No => Match::No,
                _ => Match::Unknown(why),
            },
        }
    }

    fn from_bool(b: bool) -> Match {
        if b { Match::Yes } else { Match::No }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
    /// A statement that might decide could not be evaluated.
    Indeterminate,
}

/// Where a statement lives, for evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub source: String,
    pub label: String,
}

impl std::fmt::Display for StatementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {}", self.label, self.source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// The statements that decided: the denying ones for a deny, the allowing ones for an
    /// allow, the undecidable ones for an indeterminate result.
    pub deciding: Vec<StatementRef>,
    pub unknown_reason: Option<String>,
    /// Some statement allows the request, or might: without one the request is denied whatever
    /// an undecidable `Deny` says.
    pub allow_possible: bool,
}

/// A policy with the name of where it lives.
#[derive(Debug, Clone, Copy)]
pub struct Sourced<'a> {
    pub source: &'a str,
    pub document: &'a PolicyDocument,
}

/// Evaluates a set of policies of one kind (all identity policies, or one resource policy).
pub fn evaluate(policies: &[Sourced<'_>], request: &Request<'_>) -> Evaluation {
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    let mut unknown_allows = Vec::new();
    let mut unknown_denies = Vec::new();
    let (mut allow_reason, mut deny_reason) = (None, None);
    for policy in policies {
        for (index, statement) in policy.document.statements.iter().enumerate() {
            let reference = StatementRef {
                source: policy.source.to_string(),
                label: policy.document.statement_label(index),
            };
            match statement_matches(statement, request) {
                Match::No => {}
                Match::Yes => match statement.effect {
                    Effect::Allow => allows.push(reference),
                    Effect::Deny => denies.push(reference),
                },
                Match::Unknown(why) => match statement.effect {
                    Effect::Allow => {
                        allow_reason.get_or_insert(format!(
                            "allowed only if {why}; not checked ({reference})"
                        ));
                        unknown_allows.push(reference);
                    }
                    Effect::Deny => {
                        deny_reason
                            .get_or_insert(format!("denied if {why}; not checked ({reference})"));
                        unknown_denies.push(reference);
                    }
                },
            }
        }
    }
    let allow_possible = !allows.is_empty() || !unknown_allows.is_empty();
    let (decision, deciding, unknown_reason) = if !denies.is_empty() {
        (Decision::ExplicitDeny, denies, None)
    } else if !unknown_denies.is_empty() {
        (Decision::Indeterminate, unknown_denies, deny_reason)
    } else if !allows.is_empty() {
        (Decision::Allow, allows, None)
    } else if !unknown_allows.is_empty() {
        (Decision::Indeterminate, unknown_allows, allow_reason)
    } else {
        (Decision::ImplicitDeny, Vec::new(), None)
    };
    Evaluation {
        decision,
        deciding,
        unknown_reason,
        allow_possible,
    }
}

/// Whether one statement applies to the request (its effect is not considered).
pub fn statement_matches(statement: &Statement, request: &Request<'_>) -> Match {
    action_matches(statement, request.action)
        .and(|| resource_matches(statement, request.resource))
        .and(|| principal_matches(statement, request.principal))
        .and(|| conditions_match(statement, &request.context))
}

pub fn action_matches(statement: &Statement, action: &str) -> Match {
    let any = |list: &Strings| list.iter().any(|p| glob_match(p, action, true));
    match (&statement.action, &statement.not_action) {
        (Some(list), _) => Match::from_bool(any(list)),
        (None, Some(list)) => Match::from_bool(!any(list)),
        (None, None) => Match::No,
    }
}

fn resource_matches(statement: &Statement, resource: Option<&str>) -> Match {
    let Some(resource) = resource else {
        return Match::Yes;
    };
    let any = |list: &Strings| list.iter().any(|p| glob_match(p, resource, false));
    match (&statement.resource, &statement.not_resource) {
        (Some(list), _) => Match::from_bool(any(list)),
        (None, Some(list)) => Match::from_bool(!any(list)),
        // Resource policies may omit Resource: the resource is the one the policy is on.
        (None, None) => Match::Yes,
    }
}

fn principal_matches(statement: &Statement, caller: Option<Caller<'_>>) -> Match {
    let Some(caller) = caller else {
        return Match::Yes;
    };
    match (&statement.principal, &statement.not_principal) {
        (Some(p), _) => Match::from_bool(principal_names(p, caller)),
        (None, Some(p)) => Match::from_bool(!principal_names(p, caller)),
        (None, None) => Match::No,
    }
}

/// Whether a Principal element names the caller: exactly, through its account, or by `*`.
pub fn principal_names(principal: &Principal, caller: Caller<'_>) -> bool {
    if principal.is_wildcard() {
        return true;
    }
    match caller {
        Caller::Aws(arn) => {
            let account = super::arn::Arn::parse(arn).map(|a| a.account);
            principal.values("AWS").into_iter().any(|value| {
                value == arn
                    || same_role(value, arn)
                    || account.as_deref().is_some_and(|acct| {
                        value == acct || value.ends_with(&format!(":iam::{acct}:root"))
                    })
            })
        }
        Caller::Service(service) => principal.values("Service").contains(&service),
        Caller::Federated(provider) => principal.values("Federated").contains(&provider),
    }
}

/// A role ARN and an assumed-role session of that role name the same principal.
fn same_role(value: &str, arn: &str) -> bool {
    match (super::arn::Arn::parse(value), super::arn::Arn::parse(arn)) {
        (Some(a), Some(b)) => {
            a.account == b.account && a.role_name().is_some() && a.role_name() == b.role_name()
        }
        _ => false,
    }
}

fn conditions_match(statement: &Statement, context: &Context) -> Match {
    let mut result = Match::Yes;
    for (operator, keys) in &statement.condition {
        for (key, values) in keys {
            let this = condition_matches(operator, key, values, context);
            result = result.and(|| this);
        }
    }
    result
}

/// One condition: `operator` applied to context key `key` against the policy's `values`.
pub fn condition_matches(operator: &str, key: &str, values: &Strings, context: &Context) -> Match {
    let (set_operator, rest) = match operator.split_once(':') {
        Some((prefix @ ("ForAnyValue" | "ForAllValues"), rest)) => (Some(prefix), rest),
        _ => (None, operator),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let shown = || {
        let list: Vec<&str> = values.iter().collect();
        format!("{operator} {key} {}", list.join(", "))
    };
    let present = match context.get(key) {
        KeyValue::Present(values) => Some(values),
        KeyValue::Absent => None,
        KeyValue::Unknown("") => {
            return Match::Unknown(format!("{} ({key} is not known)", shown()));
        }
        KeyValue::Unknown(why) => return Match::Unknown(format!("{} ({why})", shown())),
    };
    if base == "Null" {
        let wants_null = values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return Match::from_bool(present.is_none() == wants_null);
    }
    let Some(compare) = comparator(base) else {
        return Match::Unknown(format!(
            "{} (the operator {operator} is not evaluated)",
            shown()
        ));
    };
    let Some(actual) = present else {
        // A missing key fails every operator except the IfExists forms and ForAllValues.
        return Match::from_bool(if_exists || set_operator == Some("ForAllValues"));
    };
    // A negated operator (StringNotEquals…) holds for a request value that no policy value matches.
    let negate = base.contains("Not");
    let holds = |a: &str| values.iter().any(|p| compare(p, a)) != negate;
    Match::from_bool(match set_operator {
        Some("ForAllValues") => actual.iter().all(|a| holds(a)),
        _ => actual.iter().any(|a| holds(a)),
    })
}

type Comparator = fn(&str, &str) -> bool;

/// The positive comparison behind an operator; negated operators share it with their positive.
fn comparator(base: &str) -> Option<Comparator> {
    Some(match base {
        "StringEquals" | "ArnEquals" | "StringNotEquals" | "ArnNotEquals" => |p, a| p == a,
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => |p, a| p.eq_ignore_ascii_case(a),
        "StringLike" | "ArnLike" | "StringNotLike" | "ArnNotLike" => |p, a| glob_match(p, a, false),
        "Bool" => |p, a| p.eq_ignore_ascii_case(a),
        "NumericEquals" | "NumericNotEquals" => |p, a| numeric(p, a, |p, a| a == p),
        "NumericLessThan" => |p, a| numeric(p, a, |p, a| a < p),
        "NumericLessThanEquals" => |p, a| numeric(p, a, |p, a| a <= p),
        "NumericGreaterThan" => |p, a| numeric(p, a, |p, a| a > p),
        "NumericGreaterThanEquals" => |p, a| numeric(p, a, |p, a| a >= p),
        _ => return None,
    })
}

/// A numeric comparison; a value that is not a number matches nothing, as in IAM.
fn numeric(policy: &str, actual: &str, compare: fn(f64, f64) -> bool) -> bool {
    match (policy.trim().parse::<f64>(), actual.trim().parse::<f64>()) {
        (Ok(p), Ok(a)) => compare(p, a),
        _ => false,
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one character.
pub fn glob_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative match with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: serde_json::Value) -> PolicyDocument {
        PolicyDocument::from_value(&value).unwrap()
    }

    fn decide(policies: &[PolicyDocument], request: &Request<'_>) -> Decision {
        let sourced: Vec<Sourced<'_>> = policies
            .iter()
            .map(|d| Sourced {
                source: "test",
                document: d,
            })
            .collect();
        evaluate(&sourced, request).decision
    }

    const REPO: &str = "arn:aws:ecr:us-east-1:111122223333:repository/shop/web";
    const ROLE: &str = "arn:aws:iam::111122223333:role/node";

    fn pull(resource: &'static str) -> Request<'static> {
        Request {
            action: "ecr:BatchGetImage",
            resource: Some(resource),
            ..Default::default()
        }
    }

    #[test]
    fn identity_policy_table() {
        use Decision::*;
        let allow_all_ecr =
            doc(json!({"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}}));
        let cases: Vec<(&str, Vec<PolicyDocument>, Decision)> = vec![
            ("no policy", vec![], ImplicitDeny),
            ("service wildcard", vec![allow_all_ecr.clone()], Allow),
            (
                "action case-insensitive",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "Action": "ECR:batchgetimage", "Resource": "*"}}),
                )],
                Allow,
            ),
            (
                "action prefix wildcard",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "Action": "ecr:Batch*", "Resource": REPO}}),
                )],
                Allow,
            ),
            (
                "question-mark wildcard",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "Action": "ecr:BatchGetImag?", "Resource": "*"}}),
                )],
                Allow,
            ),
            (
                "resource wildcard over repo path",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "arn:aws:ecr:*:111122223333:repository/shop/*"}}),
                )],
                Allow,
            ),
            (
                "other repository",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/billing"}}),
                )],
                ImplicitDeny,
            ),
            (
                "resource ARNs are case-sensitive",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/SHOP/web"}}),
                )],
                ImplicitDeny,
            ),
            (
                "explicit deny wins over allow",
                vec![
                    allow_all_ecr.clone(),
                    doc(
                        json!({"Statement": {"Effect": "Deny", "Action": "ecr:BatchGetImage", "Resource": REPO}}),
                    ),
                ],
                ExplicitDeny,
            ),
            (
                "deny on another resource does not apply",
                vec![
                    allow_all_ecr.clone(),
                    doc(
                        json!({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/billing"}}),
                    ),
                ],
                Allow,
            ),
            (
                "NotAction allows everything else",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}),
                )],
                Allow,
            ),
            (
                "NotAction excluding the action",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "NotAction": ["ecr:BatchGetImage"], "Resource": "*"}}),
                )],
                ImplicitDeny,
            ),
            (
                "NotResource deny of everything but this repo",
                vec![
                    allow_all_ecr.clone(),
                    doc(
                        json!({"Statement": {"Effect": "Deny", "Action": "ecr:*", "NotResource": REPO}}),
                    ),
                ],
                Allow,
            ),
            (
                "unknown condition operator leaves the answer open",
                vec![doc(
                    json!({"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}}),
                )],
                Indeterminate,
            ),
        ];
        for (name, policies, want) in cases {
            assert_eq!(decide(&policies, &pull(REPO)), want, "{name}");
        }
    }

    fn repo_policy_request(caller: &'static str) -> Request<'static> {
        Request {
            action: "ecr:BatchGetImage",
            resource: Some(REPO),
            principal: Some(Caller::Aws(caller)),
            ..Default::default()
        }
    }

    #[test]
    fn resource_policy_principals() {
        use Decision::*;
        let cases: Vec<(&str, serde_json::Value, &'static str, Decision)> = vec![
            (
                "exact role",
                json!({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "ecr:BatchGetImage"}),
                ROLE,
                Allow,
            ),
            (
                "account root",
                json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "ecr:*"}),
                ROLE,
                Allow,
            ),
            (
                "bare account id",
                json!({"Effect": "Allow", "Principal": {"AWS": ["111122223333"]}, "Action": "ecr:*"}),
                ROLE,
                Allow,
            ),
            (
                "other account",
                json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "ecr:*"}),
                ROLE,
                ImplicitDeny,
            ),
            (
                "star principal",
                json!({"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}),
                ROLE,
                Allow,
            ),
            (
                "NotPrincipal deny hits everyone else",
                json!({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/ci"}, "Action": "ecr:*"}),
                ROLE,
                ExplicitDeny,
            ),
            (
                "NotPrincipal deny spares the named role",
                json!({"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "ecr:*"}),
                ROLE,
                ImplicitDeny,
            ),
        ];
        for (name, statement, caller, want) in cases {
            let policy = doc(json!({"Statement": [statement]}));
            assert_eq!(
                decide(&[policy], &repo_policy_request(caller)),
                want,
                "{name}"
            );
        }
    }

    fn context(pairs: &[(&str, &str)]) -> Context {
        Context::closed(pairs.iter().map(|(k, v)| (*k, vec![v.to_string()])))
    }

    #[test]
    fn condition_operator_table() {
        let ctx = context(&[("oidc/id/X:sub", "system:serviceaccount:shop:web")]);
        let s = |v: &str| Strings::One(v.to_string());
        let cases = [
            ("StringEquals", "system:serviceaccount:shop:web", Match::Yes),
            ("StringEquals", "system:serviceaccount:shop:*", Match::No),
            ("StringLike", "system:serviceaccount:shop:*", Match::Yes),
            ("StringLike", "system:serviceaccount:sh?p:web", Match::Yes),
            ("StringLike", "system:serviceaccount:other:*", Match::No),
            (
                "StringNotEquals",
                "system:serviceaccount:shop:web",
                Match::No,
            ),
            ("StringNotLike", "system:serviceaccount:other:*", Match::Yes),
            (
                "StringEqualsIgnoreCase",
                "SYSTEM:serviceaccount:shop:web",
                Match::Yes,
            ),
            (
                "ForAnyValue:StringLike",
                "system:serviceaccount:*",
                Match::Yes,
            ),
            (
                "ForAllValues:StringEquals",
                "system:serviceaccount:shop:web",
                Match::Yes,
            ),
        ];
        for (operator, value, want) in cases {
            assert_eq!(
                condition_matches(operator, "oidc/id/X:sub", &s(value), &ctx),
                want,
                "{operator} {value}"
            );
        }
        // Key names are case-insensitive.
        assert_eq!(
            condition_matches(
                "StringEquals",
                "OIDC/id/X:SUB",
                &s("system:serviceaccount:shop:web"),
                &ctx
            ),
            Match::Yes
        );
        // A key missing from the request: fails, except IfExists and ForAllValues.
        let empty = Context::closed(Vec::<(String, Vec<String>)>::new());
        assert_eq!(
            condition_matches("StringEquals", "k", &s("v"), &empty),
            Match::No
        );
        assert_eq!(
            condition_matches("StringEqualsIfExists", "k", &s("v"), &empty),
            Match::Yes
        );
        assert_eq!(
            condition_matches("ForAllValues:StringEquals", "k", &s("v"), &empty),
            Match::Yes
        );
        assert_eq!(
            condition_matches("ForAnyValue:StringEquals", "k", &s("v"), &empty),
            Match::No
        );
        assert_eq!(
            condition_matches("Null", "k", &s("true"), &empty),
            Match::Yes
        );
        assert!(matches!(
            condition_matches("DateLessThan", "oidc/id/X:sub", &s("1"), &ctx),
            Match::Unknown(_)
        ));
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*web", "shop/web", true),
            ("shop/*", "shop/a/b", true),
            ("**a", "a", true),
            ("", "a", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(glob_match(pattern, text, false), want, "{pattern} ~ {text}");
        }
    }
}
