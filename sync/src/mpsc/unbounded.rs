//! The unbounded flavour: [`unbounded_channel`], [`UnboundedSender`],
//! [`UnboundedReceiver`], [`WeakUnboundedSender`].

use super::chan::Chan;
use super::error::SendError;
use super::{receiver_methods, ChannelStatistics};
use crate::loom::Arc;
use std::fmt;
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

    /// Waits until the receiver closes the channel or is dropped (e.g. to
    /// stop producing for nobody).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is handed to the waiter, so a dropped future
    /// loses nothing; call again.
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = mpsc::unbounded_channel::<u8>();
    /// corral::spawn(async move { drop(rx) });
    /// tx.closed().await;
    /// assert!(tx.is_closed());
    /// # });
    /// ```
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// True once the receiver closed the channel or was dropped.
    ///
    /// ```
    /// let (tx, rx) = corral::sync::mpsc::unbounded_channel::<u8>();
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// True if both senders feed the same channel.
    ///
    /// ```
    /// let (tx, _rx) = corral::sync::mpsc::unbounded_channel::<u8>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// A [`WeakUnboundedSender`] for the same channel.
    ///
    /// ```
    /// let (tx, _rx) = corral::sync::mpsc::unbounded_channel::<u8>();
    /// assert!(tx.downgrade().upgrade().is_some());
    /// ```
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }

    /// Number of strong senders alive.
    ///
    /// ```
    /// let (tx, _rx) = corral::sync::mpsc::unbounded_channel::<u8>();
    /// assert_eq!(tx.strong_count(), 1);
    /// ```
    pub fn strong_count(&self) -> usize {
        self.chan.tx_count()
    }

    /// A snapshot of the channel.
    ///
    /// ```
    /// let (tx, _rx) = corral::sync::mpsc::unbounded_channel::<u8>();
    /// assert_eq!(tx.statistics().max_buffer_size, None);
    /// ```
    pub fn statistics(&self) -> ChannelStatistics {
        self.chan.statistics()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.tx_inc();
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.tx_dec();
    }
}

impl<T> WeakUnboundedSender<T> {
    /// An [`UnboundedSender`], if any strong sender is still alive.
    ///
    /// ```
    /// let (tx, _rx) = corral::sync::mpsc::unbounded_channel::<u8>();
    /// assert!(tx.downgrade().upgrade().is_some());
    /// ```
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.chan.tx_upgrade().then(|| UnboundedSender {
            chan: self.chan.clone(),
        })
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> Self {
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

receiver_methods!(
    UnboundedReceiver,
    "mpsc::unbounded_channel()",
    "mpsc::unbounded_channel::<u8>()",
    "",
    "send"
);

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::UnboundedSender")
            .field("statistics", &self.statistics())
            .finish()
    }
}

impl<T> fmt::Debug for WeakUnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::WeakUnboundedSender")
            .finish_non_exhaustive()
    }
}
