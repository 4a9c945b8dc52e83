//! `corral::task::bounded_map`, `try_bounded_map` and
//! `bounded_map_spawned`: the limit is never exceeded (and is reached),
//! input order, progress, empty input, limit 0, errors, panics, and
//! cancellation with no orphans.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

#[allow(dead_code)]
mod common;
use common::{current, multi, run_with_timeout};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts in-flight items and remembers the most seen at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl InFlight {
    fn enter(&self) {
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(n, SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, SeqCst);
    }
}

#[test]
fn bounded_map_never_exceeds_its_limit_and_keeps_input_order() {
    for rt in [current(), multi(2)] {
        rt.block_on(async {
            let flight = Arc::new(InFlight::default());
            let out = corral::task::bounded_map(8, 0..500u64, |i| {
                let flight = flight.clone();
                async move {
                    flight.enter();
                    // Finish out of order: later items often finish first.
                    corral::time::sleep(Duration::from_micros((i * 7919) % 3000)).await;
                    flight.leave();
                    i * 2
                }
            })
            .await;
            assert_eq!(out, (0..500).map(|i| i * 2).collect::<Vec<_>>());
            assert_eq!(
                flight.max.load(SeqCst),
                8,
                "the limit is reached and never exceeded"
            );
            assert_eq!(flight.now.load(SeqCst), 0);
        });
    }
}

#[test]
fn progress_sees_1_to_total_in_order() {
    current().block_on(async {
        let mut seen = Vec::new();
        let out = corral::task::bounded_map(3, 0..10u32, |i| async move {
            corral::time::sleep(ms(u64::from(10 - i))).await;
            i
        })
        .on_progress(|done, total| seen.push((done, total)))
        .await;
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        assert_eq!(seen, (1..=10).map(|d| (d, 10)).collect::<Vec<_>>());
    });
}

#[test]
fn empty_input_finishes_at_once_without_progress() {
    current().block_on(async {
        let mut calls = 0;
        let out = corral::task::bounded_map(4, Vec::<u8>::new(), |i| async move { i })
            .on_progress(|_, _| calls += 1)
            .await;
        assert!(out.is_empty());
        assert_eq!(calls, 0);
        let spawned = corral::task::bounded_map_spawned(4, Vec::<u8>::new(), |i| async move { i }).await;
        assert_eq!(spawned.unwrap(), Vec::<u8>::new());
    });
}

#[test]
fn limit_zero_panics_at_the_call() {
    for result in [
        std::panic::catch_unwind(|| drop(corral::task::bounded_map(0, [1], |i| async move { i }))),
        std::panic::catch_unwind(|| {
            drop(corral::task::try_bounded_map(0, [1], |i| async move {
                Ok::<_, ()>(i)
            }))
        }),
        std::panic::catch_unwind(|| drop(corral::task::bounded_map_spawned(0, [1], |i| async move { i }))),
    ] {
        let msg = common::panic_text(&*result.unwrap_err());
        assert!(msg.contains("limit must be at least 1"), "{msg}");
    }
}

#[test]
fn limit_larger_than_the_input_runs_everything_at_once() {
    current().block_on(async {
        let flight = Arc::new(InFlight::default());
        let out = corral::task::bounded_map(100, 0..5u8, |i| {
            let flight = flight.clone();
            async move {
                flight.enter();
                corral::time::sleep(ms(2)).await;
                flight.leave();
                i
            }
        })
        .await;
        assert_eq!(out, [0, 1, 2, 3, 4]);
        assert_eq!(flight.max.load(SeqCst), 5);
    });
}

#[test]
fn dropping_bounded_map_drops_the_futures_and_the_unstarted_items() {
    let alive = Arc::new(());
    let started = AtomicUsize::new(0);
    let items: Vec<Arc<()>> = (0..20).map(|_| alive.clone()).collect();
    let mut m = corral::task::bounded_map(4, items, |a| {
        started.fetch_add(1, SeqCst);
        async move {
            let _a = a;
            std::future::pending::<()>().await
        }
    });
    let poll = Pin::new(&mut m).poll(&mut Context::from_waker(std::task::Waker::noop()));
    assert!(poll.is_pending());
    assert_eq!(started.load(SeqCst), 4);
    assert_eq!(Arc::strong_count(&alive), 21);
    drop(m);
    assert_eq!(Arc::strong_count(&alive), 1);
}

#[test]
fn bounded_map_polls_only_the_woken_futures() {
    // 8 slots over 64 items that each wait on a channel; releasing them one
    // at a time costs about two polls per item, not 8 per wake.
    let polls = Arc::new(AtomicUsize::new(0));
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..64)
        .map(|_| futures_channel::oneshot::channel::<u32>())
        .unzip();
    let mut m = corral::task::bounded_map(8, rxs, |rx| {
        let polls = polls.clone();
        let mut rx = rx;
        std::future::poll_fn(move |cx| {
            polls.fetch_add(1, SeqCst);
            Pin::new(&mut rx).poll(cx).map(Result::unwrap)
        })
    });
    let mut poll = || Pin::new(&mut m).poll(&mut Context::from_waker(std::task::Waker::noop()));
    assert!(poll().is_pending());
    for (i, tx) in txs.into_iter().enumerate() {
        tx.send(i as u32).unwrap();
        if let Poll::Ready(out) = poll() {
            assert_eq!(i, 63);
            assert_eq!(out, (0..64).collect::<Vec<_>>());
        }
    }
    assert!(polls.load(SeqCst) <= 2 * 64, "{} polls", polls.load(SeqCst));
}

#[test]
fn bounded_map_works_on_a_foreign_executor() {
    let out = common::foreign_block_on(corral::task::bounded_map(2, 0..6u32, |i| async move {
        let (tx, rx) = futures_channel::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(ms(1));
            tx.send(i * 3).unwrap();
        });
        rx.await.unwrap()
    }));
    assert_eq!(out, [0, 3, 6, 9, 12, 15]);
}

// ---- try_bounded_map --------------------------------------------------------

#[test]
fn try_bounded_map_returns_values_in_order() {
    current().block_on(async {
        let out = corral::task::try_bounded_map(3, 0..9u32, |i| async move {
            corral::time::sleep(ms(u64::from(9 - i))).await;
            Ok::<_, String>(i + 1)
        })
        .await;
        assert_eq!(out, Ok((1..=9).collect::<Vec<_>>()));
    });
}

#[test]
fn try_bounded_map_stops_at_the_first_error() {
    for rt in [current(), multi(2)] {
        rt.block_on(async {
            let alive = Arc::new(());
            let started = AtomicUsize::new(0);
            let res = corral::task::try_bounded_map(3, 0..1000u32, |i| {
                started.fetch_add(1, SeqCst);
                let a = alive.clone();
                async move {
                    let _a = a;
                    if i == 4 {
                        corral::time::sleep(ms(2)).await;
                        return Err(format!("item {i} failed"));
                    }
                    corral::time::sleep(ms(if i < 4 { 1 } else { 60_000 })).await;
                    Ok(i)
                }
            })
            .await;
            assert_eq!(res, Err("item 4 failed".to_string()));
            assert!(started.load(SeqCst) <= 7, "started {}", started.load(SeqCst));
            assert_eq!(Arc::strong_count(&alive), 1, "the futures in flight were dropped");
        });
    }
}

// ---- bounded_map_spawned ----------------------------------------------------

#[test]
fn spawned_never_exceeds_its_limit_and_keeps_input_order() {
    run_with_timeout("spawned_limit", 30, || {
        multi(2).block_on(async {
            let flight = Arc::new(InFlight::default());
            let mut progress = Vec::new();
            let out = corral::task::bounded_map_spawned(4, 0..200u64, |i| {
                let flight = flight.clone();
                async move {
                    flight.enter();
                    // Some CPU work, then a wait, so tasks overlap on both workers.
                    let x = (0..1000u64).fold(i, |h, x| h.wrapping_mul(31).wrapping_add(x));
                    corral::time::sleep(Duration::from_micros((i * 7919) % 2000)).await;
                    flight.leave();
                    (i, x)
                }
            })
            .on_progress(|done, total| progress.push((done, total)))
            .await
            .unwrap();
            assert_eq!(
                out.iter().map(|&(i, _)| i).collect::<Vec<_>>(),
                (0..200).collect::<Vec<_>>()
            );
            assert_eq!(flight.max.load(SeqCst), 4);
            assert_eq!(progress, (1..=200).map(|d| (d, 200)).collect::<Vec<_>>());
        });
    });
}

#[test]
fn spawned_runs_items_in_parallel_on_the_workers() {
    multi(2).block_on(async {
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        corral::task::bounded_map_spawned(2, 0..8, |_| {
            let threads = threads.clone();
            async move {
                threads.lock().unwrap().insert(std::thread::current().id());
                std::thread::sleep(ms(20)); // blocks its worker: the other must take the next
            }
        })
        .await
        .unwrap();
        assert_eq!(threads.lock().unwrap().len(), 2);
    });
}

#[test]
fn a_panicking_item_ends_spawned_with_its_join_error_and_aborts_the_rest() {
    let rt = multi(2);
    rt.block_on(async {
        let alive = Arc::new(());
        let res = corral::task::bounded_map_spawned(3, 0..100u32, |i| {
            let a = alive.clone();
            async move {
                let _a = a;
                if i == 1 {
                    corral::time::sleep(ms(5)).await;
                    panic!("item {i} broke");
                }
                corral::time::sleep(Duration::from_secs(60)).await;
                i
            }
        })
        .await;
        let err = res.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(common::panic_message(err.into_panic()), "item 1 broke");
        // The aborted siblings are dropped by their workers shortly after.
        for _ in 0..200 {
            if Arc::strong_count(&alive) == 1 {
                break;
            }
            corral::time::sleep(ms(5)).await;
        }
        assert_eq!(Arc::strong_count(&alive), 1, "no sibling left running");
    });
}

#[test]
fn dropping_spawned_aborts_its_tasks_no_orphans() {
    let rt = multi(2);
    let handle = rt.handle().clone();
    rt.block_on(async {
        let alive = Arc::new(());
        let base = handle.num_alive_tasks();
        let started = Arc::new(AtomicUsize::new(0));
        let m = corral::task::bounded_map_spawned(4, 0..50u32, |_| {
            let a = alive.clone();
            let started = started.clone();
            async move {
                let _a = a;
                started.fetch_add(1, SeqCst);
                std::future::pending::<()>().await
            }
        });
        // Run it until all four are in flight, then drop it.
        let timed_out = corral::time::timeout(ms(50), m).await;
        assert!(timed_out.is_err());
        assert_eq!(started.load(SeqCst), 4);
        for _ in 0..200 {
            if Arc::strong_count(&alive) == 1 && handle.num_alive_tasks() == base {
                break;
            }
            corral::time::sleep(ms(5)).await;
        }
        assert_eq!(Arc::strong_count(&alive), 1, "every spawned future was dropped");
        assert_eq!(handle.num_alive_tasks(), base, "no task left alive");
    });
}
