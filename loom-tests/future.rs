//! Future actors (issue 12): the driver's ready set, the run as a future, and the races between
//! future and thread actors.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use rungroup::{BoxError, Group, Outcome, StopOutcome, StopToken, Trigger};

use crate::common::{Probe, check, check_wide, name};
use crate::core::add_waiting;

/// Adds future actor `index`: pending until `outside` is stopped (by a thread that is not the
/// group's), then `Ok`. Its interrupt only records.
fn add_woken_from_outside(
    group: &mut Group,
    probe: &Arc<Probe>,
    index: usize,
    outside: &StopToken,
) {
    let outside = outside.clone();
    let probe = Arc::clone(probe);
    group.actor(name(index)).add_future(
        async move {
            outside.stopped().await;
            Ok(())
        },
        move |cause| probe.record(index, cause),
    );
}

/// Adds a future token actor that wakes itself once (one more pass of the driver), then waits
/// for its interrupt.
fn add_yielding_once(group: &mut Group, name: String) {
    group.actor(name).add_future_token(|token| async move {
        let mut yielded = false;
        std::future::poll_fn(move |cx| {
            if std::mem::replace(&mut yielded, true) {
                return std::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .await;
        token.stopped().await;
        Ok(())
    });
}

/// One future actor, woken by another thread (its token stopped from outside), racing the
/// runner's pass, its look at the ready set and its park; its exit ends the run, which `run`
/// runs (`run_with_report`, or `run_async_with_report` under `loom::future::block_on`). A lost
/// wake leaves the runner parked with nothing left to wake it: loom reports the deadlock.
fn woken_from_another_thread(run: fn(Group) -> rungroup::Report<BoxError>) {
    let probe = Probe::new();
    let outside = StopToken::new();
    let mut group = Group::new();
    add_woken_from_outside(&mut group, &probe, 0, &outside);
    let stopper = loom::thread::spawn(move || outside.stop());
    let report = run(group);
    stopper.join().unwrap();
    assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    assert_eq!(probe.order(), [0], "R04");
}

/// Issue 12 (R08, T03): no lost wake between a future actor marking itself ready and the driver
/// clearing the ready set, with `run` parking between passes. The seeded
/// `driver-ready-check-outside-lock` and `park-ignores-woken` break exactly this.
#[test]
fn t03_i12_a_future_woken_from_another_thread_is_never_lost() {
    check(
        "t03_i12_a_future_woken_from_another_thread_is_never_lost",
        || woken_from_another_thread(Group::run_with_report),
    );
}

/// Issue 12: the same race with the run as a future (`run_async`), polled by
/// `loom::future::block_on`: the task's waker, registered under the wake lock, is the one the
/// outside wake reaches.
#[test]
fn t03_i12_run_async_is_woken_by_a_future_woken_from_another_thread() {
    check(
        "t03_i12_run_async_is_woken_by_a_future_woken_from_another_thread",
        || woken_from_another_thread(|group| loom::future::block_on(group.run_async_with_report())),
    );
}

/// Issue 12 (R08, T03): a wake that lands while the driver takes the ready set is never lost.
/// Actor 0 waits for a token stopped by another thread; actor 1 wakes itself once (one more pass)
/// and then waits for its interrupt. The outside stop can then mark actor 0 in the middle of the
/// second pass's take, when the set's "woken" flag is still up from actor 1's wake: the take must
/// clear that flag before it reads the bits, or the mark neither is taken nor wakes the group,
/// and the runner parks with actor 0 ready (the seeded `ready-set-pending-cleared-last`).
#[test]
fn t03_i12_a_wake_during_the_drivers_take_is_never_lost() {
    check(
        "t03_i12_a_wake_during_the_drivers_take_is_never_lost",
        || {
            let probe = Probe::new();
            let outside = StopToken::new();
            let mut group = Group::new();
            add_woken_from_outside(&mut group, &probe, 0, &outside);
            add_yielding_once(&mut group, name(1));
            let stopper = loom::thread::spawn(move || outside.stop());
            let report = group.run_with_report();
            stopper.join().unwrap();
            assert_eq!(report.trigger(), &Trigger::Exit { actor: 0 });
            assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
            assert!(matches!(report.actors()[1].outcome, Outcome::Ok));
        },
    );
}

/// R03, R04, R06 (issue 12): the first exit races between a future actor and a thread actor. Both
/// return `Err` at once. Exactly one is the first exit, its error is what every interrupt sees
/// and what `run` returns; each interrupt is called once, in order.
#[test]
fn r03_i12_first_exit_races_between_a_future_and_a_thread() {
    check(
        "r03_i12_first_exit_races_between_a_future_and_a_thread",
        || {
            let probe = Probe::new();
            let mut group = Group::new();
            Probe::observe(&probe, &mut group);
            let recorder = Arc::clone(&probe);
            group.actor(name(0)).add(
                || Err(BoxError::from("thread failed")),
                move |cause| recorder.record(0, cause),
            );
            let recorder = Arc::clone(&probe);
            group.actor(name(1)).add_future(
                async { Err(BoxError::from("future failed")) },
                move |cause| recorder.record(1, cause),
            );
            let report = group.run_with_report();
            assert_eq!(probe.order(), [0, 1], "R04/R05");
            let first = report.first_exit().expect("R03: one first exit");
            assert_eq!(report.actors().iter().filter(|a| a.first).count(), 1);
            let want = if first.name == name(0) {
                "thread failed"
            } else {
                "future failed"
            };
            for seen in probe.seen() {
                assert_eq!(
                    seen.cause_actor.as_deref(),
                    Some(first.name.as_str()),
                    "R06"
                );
            }
            probe.assert_first_events(1, &report);
            assert_eq!(report.into_result().unwrap_err().to_string(), want, "R09");
        },
    );
}

/// T01, R11 (issue 12): a stop request from another thread ends a group of a cancel-safe future
/// actor and a thread token actor. The future is dropped exactly once, at its interrupt, whatever
/// the interleaving; the run is a success.
#[test]
fn t01_i12_stop_request_drops_a_cancel_safe_future_exactly_once() {
    check(
        "t01_i12_stop_request_drops_a_cancel_safe_future_exactly_once",
        || {
            struct Counted(Arc<AtomicUsize>);
            impl Drop for Counted {
                fn drop(&mut self) {
                    // ORDERING: read after `run` returned, which happens-after the drop (R11).
                    self.0.fetch_add(1, Ordering::Relaxed);
                }
            }
            let probe = Probe::new();
            let drops = Arc::new(AtomicUsize::new(0));
            let counted = Counted(Arc::clone(&drops));
            let mut group = Group::new();
            group.actor(name(0)).add_future_cancel(async move {
                let _counted = counted;
                std::future::pending::<()>().await;
                Ok(())
            });
            add_waiting(&mut group, &probe, 1);
            let stop = group.stop_handle();
            let requester = loom::thread::spawn(move || stop.stop("deploy"));
            let report = group.run_with_report();
            assert_eq!(requester.join().unwrap(), StopOutcome::Triggered);
            assert_eq!(
                drops.load(Ordering::Relaxed),
                1,
                "R11: dropped exactly once"
            );
            assert!(matches!(report.actors()[0].outcome, Outcome::Cancelled));
            assert!(report.into_result().is_ok());
        },
    );
}

/// Runs each task on a loom thread of its own, with `loom::future::block_on`.
struct LoomThreads;

impl rungroup::Executor for LoomThreads {
    fn execute(&self, task: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) {
        // Never joined: the model ends when every loom thread has.
        drop(loom::thread::spawn(move || loom::future::block_on(task)));
    }
}

/// S05, R11 (issue 12): escalation reaches a spawned actor that ignores its interrupt. The group
/// asks its task (on another thread) to drop the future and waits for it to say so: the request,
/// the task's registration of its waker, its report and the proxy's wake-up race. The stage's
/// grace is zero, so escalation comes at once; no kill grace ever runs out (a manual clock nobody
/// advances), so a lost wake anywhere on the way is a deadlock loom reports. The future is dropped
/// exactly once, before `run` returns.
#[test]
fn s05_i12_a_spawned_actor_is_dropped_by_its_task_on_escalation() {
    check(
        "s05_i12_a_spawned_actor_is_dropped_by_its_task_on_escalation",
        || {
            struct Counted(Arc<AtomicUsize>);
            impl Drop for Counted {
                fn drop(&mut self) {
                    // ORDERING: read after `run` returned, which happens-after the task's report
                    // (through the proxy's lock), which happens-after this drop.
                    self.0.fetch_add(1, Ordering::Relaxed);
                }
            }
            let drops = Arc::new(AtomicUsize::new(0));
            let counted = Counted(Arc::clone(&drops));
            let mut group = Group::new();
            group
                .clock(rungroup::ManualClock::new())
                .executor(LoomThreads)
                .grace(rungroup::Stage::DEFAULT, std::time::Duration::ZERO)
                .kill_grace(std::time::Duration::from_secs(1));
            group.actor(name(0)).spawned().add_future(
                async move {
                    let _counted = counted;
                    std::future::pending::<()>().await;
                    Ok(())
                },
                |_| {},
            );
            group.actor(name(1)).add_future(async { Ok(()) }, |_| {});
            let report = group.run_with_report();
            assert_eq!(
                drops.load(Ordering::Relaxed),
                1,
                "R11: dropped exactly once"
            );
            assert!(matches!(report.actors()[0].outcome, Outcome::Cancelled));
            assert!(report.actors()[0].escalated);
        },
    );
}

/// Issue 12 (R08, T03): as `t03_i12_a_wake_during_the_drivers_take_is_never_lost`, with the
/// actor woken from outside in the ready set's *second* word (index 64): only the take's swap of
/// `pending` can acquire that mark's bit (no read-modify-write of the same word publishes it).
/// Catches the seeded `ready-set-take-relaxed`. (From a review; 65 actors, 63 of them idle.)
#[test]
fn t03_i12_a_wake_in_another_word_during_the_take_is_never_lost() {
    check_wide(
        "t03_i12_a_wake_in_another_word_during_the_take_is_never_lost",
        || {
            let outside = StopToken::new();
            let mut group = Group::new();
            add_yielding_once(&mut group, "w0".to_owned());
            for index in 1..64 {
                group
                    .actor(format!("p{index}"))
                    .add_future_cancel(std::future::pending::<Result<(), BoxError>>());
            }
            let theirs = outside.clone();
            group.actor("x64").add_future(
                async move {
                    theirs.stopped().await;
                    Ok(())
                },
                |_| {},
            );
            let stopper = loom::thread::spawn(move || outside.stop());
            let report = group.run_with_report();
            stopper.join().unwrap();
            assert_eq!(report.trigger(), &Trigger::Exit { actor: 64 });
        },
    );
}

/// Issue 12 (T03): what a thread did before waking a future actor that is already listed (its
/// mark finds its bit set and returns) reaches the poll through the take's swap of the bit's word
/// alone. Catches the seeded `ready-set-mark-relaxed`. (From a review.)
/// The actor wakes itself at its first poll (listed); another thread sets a flag (Relaxed), then
/// wakes it. Its next poll must see the flag, or it waits for a wake that never comes.
#[test]
fn t03_i12_a_wake_of_an_already_listed_actor_publishes_what_preceded_it() {
    use loom::sync::atomic::AtomicBool;
    check(
        "t03_i12_a_wake_of_an_already_listed_actor_publishes_what_preceded_it",
        || {
            let flag = Arc::new(AtomicBool::new(false));
            let slot: Arc<loom::sync::Mutex<Option<std::task::Waker>>> =
                Arc::new(loom::sync::Mutex::new(None));
            let (their_flag, their_slot) = (Arc::clone(&flag), Arc::clone(&slot));
            let mut group = Group::new();
            let mut first = true;
            group.actor(name(0)).add_future(
                std::future::poll_fn(move |cx| {
                    // ORDERING: Relaxed on purpose: only the group's wake may publish it.
                    if flag.load(Ordering::Relaxed) {
                        return std::task::Poll::Ready(Ok(()));
                    }
                    if std::mem::replace(&mut first, false) {
                        let mut slot = slot.lock().unwrap();
                        if flag.load(Ordering::Relaxed) {
                            return std::task::Poll::Ready(Ok(()));
                        }
                        *slot = Some(cx.waker().clone());
                        drop(slot);
                        cx.waker().wake_by_ref();
                    }
                    std::task::Poll::Pending
                }),
                |_| {},
            );
            let waker = loom::thread::spawn(move || {
                let waker = {
                    let mut slot = their_slot.lock().unwrap();
                    their_flag.store(true, Ordering::Relaxed);
                    slot.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            });
            let report = group.run_with_report();
            waker.join().unwrap();
            assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
        },
    );
}
