//! `corral::gather`, `try_gather`, `race`, `join!` and `try_join!`:
//! ordering, empty inputs, errors, cancellation (Arc counts), the coop
//! budget, polling only what was woken, both runtime flavours and a
//! foreign executor.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_channel::oneshot;

#[allow(dead_code)]
mod common;
use common::{current, foreign_block_on, multi, run_with_timeout};

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts its own polls, then defers to the inner future.
struct Counted<F> {
    polls: Arc<AtomicUsize>,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, SeqCst);
        self.inner.as_mut().poll(cx)
    }
}

fn counted<F: Future>(polls: &Arc<AtomicUsize>, f: F) -> Counted<F> {
    Counted {
        polls: polls.clone(),
        inner: Box::pin(f),
    }
}

/// Polls `fut` once with a no-op waker; its Ready value if any.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(std::task::Waker::noop()))
}

// ---- gather ------------------------------------------------------------------

#[test]
fn gather_keeps_input_order_when_finishing_in_reverse() {
    for rt in [current(), multi(2)] {
        rt.block_on(async {
            let out = corral::gather((0..5u64).map(|i| async move {
                corral::time::sleep(ms(5 * (5 - i))).await;
                i
            }))
            .await;
            assert_eq!(out, [0, 1, 2, 3, 4]);
        });
    }
}

#[test]
fn gather_of_nothing_is_an_empty_vec_at_once() {
    let mut g = corral::gather(Vec::<std::future::Ready<u8>>::new());
    assert_eq!(poll_once(&mut g), Poll::Ready(Vec::new()));
    let mut t = corral::try_gather(Vec::<std::future::Ready<Result<u8, ()>>>::new());
    assert_eq!(poll_once(&mut t), Poll::Ready(Ok(Vec::new())));
}

#[test]
fn gather_polls_only_the_woken_future() {
    // 1,000 children each waiting on a channel; fire them one at a time.
    // Polling every child on every wake would be ~500,000 polls.
    const N: usize = 1000;
    let polls = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    let mut futs = Vec::new();
    for i in 0..N {
        let (tx, rx) = oneshot::channel::<usize>();
        senders.push(tx);
        futs.push(counted(&polls, async move { rx.await.unwrap() + i }));
    }
    let mut g = corral::gather(futs);
    assert!(poll_once(&mut g).is_pending());
    assert_eq!(polls.load(SeqCst), N, "the first poll polls each child once");
    for (i, tx) in senders.into_iter().enumerate() {
        tx.send(i).unwrap();
        let r = poll_once(&mut g);
        assert_eq!(polls.load(SeqCst), N + i + 1, "only the woken child is polled");
        if i + 1 < N {
            assert!(r.is_pending());
        } else {
            let Poll::Ready(out) = r else {
                panic!("gather not done")
            };
            assert_eq!(out, (0..N).map(|i| 2 * i).collect::<Vec<_>>());
        }
    }
}

#[test]
fn gather_of_10_000_sleeps_finishes() {
    run_with_timeout("gather_10k_sleeps", 30, || {
        multi(2).block_on(async {
            let out = corral::gather((0..10_000u64).map(|i| async move {
                corral::time::sleep(ms(1 + i % 20)).await;
                i
            }))
            .await;
            assert_eq!(out.len(), 10_000);
            assert!(out.iter().enumerate().all(|(i, &v)| v == i as u64));
        });
    });
}

#[test]
fn dropping_gather_drops_every_future() {
    let alive = Arc::new(());
    let futs: Vec<_> = (0..10)
        .map(|_| {
            let a = alive.clone();
            async move {
                let _a = a;
                std::future::pending::<()>().await
            }
        })
        .collect();
    let mut g = corral::gather(futs);
    assert!(poll_once(&mut g).is_pending());
    assert_eq!(Arc::strong_count(&alive), 11);
    drop(g);
    assert_eq!(Arc::strong_count(&alive), 1);
}

#[test]
fn gather_of_always_ready_children_does_not_starve_the_worker() {
    // Four children that never wait except when the coop budget says so,
    // and stop only when another task sets the flag. On a current-thread
    // runtime that task runs only if the gather gives way.
    run_with_timeout("gather_coop", 20, || {
        current().block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let setter = {
                let stop = stop.clone();
                corral::spawn(async move { stop.store(true, SeqCst) })
            };
            let spins = corral::gather((0..4).map(|_| {
                let stop = stop.clone();
                async move {
                    let mut n = 0u64;
                    while !stop.load(SeqCst) {
                        corral::task::consume_budget().await;
                        n += 1;
                    }
                    n
                }
            }))
            .await;
            setter.await.unwrap();
            assert!(spins.iter().sum::<u64>() > 0);
        });
    });
}

#[test]
fn gather_gives_way_once_the_budget_is_spent() {
    // 1,000 children, each taking one budget unit: one poll of the gather
    // (budget 128) cannot finish them all, but the gather completes.
    current().block_on(async {
        let polls = Arc::new(AtomicUsize::new(0));
        let futs: Vec<_> = (0..1000)
            .map(|i| {
                counted(&polls, async move {
                    corral::task::consume_budget().await;
                    i
                })
            })
            .collect();
        let mut g = corral::gather(futs);
        let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut g).poll(cx).is_ready())).await;
        assert!(!first, "one budget cannot cover 1,000 units");
        assert!(
            polls.load(SeqCst) < 300,
            "the gather stops polling once the budget is spent ({} polls)",
            polls.load(SeqCst)
        );
        let out = g.await;
        assert_eq!(out, (0..1000).collect::<Vec<_>>());
    });
}

#[test]
fn gather_of_three_150ms_run_sync_calls_runs_them_in_parallel() {
    multi(2).block_on(async {
        let start = Instant::now();
        let out = corral::gather((0..3u32).map(|i| {
            corral::run_sync(move || {
                std::thread::sleep(ms(150));
                i
            })
        }))
        .await;
        let took = start.elapsed();
        assert_eq!(out.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(took < ms(280), "three 150 ms jobs took {took:?}: not in parallel");
    });
}

#[test]
fn gather_works_on_a_foreign_executor() {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..8).map(|_| oneshot::channel::<u32>()).unzip();
    let feeder = std::thread::spawn(move || {
        for (i, tx) in txs.into_iter().enumerate().rev() {
            std::thread::sleep(ms(2));
            tx.send(i as u32 * 3).unwrap();
        }
    });
    let out = foreign_block_on(corral::gather(rxs));
    feeder.join().unwrap();
    assert_eq!(
        out.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        [0, 3, 6, 9, 12, 15, 18, 21]
    );
}

#[test]
fn gather_may_borrow_from_the_caller() {
    current().block_on(async {
        let words = ["a".to_string(), "bb".to_string(), "ccc".to_string()];
        let lens = corral::gather(words.iter().map(|w| async move { w.len() })).await;
        assert_eq!(lens, [1, 2, 3]);
    });
}

// ---- try_gather -------------------------------------------------------------

#[test]
fn try_gather_returns_values_in_order() {
    for rt in [current(), multi(2)] {
        rt.block_on(async {
            let out = corral::try_gather((0..4u64).map(|i| async move {
                corral::time::sleep(ms(4 * (4 - i))).await;
                Ok::<_, String>(i * 10)
            }))
            .await;
            assert_eq!(out, Ok(vec![0, 10, 20, 30]));
        });
    }
}

#[test]
fn try_gather_first_error_drops_the_rest_at_once() {
    for rt in [current(), multi(2)] {
        rt.block_on(async {
            let alive = Arc::new(());
            // The third fails only after the second has: it waits on an
            // Event the second sets as it fails (timers alone, 5 ms against
            // 20 ms, could fire in one poll on a descheduled thread).
            let second_failed = Arc::new(corral::sync::Event::new());
            let (set_it, wait_it) = (second_failed.clone(), second_failed);
            let futs: Vec<BoxFut<Result<u32, String>>> = vec![
                Box::pin({
                    let a = alive.clone();
                    async move {
                        let _a = a;
                        corral::time::sleep(Duration::from_secs(60)).await;
                        Ok(1)
                    }
                }),
                Box::pin(async move {
                    corral::time::sleep(ms(5)).await;
                    set_it.set();
                    Err("second failed".to_string())
                }),
                Box::pin(async move {
                    wait_it.wait().await;
                    Err("third failed later".to_string())
                }),
                Box::pin({
                    let a = alive.clone();
                    async move {
                        let _a = a;
                        std::future::pending().await
                    }
                }),
            ];
            let start = Instant::now();
            let mut g = corral::try_gather(futs);
            let res = (&mut g).await;
            assert_eq!(res, Err("second failed".to_string()));
            assert!(start.elapsed() < Duration::from_secs(10));
            // Gone before the TryGather itself is dropped.
            assert_eq!(Arc::strong_count(&alive), 1);
            drop(g);
        });
    }
}

// ---- race -------------------------------------------------------------------

#[test]
fn race_returns_the_first_to_finish_and_drops_the_rest() {
    for rt in [current(), multi(2)] {
        rt.block_on(async {
            let alive = Arc::new(());
            let mut r = corral::race((0..5u64).map(|i| {
                let a = alive.clone();
                async move {
                    let _a = a;
                    corral::time::sleep(ms(if i == 3 { 5 } else { 60_000 })).await;
                    i
                }
            }));
            assert_eq!((&mut r).await, 3);
            assert_eq!(
                Arc::strong_count(&alive),
                1,
                "losers dropped when the race returns"
            );
            drop(r);
        });
    }
}

#[test]
fn race_of_ready_futures_takes_the_first_in_input_order() {
    current().block_on(async {
        assert_eq!(
            corral::race([std::future::ready(7), std::future::ready(8)]).await,
            7
        );
    });
}

#[test]
fn race_returns_an_error_if_that_finishes_first() {
    current().block_on(async {
        let r = corral::race([
            Box::pin(async {
                corral::time::sleep(ms(50)).await;
                Ok(1u8)
            }) as Pin<Box<dyn Future<Output = Result<u8, &str>>>>,
            Box::pin(async { Err("boom") }),
        ])
        .await;
        assert_eq!(r, Err("boom"));
    });
}

#[test]
fn race_of_nothing_panics_at_the_call() {
    let err = std::panic::catch_unwind(|| corral::race(Vec::<std::future::Ready<()>>::new())).unwrap_err();
    let msg = common::panic_text(&*err);
    assert!(msg.contains("race called with no futures"), "{msg}");
}

#[test]
fn dropping_race_drops_every_future() {
    let alive = Arc::new(());
    let mut r = corral::race((0..3).map(|_| {
        let a = alive.clone();
        async move {
            let _a = a;
            std::future::pending::<()>().await
        }
    }));
    assert!(poll_once(&mut r).is_pending());
    assert_eq!(Arc::strong_count(&alive), 4);
    drop(r);
    assert_eq!(Arc::strong_count(&alive), 1);
}

#[test]
fn race_works_on_a_foreign_executor() {
    let (tx, rx) = oneshot::channel::<&str>();
    let (_keep, never) = oneshot::channel::<&str>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(ms(5));
        tx.send("won").unwrap();
    });
    assert_eq!(foreign_block_on(corral::race([never, rx])), Ok("won"));
    t.join().unwrap();
}

// ---- join! / try_join! ------------------------------------------------------

#[test]
fn join_returns_a_tuple_of_different_types_in_order() {
    for rt in [current(), multi(2)] {
        rt.block_on(async {
            let (a, b, c) = corral::join!(
                async {
                    corral::time::sleep(ms(15)).await;
                    1u8
                },
                async { "two" },
                async {
                    corral::time::sleep(ms(5)).await;
                    vec![3]
                },
            );
            assert_eq!((a, b, c), (1, "two", vec![3]));
            let (one,) = corral::join!(async { 1 });
            assert_eq!(one, 1);
            let () = corral::join!();
        });
    }
}

/// With more than a handful of futures (per-future wakers), a wake
/// re-polls only the future it was for.
#[test]
fn join_of_many_polls_only_the_woken_future() {
    let polls = [(); 10].map(|_| Arc::new(AtomicUsize::new(0)));
    let mut txs = Vec::new();
    let mut rxs = Vec::new();
    for _ in 0..10 {
        let (tx, rx) = oneshot::channel::<u8>();
        txs.push(Some(tx));
        rxs.push(Some(rx));
    }
    let p = polls.clone();
    let mut r = rxs;
    let mut j = Box::pin(async move {
        corral::join!(
            counted(&p[0], r[0].take().unwrap()),
            counted(&p[1], r[1].take().unwrap()),
            counted(&p[2], r[2].take().unwrap()),
            counted(&p[3], r[3].take().unwrap()),
            counted(&p[4], r[4].take().unwrap()),
            counted(&p[5], r[5].take().unwrap()),
            counted(&p[6], r[6].take().unwrap()),
            counted(&p[7], r[7].take().unwrap()),
            counted(&p[8], r[8].take().unwrap()),
            counted(&p[9], r[9].take().unwrap()),
        )
    });
    let mut poll = || {
        j.as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
    };
    assert!(poll().is_pending());
    txs[1].take().unwrap().send(1).unwrap();
    assert!(poll().is_pending());
    let counts = || polls.iter().map(|p| p.load(SeqCst)).collect::<Vec<_>>();
    assert_eq!(counts(), [1, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
    for (i, tx) in txs.iter_mut().enumerate() {
        if let Some(tx) = tx.take() {
            tx.send(i as u8).unwrap();
        }
    }
    let Poll::Ready(out) = poll() else {
        panic!("join not done")
    };
    assert_eq!(out.0, Ok(0));
    assert_eq!(out.9, Ok(9));
    assert_eq!(counts(), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
}

/// With a handful of futures (no per-future wakers, nothing allocated),
/// a pass polls every unfinished future with the task's waker, and never
/// a finished one again.
#[test]
fn join_of_a_few_polls_the_unfinished_ones_with_the_tasks_waker() {
    let polls = [(); 3].map(|_| Arc::new(AtomicUsize::new(0)));
    let (tx0, rx0) = oneshot::channel::<u8>();
    let (tx1, rx1) = oneshot::channel::<u8>();
    let (tx2, rx2) = oneshot::channel::<u8>();
    let (p0, p1, p2) = (polls[0].clone(), polls[1].clone(), polls[2].clone());
    let mut j =
        Box::pin(async move { corral::join!(counted(&p0, rx0), counted(&p1, rx1), counted(&p2, rx2)) });
    let mut poll = || {
        j.as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
    };
    assert!(poll().is_pending());
    tx1.send(1).unwrap();
    assert!(poll().is_pending());
    let counts = || polls.iter().map(|p| p.load(SeqCst)).collect::<Vec<_>>();
    assert_eq!(counts(), [2, 2, 2]);
    tx0.send(0).unwrap();
    tx2.send(2).unwrap();
    let Poll::Ready((a, b, c)) = poll() else {
        panic!("join not done")
    };
    assert_eq!((a, b, c), (Ok(0), Ok(1), Ok(2)));
    // The finished one (1) was not polled again.
    assert_eq!(counts(), [3, 2, 3]);
}

#[test]
fn try_join_returns_ok_tuple_or_the_first_error_at_once() {
    for rt in [current(), multi(2)] {
        rt.block_on(async {
            let ok = corral::try_join!(async { Ok::<_, String>(1) }, async { Ok("x") });
            assert_eq!(ok, Ok((1, "x")));

            let alive = Arc::new(());
            let a = alive.clone();
            let start = Instant::now();
            let res: Result<(u8, (), u8), String> = corral::try_join!(
                async { Ok(1) },
                async move {
                    let _a = a;
                    corral::time::sleep(Duration::from_secs(60)).await;
                    Ok(())
                },
                async {
                    corral::time::sleep(ms(5)).await;
                    Err("failed".to_string())
                },
            );
            assert_eq!(res, Err("failed".to_string()));
            assert!(start.elapsed() < Duration::from_secs(10));
            assert_eq!(Arc::strong_count(&alive), 1, "the sleeping future was dropped");
            let empty: Result<(), std::convert::Infallible> = corral::try_join!();
            assert_eq!(empty, Ok(()));
        });
    }
}

#[test]
fn join_works_on_a_foreign_executor() {
    let (tx, rx) = oneshot::channel::<u8>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(ms(5));
        tx.send(9).unwrap();
    });
    let (a, b) = foreign_block_on(async { corral::join!(rx, async { 1 }) });
    assert_eq!((a, b), (Ok(9), 1));
    t.join().unwrap();
}

#[test]
fn join_of_always_ready_futures_does_not_starve_the_worker() {
    run_with_timeout("join_coop", 20, || {
        current().block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let setter = {
                let stop = stop.clone();
                corral::spawn(async move { stop.store(true, SeqCst) })
            };
            let spin = || {
                let stop = stop.clone();
                async move {
                    while !stop.load(SeqCst) {
                        corral::task::consume_budget().await;
                    }
                }
            };
            corral::join!(spin(), spin());
            setter.await.unwrap();
        });
    });
}

#[test]
fn gather_wakes_from_many_threads_lose_nothing() {
    // Stress the shared wake list: 2,000 channels completed from four
    // threads at once, in interleaved order, while the gather runs on a
    // multi-thread runtime; every output must arrive, in input order.
    run_with_timeout("gather_wake_stress", 60, || {
        let rt = multi(2);
        for round in 0..20u32 {
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..2000).map(|_| oneshot::channel::<u32>()).unzip();
            let mut chunks: Vec<Vec<(usize, oneshot::Sender<u32>)>> = (0..4).map(|_| Vec::new()).collect();
            for (i, tx) in txs.into_iter().enumerate() {
                chunks[(i * 7 + round as usize) % 4].push((i, tx));
            }
            // The gather is running (and parked on its channels) before the feeders start.
            let gather = rt.spawn(corral::gather(rxs));
            let feeders: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    std::thread::spawn(move || {
                        for (i, tx) in chunk.into_iter().rev() {
                            tx.send(i as u32 + round).unwrap();
                        }
                    })
                })
                .collect();
            let out = rt.block_on(gather).unwrap();
            for f in feeders {
                f.join().unwrap();
            }
            let out: Vec<u32> = out.into_iter().map(Result::unwrap).collect();
            assert_eq!(out, (0..2000).map(|i| i + round).collect::<Vec<_>>());
        }
    });
}
