//! [`Mutex`]: an async mutual-exclusion lock with FIFO handoff, built on
//! [`RawMutex`](crate::raw) (one atomic word on the uncontended path, the
//! wait hook behind it), and its guards.

use crate::error::{LockTimeout, TryLockError};
use crate::loom::UnsafeCell;
use crate::raw::{HasRawMutex, MutexAcquire, RawMutex};
use corral_runtime::task::Id;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

/// An async mutex (the seeds' `Lock`): one holder at a time, for tasks,
/// futures on other executors and plain threads alike.
///
/// # Semantics
///
/// - **Fair, FIFO handoff.** Waiters queue in arrival order. Unlocking hands
///   the lock straight to the first waiter, which is woken onto the
///   unlocking worker's run queue (it runs next there); nobody can barge in
///   between, not even [`try_lock`](Self::try_lock). This is tokio's and
///   asyncio's order: no waiter starves. It follows the same rules as
///   [`Semaphore`](crate::Semaphore) with one permit, on a smaller engine:
///   an uncontended `lock` / unlock is one atomic compare-and-swap each,
///   and a `Mutex<u64>` is 24 bytes (the lock word, one word for the
///   creation site or the wait list, the data).
/// - **Adaptive spin, not barging.** On a worker of a multi-worker
///   runtime, a `lock()` that finds the lock held by a task that is
///   running on another worker right now, with nobody queued, waits for
///   it a moment (at most 100 µs, re-reading the lock word) and takes it
///   once free, instead of queueing and paying for a handoff and a task
///   switch. It queues at once when the holder is not running (it awaits
///   while holding, waits in a run queue, or is a thread or a future
///   outside corral), and whenever anyone is queued: queued waiters are
///   always served first come, first served, by direct handoff. Never on
///   a current-thread runtime or off a worker.
/// - **Giving way to a handed holder, not barging.** A `lock()` that finds
///   the lock *handed* to a waiter (which then waits in a run queue,
///   usually to run right after the caller on the same worker) yields its
///   turn, up to 4 times, before it queues; when it runs again it takes
///   the lock only if it is free with nobody queued. Without this, tasks
///   that lock in a loop with no `.await` inside form a convoy: once they
///   are all queued, every unlock hands the lock on and the unlocker,
///   locking again, queues behind the next one, a task switch for every
///   lock, for as long as they run. Giving way lets the queue drain
///   instead. Each mutex keeps score, and its lockers stop giving way
///   while it does not pay (holders that keep the lock across an
///   `.await`), trying again after a while.
/// - **No poisoning.** A task that panics while holding the guard releases
///   the lock as the guard drops during unwinding (as tokio's); the data is
///   whatever the panicking code left. Check invariants yourself if a panic
///   could interrupt an update.
/// - **Cancellation loses nothing.** A dropped `lock()` future leaves the
///   queue; if the lock had already been handed to it, it passes the lock on
///   to the next waiter.
/// - **Diagnostics.** The creation site (`#[track_caller]` on
///   [`new`](Self::new)) and the holding task's id are recorded (the id
///   rides in the same atomic word as the lock bit, so it costs nothing);
///   [`statistics`](Self::statistics) shows them, and the tasks waiting.
///   The holder is the task that locked (or was handed the lock): a guard
///   moved into another task (an [`OwnedMutexGuard`]) still names it; a
///   thread or a future outside corral shows as no task.
///
/// Hold a `std::sync::Mutex` or `parking_lot::Mutex` instead when the lock
/// is never held across an `.await`: it is cheaper.
///
/// ```
/// use corral::sync::Mutex;
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let count = Arc::new(Mutex::new(0));
/// let mut tasks = Vec::new();
/// for _ in 0..3 {
///     let count = count.clone();
///     tasks.push(corral::spawn(async move {
///         for _ in 0..1000 {
///             let mut n = count.lock().await;
///             let read = *n;
///             corral::yield_now().await; // held across an await: still exact
///             *n = read + 1;
///         }
///     }));
/// }
/// for t in tasks {
///     t.await.unwrap();
/// }
/// assert_eq!(*count.lock().await, 3000);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands `&mut T` to one holder at a time, possibly on
// another thread, so `T: Send` suffices for both (as std's Mutex).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: shared access to the mutex never gives shared access
// to `T` from two threads at once.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// A snapshot of a [`Mutex`], from [`Mutex::statistics`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let m = corral::sync::Mutex::new(());
/// let _g = m.lock().await;
/// let stats = m.statistics();
/// assert!(stats.locked);
/// assert_eq!(stats.tasks_waiting, 0);
/// assert_eq!(stats.holder, None); // `block_on`'s future is not a task
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MutexStatistics {
    /// Someone holds the lock (AnyIO's name).
    pub locked: bool,
    /// Tasks and threads waiting for it (AnyIO's name).
    pub tasks_waiting: usize,
    /// The corral task holding it; `None` if unlocked, or held by a thread
    /// or by a future that is not a corral task.
    pub holder: Option<Id>,
    /// Where the mutex was created.
    pub created_at: &'static Location<'static>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`; records the caller's location.
    ///
    /// ```
    /// let m = corral::sync::Mutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    #[track_caller]
    pub fn new(value: T) -> Self {
        Mutex {
            raw: RawMutex::new(Location::caller()),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// ```
    /// let m = corral::sync::Mutex::new(vec![1]);
    /// assert_eq!(m.into_inner(), vec![1]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock (FIFO) and returns a guard that unlocks on drop.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe and fair: a dropped future gives up its place; if the
    /// lock had already been handed to it, the lock passes to the next
    /// waiter (or is released).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let m = corral::sync::Mutex::new(1);
    /// *m.lock().await += 1;
    /// assert_eq!(*m.lock().await, 2);
    /// # });
    /// ```
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> + '_ {
        // A hand-written future rather than an `async fn`: it keeps a
        // waiting task's state small (no generator around the waiter).
        Lock {
            acquire: MutexAcquire::new(self),
        }
    }

    /// Takes the lock if it is free and nobody waits for it.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if it is held (or a waiter is first in line).
    ///
    /// ```
    /// let m = corral::sync::Mutex::new(1);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        if self.raw.try_lock() {
            Ok(MutexGuard {
                mutex: self,
                _not_sync: PhantomData,
            })
        } else {
            Err(TryLockError(()))
        }
    }

    /// As [`lock`](Self::lock), holding the mutex by `Arc` so the guard can
    /// move into another task.
    ///
    /// # Cancel safety
    ///
    /// As [`lock`](Self::lock).
    ///
    /// ```
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let m = Arc::new(corral::sync::Mutex::new(0));
    /// let mut g = m.clone().lock_owned().await;
    /// corral::spawn(async move { *g = 7 }).await.unwrap();
    /// assert_eq!(*m.lock().await, 7);
    /// # });
    /// ```
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        self.raw.lock().await;
        OwnedMutexGuard {
            mutex: self,
            _not_sync: PhantomData,
        }
    }

    /// As [`try_lock`](Self::try_lock), holding the mutex by `Arc`.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if it is held.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(corral::sync::Mutex::new(0));
    /// let _g = m.clone().try_lock_owned().unwrap();
    /// assert!(m.clone().try_lock_owned().is_err());
    /// ```
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        if self.raw.try_lock() {
            Ok(OwnedMutexGuard {
                mutex: self,
                _not_sync: PhantomData,
            })
        } else {
            Err(TryLockError(()))
        }
    }

    /// Blocks the current thread until the lock is ours (FIFO with the
    /// async waiters).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): blocking there would stall its tasks. Use
    /// [`lock`](Self::lock) there, or call this from `corral::run_sync`.
    ///
    /// ```
    /// let m = corral::sync::Mutex::new(1);
    /// *m.blocking_lock() += 1;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        let locked = self.raw.blocking_lock(None, "Mutex::blocking_lock");
        debug_assert!(locked, "no deadline, so no timeout");
        MutexGuard {
            mutex: self,
            _not_sync: PhantomData,
        }
    }

    /// As [`blocking_lock`](Self::blocking_lock), giving up after `timeout`.
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
    /// let m = corral::sync::Mutex::new(());
    /// let held = m.try_lock().unwrap();
    /// assert!(m.blocking_lock_timeout(Duration::from_millis(5)).is_err());
    /// drop(held);
    /// assert!(m.blocking_lock_timeout(Duration::from_millis(5)).is_ok());
    /// ```
    #[track_caller]
    pub fn blocking_lock_timeout(&self, timeout: Duration) -> Result<MutexGuard<'_, T>, LockTimeout> {
        let deadline = Instant::now().checked_add(timeout);
        if self.raw.blocking_lock(deadline, "Mutex::blocking_lock_timeout") {
            Ok(MutexGuard {
                mutex: self,
                _not_sync: PhantomData,
            })
        } else {
            Err(LockTimeout(()))
        }
    }

    /// The data, through `&mut self`: no locking needed.
    ///
    /// ```
    /// let mut m = corral::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self`: no guard exists, nobody else can reach the data.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// True if someone holds the lock right now.
    ///
    /// ```
    /// let m = corral::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.is_locked());
    /// drop(g);
    /// assert!(!m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Where this mutex was created.
    ///
    /// ```
    /// let m = corral::sync::Mutex::new(());
    /// println!("created at {}", m.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.raw.created_at()
    }

    /// A snapshot: locked, who waits, and which task holds it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// let m = Arc::new(corral::sync::Mutex::new(()));
    /// let m2 = m.clone();
    /// let task = corral::spawn(async move {
    ///     let _g = m2.lock().await;
    ///     m2.statistics().holder
    /// });
    /// let id = task.id();
    /// assert_eq!(task.await.unwrap(), Some(id));
    /// assert!(!m.statistics().locked);
    /// # });
    /// ```
    pub fn statistics(&self) -> MutexStatistics {
        MutexStatistics {
            locked: self.raw.is_locked(),
            tasks_waiting: self.raw.waiting(),
            holder: self.raw.holder(),
            created_at: self.raw.created_at(),
        }
    }
}

impl<T: ?Sized> HasRawMutex for Mutex<T> {
    #[inline]
    fn raw_mutex(&self) -> &RawMutex {
        &self.raw
    }
}

/// The future of [`Mutex::lock`].
struct Lock<'a, T: ?Sized> {
    acquire: MutexAcquire<'a, Mutex<T>>,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // SAFETY: `acquire` is structurally pinned (never moved out).
        let acquire = unsafe { self.map_unchecked_mut(|l| &mut l.acquire) };
        let mutex = acquire.owner();
        ready!(acquire.poll(cx));
        Poll::Ready(MutexGuard {
            mutex,
            _not_sync: PhantomData,
        })
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.field("created_at", &format_args!("{}", self.raw.created_at()))
            .finish()
    }
}

/// The lock on a [`Mutex`]; unlocks (handing the lock to the next waiter)
/// when dropped.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let m = corral::sync::Mutex::new(String::new());
/// let mut g = m.lock().await;
/// g.push_str("hi");
/// drop(g);
/// assert_eq!(*m.lock().await, "hi");
/// # });
/// ```
///
/// A guard of `!Sync` data is not `Sync` itself:
///
/// ```compile_fail
/// fn sync<T: Sync>(_: &T) {}
/// let m = corral::sync::Mutex::new(std::cell::Cell::new(1));
/// sync(&m.try_lock().unwrap());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// `&Mutex<T>` is Sync for `T: Send`, but a shared guard hands out
    /// `&T`, which needs `T: Sync`: opt out and say so below.
    _not_sync: PhantomData<*const ()>,
}

// SAFETY: the guard may be dropped (unlocking) on any thread, and moves
// `&mut T` with it: `T: Send`, as std's `MutexGuard` would need.
unsafe impl<T: ?Sized + Send> Send for MutexGuard<'_, T> {}
// SAFETY: `&MutexGuard` gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Narrows the guard to a part of the data (a field, an element); the
    /// lock stays held until the mapped guard drops.
    ///
    /// ```
    /// use corral::sync::{MutexGuard, Mutex};
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let m = Mutex::new((1, String::from("a")));
    /// let mut s = MutexGuard::map(m.lock().await, |pair| &mut pair.1);
    /// s.push('b');
    /// drop(s);
    /// assert_eq!(m.lock().await.1, "ab");
    /// # });
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&mut T) -> &mut U) -> MappedMutexGuard<'a, U> {
        let this = std::mem::ManuallyDrop::new(this);
        // If `f` panics, the guard must still unlock: put one back around it.
        let unlock = MutexGuard {
            mutex: this.mutex,
            _not_sync: PhantomData,
        };
        // SAFETY: we hold the lock (this guard), so `&mut T` is exclusive
        // for as long as `'a` and the lock last.
        let data = f(this.mutex.data.with_mut(|p| unsafe { &mut *p }));
        let data = NonNull::from(data);
        std::mem::forget(unlock);
        MappedMutexGuard {
            raw: &this.mutex.raw,
            data,
            _marker: PhantomData,
        }
    }

    /// The mutex this guard locks.
    ///
    /// ```
    /// let m = corral::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(std::ptr::eq(corral::sync::MutexGuard::mutex(&g), &m));
    /// ```
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no `&mut T` exists elsewhere.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed mutably.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A [`MutexGuard`] narrowed by [`MutexGuard::map`] to part of the data;
/// unlocks when dropped.
///
/// ```
/// use corral::sync::{Mutex, MutexGuard};
/// let m = Mutex::new([1, 2, 3]);
/// let mut second = MutexGuard::map(m.try_lock().unwrap(), |a| &mut a[1]);
/// *second = 20;
/// drop(second);
/// assert_eq!(m.into_inner(), [1, 20, 3]);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    raw: &'a RawMutex,
    data: NonNull<T>,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: as `MutexGuard`: the guard moves `&mut T` and the right to unlock.
unsafe impl<T: ?Sized + Send> Send for MappedMutexGuard<'_, T> {}
// SAFETY: `&MappedMutexGuard` gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MappedMutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MappedMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the locked data, exclusive while the
        // lock (this guard) is held.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, borrowed mutably.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The lock on an `Arc<Mutex<T>>`, from [`Mutex::lock_owned`]; `'static`,
/// so it can move into a spawned task. Unlocks when dropped.
///
/// ```
/// use std::sync::Arc;
/// let m = Arc::new(corral::sync::Mutex::new(1));
/// let mut g = m.clone().try_lock_owned().unwrap();
/// std::thread::spawn(move || *g += 1).join().unwrap();
/// assert_eq!(*m.try_lock().unwrap(), 2);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
    /// `Arc<Mutex<T>>` is Sync for `T: Send`, but a shared guard hands out
    /// `&T`: opt out, and restrict by hand below.
    _not_sync: PhantomData<*const ()>,
}

// SAFETY: as `MutexGuard`: the guard moves `&mut T` and the right to unlock.
unsafe impl<T: ?Sized + Send> Send for OwnedMutexGuard<T> {}
// SAFETY: `&OwnedMutexGuard` gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(corral::sync::Mutex::new(()));
    /// let g = m.clone().try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(corral::sync::OwnedMutexGuard::mutex(&g), &m));
    /// ```
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.mutex
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no `&mut T` exists elsewhere.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed mutably.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
