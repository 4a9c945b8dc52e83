//! hyper 1.x on corral (feature `hyper`): what hyper's `rt` module asks
//! of a runtime, so an HTTP/1 or HTTP/2 server or client needs no glue.
//!
//! - **I/O**: [`TcpStream`](crate::net::TcpStream) and
//!   [`UnixStream`](crate::net::UnixStream) (and their halves)
//!   implement `hyper::rt::Read` and `hyper::rt::Write` themselves: pass
//!   the stream to `serve_connection` or `handshake` as it is. Reads land
//!   in hyper's buffer without zero-filling it; writes are vectored.
//! - [`CorralExecutor`]: `hyper::rt::Executor`, spawning the futures
//!   hyper hands it (HTTP/2 streams, a client connection's background
//!   task) as corral tasks.
//! - [`CorralTimer`]: `hyper::rt::Timer` on corral's timer wheel, for
//!   header-read timeouts, HTTP/2 keep-alive pings and the like. Its
//!   clock is corral's, so it follows a paused test clock.
//!
//! Applications reach this module as `corral::hyper`; see there for a
//! whole server and client.

mod executor;
mod timer;

pub use executor::CorralExecutor;
pub use timer::CorralTimer;
