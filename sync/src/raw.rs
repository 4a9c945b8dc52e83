//! The shared machinery every corral-sync primitive that hands out permits
//! stands on: a fair, counting [`RawSemaphore`] over
//! [`corral_runtime::wait`], its waiter future [`Acquire`], and the
//! blocking path for plain threads.
//!
//! # State, and who may touch it
//!
//! One short lock (`state`) guards `permits` (free permits), `closed`, and
//! the [`WaitList`] of waiters. Each waiter's payload is a [`Request`]:
//! how many permits it needs, how many it was assigned so far, and whether
//! the semaphore closed on it. The payload belongs to the list's lock while
//! the node is queued, to the waiter otherwise (see the wait hook's
//! protocol table).
//!
//! # Invariant: no barging
//!
//! `permits > 0` only while nobody waits (or after `close`). Every release
//! goes through [`State::dispatch`], which hands permits to the head of the
//! queue first: a head that can be served in full is assigned what it needs
//! and woken (`wake_front`, so it runs next on the waking worker); one that
//! cannot is assigned what there is (a *partial handoff*) and stays at the
//! head, so smaller requests behind it never overtake it. Because free
//! permits never coexist with waiters, the fast paths (`poll` before
//! queueing, `try_acquire`) only take permits when nobody waits, and a
//! release is a direct handoff.
//!
//! # Cancellation (the handoff-or-pass-on rule)
//!
//! An [`Acquire`] dropped while waiting locks the state and calls
//! [`WaitList::remove`]:
//!
//! - `Removed::Notified`: it was handed all it asked for; the permits go
//!   back through `dispatch` (to the next waiter, or the pool).
//! - `Removed::Unlinked { was_head }`: no wake reached it, but as head it
//!   may hold a partial handoff; that goes back, and if it was the head the
//!   waiters behind it are dispatched again (a small request behind a
//!   cancelled large one proceeds).
//! - `Removed::NotQueued`: nothing to do.
//!
//! A blocking acquire that times out does the same, except that a
//! `Notified` race is kept (reported as success).
//!
//! # Closing
//!
//! `close` sets `closed`, marks every waiter closed, takes back their
//! partial handoffs and wakes them all (in chunks of
//! [`WakeBatch::CAPACITY`], releasing the lock between chunks). From then
//! on `dispatch` hands nothing out, so a release that runs between two
//! chunks leaves its permits in the pool instead of giving them to a
//! waiter that will return `Err(Closed)`.

use crate::error::{AcquireError, BlockingAcquireError, TryAcquireError};
use crate::loom::{Lock, LockGuard};
use corral_runtime::coop;
use corral_runtime::task::{self, Id};
use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};
use std::time::Instant;

/// The most permits a semaphore holds, and the largest single request
/// (as tokio's: `usize::MAX >> 3`).
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

/// A waiter's payload.
#[derive(Debug)]
pub(crate) struct Request {
    /// Permits asked for.
    needed: usize,
    /// Permits handed over so far (a partial handoff while `< needed`).
    assigned: usize,
    /// The semaphore closed before the request was served.
    closed: bool,
    /// The task that waits (None: a thread, or a future outside corral).
    task: Option<Id>,
}

pub(crate) struct State {
    permits: usize,
    closed: bool,
    /// The task granted permits last; exact for a one-permit semaphore
    /// (the Mutex's holder), cleared by every release.
    holder: Option<Id>,
    /// Free permits never exceed this: [`MAX_PERMITS`], or a bounded
    /// semaphore's initial value.
    bound: usize,
    waiters: WaitList<Request>,
}

impl State {
    /// Hands free permits to the waiters, front first, and marks the ones
    /// served in full for waking. Returns true if more could be served but
    /// the batch is full (wake it, lock again, call once more).
    fn dispatch(&mut self, batch: &mut WakeBatch) -> bool {
        if self.closed {
            // Every waiter is marked closed and `close` is waking them (in
            // chunks, between which a release may run): a permit handed to
            // one now would be dropped with its `Err(Closed)`. Keep it.
            return false;
        }
        while self.permits > 0 {
            let Some(front) = self.waiters.front_mut() else {
                return false;
            };
            let want = front.needed - front.assigned;
            if self.permits < want {
                // Partial handoff: the head keeps its place and what there is.
                front.assigned += self.permits;
                self.permits = 0;
                return false;
            }
            if batch.is_full() {
                return true;
            }
            self.permits -= want;
            front.assigned = front.needed;
            self.holder = front.task;
            self.waiters.wake_front(batch);
        }
        false
    }

    /// Adds `n` permits (saturating at the bound).
    fn add(&mut self, n: usize) {
        self.permits = self.permits.saturating_add(n).min(self.bound);
    }
}

/// A fair counting semaphore with direct handoff; the engine of
/// [`Semaphore`](crate::Semaphore) and [`Mutex`](crate::Mutex).
pub(crate) struct RawSemaphore {
    state: Lock<State>,
}

impl fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("RawSemaphore")
            .field("permits", &st.permits)
            .field("closed", &st.closed)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}

impl RawSemaphore {
    pub(crate) fn new(permits: usize) -> Self {
        Self::with_bound(permits, MAX_PERMITS)
    }

    /// A semaphore whose free permits never exceed `bound`.
    pub(crate) fn with_bound(permits: usize, bound: usize) -> Self {
        let bound = bound.min(MAX_PERMITS);
        RawSemaphore {
            state: Lock::new(State {
                permits: permits.min(bound),
                closed: false,
                holder: None,
                bound,
                waiters: WaitList::new(),
            }),
        }
    }

    /// `(free permits, waiters, closed)`.
    pub(crate) fn snapshot(&self) -> (usize, usize, bool) {
        let st = self.state.lock();
        (st.permits, st.waiters.len(), st.closed)
    }

    /// The task granted permits last (see `State::holder`).
    pub(crate) fn holder(&self) -> Option<Id> {
        self.state.lock().holder
    }

    pub(crate) fn available(&self) -> usize {
        self.state.lock().permits
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Takes `n` permits now if they are free and nobody waits.
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryAcquireError> {
        if n > MAX_PERMITS {
            return Err(TryAcquireError::TooMany {
                requested: n,
                max: MAX_PERMITS,
            });
        }
        let mut st = self.state.lock();
        if st.closed {
            return Err(TryAcquireError::Closed);
        }
        // `permits > 0` implies nobody waits (module invariant), so taking
        // them barges past nobody.
        if st.permits >= n {
            st.permits -= n;
            st.holder = task::try_id();
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// A future that waits for `n` permits.
    pub(crate) fn acquire(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            node: WaitNode::new(Request {
                needed: n,
                assigned: 0,
                closed: false,
                task: None,
            }),
        }
    }

    /// Gives `n` permits back (or adds new ones), handing them to waiters
    /// first.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut st = self.state.lock();
        st.holder = None;
        if st.waiters.is_empty() {
            st.add(n);
            return;
        }
        self.release_slow(st, n);
    }

    /// Gives `n` permits back unless that would leave more than `max` free
    /// (counting a partial handoff to the head as free): the bounded
    /// semaphore's `release`. Err leaves the state untouched.
    pub(crate) fn release_bounded(&self, n: usize, max: usize) -> Result<(), usize> {
        let mut st = self.state.lock();
        let partial = st.waiters.front_mut().map_or(0, |r| r.assigned);
        let free = st.permits + partial;
        if free.saturating_add(n) > max {
            return Err(free);
        }
        if n == 0 {
            return Ok(());
        }
        st.holder = None;
        if st.waiters.is_empty() {
            st.add(n);
            return Ok(());
        }
        self.release_slow(st, n);
        Ok(())
    }

    #[cold]
    fn release_slow(&self, mut st: LockGuard<'_, State>, n: usize) {
        st.add(n);
        let mut first = Some(st);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state.lock()),
            |st, batch| st.dispatch(batch),
        );
    }

    /// Closes: every waiter is woken with `AcquireError::Closed` (partial
    /// handoffs go back to the pool), and later acquires fail.
    pub(crate) fn close(&self) {
        WakeBatch::wake_in_chunks(
            || self.state.lock(),
            |st, batch| {
                st.closed = true;
                let mut back = 0;
                for req in st.waiters.iter_mut() {
                    back += std::mem::take(&mut req.assigned);
                    req.closed = true;
                }
                st.add(back);
                st.waiters.wake_all(batch)
            },
        );
    }

    /// Blocks the current (non-runtime) thread until `n` permits are ours,
    /// the semaphore closes, or `deadline` passes.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (see
    /// [`assert_may_block`]); `what` names the caller in the message.
    #[track_caller]
    pub(crate) fn blocking_acquire(
        &self,
        n: usize,
        deadline: Option<Instant>,
        what: &str,
    ) -> Result<(), BlockingAcquireError> {
        assert_may_block(what);
        if n > MAX_PERMITS {
            return Err(BlockingAcquireError::TooMany {
                requested: n,
                max: MAX_PERMITS,
            });
        }
        let mut node = pin!(WaitNode::new(Request {
            needed: n,
            assigned: 0,
            closed: false,
            task: None,
        }));
        {
            let mut st = self.state.lock();
            if st.closed {
                return Err(BlockingAcquireError::Closed);
            }
            if n == 0 || (st.waiters.is_empty() && st.permits >= n) {
                st.permits -= n;
                st.holder = None;
                return Ok(());
            }
            if st.waiters.is_empty() {
                // Head of an empty queue: take what there is now.
                let take = st.permits;
                st.permits = 0;
                // SAFETY: not queued yet: the payload is ours.
                unsafe { st.waiters.value_of(node.as_ref()) }.assigned = take;
            }
            // SAFETY: the node is in no list; it only ever goes into this
            // one, under this lock, and leaves it (woken, or `remove`d
            // below) before this function returns and drops it.
            unsafe { st.waiters.push_back_thread(node.as_ref()) };
        }
        let notified = match deadline {
            None => {
                node.as_ref().park_until_notified();
                true
            }
            Some(d) => node.as_ref().park_until_notified_or(d),
        };
        if !notified {
            let mut st = self.state.lock();
            // SAFETY: the node is queued in this list or in none; lock held.
            match unsafe { st.waiters.remove(node.as_ref()) } {
                // The wake raced the timeout: the handoff is ours, keep it.
                Removed::Notified => {}
                Removed::Unlinked { .. } => {
                    // SAFETY: unlinked: the payload is ours again.
                    let back = std::mem::take(&mut unsafe { st.waiters.value_of(node.as_ref()) }.assigned);
                    st.add(back);
                    self.dispatch_after(st);
                    return Err(BlockingAcquireError::Timeout);
                }
                Removed::NotQueued => unreachable!("a blocking waiter lost its node"),
            }
        }
        let req = node.as_mut().value_mut().expect("a notified node is not queued");
        if req.closed {
            Err(BlockingAcquireError::Closed)
        } else {
            Ok(())
        }
    }

    /// Dispatches the waiters (after a partial handoff came back or the
    /// head left), waking them after releasing `st`.
    fn dispatch_after(&self, st: LockGuard<'_, State>) {
        let mut first = Some(st);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state.lock()),
            |st, batch| st.dispatch(batch),
        );
    }
}

/// The future of [`RawSemaphore::acquire`]: the shared waiter future.
///
/// Its node is pinned inside it (no allocation per wait). The first poll
/// takes the permits if they are free and nobody waits (after spending one
/// unit of the task's cooperative budget, so a loop of uncontended
/// acquires still gives way); otherwise it queues, taking whatever is free
/// as a partial handoff if it is first. Later polls re-record the waker if
/// it changed. Dropping it while it waits follows the cancellation rule in
/// the [module docs](self).
pub(crate) struct Acquire<'a> {
    sem: &'a RawSemaphore,
    node: WaitNode<Request>,
}

impl Acquire<'_> {
    fn node(self: Pin<&Self>) -> Pin<&WaitNode<Request>> {
        // SAFETY: `node` is structurally pinned: never moved out of `Acquire`.
        unsafe { self.map_unchecked(|a| &a.node) }
    }

    fn node_mut(self: Pin<&mut Self>) -> Pin<&mut WaitNode<Request>> {
        // SAFETY: as in `node`.
        unsafe { self.map_unchecked_mut(|a| &mut a.node) }
    }

    /// The outcome of a notified (and consumed) node.
    fn finish(self: Pin<&mut Self>) -> Poll<Result<(), AcquireError>> {
        let req = self
            .node_mut()
            .value_mut()
            .expect("a notified node is not queued");
        if req.closed {
            Poll::Ready(Err(AcquireError::Closed))
        } else {
            Poll::Ready(Ok(()))
        }
    }
}

impl Future for Acquire<'_> {
    type Output = Result<(), AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let node = self.as_ref().node();
        if node.take_notified() {
            return self.finish();
        }
        let queued = node.is_queued();
        if !queued {
            ready!(coop::poll_consume_budget(cx));
        }
        let sem = self.sem;
        let mut st = sem.state.lock();
        let node = self.as_ref().node();
        // Again under the lock: a wake may have landed in between.
        if node.take_notified() {
            drop(st);
            return self.finish();
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { st.waiters.update_waker(node, cx) };
            stale.drop_after(st);
            return Poll::Pending;
        }
        // SAFETY: not queued: the payload is ours (the owner's).
        let needed = unsafe { st.waiters.value_of(node) }.needed;
        if needed > MAX_PERMITS {
            return Poll::Ready(Err(AcquireError::TooMany {
                requested: needed,
                max: MAX_PERMITS,
            }));
        }
        if st.closed {
            return Poll::Ready(Err(AcquireError::Closed));
        }
        if needed == 0 {
            // Nothing to wait for, even behind other waiters.
            return Poll::Ready(Ok(()));
        }
        let me = task::try_id();
        if st.waiters.is_empty() {
            if st.permits >= needed {
                st.permits -= needed;
                st.holder = me;
                return Poll::Ready(Ok(()));
            }
            // First in line: take what there is now (partial handoff).
            let take = std::mem::take(&mut st.permits);
            // SAFETY: not queued: the payload is ours.
            unsafe { st.waiters.value_of(node) }.assigned = take;
        }
        // SAFETY: as above.
        unsafe { st.waiters.value_of(node) }.task = me;
        // SAFETY: the node is in no list; it only ever goes into this one,
        // under this lock, and `Drop` removes it before it is freed.
        unsafe { st.waiters.push_back(node, cx) };
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut st = self.sem.state.lock();
        // SAFETY: the node can only be in this semaphore's list; lock held.
        let removed = unsafe { st.waiters.remove(node) };
        match removed {
            Removed::NotQueued => {}
            Removed::Notified | Removed::Unlinked { .. } => {
                // Handed all (Notified) or part (Unlinked head) of what it
                // asked for, or nothing: give it back, and dispatch, so the
                // permits or the head's place pass on.
                // SAFETY: no longer queued: the payload is ours again.
                let back = std::mem::take(&mut unsafe { st.waiters.value_of(node) }.assigned);
                let head_left = matches!(removed, Removed::Unlinked { was_head: true });
                if back == 0 && !head_left {
                    return;
                }
                st.add(back);
                self.sem.dispatch_after(st);
            }
        }
    }
}

// Added for RwLock (kept apart from the engine's own code above).
impl RawSemaphore {
    /// `(free permits, the head waiter's partial handoff, waiters)`, read
    /// under one lock: with a known total, `total - free - partial` is what
    /// the holders have (RwLock counts its readers this way).
    pub(crate) fn snapshot_held(&self) -> (usize, usize, usize) {
        let mut st = self.state.lock();
        let partial = st.waiters.front_mut().map_or(0, |r| r.assigned);
        (st.permits, partial, st.waiters.len())
    }
}
