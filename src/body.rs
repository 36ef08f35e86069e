//! The actor threads: starting one (after checking that the process can have that many), and
//! what it runs: the execute (or a supervisor's incarnations), then its exit's record, then, for
//! the first exit, the hook lane.

use std::io;

use crate::actor::Policy;
use crate::group::Body;
use crate::lane;
use crate::shared::{Core, Slot, publish_exit};
use crate::sync::Arc;
use crate::sync::thread::{self, JoinHandle};
use crate::unwind::{self, Payload, panic_message};

/// Starting more threads than this at once makes the runner check the process's memory-map limit
/// first (see [`check_map_limit`]).
const MAP_CHECK_FROM: usize = 512;

/// Leaves the actor's stage when dropped, so that even a panic in the bookkeeping after the
/// execute cannot leave the caller waiting forever.
struct LeaveGuard<'a, E> {
    core: &'a Core<E>,
    stage: usize,
}

impl<E> Drop for LeaveGuard<'_, E> {
    fn drop(&mut self) {
        if self.core.live.leave(self.stage) {
            self.core.control.notify();
        }
    }
}

/// The body of every actor thread.
fn actor_main<E: Send + Sync + 'static>(
    core: Arc<Core<E>>,
    slot: Slot<E>,
    index: usize,
    stage: usize,
    policy: Policy,
    execute: Body<E>,
) {
    let span = core.herald.actor_span(index, stage);
    let guard = LeaveGuard { core: &core, stage };
    // The execute and everything it captured are consumed (dropped) inside this call, panicking
    // or not, so they are gone before the stage counter says so (R11). A supervised actor's
    // incarnations too: its exit is the last one's.
    let result = match execute {
        Body::Once(execute) => unwind::catch(execute),
        Body::Supervised(supervisor) => supervisor.run(&core, index),
        Body::Future { .. } => unreachable!("future actors are polled by the driver"),
    };
    let first = publish_exit(&core, &slot, index, policy, result, core.clock.now());
    drop(guard);
    drop(span);
    if first {
        // This thread is free, and teardown needs one for the interrupts: it becomes the hook
        // lane, until the runner closes it.
        if let Some(lane) = &core.first_lane {
            lane::serve(&*core, lane);
        }
    }
}

/// Why the start failed.
pub(crate) enum SpawnError {
    /// The actor at this index could not be started.
    Actor(usize, io::Error),
}

/// Spawns one actor's thread. A failed spawn drops the execute (std does, inside `spawn`); a
/// panic in that drop, or in `spawn` itself, is caught and returned with the error.
pub(crate) fn spawn_actor<E: Send + Sync + 'static>(
    core: &Arc<Core<E>>,
    slot: &Slot<E>,
    index: usize,
    stage: usize,
    policy: Policy,
    stack: Option<usize>,
    execute: Body<E>,
) -> Result<JoinHandle<()>, (io::Error, Option<Payload>)> {
    let name = &core.names[index];
    if name.contains('\0') {
        // std's `Builder::name` would panic on it; the actor never starts, and the error says why.
        let error = io::Error::new(
            io::ErrorKind::InvalidInput,
            "the actor's name contains a NUL byte, which no thread name can",
        );
        return Err((error, unwind::drop_caught(execute)));
    }
    if let Body::Supervised(supervisor) = &execute {
        if let Err(problem) = supervisor.restart.check() {
            let error = io::Error::new(io::ErrorKind::InvalidInput, problem);
            return Err((error, unwind::drop_caught(execute)));
        }
    }
    let mut builder = thread::Builder::new().name(name.clone());
    if let Some(bytes) = stack {
        builder = builder.stack_size(bytes);
    }
    let (actor_core, slot) = (Arc::clone(core), Arc::clone(slot));
    match unwind::catch(move || {
        builder.spawn(move || actor_main(actor_core, slot, index, stage, policy, execute))
    }) {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err(error)) => Err((error, None)),
        Err(payload) => {
            let error = io::Error::other(format!(
                "spawning the thread panicked: {}",
                panic_message(payload.as_ref())
            ));
            Err((error, Some(payload)))
        }
    }
}

/// Refuses to start `threads` more threads when that would pass the process's memory-map limit
/// (Linux's `vm.max_map_count`): std's thread start-up aborts the whole process when a mapping
/// fails there (rust-lang/rust#117638), so the group must fail before. Each thread costs
/// [`MAPS_PER_THREAD`] mappings. Returns the index of the first thread that would not fit.
pub(crate) fn check_map_limit(threads: usize) -> Result<(), (usize, io::Error)> {
    if threads < MAP_CHECK_FROM || !cfg!(target_os = "linux") || cfg!(any(loom, shuttle)) {
        return Ok(());
    }
    let Some((used, limit)) = map_usage() else {
        return Ok(());
    };
    maps_fit(threads, used, limit)
}

/// Mappings one thread adds: its stack and guard page, and its signal stack and guard page
/// (measured: `docs/performance.md`).
const MAPS_PER_THREAD: usize = 4;
/// Mappings kept free for what the process does besides (lanes, allocations, libraries).
const MAP_HEADROOM: usize = 1024;

fn maps_fit(threads: usize, used: usize, limit: usize) -> Result<(), (usize, io::Error)> {
    let free = limit.saturating_sub(used).saturating_sub(MAP_HEADROOM);
    let fit = free / MAPS_PER_THREAD;
    if threads <= fit {
        return Ok(());
    }
    let error = io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "starting {threads} threads would pass the memory-map limit (vm.max_map_count = \
             {limit}, {used} maps in use, {MAPS_PER_THREAD} per thread): only {fit} fit"
        ),
    );
    Err((fit, error))
}

/// The process's mappings in use and its limit, where `/proc` says.
fn map_usage() -> Option<(usize, usize)> {
    let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?;
    let maps = std::fs::read("/proc/self/maps").ok()?;
    let used = maps.iter().filter(|&&byte| byte == b'\n').count();
    Some((used, limit.trim().parse().ok()?))
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    /// The map check lets through what fits and names the first thread that does not.
    #[test]
    fn maps_fit_names_the_first_thread_past_the_limit() {
        assert!(maps_fit(100, 1000, 65530).is_ok());
        let (first, error) = maps_fit(20_000, 1000, 65530).unwrap_err();
        assert_eq!(first, (65530 - 1000 - MAP_HEADROOM) / MAPS_PER_THREAD);
        assert!(
            error.to_string().contains("vm.max_map_count = 65530"),
            "{error}"
        );
        // A process already past its limit fits nothing.
        assert_eq!(maps_fit(1, 70_000, 65530).unwrap_err().0, 0);
    }
}
