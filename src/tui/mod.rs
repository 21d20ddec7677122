//! The full-screen TUI: one application state changed only through actions; terminal input and
//! background work send actions over a channel, so no frame waits on IO.

pub mod action;
pub mod app;
pub mod backend;
pub mod browse;
pub mod columns;
pub mod keymap;
mod loaded;
mod radius;
pub mod theme;
pub mod view;
pub mod views;
pub mod wizard;

use crate::facts::Facts;
pub use app::PodName;
use app::{Action, App, Diagnosed, Effect};
use backend::Backend;
use base64::Engine;
use k8s_openapi::jiff::Timestamp;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind};
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    if app.input().is_some() {
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
    if app.help_open() {
        // Any key closes help.
        return Some(keymap::action_for(key, app.screen()).unwrap_or(Action::Help));
    }
    keymap::action_for(key, app.screen())
}

/// Opens the TUI on `start` (diagnosed already), or — with none — at once, reading through the
/// backend in the background. The backend's work runs on `runtime`; its reads are diagnosed
/// there too, so no frame waits on the network or on a diagnosis. `wizard` opens the setup
/// wizard first.
/// Where the TUI opens: the pod list, the wizard, or one pod's chain.
#[derive(Debug, Clone, Default)]
pub struct Opening {
    pub wizard: bool,
    pub focus: Option<PodName>,
}

pub fn run(
    start: Option<Diagnosed>,
    backend: Arc<dyn Backend>,
    runtime: tokio::runtime::Handle,
    opening: Opening,
) -> Result<(), String> {
    let (tx, rx) = mpsc::channel::<Message>();
    let mut runner = Runner {
        backend,
        runtime,
        tx: tx.clone(),
        generation: Arc::new(AtomicUsize::new(0)),
        tasks: Vec::new(),
    };
    let mut app = match start {
        Some(diagnosed) => {
            let now = reference_time(&diagnosed.facts);
            App::new(diagnosed, now)
        }
        None => {
            let empty = Diagnosed::of(Facts::default());
            let mut app = App::new(empty, reference_time(&Facts::default()));
            app.begin_first_read("reading the cluster and AWS…");
            // One pod asked for is read alone: its chain opens as soon as it is diagnosed.
            runner.read(opening.focus.clone(), app.facts().clone());
            app
        }
    };
    runner.follow();
    runner.offer(&mut app);
    if opening.wizard {
        app.open_wizard();
    }
    if let Some(pod) = opening.focus {
        app.focus_on(pod);
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
                Ok(Message::FromContext(g, a)) if g == runner.current() => a,
                Ok(Message::FromContext(..)) => continue,
                Err(_) => return Ok(()),
            };
            for effect in app.update(action) {
                if runner.carry_out(effect, &mut app) == Flow::Quit {
                    return Ok(());
                }
            }
        }
    })();
    runner.stop();
    ratatui::restore();
    result?;
    // Left without a read that succeeded: said on the normal screen, as `diagnose` says it.
    app.read_failed().map_or(Ok(()), |why| Err(why.to_string()))
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Quit,
}

/// Carries out effects: the backend's work on the runtime, tagged with the context it was
/// asked of, aborted when the context changes.
struct Runner {
    backend: Arc<dyn Backend>,
    runtime: tokio::runtime::Handle,
    tx: mpsc::Sender<Message>,
    /// Which context's answers count: bumped by every switch.
    generation: Arc<AtomicUsize>,
    /// The current context's reads, watch, plans and verifications.
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Runner {
    fn current(&self) -> usize {
        self.generation.load(Ordering::SeqCst)
    }

    /// Runs `job` for the current context and sends what `done` makes of its result.
    fn spawn<T: Send + 'static>(
        &mut self,
        job: backend::Job<T>,
        done: impl FnOnce(T) -> Action + Send + 'static,
    ) {
        let (tx, generation) = (self.tx.clone(), self.current());
        let task = self.runtime.spawn(async move {
            let action = done(job.await);
            let _ = tx.send(Message::FromContext(generation, action));
        });
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(task.abort_handle());
    }

    /// Reads again and diagnoses what was read, both off the UI thread.
    fn read(&mut self, pod: Option<PodName>, current: Arc<Facts>) {
        let (tx, generation) = (self.tx.clone(), self.current());
        let news_tx = tx.clone();
        // The latest partial read asked to be diagnosed: an older one finishing later is dropped.
        let latest_part = Arc::new(AtomicU64::new(0));
        // Told on the read's own task, before its end is sent. A partial read is diagnosed on a
        // blocking thread, like the final one, so the read goes on meanwhile; one that ends after
        // the final read is ignored by the app (it is no longer loading).
        let listener: backend::Listener = Box::new(move |news| {
            let action = match news {
                backend::News::Partly(facts) => {
                    let part = latest_part.fetch_add(1, Ordering::SeqCst) + 1;
                    let (latest, tx) = (latest_part.clone(), news_tx.clone());
                    tokio::task::spawn_blocking(move || {
                        let diagnosed = Diagnosed::of(*facts);
                        if latest.load(Ordering::SeqCst) == part {
                            let action = Action::PartlyDiagnosed(Box::new(diagnosed));
                            let _ = tx.send(Message::FromContext(generation, action));
                        }
                    });
                    return;
                }
                backend::News::Progress(text) => Action::Progress(text),
                backend::News::Slow(text) => Action::Slow(text),
            };
            let _ = news_tx.send(Message::FromContext(generation, action));
        });
        let job = self.backend.read(pod, listener);
        let task = self.runtime.spawn(async move {
            let action = match job.await {
                Ok(read) => {
                    match tokio::task::spawn_blocking(move || Diagnosed::settle(read, &current))
                        .await
                    {
                        Ok(diagnosed) => Action::Diagnosed(Box::new(diagnosed)),
                        Err(e) => Action::LoadFailed(format!("the diagnosis stopped: {e}")),
                    }
                }
                Err(why) => Action::LoadFailed(why),
            };
            let _ = tx.send(Message::FromContext(generation, action));
        });
        self.tasks.push(task.abort_handle());
    }

    /// Follows the current context's cluster until the TUI ends or switches context.
    fn follow(&mut self) {
        if !self.backend.abilities().follow {
            return;
        }
        let (tx, mine) = (self.tx.clone(), self.current());
        let generation = self.generation.clone();
        let job = self.backend.follow(Box::new(move || {
            generation.load(Ordering::SeqCst) == mine
                && tx
                    .send(Message::FromContext(mine, Action::ClusterChanged))
                    .is_ok()
        }));
        let task = self.runtime.spawn(job);
        self.tasks.push(task.abort_handle());
    }

    /// What the app may offer: applying, and `:ctx` with the contexts there are.
    fn offer(&self, app: &mut App) {
        let (contexts, current) = self.backend.contexts();
        app.set_context(app::Context {
            writes_allowed: self.backend.abilities().apply,
            contexts,
            current,
        });
    }

    fn stop(&mut self) {
        self.tasks.drain(..).for_each(|t| t.abort());
    }

    fn carry_out(&mut self, effect: Effect, app: &mut App) -> Flow {
        match effect {
            Effect::Quit => return Flow::Quit,
            Effect::Copy { name, suffix, text } => app.tell(copy(&name, suffix, &text)),
            Effect::Plan(answers) => {
                let job = self.backend.plan(*answers, app.facts().clone());
                self.spawn(job, |planned| Action::Planned(planned.map(Box::new)));
            }
            Effect::Verify(setup) => {
                let job = self.backend.verify(*setup);
                self.spawn(job, Action::Verified);
            }
            Effect::Export { setup, dir } => {
                let written =
                    crate::wizard::export::write(&setup, std::path::Path::new(&dir), false);
                app.tell(match written {
                    Ok(paths) => format!("wrote {} files to {dir}", paths.len()),
                    Err(why) => why,
                });
            }
            // A write is never aborted half-way: it runs to its end whatever the context.
            Effect::Apply(plan) if self.backend.abilities().apply => {
                let (job, tx) = (self.backend.apply(*plan), self.tx.clone());
                self.runtime.spawn(async move {
                    let _ = tx.send(Message::Action(Action::Applied(job.await)));
                });
            }
            Effect::Apply(_) => app.tell("read-only: nothing was applied".into()),
            Effect::SwitchContext(context) => {
                let Some(next) = self.backend.switch(&context) else {
                    return Flow::Go;
                };
                self.stop();
                self.generation.fetch_add(1, Ordering::SeqCst);
                self.backend = next;
                self.offer(app);
                self.follow();
                self.read(None, app.facts().clone());
            }
            Effect::Reload(pod) if self.backend.abilities().read => {
                self.read(pod, app.facts().clone())
            }
            // Nothing to read again: the same facts, diagnosed as they were.
            Effect::Reload(_) => {
                let same = Diagnosed {
                    facts: app.facts().clone(),
                    report: app.raw(),
                };
                let _ = self
                    .tx
                    .send(Message::Action(Action::Diagnosed(Box::new(same))));
            }
        }
        Flow::Go
    }
}

/// Opens the terminal as [`run`] does, then panics: the hidden `crash-test` command, which shows
/// (and lets a test check) that a bug is reported after the terminal is restored.
pub fn crash_test() -> Result<(), String> {
    let _terminal = ratatui::try_init().map_err(|e| format!("cannot open the terminal: {e}"))?;
    panic!("crash-test: a deliberate panic with the terminal in raw mode and the alternate screen");
}

/// Copies with OSC 52 (works over SSH and in tmux with set-clipboard) and always saves a file,
/// since no terminal says whether OSC 52 worked.
fn copy(name: &str, suffix: &str, text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
    // A new file of a random name, created exclusively and private: a planted file or symlink
    // in the shared temporary directory is never written through.
    let saved = tempfile::Builder::new()
        .prefix(&format!("pulldoctor-{name}-"))
        .suffix(suffix)
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
