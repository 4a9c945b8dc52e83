//! Queue: semantics and every error, FIFO and direct handoff, rendezvous,
//! LIFO and priority order, close, task_done / join, cancellation at every
//! await point, the stream, OS threads mixed with tasks, a foreign
//! executor, and the cancelling stress test (`CORRAL_STRESS` x 500 items
//! per producer, default 100,000).

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress, Rng};
use corral::io::StreamExt;
use corral::sync::{
    BlockingGetError, BlockingPutError, PutError, Queue, QueueClosed, TryGetError, TryPutError,
};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

fn drain<T>(q: &Queue<T>) -> Vec<T> {
    std::iter::from_fn(|| q.get_nowait().ok()).collect()
}

#[test]
fn fifo_put_get_and_sizes() {
    current().block_on(async {
        let q = Queue::with_maxsize(3);
        assert_eq!(
            (q.qsize(), q.empty(), q.full(), q.maxsize()),
            (0, true, false, Some(3))
        );
        for i in 0..3 {
            q.put(i).await.unwrap();
        }
        assert_eq!((q.qsize(), q.empty(), q.full()), (3, false, true));
        assert_eq!(q.put_nowait(9), Err(TryPutError::QueueFull(9)));
        assert_eq!(q.get().await, Ok(0));
        assert!(!q.full());
        assert_eq!(drain(&q), [1, 2]);
        assert_eq!(q.get_nowait(), Err(TryGetError::QueueEmpty));
        let u = Queue::unbounded();
        for i in 0..10_000 {
            u.put_nowait(i).unwrap();
        }
        assert!(!u.full());
        assert_eq!(u.maxsize(), None);
        assert_eq!(drain(&u), (0..10_000).collect::<Vec<_>>());
    });
}

#[test]
fn error_messages_and_items_handed_back() {
    let q = Queue::with_maxsize(1);
    q.put_nowait("a").unwrap();
    let full = q.put_nowait("b").unwrap_err();
    assert_eq!(full.to_string(), "queue full");
    assert_eq!(format!("{full:?}"), "QueueFull(..)");
    assert_eq!(full.into_inner(), "b");
    q.close();
    let closed = q.put_nowait("c").unwrap_err();
    assert_eq!(
        (closed.to_string(), closed.into_inner()),
        ("queue closed".into(), "c")
    );
    assert_eq!(q.get_nowait(), Ok("a"));
    assert_eq!(q.get_nowait().unwrap_err().to_string(), "queue closed");
    assert_eq!(TryGetError::QueueEmpty.to_string(), "queue empty");
    assert_eq!(QueueClosed.to_string(), "queue closed");
    let e = q.blocking_put("d").unwrap_err();
    assert_eq!((e.to_string(), e.0), ("queue closed".into(), "d"));
    assert_eq!(q.blocking_get(), Err(QueueClosed));
    assert_eq!(
        q.blocking_get_timeout(Duration::from_millis(1)),
        Err(BlockingGetError::Closed)
    );
    assert_eq!(
        q.blocking_put_timeout("e", Duration::from_millis(1)),
        Err(BlockingPutError::Closed("e"))
    );
    let t = q.task_done();
    assert!(t.is_ok(), "one item was put"); // "a"
    assert_eq!(
        q.task_done().unwrap_err().to_string(),
        "task_done called more times than items were put"
    );
}

#[test]
fn lifo_and_priority_order_with_ties_in_put_order() {
    let l = Queue::lifo(usize::MAX);
    for i in 0..5 {
        l.put_nowait(i).unwrap();
    }
    assert_eq!(drain(&l), [4, 3, 2, 1, 0]);

    #[derive(Debug, PartialEq, Eq)]
    struct Job(u8, &'static str);
    impl Ord for Job {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            self.0.cmp(&o.0) // priority only: the name does not order
        }
    }
    impl PartialOrd for Job {
        fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(o))
        }
    }
    let p = Queue::priority(usize::MAX);
    for (prio, name) in [(2, "c"), (1, "a"), (2, "d"), (0, "z"), (1, "b"), (2, "e")] {
        p.put_nowait(Job(prio, name)).unwrap();
    }
    let names: Vec<_> = drain(&p).into_iter().map(|j| j.1).collect();
    assert_eq!(names, ["z", "a", "b", "c", "d", "e"]);
    // Bounded priority: a full one refuses.
    let b = Queue::priority(1);
    b.put_nowait(5).unwrap();
    assert_eq!(b.put_nowait(1), Err(TryPutError::QueueFull(1)));
}

#[test]
fn put_waits_while_full_and_putters_are_served_in_order() {
    run_with_timeout("putters_fifo", 10, || {
        current().block_on(async {
            let q = Queue::with_maxsize(1);
            q.put(0).await.unwrap();
            let putters: Vec<_> = (1..=3)
                .map(|i| {
                    let q = q.clone();
                    corral::spawn(async move { q.put(i).await.unwrap() })
                })
                .collect();
            settle().await;
            assert_eq!(q.statistics().tasks_waiting_send, 3);
            // No barging: a put_nowait cannot overtake the waiting putters.
            assert_eq!(q.put_nowait(99), Err(TryPutError::QueueFull(99)));
            let mut got = Vec::new();
            for _ in 0..4 {
                got.push(q.get().await.unwrap());
                settle().await;
            }
            assert_eq!(got, [0, 1, 2, 3]);
            for p in putters {
                p.await.unwrap();
            }
            assert_eq!(q.statistics().unfinished_tasks, 4);
        });
    });
}

#[test]
fn getters_are_served_in_order_by_direct_handoff() {
    run_with_timeout("getters_fifo", 10, || {
        current().block_on(async {
            let q = Queue::unbounded();
            let order = Arc::new(StdMutex::new(Vec::new()));
            let getters: Vec<_> = (0..3)
                .map(|i| {
                    let (q, order) = (q.clone(), order.clone());
                    corral::spawn(async move {
                        let item = q.get().await.unwrap();
                        order.lock().unwrap().push((i, item));
                    })
                })
                .collect();
            settle().await;
            assert_eq!(q.statistics().tasks_waiting_receive, 3);
            for item in ["a", "b", "c"] {
                q.put(item).await.unwrap();
                // Handed straight to a getter: never buffered, and a
                // get_nowait cannot snatch it.
                assert_eq!(q.qsize(), 0);
                assert_eq!(q.get_nowait(), Err(TryGetError::QueueEmpty));
            }
            for g in getters {
                g.await.unwrap();
            }
            assert_eq!(*order.lock().unwrap(), [(0, "a"), (1, "b"), (2, "c")]);
        });
    });
}

#[test]
fn rendezvous_put_waits_for_a_getter() {
    run_with_timeout("rendezvous", 10, || {
        current().block_on(async {
            let q = Queue::with_maxsize(0);
            assert!(q.full());
            assert_eq!(q.put_nowait(1), Err(TryPutError::QueueFull(1)));
            let done = Arc::new(AtomicUsize::new(0));
            let putter = {
                let (q, done) = (q.clone(), done.clone());
                corral::spawn(async move {
                    q.put(7).await.unwrap();
                    done.store(1, SeqCst);
                })
            };
            settle().await;
            assert_eq!(done.load(SeqCst), 0, "a rendezvous put finished with no getter");
            assert_eq!((q.qsize(), q.statistics().tasks_waiting_send), (0, 1));
            assert_eq!(q.get_nowait(), Ok(7)); // taken from the waiting putter
            putter.await.unwrap();
            assert_eq!(done.load(SeqCst), 1);
            // A waiting getter makes put_nowait succeed.
            let getter = {
                let q = q.clone();
                corral::spawn(async move { q.get().await.unwrap() })
            };
            settle().await;
            assert!(!q.full());
            q.put_nowait(8).unwrap();
            assert_eq!(getter.await.unwrap(), 8);
        });
    });
}

#[test]
fn close_fails_putters_with_their_item_drains_then_fails_getters() {
    run_with_timeout("close", 10, || {
        current().block_on(async {
            let q = Queue::with_maxsize(1);
            q.put(1).await.unwrap();
            let putter = {
                let q = q.clone();
                corral::spawn(async move { q.put(2).await })
            };
            settle().await;
            q.close();
            q.close(); // idempotent
            assert_eq!(putter.await.unwrap().map_err(|e| e.0), Err(2));
            assert_eq!(q.put(3).await.map_err(PutError::into_inner), Err(3));
            assert_eq!(q.get().await, Ok(1));
            assert_eq!(q.get().await, Err(QueueClosed));
            assert!(q.is_closed() && q.statistics().closed);

            // A getter waiting on an empty queue fails at once.
            let q = Queue::<u8>::unbounded();
            let getters: Vec<_> = (0..40) // more than one wake chunk
                .map(|_| {
                    let q = q.clone();
                    corral::spawn(async move { q.get().await })
                })
                .collect();
            settle().await;
            assert_eq!(q.statistics().tasks_waiting_receive, 40);
            q.close();
            for g in getters {
                assert_eq!(g.await.unwrap(), Err(QueueClosed));
            }
        });
    });
}

#[test]
fn task_done_and_join() {
    run_with_timeout("join", 10, || {
        current().block_on(async {
            let q = Queue::unbounded();
            q.join().await; // nothing unfinished
            for i in 0..3 {
                q.put(i).await.unwrap();
            }
            let joined = Arc::new(AtomicUsize::new(0));
            let joiners: Vec<_> = (0..2)
                .map(|_| {
                    let (q, joined) = (q.clone(), joined.clone());
                    corral::spawn(async move {
                        q.join().await;
                        joined.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            settle().await;
            assert_eq!(q.statistics().tasks_waiting_join, 2);
            for _ in 0..3 {
                q.get().await.unwrap();
            }
            q.task_done().unwrap();
            q.task_done().unwrap();
            settle().await;
            assert_eq!(joined.load(SeqCst), 0, "join returned with an item unfinished");
            q.task_done().unwrap();
            for j in joiners {
                j.await.unwrap();
            }
            assert_eq!(joined.load(SeqCst), 2);
            assert!(q.task_done().is_err());
            // A cancelled join takes nothing from the others.
            q.put(1).await.unwrap();
            {
                let mut j = pin!(q.join());
                assert!(poll_once(j.as_mut()).is_pending());
            }
            assert_eq!(q.statistics().tasks_waiting_join, 0);
            q.get().await.unwrap();
            q.task_done().unwrap();
            q.join().await;
        });
    });
}

#[test]
fn blocking_join_from_a_thread() {
    run_with_timeout("blocking_join", 10, || {
        let q = Queue::unbounded();
        q.put_nowait(1).unwrap();
        assert!(q.blocking_join_timeout(Duration::from_millis(5)).is_err());
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.blocking_join());
        std::thread::sleep(Duration::from_millis(20));
        q.get_nowait().unwrap();
        q.task_done().unwrap();
        t.join().unwrap();
        assert!(q.blocking_join_timeout(Duration::from_millis(5)).is_ok());
    });
}

// ---- cancellation ----

#[test]
fn cancelled_getter_gives_its_item_back_to_the_head() {
    let q = Queue::with_maxsize(2);
    {
        let mut g = pin!(q.get());
        assert!(poll_once(g.as_mut()).is_pending());
        q.put_nowait(1).unwrap(); // handed to g
        q.put_nowait(2).unwrap();
        q.put_nowait(3).unwrap();
        assert_eq!(q.qsize(), 2);
    } // g dropped: 1 goes back in front, even above maxsize
    assert_eq!(q.qsize(), 3);
    assert_eq!(drain(&q), [1, 2, 3]);
    assert_eq!(q.statistics().unfinished_tasks, 3);
}

#[test]
fn cancelled_getter_passes_its_item_to_the_next_getter() {
    let q = Queue::unbounded();
    let mut g2 = pin!(q.get());
    {
        let mut g1 = pin!(q.get());
        assert!(poll_once(g1.as_mut()).is_pending());
        assert!(poll_once(g2.as_mut()).is_pending());
        q.put_nowait("x").unwrap(); // handed to g1
    }
    assert_eq!(q.qsize(), 0);
    assert_eq!(poll_once(g2.as_mut()), Poll::Ready(Ok("x")));
}

#[test]
fn cancelled_getter_item_goes_back_on_top_for_lifo_and_in_place_for_priority() {
    let l = Queue::lifo(usize::MAX);
    {
        let mut g = pin!(l.get());
        assert!(poll_once(g.as_mut()).is_pending());
        l.put_nowait(1).unwrap();
        l.put_nowait(2).unwrap();
    }
    assert_eq!(drain(&l), [1, 2]); // 1 was next out when handed over

    let p = Queue::priority(usize::MAX);
    {
        let mut g = pin!(p.get());
        assert!(poll_once(g.as_mut()).is_pending());
        p.put_nowait((5, 'a')).unwrap(); // handed to g
        p.put_nowait((9, 'b')).unwrap();
        p.put_nowait((1, 'c')).unwrap();
    }
    assert_eq!(drain(&p), [(1, 'c'), (5, 'a'), (9, 'b')]);
}

#[test]
fn cancelled_getter_on_a_closed_queue_returns_its_item_for_draining() {
    let q = Queue::unbounded();
    {
        let mut g = pin!(q.get());
        assert!(poll_once(g.as_mut()).is_pending());
        q.put_nowait(1).unwrap();
        q.close();
    }
    assert_eq!(q.get_nowait(), Ok(1));
    assert_eq!(q.get_nowait(), Err(TryGetError::Closed));
}

#[test]
fn cancelled_putter_after_its_item_was_taken_loses_nothing() {
    let q = Queue::with_maxsize(1);
    q.put_nowait(1).unwrap();
    {
        let mut p = pin!(q.put(2));
        assert!(poll_once(p.as_mut()).is_pending());
        assert_eq!(q.get_nowait(), Ok(1)); // 2 moves in from p
    } // p dropped after delivery
    assert_eq!(q.get_nowait(), Ok(2));
    // Rendezvous: taken straight from the putter, then it is dropped.
    let r = Queue::with_maxsize(0);
    {
        let mut p = pin!(r.put("x"));
        assert!(poll_once(p.as_mut()).is_pending());
        assert_eq!(r.get_nowait(), Ok("x"));
    }
    assert_eq!(r.get_nowait(), Err(TryGetError::QueueEmpty));
}

#[test]
fn cancelled_waiting_putter_leaves_the_queue_as_it_was() {
    let q = Queue::with_maxsize(1);
    q.put_nowait(1).unwrap();
    let mut p3 = pin!(q.put(3));
    {
        let mut p2 = pin!(q.put(2));
        assert!(poll_once(p2.as_mut()).is_pending());
        assert!(poll_once(p3.as_mut()).is_pending());
        assert_eq!(q.statistics().tasks_waiting_send, 2);
    } // p2 gives up: its item drops with it
    assert_eq!(q.statistics().tasks_waiting_send, 1);
    assert_eq!(q.get_nowait(), Ok(1));
    assert_eq!(poll_once(p3.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(q.get_nowait(), Ok(3));
    assert_eq!(q.statistics().unfinished_tasks, 2);
}

#[test]
fn a_get_polled_with_a_new_waker_still_gets_its_item() {
    run_with_timeout("rewaker", 10, || {
        let q = Queue::unbounded();
        let mut g = pin!(q.get());
        assert!(poll_once(g.as_mut()).is_pending());
        let q2 = q.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            q2.put_nowait(5).unwrap();
        });
        assert_eq!(foreign_block_on(g), Ok(5));
        t.join().unwrap();
    });
}

// ---- stream ----

#[test]
fn stream_yields_items_until_closed_and_drained() {
    run_with_timeout("stream", 10, || {
        current().block_on(async {
            let q = Queue::with_maxsize(2);
            let producer = {
                let q = q.clone();
                corral::spawn(async move {
                    for i in 0..10 {
                        q.put(i).await.unwrap();
                    }
                    q.close();
                })
            };
            let got: Vec<_> = q.stream().collect().await;
            producer.await.unwrap();
            assert_eq!(got, (0..10).collect::<Vec<_>>());
            // A stream dropped after an item was handed to it gives it back.
            let q = Queue::unbounded();
            {
                let mut s = pin!(q.stream());
                assert!(poll_once(pin!(s.next())).is_pending());
                q.put_nowait(1).unwrap();
            }
            assert_eq!(q.get_nowait(), Ok(1));
        });
    });
}

// ---- statistics ----

#[test]
fn statistics_and_creation_site() {
    let q = Queue::with_maxsize(2);
    let line = line!() - 1;
    q.put_nowait(1).unwrap();
    let s = q.statistics();
    assert_eq!(s.current_buffer_used, 1);
    assert_eq!(s.max_buffer_size, Some(2));
    assert_eq!(
        (
            s.tasks_waiting_send,
            s.tasks_waiting_receive,
            s.tasks_waiting_join
        ),
        (0, 0, 0)
    );
    assert_eq!((s.unfinished_tasks, s.closed), (1, false));
    assert_eq!((s.created_at.file(), s.created_at.line()), (file!(), line));
    assert_eq!(q.created_at(), s.created_at);
    assert!(format!("{q:?}").starts_with("Queue { qsize: 1, maxsize: Some(2)"));
    let e = Queue::<u8>::unbounded();
    let mut g = pin!(e.get());
    assert!(poll_once(g.as_mut()).is_pending());
    assert_eq!(e.statistics().tasks_waiting_receive, 1);
}

// ---- threads and foreign executors ----

#[test]
fn blocking_put_and_get_with_timeouts() {
    run_with_timeout("blocking", 20, || {
        let q = Queue::with_maxsize(1);
        assert_eq!(
            q.blocking_get_timeout(Duration::from_millis(5)),
            Err(BlockingGetError::Timeout)
        );
        q.blocking_put(1).unwrap();
        let e = q.blocking_put_timeout(2, Duration::from_millis(5)).unwrap_err();
        assert_eq!(e, BlockingPutError::Timeout(2));
        assert_eq!(e.to_string(), "timed out waiting for room in the queue");
        assert_eq!(
            q.statistics().tasks_waiting_send,
            0,
            "a timed-out putter stayed queued"
        );
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.blocking_put_timeout(3, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(q.blocking_get(), Ok(1));
        assert_eq!(t.join().unwrap(), Ok(()));
        assert_eq!(q.blocking_get_timeout(Duration::from_secs(1)), Ok(3));
        // A blocking getter is woken by close.
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.blocking_get());
        std::thread::sleep(Duration::from_millis(20));
        q.close();
        assert_eq!(t.join().unwrap(), Err(QueueClosed));
    });
}

#[test]
fn blocking_get_refuses_a_worker_thread() {
    let q = Queue::<u8>::unbounded();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        current().block_on(async { q.blocking_get() })
    }));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("Queue::blocking_get"), "{msg}");
}

#[test]
fn eight_threads_mixed_with_tasks() {
    run_with_timeout("mixed", 60, || {
        let q = Queue::with_maxsize(4);
        let per = 2_000usize;
        let sum = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for t in 0..4 {
            let q = q.clone();
            threads.push(std::thread::spawn(move || {
                for i in 0..per {
                    q.blocking_put(t * per + i).unwrap();
                }
            }));
        }
        for _ in 0..4 {
            let (q, sum) = (q.clone(), sum.clone());
            threads.push(std::thread::spawn(move || {
                for _ in 0..per {
                    sum.fetch_add(q.blocking_get().unwrap(), SeqCst);
                    q.task_done().unwrap();
                }
            }));
        }
        let rt = multi(2);
        rt.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|t| {
                    let (q, sum) = (q.clone(), sum.clone());
                    corral::spawn(async move {
                        for i in 0..per {
                            q.put((4 + t) * per + i).await.unwrap();
                            sum.fetch_add(q.get().await.unwrap(), SeqCst);
                            q.task_done().unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            q.join().await;
        });
        for t in threads {
            t.join().unwrap();
        }
        let n = 8 * per;
        assert_eq!(sum.load(SeqCst), n * (n - 1) / 2);
        let s = q.statistics();
        assert_eq!(
            (
                s.current_buffer_used,
                s.tasks_waiting_send,
                s.tasks_waiting_receive
            ),
            (0, 0, 0)
        );
        assert_eq!(s.unfinished_tasks, 0);
    });
}

#[test]
fn works_under_a_tokio_runtime_with_corral_tasks() {
    run_with_timeout("tokio", 60, || {
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let q = Queue::with_maxsize(8);
        let per = 2_000usize;
        let producers: Vec<_> = (0..2)
            .map(|t| {
                let q = q.clone();
                tokio_rt.spawn(async move {
                    for i in 0..per {
                        q.put(t * per + i).await.unwrap();
                    }
                })
            })
            .collect();
        let got = multi(2).block_on(async {
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    corral::spawn(async move {
                        let mut got = Vec::new();
                        while let Ok(x) = q.get().await {
                            got.push(x);
                        }
                        got
                    })
                })
                .collect();
            tokio_rt.block_on(async {
                for p in producers {
                    p.await.unwrap();
                }
            });
            q.close();
            let mut got = Vec::new();
            for c in consumers {
                got.extend(c.await.unwrap());
            }
            got
        });
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got, (0..2 * per).collect::<Vec<_>>());
    });
}

#[test]
fn foreign_block_on_threads_put_and_get() {
    run_with_timeout("foreign", 30, || {
        let q = Queue::with_maxsize(2);
        let per = 1_000usize;
        let producers: Vec<_> = (0..2)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    foreign_block_on(async {
                        for i in 0..per {
                            q.put(t * per + i).await.unwrap();
                        }
                    })
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || foreign_block_on(async { q.stream().collect::<Vec<_>>().await }))
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        q.close();
        let mut got: Vec<_> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..2 * per).collect::<Vec<_>>());
    });
}

// ---- stress ----

/// 4 producers x (CORRAL_STRESS x 500) items through `with_maxsize(16)` to 4
/// consumers whose gets are cancelled at random (after a first poll, and
/// across a yield in which an item may be handed over): every item arrives
/// exactly once.
#[test]
fn stress_random_cancellation_delivers_every_item_exactly_once() {
    run_with_timeout("stress", 120, || {
        let per = stress() * 500;
        let rt = multi(2);
        let q = Queue::with_maxsize(16);
        let cancelled = Arc::new(AtomicUsize::new(0));
        let got = rt.block_on(async {
            let producers: Vec<_> = (0..4)
                .map(|t| {
                    let q = q.clone();
                    corral::spawn(async move {
                        for i in 0..per {
                            q.put(t * per + i).await.unwrap();
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..4u64)
                .map(|c| {
                    let (q, cancelled) = (q.clone(), cancelled.clone());
                    corral::spawn(async move {
                        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c + 1));
                        let mut got = Vec::with_capacity(per);
                        loop {
                            let mut get = pin!(q.get());
                            let first = poll_fn(|cx| Poll::Ready(get.as_mut().poll(cx))).await;
                            let r = match first {
                                Poll::Ready(r) => r,
                                Poll::Pending => {
                                    if rng.below(4) == 0 {
                                        corral::yield_now().await;
                                        if rng.below(2) == 0 {
                                            cancelled.fetch_add(1, SeqCst);
                                            continue; // dropped: an item handed over goes back
                                        }
                                    }
                                    get.await
                                }
                            };
                            match r {
                                Ok(x) => got.push(x),
                                Err(QueueClosed) => return got,
                            }
                        }
                    })
                })
                .collect();
            for p in producers {
                p.await.unwrap();
            }
            q.close();
            let mut got = Vec::new();
            for c in consumers {
                got.extend(c.await.unwrap());
            }
            got
        });
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got.len(), 4 * per, "items lost or duplicated");
        assert!(
            got.iter().enumerate().all(|(i, &x)| i == x),
            "an item arrived twice or never"
        );
        assert!(cancelled.load(SeqCst) > 0, "no get was cancelled");
        let s = q.statistics();
        assert_eq!(
            (
                s.current_buffer_used,
                s.tasks_waiting_send,
                s.tasks_waiting_receive
            ),
            (0, 0, 0)
        );
    });
}

#[test]
fn queue_futures_and_stream_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn static_<T: 'static>(_: &T) {}
    let q = Queue::<String>::unbounded();
    send_sync(&q);
    static_(&q);
    send_sync(&q.put(String::new()));
    send_sync(&q.get());
    send_sync(&q.join());
    let s = q.stream();
    send_sync(&s);
    static_(&s);
}
