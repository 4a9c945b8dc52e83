//! [`Queue`]: asyncio's `Queue` / Python's `queue.Queue` for tasks and
//! threads: a cloneable handle to a FIFO, LIFO or priority queue with
//! backpressure, direct handoff, `task_done` / `join`, and `close`.
//!
//! # State, and who may touch it
//!
//! One short lock guards the [`State`]: the buffered items ([`Buffer`]),
//! `maxsize`, `closed`, the count of unfinished items, and three
//! [`WaitList`]s: getters (payload [`GetSlot`]: empty, the item handed
//! over, or "closed"), putters (payload [`PutSlot`]: the item waiting to go
//! in, and "closed") and joiners (payload: "released"). A payload belongs
//! to the lock while its node is queued, to its future (or thread)
//! otherwise, as the wait hook's protocol says.
//!
//! # Invariants
//!
//! - Getters wait only while nothing is buffered; putters wait only while
//!   there is no room (`len >= maxsize`) and no getter waits. So a put
//!   that finds a getter hands the item straight into the first getter's
//!   payload and wakes it ([`State::offer`]), and a get that frees a place
//!   moves the first waiting putter's item into the buffer and wakes it
//!   ([`State::take`]); with `maxsize == 0` (a rendezvous) the getter takes
//!   the putter's item directly. Both run under the lock and wake after it
//!   (one wake, to the waking worker's LIFO slot).
//! - No barging: `put`/`put_nowait` only buffer while no putter waits, and
//!   `get` serves the buffer in order, so putters and getters are served
//!   first come, first served.
//! - An item is counted unfinished (for `join`) the moment the queue
//!   accepts it: buffered, handed to a getter, or taken from a putter.
//!
//! # Cancellation
//!
//! - A getter dropped after an item was handed to it (`Removed::Notified`)
//!   gives the item back ([`State::give_back`]): to the next waiting getter,
//!   else to the head of the buffer (on top for LIFO, at its place for
//!   priority). This may leave the buffer above `maxsize` until gets drain
//!   it: the item must not be lost, nor go behind later ones.
//! - A putter dropped after its item was taken (`Notified`) has delivered
//!   it: nothing to do. One dropped while queued (`Unlinked`) still owns
//!   its item, which drops with the future; nobody behind it becomes
//!   servable (the room did not change).
//! - A joiner has nothing to pass on.
//!
//! # Closing
//!
//! `close` sets `closed`, marks every waiting putter closed (its item comes
//! back in the error) and every waiting getter closed (getters wait only on
//! an empty queue, so they fail at once), and wakes them in chunks. Later
//! puts fail; later gets drain the buffer, then fail.

mod buffer;
mod error;
mod future;

pub use error::{
    BlockingGetError, BlockingPutError, JoinTimeout, PutError, QueueClosed, TaskDoneError, TryGetError,
    TryPutError,
};
pub use future::{Get, Join, Put, QueueStream};

use crate::loom::Lock;
use buffer::{Buffer, Entry};
use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};
use std::fmt;
use std::panic::Location;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A getter's payload.
pub(crate) enum GetSlot<T> {
    /// Nothing yet.
    Waiting,
    /// The item handed over.
    Item(Entry<T>),
    /// The queue closed while this getter waited on it empty.
    Closed,
}

/// A putter's payload.
pub(crate) struct PutSlot<T> {
    /// The item to put; taken by the getter that makes room.
    pub(crate) item: Option<T>,
    /// The queue closed while this putter waited (the item is still here).
    pub(crate) closed: bool,
}

pub(crate) struct State<T> {
    buf: Buffer<T>,
    /// `usize::MAX`: unbounded.
    maxsize: usize,
    closed: bool,
    /// Items accepted and not yet marked done (`task_done`).
    unfinished: usize,
    pub(crate) getters: WaitList<GetSlot<T>>,
    pub(crate) putters: WaitList<PutSlot<T>>,
    /// Payload: released by the `task_done` that reached zero.
    pub(crate) joiners: WaitList<bool>,
}

impl<T> State<T> {
    /// Accepts `item` if a getter waits (direct handoff, marked for
    /// waking in `batch`) or there is room and no putter waits first.
    #[inline]
    pub(crate) fn offer(&mut self, item: T, batch: &mut WakeBatch) -> Result<(), TryPutError<T>> {
        if self.closed {
            return Err(TryPutError::Closed(item));
        }
        if let Some(slot) = self.getters.front_mut() {
            *slot = GetSlot::Item(self.buf.stamp(item));
            self.unfinished += 1;
            self.getters.wake_front(batch);
            return Ok(());
        }
        if self.putters.is_empty() && self.buf.len() < self.maxsize {
            self.buf.push(item);
            self.unfinished += 1;
            return Ok(());
        }
        Err(TryPutError::QueueFull(item))
    }

    /// The next item, if there is one: from the buffer (then the first
    /// waiting putter's item moves into the freed place), or, with nothing
    /// buffered, straight from the first waiting putter (a rendezvous).
    /// The putter served is marked for waking in `batch`.
    #[inline]
    pub(crate) fn take(&mut self, batch: &mut WakeBatch) -> Option<Entry<T>> {
        let Some(got) = self.buf.pop() else {
            let slot = self.putters.front_mut()?;
            let item = slot.item.take().expect("a waiting putter holds its item");
            self.unfinished += 1;
            self.putters.wake_front(batch);
            return Some(self.buf.stamp(item));
        };
        if self.buf.len() < self.maxsize {
            if let Some(slot) = self.putters.front_mut() {
                let item = slot.item.take().expect("a waiting putter holds its item");
                self.buf.push(item);
                self.unfinished += 1;
                self.putters.wake_front(batch);
            }
        }
        Some(got)
    }

    /// Takes back an item handed to a getter that was cancelled: to the
    /// next waiting getter, else to the head of the buffer.
    pub(crate) fn give_back(&mut self, e: Entry<T>, batch: &mut WakeBatch) {
        match self.getters.front_mut() {
            Some(slot) => {
                *slot = GetSlot::Item(e);
                self.getters.wake_front(batch);
            }
            None => self.buf.push_returned(e),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn unfinished(&self) -> usize {
        self.unfinished
    }
}

pub(crate) struct Inner<T> {
    pub(crate) state: Lock<State<T>>,
    created_at: &'static Location<'static>,
}

/// A queue of items between tasks and threads: asyncio's `Queue` (and
/// `LifoQueue`, `PriorityQueue`) with Python's `queue.Queue` blocking
/// methods, as a cloneable handle.
///
/// # Semantics
///
/// - **Shapes.** [`unbounded`](Self::unbounded);
///   [`with_maxsize(n)`](Self::with_maxsize) (FIFO, at most `n` buffered;
///   `0` is a *rendezvous*: a put waits until a getter takes the item);
///   [`lifo(n)`](Self::lifo) (last in, first out);
///   [`priority(n)`](Self::priority) (`T: Ord`, smallest first). For every
///   shape `n == usize::MAX` means unbounded.
/// - **Ties in a priority queue** come out in put order (first put, first
///   out), unlike asyncio's `PriorityQueue`, whose heap leaves equal items in
///   no defined order. Wrap items as `(priority, payload)` with a
///   payload that need not be ordered by implementing `Ord` on the
///   priority only.
/// - **Fair, FIFO, direct handoff.** Getters are served first come, first
///   served, and an item put while getters wait goes straight to the first
///   of them (woken onto the putter's worker). Putters that found the queue
///   full are served in order too, and `put_nowait` cannot overtake them.
/// - **Backpressure.** [`put`](Self::put) waits while the queue is full.
/// - **`task_done` / `join`** as asyncio's: every accepted item counts as
///   unfinished until [`task_done`](Self::task_done) is called for it;
///   [`join`](Self::join) waits until none are. Calling `task_done` once
///   too often is an error ([`TaskDoneError`]), not a panic.
/// - **Closing** (asyncio 3.13's `shutdown()`, without discarding):
///   [`close`](Self::close) makes waiting and later puts fail with the item
///   handed back ([`PutError`]); gets drain what is buffered, then fail with
///   [`QueueClosed`]; a getter already waiting on an empty queue fails at
///   once. `join` is not affected.
/// - **Cancellation loses nothing.** An item handed to a getter that is
///   then dropped goes back to the head of the queue (on top for LIFO, at
///   its place for priority), or to the next waiting getter. The queue may
///   then hold one item more than `maxsize` until a get takes it; it never
///   drops or reorders an item to stay within the bound. A put dropped
///   after its item was taken has delivered it (the item is not handed
///   back); a put dropped while waiting drops its item with it.
///
/// Unlike tokio's and flume's channels, there are no sender and receiver
/// halves: every clone can put and get, and the queue stays open until
/// [`close`](Self::close) (dropping handles closes nothing).
///
/// ```
/// use corral::sync::Queue;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let q = Queue::with_maxsize(2);
/// let producer = {
///     let q = q.clone();
///     corral::spawn(async move {
///         for i in 0..5 {
///             q.put(i).await.unwrap(); // waits while 2 are queued
///         }
///         q.close();
///     })
/// };
/// let mut got = Vec::new();
/// while let Ok(i) = q.get().await {
///     got.push(i);
/// }
/// producer.await.unwrap();
/// assert_eq!(got, [0, 1, 2, 3, 4]);
/// # });
/// ```
pub struct Queue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.statistics();
        f.debug_struct("Queue")
            .field("qsize", &s.current_buffer_used)
            .field("maxsize", &s.max_buffer_size)
            .field("closed", &s.closed)
            .field("created_at", &s.created_at)
            .finish_non_exhaustive()
    }
}

/// A snapshot of a [`Queue`], from [`Queue::statistics`]. Field names are
/// AnyIO's (its memory object streams'), with asyncio's `unfinished_tasks`.
///
/// ```
/// let q = corral::sync::Queue::with_maxsize(4);
/// q.put_nowait('a').unwrap();
/// let s = q.statistics();
/// assert_eq!((s.current_buffer_used, s.max_buffer_size), (1, Some(4)));
/// assert_eq!((s.tasks_waiting_send, s.tasks_waiting_receive), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStatistics {
    /// Items buffered (`qsize`).
    pub current_buffer_used: usize,
    /// `maxsize`; None for an unbounded queue.
    pub max_buffer_size: Option<usize>,
    /// Tasks and threads waiting to put.
    pub tasks_waiting_send: usize,
    /// Tasks and threads waiting to get.
    pub tasks_waiting_receive: usize,
    /// Tasks and threads waiting in `join`.
    pub tasks_waiting_join: usize,
    /// Items accepted and not yet marked done.
    pub unfinished_tasks: usize,
    /// [`Queue::close`] was called.
    pub closed: bool,
    /// Where the queue was created.
    pub created_at: &'static Location<'static>,
}

fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

impl<T> Queue<T> {
    #[track_caller]
    fn build(buf: Buffer<T>, maxsize: usize) -> Self {
        Queue {
            inner: Arc::new(Inner {
                state: Lock::new(State {
                    buf,
                    maxsize,
                    closed: false,
                    unfinished: 0,
                    getters: WaitList::new(),
                    putters: WaitList::new(),
                    joiners: WaitList::new(),
                }),
                created_at: Location::caller(),
            }),
        }
    }

    pub(crate) fn inner(&self) -> &Inner<T> {
        &self.inner
    }

    /// A FIFO queue without a bound: `put` never waits. Records the
    /// caller's location for statistics and diagnostics.
    ///
    /// ```
    /// let q = corral::sync::Queue::unbounded();
    /// for i in 0..1000 {
    ///     q.put_nowait(i).unwrap();
    /// }
    /// assert_eq!(q.maxsize(), None);
    /// assert_eq!(q.get_nowait(), Ok(0));
    /// ```
    #[track_caller]
    pub fn unbounded() -> Self {
        Self::build(Buffer::fifo(), usize::MAX)
    }

    /// A FIFO queue holding at most `maxsize` items; `0` is a rendezvous
    /// (a put waits for a getter and hands the item over directly), and
    /// `usize::MAX` is unbounded.
    ///
    /// ```
    /// use corral::sync::{Queue, TryPutError};
    /// let q = Queue::with_maxsize(0);
    /// assert_eq!(q.put_nowait(1), Err(TryPutError::QueueFull(1))); // no getter waits
    /// let q = Queue::with_maxsize(1);
    /// assert!(q.put_nowait(1).is_ok() && q.full());
    /// ```
    #[track_caller]
    pub fn with_maxsize(maxsize: usize) -> Self {
        Self::build(Buffer::fifo(), maxsize)
    }

    /// A last in, first out queue (asyncio's `LifoQueue`) holding at most
    /// `maxsize` items (`0`: rendezvous, `usize::MAX`: unbounded).
    ///
    /// ```
    /// let q = corral::sync::Queue::lifo(usize::MAX);
    /// for i in 1..=3 {
    ///     q.put_nowait(i).unwrap();
    /// }
    /// assert_eq!(q.get_nowait(), Ok(3));
    /// ```
    #[track_caller]
    pub fn lifo(maxsize: usize) -> Self {
        Self::build(Buffer::lifo(), maxsize)
    }

    /// Where this queue was created.
    ///
    /// ```
    /// let q = corral::sync::Queue::<u8>::unbounded();
    /// println!("created at {}", q.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.inner.created_at
    }

    /// Items buffered right now (asyncio's `qsize`). Items a waiting
    /// putter still holds are not counted.
    ///
    /// ```
    /// let q = corral::sync::Queue::unbounded();
    /// q.put_nowait(()).unwrap();
    /// assert_eq!(q.qsize(), 1);
    /// ```
    pub fn qsize(&self) -> usize {
        self.inner.state.lock().buf.len()
    }

    /// True if nothing is buffered.
    ///
    /// ```
    /// let q = corral::sync::Queue::<u8>::unbounded();
    /// assert!(q.empty());
    /// ```
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// True if a `put_nowait` would find no room now: `maxsize` items are
    /// buffered (or putters wait); for a rendezvous queue, no getter waits.
    /// Never true for an unbounded queue.
    ///
    /// ```
    /// let q = corral::sync::Queue::with_maxsize(1);
    /// assert!(!q.full());
    /// q.put_nowait(1).unwrap();
    /// assert!(q.full());
    /// ```
    pub fn full(&self) -> bool {
        let st = self.inner.state.lock();
        st.getters.is_empty() && (st.buf.len() >= st.maxsize || !st.putters.is_empty())
    }

    /// The bound given at creation; None for an unbounded queue.
    ///
    /// ```
    /// assert_eq!(corral::sync::Queue::<u8>::with_maxsize(3).maxsize(), Some(3));
    /// ```
    pub fn maxsize(&self) -> Option<usize> {
        let m = self.inner.state.lock().maxsize;
        (m != usize::MAX).then_some(m)
    }

    /// True once [`close`](Self::close) was called.
    ///
    /// ```
    /// let q = corral::sync::Queue::<u8>::unbounded();
    /// q.close();
    /// assert!(q.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.state.lock().closed
    }

    /// A snapshot of the queue's state.
    ///
    /// ```
    /// let q = corral::sync::Queue::<u8>::unbounded();
    /// assert_eq!(q.statistics().unfinished_tasks, 0);
    /// ```
    pub fn statistics(&self) -> QueueStatistics {
        let st = self.inner.state.lock();
        QueueStatistics {
            current_buffer_used: st.buf.len(),
            max_buffer_size: (st.maxsize != usize::MAX).then_some(st.maxsize),
            tasks_waiting_send: st.putters.len(),
            tasks_waiting_receive: st.getters.len(),
            tasks_waiting_join: st.joiners.len(),
            unfinished_tasks: st.unfinished,
            closed: st.closed,
            created_at: self.inner.created_at,
        }
    }

    /// Puts `item`, waiting while the queue is full. Putters are served in
    /// order; if a getter waits, the item goes straight to it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before its item was taken drops the item with
    /// it and gives up its place in line (nothing else changes). Dropped
    /// after the item was taken, it has delivered it: the item is in the
    /// queue (or with a getter) and is not lost.
    ///
    /// # Errors
    ///
    /// [`PutError`] (with the item) if the queue is or becomes closed.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let q = corral::sync::Queue::with_maxsize(1);
    /// q.put("a").await.unwrap();
    /// assert_eq!(q.qsize(), 1);
    /// # });
    /// ```
    pub fn put(&self, item: T) -> Put<'_, T> {
        Put::new(self, item)
    }

    /// Gets the next item, waiting while the queue is empty. Getters are
    /// served in order.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `get` loses no item. If an item had already
    /// been handed to it, the item goes to the next waiting getter, or back
    /// to the head of the queue (see the [type docs](Self)).
    ///
    /// # Errors
    ///
    /// [`QueueClosed`] once the queue is closed and drained (at once for a
    /// getter waiting on an empty queue when it closes).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let q = corral::sync::Queue::unbounded();
    /// q.put_nowait(1).unwrap();
    /// assert_eq!(q.get().await, Ok(1));
    /// # });
    /// ```
    pub fn get(&self) -> Get<'_, T> {
        Get::new(self)
    }

    /// Waits until every accepted item was marked done with
    /// [`task_done`](Self::task_done); at once if none is unfinished.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `join` takes nothing from anyone.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let q = corral::sync::Queue::unbounded();
    /// q.put(1).await.unwrap();
    /// let worker = {
    ///     let q = q.clone();
    ///     corral::spawn(async move {
    ///         let _item = q.get().await.unwrap();
    ///         q.task_done().unwrap();
    ///     })
    /// };
    /// q.join().await;
    /// worker.await.unwrap();
    /// # });
    /// ```
    pub fn join(&self) -> Join<'_, T> {
        Join::new(self)
    }

    /// A [`Stream`](futures_core::Stream) of the items: each `next()` is a
    /// [`get`](Self::get); the stream ends when the queue is closed and
    /// drained. It holds its own handle.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::pin;
    /// use futures_core::Stream;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let q = corral::sync::Queue::unbounded();
    /// q.put_nowait(1).unwrap();
    /// q.put_nowait(2).unwrap();
    /// q.close();
    /// let mut s = pin!(q.stream());
    /// let mut got = Vec::new();
    /// while let Some(i) = poll_fn(|cx| s.as_mut().poll_next(cx)).await {
    ///     got.push(i);
    /// }
    /// assert_eq!(got, [1, 2]);
    /// # });
    /// ```
    pub fn stream(&self) -> QueueStream<T> {
        QueueStream::new(self.clone())
    }

    /// Puts `item` if there is room now (or a getter waits), without
    /// waiting.
    ///
    /// # Errors
    ///
    /// [`TryPutError::QueueFull`] or [`TryPutError::Closed`], with the item.
    ///
    /// ```
    /// use corral::sync::{Queue, TryPutError};
    /// let q = Queue::with_maxsize(1);
    /// assert_eq!(q.put_nowait('a'), Ok(()));
    /// assert_eq!(q.put_nowait('b'), Err(TryPutError::QueueFull('b')));
    /// ```
    pub fn put_nowait(&self, item: T) -> Result<(), TryPutError<T>> {
        let mut batch = WakeBatch::new();
        let mut st = self.inner.state.lock();
        let r = st.offer(item, &mut batch);
        batch.wake_after(st);
        r
    }

    /// Takes the next item if there is one now (buffered, or held by a
    /// waiting putter of a rendezvous queue), without waiting.
    ///
    /// # Errors
    ///
    /// [`TryGetError::QueueEmpty`], or [`TryGetError::Closed`] once the
    /// queue is closed and drained.
    ///
    /// ```
    /// use corral::sync::{Queue, TryGetError};
    /// let q = Queue::unbounded();
    /// q.put_nowait(5).unwrap();
    /// assert_eq!(q.get_nowait(), Ok(5));
    /// assert_eq!(q.get_nowait(), Err(TryGetError::QueueEmpty));
    /// ```
    pub fn get_nowait(&self) -> Result<T, TryGetError> {
        let mut batch = WakeBatch::new();
        let mut st = self.inner.state.lock();
        let r = match st.take(&mut batch) {
            Some(e) => Ok(e.item),
            None if st.closed => Err(TryGetError::Closed),
            None => Err(TryGetError::QueueEmpty),
        };
        batch.wake_after(st);
        r
    }

    /// Marks one item as done (after a get, when its work is finished);
    /// when none is left unfinished, every [`join`](Self::join) waiting
    /// returns.
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] if no item is unfinished (called once too often).
    ///
    /// ```
    /// let q = corral::sync::Queue::unbounded();
    /// q.put_nowait(1).unwrap();
    /// q.get_nowait().unwrap();
    /// assert!(q.task_done().is_ok());
    /// assert!(q.task_done().is_err());
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut st = self.inner.state.lock();
        if st.unfinished == 0 {
            return Err(TaskDoneError(()));
        }
        st.unfinished -= 1;
        if st.unfinished > 0 || st.joiners.is_empty() {
            return Ok(());
        }
        // Release every joiner waiting now; ones that queue between two
        // chunks (after a new put) are not released.
        for released in st.joiners.iter_mut() {
            *released = true;
        }
        let mut first = Some(st);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.inner.state.lock()),
            |st, batch| {
                while st.joiners.front_mut().is_some_and(|r| *r) {
                    if batch.is_full() {
                        return true;
                    }
                    st.joiners.wake_front(batch);
                }
                false
            },
        );
        Ok(())
    }

    /// Closes the queue: waiting and later puts fail with their item;
    /// gets drain what is buffered, then fail; a getter waiting on an
    /// empty queue fails at once. Idempotent.
    ///
    /// ```
    /// use corral::sync::{Queue, TryGetError, TryPutError};
    /// let q = Queue::unbounded();
    /// q.put_nowait(1).unwrap();
    /// q.close();
    /// assert_eq!(q.put_nowait(2), Err(TryPutError::Closed(2)));
    /// assert_eq!(q.get_nowait(), Ok(1));
    /// assert_eq!(q.get_nowait(), Err(TryGetError::Closed));
    /// ```
    pub fn close(&self) {
        WakeBatch::wake_in_chunks(
            || self.inner.state.lock(),
            |st, batch| {
                st.closed = true;
                for p in st.putters.iter_mut() {
                    p.closed = true;
                }
                if st.putters.wake_all(batch) {
                    return true;
                }
                // Getters wait only on an empty queue: they fail now.
                for g in st.getters.iter_mut() {
                    *g = GetSlot::Closed;
                }
                st.getters.wake_all(batch)
            },
        );
    }

    /// Puts `item` from a plain thread, blocking while the queue is full.
    ///
    /// # Errors
    ///
    /// [`PutError`] (with the item) if the queue is or becomes closed.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): `.await` [`put`](Self::put) there, or use
    /// `corral::run_sync`.
    ///
    /// ```
    /// let q = corral::sync::Queue::with_maxsize(1);
    /// q.blocking_put(1).unwrap();
    /// let q2 = q.clone();
    /// let t = std::thread::spawn(move || q2.blocking_put(2).unwrap()); // waits for room
    /// assert_eq!(q.blocking_get(), Ok(1));
    /// t.join().unwrap();
    /// assert_eq!(q.blocking_get(), Ok(2));
    /// ```
    #[track_caller]
    pub fn blocking_put(&self, item: T) -> Result<(), PutError<T>> {
        self.blocking_put_until(item, None, "Queue::blocking_put")
            .map_err(|e| PutError(e.into_inner()))
    }

    /// As [`blocking_put`](Self::blocking_put), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`BlockingPutError::Timeout`] or [`BlockingPutError::Closed`], with
    /// the item.
    ///
    /// # Panics
    ///
    /// As [`blocking_put`](Self::blocking_put).
    ///
    /// ```
    /// use corral::sync::{BlockingPutError, Queue};
    /// use std::time::Duration;
    /// let q = Queue::with_maxsize(1);
    /// q.blocking_put_timeout(1, Duration::from_millis(1)).unwrap();
    /// let err = q.blocking_put_timeout(2, Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err, BlockingPutError::Timeout(2));
    /// ```
    #[track_caller]
    pub fn blocking_put_timeout(&self, item: T, timeout: Duration) -> Result<(), BlockingPutError<T>> {
        self.blocking_put_until(item, deadline(timeout), "Queue::blocking_put_timeout")
    }

    #[track_caller]
    fn blocking_put_until(
        &self,
        item: T,
        deadline: Option<Instant>,
        what: &str,
    ) -> Result<(), BlockingPutError<T>> {
        assert_may_block(what);
        let mut node = pin!(WaitNode::new(PutSlot {
            item: None,
            closed: false,
        }));
        {
            let mut batch = WakeBatch::new();
            let mut st = self.inner.state.lock();
            match st.offer(item, &mut batch) {
                Ok(()) => {
                    batch.wake_after(st);
                    return Ok(());
                }
                Err(TryPutError::Closed(item)) => return Err(BlockingPutError::Closed(item)),
                Err(TryPutError::QueueFull(item)) => {
                    // SAFETY: not queued yet: the payload is ours.
                    unsafe { st.putters.value_of(node.as_ref()) }.item = Some(item);
                    // SAFETY: the node is in no list; it only ever goes
                    // into this one, under this lock, and leaves it (woken,
                    // or removed below) before this function returns.
                    unsafe { st.putters.push_back_thread(node.as_ref()) };
                }
            }
        }
        if !node.as_ref().park_until(deadline) {
            let mut st = self.inner.state.lock();
            // SAFETY: the node is queued in this list or in none; lock held.
            match unsafe { st.putters.remove(node.as_ref()) } {
                // The item was taken (or the queue closed) as time ran out.
                Removed::Notified => {}
                Removed::Unlinked { .. } => {
                    // SAFETY: unlinked: the payload is ours again.
                    let item = unsafe { st.putters.value_of(node.as_ref()) }.item.take();
                    drop(st);
                    return Err(BlockingPutError::Timeout(
                        item.expect("an unserved putter holds its item"),
                    ));
                }
                Removed::NotQueued => unreachable!("a blocking putter lost its node"),
            }
        }
        let slot = node.as_mut().value_mut().expect("a notified node is not queued");
        if slot.closed {
            Err(BlockingPutError::Closed(
                slot.item.take().expect("a closed putter keeps its item"),
            ))
        } else {
            Ok(())
        }
    }

    /// Gets the next item from a plain thread, blocking while the queue is
    /// empty.
    ///
    /// # Errors
    ///
    /// [`QueueClosed`] once the queue is closed and drained.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime: `.await`
    /// [`get`](Self::get) there.
    ///
    /// ```
    /// let q = corral::sync::Queue::unbounded();
    /// let q2 = q.clone();
    /// std::thread::spawn(move || q2.put_nowait("hi").unwrap());
    /// assert_eq!(q.blocking_get(), Ok("hi"));
    /// ```
    #[track_caller]
    pub fn blocking_get(&self) -> Result<T, QueueClosed> {
        self.blocking_get_until(None, "Queue::blocking_get")
            .map_err(|_| QueueClosed)
    }

    /// As [`blocking_get`](Self::blocking_get), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`BlockingGetError::Timeout`] or [`BlockingGetError::Closed`].
    ///
    /// # Panics
    ///
    /// As [`blocking_get`](Self::blocking_get).
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = corral::sync::Queue::unbounded();
    /// q.put_nowait(1).unwrap();
    /// assert_eq!(q.blocking_get_timeout(Duration::from_secs(1)), Ok(1));
    /// ```
    #[track_caller]
    pub fn blocking_get_timeout(&self, timeout: Duration) -> Result<T, BlockingGetError> {
        self.blocking_get_until(deadline(timeout), "Queue::blocking_get_timeout")
    }

    #[track_caller]
    fn blocking_get_until(&self, deadline: Option<Instant>, what: &str) -> Result<T, BlockingGetError> {
        assert_may_block(what);
        let mut node = pin!(WaitNode::new(GetSlot::Waiting));
        {
            let mut batch = WakeBatch::new();
            let mut st = self.inner.state.lock();
            if let Some(e) = st.take(&mut batch) {
                batch.wake_after(st);
                return Ok(e.item);
            }
            if st.closed {
                return Err(BlockingGetError::Closed);
            }
            // SAFETY: the node is in no list; it only ever goes into this
            // one, under this lock, and leaves it (woken, or removed
            // below) before this function returns.
            unsafe { st.getters.push_back_thread(node.as_ref()) };
        }
        if !node.as_ref().park_until(deadline) {
            let mut st = self.inner.state.lock();
            // SAFETY: the node is queued in this list or in none; lock held.
            match unsafe { st.getters.remove(node.as_ref()) } {
                // The item (or the close) raced the timeout: keep it.
                Removed::Notified => {}
                Removed::Unlinked { .. } => return Err(BlockingGetError::Timeout),
                Removed::NotQueued => unreachable!("a blocking getter lost its node"),
            }
        }
        let slot = node.as_mut().value_mut().expect("a notified node is not queued");
        match std::mem::replace(slot, GetSlot::Waiting) {
            GetSlot::Item(e) => Ok(e.item),
            GetSlot::Closed => Err(BlockingGetError::Closed),
            GetSlot::Waiting => unreachable!("a getter notified with nothing"),
        }
    }

    /// Blocks a plain thread until every accepted item was marked done.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime: `.await`
    /// [`join`](Self::join) there.
    ///
    /// ```
    /// let q = corral::sync::Queue::unbounded();
    /// q.put_nowait(1).unwrap();
    /// let q2 = q.clone();
    /// std::thread::spawn(move || {
    ///     q2.blocking_get().unwrap();
    ///     q2.task_done().unwrap();
    /// });
    /// q.blocking_join();
    /// ```
    #[track_caller]
    pub fn blocking_join(&self) {
        let r = self.blocking_join_until(None, "Queue::blocking_join");
        debug_assert!(r.is_ok());
    }

    /// As [`blocking_join`](Self::blocking_join), giving up after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`JoinTimeout`] if items were still unfinished.
    ///
    /// # Panics
    ///
    /// As [`blocking_join`](Self::blocking_join).
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = corral::sync::Queue::<u8>::unbounded();
    /// assert!(q.blocking_join_timeout(Duration::from_millis(1)).is_ok()); // nothing unfinished
    /// ```
    #[track_caller]
    pub fn blocking_join_timeout(&self, timeout: Duration) -> Result<(), JoinTimeout> {
        self.blocking_join_until(deadline(timeout), "Queue::blocking_join_timeout")
    }

    #[track_caller]
    fn blocking_join_until(&self, deadline: Option<Instant>, what: &str) -> Result<(), JoinTimeout> {
        assert_may_block(what);
        let node = pin!(WaitNode::new(false));
        {
            let mut st = self.inner.state.lock();
            if st.unfinished == 0 {
                return Ok(());
            }
            // SAFETY: as in `blocking_get_until`.
            unsafe { st.joiners.push_back_thread(node.as_ref()) };
        }
        if !node.as_ref().park_until(deadline) {
            let mut st = self.inner.state.lock();
            // SAFETY: the node is queued in this list or in none; lock held.
            match unsafe { st.joiners.remove(node.as_ref()) } {
                Removed::Notified => {}
                Removed::Unlinked { .. } => return Err(JoinTimeout(())),
                Removed::NotQueued => unreachable!("a blocking joiner lost its node"),
            }
        }
        Ok(())
    }
}

impl<T: Ord> Queue<T> {
    /// A priority queue (asyncio's `PriorityQueue`): smallest item first,
    /// equal items in put order; at most `maxsize` items (`0`: rendezvous,
    /// `usize::MAX`: unbounded).
    ///
    /// `T::cmp` runs under the queue's lock: keep it cheap, and do not
    /// touch the queue from it (that would deadlock). If it panics, the
    /// panic reaches the caller of `put`/`get` and no item is lost, though
    /// the order of the items then buffered is unspecified.
    ///
    /// ```
    /// let q = corral::sync::Queue::priority(usize::MAX);
    /// for (prio, job) in [(2, "low"), (0, "urgent"), (1, "normal")] {
    ///     q.put_nowait((prio, job)).unwrap();
    /// }
    /// assert_eq!(q.get_nowait().unwrap().1, "urgent");
    /// assert_eq!(q.get_nowait().unwrap().1, "normal");
    /// ```
    #[track_caller]
    pub fn priority(maxsize: usize) -> Self {
        Self::build(Buffer::heap(T::cmp), maxsize)
    }
}
