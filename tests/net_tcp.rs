//! TCP on the reactor: echo under load (1,000 connections on two workers,
//! and on a current-thread runtime), half-close, peer reset, refused
//! connections, owned halves across tasks, the cooperative budget, accept
//! errors (EMFILE, provoked in a child process), and `Incoming`.
//!
//! Loopback only. Every test runs under a watchdog, so a lost wakeup is a
//! failure within seconds, not a hung test run.

use std::future::{poll_fn, Future};
use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use std::{panic, thread};

use corral::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use corral::net::{TcpListener, TcpStream};
use corral::Runtime;
use futures_util::StreamExt;

#[allow(dead_code)]
mod common;
use common::{current, multi, with_deadline};

// ---- helpers ---------------------------------------------------------------

const CHUNK: usize = 8 * 1024;

/// The bytes connection `id` sends: a slice of a fixed pattern (period 251,
/// a prime, so neighbouring connections and chunks differ), compared with
/// `==` so the check costs a memcmp even in debug builds.
fn pattern() -> &'static [u8] {
    static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| (0..256 * 1024 + 251).map(|i| (i % 251) as u8).collect())
}

fn expected(id: usize, offset: usize, len: usize) -> &'static [u8] {
    let start = id % 251 + offset;
    &pattern()[start..start + len]
}

/// Accepts forever, echoing each connection until the peer closes its
/// write side, then closing ours.
fn spawn_echo_server(listener: TcpListener) -> corral::task::JoinHandle<()> {
    corral::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.expect("accept");
            corral::spawn(async move {
                let (mut rd, mut wr) = TcpStream::split(&mut stream);
                corral::io::copy(&mut rd, &mut wr).await.expect("echo copy");
                wr.close().await.expect("echo close");
            });
        }
    })
}

/// Sends `size` bytes of connection `id`'s pattern, closes the write side,
/// and checks that exactly the same bytes come back.
async fn talk(id: usize, stream: TcpStream, size: usize) {
    let (mut rd, mut wr) = stream.into_split();
    let send = async move {
        let mut sent = 0;
        while sent < size {
            let n = CHUNK.min(size - sent);
            wr.write_all(expected(id, sent, n)).await.expect("client write");
            sent += n;
        }
        wr.close().await.expect("client close");
    };
    let receive = async move {
        let mut buf = vec![0; CHUNK];
        let mut got = 0;
        loop {
            let n = rd.read(&mut buf).await.expect("client read");
            if n == 0 {
                break;
            }
            assert!(
                got + n <= size,
                "connection {id}: more bytes came back than were sent"
            );
            assert!(
                buf[..n] == *expected(id, got, n),
                "connection {id}: corrupted echo at {got}"
            );
            got += n;
        }
        assert_eq!(got, size, "connection {id}: short echo");
    };
    futures_util::future::join(send, receive).await;
}

/// Opens `conns` connections to an echo server (all of them connected
/// before any data flows, so they really are concurrent), then runs every
/// conversation at once, each in its own task.
async fn echo_round(conns: usize, size: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn_echo_server(listener);
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        streams.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(id, s)| corral::spawn(talk(id, s, size)))
        .collect();
    for t in tasks {
        t.await.expect("client task");
    }
    server.abort();
}

// ---- echo under load ---------------------------------------------------------

#[test]
fn echo_1000_connections_64k_each_multi_thread() {
    with_deadline("echo_1000_multi_thread", 30, || {
        let start = Instant::now();
        multi(2).block_on(echo_round(1000, 64 * 1024));
        eprintln!("1000 x 64 KiB echoed in {:?}", start.elapsed());
    });
}

#[test]
fn echo_100_connections_64k_each_current_thread() {
    with_deadline("echo_100_current_thread", 30, || {
        current().block_on(echo_round(100, 64 * 1024));
    });
}

#[test]
fn echo_one_worker_many_small_writes() {
    with_deadline("echo_one_worker", 20, || {
        multi(1).block_on(echo_round(50, 3 * CHUNK + 17));
    });
}

// ---- connection lifecycle -------------------------------------------------------

#[test]
fn half_close_request_then_response() {
    with_deadline("half_close", 10, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = corral::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                stream.read_to_end(&mut request).await.unwrap(); // ends at the client's shutdown
                assert_eq!(request, b"request");
                stream.write_all(b"response to request").await.unwrap();
                // Dropped: closes the connection.
            });
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"request").await.unwrap();
            client.shutdown_with(Shutdown::Write).unwrap();
            // Writing after shutting the write side down is refused ...
            let err = client.write_all(b"more").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BrokenPipe);
            // ... but reading goes on.
            let mut response = String::new();
            client.read_to_string(&mut response).await.unwrap();
            assert_eq!(response, "response to request");
            server.await.unwrap();
        });
    });
}

/// Linux answers a close with unread data in the receive queue with a
/// reset (RST) instead of a FIN. What the client then observes, in order:
/// the pending read fails with `ConnectionReset` (ECONNRESET), a later read
/// is end-of-file (the error was consumed), and a write fails with
/// `BrokenPipe` (EPIPE).
#[test]
fn peer_reset_is_reported() {
    with_deadline("peer_reset", 10, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            client.write_all(b"never read").await.unwrap();
            let mut one = [0; 1];
            assert_eq!(server.peek(&mut one).await.unwrap(), 1); // in the server's queue
            drop(server); // unread data: RST

            let mut buf = [0; 16];
            let err = client.read(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
            assert_eq!(client.read(&mut buf).await.unwrap(), 0);
            let err = client.write_all(b"anyone?").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        });
    });
}

fn closed_port() -> SocketAddr {
    // Bound, then closed: nothing listens there now.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    with_deadline("connect_refused", 10, || {
        current().block_on(async {
            let addr = closed_port();
            let err = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
            // Through a literal string too, and with several addresses
            // (each tried; the last error is returned).
            let err = TcpStream::connect(addr.to_string()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
            let err = TcpStream::connect(&[closed_port(), addr][..]).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        });
    });
}

#[test]
fn connect_tries_each_address_in_turn() {
    with_deadline("connect_each", 10, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let open = listener.local_addr().unwrap();
            let stream = TcpStream::connect(&[closed_port(), open][..]).await.unwrap();
            assert_eq!(stream.peer_addr().unwrap(), open);
            // A host name goes through the resolver on the blocking pool.
            let stream = TcpStream::connect(("localhost", open.port())).await;
            if let Ok(stream) = stream {
                assert_eq!(stream.peer_addr().unwrap().port(), open.port());
            }
            let err = TcpStream::connect("not an address").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput); // no port: the resolver refuses it
            let none: &[SocketAddr] = &[];
            let err = TcpStream::connect(none).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        });
    });
}

#[test]
fn bind_in_use_address_fails_with_addr_in_use() {
    with_deadline("bind_in_use", 10, || {
        current().block_on(async {
            let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let err = TcpListener::bind(a.local_addr().unwrap()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse);
        });
    });
}

// ---- halves --------------------------------------------------------------------

#[test]
fn owned_halves_from_two_tasks_at_once() {
    with_deadline("owned_halves", 20, || {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let _server = spawn_echo_server(listener);
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut rd, mut wr) = stream.into_split();
            const TOTAL: usize = 256 * 1024;
            // The writer finishes and drops its half (shutting the write
            // side down) while the reader is still busy in another task.
            let writer = corral::spawn(async move {
                let mut sent = 0;
                while sent < TOTAL {
                    wr.write_all(expected(7, sent, CHUNK)).await.unwrap();
                    sent += CHUNK;
                }
            });
            let reader = corral::spawn(async move {
                let mut buf = vec![0; CHUNK];
                let mut got = 0;
                loop {
                    let n = rd.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    assert!(buf[..n] == *expected(7, got, n));
                    got += n;
                }
                got
            });
            writer.await.unwrap();
            // The server saw end-of-file (from the dropped write half) and
            // closed its side, so the reader's loop ends.
            assert_eq!(reader.await.unwrap(), TOTAL);
        });
    });
}

#[test]
fn dropping_the_owned_write_half_makes_the_peer_read_eof() {
    with_deadline("drop_write_half", 10, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            let (mut rd, mut wr) = client.into_split();
            wr.write_all(b"last words").await.unwrap();
            drop(wr);
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"last words");
            // The read half still works.
            server.write_all(b"reply").await.unwrap();
            let mut buf = [0; 5];
            rd.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"reply");
        });
    });
}

#[test]
fn reunite_gives_the_stream_back_without_shutting_down() {
    with_deadline("reunite", 10, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let a = TcpStream::connect(addr).await.unwrap();
            let b = TcpStream::connect(addr).await.unwrap();
            let (mut server_a, _) = listener.accept().await.unwrap();
            let (ra, wa) = a.into_split();
            let (rb, wb) = b.into_split();
            // Mismatched halves come back untouched.
            let err = ra.reunite(wb).unwrap_err();
            assert!(err.to_string().contains("not from the same"));
            let (ra, wb) = (err.0, err.1);
            let err = wb.reunite(ra).unwrap_err();
            let (ra, _wb) = (err.0, err.1);
            drop(rb);
            let mut a = wa.reunite(ra).unwrap();
            // Still open in both directions.
            a.write_all(b"still here").await.unwrap();
            let mut buf = [0; 10];
            server_a.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"still here");
            server_a.write_all(b"ok").await.unwrap();
            let mut buf = [0; 2];
            a.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ok");
        });
    });
}

#[test]
fn borrowed_split_and_shared_reference_io() {
    with_deadline("borrowed_split", 10, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            // `&TcpStream` reads and writes too.
            let echo = async {
                let (mut rd, mut wr) = (&server, &server);
                corral::io::copy(&mut rd, &mut wr).await.unwrap()
            };
            let talk = async {
                let (mut rd, mut wr) = TcpStream::split(&mut client);
                wr.write_all(b"through references").await.unwrap();
                wr.close().await.unwrap();
                let mut buf = vec![0; 18];
                rd.read_exact(&mut buf).await.unwrap();
                buf
            };
            let (copied, got) = futures_util::future::join(echo, talk).await;
            assert_eq!(copied, 18);
            assert_eq!(got, b"through references");
        });
    });
}

// ---- smaller API -----------------------------------------------------------------

#[test]
fn vectored_io_peek_readable_writable() {
    with_deadline("vectored", 10, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            client.writable().await.unwrap();
            let n = client
                .write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cde")])
                .await
                .unwrap();
            assert_eq!(n, 5);
            server.readable().await.unwrap();
            let mut peeked = [0; 5];
            let mut seen = 0;
            while seen < 5 {
                seen = server.peek(&mut peeked).await.unwrap(); // never consumes
            }
            assert_eq!(&peeked, b"abcde");
            let (mut x, mut y) = ([0; 3], [0; 2]);
            let mut read = 0;
            while read < 5 {
                let mut bufs = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
                let mut bufs = &mut bufs[..];
                IoSliceMut::advance_slices(&mut bufs, read);
                read += server.read_vectored(bufs).await.unwrap();
            }
            assert_eq!((&x, &y), (b"abc", b"de"));
            // Empty buffers complete at once, without waiting for data.
            assert_eq!(server.read(&mut []).await.unwrap(), 0);
            assert_eq!(server.write(&[]).await.unwrap(), 0);
        });
    });
}

#[test]
fn socket_options_addresses_and_std_conversions() {
    with_deadline("options", 10, || {
        current().block_on(async {
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            let addr = listener.local_addr().unwrap();
            let client = TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap();
            let (server, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
            assert_eq!(client.peer_addr().unwrap(), addr);
            client.set_nodelay(true).unwrap();
            assert!(client.nodelay().unwrap());
            client.set_ttl(33).unwrap();
            assert_eq!(client.ttl().unwrap(), 33);
            assert!(client.take_error().unwrap().is_none());
            assert!(format!("{client:?}").contains("TcpStream"));
            // Back to std, still connected.
            let mut std_client = client.into_std().unwrap();
            std_client.set_nonblocking(false).unwrap();
            std::io::Write::write_all(&mut std_client, b"std").unwrap();
            let mut server = server;
            let mut buf = [0; 3];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"std");
            let std_listener = listener.into_std().unwrap();
            assert_eq!(std_listener.local_addr().unwrap(), addr);
        });
    });
}

#[test]
fn incoming_yields_working_streams() {
    with_deadline("incoming", 10, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::new();
            for _ in 0..3 {
                clients.push(TcpStream::connect(addr).await.unwrap());
            }
            let mut incoming = listener.incoming();
            for (i, client) in clients.iter_mut().enumerate() {
                let mut server = incoming.next().await.unwrap().unwrap();
                assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
                server.write_all(&[i as u8]).await.unwrap();
                let mut b = [0; 1];
                client.read_exact(&mut b).await.unwrap();
                assert_eq!(b[0], i as u8);
            }
        });
    });
}

#[test]
fn sockets_need_a_runtime_and_fail_after_it_shuts_down() {
    // Outside a runtime: an error naming the fix, not a panic.
    let err = TcpStream::from_std(std::net::TcpStream::connect(spare_listener()).unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected);
    assert!(err.to_string().contains("runtime"), "{err}");
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut bind = std::pin::pin!(TcpListener::bind("127.0.0.1:0"));
    match bind.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::NotConnected),
        other => panic!("bind outside a runtime: {other:?}"),
    }

    with_deadline("after_shutdown", 10, || {
        let rt = current();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        drop(rt);
        // The listener's reactor is gone: accepting fails instead of
        // waiting forever.
        let err = current().block_on(listener.accept()).unwrap_err();
        assert!(err.to_string().contains("shut down"), "{err}");
    });
}

/// A std listener kept alive for the whole test run, for tests that only
/// need something to connect to.
fn spare_listener() -> SocketAddr {
    static L: std::sync::OnceLock<std::net::TcpListener> = std::sync::OnceLock::new();
    L.get_or_init(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .local_addr()
        .unwrap()
}

// ---- cooperative budget -------------------------------------------------------------

/// A reader task on a socket that always has data must still let other
/// tasks run: each completed read spends budget, and when it is spent the
/// read returns `Pending` (after waking its task) although data is there.
///
/// A std thread floods the connection; the reader reads 16 bytes at a time
/// in a loop that only ends when the other task has run (or after 5 s, a
/// failure). `forced_yields` counts reads that returned `Pending` while a
/// probe (a dup of the socket) saw data waiting: that is the budget at
/// work, not an empty socket.
fn reader_does_not_starve_neighbours(rt: Runtime) {
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let flooder = thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let block = vec![0x5a; 64 * 1024];
        // Until the reader hangs up (EPIPE / ECONNRESET).
        while std::io::Write::write_all(&mut s, &block).is_ok() {}
    });
    rt.block_on(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let probe = stream.std_probe();
        // Start with a full socket, so the reader cannot run dry before
        // the budget does.
        while !matches!(probe.peek(&mut [0; 64 * 1024]), Ok(n) if n == 64 * 1024) {
            thread::sleep(Duration::from_millis(1));
        }

        let done = Arc::new(AtomicBool::new(false));
        let forced_yields = Arc::new(AtomicU64::new(0));
        let reader = {
            let done = done.clone();
            let forced_yields = forced_yields.clone();
            corral::spawn(async move {
                let start = Instant::now();
                let mut stream = stream;
                let mut buf = [0u8; 16];
                let mut reads = 0u64;
                while !done.load(SeqCst) && start.elapsed() < Duration::from_secs(5) {
                    let n = poll_fn(|cx| match Pin::new(&mut stream).poll_read(cx, &mut buf) {
                        Poll::Pending => {
                            if matches!(probe.peek(&mut [0; 1]), Ok(1)) {
                                forced_yields.fetch_add(1, SeqCst);
                            }
                            Poll::Pending
                        }
                        ready => ready,
                    })
                    .await
                    .unwrap();
                    assert!(n > 0);
                    reads += 1;
                }
                (reads, start.elapsed())
            })
        };
        let neighbour = {
            let done = done.clone();
            corral::spawn(async move {
                // Several turns, so the reader must give way repeatedly.
                for _ in 0..10 {
                    corral::yield_now().await;
                }
                done.store(true, SeqCst);
            })
        };
        neighbour.await.unwrap();
        let (reads, took) = reader.await.unwrap();
        assert!(
            took < Duration::from_secs(5),
            "the neighbour only ran when the reader gave up"
        );
        assert!(reads > 0);
        assert!(
            forced_yields.load(SeqCst) > 0,
            "no read yielded while data was waiting"
        );
    });
    // The reader task dropped the socket: the flooder's writes now fail.
    flooder.join().unwrap();
}

trait StdProbe {
    /// A non-blocking std handle on the same socket, to peek without
    /// touching the reactor.
    fn std_probe(&self) -> std::net::TcpStream;
}

impl StdProbe for TcpStream {
    fn std_probe(&self) -> std::net::TcpStream {
        use std::os::fd::AsFd;
        let fd = self.as_fd().try_clone_to_owned().unwrap();
        std::net::TcpStream::from(fd)
    }
}

#[test]
fn reads_spend_the_budget_current_thread() {
    with_deadline("budget_current_thread", 15, || {
        reader_does_not_starve_neighbours(current())
    });
}

#[test]
fn reads_spend_the_budget_one_worker() {
    with_deadline("budget_one_worker", 15, || {
        reader_does_not_starve_neighbours(multi(1))
    });
}

// ---- accept errors ------------------------------------------------------------------

const EMFILE: i32 = 24;
const CHILD: &str = "CORRAL_NET_TCP_EMFILE_CHILD";

/// An accept that fails (here: EMFILE, out of file descriptors) is
/// returned as an error and the listener keeps working: once descriptors
/// are free again, the same queued connection is accepted, through
/// `accept` and through `Incoming`.
///
/// Exhausting the descriptor table would break every other test in this
/// process, so the test re-runs itself in a child process (this binary,
/// filtered to this test, with `CHILD` set). The child lowers its own
/// soft `RLIMIT_NOFILE` with `prlimit(1)` when available (no libc needed),
/// then fills the table by duplicating a descriptor.
#[test]
fn accept_error_is_returned_and_the_listener_keeps_working() {
    if std::env::var_os(CHILD).is_some() {
        return emfile_child();
    }
    with_deadline("emfile_parent", 30, || {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "accept_error_is_returned_and_the_listener_keeps_working",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{stderr}");
        if stderr.contains("EMFILE-SKIPPED") {
            eprintln!("not tested: {stderr}");
            return;
        }
        assert!(
            stderr.contains("EMFILE-CHECKED"),
            "child did not run the check:\n{stderr}"
        );
        eprintln!("child process: accept failed with EMFILE, then worked");
    });
}

fn fd_soft_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn emfile_child() {
    // Keep the table small so filling it is quick.
    let _ = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg("--nofile=256:")
        .status();
    match fd_soft_limit() {
        Some(n) if n <= 1 << 20 => {}
        other => {
            eprintln!("EMFILE-SKIPPED: descriptor limit {other:?} too large to exhaust");
            return;
        }
    }
    current().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let c1 = std::net::TcpStream::connect(addr).unwrap();
        let c2 = std::net::TcpStream::connect(addr).unwrap();

        let base = std::fs::File::open("/dev/null").unwrap();
        let fill = || {
            let mut hoard = Vec::new();
            loop {
                match base.try_clone() {
                    Ok(f) => hoard.push(f),
                    Err(e) if e.raw_os_error() == Some(EMFILE) => return hoard,
                    Err(e) => panic!("filling the descriptor table: {e}"),
                }
            }
        };

        let hoard = fill();
        let err = listener.accept().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(EMFILE), "{err}");
        drop(hoard);
        let (_s1, peer) = listener.accept().await.expect("accept after EMFILE");
        assert_eq!(peer, c1.local_addr().unwrap());

        let mut incoming = listener.incoming();
        let hoard = fill();
        let err = incoming.next().await.unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(EMFILE));
        drop(hoard);
        let s2 = incoming.next().await.unwrap().expect("incoming after EMFILE");
        assert_eq!(s2.peer_addr().unwrap(), c2.local_addr().unwrap());
    });
    eprintln!("EMFILE-CHECKED");
}

// ---- types -------------------------------------------------------------------------

#[test]
fn futures_and_types_are_send_sync() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TcpListener>();
    send_sync::<TcpStream>();
    send_sync::<corral::net::tcp::OwnedReadHalf>();
    send_sync::<corral::net::tcp::OwnedWriteHalf>();
    send_sync::<corral::net::tcp::ReuniteError>();
    send_sync::<corral::net::tcp::Incoming<'static>>();
    current().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        send(&TcpListener::bind("127.0.0.1:0"));
        send(&TcpStream::connect("127.0.0.1:1"));
        send(&TcpStream::connect(("localhost", 1)));
        send(&listener.accept());
        send(&stream.peek(&mut []));
        send(&stream.readable());
        send(&stream.writable());
    });
}

/// Two tasks accepting on one listener: each gets a connection. Before,
/// the listener kept one waker and the first accepter hung.
#[test]
fn two_accepters_on_one_listener_both_get_a_connection() {
    for (name, rt) in [("current", current()), ("multi", multi(2))] {
        with_deadline(&format!("two-accepters-{name}"), 20, move || {
            rt.block_on(async {
                let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
                let accepters: Vec<_> = (0..2)
                    .map(|_| {
                        let listener = listener.clone();
                        corral::spawn(async move { listener.accept().await.unwrap().0 })
                    })
                    .collect();
                corral::time::sleep(Duration::from_millis(50)).await;
                let addr = listener.local_addr().unwrap();
                let _c1 = std::net::TcpStream::connect(addr).unwrap();
                let _c2 = std::net::TcpStream::connect(addr).unwrap();
                for a in accepters {
                    corral::time::timeout(Duration::from_secs(5), a)
                        .await
                        .expect("an accepter was never woken with a connection waiting")
                        .unwrap();
                }
            });
        });
    }
}

/// Two tasks reading one stream through `&TcpStream`: both are woken, and
/// each takes one of the two bytes sent. Before, one hung.
#[test]
fn two_readers_on_one_stream_are_both_woken() {
    for (name, rt) in [("current", current()), ("multi", multi(2))] {
        with_deadline(&format!("two-readers-{name}"), 20, move || {
            rt.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
                let server = Arc::new(listener.accept().await.unwrap().0);
                let readers: Vec<_> = (0..2)
                    .map(|_| {
                        let server = server.clone();
                        corral::spawn(async move {
                            let mut buf = [0; 1];
                            (&*server).read_exact(&mut buf).await.unwrap();
                            buf[0]
                        })
                    })
                    .collect();
                corral::time::sleep(Duration::from_millis(50)).await;
                client.write_all(b"ab").await.unwrap();
                let mut got = Vec::new();
                for r in readers {
                    got.push(
                        corral::time::timeout(Duration::from_secs(5), r)
                            .await
                            .expect("a reader was never woken with data waiting")
                            .unwrap(),
                    );
                }
                got.sort();
                assert_eq!(got, b"ab");
            });
        });
    }
}
