//! broadcast: semantics and every error, lag (exact counts), closing from
//! either side, cancellation of `recv`, values freed on time, 8 OS threads
//! mixed with tasks, a foreign executor (tokio), the Stream, and the
//! stress test (16 receivers, one lagging).

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress};
use corral::io::StreamExt;
use corral::sync::broadcast::{
    self,
    error::{CapacityError, Lagged, RecvError, RecvTimeoutError, SendError, TryRecvError},
};
use corral::sync::Semaphore;
use futures_core::Stream;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// Counts its drops (clones count too: each clone is its own value).
#[derive(Clone)]
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn every_receiver_sees_every_value_in_order() {
    current().block_on(async {
        let (tx, mut rx1) = broadcast::channel(8);
        let mut rx2 = tx.subscribe();
        for i in 0..8 {
            assert_eq!(tx.send(i), Ok(2));
        }
        for i in 0..8 {
            assert_eq!(rx1.recv().await, Ok(i));
        }
        for i in 0..8 {
            assert_eq!(rx2.try_recv(), Ok(i));
        }
        assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(rx2.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn capacity_zero_is_refused_and_huge_is_refused() {
    assert_eq!(broadcast::try_channel::<u8>(0).unwrap_err(), CapacityError::Zero);
    assert_eq!(
        broadcast::try_channel::<u8>(usize::MAX).unwrap_err(),
        CapacityError::TooLarge(usize::MAX)
    );
    assert!(std::panic::catch_unwind(|| broadcast::channel::<u8>(0)).is_err());
}

#[test]
fn lagging_receiver_gets_exact_count_then_oldest_held() {
    // Power-of-two capacity (masked index) and not (modulo index).
    for cap in [4usize, 3, 1] {
        current().block_on(async move {
            let (tx, mut rx) = broadcast::channel(cap);
            for i in 0..10u64 {
                tx.send(i).unwrap();
            }
            assert_eq!(rx.len(), 10);
            let missed = 10 - cap as u64;
            assert_eq!(rx.recv().await, Err(RecvError::Lagged(missed)), "cap {cap}");
            for i in missed..10 {
                assert_eq!(rx.recv().await, Ok(i), "cap {cap}");
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            // Lagging again, through try_recv this time.
            for i in 10..(10 + cap as u64 + 2) {
                tx.send(i).unwrap();
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(2)));
            assert_eq!(rx.try_recv(), Ok(12));
        });
    }
}

#[test]
fn lag_is_per_receiver() {
    current().block_on(async {
        let (tx, mut fast) = broadcast::channel(2);
        let mut slow = tx.subscribe();
        for i in 0..5 {
            tx.send(i).unwrap();
            assert_eq!(fast.recv().await, Ok(i));
        }
        assert_eq!(slow.recv().await, Err(RecvError::Lagged(3)));
        assert_eq!(slow.recv().await, Ok(3));
        assert_eq!(slow.recv().await, Ok(4));
    });
}

#[test]
fn dropping_every_sender_drains_then_closes() {
    current().block_on(async {
        let (tx, mut rx) = broadcast::channel(4);
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.sender_strong_count(), 1);
        tx2.send(3).unwrap();
        drop(tx2);
        assert_eq!(rx.recv().await, Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.recv().await, Ok(3));
        assert_eq!(rx.recv().await, Err(RecvError::Closed));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert!(rx.statistics().closed);
        // A receiver made after the close sees the close at once.
        assert_eq!(rx.resubscribe().recv().await, Err(RecvError::Closed));
    });
}

#[test]
fn lag_is_reported_before_closed() {
    current().block_on(async {
        let (tx, mut rx) = broadcast::channel(2);
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        drop(tx);
        assert_eq!(rx.recv().await, Err(RecvError::Lagged(3)));
        assert_eq!(rx.recv().await, Ok(3));
        assert_eq!(rx.recv().await, Ok(4));
        assert_eq!(rx.recv().await, Err(RecvError::Closed));
    });
}

#[test]
fn waiting_receivers_wake_with_closed() {
    run_with_timeout("broadcast_close_wakes", 30, || {
        multi(2).block_on(async {
            let (tx, rx) = broadcast::channel::<u32>(4);
            let tasks: Vec<_> = (0..40)
                .map(|_| {
                    let mut rx = rx.resubscribe();
                    corral::spawn(async move { rx.recv().await })
                })
                .collect();
            while tx.statistics().tasks_waiting_receive < 40 {
                corral::yield_now().await;
            }
            drop(tx);
            for t in tasks {
                assert_eq!(t.await.unwrap(), Err(RecvError::Closed));
            }
        });
    });
}

#[test]
fn dropping_every_receiver_hands_the_value_back() {
    current().block_on(async {
        let (tx, rx) = broadcast::channel(4);
        let rx2 = tx.subscribe();
        assert_eq!(tx.receiver_count(), 2);
        drop(rx);
        assert_eq!(tx.send("a"), Ok(1));
        drop(rx2);
        assert_eq!(tx.receiver_count(), 0);
        let err = tx.send("b").unwrap_err();
        assert_eq!(err, SendError("b"));
        assert_eq!(err.into_inner(), "b");
        // closed() completes at once with no receiver.
        tx.closed().await;
        // A new subscriber reopens the channel for sends.
        let mut rx3 = tx.subscribe();
        assert_eq!(tx.send("c"), Ok(1));
        assert_eq!(rx3.recv().await, Ok("c"));
    });
}

#[test]
fn closed_waits_for_the_last_receiver() {
    current().block_on(async {
        let (tx, rx) = broadcast::channel::<u8>(4);
        let rx2 = rx.resubscribe();
        let mut closed = pin!(tx.closed());
        assert!(poll_once(closed.as_mut()).is_pending());
        assert_eq!(tx.statistics().tasks_waiting_closed, 1);
        drop(rx);
        assert!(poll_once(closed.as_mut()).is_pending());
        drop(rx2);
        assert!(poll_once(closed.as_mut()).is_ready());
        assert_eq!(tx.statistics().tasks_waiting_closed, 0);
        // A cancelled closed() leaves no waiter behind.
        let _rx = tx.subscribe();
        {
            let mut c = pin!(tx.closed());
            assert!(poll_once(c.as_mut()).is_pending());
        }
        assert_eq!(tx.statistics().tasks_waiting_closed, 0);
    });
}

#[test]
fn cancelled_recv_loses_nothing() {
    current().block_on(async {
        let (tx, mut rx) = broadcast::channel(4);
        // Cancelled while waiting.
        {
            let mut r = pin!(rx.recv());
            assert_eq!(poll_once(r.as_mut()), Poll::Pending);
        }
        assert_eq!(tx.statistics().tasks_waiting_receive, 0);
        tx.send(1).unwrap();
        // Cancelled after the wake (notified, never polled again).
        {
            let mut r = pin!(rx.recv());
            assert_eq!(poll_once(r.as_mut()), Poll::Ready(Ok(1)));
        }
        {
            let mut r = pin!(rx.recv());
            assert_eq!(poll_once(r.as_mut()), Poll::Pending);
            tx.send(2).unwrap(); // wakes the node
            assert_eq!(tx.statistics().tasks_waiting_receive, 0);
        }
        // The value is still there for the next recv.
        assert_eq!(rx.recv().await, Ok(2));
        assert_eq!(tx.statistics().tasks_waiting_receive, 0);
    });
}

#[test]
fn a_spuriously_polled_waiter_leaves_the_list_when_it_completes() {
    current().block_on(async {
        let (tx, mut rx) = broadcast::channel(4);
        let mut r = pin!(rx.recv());
        assert_eq!(poll_once(r.as_mut()), Poll::Pending);
        assert_eq!(poll_once(r.as_mut()), Poll::Pending); // re-poll: still one waiter
        assert_eq!(tx.statistics().tasks_waiting_receive, 1);
        tx.send(9).unwrap();
        assert_eq!(poll_once(r.as_mut()), Poll::Ready(Ok(9)));
        assert_eq!(tx.statistics().tasks_waiting_receive, 0);
    });
}

#[test]
fn values_are_freed_after_the_last_reader_or_overwrite() {
    current().block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx1) = broadcast::channel(2);
        let mut rx2 = tx.subscribe();
        tx.send(Tracked(drops.clone())).unwrap();
        drop(rx1.recv().await.unwrap()); // a clone: 1 drop
        assert_eq!(drops.load(SeqCst), 1);
        drop(rx2.recv().await.unwrap()); // clone dropped + the held value
        assert_eq!(drops.load(SeqCst), 3);
        assert!(tx.is_empty());

        // Overwritten before anyone reads it: freed by the overwrite.
        drops.store(0, SeqCst);
        for _ in 0..3 {
            tx.send(Tracked(drops.clone())).unwrap();
        }
        assert_eq!(drops.load(SeqCst), 1);

        // A dropped receiver releases what it had not read.
        let (tx, rx1) = broadcast::channel(4);
        let mut rx2 = tx.subscribe();
        let d2 = Arc::new(AtomicUsize::new(0));
        tx.send(Tracked(d2.clone())).unwrap();
        drop(rx2.recv().await.unwrap());
        assert_eq!(d2.load(SeqCst), 1);
        assert_eq!(tx.len(), 1);
        drop(rx1);
        assert_eq!(d2.load(SeqCst), 2);
        assert_eq!(tx.len(), 0);
        // Values sent after a receiver left are not released by it.
        let mut rx3 = tx.subscribe();
        drop(rx2);
        tx.send(Tracked(d2.clone())).unwrap();
        assert_eq!(d2.load(SeqCst), 2);
        drop(rx3.recv().await.unwrap());
        assert_eq!(d2.load(SeqCst), 4);
        drop(tx);
    });
}

#[test]
fn subscribe_and_resubscribe_start_at_the_next_value() {
    current().block_on(async {
        let (tx, mut rx) = broadcast::channel(4);
        tx.send(1).unwrap();
        let mut a = tx.subscribe();
        let mut b = rx.resubscribe();
        assert!(a.is_empty() && b.is_empty());
        assert_eq!(rx.len(), 1);
        tx.send(2).unwrap();
        assert_eq!(a.recv().await, Ok(2));
        assert_eq!(b.recv().await, Ok(2));
        assert_eq!(rx.recv().await, Ok(1));
        assert!(rx.same_channel(&a));
        let (_otx, orx) = broadcast::channel::<i32>(1);
        assert!(!rx.same_channel(&orx));
        assert!(tx.same_channel(&tx.clone()));
    });
}

#[test]
fn statistics_and_lengths() {
    let (tx, rx) = broadcast::channel(3);
    let _rx2 = tx.subscribe();
    assert_eq!(tx.len(), 0);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    let s = rx.statistics();
    assert_eq!(s.current_buffer_used, 2);
    assert_eq!(s.max_buffer_size, 3);
    assert_eq!(s.open_send_streams, 1);
    assert_eq!(s.open_receive_streams, 2);
    assert_eq!(s.tasks_waiting_receive, 0);
    assert!(!s.closed);
    assert!(s.created_at.file().ends_with("broadcast.rs"));
    for i in 3..10 {
        tx.send(i).unwrap();
    }
    assert_eq!(tx.len(), 3); // at most the capacity is held
    assert_eq!(rx.len(), 9); // but the receiver is 9 behind: lagged
    let dbg = format!("{tx:?} {rx:?}");
    assert!(dbg.contains("broadcast::Sender") && dbg.contains("broadcast::Receiver"));
}

#[test]
fn weak_sender_does_not_keep_the_channel_open() {
    current().block_on(async {
        let (tx, mut rx) = broadcast::channel(2);
        let weak = tx.downgrade();
        let weak2 = weak.clone();
        weak.upgrade().unwrap().send(1).unwrap();
        assert_eq!(tx.strong_count(), 1);
        drop(tx);
        assert!(weak2.upgrade().is_none());
        assert_eq!(rx.recv().await, Ok(1));
        assert_eq!(rx.recv().await, Err(RecvError::Closed));
    });
}

#[test]
fn stream_yields_values_lags_and_ends() {
    current().block_on(async {
        let (tx, mut rx) = broadcast::channel(2);
        for i in 0..4 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.next().await, Some(Err(Lagged(2))));
        assert_eq!(rx.next().await, Some(Ok(2)));
        assert_eq!(rx.next().await, Some(Ok(3)));
        let t = corral::spawn(async move {
            corral::yield_now().await;
            tx.send(4).unwrap();
        });
        assert_eq!(rx.next().await, Some(Ok(4)));
        t.await.unwrap();
        assert_eq!(rx.next().await, None);
    });
}

#[test]
fn a_stream_dropped_while_waiting_leaves_no_waiter() {
    let (tx, mut rx) = broadcast::channel::<u8>(2);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(Pin::new(&mut rx).poll_next(&mut cx).is_pending());
    assert_eq!(tx.statistics().tasks_waiting_receive, 1);
    drop(rx);
    assert_eq!(tx.statistics().tasks_waiting_receive, 0);
}

#[test]
fn blocking_recv_and_its_timeout() {
    let (tx, mut rx) = broadcast::channel(2);
    assert_eq!(
        rx.blocking_recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    assert_eq!(tx.statistics().tasks_waiting_receive, 0);
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    assert_eq!(
        rx.blocking_recv_timeout(Duration::from_secs(1)),
        Err(RecvTimeoutError::Lagged(1))
    );
    assert_eq!(rx.blocking_recv(), Ok(1));
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(7).unwrap();
    });
    assert_eq!(rx.blocking_recv(), Ok(2));
    assert_eq!(rx.blocking_recv(), Ok(7));
    t.join().unwrap();
    assert_eq!(rx.blocking_recv(), Err(RecvError::Closed));
    assert_eq!(
        rx.blocking_recv_timeout(Duration::from_secs(1)),
        Err(RecvTimeoutError::Closed)
    );
}

#[test]
fn blocking_recv_panics_on_a_runtime_thread() {
    let (_tx, mut rx) = broadcast::channel::<u8>(2);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        current().block_on(async move {
            let _ = rx.blocking_recv();
        })
    }));
    assert!(r.is_err());
}

#[test]
fn eight_threads_and_tasks_see_every_value() {
    run_with_timeout("broadcast_threads_tasks", 60, || {
        let n = 2000u64;
        let (tx, rx) = broadcast::channel(n as usize); // nobody can lag
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let mut rx = rx.resubscribe();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    loop {
                        match rx.blocking_recv() {
                            Ok(v) => got.push(v),
                            Err(RecvError::Closed) => break got,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        let rt = multi(2);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let mut rx = rx.resubscribe();
                rt.spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        match rx.recv().await {
                            Ok(v) => got.push(v),
                            Err(RecvError::Closed) => break got,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        drop(rx);
        rt.block_on(async move {
            for i in 0..n {
                assert_eq!(tx.send(i), Ok(16));
                if i % 64 == 0 {
                    corral::yield_now().await;
                }
            }
        });
        let want: Vec<u64> = (0..n).collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), want);
        }
        rt.block_on(async move {
            for t in tasks {
                assert_eq!(t.await.unwrap(), want);
            }
        });
    });
}

#[test]
fn foreign_executors_receive() {
    run_with_timeout("broadcast_foreign", 60, || {
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let n = 1000u64;
        let (tx, rx) = broadcast::channel(n as usize);
        let tokio_side: Vec<_> = (0..4)
            .map(|_| {
                let mut rx = rx.resubscribe();
                tokio_rt.spawn(async move {
                    let mut sum = 0;
                    let mut count = 0;
                    while let Ok(v) = rx.recv().await {
                        sum += v;
                        count += 1;
                    }
                    (count, sum)
                })
            })
            .collect();
        let mut rx_plain = rx.resubscribe();
        let plain = std::thread::spawn(move || {
            foreign_block_on(async move {
                let mut count = 0;
                while rx_plain.recv().await.is_ok() {
                    count += 1;
                }
                count
            })
        });
        drop(rx);
        multi(2).block_on(async move {
            for i in 0..n {
                tx.send(i).unwrap();
                if i % 16 == 0 {
                    corral::yield_now().await;
                }
            }
        });
        let want = (n, n * (n - 1) / 2);
        tokio_rt.block_on(async move {
            for t in tokio_side {
                assert_eq!(t.await.unwrap(), want);
            }
        });
        assert_eq!(plain.join().unwrap(), n);
    });
}

/// 16 receivers, one lagging on purpose. The 15 others pace the sender
/// (each has a Semaphore of `cap` permits the sender takes one of per
/// value), so they may never lag and must see every value in order. The
/// slow one sees an increasing sequence whose gaps equal its `Lagged`
/// counts.
#[test]
fn stress_sixteen_receivers_one_lagging() {
    let n = (10_000 * stress() / 200).max(1000) as u64;
    run_with_timeout("broadcast_stress", 120, move || {
        multi(2).block_on(async move {
            let cap = 16usize;
            let (tx, rx) = broadcast::channel::<u64>(cap);
            let pace: Vec<_> = (0..15).map(|_| Arc::new(Semaphore::new(cap))).collect();
            let fast: Vec<_> = pace
                .iter()
                .map(|sem| {
                    let sem = sem.clone();
                    let mut rx = rx.resubscribe();
                    corral::spawn(async move {
                        let mut expect = 0;
                        loop {
                            match rx.recv().await {
                                Ok(v) => {
                                    assert_eq!(v, expect);
                                    expect += 1;
                                    sem.add_permits(1);
                                }
                                Err(RecvError::Closed) => break expect,
                                Err(e) => panic!("a paced receiver lagged: {e}"),
                            }
                        }
                    })
                })
                .collect();
            let mut slow_rx = rx.resubscribe();
            let sent = Arc::new(AtomicU64::new(0));
            let sent_seen = sent.clone();
            let slow = corral::spawn(async move {
                let mut rng = common::Rng(0x9e37_79b9_7f4a_7c15);
                let (mut expect, mut got, mut lagged, mut lag_events) = (0u64, 0u64, 0u64, 0u64);
                // Lag at least once whatever the timing: before the first
                // receive, let the sender overwrite the first value (more
                // than `cap` sends ahead). The random yields below make
                // further lags as the two workers happen to run.
                while sent_seen.load(SeqCst) <= cap as u64 {
                    corral::yield_now().await;
                }
                loop {
                    for _ in 0..rng.below(8) {
                        corral::yield_now().await;
                    }
                    match slow_rx.recv().await {
                        Ok(v) => {
                            assert_eq!(v, expect, "the slow receiver skipped without a Lagged");
                            expect = v + 1;
                            got += 1;
                        }
                        Err(RecvError::Lagged(k)) => {
                            assert!(k > 0);
                            expect += k;
                            lagged += k;
                            lag_events += 1;
                        }
                        Err(RecvError::Closed) => break (expect, got, lagged, lag_events),
                    }
                }
            });
            drop(rx);
            for i in 0..n {
                for sem in &pace {
                    sem.acquire().await.unwrap().forget();
                }
                assert_eq!(tx.send(i), Ok(16));
                sent.store(i + 1, SeqCst);
            }
            drop(tx);
            for f in fast {
                assert_eq!(f.await.unwrap(), n);
            }
            let (expect, got, lagged, lag_events) = slow.await.unwrap();
            assert_eq!(expect, n);
            assert_eq!(got + lagged, n);
            assert!(
                lag_events > 0,
                "the slow receiver was expected to lag at least once"
            );
        });
    });
}

/// `Sender::len` counts the values some receiver has yet to read, with
/// receivers subscribed at different times and at different cursors
/// (the count is a binary search over the ring: check it against the
/// slowest receiver's backlog, lap after lap).
#[test]
fn sender_len_is_the_slowest_receivers_backlog() {
    let (tx, mut a) = broadcast::channel::<u32>(16);
    let mut b = None;
    let mut rng = 0x2545_f491_u32;
    for round in 0..400u32 {
        tx.send(round).unwrap();
        if round == 37 {
            b = Some(tx.subscribe());
        }
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        // `a` reads now and then (and lags); `b` reads most rounds.
        if rng % 3 == 0 {
            while a.try_recv().is_ok() {}
        }
        if let Some(b) = b.as_mut() {
            if rng % 5 != 0 {
                let _ = b.try_recv();
            }
        }
        let backlog = a.len().max(b.as_ref().map_or(0, |b| b.len())).min(16);
        assert_eq!(tx.len(), backlog, "round {round}");
    }
}
