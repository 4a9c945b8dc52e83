//! Loom models of corral-sync's handoff and cancellation paths, driving the
//! public API. corral-sync's lock and corral-runtime's wait list both switch
//! to loom's types under the flag.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-sync --test loom --target-dir target/loom`
//!
//! Futures are polled by `loom::future::block_on` (a foreign waker) or by
//! hand with a no-op waker, to cancel them at a chosen point.

#![cfg(loom)]

use corral_sync::{AcquireError, BlockingAcquireError, Mutex, Semaphore};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// The holder unlocks while one waiter is cancelled (possibly after the
/// lock was handed to it) and another waits: the lock always reaches the
/// waiter, and is free at the end.
#[test]
fn mutex_handoff_vs_cancel() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let held = m.try_lock().unwrap();

        let m1 = m.clone();
        let cancelled = thread::spawn(move || {
            let mut fut = pin!(m1.lock());
            if let Poll::Ready(mut g) = poll_once(fut.as_mut()) {
                *g += 1;
            }
            // dropped here: queued, handed the lock, or done
        });
        let m2 = m.clone();
        let waiter = thread::spawn(move || {
            let mut g = loom::future::block_on(m2.lock());
            *g += 10;
        });

        drop(held);
        cancelled.join().unwrap();
        waiter.join().unwrap();
        let g = m.try_lock().expect("the lock was lost");
        assert!(*g == 10 || *g == 11);
        assert_eq!(m.statistics().tasks_waiting, 0);
    });
}

/// A permit is released while a large request (which may hold a partial
/// handoff) is cancelled, a small request waits, and the semaphore closes:
/// the small request ends Ok or Closed, and every permit is back.
#[test]
fn semaphore_acquire_vs_cancel_vs_close() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();

        let s1 = sem.clone();
        let large = thread::spawn(move || {
            let mut fut = pin!(s1.acquire_many(2));
            let _ = poll_once(fut.as_mut());
            // cancelled (or completed and released) here
        });
        let s2 = sem.clone();
        let small = thread::spawn(move || {
            let r = loom::future::block_on(s2.acquire()).map(|p| p.num_permits());
            assert!(matches!(r, Ok(1) | Err(AcquireError::Closed)), "{r:?}");
        });

        drop(held);
        sem.close();
        large.join().unwrap();
        small.join().unwrap();
        assert_eq!(sem.available_permits(), 1, "a permit was lost");
        let s = sem.statistics();
        assert_eq!(s.tasks_waiting, 0);
        assert!(
            s.holders.is_empty(),
            "a holder record outlived its permit: {:?}",
            s.holders
        );
    });
}

/// A fresh Semaphore has no lock of its own: its block (the lock, the wait
/// list, the holder records, the creation site) is installed by the first
/// acquire, with one CAS over the tagged creation site. Two acquirers race
/// to install it while the site is read: the loser frees its block and
/// uses the winner's (a loser that kept its own would take the permit
/// twice or strand a waiter), and the site reads the same throughout.
#[test]
fn semaphore_block_installed_once() {
    loom::model(|| {
        let line = line!() + 1;
        let sem = Arc::new(Semaphore::new(1));
        let acquirer = |s: Arc<Semaphore>| {
            thread::spawn(move || {
                let p = loom::future::block_on(s.acquire()).unwrap();
                assert_eq!(s.available_permits(), 0, "two holders of one permit");
                drop(p);
            })
        };
        let a = acquirer(sem.clone());
        let b = acquirer(sem.clone());
        assert_eq!(sem.created_at().line(), line);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(sem.created_at().line(), line);
        assert_eq!(sem.available_permits(), 1, "a permit was lost");
        let s = sem.statistics();
        assert_eq!(s.tasks_waiting, 0);
        assert!(s.holders.is_empty(), "{:?}", s.holders);
    });
}

/// Two acquirers and a release, no close: the permit reaches one of them
/// whatever the interleaving, even when the other is cancelled after being
/// handed it.
#[test]
fn semaphore_handoff_vs_cancel() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s1 = sem.clone();
        let cancelled = thread::spawn(move || {
            let mut fut = pin!(s1.acquire());
            let _ = poll_once(fut.as_mut());
        });
        let s2 = sem.clone();
        let waiter = thread::spawn(move || {
            loom::future::block_on(s2.acquire()).unwrap().forget();
        });
        sem.add_permits(1);
        cancelled.join().unwrap();
        // Make sure the waiter can finish even if the cancelled one took
        // the only permit and gave it back through its drop.
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
        // The forgotten permit took its record with it, and the cancelled
        // one (if handed the permit) left none behind.
        assert!(sem.statistics().holders.is_empty());
    });
}

/// Holder records under a handoff race: while a waiter (a thread) holds
/// the permit it was handed, the records show exactly one holder of one
/// permit (never the releaser's record as well, never none).
#[test]
fn semaphore_holder_records_follow_the_handoff() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let s1 = sem.clone();
        let waiter = thread::spawn(move || {
            let p = loom::future::block_on(s1.acquire()).unwrap();
            let holders = s1.statistics().holders;
            assert_eq!(holders.len(), 1, "{holders:?}");
            assert_eq!(holders[0].permits, 1);
            drop(p);
        });
        drop(held);
        waiter.join().unwrap();
        assert!(sem.statistics().holders.is_empty());
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A blocking acquire whose timeout races the release: it either gets the
/// permit (and gives it back) or times out without keeping it.
#[test]
fn blocking_timeout_vs_release() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let s1 = sem.clone();
        let t = thread::spawn(
            move || match s1.blocking_acquire_timeout(Duration::from_millis(1)) {
                Ok(p) => drop(p),
                Err(e) => assert_eq!(e, BlockingAcquireError::Timeout),
            },
        );
        drop(held);
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.statistics().tasks_waiting, 0);
    });
}

/// Corral tasks (not foreign wakers) wait on the Mutex: the unlock on
/// another thread hands the lock over and wakes the task through the
/// runtime's own path; an aborted waiter that may have been handed the lock
/// passes it on to the other task.
#[test]
fn mutex_handoff_to_corral_tasks_vs_abort() {
    loom::model(|| {
        let rt = corral::Builder::new_current_thread().build().unwrap();
        let m = std::sync::Arc::new(Mutex::new(0usize));
        let held = m.clone().try_lock_owned().unwrap();
        let (m1, m2) = (m.clone(), m.clone());
        let a = rt.spawn(async move { *m1.lock().await += 1 });
        let b = rt.spawn(async move { *m2.lock().await += 10 });
        // Let both queue up.
        rt.block_on(async {
            while m.statistics().tasks_waiting < 2 {
                corral::yield_now().await;
            }
        });
        let th = thread::spawn(move || drop(held));
        a.abort();
        rt.block_on(async {
            let _ = a.await;
            b.await.unwrap();
        });
        th.join().unwrap();
        let v = *m.try_lock().expect("the lock was lost");
        assert!(v == 10 || v == 11, "{v}");
    });
}

/// The atomic fast path against the queued slow path: three lockers (two
/// threads through a foreign executor, one through `try_lock` falling back
/// to waiting) each do a read-modify-write through the guard. Loom checks
/// every guard access against the lock's handoff (the data is a loom cell),
/// so an unlock that did not publish the holder's writes, or a lock taken
/// while another holder runs, fails here; a wake lost between "set
/// WAITERS" and the holder's fast unlock deadlocks the model.
#[test]
fn mutex_fast_path_vs_queue() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let spawn_locker = |m: Arc<Mutex<usize>>| {
            thread::spawn(move || {
                let mut g = loom::future::block_on(m.lock());
                let v = *g;
                *g = v + 1;
            })
        };
        let a = spawn_locker(m.clone());
        let b = spawn_locker(m.clone());
        {
            let mut g = match m.try_lock() {
                Ok(g) => g,
                Err(_) => loom::future::block_on(m.lock()),
            };
            let v = *g;
            *g = v + 1;
        }
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(*m.try_lock().expect("the lock was lost"), 3);
        let s = m.statistics();
        assert!(!s.locked && s.tasks_waiting == 0, "{s:?}");
    });
}

/// A blocking locker whose timeout races the unlock: it gets the lock (and
/// the holder's write) or times out holding nothing; either way the lock is
/// free at the end and WAITERS is clear (a later try_lock succeeds).
#[test]
fn mutex_blocking_timeout_vs_unlock() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let mut held = m.try_lock().unwrap();
        let m1 = m.clone();
        let t = thread::spawn(move || match m1.blocking_lock_timeout(Duration::from_millis(1)) {
            Ok(g) => assert_eq!(*g, 1),
            Err(_) => {}
        });
        *held = 1;
        drop(held);
        t.join().unwrap();
        assert!(m.try_lock().is_ok(), "the lock was lost");
        assert_eq!(m.statistics().tasks_waiting, 0);
    });
}

/// The Mutex's wait list is allocated at the first contention and
/// installed by one CAS over the tagged creation site: two waiters that
/// both find it missing race to install theirs, the loser frees its own
/// and queues on the winner's, and the unlock (which finds the list
/// through the same word) reaches both. A loser that kept its own list
/// would strand its waiter (a deadlock). The site, read while the block
/// goes in, is the same from the tagged word as from the block.
#[test]
fn mutex_wait_list_installed_once() {
    loom::model(|| {
        let line = line!() + 1;
        let m = Arc::new(Mutex::new(0usize));
        let held = m.try_lock().unwrap();
        let spawn_waiter = |m: Arc<Mutex<usize>>| {
            thread::spawn(move || {
                let mut g = loom::future::block_on(m.lock());
                *g += 1;
            })
        };
        let a = spawn_waiter(m.clone());
        let b = spawn_waiter(m.clone());
        assert_eq!(m.created_at().line(), line);
        drop(held);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(m.created_at().line(), line);
        assert_eq!(*m.try_lock().expect("the lock was lost"), 2);
        assert_eq!(m.statistics().tasks_waiting, 0);
    });
}
