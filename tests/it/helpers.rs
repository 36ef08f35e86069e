//! Helpers: I/O interrupters against the real thing (T04; child processes with the feature
//! `process`), nested groups (T05), and the `examples/server.rs` staged shutdown driven by a real
//! SIGTERM (feature `signal`, unix).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use rungroup::io::Acceptor;
use rungroup::{Error, Group, Outcome, StopToken, Trigger};

use crate::common::{
    FUSE, Latch, bounded, interrupting, payload_text, report_of, spawn_report, wait_interrupting,
};

fn acceptor() -> Acceptor {
    Acceptor::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// T04: a TcpListener accept loop

#[test]
fn t04_accept_loop_serves_clients_until_its_interrupt_wakes_it() {
    let acceptor = acceptor();
    let addr = acceptor.local_addr().unwrap();
    let interrupter = acceptor.interrupter();
    let served = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&served);
    let mut group = Group::new();
    let stop = group.stop_handle();
    group.actor("listener").add(
        move || {
            for stream in acceptor.incoming() {
                stream?.write_all(b"hello\n")?;
                counted.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        },
        move |_| interrupter.interrupt(),
    );
    let pending = spawn_report(group);
    for _ in 0..3 {
        let mut line = String::new();
        BufReader::new(TcpStream::connect(addr).unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "hello\n");
    }
    // The loop is back in (or on its way into) a blocking `accept`: only the interrupter's
    // wake-up connection can end it.
    stop.stop("enough");
    let report = pending.join();
    assert!(
        matches!(report.actors()[0].outcome, Outcome::Ok),
        "{report}"
    );
    assert_eq!(served.load(Ordering::SeqCst), 3);
}

#[test]
fn t04_accept_interrupted_before_the_loop_starts_returns_at_once() {
    let acceptor = acceptor();
    let interrupter = acceptor.interrupter();
    assert!(!acceptor.is_interrupted());
    interrupter.interrupt();
    assert!(acceptor.is_interrupted() && interrupter.is_interrupted());
    // Sticky (R07): no blocking `accept` at all, even with a client waiting in the queue.
    let _client = TcpStream::connect(acceptor.local_addr().unwrap()).unwrap();
    assert!(acceptor.accept().unwrap().is_none());
    assert_eq!(acceptor.incoming().count(), 0);
}

#[test]
fn t04_listener_interrupter_used_twice_is_harmless() {
    let acceptor = acceptor();
    let interrupter = acceptor.interrupter();
    let clone = interrupter.clone();
    let blocked = bounded(move || acceptor.accept().map(|accepted| accepted.is_none()));
    // Used twice, from a clone, and from several threads at once: no panic, no hang, woken.
    let barrier = Arc::new(Barrier::new(8));
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (interrupter, barrier) = (interrupter.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                interrupter.interrupt();
            })
        })
        .collect();
    for racer in racers {
        racer.join().unwrap();
    }
    interrupter.interrupt();
    clone.interrupt();
    assert!(blocked.join().unwrap(), "accept was not woken");
    assert!(interrupter.is_interrupted() && clone.is_interrupted());
}

#[test]
fn t04_interrupter_used_after_its_acceptor_is_gone_connects_nowhere() {
    let acceptor = acceptor();
    let addr = acceptor.local_addr().unwrap();
    let interrupter = acceptor.interrupter();
    drop(acceptor);
    // Another listener on the same port (std sets SO_REUSEADDR on unix listeners).
    let Ok(successor) = TcpListener::bind(addr) else {
        return; // the port went elsewhere: nothing that could be hit by mistake
    };
    interrupter.interrupt();
    interrupter.interrupt();
    // The wake-up would have been made (and queued) inside `interrupt`: nothing is queued.
    successor.set_nonblocking(true).unwrap();
    let error = successor.accept().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn t04_every_thread_accepting_on_one_acceptor_is_woken() {
    let acceptor = Arc::new(acceptor());
    let interrupter = acceptor.interrupter();
    let (started, has_started) = mpsc::channel();
    let loops: Vec<_> = (0..3)
        .map(|_| {
            let (acceptor, started) = (Arc::clone(&acceptor), started.clone());
            bounded(move || {
                started.send(()).unwrap();
                acceptor.incoming().count()
            })
        })
        .collect();
    for _ in 0..3 {
        has_started.recv_timeout(FUSE).unwrap();
    }
    interrupter.interrupt();
    for accept_loop in loops {
        assert_eq!(accept_loop.join(), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// T04: a child process (feature `process`, unix)

#[cfg(all(unix, feature = "process"))]
mod child {
    use std::io::{BufRead, BufReader};
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::process::{Command, Stdio};

    use rungroup::{Group, Outcome, Policy};

    use super::{interrupting, wait_interrupting};
    use crate::common::{report_of, spawn_report};

    /// `sh -c script`, with its stdout readable line by line.
    fn shell(script: &str) -> (Command, BufReader<UnixStream>) {
        let (reader, writer) = UnixStream::pair().unwrap();
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .stdout(Stdio::from(OwnedFd::from(writer)));
        (command, BufReader::new(reader))
    }

    fn line(out: &mut BufReader<UnixStream>) -> String {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }

    fn alive(pid: &str) -> bool {
        Command::new("sh")
            .arg("-c")
            .arg(format!("kill -0 {pid} 2>/dev/null"))
            .status()
            .unwrap()
            .success()
    }

    #[test]
    fn t04_child_process_is_terminated_by_its_interrupt() {
        let (command, mut out) = shell("echo $$; exec sleep 1000");
        let mut group = Group::new();
        let stop = group.stop_handle();
        group.actor("sleeper").add_child(command);
        let pending = spawn_report(group);
        let pid = line(&mut out);
        assert!(alive(&pid));
        stop.stop("done");
        let report = pending.join();
        let sleeper = &report.actors()[0];
        assert!(matches!(sleeper.outcome, Outcome::Ok), "{report}");
        assert!(!sleeper.escalated, "SIGTERM should have been enough");
        assert!(!alive(&pid), "the child {pid} still runs");
    }

    #[test]
    fn t04_child_ignoring_sigterm_is_killed_on_escalation() {
        // The shell reports the SIGTERM it ignores; `sleep 1` children bound what it leaves.
        let (command, mut out) =
            shell("trap 'echo got-term' TERM; echo $$; while :; do sleep 1; done");
        let mut group = Group::new();
        group.kill_grace(crate::common::FUSE);
        let stop = group.stop_handle();
        group.actor("stubborn").add_child(command);
        let interrupted = interrupting(&mut group);
        let pending = spawn_report(group);
        let pid = line(&mut out);
        stop.stop("first");
        wait_interrupting(&interrupted, "stubborn");
        assert_eq!(line(&mut out), "got-term");
        assert!(alive(&pid));
        stop.stop("second"); // escalates: the force hook sends SIGKILL
        let report = pending.join();
        let stubborn = &report.actors()[0];
        assert!(stubborn.escalated, "{report}");
        assert!(matches!(stubborn.outcome, Outcome::Ok), "{report}");
        crate::common::assert_escalated_cleanly(&report);
        assert!(!alive(&pid), "the child {pid} still runs");
    }

    #[test]
    fn t04_child_exit_is_an_exit_with_its_status() {
        let mut group = Group::new();
        group.actor("failing").add_child({
            let mut command = Command::new("sh");
            command.arg("-c").arg("exit 3");
            command
        });
        group.actor("worker").add_token(|token| {
            token.wait();
            Ok(())
        });
        let report = report_of(group);
        assert_eq!(report.first_exit().unwrap().name, "failing");
        let error = report.into_result().unwrap_err().to_string();
        assert!(
            error.contains("'failing'") && error.contains('3'),
            "{error}"
        );

        let mut group = Group::new();
        group
            .actor("init")
            .policy(Policy::OnError)
            .add_child(Command::new("true"));
        group.actor("job").add(|| Err("job done".into()), |_| {});
        let report = report_of(group);
        assert!(matches!(report.actors()[0].outcome, Outcome::Ok));
        assert_eq!(report.first_exit().unwrap().name, "job");
    }

    /// A child killed by a signal that rungroup did not send (a crash, the OOM killer) is a
    /// failure, not a clean stop: only the group's own SIGTERM/SIGKILL makes a signal death `Ok`.
    #[test]
    fn t04_child_killed_by_a_foreign_signal_is_an_error() {
        let mut group = Group::new();
        group.actor("crasher").add_child({
            let mut command = Command::new("sh");
            command.arg("-c").arg("kill -KILL $$");
            command
        });
        let error = report_of(group).into_result().unwrap_err().to_string();
        assert!(
            error.contains("'crasher'") && error.contains("signal"),
            "{error}"
        );
    }

    #[test]
    fn t04_child_that_cannot_start_is_an_error_naming_the_actor() {
        let mut group = Group::new();
        group
            .actor("ghost")
            .add_child(Command::new("/nonexistent/rungroup-test-program"));
        let error = report_of(group).into_result().unwrap_err().to_string();
        assert!(error.contains("actor 'ghost' could not start"), "{error}");
    }
}

// ---------------------------------------------------------------------------------------------
// T05: nested groups

fn waiting_actor(group: &mut Group, name: &str) -> rungroup::ActorId {
    group.actor(name).add_token(|token| {
        token.wait();
        Ok(())
    })
}

#[test]
fn t05_nested_group_is_stopped_by_the_outer_teardown() {
    let mut inner = Group::new();
    let back = inner.stage("back").id();
    waiting_actor(&mut inner, "front-worker");
    inner.actor("back-worker").stage(back).add_token(|token| {
        token.wait();
        Ok(())
    });
    let mut outer = Group::new();
    let stop = outer.stop_handle();
    let nested = outer.actor("inner").add_group(inner);
    let sibling = waiting_actor(&mut outer, "sibling");
    let pending = spawn_report(outer);
    stop.stop("shutdown");
    let report = pending.join();
    assert!(report.error().is_none(), "{report}");
    assert!(matches!(report.actor(nested).outcome, Outcome::Ok));
    assert!(report.nested(sibling).is_none(), "not a nested group");

    let inner = report
        .nested(nested)
        .expect("the inner report, in the outer one");
    assert!(
        matches!(inner.trigger(), Trigger::Stop { reason }
            if reason == "outer group teardown: stop requested: shutdown"),
        "{inner}"
    );
    assert_eq!(inner.actors().len(), 2);
    assert!(
        inner
            .actors()
            .iter()
            .all(|actor| matches!(actor.outcome, Outcome::Ok))
    );
}

#[derive(Debug, PartialEq)]
struct Failure(u32);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failure {}", self.0)
    }
}

impl std::error::Error for Failure {}

#[test]
fn t05_inner_first_exit_error_is_the_outer_result_unchanged() {
    let mut inner = Group::new();
    waiting_actor(&mut inner, "pool");
    inner
        .actor("migrate")
        .add(|| Err(Failure(7).into()), |_| {});
    let mut outer = Group::new();
    let nested = outer.actor("db").add_group(inner);
    waiting_actor(&mut outer, "http");
    let report = report_of(outer);
    assert_eq!(report.first_exit().unwrap().name, "db");
    let inner = report.nested(nested).unwrap();
    let first = inner.first_exit().unwrap();
    assert_eq!(first.name, "migrate");
    // The value itself went up to the outer group.
    assert!(matches!(first.outcome, Outcome::Retained));

    let error = report.into_result().unwrap_err();
    assert_eq!(error.downcast_ref::<Failure>(), Some(&Failure(7)));
}

#[test]
fn t05_inner_panic_is_the_nested_actors_panic() {
    let mut inner = Group::new();
    inner.actor("parser").add(|| panic!("bad input"), |_| {});
    let mut outer = Group::new();
    let nested = outer.actor("ingest").add_group(inner);
    waiting_actor(&mut outer, "http");
    let report = report_of(outer);
    let ingest = report.first_exit().unwrap();
    assert_eq!(ingest.name, "ingest");
    let Outcome::Panicked(payload) = &ingest.outcome else {
        panic!("{report}")
    };
    assert_eq!(
        payload_text(payload),
        "nested group 'ingest': actor 'parser' panicked: bad input"
    );
    let inner = report.nested(nested).unwrap();
    let Outcome::Panicked(payload) = &inner.actors()[0].outcome else {
        panic!("{inner}")
    };
    assert_eq!(payload_text(payload), "bad input");
}

#[test]
fn t05_outer_escalation_escalates_the_inner_teardown() {
    let mut inner = Group::new();
    inner.kill_grace(FUSE);
    let token = StopToken::new();
    let (waiter, forcer) = (token.clone(), token);
    inner.actor("stubborn").force(move || forcer.stop()).add(
        move || {
            waiter.wait();
            Ok(())
        },
        |_| {},
    );
    let inner_interrupted = interrupting(&mut inner);
    let mut outer = Group::new();
    outer.kill_grace(FUSE);
    let stop = outer.stop_handle();
    let nested = outer.actor("inner").add_group(inner);
    let pending = spawn_report(outer);
    stop.stop("first");
    wait_interrupting(&inner_interrupted, "stubborn");
    stop.stop("second");
    let report = pending.join();
    assert!(report.actors()[0].escalated, "{report}");
    crate::common::assert_escalated_cleanly(&report);
    let inner = report.nested(nested).unwrap();
    assert!(inner.actors()[0].escalated, "{inner}");
    assert!(matches!(inner.actors()[0].outcome, Outcome::Ok));
}

#[test]
fn t05_inner_abandonment_is_an_outer_error_naming_the_inner_actor() {
    let latch = Latch::new();
    let stuck = latch.waiter();
    let mut inner = Group::new();
    inner
        .budget(Duration::ZERO)
        .kill_grace(Duration::from_millis(50));
    inner.actor("stuck").add(
        move || {
            stuck.wait();
            Ok(())
        },
        |_| {},
    );
    inner.actor("job").add(|| Ok(()), |_| {});
    let mut outer = Group::new();
    let nested = outer.actor("inner").add_group(inner);
    let report = report_of(outer);
    latch.release();
    let inner = report.nested(nested).unwrap();
    assert_eq!(inner.abandoned().collect::<Vec<_>>(), ["stuck"]);
    let error = report.into_result().unwrap_err();
    let error = error.downcast_ref::<Error>().expect("a rungroup error");
    assert!(
        matches!(error, Error::Abandoned { actors, .. } if actors == &["inner/stuck".to_owned()]),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// The server example, end to end (feature `signal`, unix)

#[cfg(all(unix, feature = "signal"))]
mod server {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::{env, fs};

    use crate::common::FUSE;

    /// Builds `examples/server.rs` with cargo (a no-op when `cargo test` built it already, as it
    /// does with `--all-features`), in this test binary's own target directory and profile.
    fn server_binary() -> PathBuf {
        let exe = env::current_exe().unwrap(); // <target>/<profile>/deps/it-<hash>
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
        let target_dir = profile_dir.parent().unwrap();
        let mut features = vec!["signal"];
        if cfg!(feature = "tracing") {
            features.push("tracing");
        }
        let mut cargo = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
        cargo
            .args(["build", "--example", "server", "--features"])
            .arg(features.join(","))
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .env("CARGO_TARGET_DIR", target_dir);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo");
        assert!(status.success(), "cargo build --example server failed");
        profile_dir.join("examples").join("server")
    }

    /// Kills the server if the test fails before it exited.
    struct Server(Child);

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Sends a request and reads the response's status line and headers.
    fn send(stream: &mut BufReader<TcpStream>, path: &str, close: bool) -> (u16, usize) {
        let connection = if close { "close" } else { "keep-alive" };
        write!(
            stream.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: {connection}\r\n\r\n"
        )
        .unwrap();
        let mut status_line = String::new();
        stream.read_line(&mut status_line).unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"))
            .parse()
            .unwrap();
        let mut length = 0;
        loop {
            let mut header = String::new();
            stream.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("Content-Length:") {
                length = value.trim().parse().unwrap();
            }
        }
        (status, length)
    }

    fn body(stream: &mut BufReader<TcpStream>, length: usize) -> String {
        let mut body = vec![0; length];
        stream.read_exact(&mut body).unwrap();
        String::from_utf8(body).unwrap()
    }

    #[test]
    fn t02_server_example_drains_the_slow_request_and_flushes_its_log_on_sigterm() {
        let binary = server_binary();
        let log = env::temp_dir().join(format!("rungroup-server-{}.log", std::process::id()));
        let _ = fs::remove_file(&log);
        let mut server = Server(
            Command::new(&binary)
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let (lines_tx, lines) = mpsc::channel();
        let stdout = server.0.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let next_line = || {
            lines
                .recv_timeout(FUSE)
                .expect("the server said nothing more")
        };

        // First line: the address, printed once the signal handlers are registered.
        let first = next_line();
        let addr = first
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();

        // A keep-alive connection, accepted and served before the signal.
        let mut keep = BufReader::new(TcpStream::connect(&addr).unwrap());
        let (status, length) = send(&mut keep, "/", false);
        assert_eq!((status, body(&mut keep, length).as_str()), (200, "hello\n"));

        // The slow request: its headers arrive, its body waits for /release.
        let mut slow = BufReader::new(TcpStream::connect(&addr).unwrap());
        let (status, slow_length) = send(&mut slow, "/slow", true);
        assert_eq!(status, 200);

        // SIGTERM while /slow is in flight; wait until teardown has begun.
        let pid = server.0.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let shutting_down = next_line();
        assert_eq!(shutting_down, "shutting down: SIGTERM received");

        // Release the slow request through the connection accepted before the signal.
        let (status, length) = send(&mut keep, "/release", true);
        assert_eq!((status, body(&mut keep, length).as_str()), (200, "ok\n"));
        drop(keep);
        assert_eq!(body(&mut slow, slow_length), "released\n");
        drop(slow);

        let status = server.0.wait().unwrap();
        let rest: Vec<String> = lines.iter().collect();
        let output = rest.join("\n");
        assert!(status.success(), "exit status {status}; output:\n{output}");
        assert!(output.starts_with("run ended: SIGTERM"), "{output}");
        assert!(!output.contains("escalated"), "{output}");

        let flushed = fs::read_to_string(&log).expect("the access log was flushed");
        let _ = fs::remove_file(&log);
        for request in ["\"GET /\" 200", "\"GET /slow\" 200", "\"GET /release\" 200"] {
            assert!(
                flushed.contains(request),
                "{request} missing from {flushed:?}"
            );
        }
        assert_eq!(flushed.lines().count(), 3, "{flushed}");
    }
}
