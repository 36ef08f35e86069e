//! Future actors and `run_async` on real executors (issue 12): tokio with paused time (the
//! group's deadlines on tokio's clock through `TokioTimer`), tokio's multi-threaded runtime
//! (`run_async` is `Send`), smol, and `futures::executor::block_on`. Every wait here is on an
//! event that must happen; paused time makes the deadlines exact instead of slow.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rungroup::{BoxError, Group, Outcome, Stage, StopToken, TokioTimer};

/// A future that ignores every wake and is only ever dropped; counts its drops.
fn deaf(drops: &Arc<AtomicUsize>) -> impl Future<Output = Result<(), BoxError>> + Send + 'static {
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let count = Count(Arc::clone(drops));
    async move {
        let _count = count;
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// Asserts that every actor of `report` ended `Ok`.
#[track_caller]
fn assert_all_ok(report: &rungroup::Report<BoxError>) {
    assert!(
        report
            .actors()
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Ok)),
        "{report}"
    );
}

/// A multi-threaded tokio runtime with `workers` worker threads.
fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

/// S04 + S05 on tokio's paused clock: a 30 s grace and a 10 s kill grace pass in no real time;
/// the deaf future is dropped at the grace (exactly), and the stage took exactly the grace.
#[tokio::test(start_paused = true)]
async fn s04_i12_graces_run_on_tokios_paused_clock() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut group = Group::new();
    group
        .timer(TokioTimer::new())
        .grace(Stage::DEFAULT, Duration::from_secs(30))
        .kill_grace(Duration::from_secs(10));
    group.actor("deaf").add_future(deaf(&drops), |_| {});
    group.actor("job").add_future(
        async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Err("job failed".into())
        },
        |_| {},
    );
    let report = group.run_async_with_report().await;
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Cancelled),
        "{report}"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(
        report.first_exit().unwrap().exited_at,
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        report.stages()[0].elapsed,
        Some(Duration::from_secs(30)),
        "{report}"
    );
    assert!(report.stages()[0].expired);
    assert_eq!(report.into_result().unwrap_err().to_string(), "job failed");
}

/// S08 on paused time: the budget bounds the whole teardown, across stages.
#[tokio::test(start_paused = true)]
async fn s08_i12_the_budget_holds_on_tokios_paused_clock() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut group = Group::new();
    let drain = group.stage("drain").id();
    group
        .timer(TokioTimer::new())
        .budget(Duration::from_secs(20))
        .kill_grace(Duration::from_secs(1));
    group.actor("deaf-0").add_future(deaf(&drops), |_| {});
    group
        .actor("deaf-1")
        .stage(drain)
        .add_future(deaf(&drops), |_| {});
    let stop = group.stop_handle();
    let run = tokio::spawn(group.run_async_with_report());
    stop.stop("test");
    let report = run.await.unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // The budget (20 s) and one kill grace (1 s) per stage, at most.
    assert!(
        report.teardown().unwrap() <= Duration::from_secs(22),
        "{report}"
    );
    assert!(
        report.teardown().unwrap() >= Duration::from_secs(20),
        "{report}"
    );
}

/// Future actors find tokio's runtime: a real listener accepting in a future actor, stopped by
/// its token, beside a thread actor; the stop request comes from a tokio task.
#[tokio::test]
async fn t03_i12_a_tokio_listener_is_a_future_actor() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    let mut group = Group::new();
    group
        .actor("listener")
        .add_future_token(move |token| async move {
            loop {
                tokio::select! {
                    _ = token.stopped() => return Ok(()),
                    accepted = listener.accept() => {
                        let (socket, _) = accepted?;
                        counted.fetch_add(1, Ordering::SeqCst);
                        drop(socket);
                    }
                }
            }
        });
    let stop = group.stop_handle();
    group.actor("client").add_future(
        async move {
            let socket = tokio::net::TcpStream::connect(address).await?;
            drop(socket);
            stop.stop("client done");
            Ok(())
        },
        |_| {},
    );
    let report = group.run_async_with_report().await;
    assert_all_ok(&report);
    assert!(report.into_result().is_ok());
}

/// `run_async` is `Send`: spawned on tokio's multi-threaded runtime, with mixed actors.
#[test]
fn r02_i12_run_async_is_send_and_runs_on_a_multi_thread_runtime() {
    let runtime = multi_thread(2);
    let result = runtime.block_on(async {
        let mut group = Group::new();
        let token = StopToken::new();
        let waiter = token.clone();
        group.actor("thread").add(
            move || {
                waiter.wait();
                Ok(())
            },
            move |_| token.stop(),
        );
        for _ in 0..16 {
            group.add_future_token(|token| async move {
                token.stopped().await;
                Ok(())
            });
        }
        group.actor("job").add_future(
            async {
                tokio::task::yield_now().await;
                Err("from a future".into())
            },
            |_| {},
        );
        tokio::spawn(group.run_async()).await.unwrap()
    });
    assert_eq!(result.unwrap_err().to_string(), "from a future");
}

/// A second executor: smol, with its own timer and I/O in a future actor.
#[test]
fn r03_i12_run_async_on_smol() {
    let report = smol::block_on(async {
        let mut group = Group::new();
        group.actor("ticker").add_future_token(|token| async move {
            loop {
                let tick = async {
                    smol::Timer::after(Duration::from_millis(1)).await;
                    false
                };
                let stopped = async {
                    token.stopped().await;
                    true
                };
                if smol::future::or(stopped, tick).await {
                    return Ok(());
                }
            }
        });
        group.actor("job").add_future(
            async {
                let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
                let address = listener.local_addr()?;
                let connect = smol::net::TcpStream::connect(address);
                let (accepted, connected) = smol::future::zip(listener.accept(), connect).await;
                accepted?;
                connected?;
                Ok(())
            },
            |_| {},
        );
        group.run_async_with_report().await
    });
    assert_all_ok(&report);
    assert_eq!(report.first_exit().unwrap().name, "job");
}

/// A third: `futures::executor::block_on`, with a cancel-safe future dropped at its interrupt.
#[test]
fn r04_i12_run_async_on_futures_executor() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut group = Group::new();
    group.actor("forever").add_future_cancel(deaf(&drops));
    group.actor("job").add(|| Ok(()), |_| {});
    let report = futures_executor::block_on(group.run_async_with_report());
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Cancelled),
        "{report}"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(report.into_result().is_ok());
}

/// `spawned()` actors as tokio tasks (`TokioExecutor`) on the multi-threaded runtime: two of
/// them meet at a barrier inside a poll, which needs two worker threads at once; an escalation
/// has the task drop a deaf one.
#[test]
fn r02_i12_spawned_actors_run_as_tokio_tasks() {
    let runtime = multi_thread(3);
    let drops = Arc::new(AtomicUsize::new(0));
    let report = runtime.block_on(async {
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let mut group = Group::new();
        group
            .executor(rungroup::TokioExecutor::current())
            .timer(TokioTimer::new())
            .grace(Stage::DEFAULT, Duration::from_millis(50));
        for name in ["left", "right"] {
            let barrier = Arc::clone(&barrier);
            group.actor(name).spawned().add_future(
                async move {
                    barrier.wait();
                    Ok(())
                },
                |_| {},
            );
        }
        group
            .actor("deaf")
            .spawned()
            .add_future(deaf(&drops), |_| {});
        group.run_async_with_report().await
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(
        matches!(report.actors()[2].outcome, Outcome::Cancelled),
        "{report}"
    );
    assert!(
        report.actors()[..2]
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Ok)),
        "{report}"
    );
}

/// S08 (issue 12, misuse): `TokioTimer` on an executor that is not tokio. Its sleep panics ("no
/// reactor running"); before, that panic unwound out of `run_async` and the report was lost.
/// Now the run keeps its deadlines with its own timer thread (the deaf future is dropped at its
/// grace) and reports the misuse as `Error::Timer`.
#[test]
fn s08_i12_tokio_timer_outside_tokio_is_reported_not_a_crash() {
    let drops = Arc::new(AtomicUsize::new(0));
    let report = smol::block_on(async {
        let mut group = Group::new();
        group
            .timer(TokioTimer::new())
            .grace(Stage::DEFAULT, Duration::from_millis(20))
            .kill_grace(Duration::from_millis(20));
        group.actor("deaf").add_future(deaf(&drops), |_| {});
        group.actor("job").add_future(async { Ok(()) }, |_| {});
        group.run_async_with_report().await
    });
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Cancelled),
        "{report}"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let error = report.error().expect("the misuse is reported").to_string();
    assert!(
        error.contains("the group's timer failed") && error.contains("Tokio"),
        "{error}"
    );
}
