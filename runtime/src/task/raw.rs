//! The task allocation and the code that runs on it.
//!
//! One heap block per task, `#[repr(C)]` so a `NonNull<Header>` can be cast
//! back to the full cell by the monomorphized functions in its vtable:
//!
//! ```text
//! Cell<F, S>
//! +-----------------------------+
//! | Header  state | vtable | id | name | spawned_at | owned-list links |  type-erased, hot
//! | scheduler S                 |  who gets the task when it is woken
//! | stage: Running(F) | Finished(Result<Output, Box<JoinError>>) | Consumed
//! | join_waker: Option<Waker>   |  the JoinHandle's waker
//! +-----------------------------+
//! ```
//!
//! Who may touch what (see `state.rs` for the bits):
//! - `stage`: whoever holds `RUNNING` (until `COMPLETE`); after `COMPLETE`
//!   the join handle if `JOIN_INTEREST` was set at completion, else the
//!   completing thread.
//! - `join_waker`: the join handle while `JOIN_WAKER` is clear and the task
//!   is not complete; the completing thread while `JOIN_WAKER` is set after
//!   `COMPLETE`.
//! - `owned` links: only under the owned-list shard lock (`owned.rs`).
//! - everything else is immutable after spawn.
//!
//! The stage (future or output) is always dropped inside the task's
//! context, whoever drops it (a completing worker, a dropped join handle,
//! shutdown; any thread): `try_id()` in the value's `Drop` names the task,
//! and the dropper gets its own context back. The poll and cancellation
//! already run in it; `drop_stage_in_context` and `dealloc` enter it.

use super::error::JoinError;
use super::state::{State, ToIdle, ToNotified, ToRunning};
use super::{Id, Schedule};
use crate::coop;
use crate::loom::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// How a scheduler should queue a task that became runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hint {
    /// One task woken by the running one: run it next (LIFO slot).
    Lifo,
    /// Spawned: LIFO slot too (a helper the spawner then waits for runs
    /// next, on a warm cache), and an idle worker is signalled so the
    /// spawner's other work, or this task if the spawner blocks, can be
    /// taken.
    Spawn,
    /// Spawned, yielded or rescheduled: back of the queue, signal an idle
    /// worker.
    Fifo,
    /// One of many woken together: back of the local queue; the caller
    /// signals an idle worker once at the end (`sched::flush_batch`).
    Batch,
}

#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: Id,
    pub(crate) name: Option<Box<str>>,
    /// Where the task was spawned (the caller of `spawn`), for reports of
    /// what a task is doing: the stall monitor (`sched/monitor.rs`).
    pub(crate) spawned_at: &'static Location<'static>,
    /// Links of the owned-task list; only under the shard lock.
    pub(crate) owned: UnsafeCell<OwnedLinks>,
}

#[derive(Default)]
pub(crate) struct OwnedLinks {
    pub(crate) prev: Option<NonNull<Header>>,
    pub(crate) next: Option<NonNull<Header>>,
    pub(crate) linked: bool,
}

pub(crate) struct Vtable {
    /// Runs the task once. Consumes the `Notified` reference.
    pub(crate) poll: unsafe fn(NonNull<Header>),
    /// Hands a `Notified` reference to the task's scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>, Hint),
    /// Frees the allocation (the reference count reached zero).
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// Join handle: writes `Poll<Result<T, JoinError>>` to `dst` if ready,
    /// else stores the waker.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// Join handle: true if complete, else stores the waker (the output
    /// stays where it is). For `TaskGroup::join`, which waits for every
    /// output before it takes any.
    pub(crate) poll_complete: unsafe fn(NonNull<Header>, &Waker) -> bool,
    /// Join handle dropped: drop the output and/or waker it now owns.
    pub(crate) drop_join_parts: unsafe fn(NonNull<Header>, drop_output: bool, drop_waker: bool),
    /// Runtime shutdown. Consumes one reference.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
}

enum Stage<F: Future> {
    Running(F),
    /// The error is boxed: it is the rare case, and unboxed its 40 bytes
    /// would size every task's stage.
    Finished(Result<F::Output, Box<JoinError>>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

/// Allocates a task. The returned pointer carries the three initial
/// references (see `state::INITIAL`).
pub(crate) fn allocate<F, S>(
    future: F,
    scheduler: S,
    id: Id,
    name: Option<Box<str>>,
    spawned_at: &'static Location<'static>,
) -> NonNull<Header>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: vtable::<F, S>(),
            id,
            name,
            spawned_at,
            owned: UnsafeCell::new(OwnedLinks::default()),
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
        join_waker: UnsafeCell::new(None),
    });
    NonNull::from(Box::leak(cell)).cast()
}

fn vtable<F, S>() -> &'static Vtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        poll_complete: poll_complete::<F, S>,
        drop_join_parts: drop_join_parts::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// # Safety
/// `ptr` is the header of a live `Cell<F, S>` (callers hold a reference).
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: the cell is #[repr(C)] with the header first, so the header
    // pointer is the cell pointer; it is live per the contract.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

unsafe fn poll<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller hands us the Notified reference, keeping it alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.transition_to_running() {
        ToRunning::Poll => {}
        ToRunning::Cancel => {
            // SAFETY: we hold RUNNING.
            unsafe { cancel_and_complete(cell) };
            return;
        }
        ToRunning::Failed => return,
        // SAFETY: that was the last reference.
        ToRunning::Dealloc => return unsafe { dealloc::<F, S>(ptr) },
    }

    // SAFETY: the waker borrows the poller's reference for the poll only
    // (ManuallyDrop: it is never dropped, so it releases nothing).
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(ptr)) });
    let mut cx = Context::from_waker(&waker);
    // SAFETY: we hold RUNNING, so we own the stage.
    let res = unsafe { poll_future(cell, &mut cx) };
    match res {
        Poll::Ready(output) => {
            // SAFETY: still RUNNING.
            unsafe { store_output(cell, output) };
            // SAFETY: RUNNING, output stored.
            unsafe { complete(cell) };
        }
        Poll::Pending => match cell.header.state.transition_to_idle() {
            ToIdle::Ok => {}
            // SAFETY: last reference.
            ToIdle::Dealloc => unsafe { dealloc::<F, S>(ptr) },
            ToIdle::Notified => {
                // Woken while it ran (often by itself: a yield): back of
                // the queue so others get a turn.
                cell.scheduler
                    .schedule(super::Notified::from_raw(ptr), Hint::Fifo);
            }
            // SAFETY: transition_to_idle keeps RUNNING when cancelled.
            ToIdle::Cancel => unsafe { cancel_and_complete(cell) },
        },
    }
}

/// Polls the future, catching a panic (the future is then dropped and the
/// panic becomes the output).
///
/// # Safety
/// The caller holds `RUNNING`.
unsafe fn poll_future<F: Future, S>(
    cell: &Cell<F, S>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, JoinError>> {
    let header = &cell.header;
    let _task = crate::context::enter_task(header.id, coop::Budget::initial());
    let res = cell.stage.with_mut(|stage| {
        // SAFETY: RUNNING gives exclusive access to the stage; the cell is
        // heap-pinned (never moved until freed), so pinning the future is
        // sound.
        let stage = unsafe { &mut *stage };
        let Stage::Running(future) = stage else {
            unreachable!("polled a task whose future is gone")
        };
        // SAFETY: see above: the future never moves while in the cell.
        let future = unsafe { Pin::new_unchecked(future) };
        panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
    });
    match res {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(output)) => {
            // Drop the spent future here, inside the task's context (its
            // Drop may ask for the task id). A panic there is the task's
            // panic; the output is dropped with it.
            // SAFETY: still RUNNING.
            match unsafe { drop_future(cell) } {
                Ok(()) => Poll::Ready(Ok(output)),
                Err(payload) => {
                    drop(output);
                    Poll::Ready(Err(JoinError::panicked(
                        header.id,
                        header.name.as_deref(),
                        payload,
                    )))
                }
            }
        }
        Err(payload) => {
            // SAFETY: still RUNNING. A panic while dropping is ignored:
            // the first panic is the one reported.
            let _ = unsafe { drop_future(cell) };
            Poll::Ready(Err(JoinError::panicked(
                header.id,
                header.name.as_deref(),
                payload,
            )))
        }
    }
}

/// Drops the future (or output) in place, catching a panic from its `Drop`.
///
/// # Safety
/// The caller owns the stage (holds `RUNNING`, or the completing thread
/// with no join interest).
unsafe fn drop_future<F: Future, S>(cell: &Cell<F, S>) -> std::thread::Result<()> {
    cell.stage.with_mut(|stage| {
        panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: exclusive access per the contract.
            unsafe { *stage = Stage::Consumed };
        }))
    })
}

/// `drop_future` inside the task's context, for the callers that are not
/// already in it (a completing worker after the poll, a dropped join
/// handle): `try_id()` in a `Drop` names this task, and the previous
/// context comes back when the guard drops.
///
/// # Safety
/// As `drop_future`.
unsafe fn drop_stage_in_context<F: Future, S>(cell: &Cell<F, S>) -> std::thread::Result<()> {
    let _task = crate::context::enter_task(cell.header.id, coop::Budget::unconstrained());
    // SAFETY: forwarded contract.
    unsafe { drop_future(cell) }
}

/// # Safety
/// The caller holds `RUNNING` and has already dropped the future (the
/// stage is `Consumed`).
unsafe fn store_output<F: Future, S>(cell: &Cell<F, S>, output: Result<F::Output, JoinError>) {
    cell.stage.with_mut(|stage| {
        // SAFETY: exclusive access (RUNNING); the old value is `Consumed`,
        // so overwriting drops nothing.
        unsafe { std::ptr::write(stage, Stage::Finished(output.map_err(Box::new))) };
    });
}

/// Drops the future and completes with `Cancelled` (or `Panicked`, if the
/// future's `Drop` panicked).
///
/// # Safety
/// The caller holds `RUNNING`.
unsafe fn cancel_and_complete<F: Future, S: Schedule>(cell: &Cell<F, S>) {
    let header = &cell.header;
    let _task = crate::context::enter_task(header.id, coop::Budget::unconstrained());
    // SAFETY: RUNNING per the contract.
    let err = match unsafe { drop_future(cell) } {
        Ok(()) => JoinError::cancelled(header.id, header.name.as_deref()),
        Err(payload) => JoinError::panicked(header.id, header.name.as_deref(), payload),
    };
    // SAFETY: RUNNING; the stage is Consumed.
    unsafe { store_output(cell, Err(err)) };
    // SAFETY: RUNNING, output stored.
    unsafe { complete(cell) };
}

/// RUNNING -> COMPLETE: leave the owned list, notify the join handle (or
/// drop the output if there is none), and release the poller's reference.
///
/// # Safety
/// The caller holds `RUNNING` (with the reference that came with it) and
/// has stored the output.
unsafe fn complete<F: Future, S: Schedule>(cell: &Cell<F, S>) {
    let ptr = NonNull::from(&cell.header);
    let prev = cell.header.state.transition_to_complete();
    // Leave the owned list before waking the joiner, so the joiner this
    // wakes no longer counts the task as alive. (Someone polling for
    // another reason may still see COMPLETE a moment before that.)
    let released = cell.scheduler.release(ptr);
    if !prev.is_join_interested() {
        // Nobody will read the output: drop it here.
        // SAFETY: complete with no join interest: the completing thread
        // owns the stage.
        let _ = unsafe { drop_stage_in_context(cell) };
    } else if prev.is_join_waker_set() {
        // The join waker is foreign code: a panic in it must not unwind
        // into the worker (and skip the reference release below).
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            cell.join_waker.with(|w| {
                // SAFETY: JOIN_WAKER set after COMPLETE: this thread owns
                // the cell until `unset_waker_after_complete`.
                if let Some(w) = unsafe { &*w } {
                    w.wake_by_ref();
                }
            })
        }));
        let after = cell.header.state.unset_waker_after_complete();
        if !after.is_join_interested() {
            // The handle went away meanwhile and left the waker to us.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: as above; the handle no longer touches the cell.
                cell.join_waker.with_mut(|w| unsafe { *w = None })
            }));
        }
    }
    if cell.header.state.ref_dec_by(1 + released as usize) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>, hint: Hint) {
    // SAFETY: the caller passes a Notified reference, keeping it alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.scheduler.schedule(super::Notified::from_raw(ptr), hint);
}

unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the reference count is zero: no one else can reach the cell,
    // and it came from Box::leak in `allocate`.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    // The stage is normally `Consumed` by now; whatever it still holds is
    // dropped in the task's context like every other drop of its stage. A
    // panic from dropping it must not unwind through a waker drop.
    let _task = crate::context::enter_task(cell.header.id, coop::Budget::unconstrained());
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(cell)));
}

unsafe fn try_read_output<F: Future, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the join handle holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    if !can_read_output(cell, waker) {
        return;
    }
    let out = cell.stage.with_mut(|stage| {
        // SAFETY: COMPLETE and we are the join handle with interest: we own
        // the stage.
        let stage = unsafe { &mut *stage };
        let Stage::Finished(out) = stage else {
            panic!("JoinHandle polled after it returned Ready")
        };
        // Moved out field by field rather than by `mem::replace`, which
        // copies the whole stage (the size of the future) to read the
        // output. SAFETY: read once; the stage is overwritten right after
        // without dropping what was read, and nothing in between can
        // unwind.
        let out = unsafe { std::ptr::read(out) };
        // SAFETY: `stage` is valid for writes; its old value was moved out
        // above and must not be dropped.
        unsafe { std::ptr::write(stage, Stage::Consumed) };
        out.map_err(|e| *e)
    });
    // SAFETY: the caller passes a `*mut Poll<Result<F::Output, JoinError>>`.
    unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(out) };
}

unsafe fn poll_complete<F: Future, S>(ptr: NonNull<Header>, waker: &Waker) -> bool {
    // SAFETY: the join handle holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    can_read_output(cell, waker)
}

/// True if complete; otherwise makes sure `waker` is the stored join waker.
fn can_read_output<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        return true;
    }
    let res = if !snapshot.is_join_waker_set() {
        set_join_waker(cell, waker.clone())
    } else {
        // SAFETY: JOIN_WAKER set, not complete: the runtime only reads the
        // cell after completion, and reading concurrently with its
        // `wake_by_ref` is a shared access.
        let same = cell
            .join_waker
            .with(|w| unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker)));
        if same {
            return false;
        }
        state
            .unset_join_waker()
            .and_then(|_| set_join_waker(cell, waker.clone()))
    };
    match res {
        Ok(_) => false,
        Err(snapshot) => {
            debug_assert!(snapshot.is_complete());
            true
        }
    }
}

fn set_join_waker<F: Future, S>(
    cell: &Cell<F, S>,
    waker: Waker,
) -> Result<super::state::Snapshot, super::state::Snapshot> {
    // SAFETY: JOIN_WAKER is clear and the task not complete: the handle
    // owns the cell.
    cell.join_waker.with_mut(|w| unsafe { *w = Some(waker) });
    let res = cell.header.state.set_join_waker();
    if res.is_err() {
        // Completed meanwhile: the runtime never saw the bit, the cell is
        // still ours.
        // SAFETY: as above.
        cell.join_waker.with_mut(|w| unsafe { *w = None });
    }
    res
}

unsafe fn drop_join_parts<F: Future, S>(ptr: NonNull<Header>, drop_output: bool, drop_waker: bool) {
    // SAFETY: the join handle still holds its reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    if drop_output {
        // SAFETY: complete before the handle let go: the handle owns the
        // stage.
        let _ = unsafe { drop_stage_in_context(cell) };
    }
    if drop_waker {
        // SAFETY: the state transition gave the cell to the handle.
        cell.join_waker.with_mut(|w| unsafe { *w = None });
    }
}

unsafe fn shutdown<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller gives us one reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        // We own RUNNING now, with the caller's reference.
        // SAFETY: RUNNING.
        unsafe { cancel_and_complete(cell) };
    } else if cell.header.state.ref_dec() {
        // Running elsewhere (its poller will see CANCELLED) or complete.
        // SAFETY: last reference.
        unsafe { dealloc::<F, S>(ptr) };
    }
}

// ---- waker ----------------------------------------------------------------

/// The one waker vtable of every corral task; `data` is the task header.
/// The wait hook recognises task wakers by this address.
pub(crate) static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

pub(crate) fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)
}

/// If `waker` is a corral task's own waker, its header.
pub(crate) fn task_of(waker: &Waker) -> Option<NonNull<Header>> {
    if std::ptr::eq(waker.vtable(), &WAKER_VTABLE) {
        NonNull::new(waker.data() as *mut Header)
    } else {
        None
    }
}

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    let ptr = header_of(data);
    // SAFETY: the waker being cloned holds a reference.
    unsafe { ptr.as_ref() }.state.ref_inc();
    raw_waker(ptr)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: the waker's reference moves into the call.
    unsafe { wake_by_val(header_of(data), Hint::Lifo) }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds a reference for the duration of the call.
    unsafe { wake_by_ref(header_of(data), Hint::Lifo) }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: the waker's reference is released here.
    unsafe { release(header_of(data)) }
}

fn header_of(data: *const ()) -> NonNull<Header> {
    // Task wakers are only made from non-null headers.
    NonNull::new(data as *mut Header).expect("null task waker")
}

/// Wakes with a reference the caller gives up.
///
/// # Safety
/// The caller owns one reference to the live task at `ptr`.
pub(crate) unsafe fn wake_by_val(ptr: NonNull<Header>, hint: Hint) {
    // SAFETY: live per the contract.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_notified_by_val() {
        ToNotified::DoNothing => {}
        // SAFETY: our reference became the Notified one.
        ToNotified::Submit => unsafe { (header.vtable.schedule)(ptr, hint) },
        // SAFETY: that was the last reference.
        ToNotified::Dealloc => unsafe { (header.vtable.dealloc)(ptr) },
    }
}

/// Wakes, keeping the caller's reference.
///
/// # Safety
/// The caller holds a reference to the live task at `ptr`.
pub(crate) unsafe fn wake_by_ref(ptr: NonNull<Header>, hint: Hint) {
    // SAFETY: live per the contract.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_notified_by_ref() {
        ToNotified::DoNothing => {}
        // SAFETY: the transition took a new reference for the queue.
        ToNotified::Submit => unsafe { (header.vtable.schedule)(ptr, hint) },
        ToNotified::Dealloc => unreachable!("by-ref wake never releases"),
    }
}

/// Releases one reference.
///
/// # Safety
/// The caller owns one reference to the live task at `ptr`.
pub(crate) unsafe fn release(ptr: NonNull<Header>) {
    // SAFETY: live per the contract.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec() {
        // SAFETY: last reference.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}
