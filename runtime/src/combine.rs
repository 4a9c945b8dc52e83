//! Combinators: run several futures concurrently in the calling task.
//!
//! - [`gather`] / [`try_gather`]: every future of a collection, outputs
//!   in input order (`try_gather` stops at the first `Err`).
//! - [`race`]: the first future of a collection to finish; the rest are
//!   dropped.
//! - [`join!`](crate::join) / [`try_join!`](crate::try_join): a fixed set
//!   of futures of different types.
//! - [`bounded_map`] / [`try_bounded_map`]: a function over items with at
//!   most `limit` futures in flight, results in input order, an optional
//!   progress callback; [`bounded_map_spawned`] runs each item as a task on
//!   the workers instead.
//!
//! None of them spawns (except `bounded_map_spawned`): the futures are
//! polled by the task that awaits the combinator, so they may borrow from
//! it, and dropping the combinator drops them — cancellation needs no
//! extra machinery. The engine (`set.rs`) gives every future its own
//! waker and polls only the futures that were woken, at most once per
//! poll of the combinator, and stops early when the task's cooperative
//! budget is spent.

mod bounded_map;
mod gather;
mod join;
mod race;
mod set;

pub use bounded_map::{
    bounded_map, bounded_map_spawned, try_bounded_map, BoundedMap, BoundedMapSpawned, TryBoundedMap,
};
pub use gather::{gather, try_gather, Gather, Split, TryGather};
pub use race::{race, Race};

#[doc(hidden)]
pub mod __private {
    pub use super::join::{JoinWake, JoinWaker, MaybeDone};
}
