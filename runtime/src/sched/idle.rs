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
//! injector, from outside; a worker's queue or LIFO slot, which a blocked
//! worker may not run for a long time): the producer pushes, then reads
//! `state` after a SeqCst fence (`should_wake`; never a bare load: see
//! there); a worker about to park decrements `unparked` (SeqCst), issues a
//! SeqCst fence and, if it was the last searcher, checks every queue once
//! more. The two fences are totally ordered: either the producer's comes
//! second and its load sees the decrement (it wakes a sleeper), or the
//! parker's comes second and its re-check sees the push. The protocol
//! itself is model-checked below (`loom_model`, with a flag standing in for the queue: loom cannot
//! see crossbeam-deque, see `loom.rs`); the stress tests exercise it whole.

use crate::loom::{fence, AtomicUsize, Mutex, Ordering::SeqCst};

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

    /// Parked workers to unpark for a batch of `out.len()` workers' worth
    /// of work (a large batch of wakes from outside the workers, see
    /// `Shared::signal_remote_batch`), written to `out`; returns how many.
    /// They are counted as unparked and searching from now on. The first
    /// follows `worker_to_notify`'s rule (only if nobody searches: the
    /// lost-wakeup protocol); the others are extra hands, woken even while
    /// another searches. All are taken off the sleepers under one lock, so
    /// the first cannot take the second's wake for itself.
    pub(crate) fn workers_to_notify(&self, out: &mut [usize]) -> usize {
        let first = self.should_wake();
        if out.is_empty() || (!first && out.len() == 1) {
            return 0;
        }
        if Self::unparked(self.state.load(SeqCst)) == self.num_workers {
            return 0;
        }
        let mut sleepers = self.sleepers.lock();
        let wanted = if self.should_wake() {
            out.len()
        } else {
            out.len() - 1
        };
        let mut n = 0;
        while n < wanted {
            let Some(index) = sleepers.pop() else { break };
            out[n] = index;
            n += 1;
        }
        if n > 0 {
            self.state.fetch_add(n * (UNPARK_ONE | 1), SeqCst);
        }
        n
    }

    fn should_wake(&self) -> bool {
        // A SeqCst fence before the load: the caller has just pushed a
        // task (a Release store into a deque or a LIFO slot), and a plain
        // load may be satisfied before that store is visible to others
        // (the store-buffer pattern: the producer reads "a searcher is
        // still looking" while the last searcher, parking, reads "the
        // queue is empty"). With this fence and the one after the parker's
        // `fetch_sub` in `transition_worker_to_parked`, the two fences are
        // ordered: if ours comes first, the parker's re-check of the
        // queues sees the push; if theirs does, this load sees the
        // decrement and we wake a sleeper. (tokio uses `fetch_add(0)`
        // here; that RMW makes both workers fight for the line on every
        // push, and measured ~5% slower on `yield_many`.) The loom model
        // `loom_model::producer_and_last_searcher` fails without the fence.
        fence(SeqCst);
        let s = self.state.load(SeqCst);
        Self::searching(s) == 0 && Self::unparked(s) < self.num_workers
    }

    /// A worker parks. Returns true if it was the last searcher: it must
    /// then check the queues once more.
    pub(crate) fn transition_worker_to_parked(&self, index: usize, searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARK_ONE + searching as usize;
        let prev = self.state.fetch_sub(dec, SeqCst);
        // Pairs with the fence in `should_wake`: our caller's re-check of
        // the queues then sees any push whose producer missed this
        // decrement.
        fence(SeqCst);
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

    /// True if every worker is parked (nobody can be stuck in a poll).
    pub(crate) fn all_parked(&self) -> bool {
        Self::unparked(self.state.load(SeqCst)) == 0
    }

    /// Some parked worker, left parked (the stall monitor wakes it
    /// spuriously so that it re-parks in the driver).
    pub(crate) fn a_sleeper(&self) -> Option<usize> {
        self.sleepers.lock().last().copied()
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

#[cfg(all(test, loom))]
mod loom_model {
    //! Run: `RUSTFLAGS="--cfg loom" cargo test --release -p corral-runtime
    //! --lib loom_model --target-dir target/loom`.
    use super::Idle;
    use crate::loom::{thread, Arc, AtomicBool, Ordering::*};

    /// A worker pushes a task where others may steal it (a Release store,
    /// as a deque push or a LIFO-slot swap) and signals; meanwhile the last
    /// searcher gives up and parks, re-checking the queues. One of them
    /// must see the other: the producer wakes a sleeper, or the parker
    /// finds the task. Fails if `should_wake` reads `state` with a plain
    /// load (the store-buffer pattern).
    #[test]
    fn producer_and_last_searcher() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(2));
            let queue = Arc::new(AtomicBool::new(false));
            // Worker 1 is searching (worker 0 is busy producing).
            assert!(idle.transition_worker_to_searching());

            let (i, q) = (idle.clone(), queue.clone());
            let producer = thread::spawn(move || {
                q.store(true, Release);
                i.worker_to_notify().is_some()
            });
            let last_searcher = idle.transition_worker_to_parked(1, true);
            assert!(last_searcher);
            let parker_saw_work = queue.load(Acquire);
            let woke_someone = producer.join().unwrap();
            assert!(
                woke_someone || parker_saw_work,
                "lost wake-up: the task is queued, worker 1 sleeps, and nobody will wake it"
            );
        });
    }

    /// As above, with the signal of a remote batch (`workers_to_notify`,
    /// asking for two workers): the first wake still obeys the protocol.
    /// Worker 0, parked from the start, may be woken as the extra hand
    /// (then it searches, and worker 1 is no longer the last searcher).
    #[test]
    fn batch_producer_and_last_searcher() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(3));
            let queue = Arc::new(AtomicBool::new(false));
            // Worker 0 sleeps; worker 1 searches; worker 2 is busy.
            assert!(!idle.transition_worker_to_parked(0, false));
            assert!(idle.transition_worker_to_searching());

            let (i, q) = (idle.clone(), queue.clone());
            let producer = thread::spawn(move || {
                q.store(true, Release);
                let mut out = [usize::MAX; 2];
                i.workers_to_notify(&mut out)
            });
            let last_searcher = idle.transition_worker_to_parked(1, true);
            let parker_saw_work = last_searcher && queue.load(Acquire);
            let woken = producer.join().unwrap();
            assert!(
                woken > 0 || parker_saw_work,
                "lost wake-up: the task is queued, every worker sleeps, and nobody will wake one"
            );
        });
    }
}
