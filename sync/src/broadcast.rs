//! A multi-producer, multi-consumer broadcast channel in tokio's shape:
//! every value sent is seen by every receiver that existed when it was
//! sent. Code moving from `tokio::sync::broadcast` changes only the path.
//!
//! ```
//! use corral::sync::broadcast;
//! # corral::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx1) = broadcast::channel(16);
//! let mut rx2 = tx.subscribe();
//! let a = corral::spawn(async move { (rx1.recv().await.unwrap(), rx1.recv().await.unwrap()) });
//! let b = corral::spawn(async move { (rx2.recv().await.unwrap(), rx2.recv().await.unwrap()) });
//! tx.send("hello").unwrap();
//! tx.send("world").unwrap();
//! assert_eq!(a.await.unwrap(), ("hello", "world"));
//! assert_eq!(b.await.unwrap(), ("hello", "world"));
//! # });
//! ```
//!
//! # Semantics (and the choices made)
//!
//! - **A ring of `capacity` values.** [`Sender::send`] never waits: it
//!   writes the value into the next slot of the ring, overwriting the
//!   oldest value, and wakes every receiver waiting for it. Each receiver
//!   has its own cursor and receives clones (`T: Clone`), in send order.
//!   The capacity is exact (tokio rounds it up to a power of two).
//! - **Lagging.** A receiver that falls more than `capacity` values behind
//!   gets [`RecvError::Lagged(n)`](error::RecvError::Lagged) once, with `n`
//!   the number of values it missed, and then carries on from the oldest
//!   value still held. A lagging receiver never slows the sender down.
//! - **Who sees a value.** A receiver sees the values sent after it was
//!   created ([`Sender::subscribe`], [`Receiver::resubscribe`]: both start
//!   at the next value sent); `send` returns how many receivers that is.
//! - **Closing.** When every [`Sender`] is dropped, receivers first drain
//!   what they have not read, then get [`RecvError::Closed`]. When every
//!   [`Receiver`] is dropped, `send` fails and hands the value back
//!   ([`SendError`]), and [`Sender::closed`] completes.
//! - **Memory.** A slot's value is dropped as soon as every receiver
//!   counted when it was sent has read it (or dropped), or when it is
//!   overwritten, whichever comes first.
//! - **Nothing lost on cancellation.** A receiver's cursor moves only in
//!   the poll that returns a value (or a `Lagged`), so a dropped
//!   `recv().await` (e.g. the losing branch of a `select!`) loses nothing.
//! - **Capacity 0** is refused: [`channel`] panics (as tokio's does) and
//!   [`try_channel`] returns [`CapacityError`].
//! - **Plain threads and other executors.** `recv` works under any
//!   executor; [`Receiver::blocking_recv`] and
//!   [`blocking_recv_timeout`](Receiver::blocking_recv_timeout) serve plain
//!   threads (and panic on a runtime thread). `send` never blocks.
//! - **`T: Send + Sync`** for the handles to cross threads: receivers on
//!   several threads clone the same value at the same time.
//!
//! # Internals
//!
//! One allocation for the ring and the shared state. Each slot is a small
//! reader-writer lock around `{ pos, rem, value }`: `pos` is the sequence
//! number of the value it holds, `rem` how many receivers have yet to read
//! it. The *tail* (the next position, the receiver count, the closed flag
//! and the [`WaitList`] of waiting receivers) is under one short lock.
//!
//! - `send`: lock the tail, write-lock the slot at `pos % capacity`, store
//!   the value with `rem = receivers`, advance the tail, then wake every
//!   waiting receiver with one [`WakeBatch`] (chunks of
//!   [`WakeBatch::CAPACITY`]) after unlocking. The overwritten value is
//!   dropped after both locks.
//! - `recv` fast path: read-lock the slot at the cursor; if it holds the
//!   cursor's position, clone the value, advance the cursor, and decrement
//!   `rem` (the receiver that brings it to 0 takes the value out and drops
//!   it after the read lock). No tail lock.
//! - `recv` slow path: the slot holds another position. Under the tail
//!   lock (which orders every send) look again: one lap behind means
//!   nothing new (queue the waiter's node, or report `Closed`); ahead
//!   means overwritten (`Lagged`: jump to `tail - capacity`).
//! - Lock order: tail, then a slot. The fast path takes a slot only.
//! - A dropped receiver releases (decrements `rem` of) every value counted
//!   for it and not yet read, so those values are freed on time.
//! - A waiter's node lives inside its `recv` future; a cancelled one is
//!   unlinked under the tail lock. A wake hands nothing over (each receiver
//!   has its own cursor), so there is nothing to pass on.

pub mod error;

use crate::loom::{Arc, AtomicUsize, Lock, Ordering::*, UnsafeCell};
use corral_runtime::wait::{WaitList, WaitNode, WakeBatch};
use error::{CapacityError, Lagged, RecvError, RecvTimeoutError, SendError, TryRecvError};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// The slot lock: parking_lot's RwLock, or loom's under `--cfg loom`.

#[cfg(not(loom))]
mod slot_lock {
    pub(super) type RwLock<T> = parking_lot::RwLock<T>;
    pub(super) type ReadGuard<'a, T> = parking_lot::RwLockReadGuard<'a, T>;

    pub(super) fn read<T>(l: &RwLock<T>) -> ReadGuard<'_, T> {
        l.read()
    }
    pub(super) fn write<T>(l: &RwLock<T>) -> parking_lot::RwLockWriteGuard<'_, T> {
        l.write()
    }
}

#[cfg(loom)]
mod slot_lock {
    pub(super) type RwLock<T> = loom::sync::RwLock<T>;
    pub(super) type ReadGuard<'a, T> = loom::sync::RwLockReadGuard<'a, T>;

    pub(super) fn read<T>(l: &RwLock<T>) -> ReadGuard<'_, T> {
        l.read().unwrap()
    }
    pub(super) fn write<T>(l: &RwLock<T>) -> loom::sync::RwLockWriteGuard<'_, T> {
        l.write().unwrap()
    }
}

use slot_lock::{ReadGuard, RwLock};

/// One slot of the ring, under its own `RwLock`.
struct Slot<T> {
    /// The position of the value held (or, before the first lap, the
    /// slot's index minus the capacity: "one lap behind"). Written under
    /// the write lock (with the tail lock held).
    pos: u64,
    /// Receivers that have yet to read this value. Set under the write
    /// lock; decremented under a read lock by each reader.
    rem: AtomicUsize,
    /// The value. Written under the write lock; read (cloned) under a read
    /// lock; taken under a read lock only by the reader that brought `rem`
    /// to 0, when no other receiver will read this position any more.
    val: UnsafeCell<Option<T>>,
}

/// The tail: everything a send changes, under one lock.
struct Tail {
    /// The position of the next value sent.
    pos: u64,
    /// Receivers alive.
    rx_cnt: usize,
    /// Every sender is gone.
    closed: bool,
    /// Receivers waiting for the value at `pos`.
    waiters: WaitList<()>,
    /// Senders waiting in `closed()` for the last receiver to go.
    closed_watchers: WaitList<()>,
}

struct Shared<T> {
    buffer: Box<[RwLock<Slot<T>>]>,
    /// `capacity - 1` when the capacity is a power of two, else `u64::MAX`
    /// (then the index is `pos % capacity`).
    mask: u64,
    cap: u64,
    tail: Lock<Tail>,
    /// Strong senders. The last one to leave closes the channel.
    num_tx: AtomicUsize,
    created_at: &'static Location<'static>,
}

// SAFETY: the values in the slots move between threads (sent on one,
// cloned and dropped on others): `T: Send`. Receivers on several threads
// read (clone from `&T`) the same value at once: `T: Sync`. Every access
// to a slot's cell follows the slot's lock protocol (module docs).
unsafe impl<T: Send + Sync> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    #[inline]
    fn index(&self, pos: u64) -> usize {
        if self.mask != u64::MAX {
            (pos & self.mask) as usize
        } else {
            (pos % self.cap) as usize
        }
    }

    /// Values in the ring that some receiver has yet to read.
    ///
    /// The unread positions are a suffix of the ring: a receiver whose
    /// cursor is at `p` is counted for every position from `p` (or its
    /// subscription) up to the tail, so if `p` is unread, so is every
    /// later one. A binary search finds where the suffix starts, in
    /// O(log capacity) slot reads under the tail lock (a value stranded by
    /// a panicking `Clone` can only make the answer larger).
    fn held(&self, tail: &Tail) -> usize {
        let unread = |pos: u64| {
            let slot = slot_lock::read(&self.buffer[self.index(pos)]);
            slot.pos == pos && slot.rem.load(Acquire) > 0
        };
        let (mut lo, mut hi) = (tail.pos.saturating_sub(self.cap), tail.pos);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if unread(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        (tail.pos - lo) as usize
    }

    fn subscribe(this: &Arc<Self>) -> Receiver<T> {
        let mut tail = this.tail.lock();
        tail.rx_cnt = tail.rx_cnt.checked_add(1).expect("receiver count overflow");
        let next = tail.pos;
        drop(tail);
        Receiver {
            cur: Cursor {
                shared: this.clone(),
                next,
            },
            stream_node: None,
        }
    }

    /// Removes a waiting receiver's node (a `recv` dropped while waiting,
    /// or completed while still queued after a spurious poll).
    ///
    /// # Safety
    ///
    /// `node` is queued in this channel's `waiters` or in no list.
    #[inline]
    unsafe fn unqueue(&self, node: Pin<&WaitNode<()>>) {
        if node.is_queued() || node.is_notified() {
            // SAFETY: forwarded contract.
            unsafe { self.unqueue_slow(node) };
        }
    }

    /// # Safety
    ///
    /// As `unqueue`.
    #[cold]
    unsafe fn unqueue_slow(&self, node: Pin<&WaitNode<()>>) {
        let mut tail = self.tail.lock();
        // SAFETY: forwarded contract; lock held. A wake handed nothing
        // over (each receiver has its own cursor): whatever `remove`
        // found, there is nothing to pass on.
        let _ = unsafe { tail.waiters.remove(node) };
    }

    fn statistics(&self) -> BroadcastStatistics {
        let tail = self.tail.lock();
        BroadcastStatistics {
            current_buffer_used: self.held(&tail),
            max_buffer_size: self.cap as usize,
            open_send_streams: self.num_tx.load(Relaxed),
            open_receive_streams: tail.rx_cnt,
            tasks_waiting_receive: tail.waiters.len(),
            tasks_waiting_closed: tail.closed_watchers.len(),
            closed: tail.closed,
            created_at: self.created_at,
        }
    }
}

/// A snapshot of a broadcast channel, from `statistics()` on any handle
/// (AnyIO's memory-object-stream names, as the mpsc channels').
///
/// ```
/// use corral::sync::broadcast;
/// let (tx, rx) = broadcast::channel(4);
/// let _rx2 = tx.subscribe();
/// tx.send(1).unwrap();
/// let s = rx.statistics();
/// assert_eq!((s.current_buffer_used, s.max_buffer_size), (1, 4));
/// assert_eq!((s.open_send_streams, s.open_receive_streams, s.tasks_waiting_receive), (1, 2, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastStatistics {
    /// Values held that at least one receiver has yet to read (as
    /// [`Sender::len`]).
    pub current_buffer_used: usize,
    /// The capacity of the ring.
    pub max_buffer_size: usize,
    /// Strong senders alive.
    pub open_send_streams: usize,
    /// Receivers alive.
    pub open_receive_streams: usize,
    /// Tasks and threads waiting in `recv` for the next value.
    pub tasks_waiting_receive: usize,
    /// Tasks waiting in [`Sender::closed`].
    pub tasks_waiting_closed: usize,
    /// Every sender is gone.
    pub closed: bool,
    /// Where the channel was created.
    pub created_at: &'static Location<'static>,
}

/// Creates a broadcast channel holding the last `capacity` values; returns
/// the sender and a first receiver (more with [`Sender::subscribe`]).
///
/// # Panics
///
/// If `capacity` is 0 or larger than `usize::MAX / 2` ([`try_channel`]
/// returns the error instead).
///
/// ```
/// use corral::sync::broadcast;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = broadcast::channel(8);
/// assert_eq!(tx.send(5), Ok(1)); // one receiver will see it
/// assert_eq!(rx.recv().await, Ok(5));
/// # });
/// ```
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    match try_channel(capacity) {
        Ok(pair) => pair,
        Err(e) => panic!("broadcast::channel({capacity}): {e}"),
    }
}

/// As [`channel`], with a typed error for a capacity of 0 (or one too
/// large) instead of a panic.
///
/// ```
/// use corral::sync::broadcast::{self, error::CapacityError};
/// assert!(broadcast::try_channel::<u8>(3).is_ok());
/// assert_eq!(broadcast::try_channel::<u8>(0).unwrap_err(), CapacityError::Zero);
/// ```
#[track_caller]
pub fn try_channel<T: Clone>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
    if capacity == 0 {
        return Err(CapacityError::Zero);
    }
    if capacity > usize::MAX >> 1 {
        return Err(CapacityError::TooLarge(capacity));
    }
    let cap = capacity as u64;
    let buffer = (0..cap)
        .map(|i| {
            RwLock::new(Slot {
                // One lap behind: "not written yet" for position `i`.
                pos: i.wrapping_sub(cap),
                rem: AtomicUsize::new(0),
                val: UnsafeCell::new(None),
            })
        })
        .collect();
    let shared = Arc::new(Shared {
        buffer,
        mask: if capacity.is_power_of_two() {
            cap - 1
        } else {
            u64::MAX
        },
        cap,
        tail: Lock::new(Tail {
            pos: 0,
            rx_cnt: 1,
            closed: false,
            waiters: WaitList::new(),
            closed_watchers: WaitList::new(),
        }),
        num_tx: AtomicUsize::new(1),
        created_at: Location::caller(),
    });
    let rx = Receiver {
        cur: Cursor {
            shared: shared.clone(),
            next: 0,
        },
        stream_node: None,
    };
    Ok((Sender { shared }, rx))
}

// ---------------------------------------------------------------------------
// Sender

/// The sending half; clone it for more producers. Sending never waits.
/// The channel closes (receivers drain, then get `Closed`) when the last
/// one is dropped.
///
/// ```
/// use corral::sync::broadcast;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = broadcast::channel(4);
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// assert_eq!((rx.recv().await, rx.recv().await), (Ok(1), Ok(2)));
/// # });
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// A sender that does not keep the channel open; [`upgrade`](Self::upgrade)
/// it to send.
///
/// ```
/// use corral::sync::broadcast;
/// let (tx, _rx) = broadcast::channel::<u8>(4);
/// let weak = tx.downgrade();
/// assert!(weak.upgrade().is_some());
/// drop(tx);
/// assert!(weak.upgrade().is_none());
/// ```
pub struct WeakSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver, overwriting the oldest value if the
    /// ring is full; returns how many receivers will see it. Never waits.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value when there is no receiver.
    ///
    /// ```
    /// use corral::sync::broadcast::{self, error::SendError};
    /// let (tx, rx) = broadcast::channel(2);
    /// let rx2 = tx.subscribe();
    /// assert_eq!(tx.send("a"), Ok(2));
    /// drop((rx, rx2));
    /// assert_eq!(tx.send("b"), Err(SendError("b")));
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let shared = &*self.shared;
        let mut tail = shared.tail.lock();
        if tail.rx_cnt == 0 {
            return Err(SendError(value));
        }
        let pos = tail.pos;
        let rx_cnt = tail.rx_cnt;
        tail.pos = pos.wrapping_add(1);
        let mut slot = slot_lock::write(&shared.buffer[shared.index(pos)]);
        slot.pos = pos;
        slot.rem.store(rx_cnt, Relaxed);
        // SAFETY: write lock held: nobody else touches the cell.
        let old = slot.val.with_mut(|v| unsafe { (*v).replace(value) });
        drop(slot);
        if tail.waiters.is_empty() {
            drop(tail);
        } else {
            let mut first = Some(tail);
            WakeBatch::wake_in_chunks(
                || first.take().unwrap_or_else(|| shared.tail.lock()),
                |tail, batch| tail.waiters.wake_all(batch),
            );
        }
        // The overwritten value (if any) is dropped after both locks.
        drop(old);
        Ok(rx_cnt)
    }

    /// A new receiver that sees the values sent from now on.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, _rx) = broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(late.recv().await, Ok(2)); // not 1
    /// # });
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        Shared::subscribe(&self.shared)
    }

    /// Number of receivers alive.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, rx) = broadcast::channel::<u8>(4);
    /// let _rx2 = rx.resubscribe();
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.tail.lock().rx_cnt
    }

    /// Number of values held that at least one receiver has yet to read
    /// (at most the capacity).
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx1) = broadcast::channel(4);
    /// let mut rx2 = tx.subscribe();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(tx.len(), 2);
    /// rx1.recv().await.unwrap();
    /// assert_eq!(tx.len(), 2); // rx2 has not read 1 yet
    /// rx2.recv().await.unwrap();
    /// assert_eq!(tx.len(), 1);
    /// # });
    /// ```
    pub fn len(&self) -> usize {
        let tail = self.shared.tail.lock();
        self.shared.held(&tail)
    }

    /// True if every receiver has read every value held.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, _rx) = broadcast::channel::<u8>(4);
    /// assert!(tx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if both handles belong to the same channel.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, _rx) = broadcast::channel::<u8>(4);
    /// let (other, _orx) = broadcast::channel::<u8>(4);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Waits until every receiver is gone (at once if none is alive now).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it takes nothing; dropping it only stops the wait.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = broadcast::channel::<u8>(4);
    /// corral::spawn(async move { drop(rx) });
    /// tx.closed().await;
    /// assert_eq!(tx.receiver_count(), 0);
    /// # });
    /// ```
    pub fn closed(&self) -> Closed<'_, T> {
        Closed {
            shared: &self.shared,
            node: WaitNode::new(()),
        }
    }

    /// A [`WeakSender`], which does not keep the channel open.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, _rx) = broadcast::channel::<u8>(4);
    /// let weak = tx.downgrade();
    /// assert_eq!(tx.strong_count(), 1);
    /// weak.upgrade().unwrap().send(1).unwrap();
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            shared: self.shared.clone(),
        }
    }

    /// Number of strong senders alive.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, _rx) = broadcast::channel::<u8>(4);
    /// let _tx2 = tx.clone();
    /// assert_eq!(tx.strong_count(), 2);
    /// ```
    pub fn strong_count(&self) -> usize {
        self.shared.num_tx.load(Relaxed)
    }

    /// A snapshot of the channel.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, _rx) = broadcast::channel::<u8>(4);
    /// assert_eq!(tx.statistics().open_receive_streams, 1);
    /// ```
    pub fn statistics(&self) -> BroadcastStatistics {
        self.shared.statistics()
    }

    /// Where the channel was created (`#[track_caller]` on its
    /// constructor).
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, _rx) = broadcast::channel::<u8>(4);
    /// assert!(tx.created_at().file().ends_with(".rs"));
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.shared.created_at
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: a new handle from an existing one (as Arc::clone).
        self.shared.num_tx.fetch_add(1, Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last decrement orders every other sender's sends
        // (under the tail lock anyway) before the close.
        if self.shared.num_tx.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        let shared = &*self.shared;
        WakeBatch::wake_in_chunks(
            || shared.tail.lock(),
            |tail, batch| {
                tail.closed = true;
                tail.waiters.wake_all(batch)
            },
        );
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender")
            .field("statistics", &self.statistics())
            .finish()
    }
}

impl<T> WeakSender<T> {
    /// A strong [`Sender`], if any is still alive.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, _rx) = broadcast::channel::<u8>(4);
    /// let weak = tx.downgrade();
    /// assert!(weak.upgrade().unwrap().same_channel(&tx));
    /// ```
    pub fn upgrade(&self) -> Option<Sender<T>> {
        let mut n = self.shared.num_tx.load(Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            // Relaxed: once 0 the count never rises again.
            match self
                .shared
                .num_tx
                .compare_exchange_weak(n, n + 1, Relaxed, Relaxed)
            {
                Ok(_) => {
                    return Some(Sender {
                        shared: self.shared.clone(),
                    })
                }
                Err(now) => n = now,
            }
        }
    }

    /// Number of strong senders alive.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, _rx) = broadcast::channel::<u8>(4);
    /// let weak = tx.downgrade();
    /// drop(tx);
    /// assert_eq!(weak.strong_count(), 0);
    /// ```
    pub fn strong_count(&self) -> usize {
        self.shared.num_tx.load(Relaxed)
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        WeakSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::WeakSender")
            .field("strong_count", &self.strong_count())
            .finish()
    }
}

/// The future of [`Sender::closed`]: completes once every receiver is
/// gone.
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a, T> {
    shared: &'a Shared<T>,
    node: WaitNode<()>,
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `node` is structurally pinned: never moved out.
        let node = unsafe { self.as_ref().map_unchecked(|c| &c.node) };
        if node.take_notified() {
            return Poll::Ready(());
        }
        let mut tail = self.shared.tail.lock();
        // Notified (every receiver was gone when the last one left, even if
        // one subscribed since), or none is alive now.
        if node.take_notified() || tail.rx_cnt == 0 {
            // SAFETY: queued in this list or none; lock held. Nothing is
            // handed over, so what `remove` found does not matter.
            let _ = unsafe { tail.closed_watchers.remove(node) };
            return Poll::Ready(());
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { tail.closed_watchers.update_waker(node, cx) };
            stale.drop_after(tail);
            return Poll::Pending;
        }
        // SAFETY: in no list; only ever this one, under this lock; `Drop`
        // removes it before it is freed.
        unsafe { tail.closed_watchers.push_back(node, cx) };
        Poll::Pending
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        // SAFETY: pinned (drop runs in place); taking a reference does not
        // move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut tail = self.shared.tail.lock();
        // SAFETY: the node can only be in this channel's list; lock held.
        let _ = unsafe { tail.closed_watchers.remove(node) };
    }
}

impl<T> fmt::Debug for Closed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast::Closed")
    }
}

// ---------------------------------------------------------------------------
// Receiver

/// A receiving half: its own cursor into the ring. Make more with
/// [`Sender::subscribe`] or [`resubscribe`](Self::resubscribe); it is also
/// a `futures_core::Stream` of `Result<T, Lagged>` that ends when the
/// channel closes.
///
/// ```
/// use corral::sync::broadcast::{self, error::RecvError};
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = broadcast::channel(4);
/// tx.send(10).unwrap();
/// drop(tx);
/// assert_eq!(rx.recv().await, Ok(10));
/// assert_eq!(rx.recv().await, Err(RecvError::Closed));
/// # });
/// ```
pub struct Receiver<T> {
    cur: Cursor<T>,
    /// The node of the `Stream` impl (which has no future to hold one),
    /// allocated the first time the stream has to wait.
    stream_node: Option<Pin<Box<WaitNode<()>>>>,
}

/// A read-locked slot holding the value at the receiver's cursor;
/// [`release`](Self::release) counts the read (`rem`) and frees the value
/// after the last reader.
struct RecvGuard<'a, T> {
    slot: ReadGuard<'a, Slot<T>>,
}

impl<T> RecvGuard<'_, T> {
    /// A clone of the value; the read is counted.
    fn into_value(self) -> T
    where
        T: Clone,
    {
        // SAFETY: read lock held and the slot holds our position: the
        // writer is excluded, and the value is taken only after every
        // reader counted for it (us included, later) has finished.
        let v = self.slot.val.with(|v| unsafe { (*v).clone() });
        self.release();
        v.expect("a written slot holds a value")
    }
}

impl<T> RecvGuard<'_, T> {
    /// Counts this read (`rem`) and releases the slot; the reader that
    /// brings `rem` to 0 takes the value out and drops it after the lock
    /// (its `Drop` may use the channel). A guard dropped without this
    /// (a panicking `Clone`) leaves the value to be freed when overwritten.
    fn release(self) {
        // AcqRel: the last reader's take happens after every other reader's
        // clone (their decrements are Release).
        let last = self.slot.rem.fetch_sub(1, AcqRel) == 1;
        let taken = if last {
            // SAFETY: every receiver counted for this position has read it
            // (or released it); receivers not counted never read it, and
            // lagging ones skip it: nobody else touches the cell until the
            // next write, which needs the write lock.
            self.slot.val.with_mut(|v| unsafe { (*v).take() })
        } else {
            None
        };
        drop(self.slot);
        drop(taken);
    }
}

/// A receiver's position in the ring (the part of [`Receiver`] the
/// receive paths borrow, beside the stream's node).
struct Cursor<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next value to receive.
    next: u64,
}

impl<T> Cursor<T> {
    /// The slot at the cursor, or why not. With `waiter`, an empty channel
    /// queues the node (under the tail lock, so no send is missed).
    #[inline]
    fn recv_ref(
        &mut self,
        waiter: Option<(Pin<&WaitNode<()>>, Option<&Context<'_>>)>,
    ) -> Result<RecvGuard<'_, T>, TryRecvError> {
        let shared = &*self.shared;
        let idx = shared.index(self.next);
        let slot = slot_lock::read(&shared.buffer[idx]);
        if slot.pos == self.next {
            self.next = self.next.wrapping_add(1);
            return Ok(RecvGuard { slot });
        }
        drop(slot);
        Self::recv_slow(shared, &mut self.next, idx, waiter)
    }

    /// `recv_ref` when the slot at the cursor holds another position.
    #[inline(never)]
    fn recv_slow<'a>(
        shared: &'a Shared<T>,
        next: &mut u64,
        idx: usize,
        waiter: Option<(Pin<&WaitNode<()>>, Option<&Context<'_>>)>,
    ) -> Result<RecvGuard<'a, T>, TryRecvError> {
        // Slow path: under the tail lock no send runs, so what the slot
        // holds is settled.
        let mut tail = shared.tail.lock();
        let slot = slot_lock::read(&shared.buffer[idx]);
        if slot.pos == *next {
            drop(tail);
            *next = next.wrapping_add(1);
            return Ok(RecvGuard { slot });
        }
        if slot.pos.wrapping_add(shared.cap) == *next {
            // One lap behind: nothing new.
            drop(slot);
            if tail.closed {
                return Err(TryRecvError::Closed);
            }
            if let Some((node, cx)) = waiter {
                // A stray notification (a wake for an earlier value, or a
                // later chunk of one) is consumed: the node waits again.
                let _ = node.take_notified();
                match (node.is_queued(), cx) {
                    (true, Some(cx)) => {
                        // SAFETY: queued in this list; lock held.
                        let stale = unsafe { tail.waiters.update_waker(node, cx) };
                        stale.drop_after(tail);
                    }
                    // A blocked thread's record does not change.
                    (true, None) => {}
                    (false, Some(cx)) => {
                        // SAFETY: in no list; only ever this one, under
                        // this lock; the owner unqueues it before dropping it.
                        unsafe { tail.waiters.push_back(node, cx) }
                    }
                    (false, None) => {
                        // SAFETY: as above (the blocking loop unqueues it).
                        unsafe { tail.waiters.push_back_thread(node) }
                    }
                }
            }
            return Err(TryRecvError::Empty);
        }
        // Overwritten: carry on from the oldest value still held.
        drop(slot);
        let oldest = tail.pos.wrapping_sub(shared.cap);
        drop(tail);
        let missed = oldest.wrapping_sub(*next);
        *next = oldest;
        Err(TryRecvError::Lagged(missed))
    }

    /// The blocking receive: the thread queues a node on its stack as a
    /// thread waiter (the wait hook's `push_back_thread`) and parks until a
    /// send or the close wakes it, or `deadline` passes (`None`; the cursor
    /// has not moved, so nothing is lost).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime; `what` names the caller.
    #[track_caller]
    fn blocking_recv(&mut self, what: &str, deadline: Option<Instant>) -> Option<Result<T, RecvError>>
    where
        T: Clone,
    {
        corral_runtime::wait::assert_may_block(what);
        let node = pin!(WaitNode::new(()));
        let node = node.as_ref();
        let out = loop {
            match self.recv_ref(Some((node, None))) {
                Ok(guard) => break Some(Ok(guard.into_value())),
                Err(TryRecvError::Closed) => break Some(Err(RecvError::Closed)),
                Err(TryRecvError::Lagged(n)) => break Some(Err(RecvError::Lagged(n))),
                Err(TryRecvError::Empty) => {
                    if !node.park_until(deadline) {
                        break None;
                    }
                }
            }
        };
        // SAFETY: the node only ever queued in this channel's list; it is
        // unqueued here, before it is dropped at the end of this function.
        unsafe { self.shared.unqueue(node) };
        out
    }

    /// The poll of `recv` (and of the stream) with the waiter's node.
    ///
    /// # Safety
    ///
    /// `node` only ever queues in this channel's list, and the owner calls
    /// `unqueue` before dropping it.
    #[inline]
    unsafe fn poll_recv_node(
        &mut self,
        node: Pin<&WaitNode<()>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, RecvError>>
    where
        T: Clone,
    {
        let _ = node.take_notified();
        if !node.is_queued() {
            std::task::ready!(corral_runtime::coop::poll_consume_budget(cx));
        }
        let out = match self.recv_ref(Some((node, Some(cx)))) {
            Ok(guard) => Ok(guard.into_value()),
            Err(TryRecvError::Empty) => return Poll::Pending,
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
        };
        // Still queued from an earlier Pending (this poll found a value on
        // the fast path): leave the list.
        // SAFETY: forwarded contract.
        unsafe { self.shared.unqueue(node) };
        Poll::Ready(out)
    }
}

impl<T> Receiver<T> {
    /// Receives the next value (a clone), waiting while there is none.
    ///
    /// # Errors
    ///
    /// [`RecvError::Lagged(n)`](RecvError::Lagged) if `n` values were
    /// overwritten before this receiver read them (the next call returns
    /// the oldest value still held); [`RecvError::Closed`] once every
    /// sender is gone and everything was read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the cursor moves only in the poll that returns, so a
    /// dropped `recv` (e.g. the losing branch of a `select!`) loses
    /// nothing; the next `recv` returns the same value.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = broadcast::channel(4);
    /// corral::spawn(async move { tx.send("hi").unwrap() });
    /// assert_eq!(rx.recv().await, Ok("hi"));
    /// # });
    /// ```
    pub fn recv(&mut self) -> Recv<'_, T>
    where
        T: Clone,
    {
        Recv {
            rx: self,
            node: WaitNode::new(()),
        }
    }

    /// Receives the next value without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing new was sent; `Lagged(n)` and
    /// `Closed` as [`recv`](Self::recv).
    ///
    /// ```
    /// use corral::sync::broadcast::{self, error::TryRecvError};
    /// let (tx, mut rx) = broadcast::channel(4);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError>
    where
        T: Clone,
    {
        Ok(self.cur.recv_ref(None)?.into_value())
    }

    /// Blocks this (non-runtime) thread until a value comes.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (`.await` [`recv`](Self::recv) there).
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, mut rx) = broadcast::channel(4);
    /// std::thread::spawn(move || tx.send(5).unwrap());
    /// assert_eq!(rx.blocking_recv(), Ok(5));
    /// ```
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Result<T, RecvError>
    where
        T: Clone,
    {
        self.cur
            .blocking_recv("broadcast::Receiver::blocking_recv", None)
            .expect("no deadline: the receive completes")
    }

    /// As [`blocking_recv`](Self::blocking_recv), giving up after `timeout`
    /// ([`RecvTimeoutError::Timeout`]).
    ///
    /// # Errors
    ///
    /// `Timeout`, or `Closed` / `Lagged(n)` as [`recv`](Self::recv).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime.
    ///
    /// ```
    /// use corral::sync::broadcast::{self, error::RecvTimeoutError};
    /// use std::time::Duration;
    /// let (tx, mut rx) = broadcast::channel(4);
    /// assert_eq!(rx.blocking_recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.blocking_recv_timeout(Duration::from_secs(1)), Ok(3));
    /// ```
    #[track_caller]
    pub fn blocking_recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError>
    where
        T: Clone,
    {
        let deadline = Instant::now().checked_add(timeout);
        match self
            .cur
            .blocking_recv("broadcast::Receiver::blocking_recv_timeout", deadline)
        {
            Some(r) => r.map_err(RecvTimeoutError::from),
            None => Err(RecvTimeoutError::Timeout),
        }
    }

    /// A new receiver on the same channel that starts at the next value
    /// sent (not at this one's cursor), as tokio's.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut rx2 = rx.resubscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx2.recv().await, Ok(2));
    /// # });
    /// ```
    pub fn resubscribe(&self) -> Receiver<T> {
        Shared::subscribe(&self.cur.shared)
    }

    /// Number of values sent that this receiver has yet to receive. Above
    /// the capacity, the next receive reports `Lagged`.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, rx) = broadcast::channel(2);
    /// for i in 0..3 {
    ///     tx.send(i).unwrap();
    /// }
    /// assert_eq!(rx.len(), 3); // one more than the ring holds: lagged
    /// ```
    pub fn len(&self) -> usize {
        let tail = self.cur.shared.tail.lock();
        tail.pos.wrapping_sub(self.cur.next) as usize
    }

    /// True if this receiver has read everything sent.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (_tx, rx) = broadcast::channel::<u8>(2);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if both receivers belong to the same channel.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (_tx, rx) = broadcast::channel::<u8>(2);
    /// assert!(rx.same_channel(&rx.resubscribe()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.cur.shared, &other.cur.shared)
    }

    /// Number of strong senders alive.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (tx, rx) = broadcast::channel::<u8>(2);
    /// assert_eq!(rx.sender_strong_count(), 1);
    /// drop(tx);
    /// assert_eq!(rx.sender_strong_count(), 0);
    /// ```
    pub fn sender_strong_count(&self) -> usize {
        self.cur.shared.num_tx.load(Relaxed)
    }

    /// A snapshot of the channel.
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (_tx, rx) = broadcast::channel::<u8>(2);
    /// assert_eq!(rx.statistics().max_buffer_size, 2);
    /// ```
    pub fn statistics(&self) -> BroadcastStatistics {
        self.cur.shared.statistics()
    }

    /// Where the channel was created (`#[track_caller]` on its
    /// constructor).
    ///
    /// ```
    /// use corral::sync::broadcast;
    /// let (_tx, rx) = broadcast::channel::<u8>(2);
    /// assert!(rx.created_at().file().ends_with(".rs"));
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.cur.shared.created_at
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(node) = self.stream_node.take() {
            // SAFETY: the stream's node only ever queues in this channel.
            unsafe { self.cur.shared.unqueue(node.as_ref()) };
        }
        let shared = self.cur.shared.clone();
        let until = {
            let mut tail = shared.tail.lock();
            tail.rx_cnt -= 1;
            let until = tail.pos;
            if tail.rx_cnt == 0 && !tail.closed_watchers.is_empty() {
                let mut first = Some(tail);
                WakeBatch::wake_in_chunks(
                    || first.take().unwrap_or_else(|| shared.tail.lock()),
                    |tail, batch| tail.closed_watchers.wake_all(batch),
                );
            }
            until
        };
        // Release the values sent while this receiver was counted (before
        // `until`) and not read yet, so they are freed once the others have
        // read them. Never one sent after: it did not count this receiver.
        // A lag may jump the cursor past `until`: then nothing is left.
        while self.cur.next < until {
            match self.cur.recv_ref(None) {
                Ok(guard) => guard.release(),
                Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.cur.next)
            .field("statistics", &self.statistics())
            .finish()
    }
}

/// The stream of values: `Ok(value)`, `Err(Lagged(n))` when `n` values
/// were missed (the stream carries on), and the end when the channel
/// closes. (tokio-stream's `BroadcastStream` wraps the receiver for this;
/// here the receiver is the stream, and its node is boxed once, the first
/// time it waits.)
impl<T: Clone> futures_core::Stream for Receiver<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let node = this
            .stream_node
            .get_or_insert_with(|| Box::pin(WaitNode::new(())));
        // SAFETY: the boxed node only queues in this channel's list and is
        // unqueued in `Receiver::drop` before it is freed.
        match unsafe { this.cur.poll_recv_node(node.as_ref(), cx) } {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(v)) => Poll::Ready(Some(Ok(v))),
            Poll::Ready(Err(RecvError::Lagged(n))) => Poll::Ready(Some(Err(Lagged(n)))),
            Poll::Ready(Err(RecvError::Closed)) => Poll::Ready(None),
        }
    }
}

/// The future of [`Receiver::recv`]; its waiter node lives inside it.
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    rx: &'a mut Receiver<T>,
    node: WaitNode<()>,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `node` is structurally pinned (never moved out); `rx` is
        // a plain reference, not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let node = unsafe { Pin::new_unchecked(&this.node) };
        // SAFETY: the node only queues in this channel's list; `Drop`
        // unqueues it.
        unsafe { this.rx.cur.poll_recv_node(node, cx) }
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        // SAFETY: pinned (drop runs in place); taking a reference does not
        // move the node, which only ever queues in this channel.
        unsafe { self.rx.cur.shared.unqueue(Pin::new_unchecked(&self.node)) };
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast::Recv")
    }
}
