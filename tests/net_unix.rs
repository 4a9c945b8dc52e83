//! Unix-domain streams on the reactor: a listener at a temp-dir path
//! echoing many clients, `pair`, half-close, owned halves from two tasks,
//! `reunite`, `Incoming`, and the errors of `bind` and `connect`.
//!
//! Socket files live in `std::env::temp_dir()` under unique names and are
//! removed by a guard, even when a test fails. Every test runs under a
//! watchdog.

#![cfg(unix)]

use std::io::ErrorKind;
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use corral::io::{AsyncReadExt, AsyncWriteExt};
use corral::net::{UnixListener, UnixStream};
use futures_util::StreamExt;

#[allow(dead_code)]
mod common;
use common::{current, multi, with_deadline};

/// A unique socket path in the temp dir, removed on drop.
struct SockPath(PathBuf);

impl SockPath {
    fn new(tag: &str) -> SockPath {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "corral-net-unix-{}-{}-{tag}.sock",
            std::process::id(),
            N.fetch_add(1, SeqCst)
        );
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        SockPath(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SockPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn listener_echoes_many_clients() {
    with_deadline("unix_echo", 20, || {
        let sock = SockPath::new("echo");
        let path = sock.path().to_owned();
        multi(2).block_on(async move {
            let listener = UnixListener::bind(&path).unwrap();
            assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
            let server = corral::spawn(async move {
                loop {
                    let (mut stream, peer) = listener.accept().await.unwrap();
                    assert!(peer.is_unnamed());
                    corral::spawn(async move {
                        let (mut rd, mut wr) = UnixStream::split(&mut stream);
                        corral::io::copy(&mut rd, &mut wr).await.unwrap();
                        wr.close().await.unwrap();
                    });
                }
            });
            // Connect in waves of 50 (a Unix listener refuses connections
            // beyond its backlog with WouldBlock instead of queueing them).
            for wave in 0..4 {
                let clients: Vec<_> = (0..50)
                    .map(|i| {
                        let path = path.clone();
                        corral::spawn(async move {
                            let id = wave * 50 + i;
                            let stream = UnixStream::connect(&path).await.unwrap();
                            assert_eq!(stream.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
                            let payload: Vec<u8> = (0..32 * 1024).map(|b| (b * 7 + id) as u8).collect();
                            let (mut rd, mut wr) = stream.into_split();
                            let send = async {
                                wr.write_all(&payload).await.unwrap();
                                drop(wr); // shuts the write side down: the server sees EOF
                            };
                            let receive = async {
                                let mut back = Vec::new();
                                rd.read_to_end(&mut back).await.unwrap();
                                back
                            };
                            let ((), back) = futures_util::future::join(send, receive).await;
                            assert!(back == payload, "client {id}: wrong echo");
                        })
                    })
                    .collect();
                for c in clients {
                    c.await.unwrap();
                }
            }
            server.abort();
        });
        assert!(sock.path().exists(), "the socket file stays until removed");
    });
}

#[test]
fn pair_half_close_and_shutdown() {
    with_deadline("unix_pair", 10, || {
        current().block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            assert!(a.local_addr().unwrap().is_unnamed());
            a.write_all(b"question").await.unwrap();
            a.shutdown_with(Shutdown::Write).unwrap();
            let err = a.write_all(b"more").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BrokenPipe);
            let mut q = String::new();
            b.read_to_string(&mut q).await.unwrap(); // ends at the shutdown
            assert_eq!(q, "question");
            b.write_all(b"answer").await.unwrap();
            b.close().await.unwrap(); // AsyncWrite::close = shutdown(Write)
            let mut ans = String::new();
            a.read_to_string(&mut ans).await.unwrap();
            assert_eq!(ans, "answer");
            // Dropping one end: the other reads EOF.
            drop(b);
            let mut buf = [0; 4];
            assert_eq!(a.read(&mut buf).await.unwrap(), 0);
        });
    });
}

#[test]
fn owned_halves_from_two_tasks_and_reunite() {
    with_deadline("unix_halves", 10, || {
        multi(2).block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let (mut rd, mut wr) = a.into_split();
            let writer = corral::spawn(async move {
                for i in 0..100u8 {
                    wr.write_all(&[i; 100]).await.unwrap();
                }
                wr
            });
            let reader = corral::spawn(async move {
                let mut buf = [0; 100];
                for i in 0..100u8 {
                    rd.read_exact(&mut buf).await.unwrap();
                    assert!(buf.iter().all(|&x| x == i));
                }
                rd
            });
            // b echoes what a's writer sends back to a's reader.
            let mut buf = [0; 100];
            for _ in 0..100 {
                b.read_exact(&mut buf).await.unwrap();
                b.write_all(&buf).await.unwrap();
            }
            let wr = writer.await.unwrap();
            let rd = reader.await.unwrap();
            // Reunited: nothing was shut down.
            let mut a = rd.reunite(wr).unwrap();
            a.write_all(b"whole again").await.unwrap();
            let mut buf = [0; 11];
            b.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"whole again");

            // Halves of different streams are handed back.
            let (c, _d) = UnixStream::pair().unwrap();
            let (ra, wa) = a.into_split();
            let (_rc, wc) = c.into_split();
            let err = ra.reunite(wc).unwrap_err();
            assert!(err.to_string().contains("not from the same"));
            let _a = err.0.reunite(wa).unwrap();
        });
    });
}

#[test]
fn dropping_the_owned_write_half_makes_the_peer_read_eof() {
    with_deadline("unix_drop_write_half", 10, || {
        current().block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let (mut rd, wr) = a.into_split();
            drop(wr);
            let mut buf = [0; 1];
            assert_eq!(b.read(&mut buf).await.unwrap(), 0);
            b.write_all(b"!").await.unwrap(); // the read half still reads
            rd.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"!");
        });
    });
}

#[test]
fn incoming_yields_streams() {
    with_deadline("unix_incoming", 10, || {
        let sock = SockPath::new("incoming");
        let path = sock.path().to_owned();
        current().block_on(async move {
            let listener = UnixListener::bind(&path).unwrap();
            let mut clients = Vec::new();
            for _ in 0..3 {
                clients.push(UnixStream::connect(&path).await.unwrap());
            }
            let mut incoming = listener.incoming();
            for (i, client) in clients.iter_mut().enumerate() {
                let mut server = incoming.next().await.unwrap().unwrap();
                server.write_all(&[i as u8]).await.unwrap();
                let mut b = [0; 1];
                client.read_exact(&mut b).await.unwrap();
                assert_eq!(b[0], i as u8);
            }
        });
    });
}

#[test]
fn bind_and_connect_errors() {
    with_deadline("unix_errors", 10, || {
        let sock = SockPath::new("errors");
        let path = sock.path().to_owned();
        current().block_on(async move {
            // No file: NotFound.
            let err = UnixStream::connect(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
            let listener = UnixListener::bind(&path).unwrap();
            // The path is taken while the file exists.
            let err = UnixListener::bind(&path).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
            // A stale socket file (listener gone): ConnectionRefused.
            drop(listener);
            let err = UnixStream::connect(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        });
    });
}

#[test]
fn std_conversions() {
    with_deadline("unix_std", 10, || {
        let sock = SockPath::new("std");
        let path = sock.path().to_owned();
        current().block_on(async move {
            let listener =
                UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path).unwrap()).unwrap();
            let client =
                UnixStream::from_std(std::os::unix::net::UnixStream::connect(&path).unwrap()).unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            assert!(client.take_error().unwrap().is_none());
            let mut std_client = client.into_std().unwrap();
            std_client.set_nonblocking(false).unwrap();
            std::io::Write::write_all(&mut std_client, b"via std").unwrap();
            let mut buf = [0; 7];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"via std");
            let std_listener = listener.into_std().unwrap();
            assert_eq!(
                std_listener.local_addr().unwrap().as_pathname(),
                Some(path.as_path())
            );
        });
    });
}

#[test]
fn types_are_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<UnixListener>();
    send_sync::<UnixStream>();
    send_sync::<corral::net::unix::OwnedReadHalf>();
    send_sync::<corral::net::unix::OwnedWriteHalf>();
    send_sync::<corral::net::unix::Incoming<'static>>();
    fn send<T: Send>(_: &T) {}
    send(&UnixStream::connect("/nonexistent"));
}
