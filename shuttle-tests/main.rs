//! Schedule exploration at scale: the real group, through the same `sync` shim, under shuttle's
//! randomized and PCT schedulers, with 8 to 64 actors (loom's exhaustive models stop at 2–3).
//!
//! ```sh
//! RUSTFLAGS="--cfg shuttle" cargo test --release --test shuttle
//! RUNGROUP_SHUTTLE_ITERATIONS=10000 RUSTFLAGS="--cfg shuttle" cargo test --release --test shuttle
//! ```
//!
//! Every scenario runs `ITERATIONS` random schedules and `ITERATIONS` PCT schedules (depth 3). A
//! failure prints the schedule; replay it with `shuttle::replay(scenario, "<schedule>")` in a
//! scratch test. shuttle treats atomics as sequentially consistent, so weak-memory orderings are
//! loom's job; what shuttle adds is many actors and long schedules.
//!
//! The V03 property test (`tests/it/model.rs`) also runs here: every generated script is explored
//! under shuttle schedules instead of one run on real threads.
//!
//! `future.rs`: future actors (issue 12) mixed with thread actors, 8 to 64 of them, driven by
//! `run` and by `run_async_with_report` on shuttle's executor; the 64-actor scenarios run a
//! quarter of `ITERATIONS`.
#![cfg(all(shuttle, not(loom)))]

use std::sync::Arc;
use std::time::Duration;

use rungroup::{
    Cause, Group, HookOutcome, ManualClock, Outcome, Stage, StopOutcome, StopToken, Trigger,
};
use shuttle::sync::Mutex;

#[path = "../tests/it/model.rs"]
mod model;

mod future;

/// An error that says which actor it came from and is not `Clone`: the V03 model's own.
use model::ActorError as Failed;

/// Schedules per scheduler and scenario; `RUNGROUP_SHUTTLE_ITERATIONS` overrides.
fn iterations() -> usize {
    std::env::var("RUNGROUP_SHUTTLE_ITERATIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(100)
}

fn explore(scenario: fn()) {
    shuttle::check_random(scenario, iterations());
    shuttle::check_pct(scenario, iterations(), 3);
}

type E = Box<dyn std::error::Error + Send + Sync>;

/// R03, R04, R06: `n` actors all return an error at once. Exactly one wins; every interrupt is
/// called once and sees that winner's very value.
/// The actors that were told their exit won (an `ActorExited { first: true }` event), in order.
fn winners_told(group: &mut Group) -> Arc<Mutex<Vec<String>>> {
    let winners = Arc::new(Mutex::new(Vec::new()));
    let told = Arc::clone(&winners);
    group.observe(move |event| {
        if let rungroup::Event::ActorExited {
            actor, first: true, ..
        } = event
        {
            told.lock().unwrap().push((*actor).to_owned());
        }
    });
    winners
}

fn race(n: usize) {
    let mut group = Group::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    // The actors' own view: each one is told whether its exit won (its `ActorExited` event).
    let winners = winners_told(&mut group);
    for index in 0..n {
        let seen = Arc::clone(&seen);
        group.add(
            move || Err(Box::new(Failed(index)) as E),
            move |cause: &Cause<E>| {
                let Some(Err(error)) = cause.result() else {
                    panic!("cause is not an error exit: {cause}");
                };
                let winner = error.downcast_ref::<Failed>().expect("a Failed").0;
                let address = std::ptr::from_ref(error.as_ref()).cast::<()>() as usize;
                seen.lock().unwrap().push((index, winner, address));
            },
        );
    }
    let report = group.run_with_report();
    let Trigger::Exit { actor: winner } = *report.trigger() else {
        panic!("trigger: {:?}", report.trigger());
    };
    let firsts = report.actors().iter().filter(|actor| actor.first).count();
    assert_eq!(firsts, 1, "exactly one first exit");
    assert_eq!(
        *winners.lock().unwrap(),
        vec![format!("actor-{winner}")],
        "exactly one actor was told it won, and it is the report's winner"
    );
    assert!(report.actors()[winner].first);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), n, "every interrupt exactly once");
    let order: Vec<usize> = seen.iter().map(|&(index, ..)| index).collect();
    assert_eq!(
        order,
        (0..n).collect::<Vec<_>>(),
        "registration order (R05)"
    );
    assert!(seen.iter().all(|&(_, w, _)| w == winner), "same cause");
    assert!(
        seen.iter().all(|&(.., address)| address == seen[0].2),
        "the same value by reference (R06)"
    );
    match &report.actors()[winner].outcome {
        Outcome::Err(error) => assert_eq!(error.downcast_ref::<Failed>().unwrap().0, winner),
        other => panic!("winner's outcome: {other:?}"),
    }
}

#[test]
fn r03_one_winner_among_8_simultaneous_exits() {
    explore(|| race(8));
}

#[test]
fn r03_one_winner_among_64_simultaneous_exits() {
    explore(|| race(64));
}

/// S01, S02, R05: `n` token actors in `stages` stages; the last actor exits first. Every stage's
/// interrupts come after every actor of the earlier stages has exited, in registration order.
fn staged(n: usize, stages: usize) {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Step {
        Interrupt(usize, usize),
        Exit(usize),
    }
    let mut group = Group::new();
    let ids: Vec<Stage> = std::iter::once(Stage::DEFAULT)
        .chain((1..stages).map(|stage| group.stage(format!("s{stage}")).id()))
        .collect();
    let log = Arc::new(Mutex::new(Vec::new()));
    for index in 0..n {
        let stage = index % stages;
        let token = StopToken::new();
        let stopper = token.clone();
        let (exit_log, interrupt_log) = (Arc::clone(&log), Arc::clone(&log));
        let early = index == n - 1;
        group.actor(format!("a{index}")).stage(ids[stage]).add(
            move || {
                if !early {
                    token.wait();
                }
                exit_log.lock().unwrap().push(Step::Exit(stage));
                Ok::<(), E>(())
            },
            move |_| {
                interrupt_log
                    .lock()
                    .unwrap()
                    .push(Step::Interrupt(stage, index));
                stopper.stop();
            },
        );
    }
    let report = group.run_with_report();
    assert!(report.error().is_none(), "{report}");
    let log = log.lock().unwrap();
    let mut exited = vec![0; stages];
    let mut last_interrupt = None;
    for step in log.iter() {
        match *step {
            Step::Exit(stage) => exited[stage] += 1,
            Step::Interrupt(stage, index) => {
                for (earlier, &done) in exited.iter().enumerate().take(stage) {
                    let members = (0..n).filter(|i| i % stages == earlier).count();
                    assert_eq!(done, members, "stage {stage} interrupted early");
                }
                assert!(last_interrupt < Some((stage, index)), "interrupt order");
                last_interrupt = Some((stage, index));
            }
        }
    }
    let interrupts = log
        .iter()
        .filter(|step| matches!(step, Step::Interrupt(..)))
        .count();
    assert_eq!(interrupts, n);
}

#[test]
fn s01_stages_in_order_with_16_actors_in_4_stages() {
    explore(|| staged(16, 4));
}

/// Adds `n` actors that all return `Err(Failed(index))`: actor 0 at once, the others once
/// interrupted. Each interrupt first tells `record` its actor and the cause.
fn add_racers(
    group: &mut Group,
    n: usize,
    record: impl Fn(usize, &Cause<E>) + Send + Sync + 'static,
) {
    let record = Arc::new(record);
    for index in 0..n {
        let record = Arc::clone(&record);
        let token = StopToken::new();
        let stopper = token.clone();
        group.add(
            move || {
                if index > 0 {
                    token.wait();
                }
                Err(Box::new(Failed(index)) as E)
            },
            move |cause: &Cause<E>| {
                record(index, cause);
                stopper.stop();
            },
        );
    }
}

/// T01, R03: a stop request races `n` actors' exits. Exactly one cause: of the stop request
/// (its `StopOutcome::Triggered`) and the actors' exits (an `ActorExited { first: true }` event,
/// which tells an actor its exit won), exactly one won, by the account of the winner itself, and
/// the trigger in the report is that one. Every interrupt sees it.
fn stop_race(n: usize) {
    let mut group = Group::new();
    let stop = group.stop_handle();
    let causes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&causes);
    add_racers(&mut group, n, move |_, cause| {
        seen.lock().unwrap().push(cause.to_string());
    });
    let winners = winners_told(&mut group);
    let stopper = shuttle::thread::spawn(move || stop.stop("race"));
    let report = group.run_with_report();
    let requested = stopper.join().unwrap();
    let winners = winners.lock().unwrap();
    let request_won = requested == StopOutcome::Triggered;
    assert_eq!(
        usize::from(request_won) + winners.len(),
        1,
        "T01/R03: exactly one cause, but the stop request returned {requested:?} and these exits \
         were told they won: {winners:?}"
    );
    let causes = causes.lock().unwrap();
    assert_eq!(causes.len(), n);
    assert!(causes.iter().all(|cause| cause == &causes[0]));
    match report.trigger() {
        Trigger::Stop { reason } => {
            assert!(
                request_won,
                "the trigger is the request, which said {requested:?}"
            );
            assert_eq!(reason, "race");
            assert!(report.first_exit().is_none());
        }
        Trigger::Exit { actor: 0 } => {
            assert_eq!(*winners, ["actor-0"], "the trigger is actor 0's exit");
            assert!(report.actors()[0].first);
        }
        other => panic!("trigger: {other:?}"),
    }
}

#[test]
fn t01_stop_races_exits_of_8_actors() {
    explore(|| stop_race(8));
}

/// S04, S05, S06: a stage with a grace; half of its `n` actors ignore their interrupt until their
/// force hook releases them; another thread advances the clock past the grace. Only actors still
/// running are escalated, every force hook at most once, nobody is abandoned.
fn grace(n: usize) {
    let clock = ManualClock::new();
    let mut group = Group::new();
    group
        .clock(clock.clone())
        .grace(Stage::DEFAULT, Duration::from_secs(5))
        .kill_grace(Duration::from_secs(3600));
    let forced = Arc::new(Mutex::new(Vec::new()));
    for index in 0..n {
        let token = StopToken::new();
        let (interrupter, forcer) = (token.clone(), token.clone());
        let forced = Arc::clone(&forced);
        let stubborn = index % 2 == 1;
        group
            .actor(format!("a{index}"))
            .force(move || {
                forced.lock().unwrap().push(index);
                forcer.stop();
            })
            .add(
                move || {
                    if index > 0 {
                        token.wait();
                    }
                    Ok::<(), E>(())
                },
                move |_| {
                    if !stubborn {
                        interrupter.stop();
                    }
                },
            );
    }
    // Advance only once the stage has begun, so the advance is past its deadline.
    let (begun_tx, begun_rx) = shuttle::sync::mpsc::channel();
    let begun_tx = Mutex::new(begun_tx);
    group.observe(move |event| {
        if matches!(event, rungroup::Event::StageBegun { .. }) {
            let _ = begun_tx.lock().unwrap().send(());
        }
    });
    let advancer = shuttle::thread::spawn(move || {
        let _ = begun_rx.recv();
        clock.advance(Duration::from_secs(5));
    });
    let report = group.run_with_report();
    advancer.join().unwrap();
    // Every actor returned, the escalated ones only after their force hook: the run says so.
    let escalated: Vec<&str> = report.escalated().collect();
    match report.error() {
        None => assert!(escalated.is_empty(), "{report}"),
        Some(rungroup::Error::Escalated { actors, .. }) => assert_eq!(actors, &escalated),
        Some(other) => panic!("{other}\n{report}"),
    }
    let forced = forced.lock().unwrap();
    let mut unique = forced.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), forced.len(), "a force hook called twice");
    for actor in report.actors() {
        assert!(matches!(actor.outcome, Outcome::Ok), "{report}");
        assert!(matches!(actor.interrupt, HookOutcome::Returned));
    }
    for &index in forced.iter() {
        assert!(report.actors()[index].escalated);
    }
}

#[test]
fn s04_grace_expiry_with_8_actors() {
    explore(|| grace(8));
}

/// T05 (with R03, R04 and R09 across the boundary): an outer group runs an inner group of `n`
/// actors as one actor, next to an outer sibling. The inner actor 0 returns an error at once; a
/// stop request on the outer group races it. Whatever wins, the inner group is torn down
/// completely (every inner interrupt called exactly once), its report reaches the outer caller,
/// and the error, when the inner exit won, comes out of the outer run unchanged.
fn nested(n: usize) {
    let interrupts = Arc::new(Mutex::new(vec![0usize; n + 1]));
    let mut inner = Group::new();
    let counted = Arc::clone(&interrupts);
    add_racers(&mut inner, n, move |index, _| {
        counted.lock().unwrap()[index] += 1;
    });
    let mut outer = Group::new();
    let stop = outer.stop_handle();
    let nested = outer.actor("inner").add_group(inner);
    {
        let interrupts = Arc::clone(&interrupts);
        let token = StopToken::new();
        let stopper = token.clone();
        outer.actor("sibling").add(
            move || {
                token.wait();
                Ok(())
            },
            move |_: &Cause<E>| {
                interrupts.lock().unwrap()[n] += 1;
                stopper.stop();
            },
        );
    }
    let stopper = shuttle::thread::spawn(move || {
        let _ = stop.stop("race");
    });
    let report = outer.run_with_report();
    stopper.join().unwrap();

    assert_eq!(
        *interrupts.lock().unwrap(),
        vec![1; n + 1],
        "R04 on both levels"
    );
    let inner = report
        .nested(nested)
        .expect("T05: the inner report, in the outer one");
    assert!(inner.error().is_none(), "{inner}");
    assert_eq!(inner.actors().len(), n);
    for actor in &inner.actors()[1..] {
        assert!(matches!(actor.outcome, Outcome::Err(_)), "{inner}");
        assert!(!actor.first);
    }
    // A stop request that comes after the inner exit won is a second request to the outer
    // group: it escalates, and a sibling still running then is reported escalated.
    match report.error() {
        None => {}
        Some(rungroup::Error::Escalated { by, .. }) => assert_eq!(
            by,
            &rungroup::Escalation::Request(Trigger::Stop {
                reason: "race".into()
            })
        ),
        Some(other) => panic!("{other}\n{report}"),
    }
    match report.trigger() {
        Trigger::Exit { actor: 0 } => {
            // The inner first exit won both races: its error is the outer result, moved.
            assert_eq!(inner.trigger(), &Trigger::Exit { actor: 0 });
            assert!(matches!(inner.actors()[0].outcome, Outcome::Retained));
            let error = report.into_result().expect_err("R09 through the nesting");
            assert_eq!(error.to_string(), "actor 0 failed");
        }
        Trigger::Stop { reason } => {
            assert_eq!(reason, "race");
            // The inner group stopped on the outer interrupt, or its own exit came first.
            assert!(inner.actors()[0].first || matches!(inner.trigger(), Trigger::Stop { .. }));
        }
        other => panic!("trigger: {other:?}"),
    }
}

#[test]
fn t05_nested_group_of_8_races_an_outer_stop() {
    explore(|| nested(8));
}
