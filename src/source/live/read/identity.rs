//! Stage 3a and 3c: who the credentials are, and the app identities the pods' ServiceAccounts
//! name (IRSA roles, `ecr-role-arn`, Pod Identity associations).

use super::*;
use crate::facts::scope;
use crate::iam::arn;
use crate::source::live::session::Session;
use crate::source::live::{aws, kube};
use futures::future::join_all;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Stage 3a: who the credentials are, their organization, and the account's OIDC providers.
pub(in crate::source::live) struct Account {
    pub account: Option<String>,
    pub providers: Vec<String>,
}

/// Errors that mean no AWS call can work with these credentials: said once, not per link.
const NO_USABLE_CREDENTIALS: [&str; 5] = [
    aws::NO_CREDENTIALS,
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
];

/// Who the credentials are (read once, beside the first page of pods); an error when no AWS
/// call can work with them.
pub(in crate::source::live) async fn account(
    session: &Session,
    shared: &Shared,
) -> Result<Arc<Account>, String> {
    shared
        .account
        .once(&shared.found, (), async {
            match read_account(session).await {
                Ok((account, found)) => (Ok(Arc::new(account)), found),
                Err(message) => (Err(message), Found::default()),
            }
        })
        .await
}

async fn read_account(session: &Session) -> Result<(Account, Found), String> {
    let aws = &session.aws;
    let mut found = Found::default();
    let (caller, organization, providers) = tokio::join!(
        aws.call(
            "sts:GetCallerIdentity",
            "the current credentials",
            aws.sts.get_caller_identity().send()
        ),
        aws.call(
            "organizations:DescribeOrganization",
            "the account",
            aws.organizations.describe_organization().send()
        ),
        aws.call(
            "iam:ListOpenIDConnectProviders",
            "the account",
            aws.iam.list_open_id_connect_providers().send()
        ),
    );
    let account = match caller {
        Ok(c) => {
            let identity = CallerIdentity {
                account: c.account().unwrap_or_default().to_string(),
                arn: c.arn().unwrap_or_default().to_string(),
                user_id: c.user_id().unwrap_or_default().to_string(),
            };
            found.push_document(&identity);
            Some(identity.account)
        }
        Err(e) if e.is(&NO_USABLE_CREDENTIALS) => return Err(e.message),
        Err(e) => {
            found.gaps.problems.push(e.message);
            None
        }
    };
    // The organization settles `aws:PrincipalOrgID` conditions; an account in none is a fact.
    match organization {
        Ok(out) => found.push_document(&DescribeOrganization {
            organization: out.organization().map(|o| Organization {
                id: o.id().unwrap_or_default().to_string(),
            }),
        }),
        Err(e) if e.is(&["AWSOrganizationsNotInUseException"]) => {
            found.push_document(&DescribeOrganization { organization: None })
        }
        Err(e) => found.gaps.error(scope::ORGANIZATION, &e.message),
    }
    let providers_scope = scope::oidc_providers(account.as_deref().unwrap_or_default());
    let providers = match providers {
        Ok(out) => {
            let arns: Vec<String> = out
                .open_id_connect_provider_list()
                .iter()
                .filter_map(|p| p.arn().map(str::to_string))
                .collect();
            found.push_document(&ListOidcProviders {
                providers: arns
                    .iter()
                    .map(|arn| OidcProviderEntry { arn: arn.clone() })
                    .collect(),
            });
            found.gaps.covered(&providers_scope);
            arns
        }
        Err(e) => {
            found.gaps.error(&providers_scope, &e.message);
            Vec::new()
        }
    };
    Ok((Account { account, providers }, found))
}

/// Stage 3c: the roles the pods' ServiceAccounts name (IRSA, `ecr-role-arn`) and their Pod
/// Identity associations' roles.
pub(in crate::source::live) async fn identities(
    session: &Session,
    shared: &Shared,
    cluster: &str,
    namespace: Option<&str>,
    wanted: &BTreeSet<(String, String)>,
    objects: &Objects,
) -> BTreeSet<String> {
    let mut roles: BTreeSet<String> = BTreeSet::new();
    for sa in &objects.service_accounts {
        let key = (
            sa.metadata.namespace.clone().unwrap_or_default(),
            sa.metadata.name.clone().unwrap_or_default(),
        );
        let annotations = sa
            .metadata
            .annotations
            .as_ref()
            .filter(|_| wanted.contains(&key));
        for annotation in [
            "eks.amazonaws.com/role-arn",
            "eks.amazonaws.com/ecr-role-arn",
        ] {
            if let Some(value) = annotations.and_then(|a| a.get(annotation))
                && arn::is_well_formed_role_arn(value)
            {
                roles.insert(value.clone());
            }
        }
    }
    let (aws, into) = (&session.aws, &shared.found);
    let listed = shared
        .associations
        .once(into, (), async {
            let mut found = Found::default();
            match pod_identity_associations(aws, cluster, namespace).await {
                Ok(list) => {
                    found.gaps.covered(scope::POD_IDENTITY);
                    (Some(Arc::new(list)), found)
                }
                Err(e) => {
                    found.gaps.error(scope::POD_IDENTITY, &e.message);
                    (None, found)
                }
            }
        })
        .await;
    let Some(listed) = listed else {
        return roles;
    };
    let associated = listed
        .iter()
        .any(|(ns, sa, _)| wanted.contains(&(ns.clone(), sa.clone())));
    // Associations give credentials only through the agent on each node: read its DaemonSet once.
    let agent = async {
        if associated {
            shared
                .pod_identity_agent
                .once(into, (), async {
                    let mut found = Found::default();
                    match session
                        .kube
                        .workload("DaemonSet", "kube-system", "eks-pod-identity-agent")
                        .await
                    {
                        Ok(daemonset) => found.items.push(daemonset),
                        Err(e) => kube::record(&mut found.gaps, scope::POD_IDENTITY_AGENT, e),
                    }
                    ((), found)
                })
                .await
        }
    };
    let (described, ()) = tokio::join!(
        join_all(
            listed
                .iter()
                .filter(|(ns, sa, _)| wanted.contains(&(ns.clone(), sa.clone())))
                .map(|(ns, sa, id)| {
                    shared.association_roles.once(into, id.clone(), async move {
                        let mut found = Found::default();
                        let document = match association(aws, cluster, ns, sa, id).await {
                            Ok(document) => document,
                            Err((document, message)) => {
                                found.gaps.problems.push(message);
                                document
                            }
                        };
                        found.push_document(&document);
                        (document.association.role_arn, found)
                    })
                }),
        ),
        agent
    );
    roles.extend(described.into_iter().filter(|role| !role.is_empty()));
    roles
}

/// One Pod Identity association with its role; when it cannot be described, the association
/// without a role and why.
pub(in crate::source::live) async fn association(
    aws: &aws::Aws,
    cluster: &str,
    namespace: &str,
    service_account: &str,
    id: &str,
) -> Result<DescribePodIdentityAssociation, (DescribePodIdentityAssociation, String)> {
    let request = aws
        .eks
        .describe_pod_identity_association()
        .cluster_name(cluster)
        .association_id(id);
    let answer = aws
        .call("eks:DescribePodIdentityAssociation", id, request.send())
        .await;
    let role = answer.as_ref().ok().and_then(|o| {
        o.association()
            .and_then(|a| a.role_arn())
            .map(str::to_string)
    });
    let created_at = answer.as_ref().ok().and_then(|o| {
        o.association()?
            .created_at()?
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .ok()
    });
    let document = DescribePodIdentityAssociation {
        association: PodIdentityAssociation {
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
            role_arn: role.unwrap_or_default(),
            association_id: Some(id.to_string()),
            target_role_arn: None,
            created_at,
        },
    };
    match answer {
        Ok(_) => Ok(document),
        Err(e) => Err((document, e.message)),
    }
}

/// Every association of the cluster (or namespace): namespace, ServiceAccount, id.
pub(in crate::source::live) async fn pod_identity_associations(
    aws: &aws::Aws,
    cluster: &str,
    namespace: Option<&str>,
) -> Result<Vec<(String, String, String)>, aws::AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = aws
            .eks
            .list_pod_identity_associations()
            .cluster_name(cluster);
        if let Some(ns) = namespace {
            request = request.namespace(ns);
        }
        if let Some(t) = &token {
            request = request.next_token(t);
        }
        let page = aws
            .call("eks:ListPodIdentityAssociations", cluster, request.send())
            .await?;
        for a in page.associations() {
            out.push((
                a.namespace().unwrap_or_default().to_string(),
                a.service_account().unwrap_or_default().to_string(),
                a.association_id().unwrap_or_default().to_string(),
            ));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}
