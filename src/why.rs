//! Why teardown began and why it escalated: [`Trigger`] (what the report keeps), [`Cause`] (what
//! every interrupt sees: the trigger with the first exit's value) and [`Escalation`]. A leaf: it
//! needs nothing else of the crate, so the state word, the planner, the errors and the report
//! can all speak of it.

use std::fmt;

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
    /// The group's hook thread could not be spawned, so no actor was started.
    HelperFailed,
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

impl<E: fmt::Display> fmt::Display for Cause<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Exit {
                actor,
                result: Ok(()),
            } => write!(f, "actor '{actor}' returned Ok"),
            Cause::Exit {
                actor,
                result: Err(error),
            } => write!(f, "actor '{actor}' failed: {error}"),
            Cause::Panic { actor, message } => write!(f, "actor '{actor}' panicked: {message}"),
            Cause::Stop { reason } => write!(f, "stop requested: {reason}"),
            Cause::Signal { signal } => write!(f, "{} received", SignalName(*signal)),
            Cause::SpawnFailed { actor } => write!(f, "could not spawn actor '{actor}'"),
            Cause::HelperFailed => f.write_str("could not spawn the group's hook thread"),
            Cause::AllExited => f.write_str("every actor exited"),
        }
    }
}

/// What triggered teardown, as the report keeps it (the first exit's value itself lives in that
/// actor's [`Outcome`](crate::Outcome)).
///
/// `Display` gives it in words, naming actors by index (`actor #2 exited first`);
/// [`Report::trigger_summary`](crate::Report::trigger_summary) names them.
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::Trigger;
///
/// assert_eq!(Trigger::Stop { reason: "deploy".into() }.to_string(), "stop requested: deploy");
/// assert_eq!(Trigger::Signal { signal: 15 }.to_string(), "SIGTERM");
/// assert_eq!(Trigger::Exit { actor: 2 }.to_string(), "actor #2 exited first");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// The exit of the actor at this index of [`Report::actors`](crate::Report::actors) (returned or panicked).
    Exit {
        /// Index into [`Report::actors`](crate::Report::actors).
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
        /// Index into [`Report::actors`](crate::Report::actors).
        actor: usize,
    },
    /// Every actor exited without triggering teardown.
    AllExited,
    /// The group had no actors (R01).
    Empty,
    /// A helper thread of the group (the hook thread or the observer's) could not be spawned,
    /// so no actor was started ([`Error::Helper`](crate::Error::Helper)).
    HelperFailed,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Exit { actor } => write!(f, "actor #{actor} exited first"),
            Trigger::Stop { reason } => write!(f, "stop requested: {reason}"),
            Trigger::Signal { signal } => write!(f, "{}", SignalName(*signal)),
            Trigger::SpawnFailed { actor } => write!(f, "could not spawn actor #{actor}"),
            Trigger::AllExited => f.write_str("every actor exited"),
            Trigger::Empty => f.write_str("no actors"),
            Trigger::HelperFailed => f.write_str("could not spawn a helper thread of the group"),
        }
    }
}

/// What escalated teardown (rule S05): which deadline ran out, or which request came a second
/// time.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Escalation {
    /// The grace period of this stage expired before it drained.
    Grace {
        /// The stage's name.
        stage: String,
    },
    /// The teardown budget was spent.
    Budget,
    /// A stop request or signal arrived while teardown was under way: this one.
    Request(Trigger),
}

impl fmt::Display for Escalation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Escalation::Grace { stage } => write!(f, "the grace period of stage '{stage}' expired"),
            Escalation::Budget => f.write_str("the teardown budget was spent"),
            Escalation::Request(Trigger::Signal { signal }) => {
                write!(f, "{} arrived during teardown", SignalName(*signal))
            }
            Escalation::Request(Trigger::Stop { reason }) => {
                write!(
                    f,
                    "a second stop request arrived during teardown ({reason})"
                )
            }
            Escalation::Request(_) => f.write_str("a second stop request arrived during teardown"),
        }
    }
}

/// A signal number printed by name where it is a common one (`SIGTERM`), else as `signal <n>`.
pub(crate) struct SignalName(pub(crate) i32);

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match signal_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// The name of a signal whose number is the same on every Unix this crate knows (POSIX numbers
/// 1, 2, 3, 6, 9, 14, 15), plus the Linux-only ones on Linux. `None` for the rest.
pub(crate) fn signal_name(signal: i32) -> Option<&'static str> {
    let portable = match signal {
        1 => Some("SIGHUP"),
        2 => Some("SIGINT"),
        3 => Some("SIGQUIT"),
        6 => Some("SIGABRT"),
        9 => Some("SIGKILL"),
        14 => Some("SIGALRM"),
        15 => Some("SIGTERM"),
        _ => None,
    };
    if portable.is_some() || !cfg!(target_os = "linux") {
        return portable;
    }
    match signal {
        10 => Some("SIGUSR1"),
        12 => Some("SIGUSR2"),
        13 => Some("SIGPIPE"),
        17 => Some("SIGCHLD"),
        28 => Some("SIGWINCH"),
        _ => None,
    }
}
