//! The shell: the command line (contract §1), each command, and the TUI's background wiring.
//! Nothing imports this module; it imports the rest. Expected failures become one line on
//! stderr and exit 2.

pub mod agent;
mod background;
pub mod fix;
mod load;
mod mcp;
mod setup;
pub mod wizard;

use load::{check_named_pods, check_namespaces, collect_live, load_named};
pub(crate) use load::{live_options, load, selection};

use crate::diagnose;
use crate::report::Report;
use crate::source::{self, bundle};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;

/// The process's one tokio runtime: every live read, watch, plan and write runs on it.
static RUNTIME: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // A live read is deep nested futures; the main thread's stack size, not tokio's 2 MiB.
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
});

pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime, Failure> {
    RUNTIME.as_ref().map_err(|e| Failure(e.clone()))
}

/// Runs `future` to its end on the process's runtime (from synchronous command code only).
pub(crate) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Failure> {
    Ok(runtime()?.block_on(future))
}

#[derive(Debug, Parser)]
#[command(
    name = "pulldoctor",
    version = env!("PULLDOCTOR_VERSION"),
    about = "Why can't my pods on Amazon EKS pull their images from Amazon ECR?",
    long_about = "Why can't my pods on Amazon EKS pull their images from Amazon ECR?\n\n\
        On a stock EKS node the kubelet pulls with the node's IAM role (on Fargate, the pod \
        execution role) — not with the pod's IRSA or Pod Identity role. pulldoctor walks both \
        lanes and marks the link that is broken.",
    // `pulldoctor -n shop diagnose` (flags first, as kubectl users type) runs `diagnose`; a word
    // that is no subcommand is the pod to open.
    subcommand_precedence_over_arg = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Open the TUI on this pod: NAMESPACE/POD, or POD with -n (as the k9s plugin does).
    #[arg(value_name = "POD")]
    pub pod: Option<String>,
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
    /// What a running `pulldoctor agent` last read (its /snapshot; e.g. http://localhost:8081
    /// through kubectl port-forward); no call to the cluster or AWS.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "from")]
    pub from_agent: Option<String>,
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
    /// No progress line on stderr during a live read.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// The largest input file --from reads, and the largest Kubernetes API answer, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = bundle::DEFAULT_MAX_INPUT_MB)]
    pub max_input_mb: u64,
}

impl Global {
    /// Whether the input is read elsewhere (`--from`, `--from-agent`): no live call is made.
    pub fn offline(&self) -> bool {
        self.from.is_some() || self.from_agent.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    #[default]
    Text,
    Json,
    /// For an incident ticket or a chat.
    Markdown,
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
        /// Replace account ids, the cluster name, the issuer id, role and repository names and
        /// EC2 ids consistently, so the snapshot can go into a ticket.
        #[arg(long)]
        redact: bool,
    },
    /// Print a shell script of plain kubectl / aws commands that writes a bundle by hand.
    CollectScript,
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), for `man -l -` or a man directory.
    Man,
    /// Opens the terminal as the TUI does and panics: shows how a bug is reported (tested).
    #[command(hide = true)]
    CrashTest,
    /// Set up a new app: ServiceAccount, role, trust, policy, and what the image pull needs —
    /// checked, planned, then exported (--export DIR) or applied (--apply --allow-writes).
    Wizard(wizard::WizardArgs),
    /// Plan the fix of a pod's broken link and, with --allow-writes, apply it: diff, confirm,
    /// back up, apply, diagnose again.
    Fix(FixArgs),
    /// Run in the cluster: diagnose pods as they start failing to pull; Prometheus metrics by
    /// link and cause, the JSON report, and (with --events) an Event on each pod.
    Agent(agent::AgentArgs),
    /// Serve the diagnosis to AI assistants: a read-only Model Context Protocol server on
    /// stdio (tools: list_failing_pods, diagnose_pod, explain_link, plan_fix).
    Mcp,
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
    main_as("pulldoctor")
}

/// The stack the command runs on: `block_on` polls a live read's nested futures on it, and
/// their frames are deep (in debug builds, past the 8 MiB the OS gives the main thread).
const COMMAND_STACK: usize = 64 * 1024 * 1024;

/// The command line under the name it was run by: `pulldoctor`, or `kubectl pulldoctor` as a
/// kubectl plugin (help and errors say so). It runs on a thread of [`COMMAND_STACK`]; a panic
/// there is reported by the hook, then ends the process with 101 as a panic on main would.
pub fn main_as(name: &str) -> ExitCode {
    install_panic_report();
    let name = name.to_string();
    let command = std::thread::Builder::new()
        .name("main".into())
        .stack_size(COMMAND_STACK)
        .spawn(move || command_as(&name));
    match command.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(_panicked)) => ExitCode::from(101),
        Err(e) => {
            eprintln!("pulldoctor: cannot start: {e}");
            ExitCode::from(2)
        }
    }
}

fn command_as(name: &str) -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let parsed = Cli::command()
        .bin_name(name)
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        // Help and the version print whole; a wrong argument is one line, as every expected
        // failure is.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{name}: {}", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    let code = match run(cli) {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("pulldoctor: {}", crate::text::escape_line(&message));
            ExitCode::from(2)
        }
    };
    crate::source::live::children::end_children();
    code
}

/// clap's error (`error: …`, usage, a tip) as one line: the error and where help is.
fn one_line(rendered: &str) -> String {
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let error = first.trim_start_matches("error: ").trim();
    let tip = rendered
        .lines()
        .map(str::trim)
        .find_map(|l| {
            l.strip_prefix("tip: ")
                .or(l.starts_with("[possible values").then_some(l))
        })
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    crate::text::escape_line(&format!("{error}{tip}; see --help")).into_owned()
}

/// A panic is a bug, never an expected failure (those are one line, [`Failure`]): color-eyre
/// reports where it happened and where to send it. In the TUI, ratatui's hook (installed when
/// the terminal opens, around this one) restores the terminal before the report is printed.
fn install_panic_report() {
    let installed = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .panic_section(concat!(
            "This is a bug in pulldoctor ",
            env!("CARGO_PKG_VERSION"),
            ". Please file it in the project's issue tracker with this report and the command \
             you ran. To share the input without names, write it with \
             `pulldoctor snapshot --redact --out FILE`."
        ))
        .install();
    if let Err(e) = installed {
        eprintln!("pulldoctor: panics will be reported plainly: {e}");
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let global = cli.global;
    match cli.command {
        Some(Command::Fix(args)) => fix::run(&global, &args),
        Some(Command::Agent(args)) => agent::run(&global, &args),
        Some(Command::Mcp) => mcp::run(&global),
        Some(Command::Wizard(args)) => wizard::run(&global, &args),
        Some(Command::CrashTest) => crate::tui::crash_test()
            .map_err(Failure)
            .map(|()| ExitCode::SUCCESS),
        Some(Command::CollectScript) => {
            print(&crate::collect::script())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "pulldoctor", &mut out);
            print(&String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man) => {
            print(&man_page().map_err(|e| Failure(format!("cannot render the man page: {e}")))?)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo) | None => {
            // `demo` is `--from` on the embedded demo; given a `--from` of its own, it opens that.
            let demo = matches!(cli.command, Some(Command::Demo)) && !global.offline();
            // The TUI needs a terminal; piped, the same diagnosis prints as a report.
            let named: Vec<String> = cli.pod.into_iter().collect();
            let selection = selection(&global, &named, true)?;
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                // A live read opens the TUI at once, fills it when the read is done, and follows
                // the cluster with a watch.
                let focus = selection.pods.first().and_then(|p| {
                    let (namespace, name) = p.split_once('/')?;
                    Some(crate::tui::PodName {
                        namespace: namespace.to_string(),
                        name: name.to_string(),
                    })
                });
                background::open_tui(&global, demo, false, focus)?;
            } else {
                let facts = load_named(&global, demo, true, &selection.pods)?;
                check_named_pods(&facts, &selection)?;
                if demo || global.offline() {
                    check_namespaces(&facts, &selection)?;
                }
                let report = diagnose::diagnose(&facts, &selection);
                emit(&report, global.output)?;
                return Ok(ExitCode::from(report.exit_status()));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Diagnose { pods, all }) => {
            let selection = selection(&global, &pods, all)?;
            let facts = load_named(&global, false, all, &selection.pods)?;
            check_named_pods(&facts, &selection)?;
            if global.offline() {
                check_namespaces(&facts, &selection)?;
            }
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
            Ok(ExitCode::from(report.exit_status()))
        }
        Some(Command::Snapshot { out, all, redact }) => {
            if global.offline() {
                return Err(Failure(
                    "snapshot reads a live cluster; it does not take --from or --from-agent"
                        .to_string(),
                ));
            }
            let collected = collect_live(&global, all)?;
            let mut snapshot = collected.snapshot();
            if redact {
                source::redact::redact_snapshot(&mut snapshot);
            }
            let text = serde_json::to_string_pretty(&snapshot)
                .map_err(|e| Failure(format!("cannot write the snapshot: {e}")))?;
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

/// One man page: clap_mangen's sections, but the commands listed in it rather than as pages of
/// their own (`pulldoctor-diagnose(1)`), which are not installed.
fn man_page() -> std::io::Result<String> {
    use clap::CommandFactory;
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut commands = String::from(".SH COMMANDS\n");
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        commands.push_str(&format!(
            ".TP\n\\fBpulldoctor {}\\fR\n{}\n",
            sub.get_name(),
            about.replace('\\', "\\\\").replace('-', "\\-")
        ));
    }
    commands
        .push_str(".PP\n\\fBpulldoctor COMMAND \\-\\-help\\fR lists a command's own options.\n");
    out.extend_from_slice(commands.as_bytes());
    man.render_version_section(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn emit(report: &Report, output: Output) -> Result<(), Failure> {
    match output {
        // Written as it is serialised: a report of 20,000 findings is never one string.
        Output::Json => write_out(|out| {
            serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::from)?;
            out.write_all(b"\n")
        }),
        Output::Text => write_out(|out| crate::report::text::write(out, report)),
        Output::Markdown => print(&crate::report::markdown::render(report)),
    }
}

/// Writes to stdout. A closed pipe (`| head`) is the reader's choice, not an error; any other
/// failed write (a full disk) is, since the report would be lost.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    write_out(|out| out.write_all(text.as_bytes()))
}

/// [`print`] for output written piece by piece.
fn write_out(
    write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> Result<(), Failure> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("cannot write the output: {e}"))),
    }
}
