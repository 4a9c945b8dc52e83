//! Event: semantics, set-then-clear before the waiters run, wakes limited
//! to the waiters present, FIFO, cancellation, timeouts, threads, foreign
//! executors, and a set/clear stress test sized by `CORRAL_STRESS`.

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress, Rng};
use corral::sync::{Event, EventTimeout, EventWait};
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

#[test]
fn set_clear_is_set_statistics_and_debug() {
    let ev = Event::new();
    let line = line!() - 1;
    assert!(!ev.is_set());
    let stats = ev.statistics();
    assert!(!stats.is_set);
    assert_eq!(stats.tasks_waiting, 0);
    assert_eq!(stats.created_at.line(), line);
    assert!(stats.created_at.file().ends_with("event.rs"));
    ev.set();
    assert!(ev.is_set() && ev.statistics().is_set);
    ev.set();
    assert!(ev.is_set());
    ev.clear();
    assert!(!ev.is_set());
    ev.clear();
    assert!(!ev.is_set());
    let dbg = format!("{ev:?}");
    assert!(
        dbg.starts_with("Event { is_set: false, tasks_waiting: 0"),
        "{dbg}"
    );
    let d = Event::default();
    assert!(!d.is_set());
    let err: EventTimeout = ev.blocking_wait_timeout(Duration::ZERO).unwrap_err();
    assert_eq!(err.to_string(), "timed out waiting for the event to be set");
}

#[test]
fn wait_on_a_set_event_is_ready_at_once_and_queues_nothing() {
    let ev = Event::new();
    ev.set();
    let mut w = pin!(ev.wait());
    assert_eq!(poll_once(w.as_mut()), Poll::Ready(()));
    assert_eq!(ev.statistics().tasks_waiting, 0);
    ev.blocking_wait();
    assert_eq!(ev.blocking_wait_timeout(Duration::from_secs(3600)), Ok(()));
}

#[test]
fn set_wakes_every_waiter() {
    run_with_timeout("set_wakes_all", 30, || {
        let rt = multi(2);
        rt.block_on(async {
            let ev = Arc::new(Event::new());
            let done = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..1000)
                .map(|_| {
                    let (ev, done) = (ev.clone(), done.clone());
                    corral::spawn(async move {
                        ev.wait().await;
                        done.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            while ev.statistics().tasks_waiting < 1000 {
                corral::yield_now().await;
            }
            assert_eq!(done.load(SeqCst), 0);
            ev.set();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(done.load(SeqCst), 1000);
            assert_eq!(ev.statistics().tasks_waiting, 0);
        });
    });
}

/// The rule: a waiter that was waiting when `set` ran completes
/// even if `clear` runs before it is polled (more waiters than one wake
/// chunk, so the later chunks are woken after the clear too).
#[test]
fn waiters_present_at_set_complete_even_if_cleared_before_they_run() {
    // Hand-polled futures: nothing runs between set, clear and the polls.
    let ev = Event::new();
    let mut waits: Vec<_> = (0..100).map(|_| Box::pin(ev.wait())).collect();
    for w in &mut waits {
        assert!(poll_once(w.as_mut()).is_pending());
    }
    assert_eq!(ev.statistics().tasks_waiting, 100);
    ev.set();
    ev.clear();
    for w in &mut waits {
        assert_eq!(
            poll_once(w.as_mut()),
            Poll::Ready(()),
            "a waiter present at set missed it"
        );
    }
    // A wait that starts after the clear waits for the next set.
    let mut late = pin!(ev.wait());
    assert!(poll_once(late.as_mut()).is_pending());
    ev.set();
    assert_eq!(poll_once(late.as_mut()), Poll::Ready(()));

    // The same with tasks on a current-thread runtime: the set and the
    // clear run before any woken task is polled.
    current().block_on(async {
        let ev = Arc::new(Event::new());
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let ev = ev.clone();
                corral::spawn(async move { ev.wait().await })
            })
            .collect();
        settle().await;
        assert_eq!(ev.statistics().tasks_waiting, 100);
        ev.set();
        ev.clear();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// A waker that runs a hook the first time it is woken (between two of
/// `set`'s wake chunks, outside the lock).
struct HookWaker(StdMutex<Option<Box<dyn FnOnce() + Send>>>);

impl Wake for HookWaker {
    fn wake(self: Arc<Self>) {
        if let Some(hook) = self.0.lock().unwrap().take() {
            hook();
        }
    }
}

/// `set` wakes in chunks, releasing the lock between them. A waiter that
/// queues after a `clear` that ran between two chunks is not woken by that
/// `set` (it started waiting after the event was cleared); the waiters
/// that were present are all woken.
#[test]
fn a_set_in_progress_does_not_wake_a_waiter_that_came_after_a_clear() {
    let ev: &'static Event = Box::leak(Box::new(Event::new()));
    let late: Arc<StdMutex<Option<Pin<Box<EventWait<'static>>>>>> = Arc::new(StdMutex::new(None));
    let l = late.clone();
    let hook = HookWaker(StdMutex::new(Some(Box::new(move || {
        ev.clear();
        let mut w = Box::pin(ev.wait());
        assert!(poll_once(w.as_mut()).is_pending());
        *l.lock().unwrap() = Some(w);
    }))));
    let hook = Waker::from(Arc::new(hook));
    let mut waits: Vec<_> = (0..100).map(|_| Box::pin(ev.wait())).collect();
    assert!(waits[0]
        .as_mut()
        .poll(&mut Context::from_waker(&hook))
        .is_pending());
    for w in &mut waits[1..] {
        assert!(poll_once(w.as_mut()).is_pending());
    }
    ev.set();
    assert!(!ev.is_set(), "the hook did not run");
    for w in &mut waits {
        assert_eq!(poll_once(w.as_mut()), Poll::Ready(()));
    }
    let mut late = late.lock().unwrap().take().unwrap();
    assert!(
        poll_once(late.as_mut()).is_pending(),
        "a waiter that queued after the clear was woken by the earlier set"
    );
    assert_eq!(ev.statistics().tasks_waiting, 1);
    ev.set();
    assert_eq!(poll_once(late.as_mut()), Poll::Ready(()));
}

#[test]
fn waiters_are_woken_in_fifo_order() {
    run_with_timeout("waiters_are_woken_in_fifo_order", 30, || {
        current().block_on(async {
            let ev = Arc::new(Event::new());
            let order = Arc::new(StdMutex::new(Vec::new()));
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let (ev, order) = (ev.clone(), order.clone());
                    corral::spawn(async move {
                        ev.wait().await;
                        order.lock().unwrap().push(i);
                    })
                })
                .collect();
            settle().await;
            ev.set();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        });
    });
}

#[test]
fn a_cancelled_waiter_leaves_the_queue_and_others_still_wake() {
    let ev = Event::new();
    let mut a = Box::pin(ev.wait());
    let mut b = Box::pin(ev.wait());
    let mut c = Box::pin(ev.wait());
    for w in [&mut a, &mut b, &mut c] {
        assert!(poll_once(w.as_mut()).is_pending());
    }
    assert_eq!(ev.statistics().tasks_waiting, 3);
    drop(b);
    assert_eq!(ev.statistics().tasks_waiting, 2);
    ev.set();
    assert_eq!(poll_once(a.as_mut()), Poll::Ready(()));
    // Woken, then dropped without being polled: nothing to hand on.
    drop(c);
    assert_eq!(ev.statistics().tasks_waiting, 0);

    // Aborted tasks on a runtime.
    current().block_on(async {
        let ev = Arc::new(Event::new());
        let e = ev.clone();
        let aborted = corral::spawn(async move { e.wait().await });
        let e = ev.clone();
        let kept = corral::spawn(async move { e.wait().await });
        settle().await;
        aborted.abort();
        settle().await;
        assert_eq!(ev.statistics().tasks_waiting, 1);
        ev.set();
        kept.await.unwrap();
        assert!(aborted.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn a_waiter_polled_by_a_new_waker_is_woken_through_it() {
    run_with_timeout("a_waiter_polled_by_a_new_waker_is_woken_through_it", 30, || {
        current().block_on(async {
            let ev = Arc::new(Event::new());
            let e = ev.clone();
            let mut w: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move { e.wait().await });
            assert!(poll_once(w.as_mut()).is_pending());
            // Move the future into a task: its waker changes.
            let task = corral::spawn(w);
            settle().await;
            assert_eq!(ev.statistics().tasks_waiting, 1);
            ev.set();
            task.await.unwrap();
        });
    });
}

#[test]
fn wait_timeout_times_out_then_succeeds() {
    run_with_timeout("wait_timeout_times_out_then_succeeds", 30, || {
        current().block_on(async {
            let ev = Arc::new(Event::new());
            let err = ev.wait_timeout(Duration::from_millis(10)).await.unwrap_err();
            assert_eq!(err.to_string(), "timed out waiting for the event to be set");
            assert_eq!(
                ev.statistics().tasks_waiting,
                0,
                "a timed-out waiter stayed queued"
            );
            let e = ev.clone();
            let waiter = corral::spawn(async move { e.wait_timeout(Duration::from_secs(30)).await });
            settle().await;
            ev.set();
            assert_eq!(waiter.await.unwrap(), Ok(()));
            // Set: no timer involved.
            assert_eq!(ev.wait_timeout(Duration::ZERO).await, Ok(()));
        });
    });
}

#[test]
fn blocking_waits_with_timeout_and_refusal_on_workers() {
    run_with_timeout("event_blocking", 20, || {
        let ev = Arc::new(Event::new());
        assert!(ev.blocking_wait_timeout(Duration::from_millis(10)).is_err());
        assert_eq!(ev.statistics().tasks_waiting, 0);
        let e = ev.clone();
        let t = std::thread::spawn(move || e.blocking_wait_timeout(Duration::from_secs(30)));
        while ev.statistics().tasks_waiting == 0 {
            std::thread::yield_now();
        }
        ev.set();
        assert_eq!(t.join().unwrap(), Ok(()));
        ev.clear();
        // Refused on a worker thread, even on a set event: a panic in that
        // task only.
        ev.set();
        let rt = multi(1);
        let e = ev.clone();
        let r = rt.block_on(rt.spawn(async move { e.blocking_wait() }));
        assert!(r.unwrap_err().is_panic());
        // From run_sync: fine.
        let e = ev.clone();
        rt.block_on(async move { corral::run_sync(move || e.blocking_wait()).await })
            .unwrap();
    });
}

#[test]
fn eight_threads_mixed_with_tasks_and_a_foreign_executor() {
    run_with_timeout("event_mixed", 60, || {
        let rt = multi(2);
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        for _ in 0..stress().min(50) {
            let ev = Arc::new(Event::new());
            let threads: Vec<_> = (0..8)
                .map(|i| {
                    let ev = ev.clone();
                    std::thread::spawn(move || {
                        if i % 2 == 0 {
                            ev.blocking_wait();
                        } else {
                            foreign_block_on(ev.wait());
                        }
                    })
                })
                .collect();
            let tokio_tasks: Vec<_> = (0..8)
                .map(|_| {
                    let ev = ev.clone();
                    tokio_rt.spawn(async move { ev.wait().await })
                })
                .collect();
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let ev = ev.clone();
                    rt.spawn(async move { ev.wait().await })
                })
                .collect();
            // Everyone waits before the set (a clear right after it would
            // hold back a waiter that had not started yet).
            while ev.statistics().tasks_waiting < 24 {
                std::thread::yield_now();
            }
            ev.set();
            ev.clear();
            for t in threads {
                t.join().unwrap();
            }
            for t in tasks {
                rt.block_on(t).unwrap();
            }
            for t in tokio_tasks {
                tokio_rt.block_on(t).unwrap();
            }
        }
    });
}

/// Rounds of waiters (some cancelled at random) released by a set that is
/// cleared at once; no waiter hangs, none is left queued.
#[test]
fn stress_set_clear_with_cancellation() {
    run_with_timeout("event_stress", 60, || {
        let rt = multi(2);
        let mut rng = Rng(0x5eed_e7e7);
        rt.block_on(async {
            for _ in 0..stress() {
                let ev = Arc::new(Event::new());
                let mut tasks = Vec::new();
                for _ in 0..40 {
                    let e = ev.clone();
                    tasks.push(corral::spawn(async move { e.wait().await }));
                }
                while ev.statistics().tasks_waiting < 40 {
                    corral::yield_now().await;
                }
                // Cancel one, possibly while the set is waking it.
                let cancel = rng.below(40) as usize;
                let abort = tasks[cancel].abort_handle();
                let canceller = corral::spawn(async move { abort.abort() });
                for _ in 0..rng.below(3) {
                    corral::yield_now().await;
                }
                ev.set();
                ev.clear();
                for (i, t) in tasks.into_iter().enumerate() {
                    match t.await {
                        Ok(()) => {}
                        Err(e) => assert!(i == cancel && e.is_cancelled()),
                    }
                }
                canceller.await.unwrap();
                assert_eq!(ev.statistics().tasks_waiting, 0);
            }
        });
    });
}

#[test]
fn event_and_its_future_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let ev = Event::new();
    send_sync(&ev);
    send_sync(&ev.wait());
    send_sync(&ev.statistics());
    let t = ev.wait_timeout(Duration::ZERO);
    fn send<T: Send>(_: &T) {}
    send(&t);
}
