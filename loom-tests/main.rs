//! loom models of the group's concurrency rules. Empty unless built with `--cfg loom`.
#![cfg(loom)]
