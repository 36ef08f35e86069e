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
//! thread, each actor is one more, and with a grace or budget each stage's interrupts and the
//! force hooks get one lane thread each: hence 2 or 3 actors per model, at most.
#![cfg(loom)]

mod common;
mod core;
mod failure;
mod stages;
mod triggers;
