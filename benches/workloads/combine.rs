//! Combinator rows: corral's `gather` and `bounded_map` against what a
//! tokio user writes for the same job.
//!
//! - `gather_1000_ready`: `corral::gather` of 1,000 ready futures against
//!   `futures::future::join_all` on tokio (which, past 30 futures, runs
//!   them through a `FuturesOrdered`: one task allocation per future).
//! - `bounded_map_8_of_10k`: `corral::task::bounded_map(8, ..)` with a
//!   progress callback against the hand-written tokio version: a
//!   `tokio::sync::Semaphore(8)`, one `tokio::spawn` per item holding an
//!   owned permit, a `std::sync::Mutex<usize>` progress counter, and the
//!   join handles awaited in order for the results.
//! - `bounded_map_spawned_8_of_10k`: the same hand-written tokio version
//!   against `corral::task::bounded_map_spawned` (each item its own task
//!   on both sides).
//!
//! Per item, both sides do the same work: yield once, then return `2 * i`;
//! the bounded rows run their body in a spawned task (where such code
//! lives), not on the `block_on` thread.
//! The third column of the gather row is the same `join_all` on the
//! corral runtime (the combinator alone). The third column of the
//! bounded_map row is futures-util's
//! `stream::iter(..).map(f).buffered(8)` on the corral runtime, the
//! in-task combinator a tokio user might reach for instead.

use super::{corral_mt, timed, tokio_mt, Alternate, Iter, Kind, Workload};
use std::hint::black_box;
use std::sync::{Arc, Mutex};

const READY: usize = 1000;
const ITEMS: u64 = 10_000;
const LIMIT: usize = 8;

fn corral_gather_1000_ready() -> Iter {
    let rt = corral_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let out = corral::gather((0..READY).map(|i| std::future::ready(black_box(i)))).await;
                assert_eq!(out.len(), READY);
            })
        })
    })
}

fn tokio_gather_1000_ready() -> Iter {
    let rt = tokio_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let out =
                    futures_util::future::join_all((0..READY).map(|i| std::future::ready(black_box(i))))
                        .await;
                assert_eq!(out.len(), READY);
            })
        })
    })
}

fn corral_bounded_map_8_of_10k() -> Iter {
    let rt = corral_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                corral::spawn(async move {
                    let mut progress = 0;
                    let out = corral::task::bounded_map(LIMIT, 0..ITEMS, |i| async move {
                        corral::yield_now().await;
                        black_box(i * 2)
                    })
                    .on_progress(|done, _total| progress = done)
                    .await;
                    assert_eq!(out.len() as u64, ITEMS);
                    assert_eq!(progress as u64, ITEMS);
                })
                .await
                .unwrap();
            })
        })
    })
}

fn corral_bounded_map_spawned_8_of_10k() -> Iter {
    let rt = corral_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                corral::spawn(async move {
                    let mut progress = 0;
                    let out = corral::task::bounded_map_spawned(LIMIT, 0..ITEMS, |i| async move {
                        corral::yield_now().await;
                        black_box(i * 2)
                    })
                    .on_progress(|done, _total| progress = done)
                    .await
                    .unwrap();
                    assert_eq!(out.len() as u64, ITEMS);
                    assert_eq!(progress as u64, ITEMS);
                })
                .await
                .unwrap();
            })
        })
    })
}

/// The bounded executor as written by hand on tokio: semaphore, spawned
/// tasks, a locked counter.
fn tokio_bounded_8_of_10k() -> Iter {
    let rt = tokio_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                tokio::spawn(async move {
                    let sem = Arc::new(tokio::sync::Semaphore::new(LIMIT));
                    let progress = Arc::new(Mutex::new(0usize));
                    let mut handles = Vec::with_capacity(ITEMS as usize);
                    for i in 0..ITEMS {
                        let permit = sem.clone().acquire_owned().await.unwrap();
                        let progress = progress.clone();
                        handles.push(tokio::spawn(async move {
                            tokio::task::yield_now().await;
                            let r = black_box(i * 2);
                            *progress.lock().unwrap() += 1;
                            drop(permit);
                            r
                        }));
                    }
                    let mut out = Vec::with_capacity(ITEMS as usize);
                    for h in handles {
                        out.push(h.await.unwrap());
                    }
                    assert_eq!(out.len() as u64, ITEMS);
                    assert_eq!(*progress.lock().unwrap() as u64, ITEMS);
                })
                .await
                .unwrap();
            })
        })
    })
}

/// futures-util's `buffered(8)` (in-task, ordered) on the corral runtime.
fn buffered_8_of_10k_on_corral() -> Iter {
    use futures_util::StreamExt;
    let rt = corral_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                corral::spawn(async move {
                    let mut progress = 0;
                    let out: Vec<u64> = futures_util::stream::iter(0..ITEMS)
                        .map(|i| async move {
                            corral::yield_now().await;
                            black_box(i * 2)
                        })
                        .buffered(LIMIT)
                        .inspect(|_| progress += 1)
                        .collect()
                        .await;
                    assert_eq!(out.len() as u64, ITEMS);
                    assert_eq!(progress, ITEMS);
                })
                .await
                .unwrap();
            })
        })
    })
}

pub fn rows() -> Vec<Workload> {
    vec![
        Workload {
            name: "gather_1000_ready",
            kind: Kind::MultiThread,
            corral: corral_gather_1000_ready,
            tokio: tokio_gather_1000_ready,
        },
        Workload {
            name: "bounded_map_8_of_10k",
            kind: Kind::MultiThread,
            corral: corral_bounded_map_8_of_10k,
            tokio: tokio_bounded_8_of_10k,
        },
        Workload {
            name: "bounded_map_spawned_8_of_10k",
            kind: Kind::MultiThread,
            corral: corral_bounded_map_spawned_8_of_10k,
            tokio: tokio_bounded_8_of_10k,
        },
    ]
}

/// futures-util's `join_all` on the corral runtime: the combinator
/// alone, without tokio's `block_on` around it.
fn join_all_1000_ready_on_corral() -> Iter {
    let rt = corral_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let out =
                    futures_util::future::join_all((0..READY).map(|i| std::future::ready(black_box(i))))
                        .await;
                assert_eq!(out.len(), READY);
            })
        })
    })
}

pub fn alternates() -> Vec<Alternate> {
    vec![
        Alternate {
            workload: "gather_1000_ready",
            label: "futures join_all",
            run: join_all_1000_ready_on_corral,
        },
        Alternate {
            workload: "bounded_map_8_of_10k",
            label: "futures buffered",
            run: buffered_8_of_10k_on_corral,
        },
    ]
}
