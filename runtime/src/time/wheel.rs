//! The timing wheel: where every pending `Sleep` waits for its tick.
//!
//! A hierarchical hashed timing wheel (Varghese & Lauck, "Hashed and
//! Hierarchical Timing Wheels", SOSP 1987), shaped like tokio's and the Linux
//! kernel's: 6 levels of 64 slots, one tick = 1 ms. Times are plain `u64` tick
//! counts since the clock's start; the caller converts `Instant`s (deadlines
//! rounded *up* to the next tick, "now" rounded *down*, so nothing fires early).
//!
//! # Pieces
//!
//! - `entries`: a [`Slab`] of [`Entry`]s; a [`TimerKey`] is a slab index. One
//!   entry is 40 bytes (waker 16, deadline 8, two `u32` links 8, position and
//!   state 3, padding 5), and so is its slab slot (the slab's vacant variant
//!   hides in the niche of `Entry::pending`): **40 bytes per pending Sleep**,
//!   plus the slab's amortized growth.
//! - `levels[0..6]`: 64 slots each. A slot is an intrusive doubly-linked list
//!   threaded through the slab by `u32` indices (`u32::MAX` = none), so linking
//!   and unlinking are O(1); the level's `u64` occupancy bitmap has bit `s` set
//!   iff slot `s` is non-empty, so the earliest slot is one `trailing_zeros`.
//! - `overflow`: one more list for deadlines beyond the top level's reach.
//! - `elapsed`: the tick processed up to by [`Wheel::advance`].
//!
//! # Level and slot
//!
//! A pending deadline `d > elapsed` is filed by the highest bit in which `d`
//! and `elapsed` differ: `level = significant_bit(d ^ elapsed) / 6` (bits 0..5
//! are treated as differing, so nearby deadlines land in level 0) and
//! `slot = (d >> 6 * level) & 63`. Level `l` therefore holds deadlines that
//! agree with `elapsed` above bit `6l + 5` and lie in a later `64^l`-tick slot
//! of that `64^(l+1)`-tick turn; the slot *starts* at `d` with its low `6l`
//! bits cleared. Level 0 slots hold exactly one deadline each; a level 5 slot
//! spans 2^30 ticks (12.4 days); one turn of level 5 is 2^36 ticks (2.18 years).
//!
//! The top level is circular: a deadline in the *next* 2^36 turn but less than
//! one full turn ahead of `elapsed`'s top slot goes in top slot
//! `(d >> 30) & 63`, which is then behind the current one and is read as
//! belonging to the next turn. Deadlines further out still (at least
//! 2^36 - 2^30 ticks, 2.1 years, away) go on the `overflow` list, with a lower
//! bound of their earliest deadline; the wheel revisits that list 2^35 ticks
//! before the bound and refiles its entries. (This replaces "clamp into the
//! top level's furthest slot", which would revisit a `sleep(Duration::MAX)`
//! every 2.2 years, i.e. 2^28 times, when a paused clock auto-advances.)
//!
//! # Advancing
//!
//! [`Wheel::advance`] jumps from slot start to slot start, never tick by tick:
//! it finds the earliest non-empty slot (first level with a non-zero bitmap,
//! then `trailing_zeros`), sets `elapsed` to the slot's start, detaches the
//! slot's list and, for each entry, fires it if its deadline has come or else
//! refiles it relative to the new `elapsed`, which puts it in a lower level
//! (cascading). Once the earliest slot starts after `now`, `elapsed = now`.
//!
//! # Complexity
//!
//! `insert`, `remove`, `reset`, `set_waker`, `is_fired`: O(1).
//! `next_expiration`: O(levels). `advance`: O(slots visited + entries moved);
//! each entry is moved at most once per level (6) on its way down. A revisit
//! of the overflow list walks all of it, but comes at most about once a year
//! of clock time (plus once per removal of its earliest entry), and only when
//! timers over 2 years out exist. A long jump with few timers costs a handful
//! of steps, whatever its length: `sleep(Duration::MAX)` fires (at tick
//! `u64::MAX`) after at most 8.
//!
//! # Invariants
//!
//! - Between calls, every linked (pending) entry's slot start (for the
//!   overflow list: its revisit tick) is `> elapsed`, i.e. not yet reached,
//!   and `<= deadline`. Hence a timer never fires before its
//!   deadline, and [`Wheel::next_expiration`] (the earliest slot start) is
//!   never later than the earliest pending deadline, though it may be earlier
//!   (a higher-level slot must cascade first).
//! - After `advance(now)`, every timer with `deadline <= now` has fired: the
//!   loop does not stop while a slot starting at or before `now` is occupied.
//! - An entry is `pending` iff it is linked in exactly one list; firing
//!   unlinks it and takes its waker, so no timer fires twice. Firing never
//!   frees an entry: only [`Wheel::remove`] does, so a key stays valid (and
//!   `remove`/`reset` safe) whatever state its timer is in.
//!
//! # Locking
//!
//! The wheel is a plain single-threaded structure (`&mut self`). The time
//! driver keeps it under its mutex; every call, including a `Sleep`'s poll
//! (`is_fired` then `set_waker`) and its drop (`remove`), happens under that
//! lock. Wakers collected by `advance` should be woken after it is released.

use std::fmt;
use std::task::Waker;

use slab::Slab;

/// Number of levels.
const LEVELS: usize = 6;
/// Bits of a tick consumed by one level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Mask of a slot index.
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// The top level.
const TOP: usize = LEVELS - 1;
/// Shift of a top-level slot index: a top slot spans 2^30 ticks.
const TOP_SHIFT: u32 = SLOT_BITS * TOP as u32;
/// Ticks spanned by one turn of the top level: 64^6 = 2^36 (2.18 years).
const WHEEL_RANGE: u64 = 1 << (SLOT_BITS * LEVELS as u32);
/// How long before the earliest overflow deadline the overflow list is refiled.
const OVERFLOW_LEAD: u64 = WHEEL_RANGE / 2;
/// `Entry::level` of an entry on the overflow list.
const OVERFLOW: u8 = LEVELS as u8;
/// The null link.
const NONE: u32 = u32::MAX;

/// Handle to one pending timer; owned by exactly one Sleep, which removes it before dropping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey(usize);

/// One timer.
struct Entry {
    /// Woken, and taken, when the timer fires; `None` after that until
    /// `set_waker`.
    waker: Option<Waker>,
    /// The tick at which it fires.
    deadline: u64,
    /// Neighbours in its list while pending; meaningless once fired.
    prev: u32,
    next: u32,
    /// Its list while pending: `levels[level].heads[slot]`, or the overflow list
    /// when `level == OVERFLOW`.
    level: u8,
    slot: u8,
    /// Linked in a list (true) or fired (false). A `bool`, whose spare bit
    /// patterns let the slab's vacant variant share the entry's 40 bytes.
    pending: bool,
}

// 16 (Option<Waker>, the vtable reference's niche) + 8 + 4 + 4 + 3, padded to 8.
const _: () = assert!(std::mem::size_of::<Entry>() == 40);

/// One level of 64 slots.
struct Level {
    /// Bit `s` set iff `heads[s] != NONE`.
    occupied: u64,
    /// First entry of each slot's list.
    heads: [u32; SLOTS],
}

/// Where the next thing to process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Slot(usize, usize),
    Overflow,
}

/// A hierarchical timing wheel of 6 x 64 slots, 1 tick = 1 ms; see the module docs.
pub(crate) struct Wheel {
    entries: Slab<Entry>,
    levels: [Level; LEVELS],
    /// Head of the list of deadlines beyond the top level's reach.
    overflow: u32,
    /// While `overflow != NONE`: at most the earliest deadline on it (it is not
    /// raised when that entry leaves, so it may be stale, i.e. early, but never
    /// by so much that `overflow_min - OVERFLOW_LEAD <= elapsed`).
    overflow_min: u64,
    /// The tick processed up to.
    elapsed: u64,
    /// Set by [`Wheel::shutdown`]: nothing is pending or linked any more.
    shut_down: bool,
    /// Slots (and overflow refilings) processed by `advance`, for tests.
    #[cfg(test)]
    steps: u64,
}

impl Wheel {
    /// An empty wheel at tick 0.
    pub(crate) fn new() -> Wheel {
        Wheel {
            entries: Slab::new(),
            levels: std::array::from_fn(|_| Level {
                occupied: 0,
                heads: [NONE; SLOTS],
            }),
            overflow: NONE,
            overflow_min: u64::MAX,
            elapsed: 0,
            shut_down: false,
            #[cfg(test)]
            steps: 0,
        }
    }

    /// The tick processed up to by [`advance`](Wheel::advance): every deadline up
    /// to and including it has fired.
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Registers a timer firing at `deadline` with `waker`. A deadline <= elapsed() is fired at once
    /// (is_fired true, waker NOT called: the caller sees is_fired and returns Ready). O(1).
    ///
    /// # Panics
    ///
    /// If 2^32 - 1 timers are already registered.
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> TimerKey {
        let key = self.entries.vacant_key();
        assert!(key < NONE as usize, "corral: too many timers");
        self.entries.insert(Entry {
            waker: Some(waker),
            deadline,
            prev: NONE,
            next: NONE,
            level: 0,
            slot: 0,
            pending: false,
        });
        if deadline > self.elapsed && !self.shut_down {
            self.link(key as u32);
        }
        TimerKey(key)
    }

    /// Unregisters the timer (pending or fired) and frees its entry; `key` is
    /// invalid afterwards. O(1).
    ///
    /// # Panics
    ///
    /// If `key` was already removed.
    /// Returns the entry's waker, for the caller to drop after releasing
    /// its lock.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        if self.entries[key.0].pending {
            self.unlink(key.0 as u32);
        }
        self.entries.remove(key.0).waker
    }

    /// Whether the timer has fired (its deadline is <= [`elapsed`](Wheel::elapsed)).
    pub(crate) fn is_fired(&self, key: TimerKey) -> bool {
        !self.entries[key.0].pending
    }

    /// The timer's deadline, in ticks.
    // Part of the wheel's contract; `Sleep` keeps its own `Instant` for now.
    #[allow(dead_code)]
    pub(crate) fn deadline(&self, key: TimerKey) -> u64 {
        self.entries[key.0].deadline
    }

    /// Replaces the stored waker unless `will_wake` says it is the same.
    ///
    /// The wheel holds the last waker it was given until [`advance`](Wheel::advance) fires
    /// the timer, which takes it: after [`reset`](Wheel::reset) makes such a timer pending
    /// again it wakes nobody until this is called (a `Sleep` calls it on every poll that
    /// returns `Pending`).
    /// Returns the waker it replaced, for the caller to drop after
    /// releasing its lock.
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) -> Option<Waker> {
        let slot = &mut self.entries[key.0].waker;
        match slot {
            Some(old) if old.will_wake(waker) => None,
            _ => slot.replace(waker.clone()),
        }
    }

    /// Moves a timer (pending or fired) to a new deadline; it is pending again unless the
    /// deadline has passed, in which case it is fired without waking anyone, as in
    /// [`insert`](Wheel::insert). A pending timer keeps its waker. O(1).
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: u64) {
        let index = key.0 as u32;
        if self.entries[key.0].pending {
            self.unlink(index);
        }
        self.entries[key.0].deadline = deadline;
        if deadline > self.elapsed && !self.shut_down {
            self.link(index);
        }
    }

    /// The earliest tick at which [`advance`](Wheel::advance) could fire something, or `None`
    /// if nothing is pending. Never later than the earliest pending deadline, but may be
    /// earlier: it is the start of the earliest occupied slot, which may have to cascade.
    /// Always `> elapsed()`. O(levels).
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.next().map(|(_, at)| at)
    }

    /// Processes time up to `now` (a `now` <= `elapsed()` does nothing): every pending timer
    /// with `deadline <= now` fires and its waker is pushed onto `wakers`; entries in
    /// higher-level slots that are reached cascade down. Then `elapsed() == now`.
    ///
    /// Jumps from slot start to slot start, so its cost does not depend on how far `now` is.
    pub(crate) fn advance(&mut self, now: u64, wakers: &mut Vec<Waker>) {
        while let Some((next, at)) = self.next() {
            if at > now {
                break;
            }
            #[cfg(test)]
            {
                self.steps += 1;
            }
            // Equal when the overflow list is due at a slot start just processed.
            debug_assert!(at >= self.elapsed);
            self.elapsed = at;
            let mut index = match next {
                Next::Slot(level, slot) => {
                    let level = &mut self.levels[level];
                    level.occupied &= !(1 << slot);
                    std::mem::replace(&mut level.heads[slot], NONE)
                }
                Next::Overflow => {
                    self.overflow_min = u64::MAX;
                    std::mem::replace(&mut self.overflow, NONE)
                }
            };
            while index != NONE {
                let entry = &mut self.entries[index as usize];
                let next = entry.next;
                if entry.deadline <= at {
                    entry.pending = false;
                    wakers.extend(entry.waker.take());
                } else {
                    self.link(index);
                }
                index = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// The runtime is shutting down: every pending timer fires at once (its
    /// waker is pushed onto `wakers`), and from now on `insert` and `reset`
    /// file nothing: their timers are fired at once, without a wake. The
    /// owner of a timer tells this "fired by shutdown" apart from a real
    /// expiry by the clock (see `Sleep`). Entries stay allocated until
    /// removed, as always.
    pub(crate) fn shutdown(&mut self, wakers: &mut Vec<Waker>) {
        self.shut_down = true;
        for (_, entry) in self.entries.iter_mut() {
            if entry.pending {
                entry.pending = false;
                wakers.extend(entry.waker.take());
            }
        }
        // Every list is now meaningless: forget them all at once.
        for level in &mut self.levels {
            level.occupied = 0;
            level.heads = [NONE; SLOTS];
        }
        self.overflow = NONE;
        self.overflow_min = u64::MAX;
    }

    /// True after [`shutdown`](Wheel::shutdown).
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down
    }

    /// Number of entries, pending or fired-but-not-removed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The earliest occupied slot (or the overflow list) and when it is due.
    fn next(&self) -> Option<(Next, u64)> {
        let mut best = None;
        // A lower level's slots all start before the next turn of the level
        // above begins, so the first occupied level holds the earliest slot.
        if let Some(level) = self.levels.iter().position(|l| l.occupied != 0) {
            let shift = SLOT_BITS * level as u32;
            let current = ((self.elapsed >> shift) & SLOT_MASK) as u32;
            // Scan from the slot after the current one; only the top level wraps.
            let from = (current + 1) % SLOTS as u32;
            let slot = (self.levels[level].occupied.rotate_right(from).trailing_zeros() + from) as u64
                % SLOTS as u64;
            debug_assert!(level == TOP || slot > current as u64);
            let turn = 1u64 << (shift + SLOT_BITS);
            let mut start = (self.elapsed & !(turn - 1)) + (slot << shift);
            if start <= self.elapsed {
                // A top slot behind the current one: the next turn's. That turn
                // exists, since the entry's deadline lies in it.
                start += turn;
            }
            best = Some((Next::Slot(level, slot as usize), start));
        }
        if self.overflow != NONE {
            // Overflow deadlines are >= 2^36 - 2^30 ticks past the `elapsed` they
            // were filed at, and `elapsed` never passes this point unprocessed.
            let at = self.overflow_min - OVERFLOW_LEAD;
            if best.is_none_or(|(_, start)| at < start) {
                best = Some((Next::Overflow, at));
            }
        }
        best
    }

    /// Files the (unlinked) entry `index` by its deadline, which is `> elapsed`.
    fn link(&mut self, index: u32) {
        let elapsed = self.elapsed;
        let entry = &mut self.entries[index as usize];
        let deadline = entry.deadline;
        debug_assert!(deadline > elapsed);
        let diff = deadline ^ elapsed;
        let (level, slot) = if diff < WHEEL_RANGE {
            let level = (63 - (diff | SLOT_MASK).leading_zeros()) / SLOT_BITS;
            (level as u8, ((deadline >> (SLOT_BITS * level)) & SLOT_MASK) as u8)
        } else {
            // The deadline is in a later turn of the top level. No overflow: that
            // turn exists, so `elapsed` is not in the last one.
            let top_slot_start = elapsed & !((1 << TOP_SHIFT) - 1);
            if deadline < top_slot_start + WHEEL_RANGE {
                (TOP as u8, ((deadline >> TOP_SHIFT) & SLOT_MASK) as u8)
            } else {
                (OVERFLOW, 0)
            }
        };
        entry.level = level;
        entry.slot = slot;
        entry.pending = true;
        entry.prev = NONE;
        let head = if level == OVERFLOW {
            // A bound left by entries removed since the list was last empty is stale
            // and may be behind `elapsed`: start afresh.
            if self.overflow == NONE {
                self.overflow_min = deadline;
            } else {
                self.overflow_min = self.overflow_min.min(deadline);
            }
            &mut self.overflow
        } else {
            let level = &mut self.levels[level as usize];
            level.occupied |= 1 << slot;
            &mut level.heads[slot as usize]
        };
        let next = std::mem::replace(head, index);
        entry.next = next;
        if next != NONE {
            self.entries[next as usize].prev = index;
        }
    }

    /// Takes the pending entry `index` out of its list; the caller updates `pending`
    /// or relinks it.
    fn unlink(&mut self, index: u32) {
        let entry = &mut self.entries[index as usize];
        debug_assert!(entry.pending);
        entry.pending = false;
        let (prev, next, level, slot) = (entry.prev, entry.next, entry.level, entry.slot as usize);
        if next != NONE {
            self.entries[next as usize].prev = prev;
        }
        if prev != NONE {
            self.entries[prev as usize].next = next;
        } else if level == OVERFLOW {
            self.overflow = next;
        } else {
            let level = &mut self.levels[level as usize];
            level.heads[slot] = next;
            if next == NONE {
                level.occupied &= !(1 << slot);
            }
        }
    }
}

impl fmt::Debug for Wheel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len())
            .field("next_expiration", &self.next_expiration())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::Wake;

    const HOUR: u64 = 3_600_000;
    const YEAR: u64 = 365 * 24 * HOUR;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    impl Counter {
        fn count(&self) -> usize {
            self.0.load(SeqCst)
        }
    }

    fn counting_waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter::default());
        (counter.clone(), Waker::from(counter))
    }

    /// Advances and wakes what fired; returns how many fired.
    fn advance(wheel: &mut Wheel, now: u64) -> usize {
        let mut wakers = Vec::new();
        wheel.advance(now, &mut wakers);
        let fired = wakers.len();
        wakers.into_iter().for_each(Waker::wake);
        fired
    }

    fn assert_next_not_after(wheel: &Wheel, earliest: Option<u64>) {
        match (wheel.next_expiration(), earliest) {
            (None, None) => {}
            (Some(next), Some(earliest)) => {
                assert!(
                    next > wheel.elapsed() && next <= earliest,
                    "{next} vs {earliest} ({wheel:?})"
                )
            }
            (next, earliest) => panic!("next_expiration {next:?}, earliest deadline {earliest:?}"),
        }
    }

    /// Walks every list and checks the module's invariants against `elapsed`.
    fn check_invariants(wheel: &Wheel) {
        let elapsed = wheel.elapsed;
        let mut linked = 0;
        let mut walk = |head: u32, place: Option<(usize, usize)>| {
            let (mut prev, mut index) = (NONE, head);
            while index != NONE {
                let entry = &wheel.entries[index as usize];
                assert!(entry.pending && entry.prev == prev);
                let start = match place {
                    Some((level, slot)) => {
                        assert_eq!((entry.level as usize, entry.slot as usize), (level, slot));
                        let shift = SLOT_BITS * level as u32;
                        let turn = 1u64 << (shift + SLOT_BITS);
                        let start = (elapsed & !(turn - 1)) + ((slot as u64) << shift);
                        if start <= elapsed {
                            assert_eq!(level, TOP);
                            start + turn
                        } else {
                            start
                        }
                    }
                    None => {
                        assert_eq!(entry.level, OVERFLOW);
                        assert!(wheel.overflow_min <= entry.deadline);
                        wheel.overflow_min - OVERFLOW_LEAD
                    }
                };
                assert!(
                    elapsed < start && start <= entry.deadline,
                    "{place:?} {start} {}",
                    entry.deadline
                );
                linked += 1;
                (prev, index) = (index, entry.next);
            }
        };
        for (l, level) in wheel.levels.iter().enumerate() {
            for (s, &head) in level.heads.iter().enumerate() {
                assert_eq!(level.occupied & (1 << s) != 0, head != NONE);
                walk(head, Some((l, s)));
            }
        }
        walk(wheel.overflow, None);
        assert_eq!(linked, wheel.entries.iter().filter(|(_, e)| e.pending).count());
    }

    const DEADLINES: [u64; 10] = [1, 63, 64, 65, 4095, 4096, 262_143, 262_144, HOUR, 3 * YEAR];

    #[test]
    fn entry_size() {
        // What the slab stores per entry: mirrors `slab::Entry`.
        #[allow(dead_code)]
        enum SlabEntry {
            Vacant(usize),
            Occupied(Entry),
        }
        assert_eq!(std::mem::size_of::<Entry>(), 40);
        assert_eq!(std::mem::size_of::<SlabEntry>(), 40);
    }

    #[test]
    fn shutdown_fires_everything_and_files_nothing_after() {
        let mut wheel = Wheel::new();
        let (counter, waker) = counting_waker();
        let keys: Vec<_> = DEADLINES
            .iter()
            .map(|&d| wheel.insert(d, waker.clone()))
            .collect();
        let mut wakers = Vec::new();
        wheel.shutdown(&mut wakers);
        assert_eq!(wakers.len(), DEADLINES.len());
        wakers.into_iter().for_each(Waker::wake);
        assert_eq!(counter.0.load(SeqCst), DEADLINES.len());
        assert!(wheel.is_shut_down());
        assert!(keys.iter().all(|&k| wheel.is_fired(k)));
        assert_eq!(wheel.next_expiration(), None);
        // New and reset timers are fired at once, without a wake.
        let late = wheel.insert(HOUR, waker.clone());
        assert!(wheel.is_fired(late));
        wheel.reset(keys[0], 3 * HOUR);
        assert!(wheel.is_fired(keys[0]));
        assert_eq!(wheel.next_expiration(), None);
        assert_eq!(advance(&mut wheel, u64::MAX), 0);
        for k in keys.into_iter().chain([late]) {
            wheel.remove(k);
        }
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn fires_exactly_at_deadline() {
        for &deadline in &DEADLINES {
            // From tick 0 in one jump, and from an odd start in several.
            for start in [0, 12_345_678_901] {
                let mut wheel = Wheel::new();
                advance(&mut wheel, start);
                let deadline = start + deadline;
                let (counter, waker) = counting_waker();
                let key = wheel.insert(deadline, waker);
                assert!(!wheel.is_fired(key));
                assert_next_not_after(&wheel, Some(deadline));
                let stops = if start == 0 {
                    vec![deadline - 1]
                } else {
                    vec![
                        start + (deadline - start) / 3,
                        start + (deadline - start) / 2,
                        deadline - 1,
                    ]
                };
                for stop in stops {
                    assert_eq!(advance(&mut wheel, stop), 0, "deadline {deadline}, stop {stop}");
                    assert!(!wheel.is_fired(key));
                    assert_next_not_after(&wheel, Some(deadline));
                }
                assert_eq!(advance(&mut wheel, deadline), 1, "deadline {deadline}");
                assert!(wheel.is_fired(key));
                assert_eq!(counter.count(), 1);
                assert_eq!(wheel.next_expiration(), None);
                assert_eq!(advance(&mut wheel, deadline + 10 * YEAR), 0);
                assert_eq!(counter.count(), 1);
                assert_eq!(wheel.deadline(key), deadline);
                wheel.remove(key);
                assert_eq!(wheel.len(), 0);
            }
        }
    }

    #[test]
    fn all_deadlines_in_one_wheel_tick_by_tick_near_each() {
        let mut wheel = Wheel::new();
        let timers: Vec<_> = DEADLINES
            .iter()
            .map(|&d| {
                let (counter, waker) = counting_waker();
                (d, counter, wheel.insert(d, waker))
            })
            .collect();
        for (i, &(deadline, ref counter, key)) in timers.iter().enumerate() {
            assert_eq!(advance(&mut wheel, deadline - 1), 0);
            assert!(!wheel.is_fired(key));
            assert_next_not_after(&wheel, Some(deadline));
            assert_eq!(advance(&mut wheel, deadline), 1);
            assert!(wheel.is_fired(key));
            assert_eq!(counter.count(), 1);
            for (later, counter, key) in &timers[i + 1..] {
                assert!(!wheel.is_fired(*key), "{later} fired at {deadline}");
                assert_eq!(counter.count(), 0);
            }
        }
        assert_eq!(wheel.len(), DEADLINES.len());
    }

    #[test]
    fn past_deadline_fires_at_once_without_waking() {
        let mut wheel = Wheel::new();
        advance(&mut wheel, 100);
        for deadline in [0, 99, 100] {
            let (counter, waker) = counting_waker();
            let key = wheel.insert(deadline, waker);
            assert!(wheel.is_fired(key));
            assert_eq!(wheel.next_expiration(), None);
            assert_eq!(advance(&mut wheel, 1000), 0);
            assert_eq!(counter.count(), 0);
            wheel.remove(key);
        }
    }

    #[test]
    fn next_expiration_is_a_slot_start() {
        let mut wheel = Wheel::new();
        assert_eq!(wheel.next_expiration(), None);
        let (_c, waker) = counting_waker();
        let key = wheel.insert(70, waker.clone());
        assert_eq!(wheel.next_expiration(), Some(64)); // level 1, slot 1
        assert_eq!(advance(&mut wheel, 64), 0); // cascades to level 0
        assert_eq!(wheel.next_expiration(), Some(70));
        let early = wheel.insert(66, waker);
        assert_eq!(wheel.next_expiration(), Some(66));
        wheel.remove(early);
        assert_eq!(wheel.next_expiration(), Some(70));
        wheel.remove(key);
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn remove_before_firing_never_fires() {
        let mut wheel = Wheel::new();
        let mut keep = Vec::new();
        let mut gone = Vec::new();
        for (i, &deadline) in DEADLINES.iter().enumerate() {
            for copy in 0..3 {
                let (counter, waker) = counting_waker();
                let key = wheel.insert(deadline, waker);
                // Remove heads, middles and tails of the slot lists.
                if deadline > 64 && (i + copy) % 2 == 0 {
                    gone.push((key, counter));
                } else {
                    keep.push(counter);
                }
            }
        }
        let early = advance(&mut wheel, 64); // cascade some first
        for (key, _) in &gone {
            wheel.remove(*key);
        }
        assert_eq!(wheel.len(), keep.len());
        assert_eq!(early + advance(&mut wheel, 10 * YEAR), keep.len());
        assert!(gone.iter().all(|(_, c)| c.count() == 0));
        assert!(keep.iter().all(|c| c.count() == 1));
    }

    #[test]
    fn reset_earlier_and_later() {
        let mut wheel = Wheel::new();
        let (counter, waker) = counting_waker();
        let key = wheel.insert(5000, waker);

        wheel.reset(key, 100); // earlier
        assert_eq!(wheel.deadline(key), 100);
        assert_next_not_after(&wheel, Some(100));
        assert_eq!(advance(&mut wheel, 99), 0);
        assert_eq!(advance(&mut wheel, 100), 1);
        assert_eq!(counter.count(), 1);

        wheel.reset(key, 200); // fired -> pending again, waker was taken
        assert!(!wheel.is_fired(key));
        let (counter, waker) = counting_waker();
        wheel.set_waker(key, &waker);
        wheel.reset(key, 300_000); // later, keeps the waker
        assert_eq!(advance(&mut wheel, 299_999), 0);
        assert!(!wheel.is_fired(key));
        assert_eq!(advance(&mut wheel, 300_000), 1);
        assert_eq!(counter.count(), 1);

        wheel.reset(key, 1); // into the past: fired, nobody woken
        assert!(wheel.is_fired(key));
        assert_eq!(wheel.next_expiration(), None);
        wheel.set_waker(key, &waker);
        wheel.reset(key, 300_000 + 2 * YEAR + 7); // pending from the fired state
        assert_eq!(advance(&mut wheel, 300_000 + 2 * YEAR + 6), 0);
        assert_eq!(advance(&mut wheel, 300_000 + 2 * YEAR + 7), 1);
        assert_eq!(counter.count(), 2);
        wheel.remove(key);
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn set_waker_keeps_equal_and_replaces_other() {
        let mut wheel = Wheel::new();
        let (first, waker) = counting_waker();
        let key = wheel.insert(10, waker.clone());
        wheel.set_waker(key, &waker);
        let (second, other) = counting_waker();
        wheel.set_waker(key, &other);
        assert_eq!(advance(&mut wheel, 10), 1);
        assert_eq!((first.count(), second.count()), (0, 1));
    }

    #[test]
    fn advance_backwards_is_a_no_op() {
        let mut wheel = Wheel::new();
        let (_c, waker) = counting_waker();
        let key = wheel.insert(500, waker);
        advance(&mut wheel, 400);
        assert_eq!(advance(&mut wheel, 100), 0);
        assert_eq!(wheel.elapsed(), 400);
        assert!(!wheel.is_fired(key));
        assert_eq!(advance(&mut wheel, 500), 1);
    }

    #[test]
    fn far_deadlines_fire_on_time() {
        // Top level wrapping into its next turn: from the last top slot of the
        // first turn to one tick into the second.
        let mut wheel = Wheel::new();
        let start = 63 * (1 << 30) + 5;
        advance(&mut wheel, start);
        let (counter, waker) = counting_waker();
        let key = wheel.insert(WHEEL_RANGE + 1, waker.clone());
        assert_next_not_after(&wheel, Some(WHEEL_RANGE + 1));
        assert_eq!(advance(&mut wheel, WHEEL_RANGE), 0);
        assert_eq!(advance(&mut wheel, WHEEL_RANGE + 1), 1);
        assert_eq!(counter.count(), 1);
        wheel.remove(key);

        // Overflow: far beyond the wheel, including "never".
        let now = wheel.elapsed();
        let far = [
            now + WHEEL_RANGE,
            now + 5 * WHEEL_RANGE + 3,
            now + 1000 * YEAR,
            u64::MAX,
        ];
        let timers: Vec<_> = far
            .iter()
            .map(|&d| {
                let (counter, waker) = counting_waker();
                (d, counter, wheel.insert(d, waker))
            })
            .collect();
        for (deadline, counter, key) in &timers {
            assert_next_not_after(&wheel, Some(*deadline));
            assert_eq!(advance(&mut wheel, deadline - 1), 0);
            assert_eq!(advance(&mut wheel, *deadline), 1);
            assert!(wheel.is_fired(*key));
            assert_eq!(counter.count(), 1);
        }
        assert_eq!(wheel.elapsed(), u64::MAX);
    }

    #[test]
    fn sleep_forever_costs_few_steps() {
        let mut wheel = Wheel::new();
        let (counter, waker) = counting_waker();
        wheel.insert(u64::MAX, waker);
        // A paused clock auto-advancing to each next expiration.
        let mut jumps = 0;
        while let Some(at) = wheel.next_expiration() {
            advance(&mut wheel, at);
            jumps += 1;
        }
        assert_eq!(counter.count(), 1);
        assert!(jumps <= 8, "{jumps} jumps");
    }

    #[test]
    fn hour_jump_takes_few_steps() {
        let mut wheel = Wheel::new();
        assert_eq!(advance(&mut wheel, HOUR), 0);
        assert_eq!(wheel.steps, 0);
        let counters: Vec<_> = [HOUR + 1000, HOUR + HOUR / 2, 2 * HOUR - 1]
            .iter()
            .map(|&d| {
                let (counter, waker) = counting_waker();
                wheel.insert(d, waker);
                counter
            })
            .collect();
        assert_eq!(advance(&mut wheel, 2 * HOUR), 3);
        // Each timer is visited at most once per level on its way down: an hour
        // is < 2^22 ticks, so at most 4 levels.
        assert!(wheel.steps <= 12, "{} steps", wheel.steps);
        assert!(counters.iter().all(|c| c.count() == 1));
    }

    #[test]
    fn a_million_inserts_then_removes() {
        let mut wheel = Wheel::new();
        let (counter, waker) = counting_waker();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let keys: Vec<_> = (0..1_000_000)
            .map(|_| wheel.insert(1 + rng.below(1 << 40), waker.clone()))
            .collect();
        assert_eq!(wheel.len(), 1_000_000);
        let capacity = wheel.entries.capacity();
        advance(&mut wheel, 1000);
        let fired = counter.count();
        // Remove in an order unrelated to insertion (odd keys, then even).
        for key in keys.iter().skip(1).step_by(2).chain(keys.iter().step_by(2)) {
            wheel.remove(*key);
        }
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_expiration(), None);
        assert!(wheel
            .levels
            .iter()
            .all(|l| l.occupied == 0 && l.heads.iter().all(|&h| h == NONE)));
        assert_eq!(wheel.overflow, NONE);
        // The slab reuses the freed entries.
        for _ in 0..1_000_000 {
            wheel.insert(u64::MAX, waker.clone());
        }
        assert_eq!(wheel.entries.capacity(), capacity);
        assert_eq!(advance(&mut wheel, 1 << 41), 0);
        assert_eq!(counter.count(), fired);
    }

    /// xorshift64*.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// A span of ticks, from tiny to far beyond the wheel.
        fn span(&mut self) -> u64 {
            let max = [64, 5000, 1 << 22, 1 << 31, 1 << 37, 1 << 40][self.below(6) as usize];
            self.below(max)
        }
    }

    struct ModelTimer {
        deadline: u64,
        fired: bool,
        /// The wheel holds a waker: from insert or set_waker until advance fires it.
        armed: bool,
        counter: Arc<Counter>,
        waker: Waker,
        wakes: usize,
    }

    /// Random operations checked against a model: a BTreeMap of timers and a
    /// BTreeSet of pending (deadline, key).
    fn model_test(seed: u64, ops: usize) {
        let mut rng = Rng(seed);
        let mut wheel = Wheel::new();
        let mut timers: BTreeMap<usize, ModelTimer> = BTreeMap::new();
        let mut pending: BTreeSet<(u64, usize)> = BTreeSet::new();
        let mut removed: Vec<(Arc<Counter>, usize)> = Vec::new();
        let mut now = 0u64;

        let pick_deadline = |rng: &mut Rng, now: u64| match rng.below(14) {
            0 => now.saturating_sub(rng.below(100)),
            1 => u64::MAX - rng.below(3),
            // Next to a slot or turn boundary of some level.
            2 | 3 => {
                let unit = 1u64 << (SLOT_BITS * (1 + rng.below(6) as u32));
                let boundary = (now / unit + 1 + rng.below(2)).saturating_mul(unit);
                boundary.saturating_add(rng.below(3)).saturating_sub(1)
            }
            _ => now.saturating_add(1 + rng.span()),
        };

        for op in 0..ops {
            let choice = rng.below(100);
            let any_key = |rng: &mut Rng, timers: &BTreeMap<usize, ModelTimer>| {
                (!timers.is_empty()).then(|| {
                    *timers
                        .keys()
                        .nth(rng.below(timers.len() as u64) as usize)
                        .unwrap()
                })
            };
            if choice < 30 || timers.is_empty() {
                let deadline = pick_deadline(&mut rng, now);
                let (counter, waker) = counting_waker();
                let key = wheel.insert(deadline, waker.clone());
                assert!(!timers.contains_key(&key.0));
                let fired = deadline <= now;
                if !fired {
                    pending.insert((deadline, key.0));
                }
                timers.insert(
                    key.0,
                    ModelTimer {
                        deadline,
                        fired,
                        armed: true,
                        counter,
                        waker,
                        wakes: 0,
                    },
                );
                assert_eq!(wheel.is_fired(key), fired);
            } else if choice < 50 {
                let key = any_key(&mut rng, &timers).unwrap();
                let timer = timers.remove(&key).unwrap();
                pending.remove(&(timer.deadline, key));
                wheel.remove(TimerKey(key));
                removed.push((timer.counter, timer.wakes));
            } else if choice < 65 {
                let key = any_key(&mut rng, &timers).unwrap();
                let deadline = pick_deadline(&mut rng, now);
                let timer = timers.get_mut(&key).unwrap();
                pending.remove(&(timer.deadline, key));
                wheel.reset(TimerKey(key), deadline);
                timer.deadline = deadline;
                timer.fired = deadline <= now;
                if !timer.fired {
                    pending.insert((deadline, key));
                }
                // What a Sleep does when polled again (most of the time); a reset
                // into the past wakes nobody either way.
                if rng.below(4) != 0 {
                    wheel.set_waker(TimerKey(key), &timer.waker);
                    timer.armed = true;
                }
                assert_eq!(wheel.is_fired(TimerKey(key)), timer.fired);
                assert_eq!(wheel.deadline(TimerKey(key)), deadline);
            } else {
                // Right onto, or just before, the earliest deadline or the next
                // expiration, unless that is the end of time.
                let near = |at: u64| (at - now < 1 << 41).then_some(at);
                let earliest = pending.first().and_then(|&(d, _)| near(d));
                let target = match rng.below(8) {
                    0 => earliest,
                    1 => earliest.map(|d| d - 1),
                    2 => wheel.next_expiration().and_then(near),
                    3 => Some(now.saturating_sub(rng.below(10))),
                    _ => None,
                };
                let target = target.unwrap_or_else(|| now.saturating_add(rng.span()));
                let mut wakers = Vec::new();
                wheel.advance(target, &mut wakers);
                now = now.max(target);
                let due: Vec<_> = pending.iter().take_while(|&&(d, _)| d <= now).copied().collect();
                let mut expected_wakes = 0;
                for (deadline, key) in due {
                    pending.remove(&(deadline, key));
                    let timer = timers.get_mut(&key).unwrap();
                    timer.fired = true;
                    if std::mem::take(&mut timer.armed) {
                        timer.wakes += 1;
                        expected_wakes += 1;
                    }
                }
                assert_eq!(wakers.len(), expected_wakes, "op {op}: advance to {target}");
                wakers.into_iter().for_each(Waker::wake);
                for (&key, timer) in &timers {
                    assert_eq!(wheel.is_fired(TimerKey(key)), timer.fired, "op {op}: timer {key}");
                    assert_eq!(timer.counter.count(), timer.wakes, "op {op}: timer {key}");
                }
            }
            assert_eq!(wheel.elapsed(), now);
            assert_eq!(wheel.len(), timers.len());
            check_invariants(&wheel);
            assert_next_not_after(&wheel, pending.first().map(|&(d, _)| d));
        }
        for (counter, wakes) in &removed {
            assert_eq!(counter.count(), *wakes, "a removed timer fired");
        }
        // Everything left fires by the end of time, each once.
        let mut wakers = Vec::new();
        wheel.advance(u64::MAX, &mut wakers);
        let armed = timers.values().filter(|t| !t.fired && t.armed).count();
        assert_eq!(wakers.len(), armed);
        assert!(timers.keys().all(|&key| wheel.is_fired(TimerKey(key))));
    }

    #[test]
    fn randomized_against_model() {
        for seed in [1, 0xdead_beef, 0x1234_5678_9abc_def0, 42] {
            model_test(seed, 10_000);
        }
    }
}
