//! The fast path's credit, spread over shards: calls that may go without
//! the lock or the clock (see "The fast path" in the parent module).
//!
//! One word shared by every worker moves between the cores on each call
//! once two workers take from it at the same time (measured: with 8 tasks
//! on 2 workers, most of an acquire's time). So a grant is split over a
//! few cache-line-padded counters, and a thread takes from the one its
//! shard index names: two workers that hold different indices never write
//! the same line between two grants. Which shard a thread uses is only a
//! matter of speed: every collection swaps them all, so the calls taken
//! are counted exactly whichever shard they came from.

use crate::loom::{AtomicUsize, Ordering::*};
use std::cell::Cell;
use std::sync::OnceLock;

/// The most calls one shard gets from one grant (large: every refill
/// revokes all shards, sending every worker to the lock; the 1/16 of the
/// free room bounds a grant in any limiter that is not nearly unlimited).
pub(super) const SHARD_GRANT: usize = 16384;

/// One counter on its own cache line (128 bytes: two lines on x86, where
/// the prefetcher pairs them; one on Apple's cores).
#[repr(align(128))]
struct Shard(AtomicUsize);

/// Counters of granted, not yet taken calls (a power of two of them, or
/// none for a limiter without a fast path).
pub(super) struct Credit {
    shards: Box<[Shard]>,
}

impl Credit {
    /// `enabled`: the limiter has a fast path (else no memory is taken).
    pub(super) fn new(enabled: bool) -> Credit {
        let n = if enabled { shard_count() } else { 0 };
        Credit {
            shards: (0..n).map(|_| Shard(AtomicUsize::new(0))).collect(),
        }
    }

    /// Whether this limiter has a fast path at all.
    #[inline]
    pub(super) fn enabled(&self) -> bool {
        !self.shards.is_empty()
    }

    /// How many counters a grant is spread over.
    pub(super) fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The calling thread's counter, or None if the limiter has no fast
    /// path.
    #[inline]
    fn mine(&self) -> Option<&AtomicUsize> {
        // One comparison covers both a thread that has no shard yet
        // (`usize::MAX`) and a limiter without shards.
        match self.shards.get(SHARD.with(Cell::get)) {
            Some(shard) => Some(&shard.0),
            None if self.enabled() => Some(&self.shards[first_use()].0),
            None => None,
        }
    }

    /// Takes `n` calls from the calling thread's counter if it holds
    /// enough. No lock, no clock.
    #[inline]
    pub(super) fn take(&self, n: usize) -> bool {
        let Some(credit) = self.mine() else {
            return false;
        };
        // Relaxed: a stale read only sends us to the slow path or makes
        // the exchange fail.
        let mut have = credit.load(Relaxed);
        loop {
            if have < n {
                return false;
            }
            // AcqRel: Acquire pairs with the grant's Release (the call goes
            // after the grant's clock reading); Release orders the call
            // before the collecting swap, and so before its clock reading.
            match credit.compare_exchange_weak(have, have - n, AcqRel, Relaxed) {
                Ok(_) => return true,
                Err(now) => have = now,
            }
        }
    }

    /// Revokes every counter (under the limiter's lock), returning the sum
    /// of what was left in them: granted minus this is what was taken.
    pub(super) fn collect(&self) -> usize {
        // AcqRel: Acquire sees every call taken from a counter before its
        // swap.
        self.shards.iter().map(|s| s.0.swap(0, AcqRel)).sum()
    }

    /// Grants `per_shard` calls to every counter (under the limiter's
    /// lock, after a `collect`, at or after the clock reading the grant
    /// was computed at). Returns the total granted.
    pub(super) fn grant_all(&self, per_shard: usize) -> usize {
        for s in self.shards.iter() {
            // Release: the calls taken from it go after this (and after
            // the clock reading the grant was computed at).
            s.0.store(per_shard, Release);
        }
        per_shard * self.shards.len()
    }

    /// Grants `calls` to the calling thread's counter only (a grant too
    /// small to split). Returns the total granted.
    pub(super) fn grant_mine(&self, calls: usize) -> usize {
        // Release: as in `grant_all`.
        if let Some(mine) = self.mine() {
            mine.store(calls, Release);
            return calls;
        }
        0
    }
}

/// Shards per limiter: twice the cores (so that the workers' thread
/// indices rarely share one), a power of two, at most 16.
fn shard_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (2 * cores).next_power_of_two().min(16)
    })
}

thread_local! {
    /// The calling thread's shard, below `shard_count()` once set; threads
    /// are numbered in order of first use, so the first threads to take
    /// credit (a runtime's workers, typically) get distinct shards.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Gives the calling thread its shard.
#[cold]
fn first_use() -> usize {
    // A plain std atomic: which shard a thread uses never affects what is
    // admitted, only which line it writes.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let v = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & (shard_count() - 1);
    SHARD.with(|s| s.set(v));
    v
}
