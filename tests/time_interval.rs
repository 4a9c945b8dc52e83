//! `corral::time::{interval, interval_at, Interval, MissedTickBehavior}`.

use std::future::Future;
use std::panic;
use std::time::{Duration, Instant as StdInstant};

use corral_runtime::time::{self, interval, interval_at, timeout, Instant, MissedTickBehavior};

#[allow(dead_code)]
mod common;
use common::{current, ms, multi, panic_message, paused, run_with_timeout, SLACK};

// ---- first tick, spacing ---------------------------------------------------

#[test]
fn first_tick_is_immediate_paused() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let mut i = interval(ms(10));
        assert_eq!(i.tick().await, start);
        assert_eq!(time::current_time(), start, "first tick waited");
        assert_eq!(i.tick().await, start + ms(10));
        assert_eq!(time::current_time(), start + ms(10));
    });
}

#[test]
fn first_tick_is_immediate_real_clock() {
    let rt = current();
    rt.block_on(async {
        let real = StdInstant::now();
        let mut i = interval(Duration::from_secs(3600));
        let first = i.tick().await;
        assert!(first <= Instant::now());
        assert!(real.elapsed() < SLACK);
    });
}

async fn check_spacing(period: Duration, n: usize) {
    let mut i = interval(period);
    let std_start = StdInstant::now();
    let first = i.tick().await;
    let mut prev = first;
    for k in 1..n {
        let t = i.tick().await;
        // Burst schedule: exactly one period after the previous tick...
        assert_eq!(t - prev, period);
        // ...and never delivered before its time.
        assert!(time::current_time() >= t, "tick {k} delivered early");
        prev = t;
    }
    let total = std_start.elapsed();
    let min = period * (n as u32 - 1);
    assert!(total >= min, "{n} ticks of {period:?} took only {total:?}");
    assert!(total < min + SLACK * 2, "{n} ticks of {period:?} took {total:?}");
}

#[test]
fn ticks_are_spaced_at_least_a_period_current_thread() {
    run_with_timeout("spacing_current", 20, || {
        let rt = current();
        rt.block_on(check_spacing(ms(15), 6));
        rt.block_on(rt.spawn(check_spacing(ms(7), 6))).unwrap();
    });
}

#[test]
fn ticks_are_spaced_at_least_a_period_multi_thread() {
    run_with_timeout("spacing_multi", 20, || {
        let rt = multi(2);
        rt.block_on(check_spacing(ms(15), 6));
        let a = rt.spawn(check_spacing(ms(7), 6));
        let b = rt.spawn(check_spacing(ms(11), 5));
        rt.block_on(a).unwrap();
        rt.block_on(b).unwrap();
    });
}

#[test]
fn interval_at_starts_at_the_given_instant() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let mut i = interval_at(start + ms(50), ms(10));
        assert_eq!(i.tick().await, start + ms(50));
        assert_eq!(time::current_time(), start + ms(50));
        assert_eq!(i.tick().await, start + ms(60));
        assert_eq!(time::current_time(), start + ms(60));
        // A start in the past ticks at once, on the old schedule.
        let mut j = interval_at(start, ms(25));
        assert_eq!(j.tick().await, start);
        assert_eq!(j.tick().await, start + ms(25));
        assert_eq!(j.tick().await, start + ms(50));
        assert_eq!(time::current_time(), start + ms(60));
    });
}

// ---- missed ticks ----------------------------------------------------------------

#[test]
fn missed_tick_behavior_default_is_burst() {
    let rt = current();
    rt.block_on(async {
        let mut i = interval(ms(10));
        assert_eq!(i.missed_tick_behavior(), MissedTickBehavior::Burst);
        assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        assert_eq!(i.missed_tick_behavior(), MissedTickBehavior::Delay);
        assert_eq!(i.period(), ms(10));
        assert!(format!("{i:?}").contains("Delay"));
    });
}

/// interval(10 ms) on a paused clock; the task is "busy" for 35 ms after
/// the first tick. Returns the start.
async fn blocked_interval(behavior: MissedTickBehavior) -> (Instant, time::Interval) {
    let start = time::current_time();
    let mut i = interval(ms(10));
    i.set_missed_tick_behavior(behavior);
    assert_eq!(i.tick().await, start);
    time::advance(ms(35)).await;
    assert_eq!(time::current_time(), start + ms(35));
    (start, i)
}

#[test]
fn burst_fires_missed_ticks_back_to_back() {
    let rt = paused();
    rt.block_on(async {
        let (start, mut i) = blocked_interval(MissedTickBehavior::Burst).await;
        // The three missed ticks, at once, with their scheduled times.
        for k in 1..=3 {
            assert_eq!(i.tick().await, start + ms(10 * k));
            assert_eq!(time::current_time(), start + ms(35), "burst tick {k} waited");
        }
        // Then back on the original schedule.
        assert_eq!(i.tick().await, start + ms(40));
        assert_eq!(time::current_time(), start + ms(40));
        assert_eq!(i.tick().await, start + ms(50));
        assert_eq!(time::current_time(), start + ms(50));
    });
}

#[test]
fn delay_restarts_the_schedule_from_the_late_tick() {
    let rt = paused();
    rt.block_on(async {
        let (start, mut i) = blocked_interval(MissedTickBehavior::Delay).await;
        // The late tick comes at once (reporting its scheduled time)...
        assert_eq!(i.tick().await, start + ms(10));
        assert_eq!(time::current_time(), start + ms(35));
        // ...and the next is a full period after it was delivered.
        assert_eq!(i.tick().await, start + ms(45));
        assert_eq!(time::current_time(), start + ms(45));
        assert_eq!(i.tick().await, start + ms(55));
        assert_eq!(time::current_time(), start + ms(55));
    });
}

#[test]
fn skip_drops_missed_ticks_and_keeps_the_schedule() {
    let rt = paused();
    rt.block_on(async {
        let (start, mut i) = blocked_interval(MissedTickBehavior::Skip).await;
        assert_eq!(i.tick().await, start + ms(10));
        assert_eq!(time::current_time(), start + ms(35));
        // 20 and 30 are dropped; the next multiple of the period is 40.
        assert_eq!(i.tick().await, start + ms(40));
        assert_eq!(time::current_time(), start + ms(40));
        assert_eq!(i.tick().await, start + ms(50));
        assert_eq!(time::current_time(), start + ms(50));
    });
}

#[test]
fn skip_after_a_long_stall() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let mut i = interval(Duration::from_secs(1));
        i.set_missed_tick_behavior(MissedTickBehavior::Skip);
        assert_eq!(i.tick().await, start);
        time::advance(Duration::from_secs(3600) + ms(500)).await;
        assert_eq!(i.tick().await, start + Duration::from_secs(1));
        assert_eq!(i.tick().await, start + Duration::from_secs(3601));
        assert_eq!(time::current_time(), start + Duration::from_secs(3601));
    });
}

// ---- reset, cancel safety, misuse -------------------------------------------------

#[test]
fn reset_restarts_one_period_from_now() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let mut i = interval(ms(10));
        assert_eq!(i.tick().await, start);
        time::advance(ms(5)).await;
        i.reset();
        assert_eq!(i.tick().await, start + ms(15));
        assert_eq!(time::current_time(), start + ms(15));
        assert_eq!(i.tick().await, start + ms(25));
        // Reset while a tick is registered in the wheel (the timed-out
        // `tick()` polled it) moves it too.
        assert!(timeout(ms(3), i.tick()).await.is_err());
        assert_eq!(time::current_time(), start + ms(28));
        i.reset();
        assert_eq!(i.tick().await, start + ms(38));
        assert_eq!(time::current_time(), start + ms(38));
    });
}

#[test]
fn dropped_tick_consumes_nothing() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let mut i = interval(ms(10));
        assert_eq!(i.tick().await, start);
        assert!(timeout(ms(4), i.tick()).await.is_err());
        assert!(timeout(ms(4), i.tick()).await.is_err());
        assert_eq!(i.tick().await, start + ms(10));
        assert_eq!(time::current_time(), start + ms(10));
    });
}

#[test]
fn zero_period_panics() {
    let rt = current();
    rt.block_on(async {
        let err = panic::catch_unwind(|| drop(interval(Duration::ZERO))).unwrap_err();
        let msg = panic_message(err);
        assert!(msg.contains("period must be non-zero"), "{msg}");
        let err = panic::catch_unwind(|| drop(interval_at(Instant::now(), Duration::ZERO))).unwrap_err();
        assert!(panic_message(err).contains("non-zero"));
    });
}

#[test]
fn interval_outside_a_runtime_panics() {
    // At creation or at the first tick.
    let err = panic::catch_unwind(|| {
        let mut i = interval(ms(1));
        let mut tick = Box::pin(i.tick());
        let waker = std::task::Waker::noop();
        let _ = tick.as_mut().poll(&mut std::task::Context::from_waker(waker));
    })
    .unwrap_err();
    let msg = panic_message(err);
    assert!(msg.contains("outside a corral runtime"), "{msg}");
}

#[test]
fn many_intervals_paused_clock_stay_exact() {
    run_with_timeout("many_intervals_paused", 20, || {
        let rt = paused();
        let real = StdInstant::now();
        rt.block_on(async {
            let start = time::current_time();
            let tasks: Vec<_> = (1..=20u64)
                .map(|p| {
                    corral::spawn(async move {
                        let mut i = interval(ms(p));
                        for k in 0..50u64 {
                            let t = i.tick().await;
                            assert_eq!(t, start + ms(p * k));
                            assert_eq!(time::current_time(), t, "period {p} tick {k}");
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(time::current_time(), start + ms(20 * 49));
        });
        assert!(real.elapsed() < Duration::from_secs(5));
    });
}

// ---- huge periods saturate instead of overflowing (issue 8) ---------------------

#[test]
fn interval_of_duration_max_does_not_overflow() {
    for behavior in [
        MissedTickBehavior::Burst,
        MissedTickBehavior::Delay,
        MissedTickBehavior::Skip,
    ] {
        let rt = paused();
        rt.block_on(async {
            let start = time::current_time();
            let mut i = interval(Duration::MAX);
            i.set_missed_tick_behavior(behavior);
            assert_eq!(i.tick().await, start);
            // The next tick is "never": a timeout wins, nothing panics.
            assert!(timeout(ms(10), i.tick()).await.is_err(), "{behavior:?}");
            time::advance(Duration::from_secs(3600)).await;
            assert!(timeout(ms(10), i.tick()).await.is_err(), "{behavior:?}");
        });
    }
}

#[test]
fn interval_at_with_a_huge_period_does_not_overflow() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time() + ms(5);
        let mut i = interval_at(start, Duration::MAX - Duration::from_secs(1));
        assert_eq!(i.tick().await, start);
        assert!(timeout(ms(10), i.tick()).await.is_err());
    });
}

#[test]
fn reset_with_a_huge_period_does_not_overflow() {
    let rt = paused();
    rt.block_on(async {
        let mut i = interval(Duration::MAX);
        i.tick().await;
        i.reset();
        assert!(timeout(ms(10), i.tick()).await.is_err());
        i.reset_after(Duration::MAX);
        assert!(timeout(ms(10), i.tick()).await.is_err());
        // reset_immediately ticks at once, then waits "forever" again.
        i.reset_immediately();
        let now = time::current_time();
        assert_eq!(i.tick().await, now);
        assert!(timeout(ms(10), i.tick()).await.is_err());
    });
}

#[test]
fn skip_with_a_huge_period_after_a_stall_does_not_overflow() {
    let rt = paused();
    rt.block_on(async {
        // Beyond what an Instant can hold one period ahead.
        let period = Duration::from_secs(u64::MAX / 2);
        let start = time::current_time();
        let mut i = interval_at(start, period);
        i.set_missed_tick_behavior(MissedTickBehavior::Skip);
        assert_eq!(i.tick().await, start);
        time::advance(Duration::from_secs(3600)).await;
        assert!(timeout(ms(10), i.tick()).await.is_err());
    });
}

// ---- Delay: a full period after a late tick (issue 8) ---------------------------

#[test]
fn delay_waits_a_full_period_after_a_slightly_late_tick() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let mut i = interval(ms(100));
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        assert_eq!(i.tick().await, start);
        // Busy until 30 ms after the second tick was due.
        time::advance(ms(130)).await;
        assert_eq!(i.tick().await, start + ms(100));
        // The third tick: 100 ms after the late tick was taken, not at 200.
        assert_eq!(i.tick().await, start + ms(230));
        assert_eq!(time::current_time(), start + ms(230));
        assert_eq!(i.tick().await, start + ms(330));
    });
}

#[test]
fn reset_at_and_reset_after_move_the_next_tick() {
    let rt = paused();
    rt.block_on(async {
        let start = time::current_time();
        let mut i = interval(ms(10));
        assert_eq!(i.tick().await, start);
        i.reset_after(ms(3));
        assert_eq!(i.tick().await, start + ms(3));
        assert_eq!(i.tick().await, start + ms(13));
        i.reset_at(start + ms(50));
        assert_eq!(i.tick().await, start + ms(50));
        assert_eq!(time::current_time(), start + ms(50));
        assert_eq!(i.tick().await, start + ms(60));
    });
}
