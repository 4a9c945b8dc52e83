//! The blocking pool: `run_sync` / `spawn_blocking` / `Handle::run_sync`,
//! thread limits, keep-alive, FIFO queueing, panics, abort, and shutdown.

use std::panic;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use corral::task::JoinError;
use corral::{Builder, Handle, Runtime};
use corral_runtime::run_sync;

#[allow(dead_code)]
mod common;
use common::{current, ms, multi, run_with_timeout};

// ---- helpers -------------------------------------------------------------

/// Polls `cond` every 5 ms; false if it does not hold within `limit`.
fn wait_until(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(ms(5));
    }
    true
}

/// A gate a job can wait on: `open` releases every waiter.
#[derive(Clone)]
struct Gate(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    fn new() -> Gate {
        Gate(Arc::new((Mutex::new(false), std::sync::Condvar::new())))
    }
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
    /// Waits until open (false after 10 s, so a bug cannot hang forever).
    fn wait(&self) -> bool {
        let (lock, cvar) = &*self.0;
        let guard = lock.lock().unwrap();
        let (guard, _) = cvar
            .wait_timeout_while(guard, Duration::from_secs(10), |open| !*open)
            .unwrap();
        *guard
    }
}

// ---- workers stay free -------------------------------------------------------

fn check_job_does_not_block_tasks(rt: &Runtime) {
    let counter = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (counter.clone(), stop.clone());
    let spinner = rt.spawn(async move {
        while !s.load(SeqCst) {
            c.fetch_add(1, SeqCst);
            corral::yield_now().await;
        }
    });
    let c = counter.clone();
    let progress = rt.block_on(async move {
        let job = run_sync(move || {
            let before = c.load(SeqCst);
            thread::sleep(ms(200));
            c.load(SeqCst) - before
        });
        job.await.unwrap()
    });
    stop.store(true, SeqCst);
    rt.block_on(spinner).unwrap();
    assert!(
        progress > 10,
        "another task made only {progress} steps while a job slept 200 ms"
    );
}

#[test]
fn run_sync_does_not_block_other_tasks_one_worker() {
    run_with_timeout("not_blocking_multi1", 20, || {
        check_job_does_not_block_tasks(&multi(1))
    });
}

#[test]
fn run_sync_does_not_block_other_tasks_current_thread() {
    run_with_timeout("not_blocking_current", 20, || {
        check_job_does_not_block_tasks(&current())
    });
}

#[test]
fn run_sync_runs_on_a_pool_thread_and_returns_its_value() {
    run_with_timeout("pool_thread", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bp")
            .build()
            .unwrap();
        let (name, v) = rt.block_on(async {
            let name = run_sync(|| thread::current().name().map(str::to_owned))
                .await
                .unwrap();
            let v = corral::spawn_blocking(|| vec![1, 2, 3]).await.unwrap();
            (name, v)
        });
        let name = name.unwrap();
        assert!(name.starts_with("bp-blocking-"), "{name}");
        assert_eq!(v, [1, 2, 3]);
    });
}

#[test]
fn many_jobs_all_complete_with_their_results() {
    run_with_timeout("many_jobs", 20, || {
        for rt in [current(), multi(2)] {
            let sum = rt.block_on(async {
                let jobs: Vec<_> = (0..200u64).map(|i| run_sync(move || i * i)).collect();
                let mut sum = 0;
                for j in jobs {
                    sum += j.await.unwrap();
                }
                sum
            });
            assert_eq!(sum, (0..200u64).map(|i| i * i).sum::<u64>());
        }
    });
}

// ---- panics ----------------------------------------------------------------

#[test]
fn panic_in_run_sync_is_join_error_panicked() {
    run_with_timeout("panic", 20, || {
        let rt = multi(1);
        let err = rt.block_on(async { run_sync(|| -> u32 { panic!("kaboom {}", 7) }).await.unwrap_err() });
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        match &err {
            JoinError::Panicked { payload, .. } => assert_eq!(payload.message(), Some("kaboom 7")),
            other => panic!("expected Panicked, got {other}"),
        }
        assert!(err.to_string().ends_with("panicked: kaboom 7"), "{err}");
        let payload = err.into_panic();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        assert_eq!(text, Some("kaboom 7"));
        // The pool and runtime are fine.
        assert_eq!(rt.block_on(run_sync_in(&rt, || 5)).unwrap(), 5);
    });
}

/// `run_sync` from inside the runtime, as a future for `block_on`.
fn run_sync_in<R: Send + 'static>(
    rt: &Runtime,
    f: impl FnOnce() -> R + Send + 'static,
) -> corral::task::JoinHandle<R> {
    rt.handle().run_sync(f)
}

// ---- limits ------------------------------------------------------------------

#[test]
fn no_more_than_max_blocking_threads_run_at_once() {
    run_with_timeout("max_threads", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(3)
            .build()
            .unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let threads_seen = Arc::new(AtomicUsize::new(0));
        let handle = rt.handle().clone();
        let results = rt.block_on(async {
            let jobs: Vec<_> = (0..20usize)
                .map(|i| {
                    let (running, max_seen, threads_seen) =
                        (running.clone(), max_seen.clone(), threads_seen.clone());
                    let handle = handle.clone();
                    run_sync(move || {
                        let now = running.fetch_add(1, SeqCst) + 1;
                        max_seen.fetch_max(now, SeqCst);
                        threads_seen.fetch_max(handle.num_blocking_threads(), SeqCst);
                        // Hold on until three run together (or 2 s pass), so
                        // the maximum is reached even on a slow machine.
                        let deadline = Instant::now() + Duration::from_secs(2);
                        while max_seen.load(SeqCst) < 3 && Instant::now() < deadline {
                            thread::sleep(ms(1));
                        }
                        thread::sleep(ms(10));
                        running.fetch_sub(1, SeqCst);
                        i
                    })
                })
                .collect();
            let mut out = Vec::new();
            for j in jobs {
                out.push(j.await.unwrap());
            }
            out
        });
        assert_eq!(results, (0..20).collect::<Vec<_>>());
        assert_eq!(max_seen.load(SeqCst), 3, "jobs running at once");
        assert!(threads_seen.load(SeqCst) <= 3);
        assert!(rt.handle().num_blocking_threads() <= 3);
    });
}

#[test]
fn max_blocking_threads_zero_is_invalid_input() {
    for mut b in [Builder::new_multi_thread(), Builder::new_current_thread()] {
        let err = b.max_blocking_threads(0).build().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("max_blocking_threads"), "{err}");
    }
}

#[test]
fn idle_threads_exit_after_keep_alive() {
    run_with_timeout("keep_alive", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .blocking_keep_alive(ms(100))
            .build()
            .unwrap();
        let barrier = Arc::new(Barrier::new(4));
        let handle = rt.handle().clone();
        let seen = rt.block_on(async {
            let jobs: Vec<_> = (0..4)
                .map(|_| {
                    let (barrier, handle) = (barrier.clone(), handle.clone());
                    run_sync(move || {
                        barrier.wait();
                        handle.num_blocking_threads()
                    })
                })
                .collect();
            let mut seen = Vec::new();
            for j in jobs {
                seen.push(j.await.unwrap());
            }
            seen
        });
        // All four ran together, each on its own thread.
        assert!(seen.iter().all(|&n| n == 4), "{seen:?}");
        assert!(
            wait_until(Duration::from_secs(5), || rt.handle().num_blocking_threads() == 0),
            "{} idle threads still alive 5 s after a 100 ms keep-alive",
            rt.handle().num_blocking_threads()
        );
        // And the pool starts threads again on demand.
        assert_eq!(rt.block_on(run_sync_in(&rt, || 1)).unwrap(), 1);
    });
}

#[test]
fn idle_threads_stay_until_keep_alive() {
    run_with_timeout("keep_alive_long", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .blocking_keep_alive(Duration::from_secs(10))
            .build()
            .unwrap();
        let started = Instant::now();
        rt.block_on(run_sync_in(&rt, || ())).unwrap();
        thread::sleep(ms(100));
        // Far from 10 s: the thread must still be there (and is reused).
        if started.elapsed() < Duration::from_secs(9) {
            assert_eq!(rt.handle().num_blocking_threads(), 1);
            rt.block_on(run_sync_in(&rt, || ())).unwrap();
            assert_eq!(rt.handle().num_blocking_threads(), 1);
        }
        // Shutdown does not wait out the keep-alive.
        let t = Instant::now();
        assert!(rt.shutdown_timeout(Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn queued_jobs_run_in_fifo_order_with_one_thread() {
    run_with_timeout("fifo", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let gate = Gate::new();
        let (started_tx, started_rx) = mpsc::channel();
        let g = gate.clone();
        let first = rt.handle().run_sync(move || {
            started_tx.send(()).unwrap();
            assert!(g.wait());
        });
        started_rx.recv().unwrap();
        let jobs: Vec<_> = (0..20usize)
            .map(|i| {
                let order = order.clone();
                rt.handle().run_sync(move || order.lock().unwrap().push(i))
            })
            .collect();
        gate.open();
        rt.block_on(first).unwrap();
        for j in jobs {
            rt.block_on(j).unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
        assert_eq!(rt.handle().num_blocking_threads(), 1);
    });
}

// ---- handles and context ------------------------------------------------------

#[test]
fn handle_run_sync_from_a_plain_thread() {
    run_with_timeout("handle_from_thread", 20, || {
        let rt = multi(1);
        let handle = rt.handle().clone();
        let job = thread::spawn(move || {
            assert!(Handle::try_current().is_err());
            handle.run_sync(|| {
                // The job runs inside the runtime it was submitted to.
                let h = Handle::current();
                h.num_workers()
            })
        })
        .join()
        .unwrap();
        assert_eq!(rt.block_on(job).unwrap(), 1);
        // A job submitted from a plain thread, awaited here.
        let handle = rt.handle().clone();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let job = handle.run_sync(|| 6 * 7);
            tx.send(job).unwrap();
        });
        let job = rx.recv().unwrap();
        assert_eq!(rt.block_on(job).unwrap(), 42);
    });
}

fn check_handle_current_in_job(rt: &Runtime) {
    let v = rt.block_on(async {
        let inner = run_sync(|| {
            let handle = Handle::current();
            let a = handle.spawn(async { 40 });
            let b = corral::spawn(async { 2 });
            (a, b)
        })
        .await
        .unwrap();
        inner.0.await.unwrap() + inner.1.await.unwrap()
    });
    assert_eq!(v, 42);
}

#[test]
fn handle_current_inside_run_sync_can_spawn_multi_thread() {
    run_with_timeout("current_in_job_multi", 20, || {
        check_handle_current_in_job(&multi(2))
    });
}

#[test]
fn handle_current_inside_run_sync_can_spawn_current_thread() {
    run_with_timeout("current_in_job_current", 20, || {
        check_handle_current_in_job(&current())
    });
}

#[test]
fn spawned_task_from_a_job_runs_while_the_job_still_blocks() {
    run_with_timeout("spawn_from_job_runs", 20, || {
        let rt = multi(1);
        let r = rt.block_on(async {
            run_sync(|| {
                let (tx, rx) = mpsc::channel();
                corral::spawn(async move { tx.send(5).unwrap() });
                // Blocking in the job is fine: the task runs on a worker.
                rx.recv_timeout(Duration::from_secs(10)).unwrap()
            })
            .await
            .unwrap()
        });
        assert_eq!(r, 5);
    });
}

#[test]
fn block_on_inside_run_sync_on_another_runtime() {
    run_with_timeout("block_on_in_job", 20, || {
        let outer = multi(1);
        let inner = Arc::new(current());
        let inner2 = inner.clone();
        let v = outer.block_on(async move {
            run_sync(move || {
                inner2.block_on(async {
                    corral_runtime::time::sleep(ms(5)).await;
                    corral::spawn(async { 21 }).await.unwrap() * 2
                })
            })
            .await
            .unwrap()
        });
        assert_eq!(v, 42);
        // Also a multi-thread runtime inside a current-thread one's job.
        let outer = current();
        let inner = multi(1);
        let v = outer.block_on(async move {
            run_sync(move || inner.block_on(async { corral::spawn(async { 7 }).await.unwrap() }))
                .await
                .unwrap()
        });
        assert_eq!(v, 7);
    });
}

#[test]
fn run_sync_outside_a_runtime_panics() {
    let err = panic::catch_unwind(|| drop(run_sync(|| ()))).unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("run_sync called outside a runtime"), "{msg}");
    assert!(msg.contains("block_on") || msg.contains("corral::main"), "{msg}");
}

// ---- abort -------------------------------------------------------------------------

#[test]
fn aborting_a_queued_job_cancels_it() {
    run_with_timeout("abort_queued", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let gate = Gate::new();
        let (started_tx, started_rx) = mpsc::channel();
        let g = gate.clone();
        let first = rt.handle().run_sync(move || {
            started_tx.send(()).unwrap();
            assert!(g.wait());
            1
        });
        started_rx.recv().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let queued = rt.handle().run_sync(move || r.store(true, SeqCst));
        queued.abort();
        gate.open();
        assert_eq!(rt.block_on(first).unwrap(), 1);
        let err = rt.block_on(queued).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        assert!(!ran.load(SeqCst), "an aborted queued job ran");
        // The pool carries on.
        assert_eq!(rt.block_on(run_sync_in(&rt, || 2)).unwrap(), 2);
    });
}

#[test]
fn aborting_a_running_job_lets_it_finish() {
    run_with_timeout("abort_running", 20, || {
        let rt = multi(1);
        let gate = Gate::new();
        let (started_tx, started_rx) = mpsc::channel();
        let finished = Arc::new(AtomicBool::new(false));
        let (g, f) = (gate.clone(), finished.clone());
        let job = rt.handle().run_sync(move || {
            started_tx.send(()).unwrap();
            assert!(g.wait());
            f.store(true, SeqCst);
            5
        });
        started_rx.recv().unwrap();
        job.abort();
        gate.open();
        // It ran to completion; its output is kept (abort doc: a task that
        // finished first returns its output).
        let r = rt.block_on(job);
        assert!(finished.load(SeqCst));
        assert_eq!(r.unwrap(), 5);
    });
}

// ---- shutdown ------------------------------------------------------------------------

#[test]
fn shutdown_waits_for_a_running_job() {
    run_with_timeout("shutdown_waits", 20, || {
        let rt = multi(1);
        let (started_tx, started_rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let _job = rt.handle().run_sync(move || {
            started_tx.send(()).unwrap();
            thread::sleep(ms(200));
            d.store(true, SeqCst);
        });
        started_rx.recv().unwrap();
        assert!(rt.shutdown_timeout(Duration::from_secs(5)));
        assert!(done.load(SeqCst), "shutdown returned before the job finished");
    });
}

#[test]
fn drop_waits_for_a_running_job() {
    run_with_timeout("drop_waits", 20, || {
        let rt = current();
        let (started_tx, started_rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let _job = rt.handle().run_sync(move || {
            started_tx.send(()).unwrap();
            thread::sleep(ms(100));
            d.store(true, SeqCst);
        });
        started_rx.recv().unwrap();
        drop(rt);
        assert!(done.load(SeqCst), "drop returned before the job finished");
    });
}

#[test]
fn shutdown_gives_up_after_the_timeout() {
    run_with_timeout("shutdown_gives_up", 20, || {
        let rt = multi(1);
        let (started_tx, started_rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let _job = rt.handle().run_sync(move || {
            started_tx.send(()).unwrap();
            thread::sleep(Duration::from_secs(2));
            d.store(true, SeqCst);
        });
        started_rx.recv().unwrap();
        let t = Instant::now();
        assert!(!rt.shutdown_timeout(ms(100)));
        let took = t.elapsed();
        assert!(took >= ms(100), "gave up early: {took:?}");
        assert!(took < Duration::from_secs(1), "gave up after {took:?}");
        assert!(!done.load(SeqCst));
    });
}

#[test]
fn queued_jobs_are_cancelled_at_shutdown() {
    run_with_timeout("queued_cancelled", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let gate = Gate::new();
        let (started_tx, started_rx) = mpsc::channel();
        let g = gate.clone();
        let running = rt.handle().run_sync(move || {
            started_tx.send(()).unwrap();
            assert!(g.wait());
            "finished"
        });
        started_rx.recv().unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let queued: Vec<_> = (0..5)
            .map(|_| {
                let ran = ran.clone();
                rt.handle().run_sync(move || {
                    ran.fetch_add(1, SeqCst);
                })
            })
            .collect();
        // The running job holds shutdown up: it gives up after 100 ms,
        // having cancelled the queue.
        assert!(!rt.shutdown_timeout(ms(100)));
        gate.open();
        let other = current();
        for q in queued {
            let err = other.block_on(q).unwrap_err();
            assert!(err.is_cancelled(), "{err}");
        }
        assert_eq!(other.block_on(running).unwrap(), "finished");
        assert_eq!(ran.load(SeqCst), 0, "a queued job ran after shutdown");
    });
}

#[test]
fn run_sync_after_shutdown_is_cancelled() {
    run_with_timeout("after_shutdown", 20, || {
        let rt = multi(1);
        let handle = rt.handle().clone();
        assert!(rt.shutdown_timeout(Duration::from_secs(5)));
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let job = handle.run_sync(move || r.store(true, SeqCst));
        let err = current().block_on(job).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
        assert!(!ran.load(SeqCst));
    });
}
