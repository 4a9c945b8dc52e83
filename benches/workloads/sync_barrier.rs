//! Barrier and Notify rows (issue 9): corral::sync vs tokio::sync, and
//! async-lock's Barrier on the corral runtime as the third column
//! (async-lock has no Notify). Each body is written once against
//! `$Barrier` / `$Notify`, so the columns run the same code.

use super::{corral_mt, timed, tokio_mt, Alternate, Iter, Kind, Workload};
use std::sync::Arc;

/// The three barriers behind one shape: `wait().await` says "leader?".
mod shape {
    pub struct CorralBarrier(corral::sync::Barrier);
    impl CorralBarrier {
        pub fn new(n: usize) -> Self {
            CorralBarrier(corral::sync::Barrier::new(n))
        }
        #[inline]
        pub async fn wait(&self) -> bool {
            self.0.wait().await.unwrap().is_leader
        }
    }

    pub struct TokioBarrier(tokio::sync::Barrier);
    impl TokioBarrier {
        pub fn new(n: usize) -> Self {
            TokioBarrier(tokio::sync::Barrier::new(n))
        }
        #[inline]
        pub async fn wait(&self) -> bool {
            self.0.wait().await.is_leader()
        }
    }

    pub struct AsyncLockBarrier(async_lock::Barrier);
    impl AsyncLockBarrier {
        pub fn new(n: usize) -> Self {
            AsyncLockBarrier(async_lock::Barrier::new(n))
        }
        #[inline]
        pub async fn wait(&self) -> bool {
            self.0.wait().await.is_leader()
        }
    }
}

/// The rows of this file, corral vs tokio.
pub fn rows() -> Vec<Workload> {
    vec![
        Workload {
            name: "barrier_8x1000",
            kind: Kind::MultiThread,
            corral: corral_barrier_8x1000,
            tokio: tokio_barrier_8x1000,
        },
        Workload {
            name: "notify_ping_pong",
            kind: Kind::MultiThread,
            corral: corral_notify_ping_pong,
            tokio: tokio_notify_ping_pong,
        },
    ]
}

/// async-lock's Barrier on the corral runtime.
pub fn alternates() -> Vec<Alternate> {
    vec![Alternate {
        workload: "barrier_8x1000",
        label: "async-lock",
        run: async_lock_barrier_8x1000,
    }]
}

const PARTIES: usize = 8;
const CYCLES: usize = 1_000;

macro_rules! barrier_row {
    ($name:ident, $rt:expr, $spawn:path, $Barrier:ty) => {
        fn $name() -> Iter {
            let rt = $rt;
            Box::new(move || {
                timed(|| {
                    rt.block_on(async {
                        // 8 tasks meet 1,000 times on 2 workers.
                        let b = Arc::new(<$Barrier>::new(PARTIES));
                        let tasks: Vec<_> = (0..PARTIES)
                            .map(|_| {
                                let b = b.clone();
                                $spawn(async move {
                                    let mut leads = 0;
                                    for _ in 0..CYCLES {
                                        leads += b.wait().await as usize;
                                    }
                                    leads
                                })
                            })
                            .collect();
                        let mut leads = 0;
                        for t in tasks {
                            leads += t.await.unwrap();
                        }
                        assert_eq!(leads, CYCLES, "one leader per cycle");
                    })
                })
            })
        }
    };
}

barrier_row!(
    corral_barrier_8x1000,
    corral_mt(),
    corral::spawn,
    shape::CorralBarrier
);
barrier_row!(
    tokio_barrier_8x1000,
    tokio_mt(),
    tokio::spawn,
    shape::TokioBarrier
);
barrier_row!(
    async_lock_barrier_8x1000,
    corral_mt(),
    corral::spawn,
    shape::AsyncLockBarrier
);

const ROUND_TRIPS: usize = 10_000;

macro_rules! notify_row {
    ($name:ident, $rt:expr, $spawn:path, $Notify:ty) => {
        fn $name() -> Iter {
            let rt = $rt;
            Box::new(move || {
                timed(|| {
                    rt.block_on(async {
                        // Two tasks hand the turn back and forth 10,000 times
                        // through two Notify (the wake-up latency).
                        let ping = Arc::new(<$Notify>::new());
                        let pong = Arc::new(<$Notify>::new());
                        let (pi, po) = (ping.clone(), pong.clone());
                        let ponger = $spawn(async move {
                            for _ in 0..ROUND_TRIPS {
                                pi.notified().await;
                                po.notify_one();
                            }
                        });
                        let pinger = $spawn(async move {
                            for _ in 0..ROUND_TRIPS {
                                ping.notify_one();
                                pong.notified().await;
                            }
                        });
                        pinger.await.unwrap();
                        ponger.await.unwrap();
                    })
                })
            })
        }
    };
}

notify_row!(
    corral_notify_ping_pong,
    corral_mt(),
    corral::spawn,
    corral::sync::Notify
);
notify_row!(
    tokio_notify_ping_pong,
    tokio_mt(),
    tokio::spawn,
    tokio::sync::Notify
);
