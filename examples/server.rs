//! A small HTTP/1.1 server on 127.0.0.1 with a staged shutdown on SIGTERM or SIGINT.
//!
//! ```sh
//! cargo run --example server --features signal -- access.log   # or SERVER_ACCESS_LOG=access.log
//! curl http://127.0.0.1:PORT/            # hello
//! curl http://127.0.0.1:PORT/slow        # answers once some client asks for /release
//! curl http://127.0.0.1:PORT/release
//! kill -TERM <pid>                       # or Ctrl-C; a second one escalates, a third kills
//! ```
//!
//! The first line on stdout is `listening on http://ADDR`, printed once the signal handlers are
//! registered (so a supervisor that waits for it can signal at once). On a signal, teardown runs
//! in stages:
//!
//! 1. `default`: the listener stops accepting (an [`Acceptor`](rungroup::io::Acceptor) wakes its
//!    blocked `accept`);
//! 2. `drain` (grace 30 s): requests in flight are finished, on the connections already accepted,
//!    answered with `Connection: close`; when the grace expires or a second signal arrives, the
//!    force hook shuts every connection down;
//! 3. `flush` (grace 5 s): the access log is written to its file;
//! 4. `signals`: the signal actor, listening until the end so a second signal can escalate.
//!
//! Then the report is printed, and the exit status is 0 if teardown was clean.

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    server::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("the server example needs unix signals");
}

#[cfg(unix)]
mod server {
    use std::collections::HashMap;
    use std::io::{self, BufRead, BufReader, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Condvar, Mutex, mpsc};
    use std::time::Duration;
    use std::{env, fs, thread};

    use rungroup::io::Acceptor;
    use rungroup::{Event, Group, SignalSet};

    /// What the connection threads and the actors share.
    #[derive(Default)]
    struct Shared {
        /// Set when the drain stage begins: answer with `Connection: close`.
        draining: AtomicBool,
        /// `/slow` waits for `/release` (or for the force hook).
        released: Mutex<bool>,
        release: Condvar,
        /// Set by the force hook: stop waiting, the connections are being cut.
        forced: AtomicBool,
        /// Clones of the open connections, for the force hook.
        open: Mutex<HashMap<u64, TcpStream>>,
        next_id: AtomicU64,
        /// Access-log lines, written out by the `flush` stage.
        log: Mutex<Vec<String>>,
    }

    pub(crate) fn main() -> ExitCode {
        match run() {
            Ok(code) => code,
            Err(error) => {
                eprintln!("server: {error}");
                ExitCode::FAILURE
            }
        }
    }

    fn run() -> io::Result<ExitCode> {
        let log_path = env::args()
            .nth(1)
            .or_else(|| env::var("SERVER_ACCESS_LOG").ok())
            .unwrap_or_else(|| "access.log".to_owned());
        let acceptor = Acceptor::new(TcpListener::bind("127.0.0.1:0")?)?;
        let addr = acceptor.local_addr()?;
        let shared = Arc::new(Shared::default());

        let mut group = Group::new();
        let drain = group.stage("drain").grace(Duration::from_secs(30)).id();
        let flush = group.stage("flush").grace(Duration::from_secs(5)).id();
        group.observe(|event| {
            if let Event::Triggered { cause } = event {
                println!("shutting down: {cause}");
            }
        });

        // Stage 1: accept, and hand each connection to the connection supervisor. When this
        // actor returns, `connections` is dropped and the supervisor's channel closes.
        let (connections, accepted) = mpsc::channel::<TcpStream>();
        let interrupter = acceptor.interrupter();
        group.actor("listener").add(
            move || {
                for stream in acceptor.incoming() {
                    match stream {
                        Ok(stream) => {
                            let _ = connections.send(stream);
                        }
                        // A client that gave up before we accepted it: not our failure.
                        Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => {}
                        Err(error) => return Err(error.into()),
                    }
                }
                Ok(())
            },
            move |_| interrupter.interrupt(),
        );

        // Stage 2: a thread per connection; once the listener is gone, wait for all of them.
        let (supervisor, on_drain, on_force) = (
            Arc::clone(&shared),
            Arc::clone(&shared),
            Arc::clone(&shared),
        );
        group
            .actor("connections")
            .stage(drain)
            .force(move || {
                on_force.forced.store(true, Ordering::SeqCst);
                on_force.release.notify_all();
                for stream in on_force.open.lock().unwrap().values() {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            })
            .add(
                move || {
                    let mut threads = Vec::new();
                    for stream in accepted {
                        let shared = Arc::clone(&supervisor);
                        threads.push(thread::spawn(move || serve(&shared, stream)));
                    }
                    for thread in threads {
                        let _ = thread.join();
                    }
                    Ok(())
                },
                move |_| on_drain.draining.store(true, Ordering::SeqCst),
            );

        // Stage 3: write the access log out once every request has finished.
        let flusher = Arc::clone(&shared);
        group
            .actor("access-log")
            .stage(flush)
            .add_token(move |token| {
                token.wait();
                let lines = std::mem::take(&mut *flusher.log.lock().unwrap());
                let mut file = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log_path)?;
                for line in &lines {
                    writeln!(file, "{line}")?;
                }
                file.sync_all()?;
                Ok(())
            });

        // Stage 4: the signals, last.
        group.add_signals(
            SignalSet::terminate().on_listening(move || println!("listening on http://{addr}")),
        );

        let report = group.run_with_report();
        println!("{report}");
        Ok(match report.into_result() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("server: {error}");
                ExitCode::FAILURE
            }
        })
    }

    /// Answers the requests of one connection until it closes (or must close).
    fn serve(shared: &Shared, stream: TcpStream) {
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "-".to_owned(), |peer| peer.to_string());
        if let Ok(clone) = stream.try_clone() {
            shared.open.lock().unwrap().insert(id, clone);
        }
        let _ = serve_requests(shared, &stream, &peer);
        shared.open.lock().unwrap().remove(&id);
    }

    fn serve_requests(shared: &Shared, stream: &TcpStream, peer: &str) -> io::Result<()> {
        let mut reader = BufReader::new(stream);
        let mut writer = stream;
        loop {
            let Some(request) = read_request(&mut reader)? else {
                return Ok(()); // the client closed the connection
            };
            let close = request.close || shared.draining.load(Ordering::SeqCst);
            let connection = if close { "close" } else { "keep-alive" };
            let status = match (request.method.as_str(), request.path.as_str()) {
                ("GET", "/") => respond(writer, 200, connection, "hello\n")?,
                ("GET", "/slow") => {
                    // The headers go out at once, the body once released: a request in flight.
                    let body = "released\n";
                    write!(
                        writer,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
                        body.len()
                    )?;
                    writer.flush()?;
                    let mut released = shared.released.lock().unwrap();
                    while !*released && !shared.forced.load(Ordering::SeqCst) {
                        released = shared.release.wait(released).unwrap();
                    }
                    drop(released);
                    writer.write_all(body.as_bytes())?;
                    200
                }
                ("GET", "/release") => {
                    *shared.released.lock().unwrap() = true;
                    shared.release.notify_all();
                    respond(writer, 200, connection, "ok\n")?
                }
                _ => respond(writer, 404, connection, "not found\n")?,
            };
            shared.log.lock().unwrap().push(format!(
                "{peer} \"{} {}\" {status}",
                request.method, request.path
            ));
            if close {
                return Ok(());
            }
        }
    }

    struct Request {
        method: String,
        path: String,
        close: bool,
    }

    /// Reads a request line and its headers; `None` at end of stream. Bodies are not supported.
    fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        );
        let mut close = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(None);
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("connection")
                    && value.trim().eq_ignore_ascii_case("close")
                {
                    close = true;
                }
            }
        }
        Ok(Some(Request {
            method,
            path,
            close,
        }))
    }

    fn respond(
        mut writer: &TcpStream,
        status: u16,
        connection: &str,
        body: &str,
    ) -> io::Result<u16> {
        let reason = if status == 200 { "OK" } else { "Not Found" };
        write!(
            writer,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             Connection: {connection}\r\n\r\n{body}",
            body.len()
        )?;
        writer.flush()?;
        Ok(status)
    }
}
