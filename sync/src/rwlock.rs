//! [`RwLock`]: an async reader-writer lock, fair and write-preferring,
//! built on the counting [`RawSemaphore`](crate::raw), and its guards.
//!
//! # Protocol
//!
//! The lock is a semaphore of [`RwLock::MAX_READERS`] permits. A read takes
//! one permit, a write takes all of them. The engine's rules then give the
//! reader-writer semantics directly:
//!
//! - **FIFO, direct handoff.** Permits released while someone waits go to
//!   the head of the queue; nobody barges (not `try_read`, not `try_write`).
//! - **Write preference.** A writer at the head that cannot be served in
//!   full is handed every permit that is free, and each later release (a
//!   reader leaving) adds to that *partial handoff*. Free permits never
//!   coexist with waiters, so a reader arriving after the writer finds none
//!   and queues behind it: the writer waits only for the readers that were
//!   inside when it arrived.
//! - **Readers together.** When a writer releases, the engine serves the
//!   queue front to back: every reader at the head gets its permit and is
//!   woken (in FIFO order), up to the next writer, which is handed what is
//!   left and waits for those readers to leave.
//! - **Cancellation.** A read or write future dropped after being handed
//!   the lock gives its permits back through the same dispatch (they go to
//!   the next waiter). A writer cancelled at the head gives back its
//!   partial handoff and, having been the head, lets the readers behind it
//!   through (the engine's `Unlinked { was_head }` rule).
//! - **Downgrade.** A write guard becomes a read guard by releasing all its
//!   permits but one. It never holds fewer than one, so no writer can take
//!   the lock in between; the released permits are dispatched like any
//!   release (waiting readers at the head are admitted in FIFO order, a
//!   writer at the head gets a partial handoff and waits for the
//!   downgraded reader).
//!
//! # Fast path
//!
//! In front of the semaphore sits one atomic word. While nobody waits the
//! word alone is the lock (*fast mode*): `0` free, a bit per reader slot
//! taken (16 slots, bits 2..18), `task id << 2 | WRITER` a writer. An
//! uncontended read is one CAS setting the lowest free slot bit and a
//! plain store of the reader's task id into that slot; its release a
//! store clearing the slot and one `fetch_sub` clearing the bit (which
//! cannot fail: the bit is ours, and stays in the word in either mode). A write is one
//! CAS from `0`, its release one CAS back to `0`; a downgrade stores the
//! writer's id in slot 0 and CASes the word to that slot's bit. The fast
//! path succeeds only in fast mode, where the queue is empty, so it never
//! barges (the Mutex's rule). A reader that finds all 16 slots taken goes
//! through the semaphore (below), as one that finds a writer.
//!
//! Slots 0 and 1 sit in the lock; slots 2 to 15 in a block the first
//! reader that needs one (a third reader at once) allocates and installs
//! with one CAS (a loser frees its own) in the `ext` word of the
//! semaphore's block (installing that too if no contention has yet),
//! freed with the lock: a lock never read by more than two at once
//! allocates nothing, two readers at once (one per worker of a two-worker
//! runtime) touch no other cache line than the lock's, and the pointer
//! costs the lock nothing (`RwLock<u64>` is 48 bytes, async-lock's size).
//!
//! Anyone who cannot get in (or finds the word in *slow mode*) goes
//! through the semaphore, taking its lock once (`try_slow` /
//! `enter_slow`): under it, `to_slow` sets `SLOW` unless it is set and
//! moves the word's holders into the semaphore (its readers' permits,
//! their slot bits staying in the slow word until each releases; or all
//! permits and the task record for a writer); then the caller takes what
//! it wants from the semaphore if it is free (nobody waits), or, to wait,
//! counts itself in the slow word's payload (`ONE`, above the slot bits)
//! as on its way to the semaphore's queue, and stops counting once the
//! semaphore accounts for it (queued or served: `InSlow`). While `SLOW` is
//! set every acquire, try and release goes through the semaphore with the
//! rules above (a fast holder that sees `SLOW` clears its bit and releases
//! into the semaphore, which already counts it, since the move was made
//! under the lock its release takes).
//!
//! The word goes back to fast mode as soon as nobody waits (`settle`,
//! under the semaphore's lock, after each grant or release there): from
//! exactly `SLOW` (no moved reader's bit, nobody on the way) with no
//! writer holding, to `0` if the semaphore is idle, else to `SEM_READERS`:
//! the semaphore's readers go on holding (and release) there while new
//! readers take fast slots beside them; a writer's CAS from `0` fails, so
//! it goes slow and waits for both kinds. The last of the semaphore's
//! readers clears `SEM_READERS`. Without this, two workers reading in
//! turns (one always holding) kept the word slow for good once a writer
//! had come: every read took the semaphore's lock.
//! The uncontended path spends one unit of the task's cooperative budget
//! first, so a loop of uncontended reads still gives way.
//!
//! Before going slow, a caller whose fast CAS failed in fast mode spins
//! while the word's holders run on another worker right now
//! (`corral_runtime::wait::is_running_on_another_worker`, the Mutex's
//! rule): a writer re-reads the word and CASes it from `0` (the readers
//! named in the lock's own slots, or a writer, must be running; readers
//! in the allocated slots or in the semaphore end the spin), a reader
//! behind a running writer reads fast once it is gone. At most
//! `SPIN_FOR` (100 us, the clock read every 8th re-read; the pauses
//! between re-reads grow, as in `crate::spin`), and only in
//! fast mode, where nobody waits, so it overtakes no waiter; a caller
//! that gives up queues as before, with the write preference of the
//! queue. Off a worker of a multi-worker runtime the query is false at
//! once; under loom the spin is compiled out. Why: two workers reading
//! in turns hold the lock nearly always, and a writer that queues parks
//! every reader behind it on each write (see `docs/performance.md`,
//! `rwlock_8r_1w`).
//!
//! # Holder records
//!
//! Every read guard knows where its record is (`Held`): a fast slot, or
//! a holder record in the semaphore (a read through the semaphore uses
//! its `_recorded` methods, so the record is made when the permit is
//! handed over, and a cancelled read that had been handed it drops the
//! record with the permit). Fast readers that `enter_slow` moves into the
//! semaphore keep their slots: their permits move, their names stay, and
//! each clears its slot before it releases (in either mode), so a slot is
//! in use exactly while its guard lives; when the word goes back to fast
//! mode every slot is clear. A writer's record is the word's payload in
//! fast mode and the semaphore's only record in slow mode; a downgrade
//! turns it into a reader record of the same task (slot 0, or
//! `downgrade_recorded`). A guard moved to another task keeps naming the
//! task that acquired it. The cost on the uncontended read is the task id
//! (a thread-local read) and two plain stores; see `docs/performance.md`.
//!
//! Statistics read the word in fast mode (the slot bits, then the slots;
//! with `SEM_READERS` also the semaphore's held permits and records); in
//! slow mode they count readers as `MAX_READERS - free - head's
//! partial handoff` and list the semaphore's records (under its lock) and
//! then the slots still in use; the lock is write-locked when the count
//! is `MAX_READERS`. A reader caught between taking its slot bit and
//! writing its id (or between clearing and releasing) is counted but not
//! listed: a snapshot taken while others come and go is a snapshot.

use crate::loom::{AtomicPtr, AtomicU64, Ordering};
use crate::raw::{RawSemaphore, Slot, State, MAX_PERMITS};
#[cfg(not(loom))]
use crate::spin::{self, Spin};
use corral_runtime::coop;
use corral_runtime::task::{self, Id};
use corral_runtime::wait::assert_may_block;
#[cfg(not(loom))]
use corral_runtime::wait::is_running_on_another_worker;
use std::cell::UnsafeCell;
use std::fmt;
use std::future::poll_fn;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::{pin, Pin};
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use crate::error::BlockingAcquireError;

/// An async reader-writer lock: many readers or one writer at a time, for
/// tasks, futures on other executors and plain threads alike.
///
/// # Semantics (and the choices made)
///
/// - **Fair, FIFO, write-preferring.** Readers and writers queue in one
///   line in arrival order. A waiting writer keeps new readers out: a
///   reader that arrives after a queued writer waits behind it, even while
///   other readers hold the lock, so writers never starve (tokio's choice;
///   std leaves it to the OS, parking_lot is also fair-ish and
///   write-preferring, Python's standard library has no reader-writer lock).
///   Consecutive readers at the head of the line are admitted together.
/// - **Direct handoff.** Releasing hands the lock straight to the next
///   waiters, which are woken onto the releasing worker's run queue; nobody
///   can barge in between, not even [`try_read`](Self::try_read) or
///   [`try_write`](Self::try_write).
/// - **Atomic downgrade.** [`RwLockWriteGuard::downgrade`] turns a write
///   lock into a read lock with no gap a writer could slip into.
/// - **No poisoning.** A task that panics while holding a guard releases it
///   as the guard drops during unwinding (as tokio's); the data is whatever
///   the panicking code left.
/// - **Cancellation loses nothing.** A dropped `read()` / `write()` future
///   leaves the line; if the lock had already been handed to it, it passes
///   on to the next waiters.
/// - **Readers limit.** At most [`MAX_READERS`](Self::MAX_READERS)
///   (`usize::MAX >> 3`) read guards exist at once; that many cannot be
///   alive in practice on a 64-bit target (tokio uses `u32::MAX >> 3`).
///   A read beyond it waits as if a writer held the lock, `try_read`
///   fails; nothing panics.
/// - **Diagnostics.** The creation site (`#[track_caller]` on
///   [`new`](Self::new)), the writing task's id, and for every read guard
///   the task that acquired it are recorded;
///   [`statistics`](Self::statistics) shows them
///   ([`RwLockStatistics::reader_tasks`]). Readers that are threads or
///   futures outside corral show as `None`. A guard moved to another task
///   still names the task that acquired it; a downgraded write guard names
///   the writer. The records cost a thread-local read and two plain stores
///   on an uncontended read (no extra atomic read-modify-write).
///
/// ```
/// use corral::sync::RwLock;
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let config = Arc::new(RwLock::new(String::from("v1")));
/// let readers: Vec<_> = (0..3)
///     .map(|_| {
///         let config = config.clone();
///         corral::spawn(async move { config.read().await.len() })
///     })
///     .collect();
/// config.write().await.push_str(".1");
/// for r in readers {
///     let len = r.await.unwrap();
///     assert!(len == 2 || len == 4);
/// }
/// assert_eq!(*config.read().await, "v1.1");
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    sem: Core,
    data: UnsafeCell<T>,
}

// SAFETY: the lock moves `T` with it; a writer gets `&mut T` on whatever
// thread holds the guard: `T: Send` (as std's RwLock).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: readers on several threads share `&T` (`T: Sync`) and a writer
// on any thread gets `&mut T` (`T: Send`), as std's RwLock.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// A snapshot of a [`RwLock`], from [`RwLock::statistics`]: what a task
/// dump or a deadlock detector needs ("task 12 waits on the RwLock
/// created at src/main.rs:10, read-locked by tasks 7 and 9").
///
/// ```
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let lock = Arc::new(corral::sync::RwLock::new(()));
/// let l = lock.clone();
/// let task = corral::spawn(async move { l.read_owned().await });
/// let id = task.id();
/// let _a = task.await.unwrap(); // moved out of the task: still names it
/// let _b = lock.read().await; // block_on's future is not a task: None
/// let stats = lock.statistics();
/// assert!(stats.locked && !stats.write_locked);
/// assert_eq!(stats.readers, 2);
/// let mut tasks = stats.reader_tasks.clone();
/// tasks.sort();
/// assert_eq!(tasks, [None, Some(id)]);
/// assert_eq!((stats.writer, stats.tasks_waiting), (None, 0));
/// # });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RwLockStatistics {
    /// Someone holds the lock, readers or a writer (AnyIO's name).
    pub locked: bool,
    /// A writer holds the lock.
    pub write_locked: bool,
    /// Read guards alive now (0 while write-locked).
    pub readers: usize,
    /// Who holds the read guards: one entry per guard, the corral task
    /// that acquired it (`None`: a thread, or a future that is not a
    /// corral task), in no particular order. A guard moved to another task
    /// (an owned guard sent elsewhere) still names the task that acquired
    /// it; a downgraded write guard names the writer's task. Its length is
    /// `readers`, except for a guard caught in the middle of being taken
    /// or released by another thread while the snapshot is made.
    pub reader_tasks: Vec<Option<Id>>,
    /// The corral task holding the write lock; `None` if not write-locked,
    /// or held by a thread or a future that is not a corral task.
    pub writer: Option<Id>,
    /// Tasks and threads waiting, readers and writers (AnyIO's name).
    pub tasks_waiting: usize,
    /// Where the lock was created.
    pub created_at: &'static Location<'static>,
}

/// `RwLock::try_read` failed: a writer holds the lock or waits for it (or
/// [`RwLock::MAX_READERS`] readers hold it).
///
/// ```
/// use corral::sync::RwLock;
/// let lock = RwLock::new(0);
/// let _w = lock.try_write().unwrap();
/// let err = lock.try_read().unwrap_err();
/// assert_eq!(err.to_string(), "rwlock is write-locked or a writer waits for it");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryReadError(());

impl fmt::Display for TryReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rwlock is write-locked or a writer waits for it")
    }
}

impl std::error::Error for TryReadError {}

/// `RwLock::try_write` failed: readers or a writer hold the lock (or others
/// wait for it first).
///
/// ```
/// use corral::sync::RwLock;
/// let lock = RwLock::new(0);
/// let _r = lock.try_read().unwrap();
/// let err = lock.try_write().unwrap_err();
/// assert_eq!(err.to_string(), "rwlock is locked (by readers or a writer)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryWriteError(());

impl fmt::Display for TryWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rwlock is locked (by readers or a writer)")
    }
}

impl std::error::Error for TryWriteError {}

/// `RwLock::blocking_read_timeout` / `blocking_write_timeout` gave up: the
/// lock was not ours in time (we left the line; nothing was taken).
///
/// ```
/// use corral::sync::RwLock;
/// use std::time::Duration;
/// let lock = RwLock::new(0);
/// let _w = lock.try_write().unwrap();
/// let err = lock.blocking_read_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err.to_string(), "timed out waiting for the rwlock");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RwLockTimeout(());

impl fmt::Display for RwLockTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for the rwlock")
    }
}

impl std::error::Error for RwLockTimeout {}

/// Permits a write takes: all of them.
const WRITE: usize = MAX_PERMITS;

// The word in front of the semaphore (see "Fast path" in the module docs).
/// Holders and waiters are in the semaphore, not in the word.
const SLOW: u64 = 1;
/// A writer holds the lock through the word (its task id is the payload).
const WRITER: u64 = 2;
/// One unit of the payload in slow mode: a caller on its way through the
/// semaphore. Above the slot bits and `SEM_READERS`: in slow mode the slot
/// bits are the fast readers `to_slow` moved into the semaphore that have
/// not released yet.
const ONE: u64 = 1 << (SHIFT + SLOTS as u32 + 1);
/// Fast mode, no `WRITER`: readers the semaphore granted in slow mode still
/// hold their permits there (it is not idle), so a writer's fast CAS from
/// `0` fails while readers' fast CASes go on. Set and cleared under the
/// semaphore's lock (`Core::settle`).
const SEM_READERS: u64 = 1 << (SHIFT + SLOTS as u32);
/// The payload's shift (the writer's task id, the readers' slot bits, or
/// the count of callers in slow mode).
const SHIFT: u32 = 2;
/// Reader slots of the fast path: bit `SHIFT + i` of the word (fast mode,
/// no `WRITER`) is set while slot `i` is taken. A reader that finds them
/// all taken goes through the semaphore. Four under loom: the models use
/// at most four at once.
const SLOTS: usize = if cfg!(loom) { 4 } else { 16 };
/// Reader slots in the lock itself (the rest are allocated when first
/// needed): two, so that two readers at once (one per worker of a
/// two-worker runtime) touch no other cache line.
const INLINE: usize = 2;
/// The slot bits of the word.
const SLOT_BITS: u64 = ((1 << SLOTS) - 1) << SHIFT;
/// A reader slot's value for a reader that is not a corral task (a thread,
/// a future on another executor); 0 is an empty slot (or one whose reader
/// has not written its name yet).
const NOT_A_TASK: u64 = u64::MAX;

/// The word of a write lock held by `task` through the fast path.
#[inline]
fn written_by(task: Option<Id>) -> u64 {
    match task {
        Some(id) if id.as_u64() <= u64::MAX >> SHIFT => (id.as_u64() << SHIFT) | WRITER,
        _ => WRITER,
    }
}

/// A reader slot's value for a reader that is `task`.
#[inline]
fn slot_value(task: Option<Id>) -> u64 {
    task.map_or(NOT_A_TASK, Id::as_u64)
}

/// The reader a slot names: None for an empty slot (or one not named yet).
#[inline]
fn slot_reader(v: u64) -> Option<Option<Id>> {
    match v {
        0 => None,
        NOT_A_TASK => Some(None),
        v => Some(Id::from_u64(v)),
    }
}

/// A write through the semaphore, under its lock, if it is idle (every
/// permit free, nobody waiting), recording the writer's task.
fn take_write(st: &mut State<'_>) -> Option<()> {
    st.is_idle().then(|| st.take_held(WRITE, true, task::try_id()))
}

/// Where a read guard's holder record is; the guard keeps it and hands it
/// back when it releases.
#[derive(Clone, Copy, Debug)]
enum Held {
    /// Reader slot `i` of the fast path (taken with bit `i` of the word).
    Fast(u8),
    /// A grant of the semaphore, with its holder record's slot there.
    Sem(Slot),
}

/// Reader slots `INLINE..SLOTS`, allocated by the first reader that needs
/// one (a third reader at once), kept in the semaphore's `ext` word, freed
/// with the lock.
struct MoreSlots([SlotCell; SLOTS - INLINE]);

/// A reader slot: std's atomic in every build, also under loom. A slot
/// holds a name for the statistics, nothing the lock's safety rests on,
/// and its stores (one at each fast read and release) made as loom steps
/// multiplied the states of every RwLock model (the file ran for more than
/// six minutes instead of about 90 s). Loom still explores the word and the
/// install of the slot block; the models check the names at quiescence.
type SlotCell = std::sync::atomic::AtomicU64;

/// The lock's engine: an atomic word for the uncontended path in front of
/// the semaphore, which takes over (holders and all) as soon as anyone
/// has to wait, and hands back once it is idle again.
struct Core {
    /// Fast mode (`SLOW` clear): `0` free, slot bits for the readers (and
    /// `SEM_READERS` while the semaphore's readers hold), `id << SHIFT |
    /// WRITER` a writer. Slow mode: `SLOW | moved | n * ONE`: the slot
    /// bits of fast readers moved into the semaphore that still hold, and
    /// n callers between `enter_slow` and their place in the semaphore.
    word: AtomicU64,
    sem: RawSemaphore,
    /// Reader slots `0..INLINE`: the reader holding each (see
    /// [`slot_value`]). Slots `INLINE..SLOTS` hang off the semaphore's
    /// block (its `ext` word, null until first needed).
    slots: [SlotCell; INLINE],
}

impl Drop for Core {
    fn drop(&mut self) {
        let Some(ext) = self.sem.ext_if_installed() else {
            return;
        };
        let p = ext.load(Ordering::Acquire).cast::<MoreSlots>();
        if !p.is_null() {
            // SAFETY: a non-null word is a `Box<MoreSlots>` installed by
            // `install_more`, freed only here, once (`&mut self`: no
            // reference to it is alive), before the semaphore (a field)
            // drops its block.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// A caller on its way to wait in the semaphore: counted in the slow
/// word's payload (so the word stays slow) until the semaphore accounts
/// for it (queued, or holding); dropped, it lets the word go back to fast
/// mode if it can (`settle`).
struct InSlow<'a> {
    core: &'a Core,
    counted: bool,
}

impl InSlow<'_> {
    /// The semaphore accounts for us now (we are queued there, or hold its
    /// permits): a waiter keeps the word slow by itself, a holder is one of
    /// the semaphore's.
    fn arrived(&mut self) {
        if std::mem::take(&mut self.counted) {
            self.core.word.fetch_sub(ONE, Ordering::Relaxed);
        }
    }

    /// Waits with `acquire` (the semaphore's waiter future), no longer
    /// counted once one of its polls has queued us or taken the grant.
    async fn wait<F: Future>(&mut self, mut acquire: Pin<&mut F>) -> F::Output {
        poll_fn(|cx| {
            // With budget left the waiter's poll does not give way first
            // (its only `Pending` before it is queued), so after it we are
            // queued or served.
            let queues = coop::has_budget_remaining();
            let r = acquire.as_mut().poll(cx);
            if queues {
                self.arrived();
            }
            r
        })
        .await
    }
}

impl Drop for InSlow<'_> {
    fn drop(&mut self) {
        self.arrived();
        self.core.leave_slow();
    }
}

impl Core {
    fn new(site: &'static Location<'static>) -> Self {
        Core {
            word: AtomicU64::new(0),
            sem: RawSemaphore::new(WRITE, site),
            slots: std::array::from_fn(|_| SlotCell::new(0)),
        }
    }

    /// Reader slot `i` (allocating slots `INLINE..` if this is the first
    /// use).
    #[inline]
    fn slot(&self, i: usize) -> &SlotCell {
        if i < INLINE {
            return &self.slots[i];
        }
        self.more_slot(i)
    }

    /// Reader slot `i >= INLINE`, out of line: keeps `slot` (and so the
    /// read and its release) small enough to inline.
    #[cold]
    #[inline(never)]
    fn more_slot(&self, i: usize) -> &SlotCell {
        let ext = self.sem.ext();
        let p = ext.load(Ordering::Acquire).cast::<MoreSlots>();
        let more = if p.is_null() {
            Self::install_more(ext)
        } else {
            // SAFETY: a non-null word was installed by `install_more` and
            // lives until the lock drops, which `&self` outlives.
            unsafe { &*p }
        };
        &more.0[i - INLINE]
    }

    /// The reader slots beyond the first, if allocated.
    fn more_slots(&self) -> Option<&MoreSlots> {
        let p = self
            .sem
            .ext_if_installed()?
            .load(Ordering::Acquire)
            .cast::<MoreSlots>();
        // SAFETY: as in `slot`.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    #[cold]
    fn install_more(ext: &AtomicPtr<()>) -> &MoreSlots {
        let new = Box::into_raw(Box::new(MoreSlots(std::array::from_fn(|_| SlotCell::new(0)))));
        // Release: the slots are initialised before anyone reaches them
        // through the pointer (Acquire loads).
        match ext.compare_exchange(
            std::ptr::null_mut(),
            new.cast(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: installed; lives until the lock drops.
            Ok(_) => unsafe { &*new },
            Err(won) => {
                // SAFETY: `new` is ours, never shared (the CAS failed).
                drop(unsafe { Box::from_raw(new) });
                // SAFETY: the winner's, installed for good.
                unsafe { &*won.cast::<MoreSlots>() }
            }
        }
    }

    /// The fast path of a write: one CAS from free, naming the writer. The
    /// word is in fast mode only while nobody waits, so this never barges.
    #[inline]
    fn try_fast_write(&self) -> bool {
        // Acquire: pairs with the Release of the last release.
        self.word
            .compare_exchange(
                0,
                written_by(task::try_id()),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The fast path of a read: takes the lowest free reader slot bit with
    /// one CAS, then writes the reader's name into the slot (a plain
    /// store). Fails in slow mode, while a writer holds the lock, or with
    /// every slot taken.
    #[inline]
    fn try_fast_read(&self) -> Option<Held> {
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            let free = !w & SLOT_BITS;
            if w & (SLOW | WRITER) != 0 || free == 0 {
                return None;
            }
            let bit = free & free.wrapping_neg();
            match self
                .word
                .compare_exchange_weak(w, w | bit, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    let i = (bit.trailing_zeros() - SHIFT) as usize;
                    // The slot is ours until we clear it (its bit, or our
                    // permit in slow mode, keeps others out).
                    self.slot(i).store(slot_value(task::try_id()), Ordering::Relaxed);
                    return Some(Held::Fast(i as u8));
                }
                Err(now) => w = now,
            }
        }
    }

    /// Under the semaphore's lock: puts the word in slow mode, moving its
    /// holders into the semaphore (its readers' permits, or all of them
    /// and the task record for a writer), unless it is there already.
    fn to_slow(&self, st: &mut State<'_>) {
        let mut w = self.word.load(Ordering::Relaxed);
        while w & SLOW == 0 {
            // The fast readers keep their slot bits in the slow word until
            // each releases (the word cannot go back to fast mode before);
            // a writer's payload is its id, dropped (recorded below).
            let moved = if w & WRITER != 0 { 0 } else { w & SLOT_BITS };
            // AcqRel: the fast holders' releases happen before the
            // semaphore's next grants (through its lock).
            match self
                .word
                .compare_exchange_weak(w, SLOW | moved, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if w & WRITER != 0 {
                        st.take_held(WRITE, true, Id::from_u64(w >> SHIFT));
                    } else {
                        // The readers keep their slots (and names) there;
                        // the semaphore counts their permits (beside those
                        // of `SEM_READERS`, already counted).
                        st.take_held(moved.count_ones() as usize, false, None);
                    }
                    return;
                }
                Err(now) => w = now,
            }
        }
    }

    /// The slow path without waiting: under the semaphore's lock, the word
    /// in slow mode (see [`to_slow`](Self::to_slow)), `take` tries the
    /// semaphore. Nothing stays counted: a grant taken under this lock
    /// keeps the semaphore busy (so the word stays slow) until released.
    fn try_slow<R>(&self, take: impl FnOnce(&mut State<'_>) -> Option<R>) -> Option<R> {
        let mut st = self.sem.lock_state();
        self.to_slow(&mut st);
        let taken = take(&mut st)?;
        self.settle(&st);
        Some(taken)
    }

    /// The slow path of a caller that may wait: as
    /// [`try_slow`](Self::try_slow), but if `take` takes nothing the caller
    /// is counted in the word's payload, under the same lock, as on its
    /// way to wait in the semaphore (`Err`): the word cannot go back to
    /// fast mode before it is queued there.
    fn enter_slow<R>(&self, take: impl FnOnce(&mut State<'_>) -> Option<R>) -> Result<R, InSlow<'_>> {
        let mut st = self.sem.lock_state();
        self.to_slow(&mut st);
        match take(&mut st) {
            Some(r) => {
                self.settle(&st);
                Ok(r)
            }
            None => {
                // Relaxed: in slow mode under the lock, where the word
                // goes back to fast mode only, and only from exactly `SLOW`.
                self.word.fetch_add(ONE, Ordering::Relaxed);
                Err(InSlow {
                    core: self,
                    counted: true,
                })
            }
        }
    }

    /// Back to fast mode if nobody is on the way through the semaphore, no
    /// moved fast reader holds, and nobody waits (see [`settle`](Self::settle)).
    fn leave_slow(&self) {
        let w = self.word.load(Ordering::Relaxed);
        // Exactly `SLOW`: maybe back to fast mode. Fast with `SEM_READERS`:
        // maybe the semaphore's last reader just left without `settle` (a
        // cancelled read that had been handed the lock gives its permit
        // back inside the engine), and the bit must go.
        if w != SLOW && w & (SLOW | WRITER | SEM_READERS) != SEM_READERS {
            return;
        }
        let st = self.sem.lock_state();
        self.settle(&st);
    }

    /// Under the semaphore's lock, after it granted or took back permits:
    /// the word follows it back to fast mode. From exactly `SLOW` (nobody
    /// on the way through the semaphore, no moved fast reader left), with
    /// nobody waiting and no writer holding, the word goes to fast mode:
    /// `0` if the semaphore is idle, else `SEM_READERS` (its readers go on
    /// holding there, and release there). In fast mode, `SEM_READERS` is
    /// cleared once the semaphore is idle.
    fn settle(&self, st: &State<'_>) {
        let Some(held) = st.held_if_nobody_waits() else {
            return;
        };
        if held == WRITE {
            // A writer holds the lock through the semaphore.
            return;
        }
        let w = self.word.load(Ordering::Relaxed);
        if w == SLOW {
            let fast = if held == 0 { 0 } else { SEM_READERS };
            // Release: the semaphore's holders released under its lock,
            // which we hold; the next fast locker's Acquire sees their
            // writes.
            let _ = self
                .word
                .compare_exchange(SLOW, fast, Ordering::Release, Ordering::Relaxed);
        } else if held == 0 && w & (SLOW | WRITER | SEM_READERS) == SEM_READERS {
            // The last of the semaphore's readers left. While `SEM_READERS`
            // is set no writer takes the word and it leaves fast mode only
            // under this lock: only fast readers' slot bits change meanwhile.
            // Release: as above, for the fast writer's Acquire CAS from 0.
            self.word.fetch_and(!SEM_READERS, Ordering::Release);
        }
    }

    /// `try_read`: fast, or through the semaphore in slow mode (or with
    /// every reader slot taken).
    fn try_read(&self) -> Option<Held> {
        if let Some(held) = self.try_fast_read() {
            return Some(held);
        }
        if self.word.load(Ordering::Relaxed) & (SLOW | WRITER) == WRITER {
            // Fast mode and write-locked: nobody waits, the writer is in
            // the way.
            return None;
        }
        self.try_slow(|st| st.try_take_recorded(1)).map(Held::Sem)
    }

    /// `try_write`: fast, or through the semaphore in slow mode.
    fn try_write(&self) -> bool {
        if self.try_fast_write() {
            return true;
        }
        let w = self.word.load(Ordering::Relaxed);
        if w & SLOW == 0 && (w & WRITER != 0 || w & SEM_READERS == 0) {
            // Fast mode and taken: a holder is in the way, nobody waits.
            // (With `SEM_READERS` the semaphore decides: its readers may
            // all be gone.)
            return false;
        }
        self.try_slow(take_write).is_some()
    }

    /// The first poll of a read: one unit of the task's cooperative budget
    /// (so a loop of uncontended reads still gives way), then the fast
    /// path; `Ready(None)` if that failed (the unit goes back: the waiter
    /// future spends its own).
    #[inline]
    fn poll_fast_read(&self, cx: &mut Context<'_>) -> Poll<Option<Held>> {
        let coop = ready!(coop::poll_proceed(cx));
        let fast = self.try_fast_read();
        if fast.is_some() {
            coop.made_progress();
        }
        Poll::Ready(fast)
    }

    /// Before a writer whose fast CAS failed goes slow: while the word is
    /// in fast mode and every holder runs on another worker right now (a
    /// writer, or readers in the lock's own slots), re-read it and CAS it
    /// from `0` once free. Gives up (false: queue) when a holder does not
    /// run, the word goes slow (someone waits), or after [`SPIN_FOR`].
    /// It takes only a word of `0` in fast mode, where nobody waits, so it
    /// overtakes no waiter (the Mutex's rule). Why: two workers reading
    /// in turns hold the lock nearly always, and a writer that queues
    /// parks every reader behind it for each write (`docs/performance.md`,
    /// `rwlock_8r_1w`).
    #[cfg(not(loom))]
    fn spin_write(&self) -> bool {
        let me = task::try_id();
        spin::take_when_free(&self.word, written_by(me), |w| {
            w & SLOW == 0 && self.holders_run(w)
        })
    }

    /// Before a reader that found a writer holding the fast word goes
    /// slow: while that writer runs on another worker, re-read the word,
    /// and read fast once the writer is gone. Gives up (None: queue) as
    /// [`spin_write`](Self::spin_write) does; a fast read takes nothing
    /// from a waiter (fast mode: nobody waits).
    #[cfg(not(loom))]
    fn spin_read(&self) -> Option<Held> {
        let mut spin = Spin::new();
        loop {
            let w = self.word.load(Ordering::Relaxed);
            if w & SLOW != 0 {
                return None;
            }
            if w & WRITER == 0 {
                return self.try_fast_read();
            }
            if !self.holders_run(w) || !spin.again() {
                return None;
            }
        }
    }

    /// The holders of fast word `w` run on another worker right now: the
    /// writer, or every reader in the lock's own slots (one that took its
    /// bit and has not written its name yet is running; readers in the
    /// allocated slots or the semaphore are not checked: false).
    #[cfg(not(loom))]
    fn holders_run(&self, w: u64) -> bool {
        if w & WRITER != 0 {
            return Id::from_u64(w >> SHIFT).is_some_and(is_running_on_another_worker);
        }
        if w & SEM_READERS != 0 {
            return false;
        }
        let mut bits = (w & SLOT_BITS) >> SHIFT;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if i >= INLINE {
                return false;
            }
            match slot_reader(self.slots[i].load(Ordering::Relaxed)) {
                // Between its CAS and its name: running.
                None => {}
                Some(Some(id)) if is_running_on_another_worker(id) => {}
                Some(_) => return false,
            }
        }
        true
    }

    /// Under loom the spin is compiled out (as the Mutex's).
    #[cfg(loom)]
    fn spin_write(&self) -> bool {
        false
    }

    /// Under loom the spin is compiled out (as the Mutex's).
    #[cfg(loom)]
    fn spin_read(&self) -> Option<Held> {
        None
    }

    /// The first poll of a write, as [`poll_fast_read`](Self::poll_fast_read):
    /// `Ready(false)` if the fast path failed.
    #[inline]
    fn poll_fast_write(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let coop = ready!(coop::poll_proceed(cx));
        let taken = self.try_fast_write();
        if taken {
            coop.made_progress();
        }
        Poll::Ready(taken)
    }

    /// The waiting path of a read, after `try_fast_read` failed: one lock
    /// if the semaphore has a permit free (nobody waits), else the queue.
    async fn read_slow(&self) -> Held {
        let mut on_the_way = match self.enter_slow(|st| st.try_take_recorded(1)) {
            Ok(slot) => return Held::Sem(slot),
            Err(on_the_way) => on_the_way,
        };
        // Declared after `on_the_way`: a cancelled wait leaves the queue
        // (and drops a record made for it) before `on_the_way` lets the
        // word go back to fast mode.
        let acquire = pin!(self.sem.acquire_recorded(1));
        match on_the_way.wait(acquire).await {
            Ok(slot) => Held::Sem(slot),
            Err(e) => unreachable!("an RwLock's semaphore is never closed: {e}"),
        }
    }

    /// The waiting path of a write, after `try_fast_write` failed.
    async fn write_slow(&self) {
        let mut on_the_way = match self.enter_slow(take_write) {
            Ok(()) => return,
            Err(on_the_way) => on_the_way,
        };
        // As in `read_slow`.
        let acquire = pin!(self.sem.acquire(WRITE, true));
        if let Err(e) = on_the_way.wait(acquire).await {
            unreachable!("an RwLock's semaphore is never closed: {e}");
        }
    }

    #[track_caller]
    fn blocking_read(&self, deadline: Option<Instant>, what: &str) -> Result<Held, BlockingAcquireError> {
        assert_may_block(what);
        if let Some(held) = self.try_fast_read() {
            return Ok(held);
        }
        let _in = match self.enter_slow(|st| st.try_take_recorded(1)) {
            Ok(slot) => return Ok(Held::Sem(slot)),
            Err(on_the_way) => on_the_way,
        };
        self.sem
            .blocking_acquire_recorded(1, deadline, what)
            .map(Held::Sem)
    }

    #[track_caller]
    fn blocking_write(&self, deadline: Option<Instant>, what: &str) -> Result<(), BlockingAcquireError> {
        assert_may_block(what);
        if self.try_fast_write() {
            return Ok(());
        }
        let _in = match self.enter_slow(take_write) {
            Ok(()) => return Ok(()),
            Err(on_the_way) => on_the_way,
        };
        self.sem.blocking_acquire(WRITE, deadline, what, true)
    }

    /// Releases a read lock and its holder record.
    #[inline]
    fn release_read(&self, held: Held) {
        let i = match held {
            Held::Fast(i) => i,
            Held::Sem(slot) => return self.release_read_slow(slot),
        };
        // Cleared before the bit (or our permit) goes: the next reader of
        // this slot writes its name after us.
        self.slot(i as usize).store(0, Ordering::Relaxed);
        // Our bit is set in the word in either mode (a fast reader moved
        // into the semaphore keeps it in the slow word until it releases),
        // so subtracting it clears it: one read-modify-write that cannot
        // fail, where a CAS loop would retry under contention. Release:
        // publishes the holder's reads-done to the next fast writer (in
        // slow mode the semaphore's lock orders them).
        let was = self
            .word
            .fetch_sub(1 << (SHIFT + u32::from(i)), Ordering::Release);
        if was & SLOW != 0 {
            // Moved into the semaphore by `to_slow`: the slow word could
            // not leave slow mode while our bit was in it; now our permit
            // is like any reader's of the semaphore (`SEM_READERS` if the
            // word goes back to fast mode before it is released). No
            // record there (ours is the slot, cleared already).
            self.release_read_slow(Slot::NONE);
        }
    }

    /// Releases a read lock held through the semaphore (its record's slot,
    /// or `Slot::NONE` for a moved fast reader), and lets the word follow
    /// the semaphore (`settle`, under the same lock).
    #[cold]
    fn release_read_slow(&self, slot: Slot) {
        self.sem.release_then(1, slot, false, |st| self.settle(st));
    }

    /// Releases a write lock.
    #[inline]
    fn release_write(&self) {
        let w = self.word.load(Ordering::Relaxed);
        // Release: publishes the writer's writes to the next locker. One
        // try: while we hold the lock the word changes only to slow mode.
        if w & SLOW == 0
            && self
                .word
                .compare_exchange(w, 0, Ordering::Release, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        self.release_write_slow();
    }

    #[cold]
    fn release_write_slow(&self) {
        // A writer's grant was recorded (the only record while it holds).
        self.sem
            .release_then(WRITE, Slot::NONE, true, |st| self.settle(st));
    }

    /// Turns our write lock into a read lock, keeping the writer's name
    /// for the reader's record.
    fn downgrade(&self) -> Held {
        let w = self.word.load(Ordering::Relaxed);
        if w & SLOW == 0 {
            // Fast mode, write-locked by us: every reader slot is empty,
            // and nobody takes one before the CAS below lets readers in.
            self.slots[0].store(slot_value(Id::from_u64(w >> SHIFT)), Ordering::Relaxed);
            // Release: publishes the writer's writes to the next readers.
            if self
                .word
                .compare_exchange(w, 1 << SHIFT, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return Held::Fast(0);
            }
            // The word went to slow mode (it changes no other way while we
            // hold the lock): the semaphore holds us now, with our record.
            self.slots[0].store(0, Ordering::Relaxed);
        }
        Held::Sem(self.sem.downgrade_recorded(WRITE - 1))
    }

    /// The named readers (each read guard's acquiring task; None: not a
    /// corral task), fast slots first.
    fn slot_readers(&self, bits: u64, into: &mut Vec<Option<Id>>) {
        let mut push = |i: usize, v: &SlotCell| {
            if bits & (1 << (SHIFT + i as u32)) != 0 {
                if let Some(r) = slot_reader(v.load(Ordering::Relaxed)) {
                    into.push(r);
                }
            }
        };
        for (i, v) in self.slots.iter().enumerate() {
            push(i, v);
        }
        if let Some(more) = self.more_slots() {
            for (i, v) in more.0.iter().enumerate() {
                push(i + INLINE, v);
            }
        }
    }

    /// A snapshot for `statistics`.
    fn snapshot(&self) -> Snapshot {
        let w = self.word.load(Ordering::Acquire);
        if w & SLOW == 0 {
            if w & WRITER != 0 {
                return Snapshot {
                    held: WRITE,
                    waiting: 0,
                    writer: Id::from_u64(w >> SHIFT),
                    readers: Vec::new(),
                };
            }
            let mut readers = Vec::new();
            let mut held = 0;
            if w & SEM_READERS != 0 {
                // Readers the semaphore granted before the word came back
                // to fast mode (nobody waits there).
                let (free, _, _, records) = self.sem.snapshot_holders();
                held = WRITE.saturating_sub(free);
                readers.extend(records.into_iter().map(|(task, _)| task));
            }
            self.slot_readers(w, &mut readers);
            return Snapshot {
                held: held + (w & SLOT_BITS).count_ones() as usize,
                waiting: 0,
                writer: None,
                readers,
            };
        }
        let (free, partial, waiting, records) = self.sem.snapshot_holders();
        // `free + partial + held == WRITE` under the engine's lock.
        let held = WRITE.saturating_sub(free + partial);
        if held == WRITE {
            // The writer's record is the only one while it holds.
            let writer = records.first().and_then(|&(task, _)| task);
            return Snapshot {
                held,
                waiting,
                writer,
                readers: Vec::new(),
            };
        }
        // Readers through the semaphore (one record each), then the fast
        // readers it took over, still in their slots.
        let mut readers: Vec<Option<Id>> = records.into_iter().map(|(task, _)| task).collect();
        self.slot_readers(SLOT_BITS, &mut readers);
        Snapshot {
            held,
            waiting,
            writer: None,
            readers,
        }
    }
}

/// What `Core::snapshot` saw.
struct Snapshot {
    /// Readers, or `WRITE` while write-locked.
    held: usize,
    waiting: usize,
    writer: Option<Id>,
    readers: Vec<Option<Id>>,
}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`; records the caller's location.
    ///
    /// ```
    /// let lock = corral::sync::RwLock::new(5);
    /// assert_eq!(lock.into_inner(), 5);
    /// ```
    #[track_caller]
    pub fn new(value: T) -> Self {
        RwLock {
            sem: Core::new(Location::caller()),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the data.
    ///
    /// ```
    /// let lock = corral::sync::RwLock::new(vec![1]);
    /// assert_eq!(lock.into_inner(), vec![1]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// The most read guards that can exist at once (`usize::MAX >> 3`, the
    /// permits of corral's semaphore). A read beyond waits; see the
    /// [type docs](Self).
    ///
    /// ```
    /// assert_eq!(corral::sync::RwLock::<()>::MAX_READERS, usize::MAX >> 3);
    /// ```
    pub const MAX_READERS: usize = WRITE;

    fn read_guard(&self, held: Held) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            sem: &self.sem,
            // SAFETY: `UnsafeCell::get` is never null.
            data: unsafe { NonNull::new_unchecked(self.data.get()) },
            held,
            _marker: PhantomData,
        }
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard { lock: self }
    }

    /// Waits for shared access (FIFO, behind any writer already waiting)
    /// and returns a guard that releases it on drop.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe and fair: a dropped future gives up its place; if the
    /// read lock had already been handed to it, it is released (and passed
    /// on to the next waiter).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let lock = corral::sync::RwLock::new(1);
    /// let a = lock.read().await;
    /// let b = lock.read().await; // readers share the lock
    /// assert_eq!(*a + *b, 2);
    /// # });
    /// ```
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        // The uncontended case never builds the waiter future. Written out
        // in each public fn (no inner `async fn`): one state machine, not
        // two, on the fast path.
        let held = match poll_fn(|cx| self.sem.poll_fast_read(cx)).await {
            Some(held) => held,
            None => match self.sem.spin_read() {
                Some(held) => held,
                None => self.sem.read_slow().await,
            },
        };
        self.read_guard(held)
    }

    /// Waits for exclusive access (FIFO) and returns a guard that releases
    /// it on drop. From the moment it queues, readers that arrive later
    /// wait behind it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe and fair: a dropped future gives up its place and what
    /// it was handed so far; readers queued behind it then proceed if they
    /// can.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let lock = corral::sync::RwLock::new(1);
    /// *lock.write().await += 1;
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        // As in `read`.
        if !poll_fn(|cx| self.sem.poll_fast_write(cx)).await && !self.sem.spin_write() {
            self.sem.write_slow().await;
        }
        self.write_guard()
    }

    /// Takes shared access now if no writer holds the lock or waits for it.
    ///
    /// # Errors
    ///
    /// [`TryReadError`] if a writer holds it or is queued for it.
    ///
    /// ```
    /// let lock = corral::sync::RwLock::new(1);
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.try_read().is_ok());
    /// assert!(lock.try_write().is_err());
    /// drop(r);
    /// ```
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryReadError> {
        match self.sem.try_read() {
            Some(held) => Ok(self.read_guard(held)),
            None => Err(TryReadError(())),
        }
    }

    /// Takes exclusive access now if nobody holds the lock or waits for it.
    ///
    /// # Errors
    ///
    /// [`TryWriteError`] if readers or a writer hold it, or others wait.
    ///
    /// ```
    /// let lock = corral::sync::RwLock::new(1);
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.try_write().is_err());
    /// drop(w);
    /// assert!(lock.try_write().is_ok());
    /// ```
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryWriteError> {
        match self.sem.try_write() {
            true => Ok(self.write_guard()),
            false => Err(TryWriteError(())),
        }
    }

    /// As [`read`](Self::read), holding the lock by `Arc` so the guard can
    /// move into another task.
    ///
    /// # Cancel safety
    ///
    /// As [`read`](Self::read).
    ///
    /// ```
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let lock = Arc::new(corral::sync::RwLock::new(7));
    /// let r = lock.clone().read_owned().await;
    /// assert_eq!(corral::spawn(async move { *r }).await.unwrap(), 7);
    /// # });
    /// ```
    pub async fn read_owned(self: Arc<Self>) -> OwnedRwLockReadGuard<T> {
        // As in `read`.
        let held = match poll_fn(|cx| self.sem.poll_fast_read(cx)).await {
            Some(held) => held,
            None => match self.sem.spin_read() {
                Some(held) => held,
                None => self.sem.read_slow().await,
            },
        };
        OwnedRwLockReadGuard::new(self, held)
    }

    /// As [`write`](Self::write), holding the lock by `Arc` so the guard can
    /// move into another task.
    ///
    /// # Cancel safety
    ///
    /// As [`write`](Self::write).
    ///
    /// ```
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let lock = Arc::new(corral::sync::RwLock::new(0));
    /// let mut w = lock.clone().write_owned().await;
    /// corral::spawn(async move { *w = 7 }).await.unwrap();
    /// assert_eq!(*lock.read().await, 7);
    /// # });
    /// ```
    pub async fn write_owned(self: Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        // As in `read`.
        if !poll_fn(|cx| self.sem.poll_fast_write(cx)).await && !self.sem.spin_write() {
            self.sem.write_slow().await;
        }
        OwnedRwLockWriteGuard { lock: self }
    }

    /// As [`try_read`](Self::try_read), holding the lock by `Arc`.
    ///
    /// # Errors
    ///
    /// [`TryReadError`] if a writer holds it or is queued for it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(corral::sync::RwLock::new(0));
    /// let _r = lock.clone().try_read_owned().unwrap();
    /// assert!(lock.clone().try_write_owned().is_err());
    /// ```
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryReadError> {
        match self.sem.try_read() {
            Some(held) => Ok(OwnedRwLockReadGuard::new(self, held)),
            None => Err(TryReadError(())),
        }
    }

    /// As [`try_write`](Self::try_write), holding the lock by `Arc`.
    ///
    /// # Errors
    ///
    /// [`TryWriteError`] if readers or a writer hold it, or others wait.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let lock = Arc::new(corral::sync::RwLock::new(0));
    /// let _w = lock.clone().try_write_owned().unwrap();
    /// assert!(lock.clone().try_read_owned().is_err());
    /// ```
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryWriteError> {
        match self.sem.try_write() {
            true => Ok(OwnedRwLockWriteGuard { lock: self }),
            false => Err(TryWriteError(())),
        }
    }

    /// Blocks the current thread until shared access is ours (FIFO with the
    /// async waiters).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): blocking there would stall its tasks. Use
    /// [`read`](Self::read) there, or call this from `corral::run_sync`.
    ///
    /// ```
    /// let lock = corral::sync::RwLock::new(1);
    /// assert_eq!(*lock.blocking_read(), 1);
    /// ```
    #[track_caller]
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        match self.sem.blocking_read(None, "RwLock::blocking_read") {
            Ok(held) => self.read_guard(held),
            Err(e) => {
                unreachable!("an RwLock's semaphore is never closed, and waits without timeout: {e}")
            }
        }
    }

    /// Blocks the current thread until exclusive access is ours (FIFO with
    /// the async waiters).
    ///
    /// # Panics
    ///
    /// As [`blocking_read`](Self::blocking_read).
    ///
    /// ```
    /// let lock = corral::sync::RwLock::new(1);
    /// *lock.blocking_write() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        if let Err(e) = self.sem.blocking_write(None, "RwLock::blocking_write") {
            unreachable!("an RwLock's semaphore is never closed, and waits without timeout: {e}");
        }
        self.write_guard()
    }

    /// As [`blocking_read`](Self::blocking_read), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`RwLockTimeout`] if shared access was not ours in time.
    ///
    /// # Panics
    ///
    /// As [`blocking_read`](Self::blocking_read).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = corral::sync::RwLock::new(());
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.blocking_read_timeout(Duration::from_millis(5)).is_err());
    /// drop(w);
    /// assert!(lock.blocking_read_timeout(Duration::from_millis(5)).is_ok());
    /// ```
    #[track_caller]
    pub fn blocking_read_timeout(&self, timeout: Duration) -> Result<RwLockReadGuard<'_, T>, RwLockTimeout> {
        let deadline = Instant::now().checked_add(timeout);
        match self.sem.blocking_read(deadline, "RwLock::blocking_read_timeout") {
            Ok(held) => Ok(self.read_guard(held)),
            Err(e) => Err(timed_out(e)),
        }
    }

    /// As [`blocking_write`](Self::blocking_write), giving up after
    /// `timeout`. A writer that gives up leaves the line, so readers queued
    /// behind it proceed.
    ///
    /// # Errors
    ///
    /// [`RwLockTimeout`] if exclusive access was not ours in time.
    ///
    /// # Panics
    ///
    /// As [`blocking_read`](Self::blocking_read).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = corral::sync::RwLock::new(());
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.blocking_write_timeout(Duration::from_millis(5)).is_err());
    /// drop(r);
    /// assert!(lock.blocking_write_timeout(Duration::from_millis(5)).is_ok());
    /// ```
    #[track_caller]
    pub fn blocking_write_timeout(
        &self,
        timeout: Duration,
    ) -> Result<RwLockWriteGuard<'_, T>, RwLockTimeout> {
        let deadline = Instant::now().checked_add(timeout);
        match self
            .sem
            .blocking_write(deadline, "RwLock::blocking_write_timeout")
        {
            Ok(()) => Ok(self.write_guard()),
            Err(e) => Err(timed_out(e)),
        }
    }

    /// The data, through `&mut self`: no locking needed.
    ///
    /// ```
    /// let mut lock = corral::sync::RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Where this lock was created.
    ///
    /// ```
    /// let lock = corral::sync::RwLock::new(());
    /// println!("created at {}", lock.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.sem.sem.created_at()
    }

    /// A snapshot: locked, by which readers (the task behind each read
    /// guard) or which writer, and how many wait.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let lock = Arc::new(corral::sync::RwLock::new(()));
    /// let l2 = lock.clone();
    /// let task = corral::spawn(async move {
    ///     let _w = l2.write().await;
    ///     l2.statistics()
    /// });
    /// let id = task.id();
    /// let stats = task.await.unwrap();
    /// assert!(stats.write_locked);
    /// assert_eq!(stats.writer, Some(id));
    /// assert!(!lock.statistics().locked);
    /// # });
    /// ```
    pub fn statistics(&self) -> RwLockStatistics {
        let Snapshot {
            held,
            waiting,
            writer,
            readers,
        } = self.sem.snapshot();
        let write_locked = held == WRITE;
        RwLockStatistics {
            locked: held > 0,
            write_locked,
            readers: if write_locked { 0 } else { held },
            reader_tasks: readers,
            writer,
            tasks_waiting: waiting,
            created_at: self.sem.sem.created_at(),
        }
    }
}

/// A blocking acquire with a deadline gave up (the semaphore never closes).
fn timed_out(e: BlockingAcquireError) -> RwLockTimeout {
    match e {
        BlockingAcquireError::Timeout => RwLockTimeout(()),
        e => unreachable!("an RwLock's semaphore is never closed: {e}"),
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.field("created_at", &format_args!("{}", self.sem.sem.created_at()))
            .finish()
    }
}

/// Shared access to a [`RwLock`] (or, after [`map`](Self::map), to part of
/// its data); releases it when dropped.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let lock = corral::sync::RwLock::new(String::from("hi"));
/// let r = lock.read().await;
/// assert_eq!(r.len(), 2);
/// # });
/// ```
///
/// A read guard of `!Sync` data cannot move to another thread (readers on
/// two threads would share it):
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// let lock = corral::sync::RwLock::new(std::cell::Cell::new(1));
/// send(lock.try_read().unwrap());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    sem: &'a Core,
    data: NonNull<T>,
    held: Held,
    _marker: PhantomData<&'a T>,
}

// SAFETY: the guard gives `&T` on whatever thread holds it, while other
// readers may use `&T` elsewhere: `T: Sync`. Releasing (on drop) is
// thread-agnostic.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: `&RwLockReadGuard` gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// Narrows the guard to a part of the data; the read lock stays held
    /// until the narrowed guard drops. If `f` panics, the lock is released.
    ///
    /// ```
    /// use corral::sync::{RwLock, RwLockReadGuard};
    /// let lock = RwLock::new((1, String::from("a")));
    /// let s = RwLockReadGuard::map(lock.try_read().unwrap(), |p| &p.1);
    /// assert_eq!(*s, "a");
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> RwLockReadGuard<'a, U> {
        // `this` still releases the lock if `f` panics.
        let data = NonNull::from(f(&*this));
        let this = ManuallyDrop::new(this);
        RwLockReadGuard {
            sem: this.sem,
            data,
            held: this.held,
            _marker: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the lock's data (or a part of it), and
        // the guard holds a read permit: no `&mut T` exists while it lives.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.sem.release_read(self.held);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to a [`RwLock`]; releases it when dropped, or becomes
/// a read lock with [`downgrade`](Self::downgrade).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let lock = corral::sync::RwLock::new(Vec::new());
/// lock.write().await.push(1);
/// assert_eq!(*lock.read().await, [1]);
/// # });
/// ```
///
/// Nor can a write guard of `!Sync` data (it could downgrade there):
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// let lock = corral::sync::RwLock::new(std::cell::Cell::new(1));
/// send(lock.try_write().unwrap());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: the guard moves `&mut T` to whatever thread holds it (`T:
// Send`), and can become a read guard there, sharing `&T` with readers on
// other threads (`T: Sync`).
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockWriteGuard<'_, T> {}
// SAFETY: `&RwLockWriteGuard` gives `&T` only; `Send` bound as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Narrows the guard to a part of the data; the write lock stays held
    /// until the narrowed guard drops. If `f` panics, the lock is released.
    ///
    /// ```
    /// use corral::sync::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new([1, 2, 3]);
    /// let mut second = RwLockWriteGuard::map(lock.try_write().unwrap(), |a| &mut a[1]);
    /// *second = 20;
    /// drop(second);
    /// assert_eq!(lock.into_inner(), [1, 20, 3]);
    /// ```
    pub fn map<U: ?Sized>(mut this: Self, f: impl FnOnce(&mut T) -> &mut U) -> RwLockMappedWriteGuard<'a, U> {
        // `this` still releases the lock if `f` panics.
        let data = NonNull::from(f(&mut *this));
        let this = ManuallyDrop::new(this);
        RwLockMappedWriteGuard {
            sem: &this.lock.sem,
            data,
            _marker: PhantomData,
        }
    }

    /// Turns the write lock into a read lock, atomically: the lock is never
    /// free in between, so no writer can slip in. Readers waiting at the
    /// head of the line are admitted with it, in FIFO order; a writer at
    /// the head keeps them (and later readers) out and waits for the
    /// downgraded guard.
    ///
    /// ```
    /// use corral::sync::{RwLock, RwLockWriteGuard};
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write().await;
    /// *w = 2;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*lock.try_read().unwrap(), 2); // others read alongside
    /// assert!(lock.try_write().is_err());
    /// drop(r);
    /// # });
    /// ```
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T> {
        let this = ManuallyDrop::new(this);
        // Keep one permit (ours, as a reader), hand out the rest.
        let held = this.lock.sem.downgrade();
        this.lock.read_guard(held)
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds every permit: no other guard exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds every permit and is borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release_write();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A [`RwLockWriteGuard`] narrowed by [`RwLockWriteGuard::map`] to part of
/// the data; releases the write lock when dropped.
///
/// ```
/// use corral::sync::{RwLock, RwLockWriteGuard};
/// let lock = RwLock::new((0, 0));
/// let mut first = RwLockWriteGuard::map(lock.try_write().unwrap(), |p| &mut p.0);
/// *first = 1;
/// assert!(lock.try_read().is_err());
/// drop(first);
/// assert_eq!(*lock.try_read().unwrap(), (1, 0));
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockMappedWriteGuard<'a, T: ?Sized> {
    sem: &'a Core,
    data: NonNull<T>,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: as `RwLockWriteGuard`.
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockMappedWriteGuard<'_, T> {}
// SAFETY: as `RwLockWriteGuard`.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockMappedWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockMappedWriteGuard<'a, T> {
    /// Narrows the guard further. If `f` panics, the lock is released.
    ///
    /// ```
    /// use corral::sync::{RwLock, RwLockMappedWriteGuard, RwLockWriteGuard};
    /// let lock = RwLock::new(((1, 2), 3));
    /// let inner = RwLockWriteGuard::map(lock.try_write().unwrap(), |p| &mut p.0);
    /// let mut b = RwLockMappedWriteGuard::map(inner, |p| &mut p.1);
    /// *b = 20;
    /// drop(b);
    /// assert_eq!(lock.into_inner(), ((1, 20), 3));
    /// ```
    pub fn map<U: ?Sized>(mut this: Self, f: impl FnOnce(&mut T) -> &mut U) -> RwLockMappedWriteGuard<'a, U> {
        let data = NonNull::from(f(&mut *this));
        let this = ManuallyDrop::new(this);
        RwLockMappedWriteGuard {
            sem: this.sem,
            data,
            _marker: PhantomData,
        }
    }

    /// Turns the write lock into a read lock of the same part, atomically
    /// (as [`RwLockWriteGuard::downgrade`]).
    ///
    /// ```
    /// use corral::sync::{RwLock, RwLockMappedWriteGuard, RwLockWriteGuard};
    /// let lock = RwLock::new((1, 2));
    /// let mut a = RwLockWriteGuard::map(lock.try_write().unwrap(), |p| &mut p.0);
    /// *a = 10;
    /// let a = RwLockMappedWriteGuard::downgrade(a);
    /// assert_eq!((*a, lock.try_read().unwrap().1), (10, 2));
    /// ```
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T> {
        let this = ManuallyDrop::new(this);
        let held = this.sem.downgrade();
        RwLockReadGuard {
            sem: this.sem,
            data: this.data,
            held,
            _marker: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockMappedWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the lock's data, exclusive while the
        // write lock (this guard) is held.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for RwLockMappedWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, borrowed mutably.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized> Drop for RwLockMappedWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.sem.release_write();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockMappedWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Takes the `Arc` out of a guard that is being converted (its `Drop`
/// must not run).
///
/// # Safety
///
/// `slot` must not be used (or dropped) again.
unsafe fn take_arc<T: ?Sized>(slot: &Arc<RwLock<T>>) -> Arc<RwLock<T>> {
    // SAFETY: the caller never touches `slot` again, so the Arc is moved,
    // not duplicated.
    unsafe { std::ptr::read(slot) }
}

/// Shared access to an `Arc<RwLock<T>>`, from [`RwLock::read_owned`]
/// (narrowed to a `U` inside it after [`map`](Self::map)); `'static`, so it
/// can move into a spawned task. Releases when dropped.
///
/// ```
/// use std::sync::Arc;
/// let lock = Arc::new(corral::sync::RwLock::new(1));
/// let r = lock.clone().try_read_owned().unwrap();
/// assert_eq!(std::thread::spawn(move || *r).join().unwrap(), 1);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedRwLockReadGuard<T: ?Sized, U: ?Sized = T> {
    lock: Arc<RwLock<T>>,
    data: NonNull<U>,
    held: Held,
}

// SAFETY: the guard moves an `Arc<RwLock<T>>` (needs `RwLock<T>: Send +
// Sync`, i.e. `T: Send + Sync`) and gives `&U` where it is held while
// other readers share it: `U: Sync`.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Send for OwnedRwLockReadGuard<T, U> {}
// SAFETY: `&OwnedRwLockReadGuard` gives `&U` only.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Sync for OwnedRwLockReadGuard<T, U> {}

impl<T: ?Sized> OwnedRwLockReadGuard<T> {
    fn new(lock: Arc<RwLock<T>>, held: Held) -> Self {
        // SAFETY: `UnsafeCell::get` is never null.
        let data = unsafe { NonNull::new_unchecked(lock.data.get()) };
        OwnedRwLockReadGuard { lock, data, held }
    }
}

impl<T: ?Sized, U: ?Sized> OwnedRwLockReadGuard<T, U> {
    /// Narrows the guard to a part of the data. If `f` panics, the lock is
    /// released.
    ///
    /// ```
    /// use corral::sync::{OwnedRwLockReadGuard, RwLock};
    /// use std::sync::Arc;
    /// let lock = Arc::new(RwLock::new((1, 2)));
    /// let b = OwnedRwLockReadGuard::map(lock.try_read_owned().unwrap(), |p| &p.1);
    /// assert_eq!(*b, 2);
    /// ```
    pub fn map<V: ?Sized>(this: Self, f: impl FnOnce(&U) -> &V) -> OwnedRwLockReadGuard<T, V> {
        let data = NonNull::from(f(&*this));
        let this = ManuallyDrop::new(this);
        OwnedRwLockReadGuard {
            // SAFETY: `this` is never dropped nor used again.
            lock: unsafe { take_arc(&this.lock) },
            data,
            held: this.held,
        }
    }

    /// The lock this guard reads.
    ///
    /// ```
    /// use corral::sync::{OwnedRwLockReadGuard, RwLock};
    /// use std::sync::Arc;
    /// let lock = Arc::new(RwLock::new(()));
    /// let r = lock.clone().try_read_owned().unwrap();
    /// assert!(Arc::ptr_eq(OwnedRwLockReadGuard::rwlock(&r), &lock));
    /// ```
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedRwLockReadGuard<T, U> {
    type Target = U;
    fn deref(&self) -> &U {
        // SAFETY: `data` points into the lock's data, which the Arc keeps
        // alive; the read permit we hold rules out any `&mut`.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedRwLockReadGuard<T, U> {
    fn drop(&mut self) {
        self.lock.sem.release_read(self.held);
    }
}

impl<T: ?Sized, U: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockReadGuard<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an `Arc<RwLock<T>>`, from [`RwLock::write_owned`];
/// `'static`, so it can move into a spawned task. Releases when dropped,
/// or becomes a read lock with [`downgrade`](Self::downgrade).
///
/// ```
/// use std::sync::Arc;
/// let lock = Arc::new(corral::sync::RwLock::new(1));
/// let mut w = lock.clone().try_write_owned().unwrap();
/// std::thread::spawn(move || *w += 1).join().unwrap();
/// assert_eq!(*lock.try_read().unwrap(), 2);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

// SAFETY: `Arc<RwLock<T>>` is Send + Sync for `T: Send + Sync` and gives
// `&mut T` / `&T` only through this guard, as `RwLockWriteGuard`.
unsafe impl<T: ?Sized + Send + Sync> Send for OwnedRwLockWriteGuard<T> {}
// SAFETY: `&OwnedRwLockWriteGuard` gives `&T` only.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedRwLockWriteGuard<T> {}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Narrows the guard to a part of the data; the write lock stays held.
    /// If `f` panics, the lock is released.
    ///
    /// ```
    /// use corral::sync::{OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    /// let lock = Arc::new(RwLock::new((1, 2)));
    /// let mut a = OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |p| &mut p.0);
    /// *a = 10;
    /// drop(a);
    /// assert_eq!(*lock.try_read().unwrap(), (10, 2));
    /// ```
    pub fn map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> OwnedRwLockMappedWriteGuard<T, U> {
        let data = NonNull::from(f(&mut *this));
        let this = ManuallyDrop::new(this);
        OwnedRwLockMappedWriteGuard {
            // SAFETY: `this` is never dropped nor used again.
            lock: unsafe { take_arc(&this.lock) },
            data,
        }
    }

    /// Turns the write lock into a read lock, atomically (see
    /// [`RwLockWriteGuard::downgrade`]).
    ///
    /// ```
    /// use corral::sync::{OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    /// let lock = Arc::new(RwLock::new(1));
    /// let w = lock.clone().try_write_owned().unwrap();
    /// let r = OwnedRwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r + *lock.try_read().unwrap(), 2);
    /// ```
    pub fn downgrade(this: Self) -> OwnedRwLockReadGuard<T> {
        let this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped nor used again.
        let lock = unsafe { take_arc(&this.lock) };
        let held = lock.sem.downgrade();
        OwnedRwLockReadGuard::new(lock, held)
    }

    /// The lock this guard writes.
    ///
    /// ```
    /// use corral::sync::{OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    /// let lock = Arc::new(RwLock::new(()));
    /// let w = lock.clone().try_write_owned().unwrap();
    /// assert!(Arc::ptr_eq(OwnedRwLockWriteGuard::rwlock(&w), &lock));
    /// ```
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

impl<T: ?Sized> Deref for OwnedRwLockWriteGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds every permit: no other guard exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds every permit and is borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for OwnedRwLockWriteGuard<T> {
    fn drop(&mut self) {
        self.lock.sem.release_write();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockWriteGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// An [`OwnedRwLockWriteGuard`] narrowed by
/// [`OwnedRwLockWriteGuard::map`] to a `U` inside the data; releases the
/// write lock when dropped.
///
/// ```
/// use corral::sync::{OwnedRwLockWriteGuard, RwLock};
/// use std::sync::Arc;
/// let lock = Arc::new(RwLock::new(vec![1, 2]));
/// let mut last = OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |v| {
///     v.last_mut().unwrap()
/// });
/// *last = 3;
/// drop(last);
/// assert_eq!(*lock.try_read().unwrap(), [1, 3]);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedRwLockMappedWriteGuard<T: ?Sized, U: ?Sized = T> {
    lock: Arc<RwLock<T>>,
    data: NonNull<U>,
}

// SAFETY: as `OwnedRwLockWriteGuard`, and the guard moves `&mut U`
// (`U: Send`) that may become a shared `&U` after downgrade (`U: Sync`).
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Send for OwnedRwLockMappedWriteGuard<T, U> {}
// SAFETY: `&OwnedRwLockMappedWriteGuard` gives `&U` only.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Sync for OwnedRwLockMappedWriteGuard<T, U> {}

impl<T: ?Sized, U: ?Sized> OwnedRwLockMappedWriteGuard<T, U> {
    /// Narrows the guard further. If `f` panics, the lock is released.
    ///
    /// ```
    /// use corral::sync::{OwnedRwLockMappedWriteGuard, OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    /// let lock = Arc::new(RwLock::new(((1, 2), 3)));
    /// let a = OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |p| &mut p.0);
    /// let mut b = OwnedRwLockMappedWriteGuard::map(a, |p| &mut p.1);
    /// *b = 20;
    /// drop(b);
    /// assert_eq!(*lock.try_read().unwrap(), ((1, 20), 3));
    /// ```
    pub fn map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> OwnedRwLockMappedWriteGuard<T, V> {
        let data = NonNull::from(f(&mut *this));
        let this = ManuallyDrop::new(this);
        OwnedRwLockMappedWriteGuard {
            // SAFETY: `this` is never dropped nor used again.
            lock: unsafe { take_arc(&this.lock) },
            data,
        }
    }

    /// Turns the write lock into a read lock of the same part, atomically
    /// (see [`RwLockWriteGuard::downgrade`]).
    ///
    /// ```
    /// use corral::sync::{OwnedRwLockMappedWriteGuard, OwnedRwLockWriteGuard, RwLock};
    /// use std::sync::Arc;
    /// let lock = Arc::new(RwLock::new((1, 2)));
    /// let a = OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |p| &mut p.0);
    /// let a = OwnedRwLockMappedWriteGuard::downgrade(a);
    /// assert_eq!(*a, lock.try_read().unwrap().0);
    /// ```
    pub fn downgrade(this: Self) -> OwnedRwLockReadGuard<T, U> {
        let this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped nor used again.
        let lock = unsafe { take_arc(&this.lock) };
        let held = lock.sem.downgrade();
        OwnedRwLockReadGuard {
            lock,
            data: this.data,
            held,
        }
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedRwLockMappedWriteGuard<T, U> {
    type Target = U;
    fn deref(&self) -> &U {
        // SAFETY: `data` points into the lock's data (kept alive by the
        // Arc), exclusive while the write lock (this guard) is held.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedRwLockMappedWriteGuard<T, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`, borrowed mutably.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedRwLockMappedWriteGuard<T, U> {
    fn drop(&mut self) {
        self.lock.sem.release_write();
    }
}

impl<T: ?Sized, U: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockMappedWriteGuard<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The word's modes, seen from inside (the public API cannot tell fast
    //! mode from slow).

    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Waker};

    fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn word<T>(lock: &RwLock<T>) -> u64 {
        lock.sem.word.load(Ordering::Relaxed)
    }

    /// A reader queued behind a fast writer, handed the lock when it
    /// leaves (through the semaphore, in slow mode), and polled.
    fn semaphore_reader(lock: &RwLock<u32>) -> RwLockReadGuard<'_, u32> {
        let w = lock.try_write().unwrap();
        let mut r = pin!(lock.read());
        assert!(poll_once(r.as_mut()).is_pending());
        assert_ne!(word(lock) & SLOW, 0);
        drop(w);
        match poll_once(r) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the queued reader was not handed the lock"),
        }
    }

    /// Readers taking turns so that one always holds (two workers reading
    /// in a loop): once nobody waits, the word goes back to fast mode
    /// beside the semaphore's readers. It used to stay slow until the
    /// semaphore was idle, which readers in turns never leave it: every
    /// read then took the semaphore's lock twice or more.
    #[test]
    fn readers_in_turns_bring_the_word_back_to_fast_mode() {
        let lock = RwLock::new(0);
        let mut held = semaphore_reader(&lock);
        for _ in 0..4 {
            let next = lock.try_read().unwrap();
            drop(held);
            held = next;
        }
        assert_eq!(word(&lock) & SLOW, 0, "still slow: {:#x}", word(&lock));
        assert!(matches!(held.held, Held::Fast(_)), "{:?}", held.held);
        drop(held);
        assert_eq!(word(&lock), 0);
        assert!(lock.statistics().reader_tasks.is_empty());
    }

    /// A reader handed the lock in the queue but not polled yet is the
    /// semaphore's holder: it does not keep the word slow (it used to
    /// stay counted as on its way through the semaphore until it ran).
    #[test]
    fn a_reader_handed_the_lock_does_not_keep_the_word_slow() {
        let lock = RwLock::new(0);
        let w = lock.try_write().unwrap();
        let mut r1 = pin!(lock.read());
        assert!(poll_once(r1.as_mut()).is_pending());
        drop(w);
        // `r1` holds its permit in the semaphore now, not polled since.
        let r2 = lock.try_read().unwrap();
        assert_eq!(word(&lock) & SLOW, 0, "still slow: {:#x}", word(&lock));
        let r3 = lock.try_read().unwrap();
        assert!(matches!(r3.held, Held::Fast(_)), "{:?}", r3.held);
        let Poll::Ready(g1) = poll_once(r1) else {
            panic!("the queued reader was not handed the lock")
        };
        let s = lock.statistics();
        assert_eq!((s.readers, s.reader_tasks.len()), (3, 3), "{s:?}");
        assert!(lock.try_write().is_err());
        drop((g1, r2, r3));
        assert_eq!(word(&lock), 0);
        let s = lock.statistics();
        assert!(!s.locked && s.reader_tasks.is_empty(), "{s:?}");
    }

    /// A read handed the lock in the queue and then cancelled before it ran
    /// gives its permit back inside the engine; if it was the semaphore's
    /// last reader in fast mode, `SEM_READERS` still goes (it stayed, and
    /// `try_write` failed on a free lock: the stress test
    /// `stress_writers_on_8_threads_sum_exactly` saw it once in 58 runs).
    #[test]
    fn a_cancelled_handed_read_clears_sem_readers() {
        let lock = RwLock::new(0);
        let w = lock.try_write().unwrap();
        let mut r1 = Box::pin(lock.read());
        assert!(poll_once(r1.as_mut()).is_pending());
        drop(w); // r1 is handed the lock, not polled
        let r2 = lock.try_read().unwrap(); // through the semaphore
        assert_eq!(word(&lock), SEM_READERS);
        drop(r2);
        drop(r1); // cancelled: its permit goes back
        assert_eq!(word(&lock), 0);
        assert!(lock.try_write().is_ok(), "a free lock refused a writer");
    }

    /// A writer that comes while the semaphore's readers hold in fast mode
    /// waits for all of them, fast and semaphore readers alike, and the
    /// lock ends free in fast mode.
    #[test]
    fn a_writer_waits_for_the_semaphore_readers_of_fast_mode() {
        let lock = RwLock::new(0);
        let g1 = semaphore_reader(&lock);
        let _ = lock.try_read().unwrap(); // brings the word back to fast mode
        assert_eq!(word(&lock), SEM_READERS);
        let r2 = lock.try_read().unwrap();
        assert!(lock.try_write().is_err());
        let mut w = pin!(lock.write());
        assert!(poll_once(w.as_mut()).is_pending());
        assert!(lock.try_read().is_err(), "a reader barged past the writer");
        drop(g1);
        assert!(poll_once(w.as_mut()).is_pending());
        drop(r2);
        let Poll::Ready(mut g) = poll_once(w) else {
            panic!("the writer was not handed the lock")
        };
        *g += 1;
        drop(g);
        assert_eq!(word(&lock), 0);
        let s = lock.statistics();
        assert!(
            !s.locked && s.reader_tasks.is_empty() && s.writer.is_none(),
            "{s:?}"
        );
    }
}
