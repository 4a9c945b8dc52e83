//! ReentrantMutex: re-entry by the owning task (across awaits and worker
//! moves) and by the owning thread, release after the last guard, errors,
//! FIFO handoff between owners, cancellation, panics, statistics, OS
//! threads mixed with tasks, and a foreign executor.

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress};
use corral::sync::{ReentrantMutex, ReentrantMutexGuard};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

#[test]
fn the_owning_task_reenters_across_awaits_and_frees_after_the_last_guard() {
    run_with_timeout("rmutex_task", 20, || {
        multi(2).block_on(async {
            let m = Arc::new(ReentrantMutex::new(AtomicUsize::new(0)));
            let m2 = m.clone();
            let task = corral::spawn(async move {
                let a = m2.lock().await;
                for _ in 0..20 {
                    corral::yield_now().await; // may move to the other worker
                }
                let b = m2.lock().await; // returns at once for the owner
                let c = m2.try_lock().expect("try_lock re-enters for the owner");
                a.fetch_add(1, SeqCst);
                b.fetch_add(1, SeqCst);
                c.fetch_add(1, SeqCst);
                assert_eq!(m2.statistics().depth, 3);
                assert!(m2.is_owned_by_current());
                drop(a);
                assert!(m2.is_locked(), "freed while guards remain");
                drop(c);
                assert_eq!(m2.statistics().depth, 1);
                drop(b);
                assert!(!m2.is_locked());
                assert!(!m2.is_owned_by_current());
            });
            task.await.unwrap();
            assert_eq!(m.try_lock().unwrap().load(SeqCst), 3);
        });
    });
}

#[test]
fn another_task_waits_for_every_guard_of_the_owner() {
    current().block_on(async {
        let m = Arc::new(ReentrantMutex::new(()));
        let log = Arc::new(StdMutex::new(Vec::new()));
        let go = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m1, l1, g1) = (m.clone(), log.clone(), go.clone());
        let owner = corral::spawn(async move {
            let a = m1.lock().await;
            let _b = m1.lock().await;
            l1.lock().unwrap().push("owner in");
            drop(a); // one level left
            while !g1.load(SeqCst) {
                corral::yield_now().await;
            }
            l1.lock().unwrap().push("owner out");
        });
        while m.statistics().depth != 1 {
            corral::yield_now().await;
        }
        let (m2, l2) = (m.clone(), log.clone());
        let other = corral::spawn(async move {
            let _g = m2.lock().await;
            l2.lock().unwrap().push("other in");
        });
        settle().await;
        assert_eq!(m.statistics().tasks_waiting, 1);
        assert!(m.try_lock().is_err(), "block_on (not the owner) got in");
        go.store(true, SeqCst);
        owner.await.unwrap();
        other.await.unwrap();
        assert_eq!(*log.lock().unwrap(), ["owner in", "owner out", "other in"]);
    });
}

#[test]
fn the_owning_thread_reenters_and_others_wait() {
    run_with_timeout("rmutex_thread", 20, || {
        let m = Arc::new(ReentrantMutex::new(()));
        let a = m.blocking_lock();
        let b = m.blocking_lock();
        let c = m.try_lock().unwrap();
        let d = m.blocking_lock_timeout(Duration::from_millis(1)).unwrap();
        let s = m.statistics();
        assert_eq!(
            (s.depth, s.holder, s.holder_thread),
            (4, None, Some(std::thread::current().id()))
        );
        let m2 = m.clone();
        let t = std::thread::spawn(move || {
            assert!(m2.try_lock().is_err());
            assert!(m2.blocking_lock_timeout(Duration::from_millis(10)).is_err());
            let _g = m2.blocking_lock();
            m2.statistics().holder_thread == Some(std::thread::current().id())
        });
        drop((a, b, c));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!t.is_finished(), "the other thread got in while a guard remained");
        drop(d);
        assert!(t.join().unwrap());
        assert!(!m.is_locked());
    });
}

#[test]
fn unlocking_hands_the_lock_to_the_first_waiter_no_barging() {
    current().block_on(async {
        let m = Arc::new(ReentrantMutex::new(StdMutex::new(Vec::new())));
        let held = m.lock().await;
        let m2 = m.clone();
        let waiter = corral::spawn(async move { m2.lock().await.lock().unwrap().push("waiter") });
        settle().await;
        assert_eq!(m.statistics().tasks_waiting, 1);
        drop(held);
        // The waiter has not run, but the lock is its own: block_on (a
        // different owner) cannot barge in.
        assert!(m.try_lock().is_err(), "try_lock barged past a queued waiter");
        m.lock().await.lock().unwrap().push("late");
        waiter.await.unwrap();
        assert_eq!(*m.try_lock().unwrap().lock().unwrap(), ["waiter", "late"]);
    });
}

#[test]
fn waiters_get_the_lock_in_fifo_order() {
    run_with_timeout("rmutex_fifo", 10, || {
        current().block_on(async {
            let m = Arc::new(ReentrantMutex::new(StdMutex::new(Vec::new())));
            let held = m.lock().await;
            let mut tasks = Vec::new();
            for i in 0..8 {
                let m = m.clone();
                tasks.push(corral::spawn(async move {
                    let g = m.lock().await;
                    let inner = m.lock().await; // re-entry on the way
                    g.lock().unwrap().push(i);
                    drop(inner);
                }));
                settle().await;
            }
            assert_eq!(m.statistics().tasks_waiting, 8);
            drop(held);
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*m.lock().await.lock().unwrap(), (0..8).collect::<Vec<_>>());
        });
    });
}

#[test]
fn cancelled_after_handoff_passes_the_lock_on() {
    // A live holder on another thread hands the lock to `first`.
    let m = Arc::new(ReentrantMutex::new(()));
    let m2 = m.clone();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let g = m2.blocking_lock();
        ready_tx.send(()).unwrap();
        rx.recv().unwrap();
        drop(g); // hands the lock to `first`
    });
    ready_rx.recv().unwrap();
    let mut first = Box::pin(m.lock());
    let mut second = pin!(m.lock());
    assert!(poll_once(first.as_mut()).is_pending());
    assert!(poll_once(second.as_mut()).is_pending());
    tx.send(()).unwrap();
    holder.join().unwrap();
    drop(first); // handed the lock, cancelled: it must reach `second`
    match poll_once(second.as_mut()) {
        Poll::Ready(g) => drop(g),
        Poll::Pending => panic!("the lock was lost with the cancelled waiter"),
    }
    assert!(!m.is_locked());
}

#[test]
fn cancelled_while_queued_leaves_the_queue() {
    current().block_on(async {
        let m = Arc::new(ReentrantMutex::new(()));
        let held = m.lock().await;
        let m2 = m.clone();
        let w = corral::spawn(async move {
            let _g = m2.lock().await;
        });
        settle().await;
        assert_eq!(m.statistics().tasks_waiting, 1);
        w.abort();
        assert!(w.await.unwrap_err().is_cancelled());
        assert_eq!(m.statistics().tasks_waiting, 0);
        drop(held);
        assert!(!m.is_locked());
        let m3 = m.clone();
        let _held = m.lock().await;
        // A timeout at the await point (in another task) is a cancellation too.
        let r = corral::spawn(async move {
            corral::time::timeout(Duration::from_millis(5), m3.lock())
                .await
                .is_err()
        });
        assert!(r.await.unwrap());
        assert_eq!(m.statistics().tasks_waiting, 0);
    });
}

#[test]
fn a_task_that_panics_holding_guards_releases_every_level() {
    multi(2).block_on(async {
        let m = Arc::new(ReentrantMutex::new(()));
        let m2 = m.clone();
        let t = corral::spawn(async move {
            let _a = m2.lock().await;
            let _b = m2.lock().await;
            panic!("boom while holding two levels");
        });
        assert!(t.await.unwrap_err().is_panic());
        assert!(!m.is_locked());
        assert_eq!(m.statistics().depth, 0);
        drop(m.lock().await);
    });
}

#[test]
fn statistics_show_holder_depth_waiters_and_site() {
    current().block_on(async {
        let line = line!() + 1;
        let m = Arc::new(ReentrantMutex::new(()));
        assert_eq!(m.created_at().line(), line);
        let s = m.statistics();
        assert!(!s.locked && s.tasks_waiting == 0 && s.holder.is_none() && s.depth == 0);
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m2, r2) = (m.clone(), release.clone());
        let holder = corral::spawn(async move {
            let _a = m2.lock().await;
            let _b = m2.lock().await;
            while !r2.load(SeqCst) {
                corral::yield_now().await;
            }
        });
        let holder_id = holder.id();
        while m.statistics().depth < 2 {
            corral::yield_now().await;
        }
        let m3 = m.clone();
        let waiter = corral::spawn(async move { drop(m3.lock().await) });
        while m.statistics().tasks_waiting == 0 {
            corral::yield_now().await;
        }
        let s = m.statistics();
        assert!(s.locked);
        assert_eq!(
            (s.tasks_waiting, s.holder, s.holder_thread, s.depth),
            (1, Some(holder_id), None, 2)
        );
        release.store(true, SeqCst);
        holder.await.unwrap();
        waiter.await.unwrap();
        assert_eq!(m.statistics().holder, None);
        assert!(format!("{m:?}").starts_with("ReentrantMutex { data: (), created_at: "));
    });
}

#[test]
fn guard_mutex_get_mut_into_inner_default_from() {
    let mut m = ReentrantMutex::new(vec![1]);
    m.get_mut().push(2);
    {
        let g = m.try_lock().unwrap();
        assert!(std::ptr::eq(ReentrantMutexGuard::mutex(&g), &m));
        assert_eq!(format!("{g:?}"), "[1, 2]");
    }
    assert_eq!(m.into_inner(), vec![1, 2]);
    let d: ReentrantMutex<u8> = ReentrantMutex::default();
    assert_eq!(d.into_inner(), 0);
    assert_eq!(ReentrantMutex::from("x").into_inner(), "x");
}

#[test]
fn eight_threads_and_tasks_exclude_each_other() {
    run_with_timeout("rmutex_threads_tasks", 60, || {
        let rt = multi(2);
        // A plain (non-atomic) read-then-write under the lock, checked by
        // a std Mutex used only as a cell.
        let m = Arc::new(ReentrantMutex::new(StdMutex::new(0usize)));
        let inside = Arc::new(AtomicUsize::new(0));
        let per = stress().max(50);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (m, inside) = (m.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..per {
                        let g = m.blocking_lock();
                        let again = m.blocking_lock();
                        assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners inside");
                        let v = *g.lock().unwrap();
                        std::thread::yield_now();
                        *again.lock().unwrap() = v + 1;
                        inside.fetch_sub(1, SeqCst);
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (m, inside) = (m.clone(), inside.clone());
                    corral::spawn(async move {
                        for _ in 0..per {
                            let g = m.lock().await;
                            assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners inside");
                            let v = *g.lock().unwrap();
                            corral::yield_now().await;
                            let again = m.lock().await;
                            *again.lock().unwrap() = v + 1;
                            inside.fetch_sub(1, SeqCst);
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
        assert_eq!(*m.try_lock().unwrap().lock().unwrap(), 16 * per);
    });
}

#[test]
fn under_a_foreign_executor_guards_within_one_poll() {
    run_with_timeout("rmutex_tokio", 60, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .build()
            .unwrap();
        let m = Arc::new(ReentrantMutex::new(StdMutex::new(0usize)));
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let m = m.clone();
                    tokio::spawn(async move {
                        for _ in 0..200 {
                            {
                                // Taken and dropped within one poll (the
                                // documented rule on other executors);
                                // re-entry by the thread.
                                let g = m.lock().await;
                                let inner = m.try_lock().unwrap();
                                *inner.lock().unwrap() += 1;
                                drop(g);
                            }
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert_eq!(*m.try_lock().unwrap().lock().unwrap(), 1600);
        // A foreign block_on on a plain thread: the owner is the thread.
        let g = foreign_block_on(m.lock());
        let again = foreign_block_on(m.lock());
        assert_eq!(m.statistics().holder_thread, Some(std::thread::current().id()));
        drop((g, again));
        assert!(!m.is_locked());
    });
}

#[test]
fn guards_are_send_and_sync_for_sync_data() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let m = Arc::new(ReentrantMutex::new(AtomicUsize::new(0)));
    send_sync(&*m);
    let f = m.lock();
    send_sync(&f);
    drop(f);
    let g = m.try_lock().unwrap();
    send_sync(&g);
}

#[test]
fn a_guard_dropped_on_another_thread_while_the_owner_reenters() {
    run_with_timeout("rmutex_cross_drop", 30, || {
        let m = ReentrantMutex::new(AtomicUsize::new(0));
        for _ in 0..stress() * 5 {
            let g1 = m.blocking_lock();
            let g2 = m.blocking_lock();
            std::thread::scope(|s| {
                // One level is released on another thread while the owner
                // re-enters (it still holds g1).
                s.spawn(move || drop(g2));
                let g3 = m.try_lock().expect("the owner could not re-enter");
                g3.fetch_add(1, SeqCst);
                let other = s.spawn(|| m.try_lock().is_err()).join().unwrap();
                assert!(other, "another thread got in while the owner held a level");
                drop(g3);
            });
            assert_eq!(m.statistics().depth, 1);
            drop(g1);
            let s = m.statistics();
            assert!(!s.locked && s.depth == 0 && s.holder_thread.is_none(), "{s:?}");
        }
        assert_eq!(m.into_inner().into_inner(), stress() * 5);
    });
}
