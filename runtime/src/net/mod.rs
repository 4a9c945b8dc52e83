//! Networking: TCP, UDP and Unix-domain sockets on the runtime's reactor.
//!
//! - [`TcpListener`], [`TcpStream`] (with its halves in [`tcp`]),
//!   [`TcpSocket`] (options before `connect` / `listen`), [`UdpSocket`],
//!   and on Unix [`UnixListener`], [`UnixStream`] (halves in [`unix`]).
//! - [`ToSocketAddrs`]: what `bind`, `connect` and `send_to` accept;
//!   [`lookup_host`] resolves a name on its own.
//!
//! Every socket wraps a mio source in the reactor's `PollEvented`, which
//! registers it once, edge-triggered, for both directions. An operation
//! waits until its direction is ready, runs the non-blocking system call,
//! and on `WouldBlock` clears the readiness it saw and waits for the next
//! event. A stream read or write that moves fewer bytes than asked clears
//! it too: the socket is drained (or full), and the next attempt waits for
//! the next event rather than spending a failing system call. Each completed operation spends one unit of the task's
//! cooperative budget ([`coop`](crate::coop)), so a task reading a socket
//! that always has data still lets its neighbours run.
//!
//! Streams implement the ecosystem's `futures_io::AsyncRead` and
//! `AsyncWrite`; their extension methods (`read`, `write_all`,
//! `read_u32`, `shutdown`, ...) are `corral::io`'s `AsyncReadExt` /
//! `AsyncWriteExt`. With the `tokio-io` feature they implement tokio's
//! `AsyncRead` / `AsyncWrite` too.
//!
//! # Sharing a socket between tasks
//!
//! Any number of tasks may wait on one socket in each direction: several
//! tasks receiving on one `Arc<UdpSocket>`, accepting on one
//! `Arc<TcpListener>`, or reading one `&TcpStream` are all woken when it
//! becomes ready, and those that find nothing left wait again. A read and
//! a write never contend: one task may read while another writes (that is
//! what `into_split` is for).
//!
//! # Sockets outside a runtime
//!
//! Creating a socket registers it with the *current* runtime: the
//! constructors return an `io::Error` (kind `NotConnected`, naming the fix)
//! when called outside one (not in a task, a `block_on`, or under
//! [`Handle::enter`](crate::Handle::enter)). A socket stays tied to the
//! runtime it was created in; once that runtime shuts down, its operations
//! fail with an error saying so.

/// Implements `AsyncRead` (`read:`) or `AsyncWrite` (`write:`) for `$ty`,
/// which reaches a `$stream` (`TcpStream` or `UnixStream`) through `$get`.
/// The stream supplies `poll_read_priv` and friends; one spelling for the
/// streams, their references and their halves.
macro_rules! stream_io {
    ($stream:ty; read: $ty:ty, $get:expr) => {
        impl ::futures_io::AsyncRead for $ty {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let get: fn(&Self) -> &$stream = $get;
                get(&*self).poll_read_priv(cx, buf)
            }

            fn poll_read_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let get: fn(&Self) -> &$stream = $get;
                get(&*self).poll_read_vectored_priv(cx, bufs)
            }
        }
    };
    ($stream:ty; write: $ty:ty, $get:expr) => {
        impl ::futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let get: fn(&Self) -> &$stream = $get;
                get(&*self).poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let get: fn(&Self) -> &$stream = $get;
                get(&*self).poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                _: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::task::Poll::Ready(Ok(())) // nothing buffered here
            }

            /// Shuts the write direction down.
            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                _: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                let get: fn(&Self) -> &$stream = $get;
                get(&*self).poll_close_priv()
            }
        }
    };
}

#[cfg(feature = "hyper")]
mod hyper_io;
pub mod tcp;
mod tcp_listener;
mod tcp_socket;
mod tcp_split;
#[cfg(feature = "tokio-io")]
mod tokio_io;
mod udp;
#[cfg(unix)]
pub mod unix;
#[cfg(unix)]
mod unix_listener;
#[cfg(unix)]
mod unix_split;

pub use tcp::{TcpListener, TcpStream};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixListener, UnixStream};

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Something that names one or more socket addresses: what
/// [`TcpListener::bind`], [`TcpStream::connect`], [`UdpSocket::bind`] and
/// friends accept.
///
/// Implemented for the same types as [`std::net::ToSocketAddrs`]:
/// [`SocketAddr`] and its V4/V6 forms, `(IpAddr, u16)` and friends,
/// `&[SocketAddr]`, and strings `"host:port"`, `(&str, u16)`, `String`,
/// `(String, u16)`. A string holding a literal IP address is parsed at
/// once; a host name is resolved by the system resolver (`getaddrinfo`) on
/// the runtime's blocking pool ([`run_sync`](crate::run_sync)), so the
/// lookup never stalls a worker.
///
/// The trait is sealed: it cannot be implemented outside corral.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::net::TcpListener;
/// use std::net::{Ipv4Addr, SocketAddr};
///
/// let a = TcpListener::bind("127.0.0.1:0").await?;
/// let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
/// let c = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
/// let d = TcpListener::bind(("localhost", 0)).await?; // resolved on the blocking pool
/// # let _ = (a, b, c, d);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    use std::io;
    use std::net::SocketAddr;

    /// Turns an address into socket addresses, or says what to look up.
    pub trait ToSocketAddrsPriv {
        /// The addresses, or the lookup that will find them.
        fn to_addrs(&self) -> Addrs;
    }

    /// What [`ToSocketAddrsPriv::to_addrs`] found.
    #[derive(Debug)]
    pub enum Addrs {
        /// Known without a lookup.
        Ready(io::Result<Vec<SocketAddr>>),
        /// A host name (`"host:port"`) for the system resolver.
        Lookup(String),
        /// A host name and a port for the system resolver.
        LookupPair(String, u16),
    }
}

use sealed::{Addrs, ToSocketAddrsPriv};

macro_rules! ready_addr {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl ToSocketAddrsPriv for $t {
            fn to_addrs(&self) -> Addrs {
                Addrs::Ready(Ok(vec![SocketAddr::from(*self)]))
            }
        }
    )*};
}

ready_addr!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for [SocketAddr] {}
impl ToSocketAddrsPriv for [SocketAddr] {
    fn to_addrs(&self) -> Addrs {
        Addrs::Ready(Ok(self.to_vec()))
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    fn to_addrs(&self) -> Addrs {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Addrs::Ready(Ok(vec![addr])),
            Err(_) => Addrs::Lookup(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn to_addrs(&self) -> Addrs {
        self.as_str().to_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn to_addrs(&self) -> Addrs {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Addrs::Ready(Ok(vec![SocketAddr::new(ip, port)])),
            Err(_) => Addrs::LookupPair(host.to_owned(), port),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn to_addrs(&self) -> Addrs {
        (self.0.as_str(), self.1).to_addrs()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrsPriv + ?Sized> ToSocketAddrsPriv for &T {
    fn to_addrs(&self) -> Addrs {
        (**self).to_addrs()
    }
}

/// Resolves `host` (`"example.com:80"`, `("localhost", 8080)`, a literal
/// address, ...) into socket addresses with the system resolver
/// (`getaddrinfo`), on the runtime's blocking pool so no worker stalls.
/// Outside a runtime the lookup runs on the calling thread.
///
/// # Cancel safety
///
/// Cancel safe: a lookup already running on the blocking pool finishes
/// there and is discarded.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let addrs: Vec<_> = corral::net::lookup_host("127.0.0.1:80").await?.collect();
/// assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
/// // A host name goes to the system resolver:
/// if let Ok(addrs) = corral::net::lookup_host(("localhost", 8080)).await {
///     assert!(addrs.into_iter().all(|a| a.port() == 8080));
/// }
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn lookup_host<T: ToSocketAddrs>(host: T) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    Ok(resolve(&host).await?.into_iter())
}

/// The socket addresses `addr` names, looking host names up on the
/// blocking pool (or on this thread when there is no runtime to lend one).
pub(crate) async fn resolve(addr: &(impl ToSocketAddrs + ?Sized)) -> io::Result<Vec<SocketAddr>> {
    let lookup = match addr.to_addrs() {
        Addrs::Ready(addrs) => return addrs,
        lookup => lookup,
    };
    let run = move || -> io::Result<Vec<SocketAddr>> {
        use std::net::ToSocketAddrs as _;
        match lookup {
            Addrs::Ready(addrs) => addrs,
            Addrs::Lookup(host_port) => Ok(host_port.to_socket_addrs()?.collect()),
            Addrs::LookupPair(host, port) => Ok((host.as_str(), port).to_socket_addrs()?.collect()),
        }
    };
    match crate::Handle::try_current() {
        Ok(handle) => handle.run_sync(run).await?,
        Err(_) => run(),
    }
}

/// Runs `op` on each address `addr` names in turn and returns the first
/// success, or the last error.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: &A, mut op: F) -> io::Result<T>
where
    A: ToSocketAddrs + ?Sized,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last_err = None;
    for addr in resolve(addr).await? {
        match op(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "could not resolve to any address")))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::future::Future;

    #[test]
    fn literal_addresses_need_no_lookup() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert!(matches!("127.0.0.1:80".to_addrs(), Addrs::Ready(Ok(a)) if a == [v4]));
        assert!(matches!(("127.0.0.1", 80).to_addrs(), Addrs::Ready(Ok(a)) if a == [v4]));
        assert!(matches!(("::1", 80).to_addrs(), Addrs::Ready(Ok(a)) if a[0].is_ipv6()));
        assert!(matches!("[::1]:80".to_addrs(), Addrs::Ready(Ok(a)) if a[0].is_ipv6()));
        assert!(matches!("localhost:80".to_addrs(), Addrs::Lookup(h) if h == "localhost:80"));
        assert!(
            matches!(("localhost".to_string(), 80).to_addrs(), Addrs::LookupPair(h, 80) if h == "localhost")
        );
        assert!(matches!([v4, v4][..].to_addrs(), Addrs::Ready(Ok(a)) if a.len() == 2));
    }

    #[test]
    fn lookup_outside_a_runtime_runs_inline() {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(resolve("localhost:7"));
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Ok(addrs)) => assert!(addrs.iter().all(|a| a.port() == 7)),
            // A sandbox without a resolver configuration is not this test's business.
            std::task::Poll::Ready(Err(_)) => {}
            std::task::Poll::Pending => panic!("an inline lookup never waits"),
        }
        let mut fut = std::pin::pin!(resolve("not an address"));
        assert!(matches!(
            fut.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Err(_))
        ));
    }
}
