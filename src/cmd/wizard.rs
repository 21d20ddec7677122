//! `pulldoctor wizard`: the setup of a new app by flags — checked, planned, then exported or
//! applied through the fixes' writer and verified.

use super::load::read_live;
use super::setup::{setup_facts, verify};
use crate::cmd::{self as cli, Failure, Global};
use crate::facts::Facts;
use crate::fix::apply::{self, Consent, WritePermission, Writer};
use crate::iam::policy::PolicyDocument;
use crate::source::live::Session;
use crate::wizard::{Answers, Mode, Setup};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    /// Let the setup change what exists (a ServiceAccount's role annotation, a role's trust
    /// policy): without it such a setup is shown, never applied.
    #[arg(long)]
    pub take_over: bool,
    /// Where backups and the change log go.
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

fn answers(global: &Global, args: &WizardArgs) -> Result<Answers, Failure> {
    let app_policy = match &args.app_policy {
        Some(path) => {
            // IAM takes policies of a few KiB; anything past 1 MiB is no policy.
            let text = crate::source::bundle::read_capped(path, 1024 * 1024)
                .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
            Some(
                PolicyDocument::from_text(&text)
                    .map_err(|e| Failure(format!("{}: {e}", path.display())))?,
            )
        }
        None if args.allow.is_empty() => None,
        None => Some(
            crate::wizard::allow_list(&args.allow).map_err(|e| Failure(format!("--allow {e}")))?,
        ),
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

/// The facts the setup needs: a bundle as it is, or the live cluster plus the setup's own reads.
fn facts(global: &Global, session: Option<&Session>, answers: &Answers) -> Result<Facts, Failure> {
    match session {
        None => cli::load(global, false, true),
        Some(session) => cli::block_on(async {
            let base = read_live(session, &cli::live_options(global, true)).await?;
            setup_facts(session, base, answers).await
        })?,
    }
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
            crate::text::escape_line(&c.text)
        ));
    }
    out.push('\n');
    out.push_str(&crate::fix::write_plan::render(&setup.plan));
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
        super::background::open_tui(global, false, true, None)?;
        return Ok(ExitCode::SUCCESS);
    }
    let answers = answers(global, args)?;
    let errors = crate::wizard::validate(&answers);
    if !errors.is_empty() {
        return Err(Failure(errors.join("; ")));
    }
    // Live, one session for the reads, the writes and the verification.
    let session = if global.offline() {
        None
    } else {
        Some(Arc::new(
            cli::block_on(Session::connect(&cli::live_options(global, true)))?.map_err(Failure)?,
        ))
    };
    let facts = facts(global, session.as_deref(), &answers)?;
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
    let Some(session) = session else {
        return Err(Failure(
            "--from is offline input: --export the setup, or apply against the live cluster".into(),
        ));
    };
    let permission = WritePermission::from_flag(global.allow_writes)
        .ok_or_else(|| Failure("read-only: add --allow-writes to apply the setup".into()))?;
    let yes = args.yes;
    let consent = Consent {
        take_over: args.take_over,
        confirm: Box::new(move |typed| match yes {
            true => Ok(()),
            false => super::fix::confirm(typed).map_err(|f| f.0),
        }),
    };
    let backups = apply::state_dir(args.backup_dir.as_deref());
    let applied = cli::block_on(async {
        let writer = Writer::new(permission, session.clone()).await?;
        apply::apply(&writer, &setup.plan, consent, &backups).await
    })?
    .map_err(Failure)?;
    let lines = match applied.changes.is_empty() {
        true => vec!["nothing to change: the setup is in place".to_string()],
        false => applied.changes,
    };
    for line in lines {
        println!("{line}");
    }
    let (text, ok) = cli::block_on(verify(global, &session, &setup))??;
    cli::print(&format!(
        "\na pod of the new ServiceAccount would see:\n{text}"
    ))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
