//! What a running group costs besides time (issue 6; results in `docs/performance.md`):
//!
//! 1. **Idle CPU**: a group of 64 actors, each blocked on its own wake primitive, plus the caller
//!    blocked in `run`, left alone for one second. Reported: the CPU time those 65 threads used
//!    (`/proc/self/task/<tid>/schedstat`, nanoseconds on a CPU) and their context switches
//!    (`/proc/self/task/<tid>/status`): 66 threads (64 actors, the actor that will end the run, the
//!    caller). No polling means both stay at zero.
//! 2. **Heap bytes per actor beyond the user's closures**: a counting global allocator. For N = 64
//!    and N = 256 actors: the live heap while every actor is verified blocked (counted from just
//!    before the group is built, after the actors' own state exists), and the bytes allocated over a
//!    whole lifecycle run (as in the `lifecycle` bench: N gated actors plus one that fails at once,
//!    no `/proc` probing inside). The per-actor figure is the slope between the two N (fixed costs
//!    cancel), minus the user's closures (the boxes that hold them: their sizes are known here). The hand-written `naive` baseline and the `floor`
//!    (the same gated threads spawned with std's `thread::scope`, nothing else) are measured the
//!    same way: the floor is what std's threads alone cost (the thread handle, the result packet,
//!    the boxed thread closure, the stack-overflow handler's bookkeeping).
//! 3. **Stack size**: the actor threads' default stack size is std's (2 MiB unless the
//!    `RUST_MIN_STACK` environment variable says otherwise); [`Group::stack_size`] and
//!    [`rungroup::ActorBuilder::stack_size`] change it. Reported: the process's virtual size and
//!    resident set per blocked actor with the default and with `stack_size(64 KiB)`.
//!
//! Run it with `cargo bench --bench footprint` (a few seconds). Under `cargo test --benches` (no
//! `--bench` argument) it runs a shortened smoke version.

#[path = "common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use common::{
    Gate, NaiveActor, context_switches, cpu_ns, current_tid, naive_run, status_kb, thread_count,
    wait_blocked, wait_thread_count, wait_tid,
};
use rungroup::{BoxError, Group};

/// Bytes ever allocated, and ever freed, by anyone in this process.
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting bytes. Bench-only: the library itself has no `unsafe`.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which implements
// `GlobalAlloc` correctly; the counters never touch the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // ORDERING: plain statistics, read after the measured threads are quiescent.
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: our caller upholds `alloc`'s contract, which is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size(), Ordering::Relaxed); // ORDERING: as in `alloc`.
        // SAFETY: `ptr` was allocated by `System.alloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    // `realloc` and `alloc_zeroed` keep their default bodies, which call the two above.
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes currently live.
fn live() -> isize {
    ALLOCATED.load(Ordering::Relaxed) as isize - FREED.load(Ordering::Relaxed) as isize
}

/// Bytes ever allocated.
fn allocated() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}

/// The group sizes the heap and stack figures are computed from.
const SMALL: usize = 64;
const LARGE: usize = 256;

/// The user's closures per actor, in heap bytes: each is boxed once, and each captures one
/// `Arc<Gate>` (a pointer), so two 8-byte boxes.
const USER_CLOSURE_BYTES: usize = 2 * size_of::<Arc<Gate>>();

#[derive(Clone, Copy, PartialEq)]
enum Impl {
    Rungroup {
        stack: Option<usize>,
    },
    Naive,
    /// std alone: the caller spawns the threads in a `thread::scope`, each waits on its gate.
    Floor,
}

/// `imp`'s run of one gated actor per gate plus `last`, ready to call. `last` runs as an actor
/// (on its own thread) in all three.
fn build(
    imp: Impl,
    gates: &[Arc<Gate>],
    last: impl FnOnce() -> Result<(), BoxError> + Send + 'static,
) -> Box<dyn FnOnce() -> Result<(), BoxError> + Send> {
    match imp {
        Impl::Rungroup { stack } => {
            let mut group = Group::new();
            if let Some(bytes) = stack {
                group.stack_size(bytes);
            }
            for gate in gates {
                let (waiting, opener) = (Arc::clone(gate), Arc::clone(gate));
                group.add(
                    move || {
                        waiting.wait();
                        Ok(())
                    },
                    move |_| opener.open(),
                );
            }
            group.add(last, |_| {});
            Box::new(move || group.run())
        }
        Impl::Naive => {
            let mut actors: Vec<NaiveActor> = Vec::with_capacity(gates.len() + 1);
            for gate in gates {
                let (waiting, opener) = (Arc::clone(gate), Arc::clone(gate));
                actors.push((
                    Box::new(move || {
                        waiting.wait();
                        Ok(())
                    }),
                    Box::new(move |_| opener.open()),
                ));
            }
            actors.push((Box::new(last), Box::new(|_| {})));
            Box::new(move || naive_run(actors))
        }
        Impl::Floor => {
            let waiting: Vec<_> = gates.iter().map(Arc::clone).collect();
            Box::new(move || {
                thread::scope(|scope| {
                    let handles: Vec<_> = waiting
                        .iter()
                        .map(|gate| scope.spawn(move || gate.wait()))
                        .collect();
                    let result = scope.spawn(last).join().expect("the last actor");
                    // No interrupts in the floor: the result opens every gate directly.
                    for gate in &waiting {
                        gate.open();
                    }
                    drop(handles);
                    result
                })
            })
        }
    }
}

/// A run of `n` gated actors plus a trigger actor, on a caller thread, every thread verified
/// blocked.
struct Running {
    gates: Vec<Arc<Gate>>,
    trigger: Arc<Gate>,
    caller: thread::JoinHandle<()>,
    tids: Vec<u32>,
    /// Heap bytes live now beyond those live before the run was built.
    live: isize,
}

impl Running {
    fn start(imp: Impl, n: usize) -> Self {
        let gates: Vec<_> = (0..n).map(|_| Gate::new(true)).collect();
        let trigger = Gate::new(true);
        let caller_tid = Arc::new(OnceLock::new());
        let mut tids = Vec::with_capacity(n + 2);
        let base = live();
        let released = Arc::clone(&trigger);
        let run = build(imp, &gates, move || {
            released.wait();
            Err("trigger".into())
        });
        let published = Arc::clone(&caller_tid);
        let caller = thread::spawn(move || {
            let _ = published.set(current_tid());
            assert!(run().is_err(), "the trigger's error is the result");
        });
        for gate in gates.iter().chain([&trigger]) {
            tids.push(wait_tid(|| gate.tid()));
        }
        tids.push(wait_tid(|| caller_tid.get().copied()));
        wait_blocked(tids.iter().copied());
        let live = live() - base;
        Self {
            gates,
            trigger,
            caller,
            tids,
            live,
        }
    }

    /// Releases the trigger and waits for the run to end.
    fn finish(self) {
        self.trigger.open();
        self.caller.join().expect("the caller thread");
        drop(self.gates);
    }
}

/// Heap bytes live while `n` actors run.
fn live_running(imp: Impl, n: usize) -> isize {
    let threads = thread_count();
    let running = Running::start(imp, n);
    let live = running.live;
    running.finish();
    wait_thread_count(threads);
    live
}

/// Bytes allocated by one whole lifecycle run of `n` actors (building it excluded).
fn allocated_by_run(imp: Impl, n: usize) -> isize {
    let threads = thread_count();
    let gates: Vec<_> = (0..n).map(|_| Gate::new(false)).collect();
    let run = build(imp, &gates, || Err("trigger".into()));
    let before = allocated();
    assert!(run().is_err());
    let bytes = allocated() - before;
    wait_thread_count(threads);
    bytes as isize
}

fn per_actor(measure: impl Fn(usize) -> isize) -> f64 {
    let (small, large) = (measure(SMALL), measure(LARGE));
    (large - small) as f64 / (LARGE - SMALL) as f64
}

/// Prints the per-actor heap figures of `imp`; returns the live bytes per actor while running.
fn report_heap(name: &str, imp: Impl, floor: Option<f64>) -> f64 {
    // A warm-up run, so one-time allocations (thread-local buffers, std's lazy statics) are not
    // charged to the first measured size.
    live_running(imp, 4);
    // The floor's threads run the closures themselves: nothing to subtract.
    let closures = if imp == Impl::Floor {
        0
    } else {
        USER_CLOSURE_BYTES
    };
    let running = per_actor(|n| live_running(imp, n)) - closures as f64;
    // The closures were allocated before the run began: nothing to subtract.
    let total = per_actor(|n| allocated_by_run(imp, n));
    let split = floor.map_or(String::new(), |floor| {
        format!(" = std's threads {floor:.0} B + {:.0} B", running - floor)
    });
    println!(
        "heap/{name}: per actor, beyond the user's closures ({closures} B): \
         live while running {running:.0} B{split}; allocated over a whole run {total:.0} B"
    );
    running
}

fn report_idle(idle: Duration) {
    let running = Running::start(Impl::Rungroup { stack: None }, 64);
    let (cpu, switches) = (cpu_ns(&running.tids), context_switches(&running.tids));
    thread::sleep(idle);
    let cpu = cpu_ns(&running.tids) - cpu;
    let switches = context_switches(&running.tids) - switches;
    println!(
        "idle/rungroup/64: {} threads over {idle:?}: {cpu} ns of CPU, {switches} context switches",
        running.tids.len()
    );
    running.finish();
}

fn report_stack(n: usize) {
    for (name, stack) in [("default", None), ("64KiB", Some(64 * 1024))] {
        let threads = thread_count();
        let (vm, rss) = (status_kb("VmSize"), status_kb("VmRSS"));
        let running = Running::start(Impl::Rungroup { stack }, n);
        let (vm, rss) = (
            status_kb("VmSize") - vm,
            status_kb("VmRSS").saturating_sub(rss),
        );
        running.finish();
        wait_thread_count(threads);
        println!(
            "stack/{name}: per blocked actor {} KiB virtual, {} KiB resident",
            vm / (n as u64 + 2),
            rss / (n as u64 + 2),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: a smoke run then.
    let bench = std::env::args().any(|arg| arg == "--bench");
    if let Ok(min) = std::env::var("RUST_MIN_STACK") {
        println!("RUST_MIN_STACK={min} (the default actor stack size)");
    } else {
        println!("RUST_MIN_STACK unset: actor threads get std's default stack, 2 MiB");
    }
    report_idle(if bench {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(10)
    });
    let floor = report_heap("floor", Impl::Floor, None);
    report_heap("rungroup", Impl::Rungroup { stack: None }, Some(floor));
    report_heap("naive", Impl::Naive, Some(floor));
    report_stack(if bench { LARGE } else { SMALL });
}
