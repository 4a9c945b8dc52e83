use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A point on the runtime's monotonic clock.
///
/// Like `std::time::Instant`, except that [`Instant::now`] reads the
/// current runtime's clock, which a test may have paused
/// ([`pause`](crate::time::pause)). Outside a runtime it is the system
/// clock.
///
/// ```
/// use corral::time::Instant;
/// use std::time::Duration;
/// let a = Instant::now();
/// let b = a + Duration::from_millis(10);
/// assert_eq!(b - a, Duration::from_millis(10));
/// assert!(b > a);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current time; see [`current_time`](crate::time::current_time).
    pub fn now() -> Instant {
        crate::time::current_time()
    }

    pub(crate) fn from_std(i: std::time::Instant) -> Instant {
        Instant(i)
    }

    /// The `std` instant with the same reading.
    ///
    /// ```
    /// let i = corral::time::Instant::now();
    /// let s: std::time::Instant = i.into_std();
    /// # let _ = s;
    /// ```
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    ///
    /// ```
    /// use corral::time::Instant;
    /// let a = Instant::now();
    /// assert_eq!(a.saturating_duration_since(a + std::time::Duration::from_secs(1)), std::time::Duration::ZERO);
    /// ```
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time elapsed from `earlier` to `self`, or None if `earlier` is later.
    ///
    /// ```
    /// use corral::time::Instant;
    /// let a = Instant::now();
    /// assert!(a.checked_duration_since(a + std::time::Duration::from_secs(1)).is_none());
    /// ```
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// Time elapsed since `self` on the runtime's clock.
    ///
    /// ```
    /// let a = corral::time::Instant::now();
    /// let _ = a.elapsed();
    /// ```
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + d`, or None on overflow.
    ///
    /// ```
    /// let a = corral::time::Instant::now();
    /// assert!(a.checked_add(std::time::Duration::from_secs(1)).is_some());
    /// ```
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Instant)
    }

    /// `self - d`, or None if that is before the clock's range.
    ///
    /// ```
    /// let a = corral::time::Instant::now();
    /// let _ = a.checked_sub(std::time::Duration::from_millis(1));
    /// ```
    pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(d).map(Instant)
    }

    /// `self + d`, saturating at the far future (for "no deadline").
    pub(crate) fn saturating_add(&self, d: Duration) -> Instant {
        self.checked_add(d)
            .unwrap_or_else(|| Instant(self.0 + Duration::from_secs(86_400 * 365 * 30)))
    }
}

impl From<std::time::Instant> for Instant {
    fn from(i: std::time::Instant) -> Instant {
        Instant(i)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(i: Instant) -> std::time::Instant {
        i.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0 + d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        self.0 += d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0 - d)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        self.0 -= d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, other: Instant) -> Duration {
        self.0.saturating_duration_since(other.0)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
