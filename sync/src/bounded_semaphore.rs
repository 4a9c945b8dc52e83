//! [`BoundedSemaphore`]: a [`Semaphore`] that never holds more than its
//! initial value, with asyncio-style manual `acquire_manual` / `release`
//! beside the RAII permits.

use crate::error::{AcquireError, BlockingAcquireError, TryAcquireError};
use crate::semaphore::{Semaphore, SemaphorePermit, SemaphoreStatistics};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::time::Duration;

/// A semaphore that never exceeds its initial value (Python's
/// `BoundedSemaphore`).
///
/// It has the [`Semaphore`]'s semantics (fair FIFO handoff, large requests
/// not starved, cancellation loses nothing) plus a bound: a manual
/// [`release`](Self::release) that would leave more free permits than the
/// initial value is refused with [`ReleaseError`] (Python raises
/// `ValueError`), so a release without a matching acquire is caught instead
/// of silently growing the pool. RAII permits (from [`acquire`](Self::acquire))
/// never push the pool past the bound either: if manual releases already
/// refilled it (Python cannot tell those apart from a permit's own
/// release, nor can we), the permit's return is dropped at the bound
/// rather than exceed it. There is no `add_permits`, and no `close`.
///
/// ```
/// use corral::sync::BoundedSemaphore;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let sem = BoundedSemaphore::new(2);
/// sem.acquire_manual().await.unwrap(); // asyncio style
/// assert_eq!(sem.available_permits(), 1);
/// sem.release().unwrap();
/// assert!(sem.release().is_err()); // more releases than acquires
/// {
///     let _permit = sem.acquire().await.unwrap(); // RAII style
///     assert_eq!(sem.available_permits(), 1);
/// }
/// assert_eq!(sem.available_permits(), 2);
/// # });
/// ```
pub struct BoundedSemaphore {
    sem: Semaphore,
    max: usize,
}

/// A release would have left more free permits than the
/// [`BoundedSemaphore`]'s initial value.
///
/// ```
/// let sem = corral::sync::BoundedSemaphore::new(1);
/// let err = sem.release().unwrap_err();
/// assert_eq!(err.to_string(), "released more permits than were acquired (bound 1, 1 already free)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseError {
    /// The bound (the initial value).
    pub max: usize,
    /// Permits that were free when the release was refused.
    pub available: usize,
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "released more permits than were acquired (bound {}, {} already free)",
            self.max, self.available
        )
    }
}

impl std::error::Error for ReleaseError {}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, which is also its bound
    /// (saturating at [`Semaphore::MAX_PERMITS`]).
    ///
    /// ```
    /// let sem = corral::sync::BoundedSemaphore::new(3);
    /// assert_eq!(sem.max_permits(), 3);
    /// ```
    #[track_caller]
    pub fn new(permits: usize) -> Self {
        let sem = Semaphore::new_bounded(permits);
        let max = sem.available_permits();
        BoundedSemaphore { sem, max }
    }

    /// The bound: the initial number of permits.
    ///
    /// ```
    /// assert_eq!(corral::sync::BoundedSemaphore::new(2).max_permits(), 2);
    /// ```
    pub fn max_permits(&self) -> usize {
        self.max
    }

    /// Free permits right now.
    ///
    /// ```
    /// let sem = corral::sync::BoundedSemaphore::new(2);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// Where this semaphore was created.
    ///
    /// ```
    /// let sem = corral::sync::BoundedSemaphore::new(1);
    /// println!("created at {}", sem.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.sem.created_at()
    }

    /// A snapshot of the semaphore's state (as [`Semaphore::statistics`]).
    ///
    /// ```
    /// let sem = corral::sync::BoundedSemaphore::new(1);
    /// assert_eq!(sem.statistics().available, 1);
    /// ```
    pub fn statistics(&self) -> SemaphoreStatistics {
        self.sem.statistics()
    }

    /// Waits for a permit, returned when the [`SemaphorePermit`] drops.
    ///
    /// # Cancel safety
    ///
    /// As [`Semaphore::acquire`]: cancel safe, and a permit handed to a
    /// cancelled future passes on.
    ///
    /// # Errors
    ///
    /// None in practice (a bounded semaphore is never closed); the `Result`
    /// keeps the signature of [`Semaphore::acquire`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let sem = corral::sync::BoundedSemaphore::new(1);
    /// let p = sem.acquire().await.unwrap();
    /// assert_eq!(p.num_permits(), 1);
    /// # });
    /// ```
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        self.sem.acquire()
    }

    /// Waits for a permit and keeps it until [`release`](Self::release)
    /// (asyncio's `await sem.acquire()`).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire): a cancelled call holds nothing.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let sem = corral::sync::BoundedSemaphore::new(1);
    /// sem.acquire_manual().await.unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// sem.release().unwrap();
    /// # });
    /// ```
    pub async fn acquire_manual(&self) -> Result<(), AcquireError> {
        self.sem.acquire().await.map(SemaphorePermit::forget)
    }

    /// Takes a permit now if one is free and nobody waits.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`].
    ///
    /// ```
    /// let sem = corral::sync::BoundedSemaphore::new(1);
    /// let _p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.sem.try_acquire()
    }

    /// Blocks the current thread until a permit is free.
    ///
    /// # Errors
    ///
    /// None in practice (never closed).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime, as
    /// [`Semaphore::blocking_acquire`].
    ///
    /// ```
    /// let sem = corral::sync::BoundedSemaphore::new(1);
    /// assert!(sem.blocking_acquire().is_ok());
    /// ```
    #[track_caller]
    pub fn blocking_acquire(&self) -> Result<SemaphorePermit<'_>, BlockingAcquireError> {
        self.sem.blocking_acquire()
    }

    /// As [`blocking_acquire`](Self::blocking_acquire), giving up after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`BlockingAcquireError::Timeout`].
    ///
    /// # Panics
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = corral::sync::BoundedSemaphore::new(1);
    /// let _p = sem.try_acquire().unwrap();
    /// assert!(sem.blocking_acquire_timeout(Duration::from_millis(1)).is_err());
    /// ```
    #[track_caller]
    pub fn blocking_acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, BlockingAcquireError> {
        self.sem.blocking_acquire_timeout(timeout)
    }

    /// Gives back one permit taken with
    /// [`acquire_manual`](Self::acquire_manual) (handed to the first
    /// waiter, if any).
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if that would leave more free permits than the
    /// bound; nothing changes then.
    ///
    /// ```
    /// let sem = corral::sync::BoundedSemaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert!(sem.release().is_ok());
    /// assert!(sem.release().is_err());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.sem
            .raw()
            .release_bounded(1, self.max)
            .map_err(|available| ReleaseError {
                max: self.max,
                available,
            })
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("max", &self.max)
            .field("semaphore", &self.sem)
            .finish()
    }
}
