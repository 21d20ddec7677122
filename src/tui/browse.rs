//! Read-only browsing of the cluster's identity wiring: ServiceAccounts, roles and repositories,
//! each with the pods that use it. Built from the report, so it shows what the diagnosis saw.

use crate::ecr::reference::{self, ImageRef};
use crate::iam::arn;
use crate::report::{AppIdentityKind, Finding, LinkId, PullIdentityKind, Report, Status};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ServiceAccounts,
    Roles,
    Repositories,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::ServiceAccounts => "ServiceAccounts",
            Kind::Roles => "IAM roles",
            Kind::Repositories => "ECR repositories",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<String>,
    /// The worst status among what the row stands for, for its colour.
    pub status: Status,
    pub title: String,
    /// What is shown above the related pods (which the view lists from `findings`).
    pub details: Vec<String>,
    pub findings: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Row>,
}

pub fn table(kind: Kind, report: &Report, namespace: Option<&str>) -> Table {
    let in_scope: Vec<usize> = (0..report.findings.len())
        .filter(|&i| namespace.is_none_or(|ns| report.findings[i].namespace == ns))
        .collect();
    match kind {
        Kind::ServiceAccounts => service_accounts(report, &in_scope),
        Kind::Roles => roles(report, &in_scope),
        Kind::Repositories => repositories(report, &in_scope),
    }
}

fn link_status(f: &Finding, id: LinkId) -> Status {
    f.link(id).map(|l| l.status).unwrap_or(Status::Skipped)
}

/// The worst status that applies; skipped only when nothing applied.
fn worst(statuses: impl Iterator<Item = Status>) -> Status {
    statuses
        .filter(|s| *s != Status::Skipped)
        .max()
        .unwrap_or(Status::Skipped)
}

/// How a status reads in a table cell: `-` for what does not apply.
fn cell(status: Status) -> String {
    match status {
        Status::Skipped => "-".to_string(),
        s => s.as_str().to_string(),
    }
}

fn service_accounts(report: &Report, scope: &[usize]) -> Table {
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for &i in scope {
        let f = &report.findings[i];
        groups
            .entry((f.namespace.clone(), f.service_account.clone()))
            .or_default()
            .push(i);
    }
    let rows = groups
        .into_iter()
        .map(|((ns, name), findings)| {
            let first = &report.findings[findings[0]];
            let identity = match first.app_identity.kind {
                AppIdentityKind::Irsa => "IRSA",
                AppIdentityKind::PodIdentity => "Pod Identity",
                AppIdentityKind::None => "none",
                AppIdentityKind::Malformed => "malformed",
                AppIdentityKind::Unknown => "unknown",
            };
            let role = first
                .app_identity
                .role_arn
                .as_deref()
                .map(arn::role_name_of)
                .unwrap_or_else(|| "-".into());
            let trust = worst(
                findings
                    .iter()
                    .map(|&i| link_status(&report.findings[i], LinkId::TrustPolicy)),
            );
            let exists = link_status(first, LinkId::ServiceAccount);
            let mut details = vec![
                format!(
                    "ServiceAccount {ns}/{name}: {}",
                    first
                        .link(LinkId::ServiceAccount)
                        .map(|l| l.summary.as_str())
                        .unwrap_or("")
                ),
                format!(
                    "identity: {identity}{}",
                    first
                        .app_identity
                        .role_arn
                        .as_deref()
                        .map(|r| format!(" → {r}"))
                        .unwrap_or_default()
                ),
            ];
            if let Some(t) = first.link(LinkId::TrustPolicy) {
                details.push(format!("trust: {} — {}", t.status.as_str(), t.summary));
            }
            Row {
                cells: vec![
                    ns.clone(),
                    name.clone(),
                    identity.to_string(),
                    role,
                    findings.len().to_string(),
                    cell(trust),
                ],
                status: worst([trust, exists].into_iter()),
                title: format!("ServiceAccount {ns}/{name}"),
                details,
                findings,
            }
        })
        .collect();
    Table {
        headers: vec![
            "NAMESPACE",
            "SERVICEACCOUNT",
            "IDENTITY",
            "ROLE",
            "PODS",
            "TRUST",
        ],
        rows,
    }
}

fn roles(report: &Report, scope: &[usize]) -> Table {
    struct Use {
        how: Vec<&'static str>,
        by: Vec<String>,
        findings: Vec<usize>,
        statuses: Vec<Status>,
    }
    let mut groups: BTreeMap<String, Use> = BTreeMap::new();
    let mut add = |role: &str, how: &'static str, by: String, i: usize, status: Status| {
        let u = groups.entry(role.to_string()).or_insert_with(|| Use {
            how: vec![],
            by: vec![],
            findings: vec![],
            statuses: vec![],
        });
        if !u.how.contains(&how) {
            u.how.push(how);
        }
        if !u.by.contains(&by) {
            u.by.push(by);
        }
        if !u.findings.contains(&i) {
            u.findings.push(i);
        }
        u.statuses.push(status);
    };
    for &i in scope {
        let f = &report.findings[i];
        let pull_roles: Vec<String> = f
            .pull_identity
            .arn
            .iter()
            .cloned()
            .chain(f.pull_identity.candidates.iter().cloned())
            .collect();
        let how = match f.pull_identity.kind {
            PullIdentityKind::FargateRole => "Fargate pull",
            PullIdentityKind::ServiceAccountRole => "ecr-role-arn pull",
            _ => "node pull",
        };
        for role in pull_roles {
            let by = f.pull_identity.resolved_from.clone().unwrap_or_default();
            add(
                &role,
                how,
                by,
                i,
                worst(
                    [
                        link_status(f, LinkId::NodeRole),
                        link_status(f, LinkId::PullPermissions),
                    ]
                    .into_iter(),
                ),
            );
        }
        if let Some(role) = &f.app_identity.role_arn {
            if f.app_identity.kind == AppIdentityKind::Malformed {
                continue;
            }
            let how = if f.app_identity.kind == AppIdentityKind::PodIdentity {
                "app (Pod Identity)"
            } else {
                "app (IRSA)"
            };
            add(
                role,
                how,
                format!("ServiceAccount {}/{}", f.namespace, f.service_account),
                i,
                worst(
                    [LinkId::Role, LinkId::TrustPolicy, LinkId::OidcProvider]
                        .iter()
                        .map(|&l| link_status(f, l)),
                ),
            );
        }
    }
    let rows = groups
        .into_iter()
        .map(|(role, u)| {
            let status = worst(u.statuses.iter().copied());
            let mut details = vec![
                format!("role {role}"),
                format!("used as: {}", u.how.join(", ")),
                "by:".to_string(),
            ];
            details.extend(u.by.iter().map(|b| format!("  {b}")));
            Row {
                cells: vec![
                    arn::role_name_of(&role),
                    u.how.join(", "),
                    u.findings.len().to_string(),
                    cell(status),
                ],
                status,
                title: format!("role {}", arn::role_name_of(&role)),
                details,
                findings: u.findings,
            }
        })
        .collect();
    Table {
        headers: vec!["ROLE", "USED AS", "PODS", "STATUS"],
        rows,
    }
}

fn repositories(report: &Report, scope: &[usize]) -> Table {
    let mut groups: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for &i in scope {
        let f = &report.findings[i];
        if let Ok(ImageRef::Ecr(e)) = reference::parse(&f.image) {
            groups
                .entry((e.account, e.region, e.repository))
                .or_default()
                .push(i);
        }
    }
    let rows = groups
        .into_iter()
        .map(|((account, region, name), findings)| {
            let pull_links = [
                LinkId::Repository,
                LinkId::Image,
                LinkId::Platform,
                LinkId::PullPermissions,
                LinkId::RepositoryPolicy,
            ];
            let may = |f: &Finding| worst(pull_links.iter().map(|&l| link_status(f, l)));
            let ok = findings
                .iter()
                .filter(|&&i| may(&report.findings[i]) == Status::Ok)
                .count();
            let status = worst(findings.iter().map(|&i| may(&report.findings[i])));
            let mut details = vec![
                format!("repository {name} in {account} {region}"),
                "pulls:".to_string(),
            ];
            for &i in &findings {
                let f = &report.findings[i];
                let who = f
                    .pull_identity
                    .arn
                    .as_deref()
                    .map(arn::role_name_of)
                    .unwrap_or_else(|| "unknown pull identity".into());
                details.push(format!(
                    "  {} as {who}: pull-permissions {}, repository-policy {}",
                    f.subject(),
                    link_status(f, LinkId::PullPermissions).as_str(),
                    link_status(f, LinkId::RepositoryPolicy).as_str()
                ));
            }
            Row {
                cells: vec![
                    account.clone(),
                    region.clone(),
                    name.clone(),
                    findings.len().to_string(),
                    format!("{ok}/{}", findings.len()),
                ],
                status,
                title: format!("repository {name}"),
                details,
                findings,
            }
        })
        .collect();
    Table {
        headers: vec!["REGISTRY", "REGION", "REPOSITORY", "PODS", "MAY PULL"],
        rows,
    }
}
