//! Rule O01: the report of a run, its `Display` for logs and its `Debug`.

use std::sync::mpsc;
use std::time::Duration;

use rungroup::{
    BoxError, Cause, Error, Escalation, Group, HookOutcome, ManualClock, Outcome, Policy, Stage,
    Trigger,
};

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
    // Once its (empty) interrupt is recorded as returned, the hook lane is idle: the kill grace
    // below cannot find it inside a hook, however the threads are scheduled.
    events.wait_for(&Ev::Interrupted("stuck".into()));
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
    assert!(
        matches!(&first.outcome, Outcome::Err(e) if e.to_string() == "first"),
        "{report}"
    );
    assert_eq!(first.exited_at, Some(Duration::from_secs(1)));
    assert!(first.first && !first.escalated);
    assert!(matches!(first.interrupt, HookOutcome::Returned));
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
        ("drain", Some(Duration::from_secs(5)), false)
    );
    assert_eq!(
        stages[1].escalation,
        Some(Escalation::Request(Trigger::Stop {
            reason: "impatient".into()
        }))
    );
    let text = report.to_string();
    assert!(
        text.contains("abandoned")
            && text
                .contains("(escalated: a second stop request arrived during teardown (impatient))")
            && text.contains("error (first)"),
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

/// O01: the `Debug` of the configuration types says what was configured: a group's actors,
/// stages, graces and deadlines; a builder's settings; a stage's index; a manual clock's time.
#[test]
fn o01_debug_of_group_builder_stage_and_clock_shows_the_configuration() {
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(5));
    assert_eq!(format!("{clock:?}"), "ManualClock { now: 5s }");

    let mut group: Group = Group::new();
    let drain = group.add_stage("drain");
    assert_eq!(format!("{:?}", Stage::DEFAULT), "Stage(0)");
    assert_eq!(format!("{drain:?}"), "Stage(1)");
    group.grace(drain, Duration::from_secs(2));
    group.budget(Duration::from_secs(9));
    group.actor("web").add(|| Ok(()), |_| {});
    let builder = group.actor("db").stage(drain).force(|| {});
    assert_eq!(
        format!("{builder:?}"),
        "ActorBuilder { name: \"db\", stage: Stage(1), policy: Critical, stack_size: None, \
         force: true, .. }"
    );
    builder.add(|| Ok(()), |_| {});
    let text = format!("{group:?}");
    for part in [
        "actors: [\"web\", \"db\"]",
        "(\"drain\", Some(2s))",
        "budget: Some(9s)",
        "kill_grace: ",
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
}

/// O01, S06: the abandonment error names the actors still running and the hooks that did not
/// return, each list only when it has names, and what began the teardown.
#[test]
fn o01_abandoned_error_text_lists_what_was_left_behind() {
    let text = |actors: &[&str], hooks: &[&str]| {
        Error::Abandoned {
            actors: actors.iter().map(|&name| name.to_owned()).collect(),
            hooks: hooks.iter().map(|&name| name.to_owned()).collect(),
            skipped: Vec::new(),
            trigger: "a stop request".to_owned(),
        }
        .to_string()
    };
    assert_eq!(
        text(&["a", "b"], &[]),
        "teardown abandoned actors still running: a, b (teardown began with a stop request)"
    );
    assert_eq!(
        text(&[], &["c"]),
        "teardown abandoned hooks not returned: c (teardown began with a stop request)"
    );
    assert_eq!(
        text(&["a"], &["c", "d"]),
        "teardown abandoned actors still running: a; hooks not returned: c, d \
         (teardown began with a stop request)"
    );
}

/// O01: every outcome has a `Debug` form and a label for logs, and a cause names the actor it
/// came from, a spawn failure's included.
#[test]
fn o01_outcomes_and_causes_describe_themselves() {
    let cases: Vec<(Outcome<BoxError>, &str, &str)> = vec![
        (Outcome::Ok, "Ok", "ok"),
        (Outcome::Err("e".into()), "Err(\"e\")", "error"),
        (
            Outcome::Panicked(Box::new("p")),
            "Panicked(\"p\")",
            "panicked",
        ),
        (Outcome::Abandoned, "Abandoned", "abandoned"),
        (Outcome::NotStarted, "NotStarted", "not started"),
        (Outcome::Retained, "Retained", "retained"),
    ];
    for (outcome, debug, label) in cases {
        assert_eq!(format!("{outcome:?}"), debug);
        assert_eq!(outcome.label(), label);
    }
    let spawn = Cause::<BoxError>::SpawnFailed {
        actor: "db".to_owned(),
    };
    assert_eq!(spawn.actor(), Some("db"));
    assert_eq!(Cause::<BoxError>::AllExited.actor(), None);
}
