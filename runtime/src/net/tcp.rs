//! TCP: [`TcpListener`], [`TcpStream`], and the stream's halves.
//!
//! (The listener lives in `tcp_listener.rs` and the halves in
//! `tcp_split.rs`; all are public here.)
//!
//! A stream is one registered socket. Its read side (`poll_read`, `peek`,
//! `readable`) and write side (`poll_write`, `writable`) wait on the two
//! directions of that one registration, so one task may read while another
//! writes: through `&TcpStream` (which implements the I/O traits too), the
//! borrowed halves of [`TcpStream::split`], or the owned halves of
//! [`TcpStream::into_split`], which share the stream through an `Arc`.
//! Dropping an [`OwnedWriteHalf`] shuts the write direction down (the peer
//! reads end-of-file), as tokio's does; [`OwnedReadHalf::reunite`] puts the
//! two halves back together without shutting anything down.

pub use super::tcp_listener::{Incoming, TcpListener};
pub use super::tcp_split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};

use super::{each_addr, tcp_split, ToSocketAddrs};
use crate::reactor::{Direction, PollEvented};
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{self, Shutdown, SocketAddr};
use std::task::{Context, Poll};

/// A TCP connection.
///
/// Read and write it with the `corral::io` extension traits
/// (`AsyncReadExt`, `AsyncWriteExt`, from `futures-util`). `&TcpStream`
/// implements the traits too, so one task can read while another writes;
/// see also [`split`](Self::split) and [`into_split`](Self::into_split).
/// Closing the stream (`AsyncWriteExt::close`) shuts down the write
/// direction; dropping it closes the socket.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_all(b"ping").await?;
/// client.close().await?; // the server will read end-of-file after "ping"
/// let mut got = Vec::new();
/// server.read_to_end(&mut got).await?;
/// assert_eq!(got, b"ping");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct TcpStream {
    io: PollEvented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it names in turn and
    /// returning the last error if none accepts.
    ///
    /// The connection is started non-blocking; the future waits until the
    /// socket is writable and then checks the outcome (`SO_ERROR`, then the
    /// peer's address), so a refused connection is
    /// `ErrorKind::ConnectionRefused`, an unreachable one
    /// `HostUnreachable` / `NetworkUnreachable`, and so on. There is no
    /// built-in timeout: wrap the call in
    /// [`time::timeout`](crate::time::timeout) to bound it.
    ///
    /// # Cancel safety
    ///
    /// Not resumable: dropping the future abandons (closes) the connection
    /// being attempted; a new call starts over.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let stream = TcpStream::connect(addr).await?;
    /// assert_eq!(stream.peer_addr()?, addr);
    ///
    /// drop(listener); // nothing listens there any more
    /// let err = TcpStream::connect(addr).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(&addr, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::new(mio::net::TcpStream::connect(addr)?)?;
        poll_fn(|cx| stream.io.poll_io(cx, Direction::Write, connect_outcome)).await?;
        Ok(stream)
    }

    pub(crate) fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// The address of the peer.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address of this end.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(stream.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY`: true sends small writes at once instead of
    /// coalescing them (Nagle's algorithm).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Gets `TCP_NODELAY`; see [`set_nodelay`](Self::set_nodelay).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(!stream.nodelay()?); // off by default
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `IP_TTL`: the time-to-live of the packets this socket sends.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_ttl(7)?;
    /// assert_eq!(stream.ttl()?, 7);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// Gets `IP_TTL`; see [`set_ttl`](Self::set_ttl).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(stream.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(stream.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Shuts down the read, write, or both directions, at once (like
    /// [`std::net::TcpStream::shutdown`]).
    ///
    /// After `Shutdown::Write` the peer reads end-of-file once it has read
    /// what was sent, and writes here fail with `BrokenPipe`; reading goes
    /// on. Closing the stream through `AsyncWrite::poll_close` does the
    /// same.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::AsyncReadExt;
    /// use corral::net::{TcpListener, TcpStream};
    /// use std::net::Shutdown;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// client.shutdown(Shutdown::Write)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(server.read(&mut buf).await?, 0); // end-of-file
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Reads into `buf` without taking the data off the socket: the next
    /// read sees it again. Waits until data (or end-of-file, `Ok(0)`) is
    /// there.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, AsyncWriteExt};
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// client.write_all(b"hi").await?;
    /// let mut buf = [0; 2];
    /// assert_eq!(server.peek(&mut buf).await?, 2);
    /// server.read_exact(&mut buf).await?; // still there
    /// assert_eq!(&buf, b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_peek(cx, buf)).await
    }

    /// Polls a [`peek`](Self::peek).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::AsyncWriteExt;
    /// use corral::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, _) = listener.accept().await?;
    /// client.write_all(b"x").await?;
    /// let mut buf = [0; 1];
    /// assert_eq!(poll_fn(|cx| server.poll_peek(cx, &mut buf)).await?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Read, |s| s.peek(buf))
    }

    /// Waits until the socket is readable: data, end-of-file, or an error
    /// is there to be read.
    ///
    /// Readiness is a hint: it stays set until a read finds nothing
    /// (`WouldBlock`), so after a read that emptied the socket this may
    /// return at once and the next read wait. Use it to wait for traffic
    /// before, say, allocating a buffer; the read itself never blocks.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, AsyncWriteExt};
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// client.write_all(b"data").await?;
    /// server.readable().await?;
    /// let mut buf = vec![0; 4];
    /// server.read_exact(&mut buf).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Read)).await
    }

    /// Waits until the socket is writable (there is room in the send
    /// buffer, or the connection failed). A hint, as for
    /// [`readable`](Self::readable).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// client.writable().await?; // a fresh connection has room
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Write)).await
    }

    /// Borrows the stream as a read half and a write half, for reading and
    /// writing from two futures at once (say, under `join`). Closing the
    /// write half shuts the write direction down; dropping it does
    /// nothing.
    ///
    /// Call it as `TcpStream::split(&mut stream)` (or `(&mut stream).split()`)
    /// when `corral::io::AsyncReadExt` is in scope: on an owned stream,
    /// `stream.split()` then resolves to that trait's `split`, which takes
    /// the stream by value and shares it behind a lock.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let mut client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// let echo = async {
    ///     use corral::io::AsyncWriteExt;
    ///     let (mut rd, mut wr) = TcpStream::split(&mut server);
    ///     let copied = corral::io::copy(&mut rd, &mut wr).await?; // until the client closes
    ///     wr.close().await?; // and so do we
    ///     Ok::<_, std::io::Error>(copied)
    /// };
    /// let talk = async {
    ///     use corral::io::{AsyncReadExt, AsyncWriteExt};
    ///     let (mut rd, mut wr) = TcpStream::split(&mut client);
    ///     wr.write_all(b"abc").await?;
    ///     wr.close().await?;
    ///     let mut back = Vec::new();
    ///     rd.read_to_end(&mut back).await?;
    ///     Ok::<_, std::io::Error>(back)
    /// };
    /// let (copied, back) = futures_util::future::join(echo, talk).await;
    /// assert_eq!((copied?, back?), (3, b"abc".to_vec()));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        tcp_split::split(self)
    }

    /// Splits the stream into owned halves that can move to different
    /// tasks. Dropping the [`OwnedWriteHalf`] shuts the write direction
    /// down; [`OwnedReadHalf::reunite`] puts the stream back together.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, AsyncWriteExt};
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// let (mut rd, mut wr) = client.into_split();
    /// let writer = corral::spawn(async move { wr.write_all(b"hello").await });
    /// let mut buf = [0; 5];
    /// server.read_exact(&mut buf).await?;
    /// server.write_all(b"world").await?;
    /// rd.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"world");
    /// writer.await??;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        tcp_split::into_split(self)
    }

    /// Wraps a connected stream from the standard library, switching it to
    /// non-blocking mode and registering it with the current runtime.
    ///
    /// Errors outside a runtime (`NotConnected`).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let stream = TcpStream::from_std(std_stream)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// Deregisters the stream and returns it as a standard-library one,
    /// still in non-blocking mode (call `set_nonblocking(false)` for
    /// blocking use).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// let std_stream = stream.into_std()?;
    /// std_stream.set_nonblocking(false)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<net::TcpStream> {
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

/// The outcome of a non-blocking connect, once the socket is writable:
/// `WouldBlock` (still in progress: wait for the next event), the error
/// the kernel recorded, or connected.
fn connect_outcome(stream: &mio::net::TcpStream) -> io::Result<()> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

stream_io!(TcpStream; read: TcpStream, |s| s);
stream_io!(TcpStream; write: TcpStream, |s| s);
stream_io!(TcpStream; read: &TcpStream, |s| *s);
stream_io!(TcpStream; write: &TcpStream, |s| *s);

#[cfg(feature = "hyper")]
impl TcpStream {
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
