//! What an actor is made of, as the group's other parts name it: its error type, its exit
//! policy, its id, and the closures and future of its body. A leaf but for the cause its
//! interrupt receives.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::why::Cause;

/// The default error type of a group's actors: any error that can cross threads.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub(crate) type Execute<E> = Box<dyn FnOnce() -> Result<(), E> + Send + 'static>;
pub(crate) type Interrupt<E> = Box<dyn FnOnce(&Cause<E>) + Send + 'static>;
pub(crate) type Force = Box<dyn FnOnce() + Send + 'static>;

/// A future actor's body.
pub(crate) type BoxFuture<E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'static>>;

/// When an actor's exit triggers teardown (rule S07).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Any exit, `Ok`, `Err` or panic, triggers teardown. The default, and `oklog/run`'s only
    /// behaviour.
    #[default]
    Critical,
    /// Only an `Err` or a panic triggers teardown; a clean `Ok` exit is recorded and the group runs
    /// on. For sidecars and one-shot init work. If every actor is `OnError` and all return `Ok`,
    /// the group ends when the last one returns (trigger [`Trigger::AllExited`](crate::Trigger::AllExited)).
    OnError,
}

impl Policy {
    /// `critical` or `on-error`, as the report prints it.
    pub fn label(self) -> &'static str {
        match self {
            Policy::Critical => "critical",
            Policy::OnError => "on-error",
        }
    }
}

/// `critical` or `on-error`: [`Policy::label`], padded as the formatter asks (`{:<9}`).
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.label())
    }
}

/// One actor of a group: what every `add*` returns, whatever the kind of actor. Look it up in the
/// run's report with [`Report::actor`](crate::Report::actor) (and a nested group's report with [`Report::nested`](crate::Report::nested)).
///
/// An id belongs to the group that made it: looking it up in another group's report panics
/// (F05), as for a [`Stage`](crate::Stage).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId {
    /// Its position in registration order.
    pub(crate) index: usize,
    /// The group that made it (see [`Stage`](crate::Stage)).
    pub(crate) group: usize,
}

impl ActorId {
    /// Its position in registration order: its index in [`Report::actors`](crate::Report::actors).
    pub fn index(self) -> usize {
        self.index
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ActorId").field(&self.index).finish()
    }
}
