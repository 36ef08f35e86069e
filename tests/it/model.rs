//! V03: random actor scripts against a plain sequential reference model of the rules.
//!
//! proptest generates a script: how many stages; for every actor its stage, its exit policy, how
//! its execute ends (`Ok`, `Err`, panic), when it ends (on its own, when interrupted, or, if
//! *deaf*, only when its force hook runs), whether its interrupt panics, and whether it has a
//! force hook and whether that panics; what triggers teardown (one actor's own exit, a stop
//! request, or a spawn failure); and whether the run has a budget. [`expected`] is the reference
//! model: a few lines of sequential code that say, from the rules alone, what must happen. The real
//! group runs the script on real threads and must agree on the trigger (R03, S03, T01, F03), the
//! exact sequence of interrupt calls (R04, R05, S01), every actor's outcome, stage, policy,
//! first-exit flag and interrupt outcome (O01, S07, F01, F02), which actors were escalated and
//! what their force hooks did (S05), every stage's escalation and expiry (S04), the run's own
//! error (F03, S05: `Error::Escalated`), and what `run` returns or resumes (R09, F01, F02, and
//! `Report::into_result`'s order).
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
//! hook, so nothing new races, and `Error::Spawn` outranks `Escalated`.
//!
//! A fuse turns a hang into a shrinkable failure: an actor that waits for its interrupt or force
//! hook panics with `fuse <index>` after [`FUSE`] (on real threads; shuttle reports a deadlock
//! itself).
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
use rungroup::{Escalation, Group, HookOutcome, ManualClock, Outcome, Policy, StopToken, Trigger};

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
    /// When its interrupt (or its force hook, if it has one and is escalated) stops its token.
    Interrupted,
    /// Only when its force hook stops its token: it ignores its interrupt. Budgeted scripts only,
    /// always with a force hook.
    Deaf,
}

/// An actor's force hook: none, one that stops its token, or one that stops it and then panics
/// (deaf actors only: they are the ones certain to be escalated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Force {
    None,
    Returns,
    Panics,
}

#[derive(Clone, Debug)]
struct ActorScript {
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
}

/// The actors and trigger of a script, made consistent: the only early actor that may trigger is
/// the chosen one; every other early actor is `on-error` and returns `Ok`; deaf actors (budgeted
/// scripts only) always have a force hook, and only they may have one that panics.
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
            (
                prop::collection::vec(actor, count),
                prop_oneof![
                    4 => (0..count).prop_map(Choice::Actor),
                    2 => Just(Choice::Stop),
                    1 => (0..count).prop_map(Choice::SpawnFails),
                ],
            )
                .prop_map(move |(actors, choice)| {
                    let actors = actors
                        .into_iter()
                        .map(
                            |(stage, policy, end, when, interrupt_panics, force)| ActorScript {
                                stage,
                                policy,
                                end,
                                when,
                                interrupt_panics,
                                force,
                            },
                        )
                        .collect();
                    consistent(stages, actors, choice, budget)
                })
        },
    )
}

/// Makes a drawn script consistent with its trigger (see [`script`]).
fn consistent(stages: usize, mut actors: Vec<ActorScript>, choice: Choice, budget: bool) -> Script {
    let trigger = match choice {
        Choice::Actor(index) => TriggerScript::Actor(index),
        Choice::Stop => TriggerScript::Stop,
        // Under shuttle a thread never fails to spawn: a stop request instead.
        Choice::SpawnFails(_) if cfg!(shuttle) => TriggerScript::Stop,
        Choice::SpawnFails(index) => TriggerScript::SpawnFails(index),
    };
    for (index, actor) in actors.iter_mut().enumerate() {
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
        actor.force = match (actor.when, actor.force) {
            // A deaf actor returns only through its force hook.
            (When::Deaf, Force::None) => Force::Returns,
            (When::Deaf, force) => force,
            // Anyone else's may or may not be called: its panic would decide what `run` resumes.
            (_, Force::Panics) => Force::Returns,
            (_, force) => force,
        };
    }
    Script {
        stages,
        actors,
        trigger,
        budget,
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
    /// Interrupt calls, in order: stage by stage, registration order within a stage.
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
    let actors = script
        .actors
        .iter()
        .enumerate()
        .map(|(index, actor)| {
            let label = match actor.end {
                _ if index >= started => "not started",
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
    // S05: only a budget escalates here. A deaf actor always is, the first exit and the actors
    // never started never are, anyone else may be.
    let escalated: Vec<Option<bool>> = script
        .actors
        .iter()
        .enumerate()
        .map(|(index, actor)| match actor.when {
            _ if !script.budget || index >= started || first == Some(index) => Some(false),
            When::Deaf => Some(true),
            When::Early | When::Interrupted => None,
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
    // exit's Err (R09); else Escalated; else Ok.
    let execute_panic = |index: usize| script.actors[index].end == End::Panic;
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

/// What the real group's hooks did: the interrupt calls in order, the force hook calls.
#[derive(Clone, Default)]
struct Logs {
    interrupts: Arc<Mutex<Vec<usize>>>,
    forces: Arc<Mutex<Vec<usize>>>,
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
    for (index, actor) in script.actors.iter().cloned().enumerate() {
        let token = StopToken::new();
        let (interrupted, forced) = (token.clone(), token.clone());
        let (calls, forces) = (Arc::clone(&logs.interrupts), Arc::clone(&logs.forces));
        let mut builder = group
            .actor(format!("a{index}"))
            .stage(stages[actor.stage])
            .policy(actor.policy);
        if script.trigger == TriggerScript::SpawnFails(index) {
            builder = builder.stack_size(1 << 60); // no machine maps this: the spawn fails
        }
        if actor.force != Force::None {
            builder = builder.force(move || {
                forces.lock().unwrap().push(index);
                forced.stop();
                if actor.force == Force::Panics {
                    panic::panic_any(format!("force {index}"));
                }
            });
        }
        builder.add(
            move || {
                if actor.when != When::Early {
                    wait_or_blow(&token, index);
                }
                match actor.end {
                    End::Ok => Ok(()),
                    End::Err => Err(ModelError::Actor(ActorError(index))),
                    End::Panic => panic::panic_any(format!("execute {index}")),
                }
            },
            move |_| {
                calls.lock().unwrap().push(index);
                if actor.when != When::Deaf {
                    interrupted.stop();
                }
                if actor.interrupt_panics {
                    panic::panic_any(format!("interrupt {index}"));
                }
            },
        );
    }
    if script.trigger == TriggerScript::Stop {
        let _ = group.stop_handle().stop("model");
    }
    (group, logs)
}

/// Keeps the panics these scripts raise on purpose out of the test output; every other panic
/// (a fuse, a failed assertion) still reaches the default hook.
fn quiet_scripted_panics() {
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
    let report = group.run_with_report();
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
    prop_assert_eq!(&*logs.interrupts.lock().unwrap(), &want.interrupts);
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
    let mut forced = logs.forces.lock().unwrap().clone();
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

    // What `run` returns or resumes, on a fresh run of the same script.
    let (group, _) = build(script);
    let got = match panic::catch_unwind(AssertUnwindSafe(|| group.run())) {
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
    };
    let want = expected(&script);
    assert_eq!(want.errors, vec![RunError::None, RunError::Escalated]);
    assert_eq!(want.run, vec![RunResult::Ok, RunResult::Escalated]);
    run_case(&script).unwrap();
}
