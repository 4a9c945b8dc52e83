//! The waiting side of [`Queue`]: the futures of `put`, `get` and `join`,
//! and the [`QueueStream`]. Each embeds its pinned [`WaitNode`] (no
//! allocation per wait) and follows the protocol of the
//! [queue module](super): first poll spends a unit of the cooperative
//! budget and tries at once; otherwise it queues; a later poll consumes the
//! notification and reads the payload; `Drop` removes the node and passes
//! on what it was handed.

use super::{GetSlot, Inner, PutSlot, Queue};
use crate::queue::{PutError, QueueClosed};
use corral_runtime::coop;
use corral_runtime::wait::{Removed, WaitNode, WakeBatch};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The future of [`Queue::put`]: resolves once the queue accepted the item.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let q = corral::sync::Queue::unbounded();
/// let put: corral::sync::Put<'_, i32> = q.put(1);
/// put.await.unwrap();
/// # });
/// ```
#[must_use = "futures do nothing unless polled; the item is put when this is awaited"]
pub struct Put<'a, T> {
    queue: &'a Queue<T>,
    node: WaitNode<PutSlot<T>>,
}

impl<'a, T> Put<'a, T> {
    pub(super) fn new(queue: &'a Queue<T>, item: T) -> Self {
        Put {
            queue,
            node: WaitNode::new(PutSlot {
                item: Some(item),
                closed: false,
            }),
        }
    }

    fn node(self: Pin<&Self>) -> Pin<&WaitNode<PutSlot<T>>> {
        // SAFETY: `node` is structurally pinned: never moved out of `Put`.
        unsafe { self.map_unchecked(|p| &p.node) }
    }

    fn node_mut(self: Pin<&mut Self>) -> Pin<&mut WaitNode<PutSlot<T>>> {
        // SAFETY: as in `node`.
        unsafe { self.map_unchecked_mut(|p| &mut p.node) }
    }

    /// The outcome of a notified (and consumed) node.
    fn finish(self: Pin<&mut Self>) -> Poll<Result<(), PutError<T>>> {
        let slot = self
            .node_mut()
            .value_mut()
            .expect("a notified node is not queued");
        if slot.closed {
            let item = slot.item.take().expect("a closed putter keeps its item");
            Poll::Ready(Err(PutError(item)))
        } else {
            Poll::Ready(Ok(()))
        }
    }
}

impl<T> Future for Put<'_, T> {
    type Output = Result<(), PutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let node = self.as_ref().node();
        if node.take_notified() {
            return self.finish();
        }
        if !node.is_queued() {
            ready!(coop::poll_consume_budget(cx));
        }
        let inner = self.queue.inner();
        let mut st = inner.state.lock();
        let node = self.as_ref().node();
        // Again under the lock: a wake may have landed in between.
        if node.take_notified() {
            drop(st);
            return self.finish();
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { st.putters.update_waker(node, cx) };
            stale.drop_after(st);
            return Poll::Pending;
        }
        // SAFETY: not queued: the payload is ours (the owner's).
        let item = unsafe { st.putters.value_of(node) }
            .item
            .take()
            .expect("Put polled after it completed");
        let mut batch = WakeBatch::new();
        match st.offer(item, &mut batch) {
            Ok(()) => {
                batch.wake_after(st);
                Poll::Ready(Ok(()))
            }
            Err(super::TryPutError::Closed(item)) => Poll::Ready(Err(PutError(item))),
            Err(super::TryPutError::QueueFull(item)) => {
                // SAFETY: not queued: the payload is ours.
                unsafe { st.putters.value_of(node) }.item = Some(item);
                // SAFETY: the node is in no list; it only ever goes into
                // this one, under this lock, and `Drop` removes it before
                // it is freed.
                unsafe { st.putters.push_back(node, cx) };
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Put<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut st = self.queue.inner().state.lock();
        // SAFETY: the node can only be in this queue's putter list; lock held.
        let _removed = unsafe { st.putters.remove(node) };
        drop(st);
        // Notified: the item was delivered (or the queue closed and the
        // item is still in the payload). Unlinked: the item never went in;
        // nobody behind us became servable, as the room did not change.
        // Either way nothing passes on; an item still in the payload drops
        // with the node, after the lock.
    }
}

impl<T> fmt::Debug for Put<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put").field("node", &"..").finish_non_exhaustive()
    }
}

/// The future of [`Queue::get`]: resolves to the next item.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let q = corral::sync::Queue::unbounded();
/// q.put_nowait(1).unwrap();
/// let get: corral::sync::Get<'_, i32> = q.get();
/// assert_eq!(get.await, Ok(1));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Get<'a, T> {
    queue: &'a Queue<T>,
    node: WaitNode<GetSlot<T>>,
}

impl<'a, T> Get<'a, T> {
    pub(super) fn new(queue: &'a Queue<T>) -> Self {
        Get {
            queue,
            node: WaitNode::new(GetSlot::Waiting),
        }
    }
}

impl<T> Future for Get<'_, T> {
    type Output = Result<T, QueueClosed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `node` is structurally pinned: never moved out of `Get`;
        // `queue` is a shared reference, copied out.
        let (queue, node) = unsafe {
            let this = self.get_unchecked_mut();
            (this.queue, Pin::new_unchecked(&mut this.node))
        };
        poll_get(queue.inner(), node, cx)
    }
}

impl<T> Drop for Get<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&mut self.node) };
        cancel_get(self.queue.inner(), node);
    }
}

impl<T> fmt::Debug for Get<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get").field("node", &"..").finish_non_exhaustive()
    }
}

/// The outcome of a notified (and consumed) getter node.
fn finish_get<T>(node: Pin<&mut WaitNode<GetSlot<T>>>) -> Result<T, QueueClosed> {
    let slot = node.value_mut().expect("a notified node is not queued");
    match std::mem::replace(slot, GetSlot::Waiting) {
        GetSlot::Item(e) => Ok(e.item),
        GetSlot::Closed => Err(QueueClosed),
        GetSlot::Waiting => unreachable!("a getter notified with nothing"),
    }
}

/// One poll of a get (the `Get` future's, and the stream's, whose node is
/// reused item after item).
fn poll_get<T>(
    inner: &Inner<T>,
    node: Pin<&mut WaitNode<GetSlot<T>>>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, QueueClosed>> {
    if node.as_ref().take_notified() {
        return Poll::Ready(finish_get(node));
    }
    if !node.is_queued() {
        ready!(coop::poll_consume_budget(cx));
    }
    let mut st = inner.state.lock();
    // Again under the lock: a wake may have landed in between.
    if node.as_ref().take_notified() {
        drop(st);
        return Poll::Ready(finish_get(node));
    }
    if node.is_queued() {
        // SAFETY: queued in this list; lock held.
        let stale = unsafe { st.getters.update_waker(node.as_ref(), cx) };
        stale.drop_after(st);
        return Poll::Pending;
    }
    let mut batch = WakeBatch::new();
    if let Some(e) = st.take(&mut batch) {
        batch.wake_after(st);
        return Poll::Ready(Ok(e.item));
    }
    if st.is_closed() {
        return Poll::Ready(Err(QueueClosed));
    }
    // SAFETY: the node is in no list (its payload is `Waiting`: a finished
    // get leaves it so); it only ever goes into this one, under this lock,
    // and is removed (`cancel_get`) before it is freed.
    unsafe { st.getters.push_back(node.as_ref(), cx) };
    Poll::Pending
}

/// A getter's cancellation: an item handed to it goes back.
fn cancel_get<T>(inner: &Inner<T>, node: Pin<&mut WaitNode<GetSlot<T>>>) {
    if !node.is_queued() && !node.is_notified() {
        return;
    }
    let mut st = inner.state.lock();
    // SAFETY: the node can only be in this queue's getter list; lock held.
    if unsafe { st.getters.remove(node.as_ref()) } != Removed::Notified {
        // Unlinked: nothing is written into a getter's payload before its
        // wake, and getters wait only on an empty queue, so nobody behind
        // it became servable. NotQueued: nothing to do.
        return;
    }
    // SAFETY: no longer queued: the payload is ours again.
    let slot = std::mem::replace(unsafe { st.getters.value_of(node.as_ref()) }, GetSlot::Waiting);
    if let GetSlot::Item(e) = slot {
        let mut batch = WakeBatch::new();
        st.give_back(e, &mut batch);
        batch.wake_after(st);
    }
}

/// The future of [`Queue::join`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let q = corral::sync::Queue::<u8>::unbounded();
/// let join: corral::sync::Join<'_, u8> = q.join();
/// join.await; // nothing unfinished
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Join<'a, T> {
    queue: &'a Queue<T>,
    node: WaitNode<bool>,
}

impl<'a, T> Join<'a, T> {
    pub(super) fn new(queue: &'a Queue<T>) -> Self {
        Join {
            queue,
            node: WaitNode::new(false),
        }
    }

    fn node(self: Pin<&Self>) -> Pin<&WaitNode<bool>> {
        // SAFETY: `node` is structurally pinned: never moved out of `Join`.
        unsafe { self.map_unchecked(|j| &j.node) }
    }
}

impl<T> Future for Join<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let node = self.as_ref().node();
        if node.take_notified() {
            return Poll::Ready(());
        }
        let mut st = self.queue.inner().state.lock();
        if node.take_notified() {
            return Poll::Ready(());
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { st.joiners.update_waker(node, cx) };
            stale.drop_after(st);
            return Poll::Pending;
        }
        if st.unfinished() == 0 {
            return Poll::Ready(());
        }
        // SAFETY: not queued: the payload is ours.
        *unsafe { st.joiners.value_of(node) } = false;
        // SAFETY: the node is in no list; it only ever goes into this one,
        // under this lock, and `Drop` removes it before it is freed.
        unsafe { st.joiners.push_back(node, cx) };
        Poll::Pending
    }
}

impl<T> Drop for Join<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut st = self.queue.inner().state.lock();
        // SAFETY: the node can only be in this queue's joiner list; lock held.
        // A join's wake is a broadcast: nothing to pass on.
        let _removed = unsafe { st.joiners.remove(node) };
    }
}

impl<T> fmt::Debug for Join<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").finish_non_exhaustive()
    }
}

/// The items of a [`Queue`] as a [`Stream`](futures_core::Stream), from
/// [`Queue::stream`]: each item is a `get`, and the stream ends once the
/// queue is closed and drained. It holds its own queue handle and one
/// waiter node, reused item after item (pin it to poll it).
///
/// Dropping it while it waits is a cancelled `get`: an item already handed
/// to it goes back to the queue.
///
/// ```
/// use futures_core::Stream;
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
/// let q = corral::sync::Queue::unbounded();
/// q.put_nowait(1).unwrap();
/// let mut s = pin!(q.stream());
/// let mut cx = Context::from_waker(Waker::noop());
/// assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(1)));
/// assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
/// q.close();
/// assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(None));
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct QueueStream<T> {
    queue: Queue<T>,
    node: WaitNode<GetSlot<T>>,
}

impl<T> QueueStream<T> {
    pub(super) fn new(queue: Queue<T>) -> Self {
        QueueStream {
            queue,
            node: WaitNode::new(GetSlot::Waiting),
        }
    }

    /// The queue this stream gets from.
    ///
    /// ```
    /// let q = corral::sync::Queue::<u8>::unbounded();
    /// let s = q.stream();
    /// assert_eq!(s.queue().qsize(), 0);
    /// ```
    pub fn queue(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> futures_core::Stream for QueueStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: `node` is structurally pinned: never moved out of the
        // stream; `queue` is only read.
        let (queue, node) = unsafe {
            let this = self.get_unchecked_mut();
            (&this.queue, Pin::new_unchecked(&mut this.node))
        };
        poll_get(queue.inner(), node, cx).map(Result::ok)
    }
}

impl<T> Drop for QueueStream<T> {
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&mut self.node) };
        cancel_get(self.queue.inner(), node);
    }
}

impl<T> fmt::Debug for QueueStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueStream")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}
