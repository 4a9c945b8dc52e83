//! `corral::time::sleep` / `sleep_until` / `Sleep`: never early, deadline
//! order, reset, cancellation on drop, and timers registered while every
//! worker is parked.

use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use corral::Runtime;
use corral_runtime::time::{self, sleep, sleep_until, Instant, Sleep};

#[allow(dead_code)]
mod common;
use common::{current, ms, multi, panic_message, paused, run_with_timeout, SLACK};

// ---- helpers -------------------------------------------------------------

/// A waker that counts its wakes.
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn count_waker() -> (Arc<CountWaker>, Waker) {
    let c = Arc::new(CountWaker(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn poll_with<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

const DURATIONS: [u64; 6] = [0, 1, 2, 5, 10, 33];

/// Sleeps each duration a few times; checks both clocks say "not early"
/// and (generously) "not too late".
async fn check_never_early() {
    for &d in &DURATIONS {
        for _ in 0..3 {
            let d = ms(d);
            let rt_start = time::current_time();
            let std_start = StdInstant::now();
            let s = sleep(d);
            let deadline = s.deadline();
            assert!(deadline >= rt_start + d);
            s.await;
            let rt_elapsed = time::current_time() - rt_start;
            let std_elapsed = std_start.elapsed();
            assert!(
                rt_elapsed >= d,
                "sleep({d:?}) woke early: runtime clock {rt_elapsed:?}"
            );
            assert!(
                std_elapsed >= d,
                "sleep({d:?}) woke early: std clock {std_elapsed:?}"
            );
            assert!(time::current_time() >= deadline);
            assert!(std_elapsed < d + SLACK, "sleep({d:?}) took {std_elapsed:?}");
        }
    }
}

// ---- never early -------------------------------------------------------------

#[test]
fn sleep_never_early_current_thread() {
    run_with_timeout("sleep_never_early_current_thread", 20, || {
        let rt = current();
        rt.block_on(check_never_early());
        // And inside a spawned task.
        rt.block_on(rt.spawn(check_never_early())).unwrap();
    });
}

#[test]
fn sleep_never_early_multi_thread() {
    run_with_timeout("sleep_never_early_multi_thread", 20, || {
        let rt = multi(2);
        rt.block_on(check_never_early());
        let tasks: Vec<_> = (0..4).map(|_| rt.spawn(check_never_early())).collect();
        for t in tasks {
            rt.block_on(t).unwrap();
        }
    });
}

#[test]
fn sleep_zero_completes_on_first_poll() {
    let rt = current();
    rt.block_on(async {
        let (_, waker) = count_waker();
        let mut s = sleep(Duration::ZERO);
        assert!(s.is_elapsed());
        assert_eq!(poll_with(&mut s, &waker), Poll::Ready(()));
    });
}

// ---- deadline order ------------------------------------------------------------

/// A permutation of 0..n (37 is coprime with 200).
fn permuted(i: u64, n: u64) -> u64 {
    (i * 37) % n
}

#[test]
fn concurrent_sleeps_complete_in_deadline_order_paused() {
    run_with_timeout("concurrent_sleeps_paused", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            let start = time::current_time();
            let order = Arc::new(Mutex::new(Vec::new()));
            let tasks: Vec<_> = (0..200u64)
                .map(|i| {
                    // Distinct deadlines 3, 6, ..., 600 ms in a scrambled order.
                    let d = ms((permuted(i, 200) + 1) * 3);
                    let order = order.clone();
                    corral::spawn(async move {
                        sleep(d).await;
                        order.lock().unwrap().push((d, time::current_time()));
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let order = order.lock().unwrap();
            assert_eq!(order.len(), 200);
            for (k, &(d, woke)) in order.iter().enumerate() {
                assert_eq!(d, ms((k as u64 + 1) * 3), "completion #{k} out of order");
                assert_eq!(woke - start, d, "sleep({d:?}) woke at the wrong time");
            }
            assert_eq!(time::current_time() - start, ms(600));
        });
        assert!(real.elapsed() < Duration::from_secs(5));
    });
}

fn check_concurrent_real(rt: &Runtime) {
    let results = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..200u64)
        .map(|i| {
            let d = ms(permuted(i, 200) % 50);
            let results = results.clone();
            rt.spawn(async move {
                let rt_start = time::current_time();
                let std_start = StdInstant::now();
                sleep(d).await;
                results
                    .lock()
                    .unwrap()
                    .push((d, time::current_time() - rt_start, std_start.elapsed()));
            })
        })
        .collect();
    let std_start = StdInstant::now();
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    assert!(std_start.elapsed() < ms(50) + SLACK * 4);
    let results = results.lock().unwrap();
    assert_eq!(results.len(), 200);
    for &(d, rt_elapsed, std_elapsed) in results.iter() {
        assert!(rt_elapsed >= d, "sleep({d:?}) woke early: {rt_elapsed:?}");
        assert!(std_elapsed >= d, "sleep({d:?}) woke early (std): {std_elapsed:?}");
    }
}

#[test]
fn concurrent_sleeps_never_early_real_clock_current_thread() {
    run_with_timeout(
        "concurrent_real_current",
        20,
        || check_concurrent_real(&current()),
    );
}

#[test]
fn concurrent_sleeps_never_early_real_clock_multi_thread() {
    run_with_timeout("concurrent_real_multi", 20, || check_concurrent_real(&multi(2)));
}

// ---- sleep_until -------------------------------------------------------------

#[test]
fn sleep_until_in_the_past_completes_at_once() {
    let rt = current();
    rt.block_on(async {
        let now = Instant::now();
        let past = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
        let (wakes, waker) = count_waker();
        let mut s = sleep_until(past);
        assert_eq!(s.deadline(), past);
        assert!(s.is_elapsed());
        assert_eq!(poll_with(&mut s, &waker), Poll::Ready(()));
        assert_eq!(wakes.0.load(SeqCst), 0);
        // Deadline exactly now: also at once.
        let mut s = sleep_until(time::current_time());
        assert_eq!(poll_with(&mut s, &waker), Poll::Ready(()));
    });
}

#[test]
fn sleep_until_in_the_past_does_not_move_a_paused_clock() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        time::advance(Duration::from_secs(10)).await;
        sleep_until(start + Duration::from_secs(3)).await;
        assert_eq!(time::current_time() - start, Duration::from_secs(10));
    });
}

#[test]
fn sleep_until_future_deadline_paused_exact() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let at = start + ms(1234);
        sleep_until(at).await;
        assert_eq!(time::current_time(), at);
    });
}

// ---- reset -----------------------------------------------------------------

#[test]
fn sleep_reset_earlier_paused() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let (_, waker) = count_waker();
        let mut s = sleep(Duration::from_secs(10));
        // Register it in the wheel first.
        assert_eq!(poll_with(&mut s, &waker), Poll::Pending);
        s.reset(start + Duration::from_secs(2));
        assert_eq!(s.deadline(), start + Duration::from_secs(2));
        (&mut s).await;
        assert_eq!(time::current_time() - start, Duration::from_secs(2));
        assert!(s.is_elapsed());
    });
}

#[test]
fn sleep_reset_later_paused() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let (wakes, waker) = count_waker();
        let mut s = sleep(Duration::from_secs(1));
        assert_eq!(poll_with(&mut s, &waker), Poll::Pending);
        s.reset(start + Duration::from_secs(5));
        // Past the old deadline: the moved timer must not fire.
        time::advance(Duration::from_secs(3)).await;
        assert!(!s.is_elapsed());
        assert_eq!(wakes.0.load(SeqCst), 0, "timer fired at its old deadline");
        assert_eq!(poll_with(&mut s, &waker), Poll::Pending);
        (&mut s).await;
        assert_eq!(time::current_time() - start, Duration::from_secs(5));
    });
}

#[test]
fn sleep_reset_before_first_poll_and_after_completion_paused() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let mut s = sleep(Duration::from_secs(100));
        s.reset(start + Duration::from_secs(1)); // never polled yet
        (&mut s).await;
        assert_eq!(time::current_time() - start, Duration::from_secs(1));
        // Re-arm a completed sleep.
        s.reset(start + Duration::from_secs(4));
        assert!(!s.is_elapsed());
        (&mut s).await;
        assert_eq!(time::current_time() - start, Duration::from_secs(4));
    });
}

#[test]
fn sleep_reset_earlier_wakes_a_parked_driver() {
    // A worker sleeps in the driver until the one-hour timer; moving that
    // timer to 20 ms must wake it.
    run_with_timeout("sleep_reset_earlier_wakes_a_parked_driver", 20, || {
        let rt = multi(2);
        let (tx, rx) = mpsc::channel::<()>();
        let task = rt.spawn(async move {
            let (_, waker) = count_waker();
            let mut s = sleep(Duration::from_secs(3600));
            assert_eq!(poll_with(&mut s, &waker), Poll::Pending);
            // Let the workers go idle and park (this thread blocks the
            // worker, but only the other one can own the driver then).
            let _ = rx.recv_timeout(ms(100));
            let std_start = StdInstant::now();
            s.reset(time::current_time() + ms(20));
            (&mut s).await;
            std_start.elapsed()
        });
        let took = rt.block_on(task).unwrap();
        drop(tx);
        assert!(took >= ms(20), "reset sleep woke early: {took:?}");
        assert!(took < ms(20) + SLACK, "reset sleep took {took:?}");
    });
}

#[test]
fn sleep_reset_earlier_from_block_on_wakes_a_parked_driver() {
    // Same, with the sleep in the (non-worker) block_on thread, so only the
    // reset -> unpark path is exercised.
    run_with_timeout("sleep_reset_earlier_from_block_on", 20, || {
        let rt = multi(2);
        let took = rt.block_on(async {
            let (_, waker) = count_waker();
            let mut s = sleep(Duration::from_secs(3600));
            assert_eq!(poll_with(&mut s, &waker), Poll::Pending);
            // The idle workers park meanwhile, one of them in the driver
            // until (about) the one-hour timer.
            thread::sleep(ms(100));
            let std_start = StdInstant::now();
            s.reset(time::current_time() + ms(20));
            (&mut s).await;
            std_start.elapsed()
        });
        assert!(took >= ms(20), "reset sleep woke early: {took:?}");
        assert!(took < ms(20) + SLACK, "reset sleep took {took:?}");
    });
}

// ---- cancellation ------------------------------------------------------------

#[test]
fn dropped_sleep_never_wakes() {
    let rt = current();
    rt.block_on(async {
        let (wakes, waker) = count_waker();
        let mut s = sleep(ms(5));
        assert_eq!(poll_with(&mut s, &waker), Poll::Pending);
        assert!(format!("{s:?}").contains("registered: true"), "{s:?}");
        drop(s);
        sleep(ms(50)).await;
        assert_eq!(wakes.0.load(SeqCst), 0, "a dropped Sleep woke its waker");
    });
}

#[test]
fn many_dropped_sleeps_free_their_entries_paused() {
    // 100,000 sleeps registered and dropped: none may fire later (their
    // wheel entries are gone), and auto-advance must not stop at them.
    run_with_timeout("many_dropped_sleeps_paused", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            let start = time::current_time();
            let (wakes, waker) = count_waker();
            for i in 0..100_000u64 {
                let mut s = sleep(ms(i + 1));
                assert_eq!(poll_with(&mut s, &waker), Poll::Pending);
            }
            sleep(Duration::from_secs(200)).await;
            assert_eq!(time::current_time() - start, Duration::from_secs(200));
            assert_eq!(wakes.0.load(SeqCst), 0, "dropped sleeps fired");
            // Still works.
            let t = corral::spawn(async {
                sleep(ms(7)).await;
                7
            });
            assert_eq!(t.await.unwrap(), 7);
            assert_eq!(time::current_time() - start, Duration::from_secs(200) + ms(7));
        });
        assert!(real.elapsed() < Duration::from_secs(15));
    });
}

#[test]
fn many_dropped_sleeps_real_clock_runtime_still_works() {
    run_with_timeout("many_dropped_sleeps_real", 20, || {
        let rt = multi(2);
        rt.block_on(async {
            let (wakes, waker) = count_waker();
            // Each sleep is registered and dropped at once; the shortest
            // is 100 ms so that a preemption between its poll and its drop
            // on a loaded machine cannot let it fire while still alive.
            for i in 0..100_000u64 {
                let mut s = sleep(ms(100 + i % 1000));
                assert_eq!(poll_with(&mut s, &waker), Poll::Pending);
            }
            // The early ones' deadlines pass: none fires.
            let start = StdInstant::now();
            sleep(ms(150)).await;
            assert!(start.elapsed() >= ms(150));
            assert_eq!(wakes.0.load(SeqCst), 0, "dropped sleeps fired");
            // Timers still work, and so do tasks. (A task that sleeps alone
            // on a multi-thread runtime is covered by the tests below.)
            let s = StdInstant::now();
            sleep(ms(10)).await;
            let took = s.elapsed();
            assert!(took >= ms(10) && took < ms(10) + SLACK, "{took:?}");
            assert_eq!(corral::spawn(async { 3 }).await.unwrap(), 3);
        });
    });
}

#[test]
fn aborting_a_sleeping_task_cancels_its_timer() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let t = corral::spawn(sleep(Duration::from_secs(50)));
        corral::yield_now().await;
        t.abort();
        assert!(t.await.unwrap_err().is_cancelled());
        // The only pending timer is ours: auto-advance goes straight to it.
        sleep(Duration::from_secs(100)).await;
        assert_eq!(time::current_time() - start, Duration::from_secs(100));
    });
}

// ---- accessors, traits, misuse ---------------------------------------------

#[test]
fn is_elapsed_and_deadline_paused() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let s = sleep(ms(10));
        assert_eq!(s.deadline(), start + ms(10));
        assert!(!s.is_elapsed());
        time::advance(ms(9)).await;
        assert!(!s.is_elapsed());
        time::advance(ms(1)).await;
        assert!(s.is_elapsed());
        s.await; // ready at once
        assert_eq!(time::current_time() - start, ms(10));
        let until = sleep_until(start + ms(3));
        assert_eq!(until.deadline(), start + ms(3));
        assert!(until.is_elapsed());
    });
}

#[test]
fn sleep_is_unpin_send_sync() {
    fn assert_unpin<T: Unpin + Send + Sync>() {}
    assert_unpin::<Sleep>();
    let rt = current();
    rt.block_on(async {
        let mut s = sleep(ms(1));
        // Pin::new needs Unpin.
        std::future::poll_fn(|cx| Pin::new(&mut s).poll(cx)).await;
    });
}

/// Creates and polls a future on this (runtime-less) thread.
fn poll_outside_a_runtime<F: Future>(make: impl FnOnce() -> F) -> Poll<F::Output> {
    let (_, waker) = count_waker();
    let mut fut = Box::pin(make());
    fut.as_mut().poll(&mut Context::from_waker(&waker))
}

#[test]
fn sleep_outside_a_runtime_panics_naming_the_fix() {
    // Whether it panics at creation or at the first poll, using a Sleep
    // with no runtime must say what to do.
    for (what, err) in [
        (
            "sleep",
            panic::catch_unwind(|| poll_outside_a_runtime(|| sleep(ms(1)))).unwrap_err(),
        ),
        (
            "sleep_until",
            panic::catch_unwind(|| poll_outside_a_runtime(|| sleep_until(Instant::now() + ms(1))))
                .unwrap_err(),
        ),
    ] {
        let msg = panic_message(err);
        assert!(msg.contains("outside a corral runtime"), "{what}: {msg}");
        assert!(
            msg.contains("block_on") && msg.contains("corral::main"),
            "{what}: {msg}"
        );
        assert!(msg.to_lowercase().contains("sleep"), "{what}: {msg}");
    }
}

#[test]
fn sleep_created_under_enter_works() {
    let rt = current();
    let start = StdInstant::now();
    let s = {
        let _g = rt.enter();
        sleep(ms(5))
    };
    rt.block_on(s);
    assert!(start.elapsed() >= ms(5));
}

// ---- timers registered while the runtime is idle -----------------------------

#[test]
fn timer_registered_while_all_workers_park_fires_on_time() {
    run_with_timeout("timer_while_parked", 20, || {
        let rt = multi(2);
        for _ in 0..3 {
            // Let the runtime go fully idle: every worker parked, one in the
            // driver with no timeout.
            thread::sleep(ms(150));
            let std_start = StdInstant::now();
            let t = rt.spawn(async {
                let s = StdInstant::now();
                sleep(ms(20)).await;
                s.elapsed()
            });
            let inner = rt.block_on(t).unwrap();
            let outer = std_start.elapsed();
            assert!(inner >= ms(20), "woke early: {inner:?}");
            assert!(outer < Duration::from_secs(1), "a 20 ms timer took {outer:?}");
        }
    });
}

#[test]
fn timer_registered_from_block_on_while_all_workers_park_fires_on_time() {
    // The timer's waker is the block_on thread's, not a task's: only the
    // insert -> unpark-the-driver path is exercised.
    run_with_timeout("timer_from_block_on_while_parked", 20, || {
        let rt = multi(2);
        for _ in 0..3 {
            thread::sleep(ms(150));
            let took = rt.block_on(async {
                let s = StdInstant::now();
                sleep(ms(20)).await;
                s.elapsed()
            });
            assert!(took >= ms(20), "woke early: {took:?}");
            assert!(took < Duration::from_secs(1), "a 20 ms timer took {took:?}");
        }
    });
}

#[test]
fn earlier_timer_registered_while_driver_waits_for_a_later_one() {
    run_with_timeout("earlier_timer_while_parked", 20, || {
        let rt = multi(2);
        // The driver's thread will sleep until this one (10 s).
        let long = rt.spawn(async { sleep(Duration::from_secs(10)).await });
        thread::sleep(ms(150));
        let std_start = StdInstant::now();
        let t = rt.spawn(async {
            let s = StdInstant::now();
            sleep(ms(20)).await;
            s.elapsed()
        });
        let inner = rt.block_on(t).unwrap();
        let outer = std_start.elapsed();
        assert!(inner >= ms(20), "woke early: {inner:?}");
        assert!(outer < Duration::from_secs(1), "a 20 ms timer took {outer:?}");
        assert!(!long.is_finished());
        long.abort();
    });
}

#[test]
fn timer_registered_from_a_remote_spawn_on_an_idle_current_thread_runtime() {
    run_with_timeout("timer_remote_current", 20, || {
        let rt = current();
        let handle = rt.handle().clone();
        let (tx, rx) = futures_channel::oneshot::channel::<Duration>();
        let spawner = thread::spawn(move || {
            thread::sleep(ms(100)); // block_on is parked by now
            let std_start = StdInstant::now();
            handle.spawn(async move {
                sleep(ms(20)).await;
                let _ = tx.send(std_start.elapsed());
            });
        });
        let took = rt.block_on(rx).unwrap();
        spawner.join().unwrap();
        assert!(took >= ms(20), "woke early: {took:?}");
        assert!(took < Duration::from_secs(1), "a 20 ms timer took {took:?}");
    });
}
