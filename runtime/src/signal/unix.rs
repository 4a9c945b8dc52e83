//! Unix signals as async streams: [`signal`] returns a [`Signal`] whose
//! [`recv`](Signal::recv) completes each time the signal arrives.

use super::registry;
use crate::reactor::{Direction, PollEvented};
use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Which signal to listen for: a named constructor, or any number with
/// [`from_raw`](SignalKind::from_raw).
///
/// ```
/// use corral::signal::unix::SignalKind;
/// assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
/// assert_eq!(SignalKind::from_raw(libc::SIGUSR1), SignalKind::user_defined1());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal by number. [`signal`] refuses numbers that cannot be
    /// listened for (`SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`,
    /// out of range).
    ///
    /// ```
    /// let k = corral::signal::unix::SignalKind::from_raw(libc::SIGWINCH);
    /// assert_eq!(k.as_raw_value(), libc::SIGWINCH);
    /// ```
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    ///
    /// ```
    /// use corral::signal::unix::SignalKind;
    /// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    /// ```
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGINT`: Ctrl-C in a terminal.
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: the polite request to stop (`kill`, systemd, Kubernetes).
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal closed, or (by convention) reload the
    /// configuration.
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ in a terminal.
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::quit().as_raw_value(), libc::SIGQUIT);
    /// ```
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`.
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::user_defined1().as_raw_value(), libc::SIGUSR1);
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::user_defined2().as_raw_value(), libc::SIGUSR2);
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::child().as_raw_value(), libc::SIGCHLD);
    /// ```
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGALRM`: a timer set by `alarm(2)` expired.
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::alarm().as_raw_value(), libc::SIGALRM);
    /// ```
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader. (Rust
    /// programs ignore it by default; listening replaces that.)
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::pipe().as_raw_value(), libc::SIGPIPE);
    /// ```
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGWINCH`: the terminal window changed size.
    ///
    /// ```
    /// assert_eq!(corral::signal::unix::SignalKind::window_change().as_raw_value(), libc::SIGWINCH);
    /// ```
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> libc::c_int {
        kind.0
    }
}

/// Starts listening for `kind` on the current runtime.
///
/// The first listener for a signal installs corral's handler for it, for
/// the rest of the process: the signal's default action (for `SIGINT` and
/// `SIGTERM`, ending the process) no longer happens, even after every
/// listener is dropped. Any number of listeners, in any number of
/// runtimes, may wait for the same signal; each arrival wakes all of them.
///
/// # Errors
///
/// `InvalidInput` for a signal that cannot be listened for (`SIGKILL`,
/// `SIGSTOP`, `SIGILL`, `SIGFPE`, `SIGSEGV`, or a number out of range);
/// `NotConnected` outside a runtime; the OS error if the handler cannot be
/// installed.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::signal::unix::{signal, SignalKind};
/// let mut usr1 = signal(SignalKind::user_defined1())?;
/// // SAFETY (of the example): raising a signal we now handle.
/// unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
/// usr1.recv().await;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let (seen, receiver) = registry::listen(kind.0)?;
    let io = PollEvented::new(mio::net::UnixStream::from_std(receiver))?;
    Ok(Signal { kind, seen, io })
}

/// A listener for one signal; see [`signal`].
///
/// Arrivals between two `recv`s coalesce into one (as Unix signals do):
/// `recv` says "the signal came at least once since the last `recv`".
/// Only arrivals after the listener was created count.
pub struct Signal {
    kind: SignalKind,
    /// The signal's delivery count when last reported (or at creation).
    seen: u64,
    /// This listener's own handle on the self-pipe, registered with the
    /// runtime's reactor.
    io: PollEvented<mio::net::UnixStream>,
}

impl Signal {
    /// Waits for the next arrival of the signal. `None` once the runtime
    /// the listener belongs to has shut down (nothing can arrive any more).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an arrival is consumed only when `recv` returns it, so
    /// a `recv` dropped in a `select!` loses nothing; the next one sees it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::signal::unix::{signal, SignalKind};
    /// let mut usr2 = signal(SignalKind::user_defined2())?;
    /// // SAFETY (of the example): raising a signal we now handle.
    /// unsafe { libc::raise(libc::SIGUSR2) };
    /// assert_eq!(usr2.recv().await, Some(()));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next arrival (for hand-written futures); see
    /// [`recv`](Signal::recv).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::signal::unix::{signal, SignalKind};
    /// let mut s = signal(SignalKind::window_change())?;
    /// let waker = std::task::Waker::noop();
    /// let pending = s.poll_recv(&mut std::task::Context::from_waker(waker)).is_pending();
    /// assert!(pending);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        loop {
            let now = registry::deliveries(self.kind.0);
            if now != self.seen {
                self.seen = now;
                return Poll::Ready(Some(()));
            }
            // Drain the pipe; if it had bytes, look at the count again
            // (the handler raised it before writing). If it was empty,
            // wait for the next write.
            match self.io.poll_io(cx, Direction::Read, drain) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The signal this listener waits for.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::signal::unix::{signal, SignalKind};
    /// let s = signal(SignalKind::hangup())?;
    /// assert_eq!(s.kind(), SignalKind::hangup());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

/// Reads everything in the pipe; `WouldBlock` if there was nothing.
fn drain(mut pipe: &mio::net::UnixStream) -> io::Result<()> {
    let mut buf = [0u8; 128];
    let mut any = false;
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return Ok(()), // cannot happen: the sender never closes
            Ok(_) => any = true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && any => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Each arrival is an item; the stream never ends while the runtime runs.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use futures_util::StreamExt;
/// let mut s = corral::signal::unix::signal(corral::signal::unix::SignalKind::alarm())?;
/// // SAFETY (of the example): raising a signal we now handle.
/// unsafe { libc::raise(libc::SIGALRM) };
/// assert_eq!(s.next().await, Some(()));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
impl futures_core::Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
