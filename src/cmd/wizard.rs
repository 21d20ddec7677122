//! `pulldoctor wizard`: the setup of a new app by flags — checked, planned, then exported or
//! applied through the fixes' writer and verified.

use crate::cmd::{self as cli, Failure, Global};
use crate::diagnose::{self, Selection};
use crate::facts::Facts;
use crate::fix::apply::{self, WritePermission, Writer};
use crate::iam::policy::PolicyDocument;
use crate::report::Status;
use crate::wizard::{Answers, Mode, Setup};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Irsa,
    PodIdentity,
}

#[derive(Debug, Args)]
pub struct WizardArgs {
    /// The app's ServiceAccount (the namespace is -n / --namespace).
    #[arg(long)]
    pub service_account: Option<String>,
    /// An ECR repository the app's images come from: a name in the cluster's registry, or a
    /// repository URI of another account or region. Repeat for several.
    #[arg(long = "repository", value_name = "REPOSITORY")]
    pub repositories: Vec<String>,
    /// IRSA or EKS Pod Identity (default: Pod Identity where its agent runs, else IRSA).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// The app's role (default: CLUSTER-NAMESPACE-SERVICEACCOUNT).
    #[arg(long)]
    pub role_name: Option<String>,
    /// A permissions boundary for the role.
    #[arg(long, value_name = "ARN")]
    pub permissions_boundary: Option<String>,
    /// The AWS permissions the app itself needs, as an IAM policy document.
    #[arg(long, value_name = "FILE", conflicts_with = "allow")]
    pub app_policy: Option<PathBuf>,
    /// Or as a short list: one permission per flag, ACTION=RESOURCE
    /// (e.g. s3:GetObject=arn:aws:s3:::orders/*).
    #[arg(long, value_name = "ACTION=RESOURCE")]
    pub allow: Vec<String>,
    /// Write the setup as files (Kubernetes YAML, JSON policies, a shell script, Terraform).
    #[arg(long, value_name = "DIR", conflicts_with = "apply")]
    pub export: Option<PathBuf>,
    /// With --export: overwrite files that exist (a symlink is replaced, never followed).
    #[arg(long, requires = "export")]
    pub force: bool,
    /// Apply the setup (needs --allow-writes), then diagnose the new ServiceAccount.
    #[arg(long)]
    pub apply: bool,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Where backups and the change log go.
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

fn answers(global: &Global, args: &WizardArgs) -> Result<Answers, Failure> {
    let app_policy = match &args.app_policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
            Some(
                PolicyDocument::from_text(&text)
                    .map_err(|e| Failure(format!("{}: {e}", path.display())))?,
            )
        }
        None if args.allow.is_empty() => None,
        None => Some(short_list(&args.allow)?),
    };
    Ok(Answers {
        namespace: global.namespace.clone().ok_or_else(|| Failure("name the namespace: pulldoctor wizard -n NAMESPACE --service-account NAME --repository REPO".into()))?,
        service_account: args.service_account.clone().ok_or_else(|| Failure("name the ServiceAccount: --service-account NAME".into()))?,
        repositories: args.repositories.clone(),
        mode: args.mode.map(|m| match m {
            ModeArg::Irsa => Mode::Irsa,
            ModeArg::PodIdentity => Mode::PodIdentity,
        }),
        role_name: args.role_name.clone(),
        permissions_boundary: args.permissions_boundary.clone(),
        app_policy,
    })
}

/// `ACTION=RESOURCE` flags as a policy: one statement each.
fn short_list(allow: &[String]) -> Result<PolicyDocument, Failure> {
    let statements: Vec<serde_json::Value> = allow
        .iter()
        .map(|a| match a.split_once('=') {
            Some((action, resource)) if !action.is_empty() && !resource.is_empty() => {
                Ok(serde_json::json!({"Effect": "Allow", "Action": action, "Resource": resource}))
            }
            _ => Err(Failure(format!("--allow {a}: write ACTION=RESOURCE"))),
        })
        .collect::<Result<_, _>>()?;
    PolicyDocument::from_value(
        &serde_json::json!({"Version": "2012-10-17", "Statement": statements}),
    )
    .map_err(|e| Failure(e.0))
}

/// The facts the setup needs: a bundle as it is, or the live cluster plus the setup's own reads.
fn facts(
    global: &Global,
    answers: &Answers,
    runtime: &tokio::runtime::Runtime,
) -> Result<Facts, Failure> {
    setup_facts(global, cli::load(global, false, true)?, answers, runtime)
}

/// `base` (the cluster as read for a diagnosis) with the setup's own reads folded in: the
/// namespace's ServiceAccounts, the Pod Identity agent, the chosen role and repositories.
fn setup_facts(
    global: &Global,
    mut base: Facts,
    answers: &Answers,
    runtime: &tokio::runtime::Runtime,
) -> Result<Facts, Failure> {
    if global.from.is_some() {
        return Ok(base);
    }
    let account = base
        .account()
        .ok_or_else(|| Failure("the account is unknown (sts:GetCallerIdentity failed)".into()))?;
    let region = base.region().unwrap_or_else(|| "us-east-1".into());
    let keys = crate::wizard::repository_keys(answers, &account, &region).map_err(Failure)?;
    let role_name = answers.role_name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}-{}",
            base.cluster_name(),
            answers.namespace,
            answers.service_account
        )
    });
    let role_arn = format!(
        "arn:{}:iam::{account}:role/{role_name}",
        crate::iam::arn::partition_for_region(&region)
    );
    let cluster = base.cluster_name();
    with_setup_reads(
        global,
        &mut base,
        (&account, &cluster, answers, &role_arn, &keys),
        runtime,
    )?;
    Ok(base)
}

/// Whose setup is read: the account, the cluster, the answers, the role and the repositories.
type SetupTarget<'a> = (
    &'a str,
    &'a str,
    &'a Answers,
    &'a str,
    &'a [crate::facts::RepoKey],
);

fn with_setup_reads(
    global: &Global,
    facts: &mut Facts,
    (account, cluster, answers, role_arn, repositories): SetupTarget,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), Failure> {
    let options = cli::live_options(global, true);
    let documents = runtime
        .block_on(crate::source::live::collect_setup(
            &options,
            account,
            cluster,
            &answers.namespace,
            Some(&answers.service_account),
            role_arn,
            repositories,
        ))
        .map_err(Failure)?;
    facts.fold_in(crate::facts::ingest::ingest(&documents));
    Ok(())
}

fn render(setup: &Setup) -> String {
    let mut out = format!(
        "setup of {}/{} — mode {} ({})\n",
        setup.answers.namespace,
        setup.answers.service_account,
        setup.mode.as_str(),
        setup.mode_reason
    );
    for c in &setup.checks {
        out.push_str(&format!(
            "  {:<10} {}\n",
            crate::report::text::marker(c.status),
            c.text
        ));
    }
    out.push('\n');
    out.push_str(&apply::render(&setup.plan));
    out
}

pub fn run(global: &Global, args: &WizardArgs) -> Result<ExitCode, Failure> {
    // No answers on the command line and a terminal: ask them in the TUI, one step at a time.
    use std::io::IsTerminal;
    if args.service_account.is_none()
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
    {
        // Live, the wizard opens at once and the cluster is read in the background.
        let live = global.from.is_none();
        let reload = global.clone();
        let loader: crate::tui::Loader = std::sync::Arc::new(move |_| {
            cli::load(&reload, false, true)
                .map(crate::tui::app::Read::Everything)
                .map_err(|f| f.0)
        });
        let facts = if live {
            None
        } else {
            Some(cli::load(global, false, true)?)
        };
        let applier = WritePermission::from_flag(global.allow_writes && global.from.is_none())
            .map(|permission| super::fix::applier(global, permission));
        let background = crate::tui::Background {
            loader: Some(loader),
            verifier: applier.is_some().then(|| verifier(global)),
            applier,
            planner: live.then(|| planner(global)),
            ..Default::default()
        };
        crate::tui::run(facts, background, true).map_err(Failure)?;
        return Ok(ExitCode::SUCCESS);
    }
    let answers = answers(global, args)?;
    let errors = crate::wizard::validate(&answers);
    if !errors.is_empty() {
        return Err(Failure(errors.join("; ")));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the runtime: {e}")))?;
    let facts = facts(global, &answers, &runtime)?;
    let setup = crate::wizard::plan(&facts, &answers).map_err(|e| Failure(e.join("; ")))?;
    cli::print(&render(&setup))?;
    if let Some(dir) = &args.export {
        let paths = crate::wizard::export::write(&setup, dir, args.force).map_err(Failure)?;
        for p in paths {
            println!("wrote {}", p.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.apply {
        eprintln!(
            "pulldoctor: nothing written: --export DIR writes the files, --apply --allow-writes applies"
        );
        return Ok(ExitCode::SUCCESS);
    }
    if global.from.is_some() {
        return Err(Failure(
            "--from is offline input: --export the setup, or apply against the live cluster".into(),
        ));
    }
    let permission = WritePermission::from_flag(global.allow_writes)
        .ok_or_else(|| Failure("read-only: add --allow-writes to apply the setup".into()))?;
    let options = cli::live_options(global, true);
    let lines = runtime.block_on(async {
        let writer = Writer::new(permission, &options).await?;
        let pending = apply::pending(&writer, &setup.plan).await?;
        if pending.is_empty() {
            return Ok(vec!["nothing to change: the setup is in place".to_string()]);
        }
        if !args.yes {
            super::fix::confirm(pending.iter().any(|w| w.apply.needs_typed_yes()))
                .map_err(|f| f.0)?;
        }
        apply::carry_out(
            &writer,
            &setup.plan,
            &pending,
            &apply::state_dir(args.backup_dir.as_deref()),
        )
        .await
    });
    for line in lines.map_err(Failure)? {
        println!("{line}");
    }
    let (text, ok) = verify(global, &setup, &runtime)?;
    cli::print(&format!(
        "\na pod of the new ServiceAccount would see:\n{text}"
    ))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A pod of the new ServiceAccount, diagnosed against freshly read facts: its chain as text, and
/// whether it is in order.
pub fn verify(
    global: &Global,
    setup: &Setup,
    runtime: &tokio::runtime::Runtime,
) -> Result<(String, bool), Failure> {
    let answers = &setup.answers;
    let mut facts = cli::load(global, false, true)?;
    with_setup_reads(
        global,
        &mut facts,
        (
            &setup.account,
            &setup.cluster,
            answers,
            &setup.role_arn,
            &setup.repositories,
        ),
        runtime,
    )?;
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

/// The TUI's way to check and plan a setup: the setup's own reads folded into the facts it has.
pub fn planner(global: &Global) -> crate::tui::Planner {
    let global = global.clone();
    std::sync::Arc::new(move |answers: Answers, facts: Facts| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        let facts = setup_facts(&global, facts, &answers, &runtime).map_err(|f| f.0)?;
        crate::wizard::plan(&facts, &answers).map_err(|errors| errors.join("; "))
    })
}

/// The TUI's way to check a setup after applying it.
pub fn verifier(global: &Global) -> crate::tui::Verifier {
    let global = global.clone();
    std::sync::Arc::new(move |setup: Setup| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        verify(&global, &setup, &runtime)
            .map(|(text, _)| text)
            .map_err(|f| f.0)
    })
}
