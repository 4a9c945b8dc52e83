//! The futures of [`Barrier::wait`] and [`Barrier::wait_timeout`]: the
//! waiter side of the protocol in the [parent module](super).

use super::{
    remove_any, Arrival, Barrier, BarrierTimeoutError, BarrierWaitResult, BrokenBarrier, BrokenCause, Phase,
    Slot,
};
use corral_runtime::coop;
use corral_runtime::time::{self, Sleep};
use corral_runtime::wait::{Removed, WaitNode};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// The future of [`Barrier::wait`].
///
/// Its wait node is pinned inside it (no allocation per wait). Dropping it
/// while it waits frees its slot (see the [`Barrier`] docs).
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    pub(super) barrier: &'a Barrier,
    pub(super) node: WaitNode<Slot>,
    /// Set once it returned Ready: polled again, it returns the same.
    pub(super) result: Option<Result<BarrierWaitResult, BrokenBarrier>>,
}

impl BarrierWait<'_> {
    fn node(self: Pin<&Self>) -> Pin<&WaitNode<Slot>> {
        // SAFETY: `node` is structurally pinned: never moved out of `BarrierWait`.
        unsafe { self.map_unchecked(|w| &w.node) }
    }

    fn done(
        self: Pin<&mut Self>,
        r: Result<BarrierWaitResult, BrokenBarrier>,
    ) -> Poll<Result<BarrierWaitResult, BrokenBarrier>> {
        // SAFETY: `result` is not structurally pinned (a plain Copy value).
        unsafe { self.get_unchecked_mut() }.result = Some(r);
        Poll::Ready(r)
    }

    /// The outcome of a notified (and consumed) node; None: arrive again.
    fn notified_outcome(self: Pin<&mut Self>) -> Option<Result<BarrierWaitResult, BrokenBarrier>> {
        // SAFETY: as in `node`; `value_mut` does not move the node.
        let node = unsafe { self.map_unchecked_mut(|w| &mut w.node) };
        node.value_mut().expect("a notified node is not queued").outcome()
    }
}

impl Future for BarrierWait<'_> {
    type Output = Result<BarrierWaitResult, BrokenBarrier>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(r) = self.result {
            return Poll::Ready(r);
        }
        if self.as_ref().node().take_notified() {
            if let Some(r) = self.as_mut().notified_outcome() {
                return self.done(r);
            }
        }
        if !self.as_ref().node().is_queued() {
            ready!(coop::poll_consume_budget(cx));
        }
        let barrier = self.barrier;
        let mut st = barrier.state.lock();
        let node = self.as_ref().node();
        // Again under the lock: a wake may have landed in between.
        if node.take_notified() {
            if let Some(r) = self.as_mut().notified_outcome() {
                drop(st);
                return self.done(r);
            }
        }
        let node = self.as_ref().node();
        if node.is_queued() {
            // The node is in `waiters` or `entering`; `update_waker` only
            // touches the node itself, so either list's handle will do.
            // SAFETY: queued in one of this barrier's lists; lock held.
            let stale = unsafe { st.waiters.update_waker(node, cx) };
            stale.drop_after(st);
            return Poll::Pending;
        }
        // SAFETY: the node is in no list; it goes only into this barrier's
        // lists, under this lock, and `Drop` removes it before it is freed.
        match barrier.arrive(st, node, |list| unsafe { list.push_back(node, cx) }) {
            Arrival::Done(r) => self.done(r),
            Arrival::Queued => Poll::Pending,
            Arrival::RunAction(action, me) => {
                let r = barrier.run_action(action, me);
                self.done(r)
            }
        }
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut st = self.barrier.state.lock();
        // SAFETY: the node can only be in this barrier's lists; lock held.
        let removed = unsafe { remove_any(&mut st, node) };
        // SAFETY: no longer queued: the payload is ours.
        let phase = unsafe { st.waiters.value_of(node) }.phase;
        if matches!(removed, Removed::Unlinked { .. }) && phase == Phase::Waiting {
            // It had arrived in the filling cycle: free its place.
            st.arrived -= 1;
        }
        // Anything else (decided, held, entering, notified) hands nothing
        // over: nothing to pass on.
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait").field("node", &self.node).finish()
    }
}

/// The future of [`Barrier::wait_timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWaitTimeout<'a> {
    pub(super) wait: BarrierWait<'a>,
    pub(super) timeout: Duration,
    /// The timer, started at the first poll (inside the runtime).
    pub(super) sleep: Option<Sleep>,
    /// The timer fired while this party's cycle was held: wait on.
    pub(super) expired: bool,
    /// This wait timed out (polled again, it says so again).
    pub(super) timed_out: bool,
}

impl Future for BarrierWaitTimeout<'_> {
    type Output = Result<BarrierWaitResult, BarrierTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `wait` is structurally pinned; the other fields are not
        // (`Sleep` is Unpin) and are never used to move `wait`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let mut wait = unsafe { Pin::new_unchecked(&mut this.wait) };
        if this.timed_out {
            return Poll::Ready(Err(BarrierTimeoutError::TimedOut));
        }
        if let Poll::Ready(r) = wait.as_mut().poll(cx) {
            return Poll::Ready(r.map_err(Into::into));
        }
        if this.expired {
            return Poll::Pending;
        }
        let timeout = this.timeout;
        let sleep = this.sleep.get_or_insert_with(|| time::sleep(timeout));
        if Pin::new(sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        match wait.barrier.time_out(wait.as_ref().node()) {
            Some(r) => {
                this.timed_out = r == Err(BarrierTimeoutError::TimedOut);
                let res = match r {
                    Ok(ok) => Ok(ok),
                    Err(BarrierTimeoutError::Broken(b)) => Err(b),
                    // Marks the wait finished (it must not arrive again);
                    // `timed_out` keeps the answer for a later poll.
                    Err(BarrierTimeoutError::TimedOut) => Err(BrokenBarrier {
                        cause: BrokenCause::TimedOut,
                    }),
                };
                let _ = wait.done(res);
                Poll::Ready(r)
            }
            None => {
                this.expired = true;
                Poll::Pending
            }
        }
    }
}

impl fmt::Debug for BarrierWaitTimeout<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitTimeout")
            .field("wait", &self.wait)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
