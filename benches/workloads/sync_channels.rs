//! corral::sync::{mpsc, oneshot} vs tokio::sync's, with flume, kanal and
//! async-channel (and futures-channel's oneshot) on the corral runtime as
//! alternates (issue 10's channel rows). Each body is written once against
//! `$mpsc` / `$oneshot` module names; the specialised crates are wrapped
//! in tokio's shapes by the thin shims below, so the columns run the same
//! code.

use super::{corral_ct, corral_mt, timed, tokio_ct, tokio_mt, Alternate, Iter, Kind, Workload};

/// flume in tokio's shapes.
mod flume_shim {
    pub mod mpsc {
        pub fn channel<T>(n: usize) -> (Sender<T>, Receiver<T>) {
            let (tx, rx) = flume::bounded(n);
            (Sender(tx), Receiver(rx))
        }

        pub fn unbounded_channel<T>() -> (UnboundedSender<T>, Receiver<T>) {
            let (tx, rx) = flume::unbounded();
            (UnboundedSender(tx), Receiver(rx))
        }

        #[derive(Clone)]
        pub struct Sender<T>(flume::Sender<T>);
        #[derive(Clone)]
        pub struct UnboundedSender<T>(flume::Sender<T>);
        pub struct Receiver<T>(flume::Receiver<T>);

        impl<T> Sender<T> {
            pub async fn send(&self, v: T) -> Result<(), flume::SendError<T>> {
                self.0.send_async(v).await
            }
        }

        impl<T> UnboundedSender<T> {
            pub fn send(&self, v: T) -> Result<(), flume::SendError<T>> {
                self.0.send(v)
            }
        }

        impl<T> Receiver<T> {
            pub async fn recv(&mut self) -> Option<T> {
                self.0.recv_async().await.ok()
            }
        }
    }

    pub mod oneshot {
        /// A bounded(1) flume channel used once.
        pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
            let (tx, rx) = flume::bounded(1);
            (Sender(tx), Receiver(rx))
        }

        pub struct Sender<T>(flume::Sender<T>);
        pub struct Receiver<T>(flume::Receiver<T>);

        impl<T> Sender<T> {
            pub fn send(self, v: T) -> Result<(), T> {
                self.0.try_send(v).map_err(|e| e.into_inner())
            }
        }

        impl<T: 'static> std::future::IntoFuture for Receiver<T> {
            type Output = Result<T, flume::RecvError>;
            type IntoFuture = flume::r#async::RecvFut<'static, T>;

            fn into_future(self) -> Self::IntoFuture {
                self.0.into_recv_async()
            }
        }
    }
}

/// async-channel in tokio's shapes.
mod async_channel_shim {
    pub mod mpsc {
        pub fn channel<T>(n: usize) -> (Sender<T>, Receiver<T>) {
            let (tx, rx) = async_channel::bounded(n);
            (Sender(tx), Receiver(rx))
        }

        pub fn unbounded_channel<T>() -> (UnboundedSender<T>, Receiver<T>) {
            let (tx, rx) = async_channel::unbounded();
            (UnboundedSender(tx), Receiver(rx))
        }

        #[derive(Clone)]
        pub struct Sender<T>(async_channel::Sender<T>);
        #[derive(Clone)]
        pub struct UnboundedSender<T>(async_channel::Sender<T>);
        pub struct Receiver<T>(async_channel::Receiver<T>);

        impl<T> Sender<T> {
            pub async fn send(&self, v: T) -> Result<(), async_channel::SendError<T>> {
                self.0.send(v).await
            }
        }

        impl<T> UnboundedSender<T> {
            pub fn send(&self, v: T) -> Result<(), async_channel::TrySendError<T>> {
                self.0.try_send(v)
            }
        }

        impl<T> Receiver<T> {
            pub async fn recv(&mut self) -> Option<T> {
                self.0.recv().await.ok()
            }
        }
    }
}

/// kanal in tokio's shapes (its async halves; kanal has no oneshot).
mod kanal_shim {
    pub mod mpsc {
        pub fn channel<T>(n: usize) -> (Sender<T>, Receiver<T>) {
            let (tx, rx) = kanal::bounded_async(n);
            (Sender(tx), Receiver(rx))
        }

        pub fn unbounded_channel<T>() -> (UnboundedSender<T>, Receiver<T>) {
            let (tx, rx) = kanal::unbounded_async();
            (UnboundedSender(tx), Receiver(rx))
        }

        #[derive(Clone)]
        pub struct Sender<T>(kanal::AsyncSender<T>);
        #[derive(Clone)]
        pub struct UnboundedSender<T>(kanal::AsyncSender<T>);
        pub struct Receiver<T>(kanal::AsyncReceiver<T>);

        impl<T> Sender<T> {
            pub async fn send(&self, v: T) -> Result<(), kanal::SendError> {
                self.0.send(v).await
            }
        }

        impl<T> UnboundedSender<T> {
            /// Never waits: the channel is unbounded.
            pub fn send(&self, v: T) -> Result<(), kanal::SendError> {
                self.0.as_sync().send(v)
            }
        }

        impl<T> Receiver<T> {
            pub async fn recv(&mut self) -> Option<T> {
                self.0.recv().await.ok()
            }
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
        w("mpsc_1to1", MultiThread, mpsc_1to1::corral, mpsc_1to1::tokio),
        w("mpsc_4to1", MultiThread, mpsc_4to1::corral, mpsc_4to1::tokio),
        w(
            "mpsc_bounded1_ping_pong",
            MultiThread,
            mpsc_bounded1_ping_pong::corral,
            mpsc_bounded1_ping_pong::tokio,
        ),
        w(
            "mpsc_unbounded_burst_100k",
            MultiThread,
            mpsc_unbounded_burst_100k::corral,
            mpsc_unbounded_burst_100k::tokio,
        ),
        w(
            "mpsc_blocking_ping_pong",
            MultiThread,
            mpsc_blocking_ping_pong::corral,
            mpsc_blocking_ping_pong::tokio,
        ),
        w("mpmc_4to4", MultiThread, mpmc_4to4::corral, mpmc_4to4::tokio),
        w(
            "oneshot_create_send_recv",
            CurrentThread,
            oneshot_create_send_recv::corral,
            oneshot_create_send_recv::tokio,
        ),
    ]
}

/// flume, kanal and async-channel (and futures-channel's oneshot) on the
/// corral runtime.
pub fn alternates() -> Vec<Alternate> {
    let a = |workload, label, run| Alternate { workload, label, run };
    vec![
        a("mpsc_1to1", "flume", mpsc_1to1::flume),
        a("mpsc_1to1", "async-channel", mpsc_1to1::async_channel),
        a("mpsc_4to1", "flume", mpsc_4to1::flume),
        a("mpsc_4to1", "async-channel", mpsc_4to1::async_channel),
        a("mpsc_bounded1_ping_pong", "flume", mpsc_bounded1_ping_pong::flume),
        a(
            "mpsc_bounded1_ping_pong",
            "async-channel",
            mpsc_bounded1_ping_pong::async_channel,
        ),
        a(
            "mpsc_unbounded_burst_100k",
            "flume",
            mpsc_unbounded_burst_100k::flume,
        ),
        a(
            "mpsc_unbounded_burst_100k",
            "async-channel",
            mpsc_unbounded_burst_100k::async_channel,
        ),
        a("mpsc_1to1", "kanal", mpsc_1to1::kanal),
        a("mpsc_4to1", "kanal", mpsc_4to1::kanal),
        a("mpsc_bounded1_ping_pong", "kanal", mpsc_bounded1_ping_pong::kanal),
        a(
            "mpsc_unbounded_burst_100k",
            "kanal",
            mpsc_unbounded_burst_100k::kanal,
        ),
        a("mpmc_4to4", "flume", mpmc_4to4::flume),
        a("mpmc_4to4", "kanal", mpmc_4to4::kanal),
        a("mpmc_4to4", "async-channel", mpmc_4to4::async_channel),
        a(
            "oneshot_create_send_recv",
            "flume",
            oneshot_create_send_recv::flume,
        ),
        a(
            "oneshot_create_send_recv",
            "futures-channel",
            oneshot_create_send_recv::futures_channel,
        ),
    ]
}

/// One module per mpsc row: `corral`, `tokio`, `flume`, `async_channel`, `kanal`,
/// each the same body on its runtime and channel.
macro_rules! mpsc_row {
    ($row:ident, |$rt:ident, $spawn:ident, $mpsc:ident| $body:block) => {
        pub mod $row {
            use super::*;

            pub fn corral() -> Iter {
                let $rt = corral_mt();
                use corral::spawn as $spawn;
                use corral::sync::mpsc as $mpsc;
                $body
            }

            pub fn tokio() -> Iter {
                let $rt = tokio_mt();
                use tokio::spawn as $spawn;
                use tokio::sync::mpsc as $mpsc;
                $body
            }

            pub fn flume() -> Iter {
                let $rt = corral_mt();
                use super::flume_shim::mpsc as $mpsc;
                use corral::spawn as $spawn;
                $body
            }

            pub fn async_channel() -> Iter {
                let $rt = corral_mt();
                use super::async_channel_shim::mpsc as $mpsc;
                use corral::spawn as $spawn;
                $body
            }

            pub fn kanal() -> Iter {
                let $rt = corral_mt();
                use super::kanal_shim::mpsc as $mpsc;
                use corral::spawn as $spawn;
                $body
            }
        }
    };
}

/// Items per iteration of the throughput rows, and their channel's capacity.
const ITEMS: usize = 50_000;
const CAPACITY: usize = 128;

mpsc_row!(mpsc_1to1, |rt, spawn, mpsc| {
    // One producer task, one consumer (the block_on task), bounded(128).
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let (tx, mut rx) = mpsc::channel::<usize>(CAPACITY);
                let producer = spawn(async move {
                    for i in 0..ITEMS {
                        tx.send(i).await.ok().unwrap();
                    }
                });
                let consumer = spawn(async move {
                    let mut sum = 0usize;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                });
                producer.await.unwrap();
                assert_eq!(consumer.await.unwrap(), ITEMS * (ITEMS - 1) / 2);
            })
        })
    })
});

mpsc_row!(mpsc_4to1, |rt, spawn, mpsc| {
    // Four producer tasks, one consumer, bounded(128).
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let (tx, mut rx) = mpsc::channel::<usize>(CAPACITY);
                for _ in 0..4 {
                    let tx = tx.clone();
                    spawn(async move {
                        for i in 0..ITEMS / 4 {
                            tx.send(i).await.ok().unwrap();
                        }
                    });
                }
                drop(tx);
                let consumer = spawn(async move {
                    let mut n = 0usize;
                    while rx.recv().await.is_some() {
                        n += 1;
                    }
                    n
                });
                assert_eq!(consumer.await.unwrap(), ITEMS);
            })
        })
    })
});

const ROUND_TRIPS: usize = 10_000;

mpsc_row!(mpsc_bounded1_ping_pong, |rt, spawn, mpsc| {
    // Two tasks bouncing a counter through two bounded(1) channels: every
    // send wakes the other side (handoff latency).
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let (ping_tx, mut ping_rx) = mpsc::channel::<usize>(1);
                let (pong_tx, mut pong_rx) = mpsc::channel::<usize>(1);
                let echo = spawn(async move {
                    while let Some(v) = ping_rx.recv().await {
                        pong_tx.send(v + 1).await.ok().unwrap();
                    }
                });
                let driver = spawn(async move {
                    let mut v = 0;
                    for _ in 0..ROUND_TRIPS {
                        ping_tx.send(v).await.ok().unwrap();
                        v = pong_rx.recv().await.unwrap();
                    }
                    v
                });
                assert_eq!(driver.await.unwrap(), ROUND_TRIPS);
                echo.await.unwrap();
            })
        })
    })
});

const BURST: usize = 100_000;

mpsc_row!(mpsc_unbounded_burst_100k, |rt, spawn, mpsc| {
    // A producer task sends 100,000 items into an unbounded channel as
    // fast as it can while the consumer drains them.
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
                let producer = spawn(async move {
                    for i in 0..BURST {
                        tx.send(i).ok().unwrap();
                    }
                });
                let consumer = spawn(async move {
                    let mut n = 0usize;
                    while rx.recv().await.is_some() {
                        n += 1;
                    }
                    n
                });
                producer.await.unwrap();
                assert_eq!(consumer.await.unwrap(), BURST);
            })
        })
    })
});

/// Round trips of the blocking ping-pong (each is two park/unpark pairs).
const BLOCKING_TRIPS: usize = 2_000;

pub mod mpsc_blocking_ping_pong {
    use super::*;

    /// Two plain OS threads bouncing a counter through two bounded(1)
    /// channels with `blocking_send` / `blocking_recv` (no runtime): the
    /// blocking path's handoff latency, per round trip = time / 2,000.
    macro_rules! body {
        ($mpsc:path) => {{
            use $mpsc as mpsc;
            Box::new(move || {
                let (ping_tx, mut ping_rx) = mpsc::channel::<usize>(1);
                let (pong_tx, mut pong_rx) = mpsc::channel::<usize>(1);
                let echo = std::thread::spawn(move || {
                    while let Some(v) = ping_rx.blocking_recv() {
                        pong_tx.blocking_send(v + 1).ok().unwrap();
                    }
                });
                let t = timed(|| {
                    let mut v = 0;
                    for _ in 0..BLOCKING_TRIPS {
                        ping_tx.blocking_send(v).ok().unwrap();
                        v = pong_rx.blocking_recv().unwrap();
                    }
                    assert_eq!(v, BLOCKING_TRIPS);
                });
                drop(ping_tx);
                echo.join().unwrap();
                t
            })
        }};
    }

    pub fn corral() -> Iter {
        body!(corral::sync::mpsc)
    }

    pub fn tokio() -> Iter {
        body!(tokio::sync::mpsc)
    }
}

/// Four producer tasks, four consumer tasks sharing the receiving side of
/// one bounded(128) channel. Each column in one shape (`bounded`,
/// cloneable `Sender` / `Receiver`, `recv() -> Option`): corral's `mpmc`,
/// flume, kanal and async-channel natively; tokio has no mpmc channel, so its
/// column is what a tokio user writes: an `mpsc` receiver shared behind an
/// `Arc<tokio::sync::Mutex<_>>`.
pub mod mpmc_4to4 {
    use super::*;

    mod corral_shim {
        pub use corral::sync::mpmc::bounded;
        use corral::sync::mpmc::{Receiver, Sender};
        pub async fn send<T>(tx: &Sender<T>, v: T) -> Option<()> {
            tx.send(v).await.ok()
        }
        pub async fn recv<T>(rx: &Receiver<T>) -> Option<T> {
            rx.recv().await.ok()
        }
    }

    mod tokio_shim {
        use std::sync::Arc;
        use tokio::sync::{mpsc, Mutex};
        pub type Receiver<T> = Arc<Mutex<mpsc::Receiver<T>>>;
        pub fn bounded<T>(n: usize) -> (mpsc::Sender<T>, Receiver<T>) {
            let (tx, rx) = mpsc::channel(n);
            (tx, Arc::new(Mutex::new(rx)))
        }
        pub async fn send<T>(tx: &mpsc::Sender<T>, v: T) -> Option<()> {
            tx.send(v).await.ok()
        }
        pub async fn recv<T>(rx: &Receiver<T>) -> Option<T> {
            rx.lock().await.recv().await
        }
    }

    mod flume_shim {
        pub use flume::bounded;
        pub async fn send<T>(tx: &flume::Sender<T>, v: T) -> Option<()> {
            tx.send_async(v).await.ok()
        }
        pub async fn recv<T>(rx: &flume::Receiver<T>) -> Option<T> {
            rx.recv_async().await.ok()
        }
    }

    mod async_channel_shim {
        pub use async_channel::bounded;
        pub async fn send<T>(tx: &async_channel::Sender<T>, v: T) -> Option<()> {
            tx.send(v).await.ok()
        }
        pub async fn recv<T>(rx: &async_channel::Receiver<T>) -> Option<T> {
            rx.recv().await.ok()
        }
    }

    mod kanal_shim {
        pub use kanal::bounded_async as bounded;
        pub async fn send<T>(tx: &kanal::AsyncSender<T>, v: T) -> Option<()> {
            tx.send(v).await.ok()
        }
        pub async fn recv<T>(rx: &kanal::AsyncReceiver<T>) -> Option<T> {
            rx.recv().await.ok()
        }
    }

    macro_rules! body {
        ($rt:ident, $spawn:path, $shim:ident) => {{
            use $shim::{bounded, recv, send};
            Box::new(move || {
                timed(|| {
                    $rt.block_on(async {
                        let (tx, rx) = bounded::<usize>(CAPACITY);
                        for _ in 0..4 {
                            let tx = tx.clone();
                            $spawn(async move {
                                for i in 0..ITEMS / 4 {
                                    send(&tx, i).await.unwrap();
                                }
                            });
                        }
                        drop(tx);
                        let consumers: Vec<_> = (0..4)
                            .map(|_| {
                                let rx = rx.clone();
                                $spawn(async move {
                                    let mut n = 0usize;
                                    while recv(&rx).await.is_some() {
                                        n += 1;
                                    }
                                    n
                                })
                            })
                            .collect();
                        drop(rx);
                        let mut n = 0;
                        for c in consumers {
                            n += c.await.unwrap();
                        }
                        assert_eq!(n, ITEMS);
                    })
                })
            })
        }};
    }

    pub fn corral() -> Iter {
        let rt = corral_mt();
        body!(rt, corral::spawn, corral_shim)
    }

    pub fn tokio() -> Iter {
        let rt = tokio_mt();
        body!(rt, tokio::spawn, tokio_shim)
    }

    pub fn flume() -> Iter {
        let rt = corral_mt();
        body!(rt, corral::spawn, flume_shim)
    }

    pub fn async_channel() -> Iter {
        let rt = corral_mt();
        body!(rt, corral::spawn, async_channel_shim)
    }

    pub fn kanal() -> Iter {
        let rt = corral_mt();
        body!(rt, corral::spawn, kanal_shim)
    }
}

const ONESHOTS: usize = 100_000;

pub mod oneshot_create_send_recv {
    use super::*;

    /// 100,000 times in one task: create a oneshot, send, await the value.
    macro_rules! body {
        ($rt:ident, $oneshot:path) => {{
            use $oneshot as oneshot;
            Box::new(move || {
                timed(|| {
                    $rt.block_on(async {
                        let mut sum = 0usize;
                        for i in 0..ONESHOTS {
                            let (tx, rx) = oneshot::channel::<usize>();
                            tx.send(i).ok().unwrap();
                            sum += rx.await.unwrap();
                        }
                        assert_eq!(sum, ONESHOTS * (ONESHOTS - 1) / 2);
                    })
                })
            })
        }};
    }

    pub fn corral() -> Iter {
        let rt = corral_ct();
        body!(rt, corral::sync::oneshot)
    }

    pub fn tokio() -> Iter {
        let rt = tokio_ct();
        body!(rt, tokio::sync::oneshot)
    }

    pub fn flume() -> Iter {
        let rt = corral_ct();
        body!(rt, super::flume_shim::oneshot)
    }

    pub fn futures_channel() -> Iter {
        let rt = corral_ct();
        body!(rt, futures_channel::oneshot)
    }
}
