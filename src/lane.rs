//! Hook lanes: the helper threads that call interrupts and force hooks, so that the caller's
//! thread never runs a hook and can always walk away from one that blocks.
//!
//! A lane calls its jobs one at a time, in the order they were queued. Every run has one, the
//! *hook lane*, and hands it every stage's interrupts in turn: interrupts are therefore called one
//! at a time, in stage then registration order (R05, S01), on one thread. The thread that serves
//! it is the first exit's own (its execute has returned; it needs nothing else), or, when teardown
//! was requested from outside (a stop, a signal), one spawned for it.
//!
//! When a deadline or a second stop request finds the hook lane inside a hook, the runner
//! *retires* that lane: it takes the jobs still queued on it and hands them to a fresh lane, and
//! lets the retired one finish its hook whenever it does (S04: only then may a later interrupt run
//! while an earlier one has not returned). Each force hook runs on a lane of its own, so that one
//! blocked force hook cannot keep another actor's from running (S05).
//!
//! # States of a lane (under its mutex)
//!
//! | `queue`   | `running` | `closed` | meaning                                               |
//! |-----------|-----------|----------|-------------------------------------------------------|
//! | empty     | `None`    | no       | idle: parked on `cond`, waiting for jobs              |
//! | any       | `Some`    | any      | calling a hook (blocked, if a deadline passed)        |
//! | non-empty | `None`    | any      | between two jobs                                      |
//! | empty     | `None`    | yes      | ending: the thread returns without running user code  |
//!
//! A job holds its own reference to the cause and drops it *before* the lane clears `running`, so
//! a lane seen idle under its lock holds no reference to the cause: the runner can then move the
//! first exit's value back out of it (R09).
//!
//! Every change the runner waits for (a job done, the lane ended) is announced after the lane's
//! lock is released, through [`Control::notify`], which takes the runner's wake lock: the runner
//! checks lanes while holding that lock, so the announcement cannot fall between its check and its
//! wait (no lost wake-up).

use std::collections::VecDeque;
use std::io;

use crate::actor::{Force, Interrupt};
use crate::note::Note;
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex};
use crate::unwind;
use crate::unwind::Payload;
use crate::why::Cause;

/// A hook to call on a lane.
pub(crate) enum Job<E> {
    Interrupt {
        actor: usize,
        hook: Interrupt<E>,
        cause: Arc<Cause<E>>,
    },
    Force {
        actor: usize,
        hook: Force,
    },
}

/// Which hook of an actor a job calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hook {
    Interrupt,
    Force,
}

impl<E> Job<E> {
    pub(crate) fn meta(&self) -> (usize, Hook) {
        match self {
            Job::Interrupt { actor, .. } => (*actor, Hook::Interrupt),
            Job::Force { actor, .. } => (*actor, Hook::Force),
        }
    }

    /// Calls the hook, catching its panic. The job's reference to the cause is dropped before this
    /// returns.
    fn call(self) -> Option<Payload> {
        match self {
            Job::Interrupt { hook, cause, .. } => {
                let panic = unwind::catch(|| hook(&cause)).err();
                // Not the last reference while the runner holds its own; after `run` has returned
                // it may be, and nobody is left to tell about a panic in the value's `Drop`.
                unwind::drop_quietly(cause);
                panic
            }
            Job::Force { hook, .. } => unwind::catch(hook).err(),
        }
    }
}

/// One lane: its queue and what it has done, shared by its thread and the runner.
pub(crate) struct Lane<E> {
    state: Mutex<LaneState<E>>,
    /// Where the lane's thread waits for jobs.
    cond: Condvar,
}

struct LaneState<E> {
    queue: VecDeque<Job<E>>,
    running: Option<(usize, Hook)>,
    /// Hooks called and finished since the runner last collected them, with any panic.
    done: Vec<(usize, Hook, Option<Payload>)>,
    closed: bool,
}

/// A lane whose thread could not be spawned: why, and the jobs it was given, never started.
pub(crate) struct NoThread<E> {
    pub(crate) error: io::Error,
    pub(crate) jobs: Vec<Job<E>>,
}

/// What the runner learns when it closes a lane for good.
pub(crate) struct Closed<E> {
    /// Hooks that finished, with any panic.
    pub(crate) done: Vec<(usize, Hook, Option<Payload>)>,
    /// The hook being called, which has not returned.
    pub(crate) blocked: Option<(usize, Hook)>,
    /// Jobs never started.
    pub(crate) skipped: Vec<Job<E>>,
}

impl<E> Lane<E> {
    /// A lane with `jobs` queued and no thread yet: [`serve`] it on some thread.
    pub(crate) fn new(jobs: Vec<Job<E>>) -> Arc<Self> {
        Arc::new(Lane {
            state: Mutex::new(LaneState {
                queue: jobs.into(),
                running: None,
                done: Vec::new(),
                closed: false,
            }),
            cond: Condvar::new(),
        })
    }
}

/// What a lane needs of the group it serves: to record events and to wake the runner. The
/// running group's shared state (`shared::Core`) is the one host; the lane does not know it.
pub(crate) trait Host: Send + Sync + 'static {
    fn emit(&self, note: Note);
    /// Wakes the runner.
    fn notify(&self);
}

impl<E: Send + Sync + 'static> Lane<E> {
    /// Starts a lane thread with `jobs` queued.
    pub(crate) fn spawn<H: Host>(
        core: &Arc<H>,
        jobs: Vec<Job<E>>,
    ) -> Result<(Arc<Self>, JoinHandle<()>), NoThread<E>> {
        let lane = Self::new(jobs);
        Self::start(core, lane)
    }

    /// Starts a thread serving `lane`.
    pub(crate) fn start<H: Host>(
        core: &Arc<H>,
        lane: Arc<Self>,
    ) -> Result<(Arc<Self>, JoinHandle<()>), NoThread<E>> {
        let (thread_core, thread_lane) = (Arc::clone(core), Arc::clone(&lane));
        match thread::Builder::new()
            .name("rungroup-hooks".to_owned())
            .spawn(move || serve(&*thread_core, &thread_lane))
        {
            Ok(handle) => Ok((lane, handle)),
            Err(error) => {
                // The closure (and its references) is gone; the jobs are still in the queue.
                let jobs = std::mem::take(&mut lane.state.lock().queue);
                Err(NoThread {
                    error,
                    jobs: jobs.into(),
                })
            }
        }
    }
}

impl<E> Lane<E> {
    /// Queues `jobs` behind any already queued.
    pub(crate) fn push(&self, jobs: Vec<Job<E>>) {
        let mut state = self.state.lock();
        debug_assert!(!state.closed, "rungroup: a job for a closed lane");
        state.queue.extend(jobs);
        self.cond.notify_one();
    }

    /// Whether the lane has nothing to do: no hook being called, none queued.
    pub(crate) fn is_idle(&self) -> bool {
        let state = self.state.lock();
        state.running.is_none() && state.queue.is_empty()
    }

    /// Whether the lane is inside a hook.
    pub(crate) fn is_calling(&self) -> bool {
        self.state.lock().running.is_some()
    }

    /// Takes the jobs not yet started and closes the lane: its thread ends once the hook it may be
    /// in returns, and calls nothing after it.
    pub(crate) fn retire(&self) -> Vec<Job<E>> {
        let mut state = self.state.lock();
        state.closed = true;
        self.cond.notify_one();
        std::mem::take(&mut state.queue).into()
    }

    /// Closes the lane for good, in one look under its lock: what it finished, what it is stuck
    /// in, and what it never started (which it now never will).
    pub(crate) fn close(&self) -> Closed<E> {
        let mut state = self.state.lock();
        state.closed = true;
        self.cond.notify_one();
        Closed {
            done: std::mem::take(&mut state.done),
            blocked: state.running,
            skipped: std::mem::take(&mut state.queue).into(),
        }
    }
}

/// Calls one job on this thread, with its events: what a lane does for each job, and what the
/// runner itself does when no lane thread can be had and no deadline is configured.
pub(crate) fn call_here<E>(core: &impl Host, job: Job<E>) -> (usize, Hook, Option<Payload>) {
    let (actor, hook) = job.meta();
    if hook == Hook::Interrupt {
        core.emit(Note::Interrupting { actor });
    }
    let panic = job.call();
    (actor, hook, panic)
}

pub(crate) fn announce(core: &impl Host, actor: usize, hook: Hook, panicked: bool) {
    let hook = match hook {
        Hook::Interrupt => "interrupt",
        Hook::Force => "force",
    };
    core.emit(Note::HookReturned {
        actor,
        hook,
        panicked,
    });
}

/// Serves `lane` on this thread until it is closed and empty: the body of a lane thread, and what
/// the first exit's own thread does once its execute has returned (it is free, and teardown
/// needs a thread for the interrupts: no spawn on the way to the first interrupt).
pub(crate) fn serve<E>(core: &impl Host, lane: &Lane<E>) {
    loop {
        let job = {
            let mut state = lane.state.lock();
            loop {
                if let Some(job) = state.queue.pop_front() {
                    state.running = Some(job.meta());
                    break Some(job);
                }
                if state.closed {
                    break None;
                }
                state = lane.cond.wait(state);
            }
        };
        let Some(job) = job else { return };
        let (actor, hook, panic) = call_here(core, job);
        let panicked = panic.is_some();
        let idle = {
            let mut state = lane.state.lock();
            state.running = None;
            state.done.push((actor, hook, panic));
            state.queue.is_empty()
        };
        announce(core, actor, hook, panicked);
        if idle {
            core.notify();
        }
    }
}
