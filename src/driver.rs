//! The driver of future actors (issue 12): polls them inside the group's own future (or on the
//! caller's thread, for [`Group::run`](crate::Group::run)), with no runtime of its own.
//!
//! - Each actor has one waker, built once: waking it puts the actor in the *ready set* and, when
//!   the set was empty, wakes the group (one parent wake per batch).
//! - A pass takes the whole set at once and polls each actor in it once, starting one place
//!   further along each pass (no actor always goes first). Wakes that arrive during a pass are the
//!   next pass's: the runner yields between passes (never a loop around one actor that keeps
//!   waking itself: futures-rs #2049).
//! - An actor is marked out of the set *before* it is polled, so a wake during its poll puts it
//!   back: no lost wake-up between an actor marking itself ready and the driver clearing the set
//!   (the `i12_*` loom models).
//! - A poll or a drop that panics is caught; the actor's exit is recorded with the payload, by
//!   name, as for a thread actor.
//!
//! A future actor is dropped (outcome [`Outcome::Cancelled`](crate::Outcome::Cancelled)) when
//! escalation reaches it, or at its interrupt if it asked for that.

use crate::actor::BoxFuture;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::shared::Core;
use crate::spawn::{Link, Proxy, Settled};
use crate::state::Control;
use crate::sync::Arc;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::unwind;
use crate::unwind::Payload;

/// What every actor's waker shares: the ready set and the group to wake.
///
/// The set is a bitmap, a bit per actor, and a `pending` flag that says the group was woken since
/// the driver last took the set. Marking an actor is a `fetch_or` (no lock: a stop that wakes a
/// thousand future actors takes a thousand fewer locks), and only the mark that finds `pending`
/// clear wakes the group (one parent wake per batch).
///
/// No lost wake-up: a mark sets its bit *then* swaps `pending` to true; the driver swaps
/// `pending` to false *then* takes the bits. If the driver's take missed a mark's bit, that
/// mark's swap comes after the driver's in `pending`'s order, reads false and wakes the group:
/// both are read-modify-writes of one atomic, and a mark's swap that the driver's swap read would
/// have published the bit to the take (`AcqRel`). The `i12_*` loom models check it.
pub(crate) struct ReadySet {
    /// The ready bits (bit `i % 64` of word `i / 64`: actor `i` is to be polled), then as many
    /// words of cancel bits (set by an interrupt that drops its actor's future): one allocation.
    words: Box<[AtomicU64]>,
    /// The group was woken for marks the driver has not taken yet.
    pending: AtomicBool,
    /// Wakes the runner, whichever way it waits (a parked thread or a task); `None` in a group
    /// without future actors, which never marks (no reference to count: loom explores each).
    control: Option<Arc<Control>>,
}

impl ReadySet {
    pub(crate) fn new(actors: usize, control: Option<Arc<Control>>) -> Self {
        Self {
            words: (0..2 * actors.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            pending: AtomicBool::new(false),
            control,
        }
    }

    /// The ready bits' words.
    fn ready(&self) -> &[AtomicU64] {
        &self.words[..self.words.len() / 2]
    }

    /// Where `actor`'s cancel bit is, and which.
    fn cancel_bit(&self, actor: usize) -> (&AtomicU64, u64) {
        (
            &self.words[self.words.len() / 2 + actor / 64],
            1u64 << (actor % 64),
        )
    }

    fn is_cancelled(&self, actor: usize) -> bool {
        let (word, bit) = self.cancel_bit(actor);
        // ORDERING: see `Canceller::cancel`.
        word.load(Ordering::Relaxed) & bit != 0
    }

    /// Lists `actor` to be polled; wakes the group unless it was woken since the last take.
    pub(crate) fn mark(&self, actor: usize) {
        let bit = 1u64 << (actor % 64);
        // ORDERING: Release publishes what the waking thread did before the wake (the cancel
        // flag, whatever the future will read) to the driver's Acquire swap of the word; AcqRel
        // on both RMWs here for the lost-wake-up argument above.
        if self.ready()[actor / 64].fetch_or(bit, Ordering::AcqRel) & bit != 0 {
            // Listed already: the take that unlists it comes after this, and polls it.
            return;
        }
        if !self.pending.swap(true, Ordering::AcqRel) {
            if let Some(control) = &self.control {
                control.notify();
            }
        }
    }

    /// Takes the whole set, unlisting every actor in it (before any of them is polled), in
    /// index order.
    fn take(&self, into: &mut Vec<usize>) {
        // ORDERING: see the type's doc; a mark whose swap this reads is published by it.
        if !self.pending.swap(false, Ordering::AcqRel) {
            // No mark since the last take, or one between its bit and its swap, which wakes the
            // group again.
            return;
        }
        for (index, word) in self.ready().iter().enumerate() {
            // ORDERING: a zero read here misses no mark published by the swap above (it happens
            // before this load); a later mark wakes the group again. Relaxed suffices to skip.
            if word.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                into.push(index * 64 + bit);
            }
        }
    }

    /// Whether the group was woken for an actor not polled since.
    pub(crate) fn has_ready(&self) -> bool {
        // ORDERING: read under the runner's wake lock; a mark that sets it later wakes the
        // runner through that lock (`wake`), so Acquire is only for what the mark published.
        self.pending.load(Ordering::Acquire)
    }

    /// The runner, on its own thread, is about to wake actors itself (its inline interrupts), and
    /// takes the set before it next waits: the marks meanwhile need not wake it. `pending` set
    /// now reads, to every mark, as a wake already made, so they skip theirs; the take that
    /// clears it is the runner's next, and a mark after that take wakes the group as ever.
    fn hold(&self) {
        // ORDERING: a mark that reads this store skips its wake, so its bit must reach the
        // runner's take some other way: its own AcqRel swap comes after this store in `pending`'s
        // order and before the take's swap (which reads it or a later value), so the take
        // acquires the bit as for any mark. No data is published by this store itself.
        self.pending.store(true, Ordering::Relaxed);
    }
}

/// One actor's waker.
struct ActorWaker {
    actor: usize,
    set: StdArc<ReadySet>,
}

/// The interrupt of an actor dropped at its interrupt ([`Group::add_future_cancel`]).
///
/// [`Group::add_future_cancel`]: crate::Group::add_future_cancel
pub(crate) struct Canceller {
    actor: usize,
    set: StdArc<ReadySet>,
}

impl Canceller {
    /// Asks the driver to drop this actor's future at its next pass.
    pub(crate) fn cancel(&self) {
        // ORDERING: the cancel bit is read by the driver after it takes the actor from the ready
        // set, and `mark`'s Release `fetch_or` of the actor's ready bit, after this one, is what
        // that take acquires: it orders them.
        let (word, bit) = self.set.cancel_bit(self.actor);
        word.fetch_or(bit, Ordering::Relaxed);
        self.set.mark(self.actor);
    }
}

impl Wake for ActorWaker {
    fn wake(self: StdArc<Self>) {
        self.set.mark(self.actor);
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.set.mark(self.actor);
    }
}

/// What the driver polls for one actor.
enum Body<E> {
    /// The actor's future itself.
    Local(BoxFuture<E>),
    /// A proxy of the actor's future, which runs on the user's executor.
    Spawned(Proxy<E>, StdArc<Link<E>>),
}

/// A future actor's part of its cell (the runner's entry for it): what the driver polls, and
/// its waker, built once. The driver itself keeps no per-actor state but the ready set's bits.
pub(crate) struct Polled<E> {
    future: Option<Body<E>>,
    waker: Waker,
}

impl<E> Polled<E> {
    /// Drops the future if it is still there. A spawned actor's task is asked to drop it, and
    /// its end comes through a later pass (`None` here).
    pub(crate) fn cancel(&mut self) -> Option<Ended<E>> {
        if let Some(Body::Spawned(_, link)) = &self.future {
            link.cancel();
            return None;
        }
        let future = self.future.take()?;
        Some(Ended::Cancelled(unwind::drop_caught(future)))
    }
}

/// Where the driver finds a future actor's [`Polled`] part: the runner's per-actor cell.
pub(crate) trait Cell<E> {
    fn polled(&mut self) -> Option<&mut Polled<E>>;
}

/// Where the next poll's measured time begins, once an actor's exit was recorded at `last`:
/// recording it emits `ActorExited`, and an observer (or a `tracing`/`log` subscriber, or the
/// systemd notifier) runs on this thread then: its time is nobody's poll, so the clock is read
/// again. With nobody listening the record takes nanoseconds and `last` stands.
fn after_ended<E>(core: &Core<E>, last: Duration) -> Duration {
    if core.herald.observed() {
        core.clock.now()
    } else {
        last
    }
}

/// How a future actor ended, for the runner's bookkeeping.
pub(crate) enum Ended<E> {
    /// Its future completed (or panicked in its poll or its drop).
    Exited(Result<Result<(), E>, Payload>),
    /// It was dropped before it completed; a panic of that drop is kept.
    Cancelled(Option<Payload>),
}

/// The driver of one run's future actors: the ready set, and where the next pass starts.
pub(crate) struct Driver {
    set: StdArc<ReadySet>,
    /// Where the next pass starts in its batch.
    turn: usize,
    /// Whether any future actor was started.
    started: bool,
    batch: Vec<usize>,
}

impl Driver {
    pub(crate) fn new(set: StdArc<ReadySet>) -> Self {
        Self {
            set,
            turn: 0,
            started: false,
            batch: Vec::new(),
        }
    }

    /// Whether the group has any future actor at all (asked on every wait: kept, not counted).
    pub(crate) fn is_empty(&self) -> bool {
        !self.started
    }

    /// Starts actor `actor`: listed to be polled at the next pass. Returns its part of its cell.
    pub(crate) fn start<E>(&mut self, actor: usize, future: BoxFuture<E>) -> Polled<E> {
        self.start_body(actor, Body::Local(future))
    }

    /// Starts actor `actor`, spawned on the user's executor: the driver polls its proxy.
    pub(crate) fn start_spawned<E>(
        &mut self,
        actor: usize,
        proxy: Proxy<E>,
        link: StdArc<Link<E>>,
    ) -> Polled<E> {
        self.start_body(actor, Body::Spawned(proxy, link))
    }

    fn start_body<E>(&mut self, actor: usize, future: Body<E>) -> Polled<E> {
        let waker = Waker::from(StdArc::new(ActorWaker {
            actor,
            set: StdArc::clone(&self.set),
        }));
        self.started = true;
        self.set.mark(actor);
        Polled {
            future: Some(future),
            waker,
        }
    }

    /// The interrupt that drops `actor`'s future at the driver's next pass.
    pub(crate) fn canceller(&self, actor: usize) -> Canceller {
        Canceller {
            actor,
            set: StdArc::clone(&self.set),
        }
    }

    /// One pass: polls every actor in the ready set once, in a rotating order, and calls `ended`
    /// for each that completed, panicked or was cancelled at its interrupt, with the run clock's
    /// time once its future was dropped. Returns how long the longest poll took, with its actor,
    /// and the last clock read that still stands for now (`start` if it polled nothing).
    ///
    /// The clock is read once per poll: the time after one poll (and, for a future that
    /// completed, its drop) is where the next one's begins, so what an actor is measured for
    /// includes the driver's bookkeeping since the previous poll (nanoseconds, against a
    /// [`SLOW_POLL`](crate::runner) of milliseconds). The first one's begins at `start` if the
    /// runner has a read with only its own bookkeeping since, else at a read of its own. A drop
    /// that blocks is its actor's poll. An exit's record, which may run an observer, is nobody's:
    /// see `after_ended`. Polls are timed only when something observes the run (the time only
    /// ever goes into a `Stalled` event); else the clock is read only for an exit's time, and the
    /// last read returned only if no poll came after it.
    pub(crate) fn pass<E, C: Cell<E>>(
        &mut self,
        cells: &mut [C],
        core: &Core<E>,
        start: Option<Duration>,
        mut ended: impl FnMut(&mut C, usize, Duration, Ended<E>),
    ) -> (Option<(usize, Duration)>, Option<Duration>) {
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        self.set.take(&mut batch);
        let mut slowest: Option<(usize, Duration)> = None;
        if batch.is_empty() {
            self.batch = batch;
            return (None, start);
        }
        let first = self.turn % batch.len();
        self.turn = self.turn.wrapping_add(1);
        batch.rotate_left(first);
        let timed = core.herald.observed();
        let mut last = match start {
            None if timed => Some(core.clock.now()),
            start => start,
        };
        for &actor in &batch {
            // A wake can come after the runner has let its cells go (`finish`: a cancel or a
            // stop that reached an actor already done, on a lane, just before the end): nothing
            // is left to poll then.
            let Some(cell) = cells.get_mut(actor) else {
                continue;
            };
            let Some(slot) = cell.polled() else {
                continue;
            };
            let Some(future) = slot.future.as_mut() else {
                continue;
            };
            // ORDERING: see `Canceller::cancel`; the set's word was acquired since.
            if self.set.is_cancelled(actor) {
                if let Body::Spawned(_, link) = future {
                    // Its task drops it; the proxy completes once it has.
                    link.cancel();
                } else {
                    let future = slot.future.take();
                    let panic = unwind::drop_caught(future);
                    let at = core.clock.now();
                    ended(cell, actor, at, Ended::Cancelled(panic));
                    last = Some(after_ended(core, at));
                    continue;
                }
            }
            let mut cx = Context::from_waker(&slot.waker);
            let polled = unwind::catch(|| match future {
                Body::Local(future) => future.as_mut().poll(&mut cx).map(Settled::Exited),
                Body::Spawned(proxy, _) => Pin::new(proxy).poll(&mut cx),
            });
            let result = match polled {
                Ok(Poll::Pending) => None,
                Ok(Poll::Ready(Settled::Exited(result))) => Some(Ok(Ok(result))),
                Ok(Poll::Ready(Settled::Cancelled(panic))) => {
                    slot.future = None;
                    Some(Err(panic))
                }
                Err(payload) => Some(Ok(Err(payload))),
            };
            // The future and everything it holds are dropped before its exit is recorded (R11);
            // a panic there is the actor's, as for a thread actor's captures.
            let end = match result {
                None => None,
                Some(Err(panic)) => Some(Ended::Cancelled(panic)),
                Some(Ok(result)) => {
                    let future = slot.future.take();
                    Some(Ended::Exited(match (unwind::drop_caught(future), result) {
                        (Some(payload), Ok(_)) => Err(payload),
                        (Some(payload), Err(first)) => {
                            unwind::drop_quietly(payload);
                            Err(first)
                        }
                        (None, result) => result,
                    }))
                }
            };
            if end.is_none() && !timed {
                // Pending, and nobody to tell how long it took: no read (and none from before
                // stands for now any more).
                last = None;
                continue;
            }
            let now = core.clock.now();
            if timed {
                let took = now.saturating_sub(last.unwrap_or(now));
                if slowest.is_none_or(|(_, longest)| took > longest) {
                    slowest = Some((actor, took));
                }
            }
            last = Some(now);
            if let Some(end) = end {
                ended(cell, actor, now, end);
                last = Some(after_ended(core, now));
            }
        }
        self.batch = batch;
        (slowest, last)
    }

    /// Whether a wake is waiting to be served.
    pub(crate) fn has_ready(&self) -> bool {
        self.set.has_ready()
    }

    /// The runner is about to wake actors on its own thread and will pass before it waits
    /// ([`ReadySet::hold`]): saves it a wake of itself (a lock, or, in an async run, a wake of
    /// its own task).
    pub(crate) fn hold(&self) {
        if !self.is_empty() {
            self.set.hold();
        }
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    use crate::actor::BoxError;
    use crate::clock::{Clock, ManualClock};
    use crate::observe::Herald;
    use crate::state::Live;
    use crate::sync::Frozen;

    struct TestCell(Option<Polled<BoxError>>);

    impl Cell<BoxError> for TestCell {
        fn polled(&mut self) -> Option<&mut Polled<BoxError>> {
            self.0.as_mut()
        }
    }

    /// O01 (issue 12, one clock read for the runner's bookkeeping): a pass hands back a clock
    /// read as "now" only if no poll came after it. Here actor 0 completes (a read, for its exit)
    /// and then actor 1's poll, pending, holds the thread while 5 s pass: unobserved, that poll
    /// is not timed, so the read before it must not come back as the time after the pass (the
    /// stage would end 5 s early). Timed (an observer, a log), the read after it comes back.
    #[test]
    fn o01_i12_a_pass_hands_back_no_read_older_than_its_last_poll() {
        let control = Arc::new(Control::new());
        let manual = ManualClock::new();
        let clock = Clock::Manual(manual.clone()).start(control.wake_pair());
        let names: Frozen<[String]> = Frozen::from(vec!["done".to_owned(), "slow".to_owned()]);
        let stages: Frozen<[String]> = Frozen::from(vec!["default".to_owned()]);
        let (herald, _) = Herald::start(Frozen::clone(&names), stages, None, false, &control)
            .expect("no observer thread to start");
        let core = Core {
            control,
            live: Live::new(&[2]),
            names,
            clock,
            herald,
            first_lane: None,
        };
        let mut driver = Driver::new(StdArc::new(ReadySet::new(2, None)));
        let slow = manual.clone();
        let mut cells = [
            TestCell(Some(driver.start(0, Box::pin(async { Ok(()) })))),
            TestCell(Some(driver.start(
                1,
                Box::pin(std::future::poll_fn(move |_| {
                    slow.advance(Duration::from_secs(5));
                    Poll::Pending
                })),
            ))),
        ];
        // Both were listed by `start`; the first pass polls them in index order.
        driver.turn = 0;
        let (_, last) = driver.pass(&mut cells, &core, Some(Duration::ZERO), |_, _, _, _| {});
        assert!(
            last.is_none_or(|last| last == manual.now()),
            "the pass handed back {last:?} as now, after a poll that ended at {:?}",
            manual.now()
        );
    }
}
