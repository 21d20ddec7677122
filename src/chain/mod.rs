//! The chain's two lanes for one subject (a container of a pod, or a workload whose pods cannot
//! be created): the pull lane (what the kubelet pulls with) and the app-identity lane (what the
//! application runs as). Pure: facts in, link outcomes out. The diagnosis assembles findings
//! from them and the fix planner reads them; neither sees the other.

pub mod access;
pub mod events;
mod firewall;
pub mod history;
pub mod identity_lane;
pub mod network;
pub mod outcome;
pub mod pull_identity;
pub mod pull_lane;
pub mod registry;
pub mod trail;
pub mod trust;
pub mod web_identity;

use crate::ecr::reference::{self, ImageRef};
use crate::facts::pod::Pod;
use crate::facts::{Fact, Facts};
use events::PullError;
use k8s_openapi::api::core::v1::ServiceAccount;
use pull_identity::{AnnotatedPullRole, Resolution};

/// Everything the links of one finding look at, gathered once.
pub struct Subject<'a> {
    pub facts: &'a Facts,
    pub namespace: String,
    pub pod: Option<&'a Pod>,
    pub workload: Option<String>,
    pub container: String,
    pub image: String,
    pub state: String,
    pub waiting_reason: Option<String>,
    /// The container cannot pull (or, for a workload, no pod exists).
    pub failing: bool,
    /// The container's status carries an image ID: the pull lane worked.
    pub pulled: bool,
    /// The latest detailed pull-failure message and its class.
    pub event: Option<String>,
    pub pull_error: Option<PullError>,
    pub service_account_name: String,
    pub service_account: Fact<&'a ServiceAccount>,
    pub image_ref: Result<ImageRef, reference::ReferenceError>,
    pub pull_identity: Resolution,
    /// The role the ServiceAccount's `ecr-role-arn` names (tenant-writable), and whether the
    /// node is shown to pull with it.
    pub annotated_pull_role: Option<AnnotatedPullRole>,
    /// Environment variables of the container spec (what the webhook injected).
    pub env: Vec<(String, String)>,
    /// Containers the pod identity webhook was told to skip.
    pub skipped_by_webhook: bool,
    pub ephemeral: bool,
    /// The controller's word on why pods are not created.
    pub create_failure: Option<String>,
    /// This is the pod's sandbox (pause) image, not one of its containers.
    pub sandbox: bool,
}
