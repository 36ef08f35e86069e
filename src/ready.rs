//! Readiness: actors say when they can serve, the group says when all of them can (issue 13).
//!
//! A group's readiness is one flag for load balancers and service managers: the group is *ready*
//! while it runs, every actor was started, and every declared [`ReadyHandle`] is set; it becomes
//! *not ready* when a handle is cleared, and for good once teardown is triggered (before the
//! [lame-duck delay](crate::Group::lame_duck), so that traffic stops first). A group that declares
//! no handle is ready as soon as every actor was started.
//!
//! Transitions are events ([`Event::Ready`](crate::Event::Ready),
//! [`Event::NotReady`](crate::Event::NotReady)) emitted in the order they happened, and the
//! report says when the group first became ready ([`Report::ready_at`](crate::Report::ready_at))
//! and which handles never were ([`Report::never_ready`](crate::Report::never_ready)).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Condvar, Frozen, Mutex, MutexGuard};

/// What the runner hooks into a group's readiness while it runs: its clock and its events.
pub(crate) trait Sink: Send + Sync {
    /// The run's clock.
    fn now(&self) -> Duration;
    /// The group became ready (`None`) or stopped being ready, and why.
    fn changed(&self, ready: bool, reason: &str);
}

/// The readiness of one group, shared by its handles, its watchers and the runner.
pub(crate) struct Shared {
    state: Mutex<State>,
    cond: Condvar,
    /// `State::ready`, readable without the lock: what a health endpoint polls.
    ready: AtomicBool,
}

struct State {
    /// One per declared handle.
    handles: Vec<Handle>,
    /// The runner started every actor and is running.
    running: bool,
    /// Teardown was triggered: never ready again.
    draining: bool,
    ready: bool,
    /// When the group first became ready, on the run's clock.
    ready_at: Option<Duration>,
    sink: Option<Frozen<dyn Sink>>,
    /// Transitions not yet announced, in the order they happened.
    pending: VecDeque<(bool, Cow<'static, str>)>,
    /// A thread is announcing `pending` (outside the lock): it announces those queued meanwhile.
    announcing: bool,
}

/// One declared handle, as the group keeps it.
struct Handle {
    name: String,
    set: bool,
    /// Whether it was ever set (the report's `never_ready`).
    ever_set: bool,
}

impl State {
    fn computed(&self) -> bool {
        self.running && !self.draining && self.handles.iter().all(|handle| handle.set)
    }
}

impl Shared {
    pub(crate) fn new() -> Frozen<Self> {
        Frozen::new(Self {
            state: Mutex::new(State {
                handles: Vec::new(),
                running: false,
                draining: false,
                ready: false,
                ready_at: None,
                sink: None,
                pending: VecDeque::new(),
                announcing: false,
            }),
            cond: Condvar::new(),
            ready: AtomicBool::new(false),
        })
    }

    /// Declares one more handle, not set.
    pub(crate) fn declare(shared: &Frozen<Self>, name: String) -> ReadyHandle {
        let mut state = shared.state.lock();
        state.handles.push(Handle {
            name,
            set: false,
            ever_set: false,
        });
        ReadyHandle {
            shared: Frozen::clone(shared),
            index: state.handles.len() - 1,
        }
    }

    /// Applies `change` and, if the group's readiness flipped, records and announces it. The
    /// transition is queued under the lock and announced outside it (an inline observer is user
    /// code: it may take a lock an actor holds while setting a handle, or set one itself), by one
    /// thread at a time, so events still come in the order of the transitions. Returns the
    /// guard once this thread has nothing left to announce.
    fn update(
        &self,
        reason: Cow<'static, str>,
        change: impl FnOnce(&mut State),
    ) -> MutexGuard<'_, State> {
        let mut state = self.state.lock();
        change(&mut state);
        let ready = state.computed();
        if ready == state.ready {
            return state;
        }
        state.ready = ready;
        // ORDERING: Release/Acquire pairs a watcher's `is_ready() == true` with what the actor
        // did before setting its handle (bound the socket, loaded the cache).
        self.ready.store(ready, Ordering::Release);
        if let Some(sink) = &state.sink {
            if ready && state.ready_at.is_none() {
                state.ready_at = Some(sink.now());
            }
            state.pending.push_back((ready, reason));
        }
        self.cond.notify_all();
        if state.announcing {
            // The announcing thread takes this one too, after those before it.
            return state;
        }
        state.announcing = true;
        let mut announcing = Announcing(Some(self));
        while let Some((ready, reason)) = state.pending.pop_front() {
            let sink = state.sink.clone();
            drop(state);
            if let Some(sink) = sink {
                sink.changed(ready, &reason);
            }
            state = self.state.lock();
        }
        // Nothing queued, under the lock: the turn ends here.
        announcing.0 = None;
        state.announcing = false;
        self.cond.notify_all();
        state
    }

    /// Waits until no thread is announcing: every transition so far has been announced.
    fn announced<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        while state.announcing {
            state = self.cond.wait(state);
        }
        state
    }

    /// The runner: every actor was started; events go to `sink` from now on.
    pub(crate) fn start(&self, sink: Frozen<dyn Sink>) {
        self.state.lock().sink = Some(sink);
        drop(self.update(Cow::Borrowed(""), |state| state.running = true));
    }

    /// The runner: teardown was triggered. Not ready, for good; announced before this returns,
    /// so before anything teardown emits next.
    pub(crate) fn drain(&self) {
        let state = self.update(Cow::Borrowed("teardown"), |state| state.draining = true);
        drop(self.announced(state));
    }

    /// The runner, at the end: no more events; returns when the group first became ready and
    /// the handles that were never set.
    pub(crate) fn finish(&self) -> (Option<Duration>, Vec<String>) {
        let state = self.update(Cow::Borrowed("teardown"), |state| {
            state.draining = true;
            state.running = false;
        });
        let mut state = self.announced(state);
        state.sink = None;
        let never = state
            .handles
            .iter()
            .filter(|handle| !handle.ever_set)
            .map(|handle| handle.name.clone())
            .collect();
        (state.ready_at, never)
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// A group's readiness during one run, as the runner drives it: the shared bookkeeping, or, when
/// nothing but the report can ever see it, only the moment every actor ran.
///
/// Nothing else can see it when no condition was declared and no watcher taken (each holds the
/// group's `Shared`, and neither can be had once `run` has the group) and nobody listens to the
/// run's events. The bookkeeping (a lock and an announcement at the start, at the trigger and at
/// the end, and a sink) is then skipped, and the report says what it would have said.
pub(crate) enum Tracker {
    Watched(Frozen<Shared>),
    Unwatched { ready_at: Option<Duration> },
}

impl Tracker {
    pub(crate) fn new(mut shared: Frozen<Shared>, listened: bool) -> Self {
        let unwatched = !listened
            && Frozen::get_mut(&mut shared)
                .is_some_and(|shared| shared.state.get_mut().handles.is_empty());
        if unwatched {
            Tracker::Unwatched { ready_at: None }
        } else {
            Tracker::Watched(shared)
        }
    }

    /// Every actor is running, at `now`: see [`Shared::start`]; `sink` is made only if needed.
    pub(crate) fn start(&mut self, now: Duration, sink: impl FnOnce() -> Frozen<dyn Sink>) {
        match self {
            Tracker::Watched(shared) => shared.start(sink()),
            Tracker::Unwatched { ready_at } => *ready_at = Some(now),
        }
    }

    /// Teardown was triggered: see [`Shared::drain`].
    pub(crate) fn drain(&self) {
        if let Tracker::Watched(shared) = self {
            shared.drain();
        }
    }

    /// The end of the run: see [`Shared::finish`].
    pub(crate) fn finish(&self) -> (Option<Duration>, Vec<String>) {
        match self {
            Tracker::Watched(shared) => shared.finish(),
            Tracker::Unwatched { ready_at } => (*ready_at, Vec::new()),
        }
    }
}

/// Ends a thread's turn at announcing if a sink panicked (a `tracing` subscriber may), so that
/// later transitions are announced and `drain`/`finish` do not wait for good. Disarmed (`None`)
/// on the normal path, which ends the turn itself.
struct Announcing<'a>(Option<&'a Shared>);

impl Drop for Announcing<'_> {
    fn drop(&mut self) {
        let Some(shared) = self.0 else { return };
        let mut state = shared.state.lock();
        state.announcing = false;
        // What the panic left queued is dropped with it.
        state.pending.clear();
        drop(state);
        shared.cond.notify_all();
    }
}

/// One readiness condition of a group, made by [`Group::ready_handle`](crate::Group::ready_handle):
/// give it to the actor that must be up before the group can take traffic, and call
/// [`ready`](Self::ready) once it can.
///
/// The group is ready while every handle it made is set (and it runs). A handle can be cleared
/// again ([`not_ready`](Self::not_ready)), for example while a connection is re-established; a
/// handle dropped unset keeps the group not ready.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::Group;
///
/// let mut group = Group::new();
/// let ready = group.ready_handle("http");
/// let readiness = group.readiness(); // for a /readyz endpoint
/// group.actor("http").add_token(move |token| {
///     // bind the listener, then:
///     ready.ready();
///     token.wait();
///     Ok(())
/// });
/// # let stop = group.stop_handle();
/// # group.actor("probe").add(move || { readiness.wait_ready(); stop.stop("done"); Ok(()) }, |_| {});
/// let report = group.run_with_report();
/// assert!(report.ready_at().is_some());
/// ```
pub struct ReadyHandle {
    shared: Frozen<Shared>,
    index: usize,
}

impl ReadyHandle {
    /// Marks this condition met. Idempotent.
    pub fn ready(&self) {
        self.set(true);
    }

    /// Marks this condition not met (again). Idempotent.
    pub fn not_ready(&self) {
        self.set(false);
    }

    fn set(&self, value: bool) {
        let reason = if value {
            Cow::Borrowed("")
        } else {
            Cow::Owned(format!("'{}' not ready", self.name()))
        };
        drop(self.shared.update(reason, |state| {
            let handle = &mut state.handles[self.index];
            handle.set = value;
            handle.ever_set |= value;
        }));
    }

    /// The name it was declared with.
    #[must_use]
    pub fn name(&self) -> String {
        self.shared.state.lock().handles[self.index].name.clone()
    }
}

impl fmt::Debug for ReadyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        let Handle { name, set, .. } = &state.handles[self.index];
        f.debug_struct("ReadyHandle")
            .field("name", name)
            .field("set", set)
            .finish()
    }
}

/// A watcher of a group's readiness, made by [`Group::readiness`](crate::Group::readiness):
/// cloneable, `Send + Sync`, cheap to poll. Answer a Kubernetes readiness probe with
/// [`is_ready`](Self::is_ready).
#[derive(Clone)]
pub struct Readiness {
    shared: Frozen<Shared>,
}

impl Readiness {
    pub(crate) fn new(shared: &Frozen<Shared>) -> Self {
        Self {
            shared: Frozen::clone(shared),
        }
    }

    /// Whether the group is ready now: running, every actor started, every declared
    /// [`ReadyHandle`] set, and teardown not triggered. Lock-free.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.shared.is_ready()
    }

    /// Blocks until the group is ready. Returns at once if it is. It may never become ready
    /// (a handle never set, or teardown came first): use [`wait_ready_timeout`] where that
    /// matters.
    ///
    /// [`wait_ready_timeout`]: Self::wait_ready_timeout
    pub fn wait_ready(&self) {
        let mut state = self.shared.state.lock();
        while !state.ready {
            state = self.shared.cond.wait(state);
        }
    }

    /// Blocks until the group is ready or `timeout` passed; returns whether it is ready.
    pub fn wait_ready_timeout(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut state = self.shared.state.lock();
        while !state.ready {
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(std::time::Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return false;
            }
            state = self.shared.cond.wait_timeout(state, left);
        }
        true
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readiness")
            .field("ready", &self.is_ready())
            .finish()
    }
}
