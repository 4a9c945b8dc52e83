//! [`Condition`]: a condition variable that owns its [`Mutex`] (asyncio's
//! and threading's `Condition`, AnyIO's), built on the shared
//! [`SignalQueue`](crate::signal).
//!
//! # Protocol
//!
//! A wait runs in two phases:
//!
//! 1. **Queue, then unlock.** On its first poll the waiter queues in the
//!    condition's list (taking a ticket) and only then drops the mutex
//!    guard, so a `notify` made by anyone who takes the lock after it
//!    finds it queued: no notification falls between unlocking and
//!    queueing.
//! 2. **Re-lock.** Once a notification reaches it (the node is marked
//!    notified under the list's lock, FIFO), it locks the mutex again
//!    through the Mutex's fair queue and returns the guard.
//!
//! `notify(n)` wakes up to `n` of the waiters queued when it was called,
//! front first, in chunks; nothing is stored when nobody waits.
//!
//! # Cancellation
//!
//! - Dropped in phase 1 after a notification reached it: the notification
//!   passes on to the next queued waiter (the signal queue's
//!   `PassOn::Yes`). Unwoken: it just leaves the queue.
//! - Dropped in phase 2: the Mutex's future passes the lock on if it had
//!   been handed over, and a [`PassOnDrop`] passes the consumed
//!   notification on to the next queued waiter.

use crate::mutex::{Mutex, MutexGuard, MutexStatistics};
use crate::signal::{PassOn, PassOnDrop, SignalQueue, Waiter};
use corral_runtime::wait::assert_may_block;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::pin;
use std::time::{Duration, Instant};

/// A condition variable that owns the [`Mutex`] guarding the state it is
/// about: tasks wait (releasing the lock) until another task changes the
/// state and notifies them.
///
/// # Semantics
///
/// - **Owns its mutex** (asyncio's and AnyIO's shape): [`lock`](Self::lock)
///   returns that Mutex's [`MutexGuard`], and [`wait`](Self::wait) takes
///   the guard, releases the lock while waiting and returns it locked
///   again. A guard of any other mutex (another Condition's, say) is
///   refused with a panic, as std's `Condvar` refuses a second mutex; the
///   guard is dropped (the lock released) as the panic unwinds. Holding
///   the lock to notify is allowed but not required (asyncio raises
///   without it; std does not care; notifying under the lock is what
///   makes a state change and its wake-up atomic).
/// - **FIFO.** `notify(n)` wakes the `n` longest waiters; `notify_all`
///   wakes every waiter present when it is called, and not one that comes
///   later. Wakes go out in chunks, each onto the notifying worker's run
///   queue.
/// - **Where the woken queue for the lock:** each notified waiter locks
///   the Mutex again through its fair FIFO queue, behind whoever already
///   waits there (the notifier usually holds the lock, so they queue
///   behind it, in the order they run). It returns holding the lock.
/// - **Nothing lost on cancellation.** A notified waiter that is cancelled
///   before it returns, while still queued on the condition or while
///   re-locking, passes its notification on to the next waiter; a lock
///   handed to it passes on too.
/// - **No stored notifications**: a `notify` with nobody waiting does
///   nothing (threading's and asyncio's behaviour; tokio's
///   `Notify::notify_one` stores a permit instead). Loop on your predicate
///   ([`wait_while`](Self::wait_while)): another task may change the state
///   between the notify and the waiter's re-lock.
/// - **Timeouts**: [`wait_timeout`](Self::wait_timeout) returns the guard
///   and a [`WaitTimeoutResult`] (std's shape). A notification that
///   races the timeout and reaches the waiter first counts as a wake.
///
/// ```
/// use corral::sync::Condition;
/// use std::collections::VecDeque;
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let items = Arc::new(Condition::new(VecDeque::new()));
/// let q = items.clone();
/// let consumer = corral::spawn(async move {
///     let mut queue = q.wait_while(q.lock().await, |q| q.is_empty()).await;
///     queue.pop_front().unwrap()
/// });
/// items.lock().await.push_back("item");
/// items.notify_one();
/// assert_eq!(consumer.await.unwrap(), "item");
/// # });
/// ```
pub struct Condition<T: ?Sized> {
    queue: SignalQueue,
    /// Also holds the creation site: the mutex is created at the
    /// condition's caller (`#[track_caller]` passes through `new`).
    mutex: Mutex<T>,
}

/// A snapshot of a [`Condition`], from [`Condition::statistics`].
///
/// ```
/// let c = corral::sync::Condition::new(0);
/// let stats = c.statistics();
/// assert_eq!(stats.tasks_waiting, 0);
/// assert!(!stats.lock_statistics.locked);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConditionStatistics {
    /// Tasks and threads waiting to be notified (AnyIO's name); those
    /// notified and re-locking count in `lock_statistics.tasks_waiting`.
    pub tasks_waiting: usize,
    /// The owned mutex's statistics (AnyIO's name).
    pub lock_statistics: MutexStatistics,
    /// Where the condition was created.
    pub created_at: &'static Location<'static>,
}

/// Whether a [`Condition::wait_timeout`] (or its blocking form) returned
/// because the time ran out (std's `WaitTimeoutResult`).
///
/// ```
/// use std::time::Duration;
/// let c = corral::sync::Condition::new(());
/// let (_guard, result) = c.blocking_wait_timeout(c.blocking_lock(), Duration::from_millis(1));
/// assert!(result.timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because the timeout passed, not because of
    /// a notification.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = corral::sync::Condition::new(());
    /// let (_g, r) = c.blocking_wait_timeout(c.blocking_lock(), Duration::ZERO);
    /// assert!(r.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl<T> Condition<T> {
    /// A condition owning an unlocked mutex over `value`; records the
    /// caller's location (for the condition and its mutex).
    ///
    /// ```
    /// let c = corral::sync::Condition::new(Vec::<u32>::new());
    /// assert_eq!(c.into_inner(), Vec::<u32>::new());
    /// ```
    #[track_caller]
    pub fn new(value: T) -> Self {
        Condition {
            queue: SignalQueue::new(),
            mutex: Mutex::new(value),
        }
    }

    /// Consumes the condition, returning the data.
    ///
    /// ```
    /// let c = corral::sync::Condition::new(3);
    /// assert_eq!(c.into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.mutex.into_inner()
    }
}

impl<T: ?Sized> Condition<T> {
    /// Locks the owned mutex (FIFO), as [`Mutex::lock`].
    ///
    /// # Cancel safety
    ///
    /// As [`Mutex::lock`]: a dropped future gives up its place and passes
    /// on a lock already handed to it.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let c = corral::sync::Condition::new(1);
    /// *c.lock().await += 1;
    /// assert_eq!(*c.lock().await, 2);
    /// # });
    /// ```
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        self.mutex.lock().await
    }

    /// Locks the owned mutex from a plain thread, as
    /// [`Mutex::blocking_lock`].
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime.
    ///
    /// ```
    /// let c = corral::sync::Condition::new(1);
    /// *c.blocking_lock() += 1;
    /// assert_eq!(c.into_inner(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        self.mutex.blocking_lock()
    }

    /// The owned mutex (to `try_lock` it, or read its statistics).
    ///
    /// ```
    /// let c = corral::sync::Condition::new(0);
    /// assert!(c.mutex().try_lock().is_ok());
    /// ```
    pub fn mutex(&self) -> &Mutex<T> {
        &self.mutex
    }

    /// The data, through `&mut self`: no locking needed.
    ///
    /// ```
    /// let mut c = corral::sync::Condition::new(1);
    /// *c.get_mut() = 2;
    /// assert_eq!(c.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.mutex.get_mut()
    }

    #[track_caller]
    fn check_guard(&self, guard: &MutexGuard<'_, T>, what: &str) {
        if !std::ptr::eq(MutexGuard::mutex(guard), &self.mutex) {
            wrong_guard(what);
        }
    }

    /// Releases the lock, waits until notified, and locks again: returns
    /// holding the lock. Wakes may be spurious with respect to your
    /// predicate (another task may run between the notify and the
    /// re-lock): loop, or use [`wait_while`](Self::wait_while).
    ///
    /// # Panics
    ///
    /// At the call, if `guard` is not a guard of this condition's mutex
    /// (the guard is dropped, releasing its lock).
    ///
    /// # Cancel safety
    ///
    /// The guard is gone once the future is first polled (the lock is
    /// released while waiting); a dropped future does not give it back.
    /// Nothing else is lost: a notification that reached it passes on to
    /// the next waiter, and a lock handed to it while it re-locks passes
    /// on too.
    ///
    /// ```
    /// use corral::sync::Condition;
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let ready = Arc::new(Condition::new(false));
    /// let r = ready.clone();
    /// let waiter = corral::spawn(async move {
    ///     let mut g = r.lock().await;
    ///     while !*g {
    ///         g = r.wait(g).await;
    ///     }
    /// });
    /// corral::yield_now().await;
    /// *ready.lock().await = true;
    /// ready.notify_all();
    /// waiter.await.unwrap();
    /// # });
    /// ```
    #[track_caller]
    pub fn wait<'a>(&'a self, guard: MutexGuard<'a, T>) -> impl Future<Output = MutexGuard<'a, T>> + 'a {
        self.check_guard(&guard, "Condition::wait");
        async move { self.wait_inner(guard, None).await.0 }
    }

    /// Waits (as [`wait`](Self::wait)) for as long as `condition` returns
    /// true, then returns holding the lock: std's polarity
    /// (`wait_while(g, |q| q.is_empty())` waits while the queue is empty).
    /// Returns at once if `condition` is already false.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait); and if `condition` panics (the lock is
    /// released as the guard drops).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// use corral::sync::Condition;
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let count = Arc::new(Condition::new(0));
    /// let c = count.clone();
    /// let waiter = corral::spawn(async move { *c.wait_while(c.lock().await, |n| *n < 3).await });
    /// for _ in 0..3 {
    ///     *count.lock().await += 1;
    ///     count.notify_all();
    ///     corral::yield_now().await;
    /// }
    /// assert_eq!(waiter.await.unwrap(), 3);
    /// # });
    /// ```
    #[track_caller]
    pub fn wait_while<'a, F>(
        &'a self,
        guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> impl Future<Output = MutexGuard<'a, T>> + 'a
    where
        F: FnMut(&mut T) -> bool + 'a,
    {
        self.check_guard(&guard, "Condition::wait_while");
        async move {
            let mut guard = guard;
            while condition(&mut *guard) {
                guard = self.wait_inner(guard, None).await.0;
            }
            guard
        }
    }

    /// As [`wait`](Self::wait), giving up waiting for a notification after
    /// `timeout` (on the corral runtime's clock). Either way it returns
    /// holding the lock (re-locking is not bounded by the timeout, as in
    /// std and threading), with whether the time ran out.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait); and if it has to wait outside a corral
    /// runtime (the timer needs one).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let c = corral::sync::Condition::new(0);
    /// let (g, result) = c.wait_timeout(c.lock().await, Duration::from_millis(5)).await;
    /// assert!(result.timed_out());
    /// assert_eq!(*g, 0); // the lock is held again
    /// # });
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> impl Future<Output = (MutexGuard<'a, T>, WaitTimeoutResult)> + 'a {
        self.check_guard(&guard, "Condition::wait_timeout");
        async move {
            let (guard, notified) = self.wait_inner(guard, Some(timeout)).await;
            (guard, WaitTimeoutResult(!notified))
        }
    }

    /// Both phases of a wait (see the module docs). Returns the guard and
    /// true if a notification ended the wait (false: the timeout).
    async fn wait_inner<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
        timeout: Option<Duration>,
    ) -> (MutexGuard<'a, T>, bool) {
        // Phase 1: queue, then unlock. `waiter`'s Drop passes a
        // notification on if this future is dropped after one reached it.
        let waiter = pin!(Waiter::new(&self.queue, PassOn::Yes));
        let mut guard = Some(guard);
        let notified = {
            let woken = poll_fn(|cx| {
                let r = waiter.as_ref().poll_wait(cx, || false);
                // Queued (first poll) before the lock goes: a notify made
                // after the unlock finds this waiter.
                drop(guard.take());
                r
            });
            match timeout {
                None => {
                    woken.await;
                    true
                }
                Some(d) => match corral_runtime::time::timeout(d, woken).await {
                    Ok(()) => true,
                    // Leave the queue, unless a notification won the race.
                    Err(_) => waiter.as_ref().leave(),
                },
            }
        };
        // Phase 2: re-lock through the Mutex's fair queue. A consumed
        // notification passes on if we are dropped before returning.
        let pass_on = PassOnDrop::new(&self.queue, notified);
        let guard = self.mutex.lock().await;
        pass_on.disarm();
        (guard, notified)
    }

    /// Wakes up to `n` of the tasks and threads waiting now, longest
    /// waiting first; returns how many it woke. Nothing is stored for
    /// later waiters.
    ///
    /// ```
    /// let c = corral::sync::Condition::new(());
    /// assert_eq!(c.notify(2), 0); // nobody waits: nothing stored
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        self.queue.wake(self.queue.lock(), n)
    }

    /// Wakes the longest-waiting waiter, if any; true if one was woken.
    ///
    /// ```
    /// let c = corral::sync::Condition::new(());
    /// assert!(!c.notify_one());
    /// ```
    pub fn notify_one(&self) -> bool {
        self.notify(1) == 1
    }

    /// Wakes every task and thread waiting now (not those that start
    /// waiting later); returns how many.
    ///
    /// ```
    /// let c = corral::sync::Condition::new(());
    /// assert_eq!(c.notify_all(), 0);
    /// ```
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// As [`wait`](Self::wait), blocking the current thread.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait); and on a thread that drives a corral
    /// runtime (use [`wait`](Self::wait) there, or `corral::run_sync`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let c = Arc::new(corral::sync::Condition::new(false));
    /// let c2 = c.clone();
    /// let t = std::thread::spawn(move || {
    ///     let mut g = c2.blocking_lock();
    ///     while !*g {
    ///         g = c2.blocking_wait(g);
    ///     }
    /// });
    /// *c.blocking_lock() = true;
    /// c.notify_all();
    /// t.join().unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_wait<'a>(&'a self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.blocking_wait_inner(guard, None, "Condition::blocking_wait")
            .0
    }

    /// As [`wait_while`](Self::wait_while), blocking the current thread.
    ///
    /// # Panics
    ///
    /// As [`blocking_wait`](Self::blocking_wait).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let c = Arc::new(corral::sync::Condition::new(0));
    /// let c2 = c.clone();
    /// let t = std::thread::spawn(move || *c2.blocking_wait_while(c2.blocking_lock(), |n| *n == 0));
    /// *c.blocking_lock() = 5;
    /// c.notify_all();
    /// assert_eq!(t.join().unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn blocking_wait_while<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        self.check_guard(&guard, "Condition::blocking_wait_while");
        let mut guard = guard;
        while condition(&mut *guard) {
            guard = self
                .blocking_wait_inner(guard, None, "Condition::blocking_wait_while")
                .0;
        }
        guard
    }

    /// As [`wait_timeout`](Self::wait_timeout), blocking the current
    /// thread.
    ///
    /// # Panics
    ///
    /// As [`blocking_wait`](Self::blocking_wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = corral::sync::Condition::new(());
    /// let (_g, r) = c.blocking_wait_timeout(c.blocking_lock(), Duration::from_millis(2));
    /// assert!(r.timed_out());
    /// ```
    #[track_caller]
    pub fn blocking_wait_timeout<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = Instant::now().checked_add(timeout);
        let (guard, notified) =
            self.blocking_wait_inner(guard, Some(deadline), "Condition::blocking_wait_timeout");
        (guard, WaitTimeoutResult(!notified))
    }

    /// `deadline`: None waits forever; `Some(None)` is a timeout too far
    /// to represent (forever too).
    #[track_caller]
    fn blocking_wait_inner<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Option<Instant>>,
        what: &str,
    ) -> (MutexGuard<'a, T>, bool) {
        self.check_guard(&guard, what);
        assert_may_block(what);
        let mut guard = Some(guard);
        let notified = self
            .queue
            .blocking_wait(deadline.flatten(), || false, || drop(guard.take()));
        (self.mutex.blocking_lock(), notified)
    }

    /// Where this condition was created.
    ///
    /// ```
    /// let c = corral::sync::Condition::new(());
    /// println!("created at {}", c.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.mutex.created_at()
    }

    /// A snapshot: who waits to be notified, and the mutex's statistics.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let c = corral::sync::Condition::new(());
    /// let _g = c.lock().await;
    /// let stats = c.statistics();
    /// assert!(stats.lock_statistics.locked);
    /// assert_eq!(stats.tasks_waiting, 0);
    /// # });
    /// ```
    pub fn statistics(&self) -> ConditionStatistics {
        ConditionStatistics {
            tasks_waiting: self.queue.len(),
            lock_statistics: self.mutex.statistics(),
            created_at: self.mutex.created_at(),
        }
    }
}

#[cold]
#[track_caller]
fn wrong_guard(what: &str) -> ! {
    panic!("{what}: the guard is of another mutex; pass the guard returned by this Condition's `lock()`")
}

impl<T: Default> Default for Condition<T> {
    #[track_caller]
    fn default() -> Self {
        Condition::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("mutex", &&self.mutex)
            .field("tasks_waiting", &self.queue.len())
            .field("created_at", &format_args!("{}", self.mutex.created_at()))
            .finish()
    }
}
