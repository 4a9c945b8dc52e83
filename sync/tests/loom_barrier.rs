//! Loom models of Notify's and Barrier's handoff and cancellation paths,
//! driving the public API.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-sync --test loom_barrier --target-dir target/loom`
//!
//! Futures are polled by `loom::future::block_on` (a foreign waker) or by
//! hand with a no-op waker, to cancel them at a chosen point.

#![cfg(loom)]

use corral_sync::{Barrier, Notify};
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// `notify_one` races a waiter that registers and is then cancelled
/// (possibly after `notify_one` chose it) and a second waiter: the
/// notification reaches the second one (directly, passed on, or as the
/// permit), unless the first consumed it by completing; nothing is left
/// behind.
#[test]
fn notify_one_vs_cancel_of_a_notified_waiter() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let n1 = n.clone();
        let cancelled = thread::spawn(move || {
            let mut fut = pin!(n1.notified());
            poll_once(fut.as_mut()).is_ready()
            // dropped here: queued, chosen, or done
        });
        let n2 = n.clone();
        let waiter = thread::spawn(move || loom::future::block_on(n2.notified()));

        n.notify_one();
        if cancelled.join().unwrap() {
            // The first waiter took the only notification: send another.
            n.notify_one();
        }
        waiter.join().unwrap();
        let s = n.statistics();
        assert!(!s.permit_stored, "a notification was left behind");
        assert_eq!(s.tasks_waiting, 0);
    });
}

/// A Barrier(2): one party arrives and is cancelled (possibly after being
/// released, or after arriving last), another waits, and a third comes in
/// once the first is gone and leaves again when the second has passed.
/// Exactly one cycle completes, and no count is left behind.
#[test]
fn barrier_last_arrival_vs_cancel() {
    loom::model(|| {
        let b = Arc::new(Barrier::new(2));
        let b1 = b.clone();
        let cancelled = thread::spawn(move || {
            let mut fut = pin!(b1.wait());
            let _ = poll_once(fut.as_mut());
            // dropped here: waiting, released, or passed as the last arrival
        });
        let passed = Arc::new(AtomicBool::new(false));
        let (b2, p2) = (b.clone(), passed.clone());
        let waiter = thread::spawn(move || {
            loom::future::block_on(b2.wait()).unwrap();
            p2.store(true, SeqCst);
        });

        cancelled.join().unwrap();
        // If the cancelled party did not pair with the waiter, be its partner.
        {
            let mut mine = pin!(b.wait());
            loop {
                if poll_once(mine.as_mut()).is_ready() || passed.load(SeqCst) {
                    break;
                }
                thread::yield_now();
            }
            // dropped here: passed, or (cancelled) waiting
        }
        waiter.join().unwrap();
        let s = b.statistics();
        assert_eq!(s.cycles, 1, "{s:?}");
        assert_eq!(s.n_waiting, 0, "a cancelled party still counts: {s:?}");
        assert_eq!(s.tasks_waiting, 0);
    });
}

/// A Barrier(2) with an action: two parties arrive while `abort` runs.
/// The cycle either completes (the action ran once, both pass, even if the
/// abort lands during the action) or breaks for both; never one of each.
#[test]
fn barrier_action_vs_abort() {
    loom::model(|| {
        let ran = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let r = ran.clone();
        let b = Arc::new(Barrier::with_action(2, move || {
            r.fetch_add(1, SeqCst);
        }));
        let parties: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || loom::future::block_on(b.wait()))
            })
            .collect();
        b.abort();
        let results: Vec<_> = parties.into_iter().map(|p| p.join().unwrap()).collect();
        let passed = results.iter().filter(|r| r.is_ok()).count();
        assert!(passed == 0 || passed == 2, "{results:?}");
        assert_eq!(
            ran.load(SeqCst),
            passed / 2,
            "the action ran without its cycle, or twice"
        );
        if passed == 2 {
            assert_eq!(results.iter().filter(|r| r.unwrap().is_leader).count(), 1);
        }
        assert!(b.is_broken());
        assert_eq!(b.statistics().tasks_waiting, 0);
    });
}

/// `notify_waiters` wakes three registered waiters in chunks (a wake batch
/// holds 2 under loom) while this thread registers a fourth and calls
/// `notify_one`, which may land before the broadcast (waking the first
/// waiter) or between two chunks: every waiter completes, none stays
/// queued, and the one `notify_one` is either received or stored.
#[test]
fn notify_waiters_in_chunks_vs_notify_one() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let mut early: Vec<_> = (0..3).map(|_| Box::pin(n.notified())).collect();
        for w in &mut early {
            assert!(poll_once(w.as_mut()).is_pending());
        }
        let n1 = n.clone();
        let broadcaster = thread::spawn(move || n1.notify_waiters());
        let mut late = Box::pin(n.notified());
        let _ = poll_once(late.as_mut());
        n.notify_one();
        broadcaster.join().unwrap();
        // Reached by the broadcast (created before it), by the notify_one,
        // or by the permit it stored.
        assert!(
            poll_once(late.as_mut()).is_ready(),
            "the late waiter missed both notifications"
        );
        for w in &mut early {
            assert!(poll_once(w.as_mut()).is_ready(), "a broadcast skipped a waiter");
        }
        assert_eq!(n.statistics().tasks_waiting, 0);
    });
}
