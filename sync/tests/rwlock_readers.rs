//! RwLock's reader records (issue 9): `statistics().reader_tasks` names
//! the task behind every read guard, whichever way it was taken (fast
//! path, through the semaphore, `read_owned`, `blocking_read`, `try_read`,
//! a downgraded write guard, more readers than the fast path's slots), and
//! no record outlives its guard (drop, panic unwinding, a cancelled read
//! that had been handed the lock). A stress test checks the records
//! against the count at quiescence.

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, multi, poll_once, run_with_timeout, stress, Gate, Rng};
use corral::sync::{OwnedRwLockWriteGuard, RwLock, RwLockWriteGuard};
use corral::task::Id;
use std::pin::pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::Poll;

async fn settle() {
    for _ in 0..20 {
        corral::yield_now().await;
    }
}

/// The reader tasks, sorted (the order is unspecified).
fn readers_of<T>(lock: &RwLock<T>) -> Vec<Option<Id>> {
    let mut r = lock.statistics().reader_tasks;
    r.sort();
    r
}

fn sorted(mut v: Vec<Option<Id>>) -> Vec<Option<Id>> {
    v.sort();
    v
}

/// A task that takes a read lock and holds it until `gate`.
fn reader(lock: &Arc<RwLock<u32>>, gate: &Gate) -> corral::task::JoinHandle<()> {
    let (lock, gate) = (lock.clone(), gate.clone());
    corral::spawn(async move {
        let _g = lock.read().await;
        gate.wait().await;
    })
}

/// The lock is free and keeps no record.
fn assert_free<T>(lock: &RwLock<T>) {
    let s = lock.statistics();
    assert!(!s.locked, "{s:?}");
    assert_eq!((s.readers, s.writer, s.tasks_waiting), (0, None, 0), "{s:?}");
    assert!(s.reader_tasks.is_empty(), "{s:?}");
}

#[test]
fn fast_path_readers_are_named_by_task() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let gate = Gate::default();
        let a = reader(&lock, &gate);
        settle().await;
        let s = lock.statistics();
        assert_eq!((s.readers, s.tasks_waiting), (1, 0));
        assert_eq!(s.reader_tasks, vec![Some(a.id())]);
        // A second one at once (the second slot).
        let b = reader(&lock, &gate);
        settle().await;
        assert_eq!(lock.statistics().readers, 2);
        assert_eq!(readers_of(&lock), sorted(vec![Some(a.id()), Some(b.id())]));
        // block_on's future is not a task.
        let mine = lock.read().await;
        assert_eq!(readers_of(&lock), sorted(vec![None, Some(a.id()), Some(b.id())]));
        drop(mine);
        gate.open();
        a.await.unwrap();
        b.await.unwrap();
        assert_free(&lock);
    });
}

#[test]
fn readers_handed_the_lock_through_the_semaphore_are_named() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let gate = Gate::default();
        let w = lock.write().await;
        let a = reader(&lock, &gate);
        let b = reader(&lock, &gate);
        settle().await;
        assert_eq!(lock.statistics().tasks_waiting, 2);
        assert!(lock.statistics().reader_tasks.is_empty());
        drop(w); // both are handed the lock by the semaphore
        settle().await;
        let s = lock.statistics();
        assert_eq!((s.readers, s.tasks_waiting), (2, 0));
        assert_eq!(sorted(s.reader_tasks), sorted(vec![Some(a.id()), Some(b.id())]));
        // A try_read in slow mode goes through the semaphore too.
        let t = lock.try_read().unwrap();
        assert_eq!(readers_of(&lock), sorted(vec![None, Some(a.id()), Some(b.id())]));
        drop(t);
        assert_eq!(readers_of(&lock), sorted(vec![Some(a.id()), Some(b.id())]));
        gate.open();
        a.await.unwrap();
        b.await.unwrap();
        assert_free(&lock);
    });
}

#[test]
fn fast_readers_taken_over_by_the_semaphore_keep_their_names() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let gate = Gate::default();
        let a = reader(&lock, &gate);
        settle().await;
        // A writer queues: the lock goes to slow mode, the reader's permit
        // moves into the semaphore.
        let l = lock.clone();
        let w = corral::spawn(async move { *l.write().await += 1 });
        settle().await;
        let s = lock.statistics();
        assert_eq!((s.readers, s.tasks_waiting), (1, 1));
        assert_eq!(s.reader_tasks, vec![Some(a.id())]);
        gate.open();
        a.await.unwrap();
        w.await.unwrap();
        assert_free(&lock);
        assert_eq!(*lock.read().await, 1);
    });
}

#[test]
fn an_owned_read_guard_names_the_task_that_acquired_it() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let l = lock.clone();
        let acquirer = corral::spawn(async move { l.read_owned().await });
        let id = acquirer.id();
        let guard = acquirer.await.unwrap();
        assert_eq!(lock.statistics().reader_tasks, vec![Some(id)]);
        // Moved into another task: still the acquirer's record.
        let gate = Gate::default();
        let g2 = gate.clone();
        let holder = corral::spawn(async move {
            let _guard = guard;
            g2.wait().await;
        });
        settle().await;
        assert_ne!(holder.id(), id);
        assert_eq!(lock.statistics().reader_tasks, vec![Some(id)]);
        gate.open();
        holder.await.unwrap();
        assert_free(&lock);
        // Through the semaphore as well.
        let w = lock.write().await;
        let l = lock.clone();
        let queued = corral::spawn(async move { l.read_owned().await });
        let id = queued.id();
        settle().await;
        drop(w);
        let guard = queued.await.unwrap();
        assert_eq!(lock.statistics().reader_tasks, vec![Some(id)]);
        drop(guard);
        assert_free(&lock);
    });
}

#[test]
fn blocking_and_try_readers_are_named() {
    let lock = Arc::new(RwLock::new(0));
    // A plain thread: not a task.
    let g = lock.blocking_read();
    assert_eq!(lock.statistics().reader_tasks, vec![None]);
    drop(g);
    assert_free(&lock);
    let rt = multi(2);
    // run_sync's closure runs as a task: named.
    let l = lock.clone();
    let job = rt.block_on(async move {
        let job = corral::run_sync(move || {
            let _g = l.blocking_read();
            (l.statistics().reader_tasks, corral::task::try_id())
        });
        job.await.unwrap()
    });
    assert!(job.1.is_some(), "run_sync runs as a task");
    assert_eq!(job.0, vec![job.1]);
    assert_free(&lock);
    // try_read in a task, fast path.
    let l = lock.clone();
    let t = rt.spawn(async move {
        let _g = l.try_read().unwrap();
        (l.statistics().reader_tasks, corral::task::try_id())
    });
    let (tasks, id) = rt.block_on(t).unwrap();
    assert_eq!(tasks, vec![id]);
    assert_free(&lock);
    // A blocking reader handed the lock through the semaphore.
    let w = lock.try_write().unwrap();
    let l = lock.clone();
    let th = std::thread::spawn(move || {
        let _g = l
            .blocking_read_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        l.statistics().reader_tasks
    });
    while lock.statistics().tasks_waiting == 0 {
        std::thread::yield_now();
    }
    drop(w);
    assert_eq!(th.join().unwrap(), vec![None]);
    assert_free(&lock);
}

#[test]
fn a_downgraded_write_guard_names_the_writer_in_both_modes() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(0));
        // Fast mode.
        let l = lock.clone();
        let t = corral::spawn(async move {
            let r = RwLockWriteGuard::downgrade(l.write().await);
            let s = l.statistics();
            drop(r);
            (s, corral::task::try_id())
        });
        let (s, id) = t.await.unwrap();
        assert!(id.is_some());
        assert_eq!((s.readers, s.reader_tasks), (1, vec![id]));
        assert_free(&lock);
        // Slow mode: a reader queued behind the write lock is admitted by
        // the downgrade, beside the downgraded guard.
        let gate = Gate::default();
        let l = lock.clone();
        let g = gate.clone();
        let wtask = corral::spawn(async move {
            let w = l.clone().write_owned().await;
            g.wait().await;
            let r = OwnedRwLockWriteGuard::downgrade(w);
            settle().await;
            let s = l.statistics();
            drop(r);
            s
        });
        settle().await;
        let hold = Gate::default();
        let queued = reader(&lock, &hold);
        settle().await;
        assert_eq!(lock.statistics().tasks_waiting, 1);
        assert_eq!(lock.statistics().writer, Some(wtask.id()));
        let (wid, qid) = (wtask.id(), queued.id());
        gate.open();
        let s = wtask.await.unwrap();
        hold.open();
        queued.await.unwrap();
        assert_eq!(s.readers, 2);
        assert_eq!(sorted(s.reader_tasks), sorted(vec![Some(wid), Some(qid)]));
        assert_free(&lock);
    });
}

#[test]
fn more_readers_than_fast_slots_are_all_named() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let gate = Gate::default();
        let tasks: Vec<_> = (0..40).map(|_| reader(&lock, &gate)).collect();
        settle().await;
        let s = lock.statistics();
        assert_eq!(s.readers, 40);
        let want = sorted(tasks.iter().map(|t| Some(t.id())).collect());
        assert_eq!(sorted(s.reader_tasks), want);
        gate.open();
        for t in tasks {
            t.await.unwrap();
        }
        assert_free(&lock);
        // Back in fast mode, and the slots are clean.
        let a = reader(&lock, &Gate::default());
        settle().await;
        assert_eq!(lock.statistics().reader_tasks, vec![Some(a.id())]);
        a.abort();
        let _ = a.await;
        assert_free(&lock);
    });
}

#[test]
fn a_reader_that_panics_leaves_no_record() {
    let rt = multi(2);
    rt.block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let l = lock.clone();
        let t = corral::spawn(async move {
            let _g = l.read().await;
            panic!("reader fails");
        });
        assert!(t.await.unwrap_err().is_panic());
        assert_free(&lock);
        // And one handed the lock through the semaphore.
        let w = lock.write().await;
        let l = lock.clone();
        let t = corral::spawn(async move {
            let _g = l.read().await;
            panic!("reader fails");
        });
        while lock.statistics().tasks_waiting == 0 {
            corral::yield_now().await;
        }
        drop(w);
        assert!(t.await.unwrap_err().is_panic());
        assert_free(&lock);
        // A downgraded guard too.
        let l = lock.clone();
        let t = corral::spawn(async move {
            let _r = RwLockWriteGuard::downgrade(l.write().await);
            panic!("downgraded reader fails");
        });
        assert!(t.await.unwrap_err().is_panic());
        assert_free(&lock);
    });
}

#[test]
fn a_cancelled_read_that_was_handed_the_lock_leaves_no_record() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let w = lock.write().await;
        {
            let mut read = pin!(lock.read());
            assert!(poll_once(read.as_mut()).is_pending());
            drop(w); // the read is handed the lock (and a record)...
            assert_eq!(lock.statistics().readers, 1);
            assert_eq!(lock.statistics().reader_tasks, vec![None]);
        } // ...and dropped before it was polled again.
        assert_free(&lock);
        // The same in a task that is aborted.
        let w = lock.write().await;
        let l = lock.clone();
        let t = corral::spawn(async move {
            let _g = l.read().await;
            std::future::pending::<()>().await;
        });
        settle().await;
        drop(w);
        t.abort();
        assert!(t.await.unwrap_err().is_cancelled());
        assert_free(&lock);
    });
}

/// 8 threads and 16 tasks read, try, downgrade and write at random; in
/// rounds, once all are done with that, every participant holds a read
/// guard at once and the records must match the count exactly; at the
/// end the lock is free with no record left. (No task is aborted, so the
/// counters below cannot be skipped.)
#[test]
fn stress_reader_records_match_the_count() {
    run_with_timeout("stress_reader_records_match_the_count", 120, || {
        let rounds = stress().clamp(4, 50);
        let lock = Arc::new(RwLock::new(0u64));
        let rt = multi(2);
        for round in 0..rounds {
            let barrier = Arc::new(std::sync::Barrier::new(9));
            // Participants done with the random part: the final reads wait
            // for all, so none queues behind a writer a held read blocks.
            let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut threads = Vec::new();
            for t in 0..8u64 {
                let (lock, barrier, done) = (lock.clone(), barrier.clone(), done.clone());
                threads.push(std::thread::spawn(move || {
                    let mut rng = Rng(round as u64 * 97 + t + 1);
                    for _ in 0..200 {
                        match rng.below(5) {
                            0 => *lock.blocking_write() += 1,
                            1 => drop(RwLockWriteGuard::downgrade(lock.blocking_write())),
                            2 => drop(lock.try_read()),
                            _ => drop(lock.blocking_read()),
                        }
                    }
                    done.fetch_add(1, SeqCst);
                    while done.load(SeqCst) < 24 {
                        std::thread::yield_now();
                    }
                    let g = lock.blocking_read();
                    barrier.wait(); // all hold
                    barrier.wait(); // checked
                    drop(g);
                }));
            }
            let gate = Gate::default();
            let held = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let tasks: Vec<_> = (0..16u64)
                .map(|t| {
                    let (lock, gate, held, done) = (lock.clone(), gate.clone(), held.clone(), done.clone());
                    rt.spawn(async move {
                        let mut rng = Rng(round as u64 * 131 + t + 1000);
                        for _ in 0..200 {
                            match rng.below(5) {
                                0 => *lock.write().await += 1,
                                1 => drop(RwLockWriteGuard::downgrade(lock.write().await)),
                                2 => drop(lock.try_read()),
                                _ => drop(lock.read().await),
                            }
                        }
                        done.fetch_add(1, SeqCst);
                        while done.load(SeqCst) < 24 {
                            corral::yield_now().await;
                        }
                        let _g = lock.read().await;
                        held.fetch_add(1, SeqCst);
                        gate.wait().await;
                        corral::task::try_id()
                    })
                })
                .collect();
            let ids: Vec<_> = tasks.iter().map(|t| Some(t.id())).collect();
            barrier.wait();
            while held.load(SeqCst) < 16 {
                std::thread::yield_now();
            }
            let s = lock.statistics();
            assert_eq!(s.readers, 24, "{s:?}");
            let mut want = ids.clone();
            want.extend([None; 8]);
            assert_eq!(sorted(s.reader_tasks), sorted(want), "round {round}");
            barrier.wait();
            gate.open();
            for (t, id) in tasks.into_iter().zip(ids) {
                assert_eq!(rt.block_on(t).unwrap(), id);
            }
            for t in threads {
                t.join().unwrap();
            }
            assert_free(&lock);
            let s = lock.statistics();
            assert_eq!(s.tasks_waiting, 0);
        }
    });
}

#[test]
fn statistics_of_a_poll_from_outside_any_task_is_none() {
    // A read future polled by hand on a plain thread (no runtime at all).
    let lock = RwLock::new(());
    let mut read = pin!(lock.read());
    let Poll::Ready(g) = poll_once(read.as_mut()) else {
        panic!("an uncontended read is ready at once");
    };
    assert_eq!(lock.statistics().reader_tasks, vec![None]);
    drop(g);
    assert_free(&lock);
}
