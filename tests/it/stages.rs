//! Section C of the contract: staged, bounded shutdown (rules S01–S08).
//!
//! Deadlines run on a [`ManualClock`]: a test advances it only once it knows the runner has set
//! the deadline (the `StageBegun` event is emitted after the stage's deadline is fixed; the
//! `Escalated` events after the kill grace is). One real-clock test per deadline rule (S04, S06,
//! S08) has a bound only a hang could break.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rungroup::{
    BoxError, Cause, Error, Escalation, Group, HookOutcome, ManualClock, Outcome, Policy, Report,
    Stage, StopOutcome, Trigger,
};

use crate::common::{
    Counter, Ev, Latch, Log, clocked, clocked_with_grace, events, on_lanes, report_advancing,
    report_of, run_catching, spawn_report, stubborn, until_interrupted,
};

const HOUR: Duration = Duration::from_secs(3600);

/// A token actor that logs `interrupt:<name>` (via the cause-free token) and `exit:<name>`.
fn logged(group: &mut Group, stage: Stage, name: &str, log: &Log) {
    let (log_i, log_x) = (log.clone(), log.clone());
    let (name_i, name_x) = (name.to_owned(), name.to_owned());
    let (tx, rx) = mpsc::channel::<()>();
    group.actor(name).stage(stage).add(
        move || {
            let _ = rx.recv();
            log_x.push(format!("exit:{name_x}"));
            Ok(())
        },
        move |_| {
            log_i.push(format!("interrupt:{name_i}"));
            drop(tx);
        },
    );
}

/// An actor that ignores its interrupt and returns only when its force hook is called.
fn needs_force(group: &mut Group, stage: Stage, name: &str, forced: &Counter) {
    let forced = forced.clone();
    let (tx, rx) = mpsc::channel::<()>();
    group
        .actor(name)
        .stage(stage)
        .force(move || {
            forced.hit();
            drop(tx);
        })
        .add(
            move || {
                let _ = rx.recv();
                Ok(())
            },
            |_| {},
        );
}

/// A force hook that counts its calls, and its counter.
fn counted_force() -> (Counter, impl FnOnce() + Send + 'static) {
    let counter = Counter::new();
    let hit = counter.clone();
    (counter, move || hit.hit())
}

/// An actor that ignores its interrupt, and whose force hook blocks too, until `latch` is released.
fn force_blocks(group: &mut Group, stage: Stage, name: &str, latch: &Latch) -> Latch {
    let (hook_waiter, exec_waiter) = (latch.waiter(), latch.waiter());
    // Released once the force hook is inside its call.
    let forcing = Latch::new();
    let called = forcing.waiter();
    group
        .actor(name)
        .stage(stage)
        .force(move || {
            called.stop();
            hook_waiter.wait();
        })
        .add(
            move || {
                exec_waiter.wait();
                Ok(())
            },
            |_| {},
        );
    forcing
}

/// Asserts that every stage expired and every actor was escalated and then exited `Ok`, and
/// that the run has no error.
#[track_caller]
fn assert_every_stage_forced_cleanly(report: &Report<BoxError>) {
    assert!(report.stages().iter().all(|stage| stage.expired));
    assert!(
        report
            .actors()
            .iter()
            .all(|a| a.escalated && matches!(a.outcome, Outcome::Ok))
    );
    crate::common::assert_escalated_cleanly(report);
}

/// Runs `run` and asserts that it returned within a bound only a hang could break.
#[track_caller]
fn bounded_on_the_real_clock<T>(run: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = run();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "run was bounded"
    );
    value
}

/// A group on the real clock with a budget and a kill grace of 50 ms each.
fn real_clock_budget() -> Group {
    let mut group = Group::new();
    group
        .budget(Duration::from_millis(50))
        .kill_grace(Duration::from_millis(50));
    group
}

// ---- S01 -------------------------------------------------------------------------------------

/// Stage `drain` is registered first but torn down second; the default stage has two actors.
fn staged_order(group: &mut Group) -> Log {
    let log = Log::new();
    let drain = group.stage("drain").id();
    logged(group, drain, "c", &log);
    logged(group, Stage::DEFAULT, "a", &log);
    logged(group, Stage::DEFAULT, "b", &log);
    log
}

fn assert_staged_order(log: &Log) {
    assert!(log.position("interrupt:a") < log.position("interrupt:b"));
    let c = log.position("interrupt:c");
    assert!(log.position("exit:a") < c, "{:?}", log.entries());
    assert!(log.position("exit:b") < c, "{:?}", log.entries());
    assert!(c < log.position("exit:c"));
}

#[test]
fn s01_later_stage_interrupted_only_after_earlier_stage_exited() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    let log = staged_order(&mut group);
    stop.stop("test");
    let report = report_of(group);
    assert!(report.error().is_none());
    assert_staged_order(&log);
    assert!(
        report
            .stages()
            .iter()
            .all(|s| !s.expired && s.elapsed.is_some())
    );
}

#[test]
fn s01_stage_order_holds_on_lanes_with_deadlines() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    on_lanes(&mut group);
    let log = staged_order(&mut group);
    group.grace(Stage::DEFAULT, HOUR);
    stop.stop("test");
    let report = report_of(group);
    assert!(report.error().is_none());
    assert_staged_order(&log);
}

#[test]
fn s01_later_stage_waits_for_the_earlier_grace_to_expire() {
    let (mut group, mut events, stop, clock) = clocked_with_grace(HOUR, Duration::from_secs(5));
    let last = group.stage("last").id();
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "slow", &forced);
    let interrupted_at = std::sync::Arc::new(std::sync::Mutex::new(None));
    let at = std::sync::Arc::clone(&interrupted_at);
    let clock_in = clock.clone();
    group.actor("later").stage(last).add_token(|token| {
        token.wait();
        Ok(())
    });
    // A second actor of the last stage records when it was interrupted.
    let (execute, interrupt) = until_interrupted(move |_| {
        *at.lock().unwrap() = Some(clock_in.now());
    });
    group.actor("witness").stage(last).add(execute, interrupt);
    stop.stop("test");
    let report = report_advancing(
        group,
        &mut events,
        &Ev::interrupting("slow"),
        &clock,
        Duration::from_secs(5),
    );
    assert_eq!(
        *interrupted_at.lock().unwrap(),
        Some(Duration::from_secs(5)),
        "the last stage was interrupted only after the grace expired"
    );
    assert_eq!(forced.get(), 1);
    assert!(report.stages()[0].expired);
    assert!(!report.stages()[1].expired);
    crate::common::assert_escalated_cleanly(&report);
    let slow = &report.actors()[0];
    assert!(slow.escalated && matches!(slow.outcome, Outcome::Ok));
}

// ---- S02 -------------------------------------------------------------------------------------

enum Msg {
    Request(mpsc::Sender<&'static str>),
    Stop,
}

#[test]
fn s02_later_stage_keeps_serving_while_earlier_stage_drains() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    let log = Log::new();
    let serve = group.stage("serve").id();
    let (msg_tx, msg_rx) = mpsc::channel::<Msg>();

    // Stage 2: a server that answers until its own interrupt.
    let server_log = log.clone();
    let stop_server = msg_tx.clone();
    let interrupt_log = log.clone();
    group.actor("server").stage(serve).add(
        move || {
            for msg in msg_rx {
                match msg {
                    Msg::Request(reply) => {
                        server_log.push("served");
                        let _ = reply.send("pong");
                    }
                    Msg::Stop => break,
                }
            }
            server_log.push("exit:server");
            Ok(())
        },
        move |_| {
            interrupt_log.push("interrupt:server");
            let _ = stop_server.send(Msg::Stop);
        },
    );

    // Stage 1: a client that, once interrupted, still needs the server to drain.
    let client_log = log.clone();
    group.actor("client").add_token(move |token| {
        token.wait();
        let (reply_tx, reply_rx) = mpsc::channel();
        msg_tx.send(Msg::Request(reply_tx)).unwrap();
        let reply = reply_rx.recv().unwrap();
        client_log.push(format!("client got {reply}"));
        Ok(())
    });

    stop.stop("test");
    let report = report_of(group);
    assert!(report.error().is_none());
    assert_eq!(
        log.entries(),
        [
            "served",
            "client got pong",
            "interrupt:server",
            "exit:server"
        ]
    );
}

// ---- S03 -------------------------------------------------------------------------------------

#[test]
fn s03_exit_from_a_later_stage_triggers_teardown_from_stage_one() {
    let mut group = Group::new();
    let log = Log::new();
    let last = group.stage("last").id();
    let quit_log = log.clone();
    group.actor("quitter").stage(last).add(
        || Err("quitter failed".into()),
        move |_| quit_log.push("interrupt:quitter"),
    );
    logged(&mut group, Stage::DEFAULT, "a", &log);
    logged(&mut group, Stage::DEFAULT, "b", &log);
    let report = report_of(group);
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
    assert_eq!(report.first_exit().unwrap().name, "quitter");
    let q = log.position("interrupt:quitter");
    assert!(log.position("interrupt:a") < q && log.position("exit:a") < q);
    assert!(log.position("interrupt:b") < q && log.position("exit:b") < q);
    assert_eq!(
        report.into_result().unwrap_err().to_string(),
        "quitter failed"
    );
}

#[test]
fn s03_exit_during_teardown_is_simply_recorded() {
    let mut group = Group::new();
    let mut events = events(&mut group);
    let stop = group.stop_handle();
    let last = group.stage("last").id();
    let late_interrupts = Counter::new();
    let hit = late_interrupts.clone();
    let (quit_tx, quit_rx) = mpsc::channel::<()>();
    group.actor("late").stage(last).add(
        move || {
            let _ = quit_rx.recv();
            Err("late quit".into())
        },
        move |_| hit.hit(),
    );
    // Stage 1 drains only after the later stage's actor has exited on its own.
    group.actor("drainer").add_token(move |token| {
        token.wait();
        drop(quit_tx);
        events.wait_for(&Ev::exited("late"));
        Ok(())
    });
    stop.stop("test");
    let report = report_of(group);
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: "test".into()
        }
    );
    let late = &report.actors()[0];
    assert!(!late.first);
    match &late.outcome {
        Outcome::Err(error) => assert_eq!(error.to_string(), "late quit"),
        other => panic!("late ended {other:?}"),
    }
    assert_eq!(
        late_interrupts.get(),
        1,
        "its interrupt is still called once"
    );
    assert!(report.into_result().is_ok(), "a requested stop returns Ok");
}

// ---- S04 -------------------------------------------------------------------------------------

#[test]
fn s04_grace_expiry_moves_on_while_an_interrupt_blocks_forever() {
    let (mut group, mut events, stop, clock) =
        clocked_with_grace(Duration::from_secs(10), Duration::from_secs(5));
    let last = group.stage("last").id();
    let log = Log::new();
    let blocked = Latch::new();
    logged(&mut group, Stage::DEFAULT, "first", &log);
    // Its execute ignores the interrupt, and its interrupt blocks until the test ends.
    let (interrupt_waiter, execute_waiter) = (blocked.waiter(), blocked.waiter());
    group.actor("blocker").add(
        move || {
            execute_waiter.wait();
            Ok(())
        },
        move |_| interrupt_waiter.wait(),
    );
    logged(&mut group, last, "last", &log);
    stop.stop("test");
    let pending = spawn_report(group);
    // The lane calls "blocker" only once "first"'s interrupt has returned.
    events.wait_for(&Ev::interrupting("blocker"));
    events.wait_for(&Ev::exited("first"));
    clock.advance(Duration::from_secs(5)); // the grace
    events.wait_for(&Ev::escalated("blocker"));
    clock.advance(Duration::from_secs(10)); // the kill grace
    let report = pending.join();
    // The last stage was torn down although blocker's interrupt never returned.
    assert_staged(
        &log,
        &[
            "interrupt:first",
            "exit:first",
            "interrupt:last",
            "exit:last",
        ],
    );
    let blocker = &report.actors()[1];
    assert!(matches!(blocker.interrupt, HookOutcome::Blocked));
    assert!(matches!(blocker.outcome, Outcome::Abandoned));
    assert!(report.stages()[0].expired && !report.stages()[1].expired);
    match report.error() {
        Some(Error::Abandoned {
            actors,
            hooks: interrupts,
            ..
        }) => {
            assert_eq!(actors, &["blocker".to_owned()]);
            assert_eq!(interrupts, &["blocker".to_owned()]);
        }
        other => panic!("error {other:?}"),
    }
    // Nobody else's outcome was lost.
    for index in [0, 2] {
        let actor = &report.actors()[index];
        assert!(matches!(actor.outcome, Outcome::Ok), "{}", actor.name);
        assert!(matches!(actor.interrupt, HookOutcome::Returned));
    }
    assert_eq!(report.teardown(), Some(Duration::from_secs(15)));
    blocked.release();
}

#[test]
fn s04_later_interrupt_of_the_stage_runs_once_the_grace_expires() {
    let (mut group, mut events, stop, clock) = clocked_with_grace(HOUR, Duration::from_secs(5));
    let log = Log::new();
    let blocked = Latch::new();
    let waiter = blocked.waiter();
    let execute_waiter = blocked.waiter();
    // Its interrupt blocks until the test releases it (its execute too).
    group.actor("slow-interrupt").add(
        move || {
            execute_waiter.wait();
            Ok(())
        },
        move |_| waiter.wait(),
    );
    // Registered right after: its interrupt waits behind slow-interrupt's on the stage's lane...
    logged(&mut group, Stage::DEFAULT, "next", &log);
    stop.stop("test");
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("slow-interrupt"));
    assert!(
        log.entries().is_empty(),
        "no interrupt passes a blocked one before the grace"
    );
    clock.advance(Duration::from_secs(5));
    // ...until the grace expires: then it runs while slow-interrupt's has not returned.
    events.wait_for(&Ev::exited("next"));
    assert_eq!(log.entries(), ["interrupt:next", "exit:next"]);
    blocked.release(); // it returns within the kill grace: nothing is lost
    let report = pending.join();
    crate::common::assert_escalated_cleanly(&report);
    assert!(report.stages()[0].expired);
    assert!(
        report
            .actors()
            .iter()
            .all(|a| matches!(a.interrupt, HookOutcome::Returned))
    );
}

fn assert_staged(log: &Log, order: &[&str]) {
    let positions: Vec<usize> = order.iter().map(|entry| log.position(entry)).collect();
    assert!(positions.is_sorted(), "{:?}", log.entries());
}

#[test]
fn s04_zero_grace_escalates_at_once() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    let stop = group.stop_handle();
    group.clock(clock.clone()).kill_grace(HOUR);
    group.grace(Stage::DEFAULT, Duration::ZERO);
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "slow", &forced);
    stop.stop("test");
    let report = report_of(group);
    assert_eq!(clock.now(), Duration::ZERO, "no time had to pass");
    assert_eq!(forced.get(), 1);
    assert!(report.actors()[0].escalated);
    assert!(report.stages()[0].expired);
    crate::common::assert_escalated_cleanly(&report);
}

#[test]
fn s04_budget_shorter_than_a_stage_grace_wins() {
    let (mut group, mut events, stop, clock) = clocked(HOUR);
    group.budget(Duration::from_secs(10));
    group.grace(Stage::DEFAULT, HOUR);
    let later = group.stage("later").grace(HOUR).id();
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "slow", &forced);
    needs_force(&mut group, later, "never-interrupted-in-time", &forced);
    stop.stop("test");
    let report = report_advancing(
        group,
        &mut events,
        &Ev::StageBegun(0),
        &clock,
        Duration::from_secs(10),
    );
    assert_eq!(forced.get(), 2, "the budget escalated every stage");
    assert_eq!(report.teardown(), Some(Duration::from_secs(10)));
    assert_every_stage_forced_cleanly(&report);
}

#[test]
fn s04_empty_stage_is_passed_through() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    let stop = group.stop_handle();
    group.clock(clock.clone());
    let log = Log::new();
    group.stage("empty").grace(Duration::from_secs(1)).id();
    let last = group.stage("last").id();
    logged(&mut group, last, "c", &log);
    logged(&mut group, Stage::DEFAULT, "a", &log);
    stop.stop("test");
    let report = report_of(group);
    assert!(report.error().is_none());
    assert_staged(&log, &["interrupt:a", "exit:a", "interrupt:c", "exit:c"]);
    let empty = &report.stages()[1];
    assert_eq!(empty.name, "empty");
    assert_eq!(empty.elapsed, Some(Duration::ZERO));
    assert!(!empty.expired);
}

#[test]
fn s04_real_clock_grace_bounds_a_blocked_interrupt() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    group.kill_grace(Duration::from_millis(50));
    group.grace(Stage::DEFAULT, Duration::from_millis(50));
    let blocked = Latch::new();
    let waiter = blocked.waiter();
    stubborn(&mut group, Stage::DEFAULT, "deaf", &blocked);
    // Blocks forever in its interrupt (until the test ends).
    group
        .actor("blocker")
        .add(|| Ok(()), move |_| waiter.wait());
    stop.stop("test");
    let report = bounded_on_the_real_clock(|| report_of(group));
    assert!(report.abandoned().any(|name| name == "deaf"));
    assert!(matches!(report.actors()[1].interrupt, HookOutcome::Blocked));
    assert!(
        matches!(report.error(), Some(Error::Abandoned { hooks: interrupts, .. }) if interrupts.contains(&"blocker".to_owned()))
    );
    blocked.release();
}

// ---- S05 -------------------------------------------------------------------------------------

#[test]
fn s05_force_hook_called_once_and_only_for_actors_still_running() {
    let (mut group, mut events, stop, clock) = clocked_with_grace(HOUR, Duration::from_secs(5));
    let (polite_forced, force) = counted_force();
    group.actor("polite").force(force).add_token(|token| {
        token.wait();
        Ok(())
    });
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "slow", &forced);
    stop.stop("test");
    let report = report_advancing(
        group,
        &mut events,
        &Ev::exited("polite"),
        &clock,
        Duration::from_secs(5),
    );
    assert_eq!(
        polite_forced.get(),
        0,
        "an actor that exited is not escalated"
    );
    assert_eq!(forced.get(), 1);
    assert!(!report.actors()[0].escalated);
    assert!(report.actors()[1].escalated);
    crate::common::assert_escalated_cleanly(&report);
}

/// S05: the first exit has exited, so when its stage's grace expires it is neither escalated nor
/// forced (its force hook might kill a process that is already reaped). Found by the Spin model
/// (`docs/model`, K1): building the cause empties the winner's slot, and escalation read an empty
/// slot as "still running".
#[test]
fn s05_first_exit_is_not_escalated_when_its_stage_expires() {
    let (mut group, mut events, _stop, clock) = clocked_with_grace(HOUR, Duration::from_secs(5));
    let (winner_forced, force) = counted_force();
    group
        .actor("first")
        .force(force)
        .add(|| Err("boom".into()), |_| {});
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "slow", &forced);
    let report = report_advancing(
        group,
        &mut events,
        &Ev::interrupting("slow"),
        &clock,
        Duration::from_secs(5),
    );
    assert_eq!(winner_forced.get(), 0, "the first exit's force hook ran");
    assert!(!report.actors()[0].escalated, "{report}");
    assert!(report.actors()[0].first);
    assert!(matches!(&report.actors()[0].outcome, Outcome::Err(e) if e.to_string() == "boom"));
    assert_eq!(forced.get(), 1);
    assert!(report.actors()[1].escalated);
    crate::common::assert_escalated_cleanly(&report);
}

/// The indices of the `StageBegun` events, in order.
fn stages_begun(events: &mut crate::common::Events) -> Vec<usize> {
    events
        .all()
        .iter()
        .filter_map(|event| match event {
            Ev::StageBegun(index) => Some(*index),
            _ => None,
        })
        .collect()
}

/// S05: a stage's grace expiring escalates that stage's actors only: an actor of a later stage
/// is interrupted in its turn, never escalated, and its force hook is never called.
#[test]
fn s05_a_stage_expiry_escalates_that_stage_only() {
    let (mut group, mut events, _stop, clock) = clocked_with_grace(HOUR, Duration::from_secs(5));
    let later = group.stage("later").id();
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "slow", &forced);
    let (later_forced, force) = counted_force();
    let (execute, interrupt) = until_interrupted(|_| {});
    group
        .actor("later")
        .stage(later)
        .force(force)
        .add(execute, interrupt);
    group.actor("first").add(|| Err("boom".into()), |_| {});
    let report = report_advancing(
        group,
        &mut events,
        &Ev::interrupting("slow"),
        &clock,
        Duration::from_secs(5),
    );
    assert_eq!(forced.get(), 1);
    assert_eq!(later_forced.get(), 0, "a later stage's force hook ran");
    assert!(!report.actors()[1].escalated, "{report}");
    assert!(matches!(report.actors()[1].outcome, Outcome::Ok));
    assert_eq!(
        report
            .stages()
            .iter()
            .map(|stage| stage.expired)
            .collect::<Vec<_>>(),
        [true, false]
    );
    crate::common::assert_escalated_cleanly(&report);
}

/// S04, O01, O02: the budget runs out in the middle of stage 0 of three. The final escalation
/// takes all three at once; each stage begins exactly once (stage 0 already had), each is reported
/// expired, and each is timed from its own beginning: stage 0 from before the budget ran out,
/// the two others from the escalation.
#[test]
fn s04_budget_running_out_mid_stage_times_every_stage_from_its_own_beginning() {
    let (mut group, mut events, stop, clock) = crate::common::clocked(HOUR);
    group.budget(Duration::from_secs(10));
    let (one, two) = (group.stage("one").id(), group.stage("two").id());
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "zero", &forced);
    needs_force(&mut group, one, "one", &forced);
    needs_force(&mut group, two, "two", &forced);
    stop.stop("test");
    let report = report_advancing(
        group,
        &mut events,
        &Ev::interrupting("zero"),
        &clock,
        Duration::from_secs(10),
    );
    assert_eq!(forced.get(), 3);
    assert_eq!(stages_begun(&mut events), [0, 1, 2]);
    let timed: Vec<_> = report
        .stages()
        .iter()
        .map(|stage| (stage.elapsed, stage.expired))
        .collect();
    assert_eq!(
        timed,
        [
            (Some(Duration::from_secs(10)), true),
            (Some(Duration::ZERO), true),
            (Some(Duration::ZERO), true)
        ]
    );
    crate::common::assert_escalated_cleanly(&report);
}

/// S05, S01 (issue 10, item 11): a second stop request during a stage's kill grace does not cut
/// that kill grace short, nor reach past the stage: the later stage is escalated at once, but only
/// once the escalated stage has drained, so stage order survives the escalation. No deadline has
/// to expire for the later stage: the clock does not move after the grace.
#[test]
fn s05_second_stop_during_a_stage_kill_grace_escalates_the_next_stages_at_once_in_order() {
    let (mut group, mut events, stop, clock) = clocked_with_grace(HOUR, Duration::from_secs(5));
    let later = group.stage("later").id();
    let latch = Latch::new();
    stubborn(&mut group, Stage::DEFAULT, "deaf", &latch);
    let forced = Counter::new();
    needs_force(&mut group, later, "late", &forced);
    assert_eq!(stop.stop("first"), StopOutcome::Triggered);
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("deaf"));
    clock.advance(Duration::from_secs(5));
    // Stage `default` is escalated: its kill grace (an hour) has begun.
    events.wait_for(&Ev::escalated("deaf"));
    assert_eq!(stop.stop("second"), StopOutcome::Escalated);
    // A runner that escalated every stage at once would escalate `late` now, beside `deaf`. The
    // wait only gives such a bug time to show; the passing run does not depend on it.
    let too_early = events.came_within(&Ev::StageBegun(1), Duration::from_millis(200));
    assert!(
        !too_early,
        "stage 1 began while stage 0 was in its kill grace"
    );
    latch.release();
    events.wait_for(&Ev::escalated("late"));
    let report = pending.join();
    assert_eq!(forced.get(), 1);
    assert!(report.actors()[1].escalated);
    assert_eq!(
        clock.now(),
        Duration::from_secs(5),
        "no deadline had to expire"
    );
    assert_eq!(stages_begun(&mut events), [0, 1]);
    let stages = report.stages();
    assert!(stages[0].expired && !stages[1].expired);
    assert_eq!(
        stages[0].escalation,
        Some(Escalation::Grace {
            stage: "default".into()
        })
    );
    assert_eq!(
        stages[1].escalation,
        Some(Escalation::Request(Trigger::Stop {
            reason: "second".into()
        }))
    );
    crate::common::assert_escalated_cleanly(&report);
}

/// R09, S06, O02: an `Ok` first exit stays `Ok` in the report even when an interrupt that never
/// returned still holds the cause (an `Ok` has no value to keep; only an `Err` is `Retained`).
/// The blocked interrupt is reported, with one `Abandoned` event, and the run fails.
#[test]
fn r09_ok_first_exit_is_ok_while_a_blocked_interrupt_holds_the_cause() {
    let (mut group, mut events, _stop, clock) = crate::common::clocked(Duration::ZERO);
    group.budget(Duration::from_secs(10));
    group.actor("quitter").add(|| Ok(()), |_| {});
    let latch = Latch::new();
    let (hook, forced) = (latch.waiter(), Latch::new());
    let released = forced.waiter();
    group.actor("blocker").force(move || forced.release()).add(
        move || {
            released.wait();
            Ok(())
        },
        move |_| hook.wait(),
    );
    let report = report_advancing(
        group,
        &mut events,
        &Ev::interrupting("blocker"),
        &clock,
        Duration::from_secs(10),
    );
    assert!(report.actors()[0].first);
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Ok),
        "{report}"
    );
    assert!(matches!(report.actors()[1].interrupt, HookOutcome::Blocked));
    let abandoned_events = events
        .all()
        .iter()
        .filter(|event| **event == Ev::Abandoned("blocker".to_owned()))
        .count();
    assert_eq!(abandoned_events, 1);
    assert!(matches!(report.into_result(), Err(error) if error.to_string().contains("blocker")));
    latch.release();
}

fn second_stop_escalates(deadlines: Option<&ManualClock>) {
    let mut group = Group::new();
    let mut events = events(&mut group);
    let stop = group.stop_handle();
    // A kill grace no test run reaches (no grace or budget: interrupts stay inline).
    group.kill_grace(HOUR);
    if let Some(clock) = deadlines {
        group.clock(clock.clone());
        group.grace(Stage::DEFAULT, HOUR);
    }
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "slow", &forced);
    assert_eq!(stop.stop("first"), StopOutcome::Triggered);
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("slow"));
    assert_eq!(stop.stop("second"), StopOutcome::Escalated);
    let report = pending.join();
    assert_eq!(forced.get(), 1);
    assert!(report.actors()[0].escalated);
    // Issue 10, item 10: the report says a second request escalated, not that a deadline expired.
    assert!(!report.stages()[0].expired);
    assert_eq!(
        report.stages()[0].escalation,
        Some(Escalation::Request(Trigger::Stop {
            reason: "second".into()
        }))
    );
    crate::common::assert_escalated_cleanly(&report);
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: "first".into()
        }
    );
    if let Some(clock) = deadlines {
        assert_eq!(clock.now(), Duration::ZERO, "no deadline had to expire");
    }
}

#[test]
fn s05_second_stop_escalates_at_once() {
    second_stop_escalates(None);
}

#[test]
fn s05_second_stop_escalates_before_the_grace_expires() {
    second_stop_escalates(Some(&ManualClock::new()));
}

/// S04, S05 (issue 13): no grace, budget or kill grace a configuration can hold makes a deadline
/// overflow: `Duration::MAX` for all three, on the real clock (whose waits then block until
/// notified) and on a manual clock advanced by `Duration::MAX`, runs a teardown with an escalation
/// to its end without a panic. (`Group::grace` panics only for a `Stage` of another group, which
/// no configuration value can be.)
#[test]
fn s04_i13_max_grace_budget_and_kill_grace_do_not_overflow() {
    for manual in [None, Some(ManualClock::new())] {
        let mut group = Group::new();
        let mut events = events(&mut group);
        let drain = group.stage("drain").id();
        group
            .grace(Stage::DEFAULT, Duration::MAX)
            .grace(drain, Duration::MAX)
            .budget(Duration::MAX)
            .kill_grace(Duration::MAX);
        if let Some(clock) = &manual {
            group.clock(clock.clone());
        }
        let stop = group.stop_handle();
        // Ignores its interrupt; returns once its force hook has run.
        let latch = Latch::new();
        let waiter = latch.waiter();
        group.actor("stubborn").force(move || latch.release()).add(
            move || {
                waiter.wait();
                Ok(())
            },
            |_| {},
        );
        group.actor("worker").stage(drain).add_token(|token| {
            token.wait();
            Ok(())
        });
        assert_eq!(stop.stop("first"), StopOutcome::Triggered);
        let pending = spawn_report(group);
        events.wait_for(&Ev::Interrupted("stubborn".into()));
        if let Some(clock) = &manual {
            clock.advance(Duration::MAX);
            clock.advance(Duration::MAX);
        }
        assert_eq!(stop.stop("second"), StopOutcome::Escalated);
        let report = pending.join();
        let Some(Error::Escalated { actors, .. }) = report.error() else {
            panic!("not escalated: {report}");
        };
        // (`worker`, escalated at once too, may have returned from its interrupt first.)
        assert_eq!(
            actors.first().map(String::as_str),
            Some("stubborn"),
            "{report}"
        );
        assert!(
            report
                .actors()
                .iter()
                .all(|actor| matches!(actor.outcome, Outcome::Ok)),
            "{report}"
        );
        assert!(
            report.stages().iter().all(|stage| !stage.expired),
            "{report}"
        );
    }
}

/// Once the final escalation is under way, one more stop request (a third SIGTERM) does not cut
/// its kill grace short: an actor that returns within the kill grace is not reported abandoned.
#[test]
fn s06_third_stop_does_not_cut_the_kill_grace_short() {
    let (mut group, mut events, stop, _clock) = clocked(HOUR);
    let latch = Latch::new();
    let waiter = latch.waiter();
    // Ignores its interrupt; returns when the test releases it.
    group.actor("slow").add(
        move || {
            waiter.wait();
            Ok(())
        },
        |_| {},
    );
    assert_eq!(stop.stop("first"), rungroup::StopOutcome::Triggered);
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("slow"));
    assert_eq!(stop.stop("second"), rungroup::StopOutcome::Escalated);
    events.wait_for(&Ev::escalated("slow"));
    assert_eq!(stop.stop("third"), rungroup::StopOutcome::Escalated);
    // A runner that let the third request end the kill grace would end the stage now and report
    // "slow" abandoned. The wait only gives such a bug time to show; the passing run does not
    // depend on it.
    let ended_early = events.came_within(&Ev::StageEnded(0, false), Duration::from_millis(200));
    latch.release();
    let report = pending.join();
    assert!(!ended_early, "the third stop request ended the kill grace");
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Ok),
        "{report}"
    );
    crate::common::assert_escalated_cleanly(&report);
}

#[test]
fn s05_panicking_force_hook_is_recorded_and_loses_nothing() {
    let (mut group, mut events, stop, clock) = clocked_with_grace(HOUR, Duration::from_secs(5));
    let (tx, rx) = mpsc::channel::<()>();
    // Its force hook does its job, then panics.
    group
        .actor("crashy")
        .force(move || {
            drop(tx);
            panic!("force boom")
        })
        .add(
            move || {
                let _ = rx.recv();
                Ok(())
            },
            |_| {},
        );
    let log = Log::new();
    logged(&mut group, Stage::DEFAULT, "fine", &log);
    stop.stop("test");
    let report = report_advancing(
        group,
        &mut events,
        &Ev::StageBegun(0),
        &clock,
        Duration::from_secs(5),
    );
    let crashy = &report.actors()[0];
    assert!(crashy.escalated);
    // Issue 10, item 15: the payload is kept, and counted as a panic of the run.
    assert!(
        matches!(&crashy.force, HookOutcome::Panicked(payload) if payload.downcast_ref::<&str>().is_some()),
        "{report}"
    );
    assert!(report.panicked());
    assert!(matches!(crashy.outcome, Outcome::Ok));
    assert!(matches!(report.actors()[1].outcome, Outcome::Ok));
    assert!(
        report.to_string().contains("[force hook panicked: "),
        "{report}"
    );
}

#[test]
fn s05_panicking_force_hook_that_does_not_help_ends_in_abandonment() {
    let (mut group, mut events, stop, clock) =
        clocked_with_grace(Duration::from_secs(5), Duration::from_secs(5));
    let log = Log::new();
    logged(&mut group, Stage::DEFAULT, "fine", &log);
    let latch = Latch::new();
    let waiter = latch.waiter();
    group.actor("crashy").force(|| panic!("force boom")).add(
        move || {
            waiter.wait();
            Ok(())
        },
        |_| {},
    );
    stop.stop("test");
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("crashy")); // fine's interrupt has returned
    events.wait_for(&Ev::exited("fine"));
    clock.advance(Duration::from_secs(5)); // the grace
    events.wait_for(&Ev::ForceReturned("crashy".into()));
    clock.advance(Duration::from_secs(5)); // the kill grace
    let report = pending.join();
    let crashy = &report.actors()[1];
    assert!(crashy.escalated && matches!(crashy.force, HookOutcome::Panicked(_)));
    assert!(matches!(crashy.outcome, Outcome::Abandoned));
    let fine = &report.actors()[0];
    assert!(matches!(fine.outcome, Outcome::Ok));
    assert!(matches!(fine.interrupt, HookOutcome::Returned));
    assert!(
        matches!(report.error(), Some(Error::Abandoned { actors, .. }) if actors == &["crashy".to_owned()])
    );
    latch.release();
}

#[test]
fn s05_blocking_force_hook_does_not_hold_back_another() {
    let (mut group, mut events, stop, clock) = clocked_with_grace(HOUR, Duration::from_secs(5));
    let latch = Latch::new();
    force_blocks(&mut group, Stage::DEFAULT, "hung-force", &latch);
    let forced = Counter::new();
    needs_force(&mut group, Stage::DEFAULT, "needs-force", &forced);
    stop.stop("test");
    let pending = spawn_report(group);
    events.wait_for(&Ev::StageBegun(0));
    clock.advance(Duration::from_secs(5));
    // The second force hook runs, and its actor exits, while the first hook is still blocked.
    events.wait_for(&Ev::exited("needs-force"));
    assert_eq!(forced.get(), 1);
    latch.release();
    let report = pending.join();
    crate::common::assert_escalated_cleanly(&report);
    for actor in report.actors() {
        assert!(actor.escalated, "{}", actor.name);
        assert!(
            matches!(actor.force, HookOutcome::Returned),
            "{}",
            actor.name
        );
        assert!(matches!(actor.outcome, Outcome::Ok), "{}", actor.name);
    }
}

// ---- S06 -------------------------------------------------------------------------------------

/// Without grace or budget (interrupts inline, on the caller's thread, so no hook is in flight
/// when the clock moves), a second stop escalates and the kill grace on `clock` runs out: one
/// stubborn actor is abandoned; the first exit's error and the fine actor's outcome stay intact.
fn abandoning<T: Send + 'static>(
    run: impl FnOnce(Group) -> T + Send + 'static,
) -> (T, Latch, crate::common::Events) {
    let latch = Latch::new();
    let (mut group, mut events, stop, clock) = clocked(Duration::from_secs(10));
    stubborn(&mut group, Stage::DEFAULT, "stubborn", &latch);
    group.actor("fine").add_token(|token| {
        token.wait();
        Ok(())
    });
    group.actor("first").add(|| Err("first".into()), |_| {});
    let pending = crate::common::bounded(move || run(group));
    // The last interrupt has returned and been recorded: the kill grace cannot find the lane
    // inside it.
    events.wait_for(&Ev::Interrupted("first".into()));
    events.wait_for(&Ev::exited("fine"));
    assert_eq!(stop.stop("impatient"), StopOutcome::Escalated);
    events.wait_for(&Ev::escalated("stubborn")); // the kill grace is running
    clock.advance(Duration::from_secs(10));
    (pending.join(), latch, events)
}

#[test]
fn s06_ignoring_execute_is_abandoned_and_reported_by_name() {
    let (report, latch, mut events): (Report<BoxError>, _, _) =
        abandoning(|group| group.run_with_report());
    assert_eq!(report.abandoned().collect::<Vec<_>>(), ["stubborn"]);
    let stubborn = &report.actors()[0];
    assert!(stubborn.escalated && stubborn.exited_at.is_none());
    assert!(matches!(report.actors()[1].outcome, Outcome::Ok));
    assert!(matches!(&report.actors()[2].outcome, Outcome::Err(e) if e.to_string() == "first"));
    let error = report.error().expect("abandonment is never success");
    let text = error.to_string();
    assert!(
        text.contains("abandoned") && text.contains("stubborn"),
        "{text}"
    );
    assert!(
        text.contains("actor 'first' exited first (error)"),
        "{text}"
    );
    assert!(report.to_string().contains("abandoned"));
    assert!(events.all().contains(&Ev::Abandoned("stubborn".into())));
    latch.release();
}

#[test]
fn s06_plain_run_returns_an_abandoned_error() {
    let (result, latch, _) = abandoning(|group| group.run());
    let error = result.expect_err("never reported as success");
    match error.downcast_ref::<Error>() {
        Some(Error::Abandoned { actors, .. }) => assert_eq!(actors, &["stubborn".to_owned()]),
        other => panic!("not an abandonment: {other:?}"),
    }
    latch.release();
}

#[test]
fn s06_real_clock_abandons_an_execute_that_ignores_its_interrupt() {
    let latch = Latch::new();
    let mut group = real_clock_budget();
    stubborn(&mut group, Stage::DEFAULT, "stubborn", &latch);
    group.actor("first").add(|| Err("first".into()), |_| {});
    let result = bounded_on_the_real_clock(|| run_catching(group).expect("no panic"));
    let error = result.expect_err("abandonment is an error");
    assert!(error.to_string().contains("stubborn"), "{error}");
    latch.release();
}

// ---- S07 -------------------------------------------------------------------------------------

#[test]
fn s07_on_error_ok_exit_does_not_trigger_teardown() {
    let mut group = Group::new();
    let mut events = events(&mut group);
    group
        .actor("migrations")
        .policy(Policy::OnError)
        .add(|| Ok(()), |_| {});
    group.actor("server").add_token(|token| {
        token.wait();
        Ok(())
    });
    group.actor("job").add(
        move || {
            events.wait_for(&Ev::exited("migrations"));
            Err("job failed".into())
        },
        |_| {},
    );
    let report = report_of(group);
    assert_eq!(report.first_exit().unwrap().name, "job");
    let migrations = &report.actors()[0];
    assert!(!migrations.first && matches!(migrations.outcome, Outcome::Ok));
    assert_eq!(migrations.policy, Policy::OnError);
    assert_eq!(report.actors()[1].policy, Policy::Critical);
}

#[test]
fn s07_on_error_err_or_panic_triggers_teardown() {
    for panics in [false, true] {
        let mut group = Group::new();
        group.actor("server").add_token(|token| {
            token.wait();
            Ok(())
        });
        group.actor("sidecar").policy(Policy::OnError).add(
            move || {
                if panics {
                    panic!("sidecar boom");
                }
                Err("sidecar failed".into())
            },
            |_| {},
        );
        let report = report_of(group);
        assert_eq!(report.trigger(), &Trigger::Exit { actor: 1 });
        assert_eq!(report.first_exit().unwrap().policy, Policy::OnError);
    }
}

#[test]
fn s07_all_on_error_and_ok_ends_when_the_last_exits() {
    let mut group = Group::new();
    let mut events = events(&mut group);
    let log = Log::new();
    let calls = Counter::new();
    let (hit_a, hit_b) = (calls.clone(), calls.clone());
    let causes = Log::new();
    let (cause_a, cause_b) = (causes.clone(), causes.clone());
    group.actor("a").policy(Policy::OnError).add(
        || Ok(()),
        move |cause: &Cause<BoxError>| {
            hit_a.hit();
            cause_a.push(cause.to_string());
        },
    );
    let log_b = log.clone();
    group.actor("b").policy(Policy::OnError).add(
        move || {
            events.wait_for(&Ev::exited("a"));
            log_b.push("b still running after a exited");
            Ok(())
        },
        move |cause: &Cause<BoxError>| {
            hit_b.hit();
            cause_b.push(cause.to_string());
        },
    );
    let report = report_of(group);
    assert_eq!(report.trigger(), &Trigger::AllExited);
    assert_eq!(log.entries(), ["b still running after a exited"]);
    assert!(
        report
            .actors()
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Ok) && !a.first)
    );
    assert_eq!(calls.get(), 2, "every interrupt is still called once");
    assert_eq!(
        causes.entries(),
        ["every actor exited", "every actor exited"]
    );
    assert!(report.into_result().is_ok());
}

#[test]
fn s07_report_says_each_actor_policy() {
    let report = crate::common::sidecar_and_failing_job("done");
    let policies: Vec<Policy> = report.actors().iter().map(|a| a.policy).collect();
    assert_eq!(policies, [Policy::OnError, Policy::Critical]);
    let text = report.to_string();
    assert!(
        text.contains("on-error") && text.contains("critical"),
        "{text}"
    );
}

// ---- S08 -------------------------------------------------------------------------------------

#[test]
fn s08_manual_budget_bounds_run_whatever_the_actors_do() {
    let latch = Latch::new();
    let (mut group, mut events, stop, clock) = clocked(Duration::from_secs(10));
    group.budget(Duration::from_secs(10));
    let later = group.stage("later").id();
    let w1 = latch.waiter();
    group
        .actor("blocking-interrupt")
        .add(|| Ok(()), move |_| w1.wait());
    stubborn(&mut group, Stage::DEFAULT, "deaf", &latch);
    let log = Log::new();
    logged(&mut group, later, "fine", &log);
    let forcing = force_blocks(&mut group, later, "blocking-force", &latch);
    stop.stop("test");
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("blocking-interrupt"));
    events.wait_for(&Ev::exited("blocking-interrupt"));
    clock.advance(Duration::from_secs(10)); // the budget
    // Stage 0 is escalated: a fresh lane calls deaf's interrupt, queued behind the blocked one.
    events.wait_for(&Ev::interrupting("deaf"));
    events.wait_for(&Ev::escalated("deaf"));
    // Stage order holds in the escalation (issue 10, item 11): stage 1 waits for stage 0's kill
    // grace. The wait only gives a bug time to show.
    let too_early = events.came_within(&Ev::StageBegun(1), Duration::from_millis(200));
    assert!(!too_early, "stage 1 began during stage 0's kill grace");
    clock.advance(Duration::from_secs(10)); // stage 0's kill grace
    // Stage 1, escalated at once: fine's interrupt, then blocking-force's, then its force hook.
    events.wait_for(&Ev::Interrupted("blocking-force".into()));
    events.wait_for(&Ev::exited("fine"));
    events.wait_for(&Ev::escalated("blocking-force"));
    forcing.waiter().wait(); // its force hook is being called: blocked, not merely queued
    clock.advance(Duration::from_secs(10)); // stage 1's kill grace
    let report = pending.join();
    // Budget plus one kill grace per stage escalated, exactly, whatever the actors do.
    assert_eq!(report.teardown(), Some(Duration::from_secs(30)));
    assert_eq!(
        report.abandoned().collect::<Vec<_>>(),
        ["deaf", "blocking-force"]
    );
    assert!(matches!(report.actors()[0].interrupt, HookOutcome::Blocked));
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    assert!(matches!(report.actors()[3].force, HookOutcome::Blocked));
    let fine = &report.actors()[2];
    assert!(matches!(fine.outcome, Outcome::Ok));
    assert!(matches!(fine.interrupt, HookOutcome::Returned));
    assert!(report.stages().iter().all(|stage| stage.expired));
    assert!(report.error().is_some());
    latch.release();
}

#[test]
fn s08_real_clock_budget_bounds_run_whatever_the_actors_do() {
    let latch = Latch::new();
    let mut group = real_clock_budget();
    let later = group.stage("later").grace(HOUR).id();
    let w1 = latch.waiter();
    let (tx, rx) = mpsc::channel::<()>();
    group.actor("blocking-interrupt").add(
        move || {
            let _ = rx.recv();
            Ok(())
        },
        move |_| {
            drop(tx);
            w1.wait();
        },
    );
    stubborn(&mut group, Stage::DEFAULT, "deaf", &latch);
    let _forcing = force_blocks(&mut group, later, "blocking-force", &latch);
    group
        .actor("panicking-force")
        .stage(later)
        .force(|| panic!("force boom"))
        .add_token(|token| {
            token.wait();
            Ok(())
        });
    group.actor("first").add(|| Err("first".into()), |_| {});
    let report = bounded_on_the_real_clock(|| report_of(group));
    assert_eq!(report.actors().len(), 5);
    let abandoned: Vec<&str> = report.abandoned().collect();
    assert!(abandoned.contains(&"deaf") && abandoned.contains(&"blocking-force"));
    // The blocked interrupt still holds the cause: the report says the error was retained.
    assert!(matches!(report.actors()[4].outcome, Outcome::Retained));
    assert!(report.actors()[4].first);
    assert!(matches!(report.actors()[0].interrupt, HookOutcome::Blocked));
    let text = report.to_string();
    assert!(text.contains("[interrupt did not return]"), "{text}");
    assert!(report.error().is_some());
    latch.release();
}

#[test]
fn s08_zero_budget_escalates_every_stage_at_once() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    let stop = group.stop_handle();
    group
        .clock(clock.clone())
        .budget(Duration::ZERO)
        .kill_grace(HOUR);
    let later = group.stage("later").id();
    let forced = Counter::new();
    needs_force(&mut group, later, "late", &forced);
    needs_force(&mut group, Stage::DEFAULT, "early", &forced);
    stop.stop("now");
    let report = report_of(group);
    assert_eq!(clock.now(), Duration::ZERO, "no time had to pass");
    assert_eq!(forced.get(), 2);
    assert_every_stage_forced_cleanly(&report);
}
