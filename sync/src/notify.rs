//! [`Notify`]: tokio's task notification (one stored permit for
//! `notify_one`, a broadcast for `notify_waiters`), on the wait hook.
//!
//! # State, and who may touch it
//!
//! One short lock guards `permit` (a stored `notify_one`, at most one) and
//! the [`WaitList`] of registered [`Notified`] futures and blocked threads.
//! Each waiter's payload is a [`Mark`]: `None` while it waits, `One` once a
//! `notify_one` chose it, `All` once a `notify_waiters` did. `calls`
//! counts `notify_waiters` calls; it is bumped under the lock and read
//! without it when a `Notified` is created, so that a broadcast reaches
//! every future created before it, polled or not (tokio's rule).
//!
//! # Protocol
//!
//! - `notify_one`: under the lock, the first unmarked waiter is marked
//!   `One` and woken (`wake_front`: it runs next on this worker); with no
//!   waiter, `permit = true`. Waiters marked `All` ahead of it (a
//!   `notify_waiters` between two wake chunks) are woken on the way: they
//!   are due anyway, and only the front can be woken.
//! - `notify_waiters`: under the lock, bump `calls` and mark every waiter
//!   `All` (so waiters that register later are not woken); then wake the
//!   marked prefix in chunks of [`WakeBatch::CAPACITY`], releasing the lock
//!   between chunks. The permit is left alone.
//! - `Notified`, first registration (a poll, or `enable`): done at once if
//!   `calls` moved since creation, or by taking the permit; else queued.
//!   Later: done when its node is notified.
//!
//! # Cancellation
//!
//! A `Notified` dropped after a `notify_one` chose it (`Removed::Notified`
//! with `One`) passes the notification on: to the next waiter, or as the
//! stored permit. A broadcast is not passed on (it reached everyone it
//! was for). A notification is consumed only by a poll that returns
//! `Ready` (or an `enable` that returns true).

use crate::loom::{AtomicUsize, Lock, LockGuard, Ordering};
use corral_runtime::coop;
use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A waiter's payload: who chose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Waiting,
    /// A `notify_one` chose it: pass it on if cancelled.
    One,
    /// A `notify_waiters` reached it.
    All,
}

struct State {
    /// A `notify_one` with nobody waiting (at most one is stored).
    permit: bool,
    waiters: WaitList<Mark>,
}

impl State {
    /// `notify_one`'s step: wakes marked-`All` waiters at the front, then
    /// marks and wakes the first unmarked one, or stores the permit.
    /// Returns true if the batch filled first (wake it and call again).
    fn fill_one(&mut self, batch: &mut WakeBatch) -> bool {
        loop {
            let Some(front) = self.waiters.front_mut() else {
                self.permit = true;
                return false;
            };
            if batch.is_full() {
                return true;
            }
            let done = *front == Mark::Waiting;
            if done {
                *front = Mark::One;
            }
            self.waiters.wake_front(batch);
            if done {
                return false;
            }
        }
    }

    /// Wakes the marked prefix (a `notify_waiters` in progress).
    fn fill_marked(&mut self, batch: &mut WakeBatch) -> bool {
        while let Some(front) = self.waiters.front_mut() {
            if *front == Mark::Waiting {
                return false;
            }
            if batch.is_full() {
                return true;
            }
            self.waiters.wake_front(batch);
        }
        false
    }
}

/// Notifies tasks (or threads) that something happened: tokio's `Notify`.
///
/// # Semantics
///
/// - [`notify_one`](Self::notify_one) wakes the first waiter (FIFO), or,
///   if nobody waits, stores **one** permit that the next
///   [`notified`](Self::notified) consumes at once (several calls store
///   still one).
/// - [`notify_waiters`](Self::notify_waiters) wakes every waiter
///   registered now, and every [`Notified`] future created before the call,
///   even if not yet polled; it stores no permit.
/// - [`Notified::enable`] registers a future without awaiting it, so the
///   "check the state, then wait" pattern loses no wakeup: enable, check,
///   then await.
/// - **Cancellation loses nothing:** a [`Notified`] chosen by `notify_one`
///   and dropped before it was polled passes the notification on to the
///   next waiter (or stores it as the permit).
/// - Wakes go through the wait hook: a woken task runs next on the
///   notifying worker.
///
/// Deviations from tokio, by choice: there is no `notify_last` (the wait
/// list wakes from the front only); [`blocking_notified`](Self::blocking_notified)
/// and [`blocking_notified_timeout`](Self::blocking_notified_timeout) are
/// added for plain threads; construction records its location
/// (`#[track_caller]`, so `new` is not `const`). asyncio and threading have
/// no such type (their `Condition` or `Event` fill the role); AnyIO
/// neither.
///
/// ```
/// use corral::sync::Notify;
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let notify = Arc::new(Notify::new());
/// let n = notify.clone();
/// let waiter = corral::spawn(async move {
///     n.notified().await;
///     "woken"
/// });
/// notify.notify_one(); // wakes it, or leaves a permit if it is not waiting yet
/// assert_eq!(waiter.await.unwrap(), "woken");
/// # });
/// ```
pub struct Notify {
    state: Lock<State>,
    /// `notify_waiters` calls so far; written under the lock.
    calls: AtomicUsize,
    created_at: &'static Location<'static>,
}

/// A snapshot of a [`Notify`], from [`Notify::statistics`].
///
/// ```
/// let n = corral::sync::Notify::new();
/// n.notify_one();
/// let s = n.statistics();
/// assert_eq!((s.tasks_waiting, s.permit_stored), (0, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotifyStatistics {
    /// Futures and threads registered and not yet woken (AnyIO's name).
    pub tasks_waiting: usize,
    /// A `notify_one` permit is stored.
    pub permit_stored: bool,
    /// Where the `Notify` was created.
    pub created_at: &'static Location<'static>,
}

/// `Notify::blocking_notified_timeout` gave up: no notification in time.
///
/// ```
/// use std::time::Duration;
/// let n = corral::sync::Notify::new();
/// let err = n.blocking_notified_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err.to_string(), "timed out waiting for a notification");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotifyTimeout(());

impl fmt::Display for NotifyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for a notification")
    }
}

impl std::error::Error for NotifyTimeout {}

impl Default for Notify {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl Notify {
    /// A `Notify` with no stored permit. Records the caller's location.
    ///
    /// ```
    /// let n = corral::sync::Notify::new();
    /// assert!(n.created_at().file().ends_with(".rs"));
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        Notify {
            state: Lock::new(State {
                permit: false,
                waiters: WaitList::new(),
            }),
            calls: AtomicUsize::new(0),
            created_at: Location::caller(),
        }
    }

    /// Where this `Notify` was created.
    ///
    /// ```
    /// println!("{}", corral::sync::Notify::new().created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.created_at
    }

    /// A snapshot of the state.
    ///
    /// ```
    /// assert_eq!(corral::sync::Notify::new().statistics().tasks_waiting, 0);
    /// ```
    pub fn statistics(&self) -> NotifyStatistics {
        let st = self.state.lock();
        NotifyStatistics {
            tasks_waiting: st.waiters.len(),
            permit_stored: st.permit,
            created_at: self.created_at,
        }
    }

    /// Wakes the first waiter (FIFO); with nobody waiting, stores one
    /// permit for the next [`notified`](Self::notified) (at most one).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let n = corral::sync::Notify::new();
    /// n.notify_one();
    /// n.notify_one(); // still one permit
    /// n.notified().await; // consumes it at once
    /// assert!(!n.statistics().permit_stored);
    /// # });
    /// ```
    #[inline]
    pub fn notify_one(&self) {
        let mut st = self.state.lock();
        match st.waiters.front_mut() {
            None => st.permit = true,
            // The common case: the front waits for a `notify_one`. Mark it
            // and wake it alone, without the chunk loop (`fill_one`'s job
            // when broadcast-marked waiters sit in front).
            Some(front) if *front == Mark::Waiting => {
                *front = Mark::One;
                let mut batch = WakeBatch::new();
                st.waiters.wake_front(&mut batch);
                batch.wake_after(st);
            }
            Some(_) => self.notify_one_slow(st),
        }
    }

    #[cold]
    fn notify_one_slow(&self, st: LockGuard<'_, State>) {
        let mut first = Some(st);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state.lock()),
            |st, batch| st.fill_one(batch),
        );
    }

    /// Wakes every waiter registered now, and every [`Notified`] created
    /// before this call (polled or not). Stores no permit; later waiters
    /// are not affected.
    ///
    /// ```
    /// use corral::sync::Notify;
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let n = Arc::new(Notify::new());
    /// let a = n.notified(); // created before the call: woken by it
    /// let n2 = n.clone();
    /// let t = corral::spawn(async move { n2.notified().await });
    /// while n.statistics().tasks_waiting == 0 {
    ///     corral::yield_now().await;
    /// }
    /// n.notify_waiters();
    /// a.await;
    /// t.await.unwrap();
    /// assert!(!n.statistics().permit_stored);
    /// # });
    /// ```
    pub fn notify_waiters(&self) {
        let mut first = true;
        WakeBatch::wake_in_chunks(
            || self.state.lock(),
            |st, batch| {
                if std::mem::take(&mut first) {
                    // Release: pairs with the Acquire in `notified`, so a
                    // future created after this sees the new count.
                    self.calls.fetch_add(1, Ordering::Release);
                    for mark in st.waiters.iter_mut() {
                        if *mark == Mark::Waiting {
                            *mark = Mark::All;
                        }
                    }
                }
                st.fill_marked(batch)
            },
        );
    }

    /// A future that completes when this `Notify` is notified: by a stored
    /// permit, a [`notify_one`](Self::notify_one) that chooses it (once it
    /// is registered: polled or [`enable`](Notified::enable)d), or a
    /// [`notify_waiters`](Self::notify_waiters) called after its creation.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future leaves the queue; if a `notify_one`
    /// had chosen it, the notification passes to the next waiter (or is
    /// stored as the permit), so none is lost.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let n = corral::sync::Notify::new();
    /// n.notify_one();
    /// n.notified().await;
    /// # });
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            node: WaitNode::new(Mark::Waiting),
            // Acquire: pairs with the Release in `notify_waiters`.
            calls: self.calls.load(Ordering::Acquire),
            done: false,
        }
    }

    /// Blocks the current thread until notified (a stored permit, or a
    /// `notify_one` / `notify_waiters` after the call).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (await
    /// [`notified`](Self::notified) there).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let n = Arc::new(corral::sync::Notify::new());
    /// let n2 = n.clone();
    /// let t = std::thread::spawn(move || n2.blocking_notified());
    /// n.notify_one();
    /// t.join().unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_notified(&self) {
        assert_may_block("Notify::blocking_notified");
        let r = self.blocking(None);
        debug_assert!(r.is_ok());
    }

    /// As [`blocking_notified`](Self::blocking_notified), giving up after
    /// `timeout`. A notification that races the timeout is kept (Ok).
    ///
    /// # Errors
    ///
    /// [`NotifyTimeout`] if no notification came in time.
    ///
    /// # Panics
    ///
    /// As [`blocking_notified`](Self::blocking_notified).
    ///
    /// ```
    /// use std::time::Duration;
    /// let n = corral::sync::Notify::new();
    /// n.notify_one();
    /// assert!(n.blocking_notified_timeout(Duration::from_millis(1)).is_ok());
    /// assert!(n.blocking_notified_timeout(Duration::from_millis(1)).is_err());
    /// ```
    #[track_caller]
    pub fn blocking_notified_timeout(&self, timeout: Duration) -> Result<(), NotifyTimeout> {
        assert_may_block("Notify::blocking_notified_timeout");
        self.blocking(Instant::now().checked_add(timeout))
    }

    fn blocking(&self, deadline: Option<Instant>) -> Result<(), NotifyTimeout> {
        let node = pin!(WaitNode::new(Mark::Waiting));
        {
            let mut st = self.state.lock();
            if std::mem::take(&mut st.permit) {
                return Ok(());
            }
            // SAFETY: the node is in no list; it only goes into this one,
            // under this lock, and leaves it (woken, or removed below)
            // before this function returns.
            unsafe { st.waiters.push_back_thread(node.as_ref()) };
        }
        let notified = node.as_ref().park_until(deadline);
        if notified {
            return Ok(());
        }
        let mut st = self.state.lock();
        // SAFETY: queued in this list or in none; lock held.
        match unsafe { st.waiters.remove(node.as_ref()) } {
            // The wake raced the timeout: keep it.
            Removed::Notified => Ok(()),
            Removed::Unlinked { .. } => {
                // SAFETY: unlinked: the payload is ours.
                let mark = *unsafe { st.waiters.value_of(node.as_ref()) };
                debug_assert_ne!(mark, Mark::One, "notify_one marks and wakes at once");
                Err(NotifyTimeout(()))
            }
            Removed::NotQueued => unreachable!("a blocking waiter lost its node"),
        }
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("Notify")
            .field("permit", &st.permit)
            .field("waiting", &st.waiters.len())
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The future of [`Notify::notified`].
///
/// Its wait node is pinned inside it (no allocation per wait).
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    node: WaitNode<Mark>,
    /// `notify_waiters` calls when it was created.
    calls: usize,
    done: bool,
}

impl Notified<'_> {
    fn node(self: Pin<&Self>) -> Pin<&WaitNode<Mark>> {
        // SAFETY: `node` is structurally pinned: never moved out of `Notified`.
        unsafe { self.map_unchecked(|n| &n.node) }
    }

    fn finish(self: Pin<&mut Self>) -> Poll<()> {
        // SAFETY: `done` is not structurally pinned.
        unsafe { self.get_unchecked_mut() }.done = true;
        Poll::Ready(())
    }

    /// Registers the future as a waiter without awaiting it, so that a
    /// `notify_one` after this call chooses it (or it takes a stored
    /// permit now). Returns true if it is already notified (then awaiting
    /// it completes at once). Use it to check a condition without losing
    /// a wakeup: enable, check, await.
    ///
    /// A permit taken (or a notification received) here is consumed by
    /// this future, as in tokio: dropping it afterwards passes on only a
    /// `notify_one` that came after `enable` returned false.
    ///
    /// ```
    /// use corral::sync::Notify;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let notify = Notify::new();
    /// let ready = AtomicBool::new(false);
    /// let mut wait = std::pin::pin!(notify.notified());
    /// assert!(!wait.as_mut().enable()); // registered: a notify_one now picks it
    /// ready.store(true, Ordering::SeqCst);
    /// notify.notify_one();
    /// if !ready.load(Ordering::SeqCst) {
    ///     wait.await;
    /// }
    /// # });
    /// ```
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.poll_notified(None).is_ready()
    }

    fn poll_notified(self: Pin<&mut Self>, mut cx: Option<&mut Context<'_>>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        if self.as_ref().node().take_notified() {
            return self.finish();
        }
        let queued = self.as_ref().node().is_queued();
        if !queued {
            if let Some(cx) = cx.as_deref_mut() {
                // Spend one unit of budget, so a loop that always finds a
                // permit still gives way.
                ready!(coop::poll_consume_budget(cx));
            }
        }
        let notify = self.notify;
        let mut st = notify.state.lock();
        let node = self.as_ref().node();
        // Again under the lock: a wake may have landed in between.
        if node.take_notified() {
            drop(st);
            return self.finish();
        }
        let noop = Context::from_waker(Waker::noop());
        let cx: &Context<'_> = match cx.as_deref() {
            Some(cx) => cx,
            None => &noop,
        };
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { st.waiters.update_waker(node, cx) };
            stale.drop_after(st);
            return Poll::Pending;
        }
        // Relaxed: written under this lock.
        if notify.calls.load(Ordering::Relaxed) != self.calls {
            // A `notify_waiters` came after our creation.
            drop(st);
            return self.finish();
        }
        if std::mem::take(&mut st.permit) {
            drop(st);
            return self.finish();
        }
        // SAFETY: not queued: the payload is ours.
        *unsafe { st.waiters.value_of(node) } = Mark::Waiting;
        // SAFETY: the node is in no list; it only ever goes into this one,
        // under this lock, and `Drop` removes it before it is freed.
        unsafe { st.waiters.push_back(node, cx) };
        Poll::Pending
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_notified(Some(cx))
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut st = self.notify.state.lock();
        // SAFETY: the node can only be in this list; lock held.
        let removed = unsafe { st.waiters.remove(node) };
        // SAFETY: no longer queued: the payload is ours.
        let mark = *unsafe { st.waiters.value_of(node) };
        if removed == Removed::Notified && mark == Mark::One {
            // Chosen by a notify_one and never polled: pass it on.
            if st.waiters.is_empty() {
                st.permit = true;
            } else {
                self.notify.notify_one_slow(st);
            }
        }
        // Unlinked: a `notify_one` marks and wakes at once, so an unlinked
        // node holds at most a broadcast mark, which is not passed on.
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("node", &self.node)
            .field("done", &self.done)
            .finish()
    }
}
