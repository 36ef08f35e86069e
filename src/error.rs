//! The run's own failures: the ones that are not an actor's result.

use std::error::Error as StdError;
use std::fmt;
use std::io;

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
    /// An actor's thread could not be spawned (F03). The actors already started were interrupted
    /// and have all returned.
    Spawn {
        /// The actor whose thread could not be spawned.
        actor: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// Teardown gave up on some actors or interrupts (S06): their threads were detached and may
    /// still be running. Never a success.
    Abandoned {
        /// Actors whose execute had not returned.
        actors: Vec<String>,
        /// Actors whose interrupt (or force hook) had not returned.
        interrupts: Vec<String>,
        /// What triggered teardown, in words (the value itself is in the report).
        trigger: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spawn { actor, source } => {
                write!(f, "could not spawn the thread of actor '{actor}': {source}")
            }
            Error::Abandoned {
                actors,
                interrupts,
                trigger,
            } => {
                f.write_str("teardown abandoned")?;
                if !actors.is_empty() {
                    write!(f, " actors still running: {}", actors.join(", "))?;
                }
                if !interrupts.is_empty() {
                    if !actors.is_empty() {
                        f.write_str(";")?;
                    }
                    write!(f, " hooks not returned: {}", interrupts.join(", "))?;
                }
                write!(f, " (teardown began with {trigger})")
            }
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Spawn { source, .. } => Some(source),
            Error::Abandoned { .. } => None,
        }
    }
}

impl From<Error> for io::Error {
    /// Lets groups whose actors return `io::Result<()>` use [`Group::run`](crate::Group::run).
    fn from(error: Error) -> Self {
        match error {
            Error::Spawn { .. } => io::Error::other(error),
            Error::Abandoned { .. } => io::Error::new(io::ErrorKind::TimedOut, error),
        }
    }
}
