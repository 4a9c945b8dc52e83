//! [`RateLimiter`]: at most `max_calls` per `period` (a sliding window) or a
//! token bucket, with FIFO waiters on the runtime's timers.
//!
//! # State, and who may touch it
//!
//! One short lock (`state`) guards the limit's arithmetic (`limit.rs`: the
//! window's admission records, or the bucket's theoretical arrival time),
//! the `turn` flag and the [`WaitList`] of waiters (payload `()`: what is
//! handed over is the turn itself).
//!
//! # The turn
//!
//! Exactly one waiter at a time, the *turn holder*, works out when its
//! slot is free, sleeps until then on the runtime's timer, admits itself
//! (records its calls) and passes the turn to the next waiter. `turn` is
//! true while a turn holder exists:
//!
//! 1. A caller that finds `turn == false` and nobody queued checks the
//!    limit (the fast path: one lock, one clock read, no timer). If its
//!    calls may go, it records them and returns. If not, it sets `turn`
//!    and becomes the holder.
//! 2. Otherwise it queues at the back of the list and waits to be handed
//!    the turn.
//! 3. The holder rechecks the limit under the lock (nobody else admits
//!    while `turn` is set, so the time it computed stands), sleeps until
//!    its slot, admits itself, and *passes the turn*: `wake_front` hands
//!    it to the first waiter (which then does 3), or, if nobody waits,
//!    clears `turn`.
//!
//! So waiters are served in FIFO order, one wake per admission (no
//! thundering herd), and `try_acquire` cannot barge: it only admits when
//! `turn` is clear and nobody waits.
//!
//! # Cancellation
//!
//! - A queued waiter dropped before being handed the turn unlinks itself
//!   ([`Removed::Unlinked`]): nothing else changes (the holder is
//!   someone else).
//! - A waiter dropped after `wake_front` handed it the turn but before it
//!   ran ([`Removed::Notified`]), or a holder dropped while it sleeps,
//!   passes the turn on exactly as an admitted holder does. The next
//!   waiter then computes its own slot, which is the same time the
//!   cancelled one would have had: nothing is lost, nobody goes early.
//!
//! # The fast path: admitting without the clock
//!
//! Reading the clock is most of the cost of an admission that does not
//! wait (tens of nanoseconds, more than the rest together), and a limiter
//! far from full does not need the time to say yes. So a sliding window
//! with room to spare hands out *credit*: under the lock, at a clock
//! reading `t0`, with `k` admissions still in the window and nobody
//! waiting or holding the turn, it grants `c` calls (`k + c <= max_calls`,
//! `c` at most 1/16 of the free room). `acquire` / `try_acquire` /
//! `blocking_acquire` take a call from it with one compare-exchange: no
//! lock, no clock.
//!
//! The credit is *sharded* (`credit.rs`): a few counters, each on its own
//! cache line, and each thread takes from the one its shard index names
//! (threads are numbered in order of first use, so a runtime's workers
//! get distinct ones). A grant puts `c / shards` (at most `SHARD_GRANT` =
//! 16,384) in every counter, or, if that is under `FAST_MIN_GRANT`, all
//! of `c` in the granting thread's counter. Grants are large because a
//! refill revokes every counter: the other workers then find theirs empty
//! and queue on the lock too, so each refill costs a round of contended
//! slow paths (8 tasks on 2 workers: 1.6 ms with 1,024 a shard, 1.0 ms
//! with 4,096, 0.68 ms with 16,384, vs 2.8 ms unsharded). One shared counter moved between
//! the cores on every call once two workers took from it (8 tasks on 2
//! workers: 1.41 of tokio's semaphore shape); with shards each worker
//! writes its own line between grants. A thread whose counter is dry goes
//! the slow path, which collects them all and grants afresh. The counters
//! take `shards x 128` bytes on the heap (2 x the cores, a power of two,
//! at most 16: 512 bytes on two cores), only for a limiter with a fast
//! path.
//!
//! Every lock of the state (any slow path, `statistics`) first *collects*:
//! it swaps every counter to zero, then reads the clock and records the
//! calls that were taken (granted minus what the swaps found) at that
//! reading. Which counter a call came from plays no part, and
//! `statistics` counts every call taken so far. Why that never
//! admits more than `max_calls` in any span of `period`:
//!
//! - a taken call went at a real time `u >= t0` (it read the counter the
//!   grant wrote after reading `t0`), and is recorded at a reading taken
//!   after the swap that followed it, so at `>= u`: it stays in the window
//!   at least as long as it really is, never leaves it early;
//! - no decision is made while credit is out (each lock collects first),
//!   and any span of `period` that holds a taken call (at `u >= t0`) holds
//!   only records among the `k` that were still in the window at `t0`,
//!   plus at most `c` taken calls: `k + c <= max_calls`.
//!
//! The price is precision, only ever on the strict side: calls taken from
//! a grant are recorded at the next reading, not when they went. A grant
//! is at most 1/16 of the free room (and `SHARD_GRANT` per shard), so at
//! worst that many recent calls count in the window longer than they should
//! (e.g. after a burst followed by an idle gap), for one period. Limiters
//! below 128 calls per period never use credit and stay exact; so does any
//! limiter once a runtime clock in the process was paused
//! (`corral::time::all_clocks_real`), so paused-clock tests keep exact
//! times. A token bucket has no fast path. Waiters are never bypassed:
//! a grant is only made with nobody waiting, and whoever starts to wait
//! takes the lock, which revokes it.
//!
//! The blocking path (`blocking_acquire*`) follows the same steps with a
//! parked thread in the list and `std::thread::sleep` for the timer; a
//! thread that times out in the queue unlinks itself, and one that times
//! out holding the turn passes it on.

mod credit;
mod error;
mod limit;

pub use error::{BlockingRateLimitError, RateLimitError, RateLimiterConfigError, TryRateLimitError};

use crate::loom::{Lock, LockGuard};
use corral_runtime::coop;
use corral_runtime::task;
use corral_runtime::time::{current_time, sleep_until, Instant, Sleep};
use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};
use corral_runtime::Handle;
use credit::{Credit, SHARD_GRANT};
use limit::{Bucket, Limit, Window};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// Lets at most `max_calls` calls through per `period` (a sliding window),
/// or through a token bucket: the seeds' rate limiter and throttle.
///
/// # Semantics
///
/// - **Sliding window** ([`new`](Self::new)): the n-th admitted call goes
///   once the (n - `max_calls`)-th admitted call is `period` old, so no
///   span of `period` ever holds more than `max_calls` admissions. With
///   3 calls per 0.5 s, calls 1-3 go at once and calls 4 and 5 go at
///   0.5 s.
/// - **Token bucket** ([`token_bucket`](Self::token_bucket)): a bucket of
///   `burst` tokens, refilled at `rate` tokens per second; a call takes
///   one. Bursts of up to `burst` go at once, then calls are spaced
///   `1 / rate` apart.
/// - **FIFO, no thundering herd.** Waiters are admitted in arrival order,
///   one at a time: the first in line sleeps on the runtime's timer until
///   its slot, goes, and wakes the next. A request for many calls
///   ([`acquire_many`](Self::acquire_many)) at the head waits until all
///   its calls fit, and smaller ones behind it wait their turn. Nobody
///   barges, not even [`try_acquire`](Self::try_acquire).
/// - **Cancellation loses nothing.** A dropped waiter leaves the queue; if
///   it was first in line, the next waiter takes over at the same slot.
/// - **Precision.** Admission times are exact on a paused clock and
///   within about a millisecond on a real one (the timer's resolution).
///   Calls admitted within one millisecond of each other share one
///   record, timed at the latest of them: the window never admits early,
///   and its memory is bounded by `period / 1 ms` records however large
///   `max_calls` is (a `VecDeque` of 40-byte records, freed as they leave
///   the window).
/// - **No clock while far from full.** A window of at least 128 calls
///   with room to spare admits most calls with one atomic operation, no
///   lock and no clock read, recording them at the next clock reading:
///   late, never early, so the limit always holds; at worst (a burst, then
///   an idle gap) up to 1/16 of the window counts a period longer than it
///   should. Exact again once any runtime clock was paused (tests).
/// - **Errors, not hangs.** Asking for more calls at once than can ever go
///   together is [`RateLimitError::TooMany`]. Bad parameters are a typed
///   error from [`try_new`](Self::try_new) /
///   [`try_token_bucket`](Self::try_token_bucket); [`new`](Self::new) and
///   [`token_bucket`](Self::token_bucket) panic on them (constant
///   parameters are programming errors, as `Duration` arithmetic's).
///
/// # Runtimes and clocks
///
/// A limiter reads the clock of the corral runtime polling it, so on a
/// paused clock (`#[corral::test(start_paused = true)]`) its waits take no
/// real time. It also remembers the runtime it was created in (if any):
/// a future polled by another executor (`futures::executor::block_on`, a
/// tokio runtime) waits on that runtime's timer and clock, which must
/// still be running (a multi-thread runtime, or a current-thread one
/// inside `block_on`). A limiter created outside any runtime and polled
/// outside any runtime admits calls whose slot is free at once, and fails
/// one that would have to wait with [`RateLimitError::NoRuntime`] rather
/// than hang. The `blocking_*` methods need no runtime: they sleep the
/// calling thread (on a limiter created in a runtime with a paused clock,
/// until that clock has passed the slot).
///
/// Compared with others: asyncio and AnyIO have no rate limiter (the seeds
/// wrote theirs on a deque of timestamps, as this window does); tokio has
/// none (people use `governor`'s GCRA, which is this token bucket, or a
/// `Semaphore` refilled by an interval task, which is neither fair nor
/// exact).
///
/// ```
/// use corral::sync::RateLimiter;
/// use corral::time::current_time;
/// use std::time::Duration;
/// # corral::Builder::new_current_thread().start_paused(true).build().unwrap().block_on(async {
/// let limiter = RateLimiter::new(3, Duration::from_millis(500));
/// let start = current_time();
/// for _ in 0..5 {
///     limiter.acquire().await.unwrap();
/// }
/// // Calls 4 and 5 waited for call 1 and 2 to be half a second old.
/// assert_eq!(current_time() - start, Duration::from_millis(500));
/// # });
/// ```
pub struct RateLimiter {
    state: Lock<State>,
    /// The runtime it was created in: its timer and clock serve futures
    /// polled outside any runtime.
    home: Option<Handle>,
    /// `max_calls` or `burst`: the most calls that can go at once.
    capacity: usize,
    /// Calls that may go without the lock or the clock (module docs: the
    /// fast path), spread over per-thread shards; all zero unless a grant
    /// is out, and no shards at all unless the limiter is a sliding window
    /// large enough for the fast path.
    credit: Credit,
    created_at: &'static Location<'static>,
}

/// The smallest grant worth making: limiters with less free room than
/// 16 x this (128 calls) stay on the exact path.
const FAST_MIN_GRANT: usize = 8;

struct State {
    limit: Limit,
    /// Calls granted to the fast path at the last grant (taken or still in
    /// `credit`); zero once collected.
    granted: usize,
    /// A turn holder exists (see the module docs).
    turn: bool,
    waiters: WaitList<()>,
}

/// A snapshot of a [`RateLimiter`], from [`RateLimiter::statistics`].
///
/// ```
/// use corral::sync::RateLimiter;
/// use std::time::Duration;
/// let limiter = RateLimiter::new(3, Duration::from_secs(1));
/// limiter.try_acquire().unwrap();
/// let stats = limiter.statistics();
/// assert_eq!((stats.calls_in_window, stats.available, stats.max_calls), (1, 2, 3));
/// assert_eq!(stats.tasks_waiting, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimiterStatistics {
    /// Calls that count against the limit now: admitted within the last
    /// period (window), or tokens taken and not yet refilled (bucket).
    pub calls_in_window: usize,
    /// Calls that could go right now if nobody waited.
    pub available: usize,
    /// `max_calls` (window) or `burst` (bucket).
    pub max_calls: usize,
    /// Tasks and threads waiting, the one first in line included.
    pub tasks_waiting: usize,
    /// When the next single call's slot frees, counting only calls already
    /// admitted (at or before now: one is free now).
    pub next_free_slot: Instant,
    /// Where the limiter was created.
    pub created_at: &'static Location<'static>,
}

impl RateLimiter {
    /// The longest window (or token-bucket refill time) a limiter accepts:
    /// 100 years, far beyond any deadline the timer can reach.
    ///
    /// ```
    /// use corral::sync::RateLimiter;
    /// assert!(RateLimiter::try_new(1, RateLimiter::MAX_PERIOD).is_ok());
    /// assert!(RateLimiter::try_new(1, RateLimiter::MAX_PERIOD * 2).is_err());
    /// ```
    pub const MAX_PERIOD: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

    /// A sliding window of at most `max_calls` calls per `period`.
    ///
    /// # Panics
    ///
    /// If `max_calls` is 0, `period` is zero, or `period` exceeds
    /// [`MAX_PERIOD`](Self::MAX_PERIOD); [`try_new`](Self::try_new)
    /// returns these as errors.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = corral::sync::RateLimiter::new(10, Duration::from_secs(1));
    /// assert_eq!(limiter.max_calls(), 10);
    /// ```
    #[track_caller]
    pub fn new(max_calls: usize, period: Duration) -> RateLimiter {
        match Self::try_new(max_calls, period) {
            Ok(l) => l,
            Err(e) => panic!("RateLimiter::new: {e}"),
        }
    }

    /// A sliding window of at most `max_calls` calls per `period`, or why
    /// not.
    ///
    /// # Errors
    ///
    /// [`RateLimiterConfigError::ZeroMaxCalls`],
    /// [`ZeroPeriod`](RateLimiterConfigError::ZeroPeriod),
    /// [`PeriodTooLong`](RateLimiterConfigError::PeriodTooLong).
    ///
    /// ```
    /// use corral::sync::{RateLimiter, RateLimiterConfigError};
    /// use std::time::Duration;
    /// assert!(RateLimiter::try_new(5, Duration::from_secs(1)).is_ok());
    /// assert_eq!(
    ///     RateLimiter::try_new(5, Duration::ZERO).unwrap_err(),
    ///     RateLimiterConfigError::ZeroPeriod
    /// );
    /// ```
    #[track_caller]
    pub fn try_new(max_calls: usize, period: Duration) -> Result<RateLimiter, RateLimiterConfigError> {
        if max_calls == 0 {
            return Err(RateLimiterConfigError::ZeroMaxCalls);
        }
        if period.is_zero() {
            return Err(RateLimiterConfigError::ZeroPeriod);
        }
        if period > Self::MAX_PERIOD {
            return Err(RateLimiterConfigError::PeriodTooLong {
                period,
                max: Self::MAX_PERIOD,
            });
        }
        Ok(Self::with_limit(Limit::Window(Window::new(max_calls, period))))
    }

    /// A token bucket: `burst` tokens, refilled at `rate` tokens per
    /// second (fractions allowed: `0.5` is one every two seconds); each
    /// call takes one. It starts full.
    ///
    /// The refill interval `1 / rate` is kept in whole nanoseconds
    /// (rounded to the nearest; rates above 10^9 per second count as 10^9).
    ///
    /// # Panics
    ///
    /// If `rate` is not finite and above zero, `burst` is 0, or refilling
    /// `burst` tokens takes longer than [`MAX_PERIOD`](Self::MAX_PERIOD);
    /// [`try_token_bucket`](Self::try_token_bucket) returns these as
    /// errors.
    ///
    /// ```
    /// // 5 calls per second on average, bursts of up to 10.
    /// let limiter = corral::sync::RateLimiter::token_bucket(5.0, 10);
    /// assert_eq!(limiter.max_calls(), 10);
    /// ```
    #[track_caller]
    pub fn token_bucket(rate: f64, burst: usize) -> RateLimiter {
        match Self::try_token_bucket(rate, burst) {
            Ok(l) => l,
            Err(e) => panic!("RateLimiter::token_bucket: {e}"),
        }
    }

    /// A token bucket (see [`token_bucket`](Self::token_bucket)), or why
    /// not.
    ///
    /// # Errors
    ///
    /// [`RateLimiterConfigError::InvalidRate`],
    /// [`ZeroBurst`](RateLimiterConfigError::ZeroBurst),
    /// [`PeriodTooLong`](RateLimiterConfigError::PeriodTooLong) (the time
    /// to refill `burst` tokens).
    ///
    /// ```
    /// use corral::sync::{RateLimiter, RateLimiterConfigError};
    /// assert_eq!(
    ///     RateLimiter::try_token_bucket(f64::NAN, 1).unwrap_err().to_string(),
    ///     "a token bucket's rate must be a finite number of tokens per second above zero, not NaN"
    /// );
    /// assert_eq!(
    ///     RateLimiter::try_token_bucket(1.0, 0).unwrap_err(),
    ///     RateLimiterConfigError::ZeroBurst
    /// );
    /// ```
    #[track_caller]
    pub fn try_token_bucket(rate: f64, burst: usize) -> Result<RateLimiter, RateLimiterConfigError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(RateLimiterConfigError::InvalidRate { rate });
        }
        if burst == 0 {
            return Err(RateLimiterConfigError::ZeroBurst);
        }
        let interval_ns = (1e9 / rate).round().max(1.0);
        let max_ns = Self::MAX_PERIOD.as_nanos() as f64;
        let refill_ns = interval_ns * burst as f64;
        if refill_ns > max_ns {
            return Err(RateLimiterConfigError::PeriodTooLong {
                period: Duration::try_from_secs_f64(refill_ns / 1e9).unwrap_or(Duration::MAX),
                max: Self::MAX_PERIOD,
            });
        }
        let interval = Duration::from_nanos(interval_ns as u64);
        Ok(Self::with_limit(Limit::Bucket(Bucket::new(interval, burst))))
    }

    #[track_caller]
    fn with_limit(limit: Limit) -> RateLimiter {
        let capacity = limit.capacity();
        let fast = cfg!(not(loom)) && matches!(limit, Limit::Window(_)) && capacity >= 16 * FAST_MIN_GRANT;
        RateLimiter {
            state: Lock::new(State {
                limit,
                granted: 0,
                turn: false,
                waiters: WaitList::new(),
            }),
            home: Handle::try_current().ok(),
            capacity,
            credit: Credit::new(fast),
            created_at: Location::caller(),
        }
    }

    /// The most calls that can go at once: `max_calls` of a window,
    /// `burst` of a token bucket. A larger request is an error.
    ///
    /// ```
    /// let limiter = corral::sync::RateLimiter::new(7, std::time::Duration::from_secs(1));
    /// assert_eq!(limiter.max_calls(), 7);
    /// ```
    pub fn max_calls(&self) -> usize {
        self.capacity
    }

    /// Where this limiter was created (`#[track_caller]` on the
    /// constructors).
    ///
    /// ```
    /// let limiter = corral::sync::RateLimiter::new(1, std::time::Duration::from_secs(1));
    /// assert!(limiter.created_at().file().ends_with(".rs"));
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.created_at
    }

    /// Waits until one call may go, and admits it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, and fair: dropping the future gives up its place in
    /// line and admits nothing; if it was first in line (sleeping until
    /// its slot), the next waiter takes over at the same slot.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::NoRuntime`] if it must wait outside any runtime
    /// (see [Runtimes and clocks](Self#runtimes-and-clocks)).
    ///
    /// ```
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let limiter = corral::sync::RateLimiter::new(100, Duration::from_secs(1));
    /// limiter.acquire().await.unwrap();
    /// assert_eq!(limiter.statistics().calls_in_window, 1);
    /// # });
    /// ```
    pub async fn acquire(&self) -> Result<(), RateLimitError> {
        Acquire::new(self, 1).await
    }

    /// Waits until `n` calls may go together, and admits them (a batch
    /// request counting as `n` calls). `n == 0` returns at once.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire): nothing is admitted unless it
    /// returns `Ok`, and the turn of a cancelled first-in-line waiter
    /// passes on.
    ///
    /// # Errors
    ///
    /// [`RateLimitError::TooMany`] at once if `n` exceeds
    /// [`max_calls`](Self::max_calls) (it could never go);
    /// [`RateLimitError::NoRuntime`] as for `acquire`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let limiter = corral::sync::RateLimiter::new(10, Duration::from_secs(1));
    /// limiter.acquire_many(4).await.unwrap();
    /// assert_eq!(limiter.statistics().available, 6);
    /// assert!(limiter.acquire_many(11).await.is_err());
    /// # });
    /// ```
    pub async fn acquire_many(&self, n: usize) -> Result<(), RateLimitError> {
        Acquire::new(self, n).await
    }

    /// Admits one call now if the limit allows it and nobody waits.
    ///
    /// # Errors
    ///
    /// [`TryRateLimitError::Limited`], saying when the next slot frees and
    /// how many wait first.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = corral::sync::RateLimiter::new(2, Duration::from_secs(1));
    /// assert!(limiter.try_acquire().is_ok());
    /// assert!(limiter.try_acquire().is_ok());
    /// assert!(limiter.try_acquire().is_err());
    /// ```
    pub fn try_acquire(&self) -> Result<(), TryRateLimitError> {
        self.try_acquire_many(1)
    }

    /// Admits `n` calls now if the limit allows them and nobody waits.
    ///
    /// # Errors
    ///
    /// [`TryRateLimitError::Limited`] as for `try_acquire`;
    /// [`TryRateLimitError::TooMany`] if `n` exceeds
    /// [`max_calls`](Self::max_calls).
    ///
    /// ```
    /// use corral::sync::TryRateLimitError;
    /// use std::time::Duration;
    /// let limiter = corral::sync::RateLimiter::new(3, Duration::from_secs(1));
    /// assert!(limiter.try_acquire_many(3).is_ok());
    /// assert!(matches!(limiter.try_acquire_many(4), Err(TryRateLimitError::TooMany { .. })));
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<(), TryRateLimitError> {
        if n > self.capacity {
            return Err(TryRateLimitError::TooMany {
                requested: n,
                max: self.capacity,
            });
        }
        if n == 0 || self.try_fast(n) {
            return Ok(());
        }
        // The clock is read before locking (it is the slow part): a reading
        // older than a record already made only makes the limit stricter.
        let now = self.now();
        let mut st = self.lock();
        let tasks_waiting = st.waiters.len() + usize::from(st.turn);
        if tasks_waiting > 0 {
            let next_free = st.limit.check(now, n).err().unwrap_or(now);
            return Err(TryRateLimitError::Limited {
                next_free,
                tasks_waiting,
            });
        }
        st.limit
            .admit(now, n)
            .map_err(|next_free| TryRateLimitError::Limited {
                next_free,
                tasks_waiting: 0,
            })?;
        self.grant(&mut st, now);
        Ok(())
    }

    /// Blocks the current thread until one call may go, and admits it.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): `.await` [`acquire`](Self::acquire) there, or move the
    /// call onto `corral::run_sync`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = std::sync::Arc::new(corral::sync::RateLimiter::new(2, Duration::from_millis(20)));
    /// let threads: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let limiter = limiter.clone();
    ///         std::thread::spawn(move || limiter.blocking_acquire().unwrap())
    ///     })
    ///     .collect();
    /// for t in threads {
    ///     t.join().unwrap(); // the third waited ~20 ms
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// None in practice for one call (`max_calls >= 1`); the `Result`
    /// matches the other `blocking_acquire*` methods.
    #[track_caller]
    pub fn blocking_acquire(&self) -> Result<(), BlockingRateLimitError> {
        self.blocking(1, None, "RateLimiter::blocking_acquire")
    }

    /// As [`blocking_acquire`](Self::blocking_acquire), giving up after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`BlockingRateLimitError::Timeout`], returned as soon as the call's
    /// slot is known to come after the timeout (when it is first in line)
    /// or when the timeout passes in the queue.
    ///
    /// # Panics
    ///
    /// As `blocking_acquire`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = corral::sync::RateLimiter::new(1, Duration::from_secs(60));
    /// assert!(limiter.blocking_acquire_timeout(Duration::from_millis(5)).is_ok());
    /// assert!(limiter.blocking_acquire_timeout(Duration::from_millis(5)).is_err());
    /// ```
    #[track_caller]
    pub fn blocking_acquire_timeout(&self, timeout: Duration) -> Result<(), BlockingRateLimitError> {
        self.blocking(1, Some(timeout), "RateLimiter::blocking_acquire_timeout")
    }

    /// Blocks the current thread until `n` calls may go together.
    ///
    /// # Errors
    ///
    /// [`BlockingRateLimitError::TooMany`] if `n` exceeds
    /// [`max_calls`](Self::max_calls).
    ///
    /// # Panics
    ///
    /// As `blocking_acquire`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = corral::sync::RateLimiter::new(5, Duration::from_secs(1));
    /// limiter.blocking_acquire_many(5).unwrap();
    /// assert!(limiter.blocking_acquire_many(6).is_err());
    /// ```
    #[track_caller]
    pub fn blocking_acquire_many(&self, n: usize) -> Result<(), BlockingRateLimitError> {
        self.blocking(n, None, "RateLimiter::blocking_acquire_many")
    }

    /// As [`blocking_acquire_many`](Self::blocking_acquire_many), giving up
    /// after `timeout`.
    ///
    /// # Errors
    ///
    /// [`BlockingRateLimitError::Timeout`] as for
    /// [`blocking_acquire_timeout`](Self::blocking_acquire_timeout);
    /// [`BlockingRateLimitError::TooMany`].
    ///
    /// # Panics
    ///
    /// As `blocking_acquire`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = corral::sync::RateLimiter::token_bucket(1.0, 2);
    /// limiter.blocking_acquire_many_timeout(2, Duration::ZERO).unwrap();
    /// assert!(limiter.blocking_acquire_many_timeout(2, Duration::from_millis(1)).is_err());
    /// ```
    #[track_caller]
    pub fn blocking_acquire_many_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<(), BlockingRateLimitError> {
        self.blocking(n, Some(timeout), "RateLimiter::blocking_acquire_many_timeout")
    }

    /// A snapshot of the limiter.
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = corral::sync::RateLimiter::new(1, Duration::from_secs(60));
    /// limiter.try_acquire().unwrap();
    /// let stats = limiter.statistics();
    /// assert_eq!(stats.available, 0);
    /// assert!(stats.next_free_slot > corral::time::Instant::now());
    /// println!("{stats:?}");
    /// ```
    pub fn statistics(&self) -> RateLimiterStatistics {
        let now = self.now();
        let mut st = self.lock();
        let calls_in_window = st.limit.in_use(now);
        let next_free_slot = st.limit.check(now, 1).err().unwrap_or(now);
        RateLimiterStatistics {
            calls_in_window,
            available: self.capacity - calls_in_window,
            max_calls: self.capacity,
            tasks_waiting: st.waiters.len() + usize::from(st.turn),
            next_free_slot,
            created_at: self.created_at,
        }
    }

    /// The time on the limiter's clock: the polling runtime's, else the
    /// home runtime's, else the system's.
    #[inline]
    fn now(&self) -> Instant {
        // Inside a corral task the current runtime's clock is the one.
        if task::try_id().is_some() {
            return current_time();
        }
        self.now_outside_task()
    }

    fn now_outside_task(&self) -> Instant {
        match &self.home {
            Some(home) if Handle::try_current().is_err() => {
                let _enter = home.enter();
                current_time()
            }
            _ => current_time(),
        }
    }

    /// A timer until `at`: on the current runtime, else on the home one.
    fn sleep_until(&self, at: Instant) -> Option<Sleep> {
        if task::try_id().is_some() || Handle::try_current().is_ok() {
            return Some(sleep_until(at));
        }
        let home = self.home.as_ref()?;
        let _enter = home.enter();
        Some(sleep_until(at))
    }

    /// Takes `n` calls from the fast path's credit (the calling thread's
    /// shard), if there is enough (module docs). No lock, no clock.
    #[inline]
    fn try_fast(&self, n: usize) -> bool {
        self.credit.take(n)
    }

    /// Locks the state, first collecting the fast path's credit from every
    /// shard: calls taken from it are recorded at a clock reading taken
    /// after the swaps (late, never early), the rest is revoked. Every use
    /// of the state goes through here, so no decision is made while credit
    /// is out.
    fn lock(&self) -> LockGuard<'_, State> {
        let mut st = self.state.lock();
        if st.granted > 0 {
            let left = self.credit.collect();
            let taken = st.granted - left;
            st.granted = 0;
            if taken > 0 {
                let now = self.now();
                st.limit.record(now, taken);
            }
        }
        st
    }

    /// After an admission at `now` (read before the lock: older, so the
    /// window counts at least what it really holds), grants credit to the
    /// fast path if the window is far from full and nobody waits: 1/16 of
    /// the free room, split over the shards (at most `SHARD_GRANT` each),
    /// or all to the caller's shard when too small to split.
    fn grant(&self, st: &mut State, now: Instant) {
        if !self.credit.enabled()
            || st.turn
            || !st.waiters.is_empty()
            || !corral_runtime::time::all_clocks_real()
        {
            return;
        }
        debug_assert_eq!(st.granted, 0, "credit is collected by every lock");
        let total = (self.capacity - st.limit.in_use(now)) / 16;
        let per_shard = (total / self.credit.shards()).min(SHARD_GRANT);
        if per_shard >= FAST_MIN_GRANT {
            st.granted = self.credit.grant_all(per_shard);
        } else if total >= FAST_MIN_GRANT {
            st.granted = self.credit.grant_mine(total);
        }
    }

    /// Hands the turn to the first waiter, or clears it if nobody waits;
    /// wakes after unlocking.
    fn pass_turn(&self, mut st: LockGuard<'_, State>) {
        let mut batch = WakeBatch::new();
        if !st.waiters.wake_front(&mut batch) {
            st.turn = false;
        }
        batch.wake_after(st);
    }

    #[track_caller]
    fn blocking(
        &self,
        n: usize,
        timeout: Option<Duration>,
        what: &str,
    ) -> Result<(), BlockingRateLimitError> {
        assert_may_block(what);
        if n > self.capacity {
            return Err(BlockingRateLimitError::TooMany {
                requested: n,
                max: self.capacity,
            });
        }
        if n == 0 {
            return Ok(());
        }
        // In the queue the timeout runs on the system clock (the thread
        // parks); holding the turn, slots are compared on the limiter's.
        if self.try_fast(n) {
            return Ok(());
        }
        let queue_deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
        let slot_deadline = timeout.and_then(|t| self.now().checked_add(t));
        let node = pin!(WaitNode::new(()));
        {
            let now = self.now();
            let mut st = self.lock();
            if !st.turn && st.waiters.is_empty() {
                if st.limit.admit(now, n).is_ok() {
                    self.grant(&mut st, now);
                    return Ok(());
                }
                st.turn = true;
            } else {
                // SAFETY: the node is in no list; it only ever goes into
                // this one, under this lock, and leaves it (woken, or
                // removed below) before this function returns.
                unsafe { st.waiters.push_back_thread(node.as_ref()) };
                drop(st);
                let notified = node.as_ref().park_until(queue_deadline);
                if !notified {
                    let mut st = self.lock();
                    // SAFETY: queued in this list or in none; lock held.
                    match unsafe { st.waiters.remove(node.as_ref()) } {
                        // The turn came as the timeout did: it is ours.
                        Removed::Notified => {}
                        Removed::Unlinked { .. } => return Err(BlockingRateLimitError::Timeout),
                        Removed::NotQueued => unreachable!("a blocking waiter lost its node"),
                    }
                }
            }
        }
        // We hold the turn; the guard passes it on however we leave.
        let turn = TurnGuard(self);
        loop {
            let now = self.now();
            let mut st = self.lock();
            match st.limit.admit(now, n) {
                Ok(()) => {
                    std::mem::forget(turn);
                    self.pass_turn(st);
                    return Ok(());
                }
                Err(at) => {
                    if slot_deadline.is_some_and(|d| at > d) {
                        std::mem::forget(turn);
                        self.pass_turn(st);
                        return Err(BlockingRateLimitError::Timeout);
                    }
                    drop(st);
                    std::thread::sleep(at.saturating_duration_since(now));
                }
            }
        }
    }
}

/// Passes the turn on if a blocking turn holder unwinds.
struct TurnGuard<'a>(&'a RateLimiter);

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        self.0.pass_turn(self.0.lock());
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("RateLimiter")
            .field("limit", &st.limit)
            .field("turn", &st.turn)
            .field("waiting", &st.waiters.len())
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Where an [`Acquire`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not polled yet.
    Start,
    /// In the list, waiting to be handed the turn.
    Queued,
    /// Holding the turn: sleeping until the slot, or about to admit.
    Turn,
    /// Returned.
    Done,
}

/// The future of [`RateLimiter::acquire_many`]; see the module docs for the
/// protocol. Its node is pinned inside it (no allocation per wait).
struct Acquire<'a> {
    limiter: &'a RateLimiter,
    n: usize,
    node: WaitNode<()>,
    phase: Phase,
    /// The holder's timer (Sleep is Unpin).
    sleep: Option<Sleep>,
}

impl<'a> Acquire<'a> {
    fn new(limiter: &'a RateLimiter, n: usize) -> Self {
        Acquire {
            limiter,
            n,
            node: WaitNode::new(()),
            phase: Phase::Start,
            sleep: None,
        }
    }

    /// The turn holder: checks the slot, admits or sleeps. Returns Ready
    /// once admitted (the turn passed on) or failed.
    fn poll_turn(&mut self, node_cx: &mut Context<'_>) -> Poll<Result<(), RateLimitError>> {
        let lim = self.limiter;
        loop {
            if let Some(sleep) = &mut self.sleep {
                ready!(Pin::new(sleep).poll(node_cx));
                self.sleep = None;
            }
            let now = lim.now();
            let mut st = lim.lock();
            match st.limit.admit(now, self.n) {
                Ok(()) => {
                    self.phase = Phase::Done;
                    lim.pass_turn(st);
                    return Poll::Ready(Ok(()));
                }
                Err(at) => {
                    drop(st);
                    match lim.sleep_until(at) {
                        Some(sleep) => self.sleep = Some(sleep),
                        None => {
                            self.phase = Phase::Done;
                            lim.pass_turn(lim.lock());
                            return Poll::Ready(Err(RateLimitError::NoRuntime));
                        }
                    }
                }
            }
        }
    }
}

impl Future for Acquire<'_> {
    type Output = Result<(), RateLimitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `node` is structurally pinned: it is never moved out of
        // `Acquire` (only borrowed, re-pinned below); the other fields are
        // Unpin and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let lim = this.limiter;
        loop {
            // SAFETY: as above.
            let node = unsafe { Pin::new_unchecked(&this.node) };
            match this.phase {
                Phase::Start => {
                    if this.n > lim.capacity {
                        this.phase = Phase::Done;
                        return Poll::Ready(Err(RateLimitError::TooMany {
                            requested: this.n,
                            max: lim.capacity,
                        }));
                    }
                    if this.n == 0 {
                        this.phase = Phase::Done;
                        return Poll::Ready(Ok(()));
                    }
                    ready!(coop::poll_consume_budget(cx));
                    if lim.try_fast(this.n) {
                        this.phase = Phase::Done;
                        return Poll::Ready(Ok(()));
                    }
                    // Read before locking, to keep the lock short; a
                    // reading older than a record made meanwhile only
                    // makes the limit stricter (see `limit.rs`).
                    let now = lim.now();
                    let mut st = lim.lock();
                    if st.turn || !st.waiters.is_empty() {
                        // SAFETY: the node is in no list; it only ever goes
                        // into this one, under this lock, and `Drop`
                        // removes it before it is freed.
                        unsafe { st.waiters.push_back(node, cx) };
                        this.phase = Phase::Queued;
                        return Poll::Pending;
                    }
                    match st.limit.admit(now, this.n) {
                        Ok(()) => {
                            this.phase = Phase::Done;
                            lim.grant(&mut st, now);
                            return Poll::Ready(Ok(()));
                        }
                        Err(at) => {
                            // First in line: take the turn and sleep.
                            st.turn = true;
                            drop(st);
                            this.phase = Phase::Turn;
                            match lim.sleep_until(at) {
                                Some(sleep) => this.sleep = Some(sleep),
                                None => {
                                    this.phase = Phase::Done;
                                    lim.pass_turn(lim.lock());
                                    return Poll::Ready(Err(RateLimitError::NoRuntime));
                                }
                            }
                        }
                    }
                }
                Phase::Queued => {
                    if node.take_notified() {
                        this.phase = Phase::Turn;
                        continue;
                    }
                    let mut st = lim.lock();
                    // Again under the lock: the turn may have come between.
                    if node.take_notified() {
                        drop(st);
                        this.phase = Phase::Turn;
                        continue;
                    }
                    // SAFETY: queued in this list; lock held.
                    let stale = unsafe { st.waiters.update_waker(node, cx) };
                    stale.drop_after(st);
                    return Poll::Pending;
                }
                Phase::Turn => return this.poll_turn(cx),
                Phase::Done => panic!("RateLimiter's acquire future polled after completion"),
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        match self.phase {
            Phase::Queued => {
                // SAFETY: `self` is pinned (a `Drop` of a pinned value runs
                // in place); the reference does not move the node.
                let node = unsafe { Pin::new_unchecked(&self.node) };
                if !node.is_queued() && !node.is_notified() {
                    return;
                }
                let mut st = self.limiter.lock();
                // SAFETY: the node can only be in this limiter's list; lock
                // held.
                match unsafe { st.waiters.remove(node) } {
                    // Handed the turn, never used: pass it on.
                    Removed::Notified => self.limiter.pass_turn(st),
                    // Someone else holds the turn: nothing to give back.
                    Removed::Unlinked { .. } | Removed::NotQueued => {}
                }
            }
            // Cancelled while first in line: the next waiter takes over.
            // (The sleep drops after this, unlocked.)
            Phase::Turn => self.limiter.pass_turn(self.limiter.lock()),
            Phase::Start | Phase::Done => {}
        }
    }
}
