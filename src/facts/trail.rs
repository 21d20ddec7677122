//! CloudTrail's record of calls (`aws cloudtrail lookup-events`): what AWS itself answered the
//! pull identity, for the evidence that settles what the policies pulldoctor reads cannot.

use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One recorded call, with what the diagnosis compares.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailEvent {
    pub id: String,
    pub time: Timestamp,
    /// `BatchGetImage`, `GetAuthorizationToken`, …
    pub name: String,
    /// `ecr.amazonaws.com`, …
    pub source: String,
    /// The session name of an assumed role (a node's instance id), or the user's name.
    pub username: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// `arn:aws:sts::…:assumed-role/ROLE/SESSION`.
    pub principal: Option<String>,
    /// The role the session is of: `arn:aws:iam::…:role/ROLE`.
    pub role: Option<String>,
    pub repository: Option<String>,
    pub registry: Option<String>,
    /// The Region the call was made in (`awsRegion`).
    pub region: Option<String>,
    /// What the call did to the repository's images (a lifecycle expiry, a deletion, a push).
    pub changes: Vec<ImageChange>,
    /// The role a token was exchanged for (`AssumeRoleWithWebIdentity`'s `roleArn`).
    pub requested_role: Option<String>,
    /// The session name asked for with it (`ecr-credential-provider` for the kubelet's).
    pub session_name: Option<String>,
}

/// What a call did to a repository's images, as far as a missing tag or digest asks.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageChange {
    /// A lifecycle rule expired the image, with every tag it had.
    Expired {
        digest: String,
        tags: Vec<String>,
        rule: Option<LifecycleRule>,
    },
    /// `BatchDeleteImage` deleted it (the answer names both; a request may name one).
    Deleted {
        tag: Option<String>,
        digest: Option<String>,
    },
    /// `PutImage` set the tag on this image, moving it off any other.
    Pushed { tag: String, digest: Option<String> },
}

/// A lifecycle rule as its `PolicyExecutionEvent` records it.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleRule {
    pub priority: i64,
    pub description: Option<String>,
    /// What it selects, in the event's words: `Tagged [release-] Image count more than 30`.
    pub selection: String,
}

/// What was looked up in CloudTrail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trail {
    pub events: Vec<TrailEvent>,
    /// Per lookup (a session, or `event_key`) read completely: how far back it reached (`None`: the whole 90
    /// days CloudTrail keeps). Before that, "no refusal recorded" is not known.
    pub reach: BTreeMap<String, Option<Timestamp>>,
}

/// A lookup's answer as the AWS CLI prints it: `{"Events": [...], "NextToken": …}`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupEvents {
    pub events: Vec<LookupEvent>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupEvent {
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// RFC 3339, or epoch seconds (as AWS CLI v1 prints it): kept as it came, not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    pub username: Option<String>,
    /// The whole record, as JSON text.
    pub cloud_trail_event: String,
}

/// The fields of a record the diagnosis reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_time: String,
    event_name: String,
    event_source: String,
    error_code: Option<String>,
    error_message: Option<String>,
    #[serde(default)]
    user_identity: Value,
    #[serde(default)]
    request_parameters: Value,
    #[serde(default)]
    response_elements: Value,
    #[serde(default)]
    service_event_details: Value,
    aws_region: Option<String>,
    recipient_account_id: Option<String>,
}

impl LookupEvent {
    /// The event, or why its record does not read.
    pub fn parse(self) -> Result<TrailEvent, String> {
        let record: Record = serde_json::from_str(&self.cloud_trail_event)
            .map_err(|e| format!("CloudTrail event {} does not parse: {e}", self.event_id))?;
        let time = record.event_time.parse().map_err(|e| {
            format!(
                "CloudTrail event {} has an eventTime that does not parse: {e}",
                self.event_id
            )
        })?;
        let identity = &record.user_identity;
        let parameters = &record.request_parameters;
        let details = &record.service_event_details;
        let changes = match record.error_code {
            Some(_) => Vec::new(),
            None => record.changes(),
        };
        Ok(TrailEvent {
            id: self.event_id,
            time,
            source: record.event_source,
            username: self.username,
            principal: text(&identity["arn"]),
            role: text(&identity["sessionContext"]["sessionIssuer"]["arn"]),
            repository: text(&parameters["repositoryName"])
                .or_else(|| text(&details["repositoryName"])),
            registry: text(&parameters["registryId"]).or(record.recipient_account_id),
            region: record.aws_region,
            requested_role: text(&parameters["roleArn"]),
            session_name: text(&parameters["roleSessionName"]),
            changes,
            name: record.event_name,
            error_code: record.error_code,
            error_message: record.error_message,
        })
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

fn texts(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| list.iter().filter_map(text).collect())
        .unwrap_or_default()
}

impl Record {
    /// What the call did to images: ECR's lifecycle expiries, deletions and pushes.
    fn changes(&self) -> Vec<ImageChange> {
        if self.event_source != "ecr.amazonaws.com" {
            return Vec::new();
        }
        match self.event_name.as_str() {
            "PolicyExecutionEvent" => self.expiries(),
            "BatchDeleteImage" => {
                // The answer names what was deleted with both tag and digest; the request, what
                // was asked.
                let answered = &self.response_elements["imageIds"];
                let ids = if answered.is_array() {
                    answered
                } else {
                    &self.request_parameters["imageIds"]
                };
                ids.as_array()
                    .into_iter()
                    .flatten()
                    .map(|id| ImageChange::Deleted {
                        tag: text(&id["imageTag"]),
                        digest: text(&id["imageDigest"]),
                    })
                    .collect()
            }
            "PutImage" => text(&self.request_parameters["imageTag"])
                .map(|tag| ImageChange::Pushed {
                    tag,
                    digest: text(&self.response_elements["image"]["imageId"]["imageDigest"])
                        .or_else(|| text(&self.request_parameters["imageDigest"])),
                })
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    fn expiries(&self) -> Vec<ImageChange> {
        let details = &self.service_event_details;
        let rules: Vec<LifecycleRule> = details["lifecycleEventPolicy"]["lifecycleEventRules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|rule| {
                let selection = &rule["lifecycleEventSelection"];
                let words = [
                    text(&selection["tagStatus"]),
                    Some(texts(&selection["tagPrefixList"]).join(" "))
                        .filter(|p| !p.is_empty())
                        .map(|p| format!("[{p}]")),
                    Some(texts(&selection["tagPatternList"]).join(" "))
                        .filter(|p| !p.is_empty())
                        .map(|p| format!("[{p}]")),
                    text(&selection["countType"]),
                    selection["countNumber"].as_i64().map(|n| n.to_string()),
                    text(&selection["countUnit"]),
                ];
                Some(LifecycleRule {
                    priority: rule["rulePriority"].as_i64()?,
                    description: text(&rule["description"]).filter(|d| !d.is_empty()),
                    selection: words.into_iter().flatten().collect::<Vec<_>>().join(" "),
                })
            })
            .collect();
        details["lifecycleEventImageActions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|action| {
                let image = &action["lifecycleEventImage"];
                let priority = action["rulePriority"].as_i64();
                // A rule that moves images to the archive keeps them (listed, not pullable).
                let archives = details["lifecycleEventPolicy"]["lifecycleEventRules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["rulePriority"].as_i64() == priority && r["action"] == "transition");
                if archives {
                    return None;
                }
                Some(ImageChange::Expired {
                    digest: text(&image["digest"])?,
                    tags: texts(&image["tagList"]),
                    rule: rules.iter().find(|r| Some(r.priority) == priority).cloned(),
                })
            })
            .collect()
    }
}

/// The calls that remove an image or move a tag, each looked up by name per Region.
pub const CHANGES: [&str; 3] = ["PolicyExecutionEvent", "BatchDeleteImage", "PutImage"];

/// The key of a lookup of the calls named `name` in `region` (a session's key is its name, an
/// instance id, which holds no `/`).
pub fn event_key(region: &str, name: &str) -> String {
    format!("event/{region}/{name}")
}

/// The key of a lookup of the calls on a resource (a repository's ARN): the pull identity's
/// where its session names are not known ahead (Fargate's pod execution role, an `ecr-role-arn`
/// role).
pub fn resource_key(arn: &str) -> String {
    format!("resource/{arn}")
}

/// The resource a `resource_key` looks up.
pub fn resource_of(key: &str) -> Option<&str> {
    key.strip_prefix("resource/")
}

/// The key of a lookup of a ServiceAccount's token exchanges: CloudTrail records
/// `AssumeRoleWithWebIdentity` under the token's subject as user name.
pub fn web_identity_key(namespace: &str, service_account: &str) -> String {
    format!("system:serviceaccount:{namespace}:{service_account}")
}

/// The token exchange STS records for a ServiceAccount's token.
pub const TOKEN_EXCHANGE: &str = "AssumeRoleWithWebIdentity";

/// The session name the node's `ecr-credential-provider` assumes an `ecr-role-arn` role with.
pub const CREDENTIAL_PROVIDER_SESSION: &str = "ecr-credential-provider";

impl Trail {
    /// The token exchanges of `namespace/service_account` for `role` recorded since `since`.
    pub fn exchanges<'a>(
        &'a self,
        (namespace, service_account): (&str, &str),
        role: &'a str,
        since: Option<Timestamp>,
    ) -> impl Iterator<Item = &'a TrailEvent> + 'a {
        let who = web_identity_key(namespace, service_account);
        self.events.iter().filter(move |e| {
            e.username.as_deref() == Some(who.as_str())
                && e.name == TOKEN_EXCHANGE
                && e.source == "sts.amazonaws.com"
                && e.requested_role.as_deref() == Some(role)
                && since.is_none_or(|since| e.time >= since)
        })
    }
}

/// A time as CloudTrail's answers and the collect script write it: RFC 3339, or epoch seconds.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse().ok().or_else(|| {
        let seconds: f64 = text.parse().ok()?;
        #[expect(clippy::cast_possible_truncation, reason = "whole seconds suffice")]
        Timestamp::from_second(seconds as i64).ok()
    })
}

impl Trail {
    /// Adds events, each once.
    pub fn add(&mut self, events: impl IntoIterator<Item = TrailEvent>) {
        for event in events {
            if !self.events.iter().any(|e| e.id == event.id) {
                self.events.push(event);
            }
        }
    }
}
