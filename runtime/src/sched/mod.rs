//! Schedulers: where runnable tasks wait and which thread polls them.
//!
//! - `multi_thread.rs`: work-stealing over N worker threads.
//! - `current_thread.rs`: every task on the `block_on` thread.
//! - `idle.rs`: which workers sleep and how many search (multi-thread).
//! - `park.rs`: putting a scheduler thread to sleep and waking it.
//!
//! Both schedulers implement `task::Schedule` on their `Arc<Shared>`, which
//! each task stores: a wake goes to the task's own runtime, wherever it
//! comes from. A wake on a thread that is driving that same runtime goes to
//! the local queue; any other goes through the runtime's injection queue.

pub(crate) mod current_thread;
mod idle;
mod lifo;
pub(crate) mod monitor;
pub(crate) mod multi_thread;
pub(crate) mod park;

use crate::context;
use crate::coop::Budget;
use crate::loom::{AtomicBool, Ordering::*};
use park::{Parker, Unparker};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

/// The scheduler core the current thread drives, if any (kept in the
/// thread context; only ever dereferenced on that thread).
#[derive(Clone, Copy)]
pub(crate) enum SchedRef {
    None,
    MultiThread(*const multi_thread::Worker),
    CurrentThread(*const current_thread::Core),
}

/// Ends a run of `Hint::Batch` wakes: signal one idle worker if any of
/// them went to this worker's local queue, and one of the runtime whose
/// injector got any of them from this thread (`multi_thread.rs`,
/// `REMOTE_BATCH`).
pub(crate) fn flush_batch() {
    flush_local_batch();
    multi_thread::flush_remote_batch();
}

/// The first half of `flush_batch`: signal for the `Hint::Batch` wakes
/// that went to this worker's local queue, leaving this thread's remote
/// batch for a later `flush_batch` (`WakeBatch::wake_in_chunks` signals a
/// remote batch once per run of chunks).
pub(crate) fn flush_local_batch() {
    if let SchedRef::MultiThread(worker) = context::scheduler() {
        // SAFETY: the context points at a live Worker only while it runs
        // on this thread.
        unsafe { &*worker }.flush_batch();
    }
}

/// Blocks the current thread on `future`, parking between polls (the
/// multi-thread runtime's `block_on`: the workers drive the timers and I/O).
///
/// Each poll gets a task's cooperative budget, so an always-ready loop in
/// `future` returns `Pending` now and then, which lets a `timeout` around
/// it look at the clock. A future that woke itself finds the unpark token
/// and is polled again at once.
pub(crate) fn park_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let parker = Parker::new();
    let waker = ThreadWaker::new_waker(false, parker.unparker());
    let mut cx = Context::from_waker(&waker);
    loop {
        let polled = {
            let _budget = context::enter_budget(Budget::initial());
            future.as_mut().poll(&mut cx)
        };
        if let Poll::Ready(out) = polled {
            return out;
        }
        parker.park(None);
    }
}

/// Waker for a thread blocked in `block_on`: flags the wake and unparks.
pub(crate) struct ThreadWaker {
    pub(crate) woken: AtomicBool,
    unparker: Unparker,
}

impl ThreadWaker {
    pub(crate) fn new(woken: bool, unparker: Unparker) -> Self {
        ThreadWaker {
            woken: AtomicBool::new(woken),
            unparker,
        }
    }

    pub(crate) fn new_waker(woken: bool, unparker: Unparker) -> Waker {
        Waker::from(std::sync::Arc::new(Self::new(woken, unparker)))
    }
}

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        // Release: pairs with the Acquire swap of the thread that polls.
        self.woken.store(true, Release);
        self.unparker.unpark();
    }
}
