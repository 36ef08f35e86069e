//! Future actors (issue 12): `StopToken::stopped`, the runtime-free future an async actor awaits
//! (T03, R07), and actors that are futures, polled by the group itself, alone or beside threads.
//!
//! The executor here is the smallest one there is: poll, and park the thread until the waker
//! unparks it. No runtime, no sleeps: a test waits only for what must happen, under the fuse.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use rungroup::{BoxError, Event, Group, ManualClock, Outcome, Stage, StopToken};

use crate::common::{
    Drops, Ev, FUSE, Log, assert_escalated_cleanly, bounded, clocked_with_grace, events,
    payload_text, report_of, run_catching, spawn_report, until_interrupted,
};

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

/// Polls a `stopped()` future once with `waker`, which must find it pending.
#[track_caller]
fn assert_pending(stopped: &mut std::pin::Pin<Box<rungroup::Stopped>>, waker: &Waker) {
    assert!(
        stopped
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending()
    );
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
    assert_pending(&mut stopped, &first_waker);
    assert_pending(&mut stopped, &latest_waker);
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
    assert_pending(&mut first, &waker);
    assert_pending(&mut second, &grenade);
    assert_pending(&mut third, &waker);
    let stopper = token.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || stopper.stop()));
    assert!(panicked.is_err(), "the waker's panic was swallowed");
    assert_eq!(unpark.woken.load(Ordering::SeqCst), 2);
    assert!(token.is_stopped());
}

// ---------------------------------------------------------------------------------------------
// Future actors (issue 12): the same rules as thread actors, polled by the group's own driver.
// ---------------------------------------------------------------------------------------------

/// Asserts that `outcome` is a panic whose message is `message`.
#[track_caller]
fn assert_panicked(outcome: &Outcome<BoxError>, message: &str) {
    match outcome {
        Outcome::Panicked(payload) => assert_eq!(payload_text(payload), message),
        other => panic!("expected a panic, got {other:?}"),
    }
}

/// A future that is pending until `token` is stopped; then it returns `result`.
async fn until_stopped(token: StopToken, result: Result<(), BoxError>) -> Result<(), BoxError> {
    token.stopped().await;
    result
}

/// A future that is pending forever and ignores every wake: only a drop ends it. Counts drops.
fn deaf(drops: &Drops) -> impl Future<Output = Result<(), BoxError>> + Send + 'static {
    let guard = drops.guard();
    async move {
        let _guard = guard;
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// R03 + F01 (issue 12): a future actor's `Err` is a first exit: the thread actor and the future
/// token actor are interrupted, and `run` returns that very error.
#[test]
fn r03_i12_a_future_actors_error_is_the_first_exit_of_a_mixed_group() {
    let mut group = Group::new();
    let (execute, interrupt) = until_interrupted(|_| {});
    group.actor("thread").add(execute, interrupt);
    group
        .actor("waiter")
        .add_future_token(|token| until_stopped(token, Ok(())));
    group
        .actor("failing")
        .add_future(async { Err("disk full".into()) }, |_| {});
    let report = report_of(group);
    assert_eq!(report.first_exit().unwrap().name, "failing", "{report}");
    for actor in report.actors() {
        assert_eq!(actor.interrupt.label(), "returned", "{report}");
    }
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    assert!(matches!(report.actors()[1].outcome, Outcome::Ok));
    assert_eq!(report.into_result().unwrap_err().to_string(), "disk full");
}

/// R03 (issue 12): a thread actor's exit interrupts the future actors, which end `Ok`.
#[test]
fn r03_i12_a_thread_actors_exit_interrupts_the_future_actors() {
    let mut group = Group::new();
    for name in ["a", "b", "c"] {
        group
            .actor(name)
            .add_future_token(|token| until_stopped(token, Ok(())));
    }
    group.actor("job").add(|| Err("job failed".into()), |_| {});
    let report = report_of(group);
    assert_eq!(report.first_exit().unwrap().name, "job");
    assert!(
        report.actors()[..3]
            .iter()
            .all(|actor| matches!(actor.outcome, Outcome::Ok)),
        "{report}"
    );
}

/// R05 (issue 12): interrupts are called in registration order across thread and future actors,
/// one at a time.
#[test]
fn r05_i12_interrupts_run_in_registration_order_across_kinds() {
    let log = Log::default();
    let mut group = Group::new();
    for (index, name) in ["f0", "t1", "f2", "t3"].into_iter().enumerate() {
        let entry = {
            let log = log.clone();
            move || log.push(name)
        };
        if index % 2 == 0 {
            let stop = StopToken::new();
            let token = stop.clone();
            group
                .actor(name)
                .add_future(until_stopped(token, Ok(())), move |_| {
                    entry();
                    stop.stop();
                });
        } else {
            let (execute, interrupt) = until_interrupted(move |_| entry());
            group.actor(name).add(execute, interrupt);
        }
    }
    group.actor("trigger").add_future(async { Ok(()) }, |_| {});
    let report = report_of(group);
    assert!(report.into_result().is_ok());
    assert_eq!(log.entries(), ["f0", "t1", "f2", "t3"]);
}

/// F01 (issue 12): a panic in a future actor's poll is its exit, caught with its name and
/// payload; `run` resumes it after teardown.
#[test]
fn f01_i12_a_panic_in_poll_is_caught_by_name() {
    let mut group = Group::new();
    group
        .actor("waiter")
        .add_future_token(|token| until_stopped(token, Ok(())));
    group.actor("bomb").add_future(
        async {
            panic!("boom in poll");
        },
        |_| {},
    );
    let report = report_of(group);
    let first = report.first_exit().unwrap();
    assert_eq!(first.name, "bomb");
    assert_panicked(&first.outcome, "boom in poll");
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));

    let mut group = Group::new();
    group.actor("bomb").add_future(
        async {
            panic!("resumed");
        },
        |_| {},
    );
    let payload = run_catching(group).unwrap_err();
    assert_eq!(payload_text(&payload), "resumed");
}

/// F01 + R11 (issue 12): a panic in the drop of a completed future actor is that actor's panic
/// (as for a thread actor's captures); the future is dropped exactly once, before its exit counts.
#[test]
fn f01_i12_a_panic_in_a_completed_futures_drop_is_the_actors_panic() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom in drop");
        }
    }
    let mut group = Group::new();
    let bomb = Bomb;
    group.actor("dropper").add_future(
        async move {
            let _bomb = &bomb;
            Ok(())
        },
        |_| {},
    );
    let report = report_of(group);
    assert_panicked(&report.actors()[0].outcome, "boom in drop");
}

/// S05 + S06 (issue 12): a future actor that ignores its interrupt is not abandoned: escalation
/// drops it (outcome `Cancelled`, exactly one drop), and the run reports the escalation.
#[test]
fn s05_i12_escalation_drops_a_future_that_ignores_its_interrupt() {
    let (mut group, mut events, stop, clock) =
        clocked_with_grace(Duration::from_secs(1), Duration::from_secs(5));
    let drops = Drops::default();
    group.actor("deaf").add_future(deaf(&drops), |_| {});
    group
        .actor("polite")
        .add_future_token(|token| until_stopped(token, Ok(())));
    let pending = spawn_report(group);
    stop.stop("test");
    events.wait_for(&Ev::exited("polite"));
    assert_eq!(drops.count(), 0);
    clock.advance(Duration::from_secs(5));
    let report = pending.join();
    assert_dropped_once_and_cancelled(&drops, &report);
    assert!(report.actors()[0].escalated);
    assert_eq!(report.abandoned().count(), 0);
    assert_escalated_cleanly(&report);
}

/// R04 (issue 12): an actor that asked to be dropped at its interrupt is dropped then, in order,
/// and ends `Cancelled`, which is not an error.
#[test]
fn r04_i12_a_cancel_safe_future_is_dropped_at_its_interrupt() {
    let drops = Drops::default();
    let mut group = Group::new();
    let events = events(&mut group);
    group.actor("ticker").add_future_cancel(deaf(&drops));
    group.actor("job").add(|| Ok(()), |_| {});
    let report = report_of(group);
    drop(events);
    assert_dropped_once_and_cancelled(&drops, &report);
    assert!(!report.actors()[0].escalated);
    assert!(report.into_result().is_ok());
}

/// T01 (issue 12): a stop request from another thread ends a group of future actors only.
#[test]
fn t01_i12_a_stop_request_ends_a_group_of_future_actors() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    for _ in 0..8 {
        group.add_future_token(|token| until_stopped(token, Ok(())));
    }
    let pending = spawn_report(group);
    let stopper = thread::spawn(move || stop.stop("operator"));
    let report = pending.join();
    stopper.join().unwrap();
    assert!(
        report
            .actors()
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Ok))
    );
    assert!(report.into_result().is_ok());
}

/// Issue 12: `run_async` on a plain executor (this file's `block_on`): a mixed group, the first
/// exit a future's error.
#[test]
fn r09_i12_run_async_returns_the_first_exit_on_any_executor() {
    let result = bounded(|| {
        let mut group = Group::new();
        let (execute, interrupt) = until_interrupted(|_| {});
        group.actor("thread").add(execute, interrupt);
        group.add_future_token(|token| until_stopped(token, Ok(())));
        group.add_future(async { Err("from a future".into()) }, |_| {});
        block_on(group.run_async())
    })
    .join();
    assert_eq!(result.unwrap_err().to_string(), "from a future");
}

/// S04 (issue 12): `run_async` with a real deadline: the timer thread wakes the task when the
/// grace runs out, and the deaf future is cancelled. The grace is short; nothing depends on how
/// long it really took.
#[test]
fn s04_i12_run_async_wakes_at_a_real_deadline() {
    let report = deaf_past_a_real_grace(Group::new());
    assert!(
        matches!(report.error(), Some(rungroup::Error::Escalated { .. })),
        "{report}"
    );
}

/// Runs `group` with `run_async`, a deaf future actor and one that returns at once, a 20 ms grace
/// and kill grace on the real clock: asserts that the deaf one was dropped, once, at the grace.
fn deaf_past_a_real_grace(mut group: Group) -> rungroup::Report<BoxError> {
    let drops = Drops::default();
    group
        .grace(Stage::DEFAULT, Duration::from_millis(20))
        .kill_grace(Duration::from_millis(20));
    group.actor("deaf").add_future(deaf(&drops), |_| {});
    group.actor("job").add_future(async { Ok(()) }, |_| {});
    let report = bounded(move || block_on(group.run_async_with_report())).join();
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Cancelled),
        "{report}"
    );
    assert_eq!(drops.count(), 1);
    report
}

/// Holds the group's thread where [`Hold::here`] is called until the test, having moved the
/// group's manual clock by `by`, lets it go: a poll or an interrupt that blocks for `by` of the
/// group's time and no real time.
struct Hold {
    entered: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
}

impl Hold {
    fn here(self) {
        self.entered.send(()).unwrap();
        self.release.recv().unwrap();
    }
}

/// Runs `build`'s group on a manual clock, moves the clock by `by` while the group's thread is
/// held in the [`Hold`] it was given, and returns the `Stalled` events ("actor took") and the
/// run's result.
fn held_for(
    by: Duration,
    build: impl FnOnce(&mut Group, Hold),
) -> (Vec<String>, Result<(), BoxError>) {
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock.clone());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let tx = std::sync::Mutex::new(tx);
    group.observe(move |event| {
        if let Event::Stalled { actor, took } = event {
            let _ = tx.lock().unwrap().send(format!("{actor} {took:?}"));
        }
    });
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    build(
        &mut group,
        Hold {
            entered: entered_tx,
            release: release_rx,
        },
    );
    let pending = spawn_report(group);
    entered_rx.recv_timeout(FUSE).unwrap();
    clock.advance(by);
    release_tx.send(()).unwrap();
    let result = pending.join().into_result();
    (rx.try_iter().collect(), result)
}

/// Issue 12, stuck polls: a poll that blocks the group's thread is reported by name with how long
/// it took (on the group's clock), once it returns. What the group cannot do is check a deadline
/// while a poll holds its thread (docs/async.md).
#[test]
fn s06_i12_a_poll_that_blocks_the_thread_is_reported() {
    let (stalls, result) = held_for(Duration::from_secs(2), |group, hold| {
        group.actor("hog").add_future(
            async move {
                hold.here();
                Ok(())
            },
            |_| {},
        );
    });
    assert!(result.is_ok());
    assert_eq!(stalls, ["hog 2s"]);
}

/// Issue 12, stuck polls: a completed future whose `Drop` blocks the group's thread is reported
/// like a blocking poll (the drop is part of its actor's poll), and its exit time is taken after
/// the drop (R11: the future is gone before its exit is recorded).
#[test]
fn s06_i12_a_drop_that_blocks_the_thread_is_reported() {
    /// Completes at its first poll; holds the thread when it is dropped, after that.
    struct HoldOnDrop(Option<Hold>);
    impl Future for HoldOnDrop {
        type Output = Result<(), BoxError>;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
            Poll::Ready(Ok(()))
        }
    }
    impl Drop for HoldOnDrop {
        fn drop(&mut self) {
            if let Some(hold) = self.0.take() {
                hold.here();
            }
        }
    }
    let (stalls, result) = held_for(Duration::from_secs(4), |group, hold| {
        group
            .actor("sticky")
            .add_future(HoldOnDrop(Some(hold)), |_| {});
    });
    assert!(result.is_ok());
    assert_eq!(stalls, ["sticky 4s"]);
}

/// Issue 12, fairness: a future actor that wakes itself on every poll (a busy loop of yields)
/// does not keep the others from being polled, nor the group from ending.
#[test]
fn r03_i12_a_self_waking_future_does_not_starve_the_others() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&polls);
    let mut group = Group::new();
    group.actor("spinner").add_future_token(move |token| {
        std::future::poll_fn(move |cx| {
            counted.fetch_add(1, Ordering::Relaxed);
            if token.is_stopped() {
                return Poll::Ready(Ok(()));
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    });
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    group.actor("waits").add_future(
        std::future::poll_fn(move |cx| {
            // Pending until the helper below sends, then done (an exit that ends the group).
            match rx.try_recv() {
                Ok(()) => Poll::Ready(Ok(())),
                Err(_) => {
                    let waker = cx.waker().clone();
                    thread::spawn(move || waker.wake());
                    Poll::Pending
                }
            }
        }),
        |_| {},
    );
    tx.send(()).unwrap();
    let report = report_of(group);
    assert_eq!(report.first_exit().unwrap().name, "waits", "{report}");
    assert!(polls.load(Ordering::Relaxed) >= 1);
}

/// R04 (issue 12): a future actor's interrupt is called exactly once even when the future has
/// already completed; its drop happens exactly once.
#[test]
fn r04_i12_each_future_actor_is_interrupted_once_and_dropped_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let drops = Drops::default();
    let mut group = Group::new();
    for _ in 0..4 {
        let calls = Arc::clone(&calls);
        let guard = drops.guard();
        group.add_future(
            async move {
                let _guard = guard;
                Ok(())
            },
            move |_| {
                calls.fetch_add(1, Ordering::Relaxed);
            },
        );
    }
    let report = report_of(group);
    assert!(report.into_result().is_ok());
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    assert_eq!(drops.count(), 4);
}

/// Issue 12: a future actor's interrupt runs on the group's thread; one that holds it is reported
/// like a stuck poll, by name, with the time it held it on the group's clock.
#[test]
fn s06_i12_an_interrupt_that_holds_the_groups_thread_is_reported() {
    let (stalls, result) = held_for(Duration::from_secs(3), |group, hold| {
        let stop = StopToken::new();
        let token = stop.clone();
        group
            .actor("slow-interrupt")
            .add_future(until_stopped(token, Ok(())), move |_| {
                hold.here();
                stop.stop();
            });
        group.actor("job").add_future(async { Ok(()) }, |_| {});
    });
    assert!(result.is_ok());
    assert_eq!(stalls, ["slow-interrupt 3s"]);
}

// ---------------------------------------------------------------------------------------------
// Spawned future actors: on the user's executor (issue 12).
// ---------------------------------------------------------------------------------------------

/// An error and its sources, as an error chain prints them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        text = format!("{text}: {error}");
        source = error.source();
    }
    text
}

/// Asserts that the run's error, with its sources, says each of `words`.
#[track_caller]
fn assert_error_says(report: &rungroup::Report<BoxError>, words: &[&str]) {
    let text = chain(report.error().expect("the run has an error"));
    for word in words {
        assert!(text.contains(word), "{word:?} not in {text:?}");
    }
}

/// Every task on a thread of its own, polled by this file's `block_on`.
struct ThreadPerTask;

impl rungroup::Executor for ThreadPerTask {
    fn execute(&self, task: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) {
        thread::spawn(move || block_on(task));
    }
}

/// An executor that refuses: it panics.
struct Panicking;

impl rungroup::Executor for Panicking {
    fn execute(&self, _task: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) {
        panic!("executor full");
    }
}

/// An executor shutting down: it drops every task unpolled.
struct Dropping;

impl rungroup::Executor for Dropping {
    fn execute(&self, task: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) {
        drop(task);
    }
}

/// R02 (issue 12): spawned actors run in parallel with each other and with the group's thread:
/// two of them meet at a barrier inside a poll, which one thread alone could never pass.
#[test]
fn r02_i12_spawned_actors_run_in_parallel_on_the_executor() {
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let mut group = Group::new();
    group.executor(ThreadPerTask);
    for name in ["left", "right"] {
        let barrier = Arc::clone(&barrier);
        group.actor(name).spawned().add_future(
            async move {
                barrier.wait();
                Ok(())
            },
            |_| {},
        );
    }
    group
        .actor("local")
        .add_future_token(|token| until_stopped(token, Ok(())));
    let report = report_of(group);
    assert!(
        report
            .actors()
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Ok)),
        "{report}"
    );
    assert!(["left", "right"].contains(&report.first_exit().unwrap().name.as_str()));
}

/// F01 (issue 12): a spawned actor's panic is its exit, payload intact, by name.
#[test]
fn f01_i12_a_spawned_actors_panic_is_caught_by_name() {
    let mut group = Group::new();
    group.executor(ThreadPerTask);
    group.actor("bomb").spawned().add_future(
        async {
            panic!("spawned boom");
        },
        |_| {},
    );
    group
        .actor("local")
        .add_future_token(|token| until_stopped(token, Ok(())));
    let report = report_of(group);
    let first = report.first_exit().unwrap();
    assert_eq!(first.name, "bomb");
    assert_panicked(&first.outcome, "spawned boom");
}

/// S05 + R11 (issue 12): escalation reaches a spawned actor that ignores its interrupt: its task
/// drops the future, and the actor's exit is recorded only once it has (exactly one drop by the
/// time `run` returns).
#[test]
fn s05_i12_escalation_has_a_spawned_actors_task_drop_it() {
    let (mut group, mut events, stop, clock) =
        clocked_with_grace(Duration::from_secs(1), Duration::from_secs(5));
    group.executor(ThreadPerTask);
    let drops = Drops::default();
    group
        .actor("deaf")
        .spawned()
        .add_future(deaf(&drops), |_| {});
    let pending = spawn_report(group);
    stop.stop("test");
    events.wait_for(&Ev::interrupting("deaf"));
    clock.advance(Duration::from_secs(5));
    let report = pending.join();
    assert_dropped_once_and_cancelled(&drops, &report);
    assert_escalated_cleanly(&report);
}

/// R04 (issue 12): a cancel-safe spawned actor is dropped by its task at its interrupt.
#[test]
fn r04_i12_a_cancel_safe_spawned_actor_is_dropped_at_its_interrupt() {
    let drops = Drops::default();
    let mut group = Group::new();
    group.executor(ThreadPerTask);
    group
        .actor("ticker")
        .spawned()
        .add_future_cancel(deaf(&drops));
    group.actor("job").add(|| Ok(()), |_| {});
    let report = report_of(group);
    assert_dropped_once_and_cancelled(&drops, &report);
    assert!(report.into_result().is_ok());
}

/// F05 (issue 12): `spawned()` without an executor, or on a thread actor, is refused before
/// anything starts, with an error naming the actor and saying why.
#[test]
fn f05_i12_spawned_without_an_executor_or_on_a_thread_is_refused() {
    let ran = Drops::default();
    let mut group = Group::new();
    let guard = ran.guard();
    group.actor("first").add(
        move || {
            drop(guard);
            Ok(())
        },
        |_| {},
    );
    group
        .actor("orphan")
        .spawned()
        .add_future(async { Ok(()) }, |_| {});
    let report = report_of(group);
    assert!(
        report
            .actors()
            .iter()
            .all(|a| matches!(a.outcome, Outcome::NotStarted))
    );
    assert_error_says(&report, &["orphan", "Group::executor"]);
    // The execute was dropped uncalled: its guard went with it.
    assert_eq!(ran.count(), 1);

    let mut group = Group::new();
    group.executor(ThreadPerTask);
    group.actor("thread").spawned().add(|| Ok(()), |_| {});
    let report = report_of(group);
    assert_error_says(&report, &["thread", "future actors only"]);
}

/// F03 (issue 12): an executor that panics when asked to spawn is a spawn failure: what started
/// is torn down, and the error names the actor and the panic.
#[test]
fn f03_i12_an_executor_that_panics_is_a_spawn_failure() {
    let mut group = Group::new();
    group.executor(Panicking);
    group
        .actor("local")
        .add_future_token(|token| until_stopped(token, Ok(())));
    group
        .actor("spawned")
        .spawned()
        .add_future(async { Ok(()) }, |_| {});
    let report = report_of(group);
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Ok),
        "{report}"
    );
    assert!(matches!(report.actors()[1].outcome, Outcome::NotStarted));
    assert_error_says(&report, &["spawned", "executor full"]);
}

/// Issue 12: an executor that drops a task unpolled (shutting down) cancels the actor; the group
/// hears of it and does not wait forever.
#[test]
fn r08_i12_a_task_dropped_by_its_executor_is_cancelled() {
    let drops = Drops::default();
    let mut group = Group::new();
    group.executor(Dropping);
    group
        .actor("lost")
        .spawned()
        .add_future(deaf(&drops), |_| {});
    group.actor("job").add_future(async { Ok(()) }, |_| {});
    let report = report_of(group);
    assert_dropped_once_and_cancelled(&drops, &report);
}

/// Issue 12, stuck polls (from a review): the time an inline observer spends on one actor's
/// `ActorExited` (user code, on the group's thread, inside the driver's pass) is nobody's poll:
/// the next actor polled in the same pass is not reported `Stalled`. Failed on 3513b6f, whose
/// one clock read per poll charged it to that actor ("bystander 3s").
#[test]
fn s06_i12_observer_time_after_an_exit_is_not_the_next_polls() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock.clone());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let tx = std::sync::Mutex::new(tx);
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let hold = std::sync::Mutex::new(Some(Hold {
        entered: entered_tx,
        release: release_rx,
    }));
    group.observe(move |event| match event {
        Event::Stalled { actor, took } => {
            let _ = tx.lock().unwrap().send(format!("{actor} {took:?}"));
        }
        Event::ActorExited { actor: "quick", .. } => {
            // A slow observer (a log sink flushing, say): the group's thread, not a poll.
            let hold = hold.lock().unwrap().take();
            if let Some(hold) = hold {
                hold.here();
            }
        }
        _ => {}
    });
    group.actor("quick").add_future(async { Ok(()) }, |_| {});
    group
        .actor("bystander")
        .add_future_token(|token| async move {
            token.stopped().await;
            Ok(())
        });
    let pending = spawn_report(group);
    entered_rx.recv_timeout(FUSE).unwrap();
    clock.advance(Duration::from_secs(3));
    release_tx.send(()).unwrap();
    let result = pending.join().into_result();
    assert!(result.is_ok());
    let stalls: Vec<String> = rx.try_iter().collect();
    assert_eq!(stalls, Vec::<String>::new(), "no poll held the thread");
}

/// The deaf future of actor 0 was dropped exactly once, and the report says `Cancelled`.
fn assert_dropped_once_and_cancelled(drops: &Drops, report: &rungroup::Report<BoxError>) {
    assert_eq!(drops.count(), 1);
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Cancelled),
        "{report}"
    );
}

/// O01 (issue 12, one clock read for the runner's bookkeeping between waits): the stage and
/// teardown times count the wait they end with. The runner reuses a clock read only while it has
/// done nothing but its own bookkeeping since; a read kept across a wait (here, a yield to the
/// executor while the clock moves 5 s) would leave that wait out and report a teardown of 0.
/// Polled step by step on this thread, so the clock moves exactly while the run is yielded.
#[test]
fn o01_i12_teardown_times_count_the_wait_they_end_with() {
    for futures in [false, true] {
        let clock = ManualClock::new();
        let mut group = Group::new();
        group.clock(clock.clone());
        let (interrupted_tx, interrupted) = std::sync::mpsc::channel::<()>();
        let (release_tx, release) = std::sync::mpsc::channel::<()>();
        group.actor("held").add(
            move || {
                release.recv_timeout(FUSE).expect("released");
                Ok(())
            },
            move |_| {
                let _ = interrupted_tx.send(());
            },
        );
        if futures {
            group.actor("idle").add_future_token(|token| async move {
                token.stopped().await;
                Ok(())
            });
        }
        group.actor("job").add(|| Err("done".into()), |_| {});

        let mut run = pin!(group.run_async_with_report());
        let waker = Waker::from(Arc::new(Unpark {
            thread: thread::current(),
            woken: AtomicUsize::new(0),
        }));
        let mut cx = Context::from_waker(&waker);
        let fuse = Instant::now() + FUSE;
        let mut moved = false;
        let report = loop {
            if let Poll::Ready(report) = run.as_mut().poll(&mut cx) {
                break report;
            }
            // Yielded: if teardown has begun, the clock moves now, then `held` may end.
            if !moved && interrupted.try_recv().is_ok() {
                clock.advance(Duration::from_secs(5));
                release_tx.send(()).unwrap();
                moved = true;
            }
            assert!(Instant::now() < fuse, "the run never completed");
            thread::park_timeout(FUSE);
        };
        assert!(moved, "the run ended before teardown waited for `held`");
        let stage = report.stages()[0].elapsed.expect("the stage was torn down");
        assert!(
            stage >= Duration::from_secs(5),
            "futures {futures}: stage took {stage:?}\n{report}"
        );
        let teardown = report.teardown().expect("teardown ran");
        assert!(
            teardown >= Duration::from_secs(5),
            "futures {futures}: teardown took {teardown:?}\n{report}"
        );
    }
}

/// S06 and S08 (issue 12, found by fault injection): `run_async` on its own timer thread waits
/// out a kill grace that begins after an earlier deadline fired, and abandons a thread actor deaf
/// to its interrupt. The timer thread sleeps with no deadline once it has fired one; the runner
/// must wake it when it sets the next, or nothing else may (no force hook, no exit, no lane
/// left to finish): the run hung here until the deaf actor ended.
#[test]
fn s06_i12_run_async_abandons_a_deaf_thread_after_a_later_deadline() {
    for (budget, grace) in [(true, false), (false, true), (true, true)] {
        let mut group = Group::new();
        group.kill_grace(Duration::from_millis(20));
        if budget {
            group.budget(Duration::from_millis(20));
        }
        if grace {
            group.grace(Stage::DEFAULT, Duration::from_millis(20));
        }
        let (release_tx, release) = std::sync::mpsc::channel::<()>();
        group.actor("deaf").add(
            move || {
                let _ = release.recv();
                Ok(())
            },
            |_| {},
        );
        group.actor("job").add(|| Err("done".into()), |_| {});
        let report = bounded(move || block_on(group.run_async_with_report())).join();
        drop(release_tx);
        assert!(
            matches!(report.actors()[0].outcome, Outcome::Abandoned),
            "budget {budget}, grace {grace}: {report}"
        );
        assert!(report.actors()[0].escalated, "{report}");
        assert!(
            report.into_result().is_err(),
            "abandonment is never success"
        );
    }
}

/// A [`rungroup::Timer`] on the real clock whose `sleep_until` panics (`at_poll`: whose sleep
/// panics when polled), as `TokioTimer` does outside a tokio runtime.
struct BrokenTimer {
    origin: Instant,
    at_poll: bool,
}

impl rungroup::Timer for BrokenTimer {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep_until(&self, _deadline: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        assert!(self.at_poll, "no timer here (sleep_until)");
        Box::pin(std::future::poll_fn(|_| -> Poll<()> {
            panic!("no timer here (poll)")
        }))
    }
}

/// S08 and F03 (issue 12, misuse): a timer that panics is user code on the run's thread. The
/// panic is caught, the run keeps its deadlines with its own timer thread (the deaf future is
/// dropped at its grace, the run returns), and the report says what happened
/// (`Error::Timer`, with the panic's message). Before, the panic unwound out of `run_async` and
/// the report was lost.
#[test]
fn s08_i12_a_timer_that_panics_is_reported_and_its_deadlines_kept() {
    for at_poll in [false, true] {
        let mut group = Group::new();
        group.timer(BrokenTimer {
            origin: Instant::now(),
            at_poll,
        });
        let report = deaf_past_a_real_grace(group);
        let error = report.error().expect("the timer's panic is reported");
        assert!(matches!(error, rungroup::Error::Timer { .. }), "{error:?}");
        let text = error.to_string();
        let expected = if at_poll { "(poll)" } else { "(sleep_until)" };
        assert!(
            text.contains("the group's timer failed") && text.contains(expected),
            "{text}"
        );
        assert_eq!(report.exit_code(), 1);
        assert!(
            report.into_result().is_err(),
            "a broken timer is never a success"
        );
    }
}

/// R04 (issue 12, hostile: a `select!` or a timeout that drops the run): once `run_async`'s
/// future has started the actors, dropping it does not leave them behind. Teardown is requested
/// as by a stop request, and a thread of the run's own finishes it: the thread actor's token is
/// stopped, the future actor polled to its end, and the observer hears why. Before, the thread
/// actor was never interrupted and ran on, detached, and the future actor was dropped mid-poll.
#[test]
fn r04_i12_dropping_the_run_future_still_interrupts_every_actor() {
    // Dropped plainly, and dropped while another branch of the caller's unwinds.
    for in_a_panic in [false, true] {
        dropped_run_still_interrupts(in_a_panic);
    }
}

fn dropped_run_still_interrupts(in_a_panic: bool) {
    let (said_tx, said) = std::sync::mpsc::channel::<String>();
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let mut group = Group::new();
    {
        let said_tx = std::sync::Mutex::new(said_tx.clone());
        group.observe(move |event| {
            if let Event::Triggered { cause } = event {
                let _ = said_tx.lock().unwrap().send(format!("triggered: {cause}"));
            }
        });
    }
    {
        let said_tx = said_tx.clone();
        group.actor("thread").add_token(move |token| {
            started_tx.send(()).unwrap();
            token.wait();
            let _ = said_tx.send("thread stopped".into());
            Ok(())
        });
    }
    group
        .actor("future")
        .add_future_token(move |token| async move {
            token.stopped().await;
            let _ = said_tx.send("future stopped".into());
            Ok(())
        });
    let mut run = Box::pin(group.run_async_with_report());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        run.as_mut().poll(&mut cx).is_pending(),
        "nothing has stopped"
    );
    started
        .recv_timeout(FUSE)
        .expect("the thread actor started");
    if in_a_panic {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _run = run;
            panic!("another branch");
        }));
        assert!(unwound.is_err());
    } else {
        drop(run);
    }
    let mut heard: Vec<String> = (0..3)
        .map(|_| {
            said.recv_timeout(FUSE)
                .expect("teardown went on after the drop")
        })
        .collect();
    heard.sort();
    assert_eq!(
        heard,
        [
            "future stopped",
            "thread stopped",
            "triggered: stop requested: the run's future was dropped",
        ]
    );
}

/// R01 (issue 12): a run's future dropped before it was ever polled started nothing, and
/// leaves nothing: the group's closures are dropped with it, no thread is started.
#[test]
fn r01_i12_a_run_future_never_polled_starts_nothing() {
    let drops = Drops::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut group = Group::new();
    {
        let ran = Arc::clone(&ran);
        let guard = drops.guard();
        group.actor("thread").add(
            move || {
                let _guard = guard;
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            |_| {},
        );
    }
    group.actor("future").add_future(deaf(&drops), |_| {});
    drop(group.run_async_with_report());
    assert_eq!(
        drops.count(),
        2,
        "both actors' values dropped with the future"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0, "nothing ran");
}
