//! Calling and dropping user code so that its panics are values, never unwinds through ours.
//!
//! Every closure and value a user hands the group is user code twice over: when it is called, and
//! when it is dropped (a `Drop` of something it captured). The runner calls and drops user code
//! only through these two functions, so a panic in either is caught where it happens and recorded,
//! and can never skip the group's own bookkeeping or cost the report.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

/// A panic's payload, as [`std::thread::Result`] carries it.
pub type Payload = Box<dyn Any + Send + 'static>;

/// Calls `f`, returning its panic's payload instead of unwinding.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Payload> {
    // Unwind safety: after a panic the runner only records the payload; it reads no state the
    // panicking closure could have left half-updated.
    panic::catch_unwind(AssertUnwindSafe(f))
}

/// Drops `value`, returning the payload if its `Drop` panicked.
pub(crate) fn drop_caught<T>(value: T) -> Option<Payload> {
    catch(move || drop(value)).err()
}

/// Drops `value` where nobody is left to tell about a panic in its `Drop` (a report being
/// consumed, a helper thread's last act): the panic is caught and its payload leaked rather than
/// dropped, since dropping a hostile payload could panic again.
pub(crate) fn drop_quietly<T>(value: T) {
    if let Some(payload) = drop_caught(value) {
        std::mem::forget(payload);
    }
}

/// The text of a panic payload when it is a string, as std's panic hook prints it.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
