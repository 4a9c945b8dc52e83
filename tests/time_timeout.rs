//! `corral::time::{timeout, timeout_at, fail_after, move_on_after}` and
//! `Elapsed`.

use std::future::Future;
use std::panic;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant as StdInstant};

use corral::Runtime;
use corral_runtime::time::{self, fail_after, move_on_after, sleep, timeout, timeout_at, Elapsed, Instant};

#[allow(dead_code)]
mod common;
use common::{current, ms, multi, paused, run_with_timeout, SLACK};

// ---- helpers -------------------------------------------------------------

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

fn noop_waker() -> Waker {
    Waker::from(Arc::new(NoopWake))
}

// ---- ready / pending ---------------------------------------------------------

#[test]
fn ready_future_is_ok_without_waiting() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        assert_eq!(timeout(Duration::from_secs(3600), async { 5 }).await, Ok(5));
        // Polled before the clock: even a zero (or past) limit succeeds.
        assert_eq!(timeout(Duration::ZERO, async { 6 }).await, Ok(6));
        let past = start.checked_sub(Duration::from_secs(1)).unwrap_or(start);
        assert_eq!(timeout_at(past, std::future::ready(7)).await, Ok(7));
        // Nothing waited: the paused clock did not jump.
        assert_eq!(time::current_time(), start);
    });
    let rt = current();
    rt.block_on(async {
        let real = StdInstant::now();
        assert_eq!(timeout(Duration::from_secs(3600), async { 1 }).await, Ok(1));
        assert!(real.elapsed() < SLACK);
    });
}

async fn check_pending_elapses(d: Duration) {
    let rt_start = time::current_time();
    let std_start = StdInstant::now();
    let t = timeout(d, std::future::pending::<()>());
    let deadline = t.deadline();
    assert!(deadline >= rt_start + d);
    let err = t.await.unwrap_err();
    let rt_elapsed = time::current_time() - rt_start;
    let std_elapsed = std_start.elapsed();
    assert_eq!(err.deadline(), deadline);
    assert!(time::current_time() >= deadline);
    assert!(rt_elapsed >= d, "timeout({d:?}) fired early: {rt_elapsed:?}");
    assert!(
        std_elapsed >= d,
        "timeout({d:?}) fired early (std): {std_elapsed:?}"
    );
    assert!(std_elapsed < d + SLACK, "timeout({d:?}) took {std_elapsed:?}");
}

#[test]
fn pending_future_elapses_after_duration_current_thread() {
    run_with_timeout("pending_elapses_current", 20, || {
        let rt = current();
        rt.block_on(async {
            for d in [0, 1, 5, 30] {
                check_pending_elapses(ms(d)).await;
            }
        });
        rt.block_on(rt.spawn(check_pending_elapses(ms(20)))).unwrap();
    });
}

#[test]
fn pending_future_elapses_after_duration_multi_thread() {
    run_with_timeout("pending_elapses_multi", 20, || {
        let rt = multi(2);
        rt.block_on(check_pending_elapses(ms(30)));
        let tasks: Vec<_> = [1, 5, 20, 30]
            .into_iter()
            .map(|d| rt.spawn(check_pending_elapses(ms(d))))
            .collect();
        for t in tasks {
            rt.block_on(t).unwrap();
        }
    });
}

#[test]
fn inner_future_finishing_in_time_is_ok() {
    run_with_timeout("inner_in_time", 20, || {
        let rt = current();
        rt.block_on(async {
            let real = StdInstant::now();
            let r = timeout(Duration::from_secs(5), async {
                sleep(ms(10)).await;
                "done"
            })
            .await;
            assert_eq!(r, Ok("done"));
            assert!(real.elapsed() >= ms(10) && real.elapsed() < ms(10) + SLACK);
        });
    });
}

#[test]
fn paused_timeout_fires_exactly_at_deadline() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let err = timeout(Duration::from_secs(90), sleep(Duration::from_secs(100)))
            .await
            .unwrap_err();
        assert_eq!(err.deadline(), start + Duration::from_secs(90));
        assert_eq!(time::current_time() - start, Duration::from_secs(90));
        // The inner sleep is shorter: Ok at its own deadline.
        let t0 = time::current_time();
        assert_eq!(
            timeout(Duration::from_secs(90), sleep(Duration::from_secs(80))).await,
            Ok(())
        );
        assert_eq!(time::current_time() - t0, Duration::from_secs(80));
    });
}

#[test]
fn nested_timeouts_the_shorter_wins() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let outer_first = timeout(
            Duration::from_secs(5),
            timeout(Duration::from_secs(10), std::future::pending::<()>()),
        )
        .await;
        assert!(outer_first.is_err());
        assert_eq!(time::current_time() - start, Duration::from_secs(5));

        let start = time::current_time();
        let inner_first = timeout(
            Duration::from_secs(10),
            timeout(Duration::from_secs(5), std::future::pending::<()>()),
        )
        .await;
        assert!(matches!(inner_first, Ok(Err(_))), "{inner_first:?}");
        assert_eq!(time::current_time() - start, Duration::from_secs(5));
    });
}

// ---- Elapsed ---------------------------------------------------------------

#[test]
fn elapsed_display_and_io_error() {
    let rt = current();
    let err = rt.block_on(async { timeout(ms(1), std::future::pending::<()>()).await.unwrap_err() });
    assert_eq!(err.to_string(), "deadline has elapsed");
    assert!(format!("{err:?}").contains("Elapsed"));
    let copy: Elapsed = err; // Copy
    assert_eq!(copy, err);
    let dynerr: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert_eq!(dynerr.to_string(), "deadline has elapsed");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    assert!(io.to_string().contains("deadline has elapsed"), "{io}");
    let inner = io.get_ref().and_then(|e| e.downcast_ref::<Elapsed>());
    assert_eq!(inner, Some(&err));
    // `?` converts it.
    fn with_question_mark(e: Elapsed) -> std::io::Result<()> {
        Err(e)?;
        Ok(())
    }
    assert_eq!(
        with_question_mark(err).unwrap_err().kind(),
        std::io::ErrorKind::TimedOut
    );
}

// ---- busy futures --------------------------------------------------------------

/// Loops on `yield_now` forever: never ready, always immediately runnable.
async fn yield_forever(count: Arc<AtomicUsize>) {
    loop {
        count.fetch_add(1, SeqCst);
        corral::yield_now().await;
    }
}

/// Loops on always-ready `sleep(0)`s, which spend the cooperative budget:
/// the loop returns Pending only when the budget is spent.
async fn spend_budget_forever(count: Arc<AtomicUsize>) {
    loop {
        sleep(Duration::ZERO).await;
        count.fetch_add(1, SeqCst);
    }
}

fn check_busy_future_times_out(rt: &Runtime) {
    for budget in [false, true] {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let task = rt.spawn(async move {
            let std_start = StdInstant::now();
            let r = if budget {
                timeout(ms(30), spend_budget_forever(c)).await
            } else {
                timeout(ms(30), yield_forever(c)).await
            };
            (r, std_start.elapsed())
        });
        let (r, took) = rt.block_on(task).unwrap();
        assert!(r.is_err(), "busy future (budget={budget}) did not time out");
        assert!(took >= ms(30), "busy timeout fired early: {took:?}");
        assert!(took < ms(30) + SLACK * 2, "busy timeout took {took:?}");
        if budget {
            // It did spend whole budgets (more than one poll's worth).
            assert!(count.load(SeqCst) > usize::from(corral_runtime::coop::BUDGET));
        } else {
            assert!(count.load(SeqCst) > 1);
        }
    }
}

#[test]
fn busy_future_still_times_out_current_thread() {
    run_with_timeout("busy_current", 20, || check_busy_future_times_out(&current()));
}

#[test]
fn busy_future_still_times_out_multi_thread() {
    run_with_timeout("busy_multi", 20, || check_busy_future_times_out(&multi(2)));
}

#[test]
fn busy_future_times_out_on_a_paused_clock() {
    run_with_timeout("busy_paused", 20, || {
        // A yielding task is never idle, so auto-advance cannot jump; the
        // deadline comes from `advance` in another task.
        let rt = paused();
        rt.block_on(async {
            let start = time::current_time();
            let count = Arc::new(AtomicUsize::new(0));
            let busy = corral::spawn(timeout(Duration::from_secs(60), yield_forever(count)));
            let mover = corral::spawn(async {
                for _ in 0..60 {
                    time::advance(Duration::from_secs(1)).await;
                }
            });
            assert!(busy.await.unwrap().is_err());
            mover.await.unwrap();
            assert_eq!(time::current_time() - start, Duration::from_secs(60));
        });
    });
}

// ---- timeout_at / fail_after / move_on_after -----------------------------------

#[test]
fn timeout_at_future_and_past_deadlines() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let at = start + ms(2500);
        let t = timeout_at(at, std::future::pending::<()>());
        assert_eq!(t.deadline(), at);
        let err = t.await.unwrap_err();
        assert_eq!(err.deadline(), at);
        assert_eq!(time::current_time(), at);
        // A deadline in the past: a pending future fails at once.
        let now = time::current_time();
        let err = timeout_at(start, std::future::pending::<()>()).await.unwrap_err();
        assert_eq!(err.deadline(), start);
        assert_eq!(time::current_time(), now);
    });
    run_with_timeout("timeout_at_real", 20, || {
        let rt = current();
        rt.block_on(async {
            let std_start = StdInstant::now();
            let at = Instant::now() + ms(25);
            assert!(timeout_at(at, std::future::pending::<()>()).await.is_err());
            assert!(Instant::now() >= at);
            assert!(std_start.elapsed() >= ms(25) && std_start.elapsed() < ms(25) + SLACK);
        });
    });
}

#[test]
fn fail_after_ok_and_err() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        assert_eq!(
            fail_after(Duration::from_secs(2), async {
                sleep(Duration::from_secs(1)).await;
                3
            })
            .await,
            Ok(3)
        );
        assert_eq!(time::current_time() - start, Duration::from_secs(1));
        let t1 = time::current_time();
        let err = fail_after(Duration::from_secs(2), sleep(Duration::from_secs(3)))
            .await
            .unwrap_err();
        assert_eq!(err.deadline(), t1 + Duration::from_secs(2));
        assert_eq!(time::current_time() - t1, Duration::from_secs(2));
    });
}

#[test]
fn move_on_after_some_and_none() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let r = move_on_after(Duration::from_secs(5), async {
            sleep(Duration::from_secs(4)).await;
            "fast"
        })
        .await;
        assert_eq!(r, Some("fast"));
        assert_eq!(time::current_time() - start, Duration::from_secs(4));
        let r = move_on_after(Duration::from_secs(5), async {
            sleep(Duration::from_secs(6)).await;
            "slow"
        })
        .await;
        assert_eq!(r, None);
        assert_eq!(time::current_time() - start, Duration::from_secs(9));
        assert_eq!(
            move_on_after(Duration::ZERO, std::future::ready(1)).await,
            Some(1)
        );
    });
}

// ---- dropping ------------------------------------------------------------------

#[test]
fn dropping_a_timeout_drops_the_inner_future() {
    let rt = current();
    rt.block_on(async {
        // Dropped while pending.
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        let mut t = Box::pin(timeout(Duration::from_secs(3600), async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
        let waker = noop_waker();
        assert!(t.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        assert!(!dropped.load(SeqCst));
        drop(t);
        assert!(dropped.load(SeqCst), "inner future not dropped with the Timeout");

        // Elapsed: the inner future is gone once the Timeout is.
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        let r = timeout(ms(5), async move {
            let _guard = guard;
            std::future::pending::<()>().await
        })
        .await;
        assert!(r.is_err());
        assert!(dropped.load(SeqCst));

        // Aborting a task that awaits a timeout drops the inner future.
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        let task = corral::spawn(timeout(Duration::from_secs(3600), async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
        corral::yield_now().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(dropped.load(SeqCst));
    });
}

#[test]
fn into_inner_and_get_ref() {
    let rt = current();
    rt.block_on(async {
        let t = timeout(Duration::from_secs(1), std::future::ready(9));
        let _: &std::future::Ready<i32> = t.get_ref();
        assert!(format!("{t:?}").contains("Timeout"));
        assert_eq!(t.into_inner().await, 9);
    });
}

#[test]
fn timeout_outside_a_runtime_panics() {
    // At creation or at the first poll that needs the clock.
    let err = panic::catch_unwind(|| {
        let mut t = Box::pin(timeout(ms(1), std::future::pending::<()>()));
        let waker = noop_waker();
        let _ = t.as_mut().poll(&mut Context::from_waker(&waker));
    })
    .unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("outside a corral runtime"), "{msg}");
    assert!(msg.contains("block_on"), "{msg}");
}

#[test]
fn timeout_can_be_spawned_on_multi_thread() {
    run_with_timeout("timeout_spawned_multi", 20, || {
        let rt = multi(2);
        let r = rt.block_on(async { corral::spawn(timeout(ms(1), async { 4 })).await.unwrap() });
        assert_eq!(r, Ok(4));
    });
}
