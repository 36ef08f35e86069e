//! The one place that names `std::sync`, `std::thread`, `parking_lot` or `loom`.
//!
//! Every other module imports its primitives from here, with paths that mirror std
//! (`crate::sync::atomic::AtomicUsize`, `crate::sync::Arc`, `crate::sync::thread`). Under the plain
//! `cfg(loom)` (not a private cfg name, so a downstream service running its own loom models also
//! models ours) the same paths resolve to loom's types.
//!
//! The blocking pair is a `Mutex` + `Condvar` with a by-value `wait` (std's shape, which both
//! parking_lot and loom can serve). Written-down gaps of loom:
//!
//! - loom has no time: [`Condvar::wait_timeout`] is an untimed wait under loom (loom's own
//!   `wait_timeout` does the same). Deadlines are therefore tested with the injected
//!   [`ManualClock`](crate::ManualClock), whose `advance` notifies the waiting caller; the real clock
//!   is never used inside a loom model.
//! - loom's `Arc` has no `Weak`; nothing here needs one.
//! - loom's `Arc` cannot unsize (`Arc<F>` to `Arc<dyn Fn>`): [`arc_dyn!`] builds such an `Arc`
//!   through `std::sync::Arc` and `loom::sync::Arc::from_std` under loom.
//! - loom has no thread-local destructors ordering and no `available_parallelism`; we use neither.

#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::Arc;

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
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
}

pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::Builder;

    #[cfg(loom)]
    pub(crate) use loom::thread::Builder;
}

use std::time::Duration;

/// A mutual-exclusion lock with parking_lot's non-poisoning behaviour.
///
/// Poisoning carries no information here: every critical section in this crate only moves plain
/// data, and user code never runs while one of these locks is held.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
        #[cfg(loom)]
        {
            self.inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}

/// A condition variable paired with [`Mutex`].
#[derive(Debug, Default)]
pub(crate) struct Condvar {
    #[cfg(not(loom))]
    inner: parking_lot::Condvar,
    #[cfg(loom)]
    inner: loom::sync::Condvar,
}

impl Condvar {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Blocks until notified (or spuriously woken). Callers re-check their condition in a loop.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        #[cfg(not(loom))]
        {
            let mut guard = guard;
            self.inner.wait(&mut guard);
            guard
        }
        #[cfg(loom)]
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
        #[cfg(not(loom))]
        {
            let mut guard = guard;
            let _ = self.inner.wait_for(&mut guard, timeout);
            guard
        }
        #[cfg(loom)]
        {
            let _ = timeout;
            self.wait(guard)
        }
    }

    pub(crate) fn notify_one(&self) {
        self.inner.notify_one();
    }

    pub(crate) fn notify_all(&self) {
        #[cfg(not(loom))]
        {
            let _ = self.inner.notify_all();
        }
        #[cfg(loom)]
        self.inner.notify_all();
    }
}
