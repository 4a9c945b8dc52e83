//! Loom models of the broadcast channel: a send racing a waiting receiver,
//! the last sender's drop, a cancelled `recv`, readers of one slot racing
//! its overwrite (each value freed exactly once), and a receiver's drop
//! releasing what it had not read (also while lagging, with sends going
//! on). The slot locks, the tail lock, the
//! atomics and corral-runtime's wait list are loom's under the flag.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p corral-sync --test loom_broadcast --target-dir target/loom`

#![cfg(loom)]

use corral_sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Counts live values: +1 on creation (and on every clone), -1 on drop.
/// Zero at the end means every value, original or clone, was dropped
/// exactly once.
struct Tracked(Arc<AtomicUsize>, usize);

impl Tracked {
    fn new(live: &Arc<AtomicUsize>, v: usize) -> Self {
        live.fetch_add(1, SeqCst);
        Tracked(live.clone(), v)
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked::new(&self.0, self.1)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// A receiver waits while another thread sends one value and drops the
/// last sender: it gets the value, then `Closed` (no lost wakeup, no value
/// lost to the close).
#[test]
fn send_and_last_sender_drop_vs_waiting_recv() {
    loom::model(|| {
        let (tx, mut rx) = broadcast::channel::<usize>(2);
        let sender = thread::spawn(move || {
            tx.send(7).unwrap();
            drop(tx);
        });
        assert_eq!(loom::future::block_on(rx.recv()), Ok(7));
        assert_eq!(loom::future::block_on(rx.recv()), Err(RecvError::Closed));
        sender.join().unwrap();
    });
}

/// Two receivers on two threads wait for the same value: both get it (one
/// wake per send reaches every waiter), and the value is freed once.
#[test]
fn one_send_wakes_two_waiting_receivers() {
    loom::model(|| {
        let live = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx1) = broadcast::channel::<Tracked>(1);
        let mut rx2 = tx.subscribe();
        let other = thread::spawn(move || loom::future::block_on(rx2.recv()).map(|t| t.1));
        let l = live.clone();
        let sender = thread::spawn(move || {
            tx.send(Tracked::new(&l, 1)).unwrap();
        });
        assert_eq!(loom::future::block_on(rx1.recv()).map(|t| t.1), Ok(1));
        assert_eq!(other.join().unwrap(), Ok(1));
        sender.join().unwrap();
        drop(rx1);
        assert_eq!(live.load(SeqCst), 0);
    });
}

/// A `recv` that queued its node is dropped while a send races it: the
/// value is still there for the next receive, and no waiter is left.
#[test]
fn cancelled_recv_vs_send_loses_nothing() {
    loom::model(|| {
        let (tx, mut rx) = broadcast::channel::<usize>(2);
        {
            let mut r = pin!(rx.recv());
            assert!(poll_once(r.as_mut()).is_pending());
            let sender = thread::spawn(move || {
                tx.send(3).unwrap();
                tx
            });
            // Dropped here, racing the send's wake.
            drop(r);
            let tx = sender.join().unwrap();
            assert_eq!(tx.statistics().tasks_waiting_receive, 0);
            drop(tx);
        }
        assert_eq!(rx.try_recv(), Ok(3));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

/// Capacity 1: two receivers on two threads read slot 0 while the sender
/// overwrites it. Every value (originals and clones) is dropped exactly
/// once, whoever frees it (the last reader or the overwrite), and the
/// readers see 1 then 2, or lag to 2.
#[test]
fn readers_race_overwrite_and_free_each_value_once() {
    loom::model(|| {
        let live = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx1) = broadcast::channel::<Tracked>(1);
        let mut rx2 = tx.subscribe();
        tx.send(Tracked::new(&live, 1)).unwrap();
        let reader = thread::spawn(move || {
            let got = rx2.try_recv().map(|t| t.1);
            drop(rx2);
            got
        });
        let l = live.clone();
        let sender = thread::spawn(move || {
            tx.send(Tracked::new(&l, 2)).unwrap();
        });
        let mine = rx1.try_recv().map(|t| t.1);
        let theirs = reader.join().unwrap();
        sender.join().unwrap();
        for got in [mine, theirs] {
            assert!(
                matches!(got, Ok(1) | Ok(2) | Err(TryRecvError::Lagged(1))),
                "{got:?}"
            );
        }
        drop(rx1);
        assert_eq!(live.load(SeqCst), 0);
    });
}

/// A receiver is dropped (releasing the values counted for it) while the
/// other receiver reads: the value is freed exactly once, by whichever
/// goes last, and never while the other is cloning it.
#[test]
fn receiver_drop_releases_vs_reader() {
    loom::model(|| {
        let live = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx1) = broadcast::channel::<Tracked>(2);
        let rx2 = tx.subscribe();
        tx.send(Tracked::new(&live, 5)).unwrap();
        let dropper = thread::spawn(move || drop(rx2));
        assert_eq!(rx1.try_recv().map(|t| t.1), Ok(5));
        dropper.join().unwrap();
        // Both reads are counted: the held value is gone.
        assert_eq!(live.load(SeqCst), 0);
        assert_eq!(tx.len(), 0);
        drop((tx, rx1));
    });
}

/// A lagging receiver is dropped while the sender sends on: its drop
/// releases only the values that counted it (sent before it left), never
/// one sent after (that would free a value the other receiver still has
/// to read).
#[test]
fn lagging_receiver_drop_vs_sends() {
    loom::model(|| {
        let live = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx1) = broadcast::channel::<Tracked>(1);
        let rx2 = tx.subscribe();
        tx.send(Tracked::new(&live, 1)).unwrap();
        assert!(rx1.try_recv().is_ok());
        tx.send(Tracked::new(&live, 2)).unwrap(); // rx2 is now lagging
        let dropper = thread::spawn(move || drop(rx2));
        tx.send(Tracked::new(&live, 3)).unwrap();
        tx.send(Tracked::new(&live, 4)).unwrap();
        dropper.join().unwrap();
        // rx1 missed 2 and 3 (capacity 1), and still reads 4.
        assert_eq!(rx1.try_recv().map(|t| t.1), Err(TryRecvError::Lagged(2)));
        assert_eq!(rx1.try_recv().map(|t| t.1), Ok(4));
        drop((tx, rx1));
        assert_eq!(live.load(SeqCst), 0);
    });
}
