//! The runtime's clock: real time, or paused for tests.
//!
//! Paused, the clock stands still until `advance` moves it or the runtime
//! jumps it to the next timer when every task is idle (auto-advance). A
//! clock that was never paused reads `std::time::Instant::now()` directly,
//! without the lock.

use crate::loom::{AtomicBool, Mutex, Ordering::*};
use std::time::{Duration, Instant};

/// Set once any clock in the process has been paused; until then
/// `corral::time::Instant::now()` skips the runtime lookup. A plain std
/// atomic even under loom: it only selects a fast path, and loom forbids
/// its atomics in statics.
static ANY_PAUSABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True if no runtime clock was ever paused: every clock reads the system
/// clock.
pub(crate) fn all_clocks_real() -> bool {
    !ANY_PAUSABLE.load(std::sync::atomic::Ordering::Relaxed)
}

fn mark_pausable() {
    ANY_PAUSABLE.store(true, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) struct Clock {
    /// The reading at creation: tick 0 of the runtime's timing wheel.
    origin: Instant,
    /// Set once the clock has ever been paused; until then `now` is just
    /// the system clock.
    pausable: AtomicBool,
    state: Mutex<State>,
}

struct State {
    /// The clock's reading when it was last paused or resumed.
    base: Instant,
    /// When it last resumed (None: paused).
    unfrozen: Option<Instant>,
}

impl Clock {
    pub(crate) fn new(start_paused: bool) -> Clock {
        let now = Instant::now();
        if start_paused {
            mark_pausable();
        }
        Clock {
            origin: now,
            pausable: AtomicBool::new(start_paused),
            state: Mutex::new(State {
                base: now,
                unfrozen: (!start_paused).then_some(now),
            }),
        }
    }

    /// The reading at creation (tick 0 of the timing wheel).
    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    pub(crate) fn now(&self) -> Instant {
        // Relaxed: `pausable` only selects the fast path; the state behind
        // it is read under the lock.
        if !self.pausable.load(Relaxed) {
            return Instant::now();
        }
        let s = self.state.lock();
        match s.unfrozen {
            Some(since) => s.base + since.elapsed(),
            None => s.base,
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.pausable.load(Relaxed) && self.state.lock().unfrozen.is_none()
    }

    /// Freezes the clock. Returns false if it was already paused.
    ///
    /// The frozen reading is rounded up to a whole millisecond since
    /// `origin` (a jump forward of under a millisecond, as if pausing took
    /// that long). Timers fire by whole ticks of the wheel, counted from
    /// `origin`, and deadlines round up to the next tick: unaligned, a
    /// `sleep(1s)` followed by `advance(1s)` would leave the clock a
    /// fraction of a tick short of the timer's tick, and on a runtime that
    /// does not auto-advance the sleep would never end.
    pub(crate) fn pause(&self) -> bool {
        let mut s = self.state.lock();
        mark_pausable();
        self.pausable.store(true, Relaxed);
        match s.unfrozen.take() {
            Some(since) => {
                let base = s.base + since.elapsed();
                let over = base.saturating_duration_since(self.origin).subsec_nanos() % 1_000_000;
                s.base = if over == 0 {
                    base
                } else {
                    base + Duration::from_nanos(u64::from(1_000_000 - over))
                };
                true
            }
            None => false,
        }
    }

    /// Lets the clock run again from where it stood. False if it was not
    /// paused.
    pub(crate) fn resume(&self) -> bool {
        let mut s = self.state.lock();
        if s.unfrozen.is_some() {
            return false;
        }
        s.unfrozen = Some(Instant::now());
        true
    }

    /// Moves a paused clock forward. False if it is not paused.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        let mut s = self.state.lock();
        if s.unfrozen.is_some() || !self.pausable.load(Relaxed) {
            return false;
        }
        s.base += by;
        true
    }

    /// Moves a paused clock forward to `to` (never back).
    pub(crate) fn advance_to(&self, to: Instant) {
        let mut s = self.state.lock();
        if s.unfrozen.is_none() && to > s.base {
            s.base = to;
        }
    }
}
