//! Cooperative scheduling budget.
//!
//! A future that is always ready (a channel that never runs dry, a socket
//! with data always waiting, a lock nobody else wants) would keep its task
//! — and its worker — busy forever. Each task poll therefore starts with a
//! budget of [`BUDGET`] units; every resource operation that completes
//! spends one. When the budget is spent, resource futures return `Pending`
//! after waking their task, which goes to the back of the run queue and
//! lets the other tasks (and the I/O and timer driver) run.
//!
//! The `block_on` future gets the same budget on every poll (it is no task,
//! but an always-ready loop in `#[corral::main]` must give way just the
//! same): when it runs out, `block_on` runs the driver and the queued tasks
//! before polling it again. Code outside the runtime (plain threads,
//! foreign executors) is unconstrained.
//!
//! What spends a unit:
//!
//! - a resource whose operation may wait (a socket, a `Sleep`, a
//!   `JoinHandle`, a `WaitList` waiter) calls [`poll_proceed`] first and
//!   keeps the unit only if the operation completed;
//! - a primitive's fast path that completes without ever returning
//!   `Pending` (a free lock, a permit, an item in a queue) calls
//!   [`poll_consume_budget`], or `consume_budget().await` in async code.
//!
//! [`time::timeout`](crate::time::timeout) looks at the clock itself when
//! its inner future spent the budget, so a busy future still times out.
//!
//! This module is public for corral-sync and other crates that build
//! primitives on corral; applications rarely need it.

use crate::context;
use std::task::{Context, Poll};

/// Units of work a task may do in one poll before it must give way.
pub const BUDGET: u8 = 128;

/// The budget of the current poll: `None` means unconstrained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget(Option<u8>);

impl Budget {
    pub(crate) const fn initial() -> Budget {
        Budget(Some(BUDGET))
    }

    pub(crate) const fn unconstrained() -> Budget {
        Budget(None)
    }
}

/// Spends one unit of the current task's budget.
///
/// Returns `Pending` (after waking the task, so it is polled again soon) if
/// the budget is spent; otherwise a guard that gives the unit back on drop
/// unless [`made_progress`](RestoreOnPending::made_progress) is called. Call
/// it first in a resource's `poll`, and `made_progress` once the operation
/// completed:
///
/// ```
/// use corral_runtime::coop;
/// use std::task::{Context, Poll};
///
/// fn poll_next(ready: &mut Vec<u32>, cx: &mut Context<'_>) -> Poll<u32> {
///     let coop = std::task::ready!(coop::poll_proceed(cx));
///     match ready.pop() {
///         Some(v) => {
///             coop.made_progress();
///             Poll::Ready(v)
///         }
///         None => Poll::Pending, // (register the waker here) unit given back
///     }
/// }
/// # let waker = std::task::Waker::noop();
/// # assert_eq!(poll_next(&mut vec![7], &mut Context::from_waker(&waker)), Poll::Ready(7));
/// ```
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    match context::budget_spend() {
        Some(restore) => Poll::Ready(RestoreOnPending(restore)),
        None => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Spends one unit of the budget on an operation that has completed: for
/// a primitive's fast path, which never returns `Pending` on its own.
///
/// Returns `Ready(())` if there was a unit to spend (or the caller is
/// unconstrained); `Pending` after waking the task if the budget is spent,
/// so the task gives way before it takes the lock, permit or item. Call it
/// before touching the primitive's state, so nothing needs undoing. One
/// thread-local read and write: cheap enough for every fast path.
///
/// ```
/// use corral_runtime::coop;
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::task::{ready, Context, Poll};
///
/// /// Takes a ticket from a counter that never runs out.
/// struct Take<'a>(&'a AtomicUsize);
///
/// impl Future for Take<'_> {
///     type Output = usize;
///     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
///         ready!(coop::poll_consume_budget(cx));
///         Poll::Ready(self.0.fetch_add(1, Ordering::Relaxed))
///     }
/// }
///
/// # corral::Builder::new_current_thread().build().unwrap().block_on(async {
/// let tickets = AtomicUsize::new(0);
/// // After BUDGET tickets in one poll, `Take` gives way once: the loop
/// // still gets every ticket, and other tasks get a turn in between.
/// for i in 0..1000 {
///     assert_eq!(Take(&tickets).await, i);
/// }
/// # });
/// ```
#[inline]
pub fn poll_consume_budget(cx: &mut Context<'_>) -> Poll<()> {
    if context::budget_spend().is_some() {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Spends one unit of the budget, giving way to other tasks first if it
/// is spent: the async form of [`poll_consume_budget`], for a loop that
/// does work the runtime does not see (a computation, a lock-free queue)
/// and should still share its worker.
///
/// ```
/// # corral::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut sum = 0u64;
/// for i in 0..10_000u64 {
///     sum += i;
///     // Yields once every BUDGET iterations, not on every one.
///     corral::task::consume_budget().await;
/// }
/// assert_eq!(sum, 49_995_000);
/// # });
/// ```
///
/// # Cancel safety
///
/// Nothing to lose: it holds nothing, and a dropped one spent no unit.
pub async fn consume_budget() {
    std::future::poll_fn(poll_consume_budget).await
}

/// True if the current task (or `block_on` future) still has budget left,
/// or runs unconstrained.
///
/// ```
/// // Outside a task nothing is constrained.
/// assert!(corral_runtime::coop::has_budget_remaining());
/// ```
pub fn has_budget_remaining() -> bool {
    context::budget_get().0 != Some(0)
}

/// Gives an unspent budget unit back when dropped; see [`poll_proceed`].
#[must_use = "dropping the guard at once gives the unit back"]
#[derive(Debug)]
pub struct RestoreOnPending(Option<u8>);

impl RestoreOnPending {
    /// The operation completed: keep the unit spent.
    pub fn made_progress(mut self) {
        self.0 = None;
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            context::budget_set(Budget(Some(before)));
        }
    }
}

/// Spends the unit and returns the budget before, or None if spent.
pub(crate) fn spend(budget: Budget) -> Result<(Budget, Option<u8>), ()> {
    match budget.0 {
        None => Ok((budget, None)),
        Some(0) => Err(()),
        Some(n) => Ok((Budget(Some(n - 1)), Some(n))),
    }
}
