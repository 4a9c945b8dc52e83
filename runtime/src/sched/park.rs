//! Parking a scheduler thread until it is handed work.
//!
//! A `Parker` belongs to one thread; its `Unparker`s may be used from any
//! thread. An `unpark` that comes before `park` is not lost: the token is
//! kept and the next `park` returns at once (as `std::thread::park`).
//!
//! State machine (`state`): EMPTY -> PARKED (by the parker, under `lock`)
//! -> NOTIFIED (by an unparker) -> EMPTY (the parker consumes it). The
//! unparker takes `lock` before notifying, so the parker cannot miss the
//! notification between its state change and its wait.

use crate::loom::{condvar_wait, Arc, AtomicUsize, Condvar, Mutex, Ordering::SeqCst};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

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
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                cvar: Condvar::new(),
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
        if timeout == Some(Duration::ZERO) {
            return;
        }
        let mut guard = inner.lock.lock();
        match inner.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
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

impl Unparker {
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        match inner.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Taking the lock orders us after the parker's wait began.
                drop(inner.lock.lock());
                inner.cvar.notify_one();
            }
            s => unreachable!("parker in state {s}"),
        }
    }
}
