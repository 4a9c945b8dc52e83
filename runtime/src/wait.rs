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
//!   ([`WaitList::push_back_thread`], [`WaitNode::park_until_notified`]).
//!
//! Waking ([`WaitList::wake_front`], [`WaitList::wake_all`]) unlinks the
//! node and marks it notified *under the lock*, after the primitive has
//! written the handoff (the permits, the lock, the item) into the node's
//! payload. The actual wake happens after the lock is released
//! ([`WakeBatch`]), so no waker is *woken* under a primitive's lock (a
//! foreign waker is still cloned and dropped there, as everywhere).
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
//! Completion: the future that finds its node notified consumes the
//! notification with [`WaitNode::take_notified`] and returns `Ready`. It
//! checks once without the lock (the fast path) and once more after taking
//! it, before deciding to queue: a wake may land in between.
//!
//! Cancellation: a future dropped while waiting locks the primitive and
//! calls [`WaitList::remove`]. If that returns true the node was still
//! queued and nothing was handed to it. If it returns false and the node
//! [is notified](WaitNode::is_notified), the handoff already happened: the
//! owner must pass it on (release the permits, unlock, give the item to the
//! next waiter) so that cancellation never loses anything. A `WaitNode`
//! dropped while still queued is a bug in the primitive; it aborts the
//! process rather than leave a dangling pointer in the list.
//!
//! # Example: a one-permit gate
//!
//! ```
//! use corral_runtime::wait::{WaitList, WaitNode, WakeBatch};
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
//!         {
//!             let mut inner = self.inner.lock();
//!             let (permits, waiters) = &mut *inner;
//!             match waiters.front_mut() {
//!                 Some(got) => {
//!                     *got = true; // hand the permit over before waking
//!                     waiters.wake_front(&mut batch);
//!                 }
//!                 None => *permits += 1,
//!             }
//!         }
//!         batch.wake(); // outside the lock
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
//!             unsafe { waiters.update_waker(node, cx) };
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
//!         if !unsafe { inner.1.remove(node) } && node.is_notified() {
//!             drop(inner);
//!             self.gate.open(); // handed a permit we will not use: pass it on
//!         }
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
use crate::sched;
use crate::task::raw::{self, Header, Hint};
use std::fmt;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Waker};

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
    pub fn is_notified(&self) -> bool {
        // Acquire: pairs with the Release in `wake_front`/`wake_all`, so the
        // payload written before the wake is visible.
        self.state.load(Acquire) == NOTIFIED
    }

    /// True while the node is in a list. Exact under the list's lock; a
    /// hint without it.
    pub fn is_queued(&self) -> bool {
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
    /// thread.
    pub fn park_until_notified(self: Pin<&Self>) {
        while !self.take_notified() {
            thread::park();
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

/// An intrusive FIFO of [`WaitNode`]s; see the [module docs](self).
///
/// A `WaitList` does no locking of its own: the primitive keeps it under
/// its lock, and every method that touches nodes takes `&mut self` as the
/// proof that the lock is held.
pub struct WaitList<T> {
    head: Option<NonNull<WaitNode<T>>>,
    tail: Option<NonNull<WaitNode<T>>>,
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
        WaitList {
            head: None,
            tail: None,
            len: 0,
        }
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
    /// # Safety
    ///
    /// - `node` is not queued in any list;
    /// - this list is only ever used under one lock (or `&mut` owner), and
    ///   the node is removed from it — by a wake or by [`remove`](Self::remove)
    ///   under that same lock — before the node is dropped.
    pub unsafe fn push_back(&mut self, node: Pin<&WaitNode<T>>, cx: &Context<'_>) {
        // SAFETY: forwarded contract.
        unsafe { self.link_back(node, Waiter::from_cx(cx)) }
    }

    /// Queues `node` for the current thread, which then blocks in
    /// [`WaitNode::park_until_notified`].
    ///
    /// # Safety
    ///
    /// As [`push_back`](Self::push_back).
    pub unsafe fn push_back_thread(&mut self, node: Pin<&WaitNode<T>>) {
        // SAFETY: forwarded contract.
        unsafe { self.link_back(node, Waiter::Thread(thread::current())) }
    }

    /// # Safety
    /// As `push_back`.
    unsafe fn link_back(&mut self, node: Pin<&WaitNode<T>>, waiter: Waiter) {
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
        node.waiter.with_mut(|w| unsafe { *w = waiter });
        // SAFETY: as above.
        node.links.with_mut(|l| unsafe {
            (*l).prev = self.tail;
            (*l).next = None;
        });
        match self.tail {
            // SAFETY: queued nodes are alive (they leave before they drop)
            // and ours under the lock.
            Some(tail) => unsafe { tail.as_ref() }
                .links
                .with_mut(|l| unsafe { (*l).next = Some(ptr) }),
            None => self.head = Some(ptr),
        }
        self.tail = Some(ptr);
        self.len += 1;
        node.state.store(QUEUED, Release);
    }

    /// Re-records the waiter of a queued node if `cx` has a different waker
    /// (the future moved to another task, or is polled by a combinator).
    ///
    /// # Safety
    ///
    /// `node` is queued in this list or in no list.
    pub unsafe fn update_waker(&mut self, node: Pin<&WaitNode<T>>, cx: &Context<'_>) {
        if node.state.load(Relaxed) != QUEUED {
            return;
        }
        node.waiter.with_mut(|w| {
            // SAFETY: queued in this list, whose lock we hold.
            let w = unsafe { &mut *w };
            if !w.matches(cx) {
                *w = Waiter::from_cx(cx);
            }
        });
    }

    /// Unlinks `node` if it is queued. Returns true if it was: nothing had
    /// been handed to it. False means it was never queued or was already
    /// woken — check [`WaitNode::is_notified`] and pass the handoff on.
    ///
    /// # Safety
    ///
    /// `node` is queued in this list or in no list.
    pub unsafe fn remove(&mut self, node: Pin<&WaitNode<T>>) -> bool {
        if node.state.load(Relaxed) != QUEUED {
            return false;
        }
        // SAFETY: queued in this list (contract), lock held.
        unsafe { self.unlink(NonNull::from(&*node)) };
        // SAFETY: unlinked: the owner's again; drop the recorded waiter.
        let waiter = node
            .waiter
            .with_mut(|w| unsafe { std::mem::replace(&mut *w, Waiter::None) });
        node.state.store(IDLE, Release);
        drop(waiter);
        true
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
    /// woken when `batch` is. Write the handoff into its payload first
    /// ([`front_mut`](Self::front_mut)). Returns false if the list is
    /// empty.
    pub fn wake_front(&mut self, batch: &mut WakeBatch) -> bool {
        let Some(head) = self.head else { return false };
        // SAFETY: head is queued here, lock held.
        unsafe { self.notify(head, batch) };
        true
    }

    /// Wakes every waiter (in FIFO order). Returns how many.
    pub fn wake_all(&mut self, batch: &mut WakeBatch) -> usize {
        let n = self.len;
        while self.wake_front(batch) {}
        n
    }

    /// # Safety
    /// `node` is queued in this list; lock held.
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
        // which may free the node as soon as it sees this. Touch nothing
        // of the node after it.
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
        match prev {
            // SAFETY: as above.
            Some(p) => unsafe { p.as_ref() }
                .links
                .with_mut(|l| unsafe { (*l).next = next }),
            None => self.head = next,
        }
        match next {
            // SAFETY: as above.
            Some(n) => unsafe { n.as_ref() }
                .links
                .with_mut(|l| unsafe { (*l).prev = prev }),
            None => self.tail = prev,
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

/// Waiters taken off a [`WaitList`], to wake once the lock is released.
///
/// Dropping the batch wakes them too; [`wake`](Self::wake) just says so.
/// A single woken task goes to the LIFO slot of the waking worker (it runs
/// next); several go to the back of its queue in one go, and one idle
/// worker is signalled to help.
#[derive(Default)]
pub struct WakeBatch {
    first: Option<Waiter>,
    rest: Vec<Waiter>,
}

impl WakeBatch {
    /// An empty batch.
    pub const fn new() -> Self {
        WakeBatch {
            first: None,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, waiter: Waiter) {
        if self.first.is_none() {
            self.first = Some(waiter);
        } else {
            self.rest.push(waiter);
        }
    }

    /// Number of waiters in the batch.
    pub fn len(&self) -> usize {
        self.first.is_some() as usize + self.rest.len()
    }

    /// True if the batch wakes nobody.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Wakes every waiter in the batch. Call it after releasing the lock.
    pub fn wake(self) {
        drop(self)
    }
}

impl Drop for WakeBatch {
    fn drop(&mut self) {
        let Some(first) = self.first.take() else { return };
        if self.rest.is_empty() {
            first.wake(Hint::Lifo);
            return;
        }
        // Every waiter here was already handed its turn: each must be woken
        // even if a foreign waker panics, or it would hang holding what it
        // was given. The first panic is re-raised after all are woken.
        let mut panic = None;
        for waiter in std::iter::once(first).chain(self.rest.drain(..)) {
            if let Err(p) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waiter.wake(Hint::Batch)))
            {
                panic.get_or_insert(p);
            }
        }
        sched::flush_batch();
        if let Some(p) = panic {
            std::panic::resume_unwind(p);
        }
    }
}

impl fmt::Debug for WakeBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeBatch").field("len", &self.len()).finish()
    }
}
