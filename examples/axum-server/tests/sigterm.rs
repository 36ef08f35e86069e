//! The example end to end: a real SIGTERM (sent with `kill`) while a request is in flight.
//!
//! No sleep synchronizes anything: the test waits for lines on the server's stdout, for responses
//! and for the process's exit, each bounded by the same 60 s fuse that only a hang can reach.
#![cfg(unix)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// The bound on every wait: only a hang reaches it.
const FUSE: Duration = Duration::from_secs(60);

/// Kills the server if the test fails before it exited.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines of `pipe`, on a channel, read by a thread of their own; the channel closes when the
/// pipe does (the process exited).
fn lines_of(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (lines, received) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(FUSE)).unwrap();
    stream.set_write_timeout(Some(FUSE)).unwrap();
    stream
}

/// Reads a `Connection: close` response to its end: (status, body).
fn response(mut stream: TcpStream) -> (u16, String) {
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    (status, body.to_owned())
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_flushes_the_access_log() {
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_rungroup-axum-example"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = lines_of(server.0.stdout.take().unwrap());
    let stderr = lines_of(server.0.stderr.take().unwrap());
    let next_line = || {
        stdout
            .recv_timeout(FUSE)
            .expect("the server said nothing more")
    };

    // First line: the address, printed once the signal handlers are registered.
    let first = next_line();
    let addr = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();

    let mut hello = connect(&addr);
    write!(
        hello,
        "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    assert_eq!(response(hello), (200, "hello\n".to_owned()));

    // A request in flight: its headers announce a body of 7 bytes, of which it sends 3. The
    // handler runs (and says so) at once, and waits for the rest.
    let mut slow = connect(&addr);
    write!(
        slow,
        "POST /slow HTTP/1.1\r\nHost: test\r\nContent-Length: 7\r\nConnection: close\r\n\r\nrel"
    )
    .unwrap();
    assert_eq!(next_line(), "in flight: POST /slow");

    let pid = server.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(next_line(), "shutting down: SIGTERM received");

    // Teardown has begun: axum stops accepting, and drops its listener, soon. Poll for that (a
    // connection made before is accepted and closed, or reset). The request in flight goes on.
    let fuse = Instant::now() + FUSE;
    loop {
        match TcpStream::connect(&addr) {
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => break,
            Err(error) => panic!("connect: {error}"),
            Ok(_) => assert!(Instant::now() < fuse, "new connections still accepted"),
        }
        thread::sleep(Duration::from_millis(5)); // a poll, not a synchronization
    }

    // Release it: the rest of its body. It completes, though the listener is gone.
    slow.write_all(b"ease").unwrap();
    assert_eq!(response(slow), (200, "received 7 bytes\n".to_owned()));

    // The rest of stdout, until the process closes it by exiting.
    let mut rest = Vec::new();
    loop {
        match stdout.recv_timeout(FUSE) {
            Ok(line) => rest.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the server did not exit: {rest:#?}"),
        }
    }
    let status = server.0.wait().unwrap();
    let output = rest.join("\n");
    // `Report::exit_code`: a clean teardown that SIGTERM began is 128 + 15, the shell's convention.
    assert_eq!(status.code(), Some(143), "output:\n{output}");

    // The access log is flushed in stage 1, after the request in flight had finished, and before
    // the report: stages in order, nothing escalated.
    assert_eq!(rest[0], "access log: 2 requests", "{output}");
    assert!(rest[1].starts_with("run ended: SIGTERM"), "{output}");
    assert!(!output.contains("escalated"), "{output}");
    let mut at = 0;
    for expected in [
        "stage 0 'default'",
        "    http ",
        "stage 1 'flush'",
        "    access-log ",
        "stage 2 'signals'",
        "    signals ",
    ] {
        let found = output[at..]
            .find(expected)
            .unwrap_or_else(|| panic!("{expected:?} missing or out of order in:\n{output}"));
        at += found + expected.len();
    }

    let access: Vec<String> = stderr.iter().collect();
    assert_eq!(
        access,
        ["access: GET / 200", "access: POST /slow 200"],
        "stderr"
    );
}
