//! Failure semantics: panicking executes and interrupts.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use rungroup::{Cause, Group, HookOutcome, ManualClock, Outcome, Payload, Stage, Trigger};

use crate::common::{self, Probe, address, check, name};
use crate::core::{add_failing, add_waiting};

/// The message of a deliberate panic payload.
fn message(payload: &Payload) -> &str {
    common::message(payload.as_ref()).unwrap_or("<not a string>")
}

/// The payload the panicking execute of these models raises.
const EXECUTE_PANIC: &str = "deliberate: execute a";

/// F01 (also R03, R04, R06, O01): a panicking execute is an exit that can win. Actor `a` panics
/// while `b` returns `Err` at the same moment and `c` runs until interrupted. Exactly one of
/// `a`, `b` is first; teardown runs in full (every interrupt once, each seeing the winner as
/// cause: a `Cause::Panic` naming `a` or `b`'s very error); the report keeps `a`'s payload and
/// name, and `b`'s error, whichever won.
#[test]
fn f01_panicking_execute_races_an_error_exit() {
    check("f01_panicking_execute_races_an_error_exit", || {
        let probe = Probe::new();
        let mut group = Group::new();
        Probe::observe(&probe, &mut group);
        let made = Arc::new(AtomicUsize::new(0));
        {
            let probe = Arc::clone(&probe);
            group.actor(name(0)).add(
                || panic::panic_any(EXECUTE_PANIC),
                move |cause| probe.record(0, cause),
            );
        }
        add_failing(&mut group, &probe, 1, &made);
        add_waiting(&mut group, &probe, 2);
        let report = group.run_with_report();
        let made = made.load(Ordering::Relaxed);

        probe.assert_first_events(1, &report);
        let &Trigger::Exit { actor: winner } = report.trigger() else {
            panic!("F01: the trigger is an exit, got {:?}", report.trigger());
        };
        assert!(winner < 2, "F01: a or b wins, not the waiting c");
        assert_eq!(probe.order(), [0, 1, 2], "F01: teardown runs in full");
        for seen in probe.seen() {
            assert_eq!(seen.cause_actor, Some(name(winner)), "R06");
            assert_eq!(seen.error, (winner == 1).then_some(made), "R06");
        }
        let actors = report.actors();
        assert_eq!(actors[0].name, "a");
        match &actors[0].outcome {
            Outcome::Panicked(payload) => assert_eq!(message(payload), EXECUTE_PANIC, "F01"),
            other => panic!("F01: a panicked, report says {other:?}"),
        }
        match &actors[1].outcome {
            Outcome::Err(error) => assert_eq!(address(error), made, "R09"),
            other => panic!("R09: b returned Err, report says {other:?}"),
        }
        assert!(
            matches!(actors[2].outcome, Outcome::Ok),
            "F01: c was torn down"
        );
        assert!(report.panicked());
    });
}

/// F01 (also R08): the plain `run` resumes the execute's panic on the caller, after teardown:
/// when the payload arrives, the other actor's interrupt has been called and its execute has
/// returned.
#[test]
fn f01_run_resumes_the_panic_after_teardown() {
    check("f01_run_resumes_the_panic_after_teardown", || {
        let returned = Arc::new(AtomicUsize::new(0));
        let probe = Probe::new();
        let mut group = Group::new();
        group.add(|| panic::panic_any(EXECUTE_PANIC), |_| {});
        {
            let returned = Arc::clone(&returned);
            let token = rungroup::StopToken::new();
            let stopper = token.clone();
            let probe = Arc::clone(&probe);
            group.add(
                move || {
                    token.wait();
                    // ORDERING: Relaxed; `run` must make it visible (R08).
                    returned.store(1, Ordering::Relaxed);
                    Ok(())
                },
                move |cause| {
                    probe.record(1, cause);
                    stopper.stop();
                },
            );
        }
        let payload = panic::catch_unwind(AssertUnwindSafe(|| group.run()))
            .expect_err("F01: run resumes the execute's panic");
        assert_eq!(message(&payload), EXECUTE_PANIC, "F01: the very payload");
        assert_eq!(probe.order(), [1], "F01: teardown ran before the resume");
        assert_eq!(
            returned.load(Ordering::Relaxed),
            1,
            "R08: b returned before run did"
        );
    });
}

/// The F02 models: the middle actor `b` exits first and its interrupt panics; the interrupts of
/// `a` (before it) and `c` (after it) still run, in order, and `run` still waits for every
/// execute. The report keeps the interrupt's payload. `lanes`: a grace on a `ManualClock` that
/// never moves, so the interrupts run on a lane (and the panic is caught there) but nothing
/// expires.
fn panicking_interrupt_does_not_skip_later_ones(lanes: bool) {
    const INTERRUPT_PANIC: &str = "deliberate: interrupt b";
    let probe = Probe::new();
    let mut group = Group::new();
    if lanes {
        group
            .clock(ManualClock::new())
            .grace(Stage::DEFAULT, Duration::from_secs(10));
    }
    add_waiting(&mut group, &probe, 0);
    {
        let probe = Arc::clone(&probe);
        group.actor(name(1)).add(
            || Ok(()),
            move |cause: &Cause<_>| {
                let _inside = probe.enter(1, cause);
                panic::panic_any(INTERRUPT_PANIC);
            },
        );
    }
    add_waiting(&mut group, &probe, 2);
    let report = group.run_with_report();
    assert_eq!(probe.order(), [0, 1, 2], "F02: c's interrupt still ran");
    let actors = report.actors();
    match &actors[1].interrupt {
        HookOutcome::Panicked(payload) => {
            assert_eq!(message(payload), INTERRUPT_PANIC, "F02");
        }
        other => panic!("F02: b's interrupt panicked, report says {other:?}"),
    }
    for index in [0, 2] {
        let interrupt = &actors[index].interrupt;
        assert!(
            matches!(interrupt, HookOutcome::Returned),
            "F02: actor {index}'s interrupt: {interrupt:?}"
        );
        let outcome = &actors[index].outcome;
        assert!(
            matches!(outcome, Outcome::Ok),
            "F02: run did not wait for actor {index}: {outcome:?}"
        );
    }
    assert!(report.error().is_none(), "{:?}", report.error());
    assert!(report.stages().iter().all(|stage| !stage.expired));
    assert!(report.panicked());
}

/// F02 (also R04, R05): a panicking interrupt does not skip the later ones, inline (the oklog
/// case: the interrupts run on the first exit's thread, serving the hook lane). Threads: caller,
/// `a`, `b`, `c`.
#[test]
fn f02_panicking_interrupt_does_not_skip_later_ones() {
    check("f02_panicking_interrupt_does_not_skip_later_ones", || {
        panicking_interrupt_does_not_skip_later_ones(false);
    });
}

/// F02 (also R04, R05): as above, with the interrupts on a lane (a grace that never expires):
/// the lane catches the panic, calls `c`'s interrupt next, and the caller still waits for every
/// execute and for the lane. Threads: caller, `a`, `b`, `c`, the lane (loom's maximum of 5).
#[test]
fn f02_panicking_interrupt_does_not_skip_later_ones_on_a_lane() {
    check(
        "f02_panicking_interrupt_does_not_skip_later_ones_on_a_lane",
        || panicking_interrupt_does_not_skip_later_ones(true),
    );
}
