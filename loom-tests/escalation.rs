//! Escalation across stages (issue 10, items 11 and 13; issue 11, the three escaped bugs): the
//! final escalation dispatches more than one interrupt, one of them an already-exited actor's in a
//! stage that had not begun, and must do so one at a time, stage after stage.
//!
//! Both models use a budget of zero on a `ManualClock` that never moves: the budget is spent at
//! the trigger, so every stage is escalated as soon as it begins (the "final escalation"), and the
//! kill grace never runs out, so the runner waits for each stage to drain. Every actor honours its
//! interrupt; there are no force hooks. Four threads each (the runner and three actors; the first
//! exit's thread serves the hook lane), so that a runner which wrongly spawns a second lane can
//! still do so under loom, and the overlap shows as an assertion rather than as loom's thread
//! limit.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use rungroup::{Escalation, Group, HookOutcome, ManualClock, Outcome, Policy, Stage, StopToken};

use crate::common::{Probe, check, name};

/// A group on a never-moving clock whose budget is spent at the trigger, with a stage `later`,
/// and actor `a` in stage `default`: it returns at once (the first exit, whose thread then serves
/// the hook lane), and its interrupt is recorded by `probe`.
fn escalating_at_once(probe: &Arc<Probe>) -> (Group, Stage) {
    let mut group = Group::new();
    group
        .clock(ManualClock::new())
        .budget(Duration::ZERO)
        .kill_grace(Duration::from_secs(1));
    let later = group.stage("later").id();
    let probe = Arc::clone(probe);
    group
        .actor(name(0))
        .add(|| Ok(()), move |cause| probe.record(0, cause));
    (group, later)
}

/// Adds actor `index` to `stage`: it runs until its interrupt stops its token; `on_interrupt`
/// runs inside the interrupt, before the probe records it.
fn add_until_interrupted(
    group: &mut Group,
    stage: Stage,
    index: usize,
    probe: &Arc<Probe>,
    on_exit: impl FnOnce() + Send + 'static,
    on_interrupt: impl FnOnce() + Send + 'static,
) {
    let token = StopToken::new();
    let waiter = token.clone();
    let probe = Arc::clone(probe);
    group.actor(name(index)).stage(stage).add(
        move || {
            waiter.wait();
            on_exit();
            Ok(())
        },
        move |cause| {
            on_interrupt();
            probe.record(index, cause);
            token.stop();
        },
    );
}

/// Every actor's interrupt returned, nobody was abandoned, and every stage says the budget
/// escalated it.
fn assert_clean_escalation(report: &rungroup::Report<rungroup::BoxError>) {
    for actor in report.actors() {
        assert!(
            matches!(actor.interrupt, HookOutcome::Returned),
            "{report:?}"
        );
        assert!(!matches!(actor.outcome, Outcome::Abandoned), "{report:?}");
    }
    for stage in report.stages() {
        assert_eq!(stage.escalation, Some(Escalation::Budget), "{report:?}");
    }
}

/// R04, R05 (final escalation). Stage `default`: `a` returns at once (the first exit; its thread
/// then serves the hook lane). Stage `later`: `b` is `on-error` and returns `Ok` at once (so it
/// has exited before its stage begins in almost every interleaving), and its interrupt takes a
/// moment (a `yield_now` between two marks); `c` runs until interrupted.
///
/// What it can see: the interrupt of an actor that exited before its stage began being skipped
/// (R04: `b` missing from the order); `c`'s interrupt starting while `b`'s has not returned (R05:
/// the runner moved the later interrupts to a second lane although nothing was overdue), which the
/// yield lets happen without any preemption; interrupts out of stage or registration order. What
/// it cannot see: deadlines expiring (the clock never moves), force hooks (none), a stage
/// escalated before the earlier one drained (the next model).
#[test]
fn r04_final_escalation_interrupts_exited_actors_one_at_a_time() {
    check(
        "r04_final_escalation_interrupts_exited_actors_one_at_a_time",
        || {
            let probe = Probe::new();
            let (mut group, later) = escalating_at_once(&probe);
            let b_inside = Arc::new(AtomicBool::new(false));
            let c_overlapped = Arc::new(AtomicBool::new(false));
            {
                let probe = Arc::clone(&probe);
                let b_inside = Arc::clone(&b_inside);
                group
                    .actor(name(1))
                    .stage(later)
                    .policy(Policy::OnError)
                    .add(
                        || Ok(()),
                        move |cause| {
                            b_inside.store(true, Ordering::SeqCst);
                            loom::thread::yield_now();
                            probe.record(1, cause);
                            b_inside.store(false, Ordering::SeqCst);
                        },
                    );
            }
            {
                let (b_inside, c_overlapped) = (Arc::clone(&b_inside), Arc::clone(&c_overlapped));
                add_until_interrupted(
                    &mut group,
                    later,
                    2,
                    &probe,
                    || {},
                    move || {
                        if b_inside.load(Ordering::SeqCst) {
                            c_overlapped.store(true, Ordering::SeqCst);
                        }
                    },
                );
            }
            let report = group.run_with_report();
            assert!(
                !c_overlapped.load(Ordering::SeqCst),
                "R05: `c`'s interrupt ran while `b`'s was still running"
            );
            assert_eq!(
                probe.order(),
                [0, 1, 2],
                "R04/R05: every interrupt once, the exited `b` included, in order"
            );
            assert_clean_escalation(&report);
        },
    );
}

/// S01, S05 (final escalation keeps stage order; also R08). Stage `default`: `a` returns at once
/// (the first exit, serving the hook lane) and `b` runs until interrupted, setting a Relaxed flag
/// as it returns; stage `later`: `c` runs until interrupted, and its interrupt reads `b`'s flag.
///
/// What it can see: stage `later` escalated before stage `default` drained (`c`'s interrupt would
/// then miss `b`'s exit: the runner's drain wait, then its hand-off to the lane, are what publish
/// it). What it cannot see: deadlines expiring (the clock never moves), force hooks (none).
#[test]
fn s01_final_escalation_waits_for_each_stage_to_drain() {
    check("s01_final_escalation_waits_for_each_stage_to_drain", || {
        let b_exited = Arc::new(AtomicBool::new(false));
        let c_saw_b = Arc::new(AtomicBool::new(false));
        let probe = Probe::new();
        let (mut group, later) = escalating_at_once(&probe);
        let exited = Arc::clone(&b_exited);
        add_until_interrupted(
            &mut group,
            Stage::DEFAULT,
            1,
            &probe,
            // ORDERING: Relaxed on purpose: only the group may publish it.
            move || exited.store(true, Ordering::Relaxed),
            || {},
        );
        let (seen, saw) = (Arc::clone(&b_exited), Arc::clone(&c_saw_b));
        add_until_interrupted(
            &mut group,
            later,
            2,
            &probe,
            || {},
            move || {
                // ORDERING: Relaxed; see `b`'s store.
                saw.store(seen.load(Ordering::Relaxed), Ordering::Relaxed);
            },
        );
        let report = group.run_with_report();
        // ORDERING: `run` joined the thread that stored it (R08).
        assert!(
            c_saw_b.load(Ordering::Relaxed),
            "S01: stage `later` was escalated before `b` of stage `default` had exited"
        );
        assert_eq!(probe.order(), [0, 1, 2], "S01: stage order");
        assert_clean_escalation(&report);
    });
}
