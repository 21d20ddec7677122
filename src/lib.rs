//! pulldoctor: why pods on Amazon EKS cannot pull their images from Amazon ECR.
//!
//! Flow: sources (bundle, snapshot, demo) → [`facts::Facts`] → [`diagnose::diagnose`] (pure) →
//! [`report::Report`] → text, JSON or the TUI.

pub mod agent;
pub mod chain;
pub mod cmd;
pub mod collect;
pub mod diagnose;
pub mod ecr;
pub mod facts;
pub mod fix;
pub mod iam;
pub mod mcp;
pub mod report;
pub mod scenario;
pub mod source;
pub mod text;
pub mod tui;
pub mod wizard;
