//! BoundedSemaphore: the bound, manual acquire/release, handoff to waiters.

#[allow(dead_code)]
mod common;

use common::{current, poll_once, run_with_timeout};
use corral::sync::{BoundedSemaphore, ReleaseError};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

#[test]
fn release_above_the_bound_is_an_error_and_changes_nothing() {
    let sem = BoundedSemaphore::new(2);
    assert_eq!(sem.release(), Err(ReleaseError { max: 2, available: 2 }));
    assert_eq!(sem.available_permits(), 2);
    sem.try_acquire().unwrap().forget();
    sem.release().unwrap();
    assert!(sem.release().is_err());
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn manual_acquire_and_release_round_trip() {
    current().block_on(async {
        let sem = BoundedSemaphore::new(1);
        sem.acquire_manual().await.unwrap();
        assert_eq!(sem.available_permits(), 0);
        assert!(sem.try_acquire().is_err());
        sem.release().unwrap();
        assert_eq!(sem.available_permits(), 1);
        let p = sem.acquire().await.unwrap();
        // The counter cannot tell this release from the permit's own ...
        sem.release().unwrap();
        assert!(sem.release().is_err());
        // ... so the permit's return stops at the bound.
        drop(p);
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.max_permits(), 1);
    });
}

#[test]
fn release_hands_the_permit_to_a_waiter() {
    let sem = BoundedSemaphore::new(1);
    sem.try_acquire().unwrap().forget();
    let mut w = pin!(sem.acquire_manual());
    assert!(poll_once(w.as_mut()).is_pending());
    sem.release().unwrap();
    assert!(matches!(poll_once(w.as_mut()), Poll::Ready(Ok(()))));
    // Handed over, so another release is fine and one more is not.
    sem.release().unwrap();
    assert!(sem.release().is_err());
}

#[test]
fn a_partial_handoff_counts_toward_the_bound() {
    // The bound counts permits assigned to a waiting head as free: a
    // release cannot push past it even while they are parked there.
    let sem = Arc::new(BoundedSemaphore::new(2));
    sem.try_acquire().unwrap().forget();
    let mut w = pin!(sem.acquire());
    assert!(poll_once(w.as_mut()).is_ready());
    sem.release().unwrap();
    assert!(sem.release().is_err());
}

#[test]
fn blocking_paths() {
    run_with_timeout("bounded_blocking", 10, || {
        let sem = Arc::new(BoundedSemaphore::new(1));
        let p = sem.blocking_acquire().unwrap();
        assert!(sem.blocking_acquire_timeout(Duration::from_millis(5)).is_err());
        drop(p);
        assert!(sem.blocking_acquire_timeout(Duration::from_millis(5)).is_ok());
    });
}
