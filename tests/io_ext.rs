//! What a tokio user types in the first hour compiles and works: the
//! no-argument `shutdown().await` on streams and their halves, the
//! integer readers and writers, `copy_bidirectional`, and `lines()` /
//! `incoming()` as streams without the futures crate.

use corral::io::{copy_bidirectional, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, StreamExt};
use corral::net::{TcpListener, TcpStream, UnixStream};
use std::net::Shutdown;

#[allow(dead_code)]
mod common;
use common::{current, with_deadline};

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

async fn expect_eof(r: &mut (impl corral::io::AsyncRead + Unpin), sent: &[u8]) {
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, sent);
}

/// Before, `stream.shutdown().await` did not compile ("this method takes 1
/// argument but 0 arguments were supplied"): the inherent
/// `shutdown(Shutdown)` shadowed everything, and halves had no `shutdown`.
#[test]
fn shutdown_without_argument_on_streams_and_halves() {
    with_deadline("shutdown-spelling", 20, || {
        current().block_on(async {
            // TcpStream, inherent.
            let (mut c, mut s) = tcp_pair().await;
            c.write_all(b"a").await.unwrap();
            c.shutdown().await.unwrap();
            expect_eof(&mut s, b"a").await;
            // Through a generic AsyncWrite: the trait method.
            async fn generic(w: &mut (impl corral::io::AsyncWrite + Unpin)) {
                w.write_all(b"g").await.unwrap();
                w.shutdown().await.unwrap();
            }
            let (mut c, mut s) = tcp_pair().await;
            generic(&mut c).await;
            expect_eof(&mut s, b"g").await;
            // Borrowed and owned TCP write halves.
            let (mut c, mut s) = tcp_pair().await;
            {
                let (_rd, mut wr) = TcpStream::split(&mut c);
                wr.write_all(b"b").await.unwrap();
                wr.shutdown().await.unwrap();
            }
            expect_eof(&mut s, b"b").await;
            let (c, mut s) = tcp_pair().await;
            let (_rd, mut wr) = c.into_split();
            wr.write_all(b"o").await.unwrap();
            wr.shutdown().await.unwrap();
            expect_eof(&mut s, b"o").await;
            // UnixStream and its halves.
            let (u, mut v) = UnixStream::pair().unwrap();
            u.shutdown().await.unwrap();
            expect_eof(&mut v, b"").await;
            let (mut u, mut v) = UnixStream::pair().unwrap();
            {
                let (_rd, mut wr) = UnixStream::split(&mut u);
                wr.shutdown().await.unwrap();
            }
            expect_eof(&mut v, b"").await;
            let (u, mut v) = UnixStream::pair().unwrap();
            let (_rd, mut wr) = u.into_split();
            wr.write_all(b"u").await.unwrap();
            wr.shutdown().await.unwrap();
            expect_eof(&mut v, b"u").await;
            // The read side or both: shutdown_with.
            let (mut c, _s) = tcp_pair().await;
            c.shutdown_with(Shutdown::Read).unwrap();
            expect_eof(&mut c, b"").await;
        });
    });
}

#[test]
fn integers_round_trip_in_both_byte_orders() {
    with_deadline("integers", 20, || {
        current().block_on(async {
            let (mut c, mut s) = tcp_pair().await;
            c.write_u8(0xfe).await.unwrap();
            c.write_i16(-2).await.unwrap();
            c.write_u32(0x0102_0304).await.unwrap();
            c.write_u32_le(0x0102_0304).await.unwrap();
            c.write_i64_le(-5).await.unwrap();
            c.write_u128(u128::MAX - 1).await.unwrap();
            c.write_f64(1.5).await.unwrap();
            c.shutdown().await.unwrap();
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).await.unwrap();
            assert_eq!(&raw[..7], &[0xfe, 0xff, 0xfe, 1, 2, 3, 4]);
            assert_eq!(&raw[7..11], &[4, 3, 2, 1]);
            let mut r = corral::io::Cursor::new(raw);
            assert_eq!(r.read_u8().await.unwrap(), 0xfe);
            assert_eq!(r.read_i16().await.unwrap(), -2);
            assert_eq!(r.read_u32().await.unwrap(), 0x0102_0304);
            assert_eq!(r.read_u32_le().await.unwrap(), 0x0102_0304);
            assert_eq!(r.read_i64_le().await.unwrap(), -5);
            assert_eq!(r.read_u128().await.unwrap(), u128::MAX - 1);
            assert_eq!(r.read_f64().await.unwrap(), 1.5);
            let err = r.read_u16().await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        });
    });
}

#[test]
fn copy_bidirectional_proxies_and_forwards_half_close() {
    with_deadline("copy-bidirectional", 20, || {
        current().block_on(async {
            let (mut client, mut a) = tcp_pair().await;
            let (mut b, mut server) = tcp_pair().await;
            let proxy = corral::spawn(async move { copy_bidirectional(&mut a, &mut b).await });
            let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            let upload = big.clone();
            let up = corral::spawn(async move {
                client.write_all(&upload).await.unwrap();
                client.shutdown().await.unwrap();
                let mut back = Vec::new();
                client.read_to_end(&mut back).await.unwrap();
                back
            });
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, big);
            server.write_all(b"done").await.unwrap();
            server.shutdown().await.unwrap();
            assert_eq!(up.await.unwrap(), b"done");
            assert_eq!(proxy.await.unwrap().unwrap(), (200_000, 4));
        });
    });
}

#[test]
fn lines_and_incoming_are_streams() {
    with_deadline("streams", 20, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = corral::spawn(async move {
                let mut c = TcpStream::connect(addr).await.unwrap();
                c.write_all(b"first\nsecond\n").await.unwrap();
                c.shutdown().await.unwrap();
            });
            let mut incoming = listener.incoming();
            let conn = incoming.next().await.unwrap().unwrap();
            let lines: Vec<String> = BufReader::new(conn).lines().map(|l| l.unwrap()).collect().await;
            assert_eq!(lines, ["first", "second"]);
            client.await.unwrap();
        });
    });
}
