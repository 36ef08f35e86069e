//! Rule O01: the report of a run, its `Display` for logs and its `Debug`.

use std::sync::mpsc;
use std::time::Duration;

use rungroup::{Group, InterruptOutcome, Outcome, Policy, Stage, Trigger};

use crate::common::{Ev, Latch, clocked, report_of, spawn_report};

#[test]
fn o01_display_names_cause_actors_stages_policies_and_outcomes() {
    let mut group = Group::new();
    let drain = group.add_stage("drain");
    group.actor("listener").add_token(|token| {
        token.wait();
        Ok(())
    });
    group
        .actor("migrations")
        .policy(Policy::OnError)
        .add(|| Ok(()), |_| {});
    group.actor("worker").stage(drain).add_token(|token| {
        token.wait();
        panic!("worker boom")
    });
    group
        .actor("flusher")
        .stage(drain)
        .add(|| Err("disk full".into()), |_| panic!("interrupt boom"));
    let report = report_of(group);
    let text = report.to_string();
    for needle in [
        "run ended: actor 'flusher' exited first (error)",
        "teardown took",
        "stage 0 'default'",
        "stage 1 'drain'",
        "listener",
        "migrations",
        "on-error",
        "critical",
        "worker",
        "panicked (worker boom)",
        "[first exit]",
        "[interrupt panicked: interrupt boom]",
        " at ",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    // Actors are listed under their stage.
    assert!(text.find("listener").unwrap() < text.find("stage 1 'drain'").unwrap());
    assert!(text.find("worker").unwrap() > text.find("stage 1 'drain'").unwrap());
}

#[test]
fn o01_report_fields_say_how_and_when_each_actor_ended() {
    // Manual clock, no grace or budget: interrupts run inline, and a second stop escalates.
    let (mut group, mut events, stop, clock) = clocked(Duration::from_secs(5));
    let drain = group.add_stage("drain");
    let latch = Latch::new();
    let waiter = latch.waiter();
    let (tx, rx) = mpsc::channel::<()>();
    group.actor("first").add(
        move || {
            let _ = rx.recv(); // exits at t = 1 s
            Err("first".into())
        },
        |_| {},
    );
    group.actor("stuck").stage(drain).add(
        move || {
            waiter.wait();
            Ok(())
        },
        |_| {},
    );
    let pending = spawn_report(group);
    clock.advance(Duration::from_secs(1));
    drop(tx);
    events.wait_for(&Ev::interrupting("stuck"));
    stop.stop("impatient");
    events.wait_for(&Ev::escalated("stuck"));
    clock.advance(Duration::from_secs(5));
    let report = pending.join();

    assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
    assert_eq!(report.triggered_at(), Some(Duration::from_secs(1)));
    assert_eq!(report.teardown(), Some(Duration::from_secs(5)));
    let first = &report.actors()[0];
    assert_eq!(
        (first.name.as_str(), first.stage, first.policy),
        ("first", 0, Policy::Critical)
    );
    assert!(matches!(&first.outcome, Outcome::Err(e) if e.to_string() == "first"));
    assert_eq!(first.exited_at, Some(Duration::from_secs(1)));
    assert!(first.first && !first.escalated);
    assert!(matches!(first.interrupt, InterruptOutcome::Returned));
    let stuck = &report.actors()[1];
    assert_eq!((stuck.name.as_str(), stuck.stage), ("stuck", 1));
    assert!(matches!(stuck.outcome, Outcome::Abandoned));
    assert_eq!(stuck.exited_at, None);
    assert!(stuck.escalated);
    let stages = report.stages();
    assert_eq!(
        (
            stages[0].name.as_str(),
            stages[0].elapsed,
            stages[0].expired
        ),
        ("default", Some(Duration::ZERO), false)
    );
    assert_eq!(
        (
            stages[1].name.as_str(),
            stages[1].elapsed,
            stages[1].expired
        ),
        ("drain", Some(Duration::from_secs(5)), true)
    );
    let text = report.to_string();
    assert!(
        text.contains("abandoned") && text.contains("(deadline expired)"),
        "{text}"
    );
    assert!(text.contains("error: teardown abandoned"), "{text}");
    latch.release();
}

#[test]
fn o01_report_names_a_stop_request_and_unreached_stages() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    group.add_token(|token| {
        token.wait();
        Ok(())
    });
    stop.stop("deploy");
    let report = report_of(group);
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: "deploy".into()
        }
    );
    assert!(report.first_exit().is_none());
    assert_eq!(report.actors()[0].name, "actor-0");
    let text = report.to_string();
    assert!(
        text.starts_with("run ended: stop requested: deploy"),
        "{text}"
    );

    let mut group = Group::new();
    group.add(|| Ok(()), |_| {});
    let _never = group.add_stage("never");
    assert!(report_of(group).to_string().contains("stage 1 'never': "));
}

#[test]
fn o01_debug_shows_the_whole_report() {
    let mut group = Group::new();
    group
        .actor("sidecar")
        .stage(Stage::DEFAULT)
        .add_token(|token| {
            token.wait();
            Ok(())
        });
    group.actor("job").add(|| Err("job failed".into()), |_| {});
    let report = report_of(group);
    let debug = format!("{report:?}");
    for needle in [
        "Report",
        "trigger",
        "Exit",
        "sidecar",
        "job",
        "job failed",
        "stages",
    ] {
        assert!(debug.contains(needle), "{needle:?} missing from {debug}");
    }
    let pretty = format!("{report:#?}");
    assert!(pretty.lines().count() > 10);
}
