//! Triggers from outside the actors, and token actors.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use rungroup::{Group, ManualClock, Outcome, StopOutcome, Trigger};

use crate::common::{Probe, address, check, name};
use crate::core::{add_failing, add_waiting};

/// T01 (also R03, R06, S05): a stop request from another thread races a first exit. Actor `a`
/// returns `Err` at once, `b` runs until interrupted, and a third thread calls `stop("deploy")`.
/// Exactly one cause wins: if the request says `Triggered`, the trigger is the request, no exit
/// is first, and every interrupt sees `Cause::Stop { reason: "deploy" }`; otherwise (`Escalated`
/// during teardown, `Ignored` after it) the trigger is `a`'s exit, it is the only first exit,
/// and every interrupt sees `a`'s very error. Never a panic, never both. The clock is a
/// `ManualClock` because an escalation waits out the kill grace on it.
#[test]
fn t01_stop_request_races_a_first_exit() {
    check("t01_stop_request_races_a_first_exit", || {
        let probe = Probe::new();
        let made = Arc::new(AtomicUsize::new(0));
        let mut group = Group::new();
        group.clock(ManualClock::new());
        Probe::observe(&probe, &mut group);
        add_failing(&mut group, &probe, 0, &made);
        add_waiting(&mut group, &probe, 1);
        let stop = group.stop_handle();
        let requester = loom::thread::spawn(move || stop.stop("deploy"));
        let report = group.run_with_report();
        let outcome = requester.join().unwrap();
        let made = made.load(Ordering::Relaxed);

        assert_eq!(probe.order(), [0, 1], "R04/R05");
        if outcome == StopOutcome::Triggered {
            let reason = "deploy".to_owned();
            assert_eq!(
                report.trigger(),
                &Trigger::Stop {
                    reason: reason.clone()
                }
            );
            assert_eq!(probe.firsts(), 0, "T01: the request won, no exit is first");
            assert!(report.first_exit().is_none());
            for seen in probe.seen() {
                assert_eq!(
                    (seen.cause_actor, seen.reason),
                    (None, Some(reason.clone()))
                );
            }
        } else {
            assert_eq!(
                report.trigger(),
                &Trigger::Exit { actor: 0 },
                "T01: {outcome:?}"
            );
            assert_eq!(probe.firsts(), 1, "R03");
            for seen in probe.seen() {
                assert_eq!(seen.cause_actor, Some(name(0)), "R06");
                assert_eq!((seen.error, seen.reason), (Some(made), None), "R06");
            }
        }
        assert!(matches!(&report.actors()[0].outcome, Outcome::Err(e) if address(e) == made));
        assert!(matches!(report.actors()[1].outcome, Outcome::Ok));
        crate::common::assert_no_error_but_escalation(&report);
    });
}

/// R07, T03: a token actor's interrupt may come before its execute has begun; the token is
/// sticky, so the execute still returns. Actor `a` returns at once; `b` is a token actor
/// (`add_token`) waiting on its token, racing its own interrupt.
#[test]
fn r07_token_stopped_before_its_execute_starts() {
    check("r07_token_stopped_before_its_execute_starts", || {
        let probe = Probe::new();
        let mut group = Group::new();
        {
            let probe = Arc::clone(&probe);
            group
                .actor(name(0))
                .add(|| Ok(()), move |cause| probe.record(0, cause));
        }
        group.actor(name(1)).add_token(|token| {
            token.wait();
            Ok(())
        });
        let report = group.run_with_report();
        assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
        assert!(matches!(report.actors()[1].outcome, Outcome::Ok), "R07");
        assert_eq!(probe.order(), [0]);
    });
}
