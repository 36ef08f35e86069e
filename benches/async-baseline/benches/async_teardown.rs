//! Issue 12's yardstick: a group of async actors torn down the way rungroup does it today (token
//! actors, each running an executor on its own thread and awaiting [`StopToken::stopped`])
//! against the tokio group the issue names (one current-thread runtime, the actors as tasks in a
//! [`JoinSet`], each awaiting its clone of one [`CancellationToken`]). rungroup has no future
//! actors yet: these figures are what that work must beat (results in `docs/performance.md`,
//! "Async baseline (issue 12)").
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
//! - **`async-lifecycle/<impl>/<N>`, L(N)**: N actors that await their stop plus one actor that
//!   returns an error at once; on that first exit every other actor is stopped and awaited.
//!   - `rungroup-token-async`: the same N token actors with [`block_on`] and an extra actor that
//!     returns an error at once; the whole `run` call is timed (start every thread, interrupt,
//!     wait, join). Building the group (boxing the closures) is not timed.
//!   - `tokio-joinset`: the whole `block_on` call on a runtime built (untimed) just before it:
//!     create the token and the `JoinSet`, spawn the N tasks and a task that returns an error at
//!     once, await the first result (the error), `cancel()`, await the other N. Building and
//!     dropping the runtime are not timed (a tokio program already has its runtime).
//!
//! N is in {1, 4, 16, 64, 256, 1024}. With `RUNGROUP_BENCH_TOKIO_PER_ACTOR=1` a third `<impl>`,
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
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Tokio => "tokio-joinset",
            Impl::Rungroup => "rungroup-token-async",
            Impl::RungroupTokio => "rungroup-token-tokio",
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
            Impl::Tokio => unreachable!("not a token actor"),
        }
        Ok(())
    }
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
    let (released, start) = (Arc::clone(&trigger), Arc::clone(&t0));
    group.add(
        move || {
            released.wait();
            let _ = start.set(Instant::now());
            Err("trigger".into())
        },
        |_| {},
    );

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

fn scenario(c: &mut Criterion, name: &str, once: fn(Impl, usize) -> Duration) {
    let per_actor_tokio = env_flag("RUNGROUP_BENCH_TOKIO_PER_ACTOR").then_some(Impl::RungroupTokio);
    let impls: Vec<Impl> = [Impl::Tokio, Impl::Rungroup]
        .into_iter()
        .chain(per_actor_tokio)
        .collect();
    common::scenario(c, name, &impls, Impl::name, once);
}

// Written out rather than `criterion_group!`, whose generated `pub fn` has no docs.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    scenario(&mut criterion, "async-teardown", |imp, n| match imp {
        Impl::Tokio => teardown_tokio(n),
        imp => teardown_rungroup(imp, n),
    });
    scenario(&mut criterion, "async-lifecycle", |imp, n| match imp {
        Impl::Tokio => lifecycle_tokio(n),
        imp => lifecycle_rungroup(imp, n),
    });
    criterion.final_summary();
}
