//! A worker's LIFO slot: the one task it runs next (a task just woken or
//! spawned by the task it is running), which idle workers may steal.
//!
//! Running the newest task next keeps message passing and spawn-then-wait
//! on a warm cache. The slot is an atomic pointer rather than a plain cell
//! so that a searching worker that finds the owner's queue empty can take
//! it (`multi_thread::Worker::steal`); tokio's slot cannot be stolen. That
//! alone does not save a task whose owner then blocks in user code: a
//! single wake into an empty slot signals nobody, so a thief comes only if
//! some worker happens to be searching. The stall monitor
//! (`monitor.rs`) sends one when the owner's poll outlasts the threshold.
//!
//! The slot holds a `Notified` reference; `swap` moves it between threads
//! (AcqRel: Release publishes the task to the taker, Acquire receives it).

use crate::loom::{AtomicPtr, Ordering::*};
use crate::task::{Header, Notified};
use std::ptr::{self, NonNull};

pub(crate) struct LifoSlot {
    task: AtomicPtr<Header>,
}

impl LifoSlot {
    pub(crate) fn new() -> Self {
        LifoSlot {
            task: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Owner: puts `task` in; returns the task it displaces.
    pub(crate) fn replace(&self, task: Notified) -> Option<Notified> {
        // SeqCst: pairs with the SeqCst load in `is_empty` across the idle
        // protocol (idle.rs): either the owner's following notify sees a
        // searcher, or the parking searcher's re-check sees this task.
        let prev = self.task.swap(task.into_raw().as_ptr(), SeqCst);
        NonNull::new(prev).map(Notified::from_raw)
    }

    /// Owner or thief: takes the task, if any.
    pub(crate) fn take(&self) -> Option<Notified> {
        // Relaxed peek first: thieves look often, and a load does not
        // bounce the cache line the way a swap does.
        if self.task.load(Relaxed).is_null() {
            return None;
        }
        NonNull::new(self.task.swap(ptr::null_mut(), AcqRel)).map(Notified::from_raw)
    }

    pub(crate) fn is_empty(&self) -> bool {
        // SeqCst: see `replace`.
        self.task.load(SeqCst).is_null()
    }
}

impl Drop for LifoSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}
