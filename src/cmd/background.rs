//! What the TUI does in the background for a set of options: the closures it is handed to read,
//! follow, apply, plan and verify, and to switch to another kube context.

use super::load::{collect, live_options, load};
use super::{Failure, Global, fix, wizard};
use crate::facts::Facts;
use crate::fix::apply::WritePermission;
use crate::source;
use crate::tui::app::{PodName, Read};

/// What the TUI does in the background for these options: read again (everything, or one pod),
/// and live, follow the cluster, apply (with --allow-writes), plan and verify setups.
pub(super) fn background(global: &Global, demo: bool) -> crate::tui::Background {
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
        .map(|permission| fix::applier(global, permission));
    crate::tui::Background {
        loader,
        follower,
        verifier: applier.is_some().then(|| wizard::verifier(global)),
        applier,
        planner: live.then(|| wizard::planner(global)),
        switch: None,
    }
}

/// `:ctx NAME` in the TUI: the kubeconfig's contexts, and the background work for another one.
pub(super) fn context_switch(global: &Global) -> Option<crate::tui::ContextSwitch> {
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
