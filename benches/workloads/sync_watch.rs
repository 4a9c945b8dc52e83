//! The watch row (issue 10): one sender, 8 watchers. corral::sync::watch
//! vs tokio::sync::watch, the body written once against `$watch` so both
//! columns run the same code. async-lock has no watch channel, so there
//! is no third column.

use super::{corral_mt, timed, tokio_mt, Alternate, Iter, Kind, Workload};

/// The rows of this file, corral vs tokio.
pub fn rows() -> Vec<Workload> {
    vec![Workload {
        name: "watch_8_watchers",
        kind: Kind::MultiThread,
        corral: corral_watch_8_watchers,
        tokio: tokio_watch_8_watchers,
    }]
}

/// None: async-lock (the third column's crate) has no watch channel.
pub fn alternates() -> Vec<Alternate> {
    Vec::new()
}

macro_rules! both_watch {
    ($corral:ident, $tokio:ident, |$rt:ident, $spawn:ident, $yield_now:ident, $watch:ident| $body:block) => {
        pub fn $corral() -> Iter {
            let $rt = corral_mt();
            use corral::spawn as $spawn;
            use corral::sync::watch as $watch;
            use corral::yield_now as $yield_now;
            $body
        }
        pub fn $tokio() -> Iter {
            let $rt = tokio_mt();
            use tokio::spawn as $spawn;
            use tokio::sync::watch as $watch;
            use tokio::task::yield_now as $yield_now;
            $body
        }
    };
}

const SENDS: usize = 10_000;
const WATCHERS: usize = 8;

both_watch!(
    corral_watch_8_watchers,
    tokio_watch_8_watchers,
    |rt, spawn, yield_now, watch| {
        // 1 sender task doing 10,000 sends (yielding every 16), 8 watcher
        // tasks looping on `changed` + `borrow_and_update` until the
        // sender is dropped; each checks it saw the last value.
        Box::new(move || {
            timed(|| {
                rt.block_on(async {
                    let (tx, rx) = watch::channel(0usize);
                    let watchers: Vec<_> = (0..WATCHERS)
                        .map(|_| {
                            let mut rx = rx.clone();
                            spawn(async move {
                                let mut last = 0;
                                while rx.changed().await.is_ok() {
                                    last = *rx.borrow_and_update();
                                }
                                last
                            })
                        })
                        .collect();
                    drop(rx);
                    spawn(async move {
                        for i in 1..=SENDS {
                            tx.send(i).unwrap();
                            if i % 16 == 0 {
                                yield_now().await;
                            }
                        }
                    })
                    .await
                    .unwrap();
                    for w in watchers {
                        assert_eq!(w.await.unwrap(), SENDS);
                    }
                })
            })
        })
    }
);
