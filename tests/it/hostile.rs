//! The hostile cases of issue 10 (fault injection): resource limits in a child process, panicking
//! `Drop`s, blocking hooks and observers, names no thread can carry, and escalations that must
//! keep stage order and tell the truth. Each test says which old behaviour it catches.

use std::cell::RefCell;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rungroup::{
    Cause, Error, Escalation, Event, Group, HookOutcome, ManualClock, Outcome, Policy, Stage,
    StopOutcome, Trigger,
};

use crate::common::{
    Ev, FUSE, Latch, Log, assert_escalated_cleanly, bounded, clocked, clocked_with_grace, events,
    payload_text, report_of, run_catching, spawn_report, stubborn,
};

const HOUR: Duration = Duration::from_secs(3600);

/// A value whose `Drop` panics: the hostile capture.
#[derive(Debug)]
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

/// An error whose `Drop` panics: the hostile returned value.
#[derive(Debug)]
struct HostileError(#[allow(dead_code)] PanicOnDrop);

impl std::fmt::Display for HostileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hostile")
    }
}

impl std::error::Error for HostileError {}

// ---- S08: no helper thread, a blocking observer ---------------------------------------------

/// The child half of the thread-limit tests: runs under `prlimit --nproc` (as an unprivileged
/// user when the tests run as root, since root ignores that limit). `by_exit`: the hog's own exit
/// triggers teardown, so its thread serves the hook lane and only the fresh lane a retirement
/// needs is missing; else a stop request triggers it, and no hook lane can be had at all.
fn thread_limit_child(by_exit: bool) {
    let mut group = Group::new();
    group
        .budget(Duration::from_millis(300))
        .kill_grace(Duration::from_millis(300));
    // Its interrupt blocks for good, so the hook lane must be retired, and a fresh one spawned,
    // to reach the interrupts queued behind it. Its execute returns only when its interrupt is
    // dropped.
    let (blocker_tx, blocker_rx) = mpsc::channel::<()>();
    group.actor("blocker").add(
        move || {
            let _ = blocker_rx.recv();
            Ok(())
        },
        move |_| {
            let _keep = &blocker_tx;
            loop {
                thread::park();
            }
        },
    );
    group.actor("next").add_token(|token| {
        token.wait();
        Ok(())
    });
    // Takes every thread the limit leaves, then triggers teardown. No thread exits before
    // teardown needs one, so none is free for it.
    let stop = group.stop_handle();
    group.actor("hog").add(
        move || {
            let mut hogged = 0;
            while thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(|| {
                    loop {
                        thread::park();
                    }
                })
                .is_ok()
            {
                hogged += 1;
            }
            if by_exit {
                return Err(format!("hogged {hogged} threads").into());
            }
            stop.stop(format!("hogged {hogged} threads"));
            loop {
                thread::park();
            }
        },
        |_| {},
    );
    let started = Instant::now();
    let report = group.run_with_report();
    let took = started.elapsed();
    println!("{report}");
    // Returned, within budget + kill grace + a margin only a hang could break; no hook ran on the
    // caller's thread (a blocked interrupt there would have hung it).
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let interrupt = |index: usize| &report.actors()[index].interrupt;
    match report.error() {
        Some(Error::Abandoned { hooks, skipped, .. }) if by_exit => {
            // The hog's thread called blocker's interrupt; the rest needed a fresh lane.
            assert!(matches!(interrupt(0), HookOutcome::Blocked), "{report}");
            assert_eq!(hooks, &["blocker".to_owned()]);
            assert_eq!(skipped, &["next".to_owned(), "hog".to_owned()]);
        }
        Some(Error::Abandoned { hooks, skipped, .. }) => {
            // No thread for any interrupt: every one skipped, none called here.
            assert!(hooks.is_empty(), "{report}");
            assert_eq!(
                skipped,
                &["blocker".to_owned(), "next".to_owned(), "hog".to_owned()]
            );
        }
        other => panic!("{other:?}"),
    }
    for index in [1, 2] {
        assert!(matches!(interrupt(index), HookOutcome::Skipped), "{report}");
    }
    assert!(matches!(report.actors()[1].outcome, Outcome::Abandoned));
    println!("CHILD-OK");
}

/// Whether this process runs as root (owns `/proc/self`).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Runs this test binary's test `name` in a child process, with `RUNGROUP_CHILD=name`, under
/// `prlimit` arguments (as user `uid` when this process is root), and returns its exit status
/// and standard output. Killed after [`FUSE`].
fn run_child(name: &str, prlimit: &[&str], uid: u32) -> (std::process::ExitStatus, String) {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // A copy any user can run: the build directory may sit under a private home.
    let dir = std::env::temp_dir().join(format!("rungroup-child-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.join("it");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = Command::new("prlimit");
    command
        .args(prlimit)
        .arg(&exe)
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env("RUNGROUP_CHILD", name)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if is_root() {
        // `nobody`: the limit binds only an unprivileged user.
        command.uid(uid).gid(uid);
    }
    let mut child = command.spawn().expect("prlimit (util-linux) runs");
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        if done_rx.recv_timeout(FUSE).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    drop(done_tx);
    watchdog.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (status, out)
}

fn in_child(name: &str) -> bool {
    std::env::var("RUNGROUP_CHILD").is_ok_and(|child| child == name)
}

/// S08, F03 (issue 10, item 1): under a thread limit, with a budget and a blocking interrupt,
/// `run` returns within the budget and reports the interrupts it could not call. The old runner
/// fell back to calling them on the caller's thread, with no deadline, and hung forever. Here the
/// first exit's thread serves the hook lane; the fresh lane a retirement needs cannot be had.
#[test]
fn s08_budget_holds_when_no_fresh_hook_thread_can_be_spawned() {
    thread_limit_test(
        "hostile::s08_budget_holds_when_no_fresh_hook_thread_can_be_spawned",
        true,
    );
}

/// S08, F03: the same when a stop request triggers teardown, so that no thread at all can be had
/// for the hook lane: every interrupt is skipped and reported, none is called on the caller's
/// thread, and `run` still returns within the budget.
#[test]
fn s08_budget_holds_when_no_hook_thread_at_all_can_be_spawned() {
    thread_limit_test(
        "hostile::s08_budget_holds_when_no_hook_thread_at_all_can_be_spawned",
        false,
    );
}

/// In the child (the test `name` re-run): [`thread_limit_child`]; in the parent: runs the child
/// under the limit and checks it passed.
fn thread_limit_test(name: &str, by_exit: bool) {
    if in_child(name) {
        thread_limit_child(by_exit);
        return;
    }
    // RLIMIT_NPROC counts every thread of the user, in every process: each of these tests runs its
    // child as a user of its own (no account needed), or the two children, run in parallel by the
    // harness, would share one limit and one would take the other's threads.
    let uid = if by_exit { 65534 } else { 65533 };
    let (status, out) = run_child(name, &["--nproc=128:128"], uid);
    assert!(status.success(), "{status}\n{out}");
    assert!(out.contains("CHILD-OK"), "{out}");
    assert!(out.contains("[interrupt never called]"), "{out}");
}

/// S08, O02 (issue 10, item 2): an observer that blocks forever on `Triggered` cannot hold a
/// budgeted run: it is called on its own thread, left behind after a bounded wait, and the report
/// says how many events it missed. The old runner called it on the caller's thread and hung.
#[test]
fn s08_blocking_observer_cannot_hold_a_budgeted_run() {
    let (mut group, gate) = blocking_observer_group();
    group.actor("job").add(|| Err("job failed".into()), |_| {});
    let report = bounded(|| report_of(group)).join();
    assert!(report.observer_missed() > 0, "{report}");
    assert!(report.to_string().contains("observer: stuck"), "{report}");
    // The run itself is unaffected: the first exit's error, unchanged.
    assert!(report.error().is_none(), "{report}");
    assert!(
        matches!(&report.actors()[0].outcome, Outcome::Err(e) if e.to_string() == "job failed")
    );
    gate.release();
}

/// A group with a budget whose observer blocks on `Triggered` until the latch is released.
fn blocking_observer_group() -> (Group, Latch) {
    let gate = Latch::new();
    let waiter = gate.waiter();
    let mut group = Group::new();
    group
        .budget(Duration::from_millis(50))
        .kill_grace(Duration::from_millis(50));
    group.observe(move |event| {
        if matches!(event, Event::Triggered { .. }) {
            waiter.wait();
        }
    });
    (group, gate)
}

// ---- F03, F05: names, spawns and drops ------------------------------------------------------

/// F05, F03 (issue 10, item 3): an actor name with a NUL byte made std's `spawn` panic inside the
/// start loop: the actors already started were never interrupted and no report came back. Now it
/// is a spawn error that names the actor, and what had started is torn down.
#[test]
fn f05_actor_name_with_a_nul_byte_is_a_clear_spawn_error() {
    let mut group = Group::new();
    let interrupted = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&interrupted);
    group.actor("first").add_token(|token| {
        token.wait();
        Ok(())
    });
    group.actor("watcher").add(
        || Ok(()),
        move |cause: &Cause<_>| {
            seen.store(
                matches!(cause.trigger(), Trigger::SpawnFailed { .. }),
                Ordering::SeqCst,
            );
        },
    );
    group.actor("bad\0name").add(|| Ok(()), |_| {});
    let report = bounded(|| report_of(group)).join();
    match report.error() {
        Some(Error::Spawn { actor, source }) => {
            assert_eq!(actor, "bad\0name");
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    assert!(matches!(report.actors()[2].outcome, Outcome::NotStarted));
    // Printed escaped: a NUL byte never reaches a log line.
    let text = report.error().unwrap().to_string();
    assert!(text.contains("bad\\0name"), "{text}");
    assert_eq!(report.exit_code(), 1);
}

/// F03, R11 (issue 10, item 3): a panicking `Drop` in the closures of actors that never started
/// (the failed spawn's own execute, and every later actor's execute, interrupt and force hook)
/// escaped the start loop. Now each is caught and recorded on its actor; the run still tears down
/// what had started and returns the spawn error.
#[test]
fn f03_panicking_drops_of_unstarted_actors_are_recorded() {
    let mut group = Group::new();
    group.actor("started").add_token(|token| {
        token.wait();
        Ok(())
    });
    let doomed = PanicOnDrop("doomed execute");
    group.actor("huge").stack_size(1 << 60).add(
        move || {
            let _keep = &doomed;
            Ok(())
        },
        |_| {},
    );
    let (execute, interrupt, force) = (
        PanicOnDrop("later execute"),
        PanicOnDrop("later interrupt"),
        PanicOnDrop("later force"),
    );
    group.actor("later").force(move || drop(force)).add(
        move || {
            drop(execute);
            Ok(())
        },
        move |_| drop(interrupt),
    );
    let report = bounded(|| report_of(group)).join();
    assert!(matches!(report.error(), Some(Error::Spawn { actor, .. }) if actor == "huge"));
    assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
    let texts = |index: usize| -> Vec<String> {
        report.actors()[index]
            .drop_panics
            .iter()
            .map(payload_text)
            .collect()
    };
    assert_eq!(texts(1), ["doomed execute"]);
    assert_eq!(
        texts(2),
        ["later execute", "later interrupt", "later force"]
    );
    assert!(report.panicked());
}

/// R11 (issue 10, item 4): a force hook never needed is dropped by the group; a panic in its
/// `Drop` is recorded on its actor, never lost and never thrown on an actor thread. `run` resumes
/// it after teardown, like any other panic of user code.
#[test]
fn r11_panicking_drop_of_an_unused_force_hook_is_recorded() {
    let build = || {
        let mut group = Group::new();
        let hostile = PanicOnDrop("unused force");
        group
            .actor("calm")
            .force(move || drop(hostile))
            .add_token(|token| {
                token.wait();
                Ok(())
            });
        group.add(|| Ok(()), |_| {});
        group
    };
    let report = bounded(move || report_of(build())).join();
    assert!(report.error().is_none(), "{report}");
    assert_eq!(report.actors()[0].drop_panics.len(), 1);
    assert!(matches!(report.actors()[0].force, HookOutcome::NotCalled));
    assert_eq!(report.exit_code(), 101);
    let payload = bounded(move || run_catching(build())).join().unwrap_err();
    assert_eq!(payload_text(&payload), "unused force");
}

/// R09 (issue 10, item 4): a non-first actor's error whose `Drop` panics is dropped by
/// `into_result`; the panic is caught there, and `run` still returns the first exit's result.
#[test]
fn r09_panicking_drop_of_a_non_first_value_does_not_replace_the_result() {
    let mut group = Group::<Box<dyn std::error::Error + Send + Sync>>::default();
    let (tx, rx) = mpsc::channel::<()>();
    group.actor("first").add(|| Err("first".into()), |_| {});
    // Returns its hostile error only once interrupted, so after the first exit: dropping the
    // sender in `first`'s execute instead let `second` win the race now and then (seen in CI).
    group.actor("second").add(
        move || {
            let _ = rx.recv();
            Err(Box::new(HostileError(PanicOnDrop("second's error"))) as _)
        },
        move |_| drop(tx),
    );
    let result = bounded(move || run_catching(group)).join();
    assert_eq!(
        result.expect("no panic escapes").unwrap_err().to_string(),
        "first"
    );
}

/// R11, O02 (issue 10, item 4): the observer's captures are dropped by the group, on whatever
/// thread; a panic there costs neither the report nor an actor thread.
#[test]
fn r11_panicking_drop_of_the_observer_costs_nothing() {
    for bounded_run in [false, true] {
        let mut group = Group::new();
        if bounded_run {
            group.budget(HOUR);
        }
        let hostile = PanicOnDrop("observer");
        group.observe(move |_| {
            let _keep = &hostile;
        });
        group.add(|| Ok(()), |_| {});
        let result = bounded(move || run_catching(group)).join();
        assert!(matches!(result, Ok(Ok(()))), "bounded: {bounded_run}");
    }
}

// ---- R11: threads are joined, never detached ------------------------------------------------

thread_local! {
    static ON_THREAD_EXIT: RefCell<Option<SetOnDrop>> = const { RefCell::new(None) };
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        // Widens the window in which a detached thread is still exiting after `run` returned:
        // a bug's chance to show, not the synchronization a passing run depends on.
        thread::sleep(Duration::from_millis(20));
        self.0.store(true, Ordering::SeqCst);
    }
}

/// R11 (issue 10, item 6): the threads of actors that returned are joined before `run` returns,
/// so even their thread-local destructors have run. The old runner detached them (and glibc's
/// `pthread_detach` raced with exiting threads: a SIGSEGV reproduced here).
#[test]
fn r11_actor_threads_are_joined_before_run_returns() {
    let exited = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&exited);
    let mut group = Group::new();
    group.actor("tls").add(
        move || {
            ON_THREAD_EXIT.with(|slot| *slot.borrow_mut() = Some(SetOnDrop(flag)));
            Ok(())
        },
        |_| {},
    );
    group.run().unwrap();
    assert!(
        exited.load(Ordering::SeqCst),
        "the actor thread was not joined"
    );
}

/// R11 (issue 10, item 6): thread churn with large stacks on two threads at once, the load that
/// crashed the old runner in `pthread_detach`. Zero crashes is the assertion: the process
/// survives. Ignored by default (seconds of work); `.ci/run` runs it with a small count, and
/// `RUNGROUP_CHURN_ROUNDS` sets the count.
#[test]
#[ignore = "a stress test; .ci/run runs it with a bounded count"]
fn r11_thread_churn_stress() {
    let rounds: usize = std::env::var("RUNGROUP_CHURN_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(2000);
    let churn = move || {
        for _ in 0..rounds {
            let mut group = Group::new();
            group.stack_size(16 << 20);
            for _ in 0..16 {
                group.add_token(|token| {
                    token.wait();
                    Ok(())
                });
            }
            group.add(|| Ok(()), |_| {});
            group.run().unwrap();
        }
    };
    let other = thread::spawn(churn);
    churn();
    other.join().unwrap();
}

// ---- S05, S06: escalation without deadlines ---------------------------------------------------

/// S05, T02 (issue 10, item 8): with no grace and no budget, a second stop request escalates at
/// once even while an interrupt blocks: the force hooks run. The old runner called interrupts on
/// the caller's thread, so nothing could happen until the blocked interrupt returned.
#[test]
fn s05_second_stop_escalates_while_an_interrupt_blocks_without_deadlines() {
    let mut group = Group::new();
    let stop = group.stop_handle();
    let mut events = events(&mut group);
    let latch = Latch::new();
    let waiter = latch.waiter();
    let (blocker_tx, blocker_rx) = mpsc::channel::<()>();
    group.actor("blocker").add(
        move || {
            let _ = blocker_rx.recv();
            Ok(())
        },
        move |_| {
            waiter.wait();
            drop(blocker_tx);
        },
    );
    let (forced_tx, forced_rx) = mpsc::channel::<()>();
    let (stubborn_tx, stubborn_rx) = mpsc::channel::<()>();
    group
        .actor("stubborn")
        .force(move || {
            let _ = forced_tx.send(());
            drop(stubborn_tx);
        })
        .add(
            move || {
                let _ = stubborn_rx.recv();
                Ok(())
            },
            |_| {},
        );
    assert_eq!(stop.stop("first"), StopOutcome::Triggered);
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("blocker"));
    assert_eq!(stop.stop("second"), StopOutcome::Escalated);
    forced_rx
        .recv_timeout(FUSE)
        .expect("the second stop request escalated while an interrupt blocked");
    latch.release();
    let report = pending.join();
    let stubborn = &report.actors()[1];
    assert!(stubborn.escalated && matches!(stubborn.force, HookOutcome::Returned));
    assert!(matches!(
        report.actors()[0].interrupt,
        HookOutcome::Returned
    ));
    assert_escalated_cleanly(&report);
}

/// S05, S06 (issue 10, item 16): a group with no deadline has no kill grace: an escalation (here
/// `stop()` called from an interrupt) calls the force hooks and then waits for the actors as long
/// as they take. The old runner started a hidden one-second kill grace and abandoned them.
#[test]
fn s05_no_deadline_configured_means_no_kill_grace() {
    let clock = ManualClock::new();
    let mut group = Group::new();
    group.clock(clock.clone());
    let mut events = events(&mut group);
    let stop = group.stop_handle();
    let again = stop.clone();
    group.actor("caller").add(
        || Ok(()),
        move |_| {
            let _ = again.stop("from an interrupt");
        },
    );
    let latch = Latch::new();
    stubborn(&mut group, Stage::DEFAULT, "slow", &latch);
    let pending = spawn_report(group);
    events.wait_for(&Ev::escalated("slow"));
    clock.advance(HOUR); // any kill grace would have run out now
    let abandoned = events.came_within(&Ev::Abandoned("slow".into()), Duration::from_millis(200));
    latch.release();
    let report = pending.join();
    assert!(
        !abandoned,
        "a kill grace nobody configured abandoned 'slow'"
    );
    assert!(
        matches!(report.actors()[1].outcome, Outcome::Ok),
        "{report}"
    );
    assert_eq!(
        report.stages()[0].escalation,
        Some(Escalation::Request(Trigger::Stop {
            reason: "from an interrupt".into()
        }))
    );
    assert_escalated_cleanly(&report);
}

// ---- S04, S01, R04, R05: escalation keeps order and tells the truth ------------------------

/// S04, O01 (issue 10, item 12): an interrupt still queued behind blocked ones when teardown
/// ends is `Skipped` (never called, and never called later), not `Blocked`; the run's error
/// lists it apart from the hooks that did not return.
#[test]
fn s04_interrupt_left_queued_behind_blocked_ones_is_reported_skipped() {
    let (mut group, mut events, stop, clock) =
        clocked_with_grace(Duration::from_secs(5), Duration::from_secs(5));
    let latch = Latch::new();
    let (done_tx, done_rx) = mpsc::channel::<&str>();
    for name in ["a", "b"] {
        let (hook, execute) = (latch.waiter(), latch.waiter());
        let done = done_tx.clone();
        group.actor(name).add(
            move || {
                execute.wait();
                let _ = done.send(name);
                Ok(())
            },
            move |_| hook.wait(),
        );
    }
    let log = Log::new();
    let called = log.clone();
    group
        .actor("c")
        .add(|| Ok(()), move |_| called.push("interrupt:c"));
    stop.stop("test");
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("a"));
    clock.advance(Duration::from_secs(5)); // the grace: a fresh lane takes b and c
    events.wait_for(&Ev::interrupting("b"));
    clock.advance(Duration::from_secs(5)); // the kill grace: b blocks, c still queued
    let report = pending.join();
    let outcome = |index: usize| &report.actors()[index].interrupt;
    assert!(matches!(outcome(0), HookOutcome::Blocked), "{report}");
    assert!(matches!(outcome(1), HookOutcome::Blocked), "{report}");
    assert!(matches!(outcome(2), HookOutcome::Skipped), "{report}");
    match report.error() {
        Some(Error::Abandoned { hooks, skipped, .. }) => {
            assert_eq!(hooks, &["a".to_owned(), "b".to_owned()]);
            assert_eq!(skipped, &["c".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    // Released after `run`: the blocked hooks return and their lanes end; c is never called.
    latch.release();
    for _ in 0..2 {
        done_rx.recv_timeout(FUSE).unwrap();
    }
    assert!(log.entries().is_empty(), "{:?}", log.entries());
}

/// Interrupts that log their calls and count overlaps with each other.
#[derive(Clone, Default)]
struct OverlapProbe {
    log: Log,
    inside: Arc<AtomicUsize>,
    overlaps: Arc<AtomicUsize>,
}

impl OverlapProbe {
    /// Adds an actor whose interrupt logs its call and notes any other probed interrupt running
    /// at the same time. Its execute returns at once if `exits_at_once`, else when interrupted.
    fn add(
        &self,
        group: &mut Group,
        stage: Stage,
        name: &'static str,
        policy: Policy,
        exits_at_once: bool,
    ) {
        let probe = self.clone();
        let (tx, rx) = mpsc::channel::<()>();
        group.actor(name).stage(stage).policy(policy).add(
            move || {
                if !exits_at_once {
                    let _ = rx.recv();
                }
                Ok(())
            },
            move |_| {
                if probe.inside.fetch_add(1, Ordering::SeqCst) > 0 {
                    probe.overlaps.fetch_add(1, Ordering::SeqCst);
                }
                probe.log.push(format!("interrupt:{name}"));
                // Gives an interrupt wrongly run beside this one the time to show.
                thread::sleep(Duration::from_millis(20));
                probe.inside.fetch_sub(1, Ordering::SeqCst);
                drop(tx);
            },
        );
    }
}

/// R04, R05, S01 (issue 10, item 13): when the budget runs out, the later stage's interrupts are
/// all called (an actor of it that had already exited included) one at a time, in registration
/// order, on one lane.
#[test]
fn r04_final_escalation_interrupts_every_actor_of_a_later_stage_one_at_a_time() {
    let (mut group, mut events, stop, clock) = clocked(Duration::from_secs(5));
    group.budget(Duration::from_secs(10));
    let later = group.stage("later").id();
    let latch = Latch::new();
    stubborn(&mut group, Stage::DEFAULT, "deaf", &latch);
    let probe = OverlapProbe::default();
    probe.add(&mut group, later, "exited-early", Policy::OnError, true);
    probe.add(&mut group, later, "w1", Policy::Critical, false);
    probe.add(&mut group, later, "w2", Policy::Critical, false);
    let pending = spawn_report(group);
    events.wait_for(&Ev::exited("exited-early"));
    assert_eq!(stop.stop("test"), StopOutcome::Triggered);
    events.wait_for(&Ev::interrupting("deaf"));
    clock.advance(Duration::from_secs(10)); // the budget: stage 0 escalated
    events.wait_for(&Ev::escalated("deaf"));
    clock.advance(Duration::from_secs(5)); // stage 0's kill grace: stage 1 escalated at once
    let report = pending.join();
    latch.release();
    assert_eq!(
        probe.log.entries(),
        ["interrupt:exited-early", "interrupt:w1", "interrupt:w2"]
    );
    assert_eq!(
        probe.overlaps.load(Ordering::SeqCst),
        0,
        "interrupts overlapped"
    );
    for index in 1..4 {
        assert!(
            matches!(report.actors()[index].interrupt, HookOutcome::Returned),
            "{report}"
        );
    }
    assert_eq!(report.stages()[1].escalation, Some(Escalation::Budget));
}

/// S01, S08 (issue 10, item 11): once the budget is spent, the stages left are escalated one
/// after the other: the flusher of the last stage is interrupted only after the workers it drains
/// have returned. The old runner interrupted every remaining stage at once.
#[test]
fn s01_budget_escalation_keeps_stage_order() {
    let (mut group, mut events, stop, clock) = clocked(Duration::from_secs(5));
    group.budget(Duration::from_secs(10));
    let workers = group.stage("workers").id();
    let flush = group.stage("flush").id();
    let latch = Latch::new();
    stubborn(&mut group, Stage::DEFAULT, "deaf", &latch);
    let log = Log::new();
    let (worker_log, flusher_log) = (log.clone(), log.clone());
    let (tx, rx) = mpsc::channel::<()>();
    // Ignores its interrupt; returns when its force hook closes its channel.
    group
        .actor("worker")
        .stage(workers)
        .force(move || drop(tx))
        .add(
            move || {
                let _ = rx.recv();
                worker_log.push("worker returned");
                Ok(())
            },
            |_| {},
        );
    group.actor("flusher").stage(flush).add_token(move |token| {
        token.wait();
        flusher_log.push("flusher interrupted");
        Ok(())
    });
    stop.stop("test");
    let pending = spawn_report(group);
    events.wait_for(&Ev::interrupting("deaf"));
    clock.advance(Duration::from_secs(10)); // the budget
    events.wait_for(&Ev::escalated("deaf"));
    clock.advance(Duration::from_secs(5)); // stage 0's kill grace
    let report = pending.join();
    latch.release();
    assert_eq!(log.entries(), ["worker returned", "flusher interrupted"]);
    assert_eq!(report.teardown(), Some(Duration::from_secs(15)));
    let escalations: Vec<_> = report
        .stages()
        .iter()
        .map(|stage| stage.escalation.clone())
        .collect();
    assert_eq!(escalations, vec![Some(Escalation::Budget); 3]);
}

// ---- O01: honest text and exit codes ----------------------------------------------------------

/// O01 (issue 10, item 14): the cause and the report print the error's text, not only "returned
/// an error".
#[test]
fn o01_cause_and_report_show_the_error_text() {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut group = Group::new();
    group.actor("job").add(
        || Err("job failed".into()),
        move |cause: &Cause<_>| {
            tx.send(cause.to_string()).unwrap();
        },
    );
    let report = report_of(group);
    assert_eq!(rx.recv().unwrap(), "actor 'job' failed: job failed");
    let text = report.to_string();
    assert!(
        text.starts_with("run ended: actor 'job' exited first (error): job failed"),
        "{text}"
    );
    assert!(text.contains("error (job failed)"), "{text}");
}

/// T02, O01 (issue 10, item 9): signals print by name.
#[test]
fn t02_signals_print_by_name() {
    let cause_of = |signal: i32| {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut group = Group::new();
        let stop = group.stop_handle();
        group.add_token(move |token| {
            token.wait();
            Ok(())
        });
        group.add(
            move || {
                stop.stop_signal(signal);
                Ok(())
            },
            move |cause: &Cause<_>| tx.send(cause.to_string()).unwrap(),
        );
        let _ = report_of(group);
        rx.recv().unwrap()
    };
    assert_eq!(cause_of(15), "SIGTERM received");
    assert_eq!(cause_of(77), "signal 77 received");
    let escalation = Escalation::Request(Trigger::Signal { signal: 2 });
    assert_eq!(escalation.to_string(), "SIGINT arrived during teardown");
}

/// O01 (issue 10, item 18): `Report::exit_code` maps each outcome to its conventional status.
#[test]
fn o01_exit_code_follows_the_outcome() {
    let code = |build: &dyn Fn(&mut Group)| {
        let mut group = Group::new();
        build(&mut group);
        report_of(group).exit_code()
    };
    assert_eq!(
        code(&|g| {
            g.add(|| Ok(()), |_| {});
        }),
        0
    );
    assert_eq!(
        code(&|g| {
            g.add(|| Err("x".into()), |_| {});
        }),
        1
    );
    assert_eq!(
        code(&|g| {
            g.add(|| panic!("boom"), |_| {});
        }),
        101
    );
    assert_eq!(
        code(&|g| {
            g.actor("huge").stack_size(1 << 60).add(|| Ok(()), |_| {});
        }),
        1
    );
    let signalled = code(&|g| {
        let stop = g.stop_handle();
        g.add_token(move |token| {
            // What a signal actor does on SIGTERM.
            let _ = stop.stop_signal(15);
            token.wait();
            Ok(())
        });
    });
    assert_eq!(signalled, 143);
    // Escalated (3) and abandoned (4) are asserted where those runs are built:
    // `assert_escalated_cleanly` and `s06_*`.
}

/// `main` can return the report: exit status and an account on standard error.
#[test]
fn o01_report_is_a_termination() {
    use std::process::Termination;
    let mut group = Group::new();
    group.add(|| Ok(()), |_| {});
    let code = report_of(group).report();
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::SUCCESS)
    );
}

/// F03 (issue 10, item 5): a group whose threads would pass the process's memory-map limit is
/// refused before anything starts, with an error naming the first actor that would not fit. std's
/// thread start-up aborts the whole process when it runs out of mappings (measured here: at about
/// 17 600 threads with `vm.max_map_count` = 65 530; `docs/performance.md`).
#[test]
fn f03_a_group_past_the_map_limit_is_refused_before_anything_starts() {
    let Some(limit) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|limit| limit.trim().parse::<usize>().ok())
    else {
        eprintln!("no /proc/sys/vm/max_map_count here: nothing to check");
        return;
    };
    // More threads than the limit could map at even two mappings each.
    let actors = limit / 2 + 1;
    if actors > 200_000 {
        eprintln!("vm.max_map_count = {limit}: too many actors to build for this check");
        return;
    }
    let started = Arc::new(AtomicUsize::new(0));
    let mut group = Group::new();
    for _ in 0..actors {
        let started = Arc::clone(&started);
        group.add(
            move || {
                started.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            |_| {},
        );
    }
    let report = report_of(group);
    assert_eq!(started.load(Ordering::SeqCst), 0, "nothing may start");
    match report.error() {
        Some(Error::Spawn { actor, source }) => {
            assert!(actor.starts_with("actor-"), "{actor}");
            assert_eq!(source.kind(), std::io::ErrorKind::OutOfMemory);
            assert!(source.to_string().contains("vm.max_map_count"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(report.trigger(), Trigger::SpawnFailed { .. }));
    assert!(
        report
            .actors()
            .iter()
            .all(|a| matches!(a.outcome, Outcome::NotStarted))
    );
}

/// O01 (issue 12, from a review): the report lines keep their names when the run's shared state is
/// still held at the end (an observer thread given up on; a readiness handle kept by the user).
#[test]
fn o01_names_survive_a_stuck_observer_and_a_kept_ready_handle() {
    let (mut group, gate) = blocking_observer_group();
    let handle = group.ready_handle("db");
    group.actor("job").add(|| Err("job failed".into()), |_| {});
    group.actor("fut").add_future_token(|token| async move {
        token.stopped().await;
        Ok(())
    });
    let report = bounded(|| report_of(group)).join();
    let names: Vec<&str> = report.actors().iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["job", "fut"], "{report}");
    assert!(report.observer_missed() > 0, "{report}");
    handle.ready();
    gate.release();
}

/// R04 and S04 (issue 12's Spin model, finding P11): an interrupt that was never called is never
/// reported as success, even when no hook blocked and nobody was abandoned or escalated. A zero
/// budget and a zero kill grace end teardown before the hook lane's thread (started for the
/// trigger, every actor having returned) has taken its queue, so the interrupts of the two
/// actors are skipped; `run` returned `Ok(())` for that. Whether the lane thread is that slow is up
/// to the scheduler (it nearly always is): each run checks the promise whichever way it went.
#[test]
fn r04_skipped_interrupts_are_never_a_success() {
    let mut skipped_runs = 0;
    for _ in 0..50 {
        let mut group = Group::new();
        group
            .clock(ManualClock::new())
            .budget(Duration::ZERO)
            .kill_grace(Duration::ZERO);
        for name in ["a", "b"] {
            group
                .actor(name)
                .policy(Policy::OnError)
                .add(|| Ok(()), |_| {});
        }
        // Both return `Ok` at once: the trigger is `AllExited`, with nothing left to escalate.
        let report = report_of(group);
        let skipped: Vec<String> = report
            .actors()
            .iter()
            .filter(|actor| matches!(actor.interrupt, HookOutcome::Skipped))
            .map(|actor| actor.name.clone())
            .collect();
        if skipped.is_empty() {
            continue;
        }
        skipped_runs += 1;
        let text = report.to_string();
        match report.into_result() {
            Err(error) => assert!(
                error.to_string().contains("interrupts never called"),
                "{error}"
            ),
            Ok(()) => panic!("interrupts of {skipped:?} never called, and run says Ok:\n{text}"),
        }
    }
    eprintln!("{skipped_runs} of 50 runs skipped interrupts");
}
