//! Lifecycle events for an observer hook (rule O02), with no dependency; behind features, as
//! `tracing` events inside `tracing` spans (one per actor thread, one per stage's teardown) and as
//! `log` records.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::Duration;

pub(crate) use crate::note::Note;
use crate::report::Rounded;
use crate::state::Control;
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Frozen, Mutex};
use crate::unwind;

pub(crate) type Observer = Arc<dyn Fn(&Event<'_>) + Send + Sync + 'static>;

/// A lifecycle event of a running group, passed to the hook set with
/// [`Group::observe`](crate::Group::observe).
///
/// `Display` gives a one-line log message.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Teardown was triggered; `cause` describes why.
    Triggered {
        /// The cause, in words. For a first exit with an error, with the error's text
        /// (`actor 'db' failed: disk full`) when the group's error type is the default
        /// [`BoxError`](crate::BoxError), `std::io::Error`, [`Error`](crate::Error), `String` or
        /// `&'static str` (no `E: Display` bound reaches the events); otherwise
        /// `actor 'db' returned an error`, and the report prints the error.
        cause: &'a str,
    },
    /// A stage's teardown began: its interrupts are about to be called.
    StageBegun {
        /// Its index (teardown order).
        index: usize,
        /// Its name.
        stage: &'a str,
    },
    /// An actor's interrupt is about to be called.
    Interrupting {
        /// The actor's name.
        actor: &'a str,
    },
    /// An actor's interrupt or force hook returned (or panicked). Emitted once the group has
    /// recorded it: from then on the hook counts as returned.
    HookReturned {
        /// The actor's name.
        actor: &'a str,
        /// `interrupt` or `force`.
        hook: &'static str,
        /// Whether it panicked.
        panicked: bool,
    },
    /// An actor's execute ended (emitted on the actor's thread).
    ActorExited {
        /// The actor's name.
        actor: &'a str,
        /// `ok`, `error` or `panicked`.
        outcome: &'static str,
        /// The error's text or the panic's message, when the group can print it: a panic's
        /// always, an error's for the default `BoxError`, `io::Error`, `rungroup::Error`,
        /// `String` and `&str` error types.
        error: Option<&'a str>,
        /// Whether this was the first exit.
        first: bool,
    },
    /// A stage finished its teardown.
    StageEnded {
        /// Its index.
        index: usize,
        /// Its name.
        stage: &'a str,
        /// How long it took: the very value of the report's
        /// [`StageReport::elapsed`](crate::StageReport::elapsed).
        elapsed: Duration,
        /// Whether a deadline expired before it drained.
        expired: bool,
    },
    /// An actor was escalated: its grace ran out, and its force hook (if any) is being called.
    Escalated {
        /// The actor's name.
        actor: &'a str,
    },
    /// An actor, or a hook of it, was abandoned: still running when `run` gave up on it.
    Abandoned {
        /// The actor's name.
        actor: &'a str,
    },
    /// A future actor held the group's thread for `took` (at least 10 ms) in one poll (with the
    /// drop of its future, if that poll completed it), or in its interrupt (which the group calls
    /// on that thread too). Meanwhile no other future actor was
    /// polled and no deadline was checked (docs/async.md). Emitted when it is the longest so far.
    Stalled {
        /// The actor's name.
        actor: &'a str,
        /// How long that poll took.
        took: Duration,
    },
    /// The group became ready: it runs, every actor was started and every
    /// [`ReadyHandle`](crate::ReadyHandle) is set.
    Ready,
    /// The group stopped being ready.
    NotReady {
        /// Why: `'<handle>' not ready`, or `teardown`.
        reason: &'a str,
    },
    /// Teardown waits this long, not ready, before its first stage
    /// ([`Group::lame_duck`](crate::Group::lame_duck)).
    LameDuck {
        /// The configured delay.
        delay: Duration,
    },
    /// An incarnation of a supervised actor ended, and the actor restarts after `backoff`
    /// (emitted on the actor's thread, before the backoff; teardown beginning meanwhile still
    /// cancels the restart).
    Restarting {
        /// The actor's name.
        actor: &'a str,
        /// Which incarnation ended: 0 for the first.
        incarnation: usize,
        /// How it ended: `ok`, `error` or `panicked`.
        outcome: &'static str,
        /// How long the actor waits before the next incarnation.
        backoff: Duration,
    },
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Triggered { cause } => write!(f, "teardown triggered: {cause}"),
            Event::StageBegun { index, stage } => write!(f, "stage {index} '{stage}' begun"),
            Event::Interrupting { actor } => write!(f, "interrupting '{actor}'"),
            Event::HookReturned {
                actor,
                hook,
                panicked,
            } => {
                let how = if *panicked { "panicked" } else { "returned" };
                write!(f, "{hook} of '{actor}' {how}")
            }
            Event::ActorExited {
                actor,
                outcome,
                error,
                first,
            } => {
                write!(f, "actor '{actor}' exited: {outcome}")?;
                if let Some(error) = error {
                    write!(f, ": {error}")?;
                }
                if *first {
                    f.write_str(" (first exit)")?;
                }
                Ok(())
            }
            Event::StageEnded {
                index,
                stage,
                elapsed,
                expired,
            } => {
                write!(
                    f,
                    "stage {index} '{stage}' ended after {}",
                    Rounded(*elapsed)
                )?;
                if *expired {
                    f.write_str(" (deadline expired)")?;
                }
                Ok(())
            }
            Event::Escalated { actor } => write!(f, "actor '{actor}' escalated"),
            Event::Abandoned { actor } => write!(f, "actor '{actor}' abandoned"),
            Event::Stalled { actor, took } => write!(
                f,
                "actor '{actor}' held the group's thread for {}",
                Rounded(*took)
            ),
            Event::Ready => f.write_str("ready"),
            Event::NotReady { reason } => write!(f, "not ready: {reason}"),
            Event::LameDuck { delay } => {
                write!(f, "lame duck: {} before the first stage", Rounded(*delay))
            }
            Event::Restarting {
                actor,
                incarnation,
                outcome,
                backoff,
            } => write!(
                f,
                "actor '{actor}' restarting in {}: incarnation {incarnation} ended: \
                 {outcome}",
                Rounded(*backoff)
            ),
        }
    }
}

impl Note {
    pub(crate) fn event<'a>(&'a self, names: &'a [String], stages: &'a [String]) -> Event<'a> {
        match *self {
            Note::Triggered { ref cause } => Event::Triggered { cause },
            Note::StageBegun { index } => Event::StageBegun {
                index,
                stage: &stages[index],
            },
            Note::Interrupting { actor } => Event::Interrupting {
                actor: &names[actor],
            },
            Note::HookReturned {
                actor,
                hook,
                panicked,
            } => Event::HookReturned {
                actor: &names[actor],
                hook,
                panicked,
            },
            Note::ActorExited {
                actor,
                outcome,
                ref error,
                first,
            } => Event::ActorExited {
                actor: &names[actor],
                outcome,
                error: error.as_deref(),
                first,
            },
            Note::StageEnded {
                index,
                elapsed,
                expired,
            } => Event::StageEnded {
                index,
                stage: &stages[index],
                elapsed,
                expired,
            },
            Note::Escalated { actor } => Event::Escalated {
                actor: &names[actor],
            },
            Note::Abandoned { actor } => Event::Abandoned {
                actor: &names[actor],
            },
            Note::Stalled { actor, took } => Event::Stalled {
                actor: &names[actor],
                took,
            },
            Note::Ready => Event::Ready,
            Note::NotReady { ref reason } => Event::NotReady { reason },
            Note::LameDuck { delay } => Event::LameDuck { delay },
            Note::Restarting {
                actor,
                incarnation,
                outcome,
                backoff,
            } => Event::Restarting {
                actor: &names[actor],
                incarnation,
                outcome,
                backoff,
            },
        }
    }
}

/// Where events go: `tracing` (inline, when that feature is on) and the observer.
///
/// Without a budget the observer is called inline, on whichever thread the event happened (a
/// blocking observer may then hold teardown, as a blocking interrupt may). With a budget it is
/// called on a helper thread of its own, through a queue, so that it can never hold the runner past
/// the budget (S08); the runner waits for it only a bounded time at the end.
pub(crate) struct Herald {
    names: Frozen<[String]>,
    stages: Frozen<[String]>,
    observer: Option<Observer>,
    queue: Option<Arc<Queue>>,
    #[cfg(all(unix, feature = "systemd"))]
    pub(crate) systemd: Option<Arc<crate::systemd::Notifier>>,
}

/// The observer thread's queue.
struct Queue {
    state: Mutex<QueueState>,
    cond: Condvar,
}

#[derive(Default)]
struct QueueState {
    notes: VecDeque<Note>,
    /// No more notes will come: the thread delivers what is queued, then ends.
    closed: bool,
    /// The observer is being called right now.
    busy: bool,
    /// The thread has delivered everything and dropped the observer.
    done: bool,
}

impl Herald {
    /// Starts delivering to `observer`; on its own thread when `threaded`. The thread reports its
    /// end to `control` (the runner's wake-up).
    pub(crate) fn start(
        names: Frozen<[String]>,
        stages: Frozen<[String]>,
        observer: Option<Observer>,
        threaded: bool,
        control: &Arc<Control>,
    ) -> io::Result<(Self, Option<JoinHandle<()>>)> {
        let (Some(shared), true) = (&observer, threaded) else {
            let herald = Self {
                names,
                stages,
                observer,
                queue: None,
                #[cfg(all(unix, feature = "systemd"))]
                systemd: None,
            };
            return Ok((herald, None));
        };
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState::default()),
            cond: Condvar::new(),
        });
        let thread_queue = Arc::clone(&queue);
        let (thread_names, thread_stages) = (Frozen::clone(&names), Frozen::clone(&stages));
        let control = Arc::clone(control);
        let thread_observer = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("rungroup-observer".to_owned())
            .spawn(move || {
                deliver(
                    &thread_queue,
                    thread_observer,
                    &thread_names,
                    &thread_stages,
                );
                control.notify();
            });
        // On failure this may be the observer's last reference: its `Drop` must not unwind here.
        unwind::drop_quietly(observer);
        let handle = spawned?;
        let herald = Self {
            names,
            stages,
            observer: None,
            queue: Some(queue),
            #[cfg(all(unix, feature = "systemd"))]
            systemd: None,
        };
        Ok((herald, Some(handle)))
    }

    /// Whether anything consumes events. Events whose fields cost work to build, like the cause's
    /// text, are built only then.
    pub(crate) fn observed(&self) -> bool {
        #[cfg(all(unix, feature = "systemd"))]
        if self.systemd.is_some() {
            return true;
        }
        cfg!(any(feature = "tracing", feature = "log"))
            || self.observer.is_some()
            || self.queue.is_some()
    }

    /// Enters, on the calling thread, the span of `actor` (in `stage`) until the guard is
    /// dropped: `actor{name=.. stage=..}`, target `rungroup`, level `INFO` (feature `tracing`).
    /// The actor's own `tracing` events, and the group's about it on its thread, carry its name
    /// and stage.
    #[cfg(feature = "tracing")]
    pub(crate) fn actor_span(&self, actor: usize, stage: usize) -> SpanGuard {
        let (name, stage) = (&*self.names[actor], &*self.stages[stage]);
        let span = tracing::info_span!(target: "rungroup", "actor", name, stage);
        SpanGuard {
            _entered: span.entered(),
        }
    }

    /// Without the `tracing` feature: nothing.
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn actor_span(&self, _actor: usize, _stage: usize) -> SpanGuard {
        SpanGuard {}
    }

    /// The span of `stage`'s teardown, `stage{name=.. index=..}`, target `rungroup`, level
    /// `INFO` (feature `tracing`): the runner enters it while it works on the stage and
    /// instruments its waits with it, never holding it entered across an `.await` (so the run's
    /// future stays `Send`, and an executor's other tasks are never inside it).
    #[cfg(feature = "tracing")]
    pub(crate) fn stage_span(&self, stage: usize) -> StageSpan {
        let (name, index) = (&*self.stages[stage], stage);
        StageSpan {
            span: tracing::info_span!(target: "rungroup", "stage", name, index),
        }
    }

    /// Without the `tracing` feature: nothing.
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn stage_span(&self, _stage: usize) -> StageSpan {
        StageSpan {}
    }

    /// Lets go of the actors' names, once every event was delivered and the observer's thread (if
    /// any) joined, so that the runner can move them into the report lines; events are dropped
    /// from then on.
    pub(crate) fn release_names(&mut self) {
        // One empty list for every run: no allocation on the way out of `run`.
        static NONE: std::sync::OnceLock<Frozen<[String]>> = std::sync::OnceLock::new();
        self.names = Frozen::clone(NONE.get_or_init(|| Frozen::from(Vec::new())));
    }

    pub(crate) fn emit(&self, note: Note) {
        // After `release_names`, the run is over: nothing is left to say.
        if self.names.is_empty() {
            return;
        }
        #[cfg(all(unix, feature = "systemd"))]
        if let Some(systemd) = &self.systemd {
            systemd.note(&note, &self.names, &self.stages);
        }
        #[cfg(feature = "tracing")]
        trace(&note.event(&self.names, &self.stages));
        #[cfg(feature = "log")]
        log_event(&note.event(&self.names, &self.stages));
        if let Some(observer) = &self.observer {
            // A panic in the observer is caught: it must not wedge teardown or kill an actor's
            // bookkeeping.
            let _ = unwind::catch(|| observer(&note.event(&self.names, &self.stages)));
        } else if let Some(queue) = &self.queue {
            let mut state = queue.state.lock();
            if !state.closed {
                state.notes.push_back(note);
                queue.cond.notify_one();
            }
        }
    }

    /// No more events: the observer thread delivers what is queued, then ends.
    pub(crate) fn close(&self) {
        if let Some(queue) = &self.queue {
            queue.state.lock().closed = true;
            queue.cond.notify_one();
        }
    }

    /// Whether the observer thread (if any) has delivered everything and ended.
    pub(crate) fn is_done(&self) -> bool {
        self.queue
            .as_ref()
            .is_none_or(|queue| queue.state.lock().done)
    }

    /// Gives up on a stuck observer: drops what it has not delivered (so that it is never called
    /// after `run` returns, except for the call it is stuck in) and returns how many events it
    /// missed, counting the one it is stuck in.
    pub(crate) fn abandon(&self) -> usize {
        let Some(queue) = &self.queue else { return 0 };
        let mut state = queue.state.lock();
        let notes = std::mem::take(&mut state.notes);
        let missed = notes.len() + usize::from(state.busy);
        drop(state);
        drop(notes);
        missed
    }
}

/// The observer thread: one event at a time, in order, until closed and empty.
fn deliver(queue: &Queue, observer: Observer, names: &[String], stages: &[String]) {
    loop {
        let note = {
            let mut state = queue.state.lock();
            loop {
                if let Some(note) = state.notes.pop_front() {
                    state.busy = true;
                    break Some(note);
                }
                if state.closed {
                    break None;
                }
                state = queue.cond.wait(state);
            }
        };
        let Some(note) = note else { break };
        let _ = unwind::catch(|| observer(&note.event(names, stages)));
        queue.state.lock().busy = false;
    }
    // Nobody is left to report a panic in the observer's `Drop` to.
    unwind::drop_quietly(observer);
    queue.state.lock().done = true;
}

/// Emits `event` as a `tracing` event (rule O02, feature `tracing`), target `rungroup`.
///
/// Every event carries an `event` field with a stable name (`triggered`, `stage_begun`,
/// `interrupting`, `actor_exited`, `stage_ended`, `escalated`, `abandoned`, `ready`,
/// `not_ready`, `lame_duck`, `restarting`) and the event's own fields. Levels: lifecycle steps are
/// `INFO` (an interrupt call is `DEBUG`), an actor that ended with an error or panic, an escalation
/// and a restart are `WARN`, an abandonment is `ERROR`. An event emitted on an actor's thread is
/// inside that actor's span, one emitted by the runner during a stage's teardown inside that
/// stage's span ([`Herald::actor_span`], [`Herald::stage_span`]).
#[cfg(feature = "tracing")]
pub(crate) fn trace(event: &Event<'_>) {
    use tracing::{debug, error, info, warn};
    match *event {
        Event::Triggered { cause } => {
            info!(target: "rungroup", event = "triggered", cause, "teardown triggered: {cause}");
        }
        Event::StageBegun { index, stage } => {
            info!(target: "rungroup", event = "stage_begun", index, stage, "stage '{stage}' begun");
        }
        Event::Interrupting { actor } => {
            debug!(target: "rungroup", event = "interrupting", actor, "interrupting '{actor}'");
        }
        Event::HookReturned {
            actor,
            hook,
            panicked,
        } => {
            if panicked {
                warn!(target: "rungroup", event = "hook_returned", actor, hook, panicked,
                    "{hook} of '{actor}' panicked");
            } else {
                debug!(target: "rungroup", event = "hook_returned", actor, hook, panicked,
                    "{hook} of '{actor}' returned");
            }
        }
        Event::ActorExited {
            actor,
            outcome,
            error: None,
            first,
        } => {
            if outcome == "ok" {
                info!(target: "rungroup", event = "actor_exited", actor, outcome, first,
                    "actor '{actor}' exited: {outcome}");
            } else {
                warn!(target: "rungroup", event = "actor_exited", actor, outcome, first,
                    "actor '{actor}' exited: {outcome}");
            }
        }
        Event::ActorExited {
            actor,
            outcome,
            error: Some(error),
            first,
        } => {
            warn!(target: "rungroup", event = "actor_exited", actor, outcome, error, first,
                "actor '{actor}' exited: {outcome}: {error}");
        }
        Event::StageEnded {
            index,
            stage,
            elapsed,
            expired,
        } => {
            let elapsed = Rounded(elapsed);
            info!(target: "rungroup", event = "stage_ended", index, stage, %elapsed, expired,
                "stage '{stage}' ended after {elapsed}");
        }
        Event::Escalated { actor } => {
            warn!(target: "rungroup", event = "escalated", actor, "actor '{actor}' escalated");
        }
        Event::Abandoned { actor } => {
            error!(target: "rungroup", event = "abandoned", actor, "actor '{actor}' abandoned");
        }
        Event::Stalled { actor, took } => {
            let took = Rounded(took);
            warn!(target: "rungroup", event = "stalled", actor, %took,
                "actor '{actor}' held the group's thread for {took}");
        }
        Event::Ready => info!(target: "rungroup", event = "ready", "ready"),
        Event::NotReady { reason } => {
            info!(target: "rungroup", event = "not_ready", reason, "not ready: {reason}");
        }
        Event::LameDuck { delay } => {
            info!(target: "rungroup", event = "lame_duck", ?delay,
                "lame duck: {delay:?} before the first stage");
        }
        Event::Restarting {
            actor,
            incarnation,
            outcome,
            backoff,
        } => {
            warn!(target: "rungroup", event = "restarting", actor, incarnation, outcome,
                ?backoff, "actor '{actor}' restarting in {backoff:?}: {outcome}");
        }
    }
}

/// The span of a stage's teardown (feature `tracing`; nothing without it). `Send`: kept across
/// the run's `.await`s, entered only between them.
#[derive(Clone)]
pub(crate) struct StageSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl StageSpan {
    /// No stage yet.
    pub(crate) fn none() -> Self {
        StageSpan {
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }

    /// Enters the span on this thread until the guard is dropped (not across an `.await`).
    #[cfg(feature = "tracing")]
    pub(crate) fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }

    /// Without the `tracing` feature: a guard of nothing.
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn enter(&self) -> SpanGuard {
        SpanGuard {}
    }

    /// `future`, inside the span whenever it is polled.
    #[cfg(feature = "tracing")]
    pub(crate) fn instrument<F: std::future::Future>(
        &self,
        future: F,
    ) -> impl std::future::Future<Output = F::Output> {
        use tracing::Instrument;
        future.instrument(self.span.clone())
    }

    /// Without the `tracing` feature: `future` itself.
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn instrument<F: std::future::Future>(&self, future: F) -> F {
        future
    }
}

/// A `tracing` span entered on the thread that made it, left when this is dropped (feature
/// `tracing`; without it, nothing). Made by [`Herald::actor_span`] and [`Herald::stage_span`].
#[must_use = "the span is left when the guard is dropped"]
pub(crate) struct SpanGuard {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::EnteredSpan,
}

/// The level of an event, as [`trace`] gives it to `tracing` (where it must be spelled out per
/// call site) and [`log_event`] to `log`: lifecycle steps `INFO` (an interrupt call or a hook's
/// return `DEBUG`), an actor that ended with an error or panic, a hook's panic and an escalation
/// `WARN`, an abandonment `ERROR`.
#[cfg(feature = "log")]
fn level(event: &Event<'_>) -> ::log::Level {
    use ::log::Level;
    match *event {
        Event::Triggered { .. } | Event::StageBegun { .. } | Event::StageEnded { .. } => {
            Level::Info
        }
        Event::Interrupting { .. } => Level::Debug,
        Event::HookReturned { panicked, .. } => {
            if panicked {
                Level::Warn
            } else {
                Level::Debug
            }
        }
        Event::ActorExited { outcome, .. } => {
            if outcome == "ok" {
                Level::Info
            } else {
                Level::Warn
            }
        }
        Event::Escalated { .. } | Event::Restarting { .. } | Event::Stalled { .. } => Level::Warn,
        Event::Abandoned { .. } => Level::Error,
        Event::Ready | Event::NotReady { .. } | Event::LameDuck { .. } => Level::Info,
    }
}

/// Emits `event` as a `log` record (feature `log`): target `rungroup`, the level of [`level`],
/// the event's `Display` as the message.
#[cfg(feature = "log")]
fn log_event(event: &Event<'_>) {
    ::log::log!(target: "rungroup", level(event), "{event}");
}

#[cfg(all(test, feature = "tracing", not(any(loom, shuttle))))]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::sync::Mutex;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Metadata, Subscriber};

    use super::*;

    type Fields = BTreeMap<String, String>;

    /// The spans made (name and fields, id = position + 1), the stack of entered ones, and every
    /// event with the innermost span entered when it was emitted. One thread only.
    #[derive(Default)]
    struct Recorded {
        spans: Vec<(String, Fields)>,
        stack: Vec<u64>,
        events: Vec<(Option<u64>, Fields)>,
    }

    #[derive(Default)]
    struct Recorder(Mutex<Recorded>);

    struct Visitor<'a>(&'a mut Fields);

    impl Visit for Visitor<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == "rungroup"
        }

        fn new_span(&self, attributes: &Attributes<'_>) -> Id {
            let mut fields = Fields::new();
            attributes.record(&mut Visitor(&mut fields));
            let mut recorded = self.0.lock().unwrap();
            recorded
                .spans
                .push((attributes.metadata().name().to_owned(), fields));
            Id::from_u64(recorded.spans.len() as u64)
        }

        fn record(&self, _: &Id, _: &Record<'_>) {}

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = Fields::new();
            event.record(&mut Visitor(&mut fields));
            let mut recorded = self.0.lock().unwrap();
            let span = recorded.stack.last().copied();
            recorded.events.push((span, fields));
        }

        fn enter(&self, span: &Id) {
            self.0.lock().unwrap().stack.push(span.into_u64());
        }

        fn exit(&self, _: &Id) {
            self.0.lock().unwrap().stack.pop();
        }
    }

    /// O02 (issue 13): the span of an actor names it and its stage, the span of a stage's
    /// teardown names it and its index, and the group's events emitted inside one are inside it.
    #[test]
    fn o02_i13_actor_and_stage_spans_name_the_actor_and_stage() {
        let recorder = Arc::new(Recorder::default());
        let names: Frozen<[String]> = Frozen::from(["web".to_owned(), "job".to_owned()]);
        let stages: Frozen<[String]> = Frozen::from(["default".to_owned(), "drain".to_owned()]);
        let control = Arc::new(Control::new());
        tracing::subscriber::with_default(Arc::clone(&recorder), || {
            let (herald, thread) = Herald::start(names, stages, None, false, &control).unwrap();
            assert!(thread.is_none());
            {
                let _actor = herald.actor_span(1, 1);
                herald.emit(Note::ActorExited {
                    actor: 1,
                    outcome: "error",
                    error: None,
                    first: true,
                });
            }
            {
                use std::future::Future;
                use std::task::{Context, Waker};
                let span = herald.stage_span(1);
                {
                    let _entered = span.enter();
                    herald.emit(Note::StageBegun { index: 1 });
                }
                // And inside a future it instruments, whenever it is polled.
                let emit = async {
                    herald.emit(Note::StageEnded {
                        index: 1,
                        elapsed: Duration::ZERO,
                        expired: false,
                    })
                };
                let mut staged = std::pin::pin!(span.instrument(emit));
                let mut cx = Context::from_waker(Waker::noop());
                assert!(staged.as_mut().poll(&mut cx).is_ready());
            }
            herald.emit(Note::StageBegun { index: 0 });
        });
        let recorded = recorder.0.lock().unwrap();
        let span = |name: &str, fields: &[(&str, &str)]| {
            let fields = fields
                .iter()
                .map(|&(key, value)| (key.to_owned(), value.to_owned()));
            (name.to_owned(), fields.collect::<Fields>())
        };
        assert_eq!(
            recorded.spans,
            [
                span("actor", &[("name", "job"), ("stage", "drain")]),
                span("stage", &[("name", "drain"), ("index", "1")]),
            ]
        );
        let inside: Vec<(Option<u64>, &str)> = recorded
            .events
            .iter()
            .map(|(span, fields)| (*span, fields["event"].as_str()))
            .collect();
        assert_eq!(
            inside,
            [
                (Some(1), "actor_exited"),
                (Some(2), "stage_begun"),
                (Some(2), "stage_ended"),
                (None, "stage_begun")
            ]
        );
        assert!(recorded.stack.is_empty(), "every span was left");
    }
}
