//! RateLimiter rows (issue 10): the cost of an acquire when the limit is
//! never reached. corral's `RateLimiter` (a sliding window of `usize::MAX`
//! calls per second) against the nearest tokio shape, a
//! `tokio::sync::Semaphore` acquire + `forget` + `add_permits(1)` (tokio
//! has no rate limiter; `governor` is not a dependency here). async-lock
//! has no rate limiter, so these rows have no third column. Each body is
//! written once against `Limiter`, so the columns run the same code.

use super::{corral_ct, corral_mt, timed, tokio_ct, tokio_mt, Iter, Kind, Workload};
use std::sync::Arc;

/// corral's limiter, not limiting.
mod corral_shape {
    pub struct Limiter(corral::sync::RateLimiter);

    impl Limiter {
        pub fn unlimited() -> Self {
            Limiter(corral::sync::RateLimiter::new(
                usize::MAX,
                std::time::Duration::from_secs(1),
            ))
        }

        #[inline]
        pub async fn acquire(&self) {
            self.0.acquire().await.unwrap();
        }
    }
}

/// tokio's nearest shape: take a permit and put it back.
mod tokio_shape {
    pub struct Limiter(tokio::sync::Semaphore);

    impl Limiter {
        pub fn unlimited() -> Self {
            Limiter(tokio::sync::Semaphore::new(tokio::sync::Semaphore::MAX_PERMITS))
        }

        #[inline]
        pub async fn acquire(&self) {
            self.0.acquire().await.unwrap().forget();
            self.0.add_permits(1);
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
            "rate_limiter_unlimited",
            CurrentThread,
            corral_rate_limiter_unlimited,
            tokio_rate_limiter_unlimited,
        ),
        w(
            "rate_limiter_unlimited_8x",
            MultiThread,
            corral_rate_limiter_unlimited_8x,
            tokio_rate_limiter_unlimited_8x,
        ),
    ]
}

macro_rules! both_limiter {
    ($rtkind:ident, $corral:ident, $tokio:ident, |$rt:ident, $spawn:ident, $Limiter:ident| $body:block) => {
        pub fn $corral() -> Iter {
            let $rt = both_limiter!(@rt corral $rtkind);
            use corral::spawn as $spawn;
            use corral_shape::Limiter as $Limiter;
            $body
        }
        pub fn $tokio() -> Iter {
            let $rt = both_limiter!(@rt tokio $rtkind);
            use tokio::spawn as $spawn;
            use tokio_shape::Limiter as $Limiter;
            $body
        }
    };
    (@rt corral mt) => { corral_mt() };
    (@rt tokio mt) => { tokio_mt() };
    (@rt corral ct) => { corral_ct() };
    (@rt tokio ct) => { tokio_ct() };
}

const CALLS: usize = 10_000;

both_limiter!(
    ct,
    corral_rate_limiter_unlimited,
    tokio_rate_limiter_unlimited,
    |rt, spawn, Limiter| {
        // 10,000 acquires in one task, never limited.
        let limiter = Arc::new(Limiter::unlimited());
        Box::new(move || {
            timed(|| {
                let limiter = limiter.clone();
                rt.block_on(async {
                    spawn(async move {
                        for _ in 0..CALLS {
                            limiter.acquire().await;
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

both_limiter!(
    mt,
    corral_rate_limiter_unlimited_8x,
    tokio_rate_limiter_unlimited_8x,
    |rt, spawn, Limiter| {
        // 8 tasks x 10,000 acquires of one limiter on 2 workers.
        let limiter = Arc::new(Limiter::unlimited());
        Box::new(move || {
            timed(|| {
                rt.block_on(async {
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|_| {
                            let limiter = limiter.clone();
                            spawn(async move {
                                for _ in 0..CALLS {
                                    limiter.acquire().await;
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
