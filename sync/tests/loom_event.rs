//! Loom models of Event (set vs wait vs clear, cancellation, the blocking
//! timeout) and Condition (notify vs cancel, while queued and while
//! re-locking), driving the public API.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-sync --test loom_event --target-dir target/loom`
//!
//! Under loom a wake batch holds 2 waiters, so a `set` or `notify_all` of
//! 3 waiters goes out in two chunks with the lock released in between.

#![cfg(loom)]

use corral_sync::{Condition, Event};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

fn event_wait(ev: &Arc<Event>) -> BoxFut {
    let ev = ev.clone();
    Box::pin(async move { ev.wait().await })
}

/// Waiters queued before a `set` that is followed at once by a `clear`
/// all complete (two wake chunks), while one is polled again by another
/// thread's waker and another is cancelled; nothing stays queued.
#[test]
fn event_set_vs_wait_vs_clear() {
    loom::model(|| {
        let ev = Arc::new(Event::new());
        let mut a = event_wait(&ev);
        let mut b = event_wait(&ev);
        let mut c = event_wait(&ev);
        for f in [&mut a, &mut b, &mut c] {
            assert!(poll_once(f.as_mut()).is_pending());
        }

        let e = ev.clone();
        let setter = thread::spawn(move || {
            e.set();
            e.clear();
        });
        // Re-polled with this thread's waker while the set runs.
        let waiter = thread::spawn(move || loom::future::block_on(a));
        // Cancelled while the set runs (queued, or already woken).
        let canceller = thread::spawn(move || drop(b));

        setter.join().unwrap();
        waiter.join().unwrap();
        canceller.join().unwrap();
        assert_eq!(
            poll_once(c.as_mut()),
            Poll::Ready(()),
            "a waiter present at the set missed it"
        );
        assert_eq!(ev.statistics().tasks_waiting, 0);
        assert!(!ev.is_set());
    });
}

/// A fresh wait races a set and a clear: if it completes it saw the flag
/// or the set's wake; if it is still pending, it queued after the clear
/// and the next set releases it. Nothing is left queued.
#[test]
fn event_fresh_wait_vs_set_and_clear() {
    loom::model(|| {
        let ev = Arc::new(Event::new());
        let e = ev.clone();
        let setter = thread::spawn(move || {
            e.set();
            e.clear();
        });
        let mut w = event_wait(&ev);
        let first = poll_once(w.as_mut());
        setter.join().unwrap();
        if first.is_pending() && poll_once(w.as_mut()).is_pending() {
            // Queued after the clear: a later set releases it.
            assert_eq!(ev.statistics().tasks_waiting, 1);
            ev.set();
            assert_eq!(poll_once(w.as_mut()), Poll::Ready(()));
        }
        assert_eq!(ev.statistics().tasks_waiting, 0);
    });
}

/// A blocking wait whose timeout races the set: Ok (the set reached it, or
/// it saw the flag) or a timeout that leaves nothing queued.
#[test]
fn event_blocking_timeout_vs_set() {
    loom::model(|| {
        let ev = Arc::new(Event::new());
        let e = ev.clone();
        let t = thread::spawn(move || e.blocking_wait_timeout(Duration::from_millis(1)));
        ev.set();
        let _ = t.join().unwrap();
        assert_eq!(ev.statistics().tasks_waiting, 0);
    });
}

fn cond_wait(c: &Arc<Condition<usize>>) -> BoxFut {
    let c = c.clone();
    Box::pin(async move {
        let g = c.lock().await;
        let mut g = c.wait(g).await;
        *g += 1;
    })
}

/// A notify races the cancellation of the first waiter (before or after
/// the notification reached it): either way the second waiter gets a
/// notification, and the lock is free at the end.
#[test]
fn condition_notify_vs_cancel() {
    loom::model(|| {
        let c = Arc::new(Condition::new(0usize));
        let a = {
            let mut a = cond_wait(&c);
            assert!(poll_once(a.as_mut()).is_pending());
            a
        };
        let mut b = cond_wait(&c);
        assert!(poll_once(b.as_mut()).is_pending());

        let c1 = c.clone();
        let notifier = thread::spawn(move || assert!(c1.notify_one()));
        let canceller = thread::spawn(move || drop(a));
        notifier.join().unwrap();
        canceller.join().unwrap();

        assert_eq!(
            poll_once(b.as_mut()),
            Poll::Ready(()),
            "the notification was lost"
        );
        assert_eq!(*c.mutex().try_lock().expect("the lock was lost"), 1);
        assert_eq!(c.statistics().tasks_waiting, 0);
    });
}

/// The first waiter is notified while the lock is held, then polled (it
/// may consume the notification and queue for the lock, or be handed it)
/// and cancelled while the holder unlocks: the second waiter still gets a
/// notification and the lock.
#[test]
fn condition_cancel_while_relocking() {
    loom::model(|| {
        let c = Arc::new(Condition::new(0usize));
        let mut a = cond_wait(&c);
        assert!(poll_once(a.as_mut()).is_pending());
        let mut b = cond_wait(&c);
        assert!(poll_once(b.as_mut()).is_pending());
        let held = c.mutex().try_lock().unwrap();
        assert!(c.notify_one());

        let canceller = thread::spawn(move || {
            let _ = poll_once(a.as_mut());
            drop(a);
        });
        drop(held);
        canceller.join().unwrap();

        // `a` may have finished (counted 1) before it was dropped; if not,
        // `b` has its notification.
        let done_by_a = *c.mutex().try_lock().expect("the lock was lost");
        if done_by_a == 0 {
            assert_eq!(
                poll_once(b.as_mut()),
                Poll::Ready(()),
                "the notification was lost"
            );
        }
        assert!(c.mutex().try_lock().is_ok());
    });
}

/// A waiter that blocks races the set (no clear): it always completes (a
/// check of the flag outside the lock alone would lose this wakeup).
#[test]
fn event_wait_vs_set() {
    loom::model(|| {
        let ev = Arc::new(Event::new());
        let e = ev.clone();
        let waiter = thread::spawn(move || loom::future::block_on(e.wait()));
        ev.set();
        waiter.join().unwrap();
        assert_eq!(ev.statistics().tasks_waiting, 0);
    });
}
