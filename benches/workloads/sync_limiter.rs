//! CapacityLimiter rows: corral's limiter against tokio's `Semaphore`, the
//! nearest shape tokio has (it names no borrowers, so it does less: no
//! borrower map, no double-acquire check). async-lock has no limiter, so
//! there is no third column.

use super::{corral_mt, timed, tokio_mt, Alternate, Iter, Kind, Workload};
use std::sync::Arc;

const TASKS: usize = 64;
const ROUNDS: usize = 200;

/// CapacityLimiter(4) shared by 64 tasks, each acquiring (as itself, the
/// current task) 200 times and yielding once while it holds the token.
fn corral_capacity_limiter_4_of_64() -> Iter {
    let rt = corral_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let limiter = Arc::new(corral::sync::CapacityLimiter::new(4));
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let limiter = limiter.clone();
                        corral::spawn(async move {
                            for _ in 0..ROUNDS {
                                let _t = limiter.acquire().await.unwrap();
                                corral::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    })
}

/// The same body on tokio's Semaphore(4).
fn tokio_capacity_limiter_4_of_64() -> Iter {
    let rt = tokio_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let limiter = Arc::new(tokio::sync::Semaphore::new(4));
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let limiter = limiter.clone();
                        tokio::spawn(async move {
                            for _ in 0..ROUNDS {
                                let _t = limiter.acquire().await.unwrap();
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    })
}

pub fn rows() -> Vec<Workload> {
    vec![Workload {
        name: "capacity_limiter_4_of_64",
        kind: Kind::MultiThread,
        corral: corral_capacity_limiter_4_of_64,
        tokio: tokio_capacity_limiter_4_of_64,
    }]
}

/// async-lock has no capacity limiter: no third column.
pub fn alternates() -> Vec<Alternate> {
    Vec::new()
}
