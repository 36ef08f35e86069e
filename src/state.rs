//! The state core: who exited first, whether teardown has begun, who is still live.
//!
//! This module knows nothing about threads, closures or time. It is the part of a group that loom
//! checks exhaustively, and the part the rules R03, R08 and T01 rest on.
//!
//! # The state word
//!
//! One `AtomicUsize`, [`Control::state`], holds a *phase* in its low two bits and, once teardown
//! has been triggered, *who* triggered it in the rest:
//!
//! ```text
//!   bits:  [ who (usize::BITS - 2) | phase (2) ]
//!   phase: RUNNING = 0b00   no trigger yet; actors run
//!          TRIGGERED = 0b01 a first exit or an external request won; teardown is under way
//!          FINISHED = 0b11  `run` has built its report; later requests are no-ops
//!   who:   0 ..= EXTERNAL-1  the index of the actor whose exit won
//!          EXTERNAL          a stop request, a signal, a spawn failure or "all exited": the
//!                            details are in `Wake::external`, written under the wake lock
//! ```
//!
//! | from      | event                                 | to                      | by        |
//! |-----------|---------------------------------------|-------------------------|-----------|
//! | RUNNING   | actor `i` exits and triggers (CAS)    | TRIGGERED, who = i      | actor     |
//! | RUNNING   | stop request / signal (CAS, locked)   | TRIGGERED, who=EXTERNAL | any       |
//! | RUNNING   | spawn failure, or every actor exited  | TRIGGERED, who=EXTERNAL | runner    |
//! | TRIGGERED | actor exits                           | TRIGGERED (CAS fails)   | actor     |
//! | TRIGGERED | stop request                          | TRIGGERED, escalations+1| any       |
//! | TRIGGERED | report built                          | FINISHED                | runner    |
//! | FINISHED  | anything                              | FINISHED (no-op)        | any       |
//!
//! `RUNNING → TRIGGERED` is a single compare-exchange, so of any number of near-simultaneous
//! exits and requests exactly one wins (R03); the rest see `TRIGGERED` and are ordinary exits
//! (actors) or escalations (requests). No transition leaves `TRIGGERED` except to `FINISHED`, and
//! nothing leaves `FINISHED`.
//!
//! # Live counters
//!
//! Each stage has an `AtomicUsize` of actors whose execute has not yet returned. An actor decrements
//! its stage's counter as the very last thing it does for the group; the decrement that reaches
//! zero wakes the caller. That is one wake per stage, not one per actor.
//!
//! # Orderings, derived
//!
//! - An actor writes its outcome into its own slot (under the slot's mutex), *then* tries the CAS.
//!   The caller, having seen `who = i`, locks slot `i`: the mutex orders the write before the read,
//!   which is what lets the caller hand that very value to every interrupt (R06). The CAS is also
//!   `AcqRel` and the caller's load `Acquire`, a second publication of the same fact.
//! - An actor's decrement is `AcqRel`: the `Release` half publishes everything the actor did
//!   before it; decrements by several actors form a release sequence, so the caller's `Acquire`
//!   load that reads zero happens-after everything every actor of the stage did before leaving.
//!   Two things rest on this edge alone: what an actor does after publishing its slot (its
//!   `ActorExited` event, so the observer's work on that thread, R11), and, between stages, the
//!   executes of an earlier stage before a later stage's interrupts (S01: no slot lock is taken
//!   in between). The executes' effects at `run`'s return (R08) have a second edge: the outcome
//!   is written under the slot's mutex after the execute (and its captures) are gone, and `run`
//!   locks every slot before returning. So weakening these orderings to `Relaxed` leaves R08's
//!   execute effects visible, and breaks S01 and the events (loom: the `s01_*`, `r03_*` models
//!   and the observer half of `r08_execute_effects_happen_before_run_returns` fail). The
//!   `Acquire` half of the decrement orders nothing its thread reads afterwards; `Release` is the
//!   half that matters (every loom model passes with `Release` alone).
//! - Every wake-up goes through the wake mutex: the waker changes the atomic, then takes the lock
//!   and notifies; the caller checks the atomics while holding the lock and waits atomically
//!   releasing it. A change that lands after the caller's check therefore cannot notify before the
//!   caller is waiting: no lost wake-up (checked by the `no_lost_wakeup` loom model).
//!
//! No lock is taken on an actor's path while it runs; at its exit it takes its own slot's lock
//! (uncontended) and, at most twice, the wake lock (only when it wins or empties its stage).

use crate::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::why::Trigger;

/// Mask of the phase bits.
const PHASE_MASK: usize = 0b11;
/// No trigger yet.
pub(crate) const RUNNING: usize = 0b00;
/// Teardown has been triggered; `who` is valid.
pub(crate) const TRIGGERED: usize = 0b01;
/// `run` has built its report. Includes the `TRIGGERED` bit so "triggered" tests stay one AND.
pub(crate) const FINISHED: usize = 0b11;
/// Where `who` starts.
const WHO_SHIFT: u32 = 2;
/// The `who` of every trigger that is not an actor's exit.
pub(crate) const EXTERNAL: usize = usize::MAX >> WHO_SHIFT;

/// What the caller's thread parks on, and the details that are written under its lock.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    /// The details of an external trigger (`who == EXTERNAL`).
    pub(crate) external: Option<Trigger>,
    /// Stop requests received after the trigger: each one escalates (S05).
    pub(crate) escalations: usize,
    /// The first of those requests, for the report ([`Escalation::Request`]).
    ///
    /// [`Escalation::Request`]: crate::Escalation::Request
    pub(crate) escalated_by: Option<Trigger>,
    /// The task that polls the group's future ([`Group::run_async`](crate::Group::run_async)):
    /// taken and woken by the next wake.
    pub(crate) waker: Option<std::task::Waker>,
    /// When the task of an async run must look at the clock again (a real deadline), for its
    /// timer thread.
    pub(crate) until: Option<Instant>,
    /// Tells the timer thread of an async run to end.
    pub(crate) timer_closed: bool,
}

/// The mutex and condvar a group's caller parks on; shared with the clock so that advancing the
/// clock can wake it.
pub(crate) struct WakePair {
    pub(crate) lock: Mutex<Wake>,
    pub(crate) cond: Condvar,
}

impl WakePair {
    pub(crate) fn new() -> Self {
        WakePair {
            lock: Mutex::new(Wake::default()),
            cond: Condvar::new(),
        }
    }

    /// Leaves `until` for the timer thread of an async run (the time the task must look at the
    /// clock again), and tells the thread if it is sooner than what it sleeps until: it sleeps
    /// until the deadline it last saw, or with none once it has fired one, so an earlier deadline
    /// it is not told of wakes the task late, or never (S08).
    pub(crate) fn set_until(&self, guard: &mut MutexGuard<'_, Wake>, until: Option<Instant>) {
        let sooner = until.is_some_and(|new| guard.until.is_none_or(|old| new < old));
        guard.until = until;
        if sooner {
            self.cond.notify_one();
        }
    }

    /// The timer thread of an async run with a real deadline: wakes the task once the deadline
    /// left by [`set_until`](Self::set_until) has passed, until told to end. Never runs user code
    /// but the task's waker.
    pub(crate) fn serve_timer(&self) {
        let mut guard = self.lock.lock();
        loop {
            if guard.timer_closed {
                return;
            }
            guard = match guard.until {
                Some(until) => {
                    let now = Instant::now();
                    if now >= until {
                        guard.until = None;
                        self.wake(guard);
                        self.lock.lock()
                    } else {
                        self.cond.wait_timeout(guard, until - now)
                    }
                }
                None => self.cond.wait(guard),
            };
        }
    }

    /// Wakes whoever waits on this pair: a parked thread, the timer thread, or the task polling
    /// the group's future. Takes the guard of `lock`, so that the change being announced was made
    /// under it or before it (no lost wake-up); the task's waker is called after it is released
    /// (a waker is executor code).
    pub(crate) fn wake(&self, mut guard: MutexGuard<'_, Wake>) {
        // One waiter at most: the blocking runner, or (async) the timer thread, or a supervised
        // actor sleeping out a backoff on its own pair.
        self.cond.notify_one();
        let waker = guard.waker.take();
        drop(guard);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// What a request to stop achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Requested {
    /// It was the first: it is the cause.
    Triggered,
    /// Teardown was already under way: it escalates.
    Escalated,
    /// The run has finished: nothing to do.
    Ignored,
}

/// The part of the state that exists from `Group::new` on, so that stop handles can be taken
/// before `run`: the state word and the caller's wake pair.
pub(crate) struct Control {
    state: AtomicUsize,
    wake: Arc<WakePair>,
}

impl Control {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(RUNNING),
            wake: Arc::new(WakePair::new()),
        }
    }

    pub(crate) fn wake_pair(&self) -> &Arc<WakePair> {
        &self.wake
    }

    /// The state word, for the caller's checks (made under the wake lock).
    pub(crate) fn load(&self) -> usize {
        // ORDERING: Acquire pairs with the AcqRel CAS in `try_win`, making the winner's slot
        // write visible to the caller that sees `who = i` (see the module doc).
        self.state.load(Ordering::Acquire)
    }

    /// Actor `index` exited in a way that triggers teardown. Returns whether it was the first;
    /// the winner then wakes the runner, unless it runs on the runner's thread.
    pub(crate) fn try_win(&self, index: usize) -> bool {
        debug_assert!(index < EXTERNAL);
        self.state
            // ORDERING: the CAS's atomicity alone makes exactly one winner (R03). The winner's
            // outcome reaches the caller through its slot's mutex, not through this word; AcqRel
            // on success is a second, belt-and-braces publication (loom confirms that Relaxed here
            // breaks no model). On failure the value is only compared, so Relaxed suffices.
            .compare_exchange(
                RUNNING,
                TRIGGERED | (index << WHO_SHIFT),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// A request from outside the actors (stop handle, signal, the runner itself). When teardown
    /// is already under way, it escalates if `escalate` (a second stop request) and is dropped
    /// otherwise (the runner's own "spawn failed" or "all exited", which lost to an exit).
    pub(crate) fn request(&self, trigger: Trigger, escalate: bool) -> Requested {
        let mut wake = self.wake.lock.lock();
        // The detail must be in place before anyone who holds the lock can see `EXTERNAL`, so the
        // CAS happens under the lock too; actors' CASes (unlocked) can still race with it, and the
        // compare-exchange settles that race.
        let outcome = match self.state.compare_exchange(
            RUNNING,
            TRIGGERED | (EXTERNAL << WHO_SHIFT),
            // ORDERING: as in `try_win`; the detail itself is published by the lock.
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                wake.external = Some(trigger);
                Requested::Triggered
            }
            Err(state) if state & PHASE_MASK == FINISHED || !escalate => Requested::Ignored,
            Err(_) => {
                wake.escalations += 1;
                wake.escalated_by.get_or_insert(trigger);
                Requested::Escalated
            }
        };
        if outcome != Requested::Ignored {
            self.wake.wake(wake);
        }
        outcome
    }

    /// The run is over: later requests are no-ops and tokens report "stopped".
    pub(crate) fn finish(&self) {
        // ORDERING: Release publishes the finished report's bookkeeping to a request that reads
        // FINISHED; nothing else depends on it.
        self.state.fetch_or(FINISHED, Ordering::Release);
    }

    /// Wakes the caller. Taking the lock orders the notification after the caller's check.
    pub(crate) fn notify(&self) {
        self.wake.wake(self.wake.lock.lock());
    }

    /// The group's identity, for its stages and actor ids: this block's address, which no other
    /// live group shares.
    pub(crate) fn identity(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Whether any request or exit has triggered teardown.
    pub(crate) fn is_triggered(&self) -> bool {
        self.load() & TRIGGERED != 0
    }
}

/// Decodes the phase of a state word.
pub(crate) fn phase(state: usize) -> usize {
    state & PHASE_MASK
}

/// Decodes who triggered, if anyone has.
pub(crate) fn who(state: usize) -> Option<usize> {
    (state & TRIGGERED != 0).then_some(state >> WHO_SHIFT)
}

/// Per-stage counters of actors whose execute has not returned.
pub(crate) struct Live {
    stages: Box<[AtomicUsize]>,
}

impl Live {
    pub(crate) fn new(counts: &[usize]) -> Self {
        Self {
            stages: counts.iter().map(|&n| AtomicUsize::new(n)).collect(),
        }
    }

    /// Records that one actor of `stage` has finished. Returns whether the stage is now empty.
    pub(crate) fn leave(&self, stage: usize) -> bool {
        // ORDERING: AcqRel, for its Release half: it publishes what this actor did before
        // leaving, and the chain of RMWs on this counter is a release sequence the caller's
        // Acquire load of zero synchronizes with. Not redundant: the ActorExited event and, between
        // stages, the earlier stage's executes (S01) are published by this edge only (module doc).
        let before = self.stages[stage].fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "stage {stage} left more often than entered");
        before == 1
    }

    /// Removes actors that were never started (spawn failure). Nobody waits on this: the caller
    /// itself forgets them, before it first looks at the counters.
    pub(crate) fn forget(&self, stage: usize, count: usize) {
        // ORDERING: as in `leave`.
        let before = self.stages[stage].fetch_sub(count, Ordering::AcqRel);
        debug_assert!(
            before >= count,
            "stage {stage} forgot more actors than it has"
        );
    }

    pub(crate) fn count(&self, stage: usize) -> usize {
        // ORDERING: Acquire, the reader's half of the release sequence described in `leave`:
        // reading zero makes everything every actor of the stage did before leaving visible.
        self.stages[stage].load(Ordering::Acquire)
    }

    pub(crate) fn all_done(&self) -> bool {
        (0..self.stages.len()).all(|stage| self.count(stage) == 0)
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    /// The state word decodes to what was encoded: no trigger while running, the winner or
    /// `EXTERNAL` once triggered, and the phase alone, whoever won.
    #[test]
    fn the_state_word_decodes_to_what_was_encoded() {
        assert_eq!(who(RUNNING), None);
        assert_eq!(phase(RUNNING), RUNNING);
        for index in [0, 1, 7, EXTERNAL] {
            let triggered = TRIGGERED | (index << WHO_SHIFT);
            assert_eq!(who(triggered), Some(index));
            assert_eq!(phase(triggered), TRIGGERED);
            assert_eq!(phase(FINISHED | (index << WHO_SHIFT)), FINISHED);
        }
    }
}

/// A loom model of the timer thread (it cannot be reached from `loom-tests/`: loom has no time,
/// and its models never use the real clock a timer serves).
#[cfg(all(test, loom))]
mod models {
    use std::future::poll_fn;
    use std::task::Poll;
    use std::time::Instant;

    use super::WakePair;
    use crate::sync::Arc;

    /// S08 (issue 12): the timer thread of an async run hears of every deadline the task leaves
    /// it, the first before or after the thread starts waiting and the next after it has fired
    /// one (when it sleeps with no deadline at all). Each deadline here has passed already, so
    /// the thread fires it as soon as it looks; one it is not told of leaves the task waiting
    /// forever (loom: deadlock). Fails without the notification in `set_until`.
    #[test]
    fn s08_i12_the_timer_thread_hears_of_every_deadline() {
        loom::model(|| {
            let pair = Arc::new(WakePair::new());
            let timer = {
                let pair = Arc::clone(&pair);
                loom::thread::spawn(move || pair.serve_timer())
            };
            for _ in 0..2 {
                // As an async run's wait: the task's waker, and a deadline, under the wake lock.
                let mut left = false;
                loom::future::block_on(poll_fn(|cx| {
                    let mut guard = pair.lock.lock();
                    if left && guard.until.is_none() {
                        // Fired: the thread clears it before it wakes the task.
                        return Poll::Ready(());
                    }
                    guard.waker = Some(cx.waker().clone());
                    if !left {
                        pair.set_until(&mut guard, Some(Instant::now()));
                        left = true;
                    }
                    Poll::Pending
                }));
            }
            let mut guard = pair.lock.lock();
            guard.timer_closed = true;
            pair.cond.notify_all();
            drop(guard);
            timer.join().unwrap();
        });
    }
}
