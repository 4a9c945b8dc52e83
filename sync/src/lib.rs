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
//! - [`CapacityLimiter`]: AnyIO's limiter: at most N borrowers (tasks,
//!   threads, blocking jobs, any key), one token each, total changeable at
//!   run time; `run_sync` under a token.
//! - [`ReentrantMutex`]: Python's `RLock`: the owning task (or thread) may
//!   lock again; shared access only; FIFO handoff between owners.
//! - [`oneshot`] and [`mpsc`]: tokio's channels in tokio's shapes (one
//!   value; many senders to one receiver, bounded or unbounded).
//! - [`broadcast`]: tokio's broadcast channel: every receiver sees every
//!   value (a ring of the last `capacity`); a receiver that falls behind
//!   gets `Lagged(n)` and carries on.
//! - [`mpmc`]: async-channel's shape on the mpsc core: cloneable
//!   receivers served FIFO, each item handed to exactly one.
//! - [`Barrier`]: `parties` tasks or threads meet, cycle after cycle;
//!   threading's action, break, `reset`, `abort` and timeouts.
//! - [`Notify`]: tokio's task notification: `notify_one` (one stored
//!   permit), `notify_waiters`, `notified().await`.
//! - [`RateLimiter`]: at most `max_calls` per `period` (sliding window) or
//!   a token bucket; FIFO waiters on the runtime's timers.
//! - [`RwLock`]: fair, write-preferring reader-writer lock (readers at the
//!   head admitted together, a waiting writer keeps new readers out),
//!   atomic downgrade.
//! - [`Queue`]: asyncio's `Queue` for tasks and threads: FIFO, LIFO or
//!   priority, bounded or not, direct handoff, `task_done` / `join`, `close`.
//! - [`watch`]: tokio's watch channel: one value, many senders and
//!   watchers, each seeing the latest value (`changed`, `borrow_and_update`,
//!   `wait_for`), plus a `WatchStream`.
//! - [`Event`]: a flag to wait on until it is set (asyncio / threading
//!   `Event`); [`Condition`]: a condition variable owning its `Mutex`
//!   (FIFO notify, notifications passed on by cancelled waiters).
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
//!   handoff (`RawSemaphore`), the Mutex's one-word engine (`RawMutex`),
//!   their waiter futures, the cancellation rule, the blocking path and
//!   the holder records.
//! - `loom`: the lock, atomics, `Arc` and data cells, switched to loom's
//!   under `--cfg loom`.
//! - `mpsc::chan`: the channel core shared by mpsc and mpmc (items,
//!   slots, waiting senders and receivers in `WaitList`s, the blocking
//!   path on the hook's thread waiters).
//! - `error`: the typed errors.
//! - `signal`: the ticketed waiter queue of `Event` and `Condition` (wake
//!   only the waiters present, in chunks; pass a notification on).

mod barrier;
mod bounded_semaphore;
pub mod broadcast;
mod capacity_limiter;
mod condition;
mod error;
mod event;
mod loom;
pub mod mpmc;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod queue;
mod rate_limiter;
mod raw;
mod reentrant_mutex;
mod rwlock;
mod semaphore;
mod signal;
#[cfg(not(loom))]
mod spin;
pub mod watch;

pub use barrier::{
    Barrier, BarrierStatistics, BarrierTimeoutError, BarrierWait, BarrierWaitResult, BarrierWaitTimeout,
    BrokenBarrier, BrokenCause,
};
pub use bounded_semaphore::{BoundedSemaphore, ReleaseError};
pub use capacity_limiter::{
    BlockingBorrowError, BorrowError, Borrower, CapacityLimiter, CapacityLimiterStatistics, CapacityToken,
    ReleaseTokenError, TryBorrowError,
};
pub use condition::{Condition, ConditionStatistics, WaitTimeoutResult};
pub use error::{AcquireError, BlockingAcquireError, LockTimeout, TryAcquireError, TryLockError};
pub use event::{Event, EventStatistics, EventTimeout, EventWait};
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, MutexStatistics, OwnedMutexGuard};
pub use notify::{Notified, Notify, NotifyStatistics, NotifyTimeout};
pub use queue::{
    BlockingGetError, BlockingPutError, Get, Join, JoinTimeout, Put, PutError, Queue, QueueClosed,
    QueueStatistics, QueueStream, TaskDoneError, TryGetError, TryPutError,
};
pub use rate_limiter::{
    BlockingRateLimitError, RateLimitError, RateLimiter, RateLimiterConfigError, RateLimiterStatistics,
    TryRateLimitError,
};
pub use reentrant_mutex::{ReentrantMutex, ReentrantMutexGuard, ReentrantMutexStatistics};
pub use rwlock::{
    OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockMappedWriteGuard,
    RwLockReadGuard, RwLockStatistics, RwLockTimeout, RwLockWriteGuard, TryReadError, TryWriteError,
};
pub use semaphore::{OwnedSemaphorePermit, PermitHolder, Semaphore, SemaphorePermit, SemaphoreStatistics};
