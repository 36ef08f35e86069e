//! Staged, bounded shutdown: stage order, exits during teardown, grace expiry.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use rungroup::{
    Event, Group, HookOutcome, ManualClock, Outcome, Stage, StopOutcome, StopToken, Trigger,
};

use crate::common::{Probe, address, check, name};
use crate::core::add_waiting;

/// S01 (also R04, R05): three actors in two stages. Stage `default`: `a` returns at once (the
/// first exit) and `b` runs until interrupted; stage `drain`: `c` runs until interrupted. Each
/// execute sets a flag (Relaxed) as it returns; `c`'s interrupt counts the flags of `a` and `b` it
/// sees. It must see both: no stage-2 interrupt before every stage-1 actor has exited, and that
/// exit happens-before the interrupt. Interrupts run in stage order, then registration order.
#[test]
fn s01_later_stage_interrupted_only_after_earlier_stage_exited() {
    check(
        "s01_later_stage_interrupted_only_after_earlier_stage_exited",
        || {
            let exited: Arc<[AtomicBool; 2]> = Arc::new(Default::default());
            let seen_exited = Arc::new(AtomicUsize::new(usize::MAX));
            let probe = Probe::new();
            let mut group = Group::new();
            let drain = group.stage("drain").id();
            for index in 0..2 {
                let exited = Arc::clone(&exited);
                let token = StopToken::new();
                let stopper = token.clone();
                let probe = Arc::clone(&probe);
                group.actor(name(index)).add(
                    move || {
                        if index == 1 {
                            token.wait();
                        }
                        // ORDERING: Relaxed on purpose: only the runner's wait may publish it.
                        exited[index].store(true, Ordering::Relaxed);
                        Ok(())
                    },
                    move |cause| {
                        probe.record(index, cause);
                        stopper.stop();
                    },
                );
            }
            {
                let token = StopToken::new();
                let stopper = token.clone();
                let probe = Arc::clone(&probe);
                let exited = Arc::clone(&exited);
                let seen_exited = Arc::clone(&seen_exited);
                group.actor(name(2)).stage(drain).add(
                    move || {
                        token.wait();
                        Ok(())
                    },
                    move |cause| {
                        let count = exited
                            .iter()
                            .filter(|flag| flag.load(Ordering::Relaxed))
                            .count();
                        // ORDERING: interrupts run on the hook lane, which `run` joins: read after `run`.
                        seen_exited.store(count, Ordering::Relaxed);
                        probe.record(2, cause);
                        stopper.stop();
                    },
                );
            }
            let report = group.run_with_report();
            assert!(report.error().is_none());
            let seen = seen_exited.load(Ordering::Relaxed);
            assert_eq!(
                seen, 2,
                "S01: c's interrupt (stage drain) saw {seen} exits of stage default, want 2: \
                 interrupted before they exited, or their exits not visible to it"
            );
            assert_eq!(probe.order(), [0, 1, 2], "S01: stage order, then R05");
        },
    );
}

/// S01 on lanes (also S02, R05): two stages, each with a grace on a `ManualClock` that never
/// moves, so each stage's interrupts run on a lane of their own and nothing expires; a stop
/// request before `run` is the cause. Stage `default`: `a` runs until interrupted and sets a flag
/// (Relaxed) as it returns. Stage `drain`: `b` runs until interrupted (S02: it keeps running
/// while stage `default` drains); its interrupt, on the second lane, reads `a`'s flag and must see
/// it. Nothing on the lanes carries that flag (`a`'s interrupt only stops `a`'s token): only the
/// runner's wait for stage `default` (the live counter's Release/Acquire) orders `a`'s exit before
/// the second lane starts. Two actors only: with lanes, three actors in two stages would need a
/// sixth thread. Threads: caller, `a`, `b`, two lanes.
#[test]
fn s01_later_stage_interrupted_only_after_earlier_stage_exited_on_lanes() {
    check(
        "s01_later_stage_interrupted_only_after_earlier_stage_exited_on_lanes",
        || {
            let exited = Arc::new(AtomicBool::new(false));
            let seen_exited = Arc::new(AtomicUsize::new(usize::MAX));
            let probe = Probe::new();
            let mut group = Group::new();
            let drain = group.stage("drain").id();
            group
                .clock(ManualClock::new())
                .grace(Stage::DEFAULT, GRACE)
                .grace(drain, GRACE);
            {
                let exited = Arc::clone(&exited);
                let token = StopToken::new();
                let stopper = token.clone();
                let probe = Arc::clone(&probe);
                group.actor(name(0)).add(
                    move || {
                        token.wait();
                        // ORDERING: Relaxed on purpose: only the runner's wait may publish it.
                        exited.store(true, Ordering::Relaxed);
                        Ok(())
                    },
                    move |cause| {
                        let _inside = probe.enter(0, cause);
                        stopper.stop();
                    },
                );
            }
            {
                let token = StopToken::new();
                let stopper = token.clone();
                let probe = Arc::clone(&probe);
                let exited = Arc::clone(&exited);
                let seen_exited = Arc::clone(&seen_exited);
                group.actor(name(1)).stage(drain).add(
                    move || {
                        token.wait();
                        Ok(())
                    },
                    move |cause| {
                        let _inside = probe.enter(1, cause);
                        // ORDERING: published to the caller by the lane's lock and by `run`'s join of it.
                        seen_exited.store(
                            usize::from(exited.load(Ordering::Relaxed)),
                            Ordering::Relaxed,
                        );
                        stopper.stop();
                    },
                );
            }
            assert_eq!(group.stop_handle().stop("deploy"), StopOutcome::Triggered);
            let report = group.run_with_report();
            assert!(report.error().is_none(), "{:?}", report.error());
            assert!(report.stages().iter().all(|stage| !stage.expired));
            let seen = seen_exited.load(Ordering::Relaxed);
            assert_eq!(
                seen, 1,
                "S01: b's interrupt (stage drain, second lane) saw {seen} exits of stage \
                 default, want 1: interrupted before a's exit, or a's exit not visible to it"
            );
            assert_eq!(probe.order(), [0, 1], "S01: stage order");
        },
    );
}

/// S03 (also R03, R06, S01): an exit from a later stage is a first exit, and teardown still
/// begins with stage 1; an exit during teardown is simply recorded. Stage `default`: `a` runs
/// until interrupted. Stage `drain`: `b` returns `Err` and `c` returns `Ok`, at once, racing each
/// other and the teardown of stage 1. Exactly one of `b`, `c` is first; every interrupt sees it;
/// `a` is interrupted first; every outcome is in the report.
#[test]
fn s03_later_stage_exit_during_teardown_is_recorded() {
    check("s03_later_stage_exit_during_teardown_is_recorded", || {
        let probe = Probe::new();
        let made = Arc::new(AtomicUsize::new(0));
        let mut group = Group::new();
        Probe::observe(&probe, &mut group);
        let drain = group.stage("drain").id();
        add_waiting(&mut group, &probe, 0);
        {
            let probe = Arc::clone(&probe);
            let made = Arc::clone(&made);
            group.actor(name(1)).stage(drain).add(
                move || {
                    let error = "b failed".into();
                    // ORDERING: read after `run`, which happens-after this execute (R08).
                    made.store(address(&error), Ordering::Relaxed);
                    Err(error)
                },
                move |cause| probe.record(1, cause),
            );
        }
        {
            let probe = Arc::clone(&probe);
            group
                .actor(name(2))
                .stage(drain)
                .add(|| Ok(()), move |cause| probe.record(2, cause));
        }
        let report = group.run_with_report();
        let made = made.load(Ordering::Relaxed);
        assert!(report.error().is_none());
        probe.assert_first_events(1, &report);
        let &Trigger::Exit { actor: winner } = report.trigger() else {
            panic!(
                "S03: a later stage's exit triggers, got {:?}",
                report.trigger()
            );
        };
        assert!(winner == 1 || winner == 2, "S03: b or c wins");
        assert_eq!(probe.order(), [0, 1, 2], "S03: teardown begins at stage 1");
        for seen in probe.seen() {
            assert_eq!(seen.cause_actor, Some(name(winner)), "R06");
            assert_eq!(seen.error, (winner == 1).then_some(made), "R06");
        }
        let actors = report.actors();
        assert!(matches!(actors[0].outcome, Outcome::Ok));
        assert!(matches!(&actors[1].outcome, Outcome::Err(e) if address(e) == made));
        assert!(matches!(actors[2].outcome, Outcome::Ok), "S03: recorded");
    });
}

/// The grace period of the S04 models.
const GRACE: Duration = Duration::from_secs(10);

/// Records, from the observer, when the stage began and whether an escalation came early.
#[derive(Default)]
struct Timeline {
    begun_at: AtomicU64,
    escalations: AtomicUsize,
    early: AtomicUsize,
}

impl Timeline {
    fn watch(group: &mut Group, clock: &ManualClock) -> Arc<Self> {
        let timeline = Arc::new(Self::default());
        let (recorder, clock) = (Arc::clone(&timeline), clock.clone());
        group.observe(move |event| {
            // Without a budget the observer runs inline, on the caller's thread for these events;
            // Relaxed suffices.
            let now = u64::try_from(clock.now().as_nanos()).unwrap();
            match event {
                Event::StageBegun { .. } => recorder.begun_at.store(now, Ordering::Relaxed),
                Event::Escalated { .. } => {
                    recorder.escalations.fetch_add(1, Ordering::Relaxed);
                    let deadline = recorder.begun_at.load(Ordering::Relaxed)
                        + u64::try_from(GRACE.as_nanos()).unwrap();
                    if now < deadline {
                        recorder.early.fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ => {}
            }
        });
        timeline
    }
}

/// S04, S05 (grace expiry as a modelled event): stage `default` has a grace period on a
/// `ManualClock`. Its actor `a` ignores its interrupt; its force hook releases it. A loom thread
/// (the "ticker") waits until `a`'s interrupt has been called, then advances the clock past the
/// grace, racing the caller's park. Checks: the caller wakes (no lost wake-up on `advance`),
/// escalates `a` exactly once and only after the deadline (never early), calls the force hook
/// once, and teardown moves on to the end: `a` returns, the stage is reported expired, nothing is
/// abandoned. Threads: caller, `a`, ticker, interrupt lane, force lane (loom's maximum of 5).
#[test]
fn s04_grace_expiry_escalates_an_actor_that_ignores_its_interrupt() {
    check(
        "s04_grace_expiry_escalates_an_actor_that_ignores_its_interrupt",
        || {
            let clock = ManualClock::new();
            let mut group = Group::new();
            group.clock(clock.clone()).grace(Stage::DEFAULT, GRACE);
            let timeline = Timeline::watch(&mut group, &clock);
            let stop = group.stop_handle();
            let interrupted = StopToken::new();
            let forced = StopToken::new();
            let force_calls = Arc::new(AtomicUsize::new(0));
            {
                let (interrupted, forced, force_calls) = (
                    interrupted.clone(),
                    forced.clone(),
                    Arc::clone(&force_calls),
                );
                let released = forced.clone();
                group
                    .actor(name(0))
                    .force(move || {
                        // ORDERING: published to the caller through `forced` and `a`'s exit.
                        force_calls.fetch_add(1, Ordering::Relaxed);
                        forced.stop();
                    })
                    .add(
                        move || {
                            released.wait();
                            Ok(())
                        },
                        move |_| interrupted.stop(), // ignored by the execute
                    );
            }
            let ticker = {
                let clock = clock.clone();
                loom::thread::spawn(move || {
                    interrupted.wait();
                    clock.advance(GRACE);
                })
            };
            assert_eq!(stop.stop("deploy"), StopOutcome::Triggered);
            let report = group.run_with_report();
            ticker.join().unwrap();

            assert_eq!(
                timeline.early.load(Ordering::Relaxed),
                0,
                "S04: escalated early"
            );
            assert_eq!(timeline.escalations.load(Ordering::Relaxed), 1, "S05: once");
            assert_eq!(force_calls.load(Ordering::Relaxed), 1, "S05: force once");
            assert!(report.stages()[0].expired, "S04: the stage expired");
            let a = &report.actors()[0];
            assert!(a.escalated && matches!(a.force, rungroup::HookOutcome::Returned));
            assert!(matches!(a.interrupt, HookOutcome::Returned));
            assert!(
                matches!(a.outcome, Outcome::Ok),
                "S04: teardown moved on to the end"
            );
            crate::common::assert_no_error_but_escalation(&report);
        },
    );
}

/// S04, S05 (grace expiry racing a clean exit): as the model above, but `a` honours its
/// interrupt, and the ticker advances the clock past the grace as soon as the interrupt has been
/// called: `a`'s exit, the expiry and the caller's wait race. Either outcome is correct, but an
/// escalation must never come before the deadline, the force hook runs exactly when `a` was
/// escalated, an escalated stage is reported expired, and neither `a` nor its hooks are ever
/// reported abandoned (a hook that returns within the kill grace is not blocked).
#[test]
fn s04_grace_expiry_races_a_clean_exit() {
    check("s04_grace_expiry_races_a_clean_exit", || {
        let clock = ManualClock::new();
        let mut group = Group::new();
        group.clock(clock.clone()).grace(Stage::DEFAULT, GRACE);
        let timeline = Timeline::watch(&mut group, &clock);
        let stop = group.stop_handle();
        let token = StopToken::new();
        let force_calls = Arc::new(AtomicUsize::new(0));
        {
            let (waiter, stopper) = (token.clone(), token.clone());
            let force_calls = Arc::clone(&force_calls);
            group
                .actor(name(0))
                .force(move || {
                    force_calls.fetch_add(1, Ordering::Relaxed);
                })
                .add(
                    move || {
                        waiter.wait();
                        Ok(())
                    },
                    move |_| stopper.stop(),
                );
        }
        let ticker = {
            let clock = clock.clone();
            loom::thread::spawn(move || {
                token.wait();
                clock.advance(GRACE);
            })
        };
        assert_eq!(stop.stop("deploy"), StopOutcome::Triggered);
        let report = group.run_with_report();
        ticker.join().unwrap();

        let a = &report.actors()[0];
        assert_eq!(
            timeline.early.load(Ordering::Relaxed),
            0,
            "S04: escalated early"
        );
        let escalations = timeline.escalations.load(Ordering::Relaxed);
        assert_eq!(escalations, usize::from(a.escalated), "S05");
        // The force hook runs on its own lane, which the kill grace waits for (S06: a hook that
        // returns in time is not abandoned), so its call is visible here.
        assert_eq!(
            force_calls.load(Ordering::Relaxed),
            escalations,
            "S05: force iff escalated"
        );
        assert!(matches!(a.interrupt, HookOutcome::Returned));
        assert!(!a.escalated || report.stages()[0].expired, "S04");
        assert!(
            matches!(a.outcome, Outcome::Ok),
            "S04: a is never abandoned"
        );
        crate::common::assert_no_error_but_escalation(&report);
    });
}

/// R09, S06 (a hook that returns just as `run` gives up on it): `a` returns `Err` at once (the
/// first exit) and its interrupt blocks until released. Stage `default` has a grace and the kill
/// grace is zero. A ticker waits for the interrupt, advances the clock past the grace, then
/// releases it: the interrupt's return, its lane dropping the cause, and the runner's expiry and
/// report race. Whatever the order, the first exit's error must never become success: either
/// the value comes back (`Err`, the interrupt `Returned`, no error) or the interrupt is reported
/// `Blocked` and `run` fails with `Error::Abandoned`. Found by the Spin model (K2): `finish` read
/// "not blocked" after the hook returned but before its lane dropped the cause, so the value was
/// `Retained`, no hook was blocked, and `run` returned `Ok(())`. Threads: caller, `a`, its lane,
/// ticker.
#[test]
fn r09_first_exit_error_survives_a_hook_returning_at_the_deadline() {
    check(
        "r09_first_exit_error_survives_a_hook_returning_at_the_deadline",
        || {
            let clock = ManualClock::new();
            let mut group = Group::new();
            group
                .clock(clock.clone())
                .grace(Stage::DEFAULT, GRACE)
                .kill_grace(Duration::ZERO);
            let called = StopToken::new();
            let release = StopToken::new();
            {
                let (called, release) = (called.clone(), release.clone());
                group.actor(name(0)).add(
                    || Err("boom".into()),
                    move |_| {
                        called.stop();
                        release.wait();
                    },
                );
            }
            let ticker = {
                let clock = clock.clone();
                loom::thread::spawn(move || {
                    called.wait();
                    clock.advance(GRACE);
                    release.stop();
                })
            };
            let report = group.run_with_report();
            ticker.join().unwrap();

            let a = &report.actors()[0];
            assert!(
                a.first && !a.escalated,
                "K1: the first exit is never escalated"
            );
            match (&a.outcome, &a.interrupt, report.error()) {
                (Outcome::Err(error), HookOutcome::Returned, None) => {
                    assert_eq!(error.to_string(), "boom");
                }
                (Outcome::Err(_) | Outcome::Retained, HookOutcome::Blocked, Some(error)) => {
                    assert!(
                        matches!(error, rungroup::Error::Abandoned { hooks: interrupts, .. }
                            if interrupts == &[name(0)]),
                        "{error}"
                    );
                }
                (outcome, interrupt, error) => {
                    panic!("R09/S06: outcome {outcome:?}, interrupt {interrupt:?}, error {error:?}")
                }
            }
            let result = report.into_result();
            assert!(result.is_err(), "R09: an Err first exit became Ok(())");
        },
    );
}
