//! corral::sync::broadcast vs tokio::sync::broadcast, with smol-rs's
//! async-broadcast on the corral runtime as the third column (issue 10's
//! broadcast row). One body, written against a `$broadcast` module in
//! tokio's shape; async-broadcast is wrapped in that shape below.

use super::{corral_mt, timed, tokio_mt, Alternate, Iter, Kind, Workload};

/// async-broadcast in tokio's shape (only what the row uses).
mod async_broadcast_shim {
    pub mod broadcast {
        pub fn channel<T: Clone>(n: usize) -> (Sender<T>, Receiver<T>) {
            let (tx, rx) = async_broadcast::broadcast(n);
            (Sender(tx), Receiver(rx))
        }

        pub struct Sender<T>(async_broadcast::Sender<T>);
        pub struct Receiver<T>(async_broadcast::Receiver<T>);

        impl<T: Clone> Sender<T> {
            /// Never waits: the row paces the sender so the ring is never
            /// full.
            pub fn send(&self, v: T) -> Result<usize, async_broadcast::TrySendError<Option<T>>> {
                self.0
                    .try_broadcast(v)
                    .map(|_| self.0.receiver_count())
                    .map_err(|e| match e {
                        async_broadcast::TrySendError::Full(_) => async_broadcast::TrySendError::Full(None),
                        async_broadcast::TrySendError::Closed(_) => {
                            async_broadcast::TrySendError::Closed(None)
                        }
                        async_broadcast::TrySendError::Inactive(_) => {
                            async_broadcast::TrySendError::Inactive(None)
                        }
                    })
            }

            pub fn subscribe(&self) -> Receiver<T> {
                Receiver(self.0.new_receiver())
            }
        }

        impl<T: Clone> Receiver<T> {
            pub async fn recv(&mut self) -> Result<T, async_broadcast::RecvError> {
                self.0.recv().await
            }
        }
    }
}

/// The rows of this file, corral vs tokio.
pub fn rows() -> Vec<Workload> {
    vec![Workload {
        name: "broadcast_16_receivers",
        kind: Kind::MultiThread,
        corral: broadcast_16_receivers::corral,
        tokio: broadcast_16_receivers::tokio,
    }]
}

/// async-broadcast on the corral runtime.
pub fn alternates() -> Vec<Alternate> {
    vec![Alternate {
        workload: "broadcast_16_receivers",
        label: "async-broadcast",
        run: broadcast_16_receivers::async_broadcast,
    }]
}

/// One module per row: `corral`, `tokio`, `async_broadcast`, each the same
/// body on its runtime and channel.
macro_rules! broadcast_row {
    ($row:ident, |$rt:ident, $spawn:ident, $yield_now:ident, $broadcast:ident| $body:block) => {
        pub mod $row {
            use super::*;

            pub fn corral() -> Iter {
                let $rt = corral_mt();
                use corral::spawn as $spawn;
                use corral::sync::broadcast as $broadcast;
                use corral::yield_now as $yield_now;
                $body
            }

            pub fn tokio() -> Iter {
                let $rt = tokio_mt();
                use tokio::spawn as $spawn;
                use tokio::sync::broadcast as $broadcast;
                use tokio::task::yield_now as $yield_now;
                $body
            }

            pub fn async_broadcast() -> Iter {
                let $rt = corral_mt();
                use super::async_broadcast_shim::broadcast as $broadcast;
                use corral::spawn as $spawn;
                use corral::yield_now as $yield_now;
                $body
            }
        }
    };
}

const VALUES: usize = 10_000;
const CAPACITY: usize = 128;
const RECEIVERS: usize = 16;

broadcast_row!(broadcast_16_receivers, |rt, spawn, yield_now, broadcast| {
    // One sender (the block_on task), 16 receiver tasks, capacity 128,
    // 10,000 values. The sender sends half a ring at a time, then waits
    // (yielding) until the slowest receiver is at most half a ring behind,
    // so no receiver ever lags and every column does the same work.
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let (tx, rx) = broadcast::channel::<usize>(CAPACITY);
                let seen: Arc<Vec<AtomicUsize>> =
                    Arc::new((0..RECEIVERS).map(|_| AtomicUsize::new(0)).collect());
                let tasks: Vec<_> = (0..RECEIVERS)
                    .map(|i| {
                        let mut rx = tx.subscribe();
                        let seen = seen.clone();
                        spawn(async move {
                            let mut sum = 0usize;
                            let mut n = 0usize;
                            while let Ok(v) = rx.recv().await {
                                sum += v;
                                n += 1;
                                seen[i].store(n, Relaxed);
                            }
                            assert_eq!(n, VALUES, "a receiver lagged");
                            sum
                        })
                    })
                    .collect();
                drop(rx);
                let half = CAPACITY / 2;
                let mut sent = 0;
                while sent < VALUES {
                    let end = (sent + half).min(VALUES);
                    for v in sent..end {
                        assert!(tx.send(v).is_ok());
                    }
                    sent = end;
                    while seen.iter().map(|s| s.load(Relaxed)).min().unwrap() + half < sent {
                        yield_now().await;
                    }
                }
                drop(tx);
                for t in tasks {
                    assert_eq!(t.await.unwrap(), VALUES * (VALUES - 1) / 2);
                }
            })
        })
    })
});
