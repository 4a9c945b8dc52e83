//! A short tour of corral: spawn, join, yield, abort, a panic that is
//! contained, timers and timeouts, blocking work on the blocking pool, and
//! the stall monitor catching a task that blocks its worker, and the sync
//! primitives (Mutex, Semaphore, RwLock, CapacityLimiter, ReentrantMutex,
//! Event, Condition, Barrier, Notify, Queue, RateLimiter) with their
//! statistics.
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

    println!("\n22. TaskGroup: a failing child cancels its siblings; start() hands back a port");
    group_tour().await;
    println!("\n23. Combinators: the bounded executor as one bounded_map call, gather, race, join!");
    combine_tour().await;

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

    println!("\n13. RwLock: readers together, the writer alone");
    rwlock_tour().await;
    println!("\n14. CapacityLimiter and ReentrantMutex");
    limiter_tour().await;
    println!("\n15. Event and Condition");
    event_tour().await;
    println!("\n16. Barrier and Notify");
    barrier_tour().await;
    println!("\n17. Queue: backpressure, a worker pool, priorities");
    queue_tour().await;
    println!("\n18. RateLimiter");
    ratelimit_tour().await;
    println!("\n19. Channels: an mpsc pipeline, oneshot replies");
    channels_tour().await;
    println!("\n20. watch: a config that watchers follow");
    watch_tour().await;
    println!("\n21. broadcast: a news feed with a slow subscriber");
    broadcast_tour().await;
}

/// Barrier and Notify: a Barrier of 3 OS threads doing 2 phases, its
/// action once per cycle; two tasks ping-ponging through two Notify.
async fn barrier_tour() {
    use corral::sync::{Barrier, Notify};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    // A Barrier of 3 threads: nobody starts phase 2 before all 3 finished
    // phase 1; the action prints once per cycle, in the last arrival.
    let cycle = Arc::new(AtomicUsize::new(0));
    let c = cycle.clone();
    let barrier = Arc::new(Barrier::with_action(3, move || {
        let n = c.fetch_add(1, SeqCst) + 1;
        println!("Barrier: action of cycle {n}: all 3 threads arrived");
    }));
    let finished_phase1 = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let (barrier, done1) = (barrier.clone(), finished_phase1.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5 * i as u64)); // phase 1, uneven
                done1.fetch_add(1, SeqCst);
                let r = barrier.blocking_wait().unwrap();
                // Phase 2 starts only now: every thread finished phase 1.
                let seen = done1.load(SeqCst);
                println!(
                    "Barrier: thread {i} starts phase 2 (arrived #{}{}), {seen}/3 finished phase 1",
                    r.index,
                    if r.is_leader { ", leader" } else { "" }
                );
                barrier.blocking_wait().unwrap(); // end of phase 2
            })
        })
        .collect();
    corral::run_sync(move || {
        for t in threads {
            t.join().unwrap();
        }
    })
    .await
    .unwrap();
    println!("Barrier: {:?}", barrier.statistics());

    // Two tasks ping-ponging through two Notify.
    let (ping, pong) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (pi, po) = (ping.clone(), pong.clone());
    let rounds = 1_000;
    let ponger = corral::spawn(async move {
        for _ in 0..rounds {
            pi.notified().await;
            po.notify_one();
        }
    });
    let start = Instant::now();
    for _ in 0..rounds {
        ping.notify_one(); // a permit if the ponger is not waiting yet
        pong.notified().await;
    }
    ponger.await.unwrap();
    println!(
        "Notify: {rounds} ping-pong round trips between two tasks in {:?}",
        start.elapsed()
    );
}

/// corral::sync::RateLimiter: a sliding window, and a scraper-like fan-out
/// under a Semaphore and a RateLimiter together.
async fn ratelimit_tour() {
    use corral::sync::{RateLimiter, Semaphore};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    // 3 calls per 0.5 s: calls 1-3 go at once, calls 4 and 5 wait until
    // calls 1 and 2 are half a second old. Waiters go in FIFO order.
    let limiter = Arc::new(RateLimiter::new(3, Duration::from_millis(500)));
    let start = Instant::now();
    let calls: Vec<_> = (1..=5)
        .map(|i| {
            let limiter = limiter.clone();
            corral::spawn(async move {
                limiter.acquire().await.unwrap();
                (i, start.elapsed())
            })
        })
        .collect();
    sleep(Duration::from_millis(50)).await;
    let stats = limiter.statistics();
    println!(
        "RateLimiter: 3 per 0.5 s, 5 calls: {} in the window, {} waiting",
        stats.calls_in_window, stats.tasks_waiting
    );
    for c in calls {
        let (i, at) = c.await.unwrap();
        println!("RateLimiter:   call {i} went at {:.2} s", at.as_secs_f64());
    }

    // A scraper: 12 pages, at most 3 fetches in flight (Semaphore) and at
    // most 4 requests started per 100 ms (RateLimiter), whichever binds.
    let in_flight = Arc::new(Semaphore::new(3));
    let per_window = Arc::new(RateLimiter::new(4, Duration::from_millis(100)));
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let start = Instant::now();
    let pages: Vec<_> = (0..12)
        .map(|page| {
            let (in_flight, per_window) = (in_flight.clone(), per_window.clone());
            let (now, most) = (now.clone(), most.clone());
            corral::spawn(async move {
                let _slot = in_flight.acquire().await.unwrap();
                per_window.acquire().await.unwrap();
                let n = now.fetch_add(1, SeqCst) + 1;
                most.fetch_max(n, SeqCst);
                sleep(Duration::from_millis(20)).await; // the "fetch"
                now.fetch_sub(1, SeqCst);
                page
            })
        })
        .collect();
    let mut fetched = 0;
    for p in pages {
        p.await.unwrap();
        fetched += 1;
    }
    println!(
        "RateLimiter: scraper fetched {fetched} pages in {:.2} s, at most {} at once, \
         at most 4 started per 0.1 s ({} in the last window, limiter created at {})",
        start.elapsed().as_secs_f64(),
        most.load(SeqCst),
        per_window.statistics().calls_in_window,
        per_window.created_at()
    );
}

/// corral::sync::RwLock: readers together, the writer alone, and the
/// readers that came after a waiting writer wait behind it.
async fn rwlock_tour() {
    use corral::sync::{RwLock, RwLockWriteGuard};
    use std::sync::{Arc, Mutex as StdMutex};
    use std::time::Instant;

    let config = Arc::new(RwLock::new(1u32));
    let t0 = Instant::now();
    let spans = Arc::new(StdMutex::new(Vec::new()));
    let ms = move || t0.elapsed().as_millis();
    // (name, arrives at ms, writes?)
    let plan = [
        ("R1", 0, false),
        ("R2", 0, false),
        ("R3", 0, false),
        ("W", 10, true),
        ("R4", 20, false),
        ("R5", 20, false),
    ];
    let tasks: Vec<_> = plan
        .into_iter()
        .map(|(name, at, write)| {
            let (config, spans) = (config.clone(), spans.clone());
            corral::spawn(async move {
                sleep(Duration::from_millis(at)).await;
                let (start, end, seen) = if write {
                    let mut g = config.write().await;
                    let start = ms();
                    *g += 1;
                    sleep(Duration::from_millis(30)).await;
                    (start, ms(), *g) // the end is taken before releasing
                } else {
                    let g = config.read().await;
                    let start = ms();
                    sleep(Duration::from_millis(30)).await;
                    (start, ms(), *g)
                };
                spans.lock().unwrap().push((name, start, end, seen));
            })
        })
        .collect();
    sleep(Duration::from_millis(25)).await;
    let s = config.statistics();
    // Every read guard is recorded with the task that took it.
    let mut inside: Vec<_> = s
        .reader_tasks
        .iter()
        .map(|id| {
            let at = tasks.iter().position(|t| Some(t.id()) == *id);
            at.map_or("?", |i| plan[i].0)
        })
        .collect();
    inside.sort();
    println!(
        "RwLock: at 25 ms: {} readers inside ({}), writer waiting with {} behind it ({} waiting)",
        s.readers,
        inside.join(", "),
        s.tasks_waiting - 1,
        s.tasks_waiting
    );
    for t in tasks {
        t.await.unwrap();
    }
    let mut spans = spans.lock().unwrap().clone();
    spans.sort_by_key(|&(name, start, ..)| (start, name));
    for &(name, start, end, seen) in &spans {
        let overlap: Vec<_> = spans
            .iter()
            .filter(|&&(other, s, e, _)| other != name && s < end && start < e)
            .map(|&(other, ..)| other)
            .collect();
        println!("RwLock: {name:>2} held {start:>3}..{end:>3} ms, saw config v{seen}, alongside {overlap:?}");
    }
    // Downgrade: publish v3 and keep reading it, with no writer in between.
    let mut w = config.write().await;
    *w = 3;
    let r = RwLockWriteGuard::downgrade(w);
    println!(
        "RwLock: downgraded after writing v{}: others read alongside (v{}), try_write fails: {}",
        *r,
        *config.try_read().unwrap(),
        config.try_write().is_err()
    );
}

/// corral::sync::Queue: producers and consumers with backpressure, a worker
/// pool with task_done / join, a priority worker pool.
async fn queue_tour() {
    use corral::sync::{Queue, QueueClosed};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    // Producer/consumer with maxsize 3: 2 producers, 2 consumers that stop
    // after 100 ms without an item; never more than 3 queued.
    let q = Queue::with_maxsize(3);
    let most = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let (q, most) = (q.clone(), most.clone());
            corral::spawn(async move {
                for i in 0..5 {
                    q.put(format!("p{p}-{i}")).await.unwrap();
                    most.fetch_max(q.qsize(), SeqCst);
                    println!("Queue: producer {p} put item {i} ({} queued)", q.qsize());
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let (q, most) = (q.clone(), most.clone());
            corral::spawn(async move {
                let mut n = 0;
                while let Ok(Ok(item)) = corral::time::timeout(Duration::from_millis(100), q.get()).await {
                    most.fetch_max(q.qsize(), SeqCst);
                    println!("Queue: consumer {c} got {item}");
                    n += 1;
                    sleep(Duration::from_millis(3)).await; // slower than the producers
                }
                println!("Queue: consumer {c} stops after 100 ms without an item ({n} items)");
                n
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    let mut total = 0;
    for c in consumers {
        total += c.await.unwrap();
    }
    println!(
        "Queue: {total} items through a queue of maxsize 3; at most {} were ever queued",
        most.load(SeqCst)
    );

    // An async worker pool: 3 workers, 8 jobs, `join` waits for every
    // `task_done`, then `close` shuts the workers down cleanly.
    let jobs = Queue::unbounded();
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let jobs = jobs.clone();
            corral::spawn(async move {
                let mut done = 0;
                loop {
                    match jobs.get().await {
                        Ok(ms) => {
                            sleep(Duration::from_millis(ms)).await;
                            done += 1;
                            jobs.task_done().unwrap();
                        }
                        Err(QueueClosed) => return (w, done),
                    }
                }
            })
        })
        .collect();
    for ms in [5, 1, 3, 2, 4, 1, 2, 3] {
        jobs.put(ms).await.unwrap();
    }
    jobs.join().await;
    println!(
        "Queue: worker pool: join returned with {} unfinished; closing",
        jobs.statistics().unfinished_tasks
    );
    jobs.close();
    for w in workers {
        let (w, done) = w.await.unwrap();
        println!("Queue: worker {w} did {done} jobs and stopped on QueueClosed");
    }

    // A priority worker pool: jobs queued first, 2 workers take the most
    // urgent (smallest) first; ties keep their put order.
    let urgent = Queue::priority(usize::MAX);
    for job in [
        (3, "tidy logs"),
        (1, "page on-call"),
        (2, "rotate keys"),
        (1, "restart db"),
        (3, "update docs"),
    ] {
        urgent.put(job).await.unwrap();
    }
    urgent.close(); // nothing more: workers drain, then stop
    let order = Arc::new(corral::sync::Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (urgent, order) = (urgent.clone(), order.clone());
            corral::spawn(async move {
                while let Ok((prio, job)) = urgent.get().await {
                    order.lock().await.push(format!("{job} (p{prio}, worker {w})"));
                    sleep(Duration::from_millis(1)).await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    println!("Queue: priority pool order: {}", order.lock().await.join(", "));
}

/// Event and Condition scenarios.
async fn event_tour() {
    use corral::sync::{Condition, Event};
    use std::collections::VecDeque;
    use std::sync::Arc;

    // An Event gating 3 workers until initialisation is done.
    let ready = Arc::new(Event::new());
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let ready = ready.clone();
            corral::spawn(async move {
                ready.wait().await;
                format!("worker {i}")
            })
        })
        .collect();
    while ready.statistics().tasks_waiting < 3 {
        corral::yield_now().await;
    }
    println!(
        "Event: 3 workers wait for initialisation: {:?}",
        ready.statistics()
    );
    sleep(Duration::from_millis(5)).await; // "initialising"
    ready.set();
    let mut started = Vec::new();
    for w in workers {
        started.push(w.await.unwrap());
    }
    println!(
        "Event: set after initialisation; released {started:?}; is_set = {}",
        ready.is_set()
    );

    // A Condition 3 consumers wait on: a producer pushes items and notifies
    // one consumer per item; consumers print what they took.
    let queue = Arc::new(Condition::new((VecDeque::new(), false)));
    let consumers: Vec<_> = (0..3)
        .map(|c| {
            let queue = queue.clone();
            corral::spawn(async move {
                let mut took = Vec::new();
                loop {
                    let mut q = queue
                        .wait_while(queue.lock().await, |(items, done)| items.is_empty() && !*done)
                        .await;
                    match q.0.pop_front() {
                        Some(item) => {
                            drop(q);
                            println!("Condition: consumer {c} took {item}");
                            took.push(item);
                            corral::yield_now().await;
                        }
                        None => return took.len(),
                    }
                }
            })
        })
        .collect();
    while queue.statistics().tasks_waiting < 3 {
        corral::yield_now().await;
    }
    println!(
        "Condition: {} consumers waiting before the producer starts",
        queue.statistics().tasks_waiting
    );
    for item in 1..=6 {
        queue.lock().await.0.push_back(format!("item {item}"));
        queue.notify_one();
        corral::yield_now().await;
    }
    queue.lock().await.1 = true;
    queue.notify_all();
    let mut total = 0;
    for c in consumers {
        total += c.await.unwrap();
    }
    println!(
        "Condition: 6 items pushed, {total} taken; afterwards {} waiting, lock held: {}",
        queue.statistics().tasks_waiting,
        queue.statistics().lock_statistics.locked
    );
}

/// CapacityLimiter and ReentrantMutex.
async fn limiter_tour() {
    use corral::sync::{CapacityLimiter, ReentrantMutex};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    // A CapacityLimiter of 3 with 5 tasks and a named borrower (the named
    // one and 2 tasks get in, 3 tasks wait); the total is raised to 5 at
    // run time: 2 more get in at once, the last when a token comes back.
    let limiter = Arc::new(CapacityLimiter::new(3));
    limiter.acquire_on_behalf_of("nightly-report").await.unwrap();
    let gate = Arc::new(corral::sync::Semaphore::new(0));
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (limiter, gate, running, most) =
                (limiter.clone(), gate.clone(), running.clone(), most.clone());
            corral::spawn(async move {
                let _token = limiter.acquire().await.unwrap();
                most.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                gate.acquire().await.unwrap().forget(); // hold the token until let go
                running.fetch_sub(1, SeqCst);
            })
        })
        .collect();
    while limiter.statistics().tasks_waiting < 3 {
        corral::yield_now().await;
    }
    let show = |when: &str, limiter: &CapacityLimiter| {
        let s = limiter.statistics();
        let mut who: Vec<String> = s.borrowers.iter().map(|b| b.to_string()).collect();
        who.sort();
        println!(
            "CapacityLimiter: {when}: {}/{} tokens borrowed, {} waiting; borrowers: {}",
            s.borrowed_tokens,
            s.total_tokens,
            s.tasks_waiting,
            who.join(", ")
        );
    };
    show("before", &limiter);
    limiter.set_total_tokens(5);
    show("after set_total_tokens(5)", &limiter);
    let again = limiter.acquire_on_behalf_of("nightly-report").await.unwrap_err();
    println!("CapacityLimiter: the named borrower asks twice: {again}");
    gate.add_permits(5);
    for t in tasks {
        t.await.unwrap();
    }
    limiter.release_on_behalf_of(&"nightly-report").unwrap();
    println!(
        "CapacityLimiter: at most {} tasks (+ the named borrower) ran at once; at the end {} borrowed, created at {}",
        most.load(SeqCst),
        limiter.borrowed_tokens(),
        limiter.created_at()
    );

    // A ReentrantMutex taken by an outer function and again by the inner
    // one it calls, in the same task: no deadlock.
    async fn inner(m: &ReentrantMutex<AtomicUsize>) -> usize {
        let n = m.lock().await; // already held by this task: returns at once
        n.fetch_add(1, SeqCst);
        m.statistics().depth
    }
    async fn outer(m: &ReentrantMutex<AtomicUsize>) -> usize {
        let n = m.lock().await;
        n.fetch_add(1, SeqCst);
        inner(m).await
    }
    let m = Arc::new(ReentrantMutex::new(AtomicUsize::new(0)));
    let m2 = m.clone();
    let (depth, holder) = corral::spawn(async move {
        let depth = outer(&m2).await;
        (depth, m2.statistics())
    })
    .await
    .unwrap();
    println!(
        "ReentrantMutex: outer and inner both locked it (depth {depth} inside inner); count {}, locked after: {}, waiting: {}",
        m.lock().await.load(SeqCst),
        holder.locked,
        holder.tasks_waiting
    );
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

/// Structured concurrency: a TaskGroup whose failing child cancels its
/// sleeping siblings (and the error group that reports it), and `start`
/// handing back a server's port once it is listening.
async fn group_tour() {
    use corral::io::{AsyncReadExt, AsyncWriteExt};
    use corral::task::TaskGroup;
    use std::sync::{Arc, Mutex};

    // Guards report on drop: that is how a child learns it was cancelled.
    struct OnCancel(&'static str, Arc<Mutex<Vec<&'static str>>>);
    impl Drop for OnCancel {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                self.1.lock().unwrap().push(self.0);
            }
        }
    }
    let cancelled = Arc::new(Mutex::new(Vec::new()));
    let mut group = TaskGroup::<(), String>::new();
    for name in ["crawler-1", "crawler-2", "crawler-3"] {
        let guard = OnCancel(name, cancelled.clone());
        group.spawn_named(name, async move {
            sleep(Duration::from_secs(60)).await;
            std::mem::forget(guard); // finished normally: not cancelled
            Ok(())
        });
    }
    group.spawn_named("indexer", async {
        sleep(Duration::from_millis(20)).await;
        Err("index file is corrupt".to_string())
    });
    let started = Instant::now();
    let err = group.join().await.unwrap_err();
    let mut who = cancelled.lock().unwrap().clone();
    who.sort();
    println!(
        "group: a failing child cancelled its 3 sleeping siblings within {:?}: {who:?}",
        started.elapsed()
    );
    println!("group: join's error: {err}");

    // `start`: the child signals once it is listening; the caller gets the port.
    let mut group = TaskGroup::<(), std::io::Error>::new();
    let port = group
        .start(|ready| async move {
            let listener = corral::net::TcpListener::bind("127.0.0.1:0").await?;
            ready.started(listener.local_addr()?.port());
            let (mut conn, _) = listener.accept().await?;
            let mut buf = [0; 5];
            conn.read_exact(&mut buf).await?;
            conn.write_all(&buf).await
        })
        .await
        .unwrap();
    let mut client = corral::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    client.write_all(b"hello").await.unwrap();
    let mut echo = [0; 5];
    client.read_exact(&mut echo).await.unwrap();
    group.join().await.unwrap();
    println!(
        "group: start() handed back port {port} once the echo server listened; it echoed {:?}",
        std::str::from_utf8(&echo).unwrap()
    );
}

/// Combinators: the bounded executor as one call, a gather and a race.
async fn combine_tour() {
    use std::io::Write;

    // The bounded executor people write by hand (a semaphore, a lock and
    // a counter): 10 jobs, at most 3 at a time, a live progress line.
    let started = Instant::now();
    let results = corral::task::bounded_map(3, 1..=10u64, |job| async move {
        sleep(Duration::from_millis(10 + 7 * (job % 4))).await; // stands in for real work
        job * job
    })
    .on_progress(|done, total| {
        print!("\rbounded_map: {done}/{total} jobs done");
        let _ = std::io::stdout().flush();
    })
    .await;
    println!(
        "\nbounded_map: results in input order {results:?} in {:?} (3 at a time)",
        started.elapsed()
    );

    // gather: three blocking jobs on the blocking pool, awaited together.
    let started = Instant::now();
    let jobs = corral::gather((0..3u64).map(|i| {
        corral::run_sync(move || {
            std::thread::sleep(Duration::from_millis(150));
            i
        })
    }))
    .await;
    println!(
        "gather: three 150 ms run_sync jobs -> {:?} in {:?} (in parallel)",
        jobs.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        started.elapsed()
    );

    // race: the first mirror to answer wins; the others are dropped.
    let mirrors = [("eu", 40u64), ("us", 15), ("asia", 60)];
    let winner = corral::race(mirrors.map(|(name, ms)| async move {
        sleep(Duration::from_millis(ms)).await;
        name
    }))
    .await;
    let (n, s) = corral::join!(async { 6 * 7 }, async { "join!" });
    println!("race: mirror {winner:?} answered first; {s} of two futures gave ({n}, {s:?})");
}
/// watch: a configuration value that 3 watcher tasks and 1 OS thread
/// follow; each ends on the last version; `wait_for` waits for a state.
async fn watch_tour() {
    use corral::sync::watch;

    #[derive(Clone, Debug, PartialEq)]
    struct Config {
        version: u32,
        verbose: bool,
    }

    let (tx, rx) = watch::channel(Config {
        version: 0,
        verbose: false,
    });
    let watchers: Vec<_> = (0..3)
        .map(|_| {
            let mut rx = rx.clone();
            corral::spawn(async move {
                let mut seen = 0;
                while rx.changed().await.is_ok() {
                    seen += 1;
                    let _current = rx.borrow_and_update().version;
                }
                (seen, rx.borrow().version)
            })
        })
        .collect();
    let mut thread_rx = rx.clone();
    let thread = std::thread::spawn(move || {
        while thread_rx.blocking_changed().is_ok() {}
        thread_rx.borrow().version
    });
    // A task waiting for a state rather than a change.
    let mut verbose_rx = rx.clone();
    let verbose = corral::spawn(async move { verbose_rx.wait_for(|c| c.verbose).await.map(|c| c.version) });
    drop(rx);
    for v in 1..=50 {
        tx.send_modify(|c| {
            c.version = v;
            c.verbose = v >= 30;
        });
        // Paced, so the watchers see most versions (not guaranteed: a
        // watcher may skip some, never the last).
        corral::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let stats = tx.statistics();
    drop(tx);
    for w in watchers {
        let (seen, last) = w.await.unwrap();
        println!("watch: a watcher saw {seen} of 50 changes and ended on version {last}");
    }
    let from_thread = corral::run_sync(move || thread.join().unwrap()).await.unwrap();
    println!("watch: an OS thread (blocking_changed) ended on version {from_thread}");
    let v = verbose.await.unwrap().unwrap();
    println!("watch: wait_for(verbose) returned at version {v} (verbose from version 30 on)");
    println!(
        "watch: {} receivers, version {} at the end; channel created at {}",
        stats.receivers, stats.version, stats.created_at
    );
}

/// broadcast: a news feed with two attentive subscribers and a slow one.
/// The ring holds 4 headlines; the slow subscriber starts reading late,
/// is told how many it missed, and carries on from the oldest still held.
async fn broadcast_tour() {
    use corral::sync::broadcast::{self, error::RecvError};
    use std::time::Duration;

    let (feed, _) = broadcast::channel::<String>(4);
    let reader = |name: &'static str, mut rx: broadcast::Receiver<String>, delay: Duration| {
        corral::spawn(async move {
            corral::time::sleep(delay).await;
            let (mut read, mut missed) = (0, 0);
            loop {
                match rx.recv().await {
                    Ok(_) => read += 1,
                    Err(RecvError::Lagged(n)) => missed += n,
                    Err(RecvError::Closed) => break,
                }
            }
            println!("broadcast: {name} read {read} headlines, missed {missed}");
        })
    };
    let alice = reader("alice", feed.subscribe(), Duration::ZERO);
    let bob = reader("bob", feed.subscribe(), Duration::ZERO);
    let slow = reader("slow", feed.subscribe(), Duration::from_millis(100));
    for i in 1..=10 {
        let n = feed.send(format!("headline {i}")).unwrap();
        if i == 1 {
            println!("broadcast: each headline goes to {n} subscribers; the ring keeps the last 4");
        }
        corral::time::sleep(Duration::from_millis(2)).await;
    }
    drop(feed); // subscribers drain what they can, then see Closed
    for t in [alice, bob, slow] {
        t.await.unwrap();
    }
}
