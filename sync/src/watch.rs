//! A watch channel: one value, changed by any number of [`Sender`]s and
//! watched by any number of [`Receiver`]s, each of which sees the latest
//! value (tokio's `watch`, so code moving from `tokio::sync::watch`
//! changes only the path).
//!
//! ```
//! use corral::sync::watch;
//! # corral::Runtime::new().unwrap().block_on(async {
//! let (tx, mut rx) = watch::channel("starting");
//! let watcher = corral::spawn(async move {
//!     let mut seen = Vec::new();
//!     while rx.changed().await.is_ok() {
//!         seen.push(*rx.borrow_and_update());
//!     }
//!     seen // the sender is gone: the loop ends
//! });
//! tx.send("ready").unwrap();
//! drop(tx);
//! // A watcher sees the last value; values in between may be skipped.
//! assert_eq!(watcher.await.unwrap().last(), Some(&"ready"));
//! # });
//! ```
//!
//! # Semantics (and the choices made)
//!
//! - **Latest value only.** A send replaces the value and bumps a version;
//!   every receiver remembers the version it saw last. `changed().await`
//!   returns as soon as the channel's version differs from the receiver's
//!   (and marks it seen), so a slow watcher skips intermediate values but
//!   never misses the last one.
//! - **Closing.** The channel closes when the last sender is dropped.
//!   `changed()` then fails with [`RecvError`] — but only
//!   once nothing unseen is left: a value sent just before the close is
//!   still reported first. [`Sender::send`] fails (handing the value back)
//!   while no receiver exists; [`Sender::send_replace`] and
//!   [`Sender::send_modify`] store the value anyway, for receivers made
//!   later with [`Sender::subscribe`].
//! - **Borrows are short.** [`Receiver::borrow`] returns a [`Ref`] that
//!   holds a read lock on the value: senders wait while one is alive, so
//!   keep it brief and never hold it across an `.await`.
//! - **Nothing lost on cancellation.** A dropped `changed()` future marks
//!   nothing seen: the next call reports the change it would have.
//! - **Plain threads and other executors.** `changed()` works under any
//!   executor; [`Receiver::blocking_changed`] and
//!   [`Receiver::blocking_changed_timeout`] serve plain threads.
//!
//! Where this differs from tokio: [`Receiver::has_changed`] answers
//! `Ok(true)` for a value sent just before the last sender was dropped
//! (tokio answers `Err` as soon as the senders are gone), so that it
//! agrees with `changed()`; the blocking methods, [`Receiver::statistics`]
//! and the [`WatchStream`] adapter (tokio-stream's, built in) are
//! additions.
//!
//! # Internals
//!
//! One allocation per channel: the value under a short reader-writer lock,
//! one atomic state word (`version << 2 | CLOSED | WAITERS`) and two
//! [`WaitList`]s under one small lock — receivers waiting in `changed()`
//! and senders waiting in [`Sender::closed`].
//!
//! - A send writes the value and bumps the version (one RMW on the state
//!   word, under the write lock, so a reader holding the read lock sees a
//!   version that matches the value). It takes the waiter lock only if the
//!   RMW saw `WAITERS` set, then wakes every waiting receiver in
//!   [`WakeBatch`]es of up to 32, releasing the lock between batches.
//! - A receiver that must wait queues its node (inside the `changed()`
//!   future: waiting allocates nothing) under the waiter lock, then sets
//!   `WAITERS` with an RMW on the same state word. The two RMWs are totally
//!   ordered: either the send comes first (the receiver's RMW returns the
//!   new version; it unqueues and returns `Ready`) or the receiver does
//!   (the send's RMW sees `WAITERS` and wakes it). `WAITERS` is cleared
//!   under the waiter lock when the list empties.

use crate::loom::{Arc, AtomicUsize, Lock, Ordering::*, RwCell, RwCellRead};
use corral_runtime::wait::{Removed, WaitList, WaitNode, WakeBatch};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::Location;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

/// Set once the last sender is gone.
const CLOSED: usize = 1;
/// Set while the receivers' wait list is not empty (changed only under
/// the waiter lock).
const WAITERS: usize = 1 << 1;
/// One version step.
const STEP: usize = 1 << 2;

/// The version part of a state word.
#[inline]
fn ver(state: usize) -> usize {
    state & !(STEP - 1)
}

/// The errors of a watch channel (tokio's module of the same name).
pub mod error {
    use std::fmt;

    /// Every receiver is gone: nobody would see the value, which comes
    /// back in `.0`.
    ///
    /// ```
    /// use corral::sync::watch::{self, error::SendError};
    /// let (tx, rx) = watch::channel(0);
    /// drop(rx);
    /// assert_eq!(tx.send(1), Err(SendError(1)));
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct SendError<T>(pub T);

    impl<T> SendError<T> {
        /// The value that was not sent.
        ///
        /// ```
        /// assert_eq!(corral::sync::watch::error::SendError(3).into_inner(), 3);
        /// ```
        pub fn into_inner(self) -> T {
            self.0
        }
    }

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("SendError(..)")
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("watch channel closed: every receiver was dropped")
        }
    }

    impl<T> std::error::Error for SendError<T> {}

    /// Every sender is gone and the receiver has seen the last value: no
    /// change can come any more.
    ///
    /// ```
    /// use corral::sync::watch::{self, error::RecvError};
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = watch::channel(0);
    /// drop(tx);
    /// assert_eq!(rx.changed().await, Err(RecvError(())));
    /// # });
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RecvError(pub ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("watch channel closed: every sender was dropped")
        }
    }

    impl std::error::Error for RecvError {}

    /// Why [`Receiver::blocking_changed_timeout`](super::Receiver::blocking_changed_timeout)
    /// returned without a change.
    ///
    /// ```
    /// use corral::sync::watch::{self, error::RecvTimeoutError};
    /// use std::time::Duration;
    /// let (_tx, mut rx) = watch::channel(0);
    /// let err = rx.blocking_changed_timeout(Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err, RecvTimeoutError::Timeout);
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum RecvTimeoutError {
        /// The timeout passed first; a change may still come.
        Timeout,
        /// No change can come (as [`RecvError`]).
        Closed,
    }

    impl fmt::Display for RecvTimeoutError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvTimeoutError::Timeout => f.write_str("timed out waiting for a change"),
                RecvTimeoutError::Closed => f.write_str("watch channel closed: every sender was dropped"),
            }
        }
    }

    impl std::error::Error for RecvTimeoutError {}
}

use error::{RecvError, RecvTimeoutError, SendError};

/// The two waiter lists, under one lock.
struct Waiters {
    /// Receivers waiting in `changed()`.
    changed: WaitList<()>,
    /// Senders waiting in `closed()`.
    closed: WaitList<()>,
}

struct Shared<T> {
    value: RwCell<T>,
    /// `version << 2 | WAITERS | CLOSED`; see the module docs.
    state: AtomicUsize,
    waiters: Lock<Waiters>,
    receivers: AtomicUsize,
    senders: AtomicUsize,
    created_at: &'static Location<'static>,
}

impl<T> Shared<T> {
    fn new(init: T, receivers: usize, created_at: &'static Location<'static>) -> Arc<Self> {
        Arc::new(Shared {
            value: RwCell::new(init),
            state: AtomicUsize::new(0),
            waiters: Lock::new(Waiters {
                changed: WaitList::new(),
                closed: WaitList::new(),
            }),
            receivers: AtomicUsize::new(receivers),
            senders: AtomicUsize::new(1),
            created_at,
        })
    }

    /// Wakes every receiver waiting in `changed()`, if the state word
    /// `prev` (read by the RMW that published the change) says any wait.
    fn wake_receivers(&self, prev: usize) {
        if prev & WAITERS == 0 {
            return;
        }
        WakeBatch::wake_in_chunks(
            || self.waiters.lock(),
            |w, batch| {
                let more = w.changed.wake_all(batch);
                if !more {
                    // Relaxed: the flag is only changed under this lock,
                    // and a sender reads it through its own RMW.
                    self.state.fetch_and(!WAITERS, Relaxed);
                }
                more
            },
        );
    }

    /// Wakes every sender waiting in `closed()`.
    fn wake_closed(&self) {
        WakeBatch::wake_in_chunks(|| self.waiters.lock(), |w, batch| w.closed.wake_all(batch));
    }

    /// One poll of a `changed()` wait: `version` is the receiver's,
    /// `node` its (pinned) wait node; `cx` is the task's context, or `None`
    /// for a blocked thread (the node then queues as a thread waiter).
    fn poll_changed(
        &self,
        version: &mut usize,
        node: Pin<&WaitNode<()>>,
        mut cx: Option<&mut Context<'_>>,
    ) -> Poll<Result<(), RecvError>> {
        // A wake is only a prompt to look at the state: consume it.
        node.take_notified();
        // Acquire: pairs with the sender's RMW, for the closing.
        let st = self.state.load(Acquire);
        if ver(st) != *version {
            *version = ver(st);
            return Poll::Ready(Ok(()));
        }
        if st & CLOSED != 0 {
            return Poll::Ready(Err(RecvError(())));
        }
        if let Some(cx) = cx.as_deref_mut() {
            ready!(corral_runtime::coop::poll_consume_budget(cx));
        }
        let mut w = self.waiters.lock();
        if node.is_queued() {
            // Still queued: no send woke us since we queued (a send that
            // bumped the version meanwhile wakes us once it gets the lock).
            if let Some(cx) = cx {
                // SAFETY: the node only ever goes into this list, under this lock.
                let stale = unsafe { w.changed.update_waker(node, cx) };
                stale.drop_after(w);
            }
            return Poll::Pending;
        }
        node.take_notified();
        match cx {
            // SAFETY: the node is in no list (not queued, notification
            // consumed); it only goes into this one, under this lock, and
            // the future's `Drop` takes it out.
            Some(cx) => unsafe { w.changed.push_back(node, cx) },
            // SAFETY: as above; the blocking loop takes it out.
            None => unsafe { w.changed.push_back_thread(node) },
        }
        // AcqRel: totally ordered with the senders' RMWs (module docs).
        let st = self.state.fetch_or(WAITERS, AcqRel);
        let outcome = if ver(st) != *version {
            *version = ver(st);
            Ok(())
        } else if st & CLOSED != 0 {
            Err(RecvError(()))
        } else {
            return Poll::Pending;
        };
        // The change came in first: unqueue.
        // SAFETY: queued in this list just now, lock held. Nothing was
        // handed over (a change wakes everyone; no handoff to pass on).
        let _ = unsafe { w.changed.remove(node) };
        if w.changed.is_empty() {
            self.state.fetch_and(!WAITERS, Relaxed);
        }
        drop(w);
        Poll::Ready(outcome)
    }

    /// One look of `wait_for`: marks the current value seen and returns it
    /// borrowed if `pred` holds (under the same read lock `pred` saw);
    /// otherwise `Err(closed)`. Not async, so that no read guard is ever
    /// held across an await of the caller.
    fn check<'a>(&'a self, seen: &mut usize, pred: &mut impl FnMut(&T) -> bool) -> Result<Ref<'a, T>, bool> {
        let guard = self.value.read();
        let st = self.state.load(Acquire);
        let has_changed = ver(st) != *seen;
        *seen = ver(st);
        if pred(&guard) {
            Ok(Ref { guard, has_changed })
        } else {
            Err(st & CLOSED != 0)
        }
    }

    /// Takes a `changed()` node out of the list (its future is dropped).
    fn cancel_changed(&self, node: Pin<&WaitNode<()>>) {
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut w = self.waiters.lock();
        // SAFETY: the node only ever goes into this list; lock held.
        match unsafe { w.changed.remove(node) } {
            Removed::Unlinked { .. } => {
                if w.changed.is_empty() {
                    self.state.fetch_and(!WAITERS, Relaxed);
                }
            }
            // Every waiter is woken on a change, so a consumed wake owes
            // nobody anything; the change stays unseen by this receiver.
            Removed::Notified | Removed::NotQueued => {}
        }
    }
}

/// Creates a watch channel holding `init`: a [`Sender`] to change the
/// value and a [`Receiver`] to watch it. The receiver starts with `init`
/// marked seen.
///
/// ```
/// use corral::sync::watch;
/// let (tx, rx) = watch::channel(1);
/// tx.send(2).unwrap();
/// assert_eq!(*rx.borrow(), 2);
/// ```
#[track_caller]
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Shared::new(init, 1, Location::caller());
    let rx = Receiver {
        shared: shared.clone(),
        version: 0,
    };
    (Sender { shared }, rx)
}

/// Changes the value of a [watch channel](self). Cloneable; the channel
/// closes when the last sender is dropped.
///
/// ```
/// use corral::sync::watch;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = watch::channel(0);
/// let tx2 = tx.clone();
/// corral::spawn(async move { tx2.send(7).unwrap() });
/// rx.changed().await.unwrap();
/// assert_eq!(*rx.borrow(), 7);
/// # });
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Watches the value of a [watch channel](self). Cloning gives another
/// receiver that has seen what this one has.
///
/// ```
/// use corral::sync::watch;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = watch::channel("a");
/// tx.send("b").unwrap();
/// let mut rx2 = rx.clone(); // has not seen "b" either
/// rx.changed().await.unwrap();
/// rx2.changed().await.unwrap();
/// assert_eq!((*rx.borrow(), *rx2.borrow()), ("b", "b"));
/// # });
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver has seen (a state word's version part).
    version: usize,
}

/// A read borrow of a watch channel's value, from [`Receiver::borrow`],
/// [`Receiver::borrow_and_update`] or [`Sender::borrow`].
///
/// It holds a read lock: every sender waits while it lives, so drop it
/// soon and never hold it across an `.await`.
///
/// ```
/// use corral::sync::watch;
/// let (tx, rx) = watch::channel(String::from("hi"));
/// let r = rx.borrow();
/// assert_eq!(r.len(), 2);
/// assert!(!r.has_changed());
/// drop(r); // before the next send
/// tx.send("hello".into()).unwrap();
/// ```
pub struct Ref<'a, T> {
    guard: RwCellRead<'a, T>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// True if the value was unseen by the receiver when it was borrowed
    /// (for [`Receiver::borrow_and_update`]: unseen before this borrow
    /// marked it seen; always false from [`Sender::borrow`]).
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, mut rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert!(rx.borrow().has_changed());
    /// assert!(rx.borrow_and_update().has_changed());
    /// assert!(!rx.borrow().has_changed());
    /// ```
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A snapshot of a watch channel, from [`Sender::statistics`] or
/// [`Receiver::statistics`].
///
/// ```
/// use corral::sync::watch;
/// let (tx, _rx) = watch::channel(0);
/// tx.send(1).unwrap();
/// let s = tx.statistics();
/// assert_eq!((s.receivers, s.senders, s.version, s.tasks_waiting, s.closed), (1, 1, 1, 0, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchStatistics {
    /// Receivers alive.
    pub receivers: usize,
    /// Senders alive (0 once the channel is closed).
    pub senders: usize,
    /// How many times the value was changed.
    pub version: usize,
    /// Tasks and threads waiting in `changed()`.
    pub tasks_waiting: usize,
    /// Senders waiting in [`Sender::closed`].
    pub tasks_waiting_closed: usize,
    /// Every sender was dropped.
    pub closed: bool,
    /// Where the channel was created.
    pub created_at: &'static Location<'static>,
}

impl<T> Shared<T> {
    fn statistics(&self) -> WatchStatistics {
        let w = self.waiters.lock();
        let st = self.state.load(Acquire);
        WatchStatistics {
            receivers: self.receivers.load(Relaxed),
            senders: self.senders.load(Relaxed),
            version: ver(st) / STEP,
            tasks_waiting: w.changed.len(),
            tasks_waiting_closed: w.closed.len(),
            closed: st & CLOSED != 0,
            created_at: self.created_at,
        }
    }
}

impl<T> Sender<T> {
    /// A sender with no receiver yet (make them with
    /// [`subscribe`](Self::subscribe)).
    ///
    /// ```
    /// use corral::sync::watch;
    /// let tx = watch::Sender::new(5);
    /// assert_eq!(tx.receiver_count(), 0);
    /// let rx = tx.subscribe();
    /// assert_eq!(*rx.borrow(), 5);
    /// ```
    #[track_caller]
    pub fn new(init: T) -> Self {
        Sender {
            shared: Shared::new(init, 0, Location::caller()),
        }
    }

    /// Replaces the value and notifies every receiver; fails, handing the
    /// value back, if there is no receiver (the value is then not stored).
    /// Never waits (beyond a read borrow that is alive).
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert_eq!(*rx.borrow(), 1);
    /// drop(rx);
    /// assert!(tx.send(2).is_err());
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.load(Relaxed) == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value, notifies every receiver and returns the old
    /// value; works without receivers too.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let tx = watch::Sender::new(1);
    /// assert_eq!(tx.send_replace(2), 1);
    /// assert_eq!(*tx.borrow(), 2);
    /// ```
    pub fn send_replace(&self, mut value: T) -> T {
        self.send_modify(|v| std::mem::swap(v, &mut value));
        value
    }

    /// Changes the value in place and notifies every receiver; works
    /// without receivers too.
    ///
    /// # Panics
    ///
    /// If `modify` panics, the panic propagates; changes it made stay, but
    /// receivers are not notified.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, rx) = watch::channel(vec![1]);
    /// tx.send_modify(|v| v.push(2));
    /// assert_eq!(*rx.borrow(), [1, 2]);
    /// ```
    pub fn send_modify<F: FnOnce(&mut T)>(&self, modify: F) {
        self.send_if_modified(|v| {
            modify(v);
            true
        });
    }

    /// Changes the value in place; notifies the receivers only if
    /// `modify` returns true (which it returns too).
    ///
    /// # Panics
    ///
    /// If `modify` panics, the panic propagates; changes it made stay, but
    /// receivers are not notified.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, rx) = watch::channel(3);
    /// assert!(!tx.send_if_modified(|v| { if *v > 5 { *v = 5; true } else { false } }));
    /// assert!(!rx.has_changed().unwrap());
    /// assert!(tx.send_if_modified(|v| { *v += 1; true }));
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn send_if_modified<F: FnOnce(&mut T) -> bool>(&self, modify: F) -> bool {
        let mut value = self.shared.value.write();
        if !modify(&mut value) {
            return false;
        }
        // AcqRel, under the write lock: a reader holding the read lock
        // sees a version that matches the value; the RMW orders this send
        // with a receiver's queueing (module docs).
        let prev = self.shared.state.fetch_add(STEP, AcqRel);
        drop(value);
        self.shared.wake_receivers(prev);
        true
    }

    /// Borrows the current value (see [`Ref`]: it blocks senders while it
    /// lives).
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, _rx) = watch::channel(4);
    /// assert_eq!(*tx.borrow(), 4);
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: self.shared.value.read(),
            has_changed: false,
        }
    }

    /// A new receiver that has seen the current value.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, _rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// let rx2 = tx.subscribe();
    /// assert!(!rx2.has_changed().unwrap());
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, Relaxed);
        let version = ver(self.shared.state.load(Acquire));
        Receiver {
            shared: self.shared.clone(),
            version,
        }
    }

    /// How many receivers are alive.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, rx) = watch::channel(());
    /// let rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// drop((rx, rx2));
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Relaxed)
    }

    /// How many senders are alive.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, _rx) = watch::channel(());
    /// let tx2 = tx.clone();
    /// assert_eq!(tx2.sender_count(), 2);
    /// ```
    pub fn sender_count(&self) -> usize {
        self.shared.senders.load(Relaxed)
    }

    /// True while no receiver is alive ([`send`](Self::send) would fail).
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, rx) = watch::channel(());
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Waits until no receiver is alive.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future changes nothing; call again.
    ///
    /// ```
    /// use corral::sync::watch;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = watch::channel(0);
    /// corral::spawn(async move { drop(rx) });
    /// tx.closed().await;
    /// assert!(tx.is_closed());
    /// # });
    /// ```
    pub fn closed(&self) -> Closed<'_, T> {
        Closed {
            shared: &self.shared,
            node: WaitNode::new(()),
        }
    }

    /// True if both handles belong to the same channel.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, rx) = watch::channel(0);
    /// let (tx2, _rx2) = watch::channel(0);
    /// assert!(tx.same_channel(&tx.clone()) && !tx.same_channel(&tx2));
    /// assert!(rx.same_channel(&tx.subscribe()));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A snapshot of the channel.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, _rx) = watch::channel(0);
    /// assert_eq!(tx.statistics().receivers, 1);
    /// ```
    pub fn statistics(&self) -> WatchStatistics {
        self.shared.statistics()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last sender's decrement sees every other's.
        if self.shared.senders.fetch_sub(1, AcqRel) == 1 {
            // AcqRel: ordered with a receiver's queueing, as a send.
            let prev = self.shared.state.fetch_or(CLOSED, AcqRel);
            self.shared.wake_receivers(prev);
        }
    }
}

impl<T> Receiver<T> {
    /// Borrows the current value without marking it seen (see [`Ref`]:
    /// it blocks senders while it lives).
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert_eq!(*rx.borrow(), 1);
    /// assert!(rx.has_changed().unwrap()); // still unseen
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = self.shared.value.read();
        // Under the read lock: the version matches the value.
        let has_changed = ver(self.shared.state.load(Acquire)) != self.version;
        Ref { guard, has_changed }
    }

    /// Borrows the current value and marks it seen.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, mut rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// assert_eq!(*rx.borrow_and_update(), 1);
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.value.read();
        let v = ver(self.shared.state.load(Acquire));
        let has_changed = v != self.version;
        self.version = v;
        Ref { guard, has_changed }
    }

    /// True if a value this receiver has not seen is in the channel;
    /// `Err` once every sender is gone and nothing is unseen. (Tokio
    /// answers `Err` as soon as the senders are gone; here an unseen last
    /// value still counts, as it does for [`changed`](Self::changed).)
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, mut rx) = watch::channel(0);
    /// assert!(!rx.has_changed().unwrap());
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert!(rx.has_changed().unwrap()); // the last value is unseen
    /// rx.mark_unchanged();
    /// assert!(rx.has_changed().is_err());
    /// ```
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let st = self.shared.state.load(Acquire);
        if ver(st) != self.version {
            Ok(true)
        } else if st & CLOSED != 0 {
            Err(RecvError(()))
        } else {
            Ok(false)
        }
    }

    /// Marks the current value unseen: the next [`changed`](Self::changed)
    /// returns at once.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (_tx, mut rx) = watch::channel(0);
    /// rx.mark_changed();
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn mark_changed(&mut self) {
        // A version no state word has: bit 0 is set, version steps are 4.
        self.version = ver(self.shared.state.load(Acquire)) | CLOSED;
    }

    /// Marks the current value seen, without borrowing it.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, mut rx) = watch::channel(0);
    /// tx.send(1).unwrap();
    /// rx.mark_unchanged();
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn mark_unchanged(&mut self) {
        self.version = ver(self.shared.state.load(Acquire));
    }

    /// Waits until the channel holds a value this receiver has not seen,
    /// and marks it seen; `Err` once every sender is gone and nothing is
    /// unseen. Returns at once if an unseen value is already there.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `changed()` marks nothing seen, so the next
    /// call reports the change it would have.
    ///
    /// ```
    /// use corral::sync::watch;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = watch::channel(0);
    /// corral::spawn(async move { tx.send(1).unwrap() });
    /// rx.changed().await.unwrap();
    /// assert_eq!(*rx.borrow(), 1);
    /// # });
    /// ```
    pub fn changed(&mut self) -> Changed<'_, T> {
        Changed {
            shared: &self.shared,
            version: &mut self.version,
            node: WaitNode::new(()),
        }
    }

    /// Waits until the value satisfies `pred` (checked on the current
    /// value first, then after each change), marks it seen and returns it
    /// borrowed; `Err` if every sender is gone and the last value does
    /// not satisfy it. `pred` runs under the read lock: keep it short.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `wait_for` leaves the receiver as a dropped
    /// [`changed`](Self::changed) does (values it looked at stay seen).
    ///
    /// ```
    /// use corral::sync::watch;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, mut rx) = watch::channel(0);
    /// corral::spawn(async move {
    ///     for i in 1..=10 {
    ///         tx.send(i).unwrap();
    ///         corral::yield_now().await;
    ///     }
    /// });
    /// let v = rx.wait_for(|v| *v >= 5).await.unwrap();
    /// assert!(*v >= 5);
    /// # });
    /// ```
    pub async fn wait_for(&mut self, mut pred: impl FnMut(&T) -> bool) -> Result<Ref<'_, T>, RecvError> {
        // Borrow the two fields apart, so that the returned `Ref` (which
        // borrows `shared`) and the waits (which update `version`) do not
        // conflict.
        let shared: &Shared<T> = &self.shared;
        let seen = &mut self.version;
        loop {
            match shared.check(seen, &mut pred) {
                Ok(r) => return Ok(r),
                // The value just checked is the last one.
                Err(true) => return Err(RecvError(())),
                Err(false) => {}
            }
            Changed {
                shared,
                version: &mut *seen,
                node: WaitNode::new(()),
            }
            .await?;
        }
    }

    /// Blocks this (non-runtime) thread until [`changed`](Self::changed)
    /// returns.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (use `.await` there).
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (tx, mut rx) = watch::channel(0);
    /// std::thread::spawn(move || tx.send(1).unwrap());
    /// rx.blocking_changed().unwrap();
    /// assert_eq!(*rx.borrow(), 1);
    /// ```
    #[track_caller]
    pub fn blocking_changed(&mut self) -> Result<(), RecvError> {
        self.blocking_changed_until("watch::Receiver::blocking_changed", None)
            .expect("no deadline: changed() completes")
    }

    /// As [`blocking_changed`](Self::blocking_changed), giving up after
    /// `timeout` ([`RecvTimeoutError::Timeout`]; nothing is marked seen).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime.
    ///
    /// ```
    /// use corral::sync::watch::{self, error::RecvTimeoutError};
    /// use std::time::Duration;
    /// let (tx, mut rx) = watch::channel(0);
    /// assert_eq!(rx.blocking_changed_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.blocking_changed_timeout(Duration::from_secs(1)), Ok(()));
    /// drop(tx);
    /// assert_eq!(rx.blocking_changed_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Closed));
    /// ```
    #[track_caller]
    pub fn blocking_changed_timeout(&mut self, timeout: Duration) -> Result<(), RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        match self.blocking_changed_until("watch::Receiver::blocking_changed_timeout", deadline) {
            Some(Ok(())) => Ok(()),
            Some(Err(RecvError(()))) => Err(RecvTimeoutError::Closed),
            None => Err(RecvTimeoutError::Timeout),
        }
    }

    /// The blocking wait: the thread queues a node on its stack as a
    /// thread waiter (the wait hook's `push_back_thread`) and parks until a
    /// send or the close wakes it, or `deadline` passes (`None`; nothing
    /// is marked seen).
    #[track_caller]
    fn blocking_changed_until(
        &mut self,
        what: &str,
        deadline: Option<Instant>,
    ) -> Option<Result<(), RecvError>> {
        corral_runtime::wait::assert_may_block(what);
        let node = pin!(WaitNode::new(()));
        let node = node.as_ref();
        let out = loop {
            if let Poll::Ready(out) = self.shared.poll_changed(&mut self.version, node, None) {
                break Some(out);
            }
            if !node.park_until(deadline) {
                break None;
            }
        };
        self.shared.cancel_changed(node);
        out
    }

    /// True if both handles belong to the same channel.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (_tx, rx) = watch::channel(0);
    /// assert!(rx.same_channel(&rx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A snapshot of the channel.
    ///
    /// ```
    /// use corral::sync::watch;
    /// let (_tx, rx) = watch::channel(0);
    /// let s = rx.statistics();
    /// assert_eq!((s.receivers, s.tasks_waiting), (1, 0));
    /// assert!(s.created_at.file().ends_with(".rs"));
    /// ```
    pub fn statistics(&self) -> WatchStatistics {
        self.shared.statistics()
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Relaxed);
        Receiver {
            shared: self.shared.clone(),
            version: self.version,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // AcqRel: the last receiver's decrement sees every other's; a
        // sender in `closed()` that checks under the waiter lock sees it
        // through the lock below.
        if self.shared.receivers.fetch_sub(1, AcqRel) == 1 {
            self.shared.wake_closed();
        }
    }
}

/// The future of [`Receiver::changed`].
///
/// # Cancel safety
///
/// Cancel safe: dropping it marks nothing seen.
///
/// ```
/// use corral::sync::watch;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = watch::channel(0);
/// tx.send(1).unwrap();
/// let changed: watch::Changed<'_, i32> = rx.changed();
/// changed.await.unwrap();
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Changed<'a, T> {
    shared: &'a Shared<T>,
    /// The receiver's seen version.
    version: &'a mut usize,
    /// Structurally pinned: never moved out.
    node: WaitNode<()>,
}

impl<T> Future for Changed<'_, T> {
    type Output = Result<(), RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `node` is structurally pinned (never moved out of the
        // future); `version` is not pinned and only reborrowed.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let node = unsafe { Pin::new_unchecked(&this.node) };
        this.shared.poll_changed(this.version, node, Some(cx))
    }
}

impl<T> Drop for Changed<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the node is not moved by taking a reference.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        self.shared.cancel_changed(node);
    }
}

impl<T> fmt::Debug for Changed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Changed")
            .field("queued", &self.node.is_queued())
            .finish()
    }
}

/// The future of [`Sender::closed`].
///
/// # Cancel safety
///
/// Cancel safe: dropping it changes nothing.
///
/// ```
/// use corral::sync::watch;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = watch::channel(0);
/// drop(rx);
/// let closed: watch::Closed<'_, i32> = tx.closed();
/// closed.await;
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a, T> {
    shared: &'a Shared<T>,
    /// Structurally pinned: never moved out.
    node: WaitNode<()>,
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `node` is structurally pinned: never moved out.
        let node = unsafe { self.as_ref().map_unchecked(|c| &c.node) };
        let shared = self.shared;
        node.take_notified();
        if shared.receivers.load(Acquire) == 0 {
            return Poll::Ready(());
        }
        let mut w = shared.waiters.lock();
        // Again under the lock: the last receiver decrements before it
        // locks to wake us.
        if shared.receivers.load(Acquire) == 0 {
            // SAFETY: the node only goes into this list; lock held. A
            // closing wakes every sender: nothing to pass on.
            let _ = unsafe { w.closed.remove(node) };
            return Poll::Ready(());
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { w.closed.update_waker(node, cx) };
            stale.drop_after(w);
        } else {
            node.take_notified();
            // SAFETY: in no list; only this one, under this lock; `Drop`
            // takes it out.
            unsafe { w.closed.push_back(node, cx) };
        }
        Poll::Pending
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the node is not moved by taking a reference.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut w = self.shared.waiters.lock();
        // SAFETY: the node only ever goes into this list; lock held. A
        // closing wakes every sender: nothing to pass on.
        let _ = unsafe { w.closed.remove(node) };
    }
}

impl<T> fmt::Debug for Closed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Closed")
            .field("queued", &self.node.is_queued())
            .finish()
    }
}

/// A [`Stream`](futures_core::Stream) of a watch channel's values
/// (tokio-stream's `WatchStream`): [`new`](Self::new) yields the current
/// value at once, then the value after each change (a clone; values in
/// between may be skipped); [`from_changes`](Self::from_changes) starts
/// with the next change. Ends when the last sender is gone and the last
/// value was yielded.
///
/// ```
/// use corral::sync::watch::{self, WatchStream};
/// use futures_core::Stream;
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
/// let (tx, rx) = watch::channel(1);
/// let mut s = pin!(WatchStream::new(rx));
/// let mut cx = Context::from_waker(Waker::noop());
/// assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(1)));
/// assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
/// tx.send(2).unwrap();
/// assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(2)));
/// drop(tx);
/// assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(None));
/// ```
pub struct WatchStream<T> {
    rx: Receiver<T>,
    /// Structurally pinned: never moved out.
    node: WaitNode<()>,
}

impl<T: Clone> WatchStream<T> {
    /// A stream that yields the current value first.
    ///
    /// ```
    /// use corral::sync::watch::{self, WatchStream};
    /// let (_tx, rx) = watch::channel(0);
    /// let _stream = WatchStream::new(rx);
    /// ```
    pub fn new(mut rx: Receiver<T>) -> Self {
        rx.mark_changed();
        Self::from_changes(rx)
    }

    /// A stream that yields from the next change on.
    ///
    /// ```
    /// use corral::sync::watch::{self, WatchStream};
    /// let (_tx, rx) = watch::channel(0);
    /// let _stream = WatchStream::from_changes(rx);
    /// ```
    pub fn from_changes(rx: Receiver<T>) -> Self {
        WatchStream {
            rx,
            node: WaitNode::new(()),
        }
    }
}

impl<T: Clone> futures_core::Stream for WatchStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: `node` is structurally pinned (never moved out); `rx` is
        // only reborrowed.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let node = unsafe { Pin::new_unchecked(&this.node) };
        match ready!(this.rx.shared.poll_changed(&mut this.rx.version, node, Some(cx))) {
            Ok(()) => Poll::Ready(Some(this.rx.borrow_and_update().clone())),
            Err(RecvError(())) => Poll::Ready(None),
        }
    }
}

impl<T> Drop for WatchStream<T> {
    fn drop(&mut self) {
        // SAFETY: the node is not moved by taking a reference.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        self.rx.shared.cancel_changed(node);
    }
}

impl<T> fmt::Debug for WatchStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream").finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender")
            .field("value", &*self.borrow())
            .field("receivers", &self.receiver_count())
            .finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("value", &*self.borrow())
            .field("has_changed", &self.has_changed())
            .finish()
    }
}
