//! The bounded flavour: [`channel`], [`Sender`], [`Receiver`], permits and
//! [`WeakSender`].

use super::chan::{Blocked, Chan, SendFuture, Slot, SlotFuture, TryErr};
use super::error::{SendError, SendTimeoutError, TrySendError, ZeroCapacity};
use super::{receiver_methods, sender_methods};
use crate::loom::Arc;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

/// Creates a bounded channel holding at most `buffer` items: senders wait
/// (`send().await`) while it is full.
///
/// # Panics
///
/// If `buffer` is 0, as tokio's does (use [`try_channel`] for a typed
/// error instead).
///
/// ```
/// use corral::sync::mpsc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel(2);
/// tx.send(1).await.unwrap();
/// assert_eq!(rx.recv().await, Some(1));
/// # });
/// ```
#[track_caller]
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    match try_channel(buffer) {
        Ok(pair) => pair,
        Err(e) => panic!("mpsc::channel({buffer}): {e}"),
    }
}

/// As [`channel`], but a capacity of 0 is a typed error instead of a
/// panic.
///
/// ```
/// use corral::sync::mpsc::{self, error::ZeroCapacity};
/// assert!(mpsc::try_channel::<u8>(1).is_ok());
/// assert_eq!(mpsc::try_channel::<u8>(0).unwrap_err(), ZeroCapacity);
/// ```
#[track_caller]
pub fn try_channel<T>(buffer: usize) -> Result<(Sender<T>, Receiver<T>), ZeroCapacity> {
    if buffer == 0 {
        return Err(ZeroCapacity);
    }
    let chan = Arc::new(Chan::new(Some(buffer), Location::caller()));
    Ok((Sender { chan: chan.clone() }, Receiver { chan }))
}

/// The sending half of a bounded channel; clone it for more producers. The
/// channel ends (the receiver gets `None`) when the last one is dropped.
///
/// ```
/// use corral::sync::mpsc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel(8);
/// let tx2 = tx.clone();
/// tx.send("a").await.unwrap();
/// tx2.send("b").await.unwrap();
/// assert_eq!(rx.recv().await, Some("a"));
/// assert_eq!(rx.recv().await, Some("b"));
/// # });
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// A sender that does not keep the channel open; [`upgrade`](Self::upgrade)
/// it to send. From [`Sender::downgrade`].
///
/// ```
/// use corral::sync::mpsc;
/// let (tx, _rx) = mpsc::channel::<u8>(1);
/// let weak = tx.downgrade();
/// assert!(weak.upgrade().is_some());
/// drop(tx);
/// assert!(weak.upgrade().is_none());
/// ```
pub struct WeakSender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a bounded channel: `recv().await`, `try_recv`,
/// `blocking_recv`, `recv_many`, and a `futures_core::Stream`. Dropping it
/// closes the channel and drops what is buffered.
///
/// ```
/// use corral::sync::mpsc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel(4);
/// tx.send(10).await.unwrap();
/// drop(tx);
/// assert_eq!(rx.recv().await, Some(10));
/// assert_eq!(rx.recv().await, None);
/// # });
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// One reserved slot of a bounded channel, from [`Sender::reserve`]:
/// [`send`](Self::send) cannot fail (nor wait); dropping it unused gives the
/// slot back.
///
/// ```
/// use corral::sync::mpsc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel(1);
/// let permit = tx.reserve().await.unwrap();
/// assert!(tx.try_send(1).is_err()); // the only slot is reserved
/// permit.send(2);
/// assert_eq!(rx.recv().await, Some(2));
/// # });
/// ```
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

/// A reserved slot that owns its [`Sender`], from
/// [`Sender::reserve_owned`]; [`send`](Self::send) returns the sender.
///
/// ```
/// use corral::sync::mpsc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel(1);
/// let permit = tx.reserve_owned().await.unwrap();
/// let tx = permit.send(3);
/// assert_eq!(rx.recv().await, Some(3));
/// # drop(tx);
/// # });
/// ```
pub struct OwnedPermit<T> {
    /// None once `send` or `release` gave the sender back.
    sender: Option<Sender<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full; `Err(SendError(value))`
    /// if the receiver closed or was dropped (before or while waiting).
    ///
    /// # Cancel safety
    ///
    /// Nothing is lost, but unlike tokio's a dropped `send` may have sent.
    /// A send that had to wait gives its value to the channel: the receive
    /// that frees a slot for it pushes the value itself and completes the
    /// send before the sender runs again. If the future is dropped after
    /// that (say, a `select!` took another branch), the value **was** sent
    /// and is received once. Dropped before that, the value was not sent
    /// (it drops with the future) and the sender's place in the queue is
    /// given up. To know for certain, [`reserve`](Self::reserve) first: a
    /// dropped `reserve` sends nothing (a slot granted to it passes to the
    /// next waiting sender).
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = mpsc::channel(1);
    /// tx.send(1).await.unwrap();
    /// let waiting = corral::spawn(async move { tx.send(2).await }); // full: waits
    /// assert_eq!(rx.recv().await, Some(1));
    /// assert!(waiting.await.unwrap().is_ok());
    /// assert_eq!(rx.recv().await, Some(2));
    /// # });
    /// ```
    // An `async fn` in all but name: the future is returned directly, so
    // that its poll inlines into the caller's.
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        SendFuture::new(&self.chan, value)
    }

    /// Sends without waiting: `Full(value)` if no slot is free (or other
    /// senders wait first), `Closed(value)` if the receiver is gone.
    ///
    /// ```
    /// use corral::sync::mpsc::{self, error::TrySendError};
    /// let (tx, _rx) = mpsc::channel(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.chan.try_reserve(Some(value)) {
            Ok(()) => Ok(()),
            Err((TryErr::Full, v)) => Err(TrySendError::Full(v.expect("value handed back"))),
            Err((TryErr::Closed, v)) => Err(TrySendError::Closed(v.expect("value handed back"))),
        }
    }

    /// As [`send`](Self::send), giving up after `timeout`
    /// ([`SendTimeoutError::Timeout`] hands the value back). Needs a corral
    /// runtime (its timer).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send): dropped early, the value was not sent.
    ///
    /// ```
    /// use corral::sync::mpsc::{self, error::SendTimeoutError};
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, _rx) = mpsc::channel(1);
    /// tx.send(1).await.unwrap();
    /// let err = tx.send_timeout(2, Duration::from_millis(5)).await.unwrap_err();
    /// assert_eq!(err, SendTimeoutError::Timeout(2));
    /// # });
    /// ```
    pub async fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        if let Err((why, v)) = self.chan.try_reserve(Some(value)) {
            let v = v.expect("value handed back");
            if why == TryErr::Closed {
                return Err(SendTimeoutError::Closed(v));
            }
            return match corral_runtime::time::timeout(timeout, self.reserve()).await {
                Ok(Ok(permit)) => {
                    permit.send(v);
                    Ok(())
                }
                Ok(Err(_)) => Err(SendTimeoutError::Closed(v)),
                Err(_) => Err(SendTimeoutError::Timeout(v)),
            };
        }
        Ok(())
    }

    /// Blocks this (non-runtime) thread until the value is sent (or the
    /// channel closes).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (`.await` [`send`](Self::send) there).
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// let (tx, mut rx) = mpsc::channel(1);
    /// let producer = std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         tx.blocking_send(i).unwrap();
    ///     }
    /// });
    /// let got: Vec<i32> = std::iter::from_fn(|| rx.blocking_recv()).collect();
    /// producer.join().unwrap();
    /// assert_eq!(got, [0, 1, 2]);
    /// ```
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan
            .blocking_send(value, None, "mpsc::Sender::blocking_send")
            .map_err(|(_, v)| SendError(v))
    }

    /// As [`blocking_send`](Self::blocking_send), giving up after `timeout`
    /// (the value comes back).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime.
    ///
    /// ```
    /// use corral::sync::mpsc::{self, error::SendTimeoutError};
    /// use std::time::Duration;
    /// let (tx, rx) = mpsc::channel(1);
    /// tx.blocking_send_timeout(1, Duration::from_secs(1)).unwrap();
    /// assert_eq!(tx.blocking_send_timeout(2, Duration::from_millis(1)), Err(SendTimeoutError::Timeout(2)));
    /// drop(rx);
    /// assert_eq!(tx.blocking_send_timeout(3, Duration::from_secs(1)), Err(SendTimeoutError::Closed(3)));
    /// ```
    #[track_caller]
    pub fn blocking_send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        let deadline = Instant::now().checked_add(timeout);
        match self
            .chan
            .blocking_send(value, deadline, "mpsc::Sender::blocking_send_timeout")
        {
            Ok(()) => Ok(()),
            Err((Blocked::Closed, v)) => Err(SendTimeoutError::Closed(v)),
            Err((Blocked::Timeout, v)) => Err(SendTimeoutError::Timeout(v)),
        }
    }

    /// Waits for a free slot and reserves it: the returned [`Permit`] sends
    /// without failing or waiting. `Err` if the receiver closed or was
    /// dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `reserve` gives up its place in the queue; a
    /// slot already granted to it passes to the next waiting sender.
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = mpsc::channel(1);
    /// let permit = tx.reserve().await.unwrap();
    /// permit.send("reserved");
    /// assert_eq!(rx.recv().await, Some("reserved"));
    /// # });
    /// ```
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        match SlotFuture::new(&self.chan, None).await {
            Slot::Reserved => Ok(Permit { chan: &self.chan }),
            Slot::Closed(_) => Err(SendError(())),
            Slot::Sent => unreachable!("a reserve has no value to send"),
        }
    }

    /// As [`reserve`](Self::reserve), with a permit that owns this sender
    /// (for a permit that must outlive the borrow, e.g. moved into a task).
    ///
    /// # Cancel safety
    ///
    /// As [`reserve`](Self::reserve); the sender is dropped with the future.
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = mpsc::channel(1);
    /// let permit = tx.clone().reserve_owned().await.unwrap();
    /// corral::spawn(async move { permit.send(8) }).await.unwrap();
    /// assert_eq!(rx.recv().await, Some(8));
    /// # });
    /// ```
    pub async fn reserve_owned(self) -> Result<OwnedPermit<T>, SendError<()>> {
        match SlotFuture::new(&self.chan, None).await {
            Slot::Reserved => Ok(OwnedPermit { sender: Some(self) }),
            Slot::Closed(_) => Err(SendError(())),
            Slot::Sent => unreachable!("a reserve has no value to send"),
        }
    }

    /// Reserves a slot without waiting.
    ///
    /// ```
    /// use corral::sync::mpsc::{self, error::TrySendError};
    /// let (tx, _rx) = mpsc::channel::<u8>(1);
    /// let p = tx.try_reserve().unwrap();
    /// assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
    /// drop(p);
    /// assert!(tx.try_reserve().is_ok());
    /// ```
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        match self.chan.try_reserve(None) {
            Ok(()) => Ok(Permit { chan: &self.chan }),
            Err((TryErr::Full, _)) => Err(TrySendError::Full(())),
            Err((TryErr::Closed, _)) => Err(TrySendError::Closed(())),
        }
    }

    /// Reserves a slot without waiting, as an [`OwnedPermit`]; on failure
    /// the sender comes back in the error.
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// let (tx, mut rx) = mpsc::channel(1);
    /// let permit = tx.try_reserve_owned().unwrap();
    /// let _tx = permit.send(1);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        match self.chan.try_reserve(None) {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err((TryErr::Full, _)) => Err(TrySendError::Full(self)),
            Err((TryErr::Closed, _)) => Err(TrySendError::Closed(self)),
        }
    }

    /// Free slots right now (not counting reserved ones).
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// let (tx, _rx) = mpsc::channel(3);
    /// tx.try_send(1).unwrap();
    /// assert_eq!((tx.capacity(), tx.max_capacity()), (2, 3));
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.free()
    }

    /// The capacity the channel was created with.
    ///
    /// ```
    /// let (tx, _rx) = corral::sync::mpsc::channel::<u8>(5);
    /// assert_eq!(tx.max_capacity(), 5);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.chan.max().expect("a bounded channel has a capacity")
    }
}

sender_methods!(Sender, WeakSender, "corral::sync::mpsc::channel::<u8>(1)");

impl<'a, T> Permit<'a, T> {
    /// Sends `value` in the reserved slot (never fails, never waits; if the
    /// receiver is gone the value is dropped).
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// let (tx, mut rx) = mpsc::channel(1);
    /// tx.try_reserve().unwrap().send(4);
    /// assert_eq!(rx.try_recv(), Ok(4));
    /// ```
    pub fn send(self, value: T) {
        let chan = self.chan;
        std::mem::forget(self);
        chan.push_reserved(value);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_slots(1);
    }
}

impl<T> OwnedPermit<T> {
    /// Sends `value` in the reserved slot and gives the sender back.
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// let (tx, mut rx) = mpsc::channel(1);
    /// let tx = tx.try_reserve_owned().unwrap().send(1);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert!(tx.try_send(2).is_ok());
    /// ```
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = self.sender.take().expect("a permit holds its sender until used");
        sender.chan.push_reserved(value);
        sender
    }

    /// Gives the slot back unused and returns the sender.
    ///
    /// ```
    /// use corral::sync::mpsc;
    /// let (tx, _rx) = mpsc::channel::<u8>(1);
    /// let tx = tx.try_reserve_owned().unwrap().release();
    /// assert_eq!(tx.capacity(), 1);
    /// ```
    pub fn release(mut self) -> Sender<T> {
        let sender = self.sender.take().expect("a permit holds its sender until used");
        sender.chan.release_slots(1);
        sender
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.chan.release_slots(1);
        }
    }
}

receiver_methods!(
    Receiver,
    "mpsc::channel(8)",
    "mpsc::channel::<u8>(8)",
    ".await",
    "blocking_send"
);

impl<T> Receiver<T> {
    /// Free slots right now (as [`Sender::capacity`]).
    ///
    /// ```
    /// let (tx, rx) = corral::sync::mpsc::channel(2);
    /// tx.try_send(1).unwrap();
    /// assert_eq!((rx.capacity(), rx.max_capacity()), (1, 2));
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.free()
    }

    /// The capacity the channel was created with.
    ///
    /// ```
    /// let (_tx, rx) = corral::sync::mpsc::channel::<u8>(2);
    /// assert_eq!(rx.max_capacity(), 2);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.chan.max().expect("a bounded channel has a capacity")
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Permit").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::OwnedPermit").finish_non_exhaustive()
    }
}
