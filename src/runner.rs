//! The runner: starts the actor threads, waits for the trigger, drives teardown stage by stage
//! and builds the report.
//!
//! The caller's thread is the runner. It never runs user code and never polls: it sleeps on the
//! wake pair of [`Control`] and is woken by a trigger, by the last actor of a stage, by a hook
//! lane going idle, by an escalation or by a `ManualClock` advance.
//!
//! # Hooks run on lanes, never on the caller's thread
//!
//! Interrupts and force hooks are called on [lanes](crate::lane): threads that call them one at a
//! time, in order. The hook lane is served by the first exit's own thread, which is free once its
//! execute has returned (no spawn on the way to the first interrupt), or, when teardown was
//! requested from outside, by a thread spawned then. With no deadline configured the runner waits
//! for the lane as long as it takes (F04, exactly `oklog/run`); but because it only waits, a
//! second stop request (a second SIGTERM) can still escalate at once, even while an interrupt
//! blocks. A lane that cannot be spawned has its hooks skipped and reported when a deadline is
//! configured (no user code may hold the runner), and called here when none is.
//!
//! # Teardown, stage by stage
//!
//! For each stage, in order: hand its interrupts to the hook lane, then wait until its actors have
//! all returned and its interrupts have all returned. If the stage's grace, the budget or a second
//! stop request runs out first, the stage is *escalated*: the lane is retired if it is inside a
//! hook (its queued interrupts move to a fresh lane), each still-running actor's force hook is
//! called on a lane of its own, and the stage gets one kill grace to drain. Once the budget is
//! spent or a second stop request has come, every later stage is escalated as soon as it begins,
//! still one stage after the other: a flusher meant to run last never runs beside the workers it
//! drains. So with a budget `B`, a kill grace `K` and `S` stages, `run` returns within
//! `B + S·K` plus a small constant (S08, as tightened in `docs/semantics.md`).
//!
//! # Threads are joined, or kept
//!
//! Every thread whose work is done is joined before `run` returns: actor threads whose execute
//! returned, and lanes and the observer thread that are idle. A thread still inside user code
//! (an abandoned actor, a blocked hook) cannot be joined; its handle is *forgotten*, never
//! dropped: dropping a `JoinHandle` detaches the thread, and glibc's `pthread_detach` races with a
//! thread exiting while another unmaps stacks (a crash reproduced here). A forgotten thread keeps
//! its stack mapped until the process exits; it is reported by name.

use std::io;
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::actor::{Force, Interrupt, Policy};
use crate::body::{SpawnError, check_map_limit, spawn_actor};
use crate::clock::RunClock;
use crate::driver::{self, Driver, Ended, Polled, ReadySet};
use crate::error::Error;
use crate::group::{ActorSpec, Body, DEFAULT_KILL_GRACE, Group};
use crate::lane::{self, Closed, Hook, Job, Lane, NoThread};
use crate::note::Note;
use crate::observe::Herald;
use crate::observe::StageSpan;
use crate::plan::{Action, Event, Plan, Until};
use crate::ready;
use crate::report::{ActorReport, HookOutcome, Outcome, Report, ServiceReport, StageReport};
use crate::shared::{Core, Exit, ExitCell, record_exit};
use crate::spawn;
use crate::state::{Control, EXTERNAL, Live, RUNNING, phase, who};
use crate::supervise::Shared;
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Frozen, Mutex};
use crate::unwind;
use crate::unwind::{Payload, panic_message};
use crate::why::{ActorName, Cause, Escalation, Trigger};

/// Settles a future actor that ended at `at`: its exit, as for a thread actor, then its stage.
fn settle<E: 'static>(
    core: &Core<E>,
    entry: &mut Entry<E>,
    actor: usize,
    at: Duration,
    ended: Ended<E>,
) {
    let (result, cancelled) = match ended {
        Ended::Exited(result) => (result, false),
        Ended::Cancelled(panic) => {
            entry.drop_panics.extend(panic);
            (Ok(Ok(())), true)
        }
    };
    // Kept in the entry: only this thread, the runner's, reads it (no lock).
    let policy = entry.policy;
    let exit = Exit {
        result,
        at,
        cancelled,
    };
    record_exit(core, actor, policy, exit, false, |exit| {
        entry.exit = ExitCell::Local(Some(exit));
    });
    // No wake-up when the stage is left empty, nor for a first exit: this is the runner's own
    // thread, which looks at the counters and the state word before it next waits (a wake-up
    // would only find itself, or, in an async run, wake its own task for nothing).
    core.live.leave(entry.stage);
}

/// A poll of a future actor this long is reported ([`Note::Stalled`]).
const SLOW_POLL: Duration = Duration::from_millis(10);

/// A user timer's sleep ([`crate::Timer::sleep_until`]).
type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Why a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Done,
    Expired,
    Escalated,
}

/// One actor's cell in the run, owned by the runner: where it is (stage, policy), its hooks and
/// what became of them, its exit (a thread actor's in a slot its thread shares), a future
/// actor's future and waker. Outside it are only what every thread reads by index: the names
/// (`Core`, for events; they come back into the report lines at the end) and a future actor's
/// ready bit (`ReadySet`).
struct Entry<E> {
    stage: usize,
    policy: Policy,
    started: bool,
    thread: Option<JoinHandle<()>>,
    interrupt: Option<Interrupt<E>>,
    force: Option<Force>,
    interrupt_outcome: HookOutcome,
    force_outcome: HookOutcome,
    escalated: bool,
    drop_panics: Vec<Payload>,
    /// A supervised actor's restarts and the wake-up of its backoff.
    supervisor: Option<Arc<Shared<E>>>,
    /// Its interrupt is the group's own and cannot block: the runner may call it itself.
    inline: bool,
    /// Its exit, once it has left one.
    exit: ExitCell<E>,
    /// A future actor's future and waker, which the driver polls.
    polled: Option<Polled<E>>,
}

impl<E> driver::Cell<E> for Entry<E> {
    fn polled(&mut self) -> Option<&mut Polled<E>> {
        self.polled.as_mut()
    }
}

impl<E> Entry<E> {
    fn record(&mut self, hook: Hook, outcome: HookOutcome) {
        match hook {
            Hook::Interrupt => self.interrupt_outcome = outcome,
            Hook::Force => self.force_outcome = outcome,
        }
    }

    /// Drops a closure of this actor's that will never be called, keeping a panic of its `Drop`.
    fn discard<T>(&mut self, value: T) {
        self.drop_panics.extend(unwind::drop_caught(value));
    }
}

/// A lane and its thread: `None` when the first exit's own thread serves it (its handle is that
/// actor's).
struct LaneThread<E> {
    lane: Arc<Lane<E>>,
    thread: Option<JoinHandle<()>>,
}

struct Runner<E> {
    core: Arc<Core<E>>,
    entries: Vec<Entry<E>>,
    stage_reports: Vec<StageReport>,
    /// What teardown does next (`src/plan.rs`).
    plan: Plan,
    /// Where the planner writes its actions: made before the trigger, not after it.
    actions: Vec<Action>,
    /// The current stage's span (feature `tracing`).
    stage_span: StageSpan,
    /// The lanes the kill-grace wait of an escalated stage watches.
    watched: Vec<Arc<Lane<E>>>,
    /// `None`: escalated actors are waited for as long as they take (no deadline configured).
    kill_grace: Option<Duration>,
    /// A grace or budget is configured: no user code may run on this thread.
    bounded: bool,
    /// The first exit's thread, serving the hook lane, is stuck in a hook.
    first_exit_stuck: bool,
    escalations_seen: usize,
    /// The lane the next interrupts go to; `None` after it was retired.
    hook_lane: Option<Arc<Lane<E>>>,
    /// Interrupts taken from a lane retired at the end of an escalation: they go first to the
    /// next stage's lane, or are skipped if no stage is left.
    carried: Vec<Job<E>>,
    lanes: Vec<LaneThread<E>>,
    /// The first failure to spawn a lane. The hooks it left uncalled are recorded `Skipped`; so
    /// are those still queued behind a blocked hook, or on a lane whose thread had not yet taken
    /// them when the last deadline ran out (a zero budget and kill grace).
    lane_error: Option<io::Error>,
    observer_thread: Option<JoinHandle<()>>,
    /// The systemd notifier's thread (feature `systemd`, when run by a service manager).
    notifier_thread: Option<JoinHandle<()>>,
    readiness: ready::Tracker,
    /// How long the lame-duck delay lasted, once it is over.
    lame_duck_elapsed: Option<Duration>,
    /// The future actors (issue 12).
    driver: Driver,
    /// `run`: this thread parks between passes. `run_async`: the task's waker is registered, and
    /// a timer thread wakes it at real deadlines.
    blocking: bool,
    /// The timer thread of an async run with a real deadline, started at the first one.
    timer_thread: Option<JoinHandle<()>>,
    /// The user's timer's sleep until the deadline of the current wait (async run).
    sleep: Option<(Duration, Sleep)>,
    /// The user's timer panicked (`Error::Timer`): the timer thread keeps the deadlines since.
    timer_error: Option<io::Error>,
    /// Where nested groups leave their reports.
    nested: Vec<(usize, crate::report::NestedSlot<E>)>,
    /// The longest poll of a future actor so far, with its actor: a poll that blocks holds the
    /// whole group (docs/async.md); it is reported.
    slowest_poll: Option<(usize, Duration)>,
}

/// Where a group's readiness reports while it runs: the run's clock and its events.
struct ReadySink<E> {
    core: Arc<Core<E>>,
}

impl<E: Send + Sync> ready::Sink for ReadySink<E> {
    fn now(&self) -> Duration {
        self.core.clock.now()
    }

    fn changed(&self, ready: bool, reason: &str) {
        // The reason's copy only when someone listens.
        if !self.core.herald.observed() {
            return;
        }
        self.core.emit(if ready {
            Note::Ready
        } else {
            Note::NotReady {
                reason: reason.to_owned(),
            }
        });
    }
}

/// How long, at least, the runner waits at the end for the observer thread to deliver what is
/// queued (when there is one: with a grace or a budget). Only a stuck observer ever costs it.
const OBSERVER_GRACE: Duration = Duration::from_secs(1);

/// Running a group: its `run` methods live here, with the runner, so that the group (its
/// configuration) does not depend on the runner.
impl<E: Send + Sync + 'static> Group<E> {
    /// Runs every actor until the first exit, tears the group down, and returns the first exit's
    /// result unchanged (rules R02–R09).
    ///
    /// - A panic in an execute or interrupt is resumed here after teardown (F01, F02).
    /// - A spawn failure (F03) or abandonment (S06) is returned as `Err(E::from(Error))`.
    /// - A stop request or signal, with a clean teardown, returns `Ok(())`.
    ///
    /// Use [`run_with_report`](Group::run_with_report) for the full account.
    pub fn run(self) -> Result<(), E>
    where
        E: From<Error>,
    {
        self.run_with_report().into_result()
    }

    /// Runs the group like [`run`](Group::run) and returns the full [`Report`] instead: no panic
    /// is resumed, no result is lost.
    pub fn run_with_report(self) -> Report<E> {
        run(self)
    }

    /// Runs the group as a future, on any executor (tokio, smol, async-std,
    /// `futures::executor::block_on`): as [`run`](Group::run), with its future actors polled
    /// inside this future, in the executor's context (so a tokio actor finds its runtime).
    /// Thread actors still run on threads of their own.
    ///
    /// With a real clock and a deadline to wait for, a timer thread is started (once per run) to
    /// wake the task at the deadline; it never runs user code.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// # struct Unpark(std::thread::Thread);
    /// # impl std::task::Wake for Unpark {
    /// #     fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
    /// # }
    /// # fn block_on<F: std::future::Future>(future: F) -> F::Output {
    /// #     let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut future = std::pin::pin!(future);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
    /// #             return value;
    /// #         }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// let mut group = rungroup::Group::new();
    /// group.add_future_token(|token| async move { token.stopped().await; Ok(()) });
    /// group.add_future(async { Err("job failed".into()) }, |_| {});
    /// let result = block_on(group.run_async());
    /// assert_eq!(result.unwrap_err().to_string(), "job failed");
    /// ```
    pub fn run_async(self) -> impl Future<Output = Result<(), E>> + Send + 'static
    where
        E: From<Error>,
    {
        let report = self.run_async_with_report();
        async move { report.await.into_result() }
    }

    /// [`run_async`](Group::run_async), returning the full [`Report`].
    ///
    /// # Dropping the future before it completes
    ///
    /// A `select!` that takes another branch, or a timeout, drops the run's future. The actors
    /// are not left behind for that: once the future has been polled (and so has started them),
    /// dropping it requests teardown as a stop request would (`"the run's future was dropped"`)
    /// and hands the rest of the run to a thread of its own, which finishes it by every rule
    /// (interrupts, graces, escalation, joins) and drops the report; the observer, `log` and
    /// `tracing` still see every event. If no thread can be had, the run is dropped where it is,
    /// as any future would be: its future actors dropped, its thread actors left running. To keep
    /// the report, stop the group instead ([`StopHandle`](crate::StopHandle)) and await the run.
    pub fn run_async_with_report(self) -> impl Future<Output = Report<E>> + Send + 'static {
        AsyncRun {
            control: Arc::clone(&self.control),
            run: Some(Box::pin(run_async(self, false))),
            started: false,
            polling: false,
        }
    }
}

/// The run's future, boxed so that it can move to another thread after it has been polled.
type BoxedRun<E> = Pin<Box<dyn Future<Output = Report<E>> + Send>>;

/// The future of `Group::run_async*`: the run's own, and what to do if it is dropped unfinished.
struct AsyncRun<E: 'static> {
    run: Option<BoxedRun<E>>,
    control: Arc<Control>,
    /// Polled at least once: the actors may have been started.
    started: bool,
    /// Inside the run's own poll: still set if that poll unwound.
    polling: bool,
}

impl<E: 'static> Future for AsyncRun<E> {
    type Output = Report<E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Report<E>> {
        self.started = true;
        self.polling = true;
        let run = self
            .run
            .as_mut()
            .expect("rungroup: the run's future was polled after it completed");
        let poll = run.as_mut().poll(cx);
        self.polling = false;
        if poll.is_ready() {
            self.run = None;
        }
        poll
    }
}

impl<E: 'static> Drop for AsyncRun<E> {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        if !self.started || self.polling {
            // Nothing was started: the group's closures are all there is to drop. Or the run's
            // own poll is unwinding (a bug of the library's: user code is caught), and a future
            // that panicked cannot be polled again.
            return;
        }
        self.control.request(
            Trigger::Stop {
                reason: "the run's future was dropped".to_owned(),
            },
            false,
        );
        finish_detached(run);
    }
}

/// Finishes a run whose future was dropped, on a thread of its own (see
/// [`Group::run_async_with_report`]); without one, drops it here.
#[cfg(not(any(loom, shuttle)))]
fn finish_detached<E: 'static>(run: BoxedRun<E>) {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let finish = move |mut run: BoxedRun<E>| {
        let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(report) = run.as_mut().poll(&mut cx) {
                unwind::drop_quietly(report);
                return;
            }
            std::thread::park();
        }
    };
    // The run is moved into the thread only if it starts: a failed spawn hands it back.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(run)));
    let theirs = std::sync::Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("rungroup-finish".into())
        .spawn(move || {
            let run = theirs.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(run) = run {
                finish(run);
            }
        });
    if spawned.is_err() {
        let run = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        unwind::drop_quietly(run);
    }
}

/// Under loom and shuttle a run is never dropped unfinished: it is dropped where it is.
#[cfg(any(loom, shuttle))]
fn finish_detached<E: 'static>(run: BoxedRun<E>) {
    unwind::drop_quietly(run);
}

/// `Group::run`: the run's future, driven on the caller's thread, which parks between passes.
pub(crate) fn run<E: Send + Sync + 'static>(group: Group<E>) -> Report<E> {
    let mut future = std::pin::pin!(run_async(group, true));
    // In blocking mode the runner waits inside its own poll, on the control's wake pair, so the
    // future completes in one poll; the task waker is never used.
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(report) => report,
        Poll::Pending => unreachable!("rungroup: the blocking run returned Pending"),
    }
}

/// The run itself, as a future: `Group::run_async`, and `Group::run` through [`run`].
pub(crate) async fn run_async<E: Send + Sync + 'static>(
    group: Group<E>,
    blocking: bool,
) -> Report<E> {
    let Group {
        mut actors,
        stages,
        budget,
        kill_grace,
        clock,
        observer,
        control,
        stack_size,
        readiness,
        lame_duck,
        executor,
        nested,
        #[cfg(all(unix, feature = "systemd"))]
        systemd,
    } = group;
    let bounded = budget.is_some() || stages.iter().any(|stage| stage.grace.is_some());
    let kill_grace = kill_grace.or(bounded.then_some(DEFAULT_KILL_GRACE));
    let wake = Arc::clone(control.wake_pair());
    let clock = clock.start(&wake);
    let stage_reports: Vec<StageReport> = stages
        .iter()
        .map(|stage| StageReport {
            name: stage.name.clone(),
            elapsed: None,
            expired: false,
            escalation: None,
        })
        .collect();
    // Moved, not copied: they go back into the report lines at the end (`Runner::name_lines`).
    let names: Frozen<[String]> = actors
        .iter_mut()
        .map(|actor| std::mem::take(&mut actor.name))
        .collect();
    let graces: Vec<Option<Duration>> = stages.iter().map(|stage| stage.grace).collect();
    // Moved, not copied: one list for the events and the planner.
    let stage_names: Frozen<[String]> = stages.into_iter().map(|stage| stage.name).collect();

    if actors.is_empty() {
        // R01: nothing to start, nothing to call.
        unwind::drop_quietly(observer);
        control.finish();
        clock.stop(&wake);
        return Report {
            trigger: Trigger::Empty,
            actors: Vec::new(),
            stages: stage_reports,
            triggered_at: None,
            teardown: None,
            error: None,
            observer_missed: 0,
            service: ServiceReport::default(),
            identity: control.identity(),
            nested: Vec::new(),
        };
    }

    // Misuse found before anything starts: an actor to spawn on an executor the group lacks, or
    // one that is not a future.
    let misuse = actors.iter().position(|actor| actor.spawned).and_then(|_| {
        actors.iter().enumerate().find_map(|(index, actor)| {
            let problem = match &actor.execute {
                _ if !actor.spawned => return None,
                Body::Future { .. } if executor.is_none() => {
                    "spawned() needs an executor: set one with Group::executor"
                }
                Body::Future { .. } => return None,
                _ => {
                    "spawned() applies to future actors only (add_future, add_future_token, \
                      add_future_cancel)"
                }
            };
            Some((index, problem))
        })
    });
    // Before anything starts: the memory-map limit of a large group (a thread start-up that runs
    // out of maps aborts the process instead of failing), and the observer's thread (a run that
    // cannot have it fails here, having run nothing).
    // Only thread actors take maps: a group of future actors needs no check at all.
    let threads: Vec<usize> = (0..actors.len())
        .filter(|&index| !matches!(actors[index].execute, Body::Future { .. }))
        .collect();
    // The misuse first: it is the user's to fix, whatever else would fail.
    let startable = match misuse {
        Some((actor, problem)) => {
            Err((actor, io::Error::new(io::ErrorKind::InvalidInput, problem)))
        }
        None => check_map_limit(threads.len()).map_err(|(fit, source)| (threads[fit], source)),
    };
    let started = match startable {
        Err((actor, source)) => {
            unwind::drop_quietly(observer);
            let error = Error::Spawn {
                actor: names[actor].clone(),
                source,
            };
            Err((Trigger::SpawnFailed { actor }, error))
        }
        Ok(()) => Herald::start(
            names.clone(),
            Frozen::clone(&stage_names),
            observer,
            budget.is_some(),
            &control,
        )
        .map_err(|source| {
            let error = Error::Helper {
                thread: "observer",
                skipped: Vec::new(),
                source,
            };
            (Trigger::HelperFailed, error)
        }),
    };
    #[cfg(all(unix, feature = "systemd"))]
    let started = started.and_then(|(mut herald, observer_thread)| {
        if !systemd {
            return Ok((herald, observer_thread, None));
        }
        let config = crate::systemd::Config {
            graces: graces.clone(),
            budget,
            kill_grace,
        };
        match crate::systemd::Notifier::start(config) {
            Ok(notifier) => {
                let (notifier, thread) = notifier.unzip();
                herald.systemd = notifier;
                Ok((herald, observer_thread, thread))
            }
            Err(source) => {
                herald.close();
                // Nothing was queued: the observer thread only drops the observer and ends.
                // Joined, never dropped (that would detach it, see design.md).
                if let Some(thread) = observer_thread {
                    let _ = thread.join();
                }
                let error = Error::Helper {
                    thread: "systemd",
                    skipped: Vec::new(),
                    source,
                };
                Err((Trigger::HelperFailed, error))
            }
        }
    });
    #[cfg(not(all(unix, feature = "systemd")))]
    let started = started.map(|(herald, observer_thread)| (herald, observer_thread, None));
    let (herald, observer_thread, notifier_thread) = match started {
        Ok(started) => started,
        Err((trigger, error)) => {
            return refuse(
                actors,
                &names,
                stage_reports,
                &control,
                &clock,
                trigger,
                error,
            );
        }
    };

    let mut counts = vec![0; graces.len()];
    for actor in &actors {
        counts[actor.stage] += 1;
    }
    // The ready set wakes the runner through the control; a group without future actors never
    // uses it, and gets one that holds nothing (no reference to count: loom explores every one).
    let wake_runner = (threads.len() < actors.len()).then(|| Arc::clone(&control));
    let ready_set = std::sync::Arc::new(ReadySet::new(actors.len(), wake_runner));
    let core = Arc::new(Core {
        control: Arc::clone(&control),
        live: Live::new(&counts),
        names,
        clock,
        herald,
        first_lane: (!threads.is_empty()).then(|| Lane::new(Vec::new())),
    });
    // Not kept across the run's waits: freed now rather than on the way out of `run`.
    drop((threads, counts));
    let readiness = ready::Tracker::new(readiness, core.herald.observed());

    let mut runner = Runner {
        core,
        entries: Vec::with_capacity(actors.len()),
        plan: Plan::new(stage_names, graces, budget, kill_grace, lame_duck),
        actions: Vec::with_capacity(4),
        stage_span: StageSpan::none(),
        watched: Vec::new(),
        stage_reports,
        kill_grace,
        bounded,
        first_exit_stuck: false,
        escalations_seen: 0,
        hook_lane: None,
        carried: Vec::new(),
        lanes: Vec::new(),
        lane_error: None,
        observer_thread,
        notifier_thread,
        readiness,
        lame_duck_elapsed: None,
        driver: Driver::new(ready_set),
        blocking,
        timer_thread: None,
        sleep: None,
        timer_error: None,
        slowest_poll: None,
        nested,
    };

    let mut spawn_error = None;

    // R02: start every execute, in registration order, each on its own thread.
    for (index, actor) in actors.into_iter().enumerate() {
        let ActorSpec {
            name: _,
            stage,
            policy,
            stack_size: own_stack,
            execute,
            mut interrupt,
            force,
            inline,
            spawned,
        } = actor;
        let mut entry = Entry {
            stage,
            policy,
            started: false,
            thread: None,
            interrupt: None,
            force: None,
            interrupt_outcome: HookOutcome::NotCalled,
            force_outcome: HookOutcome::NotCalled,
            escalated: false,
            drop_panics: Vec::new(),
            supervisor: None,
            inline,
            exit: ExitCell::Local(None),
            polled: None,
        };
        if spawn_error.is_none() {
            if let Body::Future { future, cancel } = execute {
                let polled = match executor.as_deref().filter(|_| spawned) {
                    None => runner.driver.start(index, future),
                    Some(executor) => match spawn::spawn(executor, future) {
                        Ok((proxy, link)) => runner.driver.start_spawned(index, proxy, link),
                        Err(payload) => {
                            let error = io::Error::other(format!(
                                "the executor panicked spawning the actor's task: {}",
                                panic_message(payload.as_ref())
                            ));
                            entry.drop_panics.push(payload);
                            spawn_error = Some(SpawnError::Actor(index, error));
                            runner.core.live.forget(stage, 1);
                            entry.discard(interrupt);
                            entry.discard(force);
                            runner.entries.push(entry);
                            continue;
                        }
                    },
                };
                entry.polled = Some(polled);
                if cancel {
                    entry.discard(interrupt);
                    let canceller = runner.driver.canceller(index);
                    interrupt = Box::new(move |_: &Cause<E>| canceller.cancel());
                }
                entry.started = true;
                entry.interrupt = Some(interrupt);
                entry.force = force;
                runner.entries.push(entry);
                continue;
            }
            if let Body::Supervised(supervisor) = &execute {
                entry.supervisor = Some(supervisor.shared());
            }
            let stack = own_stack.or(stack_size);
            let slot = Arc::new(Mutex::new(None));
            match spawn_actor(&runner.core, &slot, index, stage, policy, stack, execute) {
                Ok(handle) => {
                    entry.started = true;
                    entry.thread = Some(handle);
                    entry.exit = ExitCell::Shared(slot);
                }
                Err((source, drop_panic)) => {
                    entry.drop_panics.extend(drop_panic);
                    spawn_error = Some(SpawnError::Actor(index, source));
                }
            }
        } else {
            entry.discard(execute);
        }
        if entry.started {
            entry.interrupt = Some(interrupt);
            entry.force = force;
        } else {
            runner.core.live.forget(stage, 1);
            entry.discard(interrupt);
            entry.discard(force);
        }
        runner.entries.push(entry);
    }
    if let Some(SpawnError::Actor(index, _)) = &spawn_error {
        // F03: tear down what was started. If an actor already exited first, its exit stays the
        // cause; the spawn error is still what `run` returns.
        control.request(Trigger::SpawnFailed { actor: *index }, false);
    }

    // Every actor is running: the group can be ready (once its declared handles are).
    if spawn_error.is_none() && phase(control.load()) == RUNNING {
        let now = runner.now();
        let core = &runner.core;
        runner.readiness.start(now, || {
            Frozen::new(ReadySink {
                core: Arc::clone(core),
            })
        });
    }

    // Wait for the trigger (or for every actor to have left without one: all on-error and Ok).
    let mut fresh = None;
    let _ = runner
        .wait(None, &mut fresh, |core| {
            phase(core.control.load()) != RUNNING || core.live.all_done()
        })
        .await;
    if phase(control.load()) == RUNNING {
        control.request(Trigger::AllExited, false);
    }
    let (trigger, cause, winner) = runner.resolve_cause();
    // The moment of the trigger: a first exit's own time, the one its report line and event show
    // (the budget then counts from it, never later); else when the runner saw the request.
    let triggered_at = winner
        .as_ref()
        .map_or_else(|| runner.now(), |winner| winner.at);
    // No restart once teardown has begun: a supervised actor sleeping out a backoff ends now.
    for supervisor in runner
        .entries
        .iter()
        .filter_map(|entry| entry.supervisor.as_ref())
    {
        supervisor.teardown_begun();
    }
    // Formatting the cause costs an allocation on the way to the first interrupt: only when
    // someone listens.
    if runner.core.herald.observed() {
        runner.core.emit(Note::Triggered {
            cause: cause.summary(),
        });
    }
    // Not ready from the trigger on: load balancers stop sending before anything stops.
    runner.readiness.drain();
    let cause = Arc::new(cause);
    runner.host_first_lane(winner.as_ref().map(|winner| winner.index));

    // The lame duck: only for a trigger that leaves the service able to serve, and only while
    // something still serves.
    let lame_duck = runner.plan.has_lame_duck()
        && matches!(
            trigger,
            Trigger::Exit { .. } | Trigger::Stop { .. } | Trigger::Signal { .. }
        )
        && !runner.core.live.all_done();
    let ended = runner
        .teardown(&cause, triggered_at, lame_duck, fresh)
        .await;
    let teardown = ended.saturating_sub(triggered_at);
    let report = runner
        .finish(trigger, cause, winner, triggered_at, teardown, spawn_error)
        .await;
    // With it the last reference to the shared state, unless an abandoned thread holds one: the
    // observer's captures may be dropped here, and a panic there must not cost the report.
    unwind::drop_quietly(runner);
    control.finish();
    report
}

/// A report for a run refused before any actor started: every actor `NotStarted`, its closures
/// dropped (their drop panics kept), nothing called.
fn refuse<E>(
    actors: Vec<ActorSpec<E>>,
    names: &[String],
    stages: Vec<StageReport>,
    control: &Control,
    clock: &RunClock,
    trigger: Trigger,
    error: Error,
) -> Report<E> {
    let actors: Vec<ActorReport<E>> = actors
        .into_iter()
        .zip(names)
        .map(|(actor, name)| {
            let mut drop_panics = Vec::new();
            drop_panics.extend(unwind::drop_caught(actor.execute));
            drop_panics.extend(unwind::drop_caught(actor.interrupt));
            drop_panics.extend(unwind::drop_caught(actor.force));
            ActorReport {
                name: name.clone(),
                stage: actor.stage,
                policy: actor.policy,
                outcome: Outcome::NotStarted,
                exited_at: None,
                first: false,
                interrupt: HookOutcome::NotCalled,
                escalated: false,
                force: HookOutcome::NotCalled,
                drop_panics,
                restarts: Vec::new(),
            }
        })
        .collect();
    control.finish();
    clock.stop(control.wake_pair());
    Report {
        trigger,
        error: Some(error),
        actors,
        stages,
        triggered_at: None,
        teardown: None,
        observer_missed: 0,
        service: ServiceReport::default(),
        identity: control.identity(),
        nested: Vec::new(),
    }
}

/// The first exit's record, kept aside while its result travels inside the cause.
struct Winner {
    index: usize,
    at: Duration,
    payload: Option<Payload>,
}

impl<E: Send + Sync + 'static> Runner<E> {
    /// Waits until `done`, the deadline, or an escalation, polling the future actors meanwhile.
    /// Checks happen under the wake lock, and every waker wakes under it: no lost wake-up.
    ///
    /// `fresh` is a clock read the wait may use as the start of its first pass, and is left with
    /// one the caller may use as the time the wait ended (see [`Runner::now_after`]); `None` when
    /// it waited since (parked or yielded).
    async fn wait(
        &mut self,
        deadline: Option<Duration>,
        fresh: &mut Option<Duration>,
        done: impl Fn(&Core<E>) -> bool,
    ) -> Wait {
        std::future::poll_fn(|cx| self.poll_wait(cx, deadline, fresh, &done)).await
    }

    fn poll_wait(
        &mut self,
        cx: &mut Context<'_>,
        deadline: Option<Duration>,
        fresh: &mut Option<Duration>,
        done: &dyn Fn(&Core<E>) -> bool,
    ) -> Poll<Wait> {
        let futures = !self.driver.is_empty();
        loop {
            if futures {
                *fresh = self.drive(fresh.take());
            }
            let core = &*self.core;
            // Done already (as a teardown that its own pass finished usually is): no wait, so no
            // wake to lose, and no lock. Every `done` only ever turns true (a trigger, counters
            // that only fall, a lane only this thread feeds), so a look without the lock that
            // finds it true is as good as one under it; one that finds it false looks again below.
            if done(core) {
                return Poll::Ready(Wait::Done);
            }
            let pair = core.control.wake_pair();
            let mut guard = pair.lock.lock();
            // The checks and the wait (`run`) or the waker's registration (`run_async`) happen in
            // one critical section of the wake lock, and every wake notifies under it: a wake
            // after the checks finds the runner waiting, or its waker registered.
            loop {
                if done(core) {
                    return Poll::Ready(Wait::Done);
                }
                if guard.escalations > self.escalations_seen {
                    self.escalations_seen = guard.escalations;
                    return Poll::Ready(Wait::Escalated);
                }
                if let Some(deadline) = deadline {
                    let now = core.clock.now();
                    *fresh = Some(now);
                    if now >= deadline {
                        return Poll::Ready(Wait::Expired);
                    }
                }
                // Under the wake lock: a future actor woken after this look wakes the group after
                // it (the ready set wakes outside its own lock).
                let ready = futures && self.driver.has_ready();
                let budget = core.clock.wait_budget(deadline);
                if self.blocking && ready {
                    break;
                }
                // The runner waits now (parks, or yields to the executor): no clock read from
                // before stands for a time after.
                *fresh = None;
                if self.blocking {
                    guard = match budget {
                        Some(timeout) => pair.cond.wait_timeout(guard, timeout),
                        None => pair.cond.wait(guard),
                    };
                    if futures {
                        // Woken, perhaps by a future actor: drive it, outside the lock.
                        break;
                    }
                    continue;
                }
                // A deadline past what `Instant` can hold is as good as none.
                let until = budget.and_then(|budget| std::time::Instant::now().checked_add(budget));
                pair.set_until(&mut guard, until);
                if ready {
                    // Another pass is due: yield to the executor first (one pass per poll).
                    drop(guard);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                match &guard.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => guard.waker = Some(cx.waker().clone()),
                }
                drop(guard);
                if let Some(deadline) = deadline.filter(|_| budget.is_some()) {
                    if self.poll_sleep(cx, deadline) {
                        // The user's timer says the deadline has come: look again.
                        break;
                    }
                }
                return Poll::Pending;
            }
        }
    }

    /// Makes sure the task is woken at `deadline`: by the user's timer's sleep (polled here), or
    /// by the timer thread. Returns whether the sleep has completed already.
    ///
    /// The user's timer is user code on the run's thread: a panic in it (a `TokioTimer` outside
    /// tokio) is caught, reported (`Error::Timer`), and the timer thread, which needs only the
    /// deadline already left in the wake pair, keeps this deadline and every later one.
    fn poll_sleep(&mut self, cx: &mut Context<'_>, deadline: Duration) -> bool {
        if self.timer_error.is_none() {
            if !matches!(&self.sleep, Some((until, _)) if *until == deadline) {
                let clock = &self.core.clock;
                match unwind::catch(|| clock.sleep_until(deadline)) {
                    Ok(sleep) => self.sleep = sleep.map(|sleep| (deadline, sleep)),
                    Err(payload) => self.timer_failed(&payload),
                }
            }
            if let Some((_, sleep)) = &mut self.sleep {
                match unwind::catch(|| sleep.as_mut().poll(cx)) {
                    Ok(Poll::Ready(())) => {
                        self.sleep = None;
                        return true;
                    }
                    Ok(Poll::Pending) => return false,
                    Err(payload) => self.timer_failed(&payload),
                }
            }
        }
        if self.timer_thread.is_none() {
            self.start_timer();
        }
        false
    }

    /// The user's timer panicked: its sleep is dropped (a panic there too is dropped), the panic
    /// kept as the run's `Error::Timer`, and the timer thread used from now on.
    fn timer_failed(&mut self, payload: &Payload) {
        let message = panic_message(payload.as_ref());
        self.timer_error
            .get_or_insert_with(|| io::Error::other(format!("it panicked: {message}")));
        if let Some((_, sleep)) = self.sleep.take() {
            unwind::drop_quietly(sleep);
        }
    }

    /// Starts the timer thread of an async run: it wakes the task when the deadline the runner
    /// left in [`Wake::until`](crate::state::Wake) passes. If it cannot be had, the task is woken
    /// at once and polls again, checking the clock each time (correct, if busy).
    fn start_timer(&mut self) {
        let control = Arc::clone(&self.core.control);
        let spawned = thread::Builder::new()
            .name("rungroup-timer".into())
            .spawn(move || control.wake_pair().serve_timer());
        match spawned {
            Ok(thread) => self.timer_thread = Some(thread),
            Err(_) => self.core.notify(),
        }
    }

    /// Ends the timer thread, if there is one (it is idle: it never runs user code but a waker).
    fn stop_timer(&mut self) {
        if let Some(thread) = self.timer_thread.take() {
            let pair = self.core.control.wake_pair();
            let mut guard = pair.lock.lock();
            guard.timer_closed = true;
            pair.cond.notify_all();
            drop(guard);
            let _ = thread.join();
        }
    }

    /// One pass of the future actors: polls those that were woken, and settles those that ended.
    /// Starts from `fresh` when it may ([`Runner::now_after`]); returns the last clock read that
    /// still stands for now, if any.
    fn drive(&mut self, fresh: Option<Duration>) -> Option<Duration> {
        let start = self.reusable(fresh);
        let Runner {
            driver,
            core,
            entries,
            ..
        } = self;
        if driver.is_empty() {
            return start;
        }
        let (slowest, last) = driver.pass(entries, core, start, |entry, actor, at, ended| {
            settle(core, entry, actor, at, ended);
        });
        if let Some((actor, took)) = slowest {
            self.note_held(actor, took);
        }
        last
    }

    /// Reports a poll or an inline interrupt that held the group's thread, if it is the longest
    /// so far and at least [`SLOW_POLL`].
    fn note_held(&mut self, actor: usize, took: Duration) {
        if self.slowest_poll.is_none_or(|(_, longest)| took > longest) {
            self.slowest_poll = Some((actor, took));
            if took >= SLOW_POLL {
                self.core.emit(Note::Stalled { actor, took });
            }
        }
    }

    /// What the second stop request was, for the report.
    fn requested_escalation(&self) -> Escalation {
        let wake = self.core.control.wake_pair().lock.lock();
        Escalation::Request(wake.escalated_by.clone().unwrap_or(Trigger::Stop {
            reason: String::new(),
        }))
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
            let actor = match &external {
                Trigger::SpawnFailed { actor } => Some(ActorName::new(&self.core.names, *actor)),
                _ => None,
            };
            let cause = Cause::other(external.clone(), actor);
            return (external, cause, None);
        }
        let exit = self.entries[who]
            .exit
            .take()
            .expect("the winner publishes its exit before its compare-exchange");
        let actor = ActorName::new(&self.core.names, who);
        let trigger = Trigger::Exit { actor: who };
        let (cause, payload) = match exit.result {
            Ok(result) => (Cause::returned(trigger.clone(), actor, result), None),
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                (
                    Cause::panicked(trigger.clone(), actor, message),
                    Some(payload),
                )
            }
        };
        let winner = Winner {
            index: who,
            at: exit.at,
            payload,
        };
        (trigger, cause, Some(winner))
    }

    fn now(&self) -> Duration {
        self.core.clock.now()
    }

    /// `fresh`, a clock read of this thread's, if it may stand for now: when nothing observes the
    /// run, nothing but the runner's own bookkeeping runs between its reads and the next wait,
    /// hook, poll or drop (each of which ends with a read of its own); an observer, a log or a
    /// trace may run user code at any event.
    fn reusable(&self, fresh: Option<Duration>) -> Option<Duration> {
        fresh.filter(|_| !self.core.herald.observed())
    }

    /// The time now: `fresh` if it may stand for it ([`Runner::reusable`]), else a new read.
    /// Saves the clock reads between waits, hooks and polls (20–30 ns each on a guest).
    fn now_after(&self, fresh: Option<Duration>) -> Duration {
        self.reusable(fresh).unwrap_or_else(|| self.now())
    }

    /// Whether `actor`'s execute has returned: its exit is there, or it is the first exit (whose
    /// exit `resolve_cause` took; the state word still names it).
    fn has_exited(&self, actor: usize) -> bool {
        who(self.core.control.load()) == Some(actor) || self.entries[actor].exit.is_set()
    }

    /// The started actors of `stage`, in registration order.
    fn members(&self, stage: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.entries.len())
            .filter(move |&actor| self.entries[actor].stage == stage && self.entries[actor].started)
    }

    /// Finds a thread for the hook lane: the first exit's own, which serves it already, or, when
    /// teardown was requested from outside, a new one. Without one, interrupts go to
    /// [`spawn_lane`](Self::spawn_lane) as they come, which says what happens then.
    fn host_first_lane(&mut self, winner: Option<usize>) {
        // A group without thread actors has no first lane (and no use for one, below).
        let Some(lane) = self.core.first_lane.clone() else {
            return;
        };
        let thread = match winner {
            Some(winner) if self.entries[winner].polled.is_none() => None,
            // A future actor's exit, or a request from outside, leaves no thread free: one is
            // started when a hook first needs it (`send`), if one ever does (a future actor's
            // own interrupt is called here, see `send`).
            _ if !self.driver.is_empty() => return,
            Some(_) => None,
            None => match Lane::start(&self.core, Arc::clone(&lane)) {
                Ok((_, thread)) => Some(thread),
                Err(NoThread { error, .. }) => {
                    self.lane_error.get_or_insert(error);
                    return;
                }
            },
        };
        self.hook_lane = Some(Arc::clone(&lane));
        self.lanes.push(LaneThread { lane, thread });
    }

    /// Teardown, as the [planner](crate::plan) says: the lame duck, then stage by stage,
    /// interrupt, wait to drain or run out, escalate what is left. This carries out its actions
    /// and tells it how each wait ended.
    /// Returns the time it was done.
    async fn teardown(
        &mut self,
        cause: &Arc<Cause<E>>,
        triggered_at: Duration,
        lame_duck: bool,
        fresh: Option<Duration>,
    ) -> Duration {
        let mut actions = std::mem::take(&mut self.actions);
        let mut now = self.now_after(fresh);
        self.plan.start(triggered_at, now, lame_duck, &mut actions);
        loop {
            let mut wait = None;
            // The planner's `now`, while it may stand for the time (`Runner::now_after`).
            let mut fresh = Some(now);
            // The planner is not consulted while its actions are carried out.
            for action in actions.drain(..) {
                match action {
                    Action::LameDuck { delay } => self.core.emit(Note::LameDuck { delay }),
                    Action::LameDuckEnded { elapsed } => self.lame_duck_elapsed = Some(elapsed),
                    Action::BeginStage { stage } => {
                        self.stage_span = self.core.herald.stage_span(stage);
                        let span = self.stage_span.clone();
                        let _entered = span.enter();
                        self.core.emit(Note::StageBegun { index: stage });
                        fresh = self.interrupt_stage(stage, cause, fresh);
                    }
                    Action::Escalate { stage, overdue } => {
                        let span = self.stage_span.clone();
                        let _entered = span.enter();
                        self.escalate(stage, cause, overdue);
                        fresh = None;
                    }
                    Action::EndStage {
                        stage,
                        elapsed,
                        expired,
                        escalation,
                    } => {
                        let span = self.stage_span.clone();
                        let _entered = span.enter();
                        self.end_stage(stage, elapsed, expired, escalation);
                    }
                    Action::Wait { until, deadline } => wait = Some((until, deadline)),
                    Action::Done => return self.now_after(fresh),
                }
            }
            let (until, deadline) = wait.expect("the planner ends every batch with Wait or Done");
            let event = match self.wait_until(until, deadline, &mut fresh).await {
                Wait::Done => Event::Done,
                Wait::Expired => Event::Expired,
                Wait::Escalated => Event::Escalated(self.requested_escalation()),
            };
            now = self.now_after(fresh);
            self.plan.on(event, now, &mut actions);
        }
    }

    /// Waits for what the planner asked for, inside the current stage's span.
    async fn wait_until(
        &mut self,
        until: Until,
        deadline: Option<Duration>,
        fresh: &mut Option<Duration>,
    ) -> Wait {
        let span = self.stage_span.clone();
        match until {
            Until::AllDone => {
                self.wait(deadline, fresh, |core| core.live.all_done())
                    .await
            }
            Until::Drained(stage) => {
                let lane = self.hook_lane.clone();
                let drained = move |core: &Core<E>| {
                    core.live.count(stage) == 0 && lane.as_ref().is_none_or(|lane| lane.is_idle())
                };
                span.instrument(self.wait(deadline, fresh, drained)).await
            }
            Until::Killed(stage) => {
                let watched = self.watched.clone();
                let drained = move |core: &Core<E>| {
                    core.live.count(stage) == 0 && watched.iter().all(|lane| lane.is_idle())
                };
                span.instrument(self.wait(deadline, fresh, drained)).await
            }
        }
    }

    /// Hands out the interrupts of `stage` not yet handed out: every started actor's, whether or
    /// not it has already exited (R04). Timed from `fresh` if they are called here; returns the
    /// last clock read that may stand for now, as [`send`](Self::send) does.
    fn interrupt_stage(
        &mut self,
        stage: usize,
        cause: &Arc<Cause<E>>,
        fresh: Option<Duration>,
    ) -> Option<Duration> {
        let due = |entry: &Entry<E>| entry.stage == stage && entry.started;
        // Interrupts that are all the group's own, with nothing before them still to come, are
        // called here at once, in order: no list of them (`send` says why they may be).
        let here = self.carried.is_empty()
            && self
                .entries
                .iter()
                .filter(|entry| due(entry) && entry.interrupt.is_some())
                .all(|entry| entry.inline)
            && self.lane_is_idle();
        if !here {
            let mut jobs = Vec::new();
            for (actor, entry) in self.entries.iter_mut().enumerate() {
                if !due(entry) {
                    continue;
                }
                if let Some(hook) = entry.interrupt.take() {
                    jobs.push(Job::Interrupt {
                        actor,
                        hook,
                        cause: Arc::clone(cause),
                    });
                }
            }
            return self.send(jobs, fresh);
        }
        let mut last = self.reusable(fresh);
        self.driver.hold();
        for actor in 0..self.entries.len() {
            let entry = &mut self.entries[actor];
            if !due(entry) {
                continue;
            }
            if let Some(hook) = entry.interrupt.take() {
                let job = Job::Interrupt {
                    actor,
                    hook,
                    cause: Arc::clone(cause),
                };
                last = self.call_timed(job, last);
            }
        }
        last
    }

    /// Whether no hook is still to come on the hook lane. Interrupts that are all the group's own
    /// (a future actor's token or cancel) never block, so with nothing before them they are
    /// called on this thread, in order, with no lane ([`interrupt_stage`](Self::interrupt_stage),
    /// [`send`](Self::send)); their wakes of future actors find the runner about to pass (it
    /// drives first thing in its next wait), so the driver is told to hold them
    /// ([`Driver::hold`]). The lane's lock only when it matters: a group of thread actors never
    /// takes it here.
    fn lane_is_idle(&self) -> bool {
        self.hook_lane.as_ref().is_none_or(|lane| lane.is_idle())
    }

    /// Hands interrupts to the hook lane, behind any it still has queued; starts a fresh hook
    /// lane if the last one was retired. Interrupts called here are timed from `fresh` when it
    /// may stand for now ([`Runner::now_after`]); returns the last clock read if it may, else
    /// `None`.
    fn send(&mut self, mut jobs: Vec<Job<E>>, fresh: Option<Duration>) -> Option<Duration> {
        if !self.carried.is_empty() {
            jobs.splice(0..0, std::mem::take(&mut self.carried));
        }
        if jobs.is_empty() {
            return fresh;
        }
        if jobs.iter().all(|job| self.entries[job.meta().0].inline) && self.lane_is_idle() {
            let mut last = self.reusable(fresh);
            self.driver.hold();
            for job in jobs {
                last = self.call_timed(job, last);
            }
            return last;
        }
        match &self.hook_lane {
            Some(lane) => {
                lane.push(jobs);
                fresh
            }
            None => {
                // Without a thread for a lane, the hooks may be called here, untimed.
                self.hook_lane = self.spawn_lane(jobs);
                None
            }
        }
    }

    /// Starts a lane with `jobs`. If no thread can be had, the jobs are skipped, never called on
    /// this thread, when a deadline is set (no user code may hold the runner, S08); without one
    /// they are called here.
    fn spawn_lane(&mut self, jobs: Vec<Job<E>>) -> Option<Arc<Lane<E>>> {
        match Lane::spawn(&self.core, jobs) {
            Ok((lane, thread)) => {
                self.lanes.push(LaneThread {
                    lane: Arc::clone(&lane),
                    thread: Some(thread),
                });
                Some(lane)
            }
            Err(NoThread { jobs, .. }) if !self.bounded => {
                // No deadline is configured, so nothing is broken by calling the hooks here, as
                // `oklog/run` does; only a second stop request cannot interrupt them then.
                for job in jobs {
                    self.call_here(job);
                }
                None
            }
            Err(NoThread { error, jobs }) => {
                self.lane_error.get_or_insert(error);
                for job in jobs {
                    let (actor, hook) = job.meta();
                    self.entries[actor].record(hook, HookOutcome::Skipped);
                    self.entries[actor].discard(job);
                }
                None
            }
        }
    }

    /// Calls a hook of the group's own here, timed from `since` (a clock read that may stand for
    /// now, [`Runner::reusable`]; else a read of its own), and reports it if it held the thread.
    /// Returns the time it returned: one clock read per hook, each one's end is where the next
    /// one's begins. Untimed when nothing observes the run (the time would only ever go into a
    /// [`Note::Stalled`]): no clock read at all, and `None`.
    fn call_timed(&mut self, job: Job<E>, since: Option<Duration>) -> Option<Duration> {
        if !self.core.herald.observed() {
            self.call_here(job);
            return None;
        }
        let start = since.unwrap_or_else(|| self.now());
        let actor = job.meta().0;
        self.call_here(job);
        let now = self.now();
        self.note_held(actor, now.saturating_sub(start));
        Some(now)
    }

    /// Calls a hook on this thread and records it.
    fn call_here(&mut self, job: Job<E>) {
        let (actor, hook, panic) = lane::call_here(&*self.core, job);
        lane::announce(&*self.core, actor, hook, panic.is_some());
        let outcome = panic.map_or(HookOutcome::Returned, HookOutcome::Panicked);
        self.entries[actor].record(hook, outcome);
    }

    /// If the hook lane is inside a hook (past a deadline), retires it: its queued interrupts move,
    /// in order, to a fresh lane, and it finishes its hook alone (S04).
    fn unblock(&mut self) {
        if let Some(lane) = self.hook_lane.take_if(|lane| lane.is_calling()) {
            let moved = lane.retire();
            self.send(moved, None);
        }
    }

    /// Escalates `stage` (S05), as the planner says: frees its interrupts from the lane if
    /// `overdue` (a deadline, the stage's grace or the budget, passed while the lane was inside
    /// one of them), hands out its interrupts not yet handed out, calls the force hook of each
    /// actor still running and drops each future actor still running. Leaves in `watched` the
    /// lanes the kill-grace wait watches.
    ///
    /// Only a passed deadline makes interrupts overdue (S04: "then, and only then"). A second stop
    /// request escalates at once, force hooks included, but the stage's interrupts stay one at a
    /// time on their lane (R05); so do those of a stage escalated as soon as it begins, which were
    /// handed out a moment ago. What is still queued when the kill grace runs out moves on then
    /// ([`end_stage`](Self::end_stage)).
    fn escalate(&mut self, stage: usize, cause: &Arc<Cause<E>>, overdue: bool) {
        // A lane still inside one of this stage's interrupts gets the kill grace too, so that an
        // interrupt returning in time is not reported blocked (S06).
        let mut watched: Vec<Arc<Lane<E>>> = self.hook_lane.iter().cloned().collect();
        if overdue {
            self.unblock();
        }
        self.interrupt_stage(stage, cause, None);
        watched.extend(self.hook_lane.iter().cloned());
        let members: Vec<usize> = self.members(stage).collect();
        for actor in members {
            if self.has_exited(actor) {
                continue;
            }
            self.entries[actor].escalated = true;
            self.core.emit(Note::Escalated { actor });
            // A future actor is dropped: it cannot outlive the run the way a thread can.
            if let Some(ended) = self.entries[actor].polled.as_mut().and_then(Polled::cancel) {
                let at = self.now();
                settle(&self.core, &mut self.entries[actor], actor, at, ended);
            }
            if let Some(hook) = self.entries[actor].force.take() {
                watched.extend(self.spawn_lane(vec![Job::Force { actor, hook }]));
            }
        }
        self.watched = watched;
    }

    fn end_stage(
        &mut self,
        stage: usize,
        elapsed: Duration,
        expired: bool,
        escalation: Option<Escalation>,
    ) {
        if escalation.is_some() {
            // Whatever is still queued behind a hook that outlived the kill grace goes ahead of
            // the next stage's interrupts, on a fresh lane, so that they are not stuck behind it;
            // if no stage is left, it is skipped (never called, and reported so).
            if let Some(lane) = self.hook_lane.take_if(|lane| lane.is_calling()) {
                self.carried = lane.retire();
            }
            self.watched.clear();
        }
        let report = &mut self.stage_reports[stage];
        report.elapsed = Some(elapsed);
        report.expired = expired;
        report.escalation = escalation;
        self.core.emit(Note::StageEnded {
            index: stage,
            elapsed,
            expired,
        });
    }

    /// Records what the lanes did, closes them, and joins every thread that is done.
    fn close_lanes(&mut self) -> Vec<usize> {
        let mut blocked = Vec::new();
        for LaneThread { lane, thread } in std::mem::take(&mut self.lanes) {
            let Closed {
                done,
                blocked: stuck,
                skipped,
            } = lane.close();
            for (actor, hook, panic) in done {
                let outcome = match panic {
                    None => HookOutcome::Returned,
                    Some(payload) => HookOutcome::Panicked(payload),
                };
                self.entries[actor].record(hook, outcome);
            }
            for job in skipped {
                let (actor, hook) = job.meta();
                self.entries[actor].record(hook, HookOutcome::Skipped);
                self.entries[actor].discard(job);
            }
            match (stuck, thread) {
                (Some((actor, hook)), thread) => {
                    self.entries[actor].record(hook, HookOutcome::Blocked);
                    blocked.push(actor);
                    // Inside user code: cannot be joined, must not be detached (see the module
                    // doc). The first exit's thread, if it is the one, is kept with its actor.
                    match thread {
                        Some(thread) => std::mem::forget(thread),
                        None => self.first_exit_stuck = true,
                    }
                }
                // Closed and idle: the thread ends without running user code.
                (None, Some(thread)) => {
                    let _ = thread.join();
                }
                // Served by the first exit's thread, joined with its actor.
                (None, None) => {}
            }
        }
        self.hook_lane = None;
        blocked
    }

    /// Builds the report: every actor's fate, every hook that did not return, the run's error.
    ///
    /// Borrows the runner, which the caller then drops (with the shared state's last reference):
    /// the future holds no copy of it.
    async fn finish(
        &mut self,
        trigger: Trigger,
        cause: Arc<Cause<E>>,
        winner: Option<Winner>,
        triggered_at: Duration,
        teardown: Duration,
        spawn_error: Option<SpawnError>,
    ) -> Report<E> {
        // Every lane is judged in one look under its lock: one still inside a hook is blocked (and
        // may still hold the cause); one that is not holds no reference to the cause (a job drops
        // its reference before the lane says it is done), so the first exit's value comes back.
        for job in std::mem::take(&mut self.carried) {
            let (actor, hook) = job.meta();
            self.entries[actor].record(hook, HookOutcome::Skipped);
            self.entries[actor].discard(job);
        }
        let mut blocked_hooks = self.close_lanes();
        self.stop_timer();
        // A future actor still held here was given up on (none is, unless a wait ended without
        // its stage draining): it is dropped, not left behind.
        for actor in 0..self.entries.len() {
            if let Some(ended) = self.entries[actor].polled.as_mut().and_then(Polled::cancel) {
                let at = self.now();
                settle(&self.core, &mut self.entries[actor], actor, at, ended);
            }
        }
        if !self.blocking {
            // The task's waker, if the last wait left one: not kept past the run.
            self.core.control.wake_pair().lock.lock().waker = None;
        }
        let (winner_result, retained_error) = match Arc::try_unwrap(cause) {
            Ok(cause) => (cause.into_result(), false),
            Err(cause) => (None, matches!(cause.result(), Some(Err(_)))),
        };

        let mut actors = Vec::with_capacity(self.entries.len());
        let mut abandoned = Vec::new();
        let mut winner = winner;
        let mut winner_result = winner_result;
        // Each entry is emptied in place, field by field, into its line: not moved out whole.
        let mut entries = std::mem::take(&mut self.entries);
        for (index, entry) in entries.iter_mut().enumerate() {
            // Filled at the end (`name_lines`), when the names can be moved rather than copied.
            let name = String::new();
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
                _ => match entry.exit.take() {
                    Some(Exit {
                        result,
                        at,
                        cancelled,
                    }) => {
                        let outcome = match result {
                            _ if cancelled => Outcome::Cancelled,
                            Ok(Ok(())) => Outcome::Ok,
                            Ok(Err(error)) => Outcome::Err(error),
                            Err(payload) => Outcome::Panicked(payload),
                        };
                        (outcome, Some(at), false)
                    }
                    None => {
                        self.core.emit(Note::Abandoned { actor: index });
                        abandoned.push(self.core.names[index].clone());
                        (Outcome::Abandoned, None, false)
                    }
                },
            };
            if let Some(thread) = entry.thread.take() {
                if matches!(outcome, Outcome::Abandoned) || (first && self.first_exit_stuck) {
                    // Still inside its execute: kept, not detached (see the module doc).
                    std::mem::forget(thread);
                } else {
                    // Its execute has returned: the thread is at most running its exit.
                    let _ = thread.join();
                }
            }
            // Hooks never needed (a force hook of an actor never escalated) are dropped here.
            let (interrupt, force) = (entry.interrupt.take(), entry.force.take());
            entry.discard(interrupt);
            entry.discard(force);
            let (restarts, drop_panics) = entry
                .supervisor
                .take()
                .map(|supervisor| supervisor.take_history())
                .unwrap_or_default();
            entry.drop_panics.extend(drop_panics);
            actors.push(ActorReport {
                name,
                stage: entry.stage,
                policy: entry.policy,
                outcome,
                exited_at,
                first,
                interrupt: std::mem::replace(&mut entry.interrupt_outcome, HookOutcome::NotCalled),
                escalated: entry.escalated,
                force: std::mem::replace(&mut entry.force_outcome, HookOutcome::NotCalled),
                drop_panics: std::mem::take(&mut entry.drop_panics),
                restarts,
            });
        }
        drop(entries);
        blocked_hooks.sort_unstable();
        blocked_hooks.dedup();
        let hooks: Vec<String> = blocked_hooks
            .into_iter()
            .map(|actor| {
                if !matches!(actors[actor].outcome, Outcome::Abandoned) {
                    self.core.emit(Note::Abandoned { actor });
                }
                self.core.names[actor].clone()
            })
            .collect();
        let skipped: Vec<String> = actors
            .iter()
            .zip(self.core.names.iter())
            .filter(|(actor, _)| matches!(actor.interrupt, HookOutcome::Skipped))
            .map(|(_, name)| name.clone())
            .collect();
        let (ready_at, never_ready) = self.readiness.finish();
        // The observer hears of the abandonments above before it is let go.
        let observer_missed = self.finish_observer().await;
        self.core.clock.stop(self.core.control.wake_pair());
        self.name_lines(&mut actors);

        let mut report = Report {
            trigger,
            actors,
            stages: std::mem::take(&mut self.stage_reports),
            triggered_at: Some(triggered_at),
            teardown: Some(teardown),
            error: None,
            observer_missed,
            service: ServiceReport {
                ready_at,
                never_ready,
                lame_duck: self.lame_duck_elapsed,
            },
            identity: self.core.control.identity(),
            // Filled by each nested actor's thread before it returned; empty if it never did.
            nested: std::mem::take(&mut self.nested)
                .into_iter()
                .filter_map(|(index, slot)| Some((index, slot.lock().take()?)))
                .collect(),
        };
        let first_escalation = report
            .stages
            .iter()
            .find_map(|stage| stage.escalation.clone());
        let escalated: Vec<String> = report.escalated().map(str::to_owned).collect();
        // Actors or hooks given up on: `Error::Abandoned` before any other failure of the run.
        let gave_up = !abandoned.is_empty() || !hooks.is_empty();
        report.error = if let Some(error) = spawn_error {
            Some(match error {
                SpawnError::Actor(index, source) => Error::Spawn {
                    actor: report.actors[index].name.clone(),
                    source,
                },
            })
        } else if let Some(source) = self.lane_error.take().filter(|_| !gave_up) {
            // No hook is blocked: the thread that could not be had is why hooks were skipped
            // (all of them, unless a lane's thread also started too late, below).
            let skipped = report
                .actors
                .iter()
                .filter(|actor| {
                    matches!(actor.interrupt, HookOutcome::Skipped)
                        || matches!(actor.force, HookOutcome::Skipped)
                })
                .map(|actor| actor.name.clone())
                .collect();
            Some(Error::Helper {
                thread: "hook",
                skipped,
                source,
            })
        } else if let Some(source) = self.timer_error.take().filter(|_| !gave_up) {
            Some(Error::Timer { source })
        } else if gave_up || !skipped.is_empty() {
            // Skipped interrupts alone (nothing blocked, nobody left behind, every thread to be
            // had) are a deadline that ran out before a lane's thread, just started, took its
            // queue: R04 was not kept for them, so never a success either (Spin's P11).
            Some(Error::Abandoned {
                actors: abandoned,
                hooks,
                skipped,
                trigger: report.trigger_summary(),
            })
        } else if let (Some(by), false) = (first_escalation, escalated.is_empty()) {
            Some(Error::Escalated {
                actors: escalated,
                by,
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
        debug_assert!(
            report.error.is_some()
                || !report
                    .actors
                    .iter()
                    .any(|actor| matches!(actor.interrupt, HookOutcome::Skipped)),
            "rungroup: an interrupt never called would read as success (R04)"
        );
        self.finish_notifier(&report);
        report
    }

    /// The actors' names, for their report lines, once no event is left to send: moved out of the
    /// run's shared state when nothing else holds it any more (the common case), else copied (a
    /// thread left behind, a readiness handle kept by the user, an observer thread given up on).
    fn name_lines(&mut self, lines: &mut [ActorReport<E>]) {
        if let Some(core) = Arc::get_mut(&mut self.core) {
            core.herald.release_names();
            if let Some(names) = Frozen::get_mut(&mut core.names) {
                for (line, name) in lines.iter_mut().zip(names.iter_mut()) {
                    line.name = std::mem::take(name);
                }
                return;
            }
        }
        for (line, name) in lines.iter_mut().zip(self.core.names.iter()) {
            line.name.clone_from(name);
        }
    }

    /// Sends systemd the run's last status and lets the notifier thread deliver what is queued,
    /// for at most [`OBSERVER_GRACE`]; leaves it behind after that (a socket nobody reads).
    fn finish_notifier(&mut self, report: &Report<E>) {
        let Some(thread) = self.notifier_thread.take() else {
            return;
        };
        #[cfg(all(unix, feature = "systemd"))]
        if let Some(notifier) = &self.core.herald.systemd {
            let status = match &report.error {
                Some(error) => format!("stopped: {}; {error}", report.trigger_summary()),
                None => format!("stopped: {}", report.trigger_summary()),
            };
            notifier.close(&status);
            if !notifier.wait_done(OBSERVER_GRACE) {
                // Stuck sending: kept, not detached (see the module doc).
                std::mem::forget(thread);
                return;
            }
        }
        #[cfg(not(all(unix, feature = "systemd")))]
        let _ = report;
        let _ = thread.join();
    }

    /// Lets the observer thread (if any) deliver what is queued, for at most one kill grace when
    /// a deadline is configured; gives up on it after that. Returns how many events it missed.
    async fn finish_observer(&mut self) -> usize {
        self.core.herald.close();
        let Some(thread) = self.observer_thread.take() else {
            return 0;
        };
        let grace = self
            .kill_grace
            .map_or(OBSERVER_GRACE, |k| k.max(OBSERVER_GRACE));
        let deadline = Some(self.now().saturating_add(grace));
        loop {
            match self
                .wait(deadline, &mut None, |core| core.herald.is_done())
                .await
            {
                Wait::Done => {
                    let _ = thread.join();
                    return 0;
                }
                Wait::Escalated => {}
                Wait::Expired => {
                    // Stuck in the observer: kept, not detached (see the module doc).
                    std::mem::forget(thread);
                    return self.core.herald.abandon();
                }
            }
        }
    }
}
