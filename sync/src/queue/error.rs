//! The typed errors of [`Queue`](crate::Queue): short lowercase `Display`,
//! `impl Error`, the item handed back where one was refused, and no
//! `T: Debug` bound.

use std::fmt;

/// `put().await` or `blocking_put` failed: the queue is closed. The item
/// comes back.
///
/// ```
/// use corral::sync::Queue;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let q = Queue::unbounded();
/// q.close();
/// let err = q.put("job").await.unwrap_err();
/// assert_eq!(err.into_inner(), "job");
/// # });
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PutError<T>(pub T);

impl<T> PutError<T> {
    /// The item that was not put.
    ///
    /// ```
    /// let err = corral::sync::PutError(7);
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PutError(..)")
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue closed")
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why `put_nowait` refused an item (asyncio's `QueueFull`); the item
/// comes back either way.
///
/// ```
/// use corral::sync::{Queue, TryPutError};
/// let q = Queue::with_maxsize(1);
/// q.put_nowait(1).unwrap();
/// assert_eq!(q.put_nowait(2), Err(TryPutError::QueueFull(2)));
/// q.close();
/// assert_eq!(q.put_nowait(3), Err(TryPutError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TryPutError<T> {
    /// No room right now (or other putters wait first; for a rendezvous
    /// queue: no getter waits).
    QueueFull(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    ///
    /// ```
    /// let err = corral::sync::TryPutError::QueueFull("x");
    /// assert_eq!(err.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::QueueFull(t) | TryPutError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::QueueFull(_) => f.write_str("QueueFull(..)"),
            TryPutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::QueueFull(_) => f.write_str("queue full"),
            TryPutError::Closed(_) => f.write_str("queue closed"),
        }
    }
}

impl<T> std::error::Error for TryPutError<T> {}

/// Why `blocking_put_timeout` gave up; the item comes back either way.
///
/// ```
/// use corral::sync::{BlockingPutError, Queue};
/// use std::time::Duration;
/// let q = Queue::with_maxsize(0); // rendezvous: nobody is getting
/// let err = q.blocking_put_timeout(5, Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, BlockingPutError::Timeout(5));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BlockingPutError<T> {
    /// The timeout passed while the queue stayed full.
    Timeout(T),
    /// The queue was closed (before or while waiting).
    Closed(T),
}

impl<T> BlockingPutError<T> {
    /// The item that was not put.
    ///
    /// ```
    /// let err = corral::sync::BlockingPutError::Timeout(1);
    /// assert_eq!(err.into_inner(), 1);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            BlockingPutError::Timeout(t) | BlockingPutError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for BlockingPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingPutError::Timeout(_) => f.write_str("Timeout(..)"),
            BlockingPutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for BlockingPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingPutError::Timeout(_) => f.write_str("timed out waiting for room in the queue"),
            BlockingPutError::Closed(_) => f.write_str("queue closed"),
        }
    }
}

impl<T> std::error::Error for BlockingPutError<T> {}

/// `get().await` or `blocking_get` failed: the queue is closed and
/// drained.
///
/// ```
/// use corral::sync::{Queue, QueueClosed};
/// # corral::Runtime::new().unwrap().block_on(async {
/// let q = Queue::unbounded();
/// q.put(1).await.unwrap();
/// q.close();
/// assert_eq!(q.get().await, Ok(1)); // what was buffered drains first
/// assert_eq!(q.get().await, Err(QueueClosed));
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueClosed;

impl fmt::Display for QueueClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue closed")
    }
}

impl std::error::Error for QueueClosed {}

/// Why `get_nowait` returned nothing (asyncio's `QueueEmpty`).
///
/// ```
/// use corral::sync::{Queue, TryGetError};
/// let q = Queue::<u8>::unbounded();
/// assert_eq!(q.get_nowait(), Err(TryGetError::QueueEmpty));
/// q.close();
/// assert_eq!(q.get_nowait(), Err(TryGetError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryGetError {
    /// Nothing is buffered and no putter waits (the queue is open).
    QueueEmpty,
    /// The queue is closed and drained.
    Closed,
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::QueueEmpty => f.write_str("queue empty"),
            TryGetError::Closed => f.write_str("queue closed"),
        }
    }
}

impl std::error::Error for TryGetError {}

/// Why `blocking_get_timeout` returned nothing.
///
/// ```
/// use corral::sync::{BlockingGetError, Queue};
/// use std::time::Duration;
/// let q = Queue::<u8>::unbounded();
/// let err = q.blocking_get_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, BlockingGetError::Timeout);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockingGetError {
    /// The timeout passed while the queue stayed empty.
    Timeout,
    /// The queue is closed and drained.
    Closed,
}

impl fmt::Display for BlockingGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingGetError::Timeout => f.write_str("timed out waiting for an item"),
            BlockingGetError::Closed => f.write_str("queue closed"),
        }
    }
}

impl std::error::Error for BlockingGetError {}

/// `task_done` was called more times than items were put (asyncio's
/// `ValueError`).
///
/// ```
/// use corral::sync::Queue;
/// let q = Queue::<u8>::unbounded();
/// let err = q.task_done().unwrap_err();
/// assert_eq!(err.to_string(), "task_done called more times than items were put");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDoneError(pub(crate) ());

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done called more times than items were put")
    }
}

impl std::error::Error for TaskDoneError {}

/// `blocking_join_timeout` gave up: items were still unfinished.
///
/// ```
/// use corral::sync::Queue;
/// use std::time::Duration;
/// let q = Queue::unbounded();
/// q.put_nowait(1).unwrap(); // never marked done
/// let err = q.blocking_join_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err.to_string(), "timed out waiting for the queue's items to be done");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinTimeout(pub(crate) ());

impl fmt::Display for JoinTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for the queue's items to be done")
    }
}

impl std::error::Error for JoinTimeout {}
