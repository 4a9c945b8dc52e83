//! Structured concurrency: [`TaskGroup`](crate::group::task::TaskGroup),
//! [`scope`](crate::group::task::scope) and [`CancelToken`](crate::group::task::CancelToken) (public
//! as `corral::task::{TaskGroup, scope, CancelToken, ...}`).
//!
//! - `token.rs`: `CancelToken` (flag, waiters, child tokens, hooks).
//! - `core.rs`: what a group's children share (`Core`: the count `join`
//!   waits for, the completion order, the link to the enclosing group) and
//!   the wrapper each child runs in (`Child`: catches panics, reports
//!   failures, tells the group when the child's future is gone).
//! - `task_group.rs`: `TaskGroup` itself (spawn, start, cancel, join) and
//!   `current_token`.
//! - `start.rs`: `Ready` and the slot behind `TaskGroup::start`.
//! - `scope.rs`: `scope`.
//! - `error.rs`: `ChildError`, `ChildErrorKind`, `GroupError`.
//!
//! The protocol (see `docs/structured-concurrency.md`): a child is an
//! ordinary runtime task whose future is `Child<F>`. The group keeps the
//! children's join handles under a lock, so that
//! cancelling, from any thread, aborts them all; its token's hook does
//! that. A child's `Err` or panic takes the next failure number and
//! cancels the token. The handles live in a slab whose index each child
//! reports (with whether it ended `Ok`) to the `Core`'s completion queue
//! when its future is gone; a `()` group drops the `Ok` ones at the front
//! of that queue when its slab would grow, and only counts them. `join`
//! waits until the `Core`'s count of live
//! children and live nested groups is zero, then reads every output. A
//! group created while a child of another group is being polled (found
//! through a thread-local the wrapper sets around the poll) is a nested
//! group: its token is a child of the outer token and it counts in the
//! outer group's `join` until its `Core` drops, or until the child that
//! opened it ends while its handle is still alive (it escaped the child:
//! see `core.rs`).

mod core;
mod error;
mod scope;
mod start;
mod task_group;
mod token;

/// The public items, re-exported by `corral::task`.
pub mod task {
    pub use super::error::{ChildError, ChildErrorKind, GroupError};
    pub use super::scope::scope;
    pub use super::start::Ready;
    pub use super::task_group::{current_token, TaskGroup};
    pub use super::token::{CancelToken, Cancelled};
}
