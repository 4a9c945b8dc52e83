//! Signals: [`ctrl_c`] for graceful shutdown, and any Unix signal as an
//! async stream ([`unix::signal`]).
//!
//! ```no_run
//! # corral::Runtime::new().unwrap().block_on(async {
//! // Serve until Ctrl-C, then stop.
//! let server = corral::spawn(async { /* accept loop */ });
//! corral::signal::ctrl_c().await?;
//! server.abort();
//! println!("shutting down");
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! # How it works
//!
//! `registry.rs` holds the process-wide part: one handler per signal
//! number (installed by the first listener, kept for the life of the
//! process), a delivery counter per signal, and a self-pipe (a socket
//! pair) the handler writes a byte to. No thread is involved: each
//! listener registers its own `dup` of the pipe's read end with its
//! runtime's reactor, so an arrival wakes every listener in every runtime;
//! a woken listener drains the pipe and compares the counter with the
//! count it last reported. See `registry.rs` for the protocol.

mod registry;
pub mod unix;

use std::io;

/// Waits for Ctrl-C (`SIGINT`).
///
/// The first call installs corral's `SIGINT` handler for the rest of the
/// process: from then on Ctrl-C no longer ends the process by itself,
/// which is the point (finish or cancel the work, then exit). The listener
/// is created when the future is first polled, so a Ctrl-C before that is
/// not seen; to catch one from the very start, create a
/// [`unix::signal`]`(SignalKind::interrupt())` listener up front and
/// `recv` on it.
///
/// # Errors
///
/// Outside a runtime (`NotConnected`), if the handler cannot be installed,
/// or if the runtime shuts down while waiting.
///
/// # Cancel safety
///
/// Dropping the future drops its listener: a Ctrl-C that arrives while no
/// `ctrl_c()` (or other listener) is being awaited is not remembered for
/// the next call. In a `select!` loop keep one
/// [`unix::Signal`] and `recv` on it instead.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// // Nobody presses Ctrl-C in a doctest: give up after 10 ms.
/// let pressed = corral::time::timeout(Duration::from_millis(10), corral::signal::ctrl_c()).await;
/// assert!(pressed.is_err());
/// # });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupt = unix::signal(unix::SignalKind::interrupt())?;
    match interrupt.recv().await {
        Some(()) => Ok(()),
        None => Err(crate::reactor::shutdown_error()),
    }
}
