//! A TCP echo server and a crowd of clients in one process, with a clean
//! shutdown on Ctrl-C.
//!
//! The server listens on 127.0.0.1 (a free port) and runs one task per
//! connection, echoing until the client shuts its write side down. The
//! clients connect concurrently and all talk at once; each sends
//! line-framed messages, checks every echo, then closes and expects
//! end-of-file back.
//!
//! Run it with `cargo run --release --example echo` (optionally
//! `-- CLIENTS MESSAGES`; 100 and 100 by default), or as a plain server
//! with `-- serve [PORT]` (try `nc 127.0.0.1 PORT`).
//!
//! Shutdown, on Ctrl-C or when the clients are done: the server stops
//! accepting (the listener is dropped), gives the open connections a grace
//! period to finish, cancels the ones still open, and prints what happened.
//!
//! The listener's backlog is 1024 on Linux (128 elsewhere): `-- 1000`
//! connects a thousand clients at once.

use corral::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use corral::net::{TcpListener, TcpStream};
use corral::signal::unix::{signal, SignalKind};
use corral::task::JoinHandle;
use futures_util::future::{select, Either};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::{Duration, Instant};

/// How long open connections may take to finish once shutdown starts.
const GRACE: Duration = Duration::from_secs(2);

#[corral::main]
async fn main() -> io::Result<()> {
    // Listen for Ctrl-C from the start (this also stops Ctrl-C from
    // killing the process outright: we shut down instead).
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut args = std::env::args().skip(1).peekable();
    let serve_only = args.peek().is_some_and(|a| a == "serve");
    let mut args = args.skip(usize::from(serve_only)).map(|a| a.parse::<usize>());

    let port = if serve_only {
        args.next().unwrap_or(Ok(0)).expect("PORT must be a number")
    } else {
        0
    };
    let listener = TcpListener::bind((
        "127.0.0.1",
        u16::try_from(port).expect("PORT must fit in 16 bits"),
    ))
    .await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = futures_channel::oneshot::channel::<()>();
    let server = corral::spawn(serve(listener, async {
        let _ = stop_rx.await;
    }));

    if serve_only {
        println!("echo server on {addr}; Ctrl-C to stop");
        interrupt.recv().await;
        println!("Ctrl-C: shutting down");
    } else {
        let clients = args.next().unwrap_or(Ok(100)).expect("CLIENTS must be a number");
        let messages = args.next().unwrap_or(Ok(100)).expect("MESSAGES must be a number");
        let run = pin!(run_clients(addr, clients, messages));
        match select(run, pin!(interrupt.recv())).await {
            Either::Left((result, _)) => result?,
            Either::Right(_) => println!("Ctrl-C: stopping the clients and shutting down"),
        }
    }

    let _ = stop_tx.send(());
    let (finished, cancelled) = server.await?;
    println!(
        "server stopped: no longer accepting; {finished} connections finished, \
         {cancelled} cancelled after the {GRACE:?} grace period"
    );
    Ok(())
}

/// Runs the clients at once and prints the figures.
async fn run_clients(addr: SocketAddr, clients: usize, messages: usize) -> io::Result<()> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|id| corral::spawn(client(addr, id, messages)))
        .collect();
    let mut bytes = 0;
    for task in tasks {
        bytes += task.await??; // a JoinError converts into io::Error
    }
    let elapsed = started.elapsed();
    let round_trips = clients * messages;
    println!(
        "echo server on {addr}: {clients} concurrent clients x {messages} messages = {round_trips} round trips, \
         {bytes} bytes echoed and checked in {elapsed:.2?} ({:.0} round trips/s)",
        round_trips as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// Accepts until `stop` completes, then drops the listener, waits up to
/// [`GRACE`] for the open connections and cancels the rest. Returns how
/// many connections finished and how many were cancelled.
///
/// A failed accept (out of descriptors, a connection aborted while
/// queued) concerns that one attempt: report it and go on.
async fn serve(listener: TcpListener, stop: impl Future<Output = ()>) -> (usize, usize) {
    let mut stop = pin!(stop);
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    let mut finished = 0;
    loop {
        match select(pin!(listener.accept()), stop.as_mut()).await {
            Either::Left((Ok((stream, peer)), _)) => {
                // Forget the connections that are over (keeps the list short).
                let before = connections.len();
                connections.retain(|c| !c.is_finished());
                finished += before - connections.len();
                connections.push(corral::spawn(async move {
                    if let Err(e) = echo(stream).await {
                        eprintln!("connection from {peer}: {e}");
                    }
                }));
            }
            Either::Left((Err(e), _)) => eprintln!("accept failed: {e}"),
            Either::Right(((), _)) => break,
        }
    }
    drop(listener); // new connections are refused from here on

    let deadline = corral::time::Instant::now() + GRACE;
    let mut cancelled = 0;
    for mut connection in connections {
        match corral::time::timeout_at(deadline, &mut connection).await {
            Ok(_) => finished += 1,
            Err(_) => {
                connection.abort();
                cancelled += 1;
            }
        }
    }
    (finished, cancelled)
}

/// Copies what comes in back out until end-of-file, then closes our side.
async fn echo(mut stream: TcpStream) -> io::Result<u64> {
    let (mut rd, mut wr) = TcpStream::split(&mut stream);
    let copied = corral::io::copy(&mut rd, &mut wr).await?;
    wr.close().await?;
    Ok(copied)
}

/// One client: `messages` lines out, each echo checked; returns the bytes
/// echoed.
async fn client(addr: SocketAddr, id: usize, messages: usize) -> io::Result<usize> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?; // one small line per round trip: don't wait to coalesce
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = String::new();
    let mut bytes = 0;
    for m in 0..messages {
        let msg = format!("client {id} says hello #{m}\n");
        wr.write_all(msg.as_bytes()).await?;
        line.clear();
        rd.read_line(&mut line).await?;
        if line != msg {
            let what = format!("client {id}: sent {msg:?}, got back {line:?}");
            return Err(io::Error::new(io::ErrorKind::InvalidData, what));
        }
        bytes += msg.len();
    }
    drop(wr); // shuts our write side down: the server sees end-of-file and closes
    let mut rest = Vec::new();
    rd.read_to_end(&mut rest).await?;
    if !rest.is_empty() {
        let what = format!("client {id}: {} unexpected bytes after the last echo", rest.len());
        return Err(io::Error::new(io::ErrorKind::InvalidData, what));
    }
    Ok(bytes)
}
