//! loom models of the group's concurrency rules (SPEC V02). Empty unless built with
//! `RUSTFLAGS="--cfg loom"`.
//!
//! Every model builds a real [`rungroup::Group`] inside `loom::model`: under `--cfg loom` the
//! crate's atomics, locks and threads are loom's, so each model explores the interleavings of the
//! runner, the actor threads and (with deadlines) the lanes. Each model's doc comment names the
//! rule ids it checks, and each test name starts with its main rule id. How to run them, what
//! they cost and which deliberate breakages they catch: `docs/testing.md`, section "loom".
//!
//! loom allows 5 threads per model, the model's own thread included. The runner is the model's
//! thread and each actor is one more. The hook lane is served by the first exit's own thread;
//! a stop request (no exiting actor) needs one more thread for it, and each force hook, and each
//! retirement of a blocked lane, one more: hence 2 to 4 actors per model.
#![cfg(loom)]

mod common;
mod core;
mod escalation;
mod failure;
mod future;
mod service;
mod stages;
mod supervise;
mod triggers;
