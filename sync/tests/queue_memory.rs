//! Heap bytes per buffered item of a FIFO [`Queue`](corral::sync::Queue)
//! (issue 10: no more than tokio's mpsc, about 9.1 bytes per `u64` at
//! 10,000 items), and the memory a drained burst leaves behind.
//!
//! A counting global allocator, per thread (each test counts its own).

use corral::sync::Queue;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live;

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
