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
