//! Unix-domain stream sockets: [`UnixListener`], [`UnixStream`], and the
//! stream's halves.
//!
//! (The listener lives in `unix_listener.rs` and the halves in
//! `unix_split.rs`; all are public here.)
//!
//! The same shapes as [`tcp`](super::tcp), addressed by file-system path
//! (or unnamed, for [`UnixStream::pair`]). A listener's socket file stays
//! on disk after the listener is dropped, as with `std`: remove it (or
//! remove a stale one before binding).

pub use super::unix_listener::{Incoming, UnixListener};
pub use super::unix_split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};

use super::unix_split;
use crate::reactor::{Direction, PollEvented};
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::task::{Context, Poll};

/// A Unix-domain stream connection.
///
/// Like [`TcpStream`](crate::net::TcpStream): `AsyncRead` / `AsyncWrite`
/// on the stream and on `&UnixStream`, closing shuts the write direction
/// down, and [`split`](Self::split) / [`into_split`](Self::into_split) give
/// halves.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::UnixStream;
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// a.write_all(b"over").await?;
/// a.close().await?;
/// let mut got = String::new();
/// b.read_to_string(&mut got).await?;
/// assert_eq!(got, "over");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UnixStream {
    io: PollEvented<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// Errors: `NotFound` (no socket file), `ConnectionRefused` (a file but
    /// nobody listening), `WouldBlock` if the listener's backlog is full
    /// (Linux refuses to queue the connection rather than make it wait),
    /// or `NotConnected` outside a runtime.
    ///
    /// # Cancel safety
    ///
    /// Not resumable: dropping the future closes the socket being
    /// connected; a new call starts over.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("corral-doc-connect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let err = UnixStream::connect(&path).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// let _listener = UnixListener::bind(&path)?;
    /// let stream = UnixStream::connect(&path).await?;
    /// assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        poll_fn(|cx| stream.io.poll_io(cx, Direction::Write, connect_outcome)).await?;
        Ok(stream)
    }

    /// A connected pair of unnamed sockets.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let (mut a, mut b) = corral::net::UnixStream::pair()?;
    /// b.write_all(b"x").await?;
    /// let mut buf = [0; 1];
    /// a.read_exact(&mut buf).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
    }

    pub(crate) fn new(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// The local address (unnamed for a connecting client or a pair).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address: the listener's path for a client.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Shuts down the read, write, or both directions, at once; see
    /// [`TcpStream::shutdown`](crate::net::TcpStream::shutdown).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::AsyncReadExt;
    /// use std::net::Shutdown;
    ///
    /// let (a, mut b) = corral::net::UnixStream::pair()?;
    /// a.shutdown(Shutdown::Write)?;
    /// let mut buf = [0; 1];
    /// assert_eq!(b.read(&mut buf).await?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Waits until the socket is readable. A hint: see
    /// [`TcpStream::readable`](crate::net::TcpStream::readable).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::AsyncWriteExt;
    ///
    /// let (a, mut b) = corral::net::UnixStream::pair()?;
    /// b.write_all(b"x").await?;
    /// a.readable().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Read)).await
    }

    /// Waits until the socket has room to write. A hint: see
    /// [`TcpStream::readable`](crate::net::TcpStream::readable).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// a.writable().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Write)).await
    }

    /// Borrows the stream as a read half and a write half; see
    /// [`TcpStream::split`](crate::net::TcpStream::split).
    ///
    /// Call it as `UnixStream::split(&mut stream)` (or `(&mut stream).split()`)
    /// when `corral::io::AsyncReadExt` is in scope: on an owned stream,
    /// `stream.split()` then resolves to that trait's `split`, which takes
    /// the stream by value and shares it behind a lock.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, AsyncWriteExt};
    /// use corral::net::UnixStream;
    ///
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// let (mut rd, mut wr) = UnixStream::split(&mut a);
    /// let (_, n) = futures_util::future::join(
    ///     async { b.write_all(b"xy").await },
    ///     async { wr.write_all(b"z").await?; let mut buf = [0; 2]; rd.read_exact(&mut buf).await },
    /// )
    /// .await;
    /// n?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        unix_split::split(self)
    }

    /// Splits the stream into owned halves; dropping the
    /// [`OwnedWriteHalf`] shuts the write direction down. See
    /// [`TcpStream::into_split`](crate::net::TcpStream::into_split).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::AsyncReadExt;
    ///
    /// let (a, mut b) = corral::net::UnixStream::pair()?;
    /// let (_rd, wr) = a.into_split();
    /// drop(wr);
    /// let mut buf = [0; 1];
    /// assert_eq!(b.read(&mut buf).await?, 0); // end-of-file
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        unix_split::into_split(self)
    }

    /// Wraps a connected stream from the standard library, switching it to
    /// non-blocking mode and registering it with the current runtime.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = corral::net::UnixStream::from_std(a)?;
    /// # let _ = a;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(mio::net::UnixStream::from_std(stream))
    }

    /// Deregisters the stream and returns it as a standard-library one,
    /// still in non-blocking mode.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// let a = a.into_std()?;
    /// a.set_nonblocking(false)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<net::UnixStream> {
        Ok(self.io.into_inner().into())
    }

    pub(super) fn poll_read_priv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.io.poll_io(cx, Direction::Read, |mut s| s.read(buf))
    }

    pub(super) fn poll_read_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.io
            .poll_io(cx, Direction::Read, |mut s| s.read_vectored(bufs))
    }

    pub(super) fn poll_write_priv(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.io.poll_io(cx, Direction::Write, |mut s| s.write(buf))
    }

    pub(super) fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.io
            .poll_io(cx, Direction::Write, |mut s| s.write_vectored(bufs))
    }

    pub(super) fn poll_close_priv(&self) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

/// The outcome of a non-blocking connect once the socket is writable; see
/// the TCP one.
fn connect_outcome(stream: &mio::net::UnixStream) -> io::Result<()> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

impl std::os::fd::AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

stream_io!(UnixStream; read: UnixStream, |s| s);
stream_io!(UnixStream; write: UnixStream, |s| s);
stream_io!(UnixStream; read: &UnixStream, |s| *s);
stream_io!(UnixStream; write: &UnixStream, |s| *s);

#[cfg(feature = "hyper")]
impl UnixStream {
    /// Polls a read into memory that may be uninitialised (hyper's read
    /// buffer), with no zero fill first; `Ok(n)`: the first `n` bytes of
    /// `buf` are now initialised. For `net/hyper_io.rs`.
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.io
            .poll_io(cx, Direction::Read, |s| super::hyper_io::read_uninit(s, buf))
    }
}
