//! IAM: ARNs, policy documents, evaluation, and built-in copies of AWS managed policies.

pub mod arn;
pub mod eval;
pub mod managed;
pub mod policy;
