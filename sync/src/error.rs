//! Typed errors shared by the primitives: short lowercase `Display`,
//! `impl Error`, no `T: Debug` bounds.

use std::fmt;

/// Why an async acquire failed.
///
/// ```
/// use corral::sync::{AcquireError, Semaphore};
/// # corral::Runtime::new().unwrap().block_on(async {
/// let sem = Semaphore::new(1);
/// sem.close();
/// assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    /// The semaphore was closed (before or while waiting).
    Closed,
    /// More permits were asked for than a semaphore can ever hold.
    TooMany {
        /// Permits asked for.
        requested: usize,
        /// The most a semaphore holds ([`Semaphore::MAX_PERMITS`](crate::Semaphore::MAX_PERMITS)).
        max: usize,
    },
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::Closed => f.write_str("semaphore closed"),
            AcquireError::TooMany { requested, max } => write!(
                f,
                "asked for {requested} permits, more than a semaphore can hold ({max})"
            ),
        }
    }
}

impl std::error::Error for AcquireError {}

/// Why a `try_acquire*` failed.
///
/// ```
/// use corral::sync::{Semaphore, TryAcquireError};
/// let sem = Semaphore::new(1);
/// let _held = sem.try_acquire().unwrap();
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits are free right now (or others wait before us).
    NoPermits,
    /// More permits were asked for than a semaphore can ever hold.
    TooMany {
        /// Permits asked for.
        requested: usize,
        /// The most a semaphore holds.
        max: usize,
    },
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
            TryAcquireError::TooMany { requested, max } => write!(
                f,
                "asked for {requested} permits, more than a semaphore can hold ({max})"
            ),
        }
    }
}

impl std::error::Error for TryAcquireError {}

/// Why a `blocking_acquire*` failed.
///
/// ```
/// use corral::sync::{BlockingAcquireError, Semaphore};
/// use std::time::Duration;
/// let sem = Semaphore::new(0);
/// let err = sem.blocking_acquire_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, BlockingAcquireError::Timeout);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockingAcquireError {
    /// The semaphore was closed (before or while waiting).
    Closed,
    /// The timeout passed before the permits were ours.
    Timeout,
    /// More permits were asked for than a semaphore can ever hold.
    TooMany {
        /// Permits asked for.
        requested: usize,
        /// The most a semaphore holds.
        max: usize,
    },
}

impl fmt::Display for BlockingAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingAcquireError::Closed => f.write_str("semaphore closed"),
            BlockingAcquireError::Timeout => f.write_str("timed out waiting for permits"),
            BlockingAcquireError::TooMany { requested, max } => write!(
                f,
                "asked for {requested} permits, more than a semaphore can hold ({max})"
            ),
        }
    }
}

impl std::error::Error for BlockingAcquireError {}

/// `Mutex::try_lock` failed: another holder has the lock (or a waiter is
/// first in line for it).
///
/// ```
/// use corral::sync::Mutex;
/// let m = Mutex::new(0);
/// let _g = m.try_lock().unwrap();
/// let err = m.try_lock().unwrap_err();
/// assert_eq!(err.to_string(), "mutex is locked");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryLockError(pub(crate) ());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mutex is locked")
    }
}

impl std::error::Error for TryLockError {}

/// `Mutex::blocking_lock_timeout` gave up: the lock was not free in time.
///
/// ```
/// use corral::sync::Mutex;
/// use std::time::Duration;
/// let m = Mutex::new(0);
/// let _g = m.try_lock().unwrap();
/// let err = m.blocking_lock_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err.to_string(), "timed out waiting for the mutex");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockTimeout(pub(crate) ());

impl fmt::Display for LockTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for the mutex")
    }
}

impl std::error::Error for LockTimeout {}
