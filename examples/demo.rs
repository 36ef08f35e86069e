//! A small, real service run by a `rungroup::Group`, ending by itself with a staged teardown.
//!
//! - `accept` stage: a TCP listener on 127.0.0.1 (port 0) hands each connection to the workers,
//!   and a client sends a few requests, reads the answers, and exits: that first exit triggers
//!   teardown.
//! - `drain` stage: two workers answer requests from a channel; once the listener is gone the
//!   channel closes and they finish what is in flight.
//! - `flush` stage: an access-log flusher that writes out once every worker is gone, and a metrics
//!   pusher that ignores its interrupt: its stage's grace expires, its force hook releases it.
//!
//! Run it with `cargo run --example demo`. It prints every lifecycle event, each interrupt, each
//! actor's exit, and the final report, in well under a second.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rungroup::io::Acceptor;
use rungroup::{Group, Policy};

const REQUESTS: u32 = 5;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let started = Instant::now();
    let log =
        move |line: &str| println!("[{:>7.3} ms] {line}", started.elapsed().as_secs_f64() * 1e3);

    let mut group = Group::new();
    group.observe(move |event| log(&format!("event: {event}")));
    // Stage::DEFAULT is the first stage torn down; name the others in teardown order.
    let drain = group.stage("drain").id();
    let flush = group.stage("flush").grace(Duration::from_millis(200)).id();

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("demo: listening on {addr}");
    let (jobs_tx, jobs_rx) = mpsc::channel::<TcpStream>();
    let jobs_rx = Arc::new(Mutex::new(jobs_rx));
    let (log_tx, log_rx) = mpsc::channel::<String>();

    // accept: the listener. std cannot interrupt `accept`; rungroup's `Acceptor` can (its
    // interrupter sets a sticky flag and connects to the listener to wake it).
    let acceptor = Acceptor::new(listener)?;
    let interrupter = acceptor.interrupter();
    group.actor("listener").add(
        move || {
            for stream in acceptor.incoming() {
                // Dropping `jobs_tx` when this loop ends closes the workers' channel.
                jobs_tx.send(stream?).map_err(|_| "workers gone")?;
            }
            println!("demo: listener stopped accepting");
            Ok(())
        },
        move |cause| {
            println!("demo: interrupt listener (cause: {cause})");
            interrupter.interrupt();
        },
    );

    // accept: the client, whose clean exit is the first exit.
    group.actor("client").add(
        move || {
            for n in 1..=REQUESTS {
                let mut stream = TcpStream::connect(addr)?;
                writeln!(stream, "job {n}")?;
                let mut answer = String::new();
                BufReader::new(stream).read_line(&mut answer)?;
                println!("demo: client got {:?}", answer.trim_end());
            }
            println!("demo: client done, exiting");
            Ok(())
        },
        |_| println!("demo: interrupt client (already gone)"),
    );

    // drain: two workers. Their interrupt has nothing to do: the channel closes when the listener
    // exits, and they finish what was already handed to them.
    for id in 1..=2 {
        let jobs = Arc::clone(&jobs_rx);
        let log_tx = log_tx.clone();
        group.actor(format!("worker-{id}")).stage(drain).add(
            move || {
                loop {
                    let next = jobs.lock().map_err(|_| "poisoned")?.recv();
                    let Ok(stream) = next else { break };
                    let mut line = String::new();
                    BufReader::new(&stream).read_line(&mut line)?;
                    let line = line.trim_end().to_owned();
                    writeln!(&stream, "done {line} by worker-{id}")?;
                    let _ = log_tx.send(format!("worker-{id} served {line:?}"));
                }
                println!("demo: worker-{id} drained");
                Ok(())
            },
            move |_| println!("demo: interrupt worker-{id} (it drains the closed queue)"),
        );
    }
    drop(log_tx);

    // flush: the access log, written once every worker has dropped its sender.
    group.actor("log-flusher").stage(flush).add(
        move || {
            let lines: Vec<String> = log_rx.iter().collect();
            for line in &lines {
                println!("demo: access log: {line}");
            }
            println!("demo: flushed {} access-log lines", lines.len());
            Ok(())
        },
        |_| println!("demo: interrupt log-flusher (it flushes when the workers are gone)"),
    );

    // flush: an actor that ignores its interrupt. Its stage's grace expires, and its force hook
    // (what would close a socket or kill a child) releases it.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    group
        .actor("metrics-pusher")
        .stage(flush)
        .policy(Policy::OnError)
        .force(move || {
            println!("demo: force metrics-pusher (grace expired)");
            let _ = release_tx.send(());
        })
        .add(
            move || {
                let _ = release_rx.recv();
                println!("demo: metrics-pusher released by its force hook");
                Ok(())
            },
            |_| println!("demo: interrupt metrics-pusher (ignored, on purpose)"),
        );

    let report = group.run_with_report();
    println!("\n{report}\n");
    // A service would end with `std::process::exit(report.exit_code().into())`: here 3, since
    // metrics-pusher only returned once escalated (work it held may be lost). The demo shows that
    // on purpose, so it reports it and exits 0.
    println!(
        "demo: a service would exit with status {}",
        report.exit_code()
    );
    match report.into_result() {
        Err(error)
            if error
                .downcast_ref::<rungroup::Error>()
                .is_some_and(|error| matches!(error, rungroup::Error::Escalated { .. })) =>
        {
            println!("demo: run returned the escalation, as intended: {error}");
            Ok(())
        }
        other => {
            println!("demo: run returned {other:?}");
            other
        }
    }
}
