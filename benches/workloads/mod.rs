//! The workloads every bench target runs, each on corral and on tokio.
//!
//! A workload is a name and two setup functions. Setup builds the runtime
//! (and whatever the workload keeps between iterations) and returns a
//! closure that runs one iteration and returns the time to count — usually
//! the whole iteration, sometimes only a phase (remote_spawn times the
//! spawns, not the thread start-up).
//!
//! Adding one: write `fn corral_x() -> Iter` and `fn tokio_x() -> Iter`
//! below (mirror images), and list them in `all()`; or, for a group of rows
//! in their own file (as `sync.rs`), give the file `rows()` (chained into
//! `all()`) and, for a third column, `alternates()` (chained into
//! `alternates()`).

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

/// Worker threads of every multi-thread runtime: the machine's 2 cores.
pub const NUM_WORKERS: usize = 2;

/// Runs one iteration; returns the time it counts.
pub type Iter = Box<dyn FnMut() -> Duration>;

/// A boxed task body, so one spawn function pointer serves both runtimes.
type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Which runtime flavour a workload exercises; multi-thread ones also
/// report CPU time, which is steadier than wall time on a shared machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    MultiThread,
    CurrentThread,
    Time,
    Net,
}

pub struct Workload {
    pub name: &'static str,
    pub kind: Kind,
    pub corral: fn() -> Iter,
    pub tokio: fn() -> Iter,
}

mod combine;
mod group;
mod sync;
mod sync_barrier;
mod sync_broadcast;
mod sync_channels;
mod sync_event;
mod sync_limiter;
mod sync_queue;
mod sync_ratelimit;
mod sync_rwlock;
mod sync_watch;

pub fn all() -> Vec<Workload> {
    use Kind::*;
    let w = |name, kind, corral, tokio| Workload {
        name,
        kind,
        corral,
        tokio,
    };
    let mut v = vec![
        w(
            "spawn_many_local",
            MultiThread,
            corral_spawn_many_local,
            tokio_spawn_many_local,
        ),
        w(
            "spawn_many_remote_idle",
            MultiThread,
            corral_spawn_many_remote_idle,
            tokio_spawn_many_remote_idle,
        ),
        w(
            "spawn_many_remote_busy1",
            MultiThread,
            corral_spawn_many_remote_busy1,
            tokio_spawn_many_remote_busy1,
        ),
        w(
            "spawn_many_remote_busy2",
            MultiThread,
            corral_spawn_many_remote_busy2,
            tokio_spawn_many_remote_busy2,
        ),
        w("yield_many", MultiThread, corral_yield_many, tokio_yield_many),
        w("ping_pong", MultiThread, corral_ping_pong, tokio_ping_pong),
        w(
            "chained_spawn",
            MultiThread,
            corral_chained_spawn,
            tokio_chained_spawn,
        ),
        w(
            "remote_spawn_1thread",
            MultiThread,
            corral_remote_spawn_1,
            tokio_remote_spawn_1,
        ),
        w(
            "remote_spawn_2threads",
            MultiThread,
            corral_remote_spawn_2,
            tokio_remote_spawn_2,
        ),
        w("run_sync", MultiThread, corral_run_sync, tokio_run_sync),
        w(
            "ct_spawn_many_local",
            CurrentThread,
            corral_ct_spawn_many_local,
            tokio_ct_spawn_many_local,
        ),
        w(
            "ct_spawn_many_remote_idle",
            CurrentThread,
            corral_ct_remote_idle,
            tokio_ct_remote_idle,
        ),
        w(
            "ct_spawn_many_remote_busy",
            CurrentThread,
            corral_ct_remote_busy,
            tokio_ct_remote_busy,
        ),
        w(
            "ct_spawn_one",
            CurrentThread,
            corral_ct_spawn_one,
            tokio_ct_spawn_one,
        ),
        w("time_now", Time, corral_time_now, tokio_time_now),
        w("timeout_ready", Time, corral_timeout_ready, tokio_timeout_ready),
        w(
            "ct_timeout_ready_block_on",
            Time,
            corral_ct_timeout_ready_block_on,
            tokio_ct_timeout_ready_block_on,
        ),
        w(
            "ct_timeout_ready_task",
            Time,
            corral_ct_timeout_ready_task,
            tokio_ct_timeout_ready_task,
        ),
        w(
            "sleep_create_drop",
            Time,
            corral_sleep_create_drop,
            tokio_sleep_create_drop,
        ),
        w("sleep_100k_concurrent", Time, corral_sleep_100k, tokio_sleep_100k),
        w("tcp_echo_1conn", Net, corral_tcp_echo_1, tokio_tcp_echo_1),
        w("tcp_echo_100conn", Net, corral_tcp_echo_100, tokio_tcp_echo_100),
    ];
    v.extend(sync::rows());
    v.extend(sync_limiter::rows());
    v.extend(sync_channels::rows());
    v.extend(sync_barrier::rows());
    v.extend(sync_ratelimit::rows());
    v.extend(sync_rwlock::rows());
    v.extend(sync_queue::rows());
    v.extend(sync_event::rows());
    v.extend(group::rows());
    v.extend(combine::rows());
    v.extend(sync_watch::rows());
    v.extend(sync_broadcast::rows());
    v
}

/// A third implementation of a workload, run on the corral runtime beside
/// its two columns (e.g. async-lock's Mutex for the mutex rows), so corral's
/// primitive is compared with the best specialised crate too.
pub struct Alternate {
    /// The workload (`Workload::name`) it is an alternative for.
    pub workload: &'static str,
    /// Whose implementation it is ("async-lock").
    pub label: &'static str,
    pub run: fn() -> Iter,
}

/// Every alternate, of every workload that has one.
pub fn alternates() -> Vec<Alternate> {
    let mut v = Vec::new();
    v.extend(sync::alternates());
    v.extend(sync_limiter::alternates());
    v.extend(sync_channels::alternates());
    v.extend(sync_barrier::alternates());
    v.extend(sync_rwlock::alternates());
    v.extend(sync_queue::alternates());
    v.extend(sync_event::alternates());
    v.extend(combine::alternates());
    v.extend(sync_watch::alternates());
    v.extend(sync_broadcast::alternates());
    v
}

fn timed(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn corral_mt() -> corral::Runtime {
    corral::Builder::new_multi_thread()
        .worker_threads(NUM_WORKERS)
        .build()
        .unwrap()
}

fn tokio_mt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(NUM_WORKERS)
        .enable_all()
        .build()
        .unwrap()
}

fn corral_ct() -> corral::Runtime {
    corral::Builder::new_current_thread().build().unwrap()
}

fn tokio_ct() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Busy-waits 10 µs (tokio's `stall`).
fn stall() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_micros(10) {
        std::hint::spin_loop();
    }
}

/// Generates the corral and tokio versions of a workload from one body
/// written against `$rt` (a runtime), `$spawn` (the spawn function) and
/// `$yield_now`; the two columns are then the same code by construction.
macro_rules! both {
    ($corral:ident, $tokio:ident, |$rt:ident, $spawn:ident, $yield_now:ident| $body:block) => {
        fn $corral() -> Iter {
            let $rt = corral_mt();
            #[allow(unused_imports)]
            use corral::{spawn as $spawn, yield_now as $yield_now};
            $body
        }
        fn $tokio() -> Iter {
            let $rt = tokio_mt();
            #[allow(unused_imports)]
            use tokio::{spawn as $spawn, task::yield_now as $yield_now};
            $body
        }
    };
    (ct $corral:ident, $tokio:ident, |$rt:ident, $spawn:ident, $yield_now:ident| $body:block) => {
        fn $corral() -> Iter {
            let $rt = corral_ct();
            #[allow(unused_imports)]
            use corral::{spawn as $spawn, yield_now as $yield_now};
            $body
        }
        fn $tokio() -> Iter {
            let $rt = tokio_ct();
            #[allow(unused_imports)]
            use tokio::{spawn as $spawn, task::yield_now as $yield_now};
            $body
        }
    };
}

// ---- multi-thread runtime (tokio's benches/rt_multi_threaded.rs) -------------

const NUM_SPAWN: usize = 10_000;

both!(
    corral_spawn_many_local,
    tokio_spawn_many_local,
    |rt, spawn, _y| {
        // 10,000 empty tasks spawned from a task; the last to finish signals.
        let (tx, rx) = mpsc::sync_channel(1000);
        let rem = Arc::new(AtomicUsize::new(0));
        Box::new(move || {
            timed(|| {
                rem.store(NUM_SPAWN, Relaxed);
                let (tx, rem) = (tx.clone(), rem.clone());
                rt.spawn(async move {
                    for _ in 0..NUM_SPAWN {
                        let (tx, rem) = (tx.clone(), rem.clone());
                        spawn(async move {
                            if rem.fetch_sub(1, Relaxed) == 1 {
                                tx.send(()).unwrap();
                            }
                        });
                    }
                });
                rx.recv().unwrap();
            })
        })
    }
);

both!(
    corral_spawn_many_remote_idle,
    tokio_spawn_many_remote_idle,
    |rt, _s, _y| {
        let mut handles = Vec::with_capacity(NUM_SPAWN);
        Box::new(move || {
            timed(|| {
                for _ in 0..NUM_SPAWN {
                    handles.push(rt.spawn(async {}));
                }
                rt.block_on(async {
                    for h in handles.drain(..) {
                        h.await.unwrap();
                    }
                });
            })
        })
    }
);

both!(
    corral_spawn_many_remote_busy1,
    tokio_spawn_many_remote_busy1,
    |rt, _s, yield_now| {
        // The same, while 2 x workers tasks loop yield + 10 µs spin.
        let flag = Arc::new(AtomicBool::new(true));
        for _ in 0..2 * NUM_WORKERS {
            let flag = flag.clone();
            rt.spawn(async move {
                while flag.load(Relaxed) {
                    yield_now().await;
                    stall();
                }
            });
        }
        let mut handles = Vec::with_capacity(NUM_SPAWN);
        let _stop = StopOnDrop(flag);
        Box::new(move || {
            let _ = &_stop;
            timed(|| {
                for _ in 0..NUM_SPAWN {
                    handles.push(rt.spawn(async {}));
                }
                rt.block_on(async {
                    for h in handles.drain(..) {
                        h.await.unwrap();
                    }
                });
            })
        })
    }
);

both!(
    corral_spawn_many_remote_busy2,
    tokio_spawn_many_remote_busy2,
    |rt, spawn, _y| {
        // 1,000 remote spawns while self-respawning chains spin.
        const N: usize = 1_000;
        let flag = Arc::new(AtomicBool::new(true));
        fn chain(flag: Arc<AtomicBool>, spawn_fn: fn(BoxFuture)) {
            spawn_fn(Box::pin(async move {
                if flag.load(Relaxed) {
                    stall();
                    chain(flag, spawn_fn);
                }
            }));
        }
        let spawn_fn: fn(BoxFuture) = |f| {
            spawn(f);
        };
        for _ in 0..2 * NUM_WORKERS {
            let flag = flag.clone();
            rt.spawn(async move { chain(flag, spawn_fn) });
        }
        let mut handles = Vec::with_capacity(N);
        let _stop = StopOnDrop(flag);
        Box::new(move || {
            let _ = &_stop;
            timed(|| {
                for _ in 0..N {
                    handles.push(rt.spawn(async {}));
                }
                rt.block_on(async {
                    for h in handles.drain(..) {
                        h.await.unwrap();
                    }
                });
            })
        })
    }
);

both!(corral_yield_many, tokio_yield_many, |rt, _s, yield_now| {
    // 200 tasks x 1,000 yields.
    const TASKS: usize = 200;
    const YIELDS: usize = 1_000;
    Box::new(move || {
        timed(|| {
            let (tx, rx) = mpsc::sync_channel(TASKS);
            for _ in 0..TASKS {
                let tx = tx.clone();
                rt.spawn(async move {
                    for _ in 0..YIELDS {
                        yield_now().await;
                    }
                    tx.send(()).unwrap();
                });
            }
            for _ in 0..TASKS {
                rx.recv().unwrap();
            }
        })
    })
});

both!(corral_ping_pong, tokio_ping_pong, |rt, spawn, _y| {
    // 1,000 pairs exchanging two oneshots (futures-channel's on both).
    use futures_channel::oneshot;
    const PINGS: usize = 1_000;
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));
    Box::new(move || {
        timed(|| {
            let (done_tx, rem) = (done_tx.clone(), rem.clone());
            rem.store(PINGS, Relaxed);
            rt.spawn(async move {
                for _ in 0..PINGS {
                    let (done_tx, rem) = (done_tx.clone(), rem.clone());
                    spawn(async move {
                        let (tx1, rx1) = oneshot::channel::<()>();
                        let (tx2, rx2) = oneshot::channel::<()>();
                        spawn(async move {
                            rx1.await.unwrap();
                            tx2.send(()).unwrap();
                        });
                        tx1.send(()).unwrap();
                        rx2.await.unwrap();
                        if rem.fetch_sub(1, Relaxed) == 1 {
                            done_tx.send(()).unwrap();
                        }
                    });
                }
            });
            done_rx.recv().unwrap();
        })
    })
});

both!(corral_chained_spawn, tokio_chained_spawn, |rt, spawn, _y| {
    // A chain of 1,000 spawns.
    const LEN: usize = 1_000;
    fn link(done: mpsc::SyncSender<()>, n: usize, spawn_fn: fn(BoxFuture)) {
        if n == 0 {
            done.send(()).unwrap();
        } else {
            spawn_fn(Box::pin(async move { link(done, n - 1, spawn_fn) }));
        }
    }
    let spawn_fn: fn(BoxFuture) = |f| {
        spawn(f);
    };
    Box::new(move || {
        timed(|| {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            rt.spawn(async move { link(done_tx, LEN, spawn_fn) });
            done_rx.recv().unwrap();
        })
    })
});

/// remote_spawn (tokio's benches/remote_spawn.rs): 12,800 no-op tasks
/// spawned from `threads` external threads released by a barrier; only
/// the spawn phase is timed.
macro_rules! remote_spawn {
    ($corral:ident, $tokio:ident, $threads:expr) => {
        both!($corral, $tokio, |rt, _s, _y| {
            const TOTAL: usize = 12_800;
            let handle = rt.handle().clone();
            Box::new(move || {
                let barrier = Arc::new(Barrier::new($threads + 1));
                let done = Arc::new(Barrier::new($threads + 1));
                let workers: Vec<_> = (0..$threads)
                    .map(|_| {
                        let (handle, barrier, done) = (handle.clone(), barrier.clone(), done.clone());
                        std::thread::spawn(move || {
                            let mut hs = Vec::with_capacity(TOTAL / $threads);
                            barrier.wait();
                            for _ in 0..TOTAL / $threads {
                                hs.push(handle.spawn(async {}));
                            }
                            done.wait();
                            hs
                        })
                    })
                    .collect();
                barrier.wait();
                let start = Instant::now();
                done.wait();
                let spent = start.elapsed();
                let handles: Vec<_> = workers
                    .into_iter()
                    .flat_map(|w| w.join().unwrap())
                    .collect();
                rt.block_on(async {
                    for h in handles {
                        h.await.unwrap();
                    }
                });
                spent
            })
        });
    };
}
remote_spawn!(corral_remote_spawn_1, tokio_remote_spawn_1, 1);
remote_spawn!(corral_remote_spawn_2, tokio_remote_spawn_2, 2);

fn corral_run_sync() -> Iter {
    let rt = corral_mt();
    Box::new(move || timed(|| rt.block_on(run_sync_body(|f| corral::run_sync(f), |f| corral::spawn(f)))))
}

fn tokio_run_sync() -> Iter {
    let rt = tokio_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..RUN_SYNC_TASKS)
                    .map(|_| {
                        tokio::spawn(async {
                            for _ in 0..100 {
                                let batch: Vec<_> =
                                    (0..16).map(|_| tokio::task::spawn_blocking(|| {})).collect();
                                for j in batch {
                                    j.await.unwrap();
                                }
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

const RUN_SYNC_TASKS: usize = 4;

/// N tasks each running 100 batches of 16 no-op blocking calls.
async fn run_sync_body(
    run_sync: fn(fn()) -> corral::task::JoinHandle<()>,
    spawn: fn(BoxFuture) -> corral::task::JoinHandle<()>,
) {
    let tasks: Vec<_> = (0..RUN_SYNC_TASKS)
        .map(|_| {
            spawn(Box::pin(async move {
                for _ in 0..100 {
                    let batch: Vec<_> = (0..16).map(|_| run_sync(|| {})).collect();
                    for j in batch {
                        j.await.unwrap();
                    }
                }
            }))
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

// ---- current-thread runtime (tokio's benches/rt_current_thread.rs) ------------

const CT_SPAWN: usize = 1_000;

both!(ct corral_ct_spawn_many_local, tokio_ct_spawn_many_local, |rt, spawn, _y| {
    let mut handles = Vec::with_capacity(CT_SPAWN);
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                for _ in 0..CT_SPAWN {
                    handles.push(spawn(async {}));
                }
                for h in handles.drain(..) {
                    h.await.unwrap();
                }
            })
        })
    })
});

both!(ct corral_ct_remote_idle, tokio_ct_remote_idle, |rt, _s, _y| {
    let mut handles = Vec::with_capacity(CT_SPAWN);
    let handle = rt.handle().clone();
    Box::new(move || {
        timed(|| {
            for _ in 0..CT_SPAWN {
                handles.push(handle.spawn(async {}));
            }
            rt.block_on(async {
                for h in handles.drain(..) {
                    h.await.unwrap();
                }
            })
        })
    })
});

both!(ct corral_ct_remote_busy, tokio_ct_remote_busy, |rt, spawn, _y| {
    // The same, while a task respawns itself forever.
    fn forever(spawn_fn: fn(BoxFuture)) {
        spawn_fn(Box::pin(async move { forever(spawn_fn) }));
    }
    let spawn_fn: fn(BoxFuture) = |f| {
        spawn(f);
    };
    rt.spawn(async move { forever(spawn_fn) });
    let mut handles = Vec::with_capacity(CT_SPAWN);
    let handle = rt.handle().clone();
    Box::new(move || {
        timed(|| {
            for _ in 0..CT_SPAWN {
                handles.push(handle.spawn(async {}));
            }
            rt.block_on(async {
                for h in handles.drain(..) {
                    h.await.unwrap();
                }
            })
        })
    })
});

both!(ct corral_ct_spawn_one, tokio_ct_spawn_one, |rt, spawn, _y| {
    // A single spawn + await, 100 times per iteration.
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                for _ in 0..100 {
                    spawn(async {}).await.unwrap();
                }
            })
        })
    })
});

// ---- time ----------------------------------------------------------------------

fn corral_time_now() -> Iter {
    let rt = corral_ct();
    Box::new(move || {
        rt.block_on(async {
            timed(|| {
                for _ in 0..1_000 {
                    std::hint::black_box(corral::time::Instant::now());
                }
            })
        })
    })
}

fn tokio_time_now() -> Iter {
    let rt = tokio_ct();
    Box::new(move || {
        rt.block_on(async {
            timed(|| {
                for _ in 0..1_000 {
                    std::hint::black_box(tokio::time::Instant::now());
                }
            })
        })
    })
}

/// 10,000 x `timeout(1 s, ready)` on `$rt`'s timeout.
macro_rules! timeout_ready_10k {
    ($rt:ident) => {
        async {
            for _ in 0..10_000 {
                let r = $rt::time::timeout(Duration::from_secs(1), async { 1 }).await;
                std::hint::black_box(r.unwrap());
            }
        }
    };
}

fn corral_timeout_ready() -> Iter {
    let rt = corral_ct();
    Box::new(move || {
        rt.block_on(async {
            timed_async(async {
                for _ in 0..1_000 {
                    let r = corral::time::timeout(Duration::from_secs(1), async { 1 }).await;
                    std::hint::black_box(r.unwrap());
                }
            })
            .await
        })
    })
}

fn tokio_timeout_ready() -> Iter {
    let rt = tokio_ct();
    Box::new(move || {
        rt.block_on(async {
            timed_async(async {
                for _ in 0..1_000 {
                    let r = tokio::time::timeout(Duration::from_secs(1), async { 1 }).await;
                    std::hint::black_box(r.unwrap());
                }
            })
            .await
        })
    })
}

/// 10,000 x `timeout(1 s, ready)` awaited directly in `block_on` (the body
/// of a `#[corral::main(flavor = "current_thread")]`): long enough that
/// the block_on future runs through its cooperative budget many times.
fn corral_ct_timeout_ready_block_on() -> Iter {
    let rt = corral_ct();
    Box::new(move || rt.block_on(timed_async(timeout_ready_10k!(corral))))
}

fn tokio_ct_timeout_ready_block_on() -> Iter {
    let rt = tokio_ct();
    Box::new(move || rt.block_on(timed_async(timeout_ready_10k!(tokio))))
}

/// The same loop in a spawned task on a current-thread runtime.
fn corral_ct_timeout_ready_task() -> Iter {
    let rt = corral_ct();
    Box::new(move || {
        rt.block_on(async {
            corral::spawn(timed_async(timeout_ready_10k!(corral)))
                .await
                .unwrap()
        })
    })
}

fn tokio_ct_timeout_ready_task() -> Iter {
    let rt = tokio_ct();
    Box::new(move || {
        rt.block_on(async {
            tokio::spawn(timed_async(timeout_ready_10k!(tokio)))
                .await
                .unwrap()
        })
    })
}

async fn timed_async(f: impl std::future::Future<Output = ()>) -> Duration {
    let start = Instant::now();
    f.await;
    start.elapsed()
}

/// Create a 1 s sleep, poll it once (so it registers), drop it; x1000.
fn corral_sleep_create_drop() -> Iter {
    let rt = corral_ct();
    Box::new(move || {
        rt.block_on(async {
            timed_async(async {
                for _ in 0..1_000 {
                    let mut s = std::pin::pin!(corral::time::sleep(Duration::from_secs(1)));
                    let _ = futures_util::poll!(s.as_mut());
                }
            })
            .await
        })
    })
}

fn tokio_sleep_create_drop() -> Iter {
    let rt = tokio_ct();
    Box::new(move || {
        rt.block_on(async {
            timed_async(async {
                for _ in 0..1_000 {
                    let mut s = std::pin::pin!(tokio::time::sleep(Duration::from_secs(1)));
                    let _ = futures_util::poll!(s.as_mut());
                }
            })
            .await
        })
    })
}

/// 100,000 concurrent 1-10 ms sleeps on the multi-thread runtime.
fn corral_sleep_100k() -> Iter {
    let rt = corral_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let hs: Vec<_> = (0..100_000u64)
                    .map(|i| corral::spawn(corral::time::sleep(Duration::from_millis(1 + i % 10))))
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            })
        })
    })
}

fn tokio_sleep_100k() -> Iter {
    let rt = tokio_mt();
    Box::new(move || {
        timed(|| {
            rt.block_on(async {
                let hs: Vec<_> = (0..100_000u64)
                    .map(|i| tokio::spawn(tokio::time::sleep(Duration::from_millis(1 + i % 10))))
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            })
        })
    })
}

// ---- net -----------------------------------------------------------------------

/// Round trips of a 64-byte message over loopback TCP, on a multi-thread
/// runtime: `conns` connections x `trips` round trips each.
const ECHO_MSG: usize = 64;

fn corral_tcp_echo(conns: usize, trips: usize) -> Iter {
    use corral::io::{AsyncReadExt, AsyncWriteExt};
    let rt = corral_mt();
    let addr = rt.block_on(async {
        let listener = corral::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        corral::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                corral::spawn(async move {
                    let mut buf = [0u8; ECHO_MSG];
                    while s.read_exact(&mut buf).await.is_ok() {
                        if s.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    });
    Box::new(move || {
        rt.block_on(async {
            let clients: Vec<_> = (0..conns)
                .map(|_| {
                    corral::spawn(async move {
                        let mut s = corral::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let mut buf = [7u8; ECHO_MSG];
                        let start = Instant::now();
                        for _ in 0..trips {
                            s.write_all(&buf).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                        }
                        start.elapsed()
                    })
                })
                .collect();
            let mut longest = Duration::ZERO;
            for c in clients {
                longest = longest.max(c.await.unwrap());
            }
            longest
        })
    })
}

fn tokio_tcp_echo(conns: usize, trips: usize) -> Iter {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio_mt();
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; ECHO_MSG];
                    while s.read_exact(&mut buf).await.is_ok() {
                        if s.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    });
    Box::new(move || {
        rt.block_on(async {
            let clients: Vec<_> = (0..conns)
                .map(|_| {
                    tokio::spawn(async move {
                        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let mut buf = [7u8; ECHO_MSG];
                        let start = Instant::now();
                        for _ in 0..trips {
                            s.write_all(&buf).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                        }
                        start.elapsed()
                    })
                })
                .collect();
            let mut longest = Duration::ZERO;
            for c in clients {
                longest = longest.max(c.await.unwrap());
            }
            longest
        })
    })
}

fn corral_tcp_echo_1() -> Iter {
    corral_tcp_echo(1, 1_000)
}

fn tokio_tcp_echo_1() -> Iter {
    tokio_tcp_echo(1, 1_000)
}

fn corral_tcp_echo_100() -> Iter {
    corral_tcp_echo(100, 1_000)
}

fn tokio_tcp_echo_100() -> Iter {
    tokio_tcp_echo(100, 1_000)
}

/// Stops background tasks when the workload is dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Relaxed);
    }
}
