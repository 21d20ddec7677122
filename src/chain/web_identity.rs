//! What CloudTrail recorded of the app's token exchange: STS's own answer to
//! `AssumeRoleWithWebIdentity` for the pod's ServiceAccount and role, set beside what the trust
//! policy and the OIDC provider pulldoctor read say. A refusal that agrees adds the event as
//! evidence; one whose message says what is wrong ("No OpenIDConnect provider found", "Incorrect
//! token audience") decides a link the reads left `unknown`; any other disagreement — a refusal
//! where the reads allow, or an accepted token where they refuse — leaves the link `unknown`,
//! showing both.

use super::Subject;
use super::outcome::Outcome;
use crate::facts::TrailLookup;
use crate::facts::trail::{
    CREDENTIAL_PROVIDER_SESSION, TOKEN_EXCHANGE as EXCHANGE, TrailEvent, web_identity_key,
};
use crate::report::{Cause, CauseFamily, LinkId, Status};
use std::collections::BTreeMap;

/// What STS's refusal says, in the words of its error code and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// `InvalidIdentityToken: No OpenIDConnect provider found in your account for …`.
    NoProvider,
    /// `InvalidIdentityToken: Incorrect token audience`.
    Audience,
    /// `AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity`: the trust policy
    /// (or a control policy over it) does not let this token in; which condition, it does not say.
    NotAuthorized,
    /// Anything else (an expired token, an unreachable provider): not about the wiring read.
    Other,
}

impl Refusal {
    fn of(event: &TrailEvent) -> Refusal {
        let message = event
            .error_message
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let code = event.error_code.as_deref().unwrap_or_default();
        if message.contains("no openidconnect provider found") {
            Refusal::NoProvider
        } else if message.contains("incorrect token audience") {
            Refusal::Audience
        } else if code.trim_end_matches("Exception") == "AccessDenied" {
            Refusal::NotAuthorized
        } else {
            Refusal::Other
        }
    }

    /// The link it speaks of.
    fn link(self) -> LinkId {
        match self {
            Refusal::NoProvider | Refusal::Audience => LinkId::OidcProvider,
            Refusal::NotAuthorized | Refusal::Other => LinkId::TrustPolicy,
        }
    }

    /// The cause it names, when it names one.
    fn cause(self) -> Option<Cause> {
        match self {
            Refusal::NoProvider => Some(Cause::OidcProviderMissing),
            Refusal::Audience => Some(Cause::OidcProviderAudienceMissing),
            Refusal::NotAuthorized | Refusal::Other => None,
        }
    }

    /// Whether a broken link's cause says the same.
    fn agrees_with(self, cause: Option<Cause>) -> bool {
        match self {
            Refusal::NotAuthorized => cause.is_some_and(|c| c.family() == CauseFamily::Trust),
            Refusal::Other => false,
            _ => cause.is_some() && cause == self.cause(),
        }
    }
}

/// Sets CloudTrail's word on the exchange of the pod's token for its IRSA role (`role_arn`)
/// beside the identity lane's links.
pub fn weigh(links: &mut BTreeMap<LinkId, Outcome>, subject: &Subject<'_>, role_arn: &str) {
    let Some(pod) = subject.pod else {
        return;
    };
    let who = web_identity_key(&subject.namespace, &subject.service_account_name);
    let reach = match subject.facts.trail_lookup(&who) {
        TrailLookup::NotLooked => return,
        TrailLookup::Failed(why) => {
            return note(links, format!("CloudTrail was not read for {who}: {why}"));
        }
        TrailLookup::Read { reach } => reach,
    };
    let since = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let service_account = (
        subject.namespace.as_str(),
        subject.service_account_name.as_str(),
    );
    // The kubelet's own exchanges (an `ecr-role-arn` pull) are not the app's.
    let latest = subject
        .facts
        .trail
        .exchanges(service_account, role_arn, since)
        .filter(|e| e.session_name.as_deref() != Some(CREDENTIAL_PROVIDER_SESSION))
        .max_by_key(|e| e.time);
    match latest {
        None => {
            let what = format!("refused sts:{EXCHANGE} of {role_arn}");
            let line = super::trail::nothing_recorded(subject, (&what, &who), since, reach);
            note(links, line);
        }
        Some(event) if event.error_code.is_none() => accepted(links, event, &who),
        Some(event) => refused(links, event, &who),
    }
}

/// Evidence on `trust-policy`, the link the exchange speaks of most.
fn note(links: &mut BTreeMap<LinkId, Outcome>, line: String) {
    if let Some(link) = links.get_mut(&LinkId::TrustPolicy) {
        link.evidence.push(line);
    }
}

fn line(event: &TrailEvent, who: &str) -> String {
    let role = event.requested_role.as_deref().unwrap_or("?");
    match &event.error_code {
        Some(code) => format!(
            "CloudTrail {}: sts:{EXCHANGE} of {role} for {who} refused — {code}: {}",
            event.time,
            event.error_message.as_deref().unwrap_or("")
        ),
        None => format!(
            "CloudTrail {}: sts:{EXCHANGE} of {role} for {who} accepted",
            event.time
        ),
    }
}

/// STS took the token after the pod was created: a link the reads call broken is then not shown
/// broken (the policy may have changed since; both are shown).
fn accepted(links: &mut BTreeMap<LinkId, Outcome>, event: &TrailEvent, who: &str) {
    let mut contradicted = false;
    for id in [LinkId::TrustPolicy, LinkId::OidcProvider] {
        let Some(link) = links.get_mut(&id) else {
            continue;
        };
        if link.status == Status::Broken {
            contradicted = true;
            unsettle(
                link,
                format!(
                    "STS accepted this ServiceAccount's token for the role at {}, which the policies read do not explain (a change since looks the same)",
                    event.time
                ),
                line(event, who),
            );
        }
    }
    if !contradicted {
        note(links, line(event, who));
    }
}

fn refused(links: &mut BTreeMap<LinkId, Outcome>, event: &TrailEvent, who: &str) {
    let refusal = Refusal::of(event);
    let Some(link) = links.get_mut(&refusal.link()) else {
        return;
    };
    if link.status == Status::Broken && refusal.agrees_with(link.cause) {
        link.evidence
            .push(format!("STS refused it so: {}", line(event, who)));
        return;
    }
    match (link.status, refusal.cause()) {
        (Status::Unknown, Some(cause)) => {
            let mut decided = Outcome::broken(
                cause,
                format!(
                    "STS refused the token of {who} for {} at {}: {}",
                    event.requested_role.as_deref().unwrap_or("the role"),
                    event.time,
                    event.error_message.as_deref().unwrap_or("")
                ),
            )
            .with_evidence(vec![line(event, who)]);
            decided.evidence.extend(std::mem::take(&mut link.evidence));
            *link = decided;
        }
        // Refused, but the message does not say which condition: the link stays unknown, with
        // the refusal beside why it was not read.
        (Status::Unknown, None) => link.evidence.insert(0, line(event, who)),
        _ => unsettle(
            link,
            format!(
                "STS refused the token at {} ({}), which the policies read do not explain (a refusal from before a change looks the same, until the app asks again)",
                event.time,
                event.error_code.as_deref().unwrap_or("?")
            ),
            line(event, who),
        ),
    }
}

/// The link becomes `unknown`, showing what the reads said beside what CloudTrail recorded.
fn unsettle(link: &mut Outcome, summary: String, recorded: String) {
    let read = format!(
        "the policies read say {}: {}",
        link.status.as_str(),
        link.summary
    );
    let mut unsettled = Outcome::new(Status::Unknown, summary).with_evidence(vec![recorded, read]);
    unsettled
        .evidence
        .extend(std::mem::take(&mut link.evidence));
    *link = unsettled;
}
