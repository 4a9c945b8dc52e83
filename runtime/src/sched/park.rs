//! Parking a scheduler thread until it is handed work.
//!
//! A `Parker` belongs to one thread; its `Unparker`s may be used from any
//! thread. An `unpark` that comes before `park` is not lost: the token is
//! kept and the next `park` returns at once (as `std::thread::park`).
//!
//! Where a thread sleeps: the runtime's driver (I/O and timers) is shared
//! by all of a runtime's parkers behind a try-lock. The first idle thread
//! to take it sleeps in the driver (`epoll_wait` with the next timer as
//! timeout) and is woken by the driver's `mio::Waker`; the others sleep on
//! their own condvar. So someone always watches I/O and timers while any
//! thread is idle, and a busy worker polls the driver between tasks
//! (`poll_driver`).
//!
//! State machine (`state`): EMPTY -> PARKED_CONDVAR or PARKED_DRIVER (by
//! the parker) -> NOTIFIED (by an unparker, which then signals the condvar
//! under its lock, or wakes the driver) -> EMPTY (the parker consumes it).

use crate::driver;
use crate::loom::{condvar_wait, Arc, AtomicUsize, Condvar, Mutex, Ordering::SeqCst};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// A runtime's driver, shared by its parkers.
pub(crate) struct SharedDriver {
    driver: Mutex<driver::Driver>,
    handle: driver::Handle,
    /// A paused clock may jump when this driver's parker is idle (only a
    /// current-thread runtime's, whose parker is the only thread).
    auto_advance: bool,
}

impl SharedDriver {
    /// True while some thread sleeps in (or turns) the driver.
    pub(crate) fn is_held(&self) -> bool {
        // A check, not a try-lock: taking the lock even for an instant
        // would send a worker parking at that instant to its condvar.
        self.driver.is_locked()
    }

    pub(crate) fn new(driver: driver::Driver, handle: driver::Handle, auto_advance: bool) -> Arc<Self> {
        Arc::new(SharedDriver {
            driver: Mutex::new(driver),
            handle,
            auto_advance,
        })
    }
}

pub(crate) struct Parker {
    inner: Arc<Inner>,
}

#[derive(Clone)]
pub(crate) struct Unparker {
    inner: Arc<Inner>,
}

struct Inner {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
    driver: Option<Arc<SharedDriver>>,
}

impl Parker {
    /// A parker that only sleeps on its condvar.
    pub(crate) fn new() -> Self {
        Self::with(None)
    }

    /// A parker of a runtime thread, which may sleep in the driver.
    pub(crate) fn with_driver(driver: Arc<SharedDriver>) -> Self {
        Self::with(Some(driver))
    }

    fn with(driver: Option<Arc<SharedDriver>>) -> Self {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                cvar: Condvar::new(),
                driver,
            }),
        }
    }

    pub(crate) fn unparker(&self) -> Unparker {
        Unparker {
            inner: self.inner.clone(),
        }
    }

    /// Blocks until unparked (or `timeout` passes). May return spuriously;
    /// callers re-check their condition.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        let inner = &*self.inner;
        // SeqCst throughout: cheap next to a sleep, and it keeps the token
        // protocol obviously correct.
        if inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        // Under loom every model thread runs on one OS thread, so a real
        // blocking `epoll_wait` would freeze the model: parkers use only
        // their (modelled) condvar there, and the driver is not modelled.
        #[cfg(not(loom))]
        if let Some(shared) = &inner.driver {
            if let Some(mut driver) = shared.driver.try_lock() {
                self.park_driver(&mut driver, shared, timeout);
                return;
            }
        }
        if timeout == Some(Duration::ZERO) {
            return;
        }
        self.park_condvar(timeout);
    }

    /// If no other thread is in the driver, dispatches the I/O events and
    /// timers that are ready now, without blocking.
    pub(crate) fn poll_driver(&self) {
        // Not under loom: see `park`.
        #[cfg(not(loom))]
        if let Some(shared) = &self.inner.driver {
            if let Some(mut driver) = shared.driver.try_lock() {
                turn_driver(&mut driver, shared, Some(Duration::ZERO), false);
            }
        }
    }

    fn park_driver(&self, driver: &mut driver::Driver, shared: &SharedDriver, timeout: Option<Duration>) {
        let inner = &*self.inner;
        match inner.state.compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                inner.state.store(EMPTY, SeqCst);
                return;
            }
            Err(s) => unreachable!("parker in state {s}"),
        }
        turn_driver(driver, shared, timeout, shared.auto_advance);
        // Unparked or timed out; either way the token (if any) is consumed.
        inner.state.store(EMPTY, SeqCst);
    }

    fn park_condvar(&self, timeout: Option<Duration>) {
        let inner = &*self.inner;
        let mut guard = inner.lock.lock();
        match inner
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                inner.state.store(EMPTY, SeqCst);
                return;
            }
            Err(s) => unreachable!("parker in state {s}"),
        }
        loop {
            condvar_wait(&inner.cvar, &mut guard, timeout);
            if inner
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
            if timeout.is_some() {
                // Timed out (or spurious): give up the PARKED state. An
                // unpark that raced with the timeout is consumed with it;
                // callers re-check their condition.
                inner.state.store(EMPTY, SeqCst);
                return;
            }
        }
    }
}

/// One turn of the driver that cannot unwind into the scheduler: the wakes
/// it runs are already contained one by one (`contain::wake_all`); this
/// catches anything else, so a worker never dies in its driver and never
/// leaves the idle bookkeeping or the parker state half-updated.
fn turn_driver(
    driver: &mut driver::Driver,
    shared: &SharedDriver,
    timeout: Option<Duration>,
    auto_advance: bool,
) {
    crate::contain::run("the I/O and timer driver", || {
        driver.park(&shared.handle, timeout, auto_advance)
    });
}

impl Unparker {
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        match inner.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders us after the parker's wait began.
                drop(inner.lock.lock());
                inner.cvar.notify_one();
            }
            PARKED_DRIVER => {
                if let Some(shared) = &inner.driver {
                    shared.handle.unpark();
                }
            }
            s => unreachable!("parker in state {s}"),
        }
    }
}
