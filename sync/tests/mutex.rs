//! Mutex: semantics, errors, FIFO handoff, cancellation, panics, threads,
//! foreign executors, and the read-yield-write stress test
//! (`CORRAL_STRESS` x 50 tasks, default 10,000).

#[allow(dead_code)]
mod common;

use common::{count_polls, current, foreign_block_on, multi, poll_once, run_with_timeout, stress};
use corral::sync::{Mutex, MutexGuard, OwnedMutexGuard};
use std::pin::pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

#[test]
fn lock_try_lock_and_errors() {
    current().block_on(async {
        let m = Mutex::new(1);
        {
            let mut g = m.lock().await;
            *g += 1;
            let err = m.try_lock().unwrap_err();
            assert_eq!(err.to_string(), "mutex is locked");
            assert!(m.is_locked());
        }
        assert!(!m.is_locked());
        assert_eq!(*m.try_lock().unwrap(), 2);
        assert_eq!(format!("{m:?}").split(',').next().unwrap(), "Mutex { data: 2");
    });
}

#[test]
fn get_mut_into_inner_default_from() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().push(2);
    assert_eq!(m.into_inner(), vec![1, 2]);
    let d: Mutex<u8> = Mutex::default();
    assert_eq!(d.into_inner(), 0);
    let f = Mutex::from("x");
    assert_eq!(f.into_inner(), "x");
}

#[test]
fn unlock_hands_the_lock_to_the_first_waiter_no_barging() {
    current().block_on(async {
        let m = Arc::new(Mutex::new(Vec::new()));
        let held = m.lock().await;
        let m2 = m.clone();
        let waiter = corral::spawn(async move { m2.lock().await.push("waiter") });
        settle().await;
        drop(held);
        // The waiter has not run, but the lock is already its own.
        assert!(m.try_lock().is_err(), "try_lock barged past a queued waiter");
        m.lock().await.push("late");
        waiter.await.unwrap();
        assert_eq!(*m.lock().await, ["waiter", "late"]);
    });
}

#[test]
fn waiters_get_the_lock_in_fifo_order() {
    run_with_timeout("fifo", 10, || {
        current().block_on(async {
            let m = Arc::new(Mutex::new(Vec::new()));
            let held = m.lock().await;
            let mut tasks = Vec::new();
            for i in 0..8 {
                let m = m.clone();
                tasks.push(corral::spawn(async move { m.lock().await.push(i) }));
                settle().await;
            }
            assert_eq!(m.statistics().tasks_waiting, 8);
            drop(held);
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*m.lock().await, (0..8).collect::<Vec<_>>());
        });
    });
}

#[test]
fn cancelled_after_handoff_passes_the_lock_on() {
    let m = Mutex::new(0);
    let held = m.try_lock().unwrap();
    let mut first = Box::pin(m.lock());
    let mut second = pin!(m.lock());
    assert!(poll_once(first.as_mut()).is_pending());
    assert!(poll_once(second.as_mut()).is_pending());
    drop(held); // handed to `first`
    drop(first); // which is cancelled: the lock must reach `second`
    match poll_once(second.as_mut()) {
        Poll::Ready(g) => drop(g),
        Poll::Pending => panic!("the lock was lost with the cancelled waiter"),
    }
    assert!(!m.is_locked());
}

#[test]
fn cancelled_while_queued_leaves_the_queue() {
    current().block_on(async {
        let m = Arc::new(Mutex::new(()));
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
        assert!(m.try_lock().is_ok());
        // A timeout at the await point is a cancellation too.
        let _held = m.lock().await;
        let r = corral::time::timeout(Duration::from_millis(5), m.lock()).await;
        assert!(r.is_err());
        assert_eq!(m.statistics().tasks_waiting, 0);
    });
}

#[test]
fn a_task_that_panics_holding_the_guard_releases_it() {
    multi(2).block_on(async {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t = corral::spawn(async move {
            let mut g = m2.lock().await;
            *g = 5;
            panic!("boom while holding the lock");
        });
        assert!(t.await.unwrap_err().is_panic());
        assert!(!m.is_locked());
        assert_eq!(*m.lock().await, 5, "no poisoning: the data is as left");
    });
}

#[test]
fn statistics_show_locked_waiting_holder_and_site() {
    current().block_on(async {
        let line = line!() + 1;
        let m = Arc::new(Mutex::new(()));
        assert_eq!(m.created_at().line(), line);
        let s = m.statistics();
        assert!(!s.locked && s.tasks_waiting == 0 && s.holder.is_none());
        let (tx, rx) = std::sync::mpsc::channel();
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m2, r2) = (m.clone(), release.clone());
        let holder = corral::spawn(async move {
            let _g = m2.lock().await;
            tx.send(()).unwrap();
            while !r2.load(std::sync::atomic::Ordering::SeqCst) {
                corral::yield_now().await;
            }
        });
        let holder_id = holder.id();
        while rx.try_recv().is_err() {
            corral::yield_now().await;
        }
        let m3 = m.clone();
        let waiter = corral::spawn(async move {
            let _g = m3.lock().await;
            m3.statistics().holder
        });
        let waiter_id = waiter.id();
        while m.statistics().tasks_waiting == 0 {
            corral::yield_now().await;
        }
        let s = m.statistics();
        assert!(s.locked);
        assert_eq!(s.tasks_waiting, 1);
        assert_eq!(s.holder, Some(holder_id));
        release.store(true, std::sync::atomic::Ordering::SeqCst);
        holder.await.unwrap();
        // Handed over: the waiter is the holder now.
        assert_eq!(waiter.await.unwrap(), Some(waiter_id));
        assert_eq!(m.statistics().holder, None);
    });
}

#[test]
fn lock_owned_and_guards_move() {
    multi(2).block_on(async {
        let m = Arc::new(Mutex::new(0));
        let mut g: OwnedMutexGuard<i32> = m.clone().lock_owned().await;
        assert!(Arc::ptr_eq(OwnedMutexGuard::mutex(&g), &m));
        corral::spawn(async move { *g += 1 }).await.unwrap();
        let g = m.clone().try_lock_owned().unwrap();
        assert!(m.clone().try_lock_owned().is_err());
        drop(g);
        assert_eq!(*m.lock().await, 1);
    });
}

#[test]
fn mapped_guard_keeps_the_lock_and_a_panicking_map_releases_it() {
    current().block_on(async {
        let m = Mutex::new((1, String::from("a")));
        let mut s = MutexGuard::map(m.lock().await, |p| &mut p.1);
        s.push('b');
        assert!(m.try_lock().is_err());
        drop(s);
        assert_eq!(m.lock().await.1, "ab");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let g = m.try_lock().unwrap();
            let _mapped = MutexGuard::map(g, |_| -> &mut u8 { panic!("in map") });
        }));
        assert!(r.is_err());
        assert!(!m.is_locked(), "a panic inside map left the mutex locked");
    });
}

#[test]
fn blocking_lock_with_timeout_and_refusal_on_workers() {
    run_with_timeout("blocking", 20, || {
        let m = Arc::new(Mutex::new(0));
        let held = m.try_lock().unwrap();
        let err = m.blocking_lock_timeout(Duration::from_millis(20)).unwrap_err();
        assert_eq!(err.to_string(), "timed out waiting for the mutex");
        let m2 = m.clone();
        let t = std::thread::spawn(move || *m2.blocking_lock() += 1);
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        t.join().unwrap();
        assert_eq!(*m.blocking_lock(), 1);
        // Refused on a worker thread: a typed panic in that task only.
        let rt = multi(1);
        let m2 = m.clone();
        let r = rt.block_on(rt.spawn(async move {
            let _g = m2.blocking_lock();
        }));
        assert!(r.unwrap_err().is_panic());
        assert!(!m.is_locked());
    });
}

#[test]
fn works_under_a_foreign_executor_on_several_threads() {
    run_with_timeout("foreign", 30, || {
        let m = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        foreign_block_on(async {
                            let mut g = m.lock().await;
                            let v = *g;
                            std::thread::yield_now();
                            *g = v + 1;
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*m.try_lock().unwrap(), 2000);
    });
}

#[test]
fn eight_threads_mixed_with_tasks_count_exactly() {
    run_with_timeout("mixed", 60, || {
        let rt = multi(2);
        let m = Arc::new(Mutex::new(0usize));
        let rounds = stress();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        let mut g = m.blocking_lock();
                        let v = *g;
                        std::thread::yield_now();
                        *g = v + 1;
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let m = m.clone();
                    corral::spawn(async move {
                        for _ in 0..rounds {
                            let mut g = m.lock().await;
                            let v = *g;
                            corral::yield_now().await;
                            *g = v + 1;
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
        assert_eq!(*m.try_lock().unwrap(), 16 * rounds);
    });
}

/// 10,000 tasks (scaled by `CORRAL_STRESS`) doing read-yield-write under
/// the Mutex on a multi-thread runtime end exactly right.
#[test]
fn stress_read_yield_write_is_exact() {
    run_with_timeout("stress_rw", 120, || {
        let n = stress() * 50;
        let rt = multi(2);
        let m = Arc::new(Mutex::new(0usize));
        let order = Arc::new(StdMutex::new(0usize));
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let (m, order) = (m.clone(), order.clone());
                    corral::spawn(async move {
                        let mut g = m.lock().await;
                        // The holder is exact through handoffs under load.
                        assert_eq!(m.statistics().holder, corral::task::try_id());
                        let v = *g;
                        corral::yield_now().await;
                        *g = v + 1;
                        *order.lock().unwrap() += 1;
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert_eq!(*m.try_lock().unwrap(), n);
        assert_eq!(*order.lock().unwrap(), n);
        let s = m.statistics();
        assert_eq!(s.tasks_waiting, 0);
        assert_eq!(s.holder, None, "the last unlock cleared the holder");
    });
}

#[test]
fn uncontended_lock_loop_gives_way_to_other_tasks() {
    // The fast path spends the cooperative budget: a task locking in a
    // loop without ever awaiting anything else still lets others run.
    run_with_timeout("coop", 10, || {
        current().block_on(async {
            let m = Arc::new(Mutex::new(0));
            let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let f = flag.clone();
            corral::spawn(async move { f.store(true, std::sync::atomic::Ordering::SeqCst) });
            let mut spins = 0u64;
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                *m.lock().await += 1;
                spins += 1;
                assert!(spins < 1_000_000, "the lock loop never gave way");
            }
        });
    });
}

/// Issue 9's memory rows: a `Mutex<u64>` is at most 24 bytes, async-lock's
/// size and half of tokio's 48 (it was 32: the creation site had a word of
/// its own, now it shares one with the wait block's pointer; 48 with the
/// wait list inline, 80 on the semaphore engine), and a waiting `lock()`
/// future stays small (it was 112 bytes: a 96-byte waiter in an `async fn`).
#[test]
fn a_mutex_and_its_waiter_are_small() {
    let m = Mutex::new(0u64);
    assert!(
        std::mem::size_of_val(&m) <= 24,
        "Mutex<u64> is {} bytes",
        std::mem::size_of_val(&m)
    );
    let fut = m.lock();
    assert!(
        std::mem::size_of_val(&fut) <= 72,
        "lock() is {} bytes",
        std::mem::size_of_val(&fut)
    );
}

/// The creation site shares its word with the wait block, which takes it
/// over at the first contention: it reads the same before, while and after
/// tasks wait, in `created_at`, the statistics and `Debug`.
#[test]
fn the_creation_site_survives_the_first_contention() {
    current().block_on(async {
        let line = line!() + 1;
        let m = Arc::new(Mutex::new(0u32));
        let site = m.created_at();
        assert_eq!((site.line(), site.file()), (line, file!()));
        let held = m.lock().await;
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let m = m.clone();
                corral::spawn(async move { *m.lock().await += 1 })
            })
            .collect();
        settle().await;
        assert_eq!(m.statistics().tasks_waiting, 3, "the wait block is in use");
        assert_eq!(m.created_at(), site);
        assert_eq!(m.statistics().created_at, site);
        drop(held);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*m.lock().await, 3);
        assert_eq!(m.created_at(), site);
        assert!(format!("{m:?}").ends_with(&format!("created_at: {site} }}")));
    });
}

/// The holder is recorded by the lock's atomic fast path too, and a guard
/// that moves to another task still names the task that locked.
#[test]
fn holder_is_the_locking_task_even_after_the_guard_moves() {
    current().block_on(async {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let locker = corral::spawn(async move { m2.lock_owned().await });
        let locker_id = locker.id();
        let guard = locker.await.unwrap();
        assert_eq!(m.statistics().holder, Some(locker_id));
        let mover = corral::spawn(async move {
            let mut g = guard;
            *g += 1;
        });
        mover.await.unwrap();
        assert_eq!(m.statistics().holder, None);
        // try_lock records its task as well.
        let m3 = m.clone();
        let t = corral::spawn(async move {
            let _g = m3.try_lock().unwrap();
            m3.statistics().holder
        });
        let id = t.id();
        assert_eq!(t.await.unwrap(), Some(id));
    });
}

/// `blocking_lock` inside `corral::run_sync` records the run_sync task as
/// the holder (a plain thread records none).
#[test]
fn blocking_holder_is_the_run_sync_task() {
    multi(2).block_on(async {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let t = corral::run_sync(move || {
            let _g = m2.blocking_lock();
            m2.statistics().holder
        });
        let id = t.id();
        assert_eq!(t.await.unwrap(), Some(id));
        let m3 = m.clone();
        let on_thread = std::thread::spawn(move || {
            let _g = m3.blocking_lock();
            m3.statistics()
        })
        .join()
        .unwrap();
        assert!(on_thread.locked && on_thread.holder.is_none());
    });
}

/// The wait list is allocated at the first contention: threads and tasks
/// that all contend on a fresh mutex at once race to install it (one wins,
/// the others free theirs); none is stranded on a list of its own, every
/// increment lands, and a mutex never contended reports nobody waiting.
#[test]
fn first_contention_installs_one_wait_list() {
    run_with_timeout("first_contention", 60, || {
        let m = Mutex::new(0u32);
        assert_eq!(m.statistics().tasks_waiting, 0, "no list yet: nobody waits");
        drop(m.try_lock().unwrap());
        let rt = multi(2);
        for _ in 0..stress() {
            let m = Arc::new(Mutex::new(0u32));
            let gate = Arc::new(std::sync::Barrier::new(5));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (m, gate) = (m.clone(), gate.clone());
                    std::thread::spawn(move || {
                        gate.wait();
                        *m.blocking_lock() += 1;
                    })
                })
                .collect();
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let (m, gate) = (m.clone(), gate.clone());
                    rt.spawn(async move {
                        corral::spawn_blocking(move || gate.wait()).await.unwrap();
                        *m.lock().await += 1;
                    })
                })
                .collect();
            {
                let held = m.try_lock().unwrap();
                gate.wait();
                std::thread::yield_now();
                drop(held);
            }
            for t in threads {
                t.join().unwrap();
            }
            for t in tasks {
                rt.block_on(t).unwrap();
            }
            assert_eq!(*m.try_lock().expect("the lock was lost"), 4);
            assert_eq!(m.statistics().tasks_waiting, 0);
        }
    });
}

// ---- the adaptive spin --------------------------------------------------------

/// A locker does not spin for a holder that is not running: the holder
/// sleeps (a task that awaits while holding), or is a plain thread, or is
/// `block_on`'s future (no task). The locker on a worker of a two-worker
/// runtime queues at once, and gets the lock by handoff.
#[test]
fn a_locker_queues_at_once_when_the_holder_is_not_running() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    /// Takes the lock and holds it, sleeping, until `release`.
    async fn hold(m: Arc<Mutex<u32>>, held: Arc<AtomicBool>, release: Arc<AtomicBool>) {
        let mut g = m.lock().await;
        held.store(true, SeqCst);
        while !release.load(SeqCst) {
            corral::time::sleep(Duration::from_millis(5)).await;
        }
        *g += 1;
    }
    run_with_timeout("queue_not_running", 60, || {
        let rt = Arc::new(multi(2));
        for holder_kind in ["sleeping task", "thread", "block_on"] {
            let m = Arc::new(Mutex::new(0u32));
            let release = Arc::new(AtomicBool::new(false));
            let held = Arc::new(AtomicBool::new(false));
            let holder_thread = {
                let (m, release, held) = (m.clone(), release.clone(), held.clone());
                let rt = rt.clone();
                std::thread::spawn(move || match holder_kind {
                    "sleeping task" => rt.block_on(rt.spawn(hold(m, held, release))).unwrap(),
                    "block_on" => rt.block_on(hold(m, held, release)),
                    _ => {
                        let mut g = m.blocking_lock();
                        held.store(true, SeqCst);
                        while !release.load(SeqCst) {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        *g += 1;
                    }
                })
            };
            while !held.load(SeqCst) {
                std::thread::yield_now();
            }
            let locker = rt.spawn({
                let m = m.clone();
                async move {
                    let (g, polls) = count_polls(m.lock()).await;
                    assert_eq!(*g, 1);
                    polls
                }
            });
            // Queued promptly (generous: a spinner would give up within
            // microseconds anyway; a locker that never queued would show
            // 0 here until the release).
            let start = std::time::Instant::now();
            while m.statistics().tasks_waiting == 0 {
                assert!(
                    start.elapsed() < Duration::from_secs(2),
                    "{holder_kind}: the locker did not queue"
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            release.store(true, SeqCst);
            assert_eq!(
                rt.block_on(locker).unwrap(),
                2,
                "{holder_kind}: queued, then handed the lock"
            );
            holder_thread.join().unwrap();
        }
    });
}

/// Queued waiters keep strict FIFO order and direct handoff on a
/// multi-thread runtime too, where a fresh locker may spin: a spinner only
/// takes a lock that is free with nobody queued.
#[test]
fn queued_waiters_are_served_in_order_on_two_workers() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    run_with_timeout("fifo_multi", 60, || {
        const WAITERS: usize = 6;
        let rt = multi(2);
        let m = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(AtomicBool::new(false));
        let holder = rt.spawn({
            let (m, release) = (m.clone(), release.clone());
            async move {
                let _g = m.lock().await;
                while !release.load(SeqCst) {
                    corral::yield_now().await;
                }
            }
        });
        while !m.is_locked() {
            std::thread::yield_now();
        }
        let waiters: Vec<_> = (0..WAITERS)
            .map(|i| {
                let w = rt.spawn({
                    let m = m.clone();
                    async move {
                        let mut g = m.lock().await;
                        g.push(i);
                        // Hold a little while running, so the next in line
                        // could be tempted to spin (it must not: it is queued).
                        let t = std::time::Instant::now();
                        while t.elapsed() < Duration::from_micros(20) {
                            std::hint::spin_loop();
                        }
                    }
                });
                while m.statistics().tasks_waiting < i + 1 {
                    std::thread::yield_now();
                }
                w
            })
            .collect();
        // A latecomer that arrives while the queue drains queues behind it.
        release.store(true, SeqCst);
        rt.block_on(holder).unwrap();
        for w in waiters {
            rt.block_on(w).unwrap();
        }
        assert_eq!(*m.try_lock().unwrap(), (0..WAITERS).collect::<Vec<_>>());
    });
}

/// Spinning lockers on two workers never share the lock: 8 tasks x 2,000
/// increments with no `.await` inside (the `mutex_8x10k` shape), an
/// unsynchronised read-modify-write and an "inside" flag that must never
/// be seen set on entry. (No `.await` between setting and clearing the
/// flag, so no cancelled task can leave it set.)
#[test]
fn spinning_lockers_keep_mutual_exclusion() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    run_with_timeout("spin_exclusion", 120, || {
        const TASKS: usize = 8;
        const INCREMENTS: usize = 2_000;
        let rt = multi(2);
        let m = Arc::new(Mutex::new(0usize));
        let inside = Arc::new(AtomicBool::new(false));
        rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (m, inside) = (m.clone(), inside.clone());
                    corral::spawn(async move {
                        for _ in 0..INCREMENTS {
                            let mut g = m.lock().await;
                            assert!(!inside.swap(true, SeqCst), "two holders at once");
                            let v = *g;
                            std::hint::black_box(&v);
                            *g = v + 1;
                            inside.store(false, SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert_eq!(*m.try_lock().unwrap(), TASKS * INCREMENTS);
        assert_eq!(m.statistics().tasks_waiting, 0);
    });
}

// ---- the handoff convoy -------------------------------------------------------

const CONVOY_TASKS: usize = 8;

/// Starts `CONVOY_TASKS` tasks on a one-worker runtime, each taking the
/// lock `each` times (yielding inside the critical section if
/// `yield_inside`), all queued behind `block_on` at the start: a convoy.
/// Returns the tasks' polls in all.
fn convoy(each: usize, yield_inside: bool) -> u32 {
    let rt = multi(1);
    rt.block_on(async {
        let m = Arc::new(Mutex::new(0usize));
        let held = m.lock().await;
        let tasks: Vec<_> = (0..CONVOY_TASKS)
            .map(|_| {
                let m = m.clone();
                corral::spawn(count_polls(async move {
                    for _ in 0..each {
                        let mut g = m.lock().await;
                        if yield_inside {
                            corral::yield_now().await;
                        }
                        *g += 1;
                    }
                }))
            })
            .collect();
        while m.statistics().tasks_waiting < CONVOY_TASKS {
            corral::time::sleep(Duration::from_millis(1)).await;
        }
        drop(held);
        let mut polls = 0;
        for t in tasks {
            polls += t.await.unwrap().1;
        }
        assert_eq!(*m.lock().await, CONVOY_TASKS * each, "an increment was lost");
        assert_eq!(m.statistics().tasks_waiting, 0);
        polls
    })
}

/// A convoy of short critical sections drains. With FIFO handoff alone,
/// once every task is queued each unlock hands the lock to the next
/// waiter and the unlocker, locking again, queues behind it: a task
/// switch (a poll) for every increment, for as long as the tasks run. A
/// locker that finds the lock handed to a waiter gives way instead of
/// queueing, so the queue empties; from then on a task keeps the lock
/// across its loop until its cooperative budget runs out.
#[test]
fn a_convoy_of_short_critical_sections_drains() {
    run_with_timeout("convoy_drains", 60, || {
        let each = 2_000;
        let polls = convoy(each, false);
        let increments = (CONVOY_TASKS * each) as u32;
        assert!(
            polls < increments / 8,
            "{polls} polls for {increments} increments: the convoy did not drain"
        );
    });
}

/// Giving way to a handed holder stops when it does not pay: here every
/// holder keeps the lock across an await, so a locker that yields finds
/// it held again and queues anyway. The mutex learns that, and the tasks
/// are polled about twice per increment (once holding, once to unlock
/// and queue again), as with plain FIFO handoff, not once more per yield.
#[test]
fn giving_way_to_a_handed_holder_stops_when_it_does_not_pay() {
    run_with_timeout("convoy_yield_inside", 60, || {
        let each = 1_000;
        let polls = convoy(each, true);
        let increments = (CONVOY_TASKS * each) as u32;
        assert!(
            polls <= increments * 5 / 2,
            "{polls} polls for {increments} increments held across an await"
        );
    });
}
