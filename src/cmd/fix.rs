//! `pulldoctor fix`: the plan → diff → confirm → back up → apply → re-verify flow on the command
//! line.

use super::load::read_live;
use crate::cmd::{self as cli, Failure, FixArgs, Global};
use crate::diagnose;
use crate::fix::apply::{self, Consent, WritePermission, Writer};
use crate::fix::guard::{self, Checked};
use crate::fix::write_plan::{self, Plan};
use crate::report::Status;
use crate::source::live::Session;
use std::io::{BufRead, IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(global: &Global, args: &FixArgs) -> Result<ExitCode, Failure> {
    if args.choice == 0 {
        return Err(Failure(
            "--choice counts from 1 (the first fix is --choice 1)".into(),
        ));
    }
    let from_file = args.plan.is_some();
    let plan = match &args.plan {
        Some(path) => read_plan(path)?,
        None => make_plan(global, args)?,
    };
    let plan = guard::check(plan).map_err(Failure)?;
    cli::print(&write_plan::render(&plan))?;
    if let Some(out) = &args.plan_out {
        let text = serde_json::to_string_pretty(plan.plan()).unwrap_or_default();
        std::fs::write(out, text + "\n")
            .map_err(|e| Failure(format!("cannot write {}: {e}", out.display())))?;
        eprintln!(
            "pulldoctor: plan written to {}; apply it with --plan {0} --allow-writes",
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if plan.writes.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if global.offline() {
        if global.allow_writes {
            return Err(Failure("--from and --from-agent are offline input: to apply, run against the live cluster (or --plan-out here, then --plan there)".into()));
        }
        eprintln!("pulldoctor: offline input: nothing applied");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(permission) = WritePermission::from_flag(global.allow_writes) else {
        eprintln!(
            "pulldoctor: read-only: nothing was applied (add --allow-writes to apply this plan)"
        );
        return Ok(ExitCode::SUCCESS);
    };
    cli::block_on(apply_plan(global, args, plan, permission, from_file))?
}

/// A plan file as written by `--plan-out`, or by anyone: its diffs and title are not trusted.
/// The diff shown is made again from the documents the calls send; the title says where it
/// came from.
fn read_plan(path: &std::path::Path) -> Result<Plan, Failure> {
    use std::io::Read as _;
    const MAX_PLAN_BYTES: u64 = 16 * 1024 * 1024;
    let shown = crate::text::escape_line(&path.display().to_string()).into_owned();
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PLAN_BYTES).read_to_string(&mut text))
        .map_err(|e| Failure(format!("cannot read the plan {shown}: {e}")))?;
    let mut plan = crate::fix::plan_file::parse(&text)
        .map_err(|e| Failure(format!("{shown}: {e}; nothing was written")))?;
    plan.title = format!("the plan in {shown}");
    for write in &mut plan.writes {
        write.diff = write.after.as_ref().map(|after| {
            crate::fix::documents::diff(write.before.as_deref().unwrap_or_default(), after)
        });
    }
    Ok(plan)
}

/// A plan from a file is applied only when it is exactly what pulldoctor's fix of its cause
/// writes now, from a fresh read of the pod and its chain — and then the fresh plan is what is
/// sent, never the file's text.
async fn recomputed_matches(
    global: &Global,
    session: &Session,
    plan: &Plan,
) -> Result<Checked, Failure> {
    let refused = || {
        Failure(format!(
            "the plan does not match what the fix of {} for {} writes now: a target changed since it was read, or the file was edited; nothing was written (plan again)",
            plan.purpose, plan.subject
        ))
    };
    let selection = cli::selection(global, std::slice::from_ref(&plan.subject), true)?;
    let facts = read_live(session, &cli::live_options(global, true)).await?;
    let report = diagnose::diagnose(&facts, &selection);
    let finding = report
        .findings
        .iter()
        .find(|f| f.container == plan.container)
        .ok_or_else(refused)?;
    let fresh = (1..=finding.fixes.len())
        .filter_map(|choice| write_plan::of_fix(finding, choice).ok())
        .filter(|candidate| candidate.purpose == plan.purpose);
    let fresh = fresh
        .into_iter()
        .find(|candidate| write_plan::same_writes(&candidate.writes, &plan.writes))
        .ok_or_else(refused)?;
    guard::check(fresh).map_err(Failure)
}

fn make_plan(global: &Global, args: &FixArgs) -> Result<Plan, Failure> {
    let pod = args
        .pod
        .clone()
        .ok_or_else(|| Failure("name the pod to fix: pulldoctor fix NAMESPACE/POD".into()))?;
    let selection = cli::selection(global, std::slice::from_ref(&pod), true)?;
    let facts = cli::load(global, false, true)?;
    let report = diagnose::diagnose(&facts, &selection);
    // Broken findings first; a warning with a fix (a trust policy without its audience
    // condition) only when nothing is broken.
    let mut fixable: Vec<_> = report
        .findings
        .iter()
        .filter(|f| !f.fixes.is_empty())
        .collect();
    fixable.sort_by_key(|f| std::cmp::Reverse(f.verdict));
    let finding = match &args.cause {
        Some(cause) => fixable
            .iter()
            .find(|f| f.fixes.iter().any(|x| x.cause.as_str() == cause))
            .copied(),
        None => fixable.first().copied(),
    };
    let Some(finding) = finding else {
        let found = report
            .findings
            .iter()
            .map(|f| format!("{} {}", f.container, f.verdict.as_str()))
            .collect::<Vec<_>>();
        return Err(Failure(match (&args.cause, found.is_empty()) {
            (_, true) => format!("no pod {pod} in this input"),
            (Some(cause), false) => format!(
                "{pod} has no broken link with cause {cause} ({})",
                found.join(", ")
            ),
            (None, false) => format!(
                "nothing to fix: nothing of {pod} is broken ({})",
                found.join(", ")
            ),
        }));
    };
    write_plan::of_fix(finding, args.choice).map_err(Failure)
}

async fn apply_plan(
    global: &Global,
    args: &FixArgs,
    plan: Checked,
    permission: WritePermission,
    from_file: bool,
) -> Result<ExitCode, Failure> {
    let options = cli::live_options(global, true);
    let session = Arc::new(Session::connect(&options).await.map_err(Failure)?);
    let writer = Writer::new(permission, session.clone())
        .await
        .map_err(Failure)?;
    // A file's plan is sent only as pulldoctor plans it now; with nothing left to change, the
    // file's plan is as good as done.
    let plan = match from_file
        && !apply::pending(&writer, &plan)
            .await
            .map_err(Failure)?
            .is_empty()
    {
        true => recomputed_matches(global, &session, &plan).await?,
        false => plan,
    };
    if let Some(chosen_by) = &plan.target_chosen_by {
        eprintln!(
            "pulldoctor: the target was chosen by tenant-writable metadata: {}",
            crate::text::escape_line(chosen_by)
        );
    }
    let yes = args.yes;
    let consent = Consent {
        take_over: false,
        confirm: Box::new(move |typed| match yes {
            true => Ok(()),
            false => confirm(typed).map_err(|f| f.0),
        }),
    };
    let dir = apply::state_dir(args.backup_dir.as_deref());
    let applied = apply::apply(&writer, &plan, consent, &dir)
        .await
        .map_err(Failure)?;
    for target in &applied.already {
        eprintln!("pulldoctor: {target} is already as planned");
    }
    if applied.changes.is_empty() {
        eprintln!("pulldoctor: nothing to change");
        return Ok(ExitCode::SUCCESS);
    }
    for line in &applied.changes {
        println!("{line}");
    }
    println!("change log: {}", dir.join("changes.log").display());
    // Re-verify: read the pod's facts again (that pod alone; a workload's, its namespace) and
    // show its chain.
    let (namespace, name) = plan.subject.split_once('/').unwrap_or((&plan.subject, ""));
    let mut options = options;
    options.namespace = Some(namespace.to_string());
    options.pod = (!name.is_empty() && !name.contains('/')).then(|| name.to_string());
    let facts = read_live(&session, &options).await?;
    let report = diagnose::diagnose(
        &facts,
        &diagnose::Selection {
            all: true,
            pods: vec![plan.subject.clone()],
            ..Default::default()
        },
    );
    let mut text = String::from("\nafter the change:\n");
    for f in &report.findings {
        crate::report::text::render_finding(&mut text, f);
    }
    cli::print(&text)?;
    let still = report
        .findings
        .iter()
        .any(|f| f.container == plan.container && f.verdict == Status::Broken);
    Ok(if still {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks on the terminal: a typed `yes` for trust and repository policies, `y` otherwise.
pub(crate) fn confirm(typed: bool) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure(
            "confirmation needed: run in a terminal, or pass --yes".into(),
        ));
    }
    let prompt = if typed {
        "type yes to apply: "
    } else {
        "apply? [y/N] "
    };
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure(format!("cannot read the answer: {e}")))?;
    let answer = answer.trim();
    let ok = if typed {
        answer == "yes"
    } else {
        matches!(answer, "y" | "Y" | "yes")
    };
    if ok {
        Ok(())
    } else {
        Err(Failure("not applied".into()))
    }
}
