//! Section A of the contract: the `oklog/run`-faithful group (rules R01–R11).

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread::{self, ThreadId};
use std::time::Duration;

use rungroup::{
    BoxError, Cause, Error, Group, HookOutcome, Outcome, Policy, Report, StopOutcome, Trigger,
};

use crate::common::{
    Counter, DropGuard, Drops, Ev, Log, clocked_with_grace, events, on_lanes, report_advancing,
    report_of, run_catching, until_interrupted,
};

/// An error type that is deliberately not `Clone`: the runner cannot copy it, only move or lend it.
#[derive(Debug)]
enum NoClone {
    Id(Box<u64>),
    // Only ever printed by `Debug` when a test fails.
    #[allow(dead_code)]
    Run(Error),
}

impl From<Error> for NoClone {
    fn from(error: Error) -> Self {
        NoClone::Run(error)
    }
}

/// Asserts that `result` is the error `NoClone::Id(expected)` whose box is the one an execute
/// allocated at `boxed_at`: the very value, moved out unchanged.
#[track_caller]
fn assert_the_boxed_error(result: Result<(), NoClone>, expected: u64, boxed_at: &AtomicUsize) {
    match result {
        Err(NoClone::Id(id)) => {
            assert_eq!(*id, expected);
            assert_eq!(
                ptr::from_ref(&*id) as usize,
                boxed_at.load(Ordering::SeqCst)
            );
        }
        other => panic!("run returned {other:?}"),
    }
}

/// An error that counts its own drop.
struct Tracked {
    text: &'static str,
    _guard: DropGuard,
}

impl std::fmt::Display for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text)
    }
}

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tracked({:?})", self.text)
    }
}

impl std::error::Error for Tracked {}

// ---- R01 -------------------------------------------------------------------------------------

#[test]
fn r01_empty_group_returns_ok() {
    let group = Group::new();
    assert!(group.run().is_ok());
}

/// R01, R02: `len` and `is_empty` count the registered actors.
#[test]
fn r01_len_and_is_empty_count_the_actors() {
    let mut group: Group = Group::new();
    assert!(group.is_empty());
    assert_eq!(group.len(), 0);
    group.add(|| Ok(()), |_| {});
    group.actor("b").add(|| Ok(()), |_| {});
    assert!(!group.is_empty());
    assert_eq!(group.len(), 2);
    assert!(group.run().is_ok());
}

#[test]
fn r01_empty_group_calls_nothing_and_reports_empty() {
    let mut group = Group::new();
    let mut events = events(&mut group);
    let stop = group.stop_handle();
    // Deadlines configured, still nothing to do.
    group.stage("later").grace(Duration::from_secs(1)).id();
    group.budget(Duration::from_secs(1));
    let report = report_of(group);
    assert_eq!(report.trigger(), &Trigger::Empty);
    assert!(report.actors().is_empty());
    assert!(report.error().is_none());
    assert!(report.stages().iter().all(|stage| stage.elapsed.is_none()));
    assert_eq!(events.all(), Vec::<Ev>::new(), "nothing may be called");
    assert_eq!(stop.stop("late"), StopOutcome::Ignored);
    assert!(report.into_result().is_ok());
}

// ---- R02 -------------------------------------------------------------------------------------

#[test]
fn r02_every_execute_runs_on_its_own_named_thread() {
    const N: usize = 4;
    let mut group = Group::new();
    // All N executes meet at the barrier: only possible if they all run at once, each on a thread.
    let barrier = Arc::new(Barrier::new(N));
    // (actor name, thread name, thread id) per execute.
    type Seen = Vec<(String, Option<String>, ThreadId)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    for index in 0..N {
        let (barrier, seen) = (Arc::clone(&barrier), Arc::clone(&seen));
        let name = format!("worker-{index}");
        group.actor(name.clone()).add_token(move |token| {
            let current = thread::current();
            seen.lock()
                .unwrap()
                .push((name, current.name().map(str::to_owned), current.id()));
            barrier.wait();
            if index == 0 {
                return Ok(());
            }
            token.wait();
            Ok(())
        });
    }
    let caller: Arc<Mutex<Option<ThreadId>>> = Arc::default();
    let caller_in = Arc::clone(&caller);
    let result = crate::common::bounded(move || {
        *caller_in.lock().unwrap() = Some(thread::current().id());
        group.run()
    })
    .join();
    assert!(result.is_ok());
    let caller = caller.lock().unwrap().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), N);
    let mut ids: Vec<ThreadId> = seen.iter().map(|(_, _, id)| *id).collect();
    ids.sort_unstable_by_key(|id| format!("{id:?}"));
    ids.dedup();
    assert_eq!(ids.len(), N, "each execute has its own thread");
    for (name, thread_name, id) in seen.iter() {
        assert_ne!(*id, caller, "no execute runs on the caller's thread");
        assert_eq!(
            thread_name.as_deref(),
            Some(name.as_str()),
            "threads carry actor names"
        );
    }
}

// ---- R03 -------------------------------------------------------------------------------------

#[test]
fn r03_ok_exit_begins_teardown() {
    let mut group = Group::new();
    let interrupted = Counter::new();
    let hit = interrupted.clone();
    group.actor("server").add_token(|token| {
        token.wait();
        Ok(())
    });
    group.actor("done").add(|| Ok(()), move |_| hit.hit());
    let report = report_of(group);
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 1 });
    assert_eq!(report.first_exit().unwrap().name, "done");
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    assert!(matches!(
        report.actors()[0].interrupt,
        HookOutcome::Returned
    ));
    assert_eq!(interrupted.get(), 1);
    assert!(report.into_result().is_ok());
}

#[test]
fn r03_err_exit_begins_teardown() {
    let mut group = Group::new();
    group.actor("server").add_token(|token| {
        token.wait();
        Ok(())
    });
    group.actor("job").add(|| Err("job failed".into()), |_| {});
    let result = run_catching(group).unwrap();
    assert_eq!(result.unwrap_err().to_string(), "job failed");
}

#[test]
fn r03_simultaneous_exits_have_exactly_one_winner() {
    const N: usize = 4;
    for _round in 0..50 {
        let mut group = Group::new();
        let barrier = Arc::new(Barrier::new(N));
        let causes = Log::new();
        let calls = Counter::new();
        for index in 0..N {
            let barrier = Arc::clone(&barrier);
            let (causes, calls) = (causes.clone(), calls.clone());
            group.actor(format!("a{index}")).add(
                move || {
                    barrier.wait();
                    Err(format!("e{index}").into())
                },
                move |cause: &Cause<BoxError>| {
                    calls.hit();
                    causes.push(cause.actor().unwrap_or("?"));
                },
            );
        }
        let report = report_of(group);
        let firsts: Vec<_> = report.actors().iter().filter(|a| a.first).collect();
        assert_eq!(firsts.len(), 1, "exactly one winner");
        let winner = &firsts[0].name;
        let Trigger::Exit { actor } = report.trigger() else {
            panic!("trigger {:?}", report.trigger())
        };
        assert_eq!(&report.actors()[*actor].name, winner);
        assert_eq!(calls.get(), N, "every interrupt once");
        assert!(causes.entries().iter().all(|seen| seen == winner));
        // The losers are ordinary exits, each with its own error.
        for (index, actor) in report.actors().iter().enumerate() {
            match &actor.outcome {
                Outcome::Err(error) => assert_eq!(error.to_string(), format!("e{index}")),
                other => panic!("{} ended {other:?}", actor.name),
            }
        }
        let expected = format!("e{}", &winner[1..]);
        assert_eq!(report.into_result().unwrap_err().to_string(), expected);
    }
}

// ---- R04 -------------------------------------------------------------------------------------

#[test]
fn r04_each_interrupt_is_called_exactly_once() {
    let mut group = Group::new();
    let counters: Vec<Counter> = (0..5).map(|_| Counter::new()).collect();
    for (index, counter) in counters.iter().enumerate() {
        let counter = counter.clone();
        if index == 2 {
            // The first exit: its own interrupt is called too.
            group.add(|| Err("first".into()), move |_| counter.hit());
        } else {
            let (execute, interrupt) = until_interrupted(move |_| counter.hit());
            group.add(execute, interrupt);
        }
    }
    let result = run_catching(group).unwrap();
    assert_eq!(result.unwrap_err().to_string(), "first");
    for (index, counter) in counters.iter().enumerate() {
        assert_eq!(counter.get(), 1, "interrupt of actor-{index}");
    }
}

#[test]
fn r04_interrupt_of_an_already_exited_actor_is_called() {
    let mut group = Group::new();
    let mut events = events(&mut group);
    let sidecar_calls = Counter::new();
    let calls = sidecar_calls.clone();
    group
        .actor("sidecar")
        .policy(Policy::OnError)
        .add(|| Ok(()), move |_| calls.hit());
    group.actor("main").add(
        move || {
            // Exit only once the sidecar has certainly exited.
            events.wait_for(&Ev::exited("sidecar"));
            Err("main done".into())
        },
        |_| {},
    );
    let report = report_of(group);
    assert_eq!(sidecar_calls.get(), 1);
    let sidecar = &report.actors()[0];
    assert!(matches!(sidecar.outcome, Outcome::Ok));
    assert!(!sidecar.first);
    assert!(matches!(sidecar.interrupt, HookOutcome::Returned));
    assert_eq!(report.first_exit().unwrap().name, "main");
}

// ---- R05 -------------------------------------------------------------------------------------

/// Six actors; the last registered exits first. Returns the interrupt log and whether two
/// interrupts ever overlapped.
fn interrupt_order(group: &mut Group) -> (Log, Arc<AtomicBool>) {
    let log = Log::new();
    let inside = Arc::new(AtomicBool::new(false));
    let overlap = Arc::new(AtomicBool::new(false));
    for index in 0..6 {
        let (log, inside, overlap) = (log.clone(), Arc::clone(&inside), Arc::clone(&overlap));
        let interrupt = move |_: &Cause<BoxError>| {
            if inside.swap(true, Ordering::SeqCst) {
                overlap.store(true, Ordering::SeqCst);
            }
            for _ in 0..100 {
                thread::yield_now(); // widen the window an overlap would need
            }
            log.push(format!("a{index}"));
            inside.store(false, Ordering::SeqCst);
        };
        if index == 5 {
            group.actor(format!("a{index}")).add(|| Ok(()), interrupt);
        } else {
            let (execute, interrupt) = until_interrupted(interrupt);
            group.actor(format!("a{index}")).add(execute, interrupt);
        }
    }
    (log, overlap)
}

#[test]
fn r05_interrupts_run_in_registration_order_one_at_a_time() {
    let mut group = Group::new();
    let (log, overlap) = interrupt_order(&mut group);
    let report = report_of(group);
    assert!(report.error().is_none());
    assert_eq!(log.entries(), ["a0", "a1", "a2", "a3", "a4", "a5"]);
    assert!(!overlap.load(Ordering::SeqCst), "interrupts overlapped");
}

#[test]
fn r05_registration_order_holds_on_lanes_with_deadlines() {
    let mut group = Group::new();
    // A budget moves interrupts onto lane threads; the order must not change.
    on_lanes(&mut group);
    let (log, overlap) = interrupt_order(&mut group);
    let report = report_of(group);
    assert!(report.error().is_none());
    assert_eq!(log.entries(), ["a0", "a1", "a2", "a3", "a4", "a5"]);
    assert!(!overlap.load(Ordering::SeqCst), "interrupts overlapped");
}

// ---- R06 -------------------------------------------------------------------------------------

fn same_error_by_reference(deadlines: bool) {
    let mut group = Group::<NoClone>::default();
    if deadlines {
        on_lanes(&mut group);
    }
    let addresses: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let boxed_at = Arc::new(AtomicUsize::new(0));
    for index in 0..4 {
        let addresses = Arc::clone(&addresses);
        let interrupt = move |cause: &Cause<NoClone>| {
            if let Some(Err(error)) = cause.result() {
                addresses
                    .lock()
                    .unwrap()
                    .push((ptr::from_ref(cause) as usize, ptr::from_ref(error) as usize));
            }
        };
        if index == 1 {
            let boxed_at = Arc::clone(&boxed_at);
            group.add(
                move || {
                    let id = Box::new(7);
                    boxed_at.store(ptr::from_ref(&*id) as usize, Ordering::SeqCst);
                    Err(NoClone::Id(id))
                },
                interrupt,
            );
        } else {
            let (execute, interrupt) = until_interrupted(interrupt);
            group.add(execute, interrupt);
        }
    }
    let result = run_catching(group).unwrap();
    let addresses = addresses.lock().unwrap();
    assert_eq!(addresses.len(), 4, "every interrupt saw the actor's error");
    assert!(
        addresses.iter().all(|seen| *seen == addresses[0]),
        "all interrupts saw the very same value: {addresses:?}"
    );
    // R09 too: the value comes back out unchanged, its heap allocation untouched.
    assert_the_boxed_error(result, 7, &boxed_at);
}

#[test]
fn r06_every_interrupt_sees_the_same_error_by_reference() {
    same_error_by_reference(false);
}

#[test]
fn r06_same_error_by_reference_on_lanes() {
    same_error_by_reference(true);
}

#[test]
fn r06_every_interrupt_sees_the_same_stop_cause() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    let seen: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    for _ in 0..3 {
        let seen = Arc::clone(&seen);
        let (execute, interrupt) = until_interrupted(move |cause: &Cause<BoxError>| {
            seen.lock()
                .unwrap()
                .push((ptr::from_ref(cause) as usize, cause.to_string()));
        });
        group.add(execute, interrupt);
    }
    assert_eq!(stop.stop("deploy"), StopOutcome::Triggered);
    assert!(run_catching(group).unwrap().is_ok());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|entry| *entry == seen[0]));
    assert_eq!(seen[0].1, "stop requested: deploy");
}

// ---- R07 -------------------------------------------------------------------------------------

#[test]
fn r07_interrupt_before_execute_looks_is_sticky() {
    let mut group = Group::new();
    let saw_stopped = Arc::new(AtomicBool::new(false));
    let saw = Arc::clone(&saw_stopped);
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    // The execute does nothing until the gate opens, and the gate opens only in the interrupt
    // of the next actor, which R05 calls after this actor's interrupt has returned.
    group.actor("late").add_token(move |token| {
        let _ = gate_rx.recv();
        saw.store(token.is_stopped(), Ordering::SeqCst);
        token.wait(); // returns at once: the stop was not lost
        Ok(())
    });
    group
        .actor("trigger")
        .add(|| Err("go".into()), move |_| drop(gate_tx));
    let report = report_of(group);
    assert!(saw_stopped.load(Ordering::SeqCst), "the stop was sticky");
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
}

#[test]
fn r07_stop_before_run_still_ends_token_actors() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    for _ in 0..3 {
        group.add_token(|token| {
            token.wait();
            Ok(())
        });
    }
    // Every interrupt may well be called before its execute has started.
    stop.stop("early");
    let report = report_of(group);
    assert_eq!(
        report.trigger(),
        &Trigger::Stop {
            reason: "early".into()
        }
    );
    assert!(
        report
            .actors()
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Ok))
    );
}

// ---- R08 -------------------------------------------------------------------------------------

#[test]
fn r08_every_execute_has_returned_and_its_effects_are_visible() {
    const N: usize = 4;
    const WORK: usize = 20_000;
    let mut group = Group::new();
    // Relaxed writes: only the group's own happens-before edge makes them visible.
    let counter = Arc::new(AtomicUsize::new(0));
    let data: Arc<Mutex<Vec<usize>>> = Arc::default();
    for index in 0..N {
        let (counter, data) = (Arc::clone(&counter), Arc::clone(&data));
        group.add_token(move |token| {
            token.wait();
            // Work done after the interrupt, racing with `run`'s return if it did not wait.
            for _ in 0..WORK {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            data.lock().unwrap().push(index);
            Ok(())
        });
    }
    group.add(|| Err("go".into()), |_| {});
    let report = report_of(group);
    assert_eq!(counter.load(Ordering::Relaxed), N * WORK);
    let mut data = data.lock().unwrap().clone();
    data.sort_unstable();
    assert_eq!(data, (0..N).collect::<Vec<_>>());
    assert!(report.actors().iter().all(|a| a.exited_at.is_some()));
}

// ---- R09 -------------------------------------------------------------------------------------

#[test]
fn r09_run_returns_the_first_exit_error_unchanged() {
    let mut group = Group::<NoClone>::default();
    let boxed_at = Arc::new(AtomicUsize::new(0));
    let at = Arc::clone(&boxed_at);
    group.add_token(|token| {
        token.wait();
        Err(NoClone::Id(Box::new(2))) // a later error, not the result
    });
    group.add(
        move || {
            let id = Box::new(1);
            at.store(ptr::from_ref(&*id) as usize, Ordering::SeqCst);
            Err(NoClone::Id(id))
        },
        |_| {},
    );
    assert_the_boxed_error(run_catching(group).unwrap(), 1, &boxed_at);
}

#[test]
fn r09_ok_first_exit_returns_ok() {
    let mut group = Group::new();
    group.add_token(|token| {
        token.wait();
        Err("later".into())
    });
    group.add(|| Ok(()), |_| {});
    assert!(run_catching(group).unwrap().is_ok());
}

#[test]
fn r09_other_results_are_kept_in_the_report() {
    let mut group = Group::new();
    group.actor("a").add_token(|token| {
        token.wait();
        Err("a's error".into())
    });
    group.actor("b").add(|| Err("b's error".into()), |_| {});
    group.actor("c").add_token(|token| {
        token.wait();
        Ok(())
    });
    let report: Report<BoxError> = report_of(group);
    let texts: Vec<String> = report
        .actors()
        .iter()
        .map(|actor| match &actor.outcome {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Err(error) => error.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["a's error", "b's error", "ok"]);
    assert_eq!(report.first_exit().unwrap().name, "b");
    assert_eq!(report.into_result().unwrap_err().to_string(), "b's error");
}

// ---- R10 -------------------------------------------------------------------------------------

// R10 is proven by the two `compile_fail` doctests on `Group` in src/group.rs: adding an actor
// after `run`, or running twice, does not compile. This test pins the shape they rely on.
#[test]
fn r10_run_and_run_with_report_take_the_group_by_value() {
    fn consumes<E, T>(_: fn(Group<E>) -> T) {}
    consumes::<BoxError, _>(Group::run);
    consumes::<BoxError, _>(Group::run_with_report);
}

// ---- R11 -------------------------------------------------------------------------------------

/// Builds actors whose every closure captures a drop guard, and whose executes mark their return
/// with a guard dropped last. Returns (captures dropped, executes returned, expected captures).
fn captured_everything(group: &mut Group) -> (Drops, Drops, usize) {
    let captures = Drops::new();
    let returned = Drops::new();
    for index in 0..4 {
        let (exec_guard, int_guard, force_guard) =
            (captures.guard(), captures.guard(), captures.guard());
        let returned_guard = returned.guard();
        let tracked = captures.clone();
        let (tx, rx) = mpsc::channel::<()>();
        group
            .actor(format!("a{index}"))
            .force(move || drop(force_guard))
            .add(
                move || {
                    let _returned = returned_guard; // dropped last: the execute has returned
                    let _keep = exec_guard;
                    if index == 3 {
                        // An error value the run produces and drops (it is not the result).
                        let _ = rx.recv();
                        return Err(Box::new(Tracked {
                            text: "late",
                            _guard: tracked.guard(),
                        }) as BoxError);
                    }
                    if index == 0 {
                        return Err("first".into());
                    }
                    let _ = rx.recv();
                    Ok(())
                },
                move |_| {
                    let _keep = int_guard;
                    drop(tx);
                },
            );
    }
    // 3 closures per actor, plus the late error value.
    (captures, returned, 4 * 3 + 1)
}

/// Adds the actors of [`captured_everything`] to `group`, runs it, and asserts that every capture
/// was dropped, and every execute had returned, by the time `run` returned the first error.
fn assert_every_capture_dropped_by_return(mut group: Group) {
    let (captures, returned, expected) = captured_everything(&mut group);
    let result = run_catching(group).unwrap();
    assert_eq!(captures.count(), expected);
    assert_eq!(returned.count(), 4, "no execute is still running");
    assert_eq!(result.unwrap_err().to_string(), "first");
}

#[test]
fn r11_every_capture_is_dropped_before_run_returns() {
    assert_every_capture_dropped_by_return(Group::new());
}

#[test]
fn r11_every_capture_is_dropped_before_run_returns_on_lanes() {
    let mut group = Group::new();
    on_lanes(&mut group);
    group
        .stage("never-expires")
        .grace(Duration::from_secs(3600))
        .id();
    assert_every_capture_dropped_by_return(group);
}

#[test]
fn r11_escalated_force_hook_captures_are_dropped_before_run_returns() {
    let (mut group, mut events, stop, clock) =
        clocked_with_grace(Duration::from_secs(3600), Duration::from_secs(5));
    let captures = Drops::new();
    let force_guard = captures.guard();
    let (tx, rx) = mpsc::channel::<()>();
    // Ignores its interrupt; only its force hook makes it return.
    group
        .actor("stubborn")
        .force(move || {
            drop(tx);
            // The hook goes on after releasing the execute, while the runner may be done.
            for _ in 0..1000 {
                thread::yield_now();
            }
            drop(force_guard);
        })
        .add(
            move || {
                let _ = rx.recv();
                Ok(())
            },
            |_| {},
        );
    stop.stop("test");
    let report = report_advancing(
        group,
        &mut events,
        &Ev::interrupting("stubborn"),
        &clock,
        Duration::from_secs(5),
    );
    assert_eq!(
        captures.count(),
        1,
        "the force hook and its captures are gone"
    );
    crate::common::assert_escalated_cleanly(&report);
    assert!(report.actors()[0].escalated);
    assert!(matches!(report.actors()[0].force, HookOutcome::Returned));
}
