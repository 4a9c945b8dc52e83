//! Where a [`Queue`](crate::Queue) keeps its items: first in first out,
//! last in first out, or smallest first. One enum rather than a type
//! parameter, so `Queue<T>` is one type whatever its order and `T: Ord` is
//! asked for only by [`Queue::priority`](crate::Queue::priority) (which
//! stores `T::cmp` as a function pointer).

use crate::mpsc::blocks::BlockDeque;
use std::cmp::Ordering;

/// An item on its way through the queue. `seq` is its place in put order,
/// kept only by the priority order (0 otherwise): it breaks ties between
/// equal items (first put, first out) and puts an item a cancelled getter
/// gives back exactly where it was.
pub(crate) struct Entry<T> {
    pub(crate) item: T,
    pub(crate) seq: u64,
}

pub(crate) enum Buffer<T> {
    /// In blocks of 32, freed as they drain (as the mpsc channels).
    Fifo(BlockDeque<T>),
    Lifo(Vec<T>),
    Heap(Heap<T>),
}

/// A binary min-heap on `(cmp(item), seq)`.
pub(crate) struct Heap<T> {
    items: Vec<Entry<T>>,
    cmp: fn(&T, &T) -> Ordering,
    next_seq: u64,
}

impl<T> Buffer<T> {
    pub(crate) fn fifo() -> Self {
        Buffer::Fifo(BlockDeque::new())
    }

    pub(crate) fn lifo() -> Self {
        Buffer::Lifo(Vec::new())
    }

    pub(crate) fn heap(cmp: fn(&T, &T) -> Ordering) -> Self {
        Buffer::Heap(Heap {
            items: Vec::new(),
            cmp,
            next_seq: 0,
        })
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Buffer::Fifo(q) => q.len(),
            Buffer::Lifo(v) => v.len(),
            Buffer::Heap(h) => h.items.len(),
        }
    }

    /// Gives an accepted item its place in put order.
    #[inline]
    pub(crate) fn stamp(&mut self, item: T) -> Entry<T> {
        let seq = match self {
            Buffer::Heap(h) => {
                h.next_seq += 1;
                h.next_seq
            }
            _ => 0,
        };
        Entry { item, seq }
    }

    /// Buffers a newly put item.
    #[inline]
    pub(crate) fn push(&mut self, item: T) {
        match self {
            Buffer::Fifo(q) => q.push_back(item),
            Buffer::Lifo(v) => v.push(item),
            Buffer::Heap(_) => {
                let e = self.stamp(item);
                self.push_entry(e);
            }
        }
    }

    /// Buffers a stamped item (a waiting putter's, moved in when room
    /// came).
    #[inline]
    pub(crate) fn push_entry(&mut self, e: Entry<T>) {
        match self {
            Buffer::Fifo(q) => q.push_back(e.item),
            Buffer::Lifo(v) => v.push(e.item),
            Buffer::Heap(h) => h.insert(e),
        }
    }

    /// Puts back an item a cancelled getter had been handed: at the head
    /// (FIFO), on top (LIFO: the next out, as it was), or at its place
    /// (priority, by its original `seq`).
    pub(crate) fn push_returned(&mut self, e: Entry<T>) {
        match self {
            Buffer::Fifo(q) => q.push_front(e.item),
            Buffer::Lifo(v) => v.push(e.item),
            Buffer::Heap(h) => h.insert(e),
        }
    }

    /// The next item out.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Entry<T>> {
        match self {
            Buffer::Fifo(q) => q.pop_front().map(|item| Entry { item, seq: 0 }),
            Buffer::Lifo(v) => v.pop().map(|item| Entry { item, seq: 0 }),
            Buffer::Heap(h) => h.pop(),
        }
    }
}

impl<T> Heap<T> {
    fn less(&self, a: usize, b: usize) -> bool {
        let (a, b) = (&self.items[a], &self.items[b]);
        (self.cmp)(&a.item, &b.item).then(a.seq.cmp(&b.seq)) == Ordering::Less
    }

    fn insert(&mut self, e: Entry<T>) {
        self.items.push(e);
        let mut i = self.items.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.less(i, parent) {
                break;
            }
            self.items.swap(i, parent);
            i = parent;
        }
    }

    fn pop(&mut self) -> Option<Entry<T>> {
        let n = self.items.len();
        if n == 0 {
            return None;
        }
        self.items.swap(0, n - 1);
        let top = self.items.pop();
        let n = n - 1;
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut min = i;
            if l < n && self.less(l, min) {
                min = l;
            }
            if r < n && self.less(r, min) {
                min = r;
            }
            if min == i {
                break;
            }
            self.items.swap(i, min);
            i = min;
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_pops_smallest_first_and_ties_in_put_order() {
        let mut b = Buffer::heap(|a: &(u8, char), b: &(u8, char)| a.0.cmp(&b.0));
        for x in [
            (3, 'a'),
            (1, 'b'),
            (2, 'c'),
            (1, 'd'),
            (3, 'e'),
            (0, 'f'),
            (1, 'g'),
        ] {
            b.push(x);
        }
        let out: Vec<_> = std::iter::from_fn(|| b.pop().map(|e| e.item.1)).collect();
        assert_eq!(out, ['f', 'b', 'd', 'g', 'c', 'a', 'e']);
    }

    #[test]
    fn returned_items_go_back_where_they_were() {
        let mut f = Buffer::fifo();
        f.push(1);
        f.push(2);
        let e = f.pop().unwrap();
        f.push(3);
        f.push_returned(e);
        assert_eq!(f.pop().unwrap().item, 1);

        let mut h = Buffer::heap(u8::cmp);
        h.push(5);
        h.push(5);
        let first = h.pop().unwrap();
        h.push(5);
        h.push_returned(first);
        let seqs: Vec<_> = std::iter::from_fn(|| h.pop().map(|e| e.seq)).collect();
        assert_eq!(seqs, [1, 2, 3]);
    }
}
