//! UDP on the reactor: round trips with `send_to` / `recv_from` and with
//! `connect` / `send` / `recv`, datagram boundaries (including truncation
//! and empty datagrams), `peek_from`, a socket shared by a sending and a
//! receiving task, ping-pong under a multi-thread runtime, and errors.
//!
//! Loopback only; every test runs under a watchdog.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use corral::net::UdpSocket;

#[allow(dead_code)]
mod common;
use common::{current, multi, with_deadline};

async fn pair() -> (UdpSocket, UdpSocket) {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (a, b)
}

#[test]
fn send_to_recv_from_keeps_datagram_boundaries() {
    with_deadline("boundaries", 10, || {
        current().block_on(async {
            let (a, b) = pair().await;
            let to = b.local_addr().unwrap();
            let sizes = [1usize, 100, 1400, 0, 9000];
            for (i, &n) in sizes.iter().enumerate() {
                let datagram = vec![i as u8; n];
                assert_eq!(a.send_to(&datagram, to).await.unwrap(), n);
            }
            // Each receive takes exactly one datagram, however big the
            // buffer (an empty one included).
            let mut buf = vec![0; 16 * 1024];
            for (i, &n) in sizes.iter().enumerate() {
                let (got, from) = b.recv_from(&mut buf).await.unwrap();
                assert_eq!(got, n, "datagram {i}");
                assert!(buf[..got].iter().all(|&x| x == i as u8));
                assert_eq!(from, a.local_addr().unwrap());
            }
            // A buffer too small gets the start; the rest is discarded and
            // the next receive gets the next datagram whole.
            a.send_to(b"0123456789", to).await.unwrap();
            a.send_to(b"next", to).await.unwrap();
            let mut small = [0; 4];
            assert_eq!(b.recv_from(&mut small).await.unwrap().0, 4);
            assert_eq!(&small, b"0123");
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"next");
        });
    });
}

#[test]
fn connected_sockets_send_and_recv() {
    with_deadline("connected", 10, || {
        current().block_on(async {
            let (a, b) = pair().await;
            let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            a.connect(b.local_addr().unwrap()).await.unwrap();
            b.connect(a.local_addr().unwrap()).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

            // A connected socket only takes datagrams from its peer.
            stranger
                .send_to(b"from a stranger", a.local_addr().unwrap())
                .await
                .unwrap();
            b.send(b"from b").await.unwrap();
            let mut buf = [0; 32];
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"from b");

            assert_eq!(a.send(b"ping").await.unwrap(), 4);
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ping");

            // Connecting through a string, and to a new peer.
            a.connect(stranger.local_addr().unwrap().to_string())
                .await
                .unwrap();
            a.send(b"hello stranger").await.unwrap();
            let (n, from) = stranger.recv_from(&mut buf).await.unwrap();
            assert_eq!(
                (&buf[..n], from),
                (&b"hello stranger"[..], a.local_addr().unwrap())
            );
        });
    });
}

#[test]
fn peek_from_does_not_consume() {
    with_deadline("peek_from", 10, || {
        current().block_on(async {
            let (a, b) = pair().await;
            a.send_to(b"first", b.local_addr().unwrap()).await.unwrap();
            a.send_to(b"second", b.local_addr().unwrap()).await.unwrap();
            let mut buf = [0; 16];
            for _ in 0..3 {
                let (n, from) = b.peek_from(&mut buf).await.unwrap();
                assert_eq!((&buf[..n], from), (&b"first"[..], a.local_addr().unwrap()));
            }
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"first");
            b.connect(a.local_addr().unwrap()).await.unwrap();
            let n = b.peek(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"second");
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"second");
        });
    });
}

/// An echo server task and eight clients, each doing 200 request/response
/// rounds with distinct payloads, on two workers. (Request/response keeps
/// at most eight datagrams in flight, so none is dropped for lack of
/// buffer space.)
#[test]
fn ping_pong_multi_thread() {
    with_deadline("ping_pong", 20, || {
        multi(2).block_on(async {
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let server_addr = server.local_addr().unwrap();
            let echo = corral::spawn(async move {
                let mut buf = [0; 64];
                loop {
                    let (n, from) = server.recv_from(&mut buf).await.unwrap();
                    server.send_to(&buf[..n], from).await.unwrap();
                }
            });
            let clients: Vec<_> = (0..8u32)
                .map(|c| {
                    corral::spawn(async move {
                        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                        socket.connect(server_addr).await.unwrap();
                        let mut buf = [0; 64];
                        for round in 0..200u32 {
                            let msg = format!("client {c} round {round}");
                            socket.send(msg.as_bytes()).await.unwrap();
                            let n = socket.recv(&mut buf).await.unwrap();
                            assert_eq!(&buf[..n], msg.as_bytes());
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            echo.abort();
        });
    });
}

/// One task receives while another sends, on the same socket (shared in
/// an `Arc`): the two directions wait independently.
#[test]
fn one_task_sends_while_another_receives() {
    with_deadline("shared_socket", 20, || {
        multi(2).block_on(async {
            let (socket, peer) = pair().await;
            let socket = Arc::new(socket);
            let peer_addr = peer.local_addr().unwrap();
            socket.connect(peer_addr).await.unwrap();
            let echo = corral::spawn(async move {
                let mut buf = [0; 16];
                loop {
                    let (n, from) = peer.recv_from(&mut buf).await.unwrap();
                    peer.send_to(&buf[..n], from).await.unwrap();
                }
            });
            const N: usize = 500;
            let in_flight = Arc::new(AtomicUsize::new(0));
            let receiver = {
                let socket = socket.clone();
                let in_flight = in_flight.clone();
                corral::spawn(async move {
                    let mut buf = [0; 16];
                    for i in 0..N {
                        let n = socket.recv(&mut buf).await.unwrap();
                        assert_eq!(&buf[..n], &(i as u64).to_le_bytes()); // in order on loopback
                        in_flight.fetch_sub(1, SeqCst);
                    }
                })
            };
            let sender = corral::spawn(async move {
                for i in 0..N {
                    // A window of 16 keeps the receive buffers from overflowing.
                    while in_flight.load(SeqCst) >= 16 {
                        corral::yield_now().await;
                    }
                    in_flight.fetch_add(1, SeqCst);
                    socket.send(&(i as u64).to_le_bytes()).await.unwrap();
                }
            });
            sender.await.unwrap();
            receiver.await.unwrap();
            echo.abort();
        });
    });
}

#[test]
fn ipv6_loopback_round_trip() {
    with_deadline("ipv6", 10, || {
        current().block_on(async {
            let Ok(a) = UdpSocket::bind("[::1]:0").await else {
                eprintln!("no IPv6 loopback here; not tested");
                return;
            };
            let b = UdpSocket::bind(("::1", 0)).await.unwrap();
            a.send_to(b"six", b.local_addr().unwrap()).await.unwrap();
            let mut buf = [0; 8];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"six"[..], a.local_addr().unwrap()));
            assert!(from.is_ipv6());
        });
    });
}

/// A datagram to a closed port on loopback draws an ICMP "port
/// unreachable"; a connected socket reports it as `ConnectionRefused` on
/// its next receive.
#[test]
fn connected_socket_reports_refused() {
    with_deadline("refused", 10, || {
        current().block_on(async {
            let closed = std::net::UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket.connect(closed).await.unwrap();
            socket.send(b"anyone?").await.unwrap();
            let mut buf = [0; 8];
            let err = socket.recv(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        });
    });
}

/// After the refused receive above, the error is consumed: the next
/// receive waits for a datagram (here: times out). Regression: the
/// reactor used to keep the ERROR readiness bit forever, so `poll_io` saw
/// the socket ready, got `WouldBlock`, cleared nothing and spun.
#[test]
fn receive_after_a_refused_datagram_waits() {
    with_deadline("refused_then_wait", 5, || {
        current().block_on(async {
            let closed = std::net::UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket.connect(closed).await.unwrap();
            socket.send(b"anyone?").await.unwrap();
            let mut buf = [0; 8];
            assert_eq!(
                socket.recv(&mut buf).await.unwrap_err().kind(),
                ErrorKind::ConnectionRefused
            );
            let second = corral::time::timeout(Duration::from_millis(200), socket.recv(&mut buf)).await;
            assert!(second.is_err(), "expected a timeout, got {second:?}");
        });
    });
}

#[test]
fn options_addresses_and_std_conversions() {
    with_deadline("udp_options", 10, || {
        current().block_on(async {
            let socket = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
            let addr: SocketAddr = socket.local_addr().unwrap();
            assert!(addr.ip().is_loopback());
            assert_eq!(socket.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
            // `send` needs a peer.
            assert!(socket.send(b"x").await.is_err());
            socket.set_broadcast(true).unwrap();
            assert!(socket.broadcast().unwrap());
            socket.set_ttl(5).unwrap();
            assert_eq!(socket.ttl().unwrap(), 5);
            assert!(socket.take_error().unwrap().is_none());
            assert!(format!("{socket:?}").contains("UdpSocket"));
            let std_socket = socket.into_std().unwrap();
            assert_eq!(std_socket.local_addr().unwrap(), addr);
            // Binding an address in use fails with the OS error.
            let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let err = UdpSocket::bind(taken.local_addr().unwrap()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse);
        });
    });
}

#[test]
fn futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<UdpSocket>();
    current().block_on(async {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = s.local_addr().unwrap();
        let mut buf = [0; 4];
        send(&UdpSocket::bind("127.0.0.1:0"));
        send(&s.connect(to));
        send(&s.send_to(b"", "localhost:9"));
        send(&s.send(b""));
        send(&s.recv_from(&mut buf));
    });
}

/// Two tasks receiving on one `Arc<UdpSocket>` are both woken: before any
/// number of waiters per direction was supported, the first task's waker
/// was replaced by the second's and it never woke, with a datagram waiting.
#[test]
fn two_receivers_on_one_shared_socket_both_get_a_datagram() {
    for (name, rt) in [("current", current()), ("multi", multi(2))] {
        with_deadline(&format!("two-receivers-{name}"), 20, move || {
            rt.block_on(async {
                let (a, b) = pair().await;
                let b = Arc::new(b);
                let receivers: Vec<_> = (0..2)
                    .map(|_| {
                        let b = b.clone();
                        corral::spawn(async move {
                            let mut buf = [0; 16];
                            b.recv(&mut buf).await.unwrap()
                        })
                    })
                    .collect();
                // Both receivers are waiting before anything is sent.
                corral::time::sleep(Duration::from_millis(50)).await;
                let to = b.local_addr().unwrap();
                a.send_to(b"one", to).await.unwrap();
                a.send_to(b"two", to).await.unwrap();
                for r in receivers {
                    let n = corral::time::timeout(Duration::from_secs(5), r)
                        .await
                        .expect("a receiver was never woken with a datagram waiting")
                        .unwrap();
                    assert_eq!(n, 3);
                }
            });
        });
    }
}

/// `try_recv` / `try_send`: never wait; a `WouldBlock` clears readiness so
/// `readable()` then waits for the next datagram.
#[test]
fn try_send_and_try_recv_do_not_wait() {
    with_deadline("udp-try", 20, || {
        current().block_on(async {
            let (a, b) = pair().await;
            a.connect(b.local_addr().unwrap()).await.unwrap();
            b.connect(a.local_addr().unwrap()).await.unwrap();
            let mut buf = [0; 16];
            assert_eq!(b.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
            a.writable().await.unwrap();
            assert_eq!(a.try_send(b"one").unwrap(), 3);
            assert_eq!(a.try_send(b"two").unwrap(), 3);
            b.readable().await.unwrap();
            // A short datagram does not clear readiness: the second is
            // still received without waiting for another event.
            assert_eq!(b.try_recv(&mut buf).unwrap(), 3);
            assert_eq!(&buf[..3], b"one");
            assert_eq!(b.try_recv(&mut buf).unwrap(), 3);
            assert_eq!(&buf[..3], b"two");
            assert_eq!(b.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
            let waiting = corral::time::timeout(Duration::from_millis(50), b.readable()).await;
            assert!(waiting.is_err(), "readable() returned with nothing queued");
            a.try_send_to(b"x", b.local_addr().unwrap()).unwrap();
            b.readable().await.unwrap();
            let (n, from) = b.try_recv_from(&mut buf).unwrap();
            assert_eq!((n, from), (1, a.local_addr().unwrap()));
        });
    });
}
