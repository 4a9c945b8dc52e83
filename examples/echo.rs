//! A TCP echo server and a crowd of clients in one process.
//!
//! The server listens on 127.0.0.1 (a free port) and runs one task per
//! connection, echoing until the client shuts its write side down. The
//! clients connect concurrently and all talk at once; each sends
//! line-framed messages, checks every echo, then closes and expects
//! end-of-file back.
//!
//! Run it with `cargo run --release --example echo` (optionally
//! `-- CLIENTS MESSAGES`; 100 and 100 by default).
//!
//! The listener's backlog is 1024 on Linux (128 elsewhere): `-- 1000`
//! connects a thousand clients at once.

use corral::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use corral::net::{TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

#[corral::main]
async fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let clients = args.next().unwrap_or(Ok(100)).expect("CLIENTS must be a number");
    let messages = args.next().unwrap_or(Ok(100)).expect("MESSAGES must be a number");

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = corral::spawn(serve(listener));

    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|id| corral::spawn(client(addr, id, messages)))
        .collect();
    let mut bytes = 0;
    for task in tasks {
        bytes += task.await??; // a JoinError converts into io::Error
    }
    let elapsed = started.elapsed();
    server.abort();

    let round_trips = clients * messages;
    println!(
        "echo server on {addr}: {clients} concurrent clients x {messages} messages = {round_trips} round trips, \
         {bytes} bytes echoed and checked in {elapsed:.2?} ({:.0} round trips/s)",
        round_trips as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// Accepts forever. A failed accept (out of descriptors, a connection
/// aborted while queued) concerns that one attempt: report it and go on.
async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                corral::spawn(async move {
                    if let Err(e) = echo(stream).await {
                        eprintln!("connection from {peer}: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
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
