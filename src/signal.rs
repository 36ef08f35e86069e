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
//!   signal, and so tore services down on the runtime's own SIGURG. Here an empty set is a panic at
//!   construction, with a message that says why.
//! - **A signal is a stop request** with [`Trigger::Signal`] as its detail: the first one is the
//!   cause of teardown ([`Cause::Signal`] names the signal), the next one escalates teardown at
//!   once (rule S05), exactly like a second [`StopHandle::stop`](crate::StopHandle::stop). If
//!   something else triggered teardown first, the first signal escalates. After its escalation the
//!   actor forwards no more signals: the kernel and `signal-hook` coalesce pending signals, so the
//!   count of a storm carries no meaning, and a storm is exactly one trigger and one escalation.
//! - **Deregisters when it exits**: the actor's execute owns the `signal-hook` registration and
//!   drops it when it returns.
//!
//! # Stage placement: torn down last
//!
//! A signal actor can only escalate while it listens, and it listens until its own interrupt. An
//! actor in the default stage would stop listening as soon as teardown began, so a second SIGTERM
//! during a long drain would be lost (worse: `signal-hook` keeps its process-wide handler installed
//! after the last registration is dropped, so that SIGTERM would not even kill the process).
//! [`Group::add_signals`] therefore puts the actor in **a stage of its own, created at that call,
//! after every stage that exists then**: call it after your own `add_stage` calls, and the signal
//! actor keeps listening while every other stage drains, and is interrupted last. With
//! [`ActorBuilder::add_signals`] you choose the stage yourself; choose the last one.
//!
//! The state shared by the execute and the interrupt is one small mutex: the interrupt marks the
//! actor closed and, if the registration exists, closes its iterator; the execute registers under
//! the same lock only if the actor is not closed yet. So an interrupt that comes before the execute
//! has started (R07) means the actor never registers at all.

use std::fmt;

use signal_hook::consts::{FORBIDDEN, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use signal_hook::low_level::signal_name;

use crate::group::{ActorBuilder, Group};
use crate::report::{Cause, Trigger};
use crate::stop::StopOutcome;
use crate::sync::{Arc, Mutex};

/// The largest signal number `signal-hook` can register, plus one.
const SIGNAL_LIMIT: i32 = 128;

/// Which signals a signal actor listens for, and what to do once it listens (rule T02; feature
/// `signal`, unix only).
///
/// Made with [`SignalSet::terminate`] (SIGINT and SIGTERM, also the [`Default`]) or
/// [`SignalSet::new`]; passed to [`Group::add_signals`] or [`ActorBuilder::add_signals`].
///
/// The signal actor, built on `signal-hook`:
///
/// - registers its signals when it starts (not when it is added), and deregisters them when it
///   exits;
/// - fires only on the signals of its set, which cannot be empty (Go's `run.SignalHandler`, given
///   no signals, listened to every signal and tore services down on the runtime's SIGURG);
/// - turns the first signal into teardown's cause ([`Cause::Signal`]), the next one into an
///   escalation (rule S05: the force hooks run at once, like a second
///   [`StopHandle::stop`](crate::StopHandle::stop)), and ignores the rest of a storm (pending
///   signals coalesce, so their count means nothing). If something else triggered teardown
///   first, its first signal escalates;
/// - listens until its own interrupt. So it must be torn down last, or a second SIGTERM during a
///   long drain would be lost (and, as `signal-hook` keeps its process-wide handler after the last
///   registration is dropped, would not even kill the process). [`Group::add_signals`] puts it in a
///   stage of its own after every existing stage.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::SignalSet;
/// use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
///
/// assert_eq!(SignalSet::terminate().signals(), &[SIGINT, SIGTERM]);
/// let set = SignalSet::new([SIGTERM, SIGHUP, SIGTERM]); // sorted, without duplicates
/// assert_eq!(set.signals(), &[SIGHUP, SIGTERM]);
/// ```
pub struct SignalSet {
    signals: Vec<i32>,
    on_listening: Option<Box<dyn FnOnce() + Send + 'static>>,
}

impl SignalSet {
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
        Self::new([SIGINT, SIGTERM])
    }

    /// Any set of signals, for example `[SIGTERM, SIGHUP]` (the constants are in
    /// `signal_hook::consts` or `libc`).
    ///
    /// # Panics
    ///
    /// - If `signals` is empty: an empty set would fire on nothing (and Go's `SignalHandler`, given
    ///   no signals, fired on every signal, SIGURG included).
    /// - If a signal cannot be handled: SIGKILL, SIGSTOP, SIGILL, SIGFPE, SIGSEGV (`signal-hook`'s
    ///   `FORBIDDEN` list), or a number outside `1..128`.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::SignalSet;
    /// use signal_hook::consts::SIGKILL;
    ///
    /// assert!(std::panic::catch_unwind(|| SignalSet::new([])).is_err());
    /// assert!(std::panic::catch_unwind(|| SignalSet::new([SIGKILL])).is_err());
    /// ```
    #[must_use]
    pub fn new(signals: impl IntoIterator<Item = i32>) -> Self {
        let mut signals: Vec<i32> = signals.into_iter().collect();
        assert!(
            !signals.is_empty(),
            "rungroup: a signal set needs at least one signal: an empty set would fire on nothing \
             (Go's run.SignalHandler, given none, fired on every signal, SIGURG included)"
        );
        for &signal in &signals {
            assert!(
                (1..SIGNAL_LIMIT).contains(&signal) && !FORBIDDEN.contains(&signal),
                "rungroup: signal {} cannot be handled (SIGKILL, SIGSTOP, SIGILL, SIGFPE and \
                 SIGSEGV are forbidden, and signal numbers are 1..{SIGNAL_LIMIT})",
                describe(signal)
            );
        }
        signals.sort_unstable();
        signals.dedup();
        Self {
            signals,
            on_listening: None,
        }
    }

    /// Calls `callback` on the actor's thread once its signals are registered. Until then a signal
    /// has its previous disposition (for SIGTERM and SIGINT: the process dies), so announce
    /// readiness (`sd_notify`, a "listening on" line, a health check) from here.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Cause, Group, SignalSet, Trigger};
    /// use signal_hook::consts::SIGUSR2;
    /// use std::sync::mpsc;
    ///
    /// let (listening, is_listening) = mpsc::channel();
    /// let mut group = Group::new();
    /// group.add_signals(SignalSet::new([SIGUSR2]).on_listening(move || {
    ///     let _ = listening.send(());
    /// }));
    /// std::thread::spawn(move || {
    ///     is_listening.recv().unwrap();
    ///     signal_hook::low_level::raise(SIGUSR2).unwrap(); // as `kill -USR2 <pid>` would
    /// });
    /// let report = group.run_with_report();
    /// assert_eq!(report.trigger(), &Trigger::Signal { signal: SIGUSR2 });
    /// ```
    #[must_use]
    pub fn on_listening<F>(mut self, callback: F) -> Self
    where
        F: FnOnce() + Send + 'static,
    {
        self.on_listening = Some(Box::new(callback));
        self
    }

    /// The signals of this set, sorted, without duplicates.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use signal_hook::consts::SIGHUP;
    ///
    /// assert_eq!(rungroup::SignalSet::new([SIGHUP]).signals(), &[SIGHUP]);
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
            .finish()
    }
}

/// `SIGTERM (15)`, or just the number for a signal without a well-known name.
fn describe(signal: i32) -> String {
    match signal_name(signal) {
        Some(name) => format!("{name} ({signal})"),
        None => signal.to_string(),
    }
}

/// What the execute and the interrupt of one signal actor share.
#[derive(Default)]
struct Listener {
    /// The interrupt has been called: do not register, or stop listening.
    closed: bool,
    /// The live registration's handle, once the execute has registered.
    handle: Option<Handle>,
}

impl<E: Send + Sync + 'static> Group<E> {
    /// Adds a signal actor named `signals` (rule T02) in **a new stage named `signals`, after
    /// every stage that exists now**, so that it listens while the other stages drain and a
    /// second signal can escalate: call it after your own [`add_stage`](Group::add_stage) calls.
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
    /// let drain = group.add_stage("drain");
    /// group.actor("server").add_token(|token| { token.wait(); Ok(()) });
    /// group.actor("workers").stage(drain).add_token(|token| { token.wait(); Ok(()) });
    /// group.add_signals(SignalSet::terminate()); // last: listens until `drain` has drained
    /// let report = group.run_with_report(); // until SIGINT or SIGTERM
    /// eprintln!("{report}");
    /// ```
    pub fn add_signals(&mut self, signals: SignalSet) -> &mut Self {
        let stage = self.add_stage("signals");
        self.actor("signals").stage(stage).add_signals(signals);
        self
    }
}

impl<E: Send + Sync + 'static> ActorBuilder<'_, E> {
    /// Adds the actor as a signal actor (rule T02) listening for `signals`, in the stage this
    /// builder was given (default: [`Stage::DEFAULT`](crate::Stage::DEFAULT)). Put it in the last
    /// stage, or it stops listening before the later stages drain; [`Group::add_signals`] does
    /// that for you.
    ///
    /// The actor registers when it starts, deregisters when it exits, and turns signals into stop
    /// requests: the first is the cause ([`Cause::Signal`]), the next escalates (S05), the rest
    /// of a storm is ignored (see [`SignalSet`]). A force hook set on this builder is kept.
    ///
    /// # Panics
    ///
    /// On the actor's thread (reported like any actor panic, rule F01), if `signal-hook` cannot
    /// register the signals.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, SignalSet};
    /// use signal_hook::consts::SIGHUP;
    ///
    /// let mut group = Group::new();
    /// let reload_stage = group.add_stage("last");
    /// group.actor("hangup").stage(reload_stage).add_signals(SignalSet::new([SIGHUP]));
    /// # let stop = group.stop_handle();
    /// # stop.stop("doctest");
    /// # group.run().unwrap();
    /// ```
    pub fn add_signals(self, signals: SignalSet) {
        let stop = self.group.stop_handle();
        let name = self.name.clone();
        let listener = Arc::new(Mutex::new(Listener::default()));
        let interrupt_listener = Arc::clone(&listener);
        let SignalSet {
            signals,
            on_listening,
        } = signals;
        self.add(
            move || {
                let mut registration = {
                    let mut state = listener.lock();
                    if state.closed {
                        // R07: interrupted before it started; never registers.
                        return Ok(());
                    }
                    let registration = Signals::new(&signals).unwrap_or_else(|error| {
                        panic!(
                            "rungroup: signal actor '{name}' could not register {:?}: {error}",
                            signals.iter().map(|&s| describe(s)).collect::<Vec<_>>()
                        )
                    });
                    state.handle = Some(registration.handle());
                    registration
                };
                if let Some(callback) = on_listening {
                    callback();
                }
                // Ends when the interrupt closes the handle. The first signal triggers teardown
                // (or, if something else already did, escalates it); the next one escalates it;
                // the rest of a storm is dropped: signals coalesce, so their count means nothing.
                let mut escalated = false;
                for signal in registration.forever() {
                    if !escalated {
                        escalated =
                            stop.request(Trigger::Signal { signal }) != StopOutcome::Triggered;
                    }
                }
                // Dropping `registration` here deregisters the signals.
                drop(registration);
                Ok(())
            },
            move |_: &Cause<E>| {
                let mut state = interrupt_listener.lock();
                state.closed = true;
                if let Some(handle) = &state.handle {
                    handle.close();
                }
            },
        );
    }
}
