//! Escalation across stages (issue 10, items 11 and 13; issue 11, the three escaped bugs): the
//! final escalation dispatches more than one interrupt, one of them an already-exited actor's in a
//! stage that had not begun, and must do so one at a time, in stage order.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use rungroup::{Escalation, Group, HookOutcome, ManualClock, Outcome, Policy, StopToken};

use crate::common::{Probe, check, name};

/// R04, R05, S01, S05 (with R08): a budget of zero, so teardown is a final escalation from its
/// first stage on. Stage `default`: `a` returns at once (the first exit, whose thread then serves
/// the hook lane) and `b` runs until interrupted; stage `later`: `c` is `on-error` and returns `Ok`
/// at once (so it has usually exited before its stage begins) and `d` runs until interrupted.
///
/// What it can see: an interrupt skipped for an exited actor of the later stage (R04: `c` missing
/// from the order), two interrupts of one escalation on two threads (the probe's overlap count,
/// R05), a later stage escalated before the earlier one drained (`d`'s interrupt must see `b`'s
/// Relaxed exit flag, S01: the runner's drain wait and the lane's queue are what publish it), and
/// interrupts out of stage order. What it cannot see: timing (the clock never moves, so the kill
/// grace never runs out; every actor honours its interrupt), force hooks (none here).
#[test]
fn r04_final_escalation_interrupts_a_later_stage_in_order_one_at_a_time() {
    check(
        "r04_final_escalation_interrupts_a_later_stage_in_order_one_at_a_time",
        || {
            let b_exited = Arc::new(AtomicBool::new(false));
            let d_saw_b = Arc::new(AtomicBool::new(false));
            let probe = Probe::new();
            let mut group = Group::new();
            group
                .clock(ManualClock::new())
                .budget(Duration::ZERO)
                .kill_grace(Duration::from_secs(1));
            let later = group.add_stage("later");
            {
                let probe = Arc::clone(&probe);
                group
                    .actor(name(0))
                    .add(|| Ok(()), move |cause| probe.record(0, cause));
            }
            {
                let token = StopToken::new();
                let waiter = token.clone();
                let probe = Arc::clone(&probe);
                let exited = Arc::clone(&b_exited);
                group.actor(name(1)).add(
                    move || {
                        waiter.wait();
                        // ORDERING: Relaxed on purpose: only the group may publish it.
                        exited.store(true, Ordering::Relaxed);
                        Ok(())
                    },
                    move |cause| {
                        probe.record(1, cause);
                        token.stop();
                    },
                );
            }
            {
                let probe = Arc::clone(&probe);
                group
                    .actor(name(2))
                    .stage(later)
                    .policy(Policy::OnError)
                    .add(|| Ok(()), move |cause| probe.record(2, cause));
            }
            {
                let token = StopToken::new();
                let waiter = token.clone();
                let probe = Arc::clone(&probe);
                let (b_exited, d_saw_b) = (Arc::clone(&b_exited), Arc::clone(&d_saw_b));
                group.actor(name(3)).stage(later).add(
                    move || {
                        waiter.wait();
                        Ok(())
                    },
                    move |cause| {
                        // ORDERING: Relaxed; see `b`'s store.
                        d_saw_b.store(b_exited.load(Ordering::Relaxed), Ordering::Relaxed);
                        probe.record(3, cause);
                        token.stop();
                    },
                );
            }
            let report = group.run_with_report();
            assert_eq!(
                probe.order(),
                [0, 1, 2, 3],
                "R04/S01: every interrupt once, stage by stage, in registration order"
            );
            // ORDERING: `run` has joined the lane thread that stored it (R08).
            assert!(
                d_saw_b.load(Ordering::Relaxed),
                "S01: stage `later` was interrupted before `b` of stage `default` had exited"
            );
            for actor in report.actors() {
                assert!(
                    matches!(actor.interrupt, HookOutcome::Returned),
                    "{report:?}"
                );
                assert!(!matches!(actor.outcome, Outcome::Abandoned), "{report:?}");
            }
            let escalations: Vec<_> = report
                .stages()
                .iter()
                .map(|stage| stage.escalation.clone())
                .collect();
            assert_eq!(
                escalations,
                [Some(Escalation::Budget), Some(Escalation::Budget)]
            );
        },
    );
}
