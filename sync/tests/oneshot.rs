//! oneshot: semantics, every error, cancellation, threads, a foreign
//! executor, and a create/send/receive stress across threads
//! (`CORRAL_STRESS` rounds).

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress};
use corral::sync::oneshot::{
    self,
    error::{RecvError, RecvTimeoutError, TryRecvError},
};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// Counts drops, to check that no value is leaked or dropped twice.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn send_then_recv() {
    current().block_on(async {
        let (tx, rx) = oneshot::channel();
        assert!(!tx.is_closed());
        tx.send(42).unwrap();
        assert_eq!(rx.await, Ok(42));
    });
}

#[test]
fn recv_waits_for_a_send_from_another_task() {
    multi(2).block_on(async {
        let (tx, rx) = oneshot::channel();
        let t = corral::spawn(rx);
        corral::yield_now().await;
        tx.send("late").unwrap();
        assert_eq!(t.await.unwrap(), Ok("late"));
    });
}

#[test]
fn sender_dropped_is_recv_error() {
    current().block_on(async {
        let (tx, rx) = oneshot::channel::<u8>();
        let t = corral::spawn(rx);
        corral::yield_now().await;
        drop(tx);
        assert_eq!(t.await.unwrap(), Err(RecvError(())));
    });
    assert_eq!(
        RecvError(()).to_string(),
        "channel closed: the sender was dropped without sending"
    );
}

#[test]
fn send_to_dropped_receiver_hands_the_value_back() {
    let (tx, rx) = oneshot::channel();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(String::from("back")), Err(String::from("back")));
}

#[test]
fn try_recv_every_case() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.is_terminated());
    assert!(rx.is_empty());
    tx.send(1).unwrap();
    assert!(!rx.is_empty());
    assert_eq!(rx.try_recv(), Ok(1));
    // Taken: nothing more will ever come.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert!(rx.is_terminated());

    let (tx, mut rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(TryRecvError::Empty.to_string(), "channel empty");
    assert_eq!(TryRecvError::Closed.to_string(), "channel closed");
}

#[test]
fn close_refuses_later_sends_but_keeps_an_earlier_value() {
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));

    let (tx, mut rx) = oneshot::channel();
    tx.send(2).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(2));

    // Awaiting a closed receiver ends at once.
    current().block_on(async {
        let (_tx, mut rx) = oneshot::channel::<u8>();
        rx.close();
        assert_eq!(rx.await, Err(RecvError(())));
    });
}

#[test]
fn polling_after_completion_is_an_error_not_a_panic() {
    let (tx, mut rx) = oneshot::channel();
    tx.send(5).unwrap();
    let mut rx_ref = pin!(&mut rx);
    assert_eq!(poll_once(rx_ref.as_mut()), Poll::Ready(Ok(5)));
    assert_eq!(poll_once(rx_ref.as_mut()), Poll::Ready(Err(RecvError(()))));
}

#[test]
fn closed_wakes_when_the_receiver_goes() {
    multi(2).block_on(async {
        let (mut tx, rx) = oneshot::channel::<u8>();
        let watcher = corral::spawn(async move {
            tx.closed().await;
            tx.is_closed()
        });
        corral::yield_now().await;
        drop(rx);
        assert!(watcher.await.unwrap());
    });
    // and via close()
    current().block_on(async {
        let (mut tx, mut rx) = oneshot::channel::<u8>();
        let watcher = corral::spawn(async move { tx.closed().await });
        corral::yield_now().await;
        rx.close();
        watcher.await.unwrap();
    });
}

#[test]
fn re_polling_with_another_waker_is_woken() {
    run_with_timeout("rewake", 10, || {
        let (tx, rx) = oneshot::channel();
        let mut rx = pin!(rx);
        // First poll with a no-op waker, then hand the future to a real
        // (foreign) executor, which must be the one woken.
        assert!(poll_once(rx.as_mut()).is_pending());
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(3).unwrap();
        });
        assert_eq!(foreign_block_on(rx), Ok(3));
        sender.join().unwrap();
    });
}

#[test]
fn cancelled_receive_loses_nothing_and_drops_the_value_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let (tx, rx) = oneshot::channel();
        let mut rx = pin!(rx);
        assert!(poll_once(rx.as_mut()).is_pending());
        tx.send(Tracked(drops.clone())).ok().unwrap();
        // The receiver is dropped with the value unread.
    }
    assert_eq!(drops.load(SeqCst), 1);
    // A value sent to a dropped receiver comes back, and is dropped once.
    let (tx, rx) = oneshot::channel();
    drop(rx);
    let back = tx.send(Tracked(drops.clone())).err().unwrap();
    assert_eq!(drops.load(SeqCst), 1);
    drop(back);
    assert_eq!(drops.load(SeqCst), 2);
}

#[test]
fn blocking_recv_from_a_thread() {
    run_with_timeout("blocking", 10, || {
        let (tx, rx) = oneshot::channel();
        let rt = multi(2);
        rt.spawn(async move {
            corral::yield_now().await;
            tx.send(9).unwrap();
        });
        assert_eq!(rx.blocking_recv(), Ok(9));

        let (tx, mut rx) = oneshot::channel::<u8>();
        assert_eq!(
            rx.blocking_recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
        drop(tx);
        assert_eq!(
            rx.blocking_recv_timeout(Duration::from_secs(5)),
            Err(RecvTimeoutError::Closed)
        );
        assert_eq!(
            RecvTimeoutError::Timeout.to_string(),
            "timed out waiting on the channel"
        );
    });
}

/// A blocking receive whose timeout races the send: the value is returned
/// or is still in the channel for the next receive, never lost.
#[test]
fn blocking_timeout_racing_the_send_loses_nothing() {
    run_with_timeout("timeout_race", 60, || {
        for i in 0..300u64 {
            let (tx, mut rx) = oneshot::channel::<u64>();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_micros((i * 37) % 120));
                tx.send(i).unwrap();
            });
            let got = rx.blocking_recv_timeout(Duration::from_micros(20 + (i % 7) * 15));
            t.join().unwrap();
            match got {
                Ok(v) => assert_eq!(v, i),
                Err(RecvTimeoutError::Timeout) => assert_eq!(rx.try_recv(), Ok(i), "round {i}"),
                Err(e) => panic!("round {i}: {e:?}"),
            }
        }
    });
}

/// A thread blocked in `blocking_recv` wakes with the error when the
/// sender is dropped unsent, and a timed wait wakes early the same way.
#[test]
fn blocked_thread_wakes_when_the_sender_is_dropped() {
    run_with_timeout("blocked_drop", 20, || {
        let (tx, rx) = oneshot::channel::<u8>();
        let t = std::thread::spawn(move || rx.blocking_recv());
        std::thread::sleep(Duration::from_millis(20));
        drop(tx);
        assert!(t.join().unwrap().is_err());

        let (tx, mut rx) = oneshot::channel::<u8>();
        let t = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            (rx.blocking_recv_timeout(Duration::from_secs(30)), start.elapsed())
        });
        std::thread::sleep(Duration::from_millis(20));
        drop(tx);
        let (got, waited) = t.join().unwrap();
        assert_eq!(got, Err(RecvTimeoutError::Closed));
        assert!(waited < Duration::from_secs(10), "woke only at the timeout");
    });
}

#[test]
fn blocking_recv_on_a_runtime_thread_panics() {
    let rt = current();
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let (_tx, rx) = oneshot::channel::<u8>();
            let _ = rx.blocking_recv();
        })
    }));
    assert!(refused.is_err());
}

#[test]
fn under_a_tokio_runtime() {
    run_with_timeout("tokio", 20, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut handles = Vec::new();
            for i in 0..100u32 {
                let (tx, rx) = oneshot::channel();
                handles.push(tokio::spawn(async move { rx.await.unwrap() * 2 }));
                tokio::spawn(async move { tx.send(i).unwrap() });
            }
            for (i, h) in handles.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), i as u32 * 2);
            }
        });
    });
}

/// Threads and tasks race sends, drops and receives; every value is
/// delivered exactly once or handed back, and every value is dropped once.
#[test]
fn stress_threads_and_tasks() {
    run_with_timeout("oneshot_stress", 60, || {
        let rounds = stress() * 50;
        let drops = Arc::new(AtomicUsize::new(0));
        let delivered = Arc::new(AtomicUsize::new(0));
        let rt = multi(2);
        let mut threads = Vec::new();
        for t in 0..8usize {
            let (drops, delivered) = (drops.clone(), delivered.clone());
            let handle = rt.handle().clone();
            threads.push(std::thread::spawn(move || {
                for i in 0..rounds {
                    let (tx, rx) = oneshot::channel();
                    let d = delivered.clone();
                    let recv = handle.spawn(async move {
                        if let Ok(v) = rx.await {
                            let _: Tracked = v;
                            d.fetch_add(1, SeqCst);
                        }
                    });
                    if (i + t) % 7 == 0 {
                        drop(tx); // the receiver sees RecvError
                    } else if tx.send(Tracked(drops.clone())).is_err() {
                        unreachable!("the receiver task waits");
                    }
                    std::thread::yield_now();
                    // Join through a oneshot too: the JoinHandle is a future.
                    foreign_block_on(recv).unwrap();
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        let sent = (0..8usize)
            .map(|t| (0..rounds).filter(|i| (i + t) % 7 != 0).count())
            .sum::<usize>();
        assert_eq!(delivered.load(SeqCst), sent);
        assert_eq!(drops.load(SeqCst), sent);
    });
}
