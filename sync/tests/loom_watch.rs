//! Loom models of the watch channel: a send, a waiting `changed()` and the
//! drop of the last sender racing; a `changed()` cancelled as a send comes
//! in. The value's lock, the state word, the waiter lock and
//! corral-runtime's wait list all switch to loom's types under the flag.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p corral-sync --test loom_watch --target-dir target/loom`

#![cfg(loom)]

use corral_sync::watch;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A watcher waits in `changed()` while another thread sends and then
/// drops the last sender: the watcher is always woken (a lost wake is a
/// deadlock loom reports), sees the value, then gets the error.
#[test]
fn send_vs_changed_vs_drop_of_the_last_sender() {
    loom::model(|| {
        let (tx, mut rx) = watch::channel(0usize);
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            drop(tx);
        });
        let mut last = 0;
        while loom::future::block_on(rx.changed()).is_ok() {
            last = *rx.borrow_and_update();
        }
        assert_eq!(last, 1, "the last value is always seen");
        assert!(rx.has_changed().is_err());
        sender.join().unwrap();
    });
}

/// Two senders (one a clone): one sends and drops, the other just drops,
/// concurrently. The channel closes only once both are gone, and the
/// watcher ends on the value sent.
#[test]
fn two_senders_and_a_watcher() {
    loom::model(|| {
        let (tx, mut rx) = watch::channel(0usize);
        let tx2 = tx.clone();
        let a = thread::spawn(move || {
            tx.send(1).unwrap();
        });
        let b = thread::spawn(move || {
            drop(tx2);
        });
        let mut last = 0;
        while loom::future::block_on(rx.changed()).is_ok() {
            last = *rx.borrow_and_update();
        }
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(last, 1, "the watcher ended on the value sent");
    });
}

/// A `changed()` queued, then dropped while a send comes in: the change is
/// not lost (the next `changed()` returns at once), and the list is left
/// empty.
#[test]
fn cancelled_changed_vs_send() {
    loom::model(|| {
        let (tx, mut rx) = watch::channel(0usize);
        let mut fut = Box::pin(rx.changed());
        assert!(poll_once(fut.as_mut()).is_pending());
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx
        });
        // Dropped here, racing the send's wake.
        drop(fut);
        let tx = sender.join().unwrap();
        assert_eq!(tx.statistics().tasks_waiting, 0);
        assert_eq!(rx.has_changed(), Ok(true));
        let mut fut = pin!(rx.changed());
        assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(())));
        drop(tx);
    });
}
