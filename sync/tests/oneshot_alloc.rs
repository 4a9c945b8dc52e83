//! oneshot's heap budget, measured by a counting allocator: one
//! allocation of at most 56 bytes per channel of a `u64` (tokio's is 72),
//! and none per blocking receive.
//!
//! The counters are per thread, so tests running in parallel in this
//! binary do not see each other's allocations.

use corral::sync::oneshot::{self, error::RecvTimeoutError};
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocated;
use std::time::Duration;

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
