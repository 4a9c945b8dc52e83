//! `corral::task::CancelToken`: cancel / is_cancelled / cancelled(),
//! child tokens, run_until_cancelled, waiters on foreign executors, no lost
//! wakeups under a racing cancel, and dropped waiters leaving nothing.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use corral::task::CancelToken;

#[allow(dead_code)]
mod common;
use common::{counting_waker, current, foreign_block_on, multi, run_with_timeout};

#[test]
fn cancel_wakes_every_waiter_and_is_sticky() {
    run_with_timeout("wakes_all", 30, || {
        for rt in [multi(2), current()] {
            rt.block_on(async {
                let token = CancelToken::new();
                let woke = Arc::new(AtomicUsize::new(0));
                let tasks: Vec<_> = (0..50)
                    .map(|_| {
                        let (token, woke) = (token.clone(), woke.clone());
                        corral::spawn(async move {
                            token.cancelled().await;
                            woke.fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                corral::time::sleep(Duration::from_millis(5)).await;
                assert_eq!(woke.load(SeqCst), 0);
                token.cancel();
                for t in tasks {
                    t.await.unwrap();
                }
                assert_eq!(woke.load(SeqCst), 50);
                assert!(token.is_cancelled());
                // Later waiters return at once.
                token.cancelled().await;
            });
        }
    });
}

#[test]
fn child_tokens_follow_their_parent_but_not_the_other_way() {
    let root = CancelToken::new();
    let a = root.child_token();
    let a1 = a.child_token();
    let b = root.child_token();
    a.cancel();
    assert!(a.is_cancelled() && a1.is_cancelled());
    assert!(!root.is_cancelled() && !b.is_cancelled());
    root.cancel();
    assert!(b.is_cancelled());
    // A child of a cancelled token starts cancelled.
    assert!(root.child_token().is_cancelled());
}

#[test]
fn many_short_lived_children_do_not_pile_up() {
    let root = CancelToken::new();
    for _ in 0..100_000 {
        drop(root.child_token());
    }
    let kept = root.child_token();
    root.cancel();
    assert!(kept.is_cancelled());
}

#[test]
fn cancelled_works_on_a_foreign_executor() {
    run_with_timeout("foreign", 30, || {
        let token = CancelToken::new();
        let t = token.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            t.cancel();
        });
        foreign_block_on(token.cancelled());
        canceller.join().unwrap();
    });
}

#[test]
fn a_dropped_waiter_leaves_nothing_and_the_slot_is_reused() {
    let token = CancelToken::new();
    let (wakes, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..1000 {
        let mut fut = Box::pin(token.cancelled());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        // Re-polling with the same waker keeps one registration.
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    let mut kept = pin!(token.cancelled());
    assert!(kept.as_mut().poll(&mut cx).is_pending());
    token.cancel();
    // Only the live waiter is woken (the 1000 dropped ones were removed).
    assert_eq!(wakes.wakes.load(SeqCst), 1);
    assert_eq!(kept.as_mut().poll(&mut cx), Poll::Ready(()));
}

#[test]
fn no_lost_wakeup_when_cancel_races_registration() {
    run_with_timeout("race", 60, || {
        let rt = multi(2);
        rt.block_on(async {
            for _ in 0..2000 {
                let token = CancelToken::new();
                let t = token.clone();
                let waiter = corral::spawn(async move { t.cancelled().await });
                let t = token.clone();
                let canceller = corral::spawn(async move { t.cancel() });
                canceller.await.unwrap();
                waiter.await.unwrap();
            }
        });
    });
}

#[test]
fn run_until_cancelled_returns_the_output_or_none() {
    run_with_timeout("run_until", 30, || {
        current().block_on(async {
            let token = CancelToken::new();
            assert_eq!(token.run_until_cancelled(async { 3 }).await, Some(3));
            let t = token.clone();
            corral::spawn(async move {
                corral::time::sleep(Duration::from_millis(10)).await;
                t.cancel();
            });
            let dropped = Arc::new(AtomicUsize::new(0));
            let d = common::DropCounter(dropped.clone());
            let r = token
                .run_until_cancelled(async move {
                    let _d = d;
                    corral::time::sleep(Duration::from_secs(3600)).await;
                })
                .await;
            assert_eq!(r, None);
            assert_eq!(dropped.load(SeqCst), 1);
            // Already cancelled: the future is not polled.
            let polled = Arc::new(AtomicUsize::new(0));
            let p = polled.clone();
            let r = token
                .run_until_cancelled(async move {
                    p.fetch_add(1, SeqCst);
                })
                .await;
            assert_eq!(r, None);
            assert_eq!(polled.load(SeqCst), 0);
        });
    });
}
