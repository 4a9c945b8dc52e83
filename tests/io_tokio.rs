//! Feature `tokio-io`: corral's streams and halves under tokio's
//! `AsyncRead` / `AsyncWrite` (tokio's io-util extension methods drive
//! them here, as tokio-util codecs would). Run with
//! `cargo test -p corral --features tokio-io --test io_tokio`.
#![cfg(feature = "tokio-io")]

use corral::net::{TcpListener, TcpStream, UnixStream};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[allow(dead_code)]
mod common;
use common::{current, with_deadline};

#[test]
fn tcp_stream_and_halves_under_tokio_traits() {
    with_deadline("tokio-io-tcp", 20, || {
        current().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let (rd, mut wr) = server.into_split();
            let echo = corral::spawn(async move {
                let mut lines = BufReader::new(rd).lines();
                while let Some(line) = lines.next_line().await.unwrap() {
                    wr.write_all(format!("{line}!\n").as_bytes()).await.unwrap();
                }
                wr.shutdown().await.unwrap();
            });
            client.write_all(b"one\ntwo\n").await.unwrap();
            client.write_u32(7).await.unwrap();
            client.write_all(b"\n").await.unwrap();
            AsyncWriteExt::shutdown(&mut client).await.unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, b"one!\ntwo!\n\0\0\0\x07!\n");
            echo.await.unwrap();

            // Borrowed halves, and a read into a big uninitialised buffer.
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            {
                let (_rd, mut wr) = TcpStream::split(&mut client);
                wr.write_all(&[5; 3000]).await.unwrap();
            }
            let (mut rd, _wr) = TcpStream::split(&mut server);
            let mut buf = Vec::with_capacity(64 * 1024);
            while buf.len() < 3000 {
                rd.read_buf(&mut buf).await.unwrap();
            }
            assert!(buf.iter().all(|&b| b == 5));
        });
    });
}

#[test]
fn unix_stream_and_halves_under_tokio_traits() {
    with_deadline("tokio-io-unix", 20, || {
        current().block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let (mut rd, mut wr) = a.into_split();
            wr.write_u64_le(42).await.unwrap();
            wr.shutdown().await.unwrap();
            assert_eq!(b.read_u64_le().await.unwrap(), 42);
            assert_eq!(b.read(&mut [0; 4]).await.unwrap(), 0);
            b.write_all(b"back").await.unwrap();
            let mut got = [0; 4];
            rd.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"back");
        });
    });
}
