//! Cooperative scheduling budget.
//!
//! A future that is always ready (a channel that never runs dry, a socket
//! with data always waiting) would keep its task — and its worker — busy
//! forever. Each task poll therefore starts with a budget of
//! [`BUDGET`] units; every resource operation that completes spends one
//! ([`poll_proceed`]). When the budget is spent, resource futures return
//! `Pending` after waking their task, which goes to the back of the run
//! queue and lets the other tasks run.
//!
//! Code outside a task (the `block_on` future, plain threads) is
//! unconstrained.
//!
//! This module is public for corral-sync and other crates that build
//! primitives on corral; applications never need it.

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

/// True if the current task still has budget left (or runs unconstrained).
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
