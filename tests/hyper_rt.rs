//! hyper 1.x on corral (feature `hyper`): HTTP/1 with keep-alive over TCP
//! and Unix sockets, HTTP/2 with prior knowledge, large bodies both ways,
//! reads into hyper's uninitialised buffer, the executor, and the timer
//! (sleep, reset, the paused clock, the server's header-read timeout).
//!
//! Loopback only; every test runs under a watchdog.
#![cfg(feature = "hyper")]

use std::convert::Infallible;
use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral::hyper::{CorralExecutor, CorralTimer};
use corral::io::{AsyncReadExt, AsyncWriteExt};
use corral::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::rt::{Executor, Read, ReadBuf, Timer};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};

#[allow(dead_code)]
mod common;
use common::{current, multi, paused, with_deadline};

/// The test service: `GET /` says hello, `POST /echo` returns the body,
/// anything else is a 404.
async fn service(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => Ok(Response::new(Full::new(Bytes::from_static(b"hello")))),
        (&Method::POST, "/echo") => {
            let body = req.into_body().collect().await?.to_bytes();
            Ok(Response::new(Full::new(body)))
        }
        _ => {
            let mut resp = Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            Ok(resp)
        }
    }
}

/// Serves HTTP/1 on every connection `listener` accepts, each in a task.
fn serve_http1(listener: TcpListener) {
    corral::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            corral::spawn(async move {
                hyper::server::conn::http1::Builder::new()
                    .timer(CorralTimer::new())
                    .serve_connection(stream, service_fn(service))
                    .await
            });
        }
    });
}

/// A body of `len` bytes that is not all one value.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn http1_keep_alive_round_trips_on_two_workers() {
    with_deadline("http1_keep_alive_round_trips_on_two_workers", 30, || {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            serve_http1(listener);

            let accepted = Arc::new(AtomicUsize::new(0));
            let mut clients = Vec::new();
            for c in 0..8 {
                let accepted = accepted.clone();
                clients.push(corral::spawn(async move {
                    let stream = TcpStream::connect(addr).await.unwrap();
                    let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
                    corral::spawn(conn);
                    for i in 0..50 {
                        // Mix small GETs with echoed POST bodies (up to ~200 KiB: many reads and
                        // partial writes on one kept-alive connection).
                        if i % 10 == 0 {
                            let body = pattern(1000 * (c + 1) * (i + 1) / 2);
                            let req = Request::post("/echo")
                                .header("host", "test")
                                .body(Full::new(Bytes::from(body.clone())))
                                .unwrap();
                            sender.ready().await.unwrap(); // the previous exchange may still be finishing
                            let resp = sender.send_request(req).await.unwrap();
                            assert_eq!(resp.status(), StatusCode::OK);
                            let got = resp.into_body().collect().await.unwrap().to_bytes();
                            assert_eq!(got.len(), body.len());
                            assert!(got == body, "echoed body differs");
                        } else {
                            let req = Request::get("/")
                                .header("host", "test")
                                .body(Full::new(Bytes::new()))
                                .unwrap();
                            sender.ready().await.unwrap(); // the previous exchange may still be finishing
                            let resp = sender.send_request(req).await.unwrap();
                            assert_eq!(resp.status(), StatusCode::OK);
                            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "hello");
                        }
                        accepted.fetch_add(1, SeqCst);
                    }
                    let req = Request::get("/nope")
                        .header("host", "test")
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    sender.ready().await.unwrap();
                    assert_eq!(
                        sender.send_request(req).await.unwrap().status(),
                        StatusCode::NOT_FOUND
                    );
                }));
            }
            for c in clients {
                c.await.unwrap();
            }
            assert_eq!(accepted.load(SeqCst), 8 * 50);
        });
    });
}

#[test]
fn http1_over_unix_stream() {
    with_deadline("http1_over_unix_stream", 30, || {
        current().block_on(async {
            let (server, client) = corral::net::UnixStream::pair().unwrap();
            corral::spawn(async move {
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(server, service_fn(service))
                    .await
            });
            let (mut sender, conn) = hyper::client::conn::http1::handshake(client).await.unwrap();
            corral::spawn(conn);
            for _ in 0..3 {
                let body = pattern(100_000);
                let req = Request::post("/echo")
                    .header("host", "unix")
                    .body(Full::new(Bytes::from(body.clone())))
                    .unwrap();
                sender.ready().await.unwrap(); // the previous exchange may still be finishing
                let resp = sender.send_request(req).await.unwrap();
                assert!(resp.into_body().collect().await.unwrap().to_bytes() == body);
            }
        });
    });
}

#[test]
fn http2_prior_knowledge_concurrent_streams() {
    with_deadline("http2_prior_knowledge_concurrent_streams", 30, || {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            corral::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    corral::spawn(async move {
                        hyper::server::conn::http2::Builder::new(CorralExecutor::new())
                            .timer(CorralTimer::new())
                            .serve_connection(stream, service_fn(service))
                            .await
                    });
                }
            });

            let stream = TcpStream::connect(addr).await.unwrap();
            let (sender, conn) = hyper::client::conn::http2::Builder::new(CorralExecutor::new())
                .timer(CorralTimer::new())
                .handshake(stream)
                .await
                .unwrap();
            corral::spawn(conn);
            // 32 requests in flight at once on one connection: each is an
            // HTTP/2 stream that the server's executor runs as a task.
            let mut tasks = Vec::new();
            for i in 0..32usize {
                let mut sender = sender.clone();
                tasks.push(corral::spawn(async move {
                    let body = pattern(10_000 + i * 997);
                    let req = Request::post("http://test/echo")
                        .body(Full::new(Bytes::from(body.clone())))
                        .unwrap();
                    let resp = sender.send_request(req).await.unwrap();
                    assert_eq!(resp.version(), hyper::Version::HTTP_2);
                    assert!(resp.into_body().collect().await.unwrap().to_bytes() == body);
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
    });
}

/// hyper hands the stream the unfilled part of its buffer, uninitialised;
/// the read must put the bytes at the front and touch nothing else (no
/// zero fill of the whole buffer first: the glue this replaces zeroed
/// 8 KiB or more per read).
#[test]
fn reads_fill_the_front_of_hypers_buffer_and_nothing_else() {
    with_deadline(
        "reads_fill_the_front_of_hypers_buffer_and_nothing_else",
        10,
        || {
            current().block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
                let (mut server, _) = listener.accept().await.unwrap();
                client.write_all(b"abc").await.unwrap();

                // "Uninitialised" memory holding a marker, so a zero fill shows.
                let mut raw = [MaybeUninit::new(0xAAu8); 64];
                {
                    let mut buf = ReadBuf::uninit(&mut raw);
                    poll_fn(|cx| Pin::new(&mut server).poll_read(cx, buf.unfilled()))
                        .await
                        .unwrap();
                    assert_eq!(buf.filled(), b"abc");
                }
                // SAFETY: every byte of `raw` was initialised to 0xAA above.
                let after: Vec<u8> = raw[3..].iter().map(|b| unsafe { b.assume_init() }).collect();
                assert!(
                    after.iter().all(|&b| b == 0xAA),
                    "bytes past the read were overwritten"
                );

                // End-of-file is a read of zero bytes.
                client.close().await.unwrap();
                let mut raw = [MaybeUninit::uninit(); 16];
                let mut buf = ReadBuf::uninit(&mut raw);
                poll_fn(|cx| Pin::new(&mut server).poll_read(cx, buf.unfilled()))
                    .await
                    .unwrap();
                assert!(buf.filled().is_empty());
                let _ = server.read(&mut [0; 1]).await.unwrap();
            });
        },
    );
}

/// The owned halves implement hyper's traits: the read half `Read`, the
/// write half `Write` (vectored, and `poll_shutdown` half-closes).
#[test]
fn owned_halves_implement_hyper_io() {
    with_deadline("owned_halves_implement_hyper_io", 10, || {
        current().block_on(async {
            use hyper::rt::Write;
            use std::io::IoSlice;
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let (mut rd, _wr) = server.into_split();
            let (_crd, mut cwr) = client.into_split();

            assert!(cwr.is_write_vectored());
            let bufs = [IoSlice::new(b"head "), IoSlice::new(b"body")];
            let n = poll_fn(|cx| Pin::new(&mut cwr).poll_write_vectored(cx, &bufs))
                .await
                .unwrap();
            assert_eq!(n, 9);
            poll_fn(|cx| Pin::new(&mut cwr).poll_flush(cx)).await.unwrap();
            poll_fn(|cx| Pin::new(&mut cwr).poll_shutdown(cx)).await.unwrap();

            let mut got = Vec::new();
            loop {
                let mut raw = [MaybeUninit::uninit(); 4];
                let mut buf = ReadBuf::uninit(&mut raw);
                poll_fn(|cx| Pin::new(&mut rd).poll_read(cx, buf.unfilled()))
                    .await
                    .unwrap();
                if buf.filled().is_empty() {
                    break; // the shutdown reached us as end-of-file
                }
                got.extend_from_slice(buf.filled());
            }
            assert_eq!(got, b"head body");
        });
    });
}

#[test]
fn executor_spawns_on_the_current_runtime_and_on_a_handle() {
    with_deadline(
        "executor_spawns_on_the_current_runtime_and_on_a_handle",
        10,
        || {
            let rt = multi(2);
            // From outside the runtime, through a handle.
            let (tx, rx) = std::sync::mpsc::channel();
            CorralExecutor::with_handle(rt.handle().clone()).execute(async move {
                tx.send(corral::Handle::try_current().is_ok()).unwrap();
            });
            assert!(
                rx.recv_timeout(Duration::from_secs(5)).unwrap(),
                "did not run on a corral runtime"
            );

            // From inside, on the current runtime; many at once.
            rt.block_on(async {
                let done = Arc::new(AtomicUsize::new(0));
                let (tx, rx) = futures_channel::oneshot::channel();
                let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
                for _ in 0..100 {
                    let done = done.clone();
                    let tx = tx.clone();
                    CorralExecutor::new().execute(async move {
                        if done.fetch_add(1, SeqCst) + 1 == 100 {
                            tx.lock().unwrap().take().unwrap().send(()).unwrap();
                        }
                    });
                }
                rx.await.unwrap();
                assert_eq!(done.load(SeqCst), 100);
            });
        },
    );
}

#[test]
fn timer_sleeps_and_resets_in_place() {
    with_deadline("timer_sleeps_and_resets_in_place", 10, || {
        current().block_on(async {
            let timer = CorralTimer::new();
            let start = Instant::now();
            timer.sleep(Duration::from_millis(20)).await;
            assert!(start.elapsed() >= Duration::from_millis(20));

            // An hour-long sleep reset to 10 ms from now finishes then, and
            // stays the same allocation (reset in place, not replaced).
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            let before: *const () = &*sleep as *const dyn hyper::rt::Sleep as *const ();
            // Register it in the wheel first, so the reset moves a live entry.
            assert!(futures_util::poll!(sleep.as_mut()).is_pending());
            let start = Instant::now();
            timer.reset(&mut sleep, timer.now() + Duration::from_millis(10));
            let after: *const () = &*sleep as *const dyn hyper::rt::Sleep as *const ();
            assert_eq!(before, after, "reset replaced the sleep");
            sleep.await;
            let took = start.elapsed();
            assert!(took >= Duration::from_millis(10), "woke early: {took:?}");
            assert!(took < Duration::from_secs(5), "reset deadline ignored: {took:?}");

            // sleep_until takes std instants.
            let deadline = std::time::Instant::now() + Duration::from_millis(5);
            timer.sleep_until(deadline).await;
            assert!(std::time::Instant::now() >= deadline);
        });
    });
}

#[test]
fn timer_follows_the_paused_clock() {
    with_deadline("timer_follows_the_paused_clock", 10, || {
        paused().block_on(async {
            let timer = CorralTimer::new();
            let wall = Instant::now();
            let t0 = timer.now();
            timer.sleep(Duration::from_secs(3600)).await; // the paused clock jumps
            assert!(timer.now() - t0 >= Duration::from_secs(3600));
            assert!(wall.elapsed() < Duration::from_secs(5));
        });
    });
}

/// With a timer, hyper's server enforces a header-read timeout: a client
/// that sends half a request head is cut off.
#[test]
fn header_read_timeout_closes_a_stalled_connection() {
    with_deadline("header_read_timeout_closes_a_stalled_connection", 20, || {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = corral::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                hyper::server::conn::http1::Builder::new()
                    .timer(CorralTimer::new())
                    .header_read_timeout(Duration::from_millis(200))
                    .serve_connection(
                        stream,
                        service_fn(|_| async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) }),
                    )
                    .await
            });
            // Before connecting: the server's timer starts when it begins
            // reading the connection, which may be before our write.
            let start = Instant::now();
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"GET / HTTP/1.1\r\nHost: te").await.unwrap();
            // The server gives up: it may answer 408 and then closes.
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            let took = start.elapsed();
            assert!(
                took >= Duration::from_millis(200),
                "closed before the timeout: {took:?}"
            );
            assert!(took < Duration::from_secs(10), "timeout not enforced: {took:?}");
            let err = server.await.unwrap().unwrap_err();
            assert!(err.is_timeout(), "expected a timeout error, got {err:?}");
        });
    });
}

/// hyper-util's `auto` server (HTTP/1 and HTTP/2 on one port, told apart
/// by the HTTP/2 preface) runs on corral's executor and streams as they
/// are.
#[test]
fn hyper_util_auto_server_speaks_both_versions() {
    with_deadline("hyper_util_auto_server_speaks_both_versions", 30, || {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            corral::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    corral::spawn(async move {
                        hyper_util::server::conn::auto::Builder::new(CorralExecutor::new())
                            .serve_connection(stream, service_fn(service))
                            .await
                    });
                }
            });

            let h1 = TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(h1).await.unwrap();
            corral::spawn(conn);
            let req = Request::get("/")
                .header("host", "test")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.version(), hyper::Version::HTTP_11);
            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "hello");

            let h2 = TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) = hyper::client::conn::http2::handshake(CorralExecutor::new(), h2)
                .await
                .unwrap();
            corral::spawn(conn);
            let req = Request::get("http://test/").body(Empty::<Bytes>::new()).unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.version(), hyper::Version::HTTP_2);
            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "hello");
        });
    });
}

/// hyper's traits on the borrowed halves: a response read through
/// `ReadHalf` while `WriteHalf` sent the request, on one stream.
#[test]
fn borrowed_halves_implement_hyper_io() {
    with_deadline("borrowed_halves_implement_hyper_io", 10, || {
        current().block_on(async {
            use hyper::rt::Write;
            let (mut a, mut b) = corral::net::UnixStream::pair().unwrap();
            let (mut rd, mut wr) = corral::net::UnixStream::split(&mut a);
            let n = poll_fn(|cx| Pin::new(&mut wr).poll_write(cx, b"ping"))
                .await
                .unwrap();
            assert_eq!(n, 4);
            let mut got = [0; 4];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"ping");
            b.write_all(b"pong").await.unwrap();
            let mut raw = [MaybeUninit::uninit(); 8];
            let mut buf = ReadBuf::uninit(&mut raw);
            poll_fn(|cx| Pin::new(&mut rd).poll_read(cx, buf.unfilled()))
                .await
                .unwrap();
            assert_eq!(buf.filled(), b"pong");
        });
    });
}

#[test]
fn executor_and_timer_are_send_sync_and_cheap_to_clone() {
    fn is_send_sync_clone<T: Send + Sync + Clone + Unpin + 'static>() {}
    is_send_sync_clone::<CorralExecutor>();
    is_send_sync_clone::<CorralTimer>();
    // The streams and halves hyper takes must be Send + Unpin + 'static.
    fn is_io<T: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static>() {}
    is_io::<TcpStream>();
    is_io::<corral::net::UnixStream>();
}
