//! The full-screen TUI: one application state changed only through actions; terminal input and
//! background work send actions over a channel, so no frame waits on IO.

pub mod app;
pub mod browse;
pub mod keymap;
pub mod theme;
pub mod view;
pub mod wizard;

use crate::facts::Facts;
use app::{Action, App, Effect, PodName, Read};
use base64::Engine;
use k8s_openapi::jiff::Timestamp;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

/// What arrives on the channel.
pub enum Message {
    Key(KeyEvent),
    Resize,
    Action(Action),
    /// An action about the cluster of one context (a read, a change the watch saw), tagged with
    /// the context's generation: after `:ctx` switched, the old context's are dropped.
    FromContext(usize, Action),
}

/// The instant ages are shown against: the snapshot's, else now.
pub fn reference_time(facts: &Facts) -> Timestamp {
    facts
        .source
        .captured_at
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            Timestamp::from_second(seconds).unwrap_or_default()
        })
}

/// Turns a key into an action: typed text while the filter or command line is open, else the
/// keymap.
pub fn translate(key: KeyEvent, app: &App) -> Option<Action> {
    if app.input.is_some() {
        return match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(event::KeyModifiers::CONTROL) => {
                Some(Action::Input(c))
            }
            KeyCode::Backspace => Some(Action::InputBackspace),
            KeyCode::Enter => Some(Action::InputSubmit),
            KeyCode::Esc => Some(Action::InputCancel),
            KeyCode::Char('c') => Some(Action::Quit),
            _ => None,
        };
    }
    if app.help {
        // Any key closes help.
        return Some(keymap::action_for(key, app.screen()).unwrap_or(Action::Resize));
    }
    keymap::action_for(key, app.screen())
}

/// Reads the facts again: the live cluster — only what one pod's chain needs when a pod is
/// named — or the bundle file (which the collect script may have rewritten). Runs on a
/// background thread, never on the drawing one.
pub type Loader = Arc<dyn Fn(Option<&PodName>) -> Result<Read, String> + Send + Sync>;

/// Follows the cluster on a background thread: calls its argument whenever the pods that cannot
/// pull change, and stops when that returns false.
pub type Follower = Box<dyn FnOnce(Box<dyn FnMut() -> bool + Send>) + Send>;

/// Carries out a confirmed plan (checks, backups, writes) on a background thread. Only the
/// command line makes one, and only with `--allow-writes`.
pub type Applier =
    Arc<dyn Fn(crate::fix::apply::Plan) -> Result<Vec<String>, String> + Send + Sync>;

/// Diagnoses a pod of a newly set-up ServiceAccount (after the wizard applied), on a background
/// thread: its chain as text.
pub type Verifier = Arc<dyn Fn(crate::wizard::Setup) -> Result<String, String> + Send + Sync>;

/// Checks and plans the wizard's answers on a background thread, reading what they name (the
/// role, the repositories, the namespace) into the facts it is given.
pub type Planner = Arc<
    dyn Fn(crate::wizard::Answers, Facts) -> Result<crate::wizard::Setup, String> + Send + Sync,
>;

/// The work the TUI hands to background threads; what is missing is not offered (no loader:
/// nothing to read again; no applier: read-only; no planner: the wizard plans from the facts
/// at hand).
#[derive(Default)]
pub struct Background {
    pub loader: Option<Loader>,
    pub follower: Option<Follower>,
    pub applier: Option<Applier>,
    pub verifier: Option<Verifier>,
    pub planner: Option<Planner>,
    /// Live: the kubeconfig's contexts, for `:ctx`.
    pub switch: Option<ContextSwitch>,
}

/// `:ctx NAME`: the contexts there are, and the background work for another one.
pub struct ContextSwitch {
    pub names: Vec<String>,
    pub current: Option<String>,
    pub connect: Arc<dyn Fn(&str) -> Background + Send + Sync>,
}

/// Opens the TUI. With a loader and no facts yet, it opens at once and reads in the background;
/// with a follower, it reads again whenever the watch sees the failing pods change; with an
/// applier, the fix pane applies fixes. `wizard` opens the setup wizard first.
pub fn run(facts: Option<Facts>, background: Background, wizard: bool) -> Result<(), String> {
    let Background {
        mut loader,
        follower,
        mut applier,
        mut verifier,
        mut planner,
        switch,
    } = background;
    let (tx, rx) = mpsc::channel::<Message>();
    // Which context's reads count: bumped by every switch.
    let generation = Arc::new(AtomicUsize::new(0));
    if let Some(follow) = follower {
        start_following(follow, tx.clone(), generation.clone());
    }
    let mut app = match facts {
        Some(facts) => {
            let now = reference_time(&facts);
            App::new(facts, now)
        }
        None => {
            let mut app = App::new(Facts::default(), reference_time(&Facts::default()));
            app.loading = Some("reading the cluster and AWS…".to_string());
            if let Some(loader) = &loader {
                load_in_background(loader.clone(), None, tx.clone(), 0);
            }
            app
        }
    };
    app.writes_allowed = applier.is_some();
    if let Some(switch) = &switch {
        app.contexts = switch.names.clone();
        app.context = switch.current.clone();
    }
    if wizard {
        app.open_wizard();
    }
    let theme = theme::Theme::from_env();
    let mut terminal = ratatui::try_init().map_err(|e| format!("cannot open the terminal: {e}"))?;
    let input = tx.clone();
    std::thread::spawn(move || {
        loop {
            let message = match event::read() {
                Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => Message::Key(k),
                Ok(Event::Resize(..)) => Message::Resize,
                Ok(_) => continue,
                Err(_) => break,
            };
            if input.send(message).is_err() {
                break;
            }
        }
    });
    let result = (|| -> Result<(), String> {
        loop {
            terminal
                .draw(|frame| view::draw(frame, &mut app, theme))
                .map_err(|e| format!("cannot draw: {e}"))?;
            let action = match rx.recv() {
                Ok(Message::Key(key)) => match translate(key, &app) {
                    Some(a) => a,
                    None => continue,
                },
                Ok(Message::Resize) => Action::Resize,
                Ok(Message::Action(a)) => a,
                Ok(Message::FromContext(g, a)) if g == generation.load(Ordering::SeqCst) => a,
                Ok(Message::FromContext(..)) => continue,
                Err(_) => return Ok(()),
            };
            for effect in app.update(action) {
                match effect {
                    Effect::Quit => return Ok(()),
                    Effect::Copy { name, text } => app.message = Some(copy(&name, &text)),
                    Effect::Plan(answers) => {
                        let tx = tx.clone();
                        let facts = app.facts.clone();
                        let planner = planner.clone();
                        std::thread::spawn(move || {
                            let planned = match planner {
                                Some(planner) => planner(*answers, facts),
                                None => crate::wizard::plan(&facts, &answers)
                                    .map_err(|errors| errors.join("; ")),
                            };
                            let _ =
                                tx.send(Message::Action(Action::Planned(planned.map(Box::new))));
                        });
                    }
                    Effect::Verify(setup) => {
                        if let Some(verifier) = &verifier {
                            let (verifier, tx) = (verifier.clone(), tx.clone());
                            std::thread::spawn(move || {
                                let _ =
                                    tx.send(Message::Action(Action::Verified(verifier(*setup))));
                            });
                        }
                    }
                    Effect::Export { setup, dir } => {
                        app.message = Some(
                            match crate::wizard::export::write(
                                &setup,
                                std::path::Path::new(&dir),
                                false,
                            ) {
                                Ok(paths) => format!("wrote {} files to {dir}", paths.len()),
                                Err(why) => why,
                            },
                        );
                    }
                    Effect::Apply(plan) => match &applier {
                        Some(applier) => {
                            let (applier, tx) = (applier.clone(), tx.clone());
                            std::thread::spawn(move || {
                                let _ = tx.send(Message::Action(Action::Applied(applier(*plan))));
                            });
                        }
                        None => app.message = Some("read-only: nothing was applied".into()),
                    },
                    Effect::SwitchContext(context) => {
                        let Some(switch) = &switch else { continue };
                        let next = (switch.connect)(&context);
                        let current = generation.fetch_add(1, Ordering::SeqCst) + 1;
                        (loader, applier, verifier, planner) =
                            (next.loader, next.applier, next.verifier, next.planner);
                        app.writes_allowed = applier.is_some();
                        if let Some(follow) = next.follower {
                            start_following(follow, tx.clone(), generation.clone());
                        }
                        if let Some(loader) = &loader {
                            load_in_background(loader.clone(), None, tx.clone(), current);
                        }
                    }
                    Effect::Reload(pod) => match &loader {
                        Some(loader) => load_in_background(
                            loader.clone(),
                            pod,
                            tx.clone(),
                            generation.load(Ordering::SeqCst),
                        ),
                        // Nothing to read again: diagnose the same facts again.
                        None => {
                            let facts = Read::Everything(app.facts.clone());
                            let _ = tx.send(Message::Action(Action::Facts(Box::new(facts))));
                        }
                    },
                }
            }
        }
    })();
    ratatui::restore();
    result
}

fn load_in_background(
    loader: Loader,
    pod: Option<PodName>,
    tx: mpsc::Sender<Message>,
    generation: usize,
) {
    std::thread::spawn(move || {
        let action = match loader(pod.as_ref()) {
            Ok(read) => Action::Facts(Box::new(read)),
            Err(why) => Action::LoadFailed(why),
        };
        let _ = tx.send(Message::FromContext(generation, action));
    });
}

/// Follows a context's cluster on its own thread until the TUI ends or switches context.
fn start_following(follow: Follower, tx: mpsc::Sender<Message>, generation: Arc<AtomicUsize>) {
    let mine = generation.load(Ordering::SeqCst);
    std::thread::spawn(move || {
        follow(Box::new(move || {
            generation.load(Ordering::SeqCst) == mine
                && tx
                    .send(Message::FromContext(mine, Action::ClusterChanged))
                    .is_ok()
        }));
    });
}

/// Copies with OSC 52 (works over SSH and in tmux with set-clipboard) and always saves a file,
/// since no terminal says whether OSC 52 worked.
fn copy(name: &str, text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
    // A new file of a random name, created exclusively and private: a planted file or symlink
    // in the shared temporary directory is never written through.
    let saved = tempfile::Builder::new()
        .prefix(&format!("pulldoctor-fix-{name}-"))
        .suffix(".sh")
        .tempfile()
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.keep().map_err(|e| e.error)
        });
    match saved {
        Ok((_, path)) => format!(
            "copied to the clipboard (OSC 52) and saved to {}",
            path.display()
        ),
        Err(e) => format!("copied to the clipboard (OSC 52); could not save it: {e}"),
    }
}
