//! mpsc (bounded and unbounded): semantics, every error, FIFO among
//! senders, cancellation at every await point, 8 threads mixed with tasks,
//! a foreign executor, and the stress test (4 producers x 100,000 items at
//! `CORRAL_STRESS=200`, scaled linearly).

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress};
use corral::sync::mpsc::{
    self,
    error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError, ZeroCapacity},
};
use futures_core::Stream;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
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
fn bounded_send_recv_in_order() {
    current().block_on(async {
        let (tx, mut rx) = mpsc::channel(4);
        for i in 0..4 {
            tx.send(i).await.unwrap();
        }
        assert_eq!(rx.len(), 4);
        assert_eq!(tx.capacity(), 0);
        for i in 0..4 {
            assert_eq!(rx.recv().await, Some(i));
        }
        assert!(rx.is_empty());
        assert_eq!(tx.capacity(), 4);
        drop(tx);
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn zero_capacity_is_refused() {
    assert_eq!(mpsc::try_channel::<u8>(0).unwrap_err(), ZeroCapacity);
    let panicked = std::panic::catch_unwind(|| mpsc::channel::<u8>(0));
    assert!(panicked.is_err());
}

#[test]
fn try_send_every_error() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    rx.close();
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    assert_eq!(TrySendError::Full(0).to_string(), "channel full");
    assert_eq!(TrySendError::Closed(0).into_inner(), 0);
    assert_eq!(format!("{:?}", TrySendError::Full(vec![1])), "Full(..)");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(
        SendError(1).to_string(),
        "channel closed: the receiver was closed or dropped"
    );
}

#[test]
fn send_waits_while_full_and_fails_with_the_value_on_close() {
    current().block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(String::from("a")).await.unwrap();
        let tx2 = tx.clone();
        let waiting = corral::spawn(async move { tx2.send(String::from("b")).await });
        settle().await;
        assert_eq!(rx.statistics().tasks_waiting_send, 1);
        rx.close();
        assert_eq!(waiting.await.unwrap(), Err(SendError(String::from("b"))));
        assert_eq!(
            tx.send(String::from("c")).await,
            Err(SendError(String::from("c")))
        );
        assert!(tx.is_closed());
        // Buffered items still drain.
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn waiting_senders_are_served_fifo_and_nobody_barges() {
    run_with_timeout("fifo", 10, || {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let mut a = pin!(tx.send(1));
        let mut b = pin!(tx.send(2));
        let mut c = pin!(tx.send(3));
        assert!(poll_once(a.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());
        assert!(poll_once(c.as_mut()).is_pending());
        assert_eq!(rx.statistics().tasks_waiting_send, 3);
        // Poll the later ones first: the slot still goes to `a`.
        assert_eq!(rx.try_recv(), Ok(0));
        assert!(poll_once(c.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());
        // The slot is reserved for `a`: try_send cannot take it.
        assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
        assert_eq!(poll_once(a.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(poll_once(c.as_mut()), Poll::Pending);
        assert_eq!(poll_once(b.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(poll_once(c.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(3));
    });
}

#[test]
fn cancelled_send_while_waiting_gives_up_its_place() {
    run_with_timeout("cancel_waiting", 10, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(Tracked(drops.clone())).ok().unwrap();
        {
            let mut a = pin!(tx.send(Tracked(drops.clone())));
            assert!(poll_once(a.as_mut()).is_pending());
        } // cancelled: its value is dropped, not sent
        assert_eq!(drops.load(SeqCst), 1);
        assert_eq!(rx.statistics().tasks_waiting_send, 0);
        drop(rx.try_recv().ok().unwrap());
        assert_eq!(tx.capacity(), 1);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    });
}

/// A reserve granted a slot and then cancelled passes the slot to the next
/// waiting sender (it is not lost).
#[test]
fn cancelled_reserve_after_its_slot_was_granted_passes_it_on() {
    run_with_timeout("cancel_granted", 10, || {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let mut b = pin!(tx.send(2));
        {
            let mut a = pin!(tx.reserve());
            assert!(poll_once(a.as_mut()).is_pending());
            assert!(poll_once(b.as_mut()).is_pending());
            assert_eq!(rx.try_recv(), Ok(0)); // the slot is granted to `a`
        } // ... which is cancelled before it runs
        assert_eq!(poll_once(b.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(tx.capacity(), 1);
    });
}

/// The receive that frees a slot pushes the first waiting send's item
/// itself and completes that send: the item is in the queue before the
/// sender runs again (one lock per waiting send, as kanal does).
#[test]
fn receive_that_frees_a_slot_pushes_the_waiting_sends_item() {
    run_with_timeout("pop_completes_send", 10, || {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let mut a = pin!(tx.send(1));
        let mut b = pin!(tx.send(2));
        assert!(poll_once(a.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());
        assert_eq!(rx.try_recv(), Ok(0));
        // `a` has not run since, yet its item is queued, in FIFO order.
        assert_eq!(rx.statistics().current_buffer_used, 1);
        assert_eq!(rx.statistics().tasks_waiting_send, 1);
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(poll_once(a.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(poll_once(b.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(tx.capacity(), 1);
    });
}

/// A thread blocked in `blocking_send` gives its item to the channel: the
/// receive that frees the slot pushes it, so it can be received at once,
/// before the sending thread has even woken (it may still be parked).
#[test]
fn receive_pushes_a_blocked_threads_item() {
    run_with_timeout("pop_completes_blocking_send", 10, || {
        for _ in 0..20 {
            let (tx, mut rx) = mpsc::channel(1);
            tx.try_send(1).unwrap();
            let t = {
                let tx = tx.clone();
                std::thread::spawn(move || tx.blocking_send(2).unwrap())
            };
            while rx.statistics().tasks_waiting_send == 0 {
                std::thread::yield_now();
            }
            assert_eq!(rx.try_recv(), Ok(1));
            assert_eq!(
                rx.try_recv(),
                Ok(2),
                "the blocked send's item is not in the queue yet"
            );
            t.join().unwrap();
            assert_eq!(tx.capacity(), 1);
        }
    });
}

/// A send whose item was pushed for it (by the receive that freed its
/// slot) and that is cancelled before it runs again has sent: the item is
/// received once, not dropped, and no slot leaks.
#[test]
fn cancelled_send_whose_item_was_pushed_counts_as_sent() {
    run_with_timeout("cancel_sent", 10, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(Tracked(drops.clone())).ok().unwrap();
        {
            let mut a = pin!(tx.send(Tracked(drops.clone())));
            assert!(poll_once(a.as_mut()).is_pending());
            drop(rx.try_recv().ok().unwrap()); // frees the slot: `a` sent
            assert_eq!(drops.load(SeqCst), 1);
        } // cancelled after the fact
        assert_eq!(drops.load(SeqCst), 1, "the pushed item was dropped");
        assert!(rx.try_recv().is_ok(), "the cancelled send's item was lost");
        assert_eq!(drops.load(SeqCst), 2);
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        assert_eq!(tx.capacity(), 1);
    });
}

#[test]
fn cancelled_reserve_after_grant_returns_the_slot_to_the_pool() {
    run_with_timeout("cancel_reserve", 10, || {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let held = tx.try_reserve().unwrap();
        {
            let mut r = pin!(tx.reserve());
            assert!(poll_once(r.as_mut()).is_pending());
            drop(held); // granted to `r`
        }
        assert_eq!(tx.capacity(), 1);
        tx.try_send(5).unwrap();
        assert_eq!(rx.try_recv(), Ok(5));
    });
}

#[test]
fn cancelled_recv_loses_nothing() {
    multi(2).block_on(async {
        let (tx, mut rx) = mpsc::channel(8);
        for round in 0..200u32 {
            // A recv raced against a short timeout: whichever wins, no item
            // goes missing.
            let tx2 = tx.clone();
            corral::spawn(async move { tx2.send(round).await.unwrap() });
            let got = match corral::time::timeout(Duration::from_micros(50), rx.recv()).await {
                Ok(v) => v,
                Err(_) => rx.recv().await,
            };
            assert_eq!(got, Some(round));
        }
    });
}

#[test]
fn permits_reserve_send_and_release() {
    current().block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        let p1 = tx.reserve().await.unwrap();
        let p2 = tx.try_reserve().unwrap();
        assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
        assert_eq!(tx.capacity(), 0);
        p1.send(1);
        drop(p2);
        assert_eq!(tx.capacity(), 1);
        assert_eq!(rx.recv().await, Some(1));
        let owned = tx.clone().reserve_owned().await.unwrap();
        let back = owned.send(2);
        assert!(back.same_channel(&tx));
        assert_eq!(rx.recv().await, Some(2));
        let tx = tx.try_reserve_owned().unwrap().release();
        assert_eq!(tx.capacity(), 2);
        rx.close();
        assert!(tx.reserve().await.is_err());
        assert!(matches!(tx.try_reserve(), Err(TrySendError::Closed(()))));
        assert!(matches!(
            tx.clone().try_reserve_owned(),
            Err(TrySendError::Closed(_))
        ));
        assert!(tx.clone().reserve_owned().await.is_err());
    });
}

#[test]
fn a_permit_reserved_before_close_still_delivers() {
    multi(2).block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        let permit = tx.clone().reserve_owned().await.unwrap();
        rx.close();
        assert!(tx.send(0).await.is_err());
        let late = corral::spawn(async move {
            corral::time::sleep(Duration::from_millis(20)).await;
            drop(permit.send(7));
        });
        assert_eq!(rx.recv().await, Some(7)); // waits for the permit
        assert_eq!(rx.recv().await, None);
        late.await.unwrap();
        // A permit dropped unused after close ends the channel too.
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let permit = tx.clone().reserve_owned().await.unwrap();
        rx.close();
        let t = corral::spawn(async move { rx.recv().await });
        settle().await;
        drop(permit);
        assert_eq!(t.await.unwrap(), None);
    });
}

#[test]
fn dropping_the_receiver_drops_buffered_items_and_wakes_senders() {
    current().block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel(1);
        tx.send(Tracked(drops.clone())).await.ok().unwrap();
        let tx2 = tx.clone();
        let d = drops.clone();
        let waiting = corral::spawn(async move { tx2.send(Tracked(d)).await.is_err() });
        settle().await;
        drop(rx);
        assert_eq!(drops.load(SeqCst), 1);
        assert!(waiting.await.unwrap());
        // The refused value came back in the error and was dropped.
        assert_eq!(drops.load(SeqCst), 2);
        assert!(tx.try_reserve().is_err());
        // A permit reserved before the receiver went drops its value when
        // used, and its slot goes back.
        let (tx, rx) = mpsc::channel(2);
        let permit = tx.try_reserve().unwrap();
        drop(rx);
        permit.send(Tracked(drops.clone()));
        assert_eq!(drops.load(SeqCst), 3);
        assert_eq!(tx.capacity(), 2);
    });
}

#[test]
fn senders_counting_weak_and_same_channel() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let weak = tx.downgrade();
    let tx2 = weak.upgrade().unwrap();
    assert_eq!((tx.strong_count(), rx.sender_strong_count()), (2, 2));
    assert!(tx.same_channel(&tx2));
    let (other, _orx) = mpsc::channel::<u8>(1);
    assert!(!tx.same_channel(&other));
    drop(tx);
    assert!(!rx.is_closed());
    drop(tx2);
    assert!(rx.is_closed());
    assert!(weak.upgrade().is_none());
    assert!(weak.clone().upgrade().is_none());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    // A weak sender does not keep the channel open.
    current().block_on(async { assert_eq!(rx.recv().await, None) });
}

#[test]
fn recv_many_takes_up_to_the_limit() {
    current().block_on(async {
        let (tx, mut rx) = mpsc::channel(10);
        for i in 0..7 {
            tx.send(i).await.unwrap();
        }
        let mut buf = vec![100];
        assert_eq!(rx.recv_many(&mut buf, 0).await, 0);
        assert_eq!(rx.recv_many(&mut buf, 5).await, 5);
        assert_eq!(buf, [100, 0, 1, 2, 3, 4]);
        assert_eq!(tx.capacity(), 8);
        buf.clear();
        assert_eq!(rx.recv_many(&mut buf, 5).await, 2);
        drop(tx);
        assert_eq!(rx.recv_many(&mut buf, 5).await, 0);
    });
}

#[test]
fn recv_many_frees_slots_for_many_waiting_senders() {
    // More waiters than one wake batch holds (32).
    multi(2).block_on(async {
        let (tx, mut rx) = mpsc::channel(64);
        for i in 0..64 {
            tx.send(i).await.unwrap();
        }
        let mut senders = Vec::new();
        for i in 64..164 {
            let tx = tx.clone();
            senders.push(corral::spawn(async move { tx.send(i).await.unwrap() }));
        }
        drop(tx);
        let mut all = Vec::new();
        while rx.recv_many(&mut all, 50).await > 0 {}
        for s in senders {
            s.await.unwrap();
        }
        all.sort();
        assert_eq!(all, (0..164).collect::<Vec<_>>());
    });
}

#[test]
fn receiver_is_a_stream() {
    current().block_on(async {
        let (tx, mut rx) = mpsc::channel(4);
        tx.send(1).await.unwrap();
        drop(tx);
        let mut rx = Pin::new(&mut rx);
        let first = std::future::poll_fn(|cx| rx.as_mut().poll_next(cx)).await;
        assert_eq!(first, Some(1));
        assert_eq!(std::future::poll_fn(|cx| rx.as_mut().poll_next(cx)).await, None);
    });
    let (_tx, rx) = mpsc::unbounded_channel::<u8>();
    assert_eq!(rx.size_hint(), (0, None));
}

#[test]
fn blocking_send_and_recv_from_threads() {
    run_with_timeout("blocking", 20, || {
        let (tx, mut rx) = mpsc::channel(2);
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        tx.blocking_send(p * 1000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = rx.blocking_recv() {
            got.push(v);
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(got.len(), 2000);
        // Per producer, FIFO.
        for p in 0..4 {
            let mine: Vec<_> = got.iter().filter(|v| **v / 1000 == p).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]));
        }

        let (tx, mut rx) = mpsc::channel(1);
        tx.blocking_send_timeout(1, Duration::from_secs(1)).unwrap();
        assert_eq!(
            tx.blocking_send_timeout(2, Duration::from_millis(5)),
            Err(SendTimeoutError::Timeout(2))
        );
        // The timed-out sender left no waiter and took no slot.
        assert_eq!(rx.statistics().tasks_waiting_send, 0);
        assert_eq!(rx.blocking_recv_timeout(Duration::from_secs(1)), Ok(1));
        assert_eq!(
            rx.blocking_recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout)
        );
        assert_eq!(tx.capacity(), 1);
        drop(tx);
        assert_eq!(
            rx.blocking_recv_timeout(Duration::from_secs(1)),
            Err(RecvTimeoutError::Disconnected)
        );
    });
}

/// A blocking receive whose timeout races a send: the item is returned
/// or still in the channel, never lost (many rounds, timeouts around the
/// send's moment), on both flavours; a blocking send whose timeout races a
/// receive either sent its item (then it is received) or got it back.
#[test]
fn blocking_timeouts_racing_the_other_side_lose_nothing() {
    run_with_timeout("timeout_races", 60, || {
        let rounds = 300;
        let (tx, mut rx) = mpsc::channel::<usize>(1);
        let (utx, mut urx) = mpsc::unbounded_channel::<usize>();
        for i in 0..rounds {
            let wait = Duration::from_micros(20 + (i % 7) as u64 * 15);
            std::thread::scope(|s| {
                let sender = s.spawn(|| {
                    std::thread::sleep(Duration::from_micros(((i * 37) % 120) as u64));
                    tx.blocking_send(i).unwrap();
                    utx.send(i).unwrap();
                });
                let got = rx.blocking_recv_timeout(wait).ok();
                let ugot = urx.blocking_recv_timeout(wait).ok();
                sender.join().unwrap();
                // Every item was returned or is still there, exactly once.
                let rest = rx.try_recv().ok();
                assert_eq!(
                    got.xor(rest),
                    Some(i),
                    "round {i}: lost or doubled ({got:?}, {rest:?})"
                );
                let urest = urx.try_recv().ok();
                assert_eq!(
                    ugot.xor(urest),
                    Some(i),
                    "round {i}: unbounded ({ugot:?}, {urest:?})"
                );
            });
            assert_eq!(rx.statistics().tasks_waiting_receive, 0);
            assert_eq!(tx.capacity(), 1, "round {i}: a slot leaked");
        }

        // Senders timing out against a receiver that frees the slot.
        let (tx, mut rx) = mpsc::channel::<usize>(1);
        let mut sent = 0;
        let mut back = 0;
        for i in 0..rounds {
            tx.try_send(usize::MAX).unwrap(); // full
            let res = std::thread::scope(|s| {
                let r = s.spawn(|| {
                    std::thread::sleep(Duration::from_micros(((i * 37) % 120) as u64));
                    rx.blocking_recv().unwrap()
                });
                let res = tx.blocking_send_timeout(i, Duration::from_micros(20 + (i % 7) as u64 * 15));
                assert_eq!(r.join().unwrap(), usize::MAX);
                res
            });
            match res {
                // Sent: the item is in the channel.
                Ok(()) => {
                    sent += 1;
                    assert_eq!(rx.try_recv(), Ok(i), "round {i}: sent but not there");
                }
                // Not sent: the item came back, and is not in the channel.
                Err(SendTimeoutError::Timeout(v)) => {
                    assert_eq!(v, i);
                    back += 1;
                }
                Err(e) => panic!("round {i}: {e:?}"),
            }
            assert!(rx.is_empty(), "round {i}");
            assert_eq!(tx.statistics().tasks_waiting_send, 0);
            assert_eq!(tx.capacity(), 1, "round {i}: a slot leaked");
        }
        assert_eq!(sent + back, rounds);
    });
}

/// A thread blocked in `blocking_recv` wakes with the end when the last
/// sender is dropped; a thread
/// blocked in `blocking_send` on a full channel wakes with its value back
/// when the receiver closes or is dropped.
#[test]
fn blocked_threads_wake_on_close_or_drop_of_the_other_side() {
    run_with_timeout("blocked_wake", 20, || {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let t = std::thread::spawn(move || rx.blocking_recv());
        wait_until(|| tx.statistics().tasks_waiting_receive == 1);
        drop(tx);
        assert_eq!(t.join().unwrap(), None);

        let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
        let t = std::thread::spawn(move || rx.blocking_recv_timeout(Duration::from_secs(30)));
        wait_until(|| tx.statistics().tasks_waiting_receive == 1);
        drop(tx);
        assert_eq!(t.join().unwrap(), Err(RecvTimeoutError::Disconnected));

        for close in [true, false] {
            let (tx, mut rx) = mpsc::channel::<u8>(1);
            tx.try_send(1).unwrap();
            let tx2 = tx.clone();
            let t = std::thread::spawn(move || tx2.blocking_send(2));
            let tx3 = tx.clone();
            let t2 = std::thread::spawn(move || tx3.blocking_send_timeout(3, Duration::from_secs(30)));
            wait_until(|| tx.statistics().tasks_waiting_send == 2);
            if close {
                rx.close();
                assert_eq!(rx.blocking_recv(), Some(1));
                assert_eq!(rx.blocking_recv(), None);
            } else {
                drop(rx);
            }
            assert_eq!(t.join().unwrap(), Err(SendError(2)));
            assert_eq!(t2.join().unwrap(), Err(SendTimeoutError::Closed(3)));
        }
    });
}

fn wait_until(mut f: impl FnMut() -> bool) {
    while !f() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn blocking_calls_on_a_runtime_thread_panic() {
    let rt = current();
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { tx.blocking_send(1) })
    }));
    assert!(refused.is_err());
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { rx.blocking_recv() })
    }));
    assert!(refused.is_err());
}

#[test]
fn send_timeout_async() {
    current().block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send_timeout(1, Duration::from_millis(5)).await.unwrap();
        assert_eq!(
            tx.send_timeout(2, Duration::from_millis(5)).await,
            Err(SendTimeoutError::Timeout(2))
        );
        assert_eq!(rx.statistics().tasks_waiting_send, 0);
        assert_eq!(rx.recv().await, Some(1));
        rx.close();
        assert_eq!(
            tx.send_timeout(3, Duration::from_millis(5)).await,
            Err(SendTimeoutError::Closed(3))
        );
        assert_eq!(
            SendTimeoutError::Timeout(0).to_string(),
            "timed out waiting for a free slot"
        );
    });
}

#[test]
fn statistics_and_debug() {
    current().block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        assert_eq!(tx.statistics().current_buffer_used, 1);
        let waiter = corral::spawn(async move { rx.recv_many(&mut Vec::new(), 0).await });
        waiter.await.unwrap();
        let s = tx.statistics();
        assert_eq!(s.current_buffer_used, 0); // dropped with the receiver
        assert_eq!(s.max_buffer_size, Some(2));
        assert_eq!(s.open_send_streams, 1);
        assert!(s.closed); // the receiver was dropped with the task
        assert!(format!("{tx:?}").contains("mpsc::Sender"));
    });
    current().block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
        let t = corral::spawn(async move {
            let v = rx.recv().await;
            (v, rx)
        });
        settle().await;
        assert_eq!(tx.statistics().tasks_waiting_receive, 1);
        tx.send(1).unwrap();
        let (v, rx) = t.await.unwrap();
        assert_eq!(v, Some(1));
        assert_eq!(rx.statistics().tasks_waiting_receive, 0);
        assert!(rx.created_at().file().ends_with("mpsc.rs"));
    });
}

#[test]
fn unbounded_semantics() {
    current().block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.len(), 10_000);
        let weak = tx.downgrade();
        let tx2 = weak.upgrade().unwrap();
        assert!(tx2.same_channel(&tx));
        assert_eq!(tx.strong_count(), 2);
        drop(tx2);
        for i in 0..10_000 {
            assert_eq!(rx.recv().await, Some(i));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        rx.close();
        assert_eq!(tx.send(1), Err(SendError(1)));
        assert!(tx.is_closed());
        assert_eq!(rx.recv().await, None);
        drop(tx);
        assert!(weak.upgrade().is_none());
    });
}

#[test]
fn eight_threads_mixed_with_tasks() {
    run_with_timeout("threads_tasks", 60, || {
        let per = 2_000usize;
        let rt = multi(2);
        let (tx, mut rx) = mpsc::channel(8);
        let (utx, mut urx) = mpsc::unbounded_channel();
        let mut threads = Vec::new();
        for t in 0..8usize {
            let tx = tx.clone();
            let utx = utx.clone();
            threads.push(std::thread::spawn(move || {
                for i in 0..per {
                    tx.blocking_send(t * per + i).unwrap();
                    utx.send(t * per + i).unwrap();
                }
            }));
        }
        let mut tasks = Vec::new();
        for t in 8..12usize {
            let tx = tx.clone();
            let utx = utx.clone();
            tasks.push(rt.spawn(async move {
                for i in 0..per {
                    tx.send(t * per + i).await.unwrap();
                    utx.send(t * per + i).unwrap();
                    if i % 64 == 0 {
                        corral::yield_now().await;
                    }
                }
            }));
        }
        drop((tx, utx));
        let total = rt.block_on(async move {
            let consumer = corral::spawn(async move {
                let mut seen = vec![false; 12 * per];
                while let Some(v) = rx.recv().await {
                    assert!(!std::mem::replace(&mut seen[v], true), "{v} delivered twice");
                }
                seen.iter().filter(|s| **s).count()
            });
            for t in tasks {
                t.await.unwrap();
            }
            consumer.await.unwrap()
        });
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(total, 12 * per);
        let mut n = 0;
        while urx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, 12 * per);
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
        let (tx, mut rx) = mpsc::channel(4);
        let n = rt.block_on(async move {
            for p in 0..4u32 {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for i in 0..2_000u32 {
                        tx.send(p * 10_000 + i).await.unwrap();
                        if i % 100 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                });
            }
            drop(tx);
            let mut n = 0;
            let mut last = [None::<u32>; 4];
            while let Some(v) = rx.recv().await {
                let p = (v / 10_000) as usize;
                assert!(last[p] < Some(v), "per-producer order");
                last[p] = Some(v);
                n += 1;
            }
            n
        });
        assert_eq!(n, 8_000);
        // A plain poller (another executor) on this thread.
        let (tx, mut rx) = mpsc::channel(1);
        let t = std::thread::spawn(move || {
            for i in 0..100 {
                foreign_block_on(tx.send(i)).unwrap();
            }
        });
        let mut got = 0;
        while foreign_block_on(rx.recv()).is_some() {
            got += 1;
        }
        t.join().unwrap();
        assert_eq!(got, 100);
    });
}

/// 4 producers x 100,000 items (at CORRAL_STRESS=200) through a bounded
/// channel of 16, with producers' sends cancelled at random at their first
/// await point. A cancelled send carries a ghost value of its own (`v` +
/// `4 * per`): it may have sent (the receive that freed its slot pushed it)
/// or not, so its item is retried as `v`. Every item arrives exactly once,
/// and every ghost at most once.
#[test]
fn stress_four_producers_exactly_once() {
    run_with_timeout("mpsc_stress", 120, || {
        let per = (100_000 * stress() / 200).max(1000);
        let rt = multi(2);
        let (tx, mut rx) = mpsc::channel::<usize>(16);
        rt.block_on(async move {
            for p in 0..4usize {
                let tx = tx.clone();
                corral::spawn(async move {
                    let mut seed = p as u64 + 1;
                    for i in 0..per {
                        let v = p * per + i;
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        if seed % 97 == 0 {
                            // Cancel a send (of the ghost) at its first
                            // await point.
                            let mut f = pin!(tx.send(v + 4 * per));
                            let r = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
                            if let Poll::Ready(r) = r {
                                r.unwrap();
                            }
                        }
                        tx.send(v).await.unwrap();
                    }
                });
            }
            drop(tx);
            let mut seen = vec![false; 8 * per];
            let mut n = 0;
            while let Some(v) = rx.recv().await {
                assert!(!std::mem::replace(&mut seen[v], true), "{v} delivered twice");
                n += usize::from(v < 4 * per);
            }
            assert_eq!(n, 4 * per, "items lost");
        });
    });
}

use std::future::Future;

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (tx, mut rx) = mpsc::channel::<String>(1);
    let (utx, urx) = mpsc::unbounded_channel::<String>();
    send_sync(&tx);
    send_sync(&tx.downgrade());
    send_sync(&rx);
    send_sync(&utx);
    send_sync(&urx);
    send(&tx.send(String::new()));
    send(&tx.reserve());
    send(&tx.clone().reserve_owned());
    send(&rx.recv());
    send_sync(&tx.try_reserve().unwrap());
    let (otx, orx) = corral::sync::oneshot::channel::<String>();
    send_sync(&otx);
    send_sync(&orx);
}

#[test]
fn sender_closed_waits_for_the_receiver_to_close() {
    multi(2).block_on(async {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let watchers: Vec<_> = (0..40)
            .map(|_| {
                let tx = tx.clone();
                corral::spawn(async move { tx.closed().await })
            })
            .collect();
        // One cancelled watcher changes nothing.
        {
            let mut c = pin!(tx.closed());
            assert!(poll_once(c.as_mut()).is_pending());
        }
        settle().await;
        assert!(!tx.is_closed());
        rx.close();
        for w in watchers {
            w.await.unwrap();
        }
        tx.closed().await; // at once, after the close
        let (utx, urx) = mpsc::unbounded_channel::<u8>();
        let w = corral::spawn(async move { utx.closed().await });
        settle().await;
        drop(urx);
        w.await.unwrap();
    });
}
