//! The TUI's backends: offline (the demo, or a bundle read again from disk) and live (one
//! [`Session`] per kube context, opened at first use and reused by every read, watch, plan,
//! verification and write of that context; `:ctx` switches to another context's backend,
//! kept for when the user switches back).

use super::load::{live_options, load, read_live};
use super::{Failure, Global};
use crate::facts::Facts;
use crate::fix::apply::{self, Consent, WritePermission, Writer};
use crate::fix::guard::Checked;
use crate::source::live::{self, Session};
use crate::tui::app::{Diagnosed, PodName, Read};
use crate::tui::backend::{Abilities, Backend, Job, Listener, News};
use crate::wizard::{Answers, Setup};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Opens the TUI for these options: the demo or a bundle diagnosed before the first frame, or
/// the live cluster read in the background. `wizard` opens the setup wizard first.
/// The TUI: on the list, the wizard, or one pod (`focus`, read alone when live).
pub(super) fn open_tui(
    global: &Global,
    demo: bool,
    wizard: bool,
    focus: Option<PodName>,
) -> Result<(), Failure> {
    let runtime = super::runtime()?.handle().clone();
    let opening = crate::tui::Opening { wizard, focus };
    if demo || global.offline() {
        let start = Diagnosed::of(load(global, demo, true)?);
        let backend = Arc::new(Offline {
            global: (!demo).then(|| global.clone()),
        });
        return crate::tui::run(Some(start), backend, runtime, opening).map_err(Failure);
    }
    let backend = Live::new(global, Arc::new(Mutex::new(HashMap::new())));
    crate::tui::run(None, Arc::new(backend), runtime, opening).map_err(Failure)
}

/// The demo (nothing to read again) or a bundle (read again from disk: the collect script may
/// have rewritten it).
struct Offline {
    global: Option<Global>,
}

impl Backend for Offline {
    fn abilities(&self) -> Abilities {
        Abilities {
            read: self.global.is_some(),
            ..Abilities::default()
        }
    }

    fn read(&self, _pod: Option<PodName>, _listener: Listener) -> Job<Result<Read, String>> {
        let global = self.global.clone();
        Box::pin(async move {
            let global = global.ok_or("the demo has nothing to read again")?;
            tokio::task::spawn_blocking(move || load(&global, false, true))
                .await
                .map_err(|e| format!("the read stopped: {e}"))?
                .map(Read::Everything)
                .map_err(|f| f.0)
        })
    }
}

/// One kube context, live.
#[derive(Clone)]
struct Live {
    global: Arc<Global>,
    /// Opened at the first call that needs it, then shared by all.
    session: Arc<OnceCell<Arc<Session>>>,
    permission: Option<WritePermission>,
    /// Every context's backend opened so far, by name: a switch back reuses its session.
    contexts: Arc<Mutex<HashMap<String, Live>>>,
}

impl Live {
    fn new(global: &Global, contexts: Arc<Mutex<HashMap<String, Live>>>) -> Live {
        Live {
            global: Arc::new(global.clone()),
            session: Arc::new(OnceCell::new()),
            permission: WritePermission::from_flag(global.allow_writes),
            contexts,
        }
    }

    async fn session(&self) -> Result<Arc<Session>, String> {
        let options = live_options(&self.global, true);
        self.session
            .get_or_try_init(|| async { Session::connect(&options).await.map(Arc::new) })
            .await
            .cloned()
    }
}

impl Backend for Live {
    fn abilities(&self) -> Abilities {
        Abilities {
            read: true,
            follow: true,
            apply: self.permission.is_some(),
            verify: self.permission.is_some(),
        }
    }

    fn read(&self, pod: Option<PodName>, listener: Listener) -> Job<Result<Read, String>> {
        let this = self.clone();
        Box::pin(async move {
            let session = this.session().await?;
            let mut options = live_options(&this.global, true);
            let listener = Arc::new(listener);
            let (progress, slow) = (listener.clone(), listener.clone());
            options.progress = live::Progress::new(move |text| progress(News::Progress(text)));
            options.slow = live::Progress::new(move |text| slow(News::Slow(text)));
            match &pod {
                Some(pod) => {
                    options.namespace = Some(pod.namespace.clone());
                    options.pod = Some(pod.name.clone());
                }
                None => {
                    options.partial = live::Partial::new(move |collected| {
                        listener(News::Partly(Box::new(crate::source::facts_from_collected(
                            &collected,
                        ))))
                    })
                }
            }
            let facts = read_live(&session, &options).await.map_err(|f| f.0)?;
            Ok(match pod {
                Some(pod) => Read::Pod(pod, facts),
                None => Read::Everything(facts),
            })
        })
    }

    fn follow(&self, changed: Box<dyn FnMut() -> bool + Send>) -> Job<()> {
        let this = self.clone();
        Box::pin(async move {
            if let Ok(session) = this.session().await {
                let options = live_options(&this.global, true);
                let _ = live::follow::follow(&session, &options, changed).await;
            }
        })
    }

    fn apply(&self, plan: Checked) -> Job<Result<Vec<String>, String>> {
        let (this, permission) = (self.clone(), self.permission.clone());
        Box::pin(async move {
            let permission = permission.ok_or("read-only: nothing was applied")?;
            let writer = Writer::new(permission, this.session().await?).await?;
            // The TUI showed the plan and asked (twice for a take-over) before this.
            let consent = Consent::given(true);
            let applied = apply::apply(&writer, &plan, consent, &apply::state_dir(None)).await?;
            Ok(applied.changes)
        })
    }

    fn plan(&self, answers: Answers, facts: Arc<Facts>) -> Job<Result<Setup, String>> {
        let this = self.clone();
        Box::pin(async move {
            let session = this.session().await?;
            let facts = super::setup::setup_facts(&session, (*facts).clone(), &answers)
                .await
                .map_err(|f| f.0)?;
            crate::wizard::plan(&facts, &answers).map_err(|errors| errors.join("; "))
        })
    }

    fn verify(&self, setup: Setup) -> Job<Result<String, String>> {
        let this = self.clone();
        Box::pin(async move {
            let session = this.session().await?;
            super::setup::verify(&this.global, &session, &setup)
                .await
                .map(|(text, _)| text)
                .map_err(|f| f.0)
        })
    }

    fn contexts(&self) -> (Vec<String>, Option<String>) {
        live::kube::contexts(
            self.global.kubeconfig.as_deref(),
            self.global.context.as_deref(),
        )
        .unwrap_or_default()
    }

    fn switch(&self, context: &str) -> Option<Arc<dyn Backend>> {
        let mut opened = self.contexts.lock().ok()?;
        let current = self.contexts().1.unwrap_or_default();
        opened.entry(current).or_insert_with(|| self.clone());
        let next = opened.entry(context.to_string()).or_insert_with(|| {
            let mut other = (*self.global).clone();
            other.context = Some(context.to_string());
            other.cluster = None;
            Live::new(&other, self.contexts.clone())
        });
        Some(Arc::new(next.clone()))
    }
}
