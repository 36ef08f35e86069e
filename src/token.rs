//! Stop tokens: the zero-boilerplate interrupt for loop actors (rules T03, R07).
//!
//! A token is a sticky flag plus a wake pair. `stop` sets the flag and wakes every waiter; once
//! set it never clears, so a token stopped before its execute even started is already stopped
//! when the execute first looks (R07).

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{Arc, Condvar, Mutex};

/// A sticky stop flag an actor's execute can poll, wait on, or wait on with a timeout.
///
/// Handed to the execute of a token actor ([`Group::add_token`](crate::Group::add_token)); the
/// group stops it as that actor's interrupt. After the group's teardown every token of the group is
/// stopped, so waiting on one then returns at once.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::StopToken;
/// use std::time::Duration;
///
/// let token = StopToken::new();
/// assert!(!token.wait_timeout(Duration::from_millis(1)));
/// token.stop();
/// assert!(token.is_stopped());
/// token.wait(); // returns at once: tokens are sticky
/// ```
#[derive(Clone)]
pub struct StopToken {
    inner: Arc<Inner>,
}

struct Inner {
    stopped: AtomicBool,
    lock: Mutex<()>,
    cond: Condvar,
}

impl StopToken {
    /// A token that is not stopped. Useful to build your own interrupt pairs.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                stopped: AtomicBool::new(false),
                lock: Mutex::new(()),
                cond: Condvar::new(),
            }),
        }
    }

    /// Stops the token and wakes every waiter. Idempotent.
    pub fn stop(&self) {
        // ORDERING: Release publishes what the stopper did before stopping (for example, the
        // cause it saw) to a waiter whose Acquire load reads `true`. A poller (`is_stopped`)
        // takes no lock, so this pair is its only edge: the `t03_token_polled_*` loom models
        // fail with Relaxed here.
        self.inner.stopped.store(true, Ordering::Release);
        // Notify under the lock so a waiter between its check and its wait cannot miss it.
        let guard = self.inner.lock.lock();
        self.inner.cond.notify_all();
        drop(guard);
    }

    /// Whether the token has been stopped. Never blocks.
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        // ORDERING: Acquire pairs with the Release store in `stop`.
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// Blocks until the token is stopped.
    pub fn wait(&self) {
        let mut guard = self.inner.lock.lock();
        while !self.is_stopped() {
            guard = self.inner.cond.wait(guard);
        }
    }

    /// Blocks until the token is stopped or `timeout` has passed; returns whether it is stopped.
    /// A loop actor's tick: `while !token.wait_timeout(period) { work() }`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.inner.lock.lock();
        loop {
            if self.is_stopped() {
                return true;
            }
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return false;
            }
            guard = self.inner.cond.wait_timeout(guard, left);
        }
    }
}

impl Default for StopToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for StopToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopToken")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}
