//! What happened: the cause every interrupt sees, and the report `run_with_report` returns.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::group::Policy;

/// A panic's payload, as [`std::thread::Result`] carries it.
pub type Payload = Box<dyn Any + Send + 'static>;

/// Why teardown began, as every interrupt sees it (rule R06).
///
/// Every interrupt of a run receives a reference to the same `Cause`. When the cause is an
/// actor's return, `result` is that very value, not a copy: after teardown it is moved, unchanged,
/// into the report and out of [`Group::run`](crate::Group::run).
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{Cause, Group};
///
/// let mut group = Group::new();
/// group.add(|| Err("disk full".into()), |cause: &Cause<_>| {
///     if let Cause::Exit { actor, result: Err(error) } = cause {
///         println!("{actor} failed first: {error}");
///     }
/// });
/// assert_eq!(group.run().unwrap_err().to_string(), "disk full");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Cause<E> {
    /// An actor's execute returned first.
    Exit {
        /// The actor's name.
        actor: String,
        /// What it returned.
        result: Result<(), E>,
    },
    /// An actor's execute panicked first. The payload itself is kept for the report.
    Panic {
        /// The actor's name.
        actor: String,
        /// The panic message, when the payload was a string.
        message: String,
    },
    /// A [`StopHandle`](crate::StopHandle) asked for teardown.
    Stop {
        /// The reason the caller gave.
        reason: String,
    },
    /// A signal actor received a signal.
    Signal {
        /// The signal number (`SIGTERM` is 15 on Linux).
        signal: i32,
    },
    /// An actor's thread could not be spawned; the actors already started are torn down (F03).
    SpawnFailed {
        /// The actor whose thread could not be spawned.
        actor: String,
    },
    /// Every actor exited without triggering teardown (all of them `on-error` and `Ok`).
    AllExited,
}

impl<E> Cause<E> {
    /// The name of the actor whose exit or spawn failure caused teardown, if any.
    pub fn actor(&self) -> Option<&str> {
        match self {
            Cause::Exit { actor, .. } | Cause::Panic { actor, .. } => Some(actor),
            Cause::SpawnFailed { actor } => Some(actor),
            _ => None,
        }
    }
}

impl<E> fmt::Display for Cause<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Exit {
                actor,
                result: Ok(()),
            } => write!(f, "actor '{actor}' returned Ok"),
            Cause::Exit {
                actor,
                result: Err(_),
            } => write!(f, "actor '{actor}' returned an error"),
            Cause::Panic { actor, message } => write!(f, "actor '{actor}' panicked: {message}"),
            Cause::Stop { reason } => write!(f, "stop requested: {reason}"),
            Cause::Signal { signal } => write!(f, "signal {signal} received"),
            Cause::SpawnFailed { actor } => write!(f, "could not spawn actor '{actor}'"),
            Cause::AllExited => f.write_str("every actor exited"),
        }
    }
}

/// What triggered teardown, as the report keeps it (the first exit's value itself lives in that
/// actor's [`Outcome`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// The exit of the actor at this index of [`Report::actors`] (returned or panicked).
    Exit {
        /// Index into [`Report::actors`].
        actor: usize,
    },
    /// A stop request, with its reason.
    Stop {
        /// The reason given to [`StopHandle::stop`](crate::StopHandle::stop).
        reason: String,
    },
    /// A signal.
    Signal {
        /// The signal number.
        signal: i32,
    },
    /// The thread of the actor at this index could not be spawned.
    SpawnFailed {
        /// Index into [`Report::actors`].
        actor: usize,
    },
    /// Every actor exited without triggering teardown.
    AllExited,
    /// The group had no actors (R01).
    Empty,
}

/// How an actor's execute ended.
#[non_exhaustive]
pub enum Outcome<E> {
    /// It returned `Ok(())`.
    Ok,
    /// It returned this error.
    Err(E),
    /// It panicked with this payload.
    Panicked(Payload),
    /// It was still running when teardown gave up on it (rule S06): its thread was detached.
    Abandoned,
    /// Its thread was never started (a spawn failure came first, F03).
    NotStarted,
    /// It was the first exit and returned an error, but an interrupt that never returned still
    /// holds the cause, so the value could not be moved out (only possible with deadlines; the
    /// report's [`Error::Abandoned`] then names that interrupt, so the run is never a success).
    /// In a nested group's report it marks the first exit whose error went to the outer group
    /// ([`NestedReport`](crate::NestedReport)).
    Retained,
}

impl<E> Outcome<E> {
    /// A short name for logs: `ok`, `error`, `panicked`, `abandoned`, `not started`, `retained`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Err(_) => "error",
            Outcome::Panicked(_) => "panicked",
            Outcome::Abandoned => "abandoned",
            Outcome::NotStarted => "not started",
            Outcome::Retained => "retained",
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Outcome<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Err(error) => f.debug_tuple("Err").field(error).finish(),
            Outcome::Panicked(payload) => f
                .debug_tuple("Panicked")
                .field(&panic_message(payload.as_ref()))
                .finish(),
            other => f.write_str(match other {
                Outcome::Ok => "Ok",
                Outcome::Abandoned => "Abandoned",
                Outcome::NotStarted => "NotStarted",
                _ => "Retained",
            }),
        }
    }
}

/// What happened to an actor's interrupt.
#[derive(Debug)]
#[non_exhaustive]
pub enum InterruptOutcome {
    /// It was called and returned.
    Returned,
    /// It was called and panicked with this payload (rule F02: teardown went on).
    Panicked(Payload),
    /// It was called and had not returned when `run` gave up waiting (only with deadlines).
    Blocked,
    /// It was never called (its actor was never started).
    NotCalled,
}

/// One actor's line in the [`Report`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ActorReport<E> {
    /// The actor's name (given, or `actor-<index>`).
    pub name: String,
    /// The index of its stage in [`Report::stages`].
    pub stage: usize,
    /// Its exit policy.
    pub policy: Policy,
    /// How its execute ended.
    pub outcome: Outcome<E>,
    /// When its execute ended, measured from the start of `run` (absent when abandoned or never
    /// started). With a [`ManualClock`](crate::ManualClock), measured on that clock.
    pub exited_at: Option<Duration>,
    /// Whether its exit was the first exit.
    pub first: bool,
    /// What happened to its interrupt.
    pub interrupt: InterruptOutcome,
    /// Whether it was escalated (its force hook called, if it had one).
    pub escalated: bool,
    /// Whether its force hook panicked or did not return in time.
    pub force_failed: bool,
}

/// One stage's line in the [`Report`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StageReport {
    /// The stage's name (`default` for the stage actors are in unless told otherwise).
    pub name: String,
    /// How long its teardown took, from its first interrupt to its last exit or its deadline
    /// (absent if teardown never reached it).
    pub elapsed: Option<Duration>,
    /// Whether its grace period (or the budget, or an escalation) expired before it drained.
    pub expired: bool,
}

/// The full account of a run (rule O01): its trigger, and every actor's and stage's fate.
///
/// Returned by [`Group::run_with_report`](crate::Group::run_with_report). [`Report::into_result`]
/// turns it into what [`Group::run`](crate::Group::run) returns.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{Group, Outcome, Trigger};
///
/// let mut group = Group::new();
/// group.actor("init").add(|| Err("bad config".into()), |_| {});
/// let report = group.run_with_report();
/// assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
/// assert!(matches!(report.actors()[0].outcome, Outcome::Err(_)));
/// println!("{report}");
/// ```
#[must_use = "a report says whether teardown succeeded; log it or call `into_result`"]
pub struct Report<E> {
    pub(crate) trigger: Trigger,
    pub(crate) actors: Vec<ActorReport<E>>,
    pub(crate) stages: Vec<StageReport>,
    pub(crate) triggered_at: Option<Duration>,
    pub(crate) teardown: Option<Duration>,
    pub(crate) error: Option<Error>,
}

impl<E> Report<E> {
    /// What triggered teardown.
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    /// Every actor, in registration order.
    pub fn actors(&self) -> &[ActorReport<E>] {
        &self.actors
    }

    /// Every stage, in teardown order.
    pub fn stages(&self) -> &[StageReport] {
        &self.stages
    }

    /// The actor whose exit was the first exit, if the trigger was an exit.
    pub fn first_exit(&self) -> Option<&ActorReport<E>> {
        self.actors.iter().find(|actor| actor.first)
    }

    /// When teardown was triggered, measured from the start of `run`.
    pub fn triggered_at(&self) -> Option<Duration> {
        self.triggered_at
    }

    /// How long the whole teardown took.
    pub fn teardown(&self) -> Option<Duration> {
        self.teardown
    }

    /// The run's own failure, if any: a spawn failure (F03) or abandoned actors or interrupts
    /// (S06). `None` means teardown completed: every execute and every interrupt returned.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Names of the actors that were abandoned (rule S06).
    pub fn abandoned(&self) -> impl Iterator<Item = &str> {
        self.actors
            .iter()
            .filter(|actor| matches!(actor.outcome, Outcome::Abandoned))
            .map(|actor| actor.name.as_str())
    }

    /// Whether any execute or interrupt panicked.
    pub fn panicked(&self) -> bool {
        self.actors.iter().any(|actor| {
            matches!(actor.outcome, Outcome::Panicked(_))
                || matches!(actor.interrupt, InterruptOutcome::Panicked(_))
        })
    }

    /// What [`Group::run`](crate::Group::run) returns for this run:
    ///
    /// 1. a run error (spawn failure, abandonment) becomes `Err(E::from(error))`;
    /// 2. otherwise a panic is resumed on the caller (the first exit's, if it panicked, else the
    ///    first in registration order, executes before interrupts), as `std::thread::scope` does;
    /// 3. otherwise the first exit's result, unchanged (R09), or `Ok(())` when teardown was
    ///    requested (stop handle, signal) or every actor exited without triggering it.
    pub fn into_result(self) -> Result<(), E>
    where
        E: From<Error>,
    {
        let Report {
            trigger,
            mut actors,
            error,
            ..
        } = self;
        if let Some(error) = error {
            return Err(E::from(error));
        }
        let first = match trigger {
            Trigger::Exit { actor } => Some(actor),
            _ => None,
        };
        let panicked = first
            .filter(|&index| matches!(actors[index].outcome, Outcome::Panicked(_)))
            .or_else(|| {
                actors
                    .iter()
                    .position(|actor| matches!(actor.outcome, Outcome::Panicked(_)))
            });
        if let Some(index) = panicked {
            if let Outcome::Panicked(payload) =
                std::mem::replace(&mut actors[index].outcome, Outcome::Abandoned)
            {
                std::panic::resume_unwind(payload);
            }
        }
        for actor in &mut actors {
            if let InterruptOutcome::Panicked(payload) =
                std::mem::replace(&mut actor.interrupt, InterruptOutcome::Returned)
            {
                std::panic::resume_unwind(payload);
            }
        }
        match first {
            Some(index) => match std::mem::replace(&mut actors[index].outcome, Outcome::Ok) {
                Outcome::Err(error) => Err(error),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// A one-line description of the trigger, naming the actor.
    pub fn trigger_summary(&self) -> String {
        match &self.trigger {
            Trigger::Exit { actor } => {
                let actor = &self.actors[*actor];
                match &actor.outcome {
                    Outcome::Panicked(payload) => format!(
                        "actor '{}' panicked: {}",
                        actor.name,
                        panic_message(payload.as_ref())
                    ),
                    outcome => format!("actor '{}' exited first ({})", actor.name, outcome.label()),
                }
            }
            Trigger::Stop { reason } => format!("stop requested: {reason}"),
            Trigger::Signal { signal } => format!("signal {signal}"),
            Trigger::SpawnFailed { actor } => {
                format!("could not spawn actor '{}'", self.actors[*actor].name)
            }
            Trigger::AllExited => "every actor exited".to_owned(),
            Trigger::Empty => "no actors".to_owned(),
        }
    }
}

impl<E> fmt::Display for Report<E> {
    /// A multi-line summary for logs: the trigger, the stages, then one line per actor.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run ended: {}", self.trigger_summary())?;
        if let Some(teardown) = self.teardown {
            write!(f, "; teardown took {teardown:?}")?;
        }
        if let Some(error) = &self.error {
            write!(f, "\n  error: {error}")?;
        }
        for (index, stage) in self.stages.iter().enumerate() {
            write!(f, "\n  stage {index} '{}': ", stage.name)?;
            match stage.elapsed {
                Some(elapsed) => write!(f, "{elapsed:?}")?,
                None => f.write_str("not reached")?,
            }
            if stage.expired {
                f.write_str(" (deadline expired)")?;
            }
            for actor in self.actors.iter().filter(|actor| actor.stage == index) {
                write!(
                    f,
                    "\n    {:<16} {:<9} {}",
                    actor.name,
                    actor.policy.label(),
                    actor.outcome.label()
                )?;
                if let Outcome::Panicked(payload) = &actor.outcome {
                    write!(f, " ({})", panic_message(payload.as_ref()))?;
                }
                if let Some(at) = actor.exited_at {
                    write!(f, " at {at:?}")?;
                }
                if actor.first {
                    f.write_str(" [first exit]")?;
                }
                if actor.escalated {
                    f.write_str(" [escalated]")?;
                }
                if actor.force_failed {
                    f.write_str(" [force hook failed]")?;
                }
                match &actor.interrupt {
                    InterruptOutcome::Panicked(payload) => write!(
                        f,
                        " [interrupt panicked: {}]",
                        panic_message(payload.as_ref())
                    )?,
                    InterruptOutcome::Blocked => f.write_str(" [interrupt did not return]")?,
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

impl<E: fmt::Debug> fmt::Debug for Report<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("trigger", &self.trigger)
            .field("actors", &self.actors)
            .field("stages", &self.stages)
            .field("triggered_at", &self.triggered_at)
            .field("teardown", &self.teardown)
            .field("error", &self.error)
            .finish()
    }
}

/// The text of a panic payload when it is a string, as std's panic hook prints it.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
