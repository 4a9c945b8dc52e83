//! [`TcpSocket`]: a TCP socket configured before it connects or listens.

use super::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// A TCP socket not yet connected or listening: set options, `bind`, then
/// [`connect`](Self::connect) or [`listen`](Self::listen).
///
/// For what [`TcpListener::bind`] and [`TcpStream::connect`] do not
/// offer: binding the local end of an outgoing connection, `SO_REUSEPORT`,
/// buffer sizes, a listen backlog of your choice.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::net::TcpSocket;
///
/// let socket = TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// socket.bind("127.0.0.1:0".parse().unwrap())?;
/// let listener = socket.listen(128)?;
///
/// let client = TcpSocket::new_v4()?;
/// client.bind("127.0.0.1:0".parse().unwrap())?; // choose the local end
/// let local = client.local_addr()?;
/// let stream = client.connect(listener.local_addr()?).await?;
/// assert_eq!(stream.local_addr()?, local);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct TcpSocket {
    inner: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket (non-blocking, close-on-exec).
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// # let _ = socket;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket (non-blocking, close-on-exec).
    ///
    /// ```
    /// // (IPv6 may be off in a sandbox: creating the socket is what counts.)
    /// let socket = corral::net::TcpSocket::new_v6();
    /// # let _ = socket;
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let inner = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        inner.set_nonblocking(true)?;
        Ok(TcpSocket { inner })
    }

    /// Sets `SO_REUSEADDR`: bind to an address whose old connections still
    /// linger in `TIME_WAIT`.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.set_reuseaddr(true)?;
    /// assert!(socket.reuseaddr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuse)
    }

    /// Gets `SO_REUSEADDR`.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// assert!(!socket.reuseaddr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: several sockets may bind the same address and
    /// port (Linux spreads incoming connections across their listeners).
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.set_reuseport(true)?;
    /// assert!(socket.reuseport()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuse)
    }

    /// Gets `SO_REUSEPORT`.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// assert!(!socket.reuseport()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Sets `SO_SNDBUF`, the send buffer size (the kernel may round or
    /// double it).
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.set_send_buffer_size(64 * 1024)?;
    /// assert!(socket.send_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// Gets `SO_SNDBUF`.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// assert!(socket.send_buffer_size()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner.send_buffer_size().map(|n| n as u32)
    }

    /// Sets `SO_RCVBUF`, the receive buffer size (the kernel may round or
    /// double it).
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.set_recv_buffer_size(64 * 1024)?;
    /// assert!(socket.recv_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// Gets `SO_RCVBUF`.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// assert!(socket.recv_buffer_size()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner.recv_buffer_size().map(|n| n as u32)
    }

    /// Sets `SO_KEEPALIVE`: probe an idle connection (with the system's
    /// timings).
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.set_keepalive(true)?;
    /// assert!(socket.keepalive()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// Gets `SO_KEEPALIVE`.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// assert!(!socket.keepalive()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `SO_LINGER`; see [`TcpStream::set_linger`].
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.set_linger(Some(Duration::from_secs(1)))?;
    /// assert_eq!(socket.linger()?, Some(Duration::from_secs(1)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.inner.set_linger(linger)
    }

    /// Gets `SO_LINGER`.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// assert_eq!(socket.linger()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// Sets `TCP_NODELAY`; see [`TcpStream::set_nodelay`].
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.set_nodelay(true)?;
    /// assert!(socket.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Gets `TCP_NODELAY`.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// assert!(!socket.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// Binds the socket to `addr` (port 0: any free port).
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&addr.into())
    }

    /// The local address the socket is bound to.
    ///
    /// ```
    /// let socket = corral::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()?.as_socket().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the socket's local address is not an IP address",
            )
        })
    }

    /// Starts listening with room for `backlog` pending connections, and
    /// registers the listener with the current runtime. Bind first (an
    /// unbound socket listens on an ephemeral port of every interface).
    ///
    /// Errors: those of `listen(2)`, or `NotConnected` outside a runtime.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::TcpSocket;
    ///
    /// let socket = TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// let listener = socket.listen(16)?;
    /// assert!(listener.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.inner.listen(backlog.min(i32::MAX as u32) as i32)?;
        let std: std::net::TcpListener = self.inner.into();
        TcpListener::new(mio::net::TcpListener::from_std(std))
    }

    /// Connects to `addr` and waits until the connection is established;
    /// see [`TcpStream::connect`] for the errors. Bind first to choose the
    /// local end.
    ///
    /// # Cancel safety
    ///
    /// Not resumable: dropping the future abandons the connection.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::{TcpListener, TcpSocket};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_nodelay(true)?;
    /// let stream = socket.connect(listener.local_addr()?).await?;
    /// assert!(stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.inner.connect(&addr.into()) {
            Ok(()) => {}
            // A non-blocking connect reports that it started.
            #[cfg(unix)]
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let std: std::net::TcpStream = self.inner.into();
        TcpStream::connecting(mio::net::TcpStream::from_std(std)).await
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}
