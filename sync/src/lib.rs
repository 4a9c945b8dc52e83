//! corral-sync: synchronization primitives built on
//! [`corral_runtime::wait`].
//!
//! Each primitive is a small piece of state plus a
//! [`WaitList`](corral_runtime::wait::WaitList) under one short lock, so a
//! release hands the lock, the permit or the item straight to the next
//! waiter and schedules it on the waking worker. The primitives land here
//! one issue at a time; today the crate holds only this description.
