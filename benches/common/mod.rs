//! Shared by the bench binaries (`teardown`, `footprint`): the actors' wake primitive, and the
//! `/proc` probes that prove a thread is really blocked and that a run's threads are really gone.
//!
//! Linux only (it reads `/proc`), no `unsafe`, no libc: a thread learns its own kernel id from
//! the `/proc/thread-self` link, and a thread is "blocked" when `/proc/self/task/<tid>/stat` says
//! `S` (interruptible sleep) *and* `/proc/self/task/<tid>/syscall` says it sleeps in `futex`
//! (where std's `park`, std's `mpsc` and parking_lot's condvar all sleep).

#![allow(dead_code)] // each bench binary uses a different subset

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, OnceLock, mpsc};
use std::thread::{self, Thread};
use std::time::Duration;

use rungroup::BoxError;

/// One actor's wake primitive: the actor parks on it, its interrupt opens it. Sticky: opening it
/// before the actor waits makes the wait return at once (rule R07), which the lifecycle scenario
/// needs because interrupts may come before an actor's thread has even started.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    open: AtomicBool,
    waiter: OnceLock<Waiter>,
    /// Whether `wait` reads the thread's kernel id first (only the teardown scenario needs it:
    /// the read is a `readlink`, kept out of the lifecycle scenario's timed path).
    record_tid: bool,
}

#[derive(Debug)]
struct Waiter {
    thread: Thread,
    tid: Option<u32>,
}

impl Gate {
    /// A closed gate.
    pub(crate) fn new(record_tid: bool) -> Arc<Self> {
        Arc::new(Self {
            record_tid,
            ..Self::default()
        })
    }

    /// Parks the calling thread until the gate is opened.
    pub(crate) fn wait(&self) {
        let tid = self.record_tid.then(current_tid);
        let _ = self.waiter.set(Waiter {
            thread: thread::current(),
            tid,
        });
        // ORDERING: a Dekker pair with `open`: each side stores, fences, then loads the other
        // side's store, so at least one of them sees the other (no lost wake-up).
        fence(Ordering::SeqCst);
        while !self.open.load(Ordering::Acquire) {
            thread::park();
        }
    }

    /// Opens the gate and wakes its waiter, if it is already waiting.
    pub(crate) fn open(&self) {
        self.open.store(true, Ordering::Release);
        fence(Ordering::SeqCst); // ORDERING: see `wait`.
        if let Some(waiter) = self.waiter.get() {
            waiter.thread.unpark();
        }
    }

    /// The waiting thread's kernel id, once it has reached `wait` (needs `record_tid`).
    pub(crate) fn tid(&self) -> Option<u32> {
        self.waiter.get().and_then(|waiter| waiter.tid)
    }
}

/// The calling thread's kernel thread id, from the `/proc/thread-self -> <pid>/task/<tid>` link.
pub(crate) fn current_tid() -> u32 {
    let link = fs::read_link("/proc/thread-self").expect("/proc/thread-self (Linux only)");
    link.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .expect("/proc/thread-self links to <pid>/task/<tid>")
}

/// The `futex` syscall number, where a parked thread sleeps.
const SYS_FUTEX: Option<&str> = if cfg!(target_arch = "x86_64") {
    Some("202")
} else if cfg!(target_arch = "aarch64") {
    Some("98")
} else {
    None
};

/// Whether thread `tid` of this process is asleep in `futex` right now.
pub(crate) fn is_blocked(tid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // The state is the first field after the command name, which is in parentheses and may
    // itself contain spaces or parentheses: find the last ')'.
    let state = stat
        .rfind(')')
        .and_then(|at| stat[at + 1..].split_whitespace().next());
    if state != Some("S") {
        return false;
    }
    match SYS_FUTEX {
        None => true,
        Some(futex) => fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
            .is_ok_and(|syscall| syscall.split_whitespace().next() == Some(futex)),
    }
}

/// Waits (polling `/proc`, outside any timed region) until every thread of `tids` is blocked.
pub(crate) fn wait_blocked(tids: impl IntoIterator<Item = u32>) {
    for tid in tids {
        while !is_blocked(tid) {
            thread::sleep(Duration::from_micros(20));
        }
    }
}

/// Waits until `tid` has been published by `get`, then returns it.
pub(crate) fn wait_tid(get: impl Fn() -> Option<u32>) -> u32 {
    loop {
        if let Some(tid) = get() {
            return tid;
        }
        thread::sleep(Duration::from_micros(20));
    }
}

/// The number of threads of this process.
pub(crate) fn thread_count() -> usize {
    fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// Waits until this process is back to `count` threads: the previous run's detached threads have
/// finished exiting, so they cannot disturb the next measurement.
pub(crate) fn wait_thread_count(count: usize) {
    while thread_count() > count {
        thread::sleep(Duration::from_micros(50));
    }
}

/// Total CPU time (user + system, nanoseconds) the given threads have used, from
/// `/proc/self/task/<tid>/schedstat` (its first field: nanoseconds on a CPU).
pub(crate) fn cpu_ns(tids: &[u32]) -> u64 {
    tids.iter()
        .map(|tid| {
            fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
                .ok()
                .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// Voluntary plus involuntary context switches of the given threads, from their `status`.
pub(crate) fn context_switches(tids: &[u32]) -> u64 {
    tids.iter()
        .map(|tid| {
            let status =
                fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap_or_default();
            status
                .lines()
                .filter(|line| line.contains("ctxt_switches"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// A field of `/proc/self/status` in kB (`VmRSS`, `VmSize`).
pub(crate) fn status_kb(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find(|line| line.starts_with(field) && line[field.len()..].starts_with(':'))
        .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        .expect("field of /proc/self/status")
}

/// What a user's hand-written group holds: an execute and an interrupt per actor.
pub(crate) type NaiveActor = (
    Box<dyn FnOnce() -> Result<(), BoxError> + Send>,
    Box<dyn FnOnce(&Result<(), BoxError>) + Send>,
);

/// Go's `run.Group.Run`, written by hand with std the way a Rust user would today.
pub(crate) fn naive_run(actors: Vec<NaiveActor>) -> Result<(), BoxError> {
    if actors.is_empty() {
        return Ok(());
    }
    let count = actors.len();
    let (tx, rx) = mpsc::channel();
    thread::scope(|scope| {
        let mut interrupts = Vec::with_capacity(count);
        for (execute, interrupt) in actors {
            let tx = tx.clone();
            scope.spawn(move || {
                let _ = tx.send(execute());
            });
            interrupts.push(interrupt);
        }
        let first = rx.recv().expect("an actor always sends");
        for interrupt in interrupts {
            interrupt(&first);
        }
        for _ in 1..count {
            let _ = rx.recv();
        }
        first
    })
}

// ---- The sizes and sample counts every bench binary uses -----------------------------------

/// Whether the environment variable `name` is set to anything but `0` or empty.
pub(crate) fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// The N to measure: all of issue 6's, or `RUNGROUP_BENCH_N=1,64`.
pub(crate) fn sizes() -> Vec<usize> {
    match std::env::var("RUNGROUP_BENCH_N") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("RUNGROUP_BENCH_N: comma-separated sizes")
            })
            .collect(),
        Err(_) => vec![1, 4, 16, 64, 256, 1024],
    }
}

/// Samples per benchmark (one iteration each): fewer where one iteration's setup is expensive.
pub(crate) fn samples(n: usize) -> usize {
    if env_flag("RUNGROUP_BENCH_QUICK") {
        return 10;
    }
    match n {
        0..=16 => 200,
        17..=64 => 100,
        65..=256 => 60,
        _ => 40,
    }
}

/// One benchmark group `name`: every size of [`sizes`], every implementation in `impls` (named
/// by `label`), one untimed setup and one timed run per sample (`once` returns the timed part),
/// and between runs a wait until the process's thread count is back where it was, so that no
/// run pays for the last one's exiting threads.
pub(crate) fn scenario<I: Copy>(
    c: &mut criterion::Criterion,
    name: &str,
    impls: &[I],
    label: fn(I) -> &'static str,
    once: fn(I, usize) -> Duration,
) {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(criterion::SamplingMode::Flat)
        // One iteration per sample: the setup is untimed and costs more than the measurement, so
        // criterion's time targets would only multiply it.
        .warm_up_time(Duration::from_nanos(1))
        .measurement_time(Duration::from_nanos(1));
    for n in sizes() {
        group.sample_size(samples(n));
        for &imp in impls {
            group.bench_with_input(criterion::BenchmarkId::new(label(imp), n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let threads = thread_count();
                        total += once(imp, n);
                        wait_thread_count(threads);
                    }
                    total
                });
            });
        }
    }
    group.finish();
}

/// Adds the trigger actor (an execute that fails at once: the first exit) to `group`, then times
/// its whole `run`: the lifecycle L(N) of every rungroup variant.
pub(crate) fn time_run_with_trigger(mut group: rungroup::Group) -> Duration {
    group.add(|| Err("trigger".into()), |_| {});
    let t0 = std::time::Instant::now();
    let result = std::hint::black_box(group.run());
    let elapsed = t0.elapsed();
    assert!(result.is_err());
    elapsed
}
