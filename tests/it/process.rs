//! Tests that need a process of their own: what a signal does to the whole process once no signal
//! actor listens, and repeated signals (T02, S05, feature `signal`); signalling a child process
//! with no shell on `PATH` (T04, feature `process`).
//!
//! Each test re-runs this test binary as a child process that runs only the ignored test
//! [`child_process_entry`], with the scenario to play in the environment variable [`SCENARIO`].
//! The child announces each step it reached as a line on its stdout (see [`say`]); the parent
//! reads those lines before it acts (no sleeps), then checks how the child ended. Every wait is
//! bounded by the fuse; a child still running at the end is killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;
use std::{env, io, thread};

use crate::common::FUSE;

/// The environment variable that names the scenario a child process plays.
const SCENARIO: &str = "RUNGROUP_IT_SCENARIO";

/// What starts a line of the child's protocol (libtest may print other lines around them).
const MARK: &str = "rungroup-it: ";

/// Writes one protocol line to stdout at once (not through libtest's capture).
fn say(text: &str) {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{MARK}{text}").unwrap();
    stdout.flush().unwrap();
}

/// The command that runs `scenario` in a new copy of this test binary.
fn scenario_command(scenario: &str) -> Command {
    let mut command = Command::new(env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "process::child_process_entry",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(SCENARIO, scenario);
    command
}

/// The entry point of every child process of this module; does nothing in a normal test run.
#[test]
#[ignore = "a child process of this module's tests; does nothing on its own"]
fn child_process_entry() {
    let Ok(scenario) = env::var(SCENARIO) else {
        return;
    };
    match scenario.as_str() {
        #[cfg(feature = "signal")]
        "restore-after-run" => signals::restore_after_run(),
        #[cfg(feature = "signal")]
        "listeners-counted" => signals::listeners_counted(),
        #[cfg(feature = "signal")]
        "signal-ends-runs" => signals::signal_ends_runs(),
        #[cfg(feature = "signal")]
        "interrupt-blocks-forever" => signals::interrupt_blocks_forever(),
        #[cfg(feature = "process")]
        "signal-without-sh" => children::signal_without_sh(),
        #[cfg(feature = "process")]
        "sleeper" => children::sleeper(),
        #[cfg(feature = "systemd")]
        "systemd-lifecycle" => systemd::lifecycle(),
        #[cfg(feature = "systemd")]
        "systemd-multiline" => systemd::multiline(),
        other => panic!("unknown scenario {other:?}"),
    }
}

/// A running child process playing a scenario, with its protocol lines and its stderr.
struct Scenario {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
    /// Every line the child printed, protocol or not, for failure messages.
    seen: Vec<String>,
}

/// How a scenario's child process ended.
struct Ended {
    status: ExitStatus,
    /// The protocol lines not read by [`Scenario::expect`] before the end.
    lines: Vec<String>,
    output: String,
}

impl Scenario {
    #[cfg(feature = "signal")]
    fn spawn(scenario: &str) -> Self {
        Self::spawn_with(scenario, |_| {})
    }

    fn spawn_with(scenario: &str, configure: impl FnOnce(&mut Command)) -> Self {
        let mut command = scenario_command(scenario);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        configure(&mut command);
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Self {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    #[cfg(feature = "signal")]
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next protocol line, or `None` once the child closed its stdout (it exited).
    fn next_line(&mut self, deadline: Instant) -> Option<String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some((_, text)) = line.split_once(MARK) {
                        return Some(text.to_owned());
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "the child process hung (killed after {FUSE:?}); output:\n{}",
                        self.output()
                    );
                }
            }
        }
    }

    /// Waits for the child's next protocol line, which must be `wanted`.
    #[cfg(feature = "signal")]
    fn expect(&mut self, wanted: &str) {
        let line = self.next_line(Instant::now() + FUSE);
        assert_eq!(
            line.as_deref(),
            Some(wanted),
            "output so far:\n{}",
            self.output()
        );
    }

    /// Everything the child printed so far (stdout lines; stderr once it has exited).
    fn output(&mut self) -> String {
        let mut output = self.seen.join("\n");
        if let Some(stderr) = self.stderr.take().filter(|stderr| stderr.is_finished()) {
            output.push_str("\n--- stderr:\n");
            output.push_str(&stderr.join().unwrap());
        }
        output
    }

    /// Sends `signal` (a name: `TERM`) to the child, with the `kill` program.
    #[cfg(feature = "signal")]
    fn kill(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Sends `signal` with the `kill` program, which fails harmlessly if the child has exited
    /// (it is not reaped before [`Scenario::exited`] says so: its PID cannot be reused).
    #[cfg(feature = "signal")]
    fn kill_if_alive(&self, signal: &str) {
        let _ = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
    }

    /// Whether the child has exited (reaping it if so; [`Scenario::end`] still has its status).
    #[cfg(feature = "signal")]
    fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits (bounded by the fuse) for the child to exit.
    fn end(mut self) -> Ended {
        let deadline = Instant::now() + FUSE;
        let mut lines = Vec::new();
        while let Some(line) = self.next_line(deadline) {
            lines.push(line);
        }
        // Its stdout is closed: the child has exited (or is exiting).
        let status = self.child.wait().unwrap();
        let mut output = self.seen.join("\n");
        if let Some(stderr) = self.stderr.take() {
            output.push_str("\n--- stderr:\n");
            output.push_str(&stderr.join().unwrap());
        }
        Ended {
            status,
            lines,
            output,
        }
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Ended {
    /// Asserts that the child died of `signal`, after printing exactly `lines`.
    #[cfg(feature = "signal")]
    fn assert_killed_by(&self, signal: i32, lines: &[&str]) {
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&self.status),
            Some(signal),
            "status {}; output:\n{}",
            self.status,
            self.output
        );
        assert_eq!(self.lines, lines, "output:\n{}", self.output);
    }
}

// ---------------------------------------------------------------------------------------------
// T02: the process's signal dispositions once no signal actor listens (feature `signal`)

#[cfg(feature = "signal")]
mod signals {
    use std::os::unix::process::ExitStatusExt;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Instant;

    use rungroup::{Group, Outcome, Report, SignalSet, StopHandle, Trigger};
    use signal_hook::consts::{SIGTERM, SIGUSR1, SIGWINCH};
    use signal_hook::low_level::raise;

    use super::{Scenario, say};
    use crate::common::FUSE;

    /// A group of a token actor and a signal actor for `signals`, and a channel that receives
    /// one message once the signal actor listens.
    fn listening_group(signals: SignalSet) -> (Group, mpsc::Receiver<()>, StopHandle) {
        let mut group = Group::new();
        let stop = group.stop_handle();
        group.actor("worker").add_token(|token| {
            token.wait();
            Ok(())
        });
        let (listening, is_listening) = mpsc::channel();
        group.add_signals(signals.on_listening(move || {
            let _ = listening.send(());
        }));
        (group, is_listening, stop)
    }

    /// Runs `group` on another thread; returns once its signal actor listens.
    fn start(
        (group, is_listening, stop): (Group, mpsc::Receiver<()>, StopHandle),
    ) -> (thread::JoinHandle<Report<rungroup::BoxError>>, StopHandle) {
        let running = thread::spawn(move || group.run_with_report());
        is_listening
            .recv_timeout(FUSE)
            .expect("the signal actor never listened");
        (running, stop)
    }

    fn assert_clean(report: &Report<rungroup::BoxError>) {
        assert!(report.error().is_none(), "{report}");
        assert!(
            report
                .actors()
                .iter()
                .all(|actor| matches!(actor.outcome, Outcome::Ok)),
            "{report}"
        );
    }

    /// Child: a group with the signal actor runs and returns; then SIGTERM must kill the process.
    pub(super) fn restore_after_run() {
        let (running, stop) = start(listening_group(SignalSet::terminate()));
        stop.stop("done");
        assert_clean(&running.join().unwrap());
        say("returned");
        // Thread-directed: the handler runs (or the default action kills) before it returns.
        raise(SIGTERM).unwrap();
        say("survived SIGTERM");
    }

    #[test]
    fn t02_sigterm_after_run_returned_kills_the_process() {
        let ended = Scenario::spawn("restore-after-run").end();
        ended.assert_killed_by(SIGTERM, &["returned"]);
    }

    /// How many runs [`signal_ends_runs`] plays on SIGUSR1.
    const RUNS: usize = 100;

    /// Child: run after run ends on a signal (raised on another thread, as an operator's would
    /// arrive); not one of those signals may meet the default action the run restores as it ends.
    /// On Linux, first one run on each of the real-time signals 35 to 64: the first run on a
    /// signal is the one that registers its default.
    pub(super) fn signal_ends_runs() {
        let fresh = if cfg!(target_os = "linux") {
            35..65
        } else {
            0..0
        };
        for signal in fresh.chain(std::iter::repeat_n(SIGUSR1, RUNS)) {
            let (running, _) = start(listening_group(SignalSet::new([signal]).unwrap()));
            thread::spawn(move || raise(signal).unwrap())
                .join()
                .unwrap();
            let report = running.join().unwrap();
            assert_eq!(report.trigger(), &Trigger::Signal { signal });
        }
        say("survived");
    }

    /// A signal-hook handler runs the actions of a signal in turn: had the restored default come
    /// after the actor's own, the actor could end the run and restore the default between the two,
    /// and the very signal that ended the run would then kill the process (the `on_listening`
    /// doctest died so about once in 20 runs before the order was fixed). The window is a few
    /// instructions wide, so this is a guard by repetition, not a proof; it also runs the actor
    /// on signals `signal-hook` has no default-action entry for (the real-time ones).
    #[test]
    fn t02_the_signal_that_ends_a_run_never_kills_the_process() {
        let ended = Scenario::spawn("signal-ends-runs").end();
        assert!(
            ended.status.success(),
            "{}; output:\n{}",
            ended.status,
            ended.output
        );
        assert_eq!(ended.lines, ["survived"], "output:\n{}", ended.output);
    }

    /// Child: the default comes back only when the last listener of a signal stops, and goes
    /// away again while a later group listens.
    pub(super) fn listeners_counted() {
        // Two groups listen for SIGUSR1 at once. The first ends; the second still gets it.
        let (first, first_stop) = start(listening_group(SignalSet::new([SIGUSR1]).unwrap()));
        let (second, _) = start(listening_group(SignalSet::new([SIGUSR1]).unwrap()));
        first_stop.stop("first ends");
        assert_clean(&first.join().unwrap());
        raise(SIGUSR1).unwrap();
        let report = second.join().unwrap();
        assert_eq!(report.trigger(), &Trigger::Signal { signal: SIGUSR1 });
        assert_clean(&report);
        say("the second group got SIGUSR1");

        // Stopped before it runs: its signal actor may be interrupted before it registers (R07)
        // or after; either way it leaves the counts as they were.
        let (group, _, stop) = listening_group(SignalSet::new([SIGUSR1]).unwrap());
        stop.stop("before run");
        assert_clean(&group.run_with_report());

        // A signal whose default action is to ignore it: still ignored afterwards.
        let (running, stop) = start(listening_group(SignalSet::new([SIGWINCH]).unwrap()));
        stop.stop("done");
        assert_clean(&running.join().unwrap());
        raise(SIGWINCH).unwrap();
        say("SIGWINCH ignored");

        // A later group listens for SIGUSR1 again: the signal is its cause, not the process's end.
        let (later, _) = start(listening_group(SignalSet::new([SIGUSR1]).unwrap()));
        raise(SIGUSR1).unwrap();
        let report = later.join().unwrap();
        assert_eq!(report.trigger(), &Trigger::Signal { signal: SIGUSR1 });
        say("a later group got SIGUSR1");

        // Nobody listens any more.
        raise(SIGUSR1).unwrap();
        say("survived SIGUSR1");
    }

    #[test]
    fn t02_default_action_returns_only_when_no_signal_actor_listens() {
        let ended = Scenario::spawn("listeners-counted").end();
        ended.assert_killed_by(
            SIGUSR1,
            &[
                "the second group got SIGUSR1",
                "SIGWINCH ignored",
                "a later group got SIGUSR1",
            ],
        );
    }

    /// Child: no budget, an interrupt that blocks forever, and the signal actor announcing each
    /// signal it observes. Only the third signal's default action can end this process.
    pub(super) fn interrupt_blocks_forever() {
        let mut group = Group::new();
        group.actor("stuck").add(
            || loop {
                thread::park();
            },
            |_| {
                say("interrupted");
                loop {
                    thread::park();
                }
            },
        );
        group.add_signals(
            SignalSet::terminate()
                .on_listening(|| say("listening"))
                .on_signal(|signal, count| say(&format!("signal {signal} #{count}"))),
        );
        let report = group.run_with_report();
        say(&format!("run returned: {report}"));
        // Never exits on its own: only a signal may end this process.
        loop {
            thread::park();
        }
    }

    #[test]
    fn t02_s05_third_sigterm_kills_a_process_whose_interrupt_blocks_forever() {
        let mut child = Scenario::spawn("interrupt-blocks-forever");
        child.expect("listening");
        child.kill("TERM");
        child.expect(&format!("signal {SIGTERM} #1"));
        child.expect("interrupted"); // teardown began, and its interrupt blocks for good
        child.kill("TERM");
        // Read before the next one: a SIGTERM sent while this one is pending would coalesce.
        child.expect(&format!("signal {SIGTERM} #2"));
        child.kill("TERM");
        // With a runner whose caller thread is stuck in that interrupt (no budget: interrupts run
        // on it), the escalation is never acted on, the signal actor still listens, and it runs
        // SIGTERM's default action itself ("#3"). A runner that does act on the escalation also
        // interrupts the signal actor, and may even return (abandoning `stuck`): then the third
        // SIGTERM meets the default action the actor restored. Either way it is the last.
        let ended = child.end();
        assert_eq!(
            ended.status.signal(),
            Some(SIGTERM),
            "status {}; output:\n{}",
            ended.status,
            ended.output
        );
        let third = format!("signal {SIGTERM} #3");
        assert!(
            ended
                .lines
                .iter()
                .all(|line| *line == third || line.starts_with("run returned:")),
            "output:\n{}",
            ended.output
        );
    }

    #[test]
    fn t02_s05_a_sigterm_storm_always_ends_the_process_by_sigterm() {
        // However the storm coalesces, the actor sees a third SIGTERM (or has stopped listening,
        // and the default action runs): the process dies of SIGTERM, never hangs or aborts.
        let mut child = Scenario::spawn("interrupt-blocks-forever");
        child.expect("listening");
        let deadline = Instant::now() + FUSE;
        let mut sent = 0;
        while !child.exited() {
            assert!(
                Instant::now() < deadline,
                "still alive after {sent} SIGTERMs"
            );
            child.kill_if_alive("TERM");
            sent += 1;
        }
        let ended = child.end();
        assert_eq!(
            ended.status.signal(),
            Some(SIGTERM),
            "status {}; output:\n{}",
            ended.status,
            ended.output
        );
    }
}

// ---------------------------------------------------------------------------------------------
// T04: child processes without a shell (feature `process`)

#[cfg(feature = "process")]
mod children {
    use std::io::{BufRead, BufReader, Read};
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::process::{Command, Stdio};
    use std::time::Duration;
    use std::{env, fs, io, thread};

    use rungroup::{Group, Outcome};

    use super::{MARK, Scenario, say, scenario_command};

    /// Grandchild: says it started, then waits for its stdin to close (its parent is gone) and
    /// fails: only a signal may end it cleanly.
    pub(super) fn sleeper() {
        say("started");
        let mut input = Vec::new();
        let _ = io::stdin().read_to_end(&mut input);
        panic!("stdin closed before any signal came: the parent is gone");
    }

    /// Child, with `PATH` naming an empty directory: a child actor running [`sleeper`] (by the
    /// absolute path of this test binary) must be stopped by its SIGTERM.
    pub(super) fn signal_without_sh() {
        let found = Command::new("sh").arg("-c").arg("true").status();
        assert_eq!(
            found.map_err(|error| error.kind()).err(),
            Some(io::ErrorKind::NotFound),
            "`sh` is still on PATH"
        );
        // The sleeper's stdin and stdout are one end of a socket pair; this process keeps the
        // other, so the sleeper outlives it by no more than a read.
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut sleeper = scenario_command("sleeper");
        sleeper
            .stdin(Stdio::from(OwnedFd::from(theirs.try_clone().unwrap())))
            .stdout(Stdio::from(OwnedFd::from(theirs)));
        let mut group = Group::new();
        // Only a hang reaches it (the SIGTERM takes milliseconds); then the report says why.
        group.budget(Duration::from_secs(30));
        let stop = group.stop_handle();
        group.actor("sleeper").add_child(sleeper);
        let running = thread::spawn(move || group.run_with_report());
        // Stop only once the sleeper runs: the SIGTERM path, not the never-spawned one (R07).
        let mut lines = BufReader::new(&ours).lines();
        assert!(
            lines.any(|line| line.unwrap().ends_with(&format!("{MARK}started"))),
            "the sleeper never started"
        );
        stop.stop("the sleeper runs");
        let report = running.join().unwrap();
        let actor = &report.actors()[0];
        assert!(matches!(actor.outcome, Outcome::Ok), "{report}");
        assert!(
            !actor.escalated,
            "SIGTERM should have been enough: {report}"
        );
        assert!(report.error().is_none(), "{report}");
        drop(ours);
        say("terminated");
    }

    #[test]
    fn t04_child_is_signalled_with_no_shell_on_path() {
        let empty = env::temp_dir().join(format!("rungroup-it-no-sh-{}", std::process::id()));
        fs::create_dir_all(&empty).unwrap();
        let child = Scenario::spawn_with("signal-without-sh", |command| {
            command.env("PATH", &empty);
        });
        let ended = child.end();
        let _ = fs::remove_dir(&empty);
        assert!(
            ended.status.success(),
            "{}; output:\n{}",
            ended.status,
            ended.output
        );
        assert_eq!(ended.lines, ["terminated"], "output:\n{}", ended.output);
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 13: the systemd notifier against a real notify socket (feature `systemd`)

#[cfg(feature = "systemd")]
mod systemd {
    use std::io::Read;
    use std::os::unix::net::UnixDatagram;
    use std::process::Stdio;
    use std::time::Duration;

    use rungroup::Group;

    use super::{Scenario, say};
    use crate::common::FUSE;

    /// The child: a group reporting to systemd, ready once its server says so, with a drain stage
    /// under a grace; it ends when the parent closes the child's stdin.
    pub(super) fn lifecycle() {
        let mut group = Group::new();
        group.systemd();
        let drain = group.stage("drain").grace(Duration::from_secs(60)).id();
        let ready = group.ready_handle("http");
        group.actor("server").add_token(move |token| {
            ready.ready();
            token.wait();
            Ok(())
        });
        group.actor("flusher").stage(drain).add_token(|token| {
            token.wait();
            Ok(())
        });
        group.actor("stdin").add(
            || {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                Ok(())
            },
            |_| {},
        );
        let report = group.run_with_report();
        say(&format!("ended: {}", report.trigger_summary()));
    }

    /// The child: a group reporting to systemd whose first exit is an error with a line break in
    /// its text (as a panic's `assert_eq!` message, or text from a peer, may have).
    pub(super) fn multiline() {
        let mut group = Group::new();
        group.systemd();
        group
            .actor("db")
            .add(|| Err("disk full\nINJECTED=1".into()), |_| {});
        let report = group.run_with_report();
        say(&format!("ended: {}", report.trigger_summary()));
    }

    /// An error's text goes into `STATUS=` with its line breaks folded: every line of a notify
    /// message is an assignment to systemd, so a line break in a value would add one.
    #[test]
    fn i13_systemd_status_cannot_carry_a_line_of_its_own() {
        let (_dir, socket, path) = notify_socket();
        let child = Scenario::spawn_with("systemd-multiline", |command| {
            command
                .env("NOTIFY_SOCKET", &path)
                .env_remove("WATCHDOG_USEC");
        });
        let mut messages = Vec::new();
        receive_until(&socket, &mut messages, |m| m.starts_with("STATUS=stopped"));
        let ended = child.end();
        assert!(ended.status.success(), "{}", ended.output);
        assert!(
            messages.iter().any(|message| message.contains("disk full")),
            "{messages:?}"
        );
        assert!(
            !messages
                .iter()
                .any(|message| message.lines().any(|line| line.starts_with("INJECTED"))),
            "a value's line break became an assignment: {messages:?}"
        );
    }

    /// Binds a notify socket in a fresh directory.
    fn notify_socket() -> (tempdir::Dir, UnixDatagram, std::path::PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(FUSE)).unwrap();
        (dir, socket, path)
    }

    /// Receives messages into `messages` up to and including the first that `last` accepts.
    fn receive_until(
        socket: &UnixDatagram,
        messages: &mut Vec<String>,
        last: impl Fn(&str) -> bool,
    ) {
        loop {
            let message = receive(socket);
            let done = last(&message);
            messages.push(message);
            if done {
                return;
            }
        }
    }

    /// Starts the `systemd-lifecycle` scenario reporting to `path`, with `WATCHDOG_USEC` set to
    /// `watchdog_usec` if given; it runs until its stdin is closed.
    fn lifecycle_child(path: &std::path::Path, watchdog_usec: Option<&str>) -> Scenario {
        Scenario::spawn_with("systemd-lifecycle", |command| {
            command
                .env("NOTIFY_SOCKET", path)
                .env_remove("WATCHDOG_PID")
                .stdin(Stdio::piped());
            match watchdog_usec {
                Some(usec) => command.env("WATCHDOG_USEC", usec),
                None => command.env_remove("WATCHDOG_USEC"),
            };
        })
    }

    fn receive(socket: &UnixDatagram) -> String {
        let mut buffer = [0u8; 4096];
        let len = socket
            .recv(&mut buffer)
            .expect("no notify message within the fuse");
        String::from_utf8(buffer[..len].to_vec()).unwrap()
    }

    /// The exact protocol a `Type=notify` unit with `WatchdogSec=` sees: `READY=1` once ready,
    /// watchdog pings while healthy, `STOPPING=1` with the cause at the trigger, the stages by
    /// name with `EXTEND_TIMEOUT_USEC=` for the one with a grace, and the final status.
    #[test]
    fn i13_systemd_notify_protocol_on_a_real_socket() {
        let (_dir, socket, path) = notify_socket();
        let mut child = lifecycle_child(&path, Some("20000"));
        let mut messages = Vec::new();
        // Ready, and then at least one ping after it: the watchdog runs while healthy.
        receive_until(&socket, &mut messages, |m| m.starts_with("READY=1"));
        receive_until(&socket, &mut messages, |m| m == "WATCHDOG=1\n");
        drop(child.child.stdin.take());
        receive_until(&socket, &mut messages, |m| m.starts_with("STATUS=stopped"));
        let ended = child.end();
        assert!(ended.status.success(), "{}", ended.output);
        assert_eq!(ended.lines, ["ended: actor 'stdin' exited first (ok)"]);
        let protocol: Vec<&str> = messages
            .iter()
            .map(String::as_str)
            .filter(|message| *message != "WATCHDOG=1\n")
            .collect();
        assert_eq!(
            protocol,
            [
                "READY=1\nSTATUS=ready\n",
                "STOPPING=1\nSTATUS=stopping: actor 'stdin' returned Ok\n",
                "STATUS=not ready: teardown\n",
                "STATUS=stopping: stage 1/2 'default'\n",
                "STATUS=stopping: stage 2/2 'drain'\nEXTEND_TIMEOUT_USEC=61000000\n",
                "STATUS=stopped: actor 'stdin' exited first (ok)\n",
            ],
            "all messages: {messages:?}"
        );
    }

    /// `WATCHDOG_USEC=0` is no watchdog (`sd_watchdog_enabled(3)` refuses a zero period): no
    /// pings, rather than a ping every zero microseconds from a spinning thread.
    #[test]
    fn i13_systemd_zero_watchdog_period_is_no_watchdog() {
        let (_dir, socket, path) = notify_socket();
        let mut child = lifecycle_child(&path, Some("0"));
        let mut messages = Vec::new();
        receive_until(&socket, &mut messages, |m| m.starts_with("READY=1"));
        drop(child.child.stdin.take());
        receive_until(&socket, &mut messages, |m| m.starts_with("STATUS=stopped"));
        let ended = child.end();
        assert!(ended.status.success(), "{}", ended.output);
        let pings = messages
            .iter()
            .filter(|message| *message == "WATCHDOG=1\n")
            .count();
        assert_eq!(pings, 0, "{} messages", messages.len());
    }

    /// Without `NOTIFY_SOCKET` the notifier does nothing, and the group runs as usual.
    #[test]
    fn i13_systemd_without_a_notify_socket_is_a_no_op() {
        let mut child = Scenario::spawn_with("systemd-lifecycle", |command| {
            command.env_remove("NOTIFY_SOCKET").stdin(Stdio::piped());
        });
        drop(child.child.stdin.take());
        let ended = child.end();
        assert!(ended.status.success(), "{}", ended.output);
        assert_eq!(ended.lines, ["ended: actor 'stdin' exited first (ok)"]);
    }

    /// A temporary directory, removed when dropped (no dependency for it).
    mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub(crate) struct Dir(PathBuf);

        impl Dir {
            pub(crate) fn new() -> Self {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                let path = std::env::temp_dir().join(format!(
                    "rungroup-it-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }

            pub(crate) fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
