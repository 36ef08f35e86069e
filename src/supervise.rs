//! Supervision (issue 13): an actor restarted after it fails, with backoff, up to an intensity
//! limit, as Erlang/OTP supervisors and Go's suture do. Beyond `oklog/run`.
//!
//! A supervised actor is one actor to the group: one thread, one stage, one policy, one interrupt
//! (the runner calls it at its stage like any other), one line in the report. On its thread it runs
//! *incarnations* one after the other: each is an (execute, interrupt) pair built by the user's
//! factory (or, for the token variant, one more call of the user's execute with the actor's one
//! token). When an incarnation ends in a way its [`Restart`] restarts, and the group is not being
//! torn down, and the intensity limit allows, the actor waits out the backoff and starts the next
//! incarnation; otherwise that incarnation's exit is the actor's exit, exactly as a plain actor's
//! would be.
//!
//! # The one race: a restart against the actor's interrupt
//!
//! The actor's interrupt must reach the incarnation that is current when it is called, and no
//! incarnation may start after it. Both sides go through one mutex, [`Shared::state`]:
//!
//! - the interrupt, under the lock, sets `interrupted` and takes the current incarnation's
//!   interrupt; after unlocking it calls what it took (with the cause), if anything;
//! - the actor's thread, under the lock, checks `interrupted` (and, for a restart, that teardown
//!   has not begun) and only then installs the next incarnation's interrupt; it starts that
//!   incarnation's execute after unlocking.
//!
//! So whichever takes the lock first decides: either the interrupt finds the new incarnation's
//! interrupt installed and calls it, or the thread finds `interrupted` set and starts nothing.
//! The loom models `i13_supervise_restart_races_a_first_exit` and `..._a_stop_request` check
//! it, and fail (a hang: an incarnation nobody interrupts) when the check is made outside the
//! lock (`.ci/seeded/supervise-check-outside-lock.diff`).
//!
//! When an incarnation ends, the thread takes its interrupt back (if the actor's interrupt has not
//! taken it) and drops it uncalled, catching a panic of its `Drop` for the report. No user code
//! runs under the lock.
//!
//! # The backoff wait
//!
//! The thread sleeps on a wake pair of its own until the backoff, measured on the group's clock
//! from the end of the failed incarnation, has passed: it registers that pair with a
//! `ManualClock` for the length of the wait, so that `advance` wakes it. Two
//! more things wake it: the actor's interrupt, and the runner, which calls
//! [`Shared::teardown_begun`] as soon as the trigger is resolved (the wait re-checks the state word
//! itself, so only the wake-up is needed). A zero backoff takes no lock and does not wait. Every
//! waker changes what the sleeper checks and then
//! notifies under the pair's lock; the sleeper checks under that lock and waits atomically
//! releasing it: no lost wake-up. Lock order: the pair's lock, then `state`; no waker holds both.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::actor::{Execute, Interrupt};
use crate::note::Note;
use crate::report::{Incarnation, Outcome};
use crate::shared::Core;
use crate::state::WakePair;
use crate::state::{RUNNING, Wake, phase};
use crate::sync::{Arc, Condvar, Mutex};
use crate::token::StopToken;
use crate::unwind;
use crate::unwind::Payload;
use crate::why::Cause;

/// The backoff before the first restart, unless [`Restart::backoff`] says otherwise.
const DEFAULT_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff, unless [`Restart::backoff`] says otherwise.
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// At most this many restarts ...
const DEFAULT_MAX_RESTARTS: u32 = 5;
/// ... within this window, unless [`Restart::intensity`] says otherwise.
const DEFAULT_WITHIN: Duration = Duration::from_secs(60);

/// Which exits a [`Restart`] restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum When {
    /// After an `Err` or a panic.
    Transient,
    /// After any exit, `Ok` included.
    Permanent,
}

/// A supervised actor's restart policy: which exits restart it, how long it waits first, and how
/// many restarts it may have in a window before it gives up. Used with
/// [`ActorBuilder::supervise`](crate::ActorBuilder::supervise) and
/// [`ActorBuilder::supervise_token`](crate::ActorBuilder::supervise_token).
///
/// - **Backoff**: the first restart waits `initial`; each restart after it waits twice as long as
///   the one before, up to `max`. The count that doubles it is the intensity window's: once the
///   earlier restarts have left the window, the backoff is back at `initial`. Measured on the
///   group's clock (a `ManualClock` in tests). A zero backoff restarts at
///   once, without waiting at all. Default: 100 ms, up to 10 s.
/// - **Intensity**: at most `max_restarts` restarts within any window of `within` (Erlang/OTP's
///   `intensity` and `period`). When an exit would need one more, the actor gives up: that exit is
///   the actor's exit, and triggers teardown per its [`Policy`](crate::Policy), exactly as a
///   plain actor's would. Default: 5 within 60 s.
/// - **Teardown wins**: once teardown has begun, or the actor's interrupt has been called, no
///   incarnation is restarted: the exit of the current one is the actor's exit. A backoff under
///   way then ends at once.
///
/// # Examples
///
/// ```
/// use rungroup::Restart;
/// use std::time::Duration;
///
/// let restart = Restart::transient()
///     .backoff(Duration::from_millis(50), Duration::from_secs(5))
///     .intensity(3, Duration::from_secs(30));
/// assert_eq!(
///     restart.to_string(),
///     "transient, backoff 50ms to 5s, at most 3 restarts in 30s"
/// );
/// assert_ne!(restart, Restart::permanent());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[must_use = "a restart policy does nothing until given to `supervise`"]
pub struct Restart {
    when: When,
    initial: Duration,
    max: Duration,
    max_restarts: u32,
    within: Duration,
}

impl Restart {
    /// Restarts the actor after an `Err` or a panic. An `Ok` exit ends it, as it would end a
    /// plain actor: its [`Policy`](crate::Policy) decides whether that triggers teardown.
    /// Erlang/OTP's `transient`.
    pub fn transient() -> Self {
        Self::new(When::Transient)
    }

    /// Restarts the actor after any exit, `Ok` included. Erlang/OTP's `permanent`.
    pub fn permanent() -> Self {
        Self::new(When::Permanent)
    }

    fn new(when: When) -> Self {
        Self {
            when,
            initial: DEFAULT_BACKOFF,
            max: DEFAULT_MAX_BACKOFF,
            max_restarts: DEFAULT_MAX_RESTARTS,
            within: DEFAULT_WITHIN,
        }
    }

    /// Sets the backoff: `initial` before the first restart, doubling with each restart still in
    /// the intensity window, never more than `max`. Zero restarts at once (and `initial` zero
    /// stays zero).
    ///
    /// An `initial` longer than `max` (most likely the two were swapped) is not accepted: the
    /// actor never starts, and `run` returns an [`Error::Spawn`](crate::Error::Spawn) of kind
    /// `InvalidInput` naming it, as for any failed start (F03). [`Restart::check`] says so
    /// earlier, for values read from a configuration file.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial = initial;
        self.max = max;
        self
    }

    /// Sets the intensity limit: at most `max_restarts` restarts within any window of `within`.
    /// `max_restarts` zero never restarts (the actor behaves as a plain one; Erlang/OTP allows it
    /// too).
    ///
    /// A zero `within` with a non-zero `max_restarts` is not accepted (no restart would ever
    /// count against the limit, so a failing actor would be restarted forever): the actor never
    /// starts, as for a bad [`backoff`](Self::backoff).
    pub fn intensity(mut self, max_restarts: u32, within: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.within = within;
        self
    }

    /// Whether this policy can be used: `Err` with what is wrong, in words, otherwise. A
    /// supervised actor whose policy fails this check never starts: `run` returns an
    /// [`Error::Spawn`](crate::Error::Spawn) naming the actor, of kind `InvalidInput`, as for any
    /// failed start (F03). Call it where the values come from a configuration file, to say so
    /// earlier.
    ///
    /// # Examples
    ///
    /// ```
    /// use rungroup::Restart;
    /// use std::time::Duration;
    ///
    /// let swapped = Restart::transient().backoff(Duration::from_secs(10), Duration::from_secs(1));
    /// assert!(swapped.check().unwrap_err().contains("longer than its maximum"));
    /// assert!(Restart::transient().check().is_ok());
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if self.initial > self.max {
            return Err(format!(
                "the restart backoff starts at {:?}, longer than its maximum {:?} \
                 (backoff(initial, max): were the two swapped?)",
                self.initial, self.max
            ));
        }
        if self.max_restarts != 0 && self.within.is_zero() {
            return Err(format!(
                "a restart intensity of {} restarts within zero time limits nothing: give the \
                 window a length",
                self.max_restarts
            ));
        }
        Ok(())
    }

    /// Whether an exit with this result is one to restart after.
    fn restarts_after<E>(&self, result: &Result<Result<(), E>, Payload>) -> bool {
        self.when == When::Permanent || !matches!(result, Ok(Ok(())))
    }

    /// The backoff before a restart when `recent` restarts are still in the intensity window.
    fn delay(&self, recent: usize) -> Duration {
        let doublings = u32::try_from(recent).unwrap_or(u32::MAX);
        2u32.checked_pow(doublings)
            .and_then(|factor| self.initial.checked_mul(factor))
            .map_or(self.max, |delay| delay.min(self.max))
    }
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = match self.when {
            When::Transient => "transient",
            When::Permanent => "permanent",
        };
        write!(
            f,
            "{when}, backoff {:?} to {:?}, at most {} restarts in {:?}",
            self.initial, self.max, self.max_restarts, self.within
        )
    }
}

/// How an incarnation ended, and when.
type Ended<E> = (Result<Result<(), E>, Payload>, Duration);

type Factory<E> = Box<dyn FnMut() -> (Execute<E>, Interrupt<E>) + Send + 'static>;
type TokenExecute<E> = Box<dyn FnMut(StopToken) -> Result<(), E> + Send + 'static>;

/// How a supervised actor gets its incarnations.
enum Incarnations<E> {
    /// Each one built by the user's factory.
    Factory(Factory<E>),
    /// Each one a call of the user's execute with the actor's one token, which the actor's
    /// interrupt stops.
    Token {
        execute: TokenExecute<E>,
        token: StopToken,
    },
}

/// A supervised actor as configured: what its thread runs instead of a single execute.
pub(crate) struct Supervisor<E> {
    pub(crate) restart: Restart,
    incarnations: Incarnations<E>,
    shared: Arc<Shared<E>>,
}

/// What a supervised actor's thread, its interrupt and the runner share.
pub(crate) struct Shared<E> {
    state: Mutex<State<E>>,
    /// Where the thread sleeps out a backoff (registered with a manual clock meanwhile). Its `Wake`
    /// is unused: only the lock and the condvar are.
    wake: Arc<WakePair>,
}

struct State<E> {
    /// The interrupt of the incarnation that runs now, until the actor's interrupt or the end of
    /// that incarnation takes it.
    current: Option<Interrupt<E>>,
    /// The actor's interrupt has been called: no incarnation starts any more.
    interrupted: bool,
    /// The incarnations that ended and were restarted, for the report.
    restarts: Vec<Incarnation<E>>,
    /// Panics caught while dropping an incarnation's closures uncalled, for the report.
    drop_panics: Vec<Payload>,
}

/// Why [`Shared::install`] refused an incarnation, with its interrupt to drop.
struct Refused<E>(Option<Interrupt<E>>);

impl<E: Send + 'static> Supervisor<E> {
    /// A supervisor building each incarnation with `factory`, and the actor's interrupt.
    pub(crate) fn factory(restart: Restart, factory: Factory<E>) -> (Self, Interrupt<E>) {
        let shared = Shared::new();
        let interrupt = {
            let shared = Arc::clone(&shared);
            Box::new(move |cause: &Cause<E>| shared.interrupt(cause)) as Interrupt<E>
        };
        let supervisor = Self {
            restart,
            incarnations: Incarnations::Factory(factory),
            shared,
        };
        (supervisor, interrupt)
    }

    /// A supervisor calling `execute` once per incarnation with one token, and the actor's
    /// interrupt, which stops that token.
    pub(crate) fn token(restart: Restart, execute: TokenExecute<E>) -> (Self, Interrupt<E>) {
        let shared = Shared::new();
        let token = StopToken::new();
        let interrupt = {
            let (shared, token) = (Arc::clone(&shared), token.clone());
            Box::new(move |cause: &Cause<E>| {
                // `interrupted` first: an incarnation that returns because its token stopped
                // then finds it set, and is not restarted.
                shared.interrupt(cause);
                token.stop();
            }) as Interrupt<E>
        };
        let supervisor = Self {
            restart,
            incarnations: Incarnations::Token { execute, token },
            shared,
        };
        (supervisor, interrupt)
    }
}

impl<E> Supervisor<E> {
    /// The state the runner keeps for the report and the teardown wake-up.
    pub(crate) fn shared(&self) -> Arc<Shared<E>> {
        Arc::clone(&self.shared)
    }

    /// Runs incarnations on this (the actor's) thread until one's exit is the actor's exit, and
    /// returns that exit, as `unwind::catch` of a plain execute would. Everything the supervisor
    /// holds (the factory, the last incarnation) is dropped before it returns (R11).
    pub(crate) fn run(self, core: &Core<E>, actor: usize) -> Result<Result<(), E>, Payload> {
        let Supervisor {
            restart,
            mut incarnations,
            shared,
        } = self;
        // The exit of the incarnation before this one, while it is not yet known whether it is
        // restarted (then it goes to the history) or the actor's exit.
        let mut previous: Option<Ended<E>> = None;
        // When each restart still in the intensity window happened.
        let mut recent: VecDeque<Duration> = VecDeque::new();
        let mut incarnation = 0;
        loop {
            let restarting = incarnation > 0;
            // A cheap look first, so that the factory is not called for nothing; `install` below
            // makes the decision.
            if !shared.may_start(core, restarting, &incarnations) {
                break;
            }
            let result = match &mut incarnations {
                Incarnations::Factory(factory) => match unwind::catch(|| factory()) {
                    Ok((execute, interrupt)) => {
                        if let Err(Refused(interrupt)) =
                            shared.install(core, restarting, Some(interrupt), None)
                        {
                            shared.discard(execute);
                            shared.discard(interrupt);
                            break;
                        }
                        shared.record(previous.take());
                        unwind::catch(execute)
                    }
                    // A panicking factory is this incarnation panicking.
                    Err(payload) => {
                        shared.record(previous.take());
                        Err(payload)
                    }
                },
                Incarnations::Token { execute, token } => {
                    if shared
                        .install(core, restarting, None, Some(&*token))
                        .is_err()
                    {
                        break;
                    }
                    shared.record(previous.take());
                    let token = token.clone();
                    unwind::catch(|| execute(token))
                }
            };
            let ended_at = core.clock.now();
            // Its interrupt, unless the actor's took it: never called now.
            let uncalled = shared.state.lock().current.take();
            shared.discard(uncalled);

            let exit = (result, ended_at);
            if !restart.restarts_after(&exit.0)
                || shared.stopping(core, incarnations.token())
                || !within_intensity(&restart, &mut recent, ended_at)
            {
                previous = Some(exit);
                break;
            }
            let backoff = restart.delay(recent.len());
            recent.push_back(ended_at);
            core.emit(Note::Restarting {
                actor,
                incarnation,
                outcome: label(&exit.0),
                backoff,
            });
            previous = Some(exit);
            shared.sleep(core, ended_at.saturating_add(backoff), incarnations.token());
            incarnation += 1;
        }
        // Nothing else of this actor runs: drop what it holds here, catching a panic of a drop.
        shared.discard(incarnations);
        match previous {
            Some((result, _)) => result,
            // The actor's interrupt came before its first incarnation could start: it never
            // started, and ends as a well-behaved actor interrupted at once would.
            None => Ok(Ok(())),
        }
    }
}

/// Whether one more restart at `now` stays within the intensity limit; forgets the restarts that
/// have left the window.
fn within_intensity(restart: &Restart, recent: &mut VecDeque<Duration>, now: Duration) -> bool {
    while recent
        .front()
        .is_some_and(|&at| now.saturating_sub(at) >= restart.within)
    {
        recent.pop_front();
    }
    recent.len() < usize::try_from(restart.max_restarts).unwrap_or(usize::MAX)
}

/// `ok`, `error` or `panicked`, as `Event::ActorExited` says it.
fn label<E>(result: &Result<Result<(), E>, Payload>) -> &'static str {
    match result {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) => "error",
        Err(_) => "panicked",
    }
}

impl<E> Incarnations<E> {
    /// The actor's token, for the token variant.
    fn token(&self) -> Option<&StopToken> {
        match self {
            Incarnations::Token { token, .. } => Some(token),
            Incarnations::Factory(_) => None,
        }
    }
}

impl<E> Shared<E> {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                current: None,
                interrupted: false,
                restarts: Vec::new(),
                drop_panics: Vec::new(),
            }),
            wake: Arc::new(WakePair {
                lock: Mutex::new(Wake::default()),
                cond: Condvar::new(),
            }),
        })
    }

    /// The actor's interrupt: no incarnation starts from now on, and the current one, if any, is
    /// interrupted with `cause`.
    fn interrupt(&self, cause: &Cause<E>) {
        let current = {
            let mut state = self.state.lock();
            state.interrupted = true;
            state.current.take()
        };
        self.notify();
        if let Some(interrupt) = current {
            // User code, outside the lock. A panic here is the actor's interrupt panicking: the
            // lane that called us catches and records it (F02).
            interrupt(cause);
        }
    }

    /// Teardown has begun: a backoff under way ends now (the runner, once the trigger is
    /// resolved). What the sleeper checks, the state word, has changed already.
    pub(crate) fn teardown_begun(&self) {
        self.notify();
    }

    /// Wakes the thread if it sleeps out a backoff. Under the pair's lock: the sleeper checks
    /// under it, so this cannot fall between its check and its wait.
    fn notify(&self) {
        let guard = self.wake.lock.lock();
        self.wake.cond.notify_all();
        drop(guard);
    }

    /// Whether no more incarnations may start: the actor's interrupt has been called, teardown
    /// has begun, or the token variant's token was stopped.
    fn stopping(&self, core: &Core<E>, token: Option<&StopToken>) -> bool {
        self.state.lock().interrupted
            || phase(core.control.load()) != RUNNING
            || token.is_some_and(StopToken::is_stopped)
    }

    /// A first look at whether an incarnation may start (see [`Shared::install`]).
    fn may_start(&self, core: &Core<E>, restarting: bool, incarnations: &Incarnations<E>) -> bool {
        match (restarting, incarnations) {
            (true, _) => !self.stopping(core, incarnations.token()),
            (false, Incarnations::Factory(_)) => !self.state.lock().interrupted,
            // As `add_token`'s execute: started even when stopped already (R07, sticky).
            (false, Incarnations::Token { .. }) => true,
        }
    }

    /// Decides, under the lock the actor's interrupt takes, whether an incarnation starts, and if
    /// so installs its interrupt before it starts: either the actor's interrupt reaches it, or it
    /// never starts. The first incarnation is refused only once the actor's interrupt has been
    /// called (a plain actor would also start during teardown, until its stage is interrupted); a
    /// token incarnation never (its token is sticky); a restart also once teardown has begun or
    /// the token was stopped.
    fn install(
        &self,
        core: &Core<E>,
        restarting: bool,
        interrupt: Option<Interrupt<E>>,
        token: Option<&StopToken>,
    ) -> Result<(), Refused<E>> {
        let mut state = self.state.lock();
        let refuse = if restarting {
            state.interrupted
                || phase(core.control.load()) != RUNNING
                || token.is_some_and(StopToken::is_stopped)
        } else {
            state.interrupted && token.is_none()
        };
        if refuse {
            return Err(Refused(interrupt));
        }
        debug_assert!(
            state.current.is_none(),
            "an incarnation's interrupt left over"
        );
        state.current = interrupt;
        Ok(())
    }

    /// Adds the previous incarnation, now restarted, to the history.
    fn record(&self, previous: Option<Ended<E>>) {
        let Some((result, ended_at)) = previous else {
            return;
        };
        let outcome = match result {
            Ok(Ok(())) => Outcome::Ok,
            Ok(Err(error)) => Outcome::Err(error),
            Err(payload) => Outcome::Panicked(payload),
        };
        self.state
            .lock()
            .restarts
            .push(Incarnation { outcome, ended_at });
    }

    /// Drops `value` (user code) outside any lock, keeping a panic of its `Drop` for the report.
    fn discard<T>(&self, value: T) {
        if let Some(payload) = unwind::drop_caught(value) {
            self.state.lock().drop_panics.push(payload);
        }
    }

    /// Sleeps until `deadline` on the group's clock (the backoff measured from the end of the
    /// incarnation, not from the emission of `Restarting`: a clock advanced in between counts),
    /// or until no incarnation may start any more. A deadline already passed (a zero backoff)
    /// takes no lock at all.
    fn sleep(&self, core: &Core<E>, deadline: Duration, token: Option<&StopToken>) {
        if core.clock.now() >= deadline {
            return;
        }
        core.clock.watch(&self.wake);
        let mut guard = self.wake.lock.lock();
        // Lock order: the pair's lock, then `state` (in `stopping`); no waker holds both.
        while !self.stopping(core, token) && core.clock.now() < deadline {
            guard = match core.clock.wait_budget(Some(deadline)) {
                Some(timeout) => self.wake.cond.wait_timeout(guard, timeout),
                None => self.wake.cond.wait(guard),
            };
        }
        drop(guard);
        core.clock.stop(&self.wake);
    }

    /// The restarted incarnations and the caught drop panics, for the report (after the actor's
    /// thread has ended, or was abandoned).
    pub(crate) fn take_history(&self) -> (Vec<Incarnation<E>>, Vec<Payload>) {
        let mut state = self.state.lock();
        (
            std::mem::take(&mut state.restarts),
            std::mem::take(&mut state.drop_panics),
        )
    }
}
