//! Supervision (issue 13, item 4): restart policies, backoff, intensity, and how restarts meet
//! teardown. Every wait here is for something that must happen (a channel, an event); the clock
//! is a `ManualClock` wherever a backoff is not zero.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rungroup::{
    ActorBuilder, BoxError, Cause, Event, Group, ManualClock, Outcome, Policy, Restart, Stage,
    StopToken, Trigger,
};

use crate::common::{Drops, FUSE, Latch, Log, payload_text, report_of, run_catching, spawn_report};

/// One incarnation, as a factory returns it.
type Pair = (
    Box<dyn FnOnce() -> Result<(), BoxError> + Send>,
    Box<dyn FnOnce(&Cause<BoxError>) + Send>,
);

/// A restart policy that restarts at once.
fn at_once(restart: Restart) -> Restart {
    restart.backoff(Duration::ZERO, Duration::ZERO)
}

/// Adds `builder`'s actor supervised under `restart`, each incarnation built by `make` from its
/// number (0, 1, ...); returns how many times the factory has been called.
fn numbered<X, I>(
    builder: ActorBuilder<'_, BoxError>,
    restart: Restart,
    mut make: impl FnMut(usize) -> (X, I) + Send + 'static,
) -> Arc<AtomicUsize>
where
    X: FnOnce() -> Result<(), BoxError> + Send + 'static,
    I: FnOnce(&Cause<BoxError>) + Send + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    builder.supervise(restart, move || {
        make(counter.fetch_add(1, Ordering::SeqCst))
    });
    calls
}

/// An incarnation that runs until its interrupt, which logs `interrupted <n>`; its execute says
/// `n` on `started` when it begins and logs `returned <n>` when it returns.
fn waiting(n: usize, log: &Log, started: &mpsc::Sender<usize>) -> Pair {
    let token = StopToken::new();
    let stopper = token.clone();
    let (log, interrupt_log, started) = (log.clone(), log.clone(), started.clone());
    (
        Box::new(move || {
            let _ = started.send(n);
            token.wait();
            log.push(format!("returned {n}"));
            Ok(())
        }),
        Box::new(move |_: &Cause<BoxError>| {
            interrupt_log.push(format!("interrupted {n}"));
            stopper.stop();
        }),
    )
}

/// An incarnation whose execute returns `result` at once; its interrupt logs `interrupted <n>`.
fn ending(
    n: usize,
    log: &Log,
    result: impl FnOnce() -> Result<(), BoxError> + Send + 'static,
) -> Pair {
    let log = log.clone();
    (
        Box::new(result),
        Box::new(move |_: &Cause<BoxError>| log.push(format!("interrupted {n}"))),
    )
}

/// What the observer saw of supervision: `Restarting` events and exits, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Restarting {
        actor: String,
        incarnation: usize,
        outcome: &'static str,
        backoff: Duration,
        text: String,
    },
    Exited(String),
}

/// Forwards `Restarting` and `ActorExited` events of `group` to the returned channel.
fn watch(group: &mut Group) -> mpsc::Receiver<Seen> {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    group.observe(move |event| {
        let seen = match event {
            Event::Restarting {
                actor,
                incarnation,
                outcome,
                backoff,
            } => Seen::Restarting {
                actor: (*actor).to_owned(),
                incarnation: *incarnation,
                outcome,
                backoff: *backoff,
                text: event.to_string(),
            },
            Event::ActorExited { actor, .. } => Seen::Exited((*actor).to_owned()),
            _ => return,
        };
        let _ = tx.lock().unwrap().send(seen);
    });
    rx
}

/// The next `Restarting` event (skipping exits).
fn next_restart(rx: &mpsc::Receiver<Seen>) -> Seen {
    loop {
        match rx
            .recv_timeout(FUSE)
            .expect("a Restarting event never came")
        {
            seen @ Seen::Restarting { .. } => return seen,
            Seen::Exited(_) => {}
        }
    }
}

/// The text of an `Outcome::Err` or the message of an `Outcome::Panicked`, with its label.
fn describe(outcome: &Outcome<BoxError>) -> String {
    match outcome {
        Outcome::Err(error) => format!("error: {error}"),
        Outcome::Panicked(payload) => format!("panicked: {}", payload_text(payload)),
        other => other.label().to_owned(),
    }
}

#[test]
fn i13_supervise_restarts_after_err_and_panic_keeping_each_outcome() {
    let mut group = Group::new();
    let seen = watch(&mut group);
    let log = Log::new();
    let (started, started_rx) = mpsc::channel();
    let calls = numbered(group.actor("flaky"), at_once(Restart::transient()), {
        let log = log.clone();
        move |n| match n {
            0 => ending(0, &log, || Err("first failure".into())),
            1 => ending(1, &log, || panic!("second failure")),
            n => waiting(n, &log, &started),
        }
    });
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    group.actor("job").add(
        move || {
            let _ = stop_rx.recv();
            Ok(())
        },
        |_| {},
    );
    let pending = spawn_report(group);
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(2));
    stop_tx.send(()).unwrap();
    let report = pending.join();

    let flaky = &report.actors()[0];
    let history: Vec<String> = flaky
        .restarts
        .iter()
        .map(|i| describe(&i.outcome))
        .collect();
    assert_eq!(
        history,
        ["error: first failure", "panicked: second failure"],
        "{report}"
    );
    assert!(matches!(flaky.outcome, Outcome::Ok), "{report}");
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 1 });
    // Only the current incarnation was interrupted; the ended ones' interrupts never were.
    assert_eq!(log.entries(), ["interrupted 2", "returned 2"]);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    for (incarnation, outcome) in [(0, "error"), (1, "panicked")] {
        match next_restart(&seen) {
            Seen::Restarting {
                actor,
                incarnation: i,
                outcome: o,
                backoff,
                ..
            } => {
                assert_eq!((actor.as_str(), i, o), ("flaky", incarnation, outcome));
                assert_eq!(backoff, Duration::ZERO);
            }
            other => panic!("{other:?}"),
        }
    }
    let text = report.to_string();
    assert!(text.contains("[restarted 2x]"), "{text}");
    // A restarted incarnation's panic was handled by the restart: neither counted nor resumed.
    assert!(!report.panicked(), "{report}");
    assert!(report.into_result().is_ok());
}

#[test]
fn i13_supervise_permanent_restarts_after_ok_and_transient_does_not() {
    // Permanent: two clean exits, two restarts; the third incarnation runs until teardown.
    let mut group = Group::new();
    let log = Log::new();
    let (started, started_rx) = mpsc::channel();
    numbered(group.actor("always"), at_once(Restart::permanent()), {
        let log = log.clone();
        move |n| match n {
            0 | 1 => ending(n, &log, || Ok(())),
            n => waiting(n, &log, &started),
        }
    });
    let stop = group.stop_handle();
    let pending = spawn_report(group);
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(2));
    stop.stop("done");
    let report = pending.join();
    let always = &report.actors()[0];
    let history: Vec<&str> = always.restarts.iter().map(|i| i.outcome.label()).collect();
    assert_eq!(history, ["ok", "ok"], "{report}");
    assert!(matches!(always.outcome, Outcome::Ok));
    assert_eq!(log.entries(), ["interrupted 2", "returned 2"]);

    // Transient: a clean exit ends the actor, and (critical) triggers teardown.
    let mut group = Group::new();
    let calls = numbered(group.actor("once"), at_once(Restart::transient()), |_| {
        (|| Ok(()), |_: &Cause<BoxError>| {})
    });
    let report = report_of(group);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(report.actors()[0].restarts.is_empty());
    assert!(report.actors()[0].first);
    assert!(report.into_result().is_ok());
}

#[test]
fn i13_supervise_transient_ok_exit_follows_the_policy() {
    // An on-error actor whose incarnation returns Ok: not restarted, and no teardown either.
    let mut group = Group::new();
    let seen = watch(&mut group);
    let calls = numbered(
        group.actor("init").policy(Policy::OnError),
        at_once(Restart::transient()),
        |_| (|| Ok(()), |_: &Cause<BoxError>| {}),
    );
    let stop = group.stop_handle();
    group.actor("server").add_token(|token| {
        token.wait();
        Ok(())
    });
    let pending = spawn_report(group);
    loop {
        if seen.recv_timeout(FUSE).expect("init never exited") == Seen::Exited("init".into()) {
            break;
        }
    }
    stop.stop("shutdown");
    let report = pending.join();
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: "shutdown".into()
        }
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(report.actors()[0].restarts.is_empty());
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
}

#[test]
fn i13_supervise_intensity_limit_gives_up_and_run_returns_the_last_error() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock.clone());
    let restart = at_once(Restart::transient()).intensity(2, Duration::from_secs(60));
    let calls = numbered(group.actor("crashy"), restart, |n| {
        (
            move || Err(format!("failure {n}").into()),
            |_: &Cause<BoxError>| {},
        )
    });
    let interrupted = Log::new();
    {
        let interrupted = interrupted.clone();
        let (tx, rx) = mpsc::channel::<()>();
        group.actor("server").add(
            move || {
                let _ = rx.recv();
                Ok(())
            },
            move |cause| {
                interrupted.push(cause.actor().unwrap_or("?"));
                drop(tx);
            },
        );
    }
    let report = report_of(group);
    // Two restarts allowed within the window; the third failure is the actor's exit.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let crashy = &report.actors()[0];
    let history: Vec<String> = crashy
        .restarts
        .iter()
        .map(|i| describe(&i.outcome))
        .collect();
    assert_eq!(history, ["error: failure 0", "error: failure 1"]);
    assert!(crashy.first, "{report}");
    assert_eq!(
        interrupted.entries(),
        ["crashy"],
        "teardown as for a plain actor"
    );
    let error = report.into_result().unwrap_err();
    assert_eq!(error.to_string(), "failure 2");
}

#[test]
fn i13_supervise_intensity_counts_only_restarts_within_the_window() {
    // At most one restart per 10 s. Incarnation 0 fails at t=0 (restarted); incarnation 1 fails
    // at t=10 s, when the first restart has left the window (restarted); incarnation 2 fails at
    // once, at t=10 s, one too many: the actor gives up.
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock.clone());
    let (started, started_rx) = mpsc::channel();
    let (fail_tx, fail_rx) = mpsc::channel::<()>();
    let fail_rx = Arc::new(Mutex::new(fail_rx));
    let restart = at_once(Restart::transient()).intensity(1, Duration::from_secs(10));
    let calls = numbered(group.actor("crashy"), restart, move |n| {
        let (started, fail_rx) = (started.clone(), Arc::clone(&fail_rx));
        (
            move || {
                let _ = started.send(n);
                if n == 1 {
                    let _ = fail_rx.lock().unwrap().recv();
                }
                Err(format!("failure {n}").into())
            },
            |_: &Cause<BoxError>| {},
        )
    });
    let pending = spawn_report(group);
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(0));
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(1));
    clock.advance(Duration::from_secs(10));
    fail_tx.send(()).unwrap();
    let report = pending.join();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let crashy = &report.actors()[0];
    let ended: Vec<Duration> = crashy.restarts.iter().map(|i| i.ended_at).collect();
    assert_eq!(ended, [Duration::ZERO, Duration::from_secs(10)]);
    assert_eq!(describe(&crashy.outcome), "error: failure 2");
    assert_eq!(crashy.exited_at, Some(Duration::from_secs(10)));
}

#[test]
fn i13_supervise_intensity_zero_never_restarts() {
    let mut group = Group::new();
    let restart = Restart::permanent().intensity(0, Duration::ZERO);
    let calls = numbered(group.actor("once"), restart, |_| {
        (|| Err("no".into()), |_: &Cause<BoxError>| {})
    });
    let report = report_of(group);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(report.actors()[0].restarts.is_empty());
    assert_eq!(report.into_result().unwrap_err().to_string(), "no");
}

#[test]
fn i13_supervise_backoff_is_measured_on_the_group_clock_and_doubles() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock.clone());
    let seen = watch(&mut group);
    let log = Log::new();
    let (started, started_rx) = mpsc::channel();
    // When each incarnation was built, on the group's clock.
    let built = Arc::new(Mutex::new(Vec::new()));
    let restart = Restart::transient()
        .backoff(Duration::from_secs(10), Duration::from_secs(15))
        .intensity(5, Duration::from_secs(3600));
    numbered(group.actor("slow"), restart, {
        let (log, built, clock) = (log.clone(), Arc::clone(&built), clock.clone());
        move |n| {
            built.lock().unwrap().push(clock.now());
            match n {
                0 | 1 => ending(n, &log, move || Err(format!("failure {n}").into())),
                n => waiting(n, &log, &started),
            }
        }
    });
    let stop = group.stop_handle();
    let pending = spawn_report(group);

    let first = next_restart(&seen);
    let Seen::Restarting { backoff, text, .. } = &first else {
        unreachable!()
    };
    assert_eq!(*backoff, Duration::from_secs(10));
    assert_eq!(
        text,
        "actor 'slow' restarting in 10.000 s: incarnation 0 ended: error"
    );
    // 9 s is not enough; the clock reaching 10 s is.
    clock.advance(Duration::from_secs(9));
    clock.advance(Duration::from_secs(1));
    // Doubled, then capped at 15 s.
    let Seen::Restarting {
        incarnation,
        backoff,
        ..
    } = next_restart(&seen)
    else {
        unreachable!()
    };
    assert_eq!((incarnation, backoff), (1, Duration::from_secs(15)));
    clock.advance(Duration::from_secs(15));
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(2));
    stop.stop("done");
    let report = pending.join();

    assert_eq!(
        *built.lock().unwrap(),
        [
            Duration::ZERO,
            Duration::from_secs(10),
            Duration::from_secs(25)
        ],
        "each incarnation is built only once its backoff has passed on the group's clock"
    );
    let slow = &report.actors()[0];
    let ended: Vec<Duration> = slow.restarts.iter().map(|i| i.ended_at).collect();
    assert_eq!(ended, [Duration::ZERO, Duration::from_secs(10)]);
    assert_eq!(slow.exited_at, Some(Duration::from_secs(25)));
}

#[test]
fn i13_supervise_interrupt_reaches_the_current_incarnation_only() {
    let mut group = Group::new();
    let log = Log::new();
    let drops = Drops::new();
    let (started, started_rx) = mpsc::channel();
    numbered(group.actor("worker"), at_once(Restart::transient()), {
        let (log, drops) = (log.clone(), drops.clone());
        move |n| {
            let (execute, interrupt) = if n < 2 {
                ending(n, &log, || Err("again".into()))
            } else {
                waiting(n, &log, &started)
            };
            // Every incarnation's interrupt owns a guard: called or not, it is dropped.
            let guard = drops.guard();
            (execute, move |cause: &Cause<BoxError>| {
                let _guard = guard;
                interrupt(cause);
            })
        }
    });
    let stop = group.stop_handle();
    let pending = spawn_report(group);
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(2));
    stop.stop("deploy");
    let report = pending.join();
    assert_eq!(log.entries(), ["interrupted 2", "returned 2"]);
    assert_eq!(drops.count(), 3, "every incarnation's interrupt is gone");
    assert_eq!(report.actors()[0].restarts.len(), 2);
    assert!(report.actors()[0].drop_panics.is_empty());
    assert!(report.into_result().is_ok());
}

#[test]
fn i13_supervise_no_restart_once_teardown_has_begun() {
    // The supervised actor is in a later stage, in an hour-long backoff on a clock nobody
    // advances. Stage 0 cannot drain until it has exited, so its own interrupt (stage 1) cannot
    // be what ends the backoff: only teardown beginning can. Without that, `run` would hang.
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock);
    let later = group.stage("later").id();
    let seen = watch(&mut group);
    let hour = Duration::from_secs(3600);
    let restart = Restart::permanent().backoff(hour, hour);
    let calls = numbered(group.actor("sleeper").stage(later), restart, |_| {
        (|| Err("down".into()), |_: &Cause<BoxError>| {})
    });
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    group.actor("trigger").stage(Stage::DEFAULT).add(
        move || {
            let _ = exit_rx.recv();
            Ok(())
        },
        |_| {},
    );
    // Stage 0 also holds an actor that returns only once the sleeper has exited.
    let gate = Latch::new();
    let waiter = gate.waiter();
    group.actor("gate").add(
        move || {
            waiter.wait();
            Ok(())
        },
        |_| {},
    );
    let pending = spawn_report(group);
    let Seen::Restarting { actor, .. } = next_restart(&seen) else {
        unreachable!()
    };
    assert_eq!(actor, "sleeper");
    exit_tx.send(()).unwrap();
    loop {
        if seen.recv_timeout(FUSE).expect("the sleeper never exited")
            == Seen::Exited("sleeper".into())
        {
            break;
        }
    }
    gate.release();
    let report = pending.join();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no restart after the trigger"
    );
    let sleeper = &report.actors()[0];
    assert!(sleeper.restarts.is_empty(), "{report}");
    assert_eq!(describe(&sleeper.outcome), "error: down");
    assert!(!sleeper.first);
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 1 });
}

#[test]
fn i13_supervise_panicking_factory_counts_as_a_panicking_incarnation() {
    // Restarted after the factory's panic.
    let mut group = Group::new();
    let log = Log::new();
    let (started, started_rx) = mpsc::channel();
    numbered(group.actor("builder"), at_once(Restart::transient()), {
        let log = log.clone();
        move |n| {
            assert!(n > 0, "factory broke");
            waiting(n, &log, &started)
        }
    });
    let stop = group.stop_handle();
    let pending = spawn_report(group);
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(1));
    stop.stop("done");
    let report = pending.join();
    let builder = &report.actors()[0];
    let history: Vec<String> = builder
        .restarts
        .iter()
        .map(|i| describe(&i.outcome))
        .collect();
    assert_eq!(history, ["panicked: factory broke"]);
    assert!(matches!(builder.outcome, Outcome::Ok));

    // A factory that always panics: the last panic, after the intensity limit, is resumed.
    let mut group = Group::new();
    let restart = at_once(Restart::transient()).intensity(1, Duration::from_secs(60));
    group
        .actor("broken")
        .supervise(restart, || -> Pair { panic!("no parts") });
    let payload = run_catching(group).expect_err("the last panic is resumed");
    assert_eq!(payload_text(&payload), "no parts");
}

/// Panics when dropped.
struct Grenade;

impl Drop for Grenade {
    fn drop(&mut self) {
        panic!("interrupt drop exploded");
    }
}

#[test]
fn i13_supervise_panicking_drop_of_an_uncalled_interrupt_is_recorded() {
    let mut group = Group::new();
    let log = Log::new();
    let (started, started_rx) = mpsc::channel();
    numbered(group.actor("messy"), at_once(Restart::transient()), {
        let log = log.clone();
        move |n| {
            let (execute, interrupt) = if n == 0 {
                ending(n, &log, || Err("failed".into()))
            } else {
                waiting(n, &log, &started)
            };
            // Not `then_some`: that would build (and drop) a grenade every time.
            let grenade = if n == 0 { Some(Grenade) } else { None };
            (execute, move |cause: &Cause<BoxError>| {
                let _grenade = grenade;
                interrupt(cause);
            })
        }
    });
    let stop = group.stop_handle();
    let pending = spawn_report(group);
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(1));
    stop.stop("done");
    let report = pending.join();
    let messy = &report.actors()[0];
    let panics: Vec<String> = messy.drop_panics.iter().map(payload_text).collect();
    assert_eq!(panics, ["interrupt drop exploded"]);
    assert_eq!(messy.restarts.len(), 1);
    assert!(matches!(messy.outcome, Outcome::Ok));
    assert_eq!(log.entries(), ["interrupted 1", "returned 1"]);
    assert!(
        report
            .to_string()
            .contains("[drop panicked: interrupt drop exploded]")
    );
}

#[test]
fn i13_supervise_token_restarts_with_one_token_until_interrupted() {
    let mut group = Group::new();
    let (started, started_rx) = mpsc::channel();
    let mut calls = 0;
    group
        .actor("poller")
        .supervise_token(at_once(Restart::permanent()), move |token| {
            calls += 1;
            if calls < 3 {
                return Err(format!("poll {calls} failed").into());
            }
            let _ = started.send(calls);
            token.wait();
            Ok(())
        });
    let stop = group.stop_handle();
    let pending = spawn_report(group);
    assert_eq!(started_rx.recv_timeout(FUSE), Ok(3));
    stop.stop("done");
    let report = pending.join();
    let poller = &report.actors()[0];
    let history: Vec<String> = poller
        .restarts
        .iter()
        .map(|i| describe(&i.outcome))
        .collect();
    assert_eq!(history, ["error: poll 1 failed", "error: poll 2 failed"]);
    assert!(matches!(poller.outcome, Outcome::Ok));
    assert!(report.into_result().is_ok());
}

#[test]
fn i13_supervise_token_stopped_by_the_actor_itself_is_not_restarted() {
    let mut group = Group::new();
    let mut calls = 0;
    group
        .actor("quitter")
        .supervise_token(at_once(Restart::permanent()), move |token| {
            calls += 1;
            token.stop();
            Err(format!("gave up after {calls} call(s)").into())
        });
    let report = report_of(group);
    assert!(report.actors()[0].restarts.is_empty());
    assert_eq!(
        report.into_result().unwrap_err().to_string(),
        "gave up after 1 call(s)"
    );
}

/// A restart policy read from a configuration file may be wrong: the group refuses to run with an
/// error naming the actor, nothing started and nothing lost, instead of a panic.
#[test]
fn i13_supervise_bad_restart_policies_are_errors_not_panics() {
    let cases = [
        (
            Restart::transient().backoff(Duration::from_secs(10), Duration::from_secs(1)),
            "longer than its maximum",
        ),
        (
            Restart::transient().intensity(3, Duration::ZERO),
            "within zero time",
        ),
    ];
    for (restart, problem) in cases {
        assert!(restart.check().unwrap_err().contains(problem));
        let mut group = Group::new();
        let worker_ran = Arc::new(AtomicUsize::new(0));
        {
            let ran = Arc::clone(&worker_ran);
            group.actor("worker").add_token(move |token| {
                ran.fetch_add(1, Ordering::SeqCst);
                token.wait();
                Ok(())
            });
        }
        let built = numbered(group.actor("consumer"), restart, |_| {
            (|| Ok(()), |_: &Cause<BoxError>| {})
        });
        let report = report_of(group);
        assert_eq!(built.load(Ordering::SeqCst), 0, "the factory was called");
        match report.error() {
            Some(rungroup::Error::Spawn { actor, source }) => {
                assert_eq!(actor, "consumer");
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput);
                assert!(source.to_string().contains(problem), "{source}");
            }
            other => panic!("expected a spawn error, got {other:?}"),
        }
        // The actor started before it is torn down and joined, as after any failed start (F03).
        assert!(worker_ran.load(Ordering::SeqCst) <= 1);
        assert!(matches!(report.actors()[1].outcome, Outcome::NotStarted));
    }
    let custom = Restart::transient().intensity(0, Duration::ZERO);
    assert!(custom.check().is_ok(), "zero restarts need no window");
}

#[test]
fn i13_supervise_restart_defaults_and_display() {
    assert_eq!(
        Restart::transient().to_string(),
        "transient, backoff 100ms to 10s, at most 5 restarts in 60s"
    );
    assert_eq!(
        Restart::permanent().to_string(),
        "permanent, backoff 100ms to 10s, at most 5 restarts in 60s"
    );
    let custom = Restart::permanent()
        .backoff(Duration::ZERO, Duration::ZERO)
        .intensity(0, Duration::ZERO);
    assert_eq!(custom.clone(), custom);
    assert_ne!(custom, Restart::permanent());
    assert!(format!("{custom:?}").starts_with("Restart {"));
}
