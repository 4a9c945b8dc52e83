//! Loom models of Queue's handoff, cancellation and close paths, driving
//! the public API (corral-sync's lock and corral-runtime's wait list switch
//! to loom's types under the flag).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-sync --test loom_queue --target-dir target/loom`
//!
//! Each model accounts for every item: received by a getter, handed back
//! in an error, dropped by a cancelled put that never delivered it, or left
//! in the queue; none is seen twice and none vanishes.

#![cfg(loom)]

use corral_sync::{BlockingGetError, Queue, QueueClosed};
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

fn drain<T>(q: &Queue<T>) -> Vec<T> {
    std::iter::from_fn(|| q.get_nowait().ok()).collect()
}

/// An item is put while one getter is cancelled (possibly after the item
/// was handed to it), another waits, and the queue closes: the item ends
/// with exactly one getter or back in the queue.
#[test]
fn queue_put_vs_get_vs_close_vs_cancel() {
    loom::model(|| {
        let q = Queue::unbounded();

        let q1 = q.clone();
        let cancelled = thread::spawn(move || {
            let mut get = pin!(q1.get());
            match poll_once(get.as_mut()) {
                Poll::Ready(Ok(x)) => vec![x],
                _ => vec![], // dropped here: queued, handed the item, or closed
            }
        });
        let q2 = q.clone();
        let waiter = thread::spawn(move || match loom::future::block_on(q2.get()) {
            Ok(x) => vec![x],
            Err(QueueClosed) => vec![],
        });

        q.put_nowait(1).unwrap();
        q.close();
        let mut seen = cancelled.join().unwrap();
        seen.extend(waiter.join().unwrap());
        seen.extend(drain(&q));
        assert_eq!(seen, [1], "the item was lost or duplicated");
        let s = q.statistics();
        assert_eq!((s.tasks_waiting_receive, s.current_buffer_used), (0, 0));
    });
}

/// A putter waits on a full queue, is polled again, and is cancelled while a getter makes
/// room (taking its item, or not yet) and the queue closes: the buffered
/// item reaches the getter or stays; the putter's item is delivered once
/// or was never taken.
#[test]
fn queue_putter_cancel_vs_get_vs_close() {
    loom::model(|| {
        let q = Queue::with_maxsize(1);
        q.put_nowait(0).unwrap();

        let q1 = q.clone();
        let putter = thread::spawn(move || {
            let mut put = pin!(q1.put(1));
            let mut r = poll_once(put.as_mut());
            if r.is_pending() {
                thread::yield_now();
                r = poll_once(put.as_mut()); // taken, closed, or still waiting
            }
            match r {
                Poll::Ready(Ok(())) => Some(true),
                Poll::Ready(Err(e)) => {
                    assert_eq!(e.into_inner(), 1);
                    Some(false)
                }
                Poll::Pending => None, // cancelled: delivered or not, unknown here
            }
        });
        let q2 = q.clone();
        let getter = thread::spawn(move || q2.get_nowait().ok());

        q.close();
        let put_done = putter.join().unwrap();
        let mut seen: Vec<_> = getter.join().unwrap().into_iter().collect();
        seen.extend(drain(&q));
        seen.sort_unstable();
        match put_done {
            Some(true) => assert_eq!(seen, [0, 1]),
            Some(false) => assert_eq!(seen, [0]),
            None => assert!(seen == [0] || seen == [0, 1], "{seen:?}"),
        }
        assert_eq!(q.statistics().tasks_waiting_send, 0);
    });
}

/// A blocking get times out while an item is put: the item is either the
/// getter's (the wake raced the timeout and won) or still in the queue.
#[test]
fn queue_blocking_get_timeout_vs_put() {
    loom::model(|| {
        let q = Queue::with_maxsize(0);
        let q1 = q.clone();
        let getter = thread::spawn(move || q1.blocking_get_timeout(Duration::from_millis(1)));

        let put = q.put_nowait(7); // succeeds only if the getter waits
        let got = getter.join().unwrap();
        let mut seen: Vec<_> = got.ok().into_iter().collect();
        seen.extend(drain(&q));
        match put {
            Ok(()) => assert_eq!(seen, [7], "the handed item was lost"),
            Err(e) => {
                assert_eq!(e.into_inner(), 7);
                assert_eq!(got, Err(BlockingGetError::Timeout));
            }
        }
        assert_eq!(q.statistics().tasks_waiting_receive, 0);
    });
}
