//! Heap bytes per buffered item of a FIFO [`Queue`](corral::sync::Queue)
//! (issue 10: no more than tokio's mpsc, about 9.1 bytes per `u64` at
//! 10,000 items), and the memory a drained burst leaves behind.
//!
//! A counting global allocator, per thread (each test counts its own).

use corral::sync::Queue;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the allocator may run while a thread is torn down.
    let _ = LIVE.try_with(|l| l.set(l.get() + delta));
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller keeps `alloc`'s contract, which is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

const TOKIO_BYTES_PER_ITEM: f64 = 9.1;
const KEPT_AFTER_DRAIN: isize = 1024;

/// What is wrong with `q`'s figures at `n` buffered items, if anything.
fn check(q: &Queue<u64>, n: usize, what: &str, misses: &mut Vec<String>) {
    q.put_nowait(0).unwrap();
    q.get_nowait().unwrap();
    let before = live();
    for i in 0..n as u64 {
        q.put_nowait(i).unwrap();
    }
    let per_item = (live() - before) as f64 / n as f64;
    if per_item > TOKIO_BYTES_PER_ITEM {
        misses.push(format!(
            "{what} at {n} items: {per_item:.2} heap bytes per u64 (tokio: {TOKIO_BYTES_PER_ITEM})"
        ));
    }
    for i in 0..n as u64 {
        assert_eq!(q.get_nowait().unwrap(), i);
    }
    let left = live() - before;
    if left > KEPT_AFTER_DRAIN {
        misses.push(format!("{what}: {left} bytes kept after {n} items drained"));
    }
}

#[test]
fn fifo_queue_holds_no_more_than_tokio_per_item_and_frees_a_drained_burst() {
    let mut misses = Vec::new();
    for n in [1_000, 10_000, 100_000] {
        check(&Queue::unbounded(), n, "Queue::unbounded", &mut misses);
        check(&Queue::with_maxsize(n), n, "Queue::with_maxsize", &mut misses);
    }
    assert!(misses.is_empty(), "{misses:#?}");
}
