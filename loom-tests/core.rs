//! The oklog/run core: the first-exit race, interrupts, and what `run` waits for.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use rungroup::{
    BoxError, Group, HookOutcome, ManualClock, Outcome, Stage, StopOutcome, StopToken, Trigger,
};

use crate::common::{Probe, address, check, check_exhaustive, name};

/// Adds actor `index`: its execute blocks until its interrupt, which the probe records.
pub(crate) fn add_waiting(group: &mut Group, probe: &Arc<Probe>, index: usize) {
    let token = StopToken::new();
    let stopper = token.clone();
    let probe = Arc::clone(probe);
    group.actor(name(index)).add(
        move || {
            token.wait();
            Ok(())
        },
        move |cause| {
            probe.record(index, cause);
            stopper.stop();
        },
    );
}

/// Adds actor `index`: its execute returns `Err` at once; the error's address goes to `made`.
pub(crate) fn add_failing(
    group: &mut Group,
    probe: &Arc<Probe>,
    index: usize,
    made: &Arc<AtomicUsize>,
) {
    let probe = Arc::clone(probe);
    let made = Arc::clone(made);
    group.actor(name(index)).add(
        move || {
            let error: BoxError = format!("{} failed", name(index)).into();
            // ORDERING: read after `run` returned, which happens-after this execute (R08).
            made.store(address(&error), Ordering::Relaxed);
            Err(error)
        },
        move |cause| probe.record(index, cause),
    );
}

/// Every actor returns `Err` at once; checks R03 and R06 (and R04, R09) for `actors` of them.
fn first_exit_race(actors: usize) {
    let probe = Probe::new();
    let mut group = Group::new();
    Probe::observe(&probe, &mut group);
    let made: Vec<_> = (0..actors).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    for (index, made) in made.iter().enumerate() {
        add_failing(&mut group, &probe, index, made);
    }
    let report = group.run_with_report();
    let made: Vec<usize> = made.iter().map(|m| m.load(Ordering::Relaxed)).collect();

    // R03: exactly one winner, by every account.
    assert_eq!(probe.firsts(), 1, "R03: exactly one exit is the first");
    let &Trigger::Exit { actor: winner } = report.trigger() else {
        panic!("R03: the trigger is an exit, got {:?}", report.trigger());
    };
    for (index, actor) in report.actors().iter().enumerate() {
        assert_eq!(
            actor.first,
            index == winner,
            "R03: only the winner is first"
        );
        // R09: no result is lost, and each is the very value its execute returned.
        match &actor.outcome {
            Outcome::Err(error) => assert_eq!(address(error), made[index], "R09"),
            other => panic!("R09: actor {index} returned Err, report says {other:?}"),
        }
    }
    // R04, R05, R06: every interrupt once, in order, each seeing the winner's very error.
    let seen = probe.seen();
    assert_eq!(probe.order(), (0..actors).collect::<Vec<_>>(), "R04/R05");
    for seen in seen {
        assert_eq!(
            seen.cause_actor,
            Some(name(winner)),
            "R06: same cause for all"
        );
        assert_eq!(
            seen.error,
            Some(made[winner]),
            "R06: the very value, by reference"
        );
    }
}

/// R03, R06 (also R04, R05, R09): two actors return `Err` at once. Exactly one exit wins (one
/// `first` event, one `first` in the report, the trigger names it); both interrupts see that
/// winner's cause, whose error is the very value (same address) its execute returned; the
/// loser's error is kept in the report.
#[test]
fn r03_first_exit_race_two_actors() {
    check("r03_first_exit_race_two_actors", || first_exit_race(2));
}

/// R01 (with T01): an empty group returns at once with `Trigger::Empty` and `Ok`, even while
/// another thread asks it to stop: the request is accepted or ignored, never blocks, and neither
/// turns the empty run into anything else. Threads: caller, stopper.
#[test]
fn r01_empty_group_returns_at_once_while_a_stop_races() {
    check_exhaustive("r01_empty_group_returns_at_once_while_a_stop_races", || {
        let group = Group::new();
        let stop = group.stop_handle();
        let stopper = loom::thread::spawn(move || stop.stop("race"));
        let report = group.run_with_report();
        let outcome = stopper.join().unwrap();
        assert!(
            matches!(outcome, StopOutcome::Triggered | StopOutcome::Ignored),
            "{outcome:?}"
        );
        assert_eq!(report.trigger(), &Trigger::Empty);
        assert!(report.actors().is_empty() && report.error().is_none());
        assert!(report.into_result().is_ok());
    });
}

/// R03, R06 (also R04, R05, R09): as `r03_first_exit_race_two_actors`, with three actors
/// returning at once.
#[test]
fn r03_first_exit_race_three_actors() {
    check("r03_first_exit_race_three_actors", || first_exit_race(3));
}

/// R04: each interrupt is called exactly once: the first exiter's, a still-running actor's, and
/// that of an actor that has already exited (or is exiting) when teardown reaches it.
#[test]
fn r04_each_interrupt_called_exactly_once() {
    check("r04_each_interrupt_called_exactly_once", || {
        let calls: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
        let mut group = Group::new();
        let gate = StopToken::new();
        for index in 0..3 {
            let calls = Arc::clone(&calls);
            let (gate, stopper) = (gate.clone(), gate.clone());
            let waits = index == 1;
            group.actor(name(index)).add(
                move || {
                    if waits {
                        gate.wait();
                    }
                    Ok(())
                },
                move |_| {
                    // ORDERING: interrupts run on the caller's thread; read there after `run`.
                    calls[index].fetch_add(1, Ordering::Relaxed);
                    if waits {
                        stopper.stop();
                    }
                },
            );
        }
        let report = group.run_with_report();
        for (index, calls) in calls.iter().enumerate() {
            assert_eq!(calls.load(Ordering::Relaxed), 1, "R04: actor {index}");
            let interrupt = &report.actors()[index].interrupt;
            assert!(
                matches!(interrupt, HookOutcome::Returned),
                "R04: {interrupt:?}"
            );
        }
    });
}

/// The R05 model: actor `b` exits first; `a` and `c` run until interrupted.
fn interrupts_in_order(group: &mut Group, probe: &Arc<Probe>) {
    Probe::observe(probe, group);
    add_waiting(group, probe, 0);
    group.actor(name(1)).add(|| Ok(()), {
        let probe = Arc::clone(probe);
        move |cause| probe.record(1, cause)
    });
    add_waiting(group, probe, 2);
}

/// R05: interrupts are called one at a time (the probe fails on overlap) and in registration
/// order, although the first exit is the middle actor's. The oklog case: no deadline, so the
/// interrupts run inline on the caller's thread.
#[test]
fn r05_interrupts_in_order_one_at_a_time_inline() {
    check("r05_interrupts_in_order_one_at_a_time_inline", || {
        let probe = Probe::new();
        let mut group = Group::new();
        interrupts_in_order(&mut group, &probe);
        let report = group.run_with_report();
        assert!(report.error().is_none());
        assert_eq!(probe.order(), [0, 1, 2], "R05: registration order");
    });
}

/// R05 (also R08): with a budget configured, the interrupts run on a lane thread, racing the
/// actors' exits and the caller's wait. `a` runs until interrupted; `b` and `c` return at once
/// (either may be first). The interrupts still run one at a time in registration order. The
/// budget is on a `ManualClock` that never moves, so it never expires. The caller reads the
/// probe after `run`: the lane's effects must happen-before `run` returns.
#[test]
fn r05_interrupts_in_order_one_at_a_time_on_a_lane() {
    check("r05_interrupts_in_order_one_at_a_time_on_a_lane", || {
        let probe = Probe::new();
        let mut group = Group::new();
        // No observer: with a budget it would get a thread of its own, past loom's five.
        group
            .clock(ManualClock::new())
            .budget(Duration::from_secs(30));
        add_waiting(&mut group, &probe, 0);
        for index in 1..3 {
            let probe = Arc::clone(&probe);
            group
                .actor(name(index))
                .add(|| Ok(()), move |cause| probe.record(index, cause));
        }
        let report = group.run_with_report();
        assert!(report.error().is_none(), "{:?}", report.error());
        assert_eq!(probe.order(), [0, 1, 2], "R05: registration order");
    });
}

/// Sets its flag when dropped: a captured value of an execute (R11).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        // ORDERING: Relaxed on purpose: only `run`'s own synchronization may make it visible.
        self.0.store(true, Ordering::Relaxed);
    }
}

/// R08 (also R11): every execute's effects happen-before `run` returns. Each execute does a
/// Relaxed store and drops a captured value whose `Drop` does a Relaxed store; the caller's
/// Relaxed loads after `run` must see both. Relaxed carries no synchronization of its own, so
/// loom lets a load read the stale `0`/`false` unless the runner's wait established
/// happens-before with that execute's end.
#[test]
fn r08_execute_effects_happen_before_run_returns() {
    check("r08_execute_effects_happen_before_run_returns", || {
        let effects: Arc<[AtomicUsize; 2]> = Arc::new(Default::default());
        let dropped: Vec<_> = (0..2).map(|_| Arc::new(AtomicBool::new(false))).collect();
        let mut group = Group::new();
        let gate = StopToken::new();
        for index in 0..2 {
            let effects = Arc::clone(&effects);
            let captured = DropFlag(Arc::clone(&dropped[index]));
            let gate = gate.clone();
            let stopper = gate.clone();
            group.actor(name(index)).add(
                move || {
                    let _captured = captured;
                    if index == 1 {
                        gate.wait();
                    }
                    effects[index].store(index + 1, Ordering::Relaxed);
                    Ok(())
                },
                move |_| stopper.stop(),
            );
        }
        let report = group.run_with_report();
        assert!(report.error().is_none());
        for index in 0..2 {
            assert_eq!(effects[index].load(Ordering::Relaxed), index + 1, "R08");
            assert!(
                dropped[index].load(Ordering::Relaxed),
                "R11: captures dropped"
            );
        }
    });
}

/// R08 (no lost wake-up in the runner's park/unpark; also R03): one actor returns at once. The
/// caller parks twice, for the trigger and for the stage to drain, and each wake-up (the win, the
/// last leave) races the caller's check-then-park. A lost wake-up is a deadlock, which loom
/// reports. Small enough to explore exhaustively, whatever the bound.
#[test]
fn r08_no_lost_wakeup_of_the_caller() {
    check_exhaustive("r08_no_lost_wakeup_of_the_caller", || {
        let mut group = Group::new();
        group.add(|| Err("done".into()), |_| {});
        let report = group.run_with_report();
        assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
    });
}

/// R08 (no lost wake-up, lanes; also R04): with a grace period the interrupts run on a lane, and
/// the caller parks until both the stage's live counter is zero and the lane has finished:
/// wake-ups from an actor thread and from the lane race its check-then-park. Actor `a` returns
/// at once, `b` runs until interrupted; the `ManualClock` never moves, so the grace never expires.
#[test]
fn r08_no_lost_wakeup_with_lanes() {
    check("r08_no_lost_wakeup_with_lanes", || {
        let probe = Probe::new();
        let mut group = Group::new();
        group
            .clock(ManualClock::new())
            .grace(Stage::DEFAULT, Duration::from_secs(10));
        group.actor(name(0)).add(|| Ok(()), {
            let probe = Arc::clone(&probe);
            move |cause| probe.record(0, cause)
        });
        add_waiting(&mut group, &probe, 1);
        let report = group.run_with_report();
        assert!(report.error().is_none(), "{:?}", report.error());
        assert!(!report.stages()[0].expired);
        assert_eq!(probe.order(), [0, 1], "R04");
    });
}
