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
//! report is in the outer one too: [`Report::nested`], with the [`ActorId`](crate::ActorId) that
//! [`add_group`](ActorBuilder::add_group) returned. What the nested actor returns to the outer group is what
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

use std::io;

use crate::actor::ActorId;
use crate::error::Error;
use crate::group::{ActorBuilder, Group};
use crate::report::{HookOutcome, NestedSlot, Outcome, Report};
use crate::sync::{Arc, Mutex};
use crate::unwind::panic_message;
use crate::why::{Cause, Trigger};

/// What the nested actor hands to the outer group once the inner run is over.
enum Forward<E> {
    Result(Result<(), E>),
    Panic(String),
}

impl<E: Send + Sync + 'static> ActorBuilder<'_, E> {
    /// Adds `group` as this actor (rule T05): the execute runs it, the interrupt stops it (the
    /// reason names the outer cause), the force hook escalates its teardown, then calls any force
    /// hook set on this builder. The inner group keeps its own stages, deadlines, observer and
    /// stop handles.
    ///
    /// The nested actor returns to the outer group what `run` would have returned for the inner
    /// one, so the outer `run` returns an inner first exit's error unchanged, through any depth
    /// of nesting (rule R09):
    ///
    /// 1. an inner run error (spawn failure, abandonment): the same [`Error`], its actor names
    ///    prefixed with the nested actor's (`http/listener`);
    /// 2. else an inner panic: the nested actor panics with a message naming the inner actor and
    ///    quoting its panic (the original payload stays in the inner report);
    /// 3. else the inner first exit's error, moved: in the inner report that actor's outcome then
    ///    reads [`Outcome::Retained`] (its value is held by the outer group);
    /// 4. else `Ok(())`: the inner group ended cleanly (stopped by the outer group, or an `Ok`
    ///    exit).
    ///
    /// The inner group's full report is the outer report's [`Report::nested`] for the returned
    /// id (if the inner run returned: an abandoned nested actor has none).
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, Trigger};
    ///
    /// let mut db = Group::new();
    /// db.actor("pool").add(|| Err("connection refused".into()), |_| {});
    ///
    /// let mut main = Group::new();
    /// let db = main.actor("db").add_group(db);
    /// main.actor("http").add_token(|token| { token.wait(); Ok(()) });
    /// let report = main.run_with_report();
    /// // The inner first exit is in the inner report...
    /// assert_eq!(report.nested(db).unwrap().first_exit().unwrap().name, "pool");
    /// // ...and its error, unchanged, is the outer run's result.
    /// assert_eq!(report.into_result().unwrap_err().to_string(), "connection refused");
    /// ```
    pub fn add_group(mut self, group: Group<E>) -> ActorId
    where
        E: From<Error>,
    {
        let slot: NestedSlot<E> = Arc::new(Mutex::new(None));
        // The index the actor is about to get: the outer run takes the report from here.
        let index = self.group.actors.len();
        self.group.nested.push((index, Arc::clone(&slot)));
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
        )
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
        Error::Timer { source } => Error::Timer {
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
