//! Readiness (issue 13): a handle set on an actor's thread races the trigger.

use loom::sync::{Arc, Mutex};
use rungroup::{Event, Group, StopToken};

use crate::common::check;

/// I13: an actor sets its readiness handle while a stop request triggers teardown. Whatever
/// the order, the group is never ready after the trigger: the interrupt (called after the
/// trigger) sees it not ready, the events are `ready` then `not ready` or nothing, and the
/// report agrees. Catches a readiness flag published outside the lock that orders transitions,
/// and a `ready` that ignores draining.
#[test]
fn i13_ready_handle_races_the_trigger() {
    check("i13_ready_handle_races_the_trigger", || {
        let mut group = Group::new();
        let events: Arc<Mutex<Vec<bool>>> = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&events);
        group.observe(move |event| match event {
            Event::Ready => log.lock().unwrap().push(true),
            Event::NotReady { .. } => log.lock().unwrap().push(false),
            _ => {}
        });
        let handle = group.ready_handle("server");
        let readiness = group.readiness();
        let seen_by_interrupt = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&seen_by_interrupt);
        let watcher = readiness.clone();
        let token = StopToken::new();
        let waiter = token.clone();
        group.actor("server").add(
            move || {
                handle.ready();
                waiter.wait();
                Ok(())
            },
            move |_| {
                *seen.lock().unwrap() = Some(watcher.is_ready());
                token.stop();
            },
        );
        let stop = group.stop_handle();
        let requester = loom::thread::spawn(move || stop.stop("deploy"));
        let report = group.run_with_report();
        requester.join().unwrap();

        assert_eq!(
            *seen_by_interrupt.lock().unwrap(),
            Some(false),
            "ready after the trigger"
        );
        assert!(!readiness.is_ready());
        let events = events.lock().unwrap().clone();
        if events.is_empty() {
            assert_eq!(report.ready_at(), None);
        } else {
            assert_eq!(events, [true, false], "transitions out of order");
            assert!(report.ready_at().is_some());
        }
    });
}
