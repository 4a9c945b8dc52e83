//! The wait hook: an intrusive FIFO of waiters that every corral primitive
//! is built on.
//!
//! A primitive keeps its own small state and a [`WaitList`] under one short
//! lock. A future that must wait embeds a [`WaitNode`] (pinned inside the
//! future, so waiting allocates nothing) and queues it with
//! [`WaitList::push_back`]. The node records who waits:
//!
//! - a **corral task** — recognised from the context's waker, which for a
//!   task polled directly by corral is the task's own; waking it pushes the
//!   task onto the waking worker's run queue: the LIFO slot for a single
//!   wake, one batch push and one idle-worker signal for many;
//! - a **foreign `Waker`** — the future is polled by another executor, or by
//!   a combinator (`select!`, `FuturesUnordered`) that wraps the task's
//!   waker to learn which branch to poll;
//! - a **parked thread** — a `blocking_*` method on a plain thread
//!   ([`WaitList::push_back_thread`], [`WaitNode::park_until_notified`],
//!   [`WaitNode::park_until_notified_or`]; check [`assert_may_block`]
//!   first).
//!
//! # Nothing runs under the primitive's lock
//!
//! Waking a waiter, and dropping a waiter record, can run foreign code (a
//! `Waker`'s `wake` or `drop`) or free a task (whose future and output
//! `Drop`s then run); that code may re-enter the primitive and would
//! deadlock on its lock. So the hook never does either while the caller
//! holds the lock:
//!
//! - [`WaitList::wake_front`] / [`WaitList::wake_all`] move the waiters
//!   into a [`WakeBatch`]; [`WakeBatch::wake_after`] takes the lock guard
//!   by value, drops it, then wakes. The batch is bounded
//!   ([`WakeBatch::CAPACITY`]): `wake_all` stops when it is full and says
//!   so, the primitive wakes that chunk and locks again for the rest.
//! - [`WaitList::update_waker`] hands the replaced record back as a
//!   [`StaleWaiter`], dropped with [`StaleWaiter::drop_after`] (guard
//!   first).
//! - [`WaitList::remove`] leaves the record in the node, which is the
//!   owner's again; it goes when the node is dropped (after the owner
//!   released the lock) or is reused if the node queues again for the same
//!   waiter.
//!
//! (A foreign waker is still *cloned* under the lock by `push_back` and
//! `update_waker`, as everywhere.)
//!
//! # Protocol, and who may touch what
//!
//! A node is in one of three states (`state`, an atomic so the owner can
//! check it without the lock):
//!
//! | state    | links, waiter, payload belong to           |
//! |----------|--------------------------------------------|
//! | IDLE     | the owner (the future or thread that waits)|
//! | QUEUED   | whoever holds the list's lock              |
//! | NOTIFIED | the owner again (Release/Acquire handoff)  |
//!
//! Waking: under the lock the primitive writes the handoff (the permits,
//! the lock, the item) into the waiter's payload ([`WaitList::front_mut`],
//! [`WaitList::iter_mut`], [`WaitList::value_of`]), then `wake_front` /
//! `wake_all` unlinks the node, moves its record into the batch and marks
//! it notified (Release). The primitive may also write into a payload
//! *without* waking it: a partial handoff, such as some of the permits a
//! large `acquire_many` asked for, assigned while it stays at the head.
//!
//! Completion: the future that finds its node notified consumes the
//! notification with [`WaitNode::take_notified`] (Acquire) and returns
//! `Ready`, reading the payload without the lock. It checks once without
//! the lock (the fast path) and once more after taking it, before deciding
//! to queue: a wake may land in between.
//!
//! # Cancellation
//!
//! A future dropped while waiting locks the primitive and calls
//! [`WaitList::remove`], which says what happened ([`Removed`]); the
//! primitive must act on it so that cancellation never loses a permit, a
//! lock, an item or a wakeup:
//!
//! - [`Removed::Unlinked`]: the node was still queued and is now out. No
//!   wake reached it, but its payload may hold a *partial handoff*: give it
//!   back (the assigned permits go back to the pool or to the next
//!   waiter). If `was_head`, the waiters behind it may now be servable (a
//!   small request behind a cancelled large one, readers behind a
//!   cancelled writer): dispatch again, as after a release.
//! - [`Removed::Notified`]: the full handoff already happened; `remove`
//!   consumed the notification. Pass it on: release the permits, unlock,
//!   give the item to the next waiter.
//! - [`Removed::NotQueued`]: never queued, or the notification was already
//!   consumed: nothing to do.
//!
//! A `WaitNode` dropped while still queued is a bug in the primitive; it
//! aborts the process rather than leave a dangling pointer in the list.
//!
//! # Example: a one-permit gate
//!
//! ```
//! use corral_runtime::wait::{Removed, WaitList, WaitNode, WakeBatch};
//! use parking_lot::Mutex;
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::task::{Context, Poll};
//!
//! /// A gate that lets one waiter through per `open`.
//! struct Gate {
//!     inner: Mutex<(usize, WaitList<bool>)>, // (permits, waiters; payload: "got one")
//! }
//!
//! impl Gate {
//!     fn open(&self) {
//!         let mut batch = WakeBatch::new();
//!         let mut inner = self.inner.lock();
//!         let (permits, waiters) = &mut *inner;
//!         match waiters.front_mut() {
//!             Some(got) => {
//!                 *got = true; // hand the permit over before waking
//!                 waiters.wake_front(&mut batch);
//!             }
//!             None => *permits += 1,
//!         }
//!         batch.wake_after(inner); // releases the lock, then wakes
//!     }
//!
//!     fn pass(&self) -> Pass<'_> {
//!         Pass { gate: self, node: WaitNode::new(false) }
//!     }
//! }
//!
//! struct Pass<'a> {
//!     gate: &'a Gate,
//!     node: WaitNode<bool>,
//! }
//!
//! impl Future for Pass<'_> {
//!     type Output = ();
//!     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
//!         // SAFETY: `node` is structurally pinned: never moved out of `Pass`.
//!         let node = unsafe { self.as_ref().map_unchecked(|p| &p.node) };
//!         if node.take_notified() {
//!             return Poll::Ready(()); // the permit handed to us is now ours
//!         }
//!         let mut inner = self.gate.inner.lock();
//!         // Again under the lock: a wake may have come in between.
//!         if node.take_notified() {
//!             return Poll::Ready(());
//!         }
//!         let (permits, waiters) = &mut *inner;
//!         if node.is_queued() {
//!             // SAFETY: queued in this list, lock held.
//!             let stale = unsafe { waiters.update_waker(node, cx) };
//!             stale.drop_after(inner); // an old waker is dropped unlocked
//!         } else if *permits > 0 {
//!             *permits -= 1;
//!             return Poll::Ready(());
//!         } else {
//!             // SAFETY: the node is in no list, and only ever goes into
//!             // this one, always under this lock; `Drop` below removes it.
//!             unsafe { waiters.push_back(node, cx) };
//!         }
//!         Poll::Pending
//!     }
//! }
//!
//! impl Drop for Pass<'_> {
//!     fn drop(&mut self) {
//!         // SAFETY: as in poll; the node is not moved by taking a reference.
//!         let node = unsafe { Pin::new_unchecked(&self.node) };
//!         if !node.is_queued() && !node.is_notified() {
//!             return;
//!         }
//!         let mut inner = self.gate.inner.lock();
//!         // SAFETY: the node can only be in this list; lock held.
//!         let removed = unsafe { inner.1.remove(node) };
//!         drop(inner);
//!         match removed {
//!             // Handed a permit we will not use: pass it on.
//!             Removed::Notified => self.gate.open(),
//!             // A gate only writes the payload when it wakes, so nothing
//!             // was assigned; one permit per waiter, so nobody behind us
//!             // became servable.
//!             Removed::Unlinked { .. } | Removed::NotQueued => {}
//!         }
//!         // The node (and the waiter record it kept) drops after this,
//!         // with the lock released.
//!     }
//! }
//!
//! let gate = std::sync::Arc::new(Gate { inner: Mutex::new((0, WaitList::new())) });
//! corral::Runtime::new().unwrap().block_on(async {
//!     let g = gate.clone();
//!     let waiter = corral::spawn(async move { g.pass().await; "through" });
//!     gate.open();
//!     assert_eq!(waiter.await.unwrap(), "through");
//! });
//! ```

use crate::loom::{thread, AtomicU8, Ordering::*, UnsafeCell};
use crate::task::raw::{self, Header, Hint};
use std::fmt;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Waker};
use std::time::Instant;

mod batch;

pub use batch::WakeBatch;

const IDLE: u8 = 0;
const QUEUED: u8 = 1;
const NOTIFIED: u8 = 2;

/// Who is waiting in a node.
enum Waiter {
    None,
    /// A corral task.
    Task(TaskRef),
    Waker(Waker),
    Thread(thread::Thread),
}

// SAFETY: a task reference may be released and woken from any thread (its
// future is Send); Waker and Thread are Send.
unsafe impl Send for Waiter {}

impl Waiter {
    fn from_cx(cx: &Context<'_>) -> Waiter {
        match raw::task_of(cx.waker()) {
            Some(task) => {
                // SAFETY: the waker holds a reference, so the task is alive;
                // this takes our own.
                unsafe { task.as_ref() }.state.ref_inc();
                Waiter::Task(TaskRef(task))
            }
            None => Waiter::Waker(cx.waker().clone()),
        }
    }

    fn matches(&self, cx: &Context<'_>) -> bool {
        match (self, raw::task_of(cx.waker())) {
            (Waiter::Task(t), Some(u)) => t.0 == u,
            (Waiter::Waker(w), None) => w.will_wake(cx.waker()),
            _ => false,
        }
    }

    fn is_current_thread(&self) -> bool {
        matches!(self, Waiter::Thread(t) if t.id() == thread::current().id())
    }

    fn wake(self, hint: Hint) {
        match self {
            Waiter::None => {}
            Waiter::Task(task) => task.wake(hint),
            Waiter::Waker(w) => w.wake(),
            Waiter::Thread(t) => t.unpark(),
        }
    }
}

/// One reference to a corral task.
struct TaskRef(NonNull<Header>);

impl TaskRef {
    fn wake(self, hint: Hint) {
        let task = std::mem::ManuallyDrop::new(self).0;
        // SAFETY: our reference moves into the wake.
        unsafe { raw::wake_by_val(task, hint) }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: releasing the reference we own.
        unsafe { raw::release(self.0) };
    }
}

struct Links<T> {
    /// The node before this one; for the head, the tail (so the list needs
    /// no tail pointer of its own).
    prev: Option<NonNull<WaitNode<T>>>,
    next: Option<NonNull<WaitNode<T>>>,
}

/// One waiter's place in a [`WaitList`], embedded in the waiting future.
///
/// `T` is the payload the primitive and the waiter share: what the waiter
/// asks for (a permit count) and what the waker hands over (the permits,
/// an item). See the [module docs](self) for the protocol.
///
/// ```
/// use corral_runtime::wait::WaitNode;
/// let mut node = Box::pin(WaitNode::new(3usize));
/// assert!(!node.is_queued() && !node.is_notified());
/// assert_eq!(node.as_mut().value_mut(), Some(&mut 3));
/// ```
pub struct WaitNode<T> {
    state: AtomicU8,
    links: UnsafeCell<Links<T>>,
    /// The waiter record: the list's while QUEUED, the owner's otherwise
    /// (empty after a wake, kept after `remove`).
    waiter: UnsafeCell<Waiter>,
    value: UnsafeCell<T>,
    _pin: PhantomPinned,
}

// SAFETY: the node's cells are only touched by the owner (IDLE, NOTIFIED)
// or under the list's lock (QUEUED); the payload crosses threads, so it
// must be Send. Shared access from several threads is what Sync means
// here: each access is serialised by the state protocol.
unsafe impl<T: Send> Send for WaitNode<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for WaitNode<T> {}

impl<T> WaitNode<T> {
    /// A node that is not queued, with its payload.
    pub fn new(value: T) -> Self {
        WaitNode {
            state: AtomicU8::new(IDLE),
            links: UnsafeCell::new(Links {
                prev: None,
                next: None,
            }),
            waiter: UnsafeCell::new(Waiter::None),
            value: UnsafeCell::new(value),
            _pin: PhantomPinned,
        }
    }

    /// True once a waker has taken the node off its list and handed it its
    /// turn. From then on the node (and its payload) belong to the owner
    /// again; no lock needed.
    #[inline]
    pub fn is_notified(&self) -> bool {
        // Acquire: pairs with the Release in `WaitList::notify`, so the
        // payload written before the wake is visible.
        self.state.load(Acquire) == NOTIFIED
    }

    /// True while the node is in a list. Exact under the list's lock; a
    /// hint without it.
    #[inline]
    pub fn is_queued(&self) -> bool {
        // Acquire: pairs with the Release in `remove`/`notify` when read as
        // "no longer queued" without the lock.
        self.state.load(Acquire) == QUEUED
    }

    /// The payload, while no list holds the node (None while queued).
    pub fn value_mut(self: Pin<&mut Self>) -> Option<&mut T> {
        if self.is_queued() {
            return None;
        }
        // SAFETY: not queued: the owner (us, through `&mut`) has the
        // payload to itself; moving a `&mut T` out does not move the node.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above: the payload is the owner's while not queued.
        Some(this.value.with_mut(|v| unsafe { &mut *v }))
    }

    /// Consumes a notification: true if the node was notified, and the node
    /// is idle again (so a later drop does not pass the handoff on, and the
    /// node may wait once more). Call it when the future completes.
    #[inline]
    pub fn take_notified(self: Pin<&Self>) -> bool {
        if self.is_notified() {
            // Relaxed: NOTIFIED nodes belong to the owner alone.
            self.state.store(IDLE, Relaxed);
            true
        } else {
            false
        }
    }

    /// Blocks the current thread until the node is notified, and consumes
    /// the notification (see [`take_notified`](Self::take_notified)). The
    /// node must have been queued with [`WaitList::push_back_thread`] by this
    /// thread (after [`assert_may_block`]).
    ///
    /// ```
    /// use corral_runtime::wait::{WaitList, WaitNode, WakeBatch};
    /// use std::sync::{Arc, Mutex};
    /// let list = Arc::new(Mutex::new(WaitList::new()));
    /// let node = std::pin::pin!(WaitNode::new(0u32));
    /// corral_runtime::wait::assert_may_block("example");
    /// // SAFETY: the node is in no list, goes only into this one under its
    /// // lock, and is woken (so unlinked) before it is dropped.
    /// unsafe { list.lock().unwrap().push_back_thread(node.as_ref()) };
    /// let l = list.clone();
    /// let waker = std::thread::spawn(move || {
    ///     let mut batch = WakeBatch::new();
    ///     let mut list = l.lock().unwrap();
    ///     *list.front_mut().unwrap() = 7; // the handoff
    ///     list.wake_front(&mut batch);
    ///     batch.wake_after(list);
    /// });
    /// node.as_ref().park_until_notified();
    /// waker.join().unwrap();
    /// ```
    pub fn park_until_notified(self: Pin<&Self>) {
        while !self.take_notified() {
            thread::park();
        }
    }

    /// As [`park_until_notified`](Self::park_until_notified), but gives up
    /// at `deadline`: true if notified (the notification is consumed),
    /// false on timeout.
    ///
    /// On false the node may still be queued, or a wake may be landing
    /// right now: take the lock and [`WaitList::remove`] the node. If that
    /// says [`Removed::Notified`], the handoff raced the timeout and is the
    /// caller's: keep it (report success) or pass it on.
    ///
    /// Under `cfg(loom)` there is no clock: the timeout fires at the first
    /// wait, so models explore the race between it and a wake.
    ///
    /// ```
    /// use corral_runtime::wait::{Removed, WaitList, WaitNode};
    /// use std::sync::Mutex;
    /// use std::time::{Duration, Instant};
    /// let list = Mutex::new(WaitList::<()>::new());
    /// let node = std::pin::pin!(WaitNode::new(()));
    /// // SAFETY: in no list; only this one, under its lock; removed below.
    /// unsafe { list.lock().unwrap().push_back_thread(node.as_ref()) };
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(!node.as_ref().park_until_notified_or(deadline)); // nobody wakes us
    /// let mut guard = list.lock().unwrap();
    /// // SAFETY: queued in this list; lock held.
    /// let removed = unsafe { guard.remove(node.as_ref()) };
    /// assert_eq!(removed, Removed::Unlinked { was_head: true });
    /// ```
    pub fn park_until_notified_or(self: Pin<&Self>, deadline: Instant) -> bool {
        loop {
            if self.take_notified() {
                return true;
            }
            #[cfg(not(loom))]
            {
                let now = Instant::now();
                if now >= deadline {
                    return false;
                }
                thread::park_timeout(deadline - now);
            }
            #[cfg(loom)]
            {
                let _ = deadline;
                return false;
            }
        }
    }

    /// [`park_until_notified`](Self::park_until_notified) with no deadline
    /// (always true), else
    /// [`park_until_notified_or`](Self::park_until_notified_or): the one
    /// call a `blocking_*` method with an optional timeout needs.
    ///
    /// ```
    /// use corral_runtime::wait::WaitNode;
    /// use std::time::{Duration, Instant};
    /// let node = std::pin::pin!(WaitNode::new(()));
    /// // In no list, so nobody wakes it: the deadline passes.
    /// let deadline = Instant::now() + Duration::from_millis(1);
    /// assert!(!node.as_ref().park_until(Some(deadline)));
    /// ```
    pub fn park_until(self: Pin<&Self>, deadline: Option<Instant>) -> bool {
        match deadline {
            None => {
                self.park_until_notified();
                true
            }
            Some(deadline) => self.park_until_notified_or(deadline),
        }
    }
}

impl<T> Drop for WaitNode<T> {
    fn drop(&mut self) {
        if self.state.load(Acquire) == QUEUED {
            // A list still points here: continuing would leave it dangling.
            eprintln!("corral: a WaitNode was dropped while still queued; the primitive that owns it must remove it first");
            std::process::abort();
        }
        // The waiter record kept after a `remove` drops with the fields,
        // which the owner does without the primitive's lock.
    }
}

impl<T: fmt::Debug> fmt::Debug for WaitNode<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.load(Acquire) {
            IDLE => "idle",
            QUEUED => "queued",
            _ => "notified",
        };
        f.debug_struct("WaitNode")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// What [`WaitList::remove`] found; the primitive must act on it (see the
/// [module docs](self#cancellation)).
///
/// ```
/// use corral_runtime::wait::{Removed, WaitList, WaitNode};
/// let mut list = WaitList::new();
/// let node = std::pin::pin!(WaitNode::new(0usize));
/// // SAFETY: the node is in no list.
/// assert_eq!(unsafe { list.remove(node.as_ref()) }, Removed::NotQueued);
/// ```
#[must_use = "a removed waiter may hold a handoff (or a partial one) that must be passed on"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// The node was still queued and is unlinked now; no wake reached it.
    /// Its payload is the owner's again and may hold a partial handoff the
    /// primitive wrote while it waited: give that back. If `was_head`, the
    /// waiters behind it may have become servable: dispatch again.
    Unlinked {
        /// The node was first in line.
        was_head: bool,
    },
    /// The node had already been woken: the whole handoff is in its
    /// payload. `remove` consumed the notification; pass the handoff on.
    Notified,
    /// The node was in no list and not notified (never queued, or the
    /// notification was consumed earlier): nothing to do.
    NotQueued,
}

/// A waiter record replaced by [`WaitList::update_waker`]. Dropping it may
/// run a foreign waker's `drop` or free a task, so drop it after the lock:
/// [`drop_after`](Self::drop_after).
///
/// ```
/// use corral_runtime::wait::{WaitList, WaitNode};
/// use std::sync::Mutex;
/// use std::task::{Context, Waker};
/// let list = Mutex::new(WaitList::new());
/// let node = std::pin::pin!(WaitNode::new(()));
/// let mut guard = list.lock().unwrap();
/// // SAFETY: in no list; only this one, under its lock; removed below.
/// unsafe { guard.push_back(node.as_ref(), &Context::from_waker(Waker::noop())) };
/// // Polled again by another waker: the old record comes back ...
/// let other = std::sync::Arc::new(NoopWake).into();
/// // SAFETY: queued in this list; lock held.
/// let stale = unsafe { guard.update_waker(node.as_ref(), &Context::from_waker(&other)) };
/// assert!(!stale.is_empty());
/// stale.drop_after(guard); // ... and is dropped once the lock is free
/// # struct NoopWake;
/// # impl std::task::Wake for NoopWake { fn wake(self: std::sync::Arc<Self>) {} }
/// let mut guard = list.lock().unwrap();
/// // SAFETY: as above.
/// let _ = unsafe { guard.remove(node.as_ref()) };
/// ```
#[must_use = "drop it after releasing the lock: `stale.drop_after(guard)`"]
pub struct StaleWaiter(Waiter);

impl StaleWaiter {
    /// Releases `guard` (the primitive's lock), then drops the old record.
    pub fn drop_after<G>(self, guard: G) {
        drop(guard);
        drop(self);
    }

    /// True if nothing was replaced (the waker had not changed).
    pub fn is_empty(&self) -> bool {
        matches!(self.0, Waiter::None)
    }
}

impl fmt::Debug for StaleWaiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaleWaiter")
            .field("empty", &self.is_empty())
            .finish()
    }
}

/// An intrusive FIFO of [`WaitNode`]s; see the [module docs](self).
///
/// A `WaitList` does no locking of its own: the primitive keeps it under
/// its lock, and every method that touches nodes takes `&mut self` as the
/// proof that the lock is held.
///
/// Two words: the head and the length. The tail is the head's `prev` link
/// (the only `prev` that points backwards around the list), so a
/// primitive that embeds a `WaitList` stays small.
pub struct WaitList<T> {
    head: Option<NonNull<WaitNode<T>>>,
    len: usize,
}

// SAFETY: the list is a set of pointers to nodes that are Send + Sync for
// `T: Send`; moving the list to another thread moves the right to touch
// them under the lock.
unsafe impl<T: Send> Send for WaitList<T> {}
// SAFETY: `&WaitList` only reads `len`.
unsafe impl<T: Send> Sync for WaitList<T> {}

impl<T> Default for WaitList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> WaitList<T> {
    /// An empty list.
    ///
    /// ```
    /// let list = corral_runtime::wait::WaitList::<()>::new();
    /// assert!(list.is_empty());
    /// ```
    pub const fn new() -> Self {
        WaitList { head: None, len: 0 }
    }

    /// Number of queued waiters (what `statistics().tasks_waiting` shows).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nobody waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `node` at the back; the waker of `cx` (or its task) is woken
    /// when the node's turn comes.
    ///
    /// A record kept from an earlier [`remove`](Self::remove) is reused if
    /// it names the same waiter; otherwise it is replaced, and dropped here
    /// under the lock.
    ///
    /// # Safety
    ///
    /// - `node` is not queued in any list;
    /// - this list is only ever used under one lock (or `&mut` owner), and
    ///   the node is removed from it — by a wake or by [`remove`](Self::remove)
    ///   under that same lock — before the node is dropped.
    pub unsafe fn push_back(&mut self, node: Pin<&WaitNode<T>>, cx: &Context<'_>) {
        // SAFETY: forwarded contract.
        unsafe { self.link_back(node, |w| w.matches(cx), || Waiter::from_cx(cx)) }
    }

    /// Queues `node` for the current thread, which then blocks in
    /// [`WaitNode::park_until_notified`] (or `_or`, with a deadline). Call
    /// [`assert_may_block`] before taking the lock.
    ///
    /// # Safety
    ///
    /// As [`push_back`](Self::push_back).
    pub unsafe fn push_back_thread(&mut self, node: Pin<&WaitNode<T>>) {
        // SAFETY: forwarded contract.
        unsafe {
            self.link_back(node, Waiter::is_current_thread, || {
                Waiter::Thread(thread::current())
            })
        }
    }

    /// # Safety
    /// As `push_back`.
    unsafe fn link_back(
        &mut self,
        node: Pin<&WaitNode<T>>,
        same: impl FnOnce(&Waiter) -> bool,
        make: impl FnOnce() -> Waiter,
    ) {
        // A real check, not a debug one: queueing a queued node corrupts the
        // list, and re-queueing a notified one loses its handoff.
        assert_eq!(
            node.state.load(Relaxed),
            IDLE,
            "WaitNode queued while queued or notified: check `take_notified` under the lock first"
        );
        let ptr = NonNull::from(&*node);
        // SAFETY: the node is not queued, so its cells are ours (owner);
        // from here on they are the list's, under the caller's lock.
        node.waiter.with_mut(|w| unsafe {
            if !same(&*w) {
                *w = make();
            }
        });
        match self.head {
            None => {
                // Alone: its own tail.
                // SAFETY: as above.
                node.links.with_mut(|l| unsafe {
                    (*l).prev = Some(ptr);
                    (*l).next = None;
                });
                self.head = Some(ptr);
            }
            Some(head) => {
                // SAFETY: queued nodes are alive (they leave before they
                // drop) and ours under the lock; the head's `prev` is the
                // tail.
                let head = unsafe { head.as_ref() };
                // SAFETY: as above.
                let tail = head
                    .links
                    .with(|l| unsafe { (*l).prev })
                    .expect("a queued head has a tail");
                // SAFETY: as above (the node's own cells: owner's until queued).
                node.links.with_mut(|l| unsafe {
                    (*l).prev = Some(tail);
                    (*l).next = None;
                });
                // SAFETY: as above.
                unsafe { tail.as_ref() }
                    .links
                    .with_mut(|l| unsafe { (*l).next = Some(ptr) });
                // SAFETY: as above.
                head.links.with_mut(|l| unsafe { (*l).prev = Some(ptr) });
            }
        }
        self.len += 1;
        node.state.store(QUEUED, Release);
    }

    /// Re-records the waiter of a queued node if `cx` has a different waker
    /// (the future moved to another task, or is polled by a combinator).
    /// The record it replaces comes back to be dropped after the lock.
    ///
    /// # Safety
    ///
    /// `node` is queued in this list or in no list.
    pub unsafe fn update_waker(&mut self, node: Pin<&WaitNode<T>>, cx: &Context<'_>) -> StaleWaiter {
        if node.state.load(Relaxed) != QUEUED {
            return StaleWaiter(Waiter::None);
        }
        node.waiter.with_mut(|w| {
            // SAFETY: queued in this list, whose lock we hold.
            let w = unsafe { &mut *w };
            if w.matches(cx) {
                StaleWaiter(Waiter::None)
            } else {
                StaleWaiter(std::mem::replace(w, Waiter::from_cx(cx)))
            }
        })
    }

    /// Takes `node` out of the list if it is queued, and says what had
    /// happened to it; see [`Removed`] and the
    /// [module docs](self#cancellation). The waiter record stays in the
    /// node (dropped with it, after the lock).
    ///
    /// # Safety
    ///
    /// `node` is queued in this list or in no list.
    pub unsafe fn remove(&mut self, node: Pin<&WaitNode<T>>) -> Removed {
        match node.state.load(Acquire) {
            QUEUED => {}
            NOTIFIED => {
                // Relaxed: a NOTIFIED node is the owner's, and the caller is
                // the owner.
                node.state.store(IDLE, Relaxed);
                return Removed::Notified;
            }
            _ => return Removed::NotQueued,
        }
        let ptr = NonNull::from(&*node);
        let was_head = self.head == Some(ptr);
        // SAFETY: queued in this list (contract), lock held.
        unsafe { self.unlink(ptr) };
        // Release: the unlinking and any partial handoff become the
        // owner's; pairs with an Acquire reading "not queued".
        node.state.store(IDLE, Release);
        Removed::Unlinked { was_head }
    }

    /// The payload of a node queued in this list (to read what it asks
    /// for, or record a partial handoff).
    ///
    /// # Safety
    ///
    /// `node` is queued in this list, or in no list.
    pub unsafe fn value_of<'a>(&'a mut self, node: Pin<&'a WaitNode<T>>) -> &'a mut T {
        // SAFETY: queued here and we hold the lock, or not queued and the
        // caller is the owner.
        node.value.with_mut(|v| unsafe { &mut *v })
    }

    /// The first waiter's payload.
    pub fn front_mut(&mut self) -> Option<&mut T> {
        // SAFETY: queued nodes are alive and ours under the lock.
        self.head
            .map(|h| unsafe { h.as_ref() }.value.with_mut(|v| unsafe { &mut *v }))
    }

    /// Visits every waiter's payload, front to back.
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
        IterMut {
            next: self.head,
            _list: std::marker::PhantomData,
        }
    }

    /// Takes the first waiter off the list and marks it notified; it is
    /// woken by [`WakeBatch::wake_after`]. Write the handoff into its
    /// payload first ([`front_mut`](Self::front_mut)). Returns false if
    /// the list is empty.
    ///
    /// # Panics
    ///
    /// If `batch` [is full](WakeBatch::is_full): check before handing
    /// anything over, and wake the batch (releasing the lock) first.
    #[inline]
    pub fn wake_front(&mut self, batch: &mut WakeBatch) -> bool {
        let Some(head) = self.head else { return false };
        assert!(
            !batch.is_full(),
            "WakeBatch is full: release the lock with `wake_after`, then lock again for the rest"
        );
        // SAFETY: head is queued here, lock held.
        unsafe { self.notify(head, batch) };
        true
    }

    /// Wakes waiters from the front, in FIFO order, until the list is empty
    /// or `batch` is full. Returns true if waiters remain because the batch
    /// filled up: wake it ([`WakeBatch::wake_after`], which releases the
    /// lock), lock again and call once more.
    ///
    /// Waiters that queue between two rounds are woken too. A primitive
    /// that must wake only those present at the start (a `notify_all`)
    /// marks them in their payload first, or counts them.
    ///
    /// ```
    /// use corral_runtime::wait::{WaitList, WakeBatch};
    /// use std::sync::Mutex;
    /// let list = Mutex::new(WaitList::<bool>::new());
    /// // ... waiters queue ...
    /// let mut batch = WakeBatch::new();
    /// loop {
    ///     let mut guard = list.lock().unwrap();
    ///     for ready in guard.iter_mut() {
    ///         *ready = true;
    ///     }
    ///     let more = guard.wake_all(&mut batch);
    ///     batch.wake_after(guard); // unlock, then wake this chunk
    ///     if !more {
    ///         break;
    ///     }
    /// }
    /// ```
    #[must_use = "true means waiters remain: wake the batch and call again"]
    pub fn wake_all(&mut self, batch: &mut WakeBatch) -> bool {
        while let Some(head) = self.head {
            if batch.is_full() {
                return true;
            }
            // SAFETY: head is queued here, lock held.
            unsafe { self.notify(head, batch) };
        }
        false
    }

    /// # Safety
    /// `node` is queued in this list; lock held; `batch` is not full.
    unsafe fn notify(&mut self, node: NonNull<WaitNode<T>>, batch: &mut WakeBatch) {
        // SAFETY: forwarded contract.
        unsafe { self.unlink(node) };
        // SAFETY: still alive: the owner waits for NOTIFIED (or for the
        // lock, to remove it) before it may drop the node.
        let n = unsafe { node.as_ref() };
        // SAFETY: queued in this list until the NOTIFIED store below: the
        // cell is ours under the lock.
        let waiter = n
            .waiter
            .with_mut(|w| unsafe { std::mem::replace(&mut *w, Waiter::None) });
        batch.push(waiter);
        // Release: publishes the payload and the unlinking to the owner,
        // which may read the payload and free the node as soon as it sees
        // this (pairs with the Acquire in `is_notified`). Touch nothing of
        // the node after it.
        n.state.store(NOTIFIED, Release);
    }

    /// # Safety
    /// `node` is queued in this list; lock held.
    unsafe fn unlink(&mut self, node: NonNull<WaitNode<T>>) {
        // SAFETY: per the contract the node and its neighbours are alive
        // and their links are ours.
        let (prev, next) = unsafe { node.as_ref() }
            .links
            .with_mut(|l| unsafe { ((*l).prev.take(), (*l).next.take()) });
        let prev = prev.expect("a queued node has a prev (the tail, for the head)");
        if self.head == Some(node) {
            // `prev` is the tail; it stays the (new) head's `prev`.
            self.head = next;
            if let Some(n) = next {
                // SAFETY: as above.
                unsafe { n.as_ref() }
                    .links
                    .with_mut(|l| unsafe { (*l).prev = Some(prev) });
            }
        } else {
            // SAFETY: as above.
            unsafe { prev.as_ref() }
                .links
                .with_mut(|l| unsafe { (*l).next = next });
            let back = match next {
                Some(n) => n,
                // It was the tail: the head's `prev` moves back.
                None => self.head.expect("a list with a queued node has a head"),
            };
            // SAFETY: as above.
            unsafe { back.as_ref() }
                .links
                .with_mut(|l| unsafe { (*l).prev = Some(prev) });
        }
        self.len -= 1;
    }
}

impl<T> Drop for WaitList<T> {
    fn drop(&mut self) {
        // A list is dropped with its primitive, which waiting futures
        // borrow: it must be empty. Check in debug builds.
        debug_assert!(self.is_empty(), "WaitList dropped with {} waiters", self.len);
    }
}

impl<T> fmt::Debug for WaitList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList").field("len", &self.len).finish()
    }
}

/// Iterator over the payloads of a [`WaitList`], front to back.
pub struct IterMut<'a, T> {
    next: Option<NonNull<WaitNode<T>>>,
    _list: std::marker::PhantomData<&'a mut WaitList<T>>,
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = &'a mut T;

    fn next(&mut self) -> Option<&'a mut T> {
        let node = self.next?;
        // SAFETY: the iterator borrows the list mutably (lock held); queued
        // nodes are alive; each payload is yielded once.
        let n = unsafe { node.as_ref() };
        // SAFETY: links of a queued node are ours under the lock.
        self.next = n.links.with(|l| unsafe { (*l).next });
        // SAFETY: as above; each payload is yielded once.
        Some(n.value.with_mut(|v| unsafe { &mut *v }))
    }
}

/// Refuses to block a thread that drives a corral runtime.
///
/// Call it at the top of every `blocking_*` method, before taking any
/// lock. On a runtime worker thread, or inside `block_on`, blocking would
/// stall every task queued behind the thread (and can deadlock: the task
/// that would wake it may be queued there), so it panics with a message
/// naming `what` and the fix. Plain threads and `run_sync` threads pass.
///
/// ```
/// corral_runtime::wait::assert_may_block("Mutex::blocking_lock"); // a plain thread: fine
/// let rt = corral::Runtime::new().unwrap();
/// rt.block_on(async {
///     corral::run_sync(|| corral_runtime::wait::assert_may_block("Mutex::blocking_lock")) // fine too
///         .await
/// })
/// .unwrap();
/// let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
///     rt.block_on(async { corral_runtime::wait::assert_may_block("Mutex::blocking_lock") })
/// }));
/// assert!(refused.is_err());
/// ```
///
/// # Panics
///
/// On a runtime worker thread or inside `block_on`.
#[track_caller]
pub fn assert_may_block(what: &str) {
    if crate::context::in_blocking_region() {
        refuse_to_block(what);
    }
}

#[cold]
#[track_caller]
fn refuse_to_block(what: &str) -> ! {
    panic!(
        "{what} cannot block a thread that drives a corral runtime (a worker thread, or inside \
         `block_on`): it would stall every task queued behind it. `.await` the async version \
         instead, or move the blocking call onto `corral::run_sync`"
    )
}

/// Whether `task` is being polled right now on another worker thread of
/// the multi-thread runtime whose worker calls this.
///
/// For adaptive spinning: a lock that finds itself held, with nobody
/// queued, may wait a few moments for the holder to release it instead of
/// queueing and paying for a task switch, but only while the holder is
/// actually running (the classic adaptive mutex). A holder that yielded,
/// waits, sits in a run queue, or is not a corral task will not release
/// the lock soon, and a spinner would only burn its worker's time.
///
/// The answer comes from the stall monitor's per-worker record of the task
/// being polled (always kept: two stores per poll), read without a lock:
/// a snapshot that may be stale by the time the caller acts on it, so use
/// it only as a hint, never for correctness.
///
/// Always `false` where spinning is never right: off a worker (a plain
/// thread, `block_on`, a [`run_sync`](crate::run_sync) closure), on a
/// current-thread runtime, on a one-worker runtime, and under loom. The
/// calling worker's own task does not count.
///
/// ```
/// use corral_runtime::wait::is_running_on_another_worker;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let rt = corral::Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// let stop = Arc::new(AtomicBool::new(false));
/// let busy = rt.spawn({
///     let stop = stop.clone();
///     async move {
///         while !stop.load(Ordering::Acquire) {
///             std::hint::spin_loop(); // runs on one worker until told
///         }
///     }
/// });
/// let id = busy.id();
/// let seen = rt.block_on(rt.spawn(async move {
///     // On the other worker: wait (briefly) until `busy` runs.
///     while !is_running_on_another_worker(id) {
///         corral::yield_now().await;
///     }
///     true
/// }));
/// stop.store(true, Ordering::Release);
/// assert!(seen.unwrap());
/// rt.block_on(busy).unwrap();
/// // `block_on` is not a worker: always false there.
/// assert!(!rt.block_on(async move { is_running_on_another_worker(id) }));
/// ```
#[inline]
pub fn is_running_on_another_worker(task: crate::task::Id) -> bool {
    #[cfg(loom)]
    {
        let _ = task;
        false
    }
    #[cfg(not(loom))]
    match crate::context::scheduler() {
        crate::sched::SchedRef::MultiThread(worker) => {
            // SAFETY: the context points at a live Worker only while it
            // runs on this thread (as in `sched::flush_batch`).
            unsafe { &*worker }.polled_elsewhere(task)
        }
        _ => false,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::Waker;

    fn order(list: &mut WaitList<u32>) -> Vec<u32> {
        list.iter_mut().map(|v| *v).collect()
    }

    /// The head's `prev` doubles as the tail: removing the tail, the head
    /// and a middle node in turn keeps the FIFO intact, and pushes after
    /// each removal land at the true back.
    #[test]
    fn removals_keep_the_tail_link_right() {
        let cx = Context::from_waker(Waker::noop());
        let mut list = WaitList::new();
        let nodes = [
            pin!(WaitNode::new(0u32)),
            pin!(WaitNode::new(1)),
            pin!(WaitNode::new(2)),
            pin!(WaitNode::new(3)),
            pin!(WaitNode::new(4)),
        ];
        let n = |i: usize| nodes[i].as_ref();
        for i in 0..4 {
            // SAFETY: in no list; only this one; all removed below.
            unsafe { list.push_back(n(i), &cx) };
        }
        assert_eq!(order(&mut list), [0, 1, 2, 3]);
        // SAFETY: queued here (or nowhere) for each call below.
        unsafe {
            assert_eq!(list.remove(n(3)), Removed::Unlinked { was_head: false }); // the tail
            list.push_back(n(4), &cx);
            assert_eq!(order(&mut list), [0, 1, 2, 4]);
            assert_eq!(list.remove(n(0)), Removed::Unlinked { was_head: true }); // the head
            list.push_back(n(3), &cx);
            assert_eq!(order(&mut list), [1, 2, 4, 3]);
            assert_eq!(list.remove(n(2)), Removed::Unlinked { was_head: false }); // a middle one
            list.push_back(n(0), &cx);
            assert_eq!(order(&mut list), [1, 4, 3, 0]);
        }
        assert_eq!(list.len(), 4);
        let mut batch = WakeBatch::new();
        assert!(list.wake_front(&mut batch)); // 1
                                              // SAFETY: as above.
        unsafe {
            assert_eq!(list.remove(n(0)), Removed::Unlinked { was_head: false }); // the tail again
            assert_eq!(list.remove(n(4)), Removed::Unlinked { was_head: true });
            list.push_back(n(2), &cx);
            assert_eq!(order(&mut list), [3, 2]);
            assert_eq!(list.remove(n(3)), Removed::Unlinked { was_head: true });
            assert_eq!(list.remove(n(2)), Removed::Unlinked { was_head: true });
        }
        assert!(list.is_empty() && order(&mut list).is_empty());
        drop(batch);
        assert!(n(1).take_notified());
        assert_eq!(
            std::mem::size_of::<WaitList<u32>>(),
            2 * std::mem::size_of::<usize>()
        );
    }
}
