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
use crate::sync::Mutex;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::unwind;
use crate::unwind::Payload;

/// The actors to poll next: a list in wake order, and a flag per actor so that each is listed once.
#[derive(Default)]
struct Queue {
    list: Vec<usize>,
    listed: Vec<bool>,
}

/// What every actor's waker shares: the ready set and the group to wake.
pub(crate) struct ReadySet {
    queue: Mutex<Queue>,
    /// Per actor: set by its interrupt when it is dropped at its interrupt.
    cancelled: Box<[AtomicBool]>,
    /// Wakes the runner, whichever way it waits (a parked thread or a task).
    wake: Box<dyn Fn() + Send + Sync>,
}

impl ReadySet {
    pub(crate) fn new(actors: usize, wake: Box<dyn Fn() + Send + Sync>) -> Self {
        Self {
            queue: Mutex::new(Queue {
                list: Vec::new(),
                listed: vec![false; actors],
            }),
            cancelled: (0..actors).map(|_| AtomicBool::new(false)).collect(),
            wake,
        }
    }

    /// Lists `actor` to be polled; wakes the group if the set was empty.
    pub(crate) fn mark(&self, actor: usize) {
        let first = {
            let mut queue = self.queue.lock();
            if std::mem::replace(&mut queue.listed[actor], true) {
                return;
            }
            queue.list.push(actor);
            queue.list.len() == 1
        };
        if first {
            (self.wake)();
        }
    }

    /// Takes the whole set, unlisting every actor in it (before any of them is polled).
    fn take(&self, into: &mut Vec<usize>) {
        let mut queue = self.queue.lock();
        let Queue { list, listed } = &mut *queue;
        for &actor in list.iter() {
            listed[actor] = false;
        }
        into.append(list);
    }

    /// Whether some actor is waiting to be polled.
    pub(crate) fn has_ready(&self) -> bool {
        !self.queue.lock().list.is_empty()
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
        // ORDERING: the flag is read by the driver after it takes the actor from the ready set,
        // and `mark` goes through that set's mutex after this store: the lock orders them.
        self.set.cancelled[self.actor].store(true, Ordering::Relaxed);
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

/// A future actor as the driver holds it.
struct Slot<E> {
    future: Option<Body<E>>,
    waker: Waker,
}

/// How a future actor ended, for the runner's bookkeeping.
pub(crate) enum Ended<E> {
    /// Its future completed (or panicked in its poll or its drop).
    Exited(Result<Result<(), E>, Payload>),
    /// It was dropped before it completed; a panic of that drop is kept.
    Cancelled(Option<Payload>),
}

/// The future actors of one run, by actor index.
pub(crate) struct Driver<E> {
    slots: Vec<Option<Slot<E>>>,
    set: StdArc<ReadySet>,
    /// Where the next pass starts in its batch.
    turn: usize,
    /// Whether any future actor was started.
    started: bool,
    batch: Vec<usize>,
}

impl<E> Driver<E> {
    pub(crate) fn new(actors: usize, set: StdArc<ReadySet>) -> Self {
        Self {
            slots: (0..actors).map(|_| None).collect(),
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

    /// Starts actor `actor`: listed to be polled at the next pass.
    pub(crate) fn start(&mut self, actor: usize, future: BoxFuture<E>) {
        self.start_body(actor, Body::Local(future));
    }

    /// Starts actor `actor`, spawned on the user's executor: the driver polls its proxy.
    pub(crate) fn start_spawned(&mut self, actor: usize, proxy: Proxy<E>, link: StdArc<Link<E>>) {
        self.start_body(actor, Body::Spawned(proxy, link));
    }

    fn start_body(&mut self, actor: usize, future: Body<E>) {
        let waker = Waker::from(StdArc::new(ActorWaker {
            actor,
            set: StdArc::clone(&self.set),
        }));
        self.started = true;
        self.slots[actor] = Some(Slot {
            future: Some(future),
            waker,
        });
        self.set.mark(actor);
    }

    /// The interrupt that drops `actor`'s future at the driver's next pass.
    pub(crate) fn canceller(&self, actor: usize) -> Canceller {
        Canceller {
            actor,
            set: StdArc::clone(&self.set),
        }
    }

    /// Whether `actor` is a future actor.
    pub(crate) fn is_future(&self, actor: usize) -> bool {
        self.slots[actor].is_some()
    }

    /// Drops `actor`'s future if it is still there. A spawned actor's task is asked to drop it,
    /// and its end comes through a later pass (`None` here).
    pub(crate) fn cancel(&mut self, actor: usize) -> Option<Ended<E>> {
        let slot = self.slots[actor].as_mut()?;
        if let Some(Body::Spawned(_, link)) = &slot.future {
            link.cancel();
            return None;
        }
        let future = slot.future.take()?;
        Some(Ended::Cancelled(unwind::drop_caught(future)))
    }

    /// One pass: polls every actor in the ready set once, in a rotating order, and calls `ended`
    /// for each that completed, panicked or was cancelled at its interrupt, with the run clock's
    /// time once its future was dropped. Returns how long the longest poll took, with its actor.
    ///
    /// The clock is read once per poll: the time after one poll (and, for a future that
    /// completed, its drop) is where the next one's begins, so what an actor is measured for
    /// includes the driver's bookkeeping since the previous poll (nanoseconds, against a
    /// [`SLOW_POLL`](crate::runner) of milliseconds). A drop that blocks is its actor's poll.
    pub(crate) fn pass(
        &mut self,
        core: &Core<E>,
        mut ended: impl FnMut(usize, Duration, Ended<E>),
    ) -> Option<(usize, Duration)> {
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        self.set.take(&mut batch);
        let mut slowest: Option<(usize, Duration)> = None;
        if batch.is_empty() {
            self.batch = batch;
            return None;
        }
        let start = self.turn % batch.len();
        self.turn = self.turn.wrapping_add(1);
        batch.rotate_left(start);
        let mut last = core.clock.now();
        for &actor in &batch {
            let Some(slot) = self.slots[actor].as_mut() else {
                continue;
            };
            let Some(future) = slot.future.as_mut() else {
                continue;
            };
            // ORDERING: see `ActorWaker::cancel`; the ready set's mutex was taken since.
            if self.set.cancelled[actor].load(Ordering::Relaxed) {
                if let Body::Spawned(_, link) = future {
                    // Its task drops it; the proxy completes once it has.
                    link.cancel();
                } else {
                    let future = slot.future.take();
                    let panic = unwind::drop_caught(future);
                    last = core.clock.now();
                    ended(actor, last, Ended::Cancelled(panic));
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
            let now = core.clock.now();
            let took = now.saturating_sub(last);
            last = now;
            if slowest.is_none_or(|(_, longest)| took > longest) {
                slowest = Some((actor, took));
            }
            if let Some(end) = end {
                ended(actor, now, end);
            }
        }
        self.batch = batch;
        slowest
    }

    /// Whether a wake is waiting to be served.
    pub(crate) fn has_ready(&self) -> bool {
        self.set.has_ready()
    }
}
