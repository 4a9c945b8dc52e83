//! Multi-producer, multi-consumer channels in async-channel's shape:
//! [`bounded`] / [`unbounded`], cloneable [`Sender`]s **and**
//! [`Receiver`]s; each item goes to exactly one receiver.
//!
//! ```
//! use corral::sync::mpmc;
//! # corral::Runtime::new().unwrap().block_on(async {
//! let (tx, rx) = mpmc::bounded(16);
//! let workers: Vec<_> = (0..3)
//!     .map(|_| {
//!         let rx = rx.clone();
//!         corral::spawn(async move {
//!             let mut n = 0;
//!             while let Ok(job) = rx.recv().await {
//!                 n += job;
//!             }
//!             n
//!         })
//!     })
//!     .collect();
//! for job in 1..=10 {
//!     tx.send(job).await.unwrap();
//! }
//! drop(tx); // the workers drain the channel, then stop
//! let mut total = 0;
//! for w in workers {
//!     total += w.await.unwrap();
//! }
//! assert_eq!(total, 55);
//! # });
//! ```
//!
//! # Semantics (and the choices made)
//!
//! - **The same core as [`mpsc`](crate::mpsc).** Backpressure, FIFO
//!   among waiting senders with each freed slot handed to the first of
//!   them, typed errors that hand the unsent value back, and the blocking
//!   path are the mpsc channel's.
//! - **Receivers are served first come, first served**, from one
//!   `WaitList`: an item sent while receivers wait is handed straight to
//!   the first of them and woken through the wait hook (no thundering herd:
//!   one item, one wake). async-channel and flume wake a listener that then
//!   competes for the item; here a later `try_recv` cannot take an item
//!   already handed over.
//! - **Nothing lost on cancellation.** A `recv().await` dropped after an
//!   item was handed to it passes the item to the next waiting receiver,
//!   or puts it back at the head of the queue (still first in line). A
//!   `send().await` dropped while it still holds its value did not send
//!   (tokio's and async-channel's rule); one whose value the receive that
//!   freed its slot had already pushed (a waiting send gives its value to
//!   the channel: kanal's design, one lock per waiting send) has sent, and
//!   the value is received once.
//! - **Closing.** [`Sender::close`] or [`Receiver::close`] (async-channel
//!   lets either side close): later sends fail with their value; receivers
//!   drain what is buffered, then get [`RecvError`].
//!   Dropping every sender ends the channel the same way; dropping every
//!   receiver closes it and drops what was buffered.
//! - **Capacity 0** is refused ([`bounded`] panics, [`try_bounded`] is a
//!   typed error): a rendezvous is `corral::sync::Queue::with_maxsize(0)`.
//! - **Plain threads and other executors**: every async method works under
//!   any executor; `blocking_*` (with `_timeout`) serve plain threads and
//!   panic on a runtime thread.

use crate::loom::{Arc, AtomicUsize, Ordering::*};
use crate::mpsc::chan::{Blocked, Chan, Recv, SendFuture, TryErr};
use corral_runtime::wait::WaitNode;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The errors of the mpmc channels. The send-side ones are mpsc's (each
/// hands the unsent value back); [`RecvError`] is the receive side's end.
pub mod error {
    pub use crate::mpsc::error::{
        RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError, ZeroCapacity,
    };
    use std::fmt;

    /// The channel is empty and no item can come any more (closed, or every
    /// sender dropped).
    ///
    /// ```
    /// use corral::sync::mpmc::{self, error::RecvError};
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = mpmc::unbounded::<u8>();
    /// drop(tx);
    /// assert_eq!(rx.recv().await, Err(RecvError));
    /// # });
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RecvError;

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel empty and closed: no item can come any more")
        }
    }

    impl std::error::Error for RecvError {}
}

use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError, ZeroCapacity,
};

/// One channel: the shared core and the count of receivers.
struct Shared<T> {
    chan: Chan<T>,
    receivers: AtomicUsize,
}

/// Creates a bounded channel holding at most `cap` items.
///
/// # Panics
///
/// If `cap` is 0 (as async-channel's); [`try_bounded`] returns a typed
/// error instead.
///
/// ```
/// use corral::sync::mpmc;
/// let (tx, rx) = mpmc::bounded(2);
/// tx.try_send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
#[track_caller]
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    match try_bounded(cap) {
        Ok(pair) => pair,
        Err(e) => panic!("mpmc::bounded({cap}): {e}"),
    }
}

/// As [`bounded`], with a capacity of 0 a typed error.
///
/// ```
/// use corral::sync::mpmc::{self, error::ZeroCapacity};
/// assert!(mpmc::try_bounded::<u8>(0).unwrap_err() == ZeroCapacity);
/// ```
#[track_caller]
pub fn try_bounded<T>(cap: usize) -> Result<(Sender<T>, Receiver<T>), ZeroCapacity> {
    if cap == 0 {
        return Err(ZeroCapacity);
    }
    Ok(make(Some(cap), Location::caller()))
}

/// Creates an unbounded channel: `send` never waits.
///
/// ```
/// use corral::sync::mpmc;
/// let (tx, rx) = mpmc::unbounded();
/// tx.try_send("a").unwrap();
/// assert_eq!(rx.try_recv(), Ok("a"));
/// ```
#[track_caller]
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    make(None, Location::caller())
}

fn make<T>(max: Option<usize>, at: &'static Location<'static>) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        chan: Chan::new(max, at),
        receivers: AtomicUsize::new(1),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, stream: None },
    )
}

/// The sending half; clone it for more producers. The channel ends for the
/// receivers when the last sender is dropped (after they drained it).
///
/// ```
/// use corral::sync::mpmc;
/// let (tx, rx) = mpmc::unbounded();
/// let tx2 = tx.clone();
/// tx.try_send(1).unwrap();
/// tx2.try_send(2).unwrap();
/// assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(1), Ok(2)));
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving half; clone it for more consumers (each item goes to one
/// of them, first come first served). Also a `futures_core::Stream`.
///
/// ```
/// use corral::sync::mpmc;
/// let (tx, rx) = mpmc::unbounded();
/// let rx2 = rx.clone();
/// tx.try_send(1).unwrap();
/// tx.try_send(2).unwrap();
/// assert_eq!((rx2.try_recv(), rx.try_recv()), (Ok(1), Ok(2)));
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The node of the `Stream` impl's pending receive (boxed: a receiver
    /// moves; allocated at the first `poll_next` that waits).
    stream: Option<Pin<Box<WaitNode<Recv<T>>>>>,
}

/// A snapshot of an mpmc channel (AnyIO's memory-object-stream names).
///
/// ```
/// use corral::sync::mpmc;
/// let (tx, rx) = mpmc::bounded(4);
/// tx.try_send(1).unwrap();
/// let _rx2 = rx.clone();
/// let s = tx.statistics();
/// assert_eq!((s.current_buffer_used, s.max_buffer_size), (1, Some(4)));
/// assert_eq!((s.open_send_streams, s.open_receive_streams), (1, 2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelStatistics {
    /// Items buffered now.
    pub current_buffer_used: usize,
    /// The capacity; `None` for an unbounded channel.
    pub max_buffer_size: Option<usize>,
    /// Senders alive.
    pub open_send_streams: usize,
    /// Receivers alive.
    pub open_receive_streams: usize,
    /// Tasks and threads waiting to send.
    pub tasks_waiting_send: usize,
    /// Tasks and threads waiting to receive.
    pub tasks_waiting_receive: usize,
    /// Closed (by `close`, or every receiver gone).
    pub closed: bool,
    /// Where the channel was created.
    pub created_at: &'static Location<'static>,
}

impl<T> Shared<T> {
    fn statistics(&self) -> ChannelStatistics {
        let s = self.chan.snapshot();
        ChannelStatistics {
            current_buffer_used: s.buffered,
            max_buffer_size: self.chan.max(),
            open_send_streams: s.senders,
            open_receive_streams: self.receivers.load(Relaxed),
            tasks_waiting_send: s.senders_waiting,
            tasks_waiting_receive: s.receivers_waiting,
            closed: s.closed,
            created_at: self.chan.created_at,
        }
    }
}

/// Methods both halves have.
macro_rules! common_methods {
    ($Half:ident, $mk:literal, $me:literal) => {
        impl<T> $Half<T> {
            /// Closes the channel: later sends fail with their value,
            /// waiting senders wake with theirs; receivers drain what is
            /// buffered, then get `RecvError`. True if this call closed it.
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// tx.try_send(1).unwrap();
            #[doc = concat!("assert!(", $me, ".close());")]
            /// assert!(tx.try_send(2).is_err());
            /// assert_eq!(rx.try_recv(), Ok(1)); // still drains
            /// assert!(rx.try_recv().is_err());
            /// ```
            pub fn close(&self) -> bool {
                self.shared.chan.close(false)
            }

            /// True once the channel is closed, or every sender is gone.
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// rx.close();
            /// assert!(tx.is_closed() && rx.is_closed());
            /// # tx.try_send(0).unwrap_err();
            /// ```
            pub fn is_closed(&self) -> bool {
                self.shared.chan.rx_is_closed()
            }

            /// Items buffered now.
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// tx.try_send(1).unwrap();
            /// assert_eq!((tx.len(), rx.len()), (1, 1));
            /// ```
            pub fn len(&self) -> usize {
                self.shared.chan.len()
            }

            /// True if nothing is buffered.
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// assert!(rx.is_empty());
            /// # tx.try_send(0).unwrap();
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// True if a bounded channel has no free slot (never for an
            /// unbounded one).
            ///
            /// ```
            /// use corral::sync::mpmc;
            /// let (tx, _rx) = mpmc::bounded(1);
            /// tx.try_send(1).unwrap();
            /// assert!(tx.is_full());
            /// ```
            pub fn is_full(&self) -> bool {
                self.shared.chan.max().is_some() && self.shared.chan.free() == 0
            }

            /// The capacity; `None` for an unbounded channel.
            ///
            /// ```
            /// use corral::sync::mpmc;
            /// assert_eq!(mpmc::bounded::<u8>(3).0.capacity(), Some(3));
            /// assert_eq!(mpmc::unbounded::<u8>().1.capacity(), None);
            /// ```
            pub fn capacity(&self) -> Option<usize> {
                self.shared.chan.max()
            }

            /// Senders alive.
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// let _tx2 = tx.clone();
            /// assert_eq!(rx.sender_count(), 2);
            /// ```
            pub fn sender_count(&self) -> usize {
                self.shared.chan.tx_count()
            }

            /// Receivers alive.
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// let _rx2 = rx.clone();
            /// assert_eq!(tx.receiver_count(), 2);
            /// ```
            pub fn receiver_count(&self) -> usize {
                self.shared.receivers.load(Relaxed)
            }

            /// True if both handles belong to the same channel.
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// assert!(tx.same_channel(&tx.clone()) && rx.same_channel(&rx.clone()));
            /// ```
            pub fn same_channel(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.shared, &other.shared)
            }

            /// A snapshot of the channel.
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// assert_eq!(rx.statistics().current_buffer_used, 0);
            /// # drop(tx);
            /// ```
            pub fn statistics(&self) -> ChannelStatistics {
                self.shared.statistics()
            }

            /// Where the channel was created (`#[track_caller]` on its
            /// constructor).
            ///
            /// ```
            /// use corral::sync::mpmc;
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            /// assert!(rx.created_at().file().ends_with(".rs"));
            /// # drop(tx);
            /// ```
            pub fn created_at(&self) -> &'static Location<'static> {
                self.shared.chan.created_at
            }
        }
    };
}

common_methods!(Sender, "mpmc::bounded::<u8>(4)", "tx");
common_methods!(Receiver, "mpmc::bounded::<u8>(4)", "rx");

impl<T> Sender<T> {
    /// Sends `value`, waiting while a bounded channel is full;
    /// `Err(SendError(value))` if the channel is closed (before or while
    /// waiting).
    ///
    /// # Cancel safety
    ///
    /// Nothing is lost, but a dropped `send` may have sent: a send that had
    /// to wait gives its value to the channel, and the receive that frees a
    /// slot pushes it (or hands it to a waiting receiver) and completes the
    /// send before the sender runs again; dropped after that, the value
    /// **was** sent and is received once. Dropped before that, the value
    /// was not sent (it drops with the future) and its place among the
    /// waiting senders is given up.
    ///
    /// ```
    /// use corral::sync::mpmc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = mpmc::bounded(1);
    /// tx.send(1).await.unwrap();
    /// let waiting = corral::spawn(async move { tx.send(2).await }); // full: waits
    /// assert_eq!(rx.recv().await, Ok(1));
    /// assert!(waiting.await.unwrap().is_ok());
    /// assert_eq!(rx.recv().await, Ok(2));
    /// # });
    /// ```
    // An `async fn` in all but name: the future is returned directly, so
    // that its poll inlines into the caller's (unbounded: it never waits).
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        SendFuture::new(&self.shared.chan, value)
    }

    /// Sends without waiting: `Full(value)` if a bounded channel has no
    /// free slot (or senders wait first), `Closed(value)` if closed.
    ///
    /// ```
    /// use corral::sync::mpmc::{self, error::TrySendError};
    /// let (tx, rx) = mpmc::bounded(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let chan = &self.shared.chan;
        if chan.max().is_none() {
            return chan.send_unbounded(value).map_err(TrySendError::Closed);
        }
        match chan.try_reserve(Some(value)) {
            Ok(()) => Ok(()),
            Err((TryErr::Full, v)) => Err(TrySendError::Full(v.expect("value handed back"))),
            Err((TryErr::Closed, v)) => Err(TrySendError::Closed(v.expect("value handed back"))),
        }
    }

    /// Blocks this (non-runtime) thread until the value is sent, or the
    /// channel closes (the value comes back).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (`.await`
    /// [`send`](Self::send) there).
    ///
    /// ```
    /// use corral::sync::mpmc;
    /// let (tx, rx) = mpmc::bounded(1);
    /// let t = std::thread::spawn(move || (0..3).for_each(|i| tx.blocking_send(i).unwrap()));
    /// let got: Vec<i32> = std::iter::from_fn(|| rx.blocking_recv().ok()).collect();
    /// t.join().unwrap();
    /// assert_eq!(got, [0, 1, 2]);
    /// ```
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        self.blocking_send_until(value, None, "mpmc::Sender::blocking_send")
            .map_err(|e| SendError(e.into_inner()))
    }

    /// As [`blocking_send`](Self::blocking_send), giving up after
    /// `timeout` (the value comes back). A slot granted as the timeout
    /// fires is used: the value is sent.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime.
    ///
    /// ```
    /// use corral::sync::mpmc::{self, error::SendTimeoutError};
    /// use std::time::Duration;
    /// let (tx, _rx) = mpmc::bounded(1);
    /// tx.blocking_send_timeout(1, Duration::from_secs(1)).unwrap();
    /// assert_eq!(tx.blocking_send_timeout(2, Duration::from_millis(1)), Err(SendTimeoutError::Timeout(2)));
    /// ```
    #[track_caller]
    pub fn blocking_send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.blocking_send_until(value, deadline, "mpmc::Sender::blocking_send_timeout")
    }

    #[track_caller]
    fn blocking_send_until(
        &self,
        value: T,
        deadline: Option<Instant>,
        what: &str,
    ) -> Result<(), SendTimeoutError<T>> {
        let chan = &self.shared.chan;
        if chan.max().is_none() {
            corral_runtime::wait::assert_may_block(what);
            return chan.send_unbounded(value).map_err(SendTimeoutError::Closed);
        }
        match chan.blocking_send(value, deadline, what) {
            Ok(()) => Ok(()),
            Err((Blocked::Closed, v)) => Err(SendTimeoutError::Closed(v)),
            Err((Blocked::Timeout, v)) => Err(SendTimeoutError::Timeout(v)),
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.chan.tx_inc();
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.chan.tx_dec();
    }
}

/// The waiter future of `recv`: a node in the channel's receiver list,
/// built in place only when the receive must wait (a receive that finds
/// an item neither builds nor tears one down).
struct RecvFuture<'a, T> {
    chan: &'a Chan<T>,
    /// `ManuallyDrop` so that a future that never waited drops inline
    /// (`Drop` drops it, after cancelling it).
    node: ManuallyDrop<Option<WaitNode<Recv<T>>>>,
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        // SAFETY: `node` is structurally pinned (written in place once,
        // never moved out).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let node = unsafe { Pin::new_unchecked(&mut *this.node) };
        // SAFETY: the node only queues in this channel's list, and `Drop`
        // below cancels it before it is freed.
        unsafe { this.chan.poll_recv_lazy(node, cx) }.map(|got| got.ok_or(RecvError))
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(node) = &*self.node {
            // SAFETY: pinned (drop runs in place); the reference does not
            // move the node, which only ever queues in this channel.
            unsafe { self.chan.cancel_recv(Pin::new_unchecked(node)) };
            // SAFETY: dropped once, here (the field is never used after),
            // in place; cancelled above, so in no list.
            unsafe { ManuallyDrop::drop(&mut self.node) };
        }
    }
}

impl<T> Receiver<T> {
    /// Receives the next item, waiting while the channel is empty;
    /// `Err(RecvError)` once it is empty and no item can come any more.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an item handed to a `recv` that is then dropped goes to
    /// the next waiting receiver, or back to the head of the queue; nothing
    /// is lost and the order is kept.
    ///
    /// ```
    /// use corral::sync::mpmc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = mpmc::unbounded();
    /// corral::spawn(async move { tx.send("hi").await.unwrap() });
    /// assert_eq!(rx.recv().await, Ok("hi"));
    /// assert!(rx.recv().await.is_err()); // the sender is gone
    /// # });
    /// ```
    // An `async fn` in all but name: the future is returned directly, so
    // that its poll inlines into the caller's.
    pub fn recv(&self) -> impl Future<Output = Result<T, RecvError>> + '_ {
        RecvFuture {
            chan: &self.shared.chan,
            node: ManuallyDrop::new(None),
        }
    }

    /// Receives an item without waiting: `Empty`, or `Disconnected` once
    /// the channel is empty and no item can come.
    ///
    /// ```
    /// use corral::sync::mpmc::{self, error::TryRecvError};
    /// let (tx, rx) = mpmc::unbounded();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.shared.chan.try_recv().map_err(|finished| {
            if finished {
                TryRecvError::Disconnected
            } else {
                TryRecvError::Empty
            }
        })
    }

    /// Blocks this (non-runtime) thread until an item comes;
    /// `Err(RecvError)` once the channel has ended.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (`.await`
    /// [`recv`](Self::recv) there).
    ///
    /// ```
    /// use corral::sync::mpmc;
    /// let (tx, rx) = mpmc::bounded(1);
    /// std::thread::spawn(move || tx.blocking_send(5).unwrap());
    /// assert_eq!(rx.blocking_recv(), Ok(5));
    /// ```
    #[track_caller]
    pub fn blocking_recv(&self) -> Result<T, RecvError> {
        match self
            .shared
            .chan
            .blocking_recv(None, "mpmc::Receiver::blocking_recv")
        {
            Ok(Some(v)) => Ok(v),
            _ => Err(RecvError),
        }
    }

    /// As [`blocking_recv`](Self::blocking_recv), giving up after
    /// `timeout`. An item handed over as the timeout fires is returned:
    /// never lost.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime.
    ///
    /// ```
    /// use corral::sync::mpmc::{self, error::RecvTimeoutError};
    /// use std::time::Duration;
    /// let (tx, rx) = mpmc::unbounded::<u8>();
    /// assert_eq!(rx.blocking_recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// drop(tx);
    /// assert_eq!(rx.blocking_recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Disconnected));
    /// ```
    #[track_caller]
    pub fn blocking_recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        match self
            .shared
            .chan
            .blocking_recv(deadline, "mpmc::Receiver::blocking_recv_timeout")
        {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(RecvTimeoutError::Disconnected),
            Err(_) => Err(RecvTimeoutError::Timeout),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        // Relaxed: a new handle from an existing one (as Arc::clone).
        self.shared.receivers.fetch_add(1, Relaxed);
        Receiver {
            shared: self.shared.clone(),
            stream: None,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(node) = &self.stream {
            // SAFETY: the stream node only ever queues in this channel.
            unsafe { self.shared.chan.cancel_recv(node.as_ref()) };
        }
        // AcqRel: the last receiver sees the others' work before closing.
        if self.shared.receivers.fetch_sub(1, AcqRel) == 1 {
            self.shared.chan.close(true);
        }
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let node = this
            .stream
            .get_or_insert_with(|| Box::pin(WaitNode::new(Recv::Waiting)));
        // SAFETY: the node only queues in this channel's list; `Drop`
        // cancels it before the box is freed.
        unsafe { this.shared.chan.poll_recv_node(node.as_mut(), cx) }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpmc::Sender")
            .field("statistics", &self.statistics())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpmc::Receiver")
            .field("statistics", &self.statistics())
            .finish()
    }
}
