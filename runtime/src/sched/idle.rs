//! Which workers are parked, and how many are searching for work.
//!
//! The goal: when work arrives and nobody is looking for it, wake exactly
//! one parked worker; never wake one while another is already searching
//! (it will find the work, and wake the next worker when it does); never
//! let more than half the workers search at once (they would only steal
//! from each other).
//!
//! `state` packs two counters: searching workers (low 16 bits) and unparked
//! workers (the rest). `sleepers` lists parked workers, under a lock.
//!
//! The lost-wakeup argument, for work pushed where others must find it (the
//! injector, from outside; a worker's queue, which it runs itself anyway):
//! the producer pushes, then (SeqCst) reads `state`; a worker about to park
//! decrements `unparked` (SeqCst) and, if it was the last searcher, checks
//! every queue once more. Either the producer sees a searcher or an
//! unparked worker that will look, or the parking worker sees the work.
//! This protocol is argued, not model-checked: loom cannot see
//! crossbeam-deque (see `loom.rs`); the stress tests exercise it.

use crate::loom::{AtomicUsize, Mutex, Ordering::SeqCst};

const SEARCH_MASK: usize = (1 << 16) - 1;
const UNPARK_ONE: usize = 1 << 16;

pub(crate) struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Self {
        Idle {
            // Every worker starts unparked and not searching.
            state: AtomicUsize::new(num_workers * UNPARK_ONE),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    fn searching(state: usize) -> usize {
        state & SEARCH_MASK
    }

    fn unparked(state: usize) -> usize {
        state >> 16
    }

    /// The worker to unpark for new work, if one should be: it is counted
    /// as unparked and searching from now on.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.should_wake() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_wake() {
            return None;
        }
        let index = sleepers.pop()?;
        self.state.fetch_add(UNPARK_ONE | 1, SeqCst);
        Some(index)
    }

    fn should_wake(&self) -> bool {
        let s = self.state.load(SeqCst);
        Self::searching(s) == 0 && Self::unparked(s) < self.num_workers
    }

    /// A worker parks. Returns true if it was the last searcher: it must
    /// then check the queues once more.
    pub(crate) fn transition_worker_to_parked(&self, index: usize, searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARK_ONE + searching as usize;
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(index);
        searching && Self::searching(prev) == 1
    }

    /// A parked worker woke up. True if it was unparked by
    /// `worker_to_notify` (it is now searching); false on a spurious wake
    /// (still listed as a sleeper).
    pub(crate) fn transition_worker_from_parked(&self, index: usize) -> bool {
        !self.sleepers.lock().contains(&index)
    }

    /// A parked worker found work of its own (woken tasks in its queue
    /// after sleeping in the driver). Takes it off the sleepers and counts
    /// it unparked; returns false if a notifier had already done so (and
    /// counted it as searching).
    pub(crate) fn unpark_worker_by_id(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&i| i == index) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.state.fetch_add(UNPARK_ONE, SeqCst);
                true
            }
            None => false,
        }
    }

    /// A worker with nothing local wants to steal. False if half the
    /// workers are searching already.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let mut s = self.state.load(SeqCst);
        loop {
            if 2 * Self::searching(s) >= self.num_workers {
                return false;
            }
            match self.state.compare_exchange_weak(s, s + 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// A searching worker found work. True if it was the last searcher: it
    /// must wake another so that remaining work is found.
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        Self::searching(self.state.fetch_sub(1, SeqCst)) == 1
    }
}
