//! Shared helpers for the integration tests: drop counters, latches, ordered logs, an owned event
//! stream and a bounded runner. With these no test synchronizes by sleeping: a test waits for an
//! event it knows must come, and a fuse that only a hang can reach turns a hang into a failure.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use rungroup::{
    Cause, Error, Event, Group, ManualClock, Payload, Report, Stage, StopHandle, StopToken,
};

/// How long a test waits for something that must happen. Only a hang reaches it.
pub(crate) const FUSE: Duration = Duration::from_secs(60);

/// Counts the drops of the guards it hands out.
#[derive(Clone, Default)]
pub(crate) struct Drops(Arc<AtomicUsize>);

/// Adds one to its [`Drops`] when dropped.
pub(crate) struct DropGuard(Arc<AtomicUsize>);

impl Drops {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn guard(&self) -> DropGuard {
        DropGuard(Arc::clone(&self.0))
    }

    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts calls: `hit` from a hook, `get` from the test.
#[derive(Clone, Default)]
pub(crate) struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Something a misbehaving hook blocks on until the test releases it (at the latest when the
/// latch is dropped, even if the test failed first), so no test leaves a thread blocked for good.
pub(crate) struct Latch(StopToken);

impl Latch {
    pub(crate) fn new() -> Self {
        Self(StopToken::new())
    }

    /// A handle to block on: `latch.waiter().wait()`.
    pub(crate) fn waiter(&self) -> StopToken {
        self.0.clone()
    }

    pub(crate) fn release(&self) {
        self.0.stop();
    }
}

impl Drop for Latch {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// An ordered log written by hooks and read by the test.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    pub(crate) fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The position of `entry`; panics, showing the log, when it is missing.
    pub(crate) fn position(&self, entry: &str) -> usize {
        let entries = self.entries();
        entries
            .iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("{entry:?} not in log {entries:?}"))
    }
}

/// An owned copy of an [`Event`], so it can cross a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    Triggered(String),
    StageBegun(usize),
    Interrupting(String),
    /// An interrupt (not a force hook) returned or panicked, and the group recorded it.
    Interrupted(String),
    /// A force hook returned or panicked, and the group recorded it.
    ForceReturned(String),
    Exited(String),
    StageEnded(usize, bool),
    Escalated(String),
    Abandoned(String),
    Other,
}

impl Ev {
    fn of(event: &Event<'_>) -> Self {
        match event {
            Event::Triggered { cause } => Ev::Triggered((*cause).to_owned()),
            Event::StageBegun { index, .. } => Ev::StageBegun(*index),
            Event::Interrupting { actor } => Ev::Interrupting((*actor).to_owned()),
            Event::HookReturned {
                actor,
                hook: "interrupt",
                ..
            } => Ev::Interrupted((*actor).to_owned()),
            Event::HookReturned {
                actor,
                hook: "force",
                ..
            } => Ev::ForceReturned((*actor).to_owned()),
            Event::ActorExited { actor, .. } => Ev::Exited((*actor).to_owned()),
            Event::StageEnded { index, expired, .. } => Ev::StageEnded(*index, *expired),
            Event::Escalated { actor } => Ev::Escalated((*actor).to_owned()),
            Event::Abandoned { actor } => Ev::Abandoned((*actor).to_owned()),
            _ => Ev::Other,
        }
    }

    pub(crate) fn interrupting(actor: &str) -> Self {
        Ev::Interrupting(actor.to_owned())
    }

    pub(crate) fn exited(actor: &str) -> Self {
        Ev::Exited(actor.to_owned())
    }

    pub(crate) fn escalated(actor: &str) -> Self {
        Ev::Escalated(actor.to_owned())
    }
}

/// The group's lifecycle events, in the order they were emitted.
pub(crate) struct Events {
    rx: mpsc::Receiver<Ev>,
    seen: Vec<Ev>,
}

/// Installs an observer on `group` that forwards every event to the returned stream.
pub(crate) fn events<E: Send + Sync + 'static>(group: &mut Group<E>) -> Events {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    group.observe(move |event| {
        let _ = tx.lock().unwrap().send(Ev::of(event));
    });
    Events {
        rx,
        seen: Vec::new(),
    }
}

impl Events {
    /// Blocks until `wanted` has been emitted (now or earlier); panics if it never is.
    pub(crate) fn wait_for(&mut self, wanted: &Ev) {
        if self.seen.contains(wanted) {
            return;
        }
        loop {
            match self.rx.recv_timeout(FUSE) {
                Ok(event) => {
                    let found = &event == wanted;
                    self.seen.push(event);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("event {wanted:?} never came; saw {:?}", self.seen),
            }
        }
    }

    /// Waits up to `within` for `wanted`; returns whether it came. For giving a bug the chance to
    /// show itself, never as the synchronization a passing run depends on.
    pub(crate) fn came_within(&mut self, wanted: &Ev, within: Duration) -> bool {
        if self.seen.contains(wanted) {
            return true;
        }
        while let Ok(event) = self.rx.recv_timeout(within) {
            let found = &event == wanted;
            self.seen.push(event);
            if found {
                return true;
            }
        }
        false
    }

    /// Every event emitted so far.
    pub(crate) fn all(&mut self) -> Vec<Ev> {
        self.seen.extend(self.rx.try_iter());
        self.seen.clone()
    }
}

/// A value being computed on another thread, awaited with the fuse.
pub(crate) struct Pending<T>(mpsc::Receiver<thread::Result<T>>);

/// Runs `f` on a fresh thread. `join` returns its value, or resumes its panic.
pub(crate) fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(panic::catch_unwind(AssertUnwindSafe(f)));
    });
    Pending(rx)
}

impl<T> Pending<T> {
    pub(crate) fn join(self) -> T {
        match self.0.recv_timeout(FUSE) {
            Ok(Ok(value)) => value,
            Ok(Err(payload)) => panic::resume_unwind(payload),
            Err(_) => panic!("run did not return within {FUSE:?}: it hung"),
        }
    }
}

/// `run_with_report` on another thread, so a hang fails the test instead of stalling the suite.
pub(crate) fn spawn_report<E: Send + Sync + 'static>(group: Group<E>) -> Pending<Report<E>> {
    bounded(move || group.run_with_report())
}

/// `run_with_report`, bounded by the fuse.
pub(crate) fn report_of<E: Send + Sync + 'static>(group: Group<E>) -> Report<E> {
    spawn_report(group).join()
}

/// The plain `run` on another thread: its result, or the panic it resumed.
pub(crate) fn run_catching<E>(group: Group<E>) -> Result<Result<(), E>, Payload>
where
    E: From<Error> + Send + Sync + 'static,
{
    bounded(move || panic::catch_unwind(AssertUnwindSafe(|| group.run()))).join()
}

/// The text of a panic payload that is a string.
pub(crate) fn payload_text(payload: &Payload) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        panic!("payload is not a string")
    }
}

/// An observer that forwards only the `Interrupting` events, as actor names, to a channel.
pub(crate) fn interrupting(group: &mut Group) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    group.observe(move |event| {
        if let Event::Interrupting { actor } = event {
            let _ = tx.lock().unwrap().send((*actor).to_owned());
        }
    });
    rx
}

/// Blocks until `actor` is interrupted (per [`interrupting`]); panics if it never is.
pub(crate) fn wait_interrupting(rx: &mpsc::Receiver<String>, actor: &str) {
    loop {
        let name = rx
            .recv_timeout(FUSE)
            .unwrap_or_else(|_| panic!("'{actor}' was never interrupted"));
        if name == actor {
            return;
        }
    }
}

/// The setup of the tests that drive deadlines by hand: a fresh group observed by [`events`],
/// its stop handle, and the new [`ManualClock`] it runs on, with the given kill grace.
pub(crate) fn clocked(kill_grace: Duration) -> (Group, Events, StopHandle, ManualClock) {
    let clock = ManualClock::new();
    let mut group = Group::new();
    let events = events(&mut group);
    let stop = group.stop_handle();
    group.clock(clock.clone()).kill_grace(kill_grace);
    (group, events, stop, clock)
}

/// [`clocked`], with `grace` as the default stage's grace.
pub(crate) fn clocked_with_grace(
    kill_grace: Duration,
    grace: Duration,
) -> (Group, Events, StopHandle, ManualClock) {
    let (mut group, events, stop, clock) = clocked(kill_grace);
    group.grace(Stage::DEFAULT, grace);
    (group, events, stop, clock)
}

/// Puts `group` on a fresh [`ManualClock`] with a budget of an hour, which no test reaches: the
/// interrupts run on lane threads, under deadlines that never expire.
pub(crate) fn on_lanes<E: Send + Sync + 'static>(group: &mut Group<E>) {
    group
        .clock(ManualClock::new())
        .budget(Duration::from_secs(3600));
}

/// Runs `group` with a report on another thread; once `after` has been emitted, advances `clock`
/// by `by`; returns the report.
pub(crate) fn report_advancing<E: Send + Sync + 'static>(
    group: Group<E>,
    events: &mut Events,
    after: &Ev,
    clock: &ManualClock,
    by: Duration,
) -> Report<E> {
    let pending = spawn_report(group);
    events.wait_for(after);
    clock.advance(by);
    pending.join()
}

/// The execute and interrupt of an actor that runs until it is interrupted: the interrupt runs
/// `then`, then releases the execute, which returns `Ok(())`.
pub(crate) fn until_interrupted<E: 'static>(
    then: impl FnOnce(&Cause<E>) + Send + 'static,
) -> (
    impl FnOnce() -> Result<(), E> + Send + 'static,
    impl FnOnce(&Cause<E>) + Send + 'static,
) {
    let (tx, rx) = mpsc::channel::<()>();
    (
        move || {
            let _ = rx.recv();
            Ok(())
        },
        move |cause: &Cause<E>| {
            then(cause);
            drop(tx);
        },
    )
}

/// Asserts that the run's error is exactly [`Error::Escalated`] (issue 10, item 10: every actor
/// returned, but some only after escalation, so the run is not a success), naming exactly the
/// actors the report marks escalated, and that nothing was abandoned.
#[track_caller]
pub(crate) fn assert_escalated_cleanly<E>(report: &rungroup::Report<E>)
where
    E: std::fmt::Display,
{
    let escalated: Vec<String> = report.escalated().map(str::to_owned).collect();
    assert!(!escalated.is_empty(), "{report}");
    match report.error() {
        Some(rungroup::Error::Escalated { actors, .. }) => {
            assert_eq!(actors, &escalated, "{report}")
        }
        other => panic!("expected Error::Escalated, got {other:?}\n{report}"),
    }
    assert_eq!(report.abandoned().count(), 0, "{report}");
    let failed = report
        .first_exit()
        .is_some_and(|actor| matches!(actor.outcome, rungroup::Outcome::Err(_)));
    // An error first exit stays the headline (status 1); otherwise the escalation is (3).
    let expected = if report.panicked() {
        101
    } else if failed {
        1
    } else {
        3
    };
    assert_eq!(report.exit_code(), expected, "{report}");
}

/// An actor whose execute ignores everything (its interrupt included) until `latch` is released.
pub(crate) fn stubborn(group: &mut Group, stage: Stage, name: &str, latch: &Latch) {
    let waiter = latch.waiter();
    group.actor(name).stage(stage).add(
        move || {
            waiter.wait();
            Ok(())
        },
        |_| {},
    );
}

/// A run of an on-error `sidecar` that runs until interrupted and a `job` that fails: the job's
/// exit triggers teardown, and the sidecar's policy shows in the report (S07, O01).
pub(crate) fn sidecar_and_failing_job(error: &'static str) -> Report<rungroup::BoxError> {
    let mut group = Group::new();
    group
        .actor("sidecar")
        .policy(rungroup::Policy::OnError)
        .add_token(|token| {
            token.wait();
            Ok(())
        });
    group.actor("job").add(move || Err(error.into()), |_| {});
    report_of(group)
}
