//! Nested groups (rule T05): a group as an actor of another group.
//!
//! The nested actor's execute runs the inner group to completion; its interrupt asks the inner
//! group to stop (through the inner group's own stop handle, so the inner teardown keeps its own
//! stages and deadlines); its force hook sends a second stop request, which escalates the inner
//! teardown (rule S05).
//!
//! # Where the inner report goes
//!
//! The outer [`Report`] has one line for the nested actor, like any actor. The inner group's full
//! report is kept in a [`NestedReport`] handle returned by the builder, readable once the outer
//! run has returned. What the nested actor returns to the outer group is what
//! [`Group::run`](crate::Group::run) would have returned for the inner one, so the outer `run`
//! returns an inner first exit's error unchanged, through any depth of nesting (rule R09):
//!
//! 1. a run error of the inner group (spawn failure, abandonment): the same error, its actor names
//!    prefixed with the nested actor's (`http/listener`);
//! 2. else a panic in the inner group: the nested actor panics with a message naming the inner
//!    actor and quoting its panic (the original payload stays in the inner report);
//! 3. else the inner first exit's error, moved (that actor's outcome in the inner report then
//!    reads [`Outcome::Retained`]: its value is held by the outer group);
//! 4. else `Ok(())`: the inner group ended cleanly (stopped by the outer group, or an `Ok` exit).

use std::fmt;
use std::io;

use crate::error::Error;
use crate::group::{ActorBuilder, Group};
use crate::report::{Cause, HookOutcome, Outcome, Report, Trigger, panic_message};
use crate::sync::{Arc, Mutex};

/// The report of a nested group, available once its actor has exited (rule T05). Returned by
/// [`ActorBuilder::add_group`].
///
/// The outer [`Report`] has one line for the nested actor, like any actor; this handle keeps the
/// inner group's full report. The nested actor returns to the outer group what `run` would have
/// returned for the inner one, so the outer `run` returns an inner first exit's error unchanged,
/// through any depth of nesting (rule R09):
///
/// 1. an inner run error (spawn failure, abandonment): the same [`Error`], its actor names prefixed
///    with the nested actor's (`http/listener`);
/// 2. else an inner panic: the nested actor panics with a message naming the inner actor and
///    quoting its panic (the original payload stays in the inner report);
/// 3. else the inner first exit's error, moved: in the inner report that actor's outcome then
///    reads [`Outcome::Retained`] (its value is held by the outer group);
/// 4. else `Ok(())`: the inner group ended cleanly (stopped by the outer group, or an `Ok` exit).
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{Group, Trigger};
///
/// let mut http = Group::new();
/// http.actor("listener").add_token(|token| { token.wait(); Ok(()) });
///
/// let mut main = Group::new();
/// let http_report = main.actor("http").add_group(http);
/// let stop = main.stop_handle();
/// main.add(move || { stop.stop("shutdown"); Ok(()) }, |_| {});
/// main.run().unwrap();
///
/// let http_report = http_report.take().expect("the outer run has returned");
/// let Trigger::Stop { reason } = http_report.trigger() else { panic!() };
/// assert_eq!(reason, "outer group teardown: stop requested: shutdown");
/// ```
pub struct NestedReport<E> {
    slot: Arc<Mutex<Option<Report<E>>>>,
}

impl<E> NestedReport<E> {
    /// Takes the inner group's report: `None` while the nested actor has not exited (before or
    /// during the outer run, or if it was abandoned), and after a first `take`.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut main = rungroup::Group::new();
    /// let nested = main.actor("inner").add_group(rungroup::Group::new());
    /// assert!(nested.take().is_none()); // not run yet
    /// main.run().unwrap(); // the empty inner group returns at once, ending `main`
    /// assert!(nested.take().is_some());
    /// assert!(nested.take().is_none());
    /// ```
    pub fn take(&self) -> Option<Report<E>> {
        self.slot.lock().take()
    }
}

impl<E> fmt::Debug for NestedReport<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NestedReport")
            .field("available", &self.slot.lock().is_some())
            .finish()
    }
}

/// What the nested actor hands to the outer group once the inner run is over.
enum Forward<E> {
    Result(Result<(), E>),
    Panic(String),
}

impl<E: Send + Sync + 'static> ActorBuilder<'_, E> {
    /// Adds `group` as this actor (rule T05): the execute runs it, the interrupt stops it (the
    /// reason names the outer cause), the force hook escalates its teardown, then calls any force
    /// hook set on this builder. The nested actor returns what `group.run()` would have returned
    /// (an inner error unchanged, an inner panic as a panic naming the inner actor), and the
    /// inner group's full report is kept in the returned [`NestedReport`].
    ///
    /// The inner group keeps its own stages, deadlines, observer and stop handles.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::Group;
    ///
    /// let mut db = Group::new();
    /// db.actor("pool").add(|| Err("connection refused".into()), |_| {});
    ///
    /// let mut main = Group::new();
    /// let db_report = main.actor("db").add_group(db);
    /// main.actor("http").add_token(|token| { token.wait(); Ok(()) });
    /// // The inner first exit's error, unchanged, is the outer run's result.
    /// assert_eq!(main.run().unwrap_err().to_string(), "connection refused");
    /// assert_eq!(db_report.take().unwrap().first_exit().unwrap().name, "pool");
    /// ```
    pub fn add_group(mut self, group: Group<E>) -> NestedReport<E>
    where
        E: From<Error>,
    {
        let slot = Arc::new(Mutex::new(None));
        let handle = NestedReport {
            slot: Arc::clone(&slot),
        };
        let name = self.name.clone();
        let stop = group.stop_handle();
        let force_stop = stop.clone();
        let user_force = self.force.take();
        self.force(move || {
            let _ = force_stop.stop("outer group escalated");
            if let Some(force) = user_force {
                force();
            }
        })
        .add(
            move || {
                let mut report = group.run_with_report();
                let forward = forward(&mut report, &name);
                *slot.lock() = Some(report);
                match forward {
                    Forward::Result(result) => result,
                    Forward::Panic(message) => panic!("{message}"),
                }
            },
            move |cause: &Cause<E>| {
                // Not an escalation: an inner teardown already under way goes on at its own pace.
                let _ = stop.request_first(Trigger::Stop {
                    reason: format!("outer group teardown: {}", cause.summary()),
                });
            },
        );
        handle
    }
}

/// What the nested actor returns for the inner `report`, in the order of
/// [`Report::into_result`]; the report keeps everything that is not moved out.
fn forward<E: From<Error>>(report: &mut Report<E>, nested: &str) -> Forward<E> {
    if let Some(error) = report.error() {
        return Forward::Result(Err(E::from(requalify(error, nested))));
    }
    let first = match report.trigger {
        Trigger::Exit { actor } => Some(actor),
        _ => None,
    };
    let panicked = first
        .filter(|&index| matches!(report.actors[index].outcome, Outcome::Panicked(_)))
        .or_else(|| {
            report
                .actors
                .iter()
                .position(|actor| matches!(actor.outcome, Outcome::Panicked(_)))
        });
    if let Some(index) = panicked {
        let actor = &report.actors[index];
        if let Outcome::Panicked(payload) = &actor.outcome {
            return Forward::Panic(format!(
                "nested group '{nested}': actor '{}' panicked: {}",
                actor.name,
                panic_message(payload.as_ref())
            ));
        }
    }
    for actor in &report.actors {
        if let HookOutcome::Panicked(payload) = &actor.interrupt {
            return Forward::Panic(format!(
                "nested group '{nested}': interrupt of actor '{}' panicked: {}",
                actor.name,
                panic_message(payload.as_ref())
            ));
        }
    }
    if let Some(index) = first {
        let outcome = &mut report.actors[index].outcome;
        if matches!(outcome, Outcome::Err(_)) {
            if let Outcome::Err(error) = std::mem::replace(outcome, Outcome::Retained) {
                return Forward::Result(Err(error));
            }
        }
    }
    Forward::Result(Ok(()))
}

/// A copy of the inner run's error for the outer group, actor names prefixed with `nested/`.
fn requalify(error: &Error, nested: &str) -> Error {
    let qualify = |actor: &String| format!("{nested}/{actor}");
    match error {
        Error::Spawn { actor, source } => Error::Spawn {
            actor: qualify(actor),
            source: io::Error::new(source.kind(), source.to_string()),
        },
        Error::Helper {
            thread,
            skipped,
            source,
        } => Error::Helper {
            thread,
            skipped: skipped.iter().map(qualify).collect(),
            source: io::Error::new(source.kind(), source.to_string()),
        },
        Error::Abandoned {
            actors,
            hooks,
            skipped,
            trigger,
        } => Error::Abandoned {
            actors: actors.iter().map(qualify).collect(),
            hooks: hooks.iter().map(qualify).collect(),
            skipped: skipped.iter().map(qualify).collect(),
            trigger: format!("nested group '{nested}': {trigger}"),
        },
        Error::Escalated {
            actors,
            by,
            trigger,
        } => Error::Escalated {
            actors: actors.iter().map(qualify).collect(),
            by: by.clone(),
            trigger: format!("nested group '{nested}': {trigger}"),
        },
    }
}
