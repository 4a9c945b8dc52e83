//! Task group rows: corral's `TaskGroup` vs tokio's `JoinSet`, the
//! nearest tokio has (children spawned onto the workers, joined in a
//! `join_next` loop). Both bodies run inside a task, so the spawns are
//! local spawns on a worker.

use super::{corral_mt, tokio_mt, Iter, Kind, Workload};
use std::time::Instant;

/// The rows of this file, corral vs tokio.
pub fn rows() -> Vec<Workload> {
    vec![Workload {
        name: "taskgroup_spawn_join_10k",
        kind: Kind::MultiThread,
        corral: corral_taskgroup_spawn_join,
        tokio: tokio_joinset_spawn_join,
    }]
}

const CHILDREN: usize = 10_000;

fn corral_taskgroup_spawn_join() -> Iter {
    let rt = corral_mt();
    Box::new(move || {
        let task = rt.spawn(async {
            let start = Instant::now();
            let mut group = corral::task::TaskGroup::<usize, ()>::new();
            for i in 0..CHILDREN {
                group.spawn(async move { Ok(i) });
            }
            let values = group.join().await.unwrap();
            assert_eq!(values.len(), CHILDREN);
            start.elapsed()
        });
        rt.block_on(task).unwrap()
    })
}

fn tokio_joinset_spawn_join() -> Iter {
    let rt = tokio_mt();
    Box::new(move || {
        let task = rt.spawn(async {
            let start = Instant::now();
            let mut set = tokio::task::JoinSet::new();
            for i in 0..CHILDREN {
                set.spawn(async move { i });
            }
            let mut n = 0;
            while let Some(r) = set.join_next().await {
                r.unwrap();
                n += 1;
            }
            assert_eq!(n, CHILDREN);
            start.elapsed()
        });
        rt.block_on(task).unwrap()
    })
}
