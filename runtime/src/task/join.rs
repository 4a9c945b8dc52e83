use super::raw::{self, Header, Hint};
use super::state::ToNotified;
use super::{Id, JoinError};
use crate::coop;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// An owned permission to await a spawned task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked
/// or was cancelled. Dropping it *detaches* the task: it keeps running and
/// its output is dropped when it finishes. [`abort`](Self::abort) cancels it.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let handle = corral::spawn(async { 6 * 7 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping a `JoinHandle` future (for example in a `select!` branch that
/// lost) loses nothing: the task goes on and the output is dropped with it.
/// To cancel the task, call [`abort`](Self::abort).
pub struct JoinHandle<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output `T` across threads (it reads it
// out once), so `T: Send` suffices, as for a channel receiver.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only offers `abort`, `is_finished` and `id`, which
// touch the atomic state word, never the output.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}
// Only the atomic state and the output slot are shared, and the output is
// moved out whole: a panic elsewhere cannot leave it half-written.
impl<T> std::panic::UnwindSafe for JoinHandle<T> {}
impl<T> std::panic::RefUnwindSafe for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` is a task whose output type is `T`, and the caller gives the
    /// join handle's reference (with `JOIN_INTEREST` set).
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> Self {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle holds a reference, so the task is alive.
        unsafe { self.raw.as_ref() }
    }

    /// Cancels the task.
    ///
    /// An idle task is woken so a worker drops its future; a running one is
    /// cancelled when its current poll returns. Awaiting the handle then
    /// yields [`JoinError::Cancelled`] — unless the task finished first, in
    /// which case its output is kept and returned. Aborting a finished task
    /// does nothing.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let handle = corral::spawn(std::future::pending::<()>());
    /// handle.abort();
    /// assert!(handle.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort(&self) {
        abort(self.raw);
    }

    /// A handle that can only cancel the task, which any number of holders
    /// may keep (it is `Clone`), while the `JoinHandle` goes on to be
    /// awaited.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let task = corral::spawn(std::future::pending::<()>());
    /// let aborter = task.abort_handle();
    /// std::thread::spawn(move || aborter.abort()).join().unwrap();
    /// assert!(task.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        self.header().state.ref_inc();
        AbortHandle { raw: self.raw }
    }

    /// True once the task has finished (completed, panicked or been
    /// cancelled). Awaiting the handle then returns at once.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let handle = corral::spawn(async {});
    /// while !handle.is_finished() {
    ///     corral::yield_now().await;
    /// }
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.header().id
    }

    /// The task's name, if it was spawned with one
    /// (see [`task::spawn_named`](crate::task::spawn_named)).
    pub fn name(&self) -> Option<&str> {
        self.header().name.as_deref()
    }
}

impl<T> JoinHandle<T> {
    /// Polls for the output without spending the cooperative budget: for
    /// `TaskGroup::join`, which collects outputs it already knows are (or
    /// are about to be) ready, one after another.
    pub(crate) fn poll_output_unbudgeted(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: as in `poll`: `out` has this task's output type and we
        // hold the join handle's reference.
        unsafe {
            (self.header().vtable.try_read_output)(self.raw, (&mut out as *mut Poll<_>).cast(), cx.waker())
        };
        out
    }

    /// Ready once the task has completed, leaving the output in place;
    /// otherwise `cx` is woken when it completes (as the join waker).
    pub(crate) fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: we hold the join handle's reference (and `&mut self`:
        // the join waker is ours to set).
        if unsafe { (self.header().vtable.poll_complete)(self.raw, cx.waker()) } {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Where the task was spawned (for error reports).
    pub(crate) fn spawned_at(&self) -> &'static std::panic::Location<'static> {
        self.header().spawned_at
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let coop = std::task::ready!(coop::poll_proceed(cx));
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: `out` has the output type this task was spawned with; we
        // hold the join handle's reference.
        unsafe {
            (self.header().vtable.try_read_output)(self.raw, (&mut out as *mut Poll<_>).cast(), cx.waker())
        };
        if out.is_ready() {
            coop.made_progress();
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let dropped = self.header().state.transition_to_join_handle_dropped();
        if dropped.drop_output || dropped.drop_waker {
            // SAFETY: the transition handed these parts to us; we still hold
            // our reference.
            unsafe {
                (self.header().vtable.drop_join_parts)(self.raw, dropped.drop_output, dropped.drop_waker)
            };
        }
        if dropped.ref_held {
            // SAFETY: releasing the handle's own reference.
            unsafe { raw::release(self.raw) };
        }
    }
}

/// Cancels a task without owning its output; see
/// [`JoinHandle::abort_handle`].
///
/// Dropping it does nothing to the task.
pub struct AbortHandle {
    raw: NonNull<Header>,
}

// SAFETY: an AbortHandle only touches the atomic state word and immutable
// header fields, and holds a reference like a Waker does.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}
impl std::panic::UnwindSafe for AbortHandle {}
impl std::panic::RefUnwindSafe for AbortHandle {}

impl AbortHandle {
    fn header(&self) -> &Header {
        // SAFETY: the handle holds a reference, so the task is alive.
        unsafe { self.raw.as_ref() }
    }

    /// Cancels the task, as [`JoinHandle::abort`].
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let task = corral::spawn(std::future::pending::<()>());
    /// task.abort_handle().abort();
    /// assert!(task.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort(&self) {
        abort(self.raw);
    }

    /// True once the task has finished (completed, panicked or been
    /// cancelled).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let task = corral::spawn(async {});
    /// let aborter = task.abort_handle();
    /// task.await.unwrap();
    /// assert!(aborter.is_finished());
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.header().id
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        self.header().state.ref_inc();
        AbortHandle { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: releasing our own reference.
        unsafe { raw::release(self.raw) };
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Marks the task cancelled; queues it if it was idle so a worker drops
/// its future.
fn abort(raw: NonNull<Header>) {
    // SAFETY: callers hold a reference.
    let header = unsafe { raw.as_ref() };
    if header.state.transition_to_notified_and_cancel() == ToNotified::Submit {
        // SAFETY: the transition took a Notified reference for us.
        unsafe { (header.vtable.schedule)(raw, Hint::Fifo) };
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}
