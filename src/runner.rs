//! The runner: starts the actor threads, waits for the trigger, drives teardown stage by stage
//! and builds the report.
//!
//! The caller's thread is the runner. It never polls: it sleeps on the wake pair of
//! [`Control`](crate::state::Control) and is woken by a trigger, by the last actor of a stage, by an
//! interrupt lane finishing, by an escalation, or by a [`ManualClock`](crate::ManualClock) advance.
//!
//! # Two ways of calling interrupts
//!
//! - **Inline** (no grace and no budget configured: the `oklog/run` case). Interrupts are called
//!   on the caller's thread, one at a time, in registration order. No extra thread exists; a
//!   blocking interrupt blocks `run`, exactly as in Go (F04).
//! - **On lanes** (a grace or a budget is configured). A stage's interrupts are handed, in order,
//!   to a *lane*: a helper thread that calls them one at a time. The caller waits for the lane and
//!   the stage's actors, or the deadline, whichever comes first. When the deadline wins while an
//!   interrupt is blocked, the lane's remaining interrupts move to a fresh lane and teardown goes on
//!   (S04: only then may a later interrupt run while an earlier one has not returned). Force hooks
//!   run on their own lane, so a blocked interrupt cannot keep a force hook from running.
//!
//! # Threads are detached, not joined
//!
//! An actor's thread publishes its outcome and leaves its stage's live counter as its last act for
//! the group; `run` waits for the counters, not for the OS threads. So when `run` returns every
//! execute has returned and dropped its captures (R08, R11), but an OS thread may still be
//! finishing its exit (thread-local destructors included), as with `std::thread::scope`'s own
//! counter. Abandoned threads (S06) could not be joined anyway.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use crate::clock::RunClock;
use crate::error::Error;
use crate::group::{ActorSpec, Execute, Force, Group, Interrupt, Policy, StageSpec};
use crate::observe::{Event, Observer};
use crate::report::{
    ActorReport, Cause, InterruptOutcome, Outcome, Payload, Report, StageReport, Trigger,
    panic_message,
};
use crate::state::{Control, EXTERNAL, Live, RUNNING, phase, who};
use crate::sync::{Arc, Mutex, thread};

/// What a finished execute left behind: its result (or panic) and when it ended.
struct Exit<E> {
    result: Result<Result<(), E>, Payload>,
    at: Duration,
}

/// What the runner, the actor threads and the lanes share.
pub(crate) struct Core<E> {
    control: Arc<Control>,
    live: Live,
    /// One slot per actor, written once by that actor's thread (its only lock).
    slots: Box<[Mutex<Option<Exit<E>>>]>,
    names: Box<[String]>,
    clock: RunClock,
    observer: Option<Observer>,
}

impl<E> Core<E> {
    fn emit(&self, event: Event<'_>) {
        #[cfg(feature = "tracing")]
        crate::observe::trace(&event);
        if let Some(observer) = &self.observer {
            // An observer's panic must not wedge teardown or kill an actor's bookkeeping.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| observer(&event)));
        }
    }

    /// Whether anything consumes events (an observer, or `tracing` when that feature is on).
    /// Events whose fields cost work to build, like the cause's text, are built only then.
    fn observed(&self) -> bool {
        cfg!(feature = "tracing") || self.observer.is_some()
    }

    fn has_exited(&self, actor: usize) -> bool {
        self.slots[actor].lock().is_some()
    }
}

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
fn actor_main<E>(
    core: Arc<Core<E>>,
    index: usize,
    stage: usize,
    policy: Policy,
    execute: Execute<E>,
) {
    let guard = LeaveGuard { core: &core, stage };
    // The execute and everything it captured are consumed (dropped) inside this call, panicking
    // or not, so they are gone before the stage counter says so (R11).
    let result = panic::catch_unwind(AssertUnwindSafe(execute));
    let at = core.clock.now();
    let label = match &result {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) => "error",
        Err(_) => "panicked",
    };
    let triggers = !(policy == Policy::OnError && label == "ok");
    // Publish the outcome first: the runner reads the winner's slot after seeing the win.
    *core.slots[index].lock() = Some(Exit { result, at });
    let first = triggers && core.control.try_win(index);
    core.emit(Event::ActorExited {
        actor: &core.names[index],
        outcome: label,
        first,
    });
    drop(guard);
}

/// A unit of work for a lane.
enum Job<E> {
    Interrupt(usize, Interrupt<E>),
    Force(usize, Force),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Interrupt,
    Force,
}

impl<E> Job<E> {
    fn meta(&self) -> (usize, JobKind) {
        match self {
            Job::Interrupt(actor, _) => (*actor, JobKind::Interrupt),
            Job::Force(actor, _) => (*actor, JobKind::Force),
        }
    }

    /// Calls the hook. `cause` is `None` only on a lane of force hooks, which never need it.
    fn call(self, cause: Option<&Cause<E>>) -> Result<(), Payload> {
        panic::catch_unwind(AssertUnwindSafe(|| match self {
            Job::Interrupt(_, interrupt) => {
                interrupt(cause.expect("rungroup: an interrupt lane always carries the cause"));
            }
            Job::Force(_, force) => force(),
        }))
    }
}

/// A helper thread that calls hooks one at a time, in order.
struct Lane<E> {
    state: Mutex<LaneState<E>>,
}

struct LaneState<E> {
    queue: VecDeque<Job<E>>,
    running: Option<(usize, JobKind)>,
    done: Vec<(usize, JobKind, Option<Payload>)>,
    /// Set after the lane has dropped its reference to the cause.
    finished: bool,
}

/// `cause` is `None` on a lane that only calls force hooks: such a lane, even blocked for good,
/// does not keep the first exit's value from coming back out of the cause.
fn lane_main<E>(core: Arc<Core<E>>, lane: Arc<Lane<E>>, cause: Option<Arc<Cause<E>>>) {
    loop {
        let job = {
            let mut state = lane.state.lock();
            let Some(job) = state.queue.pop_front() else {
                break;
            };
            state.running = Some(job.meta());
            job
        };
        let (actor, kind) = job.meta();
        if kind == JobKind::Interrupt {
            core.emit(Event::Interrupting {
                actor: &core.names[actor],
            });
        }
        let result = job.call(cause.as_deref());
        let mut state = lane.state.lock();
        state.running = None;
        state.done.push((actor, kind, result.err()));
    }
    // Drop the cause before saying "finished", so the runner can take the first exit's value
    // back out of it once every lane has finished.
    drop(cause);
    lane.state.lock().finished = true;
    core.control.notify();
}

/// Why a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Done,
    Expired,
    Escalated,
}

/// The runner's own view of one actor.
struct Entry<E> {
    stage: usize,
    policy: Policy,
    started: bool,
    interrupt: Option<Interrupt<E>>,
    force: Option<Force>,
    interrupt_outcome: InterruptOutcome,
    escalated: bool,
    force_failed: bool,
}

struct Runner<E> {
    core: Arc<Core<E>>,
    entries: Vec<Entry<E>>,
    stages: Vec<StageSpec>,
    stage_reports: Vec<StageReport>,
    /// Interrupts go to lanes (a grace or budget is configured) rather than inline.
    lanes_mode: bool,
    budget_deadline: Option<Duration>,
    kill_grace: Duration,
    escalations_seen: usize,
    lanes: Vec<Arc<Lane<E>>>,
}

pub(crate) fn run<E: Send + Sync + 'static>(group: Group<E>) -> Report<E> {
    let Group {
        actors,
        stages,
        budget,
        kill_grace,
        clock,
        observer,
        control,
        stack_size,
    } = group;
    let wake = Arc::clone(control.wake_pair());
    let clock = clock.start(&wake);
    let stage_reports = stages
        .iter()
        .map(|stage| StageReport {
            name: stage.name.clone(),
            elapsed: None,
            expired: false,
        })
        .collect();

    if actors.is_empty() {
        // R01: nothing to start, nothing to call.
        control.finish();
        clock.stop(&wake);
        return Report {
            trigger: Trigger::Empty,
            actors: Vec::new(),
            stages: stage_reports,
            triggered_at: None,
            teardown: None,
            error: None,
        };
    }

    let mut counts = vec![0; stages.len()];
    for actor in &actors {
        counts[actor.stage] += 1;
    }
    let lanes_mode = budget.is_some() || stages.iter().any(|stage| stage.grace.is_some());
    let mut names = Vec::with_capacity(actors.len());
    let mut specs = Vec::with_capacity(actors.len());
    for actor in actors {
        let ActorSpec {
            name,
            stage,
            policy,
            stack_size: own_stack,
            execute,
            interrupt,
            force,
        } = actor;
        names.push(name);
        specs.push((
            stage,
            policy,
            own_stack.or(stack_size),
            execute,
            interrupt,
            force,
        ));
    }
    let core = Arc::new(Core {
        control: Arc::clone(&control),
        live: Live::new(&counts),
        slots: (0..specs.len()).map(|_| Mutex::new(None)).collect(),
        names: names.into_boxed_slice(),
        clock,
        observer,
    });

    // R02: start every execute, in registration order, each on its own thread.
    let mut entries = Vec::with_capacity(specs.len());
    let mut spawn_error: Option<(usize, io::Error)> = None;
    for (index, (stage, policy, stack, execute, interrupt, force)) in specs.into_iter().enumerate()
    {
        let started = spawn_error.is_none() && {
            let mut builder = thread::Builder::new().name(core.names[index].clone());
            if let Some(bytes) = stack {
                builder = builder.stack_size(bytes);
            }
            let actor_core = Arc::clone(&core);
            match builder.spawn(move || actor_main(actor_core, index, stage, policy, execute)) {
                Ok(handle) => {
                    drop(handle); // detached: `run` waits on the live counters instead
                    true
                }
                Err(error) => {
                    // The closure, and with it the execute, was dropped by the failed spawn.
                    spawn_error = Some((index, error));
                    false
                }
            }
        };
        if !started {
            core.live.forget(stage, 1);
        }
        entries.push(Entry {
            stage,
            policy,
            started,
            interrupt: started.then_some(interrupt),
            force: if started { force } else { None },
            interrupt_outcome: InterruptOutcome::NotCalled,
            escalated: false,
            force_failed: false,
        });
    }
    if let Some((index, _)) = &spawn_error {
        // F03: tear down what was started. If an actor already exited first, its exit stays the
        // cause; the spawn error is still what `run` returns.
        control.request(Trigger::SpawnFailed { actor: *index }, false);
    }

    let mut runner = Runner {
        core,
        entries,
        stages,
        stage_reports,
        lanes_mode,
        budget_deadline: None,
        kill_grace,
        escalations_seen: 0,
        lanes: Vec::new(),
    };

    // Wait for the trigger (or for every actor to have left without one: all on-error and Ok).
    let _ = runner.wait(None, |core| {
        phase(core.control.load()) != RUNNING || core.live.all_done()
    });
    if phase(control.load()) == RUNNING {
        control.request(Trigger::AllExited, false);
    }
    let triggered_at = runner.core.clock.now();
    runner.budget_deadline = budget.map(|budget| triggered_at.saturating_add(budget));
    let (trigger, cause, winner) = runner.resolve_cause();
    // Formatting the cause costs an allocation on the way to the first interrupt: only when
    // someone listens.
    if runner.core.observed() {
        runner.core.emit(Event::Triggered {
            cause: &cause.to_string(),
        });
    }
    let cause = Arc::new(cause);

    runner.teardown(&cause);

    let teardown = runner.core.clock.now().saturating_sub(triggered_at);
    let report = runner.finish(trigger, cause, winner, triggered_at, teardown, spawn_error);
    control.finish();
    report
}

/// The first exit's record, kept aside while its result travels inside the cause.
struct Winner {
    index: usize,
    at: Duration,
    payload: Option<Payload>,
}

impl<E: Send + Sync + 'static> Runner<E> {
    /// Blocks until `done`, the deadline, or an escalation. Checks happen under the wake lock, and
    /// every waker notifies under it: no lost wake-up.
    fn wait(&mut self, deadline: Option<Duration>, done: impl Fn(&Core<E>) -> bool) -> Wait {
        let core = &*self.core;
        let pair = core.control.wake_pair();
        let mut guard = pair.lock.lock();
        loop {
            if done(core) {
                return Wait::Done;
            }
            if guard.escalations > self.escalations_seen {
                self.escalations_seen = guard.escalations;
                return Wait::Escalated;
            }
            if deadline.is_some_and(|deadline| core.clock.now() >= deadline) {
                return Wait::Expired;
            }
            guard = match core.clock.wait_budget(deadline) {
                Some(timeout) => pair.cond.wait_timeout(guard, timeout),
                None => pair.cond.wait(guard),
            };
        }
    }

    /// Turns the state word into the cause every interrupt will see.
    fn resolve_cause(&mut self) -> (Trigger, Cause<E>, Option<Winner>) {
        let state = self.core.control.load();
        let who = who(state).expect("resolve_cause runs after the trigger");
        if who == EXTERNAL {
            let external = self
                .core
                .control
                .wake_pair()
                .lock
                .lock()
                .external
                .clone()
                .expect("an external trigger leaves its details under the wake lock");
            let cause = match &external {
                Trigger::Stop { reason } => Cause::Stop {
                    reason: reason.clone(),
                },
                Trigger::Signal { signal } => Cause::Signal { signal: *signal },
                Trigger::SpawnFailed { actor } => Cause::SpawnFailed {
                    actor: self.core.names[*actor].clone(),
                },
                _ => Cause::AllExited,
            };
            return (external, cause, None);
        }
        let exit = self.core.slots[who]
            .lock()
            .take()
            .expect("the winner publishes its exit before its compare-exchange");
        let actor = self.core.names[who].clone();
        let (cause, payload) = match exit.result {
            Ok(result) => (Cause::Exit { actor, result }, None),
            Err(payload) => (
                Cause::Panic {
                    actor,
                    message: panic_message(payload.as_ref()),
                },
                Some(payload),
            ),
        };
        let winner = Winner {
            index: who,
            at: exit.at,
            payload,
        };
        (Trigger::Exit { actor: who }, cause, Some(winner))
    }

    fn now(&self) -> Duration {
        self.core.clock.now()
    }

    /// Whether `actor`'s execute has returned: its slot is filled, or it is the first exit (whose
    /// slot `resolve_cause` emptied; the state word still names it).
    fn has_exited(&self, actor: usize) -> bool {
        who(self.core.control.load()) == Some(actor) || self.core.has_exited(actor)
    }

    fn budget_spent(&self) -> bool {
        self.budget_deadline
            .is_some_and(|deadline| self.now() >= deadline)
    }

    /// Whether `actor` was started and belongs to `stage`. (A predicate, not a list: teardown
    /// walks the entries in registration order without allocating per stage.)
    fn is_member(&self, actor: usize, stage: usize) -> bool {
        self.entries[actor].stage == stage && self.entries[actor].started
    }

    /// Stage by stage: interrupt, wait to drain or expire, escalate what is left.
    fn teardown(&mut self, cause: &Arc<Cause<E>>) {
        let mut stage = 0;
        // When the budget runs out mid-stage, that stage's start, for its report.
        let mut interrupted_begin = None;
        while stage < self.stages.len() && !self.budget_spent() {
            let begin = self.now();
            self.core.emit(Event::StageBegun {
                index: stage,
                stage: &self.stages[stage].name,
            });
            let grace_deadline = self.stages[stage]
                .grace
                .map(|grace| begin.saturating_add(grace));
            let deadline = min_deadline(grace_deadline, self.budget_deadline);
            let wait = if self.lanes_mode {
                let mut jobs = Vec::new();
                for actor in 0..self.entries.len() {
                    if self.is_member(actor, stage) {
                        if let Some(interrupt) = self.entries[actor].interrupt.take() {
                            jobs.push(Job::Interrupt(actor, interrupt));
                        }
                    }
                }
                let lane = self.dispatch(jobs, cause);
                self.wait(deadline, |core| {
                    core.live.count(stage) == 0
                        && lane.as_ref().is_none_or(|lane| lane.state.lock().finished)
                })
            } else {
                for actor in 0..self.entries.len() {
                    if self.is_member(actor, stage) {
                        self.call_inline(actor, cause);
                    }
                }
                self.wait(None, |core| core.live.count(stage) == 0)
            };
            if wait == Wait::Done {
                self.end_stage(stage, begin, false);
                stage += 1;
                continue;
            }
            if wait == Wait::Escalated {
                // A second stop request: the budget is spent, now.
                self.budget_deadline = Some(self.now());
            }
            if self.budget_spent() {
                // The final escalation below takes this stage along with the rest.
                interrupted_begin = Some(begin);
                break;
            }
            // Only this stage's grace expired: escalate it, give it the kill grace, go on.
            let cap = self.budget_deadline;
            if self.escalate(stage..stage + 1, cause, cap, false) == Wait::Escalated {
                self.budget_deadline = Some(self.now());
            }
            self.end_stage(stage, begin, true);
            stage += 1;
        }
        if stage < self.stages.len() {
            self.final_escalation(stage, interrupted_begin, cause);
        }
    }

    /// The budget is spent: escalate every remaining stage at once and give them one kill grace.
    fn final_escalation(
        &mut self,
        from: usize,
        interrupted_begin: Option<Duration>,
        cause: &Arc<Cause<E>>,
    ) {
        let begin = self.now();
        for stage in from..self.stages.len() {
            if stage != from || interrupted_begin.is_none() {
                self.core.emit(Event::StageBegun {
                    index: stage,
                    stage: &self.stages[stage].name,
                });
            }
        }
        let _ = self.escalate(from..self.stages.len(), cause, None, true);
        for stage in from..self.stages.len() {
            let stage_begin = match interrupted_begin {
                Some(at) if stage == from => at,
                _ => begin,
            };
            // A stage that had not begun when the budget ran out still counts as expired: its
            // actors were escalated without a grace.
            self.end_stage(stage, stage_begin, true);
        }
    }

    /// Escalates the live actors of `stages`: calls the interrupts not yet called, the force
    /// hooks, then waits up to the kill grace (capped by `cap`) for them to drain and for those
    /// hooks to return.
    ///
    /// Escalation always uses lanes, even when stages do not (a second stop request without
    /// deadlines): the kill grace is a deadline, so no hook called here may block `run` past it.
    /// Interrupts keep one lane, in stage then registration order (R05, S01); each force hook
    /// gets its own, so one blocked force hook cannot keep another actor's from running (S05).
    fn escalate(
        &mut self,
        stages: std::ops::Range<usize>,
        cause: &Arc<Cause<E>>,
        cap: Option<Duration>,
        last: bool,
    ) -> Wait {
        // The kill grace runs from the escalation itself, before any hook is called.
        let deadline = min_deadline(Some(self.now().saturating_add(self.kill_grace)), cap);
        // Hooks still queued behind a blocked one move on to fresh lanes.
        let mut interrupts = Vec::new();
        let mut forces = Vec::new();
        for lane in &self.lanes {
            for job in lane.state.lock().queue.drain(..) {
                match job {
                    Job::Interrupt(..) => interrupts.push(job),
                    Job::Force(..) => forces.push(job),
                }
            }
        }
        let mut actors: Vec<usize> = (0..self.entries.len())
            .filter(|&actor| {
                let entry = &self.entries[actor];
                entry.started && stages.contains(&entry.stage)
            })
            .collect();
        // Stable: registration order within a stage.
        actors.sort_by_key(|&actor| self.entries[actor].stage);
        for actor in actors {
            let exited = self.has_exited(actor);
            let entry = &mut self.entries[actor];
            if let Some(interrupt) = entry.interrupt.take() {
                interrupts.push(Job::Interrupt(actor, interrupt));
            }
            if exited {
                continue;
            }
            entry.escalated = true;
            self.core.emit(Event::Escalated {
                actor: &self.core.names[actor],
            });
            if let Some(force) = entry.force.take() {
                forces.push(Job::Force(actor, force));
            }
        }
        // An interrupt of these stages still running on its stage's lane gets the kill grace too,
        // so that one returning in time is not reported as blocked (S06). The queues were drained
        // above, so such a lane finishes (and wakes us) as soon as that interrupt returns.
        let mut dispatched: Vec<_> = self
            .lanes
            .iter()
            .filter(|lane| {
                lane.state
                    .lock()
                    .running
                    .is_some_and(|(actor, _)| stages.contains(&self.entries[actor].stage))
            })
            .cloned()
            .collect();
        dispatched.extend(self.dispatch(interrupts, cause));
        for force in forces {
            dispatched.extend(self.dispatch(vec![force], cause));
        }
        let drained = move |core: &Core<E>| {
            stages.clone().all(|stage| core.live.count(stage) == 0)
                && dispatched.iter().all(|lane| lane.state.lock().finished)
        };
        loop {
            match self.wait(deadline, &drained) {
                // In the final escalation (`last`) everything is already escalated: one more stop
                // request (a third SIGTERM) must not cut the kill grace short, or actors about to
                // return would be reported abandoned.
                Wait::Escalated if last => continue,
                wait => return wait,
            }
        }
    }

    fn end_stage(&mut self, stage: usize, begin: Duration, expired: bool) {
        let elapsed = self.now().saturating_sub(begin);
        self.stage_reports[stage].elapsed = Some(elapsed);
        self.stage_reports[stage].expired = expired;
        self.core.emit(Event::StageEnded {
            index: stage,
            stage: &self.stages[stage].name,
            elapsed,
            expired,
        });
    }

    fn call_inline(&mut self, actor: usize, cause: &Arc<Cause<E>>) {
        if let Some(interrupt) = self.entries[actor].interrupt.take() {
            self.call_job_inline(Job::Interrupt(actor, interrupt), cause);
        }
    }

    fn call_job_inline(&mut self, job: Job<E>, cause: &Arc<Cause<E>>) {
        let (actor, kind) = job.meta();
        if kind == JobKind::Interrupt {
            self.core.emit(Event::Interrupting {
                actor: &self.core.names[actor],
            });
        }
        let result = job.call(Some(cause));
        self.record(actor, kind, result.err());
    }

    fn record(&mut self, actor: usize, kind: JobKind, panic: Option<Payload>) {
        let entry = &mut self.entries[actor];
        match (kind, panic) {
            (JobKind::Interrupt, None) => entry.interrupt_outcome = InterruptOutcome::Returned,
            (JobKind::Interrupt, Some(payload)) => {
                entry.interrupt_outcome = InterruptOutcome::Panicked(payload);
            }
            (JobKind::Force, panic) => entry.force_failed |= panic.is_some(),
        }
    }

    /// Hands `jobs` to a new lane. If the lane's thread cannot be spawned, runs them inline.
    fn dispatch(&mut self, jobs: Vec<Job<E>>, cause: &Arc<Cause<E>>) -> Option<Arc<Lane<E>>> {
        if jobs.is_empty() {
            return None;
        }
        let lane = Arc::new(Lane {
            state: Mutex::new(LaneState {
                queue: jobs.into(),
                running: None,
                done: Vec::new(),
                finished: false,
            }),
        });
        let needs_cause = lane
            .state
            .lock()
            .queue
            .iter()
            .any(|job| matches!(job, Job::Interrupt(..)));
        let (lane_core, lane_ref) = (Arc::clone(&self.core), Arc::clone(&lane));
        let lane_cause = needs_cause.then(|| Arc::clone(cause));
        let spawned = thread::Builder::new()
            .name("rungroup-lane".to_owned())
            .spawn(move || lane_main(lane_core, lane_ref, lane_cause));
        match spawned {
            Ok(handle) => drop(handle),
            Err(_) => {
                // No thread for the lane: fall back to calling the hooks here (as without
                // deadlines). Nothing is lost; only the deadline cannot interrupt these calls.
                let jobs: Vec<_> = lane.state.lock().queue.drain(..).collect();
                for job in jobs {
                    self.call_job_inline(job, cause);
                }
                return None;
            }
        }
        self.lanes.push(Arc::clone(&lane));
        Some(lane)
    }

    /// Builds the report: every actor's fate, every hook that did not return, the run's error.
    fn finish(
        mut self,
        trigger: Trigger,
        cause: Arc<Cause<E>>,
        winner: Option<Winner>,
        triggered_at: Duration,
        teardown: Duration,
        spawn_error: Option<(usize, io::Error)>,
    ) -> Report<E> {
        // Hooks still on lanes did not return in time. Each lane is judged in one look, under its
        // lock: one still calling or holding hooks is blocked (and may still hold the cause); one
        // with no hook left is at most dropping its cause and saying so, which runs no user code,
        // so it is waited for. Judging in two looks (wait, then inspect) let a hook return in
        // between: its lane was judged not blocked while it still held the cause, and an `Err`
        // first exit came back as `Ok(())` (R09; the Spin model's K2).
        let lanes = std::mem::take(&mut self.lanes);
        let mut blocked_hooks = Vec::new();
        for lane in lanes {
            let mut state = lane.state.lock();
            if !state.finished && state.running.is_none() && state.queue.is_empty() {
                drop(state);
                while self.wait(None, |_| lane.state.lock().finished) == Wait::Escalated {}
                state = lane.state.lock();
            }
            for (actor, kind, panic) in state.done.drain(..) {
                self.record(actor, kind, panic);
            }
            let pending = state
                .running
                .into_iter()
                .chain(state.queue.iter().map(Job::meta));
            for (actor, kind) in pending {
                match kind {
                    JobKind::Interrupt => {
                        self.entries[actor].interrupt_outcome = InterruptOutcome::Blocked;
                    }
                    JobKind::Force => self.entries[actor].force_failed = true,
                }
                blocked_hooks.push(actor);
            }
        }
        // The first exit's value comes back out of the cause; if a blocked interrupt still holds
        // the cause, it cannot (only possible with deadlines), and the report says so.
        // A cause still held is looked at once more: only an `Err` has a value to keep.
        let (winner_result, retained_error) = match Arc::try_unwrap(cause) {
            Ok(Cause::Exit { result, .. }) => (Some(result), false),
            Ok(_) => (None, false),
            Err(cause) => (None, matches!(&*cause, Cause::Exit { result: Err(_), .. })),
        };

        let mut actors = Vec::with_capacity(self.entries.len());
        let mut abandoned = Vec::new();
        let mut winner = winner;
        let mut winner_result = winner_result;
        for (index, entry) in self.entries.into_iter().enumerate() {
            let name = self.core.names[index].clone();
            let (outcome, exited_at, first) = match &mut winner {
                Some(w) if w.index == index => {
                    let outcome = match (w.payload.take(), winner_result.take()) {
                        (Some(payload), _) => Outcome::Panicked(payload),
                        (None, Some(Ok(()))) => Outcome::Ok,
                        (None, Some(Err(error))) => Outcome::Err(error),
                        // Held by a lane judged blocked above, so the report has an error too.
                        (None, None) if retained_error => Outcome::Retained,
                        (None, None) => Outcome::Ok,
                    };
                    (outcome, Some(w.at), true)
                }
                _ if !entry.started => (Outcome::NotStarted, None, false),
                _ => match self.core.slots[index].lock().take() {
                    Some(Exit { result, at }) => {
                        let outcome = match result {
                            Ok(Ok(())) => Outcome::Ok,
                            Ok(Err(error)) => Outcome::Err(error),
                            Err(payload) => Outcome::Panicked(payload),
                        };
                        (outcome, Some(at), false)
                    }
                    None => {
                        self.core.emit(Event::Abandoned { actor: &name });
                        abandoned.push(name.clone());
                        (Outcome::Abandoned, None, false)
                    }
                },
            };
            actors.push(ActorReport {
                name,
                stage: entry.stage,
                policy: entry.policy,
                outcome,
                exited_at,
                first,
                interrupt: entry.interrupt_outcome,
                escalated: entry.escalated,
                force_failed: entry.force_failed,
            });
        }
        blocked_hooks.sort_unstable();
        blocked_hooks.dedup();
        let blocked_hooks: Vec<String> = blocked_hooks
            .into_iter()
            .map(|actor| {
                let name = &actors[actor].name;
                if !abandoned.contains(name) {
                    self.core.emit(Event::Abandoned { actor: name });
                }
                name.clone()
            })
            .collect();
        self.core.clock.stop(self.core.control.wake_pair());

        let mut report = Report {
            trigger,
            actors,
            stages: self.stage_reports,
            triggered_at: Some(triggered_at),
            teardown: Some(teardown),
            error: None,
        };
        report.error = if let Some((index, source)) = spawn_error {
            Some(Error::Spawn {
                actor: report.actors[index].name.clone(),
                source,
            })
        } else if !abandoned.is_empty() || !blocked_hooks.is_empty() {
            Some(Error::Abandoned {
                actors: abandoned,
                interrupts: blocked_hooks,
                trigger: report.trigger_summary(),
            })
        } else {
            None
        };
        debug_assert!(
            report.error.is_some()
                || !report
                    .actors
                    .iter()
                    .any(|actor| matches!(actor.outcome, Outcome::Retained)),
            "rungroup: a retained first exit without a blocked hook would read as success"
        );
        report
    }
}

fn min_deadline(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
