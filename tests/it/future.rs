//! `StopToken::stopped`: the runtime-free future an async actor awaits (issue 12; T03, R07).
//!
//! The executor here is the smallest one there is: poll, and park the thread until the waker
//! unparks it. No runtime, no sleeps: a test waits only for what must happen, under the fuse.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

use rungroup::{Group, StopToken};

use crate::common::{FUSE, bounded, report_of};

/// Wakes a parked thread, and counts its wake-ups.
struct Unpark {
    thread: Thread,
    woken: AtomicUsize,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Polls `future` to completion on this thread, parking between polls; panics past the fuse.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicUsize::new(0),
    }));
    let mut cx = Context::from_waker(&waker);
    let fuse = Instant::now() + FUSE;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        assert!(Instant::now() < fuse, "the future never completed");
        thread::park_timeout(FUSE);
    }
}

/// A waker that only counts (its `Arc`'s strong count says whether the token still holds it).
fn counting() -> (Arc<Unpark>, Waker) {
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicUsize::new(0),
    });
    (Arc::clone(&unpark), Waker::from(unpark))
}

#[test]
fn t03_i12_stopped_completes_when_another_thread_stops_the_token() {
    let token = StopToken::new();
    let awaiting = token.clone();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let done = bounded(move || {
        let _ = started_tx.send(());
        block_on(awaiting.stopped());
    });
    started_rx.recv_timeout(FUSE).unwrap();
    token.stop();
    done.join();
}

/// R07: a token stopped before the future is made (or first polled) completes it at once, and
/// no waker is kept.
#[test]
fn t03_i12_stopped_of_a_stopped_token_is_ready_at_once() {
    let token = StopToken::new();
    token.stop();
    let (unpark, waker) = counting();
    let mut stopped = pin!(token.stopped());
    assert!(
        stopped
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
    );
    drop(waker);
    assert_eq!(Arc::strong_count(&unpark), 1);
}

/// A pending future keeps exactly one waker, the latest it was polled with; `stop` wakes that
/// one once; a future dropped before the stop takes its waker with it (a `select!` loop makes a
/// new future every turn: nothing may pile up).
#[test]
fn t03_i12_stopped_keeps_only_its_latest_waker_and_drop_unregisters_it() {
    let token = StopToken::new();
    let (first, first_waker) = counting();
    let (latest, latest_waker) = counting();
    let mut stopped = Box::pin(token.stopped());
    assert!(
        stopped
            .as_mut()
            .poll(&mut Context::from_waker(&first_waker))
            .is_pending()
    );
    assert!(
        stopped
            .as_mut()
            .poll(&mut Context::from_waker(&latest_waker))
            .is_pending()
    );
    drop((first_waker, latest_waker));
    assert_eq!(
        Arc::strong_count(&first),
        1,
        "the replaced waker is still held"
    );
    assert_eq!(Arc::strong_count(&latest), 2);

    for _ in 0..100 {
        let (unpark, waker) = counting();
        let mut dropped = Box::pin(token.stopped());
        assert!(
            dropped
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        drop((dropped, waker));
        assert_eq!(
            Arc::strong_count(&unpark),
            1,
            "a dropped future left its waker"
        );
    }

    token.stop();
    assert_eq!(latest.woken.load(Ordering::SeqCst), 1);
    assert_eq!(first.woken.load(Ordering::SeqCst), 0);
    assert_eq!(Arc::strong_count(&latest), 1);
    assert!(
        stopped
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    );
}

/// An async actor on any executor: a token actor whose execute blocks on a future that ends at
/// the token's stop; the group's interrupt ends it.
#[test]
fn t03_i12_an_async_token_actor_ends_on_its_interrupt() {
    let mut group = Group::new();
    group.actor("async").add_token(|token| {
        block_on(async move {
            token.stopped().await;
            Ok(())
        })
    });
    group.actor("job").add(|| Err("done".into()), |_| {});
    let report = report_of(group);
    assert_eq!(report.into_result().unwrap_err().to_string(), "done");
}

/// A waker that panics when woken.
struct Grenade;

impl Wake for Grenade {
    fn wake(self: Arc<Self>) {
        panic!("deliberate: waker exploded");
    }
}

/// A panicking waker does not keep `stop` from waking the other futures of the token; the panic
/// reaches the caller of `stop` after them.
#[test]
fn t03_i12_a_panicking_waker_does_not_strand_the_others() {
    let token = StopToken::new();
    let grenade = Waker::from(Arc::new(Grenade));
    let (unpark, waker) = counting();
    let mut first = Box::pin(token.stopped());
    let mut second = Box::pin(token.stopped());
    let mut third = Box::pin(token.stopped());
    assert!(
        first
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    assert!(
        second
            .as_mut()
            .poll(&mut Context::from_waker(&grenade))
            .is_pending()
    );
    assert!(
        third
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    let stopper = token.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || stopper.stop()));
    assert!(panicked.is_err(), "the waker's panic was swallowed");
    assert_eq!(unpark.woken.load(Ordering::SeqCst), 2);
    assert!(token.is_stopped());
}
