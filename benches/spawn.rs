//! Spawn workloads from tokio's `benches/rt_multi_threaded.rs`, run on corral
//! and on tokio in the same process with the same number of workers.
//!
//! `cargo bench --bench spawn`

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};

const NUM_WORKERS: usize = 2;
const NUM_SPAWN: usize = 10_000;

fn corral_rt() -> corral::Runtime {
    corral::Builder::new_multi_thread()
        .worker_threads(NUM_WORKERS)
        .build()
        .unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(NUM_WORKERS)
        .build()
        .unwrap()
}

/// 10,000 empty tasks spawned from a task on a worker; the last to finish
/// signals.
fn spawn_many_local(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_many_local");
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));

    let rt = corral_rt();
    g.bench_function("corral", |b| {
        b.iter(|| {
            rem.store(NUM_SPAWN, Relaxed);
            let (tx, rem) = (tx.clone(), rem.clone());
            rt.spawn(async move {
                for _ in 0..NUM_SPAWN {
                    let (tx, rem) = (tx.clone(), rem.clone());
                    corral::spawn(async move {
                        if rem.fetch_sub(1, Relaxed) == 1 {
                            tx.send(()).unwrap();
                        }
                    });
                }
            });
            rx.recv().unwrap();
        })
    });
    drop(rt);

    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rem.store(NUM_SPAWN, Relaxed);
            let (tx, rem) = (tx.clone(), rem.clone());
            rt.spawn(async move {
                for _ in 0..NUM_SPAWN {
                    let (tx, rem) = (tx.clone(), rem.clone());
                    tokio::spawn(async move {
                        if rem.fetch_sub(1, Relaxed) == 1 {
                            tx.send(()).unwrap();
                        }
                    });
                }
            });
            rx.recv().unwrap();
        })
    });
    g.finish();
}

/// 10,000 empty tasks spawned from outside the runtime, then every
/// JoinHandle awaited.
fn spawn_many_remote_idle(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_many_remote_idle");
    let rt = corral_rt();
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    g.bench_function("corral", |b| {
        b.iter(|| {
            for _ in 0..NUM_SPAWN {
                handles.push(rt.spawn(async {}));
            }
            rt.block_on(async {
                for h in handles.drain(..) {
                    h.await.unwrap();
                }
            });
        })
    });
    drop(rt);

    let rt = tokio_rt();
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    g.bench_function("tokio", |b| {
        b.iter(|| {
            for _ in 0..NUM_SPAWN {
                handles.push(rt.spawn(async {}));
            }
            rt.block_on(async {
                for h in handles.drain(..) {
                    h.await.unwrap();
                }
            });
        })
    });
    g.finish();
}

/// The same on a current-thread runtime, spawned from inside block_on.
fn spawn_many_current_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_many_current_thread");
    let rt = corral::Builder::new_current_thread().build().unwrap();
    g.bench_function("corral", |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..NUM_SPAWN).map(|_| corral::spawn(async {})).collect();
                for h in handles {
                    h.await.unwrap();
                }
            })
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    g.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..NUM_SPAWN).map(|_| tokio::spawn(async {})).collect();
                for h in handles {
                    h.await.unwrap();
                }
            })
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    spawn_many_local,
    spawn_many_remote_idle,
    spawn_many_current_thread
);
criterion_main!(benches);
