//! The engine under every combinator: a fixed number of slots, one waker
//! per slot, and a list of the slots that were woken.
//!
//! [`WakeSet`] is the waking half. Its slots live in one shared allocation
//! (`Shared`); the waker of slot `i` is a pointer to that slot, and the
//! allocation's `Arc` count is the wakers' reference count, so handing a
//! child its waker costs nothing and a clone is one increment. Waking slot
//! `i` sets its `queued` flag and, if the flag was clear, pushes `i` onto a
//! lock-free stack (`Shared::head`, linked through `Slot::next`) and wakes
//! the parent task. The parent takes the whole stack with one swap at the
//! start of each poll (a *pass*) and polls only those children, so a
//! gather of 10,000 sleeps costs O(1) per wake, not O(n).
//!
//! A slot's flag is cleared just before its child is polled: a wake during
//! the poll queues it again, for the next pass. Each child is therefore
//! polled at most once per pass, and a child that keeps waking itself (a
//! `yield_now` loop, or any resource future once the task's coop budget
//! is spent) cannot keep the parent spinning. The pass also ends early
//! when a child returns `Pending` and the task's budget is spent: the
//! children not yet polled wait for the next pass, and the parent wakes
//! itself so that it gets one.
//!
//! Not every slot starts on the list: `fresh` is the range of slots still
//! to be polled for the first time (in input order), so building a set of
//! n futures links nothing.
//!
//! [`FutSet`] adds the futures: `Box<[Option<F>]>`, one per slot. The box
//! never reallocates and a future leaves its slot only by being dropped in
//! place, which is what pinning asks; so `FutSet` itself is `Unpin`.
//!
//! This module uses std's `Arc` and atomics directly (not `crate::loom`):
//! loom's `Arc` has no `new_cyclic`, and the protocol (a Treiber push, a
//! swap that takes the whole stack, a flag per slot) is the one
//! `FuturesUnordered` uses.

use futures_util::task::AtomicWaker;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// End of a list.
const NIL: usize = usize::MAX;

struct Shared {
    /// Top of the stack of woken slots, or NIL.
    head: AtomicUsize,
    /// The task that owns the set.
    parent: AtomicWaker,
    slots: Box<[Slot]>,
}

struct Slot {
    /// The allocation this slot is in (set once, by `Arc::new_cyclic`).
    shared: *const Shared,
    /// Set while the slot is on a list (shared or the owner's local one).
    queued: AtomicBool,
    /// The next slot on the list; owned by whoever holds the list.
    next: AtomicUsize,
}

// SAFETY: `shared` points to the `Shared` this slot is part of, which is
// Sync (atomics and an AtomicWaker) and outlives every use of the pointer
// (wakers hold a count on its Arc); the other fields are atomics.
unsafe impl Send for Slot {}
// SAFETY: as above.
unsafe impl Sync for Slot {}

impl Shared {
    fn index_of(&self, slot: &Slot) -> usize {
        // SAFETY: `slot` is an element of `self.slots` (wakers are only
        // made from slots of this allocation), so both pointers are into
        // the same allocation and the offset is a whole number of slots.
        let off = unsafe { (slot as *const Slot).offset_from(self.slots.as_ptr()) };
        off as usize
    }

    /// Pushes slot `i` (whose flag the caller just set) onto the shared stack.
    fn push(&self, i: usize) {
        let slot = &self.slots[i];
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            slot.next.store(head, Ordering::Relaxed);
            match self
                .head
                .compare_exchange_weak(head, i, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }
}

impl Slot {
    fn wake(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            // SAFETY: the caller holds a waker, hence a count on the Arc.
            let shared = unsafe { &*self.shared };
            shared.push(shared.index_of(self));
            shared.parent.wake();
        }
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(p: *const ()) -> RawWaker {
    // SAFETY: `p` is a slot of a live Shared (the waker being cloned holds
    // a count on it, or the owning set does for a borrowed one).
    let slot = unsafe { &*(p as *const Slot) };
    // SAFETY: `slot.shared` came from the Arc that owns the slot and is alive.
    unsafe { Arc::increment_strong_count(slot.shared) };
    RawWaker::new(p, &VTABLE)
}

unsafe fn waker_wake(p: *const ()) {
    // SAFETY: the waker being consumed owns a count; wake then drop it.
    unsafe {
        waker_wake_by_ref(p);
        waker_drop(p);
    }
}

unsafe fn waker_wake_by_ref(p: *const ()) {
    // SAFETY: see waker_clone.
    let slot = unsafe { &*(p as *const Slot) };
    slot.wake();
}

unsafe fn waker_drop(p: *const ()) {
    // SAFETY: see waker_clone.
    let slot = unsafe { &*(p as *const Slot) };
    // SAFETY: an owned waker (made by waker_clone) holds one count; this
    // gives it back. Borrowed wakers are ManuallyDrop and never get here.
    unsafe { Arc::decrement_strong_count(slot.shared) };
}

/// Per-slot wakers and the list of woken slots; see the module docs.
pub(crate) struct WakeSet {
    shared: Arc<Shared>,
    /// Slots not yet polled even once, in order.
    fresh: std::ops::Range<usize>,
    /// Woken slots taken from the shared stack, not yet polled.
    local: usize,
}

impl WakeSet {
    /// `n` slots; if `fresh`, all of them are to be polled on the first pass.
    pub(crate) fn new(n: usize, fresh: bool) -> WakeSet {
        let shared = Arc::new_cyclic(|weak| {
            let me = weak.as_ptr();
            Shared {
                head: AtomicUsize::new(NIL),
                parent: AtomicWaker::new(),
                slots: (0..n)
                    .map(|_| Slot {
                        shared: me,
                        queued: AtomicBool::new(fresh),
                        next: AtomicUsize::new(NIL),
                    })
                    .collect(),
            }
        });
        WakeSet {
            shared,
            fresh: if fresh { 0..n } else { 0..0 },
            local: NIL,
        }
    }

    /// Starts a pass: registers the parent's waker, then takes every slot
    /// woken since the last pass.
    pub(crate) fn begin(&mut self, cx: &Context<'_>) {
        self.shared.parent.register(cx.waker());
        let taken = self.shared.head.swap(NIL, Ordering::Acquire);
        if taken == NIL {
            return;
        }
        if self.local == NIL {
            self.local = taken;
        } else {
            // Left over from a pass that ended early: append it behind the new ones.
            let mut tail = taken;
            loop {
                let next = self.shared.slots[tail].next.load(Ordering::Relaxed);
                if next == NIL {
                    break;
                }
                tail = next;
            }
            self.shared.slots[tail].next.store(self.local, Ordering::Relaxed);
            self.local = taken;
        }
    }

    /// The next slot to poll in this pass, its flag cleared.
    pub(crate) fn next_ready(&mut self) -> Option<usize> {
        if let Some(i) = self.fresh.next() {
            self.shared.slots[i].queued.store(false, Ordering::Release);
            return Some(i);
        }
        let i = self.local;
        if i == NIL {
            return None;
        }
        let slot = &self.shared.slots[i];
        // Read `next` before clearing the flag: once it is clear, a wake
        // may push the slot again and overwrite `next`.
        self.local = slot.next.load(Ordering::Relaxed);
        slot.queued.swap(false, Ordering::AcqRel);
        Some(i)
    }

    /// True if slots remain to be polled in this pass.
    pub(crate) fn has_local(&self) -> bool {
        !self.fresh.is_empty() || self.local != NIL
    }

    /// Queues slot `i` to be polled in this pass (a new future in it).
    pub(crate) fn queue_local(&mut self, i: usize) {
        let slot = &self.shared.slots[i];
        if !slot.queued.swap(true, Ordering::AcqRel) {
            slot.next.store(self.local, Ordering::Relaxed);
            self.local = i;
        }
        // Otherwise it is on a list already and will be polled from there.
    }

    /// The waker of slot `i`, borrowed: no count is taken, and it must not
    /// outlive `self` (clones of it own a count and may).
    pub(crate) fn waker(&self, i: usize) -> ManuallyDrop<Waker> {
        let p = &self.shared.slots[i] as *const Slot as *const ();
        // SAFETY: the vtable's contract holds for `p` (a slot of a live
        // Shared); ManuallyDrop keeps the borrowed waker from giving back a
        // count it never took, and `self` keeps the Arc alive meanwhile.
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(p, &VTABLE)) })
    }
}

/// Futures in slots, polled only when woken; see the module docs.
pub(crate) struct FutSet<F> {
    wake: WakeSet,
    futs: Box<[Option<F>]>,
    live: usize,
}

impl<F: Future> FutSet<F> {
    /// A set holding `futs`, polled first in order.
    pub(crate) fn from_vec(futs: Vec<F>) -> FutSet<F> {
        let n = futs.len();
        FutSet {
            wake: WakeSet::new(n, true),
            futs: futs.into_iter().map(Some).collect(),
            live: n,
        }
    }

    /// A set of `n` empty slots, filled with [`insert`](Self::insert).
    pub(crate) fn with_slots(n: usize) -> FutSet<F> {
        FutSet {
            wake: WakeSet::new(n, false),
            futs: (0..n).map(|_| None).collect(),
            live: 0,
        }
    }

    /// Futures still running.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Puts `fut` in the empty slot `i`, to be polled in this pass.
    pub(crate) fn insert(&mut self, i: usize, fut: F) {
        debug_assert!(self.futs[i].is_none());
        self.futs[i] = Some(fut);
        self.live += 1;
        self.wake.queue_local(i);
    }

    /// Starts a pass; call once at the top of the owner's `poll`.
    pub(crate) fn begin(&mut self, cx: &Context<'_>) {
        self.wake.begin(cx);
    }

    /// Polls woken futures until one completes (its slot and output),
    /// none is left (`None`), or the pass is over (`Pending`; the owner
    /// is woken when there is more to do).
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, F::Output)>> {
        if self.live == 0 {
            return Poll::Ready(None);
        }
        while let Some(i) = self.wake.next_ready() {
            let Some(fut) = self.futs[i].as_mut() else {
                continue; // a late wake of a finished slot
            };
            // SAFETY: the future sits in a boxed slice that never
            // reallocates, and leaves it only by being dropped in place
            // (the slot set to None, or the box dropped): it never moves.
            let fut = unsafe { Pin::new_unchecked(fut) };
            let waker = self.wake.waker(i);
            match fut.poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(out) => {
                    self.futs[i] = None;
                    self.live -= 1;
                    return Poll::Ready(Some((i, out)));
                }
                Poll::Pending => {
                    if !crate::coop::has_budget_remaining() && self.wake.has_local() {
                        // The rest would only give way too: let other tasks run.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
        }
        Poll::Pending
    }
}
