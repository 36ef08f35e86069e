//! Supervision (issue 13): a restart racing teardown.
//!
//! The supervised actor `s` restarts at once (zero backoff: no clock in the model). Its first
//! incarnation fails at once; every later one runs until its own interrupt. Teardown comes from
//! another actor's exit or from a stop request, racing the restart. Whatever the interleaving:
//! `run` returns (a restarted incarnation that the actor's interrupt missed would wait forever:
//! loom reports the deadlock), at most one incarnation is interrupted, exactly once, and it is
//! the last one built, which started; every incarnation's interrupt is dropped by the end; the
//! report's history holds every incarnation but the last.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use rungroup::{BoxError, Cause, Group, Outcome, Restart, StopToken, Trigger};
use std::time::Duration;

use crate::common::{check, name};

/// What the supervised actor's incarnations did, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The factory built incarnation `n`.
    Built(usize),
    /// Incarnation `n`'s execute began.
    Started(usize),
    /// Incarnation `n`'s interrupt was called.
    Interrupted(usize),
}

/// The supervised actor's record.
#[derive(Debug, Default)]
struct Life {
    steps: Mutex<Vec<Step>>,
    /// Interrupts of incarnations dropped, called or not.
    dropped: AtomicUsize,
}

impl Life {
    fn log(&self, step: Step) {
        self.steps.lock().unwrap().push(step);
    }
}

/// Counts its drop in [`Life::dropped`].
struct Dropped(Arc<Life>);

impl Drop for Dropped {
    fn drop(&mut self) {
        // ORDERING: read after `run` returned, which happens-after the actor's thread and the
        // lanes (R08).
        self.0.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Adds the supervised actor as actor `index`: incarnation 0 fails at once, every later one
/// waits for its interrupt.
fn add_supervised(group: &mut Group, index: usize, life: &Arc<Life>) {
    let life = Arc::clone(life);
    let mut built = 0;
    let restart = Restart::transient().backoff(Duration::ZERO, Duration::ZERO);
    group.actor(name(index)).supervise(restart, move || {
        let n = built;
        built += 1;
        life.log(Step::Built(n));
        let token = StopToken::new();
        let stopper = token.clone();
        let (execute_life, guard) = (Arc::clone(&life), Dropped(Arc::clone(&life)));
        let execute = move || -> Result<(), BoxError> {
            execute_life.log(Step::Started(n));
            if n == 0 {
                return Err("first incarnation failed".into());
            }
            token.wait();
            Ok(())
        };
        let interrupt = move |_: &Cause<BoxError>| {
            let guard = &guard;
            guard.0.log(Step::Interrupted(n));
            stopper.stop();
        };
        (execute, interrupt)
    });
}

/// The checks every model makes of the supervised actor, whose report line is `actor`.
fn check_life(life: &Life, actor: &rungroup::ActorReport<BoxError>) {
    let steps = life.steps.lock().unwrap().clone();
    let built = steps
        .iter()
        .filter(|step| matches!(step, Step::Built(_)))
        .count();
    let started: Vec<usize> = steps
        .iter()
        .filter_map(|step| match step {
            Step::Started(n) => Some(*n),
            _ => None,
        })
        .collect();
    let interrupted: Vec<usize> = steps
        .iter()
        .filter_map(|step| match step {
            Step::Interrupted(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert!(
        interrupted.len() <= 1,
        "i13: the actor's one interrupt reached several incarnations: {steps:?}"
    );
    if let Some(&last) = started.last() {
        if last > 0 {
            assert_eq!(
                interrupted,
                [last],
                "i13: incarnation {last} started but the actor's interrupt did not reach it \
                 exactly once: {steps:?}"
            );
        }
    }
    if let Some(&n) = interrupted.first() {
        assert!(
            started.contains(&n) && n + 1 == built,
            "i13: the interrupt reached incarnation {n}, not the current one: {steps:?}"
        );
    }
    // An incarnation built after the teardown was decided is dropped, never started.
    assert!(
        started.len() == built || started.len() + 1 == built,
        "{steps:?}"
    );
    assert_eq!(
        life.dropped.load(Ordering::Relaxed),
        built,
        "R11: every incarnation's interrupt is dropped by the end: {steps:?}"
    );
    // The history: every started incarnation but the last, which is the actor's outcome.
    assert_eq!(
        actor.restarts.len(),
        started.len().saturating_sub(1),
        "{steps:?}"
    );
    assert!(
        actor
            .restarts
            .iter()
            .all(|incarnation| matches!(incarnation.outcome, Outcome::Err(_))),
        "only incarnation 0 fails on its own"
    );
    match started.len() {
        // Interrupted before its first incarnation was built, or its factory's product refused.
        0 => assert!(matches!(actor.outcome, Outcome::Ok), "{:?}", actor.outcome),
        1 => assert!(
            matches!(actor.outcome, Outcome::Err(_)),
            "{:?}",
            actor.outcome
        ),
        _ => assert!(matches!(actor.outcome, Outcome::Ok), "{:?}", actor.outcome),
    }
    assert!(
        !actor.first,
        "i13: s never exits first: it restarts unless teardown has begun"
    );
}

/// i13 (also R04, R08, R11): a supervised actor's restart races another actor's first exit.
/// Actor `a` returns `Err` at once; the supervised `s`'s first incarnation fails at once and is
/// restarted with no backoff unless teardown has begun or `s`'s interrupt has come. Threads:
/// caller, `a` (then the hook lane), `s`.
#[test]
fn i13_supervise_restart_races_a_first_exit() {
    check("i13_supervise_restart_races_a_first_exit", || {
        let life = Arc::new(Life::default());
        let mut group = Group::new();
        group
            .actor(name(0))
            .add(|| Err("a failed".into()), |_: &Cause<BoxError>| {});
        add_supervised(&mut group, 1, &life);
        let report = group.run_with_report();
        assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
        assert!(report.error().is_none(), "{:?}", report.error());
        check_life(&life, &report.actors()[1]);
    });
}

/// i13 (also T01, R08): a supervised actor's restart races a stop request from another thread.
/// The supervised `s` is the only actor; it is restarted unless the request has triggered
/// teardown. Threads: caller, `s`, the requester, the hook lane (spawned for the request).
#[test]
fn i13_supervise_restart_races_a_stop_request() {
    check("i13_supervise_restart_races_a_stop_request", || {
        let life = Arc::new(Life::default());
        let mut group = Group::new();
        add_supervised(&mut group, 0, &life);
        let stop = group.stop_handle();
        let requester = loom::thread::spawn(move || stop.stop("deploy"));
        let report = group.run_with_report();
        requester.join().unwrap();
        assert_eq!(
            report.trigger(),
            &Trigger::Stop {
                reason: "deploy".into()
            }
        );
        assert!(report.error().is_none(), "{:?}", report.error());
        check_life(&life, &report.actors()[0]);
    });
}
