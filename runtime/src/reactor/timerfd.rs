//! A Linux `timerfd` registered with the reactor, so the parked driver
//! wakes at a timer's deadline to the microsecond. (`epoll_wait` takes its
//! timeout in whole milliseconds, rounded up by mio, which would add up to
//! a millisecond of lateness to every timer.)
//!
//! The timer is one-shot and relative: armed just before `epoll_wait` with
//! the time left until the next timer. It is left alone when it is already
//! armed to fire no later than needed (the earliest timer was cancelled,
//! or nothing is pending any more): an early expiry only makes the driver
//! turn once more and re-arm, while a `timerfd_settime` before every park
//! cost a system call per request on a server whose connections each hold
//! a long timer (hyper's header-read timeout). Re-arming resets its
//! expiration count, so no read is needed to clear an old expiry (we still
//! drain it when it fires, to keep the fd quiet).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

pub(crate) struct TimerFd {
    fd: OwnedFd,
    /// When the armed timer fires (None: disarmed, or fired and drained).
    armed_until: Option<Instant>,
}

impl TimerFd {
    pub(crate) fn new() -> io::Result<TimerFd> {
        // SAFETY: plain syscall with constant arguments; the result is
        // checked before use.
        let fd =
            unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TimerFd {
            // SAFETY: `fd` is a fresh descriptor we own exclusively.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            armed_until: None,
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Makes sure the timer fires once no later than `after` from now
    /// (None: no wake-up needed; an armed timer is left to fire
    /// spuriously rather than pay a system call to disarm it).
    pub(crate) fn set(&mut self, after: Option<Duration>) {
        let Some(after) = after else { return };
        let now = Instant::now();
        let until = now.checked_add(after);
        if let (Some(armed), Some(until)) = (self.armed_until, until) {
            if armed <= until {
                return; // fires in time (or has fired: its event is pending)
            }
        }
        // A zero it_value would disarm: use the smallest expiry instead.
        let value = libc::timespec {
            tv_sec: after.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: if after.is_zero() {
                1
            } else {
                after.subsec_nanos() as libc::c_long
            },
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: `spec` is a valid itimerspec on our stack; the old-value
        // pointer may be null; the fd is ours and open.
        let r = unsafe { libc::timerfd_settime(self.raw(), 0, &spec, std::ptr::null_mut()) };
        // Can only fail on invalid arguments, which the values above are
        // not; if it did, the driver would just sleep without the timer,
        // and the caller's fallback timeout still bounds the wait.
        self.armed_until = if r == 0 { until } else { None };
    }

    /// Clears a fired expiry.
    pub(crate) fn drain(&mut self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into an 8-byte buffer from our own
        // non-blocking fd; EAGAIN (nothing to read) is fine.
        let _ = unsafe { libc::read(self.raw(), buf.as_mut_ptr().cast(), buf.len()) };
        self.armed_until = None;
    }
}
