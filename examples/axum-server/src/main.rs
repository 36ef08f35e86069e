//! An async HTTP server (axum on a tokio current-thread runtime) as a rungroup *future actor*,
//! beside a blocking thread actor, torn down in stages on SIGTERM or SIGINT.
//!
//! ```sh
//! cargo run -p rungroup-axum-example
//! curl http://127.0.0.1:PORT/              # hello
//! curl -T - http://127.0.0.1:PORT/slow     # in flight until its upload ends (Ctrl-D)
//! kill -TERM <pid>                         # or Ctrl-C; a second one escalates, a third kills
//! ```
//!
//! The first line on stdout is `listening on http://ADDR`, printed once the signal handlers are
//! registered (so a supervisor that waits for it can signal at once). The group runs as a future
//! ([`Group::run_async_with_report`]) on the runtime `main` builds; the server is a future token
//! actor that the group polls inside that future, so it finds tokio's reactor, and
//! [`StopToken::stopped`] is the future that tells axum to shut down. On a signal, teardown runs
//! in stages:
//!
//! 0. `default` (grace 30 s), actor `http`: its token is stopped, which completes the future given
//!    to axum's `with_graceful_shutdown`: axum stops accepting, closes the idle connections and
//!    lets the requests in flight finish. When the grace expires (or a second signal arrives), the
//!    group drops the server's future (the actor ends `cancelled`), and the connections still
//!    open are cut when the runtime goes;
//! 1. `flush` (grace 5 s), actor `access-log`: a plain blocking thread that writes the lines the
//!    handlers send it, so it is stopped only once the last request in flight has logged its own;
//! 2. `signals`: the signal actor, listening until the end so a second signal can escalate.
//!
//! Then the report is printed, and the process exits with [`Report::exit_code`]: 143 (128 +
//! SIGTERM) after a clean teardown that SIGTERM began, 3 if the force hook had to run.
//!
//! [`StopToken::stopped`]: rungroup::StopToken::stopped
//! [`Group::run_async_with_report`]: rungroup::Group::run_async_with_report
//! [`Report::exit_code`]: rungroup::Report::exit_code

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    server::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("the axum-server example needs unix signals");
}

#[cfg(unix)]
mod server {
    use std::io::{self, BufWriter, Write};
    use std::net::TcpListener;
    use std::process::ExitCode;
    use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
    use std::time::Duration;

    use axum::Router;
    use axum::body;
    use axum::extract::{Request, State};
    use axum::http::StatusCode;
    use axum::middleware::{self, Next};
    use axum::response::Response;
    use axum::routing::{any, get};
    use rungroup::{BoxError, Event, Group, SignalSet, Stage, StopToken};

    /// What the handlers send the `access-log` actor; its interrupt sends `Stop`.
    enum Log {
        Line(String),
        Stop,
    }

    pub(crate) fn main() -> ExitCode {
        match run() {
            Ok(code) => ExitCode::from(code),
            Err(error) => {
                eprintln!("axum-server: {error}");
                ExitCode::FAILURE
            }
        }
    }

    fn run() -> io::Result<u8> {
        // Bound before the group runs (port 0: the kernel picks one), so the address is known
        // and connections queue from now on; tokio's `from_std` wants it non-blocking.
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (log, entries) = mpsc::channel();

        let mut group = Group::new();
        group.grace(Stage::DEFAULT, Duration::from_secs(30));
        let flush = group.stage("flush").grace(Duration::from_secs(5)).id();
        group.budget(Duration::from_secs(40));
        group.observe(|event| {
            if let Event::Triggered { cause } = event {
                println!("shutting down: {cause}");
            }
        });

        // Stage 0: the async server, a future actor. Its interrupt is the token's stop (graceful);
        // escalation drops it, giving up on the requests still in flight.
        let app = app(log.clone());
        group
            .actor("http")
            .add_future_token(move |token| serve(listener, app, token));

        // Stage 1: the access log, a blocking thread. Stopped by a message rather than by closing
        // the channel: every line sent before it is written first.
        group.actor("access-log").stage(flush).add(
            move || write_log(&entries),
            move |_| drop(log.send(Log::Stop)),
        );

        // Stage 2: the signals, last.
        group.add_signals(
            SignalSet::terminate().on_listening(move || println!("listening on http://{addr}")),
        );

        // The group's future, on a current-thread runtime: the future actors run on this
        // thread, the thread actors on their own.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let report = runtime.block_on(group.run_async_with_report());
        println!("{report}");
        Ok(report.exit_code())
    }

    /// The `http` actor: serves until `token` is stopped and the requests in flight are done.
    async fn serve(listener: TcpListener, app: Router, token: StopToken) -> Result<(), BoxError> {
        // Polled by the group inside the runtime's `block_on`: tokio's reactor is there.
        let listener = tokio::net::TcpListener::from_std(listener)?;
        // `stopped()` is runtime-free and `Send + 'static`: what `with_graceful_shutdown` wants.
        // Once it completes, axum stops accepting and waits for its connections.
        axum::serve(listener, app)
            .with_graceful_shutdown(token.stopped())
            .await?;
        Ok(())
    }

    fn app(log: Sender<Log>) -> Router {
        Router::new()
            .route("/", get(|| async { "hello\n" }))
            .route("/slow", any(slow))
            .layer(middleware::from_fn_with_state(log, access_log))
    }

    /// `/slow`: in flight until its client has sent the whole request body, which the client may
    /// hold back as long as it likes. A request whose end the client decides: a test can keep one
    /// in flight across a SIGTERM without sleeping, and release it by sending its last bytes.
    async fn slow(request: Request) -> (StatusCode, String) {
        println!("in flight: {} {}", request.method(), request.uri().path());
        match body::to_bytes(request.into_body(), 1 << 20).await {
            Ok(bytes) => (StatusCode::OK, format!("received {} bytes\n", bytes.len())),
            Err(error) => (StatusCode::BAD_REQUEST, format!("{error}\n")),
        }
    }

    /// Middleware: one access-log line per request, sent once its response is ready.
    async fn access_log(State(log): State<Sender<Log>>, request: Request, next: Next) -> Response {
        let line = format!("{} {}", request.method(), request.uri().path());
        let response = next.run(request).await;
        let _ = log.send(Log::Line(format!("{line} {}", response.status().as_u16())));
        response
    }

    /// The `access-log` actor's execute: writes the lines to stderr through a buffer, flushed
    /// whenever the channel is empty, until its interrupt's `Stop`; then prints the count.
    fn write_log(entries: &Receiver<Log>) -> Result<(), BoxError> {
        // Not `stderr().lock()`: held for the whole run, it would block every other writer to
        // stderr (a panic message, say) until the end.
        let mut out = BufWriter::new(io::stderr());
        let mut count = 0u64;
        loop {
            let entry = match entries.try_recv() {
                Ok(entry) => entry,
                Err(TryRecvError::Empty) => {
                    out.flush()?;
                    match entries.recv() {
                        Ok(entry) => entry,
                        Err(_) => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            match entry {
                Log::Line(line) => {
                    writeln!(out, "access: {line}")?;
                    count += 1;
                }
                Log::Stop => break,
            }
        }
        out.flush()?;
        println!("access log: {count} requests");
        Ok(())
    }
}
