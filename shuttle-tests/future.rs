//! Future actors (issue 12) at scale: groups of 8 to 64 actors that mix thread actors (plain and
//! token) with future actors (plain, token and cancel-safe) across 2 or 3 stages, under shuttle's
//! random and PCT schedulers, driven by `run` (the caller's thread polls the futures) or by
//! `run_async_with_report` on shuttle's own executor (`shuttle::future`).
//!
//! Every schedule draws its own script from shuttle's random source, so a failing schedule replays
//! with the very script it ran: which 1 to 3 actors exit at once and race for the first exit (each
//! `Ok`, `Err` or a panic, of a thread or in a poll), how the others end once interrupted, which
//! interrupts panic, which actors have a force hook, whether the stages have a grace (on a
//! [`ManualClock`] that another thread moves past it as each stage begins) and, with one, which
//! actors ignore their interrupt (a thread until its force hook stops its token, a future until
//! escalation drops it), and whether a stop request from another thread races the exits (and, when
//! it loses, escalates teardown as a second request).
//!
//! The same invariants as the thread-only scenarios in `main.rs`, across kinds:
//! - R03, T01: exactly one cause: one first exit, told so by its own event, and the trigger names
//!   it; or the stop request, which returned `Triggered`.
//! - R04, R05, S01: every interrupt exactly once, stage by stage, registration order within a
//!   stage (the `Interrupting` events, for the group's own token and cancel interrupts too); the
//!   caller's interrupts all see the same cause; none of them runs while another does, unless a
//!   deadline expired (S04 then retires a lane that is inside one).
//! - S01: no interrupt of a stage before every actor of the earlier stages has exited (or, for a
//!   future, was dropped).
//! - S05, issue 12: escalation drops a future still running (`Cancelled`, `escalated`) and never
//!   abandons anything; a thread that ignored its interrupt is escalated, and its force hook
//!   called once; a force hook runs if and only if its actor was escalated; a cancel-safe future
//!   that did not end on its own is `Cancelled`, which is not an error.
//! - Every actor's execute (closure or future) is dropped exactly once.
//! - The report agrees with all of it: outcomes, hook outcomes, stage escalations and expiries,
//!   the run's error (`Escalated` naming exactly the escalated actors, by the first stage's
//!   escalation).

use std::future::pending;
use std::panic;
use std::sync::Arc;
use std::time::Duration;

use rungroup::{
    Cause, Escalation, Event, Group, HookOutcome, ManualClock, Outcome, Stage, StopOutcome,
    StopToken, Trigger,
};
use shuttle::rand::{Rng, thread_rng};
use shuttle::sync::Mutex;

use crate::{E, Failed, explore, iterations};

/// What an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `add`: a thread, with the caller's interrupt.
    Thread,
    /// `add_token`: a thread, with the group's interrupt.
    ThreadToken,
    /// `add_future`: a future, with the caller's interrupt.
    Future,
    /// `add_future_token`: a future, with the group's interrupt.
    FutureToken,
    /// `add_future_cancel`: a future the group drops at its interrupt.
    FutureCancel,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Thread,
        Kind::ThreadToken,
        Kind::Future,
        Kind::FutureToken,
        Kind::FutureCancel,
    ];

    fn is_future(self) -> bool {
        matches!(self, Kind::Future | Kind::FutureToken | Kind::FutureCancel)
    }

    /// The interrupt is the caller's: it records itself.
    fn own_interrupt(self) -> bool {
        matches!(self, Kind::Thread | Kind::Future)
    }
}

/// How an execute ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Ok,
    Err,
    Panic,
}

/// One actor of a script.
#[derive(Clone, Copy, Debug)]
struct Plan {
    kind: Kind,
    stage: usize,
    /// Ends at once, racing the other early actors (and the stop request) for the first exit.
    early: bool,
    end: End,
    /// Ignores its interrupt (scripts with a grace only): a thread returns when its force hook
    /// stops its token (it always has one), a future never ends on its own.
    deaf: bool,
    force: bool,
    interrupt_panics: bool,
}

#[derive(Debug)]
struct Script {
    plans: Vec<Plan>,
    stages: usize,
    /// Every stage has [`GRACE`], and a thread moves the clock past it as each stage begins.
    grace: bool,
    /// A stop request from another thread races the early exits.
    stop: bool,
}

const GRACE: Duration = Duration::from_secs(5);

/// A script for `n` actors in `stages` stages, from shuttle's random source (replayable).
fn draw(n: usize, stages: usize) -> Script {
    let mut rng = thread_rng();
    let grace = rng.gen_bool(0.5);
    let stop = rng.gen_bool(1.0 / 3.0);
    let ends = [End::Ok, End::Err, End::Panic];
    let mut plans: Vec<Plan> = (0..n)
        .map(|_| {
            let kind = Kind::ALL[rng.gen_range(0..Kind::ALL.len())];
            let deaf = grace
                && matches!(kind, Kind::Thread | Kind::Future | Kind::FutureToken)
                && rng.gen_bool(0.25);
            Plan {
                kind,
                stage: rng.gen_range(0..stages),
                early: false,
                end: ends[rng.gen_range(0..ends.len())],
                deaf,
                force: (deaf && kind == Kind::Thread) || rng.gen_bool(0.5),
                interrupt_panics: kind.own_interrupt() && rng.gen_bool(0.125),
            }
        })
        .collect();
    for _ in 0..rng.gen_range(1..=3) {
        let plan = &mut plans[rng.gen_range(0..n)];
        plan.early = true;
        plan.deaf = false;
    }
    Script {
        plans,
        stages,
        grace,
        stop,
    }
}

/// What the actors, their hooks and the observer saw.
struct Seen {
    /// `Interrupting` and `ActorExited` events, in the order the observer got them.
    events: Vec<Ev>,
    /// The caller's interrupts as they were called: actor, the cause's actor and text.
    interrupts: Vec<(usize, Option<String>, String)>,
    /// The caller's interrupt running now, and every pair found running at once.
    in_hook: Option<usize>,
    overlaps: Vec<(usize, usize)>,
    /// Force hook calls.
    forced: Vec<usize>,
    /// Drops of each actor's execute (its closure or its future).
    drops: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Interrupting(usize),
    Exited { actor: usize, first: bool },
}

type Shared = Arc<Mutex<Seen>>;

/// Locks what was seen. A guard dropped while its thread unwinds (an execute that panics drops its
/// [`Guard`] then) poisons the lock without anything being half-written: ignored.
fn lock(seen: &Mutex<Seen>) -> shuttle::sync::MutexGuard<'_, Seen> {
    seen.lock()
        .unwrap_or_else(shuttle::sync::PoisonError::into_inner)
}

/// Counts the drop of the execute that holds it.
struct Guard {
    seen: Shared,
    actor: usize,
}

impl Drop for Guard {
    fn drop(&mut self) {
        lock(&self.seen).drops[self.actor] += 1;
    }
}

/// The index in an actor's name (`a7` → 7).
fn index_of(name: &str) -> usize {
    name[1..].parse().expect("actors are named a<index>")
}

/// How an execute ends, as its plan says.
fn finish(index: usize, end: End) -> Result<(), E> {
    match end {
        End::Ok => Ok(()),
        End::Err => Err(Box::new(Failed(index))),
        End::Panic => panic::panic_any(format!("execute {index}")),
    }
}

/// The caller's interrupt of actor `index`: records itself and the cause, and whether another of
/// these was running meanwhile; stops `stopper`, if it is given; panics last, if told to.
fn interrupt(
    seen: &Shared,
    index: usize,
    stopper: Option<StopToken>,
    panics: bool,
) -> impl FnOnce(&Cause<E>) + Send + 'static {
    let seen = Arc::clone(seen);
    move |cause| {
        {
            let mut seen = lock(&seen);
            if let Some(other) = seen.in_hook {
                seen.overlaps.push((other, index));
            }
            seen.in_hook = Some(index);
            seen.interrupts
                .push((index, cause.actor().map(str::to_owned), cause.to_string()));
        }
        if let Some(stopper) = stopper {
            stopper.stop();
        }
        {
            let mut seen = lock(&seen);
            if seen.in_hook == Some(index) {
                seen.in_hook = None;
            }
        }
        if panics {
            panic::panic_any(format!("interrupt {index}"));
        }
    }
}

/// How the run is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drive {
    /// `run_with_report`: the caller's thread polls the future actors and parks between passes.
    Run,
    /// `run_async_with_report`, spawned as a task on shuttle's executor and awaited by
    /// `shuttle::future::block_on` on this thread.
    Async,
}

/// Adds the script's actors to `group`.
fn add_actors(group: &mut Group, script: &Script, ids: &[Stage], seen: &Shared) {
    for (index, plan) in script.plans.iter().copied().enumerate() {
        let guard = Guard {
            seen: Arc::clone(seen),
            actor: index,
        };
        // The actor's own token: what its execute waits for, unless the group supplies one.
        let token = StopToken::new();
        let mut builder = group.actor(format!("a{index}")).stage(ids[plan.stage]);
        if plan.force {
            let (seen, forcer) = (Arc::clone(seen), token.clone());
            builder = builder.force(move || {
                lock(&seen).forced.push(index);
                forcer.stop();
            });
        }
        let Plan {
            early, end, deaf, ..
        } = plan;
        let stopper = (!deaf).then(|| token.clone());
        // The actor's id is its index: the report is checked by position.
        let _id = match plan.kind {
            Kind::Thread => builder.add(
                move || {
                    let _guard = guard;
                    if !early {
                        token.wait();
                    }
                    finish(index, end)
                },
                interrupt(seen, index, stopper, plan.interrupt_panics),
            ),
            Kind::ThreadToken => builder.add_token(move |token| {
                let _guard = guard;
                if !early {
                    token.wait();
                }
                finish(index, end)
            }),
            Kind::Future => builder.add_future(
                async move {
                    let _guard = guard;
                    if deaf {
                        pending::<()>().await;
                    } else if !early {
                        token.stopped().await;
                    }
                    finish(index, end)
                },
                interrupt(seen, index, stopper, plan.interrupt_panics),
            ),
            Kind::FutureToken => builder.add_future_token(move |token| async move {
                let _guard = guard;
                if deaf {
                    pending::<()>().await;
                } else if !early {
                    token.stopped().await;
                }
                finish(index, end)
            }),
            Kind::FutureCancel => builder.add_future_cancel(async move {
                let _guard = guard;
                if !early {
                    pending::<()>().await;
                }
                finish(index, end)
            }),
        };
    }
}

/// One schedule of `n` mixed actors in `stages` stages, driven as `drive` says.
fn mixed(n: usize, stages: usize, drive: Drive) {
    crate::model::quiet_scripted_panics();
    let script = draw(n, stages);
    let seen: Shared = Arc::new(Mutex::new(Seen {
        events: Vec::new(),
        interrupts: Vec::new(),
        in_hook: None,
        overlaps: Vec::new(),
        forced: Vec::new(),
        drops: vec![0; n],
    }));

    let clock = ManualClock::new();
    let mut group = Group::new();
    // The kill grace never runs out on this clock (the advances add up to `stages` graces):
    // nothing is abandoned, every escalated thread is waited for.
    group
        .clock(clock.clone())
        .kill_grace(Duration::from_secs(3600));
    let ids: Vec<Stage> = std::iter::once(Stage::DEFAULT)
        .chain((1..stages).map(|stage| group.stage(format!("s{stage}")).id()))
        .collect();
    if script.grace {
        for &stage in &ids {
            group.grace(stage, GRACE);
        }
    }
    add_actors(&mut group, &script, &ids, &seen);

    // The observer records the events the checks need, and tells the clock's thread when a stage
    // begins: its advance then passes that stage's deadline.
    let (begun_tx, begun_rx) = shuttle::sync::mpsc::channel();
    let begun_tx = Mutex::new(begun_tx);
    {
        let seen = Arc::clone(&seen);
        group.observe(move |event| match event {
            Event::Interrupting { actor } => {
                let actor = index_of(actor);
                lock(&seen).events.push(Ev::Interrupting(actor));
            }
            Event::ActorExited { actor, first, .. } => {
                let (actor, first) = (index_of(actor), *first);
                lock(&seen).events.push(Ev::Exited { actor, first });
            }
            Event::StageBegun { .. } => {
                let _ = begun_tx.lock().unwrap().send(());
            }
            _ => {}
        });
    }
    let advancer = script.grace.then(|| {
        shuttle::thread::spawn(move || {
            // Ends when the run drops the observer and its sender.
            while begun_rx.recv().is_ok() {
                clock.advance(GRACE);
            }
        })
    });
    let stopper = script.stop.then(|| {
        let stop = group.stop_handle();
        shuttle::thread::spawn(move || stop.stop("race"))
    });

    let report = match drive {
        Drive::Run => group.run_with_report(),
        Drive::Async => {
            let task = shuttle::future::spawn(group.run_async_with_report());
            shuttle::future::block_on(task).expect("the run's task completes")
        }
    };
    let requested = stopper.map(|stopper| stopper.join().unwrap());
    if let Some(advancer) = advancer {
        advancer.join().unwrap();
    }

    check(&script, &report, requested, &lock(&seen));
}

/// Every invariant of the module doc, for one schedule.
fn check(
    script: &Script,
    report: &rungroup::Report<E>,
    requested: Option<StopOutcome>,
    seen: &Seen,
) {
    let plans = &script.plans;
    let n = plans.len();
    let context = || format!("{script:#?}\n{report}");

    // R03, T01: exactly one cause.
    let told: Vec<usize> = seen
        .events
        .iter()
        .filter_map(|event| match *event {
            Ev::Exited { actor, first: true } => Some(actor),
            _ => None,
        })
        .collect();
    let firsts: Vec<usize> = (0..n).filter(|&i| report.actors()[i].first).collect();
    match report.trigger() {
        Trigger::Exit { actor } => {
            assert!(
                plans[*actor].early,
                "the winner did not exit early\n{}",
                context()
            );
            assert_eq!(told, [*actor], "R03: winners told\n{}", context());
            assert_eq!(firsts, [*actor], "R03: first exits\n{}", context());
            assert_ne!(requested, Some(StopOutcome::Triggered), "{}", context());
        }
        Trigger::Stop { reason } => {
            assert_eq!(reason, "race");
            assert_eq!(requested, Some(StopOutcome::Triggered), "{}", context());
            assert!(told.is_empty() && firsts.is_empty(), "{}", context());
        }
        other => panic!("trigger {other:?}\n{}", context()),
    }

    // R04, R05, S01: every interrupt once, stage by stage, registration order within a stage.
    // Within a stage whose grace expired, the order is that of the calls' start only up to S04's
    // retirement: a lane taken to be inside a hook when the deadline passes is left to it, and the
    // interrupts queued behind it go on without it, so they may start first (see `retired`).
    let interrupting: Vec<usize> = seen
        .events
        .iter()
        .filter_map(|event| match *event {
            Ev::Interrupting(actor) => Some(actor),
            Ev::Exited { .. } => None,
        })
        .collect();
    let own: Vec<usize> = seen.interrupts.iter().map(|&(actor, ..)| actor).collect();
    let stages: Vec<usize> = interrupting.iter().map(|&i| plans[i].stage).collect();
    assert!(
        stages.is_sorted(),
        "S01: interrupts {interrupting:?}\n{}",
        context()
    );
    for (stage, summary) in report.stages().iter().enumerate() {
        let want: Vec<usize> = (0..n).filter(|&i| plans[i].stage == stage).collect();
        let want_own: Vec<usize> = want
            .iter()
            .copied()
            .filter(|&i| plans[i].kind.own_interrupt())
            .collect();
        let of_stage = |calls: &[usize]| -> Vec<usize> {
            let mut calls: Vec<usize> = calls
                .iter()
                .copied()
                .filter(|&i| plans[i].stage == stage)
                .collect();
            if summary.expired {
                calls.sort_unstable();
            }
            calls
        };
        assert_eq!(
            of_stage(&interrupting),
            want,
            "R04/R05: stage {stage}'s interrupts, all calls {interrupting:?}\n{}",
            context()
        );
        assert_eq!(
            of_stage(&own),
            want_own,
            "R04/R05: stage {stage}'s interrupts as they ran, all {own:?}\n{}",
            context()
        );
    }
    // R06: one cause for all of them, the trigger's.
    let cause_actor = match report.trigger() {
        Trigger::Exit { actor } => Some(format!("a{actor}")),
        _ => None,
    };
    for (actor, from, text) in &seen.interrupts {
        assert_eq!(
            from,
            &cause_actor,
            "a{actor}'s cause: {text}\n{}",
            context()
        );
        assert_eq!(
            text,
            &seen.interrupts[0].2,
            "a{actor}'s cause\n{}",
            context()
        );
    }
    let expired = report.stages().iter().any(|stage| stage.expired);
    assert!(
        seen.overlaps.is_empty() || expired,
        "R05: interrupts {:?} ran at once, with no deadline passed\n{}",
        seen.overlaps,
        context()
    );

    // S01: a stage's interrupts only once every actor of the stages before it has exited.
    let mut exited = vec![0usize; n];
    for event in &seen.events {
        match *event {
            Ev::Exited { actor, .. } => exited[actor] += 1,
            Ev::Interrupting(actor) => {
                let stage = plans[actor].stage;
                let early = (0..n).find(|&i| plans[i].stage < stage && exited[i] == 0);
                assert!(
                    early.is_none(),
                    "S01: a{actor} (stage {stage}) interrupted before a{} exited\n{}",
                    early.unwrap_or_default(),
                    context()
                );
            }
        }
    }
    assert_eq!(exited, vec![1; n], "one exit event each\n{}", context());

    // Every execute dropped exactly once.
    assert_eq!(seen.drops, vec![1; n], "drops per actor\n{}", context());

    // Each actor's line.
    let mut forced = seen.forced.clone();
    forced.sort_unstable();
    let mut want_forced = Vec::new();
    for (index, (plan, actor)) in plans.iter().zip(report.actors()).enumerate() {
        let line = || format!("a{index}: {plan:?}\n{}", context());
        assert_eq!(actor.stage, plan.stage, "{}", line());
        assert!(actor.drop_panics.is_empty(), "{}", line());
        assert!(actor.exited_at.is_some(), "{}", line());
        let interrupt = if plan.interrupt_panics {
            "panicked"
        } else {
            "returned"
        };
        assert_eq!(actor.interrupt.label(), interrupt, "{}", line());
        if let HookOutcome::Panicked(payload) = &actor.interrupt {
            assert_eq!(
                payload.downcast_ref::<String>(),
                Some(&format!("interrupt {index}")),
                "{}",
                line()
            );
        }
        // S05: who is escalated, and what that does to each kind.
        if plan.deaf {
            assert!(
                actor.escalated,
                "a deaf actor was not escalated\n{}",
                line()
            );
        }
        if actor.first || (plan.early && plan.kind.is_future()) {
            // A future that ends at once ends in the first pass, before any teardown.
            assert!(!actor.escalated, "{}", line());
        }
        let cancelled = plan.kind.is_future()
            && (actor.escalated || plan.kind == Kind::FutureCancel && !plan.early);
        match &actor.outcome {
            Outcome::Cancelled => assert!(cancelled, "cancelled\n{}", line()),
            _ if cancelled => panic!("not cancelled: {:?}\n{}", actor.outcome, line()),
            Outcome::Ok => assert_eq!(plan.end, End::Ok, "{}", line()),
            Outcome::Err(error) => {
                assert_eq!(plan.end, End::Err, "{}", line());
                let from = error.downcast_ref::<Failed>().map(|failed| failed.0);
                assert_eq!(from, Some(index), "{}", line());
            }
            Outcome::Panicked(payload) => {
                assert_eq!(plan.end, End::Panic, "{}", line());
                assert_eq!(
                    payload.downcast_ref::<String>(),
                    Some(&format!("execute {index}")),
                    "{}",
                    line()
                );
            }
            other => panic!("outcome {other:?}\n{}", line()),
        }
        let force = match (plan.force, actor.escalated) {
            (true, true) => {
                want_forced.push(index);
                "returned"
            }
            _ => "not called",
        };
        assert_eq!(actor.force.label(), force, "{}", line());
        if actor.escalated {
            let escalation = &report.stages()[plan.stage].escalation;
            assert!(
                escalation.is_some(),
                "escalated in a calm stage\n{}",
                line()
            );
        }
    }
    assert_eq!(forced, want_forced, "force hooks, each once\n{}", context());

    // S04: stage escalations; the run's error.
    assert_eq!(report.stages().len(), script.stages, "{}", context());
    for (stage, summary) in report.stages().iter().enumerate() {
        match &summary.escalation {
            None => assert!(!summary.expired, "{}", context()),
            Some(Escalation::Grace { stage: name }) => {
                assert!(script.grace && summary.expired, "{}", context());
                assert_eq!(name, &report.stages()[stage].name);
            }
            Some(Escalation::Request(Trigger::Stop { reason })) => {
                assert_eq!(reason, "race");
                assert_eq!(requested, Some(StopOutcome::Escalated), "{}", context());
                assert!(!summary.expired, "{}", context());
            }
            Some(other) => panic!("stage {stage} escalated by {other:?}\n{}", context()),
        }
    }
    assert_eq!(report.abandoned().count(), 0, "{}", context());
    let escalated: Vec<&str> = report.escalated().collect();
    match report.error() {
        None => assert!(escalated.is_empty(), "{}", context()),
        Some(rungroup::Error::Escalated { actors, by, .. }) => {
            assert_eq!(actors, &escalated, "{}", context());
            let first = report
                .stages()
                .iter()
                .find_map(|stage| stage.escalation.as_ref());
            assert_eq!(Some(by), first, "{}", context());
        }
        Some(other) => panic!("run error {other}\n{}", context()),
    }
}

/// Schedules per scheduler for the 64-actor scenarios: a quarter of [`iterations`] (each schedule
/// costs about as much as four of the smaller ones).
fn explore_large(scenario: fn()) {
    let iterations = iterations().div_ceil(4);
    shuttle::check_random(scenario, iterations);
    shuttle::check_pct(scenario, iterations, 3);
}

#[test]
fn i12_mixed_kinds_8_actors_in_2_stages() {
    explore(|| mixed(8, 2, Drive::Run));
}

#[test]
fn i12_mixed_kinds_24_actors_in_3_stages() {
    explore(|| mixed(24, 3, Drive::Run));
}

#[test]
fn i12_mixed_kinds_64_actors_in_3_stages() {
    explore_large(|| mixed(64, 3, Drive::Run));
}

/// The run as a future (`run_async_with_report`) on shuttle's executor: the group's task is
/// woken through the waker it left, from actor threads, hook lanes, the clock and the stop
/// request alike.
#[test]
fn i12_run_async_mixed_kinds_16_actors_in_3_stages() {
    explore(|| mixed(16, 3, Drive::Async));
}

#[test]
fn i12_run_async_mixed_kinds_64_actors_in_2_stages() {
    explore_large(|| mixed(64, 2, Drive::Async));
}
