//! The oklog/run core: the first-exit race, interrupts, and what `run` waits for.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use rungroup::{
    BoxError, Group, HookOutcome, ManualClock, Outcome, Stage, StopOutcome, StopToken, Trigger,
};

use crate::common::{Probe, address, check, check_exhaustive, name};

/// Adds actor `index`: its execute blocks until its interrupt, which the probe records. The
/// interrupt stays inside the probe while it stops the token, so an interrupt that starts before
/// this one has returned is an overlap (R05) even when it starts after this actor has exited.
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
            let _inside = probe.enter(index, cause);
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
    probe.assert_first_events(1, &report);
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
                    // ORDERING: interrupts run on the hook lane (the first exit's thread), which `run` joins
                    // before it returns: read after `run`.
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
/// interrupts run on the hook lane, the first exit's own thread (no deadline configured).
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

/// R05 (also S01): interrupts never overlap, also when two interrupt lanes exist. Two stages with
/// one actor each and a budget on a `ManualClock` that never moves, so each stage's interrupts get
/// a lane of their own and nothing expires; a stop request before `run` is the cause. Actor `a`
/// (stage `default`) runs until interrupted; its interrupt stays inside the probe until `a`'s
/// execute says it is returning. So in every execution there is a moment when `a` may already
/// have left its stage while its interrupt has not returned: a runner that began stage `drain`
/// on the live counter alone, without waiting for stage `default`'s lane, would start `b`'s lane
/// then, and `b`'s interrupt would overlap `a`'s. The only model where two interrupt lanes can be
/// alive at once, hence the only one whose overlap check can fail (inline, every interrupt runs
/// on the caller; with one lane, on that lane). Threads: caller, `a`, `b`, two lanes (loom's
/// maximum of 5).
#[test]
fn r05_interrupts_of_two_stage_lanes_never_overlap() {
    check("r05_interrupts_of_two_stage_lanes_never_overlap", || {
        let probe = Probe::new();
        let mut group = Group::new();
        group
            .clock(ManualClock::new())
            .budget(Duration::from_secs(30));
        let drain = group.stage("drain").id();
        {
            let token = StopToken::new();
            let returning = StopToken::new();
            let (stopper, returned) = (token.clone(), returning.clone());
            let probe = Arc::clone(&probe);
            group.actor(name(0)).add(
                move || {
                    token.wait();
                    returning.stop();
                    Ok(())
                },
                move |cause| {
                    let _inside = probe.enter(0, cause);
                    stopper.stop();
                    returned.wait();
                },
            );
        }
        {
            let token = StopToken::new();
            let stopper = token.clone();
            let probe = Arc::clone(&probe);
            group.actor(name(1)).stage(drain).add(
                move || {
                    token.wait();
                    Ok(())
                },
                move |cause| {
                    let _inside = probe.enter(1, cause);
                    stopper.stop();
                },
            );
        }
        assert_eq!(group.stop_handle().stop("deploy"), StopOutcome::Triggered);
        let report = group.run_with_report();
        // The overlap check first: it is what this model is for.
        assert_eq!(probe.order(), [0, 1], "R05/S01: stage order");
        assert!(report.error().is_none(), "{:?}", report.error());
        assert!(report.stages().iter().all(|stage| !stage.expired));
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

/// R08 (also R11): every execute's effects, and what the observer did on the actors' threads,
/// happen-before `run` returns. Actor `a` returns at once, `b` when interrupted. Each execute does
/// a Relaxed store and drops a captured value whose `Drop` does a Relaxed store; the observer does
/// a Relaxed store for each `ActorExited` event, which it receives on the exiting actor's thread.
/// The caller's Relaxed loads after `run` must see all of them. Relaxed carries no
/// synchronization of its own, so loom lets such a load read the stale value unless something in
/// `run` established happens-before with the store.
///
/// What that something is differs, and decides what this model can see:
///
/// - **The executes' stores and drops** come before the actor writes its outcome into its slot
///   (the execute and its captures are consumed inside `catch_unwind`), and that write is made
///   under the slot's mutex. `run` locks every slot before it returns (to take each outcome into
///   the report; the winner's already in `resolve_cause`), and a slot found filled means that lock
///   came after the actor's. So these checks see the slot mutexes, and only them: they pass with
///   the live counters' orderings (`Live::leave`, `Live::count`) weakened to Relaxed. A runner
///   that returned without reading a slot would report that actor `Abandoned`, which fails the
///   `report.error()` check.
/// - **The observer's stores** come after the slot write (the event is emitted after `try_win`).
///   Before issue 10 only the actor's `Live::leave` (Release) and the runner's `Live::count`
///   (Acquire) ordered them before `run` returned, and these checks failed with the live counters
///   weakened to Relaxed. Since issue 10 `run` joins every actor thread that returned, and a join
///   publishes everything the thread did: these checks now see the joins, and pass with the live
///   counters Relaxed (`.ci/seeded/live-leave-relaxed.diff` shows it: this model `passed`, while
///   `s01_later_stage_interrupted_only_after_earlier_stage_exited_on_lanes`, whose stage-2
///   interrupt must see stage 1's exits before any join, catches it).
///
/// It cannot see an abandoned actor (S06: nothing is promised then, and its thread is not joined).
#[test]
fn r08_execute_effects_happen_before_run_returns() {
    check("r08_execute_effects_happen_before_run_returns", || {
        let effects: Arc<[AtomicUsize; 2]> = Arc::new(Default::default());
        let dropped: Vec<_> = (0..2).map(|_| Arc::new(AtomicBool::new(false))).collect();
        let told: Arc<[AtomicBool; 2]> = Arc::new(Default::default());
        let mut group = Group::new();
        {
            let told = Arc::clone(&told);
            group.observe(move |event| {
                if let rungroup::Event::ActorExited { actor, .. } = event {
                    let index = usize::from(*actor == name(1));
                    // ORDERING: Relaxed on purpose: only `run`'s own synchronization may publish it.
                    told[index].store(true, Ordering::Relaxed);
                }
            });
        }
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
        assert!(report.error().is_none(), "{:?}", report.error());
        for index in 0..2 {
            let effect = effects[index].load(Ordering::Relaxed);
            assert_eq!(
                effect,
                index + 1,
                "R08: actor {index}'s execute stored {} before returning, run's caller reads \
                 {effect} (the slot mutex did not publish it)",
                index + 1
            );
            assert!(
                dropped[index].load(Ordering::Relaxed),
                "R11: actor {index}'s captured value was dropped before its execute returned, \
                 run's caller does not see the drop (the slot mutex did not publish it)"
            );
            assert!(
                told[index].load(Ordering::Relaxed),
                "R11: the observer recorded actor {index}'s ActorExited event on that actor's \
                 thread, run's caller does not see the record (the live counter did not publish \
                 it)"
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
