//! Heap bytes per buffered item of the mpsc and mpmc channels (issue 10:
//! no more than tokio's, whose unbounded channel keeps items in blocks of
//! 32 slots: about 9.1 bytes per `u64` at 10,000 items, 9.7 at 1,000), and
//! the memory a drained burst leaves behind.
//!
//! A counting global allocator, per thread (the test harness runs tests
//! on several threads; each test only counts its own).

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live;

/// tokio's unbounded mpsc at 10,000 `u64` items, the bound of issue 10
/// (its 32-slot blocks with their headers: 288 bytes per 32 items, 9.0,
/// plus the partly filled last block).
const TOKIO_BYTES_PER_ITEM: f64 = 9.1;

/// Heap bytes per item while `n` items are buffered by `push`, and the
/// bytes still held once `pop` has drained them all.
fn per_item_and_after_drain(
    n: usize,
    mut push: impl FnMut(u64),
    mut pop: impl FnMut() -> u64,
) -> (f64, isize) {
    let before = live();
    for i in 0..n as u64 {
        push(i);
    }
    let per_item = (live() - before) as f64 / n as f64;
    for i in 0..n as u64 {
        assert_eq!(pop(), i);
    }
    (per_item, live() - before)
}

/// What an emptied channel may keep: a block or two for reuse.
const KEPT_AFTER_DRAIN: isize = 1024;

#[test]
fn unbounded_mpsc_holds_no_more_than_tokio_per_item_and_frees_a_drained_burst() {
    let mut misses = Vec::new();
    for n in [1_000, 10_000, 100_000] {
        let (tx, mut rx) = corral::sync::mpsc::unbounded_channel::<u64>();
        // The channel's first block is allocated and kept: steady state.
        tx.send(0).unwrap();
        rx.try_recv().unwrap();
        let (per_item, left) =
            per_item_and_after_drain(n, |i| tx.send(i).unwrap(), || rx.try_recv().unwrap());
        misses.extend(judge("unbounded mpsc", n, per_item, left));
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

/// What is wrong with the figures at `n` items, if anything.
fn judge(what: &str, n: usize, per_item: f64, left: isize) -> Vec<String> {
    let mut misses = Vec::new();
    if per_item > TOKIO_BYTES_PER_ITEM {
        misses.push(format!(
            "{what} at {n} items: {per_item:.2} heap bytes per u64 (tokio: {TOKIO_BYTES_PER_ITEM})"
        ));
    }
    if left > KEPT_AFTER_DRAIN {
        misses.push(format!("{what}: {left} bytes kept after {n} items drained"));
    }
    misses
}

#[test]
fn bounded_mpsc_full_holds_no_more_than_tokio_per_item() {
    let n = 10_000;
    let (tx, mut rx) = corral::sync::mpsc::channel::<u64>(n);
    let (per_item, left) =
        per_item_and_after_drain(n, |i| tx.try_send(i).unwrap(), || rx.try_recv().unwrap());
    let misses = judge("bounded mpsc, full", n, per_item, left);
    assert!(misses.is_empty(), "{misses:#?}");
}

#[test]
fn mpmc_holds_no_more_than_tokio_per_item_and_frees_a_drained_burst() {
    let mut misses = Vec::new();
    for n in [1_000, 10_000, 100_000] {
        let (tx, rx) = corral::sync::mpmc::unbounded::<u64>();
        tx.try_send(0).unwrap();
        rx.try_recv().unwrap();
        let (per_item, left) =
            per_item_and_after_drain(n, |i| tx.try_send(i).unwrap(), || rx.try_recv().unwrap());
        misses.extend(judge("unbounded mpmc", n, per_item, left));
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

#[test]
fn steady_traffic_allocates_nothing() {
    let (tx, mut rx) = corral::sync::mpsc::unbounded_channel::<u64>();
    for i in 0..100 {
        tx.send(i).unwrap();
    }
    // A window of about 100 items sliding through many blocks; the first
    // few thousand warm it up (the spare block, the block pointers).
    for i in 100..5_000 {
        tx.send(i).unwrap();
        assert_eq!(rx.try_recv().unwrap(), i - 100);
    }
    let before = live();
    for i in 5_000..100_000 {
        tx.send(i).unwrap();
        assert_eq!(rx.try_recv().unwrap(), i - 100);
    }
    let grew = live() - before;
    assert!(grew <= 0, "{grew} bytes more after a steady stream");
}
