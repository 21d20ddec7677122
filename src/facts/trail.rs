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
}

/// What was looked up in CloudTrail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trail {
    pub events: Vec<TrailEvent>,
    /// Per session looked up completely: how far back the lookup reached (`None`: the whole 90
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
        let text = |v: &Value| v.as_str().map(str::to_string);
        let identity = &record.user_identity;
        let parameters = &record.request_parameters;
        Ok(TrailEvent {
            id: self.event_id,
            time,
            name: record.event_name,
            source: record.event_source,
            username: self.username,
            error_code: record.error_code,
            error_message: record.error_message,
            principal: text(&identity["arn"]),
            role: text(&identity["sessionContext"]["sessionIssuer"]["arn"]),
            repository: text(&parameters["repositoryName"]),
            registry: text(&parameters["registryId"]),
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
