//! Loom models of the channels' handoff and cancellation paths, driving
//! the public API. The channels' atomics, cells, threads and `Arc` (`sync/src/loom.rs`),
//! their lock and corral-runtime's wait list all switch to loom's types
//! under the flag.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p corral-sync --test loom_channels --target-dir target/loom`

#![cfg(loom)]

use corral_sync::mpmc;
use corral_sync::mpsc::{self, error::TryRecvError};
use corral_sync::oneshot;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Counts drops: a value must be dropped exactly once, wherever it ends.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A oneshot send races the receiver being dropped: the send either
/// succeeds (and the value is dropped with the channel) or hands the value
/// back; either way it is dropped exactly once.
#[test]
fn oneshot_send_vs_drop_receiver() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let d = drops.clone();
        let sender = thread::spawn(move || {
            if let Err(v) = tx.send(Tracked(d)) {
                drop(v);
            }
        });
        drop(rx);
        sender.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A oneshot receiver waits (registering its waker) while the sender
/// sends or is dropped: it always wakes with the value or the error.
#[test]
fn oneshot_recv_vs_send_or_drop() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel::<usize>();
        let (tx2, rx2) = oneshot::channel::<usize>();
        let a = thread::spawn(move || tx.send(1).unwrap());
        let b = thread::spawn(move || drop(tx2));
        assert_eq!(loom::future::block_on(rx), Ok(1));
        assert!(loom::future::block_on(rx2).is_err());
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// The freeing race (the two `*_ALIVE` bits are the allocation's count):
/// the receiver registered its waker, then a send races the receiver's
/// drop. The value is dropped exactly once whichever way it goes, so the
/// allocation was freed once (never leaked: the value would not drop;
/// never twice).
#[test]
fn oneshot_free_race_send_vs_drop_with_waker() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = oneshot::channel();
        assert!(poll_once(std::pin::Pin::new(&mut rx)).is_pending());
        let d = drops.clone();
        let sender = thread::spawn(move || drop(tx.send(Tracked(d))));
        drop(rx);
        sender.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// The mirror image: the sender waits in `closed()` (its waker
/// registered) and then sends, while the receiver takes the value and
/// leaves, or is dropped.
#[test]
fn oneshot_free_race_closed_waker_vs_receive() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = oneshot::channel();
        {
            let mut closed = pin!(tx.closed());
            assert!(poll_once(closed.as_mut()).is_pending());
        }
        let d = drops.clone();
        let sender = thread::spawn(move || drop(tx.send(Tracked(d))));
        if let Ok(v) = rx.try_recv() {
            drop(v);
        }
        drop(rx);
        sender.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// The sender waits in `closed()` while the receiver closes.
#[test]
fn oneshot_closed_vs_receiver_drop() {
    loom::model(|| {
        let (mut tx, rx) = oneshot::channel::<usize>();
        let t = thread::spawn(move || drop(rx));
        loom::future::block_on(tx.closed());
        assert!(tx.is_closed());
        t.join().unwrap();
    });
}

/// Bounded(1): a sender sends two items (the second waits for the slot
/// the receiver frees), another sender is dropped, the receiver drains
/// until every sender is gone: both items arrive in order, once.
#[test]
fn mpsc_send_vs_recv_vs_drop() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel::<usize>(1);
        let tx2 = tx.clone();
        let producer = thread::spawn(move || {
            loom::future::block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap();
            });
        });
        let dropper = thread::spawn(move || drop(tx2));
        let got = loom::future::block_on(async {
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            got
        });
        producer.join().unwrap();
        dropper.join().unwrap();
        assert_eq!(got, [1, 2]);
    });
}

/// The receiver is dropped while a sender waits for a slot and the buffer
/// holds an item: the waiter fails with its value, and every value is
/// dropped exactly once.
#[test]
fn mpsc_waiting_send_vs_receiver_drop() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(Tracked(drops.clone())).ok().unwrap();
        let d = drops.clone();
        let sender = thread::spawn(move || {
            let r = loom::future::block_on(tx.send(Tracked(d)));
            assert!(r.is_err(), "the receiver is dropped without receiving");
        });
        drop(rx);
        sender.join().unwrap();
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// A slot freed by `recv` races the cancellation of the sender it goes to
/// (the receive pushes that sender's item for it and completes it);
/// another sender waits behind: the slot is never lost, so the second
/// sender always gets through, and the first's item arrives at most once.
#[test]
fn mpsc_grant_vs_cancel() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel::<usize>(1);
        tx.try_send(0).unwrap();
        let tx1 = tx.clone();
        let cancelled = thread::spawn(move || {
            let mut fut = pin!(tx1.send(1));
            let _ = poll_once(fut.as_mut());
            // dropped here: queued, granted, or done
        });
        let tx2 = tx.clone();
        let waiter = thread::spawn(move || {
            loom::future::block_on(tx2.send(2)).unwrap();
        });
        assert_eq!(rx.try_recv(), Ok(0));
        cancelled.join().unwrap();
        // Drain until the second sender's item has arrived.
        let mut got = Vec::new();
        while !got.contains(&2) {
            got.push(loom::future::block_on(rx.recv()).unwrap());
        }
        waiter.join().unwrap();
        assert!(got == [2] || got == [1, 2], "{got:?}");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(tx.capacity(), 1, "a slot was lost");
    });
}

/// The receive that frees a slot pushes a waiting send's item and
/// completes it, racing that send's cancellation right after its polls:
/// a send that saw `Ok` had its item received; either way each item is
/// dropped exactly once (received, or dropped with the cancelled future).
#[test]
fn mpsc_send_completed_by_pop_vs_cancel() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(Tracked(drops.clone())).ok().unwrap();
        let d = drops.clone();
        let sender = thread::spawn(move || {
            let mut fut = pin!(tx.send(Tracked(d)));
            let mut r = poll_once(fut.as_mut());
            if r.is_pending() {
                r = poll_once(fut.as_mut());
            }
            matches!(r, Poll::Ready(Ok(())))
            // dropped here (with `tx`): waiting, completed, or done
        });
        drop(rx.try_recv().ok().unwrap()); // frees the slot
        let sent = sender.join().unwrap();
        let rest = rx.try_recv().ok();
        if sent {
            assert!(rest.is_some(), "a completed send's item was lost");
        }
        drop(rest);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// mpmc: a waiting send's item is handed by the slot's freer (a receiver
/// taking its own handed item) straight to a second waiting receiver,
/// which is cancelled right after its poll: the item passes on or goes
/// back to the queue, and is received exactly once.
#[test]
fn mpmc_carried_item_handed_over_vs_receiver_cancel() {
    loom::model(|| {
        let (tx, rx) = mpmc::bounded::<usize>(1);
        let rx2 = rx.clone();
        let mut r1 = Box::pin(rx.recv());
        assert!(poll_once(r1.as_mut()).is_pending());
        let second = thread::spawn(move || {
            let mut fut = pin!(rx2.recv());
            match poll_once(fut.as_mut()) {
                Poll::Ready(Ok(v)) => Some(v),
                _ => None, // dropped here: queued, or handed the item
            }
        });
        tx.try_send(1).unwrap(); // handed to r1, first in line
        let tx2 = tx.clone();
        let sender = thread::spawn(move || loom::future::block_on(tx2.send(2)).unwrap());
        assert_eq!(poll_once(r1.as_mut()), Poll::Ready(Ok(1))); // frees the slot
        drop(r1);
        sender.join().unwrap();
        let second = second.join().unwrap();
        drop(tx);
        let rest = rx.try_recv().ok();
        let got: Vec<usize> = second.into_iter().chain(rest).collect();
        assert_eq!(got, [2]);
        assert!(rx.try_recv().is_err());
    });
}

/// mpmc: two receivers wait; a send hands the item to the first, which is
/// cancelled right after its poll (maybe holding the item). The item is
/// passed on to the other receiver or put back, never lost nor doubled:
/// exactly one of them gets it, the other sees the end.
#[test]
fn mpmc_two_receivers_vs_send_vs_cancel() {
    loom::model(|| {
        let (tx, rx) = mpmc::bounded::<usize>(1);
        let rx2 = rx.clone();
        let first = thread::spawn(move || {
            let mut fut = pin!(rx.recv());
            match poll_once(fut.as_mut()) {
                Poll::Ready(Ok(v)) => Some(v),
                // The other receiver took it and the sender is gone.
                Poll::Ready(Err(_)) => None,
                // Dropped here: queued, or handed the item.
                Poll::Pending => None,
            }
        });
        let sender = thread::spawn(move || tx.try_send(7).unwrap());
        let second = loom::future::block_on(rx2.recv()).ok();
        let first = first.join().unwrap();
        sender.join().unwrap();
        assert_eq!(
            (first.is_some() as u8) + (second.is_some() as u8),
            1,
            "{first:?} {second:?}"
        );
        assert_eq!(first.or(second), Some(7));
        assert!(rx2.is_empty());
    });
}

/// A blocking receive whose timeout (under loom: at the first wait) races
/// the send: the item is returned or still in the channel.
#[test]
fn mpsc_blocking_recv_timeout_vs_send() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel::<usize>(1);
        let sender = thread::spawn(move || tx.try_send(3).unwrap());
        let got = rx.blocking_recv_timeout(std::time::Duration::from_secs(1)).ok();
        sender.join().unwrap();
        let rest = rx.try_recv().ok();
        assert_eq!(got.xor(rest), Some(3), "{got:?} {rest:?}");
    });
}

/// The oneshot's blocking path (the parked thread recorded in its waker
/// cell): a blocking receive is unparked by the send, or by the sender's
/// drop. (Each blocking receive runs on a thread of its own that ends
/// after it: loom treats an unpark arriving while a thread blocks on
/// something else, such as a join, as a wake of that wait; std does not.)
#[test]
fn oneshot_blocking_recv_vs_send_or_drop() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel::<usize>();
        let (tx2, rx2) = oneshot::channel::<usize>();
        let r1 = thread::spawn(move || rx.blocking_recv());
        let r2 = thread::spawn(move || rx2.blocking_recv());
        tx.send(1).unwrap();
        drop(tx2);
        assert_eq!(r1.join().unwrap(), Ok(1));
        assert!(r2.join().unwrap().is_err());
    });
}

/// A timed oneshot receive whose timeout (under loom: at the first wait)
/// races the send: the value is returned or left in the channel.
#[test]
fn oneshot_blocking_timeout_vs_send() {
    loom::model(|| {
        let (tx, mut rx) = oneshot::channel::<usize>();
        let r = thread::spawn(move || {
            let got = rx.blocking_recv_timeout(std::time::Duration::from_secs(1)).ok();
            (got, rx)
        });
        tx.send(3).unwrap();
        let (got, mut rx) = r.join().unwrap();
        let rest = rx.try_recv().ok();
        assert_eq!(got.xor(rest), Some(3), "{got:?} {rest:?}");
    });
}
