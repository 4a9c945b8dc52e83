//! Barrier: cycles (one leader, indices 0..parties), the action, every
//! way to break it (abort, reset, timeouts, a panicking action), cancel,
//! OS threads mixed with tasks, a foreign executor, and many cycles
//! (`CORRAL_STRESS` x 5, default 1,000).

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress};
use corral::sync::{Barrier, BarrierTimeoutError, BarrierWaitResult, BrokenBarrier, BrokenCause};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

async fn settle() {
    for _ in 0..20 {
        corral::yield_now().await;
    }
}

/// Waits (politely) until `n` parties wait at `b`.
async fn until_waiting(b: &Barrier, n: usize) {
    while b.n_waiting() != n {
        corral::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Checks one cycle's results: one leader, indices 0..parties, leader last.
fn check_cycle(mut rs: Vec<BarrierWaitResult>) {
    rs.sort_by_key(|r| r.index);
    let n = rs.len();
    for (i, r) in rs.iter().enumerate() {
        assert_eq!(r.index, i, "indices are not 0..{n}: {rs:?}");
        assert_eq!(r.is_leader, i == n - 1, "the leader is the last arrival: {rs:?}");
    }
}

#[test]
fn one_cycle_one_leader_indices_in_arrival_order() {
    current().block_on(async {
        let b = Arc::new(Barrier::new(3));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for name in 0..2 {
            let (b2, order) = (b.clone(), order.clone());
            tasks.push(corral::spawn(async move {
                let r = b2.wait().await.unwrap();
                order.lock().unwrap().push((name, r));
                r
            }));
            until_waiting(&b, name + 1).await;
        }
        assert_eq!(b.n_waiting(), 2);
        assert_eq!(b.statistics().tasks_waiting, 2);
        let mine = b.wait().await.unwrap();
        assert_eq!((mine.is_leader, mine.index), (true, 2));
        let mut all = vec![mine];
        for (i, t) in tasks.into_iter().enumerate() {
            let r = t.await.unwrap();
            assert_eq!(r.index, i, "first come, first index");
            all.push(r);
        }
        check_cycle(all);
        let s = b.statistics();
        assert_eq!(
            (s.parties, s.n_waiting, s.tasks_waiting, s.broken, s.cycles),
            (3, 0, 0, false, 1)
        );
        assert!(s.created_at.file().ends_with("barrier.rs"));
        assert_eq!(b.created_at(), s.created_at);
    });
}

#[test]
fn zero_parties_behave_as_one() {
    current().block_on(async {
        let b = Barrier::new(0);
        assert_eq!(b.parties(), 1);
        for _ in 0..3 {
            let r = b.wait().await.unwrap();
            assert_eq!((r.is_leader(), r.index()), (true, 0));
        }
        assert_eq!(b.statistics().cycles, 3);
    });
    assert!(Barrier::new(0).blocking_wait().unwrap().is_leader());
}

#[test]
fn a_finished_future_polled_again_returns_the_same() {
    current().block_on(async {
        let b = Barrier::new(1);
        let mut w = pin!(b.wait());
        let first = w.as_mut().await.unwrap();
        assert_eq!(poll_once(w.as_mut()), Poll::Ready(Ok(first)));
        assert_eq!(b.statistics().cycles, 1, "polled again, it must not arrive twice");
    });
}

#[test]
fn the_action_runs_once_per_cycle_in_the_leader_before_anyone_leaves() {
    run_with_timeout("barrier_action", 60, || {
        multi(2).block_on(async {
            let parties = 4;
            let cycles = 200;
            let count = Arc::new(AtomicUsize::new(0));
            let leader_thread = Arc::new(StdMutex::new(None));
            let (c, lt) = (count.clone(), leader_thread.clone());
            let b = Arc::new(Barrier::with_action(parties, move || {
                c.fetch_add(1, SeqCst);
                *lt.lock().unwrap() = Some(std::thread::current().id());
            }));
            let tasks: Vec<_> = (0..parties)
                .map(|_| {
                    let (b, count, lt) = (b.clone(), count.clone(), leader_thread.clone());
                    corral::spawn(async move {
                        let mut leads = 0;
                        for i in 0..cycles {
                            let r = b.wait().await.unwrap();
                            // Nobody leaves before the action of its cycle
                            // ran, and nobody can run a cycle ahead.
                            assert_eq!(count.load(SeqCst), i + 1);
                            if r.is_leader {
                                leads += 1;
                                // The action ran in the leader's thread.
                                assert_eq!(*lt.lock().unwrap(), Some(std::thread::current().id()));
                            }
                        }
                        leads
                    })
                })
                .collect();
            let mut leads = 0;
            for t in tasks {
                leads += t.await.unwrap();
            }
            assert_eq!(leads, cycles, "one leader per cycle");
            assert_eq!(count.load(SeqCst), cycles);
            assert_eq!(b.statistics().cycles, cycles as u64);
        });
    });
}

#[test]
fn a_panicking_action_breaks_the_barrier_and_kills_no_worker() {
    run_with_timeout("barrier_action_panic", 60, || {
        let rt = multi(2);
        rt.block_on(async {
            let fail = Arc::new(AtomicBool::new(true));
            let f = fail.clone();
            let b = Arc::new(Barrier::with_action(3, move || {
                if f.load(SeqCst) {
                    panic!("action failed");
                }
            }));
            let tasks: Vec<_> = (0..3)
                .map(|_| {
                    let b = b.clone();
                    corral::spawn(async move { b.wait().await })
                })
                .collect();
            for t in tasks {
                let err: BrokenBarrier = t.await.expect("the task survived").unwrap_err();
                assert_eq!(err.cause(), BrokenCause::ActionPanicked);
                assert_eq!(err.to_string(), "barrier broken: its action panicked");
            }
            assert!(b.is_broken());
            assert_eq!(b.wait().await.unwrap_err().cause(), BrokenCause::ActionPanicked);
            // Usable again after reset; the workers still run tasks.
            b.reset();
            fail.store(false, SeqCst);
            let tasks: Vec<_> = (0..3)
                .map(|_| {
                    let b = b.clone();
                    corral::spawn(async move { b.wait().await.unwrap() })
                })
                .collect();
            let mut rs = Vec::new();
            for t in tasks {
                rs.push(t.await.unwrap());
            }
            check_cycle(rs);
        });
    });
}

#[test]
fn abort_breaks_waiters_and_later_waits_until_reset() {
    current().block_on(async {
        let b = Arc::new(Barrier::new(3));
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                corral::spawn(async move { b.wait().await })
            })
            .collect();
        until_waiting(&b, 2).await;
        b.abort();
        assert_eq!(b.n_waiting(), 0);
        for w in ws {
            assert_eq!(w.await.unwrap().unwrap_err().cause(), BrokenCause::Aborted);
        }
        assert!(b.is_broken() && b.statistics().broken);
        assert_eq!(b.wait().await.unwrap_err().cause(), BrokenCause::Aborted);
        assert_eq!(b.wait().await.unwrap_err().to_string(), "barrier broken: aborted");
        b.reset();
        assert!(!b.is_broken());
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                corral::spawn(async move { b.wait().await.unwrap() })
            })
            .collect();
        b.wait().await.unwrap();
        for w in ws {
            w.await.unwrap();
        }
    });
}

#[test]
fn reset_during_wait_breaks_the_waiters_and_leaves_the_barrier_usable() {
    current().block_on(async {
        let b = Arc::new(Barrier::new(3));
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                corral::spawn(async move { b.wait().await })
            })
            .collect();
        until_waiting(&b, 2).await;
        b.reset();
        assert!(!b.is_broken(), "reset leaves the barrier usable");
        // A new cycle starts from zero: the reset waiters do not count.
        let late = {
            let b = b.clone();
            corral::spawn(async move { b.wait().await })
        };
        for w in ws {
            assert_eq!(w.await.unwrap().unwrap_err().cause(), BrokenCause::Reset);
        }
        until_waiting(&b, 1).await;
        settle().await;
        assert_eq!(b.n_waiting(), 1);
        let other = {
            let b = b.clone();
            corral::spawn(async move { b.wait().await })
        };
        let r = b.wait().await.unwrap();
        let rs = vec![r, late.await.unwrap().unwrap(), other.await.unwrap().unwrap()];
        check_cycle(rs);
    });
}

#[test]
fn wait_timeout_expiry_breaks_the_barrier_for_everyone() {
    run_with_timeout("barrier_timeout", 30, || {
        multi(2).block_on(async {
            let b = Arc::new(Barrier::new(3));
            let b2 = b.clone();
            let plain = corral::spawn(async move { b2.wait().await });
            until_waiting(&b, 1).await;
            let mut timed = pin!(b.wait_timeout(Duration::from_millis(20)));
            let r = timed.as_mut().await;
            assert_eq!(r.unwrap_err(), BarrierTimeoutError::TimedOut);
            // Polled again, it says the same (and does not arrive again).
            assert_eq!(
                poll_once(timed.as_mut()),
                Poll::Ready(Err(BarrierTimeoutError::TimedOut))
            );
            assert_eq!(
                BarrierTimeoutError::TimedOut.to_string(),
                "timed out waiting at the barrier (it is broken now)"
            );
            let other = plain.await.unwrap().unwrap_err();
            assert_eq!(other.cause(), BrokenCause::TimedOut);
            assert!(b.is_broken());
            assert_eq!(b.n_waiting(), 0);
            // A later timed wait sees the broken barrier at once.
            let r = b.wait_timeout(Duration::from_secs(10)).await;
            assert_eq!(r.unwrap_err(), BarrierTimeoutError::Broken(other));
            b.reset();
            // In time: passes.
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let b2 = b.clone();
                    corral::spawn(async move { b2.wait_timeout(Duration::from_secs(10)).await })
                })
                .collect();
            let mut rs = vec![b.wait_timeout(Duration::from_secs(10)).await.unwrap()];
            for t in ts {
                rs.push(t.await.unwrap().unwrap());
            }
            check_cycle(rs);
        });
    });
}

#[test]
fn blocking_wait_timeout_expiry_breaks_the_barrier_for_everyone() {
    run_with_timeout("barrier_blocking_timeout", 30, || {
        let b = Arc::new(Barrier::new(3));
        let b2 = b.clone();
        let plain = std::thread::spawn(move || b2.blocking_wait());
        while b.n_waiting() != 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let err = b.blocking_wait_timeout(Duration::from_millis(20)).unwrap_err();
        assert_eq!(err, BarrierTimeoutError::TimedOut);
        assert_eq!(plain.join().unwrap().unwrap_err().cause(), BrokenCause::TimedOut);
        assert!(b.is_broken());
        b.reset();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let b2 = b.clone();
                std::thread::spawn(move || b2.blocking_wait_timeout(Duration::from_secs(10)))
            })
            .collect();
        let mut rs = vec![b.blocking_wait_timeout(Duration::from_secs(10)).unwrap()];
        for t in ts {
            rs.push(t.join().unwrap().unwrap());
        }
        check_cycle(rs);
    });
}

#[test]
fn a_cancelled_waiter_frees_its_slot() {
    current().block_on(async {
        let b = Arc::new(Barrier::new(3));
        // Cancelled by dropping the future after it queued.
        {
            let mut w = pin!(b.wait());
            assert!(poll_once(w.as_mut()).is_pending());
            assert_eq!(b.n_waiting(), 1);
        }
        assert_eq!(b.n_waiting(), 0, "the cancelled waiter still counts");
        // Cancelled by aborting its task.
        let b2 = b.clone();
        let t = corral::spawn(async move { b2.wait().await });
        until_waiting(&b, 1).await;
        t.abort();
        assert!(t.await.unwrap_err().is_cancelled());
        assert_eq!(b.n_waiting(), 0);
        // The cycle still needs 3 arrivals: two are not enough.
        let b2 = b.clone();
        let first = corral::spawn(async move { b2.wait().await });
        until_waiting(&b, 1).await;
        let mut second = pin!(b.wait());
        assert!(poll_once(second.as_mut()).is_pending());
        settle().await;
        assert!(!first.is_finished(), "released with only 2 of 3 parties");
        assert_eq!(b.n_waiting(), 2);
        let third = b.wait().await.unwrap();
        assert!(third.is_leader);
        let r2 = second.await.unwrap();
        let r1 = first.await.unwrap().unwrap();
        check_cycle(vec![r1, r2, third]);
    });
}

#[test]
fn a_waiter_dropped_after_release_takes_nothing_from_the_others() {
    current().block_on(async {
        let b = Arc::new(Barrier::new(2));
        let mut w = Box::pin(b.wait());
        assert!(poll_once(w.as_mut()).is_pending());
        // The second arrival releases the first, which is then dropped
        // without being polled.
        assert!(b.wait().await.unwrap().is_leader);
        drop(w);
        assert_eq!(b.n_waiting(), 0);
        assert_eq!(b.statistics().tasks_waiting, 0);
        let b2 = b.clone();
        let t = corral::spawn(async move { b2.wait().await.unwrap() });
        let r = b.wait().await.unwrap();
        check_cycle(vec![r, t.await.unwrap()]);
    });
}

#[test]
fn many_cycles_never_release_a_waiter_early_or_count_it_twice() {
    run_with_timeout("barrier_cycles", 60, || {
        let cycles = stress() * 5;
        let parties = 8;
        multi(2).block_on(async move {
            let b = Arc::new(Barrier::new(parties));
            // arrivals[i]: parties that returned from cycle i so far.
            let arrivals: Arc<Vec<AtomicUsize>> =
                Arc::new((0..cycles).map(|_| AtomicUsize::new(0)).collect());
            let tasks: Vec<_> = (0..parties)
                .map(|_| {
                    let (b, arrivals) = (b.clone(), arrivals.clone());
                    corral::spawn(async move {
                        let mut leads = 0;
                        for i in 0..cycles {
                            let r = b.wait().await.unwrap();
                            assert!(r.index < parties);
                            leads += r.is_leader as usize;
                            let n = arrivals[i].fetch_add(1, SeqCst);
                            assert!(n < parties, "cycle {i} released more than {parties}");
                            if i + 1 < cycles {
                                // Cycle i + 1 cannot have released anyone:
                                // this party has not arrived there yet.
                                assert_eq!(
                                    arrivals[i + 1].load(SeqCst),
                                    0,
                                    "cycle {} passed without us",
                                    i + 1
                                );
                            }
                            if i % 7 == 0 {
                                corral::yield_now().await;
                            }
                        }
                        leads
                    })
                })
                .collect();
            let mut leads = 0;
            for t in tasks {
                leads += t.await.unwrap();
            }
            assert_eq!(leads, cycles);
            for (i, a) in arrivals.iter().enumerate() {
                assert_eq!(a.load(SeqCst), parties, "cycle {i}");
            }
            assert_eq!(b.statistics().cycles, cycles as u64);
        });
    });
}

#[test]
fn eight_os_threads_mixed_with_tasks() {
    run_with_timeout("barrier_threads", 60, || {
        let threads = 8;
        let tasks = 4;
        let parties = threads + tasks;
        let cycles = stress();
        let b = Arc::new(Barrier::new(parties));
        let log = Arc::new(StdMutex::new(vec![Vec::new(); cycles]));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (b, log) = (b.clone(), log.clone());
                std::thread::spawn(move || {
                    for i in 0..cycles {
                        let r = b.blocking_wait().unwrap();
                        log.lock().unwrap()[i].push(r);
                    }
                })
            })
            .collect();
        multi(2).block_on(async {
            let ts: Vec<_> = (0..tasks)
                .map(|_| {
                    let (b, log) = (b.clone(), log.clone());
                    corral::spawn(async move {
                        for i in 0..cycles {
                            let r = b.wait().await.unwrap();
                            log.lock().unwrap()[i].push(r);
                        }
                    })
                })
                .collect();
            for t in ts {
                t.await.unwrap();
            }
        });
        for h in handles {
            h.join().unwrap();
        }
        for rs in log.lock().unwrap().drain(..) {
            assert_eq!(rs.len(), parties);
            check_cycle(rs);
        }
    });
}

#[test]
fn arrivals_during_a_slow_action_wait_for_the_next_cycle() {
    run_with_timeout("barrier_slow_action", 60, || {
        let parties = 2;
        let threads = 4;
        let per = 50;
        let in_action = Arc::new(AtomicBool::new(false));
        let ia = in_action.clone();
        let b = Arc::new(Barrier::with_action(parties, move || {
            // One action at a time: the next cycle waits for this one.
            assert!(!ia.swap(true, SeqCst), "two actions ran at once");
            std::thread::sleep(Duration::from_micros(200));
            ia.store(false, SeqCst);
        }));
        // Arrival tickets, shared: whoever is free takes the next, so the
        // arrivals always pair up (a fixed count per thread could leave
        // one thread alone at the end).
        let tickets = Arc::new(AtomicUsize::new(threads * per));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (b, tickets) = (b.clone(), tickets.clone());
                std::thread::spawn(move || {
                    let mut leads = 0;
                    while tickets.fetch_update(SeqCst, SeqCst, |t| t.checked_sub(1)).is_ok() {
                        let r = b.blocking_wait().unwrap();
                        leads += r.is_leader as usize;
                    }
                    leads
                })
            })
            .collect();
        let leads: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(leads, threads * per / parties);
        assert_eq!(b.statistics().cycles, (threads * per / parties) as u64);
        assert_eq!(b.statistics().tasks_waiting, 0);
    });
}

#[test]
fn under_a_foreign_executor_and_a_tokio_runtime() {
    run_with_timeout("barrier_foreign", 60, || {
        let cycles = stress();
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let b = Arc::new(Barrier::new(6));
        let count = Arc::new(AtomicUsize::new(0));
        // 3 tokio tasks, 2 corral tasks, 1 hand-rolled executor thread.
        let tokio_side: Vec<_> = (0..3)
            .map(|_| {
                let (b, count) = (b.clone(), count.clone());
                tokio_rt.spawn(async move {
                    for _ in 0..cycles {
                        if b.wait().await.unwrap().is_leader {
                            count.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        let (b2, c2) = (b.clone(), count.clone());
        let foreign = std::thread::spawn(move || {
            foreign_block_on(async move {
                for _ in 0..cycles {
                    if b2.wait().await.unwrap().is_leader {
                        c2.fetch_add(1, SeqCst);
                    }
                }
            })
        });
        multi(2).block_on(async {
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let (b, count) = (b.clone(), count.clone());
                    corral::spawn(async move {
                        for _ in 0..cycles {
                            if b.wait().await.unwrap().is_leader {
                                count.fetch_add(1, SeqCst);
                            }
                        }
                    })
                })
                .collect();
            for t in ts {
                t.await.unwrap();
            }
        });
        tokio_rt.block_on(async {
            for t in tokio_side {
                t.await.unwrap();
            }
        });
        foreign.join().unwrap();
        assert_eq!(count.load(SeqCst), cycles);
    });
}

#[test]
fn blocking_wait_on_a_runtime_thread_is_refused() {
    let rt = current();
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { Barrier::new(2).blocking_wait() })
    }));
    let msg = refused.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.contains("Barrier::blocking_wait"), "{msg}");
}

#[test]
fn a_party_arriving_during_the_action_waits_and_an_abort_then_spares_the_cycle() {
    run_with_timeout("barrier_enter_during_action", 30, || {
        let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (entered_tx, go_rx) = (StdMutex::new(entered_tx), StdMutex::new(go_rx));
        let b = Arc::new(Barrier::with_action(2, move || {
            entered_tx.lock().unwrap().send(()).unwrap();
            go_rx.lock().unwrap().recv().unwrap();
        }));
        let pair: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || b.blocking_wait())
            })
            .collect();
        entered_rx.recv().unwrap(); // the action runs now
        let b3 = b.clone();
        let late = std::thread::spawn(move || b3.blocking_wait());
        // The late party is queued but not counted: the cycle is complete.
        while b.statistics().tasks_waiting != 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(b.n_waiting(), 0);
        b.abort();
        go_tx.send(()).unwrap();
        let mut rs: Vec<_> = pair.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
        rs.sort_by_key(|r| r.index);
        check_cycle(rs);
        assert_eq!(late.join().unwrap().unwrap_err().cause(), BrokenCause::Aborted);
        assert_eq!(b.statistics().cycles, 1);
    });
}

#[test]
fn a_timeout_expiring_during_its_cycles_action_does_not_count() {
    run_with_timeout("barrier_timeout_held", 30, || {
        let b = Arc::new(Barrier::with_action(3, || {
            std::thread::sleep(Duration::from_millis(150))
        }));
        let b1 = b.clone();
        let blocking = std::thread::spawn(move || b1.blocking_wait_timeout(Duration::from_millis(40)));
        while b.n_waiting() != 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let rt = multi(2);
        let b2 = b.clone();
        let task = rt.spawn(async move { b2.wait_timeout(Duration::from_millis(40)).await });
        while b.n_waiting() != 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The last arrival runs the 150 ms action; both timeouts expire
        // meanwhile, after their cycle completed.
        let leader = b.blocking_wait().unwrap();
        let r1 = blocking.join().unwrap().unwrap();
        let r2 = rt.block_on(task).unwrap().unwrap();
        check_cycle(vec![leader, r1, r2]);
        assert!(!b.is_broken());
    });
}

#[test]
fn barrier_and_its_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let b = Barrier::new(2);
    send_sync(&b);
    send_sync(&b.wait());
    send_sync(&b.wait_timeout(Duration::from_secs(1)));
    let e = BarrierTimeoutError::TimedOut;
    let _: &dyn std::error::Error = &e;
}
