//! Multi-producer, single-consumer channels, bounded ([`channel`]) and
//! unbounded ([`unbounded_channel`]), in tokio's shapes: code moving from
//! `tokio::sync::mpsc` changes only the path.
//!
//! ```
//! use corral::sync::mpsc;
//! # corral::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx) = mpsc::channel(16);
//! for id in 0..3 {
//!     let tx = tx.clone();
//!     corral::spawn(async move {
//!         tx.send(id).await.unwrap();
//!     });
//! }
//! drop(tx); // the channel ends when the last sender is gone
//! let mut got = Vec::new();
//! while let Some(v) = rx.recv().await {
//!     got.push(v);
//! }
//! got.sort();
//! assert_eq!(got, [0, 1, 2]);
//! # });
//! ```
//!
//! # Semantics (and the choices made)
//!
//! - **Backpressure, FIFO among senders.** A bounded channel holds at most
//!   `capacity` items. A full channel makes `send().await` wait; waiting
//!   senders get slots first come, first served, each freed slot handed
//!   straight to the first of them (no barging: a later `try_send` cannot
//!   take it). Items are received in the order their sends completed.
//! - **Permits.** [`Sender::reserve`] waits for a slot and returns a
//!   [`Permit`] whose `send` cannot fail; dropping it unused gives the slot
//!   back (to the next waiting sender). [`Sender::reserve_owned`] returns an
//!   [`OwnedPermit`] that owns its sender.
//! - **Closing.** [`Receiver::close`] (or dropping the receiver) makes every
//!   waiting and later send fail, handing its value back
//!   ([`SendError`](error::SendError)); items already buffered (and items of
//!   permits reserved before the close) can still be received, then `recv`
//!   returns `None`. Dropping every sender ends the channel the same way.
//! - **Nothing lost on cancellation.** A `send().await` dropped while it
//!   waits gives up its place and its item is dropped, never sent (tokio's
//!   rule: a cancelled send did not send), unless the receive that freed
//!   a slot for it had already pushed its item (a waiting send's item is
//!   moved into the channel by that receive, which completes the send):
//!   then it has sent, and the item is received once. A `reserve` dropped
//!   after a slot was granted to it passes the slot to the next waiting
//!   sender. A cancelled `recv().await` takes no item.
//! - **Capacity 0** is refused: [`channel`] panics (as tokio's does) and
//!   [`try_channel`] returns [`ZeroCapacity`](error::ZeroCapacity). A
//!   rendezvous channel is `corral::sync::Queue`'s `with_maxsize(0)`.
//! - **Plain threads and other executors.** Every async method works under
//!   any executor; `blocking_send` / `blocking_recv` (and `_timeout`
//!   variants) serve plain threads and panic on a runtime thread.
//!
//! # Internals
//!
//! One allocation per channel (the private `chan` module, shared with
//! [`mpmc`](crate::mpmc)): a `VecDeque` of items, the free-slot count, a
//! [`WaitList`](corral_runtime::wait::WaitList) of waiting senders, the
//! receiver's waker and a `WaitList` of blocked receiving threads (handed
//! their item directly), under one short lock; a send with a free slot is
//! one lock, a receive another, and a send that had to wait is completed
//! by the receive that frees its slot (which pushes its item). `blocking_*` queue the thread itself in
//! those lists and park (the wait hook's thread waiters), as the locks'
//! blocking methods do. The `chan` module's docs give the protocol.

pub(crate) mod blocks;
mod bounded;
pub(crate) mod chan;
pub mod error;
mod lock;
mod unbounded;

pub use bounded::{channel, try_channel, OwnedPermit, Permit, Receiver, Sender, WeakSender};
pub use unbounded::{unbounded_channel, UnboundedReceiver, UnboundedSender, WeakUnboundedSender};

use std::panic::Location;

/// A snapshot of an mpsc channel, from `statistics()` on any of its
/// handles (AnyIO's memory-object-stream names).
///
/// ```
/// use corral::sync::mpsc;
/// let (tx, rx) = mpsc::channel(4);
/// tx.try_send(1).unwrap();
/// let s = rx.statistics();
/// assert_eq!((s.current_buffer_used, s.max_buffer_size, s.open_send_streams), (1, Some(4), 1));
/// assert_eq!((s.tasks_waiting_send, s.tasks_waiting_receive, s.closed), (0, 0, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelStatistics {
    /// Items buffered now.
    pub current_buffer_used: usize,
    /// The capacity; `None` for an unbounded channel.
    pub max_buffer_size: Option<usize>,
    /// Strong senders alive (weak ones do not count).
    pub open_send_streams: usize,
    /// Tasks and threads waiting in `send` / `reserve` for a slot.
    pub tasks_waiting_send: usize,
    /// 1 if the receiver waits on an empty channel, else 0.
    pub tasks_waiting_receive: usize,
    /// The receiver closed the channel (or was dropped).
    pub closed: bool,
    /// Where the channel was created.
    pub created_at: &'static Location<'static>,
}

impl<T> chan::Chan<T> {
    pub(crate) fn statistics(&self) -> ChannelStatistics {
        let s = self.snapshot();
        ChannelStatistics {
            current_buffer_used: s.buffered,
            max_buffer_size: self.max(),
            open_send_streams: s.senders,
            tasks_waiting_send: s.senders_waiting,
            tasks_waiting_receive: s.receivers_waiting,
            closed: s.closed,
            created_at: self.created_at,
        }
    }
}

/// The receiving half's methods, the same for both flavours; `$mk` is the
/// constructor used in the examples.
macro_rules! receiver_methods {
    ($Rx:ident, $mk:literal, $mk_u8:literal, $aw:literal, $bsend:literal) => {
        impl<T> $Rx<T> {
            /// Receives the next item, waiting while the channel is empty;
            /// `None` once it is empty and no item can come any more (every
            /// sender dropped, or the channel closed and drained).
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: an item leaves the channel only in the poll that
            /// returns it, so a dropped `recv` (e.g. the losing branch of a
            /// `select!`) loses nothing.
            ///
            /// ```
            /// use corral::sync::mpsc;
            /// # corral::Runtime::new().unwrap().block_on(async {
            #[doc = concat!("let (tx, mut rx) = ", $mk, ";")]
            #[doc = concat!("corral::spawn(async move { tx.send(\"hi\")", $aw, ".unwrap() });")]
            /// assert_eq!(rx.recv().await, Some("hi"));
            /// assert_eq!(rx.recv().await, None); // the sender is gone
            /// # });
            /// ```
            // An `async fn` in all but name: the future is returned
            // directly, so that its poll inlines into the caller's.
            pub fn recv(&mut self) -> impl std::future::Future<Output = Option<T>> + '_ {
                crate::mpsc::chan::RecvFuture::new(&self.chan)
            }

            /// The poll behind [`recv`](Self::recv), for hand-written futures
            /// and streams: Ready(Some) with an item, Ready(None) at the end,
            /// Pending (with `cx`'s waker recorded) otherwise.
            ///
            /// ```
            /// use corral::sync::mpsc;
            /// use std::task::{Context, Poll, Waker};
            #[doc = concat!("let (tx, mut rx) = ", $mk_u8, ";")]
            /// let mut cx = Context::from_waker(Waker::noop());
            /// assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
            /// drop(tx);
            /// assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
            /// ```
            pub fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
                self.chan.poll_recv(cx)
            }

            /// Receives up to `limit` items at once into `buffer` (appended),
            /// waiting while the channel is empty; returns how many. `0` only
            /// when `limit` is 0 or the channel has ended.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe, as [`recv`](Self::recv): items move into `buffer`
            /// only in the poll that returns.
            ///
            /// ```
            /// use corral::sync::mpsc;
            /// # corral::Runtime::new().unwrap().block_on(async {
            #[doc = concat!("let (tx, mut rx) = ", $mk, ";")]
            /// for i in 0..5 {
            #[doc = concat!("    tx.send(i)", $aw, ".unwrap();")]
            /// }
            /// let mut buf = Vec::new();
            /// assert_eq!(rx.recv_many(&mut buf, 3).await, 3);
            /// assert_eq!(buf, [0, 1, 2]);
            /// # });
            /// ```
            pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
                std::future::poll_fn(|cx| self.chan.poll_recv_many(cx, buffer, limit)).await
            }

            /// The poll behind [`recv_many`](Self::recv_many).
            ///
            /// ```
            /// use corral::sync::mpsc;
            /// use std::task::{Context, Poll, Waker};
            #[doc = concat!("let (tx, mut rx) = ", $mk_u8, ";")]
            /// let mut buf = Vec::new();
            /// let mut cx = Context::from_waker(Waker::noop());
            /// assert_eq!(rx.poll_recv_many(&mut cx, &mut buf, 4), Poll::Pending);
            /// drop(tx);
            /// assert_eq!(rx.poll_recv_many(&mut cx, &mut buf, 4), Poll::Ready(0));
            /// ```
            pub fn poll_recv_many(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buffer: &mut Vec<T>,
                limit: usize,
            ) -> std::task::Poll<usize> {
                self.chan.poll_recv_many(cx, buffer, limit)
            }

            /// Receives an item without waiting.
            ///
            /// ```
            /// use corral::sync::mpsc::{self, error::TryRecvError};
            /// # corral::Runtime::new().unwrap().block_on(async {
            #[doc = concat!("let (tx, mut rx) = ", $mk, ";")]
            /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            #[doc = concat!("tx.send(1)", $aw, ".unwrap();")]
            /// assert_eq!(rx.try_recv(), Ok(1));
            /// drop(tx);
            /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            /// # });
            /// ```
            pub fn try_recv(&mut self) -> Result<T, $crate::mpsc::error::TryRecvError> {
                self.chan.try_recv().map_err(|finished| {
                    if finished {
                        $crate::mpsc::error::TryRecvError::Disconnected
                    } else {
                        $crate::mpsc::error::TryRecvError::Empty
                    }
                })
            }

            /// Blocks this (non-runtime) thread until an item comes; `None`
            /// once the channel has ended.
            ///
            /// # Panics
            ///
            /// On a thread that drives a corral runtime (`.await` [`recv`](Self::recv) there).
            ///
            /// ```
            /// use corral::sync::mpsc;
            #[doc = concat!("let (tx, mut rx) = ", $mk, ";")]
            #[doc = concat!("std::thread::spawn(move || tx.", $bsend, "(5).unwrap());")]
            /// assert_eq!(rx.blocking_recv(), Some(5));
            /// ```
            #[track_caller]
            pub fn blocking_recv(&mut self) -> Option<T> {
                self.chan
                    .blocking_recv(None, concat!("mpsc::", stringify!($Rx), "::blocking_recv"))
                    .unwrap_or(None)
            }

            /// As [`blocking_recv`](Self::blocking_recv), giving up after
            /// `timeout`. An item that arrives as the timeout fires is
            /// returned, or stays in the channel: never lost.
            ///
            /// # Panics
            ///
            /// On a thread that drives a corral runtime.
            ///
            /// ```
            /// use corral::sync::mpsc::{self, error::RecvTimeoutError};
            /// use std::time::Duration;
            #[doc = concat!("let (tx, mut rx) = ", $mk_u8, ";")]
            /// assert_eq!(rx.blocking_recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
            /// drop(tx);
            /// assert_eq!(rx.blocking_recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Disconnected));
            /// ```
            #[track_caller]
            pub fn blocking_recv_timeout(
                &mut self,
                timeout: std::time::Duration,
            ) -> Result<T, $crate::mpsc::error::RecvTimeoutError> {
                let deadline = std::time::Instant::now().checked_add(timeout);
                match self.chan.blocking_recv(
                    deadline,
                    concat!("mpsc::", stringify!($Rx), "::blocking_recv_timeout"),
                ) {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => Err($crate::mpsc::error::RecvTimeoutError::Disconnected),
                    Err(_) => Err($crate::mpsc::error::RecvTimeoutError::Timeout),
                }
            }

            /// Closes the channel from the receiving side: waiting and later
            /// sends fail and hand their value back; what is buffered can
            /// still be received.
            ///
            /// ```
            /// use corral::sync::mpsc;
            /// # corral::Runtime::new().unwrap().block_on(async {
            #[doc = concat!("let (tx, mut rx) = ", $mk, ";")]
            #[doc = concat!("tx.send(1)", $aw, ".unwrap();")]
            /// rx.close();
            #[doc = concat!("assert!(tx.send(2)", $aw, ".is_err());")]
            /// assert_eq!(rx.recv().await, Some(1)); // still drains
            /// assert_eq!(rx.recv().await, None);
            /// # });
            /// ```
            pub fn close(&mut self) {
                self.chan.close(false);
            }

            /// True once the channel is closed by the receiver or every
            /// sender is gone (items may still be buffered).
            ///
            /// ```
            /// use corral::sync::mpsc;
            #[doc = concat!("let (tx, rx) = ", $mk_u8, ";")]
            /// assert!(!rx.is_closed());
            /// drop(tx);
            /// assert!(rx.is_closed());
            /// ```
            pub fn is_closed(&self) -> bool {
                self.chan.rx_is_closed()
            }

            /// True if nothing is buffered.
            ///
            /// ```
            /// use corral::sync::mpsc;
            #[doc = concat!("let (_tx, rx) = ", $mk_u8, ";")]
            /// assert!(rx.is_empty());
            /// ```
            pub fn is_empty(&self) -> bool {
                self.chan.len() == 0
            }

            /// Number of items buffered.
            ///
            /// ```
            /// use corral::sync::mpsc;
            /// # corral::Runtime::new().unwrap().block_on(async {
            #[doc = concat!("let (tx, rx) = ", $mk, ";")]
            #[doc = concat!("tx.send(())", $aw, ".unwrap();")]
            /// assert_eq!(rx.len(), 1);
            /// # });
            /// ```
            pub fn len(&self) -> usize {
                self.chan.len()
            }

            /// Number of strong senders alive.
            ///
            /// ```
            /// use corral::sync::mpsc;
            #[doc = concat!("let (tx, rx) = ", $mk_u8, ";")]
            /// let _tx2 = tx.clone();
            /// assert_eq!(rx.sender_strong_count(), 2);
            /// ```
            pub fn sender_strong_count(&self) -> usize {
                self.chan.tx_count()
            }

            /// A snapshot of the channel.
            ///
            /// ```
            /// use corral::sync::mpsc;
            #[doc = concat!("let (_tx, rx) = ", $mk_u8, ";")]
            /// assert_eq!(rx.statistics().current_buffer_used, 0);
            /// ```
            pub fn statistics(&self) -> $crate::mpsc::ChannelStatistics {
                self.chan.statistics()
            }

            /// Where the channel was created (`#[track_caller]` on its
            /// constructor).
            ///
            /// ```
            /// use corral::sync::mpsc;
            #[doc = concat!("let (_tx, rx) = ", $mk_u8, ";")]
            /// assert!(rx.created_at().file().ends_with(".rs"));
            /// ```
            pub fn created_at(&self) -> &'static std::panic::Location<'static> {
                self.chan.created_at
            }
        }

        impl<T> futures_core::Stream for $Rx<T> {
            type Item = T;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<T>> {
                self.get_mut().chan.poll_recv(cx)
            }
        }

        impl<T> Drop for $Rx<T> {
            fn drop(&mut self) {
                self.chan.close(true);
            }
        }

        impl<T> std::fmt::Debug for $Rx<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(concat!("mpsc::", stringify!($Rx)))
                    .field("statistics", &self.statistics())
                    .finish()
            }
        }
    };
}

use receiver_methods;

/// The sending half's methods that do not depend on the flavour
/// (closing, identity, weak handles, counts, statistics), and its
/// `Clone` / `Drop` / `Debug`; `$mk_u8` is the constructor of the examples.
macro_rules! sender_methods {
    ($Tx:ident, $Weak:ident, $mk_u8:literal) => {
        impl<T> $Tx<T> {
            /// Waits until the receiver closes the channel or is dropped (e.g. to
            /// stop producing for nobody).
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: nothing is handed to the waiter, so a dropped future
            /// loses nothing; call again.
            ///
            /// ```
            /// # corral::Runtime::new().unwrap().block_on(async {
            #[doc = concat!("let (tx, rx) = ", $mk_u8, ";")]
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
            #[doc = concat!("let (tx, rx) = ", $mk_u8, ";")]
            /// drop(rx);
            /// assert!(tx.is_closed());
            /// ```
            pub fn is_closed(&self) -> bool {
                self.chan.is_closed()
            }

            /// True if both senders feed the same channel.
            ///
            /// ```
            #[doc = concat!("let (tx, _rx) = ", $mk_u8, ";")]
            /// assert!(tx.same_channel(&tx.clone()));
            /// ```
            pub fn same_channel(&self, other: &Self) -> bool {
                $crate::loom::Arc::ptr_eq(&self.chan, &other.chan)
            }

            #[doc = concat!("A [`", stringify!($Weak), "`] for the same channel.")]
            ///
            /// ```
            #[doc = concat!("let (tx, _rx) = ", $mk_u8, ";")]
            /// assert!(tx.downgrade().upgrade().is_some());
            /// ```
            pub fn downgrade(&self) -> $Weak<T> {
                $Weak {
                    chan: self.chan.clone(),
                }
            }

            /// Number of strong senders alive.
            ///
            /// ```
            #[doc = concat!("let (tx, _rx) = ", $mk_u8, ";")]
            /// assert_eq!(tx.strong_count(), 1);
            /// ```
            pub fn strong_count(&self) -> usize {
                self.chan.tx_count()
            }

            /// A snapshot of the channel.
            ///
            /// ```
            #[doc = concat!("let (tx, _rx) = ", $mk_u8, ";")]
            /// assert_eq!(tx.statistics().open_send_streams, 1);
            /// ```
            pub fn statistics(&self) -> $crate::mpsc::ChannelStatistics {
                self.chan.statistics()
            }
        }

        impl<T> Clone for $Tx<T> {
            fn clone(&self) -> Self {
                self.chan.tx_inc();
                $Tx {
                    chan: self.chan.clone(),
                }
            }
        }

        impl<T> Drop for $Tx<T> {
            fn drop(&mut self) {
                self.chan.tx_dec();
            }
        }

        impl<T> $Weak<T> {
            #[doc = concat!("A [`", stringify!($Tx), "`], if any strong sender is still alive.")]
            ///
            /// ```
            #[doc = concat!("let (tx, _rx) = ", $mk_u8, ";")]
            /// assert!(tx.downgrade().upgrade().is_some());
            /// ```
            pub fn upgrade(&self) -> Option<$Tx<T>> {
                self.chan.tx_upgrade().then(|| $Tx {
                    chan: self.chan.clone(),
                })
            }
        }

        impl<T> Clone for $Weak<T> {
            fn clone(&self) -> Self {
                $Weak {
                    chan: self.chan.clone(),
                }
            }
        }

        impl<T> std::fmt::Debug for $Tx<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(concat!("mpsc::", stringify!($Tx)))
                    .field("statistics", &self.statistics())
                    .finish()
            }
        }

        impl<T> std::fmt::Debug for $Weak<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(concat!("mpsc::", stringify!($Weak)))
                    .finish_non_exhaustive()
            }
        }
    };
}

use sender_methods;
