//! The systemd notifier (feature `systemd`, issue 13): the group's lifecycle as `sd_notify(3)`
//! messages, sent with the `sd-notify` crate from a thread of the group's own.
//!
//! Events are turned into messages on the thread they happen on (a few string writes) and queued;
//! the notifier thread sends them in order, one datagram per event, and pings the watchdog every
//! half `WATCHDOG_USEC` while the group is *healthy*: nothing escalated, nothing abandoned. The
//! health check and the pings happen on that one thread, between queued messages, so no
//! `WATCHDOG=1` can follow the message that reported the first stuck actor.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::note::Note;
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Arc, Condvar, Mutex};

/// What the notifier needs to know of the group's configuration.
pub(crate) struct Config {
    /// Each stage's grace, in teardown order.
    pub(crate) graces: Vec<Option<Duration>>,
    pub(crate) budget: Option<Duration>,
    pub(crate) kill_grace: Option<Duration>,
}

/// Where messages go: the notify socket, or a test's channel.
type Transport = Box<dyn Fn(&str) + Send + Sync>;

pub(crate) struct Notifier {
    transport: Transport,
    state: Mutex<State>,
    cond: Condvar,
    config: Config,
    stage_count: usize,
}

struct State {
    messages: VecDeque<String>,
    /// Nothing escalated or abandoned: the watchdog may be pinged.
    healthy: bool,
    /// When teardown was triggered, for the budget left.
    triggered: Option<Instant>,
    closed: bool,
    done: bool,
    /// Watchdog pings due but not sent, because something was stuck.
    withheld: usize,
    /// Interrupts being called: the actor, its name, since when, and whether the status already
    /// said it is stuck.
    hooks: Vec<(usize, String, Instant, bool)>,
}

impl Notifier {
    /// Starts the notifier thread, or returns `None` when the process is not run by a service
    /// manager (no `NOTIFY_SOCKET`).
    pub(crate) fn start(config: Config) -> io::Result<Option<(Arc<Self>, JoinHandle<()>)>> {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Ok(None);
        }
        // A zero period is no watchdog (`sd_watchdog_enabled(3)` refuses it), not a ping every
        // zero microseconds from a spinning thread.
        let watchdog = sd_notify::watchdog_enabled()
            .filter(|period| !period.is_zero())
            .map(|period| period / 2);
        Self::start_with(config, watchdog, Box::new(send)).map(Some)
    }

    /// Starts the notifier thread on `transport`, pinging every `watchdog` while healthy.
    fn start_with(
        config: Config,
        watchdog: Option<Duration>,
        transport: Transport,
    ) -> io::Result<(Arc<Self>, JoinHandle<()>)> {
        let notifier = Arc::new(Self {
            transport,
            state: Mutex::new(State {
                messages: VecDeque::new(),
                healthy: true,
                triggered: None,
                closed: false,
                done: false,
                withheld: 0,
                hooks: Vec::new(),
            }),
            cond: Condvar::new(),
            stage_count: config.graces.len(),
            config,
        });
        let thread_notifier = Arc::clone(&notifier);
        let handle = thread::Builder::new()
            .name("rungroup-systemd".to_owned())
            .spawn(move || thread_notifier.serve(watchdog))?;
        Ok((notifier, handle))
    }

    /// Queues the message for `note`, if it has one.
    pub(crate) fn note(&self, note: &Note, names: &[String], stages: &[String]) {
        let mut message = String::new();
        let mut unhealthy = false;
        let mut triggered = false;
        match note {
            Note::Interrupting { actor } => {
                let name = names[*actor].clone();
                self.state
                    .lock()
                    .hooks
                    .push((*actor, name, Instant::now(), false));
                return;
            }
            Note::HookReturned {
                actor,
                hook: "interrupt",
                ..
            } => {
                self.state.lock().hooks.retain(|hook| hook.0 != *actor);
                return;
            }
            Note::Ready => message.push_str("READY=1\nSTATUS=ready"),
            Note::NotReady { reason } => {
                let _ = write!(message, "STATUS=not ready: {}", OneLine(reason));
            }
            Note::Triggered { cause } => {
                triggered = true;
                let _ = write!(message, "STOPPING=1\nSTATUS=stopping: {}", OneLine(cause));
            }
            Note::LameDuck { delay } => {
                let _ = write!(
                    message,
                    "STATUS=stopping: lame duck, {} ms before the first stage\nEXTEND_TIMEOUT_USEC={}",
                    delay.as_millis(),
                    // With one kill grace of slack (at least 1 s): the first stage's own
                    // extension comes only after the delay.
                    usec(
                        delay.saturating_add(
                            self.config
                                .kill_grace
                                .unwrap_or_default()
                                .max(Duration::from_secs(1))
                        )
                    )
                );
            }
            Note::StageBegun { index } => {
                let _ = write!(
                    message,
                    "STATUS=stopping: stage {}/{} '{}'",
                    index + 1,
                    self.stage_count,
                    OneLine(&stages[*index])
                );
                if let Some(extend) = self.extension(*index) {
                    let _ = write!(message, "\nEXTEND_TIMEOUT_USEC={}", usec(extend));
                }
            }
            Note::Escalated { actor } => {
                unhealthy = true;
                let _ = write!(
                    message,
                    "STATUS=stopping: '{}' escalated",
                    OneLine(&names[*actor])
                );
            }
            Note::Abandoned { actor } => {
                unhealthy = true;
                let _ = write!(
                    message,
                    "STATUS=stopping: '{}' abandoned",
                    OneLine(&names[*actor])
                );
            }
            _ => return,
        }
        let mut state = self.state.lock();
        if state.closed {
            return;
        }
        if triggered {
            state.triggered = Some(Instant::now());
        }
        state.healthy &= !unhealthy;
        state.messages.push_back(message);
        self.cond.notify_all();
    }

    /// How long stage `index` may take, at most, when a deadline bounds it: its grace or the
    /// budget left, whichever is shorter, plus one kill grace.
    fn extension(&self, index: usize) -> Option<Duration> {
        let left = self.state.lock().triggered.and_then(|at| {
            self.config
                .budget
                .map(|budget| budget.saturating_sub(at.elapsed()))
        });
        let bound = match (self.config.graces[index], left) {
            (Some(grace), Some(left)) => grace.min(left),
            (grace, left) => grace.or(left)?,
        };
        Some(bound.saturating_add(self.config.kill_grace.unwrap_or_default()))
    }

    /// The last message, then no more: the thread sends what is queued and ends.
    pub(crate) fn close(&self, status: &str) {
        let mut state = self.state.lock();
        if !state.closed {
            state
                .messages
                .push_back(format!("STATUS={}", OneLine(status)));
            state.closed = true;
        }
        self.cond.notify_all();
    }

    /// Waits up to `timeout` for the thread to send everything and end; returns whether it did.
    pub(crate) fn wait_done(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock();
        while !state.done {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.cond.wait_timeout(state, deadline - now);
        }
        true
    }

    /// The notifier thread: queued messages in order, and the watchdog's pings while healthy:
    /// nothing escalated or abandoned, and no interrupt inside its call for longer than the
    /// watchdog's whole period (`2 * ping`): a hook that blocks with no deadline to end it is what
    /// the watchdog is there to catch. Pings resume once that interrupt returns.
    fn serve(&self, watchdog: Option<Duration>) {
        let mut next_ping = watchdog.map(|period| (Instant::now(), period));
        let mut state = self.state.lock();
        loop {
            if let Some(message) = state.messages.pop_front() {
                drop(state);
                (self.transport)(&message);
                state = self.state.lock();
                continue;
            }
            if state.closed {
                break;
            }
            match &mut next_ping {
                Some((at, period)) => {
                    let now = Instant::now();
                    if now >= *at {
                        let timeout = *period * 2;
                        let mut blocked = None;
                        for hook in &mut state.hooks {
                            if now.duration_since(hook.2) >= timeout {
                                if !hook.3 {
                                    hook.3 = true;
                                    blocked = Some(hook.1.clone());
                                }
                                blocked.get_or_insert_with(String::new);
                            }
                        }
                        if let Some(name) = blocked.filter(|name| !name.is_empty()) {
                            state.messages.push_back(format!(
                                "STATUS=stopping: the interrupt of '{}' is blocked",
                                OneLine(&name)
                            ));
                        }
                        if state.healthy && state.hooks.iter().all(|hook| !hook.3) {
                            drop(state);
                            (self.transport)("WATCHDOG=1");
                            state = self.state.lock();
                        } else {
                            state.withheld += 1;
                            self.cond.notify_all();
                        }
                        *at = now + *period;
                        continue;
                    }
                    let wait = *at - now;
                    state = self.cond.wait_timeout(state, wait);
                }
                None => state = self.cond.wait(state),
            }
        }
        state.done = true;
        self.cond.notify_all();
    }
}

/// A value in a notify message: every line of a message is an assignment to systemd, so a line
/// break in a value (an error's text, a panic message, a stop reason, a name) is written as a
/// space, never as a line of its own (`\nWATCHDOG=1` in an error's text must not ping).
struct OneLine<'a>(&'a str);

impl std::fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, part) in self.0.split(['\n', '\r']).enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

/// Sends one message. A failure (no manager listening any more) is not the group's to report:
/// the service keeps running, as `sd_notify(3)` callers do.
fn send(message: &str) {
    let _ = sd_notify::notify(&[NotifyState::Custom(message)]);
}

/// Microseconds, as systemd reads them (a 64-bit value; `u32` would cap a bound at 71 minutes).
fn usec(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn started(watchdog: Duration) -> (Arc<Notifier>, JoinHandle<()>, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let config = Config {
            graces: vec![None, Some(Duration::from_secs(10))],
            budget: None,
            kill_grace: Some(Duration::from_secs(1)),
        };
        let transport: Transport = Box::new(move |message: &str| {
            let _ = tx.lock().unwrap().send(message.to_owned());
        });
        let (notifier, thread) = Notifier::start_with(config, Some(watchdog), transport).unwrap();
        (notifier, thread, rx)
    }

    const FUSE: Duration = Duration::from_secs(60);

    /// An interrupt inside its call for over the watchdog's period withholds the pings (with a
    /// status line naming it) until it returns.
    #[test]
    fn i13_systemd_watchdog_waits_for_a_blocked_interrupt() {
        let (notifier, thread, rx) = started(Duration::from_millis(1));
        assert_eq!(rx.recv_timeout(FUSE).unwrap(), "WATCHDOG=1");
        let names = ["listener".to_owned()];
        let stages = ["default".to_owned()];
        notifier.note(&Note::Interrupting { actor: 0 }, &names, &stages);
        let blocked = "STATUS=stopping: the interrupt of 'listener' is blocked";
        loop {
            if rx.recv_timeout(FUSE).unwrap() == blocked {
                break;
            }
        }
        {
            let fuse = std::time::Instant::now() + FUSE;
            let mut state = notifier.state.lock();
            let from = state.withheld;
            while state.withheld < from + 3 {
                assert!(std::time::Instant::now() < fuse, "no ping was withheld");
                state = notifier.cond.wait_timeout(state, FUSE);
            }
        }
        let returned = Note::HookReturned {
            actor: 0,
            hook: "interrupt",
            panicked: false,
        };
        notifier.note(&returned, &names, &stages);
        // Pings resume once it returned.
        let mut between = Vec::new();
        loop {
            let message = rx.recv_timeout(FUSE).unwrap();
            if message == "WATCHDOG=1" {
                break;
            }
            between.push(message);
        }
        notifier.close("stopped");
        assert!(notifier.wait_done(FUSE));
        thread.join().unwrap();
        assert!(between.is_empty(), "{between:?}");
    }

    /// The watchdog is pinged while healthy, and never again once an actor was escalated: the
    /// test waits until three pings were due and withheld, then checks none was sent after the
    /// message that reported the escalation. Fails if the health check is skipped.
    #[test]
    fn i13_systemd_watchdog_stops_once_an_actor_is_stuck() {
        let (notifier, thread, rx) = started(Duration::from_millis(1));
        assert_eq!(rx.recv_timeout(FUSE).unwrap(), "WATCHDOG=1");
        let names = ["worker".to_owned()];
        let stages = ["default".to_owned(), "drain".to_owned()];
        notifier.note(&Note::Escalated { actor: 0 }, &names, &stages);
        {
            let fuse = std::time::Instant::now() + FUSE;
            let mut state = notifier.state.lock();
            while state.withheld < 3 {
                assert!(
                    std::time::Instant::now() < fuse,
                    "no ping was ever withheld"
                );
                state = notifier.cond.wait_timeout(state, FUSE);
            }
        }
        notifier.close("stopped");
        assert!(notifier.wait_done(FUSE));
        thread.join().unwrap();
        let rest: Vec<String> = rx.try_iter().collect();
        let escalated = rest
            .iter()
            .position(|message| message == "STATUS=stopping: 'worker' escalated")
            .unwrap_or_else(|| panic!("no escalation message in {rest:?}"));
        assert!(
            !rest[escalated..]
                .iter()
                .any(|message| message == "WATCHDOG=1"),
            "a ping after the escalation: {rest:?}"
        );
        assert_eq!(rest.last().map(String::as_str), Some("STATUS=stopped"));
    }

    /// An extension longer than `u32::MAX` microseconds (71 minutes) is sent in full: systemd
    /// reads a 64-bit value, and a drain bounded at two hours must not be cut at 71 minutes.
    #[test]
    fn i13_systemd_extends_the_timeout_past_71_minutes() {
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let config = Config {
            graces: vec![Some(Duration::from_secs(7200))],
            budget: None,
            kill_grace: Some(Duration::from_secs(1)),
        };
        let transport: Transport = Box::new(move |message: &str| {
            let _ = tx.lock().unwrap().send(message.to_owned());
        });
        let (notifier, thread) = Notifier::start_with(config, None, transport).unwrap();
        let names = ["worker".to_owned()];
        let stages = ["default".to_owned()];
        notifier.note(&Note::StageBegun { index: 0 }, &names, &stages);
        notifier.close("stopped");
        assert!(notifier.wait_done(FUSE));
        thread.join().unwrap();
        let sent: Vec<String> = rx.try_iter().collect();
        assert_eq!(
            sent[0],
            "STATUS=stopping: stage 1/1 'default'\nEXTEND_TIMEOUT_USEC=7201000000"
        );
    }

    /// A stage with a grace extends systemd's stop timeout by the grace plus the kill grace; one
    /// without a deadline does not.
    #[test]
    fn i13_systemd_extends_the_timeout_for_the_lame_duck_and_a_bounded_stage_only() {
        let (notifier, thread, rx) = started(Duration::from_secs(3600));
        let names = ["worker".to_owned()];
        let stages = ["default".to_owned(), "drain".to_owned()];
        let delay = Duration::from_secs(5);
        notifier.note(&Note::LameDuck { delay }, &names, &stages);
        notifier.note(&Note::StageBegun { index: 0 }, &names, &stages);
        notifier.note(&Note::StageBegun { index: 1 }, &names, &stages);
        notifier.close("stopped");
        assert!(notifier.wait_done(FUSE));
        thread.join().unwrap();
        let sent: Vec<String> = rx.try_iter().filter(|m| m != "WATCHDOG=1").collect();
        assert_eq!(
            sent,
            [
                // The delay plus one kill grace: the first stage's message comes after it.
                "STATUS=stopping: lame duck, 5000 ms before the first stage\n\
                 EXTEND_TIMEOUT_USEC=6000000",
                "STATUS=stopping: stage 1/2 'default'",
                "STATUS=stopping: stage 2/2 'drain'\nEXTEND_TIMEOUT_USEC=11000000",
                "STATUS=stopped",
            ]
        );
    }
}
