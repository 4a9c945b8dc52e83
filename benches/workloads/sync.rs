//! corral::sync vs tokio::sync, and async-lock's types on the corral
//! runtime as the third column, on the same shapes of workload (issue 9's
//! rows). Each body is written once against `$Mutex` / `$Semaphore`, so the
//! columns are the same code by construction.

use super::{corral_ct, corral_mt, timed, tokio_ct, tokio_mt, Alternate, Iter, Kind, Workload};
use std::sync::Arc;

/// async-lock's types in the shape the bodies use (tokio's): `acquire`
/// returns a `Result`.
mod alock {
    pub use async_lock::Mutex;

    pub struct Semaphore(async_lock::Semaphore);

    impl Semaphore {
        pub fn new(permits: usize) -> Self {
            Semaphore(async_lock::Semaphore::new(permits))
        }

        pub async fn acquire(&self) -> Result<async_lock::SemaphoreGuard<'_>, std::convert::Infallible> {
            Ok(self.0.acquire().await)
        }
    }
}

/// The rows of this file, corral vs tokio.
pub fn rows() -> Vec<Workload> {
    use Kind::*;
    let w = |name, kind, corral, tokio| Workload {
        name,
        kind,
        corral,
        tokio,
    };
    vec![
        w(
            "mutex_uncontended",
            CurrentThread,
            corral_mutex_uncontended,
            tokio_mutex_uncontended,
        ),
        w(
            "mutex_8x10k",
            MultiThread,
            corral_mutex_contended,
            tokio_mutex_contended,
        ),
        w(
            "mutex_8x1k_yield",
            MultiThread,
            corral_mutex_contended_yield,
            tokio_mutex_contended_yield,
        ),
        w(
            "semaphore_4_of_64",
            MultiThread,
            corral_semaphore_4_of_64,
            tokio_semaphore_4_of_64,
        ),
    ]
}

/// The same rows with async-lock's types on the corral runtime.
pub fn alternates() -> Vec<Alternate> {
    let a = |workload, run| Alternate {
        workload,
        label: "async-lock",
        run,
    };
    vec![
        a("mutex_uncontended", async_lock_mutex_uncontended),
        a("mutex_8x10k", async_lock_mutex_contended),
        a("mutex_8x1k_yield", async_lock_mutex_contended_yield),
        a("semaphore_4_of_64", async_lock_semaphore_4_of_64),
    ]
}

macro_rules! both_sync {
    ($rtkind:ident, $corral:ident, $tokio:ident, $alock:ident, |$rt:ident, $spawn:ident, $yield_now:ident, $Mutex:ident, $Semaphore:ident| $body:block) => {
        pub fn $corral() -> Iter {
            let $rt = both_sync!(@rt corral $rtkind);
            #[allow(unused_imports)]
            use corral::sync::{Mutex as $Mutex, Semaphore as $Semaphore};
            #[allow(unused_imports)]
            use corral::{spawn as $spawn, yield_now as $yield_now};
            $body
        }
        pub fn $tokio() -> Iter {
            let $rt = both_sync!(@rt tokio $rtkind);
            #[allow(unused_imports)]
            use tokio::sync::{Mutex as $Mutex, Semaphore as $Semaphore};
            #[allow(unused_imports)]
            use tokio::{spawn as $spawn, task::yield_now as $yield_now};
            $body
        }
        pub fn $alock() -> Iter {
            let $rt = both_sync!(@rt corral $rtkind);
            #[allow(unused_imports)]
            use alock::{Mutex as $Mutex, Semaphore as $Semaphore};
            #[allow(unused_imports)]
            use corral::{spawn as $spawn, yield_now as $yield_now};
            $body
        }
    };
    (@rt corral mt) => { corral_mt() };
    (@rt tokio mt) => { tokio_mt() };
    (@rt corral ct) => { corral_ct() };
    (@rt tokio ct) => { tokio_ct() };
}

const UNCONTENDED: usize = 10_000;

both_sync!(
    ct,
    corral_mutex_uncontended,
    tokio_mutex_uncontended,
    async_lock_mutex_uncontended,
    |rt, spawn, _y, Mutex, _S| {
        // 10,000 lock/unlock pairs in one task, nobody else around.
        let m = Arc::new(Mutex::new(0u64));
        Box::new(move || {
            timed(|| {
                let m = m.clone();
                rt.block_on(async {
                    spawn(async move {
                        for _ in 0..UNCONTENDED {
                            *m.lock().await += 1;
                        }
                    })
                    .await
                    .unwrap()
                })
            })
        })
    }
);

const TASKS: usize = 8;
const INCREMENTS: usize = 10_000;

both_sync!(
    mt,
    corral_mutex_contended,
    tokio_mutex_contended,
    async_lock_mutex_contended,
    |rt, spawn, _y, Mutex, _S| {
        // 8 tasks x 10,000 increments under one Mutex on 2 workers.
        Box::new(move || {
            timed(|| {
                rt.block_on(async {
                    let m = Arc::new(Mutex::new(0usize));
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|_| {
                            let m = m.clone();
                            spawn(async move {
                                for _ in 0..INCREMENTS {
                                    *m.lock().await += 1;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                    assert_eq!(*m.lock().await, TASKS * INCREMENTS);
                })
            })
        })
    }
);

both_sync!(
    mt,
    corral_mutex_contended_yield,
    tokio_mutex_contended_yield,
    async_lock_mutex_contended_yield,
    |rt, spawn, yield_now, Mutex, _S| {
        // As above, with a yield while holding the lock (read-yield-write):
        // every lock is contended and handed over.
        Box::new(move || {
            timed(|| {
                rt.block_on(async {
                    let m = Arc::new(Mutex::new(0usize));
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|_| {
                            let m = m.clone();
                            spawn(async move {
                                for _ in 0..INCREMENTS / 10 {
                                    let mut g = m.lock().await;
                                    let v = *g;
                                    yield_now().await;
                                    *g = v + 1;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                    assert_eq!(*m.lock().await, TASKS * INCREMENTS / 10);
                })
            })
        })
    }
);

both_sync!(
    mt,
    corral_semaphore_4_of_64,
    tokio_semaphore_4_of_64,
    async_lock_semaphore_4_of_64,
    |rt, spawn, yield_now, _M, Semaphore| {
        // Semaphore(4) shared by 64 tasks, each acquiring 200 times and
        // yielding once while it holds the permit.
        Box::new(move || {
            timed(|| {
                rt.block_on(async {
                    let sem = Arc::new(Semaphore::new(4));
                    let tasks: Vec<_> = (0..64)
                        .map(|_| {
                            let sem = sem.clone();
                            spawn(async move {
                                for _ in 0..200 {
                                    let _p = sem.acquire().await.unwrap();
                                    yield_now().await;
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
);
