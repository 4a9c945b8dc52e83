//! A short tour of corral: spawn, join, yield, abort, a panic that is
//! contained, timers and timeouts, blocking work on the blocking pool, and
//! the stall monitor catching a task that blocks its worker, and the sync
//! primitives (Mutex, Semaphore) with their statistics.
//! Run it with `cargo run --release --example tour`.

use corral::time::{sleep, timeout};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[corral::main]
async fn main() {
    println!(
        "corral tour — {} worker threads\n",
        corral::Handle::current().num_workers()
    );

    // 1. Spawn and join. Each task is one allocation; `await` on its
    //    JoinHandle gives its output.
    let started = Instant::now();
    let squares: Vec<_> = (0..10_000u64)
        .map(|i| corral::spawn(async move { i * i }))
        .collect();
    let mut sum = 0;
    for task in squares {
        sum += task.await.expect("a square task failed");
    }
    println!(
        "1. spawned and joined 10,000 tasks in {:?}: sum of squares = {sum}",
        started.elapsed()
    );

    // 2. Tasks run on every worker: see which threads picked them up.
    let threads: Vec<_> = (0..64)
        .map(|_| {
            corral::spawn(async {
                std::thread::sleep(std::time::Duration::from_micros(200));
                std::thread::current().name().unwrap_or("?").to_owned()
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for t in threads {
        seen.insert(t.await.unwrap());
    }
    println!("2. 64 briefly blocking tasks ran on: {seen:?}");

    // 3. yield_now: a busy task gives way, so a short task still finishes
    //    while it loops.
    let busy = corral::spawn(async {
        let mut rounds = 0u64;
        loop {
            rounds += 1;
            corral::yield_now().await;
            if rounds == 50_000 {
                return rounds;
            }
        }
    });
    let quick = corral::spawn(async { "done while the busy task was still yielding" });
    println!("3. quick task: {}", quick.await.unwrap());
    println!("   busy task yielded {} times", busy.await.unwrap());

    // 4. Abort: a task waiting forever is cancelled; its future is dropped
    //    and its handle reports it.
    let stuck = corral::task::spawn_named("waits-forever", std::future::pending::<()>());
    stuck.abort();
    match stuck.await {
        Err(e) if e.is_cancelled() => println!("4. abort: {e}"),
        other => println!("4. unexpected: {other:?}"),
    }

    // 5. A panic stays inside its task: the worker thread, the runtime and
    //    the other tasks carry on, and the JoinError names the task.
    std::panic::set_hook(Box::new(|_| {})); // keep the demo output tidy
    let faulty = corral::task::spawn_named("parser", async {
        let input = "not a number";
        input.parse::<u32>().expect("input must be numeric")
    });
    let err = faulty.await.unwrap_err();
    let _ = std::panic::take_hook();
    println!("5. contained: {err}");
    let after = corral::spawn(async { 2 + 2 }).await.unwrap();
    println!("   and the runtime still runs tasks: 2 + 2 = {after}");

    // 6. Timers: sleeps never end early; a timeout gives up on a slow
    //    future and drops it.
    let started = Instant::now();
    let sleepers: Vec<_> = [30u64, 10, 20]
        .into_iter()
        .map(|ms| {
            corral::spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                ms
            })
        })
        .collect();
    for s in sleepers {
        s.await.unwrap();
    }
    println!(
        "6. three concurrent sleeps (30, 10, 20 ms) all done after {:?}",
        started.elapsed()
    );
    let slow = timeout(Duration::from_millis(15), sleep(Duration::from_secs(60)))
        .await
        .map_err(|e| e.to_string());
    let fast = timeout(Duration::from_millis(15), async { "ready" }).await;
    println!("   timeout on a 60 s sleep: {slow:?}; on a ready future: {fast:?}");

    // 7. Blocking work goes to the blocking pool: the workers keep running
    //    async tasks meanwhile.
    let started = Instant::now();
    let blocking = corral::run_sync(|| {
        std::thread::sleep(Duration::from_millis(100)); // stands in for file I/O or a C call
        std::thread::current().name().unwrap_or("?").to_owned()
    });
    let mut ticks = 0;
    while !blocking.is_finished() {
        sleep(Duration::from_millis(10)).await;
        ticks += 1;
    }
    println!(
        "7. run_sync ran on {:?} for {:?}; meanwhile another task ticked {ticks} times",
        blocking.await.unwrap(),
        started.elapsed()
    );

    // 8. A task that blocks its worker by mistake (a blocking call in
    //    async code) cannot freeze the rest: the stall monitor hands the
    //    stuck worker's timers and queued tasks to an idle worker, and
    //    reports which task blocked and where it was spawned. (A runtime of
    //    its own here, to install the report hook; built and dropped on
    //    the blocking pool, where blocking is allowed.)
    let (late, reports) = corral::run_sync(|| {
        let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = reports.clone();
        let rt = corral::Builder::new_multi_thread()
            .worker_threads(2)
            .on_stall(move |report| log.lock().unwrap().push(report.to_string()))
            .build()
            .expect("runtime");
        let late = rt.block_on(async {
            let timer = corral::spawn(async {
                let deadline = Instant::now() + Duration::from_millis(50);
                sleep(Duration::from_millis(50)).await;
                Instant::now().saturating_duration_since(deadline)
            });
            let blocker = corral::task::spawn_named("blocks-its-worker", async {
                sleep(Duration::from_millis(20)).await;
                std::thread::sleep(Duration::from_millis(300)); // the mistake
            });
            let late = timer.await.unwrap();
            blocker.await.unwrap();
            late
        });
        drop(rt);
        let reports = reports.lock().unwrap().clone();
        (late, reports)
    })
    .await
    .unwrap();
    println!(
        "8. a task blocked its worker for 300 ms; a 50 ms timer still fired {late:?} after its deadline"
    );
    for report in reports {
        println!("   stall monitor: {report}");
    }

    sync_tour().await;

    println!(
        "\nDone. Tasks alive now: {}",
        corral::Handle::current().num_alive_tasks()
    );
}

/// 9-12: corral::sync — Mutex, Semaphore, statistics, threads.
async fn sync_tour() {
    use corral::sync::{Mutex, Semaphore};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    // 9. Read-yield-write: without a lock, updates are lost; with a Mutex
    //    held across the await, 3 tasks x 1,000 reach exactly 3,000.
    let unlocked = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let n = unlocked.clone();
            corral::spawn(async move {
                for _ in 0..1_000 {
                    let read = n.load(SeqCst);
                    corral::yield_now().await;
                    n.store(read + 1, SeqCst);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let locked = Arc::new(Mutex::new(0));
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let n = locked.clone();
            corral::spawn(async move {
                for _ in 0..1_000 {
                    let mut g = n.lock().await;
                    let read = *g;
                    corral::yield_now().await;
                    *g = read + 1;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "9. 3 x 1,000 read-yield-write increments: {} without a lock, {} with a Mutex",
        unlocked.load(SeqCst),
        *locked.lock().await
    );

    // 10. A Semaphore(2) lets 2 of 5 calls run at once; statistics before
    //     and after.
    let sem = Arc::new(Semaphore::new(2));
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    println!("10. before: {:?}", sem.statistics());
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let (sem, running, most) = (sem.clone(), running.clone(), most.clone());
            corral::spawn(async move {
                let _permit = sem.acquire().await.unwrap();
                most.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                sleep(Duration::from_millis(5)).await;
                running.fetch_sub(1, SeqCst);
            })
        })
        .collect();
    sleep(Duration::from_millis(2)).await;
    println!(
        "    during: {} waiting, {} free",
        sem.statistics().tasks_waiting,
        sem.available_permits()
    );
    for c in calls {
        c.await.unwrap();
    }
    println!(
        "    after: at most {} ran at once; {:?}",
        most.load(SeqCst),
        sem.statistics()
    );

    // 11. A bounded executor: 10 jobs, 3 at a time, a progress line under a
    //     Mutex.
    let limit = Arc::new(Semaphore::new(3));
    let progress = Arc::new(Mutex::new(0));
    let jobs: Vec<_> = (0..10)
        .map(|_| {
            let (limit, progress) = (limit.clone(), progress.clone());
            corral::spawn(async move {
                let _slot = limit.acquire().await.unwrap();
                sleep(Duration::from_millis(2)).await;
                let mut done = progress.lock().await;
                *done += 1;
                print!("{}{}/10", if *done == 1 { "11. progress: " } else { " " }, *done);
            })
        })
        .collect();
    for j in jobs {
        j.await.unwrap();
    }
    println!();

    // 12. A bank account shared by OS threads (blocking_lock) and a task:
    //     deposits and withdrawals end at the expected balance.
    let balance = Arc::new(Mutex::new(1_000i64));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let balance = balance.clone();
            std::thread::spawn(move || {
                for _ in 0..250 {
                    let mut b = balance.blocking_lock();
                    *b += if i % 2 == 0 { 10 } else { -5 };
                }
            })
        })
        .collect();
    for _ in 0..100 {
        *balance.lock().await -= 1;
    }
    corral::run_sync(move || {
        for t in threads {
            t.join().unwrap();
        }
    })
    .await
    .unwrap();
    let stats = balance.statistics();
    println!(
        "12. balance after 4 threads and a task: {} (expected {}); locked: {}, created at {}",
        *balance.lock().await,
        1_000 + 2 * 250 * 10 - 2 * 250 * 5 - 100,
        stats.locked,
        stats.created_at
    );
    channels_tour().await;
}

/// oneshot and mpsc: a three-stage pipeline (bounded channels give it
/// backpressure), a request/response over oneshot, and a plain thread
/// feeding the pipeline with `blocking_send`.
async fn channels_tour() {
    use corral::sync::{mpsc, oneshot};

    // Stage 1 -> 2 -> 3: numbers, squared, summed; each channel holds at
    // most 4 items, so a fast stage waits for a slow one.
    let (numbers_tx, mut numbers_rx) = mpsc::channel::<u64>(4);
    let (squares_tx, mut squares_rx) = mpsc::channel::<u64>(4);
    let squarer = corral::spawn(async move {
        while let Some(n) = numbers_rx.recv().await {
            squares_tx.send(n * n).await.unwrap();
        }
        // numbers closed: dropping squares_tx ends the next stage
    });
    let summer = corral::spawn(async move {
        let mut sum = 0;
        while let Some(sq) = squares_rx.recv().await {
            sum += sq;
        }
        sum
    });
    let from_thread = numbers_tx.clone();
    let feeder = std::thread::spawn(move || {
        for n in 51..=100 {
            from_thread.blocking_send(n).unwrap();
        }
    });
    let stats = numbers_tx.statistics();
    for n in 1..=50 {
        numbers_tx.send(n).await.unwrap();
    }
    drop(numbers_tx);
    corral::run_sync(move || feeder.join().unwrap()).await.unwrap();
    squarer.await.unwrap();
    println!(
        "mpsc: pipeline of 3 stages summed the squares of 1..=100: {} (expected {}); channel created at {}",
        summer.await.unwrap(),
        (1..=100u64).map(|n| n * n).sum::<u64>(),
        stats.created_at
    );

    // Request/response: each request carries a oneshot for its answer.
    let (requests, mut inbox) = mpsc::unbounded_channel::<(u32, oneshot::Sender<u32>)>();
    let server = corral::spawn(async move {
        while let Some((x, reply)) = inbox.recv().await {
            let _ = reply.send(x * 2);
        }
    });
    let (reply_tx, reply_rx) = oneshot::channel();
    requests.send((21, reply_tx)).unwrap();
    let answer = reply_rx.await.unwrap();
    // A caller that gives up: the server's send hands the value back.
    let (reply_tx, reply_rx) = oneshot::channel();
    drop(reply_rx);
    requests.send((1, reply_tx)).unwrap();
    drop(requests);
    server.await.unwrap();
    println!("oneshot: the server answered 21 -> {answer}; a dropped caller costs the server nothing");
}
