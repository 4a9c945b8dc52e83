//! Semaphore: semantics, every error, FIFO fairness, cancellation at every
//! await point, threads, foreign executors, and a cancellation stress test
//! (`CORRAL_STRESS` = rounds, default 200).

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress, Rng};
use corral::sync::{AcquireError, BlockingAcquireError, Semaphore, TryAcquireError};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

/// Lets every runnable task on a current-thread runtime run.
async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

#[test]
fn acquire_release_and_counts() {
    current().block_on(async {
        let sem = Semaphore::new(3);
        let a = sem.acquire().await.unwrap();
        let b = sem.acquire_many(2).await.unwrap();
        assert_eq!((a.num_permits(), b.num_permits()), (1, 2));
        assert_eq!(sem.available_permits(), 0);
        drop(b);
        assert_eq!(sem.available_permits(), 2);
        drop(a);
        assert_eq!(sem.available_permits(), 3);
        // Zero permits: always immediate.
        assert_eq!(sem.acquire_many(0).await.unwrap().num_permits(), 0);
        assert_eq!(sem.available_permits(), 3);
    });
}

#[test]
fn zero_permits_behind_waiters_is_immediate() {
    run_with_timeout("zero", 10, || {
        let sem = Semaphore::new(0);
        let mut waiter = pin!(sem.acquire());
        assert!(poll_once(waiter.as_mut()).is_pending());
        let mut zero = pin!(sem.acquire_many(0));
        assert!(matches!(poll_once(zero.as_mut()), Poll::Ready(Ok(_))));
        assert_eq!(sem.blocking_acquire_many(0).unwrap().num_permits(), 0);
        assert_eq!(sem.statistics().tasks_waiting, 1);
    });
}

#[test]
fn try_acquire_errors() {
    let sem = Semaphore::new(1);
    let p = sem.try_acquire().unwrap();
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    assert_eq!(sem.try_acquire_many(2).unwrap_err(), TryAcquireError::NoPermits);
    assert_eq!(
        sem.try_acquire_many(usize::MAX).unwrap_err(),
        TryAcquireError::TooMany {
            requested: usize::MAX,
            max: Semaphore::MAX_PERMITS
        }
    );
    drop(p);
    sem.close();
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert_eq!(TryAcquireError::NoPermits.to_string(), "no permits available");
}

#[test]
fn request_above_the_maximum_is_an_error_not_a_hang() {
    run_with_timeout("too_many", 10, || {
        current().block_on(async {
            let sem = Semaphore::new(1);
            let err = sem.acquire_many(Semaphore::MAX_PERMITS + 1).await.unwrap_err();
            assert!(matches!(err, AcquireError::TooMany { .. }));
            assert!(err.to_string().contains("more than a semaphore can hold"));
            // Nothing was taken or queued.
            assert_eq!(sem.statistics().tasks_waiting, 0);
            assert_eq!(sem.available_permits(), 1);
        });
        let sem = Semaphore::new(1);
        assert!(matches!(
            sem.blocking_acquire_many(usize::MAX).unwrap_err(),
            BlockingAcquireError::TooMany { .. }
        ));
    });
}

#[test]
fn new_and_add_permits_saturate_at_the_maximum() {
    let sem = Semaphore::new(usize::MAX);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    sem.add_permits(usize::MAX);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
}

#[test]
fn close_wakes_waiters_and_fails_later_acquires() {
    run_with_timeout("close", 10, || {
        current().block_on(async {
            let sem = Arc::new(Semaphore::new(1));
            let held = sem.try_acquire_many(1).unwrap();
            let mut waiters = Vec::new();
            for n in [1, 3] {
                let sem = sem.clone();
                waiters.push(corral::spawn(async move {
                    sem.acquire_many(n).await.map(|p| p.num_permits())
                }));
            }
            settle().await;
            assert_eq!(sem.statistics().tasks_waiting, 2);
            sem.close();
            for w in waiters {
                assert_eq!(w.await.unwrap(), Err(AcquireError::Closed));
            }
            assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
            assert!(sem.clone().acquire_owned().await.is_err());
            assert!(sem.is_closed() && sem.statistics().closed);
            // The held permit stays valid and comes back.
            drop(held);
            assert_eq!(sem.available_permits(), 1);
        });
    });
}

#[test]
fn close_gives_back_a_partial_handoff() {
    current().block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let s = sem.clone();
        let big = corral::spawn(async move { s.acquire_many(5).await.is_ok() });
        settle().await;
        assert_eq!(
            sem.available_permits(),
            0,
            "the head collected the 2 free permits"
        );
        sem.close();
        assert!(!big.await.unwrap());
        assert_eq!(sem.available_permits(), 2, "the partial handoff came back");
    });
}

#[test]
fn waiters_are_served_in_fifo_order() {
    run_with_timeout("fifo", 10, || {
        current().block_on(async {
            let sem = Arc::new(Semaphore::new(0));
            let order = Arc::new(StdMutex::new(Vec::new()));
            let mut tasks = Vec::new();
            for i in 0..8 {
                let (sem, order) = (sem.clone(), order.clone());
                tasks.push(corral::spawn(async move {
                    let p = sem.acquire().await.unwrap();
                    order.lock().unwrap().push(i);
                    p.forget();
                }));
                settle().await; // queue in spawn order
            }
            for _ in 0..8 {
                sem.add_permits(1);
                settle().await;
            }
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
        });
    });
}

#[test]
fn a_released_permit_is_handed_over_not_barged() {
    current().block_on(async {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let s = sem.clone();
        let waiter = corral::spawn(async move { s.acquire().await.unwrap().forget() });
        settle().await;
        drop(held);
        // The waiter has not run yet, but the permit is already its own.
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        waiter.await.unwrap();
    });
}

#[test]
fn a_large_request_at_the_head_is_not_starved() {
    run_with_timeout("large_head", 10, || {
        current().block_on(async {
            let sem = Arc::new(Semaphore::new(0));
            let s = sem.clone();
            let big = corral::spawn(async move { s.acquire_many(3).await.unwrap().forget() });
            settle().await;
            let s = sem.clone();
            let small = corral::spawn(async move { s.acquire().await.unwrap().forget() });
            settle().await;
            sem.add_permits(1);
            settle().await;
            assert!(
                !big.is_finished() && !small.is_finished(),
                "the small request must not overtake"
            );
            assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
            sem.add_permits(2);
            settle().await;
            assert!(big.is_finished());
            assert!(!small.is_finished());
            sem.add_permits(1);
            small.await.unwrap();
            big.await.unwrap();
        });
    });
}

#[test]
fn cancelled_large_request_gives_back_its_partial_permits() {
    run_with_timeout("cancel_large", 10, || {
        current().block_on(async {
            let sem = Arc::new(Semaphore::new(0));
            let s = sem.clone();
            let big = corral::spawn(async move { s.acquire_many(5).await.unwrap().forget() });
            settle().await;
            let s = sem.clone();
            let small = corral::spawn(async move { s.acquire().await.unwrap().num_permits() });
            settle().await;
            sem.add_permits(2); // assigned to `big`, which stays at the head
            settle().await;
            assert_eq!(sem.available_permits(), 0);
            big.abort();
            assert!(big.await.is_err());
            // `small` got one of the two; the other is free.
            assert_eq!(small.await.unwrap(), 1);
            assert_eq!(sem.available_permits(), 2);
            assert_eq!(sem.statistics().tasks_waiting, 0);
        });
    });
}

#[test]
fn cancelled_after_handoff_passes_the_permit_on() {
    let sem = Semaphore::new(0);
    let mut first = Box::pin(sem.acquire());
    let mut second = pin!(sem.acquire());
    assert!(poll_once(first.as_mut()).is_pending());
    assert!(poll_once(second.as_mut()).is_pending());
    sem.add_permits(1); // handed to `first`
    assert_eq!(sem.available_permits(), 0);
    drop(first); // cancelled holding it: pass it on
    match poll_once(second.as_mut()) {
        Poll::Ready(Ok(p)) => assert_eq!(p.num_permits(), 1),
        other => panic!("the permit was lost: {other:?}"),
    }
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn cancelled_before_handoff_loses_nothing() {
    let sem = Semaphore::new(0);
    let mut a = Box::pin(sem.acquire());
    assert!(poll_once(a.as_mut()).is_pending());
    assert_eq!(sem.statistics().tasks_waiting, 1);
    drop(a);
    assert_eq!(sem.statistics().tasks_waiting, 0);
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn forget_shrinks_the_pool() {
    let sem = Arc::new(Semaphore::new(3));
    sem.try_acquire().unwrap().forget();
    sem.clone().try_acquire_many_owned(1).unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn owned_permits_move_into_tasks() {
    multi(2).block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let permit = sem.clone().acquire_owned().await.unwrap();
            assert!(Arc::ptr_eq(permit.semaphore(), &sem));
            tasks.push(corral::spawn(async move {
                corral::yield_now().await;
                drop(permit);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(sem.available_permits(), 2);
        let p = sem.clone().acquire_many_owned(2).await.unwrap();
        assert_eq!(p.num_permits(), 2);
    });
}

#[test]
fn statistics_and_creation_site() {
    current().block_on(async {
        let line = line!() + 1;
        let sem = Arc::new(Semaphore::new(1));
        assert_eq!(sem.created_at().line(), line);
        assert!(sem.created_at().file().ends_with("semaphore.rs"));
        let _held = sem.try_acquire().unwrap();
        let s = sem.clone();
        let w = corral::spawn(async move { s.acquire().await.is_ok() });
        settle().await;
        let st = sem.statistics();
        assert_eq!((st.available, st.tasks_waiting, st.closed), (0, 1, false));
        assert!(format!("{sem:?}").contains("tasks_waiting: 1"));
        w.abort();
        let _ = w.await;
        assert_eq!(sem.statistics().tasks_waiting, 0);
        // The site moved from the semaphore's word into its block (at the
        // first acquire): still the same, everywhere it shows.
        assert_eq!(sem.created_at().line(), line);
        assert_eq!(sem.statistics().created_at.line(), line);
        let site = sem.created_at();
        assert!(format!("{sem:?}").ends_with(&format!("created_at: {site} }}")));
    });
}

#[test]
fn blocking_acquire_from_threads_with_timeout() {
    run_with_timeout("blocking", 20, || {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        assert_eq!(
            sem.blocking_acquire_timeout(Duration::from_millis(20))
                .unwrap_err(),
            BlockingAcquireError::Timeout
        );
        assert_eq!(sem.statistics().tasks_waiting, 0, "the timed-out waiter left");
        let s = sem.clone();
        let t = std::thread::spawn(move || s.blocking_acquire().map(|p| p.num_permits()));
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        assert_eq!(t.join().unwrap(), Ok(1));
        // A thread waiting when close runs gets Closed.
        let held = sem.try_acquire().unwrap();
        let s = sem.clone();
        let t = std::thread::spawn(move || {
            s.blocking_acquire_timeout(Duration::from_secs(10))
                .map(|p| p.num_permits())
        });
        while sem.statistics().tasks_waiting == 0 {
            std::thread::yield_now();
        }
        sem.close();
        assert_eq!(t.join().unwrap(), Err(BlockingAcquireError::Closed));
        drop(held);
        assert_eq!(sem.blocking_acquire().unwrap_err(), BlockingAcquireError::Closed);
    });
}

#[test]
fn blocking_timeout_gives_back_partial_permits_and_lets_others_through() {
    run_with_timeout("blocking_partial", 20, || {
        let sem = Arc::new(Semaphore::new(1));
        let s = sem.clone();
        let big = std::thread::spawn(move || {
            s.blocking_acquire_many_timeout(3, Duration::from_millis(100))
                .map(|p| p.num_permits())
        });
        while sem.statistics().tasks_waiting == 0 {
            std::thread::yield_now();
        }
        let s = sem.clone();
        let small = std::thread::spawn(move || s.blocking_acquire().map(|p| p.num_permits()));
        assert_eq!(big.join().unwrap(), Err(BlockingAcquireError::Timeout));
        assert_eq!(small.join().unwrap(), Ok(1));
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn blocking_acquire_refuses_a_worker_thread() {
    let rt = multi(1);
    let sem = Arc::new(Semaphore::new(1));
    let s = sem.clone();
    let res = rt.block_on(rt.spawn(async move {
        let _ = s.blocking_acquire();
    }));
    let err = res.unwrap_err();
    assert!(err.is_panic(), "{err}");
    assert_eq!(sem.available_permits(), 1);
    // From the blocking pool it is fine.
    let s = sem.clone();
    let n = rt
        .block_on(async { corral::run_sync(move || s.blocking_acquire().map(|p| p.num_permits())).await })
        .unwrap();
    assert_eq!(n, Ok(1));
}

#[test]
fn works_under_a_foreign_executor_on_several_threads() {
    run_with_timeout("foreign", 30, || {
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        foreign_block_on(async {
                            let _p = sem.acquire().await.unwrap();
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            max.fetch_max(now, SeqCst);
                            std::thread::yield_now();
                            inside.fetch_sub(1, SeqCst);
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(max.load(SeqCst) <= 2);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn eight_threads_mixed_with_tasks() {
    run_with_timeout("mixed", 60, || {
        let rt = multi(2);
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let rounds = stress();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        let _p = sem.blocking_acquire().unwrap();
                        let now = inside.fetch_add(1, SeqCst) + 1;
                        max.fetch_max(now, SeqCst);
                        inside.fetch_sub(1, SeqCst);
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                    corral::spawn(async move {
                        for _ in 0..rounds {
                            let _p = sem.acquire().await.unwrap();
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            max.fetch_max(now, SeqCst);
                            corral::yield_now().await;
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
        assert!(max.load(SeqCst) <= 3, "max {} holders", max.load(SeqCst));
        assert_eq!(sem.available_permits(), 3);
    });
}

struct Inside<'a>(&'a AtomicUsize, usize);

impl<'a> Inside<'a> {
    fn enter(c: &'a AtomicUsize, n: usize) -> Self {
        c.fetch_add(n, SeqCst);
        Inside(c, n)
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, SeqCst);
    }
}

/// A Semaphore(2) never admits a third holder and loses no permit while
/// tasks are cancelled at random (timeouts and aborts at every await).
#[test]
fn stress_random_cancellation_loses_no_permit() {
    run_with_timeout("stress_cancel", 120, || {
        let rt = multi(2);
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        // Holder records that did not match the permits held at that moment.
        let bad_records = Arc::new(AtomicUsize::new(0));
        let n = stress() * 5;
        rt.block_on(async {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            let mut tasks = Vec::new();
            for i in 0..n {
                let (sem, inside, max, done) = (sem.clone(), inside.clone(), max.clone(), done.clone());
                let bad_records = bad_records.clone();
                let want = 1 + rng.below(2) as usize;
                let wait_us = rng.below(300);
                let hold = rng.below(3);
                let t = corral::spawn(async move {
                    let acquire = sem.acquire_many(want);
                    let Ok(Ok(_p)) = corral::time::timeout(Duration::from_micros(wait_us), acquire).await
                    else {
                        return;
                    };
                    // Counted out on drop too, so an abort while holding is seen.
                    let _in = Inside::enter(&inside, want);
                    max.fetch_max(inside.load(SeqCst), SeqCst);
                    let holders = sem.statistics().holders;
                    let me = corral::task::try_id();
                    if holders.iter().map(|h| h.permits).sum::<usize>() > 2
                        || !holders.iter().any(|h| h.task == me && h.permits == want)
                    {
                        bad_records.fetch_add(1, SeqCst);
                    }
                    for _ in 0..hold {
                        corral::yield_now().await;
                    }
                    done.fetch_add(1, SeqCst);
                });
                if i % 7 == 3 {
                    corral::yield_now().await;
                    t.abort();
                }
                tasks.push(t);
            }
            for t in tasks {
                let _ = t.await;
            }
        });
        assert!(max.load(SeqCst) <= 2, "{} permits held at once", max.load(SeqCst));
        assert_eq!(inside.load(SeqCst), 0);
        assert_eq!(sem.available_permits(), 2, "a permit was lost or duplicated");
        assert_eq!(sem.statistics().tasks_waiting, 0);
        assert!(
            sem.statistics().holders.is_empty(),
            "a holder record outlived its permit"
        );
        assert_eq!(
            bad_records.load(SeqCst),
            0,
            "holder records disagreed with the permits held"
        );
        assert!(done.load(SeqCst) > 0);
    });
}

struct CountWake(AtomicUsize);

impl std::task::Wake for CountWake {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn a_waiter_polled_with_a_new_waker_is_woken_through_the_new_one() {
    let sem = Semaphore::new(0);
    let (a, b) = (
        Arc::new(CountWake(AtomicUsize::new(0))),
        Arc::new(CountWake(AtomicUsize::new(0))),
    );
    let (wa, wb) = (
        std::task::Waker::from(a.clone()),
        std::task::Waker::from(b.clone()),
    );
    let mut fut = pin!(sem.acquire());
    assert!(fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&wa))
        .is_pending());
    // Moved to another executor / combinator: polled with another waker.
    assert!(fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&wb))
        .is_pending());
    assert_eq!(
        sem.statistics().tasks_waiting,
        1,
        "re-polling must not queue twice"
    );
    sem.add_permits(1);
    assert_eq!((a.0.load(SeqCst), b.0.load(SeqCst)), (0, 1));
    assert!(fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&wb))
        .is_ready());
}

/// A waker that adds a permit when woken: runs between `close`'s chunks.
struct AddOnWake(Arc<Semaphore>);

impl std::task::Wake for AddOnWake {
    fn wake(self: Arc<Self>) {
        self.0.add_permits(1);
    }
}

#[test]
fn a_release_between_close_chunks_is_not_handed_to_a_closed_waiter() {
    let sem = Arc::new(Semaphore::new(0));
    let adder = std::task::Waker::from(Arc::new(AddOnWake(sem.clone())));
    let mut first = Box::pin(sem.acquire());
    assert!(first
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&adder))
        .is_pending());
    // More waiters than one wake batch holds, so close wakes in chunks.
    let mut rest: Vec<_> = (0..40).map(|_| Box::pin(sem.acquire())).collect();
    for f in &mut rest {
        assert!(poll_once(f.as_mut()).is_pending());
    }
    sem.close(); // the first wake adds a permit while others still queue
    assert!(matches!(
        poll_once(first.as_mut()),
        Poll::Ready(Err(AcquireError::Closed))
    ));
    for f in &mut rest {
        assert!(matches!(
            poll_once(f.as_mut()),
            Poll::Ready(Err(AcquireError::Closed))
        ));
    }
    assert_eq!(
        sem.available_permits(),
        1,
        "the permit added during close was lost"
    );
}

fn holders(sem: &Semaphore) -> Vec<(Option<corral::task::Id>, usize)> {
    let mut v: Vec<_> = sem
        .statistics()
        .holders
        .into_iter()
        .map(|h| (h.task, h.permits))
        .collect();
    v.sort();
    v
}

/// Issue 9's holder records: with several holders at once, `statistics()`
/// names every one (task and permit count), including a thread (no task)
/// and a waiter the permits were handed to; a released, forgotten or
/// cancelled grant leaves no record. (Before, a Semaphore kept only "the
/// task granted permits last", and did not show even that.)
#[test]
fn holders_are_exact_with_many_holders() {
    current().block_on(async {
        let sem = Arc::new(Semaphore::new(4));
        let (s1, s2) = (sem.clone(), sem.clone());
        let a = corral::spawn(async move { s1.acquire_owned().await.unwrap() });
        let b = corral::spawn(async move { s2.acquire_many_owned(2).await.unwrap() });
        let (a_id, b_id) = (a.id(), b.id());
        let pa = a.await.unwrap(); // moved out of the task: still names it
        let pb = b.await.unwrap();
        let s3 = sem.clone();
        let pt = std::thread::spawn(move || s3.try_acquire_owned().unwrap())
            .join()
            .unwrap();
        let mut expect = vec![(None, 1), (Some(a_id), 1), (Some(b_id), 2)];
        expect.sort();
        assert_eq!(holders(&sem), expect);

        // A waiter is handed a's permit on release: the record is its now.
        let s4 = sem.clone();
        let c = corral::spawn(async move {
            let p = s4.acquire().await.unwrap();
            corral::time::sleep(Duration::from_millis(20)).await;
            drop(p);
        });
        let c_id = c.id();
        settle().await;
        assert_eq!(sem.statistics().tasks_waiting, 1);
        drop(pa);
        settle().await;
        let mut expect = vec![(None, 1), (Some(b_id), 2), (Some(c_id), 1)];
        expect.sort();
        assert_eq!(holders(&sem), expect);

        // A grant handed to a waiter that is cancelled before it runs goes
        // on to the next waiter, record and all.
        let s5 = sem.clone();
        let d = corral::spawn(async move { s5.acquire_many(2).await.map(|p| p.num_permits()) });
        let s6 = sem.clone();
        let e = corral::spawn(async move {
            let p = s6.acquire_many(2).await.unwrap();
            p.num_permits()
        });
        let e_id = e.id();
        settle().await;
        assert_eq!(sem.statistics().tasks_waiting, 2);
        drop(pb); // handed to d ...
        d.abort(); // ... which never runs: it passes them on to e
        assert!(d.await.is_err());
        assert_eq!(e.await.unwrap(), 2);
        c.await.unwrap();
        assert_eq!(holders(&sem), vec![(None, 1)]);
        pt.forget();
        assert_eq!(holders(&sem), vec![]);
        assert_eq!(sem.available_permits(), 3);
        assert_eq!(sem.statistics().tasks_waiting, 0);
        let _ = e_id;
    });
}

/// Blocking acquires from plain threads are recorded (as task None) and
/// the records go with the permits.
#[test]
fn holders_from_threads_and_timeouts() {
    let sem = Arc::new(Semaphore::new(2));
    let p1 = sem.blocking_acquire().unwrap();
    let p2 = sem
        .blocking_acquire_many_timeout(1, Duration::from_millis(5))
        .unwrap();
    assert_eq!(holders(&sem), vec![(None, 1), (None, 1)]);
    assert!(sem.blocking_acquire_timeout(Duration::from_millis(5)).is_err());
    assert_eq!(holders(&sem).len(), 2);
    drop(p1);
    drop(p2);
    assert_eq!(holders(&sem), vec![]);
}

/// The memory rows: a Semaphore is at most 16 bytes, async-lock's size
/// (it was 32: the lock byte padded to a word and the creation site beside
/// the permit word and the block pointer; now the lock lives in the block,
/// and the site shares the pointer's word until the block takes it over;
/// 64 with a last holder only RwLock read, a bound only BoundedSemaphore
/// needs, and the wait list inline) and a waiting `acquire()` future at
/// most 72 (it was 80 with a three-word request: the head's partial
/// handoff now sits in the semaphore, and the waiter's task id and the
/// holder record's slot share a word; 104 with a second reference to the
/// semaphore and a copy of the count beside the waiter, and a four-word
/// request; 144 before that, as two `async fn` layers around the waiter).
#[test]
fn a_semaphore_and_its_waiter_are_small() {
    let sem = Semaphore::new(1);
    assert!(
        std::mem::size_of_val(&sem) <= 16,
        "Semaphore is {} bytes",
        std::mem::size_of_val(&sem)
    );
    let fut = sem.acquire();
    assert!(
        std::mem::size_of_val(&fut) <= 72,
        "acquire() is {} bytes",
        std::mem::size_of_val(&fut)
    );
}
