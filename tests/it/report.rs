//! Rule O01: the report of a run, its `Display` for logs and its `Debug`.

use std::sync::mpsc;
use std::time::Duration;

use rungroup::{
    BoxError, Cause, Error, Escalation, Event, Group, HookOutcome, ManualClock, Outcome, Policy,
    Stage, Trigger,
};

use crate::common::{Ev, Latch, clocked, report_of, sidecar_and_failing_job, spawn_report};

#[test]
fn o01_display_names_cause_actors_stages_policies_and_outcomes() {
    let mut group = Group::new();
    let drain = group.stage("drain").id();
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
    let drain = group.stage("drain").id();
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
    let _never = group.stage("never").id();
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
    let drain = group.stage("drain").id();
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
    // A cause's actor: the first exit's, none for a stop request.
    let (tx, rx) = std::sync::mpsc::channel();
    let mut group = rungroup::Group::new();
    let stop = group.stop_handle();
    let tx_stop = tx.clone();
    group.actor("db").add(
        move || {
            stop.stop("done");
            Ok(())
        },
        move |cause: &Cause<BoxError>| tx_stop.send(cause.actor().map(str::to_owned)).unwrap(),
    );
    let _ = report_of(group);
    assert_eq!(rx.recv().unwrap(), None);
    let mut group = rungroup::Group::new();
    group.actor("db").add(
        || Ok(()),
        move |cause: &Cause<BoxError>| {
            tx.send(cause.actor().map(str::to_owned)).unwrap();
        },
    );
    let _ = report_of(group);
    assert_eq!(rx.recv().unwrap().as_deref(), Some("db"));
}

/// O01 (issue 13): `Trigger`, `Policy` and `Outcome` print themselves for logs; the report's
/// trigger summary names the actor where `Trigger` alone can only give its index.
#[test]
fn o01_i13_trigger_policy_and_outcome_display() {
    let triggers = [
        (Trigger::Exit { actor: 2 }, "actor #2 exited first"),
        (
            Trigger::Stop {
                reason: "deploy".into(),
            },
            "stop requested: deploy",
        ),
        (Trigger::Signal { signal: 15 }, "SIGTERM"),
        (Trigger::Signal { signal: 99 }, "signal 99"),
        (
            Trigger::SpawnFailed { actor: 0 },
            "could not spawn actor #0",
        ),
        (Trigger::AllExited, "every actor exited"),
        (Trigger::Empty, "no actors"),
        (
            Trigger::HelperFailed,
            "could not spawn a helper thread of the group",
        ),
    ];
    for (trigger, text) in triggers {
        assert_eq!(trigger.to_string(), text);
    }
    assert_eq!(Policy::Critical.to_string(), "critical");
    assert_eq!(format!("{:<10}|", Policy::OnError), "on-error  |");

    let outcomes: Vec<(Outcome<BoxError>, &str)> = vec![
        (Outcome::Ok, "ok"),
        (Outcome::Err("disk full".into()), "error: disk full"),
        (Outcome::Panicked(Box::new("boom")), "panicked: boom"),
        (
            Outcome::Panicked(Box::new(String::from("owned boom"))),
            "panicked: owned boom",
        ),
        (Outcome::Panicked(Box::new(7_u8)), "panicked: Box<dyn Any>"),
        (Outcome::Abandoned, "abandoned"),
        (Outcome::NotStarted, "not started"),
        (Outcome::Retained, "retained"),
    ];
    for (outcome, text) in outcomes {
        assert_eq!(outcome.to_string(), text);
        assert!(text.starts_with(outcome.label()));
    }

    // In a run: the report's own line and the outcome agree.
    let report = sidecar_and_failing_job("job failed");
    assert_eq!(report.trigger().to_string(), "actor #1 exited first");
    assert_eq!(report.trigger_summary(), "actor 'job' exited first (error)");
    let job = &report.actors()[1];
    assert_eq!(job.outcome.to_string(), "error: job failed");
    assert_eq!(report.actors()[0].policy.to_string(), "on-error");
    assert!(
        report.to_string().contains("error (job failed)"),
        "{report}"
    );
}

/// O01, O02 (issue 13): durations print rounded, as milliseconds with one decimal below a second
/// and seconds with three decimals from there, never `Debug`'s nine decimals; one rule for the
/// report and the events.
#[test]
fn o01_i13_durations_print_rounded() {
    let ended = |elapsed: Duration| {
        Event::StageEnded {
            index: 1,
            stage: "drain",
            elapsed,
            expired: false,
        }
        .to_string()
    };
    for (elapsed, text) in [
        (Duration::ZERO, "0.0 ms"),
        (Duration::from_nanos(49_999), "0.0 ms"),
        (Duration::from_nanos(50_000), "0.1 ms"),
        (Duration::from_nanos(12_345_678), "12.3 ms"),
        (Duration::from_nanos(12_350_000), "12.4 ms"),
        (Duration::from_nanos(999_949_999), "999.9 ms"),
        (Duration::from_nanos(999_950_000), "1.000 s"),
        (Duration::from_nanos(1_234_499_999), "1.234 s"),
        (Duration::from_nanos(1_234_500_000), "1.235 s"),
        (Duration::from_secs(90), "90.000 s"),
        (Duration::MAX, "18446744073709551616.000 s"),
    ] {
        assert_eq!(
            ended(elapsed),
            format!("stage 1 'drain' ended after {text}"),
            "{elapsed:?}"
        );
    }
}

/// O01, O02 (issue 13): where an event and the report show the same moment, they show the same
/// value, read from the clock once: a stage's `StageEnded` elapsed is its report's `elapsed`,
/// and both print alike. Manual clock: every time below is exact.
#[test]
fn o02_i13_event_and_report_timestamps_agree() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock.clone());
    let (event_tx, event_rx) = mpsc::channel::<(String, Option<(usize, Duration)>)>();
    let event_tx = std::sync::Mutex::new(event_tx);
    group.observe(move |event| {
        let ended = match *event {
            Event::StageEnded { index, elapsed, .. } => Some((index, elapsed)),
            _ => None,
        };
        let _ = event_tx.lock().unwrap().send((event.to_string(), ended));
    });
    let drain = group.stage("drain").id();
    let (job_tx, job_rx) = mpsc::channel::<()>();
    group.actor("job").add(
        move || {
            let _ = job_rx.recv();
            Err("boom".into())
        },
        |_| {},
    );
    let (worker_tx, worker_rx) = mpsc::channel::<()>();
    group.actor("worker").stage(drain).add_token(move |token| {
        token.wait();
        let _ = worker_rx.recv(); // drains for 1.2344 s of the manual clock
        Ok(())
    });
    let pending = spawn_report(group);
    clock.advance(Duration::from_nanos(12_345_678));
    drop(job_tx);
    let mut lines = Vec::new();
    let mut ended = Vec::new();
    // Stage `drain` has begun once the worker's interrupt has returned.
    loop {
        let (line, stage) = event_rx.recv_timeout(crate::common::FUSE).expect("events");
        ended.extend(stage);
        lines.push(line);
        if lines.last().unwrap() == "interrupt of 'worker' returned" {
            break;
        }
    }
    clock.advance(Duration::from_nanos(1_234_400_000));
    drop(worker_tx);
    let report = pending.join();
    for (line, stage) in event_rx.try_iter() {
        ended.extend(stage);
        lines.push(line);
    }

    let stages: Vec<(usize, Duration)> = report
        .stages()
        .iter()
        .enumerate()
        .map(|(index, stage)| (index, stage.elapsed.expect("reached")))
        .collect();
    assert_eq!(ended, stages, "events: {lines:#?}");
    assert_eq!(
        stages,
        [
            (0, Duration::ZERO),
            (1, Duration::from_nanos(1_234_400_000))
        ]
    );
    assert_eq!(
        report.actors()[0].exited_at,
        Some(Duration::from_nanos(12_345_678))
    );
    assert_eq!(
        report.triggered_at(),
        Some(Duration::from_nanos(12_345_678))
    );
    assert_eq!(report.teardown(), Some(Duration::from_nanos(1_234_400_000)));
    let text = report.to_string();
    for needle in [
        "teardown took 1.234 s",
        "stage 0 'default': 0.0 ms",
        "stage 1 'drain': 1.234 s",
        "error (boom) at 12.3 ms",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    for needle in [
        "stage 0 'default' ended after 0.0 ms",
        "stage 1 'drain' ended after 1.234 s",
    ] {
        assert!(
            lines.iter().any(|line| line == needle),
            "{needle:?} not in {lines:#?}"
        );
    }
    assert!(
        !text.contains("1.2344s") && !text.contains("12.345678ms"),
        "{text}"
    );
}

/// O01 (issue 13: timestamps agree): a first exit's trigger time is that exit's own time, one
/// clock reading, not a second one taken when the runner woke (on the real clock those differ
/// by the wake-up, so this fails if the runner reads the clock again).
#[test]
fn o01_i13_trigger_time_is_the_first_exits_time() {
    for _ in 0..20 {
        let mut group = Group::new();
        group.actor("worker").add_token(|token| {
            token.wait();
            Ok(())
        });
        group.actor("job").add(|| Err("done".into()), |_| {});
        let report = report_of(group);
        let first = report.first_exit().expect("the job exited first");
        assert_eq!(report.triggered_at(), first.exited_at);
    }
}

/// Issue 12 (consistent API): every `add*` returns the actor's `ActorId`, whatever its kind, and
/// the report finds the actor's line by it.
#[test]
fn o01_i12_every_add_returns_the_actors_id() {
    let mut group = rungroup::Group::new();
    #[allow(unused_mut)] // pushed to only with the signal and process features
    let mut ids = vec![
        group.add(|| Ok(()), |_| {}),
        group.add_token(|_| Ok(())),
        group.add_future(async { Ok(()) }, |_| {}),
        group.add_future_token(|_| async { Ok(()) }),
        group.actor("builder").add(|| Ok(()), |_| {}),
        group.actor("token").add_token(|_| Ok(())),
        group.actor("future").add_future(async { Ok(()) }, |_| {}),
        group
            .actor("future-token")
            .add_future_token(|_| async { Ok(()) }),
        group
            .actor("cancel")
            .add_future_cancel(std::future::pending()),
        group
            .actor("supervised")
            .supervise(rungroup::Restart::transient(), || (|| Ok(()), |_: &_| {})),
        group
            .actor("supervised-token")
            .supervise_token(rungroup::Restart::transient(), |_| Ok(())),
        group.actor("nested").add_group(rungroup::Group::new()),
    ];
    #[cfg(all(unix, feature = "signal"))]
    ids.push(group.add_signals(rungroup::SignalSet::terminate()));
    #[cfg(all(unix, feature = "process"))]
    ids.push(
        group
            .actor("child")
            .add_child(std::process::Command::new("true")),
    );
    let report = crate::common::report_of(group);
    for (index, id) in ids.iter().enumerate() {
        assert_eq!(id.index(), index);
        assert_eq!(report.actor(*id).name, report.actors()[index].name);
    }
    assert_eq!(report.actor(ids[4]).name, "builder");
    assert!(report.nested(ids[11]).is_some(), "{report}");
    assert!(report.nested(ids[4]).is_none());
}

/// F05 (issue 12): an `ActorId` of another group is refused by name, not read as another actor.
#[test]
#[should_panic(expected = "rungroup: actor #0 looked up in the report of another group")]
fn f05_i12_an_actor_id_of_another_group_panics() {
    let mut first = rungroup::Group::new();
    let id = first.add(|| Ok(()), |_| {});
    let mut second = rungroup::Group::new();
    second.add(|| Ok(()), |_| {});
    let report = crate::common::report_of(second);
    let _ = report.actor(id);
}
