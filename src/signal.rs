//! The signal actor (rule T02): teardown on SIGINT and SIGTERM, or any set of signals.
//!
//! Behind the opt-in `signal` feature, unix only, built on `signal-hook` (no hand-written libc).
//!
//! # Lifecycle
//!
//! - **Registers when its actor starts**, on the actor's own thread, not when it is added: a group
//!   that is built but never run never touches the process's signal dispositions.
//! - **Fires only on the signals it was asked for.** A [`SignalSet`] cannot be empty: Go's
//!   `run.SignalHandler` with an empty list called `signal.Notify(c)`, which means *every*
//!   signal, and so tore services down on the runtime's own SIGURG. Here an empty set is an error
//!   at construction ([`SignalError::Empty`]), with a message that says why.
//! - **A signal is a stop request** with [`Trigger::Signal`] as its detail: the first one is the
//!   cause of teardown ([`Trigger::Signal`](crate::Trigger::Signal) names the signal), the second escalates teardown at
//!   once (rule S05), exactly like a second [`StopHandle::stop`](crate::StopHandle::stop). If
//!   something else triggered teardown first, the first signal escalates too.
//! - **The third signal runs the signal's default action**: for SIGTERM and SIGINT the process
//!   dies of that signal, as it would without any handler. So an operator can always stop the
//!   service, even when an interrupt blocks forever and no budget is set. "Third" means the third
//!   delivery the actor observes: the kernel and `signal-hook` coalesce a signal that arrives
//!   while the same one is still pending, so a burst of three may be seen as one or two.
//! - **Deregisters when it exits**, and gives its signals their default action back once no
//!   signal actor of the process listens for them (see *What a signal does when no actor
//!   listens*).
//!
//! # What a signal does when no actor listens
//!
//! `signal-hook` installs one process-wide handler per signal and keeps it after the last
//! registration is dropped; on its own, a SIGTERM sent after `run` returned would reach that
//! handler, find nobody, and be swallowed: the process could no longer be stopped. Go's
//! `signal.Stop` restores the default instead, and so does this module: the first time a signal
//! actor listens for a signal, it also registers, once for the life of the process,
//! `signal-hook`'s *conditional default* for it (`flag::register_conditional_default`), whose
//! flag says "run the default action". A global count of the signal actors listening for each
//! signal, under a mutex ([`DISPOSITIONS`]), keeps the flag `false` while at least one listens and
//! sets it back to `true` when the last one stops. Hence:
//!
//! - two groups listening at once both see the signal, and it kills the process only after both
//!   have stopped listening; a group run after another listens again (the count goes back up);
//! - an actor interrupted before it registered (R07) never counts, so it changes nothing;
//! - an actor stops counting when its interrupt is called (before it closes its iterator), or
//!   when its execute ends in any other way, a panicking callback included (a drop guard);
//! - what comes back is the default action, not a disposition the process had before (an
//!   inherited SIG_IGN), and it overrides other `signal-hook` handlers of the process for that
//!   signal: [`SignalSet`]'s *When no signal actor listens* says so to users. A signal without a
//!   default-action entry in `signal-hook` (the real-time ones) gets
//!   `flag::register_conditional_shutdown` with status `128 + n` instead ([`register_default`]).
//!
//! The conditional default is registered before the actor's own `Signals`, so that a delivery
//! decides on the default action before the actor can see it (see [`listen`]). Until the
//! actor's count goes up, a signal runs its default action, as it would have before any handler;
//! [`SignalSet::on_listening`] tells when that window has closed.
//!
//! # Stage placement: torn down last
//!
//! A signal actor can only escalate while it listens, and it listens until its own interrupt. An
//! actor in the default stage would stop listening as soon as teardown began, so a second SIGTERM
//! during a long drain would not escalate: it would kill the process at once, with no report.
//! [`Group::add_signals`] therefore puts the actor in **a stage of its own, created at that call,
//! after every stage that exists then**: call it after your own `stage` calls, and the signal
//! actor keeps listening while every other stage drains, and is interrupted last. With
//! [`ActorBuilder::add_signals`] you choose the stage yourself; choose the last one.
//!
//! The state shared by the execute and the interrupt is one small mutex: the interrupt marks the
//! actor closed, stops counting it as a listener and, if the registration exists, closes its
//! iterator; the execute registers under the same lock only if the actor is not closed yet. So an
//! interrupt that comes before the execute has started (R07) means the actor never registers at
//! all. Lock order: an actor's [`Listener`], then [`DISPOSITIONS`]; user callbacks run under
//! neither.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::io;

use signal_hook::consts::FORBIDDEN;
use signal_hook::flag;
use signal_hook::iterator::{Handle, Signals};
use signal_hook::low_level::{self, emulate_default_handler, signal_name};

use crate::actor::ActorId;
use crate::group::{ActorBuilder, Group};
use crate::sync::process::{self, AtomicBool, Ordering, PoisonError};
use crate::sync::{Arc, Frozen, Mutex};
use crate::why::{Cause, Trigger};

/// The largest signal number `signal-hook` can register, plus one.
const SIGNAL_LIMIT: i32 = 128;

/// The delivery (counted from 1) from which the actor runs the signal's default action instead
/// of forwarding a stop request: the first triggers (or escalates), the second escalates.
const DEFAULT_FROM: usize = 3;

/// What the caller of [`SignalSet::on_listening`] gives. Shared by a set's clones.
type ListeningCallback = Frozen<dyn Fn() + Send + Sync + 'static>;

/// What the caller of [`SignalSet::on_signal`] gives: the signal and its delivery count. Shared
/// by a set's clones.
type SignalCallback = Frozen<dyn Fn(i32, usize) + Send + Sync + 'static>;

/// Which signals a signal actor listens for, and what to do once it listens (rule T02; feature
/// `signal`, unix only).
///
/// Made with [`SignalSet::terminate`] (SIGINT and SIGTERM, also the [`Default`]) or
/// [`SignalSet::new`], which returns a [`SignalError`] for a set that cannot work (empty, or with
/// a signal that cannot be handled), so a set read from configuration is checked, never a panic;
/// passed to [`Group::add_signals`] or [`ActorBuilder::add_signals`]. The signals a service
/// usually listens for are constants here: [`SignalSet::SIGTERM`], [`SignalSet::SIGHUP`] and so
/// on, the platform's numbers (any other number works too, from `libc` or
/// `signal_hook::consts`).
///
/// A `SignalSet` is `Clone`, so one set from the configuration can serve several groups (one after
/// the other, or a group per subsystem): a clone shares the original's callbacks, each of which is
/// then called by every signal actor made from the set or a clone of it, possibly at the same
/// time on different threads (hence `Fn + Sync`).
///
/// The signal actor, built on `signal-hook`:
///
/// - registers its signals when it starts (not when it is added), and deregisters them when it
///   exits;
/// - fires only on the signals of its set, which cannot be empty (Go's `run.SignalHandler`, given
///   no signals, listened to every signal and tore services down on the runtime's SIGURG);
/// - turns the first signal into teardown's cause ([`Trigger::Signal`](crate::Trigger::Signal)) and the second into an
///   escalation (rule S05: the force hooks run at once, like a second
///   [`StopHandle::stop`](crate::StopHandle::stop)); if something else triggered teardown first,
///   its first signal escalates too;
/// - runs the signal's **default action on the third** (for SIGTERM and SIGINT the process dies
///   of it), so that an operator can always stop the service, even one whose interrupt blocks
///   forever with no budget set. "Third" counts the deliveries the actor observes: a signal that
///   arrives while the same one is still pending is coalesced with it;
/// - listens until its own interrupt. So it must be torn down last, or a second SIGTERM during a
///   long drain would not escalate but kill the process at once. [`Group::add_signals`] puts it in
///   a stage of its own after every existing stage;
/// - once no signal actor of the process listens for a signal any more, gives it back its
///   **default action** (as Go's `signal.Stop` does): a SIGTERM sent after `run` returned
///   terminates the process. See below.
///
/// # When no signal actor listens
///
/// Before any signal actor has listened for a signal, it has the disposition the process started
/// with. Once one has, whenever none listens (after the last one exits, between two runs, before
/// the next one listens) the signal has its **default action**, as `signal-hook` emulates it: SIGTERM, SIGINT, SIGHUP, SIGUSR1 and the like terminate the process by that signal
/// (`waitpid` sees the signal; a shell shows status 128 + n); signals whose default is to ignore
/// (SIGWINCH, SIGURG, SIGCHLD, SIGCONT) are ignored; SIGTSTP, SIGTTIN and SIGTTOU stop the
/// process. Two limits:
///
/// - It is the default action, not whatever disposition the process had before its first signal
///   actor: a signal the process was started with ignored (nohup's SIGHUP; SIGINT and SIGQUIT in a
///   background job of a non-interactive shell) terminates it once an actor has listened for it
///   and stopped. Leave such a signal out of the set if it must stay ignored.
/// - It runs even if the program also handles that signal elsewhere through `signal-hook` (that
///   handler may not run at all): do not put a signal in a set that the program also handles
///   by other means.
///
/// A signal `signal-hook` has no default-action entry for (on Linux: SIGPWR, SIGSTKFLT and the
/// real-time signals, all of which terminate by default) ends the process with
/// `_exit(128 + n)`: the status a shell shows for death by signal `n`, but an exit to `waitpid`.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return Ok(()); }
/// use rungroup::SignalSet;
///
/// assert_eq!(SignalSet::terminate().signals(), &[SignalSet::SIGINT, SignalSet::SIGTERM]);
/// let set = SignalSet::new([SignalSet::SIGTERM, SignalSet::SIGHUP, SignalSet::SIGTERM])?;
/// assert_eq!(set.signals(), &[SignalSet::SIGHUP, SignalSet::SIGTERM]); // sorted, no duplicates
/// # Ok::<(), rungroup::SignalError>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(all(unix, feature = "signal"))))]
#[derive(Clone)]
pub struct SignalSet {
    signals: Vec<i32>,
    on_listening: Option<ListeningCallback>,
    on_signal: Option<SignalCallback>,
}

impl SignalSet {
    /// SIGHUP: the terminal hung up; by convention, "reload your configuration".
    pub const SIGHUP: i32 = signal_hook::consts::SIGHUP;
    /// SIGINT: Ctrl-C.
    pub const SIGINT: i32 = signal_hook::consts::SIGINT;
    /// SIGQUIT: Ctrl-\\; by convention, "quit now" (its default action also dumps core).
    pub const SIGQUIT: i32 = signal_hook::consts::SIGQUIT;
    /// SIGTERM: the polite request to stop that `kill`, systemd and Kubernetes send.
    pub const SIGTERM: i32 = signal_hook::consts::SIGTERM;
    /// SIGUSR1: for the application's own use.
    pub const SIGUSR1: i32 = signal_hook::consts::SIGUSR1;
    /// SIGUSR2: for the application's own use.
    pub const SIGUSR2: i32 = signal_hook::consts::SIGUSR2;

    /// The signals that ask a service to stop: SIGINT (Ctrl-C) and SIGTERM (`kill`, systemd,
    /// Kubernetes).
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut group = rungroup::Group::new();
    /// group.add_signals(rungroup::SignalSet::terminate());
    /// ```
    #[must_use]
    pub fn terminate() -> Self {
        Self::checked(vec![Self::SIGINT, Self::SIGTERM])
    }

    /// Any set of signals, for example `[SignalSet::SIGTERM, SignalSet::SIGHUP]`, or numbers read
    /// from a configuration file. Sorted, without duplicates.
    ///
    /// # Errors
    ///
    /// - [`SignalError::Empty`] if `signals` is empty: an empty set would fire on nothing (and Go's
    ///   `SignalHandler`, given no signals, fired on every signal, SIGURG included).
    /// - [`SignalError::Forbidden`] for a signal that cannot be handled: SIGKILL, SIGSTOP, SIGILL,
    ///   SIGFPE, SIGSEGV (`signal-hook`'s `FORBIDDEN` list).
    /// - [`SignalError::OutOfRange`] for a number outside `1..128`.
    ///
    /// The first bad signal is the one named.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{SignalError, SignalSet};
    ///
    /// // Signal numbers from a configuration file: a bad one is an error that names it.
    /// let configured = [SignalSet::SIGTERM, 9];
    /// let error = SignalSet::new(configured).unwrap_err();
    /// assert_eq!(error, SignalError::Forbidden { signal: 9 });
    /// assert!(error.to_string().starts_with("signal SIGKILL (9) cannot be handled"));
    /// assert_eq!(SignalSet::new([]).unwrap_err(), SignalError::Empty);
    /// ```
    pub fn new(signals: impl IntoIterator<Item = i32>) -> Result<Self, SignalError> {
        let signals: Vec<i32> = signals.into_iter().collect();
        if signals.is_empty() {
            return Err(SignalError::Empty);
        }
        for &signal in &signals {
            if !(1..SIGNAL_LIMIT).contains(&signal) {
                return Err(SignalError::OutOfRange { signal });
            }
            if FORBIDDEN.contains(&signal) {
                return Err(SignalError::Forbidden { signal });
            }
        }
        Ok(Self::checked(signals))
    }

    /// A set of signals already known to be valid.
    fn checked(mut signals: Vec<i32>) -> Self {
        signals.sort_unstable();
        signals.dedup();
        Self {
            signals,
            on_listening: None,
            on_signal: None,
        }
    }

    /// Calls `callback` on the actor's thread once its signals are registered: once per signal
    /// actor made from this set (or a clone of it). Until then a signal has its previous
    /// disposition (for SIGTERM and SIGINT: the process dies), so announce readiness (`sd_notify`,
    /// a "listening on" line, a health check) from here.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return Ok(()); }
    /// use rungroup::{Cause, Group, SignalSet, Trigger};
    /// use std::sync::mpsc;
    ///
    /// let (listening, is_listening) = mpsc::channel();
    /// let mut group = Group::new();
    /// group.add_signals(SignalSet::new([SignalSet::SIGUSR2])?.on_listening(move || {
    ///     let _ = listening.send(());
    /// }));
    /// std::thread::spawn(move || {
    ///     is_listening.recv().unwrap();
    ///     // As `kill -USR2 <pid>` would:
    ///     signal_hook::low_level::raise(SignalSet::SIGUSR2).unwrap();
    /// });
    /// let report = group.run_with_report();
    /// assert_eq!(report.trigger(), &Trigger::Signal { signal: SignalSet::SIGUSR2 });
    /// # Ok::<(), rungroup::SignalError>(())
    /// ```
    #[must_use]
    pub fn on_listening<F>(mut self, callback: F) -> Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.on_listening = Some(Frozen::new(callback));
        self
    }

    /// Calls `callback(signal, count)` on the actor's thread for every signal the actor observes,
    /// before it acts on it: `count` is 1 for the first (the actor then triggers teardown, or
    /// escalates it if something else triggered it), 2 for the second (escalates), 3 and more for
    /// the ones whose default action it runs (for SIGTERM: the process dies as soon as `callback`
    /// returns). The place to log "SIGTERM again: escalating; a third one kills the process".
    ///
    /// A signal arriving while the same signal is still pending is coalesced with it (by the
    /// kernel and by `signal-hook`): `count` counts the deliveries the actor saw, not the signals
    /// sent. A panic in `callback` ends the actor like a panic in any execute (rule F01). The
    /// callback is shared by every signal actor made from this set or a clone of it, and may be
    /// called by several at once: keep state it needs in an atomic or a mutex.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return Ok(()); }
    /// use rungroup::{Group, SignalSet, Trigger};
    /// use std::sync::mpsc;
    ///
    /// let (listening, is_listening) = mpsc::channel();
    /// let mut group = Group::new();
    /// group.add_signals(
    ///     SignalSet::new([SignalSet::SIGUSR1])?
    ///         .on_listening(move || listening.send(()).unwrap())
    ///         .on_signal(|signal, count| eprintln!("signal {signal} (#{count}): stopping")),
    /// );
    /// std::thread::spawn(move || {
    ///     is_listening.recv().unwrap();
    ///     signal_hook::low_level::raise(SignalSet::SIGUSR1).unwrap();
    /// });
    /// let report = group.run_with_report(); // prints "signal 10 (#1): stopping" on Linux
    /// assert_eq!(report.trigger(), &Trigger::Signal { signal: SignalSet::SIGUSR1 });
    /// # Ok::<(), rungroup::SignalError>(())
    /// ```
    #[must_use]
    pub fn on_signal<F>(mut self, callback: F) -> Self
    where
        F: Fn(i32, usize) + Send + Sync + 'static,
    {
        self.on_signal = Some(Frozen::new(callback));
        self
    }

    /// The signals of this set, sorted, without duplicates.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return Ok(()); }
    /// use rungroup::SignalSet;
    ///
    /// assert_eq!(SignalSet::new([SignalSet::SIGHUP])?.signals(), &[SignalSet::SIGHUP]);
    /// # Ok::<(), rungroup::SignalError>(())
    /// ```
    pub fn signals(&self) -> &[i32] {
        &self.signals
    }
}

impl Default for SignalSet {
    /// [`SignalSet::terminate`].
    fn default() -> Self {
        Self::terminate()
    }
}

impl fmt::Debug for SignalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalSet")
            .field(
                "signals",
                &self
                    .signals
                    .iter()
                    .map(|&signal| describe(signal))
                    .collect::<Vec<_>>(),
            )
            .field("on_listening", &self.on_listening.is_some())
            .field("on_signal", &self.on_signal.is_some())
            .finish()
    }
}

/// Why [`SignalSet::new`] refused a set of signals (feature `signal`, unix only).
///
/// Its `Display` names the signal and says why, for a configuration error message:
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::SignalSet;
///
/// let error = SignalSet::new([15, 300]).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "signal 300 cannot be handled: signal numbers are 1..128"
/// );
/// ```
#[cfg_attr(docsrs, doc(cfg(all(unix, feature = "signal"))))]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalError {
    /// The set has no signal: it would fire on nothing (and Go's `run.SignalHandler`, given none,
    /// fired on every signal, SIGURG included).
    Empty,
    /// This signal cannot be handled by a process: SIGKILL, SIGSTOP, SIGILL, SIGFPE or SIGSEGV
    /// (`signal-hook`'s `FORBIDDEN` list).
    Forbidden {
        /// The signal number.
        signal: i32,
    },
    /// This number is not a signal `signal-hook` can register: outside `1..128`.
    OutOfRange {
        /// The number.
        signal: i32,
    },
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::Empty => f.write_str(
                "a signal set needs at least one signal: an empty set would fire on nothing \
                 (Go's run.SignalHandler, given none, fired on every signal, SIGURG included)",
            ),
            SignalError::Forbidden { signal } => write!(
                f,
                "signal {} cannot be handled: SIGKILL, SIGSTOP, SIGILL, SIGFPE and SIGSEGV are \
                 forbidden",
                describe(*signal)
            ),
            SignalError::OutOfRange { signal } => write!(
                f,
                "signal {signal} cannot be handled: signal numbers are 1..{SIGNAL_LIMIT}"
            ),
        }
    }
}

impl std::error::Error for SignalError {}

/// `SIGTERM (15)`, or just the number for a signal without a well-known name.
fn describe(signal: i32) -> String {
    match signal_name(signal) {
        Some(name) => format!("{name} ({signal})"),
        None => signal.to_string(),
    }
}

/// The signals this crate has given a conditional default, each with its [`Disposition`]. Entries
/// are never removed: `signal-hook` registrations of the conditional default are kept for the life
/// of the process (registering one per run would pile them up).
static DISPOSITIONS: process::Mutex<BTreeMap<i32, Disposition>> =
    process::Mutex::new(BTreeMap::new());

/// Locks [`DISPOSITIONS`]. Its critical sections run no user code and cannot panic halfway, so a
/// poisoned lock (impossible in practice) still holds consistent counts.
fn dispositions() -> process::MutexGuard<'static, BTreeMap<i32, Disposition>> {
    DISPOSITIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One signal's listeners, and the flag of its conditional default.
struct Disposition {
    /// How many signal actors listen for the signal now.
    listeners: usize,
    /// Read by `signal-hook`'s handler at every delivery of the signal: `true` runs the signal's
    /// default action. Invariant (under [`DISPOSITIONS`]): `true` exactly when `listeners == 0`.
    default: process::Arc<AtomicBool>,
}

/// One signal actor's share of the listener counts, taken by [`listen`]; dropping it gives the
/// default action back to each of its signals that no other actor listens for.
struct Listening {
    signals: Vec<i32>,
}

/// Registers `signals` for the calling actor (`Signals::new`) and counts it as their listener,
/// registering each signal's conditional default the first time the process listens for it.
///
/// The order is the point. `signal-hook` runs the actions of a signal in registration order, so
/// the conditional default is registered before the actor's `Signals`: a delivery decides whether
/// to run the default action before the actor can see it. The other way round, the actor could
/// see a signal, end teardown and stop listening (arming the default) between the two actions of
/// that one delivery, which would then kill the process. A new conditional default starts armed
/// (no listener yet: a delivery before the count goes up runs the default action, as it would have
/// before any handler); the count goes up only once `Signals` is registered, so no delivery is
/// ever swallowed with nobody to read it.
fn listen(signals: &[i32]) -> io::Result<(Signals, Listening)> {
    // Declared before the guard, so dropped after it: on an error, nothing has been counted yet.
    let mut listening = Listening {
        signals: Vec::with_capacity(signals.len()),
    };
    let mut dispositions = dispositions();
    for &signal in signals {
        if let Entry::Vacant(entry) = dispositions.entry(signal) {
            let default = process::Arc::new(AtomicBool::new(true));
            register_default(signal, process::Arc::clone(&default))?;
            entry.insert(Disposition {
                listeners: 0,
                default,
            });
        }
    }
    let registration = Signals::new(signals)?;
    for &signal in signals {
        let disposition = dispositions
            .get_mut(&signal)
            .expect("registered by the loop above");
        disposition.listeners += 1;
        // ORDERING: SeqCst, like signal-hook's load in the handler. The handler takes no lock, so
        // nothing but this store's own visibility matters: a delivery after it (on any thread)
        // reads `false` and leaves the signal to the actors' registrations.
        disposition.default.store(false, Ordering::SeqCst);
        listening.signals.push(signal);
    }
    drop(dispositions);
    Ok((registration, listening))
}

impl Drop for Listening {
    fn drop(&mut self) {
        let mut dispositions = dispositions();
        for signal in &self.signals {
            if let Some(disposition) = dispositions.get_mut(signal) {
                disposition.listeners -= 1;
                if disposition.listeners == 0 {
                    // ORDERING: SeqCst, see `listen`: a delivery after this store runs the
                    // default action.
                    disposition.default.store(true, Ordering::SeqCst);
                }
            }
        }
    }
}

/// Registers, for the life of the process, the conditional default of `signal`: the handler runs
/// the signal's default action whenever `default` is `true`. For a signal `signal-hook` has no
/// default-action entry for (on Linux: SIGPWR, SIGSTKFLT, the real-time signals, which all
/// terminate by default), it ends the process with `_exit(128 + signal)` instead.
fn register_default(signal: i32, default: process::Arc<AtomicBool>) -> io::Result<()> {
    if signal_name(signal).is_some() {
        flag::register_conditional_default(signal, default)?;
    } else {
        flag::register_conditional_shutdown(signal, 128 + signal, default)?;
    }
    Ok(())
}

/// Runs the default action of `signal` on the whole process, from the actor's thread (the
/// third delivery): for a terminating signal the process dies of it and this never returns. It
/// returns after a signal whose default is to ignore, or a stop signal once the process is
/// continued. As in [`register_default`], a signal without a table entry exits with
/// `128 + signal`.
fn run_default_action(signal: i32) {
    if emulate_default_handler(signal).is_err() {
        low_level::exit(128 + signal);
    }
}

/// What the execute and the interrupt of one signal actor share.
#[derive(Default)]
struct Listener {
    /// The interrupt has been called: do not register, or stop listening.
    closed: bool,
    /// The live registration's handle, once the execute has registered.
    handle: Option<Handle>,
    /// The actor's share of the listener counts, while it listens.
    listening: Option<Listening>,
}

/// Stops counting the actor as a listener when its execute ends, however it ends (a callback
/// may panic), and before its registration is dropped.
struct Unlisten<'a>(&'a Mutex<Listener>);

impl Drop for Unlisten<'_> {
    fn drop(&mut self) {
        let listening = self.0.lock().listening.take();
        drop(listening);
    }
}

#[cfg_attr(docsrs, doc(cfg(all(unix, feature = "signal"))))]
impl<E: Send + Sync + 'static> Group<E> {
    /// Adds a signal actor named `signals` (rule T02) in **a new stage named `signals`, after
    /// every stage that exists now**, so that it listens while the other stages drain and a
    /// second signal can escalate: call it after your own [`stage`](Group::stage) calls.
    /// See [`SignalSet`] for what the actor does. After a clean teardown on a signal, `run`
    /// returns `Ok(())` and the report's trigger is [`Trigger::Signal`].
    ///
    /// Unix only, behind the `signal` feature.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, SignalSet};
    ///
    /// let mut group = Group::new();
    /// let drain = group.stage("drain").id();
    /// group.actor("server").add_token(|token| { token.wait(); Ok(()) });
    /// group.actor("workers").stage(drain).add_token(|token| { token.wait(); Ok(()) });
    /// group.add_signals(SignalSet::terminate()); // last: listens until `drain` has drained
    /// let report = group.run_with_report(); // until SIGINT or SIGTERM
    /// eprintln!("{report}");
    /// ```
    pub fn add_signals(&mut self, signals: SignalSet) -> ActorId {
        let stage = self.stage("signals").id();
        self.actor("signals").stage(stage).add_signals(signals)
    }
}

#[cfg_attr(docsrs, doc(cfg(all(unix, feature = "signal"))))]
impl<E: Send + Sync + 'static> ActorBuilder<'_, E> {
    /// Adds the actor as a signal actor (rule T02) listening for `signals`, in the stage this
    /// builder was given (default: [`Stage::DEFAULT`](crate::Stage::DEFAULT)). Put it in the last
    /// stage, or it stops listening before the later stages drain; [`Group::add_signals`] does
    /// that for you.
    ///
    /// The actor registers when it starts, deregisters when it exits (giving its signals their
    /// default action back once no signal actor listens for them), and turns signals into stop
    /// requests: the first is the cause ([`Trigger::Signal`](crate::Trigger::Signal)), the second escalates (S05), the third
    /// runs the signal's default action (for SIGTERM: the process dies of it). See [`SignalSet`].
    /// A force hook set on this builder is kept.
    ///
    /// # Panics
    ///
    /// On the actor's thread (reported like any actor panic, rule F01), if `signal-hook` cannot
    /// register the signals, or if a callback of the [`SignalSet`] panics.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return Ok(()); }
    /// use rungroup::{Group, SignalSet};
    ///
    /// let mut group = Group::new();
    /// let reload_stage = group.stage("last").id();
    /// let hangup = SignalSet::new([SignalSet::SIGHUP])?;
    /// group.actor("hangup").stage(reload_stage).add_signals(hangup);
    /// # let stop = group.stop_handle();
    /// # stop.stop("doctest");
    /// # group.run().unwrap();
    /// # Ok::<(), rungroup::SignalError>(())
    /// ```
    pub fn add_signals(self, signals: SignalSet) -> ActorId {
        let stop = self.group.stop_handle();
        let name = self.name.clone();
        let listener = Arc::new(Mutex::new(Listener::default()));
        let interrupt_listener = Arc::clone(&listener);
        let SignalSet {
            signals,
            on_listening,
            on_signal,
        } = signals;
        self.add(
            move || {
                let mut registration = {
                    let mut state = listener.lock();
                    if state.closed {
                        // R07: interrupted before it started; never registers.
                        return Ok(());
                    }
                    let (registration, listening) = listen(&signals).unwrap_or_else(|error| {
                        panic!(
                            "rungroup: signal actor '{name}' could not register {:?}: {error}",
                            signals.iter().map(|&s| describe(s)).collect::<Vec<_>>()
                        )
                    });
                    state.handle = Some(registration.handle());
                    state.listening = Some(listening);
                    registration
                };
                // Declared after `registration`, so dropped before it.
                let _unlisten = Unlisten(&listener);
                if let Some(callback) = on_listening {
                    callback();
                }
                // Ends when the interrupt closes the handle. The first signal triggers teardown
                // (or, if something else already did, escalates it); the second escalates it;
                // the third and later run the signal's default action.
                let mut observed = 0;
                for signal in registration.forever() {
                    observed += 1;
                    if let Some(callback) = &on_signal {
                        callback(signal, observed);
                    }
                    if observed < DEFAULT_FROM {
                        let _ = stop.request(Trigger::Signal { signal });
                    } else {
                        run_default_action(signal);
                    }
                }
                // On return `_unlisten` gives the listener counts back (if the interrupt has not
                // already), then dropping `registration` deregisters the signals.
                Ok(())
            },
            move |_: &Cause<E>| {
                let mut state = interrupt_listener.lock();
                state.closed = true;
                // Before the iterator closes: from here on a signal has its default action
                // (unless another actor listens), never a listener that no longer reads.
                let listening = state.listening.take();
                drop(listening);
                if let Some(handle) = &state.handle {
                    handle.close();
                }
            },
        )
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use signal_hook::consts::{SIGPROF, SIGXCPU};

    use super::*;

    /// The flag of `signal`'s conditional default, and how many listen.
    fn disposition(signal: i32) -> (bool, usize) {
        let dispositions = dispositions();
        let disposition = &dispositions[&signal];
        (
            disposition.default.load(Ordering::SeqCst),
            disposition.listeners,
        )
    }

    /// The second layer of `tests/it/process.rs`: the counts and flags themselves. SIGXCPU and
    /// SIGPROF are never raised in this test binary, and no other test listens for them.
    #[test]
    fn t02_the_default_is_armed_exactly_when_no_actor_listens() {
        let first = listen(&[SIGXCPU, SIGPROF]).unwrap().1;
        assert_eq!(disposition(SIGXCPU), (false, 1));
        assert_eq!(disposition(SIGPROF), (false, 1));
        let second = listen(&[SIGXCPU]).unwrap().1;
        assert_eq!(disposition(SIGXCPU), (false, 2));
        drop(first);
        assert_eq!(disposition(SIGXCPU), (false, 1), "another actor listens");
        assert_eq!(disposition(SIGPROF), (true, 0));
        drop(second);
        assert_eq!(disposition(SIGXCPU), (true, 0));
        // A later listener: registered once already, disarmed again.
        let again = listen(&[SIGPROF]).unwrap().1;
        assert_eq!(disposition(SIGPROF), (false, 1));
        drop(again);
        assert_eq!(disposition(SIGPROF), (true, 0));
    }

    /// A real-time signal has no default-action entry in `signal-hook`: its conditional default
    /// is an `_exit(128 + n)`, counted like the others.
    #[cfg(target_os = "linux")]
    #[test]
    fn t02_a_signal_without_a_table_entry_still_gets_a_default() {
        const REAL_TIME: i32 = 40; // between SIGRTMIN and SIGRTMAX on Linux; never raised here
        assert!(signal_name(REAL_TIME).is_none());
        let listening = listen(&[REAL_TIME]).unwrap().1;
        assert_eq!(disposition(REAL_TIME), (false, 1));
        drop(listening);
        assert_eq!(disposition(REAL_TIME), (true, 0));
    }
}
