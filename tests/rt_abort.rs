//! `JoinHandle::abort`: idle, queued, running, finished and self-aborting
//! tasks, and panics from the `Drop` of a cancelled future.

use std::panic;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use corral::task::{JoinError, JoinHandle};
use corral::Runtime;

#[allow(dead_code)]
mod common;
use common::{current, multi, panic_text, run_with_timeout, DropCounter, PanicOnDrop};

// ---- helpers -------------------------------------------------------------

fn both() -> [Runtime; 2] {
    [multi(2), current()]
}

fn assert_cancelled<T: std::fmt::Debug>(res: Result<T, JoinError>, id: corral::task::Id) {
    let err = res.expect_err("aborted task returned its output");
    assert!(err.is_cancelled(), "expected Cancelled, got {err:?}");
    assert!(!err.is_panic());
    assert!(matches!(err, JoinError::Cancelled { .. }));
    assert_eq!(err.id(), id);
    let text = err.to_string();
    assert!(
        text.contains(&id.to_string()) && text.contains("cancelled"),
        "{text}"
    );
}

// ---- idle tasks --------------------------------------------------------------

#[test]
fn abort_idle_task_cancels_and_drops_its_future() {
    run_with_timeout("abort_idle", 20, || {
        for rt in both() {
            let drops = Arc::new(AtomicUsize::new(0));
            let (started_tx, started_rx) = futures_channel::oneshot::channel();
            let d = DropCounter(drops.clone());
            let handle = rt.spawn(async move {
                let _d = d;
                started_tx.send(()).unwrap();
                std::future::pending::<()>().await;
                unreachable!()
            });
            let id = handle.id();
            rt.block_on(async { started_rx.await.unwrap() });
            assert_eq!(drops.load(SeqCst), 0);
            handle.abort();
            assert_cancelled(rt.block_on(handle), id);
            assert_eq!(
                drops.load(SeqCst),
                1,
                "the cancelled future was not dropped exactly once"
            );
        }
    });
}

#[test]
fn abort_task_waiting_on_a_channel_drops_the_receiver() {
    run_with_timeout("abort_channel", 20, || {
        for rt in both() {
            let (tx, rx) = futures_channel::oneshot::channel::<u32>();
            let (started_tx, started_rx) = futures_channel::oneshot::channel();
            let handle = rt.spawn(async move {
                started_tx.send(()).unwrap();
                rx.await
            });
            rt.block_on(async { started_rx.await.unwrap() });
            assert!(!tx.is_canceled());
            handle.abort();
            assert!(rt.block_on(handle).unwrap_err().is_cancelled());
            assert!(
                tx.is_canceled(),
                "receiver still alive after the task was cancelled"
            );
            assert_eq!(tx.send(1), Err(1));
        }
    });
}

#[test]
fn abort_before_first_poll_never_polls_the_future() {
    // Current-thread: nothing runs until block_on, so the task is queued.
    let rt = current();
    let polled = Arc::new(AtomicBool::new(false));
    let drops = Arc::new(AtomicUsize::new(0));
    let (p, d) = (polled.clone(), DropCounter(drops.clone()));
    let handle = rt.spawn(async move {
        let _d = d;
        p.store(true, SeqCst);
    });
    let id = handle.id();
    handle.abort();
    handle.abort(); // twice is harmless
    assert_cancelled(rt.block_on(handle), id);
    assert!(!polled.load(SeqCst), "an aborted queued task was polled");
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn abort_from_another_thread() {
    run_with_timeout("abort_other_thread", 20, || {
        let rt = multi(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let d = DropCounter(drops.clone());
        let (started_tx, started_rx) = mpsc::channel();
        let handle = rt.spawn(async move {
            let _d = d;
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        thread::scope(|s| {
            // JoinHandle is Sync: abort through a shared reference.
            s.spawn(|| handle.abort());
            s.spawn(|| handle.abort());
        });
        let id = handle.id();
        assert_cancelled(rt.block_on(handle), id);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

// ---- running tasks -------------------------------------------------------------

#[test]
fn abort_running_task_cancels_it_after_its_poll() {
    run_with_timeout("abort_running", 20, || {
        let rt = multi(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let aborted = Arc::new(AtomicBool::new(false));
        let after_yield = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel();
        let (d, ab, ay) = (DropCounter(drops.clone()), aborted.clone(), after_yield.clone());
        let handle = rt.spawn(async move {
            let _d = d;
            started_tx.send(()).unwrap();
            // Stay inside this poll until abort() has been called on us.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !ab.load(SeqCst) {
                assert!(Instant::now() < deadline, "abort flag never set");
                std::hint::spin_loop();
            }
            loop {
                corral::yield_now().await;
                ay.store(true, SeqCst);
            }
        });
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        handle.abort();
        aborted.store(true, SeqCst);
        let id = handle.id();
        assert_cancelled(rt.block_on(handle), id);
        assert!(!after_yield.load(SeqCst), "the task was polled again after abort");
        assert_eq!(drops.load(SeqCst), 1);
    });
}

#[test]
fn abort_yielding_task_on_current_thread() {
    let rt = current();
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let handle = rt.spawn(async move {
        loop {
            p.fetch_add(1, SeqCst);
            corral::yield_now().await;
        }
    });
    rt.block_on(async {
        while polls.load(SeqCst) < 10 {
            corral::yield_now().await;
        }
    });
    handle.abort();
    let at_abort = polls.load(SeqCst);
    let id = handle.id();
    assert_cancelled(rt.block_on(handle), id);
    assert_eq!(polls.load(SeqCst), at_abort, "polled after abort");
}

#[test]
fn abort_during_final_poll_keeps_the_output() {
    run_with_timeout("abort_final_poll", 20, || {
        let rt = multi(2);
        let aborted = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel();
        let ab = aborted.clone();
        let handle = rt.spawn(async move {
            started_tx.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while !ab.load(SeqCst) {
                assert!(Instant::now() < deadline, "abort flag never set");
                std::hint::spin_loop();
            }
            77
        });
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        handle.abort();
        aborted.store(true, SeqCst);
        // The task finished in the poll that was running when abort came:
        // documented to keep its output.
        assert_eq!(rt.block_on(handle).unwrap(), 77);
    });
}

// ---- finished tasks --------------------------------------------------------------

#[test]
fn abort_after_completion_still_returns_the_output() {
    run_with_timeout("abort_finished", 20, || {
        for rt in both() {
            let drops = Arc::new(AtomicUsize::new(0));
            let d = DropCounter(drops.clone());
            let handle = rt.spawn(async move { (5, d) });
            rt.block_on(async {
                let deadline = Instant::now() + Duration::from_secs(10);
                while !handle.is_finished() {
                    assert!(Instant::now() < deadline, "task never finished");
                    corral::yield_now().await;
                    thread::yield_now();
                }
            });
            handle.abort();
            handle.abort();
            assert!(handle.is_finished());
            let (v, out) = rt.block_on(handle).unwrap();
            assert_eq!(v, 5);
            assert_eq!(drops.load(SeqCst), 0);
            drop(out);
            assert_eq!(drops.load(SeqCst), 1);
        }
    });
}

// ---- self-abort and nesting ------------------------------------------------------

#[test]
fn task_that_aborts_itself() {
    run_with_timeout("self_abort", 20, || {
        for rt in both() {
            let drops = Arc::new(AtomicUsize::new(0));
            let after = Arc::new(AtomicBool::new(false));
            let (own_tx, own_rx) = futures_channel::oneshot::channel::<JoinHandle<()>>();
            let (done_tx, done_rx) = mpsc::channel();
            let (d, a) = (DropCounter(drops.clone()), after.clone());
            let handle = rt.spawn(async move {
                // Reports (from Drop) once the future is gone.
                struct Report(mpsc::Sender<()>);
                impl Drop for Report {
                    fn drop(&mut self) {
                        let _ = self.0.send(());
                    }
                }
                let _report = Report(done_tx);
                let _d = d;
                let own = own_rx.await.unwrap();
                own.abort();
                corral::yield_now().await;
                a.store(true, SeqCst);
            });
            // The task holds its own handle: nobody awaits the result.
            own_tx.send(handle).unwrap();
            let res = rt.block_on(async {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    match done_rx.try_recv() {
                        Ok(()) => return true,
                        Err(_) if Instant::now() > deadline => return false,
                        Err(_) => {
                            corral::yield_now().await;
                            thread::yield_now();
                        }
                    }
                }
            });
            assert!(res, "self-aborted task's future was never dropped");
            assert!(!after.load(SeqCst), "self-aborted task ran past its yield");
            assert_eq!(drops.load(SeqCst), 1);
            // Still healthy.
            assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
        }
    });
}

#[test]
fn aborting_a_parent_detaches_its_child() {
    run_with_timeout("abort_parent", 20, || {
        for rt in both() {
            let (go_tx, go_rx) = futures_channel::oneshot::channel::<()>();
            let (child_tx, child_rx) = futures_channel::oneshot::channel();
            let (started_tx, started_rx) = futures_channel::oneshot::channel();
            let parent = rt.spawn(async move {
                let child = corral::spawn(async move {
                    go_rx.await.unwrap();
                    child_tx.send("child done").unwrap();
                });
                started_tx.send(()).unwrap();
                child.await.unwrap();
            });
            rt.block_on(async { started_rx.await.unwrap() });
            parent.abort();
            assert!(rt.block_on(parent).unwrap_err().is_cancelled());
            go_tx.send(()).unwrap();
            assert_eq!(rt.block_on(child_rx).unwrap(), "child done");
        }
    });
}

#[test]
fn many_aborts_at_random_points() {
    run_with_timeout("many_aborts", 30, || {
        let rt = multi(2);
        let drops = Arc::new(AtomicUsize::new(0));
        let n = 2000;
        rt.block_on(async {
            let mut handles = Vec::new();
            for i in 0..n {
                let d = DropCounter(drops.clone());
                handles.push(corral::spawn(async move {
                    let _d = d;
                    for _ in 0..(i % 7) {
                        corral::yield_now().await;
                    }
                    i
                }));
                if i % 3 == 0 {
                    corral::yield_now().await;
                }
            }
            let mut ok = 0;
            let mut cancelled = 0;
            for (i, h) in handles.iter().enumerate() {
                if i % 2 == 0 {
                    h.abort();
                }
            }
            for (i, h) in handles.into_iter().enumerate() {
                match h.await {
                    Ok(v) => {
                        assert_eq!(v, i);
                        ok += 1;
                    }
                    Err(e) => {
                        assert!(e.is_cancelled(), "{e}");
                        assert_eq!(i % 2, 0, "a task that was not aborted was cancelled");
                        cancelled += 1;
                    }
                }
            }
            assert_eq!(ok + cancelled, n);
            assert!(ok >= n / 2);
        });
        assert_eq!(drops.load(SeqCst), n, "every future is dropped exactly once");
    });
}

// ---- panics in Drop ----------------------------------------------------------------

fn check_drop_panic_on_cancel(rt: &Runtime) {
    let (started_tx, started_rx) = futures_channel::oneshot::channel();
    let handle = rt.spawn(async move {
        let _bomb = PanicOnDrop("drop exploded");
        started_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    });
    rt.block_on(async { started_rx.await.unwrap() });
    let id = handle.id();
    handle.abort();
    let err = rt.block_on(handle).unwrap_err();
    assert!(
        err.is_panic(),
        "a panic in Drop of a cancelled future should be Panicked, got {err:?}"
    );
    assert_eq!(err.id(), id);
    assert!(err.to_string().contains("drop exploded"), "{err}");
    assert_eq!(panic_text(&*err.into_panic()), "drop exploded");
    // The runtime is still alive, on the same single worker.
    let sum = rt.block_on(async {
        let hs: Vec<_> = (0..100u32).map(|i| corral::spawn(async move { i })).collect();
        let mut s = 0;
        for h in hs {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(sum, 4950);
}

#[test]
fn panic_in_drop_of_a_cancelled_future_is_reported_multi_thread() {
    run_with_timeout("drop_panic_multi", 20, || check_drop_panic_on_cancel(&multi(1)));
}

#[test]
fn panic_in_drop_of_a_cancelled_future_is_reported_current_thread() {
    run_with_timeout(
        "drop_panic_current",
        20,
        || check_drop_panic_on_cancel(&current()),
    );
}

/// Panics in `poll`, and again when dropped. A hand-written future, so the
/// second panic comes from the runtime dropping it (an async block would
/// drop its locals while unwinding, and a panic there aborts the process).
struct PanicsTwice {
    _bomb: PanicOnDrop,
    polls: u32,
}

impl std::future::Future for PanicsTwice {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.polls += 1;
        if self.polls == 1 {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        panic!("first");
    }
}

#[test]
fn panic_in_drop_after_a_poll_panic_reports_the_first_panic() {
    run_with_timeout("double_panic", 20, || {
        for rt in both() {
            let handle = rt.spawn(PanicsTwice {
                _bomb: PanicOnDrop("second"),
                polls: 0,
            });
            let err = rt.block_on(handle).unwrap_err();
            assert_eq!(panic_text(&*err.into_panic()), "first");
            assert_eq!(rt.block_on(rt.spawn(async { 2 })).unwrap(), 2);
        }
    });
}

#[test]
fn panic_in_drop_of_a_detached_tasks_output_does_not_kill_the_runtime() {
    run_with_timeout("output_drop_panic", 20, || {
        let rt = multi(1);
        let seen = Arc::new(Mutex::new(false));
        let s = seen.clone();
        drop(rt.spawn(async move {
            *s.lock().unwrap() = true;
            PanicOnDrop("output drop")
        }));
        // The single worker must survive dropping that output.
        for i in 0..50 {
            assert_eq!(rt.block_on(rt.spawn(async move { i })).unwrap(), i);
        }
        assert!(*seen.lock().unwrap());
    });
}

// ---- AbortHandle -------------------------------------------------------------------

#[test]
fn abort_handle_cancels_from_another_thread() {
    run_with_timeout("abort_handle", 20, || {
        for rt in both() {
            let drops = Arc::new(AtomicUsize::new(0));
            let d = DropCounter(drops.clone());
            let (started_tx, started_rx) = futures_channel::oneshot::channel();
            let handle = rt.spawn(async move {
                let _d = d;
                started_tx.send(()).unwrap();
                std::future::pending::<()>().await;
            });
            let aborter = handle.abort_handle();
            assert_eq!(aborter.id(), handle.id());
            assert!(!aborter.is_finished());
            rt.block_on(async { started_rx.await.unwrap() });
            let clone = aborter.clone();
            drop(aborter);
            thread::spawn(move || clone.abort()).join().unwrap();
            let id = handle.id();
            assert_cancelled(rt.block_on(handle), id);
            assert_eq!(drops.load(SeqCst), 1);
        }
    });
}

#[test]
fn abort_handle_cancels_a_detached_task() {
    run_with_timeout("abort_handle_detached", 20, || {
        for rt in both() {
            let (drop_tx, drop_rx) = mpsc::channel();
            struct Signal(mpsc::Sender<()>);
            impl Drop for Signal {
                fn drop(&mut self) {
                    let _ = self.0.send(());
                }
            }
            let s = Signal(drop_tx);
            let handle = rt.spawn(async move {
                let _s = s;
                std::future::pending::<()>().await;
            });
            let aborter = handle.abort_handle();
            drop(handle);
            aborter.abort();
            // Drive a current-thread runtime until the future is gone.
            let dropped = rt.block_on(async {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    if drop_rx.try_recv().is_ok() {
                        return true;
                    }
                    if Instant::now() > deadline {
                        return false;
                    }
                    corral::yield_now().await;
                    thread::yield_now();
                }
            });
            assert!(
                dropped,
                "aborting a detached task through its AbortHandle did not drop its future"
            );
            // The future is dropped first, then the task completes (on a
            // worker of the multi-thread runtime, racing this thread).
            let deadline = Instant::now() + Duration::from_secs(10);
            while !aborter.is_finished() && Instant::now() < deadline {
                thread::yield_now();
            }
            assert!(aborter.is_finished());
        }
    });
}

#[test]
fn dropping_an_abort_handle_does_not_affect_the_task() {
    let rt = current();
    let (tx, rx) = futures_channel::oneshot::channel::<u32>();
    let handle = rt.spawn(async move { rx.await.unwrap() });
    drop(handle.abort_handle());
    tx.send(3).unwrap();
    assert_eq!(rt.block_on(handle).unwrap(), 3);
}

#[test]
fn abort_handle_outliving_its_runtime_is_harmless() {
    for rt in both() {
        let handle = rt.spawn(std::future::pending::<()>());
        let aborter = handle.abort_handle();
        drop(rt);
        assert!(aborter.is_finished());
        aborter.abort();
        let other = current();
        assert!(other.block_on(handle).unwrap_err().is_cancelled());
        aborter.abort();
        drop(aborter);
    }
}

#[test]
fn abort_races_with_running_and_completion_across_threads() {
    // Abort from a plain thread while workers poll, wake and complete the
    // tasks: each future is dropped exactly once and each result is either
    // the output or Cancelled.
    run_with_timeout("abort_race_threads", 60, || {
        let rt = multi(2);
        let n = 3000;
        let drops = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let d = DropCounter(drops.clone());
                rt.spawn(async move {
                    let _d = d;
                    for _ in 0..(i % 5) {
                        corral::yield_now().await;
                    }
                    i
                })
            })
            .collect();
        let aborters: Vec<_> = handles.iter().step_by(2).map(|h| h.abort_handle()).collect();
        let t = thread::spawn(move || {
            for a in aborters {
                a.abort();
            }
        });
        let mut cancelled = 0;
        for (i, h) in handles.into_iter().enumerate() {
            match rt.block_on(h) {
                Ok(v) => assert_eq!(v, i),
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    assert_eq!(i % 2, 0, "task {i} was cancelled but never aborted");
                    cancelled += 1;
                }
            }
        }
        t.join().unwrap();
        assert_eq!(
            drops.load(SeqCst),
            n,
            "a future was dropped more or less than once"
        );
        println!("{cancelled} of {n} cancelled");
    });
}
