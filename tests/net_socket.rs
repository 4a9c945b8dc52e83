//! Socket shapes and options a tokio user expects: `TcpSocket` (bind
//! before connect, reuse flags, backlog), stream options, `try_read` /
//! `try_write` with `readable` / `writable`, `peek`, and `lookup_host`.

use std::io::ErrorKind;
use std::time::Duration;

use corral::io::{AsyncReadExt, AsyncWriteExt};
use corral::net::{lookup_host, TcpListener, TcpSocket, TcpStream};

#[allow(dead_code)]
mod common;
use common::{current, with_deadline};

#[test]
fn tcp_socket_binds_before_connect_and_listens_with_a_backlog() {
    with_deadline("tcp-socket", 20, || {
        current().block_on(async {
            let ls = TcpSocket::new_v4().unwrap();
            ls.set_reuseaddr(true).unwrap();
            ls.set_reuseport(true).unwrap();
            ls.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = ls.local_addr().unwrap();
            // A second listener on the same port: SO_REUSEPORT on both.
            let twin = TcpSocket::new_v4().unwrap();
            twin.set_reuseport(true).unwrap();
            twin.bind(addr).unwrap();
            let listener = ls.listen(64).unwrap();
            let _twin = twin.listen(64).unwrap();

            let cs = TcpSocket::new_v4().unwrap();
            cs.set_nodelay(true).unwrap();
            cs.set_keepalive(true).unwrap();
            cs.set_send_buffer_size(32 * 1024).unwrap();
            cs.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let local = cs.local_addr().unwrap();
            let mut client = cs.connect(addr).await.unwrap();
            assert_eq!(client.local_addr().unwrap(), local);
            assert!(client.nodelay().unwrap());
            assert!(client.keepalive().unwrap());
            client.write_all(b"hi").await.unwrap();
            client.shutdown().await.unwrap();
            // The connection went to one of the two listeners.
            let accepted = corral::time::timeout(Duration::from_millis(500), listener.accept()).await;
            if let Ok(accepted) = accepted {
                let (mut s, peer) = accepted.unwrap();
                assert_eq!(peer, local);
                let mut got = Vec::new();
                s.read_to_end(&mut got).await.unwrap();
                assert_eq!(got, b"hi");
            }

            // Connecting to nothing: a typed error.
            drop(listener);
            drop(_twin);
            let err = TcpSocket::new_v4().unwrap().connect(addr).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        });
    });
}

#[test]
fn stream_options_try_io_and_peek() {
    with_deadline("stream-options", 20, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            client.set_linger(Some(Duration::from_secs(2))).unwrap();
            assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(2)));
            client.set_ttl(9).unwrap();
            assert_eq!(client.ttl().unwrap(), 9);
            client.set_keepalive(true).unwrap();
            assert!(client.keepalive().unwrap());

            // Nothing there: WouldBlock without waiting.
            let mut buf = [0; 64];
            assert_eq!(
                server.try_read(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            client.writable().await.unwrap();
            assert_eq!(client.try_write(b"abc").unwrap(), 3);
            let mut peeked = [0; 8];
            assert_eq!(server.peek(&mut peeked).await.unwrap(), 3);
            server.readable().await.unwrap();
            assert_eq!(server.try_read(&mut buf).unwrap(), 3);
            assert_eq!(&buf[..3], b"abc");
            // The short read cleared the readiness: no system call needed
            // to know there is nothing more.
            assert_eq!(
                server.try_read(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            // ... and readable() waits for the next data.
            let waiting = corral::time::timeout(Duration::from_millis(50), server.readable()).await;
            assert!(waiting.is_err(), "readable() returned with nothing to read");
            client.try_write(b"d").unwrap();
            server.readable().await.unwrap();
            assert_eq!(server.try_read(&mut buf).unwrap(), 1);
        });
    });
}

#[test]
fn lookup_host_resolves_literals_and_names() {
    with_deadline("lookup-host", 20, || {
        current().block_on(async {
            let addrs: Vec<_> = lookup_host("127.0.0.1:8080").await.unwrap().collect();
            assert_eq!(addrs, ["127.0.0.1:8080".parse().unwrap()]);
            let addrs: Vec<_> = lookup_host(("::1", 9)).await.unwrap().collect();
            assert_eq!(addrs, ["[::1]:9".parse().unwrap()]);
            // "localhost" through the system resolver (on the blocking pool);
            // a sandbox without a resolver configuration may refuse it.
            if let Ok(addrs) = lookup_host("localhost:7").await {
                assert!(addrs.into_iter().all(|a| a.port() == 7 && a.ip().is_loopback()));
            }
            let err = lookup_host("no port here").await.unwrap_err();
            assert!(!err.to_string().is_empty());
        });
    });
}
