//! The stop handle: teardown on request, from any thread (rule T01).

use std::fmt;

use crate::state::{Control, Requested};
use crate::sync::Arc;
use crate::why::Trigger;

/// What a stop request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopOutcome {
    /// It was the first trigger: its reason is the cause of teardown.
    Triggered,
    /// Teardown was already under way: it escalated (rule S05), as a second SIGTERM does.
    Escalated,
    /// The run had already finished: nothing happened.
    Ignored,
}

/// Requests teardown of a group from any thread (rule T01). Cheap to clone; `Send + Sync`.
///
/// Obtained from [`Group::stop_handle`](crate::Group::stop_handle) before `run`. The first request
/// (before or during `run`) triggers teardown with its reason as the cause; later ones escalate
/// it; requests after `run` returned do nothing. None of them panics or blocks beyond a short lock.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{Group, StopOutcome};
///
/// let mut group = Group::new();
/// let stop = group.stop_handle();
/// let from_worker = stop.clone();
/// group.add_token(move |token| {
///     assert_eq!(from_worker.stop("maintenance window"), StopOutcome::Triggered);
///     token.wait();
///     Ok(())
/// });
/// group.run().unwrap();
/// assert_eq!(stop.stop("too late"), StopOutcome::Ignored);
/// ```
#[derive(Clone)]
pub struct StopHandle {
    control: Arc<Control>,
}

impl StopHandle {
    pub(crate) fn new(control: Arc<Control>) -> Self {
        Self { control }
    }

    /// Asks the group to tear down, giving `reason` as the cause.
    pub fn stop(&self, reason: impl Into<String>) -> StopOutcome {
        self.request(Trigger::Stop {
            reason: reason.into(),
        })
    }

    /// Asks the group to tear down because the process received `signal`, which the caller
    /// handles by its own means (an async runtime's signal stream, say): the cause is
    /// [`Trigger::Signal`](crate::Trigger::Signal), as with the `signal` feature's actor, and a clean
    /// teardown maps to exit status 128 + `signal` ([`Report::exit_code`](crate::Report::exit_code)).
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, Trigger};
    ///
    /// let mut group = Group::new();
    /// let stop = group.stop_handle();
    /// group.add_token(|token| { token.wait(); Ok(()) });
    /// stop.stop_signal(15); // SIGTERM, as seen by your own handler
    /// let report = group.run_with_report();
    /// assert_eq!(report.trigger(), &Trigger::Signal { signal: 15 });
    /// assert_eq!(report.exit_code(), 143);
    /// ```
    pub fn stop_signal(&self, signal: i32) -> StopOutcome {
        self.request(Trigger::Signal { signal })
    }

    /// A request that triggers teardown if nothing has yet, and is otherwise ignored rather than
    /// escalating: what a nested group's interrupt sends (an ordinary interrupt of the outer group
    /// must not escalate an inner teardown already under way).
    pub(crate) fn request_first(&self, trigger: Trigger) -> StopOutcome {
        match self.control.request(trigger, false) {
            Requested::Triggered => StopOutcome::Triggered,
            Requested::Escalated | Requested::Ignored => StopOutcome::Ignored,
        }
    }

    pub(crate) fn request(&self, trigger: Trigger) -> StopOutcome {
        match self.control.request(trigger, true) {
            Requested::Triggered => StopOutcome::Triggered,
            Requested::Escalated => StopOutcome::Escalated,
            Requested::Ignored => StopOutcome::Ignored,
        }
    }

    /// Whether teardown has been triggered (by this handle or anything else).
    pub fn is_triggered(&self) -> bool {
        self.control.is_triggered()
    }
}

impl fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopHandle")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}
