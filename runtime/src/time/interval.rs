use super::sleep::Sleep;
use super::Instant;
use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

/// A stream of ticks `period` apart, the first one at once.
///
/// # Panics
///
/// If `period` is zero (it would tick in a busy loop); when polled
/// outside a runtime.
///
/// A huge period (up to `Duration::MAX`) is fine: ticks that would fall
/// beyond what an [`Instant`] can hold never come.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// let mut every = corral::time::interval(Duration::from_millis(5));
/// let first = every.tick().await; // at once
/// let second = every.tick().await;
/// assert!(second - first >= Duration::from_millis(5));
/// # });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// A stream of ticks `period` apart, the first one at `start`.
///
/// # Panics
///
/// If `period` is zero; when polled outside a runtime.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::time::{interval_at, Instant};
/// use std::time::Duration;
/// let start = Instant::now() + Duration::from_millis(5);
/// let mut ticks = interval_at(start, Duration::from_millis(5));
/// assert_eq!(ticks.tick().await, start);
/// # });
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "corral::time::interval: the period must be non-zero"
    );
    Interval {
        sleep: super::sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when ticks were missed (the task was busy
/// past one or more deadlines).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::time::{interval, MissedTickBehavior};
/// let mut i = interval(std::time::Duration::from_millis(10));
/// i.set_missed_tick_behavior(MissedTickBehavior::Skip);
/// assert_eq!(i.missed_tick_behavior(), MissedTickBehavior::Skip);
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the
    /// original schedule (the default, as tokio).
    #[default]
    Burst,
    /// Start a new schedule from the late tick: the next one is a full
    /// period after the moment the late tick was taken (period 100 ms, a
    /// tick due at 100 ms taken at 130 ms: the next is due at 230 ms). A
    /// tick taken less than 5 ms late keeps the original schedule, so
    /// that timer latency alone does not make the interval drift.
    Delay,
    /// Drop the missed ticks; the next tick is the next multiple of the
    /// period on the original schedule.
    Skip,
}

/// How late a tick may be taken before [`MissedTickBehavior::Delay`]
/// restarts the schedule from it. A timer fires up to about a millisecond
/// after its deadline even on an idle runtime; without this margin every
/// tick of a `Delay` interval would drift by that much (tokio uses the same
/// 5 ms).
const LATE: Duration = Duration::from_millis(5);

/// Ticks at a fixed period; see [`interval`].
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped `tick()` consumes no tick.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut i = corral::time::interval(std::time::Duration::from_millis(1));
    /// for _ in 0..3 {
    ///     i.tick().await;
    /// }
    /// # });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (for hand-written futures and streams).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut i = corral::time::interval(std::time::Duration::from_millis(1));
    /// let first = std::future::poll_fn(|cx| i.poll_tick(cx)).await;
    /// assert!(first <= corral::time::Instant::now());
    /// # });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let scheduled = self.sleep.deadline();
        std::task::ready!(self.sleep.poll_elapsed(cx));
        let now = Instant::now();
        let next = self.next_after(scheduled, now);
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// The tick after the one scheduled at `scheduled` and taken at `now`.
    /// Every sum saturates at the far future (as `sleep` does), so a huge
    /// period means "no further tick" rather than an overflow panic.
    fn next_after(&self, scheduled: Instant, now: Instant) -> Instant {
        let late = now.saturating_duration_since(scheduled);
        match self.missed {
            MissedTickBehavior::Burst => scheduled.saturating_add(self.period),
            MissedTickBehavior::Delay if late > LATE => now.saturating_add(self.period),
            MissedTickBehavior::Delay => scheduled.saturating_add(self.period),
            MissedTickBehavior::Skip => {
                let periods = late.as_nanos() / self.period.as_nanos() + 1;
                let ahead = u32::try_from(periods)
                    .ok()
                    .and_then(|n| self.period.checked_mul(n))
                    .unwrap_or(Duration::MAX);
                scheduled.saturating_add(ahead)
            }
        }
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// ```
    /// # corral::Builder::new_current_thread().start_paused(true).build().unwrap().block_on(async {
    /// use corral::time::{interval, Instant};
    /// use std::time::Duration;
    /// let mut i = interval(Duration::from_millis(10));
    /// i.tick().await;
    /// corral::time::advance(Duration::from_millis(4)).await;
    /// i.reset();
    /// let at = Instant::now();
    /// assert_eq!(i.tick().await, at + Duration::from_millis(10));
    /// # });
    /// ```
    pub fn reset(&mut self) {
        self.reset_after(self.period);
    }

    /// Makes the next tick due now; later ticks follow a period apart
    /// from it.
    ///
    /// ```
    /// # corral::Builder::new_current_thread().start_paused(true).build().unwrap().block_on(async {
    /// use corral::time::{interval, Instant};
    /// let mut i = interval(std::time::Duration::from_secs(60));
    /// i.tick().await;
    /// i.reset_immediately();
    /// let at = Instant::now();
    /// assert_eq!(i.tick().await, at); // does not wait a minute
    /// # });
    /// ```
    pub fn reset_immediately(&mut self) {
        self.sleep.reset(Instant::now());
    }

    /// Makes the next tick due `after` from now (saturating: a huge
    /// `after` means no further tick).
    ///
    /// ```
    /// # corral::Builder::new_current_thread().start_paused(true).build().unwrap().block_on(async {
    /// use corral::time::{interval, Instant};
    /// use std::time::Duration;
    /// let mut i = interval(Duration::from_secs(60));
    /// i.tick().await;
    /// let at = Instant::now();
    /// i.reset_after(Duration::from_secs(1));
    /// assert_eq!(i.tick().await, at + Duration::from_secs(1));
    /// # });
    /// ```
    pub fn reset_after(&mut self, after: Duration) {
        self.sleep.reset(Instant::now().saturating_add(after));
    }

    /// Makes the next tick due at `at`.
    ///
    /// ```
    /// # corral::Builder::new_current_thread().start_paused(true).build().unwrap().block_on(async {
    /// use corral::time::{interval, Instant};
    /// use std::time::Duration;
    /// let mut i = interval(Duration::from_secs(60));
    /// i.tick().await;
    /// let at = Instant::now() + Duration::from_secs(5);
    /// i.reset_at(at);
    /// assert_eq!(i.tick().await, at);
    /// # });
    /// ```
    pub fn reset_at(&mut self, at: Instant) {
        self.sleep.reset(at);
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What happens to missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }
}

/// An interval is an endless stream of tick instants.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use futures_util::StreamExt;
/// let ticks = corral::time::interval(std::time::Duration::from_millis(1));
/// let three: Vec<_> = ticks.take(3).collect().await;
/// assert_eq!(three.len(), 3);
/// # });
/// ```
impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("next", &self.sleep.deadline())
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed)
            .finish()
    }
}
