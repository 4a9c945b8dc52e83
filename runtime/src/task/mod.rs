//! Tasks: one allocation per spawned future.
//!
//! - `state.rs`: the atomic state word (lifecycle bits + reference count)
//!   and its transitions.
//! - `raw.rs`: the allocation (`Header`, scheduler, stage, join waker), its
//!   vtable and the harness that polls, cancels and completes it; the task
//!   waker.
//! - `join.rs`: [`JoinHandle`].
//! - `owned.rs`: the per-runtime list of live tasks, for shutdown.
//! - `error.rs`, `id.rs`: [`JoinError`], [`Id`].
//!
//! Life of a task: `spawn` allocates it with three references (owned list,
//! the first `Notified`, the join handle), binds it to the owned list and
//! queues the `Notified`. A worker pops it and calls `Notified::run`: the
//! harness claims `RUNNING`, polls under `catch_unwind`, and either
//! completes (stores the output, wakes the join handle, leaves the owned
//! list) or goes idle. A wake marks it `NOTIFIED` and queues a new
//! `Notified` through the scheduler; a wake while running makes the poller
//! requeue it. Abort sets `CANCELLED`; the next owner of `RUNNING` drops the
//! future and completes with [`JoinError::Cancelled`]. Runtime shutdown
//! walks the owned list and does the same in place.

mod error;
mod id;
mod join;
pub(crate) mod owned;
pub(crate) mod raw;
mod state;

pub use error::{JoinError, PanicPayload};
pub use id::Id;
pub use join::{AbortHandle, JoinHandle};

pub(crate) use raw::{Header, Hint};

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::ptr::NonNull;

/// What a task needs from the scheduler that owns it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queues a runnable task.
    fn schedule(&self, task: Notified, hint: Hint);
    /// Removes a completing task from the owned list; true if it was there
    /// (the caller then releases the list's reference).
    fn release(&self, task: NonNull<Header>) -> bool;
}

/// The one queued reference of a runnable task.
pub(crate) struct Notified {
    ptr: NonNull<Header>,
}

// SAFETY: a Notified is a reference-counted pointer to a task whose future
// and output are Send; the header fields it reads are atomics or immutable.
unsafe impl Send for Notified {}

impl Notified {
    /// Wraps the Notified reference the caller owns (the `NOTIFIED` bit is
    /// set on its behalf).
    pub(crate) fn from_raw(ptr: NonNull<Header>) -> Self {
        Notified { ptr }
    }

    /// Gives up the wrapper, keeping the reference (see `from_raw`).
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).ptr
    }

    /// The task's header (id, name, spawn site).
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the Notified reference keeps the task alive for as long
        // as `self` is borrowed.
        unsafe { self.ptr.as_ref() }
    }

    /// Polls the task once, consuming the reference.
    pub(crate) fn run(self) {
        let ptr = ManuallyDrop::new(self).ptr;
        // SAFETY: the Notified reference keeps the task alive and is handed
        // to `poll`, which consumes it.
        unsafe { (ptr.as_ref().vtable.poll)(ptr) }
    }
}

impl Drop for Notified {
    /// Dropped without running: only at shutdown, when the owned list
    /// takes care of the future.
    fn drop(&mut self) {
        // SAFETY: we own this reference.
        unsafe { raw::release(self.ptr) }
    }
}

/// Spawns `future` as a task of `scheduler`: allocates it, links it into
/// `owned` and queues it. If the runtime is shutting down the task is
/// cancelled at once (its handle reports `Cancelled`).
pub(crate) fn spawn_task<F, S>(
    future: F,
    scheduler: &S,
    owned: &owned::OwnedTasks,
    name: Option<Box<str>>,
    spawned_at: &'static std::panic::Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule + Clone,
{
    let ptr = raw::allocate(future, scheduler.clone(), Id::next(), name, spawned_at);
    // SAFETY: `allocate` made three references: one each for the owned
    // list, the Notified and the join handle, and set JOIN_INTEREST.
    let join = unsafe { JoinHandle::from_raw(ptr) };
    let notified = Notified::from_raw(ptr);
    if owned.bind(ptr) {
        scheduler.schedule(notified, Hint::Spawn);
    } else {
        // Closed: shut it down with the reference meant for the list.
        // SAFETY: we own that reference.
        unsafe { (ptr.as_ref().vtable.shutdown)(ptr) };
        drop(notified);
    }
    join
}

/// The id of the task being polled on this thread, if any.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let handle = corral::spawn(async { corral::task::try_id() });
/// let id = handle.id();
/// assert_eq!(handle.await.unwrap(), Some(id));
/// assert_eq!(corral::task::try_id(), None); // block_on's future is not a task
/// # });
/// ```
pub fn try_id() -> Option<Id> {
    crate::context::current_task()
}

/// Spawns a named task onto the current runtime; the name shows in
/// [`JoinError`] messages and [`JoinHandle::name`].
///
/// # Panics
///
/// Outside a runtime, as [`spawn`](crate::spawn).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let task = corral::task::spawn_named("indexer", async { panic!("disk full") });
/// let err = task.await.unwrap_err();
/// assert!(err.to_string().contains("(indexer) panicked: disk full"));
/// # });
/// ```
#[track_caller]
pub fn spawn_named<F>(name: impl Into<String>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    crate::handle::spawn_inner(future, Some(name.into().into_boxed_str()), Location::caller())
}
