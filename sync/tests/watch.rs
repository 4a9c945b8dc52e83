//! watch: semantics, every error, the last value always seen, `wait_for`,
//! cancellation, 8 OS threads mixed with tasks, a foreign executor, and a
//! stress sized by `CORRAL_STRESS`.

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress};
use corral::sync::watch::{
    self,
    error::{RecvError, RecvTimeoutError, SendError},
    WatchStream,
};
use futures_core::Stream;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[test]
fn send_borrow_and_seen_versions() {
    let (tx, mut rx) = watch::channel(0);
    assert_eq!(*rx.borrow(), 0);
    assert_eq!(rx.has_changed(), Ok(false));
    tx.send(1).unwrap();
    assert_eq!(rx.has_changed(), Ok(true));
    {
        let r = rx.borrow();
        assert_eq!((*r, r.has_changed()), (1, true));
    }
    assert_eq!(rx.has_changed(), Ok(true), "borrow marks nothing seen");
    {
        let r = rx.borrow_and_update();
        assert_eq!((*r, r.has_changed()), (1, true));
    }
    assert_eq!(rx.has_changed(), Ok(false));
    assert!(!rx.borrow_and_update().has_changed());
    assert_eq!(tx.send_replace(2), 1);
    tx.send_modify(|v| *v += 1);
    assert_eq!(*tx.borrow(), 3);
    assert!(!tx.borrow().has_changed());
    assert!(!tx.send_if_modified(|_| false));
    assert_eq!(
        tx.statistics().version,
        3,
        "an unmodified send_if_modified is no change"
    );
    assert!(tx.send_if_modified(|v| {
        *v = 10;
        true
    }));
    assert_eq!(*rx.borrow_and_update(), 10);
    rx.mark_changed();
    assert_eq!(rx.has_changed(), Ok(true));
    rx.mark_unchanged();
    assert_eq!(rx.has_changed(), Ok(false));
}

#[test]
fn changed_returns_at_once_for_an_unseen_value_and_waits_otherwise() {
    current().block_on(async {
        let (tx, mut rx) = watch::channel("a");
        {
            let mut fut = pin!(rx.changed());
            assert!(poll_once(fut.as_mut()).is_pending());
        }
        tx.send("b").unwrap();
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), "b");
        let t = corral::spawn(async move {
            rx.changed().await.unwrap();
            *rx.borrow_and_update()
        });
        corral::yield_now().await;
        assert_eq!(tx.statistics().tasks_waiting, 1);
        tx.send("c").unwrap();
        assert_eq!(t.await.unwrap(), "c");
        assert_eq!(tx.statistics().tasks_waiting, 0);
    });
}

#[test]
fn every_error() {
    current().block_on(async {
        // send without receivers hands the value back and stores nothing.
        let (tx, rx) = watch::channel(0);
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(5), Err(SendError(5)));
        assert_eq!(tx.send(5).unwrap_err().into_inner(), 5);
        assert_eq!(*tx.borrow(), 0);
        assert_eq!(
            SendError(()).to_string(),
            "watch channel closed: every receiver was dropped"
        );
        // send_replace stores anyway; a later subscriber sees it.
        tx.send_replace(6);
        let rx = tx.subscribe();
        assert_eq!((*rx.borrow(), rx.has_changed()), (6, Ok(false)));
        assert!(!tx.is_closed());

        // The last sender dropped: an unseen value is still reported.
        let (tx, mut rx) = watch::channel(0);
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        drop(tx);
        assert_eq!(rx.has_changed(), Ok(true), "one sender is still alive");
        drop(tx2);
        assert_eq!(rx.has_changed(), Ok(true), "the last value is unseen");
        assert_eq!(rx.changed().await, Ok(()));
        assert_eq!(*rx.borrow(), 1);
        assert_eq!(rx.has_changed(), Err(RecvError(())));
        assert_eq!(rx.changed().await, Err(RecvError(())));
        assert_eq!(rx.changed().await, Err(RecvError(())), "and again");
        assert_eq!(rx.wait_for(|_| false).await.unwrap_err(), RecvError(()));
        assert_eq!(
            *rx.wait_for(|v| *v == 1).await.unwrap(),
            1,
            "the last value still matches"
        );
        assert_eq!(
            RecvError(()).to_string(),
            "watch channel closed: every sender was dropped"
        );
        assert!(rx.statistics().closed);
    });
}

#[test]
fn dropping_the_last_sender_wakes_every_waiter() {
    multi(2).block_on(async {
        let (tx, rx) = watch::channel(0);
        let mut tasks = Vec::new();
        for _ in 0..40 {
            // More than one WakeBatch (32).
            let mut rx = rx.clone();
            tasks.push(corral::spawn(async move { rx.changed().await }));
        }
        while tx.statistics().tasks_waiting < 40 {
            corral::yield_now().await;
        }
        drop(tx);
        for t in tasks {
            assert_eq!(t.await.unwrap(), Err(RecvError(())));
        }
    });
}

#[test]
fn every_watcher_sees_the_last_value() {
    run_with_timeout("last-value", 60, || {
        multi(2).block_on(async {
            for round in 0..20 {
                let (tx, rx) = watch::channel(0u32);
                let mut watchers = Vec::new();
                for _ in 0..8 {
                    let mut rx = rx.clone();
                    watchers.push(corral::spawn(async move {
                        let mut last = 0;
                        while rx.changed().await.is_ok() {
                            let v = *rx.borrow_and_update();
                            assert!(v > last, "values only grow: {v} after {last}");
                            last = v;
                        }
                        last
                    }));
                }
                drop(rx);
                let n = 1_000 + round;
                for i in 1..=n {
                    tx.send(i).unwrap();
                    if i % 64 == 0 {
                        corral::yield_now().await;
                    }
                }
                drop(tx);
                for w in watchers {
                    assert_eq!(w.await.unwrap(), n);
                }
            }
        });
    });
}

#[test]
fn wait_for_with_a_value_already_matching() {
    current().block_on(async {
        let (tx, mut rx) = watch::channel(7);
        {
            let mut fut = pin!(rx.wait_for(|v| *v == 7));
            match poll_once(fut.as_mut()) {
                Poll::Ready(Ok(r)) => assert_eq!((*r, r.has_changed()), (7, false)),
                other => panic!("expected Ready at once, got pending: {}", other.is_pending()),
            }
        }
        // A value sent but unseen and matching: reported as changed, and
        // marked seen.
        tx.send(8).unwrap();
        {
            let r = rx.wait_for(|v| *v == 8).await.unwrap();
            assert!(r.has_changed());
        }
        assert_eq!(rx.has_changed(), Ok(false));
        // Waits through non-matching values.
        let t = corral::spawn(async move {
            let r = rx.wait_for(|v| *v % 10 == 0).await.unwrap();
            *r
        });
        for i in 9..=20 {
            // The watcher may be done (and its receiver gone) after 10.
            tx.send_replace(i);
            corral::yield_now().await;
        }
        assert!(matches!(t.await.unwrap(), 10 | 20));
    });
}

#[test]
fn a_cancelled_changed_loses_nothing() {
    current().block_on(async {
        let (tx, mut rx) = watch::channel(0);
        // Cancelled while queued.
        {
            let mut fut = pin!(rx.changed());
            assert!(poll_once(fut.as_mut()).is_pending());
            assert_eq!(tx.statistics().tasks_waiting, 1);
        }
        assert_eq!(
            tx.statistics().tasks_waiting,
            0,
            "the dropped future left the list"
        );
        // Cancelled after the send woke it, before it looked.
        {
            let mut fut = pin!(rx.changed());
            assert!(poll_once(fut.as_mut()).is_pending());
            tx.send(1).unwrap();
        }
        assert_eq!(rx.has_changed(), Ok(true), "the change stays unseen");
        assert_eq!(rx.changed().await, Ok(()));
        assert_eq!(*rx.borrow(), 1);
        // A timeout on the async side, losing nothing either.
        let r = corral::time::timeout(Duration::from_millis(5), rx.changed()).await;
        assert!(r.is_err());
        tx.send(2).unwrap();
        assert_eq!(rx.changed().await, Ok(()));
        // select-style: the changed branch loses to another and is dropped.
        tx.send(3).unwrap();
        drop(rx.changed()); // dropped without being polled
        assert_eq!(*rx.borrow_and_update(), 3);
    });
}

#[test]
fn sender_closed_waits_for_the_last_receiver() {
    multi(2).block_on(async {
        let (tx, rx) = watch::channel(0);
        let rx2 = rx.clone();
        {
            let mut fut = pin!(tx.closed());
            assert!(poll_once(fut.as_mut()).is_pending());
            assert_eq!(tx.statistics().tasks_waiting_closed, 1);
        }
        assert_eq!(tx.statistics().tasks_waiting_closed, 0);
        let tx = Arc::new(tx);
        let t = {
            let tx = tx.clone();
            corral::spawn(async move { tx.closed().await })
        };
        corral::yield_now().await;
        drop(rx);
        corral::yield_now().await;
        assert!(!t.is_finished());
        drop(rx2);
        t.await.unwrap();
        assert!(tx.is_closed());
        tx.closed().await; // at once
    });
}

#[test]
fn counts_same_channel_and_statistics() {
    let line = line!() + 1;
    let (tx, rx) = watch::channel(0);
    let (tx_other, _rx_other) = watch::channel(0);
    let tx2 = tx.clone();
    let rx2 = tx.subscribe();
    assert_eq!((tx.sender_count(), tx.receiver_count()), (2, 2));
    assert!(tx.same_channel(&tx2) && !tx.same_channel(&tx_other));
    assert!(rx.same_channel(&rx2));
    drop(tx2);
    let s = rx.statistics();
    assert_eq!((s.senders, s.receivers, s.version, s.closed), (1, 2, 0, false));
    assert!(s.created_at.file().ends_with("watch.rs"), "{}", s.created_at);
    assert_eq!(s.created_at.line(), line);
    let sole = watch::Sender::new(1);
    assert_eq!(sole.receiver_count(), 0);
    assert!(format!("{tx:?}").contains("receivers: 2"));
    assert!(format!("{rx:?}").contains("value: 0"));
}

#[test]
fn blocking_changed_from_threads_and_on_a_runtime_thread_panics() {
    run_with_timeout("blocking", 30, || {
        let (tx, mut rx) = watch::channel(0);
        assert_eq!(
            rx.blocking_changed_timeout(Duration::from_millis(10)),
            Err(RecvTimeoutError::Timeout)
        );
        assert_eq!(
            tx.statistics().tasks_waiting,
            0,
            "the timed-out wait left the list"
        );
        let t = std::thread::spawn(move || {
            let mut seen = 0;
            while rx.blocking_changed().is_ok() {
                seen = *rx.borrow_and_update();
            }
            assert_eq!(rx.blocking_changed(), Err(RecvError(())));
            assert_eq!(
                rx.blocking_changed_timeout(Duration::from_secs(1)),
                Err(RecvTimeoutError::Closed)
            );
            seen
        });
        for i in 1..=500 {
            tx.send(i).unwrap();
        }
        drop(tx);
        assert_eq!(t.join().unwrap(), 500);
        assert_eq!(
            RecvTimeoutError::Timeout.to_string(),
            "timed out waiting for a change"
        );

        let (_tx, mut rx) = watch::channel(0);
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            current().block_on(async { rx.blocking_changed_timeout(Duration::from_millis(1)) })
        }));
        assert!(refused.is_err());
    });
}

/// 8 OS threads (blocking) and 8 tasks watch; 4 threads and 4 tasks send
/// through cloned senders; everyone sees the final value.
#[test]
fn eight_threads_mixed_with_tasks() {
    run_with_timeout("threads", 60, || {
        let rt = multi(2);
        let (tx, rx) = watch::channel((0usize, 0usize));
        let per = 500;
        let total = 8 * per;
        let sent = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for _ in 0..8 {
            let mut rx = rx.clone();
            threads.push(std::thread::spawn(move || {
                let mut last = 0;
                while rx.blocking_changed().is_ok() {
                    last = rx.borrow_and_update().1;
                }
                last
            }));
        }
        let mut watchers = Vec::new();
        for _ in 0..8 {
            let mut rx = rx.clone();
            watchers.push(rt.spawn(async move {
                let mut last = 0;
                while rx.changed().await.is_ok() {
                    last = rx.borrow_and_update().1;
                }
                last
            }));
        }
        drop(rx);
        // Every send bumps a shared counter under the write lock, so the
        // final value's count is the total.
        let mut senders = Vec::new();
        for s in 0..4 {
            let tx = tx.clone();
            let sent = sent.clone();
            senders.push(std::thread::spawn(move || {
                for _ in 0..per {
                    tx.send_modify(|v| *v = (s, v.1 + 1));
                    sent.fetch_add(1, SeqCst);
                }
            }));
        }
        let mut tasks = Vec::new();
        for s in 4..8 {
            let tx = tx.clone();
            tasks.push(rt.spawn(async move {
                for i in 0..per {
                    tx.send_modify(|v| *v = (s, v.1 + 1));
                    if i % 32 == 0 {
                        corral::yield_now().await;
                    }
                }
            }));
        }
        drop(tx);
        rt.block_on(async {
            for t in tasks {
                t.await.unwrap();
            }
        });
        for s in senders {
            s.join().unwrap();
        }
        for t in threads {
            assert_eq!(t.join().unwrap(), total);
        }
        rt.block_on(async {
            for w in watchers {
                assert_eq!(w.await.unwrap(), total);
            }
        });
    });
}

#[test]
fn under_a_tokio_runtime_and_a_plain_poller() {
    run_with_timeout("tokio", 30, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let (tx, rx) = watch::channel(0u32);
        let last = rt.block_on(async move {
            let mut watchers = Vec::new();
            for _ in 0..4 {
                let mut rx = rx.clone();
                watchers.push(tokio::spawn(async move {
                    let mut last = 0;
                    while rx.changed().await.is_ok() {
                        last = *rx.borrow_and_update();
                    }
                    last
                }));
            }
            drop(rx);
            for i in 1..=2_000 {
                tx.send(i).unwrap();
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            drop(tx);
            let mut lasts = Vec::new();
            for w in watchers {
                lasts.push(w.await.unwrap());
            }
            lasts
        });
        assert_eq!(last, [2_000; 4]);
        // A plain poller (another executor) on another thread.
        let (tx, mut rx) = watch::channel(0);
        let t = std::thread::spawn(move || {
            let mut last = 0;
            while foreign_block_on(rx.changed()).is_ok() {
                last = *rx.borrow_and_update();
            }
            last
        });
        for i in 1..=100 {
            tx.send(i).unwrap();
            std::thread::sleep(Duration::from_micros(50));
        }
        drop(tx);
        assert_eq!(t.join().unwrap(), 100);
    });
}

#[test]
fn watch_stream_yields_current_then_changes() {
    current().block_on(async {
        let (tx, rx) = watch::channel(1);
        let mut cx = Context::from_waker(Waker::noop());
        let mut s = pin!(WatchStream::new(rx.clone()));
        assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
        assert_eq!(tx.statistics().tasks_waiting, 1);
        tx.send(2).unwrap();
        tx.send(3).unwrap();
        assert_eq!(
            s.as_mut().poll_next(&mut cx),
            Poll::Ready(Some(3)),
            "skips to the latest"
        );
        let mut rx = rx;
        rx.mark_unchanged(); // else from_changes yields the unseen 3 first
        let mut changes = pin!(WatchStream::from_changes(rx));
        assert_eq!(changes.as_mut().poll_next(&mut cx), Poll::Pending);
        drop(tx);
        assert_eq!(changes.as_mut().poll_next(&mut cx), Poll::Ready(None));
        assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(None));
    });
    // Dropped while queued: leaves the list.
    let (tx, rx) = watch::channel(0);
    let mut cx = Context::from_waker(Waker::noop());
    {
        let mut s = pin!(WatchStream::from_changes(rx));
        assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
    }
    assert_eq!(tx.statistics().tasks_waiting, 0);
}

/// Watchers that cancel their `changed()` at random (timeouts racing the
/// sends) still end on the last value; `CORRAL_STRESS` rounds.
#[test]
fn stress_with_cancelled_watchers() {
    let rounds = (stress() / 20).max(2);
    run_with_timeout("stress", 120, move || {
        let rt = multi(2);
        rt.block_on(async move {
            for round in 0..rounds {
                let (tx, rx) = watch::channel(0usize);
                let mut watchers = Vec::new();
                for w in 0..8 {
                    let mut rx = rx.clone();
                    watchers.push(corral::spawn(async move {
                        let mut last = 0;
                        let mut k = 0usize;
                        loop {
                            k += 1;
                            if (k + w) % 3 == 0 {
                                // Cancelled at once or after a wake.
                                match corral::time::timeout(Duration::from_micros(1), rx.changed()).await {
                                    Ok(Ok(())) => last = *rx.borrow_and_update(),
                                    Ok(Err(_)) => break,
                                    Err(_) => {}
                                }
                            } else {
                                match rx.changed().await {
                                    Ok(()) => last = *rx.borrow_and_update(),
                                    Err(_) => break,
                                }
                            }
                        }
                        last
                    }));
                }
                drop(rx);
                let n = 2_000 + round;
                for i in 1..=n {
                    tx.send(i).unwrap();
                    if i % 16 == 0 {
                        corral::yield_now().await;
                    }
                }
                drop(tx);
                for w in watchers {
                    assert_eq!(w.await.unwrap(), n);
                }
            }
        });
    });
}

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (tx, mut rx) = watch::channel(0u8);
    send_sync(&tx);
    send_sync(&rx);
    send(&tx.closed());
    send(&rx.changed());
    send(&rx.wait_for(|_| true));
    send(&WatchStream::new(rx));
}
