//! The rate limiter's typed errors: short lowercase `Display`, `impl Error`.

use corral_runtime::time::Instant;
use std::fmt;
use std::time::Duration;

/// Why [`RateLimiter::try_new`](crate::RateLimiter::try_new) or
/// [`RateLimiter::try_token_bucket`](crate::RateLimiter::try_token_bucket)
/// refused its parameters.
///
/// ```
/// use corral::sync::{RateLimiter, RateLimiterConfigError};
/// use std::time::Duration;
/// let err = RateLimiter::try_new(0, Duration::from_secs(1)).unwrap_err();
/// assert_eq!(err, RateLimiterConfigError::ZeroMaxCalls);
/// assert_eq!(err.to_string(), "a rate limiter needs max_calls >= 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum RateLimiterConfigError {
    /// `max_calls` was 0: no call could ever go.
    ZeroMaxCalls,
    /// `period` was zero: use a huge `max_calls` for "no limit".
    ZeroPeriod,
    /// The window (or, for a token bucket, the time to refill `burst`
    /// tokens from empty) is longer than
    /// [`RateLimiter::MAX_PERIOD`](crate::RateLimiter::MAX_PERIOD).
    PeriodTooLong {
        /// The window or refill time asked for.
        period: Duration,
        /// The longest allowed.
        max: Duration,
    },
    /// A token bucket's rate was not a finite number above zero.
    InvalidRate {
        /// The rate given (tokens per second).
        rate: f64,
    },
    /// A token bucket's `burst` was 0: no call could ever go.
    ZeroBurst,
}

impl fmt::Display for RateLimiterConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroMaxCalls => f.write_str("a rate limiter needs max_calls >= 1"),
            Self::ZeroPeriod => f.write_str("a rate limiter needs a period above zero"),
            Self::PeriodTooLong { period, max } => {
                write!(
                    f,
                    "a rate limiter's period of {period:?} is longer than the maximum {max:?}"
                )
            }
            Self::InvalidRate { rate } => write!(
                f,
                "a token bucket's rate must be a finite number of tokens per second above zero, not {rate}"
            ),
            Self::ZeroBurst => f.write_str("a token bucket needs burst >= 1"),
        }
    }
}

impl std::error::Error for RateLimiterConfigError {}

/// Why [`RateLimiter::acquire`](crate::RateLimiter::acquire) or
/// [`acquire_many`](crate::RateLimiter::acquire_many) failed.
///
/// ```
/// use corral::sync::{RateLimitError, RateLimiter};
/// use std::time::Duration;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let limiter = RateLimiter::new(3, Duration::from_secs(1));
/// let err = limiter.acquire_many(4).await.unwrap_err();
/// assert_eq!(err, RateLimitError::TooMany { requested: 4, max: 3 });
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitError {
    /// More calls at once than the limiter ever lets through together
    /// (`max_calls`, or the bucket's `burst`): waiting would never end.
    TooMany {
        /// Calls asked for.
        requested: usize,
        /// The most that can go at once.
        max: usize,
    },
    /// The call had to wait, but there is no timer to wait with: the
    /// future is polled outside any corral runtime and the limiter was not
    /// created inside one either (see [`RateLimiter`](crate::RateLimiter)'s
    /// "Runtimes and clocks").
    NoRuntime,
}

impl fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooMany { requested, max } => write!(
                f,
                "asked for {requested} calls at once, more than the rate limiter ever allows together ({max})"
            ),
            Self::NoRuntime => f.write_str(
                "the rate limiter must wait but has no timer: poll it inside a corral runtime, \
                 or create it inside one",
            ),
        }
    }
}

impl std::error::Error for RateLimitError {}

/// Why [`RateLimiter::try_acquire`](crate::RateLimiter::try_acquire) (or
/// `try_acquire_many`) refused.
///
/// ```
/// use corral::sync::{RateLimiter, TryRateLimitError};
/// use std::time::Duration;
/// let limiter = RateLimiter::new(1, Duration::from_secs(60));
/// limiter.try_acquire().unwrap();
/// match limiter.try_acquire() {
///     Err(TryRateLimitError::Limited { next_free, tasks_waiting }) => {
///         assert!(next_free > corral::time::Instant::now());
///         assert_eq!(tasks_waiting, 0);
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryRateLimitError {
    /// No slot now, or others wait before this caller.
    Limited {
        /// When the next slot for this many calls frees, counting only the
        /// calls already admitted; the `tasks_waiting` queued ahead take
        /// their slots first.
        next_free: Instant,
        /// Tasks and threads queued ahead (0: the limit alone refused).
        tasks_waiting: usize,
    },
    /// More calls at once than the limiter ever lets through together.
    TooMany {
        /// Calls asked for.
        requested: usize,
        /// The most that can go at once.
        max: usize,
    },
}

impl TryRateLimitError {
    /// How long until the next slot frees (zero if it is free but others
    /// wait first), for a `Retry-After`.
    ///
    /// ```
    /// use corral::sync::RateLimiter;
    /// use std::time::Duration;
    /// let limiter = RateLimiter::new(1, Duration::from_secs(60));
    /// limiter.try_acquire().unwrap();
    /// let wait = limiter.try_acquire().unwrap_err().retry_after().unwrap();
    /// assert!(wait > Duration::from_secs(59));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Limited { next_free, .. } => {
                Some(next_free.saturating_duration_since(corral_runtime::time::current_time()))
            }
            Self::TooMany { .. } => None,
        }
    }
}

impl fmt::Display for TryRateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Limited { tasks_waiting: 0, .. } => f.write_str("rate limit reached"),
            Self::Limited { tasks_waiting, .. } => {
                write!(f, "rate limit reached ({tasks_waiting} waiting first)")
            }
            Self::TooMany { requested, max } => write!(
                f,
                "asked for {requested} calls at once, more than the rate limiter ever allows together ({max})"
            ),
        }
    }
}

impl std::error::Error for TryRateLimitError {}

/// Why [`RateLimiter::blocking_acquire_timeout`](crate::RateLimiter::blocking_acquire_timeout)
/// (or another `blocking_acquire*`) failed.
///
/// ```
/// use corral::sync::{BlockingRateLimitError, RateLimiter};
/// use std::time::Duration;
/// let limiter = RateLimiter::new(1, Duration::from_secs(60));
/// limiter.blocking_acquire().unwrap();
/// let err = limiter.blocking_acquire_timeout(Duration::from_millis(10)).unwrap_err();
/// assert_eq!(err, BlockingRateLimitError::Timeout);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockingRateLimitError {
    /// The call's slot comes after the timeout (it returns as soon as that
    /// is known).
    Timeout,
    /// More calls at once than the limiter ever lets through together.
    TooMany {
        /// Calls asked for.
        requested: usize,
        /// The most that can go at once.
        max: usize,
    },
}

impl fmt::Display for BlockingRateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out waiting for the rate limiter"),
            Self::TooMany { requested, max } => write!(
                f,
                "asked for {requested} calls at once, more than the rate limiter ever allows together ({max})"
            ),
        }
    }
}

impl std::error::Error for BlockingRateLimitError {}
