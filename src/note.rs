//! What the group records as it runs, for the observer, `tracing`, `log` and systemd: one
//! [`Note`] per lifecycle event. A leaf: the observer (`observe.rs`) and the systemd notifier
//! both read notes, and neither needs the other for it.

use std::time::Duration;

/// An event as the group records it: owned, naming actors and stages by index, so that it can
/// wait in the observer's queue. [`Note::event`] lends it out as an [`Event`].
#[derive(Debug)]
pub(crate) enum Note {
    Triggered {
        cause: String,
    },
    StageBegun {
        index: usize,
    },
    Interrupting {
        actor: usize,
    },
    HookReturned {
        actor: usize,
        hook: &'static str,
        panicked: bool,
    },
    ActorExited {
        actor: usize,
        outcome: &'static str,
        error: Option<String>,
        first: bool,
    },
    StageEnded {
        index: usize,
        elapsed: Duration,
        expired: bool,
    },
    Escalated {
        actor: usize,
    },
    Abandoned {
        actor: usize,
    },
    Stalled {
        actor: usize,
        took: Duration,
    },
    Ready,
    NotReady {
        reason: String,
    },
    LameDuck {
        delay: Duration,
    },
    Restarting {
        actor: usize,
        incarnation: usize,
        outcome: &'static str,
        backoff: Duration,
    },
}
