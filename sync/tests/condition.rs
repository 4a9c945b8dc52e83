//! Condition: semantics, FIFO notify, notifications not stored, notify_all
//! limited to the waiters present, cancellation passing notifications and
//! the lock on, a guard of another mutex, timeouts, threads, foreign
//! executors, and a producer/consumer stress test with cancelled consumers
//! (sized by `CORRAL_STRESS`).

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress, Rng};
use corral::sync::{Condition, MutexGuard};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

type WaitFut<'a, T> = Pin<Box<dyn Future<Output = MutexGuard<'a, T>> + Send + 'a>>;

/// A hand-polled `wait` on `c`: locks (must be free), polls once (queued,
/// lock released).
fn queued_wait<T: Send>(c: &Condition<T>) -> WaitFut<'_, T> {
    let g = c.mutex().try_lock().expect("the lock is free");
    let mut w: WaitFut<'_, T> = Box::pin(c.wait(g));
    assert!(poll_once(w.as_mut()).is_pending());
    w
}

#[test]
fn basics_statistics_and_debug() {
    let c = Condition::new(1);
    let line = line!() - 1;
    let stats = c.statistics();
    assert_eq!(stats.tasks_waiting, 0);
    assert!(!stats.lock_statistics.locked);
    assert_eq!(stats.created_at.line(), line);
    assert_eq!(
        stats.lock_statistics.created_at.line(),
        line,
        "the mutex records the caller too"
    );
    assert_eq!(c.created_at().line(), line);
    *c.blocking_lock() += 1;
    {
        let _g = c.mutex().try_lock().unwrap();
        assert!(c.statistics().lock_statistics.locked);
    }
    let dbg = format!("{c:?}");
    assert!(dbg.starts_with("Condition { mutex: Mutex { data: 2"), "{dbg}");
    let mut c = c;
    *c.get_mut() += 1;
    assert_eq!(c.into_inner(), 3);
    let d: Condition<Vec<u8>> = Condition::default();
    assert!(d.into_inner().is_empty());
}

#[test]
fn wait_releases_the_lock_and_returns_holding_it() {
    run_with_timeout("wait_releases_the_lock_and_returns_holding_it", 30, || {
        current().block_on(async {
            let c = Arc::new(Condition::new(0));
            let c2 = c.clone();
            let waiter = corral::spawn(async move {
                let g = c2.lock().await;
                let g = c2.wait(g).await;
                assert!(c2.mutex().try_lock().is_err(), "returned without the lock");
                *g
            });
            settle().await;
            // The waiter released the lock while waiting.
            let mut g = c
                .mutex()
                .try_lock()
                .expect("the waiter kept the lock while waiting");
            assert_eq!(c.statistics().tasks_waiting, 1);
            *g = 7;
            assert!(c.notify_one());
            settle().await;
            // Notified, but the lock is ours: it waits in the Mutex's queue.
            assert_eq!(c.statistics().tasks_waiting, 0);
            assert_eq!(c.statistics().lock_statistics.tasks_waiting, 1);
            drop(g);
            assert_eq!(waiter.await.unwrap(), 7);
        });
    });
}

#[test]
fn wait_while_has_std_polarity() {
    run_with_timeout("wait_while_has_std_polarity", 30, || {
        current().block_on(async {
            let c = Arc::new(Condition::new(VecDeque::new()));
            // False at once: returns without waiting.
            c.lock().await.push_back(0);
            let g = c.wait_while(c.lock().await, |q| q.is_empty()).await;
            assert_eq!(g.len(), 1);
            drop(g);
            c.lock().await.clear();
            let c2 = c.clone();
            let consumer = corral::spawn(async move {
                let mut q = c2.wait_while(c2.lock().await, |q| q.is_empty()).await;
                q.pop_front().unwrap()
            });
            settle().await;
            // A notify with the predicate still true: it waits again.
            c.notify_all();
            settle().await;
            assert_eq!(c.statistics().tasks_waiting, 1);
            c.lock().await.push_back(42);
            c.notify_all();
            assert_eq!(consumer.await.unwrap(), 42);
        });
    });
}

#[test]
fn notify_wakes_in_fifo_order() {
    run_with_timeout("notify_wakes_in_fifo_order", 30, || {
        current().block_on(async {
            let c = Arc::new(Condition::new(()));
            let order = Arc::new(StdMutex::new(Vec::new()));
            let tasks: Vec<_> = (0..6)
                .map(|i| {
                    let (c, order) = (c.clone(), order.clone());
                    corral::spawn(async move {
                        let g = c.lock().await;
                        let _g = c.wait(g).await;
                        order.lock().unwrap().push(i);
                    })
                })
                .collect();
            settle().await;
            assert_eq!(c.statistics().tasks_waiting, 6);
            assert!(c.notify_one());
            settle().await;
            assert_eq!(*order.lock().unwrap(), [0]);
            assert_eq!(c.notify(2), 2);
            settle().await;
            assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
            assert_eq!(c.notify_all(), 3);
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
        });
    });
}

#[test]
fn notifications_are_not_stored() {
    let c = Condition::new(());
    assert_eq!(c.notify(3), 0);
    assert!(!c.notify_one());
    assert_eq!(c.notify_all(), 0);
    let mut w = queued_wait(&c);
    assert!(poll_once(w.as_mut()).is_pending(), "an earlier notify was stored");
    assert!(c.notify_one());
    assert!(poll_once(w.as_mut()).is_ready());
}

/// A waker that runs a hook the first time it is woken (between two wake
/// chunks, outside the condition's lock).
struct HookWaker(StdMutex<Option<Box<dyn FnOnce() + Send>>>);

impl Wake for HookWaker {
    fn wake(self: Arc<Self>) {
        if let Some(hook) = self.0.lock().unwrap().take() {
            hook();
        }
    }
}

#[test]
fn notify_all_wakes_only_the_waiters_present() {
    let c: &'static Condition<()> = Box::leak(Box::new(Condition::new(())));
    let late: Arc<StdMutex<Option<WaitFut<'static, ()>>>> = Arc::new(StdMutex::new(None));
    let l = late.clone();
    let hook = Waker::from(Arc::new(HookWaker(StdMutex::new(Some(Box::new(move || {
        *l.lock().unwrap() = Some(queued_wait(c));
    }))))));
    let g = c.mutex().try_lock().unwrap();
    let mut first: WaitFut<'static, ()> = Box::pin(c.wait(g));
    assert!(first.as_mut().poll(&mut Context::from_waker(&hook)).is_pending());
    let mut rest: Vec<_> = (0..99).map(|_| queued_wait(c)).collect();
    assert_eq!(c.notify_all(), 100);
    let mut late = late.lock().unwrap().take().expect("the hook did not run");
    assert_eq!(c.statistics().tasks_waiting, 1);
    // Each of the 100 gets the lock in turn.
    assert!(matches!(poll_once(first.as_mut()), Poll::Ready(_)));
    for w in &mut rest {
        assert!(matches!(poll_once(w.as_mut()), Poll::Ready(_)));
    }
    assert!(
        poll_once(late.as_mut()).is_pending(),
        "notify_all woke a waiter that came later"
    );
    assert!(c.notify_one());
    assert!(poll_once(late.as_mut()).is_ready());
}

/// The rule: a notified waiter that is cancelled before it runs
/// passes its notification on to the next waiter.
#[test]
fn a_notified_waiter_cancelled_while_queued_passes_the_notification_on() {
    let c = Condition::new(0);
    let a = queued_wait(&c);
    let mut b = queued_wait(&c);
    assert!(c.notify_one());
    drop(a); // woken, never polled
    match poll_once(b.as_mut()) {
        Poll::Ready(g) => assert_eq!(*g, 0),
        Poll::Pending => panic!("the notification was lost with the cancelled waiter"),
    }
    assert!(c.mutex().try_lock().is_ok());
    // With nobody left to pass it to, it is dropped (not stored).
    let a = queued_wait(&c);
    assert!(c.notify_one());
    drop(a);
    let mut later = queued_wait(&c);
    assert!(poll_once(later.as_mut()).is_pending());
    assert!(c.notify_one());
    assert!(poll_once(later.as_mut()).is_ready());
}

/// A waiter cancelled while re-locking (notified, queued on the Mutex, or
/// even handed the lock) loses neither the lock nor the notification.
#[test]
fn a_waiter_cancelled_while_relocking_passes_lock_and_notification_on() {
    let c = Condition::new(0);
    let mut a = queued_wait(&c);
    let mut b = queued_wait(&c);
    let held = c.mutex().try_lock().unwrap();
    assert!(c.notify_one());
    // a consumes the notification and queues for the lock.
    assert!(poll_once(a.as_mut()).is_pending());
    assert_eq!(c.statistics().tasks_waiting, 1);
    assert_eq!(c.statistics().lock_statistics.tasks_waiting, 1);
    // The lock is handed to a, which is then cancelled.
    drop(held);
    drop(a);
    assert_eq!(c.statistics().lock_statistics.tasks_waiting, 0);
    // b got a's notification, and the lock is free for it.
    match poll_once(b.as_mut()) {
        Poll::Ready(g) => assert_eq!(*g, 0),
        Poll::Pending => panic!("the notification was lost with the cancelled re-locker"),
    }
    assert!(c.mutex().try_lock().is_ok(), "the lock was lost");
}

#[test]
fn aborted_consumer_tasks_lose_no_notification() {
    run_with_timeout("aborted_consumer_tasks_lose_no_notification", 30, || {
        current().block_on(async {
            let c = Arc::new(Condition::new(VecDeque::new()));
            let consumer = |c: Arc<Condition<VecDeque<u32>>>| {
                corral::spawn(async move {
                    let mut q = c.wait_while(c.lock().await, |q| q.is_empty()).await;
                    q.pop_front().unwrap()
                })
            };
            let first = consumer(c.clone());
            let second = consumer(c.clone());
            settle().await;
            c.lock().await.push_back(1);
            c.notify_one(); // reaches `first` ...
            first.abort(); // ... which is cancelled before it runs
            assert_eq!(second.await.unwrap(), 1);
            assert!(first.await.unwrap_err().is_cancelled());
        });
    });
}

#[test]
fn a_guard_of_another_mutex_is_refused() {
    let a = Condition::new(0);
    let b = Condition::new(0);
    let gb = b.mutex().try_lock().unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(a.wait(gb));
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("Condition::wait: the guard is of another mutex"),
        "{msg}"
    );
    assert!(b.mutex().try_lock().is_ok(), "the refused guard kept its lock");
    let gb = b.mutex().try_lock().unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(a.blocking_wait(gb));
    }));
    assert!(err.is_err());
    assert!(b.mutex().try_lock().is_ok());
}

#[test]
fn wait_timeout_times_out_or_is_notified() {
    run_with_timeout("wait_timeout_times_out_or_is_notified", 30, || {
        current().block_on(async {
            let c = Arc::new(Condition::new(5));
            let (g, r) = c.wait_timeout(c.lock().await, Duration::from_millis(10)).await;
            assert!(r.timed_out());
            assert_eq!(*g, 5);
            drop(g);
            assert_eq!(
                c.statistics().tasks_waiting,
                0,
                "a timed-out waiter stayed queued"
            );
            let c2 = c.clone();
            let waiter = corral::spawn(async move {
                let (g, r) = c2.wait_timeout(c2.lock().await, Duration::from_secs(30)).await;
                (*g, r.timed_out())
            });
            settle().await;
            *c.lock().await = 6;
            c.notify_one();
            assert_eq!(waiter.await.unwrap(), (6, false));
        });
    });
}

#[test]
fn blocking_waits_timeouts_and_refusal_on_workers() {
    run_with_timeout("cond_blocking", 30, || {
        let c = Arc::new(Condition::new(0));
        let (g, r) = c.blocking_wait_timeout(c.blocking_lock(), Duration::from_millis(10));
        assert!(r.timed_out());
        drop(g);
        assert_eq!(c.statistics().tasks_waiting, 0);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || *c.blocking_wait_while(c.blocking_lock(), |n| *n == 0))
            })
            .collect();
        while c.statistics().tasks_waiting < 4 {
            std::thread::yield_now();
        }
        *c.blocking_lock() = 9;
        assert_eq!(c.notify_all(), 4);
        for t in threads {
            assert_eq!(t.join().unwrap(), 9);
        }
        let c2 = c.clone();
        let t = std::thread::spawn(move || {
            let (g, r) = c2.blocking_wait_timeout(c2.blocking_lock(), Duration::from_secs(30));
            (*g, r.timed_out())
        });
        while c.statistics().tasks_waiting == 0 {
            std::thread::yield_now();
        }
        c.notify_one();
        assert_eq!(t.join().unwrap(), (9, false));
        // Refused on a worker thread: a panic in that task only.
        let rt = multi(1);
        let c2 = c.clone();
        let r = rt.block_on(rt.spawn(async move {
            let g = c2.lock().await;
            drop(c2.blocking_wait(g));
        }));
        assert!(r.unwrap_err().is_panic());
        assert!(c.mutex().try_lock().is_ok());
    });
}

/// Producers push items and `notify_one` each; consumers are corral tasks
/// (some aborted at random), OS threads and futures on a foreign executor.
/// Every item is taken exactly once and nobody hangs.
#[test]
fn stress_producer_consumer_with_cancelled_consumers() {
    run_with_timeout("cond_stress", 90, || {
        let rt = multi(2);
        let items = stress() * 20;
        let c = Arc::new(Condition::new(VecDeque::<usize>::new()));
        let done = Arc::new(AtomicBool::new(false));
        let taken = Arc::new(AtomicUsize::new(0));
        let sum = Arc::new(AtomicUsize::new(0));
        // Consumes until `done` and empty.
        async fn consume(
            c: Arc<Condition<VecDeque<usize>>>,
            done: Arc<AtomicBool>,
            taken: Arc<AtomicUsize>,
            sum: Arc<AtomicUsize>,
        ) {
            loop {
                let mut q = c
                    .wait_while(c.lock().await, |q| q.is_empty() && !done.load(SeqCst))
                    .await;
                match q.pop_front() {
                    Some(v) => {
                        taken.fetch_add(1, SeqCst);
                        sum.fetch_add(v, SeqCst);
                    }
                    None => return,
                }
            }
        }
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (c, done, taken, sum) = (c.clone(), done.clone(), taken.clone(), sum.clone());
                std::thread::spawn(move || {
                    if i % 2 == 0 {
                        foreign_block_on(consume(c, done, taken, sum));
                        return;
                    }
                    loop {
                        let mut q =
                            c.blocking_wait_while(c.blocking_lock(), |q| q.is_empty() && !done.load(SeqCst));
                        match q.pop_front() {
                            Some(v) => {
                                taken.fetch_add(1, SeqCst);
                                sum.fetch_add(v, SeqCst);
                            }
                            None => return,
                        }
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let mut rng = Rng(0xc0_4d17);
            let mut consumers: Vec<_> = (0..8)
                .map(|_| corral::spawn(consume(c.clone(), done.clone(), taken.clone(), sum.clone())))
                .collect();
            let producers: Vec<_> = (0..2)
                .map(|p| {
                    let c = c.clone();
                    corral::spawn(async move {
                        for i in 0..items / 2 {
                            c.lock().await.push_back(p * (items / 2) + i + 1);
                            c.notify_one();
                            if i % 7 == 0 {
                                corral::yield_now().await;
                            }
                        }
                    })
                })
                .collect();
            // Abort consumers at random while items flow (a consumer may
            // be cancelled holding a notification); replace each.
            for _ in 0..20 {
                for _ in 0..rng.below(20) {
                    corral::yield_now().await;
                }
                let k = rng.below(consumers.len() as u64) as usize;
                consumers[k].abort();
                consumers.push(corral::spawn(consume(
                    c.clone(),
                    done.clone(),
                    taken.clone(),
                    sum.clone(),
                )));
            }
            for p in producers {
                p.await.unwrap();
            }
            done.store(true, SeqCst);
            {
                let _g = c.lock().await;
                c.notify_all();
            }
            for t in consumers {
                let _ = t.await; // finished, or aborted
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        // Aborted consumers took no item they did not count: an item is
        // counted in the same poll it is popped.
        assert!(c.mutex().try_lock().unwrap().is_empty());
        assert_eq!(taken.load(SeqCst), items);
        assert_eq!(sum.load(SeqCst), items * (items + 1) / 2);
        assert_eq!(c.statistics().tasks_waiting, 0);
    });
}

#[test]
fn tokio_tasks_wait_on_a_condition() {
    run_with_timeout("cond_tokio", 30, || {
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let c = Arc::new(Condition::new(0usize));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let c = c.clone();
                tokio_rt.spawn(async move {
                    let mut g = c.wait_while(c.lock().await, |n| *n == 0).await;
                    *g += 1;
                })
            })
            .collect();
        while c.statistics().tasks_waiting < 8 {
            std::thread::yield_now();
        }
        *c.blocking_lock() = 1;
        c.notify_all();
        for t in tasks {
            tokio_rt.block_on(t).unwrap();
        }
        assert_eq!(*c.blocking_lock(), 9);
    });
}

#[test]
fn condition_and_its_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>(_: &T) {}
    let c = Condition::new(0u32);
    send(&c);
    sync(&c);
    let g = c.mutex().try_lock().unwrap();
    let w = c.wait(g);
    send(&w);
    drop(w);
    let w = c.wait_while(c.mutex().try_lock().unwrap(), |n| *n == 0);
    send(&w);
    drop(w);
    let w = c.wait_timeout(c.mutex().try_lock().unwrap(), Duration::ZERO);
    send(&w);
    drop(w);
    send(&c.lock());
    // Not polled: dropping them released each guard.
    assert!(c.mutex().try_lock().is_ok());
}

#[test]
fn a_condition_is_its_wait_queue_and_its_mutex() {
    // The creation site lives once, in the mutex's word (which the
    // condition's `created_at` reads): beside the mutex there is only the
    // wait queue (a lock, a ticket counter and a wait list: 32 bytes).
    let mutex = std::mem::size_of::<corral::sync::Mutex<u64>>();
    let condition = std::mem::size_of::<Condition<u64>>();
    let queue = condition - mutex;
    assert!(
        queue <= 32,
        "Condition<u64> is {condition} bytes: {mutex} for its mutex and {queue} beside it"
    );
}
