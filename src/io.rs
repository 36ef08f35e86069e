//! Interrupting blocking std I/O that nothing else can wake (rule T04).
//!
//! An actor's interrupt must make its execute return. A loop that checks a
//! [`StopToken`](crate::StopToken) or reads a channel stops when asked, and a thread blocked
//! reading a [`TcpStream`] is woken by shutting the stream down from a clone of it
//! ([`TcpStream::shutdown`]). But std has no way to wake a thread blocked in
//! [`TcpListener::accept`] from another thread, and only the thread that owns a
//! [`Child`](std::process::Child) can kill it. This module holds the helpers for those cases:
//!
//! - [`Acceptor`]: a [`TcpListener`] whose accept loop its [`AcceptInterrupter`] can wake.
//! - Child processes are run by a method of the actor builder, not by an item of this module:
//!   [`ActorBuilder::add_child`] (feature `process`, unix only) sends SIGTERM on interrupt and
//!   SIGKILL on escalation; how, is described [below](#child-processes).
//!
//! # `accept`
//!
//! std gives no way to interrupt a thread blocked in [`TcpListener::accept`]: closing the listener
//! from another thread needs the listener (which the accepting thread borrows), and there is no
//! portable `shutdown` for listening sockets. [`Acceptor`] wraps the listener with a sticky stop
//! flag; its [`AcceptInterrupter`] sets the flag and then *connects to the listener's own address*,
//! which wakes a blocked `accept`. The woken thread sees the flag, drops that connection and
//! returns `Ok(None)`. No `unsafe`, no libc, no polling.
//!
//! The wake-up connection is made only while the listener is open, under the same lock its drop
//! takes, so an interrupter used after its acceptor is gone never connects to whatever socket
//! reused the port. Several threads may accept on one `Acceptor`: each woken thread passes the
//! wake-up on while others are still inside `accept`.
//!
//! # Child processes
//!
//! [`ActorBuilder::add_child`] (feature `process`, unix only) runs a `Command` as an actor: its
//! interrupt sends SIGTERM, its force hook (escalation, rule S05) sends SIGKILL. std can only
//! SIGKILL a [`Child`](std::process::Child) it owns, and only from the thread that owns it, so both
//! are sent with `kill(2)` through `rustix`'s safe wrapper: no shell (a distroless image has none,
//! and the child would outlive the service), no libc, no `unsafe` here. A signal is sent only while
//! the child has not been reaped, under a lock the waiting thread takes right after `wait`
//! returns; the remaining window, between the kernel reaping the child and that lock, would need
//! the PID to be reused within microseconds. A `kill` that fails for any reason but "no such
//! process" (the child is gone already) is not swallowed: the interrupt or force hook panics with
//! a message that names the actor, the PID, the signal and the error, and the run's report keeps
//! it (rule F02).
//!
#![cfg_attr(
    all(unix, feature = "process"),
    doc = "[`ActorBuilder::add_child`]: crate::ActorBuilder::add_child"
)]
// Without the feature the method does not exist: the link goes to the builder.
#![cfg_attr(
    not(all(unix, feature = "process")),
    doc = "[`ActorBuilder::add_child`]: crate::ActorBuilder"
)]

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex};

/// How long the wake-up connection may take. On loopback to an open listener it completes at once;
/// the bound only matters when the accept queue is full (then the accepting thread is busy and
/// will see the stop flag before its next `accept` anyway).
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// A [`TcpListener`] whose accept loop an [`AcceptInterrupter`] can wake (rule T04).
///
/// [`accept`](Acceptor::accept) and [`incoming`](Acceptor::incoming) behave like the listener's
/// own until the interrupter is used; from then on (sticky, rule R07, even if that happened
/// before the loop started) `accept` returns `Ok(None)` and `incoming` ends, waking a thread that
/// is blocked in `accept`. The listener must be in blocking mode (the default).
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::Group;
/// use rungroup::io::Acceptor;
/// use std::io::Write;
/// use std::net::TcpListener;
///
/// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
/// let interrupter = acceptor.interrupter();
/// let mut group = Group::new();
/// group.actor("listener").add(
///     move || {
///         for stream in acceptor.incoming() {
///             stream?.write_all(b"hello\n")?;
///         }
///         Ok(()) // interrupted
///     },
///     move |_| interrupter.interrupt(),
/// );
/// let stop = group.stop_handle();
/// group.add(move || { stop.stop("done"); Ok(()) }, |_| {});
/// group.run().unwrap();
/// ```
pub struct Acceptor {
    listener: TcpListener,
    shared: Arc<AcceptShared>,
}

/// Wakes the accept loop of one [`Acceptor`]; made by [`Acceptor::interrupter`]. Cheap to clone,
/// `Send + Sync`; using it more than once, from several threads, or after the acceptor is gone is
/// harmless.
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::io::Acceptor;
/// use std::net::TcpListener;
///
/// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
/// let interrupter = acceptor.interrupter();
/// interrupter.interrupt(); // the first use stops the acceptor
/// interrupter.interrupt(); // later uses do nothing
/// assert!(acceptor.accept().unwrap().is_none());
/// ```
#[derive(Clone)]
pub struct AcceptInterrupter {
    shared: Arc<AcceptShared>,
}

struct AcceptShared {
    /// Sticky: set by the first interrupt, never cleared.
    stopped: AtomicBool,
    /// Threads currently inside `Acceptor::accept`.
    accepting: AtomicUsize,
    /// Where a wake-up connection goes: the listener's address, an unspecified IP mapped to
    /// loopback.
    wake_addr: SocketAddr,
    /// Whether the listener is still open. Held during a wake-up connection, and taken by the
    /// acceptor's drop before the listener closes: no wake-up reaches a socket that reused the
    /// port.
    open: Mutex<bool>,
}

impl AcceptShared {
    fn is_stopped(&self) -> bool {
        // ORDERING: SeqCst, with the SeqCst increment of `accepting` before it in `accept` and the
        // SeqCst swap in `interrupt`: in the single total order, a thread that read `false` here
        // had already counted itself in `accepting`, so the thread the wake-up reaches sees it and
        // passes the wake-up on (see `Acceptor::accept`).
        self.stopped.load(Ordering::SeqCst)
    }

    /// Connects to the listener, if it is still open, to wake one thread blocked in `accept`.
    fn wake(&self) {
        let open = self.open.lock();
        if *open {
            // The connection is dropped at once; the woken thread drops its end too. A failure
            // (full accept queue, a firewall on loopback) leaves the flag for the loop's next turn.
            let _ = TcpStream::connect_timeout(&self.wake_addr, WAKE_TIMEOUT);
        }
        drop(open);
    }
}

/// Decrements the count of accepting threads, even if `accept` unwinds.
struct Accepting<'a>(&'a AtomicUsize);

impl Drop for Accepting<'_> {
    fn drop(&mut self) {
        // ORDERING: SeqCst, part of the total order argued in `AcceptShared::is_stopped`.
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Acceptor {
    /// Wraps a (blocking) listener.
    ///
    /// # Errors
    ///
    /// If the listener's local address cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// # use std::net::TcpListener;
    /// use rungroup::io::Acceptor;
    ///
    /// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// println!("listening on {}", acceptor.local_addr().unwrap());
    /// ```
    pub fn new(listener: TcpListener) -> io::Result<Self> {
        let mut wake_addr = listener.local_addr()?;
        if wake_addr.ip().is_unspecified() {
            wake_addr.set_ip(match wake_addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        Ok(Self {
            listener,
            shared: Arc::new(AcceptShared {
                stopped: AtomicBool::new(false),
                accepting: AtomicUsize::new(0),
                wake_addr,
                open: Mutex::new(true),
            }),
        })
    }

    /// The handle that wakes this acceptor; give it to the actor's interrupt.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// # use std::net::TcpListener;
    /// use rungroup::io::Acceptor;
    ///
    /// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// let interrupter = acceptor.interrupter();
    /// std::thread::spawn(move || interrupter.interrupt());
    /// assert!(acceptor.accept().unwrap().is_none()); // woken, or stopped before it began
    /// ```
    pub fn interrupter(&self) -> AcceptInterrupter {
        AcceptInterrupter {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Accepts a connection, or returns `Ok(None)` once the interrupter has been used (at once if
    /// it already was). A connection accepted in the same instant as the interrupt is dropped.
    ///
    /// # Errors
    ///
    /// What [`TcpListener::accept`] returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::io::Acceptor;
    /// use std::net::{TcpListener, TcpStream};
    ///
    /// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// let client = TcpStream::connect(acceptor.local_addr().unwrap()).unwrap();
    /// let (_stream, peer) = acceptor.accept().unwrap().expect("not interrupted");
    /// assert_eq!(peer, client.local_addr().unwrap());
    /// ```
    pub fn accept(&self) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        let shared = &*self.shared;
        // ORDERING: SeqCst, see `AcceptShared::is_stopped`.
        shared.accepting.fetch_add(1, Ordering::SeqCst);
        let _accepting = Accepting(&shared.accepting);
        if shared.is_stopped() {
            return Ok(None);
        }
        let accepted = self.listener.accept();
        if shared.is_stopped() {
            // The wake-up connection (or a client that lost the race with teardown): dropped.
            drop(accepted);
            // ORDERING: SeqCst, see `AcceptShared::is_stopped`. More than this thread inside
            // `accept`: wake the next one (the listener is open: `self` is alive).
            if shared.accepting.load(Ordering::SeqCst) > 1 {
                shared.wake();
            }
            return Ok(None);
        }
        accepted.map(Some)
    }

    /// The accepted connections, until the interrupter is used. Like
    /// [`TcpListener::incoming`], an `accept` error is an item, not the end.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// # use std::net::TcpListener;
    /// use rungroup::io::Acceptor;
    ///
    /// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// acceptor.interrupter().interrupt();
    /// assert_eq!(acceptor.incoming().count(), 0);
    /// ```
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::from_fn(move || match self.accept() {
            Ok(Some((stream, _))) => Some(Ok(stream)),
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        })
    }

    /// The listener's local address (as bound: `0.0.0.0` stays unspecified).
    ///
    /// # Errors
    ///
    /// What [`TcpListener::local_addr`] returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// # use std::net::TcpListener;
    /// use rungroup::io::Acceptor;
    ///
    /// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// assert!(acceptor.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Whether the interrupter has been used.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// # use std::net::TcpListener;
    /// use rungroup::io::Acceptor;
    ///
    /// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// assert!(!acceptor.is_interrupted());
    /// ```
    #[must_use]
    pub fn is_interrupted(&self) -> bool {
        self.shared.is_stopped()
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        // Before the listener closes (fields drop after this): no wake-up may connect from now.
        *self.shared.open.lock() = false;
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("listener", &self.listener)
            .field("interrupted", &self.is_interrupted())
            .finish()
    }
}

impl AcceptInterrupter {
    /// Stops the acceptor and wakes a thread blocked in its `accept`. Only the first call does
    /// anything; later calls, and calls after the acceptor was dropped, connect nowhere. Blocks
    /// only for the wake-up connection to loopback (bounded by one second).
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// # use std::net::TcpListener;
    /// use rungroup::io::Acceptor;
    ///
    /// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// let interrupter = acceptor.interrupter();
    /// drop(acceptor);
    /// interrupter.interrupt(); // stops nothing, connects nowhere
    /// ```
    pub fn interrupt(&self) {
        // ORDERING: SeqCst, see `AcceptShared::is_stopped`.
        if !self.shared.stopped.swap(true, Ordering::SeqCst) {
            self.shared.wake();
        }
    }

    /// Whether the acceptor has been interrupted.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// # use std::net::TcpListener;
    /// use rungroup::io::Acceptor;
    ///
    /// let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    /// let interrupter = acceptor.interrupter();
    /// interrupter.interrupt();
    /// assert!(interrupter.is_interrupted());
    /// ```
    #[must_use]
    pub fn is_interrupted(&self) -> bool {
        self.shared.is_stopped()
    }
}

impl fmt::Debug for AcceptInterrupter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptInterrupter")
            .field("addr", &self.shared.wake_addr)
            .field("interrupted", &self.is_interrupted())
            .finish()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    fn acceptor() -> Acceptor {
        Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap()
    }

    /// The count of threads inside `accept` goes back to zero however `accept` returns: with a
    /// connection, or with `None` after the interrupt. (A count left behind would make every
    /// later woken thread pass on a wake-up to a thread that is not there.)
    #[test]
    fn accept_leaves_no_thread_counted_whatever_it_returns() {
        let acceptor = acceptor();
        let _client = TcpStream::connect(acceptor.local_addr().unwrap()).unwrap();
        assert!(acceptor.accept().unwrap().is_some());
        assert_eq!(acceptor.shared.accepting.load(Ordering::SeqCst), 0);
        acceptor.interrupter().interrupt();
        assert!(acceptor.accept().unwrap().is_none());
        assert_eq!(acceptor.shared.accepting.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn debug_shows_the_listener_and_whether_interrupted() {
        let acceptor = acceptor();
        let interrupter = acceptor.interrupter();
        assert!(!interrupter.is_interrupted() && !acceptor.is_interrupted());
        let text = format!("{acceptor:?}");
        assert!(
            text.starts_with("Acceptor { listener: TcpListener")
                && text.ends_with("interrupted: false }"),
            "{text}"
        );
        interrupter.interrupt();
        assert!(format!("{acceptor:?}").ends_with("interrupted: true }"));
        assert!(format!("{interrupter:?}").ends_with("interrupted: true }"));
    }
}

#[cfg(all(unix, feature = "process"))]
mod child {
    use std::io;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    use rustix::io::Errno;
    use rustix::process::{Pid, Signal, kill_process};

    use crate::actor::ActorId;
    use crate::group::ActorBuilder;
    use crate::sync::{Arc, Mutex};
    use crate::why::Cause;

    /// Where a child actor is, as its execute, interrupt and force hook share it.
    #[derive(Debug)]
    enum ChildState {
        /// The execute has not spawned the child yet.
        NotStarted,
        /// Interrupted before the child was spawned: it never will be (R07).
        Interrupted,
        /// The child runs (not reaped): signals may be sent to `pid`.
        Running {
            pid: u32,
            /// Whether the interrupt or force hook has signalled it.
            signalled: bool,
        },
        /// The child has been reaped: its PID may belong to another process now.
        Exited,
    }

    /// A signal the actor sends, and its name for messages.
    #[derive(Clone, Copy, Debug)]
    struct ChildSignal {
        signal: Signal,
        name: &'static str,
    }

    /// The interrupt's signal.
    const TERM: ChildSignal = ChildSignal {
        signal: Signal::TERM,
        name: "SIGTERM",
    };

    /// The force hook's signal.
    const KILL: ChildSignal = ChildSignal {
        signal: Signal::KILL,
        name: "SIGKILL",
    };

    /// What a failed `kill` of `actor`'s child `pid` means: nothing to report for ESRCH (the
    /// child is gone already, which is what the signal was for), otherwise the message of the
    /// panic that reports it.
    fn kill_failure(actor: &str, pid: u32, signal: ChildSignal, errno: Errno) -> Option<String> {
        (errno != Errno::SRCH).then(|| {
            format!(
                "rungroup: actor '{actor}' could not send {} to its child process {pid}: {}",
                signal.name,
                io::Error::from_raw_os_error(errno.raw_os_error())
            )
        })
    }

    /// Sends `signal` to the child `pid` of `actor`; `Err` carries the message of a failure to
    /// report (see [`kill_failure`]).
    fn send(actor: &str, pid: u32, signal: ChildSignal) -> Result<(), String> {
        // A PID std handed out is a positive `pid_t`; anything else would be EINVAL to `kill`.
        let sent = match i32::try_from(pid).ok().and_then(Pid::from_raw) {
            Some(target) => kill_process(target, signal.signal),
            None => Err(Errno::INVAL),
        };
        match sent {
            Ok(()) => Ok(()),
            Err(errno) => kill_failure(actor, pid, signal, errno).map_or(Ok(()), Err),
        }
    }

    /// Signals the child if it runs; marks a child not yet spawned as interrupted (never to be).
    fn signal(state: &Mutex<ChildState>, actor: &str, signal: ChildSignal) -> Result<(), String> {
        let mut state = state.lock();
        match &mut *state {
            ChildState::NotStarted => {
                *state = ChildState::Interrupted;
                Ok(())
            }
            ChildState::Running { pid, signalled } => {
                // Under the lock: the execute cannot mark the child reaped (and so its PID free)
                // while the signal is on its way.
                let sent = send(actor, *pid, signal);
                // A signal that could not be sent is not ours: a later death by a signal is not
                // a clean stop.
                *signalled |= sent.is_ok();
                sent
            }
            ChildState::Interrupted | ChildState::Exited => Ok(()),
        }
    }

    #[cfg_attr(docsrs, doc(cfg(all(unix, feature = "process"))))]
    impl<E: Send + Sync + 'static> ActorBuilder<'_, E> {
        /// Adds an actor that runs `command` as a child process (rule T04); unix only, behind the
        /// `process` feature.
        ///
        /// - **execute** spawns the child (when the actor starts, not when it is added; never, if
        ///   it was interrupted before it started) and waits for it. It returns `Ok(())` if the
        ///   child exits successfully, or dies of the signal this actor sent it; otherwise an
        ///   error that names the actor and the exit status. A child that exits on its own is an
        ///   ordinary exit: it triggers teardown (unless the actor is
        ///   [`Policy::OnError`](crate::Policy::OnError) and the exit was a success).
        /// - **interrupt** sends SIGTERM.
        /// - **force** (escalation, rule S05) sends SIGKILL, then calls any force hook set on this
        ///   builder.
        ///
        /// The signals are sent with `kill(2)` (through `rustix`), not a shell: images without
        /// `sh` are fine. How, and why a PID is signalled only while it is the child's: the
        /// [`io` module](crate::io#child-processes), which holds the other interrupters for
        /// blocking I/O. The child inherits stdin, stdout and stderr unless `command` says
        /// otherwise. Only the child itself is signalled, not its own children: `exec` in shell
        /// wrappers.
        ///
        /// # Panics
        ///
        /// The interrupt, or the force hook after calling the builder's own, panics if `kill`
        /// fails for any reason but "no such process" (for example EPERM, if the child became
        /// another user's through a setuid program): the message names the actor, the PID, the
        /// signal and the error, and the run records it as a hook panic (rule F02), so a child
        /// that may outlive the service is never a silent success.
        ///
        /// # Examples
        ///
        /// ```
        /// # if rungroup::doctest_skip() { return; }
        /// use rungroup::{Group, Outcome};
        /// use std::process::Command;
        ///
        /// let mut group = Group::new();
        /// let mut sleep = Command::new("sleep");
        /// sleep.arg("1000");
        /// group.actor("sleeper").add_child(sleep);
        /// let stop = group.stop_handle();
        /// group.add(move || { stop.stop("done"); Ok(()) }, |_| {});
        /// let report = group.run_with_report(); // SIGTERM ends `sleep` at once
        /// assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
        /// ```
        pub fn add_child(mut self, command: Command) -> ActorId
        where
            E: From<io::Error>,
        {
            let mut command = command;
            let name = self.name.clone();
            let (interrupt_name, force_name) = (name.clone(), name.clone());
            let program = command.get_program().to_string_lossy().into_owned();
            let state = Arc::new(Mutex::new(ChildState::NotStarted));
            let (interrupt_state, force_state) = (Arc::clone(&state), Arc::clone(&state));
            let user_force = self.force.take();
            let builder = self.force(move || {
                let killed = signal(&force_state, &force_name, KILL);
                if let Some(force) = user_force {
                    force();
                }
                if let Err(message) = killed {
                    panic!("{message}");
                }
            });
            builder.add(
                move || {
                    let mut child = {
                        let mut state = state.lock();
                        if matches!(*state, ChildState::Interrupted) {
                            return Ok(());
                        }
                        let child = command.spawn().map_err(|error| {
                            io::Error::new(
                                error.kind(),
                                format!(
                                    "actor '{name}' could not start child process \
                                     '{program}': {error}"
                                ),
                            )
                        })?;
                        *state = ChildState::Running {
                            pid: child.id(),
                            signalled: false,
                        };
                        child
                    };
                    let status = child.wait();
                    let signalled = {
                        let mut state = state.lock();
                        let signalled = matches!(
                            *state,
                            ChildState::Running {
                                signalled: true,
                                ..
                            }
                        );
                        *state = ChildState::Exited;
                        signalled
                    };
                    let status = status?;
                    if status.success() || (signalled && status.signal().is_some()) {
                        Ok(())
                    } else {
                        Err(io::Error::other(format!(
                            "child process '{program}' of actor '{name}' ended: {status}"
                        ))
                        .into())
                    }
                },
                move |_: &Cause<E>| {
                    if let Err(message) = signal(&interrupt_state, &interrupt_name, TERM) {
                        panic!("{message}");
                    }
                },
            )
        }
    }

    #[cfg(all(test, not(any(loom, shuttle))))]
    mod tests {
        use super::*;

        /// A failed signal is reported with everything needed to act on it (issue 10: a child
        /// that outlives the service must not be a silent success); a child already gone is not
        /// a failure. (EPERM cannot be arranged as root; the mapping is tested directly.)
        #[test]
        fn t04_a_failed_kill_names_the_actor_pid_signal_and_error() {
            let message = kill_failure("worker", 4321, TERM, Errno::PERM).expect("a failure");
            assert_eq!(
                message,
                format!(
                    "rungroup: actor 'worker' could not send SIGTERM to its child process 4321: \
                     {}",
                    io::Error::from_raw_os_error(Errno::PERM.raw_os_error())
                )
            );
            assert!(message.contains("os error 1"), "{message}");
            let message = kill_failure("worker", 4321, KILL, Errno::INVAL).expect("a failure");
            assert!(message.contains("SIGKILL"), "{message}");
            assert_eq!(kill_failure("worker", 4321, KILL, Errno::SRCH), None);
        }

        /// A PID that is not a positive `pid_t` is refused before `kill` could read it as a
        /// process group (0, negative): no signal reaches another process.
        #[test]
        fn t04_an_impossible_pid_is_reported_not_sent() {
            for pid in [0, u32::MAX] {
                let error = send("worker", pid, TERM).unwrap_err();
                assert!(error.contains(&format!("child process {pid}:")), "{error}");
            }
        }

        /// The interrupt of a child not spawned yet marks it so (R07) and signals nothing.
        #[test]
        fn t04_signal_before_spawn_marks_the_child_interrupted() {
            let state = Mutex::new(ChildState::NotStarted);
            assert_eq!(signal(&state, "worker", TERM), Ok(()));
            assert!(matches!(*state.lock(), ChildState::Interrupted));
        }
    }
}
