//! What the runner, the actor threads, the driver and the hook lanes share while a group runs:
//! the state word and wake pair, the per-stage counters, the names, the clock and the herald of
//! events; where an actor's exit is kept (its [`ExitCell`]); and how it is recorded, whatever the
//! actor's kind.

use std::time::Duration;

use crate::actor::Policy;
use crate::clock::RunClock;
use crate::lane::{self, Lane};
use crate::note::Note;
use crate::observe::Herald;
use crate::report::error_text;
use crate::state::{Control, Live};
use crate::sync::{Arc, Frozen, Mutex};
use crate::unwind::{Payload, panic_message};

/// What a finished execute left behind: its result (or panic) and when it ended.
pub(crate) struct Exit<E> {
    pub(crate) result: Result<Result<(), E>, Payload>,
    pub(crate) at: Duration,
    /// A future actor dropped before it completed (`result` is then `Ok(Ok(()))`).
    pub(crate) cancelled: bool,
}

/// A thread actor's exit, written once by its thread (its only lock), read by the runner.
pub(crate) type Slot<E> = Arc<Mutex<Option<Exit<E>>>>;

/// Where an actor's exit is kept until its report line: part of the actor's cell (the runner's
/// entry for it).
pub(crate) enum ExitCell<E> {
    /// A future actor's: written by the runner's own thread, which polls it (no lock).
    Local(Option<Exit<E>>),
    /// A thread actor's: a slot shared with its thread.
    Shared(Slot<E>),
}

impl<E> ExitCell<E> {
    /// Takes the exit, if the actor has left one.
    pub(crate) fn take(&mut self) -> Option<Exit<E>> {
        match self {
            ExitCell::Local(exit) => exit.take(),
            ExitCell::Shared(slot) => slot.lock().take(),
        }
    }

    /// Whether the actor has left an exit not yet taken.
    pub(crate) fn is_set(&self) -> bool {
        match self {
            ExitCell::Local(exit) => exit.is_some(),
            ExitCell::Shared(slot) => slot.lock().is_some(),
        }
    }
}

/// What the runner, the actor threads and the lanes share.
pub(crate) struct Core<E> {
    pub(crate) control: Arc<Control>,
    pub(crate) live: Live,
    pub(crate) names: Frozen<[String]>,
    pub(crate) clock: RunClock,
    pub(crate) herald: Herald,
    /// The hook lane the first exit's thread serves once its execute has returned; a group
    /// without thread actors has none.
    pub(crate) first_lane: Option<Arc<Lane<E>>>,
}

impl<E: Send + Sync + 'static> lane::Host for Core<E> {
    fn emit(&self, note: Note) {
        self.herald.emit(note);
    }

    fn notify(&self) {
        self.control.notify();
    }
}

impl<E> Core<E> {
    pub(crate) fn emit(&self, note: Note) {
        self.herald.emit(note);
    }

    /// Wakes the runner.
    pub(crate) fn notify(&self) {
        self.control.notify();
    }
}

/// Records a thread actor's exit at `at` (the run clock's time once its execute was consumed):
/// its slot, the race for the first exit, and the event. Returns whether it was the first exit.
/// The caller then leaves the actor's stage.
pub(crate) fn publish_exit<E: 'static>(
    core: &Core<E>,
    slot: &Slot<E>,
    index: usize,
    policy: Policy,
    result: Result<Result<(), E>, Payload>,
    at: Duration,
) -> bool {
    let exit = Exit {
        result,
        at,
        cancelled: false,
    };
    record_exit(core, index, policy, exit, true, |exit| {
        // Publish the outcome first: the runner reads the winner's slot after seeing the win.
        *slot.lock() = Some(exit);
    })
}

/// Records an actor's exit, thread or future: `store` keeps it where the runner will look (a
/// thread actor's shared slot; a future actor's entry, on the runner's own thread), then the race
/// for the first exit (unless it was cancelled: that only ever happens once teardown is under
/// way), and the event. Returns whether it was the first exit. A first exit wakes the runner if
/// `elsewhere` (a thread actor's thread); on the runner's own thread it would only wake itself,
/// which looks at the state word before it next waits.
pub(crate) fn record_exit<E: 'static>(
    core: &Core<E>,
    index: usize,
    policy: Policy,
    exit: Exit<E>,
    elsewhere: bool,
    store: impl FnOnce(Exit<E>),
) -> bool {
    let cancelled = exit.cancelled;
    let label = match &exit.result {
        _ if cancelled => "cancelled",
        Ok(Ok(())) => "ok",
        Ok(Err(_)) => "error",
        Err(_) => "panicked",
    };
    // A cancelled actor never triggers (teardown is under way), nor an on-error actor's `Ok`.
    let quiet = cancelled || (policy == Policy::OnError && label == "ok");
    let triggers = !quiet;
    // The error's text for the event, only when someone listens (a formatting allocation).
    let error = match &exit.result {
        _ if !core.herald.observed() => None,
        Ok(Ok(())) => None,
        Ok(Err(error)) => error_text(error),
        Err(payload) => Some(panic_message(payload.as_ref())),
    };
    store(exit);
    let first = triggers && core.control.try_win(index);
    if first && elsewhere {
        core.notify();
    }
    core.emit(Note::ActorExited {
        actor: index,
        outcome: label,
        error,
        first,
    });
    first
}
