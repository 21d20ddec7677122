//! The live read in stages, run for each page of pods as it arrives. Each stage asks for what
//! the stages before it found (small typed keys: pods, node names, role ARNs, repositories),
//! makes its calls concurrently under the session's bound, and records what it found in the
//! read's [`Shared`] state as documents in the AWS CLI's shapes ([`crate::facts::aws`]) and
//! Kubernetes objects, with every lookup's end as a gap or a coverage. Each lookup is memoized
//! there: pages that need the same thing share one fetch. Stages that need nothing from each
//! other run together.

use super::kube;
use super::memo::{Batches, Kept, Memo, lock};
use crate::facts::RepoKey;
use crate::facts::aws::*;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(super) use super::found::{Found, sort_values};

mod compute;
mod ecr;
mod iam;
mod identity;
mod network;
mod objects;
mod pods;
mod trail;

pub(crate) use self::iam::fetch_policy;
pub(super) use self::{
    compute::*, ecr::*, iam::*, identity::*, network::*, objects::*, pods::*, trail::*,
};

/// A registry in a Region.
pub(super) type Registry = (String, String);

/// The VPCs of a batch of instances or interfaces.
type Vpcs = Arc<Vec<Option<String>>>;

/// A Pod Identity association: namespace, ServiceAccount, id.
type Association = (String, String, String);

/// One read's state: what was found so far, and each kind of lookup memoized (see [`Memo`]),
/// so that the pods of every page share one fetch of each thing.
#[derive(Default)]
pub(super) struct Shared {
    found: Mutex<Found>,
    cluster_name: Memo<(), Result<String, String>>,
    account: Memo<(), Result<Arc<Account>, String>>,
    service_accounts: Memo<String, Arc<Vec<ServiceAccount>>>,
    secrets: Memo<String, ()>,
    nodes: Memo<String, Option<Arc<Node>>>,
    workloads: Memo<(String, String, String), ()>,
    cluster: Memo<(), ClusterRead>,
    nodegroups: Memo<String, Option<String>>,
    fargate_profiles: Memo<String, Option<String>>,
    node_classes: Memo<kube::NodeClass, Option<String>>,
    node_role_candidates: Memo<(), Vec<String>>,
    associations: Memo<(), Option<Arc<Vec<Association>>>>,
    association_roles: Memo<String, String>,
    pod_identity_agent: Memo<(), ()>,
    listings: Memo<Registry, Option<Arc<BTreeSet<String>>>>,
    images: Memo<RepoKey, Option<Arc<Vec<ImageDetail>>>>,
    repository_policies: Memo<RepoKey, ()>,
    manifests: Memo<(RepoKey, String), ()>,
    roles: Memo<String, Option<Arc<RoleDetail>>>,
    providers: Memo<String, ()>,
    policies: Memo<String, Option<Arc<ManagedPolicyDetail>>>,
    cache_rules: Memo<Registry, Arc<Vec<CacheRule>>>,
    registry_policies: Memo<Registry, ()>,
    validated: Memo<CacheRule, ()>,
    instances: Batches<String, Vpcs>,
    interfaces: Batches<String, Vpcs>,
    vpcs: Memo<String, ()>,
    /// CloudTrail lookups, by key: a session (a node's instance id) or a Region's calls of one
    /// name.
    trail: Memo<String, ()>,
}

/// A lookup that recorded a document found something.
fn recorded<V>(_: &V, found: &Found) -> bool {
    !found.documents.is_empty()
}

/// Declares [`KeptLookups`]: each kept lookup's name (as in [`Shared`]), key, value, and which
/// values are worth keeping.
macro_rules! kept_lookups {
    ($($name:ident: $key:ty => $value:ty, $worth:expr;)*) => {
        /// The AWS lookups a session keeps across its reads (see [`Kept`]): those the pods of
        /// a busy cluster ask for again and again. An image listing, a repository listing and
        /// a cache rule's validation are always asked anew: a pushed tag, a created repository
        /// or a mended upstream must be seen at once.
        pub(in crate::source::live) struct KeptLookups {
            $($name: Arc<Kept<$key, $value>>,)*
        }

        impl Default for KeptLookups {
            fn default() -> Self {
                KeptLookups { $($name: Arc::new(Kept::new($worth)),)* }
            }
        }

        impl KeptLookups {
            /// Forgets what is `age` old or older.
            pub fn forget_older_than(&self, age: Duration) {
                $(self.$name.forget_older_than(age);)*
            }

            /// How many lookups are kept.
            pub fn len(&self) -> usize {
                0 $(+ self.$name.len())*
            }
        }

        impl Shared {
            /// One read's state that uses the lookups `kept` holds when younger than `reuse`,
            /// and keeps its own there.
            pub fn reusing(kept: &KeptLookups, reuse: Duration) -> Shared {
                Shared {
                    $($name: Memo::kept(&kept.$name, reuse),)*
                    ..Shared::default()
                }
            }
        }
    };
}

kept_lookups! {
    cluster: () => ClusterRead, recorded;
    nodegroups: String => Option<String>, |role, _| role.is_some();
    fargate_profiles: String => Option<String>, |role, _| role.is_some();
    association_roles: String => String, |role: &String, _| !role.is_empty();
    repository_policies: RepoKey => (), recorded;
    manifests: (RepoKey, String) => (), recorded;
    roles: String => Option<Arc<RoleDetail>>, |role, _| role.is_some();
    providers: String => (), recorded;
    policies: String => Option<Arc<ManagedPolicyDetail>>, |policy, _| policy.is_some();
    cache_rules: Registry => Arc<Vec<CacheRule>>, |rules: &Arc<Vec<_>>, _| !rules.is_empty();
    registry_policies: Registry => (), recorded;
    vpcs: String => (), recorded;
}

impl Shared {
    /// Adds to what was found.
    pub fn record(&self, add: impl FnOnce(&mut Found)) {
        add(&mut lock(&self.found));
    }

    /// The roles and managed policies read, as one partial listing: a role not read stays
    /// unknown.
    pub fn authorization_details(&self) -> AuthorizationDetails {
        let roles = self.roles.values().into_iter().flatten();
        let policies = self.policies.values().into_iter().flatten();
        AuthorizationDetails {
            roles: roles.map(|r| (*r).clone()).collect(),
            policies: policies.map(|p| (*p).clone()).collect(),
            partial: true,
        }
    }

    /// A copy of everything found so far, with the roles and policies read so far.
    pub fn snapshot(&self) -> Found {
        let mut found = lock(&self.found).clone();
        found.push_document(&self.authorization_details());
        found.in_stable_order();
        found
    }

    /// Everything found, in a stable order.
    pub fn into_found(self) -> Found {
        let mut found = self.found.into_inner().unwrap_or_else(|e| e.into_inner());
        found.in_stable_order();
        found
    }
}

pub(super) fn label<'a>(
    object: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    object.labels.as_ref()?.get(key).map(String::as_str)
}
