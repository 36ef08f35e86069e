//! The one place that names `std::sync`, `std::thread`, `parking_lot`, `loom` or `shuttle`.
//!
//! Every other module imports its primitives from here, with paths that mirror std
//! (`crate::sync::atomic::AtomicUsize`, `crate::sync::Arc`, `crate::sync::thread`). Three backends:
//!
//! - default: std atomics, threads and `Arc`, parking_lot's `Mutex` and `Condvar`;
//! - `cfg(loom)`: loom's, for exhaustive models of 2–3 actors (`loom-tests/`). The plain cfg name
//!   (not a private one), so a downstream service running its own loom models also models ours;
//! - `cfg(shuttle)` (and not `loom`): shuttle's, for randomized and PCT schedules of 8–64 actors
//!   (`shuttle-tests/`), which loom cannot reach.
//!
//! loom and shuttle share one code path below (`model`): both offer std's API shape.
//!
//! The blocking pair is a `Mutex` + `Condvar` with a by-value `wait` (std's shape, which
//! parking_lot, loom and shuttle can all serve). Written-down gaps of loom:
//!
//! - loom has no time: [`Condvar::wait_timeout`] is an untimed wait under loom (loom's own
//!   `wait_timeout` does the same). Deadlines are therefore tested with the injected
//!   `ManualClock`, whose `advance` notifies the waiting caller; the real clock
//!   is never used inside a loom model.
//! - loom's `Arc` has no `Weak`; nothing here needs one.
//! - loom's `Arc` cannot unsize (`Arc<F>` to `Arc<dyn Fn>`): [`arc_dyn!`] builds such an `Arc`
//!   through `std::sync::Arc` and `loom::sync::Arc::from_std` under loom.
//! - loom has no thread-local destructors ordering and no `available_parallelism`; we use neither.

//!
//! And of shuttle: it treats atomics as sequentially consistent (weak-memory bugs are loom's job),
//! and its `wait_timeout` may time out at any scheduling point (our waits re-check in a loop).

#[cfg(loom)]
use loom as model;
#[cfg(all(shuttle, not(loom)))]
use shuttle as model;

#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::Arc;

#[cfg(any(loom, shuttle))]
pub(crate) use model::sync::Arc;

/// Immutable data shared by the runner's threads (actor and stage names): always std's `Arc`.
/// It is written once, before any thread it is shared with exists, so there is nothing for a
/// model checker to explore in it.
pub(crate) type Frozen<T> = std::sync::Arc<T>;

/// `Arc::new(value)` where the expected type is an unsized `Arc<dyn Trait>`.
///
/// std's `Arc` coerces at the call site; loom's cannot, so under loom the value is first unsized
/// in a `std::sync::Arc` and then adopted with `loom::sync::Arc::from_std`.
#[cfg(not(loom))]
macro_rules! arc_dyn {
    ($value:expr) => {
        $crate::sync::Arc::new($value)
    };
}

#[cfg(loom)]
macro_rules! arc_dyn {
    ($value:expr) => {
        ::loom::sync::Arc::from_std(::std::sync::Arc::new($value))
    };
}

pub(crate) use arc_dyn;

pub(crate) mod atomic {
    #[cfg(not(any(loom, shuttle)))]
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    #[cfg(any(loom, shuttle))]
    pub(crate) use super::model::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
}

pub(crate) mod thread {
    #[cfg(not(any(loom, shuttle)))]
    pub(crate) use std::thread::{Builder, JoinHandle};

    #[cfg(any(loom, shuttle))]
    pub(crate) use super::model::thread::{Builder, JoinHandle};
}

/// Process-wide state that signal handlers read (the `signal` feature): std's types whatever the
/// backend, because `signal-hook` takes std's `Arc<AtomicBool>` and a process's signal
/// dispositions are outside any model (the `signal` feature is never built under loom or shuttle).
#[cfg(all(unix, feature = "signal"))]
pub(crate) mod process {
    pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
}

use std::time::Duration;

/// A mutual-exclusion lock with parking_lot's non-poisoning behaviour.
///
/// Poisoning carries no information here: every critical section in this crate only moves plain
/// data, and user code never runs while one of these locks is held.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(any(loom, shuttle)))]
    inner: parking_lot::Mutex<T>,
    #[cfg(any(loom, shuttle))]
    inner: model::sync::Mutex<T>,
}

#[cfg(not(any(loom, shuttle)))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(any(loom, shuttle))]
pub(crate) type MutexGuard<'a, T> = model::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            #[cfg(not(any(loom, shuttle)))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(any(loom, shuttle))]
            inner: model::sync::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(any(loom, shuttle)))]
        {
            self.inner.lock()
        }
        #[cfg(any(loom, shuttle))]
        {
            self.inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    /// The value, through a unique reference: no locking.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        #[cfg(not(any(loom, shuttle)))]
        {
            self.inner.get_mut()
        }
        #[cfg(any(loom, shuttle))]
        {
            self.inner
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}

/// A condition variable paired with [`Mutex`].
#[derive(Debug, Default)]
pub(crate) struct Condvar {
    #[cfg(not(any(loom, shuttle)))]
    inner: parking_lot::Condvar,
    #[cfg(any(loom, shuttle))]
    inner: model::sync::Condvar,
}

impl Condvar {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Blocks until notified (or spuriously woken). Callers re-check their condition in a loop.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        #[cfg(not(any(loom, shuttle)))]
        {
            let mut guard = guard;
            self.inner.wait(&mut guard);
            guard
        }
        #[cfg(any(loom, shuttle))]
        {
            self.inner
                .wait(guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }

    /// Blocks until notified or until `timeout` has passed (untimed under loom, see the module
    /// doc). Callers re-check their condition and the clock in a loop.
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> MutexGuard<'a, T> {
        #[cfg(not(any(loom, shuttle)))]
        {
            let mut guard = guard;
            let _ = self.inner.wait_for(&mut guard, timeout);
            guard
        }
        #[cfg(any(loom, shuttle))]
        {
            let _ = timeout;
            self.wait(guard)
        }
    }

    pub(crate) fn notify_one(&self) {
        self.inner.notify_one();
    }

    pub(crate) fn notify_all(&self) {
        #[cfg(not(any(loom, shuttle)))]
        {
            let _ = self.inner.notify_all();
        }
        #[cfg(any(loom, shuttle))]
        self.inner.notify_all();
    }
}
