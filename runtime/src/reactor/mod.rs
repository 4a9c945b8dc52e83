//! The I/O reactor: one mio `Poll` per runtime, a slab of registrations,
//! and readiness turned into wakes.
//!
//! - `Driver` (owned by whichever thread parks in it): the `Poll` and its
//!   event buffer. `turn` waits for events (or the timeout, or an unpark)
//!   and dispatches them.
//! - `Handle` (shared): the mio `Registry`, the `mio::Waker` that interrupts
//!   a parked `turn`, and the slab of `ScheduledIo`s indexed by token.
//! - `Registration` (one per I/O object): the object's `ScheduledIo`, kept
//!   alive by an `Arc` so readiness checks never touch the slab lock.
//!
//! Tokens carry a generation: `token = index | generation << 32`. A slot
//! freed by a dropped socket and reused by a new one gets a new generation,
//! so an event still in flight for the old socket is ignored instead of
//! waking the new one's task.
//!
//! The caller's contract, as for mio: readiness can be spurious; an
//! operation that returns `WouldBlock` clears the readiness it acted on
//! (`ScheduledIo::clear_readiness`) and waits for the next event. Sources
//! are registered edge-triggered for both directions once.

mod poll_evented;
mod scheduled_io;
#[cfg(target_os = "linux")]
mod timerfd;

pub(crate) use poll_evented::PollEvented;
pub(crate) use scheduled_io::{Direction, ScheduledIo};

use crate::loom::{Arc, Mutex};
use scheduled_io::{ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use slab::Slab;
use std::io;
use std::time::Duration;

/// Token of the `mio::Waker`; never a valid registration (index u32::MAX
/// is beyond any slab this reactor lets grow).
const WAKE_TOKEN: mio::Token = mio::Token(u32::MAX as usize);
/// Token of the timerfd (Linux).
#[cfg(target_os = "linux")]
const TIMER_TOKEN: mio::Token = mio::Token(u32::MAX as usize - 1);
const INDEX_MASK: usize = u32::MAX as usize;
const MAX_REGISTRATIONS: usize = (u32::MAX - 2) as usize;

pub(crate) struct Driver {
    poll: mio::Poll,
    events: mio::Events,
    /// Sources woken by the last turn, reused between turns.
    woken: Vec<Arc<ScheduledIo>>,
    #[cfg(target_os = "linux")]
    timer: timerfd::TimerFd,
}

pub(crate) struct Handle {
    registry: mio::Registry,
    waker: mio::Waker,
    ios: Mutex<Registrations>,
}

struct Registrations {
    slab: Slab<Arc<ScheduledIo>>,
    generation: u32,
    shutdown: bool,
}

impl Driver {
    pub(crate) fn new() -> io::Result<(Driver, Handle)> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKE_TOKEN)?;
        #[cfg(target_os = "linux")]
        let timer = {
            let timer = timerfd::TimerFd::new()?;
            registry.register(
                &mut mio::unix::SourceFd(&timer.raw()),
                TIMER_TOKEN,
                mio::Interest::READABLE,
            )?;
            timer
        };
        let driver = Driver {
            poll,
            events: mio::Events::with_capacity(1024),
            woken: Vec::new(),
            #[cfg(target_os = "linux")]
            timer,
        };
        let handle = Handle {
            registry,
            waker,
            ios: Mutex::new(Registrations {
                slab: Slab::new(),
                generation: 0,
                shutdown: false,
            }),
        };
        Ok((driver, handle))
    }

    /// Waits for I/O events for at most `timeout` (None: until one comes or
    /// `Handle::unpark`), then wakes the tasks they concern. Returns true
    /// if any source became ready or the driver was unparked: either way
    /// the caller has something to look at before it may sleep again (an
    /// unpark consumed here is gone from the eventfd).
    pub(crate) fn turn(&mut self, handle: &Handle, timeout: Option<Duration>) -> bool {
        // A non-zero timeout goes to the timerfd, for sub-millisecond
        // precision; epoll then waits without one.
        #[cfg(target_os = "linux")]
        let timeout = match timeout {
            Some(t) if t.is_zero() => timeout,
            t => {
                self.timer.set(t);
                None
            }
        };
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return false,
            // epoll_wait only fails on a bad fd or buffer: a bug, not a
            // condition to carry on from.
            Err(e) => panic!("corral reactor: polling for I/O events failed: {e}"),
        }
        let mut readiness = Vec::new();
        let mut unparked = false;
        {
            let ios = handle.ios.lock();
            for event in self.events.iter() {
                let token = event.token();
                if token == WAKE_TOKEN {
                    unparked = true;
                    continue;
                }
                #[cfg(target_os = "linux")]
                if token == TIMER_TOKEN {
                    self.timer.drain();
                    continue;
                }
                let Some(io) = ios.slab.get(token.0 & INDEX_MASK) else {
                    continue;
                };
                if io.token != token.0 {
                    continue; // a stale event for a freed slot
                }
                let mut ready = 0;
                if event.is_readable() {
                    ready |= READABLE;
                }
                if event.is_writable() {
                    ready |= WRITABLE;
                }
                if event.is_read_closed() {
                    ready |= READ_CLOSED;
                }
                if event.is_write_closed() {
                    ready |= WRITE_CLOSED;
                }
                if event.is_error() {
                    ready |= ERROR;
                }
                self.woken.push(io.clone());
                readiness.push(ready);
            }
        }
        let any = unparked || !self.woken.is_empty();
        for (io, ready) in self.woken.drain(..).zip(readiness) {
            io.set_readiness(ready);
        }
        any
    }
}

impl Handle {
    /// Interrupts a thread parked in `Driver::turn`.
    pub(crate) fn unpark(&self) {
        // A failure means the eventfd is gone, which cannot happen while
        // the handle lives; nothing useful to do with it.
        let _ = self.waker.wake();
    }

    /// Registers `source` for both directions, edge-triggered.
    pub(crate) fn register(&self, source: &mut impl mio::event::Source) -> io::Result<Arc<ScheduledIo>> {
        let io = {
            let mut ios = self.ios.lock();
            if ios.shutdown {
                return Err(shutdown_error());
            }
            if ios.slab.len() >= MAX_REGISTRATIONS {
                return Err(io::Error::other("corral reactor: too many I/O registrations"));
            }
            ios.generation = ios.generation.wrapping_add(1);
            let generation = ios.generation as usize;
            let entry = ios.slab.vacant_entry();
            let token = entry.key() | (generation << 32);
            let io = Arc::new(ScheduledIo::new(token));
            entry.insert(io.clone());
            io
        };
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = self.registry.register(source, mio::Token(io.token), interest) {
            self.release(&io);
            return Err(e);
        }
        Ok(io)
    }

    /// Deregisters `source` and frees its slot.
    pub(crate) fn deregister(&self, io: &ScheduledIo, source: &mut impl mio::event::Source) {
        // Deregistering can only fail if the fd is already closed, and the
        // slot is freed either way.
        let _ = self.registry.deregister(source);
        self.release(io);
    }

    fn release(&self, io: &ScheduledIo) {
        let mut ios = self.ios.lock();
        let index = io.token & INDEX_MASK;
        if ios.slab.get(index).is_some_and(|e| e.token == io.token) {
            ios.slab.remove(index);
        }
    }

    /// The runtime is shutting down: refuse new registrations and wake every
    /// waiter with a shutdown error.
    pub(crate) fn shutdown(&self) {
        let ios: Vec<_> = {
            let mut ios = self.ios.lock();
            ios.shutdown = true;
            ios.slab.drain().collect()
        };
        for io in ios {
            io.shutdown();
        }
    }
}

pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other("the corral runtime this I/O object belongs to has shut down")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn stale_token_is_ignored_after_slot_reuse() {
        let (mut driver, handle) = Driver::new().unwrap();
        let (mut a, _a_peer) = mio::net::UnixStream::pair().unwrap();
        let io_a = handle.register(&mut a).unwrap();
        handle.deregister(&io_a, &mut a);
        let (mut b, _b_peer) = mio::net::UnixStream::pair().unwrap();
        let io_b = handle.register(&mut b).unwrap();
        // Same slot, new generation.
        assert_eq!(io_a.token & INDEX_MASK, io_b.token & INDEX_MASK);
        assert_ne!(io_a.token, io_b.token);
        drop(io_a);
        assert!(driver.turn(&handle, Some(Duration::from_millis(100))));
        handle.deregister(&io_b, &mut b);
    }
}
