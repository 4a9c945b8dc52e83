//! oneshot's heap budget, measured by a counting allocator: one
//! allocation of at most 56 bytes per channel of a `u64` (tokio's is 72),
//! and none per blocking receive.
//!
//! The counters are per thread, so tests running in parallel in this
//! binary do not see each other's allocations.

use corral::sync::oneshot::{self, error::RecvTimeoutError};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

/// The system allocator, counting this thread's allocations and their
/// bytes.
struct Counting;

thread_local! {
    /// (allocations, bytes) made by this thread. A const-initialised
    /// `Cell` of plain data: no lazy init and no destructor, so the
    /// allocator may touch it at any time.
    static MADE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

// SAFETY: every call is forwarded unchanged to `System`; the counting
// touches only a const thread-local cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = MADE.try_with(|m| {
            let (n, b) = m.get();
            m.set((n + 1, b + layout.size()));
        });
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = MADE.try_with(|m| {
            let (n, b) = m.get();
            m.set((n + 1, b + new_size));
        });
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// What `f` allocated on this thread: (allocations, bytes).
fn allocated<R>(f: impl FnOnce() -> R) -> ((usize, usize), R) {
    let before = MADE.with(Cell::get);
    let r = f();
    let after = MADE.with(Cell::get);
    ((after.0 - before.0, after.1 - before.1), r)
}

#[test]
fn a_oneshot_is_one_allocation_of_at_most_56_bytes() {
    let ((n, bytes), (tx, rx)) = allocated(oneshot::channel::<u64>);
    assert_eq!(n, 1, "one allocation per oneshot");
    assert!(
        bytes <= 56,
        "a oneshot of u64 takes {bytes} heap bytes (budget 56, tokio 72)"
    );
    drop((tx, rx));
}

#[test]
fn send_and_receive_allocate_nothing() {
    let (tx, mut rx) = oneshot::channel::<u64>();
    let ((n, bytes), got) = allocated(|| {
        tx.send(7).unwrap();
        rx.try_recv()
    });
    assert_eq!(got, Ok(7));
    assert_eq!((n, bytes), (0, 0), "send + receive allocated");
}

#[test]
fn blocking_receives_allocate_nothing_per_call() {
    // Warm up: the first blocking receive of a thread may set up what the
    // thread keeps for parking.
    let (_tx, mut rx) = oneshot::channel::<u64>();
    assert_eq!(
        rx.blocking_recv_timeout(Duration::from_millis(1)),
        Err(RecvTimeoutError::Timeout)
    );

    // Timeouts: each call registers this thread and parks.
    let ((n, _), ()) = allocated(|| {
        for _ in 0..3 {
            assert_eq!(
                rx.blocking_recv_timeout(Duration::from_millis(1)),
                Err(RecvTimeoutError::Timeout)
            );
        }
    });
    assert_eq!(n, 0, "timed-out blocking receives allocated {n} times");

    // A receive woken by a send from another thread (spawned before the
    // count starts).
    let (tx, rx) = oneshot::channel::<u64>();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(5).unwrap();
    });
    let ((n, _), got) = allocated(|| rx.blocking_recv());
    assert_eq!(got, Ok(5));
    assert_eq!(n, 0, "a woken blocking receive allocated {n} times");
    sender.join().unwrap();
}
