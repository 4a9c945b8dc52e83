//! `wait::is_running_on_another_worker`, the query behind the Mutex's
//! adaptive spin: a task being polled on another worker is running; one
//! that waits, or has finished, is not; the caller's own task is not
//! counted; and off a worker of a multi-worker runtime (a plain thread,
//! `block_on`, a current-thread or one-worker runtime) the answer is
//! always false.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use corral::task::Id;
use corral_runtime::wait::is_running_on_another_worker;

#[allow(dead_code)]
mod common;
use common::{current, multi, run_with_timeout};

/// Busy-waits (no `.await`) until `flag` is set, for at most 5 s.
fn busy_until(flag: &AtomicBool) {
    let start = Instant::now();
    while !flag.load(SeqCst) && start.elapsed() < Duration::from_secs(5) {
        std::hint::spin_loop();
    }
}

/// Yields until `cond` holds, failing after 5 s.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(5), "{what}: not within 5 s");
        corral::yield_now().await;
    }
}

#[test]
fn a_task_polled_on_the_other_worker_is_running_until_it_waits() {
    run_with_timeout("running_query", 60, || {
        let rt = multi(2);
        let started = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let busy = rt.spawn({
            let (started, stop) = (started.clone(), stop.clone());
            async move {
                started.store(true, SeqCst);
                // Polled all the while, on one worker.
                busy_until(&stop);
                // Then waits: not running any more.
                std::future::pending::<()>().await;
            }
        });
        let busy_id = busy.id();
        let observer = rt.spawn({
            let (started, stop) = (started.clone(), stop.clone());
            async move {
                // The busy task's worker is taken: this runs on the other.
                until("the busy task started", || started.load(SeqCst)).await;
                assert!(is_running_on_another_worker(busy_id), "a busy task is running");
                // Its own task does not count.
                let me = corral::task::try_id().unwrap();
                assert!(!is_running_on_another_worker(me));
                stop.store(true, SeqCst);
                until("the busy task parked", || !is_running_on_another_worker(busy_id)).await;
            }
        });
        rt.block_on(observer).unwrap();
        // Still not running while it waits (it has not been woken).
        let check = rt.spawn(async move { is_running_on_another_worker(busy_id) });
        assert!(!rt.block_on(check).unwrap());
        busy.abort();
        assert!(rt.block_on(busy).unwrap_err().is_cancelled());
    });
}

#[test]
fn off_a_worker_of_a_multi_worker_runtime_the_answer_is_false() {
    run_with_timeout("running_query_off_worker", 60, || {
        let rt = multi(2);
        let stop = Arc::new(AtomicBool::new(false));
        let id = Arc::new(OnceLock::<Id>::new());
        let busy = rt.spawn({
            let (stop, id) = (stop.clone(), id.clone());
            async move {
                id.set(corral::task::try_id().unwrap()).unwrap();
                busy_until(&stop);
            }
        });
        while id.get().is_none() {
            std::thread::yield_now();
        }
        let busy_id = *id.get().unwrap();
        // A plain thread, `block_on`, and `run_sync`'s thread: not workers.
        assert!(!is_running_on_another_worker(busy_id));
        assert!(!rt.block_on(async move { is_running_on_another_worker(busy_id) }));
        let from_run_sync = rt
            .handle()
            .run_sync(move || is_running_on_another_worker(busy_id));
        assert!(!rt.block_on(from_run_sync).unwrap());
        // ...while a task on the other worker does see it.
        let from_worker = rt.spawn(async move { is_running_on_another_worker(busy_id) });
        assert!(rt.block_on(from_worker).unwrap());
        stop.store(true, SeqCst);
        rt.block_on(busy).unwrap();

        // A current-thread runtime and a one-worker runtime: only one task
        // runs at a time, the caller's own, which does not count.
        let ct = current();
        ct.block_on(async {
            let other = corral::spawn(async {});
            let other_id = other.id();
            assert!(!is_running_on_another_worker(other_id));
            corral::spawn(async move { assert!(!is_running_on_another_worker(other_id)) })
                .await
                .unwrap();
            other.await.unwrap();
        });
        let one = multi(1);
        let mine = one.spawn(async { is_running_on_another_worker(corral::task::try_id().unwrap()) });
        assert!(!one.block_on(mine).unwrap());
    });
}
