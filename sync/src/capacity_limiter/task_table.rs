//! The task borrowers' tickets: a small open-addressing table from a task
//! [`Id`] to its [`Ticket`], for the limiter's hot path (an `acquire` as
//! the current task, its release).
//!
//! Why not a `HashMap`: every acquire/release cycle makes one lookup-or-
//! insert and one lookup-and-remove, and a general map spends much of
//! each on hashing through `Hasher`, group probing and entry bookkeeping
//! (with it, `State::enter` and `State::take_back` cost 78 and 74
//! instructions per call in the `capacity_limiter_4_of_64` workload; with
//! this table 67 and 65, under callgrind). Here the key is a plain `u64`
//! (task ids are non-zero and handed out in sequence), hashed with one multiplication (Fibonacci
//! hashing: the ids of tasks alive together are consecutive or nearly so,
//! and the golden-ratio multiplier spreads any run of consecutive keys
//! evenly over the slots) and probed linearly.
//!
//! Removal only marks the entry [`GONE`]: a task usually borrows again
//! soon, and its next acquire then finds its own slot and overwrites the
//! ticket in place, so a steady acquire/release cycle writes one word each
//! way and never moves an entry. Gone entries are swept (the table is
//! rebuilt from the live ones) once they are the majority, amortised O(1)
//! per removal, so the table follows the borrowers alive now rather than
//! every task that ever borrowed.
//!
//! Invariants (every method keeps them; `check` asserts them in tests):
//! - `slots.len()` is zero or a power of two, at least [`MIN_CAPACITY`];
//! - an id of 0 marks an empty slot (a task id is never 0);
//! - `len` slots are full (live or gone), `gone` of them gone, and
//!   `len * 2 <= slots.len()` (load at most one half, so probes are short
//!   and a probe always meets an empty slot);
//! - every full slot lies on the probe run from its ideal slot (no empty
//!   slot between the two: slots are never emptied, only rebuilt).

use super::Ticket;
use corral_runtime::task::Id;

/// Slots allocated on the first insert.
const MIN_CAPACITY: usize = 16;

/// The ticket of an entry whose task neither holds nor waits any more (a
/// real ticket never gets this high).
const GONE: Ticket = Ticket::MAX;

/// Gone entries tolerated before a sweep, whatever the live count.
const SWEEP_AFTER: usize = 32;

#[derive(Clone, Copy)]
struct Slot {
    /// The task id as a number; 0: empty.
    id: u64,
    ticket: Ticket,
}

const EMPTY: Slot = Slot { id: 0, ticket: 0 };

/// Where an entry was put: its slot index, remembered by the borrower's
/// waiter node and token so that the release finds the entry without a
/// probe. Only a hint: a rebuild (growth, sweep) moves entries, and a
/// hint that no longer names the id's slot falls back to a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hint(usize);

impl Hint {
    /// No slot known: probe.
    pub(super) const NONE: Hint = Hint(usize::MAX);
}

impl Default for Hint {
    fn default() -> Self {
        Hint::NONE
    }
}

/// Task id -> ticket. See the module docs.
#[derive(Default)]
pub(super) struct TaskTable {
    slots: Box<[Slot]>,
    /// Full slots, gone ones included.
    len: usize,
    /// Full slots marked [`GONE`].
    gone: usize,
}

/// Where a probe for an id ended.
enum Probe {
    /// The id is in this slot.
    Found(usize),
    /// The id is absent; this empty slot ends its probe run.
    Vacant(usize),
}

impl TaskTable {
    /// Live entries.
    #[cfg(all(test, not(loom)))]
    pub(super) fn len(&self) -> usize {
        self.len - self.gone
    }

    /// The ideal slot of `id` (Fibonacci hashing: the top bits of the
    /// product with 2^64 / golden ratio).
    #[inline]
    fn ideal(&self, id: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Walks the probe run of `id`. The table must have slots.
    #[inline]
    fn probe(&self, id: u64) -> Probe {
        let mask = self.mask();
        let mut i = self.ideal(id);
        loop {
            let slot = self.slots[i];
            if slot.id == id {
                return Probe::Found(i);
            }
            if slot.id == 0 {
                return Probe::Vacant(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The ticket of `id`, if it is recorded.
    #[cfg(all(test, not(loom)))]
    pub(super) fn get(&self, id: Id) -> Option<Ticket> {
        if self.len == 0 {
            return None;
        }
        match self.probe(id.as_u64()) {
            Probe::Found(i) if self.slots[i].ticket != GONE => Some(self.slots[i].ticket),
            _ => None,
        }
    }

    /// Records `id` with `fresh` (if given) unless it is recorded already:
    /// then returns its ticket and leaves it alone. One probe (two when
    /// the table must grow first). `Ok` carries the entry's slot, a
    /// [`Hint`] for the removal ([`Hint::NONE`] if nothing was recorded).
    #[inline]
    pub(super) fn admit(&mut self, id: Id, fresh: Option<Ticket>) -> Result<Hint, Ticket> {
        let id = id.as_u64();
        if self.slots.is_empty() {
            let Some(ticket) = fresh else {
                return Ok(Hint::NONE);
            };
            self.resize(MIN_CAPACITY);
            return Ok(self.insert_new(id, ticket));
        }
        match self.probe(id) {
            Probe::Found(i) => {
                let slot = &mut self.slots[i];
                if slot.ticket != GONE {
                    return Err(slot.ticket);
                }
                // Its own gone entry: reuse it in place.
                let Some(ticket) = fresh else {
                    return Ok(Hint::NONE);
                };
                slot.ticket = ticket;
                self.gone -= 1;
                Ok(Hint(i))
            }
            Probe::Vacant(i) => {
                let Some(ticket) = fresh else {
                    return Ok(Hint::NONE);
                };
                if (self.len + 1) * 2 > self.slots.len() {
                    self.resize(self.slots.len() * 2);
                    return Ok(self.insert_new(id, ticket));
                }
                self.slots[i] = Slot { id, ticket };
                self.len += 1;
                Ok(Hint(i))
            }
        }
    }

    /// Inserts an id known to be absent, with room for it.
    fn insert_new(&mut self, id: u64, ticket: Ticket) -> Hint {
        match self.probe(id) {
            Probe::Vacant(i) => {
                self.slots[i] = Slot { id, ticket };
                self.len += 1;
                Hint(i)
            }
            Probe::Found(_) => unreachable!("task id {id} recorded twice"),
        }
    }

    /// Removes `id` if it is recorded and `pred(ticket)` is true; returns
    /// whether it did. Looks at the slot `hint` names first (where
    /// [`admit`](Self::admit) put the entry: still there unless the table
    /// was rebuilt since, which the id check notices), and probes only if
    /// the entry is not there.
    #[inline]
    pub(super) fn remove_if(&mut self, id: Id, hint: Hint, pred: impl FnOnce(Ticket) -> bool) -> bool {
        let id = id.as_u64();
        // Ids are unique in the table, so the slot holding `id` is its entry.
        let i = match self.slots.get(hint.0) {
            Some(slot) if slot.id == id => hint.0,
            _ => {
                if self.len == 0 {
                    return false;
                }
                match self.probe(id) {
                    Probe::Found(i) => i,
                    Probe::Vacant(_) => return false,
                }
            }
        };
        let slot = &mut self.slots[i];
        if slot.ticket == GONE || !pred(slot.ticket) {
            return false;
        }
        slot.ticket = GONE;
        self.gone += 1;
        if self.gone > SWEEP_AFTER && self.gone * 2 > self.len {
            self.sweep();
        }
        true
    }

    /// Removes `id`; returns its ticket if it was recorded.
    pub(super) fn remove(&mut self, id: Id, hint: Hint) -> Option<Ticket> {
        let mut ticket = None;
        self.remove_if(id, hint, |t| {
            ticket = Some(t);
            true
        });
        ticket
    }

    /// Rebuilds the table from its live entries, at most a quarter full.
    #[cold]
    fn sweep(&mut self) {
        let live = self.len - self.gone;
        self.resize((live * 4).next_power_of_two().max(MIN_CAPACITY));
    }

    /// Moves the live entries into `capacity` fresh slots (gone ones are
    /// dropped).
    fn resize(&mut self, capacity: usize) {
        debug_assert!(capacity.is_power_of_two() && capacity >= MIN_CAPACITY);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; capacity].into_boxed_slice());
        self.len = 0;
        self.gone = 0;
        for slot in old.iter().filter(|s| s.id != 0 && s.ticket != GONE) {
            let _ = self.insert_new(slot.id, slot.ticket);
        }
    }

    /// Every recorded id and its ticket.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Id, Ticket)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.ticket != GONE)
            .filter_map(|s| Id::from_u64(s.id).map(|id| (id, s.ticket)))
    }

    #[cfg(all(test, not(loom)))]
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Asserts the invariants of the module docs.
    #[cfg(all(test, not(loom)))]
    pub(super) fn check(&self) {
        let cap = self.slots.len();
        assert!(cap == 0 || (cap.is_power_of_two() && cap >= MIN_CAPACITY));
        let full = self.slots.iter().filter(|s| s.id != 0).count();
        assert_eq!(full, self.len);
        let gone = self
            .slots
            .iter()
            .filter(|s| s.id != 0 && s.ticket == GONE)
            .count();
        assert_eq!(gone, self.gone);
        assert!(self.len * 2 <= cap || cap == 0);
        for (i, s) in self.slots.iter().enumerate().filter(|(_, s)| s.id != 0) {
            let mut k = self.ideal(s.id);
            while k != i {
                assert!(self.slots[k].id != 0, "hole in the probe run of {}", s.id);
                k = (k + 1) & self.mask();
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn id(n: u64) -> Id {
        Id::from_u64(n).unwrap()
    }

    /// Random inserts and removes against a `HashMap` model, with ids drawn
    /// from a small range so probe runs collide, wrap around the end, and
    /// are marked gone, reused and swept; the invariants hold after every
    /// step.
    #[test]
    fn agrees_with_a_hash_map() {
        let mut table = TaskTable::default();
        let mut model: HashMap<u64, Ticket> = HashMap::new();
        let mut hints: HashMap<u64, Hint> = HashMap::new();
        // The hint admit gave (perhaps stale by now), or sometimes none or
        // one that names another entry's slot.
        fn hint(hints: &HashMap<u64, Hint>, n: u64, step: u64) -> Hint {
            match step % 4 {
                0 => Hint::NONE,
                1 => Hint((n as usize) % 16),
                _ => hints.get(&n).copied().unwrap_or(Hint::NONE),
            }
        }
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // A moving window of ids, as tasks come and go.
            let n = x % 97 + 1 + step / 200;
            match x >> 62 {
                0 | 1 => {
                    let r = table.admit(id(n), Some(step));
                    match model.get(&n) {
                        Some(&t) => assert_eq!(r, Err(t)),
                        None => {
                            let hint = r.expect("absent: admitted");
                            assert_eq!(table.slots[hint.0].id, n, "the hint names the entry");
                            hints.insert(n, hint);
                            model.insert(n, step);
                        }
                    }
                }
                // A stale hint (the table was rebuilt since) or none at all
                // finds the entry all the same.
                2 => assert_eq!(table.remove(id(n), hint(&hints, n, step)), model.remove(&n)),
                _ => {
                    let limit = step / 2;
                    let want = model.get(&n).is_some_and(|&t| t < limit);
                    assert_eq!(table.remove_if(id(n), hint(&hints, n, step), |t| t < limit), want);
                    if want {
                        model.remove(&n);
                    }
                }
            }
            assert_eq!(table.get(id(n)), model.get(&n).copied());
            assert_eq!(table.len(), model.len());
            table.check();
        }
        let mut all: Vec<_> = table.iter().map(|(i, t)| (i.as_u64(), t)).collect();
        let mut want: Vec<_> = model.into_iter().collect();
        all.sort_unstable();
        want.sort_unstable();
        assert_eq!(all, want);
    }

    /// `admit` without a ticket only looks; a recorded id is reported, not
    /// overwritten.
    #[test]
    fn admit_reports_without_overwriting() {
        let mut table = TaskTable::default();
        assert_eq!(table.admit(id(7), None), Ok(Hint::NONE));
        assert_eq!(table.get(id(7)), None);
        let hint = table.admit(id(7), Some(3)).unwrap();
        assert_eq!(table.admit(id(7), Some(9)), Err(3));
        assert_eq!(table.get(id(7)), Some(3));
        assert!(!table.remove_if(id(7), hint, |t| t > 3));
        assert!(table.remove_if(id(7), hint, |t| t == 3));
        assert_eq!(table.get(id(7)), None);
    }

    /// The table grows with a crowd of borrowers and shrinks (is swept)
    /// after it.
    #[test]
    fn grows_and_shrinks() {
        let mut table = TaskTable::default();
        for n in 1..=10_000 {
            table.admit(id(n), Some(n)).unwrap();
        }
        assert!(table.capacity() >= 20_000);
        table.check();
        for n in 1..=9_990 {
            assert_eq!(table.remove(id(n), Hint::NONE), Some(n));
        }
        table.check();
        assert!(table.capacity() <= 256, "capacity {}", table.capacity());
        assert_eq!(table.len(), 10);
    }
}
