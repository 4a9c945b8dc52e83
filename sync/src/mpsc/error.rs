//! The errors of the mpsc channels (tokio's names and shapes): each one
//! that stands for an unsent value hands it back (`.0` or `into_inner`).
//! `Debug` needs no `T: Debug`.

use std::fmt;

/// The channel is closed (the receiver was closed or dropped); the value
/// that was not sent comes back in `.0`.
///
/// ```
/// use corral::sync::mpsc::{self, error::SendError};
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = mpsc::channel(1);
/// drop(rx);
/// assert_eq!(tx.send(7).await, Err(SendError(7)));
/// # });
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// assert_eq!(corral::sync::mpsc::error::SendError(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed: the receiver was closed or dropped")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why a `try_send` (or `try_reserve`) failed; the value comes back.
///
/// ```
/// use corral::sync::mpsc::{self, error::TrySendError};
/// let (tx, rx) = mpsc::channel(1);
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// drop(rx);
/// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// No free slot right now (or other senders wait before us).
    Full(T),
    /// The receiver was closed or dropped.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use corral::sync::mpsc::error::TrySendError;
    /// assert_eq!(TrySendError::Full(4).into_inner(), 4);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("channel full"),
            TrySendError::Closed(_) => f.write_str("channel closed: the receiver was closed or dropped"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Closed(e.0)
    }
}

/// Why a `send_timeout` / `blocking_send_timeout` failed; the value comes
/// back.
///
/// ```
/// use corral::sync::mpsc::{self, error::SendTimeoutError};
/// use std::time::Duration;
/// let (tx, _rx) = mpsc::channel(1);
/// tx.try_send(1).unwrap();
/// let err = tx.blocking_send_timeout(2, Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, SendTimeoutError::Timeout(2));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// No slot came free in time.
    Timeout(T),
    /// The receiver was closed or dropped.
    Closed(T),
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use corral::sync::mpsc::error::SendTimeoutError;
    /// assert_eq!(SendTimeoutError::Timeout(4).into_inner(), 4);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting for a free slot"),
            SendTimeoutError::Closed(_) => f.write_str("channel closed: the receiver was closed or dropped"),
        }
    }
}

impl<T> std::error::Error for SendTimeoutError<T> {}

/// Why a `try_recv` returned no item.
///
/// ```
/// use corral::sync::mpsc::{self, error::TryRecvError};
/// let (tx, mut rx) = mpsc::channel::<u8>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing buffered; more may come.
    Empty,
    /// Nothing buffered and nothing can come: every sender is gone, or the
    /// channel was closed and drained.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("channel empty"),
            TryRecvError::Disconnected => f.write_str("channel disconnected: every sender is gone"),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// Why a `blocking_recv_timeout` returned no item.
///
/// ```
/// use corral::sync::mpsc::{self, error::RecvTimeoutError};
/// use std::time::Duration;
/// let (_tx, mut rx) = mpsc::channel::<u8>(1);
/// let err = rx.blocking_recv_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, RecvTimeoutError::Timeout);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing came in time; more may come.
    Timeout,
    /// Nothing can come (as [`TryRecvError::Disconnected`]).
    Disconnected,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on the channel"),
            RecvTimeoutError::Disconnected => f.write_str("channel disconnected: every sender is gone"),
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

/// [`try_channel`](super::try_channel) was asked for a channel of capacity
/// 0 (an mpsc channel needs at least one slot; tokio's `channel(0)`
/// panics, as [`channel`](super::channel) does).
///
/// ```
/// use corral::sync::mpsc;
/// let err = mpsc::try_channel::<u8>(0).unwrap_err();
/// assert_eq!(err.to_string(), "an mpsc channel needs a capacity of at least 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroCapacity;

impl fmt::Display for ZeroCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an mpsc channel needs a capacity of at least 1")
    }
}

impl std::error::Error for ZeroCapacity {}
