//! A double-ended queue of fixed blocks: the item buffer of the mpsc and
//! mpmc channels and of a FIFO [`Queue`](crate::Queue).
//!
//! # Why not a `VecDeque`
//!
//! A `VecDeque` doubles when full, so a buffer that a burst grew to just
//! over a power of two holds almost twice the slots it needs (13 heap
//! bytes per buffered `u64` at 10,000 items, against tokio's 9), and it
//! copies every item on each doubling. Here the items live in blocks of
//! [`BLOCK`] slots: a burst of `n` items holds `ceil(n / BLOCK)` blocks
//! (plus one pointer per block in a small `VecDeque` of block pointers),
//! about 8.3 bytes per `u64` at every size, no item is ever moved after it
//! is written, and a block is freed as soon as its last item leaves.
//!
//! # Layout, and the invariant
//!
//! `blocks` holds boxed blocks, front first. The items are at the logical
//! positions `head .. head + len`, counted from slot 0 of `blocks[0]`:
//! position `p` is slot `p % BLOCK` of `blocks[p / BLOCK]`. Exactly those
//! slots are initialised. `blocks` holds the blocks that cover those
//! positions and no more, except that an empty deque keeps (at most) the
//! one block it drained, with `head` reset to 0, so a channel that
//! alternates one push and one pop never allocates; `head < BLOCK` always.
//! The pop of one item is a few instructions inline; adding or releasing a
//! block (once per 32 items) is out of line.
//!
//! One more block (`spare`) is kept off the list: the block the front
//! freed, reused by the next push that needs a block, so a steady stream
//! through a channel holding a few dozen items allocates nothing either.
//! As the blocks are released, the block-pointer `VecDeque` is shrunk when
//! it is a quarter full, so an idle channel holds at most two blocks and a
//! few pointers.
//!
//! # Unsafe
//!
//! Writing a slot is safe (`MaybeUninit::write`). Reading an item out
//! (`assume_init_read`) is the only `unsafe`, in `pop_front` (and the
//! `Drop` that pops), justified by the invariant above.

use std::collections::VecDeque;
use std::mem::MaybeUninit;

/// Slots per block. tokio's mpsc uses 32 too: small enough that a short
/// channel wastes little, large enough that the block pointers are noise.
pub(crate) const BLOCK: usize = 32;

/// One block of slots; which are initialised is the deque's business.
type Block<T> = Box<[MaybeUninit<T>; BLOCK]>;

/// The block-pointer deque is shrunk (to twice what it holds) once it holds
/// a quarter of its room, if that room is more than this (in blocks).
const SHRINK_POINTERS_ABOVE: usize = 16;

/// A FIFO (with a push at the front for items given back) in fixed blocks;
/// see the [module docs](self).
pub(crate) struct BlockDeque<T> {
    blocks: VecDeque<Block<T>>,
    /// Position of the first item in `blocks[0]` (`< BLOCK`).
    head: usize,
    len: usize,
    /// A free block kept for the next push that needs one.
    spare: Option<Block<T>>,
}

impl<T> Default for BlockDeque<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> BlockDeque<T> {
    /// An empty deque; allocates nothing until the first push.
    pub(crate) const fn new() -> Self {
        BlockDeque {
            blocks: VecDeque::new(),
            head: 0,
            len: 0,
            spare: None,
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a block at the back (once per `BLOCK` pushes: out of line, so
    /// the push stays small enough to inline).
    #[cold]
    #[inline(never)]
    fn add_back(&mut self) {
        let b = self.block();
        self.blocks.push_back(b);
    }

    /// A free block: the spare, else a fresh allocation.
    #[inline]
    fn block(&mut self) -> Block<T> {
        match self.spare.take() {
            Some(b) => b,
            None => Self::alloc(),
        }
    }

    #[cold]
    fn alloc() -> Block<T> {
        // Allocated uninitialised (no zeroing, no copy of a large array
        // through the stack); the conversion only checks the length.
        let slots: Box<[MaybeUninit<T>]> = Box::new_uninit_slice(BLOCK);
        match slots.try_into() {
            Ok(b) => b,
            Err(_) => unreachable!("a slice of BLOCK slots is a block"),
        }
    }

    /// Appends at the back.
    #[inline]
    pub(crate) fn push_back(&mut self, value: T) {
        let pos = self.head + self.len;
        let slot = pos % BLOCK;
        // The blocks cover `0 .. head + len` (rounded up to whole blocks),
        // or one block when empty: a new one is needed exactly when the
        // next position starts a block that is not there yet.
        if slot == 0 && pos / BLOCK == self.blocks.len() {
            self.add_back();
        }
        let back = self.blocks.back_mut().expect("the back block exists");
        back[slot].write(value);
        self.len += 1;
    }

    /// Puts `value` before the first item (an item given back by a
    /// cancelled receiver); a block is added at the front when the first
    /// one has no room before its head.
    pub(crate) fn push_front(&mut self, value: T) {
        if self.len == 0 {
            return self.push_back(value);
        }
        if self.head == 0 {
            let b = self.block();
            self.blocks.push_front(b);
            self.head = BLOCK;
        }
        self.head -= 1;
        let front = self.blocks.front_mut().expect("the front block exists");
        front[self.head].write(value);
        self.len += 1;
    }

    /// Removes and returns the first item.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let front = self.blocks.front_mut().expect("a non-empty deque has a block");
        // SAFETY: `len > 0`, so position `head` holds an item (the module
        // invariant: exactly the slots of `head .. head + len` are
        // initialised); `head` moves past it below, so it is read once.
        let value = unsafe { front[self.head].assume_init_read() };
        self.head += 1;
        self.len -= 1;
        if self.len == 0 {
            // The last item left: only the front block can have held it
            // (every block before it is used up and gone); keep it, from
            // position 0.
            self.head = 0;
        } else if self.head == BLOCK {
            self.release_front();
        }
        Some(value)
    }

    /// The front block is used up (its items all read): keep it as the
    /// spare (freeing the previous spare, if any), and give back block
    /// pointers a burst left unused (so a drained burst frees them too).
    #[cold]
    #[inline(never)]
    fn release_front(&mut self) {
        self.spare = self.blocks.pop_front();
        self.head = 0;
        let (held, cap) = (self.blocks.len(), self.blocks.capacity());
        if cap > SHRINK_POINTERS_ABOVE && held * 4 <= cap {
            self.blocks.shrink_to(held * 2);
        }
    }

    /// Moves up to `n` items from the front into `out`.
    pub(crate) fn pop_into(&mut self, out: &mut Vec<T>, n: usize) -> usize {
        let n = n.min(self.len);
        out.reserve(n);
        for _ in 0..n {
            match self.pop_front() {
                Some(v) => out.push(v),
                None => unreachable!("n is at most len"),
            }
        }
        n
    }

    /// Blocks held (for tests of the memory bound).
    #[cfg(test)]
    fn blocks_held(&self) -> usize {
        self.blocks.len() + usize::from(self.spare.is_some())
    }
}

impl<T> Drop for BlockDeque<T> {
    fn drop(&mut self) {
        if std::mem::needs_drop::<T>() {
            while self.pop_front().is_some() {}
        }
        // The blocks themselves are `MaybeUninit`: freed without touching
        // their slots.
    }
}

// `Block<T>` is `Box<[MaybeUninit<T>; BLOCK]>`: Send/Sync follow `T`, as
// for `VecDeque<T>`, with no manual impl needed.

impl<T: std::fmt::Debug> std::fmt::Debug for BlockDeque<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockDeque")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Counts its drops in a shared cell.
    struct Counted(Rc<Cell<usize>>, #[allow(dead_code)] usize);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn fifo_order_across_blocks() {
        let mut d = BlockDeque::new();
        for i in 0..1000 {
            d.push_back(i);
        }
        assert_eq!(d.len(), 1000);
        for i in 0..1000 {
            assert_eq!(d.pop_front(), Some(i));
        }
        assert_eq!(d.pop_front(), None);
        assert!(d.is_empty());
    }

    #[test]
    fn interleaved_push_pop_matches_a_vecdeque() {
        let mut d = BlockDeque::new();
        let mut model = VecDeque::new();
        let mut next = 0u32;
        // A deterministic mix of bursts, drains, and front pushes.
        let mut x = 12345u32;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match x % 7 {
                0..=2 => {
                    d.push_back(next);
                    model.push_back(next);
                    next += 1;
                }
                3 => {
                    d.push_front(next);
                    model.push_front(next);
                    next += 1;
                }
                4 => {
                    let k = (x >> 8) as usize % 100;
                    for _ in 0..k {
                        d.push_back(next);
                        model.push_back(next);
                        next += 1;
                    }
                }
                _ => assert_eq!(d.pop_front(), model.pop_front()),
            }
            assert_eq!(d.len(), model.len());
        }
        let mut out = Vec::new();
        let n = d.pop_into(&mut out, usize::MAX);
        assert_eq!(n, model.len());
        assert!(out.into_iter().eq(model));
    }

    #[test]
    fn push_front_goes_before_everything() {
        let mut d = BlockDeque::new();
        d.push_front(1);
        d.push_back(2);
        d.push_front(0);
        // The front block had no room before its head: one was added.
        for i in 0..BLOCK * 2 {
            d.push_front(100 + i);
        }
        let mut out = Vec::new();
        d.pop_into(&mut out, usize::MAX);
        let mut want: Vec<usize> = (0..BLOCK * 2).rev().map(|i| 100 + i).collect();
        want.extend([0, 1, 2]);
        assert_eq!(out, want);
    }

    #[test]
    fn drop_drops_every_item_of_partly_filled_blocks() {
        let drops = Rc::new(Cell::new(0));
        {
            let mut d = BlockDeque::new();
            // Three blocks: the first read from the middle, the last
            // partly filled, and a block added at the front for two
            // given-back items.
            for i in 0..70 {
                d.push_back(Counted(drops.clone(), i));
            }
            for _ in 0..10 {
                drop(d.pop_front());
            }
            assert_eq!(drops.get(), 10);
            d.push_front(Counted(drops.clone(), 1000));
            for _ in 0..10 {
                drop(d.pop_front());
            }
            for i in 0..BLOCK + 3 {
                d.push_front(Counted(drops.clone(), 2000 + i));
            }
            assert_eq!(d.len(), 70 - 20 + 1 + BLOCK + 3);
            assert_eq!(drops.get(), 20);
        }
        // Every item made was dropped exactly once: 70 + 1 + BLOCK + 3.
        assert_eq!(drops.get(), 70 + 1 + BLOCK + 3);
    }

    #[test]
    fn memory_is_freed_as_a_burst_drains() {
        let mut d = BlockDeque::new();
        for i in 0..10_000u64 {
            d.push_back(i);
        }
        // ceil(10_000 / 32) blocks, no more.
        assert_eq!(d.blocks_held(), 10_000usize.div_ceil(BLOCK));
        for _ in 0..5_000 {
            d.pop_front();
        }
        // The used-up blocks are gone (one kept as the spare).
        assert!(d.blocks_held() <= 5_000usize.div_ceil(BLOCK) + 2);
        while d.pop_front().is_some() {}
        assert!(d.blocks_held() <= 2, "{} blocks held when empty", d.blocks_held());
        assert!(
            d.blocks.capacity() <= SHRINK_POINTERS_ABOVE,
            "{}",
            d.blocks.capacity()
        );
        // Steady one-in one-out traffic allocates nothing more.
        for i in 0..1000 {
            d.push_back(i);
            assert_eq!(d.pop_front(), Some(i));
        }
        assert!(d.blocks_held() <= 2);
    }

    #[test]
    fn zero_sized_items() {
        let mut d = BlockDeque::new();
        for _ in 0..100 {
            d.push_back(());
        }
        d.push_front(());
        assert_eq!(d.len(), 101);
        let mut n = 0;
        while d.pop_front().is_some() {
            n += 1;
        }
        assert_eq!(n, 101);
    }
}
