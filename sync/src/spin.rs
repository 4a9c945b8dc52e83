//! The bounded spin of a fresh locker that finds a lock held by a task
//! running on another worker right now (the Mutex's and the RwLock's
//! adaptive spin; see `raw.rs` and `rwlock.rs`).
//!
//! The spinner re-reads the lock word, waiting a little longer between
//! reads each time (1, 2, 4, ... up to [`MAX_PAUSES`] `spin_loop` hints):
//! every read pulls the word's cache line over to the spinner's core, and
//! the holder, which locks and unlocks in a loop until its cooperative
//! budget runs out, then pays a cache miss on its next lock. A spinner
//! that reads without pause made the holder's increments on
//! `mutex_8x10k` about three times slower on an idle two-core machine;
//! it only needs to notice, within a fraction of the holder's run, that
//! the lock came free. It gives up after [`SPIN_FOR`] (the clock is read
//! every 8th re-read only, so a short spin costs no clock read).

use crate::loom::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a locker spins, at most: longer than a holder that re-locks
/// in a loop keeps the lock before its cooperative budget (128 locks)
/// makes it yield.
pub(crate) const SPIN_FOR: Duration = Duration::from_micros(100);

/// The most `spin_loop` hints between two re-reads of the word.
const MAX_PAUSES: u32 = 64;

/// One spinner's progress: re-reads so far and the deadline, set at the
/// first clock read.
pub(crate) struct Spin {
    reads: u32,
    deadline: Option<Instant>,
}

impl Spin {
    pub(crate) fn new() -> Self {
        Spin {
            reads: 0,
            deadline: None,
        }
    }

    /// Waits before the next re-read, longer each time; false (give up
    /// and queue) once [`SPIN_FOR`] has passed.
    pub(crate) fn again(&mut self) -> bool {
        self.reads += 1;
        if self.reads % 8 == 0 {
            let now = Instant::now();
            match self.deadline {
                None => self.deadline = Some(now + SPIN_FOR),
                Some(end) if now >= end => return false,
                Some(_) => {}
            }
        }
        for _ in 0..(1u32 << self.reads.min(MAX_PAUSES.trailing_zeros())) {
            std::hint::spin_loop();
        }
        true
    }
}

/// The locks' spin on their word: CAS it from 0 to `mine` as soon as it
/// is free (true), while `keep_waiting` says the word's holders are worth
/// waiting for; false (queue) once it does not, or after [`SPIN_FOR`].
/// Only a word of 0 is taken, which for both locks means nobody waits,
/// so the spinner overtakes no waiter. Acquire on success: pairs with the
/// Release of the unlock that freed the word.
pub(crate) fn take_when_free(word: &AtomicU64, mine: u64, mut keep_waiting: impl FnMut(u64) -> bool) -> bool {
    let mut w = word.load(Ordering::Relaxed);
    let mut spin = Spin::new();
    loop {
        if w == 0 {
            match word.compare_exchange(0, mine, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => {
                    w = now;
                    continue;
                }
            }
        }
        if !keep_waiting(w) || !spin.again() {
            return false;
        }
        w = word.load(Ordering::Relaxed);
    }
}
