//! Stop tokens: the zero-boilerplate interrupt for loop actors (rules T03, R07).
//!
//! A token is a sticky flag plus a wake pair. `stop` sets the flag and wakes every waiter; once
//! set it never clears, so a token stopped before its execute even started is already stopped
//! when the execute first looks (R07).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
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
    /// The wakers of [`Stopped`] futures waiting for the stop; the lock is also the blocking
    /// waiters' (with `cond`).
    lock: Mutex<Wakers>,
    cond: Condvar,
}

/// The wakers of pending [`Stopped`] futures, each under the id of its future. The first one
/// waiting has a place of its own: a token usually has one waiter (its actor), which then costs
/// no allocation.
#[derive(Default)]
struct Wakers {
    next_id: u64,
    first: Option<(u64, Waker)>,
    more: Vec<(u64, Waker)>,
}

impl Wakers {
    /// The waker registered under `id`, if any.
    fn find(&mut self, id: u64) -> Option<&mut Waker> {
        match &mut self.first {
            Some((entry, waker)) if *entry == id => Some(waker),
            _ => self
                .more
                .iter_mut()
                .find(|(entry, _)| *entry == id)
                .map(|(_, waker)| waker),
        }
    }

    fn push(&mut self, id: u64, waker: Waker) {
        match &self.first {
            None => self.first = Some((id, waker)),
            Some(_) => self.more.push((id, waker)),
        }
    }

    /// Takes the waker registered under `id` out, if any.
    fn remove(&mut self, id: u64) -> Option<Waker> {
        if self.first.as_ref().is_some_and(|(entry, _)| *entry == id) {
            return self.first.take().map(|(_, waker)| waker);
        }
        let position = self.more.iter().position(|(entry, _)| *entry == id)?;
        Some(self.more.swap_remove(position).1)
    }

    /// Takes every waker out.
    fn take_all(&mut self) -> impl Iterator<Item = Waker> + use<> {
        let first = self.first.take().map(|(_, waker)| waker);
        let more = std::mem::take(&mut self.more);
        first
            .into_iter()
            .chain(more.into_iter().map(|(_, waker)| waker))
    }
}

impl StopToken {
    /// A token that is not stopped. Useful to build your own interrupt pairs.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                stopped: AtomicBool::new(false),
                lock: Mutex::new(Wakers::default()),
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
        // Notify under the lock so a waiter between its check and its wait cannot miss it. A
        // future registers its waker under the same lock after checking the flag, so it is either
        // taken here or sees the flag: no lost wake-up. The wakers run after the lock is released
        // (a waker is executor code).
        let mut guard = self.inner.lock.lock();
        self.inner.cond.notify_all();
        let wakers = guard.take_all();
        drop(guard);
        // A waker is executor code: one that panics must not keep the others from being woken
        // (they are out of the list, no later `stop` would reach them). The first panic goes on
        // to the caller once every waker was called.
        let mut panic = None;
        for waker in wakers {
            if let Err(payload) = crate::unwind::catch(move || waker.wake()) {
                panic.get_or_insert(payload);
            }
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    }

    /// A future that completes once the token is stopped (at once if it already is: tokens are
    /// sticky, R07). It needs no runtime: it works on any executor (tokio, smol, async-std,
    /// `futures::executor::block_on`), and an async actor can `select!` on it. Dropping it
    /// before it completes unregisters it.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let token = rungroup::StopToken::new();
    /// let mut stopped = pin!(token.stopped());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(stopped.as_mut().poll(&mut cx).is_pending());
    /// token.stop();
    /// assert!(stopped.as_mut().poll(&mut cx).is_ready());
    /// ```
    pub fn stopped(&self) -> Stopped {
        Stopped {
            token: self.clone(),
            id: None,
        }
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

/// The future returned by [`StopToken::stopped`]: completes once the token is stopped.
#[must_use = "futures do nothing unless polled"]
pub struct Stopped {
    token: StopToken,
    /// Its entry among the token's wakers, once it has registered one.
    id: Option<u64>,
}

impl Future for Stopped {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.token.is_stopped() {
            return Poll::Ready(());
        }
        let mut wakers = this.token.inner.lock.lock();
        // Checked again under the lock `stop` takes before it wakes: see `stop`.
        if this.token.is_stopped() {
            return Poll::Ready(());
        }
        let id = *this.id.get_or_insert_with(|| {
            let id = wakers.next_id;
            wakers.next_id += 1;
            id
        });
        // A replaced waker is dropped after the lock is released: its drop is executor code, and
        // may drop a task holding another `Stopped` of this token, whose `Drop` takes the lock.
        let replaced = match wakers.find(id) {
            Some(waker) if !waker.will_wake(cx.waker()) => {
                Some(std::mem::replace(waker, cx.waker().clone()))
            }
            Some(_) => None,
            None => {
                wakers.push(id, cx.waker().clone());
                None
            }
        };
        drop(wakers);
        drop(replaced);
        Poll::Pending
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let Some(id) = self.id else {
            return;
        };
        // Once the token is stopped, the `stop` that stopped it takes every registered waker (it
        // sets the flag before it takes them): one of this future's still there is woken once,
        // spuriously, and dropped by it. No lock to take then, the common case of a future
        // dropped once it completed.
        if self.token.is_stopped() {
            return;
        }
        // Dropped after the lock is released, as in `poll`.
        let taken = self.token.inner.lock.lock().remove(id);
        drop(taken);
    }
}

impl fmt::Debug for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stopped")
            .field("stopped", &self.token.is_stopped())
            .finish_non_exhaustive()
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
