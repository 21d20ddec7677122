//! May this role pull from this repository? The identity side (its policies and boundary) and
//! the resource side (the repository policy), kept apart because they are two links.

use super::outcome::Outcome;
use crate::ecr::reference::EcrImage;
use crate::facts::{Fact, Facts, RepoKey, Role};
use crate::iam::arn;
use crate::iam::eval::{self, Caller, Context, Decision, Request, Sourced};
use crate::iam::policy::PolicyDocument;
use crate::report::{Cause, Status};

pub const TOKEN_ACTION: &str = "ecr:GetAuthorizationToken";
pub const PULL_ACTIONS: [&str; 2] = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];
pub const IMPORT_ACTION: &str = "ecr:BatchImportUpstreamImage";
/// A pull-through cache's first pull of a repository creates it, as the puller.
pub const CREATE_ACTION: &str = "ecr:CreateRepository";

/// What a pull through a pull-through cache asks of ECR beyond the pull itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CachePull {
    /// Not through a cache, or the image is cached already.
    #[default]
    Cached,
    /// A tag not yet cached, in a repository the cache made before: it is imported.
    Import,
    /// The first pull through the rule: the repository is created, then the image imported.
    CreateAndImport,
}

impl CachePull {
    /// The actions this adds to a pull.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            CachePull::Cached => &[],
            CachePull::Import => &[IMPORT_ACTION],
            CachePull::CreateAndImport => &[CREATE_ACTION, IMPORT_ACTION],
        }
    }
}

/// A role's identity-based policies with their names, plus what could not be read.
struct IdentityPolicies {
    documents: Vec<(String, PolicyDocument)>,
    unread: Vec<String>,
    notes: Vec<String>,
}

fn identity_policies(facts: &Facts, role: &Role) -> Option<IdentityPolicies> {
    let permissions = role.permissions.as_ref()?;
    let mut out = IdentityPolicies {
        documents: Vec::new(),
        unread: Vec::new(),
        notes: Vec::new(),
    };
    for (name, doc) in &permissions.inline {
        match doc {
            Ok(d) => out.documents.push((
                format!("inline policy {name} of role {}", role.name),
                d.clone(),
            )),
            Err(e) => out
                .unread
                .push(format!("inline policy {name} is malformed: {e}")),
        }
    }
    for policy_arn in &permissions.attached {
        match facts.managed_policy(policy_arn) {
            Fact::Known((doc, builtin)) => {
                if builtin {
                    out.notes.push(format!(
                        "{policy_arn} evaluated from pulldoctor's built-in copy of the AWS managed policy"
                    ));
                }
                out.documents
                    .push((format!("managed policy {policy_arn}"), doc));
            }
            Fact::Absent => {}
            Fact::Unknown(why) => out.unread.push(why),
        }
    }
    Some(out)
}

/// The condition keys the kubelet's ECR call carries, as far as the facts establish them.
/// Network keys stay unknown: no fact here says which VPC endpoint or address the call uses.
pub fn pull_context(facts: &Facts, role: &Role, image: &EcrImage) -> Context {
    let account = arn::account_of(&role.arn).unwrap_or_default();
    let mut context = Context::open();
    context
        .carried(&["aws:", "ecr:"])
        .set("aws:PrincipalArn", vec![role.arn.clone()])
        .set("aws:PrincipalAccount", vec![account.clone()])
        .set("aws:PrincipalType", vec!["AssumedRole".to_string()])
        .set("aws:PrincipalIsAWSService", vec!["false".to_string()])
        .set("aws:RequestedRegion", vec![image.region.clone()])
        .set("aws:SecureTransport", vec!["true".to_string()])
        .set("aws:ViaAWSService", vec!["false".to_string()])
        .set("aws:ResourceAccount", vec![image.account.clone()])
        .absent("aws:CalledVia")
        .absent("aws:CalledViaFirst")
        .absent("aws:CalledViaLast");
    let network = "the network path of the pull is not read";
    for key in [
        "aws:SourceVpce",
        "aws:SourceVpc",
        "aws:SourceIp",
        "aws:VpcSourceIp",
    ] {
        context.unknown(key, network);
    }
    match &role.tags {
        Some(tags) => {
            for (key, value) in tags {
                context.set(format!("aws:PrincipalTag/{key}"), vec![value.clone()]);
            }
            context.absent("aws:PrincipalTag/");
        }
        None => {
            context.unknown(
                "aws:PrincipalTag/",
                format!(
                    "the tags of role {} were not read: aws iam list-role-tags --role-name {}",
                    role.name,
                    crate::text::shell_quote(&role.name)
                ),
            );
        }
    }
    let same_account = facts.account().as_deref() == Some(account.as_str());
    match &facts.organization {
        Some(Some(id)) if same_account => {
            context.set("aws:PrincipalOrgID", vec![id.clone()]);
        }
        Some(None) if same_account => {
            context.absent("aws:PrincipalOrgID");
            context.absent("aws:PrincipalOrgPaths");
        }
        _ => {
            let why = if same_account {
                facts.unknown_reason(
                    crate::facts::scope::ORGANIZATION,
                    "the organization was not read: aws organizations describe-organization"
                        .to_string(),
                )
            } else {
                format!("the organization of account {account} was not read")
            };
            context.unknown("aws:PrincipalOrgID", why);
        }
    }
    context
}

/// The identity-side answer for one action on one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum IdentityAnswer {
    Allowed(Vec<String>),
    /// Denied: explicit deny (statement), implicit, or by the boundary.
    ExplicitDeny(Vec<String>),
    BoundaryDenies(String),
    NotAllowed,
    Unknown(String),
}

fn decide_identity(
    facts: &Facts,
    role: &Role,
    action: &str,
    resource: &str,
    context: &Context,
) -> (IdentityAnswer, Vec<String>) {
    let Some(policies) = identity_policies(facts, role) else {
        return (
            IdentityAnswer::Unknown(format!(
                "the permission policies of role {} were not read: aws iam list-attached-role-policies --role-name {0}; aws iam list-role-policies --role-name {0}",
                role.name
            )),
            Vec::new(),
        );
    };
    let sourced: Vec<Sourced<'_>> = policies
        .documents
        .iter()
        .map(|(source, document)| Sourced { source, document })
        .collect();
    let request = Request {
        action,
        resource: Some(resource),
        principal: None,
        context: context.clone(),
    };
    let result = eval::evaluate(&sourced, &request);
    let deciding: Vec<String> = result.deciding.iter().map(|s| s.to_string()).collect();
    let answer = match result.decision {
        Decision::ExplicitDeny => IdentityAnswer::ExplicitDeny(deciding),
        _ if !policies.unread.is_empty() => IdentityAnswer::Unknown(policies.unread.join("; ")),
        Decision::Indeterminate => {
            IdentityAnswer::Unknown(result.unknown_reason.unwrap_or_default())
        }
        Decision::ImplicitDeny => IdentityAnswer::NotAllowed,
        Decision::Allow => match boundary_allows(facts, role, action, resource, context) {
            Ok(()) => IdentityAnswer::Allowed(deciding),
            Err(Ok(why)) => IdentityAnswer::BoundaryDenies(why),
            Err(Err(unknown)) => IdentityAnswer::Unknown(unknown),
        },
    };
    (answer, policies.notes)
}

/// `Ok` when there is no boundary or it allows; `Err(Ok)` when it denies; `Err(Err)` unknown.
fn boundary_allows(
    facts: &Facts,
    role: &Role,
    action: &str,
    resource: &str,
    context: &Context,
) -> Result<(), Result<String, String>> {
    let Some(boundary) = &role.boundary_arn else {
        return Ok(());
    };
    let doc = match facts.managed_policy(boundary) {
        Fact::Known((doc, _)) => doc,
        Fact::Absent => return Err(Err(format!("permissions boundary {boundary} not found"))),
        Fact::Unknown(why) => return Err(Err(why)),
    };
    let source = format!("permissions boundary {boundary}");
    let result = eval::evaluate(
        &[Sourced {
            source: &source,
            document: &doc,
        }],
        &Request {
            action,
            resource: Some(resource),
            principal: None,
            context: context.clone(),
        },
    );
    match result.decision {
        Decision::Allow => Ok(()),
        Decision::Indeterminate => Err(Err(result.unknown_reason.unwrap_or_default())),
        Decision::ExplicitDeny => Err(Ok(format!(
            "{} denies {action}",
            result
                .deciding
                .first()
                .map(|s| s.to_string())
                .unwrap_or(source)
        ))),
        Decision::ImplicitDeny => Err(Ok(format!("{source} does not allow {action}"))),
    }
}

/// The resource-side answer: what the repository policy says to this role.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceAnswer {
    Allows(Vec<String>),
    Denies(Vec<String>),
    Silent,
    NoPolicy,
    Unknown(String),
}

/// What one resource policy (`source`) says to `role_arn` about `action` on `resource`.
fn resource_answer(
    source: &str,
    document: &PolicyDocument,
    role_arn: &str,
    action: &str,
    resource: &str,
    context: &Context,
) -> ResourceAnswer {
    let result = eval::evaluate(
        &[Sourced { source, document }],
        &Request {
            action,
            resource: Some(resource),
            principal: Some(Caller::Aws(role_arn)),
            context: context.clone(),
        },
    );
    let deciding = result.deciding.iter().map(|s| s.to_string()).collect();
    match result.decision {
        Decision::Allow => ResourceAnswer::Allows(deciding),
        Decision::ExplicitDeny => ResourceAnswer::Denies(deciding),
        Decision::ImplicitDeny => ResourceAnswer::Silent,
        Decision::Indeterminate => {
            ResourceAnswer::Unknown(result.unknown_reason.unwrap_or_default())
        }
    }
}

fn decide_repository(
    facts: &Facts,
    key: &RepoKey,
    role_arn: &str,
    action: &str,
    resource: &str,
    context: &Context,
) -> ResourceAnswer {
    if crate::ecr::reference::AWS_EKS_REGISTRIES.contains(&key.registry.as_str()) {
        return ResourceAnswer::Allows(vec![format!(
            "AWS's EKS image registry {} (every AWS account may pull)",
            key.registry
        )]);
    }
    match facts.repository_policy(key) {
        Fact::Absent => ResourceAnswer::NoPolicy,
        Fact::Unknown(why) => ResourceAnswer::Unknown(why),
        Fact::Known(Err(e)) => {
            ResourceAnswer::Unknown(format!("the repository policy is malformed: {e}"))
        }
        Fact::Known(Ok(doc)) => {
            let source = format!("the repository policy of {}", key.name);
            resource_answer(&source, doc, role_arn, action, resource, context)
        }
    }
}

/// The two links a pull identity's access fills: `pull-permissions` and `repository-policy`.
#[derive(Debug, Clone, PartialEq)]
pub struct PullAccess {
    pub identity: Outcome,
    pub repository: Outcome,
}

/// What the registry permissions policy says to this role. AWS counts it for what a
/// pull-through cache does on the puller's behalf (creating the repository, importing the
/// image), not for the pull itself.
fn decide_registry(
    facts: &Facts,
    key: &RepoKey,
    role_arn: &str,
    action: &str,
    resource: &str,
    context: &Context,
) -> ResourceAnswer {
    match facts.registry_policy(key) {
        Fact::Absent => ResourceAnswer::NoPolicy,
        Fact::Unknown(why) => ResourceAnswer::Unknown(why),
        Fact::Known(Err(e)) => {
            ResourceAnswer::Unknown(format!("the registry policy is malformed: {e}"))
        }
        Fact::Known(Ok(doc)) => {
            let source = format!("the registry policy of {} in {}", key.registry, key.region);
            resource_answer(&source, doc, role_arn, action, resource, context)
        }
    }
}

/// The repository's and the registry's policies together, for a cache action: a deny in
/// either wins, then an allow in either, then what could not be read.
fn combine(repository: ResourceAnswer, registry: ResourceAnswer) -> ResourceAnswer {
    use ResourceAnswer::*;
    match (repository, registry) {
        (Denies(mut a), Denies(b)) => {
            a.extend(b);
            Denies(a)
        }
        (Denies(by), _) | (_, Denies(by)) => Denies(by),
        (Allows(by), _) | (_, Allows(by)) => Allows(by),
        (Unknown(why), _) | (_, Unknown(why)) => Unknown(why),
        (Silent, _) | (_, Silent) => Silent,
        (NoPolicy, NoPolicy) => NoPolicy,
    }
}

/// Evaluates everything a pull of `image` by `role` needs; `cache` adds what a pull-through
/// cache does for an image not cached yet.
pub fn pull_access(facts: &Facts, role: &Role, image: &EcrImage, cache: CachePull) -> PullAccess {
    let role_account = arn::account_of(&role.arn).unwrap_or_default();
    let pull = Pull {
        facts,
        role,
        image,
        key: RepoKey::of(image),
        repo_arn: image.repository_arn(),
        cross_account: role_account != image.account,
        role_account,
        context: pull_context(facts, role, image),
    };
    let mut tally = Tally::default();
    let (token, token_outcome) = pull.token(&mut tally.notes);
    tally.identity = token_outcome.filter(|o| o.status == Status::Broken);
    for &action in PULL_ACTIONS.iter().chain(cache.actions()) {
        pull.weigh(action, &mut tally);
    }
    pull.finish(tally, matches!(token, IdentityAnswer::Unknown(_)))
}

/// One pull being evaluated: who pulls what, and the request's context.
struct Pull<'a> {
    facts: &'a Facts,
    role: &'a Role,
    image: &'a EcrImage,
    key: RepoKey,
    repo_arn: String,
    role_account: String,
    /// The role is of another account than the repository.
    cross_account: bool,
    context: Context,
}

/// What the pull's actions have shown so far: the first broken or unknown of each side.
#[derive(Default)]
struct Tally {
    identity: Option<Outcome>,
    identity_unknown: Option<String>,
    repository: Option<Outcome>,
    repository_unknown: Option<String>,
    notes: Vec<String>,
}

impl Pull<'_> {
    /// The token: no resource-level permissions, so only an allow on "*" counts.
    fn token(&self, notes: &mut Vec<String>) -> (IdentityAnswer, Option<Outcome>) {
        let (facts, role) = (self.facts, self.role);
        let (token, token_notes) = decide_identity(facts, role, TOKEN_ACTION, "*", &self.context);
        notes.extend(token_notes);
        let outcome = match &token {
            IdentityAnswer::Allowed(by) => {
                notes.push(format!("{TOKEN_ACTION} on * allowed by {}", by.join(", ")));
                None
            }
            IdentityAnswer::ExplicitDeny(by) => Some(Outcome::broken(
                Cause::PullExplicitDeny,
                format!("{} explicitly denies {TOKEN_ACTION}", by.join(", ")),
            )),
            IdentityAnswer::BoundaryDenies(why) => Some(Outcome::broken(
                Cause::PullBoundaryDenies,
                format!("role {} may not get an ECR token: {why}", role.name),
            )),
            IdentityAnswer::Unknown(why) => Some(Outcome::new(Status::Unknown, why.clone())),
            IdentityAnswer::NotAllowed => {
                let scoped =
                    decide_identity(facts, role, TOKEN_ACTION, &self.repo_arn, &self.context).0;
                Some(if matches!(scoped, IdentityAnswer::Allowed(_)) {
                    Outcome::broken(
                        Cause::AuthTokenNotWildcard,
                        format!(
                            "role {} allows {TOKEN_ACTION} only on specific resources; the action has no resource-level permissions and must be allowed on \"*\"",
                            role.name
                        ),
                    )
                } else {
                    Outcome::broken(
                        Cause::PullPermissionMissing,
                        format!("no policy of role {} allows {TOKEN_ACTION}", role.name),
                    )
                })
            }
        };
        (token, outcome)
    }

    /// One action of the pull, on the role's side and the repository's.
    fn weigh(&self, action: &str, tally: &mut Tally) {
        let (role, image) = (self.role, self.image);
        let (id, id_notes) =
            decide_identity(self.facts, role, action, &self.repo_arn, &self.context);
        for n in id_notes {
            if !tally.notes.contains(&n) {
                tally.notes.push(n);
            }
        }
        let (facts, key, context) = (self.facts, &self.key, &self.context);
        let mut resource =
            decide_repository(facts, key, &role.arn, action, &self.repo_arn, context);
        if [IMPORT_ACTION, CREATE_ACTION].contains(&action) {
            let registry = decide_registry(facts, key, &role.arn, action, &self.repo_arn, context);
            resource = combine(resource, registry);
        }
        if let ResourceAnswer::Denies(by) = &resource {
            tally.repository.get_or_insert(Outcome::broken(
                Cause::RepositoryPolicyDenies,
                format!("{} denies {action} to {}", by.join(", "), role.name),
            ));
            return;
        }
        match (&id, &resource) {
            (IdentityAnswer::ExplicitDeny(by), _) => {
                tally.identity.get_or_insert(Outcome::broken(
                    Cause::PullExplicitDeny,
                    format!("{} explicitly denies {action}", by.join(", ")),
                ));
            }
            (IdentityAnswer::BoundaryDenies(why), _) => {
                tally
                    .identity
                    .get_or_insert(Outcome::broken(Cause::PullBoundaryDenies, why.clone()));
            }
            (IdentityAnswer::Allowed(by), _) => {
                tally.notes.push(format!(
                    "{action} on {} allowed by {}",
                    image.repository,
                    by.join(", ")
                ));
            }
            (IdentityAnswer::Unknown(why), _) => {
                tally.identity_unknown.get_or_insert(why.clone());
            }
            (IdentityAnswer::NotAllowed, ResourceAnswer::Allows(by)) if !self.cross_account => {
                tally.notes.push(format!(
                    "{action} granted to {} by {}",
                    role.name,
                    by.join(", ")
                ));
            }
            (IdentityAnswer::NotAllowed, ResourceAnswer::Unknown(why)) if !self.cross_account => {
                let could = match [IMPORT_ACTION, CREATE_ACTION].contains(&action) {
                    true => "the repository or the registry policy",
                    false => "the repository policy",
                };
                tally.identity_unknown.get_or_insert(format!(
                    "no identity policy of role {} allows {action}; only {could} could ({why})",
                    role.name
                ));
            }
            (IdentityAnswer::NotAllowed, _) => {
                tally.identity.get_or_insert(self.not_allowed(action));
            }
        }
        self.weigh_repository(action, &resource, tally);
    }

    /// No policy of the role allows `action`.
    fn not_allowed(&self, action: &str) -> Outcome {
        let cause = if [IMPORT_ACTION, CREATE_ACTION].contains(&action) {
            Cause::PullThroughCacheImportMissing
        } else {
            Cause::PullPermissionMissing
        };
        let extra = if action == CREATE_ACTION {
            " (nor does the registry policy): the first pull through the pull-through cache creates the repository as the puller".to_string()
        } else if action == IMPORT_ACTION {
            " (nor does the registry policy): the pull-through cache imports an image not cached yet as the puller".to_string()
        } else if self.cross_account {
            format!(
                " (the repository is in account {}: the role's own policies must allow it too)",
                self.image.account
            )
        } else {
            String::new()
        };
        Outcome::broken(
            cause,
            format!(
                "no policy of role {} allows {action} on {}{extra}",
                self.role.name, self.image.repository
            ),
        )
    }

    /// The repository's side of `action`: across accounts its policy must allow it.
    fn weigh_repository(&self, action: &str, resource: &ResourceAnswer, tally: &mut Tally) {
        if !self.cross_account {
            if let ResourceAnswer::Unknown(why) = resource {
                tally.repository_unknown.get_or_insert(why.clone());
            }
            return;
        }
        match resource {
            ResourceAnswer::Allows(by) => tally.notes.push(format!(
                "{action} granted across accounts by {}",
                by.join(", ")
            )),
            ResourceAnswer::Unknown(why) => {
                tally.repository_unknown.get_or_insert(why.clone());
            }
            ResourceAnswer::Silent => {
                tally.repository.get_or_insert(Outcome::broken(
                    Cause::CrossAccountNotAllowed,
                    format!(
                        "repository {} is in account {}, and its policy does not allow {action} to role {} of account {}",
                        self.image.repository, self.image.account, self.role.name, self.role_account
                    ),
                ));
            }
            // Said as it is: there is no policy to read, not one that leaves the action out.
            ResourceAnswer::NoPolicy => {
                let mut outcome = Outcome::broken(
                    Cause::CrossAccountNotAllowed,
                    format!(
                        "repository {} is in account {} and has no repository policy, so no other account may pull from it (role {} is in account {})",
                        self.image.repository,
                        self.image.account,
                        self.role.name,
                        self.role_account
                    ),
                );
                outcome.evidence.push(format!(
                    "repository policy of {}: none",
                    self.image.repository
                ));
                tally.repository.get_or_insert(outcome);
            }
            ResourceAnswer::Denies(_) => {}
        }
    }

    /// The two outcomes: the first broken of each side, else the first unknown, else ok.
    fn finish(&self, tally: Tally, token_unknown: bool) -> PullAccess {
        let (role, image) = (self.role, self.image);
        let identity = tally
            .identity
            .unwrap_or_else(|| match tally.identity_unknown {
                Some(why) => Outcome::new(Status::Unknown, why),
                None if token_unknown => Outcome::new(
                    Status::Unknown,
                    "the token permission could not be evaluated",
                ),
                None => Outcome::new(
                    Status::Ok,
                    format!(
                        "role {} may get a token and pull from {}",
                        role.name, image.repository
                    ),
                ),
            });
        let repository = tally
            .repository
            .unwrap_or_else(|| match tally.repository_unknown {
                Some(why) => Outcome::new(Status::Unknown, why),
                None if self.cross_account => Outcome::new(
                    Status::Ok,
                    format!(
                        "the repository policy allows role {} of account {}",
                        role.name, self.role_account
                    ),
                ),
                None => Outcome::new(
                    Status::Ok,
                    "the repository policy denies nothing to this role",
                ),
            });
        PullAccess {
            identity: identity.with_evidence(tally.notes),
            repository,
        }
    }
}
