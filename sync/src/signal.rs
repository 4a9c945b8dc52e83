//! The waiter queue shared by the signalling primitives ([`Event`] and
//! [`Condition`]): a [`WaitList`] of *tickets* under one short lock, a
//! waiter future's node with the cancellation rule, and the blocking path.
//!
//! Unlike the raw semaphore, these primitives hand nothing countable over:
//! a wake *is* the handoff (the event was set; the waiter was notified).
//!
//! # State, and who may touch it
//!
//! [`SignalQueue`] holds a lock over [`Tickets`]: the list of waiters and
//! the next ticket number. Each waiter's payload is its ticket, taken under
//! the lock when it queues, so tickets grow from the front of the list to
//! the back. The payload is the list's while the node is queued, the
//! waiter's otherwise (the wait hook's protocol table).
//!
//! # Waking only those who were there
//!
//! [`SignalQueue::wake`] reads the next ticket number when it starts (the
//! *bound*) and wakes from the front only waiters whose ticket is below it,
//! up to `n` of them, in chunks of [`WakeBatch::CAPACITY`] (releasing the
//! lock between chunks, so a thousand waiters never stall other lockers).
//! A waiter that queues between two chunks has a ticket at or above the
//! bound, so it is not woken by a wake that began before it queued: an
//! `Event::set` followed by `clear` does not release a task that started
//! waiting after the `clear`, and `notify_all` wakes exactly the waiters
//! present when it was called.
//!
//! A waiter that was queued when the wake began is marked notified under
//! the lock (the wait hook's `NOTIFIED` state) before the lock is released,
//! and completes on its next poll whatever happens in between (a `clear`,
//! another wake).
//!
//! # Cancellation
//!
//! A [`Waiter`] dropped while waiting locks the queue and removes its node
//! ([`WaitList::remove`]):
//!
//! - `Removed::Unlinked`: nobody woke it; it leaves the queue, nothing
//!   else happens.
//! - `Removed::Notified`: it was woken but will not act on it. For an
//!   Event nothing is lost (every waiter present was woken). A Condition
//!   waiter ([`PassOn::Yes`]) passes the notification on: it wakes one more
//!   waiter, the first still queued.
//! - `Removed::NotQueued`: nothing to do.
//!
//! The blocking path ([`SignalQueue::blocking_wait`]) does the same on a
//! timeout, except that a `Notified` race is kept: the wake came in time.

use crate::loom::{Lock, LockGuard};
use corral_runtime::wait::{Removed, WaitList, WaitNode, WakeBatch};
use std::fmt;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Instant;

#[cfg(doc)]
use crate::{Condition, Event};

/// The waiters of one primitive and the next ticket, under the queue's
/// lock.
pub(crate) struct Tickets {
    /// The ticket the next waiter to queue takes.
    next: u64,
    /// Waiters, front first; payload: the waiter's ticket.
    list: WaitList<u64>,
}

impl Tickets {
    /// Number of waiters queued.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// # Safety
    ///
    /// `node` is in no list, only ever goes into this one (under the
    /// queue's lock), and is removed from it before it is dropped.
    unsafe fn push(&mut self, node: Pin<&WaitNode<u64>>, cx: &Context<'_>) {
        // SAFETY: not queued: the payload is the owner's, and we are it.
        *unsafe { self.list.value_of(node) } = self.next;
        self.next += 1;
        // SAFETY: forwarded contract.
        unsafe { self.list.push_back(node, cx) };
    }

    /// # Safety
    ///
    /// As [`push`](Self::push); the current thread then parks on the node.
    unsafe fn push_thread(&mut self, node: Pin<&WaitNode<u64>>) {
        // SAFETY: not queued: the payload is ours.
        *unsafe { self.list.value_of(node) } = self.next;
        self.next += 1;
        // SAFETY: forwarded contract.
        unsafe { self.list.push_back_thread(node) };
    }

    /// Marks for waking, front first, the waiters whose ticket is below
    /// `bound`, until `*left` reaches 0 or the batch is full. Returns true
    /// if more could be woken but the batch is full.
    fn fill(&mut self, bound: u64, left: &mut usize, batch: &mut WakeBatch) -> bool {
        while *left > 0 {
            match self.list.front_mut() {
                Some(ticket) if *ticket < bound => {}
                _ => return false,
            }
            if batch.is_full() {
                return true;
            }
            self.list.wake_front(batch);
            *left -= 1;
        }
        false
    }
}

/// The lock over [`Tickets`]; see the [module docs](self).
pub(crate) struct SignalQueue {
    state: Lock<Tickets>,
}

impl SignalQueue {
    pub(crate) fn new() -> Self {
        SignalQueue {
            state: Lock::new(Tickets {
                next: 0,
                list: WaitList::new(),
            }),
        }
    }

    pub(crate) fn lock(&self) -> LockGuard<'_, Tickets> {
        self.state.lock()
    }

    /// Number of waiters queued now.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().len()
    }

    /// Wakes up to `n` of the waiters that were queued when `first` was
    /// taken, front first (FIFO), in chunks, releasing the lock (starting
    /// with `first`) before each chunk is woken. Returns how many it woke.
    pub(crate) fn wake(&self, first: LockGuard<'_, Tickets>, n: usize) -> usize {
        if n == 0 || first.list.is_empty() {
            return 0;
        }
        let bound = first.next;
        let mut left = n;
        let mut first = Some(first);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state.lock()),
            |t, batch| t.fill(bound, &mut left, batch),
        );
        n - left
    }

    /// Blocks the current thread until a wake reaches it, `ready()` (asked
    /// under the lock, before queueing) is already true, or `deadline`
    /// passes. `queued` runs once the thread is queued, outside the lock
    /// (a Condition releases its mutex there). Returns false on timeout.
    /// Call [`assert_may_block`](corral_runtime::wait::assert_may_block)
    /// first.
    pub(crate) fn blocking_wait(
        &self,
        deadline: Option<Instant>,
        ready: impl FnOnce() -> bool,
        queued: impl FnOnce(),
    ) -> bool {
        let node = pin!(WaitNode::new(0u64));
        {
            let mut t = self.state.lock();
            if ready() {
                return true;
            }
            // SAFETY: the node is in no list; it only goes into this one,
            // under this lock, and leaves it (woken, or removed below)
            // before this function returns and drops it.
            unsafe { t.push_thread(node.as_ref()) };
        }
        queued();
        let Some(deadline) = deadline else {
            node.as_ref().park_until_notified();
            return true;
        };
        if node.as_ref().park_until_notified_or(deadline) {
            return true;
        }
        let mut t = self.state.lock();
        // SAFETY: the node is queued in this list or in none; lock held.
        match unsafe { t.list.remove(node.as_ref()) } {
            // The wake raced the timeout: it came in time, keep it.
            Removed::Notified => true,
            Removed::Unlinked { .. } => false,
            Removed::NotQueued => unreachable!("a blocking waiter lost its node"),
        }
    }
}

impl fmt::Debug for SignalQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalQueue")
            .field("waiting", &self.len())
            .finish()
    }
}

/// What a [`Waiter`] dropped after being woken does with the wake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PassOn {
    /// Nothing: every waiter present was woken anyway (Event).
    No,
    /// Wake the next waiter in its place (Condition).
    Yes,
}

/// A waiting future's place in a [`SignalQueue`]: the pinned node, and the
/// cancellation rule in `Drop`.
pub(crate) struct Waiter<'a> {
    queue: &'a SignalQueue,
    pass_on: PassOn,
    node: WaitNode<u64>,
}

impl<'a> Waiter<'a> {
    pub(crate) fn new(queue: &'a SignalQueue, pass_on: PassOn) -> Self {
        Waiter {
            queue,
            pass_on,
            node: WaitNode::new(0),
        }
    }

    fn node(self: Pin<&Self>) -> Pin<&WaitNode<u64>> {
        // SAFETY: `node` is structurally pinned: never moved out of `Waiter`.
        unsafe { self.map_unchecked(|w| &w.node) }
    }

    /// Ready once a wake reached this waiter (consuming it), or at once if
    /// `ready()` (asked under the lock, only before queueing) is true;
    /// otherwise queues (first poll) or re-records the waker (later polls).
    pub(crate) fn poll_wait(self: Pin<&Self>, cx: &Context<'_>, ready: impl FnOnce() -> bool) -> Poll<()> {
        let node = self.node();
        if node.take_notified() {
            return Poll::Ready(());
        }
        let mut t = self.queue.state.lock();
        // Again under the lock: a wake may have landed in between.
        if node.take_notified() {
            return Poll::Ready(());
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { t.list.update_waker(node, cx) };
            stale.drop_after(t);
            return Poll::Pending;
        }
        if ready() {
            return Poll::Ready(());
        }
        // SAFETY: the node is in no list; it only ever goes into this one,
        // under this lock, and `Drop` removes it before it is freed.
        unsafe { t.push(node, cx) };
        Poll::Pending
    }

    /// Leaves the queue now (a timeout): true if a wake had reached the
    /// waiter first (the wake is consumed and the caller owns it), false
    /// if it left unwoken.
    pub(crate) fn leave(self: Pin<&Self>) -> bool {
        let node = self.node();
        if node.take_notified() {
            return true;
        }
        if !node.is_queued() {
            return false;
        }
        let mut t = self.queue.state.lock();
        // SAFETY: the node can only be in this queue's list; lock held.
        matches!(unsafe { t.list.remove(node) }, Removed::Notified)
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if node.is_notified() && self.pass_on == PassOn::No {
            // Woken, not queued: the node is ours, nothing to hand on.
            return;
        }
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut t = self.queue.state.lock();
        // SAFETY: the node can only be in this queue's list; lock held.
        let removed = unsafe { t.list.remove(node) };
        if removed == Removed::Notified && self.pass_on == PassOn::Yes {
            // Woken but cancelled before acting on it: the next waiter
            // gets the wake instead (if anyone waits).
            self.queue.wake(t, 1);
        }
        // The lock is released (by `wake`, or here); the node and its
        // waiter record drop after.
    }
}

/// Passes one wake on when dropped armed: held by a Condition waiter
/// between consuming its notification and returning with the lock, so a
/// waiter cancelled while re-locking does not swallow the notification.
pub(crate) struct PassOnDrop<'a> {
    queue: Option<&'a SignalQueue>,
}

impl<'a> PassOnDrop<'a> {
    /// Armed if `armed` (a notification was consumed), inert otherwise.
    pub(crate) fn new(queue: &'a SignalQueue, armed: bool) -> Self {
        PassOnDrop {
            queue: armed.then_some(queue),
        }
    }

    /// The notification was acted on: pass nothing on.
    pub(crate) fn disarm(mut self) {
        self.queue = None;
    }
}

impl Drop for PassOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(queue) = self.queue {
            queue.wake(queue.lock(), 1);
        }
    }
}
