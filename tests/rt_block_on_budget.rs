//! The `block_on` future runs under the cooperative budget, and `block_on`
//! keeps the driver (timers, I/O) and the task queue going while its own
//! future stays busy: timeouts in `#[corral::main]` / `#[corral::test]`
//! bodies fire, and a future that keeps waking itself starves nobody.
//!
//! Every scenario runs under a watchdog, so a regression (a hang) fails
//! the test instead of hanging the suite.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use corral::io::{AsyncReadExt, AsyncWriteExt};
use corral::net::UnixStream;
use corral::time::{fail_after, move_on_after, sleep, timeout};
use corral_runtime::coop;

#[allow(dead_code)]
mod common;
use common::{current, ms, multi, run_with_timeout, SLACK};

/// Writes and reads 64 bytes back and forth over a socket pair forever:
/// every operation is ready at once, so this future never returns
/// `Pending` unless the cooperative budget makes it.
async fn ping_pong_forever() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let out = [7u8; 64];
    let mut buf = [0u8; 64];
    loop {
        a.write_all(&out).await.unwrap();
        b.read_exact(&mut buf).await.unwrap();
        b.write_all(&buf).await.unwrap();
        a.read_exact(&mut buf).await.unwrap();
    }
}

/// A `yield_now` loop: never finishes, never blocks.
async fn yield_forever() {
    loop {
        corral::yield_now().await;
    }
}

/// Asserts that a 100 ms timeout over a busy future fired, and not late.
fn assert_fired_in_time<T: std::fmt::Debug>(what: &str, limit: Duration, took: Duration, r: Option<T>) {
    assert!(r.is_none(), "{what}: the busy future cannot finish, got {r:?}");
    assert!(took >= limit, "{what}: fired early, after {took:?}");
    assert!(took < limit + SLACK, "{what}: fired late, after {took:?}");
}

// ---- timeout over always-ready I/O in the block_on future ----------------------

#[corral::main(flavor = "current_thread")]
async fn unix_ping_pong_timeout_current_thread() -> (Duration, Option<()>) {
    let start = StdInstant::now();
    let r = timeout(ms(100), ping_pong_forever()).await.ok();
    (start.elapsed(), r)
}

#[corral::main(worker_threads = 2)]
async fn unix_ping_pong_timeout_multi_thread() -> (Duration, Option<()>) {
    let start = StdInstant::now();
    let r = timeout(ms(100), ping_pong_forever()).await.ok();
    (start.elapsed(), r)
}

#[test]
fn timeout_fires_over_busy_io_in_main_current_thread() {
    run_with_timeout("ping_pong_ct", 10, || {
        let (took, r) = unix_ping_pong_timeout_current_thread();
        assert_fired_in_time("current_thread", ms(100), took, r);
    });
}

#[test]
fn timeout_fires_over_busy_io_in_main_multi_thread() {
    run_with_timeout("ping_pong_mt", 10, || {
        let (took, r) = unix_ping_pong_timeout_multi_thread();
        assert_fired_in_time("multi_thread", ms(100), took, r);
    });
}

#[test]
fn move_on_after_and_fail_after_fire_over_busy_io_in_block_on() {
    run_with_timeout("ping_pong_move_on_fail", 10, || {
        for rt in [current(), multi(2)] {
            rt.block_on(async {
                let start = StdInstant::now();
                let r = move_on_after(ms(50), ping_pong_forever()).await;
                assert_fired_in_time("move_on_after", ms(50), start.elapsed(), r);
                let start = StdInstant::now();
                let r = fail_after(ms(50), ping_pong_forever()).await.ok();
                assert_fired_in_time("fail_after", ms(50), start.elapsed(), r);
            });
        }
    });
}

#[test]
fn busy_io_in_block_on_lets_spawned_tasks_run_current_thread() {
    run_with_timeout("ping_pong_spawned", 10, || {
        current().block_on(async {
            let ran = Arc::new(AtomicBool::new(false));
            let flag = ran.clone();
            corral::spawn(async move { flag.store(true, SeqCst) });
            let r = timeout(ms(100), ping_pong_forever()).await;
            assert!(r.is_err());
            assert!(
                ran.load(SeqCst),
                "the spawned task never ran while block_on was busy"
            );
        });
    });
}

// ---- yield_now loops in the block_on future ------------------------------------

#[corral::main(flavor = "current_thread")]
async fn yield_loop_timeout_current_thread() -> (Duration, Option<()>) {
    let start = StdInstant::now();
    let r = timeout(ms(10), yield_forever()).await.ok();
    (start.elapsed(), r)
}

#[corral::main(worker_threads = 2)]
async fn yield_loop_timeout_multi_thread() -> (Duration, Option<()>) {
    let start = StdInstant::now();
    let r = timeout(ms(10), yield_forever()).await.ok();
    (start.elapsed(), r)
}

/// tokio's `timeout_is_not_exhausted_by_future`, in a test body.
#[test]
fn timeout_fires_over_yield_loop_in_test_body() {
    run_with_timeout("yield_loop_ct", 10, || {
        let (took, r) = yield_loop_timeout_current_thread();
        assert_fired_in_time("current_thread", ms(10), took, r);
    });
    run_with_timeout("yield_loop_mt", 10, || {
        let (took, r) = yield_loop_timeout_multi_thread();
        assert_fired_in_time("multi_thread", ms(10), took, r);
    });
}

#[test]
fn move_on_after_and_fail_after_fire_over_yield_loop_in_block_on() {
    run_with_timeout("yield_loop_move_on_fail", 10, || {
        for rt in [current(), multi(2)] {
            rt.block_on(async {
                let start = StdInstant::now();
                let r = move_on_after(ms(10), yield_forever()).await;
                assert_fired_in_time("move_on_after", ms(10), start.elapsed(), r);
                let start = StdInstant::now();
                let r = fail_after(ms(10), yield_forever()).await.ok();
                assert_fired_in_time("fail_after", ms(10), start.elapsed(), r);
            });
        }
    });
}

// ---- a block_on future that keeps waking itself ----------------------------------

/// Wakes itself on every poll until `done` says so: a busy loop that never
/// touches the cooperative budget, `yield_now` or the clock.
struct SpinUntil<F: FnMut(&mut Context<'_>) -> bool>(F);

impl<F: FnMut(&mut Context<'_>) -> bool + Unpin> Future for SpinUntil<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if (self.0)(cx) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn self_waking_block_on_future_lets_timers_and_tasks_progress() {
    run_with_timeout("self_waking", 10, || {
        current().block_on(async {
            let task_done = Arc::new(AtomicBool::new(false));
            let flag = task_done.clone();
            // A spawned task that needs the timer wheel to finish.
            corral::spawn(async move {
                sleep(ms(5)).await;
                flag.store(true, SeqCst);
            });
            // And a sleep the spinning future polls itself.
            let mut own = Box::pin(sleep(ms(20)));
            let mut slept = false;
            let start = StdInstant::now();
            SpinUntil(|cx: &mut Context<'_>| {
                slept = slept || own.as_mut().poll(cx).is_ready();
                slept && task_done.load(SeqCst)
            })
            .await;
            assert!(start.elapsed() < ms(20) + SLACK, "late: {:?}", start.elapsed());
        });
    });
}

#[test]
fn self_waking_block_on_future_lets_io_tasks_progress() {
    run_with_timeout("self_waking_io", 10, || {
        current().block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            let got = Arc::new(AtomicUsize::new(0));
            let seen = got.clone();
            // The reader parks on readiness; only the driver can wake it.
            corral::spawn(async move {
                let mut buf = [0u8; 4];
                b.read_exact(&mut buf).await.unwrap();
                seen.store(usize::from(buf[0]), SeqCst);
            });
            corral::spawn(async move {
                sleep(ms(5)).await;
                a.write_all(&[9, 9, 9, 9]).await.unwrap();
                a
            });
            SpinUntil(|_: &mut Context<'_>| got.load(SeqCst) == 9).await;
        });
    });
}

// ---- the budget itself ------------------------------------------------------------

#[test]
fn block_on_future_has_a_budget_on_both_flavours() {
    run_with_timeout("budget", 10, || {
        for rt in [current(), multi(2)] {
            rt.block_on(async {
                assert!(coop::has_budget_remaining());
                let mut spent = 0u32;
                std::future::poll_fn(|cx| {
                    while coop::has_budget_remaining() {
                        match coop::poll_proceed(cx) {
                            Poll::Ready(c) => c.made_progress(),
                            Poll::Pending => break,
                        }
                        spent += 1;
                    }
                    Poll::Ready(())
                })
                .await;
                assert_eq!(spent, u32::from(coop::BUDGET));
                // Spent: the next operation gives way, and the re-poll
                // after it starts with a fresh budget.
                corral::yield_now().await;
                assert!(coop::has_budget_remaining());
            });
        }
    });
}
