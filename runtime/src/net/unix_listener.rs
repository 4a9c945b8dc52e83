//! [`UnixListener`] and its [`Incoming`] stream (re-exported from
//! [`net::unix`](super::unix)).

use super::UnixStream;
use crate::reactor::{Direction, PollEvented};
use futures_core::Stream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A Unix-domain socket listening for connections.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("corral-doc-listener-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let mut client = UnixStream::connect(&path).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_all(b"hi").await?;
/// let mut buf = [0; 2];
/// server.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hi");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UnixListener {
    io: PollEvented<mio::net::UnixListener>,
}

impl UnixListener {
    /// Creates the socket file at `path` and listens on it (with the
    /// system's largest backlog, `SOMAXCONN`).
    ///
    /// Errors with `AddrInUse` if the file exists (even a stale socket
    /// left by a dead process: remove it first), with `NotConnected`
    /// outside a runtime, or as `bind(2)` does.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("corral-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = corral::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::new(mio::net::UnixListener::bind(path)?)
    }

    fn new(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: PollEvented::new(listener)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address
    /// (usually unnamed). Errors concern that one attempt; the listener
    /// keeps working (see [`TcpListener::accept`](crate::net::TcpListener::accept)).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken off the queue only in the poll
    /// that returns it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("corral-doc-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let (_server, peer) = listener.accept().await?;
    /// assert!(peer.is_unnamed());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection; see [`accept`](Self::accept).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{UnixListener, UnixStream};
    /// use std::future::poll_fn;
    ///
    /// let path = std::env::temp_dir().join(format!("corral-doc-poll-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let (_server, _) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, addr) = ready!(self.io.poll_io(cx, Direction::Read, |l| l.accept()))?;
        Poll::Ready(UnixStream::new(stream).map(|s| (s, addr)))
    }

    /// A stream of incoming connections: [`accept`](Self::accept) in a
    /// loop. It never ends; errors are yielded as items.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{UnixListener, UnixStream};
    /// use futures_util::StreamExt;
    ///
    /// let path = std::env::temp_dir().join(format!("corral-doc-incoming-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let server = listener.incoming().next().await.unwrap()?;
    /// # let _ = server;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("corral-doc-laddr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = corral::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("corral-doc-lerr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = corral::net::UnixListener::bind(&path)?;
    /// assert!(listener.take_error()?.is_none());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Wraps a listener from the standard library, switching it to
    /// non-blocking mode and registering it with the current runtime.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("corral-doc-lstd-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = corral::net::UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path)?)?;
    /// # let _ = listener;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::new(mio::net::UnixListener::from_std(listener))
    }

    /// Deregisters the listener and returns it as a standard-library one,
    /// still in non-blocking mode.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("corral-doc-lintostd-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = corral::net::UnixListener::bind(&path)?;
    /// let std_listener = listener.into_std()?;
    /// std_listener.set_nonblocking(false)?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<net::UnixListener> {
        Ok(self.io.into_inner().into())
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

impl std::os::fd::AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// The stream of connections returned by [`UnixListener::incoming`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::net::{UnixListener, UnixStream};
/// use futures_util::StreamExt;
///
/// let path = std::env::temp_dir().join(format!("corral-doc-incoming2-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let _a = UnixStream::connect(&path).await?;
/// let _b = UnixStream::connect(&path).await?;
/// let accepted: Vec<_> = listener.incoming().take(2).collect().await;
/// assert_eq!(accepted.len(), 2);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(|r| Some(r.map(|(s, _)| s)))
    }
}
