//! The halves of a [`UnixStream`], borrowed and owned, re-exported from
//! [`net::unix`](super::unix); the same design as the TCP ones.

use super::UnixStream;
use crate::loom::Arc;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;

/// Borrowed halves (`UnixStream::split`).
pub(super) fn split(stream: &mut UnixStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(stream), WriteHalf(stream))
}

/// Owned halves (`UnixStream::into_split`).
pub(super) fn into_split(stream: UnixStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let inner = Arc::new(stream);
    let read = OwnedReadHalf { inner: inner.clone() };
    let write = OwnedWriteHalf {
        inner,
        shutdown_on_drop: true,
    };
    (read, write)
}

stream_io!(UnixStream; read: ReadHalf<'_>, |h| h.0);
stream_io!(UnixStream; write: WriteHalf<'_>, |h| h.0);
stream_io!(UnixStream; read: OwnedReadHalf, |h| &*h.inner);
stream_io!(UnixStream; write: OwnedWriteHalf, |h| &*h.inner);

/// The read half of a borrowed [`UnixStream::split`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::UnixStream;
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// b.write_all(b"!").await?;
/// let (mut rd, _wr) = UnixStream::split(&mut a);
/// let mut buf = [0; 1];
/// rd.read_exact(&mut buf).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a UnixStream);

/// The write half of a borrowed [`UnixStream::split`]. Closing it shuts
/// down the stream's write direction; dropping it does nothing.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::AsyncWriteExt;
/// use corral::net::UnixStream;
///
/// let (mut a, _b) = UnixStream::pair()?;
/// let (_rd, mut wr) = UnixStream::split(&mut a);
/// wr.write_all(b"!").await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a UnixStream);

impl AsRef<UnixStream> for ReadHalf<'_> {
    fn as_ref(&self) -> &UnixStream {
        self.0
    }
}

impl AsRef<UnixStream> for WriteHalf<'_> {
    fn as_ref(&self) -> &UnixStream {
        self.0
    }
}

/// The owned read half of [`UnixStream::into_split`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (a, mut b) = corral::net::UnixStream::pair()?;
/// let (mut rd, _wr) = a.into_split();
/// let reader = corral::spawn(async move {
///     let mut buf = [0; 2];
///     rd.read_exact(&mut buf).await.map(|()| buf)
/// });
/// b.write_all(b"ok").await?;
/// assert_eq!(&reader.await??, b"ok");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Arc<UnixStream>,
}

/// The owned write half of [`UnixStream::into_split`]. Dropping (or
/// closing) it shuts the stream's write direction down.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (a, mut b) = corral::net::UnixStream::pair()?;
/// let (_rd, mut wr) = a.into_split();
/// wr.write_all(b"end").await?;
/// drop(wr);
/// let mut got = Vec::new();
/// b.read_to_end(&mut got).await?;
/// assert_eq!(got, b"end");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Arc<UnixStream>,
    /// False once `reunite` takes the stream back.
    shutdown_on_drop: bool,
}

/// The halves passed to `reunite` came from different streams; both are
/// handed back.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::net::UnixStream;
///
/// let (a, b) = UnixStream::pair()?;
/// let (rd_a, _wr_a) = a.into_split();
/// let (_rd_b, wr_b) = b.into_split();
/// let err = rd_a.reunite(wr_b).unwrap_err();
/// let (_rd_a, _wr_b) = (err.0, err.1);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same Unix stream")
    }
}

impl std::error::Error for ReuniteError {}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<UnixStream, ReuniteError> {
    if !Arc::ptr_eq(&read.inner, &write.inner) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    // The two halves were the only owners and `write` is gone.
    Ok(Arc::try_unwrap(read.inner).expect("a Unix stream's halves are its only owners"))
}

impl OwnedReadHalf {
    /// Puts the stream back together; errors (handing both halves back)
    /// if `other` came from a different stream. Nothing is shut down.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// let (rd, wr) = a.into_split();
    /// let a = rd.reunite(wr)?;
    /// # let _ = a;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<UnixStream, ReuniteError> {
        reunite(self, other)
    }

    /// The peer's address; see [`UnixStream::peer_addr`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// let (rd, _wr) = a.into_split();
    /// assert!(rd.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address; see [`UnixStream::local_addr`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// let (rd, _wr) = a.into_split();
    /// assert!(rd.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Waits until the stream is readable; see [`UnixStream::readable`].
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
    /// let (rd, _wr) = a.into_split();
    /// b.write_all(b"x").await?;
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
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// let (rd, wr) = a.into_split();
    /// let a = wr.reunite(rd)?;
    /// # let _ = a;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reunite(self, other: OwnedReadHalf) -> Result<UnixStream, ReuniteError> {
        reunite(other, self)
    }

    /// The peer's address; see [`UnixStream::peer_addr`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// let (_rd, wr) = a.into_split();
    /// assert!(wr.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address; see [`UnixStream::local_addr`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// let (_rd, wr) = a.into_split();
    /// assert!(wr.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Waits until the stream has room to write; see
    /// [`UnixStream::writable`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (a, _b) = corral::net::UnixStream::pair()?;
    /// let (_rd, wr) = a.into_split();
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
            // As in `close`; an error (the peer is gone) leaves nothing to
            // shut down.
            let _ = self.inner.shutdown_with(Shutdown::Write);
        }
    }
}

impl AsRef<UnixStream> for OwnedReadHalf {
    fn as_ref(&self) -> &UnixStream {
        &self.inner
    }
}

impl AsRef<UnixStream> for OwnedWriteHalf {
    fn as_ref(&self) -> &UnixStream {
        &self.inner
    }
}
