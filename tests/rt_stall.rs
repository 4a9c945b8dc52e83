//! The stall monitor: a task that blocks its worker inside one poll must not
//! strand the tasks only that worker would have run next, nor the timers
//! it was watching; and the monitor reports which task it was.

#[allow(dead_code)]
mod common;

use common::{ms, run_with_timeout};
use corral::{Builder, Runtime, StallReport};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Each scenario is measured this many times, each on a fresh runtime.
/// Every round must beat half the blocking time (on main before the
/// monitor: the full 500 ms, every round); the median is printed (the
/// design target is under 20 ms, with the 10 ms default threshold).
const ROUNDS: usize = 5;
/// How long the misbehaving task blocks its worker.
const BLOCK: Duration = Duration::from_millis(500);

fn two_workers() -> Runtime {
    Builder::new_multi_thread().worker_threads(2).build().unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Lets every worker go idle (park) before the scenario starts.
fn settle() {
    std::thread::sleep(ms(30));
}

/// Task A wakes task B (B lands in A's LIFO slot), then A blocks its worker
/// while the other worker is parked. B must start soon, not when A's poll
/// returns.
#[test]
fn task_woken_by_a_blocking_task_runs_soon() {
    run_with_timeout("stranded_wake", 60, || {
        let mut delays = Vec::new();
        for _ in 0..ROUNDS {
            let rt = two_workers();
            settle();
            let delay = rt.block_on(async {
                let (tx, rx) = futures_channel::oneshot::channel::<Instant>();
                let b = corral::spawn(async move {
                    let woken_at = rx.await.unwrap();
                    woken_at.elapsed()
                });
                let a = corral::spawn(async move {
                    // Let B run once and wait on the channel, and every
                    // other worker stop searching and park.
                    corral::time::sleep(ms(20)).await;
                    tx.send(Instant::now()).unwrap(); // B -> this worker's LIFO slot
                    std::thread::sleep(BLOCK); // and the worker is stuck
                });
                let delay = b.await.unwrap();
                a.await.unwrap();
                delay
            });
            delays.push(delay);
        }
        let m = median(delays.clone());
        eprintln!("stranded wake: B started after {delays:?} (median {m:?})");
        let worst = *delays.iter().max().unwrap();
        assert!(
            worst < BLOCK / 2,
            "B waited {worst:?} for A's blocking poll: {delays:?}"
        );
    });
}

/// The worker sitting in the driver takes a timer-woken task into its LIFO
/// slot, leaves the driver and blocks in that task; the other worker is
/// parked on its condvar. A later timer must still fire on time.
#[test]
fn timer_fires_on_time_while_the_driver_worker_blocks() {
    run_with_timeout("stranded_timer", 60, || {
        let mut lates = Vec::new();
        for _ in 0..ROUNDS {
            let rt = two_workers();
            settle();
            let late = rt.block_on(async {
                let sleeper = corral::spawn(async {
                    let deadline = Instant::now() + ms(100);
                    corral::time::sleep(ms(100)).await;
                    Instant::now().saturating_duration_since(deadline)
                });
                let blocker = corral::spawn(async {
                    corral::time::sleep(ms(50)).await;
                    std::thread::sleep(BLOCK);
                });
                let late = sleeper.await.unwrap();
                blocker.await.unwrap();
                late
            });
            lates.push(late);
        }
        let m = median(lates.clone());
        eprintln!("stranded timer: fired {lates:?} after its deadline (median {m:?})");
        let worst = *lates.iter().max().unwrap();
        assert!(
            worst < BLOCK / 2,
            "the 100 ms sleep fired {worst:?} late: {lates:?}"
        );
    });
}

/// Tasks in the blocked worker's local queue (not only its LIFO slot) are
/// taken by the idle worker.
#[test]
fn queued_tasks_of_a_blocked_worker_are_taken() {
    run_with_timeout("stranded_queue", 60, || {
        let rt = two_workers();
        settle();
        let ran = rt.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            corral::spawn(async move {
                let children: Vec<_> = (0..8).map(|i| corral::spawn(async move { i })).collect();
                // Wait for all of them by blocking the worker (a bug the
                // monitor must survive): they sit in this worker's queue.
                let start = Instant::now();
                while start.elapsed() < BLOCK && !children.iter().all(|c| c.is_finished()) {
                    std::thread::sleep(ms(1));
                }
                d.store(children.iter().all(|c| c.is_finished()), SeqCst);
            })
            .await
            .unwrap();
            done.load(SeqCst)
        });
        assert!(
            ran,
            "children queued behind a blocked worker never ran while it blocked"
        );
    });
}

/// The monitor reports the stalled task: its id, where it was spawned, and
/// for how long it had been stuck.
#[test]
fn stall_is_reported_with_task_and_spawn_site() {
    run_with_timeout("stall_report", 60, || {
        let reports = Arc::new(Mutex::new(Vec::<StallReport>::new()));
        let log = reports.clone();
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .stall_threshold(ms(10))
            .on_stall(move |r| log.lock().unwrap().push(r.clone()))
            .build()
            .unwrap();
        let line = line!() + 1;
        let blocker = rt.spawn(async { std::thread::sleep(ms(200)) });
        let id = blocker.id();
        rt.block_on(blocker).unwrap();
        // (Other tasks may be reported too: on a loaded machine the OS can
        // deschedule a worker mid-poll for longer than the threshold.)
        let reports = reports.lock().unwrap();
        let mine: Vec<_> = reports.iter().filter(|r| r.task() == id).collect();
        assert_eq!(mine.len(), 1, "one report per stalled poll: {reports:?}");
        let r = mine[0];
        assert_eq!(r.task(), id);
        assert_eq!(r.spawned_at().file(), file!());
        assert_eq!(r.spawned_at().line(), line);
        assert!(r.stalled_for() >= ms(10) && r.stalled_for() < ms(200), "{r:?}");
        let text = r.to_string();
        assert!(
            text.contains(&format!("task {id}")) && text.contains("run_sync"),
            "{text}"
        );
    });
}

/// A panicking hook does not kill the monitor: later stalls are still
/// handled.
#[test]
fn panicking_stall_hook_is_contained() {
    run_with_timeout("stall_hook_panics", 60, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .on_stall(|_| panic!("hook panicked on purpose"))
            .build()
            .unwrap();
        for _ in 0..2 {
            settle();
            let delay = rt.block_on(async {
                let (tx, rx) = futures_channel::oneshot::channel::<Instant>();
                let b = corral::spawn(async move { rx.await.unwrap().elapsed() });
                corral::time::sleep(ms(20)).await;
                let a = corral::spawn(async move {
                    tx.send(Instant::now()).unwrap();
                    std::thread::sleep(ms(300));
                });
                let d = b.await.unwrap();
                a.await.unwrap();
                d
            });
            assert!(delay < ms(250), "B waited {delay:?}");
        }
    });
}

#[test]
fn stall_threshold_below_a_millisecond_is_refused() {
    let err = Builder::new_multi_thread()
        .stall_threshold(Duration::from_micros(100))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("stall_threshold"), "{err}");
}
