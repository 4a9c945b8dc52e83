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
        loop {
            let mut guard = lock();
            let more = fill(&mut guard, &mut batch);
            drop(guard);
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| batch.wake_now())) {
                panic.get_or_insert(p);
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
        let n = std::mem::replace(&mut self.len, 0);
        let mut panic = None;
        for slot in &mut self.slots[..n] {
            // SAFETY: `slots[..n]` are initialised; each is read once, and
            // len is already 0, so none is read again.
            let waiter = unsafe { slot.assume_init_read() };
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| waiter.wake(Hint::Batch))) {
                panic.get_or_insert(p);
            }
        }
        sched::flush_batch();
        if let Some(p) = panic {
            rethrow(p);
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
