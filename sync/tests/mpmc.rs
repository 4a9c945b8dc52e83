//! mpmc (bounded and unbounded): semantics, every error, FIFO among
//! receivers, cancellation at every await point, 8 OS threads mixed with
//! tasks, a foreign executor, and the stress test (4 producers x 100,000
//! items to 4 consumers cancelled at random, at `CORRAL_STRESS=200`,
//! scaled linearly).

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress, Rng};
use corral::sync::mpmc::{
    self,
    error::{
        RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError, ZeroCapacity,
    },
};
use futures_core::Stream;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

#[test]
fn semantics_and_errors() {
    current().block_on(async {
        assert_eq!(mpmc::try_bounded::<u8>(0).unwrap_err(), ZeroCapacity);
        assert!(std::panic::catch_unwind(|| mpmc::bounded::<u8>(0)).is_err());

        let (tx, rx) = mpmc::bounded(2);
        assert_eq!((tx.capacity(), rx.capacity()), (Some(2), Some(2)));
        tx.send(1).await.unwrap();
        tx.try_send(2).unwrap();
        assert!(tx.is_full());
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!((tx.len(), rx.len()), (2, 2));
        let rx2 = rx.clone();
        let tx2 = tx.clone();
        assert_eq!((tx.sender_count(), tx.receiver_count()), (2, 2));
        assert!(rx.same_channel(&rx2) && tx.same_channel(&tx2));
        assert_eq!(rx2.recv().await, Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(rx.is_empty());
        let s = rx.statistics();
        assert_eq!(
            (s.open_send_streams, s.open_receive_streams, s.closed),
            (2, 2, false)
        );
        assert!(rx.created_at().file().ends_with("mpmc.rs"));

        // Close from a sender: sends fail with their value, receivers drain.
        tx.try_send(5).unwrap();
        assert!(tx2.close());
        assert!(!rx.close(), "already closed");
        assert!(tx.is_closed() && rx.is_closed());
        assert_eq!(tx.send(6).await, Err(SendError(6)));
        assert_eq!(tx.try_send(7), Err(TrySendError::Closed(7)));
        assert_eq!(rx.recv().await, Ok(5));
        assert_eq!(rx2.recv().await, Err(RecvError));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

        // Every sender gone: drain, then the end.
        let (tx, rx) = mpmc::unbounded();
        tx.send(1).await.unwrap();
        drop(tx);
        assert!(rx.is_closed());
        assert_eq!(rx.recv().await, Ok(1));
        assert_eq!(rx.recv().await, Err(RecvError));

        // Every receiver gone: closed, buffered items dropped.
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpmc::bounded(4);
        tx.try_send(Tracked(drops.clone())).unwrap();
        let rx2 = rx.clone();
        drop(rx);
        assert!(!tx.is_closed());
        drop(rx2);
        assert_eq!(drops.load(SeqCst), 1);
        assert!(tx.is_closed());
        assert!(matches!(
            tx.try_send(Tracked(drops.clone())),
            Err(TrySendError::Closed(_))
        ));
        assert_eq!(drops.load(SeqCst), 2);
        assert_eq!(
            RecvError.to_string(),
            "channel empty and closed: no item can come any more"
        );
    });
}

#[test]
fn waiting_senders_and_receivers_wake_on_close() {
    current().block_on(async {
        let (tx, rx) = mpmc::bounded(1);
        tx.send(0).await.unwrap();
        let t = tx.clone();
        let sender = corral::spawn(async move { t.send(1).await });
        let (etx, erx) = mpmc::unbounded::<u8>();
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let erx = erx.clone();
                corral::spawn(async move { erx.recv().await })
            })
            .collect();
        settle().await;
        assert_eq!(tx.statistics().tasks_waiting_send, 1);
        assert_eq!(erx.statistics().tasks_waiting_receive, 3);
        rx.close();
        assert_eq!(sender.await.unwrap(), Err(SendError(1)));
        drop(etx);
        for w in waiting {
            assert_eq!(w.await.unwrap(), Err(RecvError));
        }
        assert_eq!(rx.recv().await, Ok(0));
    });
}

/// Receivers are served in arrival order: items go to the waiting
/// receivers first come, first served, one each.
#[test]
fn fifo_among_receivers() {
    current().block_on(async {
        let (tx, rx) = mpmc::unbounded();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for id in 0..5 {
            let rx = rx.clone();
            let order = order.clone();
            tasks.push(corral::spawn(async move {
                let v = rx.recv().await.unwrap();
                order.lock().unwrap().push((id, v));
            }));
            settle().await; // queue in id order
        }
        assert_eq!(rx.statistics().tasks_waiting_receive, 5);
        for v in 0..5 {
            tx.send(v * 10).await.unwrap();
        }
        // A receiver arriving now cannot take an item already handed over.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        for t in tasks {
            t.await.unwrap();
        }
        let mut got = order.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, [(0, 0), (1, 10), (2, 20), (3, 30), (4, 40)]);
    });
}

/// A receiver cancelled after an item was handed to it passes the item to
/// the next waiting receiver, or puts it back at the head of the queue.
#[test]
fn cancelled_receiver_passes_the_item_on() {
    let cx = &mut Context::from_waker(Waker::noop());
    for bounded in [false, true] {
        let (tx, rx) = if bounded {
            mpmc::bounded(3)
        } else {
            mpmc::unbounded()
        };
        let mut a = Box::pin(rx.recv());
        let mut b = Box::pin(rx.recv());
        assert!(a.as_mut().poll(cx).is_pending());
        assert!(b.as_mut().poll(cx).is_pending());
        tx.try_send(1).unwrap(); // handed to `a`
        tx.try_send(2).unwrap(); // handed to `b`
        drop(a); // 1 goes to ... nobody waits: the head of the queue
        assert_eq!(rx.len(), 1);
        tx.try_send(3).unwrap(); // bounded: `b`, the queue and this hold 3 of 3 slots
        if bounded {
            assert!(tx.is_full(), "a handed item keeps its slot");
        }
        assert_eq!(rx.try_recv(), Ok(1), "the given-back item stays first");
        assert_eq!(b.as_mut().poll(cx), Poll::Ready(Ok(2)));
        assert_eq!(rx.try_recv(), Ok(3));

        // Handed to `c`, cancelled while `d` waits: `d` gets it.
        let mut c = Box::pin(rx.recv());
        let mut d = Box::pin(rx.recv());
        assert!(c.as_mut().poll(cx).is_pending());
        assert!(d.as_mut().poll(cx).is_pending());
        tx.try_send(4).unwrap();
        drop(c);
        assert_eq!(d.as_mut().poll(cx), Poll::Ready(Ok(4)));
        assert!(rx.is_empty());
        if bounded {
            assert_eq!(tx.statistics().current_buffer_used, 0);
            for v in 5..8 {
                tx.try_send(v).unwrap();
            }
            assert!(tx.is_full(), "no slot leaked or invented");
        }
    }
}

/// The last sender leaves while an item is handed to a receiver that has
/// not taken it yet: the other waiting receivers must not be told the
/// channel ended, since a cancelled holder puts the item back (found by the
/// loom model `mpmc_two_receivers_vs_send_vs_cancel`).
#[test]
fn channel_does_not_end_while_an_item_is_handed_over() {
    let cx = &mut Context::from_waker(Waker::noop());
    for bounded in [false, true] {
        let (tx, rx) = if bounded {
            mpmc::bounded(1)
        } else {
            mpmc::unbounded()
        };
        let mut a = Box::pin(rx.recv());
        let mut b = Box::pin(rx.recv());
        assert!(a.as_mut().poll(cx).is_pending());
        assert!(b.as_mut().poll(cx).is_pending());
        tx.try_send(7).unwrap(); // handed to `a`
        drop(tx); // the last sender
        assert!(b.as_mut().poll(cx).is_pending(), "told the end too early");
        assert!(!rx.is_empty() || rx.statistics().tasks_waiting_receive == 1);
        drop(a); // cancelled: 7 passes to `b`
        assert_eq!(b.as_mut().poll(cx), Poll::Ready(Ok(7)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}

/// Cancellation at every await point: a recv cancelled while queued, and
/// after being handed an item; a send cancelled while waiting, and after
/// its item was pushed for it. Nothing is lost, no slot leaks.
#[test]
fn cancellation_at_every_await_point() {
    let cx = &mut Context::from_waker(Waker::noop());
    let (tx, rx) = mpmc::bounded(1);
    // recv queued, cancelled: nothing handed, nothing lost.
    {
        let mut r = pin!(rx.recv());
        assert!(r.as_mut().poll(cx).is_pending());
        assert_eq!(rx.statistics().tasks_waiting_receive, 1);
    }
    assert_eq!(rx.statistics().tasks_waiting_receive, 0);
    tx.try_send(1).unwrap();
    // send waiting, cancelled: the value was not sent.
    {
        let mut s = pin!(tx.send(2));
        assert!(s.as_mut().poll(cx).is_pending());
    }
    assert_eq!(tx.statistics().tasks_waiting_send, 0);
    // send completed by the receive that freed its slot (its item pushed
    // for it), then cancelled before it saw that: the item stays sent.
    let mut s1 = Box::pin(tx.send(3));
    let mut s2 = Box::pin(tx.send(4));
    assert!(s1.as_mut().poll(cx).is_pending());
    assert!(s2.as_mut().poll(cx).is_pending());
    assert_eq!(rx.try_recv(), Ok(1)); // frees the slot: s1's 3 is pushed
    drop(s1);
    assert!(s2.as_mut().poll(cx).is_pending(), "3 holds the one slot");
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(s2.as_mut().poll(cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(4));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!tx.is_full());
    // The stream's pending receive, handed an item, then the receiver dropped.
    let mut rx2 = rx.clone();
    assert!(Pin::new(&mut rx2).poll_next(cx).is_pending());
    tx.try_send(9).unwrap();
    drop(rx2);
    assert_eq!(rx.try_recv(), Ok(9));
}

#[test]
fn cancelled_recv_by_timeout_loses_nothing() {
    multi(2).block_on(async {
        let (tx, rx) = mpmc::bounded(8);
        for round in 0..200u32 {
            let tx2 = tx.clone();
            corral::spawn(async move { tx2.send(round).await.unwrap() });
            let got = match corral::time::timeout(Duration::from_micros(50), rx.recv()).await {
                Ok(v) => v,
                Err(_) => rx.recv().await,
            };
            assert_eq!(got, Ok(round));
        }
    });
}

#[test]
fn stream_yields_until_the_end() {
    current().block_on(async {
        let (tx, mut rx) = mpmc::unbounded();
        corral::spawn(async move {
            for i in 0..5 {
                tx.send(i).await.unwrap();
                corral::yield_now().await;
            }
        });
        let mut got = Vec::new();
        while let Some(v) = std::future::poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await {
            got.push(v);
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert!(poll_once(pin!(rx.recv())).is_ready());
    });
}

#[test]
fn blocking_path_and_timeouts() {
    run_with_timeout("blocking", 30, || {
        let (tx, rx) = mpmc::bounded(1);
        tx.blocking_send_timeout(1, Duration::from_secs(1)).unwrap();
        assert_eq!(
            tx.blocking_send_timeout(2, Duration::from_millis(5)),
            Err(SendTimeoutError::Timeout(2))
        );
        assert_eq!(rx.blocking_recv_timeout(Duration::from_secs(1)), Ok(1));
        assert_eq!(
            rx.blocking_recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
        // Blocked receivers (threads) woken by the last sender's drop.
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || rx.blocking_recv())
            })
            .collect();
        while rx.statistics().tasks_waiting_receive < 3 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(tx);
        for w in waiting {
            assert_eq!(w.join().unwrap(), Err(RecvError));
        }
        // A blocked sender woken by close.
        let (tx, rx) = mpmc::bounded(1);
        tx.try_send(0).unwrap();
        let t = tx.clone();
        let s = std::thread::spawn(move || t.blocking_send(1));
        while tx.statistics().tasks_waiting_send < 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
        rx.close();
        assert_eq!(s.join().unwrap(), Err(SendError(1)));

        // Timeouts racing sends: every item returned or still there.
        let (tx, rx) = mpmc::bounded::<u64>(1);
        for i in 0..300u64 {
            let (got, rest) = std::thread::scope(|s| {
                let sender = s.spawn(|| {
                    std::thread::sleep(Duration::from_micros((i * 37) % 120));
                    tx.blocking_send(i).unwrap();
                });
                let got = rx
                    .blocking_recv_timeout(Duration::from_micros(20 + (i % 7) * 15))
                    .ok();
                sender.join().unwrap();
                (got, rx.try_recv().ok())
            });
            assert_eq!(got.xor(rest), Some(i), "round {i}");
        }
        assert!(!tx.is_full());

        let rt = current();
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(async { rx.blocking_recv() })
        }));
        assert!(refused.is_err());
    });
}

#[test]
fn eight_threads_mixed_with_tasks() {
    run_with_timeout("threads_tasks", 60, || {
        let per = 2_000usize;
        let rt = multi(2);
        let (tx, rx) = mpmc::bounded(8);
        let mut producers = Vec::new();
        for t in 0..4usize {
            let tx = tx.clone();
            producers.push(std::thread::spawn(move || {
                for i in 0..per {
                    tx.blocking_send(t * per + i).unwrap();
                }
            }));
        }
        let mut tasks = Vec::new();
        for t in 4..8usize {
            let tx = tx.clone();
            tasks.push(rt.spawn(async move {
                for i in 0..per {
                    tx.send(t * per + i).await.unwrap();
                }
            }));
        }
        drop(tx);
        let seen = Arc::new(Mutex::new(vec![false; 8 * per]));
        let mut consumers = Vec::new();
        for _ in 0..4 {
            let rx = rx.clone();
            let seen = seen.clone();
            consumers.push(std::thread::spawn(move || {
                while let Ok(v) = rx.blocking_recv() {
                    assert!(
                        !std::mem::replace(&mut seen.lock().unwrap()[v], true),
                        "{v} twice"
                    );
                }
            }));
        }
        let mut ctasks = Vec::new();
        for _ in 0..4 {
            let rx = rx.clone();
            let seen = seen.clone();
            ctasks.push(rt.spawn(async move {
                while let Ok(v) = rx.recv().await {
                    assert!(
                        !std::mem::replace(&mut seen.lock().unwrap()[v], true),
                        "{v} twice"
                    );
                }
            }));
        }
        drop(rx);
        rt.block_on(async {
            for t in tasks.into_iter().chain(ctasks) {
                t.await.unwrap();
            }
        });
        for t in producers.into_iter().chain(consumers) {
            t.join().unwrap();
        }
        assert!(seen.lock().unwrap().iter().all(|s| *s), "items lost");
    });
}

#[test]
fn under_a_tokio_runtime_and_a_plain_poller() {
    run_with_timeout("tokio", 30, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let (tx, rx) = mpmc::bounded(4);
        let n = rt.block_on(async move {
            for p in 0..4u32 {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for i in 0..2_000u32 {
                        tx.send(p * 10_000 + i).await.unwrap();
                    }
                });
            }
            drop(tx);
            let consumers: Vec<_> = (0..3)
                .map(|_| {
                    let rx = rx.clone();
                    tokio::spawn(async move {
                        let mut n = 0;
                        while rx.recv().await.is_ok() {
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let mut n = 0;
            for c in consumers {
                n += c.await.unwrap();
            }
            n
        });
        assert_eq!(n, 8_000);
        let (tx, rx) = mpmc::bounded(1);
        let t = std::thread::spawn(move || {
            for i in 0..100 {
                foreign_block_on(tx.send(i)).unwrap();
            }
        });
        let mut got = 0;
        while foreign_block_on(rx.recv()).is_ok() {
            got += 1;
        }
        t.join().unwrap();
        assert_eq!(got, 100);
    });
}

/// 4 producers x 100,000 items (at CORRAL_STRESS=200) through a bounded
/// channel of 16 to 4 consumers whose receives are cancelled at random
/// (by a timeout, or after one poll): every item arrives exactly once.
#[test]
fn stress_four_to_four_with_cancelled_consumers() {
    run_with_timeout("mpmc_stress", 120, || {
        let per = (100_000 * stress() / 200).max(1000);
        let rt = multi(2);
        let (tx, rx) = mpmc::bounded::<usize>(16);
        let seen: Arc<Vec<AtomicUsize>> = Arc::new((0..4 * per).map(|_| AtomicUsize::new(0)).collect());
        let cancelled = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            for p in 0..4usize {
                let tx = tx.clone();
                corral::spawn(async move {
                    for i in 0..per {
                        tx.send(p * per + i).await.unwrap();
                    }
                });
            }
            drop(tx);
            let consumers: Vec<_> = (0..4u64)
                .map(|c| {
                    let rx = rx.clone();
                    let seen = seen.clone();
                    let cancelled = cancelled.clone();
                    corral::spawn(async move {
                        let mut rng = Rng(c + 1);
                        loop {
                            let got = match rng.below(50) {
                                0 => {
                                    // Cancel after one poll (maybe handed an item).
                                    let mut f = Box::pin(rx.recv());
                                    let r = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
                                    match r {
                                        Poll::Ready(r) => r,
                                        Poll::Pending => {
                                            corral::yield_now().await;
                                            drop(f);
                                            cancelled.fetch_add(1, SeqCst);
                                            continue;
                                        }
                                    }
                                }
                                1 => {
                                    match corral::time::timeout(Duration::from_micros(20), rx.recv()).await {
                                        Ok(r) => r,
                                        Err(_) => {
                                            cancelled.fetch_add(1, SeqCst);
                                            continue;
                                        }
                                    }
                                }
                                _ => rx.recv().await,
                            };
                            match got {
                                Ok(v) => assert_eq!(seen[v].fetch_add(1, SeqCst), 0, "{v} twice"),
                                Err(RecvError) => break,
                            }
                        }
                    })
                })
                .collect();
            for c in consumers {
                c.await.unwrap();
            }
        });
        assert!(seen.iter().all(|s| s.load(SeqCst) == 1), "items lost");
        assert!(cancelled.load(SeqCst) > 0);
    });
}

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (tx, rx) = mpmc::bounded::<String>(1);
    send_sync(&tx);
    send_sync(&rx);
    send(&tx.send(String::new()));
    send(&rx.recv());
    assert!(format!("{tx:?} {rx:?}").contains("mpmc::Receiver"));
}
