//! Criterion groups, one per workload, each with a `corral` and a `tokio`
//! function (both runtimes configured alike: see `workloads/mod.rs`).
//!
//! `cargo bench --bench runtime [-- FILTER]`. For the side-by-side table
//! with noise control, use `cargo bench --bench compare`.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

#[path = "workloads/mod.rs"]
mod workloads;

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn bench_all(c: &mut Criterion) {
    for w in workloads::all() {
        let mut group = c.benchmark_group(w.name);
        group.sample_size(20).warm_up_time(Duration::from_millis(500));
        for (side, setup) in [("corral", w.corral), ("tokio", w.tokio)] {
            let mut iteration = setup();
            group.bench_function(side, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| iteration()).sum())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_all);
criterion_main!(benches);
