//! placeholder
#![forbid(unsafe_code)]

mod clock;
mod error;
mod group;
mod observe;
mod report;
mod runner;
mod state;
mod stop;
mod sync;
mod token;

pub use clock::ManualClock;
pub use error::Error;
pub use group::{ActorBuilder, BoxError, DEFAULT_KILL_GRACE, Group, Policy, Stage};
pub use observe::Event;
pub use report::{ActorReport, Cause, InterruptOutcome, Outcome, Payload, Report, StageReport, Trigger};
pub use stop::{StopHandle, StopOutcome};
pub use token::StopToken;

/// Whether this is the loom build of the crate (`RUSTFLAGS="--cfg loom"`), in which the crate's
/// primitives are loom's and panic outside a loom model. The crate's doctests start with
/// `if rungroup::doctest_skip() { return; }` so that `RUSTFLAGS="--cfg loom" cargo test` can still
/// compile them (rustdoc never sees `cfg(loom)`, but links the loom build). Not for other uses.
#[doc(hidden)]
pub fn doctest_skip() -> bool {
    cfg!(loom)
}
