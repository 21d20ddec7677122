//! The facts a command works on: the demo, a bundle or snapshot, or the live cluster; and which
//! pods of them it looks at.

use super::{Failure, Global};
use crate::diagnose::Selection;
use crate::facts::Facts;
use crate::source;
use crate::source::live::Session;

/// The facts for this run: the demo, a bundle or snapshot, or the live cluster (AWS facts
/// only for the pods that cannot pull, unless `all`).
pub(crate) fn load(global: &Global, demo: bool, all: bool) -> Result<Facts, Failure> {
    load_named(global, demo, all, &[])
}

/// [`load`], reading live also the pods named (`namespace/name`) whether they can pull or not.
pub(super) fn load_named(
    global: &Global,
    demo: bool,
    all: bool,
    named: &[String],
) -> Result<Facts, Failure> {
    if demo {
        return Ok(source::facts_from_owned_bundle(
            source::demo::bundle(),
            "demo",
        ));
    }
    if let Some(url) = &global.from_agent {
        let limit = global.max_input_mb.saturating_mul(1024 * 1024);
        let timeout = std::time::Duration::from_secs(global.timeout);
        let facts = super::block_on(source::remote::facts_from_agent(url, limit, timeout))?
            .map_err(Failure)?;
        if !facts.pods_listed {
            return Err(Failure(format!(
                "the agent at {} has no pod list in its snapshot",
                crate::text::escape_line(url)
            )));
        }
        return Ok(facts);
    }
    match &global.from {
        Some(path) => {
            let kind = if path.is_dir() { "bundle" } else { "snapshot" };
            let limit = global.max_input_mb.saturating_mul(1024 * 1024);
            let facts = source::facts_from_path(path, limit, kind).map_err(|e| Failure(e.0))?;
            if !facts.pods_listed {
                return Err(Failure(no_pod_list(path, &facts)));
            }
            Ok(facts)
        }
        None => {
            let mut options = live_options(global, all);
            let _spinner = Spinner::start(global, &mut options);
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
pub(super) fn no_pod_list(path: &std::path::Path, facts: &Facts) -> String {
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
pub(super) fn check_named_pods(facts: &Facts, selection: &Selection) -> Result<(), Failure> {
    match crate::diagnose::missing_pod(facts, selection) {
        Some(why) => Err(Failure(why)),
        None => Ok(()),
    }
}

/// A namespace asked for with `-n` that nothing of an offline input belongs to is a typo, not an
/// all-clear.
pub(super) fn check_namespaces(facts: &Facts, selection: &Selection) -> Result<(), Failure> {
    use crate::facts::kube::namespace_of;
    let known: std::collections::HashSet<&str> = facts
        .pods
        .iter()
        .map(namespace_of)
        .chain(facts.unreadable_pods.iter().map(|p| p.namespace.as_str()))
        .chain(facts.workloads.iter().map(|w| w.namespace.as_str()))
        .chain(facts.service_accounts.keys().map(|(ns, _)| ns.as_str()))
        .collect();
    match selection
        .namespaces
        .iter()
        .find(|ns| !known.contains(ns.as_str()))
    {
        Some(missing) => Err(Failure(format!(
            "no pod, workload or ServiceAccount of the input is in namespace {} (check the name: kubectl get namespaces)",
            crate::text::escape_line(missing)
        ))),
        None => Ok(()),
    }
}

pub(super) fn collect_live(global: &Global, all: bool) -> Result<source::live::Collected, Failure> {
    let mut options = live_options(global, all);
    let _spinner = Spinner::start(global, &mut options);
    collect(&options)
}

/// One live read on a session of its own: for commands that read once.
pub(super) fn collect(options: &source::live::Options) -> Result<source::live::Collected, Failure> {
    super::block_on(async {
        let session = Session::connect(options).await?;
        source::live::collect(&session, options).await
    })?
    .map_err(Failure)
}

/// The live facts for `options`, read through a session that is already open.
pub(super) async fn read_live(
    session: &Session,
    options: &source::live::Options,
) -> Result<Facts, Failure> {
    let collected = source::live::collect(session, options)
        .await
        .map_err(Failure)?;
    Ok(source::facts_from_collected(&collected))
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
        rate: None,
        timeout: std::time::Duration::from_secs(global.timeout),
        max_body: usize::try_from(global.max_input_mb.saturating_mul(1024 * 1024))
            .unwrap_or(usize::MAX),
        progress: source::live::Progress::default(),
        partial: source::live::Partial::default(),
        slow: source::live::Progress::default(),
        reuse: None,
    }
}

/// A progress line on stderr while a one-shot live read runs (stage and counts): only on a
/// terminal and without --quiet, so a pipe or a JSON consumer sees nothing of it. Cleared when
/// dropped.
pub(super) struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    pub(super) fn start(global: &Global, options: &mut source::live::Options) -> Spinner {
        use std::io::IsTerminal;
        if global.quiet || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        let (shown, said) = (bar.clone(), bar.clone());
        options.progress = source::live::Progress::new(move |text| {
            shown.set_message(crate::text::escape_line(&text).into_owned())
        });
        options.slow =
            source::live::Progress::new(move |text| said.println(crate::text::escape_line(&text)));
        Spinner(Some(bar))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
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
