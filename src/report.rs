//! What happened: the cause every interrupt sees, and the report `run_with_report` returns.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use crate::actor::{ActorId, BoxError, Policy};
use crate::error::Error;
use crate::unwind;
use crate::unwind::{Payload, panic_message};
use crate::why::{Cause, Escalation, Trigger};

/// The cause in words, for the `Triggered` event (and so `tracing`) and nested groups' stop
/// reasons. No `E: Display` bound reaches the runner, so an error exit's text is printed only when
/// `error_text` knows its type (the default `BoxError` among them); otherwise it is described,
/// and the report's `Display` prints it.
impl<E: 'static> Cause<E> {
    pub(crate) fn summary(&self) -> String {
        let mut text = String::new();
        let _ = self.describe(&mut text, |error, f| match error_text(error) {
            Some(error) => f.write_str(&error),
            None => f.write_str("returned an error"),
        });
        // "actor 'a' failed: returned an error" reads badly: say it once.
        text.replace("failed: returned an error", "returned an error")
    }
}

/// The text of an actor's error, for the events, where the group's error type `E` has no
/// `Display` bound: `Some` for the types a group's errors usually have (the default [`BoxError`],
/// [`std::io::Error`], [`Error`], `String`, `&'static str`), `None` for others.
pub(crate) fn error_text<E: 'static>(error: &E) -> Option<String> {
    let error: &dyn Any = error;
    if let Some(error) = error.downcast_ref::<BoxError>() {
        Some(error.to_string())
    } else if let Some(error) = error.downcast_ref::<std::io::Error>() {
        Some(error.to_string())
    } else if let Some(error) = error.downcast_ref::<Error>() {
        Some(error.to_string())
    } else if let Some(error) = error.downcast_ref::<String>() {
        Some(error.clone())
    } else {
        error
            .downcast_ref::<&'static str>()
            .map(|error| (*error).to_owned())
    }
}

/// How an actor's execute ended.
///
/// `Display` gives its [label](Outcome::label), then the error's text or the panic's message:
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{BoxError, Outcome};
///
/// assert_eq!(Outcome::<BoxError>::Ok.to_string(), "ok");
/// assert_eq!(Outcome::<BoxError>::Err("disk full".into()).to_string(), "error: disk full");
/// assert_eq!(Outcome::<BoxError>::Panicked(Box::new("boom")).to_string(), "panicked: boom");
/// assert_eq!(Outcome::<BoxError>::Abandoned.to_string(), "abandoned");
/// ```
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
    /// A future actor that was dropped before it completed: escalation reached it (unlike a
    /// thread, a future can be stopped from outside), or it asked to be dropped at its interrupt
    /// ([`ActorBuilder::add_future_cancel`](crate::ActorBuilder::add_future_cancel)).
    Cancelled,
    /// It was the first exit and returned an error, but an interrupt that never returned still
    /// holds the cause, so the value could not be moved out (only possible with deadlines; the
    /// report's [`Error::Abandoned`] then names that interrupt, so the run is never a success).
    /// In a nested group's report it marks the first exit whose error went to the outer group
    /// ([`Report::nested`]).
    Retained,
}

impl<E> Outcome<E> {
    /// A short name for logs: `ok`, `error`, `panicked`, `abandoned`, `not started`, `cancelled`,
    /// `retained`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Err(_) => "error",
            Outcome::Panicked(_) => "panicked",
            Outcome::Abandoned => "abandoned",
            Outcome::NotStarted => "not started",
            Outcome::Cancelled => "cancelled",
            Outcome::Retained => "retained",
        }
    }

    /// Writes the error's text or the panic's message between `open` and `close`; nothing for
    /// the other outcomes.
    fn write_detail(&self, f: &mut fmt::Formatter<'_>, open: &str, close: &str) -> fmt::Result
    where
        E: fmt::Display,
    {
        match self {
            Outcome::Err(error) => write!(f, "{open}{error}{close}"),
            Outcome::Panicked(payload) => {
                write!(f, "{open}{}{close}", panic_message(payload.as_ref()))
            }
            _ => Ok(()),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Outcome<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())?;
        self.write_detail(f, ": ", "")
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
                Outcome::Cancelled => "Cancelled",
                _ => "Retained",
            }),
        }
    }
}

/// What happened to one of an actor's hooks: its interrupt or its force hook.
#[derive(Debug)]
#[non_exhaustive]
pub enum HookOutcome {
    /// It was called and returned.
    Returned,
    /// It was called and panicked with this payload (rule F02: teardown went on).
    Panicked(Payload),
    /// It was called and had not returned when `run` gave up waiting (only with a deadline, or
    /// after an escalation): its thread was left running it.
    Blocked,
    /// It was due but never called: it was queued behind a hook that never returned, or no
    /// thread could be spawned to call it. The run's [`Error`] names it.
    Skipped,
    /// It was never due: an interrupt whose actor was never started, or a force hook whose actor
    /// was never escalated (or that had none).
    NotCalled,
}

impl HookOutcome {
    /// A short name for logs: `returned`, `panicked`, `blocked`, `skipped`, `not called`.
    pub fn label(&self) -> &'static str {
        match self {
            HookOutcome::Returned => "returned",
            HookOutcome::Panicked(_) => "panicked",
            HookOutcome::Blocked => "blocked",
            HookOutcome::Skipped => "skipped",
            HookOutcome::NotCalled => "not called",
        }
    }
}

/// One incarnation of a supervised actor that ended and was restarted: in
/// [`ActorReport::restarts`](crate::ActorReport::restarts).
#[derive(Debug)]
#[non_exhaustive]
pub struct Incarnation<E> {
    /// How it ended: [`Outcome::Ok`], [`Outcome::Err`] or [`Outcome::Panicked`] (a panic of the
    /// factory that was to build it counts as its panic).
    pub outcome: Outcome<E>,
    /// When it ended, on the same clock as
    /// [`ActorReport::exited_at`](crate::ActorReport::exited_at).
    pub ended_at: Duration,
}

/// Where a nested actor leaves its inner group's report, for the outer run's
/// [`Report::nested`] (rule T05).
pub(crate) type NestedSlot<E> = crate::sync::Arc<crate::sync::Mutex<Option<Report<E>>>>;

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
    /// started). With a `ManualClock`, measured on that clock.
    pub exited_at: Option<Duration>,
    /// Whether its exit was the first exit.
    pub first: bool,
    /// What happened to its interrupt.
    pub interrupt: HookOutcome,
    /// Whether it was escalated: still running when a deadline or a second stop request ran out
    /// (its force hook called, if it had one).
    pub escalated: bool,
    /// What happened to its force hook ([`HookOutcome::NotCalled`] unless it was escalated).
    pub force: HookOutcome,
    /// Panics caught while the group dropped this actor's closures or values itself (an execute
    /// that never started, an unused force hook, a skipped interrupt): recorded, never resumed by
    /// [`Report::into_result`] before the run's own result.
    pub drop_panics: Vec<Payload>,
    /// A supervised actor's incarnations that ended and were restarted
    /// ([`ActorBuilder::supervise`](crate::ActorBuilder::supervise)), in order; the last
    /// incarnation's exit is [`outcome`](Self::outcome). Empty for an actor never restarted. Their
    /// errors and panics were handled by restarting: [`Report::into_result`] neither returns nor
    /// resumes them, and [`Report::panicked`] does not count them.
    pub restarts: Vec<Incarnation<E>>,
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
    /// Whether a deadline (its grace period, or the budget) expired before it drained.
    pub expired: bool,
    /// What escalated this stage, if anything did: its grace, the budget, or a second stop
    /// request or signal.
    pub escalation: Option<Escalation>,
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
    pub(crate) observer_missed: usize,
    pub(crate) service: ServiceReport,
    /// The group's identity ([`ActorId`]'s), so that an id of another group is not looked up.
    pub(crate) identity: usize,
    /// The reports of nested groups (T05), by the index of their actor.
    pub(crate) nested: Vec<(usize, Report<E>)>,
}

/// What a run says of the service around its actors: readiness and the lame-duck delay.
#[derive(Debug, Default)]
pub(crate) struct ServiceReport {
    pub(crate) ready_at: Option<Duration>,
    pub(crate) never_ready: Vec<String>,
    pub(crate) lame_duck: Option<Duration>,
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

    /// The line of the actor `id` (what its `add*` returned).
    ///
    /// # Panics
    ///
    /// If `id` is another group's (F05), as [`Stage`](crate::Stage) does.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut group = rungroup::Group::new();
    /// let job = group.actor("job").add(|| Ok(()), |_| {});
    /// let report = group.run_with_report();
    /// assert_eq!(report.actor(job).name, "job");
    /// ```
    pub fn actor(&self, id: ActorId) -> &ActorReport<E> {
        assert!(
            id.group == self.identity && id.index < self.actors.len(),
            "rungroup: actor #{} looked up in the report of another group",
            id.index
        );
        &self.actors[id.index]
    }

    /// The report of the nested group that actor `id` ran ([`ActorBuilder::add_group`], rule
    /// T05): `None` if `id` is not a nested group's actor or its inner run never returned
    /// (abandoned). See [`ActorBuilder::add_group`] for what the nested actor returned.
    ///
    /// [`ActorBuilder::add_group`]: crate::ActorBuilder::add_group
    pub fn nested(&self, id: ActorId) -> Option<&Report<E>> {
        let _ = self.actor(id);
        self.nested
            .iter()
            .find(|(index, _)| *index == id.index)
            .map(|(_, report)| report)
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

    /// How many lifecycle events the observer never received because it was still stuck in an
    /// earlier one when `run` stopped waiting for it (only with a budget; see
    /// [`Group::observe`](crate::Group::observe)).
    pub fn observer_missed(&self) -> usize {
        self.observer_missed
    }

    /// Names of the actors that were abandoned (rule S06).
    pub fn abandoned(&self) -> impl Iterator<Item = &str> {
        self.actors
            .iter()
            .filter(|actor| matches!(actor.outcome, Outcome::Abandoned))
            .map(|actor| actor.name.as_str())
    }

    /// Whether any user code of the run panicked: an execute, an interrupt, a force hook, or the
    /// drop of a closure or value the group dropped itself.
    pub fn panicked(&self) -> bool {
        self.actors.iter().any(|actor| {
            matches!(actor.outcome, Outcome::Panicked(_))
                || matches!(actor.interrupt, HookOutcome::Panicked(_))
                || matches!(actor.force, HookOutcome::Panicked(_))
                || !actor.drop_panics.is_empty()
        })
    }

    /// The actors that were escalated (rule S05), in registration order.
    pub fn escalated(&self) -> impl Iterator<Item = &str> {
        self.actors
            .iter()
            .filter(|actor| actor.escalated)
            .map(|actor| actor.name.as_str())
    }

    /// What [`Group::run`](crate::Group::run) returns for this run:
    ///
    /// 1. a failure of the run itself (spawn failure, abandonment) becomes `Err(E::from(error))`;
    /// 2. otherwise a panic is resumed on the caller, as `std::thread::scope` does: the first
    ///    exit's, if it panicked, else the first in registration order, executes before
    ///    interrupts before force hooks before drops;
    /// 3. otherwise the first exit's error, unchanged (R09): the reason the group stopped is never
    ///    replaced, even when teardown then had to escalate (the report still says so);
    /// 4. otherwise an escalation ([`Error::Escalated`]): work may have been lost, so never `Ok`;
    /// 5. otherwise `Ok(())`: an `Ok` first exit, a stop request or signal, or every actor done.
    ///
    /// The other actors' values are dropped here; a panic in one of those drops is caught and
    /// discarded, so that it cannot replace the run's result.
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
        let first = match trigger {
            Trigger::Exit { actor } => Some(actor),
            _ => None,
        };
        let escalated = match error {
            Some(error @ Error::Escalated { .. }) => Some(error),
            Some(error) => {
                unwind::drop_quietly(actors);
                return Err(E::from(error));
            }
            None => None,
        };
        if let Some(payload) = take_panic(&mut actors, first) {
            unwind::drop_quietly(actors);
            unwind::drop_quietly(escalated);
            std::panic::resume_unwind(payload);
        }
        let result =
            match first.map(|index| std::mem::replace(&mut actors[index].outcome, Outcome::Ok)) {
                Some(Outcome::Err(error)) => Err(error),
                _ => escalated.map_or(Ok(()), |error| Err(E::from(error))),
            };
        unwind::drop_quietly(actors);
        result
    }

    /// The process exit status this run calls for, for `main` to return or pass to
    /// [`std::process::exit`]. In order of precedence:
    ///
    /// | code | when |
    /// |---|---|
    /// | 1 | an actor's thread could not be spawned ([`Error::Spawn`], [`Error::Helper`]), or the group's timer failed ([`Error::Timer`]) |
    /// | 4 | an actor or hook was abandoned ([`Error::Abandoned`]) |
    /// | 101 | user code panicked (Rust's own exit status for a panicking `main`) |
    /// | 1 | the first exit returned an error |
    /// | 3 | an actor had to be escalated: it returned, but only after a deadline or a second stop request ([`Error::Escalated`]) |
    /// | 128 + n | a clean teardown that signal n began (the shell's convention for "terminated by signal n": 143 for SIGTERM; systemd counts it a success with `SuccessExitStatus=143`) |
    /// | 0 | a clean teardown otherwise: a stop request, an `Ok` first exit, every actor done |
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut group = rungroup::Group::new();
    /// group.add(|| Err("job failed".into()), |_| {});
    /// let report = group.run_with_report();
    /// assert_eq!(report.exit_code(), 1);
    /// // In `main`: std::process::exit(report.exit_code().into());
    /// ```
    pub fn exit_code(&self) -> u8 {
        match &self.error {
            Some(Error::Spawn { .. } | Error::Helper { .. } | Error::Timer { .. }) => return 1,
            Some(Error::Abandoned { .. }) => return 4,
            _ => {}
        }
        if self.panicked() {
            return 101;
        }
        if self
            .first_exit()
            .is_some_and(|actor| matches!(actor.outcome, Outcome::Err(_) | Outcome::Retained))
        {
            return 1;
        }
        if matches!(self.error, Some(Error::Escalated { .. })) {
            return 3;
        }
        match self.trigger {
            Trigger::Signal { signal } => u8::try_from(128 + signal.clamp(0, 127)).unwrap_or(1),
            _ => 0,
        }
    }

    /// When the group first became ready ([`Group::ready_handle`](crate::Group::ready_handle)),
    /// measured from the start of `run` on the run's clock; `None` if it never was.
    pub fn ready_at(&self) -> Option<Duration> {
        self.service.ready_at
    }

    /// The [`ReadyHandle`](crate::ReadyHandle)s that were never set during the run, by name: the
    /// conditions that kept (or would have kept) the group from ever being ready. A handle set
    /// once and cleared later is not among them.
    pub fn never_ready(&self) -> impl Iterator<Item = &str> {
        self.service.never_ready.iter().map(String::as_str)
    }

    /// How long the lame-duck delay lasted ([`Group::lame_duck`](crate::Group::lame_duck)):
    /// its full length, or less if a second stop request or the budget cut it short; `None`
    /// when none was configured or it was skipped.
    pub fn lame_duck(&self) -> Option<Duration> {
        self.service.lame_duck
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
            Trigger::SpawnFailed { actor } => {
                format!("could not spawn actor '{}'", self.actors[*actor].name)
            }
            trigger => trigger.to_string(),
        }
    }
}

/// A multi-line account for logs: the trigger (with the first exit's error text), the run's
/// error, then every stage and actor.
impl<E: fmt::Display> fmt::Display for Report<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run ended: {}", self.trigger_summary())?;
        if let Some(Outcome::Err(error)) = self.first_exit().map(|actor| &actor.outcome) {
            write!(f, ": {error}")?;
        }
        if let Some(teardown) = self.teardown {
            write!(f, "; teardown took {}", Rounded(teardown))?;
        }
        if let Some(error) = &self.error {
            write!(f, "\n  error: {error}")?;
        }
        match self.service.ready_at {
            Some(at) => write!(f, "\n  ready at {}", Rounded(at))?,
            None if !self.service.never_ready.is_empty() => {
                write!(
                    f,
                    "\n  never ready: {}",
                    self.service.never_ready.join(", ")
                )?;
            }
            None => {}
        }
        if let Some(lame_duck) = self.service.lame_duck {
            write!(f, "\n  lame duck: {}", Rounded(lame_duck))?;
        }
        if self.observer_missed > 0 {
            write!(
                f,
                "\n  observer: stuck, missed {} events",
                self.observer_missed
            )?;
        }
        for (index, stage) in self.stages.iter().enumerate() {
            write!(f, "\n  stage {index} '{}': ", stage.name)?;
            match stage.elapsed {
                Some(elapsed) => write!(f, "{}", Rounded(elapsed))?,
                None => f.write_str("not reached")?,
            }
            if let Some(escalation) = &stage.escalation {
                write!(f, " (escalated: {escalation})")?;
            }
            for actor in self.actors.iter().filter(|actor| actor.stage == index) {
                write!(
                    f,
                    "\n    {:<16} {:<9} {}",
                    actor.name,
                    actor.policy.label(),
                    actor.outcome.label()
                )?;
                actor.outcome.write_detail(f, " (", ")")?;
                if let Some(at) = actor.exited_at {
                    write!(f, " at {}", Rounded(at))?;
                }
                if actor.first {
                    f.write_str(" [first exit]")?;
                }
                if actor.escalated {
                    f.write_str(" [escalated]")?;
                }
                for (hook, outcome) in [
                    ("interrupt", &actor.interrupt),
                    ("force hook", &actor.force),
                ] {
                    match outcome {
                        HookOutcome::Panicked(payload) => {
                            write!(f, " [{hook} panicked: {}]", panic_message(payload.as_ref()))?
                        }
                        HookOutcome::Blocked => write!(f, " [{hook} did not return]")?,
                        HookOutcome::Skipped => write!(f, " [{hook} never called]")?,
                        _ => {}
                    }
                }
                for payload in &actor.drop_panics {
                    write!(f, " [drop panicked: {}]", panic_message(payload.as_ref()))?;
                }
                if !actor.restarts.is_empty() {
                    write!(f, " [restarted {}x]", actor.restarts.len())?;
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
            .field("observer_missed", &self.observer_missed)
            .field("ready_at", &self.service.ready_at)
            .field("never_ready", &self.service.never_ready)
            .field("lame_duck", &self.service.lame_duck)
            .finish()
    }
}

/// Takes the panic `into_result` resumes: the first exit's, else the first in registration order,
/// executes before interrupts before force hooks before drops.
fn take_panic<E>(actors: &mut [ActorReport<E>], first: Option<usize>) -> Option<Payload> {
    let execute = |actor: &mut ActorReport<E>| match &actor.outcome {
        Outcome::Panicked(_) => match std::mem::replace(&mut actor.outcome, Outcome::Abandoned) {
            Outcome::Panicked(payload) => Some(payload),
            _ => None,
        },
        _ => None,
    };
    let hook = |hook: &mut HookOutcome| match std::mem::replace(hook, HookOutcome::Returned) {
        HookOutcome::Panicked(payload) => Some(payload),
        other => {
            *hook = other;
            None
        }
    };
    if let Some(payload) = first.and_then(|index| execute(&mut actors[index])) {
        return Some(payload);
    }
    actors
        .iter_mut()
        .find_map(execute)
        .or_else(|| actors.iter_mut().find_map(|a| hook(&mut a.interrupt)))
        .or_else(|| actors.iter_mut().find_map(|a| hook(&mut a.force)))
        .or_else(|| actors.iter_mut().find_map(|a| a.drop_panics.pop()))
}

/// A duration as the report and the events print it, rounded: milliseconds with one decimal below
/// a second (`12.3 ms`), seconds with three decimals from there on (`1.235 s`). `Debug`'s nine
/// decimals (`1.234567891s`) are noise in a log line.
pub(crate) struct Rounded(pub(crate) Duration);

impl fmt::Display for Rounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Integer arithmetic, rounding half up: exact for every duration, `Duration::MAX` too.
        let nanos = self.0.as_nanos();
        let tenths_of_ms = (nanos + 50_000) / 100_000;
        if tenths_of_ms < 10_000 {
            write!(f, "{}.{} ms", tenths_of_ms / 10, tenths_of_ms % 10)
        } else {
            let ms = (nanos + 500_000) / 1_000_000;
            write!(f, "{}.{:03} s", ms / 1000, ms % 1000)
        }
    }
}

/// `fn main() -> rungroup::Report` (or returning the report from `main` any other way): the
/// process exits with [`Report::exit_code`], and a run that did not end cleanly prints its report
/// on standard error first.
impl<E: fmt::Display> std::process::Termination for Report<E> {
    fn report(self) -> std::process::ExitCode {
        let code = self.exit_code();
        if code != 0 {
            eprintln!("{self}");
        }
        unwind::drop_quietly(self);
        std::process::ExitCode::from(code)
    }
}
