//! Loom models of the oneshot's freeing shortcut: a side that sees (with
//! an Acquire load) the other side's `*_ALIVE` bit already clear frees the
//! allocation without clearing its own bit (no read-modify-write). Each
//! model races the two sides' last steps and checks that the value is
//! dropped exactly once, wherever it ends (so the allocation was freed
//! once: a leak would not drop it, a second free would drop it twice),
//! and loom checks every cell access against the state word's orderings.
//! The send-vs-drop and blocking models are in `loom_channels.rs`.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release -p corral-sync --test
//! loom_oneshot --target-dir target/loom` (CI: `LOOM_MAX_PREEMPTIONS=3`).

#![cfg(loom)]

use corral_sync::oneshot;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Counts drops: a value must be dropped exactly once, wherever it ends.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

/// A send races an awaiting receiver: the receiver finds the value with
/// the sender gone (frees alone), or with the sender still waking it
/// (leaves by RMW), or registers first and is woken.
#[test]
fn send_vs_await_frees_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let d = drops.clone();
        let sender = thread::spawn(move || {
            assert!(tx.send(Tracked(d)).is_ok());
        });
        let got = loom::future::block_on(rx).expect("the value was sent");
        drop(got);
        sender.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A non-waiting receive races the send, then the receiver is dropped:
/// the value is received, or left in the channel and dropped with it.
#[test]
fn send_vs_try_recv_then_drop() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = oneshot::channel();
        let d = drops.clone();
        // The send fails (handing the value back, dropped here) if the
        // receiver was dropped first.
        let sender = thread::spawn(move || drop(tx.send(Tracked(d))));
        let got = rx.try_recv().ok();
        drop(rx);
        sender.join().unwrap();
        drop(got);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A receiver with a registered waker is dropped while the sender sends:
/// whichever side goes second frees (alone, or by RMW), and the value
/// is handed back or dropped with the allocation.
#[test]
fn registered_receiver_drop_vs_send() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = oneshot::channel();
        assert!(poll_once(&mut rx).is_pending());
        let d = drops.clone();
        let sender = thread::spawn(move || drop(tx.send(Tracked(d))));
        drop(rx);
        sender.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// The sender is dropped unsent while the receiver is dropped: the side
/// that sees the other gone frees alone; both see the word through their
/// RMW otherwise. A value sent before a `close()` is still dropped once.
#[test]
fn sender_drop_vs_receiver_close_and_drop() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = oneshot::channel::<Tracked>();
        let (tx2, rx2) = oneshot::channel::<Tracked>();
        let d = drops.clone();
        let t = thread::spawn(move || {
            drop(tx);
            drop(tx2.send(Tracked(d)));
        });
        rx.close();
        drop(rx);
        drop(rx2);
        t.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A blocking receive (its thread waker in the cell) races the send of a
/// tracked value: received once, dropped once, the allocation freed by
/// whichever side leaves second.
#[test]
fn blocking_recv_vs_send_frees_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let r = thread::spawn(move || rx.blocking_recv().is_ok());
        assert!(tx.send(Tracked(drops.clone())).is_ok());
        assert!(r.join().unwrap());
        assert_eq!(drops.load(SeqCst), 1);
    });
}
