//! Why teardown began and why it escalated: [`Trigger`] (what the report keeps), [`Cause`] (what
//! every interrupt sees: the trigger with the first exit's value) and [`Escalation`]. A leaf: it
//! needs nothing else of the crate, so the state word, the planner, the errors and the report
//! can all speak of it.

use std::fmt;
use std::sync::Arc;

/// Why teardown began, as every interrupt sees it (rule R06): the [`Trigger`] (the one "why" of a
/// run, the same the report keeps), with the first exit's actor and value.
///
/// Every interrupt of a run receives a reference to the same `Cause`. When the cause is an
/// actor's return, [`result`](Cause::result) is that very value, not a copy: after teardown it
/// is moved, unchanged, into the report and out of [`Group::run`](crate::Group::run).
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{Cause, Group, Trigger};
///
/// let mut group = Group::new();
/// group.add(|| Err("disk full".into()), |cause: &Cause<_>| {
///     if let (Some(actor), Some(Err(error))) = (cause.actor(), cause.result()) {
///         println!("{actor} failed first: {error}");
///     }
///     assert!(matches!(cause.trigger(), Trigger::Exit { actor: 0 }));
/// });
/// assert_eq!(group.run().unwrap_err().to_string(), "disk full");
/// ```
#[derive(Debug)]
pub struct Cause<E> {
    trigger: Trigger,
    /// The actor of an exit or of a failed spawn, by name.
    actor: Option<ActorName>,
    /// A first exit's value, or its panic's message.
    exit: Option<FirstExit<E>>,
}

/// How the first exit ended, as the cause holds it.
#[derive(Debug)]
enum FirstExit<E> {
    Returned(Result<(), E>),
    /// The payload itself is kept for the report; interrupts see its message.
    Panicked(String),
}

/// An actor's name as a cause holds it: its place in the run's list of names, shared with the
/// run rather than copied (no allocation on the way to the first interrupt).
pub(crate) struct ActorName {
    names: Arc<[String]>,
    index: usize,
}

impl ActorName {
    pub(crate) fn new(names: &Arc<[String]>, index: usize) -> Self {
        Self {
            names: Arc::clone(names),
            index,
        }
    }

    fn as_str(&self) -> &str {
        &self.names[self.index]
    }
}

impl fmt::Debug for ActorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<E> Cause<E> {
    /// A first exit that returned `result`.
    pub(crate) fn returned(trigger: Trigger, actor: ActorName, result: Result<(), E>) -> Self {
        Self {
            trigger,
            actor: Some(actor),
            exit: Some(FirstExit::Returned(result)),
        }
    }

    /// A first exit that panicked with `message`.
    pub(crate) fn panicked(trigger: Trigger, actor: ActorName, message: String) -> Self {
        Self {
            trigger,
            actor: Some(actor),
            exit: Some(FirstExit::Panicked(message)),
        }
    }

    /// Any other trigger; `actor` names the actor of a failed spawn.
    pub(crate) fn other(trigger: Trigger, actor: Option<ActorName>) -> Self {
        Self {
            trigger,
            actor,
            exit: None,
        }
    }

    /// What triggered teardown: the same [`Trigger`] the report keeps.
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    /// The name of the actor whose exit or spawn failure caused teardown, if any.
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_ref().map(ActorName::as_str)
    }

    /// The first exit's very value, when the cause is an actor's return (R06).
    pub fn result(&self) -> Option<&Result<(), E>> {
        match &self.exit {
            Some(FirstExit::Returned(result)) => Some(result),
            _ => None,
        }
    }

    /// The first exit's panic message, when the cause is an actor's panic (the payload itself
    /// is in the report).
    pub fn panic_message(&self) -> Option<&str> {
        match &self.exit {
            Some(FirstExit::Panicked(message)) => Some(message),
            _ => None,
        }
    }

    /// The first exit's value, moved out once no interrupt holds the cause any more.
    pub(crate) fn into_result(self) -> Option<Result<(), E>> {
        match self.exit {
            Some(FirstExit::Returned(result)) => Some(result),
            _ => None,
        }
    }

    /// Writes the cause, with `error` writing a first exit's error.
    pub(crate) fn describe(
        &self,
        f: &mut dyn fmt::Write,
        error: impl FnOnce(&E, &mut dyn fmt::Write) -> fmt::Result,
    ) -> fmt::Result {
        let actor = self.actor().unwrap_or("?");
        match (&self.trigger, &self.exit) {
            (_, Some(FirstExit::Returned(Ok(())))) => write!(f, "actor '{actor}' returned Ok"),
            (_, Some(FirstExit::Returned(Err(e)))) => {
                write!(f, "actor '{actor}' failed: ")?;
                error(e, f)
            }
            (_, Some(FirstExit::Panicked(message))) => {
                write!(f, "actor '{actor}' panicked: {message}")
            }
            (Trigger::Stop { reason }, None) => write!(f, "stop requested: {reason}"),
            (Trigger::Signal { signal }, None) => write!(f, "{} received", SignalName(*signal)),
            (Trigger::SpawnFailed { .. }, None) => write!(f, "could not spawn actor '{actor}'"),
            (Trigger::HelperFailed, None) => f.write_str("could not spawn the group's hook thread"),
            (Trigger::Empty, None) => f.write_str("no actors"),
            (Trigger::AllExited | Trigger::Exit { .. }, None) => f.write_str("every actor exited"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Cause<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f, |error, f| write!(f, "{error}"))
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
