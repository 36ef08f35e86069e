//! Section B of the contract: failure semantics where Go crashes or hangs (rules F01–F03, F05).

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use rungroup::{BoxError, Cause, Error, Group, HookOutcome, Outcome, Report, Stage, Trigger};

use crate::common::{
    Counter, Drops, Log, on_lanes, payload_text, report_of, run_catching, until_interrupted,
};

/// Adds `n` well-behaved actors named `<prefix><i>`: each counts its interrupt and marks its
/// execute's return. Returns (interrupts called, executes returned).
fn well_behaved(group: &mut Group, prefix: &str, n: usize) -> (Counter, Counter) {
    let interrupts = Counter::new();
    let returned = Counter::new();
    for index in 0..n {
        let (interrupts, returned) = (interrupts.clone(), returned.clone());
        let (tx, rx) = mpsc::channel::<()>();
        group.actor(format!("{prefix}{index}")).add(
            move || {
                let _ = rx.recv();
                returned.hit();
                Ok(())
            },
            move |_| {
                interrupts.hit();
                drop(tx);
            },
        );
    }
    (interrupts, returned)
}

// ---- F01 -------------------------------------------------------------------------------------

#[test]
fn f01_panicking_first_execute_is_resumed_after_full_teardown() {
    let mut group = Group::new();
    let (interrupts, returned) = well_behaved(&mut group, "ok", 2);
    let bad_interrupted = Counter::new();
    let hit = bad_interrupted.clone();
    group
        .actor("bad")
        .add(|| panic!("boom"), move |_| hit.hit());
    let payload = run_catching(group).expect_err("run resumes the panic");
    assert_eq!(payload_text(&payload), "boom");
    // Teardown ran in full before the panic was resumed.
    assert_eq!(interrupts.get(), 2);
    assert_eq!(returned.get(), 2);
    assert_eq!(bad_interrupted.get(), 1);
}

#[test]
fn f01_panicking_execute_that_is_not_first_is_resumed() {
    let mut group = Group::new();
    group.actor("late-panic").add_token(|token| {
        token.wait();
        panic!("late boom")
    });
    let (_, returned) = well_behaved(&mut group, "ok", 1);
    group.actor("first").add(|| Err("first".into()), |_| {});
    let payload = run_catching(group).expect_err("run resumes the panic");
    assert_eq!(payload_text(&payload), "late boom");
    assert_eq!(returned.get(), 1);
}

#[test]
fn f01_non_string_payload_is_resumed_unchanged() {
    let mut group = Group::new();
    group.add(|| panic::panic_any(42_u32), |_| {});
    let payload = run_catching(group).expect_err("run resumes the panic");
    assert_eq!(payload.downcast_ref::<u32>(), Some(&42));
}

#[test]
fn f01_report_keeps_payload_and_actor_name() {
    let mut group = Group::new();
    let causes = Log::new();
    let seen = causes.clone();
    group.actor("server").add_token(|token| {
        token.wait();
        Ok(())
    });
    group.actor("bad").add(
        || panic!("boom"),
        move |cause: &Cause<BoxError>| seen.push(cause.to_string()),
    );
    group.actor("late-panic").add_token(|token| {
        token.wait();
        panic::panic_any(7_i64)
    });
    let report = report_of(group);
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 1 });
    let bad = report.first_exit().unwrap();
    assert_eq!(bad.name, "bad");
    match &bad.outcome {
        Outcome::Panicked(payload) => assert_eq!(payload_text(payload), "boom"),
        other => panic!("bad ended {other:?}"),
    }
    match &report.actors()[2].outcome {
        Outcome::Panicked(payload) => assert_eq!(payload.downcast_ref::<i64>(), Some(&7)),
        other => panic!("late-panic ended {other:?}"),
    }
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    assert!(report.panicked());
    assert!(report.error().is_none(), "a panic is not a run error");
    assert_eq!(causes.entries(), ["actor 'bad' panicked: boom"]);
    let text = report.to_string();
    assert!(text.contains("bad") && text.contains("boom"), "{text}");
}

// ---- F02 -------------------------------------------------------------------------------------

/// Adds an actor named `name` that runs until its interrupt, which pushes `name` to `log`.
fn logs_its_interrupt(group: &mut Group, name: &str, log: &Log) {
    let (log, entry) = (log.clone(), name.to_owned());
    let (execute, interrupt) = until_interrupted(move |_| log.push(entry));
    group.actor(name).add(execute, interrupt);
}

fn panicking_interrupt(deadlines: bool) {
    let mut group = Group::new();
    if deadlines {
        on_lanes(&mut group);
    }
    let log = Log::new();
    logs_its_interrupt(&mut group, "before", &log);
    let (tx2, rx2) = mpsc::channel::<()>();
    group.actor("panicky").add(
        move || {
            let _ = rx2.recv();
            Ok(())
        },
        move |_| {
            drop(tx2);
            panic!("interrupt boom")
        },
    );
    logs_its_interrupt(&mut group, "after", &log);
    group.actor("first").add(|| Err("first".into()), |_| {});
    let report = report_of(group);
    assert_eq!(log.entries(), ["before", "after"], "the rest still ran");
    let interrupts: Vec<&str> = report
        .actors()
        .iter()
        .map(|actor| match &actor.interrupt {
            HookOutcome::Returned => "returned",
            HookOutcome::Panicked(payload) => {
                assert_eq!(payload_text(payload), "interrupt boom");
                "panicked"
            }
            other => panic!("{} interrupt {other:?}", actor.name),
        })
        .collect();
    assert_eq!(interrupts, ["returned", "panicked", "returned", "returned"]);
    // Every execute was waited for and kept its outcome.
    assert!(
        report
            .actors()
            .iter()
            .all(|actor| actor.exited_at.is_some())
    );
    assert!(report.error().is_none());
    assert!(report.panicked());
    // The plain `run` surfaces it after teardown, like F01.
    let payload = panic::catch_unwind(AssertUnwindSafe(|| report.into_result()))
        .expect_err("into_result resumes the interrupt's panic");
    assert_eq!(payload_text(&payload), "interrupt boom");
}

#[test]
fn f02_panicking_interrupt_does_not_skip_the_rest() {
    panicking_interrupt(false);
}

#[test]
fn f02_panicking_interrupt_does_not_skip_the_rest_on_lanes() {
    panicking_interrupt(true);
}

#[test]
fn f02_run_resumes_a_panicking_interrupt_after_teardown() {
    let mut group = Group::new();
    let (interrupts, returned) = well_behaved(&mut group, "ok", 2);
    group
        .actor("first")
        .add(|| Ok(()), |_| panic!("interrupt boom"));
    let (later_interrupts, later_returned) = well_behaved(&mut group, "later", 2);
    let payload = run_catching(group).expect_err("run resumes the interrupt's panic");
    assert_eq!(payload_text(&payload), "interrupt boom");
    assert_eq!(interrupts.get() + later_interrupts.get(), 4);
    assert_eq!(returned.get() + later_returned.get(), 4);
}

// ---- F03 -------------------------------------------------------------------------------------

/// Five actors; the `k`-th cannot get a thread (a stack no machine can map). Returns the group
/// and: interrupts called and executes returned among the started ones, and drops of the
/// closures of actors `k..`.
fn spawn_fails_at(k: usize) -> (Group, Counter, Counter, Drops) {
    const N: usize = 5;
    let mut group = Group::new();
    let (interrupts, returned) = well_behaved(&mut group, "started", k);
    let unstarted = Drops::new();
    for index in k..N {
        let (x, i, f) = (unstarted.guard(), unstarted.guard(), unstarted.guard());
        let mut actor = group.actor(format!("a{index}")).force(move || drop(f));
        if index == k {
            actor = actor.stack_size(1 << 60);
        }
        actor.add(
            move || {
                drop(x);
                Ok(())
            },
            move |_| drop(i),
        );
    }
    (group, interrupts, returned, unstarted)
}

#[test]
fn f03_spawn_failure_tears_down_the_started_actors_and_names_the_actor() {
    let k = 2;
    let (group, interrupts, returned, unstarted) = spawn_fails_at(k);
    let error = run_catching(group)
        .expect("no panic")
        .expect_err("a spawn failure is an error");
    let text = error.to_string();
    assert!(text.contains(&format!("'a{k}'")), "{text}");
    match error.downcast_ref::<Error>() {
        Some(Error::Spawn { actor, .. }) => assert_eq!(actor, &format!("a{k}")),
        other => panic!("not a spawn error: {other:?}"),
    }
    assert_eq!(interrupts.get(), k, "every started actor was interrupted");
    assert_eq!(returned.get(), k, "every started execute returned");
    assert_eq!(
        unstarted.count(),
        3 * 3,
        "the unstarted actors' closures were dropped"
    );
}

#[test]
fn f03_spawn_failure_report_marks_the_rest_not_started() {
    let k = 2;
    let (group, _, _, _) = spawn_fails_at(k);
    let report: Report<BoxError> = report_of(group);
    assert_eq!(report.trigger(), &Trigger::SpawnFailed { actor: k });
    assert!(matches!(report.error(), Some(Error::Spawn { actor, .. }) if actor == "a2"));
    for (index, actor) in report.actors().iter().enumerate() {
        if index < k {
            assert!(matches!(actor.outcome, Outcome::Ok), "{}", actor.name);
            assert!(matches!(actor.interrupt, HookOutcome::Returned));
        } else {
            assert!(
                matches!(actor.outcome, Outcome::NotStarted),
                "{}",
                actor.name
            );
            assert!(matches!(actor.interrupt, HookOutcome::NotCalled));
            assert!(actor.exited_at.is_none());
        }
    }
}

#[test]
fn f03_spawn_failure_of_the_first_actor_starts_nothing() {
    let (group, _, _, unstarted) = spawn_fails_at(0);
    let error = run_catching(group).unwrap().unwrap_err();
    assert!(
        matches!(error.downcast_ref::<Error>(), Some(Error::Spawn { actor, .. }) if actor == "a0")
    );
    assert_eq!(unstarted.count(), 5 * 3);
}

#[test]
fn f03_spawn_failure_with_deadlines_still_joins_the_started() {
    let k = 3;
    let (mut group, interrupts, returned, unstarted) = spawn_fails_at(k);
    on_lanes(&mut group);
    let error = run_catching(group).unwrap().unwrap_err();
    assert!(error.to_string().contains("'a3'"));
    assert_eq!(interrupts.get(), k);
    assert_eq!(returned.get(), k);
    assert_eq!(unstarted.count(), 2 * 3);
}

// ---- F05 -------------------------------------------------------------------------------------

fn panic_text(f: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("misuse must panic");
    payload_text(&payload)
}

/// The panic text of adding an actor named "misplaced" to `group` in `stage`.
fn misplaced_actor_panic(group: &mut Group, stage: Stage) -> String {
    panic_text(|| {
        group.actor("misplaced").stage(stage).add(|| Ok(()), |_| {});
    })
}

#[test]
fn f05_stage_from_another_group_panics_naming_the_actor() {
    let mut other = Group::new();
    let _first = other.stage("one").id();
    let foreign = other.stage("two").id();
    let mut group = Group::new();
    let text = misplaced_actor_panic(&mut group, foreign);
    assert!(text.contains("misplaced"), "{text}");
    // Nothing was corrupted: the group runs its other actors normally.
    let (interrupts, returned) = well_behaved(&mut group, "ok", 2);
    group.actor("first").add(|| Err("first".into()), |_| {});
    let report = report_of(group);
    assert_eq!(report.actors().len(), 3);
    assert_eq!(interrupts.get(), 2);
    assert_eq!(returned.get(), 2);
    assert_eq!(report.into_result().unwrap_err().to_string(), "first");
}

#[test]
fn f05_stage_from_another_group_with_an_index_in_range_panics() {
    let mut other = Group::new();
    let foreign = other.stage("drain").id();
    let mut group = Group::new();
    let _own = group.stage("drain").id();
    // Same position as one of this group's stages: still another group's stage.
    let text = misplaced_actor_panic(&mut group, foreign);
    assert!(text.contains("misplaced"), "{text}");
    let text = panic_text(|| {
        group.grace(foreign, Duration::from_secs(1));
    });
    assert!(text.contains("another group"), "{text}");
}

#[test]
fn f05_panicking_observer_does_not_corrupt_any_outcome() {
    let mut group = Group::new();
    group.observe(|_| panic!("observer boom"));
    let (interrupts, returned) = well_behaved(&mut group, "ok", 2);
    group.actor("first").add(|| Err("first".into()), |_| {});
    let report = report_of(group);
    assert_eq!(interrupts.get(), 2);
    assert_eq!(returned.get(), 2);
    assert!(!report.panicked());
    assert!(report.error().is_none());
    assert_eq!(report.into_result().unwrap_err().to_string(), "first");
}

// ---- F04 -------------------------------------------------------------------------------------

/// An actor that ignores its interrupt and returns only when `latch` is released.
fn stubborn(group: &mut Group, latch: &crate::common::Latch) {
    let waiter = latch.waiter();
    group.actor("stubborn").add(
        move || {
            waiter.wait();
            Ok(())
        },
        |_| {},
    );
}

/// Without any grace or budget, `run` waits for an execute that ignores its interrupt, exactly as
/// Go's oklog/run does: it returns only once that execute returns, with nothing lost.
#[test]
fn f04_without_a_deadline_run_waits_for_an_actor_that_ignores_its_interrupt() {
    let mut group = Group::new();
    let mut events = crate::common::events(&mut group);
    let latch = crate::common::Latch::new();
    stubborn(&mut group, &latch);
    group.actor("quitter").add(|| Ok(()), |_| {});
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(group.run_with_report());
    });
    events.wait_for(&crate::common::Ev::interrupting("stubborn"));
    // The window only gives a run that wrongly walks away the chance to show it; the passing run
    // does not depend on it.
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "run returned while an execute was still running"
    );
    latch.release();
    let report = rx.recv_timeout(crate::common::FUSE).expect("run returned");
    assert!(report.error().is_none(), "{report}");
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 1 });
}

/// With a budget the same actor cannot hang `run`: it is escalated, abandoned and reported.
#[test]
fn f04_with_a_budget_the_same_actor_cannot_hang_run() {
    let (mut group, mut events, _stop, clock) = crate::common::clocked(Duration::ZERO);
    group.budget(Duration::from_secs(10));
    let latch = crate::common::Latch::new();
    stubborn(&mut group, &latch);
    group.actor("quitter").add(|| Ok(()), |_| {});
    let report = crate::common::report_advancing(
        group,
        &mut events,
        &crate::common::Ev::interrupting("stubborn"),
        &clock,
        Duration::from_secs(10),
    );
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Abandoned),
        "{report}"
    );
    // The quitter's execute returned `Ok`: even if a lane still held the cause, an `Ok` first
    // exit has no value to keep, so it is never reported `Retained`.
    assert!(
        matches!(report.actors()[1].outcome, Outcome::Ok),
        "{report}"
    );
    assert!(
        matches!(report.error(), Some(Error::Abandoned { actors, .. }) if actors == &["stubborn".to_owned()])
    );
    latch.release();
}

/// F03: the spawn error carries the operating system's error as its `source`, and converts to an
/// `io::Error` for groups of `io::Result` actors.
#[test]
fn f03_spawn_error_source_is_the_operating_system_error() {
    let mut group: Group = Group::new();
    // The group-wide stack size applies to every actor: no machine maps this one.
    group.stack_size(1 << 60);
    group.actor("a").add(|| Ok(()), |_| {});
    let report = report_of(group);
    let Some(error @ Error::Spawn { actor, .. }) = report.error() else {
        panic!("not a spawn error: {:?}", report.error());
    };
    assert_eq!(actor, "a");
    let source = std::error::Error::source(error).expect("the OS error");
    assert!(
        source.downcast_ref::<std::io::Error>().is_some(),
        "{source}"
    );
    let report = report_of({
        let mut group = Group::<std::io::Error>::default();
        group.stack_size(1 << 60);
        group.actor("b").add(|| Ok(()), |_| {});
        group
    });
    let io_error = report.into_result().expect_err("a spawn error");
    assert_eq!(io_error.kind(), std::io::ErrorKind::Other);
    assert!(io_error.to_string().contains("'b'"), "{io_error}");
}

/// F03 (issue 13): an error chain prints the operating system's error once. `Error::Spawn` (and
/// `Error::Helper`) keep it as their `source()` and leave it out of their own `Display`; the
/// conversions a caller's `E` goes through (`io::Error`, a boxed error) keep it that way.
#[test]
fn f03_i13_spawn_error_chain_prints_the_source_once() {
    /// Every level of the chain, `Display` of each.
    fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut levels = Vec::new();
        let mut next = Some(error);
        while let Some(level) = next {
            levels.push(level.to_string());
            next = level.source();
        }
        levels
    }
    let os = "Resource temporarily unavailable (os error 11)";
    let errors = || {
        [
            Error::Spawn {
                actor: "db".to_owned(),
                source: std::io::Error::other(os),
            },
            Error::Helper {
                thread: "hook",
                skipped: vec!["db".to_owned()],
                source: std::io::Error::other(os),
            },
        ]
    };
    for error in errors() {
        let levels = chain(&error);
        assert_eq!(levels.len(), 2, "{levels:?}");
        assert_eq!(levels[1], os);
        assert!(!levels[0].contains(os), "{levels:?}");
    }
    for error in errors() {
        let converted = std::io::Error::from(error);
        let levels = chain(&converted);
        assert_eq!(levels.concat().matches(os).count(), 1, "{levels:?}");
    }
    for error in errors() {
        let boxed: BoxError = error.into();
        let levels = chain(boxed.as_ref());
        assert_eq!(levels.concat().matches(os).count(), 1, "{levels:?}");
        assert!(levels[0].contains("db"), "{levels:?}");
    }
    // A real spawn failure: the actor named once at the top, the OS error once below it.
    let mut group: Group = Group::new();
    group
        .actor("huge")
        .stack_size(1 << 60)
        .add(|| Ok(()), |_| {});
    let error = group.run().expect_err("no machine maps this stack");
    let levels = chain(error.as_ref());
    let source = levels.last().expect("the OS error").clone();
    assert_eq!(levels.len(), 2, "{levels:?}");
    assert_eq!(
        levels.concat().matches(source.as_str()).count(),
        1,
        "{levels:?}"
    );
    assert_eq!(levels[0], "could not start actor 'huge'");
}

/// F03: the started actors' interrupts see the spawn failure as the cause, naming the actor.
#[test]
fn f03_interrupts_see_the_spawn_failure_as_the_cause() {
    let mut group: Group = Group::new();
    let (tx, rx) = mpsc::channel();
    let (execute, interrupt) = crate::common::until_interrupted(move |cause: &Cause<BoxError>| {
        let _ = tx.send((cause.actor().map(str::to_owned), cause.to_string()));
    });
    group.actor("started").add(execute, interrupt);
    group
        .actor("huge")
        .stack_size(1 << 60)
        .add(|| Ok(()), |_| {});
    let report = report_of(group);
    assert!(matches!(report.error(), Some(Error::Spawn { actor, .. }) if actor == "huge"));
    let (actor, text) = rx.try_recv().expect("the started actor was interrupted");
    assert_eq!(actor.as_deref(), Some("huge"));
    assert!(text.contains("huge"), "{text}");
}
