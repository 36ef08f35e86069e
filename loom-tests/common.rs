//! What every model shares: the harness (preemption bound, cost line, quiet deliberate panics)
//! and a probe that records what the interrupts and the observer saw.

use std::sync::Once;
use std::time::Instant;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use rungroup::{BoxError, Cause, Event, Group, Report, Trigger};

/// The preemption bound when `LOOM_MAX_PREEMPTIONS` is not set, so that the plain
/// `RUSTFLAGS="--cfg loom" cargo test` finishes in minutes (costs in `docs/testing.md`).
/// `LOOM_MAX_PREEMPTIONS=<n>` overrides it; `RUNGROUP_LOOM_UNBOUNDED=1` removes it.
pub(crate) const DEFAULT_PREEMPTIONS: usize = 2;

/// The prefix of every panic a model raises on purpose (F01, F02). The panic hook stays quiet
/// for these and only these: a failing assertion still prints.
pub(crate) const DELIBERATE: &str = "deliberate:";

/// Explores `model` under the crate-wide bound and prints one cost line:
/// `loom <name>: <n> iterations in <t> (preemption bound <b>)` (shown with `--nocapture`).
pub(crate) fn check<F>(name: &str, model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    explore(name, bounded(loom::model::Builder::new()), model);
}

/// As [`check`], for a model with many actors: each is a branch point of loom's, and its default
/// `max_branches` (1,000) is too few for 65 of them.
pub(crate) fn check_wide<F>(name: &str, model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    explore(name, bounded(builder), model);
}

/// The preemption bound: `LOOM_MAX_PREEMPTIONS` if set, else ours; none with
/// `RUNGROUP_LOOM_UNBOUNDED`.
fn bounded(mut builder: loom::model::Builder) -> loom::model::Builder {
    if std::env::var_os("RUNGROUP_LOOM_UNBOUNDED").is_some() {
        builder.preemption_bound = None;
    } else if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    builder
}

/// Explores `model` exhaustively (no preemption bound), whatever the environment says: for
/// models small enough that the full state space costs well under a second.
pub(crate) fn check_exhaustive<F>(name: &str, model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    explore(name, builder, model);
}

fn explore<F>(name: &str, builder: loom::model::Builder, model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    quiet_deliberate_panics();
    // One model at a time, whatever `--test-threads` says. Two explorations in one process are
    // slower together than one after the other, in the kernel. Measured on 2 cores, debug: 160 s
    // for the suite with two test threads (83 s of it system time), 140 s one at a time (43 s).
    // Most likely the stacks: every loom thread of every execution maps and unmaps one, and
    // unmapping while another thread of the process runs costs a TLB shootdown. A failed model
    // poisons the lock; the next one takes it anyway.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A std counter, invisible to loom: it counts executions, it is not part of the model.
    let iterations = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&iterations);
    let bound = builder.preemption_bound;
    let start = Instant::now();
    let counted = move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        model();
    };
    let explored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if std::env::var_os("LOOM_LOG").is_some() {
            // Only `loom::model` installs loom's log subscriber. It takes its bound from the
            // environment alone: set `LOOM_MAX_PREEMPTIONS` along with `LOOM_LOG`.
            loom::model(counted);
        } else {
            builder.check(counted);
        }
    }));
    if let Err(payload) = explored {
        // The hook is silent for deliberate panics; one that escaped the runner is a failure,
        // so say which (and say it for every other failure too, next to the iteration).
        eprintln!(
            "loom {name}: FAILED at iteration {}: {}",
            iterations.load(std::sync::atomic::Ordering::Relaxed),
            message(payload.as_ref()).unwrap_or("(not a string payload)")
        );
        std::panic::resume_unwind(payload);
    }
    let bound = bound.map_or_else(|| "none".to_owned(), |bound| bound.to_string());
    eprintln!(
        "loom {name}: {} iterations in {:.2?} (preemption bound {bound})",
        iterations.load(std::sync::atomic::Ordering::Relaxed),
        start.elapsed(),
    );
}

/// Installs, once per process, a panic hook that drops the report of deliberate panics and
/// passes every other panic to the previous hook.
fn quiet_deliberate_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !message(info.payload()).is_some_and(|message| message.starts_with(DELIBERATE)) {
                previous(info);
            }
        }));
    });
}

/// The text of a panic payload, if it is a string.
pub(crate) fn message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// The address of an error value: the same address means the very same value (rule R06).
pub(crate) fn address(error: &BoxError) -> usize {
    std::ptr::from_ref::<dyn std::error::Error + Send + Sync>(&**error)
        .cast::<()>()
        .addr()
}

/// What one interrupt saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The index of the actor whose interrupt this was.
    pub(crate) actor: usize,
    /// The cause's actor, if the cause names one.
    pub(crate) cause_actor: Option<String>,
    /// For a cause whose `result()` is `Err(e)`, the address of `e`.
    pub(crate) error: Option<usize>,
    /// For a `Trigger::Stop` cause, the reason.
    pub(crate) reason: Option<String>,
}

/// Records interrupt calls (order, causes, overlap) and first-exit events.
///
/// Nothing here asserts inside a hook: the runner catches a hook's panic (F02) and would turn a
/// failed check into a report entry. Hooks record; the model asserts after `run`.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    seen: Mutex<Vec<Seen>>,
    /// How many interrupts are between [`Probe::enter`] and the drop of its guard: more than one
    /// at once breaks R05.
    inside: AtomicUsize,
    /// Interrupts that entered while another was inside.
    overlaps: AtomicUsize,
    /// `ActorExited { first: true }` events: more than one breaks R03.
    firsts: AtomicUsize,
}

/// An interrupt's stay inside the probe: from [`Probe::enter`] to the drop of this guard.
#[derive(Debug)]
#[must_use = "the interrupt is inside until this guard is dropped"]
pub(crate) struct Inside<'a> {
    probe: &'a Probe,
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        // ORDERING: SeqCst, but only RMWs on this one counter decide the check, and RMWs always
        // read the latest value in the counter's modification order: loom's weaker treatment
        // of SeqCst (no single total order) cannot hide an overlap.
        self.probe.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Probe {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counts first-exit events of `group`.
    pub(crate) fn observe(probe: &Arc<Self>, group: &mut Group) {
        let probe = Arc::clone(probe);
        group.observe(move |event| {
            if let Event::ActorExited { first: true, .. } = event {
                // ORDERING: Relaxed on purpose. The event runs on the exiting actor's thread, after
                // it published its slot: only the runner's wait (the live counters) makes it
                // visible to the caller after `run` (R11).
                probe.firsts.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// Records that actor `actor`'s interrupt was called with `cause`, and keeps it "inside"
    /// until the returned guard is dropped: an interrupt that holds the guard across its whole
    /// body (stopping its actor's token included) makes any other interrupt that starts
    /// meanwhile an overlap (R05).
    pub(crate) fn enter(&self, actor: usize, cause: &Cause<BoxError>) -> Inside<'_> {
        // Not an assert: the runner catches an interrupt's panic (F02). Counted, checked later.
        // ORDERING: see `Inside::drop`.
        if self.inside.fetch_add(1, Ordering::SeqCst) != 0 {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        let error = match cause.result() {
            Some(Err(error)) => Some(address(error)),
            _ => None,
        };
        let reason = match cause.trigger() {
            Trigger::Stop { reason } => Some(reason.clone()),
            _ => None,
        };
        self.seen.lock().unwrap().push(Seen {
            actor,
            cause_actor: cause.actor().map(str::to_owned),
            error,
            reason,
        });
        Inside { probe: self }
    }

    /// Records that actor `actor`'s interrupt was called with `cause`: [`Probe::enter`] for an
    /// interrupt that does nothing else.
    pub(crate) fn record(&self, actor: usize, cause: &Cause<BoxError>) {
        let _inside = self.enter(actor, cause);
    }

    /// Every interrupt call so far, in call order. Fails if two interrupts overlapped (R05).
    pub(crate) fn seen(&self) -> Vec<Seen> {
        let overlaps = self.overlaps.load(Ordering::SeqCst);
        assert_eq!(
            overlaps, 0,
            "R05: {overlaps} interrupt(s) began while another interrupt was still running"
        );
        self.seen.lock().unwrap().clone()
    }

    /// The actors whose interrupts were called, in call order.
    pub(crate) fn order(&self) -> Vec<usize> {
        self.seen().iter().map(|seen| seen.actor).collect()
    }

    /// Checks how many `ActorExited { first: true }` events are visible after `run`: `want`.
    ///
    /// The report's own count of actors marked `first` is derived from the state word, not from
    /// the events, and the messages quote it: that tells the two ways this can fail apart. More
    /// events than `want`: several exits were each told they won (R03, or T01 when a stop request
    /// won too). Fewer: an exit was told it won, but the observer's record of it, made on that
    /// actor's thread, is not visible to the caller after `run` (R11: a visibility bug, such as
    /// weakened live-counter orderings), or no exit was told it won.
    pub(crate) fn assert_first_events<E>(&self, want: usize, report: &Report<E>) {
        let seen = self.firsts.load(Ordering::Relaxed);
        let report_firsts = report.actors().iter().filter(|actor| actor.first).count();
        assert!(
            seen <= want,
            "R03/T01: {seen} ActorExited {{ first: true }} events after run, want {want}: an \
             exit was told it won although another exit or a stop request won (two winners; the \
             report marks {report_firsts} actor(s) first)"
        );
        assert!(
            seen >= want,
            "R11: {seen} ActorExited {{ first: true }} events visible after run, want {want} (the \
             report marks {report_firsts} actor(s) first): a first-exit event recorded on an \
             actor's thread did not happen-before run returned, or no exit was told it won"
        );
    }
}

/// An actor's name in the models: `a`, `b`, `c`.
pub(crate) fn name(actor: usize) -> String {
    ["a", "b", "c", "d"][actor].to_owned()
}

/// The run's error is `Error::Escalated` naming exactly the escalated actors, or there is none
/// and nobody was escalated (issue 10: an escalated run is never a success; anything else, an
/// abandonment above all, fails the model).
pub(crate) fn assert_no_error_but_escalation(report: &rungroup::Report<BoxError>) {
    let escalated: Vec<&str> = report.escalated().collect();
    match report.error() {
        None => assert!(escalated.is_empty(), "escalated {escalated:?} yet no error"),
        Some(rungroup::Error::Escalated { actors, .. }) => assert_eq!(actors, &escalated),
        Some(other) => panic!("{other:?}"),
    }
}
