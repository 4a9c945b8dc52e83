//! The [`CapacityLimiter`](super::CapacityLimiter)'s typed errors. Each names
//! the borrower it is about.

use super::key::Borrower;
use std::fmt;

/// Why an async acquire of a [`CapacityLimiter`](super::CapacityLimiter)
/// token failed: the borrower acquired twice. Reported at once, even when
/// no token is free (AnyIO raises `RuntimeError` the same way).
///
/// ```
/// use corral::sync::{BorrowError, CapacityLimiter};
/// # corral::Runtime::new().unwrap().block_on(async {
/// let limiter = CapacityLimiter::new(1);
/// limiter.acquire_on_behalf_of("job").await.unwrap();
/// let err = limiter.acquire_on_behalf_of("job").await.unwrap_err();
/// assert!(matches!(err, BorrowError::AlreadyBorrowing(_)));
/// assert_eq!(err.to_string(), "\"job\" already holds a token of this CapacityLimiter");
/// # });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BorrowError {
    /// The borrower already holds one of this limiter's tokens.
    AlreadyBorrowing(Borrower),
    /// The borrower is already waiting for a token (in another acquire
    /// still pending).
    AlreadyWaiting(Borrower),
}

impl fmt::Display for BorrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BorrowError::AlreadyBorrowing(b) => {
                write!(f, "{b} already holds a token of this CapacityLimiter")
            }
            BorrowError::AlreadyWaiting(b) => {
                write!(f, "{b} is already waiting for a token of this CapacityLimiter")
            }
        }
    }
}

impl std::error::Error for BorrowError {}

/// Why a `try_acquire*` of a [`CapacityLimiter`](super::CapacityLimiter)
/// failed.
///
/// ```
/// use corral::sync::{CapacityLimiter, TryBorrowError};
/// let limiter = CapacityLimiter::new(1);
/// limiter.try_acquire_on_behalf_of(1u8).unwrap();
/// let err = limiter.try_acquire_on_behalf_of(2u8).unwrap_err();
/// assert_eq!(err, TryBorrowError::NoTokens);
/// assert_eq!(err.to_string(), "no CapacityLimiter token available");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryBorrowError {
    /// The borrower already holds one of this limiter's tokens.
    AlreadyBorrowing(Borrower),
    /// The borrower is already waiting for a token.
    AlreadyWaiting(Borrower),
    /// No token is free right now, or others wait first (AnyIO's
    /// `WouldBlock`).
    NoTokens,
}

impl fmt::Display for TryBorrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryBorrowError::AlreadyBorrowing(b) => BorrowError::AlreadyBorrowing(b.clone()).fmt(f),
            TryBorrowError::AlreadyWaiting(b) => BorrowError::AlreadyWaiting(b.clone()).fmt(f),
            TryBorrowError::NoTokens => f.write_str("no CapacityLimiter token available"),
        }
    }
}

impl std::error::Error for TryBorrowError {}

impl From<BorrowError> for TryBorrowError {
    fn from(e: BorrowError) -> Self {
        match e {
            BorrowError::AlreadyBorrowing(b) => TryBorrowError::AlreadyBorrowing(b),
            BorrowError::AlreadyWaiting(b) => TryBorrowError::AlreadyWaiting(b),
        }
    }
}

/// Why a `blocking_acquire*` of a [`CapacityLimiter`](super::CapacityLimiter)
/// failed.
///
/// ```
/// use corral::sync::{BlockingBorrowError, CapacityLimiter};
/// use std::time::Duration;
/// let limiter = CapacityLimiter::new(0);
/// let err = limiter.blocking_acquire_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, BlockingBorrowError::Timeout);
/// assert_eq!(err.to_string(), "timed out waiting for a CapacityLimiter token");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockingBorrowError {
    /// The borrower already holds one of this limiter's tokens.
    AlreadyBorrowing(Borrower),
    /// The borrower is already waiting for a token.
    AlreadyWaiting(Borrower),
    /// The timeout passed before a token was ours.
    Timeout,
}

impl fmt::Display for BlockingBorrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingBorrowError::AlreadyBorrowing(b) => BorrowError::AlreadyBorrowing(b.clone()).fmt(f),
            BlockingBorrowError::AlreadyWaiting(b) => BorrowError::AlreadyWaiting(b.clone()).fmt(f),
            BlockingBorrowError::Timeout => f.write_str("timed out waiting for a CapacityLimiter token"),
        }
    }
}

impl std::error::Error for BlockingBorrowError {}

impl From<BorrowError> for BlockingBorrowError {
    fn from(e: BorrowError) -> Self {
        match e {
            BorrowError::AlreadyBorrowing(b) => BlockingBorrowError::AlreadyBorrowing(b),
            BorrowError::AlreadyWaiting(b) => BlockingBorrowError::AlreadyWaiting(b),
        }
    }
}

/// A release named a borrower that holds no token of this
/// [`CapacityLimiter`](super::CapacityLimiter) (AnyIO raises
/// `RuntimeError`). Nothing was released.
///
/// ```
/// let limiter = corral::sync::CapacityLimiter::new(1);
/// let err = limiter.release_on_behalf_of(&"nobody").unwrap_err();
/// assert_eq!(err.to_string(), "\"nobody\" does not hold a token of this CapacityLimiter");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseTokenError {
    pub(crate) borrower: String,
}

impl ReleaseTokenError {
    /// The borrower, as the message names it (`task 7`, `"job"`, ...).
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// let err = limiter.release_on_behalf_of(&3u16).unwrap_err();
    /// assert_eq!(err.borrower(), "3");
    /// ```
    pub fn borrower(&self) -> &str {
        &self.borrower
    }
}

impl fmt::Display for ReleaseTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} does not hold a token of this CapacityLimiter",
            self.borrower
        )
    }
}

impl std::error::Error for ReleaseTokenError {}
