//! The shared state of an mpsc channel, bounded or unbounded: the item
//! queue, the capacity, the waiting senders and the receiver's waker, all
//! under one short lock.
//!
//! # State, and who may touch it
//!
//! [`Chan`] is one allocation shared by every handle. `tx_count` (strong
//! senders) is an atomic outside the lock, so cloning a sender and
//! upgrading a weak one take no lock. Everything else is in [`State`],
//! under `state`, the channel's own spin lock (the private `lock` module:
//! its unlock is a release store, not parking_lot's compare-exchange;
//! loom's mutex under `cfg(loom)`):
//!
//! - `queue`: the buffered items, a [`BlockDeque`] (blocks of 32 slots,
//!   freed as they drain, one kept for reuse, so steady traffic allocates
//!   nothing and a burst's memory goes back once it drains).
//! - `free`: slots nobody holds (bounded channels only). Every slot of a
//!   bounded channel is in exactly one place: `free`, a [`Grant`] handed
//!   to a waiting sender, a permit (`Permit`, `OwnedPermit`, or a send in
//!   flight), or an item in `queue`. So `max - free - queue.len()` slots
//!   are reserved by permits not yet used.
//! - `senders`: the [`WaitList`] of senders waiting for a slot, FIFO; the
//!   payload is a [`Grant`]: a waiting `send` carries its item in it
//!   (`Carrying`), a waiting `reserve` carries nothing (`Waiting`).
//! - `rx_waker`: the mpsc receiver's waker while its `recv` waits on an
//!   empty queue (one receiver: a cell is enough, and cheapest).
//! - `receivers`: the [`WaitList`] of receivers waiting on an empty queue,
//!   FIFO: mpmc receivers, and threads in `blocking_recv` (of either
//!   flavour); the payload is a [`Recv`]. A push that finds one hands the
//!   item straight into its payload and wakes it; on a bounded channel the
//!   item keeps its slot until the receiver takes it (so a cancelled
//!   receiver can put it back at the head of the queue without exceeding
//!   the capacity), and that take releases the slot like a pop.
//! - `handed`: items handed to receivers and not yet taken. While it is
//!   not 0 the channel has not ended, even with every sender gone: a
//!   handed receiver that is cancelled puts its item back, so the other
//!   receivers must keep waiting for it. Taking a handed item is one lock
//!   (the count, and on a bounded channel the slot).
//! - `closed` (the receiver closed or dropped), `rx_dropped`, `tx_gone`
//!   (the last sender dropped).
//!
//! # Invariant: no barging
//!
//! `free > 0` only while no sender waits (or after close), as in the raw
//! semaphore: a slot freed by `recv` (or by a permit dropped unused) goes
//! straight to the first waiting sender ([`State::dispatch`]), so a sender
//! that arrives later, even with `try_send`, cannot take it. For a waiting
//! `send` the freer pushes the carried item itself (or hands it to a
//! waiting receiver) and marks the node `Sent`; a waiting `reserve` is
//! marked `Granted`. Either is then woken onto the waking worker's run
//! queue, and only reads its payload when it runs.
//!
//! # Send, in one lock
//!
//! A send that finds a free slot takes it and pushes the item under the
//! same lock (one lock per item; the receiver's pop is the other), without
//! building a wait node at all (the future's node is an `Option`, written
//! in place only when it must wait). A send that must wait moves its item
//! into its node and queues it; the pop that frees a slot pushes the item
//! for it, so a waiting send also costs the sender one lock (kanal's
//! design; before, a granted sender locked again to push). A receiver
//! waiting on an empty queue is woken after the lock is released.
//!
//! # Cancellation
//!
//! A send or reserve future dropped while waiting locks the state and
//! removes its node: `Removed::Notified` with `Granted` (a reserve) means a
//! slot was granted and not used, so it goes back through `dispatch` (to
//! the next waiting sender, or `free`); with `Sent`, the item was already
//! pushed for the send, which therefore happened: nothing to undo, nothing
//! lost. `Unlinked`: nothing was granted (one slot per waiter, so no
//! partial handoff); the item still carried by a cancelled `send` is
//! dropped with its future, never sent (as tokio's). A cancelled `recv`
//! takes nothing: an item leaves the queue only inside the poll that
//! returns it.
//!
//! # The blocking path
//!
//! `blocking_send` / `blocking_recv` (and their timeouts) queue a node on
//! the plain thread's stack with [`WaitList::push_back_thread`] and park in
//! `park_until_notified(_or)`: the same list, FIFO and handoff as the
//! futures (a blocking send carries its item in its node too), with no
//! waker allocated. A timeout locks and removes the node;
//! `Removed::Notified` means the handoff raced the timeout, and it is kept
//! (the item returned, the send done): nothing is lost.
//!
//! # Closing
//!
//! `close` (or dropping the receiver) sets `closed`, marks every waiting
//! sender closed (a send's carried item moves into its `Closed`, to be
//! handed back) and wakes them (in chunks of [`WakeBatch::CAPACITY`]);
//! later sends fail and hand their item back. Buffered items still drain,
//! and so do the items of permits reserved before the close: `recv`
//! returns `None` once the queue is empty and no permit is outstanding (or
//! every sender is gone). Dropping the receiver also drops the buffered
//! items. When the channel has ended, every waiting receiver is handed
//! `Recv::Ended` and woken (`wake_ended`, in chunks).

use super::blocks::BlockDeque;
use super::error::SendError;
use super::lock::{Lock, LockGuard};
use crate::loom::{AtomicUsize, Ordering::*};
use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The payload of a waiting receiver (an mpmc receiver, or a thread in
/// `blocking_recv`).
pub(crate) enum Recv<T> {
    Waiting,
    /// An item handed over; on a bounded channel it still holds its slot
    /// until the receiver takes it ([`Chan::take_handed`]).
    Item(T),
    /// The channel ended while this receiver waited on it empty.
    Ended,
}

/// The payload of a waiting sender.
pub(crate) enum Grant<T> {
    /// A `reserve` (or a spent node) waiting for a slot.
    Waiting,
    /// A `send` waiting, its item moved into the node: the receive (or
    /// released permit) that frees a slot pushes the item itself.
    Carrying(T),
    /// A slot was handed over (to a `reserve`).
    Granted,
    /// The carried item was pushed (or handed to a receiver) by whoever
    /// freed the slot: the send is complete.
    Sent,
    /// The channel closed first; a send's item comes back in it.
    Closed(Option<T>),
}

pub(crate) struct State<T> {
    queue: BlockDeque<T>,
    free: usize,
    closed: bool,
    rx_dropped: bool,
    tx_gone: bool,
    rx_waker: Option<Waker>,
    /// Items handed to receivers in `receivers` and not yet taken.
    handed: usize,
    senders: WaitList<Grant<T>>,
    /// Receivers waiting on an empty queue, FIFO (mpmc receivers, blocking
    /// threads); each item is handed to the first.
    receivers: WaitList<Recv<T>>,
    /// Senders waiting in `closed()` for the receiver to close.
    closed_watchers: WaitList<()>,
}

impl<T> State<T> {
    /// Hands free slots to waiting senders, front first: a waiting `send`
    /// has its carried item pushed (or handed to a waiting receiver) and
    /// is completed (`Sent`), a `reserve` is granted the slot. The mpsc
    /// receiver's waker, if a pushed item must wake it, goes to `rx`.
    /// Returns true if more could be served but the batch is full.
    fn dispatch(&mut self, batch: &mut WakeBatch, rx: &mut Option<Waker>) -> bool {
        if self.closed {
            // Waiters are marked closed and being woken; keep the slot.
            return false;
        }
        while self.free > 0 {
            // Room for the sender's wake and a receiver's (a carried item
            // handed over).
            if batch.len() + 2 > WakeBatch::CAPACITY {
                return !self.senders.is_empty();
            }
            let Some(front) = self.senders.front_mut() else {
                return false;
            };
            let carried = match std::mem::replace(front, Grant::Sent) {
                Grant::Carrying(v) => Some(v),
                _ => {
                    *front = Grant::Granted;
                    None
                }
            };
            self.free -= 1;
            self.senders.wake_front(batch);
            if let Some(v) = carried {
                // Its slot becomes the item's (`free` was taken above).
                if self.receivers.is_empty() {
                    self.queue.push_back(v);
                    if rx.is_none() {
                        *rx = self.rx_waker.take();
                    }
                } else {
                    self.hand_over(v, batch);
                }
            }
        }
        false
    }

    /// Pushes an item (or drops it, if the receiver is gone: then it comes
    /// back to be dropped after the lock) and takes the receiver's waker.
    /// Only while no receiver waits in `receivers` (see `push_and_wake`).
    #[inline]
    fn push(&mut self, value: T, max: Option<usize>) -> (Option<T>, Option<Waker>) {
        if self.rx_dropped {
            // Nobody will receive it; its slot goes back to the pool.
            if max.is_some() {
                self.free += 1;
            }
            return (Some(value), None);
        }
        self.queue.push_back(value);
        (None, self.rx_waker.take())
    }

    /// Hands `value` to the first waiting receiver (there is one; `batch`
    /// is fresh, so not full); its slot stays held until the receiver
    /// takes the item.
    #[cold]
    fn hand_over(&mut self, value: T, batch: &mut WakeBatch) {
        let front = self.receivers.front_mut().expect("a receiver waits");
        *front = Recv::Item(value);
        self.handed += 1;
        self.receivers.wake_front(batch);
    }

    /// An item handed to a receiver that will not take it (cancelled):
    /// to the next waiting receiver, else back to the head of the queue
    /// (its slot becomes the queued item's).
    fn give_back(&mut self, value: T, max: Option<usize>, batch: &mut WakeBatch) -> Option<T> {
        if self.rx_dropped {
            if max.is_some() {
                self.free += 1;
            }
            return Some(value);
        }
        if self.receivers.is_empty() {
            self.queue.push_front(value);
        } else {
            self.hand_over(value, batch);
        }
        None
    }
}

/// One channel; see the [module docs](self).
pub(crate) struct Chan<T> {
    state: Lock<State<T>>,
    /// Strong senders. The last one to leave sets `tx_gone` under the lock.
    tx_count: AtomicUsize,
    /// Capacity of a bounded channel; `None`: unbounded.
    max: Option<usize>,
    pub(crate) created_at: &'static Location<'static>,
}

/// A snapshot, for `statistics()`.
pub(crate) struct Snapshot {
    pub(crate) buffered: usize,
    pub(crate) senders_waiting: usize,
    pub(crate) receivers_waiting: usize,
    pub(crate) closed: bool,
    pub(crate) senders: usize,
}

/// What a poll for a slot produced.
pub(crate) enum Slot<T> {
    /// A slot is ours (a permit).
    Reserved,
    /// The value given for the fast path was pushed in the same lock.
    Sent,
    /// The channel is closed; the fast-path value comes back if there was one.
    Closed(Option<T>),
}

impl<T> Chan<T> {
    pub(crate) fn new(max: Option<usize>, created_at: &'static Location<'static>) -> Self {
        Chan {
            state: Lock::new(State {
                queue: BlockDeque::new(),
                free: max.unwrap_or(0),
                closed: false,
                rx_dropped: false,
                tx_gone: false,
                rx_waker: None,
                handed: 0,
                senders: WaitList::new(),
                receivers: WaitList::new(),
                closed_watchers: WaitList::new(),
            }),
            tx_count: AtomicUsize::new(1),
            max,
            created_at,
        }
    }

    pub(crate) fn max(&self) -> Option<usize> {
        self.max
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let st = self.state.lock();
        Snapshot {
            buffered: st.queue.len(),
            senders_waiting: st.senders.len(),
            receivers_waiting: st.receivers.len() + usize::from(st.rx_waker.is_some()),
            closed: st.closed,
            senders: self.tx_count.load(Relaxed),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    pub(crate) fn free(&self) -> usize {
        self.state.lock().free
    }

    pub(crate) fn is_closed(&self) -> bool {
        let st = self.state.lock();
        st.closed
    }

    /// True if the receiver would see the end: closed by it, or every
    /// sender gone (tokio's `Receiver::is_closed`).
    pub(crate) fn rx_is_closed(&self) -> bool {
        let st = self.state.lock();
        st.closed || st.tx_gone
    }

    // ----- senders: counting -----

    pub(crate) fn tx_inc(&self) {
        // Relaxed: a new handle from an existing one (as Arc::clone).
        self.tx_count.fetch_add(1, Relaxed);
    }

    /// Drops one strong sender; the last wakes the receiver.
    pub(crate) fn tx_dec(&self) {
        // AcqRel: the last decrement sees every other sender's pushes (they
        // happen under the lock anyway) and orders the `tx_gone` below.
        if self.tx_count.fetch_sub(1, AcqRel) != 1 {
            return;
        }
        self.state.lock().tx_gone = true;
        self.wake_ended();
    }

    /// If the channel has ended (nothing buffered and nothing can come),
    /// wakes every waiting receiver with `Ended` (in chunks) and the mpsc
    /// receiver's waker.
    fn wake_ended(&self) {
        let mut w = None;
        WakeBatch::wake_in_chunks(
            || self.state.lock(),
            |st, batch| {
                if !self.finished(st) {
                    return false;
                }
                if w.is_none() {
                    w = st.rx_waker.take();
                }
                for r in st.receivers.iter_mut() {
                    *r = Recv::Ended;
                }
                st.receivers.wake_all(batch)
            },
        );
        if let Some(w) = w {
            w.wake();
        }
    }

    /// A strong sender from a weak one, if any strong one is left.
    pub(crate) fn tx_upgrade(&self) -> bool {
        let mut n = self.tx_count.load(Relaxed);
        loop {
            if n == 0 {
                return false;
            }
            // Relaxed: as `tx_inc`; once 0 the count never rises again.
            match self.tx_count.compare_exchange_weak(n, n + 1, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
    }

    pub(crate) fn tx_count(&self) -> usize {
        self.tx_count.load(Relaxed)
    }

    // ----- sending -----

    /// Pushes `value` under `st` (handing it to a waiting receiver if one
    /// waits), then releases the lock and wakes whoever it woke.
    #[inline]
    fn push_and_wake(&self, mut st: LockGuard<'_, State<T>>, value: T) {
        if !st.receivers.is_empty() && !st.rx_dropped {
            // Receivers wait only on an empty queue: hand it to the first.
            return Self::hand_over_and_wake(st, value);
        }
        let (back, w) = st.push(value, self.max);
        drop(st);
        drop(back);
        if let Some(w) = w {
            w.wake();
        }
    }

    #[cold]
    fn hand_over_and_wake(mut st: LockGuard<'_, State<T>>, value: T) {
        let mut batch = WakeBatch::new();
        st.hand_over(value, &mut batch);
        batch.wake_after(st);
    }

    /// Pushes into an unbounded channel. `Err(value)` if closed.
    pub(crate) fn send_unbounded(&self, value: T) -> Result<(), T> {
        let st = self.state.lock();
        if st.closed {
            return Err(value);
        }
        self.push_and_wake(st, value);
        Ok(())
    }

    /// Pushes the item of a slot already held (a permit). If the receiver
    /// is gone the item is dropped.
    pub(crate) fn push_reserved(&self, value: T) {
        self.push_and_wake(self.state.lock(), value);
    }

    /// Takes a free slot now (and, with `value`, pushes it in the same
    /// lock); on failure says why and hands `value` back.
    pub(crate) fn try_reserve(&self, value: Option<T>) -> Result<(), (TryErr, Option<T>)> {
        let mut st = self.state.lock();
        if st.closed {
            return Err((TryErr::Closed, value));
        }
        if st.free == 0 {
            return Err((TryErr::Full, value));
        }
        // `free > 0` implies nobody waits: no barging.
        st.free -= 1;
        if let Some(v) = value {
            self.push_and_wake(st, v);
        }
        Ok(())
    }

    /// Gives back `n` unused slots (a permit dropped unsent, a cancelled
    /// grant), handing them to waiting senders first; wakes the receiver if
    /// that was the last outstanding permit of a closed channel.
    pub(crate) fn release_slots(&self, n: usize) {
        self.release(n, 0);
    }

    /// Gives back `slots` slots and forgets `handed` items handed to
    /// receivers (taken now); dispatches the slots to waiting senders, or
    /// wakes the receivers with the end if this was the last thing that
    /// kept a closed channel (or one without senders) alive.
    fn release(&self, slots: usize, handed: usize) {
        let mut st = self.state.lock();
        st.free += slots;
        st.handed -= handed;
        if st.closed || st.tx_gone {
            let ended = self.finished(&st);
            drop(st);
            if ended {
                self.wake_ended();
            }
        } else if st.senders.is_empty() {
            drop(st);
        } else {
            self.dispatch_after(st);
        }
    }

    /// Dispatches free slots to waiting senders, waking them after
    /// releasing `st` (in chunks, if many).
    fn dispatch_after(&self, st: LockGuard<'_, State<T>>) {
        let mut first = Some(st);
        let mut rx = None;
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state.lock()),
            |st, batch| st.dispatch(batch, &mut rx),
        );
        if let Some(w) = rx {
            w.wake();
        }
    }

    /// The poll of a sender waiting for a slot (`reserve`, `send`). With
    /// `fast`, the value to send: pushed in the same lock if a slot is
    /// free, else moved into the node (created in place now: a send that
    /// finds a slot never builds one) for the slot's freer to push.
    ///
    /// # Safety
    ///
    /// `node` only ever queues in this channel's list, and the owner calls
    /// [`cancel_slot`](Self::cancel_slot) on it (if `Some`) before
    /// dropping it.
    #[inline(always)]
    pub(crate) unsafe fn poll_slot(
        &self,
        node: Pin<&mut Option<WaitNode<Grant<T>>>>,
        cx: &mut Context<'_>,
        fast: &mut Option<T>,
    ) -> Poll<Slot<T>> {
        if node.is_some() {
            // SAFETY: the caller's contract.
            return unsafe { self.poll_slot_node(node, cx, fast) };
        }
        std::task::ready!(corral_runtime::coop::poll_consume_budget(cx));
        let mut st = self.state.lock();
        // The fast path, inline: a free slot (so nobody waits: no
        // barging), open, and no receiver waiting to be handed the item.
        if st.free > 0 && !st.closed && st.receivers.is_empty() {
            st.free -= 1;
            let Some(v) = fast.take() else {
                return Poll::Ready(Slot::Reserved);
            };
            st.queue.push_back(v);
            let w = st.rx_waker.take();
            drop(st);
            if let Some(w) = w {
                w.wake();
            }
            return Poll::Ready(Slot::Sent);
        }
        // SAFETY: the caller's contract.
        unsafe { self.wait_slot(st, node, cx, fast) }
    }

    /// `poll_slot` for a future whose node exists (it waited before).
    ///
    /// # Safety
    ///
    /// As `poll_slot`.
    #[inline(never)]
    unsafe fn poll_slot_node(
        &self,
        mut node: Pin<&mut Option<WaitNode<Grant<T>>>>,
        cx: &mut Context<'_>,
        fast: &mut Option<T>,
    ) -> Poll<Slot<T>> {
        let st = if let Some(n) = node.as_mut().as_pin_mut() {
            if n.as_ref().take_notified() {
                return Poll::Ready(self.finish(n, fast));
            }
            // Recheck under the lock: a wake may land between any two
            // unlocked looks at the state.
            let mut st = self.state.lock();
            if n.as_ref().take_notified() {
                drop(st);
                return Poll::Ready(self.finish(n, fast));
            }
            if n.is_queued() {
                // SAFETY: queued in this list; lock held.
                let stale = unsafe { st.senders.update_waker(n.as_ref(), cx) };
                stale.drop_after(st);
                return Poll::Pending;
            }
            // Idle (a spent node): wait afresh, lock held.
            st
        } else {
            self.state.lock()
        };
        // SAFETY: the caller's contract.
        unsafe { self.wait_slot(st, node, cx, fast) }
    }

    /// The rest of `poll_slot` under the lock, for a node that is not
    /// queued: closed, a free slot (with a receiver to hand the item to),
    /// or queue the node (built now if need be), carrying the item.
    ///
    /// # Safety
    ///
    /// As `poll_slot`; the node, if any, is neither queued nor notified.
    #[cold]
    #[inline(never)]
    unsafe fn wait_slot(
        &self,
        mut st: LockGuard<'_, State<T>>,
        mut node: Pin<&mut Option<WaitNode<Grant<T>>>>,
        cx: &mut Context<'_>,
        fast: &mut Option<T>,
    ) -> Poll<Slot<T>> {
        if st.closed {
            return Poll::Ready(Slot::Closed(fast.take()));
        }
        if st.free > 0 {
            // `free > 0` implies nobody waits: no barging.
            st.free -= 1;
            return Poll::Ready(match fast.take() {
                None => Slot::Reserved,
                Some(v) => {
                    self.push_and_wake(st, v);
                    Slot::Sent
                }
            });
        }
        let payload = match fast.take() {
            Some(v) => Grant::Carrying(v),
            None => Grant::Waiting,
        };
        let n = if let Some(n) = node.as_mut().as_pin_mut() {
            // SAFETY: idle (checked above under this lock): the payload is
            // ours.
            *unsafe { st.senders.value_of(n.as_ref()) } = payload;
            n
        } else {
            node.set(Some(WaitNode::new(payload)));
            node.as_mut().as_pin_mut().expect("just written")
        };
        // SAFETY: the node is in no list; it only goes into this one, under
        // this lock, and the owner removes it (`cancel_slot`) before it is
        // dropped (caller's contract).
        unsafe { st.senders.push_back(n.as_ref(), cx) };
        Poll::Pending
    }

    /// The outcome of a notified (consumed) node.
    fn finish(&self, node: Pin<&mut WaitNode<Grant<T>>>, fast: &mut Option<T>) -> Slot<T> {
        let grant = node
            .value_mut()
            .map_or(Grant::Waiting, |g| std::mem::replace(g, Grant::Waiting));
        match grant {
            Grant::Sent => Slot::Sent,
            Grant::Granted => match fast.take() {
                None => Slot::Reserved,
                Some(v) => {
                    self.push_reserved(v);
                    Slot::Sent
                }
            },
            Grant::Closed(v) => Slot::Closed(v.or_else(|| fast.take())),
            Grant::Waiting | Grant::Carrying(_) => unreachable!("a sender notified with nothing"),
        }
    }

    /// Cancellation of a waiting sender (its future's `Drop`): a granted
    /// slot goes back to the next sender or the pool; a carried item that
    /// was already pushed stays sent; an item still carried is dropped
    /// with the node (after the lock), never sent.
    ///
    /// # Safety
    ///
    /// `node` is queued in this channel's list or in none.
    #[inline(never)]
    pub(crate) unsafe fn cancel_slot(&self, node: Pin<&WaitNode<Grant<T>>>) {
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut st = self.state.lock();
        // SAFETY: the node can only be in this channel's list; lock held.
        match unsafe { st.senders.remove(node) } {
            Removed::Notified => {
                // SAFETY: no longer queued: the payload is ours.
                let grant = std::mem::replace(unsafe { st.senders.value_of(node) }, Grant::Waiting);
                drop(st);
                if let Grant::Granted = grant {
                    self.release_slots(1);
                }
                // `Sent`: the item is in the channel (the send happened);
                // `Closed`: its item, if any, drops here, after the lock.
            }
            // One slot per waiter: nothing was partly handed over, and a
            // head leaving makes nobody behind it servable (free is 0).
            // A carried item stays in the node and drops with the future.
            Removed::Unlinked { .. } | Removed::NotQueued => {}
        }
    }

    // ----- receiving -----

    /// Pops one item; Ready(None) means the channel is finished.
    #[inline(always)]
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        std::task::ready!(corral_runtime::coop::poll_consume_budget(cx));
        let mut st = self.state.lock();
        if let Some(v) = st.queue.pop_front() {
            self.after_pop(st, 1);
            return Poll::Ready(Some(v));
        }
        if self.finished(&st) {
            return Poll::Ready(None);
        }
        Self::wait_rx(st, cx)
    }

    /// As `poll_recv`, moving up to `limit` items into `buf`; Ready(0) only
    /// when the channel is finished (or `limit` is 0).
    pub(crate) fn poll_recv_many(&self, cx: &mut Context<'_>, buf: &mut Vec<T>, limit: usize) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        std::task::ready!(corral_runtime::coop::poll_consume_budget(cx));
        let mut st = self.state.lock();
        let n = st.queue.len().min(limit);
        if n > 0 {
            st.queue.pop_into(buf, n);
            self.after_pop(st, n);
            return Poll::Ready(n);
        }
        if self.finished(&st) {
            return Poll::Ready(0);
        }
        Self::wait_rx(st, cx)
    }

    /// Records the mpsc receiver's waker (unless it is the one already
    /// there), then releases the lock and drops the replaced one.
    #[inline]
    fn wait_rx<R>(mut st: LockGuard<'_, State<T>>, cx: &Context<'_>) -> Poll<R> {
        let old = match &st.rx_waker {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => st.rx_waker.replace(cx.waker().clone()),
        };
        drop(st);
        drop(old);
        Poll::Pending
    }

    /// Pops one item without waiting.
    pub(crate) fn try_recv(&self) -> Result<T, bool> {
        let mut st = self.state.lock();
        if let Some(v) = st.queue.pop_front() {
            self.after_pop(st, 1);
            return Ok(v);
        }
        Err(self.finished(&st))
    }

    /// After `n` items left the queue: their slots go to waiting senders
    /// first, then to the pool (bounded channels).
    #[inline]
    fn after_pop(&self, mut st: LockGuard<'_, State<T>>, n: usize) {
        if self.max.is_none() {
            return;
        }
        st.free += n;
        if st.senders.is_empty() || st.closed {
            return;
        }
        self.dispatch_after(st);
    }

    /// True when no item can come any more: the queue is empty and every
    /// sender is gone, or the channel is closed and no permit is
    /// outstanding.
    fn finished(&self, st: &State<T>) -> bool {
        // An item handed to a receiver may still come back (cancelled).
        if !st.queue.is_empty() || st.handed > 0 {
            return false;
        }
        if st.tx_gone {
            return true;
        }
        // Slots reserved before the close but not yet filled may still
        // deliver.
        st.closed && self.reserved(st) == 0
    }

    fn reserved(&self, st: &State<T>) -> usize {
        self.max.map_or(0, |m| m - st.free - st.queue.len())
    }

    /// Closes from the receiver's side: later sends fail, waiting senders
    /// wake with `Closed`; buffered items stay. With `drop_items` (the
    /// receiver is gone) the items are dropped too, after the lock.
    pub(crate) fn close(&self, drop_items: bool) -> bool {
        let mut items = BlockDeque::new();
        let mut was_open = None;
        WakeBatch::wake_in_chunks(
            || self.state.lock(),
            |st, batch| {
                was_open.get_or_insert(!st.closed);
                st.closed = true;
                if drop_items {
                    st.rx_dropped = true;
                    let n = st.queue.len();
                    if self.max.is_some() {
                        st.free += n;
                    }
                    if n > 0 {
                        // Once: nothing is queued after `rx_dropped`.
                        items = std::mem::take(&mut st.queue);
                    }
                }
                for g in st.senders.iter_mut() {
                    // A send's carried item comes back in `Closed`.
                    *g = match std::mem::replace(g, Grant::Waiting) {
                        Grant::Carrying(v) => Grant::Closed(Some(v)),
                        _ => Grant::Closed(None),
                    };
                }
                st.senders.wake_all(batch) || st.closed_watchers.wake_all(batch)
            },
        );
        drop(items);
        self.wake_ended();
        was_open == Some(true)
    }

    /// A future that waits until the receiver closes (`Sender::closed`).
    pub(crate) fn closed(&self) -> Closed<'_, T> {
        Closed {
            chan: self,
            node: WaitNode::new(()),
        }
    }
}

/// The future of the mpsc `recv`: [`Chan::poll_recv`], inlined into the
/// caller's state machine (a `poll_fn` wrapper stayed a call).
pub(crate) struct RecvFuture<'a, T> {
    chan: &'a Chan<T>,
}

impl<'a, T> RecvFuture<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>) -> Self {
        RecvFuture { chan }
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan.poll_recv(cx)
    }
}

/// The future of `send` (mpsc and mpmc): the slot future with its outcome
/// as a `Result` (the value back if the channel closed), returned by
/// `send` itself rather than wrapped in an `async fn`, whose state machine
/// stayed a call where several tasks send.
pub(crate) struct SendFuture<'a, T>(SlotFuture<'a, T>);

impl<'a, T> SendFuture<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, value: T) -> Self {
        SendFuture(SlotFuture::new(chan, Some(value)))
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        // SAFETY: the slot future is structurally pinned (never moved out).
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        if inner.chan.max.is_none() {
            // An unbounded (mpmc) channel: never waits.
            // SAFETY: `value` is not pinned.
            let this = unsafe { inner.get_unchecked_mut() };
            let v = this.value.take().expect("`send` polled after it completed");
            return Poll::Ready(this.chan.send_unbounded(v).map_err(SendError));
        }
        match std::task::ready!(inner.poll(cx)) {
            Slot::Sent => Poll::Ready(Ok(())),
            Slot::Closed(v) => Poll::Ready(Err(SendError(v.expect("the value comes back on close")))),
            Slot::Reserved => unreachable!("a send with a value pushes it"),
        }
    }
}

/// The waiter future of `send` and `reserve`: a node pinned inside it,
/// and (for `send`) the item, pushed in the same lock as the slot is taken
/// when one is free.
pub(crate) struct SlotFuture<'a, T> {
    chan: &'a Chan<T>,
    value: Option<T>,
    /// Built in place the first time the future must wait (so the fast
    /// path neither builds nor tears down a node); structurally pinned.
    /// `ManuallyDrop` so that a future that never waited drops inline
    /// (`Drop` drops it, after cancelling it).
    node: ManuallyDrop<Option<WaitNode<Grant<T>>>>,
}

impl<'a, T> SlotFuture<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, value: Option<T>) -> Self {
        SlotFuture {
            chan,
            value,
            node: ManuallyDrop::new(None),
        }
    }
}

impl<T> Future for SlotFuture<'_, T> {
    type Output = Slot<T>;

    // Inline (the slow paths are out of line): a call here costs a
    // quarter of a send's instructions.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Slot<T>> {
        // SAFETY: `node` is structurally pinned (written in place once,
        // never moved out of the future); `value` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let node = unsafe { Pin::new_unchecked(&mut *this.node) };
        // SAFETY: the node only queues in this channel's list, and `Drop`
        // below cancels it before it is freed.
        unsafe { this.chan.poll_slot(node, cx, &mut this.value) }
    }
}

impl<T> Drop for SlotFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(node) = &*self.node {
            // SAFETY: `self` is pinned (drop runs in place); the reference
            // does not move the node, which only ever queues in this
            // channel.
            unsafe { self.chan.cancel_slot(Pin::new_unchecked(node)) };
            // SAFETY: dropped once, here (the field is never used after),
            // in place; cancelled above, so in no list.
            unsafe { ManuallyDrop::drop(&mut self.node) };
        }
    }
}

/// Why a blocking wait gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blocked {
    Closed,
    Timeout,
}

// ----- the receivers' wait list: mpmc receivers and blocking threads -----
impl<T> Chan<T> {
    /// The poll of a receiver waiting in `receivers` (an mpmc `recv`):
    /// Ready(Some) with an item (popped, or handed over), Ready(None) once
    /// the channel has ended.
    ///
    /// # Safety
    ///
    /// `node` only ever queues in this channel's list, and the owner calls
    /// [`cancel_recv`](Self::cancel_recv) before dropping it.
    #[inline(never)]
    pub(crate) unsafe fn poll_recv_node(
        &self,
        node: Pin<&mut WaitNode<Recv<T>>>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        if node.as_ref().take_notified() {
            return Poll::Ready(self.take_handed(node));
        }
        if !node.is_queued() {
            std::task::ready!(corral_runtime::coop::poll_consume_budget(cx));
        }
        let mut st = self.state.lock();
        if node.as_ref().take_notified() {
            drop(st);
            return Poll::Ready(self.take_handed(node));
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { st.receivers.update_waker(node.as_ref(), cx) };
            stale.drop_after(st);
            return Poll::Pending;
        }
        if let Some(v) = st.queue.pop_front() {
            self.after_pop(st, 1);
            return Poll::Ready(Some(v));
        }
        if self.finished(&st) {
            return Poll::Ready(None);
        }
        // SAFETY: the node is in no list; it only goes into this one, under
        // this lock, and the owner removes it (`cancel_recv`) before it is
        // dropped (caller's contract).
        unsafe { st.receivers.push_back(node.as_ref(), cx) };
        Poll::Pending
    }

    /// As [`poll_recv_node`](Self::poll_recv_node), with the node built in
    /// place only when the receive must wait: a receive that finds an item
    /// (or the end) never builds one.
    ///
    /// # Safety
    ///
    /// As `poll_recv_node`, for the node once it is `Some`.
    #[inline(always)]
    pub(crate) unsafe fn poll_recv_lazy(
        &self,
        mut node: Pin<&mut Option<WaitNode<Recv<T>>>>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        if let Some(n) = node.as_mut().as_pin_mut() {
            // SAFETY: the caller's contract.
            return unsafe { self.poll_recv_node(n, cx) };
        }
        std::task::ready!(corral_runtime::coop::poll_consume_budget(cx));
        let mut st = self.state.lock();
        if let Some(v) = st.queue.pop_front() {
            self.after_pop(st, 1);
            return Poll::Ready(Some(v));
        }
        // SAFETY: the caller's contract; the node is `None`.
        unsafe { self.wait_recv(st, node, cx) }
    }

    /// The empty-queue half of `poll_recv_lazy`: the end, or queue a new
    /// node.
    ///
    /// # Safety
    ///
    /// As `poll_recv_node`, for the node once it is `Some`; it is `None`.
    #[cold]
    #[inline(never)]
    unsafe fn wait_recv(
        &self,
        mut st: LockGuard<'_, State<T>>,
        mut node: Pin<&mut Option<WaitNode<Recv<T>>>>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<T>> {
        if self.finished(&st) {
            return Poll::Ready(None);
        }
        node.set(Some(WaitNode::new(Recv::Waiting)));
        let n = node.as_mut().as_pin_mut().expect("just written");
        // SAFETY: the node is new, in no list; it only goes into this one,
        // under this lock, and the owner removes it (`cancel_recv`) before
        // it is dropped (caller's contract).
        unsafe { st.receivers.push_back(n.as_ref(), cx) };
        Poll::Pending
    }

    /// What a notified receiver node was handed: the item (its slot of a
    /// bounded channel is released now) or the end.
    fn take_handed(&self, node: Pin<&mut WaitNode<Recv<T>>>) -> Option<T> {
        let got = node.value_mut().map(|r| std::mem::replace(r, Recv::Waiting));
        match got {
            Some(Recv::Item(v)) => {
                self.release(usize::from(self.max.is_some()), 1);
                Some(v)
            }
            Some(Recv::Ended) => None,
            _ => unreachable!("a receiver notified with nothing"),
        }
    }

    /// Cancellation of a waiting receiver: an item already handed to it
    /// goes to the next waiting receiver, else back to the head of the
    /// queue; nothing is lost.
    ///
    /// # Safety
    ///
    /// `node` is queued in this channel's list or in none.
    #[inline(never)]
    pub(crate) unsafe fn cancel_recv(&self, node: Pin<&WaitNode<Recv<T>>>) {
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut batch = WakeBatch::new();
        let mut st = self.state.lock();
        // SAFETY: the node can only be in this channel's list; lock held.
        match unsafe { st.receivers.remove(node) } {
            Removed::Notified => {
                // SAFETY: no longer queued: the payload is ours.
                let got = std::mem::replace(unsafe { st.receivers.value_of(node) }, Recv::Waiting);
                if let Recv::Item(v) = got {
                    st.handed -= 1;
                    let back = st.give_back(v, self.max, &mut batch);
                    drop(st);
                    drop(back);
                }
            }
            // Nothing was handed over; receivers wait only on an empty
            // queue, so nobody behind it became servable.
            Removed::Unlinked { .. } | Removed::NotQueued => {}
        }
    }

    /// The blocking receive of a plain thread: `Ok(Some)` with an item,
    /// `Ok(None)` once the channel has ended, `Err(Timeout)` at `deadline`
    /// (an item handed over as the timeout fires is returned, never lost).
    #[track_caller]
    pub(crate) fn blocking_recv(&self, deadline: Option<Instant>, what: &str) -> Result<Option<T>, Blocked> {
        assert_may_block(what);
        let mut node = std::pin::pin!(WaitNode::new(Recv::Waiting));
        {
            let mut st = self.state.lock();
            if let Some(v) = st.queue.pop_front() {
                self.after_pop(st, 1);
                return Ok(Some(v));
            }
            if self.finished(&st) {
                return Ok(None);
            }
            // SAFETY: the node is in no list; it only goes into this one,
            // under this lock, and leaves it (woken, or removed below)
            // before this function returns.
            unsafe { st.receivers.push_back_thread(node.as_ref()) };
        }
        if !node.as_ref().park_until(deadline) {
            let mut st = self.state.lock();
            // SAFETY: queued in this list or in none; lock held.
            match unsafe { st.receivers.remove(node.as_ref()) } {
                // The item (or the end) raced the timeout: it is ours.
                Removed::Notified => {}
                Removed::Unlinked { .. } => return Err(Blocked::Timeout),
                Removed::NotQueued => unreachable!("a blocking receiver lost its node"),
            }
        }
        Ok(self.take_handed(node.as_mut()))
    }

    /// The blocking send of a plain thread on a bounded channel: waits in
    /// `senders` for a slot. The value comes back with why it was not sent.
    #[track_caller]
    pub(crate) fn blocking_send(
        &self,
        value: T,
        deadline: Option<Instant>,
        what: &str,
    ) -> Result<(), (Blocked, T)> {
        assert_may_block(what);
        let mut node = std::pin::pin!(WaitNode::new(Grant::Waiting));
        {
            let mut st = self.state.lock();
            if st.closed {
                return Err((Blocked::Closed, value));
            }
            if st.free > 0 {
                // `free > 0` implies nobody waits: no barging.
                st.free -= 1;
                self.push_and_wake(st, value);
                return Ok(());
            }
            // SAFETY: in no list: the payload is ours. The item rides in
            // the node; whoever frees a slot pushes it.
            *unsafe { st.senders.value_of(node.as_ref()) } = Grant::Carrying(value);
            // SAFETY: the node is in no list; it only goes into this one,
            // under this lock, and leaves it (woken, or removed below)
            // before this function returns.
            unsafe { st.senders.push_back_thread(node.as_ref()) };
        }
        let mut timed_out = false;
        if !node.as_ref().park_until(deadline) {
            let mut st = self.state.lock();
            // SAFETY: queued in this list or in none; lock held.
            match unsafe { st.senders.remove(node.as_ref()) } {
                // The slot (or the close) raced the timeout: act on it.
                Removed::Notified => {}
                Removed::Unlinked { .. } => timed_out = true,
                Removed::NotQueued => unreachable!("a blocking sender lost its node"),
            }
        }
        let grant = node
            .as_mut()
            .value_mut()
            .map(|g| std::mem::replace(g, Grant::Waiting));
        match grant {
            Some(Grant::Sent) => Ok(()),
            Some(Grant::Carrying(v)) if timed_out => Err((Blocked::Timeout, v)),
            Some(Grant::Closed(Some(v))) => Err((Blocked::Closed, v)),
            _ => unreachable!("a blocking sender's item went missing"),
        }
    }
}

/// Why a `try_reserve` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TryErr {
    Full,
    Closed,
}

/// The future of `Sender::closed`: a node (no payload) in
/// `closed_watchers`, woken by `close`. Nothing is handed over, so a
/// cancelled one has nothing to pass on.
pub(crate) struct Closed<'a, T> {
    chan: &'a Chan<T>,
    node: WaitNode<()>,
}

impl<T> std::future::Future for Closed<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `node` is structurally pinned: never moved out.
        let node = unsafe { self.as_ref().map_unchecked(|c| &c.node) };
        if node.take_notified() {
            return Poll::Ready(());
        }
        let mut st = self.chan.state.lock();
        if node.take_notified() || st.closed {
            // A node still queued on a closed channel is being woken by
            // `close` right now (in chunks); `Drop` takes it out.
            return Poll::Ready(());
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { st.closed_watchers.update_waker(node, cx) };
            stale.drop_after(st);
            return Poll::Pending;
        }
        // SAFETY: in no list; only ever this one, under this lock; `Drop`
        // removes it before it is freed.
        unsafe { st.closed_watchers.push_back(node, cx) };
        Poll::Pending
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        // SAFETY: pinned (drop runs in place); taking a reference does not
        // move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        let mut st = self.chan.state.lock();
        // SAFETY: the node can only be in this channel's list; lock held.
        // Whatever `remove` found, nothing was handed over.
        let _ = unsafe { st.closed_watchers.remove(node) };
    }
}
