//! V03: random actor scripts against a plain sequential reference model of the rules.
//!
//! proptest generates a script: how many stages, and for every actor its stage, its exit policy,
//! how its execute ends (`Ok`, `Err`, panic), whether it ends on its own or only when interrupted,
//! and whether its interrupt panics; plus what triggers teardown (one actor's own exit, or a stop
//! request). [`expected`] is the reference model: a few lines of sequential code that say, from the
//! rules alone, what must happen. The real group runs the script on real threads and must agree on
//! the trigger (R03, S03, T01), the exact sequence of interrupt calls (R04, R05, S01), every
//! actor's outcome, stage, policy and first-exit flag (O01, S07, F01, F02), and what `run`
//! returns or resumes (R09, F01, F02).
//!
//! The scripts are deterministic on real threads by construction: at most one actor's own exit can
//! trigger teardown (the others that end on their own are `on-error` and `Ok`, which never
//! triggers), so the winner never depends on scheduling. Scheduling-dependent races are the loom
//! models' job (`loom-tests/`).
//!
//! Replay: a failing case is shrunk and its seed saved in `tests/it/model.proptest-regressions`,
//! which is committed and replayed first on every run. More cases: `PROPTEST_CASES=10000 cargo test
//! --test it model::`.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use rungroup::{Group, InterruptOutcome, Outcome, Policy, Trigger};

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
    /// When its interrupt stops its token.
    Interrupted,
}

#[derive(Clone, Debug)]
struct ActorScript {
    stage: usize,
    policy: Policy,
    end: End,
    when: When,
    interrupt_panics: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TriggerScript {
    /// The actor at this index ends early and triggers.
    Actor(usize),
    /// A stop request before `run`.
    Stop,
    /// The thread of the actor at this index cannot be spawned (F03; its stack size is one no
    /// machine maps). Every actor runs until interrupted. Not under shuttle, whose threads do
    /// not fail to spawn.
    SpawnFails(usize),
}

#[derive(Clone, Debug)]
struct Script {
    stages: usize,
    actors: Vec<ActorScript>,
    trigger: TriggerScript,
}

/// The actors and trigger of a script, made consistent: the only early actor that may trigger is
/// the chosen one; every other early actor is `on-error` and returns `Ok`.
fn script() -> impl Strategy<Value = Script> {
    (1usize..=3, 1usize..=6).prop_flat_map(|(stages, count)| {
        let actor = (
            0..stages,
            prop_oneof![Just(Policy::Critical), Just(Policy::OnError)],
            prop_oneof![Just(End::Ok), Just(End::Err), Just(End::Panic)],
            any::<bool>(),
            prop::bool::weighted(0.2),
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
                let mut actors: Vec<ActorScript> = actors
                    .into_iter()
                    .map(
                        |(stage, policy, end, early, interrupt_panics)| ActorScript {
                            stage,
                            policy,
                            end,
                            when: if early {
                                When::Early
                            } else {
                                When::Interrupted
                            },
                            interrupt_panics,
                        },
                    )
                    .collect();
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
                        TriggerScript::SpawnFails(_) => actor.when = When::Interrupted,
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
                }
                Script {
                    stages,
                    actors,
                    trigger,
                }
            })
    })
}

/// What the strategy picks as the trigger, before the actors are made consistent with it.
#[derive(Clone, Copy, Debug)]
enum Choice {
    Actor(usize),
    Stop,
    SpawnFails(usize),
}

/// What the rules say must happen.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    trigger: Trigger,
    /// Interrupt calls, in order: stage by stage, registration order within a stage.
    interrupts: Vec<usize>,
    /// Per actor: outcome label, stage, policy, first exit, interrupt panicked.
    actors: Vec<(&'static str, usize, Policy, bool, bool)>,
    /// What `run` does: `Ok`, `Err(actor)`, or resumes the panic of `actor` (execute or interrupt).
    run: RunResult,
}

#[derive(Debug, PartialEq, Eq)]
enum RunResult {
    Ok,
    Err(usize),
    ExecutePanic(usize),
    InterruptPanic(usize),
    /// `Error::Spawn` naming this actor (F03): the run's own error comes before any panic.
    SpawnFailed(usize),
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
    // R04, R05, S01: every interrupt once, stages in order, registration order within a stage.
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
            (
                label,
                actor.stage,
                actor.policy,
                first == Some(index),
                actor.interrupt_panics && index < started,
            )
        })
        .collect();
    // F01, F02, R09: the first exit's panic, else the first execute panic, else the first
    // interrupt panic (registration order), else the first exit's result.
    let execute_panic = |index: usize| script.actors[index].end == End::Panic;
    let run = if let TriggerScript::SpawnFails(index) = script.trigger {
        RunResult::SpawnFailed(index)
    } else if let Some(index) = first.filter(|&index| execute_panic(index)) {
        RunResult::ExecutePanic(index)
    } else if let Some(index) = (0..script.actors.len()).find(|&index| execute_panic(index)) {
        RunResult::ExecutePanic(index)
    } else if let Some(index) = script
        .actors
        .iter()
        .position(|actor| actor.interrupt_panics)
    {
        RunResult::InterruptPanic(index)
    } else {
        match first {
            Some(index) if script.actors[index].end == End::Err => RunResult::Err(index),
            _ => RunResult::Ok,
        }
    };
    Expected {
        trigger,
        interrupts,
        actors,
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

/// Builds the real group for a script; returns it and the log of interrupt calls.
fn build(script: &Script) -> (Group<ModelError>, Arc<Mutex<Vec<usize>>>) {
    let mut group = Group::<ModelError>::default();
    let stages: Vec<_> = std::iter::once(rungroup::Stage::DEFAULT)
        .chain((1..script.stages).map(|stage| group.add_stage(format!("stage-{stage}"))))
        .collect();
    let calls = Arc::new(Mutex::new(Vec::new()));
    for (index, actor) in script.actors.iter().cloned().enumerate() {
        let token = rungroup::StopToken::new();
        let stopper = token.clone();
        let calls = Arc::clone(&calls);
        let mut builder = group
            .actor(format!("a{index}"))
            .stage(stages[actor.stage])
            .policy(actor.policy);
        if script.trigger == TriggerScript::SpawnFails(index) {
            builder = builder.stack_size(1 << 60); // no machine maps this: the spawn fails
        }
        builder.add(
            move || {
                if actor.when == When::Interrupted {
                    token.wait();
                }
                match actor.end {
                    End::Ok => Ok(()),
                    End::Err => Err(ModelError::Actor(ActorError(index))),
                    End::Panic => panic::panic_any(format!("execute {index}")),
                }
            },
            move |_| {
                calls.lock().unwrap().push(index);
                stopper.stop();
                if actor.interrupt_panics {
                    panic::panic_any(format!("interrupt {index}"));
                }
            },
        );
    }
    if script.trigger == TriggerScript::Stop {
        let _ = group.stop_handle().stop("model");
    }
    (group, calls)
}

/// Keeps the panics these scripts raise on purpose out of the test output; every other panic
/// still reaches the default hook.
fn quiet_scripted_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let scripted = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|message| {
                    message.starts_with("execute ") || message.starts_with("interrupt ")
                });
            if !scripted {
                default(info);
            }
        }));
    });
}

fn check(script: &Script) -> Result<(), TestCaseError> {
    quiet_scripted_panics();
    let want = expected(script);

    // The report: trigger, interrupt order, every actor's line.
    let (group, calls) = build(script);
    let report = group.run_with_report();
    prop_assert_eq!(report.trigger(), &want.trigger);
    prop_assert_eq!(&*calls.lock().unwrap(), &want.interrupts);
    match (script.trigger, report.error()) {
        (TriggerScript::SpawnFails(index), Some(rungroup::Error::Spawn { actor, .. })) => {
            prop_assert_eq!(actor, &format!("a{index}"));
        }
        (TriggerScript::SpawnFails(_), error) => {
            return Err(TestCaseError::fail(format!(
                "want a spawn error, got {error:?}"
            )));
        }
        (_, error) => prop_assert!(error.is_none(), "unexpected run error: {:?}", error),
    }
    let actors: Vec<_> = report
        .actors()
        .iter()
        .map(|actor| {
            (
                actor.outcome.label(),
                actor.stage,
                actor.policy,
                actor.first,
                matches!(actor.interrupt, InterruptOutcome::Panicked(_)),
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
                prop_assert_eq!(payload.downcast_ref::<String>(), Some(&want));
            }
            _ => {}
        }
    }

    // What `run` returns or resumes, on a fresh run of the same script.
    let (group, _) = build(script);
    let got = match panic::catch_unwind(AssertUnwindSafe(|| group.run())) {
        Ok(Ok(())) => RunResult::Ok,
        Ok(Err(ModelError::Actor(ActorError(index)))) => RunResult::Err(index),
        Ok(Err(ModelError::Run(rungroup::Error::Spawn { actor, .. }))) => {
            RunResult::SpawnFailed(actor[1..].parse().map_err(|_| TestCaseError::fail(actor))?)
        }
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
                _ => RunResult::InterruptPanic(index),
            }
        }
    };
    prop_assert_eq!(got, want.run);
    Ok(())
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

/// A hand-written script, to show the model is not vacuous.
#[test]
fn v03_reference_model_examples() {
    // A hand-written case the model must get right: stage order beats registration order.
    let script = Script {
        stages: 2,
        actors: vec![
            ActorScript {
                stage: 1,
                policy: Policy::Critical,
                end: End::Ok,
                when: When::Interrupted,
                interrupt_panics: false,
            },
            ActorScript {
                stage: 0,
                policy: Policy::Critical,
                end: End::Err,
                when: When::Early,
                interrupt_panics: false,
            },
        ],
        trigger: TriggerScript::Actor(1),
    };
    let want = expected(&script);
    assert_eq!(want.interrupts, vec![1, 0]);
    assert_eq!(want.run, RunResult::Err(1));
    run_case(&script).unwrap();
}
