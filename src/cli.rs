//! The command line (contract §1). Expected failures become one line on stderr and exit 2.

use crate::diagnose::{self, Selection};
use crate::facts::Facts;
use crate::fix::apply::WritePermission;
use crate::report::{Report, Status};
use crate::source::{self, bundle};
use crate::tui::app::{PodName, Read};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "pulldoctor",
    version,
    about = "Why can't my pods on Amazon EKS pull their images from Amazon ECR?",
    long_about = "Why can't my pods on Amazon EKS pull their images from Amazon ECR?\n\n\
        On a stock EKS node the kubelet pulls with the node's IAM role (on Fargate, the pod \
        execution role) — not with the pod's IRSA or Pod Identity role. pulldoctor walks both \
        lanes and marks the link that is broken."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Path to the kubeconfig file.
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Only this namespace.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Every namespace (the default).
    #[arg(short = 'A', long = "all-namespaces", global = true)]
    pub all_namespaces: bool,
    /// The AWS profile to use.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The AWS region.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The EKS cluster name (detected from the context when possible).
    #[arg(long, global = true)]
    pub cluster: Option<String>,
    /// A bundle directory or snapshot file; no live call is made.
    #[arg(long, global = true, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// Enable applying fixes; without it nothing is ever written.
    #[arg(long, global = true)]
    pub allow_writes: bool,
    /// How many API requests may run at once against a live cluster and AWS.
    #[arg(long, global = true, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// Seconds before one API request gives up.
    #[arg(long, global = true, default_value_t = 20, value_name = "SECONDS")]
    pub timeout: u64,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The largest input file --from reads, and the largest Kubernetes API answer, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = bundle::DEFAULT_MAX_INPUT_MB)]
    pub max_input_mb: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the TUI on the built-in demo cluster (no cluster or AWS account needed).
    Demo,
    /// Non-interactive diagnosis of pods that cannot pull (and, with --all, of every pod).
    Diagnose {
        /// Only these pods, as NAMESPACE/POD (or POD with -n).
        pods: Vec<String>,
        /// Check every pod, not only those that cannot pull.
        #[arg(long)]
        all: bool,
    },
    /// Capture everything a diagnosis reads into one file that --from replays.
    Snapshot {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Capture the facts of every pod, not only those that cannot pull.
        #[arg(long)]
        all: bool,
        /// Replace account ids, the cluster name, the issuer id, role and repository names
        /// consistently, so the snapshot can go into a ticket.
        #[arg(long)]
        redact: bool,
    },
    /// Print a shell script of plain kubectl / aws commands that writes a bundle by hand.
    CollectScript,
    /// Set up a new app: ServiceAccount, role, trust, policy, and what the image pull needs —
    /// checked, planned, then exported (--export DIR) or applied (--apply --allow-writes).
    Wizard(crate::wizard::command::WizardArgs),
    /// Plan the fix of a pod's broken link and, with --allow-writes, apply it: diff, confirm,
    /// back up, apply, diagnose again.
    Fix(FixArgs),
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// NAMESPACE/POD (or POD with -n); not needed with --plan.
    pub pod: Option<String>,
    /// Fix this cause (default: the pod's broken link).
    #[arg(long)]
    pub cause: Option<String>,
    /// Which of the fix's alternatives: 1, 2, …
    #[arg(long, default_value_t = 1)]
    pub choice: usize,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Write the plan to FILE instead of applying it (for review).
    #[arg(long, value_name = "FILE")]
    pub plan_out: Option<PathBuf>,
    /// Apply a plan written by --plan-out, after checking that nothing changed since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Where backups and the change log go (default: ~/.local/state/pulldoctor).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

/// An expected failure: one line on stderr, exit status 2.
#[derive(Debug)]
pub struct Failure(pub String);

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("pulldoctor: {}", crate::text::escape_line(&message));
            ExitCode::from(2)
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let global = cli.global;
    match cli.command {
        Some(Command::Fix(args)) => crate::fix::command::run(&global, &args),
        Some(Command::Wizard(args)) => crate::wizard::command::run(&global, &args),
        Some(Command::CollectScript) => {
            print(&crate::collect::script())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo) | None => {
            // `demo` is `--from` on the embedded demo; given a `--from` of its own, it opens that.
            let demo = matches!(cli.command, Some(Command::Demo)) && global.from.is_none();
            // The TUI needs a terminal; piped, the same diagnosis prints as a report.
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                // A live read opens the TUI at once, fills it when the read is done, and follows
                // the cluster with a watch.
                let live = !demo && global.from.is_none();
                let facts = if live {
                    None
                } else {
                    Some(load(&global, demo, true)?)
                };
                let mut background = background(&global, demo);
                if live {
                    background.switch = context_switch(&global);
                }
                crate::tui::run(facts, background, false).map_err(Failure)?;
            } else {
                let facts = load(&global, demo, true)?;
                let report = diagnose::diagnose(&facts, &selection(&global, &[], true)?);
                emit(&report, global.output)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Diagnose { pods, all }) => {
            let selection = selection(&global, &pods, all)?;
            let facts = load_named(&global, false, all, &selection.pods)?;
            check_named_pods(&facts, &selection)?;
            // Said on stderr as well as in the links, so a refused permission is not missed.
            if !facts.errors.is_empty() {
                eprintln!(
                    "pulldoctor: {} lookup(s) failed; the links they would settle are unknown:",
                    facts.errors.len()
                );
                for error in facts.errors.values().take(5) {
                    eprintln!("  {}", crate::text::escape_line(error));
                }
            }
            let report = diagnose::diagnose(&facts, &selection);
            emit(&report, global.output)?;
            let broken = report.findings.iter().any(|f| f.verdict == Status::Broken);
            Ok(if broken {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Some(Command::Snapshot { out, all, redact }) => {
            if global.from.is_some() {
                return Err(Failure(
                    "snapshot reads a live cluster; it does not take --from".to_string(),
                ));
            }
            let collected = collect_live(&global, all)?;
            let mut snapshot = collected.snapshot();
            if redact {
                source::redact::redact_snapshot(&mut snapshot);
            }
            let text =
                serde_json::to_string_pretty(&snapshot).expect("a snapshot always serialises");
            std::fs::write(&out, text + "\n")
                .map_err(|e| Failure(format!("cannot write {}: {e}", out.display())))?;
            eprintln!(
                "pulldoctor: wrote {} documents to {} ({} lookups failed)",
                collected.documents.len(),
                out.display(),
                collected.problems.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The facts for this run: the demo, a bundle or snapshot, or (not yet) a live cluster.
/// The facts for this run: the demo, a bundle or snapshot, or the live cluster (AWS facts
/// only for the pods that cannot pull, unless `all`).
pub(crate) fn load(global: &Global, demo: bool, all: bool) -> Result<Facts, Failure> {
    load_named(global, demo, all, &[])
}

/// [`load`], reading live also the pods named (`namespace/name`) whether they can pull or not.
fn load_named(global: &Global, demo: bool, all: bool, named: &[String]) -> Result<Facts, Failure> {
    if demo {
        return Ok(source::facts_from_bundle(&source::demo::bundle(), "demo"));
    }
    match &global.from {
        Some(path) => {
            let b = bundle::read_limited(path, global.max_input_mb.saturating_mul(1024 * 1024))
                .map_err(|e| Failure(e.0))?;
            let kind = if path.is_dir() { "bundle" } else { "snapshot" };
            let facts = source::facts_from_bundle(&b, kind);
            if !facts.pods_listed {
                return Err(Failure(no_pod_list(path, &facts)));
            }
            Ok(facts)
        }
        None => {
            let mut options = live_options(global, all);
            options.named = named
                .iter()
                .filter_map(|p| p.split_once('/'))
                .map(|(ns, name)| (ns.to_string(), name.to_string()))
                .collect();
            Ok(source::facts_from_collected(&collect(&options)?))
        }
    }
}

/// Why an input without a pod list cannot say that nothing is failing.
fn no_pod_list(path: &std::path::Path, facts: &Facts) -> String {
    let skipped = match facts.problems.len() {
        0 => String::new(),
        n => format!(
            "; {n} part(s) skipped, first: {}",
            crate::text::escape_line(&facts.problems[0])
        ),
    };
    format!(
        "{} holds no pod list, so nothing can be said about failing pods (add the output of `kubectl get pods -A -o json`){skipped}",
        crate::text::escape_line(&path.display().to_string())
    )
}

/// Every pod named on the command line must be in the facts: a typo is an error, not "nothing
/// is failing".
fn check_named_pods(facts: &Facts, selection: &Selection) -> Result<(), Failure> {
    let read: std::collections::HashSet<String> = facts
        .pods
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                crate::facts::kube::namespace_of(p),
                crate::facts::kube::name_of(p)
            )
        })
        .collect();
    match selection.pods.iter().find(|p| !read.contains(p.as_str())) {
        Some(missing) => Err(Failure(format!(
            "pod {} is not in the input (check the name and namespace: kubectl get pods -n {})",
            crate::text::escape_line(missing),
            crate::text::shell_quote(&crate::text::escape_line(
                missing.split('/').next().unwrap_or_default()
            ))
        ))),
        None => Ok(()),
    }
}

/// What the TUI does in the background for these options: read again (everything, or one pod),
/// and live, follow the cluster, apply (with --allow-writes), plan and verify setups.
fn background(global: &Global, demo: bool) -> crate::tui::Background {
    let live = !demo && global.from.is_none();
    let reload = global.clone();
    let loader: Option<crate::tui::Loader> = (!demo).then(|| {
        let loader: crate::tui::Loader = std::sync::Arc::new(move |pod| match pod {
            Some(pod) if live => load_pod(&reload, pod)
                .map(|facts| Read::Pod(pod.clone(), facts))
                .map_err(|f| f.0),
            _ => load(&reload, false, true)
                .map(Read::Everything)
                .map_err(|f| f.0),
        });
        loader
    });
    let follower: Option<crate::tui::Follower> = live.then(|| {
        let options = live_options(global, true);
        let follower: crate::tui::Follower = Box::new(move |changed| {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = runtime.block_on(source::live::follow::follow(&options, changed));
            }
        });
        follower
    });
    // Fixes apply from the fix pane only against a live cluster, with --allow-writes.
    let applier = WritePermission::from_flag(global.allow_writes && live)
        .map(|permission| crate::fix::command::applier(global, permission));
    crate::tui::Background {
        loader,
        follower,
        verifier: applier
            .is_some()
            .then(|| crate::wizard::command::verifier(global)),
        applier,
        planner: live.then(|| crate::wizard::command::planner(global)),
        switch: None,
    }
}

/// `:ctx NAME` in the TUI: the kubeconfig's contexts, and the background work for another one.
fn context_switch(global: &Global) -> Option<crate::tui::ContextSwitch> {
    let (names, current) =
        source::live::kube::contexts(global.kubeconfig.as_deref(), global.context.as_deref())
            .ok()?;
    let global = global.clone();
    Some(crate::tui::ContextSwitch {
        names,
        current,
        connect: std::sync::Arc::new(move |context: &str| {
            let mut other = global.clone();
            other.context = Some(context.to_string());
            other.cluster = None;
            background(&other, false)
        }),
    })
}

/// Reads one pod of the live cluster and what its chain needs.
fn load_pod(global: &Global, pod: &PodName) -> Result<Facts, Failure> {
    let mut options = live_options(global, true);
    options.namespace = Some(pod.namespace.clone());
    options.pod = Some(pod.name.clone());
    Ok(source::facts_from_collected(&collect(&options)?))
}

fn collect_live(global: &Global, all: bool) -> Result<source::live::Collected, Failure> {
    collect(&live_options(global, all))
}

fn collect(options: &source::live::Options) -> Result<source::live::Collected, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the runtime: {e}")))?;
    runtime
        .block_on(source::live::collect(options))
        .map_err(Failure)
}

pub(crate) fn live_options(global: &Global, all: bool) -> source::live::Options {
    source::live::Options {
        kubeconfig: global.kubeconfig.clone(),
        context: global.context.clone(),
        namespace: if global.all_namespaces {
            None
        } else {
            global.namespace.clone()
        },
        all,
        pod: None,
        named: Vec::new(),
        profile: global.profile.clone(),
        region: global.region.clone(),
        cluster: global.cluster.clone(),
        concurrency: global.concurrency,
        timeout: std::time::Duration::from_secs(global.timeout),
        max_body: usize::try_from(global.max_input_mb.saturating_mul(1024 * 1024))
            .unwrap_or(usize::MAX),
    }
}

pub(crate) fn selection(global: &Global, pods: &[String], all: bool) -> Result<Selection, Failure> {
    let mut selected = Vec::new();
    for p in pods {
        match (p.split_once('/'), &global.namespace) {
            (Some((ns, name)), _) if !ns.is_empty() && !name.is_empty() => selected.push(p.clone()),
            (None, Some(ns)) => selected.push(format!("{ns}/{p}")),
            _ => {
                return Err(Failure(format!(
                    "\"{p}\" is not NAMESPACE/POD (or give -n NAMESPACE with a bare pod name)"
                )));
            }
        }
    }
    Ok(Selection {
        all,
        namespaces: match (&global.namespace, global.all_namespaces) {
            (Some(ns), false) => vec![ns.clone()],
            _ => Vec::new(),
        },
        pods: selected,
    })
}

fn emit(report: &Report, output: Output) -> Result<(), Failure> {
    match output {
        Output::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(report).unwrap_or_default()
        )),
        Output::Text => print(&crate::report::text::render(report)),
    }
}

/// Writes to stdout. A closed pipe (`| head`) is the reader's choice, not an error; any other
/// failed write (a full disk) is, since the report would be lost.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("cannot write the output: {e}"))),
    }
}
