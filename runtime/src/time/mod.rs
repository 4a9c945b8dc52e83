//! Time: sleeping, timeouts, intervals, and a clock that tests can pause.
//!
//! Timers live in a hierarchical timing wheel (`wheel.rs`: 6 levels x 64
//! slots of 1 ms) under one lock per runtime: O(1) to register, cancel or
//! reset. A [`Sleep`] registers on its first poll, so a timeout whose
//! future is ready at once never touches the wheel. The thread parked in
//! the driver sleeps until the earliest deadline (see `driver.rs`).
//!
//! Guarantees: a timer never fires before its deadline (deadlines round up
//! to the next millisecond), and on an idle runtime it fires within about a
//! millisecond after it.
//!
//! Memory: a pending `Sleep` is the future itself (48 bytes) plus one wheel
//! entry (see `wheel.rs`); a `Sleep` that is never polled costs no entry.
//!
//! # Paused clock
//!
//! [`pause`] (or `#[corral::test(start_paused = true)]`, or
//! [`Builder::start_paused`](crate::Builder::start_paused)) freezes the
//! runtime's clock. [`advance`] moves it; and on a current-thread runtime,
//! when every task is waiting and no `run_sync` job is running, the clock
//! jumps straight to the next timer (trio's autojump), so a test of a
//! one-hour timeout finishes at once. On a multi-thread runtime a paused
//! clock moves only with [`advance`].

mod clock;
mod instant;
mod interval;
mod sleep;
mod timeout;
mod wheel;

pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{fail_after, move_on_after, timeout, timeout_at, Elapsed, MoveOnAfter, Timeout};

use crate::driver;
use crate::loom::Mutex;
use clock::Clock;
use std::task::Waker;
use std::time::Duration;
use wheel::{TimerKey, Wheel};

/// The runtime's timers and clock (shared through `driver::Handle`).
pub(crate) struct TimeDriver {
    clock: Clock,
    /// Tick 0 of the wheel.
    start: std::time::Instant,
    timers: Mutex<Timers>,
}

struct Timers {
    wheel: Wheel,
    /// The tick at which the thread parked in the driver will wake up by
    /// itself (`Some(u64::MAX)`: parked with no timeout; `None`: nobody
    /// sleeps in the driver). A timer inserted earlier than that must
    /// unpark it, or it would fire late. With nobody parked no wake is
    /// needed: the next thread to park computes its timeout from the wheel
    /// under this same lock, and busy workers poll the driver between tasks.
    /// (Waking on every insert then cost an eventfd write and a spurious
    /// driver turn per timer: ~700 per 10,000 requests of a hyper server,
    /// which arms a header-read timer for each.) Read and written under the
    /// lock, together with the wheel.
    parked_until: Option<u64>,
}

impl Timers {
    /// A timer due at `tick` was filed: true if the thread parked in the
    /// driver would sleep past it and must be woken (it then recomputes its
    /// timeout; until it does, later inserts before `tick` need no wake).
    fn wakes_parked_driver(&mut self, tick: u64) -> bool {
        match self.parked_until {
            Some(until) if tick < until => {
                self.parked_until = Some(tick);
                true
            }
            _ => false,
        }
    }
}

/// What a registration asks of its caller.
pub(crate) struct Inserted {
    key: TimerKey,
    fired: bool,
    /// The driver sleeps past this deadline: wake it to recompute.
    unpark: bool,
}

impl TimeDriver {
    pub(crate) fn new(start_paused: bool) -> TimeDriver {
        let clock = Clock::new(start_paused);
        TimeDriver {
            start: clock.origin(),
            clock,
            timers: Mutex::new(Timers {
                wheel: Wheel::new(),
                parked_until: None,
            }),
        }
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_std(self.clock.now())
    }

    /// The first tick at or after `at` (rounded up: never early).
    fn deadline_tick(&self, at: std::time::Instant) -> u64 {
        let d = at.saturating_duration_since(self.start);
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if d.subsec_nanos() % 1_000_000 == 0 {
            ms
        } else {
            ms.saturating_add(1)
        }
    }

    /// Ticks fully elapsed now (rounded down).
    fn now_tick(&self) -> u64 {
        let d = self.clock.now().saturating_duration_since(self.start);
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    /// The instant of `tick`, None if beyond what `Instant` can hold (a
    /// sleep "forever").
    fn tick_instant(&self, tick: u64) -> Option<std::time::Instant> {
        self.start.checked_add(Duration::from_millis(tick))
    }

    /// Before parking in the driver: how long until the next timer may
    /// fire (None: no timer, or a paused clock, which waiting will not
    /// move). Records the wake-up tick so an earlier insert unparks us.
    pub(crate) fn prepare_park(&self, timeout: Option<Duration>) -> Option<Duration> {
        let mut timers = self.timers.lock();
        let next = if self.clock.is_paused() {
            None
        } else {
            timers
                .wheel
                .next_expiration()
                .and_then(|t| self.tick_instant(t))
                .map(|at| at.saturating_duration_since(self.clock.now()))
        };
        let timeout = match (timeout, next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        timers.parked_until = Some(match timeout {
            Some(t) => self
                .now_tick()
                .saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            None => u64::MAX,
        });
        timeout
    }

    /// After parking: nobody sleeps in the driver any more.
    pub(crate) fn unparked(&self) {
        self.timers.lock().parked_until = None;
    }

    /// Fires every timer that is due and wakes its task (outside the lock;
    /// a foreign waker that panics is contained and the others are still
    /// woken: see `contain.rs`).
    pub(crate) fn process(&self) {
        let now = self.now_tick();
        let mut wakers = Vec::new();
        self.timers.lock().wheel.advance(now, &mut wakers);
        crate::contain::wake_all(wakers);
    }

    /// Paused clock: jump to the next timer. False if none is pending.
    pub(crate) fn advance_to_next(&self) -> bool {
        let Some(next) = self.timers.lock().wheel.next_expiration() else {
            return false;
        };
        match self.tick_instant(next) {
            Some(at) => {
                self.clock.advance_to(at);
                true
            }
            None => false,
        }
    }

    fn insert(&self, deadline: std::time::Instant, waker: &Waker) -> Inserted {
        let tick = self.deadline_tick(deadline);
        let now = self.now_tick();
        let mut wakers = Vec::new();
        let inserted = {
            let mut timers = self.timers.lock();
            // Catch the wheel up first, so a deadline that has passed is
            // fired on insertion rather than scheduled into the past.
            if now > timers.wheel.elapsed() {
                timers.wheel.advance(now, &mut wakers);
            }
            let key = timers.wheel.insert(tick, waker.clone());
            let fired = timers.wheel.is_fired(key);
            let unpark = !fired && timers.wakes_parked_driver(tick);
            Inserted { key, fired, unpark }
        };
        crate::contain::wake_all(wakers);
        inserted
    }

    /// Fired? If not, make sure `waker` is the one woken.
    fn poll_fired(&self, key: TimerKey, waker: &Waker) -> bool {
        let replaced = {
            let mut timers = self.timers.lock();
            if timers.wheel.is_fired(key) {
                return true;
            }
            timers.wheel.set_waker(key, waker)
        };
        // Dropped after the lock: it may hold the last reference to a task
        // whose output holds a `Sleep`, whose drop takes this lock.
        drop(replaced);
        false
    }

    /// Moves a timer; true if the driver must be unparked.
    fn reset(&self, key: TimerKey, deadline: std::time::Instant) -> bool {
        let tick = self.deadline_tick(deadline);
        let mut timers = self.timers.lock();
        timers.wheel.reset(key, tick);
        timers.wakes_parked_driver(tick)
    }

    fn remove(&self, key: TimerKey) {
        let waker = self.timers.lock().wheel.remove(key);
        // After the lock, as in `poll_fired`.
        drop(waker);
    }

    /// Runtime shutdown: fire every pending timer (so that a task of
    /// another runtime waiting on one of them is woken; its `Sleep` then
    /// moves to that runtime) and file no new ones.
    pub(crate) fn shutdown(&self) {
        let mut wakers = Vec::new();
        self.timers.lock().wheel.shutdown(&mut wakers);
        crate::contain::wake_all(wakers);
    }

    /// True once the runtime has shut down.
    fn is_shut_down(&self) -> bool {
        self.timers.lock().wheel.is_shut_down()
    }
}

/// The current time on the current runtime's clock (which a test may have
/// paused). Outside a runtime, the system's monotonic clock.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let start = corral::time::current_time();
/// corral::time::sleep(std::time::Duration::from_millis(5)).await;
/// assert!(corral::time::current_time() - start >= std::time::Duration::from_millis(5));
/// # });
/// ```
pub fn current_time() -> Instant {
    if clock::all_clocks_real() {
        return Instant::from_std(std::time::Instant::now());
    }
    crate::context::with_handle(|h| match h {
        Some(h) => h.driver().time().now(),
        None => Instant::from_std(std::time::Instant::now()),
    })
}

/// True while no runtime clock in this process has ever been paused, so
/// every runtime's [`current_time`] is the system's monotonic clock and
/// readings from different runtimes and plain threads are comparable.
/// Once any clock is paused (`start_paused`, [`pause`]) it stays false.
///
/// For primitives with a clock-free fast path (`corral::sync::RateLimiter`
/// admits calls without reading the clock while its window is far from
/// full, and needs the real clock to stamp them): they take that path only
/// while this holds, and keep paused-clock tests exact.
///
/// ```
/// let paused = corral::Builder::new_current_thread().start_paused(true).build().unwrap();
/// // A paused clock exists now: from here on, never all real.
/// assert!(!corral::time::all_clocks_real());
/// # drop(paused);
/// ```
#[inline]
pub fn all_clocks_real() -> bool {
    clock::all_clocks_real()
}

#[track_caller]
fn current_driver(what: &str) -> driver::Handle {
    match driver::Handle::current() {
        Ok(h) => h,
        Err(_) => panic!(
            "corral::time::{what} called outside a corral runtime: call it from a task, \
             a block_on, or a #[corral::main] / #[corral::test] function"
        ),
    }
}

/// Freezes the current runtime's clock: time then moves only by
/// [`advance`], or by jumping to the next timer when everything is idle
/// (current-thread runtimes). See the [module docs](self#paused-clock).
///
/// Returns false if the clock was already paused.
///
/// # Panics
///
/// Outside a runtime.
///
/// ```
/// # corral::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::Duration;
/// corral::time::pause();
/// let start = std::time::Instant::now();
/// corral::time::sleep(Duration::from_secs(3600)).await; // jumps, does not wait
/// assert!(start.elapsed() < Duration::from_secs(60));
/// # });
/// ```
#[track_caller]
pub fn pause() -> bool {
    current_driver("pause").time().clock.pause()
}

/// Lets a paused clock run again from where it stands. Returns false if it
/// was not paused.
///
/// # Panics
///
/// Outside a runtime.
///
/// ```
/// # corral::Builder::new_current_thread().build().unwrap().block_on(async {
/// corral::time::pause();
/// assert!(corral::time::resume());
/// assert!(!corral::time::resume());
/// # });
/// ```
#[track_caller]
pub fn resume() -> bool {
    current_driver("resume").time().clock.resume()
}

/// Moves a paused clock forward by `by`, fires the timers that became due,
/// and yields so the tasks they woke can run.
///
/// # Panics
///
/// Outside a runtime, or if the clock is not paused (advancing a running
/// clock would make it jump ahead of real time for good).
///
/// ```
/// # corral::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::Duration;
/// corral::time::pause();
/// let before = corral::time::current_time();
/// corral::time::advance(Duration::from_secs(10)).await;
/// assert_eq!(corral::time::current_time() - before, Duration::from_secs(10));
/// # });
/// ```
#[track_caller]
pub fn advance(by: Duration) -> impl std::future::Future<Output = ()> {
    let driver = current_driver("advance");
    assert!(
        driver.time().clock.advance(by),
        "corral::time::advance needs a paused clock: call corral::time::pause() first"
    );
    driver.time().process();
    crate::yield_now()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::TimeDriver;
    use std::task::Waker;
    use std::time::{Duration, Instant};

    /// Inserting a timer wakes the driver only if a thread sleeps in it past
    /// the timer's deadline.
    #[test]
    fn insert_wakes_the_driver_only_when_it_sleeps_past_the_deadline() {
        let time = TimeDriver::new(false);
        let waker = Waker::noop();
        let soon = Instant::now() + Duration::from_secs(30);
        // Nobody parked: whoever parks next sees the timer in the wheel.
        assert!(!time.insert(soon, waker).unpark);
        time.remove(time.insert(soon, waker).key);
        // Parked with no timeout (the wheel had only the 30 s timer, so the
        // park is bounded by it): a later timer needs no wake, an earlier
        // one does, once.
        time.prepare_park(None);
        assert!(!time.insert(soon + Duration::from_secs(1), waker).unpark);
        assert!(time.insert(soon - Duration::from_secs(10), waker).unpark);
        assert!(!time.insert(soon - Duration::from_secs(5), waker).unpark);
        time.unparked();
        assert!(
            !time
                .insert(Instant::now() + Duration::from_millis(5), waker)
                .unpark
        );
    }
}
