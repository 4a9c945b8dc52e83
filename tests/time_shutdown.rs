//! Timers that outlive their runtime: a `Sleep` (and a `timeout`,
//! `interval`) whose runtime was dropped moves to the runtime that polls it
//! next; polled outside any live runtime it panics with a clear message.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant as StdInstant};

use corral::time::{self, interval, sleep, timeout};

#[allow(dead_code)]
mod common;
use common::{current, foreign_block_on, ms, multi, panic_message, run_with_timeout, SLACK};

#[test]
fn unpolled_sleep_of_a_dropped_runtime_completes_on_another() {
    run_with_timeout("unpolled_sleep_moves", 20, || {
        for (a, b) in [(current(), current()), (multi(1), multi(2))] {
            let start = StdInstant::now();
            let s = {
                let _g = a.enter();
                sleep(ms(50))
            };
            drop(a);
            b.block_on(s);
            let took = start.elapsed();
            assert!(took >= ms(50), "completed early: {took:?}");
            assert!(took < ms(50) + SLACK, "took {took:?}");
        }
    });
}

#[test]
fn registered_sleep_moves_when_its_runtime_shuts_down() {
    run_with_timeout("registered_sleep_moves", 20, || {
        for (a, b) in [(multi(1), current()), (multi(1), multi(2))] {
            let start = StdInstant::now();
            let s = {
                let _g = a.enter();
                sleep(ms(300))
            };
            let (polled_tx, polled_rx) = mpsc::channel();
            // The task runs on `b` but its sleep is in `a`'s wheel.
            let task = b.spawn(async move {
                let mut s = std::pin::pin!(s);
                let first = futures_util::poll!(s.as_mut());
                assert!(first.is_pending());
                polled_tx.send(()).unwrap();
                s.await;
            });
            let task = if b.handle().runtime_flavor() == corral::RuntimeFlavor::CurrentThread {
                // Drive b until the sleep was polled, then drop a under it.
                b.block_on(async {
                    while polled_rx.try_recv().is_err() {
                        corral::yield_now().await;
                    }
                });
                drop(a);
                task
            } else {
                polled_rx.recv().unwrap();
                drop(a);
                task
            };
            b.block_on(task).unwrap();
            let took = start.elapsed();
            assert!(took >= ms(300), "completed early: {took:?}");
            assert!(took < ms(300) + SLACK * 2, "took {took:?}");
        }
    });
}

#[test]
fn timeout_of_a_dropped_runtime_still_times_out() {
    run_with_timeout("timeout_moves", 20, || {
        let a = multi(1);
        let b = multi(1);
        let t = {
            let _g = a.enter();
            timeout(ms(50), std::future::pending::<()>())
        };
        drop(a);
        let start = StdInstant::now();
        assert!(b.block_on(t).is_err());
        assert!(start.elapsed() >= ms(40));
        // A timeout whose future finishes first is unaffected.
        let a = current();
        let t = {
            let _g = a.enter();
            timeout(Duration::from_secs(3600), async { 7 })
        };
        drop(a);
        assert_eq!(b.block_on(t), Ok(7));
    });
}

#[test]
fn interval_of_a_dropped_runtime_keeps_ticking() {
    run_with_timeout("interval_moves", 20, || {
        let a = current();
        let b = current();
        let mut i = a.block_on(async {
            let mut i = interval(ms(10));
            i.tick().await;
            i
        });
        drop(a);
        b.block_on(async {
            let t1 = i.tick().await;
            let t2 = i.tick().await;
            assert_eq!(t2 - t1, ms(10));
        });
    });
}

#[test]
fn sleep_of_a_dropped_runtime_polled_outside_any_runtime_panics() {
    run_with_timeout("dead_sleep_outside", 20, || {
        let a = current();
        let s = {
            let _g = a.enter();
            sleep(ms(50))
        };
        drop(a);
        let err = panic::catch_unwind(AssertUnwindSafe(|| foreign_block_on(s))).unwrap_err();
        let msg = panic_message(err);
        assert!(msg.contains("has shut down"), "{msg}");
    });
}

#[test]
fn sleep_polled_under_the_handle_of_a_dropped_runtime_panics() {
    run_with_timeout("dead_sleep_dead_handle", 20, || {
        let a = current();
        let handle = a.handle().clone();
        drop(a);
        let err = panic::catch_unwind(AssertUnwindSafe(|| {
            let _g = handle.enter();
            foreign_block_on(time::sleep(ms(50)))
        }))
        .unwrap_err();
        let msg = panic_message(err);
        assert!(msg.contains("has shut down"), "{msg}");
    });
}

#[test]
fn elapsed_sleep_of_a_dropped_runtime_is_ready_anywhere() {
    let a = current();
    let s = {
        let _g = a.enter();
        sleep(Duration::ZERO)
    };
    drop(a);
    foreign_block_on(s);
}
