//! [`TcpListener`] and its [`Incoming`] stream (re-exported from
//! [`net::tcp`](super::tcp)).

use super::{each_addr, TcpStream, ToSocketAddrs};
use crate::reactor::{Direction, PollEvented};
use futures_core::Stream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{self, SocketAddr};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A TCP socket listening for connections.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let server = corral::spawn(async move {
///     let (mut stream, _peer) = listener.accept().await?;
///     let mut buf = [0; 5];
///     stream.read_exact(&mut buf).await?;
///     stream.write_all(&buf).await?; // echo
///     Ok::<_, std::io::Error>(())
/// });
/// let mut client = TcpStream::connect(addr).await?;
/// client.write_all(b"hello").await?;
/// let mut echo = [0; 5];
/// client.read_exact(&mut echo).await?;
/// assert_eq!(&echo, b"hello");
/// server.await??;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
}

/// The accept queue length `bind` asks for (tokio's).
#[cfg(target_os = "linux")]
const BACKLOG: libc::c_int = 1024;

/// mio listens with a fixed backlog of 128; on Linux, calling `listen`
/// again on a listening socket just resizes its queue.
#[cfg(target_os = "linux")]
fn raise_backlog(listener: &mio::net::TcpListener) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `listen` on a descriptor we own and keep open for the call;
    // it only changes the queue length of an already listening socket.
    if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn raise_backlog(_: &mio::net::TcpListener) -> io::Result<()> {
    Ok(())
}

impl TcpListener {
    /// Binds a listener to `addr`, trying each address it names in turn
    /// and returning the last error if none works.
    ///
    /// The socket gets `SO_REUSEADDR` (so a server can restart while old
    /// connections linger in `TIME_WAIT`) and, on Linux, a backlog of 1024
    /// (as tokio; elsewhere mio's 128): connections beyond it wait for the
    /// client's SYN retry, so keep the accept loop prompt. For another
    /// backlog, build the socket yourself and use
    /// [`from_std`](Self::from_std). Binding
    /// to port 0 picks a free port: see [`local_addr`](Self::local_addr).
    /// Host names are resolved on the blocking pool (see
    /// [`ToSocketAddrs`]).
    ///
    /// Errors: those of `bind(2)` / `listen(2)` (`AddrInUse`,
    /// `PermissionDenied`, ...), a failed lookup, or `NotConnected` when
    /// called outside a runtime.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes leaves nothing
    /// bound (a lookup already running on the blocking pool finishes there
    /// and is discarded).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let listener = corral::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(&addr, |addr| async move {
            let listener = mio::net::TcpListener::bind(addr)?;
            raise_backlog(&listener)?;
            TcpListener::new(listener)
        })
        .await
    }

    pub(crate) fn new(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::new(listener)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// An error from `accept(2)` is returned as is and the listener keeps
    /// working: `ConnectionAborted` (the peer gave up while queued) or
    /// running out of file descriptors (`EMFILE`, `ENFILE`: raw OS error
    /// 24 / 23) concern that one attempt. A server loop should log such an
    /// error and accept again; after `EMFILE` it may want to pause briefly,
    /// since the pending connection stays queued until a descriptor is
    /// free.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken off the queue only in the poll
    /// that returns it, so dropping the future loses none.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, peer) = listener.accept().await?;
    /// assert_eq!(peer, client.local_addr()?);
    /// assert_eq!(server.peer_addr()?, client.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection: `Ready` with it (or with the error of this
    /// attempt, see [`accept`](Self::accept)), or `Pending` with `cx`'s
    /// waker stored for when one arrives.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let _client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (_stream, _peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) = ready!(self.io.poll_io(cx, Direction::Read, |l| l.accept()))?;
        Poll::Ready(TcpStream::new(stream).map(|s| (s, addr)))
    }

    /// A stream of incoming connections: [`accept`](Self::accept) in a
    /// loop. It never ends; each error is yielded as an item and the
    /// stream keeps going.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    /// use futures_util::StreamExt;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let _a = TcpStream::connect(addr).await?;
    /// let _b = TcpStream::connect(addr).await?;
    /// let streams: Vec<_> = listener.incoming().take(2).collect().await;
    /// assert!(streams.iter().all(|s| s.is_ok()));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to (with the port picked, if it
    /// was bound to port 0).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let listener = corral::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(listener.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `IP_TTL`: the time-to-live of the packets sent by accepted
    /// sockets.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let listener = corral::net::TcpListener::bind("127.0.0.1:0").await?;
    /// listener.set_ttl(42)?;
    /// assert_eq!(listener.ttl()?, 42);
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
    /// let listener = corral::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(listener.ttl()? > 0);
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
    /// let listener = corral::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(listener.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Wraps a listener from the standard library, switching it to
    /// non-blocking mode and registering it with the current runtime.
    ///
    /// Errors outside a runtime (`NotConnected`).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let listener = corral::net::TcpListener::from_std(std_listener)?;
    /// # let _ = listener;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::new(mio::net::TcpListener::from_std(listener))
    }

    /// Deregisters the listener and returns it as a standard-library one,
    /// still in non-blocking mode (call `set_nonblocking(false)` for
    /// blocking use).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let listener = corral::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let std_listener = listener.into_std()?;
    /// assert_eq!(std_listener.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<net::TcpListener> {
        Ok(self.io.into_inner().into())
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// The stream of connections returned by [`TcpListener::incoming`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::net::{TcpListener, TcpStream};
/// use futures_util::StreamExt;
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let _client = TcpStream::connect(listener.local_addr()?).await?;
/// let mut incoming = listener.incoming();
/// let stream = incoming.next().await.unwrap()?;
/// # let _ = stream;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Incoming<'_> {
    /// Polls for the next connection, like [`TcpListener::poll_accept`]
    /// without the peer address.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    /// use std::future::poll_fn;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let _client = TcpStream::connect(listener.local_addr()?).await?;
    /// let incoming = listener.incoming();
    /// let _stream = poll_fn(|cx| incoming.poll_accept(cx)).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        let (stream, _) = ready!(self.listener.poll_accept(cx))?;
        Poll::Ready(Ok(stream))
    }
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_accept(cx).map(Some)
    }
}
