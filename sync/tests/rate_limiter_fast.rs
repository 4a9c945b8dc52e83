//! RateLimiter on the real clock, hammered from several tasks and threads:
//! no span of `period` may hold more than `max_calls` admissions, whether
//! they went through the clock-free fast path (a limiter far from full) or
//! waited. Each call's admission is bracketed by clock readings taken just
//! before the call and just after it returned; a window is in violation
//! only if more than `max_calls` calls lie *entirely* inside it, so a
//! loaded machine can never fail the test falsely.

#[allow(dead_code)]
mod common;

use common::{multi, run_with_timeout, stress};
use corral::sync::RateLimiter;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The largest number of calls whose `[before, after]` lies inside one
/// span of `period` (a lower bound on the true admissions in that span).
fn most_in_any_window(mut calls: Vec<(Instant, Instant)>, period: Duration) -> usize {
    calls.sort();
    let mut most = 0;
    for (i, &(start, _)) in calls.iter().enumerate() {
        let end = start + period;
        let inside = calls[i..]
            .iter()
            .take_while(|(b, _)| *b < end)
            .filter(|(_, e)| *e < end)
            .count();
        most = most.max(inside);
    }
    most
}

fn hammer(max_calls: usize, period: Duration, tasks: usize, per_task: usize) -> (usize, Duration) {
    let rt = multi(2);
    let limiter = Arc::new(RateLimiter::new(max_calls, period));
    let calls = Arc::new(Mutex::new(Vec::with_capacity(tasks * per_task)));
    let started = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let limiter = limiter.clone();
                let calls = calls.clone();
                corral::spawn(async move {
                    let mut mine = Vec::with_capacity(per_task);
                    for _ in 0..per_task {
                        let before = Instant::now();
                        limiter.acquire().await.unwrap();
                        mine.push((before, Instant::now()));
                    }
                    calls.lock().unwrap().extend(mine);
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let elapsed = started.elapsed();
    let calls = std::mem::take(&mut *calls.lock().unwrap());
    assert_eq!(calls.len(), tasks * per_task);
    (most_in_any_window(calls, period), elapsed)
}

/// A limiter large enough for the fast path (its window far from full at
/// first), driven past its limit: the last calls must wait.
#[test]
fn no_window_holds_more_than_max_calls_fast_path_then_limited() {
    let per_task = (stress() * 5).max(500);
    run_with_timeout("window", 120, move || {
        let (max_calls, period) = (1_000, Duration::from_millis(40));
        let tasks = 4;
        let (most, elapsed) = hammer(max_calls, period, tasks, per_task);
        assert!(
            most <= max_calls,
            "{most} admissions in one window of {period:?} (max {max_calls})"
        );
        // The limit did bind: 4 x per_task calls need several windows.
        let windows = (tasks * per_task - 1) / max_calls;
        assert!(
            elapsed >= period * windows as u32,
            "{} calls went in {elapsed:?}, faster than {max_calls} per {period:?} allows",
            tasks * per_task
        );
    });
}

/// Bursts separated by idle gaps (the pattern where fast admissions are
/// recorded late): still never more than `max_calls` in a window.
#[test]
fn bursts_with_idle_gaps_stay_within_the_limit() {
    run_with_timeout("bursts", 120, || {
        let rt = multi(2);
        let (max_calls, period) = (512, Duration::from_millis(30));
        let limiter = Arc::new(RateLimiter::new(max_calls, period));
        let calls = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            for burst in 0..12u64 {
                let handles: Vec<_> = (0..3)
                    .map(|_| {
                        let limiter = limiter.clone();
                        let calls = calls.clone();
                        corral::spawn(async move {
                            let mut mine = Vec::new();
                            for _ in 0..200 {
                                let before = Instant::now();
                                limiter.acquire().await.unwrap();
                                mine.push((before, Instant::now()));
                            }
                            calls.lock().unwrap().extend(mine);
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
                corral::time::sleep(Duration::from_millis(burst % 4 * 7)).await;
            }
        });
        let calls = std::mem::take(&mut *calls.lock().unwrap());
        let most = most_in_any_window(calls, period);
        assert!(
            most <= max_calls,
            "{most} admissions in one window of {period:?} (max {max_calls})"
        );
    });
}

/// Plain threads and tasks together, through `blocking_acquire`,
/// `try_acquire` and `acquire`.
#[test]
fn threads_and_tasks_together_stay_within_the_limit() {
    run_with_timeout("mixed", 120, || {
        let (max_calls, period) = (600, Duration::from_millis(30));
        let limiter = Arc::new(RateLimiter::new(max_calls, period));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let limiter = limiter.clone();
                let calls = calls.clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    let mut done = 0;
                    while done < 700 {
                        let before = Instant::now();
                        if t == 0 {
                            if limiter.try_acquire().is_err() {
                                std::thread::yield_now();
                                continue;
                            }
                        } else {
                            limiter.blocking_acquire().unwrap();
                        }
                        mine.push((before, Instant::now()));
                        done += 1;
                    }
                    calls.lock().unwrap().extend(mine);
                })
            })
            .collect();
        let rt = multi(2);
        rt.block_on(async {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let limiter = limiter.clone();
                    let calls = calls.clone();
                    corral::spawn(async move {
                        let mut mine = Vec::new();
                        for _ in 0..700 {
                            let before = Instant::now();
                            limiter.acquire().await.unwrap();
                            mine.push((before, Instant::now()));
                        }
                        calls.lock().unwrap().extend(mine);
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        let calls = std::mem::take(&mut *calls.lock().unwrap());
        assert_eq!(calls.len(), 5 * 700);
        let most = most_in_any_window(calls, period);
        assert!(
            most <= max_calls,
            "{most} admissions in one window of {period:?} (max {max_calls})"
        );
    });
}

/// Takes calls with `try_acquire_many` (1 to 3 at a time) until the limiter
/// refuses, then single calls until it refuses again; returns the calls
/// admitted.
fn take_until_full(limiter: &RateLimiter, seed: usize) -> usize {
    let mut admitted = 0;
    let mut i = seed;
    loop {
        let n = 1 + i % 3;
        i += 1;
        if limiter.try_acquire_many(n).is_err() {
            break;
        }
        admitted += n;
    }
    while limiter.try_acquire().is_ok() {
        admitted += 1;
    }
    admitted
}

/// The fast path's credit is spread over per-thread shards: many threads
/// and tasks on two workers, each taking from its own shard, and every
/// refill revoking and re-splitting the credit. With a window of an hour
/// nothing leaves it during the test, so the count is exact: once every
/// caller has been refused a single call, exactly `max_calls` went, not
/// one more (a shard whose takes were not collected would show up here),
/// and the statistics say the window is full.
#[test]
fn credit_spread_over_threads_never_over_admits() {
    let rounds = (stress() / 20).max(5);
    run_with_timeout("shards", 120, move || {
        let rt = multi(2);
        for round in 0..rounds {
            // Large enough that every shard gets credit at first; uneven,
            // so that the last grants are small and go to one shard.
            let max_calls = 3_000 + 37 * round;
            let limiter = Arc::new(RateLimiter::new(max_calls, Duration::from_secs(3600)));
            let start = Arc::new(std::sync::Barrier::new(6));
            let threads: Vec<_> = (0..6)
                .map(|t| {
                    let limiter = limiter.clone();
                    let start = start.clone();
                    std::thread::spawn(move || {
                        start.wait();
                        take_until_full(&limiter, t)
                    })
                })
                .collect();
            let from_tasks: usize = rt.block_on(async {
                let handles: Vec<_> = (0..4)
                    .map(|t| {
                        let limiter = limiter.clone();
                        corral::spawn(async move {
                            let mut admitted = 0;
                            // Interleave with the other task on this
                            // worker between takes.
                            loop {
                                let got = take_until_full(&limiter, t);
                                admitted += got;
                                if got == 0 {
                                    break admitted;
                                }
                                corral::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                let mut sum = 0;
                for h in handles {
                    sum += h.await.unwrap();
                }
                sum
            });
            let from_threads: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(
                from_threads + from_tasks,
                max_calls,
                "round {round}: {from_threads} calls from threads + {from_tasks} from tasks went, max {max_calls}"
            );
            let stats = limiter.statistics();
            assert_eq!(
                (stats.calls_in_window, stats.available),
                (max_calls, 0),
                "round {round}"
            );
            assert!(limiter.try_acquire().is_err());
        }
    });
}
