//! Issue 13: readiness handles, the group's readiness, and the lame-duck delay. (The systemd
//! notifier is tested against a real notify socket in `process.rs`; supervision in
//! `supervise.rs`.)
//!
//! No test sleeps: actors move on commands from channels, deadlines run on a `ManualClock`, and
//! the events (as their one-line text) tell the test what the group has done.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rungroup::{Escalation, Group, ManualClock, Readiness, StopToken};

use crate::common::{FUSE, report_of, spawn_report};

/// Every event's text, in the order emitted.
struct Texts {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn texts<E: Send + Sync + 'static>(group: &mut Group<E>) -> Texts {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    group.observe(move |event| {
        let _ = tx.lock().unwrap().send(event.to_string());
    });
    Texts {
        rx,
        seen: Vec::new(),
    }
}

impl Texts {
    /// Blocks until an event whose text starts with `wanted` came (now or before).
    fn wait_for(&mut self, wanted: &str) {
        if self.seen.iter().any(|text| text.starts_with(wanted)) {
            return;
        }
        loop {
            match self.rx.recv_timeout(FUSE) {
                Ok(text) => {
                    let found = text.starts_with(wanted);
                    self.seen.push(text);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("no event {wanted:?}; saw {:?}", self.seen),
            }
        }
    }

    /// The readiness events so far, in order.
    fn readiness(&mut self) -> Vec<String> {
        self.seen.extend(self.rx.try_iter());
        self.seen
            .iter()
            .filter(|text| *text == "ready" || text.starts_with("not ready"))
            .cloned()
            .collect()
    }
}

/// An actor that runs until interrupted, running `on_command` for each command it receives.
fn commanded(group: &mut Group, name: &str) -> mpsc::Sender<Box<dyn FnOnce() + Send>> {
    let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let token = StopToken::new();
    let stopper = token.clone();
    let (wake_tx, wake_rx) = (tx.clone(), Mutex::new(Some(rx)));
    group.actor(name).add(
        move || {
            let rx = wake_rx.lock().unwrap().take().unwrap();
            while let Ok(command) = rx.recv() {
                if token.is_stopped() {
                    break;
                }
                command();
            }
            Ok(())
        },
        move |_| {
            stopper.stop();
            let _ = wake_tx.send(Box::new(|| {}));
        },
    );
    tx
}

/// Runs `f` on the actor behind `commands` and waits until it ran.
fn on_actor(commands: &mpsc::Sender<Box<dyn FnOnce() + Send>>, f: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    commands
        .send(Box::new(move || {
            f();
            let _ = done_tx.send(());
        }))
        .unwrap();
    done_rx.recv_timeout(FUSE).unwrap();
}

#[test]
fn i13_ready_once_every_handle_is_set_and_not_ready_from_the_trigger() {
    let mut group = Group::new();
    let mut events = texts(&mut group);
    let (http, db) = (group.ready_handle("http"), group.ready_handle("db"));
    let readiness = group.readiness();
    let commands = commanded(&mut group, "server");
    let stop = group.stop_handle();
    let pending = spawn_report(group);

    // Both handles unset: running, but not ready.
    on_actor(&commands, || {});
    assert!(!readiness.is_ready());
    on_actor(&commands, move || http.ready());
    assert!(!readiness.is_ready(), "one handle of two is not ready");
    on_actor(&commands, move || db.ready());
    assert!(readiness.wait_ready_timeout(FUSE));
    events.wait_for("ready");

    stop.stop("deploy");
    let report = pending.join();
    assert!(!readiness.is_ready());
    assert_eq!(events.readiness(), ["ready", "not ready: teardown"]);
    assert!(report.ready_at().is_some());
    assert_eq!(report.never_ready().count(), 0);
    assert!(report.to_string().contains("ready at "), "{report}");
}

#[test]
fn i13_a_group_without_handles_is_ready_once_every_actor_started() {
    let mut group = Group::new();
    let readiness = group.readiness();
    let stop = group.stop_handle();
    let watcher = readiness.clone();
    group.actor("probe").add(
        move || {
            watcher.wait_ready();
            stop.stop("ready seen");
            Ok(())
        },
        |_| {},
    );
    group.actor("server").add_token(|token| {
        token.wait();
        Ok(())
    });
    let report = spawn_report(group).join();
    assert!(report.ready_at().is_some());
    assert!(!readiness.is_ready(), "not ready once the run is over");
    assert!(report.into_result().is_ok());
}

/// Issue 13 (and the cost work of issue 12): a group whose readiness nothing can see but its
/// report (no handle, no watcher, no observer) skips the readiness bookkeeping, and reports the
/// same as one that is watched: ready from the moment every actor ran, nothing never ready.
/// A handle declared and dropped unset still keeps the group from ever being ready. (With the
/// `tracing` or `log` feature someone always listens, so `cargo test` runs the quiet path and
/// `cargo test --all-features` the other.)
#[test]
fn i13_an_unwatched_group_reports_its_readiness_as_a_watched_one() {
    let run = |watched: bool, dropped_handle: bool| {
        let clock = ManualClock::new();
        clock.advance(Duration::from_secs(7));
        let mut group = Group::new();
        group.clock(clock.clone());
        let watcher = watched.then(|| group.readiness());
        if dropped_handle {
            drop(group.ready_handle("db"));
        }
        group.actor("job").add(|| Err("done".into()), |_| {});
        let report = report_of(group);
        drop(watcher);
        (
            report.ready_at(),
            report.never_ready().map(str::to_owned).collect::<Vec<_>>(),
        )
    };
    let started = Some(Duration::from_secs(7)); // the manual clock's time when the run began
    assert_eq!(run(false, false), (started, Vec::<String>::new()));
    assert_eq!(run(true, false), (started, Vec::<String>::new()));
    assert_eq!(run(false, true), (None, vec!["db".to_owned()]));
    assert_eq!(run(true, true), (None, vec!["db".to_owned()]));
}

#[test]
fn i13_clearing_a_handle_makes_the_group_not_ready_until_it_is_set_again() {
    let mut group = Group::new();
    let mut events = texts(&mut group);
    let db = Arc::new(group.ready_handle("db"));
    let readiness = group.readiness();
    let commands = commanded(&mut group, "server");
    let stop = group.stop_handle();
    let pending = spawn_report(group);

    let handle = Arc::clone(&db);
    on_actor(&commands, move || handle.ready());
    assert!(readiness.wait_ready_timeout(FUSE));
    let handle = Arc::clone(&db);
    on_actor(&commands, move || handle.not_ready());
    assert!(!readiness.is_ready());
    let handle = Arc::clone(&db);
    on_actor(&commands, move || handle.ready());
    assert!(readiness.is_ready());
    stop.stop("done");
    let report = pending.join();
    assert_eq!(
        events.readiness(),
        [
            "ready",
            "not ready: 'db' not ready",
            "ready",
            "not ready: teardown"
        ]
    );
    assert_eq!(db.name(), "db");
    assert!(report.ready_at().is_some());
}

#[test]
fn i13_a_handle_never_set_is_reported_and_the_group_never_ready() {
    let mut group = Group::new();
    let mut events = texts(&mut group);
    let _db = group.ready_handle("db");
    let cache = group.ready_handle("cache");
    cache.ready(); // before `run`: counts once the group runs
    let readiness = group.readiness();
    group.actor("init").add(|| Err("bad config".into()), |_| {});
    let report = spawn_report(group).join();
    assert!(!readiness.is_ready());
    assert_eq!(report.ready_at(), None);
    assert_eq!(report.never_ready().collect::<Vec<_>>(), ["db"]);
    assert!(report.to_string().contains("never ready: db"), "{report}");
    assert!(events.readiness().is_empty(), "{:?}", events.seen);
    assert_eq!(report.into_result().unwrap_err().to_string(), "bad config");
}

/// Interrupts see a group that is already not ready: load balancers are told before any server
/// stops accepting.
#[test]
fn i13_interrupts_run_after_the_group_is_not_ready() {
    let mut group = Group::new();
    let readiness = group.readiness();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for name in ["a", "b"] {
        let (readiness, seen) = (readiness.clone(), Arc::clone(&seen));
        let token = StopToken::new();
        let waiter = token.clone();
        group.actor(name).add(
            move || {
                waiter.wait();
                Ok(())
            },
            move |_| {
                seen.lock().unwrap().push(readiness.is_ready());
                token.stop();
            },
        );
    }
    let stop = group.stop_handle();
    let watcher = readiness.clone();
    let pending = spawn_report(group);
    assert!(watcher.wait_ready_timeout(FUSE));
    stop.stop("deploy");
    let _ = pending.join();
    assert_eq!(*seen.lock().unwrap(), [false, false]);
}

fn lame_duck_group(
    clock: &ManualClock,
    delay: Duration,
) -> (Group, Texts, mpsc::Receiver<&'static str>, Readiness) {
    let mut group = Group::new();
    group.clock(clock.clone()).lame_duck(delay);
    let events = texts(&mut group);
    let (tx, rx) = mpsc::channel();
    let token = StopToken::new();
    let waiter = token.clone();
    group.actor("server").add(
        move || {
            waiter.wait();
            Ok(())
        },
        move |_| {
            let _ = tx.send("interrupted");
            token.stop();
        },
    );
    let readiness = group.readiness();
    (group, events, rx, readiness)
}

/// The lame-duck delay: not ready at the trigger, then `delay` on the group's clock before the
/// first interrupt. On a manual clock nothing can interrupt the server until the test advances
/// it, so the check that no interrupt came before is exact.
#[test]
fn i13_lame_duck_waits_its_delay_not_ready_before_the_first_stage() {
    let clock = ManualClock::new();
    let (group, mut events, interrupted, readiness) =
        lame_duck_group(&clock, Duration::from_secs(5));
    let stop = group.stop_handle();
    let pending = spawn_report(group);
    assert!(readiness.wait_ready_timeout(FUSE));
    stop.stop("SIGTERM from the kubelet");
    events.wait_for("lame duck: 5.000 s before the first stage");
    assert!(!readiness.is_ready());
    clock.advance(Duration::from_secs(4));
    assert!(
        interrupted.try_recv().is_err(),
        "interrupted before the lame-duck delay ended"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(interrupted.recv_timeout(FUSE), Ok("interrupted"));
    let report = pending.join();
    assert_eq!(report.lame_duck(), Some(Duration::from_secs(5)));
    assert_eq!(events.readiness(), ["ready", "not ready: teardown"]);
    let order: Vec<&String> = events
        .seen
        .iter()
        .filter(|text| text.starts_with("not ready") || text.starts_with("lame duck"))
        .collect();
    assert_eq!(order.len(), 2);
    assert!(order[0].starts_with("not ready"), "{order:?}");
    assert!(
        report.to_string().contains("lame duck: 5.000 s"),
        "{report}"
    );
    assert!(report.into_result().is_ok());
}

/// A second stop request cuts the delay short and escalates, as anywhere in teardown.
#[test]
fn i13_lame_duck_is_cut_short_by_a_second_stop_request() {
    let clock = ManualClock::new();
    let (group, mut events, interrupted, _readiness) =
        lame_duck_group(&clock, Duration::from_secs(3600));
    let stop = group.stop_handle();
    let pending = spawn_report(group);
    stop.stop("first");
    events.wait_for("lame duck");
    stop.stop("second");
    assert_eq!(interrupted.recv_timeout(FUSE), Ok("interrupted"));
    let report = pending.join();
    assert_eq!(report.lame_duck(), Some(Duration::ZERO));
    assert!(matches!(
        report.stages()[0].escalation,
        Some(Escalation::Request(_))
    ));
}

/// The delay counts against the budget: once the budget is spent, teardown escalates.
#[test]
fn i13_lame_duck_counts_against_the_budget() {
    let clock = ManualClock::new();
    let (mut group, mut events, interrupted, _readiness) =
        lame_duck_group(&clock, Duration::from_secs(60));
    group.budget(Duration::from_secs(20));
    let stop = group.stop_handle();
    let pending = spawn_report(group);
    stop.stop("deploy");
    events.wait_for("lame duck");
    clock.advance(Duration::from_secs(20));
    assert_eq!(interrupted.recv_timeout(FUSE), Ok("interrupted"));
    let report = pending.join();
    assert_eq!(report.lame_duck(), Some(Duration::from_secs(20)));
    assert_eq!(report.stages()[0].escalation, Some(Escalation::Budget));
}

/// Nothing serves after a failed start: no delay (an hour here would hang the test).
#[test]
fn i13_lame_duck_is_skipped_when_the_start_failed() {
    let mut group = Group::new();
    group.lame_duck(Duration::from_secs(3600));
    group.actor("server").add_token(|token| {
        token.wait();
        Ok(())
    });
    group.actor("bad\0name").add(|| Ok(()), |_| {});
    let report = spawn_report(group).join();
    assert_eq!(report.lame_duck(), None);
    assert_eq!(report.ready_at(), None);
    assert!(report.into_result().is_err());
}

/// `Group::lame_duck` says the delay is skipped when every actor is already gone: nothing serves,
/// so there is nothing to keep serving. A lone actor that exits is the trigger and leaves nothing
/// running; on a manual clock nobody advances, a delay that is not skipped hangs `run`.
#[test]
fn i13_lame_duck_is_skipped_when_every_actor_is_gone() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock).lame_duck(Duration::from_secs(3600));
    group.actor("job").add(|| Ok(()), |_| {});
    let report = spawn_report(group).join();
    // Skipped, or (if the runner looked before the job had left) cut short at once.
    assert_eq!(
        report.lame_duck().unwrap_or_default(),
        Duration::ZERO,
        "{report}"
    );
    assert!(report.into_result().is_ok());
}

/// A readiness event reaches an inline observer (no budget) with no readiness lock held. Here the
/// observer and an actor share an application lock, the actor holding it while it clears its
/// handle (a status struct updated by both, say): an observer called under the readiness lock
/// waits for the application lock while the actor, holding it, waits for the readiness lock.
#[test]
fn i13_readiness_events_reach_the_observer_outside_the_readiness_lock() {
    let mut group = Group::new();
    let app = Arc::new(Mutex::new(()));
    let (in_observer, observer_entered) = mpsc::channel();
    let (texts_tx, texts_rx) = mpsc::channel();
    {
        let app = Arc::clone(&app);
        let (in_observer, texts_tx) = (Mutex::new(in_observer), Mutex::new(texts_tx));
        group.observe(move |event| {
            let text = event.to_string();
            if text == "ready" {
                let _ = in_observer.lock().unwrap().send(());
                drop(app.lock().unwrap());
            }
            let _ = texts_tx.lock().unwrap().send(text);
        });
    }
    let (a, b) = (group.ready_handle("a"), group.ready_handle("b"));
    let first = commanded(&mut group, "first");
    let second = commanded(&mut group, "second");
    let stop = group.stop_handle();
    let pending = spawn_report(group);

    let a = Arc::new(a);
    let handle = Arc::clone(&a);
    on_actor(&first, move || handle.ready());
    // `first` takes the application lock, then clears `a` once the observer is running.
    let (held_tx, held) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    first
        .send(Box::new(move || {
            let guard = app.lock().unwrap();
            held_tx.send(()).unwrap();
            observer_entered.recv_timeout(FUSE).unwrap();
            a.not_ready();
            drop(guard);
            done_tx.send(()).unwrap();
        }))
        .unwrap();
    held.recv_timeout(FUSE).unwrap();
    // `second` makes the group ready: the `ready` event goes to the observer.
    second.send(Box::new(move || b.ready())).unwrap();
    done.recv_timeout(FUSE)
        .expect("deadlock: the observer was called under the readiness lock");
    stop.stop("done");
    let report = pending.join();
    let readiness: Vec<String> = texts_rx
        .try_iter()
        .filter(|text| text == "ready" || text.starts_with("not ready"))
        .collect();
    assert_eq!(readiness, ["ready", "not ready: 'a' not ready"]);
    assert!(report.ready_at().is_some());
}

/// `never_ready` names the handles that were never set, not those cleared at the end.
#[test]
fn i13_never_ready_does_not_name_a_handle_set_once_and_cleared() {
    let mut group = Group::new();
    let (db, cache) = (group.ready_handle("db"), group.ready_handle("cache"));
    let _never = group.ready_handle("never");
    group.actor("init").add(
        move || {
            db.ready();
            cache.ready();
            cache.not_ready();
            Err("stop".into())
        },
        |_| {},
    );
    let report = spawn_report(group).join();
    assert_eq!(report.never_ready().collect::<Vec<_>>(), ["never"]);
}
