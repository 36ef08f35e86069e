//! Lifecycle events for an observer hook (rule O02), with no dependency.

use std::fmt;
use std::time::Duration;

use crate::sync::Arc;

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
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Triggered { cause } => write!(f, "teardown triggered: {cause}"),
            Event::StageBegun { index, stage } => write!(f, "stage {index} '{stage}' begun"),
            Event::Interrupting { actor } => write!(f, "interrupting '{actor}'"),
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
        }
    }
}

/// Emits `event` as a `tracing` event (rule O02, feature `tracing`), target `rungroup`.
///
/// Every event carries an `event` field with a stable name (`triggered`, `stage_begun`,
/// `interrupting`, `actor_exited`, `stage_ended`, `escalated`, `abandoned`) and the event's own
/// fields. Levels: lifecycle steps are `INFO` (an interrupt call is `DEBUG`), an actor that ended
/// with an error or panic and an escalation are `WARN`, an abandonment is `ERROR`.
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
    }
}
