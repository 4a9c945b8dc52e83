//! RwLock: semantics, errors, FIFO and write preference, downgrade,
//! cancellation at every await point, panics, threads, foreign executors
//! (a hand-rolled one and tokio), and the stress from the issue: writers on
//! 8 threads sum exactly while readers check an invariant
//! (`CORRAL_STRESS`-sized).

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress, Gate, Rng};
use corral::sync::{
    OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockMappedWriteGuard,
    RwLockReadGuard, RwLockWriteGuard,
};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

/// A shared event log.
type Log = Arc<StdMutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(StdMutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// A task that reads, logs `name`, and holds the read lock until `gate`.
fn reader(lock: &Arc<RwLock<u32>>, log: &Log, name: &str, gate: &Gate) -> corral::task::JoinHandle<()> {
    let (lock, log, name, gate) = (lock.clone(), log.clone(), name.to_string(), gate.clone());
    corral::spawn(async move {
        let g = lock.read().await;
        log.lock().unwrap().push(format!("{name}={}", *g));
        gate.wait().await;
    })
}

/// A task that writes (adds 1), logs `name`, and holds until `gate`.
fn writer(lock: &Arc<RwLock<u32>>, log: &Log, name: &str, gate: &Gate) -> corral::task::JoinHandle<()> {
    let (lock, log, name, gate) = (lock.clone(), log.clone(), name.to_string(), gate.clone());
    corral::spawn(async move {
        let mut g = lock.write().await;
        *g += 1;
        log.lock().unwrap().push(format!("{name}={}", *g));
        gate.wait().await;
    })
}

#[test]
fn read_write_try_and_errors() {
    current().block_on(async {
        let lock = RwLock::new(1);
        {
            let a = lock.read().await;
            let b = lock.read().await;
            let c = lock.try_read().unwrap();
            assert_eq!(*a + *b + *c, 3);
            let err = lock.try_write().unwrap_err();
            assert_eq!(err.to_string(), "rwlock is locked (by readers or a writer)");
            let s = lock.statistics();
            assert!(s.locked && !s.write_locked);
            assert_eq!(s.readers, 3);
        }
        {
            let mut w = lock.write().await;
            *w += 1;
            let err = lock.try_read().unwrap_err();
            assert_eq!(err.to_string(), "rwlock is write-locked or a writer waits for it");
            assert!(lock.try_write().is_err());
            assert_eq!(
                format!("{lock:?}").split(',').next().unwrap(),
                "RwLock { data: <locked>"
            );
            let s = lock.statistics();
            assert!(s.locked && s.write_locked);
            assert_eq!(s.readers, 0);
        }
        assert!(!lock.statistics().locked);
        assert_eq!(*lock.try_write().unwrap(), 2);
        assert_eq!(format!("{lock:?}").split(',').next().unwrap(), "RwLock { data: 2");
        let _r = lock.try_read().unwrap();
        let e: Box<dyn std::error::Error> = Box::new(lock.try_write().unwrap_err());
        assert!(e.to_string().contains("locked"));
    });
}

#[test]
fn get_mut_into_inner_default_from_max_readers() {
    let mut lock = RwLock::new(vec![1]);
    lock.get_mut().push(2);
    assert_eq!(lock.into_inner(), vec![1, 2]);
    let d: RwLock<u8> = RwLock::default();
    assert_eq!(d.into_inner(), 0);
    assert_eq!(RwLock::from("x").into_inner(), "x");
    assert_eq!(RwLock::<()>::MAX_READERS, usize::MAX >> 3);
    // Unsized data.
    let s: Box<RwLock<[u8]>> = Box::new(RwLock::new([1u8, 2, 3]));
    assert_eq!(s.try_read().unwrap().len(), 3);
}

#[test]
fn readers_share_and_the_writer_is_alone() {
    run_with_timeout("together", 20, || {
        multi(2).block_on(async {
            let lock = Arc::new(RwLock::new(0u32));
            let inside_r = Arc::new(AtomicUsize::new(0));
            let max_r = Arc::new(AtomicUsize::new(0));
            let writer_inside = Arc::new(AtomicBool::new(false));
            let mut tasks = Vec::new();
            for i in 0..8 {
                let (lock, inside_r, max_r, wi) = (
                    lock.clone(),
                    inside_r.clone(),
                    max_r.clone(),
                    writer_inside.clone(),
                );
                tasks.push(corral::spawn(async move {
                    for _ in 0..200 {
                        if i == 0 {
                            let mut g = lock.write().await;
                            wi.store(true, SeqCst);
                            assert_eq!(inside_r.load(SeqCst), 0, "a reader inside with the writer");
                            *g += 1;
                            corral::yield_now().await;
                            wi.store(false, SeqCst);
                        } else {
                            let _g = lock.read().await;
                            let n = inside_r.fetch_add(1, SeqCst) + 1;
                            max_r.fetch_max(n, SeqCst);
                            assert!(!wi.load(SeqCst), "the writer inside with a reader");
                            corral::yield_now().await;
                            inside_r.fetch_sub(1, SeqCst);
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*lock.read().await, 200);
            assert!(max_r.load(SeqCst) >= 2, "readers never overlapped");
        });
    });
}

/// A queued writer keeps new readers out (try_read and read alike), and
/// gets the lock when the readers inside leave, before the late reader.
#[test]
fn a_waiting_writer_keeps_new_readers_out() {
    run_with_timeout("write_pref", 10, || {
        current().block_on(async {
            let lock = Arc::new(RwLock::new(0u32));
            let log = log();
            let gate = Gate::default();
            let r0 = lock.read().await;
            let w = writer(&lock, &log, "W", &gate);
            settle().await;
            assert_eq!(lock.statistics().tasks_waiting, 1);
            // Readers are inside, but a writer waits: no new reader.
            assert!(lock.try_read().is_err(), "try_read overtook a waiting writer");
            assert!(lock.clone().try_read_owned().is_err());
            let late = reader(&lock, &log, "R", &gate);
            settle().await;
            let s = lock.statistics();
            assert_eq!((s.readers, s.tasks_waiting), (1, 2), "{s:?}");
            assert!(
                entries(&log).is_empty(),
                "the late reader got in: {:?}",
                entries(&log)
            );
            drop(r0);
            settle().await;
            assert_eq!(entries(&log), ["W=1"]);
            let s = lock.statistics();
            assert!(s.write_locked);
            assert_eq!(s.writer, Some(w.id()));
            gate.open();
            w.await.unwrap();
            late.await.unwrap();
            assert_eq!(entries(&log), ["W=1", "R=1"]);
        });
    });
}

/// The writer statistic in slow mode comes from the engine's holder
/// records (the engine no longer keeps a "last holder" for it): the fast
/// writer moved into the semaphore by a waiter, then the writer the lock
/// was handed to, then nobody once a writer downgraded or left.
#[test]
fn the_writer_statistic_follows_the_lock_through_slow_mode() {
    run_with_timeout("writer_stat", 10, || {
        current().block_on(async {
            let lock = Arc::new(RwLock::new(0u32));
            let log = log();
            let (g1, g2) = (Gate::default(), Gate::default());
            let w1 = writer(&lock, &log, "W1", &g1);
            settle().await;
            let w2 = writer(&lock, &log, "W2", &g2);
            settle().await;
            // W2 waits: slow mode, W1's fast hold moved into the semaphore.
            let s = lock.statistics();
            assert_eq!(
                (s.write_locked, s.tasks_waiting, s.writer),
                (true, 1, Some(w1.id())),
                "{s:?}"
            );
            g1.open();
            w1.await.unwrap();
            settle().await;
            let s = lock.statistics();
            assert_eq!((s.write_locked, s.writer), (true, Some(w2.id())), "{s:?}");
            // A reader queues behind W2 (slow mode stays), W2 leaves.
            let r = reader(&lock, &log, "R", &Gate::default());
            settle().await;
            g2.open();
            w2.await.unwrap();
            settle().await;
            let s = lock.statistics();
            assert_eq!((s.write_locked, s.readers, s.writer), (false, 1, None), "{s:?}");
            r.abort();
            let _ = r.await;
            // A downgrade in slow mode drops the writer's record: the next
            // writer is named, not the one that downgraded.
            let w = lock.clone().write_owned().await;
            let waiting = {
                let lock = lock.clone();
                corral::spawn(async move { drop(lock.read().await) })
            };
            settle().await;
            assert_eq!(lock.statistics().tasks_waiting, 1);
            let r = OwnedRwLockWriteGuard::downgrade(w);
            waiting.await.unwrap();
            let g3 = Gate::default();
            let w3 = writer(&lock, &log, "W3", &g3);
            settle().await;
            let s = lock.statistics();
            assert_eq!((s.readers, s.tasks_waiting, s.writer), (1, 1, None), "{s:?}");
            drop(r);
            settle().await;
            let s = lock.statistics();
            assert_eq!((s.write_locked, s.writer), (true, Some(w3.id())), "{s:?}");
            g3.open();
            w3.await.unwrap();
            assert!(!lock.statistics().locked);
        });
    });
}

/// Release hands the lock to the head of the line: the readers at the head
/// are admitted together (FIFO), the writer behind them waits for exactly
/// them, and the reader behind the writer waits for it; nobody barges.
#[test]
fn fifo_readers_at_the_head_together_then_the_writer_then_the_rest() {
    run_with_timeout("fifo", 10, || {
        current().block_on(async {
            let lock = Arc::new(RwLock::new(0u32));
            let log = log();
            let g1 = Gate::default();
            let g2 = Gate::default();
            let held = lock.write().await;
            let r1 = reader(&lock, &log, "R1", &g1);
            settle().await;
            let r2 = reader(&lock, &log, "R2", &g1);
            settle().await;
            let w = writer(&lock, &log, "W", &g2);
            settle().await;
            let r3 = reader(&lock, &log, "R3", &g2);
            settle().await;
            assert_eq!(lock.statistics().tasks_waiting, 4);
            drop(held);
            // Handed over before anyone ran: no room for barging.
            assert!(lock.try_read().is_err(), "try_read barged past the queue");
            assert!(lock.try_write().is_err(), "try_write barged past the queue");
            settle().await;
            assert_eq!(entries(&log), ["R1=0", "R2=0"]);
            let s = lock.statistics();
            assert_eq!((s.readers, s.tasks_waiting), (2, 2), "{s:?}");
            g1.open();
            r1.await.unwrap();
            r2.await.unwrap();
            settle().await;
            assert_eq!(entries(&log), ["R1=0", "R2=0", "W=1"]);
            g2.open();
            w.await.unwrap();
            r3.await.unwrap();
            assert_eq!(entries(&log), ["R1=0", "R2=0", "W=1", "R3=1"]);
        });
    });
}

#[test]
fn writers_alternate_with_reader_groups_in_arrival_order() {
    run_with_timeout("fifo_many", 10, || {
        current().block_on(async {
            let lock = Arc::new(RwLock::new(0u32));
            let log = log();
            let gate = Gate::default();
            gate.open();
            let held = lock.write().await;
            let mut tasks = Vec::new();
            for (i, kind) in "rrwrwwrr".chars().enumerate() {
                let name = format!("{kind}{i}");
                tasks.push(if kind == 'r' {
                    reader(&lock, &log, &name, &gate)
                } else {
                    writer(&lock, &log, &name, &gate)
                });
                settle().await;
            }
            drop(held);
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(
                entries(&log),
                ["r0=0", "r1=0", "w2=1", "r3=1", "w4=2", "w5=3", "r6=3", "r7=3"]
            );
        });
    });
}

#[test]
fn downgrade_admits_the_waiting_readers_in_order_and_no_writer() {
    run_with_timeout("downgrade", 10, || {
        current().block_on(async {
            let lock = Arc::new(RwLock::new(0u32));
            let log = log();
            let g1 = Gate::default();
            let g2 = Gate::default();
            let mut w0 = lock.write().await;
            let r1 = reader(&lock, &log, "R1", &g1);
            settle().await;
            let r2 = reader(&lock, &log, "R2", &g1);
            settle().await;
            let w = writer(&lock, &log, "W", &g2);
            settle().await;
            let r3 = reader(&lock, &log, "R3", &g2);
            settle().await;
            *w0 = 10;
            let r0 = RwLockWriteGuard::downgrade(w0);
            assert_eq!(*r0, 10);
            // Still locked for writers; the queue's head readers are in.
            assert!(lock.try_write().is_err(), "a writer slipped in at the downgrade");
            assert!(lock.try_read().is_err(), "a reader jumped the waiting writer");
            settle().await;
            assert_eq!(entries(&log), ["R1=10", "R2=10"]);
            let s = lock.statistics();
            assert_eq!((s.readers, s.tasks_waiting), (3, 2), "{s:?}");
            g1.open();
            r1.await.unwrap();
            r2.await.unwrap();
            settle().await;
            // The writer waits for the downgraded guard too.
            assert_eq!(entries(&log), ["R1=10", "R2=10"]);
            assert_eq!(lock.statistics().readers, 1);
            drop(r0);
            settle().await;
            assert_eq!(entries(&log), ["R1=10", "R2=10", "W=11"]);
            g2.open();
            w.await.unwrap();
            r3.await.unwrap();
            assert_eq!(entries(&log), ["R1=10", "R2=10", "W=11", "R3=11"]);
        });
    });
}

#[test]
fn downgrade_with_a_writer_first_in_line_keeps_later_readers_out() {
    let lock = RwLock::new(0);
    let w0 = lock.try_write().unwrap();
    let mut w1 = pin!(lock.write());
    let mut r = pin!(lock.read());
    assert!(poll_once(w1.as_mut()).is_pending());
    assert!(poll_once(r.as_mut()).is_pending());
    let r0 = RwLockWriteGuard::downgrade(w0);
    assert!(poll_once(w1.as_mut()).is_pending());
    assert!(
        poll_once(r.as_mut()).is_pending(),
        "a reader jumped the waiting writer"
    );
    assert!(lock.try_read().is_err());
    drop(r0);
    let Poll::Ready(mut g) = poll_once(w1.as_mut()) else {
        panic!("the writer did not get the lock from the downgraded guard");
    };
    *g = 1;
    drop(g);
    let Poll::Ready(g) = poll_once(r.as_mut()) else {
        panic!("the reader did not follow the writer");
    };
    assert_eq!(*g, 1);
}

/// The cancellation at each await point: a writer cancelled at the head
/// (with a partial handoff) lets the readers behind it through.
#[test]
fn a_cancelled_writer_at_the_head_lets_the_readers_behind_it_in() {
    let lock = RwLock::new(0);
    let r0 = lock.try_read().unwrap();
    let mut w = Box::pin(lock.write());
    let mut r1 = pin!(lock.read());
    let mut r2 = pin!(lock.read());
    assert!(poll_once(w.as_mut()).is_pending());
    assert!(poll_once(r1.as_mut()).is_pending());
    assert!(poll_once(r2.as_mut()).is_pending());
    assert_eq!(lock.statistics().readers, 1);
    drop(w);
    let s = lock.statistics();
    assert_eq!((s.readers, s.tasks_waiting), (3, 0), "{s:?}");
    let (Poll::Ready(a), Poll::Ready(b)) = (poll_once(r1.as_mut()), poll_once(r2.as_mut())) else {
        panic!("the readers behind the cancelled writer stayed stuck");
    };
    drop((a, b, r0));
    assert!(lock.try_write().is_ok(), "permits were lost");
}

#[test]
fn a_cancelled_writer_behind_another_changes_nothing() {
    let lock = RwLock::new(0);
    let r0 = lock.try_read().unwrap();
    let mut w1 = pin!(lock.write());
    let mut w2 = Box::pin(lock.write());
    let mut r = pin!(lock.read());
    assert!(poll_once(w1.as_mut()).is_pending());
    assert!(poll_once(w2.as_mut()).is_pending());
    assert!(poll_once(r.as_mut()).is_pending());
    drop(w2);
    assert!(
        poll_once(r.as_mut()).is_pending(),
        "the reader jumped the first writer"
    );
    drop(r0);
    let Poll::Ready(g) = poll_once(w1.as_mut()) else {
        panic!("w1 lost its place")
    };
    drop(g);
    assert!(poll_once(r.as_mut()).is_ready());
}

#[test]
fn a_cancelled_reader_that_was_handed_the_lock_passes_it_on() {
    let lock = RwLock::new(0);
    let w0 = lock.try_write().unwrap();
    let mut r = Box::pin(lock.read());
    let mut w = pin!(lock.write());
    assert!(poll_once(r.as_mut()).is_pending());
    assert!(poll_once(w.as_mut()).is_pending());
    drop(w0); // the reader is handed its permit, the writer the rest
    assert_eq!(lock.statistics().readers, 1);
    drop(r); // cancelled after the handoff
    let Poll::Ready(g) = poll_once(w.as_mut()) else {
        panic!("the read permit was lost with the cancelled reader");
    };
    drop(g);
    assert!(lock.try_write().is_ok());
}

#[test]
fn a_cancelled_writer_that_was_handed_the_lock_passes_it_on() {
    let lock = RwLock::new(0);
    let r0 = lock.try_read().unwrap();
    let mut w = Box::pin(lock.write());
    let mut r1 = pin!(lock.read());
    let mut r2 = pin!(lock.read());
    assert!(poll_once(w.as_mut()).is_pending());
    assert!(poll_once(r1.as_mut()).is_pending());
    assert!(poll_once(r2.as_mut()).is_pending());
    drop(r0); // the writer is handed the whole lock
    assert!(lock.statistics().write_locked);
    drop(w); // cancelled after the handoff
    assert!(
        poll_once(r1.as_mut()).is_ready(),
        "the lock was lost with the cancelled writer"
    );
    assert!(poll_once(r2.as_mut()).is_ready());
    assert!(lock.try_write().is_ok());
}

#[test]
fn aborted_and_timed_out_waiters_leave_the_line() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(()));
        let held = lock.write().await;
        let l2 = lock.clone();
        let w = corral::spawn(async move {
            let _g = l2.write().await;
        });
        let l3 = lock.clone();
        let r = corral::spawn(async move {
            let _g = l3.read().await;
        });
        settle().await;
        assert_eq!(lock.statistics().tasks_waiting, 2);
        w.abort();
        r.abort();
        assert!(w.await.unwrap_err().is_cancelled());
        assert!(r.await.unwrap_err().is_cancelled());
        assert_eq!(lock.statistics().tasks_waiting, 0);
        drop(held);
        assert!(lock.try_write().is_ok());
        let _r = lock.read().await;
        let t = corral::time::timeout(Duration::from_millis(5), lock.write()).await;
        assert!(t.is_err());
        // The timed-out writer left: readers are welcome again.
        assert!(lock.try_read().is_ok());
        let _w = lock.try_read().unwrap();
        assert_eq!(lock.statistics().tasks_waiting, 0);
    });
}

#[test]
fn a_task_that_panics_holding_a_guard_releases_it() {
    multi(2).block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let l2 = lock.clone();
        let t = corral::spawn(async move {
            let mut g = l2.write().await;
            *g = 5;
            panic!("boom while writing");
        });
        assert!(t.await.unwrap_err().is_panic());
        assert!(!lock.statistics().locked);
        assert_eq!(*lock.read().await, 5, "no poisoning: the data is as left");
        let l2 = lock.clone();
        let t = corral::spawn(async move {
            let _g = l2.read_owned().await;
            panic!("boom while reading");
        });
        assert!(t.await.unwrap_err().is_panic());
        assert!(lock.try_write().is_ok());
        let l2 = lock.clone();
        let t = corral::spawn(async move {
            let g = l2.write().await;
            let _r = RwLockWriteGuard::downgrade(g);
            panic!("boom after downgrading");
        });
        assert!(t.await.unwrap_err().is_panic());
        assert!(lock.try_write().is_ok());
    });
}

#[test]
fn a_panicking_map_releases_the_lock() {
    let lock = Arc::new(RwLock::new((1u8, 2u8)));
    let catch = |f: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
    assert!(catch(&|| {
        let _ = RwLockReadGuard::map(lock.try_read().unwrap(), |_| -> &u8 { panic!("in map") });
    }));
    assert!(catch(&|| {
        let _ = RwLockWriteGuard::map(lock.try_write().unwrap(), |_| -> &mut u8 { panic!("in map") });
    }));
    assert!(catch(&|| {
        let g = RwLockWriteGuard::map(lock.try_write().unwrap(), |p| &mut p.0);
        let _ = RwLockMappedWriteGuard::map(g, |_| -> &mut u8 { panic!("in map") });
    }));
    assert!(catch(&|| {
        let _ = OwnedRwLockReadGuard::map(lock.clone().try_read_owned().unwrap(), |_| -> &u8 { panic!() });
    }));
    assert!(catch(&|| {
        let _ = OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |_| -> &mut u8 {
            panic!()
        });
    }));
    assert!(catch(&|| {
        let g = OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |p| &mut p.0);
        let _ = OwnedRwLockMappedWriteGuard::map(g, |_| -> &mut u8 { panic!() });
    }));
    assert!(!lock.statistics().locked, "a panic inside map left the lock held");
    assert_eq!(Arc::strong_count(&lock), 1, "an owned guard leaked its Arc");
}

#[test]
fn mapped_guards_hold_the_lock_and_downgrade() {
    let lock = Arc::new(RwLock::new((1u32, String::from("a"))));
    let r = RwLockReadGuard::map(lock.try_read().unwrap(), |p| &p.1);
    assert_eq!(*r, "a");
    assert!(lock.try_write().is_err());
    drop(r);
    let mut s = RwLockWriteGuard::map(lock.try_write().unwrap(), |p| &mut p.1);
    s.push('b');
    assert!(lock.try_read().is_err());
    let s = RwLockMappedWriteGuard::downgrade(s);
    assert_eq!(*s, "ab");
    assert_eq!(lock.try_read().unwrap().0, 1);
    assert!(lock.try_write().is_err());
    drop(s);
    // Owned.
    let mut n = OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |p| &mut p.0);
    *n = 2;
    assert!(lock.try_read().is_err());
    let n = OwnedRwLockMappedWriteGuard::downgrade(n);
    assert_eq!(*n, 2);
    assert_eq!(lock.try_read().unwrap().0, 2);
    let s = OwnedRwLockReadGuard::map(lock.clone().try_read_owned().unwrap(), |p| &p.1);
    assert_eq!(*s, "ab");
    drop((n, s));
    assert!(lock.try_write().is_ok());
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[test]
fn owned_guards_move_into_tasks_and_threads() {
    multi(2).block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let mut w = lock.clone().write_owned().await;
        assert!(Arc::ptr_eq(OwnedRwLockWriteGuard::rwlock(&w), &lock));
        corral::spawn(async move { *w += 1 }).await.unwrap();
        let r = lock.clone().read_owned().await;
        assert!(Arc::ptr_eq(OwnedRwLockReadGuard::rwlock(&r), &lock));
        let v = std::thread::spawn(move || *r).join().unwrap();
        assert_eq!(v, 1);
        let w = lock.clone().try_write_owned().unwrap();
        assert!(lock.clone().try_read_owned().is_err());
        let r = OwnedRwLockWriteGuard::downgrade(w);
        let r2 = lock.clone().try_read_owned().unwrap();
        assert_eq!(*r + *r2, 2);
        drop((r, r2));
        assert_eq!(Arc::strong_count(&lock), 1);
    });
}

#[test]
fn statistics_show_readers_writer_waiting_and_site() {
    current().block_on(async {
        let line = line!() + 1;
        let lock = Arc::new(RwLock::new(0u32));
        assert_eq!(lock.created_at().line(), line);
        assert_eq!(lock.statistics().created_at.line(), line);
        let s = lock.statistics();
        assert!(!s.locked && !s.write_locked && s.readers == 0 && s.writer.is_none() && s.tasks_waiting == 0);
        let log = log();
        let gate = Gate::default();
        let w = writer(&lock, &log, "W", &gate);
        settle().await;
        let s = lock.statistics();
        assert!(s.locked && s.write_locked);
        assert_eq!(s.writer, Some(w.id()));
        let r = reader(&lock, &log, "R", &gate);
        settle().await;
        assert_eq!(lock.statistics().tasks_waiting, 1);
        gate.open();
        w.await.unwrap();
        r.await.unwrap();
        // A writer from a plain thread (or block_on) has no task id.
        let g = lock.write().await;
        let s = lock.statistics();
        assert!(s.write_locked && s.writer.is_none());
        drop(g);
        // Readers are counted, not a writer's partial handoff.
        let _a = lock.read().await;
        let _b = lock.read().await;
        let mut pending_w = pin!(lock.write());
        assert!(poll_once(pending_w.as_mut()).is_pending());
        let s = lock.statistics();
        assert_eq!(
            (s.readers, s.write_locked, s.tasks_waiting),
            (2, false, 1),
            "{s:?}"
        );
    });
}

/// Uncontended holders live in the lock's atomic word; the first waiter
/// moves them into the queue. The writer's task id, the reader count and
/// write preference survive the move, and once the queue is empty the
/// lock is uncontended again.
#[test]
fn fast_holders_move_into_the_queue_when_someone_waits() {
    current().block_on(async {
        let lock = Arc::new(RwLock::new(0u32));
        let log = log();
        let gate = Gate::default();
        let w = writer(&lock, &log, "W", &gate);
        settle().await;
        assert_eq!(lock.statistics().writer, Some(w.id()));
        // A reader queues: the fast writer moves into the queue engine.
        let mut r = pin!(lock.read());
        assert!(poll_once(r.as_mut()).is_pending());
        let s = lock.statistics();
        assert!(s.write_locked && s.tasks_waiting == 1, "{s:?}");
        assert_eq!(s.writer, Some(w.id()), "the writer's id was lost in the move");
        assert!(lock.try_read().is_err() && lock.try_write().is_err());
        gate.open();
        w.await.unwrap();
        let g = match poll_once(r.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the queued reader was not handed the lock"),
        };
        assert_eq!(*g, 1);
        drop(g);
        let s = lock.statistics();
        assert!(!s.locked && s.tasks_waiting == 0, "{s:?}");

        // Three fast readers, then a writer queues: they are counted, a
        // new reader is kept out, and the last one out lets the writer in.
        let rs: Vec<_> = (0..3).map(|_| lock.try_read().unwrap()).collect();
        assert_eq!(lock.statistics().readers, 3);
        let mut wf = pin!(lock.write());
        assert!(poll_once(wf.as_mut()).is_pending());
        let s = lock.statistics();
        assert_eq!(
            (s.readers, s.write_locked, s.tasks_waiting),
            (3, false, 1),
            "{s:?}"
        );
        assert!(lock.try_read().is_err(), "a reader barged past the queued writer");
        drop(rs);
        let mut g = match poll_once(wf.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the fast readers' releases did not reach the writer"),
        };
        *g += 1;
        drop(g);
        // Uncontended again: every kind of access works and nothing is held.
        drop(lock.try_write().unwrap());
        let (a, b) = (lock.try_read().unwrap(), lock.try_read().unwrap());
        assert_eq!(lock.statistics().readers, 2);
        drop((a, b));
        assert_eq!(*lock.read().await, 2);
        let s = lock.statistics();
        assert!(!s.locked && s.tasks_waiting == 0, "{s:?}");
    });
}

#[test]
fn uncontended_read_loop_gives_way_to_other_tasks() {
    run_with_timeout("coop", 10, || {
        current().block_on(async {
            let lock = Arc::new(RwLock::new(0));
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            corral::spawn(async move { f.store(true, SeqCst) });
            let mut spins = 0u64;
            while !flag.load(SeqCst) {
                let _ = *lock.read().await;
                *lock.write().await += 1;
                spins += 1;
                assert!(spins < 1_000_000, "the lock loop never gave way");
            }
        });
    });
}

#[test]
fn blocking_read_write_timeouts_and_refusal_on_workers() {
    run_with_timeout("blocking", 20, || {
        let lock = Arc::new(RwLock::new(0));
        let held = lock.try_write().unwrap();
        let err = lock.blocking_read_timeout(Duration::from_millis(20)).unwrap_err();
        assert_eq!(err.to_string(), "timed out waiting for the rwlock");
        assert!(lock.blocking_write_timeout(Duration::from_millis(20)).is_err());
        assert_eq!(lock.statistics().tasks_waiting, 0);
        let l2 = lock.clone();
        let t = std::thread::spawn(move || *l2.blocking_write() += 1);
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        t.join().unwrap();
        assert_eq!(*lock.blocking_read(), 1);
        // Readers together from threads.
        let r = lock.blocking_read();
        assert_eq!(*lock.blocking_read_timeout(Duration::from_secs(5)).unwrap(), 1);
        drop(r);
        // Refused on a worker thread: a panic in that task only.
        let rt = multi(1);
        let l2 = lock.clone();
        let res = rt.block_on(rt.spawn(async move {
            let _g = l2.blocking_read();
        }));
        assert!(res.unwrap_err().is_panic());
        let l2 = lock.clone();
        let res = rt.block_on(rt.spawn(async move {
            let _g = l2.blocking_write();
        }));
        assert!(res.unwrap_err().is_panic());
        assert!(!lock.statistics().locked);
    });
}

/// A blocking writer that times out at the head of the line gives back its
/// partial handoff and lets the readers queued behind it in.
#[test]
fn a_timed_out_blocking_writer_lets_the_readers_behind_it_in() {
    run_with_timeout("blocking_timeout_head", 20, || {
        let lock = Arc::new(RwLock::new(0));
        let r0 = lock.try_read().unwrap();
        let l2 = lock.clone();
        let w = std::thread::spawn(move || l2.blocking_write_timeout(Duration::from_millis(300)).is_err());
        while lock.statistics().tasks_waiting == 0 {
            std::thread::yield_now();
        }
        assert!(lock.try_read().is_err());
        // A reader behind the waiting writer.
        let l3 = lock.clone();
        let r = std::thread::spawn(move || *l3.blocking_read());
        assert!(w.join().unwrap(), "the writer should have timed out");
        assert_eq!(r.join().unwrap(), 0);
        drop(r0);
        assert!(lock.try_write().is_ok());
    });
}

#[test]
fn works_under_a_foreign_executor_on_several_threads() {
    run_with_timeout("foreign", 30, || {
        let lock = Arc::new(RwLock::new((0u64, 0u64)));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        foreign_block_on(async {
                            if i % 2 == 0 {
                                let mut g = lock.write().await;
                                g.0 += 1;
                                std::thread::yield_now();
                                g.1 += 1;
                            } else {
                                let g = lock.read().await;
                                assert_eq!(g.0, g.1, "a reader saw a half-done write");
                            }
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.try_read().unwrap(), (1000, 1000));
    });
}

#[test]
fn shared_by_tokio_and_corral_tasks_sums_exactly() {
    run_with_timeout("tokio", 60, || {
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let corral_rt = multi(2);
        let lock = Arc::new(RwLock::new((0usize, 0usize)));
        let per = 300;
        let body = |lock: Arc<RwLock<(usize, usize)>>, write: bool| async move {
            for _ in 0..per {
                if write {
                    let mut g = lock.write().await;
                    g.0 += 1;
                    tokio::task::yield_now().await;
                    g.1 += 1;
                } else {
                    let g = lock.read().await;
                    assert_eq!(g.0, g.1);
                }
            }
        };
        let tokio_side: Vec<_> = (0..4)
            .map(|i| tokio_rt.spawn(body(lock.clone(), i < 2)))
            .collect();
        corral_rt.block_on(async {
            let tasks: Vec<_> = (0..4).map(|i| corral::spawn(body(lock.clone(), i < 2))).collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        tokio_rt.block_on(async {
            for t in tokio_side {
                t.await.unwrap();
            }
        });
        assert_eq!(*lock.try_read().unwrap(), (4 * per, 4 * per));
    });
}

/// 8 OS threads (blocking_*) and 8 corral tasks, writers and readers mixed,
/// end exactly right and never see a half-done write.
#[test]
fn eight_threads_mixed_with_tasks_sum_exactly() {
    run_with_timeout("mixed", 60, || {
        let rt = multi(2);
        let lock = Arc::new(RwLock::new((0usize, 0usize)));
        let rounds = stress();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        if i % 2 == 0 {
                            let mut g = lock.blocking_write();
                            g.0 += 1;
                            std::thread::yield_now();
                            g.1 += 1;
                        } else {
                            let g = lock.blocking_read();
                            assert_eq!(g.0, g.1);
                        }
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let lock = lock.clone();
                    corral::spawn(async move {
                        for _ in 0..rounds {
                            if i % 2 == 0 {
                                let mut g = lock.write().await;
                                g.0 += 1;
                                corral::yield_now().await;
                                g.1 += 1;
                            } else {
                                let g = lock.read().await;
                                assert_eq!(g.0, g.1);
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.try_read().unwrap(), (8 * rounds, 8 * rounds));
    });
}

/// The stress: writers on 8 threads sum exactly, while reader tasks
/// (some cancelled by timeouts at random, some downgrading writers) check
/// that no write is ever seen half done and nothing is lost.
#[test]
fn stress_writers_on_8_threads_sum_exactly() {
    run_with_timeout("stress", 120, || {
        let rounds = stress() * 5;
        let rt = multi(2);
        let lock = Arc::new(RwLock::new((0usize, 0usize)));
        let done = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for k in 0..rounds {
                        if (i + k) % 7 == 0 {
                            // Some writes give up after a short timeout.
                            if let Ok(mut g) = lock.blocking_write_timeout(Duration::from_micros(50)) {
                                g.0 += 1;
                                g.1 += 1;
                                drop(g);
                            } else {
                                let mut g = lock.blocking_write();
                                g.0 += 1;
                                g.1 += 1;
                            }
                        } else {
                            let mut g = lock.blocking_write();
                            g.0 += 1;
                            std::thread::yield_now();
                            g.1 += 1;
                        }
                    }
                })
            })
            .collect();
        let seen = rt.block_on(async {
            let tasks: Vec<_> = (0..6u64)
                .map(|i| {
                    let (lock, done) = (lock.clone(), done.clone());
                    corral::spawn(async move {
                        let mut rng = Rng(0x9E37_79B9 + i);
                        let mut seen = 0usize;
                        while !done.load(SeqCst) {
                            let wait = Duration::from_micros(rng.below(200));
                            match corral::time::timeout(wait, lock.read()).await {
                                Ok(g) => {
                                    assert_eq!(g.0, g.1, "a reader saw a half-done write");
                                    assert!(g.0 >= seen, "a reader went back in time");
                                    seen = g.0;
                                    if rng.below(2) == 0 {
                                        corral::yield_now().await;
                                    }
                                }
                                Err(_) => corral::yield_now().await, // cancelled
                            }
                            if rng.below(8) == 0 {
                                // A task writer that downgrades: adds nothing.
                                let w = lock.write().await;
                                let r = RwLockWriteGuard::downgrade(w);
                                assert_eq!(r.0, r.1);
                            }
                        }
                        seen
                    })
                })
                .collect();
            corral::run_sync({
                let done = done.clone();
                move || {
                    for t in threads {
                        t.join().unwrap();
                    }
                    done.store(true, SeqCst);
                }
            })
            .await
            .unwrap();
            let mut seen = 0;
            for t in tasks {
                seen = seen.max(t.await.unwrap());
            }
            seen
        });
        let g = lock.try_read().unwrap();
        assert_eq!(*g, (8 * rounds, 8 * rounds));
        assert!(seen <= 8 * rounds);
        drop(g);
        let s = lock.statistics();
        assert!(!s.locked && s.tasks_waiting == 0, "{s:?}");
        assert!(lock.try_write().is_ok(), "a permit was lost");
    });
}

fn send<T: Send>(_: &T) {}
fn sync<T: Sync>(_: &T) {}
fn static_<T: 'static>(_: &T) {}

#[test]
fn lock_futures_and_guards_are_send_and_sync() {
    let lock = Arc::new(RwLock::new(0u32));
    send(&*lock);
    sync(&*lock);
    let f = lock.read();
    send(&f);
    sync(&f);
    drop(f);
    let f = lock.write();
    send(&f);
    sync(&f);
    drop(f);
    let f = lock.clone().read_owned();
    send(&f);
    static_(&f);
    drop(f);
    let f = lock.clone().write_owned();
    send(&f);
    static_(&f);
    drop(f);
    let g = lock.try_read().unwrap();
    send(&g);
    sync(&g);
    drop(g);
    let g = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| v);
    send(&g);
    sync(&g);
    drop(g);
    let g = lock.try_write().unwrap();
    send(&g);
    sync(&g);
    drop(g);
    let g = lock.clone().try_read_owned().unwrap();
    send(&g);
    sync(&g);
    static_(&g);
    drop(g);
    let g = lock.clone().try_write_owned().unwrap();
    send(&g);
    sync(&g);
    static_(&g);
    let g = OwnedRwLockWriteGuard::map(g, |v| v);
    send(&g);
    sync(&g);
    static_(&g);
}
