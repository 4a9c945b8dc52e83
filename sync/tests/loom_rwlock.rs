//! Loom models of RwLock's handoff, cancellation and downgrade paths,
//! driving the public API (the lock and the wait list switch to loom's
//! types under the flag, as in `loom.rs`).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-sync --test loom_rwlock --target-dir target/loom`

#![cfg(loom)]

use corral_sync::{RwLock, RwLockWriteGuard};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
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
    model_bound(4, f);
}

/// `loom::model` with a preemption bound of `bound` unless
/// `LOOM_MAX_PREEMPTIONS` sets one.
fn model_bound(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    builder.check(f);
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A free lock, in fast mode, whose engine has already been through one
/// contention on this thread (a read queued behind a write, then
/// cancelled), so its wait block is installed. The models then explore
/// the RwLock protocol, not the block's one-time install race, which
/// `loom.rs`'s `semaphore_block_installed_once` models on its own: with
/// the install inside them too, this file took 12 minutes in CI at 3
/// preemptions.
fn warmed_lock() -> Arc<RwLock<usize>> {
    let lock = Arc::new(RwLock::new(0usize));
    let writer = lock.try_write().unwrap();
    {
        let read = pin!(lock.read());
        assert!(poll_once(read).is_pending());
    }
    drop(writer);
    assert_eq!(lock.statistics().tasks_waiting, 0);
    assert!(lock.try_write().is_ok(), "the warmed lock is free");
    lock
}

/// A reader leaves while a writer waits and a second reader is cancelled
/// (queued behind the writer, or handed the lock, or done): the writer
/// always gets the lock, and every permit is back at the end.
#[test]
fn writer_handoff_vs_reader_cancel() {
    model(|| {
        let lock = warmed_lock();
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
        let lock = warmed_lock();
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
        let lock = warmed_lock();
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

/// Readers and writers counted from inside their guards: a writer sees
/// no reader and no other writer, a reader sees no writer.
#[derive(Default)]
struct Inside {
    readers: AtomicUsize,
    writing: AtomicBool,
}

impl Inside {
    fn read(&self) {
        self.readers.fetch_add(1, SeqCst);
        assert!(!self.writing.load(SeqCst), "a reader overlaps a writer");
    }
    fn read_done(&self) {
        self.readers.fetch_sub(1, SeqCst);
    }
    fn write(&self) {
        assert!(!self.writing.swap(true, SeqCst), "two writers overlap");
        assert_eq!(self.readers.load(SeqCst), 0, "a writer overlaps a reader");
    }
    fn write_done(&self) {
        self.writing.store(false, SeqCst);
    }
}

/// A reader holding the lock through the atomic fast path while a writer
/// queues (moving the word's readers into the semaphore) and a second
/// reader arrives (fast, or queued behind the writer): nobody overlaps a
/// writer, the fast reader's release reaches the queued writer, and the
/// lock ends free with nobody waiting (back in fast mode: try_write).
#[test]
fn fast_reader_vs_queued_writer_and_reader() {
    model(|| {
        let lock = warmed_lock();
        let inside = Arc::new(Inside::default());
        let r0 = lock.try_read().unwrap();
        inside.read();

        let (l1, i1) = (lock.clone(), inside.clone());
        let writer = thread::spawn(move || {
            let mut g = loom::future::block_on(l1.write());
            i1.write();
            *g += 1;
            i1.write_done();
        });
        let (l2, i2) = (lock.clone(), inside.clone());
        let reader = thread::spawn(move || {
            let g = loom::future::block_on(l2.read());
            i2.read();
            assert!(*g <= 1);
            i2.read_done();
        });

        assert_eq!(*r0, 0);
        inside.read_done();
        drop(r0);
        writer.join().unwrap();
        reader.join().unwrap();
        let g = lock.try_write().expect("a permit was lost");
        assert_eq!(*g, 1);
        drop(g);
        let s = lock.statistics();
        assert!(!s.locked && s.tasks_waiting == 0, "{s:?}");
    });
}

/// A writer holding the lock through the fast path while a reader and a
/// second writer queue behind it (moving it into the semaphore, with its
/// task record): both get in after it, one at a time, and the lock ends
/// free.
#[test]
fn fast_writer_vs_queued_reader_and_writer() {
    model(|| {
        let lock = warmed_lock();
        let inside = Arc::new(Inside::default());
        let mut w0 = lock.try_write().unwrap();
        inside.write();

        let (l1, i1) = (lock.clone(), inside.clone());
        let reader = thread::spawn(move || {
            let g = loom::future::block_on(l1.read());
            i1.read();
            assert!(*g == 1 || *g == 2, "{}", *g);
            i1.read_done();
        });
        let (l2, i2) = (lock.clone(), inside.clone());
        let writer = thread::spawn(move || {
            let mut g = loom::future::block_on(l2.write());
            i2.write();
            assert_eq!(*g, 1, "the second writer got in before the first was done");
            *g = 2;
            i2.write_done();
        });

        *w0 = 1;
        inside.write_done();
        drop(w0);
        reader.join().unwrap();
        writer.join().unwrap();
        let g = lock.try_write().expect("a permit was lost");
        assert_eq!(*g, 2);
        drop(g);
        let s = lock.statistics();
        assert!(!s.locked && s.tasks_waiting == 0, "{s:?}");
    });
}

/// Two readers take fast slots beside the lock's own two, already held,
/// racing to install the block of the slots beyond (one installs it, the
/// other frees its own and uses the winner's); each is listed in the statistics while it holds its
/// guard, and when all are gone no record is left and the slots are
/// clean (two fresh readers are both listed).
///
/// Bound 2 when run alone (CI sets 3 for the file: both new models then
/// take a few seconds): the protocol's steps here are a CAS on the word
/// and the block's install CAS (the slots themselves are plain std
/// atomics, not loom steps); a lost record or a double install shows
/// within two preemptions.
#[test]
fn fast_readers_race_to_install_the_slot_block() {
    model_bound(2, || {
        let lock = warmed_lock();
        let r0 = (lock.try_read().unwrap(), lock.try_read().unwrap());
        let spawn_reader = |l: Arc<RwLock<usize>>| {
            thread::spawn(move || {
                let g = l.try_read().expect("no writer: a fast read");
                let s = l.statistics();
                assert!(s.readers >= 3 && s.reader_tasks.len() >= 3, "{s:?}");
                drop(g);
            })
        };
        let a = spawn_reader(lock.clone());
        let b = spawn_reader(lock.clone());
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(lock.statistics().reader_tasks, [None, None]);
        drop(r0);
        let s = lock.statistics();
        assert!(!s.locked && s.reader_tasks.is_empty(), "{s:?}");
        let more = [(); 3].map(|()| lock.try_read().unwrap());
        assert_eq!(lock.statistics().reader_tasks, [None; 3]);
        drop(more);
    });
}

/// A fast reader holding slot 0 while a writer queues (moving it into the
/// semaphore, its name staying in the slot) and a second reader comes
/// (slot 1, or recorded by the semaphore behind the writer): each reader
/// is listed while it holds its guard, and at the end the lock is free,
/// back in fast mode, with no record left anywhere.
///
/// Bound 2, as the model above.
#[test]
fn reader_records_vs_queued_writer() {
    model_bound(2, || {
        let lock = warmed_lock();
        let r0 = lock.try_read().unwrap();

        let l1 = lock.clone();
        let writer = thread::spawn(move || {
            *loom::future::block_on(l1.write()) += 1;
        });
        let l2 = lock.clone();
        let reader = thread::spawn(move || {
            let g = loom::future::block_on(l2.read());
            let s = l2.statistics();
            assert!(!s.reader_tasks.is_empty(), "a holder is not listed: {s:?}");
            drop(g);
        });

        drop(r0);
        writer.join().unwrap();
        reader.join().unwrap();
        let s = lock.statistics();
        assert!(
            !s.locked && s.tasks_waiting == 0 && s.reader_tasks.is_empty(),
            "{s:?}"
        );
        let g = lock.try_read().expect("back in fast mode");
        assert_eq!(lock.statistics().reader_tasks, [None]);
        drop(g);
    });
}

/// A reader holding the lock through the semaphore (handed it when a
/// fast writer left) after the word went back to fast mode with
/// `SEM_READERS`, while a writer and a second reader come (the writer
/// must queue, moving a fast reader's slot bit into the slow word; the
/// reader is fast, or queued behind the writer) and the first reader
/// leaves through the semaphore: nobody overlaps a writer, and the lock
/// ends free, back in fast mode, with no record left.
///
/// Bound 2, as the models above.
#[test]
fn semaphore_reader_in_fast_mode_vs_writer_and_reader() {
    model_bound(2, || {
        let lock = warmed_lock();
        let inside = Arc::new(Inside::default());
        let w0 = lock.try_write().unwrap();
        let g1 = {
            let mut r1 = pin!(lock.read());
            assert!(poll_once(r1.as_mut()).is_pending());
            drop(w0);
            match poll_once(r1) {
                Poll::Ready(g) => g,
                Poll::Pending => panic!("the reader behind the writer was handed the lock"),
            }
        };
        inside.read();
        assert!(
            lock.try_read().is_ok(),
            "fast mode again beside the semaphore's reader"
        );

        let (l1, i1) = (lock.clone(), inside.clone());
        let writer = thread::spawn(move || {
            let mut g = loom::future::block_on(l1.write());
            i1.write();
            *g += 1;
            i1.write_done();
        });
        let (l2, i2) = (lock.clone(), inside.clone());
        let reader = thread::spawn(move || {
            let g = loom::future::block_on(l2.read());
            i2.read();
            assert!(*g <= 1);
            i2.read_done();
        });

        assert_eq!(*g1, 0);
        inside.read_done();
        drop(g1);
        writer.join().unwrap();
        reader.join().unwrap();
        let s = lock.statistics();
        assert!(
            !s.locked && s.tasks_waiting == 0 && s.reader_tasks.is_empty(),
            "{s:?}"
        );
        let g = lock
            .try_write()
            .expect("a permit was lost, or still in slow mode");
        assert_eq!(*g, 1);
        drop(g);
    });
}
