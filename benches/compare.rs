//! Side-by-side comparison of corral and tokio on every workload.
//!
//! ```text
//! cargo bench --bench compare                  # full run (several minutes)
//! cargo bench --bench compare -- --quick       # under a minute
//! cargo bench --bench compare -- --filter spawn --json figures.json
//! cargo bench --bench compare -- --aa          # tokio in both columns: the noise floor
//! ```
//!
//! For each workload both runtimes are built once, warmed up, and then run
//! in alternating rounds (A B, B A, A B, ...), each round a batch of
//! iterations sized to about `sample` of wall time. The table gives the
//! median time per iteration of each side, the ratio of those medians
//! (corral / tokio: lower is better), the median of the per-round ratios
//! (pairs taken in the same round share the machine's mood), and for
//! multi-thread and net workloads the ratio of CPU time (user + sys), which is far
//! steadier than wall time on a shared 2-core machine. A claim that corral
//! is faster holds only outside the A/A spread of that workload.

// compare is a measuring tool, not API.
#![allow(missing_docs)]

#[path = "workloads/mod.rs"]
mod workloads;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::Duration;
use workloads::{Alternate, Iter, Kind, Workload};

/// Counts live heap bytes, for the memory rows.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes per item: `setup` builds what must exist first, `make` adds
/// N items and returns something that keeps them alive until measured.
fn bytes_per<S, K>(n: usize, setup: impl FnOnce() -> S, make: impl FnOnce(&S, usize) -> K) -> f64 {
    let state = setup();
    std::thread::sleep(Duration::from_millis(50));
    let before = LIVE_BYTES.load(Relaxed);
    let keep = make(&state, n);
    std::thread::sleep(Duration::from_millis(50));
    let after = LIVE_BYTES.load(Relaxed);
    drop(keep);
    drop(state);
    (after - before) as f64 / n as f64
}

/// (name, corral bytes, tokio bytes)
fn memory_rows() -> Vec<(&'static str, f64, f64)> {
    const N: usize = 20_000;
    let idle_task_corral = bytes_per(
        N,
        || corral::Builder::new_current_thread().build().unwrap(),
        |rt, n| {
            for _ in 0..n {
                drop(rt.spawn(std::future::pending::<()>()));
            }
            rt.block_on(async { corral::time::sleep(Duration::from_millis(5)).await });
        },
    );
    let idle_task_tokio = bytes_per(
        N,
        || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        },
        |rt, n| {
            for _ in 0..n {
                drop(rt.spawn(std::future::pending::<()>()));
            }
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
        },
    );
    // Sleeps boxed on both sides (tokio's Sleep is !Unpin), pre-sized Vec.
    let sleep_corral = bytes_per(
        N,
        || {
            let rt = corral::Builder::new_current_thread().build().unwrap();
            let v: Vec<std::pin::Pin<Box<corral::time::Sleep>>> = Vec::with_capacity(N);
            (rt, std::cell::RefCell::new(v))
        },
        |(rt, v), n| {
            rt.block_on(async {
                let mut v = v.borrow_mut();
                for _ in 0..n {
                    let mut s = Box::pin(corral::time::sleep(Duration::from_secs(3600)));
                    let _ = futures_util::poll!(s.as_mut());
                    v.push(s);
                }
            });
        },
    );
    let sleep_tokio = bytes_per(
        N,
        || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let v: Vec<std::pin::Pin<Box<tokio::time::Sleep>>> = Vec::with_capacity(N);
            (rt, std::cell::RefCell::new(v))
        },
        |(rt, v), n| {
            rt.block_on(async {
                let mut v = v.borrow_mut();
                for _ in 0..n {
                    let mut s = Box::pin(tokio::time::sleep(Duration::from_secs(3600)));
                    let _ = futures_util::poll!(s.as_mut());
                    v.push(s);
                }
            });
        },
    );
    // A boxed Mutex<u64> each (the primitive's own size), pre-sized Vec.
    let mutex_corral = bytes_per(
        N,
        || std::cell::RefCell::new(Vec::<Box<corral::sync::Mutex<u64>>>::with_capacity(N)),
        |v, n| {
            let mut v = v.borrow_mut();
            for _ in 0..n {
                v.push(Box::new(corral::sync::Mutex::new(0)));
            }
        },
    );
    let mutex_tokio = bytes_per(
        N,
        || std::cell::RefCell::new(Vec::<Box<tokio::sync::Mutex<u64>>>::with_capacity(N)),
        |v, n| {
            let mut v = v.borrow_mut();
            for _ in 0..n {
                v.push(Box::new(tokio::sync::Mutex::new(0)));
            }
        },
    );
    // Tasks waiting on one held Mutex (task + its waiting lock future).
    let waiter_corral = bytes_per(
        N,
        || {
            let rt = corral::Builder::new_current_thread().build().unwrap();
            let m = std::sync::Arc::new(corral::sync::Mutex::new(0u64));
            let held = m.clone().try_lock_owned().unwrap();
            (rt, m, held)
        },
        |(rt, m, _held), n| {
            for _ in 0..n {
                let m = m.clone();
                drop(rt.spawn(async move { *m.lock().await += 1 }));
            }
            rt.block_on(async { corral::time::sleep(Duration::from_millis(5)).await });
        },
    );
    let waiter_tokio = bytes_per(
        N,
        || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let m = std::sync::Arc::new(tokio::sync::Mutex::new(0u64));
            let held = m.clone().try_lock_owned().unwrap();
            (rt, m, held)
        },
        |(rt, m, _held), n| {
            for _ in 0..n {
                let m = m.clone();
                drop(rt.spawn(async move { *m.lock().await += 1 }));
            }
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
        },
    );
    // async-lock's types (a third opinion; its waiters on the corral
    // runtime), in the row's name: the table has two columns.
    let mutex_async_lock = boxed_bytes(|| async_lock::Mutex::new(0u64));
    let waiter_async_lock = corral_waiting(
        || {
            let m = std::sync::Arc::new(async_lock::Mutex::new(0u64));
            let held = m.try_lock_arc().unwrap();
            (m, held)
        },
        |m| async move { *m.lock().await += 1 },
    );
    let sem_corral = boxed_bytes(|| corral::sync::Semaphore::new(4));
    let sem_tokio = boxed_bytes(|| tokio::sync::Semaphore::new(4));
    let sem_async_lock = boxed_bytes(|| async_lock::Semaphore::new(4));
    // Tasks waiting on one Semaphore with no free permit.
    let sem_waiter_corral = corral_waiting(
        || (std::sync::Arc::new(corral::sync::Semaphore::new(0)), ()),
        |s| async move { drop(s.acquire().await) },
    );
    let sem_waiter_tokio = tokio_waiting(
        || (std::sync::Arc::new(tokio::sync::Semaphore::new(0)), ()),
        |s| async move { drop(s.acquire().await) },
    );
    let sem_waiter_async_lock = corral_waiting(
        || (std::sync::Arc::new(async_lock::Semaphore::new(0)), ()),
        |s| async move { drop(s.acquire().await) },
    );
    vec![
        ("heap bytes per idle task", idle_task_corral, idle_task_tokio),
        ("heap bytes per pending sleep", sleep_corral, sleep_tokio),
        (
            also("heap bytes per Mutex<u64> (boxed)", mutex_async_lock),
            mutex_corral,
            mutex_tokio,
        ),
        (
            also("heap bytes per task waiting on a Mutex", waiter_async_lock),
            waiter_corral,
            waiter_tokio,
        ),
        (
            also("heap bytes per Semaphore (boxed)", sem_async_lock),
            sem_corral,
            sem_tokio,
        ),
        (
            also(
                "heap bytes per task waiting on a Semaphore",
                sem_waiter_async_lock,
            ),
            sem_waiter_corral,
            sem_waiter_tokio,
        ),
    ]
}

/// The channel rows (issue 10): heap bytes per buffered `u64` and per
/// waiting task, corral against tokio. Each channel first passes one item
/// through (tokio allocates its first block when the channel is made,
/// corral at the first send), so the rows count what buffering adds.
fn channel_memory_rows() -> Vec<(&'static str, f64, f64)> {
    use std::cell::RefCell;
    let unbounded = |n: usize| {
        let c = bytes_per(
            n,
            || {
                let (tx, mut rx) = corral::sync::mpsc::unbounded_channel::<u64>();
                tx.send(0).unwrap();
                rx.try_recv().unwrap();
                (tx, rx)
            },
            |(tx, _), n| (0..n as u64).for_each(|i| tx.send(i).unwrap()),
        );
        let t = bytes_per(
            n,
            || {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                tx.send(0).unwrap();
                rx.try_recv().unwrap();
                (tx, rx)
            },
            |(tx, _), n| (0..n as u64).for_each(|i| tx.send(i).unwrap()),
        );
        (c, t)
    };
    let (u1k_c, u1k_t) = unbounded(1_000);
    let (u10k_c, u10k_t) = unbounded(10_000);
    let (u100k_c, u100k_t) = unbounded(100_000);
    const CAP: usize = 10_000;
    let bounded_c = bytes_per(
        CAP,
        || {
            let (tx, mut rx) = corral::sync::mpsc::channel::<u64>(CAP);
            tx.try_send(0).unwrap();
            rx.try_recv().unwrap();
            (tx, rx)
        },
        |(tx, _), n| (0..n as u64).for_each(|i| tx.try_send(i).unwrap()),
    );
    let bounded_t = bytes_per(
        CAP,
        || {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAP);
            tx.try_send(0).unwrap();
            rx.try_recv().unwrap();
            (tx, rx)
        },
        |(tx, _), n| (0..n as u64).for_each(|i| tx.try_send(i).unwrap()),
    );
    // Queue::with_maxsize against tokio's bounded mpsc of the same size.
    let queue_c = bytes_per(
        CAP,
        || {
            let q = corral::sync::Queue::<u64>::with_maxsize(CAP);
            q.put_nowait(0).unwrap();
            q.get_nowait().unwrap();
            q
        },
        |q, n| (0..n as u64).for_each(|i| q.put_nowait(i).unwrap()),
    );
    // Tasks waiting in `send` on one full bounded channel.
    let send_waiter_c = corral_waiting(
        || {
            let (tx, rx) = corral::sync::mpsc::channel::<u64>(1);
            tx.try_send(0).unwrap();
            (tx, rx)
        },
        |tx| async move {
            let _ = tx.send(1).await;
        },
    );
    let send_waiter_t = tokio_waiting(
        || {
            let (tx, rx) = tokio::sync::mpsc::channel::<u64>(1);
            tx.try_send(0).unwrap();
            (tx, rx)
        },
        |tx| async move {
            let _ = tx.send(1).await;
        },
    );
    // A task waiting in `recv` on its own empty bounded(1) channel (one
    // receiver per channel): the task, its future and the channel.
    const W: usize = 20_000;
    let recv_waiter_c = bytes_per(
        W,
        || {
            let rt = corral::Builder::new_current_thread().build().unwrap();
            (rt, RefCell::new(Vec::with_capacity(W)))
        },
        |(rt, senders), n| {
            let mut senders = senders.borrow_mut();
            for _ in 0..n {
                let (tx, mut rx) = corral::sync::mpsc::channel::<u64>(1);
                drop(rt.spawn(async move {
                    let _ = rx.recv().await;
                }));
                senders.push(tx);
            }
            rt.block_on(async { corral::time::sleep(Duration::from_millis(5)).await });
        },
    );
    let recv_waiter_t = bytes_per(
        W,
        || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            (rt, RefCell::new(Vec::with_capacity(W)))
        },
        |(rt, senders), n| {
            let mut senders = senders.borrow_mut();
            for _ in 0..n {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
                drop(rt.spawn(async move {
                    let _ = rx.recv().await;
                }));
                senders.push(tx);
            }
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
        },
    );
    // A oneshot, both halves kept (a pre-sized Vec holds them).
    let oneshot_c = bytes_per(
        W,
        || RefCell::new(Vec::with_capacity(W)),
        |v, n| {
            let mut v = v.borrow_mut();
            for _ in 0..n {
                v.push(corral::sync::oneshot::channel::<u64>());
            }
        },
    );
    let oneshot_t = bytes_per(
        W,
        || RefCell::new(Vec::with_capacity(W)),
        |v, n| {
            let mut v = v.borrow_mut();
            for _ in 0..n {
                v.push(tokio::sync::oneshot::channel::<u64>());
            }
        },
    );
    vec![
        (
            "heap bytes per buffered u64, mpsc unbounded, 1,000 items",
            u1k_c,
            u1k_t,
        ),
        (
            "heap bytes per buffered u64, mpsc unbounded, 10,000 items",
            u10k_c,
            u10k_t,
        ),
        (
            "heap bytes per buffered u64, mpsc unbounded, 100,000 items",
            u100k_c,
            u100k_t,
        ),
        (
            "heap bytes per buffered u64, mpsc bounded(10,000) full",
            bounded_c,
            bounded_t,
        ),
        (
            "heap bytes per buffered u64, Queue::with_maxsize(10,000) full (tokio: bounded mpsc)",
            queue_c,
            bounded_t,
        ),
        (
            "heap bytes per task waiting in send on a full mpsc",
            send_waiter_c,
            send_waiter_t,
        ),
        (
            "heap bytes per task waiting in recv on its own empty mpsc (channel included)",
            recv_waiter_c,
            recv_waiter_t,
        ),
        ("heap bytes per oneshot channel", oneshot_c, oneshot_t),
    ]
}

/// A memory row's name with async-lock's figure.
fn also(name: &str, async_lock: f64) -> &'static str {
    Box::leak(format!("{name} (async-lock: {async_lock:.0})").into_boxed_str())
}

/// Heap bytes per boxed value from `make`: the primitive's own size.
fn boxed_bytes<T>(make: fn() -> T) -> f64 {
    const N: usize = 20_000;
    bytes_per(
        N,
        || std::cell::RefCell::new(Vec::<Box<T>>::with_capacity(N)),
        |v, n| {
            let mut v = v.borrow_mut();
            for _ in 0..n {
                v.push(Box::new(make()));
            }
        },
    )
}

/// Heap bytes per corral task parked in `wait(shared)` (the task and its
/// waiting future); `setup` gives the shared primitive and whatever keeps
/// it unavailable (a held guard) for the duration.
fn corral_waiting<S, H, F>(setup: impl FnOnce() -> (S, H), wait: impl Fn(S) -> F) -> f64
where
    S: Clone,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    const N: usize = 20_000;
    bytes_per(
        N,
        || {
            let rt = corral::Builder::new_current_thread().build().unwrap();
            let (shared, held) = setup();
            (rt, shared, held)
        },
        |(rt, shared, _held), n| {
            for _ in 0..n {
                drop(rt.spawn(wait(shared.clone())));
            }
            rt.block_on(async { corral::time::sleep(Duration::from_millis(5)).await });
        },
    )
}

/// As [`corral_waiting`], on a tokio current-thread runtime.
fn tokio_waiting<S, H, F>(setup: impl FnOnce() -> (S, H), wait: impl Fn(S) -> F) -> f64
where
    S: Clone,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    const N: usize = 20_000;
    bytes_per(
        N,
        || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let (shared, held) = setup();
            (rt, shared, held)
        },
        |(rt, shared, _held), n| {
            for _ in 0..n {
                drop(rt.spawn(wait(shared.clone())));
            }
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
        },
    )
}

struct Options {
    quick: bool,
    aa: bool,
    filter: Option<String>,
    json: Option<String>,
    rounds: Option<usize>,
}

fn parse_args() -> Options {
    let mut o = Options {
        quick: false,
        aa: false,
        filter: None,
        json: None,
        rounds: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--aa" => o.aa = true,
            "--filter" => o.filter = args.next(),
            "--json" => o.json = args.next(),
            "--rounds" => o.rounds = args.next().and_then(|n| n.parse().ok()),
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            other => {
                eprintln!("compare: unknown argument {other:?}");
                eprintln!("usage: compare [--quick] [--aa] [--filter NAME] [--json PATH] [--rounds N]");
                std::process::exit(2);
            }
        }
    }
    o
}

/// Process CPU time (user + sys).
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF
    // is always valid.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One batch: (wall per iteration, cpu per iteration).
fn batch(it: &mut Iter, iters: usize) -> (f64, f64) {
    let cpu0 = cpu_time();
    let mut wall = Duration::ZERO;
    for _ in 0..iters {
        wall += it();
    }
    let cpu = cpu_time() - cpu0;
    (
        wall.as_secs_f64() / iters as f64,
        cpu.as_secs_f64() / iters as f64,
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Row {
    name: &'static str,
    kind: Kind,
    a: f64,
    b: f64,
    ratio: f64,
    paired: f64,
    cpu_ratio: Option<f64>,
    spread: (f64, f64),
    iters: usize,
    alternates: Vec<AltRow>,
}

/// corral against a third implementation of the same workload.
struct AltRow {
    label: &'static str,
    /// Median time per iteration of the alternate.
    time: f64,
    /// corral / alternate, ratio of the medians.
    ratio: f64,
    /// Median of the per-round ratios.
    paired: f64,
}

/// Runs every side of a workload in rotating rounds: corral, tokio, then
/// each alternate (A B C, C B A, ...), so each pair shares the machine's
/// mood about equally.
fn run(w: &Workload, alts: &[&Alternate], o: &Options) -> Row {
    let sample = if o.quick { 0.03 } else { 0.15 };
    let rounds = o.rounds.unwrap_or(if o.quick { 5 } else { 15 });
    let mut sides: Vec<Iter> = Vec::with_capacity(2 + alts.len());
    sides.push(if o.aa { (w.tokio)() } else { (w.corral)() });
    sides.push((w.tokio)());
    for alt in alts {
        sides.push((alt.run)());
    }
    // Warm up every side and size the batch from the slowest.
    let mut per = 0f64;
    for it in &mut sides {
        let mut n = 0;
        let start = std::time::Instant::now();
        while n < 2 || start.elapsed().as_secs_f64() < sample / 2.0 {
            it();
            n += 1;
        }
        per = per.max(start.elapsed().as_secs_f64() / n as f64);
    }
    let iters = ((sample / per) as usize).max(1);
    let n = sides.len();
    let mut wall = vec![Vec::with_capacity(rounds); n];
    let mut cpu = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..n).collect()
        } else {
            (0..n).rev().collect()
        };
        for i in order {
            let (w, c) = batch(&mut sides[i], iters);
            wall[i].push(w);
            cpu[i].push(c);
        }
    }
    drop(sides);
    // Per-round ratios of corral (side 0) against side `i`.
    let paired_against = |i: usize| -> Vec<f64> {
        let mut r: Vec<f64> = (0..rounds).map(|k| wall[0][k] / wall[i][k]).collect();
        r.sort_by(|a, b| a.total_cmp(b));
        r
    };
    let tokio_rounds = paired_against(1);
    let alt_rows: Vec<AltRow> = alts
        .iter()
        .enumerate()
        .map(|(k, alt)| {
            let mut r = paired_against(2 + k);
            AltRow {
                label: alt.label,
                time: median(&mut wall[2 + k].clone()),
                ratio: median(&mut wall[0].clone()) / median(&mut wall[2 + k].clone()),
                paired: median(&mut r),
            }
        })
        .collect();
    let (ma, mb) = (median(&mut wall[0]), median(&mut wall[1]));
    let cpu_ratio =
        matches!(w.kind, Kind::MultiThread | Kind::Net).then(|| median(&mut cpu[0]) / median(&mut cpu[1]));
    let paired = median(&mut tokio_rounds.clone());
    Row {
        name: w.name,
        kind: w.kind,
        a: ma,
        b: mb,
        ratio: ma / mb,
        paired,
        cpu_ratio,
        spread: (tokio_rounds[0], tokio_rounds[rounds - 1]),
        iters,
        alternates: alt_rows,
    }
}

fn fmt_time(s: f64) -> String {
    if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.1} ns", s * 1e9)
    }
}

fn main() {
    let o = parse_args();
    let list: Vec<_> = workloads::all()
        .into_iter()
        .filter(|w| o.filter.as_deref().is_none_or(|f| w.name.contains(f)))
        .collect();
    if list.is_empty() {
        eprintln!("compare: no workload matches {:?}", o.filter);
        std::process::exit(2);
    }
    let (left, right) = if o.aa {
        ("tokio", "tokio")
    } else {
        ("corral", "tokio")
    };
    // An A/A run compares tokio with itself: no third column.
    let all_alternates = if o.aa { Vec::new() } else { workloads::alternates() };
    let mut rows = Vec::new();
    for (i, w) in list.iter().enumerate() {
        eprint!("[{}/{}] {} ... ", i + 1, list.len(), w.name);
        let _ = std::io::stderr().flush();
        let alts: Vec<&Alternate> = all_alternates.iter().filter(|a| a.workload == w.name).collect();
        let row = run(w, &alts, &o);
        eprint!("{:.2}", row.ratio);
        for alt in &row.alternates {
            eprint!(", vs {} {:.2}", alt.label, alt.ratio);
        }
        eprintln!();
        rows.push(row);
    }
    println!();
    println!(
        "| workload | {left} | {right} | ratio | paired ratio (min..max) | cpu ratio | {left} vs others (ratio, paired; their time) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for r in &rows {
        let others = if r.alternates.is_empty() {
            "-".to_string()
        } else {
            r.alternates
                .iter()
                .map(|a| {
                    format!(
                        "{} {:.2}, {:.2}; {}",
                        a.label,
                        a.ratio,
                        a.paired,
                        fmt_time(a.time)
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        println!(
            "| {} | {} | {} | {:.2} | {:.2} ({:.2}..{:.2}) | {} | {} |",
            r.name,
            fmt_time(r.a),
            fmt_time(r.b),
            r.ratio,
            r.paired,
            r.spread.0,
            r.spread.1,
            r.cpu_ratio.map_or("-".into(), |c| format!("{c:.2}")),
            others,
        );
    }
    let geomean = (rows.iter().map(|r| r.ratio.ln()).sum::<f64>() / rows.len() as f64).exp();
    if !o.aa {
        println!();
        println!("| memory | corral | tokio | ratio |");
        println!("|---|---:|---:|---:|");
        for (name, c, t) in memory_rows().into_iter().chain(channel_memory_rows()) {
            // Bytes per buffered item are single digits: one decimal.
            let p = usize::from(c < 20.0 && t < 20.0);
            println!("| {name} | {c:.p$} | {t:.p$} | {:.2} |", c / t);
        }
    }
    println!();
    println!("geomean ratio: {geomean:.2}");
    if let Some(path) = &o.json {
        let mut out = String::from("{\n  \"mode\": ");
        out += if o.aa { "\"aa\"" } else { "\"ab\"" };
        out += &format!(",\n  \"geomean_ratio\": {geomean:.4},\n  \"workloads\": [\n");
        for (i, r) in rows.iter().enumerate() {
            let alternates = r
                .alternates
                .iter()
                .map(|a| {
                    format!(
                        "{{\"label\": \"{}\", \"s\": {:e}, \"ratio\": {:.4}, \"paired_ratio\": {:.4}}}",
                        a.label, a.time, a.ratio, a.paired
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            out += &format!(
                "    {{\"name\": \"{}\", \"kind\": \"{:?}\", \"{left}_s\": {:e}, \"{right}_s\": {:e}, \"ratio\": {:.4}, \"paired_ratio\": {:.4}, \"paired_min\": {:.4}, \"paired_max\": {:.4}, \"cpu_ratio\": {}, \"iters_per_round\": {}, \"alternates\": [{alternates}]}}{}\n",
                r.name,
                r.kind,
                r.a,
                r.b,
                r.ratio,
                r.paired,
                r.spread.0,
                r.spread.1,
                r.cpu_ratio.map_or("null".into(), |c| format!("{c:.4}")),
                r.iters,
                if i + 1 < rows.len() { "," } else { "" }
            );
        }
        out += "  ]\n}\n";
        if let Err(e) = std::fs::write(path, out) {
            eprintln!("compare: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}
