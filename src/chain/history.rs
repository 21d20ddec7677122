//! Why an image is gone, from CloudTrail's record of its repository: the lifecycle rule that
//! expired it, the deletion, the push that moved its tag onto another image. Read only for
//! repositories of the caller's own account (CloudTrail shows an account its own calls).

use super::outcome::Outcome;
use crate::ecr::reference::EcrImage;
use crate::facts::trail::{self, ImageChange, LifecycleRule, TrailEvent};
use crate::facts::{Facts, TrailLookup};
use crate::report::{Cause, LinkId};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// What happened to the image a workload asks for.
#[derive(Debug, Clone, Copy)]
pub enum Fate<'a> {
    /// A lifecycle rule expired it.
    Expired {
        event: &'a TrailEvent,
        rule: Option<&'a LifecycleRule>,
        tags: &'a [String],
    },
    /// Someone deleted it.
    Deleted { event: &'a TrailEvent },
    /// A push moved the reference's tag onto another image (`digest`), leaving the pinned one
    /// untagged.
    Moved {
        event: &'a TrailEvent,
        digest: Option<&'a str>,
    },
}

impl Fate<'_> {
    pub fn event(&self) -> &TrailEvent {
        match self {
            Fate::Expired { event, .. } | Fate::Deleted { event } | Fate::Moved { event, .. } => {
                event
            }
        }
    }

    /// One line: when, who or which rule, what.
    pub fn line(&self, ecr: &EcrImage) -> String {
        let event = self.event();
        let who = event
            .principal
            .as_deref()
            .or(event.role.as_deref())
            .unwrap_or("an unnamed caller");
        match self {
            Fate::Expired { rule, tags, .. } => format!(
                "CloudTrail {}: {} expired {}{}",
                event.time,
                rule.map_or_else(|| "a lifecycle rule".to_string(), rule_words),
                ecr.digest.as_deref().map_or_else(
                    || format!("tag {}", ecr.tag.as_deref().unwrap_or("latest")),
                    super::registry::short
                ),
                if tags.is_empty() {
                    " (untagged by then)".to_string()
                } else {
                    format!(" (tags {})", tags.join(", "))
                }
            ),
            Fate::Deleted { .. } => format!(
                "CloudTrail {}: {who} deleted {}{} (BatchDeleteImage)",
                event.time,
                ecr.repository,
                ecr.version()
            ),
            Fate::Moved { digest, .. } => format!(
                "CloudTrail {}: a push by {who} moved tag {} onto {}",
                event.time,
                ecr.tag.as_deref().unwrap_or("latest"),
                digest.map_or_else(|| "another image".to_string(), super::registry::short)
            ),
        }
    }
}

/// `lifecycle rule 3 ("keep 30 releases": Tagged Image count more than 30)`.
pub fn rule_words(rule: &LifecycleRule) -> String {
    let description = rule
        .description
        .as_deref()
        .map(|d| format!("{d:?}: "))
        .unwrap_or_default();
    format!(
        "lifecycle rule {} ({description}{})",
        rule.priority, rule.selection
    )
}

/// The events of `ecr`'s repository, in its account and Region.
fn of_repository<'a>(facts: &'a Facts, ecr: &'a EcrImage) -> impl Iterator<Item = &'a TrailEvent> {
    facts.trail.events.iter().filter(move |e| {
        e.error_code.is_none()
            && e.repository.as_deref() == Some(ecr.repository.as_str())
            && e.registry.as_deref().is_none_or(|r| r == ecr.account)
            && e.region.as_deref().is_none_or(|r| r == ecr.region)
    })
}

/// What CloudTrail recorded of the image `ecr` names, oldest first: the push that moved its tag
/// off a pinned digest, then what removed it.
pub fn fates<'a>(facts: &'a Facts, ecr: &'a EcrImage) -> Vec<Fate<'a>> {
    let wanted_tag = ecr.tag.as_deref().unwrap_or("latest");
    let removal = of_repository(facts, ecr)
        .flat_map(|event| event.changes.iter().map(move |change| (event, change)))
        .filter_map(|(event, change)| match (change, &ecr.digest) {
            (ImageChange::Expired { digest, tags, rule }, wanted) => {
                let this = match wanted {
                    Some(d) => d == digest,
                    None => tags.iter().any(|t| t == wanted_tag),
                };
                this.then_some(Fate::Expired {
                    event,
                    rule: rule.as_ref(),
                    tags,
                })
            }
            (ImageChange::Deleted { tag, digest }, wanted) => {
                let this = match wanted {
                    Some(d) => digest.as_deref() == Some(d.as_str()),
                    None => tag.as_deref() == Some(wanted_tag),
                };
                this.then_some(Fate::Deleted { event })
            }
            (ImageChange::Pushed { .. }, _) => None,
        })
        .max_by_key(|f| f.event().time);
    // A pinned digest with its tag (`repo:tag@sha256:…`): a later push of the tag untagged it.
    let moved = match (&ecr.tag, &ecr.digest) {
        (Some(tag), Some(pinned)) => of_repository(facts, ecr)
            .flat_map(|event| event.changes.iter().map(move |change| (event, change)))
            .filter_map(|(event, change)| match change {
                ImageChange::Pushed { tag: t, digest }
                    if t == tag && digest.as_ref() != Some(pinned) =>
                {
                    Some(Fate::Moved {
                        event,
                        digest: digest.as_deref(),
                    })
                }
                _ => None,
            })
            .filter(|m| removal.is_none_or(|r| m.event().time <= r.event().time))
            .max_by_key(|f| f.event().time),
        _ => None,
    };
    moved.into_iter().chain(removal).collect()
}

/// Whether the repository's history was read: every lookup of its Region's changes, and how far
/// back the narrowest reached. `Err` says what was not read.
fn looked_up(facts: &Facts, region: &str) -> Option<Result<Option<Timestamp>, String>> {
    let mut reached: Option<Timestamp> = None;
    for name in trail::CHANGES {
        match facts.trail_lookup(&trail::event_key(region, name)) {
            TrailLookup::NotLooked => return None,
            TrailLookup::Failed(why) => {
                return Some(Err(format!(
                    "CloudTrail's {name} events in {region} were not read: {why}"
                )));
            }
            TrailLookup::Read { reach } => reached = reached.max(reach),
        }
    }
    Some(Ok(reached))
}

/// Adds to a missing tag or digest what CloudTrail recorded of it.
pub fn explain(links: &mut BTreeMap<LinkId, Outcome>, facts: &Facts, ecr: &EcrImage) {
    let Some(link) = links.get_mut(&LinkId::Image) else {
        return;
    };
    if !matches!(
        link.cause,
        Some(Cause::ImageTagMissing | Cause::ImageDigestMissing)
    ) {
        return;
    }
    let reached = match looked_up(facts, &ecr.region) {
        None => return,
        Some(Err(why)) => return link.evidence.push(why),
        Some(Ok(reached)) => reached,
    };
    let fates = fates(facts, ecr);
    if let Some(last) = fates.last() {
        let event = last.event();
        link.summary.push_str(&match last {
            Fate::Expired { rule, .. } => format!(
                "; {} expired it at {}",
                rule.map_or_else(
                    || "a lifecycle rule".to_string(),
                    |r| format!("lifecycle rule {}", r.priority)
                ),
                event.time
            ),
            Fate::Deleted { .. } => format!(
                "; {} deleted it at {}",
                event.principal.as_deref().unwrap_or("someone"),
                event.time
            ),
            Fate::Moved { .. } => format!("; a push moved its tag at {}", event.time),
        });
    }
    link.evidence.extend(fates.iter().map(|f| f.line(ecr)));
    if fates.is_empty() {
        link.evidence.push(format!(
            "CloudTrail records no lifecycle expiry, deletion or push of {}{}{}",
            ecr.repository,
            ecr.version(),
            reached
                .map(|t| format!(" back to {t} (the pages read reach no further)"))
                .unwrap_or_default()
        ));
    }
}
