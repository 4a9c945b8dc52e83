#![doc(test(attr(deny(warnings))))]
//! # corral
//!
//! A lightweight, complete async runtime: a work-stealing executor, structured
//! task groups, and synchronization primitives wired straight into the
//! scheduler.
//!
//! ```
//! #[corral::main]
//! async fn main() {
//!     let task = corral::spawn(async { 6 * 7 });
//!     assert_eq!(task.await.unwrap(), 42);
//! }
//! ```
//!
//! This crate only re-exports; the pieces live in `corral-runtime` (tasks,
//! schedulers, the wait hook), `corral-sync` (primitives) and
//! `corral-macros` (`#[corral::main]`, `#[corral::test]`).

pub use corral_macros::{main, test};
pub use corral_runtime::combine::{gather, race, try_gather};
pub use corral_runtime::{join, try_join};
pub use corral_runtime::{
    run_sync, spawn, spawn_blocking, yield_now, Builder, EnterGuard, Handle, Runtime, RuntimeFlavor,
    StallReport, TryCurrentError, YieldNow,
};

/// Synchronization primitives wired into the scheduler: locks
/// ([`Mutex`](sync::Mutex), [`RwLock`](sync::RwLock),
/// [`ReentrantMutex`](sync::ReentrantMutex)), permits
/// ([`Semaphore`](sync::Semaphore), [`BoundedSemaphore`](sync::BoundedSemaphore),
/// [`CapacityLimiter`](sync::CapacityLimiter), [`RateLimiter`](sync::RateLimiter)),
/// signals ([`Event`](sync::Event), [`Notify`](sync::Notify),
/// [`Condition`](sync::Condition), [`Barrier`](sync::Barrier)),
/// [`Queue`](sync::Queue), the channels ([`oneshot`](sync::oneshot),
/// [`mpsc`](sync::mpsc), [`mpmc`](sync::mpmc), [`broadcast`](sync::broadcast),
/// [`watch`](sync::watch)), and their guards, futures, errors and statistics.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let total = corral::sync::Mutex::new(0);
/// *total.lock().await += 1;
/// assert_eq!(total.into_inner(), 1);
/// # });
/// ```
pub mod sync {
    pub use corral_sync::*;
}

/// Time: sleep, timeouts, intervals, and a clock tests can pause.
pub mod time {
    pub use corral_runtime::time::*;
}

/// Tasks: spawning, joining, cancelling, identifying.
pub mod task {
    pub use corral_runtime::combine::{
        bounded_map, bounded_map_spawned, try_bounded_map, BoundedMap, BoundedMapSpawned, Gather, Race,
        TryBoundedMap, TryGather,
    };
    pub use corral_runtime::coop::consume_budget;
    pub use corral_runtime::group::task::{
        current_token, scope, CancelToken, Cancelled, ChildError, ChildErrorKind, GroupError, Ready,
        TaskGroup,
    };
    pub use corral_runtime::task::{
        spawn_named, try_id, AbortHandle, Id, JoinError, JoinHandle, PanicPayload,
    };
    pub use corral_runtime::{spawn, yield_now};
}

pub mod net {
    //! Networking: TCP, UDP and Unix-domain sockets on the runtime's reactor.
    //!
    //! Streams implement [`AsyncRead`](crate::io::AsyncRead) and
    //! [`AsyncWrite`](crate::io::AsyncWrite); the extension traits in
    //! [`corral::io`](crate::io) give them `read`, `write_all` and friends.
    pub use corral_runtime::net::*;
}

#[cfg(unix)]
pub mod signal {
    //! Signals: [`ctrl_c`] for graceful shutdown, and any Unix signal as an
    //! async stream ([`unix::signal`]).
    pub use corral_runtime::signal::*;
}

pub mod io {
    //! Async I/O traits and utilities: the ecosystem's `futures-io` traits,
    //! corral's extension traits (every `futures-util` `AsyncReadExt` /
    //! `AsyncWriteExt` method, plus tokio's `read_u32`-style helpers and
    //! `shutdown`), [`copy_bidirectional`], and futures-util's buffers and
    //! helpers, which work with every corral stream. `Stream`,
    //! [`StreamExt`] and [`TryStreamExt`] are here too, so that
    //! `lines().next().await` and `listener.incoming()` need no other
    //! crate. (`split` is the method [`AsyncReadExt::split`]; for sockets
    //! prefer their own `split` / `into_split`, which need no lock.)
    //!
    //! ```
    //! # corral::Runtime::new().unwrap().block_on(async {
    //! use corral::io::{AsyncReadExt, AsyncWriteExt};
    //! use corral::net::{TcpListener, TcpStream};
    //!
    //! let listener = TcpListener::bind("127.0.0.1:0").await?;
    //! let mut client = TcpStream::connect(listener.local_addr()?).await?;
    //! let (mut server, _) = listener.accept().await?;
    //! client.write_all(b"hello").await?;
    //! let mut buf = [0; 5];
    //! server.read_exact(&mut buf).await?;
    //! assert_eq!(&buf, b"hello");
    //! # Ok::<(), std::io::Error>(())
    //! # }).unwrap();
    //! ```
    //!
    //! ```
    //! # corral::Runtime::new().unwrap().block_on(async {
    //! use corral::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, StreamExt};
    //! use corral::net::UnixStream;
    //!
    //! let (mut a, b) = UnixStream::pair()?;
    //! a.write_all(b"one\ntwo\n").await?;
    //! a.shutdown().await?;
    //! let mut lines = BufReader::new(b).lines();
    //! assert_eq!(lines.next().await.transpose()?.as_deref(), Some("one"));
    //! assert_eq!(lines.next().await.transpose()?.as_deref(), Some("two"));
    //! assert!(lines.next().await.is_none());
    //! # Ok::<(), std::io::Error>(())
    //! # }).unwrap();
    //! ```
    pub use corral_runtime::io::{copy_bidirectional, AsyncReadExt, AsyncWriteExt, ReadInt, WriteInt};
    pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
    pub use futures_util::io::{
        copy, copy_buf, empty, repeat, sink, AllowStdIo, AsyncBufReadExt, AsyncSeekExt, BufReader, BufWriter,
        Cursor, Empty, LineWriter, Lines, ReadHalf, Repeat, ReuniteError, Sink, Take, WriteHalf,
    };
    pub use futures_util::stream::{Stream, StreamExt, TryStreamExt};
}

#[cfg(feature = "hyper")]
pub mod hyper {
    //! hyper 1.x on corral (feature `hyper`): an HTTP/1 or HTTP/2 server
    //! or client with no glue.
    //!
    //! corral's [`TcpStream`](crate::net::TcpStream) and
    //! [`UnixStream`](crate::net::UnixStream) implement hyper's
    //! `rt::Read` and `rt::Write` (reading into hyper's buffer with no
    //! zero fill, writing vectored), so they go to hyper as they are;
    //! [`CorralExecutor`] spawns what hyper spawns and [`CorralTimer`]
    //! gives it timeouts. Add `hyper` (with the `server` / `client` and
    //! `http1` / `http2` features you use) and `http-body-util` to your
    //! dependencies.
    //!
    //! A server and a client, over HTTP/1 with keep-alive:
    //!
    //! ```
    //! use corral::hyper::CorralTimer;
    //! use corral::net::{TcpListener, TcpStream};
    //! use http_body_util::{BodyExt, Empty, Full};
    //! use hyper::body::Bytes;
    //! use hyper::{service::service_fn, Request, Response};
    //! use std::convert::Infallible;
    //!
    //! # corral::Runtime::new().unwrap().block_on(async {
    //! let listener = TcpListener::bind("127.0.0.1:0").await?;
    //! let addr = listener.local_addr()?;
    //! corral::spawn(async move {
    //!     loop {
    //!         let Ok((stream, _)) = listener.accept().await else { break };
    //!         corral::spawn(async move {
    //!             let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
    //!                 Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
    //!             });
    //!             let _ = hyper::server::conn::http1::Builder::new()
    //!                 .timer(CorralTimer::new())
    //!                 .serve_connection(stream, hello)
    //!                 .await;
    //!         });
    //!     }
    //! });
    //!
    //! let stream = TcpStream::connect(addr).await?;
    //! let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await?;
    //! corral::spawn(conn); // drives the connection
    //! for _ in 0..2 {
    //!     let req = Request::get("/").header("host", "localhost").body(Empty::<Bytes>::new())?;
    //!     sender.ready().await?; // the previous exchange may still be finishing
    //!     let resp = sender.send_request(req).await?;
    //!     assert_eq!(resp.status(), 200);
    //!     assert_eq!(resp.into_body().collect().await?.to_bytes(), "hello");
    //! }
    //! # Ok::<(), Box<dyn std::error::Error>>(())
    //! # }).unwrap();
    //! ```
    //!
    //! HTTP/2 (here over cleartext, "prior knowledge") takes the executor,
    //! which runs each stream as its own task:
    //!
    //! ```
    //! use corral::hyper::CorralExecutor;
    //! use corral::net::{TcpListener, TcpStream};
    //! use http_body_util::{BodyExt, Empty, Full};
    //! use hyper::body::Bytes;
    //! use hyper::{service::service_fn, Request, Response};
    //! use std::convert::Infallible;
    //!
    //! # corral::Runtime::new().unwrap().block_on(async {
    //! let listener = TcpListener::bind("127.0.0.1:0").await?;
    //! let addr = listener.local_addr()?;
    //! let client = TcpStream::connect(addr).await?;
    //! let (stream, _) = listener.accept().await?;
    //! corral::spawn(async move {
    //!     let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
    //!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("h2"))))
    //!     });
    //!     hyper::server::conn::http2::Builder::new(CorralExecutor::new())
    //!         .serve_connection(stream, hello)
    //!         .await
    //! });
    //!
    //! let (mut sender, conn) = hyper::client::conn::http2::handshake(CorralExecutor::new(), client).await?;
    //! corral::spawn(conn);
    //! let resp = sender.send_request(Request::get("http://localhost/").body(Empty::<Bytes>::new())?).await?;
    //! assert_eq!(resp.version(), hyper::Version::HTTP_2);
    //! assert_eq!(resp.into_body().collect().await?.to_bytes(), "h2");
    //! # Ok::<(), Box<dyn std::error::Error>>(())
    //! # }).unwrap();
    //! ```
    pub use corral_runtime::hyper::*;
}
