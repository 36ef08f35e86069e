//! Teardown latency and full lifecycle of a group, against a hand-written baseline and the floor
//! of any thread-per-actor design (rule V04; results and analysis in `docs/performance.md`).
//!
//! # Scenarios (issue 6's definitions)
//!
//! - **`teardown/<impl>/<N>`, T(N)**: N actors are running, each blocked on its own wake
//!   primitive (a [`Gate`]: `thread::park` until its interrupt opens it). Before the clock starts,
//!   every actor thread, the extra actor's thread and the caller's thread are verified blocked
//!   for real: `/proc/self/task/<tid>/stat` says `S` and `/proc/self/task/<tid>/syscall` says
//!   `futex`. One more actor is then released and returns an error; it reads `t0` just before it
//!   returns. `t1` is read by the caller right after `run` returns. Reported: `t1 - t0`.
//! - **`lifecycle/<impl>/<N>`, L(N)**: a group of N actors that block on their gates plus one actor
//!   that returns an error at once; the whole `run` call is timed (start every thread, interrupt,
//!   wait). Building the group (boxing the user's closures) is not timed.
//!
//! N is in {1, 4, 16, 64, 256, 1024}. `<impl>` is:
//!
//! - `rungroup`: `rungroup::Group` with `add(execute, interrupt)`, then `run()`.
//! - `naive`: Go's algorithm written by hand the way a Rust user would today ([`naive_run`]):
//!   `std::thread::scope`, one thread per actor, an `mpsc` channel of results, wait for the first,
//!   call the interrupts in order, receive the rest; the scope then joins the threads.
//! - `floor`: the least a thread-per-actor design can do: N threads parked on one flag; the
//!   measuring thread sets it, unparks them and parks until a done counter reaches N (the last
//!   thread unparks it). No results, no interrupts, no bookkeeping, no extra actor. In T, `t0` is
//!   read just before the flag is set; in L, the spawning of the N threads is timed too.
//!
//! Every iteration builds fresh threads; after it, the bench waits (untimed) until the process is
//! back to its thread count, so a run's exiting threads never overlap the next measurement.
//!
//! # Sampling
//!
//! `iter_custom`, flat sampling, one iteration per sample (so the samples are the per-run
//! distribution and `sample.json` gives honest percentiles). Criterion therefore prints "Unable to
//! complete N samples in 1.0ns" for every benchmark: expected, the setup of each iteration (spawning
//! N threads and proving them blocked) is not timed and the sample count is what we ask for.
//!
//! - `cargo bench --bench teardown`: the full run, 200 runs per id at N <= 16 down to 40 at 1024
//!   (about a minute on a 2-core machine once built).
//! - `RUNGROUP_BENCH_QUICK=1 cargo bench --bench teardown`: every id, 10 runs each (about 10 s once
//!   built): the CI smoke mode. `cargo bench --bench teardown -- --quick` (criterion's own quick
//!   mode, 3 runs per id, under 2 s) also works.
//! - `RUNGROUP_BENCH_N=1,64`: only those N.
//! - `RUNGROUP_BENCH_PROXY=1`: adds the experiment `teardown/proxy/<N>` ([`teardown_proxy`]):
//!   the cost of a design in which the first exit's own thread calls the interrupts.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use common::{Gate, NaiveActor, current_tid, env_flag, naive_run, wait_blocked, wait_tid};
use criterion::Criterion;
use rungroup::{BoxError, Group};

/// The implementations compared, in the order they run at each N.
const IMPLS: [Impl; 3] = [Impl::Rungroup, Impl::Naive, Impl::Floor];

#[derive(Clone, Copy, Debug)]
enum Impl {
    Rungroup,
    Naive,
    Floor,
    /// An experiment (`RUNGROUP_BENCH_PROXY=1`, T only), not a baseline: see the module doc.
    Proxy,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Rungroup => "rungroup",
            Impl::Naive => "naive",
            Impl::Floor => "floor",
            Impl::Proxy => "proxy",
        }
    }
}

/// An actor that blocks on `gate` until its interrupt opens it.
fn gated(
    gate: &Arc<Gate>,
) -> (
    impl FnOnce() -> Result<(), BoxError> + Send + 'static,
    Arc<Gate>,
) {
    let waiting = Arc::clone(gate);
    (
        move || {
            waiting.wait();
            Ok(())
        },
        Arc::clone(gate),
    )
}

/// What a measured T(N) run shares with its caller thread.
struct Teardown {
    gates: Vec<Arc<Gate>>,
    trigger: Arc<Gate>,
    t0: Arc<OnceLock<Instant>>,
}

impl Teardown {
    fn new(n: usize) -> Self {
        Self {
            gates: (0..n).map(|_| Gate::new(true)).collect(),
            trigger: Gate::new(true),
            t0: Arc::new(OnceLock::new()),
        }
    }

    /// The extra actor: blocked until released, then reads `t0` and returns an error.
    fn trigger_execute(&self) -> impl FnOnce() -> Result<(), BoxError> + Send + 'static {
        let (trigger, t0) = (Arc::clone(&self.trigger), Arc::clone(&self.t0));
        move || {
            trigger.wait();
            let _ = t0.set(Instant::now());
            Err("trigger".into())
        }
    }

    /// Runs `run` on a caller thread, proves everything blocked, releases the trigger, and
    /// returns `t1 - t0`.
    fn measure(self, run: impl FnOnce() -> Result<(), BoxError> + Send + 'static) -> Duration {
        let caller_tid = Arc::new(OnceLock::new());
        let published = Arc::clone(&caller_tid);
        let caller = thread::spawn(move || {
            let _ = published.set(current_tid());
            let result = run();
            let t1 = Instant::now();
            assert!(result.is_err(), "the trigger's error is the result");
            t1
        });
        let mut tids: Vec<u32> = self
            .gates
            .iter()
            .chain([&self.trigger])
            .map(|gate| wait_tid(|| gate.tid()))
            .collect();
        tids.push(wait_tid(|| caller_tid.get().copied()));
        wait_blocked(tids);
        self.trigger.open();
        let t1 = caller.join().expect("the caller thread");
        t1 - *self.t0.get().expect("the trigger read t0")
    }
}

fn teardown_rungroup(n: usize) -> Duration {
    let setup = Teardown::new(n);
    let mut group = Group::new();
    for gate in &setup.gates {
        let (execute, interrupt) = gated(gate);
        group.add(execute, move |_| interrupt.open());
    }
    group.add(setup.trigger_execute(), |_| {});
    setup.measure(move || group.run())
}

/// The `proxy` experiment: a `rungroup` group whose interrupts do nothing; the extra actor opens
/// every gate itself, in order, on its own thread, before it returns its error. This is what
/// `rungroup` would measure if the first exit's thread called the interrupts (no wake of the
/// caller between the trigger and the first interrupt). The gated actors return errors too (the
/// first exit may be theirs), which changes nothing else.
fn teardown_proxy(n: usize) -> Duration {
    let setup = Teardown::new(n);
    let mut group = Group::new();
    for gate in &setup.gates {
        let waiting = Arc::clone(gate);
        group.add(
            move || {
                waiting.wait();
                Err("interrupted".into())
            },
            |_| {},
        );
    }
    let gates: Vec<_> = setup.gates.iter().map(Arc::clone).collect();
    let (trigger, t0) = (Arc::clone(&setup.trigger), Arc::clone(&setup.t0));
    group.add(
        move || {
            trigger.wait();
            let _ = t0.set(Instant::now());
            for gate in &gates {
                gate.open();
            }
            Err("trigger".into())
        },
        |_| {},
    );
    setup.measure(move || group.run())
}

fn teardown_naive(n: usize) -> Duration {
    let setup = Teardown::new(n);
    let mut actors: Vec<NaiveActor> = Vec::with_capacity(n + 1);
    for gate in &setup.gates {
        let (execute, interrupt) = gated(gate);
        actors.push((Box::new(execute), Box::new(move |_| interrupt.open())));
    }
    actors.push((Box::new(setup.trigger_execute()), Box::new(|_| {})));
    setup.measure(move || naive_run(actors))
}

/// The floor's threads: park on one flag, count themselves done, the last wakes the measurer.
fn floor_threads<'scope>(
    scope: &'scope thread::Scope<'scope, '_>,
    n: usize,
    flag: &'scope AtomicBool,
    done: &'scope AtomicUsize,
    tids: Option<&'scope [OnceLock<u32>]>,
) -> Vec<thread::ScopedJoinHandle<'scope, ()>> {
    let measurer = thread::current();
    (0..n)
        .map(|index| {
            let measurer = measurer.clone();
            scope.spawn(move || {
                if let Some(tids) = tids {
                    let _ = tids[index].set(current_tid());
                }
                while !flag.load(Ordering::Acquire) {
                    thread::park();
                }
                if done.fetch_add(1, Ordering::AcqRel) + 1 == n {
                    measurer.unpark();
                }
            })
        })
        .collect()
}

/// Sets the flag, unparks every thread, parks until the done counter reaches `n`.
fn floor_release(
    n: usize,
    flag: &AtomicBool,
    done: &AtomicUsize,
    threads: &[thread::ScopedJoinHandle<'_, ()>],
) {
    flag.store(true, Ordering::Release);
    for handle in threads {
        handle.thread().unpark();
    }
    while done.load(Ordering::Acquire) < n {
        thread::park();
    }
}

fn teardown_floor(n: usize) -> Duration {
    let (flag, done) = (AtomicBool::new(false), AtomicUsize::new(0));
    let tids: Vec<OnceLock<u32>> = (0..n).map(|_| OnceLock::new()).collect();
    thread::scope(|scope| {
        let threads = floor_threads(scope, n, &flag, &done, Some(&tids));
        wait_blocked(tids.iter().map(|tid| wait_tid(|| tid.get().copied())));
        let t0 = Instant::now();
        floor_release(n, &flag, &done, &threads);
        let elapsed = t0.elapsed();
        join_all(threads);
        elapsed
    })
}

/// Joins the floor's threads after the measurement. Dropping a `ScopedJoinHandle` instead would
/// `pthread_detach` threads that are exiting at that moment, which races in glibc (2.36 here):
/// `pthread_detach` reads the thread's descriptor after marking it detached, and the exiting
/// thread may free it in between; this bench once died of that SIGSEGV. Joining cannot race.
fn join_all(threads: Vec<thread::ScopedJoinHandle<'_, ()>>) {
    for handle in threads {
        handle.join().expect("a floor thread");
    }
}

fn lifecycle_rungroup(n: usize) -> Duration {
    let gates: Vec<_> = (0..n).map(|_| Gate::new(false)).collect();
    let mut group = Group::new();
    for gate in &gates {
        let (execute, interrupt) = gated(gate);
        group.add(execute, move |_| interrupt.open());
    }
    common::time_run_with_trigger(group)
}

fn lifecycle_naive(n: usize) -> Duration {
    let gates: Vec<_> = (0..n).map(|_| Gate::new(false)).collect();
    let mut actors: Vec<NaiveActor> = Vec::with_capacity(n + 1);
    for gate in &gates {
        let (execute, interrupt) = gated(gate);
        actors.push((Box::new(execute), Box::new(move |_| interrupt.open())));
    }
    actors.push((Box::new(|| Err("trigger".into())), Box::new(|_| {})));
    let t0 = Instant::now();
    let result = black_box(naive_run(actors));
    let elapsed = t0.elapsed();
    assert!(result.is_err());
    elapsed
}

fn lifecycle_floor(n: usize) -> Duration {
    let (flag, done) = (AtomicBool::new(false), AtomicUsize::new(0));
    let t0 = Instant::now();
    thread::scope(|scope| {
        let threads = floor_threads(scope, n, &flag, &done, None);
        floor_release(n, &flag, &done, &threads);
        let elapsed = t0.elapsed();
        join_all(threads);
        elapsed
    })
}

fn scenario(c: &mut Criterion, name: &str, once: fn(Impl, usize) -> Duration) {
    let proxy = name == "teardown" && env_flag("RUNGROUP_BENCH_PROXY");
    let impls: Vec<Impl> = IMPLS
        .into_iter()
        .chain(proxy.then_some(Impl::Proxy))
        .collect();
    common::scenario(c, name, &impls, Impl::name, once);
}

fn teardown(c: &mut Criterion) {
    scenario(c, "teardown", |imp, n| match imp {
        Impl::Rungroup => teardown_rungroup(n),
        Impl::Naive => teardown_naive(n),
        Impl::Floor => teardown_floor(n),
        Impl::Proxy => teardown_proxy(n),
    });
}

fn lifecycle(c: &mut Criterion) {
    scenario(c, "lifecycle", |imp, n| match imp {
        Impl::Rungroup => lifecycle_rungroup(n),
        Impl::Naive => lifecycle_naive(n),
        Impl::Floor => lifecycle_floor(n),
        Impl::Proxy => unreachable!("the proxy experiment is T only"),
    });
}

// Written out rather than `criterion_group!`, whose generated `pub fn` has no docs.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    teardown(&mut criterion);
    lifecycle(&mut criterion);
    criterion.final_summary();
}
