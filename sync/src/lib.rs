#![doc(test(attr(deny(warnings))))]
//! corral-sync: synchronization primitives built on
//! [`corral_runtime::wait`], re-exported by the facade as `corral::sync`.
//!
//! Each primitive is a small piece of state plus a
//! [`WaitList`](corral_runtime::wait::WaitList) under one short lock, so a
//! release hands the lock or the permits straight to the next waiter and
//! schedules it on the waking worker (no barging, no thundering herd). A
//! waiter cancelled after being handed something passes it on.
//!
//! Every primitive works from corral tasks, from futures polled by another
//! executor, and from plain threads (`blocking_*` methods, each with a
//! `_timeout` variant), records where it was created, and reports a plain
//! `statistics()` struct.
//!
//! - [`Semaphore`]: fair counting semaphore; FIFO, large requests are not
//!   starved, `close`.
//! - [`BoundedSemaphore`]: a Semaphore that never exceeds its initial
//!   value; asyncio-style `acquire_manual` / `release` beside RAII permits.
//! - [`Mutex`]: fair async mutex with direct handoff, no poisoning.
//! - [`oneshot`] and [`mpsc`]: tokio's channels in tokio's shapes (one
//!   value; many senders to one receiver, bounded or unbounded).
//!
//! ```
//! use corral::sync::{Mutex, Semaphore};
//! # corral::Runtime::new().unwrap().block_on(async {
//! let sem = Semaphore::new(2);
//! let m = Mutex::new(0);
//! let _permit = sem.acquire().await.unwrap();
//! *m.lock().await += 1;
//! assert_eq!(sem.statistics().available, 1);
//! # });
//! ```
//!
//! # Internals
//!
//! - `raw`: the shared machinery: a fair counting semaphore with partial
//!   handoff, its waiter future, the cancellation rule and the blocking
//!   path. `Mutex` is one permit of it.
//! - `loom`: the lock type, switched to loom's under `--cfg loom`.
//! - `cell`: atomics, `Arc` and `UnsafeCell` for the channels, switched the
//!   same way.
//! - `park`: the channels' blocking path (drive the async waiter on a
//!   parked thread, with a deadline).
//! - `error`: the typed errors.

mod bounded_semaphore;
mod cell;
mod error;
mod loom;
pub mod mpsc;
mod mutex;
pub mod oneshot;
mod park;
mod raw;
mod semaphore;

pub use bounded_semaphore::{BoundedSemaphore, ReleaseError};
pub use error::{AcquireError, BlockingAcquireError, LockTimeout, TryAcquireError, TryLockError};
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, MutexStatistics, OwnedMutexGuard};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit, SemaphoreStatistics};
