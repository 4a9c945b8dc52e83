//! The process-wide half of signal handling: one handler per signal
//! number, a delivery counter per signal, and one self-pipe (a Unix socket
//! pair) that the handler writes to.
//!
//! # Protocol
//!
//! 1. The first listener for signal `n` installs `handler` for `n`
//!    (`sigaction`, under the `installed` lock, once per process).
//! 2. A listener starts from the current `deliveries[n]` and registers its
//!    own `dup` of the pipe's read end with its runtime's reactor (so each
//!    runtime, and each listener, gets its own readiness event).
//! 3. The handler, on signal `n`: increments `deliveries[n]` (Release), then
//!    writes one byte to the pipe. Both are async-signal-safe; the write end
//!    is never closed, so the handler cannot write to a reused fd.
//! 4. Every registered dup becomes readable (a socket wakes all its epoll
//!    watchers on each write). A listener drains the pipe until
//!    `WouldBlock`, then compares `deliveries[n]` (Acquire, pairs with 3)
//!    with the count it last saw. Since the count is raised before the
//!    byte is written, a listener woken by the byte always sees the count;
//!    a listener that finds its dup drained by another one still sees it.
//!
//! Deliveries between two `recv`s coalesce into one, as with any Unix
//! signal. The statics are plain std atomics even under loom: loom forbids
//! its atomics in statics, and a signal handler could not use them anyway.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Highest signal number handled (Linux's `SIGRTMAX`).
const MAX_SIGNAL: usize = 64;

/// Deliveries per signal number (index 0 unused).
static DELIVERIES: [AtomicU64; MAX_SIGNAL + 1] = [const { AtomicU64::new(0) }; MAX_SIGNAL + 1];

/// The pipe's write end, for the handler; -1 until `globals` has run.
static SENDER: AtomicI32 = AtomicI32::new(-1);

struct Globals {
    /// Kept open for the life of the process (the handler writes to it).
    sender: UnixStream,
    /// Each listener registers a `dup` of it.
    receiver: UnixStream,
    /// Signals whose handler is installed.
    installed: Mutex<[bool; MAX_SIGNAL + 1]>,
}

static GLOBALS: OnceLock<Globals> = OnceLock::new();

fn globals() -> io::Result<&'static Globals> {
    if let Some(g) = GLOBALS.get() {
        return Ok(g);
    }
    let (sender, receiver) = UnixStream::pair()?;
    sender.set_nonblocking(true)?;
    receiver.set_nonblocking(true)?;
    // A racing thread's pair may win; ours is then closed, unused.
    let _ = GLOBALS.set(Globals {
        sender,
        receiver,
        installed: Mutex::new([false; MAX_SIGNAL + 1]),
    });
    let g = GLOBALS.get().expect("set just above");
    // Release: pairs with the handler's Acquire load; the fd is open.
    SENDER.store(g.sender.as_raw_fd(), Ordering::Release);
    Ok(g)
}

/// Signals that cannot be caught, or whose handler must not return.
const FORBIDDEN: [(libc::c_int, &str); 5] = [
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGSTOP, "SIGSTOP"),
];

/// A new listener for `signum`: the delivery count it starts from and its
/// own handle on the pipe. Installs the handler on first use.
pub(crate) fn listen(signum: i32) -> io::Result<(u64, UnixStream)> {
    let index = usize::try_from(signum)
        .ok()
        .filter(|&i| (1..=MAX_SIGNAL).contains(&i))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("signal number {signum} is out of range (1..={MAX_SIGNAL})"),
            )
        })?;
    if let Some((_, name)) = FORBIDDEN.iter().find(|(n, _)| *n == signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name} ({signum}) cannot be listened for: it cannot be caught or must not be handled"),
        ));
    }
    let g = globals()?;
    {
        let mut installed = g.installed.lock().unwrap_or_else(|e| e.into_inner());
        if !installed[index] {
            install(signum)?;
            installed[index] = true;
        }
    }
    // Acquire: pairs with the handler's Release increment.
    let seen = DELIVERIES[index].load(Ordering::Acquire);
    Ok((seen, g.receiver.try_clone()?))
}

/// Deliveries of `signum` so far (a validated number, see `listen`).
pub(crate) fn deliveries(signum: i32) -> u64 {
    // Acquire: pairs with the handler's Release increment.
    DELIVERIES[signum as usize].load(Ordering::Acquire)
}

fn install(signum: i32) -> io::Result<()> {
    // SAFETY: an all-zero `sigaction` is a valid value (no flags, empty
    // mask, null handler), filled in below before use.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // Interrupted system calls restart rather than fail with EINTR.
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `action` is fully initialized, its handler only does
    // async-signal-safe work; a null old-action pointer is allowed.
    if unsafe { libc::sigaction(signum, &action, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The signal handler: count, then wake the listeners. Async-signal-safe:
/// atomics and `write(2)` only, and `errno` is preserved.
extern "C" fn handler(signum: libc::c_int) {
    let errno = errno::get();
    if let Some(count) = usize::try_from(signum).ok().and_then(|i| DELIVERIES.get(i)) {
        // Release: pairs with the Acquire loads in `listen` / `deliveries`.
        count.fetch_add(1, Ordering::Release);
    }
    let fd: RawFd = SENDER.load(Ordering::Acquire);
    if fd >= 0 {
        let byte = signum as u8;
        // SAFETY: `fd` is the sender, never closed once stored; the buffer
        // is one valid byte. A full pipe (EAGAIN) is fine: the listeners
        // have a byte to wake them already.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    errno::set(errno);
}

/// Saving `errno` around the handler, which would otherwise clobber it for
/// the interrupted code.
mod errno {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn location() -> *mut libc::c_int {
        // SAFETY: returns this thread's errno slot; always valid.
        unsafe { libc::__errno_location() }
    }

    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    fn location() -> *mut libc::c_int {
        // SAFETY: returns this thread's errno slot; always valid.
        unsafe { libc::__error() }
    }

    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))]
    pub(super) fn get() -> libc::c_int {
        // SAFETY: `location` is this thread's errno slot.
        unsafe { *location() }
    }

    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))]
    pub(super) fn set(value: libc::c_int) {
        // SAFETY: `location` is this thread's errno slot.
        unsafe { *location() = value }
    }

    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    pub(super) fn get() -> libc::c_int {
        0
    }

    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    pub(super) fn set(_: libc::c_int) {}
}
