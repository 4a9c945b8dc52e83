//! A one-shot channel: one value, sent once, from one [`Sender`] to one
//! [`Receiver`] (tokio's `oneshot`, so code moving from
//! `tokio::sync::oneshot` changes only the path).
//!
//! ```
//! use corral::sync::oneshot;
//! # corral::Runtime::new().unwrap().block_on(async {
//! let (tx, rx) = oneshot::channel();
//! corral::spawn(async move {
//!     let _ = tx.send("done");
//! });
//! assert_eq!(rx.await, Ok("done"));
//! # });
//! ```
//!
//! # Protocol
//!
//! One allocation (`Inner`) holds the value cell, two waker cells and one
//! atomic state word of bits:
//!
//! | bit        | set by                      | meaning                                  |
//! |------------|-----------------------------|------------------------------------------|
//! | `COMPLETE` | the sender (send or drop)   | the sender is done; the value cell is the receiver's |
//! | `SENT`     | the sender, with `COMPLETE` | a value is in the cell                   |
//! | `CLOSED`   | the receiver (close, drop)  | no value will be accepted from now on    |
//! | `RX_WAKER` | the receiver                | `rx_waker` holds the receiver's waker (or its parked thread) |
//! | `TX_WAKER` | the sender                  | `tx_waker` holds the sender's waker      |
//! | `TX_ALIVE` | set at creation; cleared by the sender when it is done with the allocation | |
//! | `RX_ALIVE` | the same, for the receiver  |                                          |
//!
//! Who may touch which cell:
//!
//! - `value`: the sender writes it before setting `COMPLETE | SENT` (one
//!   compare-exchange that fails if `CLOSED` is set, in which case the
//!   sender takes the value back); the receiver reads it only after seeing
//!   `COMPLETE` (Acquire, pairing with that Release).
//! - `rx_waker`: the receiver writes it only while `RX_WAKER` is clear (so
//!   nobody else reads it), then sets the bit; the sender reads it (to
//!   wake) only if `RX_WAKER` was set when it set `COMPLETE`. To replace
//!   it, the receiver clears the bit first; if `COMPLETE` was already set,
//!   the sender may be reading it, so the receiver leaves it alone and
//!   takes the value instead.
//! - `tx_waker`: the same, mirrored: the sender (in [`Sender::closed`])
//!   writes it while `TX_WAKER` is clear; the receiver wakes it if
//!   `TX_WAKER` was set when it set `CLOSED`.
//!
//! # The blocking path
//!
//! A waker cell is not a `WaitList` (one waiter at most, reached through
//! the state word), so `blocking_recv` registers a `Waker` that unparks
//! the blocked thread, under the same bit protocol, then parks (with its
//! deadline) until `COMPLETE` or `CLOSED` shows. The cells stay plain
//! `Option<Waker>` (16 bytes each; the wake is one indirect call, with no
//! match on what kind of waiter sits there). The thread's waker is made
//! once per thread and kept in a thread-local, so a blocking receive
//! clones it (a reference count) and allocates nothing. A timeout leaves
//! the waker in the cell and takes nothing: a value sent as it fires stays
//! in the cell for the next receive.
//!
//! # Freeing, without an `Arc`
//!
//! The allocation is a `Box`; the two `*_ALIVE` bits are its reference
//! count. A side clears its bit in its last transition on the state word
//! and never touches the allocation afterwards; the side that clears the
//! second bit (seeing the other already clear, through an AcqRel RMW that
//! pairs with the other side's) frees it, dropping whatever the cells
//! still hold. When a side has no waker to wake, its terminal transition
//! and leaving are one compare-exchange. When it must wake the other
//! side, it sets its terminal bit, wakes (reading the waker cell, which
//! the other side cannot free while this side's bit is set), then leaves.
//!
//! A side that sees (with an Acquire load) the other's bit already clear
//! is alone with the allocation: the other side's last access happened
//! before its clearing RMW (Release), and nobody else can reach the
//! allocation, so it frees without clearing its own bit. A send to a
//! receiver that has not registered a waker, then the receive, are
//! therefore one read-modify-write in all (the send's compare-exchange,
//! which also leaves), where an `Arc` makes it four or more (its clone,
//! a drop per side, the send's transition). Those two steps are inline
//! in the caller (`send` up to that compare-exchange, `poll` up to the
//! free); closing, registering, waking and retrying are out of line
//! (`finish`, `publish`, `poll_wait`, `drop_slow`).

use crate::loom::{thread, AtomicUsize, Ordering::*, UnsafeCell};
use corral_runtime::wait::assert_may_block;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

const RX_WAKER: usize = 1;
const TX_WAKER: usize = 1 << 1;
const COMPLETE: usize = 1 << 2;
const SENT: usize = 1 << 3;
const CLOSED: usize = 1 << 4;
const TX_ALIVE: usize = 1 << 5;
const RX_ALIVE: usize = 1 << 6;

/// The errors of a oneshot channel (tokio's module of the same name).
pub mod error {
    use std::fmt;

    /// The sender was dropped without sending (or the value was already
    /// received, or the receiver was closed before a value came).
    ///
    /// ```
    /// use corral::sync::oneshot::{self, error::RecvError};
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = oneshot::channel::<u8>();
    /// drop(tx);
    /// assert_eq!(rx.await, Err(RecvError(())));
    /// # });
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RecvError(pub ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed: the sender was dropped without sending")
        }
    }

    impl std::error::Error for RecvError {}

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no
    /// value.
    ///
    /// ```
    /// use corral::sync::oneshot::{self, error::TryRecvError};
    /// let (tx, mut rx) = oneshot::channel::<u8>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TryRecvError {
        /// No value yet; the sender may still send one.
        Empty,
        /// No value will come: the sender was dropped, the receiver was
        /// closed, or the value was already taken.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}

    /// Why [`Receiver::blocking_recv_timeout`](super::Receiver::blocking_recv_timeout)
    /// returned no value.
    ///
    /// ```
    /// use corral::sync::oneshot::{self, error::RecvTimeoutError};
    /// use std::time::Duration;
    /// let (_tx, mut rx) = oneshot::channel::<u8>();
    /// let err = rx.blocking_recv_timeout(Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err, RecvTimeoutError::Timeout);
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum RecvTimeoutError {
        /// The timeout passed first; a value may still come.
        Timeout,
        /// No value will come (as [`TryRecvError::Closed`]).
        Closed,
    }

    impl fmt::Display for RecvTimeoutError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvTimeoutError::Timeout => f.write_str("timed out waiting on the channel"),
                RecvTimeoutError::Closed => f.write_str("channel closed"),
            }
        }
    }

    impl std::error::Error for RecvTimeoutError {}
}

use error::{RecvError, RecvTimeoutError, TryRecvError};

/// The shared allocation; see the [module docs](self) for who may touch
/// which cell when. The state word first, then the value beside it: the
/// fast path (send, then receive) touches only those two (`repr(C)` keeps
/// that order; the compiler had put the state word last).
#[repr(C)]
struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    rx_waker: UnsafeCell<Option<Waker>>,
    tx_waker: UnsafeCell<Option<Waker>>,
}

/// Unparks the thread that made it: the waker a blocking receive puts in
/// the receiver's cell.
struct Unparker(thread::Thread);

impl std::task::Wake for Unparker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// A waker that unparks the current thread. Made once per thread and
/// kept, so a blocking receive clones it (a reference count) and allocates
/// nothing, and its re-registrations see `will_wake`; a thread whose
/// thread-locals are already torn down gets a fresh one. Under loom (whose
/// model threads are not std threads) it is made per call.
fn thread_waker() -> Waker {
    fn make() -> Waker {
        Waker::from(std::sync::Arc::new(Unparker(thread::current())))
    }
    #[cfg(not(loom))]
    {
        std::thread_local! {
            static THREAD_WAKER: Waker = make();
        }
        THREAD_WAKER.try_with(Waker::clone).unwrap_or_else(|_| make())
    }
    #[cfg(loom)]
    {
        make()
    }
}

// SAFETY: the cells are handed between the two sides by the state word's
// protocol (module docs), so each is touched by one thread at a time; the
// value crosses threads, hence `T: Send`. Wakers are Send + Sync.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above: shared access is serialised by the protocol.
unsafe impl<T: Send> Sync for Inner<T> {}

/// Creates a oneshot channel: a [`Sender`] for one value and the
/// [`Receiver`] that awaits it. One allocation of 56 bytes for a `u64`
/// (tokio's is 72: no `Arc` counts here, the state word is the count).
/// Unlike the long-lived primitives, a oneshot does not record its
/// creation site, which would cost 8 bytes on every request.
///
/// ```
/// use corral::sync::oneshot;
/// let (tx, mut rx) = oneshot::channel();
/// tx.send(5).unwrap();
/// assert_eq!(rx.try_recv(), Ok(5));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Box::new(Inner {
        state: AtomicUsize::new(TX_ALIVE | RX_ALIVE),
        value: UnsafeCell::new(None),
        rx_waker: UnsafeCell::new(None),
        tx_waker: UnsafeCell::new(None),
    });
    let ptr = NonNull::from(Box::leak(inner));
    (
        Sender { inner: Ptr(ptr) },
        Receiver {
            inner: Some(Ptr(ptr)),
        },
    )
}

/// One side's pointer to the shared allocation. Valid while that side's
/// `*_ALIVE` bit is set, which is until [`leave`](Ptr::leave) (or a
/// transition that clears the bit) consumes it.
struct Ptr<T>(NonNull<Inner<T>>);

// SAFETY: a `Ptr` is one side's share of an `Inner`, which is Send + Sync
// for `T: Send` (see there); the freeing protocol makes the last side the
// only one touching it.
unsafe impl<T: Send> Send for Ptr<T> {}
// SAFETY: as above; `&Ptr` only reaches `&Inner`.
unsafe impl<T: Send> Sync for Ptr<T> {}

impl<T> Ptr<T> {
    fn get(&self) -> &Inner<T> {
        // SAFETY: this side's ALIVE bit is set while the `Ptr` exists, so
        // the other side does not free the allocation.
        unsafe { self.0.as_ref() }
    }

    /// Clears this side's bit (`mine`); frees the allocation if the other
    /// side had already left.
    fn leave(self, mine: usize) {
        // A subtraction clears the bit (it is set while this `Ptr` exists,
        // so nothing borrows) and returns the previous word in one
        // `lock xadd`, where `fetch_and` with its result used is a
        // compare-exchange loop on x86.
        // AcqRel: Release orders this side's accesses before the other
        // side's free; Acquire orders the other side's before ours.
        let prev = self.get().state.fetch_sub(mine, AcqRel);
        if prev & (TX_ALIVE | RX_ALIVE) & !mine == 0 {
            // SAFETY: the other side's bit was clear when our RMW read the
            // word, and the RMW (Acquire) synchronised with its clearing.
            unsafe { self.free() };
        }
    }

    /// # Safety
    ///
    /// The other side has left: its `*_ALIVE` bit was seen clear by an
    /// Acquire load or RMW of the state word (which synchronises with the
    /// Release RMW that cleared it, its last access). This side must not
    /// have left (so the allocation was not freed already), and is done
    /// with it.
    unsafe fn free(self) {
        // SAFETY: made by `Box::leak` in `channel`, freed once (contract).
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// Sends the one value of a [`channel`]. Dropping it unsent makes the
/// receiver fail with [`RecvError`].
///
/// ```
/// use corral::sync::oneshot;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = oneshot::channel::<&str>();
/// let worker = corral::spawn(async move { tx.send("result") });
/// assert_eq!(rx.await.unwrap(), "result");
/// worker.await.unwrap().unwrap();
/// # });
/// ```
pub struct Sender<T> {
    /// Valid until `send` or `Drop` leaves (`send` skips `Drop`).
    inner: Ptr<T>,
}

/// Receives the value of a [`channel`]: `.await` it (it is a `Future` of
/// `Result<T, RecvError>`), or poll it with [`try_recv`](Self::try_recv),
/// or block a plain thread on it with [`blocking_recv`](Self::blocking_recv).
///
/// Awaiting it after it completed returns `Err(RecvError)` (tokio panics
/// there; a value is only ever delivered once either way).
///
/// ```
/// use corral::sync::oneshot;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = oneshot::channel();
/// std::thread::spawn(move || tx.send(1).unwrap());
/// assert_eq!(rx.await, Ok(1));
/// # });
/// ```
pub struct Receiver<T> {
    /// None once the value or the error was returned (the receiver has
    /// left the allocation).
    inner: Option<Ptr<T>>,
}

impl<T> Inner<T> {
    /// Takes the value after `COMPLETE` was seen.
    fn take_value(&self) -> Option<T> {
        // SAFETY: COMPLETE is set (callers saw it with Acquire): the value
        // cell is the receiver's, and the receiver is the caller.
        self.value.with_mut(|v| unsafe { (*v).take() })
    }

    /// Wakes the waker in `cell`, whose bit the caller saw set when it set
    /// its terminal bit (so the owner no longer writes the cell).
    fn wake(cell: &UnsafeCell<Option<Waker>>) {
        cell.with(|w| {
            // SAFETY: the owner wrote the cell before setting its bit and
            // only writes it again after clearing the bit and finding no
            // terminal bit, which is set now: reads only from here on.
            if let Some(w) = unsafe { &*w } {
                w.wake_by_ref();
            }
        });
    }

    /// Registers `waker` in `cell` under `bit`, unless `done` shows up in
    /// the state first. Returns true if `done` is set (Ready).
    fn register(&self, cell: &UnsafeCell<Option<Waker>>, bit: usize, done: usize, waker: &Waker) -> bool {
        let st = self.state.load(Acquire);
        if st & done != 0 {
            return true;
        }
        if st & bit != 0 {
            // SAFETY: the bit is set, so the cell holds our waker and the
            // other side at most reads it: a shared read is fine.
            let same = cell.with(|w| unsafe { &*w }.as_ref().is_some_and(|w| w.will_wake(waker)));
            if same {
                return false;
            }
            // AcqRel: Acquire pairs with the other side's terminal store.
            let st = self.state.fetch_and(!bit, AcqRel);
            if st & done != 0 {
                // The other side may be reading the cell: leave it.
                return true;
            }
        }
        // SAFETY: the bit is clear: the cell is ours alone (the other side
        // reads it only when it saw the bit set).
        cell.with_mut(|w| unsafe { *w = Some(waker.clone()) });
        // AcqRel: Release publishes the waker to the other side's Acquire
        // in its terminal RMW; Acquire sees a terminal bit set meanwhile.
        let st = self.state.fetch_or(bit, AcqRel);
        st & done != 0
    }
}

impl<T> Sender<T> {
    fn inner(&self) -> &Inner<T> {
        self.inner.get()
    }

    /// The sender's terminal transition without a value (dropped unsent,
    /// or a send refused): sets `COMPLETE` and leaves the allocation, in
    /// one step unless the receiver's waker must be woken first.
    fn finish(ptr: Ptr<T>) {
        let inner = ptr.get();
        // Acquire: if the receiver has left, its accesses happened before
        // this load.
        let mut st = inner.state.load(Acquire);
        if st & RX_ALIVE == 0 {
            // SAFETY: the receiver has left (seen above, Acquire), we have
            // not: we are alone with the allocation.
            unsafe { ptr.free() };
            return;
        }
        loop {
            let wake = st & RX_WAKER != 0 && st & CLOSED == 0;
            let new = if wake {
                st | COMPLETE
            } else {
                (st | COMPLETE) & !TX_ALIVE
            };
            // AcqRel: Release orders our accesses before the receiver's
            // free (and publishes COMPLETE); Acquire sees the receiver's
            // waker, or its leaving.
            match inner.state.compare_exchange_weak(st, new, AcqRel, Relaxed) {
                Ok(_) => break,
                Err(now) => st = now,
            }
        }
        if st & RX_WAKER != 0 && st & CLOSED == 0 {
            Inner::<T>::wake(&inner.rx_waker);
            ptr.leave(TX_ALIVE);
        } else if st & RX_ALIVE == 0 {
            // SAFETY: our CAS cleared TX_ALIVE after the receiver cleared
            // RX_ALIVE (seen, Acquire): we are the last.
            unsafe { ptr.free() };
        }
    }

    /// Sends the value; `Err(value)` hands it back if the receiver was
    /// dropped or closed first. Never waits.
    ///
    /// ```
    /// use corral::sync::oneshot;
    /// let (tx, rx) = oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(3), Err(3));
    /// ```
    #[inline]
    pub fn send(self, value: T) -> Result<(), T> {
        // `send` is this side's terminal transition: `Drop` must not run.
        let ptr = Ptr(ManuallyDrop::new(self).inner.0);
        let inner = ptr.get();
        // Acquire: a CLOSED seen here orders the receiver's accesses
        // before ours (`finish` may free).
        let st = inner.state.load(Acquire);
        if st & CLOSED != 0 {
            // The receiver is gone or closed: nothing is published.
            Self::finish(ptr);
            return Err(value);
        }
        // SAFETY: COMPLETE is not set (only this sender sets it, and it is
        // being consumed): the value cell is ours, and still holds the
        // `None` it was made with (so nothing is overwritten undropped).
        inner.value.with_mut(|v| unsafe { v.write(Some(value)) });
        // The common case, inline: no waker to wake, so publish and leave
        // in one step. AcqRel: Release publishes the value (pairs with the
        // receiver's Acquire) and our leaving; Acquire, for the word's
        // other bits. Anything else (a waker to wake, a word changed since
        // the load) is `publish`.
        if st & RX_WAKER == 0
            && inner
                .state
                .compare_exchange(st, (st | COMPLETE | SENT) & !TX_ALIVE, AcqRel, Relaxed)
                .is_ok()
        {
            return Ok(());
        }
        Self::publish(ptr)
    }

    /// The rest of `send` once the value is in its cell: sets
    /// `COMPLETE | SENT` unless the receiver closed meanwhile (then takes
    /// the value back), wakes the receiver if it registered a waker, and
    /// leaves.
    fn publish(ptr: Ptr<T>) -> Result<(), T> {
        let inner = ptr.get();
        // Relaxed: only the first expected value; the CAS below (AcqRel)
        // or `finish` (Acquire) reads the word that decides.
        let mut st = inner.state.load(Relaxed);
        loop {
            if st & CLOSED != 0 {
                // Closed meanwhile. SAFETY: COMPLETE is still clear: the
                // cell is still ours.
                let value = inner.value.with_mut(|v| unsafe { (*v).take() });
                Self::finish(ptr);
                return Err(value.expect("the value was just written"));
            }
            let wake = st & RX_WAKER != 0;
            let new = if wake {
                st | COMPLETE | SENT
            } else {
                (st | COMPLETE | SENT) & !TX_ALIVE
            };
            // AcqRel: Release publishes the value (pairs with the
            // receiver's Acquire) and, without a waker to wake, our
            // leaving; Acquire sees the receiver's waker. Relaxed on
            // failure: the word is only the next expected value.
            match inner.state.compare_exchange_weak(st, new, AcqRel, Relaxed) {
                Ok(_) => break,
                Err(now) => st = now,
            }
        }
        // The receiver leaves only after COMPLETE (set by us just now) or
        // with CLOSED (which the loop turned back): it is still here.
        debug_assert!(st & RX_ALIVE != 0);
        if st & RX_WAKER != 0 {
            Inner::<T>::wake(&inner.rx_waker);
            ptr.leave(TX_ALIVE);
        }
        // Else we left in the CAS and the receiver frees.
        Ok(())
    }

    /// True once the receiver was dropped or [closed](Receiver::close): a
    /// `send` would hand its value back.
    ///
    /// ```
    /// use corral::sync::oneshot;
    /// let (tx, rx) = oneshot::channel::<u8>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner().state.load(Acquire) & CLOSED != 0
    }

    /// Waits until the receiver is dropped or closed (e.g. to stop work
    /// whose result nobody wants any more).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future changes nothing; call again.
    ///
    /// ```
    /// use corral::sync::oneshot;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let (mut tx, rx) = oneshot::channel::<u8>();
    /// corral::spawn(async move { drop(rx) });
    /// tx.closed().await;
    /// assert!(tx.is_closed());
    /// # });
    /// ```
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// The poll behind [`closed`](Self::closed): Ready once the receiver is
    /// dropped or closed; otherwise registers `cx`'s waker.
    ///
    /// ```
    /// use corral::sync::oneshot;
    /// use std::task::{Context, Waker};
    /// let (mut tx, rx) = oneshot::channel::<u8>();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(tx.poll_closed(&mut cx).is_pending());
    /// drop(rx);
    /// assert!(tx.poll_closed(&mut cx).is_ready());
    /// ```
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.inner();
        if inner.register(&inner.tx_waker, TX_WAKER, CLOSED, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Dropped unsent (`send` skips this): the receiver sees COMPLETE
        // without SENT. `self.inner` is not used again.
        Self::finish(Ptr(self.inner.0));
    }
}

impl<T> Receiver<T> {
    /// Leaves the allocation once the outcome was returned.
    fn leave(&mut self) {
        if let Some(ptr) = self.inner.take() {
            ptr.leave(RX_ALIVE);
        }
    }

    /// Takes the outcome once `COMPLETE` showed in `st` (loaded with
    /// Acquire), and leaves: the value, or `None` if the sender was
    /// dropped unsent. If the sender has left too (its usual case: a send
    /// to a receiver with no waker leaves in its one compare-exchange),
    /// frees with no atomic operation at all.
    #[inline]
    fn take_complete(&mut self, st: usize) -> Option<T> {
        let ptr = self.inner.take()?;
        let v = ptr.get().take_value();
        if st & TX_ALIVE == 0 {
            // SAFETY: the sender had left when `st` was loaded (Acquire,
            // pairing with its clearing RMW), and we have not: we are
            // alone with the allocation.
            unsafe { ptr.free() };
        } else {
            ptr.leave(RX_ALIVE);
        }
        v
    }

    /// Takes the value if it is there, without waiting.
    ///
    /// `Err(Empty)` while the sender may still send; `Err(Closed)` once it
    /// cannot (dropped unsent, receiver closed, or value already taken).
    ///
    /// ```
    /// use corral::sync::oneshot::{self, error::TryRecvError};
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send('x').unwrap();
    /// assert_eq!(rx.try_recv(), Ok('x'));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let Some(inner) = self.inner.as_ref().map(Ptr::get) else {
            return Err(TryRecvError::Closed);
        };
        let st = inner.state.load(Acquire);
        if st & COMPLETE != 0 {
            self.take_complete(st).ok_or(TryRecvError::Closed)
        } else if st & CLOSED != 0 {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel without dropping the receiver: a later `send`
    /// fails and hands its value back, and a waiting [`Sender::closed`]
    /// wakes. A value sent before the close can still be received.
    ///
    /// ```
    /// use corral::sync::oneshot::{self, error::TryRecvError};
    /// let (tx, mut rx) = oneshot::channel();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn close(&mut self) {
        if let Some(inner) = self.inner.as_ref().map(Ptr::get) {
            // AcqRel: Acquire sees the sender's waker; Release pairs with
            // its Acquire in `register`.
            let st = inner.state.fetch_or(CLOSED, AcqRel);
            if st & TX_WAKER != 0 && st & COMPLETE == 0 {
                Inner::<T>::wake(&inner.tx_waker);
            }
        }
    }

    /// Blocks this (non-runtime) thread until the value comes, or fails
    /// once it cannot.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (use `.await` there).
    ///
    /// ```
    /// use corral::sync::oneshot;
    /// let (tx, rx) = oneshot::channel();
    /// std::thread::spawn(move || tx.send(9).unwrap());
    /// assert_eq!(rx.blocking_recv(), Ok(9));
    /// ```
    #[track_caller]
    pub fn blocking_recv(mut self) -> Result<T, RecvError> {
        self.blocking_wait(None, "oneshot::Receiver::blocking_recv")
            .map_err(|_| RecvError(()))
    }

    /// As [`blocking_recv`](Self::blocking_recv), giving up after
    /// `timeout` ([`RecvTimeoutError::Timeout`]; the receiver stays usable).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime.
    ///
    /// ```
    /// use corral::sync::oneshot::{self, error::RecvTimeoutError};
    /// use std::time::Duration;
    /// let (tx, mut rx) = oneshot::channel();
    /// assert_eq!(rx.blocking_recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.blocking_recv_timeout(Duration::from_secs(1)), Ok(2));
    /// ```
    #[track_caller]
    pub fn blocking_recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        self.blocking_wait(deadline, "oneshot::Receiver::blocking_recv_timeout")
    }

    /// The blocking path: a waker that unparks this thread is registered
    /// in the receiver's cell (the thread's own, kept in a thread-local:
    /// no allocation), and the thread parks until the sender completes
    /// and wakes it. On timeout the waker stays; a value sent later stays
    /// in the cell for the next receive.
    #[track_caller]
    fn blocking_wait(&mut self, deadline: Option<Instant>, what: &str) -> Result<T, RecvTimeoutError> {
        assert_may_block(what);
        let Some(inner) = self.inner.as_ref().map(Ptr::get) else {
            return Err(RecvTimeoutError::Closed);
        };
        let mut waker = None;
        loop {
            let st = inner.state.load(Acquire);
            if st & COMPLETE != 0 {
                return self.take_complete(st).ok_or(RecvTimeoutError::Closed);
            }
            if st & CLOSED != 0 {
                self.leave();
                return Err(RecvTimeoutError::Closed);
            }
            let waker = waker.get_or_insert_with(thread_waker);
            if inner.register(&inner.rx_waker, RX_WAKER, COMPLETE, waker) {
                continue;
            }
            match deadline {
                None => thread::park(),
                #[cfg(not(loom))]
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(RecvTimeoutError::Timeout);
                    }
                    thread::park_timeout(d - now);
                }
                // No clock under loom: the timeout fires at the first wait,
                // so models explore its race with the send.
                #[cfg(loom)]
                Some(_) => return Err(RecvTimeoutError::Timeout),
            }
        }
    }

    /// True once no value can come any more and none is waiting: the
    /// sender was dropped unsent, or the receiver was closed, or the value
    /// was taken.
    ///
    /// ```
    /// use corral::sync::oneshot;
    /// let (tx, rx) = oneshot::channel::<u8>();
    /// assert!(!rx.is_terminated());
    /// drop(tx);
    /// assert!(rx.is_terminated());
    /// ```
    pub fn is_terminated(&self) -> bool {
        match self.inner.as_ref().map(Ptr::get) {
            None => true,
            Some(inner) => {
                let st = inner.state.load(Acquire);
                (st & COMPLETE != 0 && st & SENT == 0) || (st & CLOSED != 0 && st & COMPLETE == 0)
            }
        }
    }

    /// True if the value was sent and is waiting to be received.
    ///
    /// ```
    /// use corral::sync::oneshot;
    /// let (tx, rx) = oneshot::channel();
    /// tx.send(()).unwrap();
    /// assert!(rx.is_empty() == false);
    /// ```
    pub fn is_empty(&self) -> bool {
        match self.inner.as_ref().map(Ptr::get) {
            None => true,
            Some(inner) => inner.state.load(Acquire) & SENT == 0,
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    /// # Cancel safety
    ///
    /// Cancel safe: a `Receiver` polled and then dropped (or kept) loses
    /// nothing it did not return; the value stays in the channel until a
    /// poll returns it.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The fast path (the value is there) inline in the caller's
        // future; waiting is `poll_wait`.
        let Some(inner) = self.inner.as_ref().map(Ptr::get) else {
            return Poll::Ready(Err(RecvError(())));
        };
        let st = inner.state.load(Acquire);
        if st & COMPLETE != 0 {
            return Poll::Ready(self.take_complete(st).ok_or(RecvError(())));
        }
        self.poll_wait(st, cx)
    }
}

impl<T> Receiver<T> {
    /// `poll` when `st` (loaded with Acquire) showed no `COMPLETE`: fails
    /// if closed, else registers `cx`'s waker (one coop budget unit).
    fn poll_wait(&mut self, st: usize, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let Some(inner) = self.inner.as_ref().map(Ptr::get) else {
            return Poll::Ready(Err(RecvError(())));
        };
        if st & CLOSED != 0 {
            self.leave();
            return Poll::Ready(Err(RecvError(())));
        }
        ready!(corral_runtime::coop::poll_consume_budget(cx));
        if !inner.register(&inner.rx_waker, RX_WAKER, COMPLETE, cx.waker()) {
            return Poll::Pending;
        }
        // COMPLETE showed while registering: reload (Acquire) for the
        // sender's ALIVE bit.
        let st = inner.state.load(Acquire);
        Poll::Ready(self.take_complete(st).ok_or(RecvError(())))
    }
}

impl<T> Drop for Receiver<T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(ptr) = self.inner.take() {
            Self::drop_slow(ptr);
        }
    }
}

impl<T> Receiver<T> {
    /// `Drop` for a receiver still in the allocation (out of line: the
    /// common drop, after the value was received, only checks `inner`).
    fn drop_slow(ptr: Ptr<T>) {
        let inner = ptr.get();
        // Acquire: if the sender has left, its accesses happened before.
        let mut st = inner.state.load(Acquire);
        if st & TX_ALIVE == 0 {
            // SAFETY: the sender has left (seen above, Acquire), we have
            // not: we are alone with the allocation.
            unsafe { ptr.free() };
            return;
        }
        // Close and leave in one step, unless a sender waiting in
        // `closed()` must be woken first.
        loop {
            let wake = st & TX_WAKER != 0 && st & (COMPLETE | CLOSED) == 0;
            let new = if wake {
                st | CLOSED
            } else {
                (st | CLOSED) & !RX_ALIVE
            };
            // AcqRel: Release orders our accesses before the sender's
            // free; Acquire sees its waker, or its leaving.
            match inner.state.compare_exchange_weak(st, new, AcqRel, Relaxed) {
                Ok(_) => break,
                Err(now) => st = now,
            }
        }
        if st & TX_WAKER != 0 && st & (COMPLETE | CLOSED) == 0 {
            Inner::<T>::wake(&inner.tx_waker);
            ptr.leave(RX_ALIVE);
        } else if st & TX_ALIVE == 0 {
            // SAFETY: our CAS cleared RX_ALIVE after the sender cleared
            // TX_ALIVE (seen, Acquire): we are the last.
            unsafe { ptr.free() };
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver")
            .field("terminated", &self.is_terminated())
            .finish()
    }
}
