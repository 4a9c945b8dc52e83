//! A TCP chat server on `corral::sync::{broadcast, mpsc}`.
//!
//! ```sh
//! cargo run --release --example chat                 # listens on 127.0.0.1:7878
//! cargo run --release --example chat -- --addr 0.0.0.0:9000
//! nc 127.0.0.1 7878                                  # in a few other terminals
//! cargo run --release --example chat -- --demo       # server + 3 scripted clients, checked
//! ```
//!
//! Each client picks a name, then every line it types goes to everyone
//! else; joins and leaves are announced. Ctrl-C shuts the server down
//! cleanly: every client is told, and its connection is closed.
//!
//! How it is built:
//!
//! - One **room** task owns the state (who is online) and the
//!   [`broadcast::Sender`]. Connections talk to it through an
//!   [`mpsc`] channel of [`Command`]s, so the state needs no lock.
//! - The room turns each command into an [`Event`] and broadcasts it. Each
//!   connection has a [`broadcast::Receiver`] (subscribed when it joins) and
//!   a writer task that forwards every event except its own lines.
//! - A writer that falls more than [`HISTORY`] events behind (a client
//!   that does not read) gets `RecvError::Lagged(n)`: it tells its client
//!   how many messages it missed and carries on. A slow client never slows
//!   the room or the other clients down.
//! - Shutdown: the room announces it and drops its sender; every writer
//!   sees `RecvError::Closed` after the last event, and closes its socket.

use corral::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use corral::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use corral::net::{TcpListener, TcpStream};
use corral::sync::broadcast::{self, error::RecvError};
use corral::sync::{mpsc, oneshot};
use futures_util::future::{select, Either};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

/// Events the room keeps for slow readers; a writer further behind lags.
const HISTORY: usize = 64;

/// What a connection asks of the room.
enum Command {
    /// Join under `name`; the reply is the receiver of every event from
    /// now on, or `Err` if the name is taken.
    Join {
        id: u64,
        name: String,
        reply: oneshot::Sender<Result<broadcast::Receiver<Event>, String>>,
    },
    /// A line typed by client `id`.
    Say { id: u64, text: String },
    /// Client `id` disconnected.
    Leave { id: u64 },
}

/// What the room broadcasts. `Arc<str>` makes the 16 clones per event
/// cheap.
#[derive(Clone, Debug)]
enum Event {
    Joined {
        name: Arc<str>,
    },
    Said {
        from: u64,
        name: Arc<str>,
        text: Arc<str>,
    },
    Left {
        name: Arc<str>,
    },
    ShuttingDown,
}

impl Event {
    /// The line a client sees; `None` for its own messages.
    fn render(&self, me: u64) -> Option<String> {
        match self {
            Event::Joined { name } => Some(format!("* {name} joined\n")),
            Event::Said { from, .. } if *from == me => None,
            Event::Said { name, text, .. } => Some(format!("{name}: {text}\n")),
            Event::Left { name } => Some(format!("* {name} left\n")),
            Event::ShuttingDown => Some("* server shutting down, bye\n".to_string()),
        }
    }
}

#[corral::main]
async fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:7878".to_string();
    let mut demo_mode = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => match args.next() {
                Some(a) => addr = a,
                None => usage("--addr needs an address, e.g. 127.0.0.1:7878"),
            },
            "--demo" => demo_mode = true,
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if demo_mode {
        return demo().await;
    }
    let listener = TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    println!(
        "chat server on {local}; connect with `nc {} {}`; Ctrl-C to stop",
        local.ip(),
        local.port()
    );
    serve(listener, async {
        let _ = corral::signal::ctrl_c().await;
        println!("Ctrl-C: shutting down");
    })
    .await;
    println!("server stopped");
    Ok(())
}

/// Explains the command line on stderr and exits with status 2.
fn usage(problem: &str) -> ! {
    eprintln!("chat: {problem}\nusage: chat [--addr HOST:PORT] [--demo]");
    std::process::exit(2)
}

/// Runs the room and accepts connections until `stop` completes; then
/// the room says goodbye and every connection closes.
async fn serve(listener: TcpListener, stop: impl std::future::Future<Output = ()>) {
    let (commands, inbox) = mpsc::channel(256);
    let (events, _) = broadcast::channel(HISTORY);
    let room = corral::spawn(room(inbox, events.clone()));
    let mut connections = Vec::new();
    let mut next_id = 0;
    let mut stop = pin!(stop);
    loop {
        match select(pin!(listener.accept()), stop.as_mut()).await {
            Either::Left((Ok((stream, peer)), _)) => {
                next_id += 1;
                let commands = commands.clone();
                connections.push(corral::spawn(async move {
                    if let Err(e) = connection(stream, next_id, commands).await {
                        eprintln!("{peer}: {e}");
                    }
                }));
                connections.retain(|c| !c.is_finished());
            }
            Either::Left((Err(e), _)) => eprintln!("accept failed: {e}"),
            Either::Right(((), _)) => break,
        }
    }
    drop(listener);
    // The room announces the shutdown and drops its sender: every writer
    // forwards the announcement, then sees `Closed` and ends its
    // connection. Readers still blocked on their sockets end with it.
    let _ = events.send(Event::ShuttingDown);
    drop(events);
    drop(commands);
    room.abort();
    for c in connections {
        if corral::time::timeout(Duration::from_secs(2), c).await.is_err() {
            eprintln!("a connection did not close in time");
        }
    }
}

/// The room: the only owner of "who is online". Ends when every
/// connection and the server have dropped their command senders (or is
/// aborted at shutdown).
async fn room(mut inbox: mpsc::Receiver<Command>, events: broadcast::Sender<Event>) {
    let mut online: BTreeMap<u64, Arc<str>> = BTreeMap::new();
    while let Some(command) = inbox.recv().await {
        match command {
            Command::Join { id, name, reply } => {
                if online.values().any(|n| **n == *name) {
                    let _ = reply.send(Err(format!("the name {name:?} is taken, pick another")));
                    continue;
                }
                // Subscribe before announcing, so the newcomer sees its own
                // join (and nothing from before it).
                let rx = events.subscribe();
                let name: Arc<str> = name.into();
                online.insert(id, name.clone());
                let _ = events.send(Event::Joined { name });
                let _ = reply.send(Ok(rx));
            }
            Command::Say { id, text } => {
                if let Some(name) = online.get(&id) {
                    let _ = events.send(Event::Said {
                        from: id,
                        name: name.clone(),
                        text: text.into(),
                    });
                }
            }
            Command::Leave { id } => {
                if let Some(name) = online.remove(&id) {
                    let _ = events.send(Event::Left { name });
                }
            }
        }
    }
}

/// One client: asks its name, joins, then reads lines (sent to the room)
/// while its writer task forwards the room's events.
async fn connection(stream: TcpStream, id: u64, commands: mpsc::Sender<Command>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd);
    let rx = loop {
        wr.write_all(b"welcome to corral chat! your name?\n").await?;
        let Some(name) = read_line(&mut lines).await? else {
            return Ok(()); // gone before picking a name
        };
        if name.is_empty() {
            continue;
        }
        let (reply, answer) = oneshot::channel();
        if commands.send(Command::Join { id, name, reply }).await.is_err() {
            return Ok(()); // shutting down
        }
        match answer.await {
            Ok(Ok(rx)) => break rx,
            Ok(Err(why)) => wr.write_all(format!("{why}\n").as_bytes()).await?,
            Err(_) => return Ok(()),
        }
    };
    let writer = corral::spawn(forward(rx, wr, id));
    // Whichever ends first ends the connection: the client hanging up (the
    // reader) or the room closing (the writer).
    match select(pin!(read_lines(lines, id, &commands)), writer).await {
        Either::Left((result, writer)) => {
            let _ = commands.send(Command::Leave { id }).await;
            writer.abort();
            result
        }
        Either::Right((written, _reader)) => written.map_err(io::Error::other)?,
    }
}

/// Sends each line the client types to the room, until end-of-file.
async fn read_lines(
    mut lines: BufReader<OwnedReadHalf>,
    id: u64,
    commands: &mpsc::Sender<Command>,
) -> io::Result<()> {
    while let Some(text) = read_line(&mut lines).await? {
        if !text.is_empty() && commands.send(Command::Say { id, text }).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Writes the room's events to the client (except its own lines); tells
/// it when it fell behind; closes the socket when the room closes.
async fn forward(mut rx: broadcast::Receiver<Event>, mut wr: OwnedWriteHalf, me: u64) -> io::Result<()> {
    loop {
        let line = match rx.recv().await {
            Ok(event) => match event.render(me) {
                Some(line) => line,
                None => continue,
            },
            Err(RecvError::Lagged(n)) => format!("* you were too slow and missed {n} messages\n"),
            Err(RecvError::Closed) => break,
        };
        wr.write_all(line.as_bytes()).await?;
    }
    wr.shutdown().await
}

/// One line without its end-of-line, or `None` at end-of-file.
async fn read_line<R: corral::io::AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<String>> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

// ---------------------------------------------------------------------------
// --demo: the server and three scripted clients in one process.

/// A scripted client: writes lines, and checks what it reads.
struct Client {
    name: &'static str,
    lines: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr, name: &'static str) -> io::Result<Client> {
        let (rd, wr) = TcpStream::connect(addr).await?.into_split();
        let mut c = Client {
            name,
            lines: BufReader::new(rd),
            wr,
        };
        c.expect("welcome to corral chat! your name?").await?;
        c.say(name).await?;
        c.expect(&format!("* {name} joined")).await?;
        Ok(c)
    }

    async fn say(&mut self, text: &str) -> io::Result<()> {
        if text != self.name {
            println!("  {:>5} > {text}", self.name);
        }
        self.wr.write_all(format!("{text}\n").as_bytes()).await
    }

    /// Reads the next line and checks it is `want` (within 5 s).
    async fn expect(&mut self, want: &str) -> io::Result<()> {
        let got = corral::time::timeout(Duration::from_secs(5), read_line(&mut self.lines))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{}: waited for {want:?}", self.name),
                )
            })??;
        match got {
            Some(line) if line == want => {
                println!("  {:>5} < {line}", self.name);
                Ok(())
            }
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} expected {want:?}, got {other:?}", self.name),
            )),
        }
    }
}

async fn demo() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("chat demo: server on {addr}, three clients (> typed, < received)");
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = corral::spawn(serve(listener, async {
        let _ = stop_rx.await;
    }));

    let mut alice = Client::connect(addr, "alice").await?;
    let mut bob = Client::connect(addr, "bob").await?;
    alice.expect("* bob joined").await?;
    let mut carol = Client::connect(addr, "carol").await?;
    alice.expect("* carol joined").await?;
    bob.expect("* carol joined").await?;

    // A taken name is refused.
    let (rd, mut wr) = TcpStream::connect(addr).await?.into_split();
    let mut imposter = BufReader::new(rd);
    read_line(&mut imposter).await?; // the prompt
    wr.write_all(b"alice\n").await?;
    let refused = read_line(&mut imposter).await?.unwrap_or_default();
    assert_eq!(refused, "the name \"alice\" is taken, pick another");
    println!("  (a fourth client asking for \"alice\" is told: {refused})");
    drop((imposter, wr)); // hangs up before joining: nobody hears of it

    alice.say("hi all").await?;
    bob.expect("alice: hi all").await?;
    carol.expect("alice: hi all").await?;
    bob.say("hey alice, how is the runtime?").await?;
    alice.expect("bob: hey alice, how is the runtime?").await?;
    carol.expect("bob: hey alice, how is the runtime?").await?;
    carol.say("fast. gotta go").await?;
    alice.expect("carol: fast. gotta go").await?;
    bob.expect("carol: fast. gotta go").await?;
    drop(carol); // hangs up
    alice.expect("* carol left").await?;
    bob.expect("* carol left").await?;

    // Shut the server down: both remaining clients are told, then closed.
    let _ = stop_tx.send(());
    for c in [&mut alice, &mut bob] {
        c.expect("* server shutting down, bye").await?;
        let end = read_line(&mut c.lines).await?;
        assert!(
            end.is_none(),
            "{}: the server should have closed the connection",
            c.name
        );
    }
    server.await.map_err(io::Error::other)?;
    println!("chat demo: every client got exactly what it should; server stopped cleanly");
    Ok(())
}
