//! UDP: [`UdpSocket`].

use super::{each_addr, resolve, ToSocketAddrs};
use crate::reactor::{Direction, PollEvented};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::{Context, Poll};

/// A UDP socket: datagrams to and from any address, or to and from one
/// peer after [`connect`](Self::connect).
///
/// Each send is one datagram and each receive takes one whole datagram: a
/// buffer too small for it gets the first bytes and the rest is discarded
/// (as with `recv(2)`), so size buffers for the largest datagram expected
/// (at most 65,507 bytes over IPv4).
///
/// One task may receive while another sends (share the socket in an
/// `Arc`); two tasks receiving at once are not supported (see
/// [the module docs](crate::net#one-waiter-per-direction)).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"hello", b.local_addr()?).await?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct UdpSocket {
    io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr`, trying each address it names in turn and
    /// returning the last error if none works. Port 0 picks a free port.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaves nothing bound.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let socket = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(&addr, |addr| async move {
            UdpSocket::new(mio::net::UdpSocket::bind(addr)?)
        })
        .await
    }

    fn new(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollEvented::new(socket)?,
        })
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts datagrams from, trying each
    /// address `addr` names in turn. Nothing is sent: UDP has no
    /// handshake, so an absent peer shows up later, as a
    /// `ConnectionRefused` from a send or receive after the peer's host
    /// answered with ICMP "port unreachable".
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped, the socket is connected to
    /// one of the addresses or left as it was.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(&addr, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// Sends `buf` as one datagram to the connected peer; returns the
    /// number of bytes sent (all of them: a datagram is never split).
    /// Errors if the socket is not connected, or with `ConnectionRefused`
    /// if an earlier datagram found no one listening.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is sent in the poll that returns `Ready`,
    /// or not at all.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// assert_eq!(a.send(b"one datagram").await?, 12);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Polls a [`send`](Self::send).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    /// use std::future::poll_fn;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(a.local_addr()?).await?; // talk to ourselves
    /// poll_fn(|cx| a.poll_send(cx, b"x")).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Write, |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer into `buf`; returns
    /// its length (cut to `buf.len()` if the datagram was longer).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken only in the poll that returns it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"ping").await?;
    /// let mut buf = [0; 8];
    /// let n = b.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"ping");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// Polls a [`recv`](Self::recv).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    /// use std::future::poll_fn;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(a.local_addr()?).await?;
    /// a.send(b"x").await?;
    /// let mut buf = [0; 1];
    /// assert_eq!(poll_fn(|cx| a.poll_recv(cx, &mut buf)).await?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Read, |s| s.recv(buf))
    }

    /// Receives one datagram from the connected peer without waiting:
    /// `WouldBlock` if none is queued (wait with
    /// [`readable`](Self::readable)). Only a `WouldBlock` clears the
    /// read readiness: a small datagram says nothing about the next.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(a.local_addr()?).await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(a.try_recv(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// a.writable().await?; // readiness arrives with the reactor's first event
    /// a.try_send(b"x")?;
    /// a.readable().await?;
    /// assert_eq!(a.try_recv(&mut buf)?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_any_io(Direction::Read, |s| s.recv(buf))
    }

    /// Receives one datagram and its sender's address without waiting:
    /// `WouldBlock` if none is queued.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.writable().await?;
    /// a.try_send_to(b"hi", b.local_addr()?)?;
    /// b.readable().await?;
    /// let mut buf = [0; 8];
    /// let (n, from) = b.try_recv_from(&mut buf)?;
    /// assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_any_io(Direction::Read, |s| s.recv_from(buf))
    }

    /// Sends one datagram to the connected peer without waiting:
    /// `WouldBlock` if the send buffer is full.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(a.local_addr()?).await?;
    /// a.writable().await?;
    /// assert_eq!(a.try_send(b"ping")?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_any_io(Direction::Write, |s| s.send(buf))
    }

    /// Sends one datagram to `target` (an address, no lookup) without
    /// waiting: `WouldBlock` if the send buffer is full.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.writable().await?;
    /// assert_eq!(a.try_send_to(b"ping", a.local_addr()?)?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_any_io(Direction::Write, |s| s.send_to(buf, target))
    }

    /// Sends `buf` as one datagram to `target`. If `target` names several
    /// addresses (a host name), the first is used.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the datagram is sent in the poll that returns `Ready`,
    /// or not at all (a host name being looked up is abandoned).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// assert_eq!(a.send_to(b"hi", b.local_addr()?).await?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = resolve(&target)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to send to"))?;
        poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Polls a [`send_to`](Self::send_to) to an address already resolved.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    /// use std::future::poll_fn;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let to = a.local_addr()?;
    /// poll_fn(|cx| a.poll_send_to(cx, b"x", to)).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, Direction::Write, |s| s.send_to(buf, target))
    }

    /// Receives one datagram into `buf`; returns its length (cut to
    /// `buf.len()` if it was longer) and the sender's address.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken only in the poll that returns it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"12345", b.local_addr()?).await?;
    /// let mut small = [0; 3];
    /// let (n, from) = b.recv_from(&mut small).await?;
    /// assert_eq!((n, &small, from), (3, b"123", a.local_addr()?)); // the rest is gone
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// Polls a [`recv_from`](Self::recv_from).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    /// use std::future::poll_fn;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"x", a.local_addr()?).await?;
    /// let mut buf = [0; 1];
    /// let (n, _from) = poll_fn(|cx| a.poll_recv_from(cx, &mut buf)).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(cx, Direction::Read, |s| s.recv_from(buf))
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued:
    /// the next receive gets it again.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"again", a.local_addr()?).await?;
    /// let mut buf = [0; 8];
    /// let (n, _) = a.peek_from(&mut buf).await?;
    /// let (m, _) = a.recv_from(&mut buf).await?;
    /// assert_eq!((n, m), (5, 5));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_peek_from(cx, buf)).await
    }

    /// Polls a [`peek_from`](Self::peek_from).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    /// use std::future::poll_fn;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"x", a.local_addr()?).await?;
    /// let mut buf = [0; 1];
    /// let (n, from) = poll_fn(|cx| a.poll_peek_from(cx, &mut buf)).await?;
    /// assert_eq!((n, from), (1, a.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(cx, Direction::Read, |s| s.peek_from(buf))
    }

    /// Like [`recv`](Self::recv), but leaves the datagram queued.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(a.local_addr()?).await?;
    /// a.send(b"abc").await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(a.peek(&mut buf).await?, 3);
    /// assert_eq!(a.recv(&mut buf).await?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |s| s.peek(buf))).await
    }

    /// Waits until a datagram (or an error) is there to be received. A
    /// hint: see [`TcpStream::readable`](crate::net::TcpStream::readable).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"x", a.local_addr()?).await?;
    /// a.readable().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Read)).await
    }

    /// Waits until the socket has room to send. A hint: see
    /// [`TcpStream::readable`](crate::net::TcpStream::readable).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.writable().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Write)).await
    }

    /// The address the socket is bound to.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The address the socket is connected to; `NotConnected` if
    /// [`connect`](Self::connect) was never called.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert_eq!(a.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`: whether datagrams may go to a broadcast
    /// address.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.set_broadcast(true)?;
    /// assert!(a.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Gets `SO_BROADCAST`; see [`set_broadcast`](Self::set_broadcast).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(!a.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets `IP_TTL`: the time-to-live of the datagrams this socket sends.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.set_ttl(9)?;
    /// assert_eq!(a.ttl()?, 9);
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
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with
    /// address `interface` (`UNSPECIFIED`: let the system choose).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::net::Ipv4Addr;
    /// let a = corral::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// let group = Ipv4Addr::new(239, 255, 0, 1);
    /// // May fail on a host without a multicast route; the call is the point.
    /// if a.join_multicast_v4(group, Ipv4Addr::UNSPECIFIED).is_ok() {
    ///     a.leave_multicast_v4(group, Ipv4Addr::UNSPECIFIED)?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves a group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::net::Ipv4Addr;
    /// let a = corral::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// // Leaving a group never joined is an error.
    /// assert!(a.leave_multicast_v4(Ipv4Addr::new(239, 255, 0, 2), Ipv4Addr::UNSPECIFIED).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with
    /// index `interface` (0: let the system choose).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::net::Ipv6Addr;
    /// # let Ok(a) = corral::net::UdpSocket::bind("[::]:0").await else { return Ok(()) };
    /// let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x123);
    /// if a.join_multicast_v6(group, 0).is_ok() {
    ///     a.leave_multicast_v6(group, 0)?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().join_multicast_v6(&multiaddr, interface)
    }

    /// Leaves a group joined with
    /// [`join_multicast_v6`](Self::join_multicast_v6).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::net::Ipv6Addr;
    /// # let Ok(a) = corral::net::UdpSocket::bind("[::]:0").await else { return Ok(()) };
    /// assert!(a.leave_multicast_v6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x124), 0).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v6(&multiaddr, interface)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether multicast datagrams this socket
    /// sends are looped back to local listeners.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.set_multicast_loop_v4(false)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v4(on)
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let a = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Wraps a socket from the standard library, switching it to
    /// non-blocking mode and registering it with the current runtime.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let socket = corral::net::UdpSocket::from_std(std_socket)?;
    /// # let _ = socket;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::new(mio::net::UdpSocket::from_std(socket))
    }

    /// Deregisters the socket and returns it as a standard-library one,
    /// still in non-blocking mode.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let socket = corral::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let std_socket = socket.into_std()?;
    /// std_socket.set_nonblocking(false)?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<net::UdpSocket> {
        Ok(self.io.into_inner().into())
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
