//! The unbounded flavour: [`unbounded_channel`], [`UnboundedSender`],
//! [`UnboundedReceiver`], [`WeakUnboundedSender`].

use super::chan::Chan;
use super::error::SendError;
use super::{receiver_methods, sender_methods};
use crate::loom::Arc;
use std::panic::Location;

/// Creates an unbounded channel: `send` never waits (the buffer grows as
/// needed, so a receiver that falls behind costs memory; prefer
/// [`channel`](super::channel) where backpressure matters).
///
/// ```
/// use corral::sync::mpsc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// for i in 0..1000 {
///     tx.send(i).unwrap(); // never waits
/// }
/// assert_eq!(rx.recv().await, Some(0));
/// assert_eq!(rx.len(), 999);
/// # });
/// ```
#[track_caller]
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Arc::new(Chan::new(None, Location::caller()));
    (UnboundedSender { chan: chan.clone() }, UnboundedReceiver { chan })
}

/// The sending half of an unbounded channel; clone it for more producers.
///
/// ```
/// use corral::sync::mpsc;
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// std::thread::spawn(move || tx.send("from a thread").unwrap()).join().unwrap();
/// assert_eq!(rx.blocking_recv(), Some("from a thread"));
/// ```
pub struct UnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

/// A sender that does not keep the channel open; from
/// [`UnboundedSender::downgrade`].
///
/// ```
/// let (tx, _rx) = corral::sync::mpsc::unbounded_channel::<u8>();
/// let weak = tx.downgrade();
/// drop(tx);
/// assert!(weak.upgrade().is_none());
/// ```
pub struct WeakUnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of an unbounded channel (the same methods as the
/// bounded [`Receiver`](super::Receiver), without the capacities).
///
/// ```
/// use corral::sync::mpsc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// tx.send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.recv().await, Some(1));
/// assert_eq!(rx.recv().await, None);
/// # });
/// ```
pub struct UnboundedReceiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` without waiting; `Err(SendError(value))` if the
    /// receiver closed or was dropped.
    ///
    /// ```
    /// use corral::sync::mpsc::{self, error::SendError};
    /// let (tx, rx) = mpsc::unbounded_channel();
    /// assert!(tx.send(1).is_ok());
    /// drop(rx);
    /// assert_eq!(tx.send(2), Err(SendError(2)));
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send_unbounded(value).map_err(SendError)
    }
}

sender_methods!(
    UnboundedSender,
    WeakUnboundedSender,
    "corral::sync::mpsc::unbounded_channel::<u8>()"
);

receiver_methods!(
    UnboundedReceiver,
    "mpsc::unbounded_channel()",
    "mpsc::unbounded_channel::<u8>()",
    "",
    "send"
);
