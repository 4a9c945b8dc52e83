//! Loom model of the RateLimiter's turn handoff vs cancellation, driving
//! the public API.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-sync --test loom_ratelimit --target-dir target/loom`
//!
//! There is no runtime (and no timer) in a loom model, so a waiter that
//! gets the turn and must wait fails with `NoRuntime` and passes the turn
//! on: the same path as a turn holder that is cancelled or admitted. The
//! window (one call per minute, already spent) never frees during a model,
//! so no branch depends on the real clock.

#![cfg(loom)]

use corral_sync::{RateLimitError, RateLimiter};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// One waiter is polled once and dropped (queued, handed the turn, or
/// done with `NoRuntime`) while another waits to completion: the turn is
/// never lost (the second always finishes) and is clear at the end.
#[test]
fn turn_handoff_vs_cancel() {
    loom::model(|| {
        let lim = Arc::new(RateLimiter::new(1, Duration::from_secs(60)));
        lim.try_acquire().unwrap();

        let l1 = lim.clone();
        let cancelled = thread::spawn(move || {
            let mut fut = pin!(l1.acquire());
            if let Poll::Ready(r) = poll_once(fut.as_mut()) {
                assert_eq!(r, Err(RateLimitError::NoRuntime));
            }
            // dropped here: queued, handed the turn, or done
        });
        let l2 = lim.clone();
        let waiter = thread::spawn(move || {
            let r = loom::future::block_on(l2.acquire());
            assert_eq!(r, Err(RateLimitError::NoRuntime));
        });

        cancelled.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(lim.statistics().tasks_waiting, 0, "the turn was lost");
        assert!(lim.try_acquire().is_err(), "the spent slot came back");
    });
}

/// A blocking thread whose timeout is shorter than its slot passes the
/// turn on (or unlinks from the queue) while a task-style waiter queues
/// behind it: the waiter always gets the turn.
#[test]
fn blocking_timeout_passes_the_turn() {
    loom::model(|| {
        let lim = Arc::new(RateLimiter::new(1, Duration::from_secs(60)));
        lim.try_acquire().unwrap();

        let l1 = lim.clone();
        let blocking = thread::spawn(move || {
            let r = l1.blocking_acquire_timeout(Duration::from_millis(1));
            assert!(r.is_err());
        });
        let l2 = lim.clone();
        let waiter = thread::spawn(move || {
            let r = loom::future::block_on(l2.acquire());
            assert_eq!(r, Err(RateLimitError::NoRuntime));
        });

        blocking.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(lim.statistics().tasks_waiting, 0, "the turn was lost");
    });
}
