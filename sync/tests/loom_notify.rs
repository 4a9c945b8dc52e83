//! Loom models of Notify: `notify_one` (its one-waiter fast path) vs a
//! cancelled waiter, vs a fresh `notified()`, and vs `notify_waiters`,
//! driving the public API.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p corral-sync --test loom_notify --target-dir target/loom`

#![cfg(loom)]

use corral_sync::Notify;
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

fn notified(n: &Arc<Notify>) -> BoxFut {
    let n = n.clone();
    Box::pin(async move { n.notified().await })
}

/// Two queued waiters; a `notify_one` races the first one's cancellation.
/// Whichever the notification chose, it is not lost: the second waiter
/// completes, and nothing stays queued or stored.
#[test]
fn notify_one_vs_cancel() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let mut a = notified(&n);
        let mut b = notified(&n);
        assert!(poll_once(a.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());

        let n2 = n.clone();
        let notifier = thread::spawn(move || n2.notify_one());
        let canceller = thread::spawn(move || drop(a));
        notifier.join().unwrap();
        canceller.join().unwrap();

        assert_eq!(
            poll_once(b.as_mut()),
            Poll::Ready(()),
            "a notify_one chose a cancelled waiter and was lost"
        );
        let s = n.statistics();
        assert_eq!((s.tasks_waiting, s.permit_stored), (0, false));
    });
}

/// A fresh `notified()` awaited on one thread races a `notify_one` on
/// another: it completes (by the stored permit or by the wake), and
/// nothing is left behind.
#[test]
fn notify_one_vs_fresh_wait() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let w = notified(&n);
        let waiter = thread::spawn(move || loom::future::block_on(w));
        n.notify_one();
        waiter.join().unwrap();
        let s = n.statistics();
        assert_eq!((s.tasks_waiting, s.permit_stored), (0, false));
    });
}

/// `notify_one` races `notify_waiters` over two queued waiters: both
/// complete; the `notify_one` either chose one of them or, coming after
/// the broadcast emptied the queue, stored the permit.
#[test]
fn notify_one_vs_notify_waiters() {
    loom::model(|| {
        let n = Arc::new(Notify::new());
        let mut a = notified(&n);
        let mut b = notified(&n);
        assert!(poll_once(a.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());

        let n2 = n.clone();
        let one = thread::spawn(move || n2.notify_one());
        n.notify_waiters();
        one.join().unwrap();

        assert_eq!(poll_once(a.as_mut()), Poll::Ready(()));
        assert_eq!(poll_once(b.as_mut()), Poll::Ready(()));
        assert_eq!(n.statistics().tasks_waiting, 0);
    });
}
