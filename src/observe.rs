//! Lifecycle events for an observer hook (rule O02), with no dependency.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::Duration;

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
        /// The cause, in words.
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
        /// Whether this was the first exit.
        first: bool,
    },
    /// A stage finished its teardown.
    StageEnded {
        /// Its index.
        index: usize,
        /// Its name.
        stage: &'a str,
        /// How long it took.
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
                first,
            } => {
                write!(f, "actor '{actor}' exited: {outcome}")?;
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
                write!(f, "stage {index} '{stage}' ended after {elapsed:?}")?;
                if *expired {
                    f.write_str(" (deadline expired)")?;
                }
                Ok(())
            }
            Event::Escalated { actor } => write!(f, "actor '{actor}' escalated"),
            Event::Abandoned { actor } => write!(f, "actor '{actor}' abandoned"),
            Event::Restarting {
                actor,
                incarnation,
                outcome,
                backoff,
            } => write!(
                f,
                "actor '{actor}' restarting in {backoff:?}: incarnation {incarnation} ended: \
                 {outcome}"
            ),
        }
    }
}

/// An event as the group records it: owned, naming actors and stages by index, so that it can
/// wait in the observer's queue. [`Note::event`] lends it out as an [`Event`].
#[derive(Debug)]
pub(crate) enum Note {
    Triggered {
        cause: String,
    },
    StageBegun {
        index: usize,
    },
    Interrupting {
        actor: usize,
    },
    HookReturned {
        actor: usize,
        hook: &'static str,
        panicked: bool,
    },
    ActorExited {
        actor: usize,
        outcome: &'static str,
        first: bool,
    },
    StageEnded {
        index: usize,
        elapsed: Duration,
        expired: bool,
    },
    Escalated {
        actor: usize,
    },
    Abandoned {
        actor: usize,
    },
    Restarting {
        actor: usize,
        incarnation: usize,
        outcome: &'static str,
        backoff: Duration,
    },
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
                first,
            } => Event::ActorExited {
                actor: &names[actor],
                outcome,
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
        };
        Ok((herald, Some(handle)))
    }

    /// Whether anything consumes events. Events whose fields cost work to build, like the cause's
    /// text, are built only then.
    pub(crate) fn observed(&self) -> bool {
        cfg!(feature = "tracing") || self.observer.is_some() || self.queue.is_some()
    }

    pub(crate) fn emit(&self, note: Note) {
        #[cfg(feature = "tracing")]
        trace(&note.event(&self.names, &self.stages));
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
/// `interrupting`, `actor_exited`, `stage_ended`, `escalated`, `abandoned`, `restarting`) and the
/// event's own fields. Levels: lifecycle steps are `INFO` (an interrupt call is `DEBUG`), an actor
/// that ended with an error or panic, an escalation and a restart are `WARN`, an abandonment is
/// `ERROR`.
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
        Event::StageEnded {
            index,
            stage,
            elapsed,
            expired,
        } => {
            info!(target: "rungroup", event = "stage_ended", index, stage, ?elapsed, expired,
                "stage '{stage}' ended after {elapsed:?}");
        }
        Event::Escalated { actor } => {
            warn!(target: "rungroup", event = "escalated", actor, "actor '{actor}' escalated");
        }
        Event::Abandoned { actor } => {
            error!(target: "rungroup", event = "abandoned", actor, "actor '{actor}' abandoned");
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
