//! [`ReentrantMutex`]: Python's `RLock` for async code (parking_lot's shape:
//! shared access only), built on the [`RawMutex`](crate::raw) (the
//! Mutex's engine) for the FIFO handoff between owners.
//!
//! # State, and who may touch it
//!
//! - `raw`: the lock proper, held by the current owner from its first
//!   lock to its last unlock. Waiters queue there (FIFO, direct handoff,
//!   and the pass-on when a waiter that was handed the lock is cancelled).
//! - `owner`: who holds the permit and how many guards it has out (the
//!   recursion depth), under its own short lock. Guards of a `T: Sync`
//!   mutex are `Send`, so the last one may drop on another thread than
//!   the owner's while the owner locks again: owner and depth change
//!   together, under that lock, so the two never see each other half-done.
//!
//! # Protocol
//!
//! `lock` (or `try_lock`, `blocking_lock`) by identity `me`:
//!
//! 1. Under `owner`'s lock: if `me` owns it, `depth += 1` and return a
//!    guard at once (re-entry).
//! 2. Otherwise take `raw` (wait in FIFO order), then record
//!    `owner = me, depth = 1`.
//!
//! A guard's drop: under `owner`'s lock `depth -= 1`; at 0, clear the owner
//! and, after releasing that lock, unlock `raw` (handed to the first
//! waiter).

use crate::error::{LockTimeout, TryLockError};
use crate::loom::Lock;
use crate::raw::RawMutex;
use corral_runtime::task::{self, Id};
use std::fmt;
use std::ops::Deref;
use std::panic::Location;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Who owns a [`ReentrantMutex`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Task(Id),
    Thread(ThreadId),
}

impl Owner {
    /// The corral task being polled on this thread, or else the thread.
    fn current() -> Owner {
        match task::try_id() {
            Some(id) => Owner::Task(id),
            None => Owner::Thread(std::thread::current().id()),
        }
    }
}

#[derive(Debug)]
struct Ownership {
    owner: Option<Owner>,
    /// Guards the owner has out.
    depth: usize,
}

/// A reentrant mutex (Python's `threading.RLock`): the task that holds it
/// may lock it again without waiting, and it is free once every guard is
/// dropped. Guards give shared access (`&T`), as parking_lot's
/// `ReentrantMutex`: two guards of the same owner may be alive at once, so
/// `&mut T` would alias. Put a [`Mutex`](crate::Mutex) or atomics inside
/// for mutation.
///
/// # Semantics, and the choices made
///
/// - **Who the owner is.** Inside a corral task: the task (by its
///   [`Id`]), whichever worker thread polls it, across `.await`s. Outside
///   a task (a plain thread, [`blocking_lock`](Self::blocking_lock),
///   `block_on`, a future on another executor): the
///   current thread, as Python's `RLock`: the thread of the poll that
///   obtains the lock, which for a future on another executor may differ
///   from the thread that first polled it.
/// - **Futures on another executor** are the edge case, and the choice is
///   to keep the thread as the owner there too. That is exact for
///   `futures::executor::block_on` and for any guard taken and dropped
///   within one poll. It is not for a guard held across an `.await` on an
///   executor that runs several tasks on one thread (their re-entries are
///   taken for the owner's) or moves a task between threads (its re-entry
///   after a move waits for itself). So on other executors, do not hold a
///   guard across an `.await`; run such code in a corral task.
/// - **Fair, FIFO handoff** between owners (the [`Mutex`](crate::Mutex)'s
///   engine): the last unlock hands the lock
///   to the first waiter (woken onto the unlocking worker's run queue); a
///   [`try_lock`](Self::try_lock) by anyone else cannot barge in between.
///   Re-entry by the owner never waits, even while others queue.
/// - **`T: Sync` to share it.** An owner task moves between threads while
///   it holds guards, and a guard may be sent to another task, so the `&T`
///   it hands out may be used from several threads: sharing the mutex
///   (and sending a guard) needs `T: Sync`. parking_lot's thread-bound
///   guards allow `ReentrantMutex<RefCell<T>>`; here use a
///   [`Mutex`](crate::Mutex), `std::sync::Mutex` or atomics inside.
/// - **No poisoning.** A panicking holder's guards drop while unwinding
///   and release the lock.
/// - **Cancellation loses nothing**: a dropped `lock()` future leaves the
///   queue, and passes the lock on if it had been handed to it.
/// - **Diagnostics.** The creation site, the owning task and the depth are
///   in [`statistics`](Self::statistics).
///
/// ```
/// use corral::sync::ReentrantMutex;
/// use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
///
/// async fn inner(m: &ReentrantMutex<AtomicU32>) {
///     let n = m.lock().await; // already ours: returns at once
///     n.fetch_add(1, Relaxed);
/// }
///
/// async fn outer(m: &ReentrantMutex<AtomicU32>) {
///     let n = m.lock().await;
///     n.fetch_add(1, Relaxed);
///     inner(m).await; // locks again
///     assert_eq!(m.statistics().depth, 1);
/// }
///
/// # corral::Runtime::new().unwrap().block_on(async {
/// let m = ReentrantMutex::new(AtomicU32::new(0));
/// outer(&m).await;
/// assert_eq!(m.into_inner().into_inner(), 2);
/// # });
/// ```
///
/// Data that is not `Sync` cannot be shared through it:
///
/// ```compile_fail
/// fn sync<T: Sync>(_: &T) {}
/// let m = corral::sync::ReentrantMutex::new(std::cell::RefCell::new(1));
/// sync(&m);
/// ```
pub struct ReentrantMutex<T: ?Sized> {
    raw: RawMutex,
    owner: Lock<Ownership>,
    data: T,
}

/// A snapshot of a [`ReentrantMutex`], from [`ReentrantMutex::statistics`].
///
/// ```
/// let m = corral::sync::ReentrantMutex::new(());
/// let _a = m.try_lock().unwrap();
/// let _b = m.try_lock().unwrap();
/// let stats = m.statistics();
/// assert!(stats.locked);
/// assert_eq!((stats.depth, stats.tasks_waiting), (2, 0));
/// assert_eq!(stats.holder_thread, Some(std::thread::current().id()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReentrantMutexStatistics {
    /// Someone holds the lock (AnyIO's name).
    pub locked: bool,
    /// Tasks and threads waiting for it (AnyIO's name).
    pub tasks_waiting: usize,
    /// The corral task holding it, if a task does.
    pub holder: Option<Id>,
    /// The thread holding it, if a thread does (outside a task).
    pub holder_thread: Option<ThreadId>,
    /// Guards the holder has out (the recursion depth); 0 when free.
    pub depth: usize,
    /// Where the mutex was created.
    pub created_at: &'static Location<'static>,
}

impl<T> ReentrantMutex<T> {
    /// An unlocked mutex holding `value`; records the caller's location.
    ///
    /// ```
    /// let m = corral::sync::ReentrantMutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    #[track_caller]
    pub fn new(value: T) -> Self {
        ReentrantMutex {
            raw: RawMutex::new(Location::caller()),
            owner: Lock::new(Ownership {
                owner: None,
                depth: 0,
            }),
            data: value,
        }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// ```
    /// let m = corral::sync::ReentrantMutex::new(vec![1]);
    /// assert_eq!(m.into_inner(), vec![1]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data
    }
}

impl<T: ?Sized> ReentrantMutex<T> {
    /// Locks: at once if the current task (outside a task: thread) already
    /// holds it, else after the holders before it (FIFO). Returns a guard
    /// that unlocks one level on drop.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe and fair: a dropped future gives up its place; if the
    /// lock had already been handed to it, it passes to the next waiter.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let m = corral::sync::ReentrantMutex::new(1);
    /// let a = m.lock().await;
    /// let b = m.lock().await; // the same owner: no wait
    /// assert_eq!(*a + *b, 2);
    /// # });
    /// ```
    pub async fn lock(&self) -> ReentrantMutexGuard<'_, T> {
        if let Some(g) = self.reenter(Owner::current()) {
            return g;
        }
        self.raw.lock().await;
        // Who we are *now*: outside a corral task, the poll that completes
        // may run on another thread than the first.
        self.take_ownership(Owner::current())
    }

    /// Locks if the current task (or thread) holds it already, or if it is
    /// free and nobody waits.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if another owner holds it (or a waiter is first in
    /// line).
    ///
    /// ```
    /// let m = corral::sync::ReentrantMutex::new(());
    /// let a = m.try_lock().unwrap();
    /// let b = m.try_lock().unwrap(); // re-entry
    /// let other = std::thread::scope(|s| s.spawn(|| m.try_lock().is_err()).join().unwrap());
    /// assert!(other);
    /// drop((a, b));
    /// ```
    pub fn try_lock(&self) -> Result<ReentrantMutexGuard<'_, T>, TryLockError> {
        let me = Owner::current();
        if let Some(g) = self.reenter(me) {
            return Ok(g);
        }
        if self.raw.try_lock() {
            Ok(self.take_ownership(me))
        } else {
            Err(TryLockError(()))
        }
    }

    /// Blocks the current thread until it holds the lock; at once if the
    /// thread holds it already (Python's `RLock.acquire()`).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): blocking there would stall its tasks. Use
    /// [`lock`](Self::lock) there, or call this from `corral::run_sync`.
    ///
    /// ```
    /// let m = corral::sync::ReentrantMutex::new(0);
    /// let a = m.blocking_lock();
    /// let b = m.blocking_lock(); // the same thread: no wait
    /// assert_eq!(m.statistics().depth, 2);
    /// drop((a, b));
    /// assert!(!m.is_locked());
    /// ```
    #[track_caller]
    pub fn blocking_lock(&self) -> ReentrantMutexGuard<'_, T> {
        let me = Owner::current();
        if let Some(g) = self.reenter(me) {
            return g;
        }
        let locked = self.raw.blocking_lock(None, "ReentrantMutex::blocking_lock");
        debug_assert!(locked, "a wait without a deadline ends locked");
        self.take_ownership(me)
    }

    /// As [`blocking_lock`](Self::blocking_lock), giving up after `timeout`
    /// (Python's `acquire(timeout=...)`).
    ///
    /// # Errors
    ///
    /// [`LockTimeout`] if the lock was not ours in time.
    ///
    /// # Panics
    ///
    /// As [`blocking_lock`](Self::blocking_lock).
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = corral::sync::ReentrantMutex::new(());
    /// let _mine = m.blocking_lock();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(m.blocking_lock_timeout(Duration::from_millis(5)).is_err()));
    /// });
    /// assert!(m.blocking_lock_timeout(Duration::from_millis(5)).is_ok()); // re-entry
    /// ```
    #[track_caller]
    pub fn blocking_lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<ReentrantMutexGuard<'_, T>, LockTimeout> {
        let me = Owner::current();
        if let Some(g) = self.reenter(me) {
            return Ok(g);
        }
        let deadline = Instant::now().checked_add(timeout);
        if self
            .raw
            .blocking_lock(deadline, "ReentrantMutex::blocking_lock_timeout")
        {
            Ok(self.take_ownership(me))
        } else {
            Err(LockTimeout(()))
        }
    }

    /// The data, through `&mut self`: no locking needed.
    ///
    /// ```
    /// let mut m = corral::sync::ReentrantMutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// True if someone holds the lock right now.
    ///
    /// ```
    /// let m = corral::sync::ReentrantMutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.is_locked());
    /// drop(g);
    /// assert!(!m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// True if the current task (outside a task: thread) holds the lock.
    ///
    /// ```
    /// let m = corral::sync::ReentrantMutex::new(());
    /// assert!(!m.is_owned_by_current());
    /// let _g = m.try_lock().unwrap();
    /// assert!(m.is_owned_by_current());
    /// ```
    pub fn is_owned_by_current(&self) -> bool {
        self.owner.lock().owner == Some(Owner::current())
    }

    /// Where this mutex was created.
    ///
    /// ```
    /// let m = corral::sync::ReentrantMutex::new(());
    /// println!("created at {}", m.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.raw.created_at()
    }

    /// A snapshot: locked, who waits, which task (or thread) holds it and
    /// how deep.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// let m = Arc::new(corral::sync::ReentrantMutex::new(()));
    /// let m2 = m.clone();
    /// let task = corral::spawn(async move {
    ///     let _a = m2.lock().await;
    ///     let _b = m2.lock().await;
    ///     m2.statistics()
    /// });
    /// let id = task.id();
    /// let stats = task.await.unwrap();
    /// assert_eq!((stats.holder, stats.depth), (Some(id), 2));
    /// assert!(!m.statistics().locked);
    /// # });
    /// ```
    pub fn statistics(&self) -> ReentrantMutexStatistics {
        let (owner, depth) = {
            let o = self.owner.lock();
            (o.owner, o.depth)
        };
        ReentrantMutexStatistics {
            locked: self.raw.is_locked(),
            tasks_waiting: self.raw.waiting(),
            holder: match owner {
                Some(Owner::Task(id)) => Some(id),
                _ => None,
            },
            holder_thread: match owner {
                Some(Owner::Thread(t)) => Some(t),
                _ => None,
            },
            depth,
            created_at: self.raw.created_at(),
        }
    }

    /// Step 1 of the protocol: a guard if `me` owns the lock.
    fn reenter(&self, me: Owner) -> Option<ReentrantMutexGuard<'_, T>> {
        let mut o = self.owner.lock();
        if o.owner != Some(me) {
            return None;
        }
        // At most one guard per byte of memory can be alive, and each
        // guard is at least a pointer: this cannot overflow.
        o.depth += 1;
        Some(ReentrantMutexGuard { mutex: self })
    }

    /// Step 2, once the permit is ours.
    fn take_ownership(&self, me: Owner) -> ReentrantMutexGuard<'_, T> {
        let mut o = self.owner.lock();
        debug_assert!(o.owner.is_none() && o.depth == 0, "{o:?}");
        o.owner = Some(me);
        o.depth = 1;
        ReentrantMutexGuard { mutex: self }
    }

    fn unlock_one(&self) {
        let mut o = self.owner.lock();
        o.depth -= 1;
        if o.depth == 0 {
            o.owner = None;
            drop(o);
            self.raw.unlock();
        }
    }
}

impl<T: Default> Default for ReentrantMutex<T> {
    #[track_caller]
    fn default() -> Self {
        ReentrantMutex::new(T::default())
    }
}

impl<T> From<T> for ReentrantMutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        ReentrantMutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ReentrantMutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.field("created_at", &format_args!("{}", self.raw.created_at()))
            .finish()
    }
}

/// One level of a [`ReentrantMutex`]'s lock; gives shared access to the
/// data and unlocks one level when dropped (the lock is free once every
/// guard of its owner is gone).
///
/// `Send` and `Sync` when `T: Sync` (see the mutex's docs).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let m = corral::sync::ReentrantMutex::new(String::from("hi"));
/// let g = m.lock().await;
/// assert_eq!(g.len(), 2);
/// drop(g);
/// assert!(!m.is_locked());
/// # });
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ReentrantMutexGuard<'a, T: ?Sized> {
    mutex: &'a ReentrantMutex<T>,
}

impl<'a, T: ?Sized> ReentrantMutexGuard<'a, T> {
    /// The mutex this guard locks.
    ///
    /// ```
    /// use corral::sync::{ReentrantMutex, ReentrantMutexGuard};
    /// let m = ReentrantMutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(std::ptr::eq(ReentrantMutexGuard::mutex(&g), &m));
    /// ```
    pub fn mutex(this: &Self) -> &'a ReentrantMutex<T> {
        this.mutex
    }
}

impl<T: ?Sized> Deref for ReentrantMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.mutex.data
    }
}

impl<T: ?Sized> Drop for ReentrantMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock_one();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
