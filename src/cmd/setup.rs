//! The setup's reads and its check, shared by the `wizard` command and the TUI's wizard: the
//! cluster's facts with what the setup names folded in, and a pod of the new ServiceAccount
//! diagnosed once the setup is applied.

use super::load::read_live;
use crate::cmd::{self as cli, Failure, Global};
use crate::diagnose::{self, Selection};
use crate::facts::Facts;
use crate::report::Status;
use crate::source::live::Session;
use crate::source::live::setup::{SetupTarget, collect_setup};
use crate::wizard::{Answers, Setup};

/// `base` (the cluster as read for a diagnosis) with the setup's own reads folded in: the
/// namespace's ServiceAccounts, the Pod Identity agent, the chosen role and repositories.
pub async fn setup_facts(
    session: &Session,
    mut base: Facts,
    answers: &Answers,
) -> Result<Facts, Failure> {
    let account = base
        .account()
        .ok_or_else(|| Failure("the account is unknown (sts:GetCallerIdentity failed)".into()))?;
    let region = base.region().unwrap_or_else(|| "us-east-1".into());
    let keys = crate::wizard::repository_keys(answers, &account, &region).map_err(Failure)?;
    let cluster = base.cluster_name();
    let role_name = answers.role_name.clone().unwrap_or_else(|| {
        format!(
            "{cluster}-{}-{}",
            answers.namespace, answers.service_account
        )
    });
    let role_arn = crate::iam::arn::iam(
        crate::iam::arn::partition_for_region(&region),
        &account,
        &format!("role/{role_name}"),
    );
    let target = SetupTarget {
        caller_account: &account,
        cluster: &cluster,
        namespace: &answers.namespace,
        service_account: Some(&answers.service_account),
        role_arn: &role_arn,
        repositories: &keys,
    };
    fold_setup_reads(session, &mut base, &target).await;
    Ok(base)
}

async fn fold_setup_reads(session: &Session, facts: &mut Facts, target: &SetupTarget<'_>) {
    let documents = collect_setup(session, target).await;
    facts.fold_in(crate::facts::ingest::ingest(&documents));
}

/// A pod of the new ServiceAccount, diagnosed against freshly read facts: its chain as text, and
/// whether it is in order.
pub async fn verify(
    global: &Global,
    session: &Session,
    setup: &Setup,
) -> Result<(String, bool), Failure> {
    let answers = &setup.answers;
    let mut facts = read_live(session, &cli::live_options(global, true)).await?;
    let target = SetupTarget {
        caller_account: &setup.account,
        cluster: &setup.cluster,
        namespace: &answers.namespace,
        service_account: Some(&answers.service_account),
        role_arn: &setup.role_arn,
        repositories: &setup.repositories,
    };
    fold_setup_reads(session, &mut facts, &target).await;
    let Some(pod) = crate::wizard::verification_pod(setup, &facts) else {
        return Ok(("no repository to check a pod against\n".into(), true));
    };
    let checked = crate::facts::ingest::ingest(&[crate::facts::ingest::Document {
        origin: "setup-check".into(),
        value: pod,
    }]);
    facts.pods.extend(checked.pods);
    let subject = format!("{}/pulldoctor-setup-check", answers.namespace);
    let report = diagnose::diagnose(
        &facts,
        &Selection {
            all: true,
            pods: vec![subject],
            ..Default::default()
        },
    );
    let mut text = String::new();
    for f in &report.findings {
        crate::report::text::render_finding(&mut text, f);
    }
    let ok = report
        .findings
        .iter()
        .all(|f| matches!(f.verdict, Status::Ok | Status::Warning));
    Ok((text, ok))
}
