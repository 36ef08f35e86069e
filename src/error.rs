//! The run's own failures: the ones that are not an actor's result.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::why::Escalation;

/// A failure of the run itself, as opposed to an actor's error.
///
/// [`Group::run`](crate::Group::run) returns the first exit's result unchanged, so its error type
/// is the actors' own `E`; these failures reach the caller through `E: From<Error>`. That bound
/// holds for `Box<dyn Error + Send + Sync>` (the default), for `anyhow::Error`, and for
/// [`io::Error`] (implemented here); give your own error enum a variant for it.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{Error, Group};
///
/// let mut group = Group::new();
/// // A stack no machine can map: the spawn fails, and the error names the actor.
/// group.actor("huge").stack_size(1 << 60).add(|| Ok(()), |_| {});
/// let error = group.run().unwrap_err();
/// let error = error.downcast_ref::<Error>().unwrap();
/// assert!(matches!(error, Error::Spawn { actor, .. } if actor == "huge"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An actor could not be started (F03): its thread could not be spawned, or its name cannot
    /// name a thread (it contains a NUL byte), or starting it would pass the process's memory-map
    /// limit, or its [`Executor`](crate::Executor) panicked. The actors already started were
    /// interrupted and have all returned. Also a misuse found before anything started (an invalid
    /// [`Restart`](crate::Restart), [`spawned`](crate::ActorBuilder::spawned) without an
    /// executor): then nothing ran. The cause is the [`source`](StdError::source).
    Spawn {
        /// The actor that could not be started.
        actor: String,
        /// Why.
        source: io::Error,
    },
    /// A helper thread of the group itself could not be spawned: the observer's, before any actor
    /// started (then nothing ran), or, during teardown with a grace or budget, a thread to call
    /// interrupts or force hooks (then the hooks named here were never called, their
    /// [`HookOutcome`](crate::HookOutcome) is `Skipped`, and teardown went on without them).
    Helper {
        /// Which helper: `hook` or `observer`.
        thread: &'static str,
        /// The actors whose hooks were never called because of it.
        skipped: Vec<String>,
        /// Why.
        source: io::Error,
    },
    /// The group's [`Timer`](crate::Timer) panicked in `sleep_until` or in its sleep's `poll`
    /// (for example `TokioTimer`, feature `tokio`, polled outside a tokio runtime). The run went
    /// on with the group's own timer thread, on the real clock, so every deadline was still kept;
    /// the misuse is reported rather than left to unwind through the run. The panic's message is
    /// the [`source`](StdError::source).
    Timer {
        /// Why.
        source: io::Error,
    },
    /// Teardown gave up on some actors or hooks (S06): their threads were left running and may
    /// still be. Never a success.
    Abandoned {
        /// Actors whose execute had not returned.
        actors: Vec<String>,
        /// Actors with an interrupt or force hook that was called and had not returned.
        hooks: Vec<String>,
        /// Actors with an interrupt that was due but never called: queued behind a hook that never
        /// returned (R04 could not be kept for them).
        skipped: Vec<String>,
        /// What triggered teardown, in words (the value itself is in the report).
        trigger: String,
    },
    /// Every actor returned, but some only after being escalated (S05): a deadline or a second
    /// stop request ran out first, their force hooks were called, and work they were doing may
    /// have been lost. Never a success.
    Escalated {
        /// The escalated actors, in registration order.
        actors: Vec<String>,
        /// What escalated teardown first.
        by: Escalation,
        /// What triggered teardown, in words.
        trigger: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The source is not repeated here: error chains print it from `source()`.
            Error::Spawn { actor, .. } => {
                write!(f, "could not start actor '{}'", actor.escape_debug())
            }
            Error::Helper {
                thread, skipped, ..
            } => {
                write!(f, "could not spawn the group's {thread} thread")?;
                if !skipped.is_empty() {
                    write!(f, "; hooks never called: {}", skipped.join(", "))?;
                }
                Ok(())
            }
            Error::Timer { source } => write!(f, "the group's timer failed: {source}"),
            Error::Abandoned {
                actors,
                hooks,
                skipped,
                trigger,
            } => {
                f.write_str("teardown abandoned")?;
                let mut sep = "";
                for (what, names) in [
                    (" actors still running: ", actors),
                    (" hooks not returned: ", hooks),
                    (" interrupts never called: ", skipped),
                ] {
                    if !names.is_empty() {
                        write!(f, "{sep}{what}{}", names.join(", "))?;
                        sep = ";";
                    }
                }
                write!(f, " (teardown began with {trigger})")
            }
            Error::Escalated {
                actors,
                by,
                trigger,
            } => write!(
                f,
                "teardown escalated: {by}; escalated actors: {} (teardown began with {trigger})",
                actors.join(", ")
            ),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Spawn { source, .. }
            | Error::Helper { source, .. }
            | Error::Timer { source } => Some(source),
            Error::Abandoned { .. } | Error::Escalated { .. } => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::Spawn { .. } | Error::Helper { .. } | Error::Timer { .. } => {
                io::ErrorKind::Other
            }
            Error::Abandoned { .. } | Error::Escalated { .. } => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, error)
    }
}
