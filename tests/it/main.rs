//! The integration tests: one crate (tests/it), one module per section of the contract.
//! Test names start with the id of the rule they prove (`r05_...`).
//!
//! Under `RUSTFLAGS="--cfg loom"` (or `--cfg shuttle`) the crate is built on the model checker's
//! primitives, which only work inside a model, so this crate is empty then; the models live in
//! `loom-tests/` and `shuttle-tests/`.
#![cfg(not(any(loom, shuttle)))]

mod common;
mod core;
mod failure;
mod future;
mod helpers;
mod hostile;
mod model;
#[cfg(all(
    unix,
    any(feature = "signal", feature = "process", feature = "systemd")
))]
mod process;
mod report;
mod service;
mod stages;
mod supervise;
mod triggers;
