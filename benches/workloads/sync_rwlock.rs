//! RwLock rows (issue 9): corral::sync::RwLock vs tokio::sync::RwLock, and
//! async-lock's RwLock on the corral runtime as the alternate column. The
//! body is written once against `$RwLock`, so the columns run the same
//! code.

use super::{corral_mt, timed, tokio_mt, Alternate, Iter, Kind, Workload};
use std::hint::black_box;
use std::sync::Arc;

/// Reads per reader task; the writer does `READS / 8` writes.
const READS: usize = 2_000;
const READERS: usize = 8;
/// Words of protected data: the "work inside" is summing (reader) or
/// bumping (writer) all of them.
const WORDS: usize = 32;

macro_rules! rw_rows {
    ($corral:ident, $tokio:ident, $alt:ident, |$rt:ident, $spawn:ident, $RwLock:ident| $body:block) => {
        pub fn $corral() -> Iter {
            let $rt = corral_mt();
            use corral::spawn as $spawn;
            use corral::sync::RwLock as $RwLock;
            $body
        }
        pub fn $tokio() -> Iter {
            let $rt = tokio_mt();
            use tokio::spawn as $spawn;
            use tokio::sync::RwLock as $RwLock;
            $body
        }
        /// async-lock's lock on the corral runtime.
        pub fn $alt() -> Iter {
            let $rt = corral_mt();
            use async_lock::RwLock as $RwLock;
            use corral::spawn as $spawn;
            $body
        }
    };
}

rw_rows!(
    corral_rwlock_8r_1w,
    tokio_rwlock_8r_1w,
    async_lock_rwlock_8r_1w,
    |rt, spawn, RwLock| {
        // 8 reader tasks x 2,000 reads and 1 writer task x 250 writes on
        // one lock, 2 workers; each read sums 32 words, each write bumps
        // them all.
        Box::new(move || {
            timed(|| {
                rt.block_on(async {
                    let lock = Arc::new(RwLock::new([0u64; WORDS]));
                    let mut tasks: Vec<_> = (0..READERS)
                        .map(|_| {
                            let lock = lock.clone();
                            spawn(async move {
                                let mut total = 0u64;
                                for _ in 0..READS {
                                    let g = lock.read().await;
                                    total = total.wrapping_add(black_box(&*g).iter().sum::<u64>());
                                }
                                black_box(total);
                            })
                        })
                        .collect();
                    let l = lock.clone();
                    tasks.push(spawn(async move {
                        for _ in 0..READS / READERS {
                            let mut g = l.write().await;
                            for w in black_box(&mut *g).iter_mut() {
                                *w += 1;
                            }
                        }
                    }));
                    for t in tasks {
                        t.await.unwrap();
                    }
                    assert_eq!(lock.read().await[0], (READS / READERS) as u64);
                })
            })
        })
    }
);

/// The corral-vs-tokio rows.
pub fn rows() -> Vec<Workload> {
    vec![Workload {
        name: "rwlock_8r_1w",
        kind: Kind::MultiThread,
        corral: corral_rwlock_8r_1w,
        tokio: tokio_rwlock_8r_1w,
    }]
}

/// async-lock's RwLock on the corral runtime, beside the rows above.
pub fn alternates() -> Vec<Alternate> {
    vec![Alternate {
        workload: "rwlock_8r_1w",
        label: "async-lock",
        run: async_lock_rwlock_8r_1w,
    }]
}
