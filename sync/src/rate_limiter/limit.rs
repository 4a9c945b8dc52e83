//! The arithmetic of the two limits, apart from any waiting: given the
//! time, may `n` calls go now, and if not, when? Pure state, driven under
//! the rate limiter's lock; unit tests at the foot.

use corral_runtime::time::Instant;
use std::collections::VecDeque;
use std::time::Duration;

/// Admissions within this span of the first of a record share the record
/// (timed at the latest of them): the timer's resolution, so merging costs
/// no precision the sleeps had, and it bounds memory by `period / 1 ms`.
const MERGE: Duration = Duration::from_millis(1);

/// One or more admissions at (nearly) the same time.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// The first admission in the record (fixed: decides what merges).
    start: Instant,
    /// The last admission: the record leaves the window at `at + period`.
    at: Instant,
    /// Calls admitted.
    calls: usize,
}

/// The sliding window: at most `max_calls` admissions in any span of
/// `period`. The n-th call goes once the (n - max_calls)-th is `period`
/// old.
#[derive(Debug)]
pub(super) struct Window {
    max_calls: usize,
    period: Duration,
    /// Admissions still inside the window, oldest first.
    runs: VecDeque<Run>,
    /// Sum of `runs[..].calls`.
    in_window: usize,
}

impl Window {
    pub(super) fn new(max_calls: usize, period: Duration) -> Window {
        Window {
            max_calls,
            period,
            runs: VecDeque::new(),
            in_window: 0,
        }
    }

    /// Forgets the admissions that are `period` old at `now`.
    fn prune(&mut self, now: Instant) {
        while let Some(front) = self.runs.front() {
            if front.at + self.period > now {
                break;
            }
            self.in_window -= front.calls;
            self.runs.pop_front();
        }
    }

    /// Ok if `n` (at most `max_calls`) calls may go at `now`; else when.
    fn check(&mut self, now: Instant, n: usize) -> Result<(), Instant> {
        self.prune(now);
        let free = self.max_calls - self.in_window;
        if n <= free {
            return Ok(());
        }
        // The oldest `excess` admissions must leave the window first.
        let excess = n - free;
        let mut left = 0;
        for run in &self.runs {
            left += run.calls;
            if left >= excess {
                return Err(run.at + self.period);
            }
        }
        unreachable!("n <= max_calls, so leaving the window frees enough");
    }

    /// Records `n` calls admitted at `now`. A `now` older than the last
    /// record (a clock read before another caller's, which locked first)
    /// is taken as that record's time: later, so never early, and the
    /// records stay in order.
    fn record(&mut self, now: Instant, n: usize) {
        self.in_window += n;
        if let Some(last) = self.runs.back_mut() {
            if now <= last.at || now.saturating_duration_since(last.start) < MERGE {
                last.at = last.at.max(now);
                last.calls += n;
                return;
            }
        }
        self.runs.push_back(Run {
            start: now,
            at: now,
            calls: n,
        });
    }
}

/// The token bucket, as a GCRA: `tat` (the theoretical arrival time) is
/// when the bucket will be full again; a token comes back every
/// `interval`; `burst` is the bucket's size. `n` tokens may go at `now` if
/// `max(tat, now) + n * interval <= now + burst * interval`.
#[derive(Debug)]
pub(super) struct Bucket {
    interval: Duration,
    burst: usize,
    /// None: full (never used).
    tat: Option<Instant>,
}

impl Bucket {
    /// `interval * burst` must fit a `Duration` (the constructors check).
    pub(super) fn new(interval: Duration, burst: usize) -> Bucket {
        Bucket {
            interval,
            burst,
            tat: None,
        }
    }

    fn check(&mut self, now: Instant, n: usize) -> Result<(), Instant> {
        let tat = self.tat.map_or(now, |t| t.max(now));
        // Earliest time: tat + n*T - burst*T.
        let free_at = (tat + self.span_n(n)).checked_sub(self.span_n(self.burst));
        match free_at {
            Some(at) if at > now => Err(at),
            _ => Ok(()),
        }
    }

    fn record(&mut self, now: Instant, n: usize) {
        let tat = self.tat.map_or(now, |t| t.max(now));
        self.tat = Some(tat + self.span_n(n));
    }

    /// Tokens in the bucket at `now`.
    fn available(&self, now: Instant) -> usize {
        let Some(tat) = self.tat else {
            return self.burst;
        };
        let owed = tat.saturating_duration_since(now);
        let full = self.span_n(self.burst);
        let have = full.saturating_sub(owed);
        let tokens = have.as_nanos() / self.interval.as_nanos().max(1);
        usize::try_from(tokens).unwrap_or(usize::MAX).min(self.burst)
    }

    /// `n * interval`, for `n <= burst`.
    fn span_n(&self, n: usize) -> Duration {
        let nanos = self.interval.as_nanos() * n as u128;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Either limit.
#[derive(Debug)]
pub(super) enum Limit {
    Window(Window),
    Bucket(Bucket),
}

impl Limit {
    /// The most calls that can ever go at once (`max_calls`, `burst`).
    pub(super) fn capacity(&self) -> usize {
        match self {
            Limit::Window(w) => w.max_calls,
            Limit::Bucket(b) => b.burst,
        }
    }

    /// Ok if `n` (at most `capacity`) calls may go at `now`; else the
    /// earliest time they may (if nothing else is admitted before).
    pub(super) fn check(&mut self, now: Instant, n: usize) -> Result<(), Instant> {
        match self {
            Limit::Window(w) => w.check(now, n),
            Limit::Bucket(b) => b.check(now, n),
        }
    }

    /// Admits `n` calls at `now` if they may go; else says when they may.
    pub(super) fn admit(&mut self, now: Instant, n: usize) -> Result<(), Instant> {
        self.check(now, n)?;
        match self {
            Limit::Window(w) => w.record(now, n),
            Limit::Bucket(b) => b.record(now, n),
        }
        Ok(())
    }

    /// Records `n` calls admitted at `now` without checking (calls that
    /// already went through the fast path, stamped at a reading taken
    /// after they went: late, never early).
    pub(super) fn record(&mut self, now: Instant, n: usize) {
        match self {
            Limit::Window(w) => w.record(now, n),
            Limit::Bucket(b) => b.record(now, n),
        }
    }

    /// Calls that count against the limit at `now`: admitted within the
    /// last period (window), or tokens spent and not yet back (bucket).
    pub(super) fn in_use(&mut self, now: Instant) -> usize {
        match self {
            Limit::Window(w) => {
                w.prune(now);
                w.in_window
            }
            Limit::Bucket(b) => b.burst - b.available(now),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn window_three_per_half_second() {
        let t0 = Instant::now();
        let mut l = Limit::Window(Window::new(3, ms(500)));
        for _ in 0..3 {
            assert_eq!(l.admit(t0, 1), Ok(()));
        }
        assert_eq!(l.admit(t0, 1), Err(t0 + ms(500)));
        assert_eq!(l.in_use(t0 + ms(499)), 3);
        assert_eq!(l.admit(t0 + ms(500), 1), Ok(()));
        assert_eq!(l.admit(t0 + ms(500), 2), Ok(()));
        assert_eq!(l.admit(t0 + ms(500), 1), Err(t0 + ms(1000)));
    }

    #[test]
    fn window_many_waits_for_enough_to_leave() {
        let t0 = Instant::now();
        let mut l = Limit::Window(Window::new(4, ms(100)));
        l.admit(t0, 1).unwrap();
        l.admit(t0 + ms(10), 1).unwrap();
        l.admit(t0 + ms(20), 2).unwrap();
        // 3 must leave: the runs at 0, 10, then 20 (2 calls) -> at 120.
        assert_eq!(l.check(t0 + ms(30), 3), Err(t0 + ms(120)));
        assert_eq!(l.check(t0 + ms(30), 1), Err(t0 + ms(100)));
        assert_eq!(l.check(t0 + ms(105), 1), Ok(()));
    }

    #[test]
    fn window_merges_within_a_millisecond_but_never_admits_early() {
        let t0 = Instant::now();
        let mut l = Limit::Window(Window::new(2, ms(10)));
        l.admit(t0, 1).unwrap();
        l.admit(t0 + Duration::from_micros(600), 1).unwrap();
        let Limit::Window(w) = &l else { unreachable!() };
        assert_eq!(w.runs.len(), 1);
        // The merged record leaves at the later call's time + period.
        assert_eq!(l.check(t0 + ms(10), 1), Err(t0 + Duration::from_micros(10_600)));
        // Memory: a million calls in one millisecond are one record.
        let mut l = Limit::Window(Window::new(usize::MAX, ms(1000)));
        for i in 0..1_000_000u64 {
            l.admit(t0 + Duration::from_nanos(i / 2), 1).unwrap();
        }
        let Limit::Window(w) = &l else { unreachable!() };
        assert_eq!((w.runs.len(), w.in_window), (1, 1_000_000));
    }

    #[test]
    fn bucket_burst_then_steady_rate() {
        let t0 = Instant::now();
        // 10 per second (100 ms a token), burst 3.
        let mut l = Limit::Bucket(Bucket::new(ms(100), 3));
        for _ in 0..3 {
            l.admit(t0, 1).unwrap();
        }
        assert_eq!(l.in_use(t0), 3);
        assert_eq!(l.admit(t0, 1), Err(t0 + ms(100)));
        assert_eq!(l.admit(t0 + ms(100), 1), Ok(()));
        assert_eq!(l.admit(t0 + ms(100), 1), Err(t0 + ms(200)));
        // Two at once need two tokens back.
        assert_eq!(l.check(t0 + ms(100), 2), Err(t0 + ms(300)));
        // Refills to the burst, no further.
        assert_eq!(l.in_use(t0 + ms(10_000)), 0);
        assert_eq!(l.admit(t0 + ms(10_000), 3), Ok(()));
        assert_eq!(l.check(t0 + ms(10_000), 1), Err(t0 + ms(10_100)));
    }
}
