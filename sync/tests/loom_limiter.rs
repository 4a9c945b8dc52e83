//! Loom models of the CapacityLimiter: a released token is reserved for
//! the first waiter (try_acquire cannot snatch it), a waiter cancelled
//! after the grant passes the token on, and a raise of the total races a
//! cancel. Driven through the public API with named borrowers (loom's
//! threads share one OS thread, so the thread key would name them all).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-sync --test loom_limiter --target-dir target/loom`

#![cfg(loom)]

use corral_sync::{BlockingBorrowError, CapacityLimiter, TryBorrowError};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A waiter is queued; the holder releases while another borrower calls
/// try_acquire: the token goes to the waiter in every interleaving, and
/// try_acquire never gets it.
#[test]
fn release_vs_try_acquire_reserves_the_token() {
    loom::model(|| {
        let limiter = Arc::new(CapacityLimiter::new(1));
        limiter.try_acquire_on_behalf_of(0u8).unwrap();
        let mut waiter = Box::pin(limiter.acquire_on_behalf_of(1u8));
        assert!(poll_once(waiter.as_mut()).is_pending());

        let l1 = limiter.clone();
        let releaser = thread::spawn(move || l1.release_on_behalf_of(&0u8).unwrap());
        let l2 = limiter.clone();
        let barger = thread::spawn(move || {
            assert_eq!(
                l2.try_acquire_on_behalf_of(2u8),
                Err(TryBorrowError::NoTokens),
                "try_acquire took a token reserved for the waiter"
            );
        });
        releaser.join().unwrap();
        barger.join().unwrap();
        assert!(matches!(poll_once(waiter.as_mut()), Poll::Ready(Ok(()))));
        let stats = limiter.statistics();
        assert_eq!((stats.borrowed_tokens, stats.tasks_waiting), (1, 0));
        assert_eq!(stats.borrowers[0].downcast_ref::<u8>(), Some(&1));
    });
}

/// The holder releases while the first waiter is cancelled (before or
/// after the grant) and a second waits: the token reaches the second
/// (or loom reports the deadlock of a lost token), and is back at the end.
#[test]
fn release_vs_cancel_passes_the_token_on() {
    loom::model(|| {
        let limiter = Arc::new(CapacityLimiter::new(1));
        limiter.try_acquire_on_behalf_of(0u8).unwrap();
        let mut cancelled = Box::pin(limiter.acquire_on_behalf_of(1u8));
        assert!(poll_once(cancelled.as_mut()).is_pending());

        let l1 = limiter.clone();
        let releaser = thread::spawn(move || l1.release_on_behalf_of(&0u8).unwrap());
        let l2 = limiter.clone();
        let waiter = thread::spawn(move || {
            loom::future::block_on(l2.acquire_on_behalf_of(2u8)).unwrap();
            l2.release_on_behalf_of(&2u8).unwrap();
        });
        drop(cancelled);
        releaser.join().unwrap();
        waiter.join().unwrap();
        let stats = limiter.statistics();
        assert_eq!(
            (stats.borrowed_tokens, stats.tasks_waiting),
            (0, 0),
            "a token was lost"
        );
        assert!(stats.borrowers.is_empty());
    });
}

/// The total is raised from 0 while the first waiter is cancelled and a
/// second waits, and a barger tries: the new token reaches a waiter.
#[test]
fn raise_vs_cancel_vs_try_acquire() {
    loom::model(|| {
        let limiter = Arc::new(CapacityLimiter::new(0));
        let mut cancelled = Box::pin(limiter.acquire_on_behalf_of(1u8));
        assert!(poll_once(cancelled.as_mut()).is_pending());

        let l1 = limiter.clone();
        let raiser = thread::spawn(move || l1.set_total_tokens(1));
        let l2 = limiter.clone();
        let waiter = thread::spawn(move || {
            loom::future::block_on(l2.acquire_on_behalf_of(2u8)).unwrap();
            l2.release_on_behalf_of(&2u8).unwrap();
        });
        drop(cancelled);
        // With both waiters possibly gone, a barger may take the free
        // token; it must give it back.
        if limiter.try_acquire_on_behalf_of(3u8).is_ok() {
            limiter.release_on_behalf_of(&3u8).unwrap();
        }
        raiser.join().unwrap();
        waiter.join().unwrap();
        let stats = limiter.statistics();
        assert_eq!(
            (stats.borrowed_tokens, stats.total_tokens, stats.tasks_waiting),
            (0, 1, 0)
        );
    });
}

/// A blocking acquire whose timeout races the release: it either gets the
/// token (and gives it back) or times out holding nothing.
#[test]
fn blocking_timeout_vs_release() {
    loom::model(|| {
        let limiter = Arc::new(CapacityLimiter::new(1));
        limiter.try_acquire_on_behalf_of(0u8).unwrap();
        let l1 = limiter.clone();
        let t = thread::spawn(move || {
            match l1.blocking_acquire_on_behalf_of_timeout(1u8, Duration::from_millis(1)) {
                Ok(()) => l1.release_on_behalf_of(&1u8).unwrap(),
                Err(e) => assert_eq!(e, BlockingBorrowError::Timeout),
            }
        });
        limiter.release_on_behalf_of(&0u8).unwrap();
        t.join().unwrap();
        let stats = limiter.statistics();
        assert_eq!((stats.borrowed_tokens, stats.tasks_waiting), (0, 0));
    });
}
