//! corral::sync::Queue vs tokio's bounded mpsc (the nearest shape: a
//! bounded FIFO with backpressure; tokio has no queue), with
//! async-channel's bounded channel on the corral runtime as the third
//! column. One body, written against `$q::{pair, put, get}`, serves all
//! three.

use super::{corral_mt, timed, tokio_mt, Alternate, Iter, Kind, Workload};

const ITEMS: u64 = 100_000;
const BOUND: usize = 16;

/// corral's Queue: one handle for both ends.
mod corral_q {
    use corral::sync::Queue;

    pub fn pair(n: usize) -> (Queue<u64>, Queue<u64>) {
        let q = Queue::with_maxsize(n);
        (q.clone(), q)
    }

    pub async fn put(q: &Queue<u64>, x: u64) {
        q.put(x).await.unwrap();
    }

    pub async fn get(q: &mut Queue<u64>) -> u64 {
        q.get().await.unwrap()
    }
}

/// tokio's bounded mpsc.
mod tokio_q {
    use tokio::sync::mpsc::{channel, Receiver, Sender};

    pub fn pair(n: usize) -> (Sender<u64>, Receiver<u64>) {
        channel(n)
    }

    pub async fn put(tx: &Sender<u64>, x: u64) {
        tx.send(x).await.unwrap();
    }

    pub async fn get(rx: &mut Receiver<u64>) -> u64 {
        rx.recv().await.unwrap()
    }
}

/// async-channel's bounded channel.
mod achan_q {
    use async_channel::{bounded, Receiver, Sender};

    pub fn pair(n: usize) -> (Sender<u64>, Receiver<u64>) {
        bounded(n)
    }

    pub async fn put(tx: &Sender<u64>, x: u64) {
        tx.send(x).await.unwrap();
    }

    pub async fn get(rx: &mut Receiver<u64>) -> u64 {
        rx.recv().await.unwrap()
    }
}

/// The rows of this file, corral vs tokio.
pub fn rows() -> Vec<Workload> {
    vec![Workload {
        name: "queue_put_get",
        kind: Kind::MultiThread,
        corral: corral_queue_put_get,
        tokio: tokio_queue_put_get,
    }]
}

/// async-channel on the corral runtime.
pub fn alternates() -> Vec<Alternate> {
    vec![Alternate {
        workload: "queue_put_get",
        label: "async-channel",
        run: async_channel_queue_put_get,
    }]
}

macro_rules! put_get {
    ($name:ident, $rt:expr, $spawn:path, $q:ident) => {
        pub fn $name() -> Iter {
            let rt = $rt;
            Box::new(move || {
                timed(|| {
                    rt.block_on(async {
                        // 1 producer, 1 consumer, bounded 16, 100,000 items.
                        let (tx, mut rx) = $q::pair(BOUND);
                        let producer = $spawn(async move {
                            for i in 0..ITEMS {
                                $q::put(&tx, i).await;
                            }
                        });
                        let consumer = $spawn(async move {
                            let mut sum = 0;
                            for _ in 0..ITEMS {
                                sum += $q::get(&mut rx).await;
                            }
                            sum
                        });
                        producer.await.unwrap();
                        assert_eq!(consumer.await.unwrap(), ITEMS * (ITEMS - 1) / 2);
                    })
                })
            })
        }
    };
}

put_get!(corral_queue_put_get, corral_mt(), corral::spawn, corral_q);
put_get!(tokio_queue_put_get, tokio_mt(), tokio::spawn, tokio_q);
put_get!(async_channel_queue_put_get, corral_mt(), corral::spawn, achan_q);
