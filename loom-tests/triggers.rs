//! Triggers from outside the actors, and token actors.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use rungroup::{Group, ManualClock, Outcome, StopOutcome, StopToken, Trigger};

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
                },
                "T01: the stop request returned Triggered, the report names another trigger"
            );
            probe.assert_first_events(0, &report);
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
                "T01: the stop request returned {outcome:?}, so a's exit must be the trigger"
            );
            probe.assert_first_events(1, &report);
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

/// The value `a`'s interrupt writes before `b`'s token is stopped, in the T03 models.
const PUBLISHED: usize = 42;

/// The T03 models: actor `a` returns at once (the first exit); its interrupt, called before `b`'s
/// (R05), writes [`PUBLISHED`] with a Relaxed store. Actor `b` is a token actor: its execute spins
/// on `poll` (yielding to loom between polls) until its token says stopped, then reads the value
/// with a Relaxed load. Its interrupt is the library's: it stops `b`'s token. That stop (Release)
/// and the poll (Acquire) are the only edge from the interrupt to `b`'s execute, so `b` must see
/// the value: with the token's orderings weakened to Relaxed, loom finds the execution where the
/// poll sees "stopped" and the load still reads the initial 0.
fn token_poll_sees_what_preceded_the_stop(poll: fn(&StopToken) -> bool) {
    let published = Arc::new(AtomicUsize::new(0));
    let read = Arc::new(AtomicUsize::new(usize::MAX));
    let mut group = Group::new();
    {
        let published = Arc::clone(&published);
        group.actor(name(0)).add(
            || Ok(()),
            move |_| {
                // ORDERING: Relaxed on purpose: only the token may publish it to `b`.
                published.store(PUBLISHED, Ordering::Relaxed);
            },
        );
    }
    {
        let read = Arc::clone(&read);
        group.actor(name(1)).add_token(move |token| {
            while !poll(&token) {
                loom::thread::yield_now();
            }
            // ORDERING: Relaxed: the token's stop/poll pair is what must order this after the
            // interrupt's store. The result reaches the caller through `run` (R08).
            read.store(published.load(Ordering::Relaxed), Ordering::Relaxed);
            Ok(())
        });
    }
    let report = group.run_with_report();
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
    assert!(report.error().is_none(), "{:?}", report.error());
    let read = read.load(Ordering::Relaxed);
    assert_eq!(
        read, PUBLISHED,
        "T03: b's poll saw its token stopped, then read {read} where the interrupt before the \
         stop had written {PUBLISHED}: stop/poll did not publish it"
    );
}

/// T03 (also R05): a token polled with `is_stopped` publishes what happened before its `stop`
/// (see `token_poll_sees_what_preceded_the_stop`). `is_stopped` takes no lock, so the token's
/// atomic orderings alone carry the edge. Threads: caller, `a`, `b`.
#[test]
fn t03_token_polled_with_is_stopped_sees_what_preceded_the_stop() {
    check(
        "t03_token_polled_with_is_stopped_sees_what_preceded_the_stop",
        || token_poll_sees_what_preceded_the_stop(StopToken::is_stopped),
    );
}

/// T03 (also R05): as above, polling with `wait_timeout(0)` (the loop actor's tick with no time
/// left): it checks the flag under the token's lock, which does not help when the poll takes the
/// lock before `stop` does but after `stop`'s store, so the orderings carry the edge there too.
/// Threads: caller, `a`, `b`.
#[test]
fn t03_token_polled_with_wait_timeout_sees_what_preceded_the_stop() {
    check(
        "t03_token_polled_with_wait_timeout_sees_what_preceded_the_stop",
        || token_poll_sees_what_preceded_the_stop(|token| token.wait_timeout(Duration::ZERO)),
    );
}

/// T03, R07 (issue 12): `StopToken::stopped` against `stop` from another thread. The future
/// checks the flag, then registers its waker under the token's lock and checks again; `stop`
/// sets the flag, then takes the wakers under that lock. Either the future sees the flag or
/// `stop` finds its waker: `block_on` always returns (a lost wake-up is a loom deadlock; the
/// seeded bug `stopped-no-recheck` makes one).
#[test]
fn t03_i12_stopped_future_is_never_left_waiting() {
    check("t03_i12_stopped_future_is_never_left_waiting", || {
        let token = StopToken::new();
        let stopper = token.clone();
        let stopping = loom::thread::spawn(move || stopper.stop());
        loom::future::block_on(token.stopped());
        stopping.join().unwrap();
        assert!(token.is_stopped());
    });
}

/// T03 (issue 12, from a review): a registered `Stopped` dropped on one thread while another
/// stops the token. Whether
/// its `Drop` takes the lock (not stopped yet) or skips it (stopped), its waker ends up out of
/// the token's list once both threads are done: no waker kept, none woken twice.
#[test]
fn t03_i12_stopped_dropped_while_the_token_stops_leaves_no_waker() {
    check(
        "t03_i12_stopped_dropped_while_the_token_stops_leaves_no_waker",
        || {
            struct Count(std::sync::atomic::AtomicUsize);
            impl std::task::Wake for Count {
                fn wake(self: std::sync::Arc<Self>) {
                    self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            let count = std::sync::Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
            let waker = std::task::Waker::from(std::sync::Arc::clone(&count));
            let token = StopToken::new();
            let mut first = Box::pin(token.stopped());
            let mut second = Box::pin(token.stopped());
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(first.as_mut().poll(&mut cx).is_pending());
            assert!(second.as_mut().poll(&mut cx).is_pending());
            drop(cx);
            drop(waker);
            let stopper = token.clone();
            let stopping = loom::thread::spawn(move || stopper.stop());
            drop(first);
            stopping.join().unwrap();
            drop(second);
            assert_eq!(
                std::sync::Arc::strong_count(&count),
                1,
                "a waker left in the list"
            );
            let woken = count.0.load(std::sync::atomic::Ordering::Relaxed);
            assert!((1..=2).contains(&woken), "woken {woken} times");
        },
    );
}
