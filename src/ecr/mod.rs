//! ECR: image references, registry hosts, manifests and platforms.

pub mod manifest;
pub mod reference;
