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
pub use corral_runtime::{
    run_sync, spawn, spawn_blocking, yield_now, Builder, EnterGuard, Handle, Runtime, RuntimeFlavor,
    StallReport, TryCurrentError, YieldNow,
};

/// Time: sleep, timeouts, intervals, and a clock tests can pause.
pub mod time {
    pub use corral_runtime::time::*;
}

/// Tasks: spawning, joining, cancelling, identifying.
pub mod task {
    pub use corral_runtime::coop::consume_budget;
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
