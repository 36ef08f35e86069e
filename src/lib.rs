//! Run the long-lived parts of a service as one unit, and shut them down deterministically.
//!
//! `rungroup` is a port of Go's [`oklog/run`](https://github.com/oklog/run): a [`Group`] of
//! *actors*, each an *(execute, interrupt)* pair. [`Group::run`] starts every execute on its own
//! thread; the first to return (or panic) triggers teardown, which calls every interrupt and waits
//! for every execute; `run` returns the first exit's result. Beyond Go: ordered shutdown stages,
//! grace periods and a budget, escalation, caught panics, a [`Report`] of who stopped and why, stop
//! handles and signals as triggers, and honest reporting of anything that would not stop.
//!
//! ```
//! # if rungroup::doctest_skip() { return; }
//! use rungroup::Group;
//! use std::time::Duration;
//!
//! let mut group = Group::new();
//! let drain = group.stage("drain").id(); // torn down after the default stage
//! group.grace(drain, Duration::from_secs(10)).budget(Duration::from_secs(30));
//!
//! let stop = group.stop_handle(); // stop.stop("reason") from any thread
//! group.actor("http").add_token(|token| { token.wait(); Ok(()) });
//! group.actor("worker").stage(drain).add_token(|token| { token.wait(); Ok(()) });
//! group.actor("job").add(|| Err("job failed".into()), |_| {});
//!
//! let report = group.run_with_report(); // or `group.run()?` for the first result
//! eprintln!("{report}"); // who exited first, every actor's fate
//! assert_eq!(report.into_result().unwrap_err().to_string(), "job failed");
//! # drop(stop);
//! ```
//!
//! # Recipes
//!
//! **An actor that loops until stopped.** Use a token actor: the group supplies the interrupt.
//!
//! ```
//! # if rungroup::doctest_skip() { return; }
//! # use std::time::Duration;
//! let mut group = rungroup::Group::new();
//! group.actor("ticker").add_token(|token| {
//!     while !token.wait_timeout(Duration::from_millis(1)) {
//!         // one tick of work
//!     }
//!     Ok(())
//! });
//! group.add(|| Ok(()), |_| {}); // exits at once, ending the group
//! group.run().unwrap();
//! ```
//!
//! **An actor that blocks in I/O.** Its interrupt must wake the blocking call: close the channel it
//! reads, shut down the socket, or (for `accept`, which std cannot interrupt) set a flag and connect
//! to the listener: [`io::Acceptor`] does that (the [`io`] module covers blocking I/O, child
//! processes included). [`examples/demo.rs`][demo] uses it, and [`examples/server.rs`][server] is
//! a whole HTTP server stopped by SIGTERM.
//!
//! **Work that must not trigger shutdown when it finishes.** [`Policy::OnError`]: a clean `Ok` is
//! recorded and the group runs on; an error or panic still triggers teardown.
//!
//! **Stop in order, with deadlines.** [`Group::stage`], [`Group::grace`], [`Group::budget`],
//! [`ActorBuilder::force`]: see [`docs/shutdown.md`][shutdown]. More recipes, each ready to paste
//! into a `main`: [`docs/recipes.md`][recipes].
//!
//! # Guarantees
//!
//! Each is a numbered rule of the contract ([`docs/semantics.md`][semantics]), with a test named
//! after it ([`docs/rules.md`][rules]):
//!
//! - **R02–R05** every execute runs on its own thread; the first exit wins exactly once; every
//!   interrupt is called exactly once, one at a time, in registration order.
//! - **R06, R09** every interrupt sees the same [`Cause`], holding the first exit's very value,
//!   which `run` returns unchanged.
//! - **R08, R11** `run` returns only after every execute has returned and dropped its captures; their
//!   effects happen-before `run` returns.
//! - **R10** `run(self)`: a group cannot run twice or change while running (it does not compile).
//! - **F01–F03** panics in executes and interrupts are caught, teardown runs in full, then the
//!   panic is resumed on the caller ([`Group::run`]) or kept ([`Group::run_with_report`]); a failed
//!   spawn tears down what had started and returns [`Error::Spawn`].
//! - **S01–S08** stages, grace, budget, escalation in stage order, abandonment
//!   ([`Error::Abandoned`]) and escalation ([`Error::Escalated`]), never success; exit policies;
//!   with a budget, `run` returns within budget + one kill grace per stage + a small constant,
//!   whatever the actors, hooks and observer do.
//! - **F04** without any grace or budget, a stuck actor hangs `run`, exactly as in Go. Set a budget
//!   to rule that out.
//!
//! # Differences from Go's `oklog/run`
//!
//! - Panics are caught and reported instead of crashing the process.
//! - Interrupts receive `&Cause<E>` (the first result by reference, or a stop request or signal)
//!   rather than an `error`.
//! - A stop request or signal followed by a clean teardown makes `run` return `Ok(())`; Go returns
//!   the handler's error. The cause is in the report.
//! - Actors have names, stages, exit policies and force hooks; `run` can be bounded.
//!
//! # Implementation notes
//!
//! The state is one atomic word (a phase and the winner's id) plus a live counter per stage; the
//! caller's thread sleeps on a `parking_lot` mutex and condvar and is woken once per stage, never by
//! polling. Interrupts and force hooks run on helper "lane" threads, never on the caller's thread,
//! so a blocked hook can always be walked away from (on a deadline, or a second stop request).
//! Threads whose work is done are joined before `run` returns; a thread still inside user code is
//! kept running, never detached. The design, with the state table and the ordering of every
//! atomic, is in [`docs/design.md`][design].
//!
//! # Features
//!
//! None by default. `signal`: the signal actor (Unix, via `signal-hook`). `process`: child
//! processes as actors, `ActorBuilder::add_child` (Unix, signalled with `kill(2)` via `rustix`,
//! no shell needed). `tracing`: lifecycle events as `tracing` events (target `rungroup`), inside
//! a span per actor thread (`actor{name, stage}`) and per stage's teardown (`stage{name, index}`);
//! the trigger's event carries the first exit's error text. `log`: the same events as `log`
//! records, at the same levels. `systemd`: `Group::systemd` reports readiness, the teardown's
//! stages and a watchdog over systemd's notify socket (Unix, via `sd-notify`). MSRV: Rust 1.85. On docs.rs every item that needs a feature says
//! which.
//!
//! # FAQ
//!
//! **Why threads, not async?** The actors this library runs (blocking listeners, child processes,
//! flushers) are blocking code, and teardown must not depend on an executor that is itself being
//! torn down. An async actor can run its own runtime inside a token actor's execute and await
//! [`StopToken::stopped`], which needs no runtime:
//!
//! ```ignore
//! group.actor("api").add_token(|token| {
//!     tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//!         axum::serve(listener, app).with_graceful_shutdown(token.stopped()).await
//!     })?;
//!     Ok(())
//! });
//! ```
//!
//! **Why are threads joined rather than detached?** So that nothing of an actor runs after `run`
//! returns, not even its thread-local destructors, and because glibc's `pthread_detach` can crash
//! on a thread that is exiting (reproduced here). An abandoned thread cannot be joined; its handle
//! is kept, so it is never detached either.
//!
//! **What does the loom build change?** Under `RUSTFLAGS="--cfg loom"` the crate's primitives are
//! loom's; see [`docs/testing.md`][testing].
//!
//! [demo]: https://github.com/rungroup/rungroup/blob/main/examples/demo.rs
//! [server]: https://github.com/rungroup/rungroup/blob/main/examples/server.rs
//! [shutdown]: https://github.com/rungroup/rungroup/blob/main/docs/shutdown.md
//! [recipes]: https://github.com/rungroup/rungroup/blob/main/docs/recipes.md
//! [semantics]: https://github.com/rungroup/rungroup/blob/main/docs/semantics.md
//! [rules]: https://github.com/rungroup/rungroup/blob/main/docs/rules.md
//! [design]: https://github.com/rungroup/rungroup/blob/main/docs/design.md
//! [testing]: https://github.com/rungroup/rungroup/blob/main/docs/testing.md
#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly): a badge on each item that needs a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod actor;
mod body;
mod clock;
mod driver;
mod error;
mod group;
pub mod io;
mod lane;
mod nest;
mod note;
mod observe;
mod plan;
mod ready;
mod report;
mod runner;
mod shared;
#[cfg(all(unix, feature = "signal"))]
mod signal;
mod spawn;
mod state;
mod stop;
mod supervise;
mod sync;
#[cfg(all(unix, feature = "systemd"))]
mod systemd;
mod token;
mod unwind;
mod why;

pub use actor::{ActorId, BoxError, Policy};
#[cfg(feature = "test-util")]
pub use clock::ManualClock;
pub use clock::Timer;
#[cfg(feature = "tokio")]
pub use clock::TokioTimer;
pub use error::Error;
pub use group::{ActorBuilder, DEFAULT_KILL_GRACE, Group, Stage, StageBuilder};
pub use observe::Event;
pub use ready::{Readiness, ReadyHandle};
pub use report::Incarnation;
pub use report::{ActorReport, HookOutcome, Outcome, Report, StageReport};
#[cfg(all(unix, feature = "signal"))]
pub use signal::{SignalError, SignalSet};
pub use spawn::Executor;
#[cfg(feature = "tokio")]
pub use spawn::TokioExecutor;
pub use stop::{StopHandle, StopOutcome};
pub use supervise::Restart;
pub use token::{StopToken, Stopped};
pub use unwind::Payload;
pub use why::{Cause, Escalation, Trigger};

/// Whether this is the loom or shuttle build of the crate (`RUSTFLAGS="--cfg loom"` or
/// `"--cfg shuttle"`), in which the crate's primitives are the model checker's and panic outside a
/// model. The crate's doctests start with
/// `if rungroup::doctest_skip() { return; }` so that `RUSTFLAGS="--cfg loom" cargo test` can still
/// compile them (rustdoc never sees `cfg(loom)`, but links the loom build). Not for other uses.
#[doc(hidden)]
pub fn doctest_skip() -> bool {
    cfg!(any(loom, shuttle))
}

/// Never called: fails to compile if a public type loses `Send` or `Sync`. Types holding
/// `FnOnce` closures or panic payloads (`Group`, `Report`, `Outcome`, ...) are `Send` only, by
/// design: they move to another thread, they are not shared.
#[allow(dead_code)]
fn assert_send_sync() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Group>();
    send::<ActorBuilder<'static, BoxError>>();
    send::<Report<BoxError>>();
    send::<ActorReport<BoxError>>();
    send::<Outcome<BoxError>>();
    send::<HookOutcome>();
    send_sync::<Escalation>();
    send_sync::<ActorId>();
    send_sync::<Cause<BoxError>>();
    send_sync::<Error>();
    send_sync::<Event<'static>>();
    send_sync::<clock::ManualClock>();
    send_sync::<Policy>();
    send_sync::<Stage>();
    send_sync::<StageReport>();
    send_sync::<StopHandle>();
    send_sync::<StopOutcome>();
    send_sync::<StopToken>();
    send_sync::<Stopped>();
    send_sync::<Readiness>();
    send_sync::<ReadyHandle>();
    send_sync::<Restart>();
    send::<Incarnation<BoxError>>();
    send_sync::<Trigger>();
    send_sync::<io::Acceptor>();
    send_sync::<io::AcceptInterrupter>();
    #[cfg(all(unix, feature = "signal"))]
    send_sync::<SignalSet>();
    #[cfg(all(unix, feature = "signal"))]
    send_sync::<SignalError>();
}
