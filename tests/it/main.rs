//! The integration tests: one crate (tests/it), one module per section of the contract.
//! Test names start with the id of the rule they prove (`r05_...`).
//!
//! Under `RUSTFLAGS="--cfg loom"` the crate is built on loom's primitives, which only work inside a
//! loom model, so this crate is empty then; the loom models live in `loom-tests/`.
#![cfg(not(loom))]

mod common;
mod core;
mod failure;
mod helpers;
mod model;
mod report;
mod stages;
mod triggers;
