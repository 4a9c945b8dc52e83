//! The shared machinery every corral-sync primitive that hands out permits
//! stands on: a fair, counting [`RawSemaphore`] over
//! [`corral_runtime::wait`], its waiter future [`Acquire`], the blocking
//! path for plain threads, the holder records, and the Mutex's own
//! one-word engine [`RawMutex`].
//!
//! # State, and who may touch it
//!
//! A semaphore is two words: the free permits (at most [`MAX_PERMITS`], 61
//! bits) with `closed` in the top bit, and a [`SiteOrBlock`] word that
//! holds the creation site (a `&'static Location`, tagged in its low bit)
//! until the first use and from then on a pointer to a [`Block`]: one
//! short lock guarding the [`WaitList`] of waiters, the holder records and
//! the head waiter's partial handoff, beside the bound, the site and a
//! word for the primitive built on it (`ext`: RwLock's extra reader
//! slots). Every
//! operation that changes the state (acquire, release, close; a
//! `BoundedSemaphore` at creation, for its bound) takes the lock, so the
//! first one installs the block (one CAS over the tagged site; a contender
//! that loses the race frees its own and uses the winner's; loom model
//! `semaphore_block_installed_once`), and it is freed with the semaphore.
//! The permit word is written only under the lock ([`State`] keeps a
//! working copy and stores it back before the lock is released); readers
//! without the lock (`available`, `is_closed`, and the statistics of a
//! semaphore without a block: nobody waiting, no records) see a value some
//! holder of the lock left. A fresh `Semaphore` is 16 bytes and allocates
//! nothing. Each waiter's payload is a [`Request`]: how many permits it
//! needs, whether the semaphore closed on it, and who waits (then the
//! holder record's slot, once served). The payload belongs to the list's
//! lock while the node is queued, to the waiter otherwise (see the wait
//! hook's protocol table).
//!
//! # Invariant: no barging
//!
//! `permits > 0` only while nobody waits (or after `close`). Every release
//! goes through [`State::dispatch`], which hands permits to the head of the
//! queue first: a head that can be served in full is assigned what it needs
//! and woken (`wake_front`, so it runs next on the waking worker); one that
//! cannot is assigned what there is (a *partial handoff*, kept in the
//! state, not the request: only the head can hold one) and stays at the
//! head, so smaller requests behind it never overtake it. Because free
//! permits never coexist with waiters, the fast paths (`poll` before
//! queueing, `try_acquire`) only take permits when nobody waits, and a
//! release is a direct handoff.
//!
//! # Cancellation (the handoff-or-pass-on rule)
//!
//! An [`Acquire`] dropped while waiting locks the state and calls
//! [`WaitList::remove`]:
//!
//! - `Removed::Notified`: it was handed all it asked for; the permits go
//!   back through `dispatch` (to the next waiter, or the pool).
//! - `Removed::Unlinked { was_head }`: no wake reached it, but as head it
//!   may hold a partial handoff; that goes back, and if it was the head the
//!   waiters behind it are dispatched again (a small request behind a
//!   cancelled large one proceeds).
//! - `Removed::NotQueued`: nothing to do.
//!
//! A blocking acquire that times out does the same, except that a
//! `Notified` race is kept (reported as success).
//!
//! # Closing
//!
//! `close` sets `closed`, marks every waiter closed, takes back the head's
//! partial handoff and wakes them all (in chunks of
//! [`WakeBatch::CAPACITY`], releasing the lock between chunks). From then
//! on `dispatch` hands nothing out, so a release that runs between two
//! chunks leaves its permits in the pool instead of giving them to a
//! waiter that will return `Err(Closed)`.
//!
//! # Holder records (opt-in)
//!
//! For the task dump and deadlock detection of a later issue ("task 12
//! waits on the Semaphore created at src/main.rs:10, held by task 7"),
//! a primitive can ask for one record per outstanding grant: the task the
//! permits were granted to (`None`: a thread, or a future outside corral)
//! and how many. The records live in the block, in a slab (`Holders`)
//! whose freed slots the next grant reuses; a grant or a release costs a
//! few stores under the lock it takes anyway. Waiters say who waits in
//! their [`Request`] (`task`), so a dump can list both sides.
//!
//! To opt in, use the `_recorded` methods instead of their plain twins,
//! and keep the [`Slot`] they return with the permits:
//!
//! | plain                  | recorded                                  |
//! |------------------------|-------------------------------------------|
//! | `acquire(n, false)`    | `acquire_recorded(n)` -> `Ok(Slot)`       |
//! | (none)                 | `try_acquire_recorded(n)` -> `Ok(Slot)`  |
//! | `blocking_acquire(.., false)` | `blocking_acquire_recorded(..)` -> `Ok(Slot)` |
//! | `release(n)`           | `release_recorded(slot, n)` (`n = 0`: a forgotten permit, record only) |
//!
//! and read them with `holders()`. A grant handed to a waiter records the
//! waiter's task (the record is made in `dispatch`, when the permits are
//! handed over); a waiter cancelled after that drops the record with the
//! permits it gives back. A permit that moves to another task (an owned
//! permit sent elsewhere) still names the task that acquired it: the
//! record is of the acquisition, not of whoever holds the value now.
//! Semaphore (and so BoundedSemaphore) opts in for every grant. RwLock
//! opts in for every grant through the semaphore: its readers use the
//! `_recorded` methods (and `State::try_take_recorded` under a lock it
//! holds); its writers use the `record` flag of the plain `acquire` and
//! `blocking_acquire` (and `State::take_held`), which return no [`Slot`]:
//! a writer holds every permit, so its record is the only one,
//! `release_then` with `all` drops it without a slot, and
//! `downgrade_recorded` turns it into a one-permit record of the same
//! task. `snapshot_holders()` reads the records with the counts.
//!
//! # RawMutex: the Mutex's engine
//!
//! A Mutex is a one-permit semaphore in semantics, but has its own engine
//! ([`RawMutex`]) for size and speed: an atomic word
//! `holder << 3 | HANDED | WAITERS | LOCKED` beside one [`SiteOrBlock`] word (24
//! bytes for a `Mutex<u64>` in all, and no lock taken on the uncontended
//! path).
//!
//! - The second word holds the creation site (a `&'static Location`
//!   tagged in its low bit) until the first contention, and from then on
//!   the wait block (the list, its lock and the site, 32 bytes): whoever
//!   first needs it (a locker that has to queue) allocates one and
//!   installs it with one CAS over the tagged site; a contender that
//!   loses that race frees its own and uses the winner's. It stays until
//!   the mutex is dropped. The uncontended paths (fast lock, fast unlock,
//!   `try_lock`) touch only the lock word; statistics read a missing
//!   block as nobody waiting, and the site from the tag or the block. The
//!   installing CAS is Release and every load of the pointer Acquire, so
//!   a block is initialised before anyone locks it or reads its site.
//! - Lock: one CAS from 0 (free, nobody waits) to `held_by(me)`, which
//!   records the holder's task id in the same store. Otherwise, under the
//!   list's lock: CAS again if it became 0, or set WAITERS and queue.
//! - Adaptive spin (`spin_while_holder_runs`, from the cold `poll_slow`,
//!   before the list's lock): a fresh locker that finds the word held,
//!   without WAITERS, by a task that another worker is polling right now
//!   (`corral_runtime::wait::is_running_on_another_worker`, from the
//!   stall monitor's poll record) re-reads the word, pausing longer
//!   between reads each time (`crate::spin`: each read takes the line
//!   from the holder's core), and CASes it from 0 once free. It
//!   gives up and queues when the holder is not running (awaiting,
//!   queued to run, or no corral task: tag 0), WAITERS shows, or after
//!   `SPIN_FOR` (the clock is read every 8th re-read only). It takes only
//!   a word that is 0, which means nobody waits, so it overtakes no
//!   waiter. Off a worker of a multi-worker runtime the query is false
//!   at once; under loom the spin is compiled out. Why: see
//!   `docs/performance.md` (the `mutex_8x10k` row); in short, a locker
//!   that queues behind a running holder starts a convoy that FIFO
//!   handoff keeps alive.
//! - Giving way (`poll_lock_slow`, after the spin): a fresh locker that
//!   finds HANDED (the holder got the lock by handoff, so it was queued
//!   and now waits to run, most often in this worker's LIFO slot right
//!   behind us) yields its turn (wakes itself, returns `Pending`) instead
//!   of queueing, at most `YIELDS` times, then queues. Why: a convoy of
//!   critical sections without an `.await` (every task queued; each
//!   unlock hands on, and the unlocker, locking again, queues behind the
//!   next) costs a handoff and a task switch per lock (about 600
//!   instructions) for as long as the tasks run; lockers that give way
//!   let the queue drain, and the last handed holder finds it empty and
//!   keeps locking from 0 until its cooperative budget runs out. Like the
//!   spin it only ever takes a word of 0, so it overtakes no waiter.
//!   Whether it pays is kept per mutex in the wait block's `yield_score`
//!   (Relaxed, approximate): up one for each locker whose turns ended in
//!   the lock, down `YIELD_MISS` for each that had to queue anyway
//!   (holders that await while holding), back up one for each locker that
//!   queues without trying while it is negative; lockers give way only
//!   while it is not negative. Under loom it is compiled out, as the spin.
//! - Unlock: one CAS from the word we hold (without WAITERS) to 0. If
//!   WAITERS is set: under the list's lock, hand the lock straight to the
//!   first waiter (the word names it and sets HANDED, WAITERS stays if
//!   more wait) and wake it onto this worker's run queue, or free it if
//!   the waiters left.
//! - No barging: WAITERS is set (under the list's lock) before a waiter
//!   queues and cleared only when the list is empty, and a lock with
//!   waiters is handed over, never freed; so the word is 0 only when
//!   nobody waits, and the fast path and `try_lock` cannot overtake.
//! - Cancellation: a waiter dropped after the handoff passes the lock on
//!   (`hand_off`); one dropped while queued leaves, clearing WAITERS if it
//!   was the last. A blocking waiter whose timeout races the handoff keeps
//!   the lock.
//! - Ordering: the unlock's CAS is Release and the lock's Acquire; a
//!   handoff is published by the wake's Release (the waiter's
//!   `take_notified` is Acquire). The loom models check this with the
//!   data in a loom cell.
use crate::error::{AcquireError, BlockingAcquireError, TryAcquireError};
use crate::loom::{AtomicI8, AtomicPtr, AtomicU64, AtomicUsize, Lock, LockGuard, Ordering};
#[cfg(not(loom))]
use crate::spin;
use corral_runtime::coop;
use corral_runtime::task::{self, Id};
#[cfg(not(loom))]
use corral_runtime::wait::is_running_on_another_worker;
use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};
use std::time::Instant;

// ---------------------------------------------------------------------------
// SiteOrBlock: the creation site and the lazily installed block, one word.
// ---------------------------------------------------------------------------

/// A block that a [`SiteOrBlock`] installs: it carries the creation site
/// the word held before it.
pub(crate) trait SiteBlock {
    /// The creation site it took over from the word.
    fn site(&self) -> &'static Location<'static>;
}

/// The low bit of a [`SiteOrBlock`] word: set, the rest is the creation
/// site (no block yet); clear, the word is the block.
const SITE_TAG: usize = 1;

// A `Location` holds a `&str`, so it is pointer-aligned and the tag bit of
// its address is free (as it is in a `Box`ed block's).
const _: () = assert!(std::mem::align_of::<Location<'static>>() > SITE_TAG);

/// One word holding either the creation site (a `&'static Location`
/// tagged in its low bit: no block yet) or the pointer to a block
/// allocated on first need, which carries the site from then on. The
/// block is installed with one compare-exchange on the tagged site (a
/// contender that loses the race frees its own block and uses the
/// winner's) and freed with the word. The installing CAS is Release and
/// every load that may dereference the block is Acquire, so a block is
/// initialised before anyone uses it.
pub(crate) struct SiteOrBlock<B: SiteBlock> {
    word: AtomicPtr<B>,
}

impl<B: SiteBlock> SiteOrBlock<B> {
    /// No block yet: the word is the tagged site.
    pub(crate) fn new(site: &'static Location<'static>) -> Self {
        let tagged = std::ptr::from_ref(site)
            .cast_mut()
            .cast::<B>()
            .map_addr(|a| a | SITE_TAG);
        SiteOrBlock {
            word: AtomicPtr::new(tagged),
        }
    }

    /// Installed from the start (a block the owner needs at once).
    pub(crate) fn with_block(block: Box<B>) -> Self {
        SiteOrBlock {
            word: AtomicPtr::new(Box::into_raw(block)),
        }
    }

    /// The block, if installed.
    #[inline]
    pub(crate) fn get(&self) -> Option<&B> {
        // Acquire: pairs with the installing CAS (Release).
        let p = self.word.load(Ordering::Acquire);
        if p.addr() & SITE_TAG != 0 {
            return None;
        }
        // SAFETY: an untagged word is a block from `Box::into_raw` (in
        // `with_block` or `install`), freed only in `Drop`, which cannot
        // run while `&self` is borrowed.
        Some(unsafe { &*p })
    }

    /// The block, installed first (made by `make` from the site) if this
    /// is its first use.
    #[inline]
    pub(crate) fn get_or_install(&self, make: impl FnOnce(&'static Location<'static>) -> B) -> &B {
        match self.get() {
            Some(b) => b,
            None => self.install(make),
        }
    }

    #[cold]
    #[inline(never)]
    fn install(&self, make: impl FnOnce(&'static Location<'static>) -> B) -> &B {
        let tagged = self.word.load(Ordering::Acquire);
        if tagged.addr() & SITE_TAG == 0 {
            // SAFETY: a block (installed since `get`), as in `get`.
            return unsafe { &*tagged };
        }
        let new = Box::into_raw(Box::new(make(site_of(tagged))));
        // Release: publishes the block's initialisation; Acquire on
        // failure: we use the winner's block.
        match self
            .word
            .compare_exchange(tagged, new, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: just installed; freed only in `Drop` (see `get`).
            Ok(_) => unsafe { &*new },
            Err(winner) => {
                // SAFETY: `new` never left this function: ours to free.
                drop(unsafe { Box::from_raw(new) });
                // The word leaves the tagged site only for a block, once.
                debug_assert_eq!(winner.addr() & SITE_TAG, 0);
                // SAFETY: the winner's block, as in `get`.
                unsafe { &*winner }
            }
        }
    }

    /// The creation site, from the word or from the block.
    #[inline]
    pub(crate) fn site(&self) -> &'static Location<'static> {
        let p = self.word.load(Ordering::Acquire);
        if p.addr() & SITE_TAG != 0 {
            return site_of(p);
        }
        // SAFETY: a block, as in `get`.
        unsafe { &*p }.site()
    }
}

/// The site in a tagged word.
#[inline]
fn site_of<B>(tagged: *mut B) -> &'static Location<'static> {
    debug_assert_ne!(tagged.addr() & SITE_TAG, 0);
    // SAFETY: a tagged word is a `&'static Location` with its low bit set
    // (`SiteOrBlock::new`); clearing the bit gives the reference back.
    unsafe { &*tagged.map_addr(|a| a & !SITE_TAG).cast::<Location<'static>>() }
}

impl<B: SiteBlock> Drop for SiteOrBlock<B> {
    fn drop(&mut self) {
        // Acquire: as in `get` (with `&mut self` nobody else can be
        // installing, but loom wants the load ordered after the CAS).
        let p = self.word.load(Ordering::Acquire);
        if p.addr() & SITE_TAG == 0 {
            // SAFETY: an untagged word is a block from `Box::into_raw`,
            // freed only here, once: `&mut self` means no reference
            // handed out by `get` is still alive.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// The most permits a semaphore holds, and the largest single request
/// (as tokio's: `usize::MAX >> 3`).
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

/// A waiter's payload: two words (a waiting `acquire()` future is its
/// node, 64 bytes, and a reference). The permits handed to the head so
/// far (a partial handoff) are not here but in the semaphore's state
/// ([`Inner::partial`]): only the head can hold one.
#[derive(Debug)]
pub(crate) struct Request {
    /// Permits asked for (any value: more than [`MAX_PERMITS`] is refused
    /// when polled, with the value asked for in the error).
    needed: usize,
    /// Top bits: [`REQ_CLOSED`] (the semaphore closed before the request
    /// was served) and [`REQ_RECORD`] (keep a holder record when served).
    /// Low bits ([`REQ_LOW`]): while queued, the task that waits
    /// (`Id::as_u64`; 0: a thread, a future outside corral, or an id too
    /// large to pack, which no process reaches), for its holder record;
    /// once served in full, the record's [`Slot`].
    who: u64,
}

/// The semaphore closed on the request (see `Request::who`).
const REQ_CLOSED: u64 = 1 << (u64::BITS - 1);
/// Keep a holder record when served.
const REQ_RECORD: u64 = 1 << (u64::BITS - 2);
/// The task id or slot below the flags.
const REQ_LOW: u64 = REQ_RECORD - 1;

impl Request {
    #[inline]
    fn new(needed: usize, record: bool) -> Self {
        Request {
            needed,
            who: if record { REQ_RECORD } else { 0 },
        }
    }

    /// A request made by `task` (the blocking path knows it up front).
    fn by(mut self, task: Option<Id>) -> Self {
        self.set_task(task);
        self
    }

    /// Names the waiting task (before it queues).
    #[inline]
    fn set_task(&mut self, task: Option<Id>) {
        let id = task.map_or(0, Id::as_u64);
        let id = if id <= REQ_LOW { id } else { 0 };
        self.who = (self.who & !REQ_LOW) | id;
    }

    /// The waiting task (while queued).
    #[inline]
    fn task(&self) -> Option<Id> {
        Id::from_u64(self.who & REQ_LOW)
    }

    #[inline]
    fn wants_record(&self) -> bool {
        self.who & REQ_RECORD != 0
    }

    #[inline]
    fn closed(&self) -> bool {
        self.who & REQ_CLOSED != 0
    }

    fn set_closed(&mut self) {
        self.who |= REQ_CLOSED;
    }

    /// Served in full: the low bits become the holder record's slot.
    #[inline]
    fn set_served(&mut self, slot: Slot) {
        self.who = (self.who & !REQ_LOW) | u64::from(slot.0);
    }

    /// The holder record's slot of a request served in full.
    #[inline]
    fn slot(&self) -> Slot {
        Slot(self.who as u32)
    }

    /// What a woken request got: its slot, or `Err` if the semaphore closed.
    #[inline]
    fn outcome(&self) -> Result<Slot, ()> {
        if self.closed() {
            Err(())
        } else {
            Ok(self.slot())
        }
    }
}

/// Where a grant's holder record sits in its semaphore (`Slot::NONE`: no
/// record). The permit keeps it and hands it back on release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot(u32);

impl Slot {
    /// No record: the primitive did not opt in, the grant was of zero
    /// permits, or (past 4 billion concurrent grants) no room was left.
    pub(crate) const NONE: Slot = Slot(u32::MAX);
}

/// One record per outstanding grant of a primitive that opted in: the task
/// it was granted to and how many permits. A slab: a freed slot is reused
/// by the next grant, so the vector grows to the most grants held at once
/// and no further, and a grant or a release costs a few stores under the
/// lock the semaphore takes anyway.
#[derive(Debug)]
struct Holders {
    slots: Vec<HolderSlot>,
    /// First free slot (`Slot::NONE.0`: none).
    free: u32,
}

#[derive(Clone, Copy, Debug)]
enum HolderSlot {
    Held { task: Option<Id>, permits: usize },
    Free { next: u32 },
}

impl Default for Holders {
    fn default() -> Self {
        Holders {
            slots: Vec::new(),
            free: Slot::NONE.0,
        }
    }
}

impl Holders {
    fn insert(&mut self, task: Option<Id>, permits: usize) -> Slot {
        if permits == 0 {
            return Slot::NONE;
        }
        let held = HolderSlot::Held { task, permits };
        if self.free != Slot::NONE.0 {
            let i = self.free;
            match std::mem::replace(&mut self.slots[i as usize], held) {
                HolderSlot::Free { next } => self.free = next,
                HolderSlot::Held { .. } => unreachable!("a held slot on the free list"),
            }
            return Slot(i);
        }
        match u32::try_from(self.slots.len()) {
            Ok(i) if i != Slot::NONE.0 => {
                self.slots.push(held);
                Slot(i)
            }
            _ => Slot::NONE,
        }
    }

    fn remove(&mut self, slot: Slot) {
        if slot == Slot::NONE {
            return;
        }
        let old = std::mem::replace(
            &mut self.slots[slot.0 as usize],
            HolderSlot::Free { next: self.free },
        );
        debug_assert!(
            matches!(old, HolderSlot::Held { .. }),
            "a holder record released twice"
        );
        self.free = slot.0;
    }

    /// Drops every record.
    fn clear(&mut self) {
        self.slots.clear();
        self.free = Slot::NONE.0;
    }

    fn iter(&self) -> impl Iterator<Item = (Option<Id>, usize)> + '_ {
        self.slots.iter().filter_map(|s| match *s {
            HolderSlot::Held { task, permits } => Some((task, permits)),
            HolderSlot::Free { .. } => None,
        })
    }
}

/// The parts of a semaphore's state behind its lock: the wait list and
/// the holder records.
#[derive(Debug)]
struct Inner {
    waiters: WaitList<Request>,
    /// Who holds what, for grants of primitives that opted in.
    holders: Holders,
    /// The permits handed to the head waiter so far (a partial handoff,
    /// less than it asked for): only the head can hold one, so it is kept
    /// here rather than in every request. 0 while nobody waits.
    partial: usize,
}

/// What a fresh semaphore does not need: the lock and what it guards
/// ([`Inner`]), a bounded semaphore's bound, and the creation site the
/// block takes over from the [`SiteOrBlock`] word. Installed by the first
/// caller that needs the lock (every acquire, release and close; a
/// `BoundedSemaphore` at creation, for its bound), freed with the
/// semaphore.
struct Block {
    inner: Lock<Inner>,
    /// The most free permits: [`MAX_PERMITS`], or a bounded semaphore's
    /// initial value.
    bound: usize,
    site: &'static Location<'static>,
    /// A word for the primitive built on the semaphore, null until it
    /// stores something there; the primitive owns what it stores and frees
    /// it before the semaphore drops (RwLock's reader slots beyond the
    /// lock's own: keeping the pointer here instead of in every lock makes
    /// `RwLock<u64>` 48 bytes, async-lock's size).
    ext: AtomicPtr<()>,
}

impl Block {
    fn new(bound: usize, site: &'static Location<'static>) -> Block {
        Block {
            inner: Lock::new(Inner {
                waiters: WaitList::new(),
                holders: Holders::default(),
                partial: 0,
            }),
            bound,
            site,
            ext: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

impl SiteBlock for Block {
    fn site(&self) -> &'static Location<'static> {
        self.site
    }
}

/// The `closed` bit of the free-permit word.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// A semaphore's state, locked: the guard of its block's lock, and a
/// working copy of the free-permit word, stored back when the guard goes
/// (the word is written only under the lock; readers without it see a
/// value some holder of the lock left).
pub(crate) struct State<'a> {
    /// Free permits (at most [`MAX_PERMITS`], so they fit in 61 bits) in
    /// the low bits; the top bit is `closed`. One word for both.
    free: usize,
    word: &'a AtomicUsize,
    bound: usize,
    inner: LockGuard<'a, Inner>,
}

impl Drop for State<'_> {
    #[inline]
    fn drop(&mut self) {
        // Before the guard (a field) is released: still under the lock.
        self.word.store(self.free, Ordering::Relaxed);
    }
}

impl State<'_> {
    #[inline]
    fn closed(&self) -> bool {
        self.free & CLOSED != 0
    }

    fn set_closed(&mut self) {
        self.free |= CLOSED;
    }

    /// Free permits.
    #[inline]
    fn permits(&self) -> usize {
        self.free & !CLOSED
    }

    /// Sets the free permits (`n <= MAX_PERMITS`), keeping `closed`.
    #[inline]
    fn set_permits(&mut self, n: usize) {
        debug_assert!(n <= MAX_PERMITS);
        self.free = (self.free & CLOSED) | n;
    }

    /// Takes `n <= permits()` free permits.
    #[inline]
    fn take_permits(&mut self, n: usize) {
        debug_assert!(n <= self.permits());
        // Cannot borrow from the CLOSED bit: `n` is at most the low bits.
        self.free -= n;
    }

    /// The most free permits: [`MAX_PERMITS`], or a bounded semaphore's
    /// initial value.
    #[inline]
    fn bound(&self) -> usize {
        self.bound
    }

    /// The wait list.
    #[inline]
    fn list(&mut self) -> &mut WaitList<Request> {
        &mut self.inner.waiters
    }

    /// Nobody waits.
    #[inline]
    fn nobody_waits(&self) -> bool {
        self.inner.waiters.is_empty()
    }

    /// Tasks and threads waiting.
    fn waiting(&self) -> usize {
        self.inner.waiters.len()
    }

    /// The head waiter's partial handoff (0 if nobody waits).
    #[inline]
    fn partial(&self) -> usize {
        self.inner.partial
    }

    /// Takes back the head's partial handoff (the head left, or closed).
    #[inline]
    fn take_partial(&mut self) -> usize {
        std::mem::take(&mut self.inner.partial)
    }

    /// The outstanding recorded grants.
    fn holders(&self) -> impl Iterator<Item = (Option<Id>, usize)> + '_ {
        self.inner.holders.iter()
    }

    /// Keeps a holder record (see the module docs).
    fn record(&mut self, task: Option<Id>, permits: usize) -> Slot {
        self.inner.holders.insert(task, permits)
    }

    /// Drops a holder record (`Slot::NONE`: none).
    fn unrecord(&mut self, slot: Slot) {
        self.inner.holders.remove(slot);
    }
}

impl State<'_> {
    /// Hands free permits to the waiters, front first, and marks the ones
    /// served in full for waking. Returns true if more could be served but
    /// the batch is full (wake it, lock again, call once more).
    fn dispatch(&mut self, batch: &mut WakeBatch) -> bool {
        if self.closed() {
            // Every waiter is marked closed and `close` is waking them (in
            // chunks, between which a release may run): a permit handed to
            // one now would be dropped with its `Err(Closed)`. Keep it.
            return false;
        }
        let block = &mut *self.inner;
        loop {
            let free = self.free & !CLOSED;
            if free == 0 {
                return false;
            }
            let Some(front) = block.waiters.front_mut() else {
                return false;
            };
            let needed = front.needed;
            let want = needed - block.partial;
            if free < want {
                // Partial handoff: the head keeps its place and what there is.
                block.partial += free;
                // Not closed (checked above): the word is the count.
                self.free = 0;
                return false;
            }
            if batch.is_full() {
                return true;
            }
            // `want <= free`: cannot borrow from the CLOSED bit.
            self.free -= want;
            block.partial = 0;
            let slot = if front.wants_record() {
                block.holders.insert(front.task(), needed)
            } else {
                Slot::NONE
            };
            front.set_served(slot);
            block.waiters.wake_front(batch);
        }
    }

    /// Adds `n` permits (saturating at the bound).
    fn add(&mut self, n: usize) {
        let permits = self.permits().saturating_add(n).min(self.bound());
        self.set_permits(permits);
    }
}

/// A fair counting semaphore with direct handoff; the engine of
/// [`Semaphore`](crate::Semaphore) and [`Mutex`](crate::Mutex).
pub(crate) struct RawSemaphore {
    /// Free permits in the low bits, `closed` on top ([`State::free`]);
    /// written only under the block's lock.
    free: AtomicUsize,
    /// The creation site until the first use, then the [`Block`] (the
    /// lock, the waiters, the holder records, the bound and the site).
    block: SiteOrBlock<Block>,
}

impl fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (permits, waiting, closed) = self.snapshot();
        f.debug_struct("RawSemaphore")
            .field("permits", &permits)
            .field("closed", &closed)
            .field("waiting", &waiting)
            .finish()
    }
}

impl RawSemaphore {
    /// A semaphore with `permits` permits, created at `site`.
    pub(crate) fn new(permits: usize, site: &'static Location<'static>) -> Self {
        Self::with_bound(permits, MAX_PERMITS, site)
    }

    /// A semaphore whose free permits never exceed `bound` (a bound below
    /// [`MAX_PERMITS`] installs the block at once, to keep it).
    pub(crate) fn with_bound(permits: usize, bound: usize, site: &'static Location<'static>) -> Self {
        let bound = bound.min(MAX_PERMITS);
        RawSemaphore {
            free: AtomicUsize::new(permits.min(bound)),
            block: if bound < MAX_PERMITS {
                SiteOrBlock::with_block(Box::new(Block::new(bound, site)))
            } else {
                SiteOrBlock::new(site)
            },
        }
    }

    /// Where the semaphore was created.
    pub(crate) fn created_at(&self) -> &'static Location<'static> {
        self.block.site()
    }

    /// The state, locked (the block installed first if this is its first
    /// use).
    #[inline]
    fn state(&self) -> State<'_> {
        let block = self.block.get_or_install(|site| Block::new(MAX_PERMITS, site));
        Self::lock_block(&self.free, block)
    }

    /// The state, locked, if the block is installed: None means nobody
    /// ever waited, no records were kept, and the word is the whole state.
    #[inline]
    fn state_if_used(&self) -> Option<State<'_>> {
        let block = self.block.get()?;
        Some(Self::lock_block(&self.free, block))
    }

    #[inline]
    fn lock_block<'a>(word: &'a AtomicUsize, block: &'a Block) -> State<'a> {
        let inner = block.inner.lock();
        State {
            // Under the lock: the last holder's store (Relaxed; the lock
            // orders it before this load).
            free: word.load(Ordering::Relaxed),
            word,
            bound: block.bound,
            inner,
        }
    }

    /// `(free permits, waiters, closed)`.
    pub(crate) fn snapshot(&self) -> (usize, usize, bool) {
        match self.state_if_used() {
            Some(st) => (st.permits(), st.waiting(), st.closed()),
            None => {
                let w = self.free.load(Ordering::Relaxed);
                (w & !CLOSED, 0, w & CLOSED != 0)
            }
        }
    }

    /// Free permits (a snapshot, read without the lock).
    pub(crate) fn available(&self) -> usize {
        self.free.load(Ordering::Relaxed) & !CLOSED
    }

    /// Closed (read without the lock; `close` sets it under the lock,
    /// before it wakes anyone).
    pub(crate) fn is_closed(&self) -> bool {
        self.free.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Takes `n` permits now if they are free and nobody waits; `record`:
    /// keep a holder record of the calling task.
    fn try_acquire_inner(&self, n: usize, record: bool) -> Result<Slot, TryAcquireError> {
        if n > MAX_PERMITS {
            return Err(TryAcquireError::TooMany {
                requested: n,
                max: MAX_PERMITS,
            });
        }
        let mut st = self.state();
        if st.closed() {
            return Err(TryAcquireError::Closed);
        }
        // `permits > 0` implies nobody waits (module invariant), so taking
        // them barges past nobody.
        if st.permits() >= n {
            st.take_permits(n);
            let me = task::try_id();
            Ok(if record { st.record(me, n) } else { Slot::NONE })
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// A future that waits for `n` permits; `record`: keep a holder record
    /// that only [`release_then`](Self::release_then) with
    /// `all` drops (RwLock's writers).
    pub(crate) fn acquire(&self, n: usize, record: bool) -> Acquire<'_> {
        Acquire {
            sem: self,
            node: WaitNode::new(Request::new(n, record)),
        }
    }

    /// Gives `n` permits back (or adds new ones), handing them to waiters
    /// first.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut st = self.state();
        if st.nobody_waits() {
            st.add(n);
            return;
        }
        self.release_slow(st, n);
    }

    /// Gives `n` permits back unless that would leave more than `max` free
    /// (counting a partial handoff to the head as free): the bounded
    /// semaphore's `release`. Err leaves the state untouched.
    pub(crate) fn release_bounded(&self, n: usize, max: usize) -> Result<(), usize> {
        let mut st = self.state();
        let free = st.permits() + st.partial();
        if free.saturating_add(n) > max {
            return Err(free);
        }
        if n == 0 {
            return Ok(());
        }
        if st.nobody_waits() {
            st.add(n);
            return Ok(());
        }
        self.release_slow(st, n);
        Ok(())
    }

    #[cold]
    fn release_slow(&self, mut st: State<'_>, n: usize) {
        st.add(n);
        let mut first = Some(st);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state()),
            |st, batch| st.dispatch(batch),
        );
    }

    /// Closes: every waiter is woken with `AcquireError::Closed` (partial
    /// handoffs go back to the pool), and later acquires fail.
    pub(crate) fn close(&self) {
        WakeBatch::wake_in_chunks(
            || self.state(),
            |st, batch| {
                st.set_closed();
                let back = st.take_partial();
                for req in st.list().iter_mut() {
                    req.set_closed();
                }
                st.add(back);
                st.list().wake_all(batch)
            },
        );
    }

    /// Blocks the current (non-runtime) thread until `n` permits are ours,
    /// the semaphore closes, or `deadline` passes.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (see
    /// [`assert_may_block`]); `what` names the caller in the message.
    /// `record` as in [`acquire`](Self::acquire).
    #[track_caller]
    pub(crate) fn blocking_acquire(
        &self,
        n: usize,
        deadline: Option<Instant>,
        what: &str,
        record: bool,
    ) -> Result<(), BlockingAcquireError> {
        self.blocking_acquire_inner(n, deadline, what, record).map(drop)
    }

    #[track_caller]
    fn blocking_acquire_inner(
        &self,
        n: usize,
        deadline: Option<Instant>,
        what: &str,
        record: bool,
    ) -> Result<Slot, BlockingAcquireError> {
        assert_may_block(what);
        if n > MAX_PERMITS {
            return Err(BlockingAcquireError::TooMany {
                requested: n,
                max: MAX_PERMITS,
            });
        }
        // A `run_sync` closure runs as a task: name it; a plain thread is None.
        let me = task::try_id();
        let mut node = pin!(WaitNode::new(Request::new(n, record).by(me)));
        {
            let mut st = self.state();
            if st.closed() {
                return Err(BlockingAcquireError::Closed);
            }
            if n == 0 || (st.nobody_waits() && st.permits() >= n) {
                st.take_permits(n);
                return Ok(if record { st.record(me, n) } else { Slot::NONE });
            }
            if st.nobody_waits() {
                // Head of an empty queue: take what there is now.
                let take = st.permits();
                st.set_permits(0);
                st.inner.partial = take;
            }
            // SAFETY: the node is in no list; it only ever goes into this
            // one, under this lock, and leaves it (woken, or `remove`d
            // below) before this function returns and drops it.
            unsafe { st.list().push_back_thread(node.as_ref()) };
        }
        let notified = node.as_ref().park_until(deadline);
        if !notified {
            let mut st = self.state();
            // SAFETY: the node is queued in this list or in none; lock held.
            match unsafe { st.list().remove(node.as_ref()) } {
                // The wake raced the timeout: the handoff is ours, keep it.
                Removed::Notified => {}
                Removed::Unlinked { was_head } => {
                    // Only the head holds a partial handoff.
                    let back = if was_head { st.take_partial() } else { 0 };
                    st.add(back);
                    self.dispatch_after(st);
                    return Err(BlockingAcquireError::Timeout);
                }
                Removed::NotQueued => unreachable!("a blocking waiter lost its node"),
            }
        }
        let req = node.as_mut().value_mut().expect("a notified node is not queued");
        req.outcome().map_err(|()| BlockingAcquireError::Closed)
    }

    /// Dispatches the waiters (after a partial handoff came back or the
    /// head left), waking them after releasing `st`.
    fn dispatch_after(&self, st: State<'_>) {
        let mut first = Some(st);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state()),
            |st, batch| st.dispatch(batch),
        );
    }
}

// ---------------------------------------------------------------------------
// Holder records: the opt-in API (see "Holder records" in the module docs).
// ---------------------------------------------------------------------------

impl RawSemaphore {
    /// As [`acquire`](Self::acquire), keeping a holder record for the grant;
    /// the future's `Ok` is the record's slot, for
    /// [`release_recorded`](Self::release_recorded).
    pub(crate) fn acquire_recorded(&self, n: usize) -> AcquireRecorded<'_> {
        AcquireRecorded::new(self, n)
    }

    /// Takes `n` permits now if they are free and nobody waits, keeping a
    /// holder record.
    pub(crate) fn try_acquire_recorded(&self, n: usize) -> Result<Slot, TryAcquireError> {
        self.try_acquire_inner(n, true)
    }

    /// As [`blocking_acquire`](Self::blocking_acquire), keeping a holder
    /// record (its task: the `run_sync` task calling it, None on a plain
    /// thread).
    #[track_caller]
    pub(crate) fn blocking_acquire_recorded(
        &self,
        n: usize,
        deadline: Option<Instant>,
        what: &str,
    ) -> Result<Slot, BlockingAcquireError> {
        self.blocking_acquire_inner(n, deadline, what, true)
    }

    /// Gives back `n` permits granted with a record, and drops the record
    /// (`n == 0`: only the record, for forgotten permits).
    pub(crate) fn release_recorded(&self, slot: Slot, n: usize) {
        let mut st = self.state();
        st.unrecord(slot);
        if n == 0 {
            return;
        }
        if st.nobody_waits() {
            st.add(n);
            return;
        }
        self.release_slow(st, n);
    }

    /// The outstanding recorded grants: (task it was granted to, permits).
    pub(crate) fn holders(&self) -> Vec<(Option<Id>, usize)> {
        // No block: no record was ever kept.
        self.state_if_used()
            .map_or_else(Vec::new, |st| st.holders().collect())
    }
}

/// The future of [`RawSemaphore::acquire_recorded`]: an [`Acquire`] whose
/// `Ok` is the holder record's slot. Cancellation as [`Acquire`]'s (a grant
/// handed to it and never used gives back its permits and its record).
/// `S` is the primitive holding the engine (see [`Acquire`]).
pub(crate) struct AcquireRecorded<'a, S: HasRaw + ?Sized = RawSemaphore>(Acquire<'a, S>);

impl<'a, S: HasRaw + ?Sized> AcquireRecorded<'a, S> {
    /// Waits for `n` permits of `sem`'s engine, keeping a holder record.
    pub(crate) fn new(sem: &'a S, n: usize) -> Self {
        AcquireRecorded(Acquire {
            sem,
            node: WaitNode::new(Request::new(n, true)),
        })
    }

    /// The primitive it waits on.
    pub(crate) fn sem(&self) -> &'a S {
        self.0.sem
    }

    /// The permits asked for.
    pub(crate) fn needed(self: Pin<&mut Self>) -> usize {
        // SAFETY: structural pinning of the only field.
        let node = unsafe { self.map_unchecked_mut(|a| &mut a.0) }.node_mut();
        // Not queued once the future is ready (nor before its first poll).
        node.value_mut().map_or(0, |r| r.needed)
    }
}

impl<S: HasRaw + ?Sized> Future for AcquireRecorded<'_, S> {
    type Output = Result<Slot, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field.
        unsafe { self.map_unchecked_mut(|a| &mut a.0) }.poll_slot(cx)
    }
}

// ---------------------------------------------------------------------------
// RawMutex: the Mutex's engine.
// ---------------------------------------------------------------------------

/// The lock is held.
const LOCKED: u64 = 1;
/// The wait list is not empty (set and cleared only under its lock).
const WAITERS: u64 = 2;
/// The holder was handed the lock by an unlock (it was queued), rather
/// than taking it itself: the sign of a handoff convoy (see `poll_slow`).
const HANDED: u64 = 4;
/// The holder's task id sits above the three flag bits.
const TAG_SHIFT: u32 = 3;
/// How many times a fresh locker yields to a handed holder before it
/// queues (`MutexAcquire::poll_slow`): enough for a convoy of a few
/// tasks to drain while each relocker gives way.
const YIELDS: u8 = 4;
/// What a locker whose yields did not pay takes off the yield score, and
/// so how many plain queueings pass before lockers try again.
const YIELD_MISS: i8 = 32;
/// The score's ceiling: a mutex that stops paying stops yielding soon.
const YIELD_SCORE_MAX: i8 = 16;

/// The word of a lock held by `task` (0 in the tag: a thread, a foreign
/// future, or an id too large to pack, which no process reaches).
#[inline]
fn held_by(task: Option<Id>) -> u64 {
    match task {
        Some(id) if id.as_u64() <= u64::MAX >> TAG_SHIFT => (id.as_u64() << TAG_SHIFT) | LOCKED,
        _ => LOCKED,
    }
}

/// A mutex waiter's payload: who waits. The handoff itself is the
/// notification (a woken waiter holds the lock), so nothing else is needed.
#[derive(Debug)]
pub(crate) struct MutexWaiter {
    task: Option<Id>,
}

/// A fair one-holder lock with direct handoff: the engine of
/// [`Mutex`](crate::Mutex), smaller and faster than a one-permit
/// [`RawSemaphore`] (see the section on it in the module docs).
pub(crate) struct RawMutex {
    /// `holder << TAG_SHIFT | WAITERS | LOCKED`; 0 is free.
    word: AtomicU64,
    /// The creation site until the first contention, then the wait block
    /// (the list, its lock and the site), freed with the mutex: a lock
    /// that is never contended carries one tagged pointer, not a lock and
    /// a list.
    block: SiteOrBlock<WaitBlock>,
}

/// A [`RawMutex`]'s wait list under its lock, installed on first use, and
/// the creation site it took over from the word.
struct WaitBlock {
    list: Lock<WaitList<MutexWaiter>>,
    site: &'static Location<'static>,
    /// Whether yielding to a handed holder pays on this mutex (see
    /// `MutexAcquire::poll_slow`): up by one for each locker whose yields
    /// ended in taking the lock, down by `YIELD_MISS` for each that queued
    /// anyway, back up by one for each locker that queues without trying
    /// while it is negative. Lockers yield while it is not negative.
    /// Relaxed and racy on purpose: a lost update only delays the
    /// verdict by one locker.
    yield_score: AtomicI8,
}

impl SiteBlock for WaitBlock {
    fn site(&self) -> &'static Location<'static> {
        self.site
    }
}

impl fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMutex")
            .field("locked", &self.is_locked())
            .field("holder", &self.holder())
            .finish_non_exhaustive()
    }
}

impl RawMutex {
    /// A free mutex created at `site`.
    pub(crate) fn new(site: &'static Location<'static>) -> Self {
        RawMutex {
            word: AtomicU64::new(0),
            block: SiteOrBlock::new(site),
        }
    }

    /// Where the mutex was created.
    pub(crate) fn created_at(&self) -> &'static Location<'static> {
        self.block.site()
    }

    /// The wait list's lock, installed first if nobody contended yet.
    #[inline]
    fn waiters(&self) -> &Lock<WaitList<MutexWaiter>> {
        &self
            .block
            .get_or_install(|site| WaitBlock {
                list: Lock::new(WaitList::new()),
                site,
                yield_score: AtomicI8::new(0),
            })
            .list
    }

    /// True if a fresh locker should yield (once more) rather than queue:
    /// the holder was handed the lock (a handoff convoy: it runs once the
    /// locker's worker moves on, and, with a short critical section,
    /// frees the lock within that poll) and yielding has paid on this
    /// mutex lately.
    fn yield_pays(&self) -> bool {
        // Never under loom, as the spin: the models explore the queueing
        // protocol, which yielding does not change.
        !cfg!(loom)
            && self.word.load(Ordering::Relaxed) & HANDED != 0
            && self
                .block
                .get()
                .is_some_and(|b| b.yield_score.load(Ordering::Relaxed) >= 0)
    }

    /// Books the outcome of a locker's yields (`paid`: it took the lock
    /// without queueing), or, with `yields == 0`, a locker that queues
    /// without trying (which moves a negative score back toward trying).
    fn book_yields(&self, yields: u8, paid: bool) {
        let Some(b) = self.block.get() else { return };
        let score = b.yield_score.load(Ordering::Relaxed);
        let next = match (yields, paid) {
            (0, _) if score < 0 => score + 1,
            (0, _) => return,
            (_, true) => score.saturating_add(1).min(YIELD_SCORE_MAX),
            (_, false) => score.saturating_sub(YIELD_MISS),
        };
        b.yield_score.store(next, Ordering::Relaxed);
    }

    /// Takes the lock if it is free (which implies nobody waits), for the
    /// current task.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        self.try_lock_for(task::try_id())
    }

    #[inline]
    fn try_lock_for(&self, me: Option<Id>) -> bool {
        // A plain load first: a task that just handed the lock over and
        // comes straight back (a contended loop) fails without a locked
        // instruction on the line the new holder is about to write.
        // Acquire: pairs with the Release of the unlock that freed it, so
        // the last holder's writes to the data are visible.
        self.word.load(Ordering::Relaxed) == 0
            && self
                .word
                .compare_exchange(0, held_by(me), Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// The task that took the lock (or was handed it); None if it is free
    /// or held by a thread or a foreign future.
    pub(crate) fn holder(&self) -> Option<Id> {
        let w = self.word.load(Ordering::Relaxed);
        if w & LOCKED == 0 {
            return None;
        }
        Id::from_u64(w >> TAG_SHIFT)
    }

    /// Tasks and threads waiting.
    pub(crate) fn waiting(&self) -> usize {
        // No block: never contended, nobody ever waited.
        self.block.get().map_or(0, |b| b.list.lock().len())
    }

    /// A future that waits for the lock.
    pub(crate) fn lock(&self) -> MutexAcquire<'_> {
        MutexAcquire::new(self)
    }

    /// Releases the lock: handed straight to the first waiter, if any.
    #[inline]
    pub(crate) fn unlock(&self) {
        let w = self.word.load(Ordering::Relaxed);
        // Release: publishes the holder's writes to the next locker (whose
        // CAS is Acquire). Fails if WAITERS appeared meanwhile.
        if w & WAITERS == 0
            && self
                .word
                .compare_exchange(w, 0, Ordering::Release, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        self.unlock_slow();
    }

    #[cold]
    fn unlock_slow(&self) {
        let list = self.waiters().lock();
        self.hand_off(list);
    }

    /// The caller holds the lock and the list: hands the lock to the first
    /// waiter (woken after `list` is released), or frees it.
    fn hand_off(&self, mut list: LockGuard<'_, WaitList<MutexWaiter>>) {
        let more = if list.len() > 1 { WAITERS } else { 0 };
        let Some(front) = list.front_mut() else {
            // Release: as in `unlock`. Nobody else writes the word while
            // we hold both the lock and the list (WAITERS changes under
            // the list's lock, the rest only by the holder).
            self.word.store(0, Ordering::Release);
            return;
        };
        let next = held_by(front.task) | more | HANDED;
        // The waiter learns it holds the lock from the notification
        // (Release in `wake_front`), which also orders our data writes
        // before its reads; the word is for try_lock and statistics.
        self.word.store(next, Ordering::Relaxed);
        let mut batch = WakeBatch::new();
        list.wake_front(&mut batch);
        batch.wake_after(list);
    }

    /// The adaptive spin (see the module docs): while the lock is held by
    /// a task that is being polled on another worker and nobody is
    /// queued, re-read the word, and take the lock if it comes free; give
    /// up (false: queue) as soon as the holder is not running, WAITERS
    /// shows, the holder is no corral task, or after `spin::SPIN_FOR`. Off a
    /// worker of a multi-thread runtime the first holder check fails, so
    /// nothing spins there.
    #[cfg(not(loom))]
    fn spin_while_holder_runs(&self, me: Option<Id>) -> bool {
        // A word of 0 means nobody waits, so taking it overtakes no waiter.
        spin::take_when_free(&self.word, held_by(me), |w| {
            w & WAITERS == 0 && Id::from_u64(w >> TAG_SHIFT).is_some_and(is_running_on_another_worker)
        })
    }

    /// Never spin under loom: the models explore the queueing protocol,
    /// and a spin would only multiply their interleavings.
    #[cfg(loom)]
    fn spin_while_holder_runs(&self, _me: Option<Id>) -> bool {
        false
    }

    /// Under the list's lock: takes the lock if it is free, or marks it as
    /// having waiters (so its holder's unlock takes the slow path and hands
    /// it over). True if taken.
    fn lock_or_mark_waiting(&self, me: Option<Id>) -> bool {
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            let (new, ordering) = if w == 0 {
                (held_by(me), Ordering::Acquire)
            } else if w & WAITERS != 0 {
                return false;
            } else {
                (w | WAITERS, Ordering::Relaxed)
            };
            match self.word.compare_exchange(w, new, ordering, Ordering::Relaxed) {
                Ok(_) => return w == 0,
                Err(now) => w = now,
            }
        }
    }

    /// After a waiter left without the lock: the flag goes if nobody waits.
    fn left(&self, list: &WaitList<MutexWaiter>) {
        if list.is_empty() {
            self.word.fetch_and(!WAITERS, Ordering::Relaxed);
        }
    }

    /// Blocks the current (non-runtime) thread until the lock is ours, or
    /// `deadline` passes (false).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime ([`assert_may_block`]).
    #[track_caller]
    pub(crate) fn blocking_lock(&self, deadline: Option<Instant>, what: &str) -> bool {
        assert_may_block(what);
        // A `run_sync` closure runs as a task: name it; a plain thread is None.
        let me = task::try_id();
        if self.try_lock_for(me) {
            return true;
        }
        let node = pin!(WaitNode::new(MutexWaiter { task: me }));
        {
            let mut list = self.waiters().lock();
            if self.lock_or_mark_waiting(me) {
                return true;
            }
            // SAFETY: the node is in no list; it only ever goes into this
            // one, under this lock, and leaves it (woken, or `remove`d
            // below) before this function returns and drops it.
            unsafe { list.push_back_thread(node.as_ref()) };
        }
        let notified = node.as_ref().park_until(deadline);
        if notified {
            return true;
        }
        let mut list = self.waiters().lock();
        // SAFETY: the node is queued in this list or in none; lock held.
        match unsafe { list.remove(node.as_ref()) } {
            // The handoff raced the timeout: the lock is ours, keep it.
            Removed::Notified => true,
            Removed::Unlinked { .. } => {
                self.left(&list);
                false
            }
            Removed::NotQueued => unreachable!("a blocking waiter lost its node"),
        }
    }
}

/// The future of [`RawMutex::lock`]. First poll: the one-CAS fast path
/// (after one unit of cooperative budget); then, under the list's lock,
/// take the lock or set WAITERS and queue. Ready once the unlocker handed
/// the lock over (its notification). Dropped while waiting: leaves the
/// queue, or, if the lock was already handed to it, hands it on.
pub(crate) struct MutexAcquire<'a, M: HasRawMutex + ?Sized = RawMutex> {
    /// The primitive that owns the engine: one reference, from which the
    /// engine is derived, so a wrapper that builds a guard from it (the
    /// Mutex's `lock()`) needs no second one.
    owner: &'a M,
    node: WaitNode<MutexWaiter>,
    /// Times this locker yielded to a handed holder instead of queueing.
    yields: u8,
}

/// A primitive built on a [`RawMutex`] (or the engine itself), as
/// [`MutexAcquire`] holds it.
pub(crate) trait HasRawMutex {
    /// The engine.
    fn raw_mutex(&self) -> &RawMutex;
}

impl HasRawMutex for RawMutex {
    #[inline]
    fn raw_mutex(&self) -> &RawMutex {
        self
    }
}

impl<'a, M: HasRawMutex + ?Sized> MutexAcquire<'a, M> {
    /// A future that waits for `owner`'s lock.
    pub(crate) fn new(owner: &'a M) -> Self {
        MutexAcquire {
            owner,
            node: WaitNode::new(MutexWaiter { task: None }),
            yields: 0,
        }
    }

    /// The primitive the future locks.
    pub(crate) fn owner(&self) -> &'a M {
        self.owner
    }

    #[inline]
    fn mutex(&self) -> &'a RawMutex {
        self.owner.raw_mutex()
    }

    fn node(self: Pin<&Self>) -> Pin<&WaitNode<MutexWaiter>> {
        // SAFETY: `node` is structurally pinned: never moved out of the future.
        unsafe { self.map_unchecked(|a| &a.node) }
    }
}

impl<M: HasRawMutex + ?Sized> Future for MutexAcquire<'_, M> {
    type Output = ();

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let node = self.as_ref().node();
        if node.take_notified() {
            return Poll::Ready(());
        }
        let me = task::try_id();
        if !node.is_queued() {
            ready!(coop::poll_consume_budget(cx));
            if self.mutex().try_lock_for(me) {
                if self.yields != 0 {
                    self.mutex().book_yields(self.yields, true);
                }
                return Poll::Ready(());
            }
        }
        self.poll_slow(cx, me)
    }
}

impl<M: HasRawMutex + ?Sized> MutexAcquire<'_, M> {
    /// The slow path, on the engine: not generic, so it is compiled once
    /// and stays out of the inlined fast path.
    #[cold]
    fn poll_slow(self: Pin<&mut Self>, cx: &mut Context<'_>, me: Option<Id>) -> Poll<()> {
        // SAFETY: `node` stays pinned (only borrowed); `yields` is not
        // structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let node = unsafe { Pin::new_unchecked(&this.node) };
        this.owner
            .raw_mutex()
            .poll_lock_slow(node, &mut this.yields, cx, me)
    }
}

impl RawMutex {
    /// [`MutexAcquire`]'s poll after its fast path failed (or once it is
    /// queued): spin, give way, or queue. `yields` is the future's count
    /// of turns it gave way.
    #[cold]
    #[inline(never)]
    fn poll_lock_slow(
        &self,
        node: Pin<&WaitNode<MutexWaiter>>,
        yields: &mut u8,
        cx: &mut Context<'_>,
        me: Option<Id>,
    ) -> Poll<()> {
        // A fresh locker whose holder runs on another worker: wait for it
        // a moment before queueing (see the module docs).
        if !node.is_queued() {
            if self.spin_while_holder_runs(me) {
                if *yields != 0 {
                    self.book_yields(*yields, true);
                }
                return Poll::Ready(());
            }
            // A holder that was handed the lock is queued to run, most
            // likely on this worker right after us: give way rather than
            // queue behind it, so that a convoy of short critical sections
            // drains instead of costing a task switch per lock. Never
            // takes the lock from a waiter: only a word of 0 is taken,
            // and it is 0 only when nobody waits.
            if *yields < YIELDS && self.yield_pays() {
                *yields += 1;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.book_yields(*yields, false);
        }
        let mut list = self.waiters().lock();
        // Again under the lock: a wake may have landed in between.
        if node.take_notified() {
            return Poll::Ready(());
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { list.update_waker(node, cx) };
            stale.drop_after(list);
            return Poll::Pending;
        }
        if self.lock_or_mark_waiting(me) {
            return Poll::Ready(());
        }
        // SAFETY: not queued: the payload is ours (the owner's).
        unsafe { list.value_of(node) }.task = me;
        // SAFETY: the node is in no list; it only ever goes into this one,
        // under this lock, and `Drop` removes it before it is freed.
        unsafe { list.push_back(node, cx) };
        Poll::Pending
    }
}

impl<M: HasRawMutex + ?Sized> Drop for MutexAcquire<'_, M> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        self.owner.raw_mutex().abandon(node);
    }
}

impl RawMutex {
    /// Drop of a [`MutexAcquire`] that queued: leave, or pass the lock on.
    #[cold]
    #[inline(never)]
    fn abandon(&self, node: Pin<&WaitNode<MutexWaiter>>) {
        let mut list = self.waiters().lock();
        // SAFETY: the node can only be in this mutex's list; lock held.
        match unsafe { list.remove(node) } {
            // Handed the lock, never used: pass it on.
            Removed::Notified => self.hand_off(list),
            Removed::Unlinked { .. } => self.left(&list),
            Removed::NotQueued => {}
        }
    }
}

/// The future of [`RawSemaphore::acquire`]: the shared waiter future.
///
/// Its node is pinned inside it (no allocation per wait). The first poll
/// takes the permits if they are free and nobody waits (after spending one
/// unit of the task's cooperative budget, so a loop of uncontended
/// acquires still gives way); otherwise it queues, taking whatever is free
/// as a partial handoff if it is first. Later polls re-record the waker if
/// it changed. Dropping it while it waits follows the cancellation rule in
/// the [module docs](self).
pub(crate) struct Acquire<'a, S: HasRaw + ?Sized = RawSemaphore> {
    /// The primitive that owns the engine: the future keeps this one
    /// reference and derives the engine from it, so a wrapper that must
    /// hand the primitive back (a permit) needs no second reference.
    sem: &'a S,
    node: WaitNode<Request>,
}

/// A primitive built on a [`RawSemaphore`] (or the engine itself), as
/// [`Acquire`] and [`AcquireRecorded`] hold it.
pub(crate) trait HasRaw: Sync {
    /// The engine.
    fn raw(&self) -> &RawSemaphore;
}

impl HasRaw for RawSemaphore {
    #[inline]
    fn raw(&self) -> &RawSemaphore {
        self
    }
}

impl<S: HasRaw + ?Sized> Acquire<'_, S> {
    fn node(self: Pin<&Self>) -> Pin<&WaitNode<Request>> {
        // SAFETY: `node` is structurally pinned: never moved out of `Acquire`.
        unsafe { self.map_unchecked(|a| &a.node) }
    }

    fn node_mut(self: Pin<&mut Self>) -> Pin<&mut WaitNode<Request>> {
        // SAFETY: as in `node`.
        unsafe { self.map_unchecked_mut(|a| &mut a.node) }
    }

    /// The outcome of a notified (and consumed) node.
    fn finish(self: Pin<&mut Self>) -> Poll<Result<Slot, AcquireError>> {
        let req = self
            .node_mut()
            .value_mut()
            .expect("a notified node is not queued");
        Poll::Ready(req.outcome().map_err(|()| AcquireError::Closed))
    }
}

impl<S: HasRaw + ?Sized> Future for Acquire<'_, S> {
    type Output = Result<(), AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_slot(cx).map(|r| r.map(drop))
    }
}

impl<S: HasRaw + ?Sized> Acquire<'_, S> {
    /// Polls for the permits; Ok carries the holder record's slot (NONE
    /// unless the request asked for one).
    fn poll_slot(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Slot, AcquireError>> {
        let node = self.as_ref().node();
        if node.take_notified() {
            return self.finish();
        }
        let queued = node.is_queued();
        if !queued {
            ready!(coop::poll_consume_budget(cx));
        }
        let sem = self.sem.raw();
        let mut st = sem.state();
        let node = self.as_ref().node();
        // Again under the lock: a wake may have landed in between.
        if node.take_notified() {
            drop(st);
            return self.finish();
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { st.list().update_waker(node, cx) };
            stale.drop_after(st);
            return Poll::Pending;
        }
        // SAFETY: not queued: the payload is ours (the owner's).
        let needed = unsafe { st.list().value_of(node) }.needed;
        if needed > MAX_PERMITS {
            return Poll::Ready(Err(AcquireError::TooMany {
                requested: needed,
                max: MAX_PERMITS,
            }));
        }
        if st.closed() {
            return Poll::Ready(Err(AcquireError::Closed));
        }
        if needed == 0 {
            // Nothing to wait for, even behind other waiters.
            return Poll::Ready(Ok(Slot::NONE));
        }
        let me = task::try_id();
        if st.nobody_waits() {
            if st.permits() >= needed {
                st.take_permits(needed);
                // SAFETY: not queued: the payload is ours.
                let record = unsafe { st.list().value_of(node) }.wants_record();
                let slot = if record { st.record(me, needed) } else { Slot::NONE };
                return Poll::Ready(Ok(slot));
            }
            // First in line: take what there is now (partial handoff).
            let take = st.permits();
            st.set_permits(0);
            st.inner.partial = take;
        }
        // SAFETY: not queued: the payload is ours.
        unsafe { st.list().value_of(node) }.set_task(me);
        // SAFETY: the node is in no list; it only ever goes into this one,
        // under this lock, and `Drop` removes it before it is freed.
        unsafe { st.list().push_back(node, cx) };
        Poll::Pending
    }
}

impl<S: HasRaw + ?Sized> Drop for Acquire<'_, S> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        self.drop_slow();
    }
}

impl<S: HasRaw + ?Sized> Acquire<'_, S> {
    /// Drop of a future that queued: give back what it was handed.
    #[cold]
    fn drop_slow(&mut self) {
        // SAFETY: as in `drop`.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        let sem = self.sem.raw();
        let mut st = sem.state();
        // SAFETY: the node can only be in this semaphore's list; lock held.
        let removed = unsafe { st.list().remove(node) };
        match removed {
            Removed::NotQueued => {}
            Removed::Notified | Removed::Unlinked { .. } => {
                // Handed all (Notified) or part (Unlinked head) of what it
                // asked for, or nothing: give it back, and dispatch, so the
                // permits or the head's place pass on.
                // SAFETY: no longer queued: the payload is ours again.
                let req = unsafe { st.list().value_of(node) };
                let (back, slot) = match removed {
                    // Served in full (unless closed, which took back all).
                    Removed::Notified => match req.outcome() {
                        Ok(slot) => (req.needed, slot),
                        Err(()) => (0, Slot::NONE),
                    },
                    // Only the head holds a partial handoff.
                    Removed::Unlinked { was_head: true } => (st.take_partial(), Slot::NONE),
                    _ => (0, Slot::NONE),
                };
                st.unrecord(slot);
                let head_left = matches!(removed, Removed::Unlinked { was_head: true });
                if back == 0 && !head_left {
                    return;
                }
                st.add(back);
                sem.dispatch_after(st);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// RwLock's fast-path hooks: the RwLock keeps an atomic word in front of its
// semaphore and moves the holders of that word into the semaphore (and
// back) under the semaphore's lock (see the RwLock module docs).
// ---------------------------------------------------------------------------

impl RawSemaphore {
    /// The semaphore's lock, for a caller that must change its own state
    /// and the semaphore's at once.
    pub(crate) fn lock_state(&self) -> State<'_> {
        self.state()
    }
}

impl State<'_> {
    /// Every permit free (up to the bound) and nobody waiting.
    pub(crate) fn is_idle(&self) -> bool {
        self.permits() == self.bound() && self.nobody_waits()
    }

    /// Takes `n` permits for holders that got them elsewhere (the caller
    /// checked that nobody waits and that `n` are free); `record`: keep a
    /// holder record of `task` for them (dropped by [`RawSemaphore::release_then`] with `all`).
    pub(crate) fn take_held(&mut self, n: usize, record: bool, task: Option<Id>) {
        debug_assert!(self.nobody_waits() && n <= self.permits());
        self.take_permits(n);
        if record {
            self.record(task, n);
        }
    }
}

// Holder records of RwLock's readers (kept apart from the engine's code).
impl RawSemaphore {
    /// `(free permits, the head waiter's partial handoff, waiters, the
    /// holder records)`, read under one lock: with a known total,
    /// `total - free - partial` is what the holders have (RwLock counts
    /// its readers this way, and names them and its writer by task).
    pub(crate) fn snapshot_holders(&self) -> (usize, usize, usize, Vec<(Option<Id>, usize)>) {
        let Some(st) = self.state_if_used() else {
            return (self.available(), 0, 0, Vec::new());
        };
        (st.permits(), st.partial(), st.waiting(), st.holders().collect())
    }

    /// Gives back `n` permits of a grant that excludes every other holder
    /// (RwLock's writer, which holds every permit, so its record is the
    /// only one) and keeps the rest as a new grant recorded for the same
    /// task: a downgrade. Returns the new record's slot.
    pub(crate) fn downgrade_recorded(&self, n: usize) -> Slot {
        let mut st = self.state();
        let task = st.holders().next().and_then(|(task, _)| task);
        st.inner.holders.clear();
        let slot = st.record(task, 1);
        if n == 0 {
            return slot;
        }
        if st.nobody_waits() {
            st.add(n);
            return slot;
        }
        self.release_slow(st, n);
        slot
    }
}

// RwLock's one-lock slow paths: take a grant, or give one back and see
// whether the semaphore is left idle, under the lock the caller's own
// bookkeeping needs anyway.
impl State<'_> {
    /// The permits held (the bound less the free ones) if nobody waits;
    /// None while someone waits.
    pub(crate) fn held_if_nobody_waits(&self) -> Option<usize> {
        self.nobody_waits().then(|| self.bound() - self.permits())
    }

    /// Takes `n` free permits with a holder record of the calling task, if
    /// that many are free (free permits mean nobody waits, so this barges
    /// past nobody): `try_acquire_recorded` under a lock already held.
    pub(crate) fn try_take_recorded(&mut self, n: usize) -> Option<Slot> {
        if self.closed() || self.permits() < n {
            return None;
        }
        self.take_permits(n);
        Some(self.record(task::try_id(), n))
    }
}

impl RawSemaphore {
    /// Gives back `n` permits and drops the grant's record (`slot`, or with
    /// `all` every record: RwLock's writer), handing the permits to the
    /// waiters first; if nobody waits, calls `then` with the state before
    /// the lock is released (RwLock's word follows the semaphore there).
    pub(crate) fn release_then(&self, n: usize, slot: Slot, all: bool, then: impl FnOnce(&State<'_>)) {
        let mut st = self.state();
        if all {
            st.inner.holders.clear();
        } else {
            st.unrecord(slot);
        }
        if st.nobody_waits() {
            st.add(n);
            then(&st);
            return;
        }
        self.release_slow(st, n);
    }
}

// RwLock's extra reader slots hang off the semaphore's block.
impl RawSemaphore {
    /// The block's word for the primitive (see `Block::ext`), installing
    /// the block if this is its first use.
    pub(crate) fn ext(&self) -> &AtomicPtr<()> {
        &self
            .block
            .get_or_install(|site| Block::new(MAX_PERMITS, site))
            .ext
    }

    /// The block's word for the primitive, if the block is installed.
    pub(crate) fn ext_if_installed(&self) -> Option<&AtomicPtr<()>> {
        self.block.get().map(|b| &b.ext)
    }
}
