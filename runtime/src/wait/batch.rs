//! [`WakeBatch`]: the waiters a primitive woke under its lock, woken after
//! it released the lock, in bounded chunks. See the [parent module](super).

#[cfg(doc)]
use super::WaitList;
use super::Waiter;
use crate::sched;
use crate::task::raw::Hint;
use std::fmt;
use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe};

/// Waiters taken off a [`WaitList`], to wake once the lock is released.
///
/// Fill it under the lock ([`WaitList::wake_front`],
/// [`WaitList::wake_all`]), then hand the lock guard to
/// [`wake_after`](Self::wake_after), which drops the guard *before* waking
/// anyone. The batch is empty again afterwards and can be reused for the
/// next chunk.
///
/// A batch holds at most [`CAPACITY`](Self::CAPACITY) waiters, inline (no
/// allocation, nothing grows under the lock). A single woken task goes to
/// the LIFO slot of the waking worker (it runs next); several go to the
/// back of its queue in one go, and one idle worker is signalled to help.
/// A run of chunks ([`wake_in_chunks`](Self::wake_in_chunks)) from a
/// thread that is not a worker (tasks into the injector) signals once at
/// its end (and once per [`SIGNAL_EVERY`](Self::SIGNAL_EVERY) chunks of a
/// very long run), not once per chunk.
///
/// Every waiter in a batch was already handed its turn, so each one is
/// woken even if a foreign waker panics; the first panic is re-raised
/// afterwards (unless the thread is already unwinding). A batch dropped
/// with waiters in it wakes them too — a safety net for unwinding, not the
/// way to use it: declared after the guard, it would wake under the lock.
///
/// ```
/// use corral_runtime::wait::{WaitList, WakeBatch};
/// let list = std::sync::Mutex::new(WaitList::<u32>::new());
/// let mut batch = WakeBatch::new();
/// let mut guard = list.lock().unwrap();
/// if let Some(slot) = guard.front_mut() {
///     *slot = 1;
///     guard.wake_front(&mut batch);
/// }
/// batch.wake_after(guard);
/// ```
#[must_use = "waiters in a batch were handed their turn: wake them with `wake_after(guard)`"]
pub struct WakeBatch {
    len: usize,
    /// `slots[..len]` are initialised.
    slots: [MaybeUninit<Waiter>; WakeBatch::CAPACITY],
}

impl Default for WakeBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl WakeBatch {
    /// How many waiters one batch holds (2 under `cfg(loom)`, so models
    /// reach the chunking path).
    #[cfg(not(loom))]
    pub const CAPACITY: usize = 32;
    /// How many waiters one batch holds (2 under `cfg(loom)`, so models
    /// reach the chunking path).
    #[cfg(loom)]
    pub const CAPACITY: usize = 2;

    /// In a run of chunks ([`wake_in_chunks`](Self::wake_in_chunks)) from
    /// a thread that is not one of the woken tasks' workers (tasks pushed
    /// to the injector), the idle workers are signalled once per this many
    /// chunks, and after the last (1,024 waiters per signal at most,
    /// outside loom).
    ///
    /// Not once per chunk: a signal wakes a parked worker, which takes the
    /// chunk from the injector, runs it faster than the waking thread
    /// fills the next, finds nothing, and parks again, only to be woken by
    /// the next chunk's signal; on a machine with as many busy threads as
    /// cores each such round also takes the waking thread's core for a
    /// while: a 1,000-waiter `Event` set from `block_on` on two workers
    /// took 450 µs instead of 130 (see `docs/performance.md`, Event rows).
    /// A worker that is awake takes the chunks as they come without a
    /// signal; a parked one waits at most one run of `SIGNAL_EVERY`
    /// chunks. Wakes into the waking worker's own queue are still
    /// signalled per chunk (a thief can start on them while the worker
    /// fills the next chunk; the worker keeps its core).
    pub const SIGNAL_EVERY: usize = 32;

    /// An empty batch.
    #[inline]
    pub const fn new() -> Self {
        WakeBatch {
            len: 0,
            slots: [const { MaybeUninit::uninit() }; WakeBatch::CAPACITY],
        }
    }

    #[inline]
    pub(super) fn push(&mut self, waiter: Waiter) {
        // Callers check `is_full` first; indexing re-checks.
        self.slots[self.len].write(waiter);
        self.len += 1;
    }

    /// Number of waiters in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the batch wakes nobody.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True if no more waiters fit: wake it before taking more.
    pub fn is_full(&self) -> bool {
        self.len == Self::CAPACITY
    }

    /// Releases `guard` (the primitive's lock), then wakes every waiter in
    /// the batch, which is empty afterwards.
    ///
    /// # Panics
    ///
    /// Re-raises the first panic of a foreign waker, after every waiter
    /// was woken.
    #[inline]
    pub fn wake_after<G>(&mut self, guard: G) {
        drop(guard);
        self.wake_now();
    }

    /// The loop of a primitive that wakes many (`notify_all`, `close`,
    /// `add_permits`): locks with `lock`, lets `fill` move waiters into the
    /// batch (returning true if more remain, as [`WaitList::wake_all`]
    /// does), releases the lock, wakes the chunk, and goes round again
    /// until `fill` returns false. A foreign waker's panic is re-raised
    /// only after the last chunk, so it skips nobody.
    ///
    /// A single chunk is woken as [`wake_after`](Self::wake_after) wakes a
    /// batch. In a run of several, each chunk's tasks are queued as it is
    /// woken; those on the waking worker's own queue are signalled per
    /// chunk, as a batch is, those pushed to an injector from outside once
    /// after the last chunk and once per
    /// [`SIGNAL_EVERY`](Self::SIGNAL_EVERY) chunks before it (also if
    /// `lock` or `fill` unwinds part-way).
    ///
    /// ```
    /// use corral_runtime::wait::{WaitList, WakeBatch};
    /// use std::sync::Mutex;
    /// let list = Mutex::new(WaitList::<bool>::new());
    /// WakeBatch::wake_in_chunks(
    ///     || list.lock().unwrap(),
    ///     |guard, batch| {
    ///         for ready in guard.iter_mut() {
    ///             *ready = true;
    ///         }
    ///         guard.wake_all(batch)
    ///     },
    /// );
    /// ```
    pub fn wake_in_chunks<G>(
        mut lock: impl FnMut() -> G,
        mut fill: impl FnMut(&mut G, &mut WakeBatch) -> bool,
    ) {
        let mut batch = WakeBatch::new();
        let mut panic = None;
        // Chunks woken since the last signal; the guard signals for them
        // when it drops, also if `lock` or `fill` unwinds.
        let mut unsignalled = Unsignalled(0);
        loop {
            let mut guard = lock();
            let more = fill(&mut guard, &mut batch);
            drop(guard);
            if !more && unsignalled.0 == 0 {
                // The last chunk, with nothing left unsignalled (the only
                // chunk, or the first after a signal): as `wake_after` (a
                // single task to the LIFO slot; several to the queue, with
                // one signal).
                if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| batch.wake_now())) {
                    panic.get_or_insert(p);
                }
                break;
            }
            // One of a run. Tasks that went to this worker's own queue are
            // signalled now, as after a batch (a thief may start on them
            // while we fill the next chunk); those that went to an
            // injector from outside are signalled once per run.
            if let Some(p) = batch.wake_each() {
                panic.get_or_insert(p);
            }
            sched::flush_local_batch();
            unsignalled.0 += 1;
            if !more || unsignalled.0 == Self::SIGNAL_EVERY {
                unsignalled.signal();
            }
            if !more {
                break;
            }
        }
        if let Some(p) = panic {
            rethrow(p);
        }
    }

    #[inline]
    fn wake_now(&mut self) {
        match self.len {
            0 => {}
            1 => self.wake_one(),
            _ => self.wake_many(),
        }
    }

    /// The Mutex-handoff hot path: one waiter, no flush.
    #[inline]
    fn wake_one(&mut self) {
        self.len = 0;
        // SAFETY: slot 0 is initialised (len was 1) and, with len now 0,
        // read exactly once.
        let waiter = unsafe { self.slots[0].assume_init_read() };
        match waiter {
            // A corral task's wake is the scheduler's own push, which runs
            // no user code that could unwind (a task it drops on a
            // shut-down runtime is freed by `dealloc`, which catches its
            // drop's panic): no catch, which would cost a frame on the
            // hottest path every primitive's handoff takes. The catch is
            // for foreign wakers and threads.
            Waiter::Task(task) => task.wake(Hint::Lifo),
            other => wake_foreign(other),
        }
    }

    #[cold]
    fn wake_many(&mut self) {
        let panic = self.wake_each();
        sched::flush_batch();
        if let Some(p) = panic {
            rethrow(p);
        }
    }

    /// Wakes every waiter in the batch as one of many (`Hint::Batch`: to
    /// the back of the run queue, no signal yet) and empties it. Returns
    /// the first panic of a foreign waker, after waking everyone.
    fn wake_each(&mut self) -> Option<Box<dyn std::any::Any + Send>> {
        let n = std::mem::replace(&mut self.len, 0);
        let mut panic = None;
        for slot in &mut self.slots[..n] {
            // SAFETY: `slots[..n]` are initialised; each is read once, and
            // len is already 0, so none is read again.
            let waiter = unsafe { slot.assume_init_read() };
            match waiter {
                // As in `wake_one`: the scheduler's push cannot unwind.
                Waiter::Task(task) => task.wake(Hint::Batch),
                other => {
                    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| other.wake(Hint::Batch))) {
                        panic.get_or_insert(p);
                    }
                }
            }
        }
        panic
    }
}

/// Chunks of a [`WakeBatch::wake_in_chunks`] run woken (with
/// `Hint::Batch`) whose remote batch is not yet signalled; signals for
/// them when dropped, so that a run cut short by a panic still leaves no
/// task in an injector without a worker told about it.
struct Unsignalled(usize);

impl Unsignalled {
    /// One idle-worker signal for everything queued so far (this thread's
    /// remote batch; and the waking worker's queue, already signalled).
    fn signal(&mut self) {
        self.0 = 0;
        sched::flush_batch();
    }
}

impl Drop for Unsignalled {
    fn drop(&mut self) {
        if self.0 > 0 {
            self.signal();
        }
    }
}

/// Wakes one foreign waker or thread. A foreign waker may panic; catch
/// it so that the unwinding never crosses a batch in a half state, and
/// re-raise (or drop it, if this thread is already unwinding).
#[inline(never)]
fn wake_foreign(waiter: Waiter) {
    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| waiter.wake(Hint::Lifo))) {
        rethrow(p);
    }
}

/// Re-raises a waker's panic, unless the thread is already unwinding (a
/// batch dropped during a panic): then the first panic wins.
#[cold]
fn rethrow(payload: Box<dyn std::any::Any + Send>) {
    if std::thread::panicking() {
        drop(payload);
    } else {
        panic::resume_unwind(payload);
    }
}

impl Drop for WakeBatch {
    #[inline]
    fn drop(&mut self) {
        self.wake_now();
    }
}

impl fmt::Debug for WakeBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeBatch").field("len", &self.len()).finish()
    }
}
