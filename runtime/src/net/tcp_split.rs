//! The halves of a [`TcpStream`]: borrowed ([`ReadHalf`], [`WriteHalf`],
//! from [`TcpStream::split`]) and owned ([`OwnedReadHalf`],
//! [`OwnedWriteHalf`], from [`TcpStream::into_split`]), re-exported from
//! [`net::tcp`](super::tcp).
//!
//! The owned halves share the stream through an `Arc`; the write half
//! shuts the write direction down when dropped, unless `reunite` took the
//! stream back (`shutdown_on_drop`).

use super::TcpStream;
use crate::loom::Arc;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};

/// Borrowed halves (`TcpStream::split`).
pub(super) fn split(stream: &mut TcpStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(stream), WriteHalf(stream))
}

/// Owned halves (`TcpStream::into_split`).
pub(super) fn into_split(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let inner = Arc::new(stream);
    let read = OwnedReadHalf { inner: inner.clone() };
    let write = OwnedWriteHalf {
        inner,
        shutdown_on_drop: true,
    };
    (read, write)
}

stream_io!(TcpStream; read: ReadHalf<'_>, |h| h.0);
stream_io!(TcpStream; write: WriteHalf<'_>, |h| h.0);
stream_io!(TcpStream; read: OwnedReadHalf, |h| &*h.inner);
stream_io!(TcpStream; write: OwnedWriteHalf, |h| &*h.inner);

/// The read half of a borrowed [`TcpStream::split`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// server.write_all(b"!").await?;
/// let (mut rd, _wr) = TcpStream::split(&mut client);
/// let mut buf = [0; 1];
/// rd.read_exact(&mut buf).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a TcpStream);

/// The write half of a borrowed [`TcpStream::split`]. Closing it shuts
/// down the stream's write direction; dropping it does nothing.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::AsyncWriteExt;
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (_rd, mut wr) = TcpStream::split(&mut client);
/// wr.write_all(b"!").await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a TcpStream);

impl AsRef<TcpStream> for ReadHalf<'_> {
    fn as_ref(&self) -> &TcpStream {
        self.0
    }
}

impl AsRef<TcpStream> for WriteHalf<'_> {
    fn as_ref(&self) -> &TcpStream {
        self.0
    }
}

/// The owned read half of [`TcpStream::into_split`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// let (mut rd, _wr) = client.into_split();
/// let reader = corral::spawn(async move {
///     let mut buf = [0; 3];
///     rd.read_exact(&mut buf).await.map(|()| buf)
/// });
/// server.write_all(b"abc").await?;
/// assert_eq!(&reader.await??, b"abc");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Arc<TcpStream>,
}

/// The owned write half of [`TcpStream::into_split`].
///
/// Dropping it (or closing it) shuts the stream's write direction down,
/// so the peer reads end-of-file; reading through the other half goes on.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// let (_rd, mut wr) = client.into_split();
/// wr.write_all(b"bye").await?;
/// drop(wr);
/// let mut got = Vec::new();
/// server.read_to_end(&mut got).await?; // ends: the write half is gone
/// assert_eq!(got, b"bye");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Arc<TcpStream>,
    /// False once `reunite` takes the stream back.
    shutdown_on_drop: bool,
}

/// The halves passed to `reunite` came from different streams; both are
/// handed back.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let (rd_a, _wr_a) = TcpStream::connect(listener.local_addr()?).await?.into_split();
/// let (_rd_b, wr_b) = TcpStream::connect(listener.local_addr()?).await?.into_split();
/// let err = rd_a.reunite(wr_b).unwrap_err();
/// let (_rd_a, _wr_b) = (err.0, err.1);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same TCP stream")
    }
}

impl std::error::Error for ReuniteError {}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
    if !Arc::ptr_eq(&read.inner, &write.inner) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    // The two halves were the only owners and `write` is gone.
    Ok(Arc::try_unwrap(read.inner).expect("a TCP stream's halves are its only owners"))
}

impl OwnedReadHalf {
    /// Puts the stream back together; errors (handing both halves back)
    /// if `other` came from a different stream. Nothing is shut down.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let (rd, wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// let stream = rd.reunite(wr)?;
    /// # let _ = stream;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        reunite(self, other)
    }

    /// The peer's address; see [`TcpStream::peer_addr`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let (rd, _wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// assert_eq!(rd.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address; see [`TcpStream::local_addr`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let (rd, _wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// assert!(rd.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Peeks at incoming data; see [`TcpStream::peek`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::AsyncWriteExt;
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let (rd, _wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// let (mut server, _) = listener.accept().await?;
    /// server.write_all(b"?").await?;
    /// let mut buf = [0; 1];
    /// assert_eq!(rd.peek(&mut buf).await?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }

    /// Waits until the stream is readable; see [`TcpStream::readable`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::AsyncWriteExt;
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let (rd, _wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// let (mut server, _) = listener.accept().await?;
    /// server.write_all(b"?").await?;
    /// rd.readable().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }
}

impl OwnedWriteHalf {
    /// Puts the stream back together; see [`OwnedReadHalf::reunite`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let (rd, wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// let stream = wr.reunite(rd)?;
    /// # let _ = stream;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        reunite(other, self)
    }

    /// The peer's address; see [`TcpStream::peer_addr`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let (_rd, wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// assert_eq!(wr.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address; see [`TcpStream::local_addr`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let (_rd, wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// assert!(wr.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Waits until the stream is writable; see [`TcpStream::writable`].
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
    /// let (_rd, wr) = TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// wr.writable().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // As in `close`; an error (the peer already reset the
            // connection) leaves nothing to shut down.
            let _ = self.inner.shutdown_with(Shutdown::Write);
        }
    }
}

impl AsRef<TcpStream> for OwnedReadHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.inner
    }
}

impl AsRef<TcpStream> for OwnedWriteHalf {
    fn as_ref(&self) -> &TcpStream {
        &self.inner
    }
}
