//! The errors of the broadcast channel (tokio's names and shapes). An
//! unsent value comes back in [`SendError`]; a receiver that fell behind
//! learns how many values it missed (`Lagged(n)`). `Debug` needs no
//! `T: Debug`.

use std::fmt;

/// Every receiver is gone; the value that was not sent comes back in `.0`.
///
/// ```
/// use corral::sync::broadcast::{self, error::SendError};
/// let (tx, rx) = broadcast::channel(4);
/// drop(rx);
/// assert_eq!(tx.send(7), Err(SendError(7)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// assert_eq!(corral::sync::broadcast::error::SendError(3).into_inner(), 3);
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
        f.write_str("broadcast channel has no receivers")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why `recv` returned no value.
///
/// ```
/// use corral::sync::broadcast::{self, error::RecvError};
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = broadcast::channel(2);
/// for i in 0..5 {
///     tx.send(i).unwrap();
/// }
/// // 0, 1 and 2 were overwritten before this receiver read them.
/// assert_eq!(rx.recv().await, Err(RecvError::Lagged(3)));
/// assert_eq!(rx.recv().await, Ok(3)); // carries on from the oldest value held
/// assert_eq!(rx.recv().await, Ok(4));
/// drop(tx);
/// assert_eq!(rx.recv().await, Err(RecvError::Closed));
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// Every sender is gone and this receiver has read everything it can.
    Closed,
    /// The receiver fell behind: this many values were overwritten before
    /// it read them. The next receive returns the oldest value still held.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("broadcast channel closed: every sender is gone"),
            RecvError::Lagged(n) => write!(f, "broadcast receiver lagged behind and missed {n} values"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why `try_recv` returned no value.
///
/// ```
/// use corral::sync::broadcast::{self, error::TryRecvError};
/// let (tx, mut rx) = broadcast::channel::<u8>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
/// assert_eq!(rx.try_recv(), Ok(2));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing new yet; senders are still alive.
    Empty,
    /// Every sender is gone and this receiver has read everything it can.
    Closed,
    /// This many values were overwritten before this receiver read them.
    Lagged(u64),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("broadcast channel empty"),
            TryRecvError::Closed => f.write_str("broadcast channel closed: every sender is gone"),
            TryRecvError::Lagged(n) => write!(f, "broadcast receiver lagged behind and missed {n} values"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Closed => TryRecvError::Closed,
            RecvError::Lagged(n) => TryRecvError::Lagged(n),
        }
    }
}

/// Why `blocking_recv_timeout` returned no value.
///
/// ```
/// use corral::sync::broadcast::{self, error::RecvTimeoutError};
/// use std::time::Duration;
/// let (tx, mut rx) = broadcast::channel::<u8>(1);
/// assert_eq!(rx.blocking_recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
/// drop(tx);
/// assert_eq!(rx.blocking_recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// No value came in time.
    Timeout,
    /// Every sender is gone and this receiver has read everything it can.
    Closed,
    /// This many values were overwritten before this receiver read them.
    Lagged(u64),
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting for a broadcast value"),
            RecvTimeoutError::Closed => f.write_str("broadcast channel closed: every sender is gone"),
            RecvTimeoutError::Lagged(n) => {
                write!(f, "broadcast receiver lagged behind and missed {n} values")
            }
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

impl From<RecvError> for RecvTimeoutError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Closed => RecvTimeoutError::Closed,
            RecvError::Lagged(n) => RecvTimeoutError::Lagged(n),
        }
    }
}

/// The error item of a [`Receiver`](super::Receiver) used as a `Stream`:
/// this many values were overwritten before the receiver read them (the
/// stream then carries on; it ends when every sender is gone).
///
/// ```
/// use corral::sync::broadcast::error::Lagged;
/// assert_eq!(Lagged(3).to_string(), "broadcast receiver lagged behind and missed 3 values");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broadcast receiver lagged behind and missed {} values", self.0)
    }
}

impl std::error::Error for Lagged {}

/// [`try_channel`](super::try_channel) was asked for a capacity of 0 (or
/// one too large to allocate); [`channel`](super::channel) panics instead.
///
/// ```
/// use corral::sync::broadcast::{self, error::CapacityError};
/// assert_eq!(broadcast::try_channel::<u8>(0).unwrap_err(), CapacityError::Zero);
/// assert_eq!(CapacityError::Zero.to_string(), "a broadcast channel needs a capacity of at least 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityError {
    /// A capacity of 0: a broadcast channel must hold at least one value.
    Zero,
    /// More than `usize::MAX / 2` slots.
    TooLarge(usize),
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapacityError::Zero => f.write_str("a broadcast channel needs a capacity of at least 1"),
            CapacityError::TooLarge(n) => write!(f, "a broadcast capacity of {n} is too large"),
        }
    }
}

impl std::error::Error for CapacityError {}
