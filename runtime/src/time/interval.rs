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
    /// period after it.
    Delay,
    /// Drop the missed ticks; the next tick is the next multiple of the
    /// period on the original schedule.
    Skip,
}

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
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let scheduled = self.sleep.deadline();
        std::task::ready!(self.sleep.poll_elapsed(cx));
        let now = Instant::now();
        let next = match self.missed {
            MissedTickBehavior::Burst => scheduled + self.period,
            MissedTickBehavior::Delay if now > scheduled + self.period => now + self.period,
            MissedTickBehavior::Delay => scheduled + self.period,
            MissedTickBehavior::Skip => {
                let behind = now.saturating_duration_since(scheduled).as_nanos();
                let periods = behind / self.period.as_nanos() + 1;
                scheduled + self.period * u32::try_from(periods).unwrap_or(u32::MAX)
            }
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut i = corral::time::interval(std::time::Duration::from_millis(1));
    /// i.reset();
    /// # });
    /// ```
    pub fn reset(&mut self) {
        self.sleep.reset(Instant::now() + self.period);
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
