//! Triggers and observability: the stop handle (T01), the signal actor (T02, feature `signal`),
//! token actors (T03) and lifecycle events (O02, and the `tracing` feature).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use rungroup::{
    Cause, Error, Event, Group, Outcome, Report, StopHandle, StopOutcome, StopToken, Trigger,
};

use crate::common::{
    FUSE, Latch, bounded, interrupting, report_of, spawn_report, until_interrupted,
    wait_interrupting,
};

/// An actor whose interrupt does nothing: only its force hook (escalation) makes it return.
fn add_stubborn(group: &mut Group, name: &str) {
    let token = StopToken::new();
    let (waiter, forcer) = (token.clone(), token);
    group.actor(name).force(move || forcer.stop()).add(
        move || {
            waiter.wait();
            Ok(())
        },
        |_| {},
    );
}

// ---------------------------------------------------------------------------------------------
// T01: the stop handle

#[test]
fn t01_stop_handle_is_clone_send_sync_and_debug() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    assert_traits::<StopHandle>();
    let group = Group::new();
    let stop = group.stop_handle();
    assert!(format!("{stop:?}").contains("triggered: false"));
}

#[test]
fn t01_stop_requested_before_run_is_the_cause() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    let seen = Arc::new(Mutex::new(None));
    let seen_by_interrupt = Arc::clone(&seen);
    group.actor("worker").add_token(|token| {
        token.wait();
        Ok(())
    });
    let (execute, interrupt) = until_interrupted(move |cause: &Cause<_>| {
        *seen_by_interrupt.lock().unwrap() = Some(match cause.trigger() {
            Trigger::Stop { reason } => reason.clone(),
            _ => format!("unexpected cause: {cause}"),
        });
    });
    group.actor("watcher").add(execute, interrupt);

    assert_eq!(stop.stop("before run"), StopOutcome::Triggered);
    assert!(stop.is_triggered());
    assert_eq!(stop.stop("again, before run"), StopOutcome::Escalated);

    let report = report_of(group);
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: "before run".into()
        }
    );
    assert_eq!(seen.lock().unwrap().as_deref(), Some("before run"));
    // The second request escalated at once: whoever was still running when the runner first
    // looked was escalated, and the run says so; nothing else can be wrong.
    assert!(
        matches!(report.error(), None | Some(Error::Escalated { .. })),
        "{report}"
    );
}

/// Adds a token actor "worker" that waits for its stop token; the returned channel receives one
/// message once its execute is running.
fn worker_signalling_start(group: &mut Group) -> mpsc::Receiver<()> {
    let (running, is_running) = mpsc::channel();
    group.actor("worker").add_token(move |token| {
        running.send(()).unwrap();
        token.wait();
        Ok(())
    });
    is_running
}

#[test]
fn t01_stop_requested_during_run_from_another_thread() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    let is_running = worker_signalling_start(&mut group);
    let pending = spawn_report(group);
    is_running.recv_timeout(FUSE).unwrap();
    let outcome = thread::spawn(move || stop.stop("operator")).join().unwrap();
    assert_eq!(outcome, StopOutcome::Triggered);
    let report = pending.join();
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: "operator".into()
        }
    );
    assert!(report.to_string().contains("stop requested: operator"));
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
}

#[test]
fn t01_stop_requested_after_run_returned_is_ignored() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    group.add(|| Ok(()), |_| {});
    let report = report_of(group);
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
    for _ in 0..3 {
        assert_eq!(stop.stop("too late"), StopOutcome::Ignored);
    }
    let late: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || stop.stop("too late, from a thread"))
        })
        .collect();
    for handle in late {
        assert_eq!(handle.join().unwrap(), StopOutcome::Ignored);
    }
    assert!(stop.is_triggered());
}

#[test]
fn t01_stop_from_100_threads_at_once_has_one_winner() {
    const THREADS: usize = 100;
    let mut group = Group::new();
    let stop = group.stop_handle();
    let is_running = worker_signalling_start(&mut group);
    let pending = spawn_report(group);
    is_running.recv_timeout(FUSE).unwrap();

    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (stop, barrier) = (stop.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                (i, stop.stop(format!("thread {i}")))
            })
        })
        .collect();
    let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let report = pending.join();

    let winners: Vec<_> = outcomes
        .iter()
        .filter(|(_, outcome)| *outcome == StopOutcome::Triggered)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|(_, outcome)| matches!(
        outcome,
        StopOutcome::Triggered | StopOutcome::Escalated | StopOutcome::Ignored
    )));
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: format!("thread {}", winners[0].0)
        }
    );
    assert!(!report.panicked(), "{report}");
}

#[test]
fn t01_second_stop_request_escalates_to_the_force_hook() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    group.kill_grace(FUSE);
    add_stubborn(&mut group, "stubborn");
    let interrupted = interrupting(&mut group);
    let pending = spawn_report(group);
    assert_eq!(stop.stop("first"), StopOutcome::Triggered);
    wait_interrupting(&interrupted, "stubborn");
    // The interrupt did nothing; only the escalation's force hook can end the actor.
    assert_eq!(stop.stop("second"), StopOutcome::Escalated);
    let report = pending.join();
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: "first".into()
        }
    );
    assert!(report.actors()[0].escalated);
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    crate::common::assert_escalated_cleanly(&report);
    assert_eq!(stop.stop("third"), StopOutcome::Ignored);
}

// ---------------------------------------------------------------------------------------------
// T03: token actors

#[test]
fn t03_token_actor_polls_and_waits_with_timeout() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    let (ticked, has_ticked) = mpsc::channel();
    let ticks = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&ticks);
    group.actor("ticker").add_token(move |token| {
        assert!(!token.is_stopped());
        while !token.wait_timeout(Duration::from_millis(1)) {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                ticked.send(()).unwrap();
            }
        }
        assert!(token.is_stopped());
        Ok(())
    });
    let pending = spawn_report(group);
    has_ticked.recv_timeout(FUSE).unwrap();
    stop.stop("enough ticks");
    let report = pending.join();
    assert!(ticks.load(Ordering::SeqCst) >= 1);
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
}

#[test]
fn t03_token_stopped_before_execute_looks_is_already_stopped() {
    // Interrupts run in registration order (R05): the token actor's interrupt has stopped its
    // token before the second actor's interrupt lets the token actor's execute look at it.
    let mut group = Group::new();
    let (go, wait_go) = mpsc::channel::<()>();
    let (saw, first_look) = mpsc::channel();
    group.actor("token").add_token(move |token| {
        wait_go.recv_timeout(FUSE).unwrap();
        saw.send(token.is_stopped()).unwrap();
        token.wait();
        Ok(())
    });
    group.actor("gate").add(
        || Ok(()),
        move |_| {
            let _ = go.send(());
        },
    );
    let report = report_of(group);
    assert!(first_look.recv_timeout(FUSE).unwrap(), "token not sticky");
    assert!(report.error().is_none(), "{report}");
}

#[test]
fn t03_token_waited_on_after_the_group_ended_returns_at_once() {
    let mut group = Group::new();
    let (handed, kept) = mpsc::channel();
    group.actor("worker").add_token(move |token| {
        handed.send(token.clone()).unwrap();
        token.wait();
        Ok(())
    });
    group.add(|| Ok(()), |_| {});
    let report = report_of(group);
    assert!(report.error().is_none());
    let token = kept.recv_timeout(FUSE).unwrap();
    assert!(token.is_stopped());
    // Bounded: if waiting after the end blocked, the fuse would fail the test.
    let waited = bounded(move || {
        token.wait();
        token.wait_timeout(FUSE)
    })
    .join();
    assert!(waited);
}

#[test]
fn t03_fresh_token_times_out_and_stop_wakes_every_waiter() {
    let token = StopToken::new();
    assert_eq!(format!("{token:?}"), "StopToken { stopped: false }");
    assert!(!token.wait_timeout(Duration::from_millis(1)));
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let token = token.clone();
            bounded(move || token.wait())
        })
        .collect();
    token.stop();
    token.stop(); // idempotent
    for waiter in waiters {
        waiter.join();
    }
    assert!(token.wait_timeout(Duration::ZERO));
    assert_eq!(format!("{token:?}"), "StopToken { stopped: true }");
}

// ---------------------------------------------------------------------------------------------
// O02: lifecycle events

/// Every kind of event, in one staged run with an escalation and an abandonment: actor `job`
/// (default stage) exits first; stage 1 (`front`, grace zero) holds `quick` and `stuck`, which
/// ignores its interrupt until the returned latch is released, so it is escalated at once and
/// abandoned after the kill grace (whatever the timing: it is released only after the run);
/// stage 2 (`back`) holds `worker`.
fn staged_escalation(prefix: &str) -> (Group, Latch) {
    let mut group = Group::new();
    group.kill_grace(Duration::from_millis(200));
    let front = group.stage(format!("{prefix}front")).id();
    group.grace(front, Duration::ZERO);
    let back = group.stage(format!("{prefix}back")).id();
    let latch = Latch::new();
    let stuck = latch.waiter();
    group
        .actor(format!("{prefix}quick"))
        .stage(front)
        .add_token(|token| {
            token.wait();
            Ok(())
        });
    group.actor(format!("{prefix}stuck")).stage(front).add(
        move || {
            stuck.wait();
            Ok(())
        },
        |_| {},
    );
    group
        .actor(format!("{prefix}worker"))
        .stage(back)
        .add_token(|token| {
            token.wait();
            Ok(())
        });
    group.actor(format!("{prefix}job")).add(|| Ok(()), |_| {});
    (group, latch)
}

fn kind(event: &Event<'_>) -> &'static str {
    match event {
        Event::Triggered { .. } => "triggered",
        Event::StageBegun { .. } => "stage_begun",
        Event::Interrupting { .. } => "interrupting",
        Event::ActorExited { .. } => "actor_exited",
        Event::StageEnded { .. } => "stage_ended",
        Event::Escalated { .. } => "escalated",
        Event::Abandoned { .. } => "abandoned",
        _ => "other",
    }
}

const KINDS: [&str; 7] = [
    "triggered",
    "stage_begun",
    "interrupting",
    "actor_exited",
    "stage_ended",
    "escalated",
    "abandoned",
];

fn check_abandoned(report: &Report<rungroup::BoxError>, stuck: &str) {
    assert!(
        matches!(report.error(), Some(Error::Abandoned { actors, .. })
            if actors.iter().any(|actor| actor == stuck)),
        "{report}"
    );
    assert!(report.abandoned().any(|name| name == stuck), "{report}");
}

#[test]
fn o02_observer_sees_every_event_kind_in_a_staged_escalation() {
    let (mut group, latch) = staged_escalation("");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    group.observe(move |event| {
        log.lock().unwrap().push((kind(event), event.to_string()));
    });
    let report = report_of(group);
    check_abandoned(&report, "stuck");
    latch.release();

    let seen = seen.lock().unwrap().clone();
    for wanted in KINDS {
        assert!(
            seen.iter().any(|(kind, _)| *kind == wanted),
            "no {wanted} event in {seen:#?}"
        );
    }
    let lines: Vec<&str> = seen.iter().map(|(_, line)| line.as_str()).collect();
    for wanted in [
        "teardown triggered: actor 'job' returned Ok",
        "stage 1 'front' begun",
        "interrupting 'stuck'",
        "actor 'job' exited: ok (first exit)",
        "actor 'stuck' escalated",
        "actor 'stuck' abandoned",
        "stage 2 'back' begun",
    ] {
        assert!(lines.contains(&wanted), "{wanted:?} not in {lines:#?}");
    }
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("stage 1 'front' ended")
                && line.ends_with("(deadline expired)")),
        "{lines:#?}"
    );
}

#[test]
fn o02_a_panicking_observer_is_ignored() {
    let mut group = Group::new();
    group.observe(|_| panic!("observer bug"));
    group.actor("worker").add_token(|token| {
        token.wait();
        Ok(())
    });
    group.actor("job").add(|| Err("done".into()), |_| {});
    let report = report_of(group);
    assert!(report.error().is_none());
    assert_eq!(report.into_result().unwrap_err().to_string(), "done");
}

/// The `cause` of the `Triggered` event of a run of `group`, whose actor `job` fails first with
/// `error`.
fn triggered_cause<E: Send + Sync + 'static>(mut group: Group<E>, error: E) -> String {
    let causes = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&causes);
    group.observe(move |event| {
        if let Event::Triggered { cause } = event {
            log.lock().unwrap().push((*cause).to_owned());
        }
    });
    group.actor("job").add(move || Err(error), |_| {});
    drop(report_of(group));
    let causes = causes.lock().unwrap();
    assert_eq!(causes.len(), 1, "{causes:?}");
    causes[0].clone()
}

/// O02 (issue 13): the `Triggered` event (and so its `tracing` event and `log` record) carries
/// the first exit's error text, for the error types a group usually has; a group error type it
/// cannot print without an `E: Display` bound is described instead.
#[test]
fn o02_i13_triggered_event_carries_the_first_exit_error_text() {
    assert_eq!(
        triggered_cause(Group::new(), "disk full".into()),
        "actor 'job' failed: disk full"
    );
    assert_eq!(
        triggered_cause(
            Group::<std::io::Error>::default(),
            std::io::Error::other("port in use")
        ),
        "actor 'job' failed: port in use"
    );
    assert_eq!(
        triggered_cause(Group::<String>::default(), "bad config".to_owned()),
        "actor 'job' failed: bad config"
    );
    #[derive(Debug)]
    struct Custom;
    impl From<Error> for Custom {
        fn from(_: Error) -> Self {
            Custom
        }
    }
    assert_eq!(
        triggered_cause(Group::<Custom>::default(), Custom),
        "actor 'job' returned an error"
    );
}

#[cfg(feature = "tracing")]
mod tracing_feature {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::fmt;
    use std::sync::{Arc, Mutex, OnceLock};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Metadata, Subscriber};

    use rungroup::Group;

    use super::{KINDS, check_abandoned, staged_escalation};
    use crate::common::report_of;

    /// A tiny subscriber: keeps the fields of every `rungroup` event, process-wide (the group's
    /// events come from actor and lane threads, so a thread-local default would miss them). An
    /// event inside a span also gets `span` (its name) and `span.<field>` for each of its fields,
    /// from the innermost span entered on the event's thread.
    #[derive(Clone, Default)]
    struct Collector(Arc<Mutex<Vec<BTreeMap<String, String>>>>, Spans);

    /// Every span made: its name and fields, at index `id - 1`.
    type Spans = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

    thread_local! {
        /// The spans entered on this thread, innermost last.
        static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }

        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
    }

    impl Subscriber for Collector {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == "rungroup"
        }

        fn new_span(&self, attributes: &Attributes<'_>) -> Id {
            let mut fields = BTreeMap::new();
            attributes.record(&mut Fields(&mut fields));
            let mut spans = self.1.lock().unwrap();
            spans.push((attributes.metadata().name().to_owned(), fields));
            Id::from_u64(spans.len() as u64)
        }

        fn record(&self, _: &Id, _: &Record<'_>) {}

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = BTreeMap::new();
            fields.insert("level".to_owned(), event.metadata().level().to_string());
            event.record(&mut Fields(&mut fields));
            if let Some(id) = ENTERED.with(|entered| entered.borrow().last().copied()) {
                let spans = self.1.lock().unwrap();
                let (name, span_fields) = &spans[usize::try_from(id).unwrap() - 1];
                fields.insert("span".to_owned(), name.clone());
                for (key, value) in span_fields {
                    fields.insert(format!("span.{key}"), value.clone());
                }
            }
            self.0.lock().unwrap().push(fields);
        }

        fn enter(&self, span: &Id) {
            ENTERED.with(|entered| entered.borrow_mut().push(span.into_u64()));
        }

        fn exit(&self, _: &Id) {
            ENTERED.with(|entered| entered.borrow_mut().pop());
        }
    }

    fn collector() -> &'static Collector {
        static COLLECTOR: OnceLock<Collector> = OnceLock::new();
        COLLECTOR.get_or_init(|| {
            let collector = Collector::default();
            tracing::subscriber::set_global_default(collector.clone())
                .expect("no other global subscriber in this test binary");
            collector
        })
    }

    #[test]
    fn o02_tracing_feature_emits_every_event_kind() {
        let collector = collector();
        // Unique names: other tests' groups emit into the same process-wide subscriber.
        let prefix = "o02-tracing-";
        let (group, latch) = staged_escalation(prefix);
        let report = report_of(group);
        check_abandoned(&report, &format!("{prefix}stuck"));
        latch.release();

        let events = collector.0.lock().unwrap().clone();
        let ours: Vec<_> = events
            .iter()
            .filter(|fields| fields.values().any(|value| value.contains(prefix)))
            .collect();
        for wanted in KINDS {
            assert!(
                ours.iter()
                    .any(|fields| fields.get("event").map(String::as_str) == Some(wanted)),
                "no {wanted} event in {ours:#?}"
            );
        }
        let find = |event: &str, key: &str, value: &str| {
            ours.iter()
                .find(|fields| {
                    fields.get("event").map(String::as_str) == Some(event)
                        && fields.get(key).map(String::as_str) == Some(value)
                })
                .unwrap_or_else(|| panic!("no {event} with {key}={value} in {ours:#?}"))
        };
        let abandoned = find("abandoned", "actor", "o02-tracing-stuck");
        assert_eq!(abandoned["level"], "ERROR");
        let escalated = find("escalated", "actor", "o02-tracing-stuck");
        assert_eq!(escalated["level"], "WARN");
        let exited = find("actor_exited", "actor", "o02-tracing-job");
        assert_eq!(exited["first"], "true");
        assert_eq!(exited["outcome"], "ok");
        assert_eq!(exited["level"], "INFO", "a clean exit is not a warning");
        let ended = find("stage_ended", "stage", "o02-tracing-front");
        assert_eq!(ended["expired"], "true");
        let triggered = find("triggered", "event", "triggered");
        assert!(triggered["cause"].contains("o02-tracing-job"));
    }

    /// O02 (issue 13): each actor thread runs in a span naming the actor and its stage (the
    /// actor's own events included), each stage's teardown in a span naming the stage and its
    /// index, and the trigger carries the first exit's error text.
    #[test]
    fn o02_i13_tracing_spans_per_actor_and_stage() {
        let collector = collector();
        let mut group = Group::new();
        let drain = group.stage("o02-spans-drain").id();
        group
            .actor("o02-spans-worker")
            .stage(drain)
            .add_token(|token| {
                tracing::info!(target: "rungroup", marker = "o02-spans-inside", "working");
                token.wait();
                Ok(())
            });
        group
            .actor("o02-spans-job")
            .add(|| Err("o02-spans-boom".into()), |_| {});
        let report = report_of(group);
        assert!(report.error().is_none(), "{report}");

        let events = collector.0.lock().unwrap().clone();
        let find = |key: &str, value: &str| {
            events
                .iter()
                .find(|fields| fields.get(key).map(String::as_str) == Some(value))
                .unwrap_or_else(|| panic!("no event with {key}={value}"))
        };
        let inside = find("marker", "o02-spans-inside");
        assert_eq!(
            inside.get("span").map(String::as_str),
            Some("actor"),
            "{inside:?}"
        );
        assert_eq!(inside["span.name"], "o02-spans-worker");
        assert_eq!(inside["span.stage"], "o02-spans-drain");
        let exited = find("actor", "o02-spans-job");
        assert_eq!(exited["event"], "actor_exited");
        assert_eq!(exited["span"], "actor");
        assert_eq!(exited["span.name"], "o02-spans-job");
        assert_eq!(exited["span.stage"], "default");
        let ended = find("stage", "o02-spans-drain");
        let ended = if ended["event"] == "stage_ended" {
            ended
        } else {
            events
                .iter()
                .find(|fields| {
                    fields.get("event").map(String::as_str) == Some("stage_ended")
                        && fields.get("stage").map(String::as_str) == Some("o02-spans-drain")
                })
                .expect("stage_ended of o02-spans-drain")
        };
        assert_eq!(ended["span"], "stage");
        assert_eq!(ended["span.name"], "o02-spans-drain");
        assert_eq!(ended["span.index"], "1");
        let triggered = events
            .iter()
            .find(|fields| {
                fields.get("event").map(String::as_str) == Some("triggered")
                    && fields["cause"].contains("o02-spans-job")
            })
            .expect("the trigger");
        assert_eq!(
            triggered["cause"],
            "actor 'o02-spans-job' failed: o02-spans-boom"
        );
    }
}

#[cfg(feature = "log")]
mod log_feature {
    use std::sync::{Mutex, Once};

    use log::{Level, LevelFilter, Log, Metadata, Record};

    use super::{check_abandoned, staged_escalation};
    use crate::common::report_of;

    /// A tiny process-wide logger: keeps the level and message of every `rungroup` record.
    struct Collector(Mutex<Vec<(Level, String)>>);

    impl Log for Collector {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == "rungroup"
        }

        fn log(&self, record: &Record<'_>) {
            if self.enabled(record.metadata()) {
                let message = record.args().to_string();
                self.0.lock().unwrap().push((record.level(), message));
            }
        }

        fn flush(&self) {}
    }

    static COLLECTOR: Collector = Collector(Mutex::new(Vec::new()));

    /// O02 (issue 13, feature `log`): the lifecycle events reach the `log` facade as records of
    /// target `rungroup`, each the event's `Display` at the level `tracing` gives it.
    #[test]
    fn o02_i13_log_feature_emits_the_events() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            log::set_logger(&COLLECTOR).expect("no other logger in this test binary");
            log::set_max_level(LevelFilter::Trace);
        });
        // Unique names: other tests' groups log into the same process-wide logger.
        let prefix = "o02-log-";
        let (group, latch) = staged_escalation(prefix);
        let report = report_of(group);
        check_abandoned(&report, &format!("{prefix}stuck"));
        latch.release();

        let records: Vec<(Level, String)> = COLLECTOR
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, message)| message.contains(prefix))
            .cloned()
            .collect();
        for wanted in [
            (
                Level::Info,
                "teardown triggered: actor 'o02-log-job' returned Ok",
            ),
            (Level::Info, "stage 1 'o02-log-front' begun"),
            (Level::Debug, "interrupting 'o02-log-stuck'"),
            (Level::Info, "actor 'o02-log-job' exited: ok (first exit)"),
            (Level::Warn, "actor 'o02-log-stuck' escalated"),
            (Level::Error, "actor 'o02-log-stuck' abandoned"),
        ] {
            assert!(
                records
                    .iter()
                    .any(|(level, message)| (*level, message.as_str()) == wanted),
                "{wanted:?} not in {records:#?}"
            );
        }
        // Rounded: `12.3 ms` (or `1.234 s` on a very slow machine), never `Debug`'s decimals.
        let rounded = |elapsed: &str| {
            let (number, unit) = elapsed.split_once(' ').unwrap_or((elapsed, ""));
            let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
            (unit, decimals) == ("ms", 1) || (unit, decimals) == ("s", 3)
        };
        assert!(
            records.iter().any(|(level, message)| *level == Level::Info
                && message
                    .strip_prefix("stage 1 'o02-log-front' ended after ")
                    .and_then(|rest| rest.strip_suffix(" (deadline expired)"))
                    .is_some_and(rounded)),
            "{records:#?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// T02: the signal actor (feature `signal`, unix)

#[cfg(all(unix, feature = "signal"))]
mod signals {
    //! Signals reach every handler registered in the process, and the tests of this binary run
    //! on parallel threads: every test that raises a signal holds `SERIAL`, and raises a signal
    //! only once a signal actor listens for it (its `on_listening` has fired), and at most twice,
    //! so no signal ever meets its default action (which the actor restores when it exits, and
    //! runs itself on a third signal). SIGUSR1/SIGUSR2 for most cases; SIGINT/SIGTERM only for
    //! the defaults. What a signal does once no actor listens, the third signal and storms are
    //! tested in child processes (`tests/it/process.rs`).

    use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};

    use rungroup::{Cause, Group, Outcome, SignalError, SignalSet, StopOutcome, Trigger};
    use signal_hook::consts::{
        SIGINT, SIGKILL, SIGSTOP, SIGTERM, SIGURG, SIGUSR1, SIGUSR2, SIGVTALRM, SIGWINCH,
    };
    use signal_hook::low_level::raise;

    use super::{add_stubborn, interrupting, wait_interrupting};
    use crate::common::{FUSE, spawn_report, until_interrupted};

    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `set`, reporting on the returned channel once its actor listens.
    fn listening(set: SignalSet) -> (SignalSet, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        (
            set.on_listening(move || {
                let _ = tx.send(());
            }),
            rx,
        )
    }

    fn wait_listening(rx: &mpsc::Receiver<()>) {
        rx.recv_timeout(FUSE)
            .expect("the signal actor never listened");
    }

    #[test]
    fn t02_signal_is_the_cause_and_names_the_signal() {
        let _serial = serial();
        let mut group = Group::new();
        let seen = Arc::new(Mutex::new(None));
        let seen_by_interrupt = Arc::clone(&seen);
        let (execute, interrupt) = until_interrupted(move |cause: &Cause<_>| {
            *seen_by_interrupt.lock().unwrap() = Some(match cause.trigger() {
                Trigger::Signal { signal } => Ok(*signal),
                _ => Err(cause.to_string()),
            });
        });
        group.actor("server").add(execute, interrupt);
        let (set, listens) = listening(SignalSet::new([SIGUSR1]).unwrap());
        group.add_signals(set);
        let pending = spawn_report(group);
        wait_listening(&listens);
        raise(SIGUSR1).unwrap();
        let report = pending.join();

        assert_eq!(report.trigger(), &Trigger::Signal { signal: SIGUSR1 });
        assert_eq!(*seen.lock().unwrap(), Some(Ok(SIGUSR1)));
        assert!(
            report.to_string().starts_with("run ended: SIGUSR1"),
            "{report}"
        );
        // Placed in a stage of its own, torn down last; exited cleanly (and so deregistered).
        assert_eq!(report.stages().last().unwrap().name, "signals");
        let actor = report.actors().last().unwrap();
        assert_eq!(
            (actor.name.as_str(), actor.stage),
            ("signals", report.stages().len() - 1)
        );
        assert!(matches!(actor.outcome, Outcome::Ok));
        assert!(report.into_result().is_ok());
    }

    #[test]
    fn t02_defaults_are_sigint_and_sigterm() {
        let _serial = serial();
        assert_eq!(SignalSet::terminate().signals(), &[SIGINT, SIGTERM]);
        assert_eq!(SignalSet::default().signals(), &[SIGINT, SIGTERM]);
        assert_eq!(
            format!("{:?}", SignalSet::new([SIGTERM, 64]).unwrap()),
            "SignalSet { signals: [\"SIGTERM (15)\", \"64\"], on_listening: false, on_signal: false }"
        );
        for signal in [SIGINT, SIGTERM] {
            let mut group = Group::new();
            group.actor("worker").add_token(|token| {
                token.wait();
                Ok(())
            });
            let (set, listens) = listening(SignalSet::terminate());
            group.add_signals(set);
            let pending = spawn_report(group);
            wait_listening(&listens);
            raise(signal).unwrap();
            let report = pending.join();
            assert_eq!(report.trigger(), &Trigger::Signal { signal });
            assert!(report.error().is_none(), "{report}");
        }
    }

    #[test]
    fn t02_never_fires_on_signals_it_was_not_asked_for() {
        // SIGURG (Go's accidental trigger) and SIGWINCH are ignored by default, so raising them
        // is harmless whoever listens. SIGURG is raised first and has the lower number: had the
        // actor registered it, it would be the cause whatever order the actor reads them in.
        let _serial = serial();
        let mut group = Group::new();
        group.actor("worker").add_token(|token| {
            token.wait();
            Ok(())
        });
        let (set, listens) = listening(SignalSet::new([SIGWINCH]).unwrap());
        group.add_signals(set);
        let pending = spawn_report(group);
        wait_listening(&listens);
        raise(SIGURG).unwrap();
        raise(SIGURG).unwrap();
        raise(SIGWINCH).unwrap();
        let report = pending.join();
        assert_eq!(report.trigger(), &Trigger::Signal { signal: SIGWINCH });
    }

    #[test]
    fn t02_empty_signal_set_is_rejected() {
        let error = SignalSet::new([]).unwrap_err();
        assert_eq!(error, SignalError::Empty);
        assert!(error.to_string().contains("at least one signal"), "{error}");
    }

    /// Issue 13: a signal number that cannot work, as a configuration file may hold, is an error
    /// that names it (the first bad one), never a panic.
    #[test]
    fn t02_forbidden_signal_is_rejected() {
        let error = SignalSet::new([SIGUSR1, SIGKILL, 0]).unwrap_err();
        assert_eq!(error, SignalError::Forbidden { signal: SIGKILL });
        assert_eq!(
            error.to_string(),
            "signal SIGKILL (9) cannot be handled: SIGKILL, SIGSTOP, SIGILL, SIGFPE and SIGSEGV \
             are forbidden"
        );
        for signal in [0, -1, 128, i32::MAX] {
            let error = SignalSet::new([SIGUSR1, signal]).unwrap_err();
            assert_eq!(error, SignalError::OutOfRange { signal });
            assert!(
                error.to_string().contains(&format!("signal {signal} ")),
                "{error}"
            );
        }
        // An error for a configuration loader: `?` into a boxed error keeps the message.
        let boxed: Box<dyn std::error::Error + Send + Sync> =
            SignalSet::new([SIGSTOP]).map(drop).unwrap_err().into();
        assert!(
            boxed
                .to_string()
                .starts_with(&format!("signal SIGSTOP ({SIGSTOP}) cannot be handled")),
            "{boxed}"
        );
    }

    /// Issue 13: the signals a service listens for are constants of `SignalSet` (no
    /// `signal-hook` or `libc` import needed), with the platform's numbers.
    #[test]
    fn t02_signal_constants_are_exported_with_the_platform_numbers() {
        use signal_hook::consts as sh;
        let every = [
            SignalSet::SIGHUP,
            SignalSet::SIGINT,
            SignalSet::SIGQUIT,
            SignalSet::SIGTERM,
            SignalSet::SIGUSR1,
            SignalSet::SIGUSR2,
        ];
        assert_eq!(
            every,
            [
                sh::SIGHUP,
                sh::SIGINT,
                sh::SIGQUIT,
                sh::SIGTERM,
                sh::SIGUSR1,
                sh::SIGUSR2
            ]
        );
        assert_eq!(SignalSet::new(every).unwrap().signals().len(), 6);
    }

    /// Issue 13: a `SignalSet` is `Clone`; a clone keeps the signals and shares the callbacks,
    /// which every actor made from the set or a clone calls (here: two groups, one after the
    /// other, from one configured set).
    #[test]
    fn t02_signal_set_is_clone_and_clones_share_the_callbacks() {
        let _serial = serial();
        let (tx, listens) = mpsc::channel();
        let signalled = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&signalled);
        let configured = SignalSet::new([SIGUSR1])
            .unwrap()
            .on_listening(move || {
                let _ = tx.send(());
            })
            .on_signal(move |signal, count| log.lock().unwrap().push((signal, count)));
        assert_eq!(
            format!("{:?}", configured.clone()),
            format!(
                "SignalSet {{ signals: [\"SIGUSR1 ({SIGUSR1})\"], on_listening: true, \
                 on_signal: true }}"
            )
        );
        for _ in 0..2 {
            let mut group = Group::new();
            group.actor("worker").add_token(|token| {
                token.wait();
                Ok(())
            });
            group.add_signals(configured.clone());
            let pending = spawn_report(group);
            wait_listening(&listens);
            raise(SIGUSR1).unwrap();
            let report = pending.join();
            assert_eq!(report.trigger(), &Trigger::Signal { signal: SIGUSR1 });
        }
        assert_eq!(*signalled.lock().unwrap(), [(SIGUSR1, 1), (SIGUSR1, 1)]);
    }

    #[test]
    fn t02_second_signal_during_teardown_escalates() {
        let _serial = serial();
        let mut group = Group::new();
        group.kill_grace(FUSE);
        add_stubborn(&mut group, "stubborn");
        let interrupted = interrupting(&mut group);
        let (set, listens) = listening(SignalSet::new([SIGUSR2]).unwrap());
        group.add_signals(set);
        let stop = group.stop_handle();
        let pending = spawn_report(group);
        wait_listening(&listens);
        raise(SIGUSR2).unwrap();
        // Teardown has begun and the stubborn actor ignored its interrupt; the signal actor, in
        // the last stage, still listens.
        wait_interrupting(&interrupted, "stubborn");
        raise(SIGUSR2).unwrap();
        let report = pending.join();
        assert_eq!(report.trigger(), &Trigger::Signal { signal: SIGUSR2 });
        assert!(report.actors()[0].escalated, "{report}");
        assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
        crate::common::assert_escalated_cleanly(&report);
        assert_eq!(stop.stop("after"), StopOutcome::Ignored);
    }

    /// The bit of `signal` in the `SigCgt` (caught signals) mask of /proc/self/status.
    #[cfg(target_os = "linux")]
    fn caught(signal: i32) -> bool {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let mask = status
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .expect("SigCgt line");
        let mask = u64::from_str_radix(mask.trim(), 16).unwrap();
        mask & (1 << (signal - 1)) != 0
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn t02_registers_when_its_actor_starts_not_when_added() {
        // SIGVTALRM is used by no other test of this process; it is never raised here.
        let _serial = serial();
        assert!(!caught(SIGVTALRM), "SIGVTALRM already caught");
        let mut group = Group::new();
        let stop = group.stop_handle();
        let (set, listens) = listening(SignalSet::new([SIGVTALRM]).unwrap());
        group.add_signals(set);
        assert!(!caught(SIGVTALRM), "registered when added");
        let pending = spawn_report(group);
        wait_listening(&listens);
        assert!(caught(SIGVTALRM), "not registered when listening");
        stop.stop("registered");
        let report = pending.join();
        // The actor returned, dropping (deregistering) its registration. (signal-hook keeps its
        // process-wide handler installed, so the mask cannot show that.)
        assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    }
}

/// O02 (issue 13): an actor's exit event carries its error's text or its panic's message.
#[test]
fn o02_i13_actor_exit_events_carry_the_error_text() {
    let mut group = Group::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    group.observe(move |event| {
        if let Event::ActorExited { .. } = event {
            let _ = tx.lock().unwrap().send(event.to_string());
        }
    });
    group.actor("db").add(|| Err("disk full".into()), |_| {});
    let report = report_of(group);
    assert_eq!(
        rx.try_iter().collect::<Vec<_>>(),
        ["actor 'db' exited: error: disk full (first exit)"]
    );
    assert!(report.into_result().is_err());

    let mut group = Group::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    group.observe(move |event| {
        if let Event::ActorExited { error, .. } = event {
            let _ = tx.lock().unwrap().send(error.map(str::to_owned));
        }
    });
    group.actor("p").add(|| panic!("deliberate: boom"), |_| {});
    let _ = report_of(group);
    assert_eq!(
        rx.try_iter().collect::<Vec<_>>(),
        [Some("deliberate: boom".to_owned())]
    );
}
