//! Issue 12's yardstick and its result: a group of async actors torn down by rungroup's future
//! actors (polled by the group itself, on the caller's thread or inside any executor) against the
//! tokio group the issue names (one current-thread runtime, the actors as tasks in a [`JoinSet`],
//! each awaiting its clone of one [`CancellationToken`]), with the pattern that came before
//! future actors (token actors, each running an executor on its own thread and awaiting
//! [`StopToken::stopped`]) alongside. The tokio group is the baseline: every figure is read as a
//! ratio to it (results in `docs/performance.md`, "Async baseline (issue 12)").
//!
//! # Scenarios
//!
//! The definitions mirror `benches/teardown.rs` (issue 6's T(N) and L(N)):
//!
//! - **`async-teardown/<impl>/<N>`, T(N)**: N actors are running, each awaiting its stop.
//!   - `rungroup-token-async`: N token actors ([`Group::add_token`]), each running [`block_on`]
//!     (poll, `thread::park` until the waker unparks the thread, poll again) on
//!     `token.stopped()`, plus the extra actor of `teardown.rs`: blocked on a gate until released,
//!     then it reads `t0` just before it returns an error. `run` is called on a caller thread.
//!     Before the clock starts, every actor thread, the extra actor's thread and the caller's
//!     thread are verified blocked for real (`/proc/self/task/<tid>/stat` says `S`,
//!     `/proc/self/task/<tid>/syscall` says `futex`). Timed: `t0` (read by the extra actor just
//!     before it returns) to `t1` (read by the caller right after `run` returns): the first exit
//!     reaching the group, the N interrupts (`StopToken::stop`, which wakes each actor's waker),
//!     each executor polling `stopped()` to completion and its execute returning, and `run`
//!     joining the N + 1 threads and building its report.
//!   - `tokio-joinset`: a current-thread runtime (`rt` only: no I/O or time driver), built before
//!     the clock starts; inside its `block_on`, N tasks spawned into a `JoinSet`, each awaiting
//!     `token.cancelled()` on its clone of one `CancellationToken`. Before the clock starts, every
//!     task has been polled once and is pending on `cancelled()` (each counts itself started
//!     before it awaits; the supervising future yields until the count is N). There is no
//!     thread to prove blocked: the runtime's one thread is the one that measures. Timed: `t0`,
//!     read just before `token.cancel()` (the trigger), to `t1`, read right after `join_next` has
//!     returned the N-th result: the cancel waking N tasks, the scheduler polling each to
//!     completion, and N `join_next` calls. Not timed: building and dropping the runtime, spawning.
//!     This starts the clock one step later than rungroup's T (at the cancel, where rungroup's
//!     starts at the first exit, before it reaches the group), so it is, if anything, the
//!     stricter yardstick.
//!   - `rungroup-future-run` and `rungroup-future-tokio`: N future token actors
//!     ([`Group::add_future_token`]), each counting itself started and then awaiting
//!     `token.stopped()`, plus a trigger actor that is the tokio group's supervising future turned
//!     actor: a future token actor too (so that its interrupt, like the N others', is the
//!     group's own), which yields until the count is N, then reads `t0` just before it returns an
//!     error: the first exit, on the one thread that drives the group, as the tokio group's
//!     `cancel()` is on the runtime's. `rungroup-future-run`: [`Group::run_with_report`] on this
//!     thread (no runtime). `rungroup-future-tokio`: [`Group::run_async_with_report`] awaited
//!     inside the `block_on` of a current-thread runtime built before the clock starts. Timed:
//!     `t0` to `t1`, read right after the report is back (after `run_with_report` returns; inside
//!     `block_on`, right after the `.await`): the first exit reaching the runner, the N
//!     interrupts (each `StopToken::stop` wakes its actor into the group's ready set), one pass
//!     polling the N actors to completion and dropping them, and the report. Not timed: building
//!     the group, dropping the report. No thread is involved, so none is proven blocked: the
//!     count proves that every actor has been polled to `stopped()`.
//!   - `rungroup-future-run-thread-trigger` (only with `RUNGROUP_BENCH_THREAD_TRIGGER=1`): the N
//!     future token actors of `rungroup-future-run`, with `rungroup-token-async`'s trigger instead
//!     (a thread actor blocked on a gate, reading `t0` just before it returns an error) and
//!     `run_with_report` on a caller thread; before the clock starts the N actors have been
//!     polled to `stopped()` and the trigger's and the caller's threads are proven asleep in
//!     `futex`. A mixed group: what a first exit from another thread (a thread actor, a signal,
//!     a stop request) costs a group of future actors, which the tokio group does not measure.
//!   - `future-floor`: the least that any group of N future actors, each a boxed future awaiting
//!     `stopped()` of its own [`StopToken`], can do, with nothing of a group: the futures in a
//!     `Vec`, one shared waker that only counts (no waker per actor, so no ready set: the floor
//!     polls all N again), each polled once (pending) before the clock starts. Timed: `t0`, read
//!     just before the first `stop()`, to `t1`, read once the N tokens are stopped, the N futures
//!     polled to completion and dropped, and the N stoppers dropped: no interrupt closures, no
//!     exit records or times, no report, no names. A lower bound for the first three designs
//!     above, not a design: what is left of their cost once everything the issue asks of a group
//!     is taken away.
//! - **`async-lifecycle/<impl>/<N>`, L(N)**: N actors that await their stop plus one actor that
//!   returns an error at once; on that first exit every other actor is stopped and awaited.
//!   - `rungroup-token-async`: the same N token actors with [`block_on`] and an extra actor that
//!     returns an error at once; the whole `run` call is timed (start every thread, interrupt,
//!     wait, join). Building the group (boxing the closures) is not timed.
//!   - `rungroup-future-run` and `rungroup-future-tokio`: building the group (N future token
//!     actors and a future token actor that returns an error at once) and running it, timed
//!     whole, as the tokio group's L times its spawns; `-tokio` inside the `block_on` of a
//!     runtime built untimed just before it, as for the tokio group. The report is dropped
//!     untimed. `rungroup-future-run-thread-trigger`: the same with the trigger
//!     `common::time_run_with_trigger` adds (a thread actor that returns an error at once).
//!   - `future-floor`: building the N futures and a future that returns an error at once (boxed,
//!     with their tokens), polling each once, on the error stopping the N tokens, polling them to
//!     completion and dropping everything; timed whole.
//!   - `tokio-joinset`: the whole `block_on` call on a runtime built (untimed) just before it:
//!     create the token and the `JoinSet`, spawn the N tasks and a task that returns an error at
//!     once, await the first result (the error), `cancel()`, await the other N. Building and
//!     dropping the runtime are not timed (a tokio program already has its runtime).
//!
//! N is in {1, 4, 16, 64, 256, 1024}. With `RUNGROUP_BENCH_TOKIO_PER_ACTOR=1` another `<impl>`,
//! `rungroup-token-tokio`, runs each token actor on a tokio current-thread runtime of its own
//! (built inside the execute, as `examples/axum-server` does) instead of [`block_on`]; measured
//! once to choose the cheaper of the two for `rungroup-token-async` (see `docs/performance.md`).
//!
//! # Sampling
//!
//! As `teardown.rs`: `iter_custom`, flat sampling, one iteration per sample (the samples are the
//! per-run distribution), a fresh group (threads or runtime) per iteration, and after each one an
//! untimed wait until the process is back to its thread count. Criterion therefore prints "Unable
//! to complete N samples in 1.0ns": expected.
//!
//! - `cargo bench -p rungroup-async-baseline`: the full run, 200 runs per id at N <= 16 down to 40
//!   at 1024.
//! - `RUNGROUP_BENCH_QUICK=1 cargo bench -p rungroup-async-baseline`: every id, 10 runs each.
//! - `RUNGROUP_BENCH_N=1,64`: only those N.
//! - `RUNGROUP_BENCH_THREAD_TRIGGER=1`: adds `rungroup-future-run-thread-trigger`.
//! - `python3 benches/summarize.py --async`: the tables of `docs/performance.md`.

#[path = "../../common/mod.rs"]
mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use common::{Gate, current_tid, env_flag, wait_blocked, wait_tid};
use criterion::Criterion;
use rungroup::{BoxError, Group, StopToken};
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    /// One current-thread runtime, a `JoinSet`, one `CancellationToken`.
    Tokio,
    /// Token actors, each with [`block_on`] on its thread.
    Rungroup,
    /// Token actors, each with a tokio current-thread runtime of its own (an experiment).
    RungroupTokio,
    /// Future token actors, `run_with_report` driving them on the calling thread (no runtime).
    FutureRun,
    /// Future token actors, `run_async_with_report` polled by a current-thread runtime's
    /// `block_on`.
    FutureTokio,
    /// As `FutureRun`, but the trigger is a thread actor (an experiment: a mixed group).
    FutureRunThreadTrigger,
    /// The least any group of boxed future actors, each awaiting its own `StopToken`, can do.
    FutureFloor,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Tokio => "tokio-joinset",
            Impl::Rungroup => "rungroup-token-async",
            Impl::RungroupTokio => "rungroup-token-tokio",
            Impl::FutureRun => "rungroup-future-run",
            Impl::FutureTokio => "rungroup-future-tokio",
            Impl::FutureRunThreadTrigger => "rungroup-future-run-thread-trigger",
            Impl::FutureFloor => "future-floor",
        }
    }
}

/// Wakes the thread that [`block_on`] parked.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The least executor an async token actor can run on its thread: poll; if pending, park until
/// the waker unparks the thread (a spurious wake-up only costs a poll); poll again.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// A current-thread runtime with no driver: a `JoinSet` and a `CancellationToken` need none.
fn current_thread_runtime() -> Runtime {
    Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// An async token actor's execute: (with `imp`'s executor) publishes its thread's kernel id when
/// asked, then awaits `token.stopped()`.
fn async_actor(
    imp: Impl,
    tid: Option<Arc<OnceLock<u32>>>,
) -> impl FnOnce(StopToken) -> Result<(), BoxError> + Send + 'static {
    move |token| {
        let publish = || {
            if let Some(tid) = tid {
                let _ = tid.set(current_tid());
            }
        };
        match imp {
            Impl::Rungroup => {
                publish();
                block_on(token.stopped());
            }
            Impl::RungroupTokio => {
                let runtime = current_thread_runtime();
                publish();
                runtime.block_on(token.stopped());
            }
            _ => unreachable!("not a token actor"),
        }
        Ok(())
    }
}

/// The thread actor that triggers a timed teardown: it waits for `gate`, reads `t0` and fails.
fn add_gated_trigger(group: &mut Group, gate: &Arc<Gate>, t0: &Arc<OnceLock<Instant>>) {
    let (released, start) = (Arc::clone(gate), Arc::clone(t0));
    group.add(
        move || {
            released.wait();
            let _ = start.set(Instant::now());
            Err("trigger".into())
        },
        |_| {},
    );
}

/// T(N) of rungroup's async pattern: `teardown.rs`'s `Teardown::measure`, with token actors.
fn teardown_rungroup(imp: Impl, n: usize) -> Duration {
    let tids: Vec<Arc<OnceLock<u32>>> = (0..n).map(|_| Arc::new(OnceLock::new())).collect();
    let trigger = Gate::new(true);
    let t0 = Arc::new(OnceLock::new());
    let mut group = Group::new();
    for tid in &tids {
        group.add_token(async_actor(imp, Some(Arc::clone(tid))));
    }
    add_gated_trigger(&mut group, &trigger, &t0);

    let caller_tid = Arc::new(OnceLock::new());
    let published = Arc::clone(&caller_tid);
    let caller = thread::spawn(move || {
        let _ = published.set(current_tid());
        let result = group.run();
        let t1 = Instant::now();
        assert!(result.is_err(), "the trigger's error is the result");
        t1
    });
    let mut blocked: Vec<u32> = tids
        .iter()
        .map(|tid| wait_tid(|| tid.get().copied()))
        .collect();
    blocked.push(wait_tid(|| trigger.tid()));
    blocked.push(wait_tid(|| caller_tid.get().copied()));
    wait_blocked(blocked);
    trigger.open();
    let t1 = caller.join().expect("the caller thread");
    t1 - *t0.get().expect("the trigger read t0")
}

/// T(N) of the tokio group: from `cancel()` to the N-th `join_next`.
fn teardown_tokio(n: usize) -> Duration {
    let runtime = current_thread_runtime();
    runtime.block_on(async move {
        let token = CancellationToken::new();
        let started = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for _ in 0..n {
            let (token, started) = (token.clone(), Arc::clone(&started));
            set.spawn(async move {
                started.fetch_add(1, Ordering::Relaxed);
                token.cancelled().await;
                Ok::<(), BoxError>(())
            });
        }
        // One thread: once the count is N, every task has been polled to `cancelled()`.
        while started.load(Ordering::Relaxed) < n {
            tokio::task::yield_now().await;
        }
        let t0 = Instant::now();
        token.cancel();
        let mut joined = 0;
        while let Some(result) = set.join_next().await {
            let outcome = result.expect("no task panics");
            black_box(outcome.is_ok());
            joined += 1;
        }
        let t1 = Instant::now();
        assert_eq!(joined, n, "every task was joined");
        t1 - t0
    })
}

fn lifecycle_rungroup(imp: Impl, n: usize) -> Duration {
    let mut group = Group::new();
    for _ in 0..n {
        group.add_token(async_actor(imp, None));
    }
    common::time_run_with_trigger(group)
}

fn lifecycle_tokio(n: usize) -> Duration {
    let runtime = current_thread_runtime();
    let t0 = Instant::now();
    let first = runtime.block_on(async move {
        let token = CancellationToken::new();
        let mut set = JoinSet::new();
        for _ in 0..n {
            let token = token.clone();
            set.spawn(async move {
                token.cancelled().await;
                Ok::<(), BoxError>(())
            });
        }
        set.spawn(async { Err::<(), BoxError>("trigger".into()) });
        let first = set
            .join_next()
            .await
            .expect("n + 1 tasks")
            .expect("no task panics");
        token.cancel();
        while let Some(result) = set.join_next().await {
            black_box(result.expect("no task panics").is_ok());
        }
        first
    });
    let elapsed = t0.elapsed();
    assert!(first.is_err(), "the trigger's error came first");
    drop(runtime);
    elapsed
}

// ---- Future actors (issue 12) ----------------------------------------------------------------

/// A future token actor's body: counts itself started (T only) before it awaits its stop.
fn add_future_actors(group: &mut Group, n: usize, started: Option<&Arc<AtomicUsize>>) {
    for _ in 0..n {
        let started = started.map(Arc::clone);
        group.add_future_token(move |token| async move {
            if let Some(started) = started {
                started.fetch_add(1, Ordering::Relaxed);
            }
            token.stopped().await;
            Ok(())
        });
    }
}

/// The trigger of T for the future groups, the tokio group's supervising future turned actor: a
/// future token actor (its interrupt is the group's own, as the N others') that yields until the
/// N actors have all been polled to `stopped()`, then reads `t0` and returns an error: the first
/// exit, on the thread that drives the group, as `cancel()` is on the tokio runtime's.
fn add_future_trigger(
    group: &mut Group,
    n: usize,
    started: Arc<AtomicUsize>,
    t0: Arc<OnceLock<Instant>>,
) {
    group.add_future_token(move |_token| {
        std::future::poll_fn(move |cx| {
            // One thread polls every future actor of the group: no ordering needed.
            if started.load(Ordering::Relaxed) < n {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let _ = t0.set(Instant::now());
            Poll::Ready(Err::<(), BoxError>("trigger".into()))
        })
    });
}

/// T(N) of future token actors, `run_with_report` (a) or `run_async_with_report` on a
/// current-thread runtime (b): from the trigger's `t0` to right after the report is back.
fn teardown_future(imp: Impl, n: usize) -> Duration {
    let started = Arc::new(AtomicUsize::new(0));
    let t0 = Arc::new(OnceLock::new());
    let mut group = Group::new();
    add_future_actors(&mut group, n, Some(&started));
    add_future_trigger(&mut group, n, started, Arc::clone(&t0));
    let (report, t1) = match imp {
        Impl::FutureRun => {
            let report = group.run_with_report();
            (report, Instant::now())
        }
        Impl::FutureTokio => {
            let runtime = current_thread_runtime();
            runtime.block_on(async move {
                let report = group.run_async_with_report().await;
                (report, Instant::now())
            })
        }
        _ => unreachable!("not a future group"),
    };
    let t0 = *t0.get().expect("the trigger read t0");
    assert!(
        report.into_result().is_err(),
        "the trigger's error is the result"
    );
    t1 - t0
}

/// T(N) of future token actors driven by `run_with_report` on a caller thread, with the trigger
/// of `rungroup-token-async`: a thread actor blocked on a gate, released by this thread, reading
/// `t0` just before it returns an error. Before the clock starts, the N actors have been polled
/// to `stopped()`, and the trigger's thread and the caller's (parked between passes) are proven
/// asleep in `futex`.
fn teardown_future_thread_trigger(n: usize) -> Duration {
    let started = Arc::new(AtomicUsize::new(0));
    let trigger = Gate::new(true);
    let t0 = Arc::new(OnceLock::new());
    let mut group = Group::new();
    add_future_actors(&mut group, n, Some(&started));
    add_gated_trigger(&mut group, &trigger, &t0);
    let caller_tid = Arc::new(OnceLock::new());
    let published = Arc::clone(&caller_tid);
    let caller = thread::spawn(move || {
        let _ = published.set(current_tid());
        let report = group.run_with_report();
        let t1 = Instant::now();
        assert!(
            report.into_result().is_err(),
            "the trigger's error is the result"
        );
        t1
    });
    while started.load(Ordering::Acquire) < n {
        thread::sleep(Duration::from_micros(20));
    }
    let blocked = [
        wait_tid(|| trigger.tid()),
        wait_tid(|| caller_tid.get().copied()),
    ];
    wait_blocked(blocked);
    trigger.open();
    let t1 = caller.join().expect("the caller thread");
    t1 - *t0.get().expect("the trigger read t0")
}

/// L(N) of future token actors: build the group (N actors and a trigger actor that returns an
/// error at once), run it, return; timed whole, as the tokio group's L times its spawns. (b) on a
/// runtime built untimed just before, as for the tokio group; the report is dropped untimed.
fn lifecycle_future(imp: Impl, n: usize) -> Duration {
    fn build(n: usize) -> Group {
        let mut group = Group::new();
        add_future_actors(&mut group, n, None);
        group.add_future_token(|_token| async { Err::<(), BoxError>("trigger".into()) });
        group
    }
    let (report, elapsed) = match imp {
        Impl::FutureRun => {
            let t0 = Instant::now();
            let report = black_box(build(n).run_with_report());
            (report, t0.elapsed())
        }
        Impl::FutureTokio => {
            let runtime = current_thread_runtime();
            let t0 = Instant::now();
            let report = runtime.block_on(async move { build(n).run_async_with_report().await });
            let elapsed = t0.elapsed();
            drop(runtime);
            (black_box(report), elapsed)
        }
        Impl::FutureRunThreadTrigger => {
            // `common::time_run_with_trigger`'s trigger (a thread actor failing at once), with the
            // build timed as above.
            let t0 = Instant::now();
            let mut group = Group::new();
            add_future_actors(&mut group, n, None);
            group.add(|| Err("trigger".into()), |_| {});
            let report = black_box(group.run_with_report());
            (report, t0.elapsed())
        }
        _ => unreachable!("not a future group"),
    };
    assert!(
        report.into_result().is_err(),
        "the trigger's error is the result"
    );
    elapsed
}

// ---- The floor of future actors --------------------------------------------------------------

/// The floor's one waker: counts its wakes, nothing else.
struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

type FloorFuture = std::pin::Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// N boxed futures awaiting their own token, and the tokens' stoppers.
fn floor_actors(n: usize) -> (Vec<Option<FloorFuture>>, Vec<StopToken>) {
    (0..n)
        .map(|_| {
            let token = StopToken::new();
            let stopper = token.clone();
            let future: FloorFuture = Box::pin(async move {
                token.stopped().await;
                Ok(())
            });
            (Some(future), stopper)
        })
        .unzip()
}

/// Polls every future still there once; drops those that completed. Returns how many did.
fn floor_pass(futures: &mut [Option<FloorFuture>], cx: &mut Context<'_>) -> usize {
    let mut done = 0;
    for slot in futures.iter_mut() {
        if let Some(future) = slot {
            if let Poll::Ready(result) = future.as_mut().poll(cx) {
                black_box(result.is_ok());
                *slot = None;
                done += 1;
            }
        }
    }
    done
}

/// T(N) of the floor: from the first `stop()` to the last future and stopper dropped.
fn teardown_floor(n: usize) -> Duration {
    let waker = Waker::from(Arc::new(CountWakes(AtomicUsize::new(0))));
    let mut cx = Context::from_waker(&waker);
    let (mut futures, stoppers) = floor_actors(n);
    assert_eq!(
        floor_pass(&mut futures, &mut cx),
        0,
        "every future awaits its stop"
    );
    let t0 = Instant::now();
    for stopper in &stoppers {
        stopper.stop();
    }
    let done = floor_pass(&mut futures, &mut cx);
    drop(stoppers);
    drop(futures);
    let t1 = Instant::now();
    assert_eq!(done, n, "every future completed");
    t1 - t0
}

/// L(N) of the floor: build, poll, the error, stop, poll to completion, drop; timed whole.
fn lifecycle_floor(n: usize) -> Duration {
    let t0 = Instant::now();
    let waker = Waker::from(Arc::new(CountWakes(AtomicUsize::new(0))));
    let mut cx = Context::from_waker(&waker);
    let (mut futures, stoppers) = floor_actors(n);
    let trigger: FloorFuture = Box::pin(async { Err::<(), BoxError>("trigger".into()) });
    futures.push(Some(trigger));
    assert_eq!(
        floor_pass(&mut futures, &mut cx),
        1,
        "the trigger fails at once"
    );
    for stopper in &stoppers {
        stopper.stop();
    }
    let done = floor_pass(&mut futures, &mut cx);
    drop(stoppers);
    drop(futures);
    let elapsed = t0.elapsed();
    assert_eq!(done, n, "every future completed");
    elapsed
}

fn scenario(c: &mut Criterion, name: &str, once: fn(Impl, usize) -> Duration) {
    let per_actor_tokio = env_flag("RUNGROUP_BENCH_TOKIO_PER_ACTOR").then_some(Impl::RungroupTokio);
    let thread_trigger =
        env_flag("RUNGROUP_BENCH_THREAD_TRIGGER").then_some(Impl::FutureRunThreadTrigger);
    let impls: Vec<Impl> = [
        Impl::Tokio,
        Impl::FutureRun,
        Impl::FutureTokio,
        Impl::FutureFloor,
    ]
    .into_iter()
    .chain(thread_trigger)
    .chain([Impl::Rungroup])
    .chain(per_actor_tokio)
    .collect();
    common::scenario(c, name, &impls, Impl::name, once);
}

// Written out rather than `criterion_group!`, whose generated `pub fn` has no docs.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    scenario(&mut criterion, "async-teardown", |imp, n| match imp {
        Impl::Tokio => teardown_tokio(n),
        Impl::FutureRun | Impl::FutureTokio => teardown_future(imp, n),
        Impl::FutureRunThreadTrigger => teardown_future_thread_trigger(n),
        Impl::FutureFloor => teardown_floor(n),
        Impl::Rungroup | Impl::RungroupTokio => teardown_rungroup(imp, n),
    });
    scenario(&mut criterion, "async-lifecycle", |imp, n| match imp {
        Impl::Tokio => lifecycle_tokio(n),
        Impl::FutureRun | Impl::FutureTokio | Impl::FutureRunThreadTrigger => {
            lifecycle_future(imp, n)
        }
        Impl::FutureFloor => lifecycle_floor(n),
        Impl::Rungroup | Impl::RungroupTokio => lifecycle_rungroup(imp, n),
    });
    criterion.final_summary();
}
