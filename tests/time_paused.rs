//! The paused clock: `start_paused`, `pause` / `resume` / `advance`,
//! auto-advance to the next timer, and `run_sync` jobs holding it back.

use std::panic;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use corral::Builder;
use corral_runtime::run_sync;
use corral_runtime::time::{self, sleep, timeout, Instant};

#[allow(dead_code)]
mod common;
use common::{current, ms, panic_message, paused, run_with_timeout};

// ---- helpers -------------------------------------------------------------

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Real time allowed for an hour of simulated time.
const REAL_BOUND: Duration = Duration::from_secs(5);

// ---- an hour in no time -------------------------------------------------------

#[test]
fn an_hour_of_sequential_one_second_sleeps() {
    run_with_timeout("hour_of_sleeps", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            let start = time::current_time();
            for k in 1..=3600u64 {
                sleep(secs(1)).await;
                assert_eq!(time::current_time() - start, secs(k));
            }
        });
        assert!(real.elapsed() < REAL_BOUND, "took {:?}", real.elapsed());
    });
}

#[test]
fn an_hour_of_sleeps_in_a_spawned_task() {
    run_with_timeout("hour_of_sleeps_task", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        let simulated = rt.block_on(async {
            corral::spawn(async {
                let start = time::current_time();
                for _ in 0..3600 {
                    sleep(secs(1)).await;
                }
                time::current_time() - start
            })
            .await
            .unwrap()
        });
        assert_eq!(simulated, secs(3600));
        assert!(real.elapsed() < REAL_BOUND, "took {:?}", real.elapsed());
    });
}

#[test]
fn one_hour_timeout_racing_a_two_hour_sleep() {
    run_with_timeout("hour_timeout", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            let start = time::current_time();
            let err = timeout(secs(3600), sleep(secs(7200))).await.unwrap_err();
            assert_eq!(err.deadline(), start + secs(3600));
            assert_eq!(time::current_time() - start, secs(3600));
        });
        assert!(real.elapsed() < REAL_BOUND);
    });
}

#[test]
fn very_long_sleeps_complete_at_once() {
    run_with_timeout("very_long_sleeps", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            // Three years: past the wheel's top level (overflow list).
            let start = time::current_time();
            let three_years = secs(3 * 365 * 86_400);
            sleep(three_years).await;
            assert_eq!(time::current_time() - start, three_years);
            // "Forever" loses to a timeout.
            let t0 = time::current_time();
            assert!(timeout(secs(1), sleep(Duration::MAX)).await.is_err());
            assert_eq!(time::current_time() - t0, secs(1));
        });
        assert!(real.elapsed() < REAL_BOUND);
    });
}

// ---- auto-advance --------------------------------------------------------------

#[test]
fn auto_advance_jumps_to_the_earliest_timer_exactly() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let woke = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = [7u64, 3, 5, 1]
            .into_iter()
            .map(|s| {
                let woke = woke.clone();
                corral::spawn(async move {
                    sleep(secs(s)).await;
                    woke.lock().unwrap().push((s, time::current_time()));
                })
            })
            .collect();
        sleep(secs(4)).await;
        assert_eq!(time::current_time() - start, secs(4));
        for t in tasks {
            t.await.unwrap();
        }
        let woke = woke.lock().unwrap();
        let expected: Vec<_> = [1u64, 3, 5, 7].iter().map(|&s| (s, start + secs(s))).collect();
        assert_eq!(*woke, expected);
        assert_eq!(time::current_time() - start, secs(7));
        assert_eq!(Instant::now(), time::current_time());
    });
}

#[test]
fn auto_advance_after_pause_lands_within_a_tick_of_the_deadline() {
    // After `pause()` on a running clock the reading is not on the wheel's
    // 1 ms grid: the jump lands on the deadline rounded up to it.
    let rt = current();
    rt.block_on(async {
        assert!(time::pause());
        let start = time::current_time();
        let real = StdInstant::now();
        let s = sleep(secs(3600));
        let deadline = s.deadline();
        s.await;
        let now = time::current_time();
        assert!(now >= deadline, "woke before the deadline");
        assert!(now - deadline < ms(1), "woke {:?} late", now - deadline);
        assert!(now - start >= secs(3600));
        assert!(real.elapsed() < REAL_BOUND);
    });
}

#[test]
fn paused_clock_stands_still_while_tasks_run() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let real = StdInstant::now();
        while real.elapsed() < ms(20) {
            corral::yield_now().await;
        }
        assert_eq!(time::current_time(), start);
        assert_eq!(start.elapsed(), Duration::ZERO);
    });
}

// ---- advance ---------------------------------------------------------------------

#[test]
fn advance_fires_due_timers_and_yields_to_their_task() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let started = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let (s, d) = (started.clone(), done.clone());
        let task = corral::spawn(async move {
            s.store(true, SeqCst);
            sleep(secs(10)).await;
            d.store(true, SeqCst);
        });
        while !started.load(SeqCst) {
            corral::yield_now().await;
        }
        time::advance(secs(9)).await;
        assert_eq!(time::current_time() - start, secs(9));
        assert!(!done.load(SeqCst), "timer fired early");
        time::advance(secs(1)).await;
        assert_eq!(time::current_time() - start, secs(10));
        assert!(done.load(SeqCst), "advance did not let the woken task run");
        task.await.unwrap();
    });
}

#[test]
fn advance_lets_every_woken_task_run_from_block_on() {
    let rt = paused();
    rt.block_on(async {
        let started = Arc::new(Mutex::new(0usize));
        let done = Arc::new(Mutex::new(0usize));
        let tasks: Vec<_> = (0..3u64)
            .map(|k| {
                let (s, d) = (started.clone(), done.clone());
                corral::spawn(async move {
                    *s.lock().unwrap() += 1;
                    sleep(secs(1) + ms(k)).await;
                    *d.lock().unwrap() += 1;
                })
            })
            .collect();
        while *started.lock().unwrap() < 3 {
            corral::yield_now().await;
        }
        time::advance(secs(2)).await;
        assert_eq!(
            *done.lock().unwrap(),
            3,
            "advance returned before the tasks it woke ran"
        );
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn advance_lets_every_woken_task_run_from_a_task() {
    let rt = paused();
    rt.block_on(async {
        let started = Arc::new(Mutex::new(0usize));
        let done = Arc::new(Mutex::new(0usize));
        let tasks: Vec<_> = (0..3u64)
            .map(|k| {
                let (s, d) = (started.clone(), done.clone());
                corral::spawn(async move {
                    *s.lock().unwrap() += 1;
                    sleep(secs(1) + ms(k)).await;
                    *d.lock().unwrap() += 1;
                })
            })
            .collect();
        let (s, d) = (started.clone(), done.clone());
        corral::spawn(async move {
            while *s.lock().unwrap() < 3 {
                corral::yield_now().await;
            }
            time::advance(secs(2)).await;
            assert_eq!(
                *d.lock().unwrap(),
                3,
                "advance returned before the woken tasks ran"
            );
        })
        .await
        .unwrap();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn advance_is_exact() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        time::advance(Duration::from_nanos(1)).await;
        assert_eq!(time::current_time() - start, Duration::from_nanos(1));
        time::advance(ms(1500)).await;
        assert_eq!(time::current_time() - start, ms(1500) + Duration::from_nanos(1));
        time::advance(Duration::ZERO).await;
        assert_eq!(time::current_time() - start, ms(1500) + Duration::from_nanos(1));
    });
}

#[test]
fn advance_on_a_running_clock_panics_with_a_clear_message() {
    let rt = current();
    rt.block_on(async {
        let err = panic::catch_unwind(|| drop(time::advance(secs(1)))).unwrap_err();
        let msg = panic_message(err);
        assert!(msg.contains("paused clock"), "{msg}");
        assert!(msg.contains("pause()"), "{msg}");
        // Also after resume.
        assert!(time::pause());
        time::advance(secs(1)).await;
        assert!(time::resume());
        let err = panic::catch_unwind(|| drop(time::advance(secs(1)))).unwrap_err();
        assert!(panic_message(err).contains("paused clock"));
    });
}

#[test]
fn advance_on_a_multi_thread_runtime_moves_its_paused_clock() {
    run_with_timeout("advance_multi", 20, || {
        // `start_paused` is refused for a multi-thread runtime (see below);
        // `pause()` still freezes its clock, which then moves only by
        // `advance`.
        let rt = Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let start = rt.block_on(async {
            assert!(time::pause());
            time::current_time()
        });
        let (started_tx, started_rx) = mpsc::channel();
        let task = rt.spawn(async move {
            let s = time::sleep_until(start + secs(1));
            started_tx.send(()).unwrap();
            s.await;
            time::current_time()
        });
        started_rx.recv().unwrap();
        // A multi-thread runtime never auto-advances: the sleep cannot end
        // by itself however long we wait.
        thread::sleep(ms(100));
        assert!(!task.is_finished(), "paused clock moved by itself");
        assert_eq!(rt.block_on(async { time::current_time() }), start);
        rt.block_on(async { time::advance(secs(1)).await });
        let woke = rt.block_on(task).unwrap();
        assert_eq!(woke, start + secs(1));
    });
}

#[test]
fn start_paused_on_a_multi_thread_runtime_is_refused() {
    // It would leave every sleep pending until someone calls `advance`.
    let err = Builder::new_multi_thread()
        .worker_threads(2)
        .start_paused(true)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(msg.contains("start_paused"), "{msg}");
    assert!(msg.contains("new_current_thread"), "{msg}");
    // `start_paused(false)` stays fine.
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .start_paused(false)
        .build()
        .unwrap();
    rt.block_on(time::sleep(ms(1)));
}

// ---- pause / resume ---------------------------------------------------------------

#[test]
fn pause_and_resume_return_values() {
    let rt = current();
    rt.block_on(async {
        assert!(!time::resume(), "resume of a running clock returned true");
        assert!(time::pause());
        assert!(!time::pause(), "second pause returned true");
        let frozen = time::current_time();
        thread::sleep(ms(5));
        assert_eq!(time::current_time(), frozen);
        assert!(time::resume());
        assert!(!time::resume());
        // Running again, from where it stood.
        let real = StdInstant::now();
        let t0 = time::current_time();
        assert!(t0 >= frozen);
        sleep(ms(10)).await;
        assert!(
            real.elapsed() >= ms(10),
            "slept on a clock that should run in real time"
        );
        assert!(time::current_time() - t0 >= ms(10));
    });
    let rt = paused();
    rt.block_on(async {
        assert!(!time::pause());
        assert!(time::resume());
        assert!(!time::resume());
        assert!(time::pause());
    });
}

#[test]
fn paused_sleep_jumps_and_resumed_clock_keeps_the_lead() {
    let rt = current();
    rt.block_on(async {
        let real = StdInstant::now();
        let t0 = time::current_time();
        assert!(time::pause());
        sleep(secs(3600)).await;
        assert!(time::resume());
        // The hour stays on the clock after resuming.
        assert!(time::current_time() - t0 >= secs(3600));
        assert!(real.elapsed() < REAL_BOUND);
    });
}

#[test]
fn pause_resume_advance_outside_a_runtime_panic() {
    for (name, f) in [
        (
            "pause",
            Box::new(|| {
                let _ = time::pause();
            }) as Box<dyn Fn() + std::panic::RefUnwindSafe>,
        ),
        (
            "resume",
            Box::new(|| {
                let _ = time::resume();
            }),
        ),
        ("advance", Box::new(|| drop(time::advance(secs(1))))),
    ] {
        let err = panic::catch_unwind(&f).unwrap_err();
        let msg = panic_message(err);
        assert!(msg.contains("outside a corral runtime"), "{name}: {msg}");
        assert!(msg.contains(name), "{name}: {msg}");
    }
}

#[test]
fn current_time_outside_a_runtime_is_the_system_clock() {
    let before = StdInstant::now();
    let now = time::current_time().into_std();
    assert!(now >= before && now <= StdInstant::now());
    let i = Instant::now();
    assert!(i.into_std() >= before);
}

// ---- run_sync holds the paused clock back --------------------------------------------

#[test]
fn run_sync_job_in_flight_inhibits_auto_advance() {
    // Documented (time/mod.rs, driver.rs, blocking/mod.rs): while a
    // run_sync job is queued or running, a paused clock does not jump,
    // since the job may be about to wake a task. So the 1 s (simulated)
    // sleep cannot end before the job that really takes 100 ms.
    run_with_timeout("run_sync_inhibits_auto_advance", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            let start = time::current_time();
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let job = run_sync(move || {
                thread::sleep(ms(100));
                f.store(true, SeqCst);
            });
            sleep(secs(1)).await;
            assert!(flag.load(SeqCst), "the clock jumped while a run_sync job ran");
            assert_eq!(time::current_time() - start, secs(1));
            job.await.unwrap();
        });
        assert!(real.elapsed() >= ms(100));
        assert!(real.elapsed() < REAL_BOUND);
    });
}

#[test]
fn run_sync_job_awaited_by_a_task_finishes_before_a_paused_sleep() {
    run_with_timeout("run_sync_awaited_before_sleep", 20, || {
        let rt = paused();
        rt.block_on(async {
            let start = time::current_time();
            let order = Arc::new(Mutex::new(Vec::new()));
            let o = order.clone();
            let sleeper = corral::spawn(async move {
                sleep(secs(1)).await;
                o.lock().unwrap().push("sleep");
            });
            let o = order.clone();
            let waiter = corral::spawn(async move {
                run_sync(|| thread::sleep(ms(100))).await.unwrap();
                o.lock().unwrap().push("job");
                time::current_time()
            });
            let job_seen_at = waiter.await.unwrap();
            sleeper.await.unwrap();
            assert_eq!(*order.lock().unwrap(), ["job", "sleep"]);
            // The job took real time only: the paused clock did not move.
            assert_eq!(job_seen_at, start);
            assert_eq!(time::current_time() - start, secs(1));
        });
    });
}

#[test]
fn run_sync_job_waking_a_task_beats_a_paused_timeout() {
    run_with_timeout("run_sync_wakes_before_timeout", 20, || {
        let rt = paused();
        rt.block_on(async {
            let (tx, rx) = futures_channel::oneshot::channel();
            let _job = run_sync(move || {
                thread::sleep(ms(100));
                tx.send(42).unwrap();
            });
            let r = timeout(secs(1), rx).await;
            assert_eq!(r, Ok(Ok(42)), "the paused clock jumped past a running job");
        });
    });
}

#[test]
fn awaited_run_sync_then_paused_sleep_repeatedly() {
    // The common test pattern: await a job, then sleep on the paused clock.
    // Once the job's handle has returned, nothing is in flight, so each
    // sleep must jump at once.
    run_with_timeout("awaited_run_sync_then_sleep", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            let start = time::current_time();
            for k in 1..=2000u64 {
                assert_eq!(run_sync(move || k).await.unwrap(), k);
                sleep(secs(1)).await;
                assert_eq!(time::current_time() - start, secs(k));
            }
        });
        assert!(real.elapsed() < REAL_BOUND);
    });
}

#[test]
fn auto_advance_resumes_after_the_job_finishes() {
    run_with_timeout("auto_advance_resumes", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            run_sync(|| thread::sleep(ms(20))).await.unwrap();
            let start = time::current_time();
            sleep(secs(3600)).await;
            assert_eq!(time::current_time() - start, secs(3600));
        });
        assert!(real.elapsed() < REAL_BOUND);
    });
}
