//! RateLimiter: window and bucket semantics with exact admission times on
//! the paused clock, FIFO, acquire_many, every error, cancellation of the
//! turn holder and of queued waiters, OS threads, foreign executors, and a
//! random-cancellation stress test (`CORRAL_STRESS` = rounds, default 200).

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{foreign_block_on, multi, poll_once, run_with_timeout, stress, Rng};
use corral::sync::{
    BlockingRateLimitError, RateLimitError, RateLimiter, RateLimiterConfigError, TryRateLimitError,
};
use corral::time::{advance, current_time, sleep, timeout, Instant};
use std::pin::pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `f` on a current-thread runtime with a paused clock (timers jump),
/// under a watchdog.
fn paused<F, Fut>(name: &str, f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    run_with_timeout(name, 30, move || {
        corral::Builder::new_current_thread()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(f());
    });
}

/// Lets every runnable task on a current-thread runtime run.
async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

/// `n` tasks spawned in order, each acquiring `calls` calls once and
/// recording (its index, admission time since `t0`).
fn spawn_callers(
    limiter: &Arc<RateLimiter>,
    n: usize,
    calls: usize,
    t0: Instant,
    log: &Arc<StdMutex<Vec<(usize, Duration)>>>,
) -> Vec<corral::task::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let (limiter, log) = (limiter.clone(), log.clone());
            corral::spawn(async move {
                limiter.acquire_many(calls).await.unwrap();
                log.lock().unwrap().push((i, current_time() - t0));
            })
        })
        .collect()
}

#[test]
fn three_calls_per_half_second_calls_4_and_5_wait() {
    paused("window_3_per_500", || async {
        let limiter = RateLimiter::new(3, ms(500));
        let t0 = current_time();
        let mut at = Vec::new();
        for _ in 0..5 {
            limiter.acquire().await.unwrap();
            at.push(current_time() - t0);
        }
        assert_eq!(at, [ms(0), ms(0), ms(0), ms(500), ms(500)]);
        // The sixth goes with them (the third is 0.5 s old); the seventh
        // waits for the fourth to be.
        limiter.acquire().await.unwrap();
        assert_eq!(current_time() - t0, ms(500));
        limiter.acquire().await.unwrap();
        assert_eq!(current_time() - t0, ms(1000));
    });
}

#[test]
fn window_admission_times_are_exact_for_concurrent_tasks() {
    paused("window_exact", || async {
        let limiter = Arc::new(RateLimiter::new(2, ms(100)));
        let t0 = current_time();
        let log = Arc::new(StdMutex::new(Vec::new()));
        for t in spawn_callers(&limiter, 7, 1, t0, &log) {
            t.await.unwrap();
        }
        let times: Vec<_> = log.lock().unwrap().iter().map(|&(_, t)| t).collect();
        assert_eq!(times, [0, 0, 100, 100, 200, 200, 300].map(ms));
        // The window slides: a call at 350 waits for the one at 300.
        sleep(ms(50)).await;
        limiter.acquire().await.unwrap();
        limiter.acquire().await.unwrap();
        assert_eq!(current_time() - t0, ms(400));
    });
}

#[test]
fn token_bucket_bursts_then_spaces_calls() {
    paused("bucket_exact", || async {
        // 10 tokens per second, burst 3.
        let limiter = Arc::new(RateLimiter::token_bucket(10.0, 3));
        let t0 = current_time();
        let log = Arc::new(StdMutex::new(Vec::new()));
        for t in spawn_callers(&limiter, 7, 1, t0, &log) {
            t.await.unwrap();
        }
        let times: Vec<_> = log.lock().unwrap().iter().map(|&(_, t)| t).collect();
        assert_eq!(times, [0, 0, 0, 100, 200, 300, 400].map(ms));
        // Idle for a second: the bucket refills to 3, no more.
        sleep(ms(1000)).await;
        assert_eq!(limiter.statistics().available, 3);
        limiter.acquire_many(3).await.unwrap();
        let t1 = current_time();
        limiter.acquire_many(2).await.unwrap();
        assert_eq!(current_time() - t1, ms(200));
        // Fractional rates: one token every 2.5 s.
        let slow = RateLimiter::token_bucket(0.4, 1);
        slow.acquire().await.unwrap();
        let t2 = current_time();
        slow.acquire().await.unwrap();
        assert_eq!(current_time() - t2, ms(2500));
    });
}

#[test]
fn waiters_are_admitted_in_fifo_order() {
    paused("fifo", || async {
        let limiter = Arc::new(RateLimiter::new(1, ms(10)));
        let t0 = current_time();
        limiter.acquire().await.unwrap();
        let log = Arc::new(StdMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..8 {
            // Spawned and run one at a time, so they queue in this order.
            tasks.extend(
                spawn_callers(&limiter, 1, 1, t0, &log)
                    .into_iter()
                    .map(|t| (i, t)),
            );
            settle().await;
        }
        assert_eq!(limiter.statistics().tasks_waiting, 8);
        for (_, t) in tasks {
            t.await.unwrap();
        }
        let log = log.lock().unwrap();
        // spawn_callers numbers each batch from 0; order of admission is
        // the order of the pushes, at 10 ms apart.
        let times: Vec<_> = log.iter().map(|&(_, t)| t).collect();
        assert_eq!(times, (1..=8).map(|k| ms(10 * k)).collect::<Vec<_>>());
        assert_eq!(limiter.statistics().tasks_waiting, 0);
    });
}

#[test]
fn fifo_order_by_identity() {
    paused("fifo_identity", || async {
        let limiter = Arc::new(RateLimiter::new(1, ms(10)));
        limiter.acquire().await.unwrap();
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (limiter, order) = (limiter.clone(), order.clone());
            tasks.push(corral::spawn(async move {
                limiter.acquire().await.unwrap();
                order.lock().unwrap().push(i);
            }));
            settle().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    });
}

#[test]
fn a_large_request_at_the_head_is_not_overtaken() {
    paused("acquire_many_fifo", || async {
        let limiter = Arc::new(RateLimiter::new(4, ms(100)));
        let t0 = current_time();
        limiter.acquire_many(3).await.unwrap();
        let log = Arc::new(StdMutex::new(Vec::new()));
        // A wants the whole window: it waits for all 3 to leave (100 ms).
        let a = spawn_callers(&limiter, 1, 4, t0, &log);
        settle().await;
        // B wants 1, which is free now, but A is first: B goes after A,
        // when A's 4 leave (200 ms).
        let b = spawn_callers(&limiter, 1, 1, t0, &log);
        settle().await;
        assert_eq!(
            limiter.try_acquire().unwrap_err(),
            TryRateLimitError::Limited {
                next_free: t0,
                tasks_waiting: 2
            }
        );
        for t in a.into_iter().chain(b) {
            t.await.unwrap();
        }
        let times: Vec<_> = log.lock().unwrap().iter().map(|&(_, t)| t).collect();
        assert_eq!(times, [ms(100), ms(200)]);
        // Zero calls: at once, even behind others.
        limiter.acquire_many(0).await.unwrap();
        limiter.try_acquire_many(0).unwrap();
    });
}

#[test]
fn every_error() {
    // Construction.
    assert_eq!(
        RateLimiter::try_new(0, ms(1)).unwrap_err(),
        RateLimiterConfigError::ZeroMaxCalls
    );
    assert_eq!(
        RateLimiter::try_new(1, Duration::ZERO).unwrap_err(),
        RateLimiterConfigError::ZeroPeriod
    );
    assert!(matches!(
        RateLimiter::try_new(1, Duration::MAX).unwrap_err(),
        RateLimiterConfigError::PeriodTooLong { .. }
    ));
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            RateLimiter::try_token_bucket(rate, 1).unwrap_err(),
            RateLimiterConfigError::InvalidRate { .. }
        ));
    }
    assert_eq!(
        RateLimiter::try_token_bucket(1.0, 0).unwrap_err(),
        RateLimiterConfigError::ZeroBurst
    );
    for (rate, burst) in [(1e-12, 1), (f64::MIN_POSITIVE, 1), (1.0, usize::MAX)] {
        assert!(matches!(
            RateLimiter::try_token_bucket(rate, burst).unwrap_err(),
            RateLimiterConfigError::PeriodTooLong { .. }
        ));
    }
    // Rates above 10^9 per second run at one token per nanosecond.
    assert!(RateLimiter::try_token_bucket(1e15, 1).is_ok());
    let panic = std::panic::catch_unwind(|| RateLimiter::new(0, ms(1))).unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("max_calls >= 1"), "{msg}");

    // Too many at once: an error, never a hang, on every path.
    let limiter = RateLimiter::new(3, ms(100));
    let too_many = RateLimitError::TooMany { requested: 4, max: 3 };
    assert_eq!(foreign_block_on(limiter.acquire_many(4)), Err(too_many));
    assert_eq!(
        limiter.try_acquire_many(4),
        Err(TryRateLimitError::TooMany { requested: 4, max: 3 })
    );
    assert_eq!(
        limiter.blocking_acquire_many(4),
        Err(BlockingRateLimitError::TooMany { requested: 4, max: 3 })
    );
    let bucket = RateLimiter::token_bucket(1.0, 2);
    assert_eq!(
        foreign_block_on(bucket.acquire_many(3)),
        Err(RateLimitError::TooMany { requested: 3, max: 2 })
    );

    // Limited: says when.
    let limiter = RateLimiter::new(1, Duration::from_secs(60));
    limiter.try_acquire().unwrap();
    let err = limiter.try_acquire().unwrap_err();
    let TryRateLimitError::Limited {
        next_free,
        tasks_waiting: 0,
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(next_free > Instant::now() + Duration::from_secs(59));
    assert!(err.retry_after().unwrap() > Duration::from_secs(59));
    assert_eq!(err.to_string(), "rate limit reached");

    // Timeout: as soon as the slot is known to be too late.
    let start = std::time::Instant::now();
    assert_eq!(
        limiter.blocking_acquire_timeout(ms(50)),
        Err(BlockingRateLimitError::Timeout)
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    // ... and the turn was passed on: nobody is left waiting.
    assert_eq!(limiter.statistics().tasks_waiting, 0);

    // No runtime anywhere: the first call goes, a waiting one fails.
    let lonely = RateLimiter::new(1, Duration::from_secs(60));
    assert_eq!(foreign_block_on(lonely.acquire()), Ok(()));
    assert_eq!(foreign_block_on(lonely.acquire()), Err(RateLimitError::NoRuntime));
    assert_eq!(lonely.statistics().tasks_waiting, 0);
    assert!(RateLimitError::NoRuntime.to_string().contains("no timer"));
}

#[test]
fn cancelling_the_turn_holder_lets_the_next_go_at_the_same_slot() {
    paused("cancel_holder", || async {
        let limiter = Arc::new(RateLimiter::new(1, ms(100)));
        let t0 = current_time();
        limiter.acquire().await.unwrap();
        let log = Arc::new(StdMutex::new(Vec::new()));
        let holder = spawn_callers(&limiter, 1, 1, t0, &log).pop().unwrap();
        settle().await;
        let next = spawn_callers(&limiter, 1, 1, t0, &log).pop().unwrap();
        settle().await;
        assert_eq!(limiter.statistics().tasks_waiting, 2);
        advance(ms(50)).await;
        holder.abort();
        assert!(holder.await.unwrap_err().is_cancelled());
        assert_eq!(limiter.statistics().tasks_waiting, 1);
        next.await.unwrap();
        assert_eq!(*log.lock().unwrap(), [(0, ms(100))]);

        // A lone holder cancelled: the turn is cleared, not leaked.
        let holder = spawn_callers(&limiter, 1, 1, t0, &log).pop().unwrap();
        settle().await;
        holder.abort();
        let _ = holder.await;
        assert_eq!(limiter.statistics().tasks_waiting, 0);
        sleep(ms(100)).await;
        limiter.try_acquire().unwrap();
    });
}

#[test]
fn cancelling_a_queued_waiter_loses_nothing() {
    paused("cancel_queued", || async {
        let limiter = Arc::new(RateLimiter::new(1, ms(100)));
        let t0 = current_time();
        limiter.acquire().await.unwrap();
        let log = Arc::new(StdMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            tasks.push(spawn_callers(&limiter, 1, 1, t0, &log).pop().unwrap());
            settle().await;
        }
        // Cancel the middle one: the third goes at the second's slot.
        let middle = tasks.remove(1);
        middle.abort();
        let _ = middle.await;
        assert_eq!(limiter.statistics().tasks_waiting, 2);
        for t in tasks {
            t.await.unwrap();
        }
        let times: Vec<_> = log.lock().unwrap().iter().map(|&(_, t)| t).collect();
        assert_eq!(times, [ms(100), ms(200)]);
        assert_eq!(limiter.statistics().tasks_waiting, 0);
    });
}

#[test]
fn a_waiter_cancelled_after_being_handed_the_turn_passes_it_on() {
    paused("cancel_notified", || async {
        let limiter = RateLimiter::new(1, ms(100));
        let t0 = current_time();
        limiter.acquire().await.unwrap();
        let mut a = pin!(limiter.acquire());
        let mut b = Box::pin(limiter.acquire()); // boxed, so that drop(b) drops it
        let mut c = pin!(limiter.acquire());
        assert!(poll_once(a.as_mut()).is_pending()); // holder, sleeping to 100
        assert!(poll_once(b.as_mut()).is_pending()); // queued
        assert!(poll_once(c.as_mut()).is_pending()); // queued
        advance(ms(100)).await;
        assert_eq!(poll_once(a.as_mut()), Poll::Ready(Ok(())));
        // A handed the turn to B, which is dropped before it runs.
        assert_eq!(limiter.statistics().tasks_waiting, 2);
        drop(b);
        assert_eq!(limiter.statistics().tasks_waiting, 1);
        // C holds the turn now: its slot is at 200.
        assert!(poll_once(c.as_mut()).is_pending());
        advance(ms(99)).await;
        assert!(poll_once(c.as_mut()).is_pending());
        advance(ms(1)).await;
        assert_eq!(poll_once(c.as_mut()), Poll::Ready(Ok(())));
        assert_eq!(current_time() - t0, ms(200));
        assert_eq!(limiter.statistics().tasks_waiting, 0);
    });
}

#[test]
fn statistics_report_window_waiters_and_next_slot() {
    paused("stats", || async {
        let limiter = Arc::new(RateLimiter::new(3, ms(500)));
        let t0 = current_time();
        let s = limiter.statistics();
        assert_eq!(
            (s.calls_in_window, s.available, s.max_calls, s.tasks_waiting),
            (0, 3, 3, 0)
        );
        assert_eq!(s.next_free_slot, t0);
        assert_eq!(s.created_at.file(), file!());
        limiter.acquire_many(3).await.unwrap();
        let log = Arc::new(StdMutex::new(Vec::new()));
        let waiters = spawn_callers(&limiter, 2, 1, t0, &log);
        settle().await;
        let s = limiter.statistics();
        assert_eq!((s.calls_in_window, s.available, s.tasks_waiting), (3, 0, 2));
        assert_eq!(s.next_free_slot, t0 + ms(500));
        for w in waiters {
            w.await.unwrap();
        }
        let s = limiter.statistics();
        assert_eq!((s.calls_in_window, s.available, s.tasks_waiting), (2, 1, 0));
        // Bucket: tokens spent count as in the window.
        let bucket = RateLimiter::token_bucket(4.0, 2);
        bucket.acquire().await.unwrap();
        let s = bucket.statistics();
        assert_eq!((s.calls_in_window, s.available, s.max_calls), (1, 1, 2));
        assert!(format!("{bucket:?}").contains("RateLimiter"));
    });
}

#[test]
fn os_threads_and_tasks_share_one_limiter() {
    run_with_timeout("threads", 60, || {
        let rt = multi(2);
        let limiter = Arc::new(RateLimiter::new(4, ms(50)));
        let start = std::time::Instant::now();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || {
                    for _ in 0..2 {
                        limiter.blocking_acquire().unwrap();
                        assert!(limiter.statistics().calls_in_window <= 4);
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let limiter = limiter.clone();
                    corral::spawn(async move {
                        for _ in 0..2 {
                            limiter.acquire().await.unwrap();
                            assert!(limiter.statistics().calls_in_window <= 4);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        // 24 calls at 4 per 50 ms: the last waited for 5 windows at least.
        assert!(start.elapsed() >= ms(250), "{:?}", start.elapsed());
        assert_eq!(limiter.statistics().tasks_waiting, 0);
    });
}

#[test]
fn blocking_timeout_in_the_queue_unlinks_the_thread() {
    run_with_timeout("blocking_queue_timeout", 30, || {
        let limiter = Arc::new(RateLimiter::new(1, ms(300)));
        limiter.try_acquire().unwrap();
        // A thread holds the turn (sleeping until 300 ms) ...
        let l = limiter.clone();
        let holder = std::thread::spawn(move || l.blocking_acquire().unwrap());
        while limiter.statistics().tasks_waiting < 1 {
            std::thread::yield_now();
        }
        // ... so this one queues, and gives up after 20 ms in the queue.
        assert_eq!(
            limiter.blocking_acquire_timeout(ms(20)),
            Err(BlockingRateLimitError::Timeout)
        );
        assert_eq!(limiter.statistics().tasks_waiting, 1);
        holder.join().unwrap();
        assert_eq!(limiter.statistics().tasks_waiting, 0);
    });
}

#[test]
fn blocking_acquire_refuses_a_worker_thread() {
    let rt = corral::Builder::new_current_thread().build().unwrap();
    let limiter = RateLimiter::new(1, ms(1));
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { limiter.blocking_acquire() })
    }));
    assert!(refused.is_err());
}

#[test]
fn a_foreign_executor_waits_on_the_home_runtime_timer() {
    run_with_timeout("foreign", 60, || {
        let rt = multi(2);
        // Created inside the runtime: it remembers it.
        let limiter = Arc::new(rt.block_on(async { RateLimiter::new(2, ms(50)) }));
        // A plain thread polling with its own waker, outside any runtime.
        let start = std::time::Instant::now();
        let l = limiter.clone();
        let plain = std::thread::spawn(move || {
            foreign_block_on(async {
                for _ in 0..5 {
                    l.acquire().await.unwrap();
                }
            })
        });
        plain.join().unwrap();
        assert!(start.elapsed() >= ms(100), "{:?}", start.elapsed());

        // Tokio tasks on several threads, mixed with corral tasks.
        let tokio_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let start = std::time::Instant::now();
        let tokio_side: Vec<_> = (0..4)
            .map(|_| {
                let l = limiter.clone();
                tokio_rt.spawn(async move {
                    for _ in 0..2 {
                        l.acquire().await.unwrap();
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let l = limiter.clone();
                    corral::spawn(async move { l.acquire().await.unwrap() })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        tokio_rt.block_on(async {
            for t in tokio_side {
                t.await.unwrap();
            }
        });
        // 10 calls at 2 per 50 ms (the window still holds 2 from above
        // or they left: at least 4 full windows).
        assert!(start.elapsed() >= ms(200), "{:?}", start.elapsed());
        assert_eq!(limiter.statistics().tasks_waiting, 0);
    });
}

#[test]
fn stress_random_cancellation_keeps_the_window() {
    let rounds = stress();
    paused("stress_cancel", move || async move {
        let max_calls = 3;
        let period = ms(100);
        let limiter = Arc::new(RateLimiter::new(max_calls, period));
        let admitted = Arc::new(StdMutex::new(Vec::new()));
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let tasks: Vec<_> = (0..rounds)
            .map(|_| {
                let (limiter, admitted) = (limiter.clone(), admitted.clone());
                let patience = ms(rng.below(400));
                let start_after = ms(rng.below(2000));
                corral::spawn(async move {
                    sleep(start_after).await;
                    if timeout(patience, limiter.acquire()).await.is_ok() {
                        admitted.lock().unwrap().push(current_time());
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let times = admitted.lock().unwrap().clone();
        assert!(times.len() >= max_calls, "too few admitted: {}", times.len());
        // Never more than max_calls in any span of `period`.
        for w in times.windows(max_calls + 1) {
            assert!(w[max_calls] - w[0] >= period, "{:?}", w);
        }
        // Nothing left waiting, no turn leaked.
        assert_eq!(limiter.statistics().tasks_waiting, 0);
        sleep(period).await;
        limiter.try_acquire_many(max_calls).unwrap();
    });
}

#[test]
fn limiter_and_its_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let limiter = RateLimiter::new(1, ms(1));
    send_sync(&limiter);
    send(&limiter.acquire());
    send(&limiter.acquire_many(1));
    send_sync(&limiter.statistics());
    send_sync(&RateLimitError::NoRuntime);
    send_sync(&RateLimiterConfigError::ZeroBurst);
}
