//! corral's primitives used from tasks of a tokio runtime (foreign wakers
//! on several threads), mixed with corral tasks on a corral runtime.

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{multi, run_with_timeout};
use corral::sync::{Mutex, Semaphore};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

#[test]
fn mutex_shared_by_tokio_and_corral_tasks_counts_exactly() {
    run_with_timeout("tokio_mutex", 60, || {
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let corral_rt = multi(2);
        let m = Arc::new(Mutex::new(0usize));
        let per = 500;
        let tokio_side: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                tokio_rt.spawn(async move {
                    for _ in 0..per {
                        let mut g = m.lock().await;
                        let v = *g;
                        tokio::task::yield_now().await;
                        *g = v + 1;
                    }
                })
            })
            .collect();
        corral_rt.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let m = m.clone();
                    corral::spawn(async move {
                        for _ in 0..per {
                            let mut g = m.lock().await;
                            let v = *g;
                            corral::yield_now().await;
                            *g = v + 1;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        tokio_rt.block_on(async {
            for t in tokio_side {
                t.await.unwrap();
            }
        });
        assert_eq!(*m.try_lock().unwrap(), 8 * per);
    });
}

#[test]
fn semaphore_under_tokio_never_over_admits() {
    run_with_timeout("tokio_sem", 60, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let tasks: Vec<_> = (0..32)
                .map(|i| {
                    let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                    tokio::spawn(async move {
                        for _ in 0..50 {
                            // Some acquires are cancelled by a timeout.
                            let acquire = sem.acquire();
                            let limit = std::time::Duration::from_micros(50 + i * 10);
                            let Ok(Ok(_p)) = tokio::time::timeout(limit, acquire).await else {
                                continue;
                            };
                            max.fetch_max(inside.fetch_add(1, SeqCst) + 1, SeqCst);
                            tokio::task::yield_now().await;
                            inside.fetch_sub(1, SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert!(max.load(SeqCst) <= 2);
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(sem.statistics().tasks_waiting, 0);
    });
}
