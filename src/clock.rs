//! Time, injectable.
//!
//! The runner reads time only through [`Clock`]: the real one (a monotonic [`Instant`]) or a
//! [`ManualClock`] that a test, a proptest model or a loom model advances by hand. loom has no
//! time, so a grace period's expiry is, under loom, simply the event "somebody advanced the manual
//! clock past the deadline": exactly the modelled event rule S04 needs.
//!
//! Times are [`Duration`]s since the clock's origin, which keeps the arithmetic the same for both
//! clocks and makes the report's timestamps small, readable numbers.

// Without `test-util`, `ManualClock` is not exported and nothing outside this module makes one:
// its methods and the `Manual` variants are compiled (the runner matches on them) but unused.
#![cfg_attr(not(feature = "test-util"), allow(dead_code, unreachable_pub))]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::state::WakePair;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Arc, Mutex};

/// A clock that moves only when told to: deterministic deadlines for tests (feature `test-util`).
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
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    /// Nanoseconds since the origin. Only ever increases.
    now: AtomicU64,
    /// Tasks sleeping on this clock ([`Timer::sleep_until`]), with their deadlines.
    sleepers: Mutex<Vec<(Duration, Waker)>>,
    /// The waiting callers of the groups that use this clock. Each `run` registers its wake pair
    /// when it starts and removes it before it returns, so this never grows without bound.
    waiters: Mutex<Vec<Arc<WakePair>>>,
}

impl ManualClock {
    /// A clock at time zero.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(ManualInner {
                now: AtomicU64::new(0),
                sleepers: Mutex::new(Vec::new()),
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
        let now = self.now();
        let due: Vec<Waker> = {
            let mut sleepers = self.inner.sleepers.lock();
            let (due, later) = std::mem::take(&mut *sleepers)
                .into_iter()
                .partition(|(deadline, _)| *deadline <= now);
            *sleepers = later;
            due.into_iter().map(|(_, waker)| waker).collect()
        };
        // Outside the lock: a waker is executor code.
        for waker in due {
            waker.wake();
        }
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

/// A source of time for a group's deadlines and timestamps, and of sleeps for an async run
/// ([`Group::timer`](crate::Group::timer)): the system clock by default, a runtime's timer (with
/// the `tokio` feature, `TokioTimer`), or the test clock `ManualClock` (feature `test-util`).
///
/// With a timer, [`Group::run_async`](crate::Group::run_async) waits for its deadlines by
/// polling [`sleep_until`](Timer::sleep_until) inside its own future (no timer thread), so a
/// runtime's paused test time moves the group's deadlines too. [`Group::run`](crate::Group::run)
/// reads [`now`](Timer::now) and waits on its own thread for `deadline - now`, which assumes the
/// timer's time passes at the speed of real time.
///
/// `sleep_until` and the sleep it returns may panic (a `TokioTimer` polled outside a tokio
/// runtime does): the run catches it, keeps its deadlines with its own timer thread on the real
/// clock, and reports [`Error::Timer`](crate::Error::Timer). `now` must not panic: the actors'
/// threads read it too.
pub trait Timer: Send + Sync + 'static {
    /// Monotonic time since an origin of the timer's choosing.
    fn now(&self) -> Duration;

    /// A future that completes once [`now`](Timer::now) has reached `deadline`.
    fn sleep_until(&self, deadline: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

impl Timer for ManualClock {
    fn now(&self) -> Duration {
        ManualClock::now(self)
    }

    /// Completes when [`advance`](ManualClock::advance) has moved the clock to `deadline`.
    fn sleep_until(&self, deadline: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(ManualSleep {
            clock: self.clone(),
            deadline,
        })
    }
}

/// tokio's clock as a group's [`Timer`] (feature `tokio`): deadlines measured with
/// `tokio::time::Instant` and waited for with `tokio::time::sleep_until`, so a runtime with paused
/// time (`#[tokio::test(start_paused = true)]`) moves the group's graces and budget as it moves
/// everything else. Use it with [`Group::run_async`](crate::Group::run_async) on a tokio runtime.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{Group, TokioTimer};
///
/// let mut group = Group::new();
/// group.timer(TokioTimer::new());
/// ```
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Clone, Copy, Debug)]
pub struct TokioTimer {
    origin: tokio::time::Instant,
}

#[cfg(feature = "tokio")]
impl TokioTimer {
    /// A timer whose origin is now, on tokio's clock (the paused clock of the current runtime,
    /// if there is one and it is paused).
    #[must_use]
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

#[cfg(feature = "tokio")]
impl Default for TokioTimer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "tokio")]
impl Timer for TokioTimer {
    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }

    /// Must be polled inside a tokio runtime (as `run_async` on tokio does).
    fn sleep_until(&self, deadline: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        // A deadline past what an `Instant` can hold: thirty years is as good as never.
        let far = Duration::from_secs(30 * 365 * 24 * 3600);
        let at = self
            .origin
            .checked_add(deadline)
            .unwrap_or_else(|| self.origin + far);
        Box::pin(tokio::time::sleep_until(at))
    }
}

/// [`ManualClock`]'s sleep.
struct ManualSleep {
    clock: ManualClock,
    deadline: Duration,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.deadline {
            return Poll::Ready(());
        }
        let mut sleepers = self.clock.inner.sleepers.lock();
        // Again under the lock `advance` takes after moving the clock: no lost wake-up.
        if self.clock.now() >= self.deadline {
            return Poll::Ready(());
        }
        sleepers.push((self.deadline, cx.waker().clone()));
        Poll::Pending
    }
}

/// The clock a group measures deadlines and timestamps with.
#[derive(Clone, Default)]
pub(crate) enum Clock {
    /// The monotonic system clock.
    #[default]
    Real,
    /// A test clock.
    Manual(ManualClock),
    /// A user's timer.
    Timer(std::sync::Arc<dyn Timer>),
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clock::Real => f.write_str("Real"),
            Clock::Manual(clock) => f.debug_tuple("Manual").field(clock).finish(),
            Clock::Timer(_) => f.write_str("Timer"),
        }
    }
}

/// A clock fixed to an origin: what a running group actually reads.
pub(crate) enum RunClock {
    Real(Instant),
    Manual(ManualClock),
    Timer {
        timer: std::sync::Arc<dyn Timer>,
        origin: Duration,
    },
}

impl Clock {
    pub(crate) fn start(&self, waiter: &Arc<WakePair>) -> RunClock {
        match self {
            Clock::Real => RunClock::Real(Instant::now()),
            Clock::Manual(clock) => {
                clock.register(waiter);
                RunClock::Manual(clock.clone())
            }
            Clock::Timer(timer) => RunClock::Timer {
                timer: std::sync::Arc::clone(timer),
                origin: timer.now(),
            },
        }
    }
}

impl RunClock {
    /// Time since the run began (real clock, timer) or since the manual clock's origin.
    pub(crate) fn now(&self) -> Duration {
        match self {
            RunClock::Real(origin) => origin.elapsed(),
            RunClock::Manual(clock) => clock.now(),
            RunClock::Timer { timer, origin } => timer.now().saturating_sub(*origin),
        }
    }

    /// How long a waiter with this deadline may block before it must look at the clock again.
    /// `None`: block until notified (no deadline, or a manual clock, whose `advance` notifies).
    pub(crate) fn wait_budget(&self, deadline: Option<Duration>) -> Option<Duration> {
        match (self, deadline) {
            (RunClock::Real(_) | RunClock::Timer { .. }, Some(deadline)) => {
                Some(deadline.saturating_sub(self.now()))
            }
            _ => None,
        }
    }

    /// A sleep until `deadline` (run time) from the user's timer, for an async run; `None` for
    /// the clocks the group wakes itself for (the real one, by its timer thread; a manual one,
    /// by `advance`).
    pub(crate) fn sleep_until(
        &self,
        deadline: Duration,
    ) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
        match self {
            RunClock::Timer { timer, origin } => {
                Some(timer.sleep_until(origin.saturating_add(deadline)))
            }
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
