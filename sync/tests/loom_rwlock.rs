//! Loom models of RwLock's handoff, cancellation and downgrade paths,
//! driving the public API (the lock and the wait list switch to loom's
//! types under the flag, as in `loom.rs`).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-sync --test loom_rwlock --target-dir target/loom`

#![cfg(loom)]

use corral_sync::{RwLock, RwLockWriteGuard};
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// `loom::model` with a preemption bound of 4 unless `LOOM_MAX_PREEMPTIONS`
/// sets one. Each model has three threads that take the engine's lock many
/// times; unbounded exploration ran past 10 minutes (CI runs these without
/// the variable), bound 4 takes about 12 s for the file. Each model's
/// planted bug (a Notified waiter dropping its permits, a cancelled head
/// writer dropping its partial handoff, a downgrade that frees the lock for
/// an instant) is found within 2 preemptions.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(4);
    }
    builder.check(f);
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A reader leaves while a writer waits and a second reader is cancelled
/// (queued behind the writer, or handed the lock, or done): the writer
/// always gets the lock, and every permit is back at the end.
#[test]
fn writer_handoff_vs_reader_cancel() {
    model(|| {
        let lock = Arc::new(RwLock::new(0usize));
        let r0 = lock.try_read().unwrap();

        let l1 = lock.clone();
        let writer = thread::spawn(move || {
            *loom::future::block_on(l1.write()) += 1;
        });
        let l2 = lock.clone();
        let cancelled = thread::spawn(move || {
            let mut fut = pin!(l2.read());
            if let Poll::Ready(g) = poll_once(fut.as_mut()) {
                assert!(*g <= 1);
            }
            // dropped here: queued, handed its permit, or done
        });

        drop(r0);
        writer.join().unwrap();
        cancelled.join().unwrap();
        let g = lock.try_write().expect("a permit was lost");
        assert_eq!(*g, 1);
        assert_eq!(lock.statistics().tasks_waiting, 0);
    });
}

/// A writer that may be at the head of the line (with a partial handoff)
/// is cancelled while the reader inside leaves and another reader waits
/// behind it: the waiting reader always gets in.
#[test]
fn cancelled_head_writer_lets_the_reader_behind_in() {
    model(|| {
        let lock = Arc::new(RwLock::new(0usize));
        let r0 = lock.try_read().unwrap();

        let l1 = lock.clone();
        let cancelled = thread::spawn(move || {
            let mut fut = pin!(l1.write());
            if let Poll::Ready(mut g) = poll_once(fut.as_mut()) {
                *g += 1;
            }
        });
        let l2 = lock.clone();
        let reader = thread::spawn(move || {
            let g = loom::future::block_on(l2.read());
            assert!(*g <= 1);
        });

        drop(r0);
        cancelled.join().unwrap();
        reader.join().unwrap();
        assert!(lock.try_write().is_ok(), "a permit was lost");
        assert_eq!(lock.statistics().tasks_waiting, 0);
    });
}

/// The writer downgrades while another writer and a reader wait: the
/// other writer never gets in before the downgraded guard is dropped (it
/// sees the value the first writer left and no reader overlaps it), and
/// everything ends released.
#[test]
fn downgrade_vs_waiting_writer_and_reader() {
    model(|| {
        let lock = Arc::new(RwLock::new(0usize));
        let mut w0 = lock.try_write().unwrap();

        let writing = Arc::new(AtomicBool::new(false));

        let (l1, w1) = (lock.clone(), writing.clone());
        let writer = thread::spawn(move || {
            let mut g = loom::future::block_on(l1.write());
            w1.store(true, SeqCst);
            assert_eq!(*g, 1, "the second writer got in before the first was done");
            *g = 2;
            w1.store(false, SeqCst);
        });
        let l2 = lock.clone();
        let reader = thread::spawn(move || {
            let g = loom::future::block_on(l2.read());
            assert!(*g == 1 || *g == 2, "{}", *g);
        });

        *w0 = 1;
        let r0 = RwLockWriteGuard::downgrade(w0);
        assert!(!writing.load(SeqCst), "a writer slipped in at the downgrade");
        assert_eq!(*r0, 1);
        drop(r0);
        writer.join().unwrap();
        reader.join().unwrap();
        let g = lock.try_write().expect("a permit was lost");
        assert_eq!(*g, 2);
        assert_eq!(lock.statistics().tasks_waiting, 0);
    });
}
