//! The Mutex's adaptive spin, seen from outside: a locker that finds the
//! lock held by a task running on the other worker waits a moment for it
//! instead of queueing. On a file of its own so that it runs alone: it
//! needs both worker threads on the two CPUs at once, which a test running
//! beside it in the same binary would make rare.

use std::sync::Arc;
use std::time::Duration;

#[allow(dead_code)]
mod common;
use common::{count_polls, multi, run_with_timeout};
use corral::sync::Mutex;

/// Busy-waits (a running task, not an `.await`) until `flag` is set, for
/// at most 5 s.
fn busy_until(flag: &std::sync::atomic::AtomicBool) {
    let start = std::time::Instant::now();
    while !flag.load(std::sync::atomic::Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
        std::hint::spin_loop();
    }
}

/// Busy-waits (a running task, not an `.await`) beside another task doing
/// the same on the other worker until both have seen each other make
/// progress within a few microseconds, three times in a row: proof that
/// the two worker threads are on two CPUs at once (the OS may first have
/// put both on one; it moves one within a few ms). False if that did not
/// happen within a second (a machine too loaded to tell).
fn rendezvous(mine: &std::sync::atomic::AtomicU64, theirs: &std::sync::atomic::AtomicU64) -> bool {
    use std::sync::atomic::Ordering::SeqCst;
    let start = std::time::Instant::now();
    let mut in_a_row = 0;
    while in_a_row < 3 && start.elapsed() < Duration::from_secs(1) {
        let before = theirs.load(SeqCst);
        let window = std::time::Instant::now();
        while window.elapsed() < Duration::from_micros(5) {
            mine.fetch_add(1, SeqCst);
        }
        in_a_row = if theirs.load(SeqCst) >= before + 10 {
            in_a_row + 1
        } else {
            0
        };
    }
    // Keep the other side's window counting until it is done too.
    let window = std::time::Instant::now();
    while window.elapsed() < Duration::from_micros(20) {
        mine.fetch_add(1, SeqCst);
    }
    in_a_row == 3
}

/// A locker that finds the lock held by a task running on the other
/// worker, with nobody queued, waits for it a moment instead of queueing:
/// the holder releases as soon as the locker queued, or 10 µs after it
/// started (long enough for a locker to queue, well inside the spin: see
/// `RawMutex`'s module docs). Before the spin the locker queued and was
/// handed the lock on its second poll. The two
/// tasks first make sure that both worker threads run at once (on a
/// loaded machine the OS may run both on one CPU, and a holder whose
/// thread is descheduled looks running to the runtime); a trial where the
/// OS still preempts the holder at the wrong moment queues, so the test
/// asks for most trials, not all (and counts only the trials where the
/// two workers were seen running at once).
#[test]
fn a_locker_spins_for_a_holder_running_on_another_worker() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    run_with_timeout("spin_running", 120, || {
        const TRIALS: usize = 40;
        let rt = multi(2);
        let (mut met, mut without_queueing) = (0, 0);
        for _ in 0..TRIALS {
            let m = Arc::new(Mutex::new(0u32));
            let beats = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
            let locking = Arc::new(AtomicBool::new(false));
            let holder = rt.spawn({
                let (m, beats, locking) = (m.clone(), beats.clone(), locking.clone());
                async move {
                    let mut g = m.lock().await;
                    // Running (not awaiting) all the while it holds.
                    let _ = rendezvous(&beats[0], &beats[1]);
                    busy_until(&locking);
                    // Release once the locker queued, or after 10 µs
                    // (inside its spin; a locker queues within about a
                    // microsecond of work).
                    let t = std::time::Instant::now();
                    while m.statistics().tasks_waiting == 0 && t.elapsed() < Duration::from_micros(10) {
                        std::hint::spin_loop();
                    }
                    *g += 1;
                }
            });
            let locker = rt.spawn({
                let m = m.clone();
                async move {
                    // The holder's worker is busy: this runs on the other.
                    let met = rendezvous(&beats[1], &beats[0]);
                    locking.store(true, SeqCst);
                    let (g, polls) = count_polls(m.lock()).await;
                    assert_eq!(*g, 1, "the lock is ours only after the holder's write");
                    (met, polls)
                }
            });
            match rt.block_on(locker).unwrap() {
                (false, _) => {}
                (true, 1) => {
                    met += 1;
                    without_queueing += 1;
                }
                (true, _) => met += 1,
            }
            rt.block_on(holder).unwrap();
            assert_eq!(m.statistics().tasks_waiting, 0);
        }
        assert!(
            met >= TRIALS / 4,
            "the two workers ran at once in only {met} of {TRIALS} trials"
        );
        assert!(
            without_queueing >= met / 2,
            "the locker queued behind a running holder in {} of {met} trials",
            met - without_queueing
        );
    });
}
