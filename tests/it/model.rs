//! V03: random actor scripts against a plain sequential reference model of the rules.
//!
//! proptest generates a script: how many stages; for every actor its kind (a thread, or a future
//! actor (issue 12): plain, token or cancel-safe), its stage, its exit policy, how its execute
//! ends (`Ok`, `Err`, panic), when it ends (on its own, when interrupted, or, if *deaf*, only when
//! its force hook runs or, for a future, never), whether its interrupt panics, and whether it has
//! a force hook and whether that panics; what triggers teardown (one actor's own exit, a stop
//! request, or a spawn failure); whether the run has a budget; and whether it is driven by `run`
//! or by `run_async` on a minimal executor. [`expected`] is the reference
//! model: a few lines of sequential code that say, from the rules alone, what must happen. The real
//! group runs the script on real threads and must agree on the trigger (R03, S03, T01, F03), the
//! exact sequence of interrupt calls (R04, R05, S01: the `Interrupting` events for every actor,
//! and the calls of the caller's own interrupts), every actor's outcome, stage, policy,
//! first-exit flag and interrupt outcome (O01, S07, F01, F02), which actors were escalated and
//! what their force hooks did (S05), every stage's escalation and expiry (S04), the run's own
//! error (F03, S05: `Error::Escalated`), what `run` returns or resumes (R09, F01, F02, and
//! `Report::into_result`'s order), and that every actor's execute, closure or future, is dropped
//! exactly once (R11).
//!
//! # Future actors
//!
//! A future actor (`add_future`: the caller's interrupt; `add_future_token`: the group's, which
//! stops its token; `add_future_cancel`: dropped at its interrupt) follows the same rules, polled
//! by the group on the thread that runs it, with these differences the model spells out:
//!
//! - An *early* future ends in the driver's first pass, which comes before the runner looks for a
//!   trigger: it has always exited before teardown, so it is never escalated (a thread may not
//!   have run yet).
//! - A cancel-safe future that does not end on its own is dropped at its interrupt: `Cancelled`,
//!   which is neither an error nor an escalation, and its interrupt (the group's) `returned`.
//! - Escalation drops a future still running: `Cancelled` and escalated, where a thread would be
//!   waited for (and, past the kill grace, abandoned). A deaf future therefore needs no force
//!   hook. In a budgeted script every stage is escalated as it begins, in the same step as its
//!   interrupts are handed out, before the driver polls again: every started future that has not
//!   ended early is escalated and `Cancelled`, whatever its interrupt did (a thread that ends when
//!   interrupted races its escalation instead). So its force hook may panic too.
//! - The group's own interrupts (token, cancel) cannot panic; the caller's can, as for a thread.
//! - A future actor cannot fail to spawn: the spawn-failure trigger is always a thread actor.
//!
//! # Budgeted scripts
//!
//! One script in three has a budget of zero on a [`ManualClock`] that never advances: the budget
//! is spent at the trigger, so every stage is escalated as soon as it begins (the *final
//! escalation*), one stage after the other: its interrupts are handed to the hook lane, every
//! actor of the stage that has not exited is marked escalated and its force hook called on a lane
//! of its own, and the runner waits for the stage to drain. The kill grace is measured on the same
//! clock, so it never expires: nothing is abandoned, and the runner waits for every actor. A
//! script therefore never holds an actor that cannot return: a deaf actor (budgeted scripts only)
//! ignores its interrupt and returns when its force hook stops its token, so it always has one.
//!
//! # Why the model can be exact
//!
//! The scripts are deterministic on real threads by construction; where one fact is not, the
//! model says which values it allows and the check compares only what is determined.
//!
//! - **Trigger.** At most one actor's own exit can trigger teardown (the others that end on their
//!   own are `on-error` and `Ok`, which never triggers), and a stop request is made before `run`;
//!   so the winner never depends on scheduling. A spawn-failure script has no early actor at all.
//! - **Interrupt order.** Every interrupt goes to the one hook lane, stage by stage. Without a
//!   budget the next stage begins only once the lane is idle and the stage drained. With one, a
//!   stage escalated as it begins is not *overdue*: its interrupts stay queued, in order, on that
//!   lane (R05) and the runner waits for the lane to be idle before the next stage. So the exact
//!   sequence, stage order then registration order, including the interrupts of actors that have
//!   already exited (R04), holds in budgeted runs too.
//! - **Escalation.** A deaf actor cannot return before its force hook runs, and its force hook
//!   runs only once it is escalated: it is always escalated, and its force hook is called exactly
//!   once (returning, or panicking after it stopped the token). The first exit has exited before
//!   teardown begins: it is never escalated and its force hook, if it has one, is never called
//!   (the Spin model's K1). Every other started actor races its stage's escalation: one that ends
//!   when interrupted may return between its interrupt and the runner's look, and an early
//!   `on-error` actor may not have run yet (a stop request before `run`, or another actor's exit,
//!   can begin teardown first). For those the model says "unknown", and the check still holds
//!   them to the rule that binds both outcomes: a force hook is called if and only if its actor
//!   was escalated. Such actors therefore never get a panicking force hook (the panic would decide
//!   what `run` resumes). Without a budget nothing is ever escalated and no force hook is called.
//! - **The run's error.** A started deaf actor makes `Error::Escalated` certain; with none, the
//!   error is `None` or `Escalated` depending on the races above (only `None` if nobody could
//!   race). The check compares the kind with the allowed set and holds `Escalated` to the report:
//!   it names exactly the escalated actors, by `Escalation::Budget`. A spawn failure's
//!   `Error::Spawn` comes first. What `run` returns follows `Report::into_result`: a run error
//!   other than `Escalated`, else a panic (the first exit's, else executes, interrupts, force
//!   hooks, in registration order), else the first exit's `Err`, else `Escalated`, else `Ok`: only
//!   the last step can depend on a race, and the model allows both values there.
//! - **Stages and times.** In a budgeted run every stage reports `Escalation::Budget` and
//!   `expired`, none otherwise; on the manual clock every time in the report is zero.
//!
//! Spawn failures stay in budgeted scripts: every started actor waits for its interrupt or force
//! hook, so nothing new races, and `Error::Spawn` outranks `Escalated`. Actors registered after
//! the one that failed never start, futures included.
//!
//! A fuse turns a hang into a shrinkable failure: an actor that waits for its interrupt or force
//! hook panics with `fuse <index>` after [`FUSE`] (on real threads; shuttle reports a deadlock
//! itself); a future actor that still waits when a watchdog thread gives up on the run does the
//! same in its next poll, and so does the minimal executor of an async run.
//!
//! # Not covered here
//!
//! Scheduling-dependent races are the loom models' job (`loom-tests/`), and what a script cannot
//! make deterministic is left to the tests in `tests/it/stages.rs` and `tests/it/hostile.rs`: a
//! grace or budget that expires on a moving clock (an overdue stage), the retirement of a lane
//! blocked in a hook and the interrupts it carries, abandonment (S06), a second stop request or
//! signal.
//!
//! Replay: a failing case is shrunk and its seed saved in `tests/it/model.proptest-regressions`,
//! which is committed and replayed first on every run. More cases: `PROPTEST_CASES=10000 cargo test
//! --test it model::`.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use rungroup::{
    Escalation, Event, Group, HookOutcome, ManualClock, Outcome, Policy, Report, StopToken, Trigger,
};

/// What an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A thread actor (`add`): the caller's interrupt.
    Thread,
    /// A future actor (`add_future`): the caller's interrupt.
    Future,
    /// A future token actor (`add_future_token`): the group's interrupt stops its token.
    FutureToken,
    /// A cancel-safe future actor (`add_future_cancel`): dropped at its interrupt.
    FutureCancel,
}

impl Kind {
    fn is_future(self) -> bool {
        self != Kind::Thread
    }

    /// The interrupt is the caller's: it is logged, and it may panic.
    fn own_interrupt(self) -> bool {
        matches!(self, Kind::Thread | Kind::Future)
    }
}

/// How an execute ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Ok,
    Err,
    Panic,
}

/// When an execute ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// On its own, without waiting for anything.
    Early,
    /// When its interrupt (or its force hook, if it has one and is escalated) stops its token; a
    /// cancel-safe future, never: it is dropped at its interrupt.
    Interrupted,
    /// Only when its force hook stops its token: it ignores its interrupt. Budgeted scripts only;
    /// a thread always with a force hook. A future never ends: escalation drops it. Never
    /// cancel-safe (it could not ignore its drop).
    Deaf,
}

/// An actor's force hook: none, one that stops its token, or one that stops it and then panics
/// (only actors certain to be escalated: deaf ones, and futures that do not end early in a
/// budgeted script).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Force {
    None,
    Returns,
    Panics,
}

#[derive(Clone, Debug)]
struct ActorScript {
    kind: Kind,
    stage: usize,
    policy: Policy,
    end: End,
    when: When,
    interrupt_panics: bool,
    force: Force,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TriggerScript {
    /// The actor at this index ends early and triggers.
    Actor(usize),
    /// A stop request before `run`.
    Stop,
    /// The thread of the actor at this index cannot be spawned (F03; its stack size is one no
    /// machine maps). Every actor waits for its interrupt or force hook. Not under shuttle, whose
    /// threads do not fail to spawn.
    SpawnFails(usize),
}

#[derive(Clone, Debug)]
struct Script {
    stages: usize,
    actors: Vec<ActorScript>,
    trigger: TriggerScript,
    /// A zero budget on a manual clock that never advances: every stage escalated as it begins.
    budget: bool,
    /// Driven by `run_async` on a minimal executor instead of `run`.
    asynchronous: bool,
}

/// The actors and trigger of a script, made consistent: the only early actor that may trigger is
/// the chosen one; every other early actor is `on-error` and returns `Ok`; deaf threads (budgeted
/// scripts only) always have a force hook, and only actors certain to be escalated may have one
/// that panics. The kinds and the driver are drawn last, so that a seed saved before they existed
/// still draws the same actors and trigger.
fn script() -> impl Strategy<Value = Script> {
    (1usize..=3, 1usize..=6, prop::bool::weighted(1.0 / 3.0)).prop_flat_map(
        |(stages, count, budget)| {
            let when = if budget {
                prop_oneof![Just(When::Early), Just(When::Interrupted), Just(When::Deaf)].boxed()
            } else {
                prop_oneof![Just(When::Early), Just(When::Interrupted)].boxed()
            };
            let actor = (
                0..stages,
                prop_oneof![Just(Policy::Critical), Just(Policy::OnError)],
                prop_oneof![Just(End::Ok), Just(End::Err), Just(End::Panic)],
                when,
                prop::bool::weighted(0.2),
                prop_oneof![
                    2 => Just(Force::None),
                    2 => Just(Force::Returns),
                    1 => Just(Force::Panics),
                ],
            );
            let kind = prop_oneof![
                3 => Just(Kind::Thread),
                1 => Just(Kind::Future),
                1 => Just(Kind::FutureToken),
                1 => Just(Kind::FutureCancel),
            ];
            (
                prop::collection::vec(actor, count),
                prop_oneof![
                    4 => (0..count).prop_map(Choice::Actor),
                    2 => Just(Choice::Stop),
                    1 => (0..count).prop_map(Choice::SpawnFails),
                ],
                prop::collection::vec(kind, count),
                prop::bool::weighted(0.25),
            )
                .prop_map(move |(actors, choice, kinds, asynchronous)| {
                    let actors = actors
                        .into_iter()
                        .zip(kinds)
                        .map(
                            |((stage, policy, end, when, interrupt_panics, force), kind)| {
                                ActorScript {
                                    kind,
                                    stage,
                                    policy,
                                    end,
                                    when,
                                    interrupt_panics,
                                    force,
                                }
                            },
                        )
                        .collect();
                    consistent(stages, actors, choice, budget, asynchronous)
                })
        },
    )
}

/// Makes a drawn script consistent with its trigger (see [`script`]).
fn consistent(
    stages: usize,
    mut actors: Vec<ActorScript>,
    choice: Choice,
    budget: bool,
    asynchronous: bool,
) -> Script {
    let trigger = match choice {
        Choice::Actor(index) => TriggerScript::Actor(index),
        Choice::Stop => TriggerScript::Stop,
        // Under shuttle a thread never fails to spawn: a stop request instead.
        Choice::SpawnFails(_) if cfg!(shuttle) => TriggerScript::Stop,
        Choice::SpawnFails(index) => TriggerScript::SpawnFails(index),
    };
    for (index, actor) in actors.iter_mut().enumerate() {
        // Only a thread can fail to spawn.
        if trigger == TriggerScript::SpawnFails(index) {
            actor.kind = Kind::Thread;
        }
        // The group's own interrupts do not panic; a cancel-safe future cannot ignore its drop.
        if !actor.kind.own_interrupt() {
            actor.interrupt_panics = false;
        }
        if actor.kind == Kind::FutureCancel && actor.when == When::Deaf {
            actor.when = When::Interrupted;
        }
        match trigger {
            // No early exit may race the spawn failure: every actor waits.
            TriggerScript::SpawnFails(_) if actor.when == When::Early => {
                actor.when = When::Interrupted;
            }
            TriggerScript::Actor(trigger) if trigger == index => {
                actor.when = When::Early;
                if actor.policy == Policy::OnError && actor.end == End::Ok {
                    actor.end = End::Err; // an on-error Ok exit would not trigger
                }
            }
            _ if actor.when == When::Early => {
                // Ends on its own but must not trigger.
                actor.policy = Policy::OnError;
                actor.end = End::Ok;
            }
            _ => {}
        }
        // Escalated for certain: a deaf actor; a future that does not end early, in a budgeted
        // script (see the module doc).
        let certain = actor.when == When::Deaf
            || (budget && actor.kind.is_future() && actor.when != When::Early);
        actor.force = match (actor.when, actor.force) {
            // A deaf thread returns only through its force hook.
            (When::Deaf, Force::None) if actor.kind == Kind::Thread => Force::Returns,
            // Anyone else's may or may not be called: its panic would decide what `run` resumes.
            (_, Force::Panics) if !certain => Force::Returns,
            (_, force) => force,
        };
    }
    Script {
        stages,
        actors,
        trigger,
        budget,
        asynchronous,
    }
}

/// What the strategy picks as the trigger, before the actors are made consistent with it.
#[derive(Clone, Copy, Debug)]
enum Choice {
    Actor(usize),
    Stop,
    SpawnFails(usize),
}

/// One actor's report line, as far as the model fixes it: outcome label, stage, policy, first
/// exit, interrupt outcome label.
type Line = (&'static str, usize, Policy, bool, &'static str);

/// What the rules say must happen.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    trigger: Trigger,
    /// Interrupt calls, in order: stage by stage, registration order within a stage. The
    /// `Interrupting` events say all of them; the caller's own interrupts log the same sequence
    /// without the group's own (token and cancel-safe futures).
    interrupts: Vec<usize>,
    /// Per actor: its report line.
    actors: Vec<Line>,
    /// Per actor: whether it is escalated; `None` where that is a race (see the module doc).
    escalated: Vec<Option<bool>>,
    /// Per actor: its force hook's outcome label if it is escalated (`not called` without one).
    /// Not escalated, it must be `not called`.
    force_if_escalated: Vec<&'static str>,
    /// Per stage: its escalation and whether it expired.
    stages: Vec<(Option<Escalation>, bool)>,
    /// The run errors allowed.
    errors: Vec<RunError>,
    /// What `run` may do: `Ok`, `Err(..)`, or resume a panic.
    run: Vec<RunResult>,
}

/// The kind of the report's own error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunError {
    None,
    /// `Error::Spawn` naming this actor.
    Spawn(usize),
    /// `Error::Escalated`, by the budget.
    Escalated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunResult {
    Ok,
    Err(usize),
    ExecutePanic(usize),
    InterruptPanic(usize),
    ForcePanic(usize),
    /// `Error::Spawn` naming this actor (F03): the run's own error comes before any panic.
    SpawnFailed(usize),
    /// `Error::Escalated`: after any panic and after the first exit's own error.
    Escalated,
}

/// The reference model: sequential, from the rules alone.
fn expected(script: &Script) -> Expected {
    let trigger = match script.trigger {
        TriggerScript::Actor(index) => Trigger::Exit { actor: index },
        TriggerScript::Stop => Trigger::Stop {
            reason: "model".to_owned(),
        },
        TriggerScript::SpawnFails(index) => Trigger::SpawnFailed { actor: index },
    };
    // F03: the actors registered after the one that could not be spawned never start.
    let started = match script.trigger {
        TriggerScript::SpawnFails(index) => index,
        _ => script.actors.len(),
    };
    // R04, R05, S01: every interrupt once, stages in order, registration order within a stage;
    // in a budgeted run too (each stage escalated as it begins keeps its interrupts in order).
    let interrupts = (0..script.stages)
        .flat_map(|stage| {
            script
                .actors
                .iter()
                .enumerate()
                .take(started)
                .filter(move |(_, actor)| actor.stage == stage)
                .map(|(index, _)| index)
        })
        .collect();
    let first = match script.trigger {
        TriggerScript::Actor(index) => Some(index),
        TriggerScript::Stop | TriggerScript::SpawnFails(_) => None,
    };
    // S05: only a budget escalates here. A deaf actor always is, the first exit and the actors
    // never started never are, nor a future that ended early (in the driver's first pass, before
    // teardown); every other future is (dropped as its stage begins); any other thread may be.
    let escalated: Vec<Option<bool>> = script
        .actors
        .iter()
        .enumerate()
        .map(|(index, actor)| match actor.when {
            _ if !script.budget || index >= started || first == Some(index) => Some(false),
            When::Deaf => Some(true),
            When::Early if actor.kind.is_future() => Some(false),
            When::Early | When::Interrupted if actor.kind.is_future() => Some(true),
            When::Early | When::Interrupted => None,
        })
        .collect();
    let actors: Vec<Line> = script
        .actors
        .iter()
        .enumerate()
        .map(|(index, actor)| {
            // A future escalated, or cancel-safe and not ended on its own, is dropped.
            let cancelled = actor.kind.is_future()
                && (escalated[index] == Some(true)
                    || (actor.kind == Kind::FutureCancel && actor.when != When::Early));
            let label = match actor.end {
                _ if index >= started => "not started",
                _ if cancelled => "cancelled",
                End::Ok => "ok",
                End::Err => "error",
                End::Panic => "panicked",
            };
            let interrupt = match actor.interrupt_panics {
                _ if index >= started => "not called",
                true => "panicked",
                false => "returned",
            };
            (
                label,
                actor.stage,
                actor.policy,
                first == Some(index),
                interrupt,
            )
        })
        .collect();
    let force_if_escalated = script
        .actors
        .iter()
        .map(|actor| match actor.force {
            Force::None => "not called",
            Force::Returns => "returned",
            Force::Panics => "panicked",
        })
        .collect();
    let stages = (0..script.stages)
        .map(|_| match script.budget {
            true => (Some(Escalation::Budget), true),
            false => (None, false),
        })
        .collect();
    let errors = if let TriggerScript::SpawnFails(index) = script.trigger {
        vec![RunError::Spawn(index)]
    } else if escalated.contains(&Some(true)) {
        vec![RunError::Escalated]
    } else if escalated.contains(&None) {
        vec![RunError::None, RunError::Escalated]
    } else {
        vec![RunError::None]
    };
    // Report::into_result: the run's own error (but Escalated); else a panic: the first exit's,
    // else the first execute's, interrupt's, force hook's (registration order); else the first
    // exit's Err (R09); else Escalated; else Ok. A cancelled future never got to its end.
    let execute_panic = |index: usize| actors[index].0 == "panicked";
    let run = if let TriggerScript::SpawnFails(index) = script.trigger {
        vec![RunResult::SpawnFailed(index)]
    } else if let Some(index) = first.filter(|&index| execute_panic(index)) {
        vec![RunResult::ExecutePanic(index)]
    } else if let Some(index) = (0..script.actors.len()).find(|&index| execute_panic(index)) {
        vec![RunResult::ExecutePanic(index)]
    } else if let Some(index) = script
        .actors
        .iter()
        .position(|actor| actor.interrupt_panics)
    {
        vec![RunResult::InterruptPanic(index)]
    } else if let Some(index) = (0..script.actors.len()).find(|&index| {
        script.actors[index].force == Force::Panics && escalated[index] == Some(true)
    }) {
        vec![RunResult::ForcePanic(index)]
    } else if let Some(index) = first.filter(|&index| script.actors[index].end == End::Err) {
        vec![RunResult::Err(index)]
    } else {
        errors
            .iter()
            .map(|error| match error {
                RunError::Escalated => RunResult::Escalated,
                _ => RunResult::Ok,
            })
            .collect()
    };
    Expected {
        trigger,
        interrupts,
        actors,
        escalated,
        force_if_escalated,
        stages,
        errors,
        run,
    }
}

/// An actor's error: which actor it came from, and not `Clone`.
#[derive(Debug)]
pub(crate) struct ActorError(pub(crate) usize);

impl std::fmt::Display for ActorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "actor {} failed", self.0)
    }
}

impl std::error::Error for ActorError {}

#[derive(Debug)]
enum ModelError {
    Actor(ActorError),
    Run(rungroup::Error),
}

impl From<rungroup::Error> for ModelError {
    fn from(error: rungroup::Error) -> Self {
        ModelError::Run(error)
    }
}

/// How long an actor waits for its interrupt or force hook before it gives up and panics with
/// `fuse <index>`: a hang becomes a failure proptest can shrink. A run of a script takes
/// milliseconds.
#[cfg(not(shuttle))]
const FUSE: Duration = Duration::from_secs(10);

/// Waits for `token`; on real threads, at most [`FUSE`].
fn wait_or_blow(token: &StopToken, index: usize) {
    #[cfg(shuttle)]
    {
        let _ = index;
        token.wait(); // shuttle reports a deadlock itself
    }
    #[cfg(not(shuttle))]
    if !token.wait_timeout(FUSE) {
        panic::panic_any(format!(
            "fuse {index}: neither interrupted nor forced after {FUSE:?}"
        ));
    }
}

/// Waits, in a future actor, for `token`, or, without one, for ever (a deaf or cancel-safe
/// future, which only a drop ends); on real threads, only until the watchdog of [`guarded`]
/// blows `fuse`, and then panics.
async fn await_or_blow(token: Option<StopToken>, fuse: StopToken, index: usize) {
    #[cfg(shuttle)]
    {
        let _ = (fuse, index); // shuttle reports a deadlock itself
        match token {
            Some(token) => token.stopped().await,
            None => std::future::pending().await,
        }
    }
    #[cfg(not(shuttle))]
    {
        use std::future::Future;
        use std::pin::Pin;
        use std::task::Poll;
        let mut stopped = token.as_ref().map(StopToken::stopped);
        let mut blown = fuse.stopped();
        std::future::poll_fn(|cx| {
            if let Some(stopped) = stopped.as_mut() {
                if Pin::new(stopped).poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            if Pin::new(&mut blown).poll(cx).is_ready() {
                panic::panic_any(format!(
                    "fuse {index}: neither interrupted nor dropped after {FUSE:?}"
                ));
            }
            Poll::Pending
        })
        .await;
    }
}

/// Runs `run` (one run of a group); on real threads, with a watchdog that blows `fuse` once it has
/// taken [`FUSE`], so that a future actor still waiting then panics (see [`await_or_blow`]).
fn guarded<T>(fuse: &StopToken, run: impl FnOnce() -> T) -> T {
    #[cfg(shuttle)]
    {
        let _ = fuse;
        run()
    }
    #[cfg(not(shuttle))]
    {
        let done = StopToken::new();
        let watchdog = {
            let (done, fuse) = (done.clone(), fuse.clone());
            std::thread::spawn(move || {
                if !done.wait_timeout(FUSE) {
                    fuse.stop();
                }
            })
        };
        let result = panic::catch_unwind(AssertUnwindSafe(run));
        done.stop();
        watchdog.join().expect("the watchdog does not panic");
        result.unwrap_or_else(|payload| panic::resume_unwind(payload))
    }
}

/// Polls `future` to completion on this thread, parking between polls: the smallest executor
/// there is, for scripts driven by `run_async`. On real threads a park that lasts [`FUSE`] with no
/// wake is a failure (a lost wake-up, or a hang): a run of a script takes milliseconds, and it
/// waits only for what its actors, hooks and helper threads do.
#[cfg(not(shuttle))]
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark {
        thread: std::thread::Thread,
        woken: AtomicBool,
    }
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.woken.store(true, Ordering::SeqCst);
            self.thread.unpark();
        }
    }
    let unpark = Arc::new(Unpark {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        let parked = std::time::Instant::now();
        std::thread::park_timeout(FUSE);
        assert!(
            unpark.woken.swap(false, Ordering::SeqCst) || parked.elapsed() < FUSE,
            "the run's future was not woken for {FUSE:?}: a lost wake-up or a hang"
        );
    }
}

/// shuttle's executor, for scripts driven by `run_async` in the shuttle build.
#[cfg(shuttle)]
use shuttle::future::block_on;

/// Locks a log; a lock poisoned by a scripted panic is as good as any.
fn lock<T>(log: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the real group's hooks did: the caller's interrupt calls in order, the `Interrupting`
/// events (every interrupt, the group's own too) in order, the force hook calls, and how often
/// each actor's execute was dropped; and the fuse of its future actors.
#[derive(Clone, Default)]
struct Logs {
    interrupts: Arc<Mutex<Vec<usize>>>,
    events: Arc<Mutex<Vec<usize>>>,
    forces: Arc<Mutex<Vec<usize>>>,
    drops: Arc<Mutex<Vec<usize>>>,
    fuse: StopToken,
}

/// Counts a drop of the execute (closure or future) that holds it.
struct Dropped {
    drops: Arc<Mutex<Vec<usize>>>,
    index: usize,
}

impl Drop for Dropped {
    fn drop(&mut self) {
        lock(&self.drops)[self.index] += 1;
    }
}

/// How actor `index`'s execute ends, as its script says.
fn finish(index: usize, end: End) -> Result<(), ModelError> {
    match end {
        End::Ok => Ok(()),
        End::Err => Err(ModelError::Actor(ActorError(index))),
        End::Panic => panic::panic_any(format!("execute {index}")),
    }
}

/// Builds the real group for a script; returns it and the logs of its hook calls.
fn build(script: &Script) -> (Group<ModelError>, Logs) {
    let mut group = Group::<ModelError>::default();
    if script.budget {
        group.clock(ManualClock::new()).budget(Duration::ZERO);
    }
    let stages: Vec<_> = std::iter::once(rungroup::Stage::DEFAULT)
        .chain((1..script.stages).map(|stage| group.stage(format!("stage-{stage}")).id()))
        .collect();
    let logs = Logs::default();
    *lock(&logs.drops) = vec![0; script.actors.len()];
    let events = Arc::clone(&logs.events);
    group.observe(move |event| {
        if let Event::Interrupting { actor } = event {
            lock(&events).push(actor_index(actor));
        }
    });
    for (index, actor) in script.actors.iter().cloned().enumerate() {
        let token = StopToken::new();
        let (interrupted, forced) = (token.clone(), token.clone());
        let (calls, forces) = (Arc::clone(&logs.interrupts), Arc::clone(&logs.forces));
        let guard = Dropped {
            drops: Arc::clone(&logs.drops),
            index,
        };
        let fuse = logs.fuse.clone();
        let mut builder = group
            .actor(format!("a{index}"))
            .stage(stages[actor.stage])
            .policy(actor.policy);
        if script.trigger == TriggerScript::SpawnFails(index) {
            builder = builder.stack_size(1 << 60); // no machine maps this: the spawn fails
        }
        if actor.force != Force::None {
            builder = builder.force(move || {
                lock(&forces).push(index);
                forced.stop();
                if actor.force == Force::Panics {
                    panic::panic_any(format!("force {index}"));
                }
            });
        }
        let interrupt = move |_: &rungroup::Cause<ModelError>| {
            lock(&calls).push(index);
            if actor.when != When::Deaf {
                interrupted.stop();
            }
            if actor.interrupt_panics {
                panic::panic_any(format!("interrupt {index}"));
            }
        };
        // What a future actor awaits: its token, unless it ends at once or waits for its drop.
        let awaits = move |token: StopToken| match actor.when {
            When::Early => None,
            When::Interrupted if actor.kind != Kind::FutureCancel => Some(Some(token)),
            When::Interrupted | When::Deaf => Some(None),
        };
        // The actor's id is its index: the report is checked by position.
        let _id = match actor.kind {
            Kind::Thread => builder.add(
                move || {
                    let _guard = guard;
                    if actor.when != When::Early {
                        wait_or_blow(&token, index);
                    }
                    finish(index, actor.end)
                },
                interrupt,
            ),
            Kind::Future => builder.add_future(
                async move {
                    let _guard = guard;
                    if let Some(token) = awaits(token) {
                        await_or_blow(token, fuse, index).await;
                    }
                    finish(index, actor.end)
                },
                interrupt,
            ),
            Kind::FutureToken => builder.add_future_token(move |token| async move {
                let _guard = guard;
                if let Some(token) = awaits(token) {
                    await_or_blow(token, fuse, index).await;
                }
                finish(index, actor.end)
            }),
            Kind::FutureCancel => builder.add_future_cancel(async move {
                let _guard = guard;
                if let Some(token) = awaits(token) {
                    await_or_blow(token, fuse, index).await;
                }
                finish(index, actor.end)
            }),
        };
    }
    if script.trigger == TriggerScript::Stop {
        let _ = group.stop_handle().stop("model");
    }
    (group, logs)
}

/// Runs a group built from `script` the way the script says: `run_with_report`, or
/// `run_async_with_report` on [`block_on`].
fn report_of(script: &Script, group: Group<ModelError>, logs: &Logs) -> Report<ModelError> {
    guarded(&logs.fuse, || match script.asynchronous {
        true => block_on(group.run_async_with_report()),
        false => group.run_with_report(),
    })
}

/// Keeps the panics these scripts raise on purpose out of the test output; every other panic
/// (a fuse, a failed assertion) still reaches the default hook.
pub(crate) fn quiet_scripted_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let scripted = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|message| {
                    ["execute ", "interrupt ", "force "]
                        .iter()
                        .any(|prefix| message.starts_with(prefix))
                });
            if !scripted {
                default(info);
            }
        }));
    });
}

/// The payload of a hook's or execute's panic, as a string.
fn message(payload: &rungroup::Payload) -> Option<&String> {
    payload.downcast_ref::<String>()
}

fn check(script: &Script) -> Result<(), TestCaseError> {
    quiet_scripted_panics();
    let want = expected(script);

    // The report: trigger, interrupt order, every actor's line.
    let (group, logs) = build(script);
    let report = report_of(script, group, &logs);
    // A blown fuse is a hang: say so before anything it garbles.
    for (index, actor) in report.actors().iter().enumerate() {
        if let Outcome::Panicked(payload) = &actor.outcome {
            let fuse = message(payload).filter(|message| message.starts_with("fuse "));
            prop_assert!(
                fuse.is_none(),
                "a{} hung: {} (interrupt {}, escalated {}, force hook {})",
                index,
                fuse.map_or("", String::as_str),
                actor.interrupt.label(),
                actor.escalated,
                actor.force.label()
            );
        }
    }
    prop_assert_eq!(report.trigger(), &want.trigger);
    // Every interrupt, the group's own too, by its `Interrupting` event; the caller's own, as they
    // ran.
    prop_assert_eq!(&*lock(&logs.events), &want.interrupts);
    let own: Vec<usize> = want
        .interrupts
        .iter()
        .copied()
        .filter(|&index| script.actors[index].kind.own_interrupt())
        .collect();
    prop_assert_eq!(&*lock(&logs.interrupts), &own);
    // R11: every execute, closure or future, started or not, dropped exactly once.
    prop_assert_eq!(
        &*lock(&logs.drops),
        &vec![1; script.actors.len()],
        "drops per actor"
    );
    let actors: Vec<Line> = report
        .actors()
        .iter()
        .map(|actor| {
            (
                actor.outcome.label(),
                actor.stage,
                actor.policy,
                actor.first,
                actor.interrupt.label(),
            )
        })
        .collect();
    prop_assert_eq!(&actors, &want.actors);
    for (index, actor) in report.actors().iter().enumerate() {
        match &actor.outcome {
            Outcome::Err(ModelError::Actor(ActorError(from))) => prop_assert_eq!(*from, index),
            Outcome::Panicked(payload) => {
                // Bound first: newer compilers extend the lifetime of the temporary in
                // `Some(&format!(..))` through the macro's `let`; the MSRV (1.85) does not (E0716).
                let want = format!("execute {index}");
                prop_assert_eq!(message(payload), Some(&want));
            }
            _ => {}
        }
        if let HookOutcome::Panicked(payload) = &actor.interrupt {
            let want = format!("interrupt {index}"); // bound first: E0716 on the MSRV
            prop_assert_eq!(message(payload), Some(&want));
        }
        prop_assert!(actor.drop_panics.is_empty(), "a{} drop panicked", index);
    }

    // S05: who was escalated, and what their force hooks did.
    for (index, actor) in report.actors().iter().enumerate() {
        if let Some(escalated) = want.escalated[index] {
            prop_assert_eq!(actor.escalated, escalated, "a{} escalated", index);
        }
        let force = match actor.escalated {
            true => want.force_if_escalated[index],
            false => "not called",
        };
        prop_assert_eq!(actor.force.label(), force, "a{} force hook", index);
        if let HookOutcome::Panicked(payload) = &actor.force {
            let want = format!("force {index}"); // bound first: E0716 on the MSRV
            prop_assert_eq!(message(payload), Some(&want));
        }
    }
    let mut forced = lock(&logs.forces).clone();
    forced.sort_unstable();
    let want_forced: Vec<usize> = report
        .actors()
        .iter()
        .enumerate()
        .filter(|(index, actor)| actor.escalated && script.actors[*index].force != Force::None)
        .map(|(index, _)| index)
        .collect();
    prop_assert_eq!(forced, want_forced, "force hooks called (each once)");

    // S04: every stage's escalation and expiry; on the manual clock, every time is zero.
    let stages: Vec<_> = report
        .stages()
        .iter()
        .map(|stage| (stage.escalation.clone(), stage.expired))
        .collect();
    prop_assert_eq!(&stages, &want.stages);
    prop_assert!(report.stages().iter().all(|stage| stage.elapsed.is_some()));
    if script.budget {
        let zero = Some(Duration::ZERO);
        prop_assert_eq!(report.triggered_at(), zero);
        prop_assert_eq!(report.teardown(), zero);
        prop_assert!(report.stages().iter().all(|stage| stage.elapsed == zero));
        for (index, actor) in report.actors().iter().enumerate() {
            let at = if want.actors[index].0 == "not started" {
                None
            } else {
                zero
            };
            prop_assert_eq!(actor.exited_at, at, "a{} exited at", index);
        }
    }

    // The run's own error.
    let error = match report.error() {
        None => RunError::None,
        Some(rungroup::Error::Spawn { actor, .. }) => RunError::Spawn(actor_index(actor)),
        Some(rungroup::Error::Escalated {
            actors,
            by,
            trigger,
        }) => {
            let escalated: Vec<&str> = report.escalated().collect();
            prop_assert!(
                !escalated.is_empty(),
                "Error::Escalated with nobody escalated"
            );
            prop_assert_eq!(actors, &escalated);
            prop_assert_eq!(by, &Escalation::Budget);
            prop_assert_eq!(trigger, &report.trigger_summary());
            RunError::Escalated
        }
        Some(error) => return Err(TestCaseError::fail(format!("run error: {error:?}"))),
    };
    prop_assert!(
        want.errors.contains(&error),
        "run error {:?}, want one of {:?}",
        error,
        want.errors
    );
    if error == RunError::None {
        prop_assert_eq!(report.escalated().count(), 0);
    }

    // What `run` (or `run_async`) returns or resumes, on a fresh run of the same script.
    let (group, logs) = build(script);
    let run = || match script.asynchronous {
        true => block_on(group.run_async()),
        false => group.run(),
    };
    let got = match panic::catch_unwind(AssertUnwindSafe(|| guarded(&logs.fuse, run))) {
        Ok(Ok(())) => RunResult::Ok,
        Ok(Err(ModelError::Actor(ActorError(index)))) => RunResult::Err(index),
        Ok(Err(ModelError::Run(rungroup::Error::Spawn { actor, .. }))) => {
            RunResult::SpawnFailed(actor_index(&actor))
        }
        Ok(Err(ModelError::Run(rungroup::Error::Escalated { .. }))) => RunResult::Escalated,
        Ok(Err(ModelError::Run(error))) => {
            return Err(TestCaseError::fail(format!("run error: {error}")));
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            let (kind, index) = message
                .split_once(' ')
                .ok_or_else(|| TestCaseError::fail(format!("foreign panic: {message}")))?;
            let index: usize = index
                .parse()
                .map_err(|_| TestCaseError::fail(message.clone()))?;
            match kind {
                "execute" => RunResult::ExecutePanic(index),
                "interrupt" => RunResult::InterruptPanic(index),
                "force" => RunResult::ForcePanic(index),
                _ => return Err(TestCaseError::fail(format!("foreign panic: {message}"))),
            }
        }
    };
    prop_assert!(
        want.run.contains(&got),
        "run gave {:?}, want one of {:?}",
        got,
        want.run
    );
    Ok(())
}

/// The index in an actor's name (`a3` → 3).
fn actor_index(name: &str) -> usize {
    name[1..].parse().expect("actors are named a<index>")
}

/// Runs one script: once on real threads, or, in the shuttle build (`shuttle-tests/` includes this
/// file), under `SHUTTLE_SCHEDULES` random schedules, so the model is checked against many
/// interleavings rather than the one the OS happened to pick.
fn run_case(script: &Script) -> Result<(), TestCaseError> {
    #[cfg(not(shuttle))]
    {
        check(script)
    }
    #[cfg(shuttle)]
    {
        const SHUTTLE_SCHEDULES: usize = 20;
        let script = script.clone();
        panic::catch_unwind(AssertUnwindSafe(|| {
            shuttle::check_random(move || check(&script).unwrap(), SHUTTLE_SCHEDULES);
        }))
        .map_err(|_| TestCaseError::fail("a shuttle schedule disagreed with the model"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(shuttle) { 32 } else { 96 },
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("tests/it/model.proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    /// V03: the group agrees with the reference model on every generated script.
    #[test]
    fn v03_group_agrees_with_reference_model(script in script()) {
        run_case(&script)?;
    }
}

/// An actor for the hand-written scripts.
fn actor(stage: usize, end: End, when: When, force: Force) -> ActorScript {
    ActorScript {
        kind: Kind::Thread,
        stage,
        policy: Policy::Critical,
        end,
        when,
        interrupt_panics: false,
        force,
    }
}

/// Hand-written scripts, to show the model is not vacuous.
#[test]
fn v03_reference_model_examples() {
    // Stage order beats registration order.
    let script = Script {
        stages: 2,
        actors: vec![
            actor(1, End::Ok, When::Interrupted, Force::None),
            actor(0, End::Err, When::Early, Force::None),
        ],
        trigger: TriggerScript::Actor(1),
        budget: false,
        asynchronous: false,
    };
    let want = expected(&script);
    assert_eq!(want.interrupts, vec![1, 0]);
    assert_eq!(want.errors, vec![RunError::None]);
    assert_eq!(want.run, vec![RunResult::Err(1)]);
    run_case(&script).unwrap();

    // A zero budget: every stage escalated as it begins, in stage order. The deaf actor is
    // escalated and forced; the first exit never is; the interrupted one may be.
    let mut script = Script {
        stages: 2,
        actors: vec![
            actor(1, End::Err, When::Early, Force::Returns),
            actor(0, End::Ok, When::Deaf, Force::Returns),
            actor(1, End::Ok, When::Interrupted, Force::Returns),
        ],
        trigger: TriggerScript::Actor(0),
        budget: true,
        asynchronous: false,
    };
    let want = expected(&script);
    assert_eq!(want.interrupts, vec![1, 0, 2]);
    assert_eq!(want.escalated, vec![Some(false), Some(true), None]);
    assert_eq!(want.stages, vec![(Some(Escalation::Budget), true); 2]);
    assert_eq!(want.errors, vec![RunError::Escalated]);
    // The first exit's own error wins over the escalation.
    assert_eq!(want.run, vec![RunResult::Err(0)]);
    run_case(&script).unwrap();

    // A force hook's panic wins over both.
    script.actors[1].force = Force::Panics;
    assert_eq!(expected(&script).run, vec![RunResult::ForcePanic(1)]);
    run_case(&script).unwrap();

    // With no deaf actor the escalation is a race: `run` may say either.
    let script = Script {
        stages: 1,
        actors: vec![actor(0, End::Ok, When::Interrupted, Force::Returns)],
        trigger: TriggerScript::Stop,
        budget: true,
        asynchronous: false,
    };
    let want = expected(&script);
    assert_eq!(want.errors, vec![RunError::None, RunError::Escalated]);
    assert_eq!(want.run, vec![RunResult::Ok, RunResult::Escalated]);
    run_case(&script).unwrap();

    future_examples();
}

/// A future actor of `kind` for the hand-written scripts.
fn future(kind: Kind, stage: usize, end: End, when: When, force: Force) -> ActorScript {
    ActorScript {
        kind,
        ..actor(stage, end, when, force)
    }
}

/// Hand-written scripts with future actors (issue 12), to show what the model says of them; part
/// of [`v03_reference_model_examples`] (a test of its own would need a line in docs/rules.md).
fn future_examples() {
    // No budget: a cancel-safe future is dropped at its interrupt (`cancelled`, not an error, not
    // escalated); the others end as their script says once interrupted, in registration order
    // across kinds; the first exit is a future's, and its error is what `run` returns.
    let mut script = Script {
        stages: 2,
        actors: vec![
            future(
                Kind::FutureCancel,
                0,
                End::Err,
                When::Interrupted,
                Force::None,
            ),
            actor(1, End::Ok, When::Interrupted, Force::Returns),
            future(
                Kind::FutureToken,
                0,
                End::Panic,
                When::Interrupted,
                Force::None,
            ),
            future(Kind::Future, 1, End::Err, When::Early, Force::None),
            future(Kind::Future, 1, End::Ok, When::Interrupted, Force::Returns),
        ],
        trigger: TriggerScript::Actor(3),
        budget: false,
        asynchronous: false,
    };
    let want = expected(&script);
    assert_eq!(want.interrupts, vec![0, 2, 1, 3, 4]);
    let labels: Vec<&str> = want.actors.iter().map(|line| line.0).collect();
    assert_eq!(labels, ["cancelled", "ok", "panicked", "error", "ok"]);
    assert_eq!(want.escalated, vec![Some(false); 5]);
    assert_eq!(want.errors, vec![RunError::None]);
    // A panic in a poll is resumed before the first exit's error is returned (F01, R09).
    assert_eq!(want.run, vec![RunResult::ExecutePanic(2)]);
    run_case(&script).unwrap();
    script.actors[2].end = End::Ok;
    assert_eq!(expected(&script).run, vec![RunResult::Err(3)]);
    run_case(&script).unwrap();
    // The same, driven by `run_async`.
    script.asynchronous = true;
    run_case(&script).unwrap();

    // A zero budget: every future that did not end early is escalated and dropped as its stage
    // begins, a deaf one without a force hook too, and a cancel-safe one is escalated rather than
    // merely cancelled; an early future (ended in the first pass) never is; the interrupted
    // thread races its escalation. The escalation is certain, so a future's force hook may panic,
    // and its panic is what `run` resumes.
    let script = Script {
        stages: 2,
        actors: vec![
            future(Kind::Future, 0, End::Ok, When::Deaf, Force::None),
            future(
                Kind::FutureCancel,
                1,
                End::Ok,
                When::Interrupted,
                Force::Returns,
            ),
            future(
                Kind::FutureToken,
                0,
                End::Err,
                When::Interrupted,
                Force::Panics,
            ),
            actor(1, End::Ok, When::Interrupted, Force::Returns),
            future(Kind::Future, 1, End::Ok, When::Early, Force::Returns),
        ],
        trigger: TriggerScript::Stop,
        budget: true,
        asynchronous: false,
    };
    let want = expected(&script);
    let labels: Vec<&str> = want.actors.iter().map(|line| line.0).collect();
    assert_eq!(labels, ["cancelled", "cancelled", "cancelled", "ok", "ok"]);
    assert_eq!(
        want.escalated,
        vec![Some(true), Some(true), Some(true), None, Some(false)]
    );
    assert_eq!(want.errors, vec![RunError::Escalated]);
    assert_eq!(want.run, vec![RunResult::ForcePanic(2)]);
    run_case(&script).unwrap();

    // `consistent` keeps scripts within what the model can say: the thread that fails to spawn,
    // no panicking interrupt of the group's own, no deaf cancel-safe future, and a panicking
    // force hook only where the escalation is certain.
    let drawn = vec![
        future(
            Kind::FutureToken,
            0,
            End::Ok,
            When::Interrupted,
            Force::Panics,
        ),
        ActorScript {
            interrupt_panics: true,
            ..future(Kind::FutureCancel, 0, End::Ok, When::Deaf, Force::None)
        },
    ];
    let script = consistent(1, drawn.clone(), Choice::SpawnFails(0), false, false);
    if !cfg!(shuttle) {
        // (Under shuttle a spawn failure is a stop request.)
        assert_eq!(script.actors[0].kind, Kind::Thread);
    }
    assert_eq!(script.actors[0].force, Force::Returns);
    assert!(!script.actors[1].interrupt_panics);
    assert_eq!(script.actors[1].when, When::Interrupted);
    let script = consistent(1, drawn, Choice::Stop, true, false);
    assert_eq!(script.actors[0].force, Force::Panics);
}
