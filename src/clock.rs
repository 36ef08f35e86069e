//! Time, injectable.
//!
//! The runner reads time only through [`Clock`]: the real one (a monotonic [`Instant`]) or a
//! [`ManualClock`] that a test, a proptest model or a loom model advances by hand. loom has no
//! time, so a grace period's expiry is, under loom, simply the event "somebody advanced the manual
//! clock past the deadline": exactly the modelled event rule S04 needs.
//!
//! Times are [`Duration`]s since the clock's origin, which keeps the arithmetic the same for both
//! clocks and makes the report's timestamps small, readable numbers.

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Arc, Condvar, Mutex};

/// A clock that moves only when told to: deterministic deadlines for tests.
///
/// Give it to a group with [`Group::clock`](crate::Group::clock); every grace period, budget and
/// kill grace of that group is then measured against it, and the report's timestamps come from it.
/// [`advance`](ManualClock::advance) wakes a `run` that is waiting for a deadline.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::ManualClock;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// assert_eq!(clock.now(), Duration::ZERO);
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now(), Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    /// Nanoseconds since the origin. Only ever increases.
    now: AtomicU64,
    /// The waiting callers of the groups that use this clock. Each `run` registers its wake pair
    /// when it starts and removes it before it returns, so this never grows without bound.
    waiters: Mutex<Vec<Arc<WakePair>>>,
}

/// The mutex and condvar a group's caller parks on; shared with the clock so that advancing the
/// clock can wake it.
pub(crate) struct WakePair {
    pub(crate) lock: Mutex<crate::state::Wake>,
    pub(crate) cond: Condvar,
}

impl WakePair {
    /// Wakes whoever waits on this pair: a parked thread, the timer thread, or the task polling
    /// the group's future. Takes the guard of `lock`, so that the change being announced was made
    /// under it or before it (no lost wake-up); the task's waker is called after it is released
    /// (a waker is executor code).
    pub(crate) fn wake(&self, mut guard: crate::sync::MutexGuard<'_, crate::state::Wake>) {
        guard.woken = true;
        self.cond.notify_all();
        let waker = guard.waker.take();
        drop(guard);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl ManualClock {
    /// A clock at time zero.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(ManualInner {
                now: AtomicU64::new(0),
                waiters: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The time since this clock's origin.
    #[must_use]
    pub fn now(&self) -> Duration {
        // ORDERING: the value is a plain counter read for arithmetic; what it publishes (that a
        // deadline has passed) is acted on only after the waiter re-locks its wake mutex, which
        // `advance` takes after storing, so Relaxed suffices here and in `advance`.
        Duration::from_nanos(self.inner.now.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by` and wakes every group waiting on it.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // ORDERING: see `now`; the wake-up below goes through each waiter's mutex, which orders
        // this store before the waiter's re-check.
        let _ = self
            .inner
            .now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                Some(now.saturating_add(by))
            });
        let waiters = self.inner.waiters.lock().clone();
        for waiter in waiters {
            // Taking the waiter's lock before notifying closes the window between its check of
            // the clock and its wait (no lost wake-up).
            waiter.wake(waiter.lock.lock());
        }
    }

    fn register(&self, waiter: &Arc<WakePair>) {
        self.inner.waiters.lock().push(Arc::clone(waiter));
    }

    fn unregister(&self, waiter: &Arc<WakePair>) {
        self.inner
            .waiters
            .lock()
            .retain(|other| !Arc::ptr_eq(other, waiter));
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

/// The clock a group measures deadlines and timestamps with.
#[derive(Clone, Debug, Default)]
pub(crate) enum Clock {
    /// The monotonic system clock.
    #[default]
    Real,
    /// A test clock.
    Manual(ManualClock),
}

/// A clock fixed to an origin: what a running group actually reads.
#[derive(Debug)]
pub(crate) enum RunClock {
    Real(Instant),
    Manual(ManualClock),
}

impl Clock {
    pub(crate) fn start(&self, waiter: &Arc<WakePair>) -> RunClock {
        match self {
            Clock::Real => RunClock::Real(Instant::now()),
            Clock::Manual(clock) => {
                clock.register(waiter);
                RunClock::Manual(clock.clone())
            }
        }
    }
}

impl RunClock {
    /// Time since the run began (real clock) or since the manual clock's origin.
    pub(crate) fn now(&self) -> Duration {
        match self {
            RunClock::Real(origin) => origin.elapsed(),
            RunClock::Manual(clock) => clock.now(),
        }
    }

    /// How long a waiter with this deadline may block before it must look at the clock again.
    /// `None`: block until notified (no deadline, or a manual clock, whose `advance` notifies).
    pub(crate) fn wait_budget(&self, deadline: Option<Duration>) -> Option<Duration> {
        match (self, deadline) {
            (RunClock::Real(_), Some(deadline)) => Some(deadline.saturating_sub(self.now())),
            _ => None,
        }
    }

    /// Has `waiter` woken by every `advance` of a manual clock, until [`stop`](Self::stop): for a
    /// sleeper other than the runner (a supervised actor's backoff). Nothing for the real clock.
    pub(crate) fn watch(&self, waiter: &Arc<WakePair>) {
        if let RunClock::Manual(clock) = self {
            clock.register(waiter);
        }
    }

    pub(crate) fn stop(&self, waiter: &Arc<WakePair>) {
        if let RunClock::Manual(clock) = self {
            clock.unregister(waiter);
        }
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    use crate::state::Control;

    /// A run registers its wake pair with a manual clock and takes it back when it ends: a
    /// finished group is neither kept alive by the clock nor woken by a later `advance`.
    #[test]
    fn a_stopped_run_clock_unregisters_only_its_own_waiter() {
        let clock = ManualClock::new();
        let (first, second) = (Control::new(), Control::new());
        let run_first = Clock::Manual(clock.clone()).start(first.wake_pair());
        let run_second = Clock::Manual(clock.clone()).start(second.wake_pair());
        assert_eq!(clock.inner.waiters.lock().len(), 2);
        run_first.stop(first.wake_pair());
        let waiters = clock.inner.waiters.lock().clone();
        assert_eq!(waiters.len(), 1);
        assert!(Arc::ptr_eq(&waiters[0], second.wake_pair()));
        drop(waiters);
        run_second.stop(second.wake_pair());
        assert!(clock.inner.waiters.lock().is_empty());
        assert_eq!(Arc::strong_count(first.wake_pair()), 1);
    }

    /// On the real clock a waiter sleeps until its deadline (and is not told to poll); without a
    /// deadline, or on a manual clock, it sleeps until notified.
    #[test]
    fn wait_budget_is_the_time_left_on_the_real_clock_only() {
        let real = Clock::Real.start(Control::new().wake_pair());
        let hour = Duration::from_secs(3600);
        let left = real.wait_budget(Some(hour)).expect("a real deadline");
        // Only a hang of most of an hour could break this bound.
        assert!(left > hour / 2, "{left:?}");
        assert_eq!(real.wait_budget(Some(Duration::ZERO)), Some(Duration::ZERO));
        assert_eq!(real.wait_budget(None), None);
        let control = Control::new();
        let manual = Clock::Manual(ManualClock::new()).start(control.wake_pair());
        assert_eq!(manual.wait_budget(Some(hour)), None);
        manual.stop(control.wake_pair());
    }
}
