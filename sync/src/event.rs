//! [`Event`]: a flag that tasks and threads wait on until it is set
//! (asyncio / threading / AnyIO `Event`), built on the shared
//! [`SignalQueue`](crate::signal).
//!
//! # State
//!
//! - `flag` (atomic): set or clear. Read without the lock by
//!   [`Event::is_set`] and by the fast path of [`Event::wait`]; written
//!   true only under the queue's lock (by `set`), false without it (by
//!   `clear`).
//! - the queue (under its lock): the waiters and their tickets.
//!
//! # Protocol
//!
//! A waiter checks the flag without the lock (one atomic load: the fast
//! path), then under the lock, and queues only if it is still clear.
//! `set` stores the flag under the lock and wakes every waiter queued at
//! that moment (those with a ticket below the bound it reads), FIFO, in
//! chunks. So a waiter either saw the flag set or was queued before `set`
//! took the lock and is woken by it: no wakeup is lost. Each woken node is
//! marked notified under the lock, so it completes on its next poll even
//! if `clear` runs first; a waiter that queued after a `clear` (ticket at
//! or above the bound) is left for the next `set`.

use crate::loom::AtomicBool;
use crate::signal::{PassOn, SignalQueue, Waiter};
use corral_runtime::wait::assert_may_block;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A flag that tasks and threads wait on until it is set: asyncio's,
/// threading's and AnyIO's `Event`, for corral tasks, other executors'
/// futures and plain threads alike.
///
/// # Semantics
///
/// - [`set`](Self::set) wakes **every** waiter waiting at that moment, in
///   FIFO order, in chunks of a few dozen (the lock is released between
///   chunks, and each chunk goes onto the setting worker's run queue in
///   one push; from outside a worker, idle workers are signalled once,
///   after the last chunk).
///   Woken waiters take nothing and retake no lock: there is no herd to
///   thunder.
/// - A waiter that was waiting when `set` ran **completes even if
///   [`clear`](Self::clear) runs before it is polled**: the wake is
///   recorded in its queue node under the lock, not re-read from the flag
///   (threading's and asyncio's guarantee). A waiter that starts after the
///   `clear` waits for the next `set`.
/// - [`wait`](Self::wait) on a set event completes at once: one atomic
///   load, no lock, and (like an already-ready future) no cooperative
///   budget spent, so a loop that awaits a set event never yields.
/// - [`is_set`](Self::is_set) is one atomic load.
/// - Timeouts are typed: [`wait_timeout`](Self::wait_timeout) and
///   [`blocking_wait_timeout`](Self::blocking_wait_timeout) return
///   `Err(EventTimeout)` where threading returns `False`, so `?` works and
///   the result cannot be ignored silently.
/// - Unlike AnyIO's (a one-shot event), a corral `Event` can be cleared and
///   set again, as asyncio's and threading's. tokio has no Event; its
///   `Notify::notify_waiters` is the nearest, without the stored flag.
///
/// ```
/// use corral::sync::Event;
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let ready = Arc::new(Event::new());
/// let workers: Vec<_> = (0..3)
///     .map(|i| {
///         let ready = ready.clone();
///         corral::spawn(async move {
///             ready.wait().await; // parked until initialisation is done
///             i
///         })
///     })
///     .collect();
/// // ... initialise ...
/// ready.set();
/// for w in workers {
///     w.await.unwrap();
/// }
/// # });
/// ```
pub struct Event {
    flag: AtomicBool,
    queue: SignalQueue,
    created_at: &'static Location<'static>,
}

/// A snapshot of an [`Event`], from [`Event::statistics`].
///
/// ```
/// let ev = corral::sync::Event::new();
/// let stats = ev.statistics();
/// assert!(!stats.is_set);
/// assert_eq!(stats.tasks_waiting, 0);
/// println!("created at {}", stats.created_at);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventStatistics {
    /// Tasks and threads waiting for the event (AnyIO's name).
    pub tasks_waiting: usize,
    /// The flag.
    pub is_set: bool,
    /// Where the event was created.
    pub created_at: &'static Location<'static>,
}

/// The event was not set before the timeout passed; from
/// [`Event::wait_timeout`] and [`Event::blocking_wait_timeout`].
///
/// ```
/// use std::time::Duration;
/// let ev = corral::sync::Event::new();
/// let err = ev.blocking_wait_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err.to_string(), "timed out waiting for the event to be set");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTimeout(());

impl fmt::Display for EventTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for the event to be set")
    }
}

impl std::error::Error for EventTimeout {}

impl Event {
    /// A clear event; records the caller's location.
    ///
    /// ```
    /// let ev = corral::sync::Event::new();
    /// assert!(!ev.is_set());
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        Event {
            flag: AtomicBool::new(false),
            queue: SignalQueue::new(),
            created_at: Location::caller(),
        }
    }

    /// Sets the flag and wakes every task and thread waiting for it (FIFO,
    /// in chunks). Later waits complete at once until
    /// [`clear`](Self::clear). Setting a set event does nothing.
    ///
    /// ```
    /// let ev = corral::sync::Event::new();
    /// ev.set();
    /// assert!(ev.is_set());
    /// ev.set(); // no-op
    /// ```
    pub fn set(&self) {
        // Acquire: pairs with the Release below in an earlier `set`; if the
        // flag is already up, whoever raised it wakes the waiters.
        if self.flag.load(Acquire) {
            return;
        }
        let queue = self.queue.lock();
        // Relaxed: the lock orders us after any earlier `set`.
        if self.flag.load(Relaxed) {
            return;
        }
        // Release: publishes what the setter wrote before `set` to a waiter
        // that sees the flag without the lock (the Acquire in `is_set` and
        // in `EventWait::poll`). Stored under the lock, so a waiter checking
        // under the lock either sees it or is queued and woken below.
        self.flag.store(true, Release);
        self.queue.wake(queue, usize::MAX);
    }

    /// Clears the flag: later waits wait for the next [`set`](Self::set).
    /// Waiters that a `set` already woke still complete.
    ///
    /// ```
    /// let ev = corral::sync::Event::new();
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// ```
    pub fn clear(&self) {
        // Release: keeps a clear after a write of the clearing thread
        // ordered for a waiter that reads the flag with Acquire. No lock:
        // a waiter that read the flag set under the lock just before may
        // still complete, as if it ran before the clear.
        self.flag.store(false, Release);
    }

    /// True if the flag is set. Lock-free: one atomic load.
    ///
    /// ```
    /// let ev = corral::sync::Event::new();
    /// assert!(!ev.is_set());
    /// ev.set();
    /// assert!(ev.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with the Release store in `set`.
        self.flag.load(Acquire)
    }

    /// Waits until the flag is set; completes at once if it is.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future leaves the queue, and nothing is lost
    /// (a `set` wakes every waiter, so nobody needs a wake passed on).
    ///
    /// ```
    /// use corral::sync::Event;
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let ev = Arc::new(Event::new());
    /// let e = ev.clone();
    /// let waiter = corral::spawn(async move { e.wait().await; "released" });
    /// ev.set();
    /// assert_eq!(waiter.await.unwrap(), "released");
    /// ev.wait().await; // set: at once
    /// # });
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            waiter: Waiter::new(&self.queue, PassOn::No),
            queued: false,
        }
    }

    /// As [`wait`](Self::wait), giving up after `timeout` (on the corral
    /// runtime's clock, so a paused clock in tests advances it). Completes
    /// at once, with no timer, if the event is set.
    ///
    /// # Errors
    ///
    /// [`EventTimeout`] if the event was not set in time.
    ///
    /// # Panics
    ///
    /// If it has to wait outside a corral runtime (the timer needs one);
    /// from another executor use [`blocking_wait_timeout`](Self::blocking_wait_timeout)
    /// on a blocking thread, or enter a corral runtime's handle.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let ev = corral::sync::Event::new();
    /// assert!(ev.wait_timeout(Duration::from_millis(5)).await.is_err());
    /// ev.set();
    /// assert_eq!(ev.wait_timeout(Duration::from_millis(5)).await, Ok(()));
    /// # });
    /// ```
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<(), EventTimeout> {
        corral_runtime::time::timeout(timeout, self.wait())
            .await
            .map_err(|_| EventTimeout(()))
    }

    /// Blocks the current thread until the flag is set (FIFO with the
    /// async waiters).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): blocking there would stall its tasks. Use
    /// [`wait`](Self::wait) there, or call this from `corral::run_sync`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let ev = Arc::new(corral::sync::Event::new());
    /// let e = ev.clone();
    /// let t = std::thread::spawn(move || e.blocking_wait());
    /// ev.set();
    /// t.join().unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_wait(&self) {
        assert_may_block("Event::blocking_wait");
        if self.is_set() {
            return;
        }
        // Acquire: as in `is_set`.
        let woken = self.queue.blocking_wait(None, || self.flag.load(Acquire), || {});
        debug_assert!(woken, "a wait without deadline returned unwoken");
    }

    /// As [`blocking_wait`](Self::blocking_wait), giving up after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`EventTimeout`] if the event was not set in time. A `set` that
    /// races the timeout and reaches this thread first wins (`Ok`).
    ///
    /// # Panics
    ///
    /// As [`blocking_wait`](Self::blocking_wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// let ev = corral::sync::Event::new();
    /// assert!(ev.blocking_wait_timeout(Duration::from_millis(1)).is_err());
    /// ev.set();
    /// assert!(ev.blocking_wait_timeout(Duration::from_millis(1)).is_ok());
    /// ```
    #[track_caller]
    pub fn blocking_wait_timeout(&self, timeout: Duration) -> Result<(), EventTimeout> {
        assert_may_block("Event::blocking_wait_timeout");
        if self.is_set() {
            return Ok(());
        }
        let deadline = Instant::now().checked_add(timeout);
        // Acquire: as in `is_set`.
        if self
            .queue
            .blocking_wait(deadline, || self.flag.load(Acquire), || {})
        {
            Ok(())
        } else {
            Err(EventTimeout(()))
        }
    }

    /// Where this event was created.
    ///
    /// ```
    /// let ev = corral::sync::Event::new();
    /// println!("created at {}", ev.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.created_at
    }

    /// A snapshot: who waits, the flag, the creation site.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// let ev = Arc::new(corral::sync::Event::new());
    /// let e = ev.clone();
    /// let waiter = corral::spawn(async move { e.wait().await });
    /// while ev.statistics().tasks_waiting == 0 {
    ///     corral::yield_now().await;
    /// }
    /// ev.set();
    /// waiter.await.unwrap();
    /// let stats = ev.statistics();
    /// assert!(stats.is_set);
    /// assert_eq!(stats.tasks_waiting, 0);
    /// # });
    /// ```
    pub fn statistics(&self) -> EventStatistics {
        EventStatistics {
            tasks_waiting: self.queue.len(),
            is_set: self.is_set(),
            created_at: self.created_at,
        }
    }
}

impl Default for Event {
    #[track_caller]
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .field("tasks_waiting", &self.queue.len())
            .field("created_at", &format_args!("{}", self.created_at))
            .finish()
    }
}

/// The future of [`Event::wait`]: completes once the event is set.
///
/// It owns its place in the queue (no allocation per wait). The first poll
/// completes at once if the flag is set (one atomic load); otherwise it
/// queues. Dropping it while it waits leaves the queue.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let ev = corral::sync::Event::new();
/// let wait: corral::sync::EventWait<'_> = ev.wait();
/// ev.set();
/// wait.await;
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct EventWait<'a> {
    event: &'a Event,
    waiter: Waiter<'a>,
    /// Polled past the fast path at least once (so the node may be queued).
    queued: bool,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `waiter` is structurally pinned (never moved out of the
        // future, re-pinned below); `event` and `queued` are plain data.
        let this = unsafe { self.get_unchecked_mut() };
        // The fast path: one atomic load (Acquire, as in `is_set`).
        if !this.queued && this.event.flag.load(Acquire) {
            return Poll::Ready(());
        }
        this.queued = true;
        // SAFETY: as above: `waiter` stays where it is.
        let waiter = unsafe { Pin::new_unchecked(&this.waiter) };
        let flag = &this.event.flag;
        // Acquire: as in `is_set` (under the lock, for the queue decision).
        waiter.poll_wait(cx, || flag.load(Acquire))
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("event", &self.event)
            .finish_non_exhaustive()
    }
}
