//! Notify: the stored permit, FIFO `notify_one`, `notify_waiters` (and
//! futures created before it), `enable`, cancellation passing a
//! notification on, blocking threads mixed with tasks, foreign executors.

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress, Rng};
use corral::sync::{Notify, NotifyTimeout};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

async fn settle() {
    for _ in 0..20 {
        corral::yield_now().await;
    }
}

#[test]
fn notify_one_without_waiters_stores_one_permit() {
    current().block_on(async {
        let n = Notify::new();
        assert!(!n.statistics().permit_stored);
        n.notify_one();
        n.notify_one();
        assert!(n.statistics().permit_stored);
        n.notified().await; // the permit
        assert!(!n.statistics().permit_stored);
        let mut second = pin!(n.notified());
        assert!(
            poll_once(second.as_mut()).is_pending(),
            "two notify_one stored two permits"
        );
        assert_eq!(n.statistics().tasks_waiting, 1);
        n.notify_one();
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(()));
        // Polled again after completion: still ready, nothing consumed.
        n.notify_one();
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(()));
        assert!(n.statistics().permit_stored);
        assert!(n.statistics().created_at.file().ends_with("notify.rs"));
        assert!(format!("{n:?}").starts_with("Notify { permit: true"));
    });
}

#[test]
fn notify_one_wakes_waiters_first_come_first_served() {
    current().block_on(async {
        let n = Arc::new(Notify::new());
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (n, order) = (n.clone(), order.clone());
            tasks.push(corral::spawn(async move {
                n.notified().await;
                order.lock().unwrap().push(i);
            }));
            settle().await;
        }
        assert_eq!(n.statistics().tasks_waiting, 4);
        for k in 0..4 {
            n.notify_one();
            settle().await;
            assert_eq!(
                order.lock().unwrap().len(),
                k + 1,
                "notify_one woke more or less than one"
            );
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
        assert!(!n.statistics().permit_stored);
    });
}

#[test]
fn notify_waiters_wakes_everyone_registered_and_stores_nothing() {
    current().block_on(async {
        let n = Arc::new(Notify::new());
        let woken = Arc::new(AtomicUsize::new(0));
        // More waiters than one wake batch holds.
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (n, woken) = (n.clone(), woken.clone());
                corral::spawn(async move {
                    n.notified().await;
                    woken.fetch_add(1, SeqCst);
                })
            })
            .collect();
        settle().await;
        assert_eq!(n.statistics().tasks_waiting, 100);
        // Created before the call but never polled: reached too.
        let early = n.notified();
        n.notify_waiters();
        // Created after: not reached.
        let mut late = pin!(n.notified());
        assert!(poll_once(late.as_mut()).is_pending());
        early.await;
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(woken.load(SeqCst), 100);
        assert!(!n.statistics().permit_stored, "notify_waiters stored a permit");
        assert_eq!(n.statistics().tasks_waiting, 1);
        n.notify_one();
        late.await;
    });
}

#[test]
fn enable_registers_so_a_check_then_wait_loses_nothing() {
    current().block_on(async {
        let n = Notify::new();
        let mut w = pin!(n.notified());
        assert!(!w.as_mut().enable());
        assert_eq!(n.statistics().tasks_waiting, 1);
        n.notify_one(); // chooses the enabled future, stores nothing
        assert!(!n.statistics().permit_stored);
        assert!(w.as_mut().enable(), "enable reports the notification");
        w.await;
        // enable takes a stored permit.
        n.notify_one();
        let mut w = pin!(n.notified());
        assert!(w.as_mut().enable());
        assert!(!n.statistics().permit_stored);
        w.await;
    });
}

#[test]
fn a_cancelled_chosen_waiter_passes_the_notification_on() {
    current().block_on(async {
        let n = Arc::new(Notify::new());
        let mut chosen = Box::pin(n.notified());
        assert!(poll_once(chosen.as_mut()).is_pending());
        let n2 = n.clone();
        let next = corral::spawn(async move { n2.notified().await });
        settle().await;
        n.notify_one(); // chooses `chosen`
        drop(chosen); // never polled after: passes it on
        settle().await;
        assert!(
            next.is_finished(),
            "the notification was lost with the cancelled waiter"
        );
        next.await.unwrap();
        // With nobody behind it, it becomes the permit.
        let mut chosen = Box::pin(n.notified());
        assert!(poll_once(chosen.as_mut()).is_pending());
        n.notify_one();
        drop(chosen);
        assert!(n.statistics().permit_stored);
        // A broadcast is not passed on.
        n.notified().await;
        let mut a = Box::pin(n.notified());
        assert!(poll_once(a.as_mut()).is_pending());
        n.notify_waiters();
        drop(a);
        assert!(!n.statistics().permit_stored);
        // An unchosen waiter that leaves takes nothing.
        let mut b = Box::pin(n.notified());
        assert!(poll_once(b.as_mut()).is_pending());
        drop(b);
        assert_eq!(n.statistics().tasks_waiting, 0);
        n.notify_one();
        assert!(n.statistics().permit_stored);
    });
}

#[test]
fn cancellation_at_random_loses_no_notification() {
    // Polled by hand on a plain thread (no task budget in the way).
    {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..stress() {
            let n = Notify::new();
            let k = 1 + rng.below(20) as usize;
            let m = rng.below(k as u64 + 3) as usize; // sometimes more than waiters
            let mut ws: Vec<_> = (0..k).map(|_| Box::pin(n.notified())).collect();
            for w in &mut ws {
                assert!(poll_once(w.as_mut()).is_pending());
            }
            for _ in 0..m {
                n.notify_one();
            }
            // Drop a random subset.
            let mut kept = Vec::new();
            for w in ws {
                if rng.below(2) == 0 {
                    kept.push(w);
                }
            }
            let mut ready = 0;
            for w in &mut kept {
                ready += poll_once(w.as_mut()).is_ready() as usize;
            }
            let permit = n.statistics().permit_stored as usize;
            // Every notification reached a kept waiter, or (beyond them)
            // collapsed into the one permit.
            let expect = m.min(kept.len());
            assert_eq!(ready, expect, "round {round}: k={k} m={m} kept={}", kept.len());
            assert_eq!(permit, (m > kept.len()) as usize, "round {round}");
        }
    }
}

#[test]
fn blocking_notified_and_its_timeout() {
    run_with_timeout("notify_blocking", 30, || {
        let n = Arc::new(Notify::new());
        let err: NotifyTimeout = n.blocking_notified_timeout(Duration::from_millis(5)).unwrap_err();
        assert_eq!(err.to_string(), "timed out waiting for a notification");
        assert_eq!(n.statistics().tasks_waiting, 0);
        let n2 = n.clone();
        let t = std::thread::spawn(move || n2.blocking_notified_timeout(Duration::from_secs(10)));
        while n.statistics().tasks_waiting == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        n.notify_one();
        t.join().unwrap().unwrap();
        n.notify_one();
        n.blocking_notified();
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            current().block_on(async { n.blocking_notified() })
        }));
        assert!(refused.is_err());
    });
}

#[test]
fn eight_os_threads_and_tasks_receive_every_notification_once() {
    run_with_timeout("notify_threads", 60, || {
        let per = stress();
        let threads = 8;
        let tasks = 4;
        let total = (threads + tasks) * per;
        let n = Arc::new(Notify::new());
        let got = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let (n, got) = (n.clone(), got.clone());
                std::thread::spawn(move || {
                    for _ in 0..per {
                        n.blocking_notified();
                        got.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        let rt = multi(2);
        let ts: Vec<_> = (0..tasks)
            .map(|_| {
                let (n, got) = (n.clone(), got.clone());
                rt.spawn(async move {
                    for _ in 0..per {
                        n.notified().await;
                        got.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        // Only this thread stores permits, and only when none is stored:
        // each notify_one is then received exactly once.
        let mut sent = 0;
        while sent < total {
            if !n.statistics().permit_stored {
                n.notify_one();
                sent += 1;
            } else {
                std::thread::yield_now();
            }
        }
        for h in hs {
            h.join().unwrap();
        }
        rt.block_on(async {
            for t in ts {
                t.await.unwrap();
            }
        });
        assert_eq!(got.load(SeqCst), total);
        assert!(!n.statistics().permit_stored);
    });
}

#[test]
fn ping_pong_under_tokio_and_a_foreign_executor() {
    run_with_timeout("notify_foreign", 60, || {
        let rounds = stress() * 5;
        let ping = Arc::new(Notify::new());
        let pong = Arc::new(Notify::new());
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let (pi, po) = (ping.clone(), pong.clone());
        let tokio_side = tokio_rt.spawn(async move {
            for _ in 0..rounds {
                pi.notified().await;
                po.notify_one();
            }
        });
        let (pi, po) = (ping.clone(), pong.clone());
        let foreign = std::thread::spawn(move || {
            foreign_block_on(async move {
                for _ in 0..rounds {
                    pi.notify_one();
                    po.notified().await;
                }
            })
        });
        foreign.join().unwrap();
        tokio_rt.block_on(tokio_side).unwrap();
        // And between two corral tasks on two workers.
        multi(2).block_on(async {
            let (pi, po) = (ping.clone(), pong.clone());
            let other = corral::spawn(async move {
                for _ in 0..rounds {
                    pi.notified().await;
                    po.notify_one();
                }
            });
            for _ in 0..rounds {
                ping.notify_one();
                pong.notified().await;
            }
            other.await.unwrap();
        });
    });
}

#[test]
fn notify_and_notified_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let n = Notify::default();
    send_sync(&n);
    send_sync(&n.notified());
}
