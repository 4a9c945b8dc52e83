//! Spawning and joining through the facade: many tasks, outputs, panics,
//! detaching, task identity and names, and the runtime context
//! (`Handle::current`, `Runtime::enter`, misuse of `spawn` / `block_on`).

use std::collections::HashSet;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use corral::task::{JoinError, JoinHandle};
use corral::{Builder, Handle, Runtime, RuntimeFlavor};

#[allow(dead_code)]
mod common;
use common::{current, foreign_block_on, multi, panic_text, run_with_timeout, CountingWaker, DropCounter};

// ---- many tasks ------------------------------------------------------------

fn spawn_many(rt: &Runtime, n: u64) {
    let sum = rt.block_on(async move {
        let handles: Vec<JoinHandle<u64>> = (0..n).map(|i| corral::spawn(async move { i * 3 + 1 })).collect();
        let mut sum = 0u64;
        for (i, h) in handles.into_iter().enumerate() {
            let v = h.await.unwrap();
            assert_eq!(v, i as u64 * 3 + 1, "task {i} returned the wrong output");
            sum += v;
        }
        sum
    });
    assert_eq!(sum, (0..n).map(|i| i * 3 + 1).sum::<u64>());
}

#[test]
fn spawn_100k_tasks_multi_thread() {
    run_with_timeout("spawn_100k_multi", 60, || spawn_many(&multi(2), 100_000));
}

#[test]
fn spawn_100k_tasks_current_thread() {
    run_with_timeout("spawn_100k_current", 60, || spawn_many(&current(), 100_000));
}

#[test]
fn spawn_100k_tasks_from_a_task_multi_thread() {
    run_with_timeout("spawn_100k_from_task", 60, || {
        let rt = multi(2);
        let total = rt.block_on(async {
            corral::spawn(async {
                let handles: Vec<_> = (0..100_000u64).map(|i| corral::spawn(async move { i })).collect();
                let mut total = 0u64;
                for h in handles {
                    total += h.await.unwrap();
                }
                total
            })
            .await
            .unwrap()
        });
        assert_eq!(total, (0..100_000u64).sum::<u64>());
    });
}

/// A tree of tasks spawning tasks: every leaf reports, the root sums.
fn spawn_tree(depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let a = corral::spawn(spawn_tree(depth - 1));
        let b = corral::spawn(spawn_tree(depth - 1));
        a.await.unwrap() + b.await.unwrap()
    })
}

#[test]
fn nested_spawn_tree_completes() {
    run_with_timeout("nested_spawn_tree", 30, || {
        assert_eq!(multi(2).block_on(spawn_tree(10)), 1024);
        assert_eq!(current().block_on(spawn_tree(10)), 1024);
    });
}

#[test]
fn block_on_returns_its_future_output_and_runs_spawned_tasks() {
    let rt = current();
    let (tx, rx) = futures_channel::oneshot::channel();
    let task = rt.spawn(async move {
        tx.send(5).unwrap();
        "task"
    });
    let got = rt.block_on(async { rx.await.unwrap() });
    assert_eq!(got, 5);
    assert_eq!(rt.block_on(task).unwrap(), "task");
}

// ---- panics ----------------------------------------------------------------

fn check_panic_then_continue(rt: &Runtime) {
    let handle = rt.spawn(async {
        let n = 7;
        if n == 7 {
            panic!("boom-{n}");
        }
        1u32
    });
    let id = handle.id();
    let err = rt.block_on(handle).unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert!(matches!(err, JoinError::Panicked { .. }));
    assert_eq!(err.id(), id);
    let text = err.to_string();
    assert!(text.contains("boom-7"), "Display lacks the panic message: {text}");
    assert!(
        text.contains(&id.to_string()),
        "Display lacks the task id: {text}"
    );
    assert!(format!("{err:?}").contains("Panicked"), "{err:?}");
    let payload = err.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("boom-7")
    );

    // The runtime still runs tasks, many of them.
    let sum = rt.block_on(async {
        let hs: Vec<_> = (0..200u32).map(|i| corral::spawn(async move { i })).collect();
        let mut s = 0;
        for h in hs {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(sum, (0..200).sum::<u32>());
}

#[test]
fn panicking_task_reports_panicked_and_runtime_keeps_running_multi_thread() {
    run_with_timeout("panic_multi", 20, || {
        // One worker: if the panic took the worker down, nothing would run.
        let rt = multi(1);
        let before = rt.block_on(rt.spawn(async { thread::current().id() })).unwrap();
        check_panic_then_continue(&rt);
        let after = rt.block_on(rt.spawn(async { thread::current().id() })).unwrap();
        assert_eq!(
            before, after,
            "the single worker thread was replaced after a panic"
        );
        // Several panics in a row, interleaved with good tasks.
        for i in 0..20u32 {
            let bad = rt.spawn(async move {
                if i < 100 {
                    panic!("again {i}");
                }
            });
            let good = rt.spawn(async move { i });
            assert!(rt.block_on(bad).unwrap_err().is_panic());
            assert_eq!(rt.block_on(good).unwrap(), i);
        }
    });
}

#[test]
fn panicking_task_reports_panicked_and_runtime_keeps_running_current_thread() {
    run_with_timeout("panic_current", 20, || check_panic_then_continue(&current()));
}

#[test]
fn panic_with_non_string_payload() {
    let rt = current();
    let err = rt
        .block_on(rt.spawn(async {
            std::panic::panic_any(42u32);
        }))
        .unwrap_err();
    assert!(err.is_panic());
    let text = err.to_string();
    assert!(text.ends_with("panicked"), "{text}");
    assert_eq!(err.into_panic().downcast_ref::<u32>(), Some(&42));
}

#[test]
fn try_into_panic_on_a_cancelled_task_gives_the_error_back() {
    let rt = current();
    let handle = rt.spawn(std::future::pending::<()>());
    handle.abort();
    let err = rt.block_on(handle).unwrap_err();
    let id = err.id();
    let back = err.try_into_panic().unwrap_err();
    assert!(back.is_cancelled());
    assert_eq!(back.id(), id);
}

#[test]
fn join_error_converts_into_io_error() {
    let rt = current();
    let cancelled = rt.spawn(std::future::pending::<()>());
    cancelled.abort();
    let e: std::io::Error = rt.block_on(cancelled).unwrap_err().into();
    assert_eq!(e.kind(), std::io::ErrorKind::Interrupted);
    assert!(e.to_string().contains("cancelled"), "{e}");

    let panicked = rt.spawn(async { panic!("io-conv") });
    let e: std::io::Error = rt.block_on(panicked).unwrap_err().into();
    assert_eq!(e.kind(), std::io::ErrorKind::Other);
    assert!(e.to_string().contains("io-conv"), "{e}");
}

// ---- detaching ---------------------------------------------------------------

#[test]
fn dropping_join_handle_detaches_multi_thread() {
    run_with_timeout("detach_multi", 20, || {
        let rt = multi(2);
        let (go_tx, go_rx) = futures_channel::oneshot::channel::<u32>();
        let (done_tx, done_rx) = mpsc::channel();
        let handle = rt.spawn(async move {
            let v = go_rx.await.unwrap();
            done_tx.send(v * 2).unwrap();
        });
        drop(handle);
        go_tx.send(21).unwrap();
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)).unwrap(), 42);
    });
}

#[test]
fn dropping_join_handle_detaches_current_thread() {
    let rt = current();
    let (go_tx, go_rx) = futures_channel::oneshot::channel::<u32>();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    drop(rt.spawn(async move {
        let v = go_rx.await.unwrap();
        done_tx.send(v + 1).unwrap();
    }));
    let got = rt.block_on(async move {
        go_tx.send(1).unwrap();
        done_rx.await.unwrap()
    });
    assert_eq!(got, 2);
}

#[test]
fn output_of_a_detached_task_is_dropped() {
    run_with_timeout("detached_output", 20, || {
        let rt = multi(2);
        // Detached before completion: dropped by the runtime on completion.
        let drops = Arc::new(AtomicUsize::new(0));
        let (go_tx, go_rx) = futures_channel::oneshot::channel::<()>();
        let (ran_tx, ran_rx) = mpsc::channel();
        let d = drops.clone();
        drop(rt.spawn(async move {
            go_rx.await.unwrap();
            let out = DropCounter(d);
            ran_tx.send(()).unwrap();
            out
        }));
        go_tx.send(()).unwrap();
        ran_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while drops.load(SeqCst) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "detached task's output never dropped"
            );
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(drops.load(SeqCst), 1);

        // Detached after completion: the handle drops the output.
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let handle = rt.spawn(async move { DropCounter(d) });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !handle.is_finished() {
            assert!(std::time::Instant::now() < deadline, "task never finished");
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            drops.load(SeqCst),
            0,
            "output dropped although the handle may still read it"
        );
        drop(handle);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

// ---- awaiting a JoinHandle from elsewhere ----------------------------------

#[test]
fn join_handle_can_be_awaited_by_a_foreign_poller() {
    run_with_timeout("foreign_join", 20, || {
        let rt = multi(2);
        let (go_tx, go_rx) = futures_channel::oneshot::channel::<u32>();
        let handle = rt.spawn(async move { go_rx.await.unwrap() + 1 });
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            go_tx.send(9).unwrap();
        });
        assert_eq!(foreign_block_on(handle).unwrap(), 10);
        t.join().unwrap();
    });
}

#[test]
fn join_handle_wakes_the_latest_waker() {
    run_with_timeout("join_latest_waker", 20, || {
        let rt = multi(2);
        let (go_tx, go_rx) = futures_channel::oneshot::channel::<()>();
        let mut handle = rt.spawn(async move { go_rx.await.unwrap() });
        let a = Arc::new(CountingWaker {
            thread: thread::current(),
            wakes: AtomicUsize::new(0),
        });
        let b = Arc::new(CountingWaker {
            thread: thread::current(),
            wakes: AtomicUsize::new(0),
        });
        let wa = Waker::from(a.clone());
        let wb = Waker::from(b.clone());
        assert!(Pin::new(&mut handle)
            .poll(&mut Context::from_waker(&wa))
            .is_pending());
        assert!(Pin::new(&mut handle)
            .poll(&mut Context::from_waker(&wb))
            .is_pending());
        go_tx.send(()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while b.wakes.load(SeqCst) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the latest join waker was never woken"
            );
            thread::park_timeout(Duration::from_millis(10));
        }
        assert!(Pin::new(&mut handle)
            .poll(&mut Context::from_waker(&wb))
            .is_ready());
    });
}

// ---- misuse --------------------------------------------------------------------

#[test]
fn spawn_outside_a_runtime_panics_with_how_to_start_one() {
    let payload = panic::catch_unwind(|| {
        drop(corral::spawn(async {}));
    })
    .unwrap_err();
    let msg = panic_text(&*payload);
    assert!(
        msg.contains("#[corral::main]"),
        "message does not say how to start a runtime: {msg}"
    );

    let payload = panic::catch_unwind(|| {
        drop(corral::task::spawn_named("x", async {}));
    })
    .unwrap_err();
    assert!(panic_text(&*payload).contains("#[corral::main]"));

    let payload = panic::catch_unwind(Handle::current).unwrap_err();
    assert!(panic_text(&*payload).contains("#[corral::main]"));
}

#[test]
fn try_current_outside_a_runtime_is_err() {
    let err = Handle::try_current().unwrap_err();
    assert!(err.to_string().contains("#[corral::main]"), "{err}");
}

const NESTED_MSG: &str = "cannot block_on inside a corral runtime";

fn check_block_on_in_task_panics(rt: &Runtime) {
    let handle = rt.spawn(async {
        let inner = Builder::new_current_thread().build().unwrap();
        inner.block_on(async { 1 })
    });
    let err = rt.block_on(handle).unwrap_err();
    assert!(err.is_panic(), "{err}");
    let text = err.to_string();
    assert!(text.contains(NESTED_MSG), "unclear message: {text}");
    assert!(
        text.contains(".await"),
        "message does not say what to do instead: {text}"
    );
    // Still usable.
    assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
}

#[test]
fn block_on_inside_a_task_panics_multi_thread() {
    run_with_timeout("block_on_in_task_multi", 20, || {
        check_block_on_in_task_panics(&multi(1))
    });
}

#[test]
fn block_on_inside_a_task_panics_current_thread() {
    run_with_timeout("block_on_in_task_current", 20, || {
        check_block_on_in_task_panics(&current())
    });
}

#[test]
fn nested_block_on_panics_and_the_thread_recovers() {
    run_with_timeout("nested_block_on", 20, || {
        for outer in [multi(1), current()] {
            let other = current();
            let res = outer.block_on(async {
                // Same runtime and another runtime: both refused.
                let same = panic::catch_unwind(AssertUnwindSafe(|| outer.block_on(async {}))).unwrap_err();
                let diff = panic::catch_unwind(AssertUnwindSafe(|| other.block_on(async {}))).unwrap_err();
                (panic_text(&*same), panic_text(&*diff))
            });
            assert!(res.0.contains(NESTED_MSG), "{}", res.0);
            assert!(res.1.contains(NESTED_MSG), "{}", res.1);
            // The thread is out of the runtime again: block_on works.
            assert_eq!(other.block_on(async { 5 }), 5);
            assert_eq!(
                outer.block_on(async { corral::spawn(async { 6 }).await.unwrap() }),
                6
            );
        }
    });
}

#[test]
fn block_on_future_panic_leaves_runtime_usable() {
    run_with_timeout("block_on_panic", 20, || {
        for rt in [multi(1), current()] {
            let res = panic::catch_unwind(AssertUnwindSafe(|| {
                rt.block_on(async {
                    corral::yield_now().await;
                    panic!("in block_on");
                })
            }));
            assert_eq!(panic_text(&*res.unwrap_err()), "in block_on");
            assert!(
                Handle::try_current().is_err(),
                "runtime still entered after a panic in block_on"
            );
            assert_eq!(
                rt.block_on(async { corral::spawn(async { 8 }).await.unwrap() }),
                8
            );
        }
    });
}

// ---- context -------------------------------------------------------------------

#[test]
fn handle_current_inside_tasks_and_block_on() {
    run_with_timeout("handle_current", 20, || {
        let rt = multi(3);
        let (in_block_on, in_task) = rt.block_on(async {
            let h = Handle::current();
            let in_task = corral::spawn(async {
                let h = Handle::current();
                // Spawn through the current handle from inside a task.
                let v = h.spawn(async { 11 }).await.unwrap();
                (h.runtime_flavor(), h.num_workers(), v)
            })
            .await
            .unwrap();
            ((h.runtime_flavor(), h.num_workers()), in_task)
        });
        assert_eq!(in_block_on, (RuntimeFlavor::MultiThread, 3));
        assert_eq!(in_task, (RuntimeFlavor::MultiThread, 3, 11));

        let rt = current();
        let flavors = rt.block_on(async {
            let a = Handle::current().runtime_flavor();
            let b = corral::spawn(async { Handle::current().runtime_flavor() })
                .await
                .unwrap();
            (a, b)
        });
        assert_eq!(
            flavors,
            (RuntimeFlavor::CurrentThread, RuntimeFlavor::CurrentThread)
        );
        assert!(Handle::try_current().is_err());
    });
}

#[test]
fn runtime_enter_makes_spawn_work_from_plain_code() {
    run_with_timeout("enter", 20, || {
        let rt = multi(2);
        let task = {
            let _guard = rt.enter();
            assert_eq!(Handle::current().num_workers(), 2);
            corral::spawn(async { "from plain code" })
        };
        assert!(
            Handle::try_current().is_err(),
            "still entered after the guard dropped"
        );
        assert_eq!(rt.block_on(task).unwrap(), "from plain code");

        let ct = current();
        let task = {
            let _guard = ct.handle().enter();
            corral::spawn(async { 4 })
        };
        assert_eq!(ct.block_on(task).unwrap(), 4);
    });
}

#[test]
fn nested_enter_guards_restore_the_previous_runtime() {
    let a = multi(1);
    let b = current();
    let ga = a.enter();
    assert_eq!(Handle::current().runtime_flavor(), RuntimeFlavor::MultiThread);
    {
        let _gb = b.enter();
        assert_eq!(Handle::current().runtime_flavor(), RuntimeFlavor::CurrentThread);
    }
    assert_eq!(Handle::current().runtime_flavor(), RuntimeFlavor::MultiThread);
    drop(ga);
    assert!(Handle::try_current().is_err());
}

#[test]
fn handle_spawn_from_a_std_thread_needs_no_context() {
    run_with_timeout("handle_spawn_thread", 20, || {
        let rt = multi(2);
        let h = rt.handle().clone();
        let task = thread::spawn(move || {
            assert!(Handle::try_current().is_err());
            h.spawn(async { Handle::try_current().is_ok() })
        })
        .join()
        .unwrap();
        assert!(
            rt.block_on(task).unwrap(),
            "a task spawned from outside does not see its runtime"
        );
    });
}

// ---- identity ------------------------------------------------------------------

fn check_try_id(rt: &Runtime) {
    assert_eq!(corral::task::try_id(), None);
    rt.block_on(async {
        assert_eq!(corral::task::try_id(), None, "block_on's future is not a task");
        for _ in 0..50 {
            let h = corral::spawn(async {
                let before = corral::task::try_id();
                corral::yield_now().await;
                (before, corral::task::try_id())
            });
            let id = h.id();
            let (before, after) = h.await.unwrap();
            assert_eq!(before, Some(id));
            assert_eq!(after, Some(id));
        }
        assert_eq!(corral::task::try_id(), None);
    });
}

#[test]
fn try_id_inside_a_task_equals_the_join_handle_id() {
    run_with_timeout("try_id", 20, || {
        check_try_id(&multi(2));
        check_try_id(&current());
    });
}

#[test]
fn task_ids_are_unique() {
    let rt = multi(2);
    let ids: Vec<_> = rt.block_on(async {
        let hs: Vec<_> = (0..2000)
            .map(|_| corral::spawn(async { corral::task::try_id().unwrap() }))
            .collect();
        let mut ids = Vec::new();
        for h in hs {
            let id = h.id();
            assert_eq!(h.await.unwrap(), id);
            ids.push(id);
        }
        ids
    });
    let set: HashSet<_> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len());
    assert!(ids.iter().all(|id| id.as_u64() > 0));
}

#[test]
fn spawn_named_shows_the_name_in_handle_and_errors() {
    run_with_timeout("spawn_named", 20, || {
        let rt = multi(2);
        let h = rt.spawn_named("fetcher", async { panic!("no route") });
        assert_eq!(h.name(), Some("fetcher"));
        let id = h.id();
        let err = rt.block_on(h).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("fetcher"), "{text}");
        assert!(text.contains(&id.to_string()), "{text}");
        assert!(text.contains("no route"), "{text}");
        assert!(format!("{err:?}").contains("fetcher"));

        let h = rt
            .handle()
            .spawn_named(String::from("sleeper"), std::future::pending::<()>());
        assert_eq!(h.name(), Some("sleeper"));
        h.abort();
        let text = rt.block_on(h).unwrap_err().to_string();
        assert!(text.contains("sleeper") && text.contains("cancelled"), "{text}");

        let (name, out) = rt.block_on(async {
            let h = corral::task::spawn_named("inner", async { 5 });
            (h.name().map(str::to_owned), h.await.unwrap())
        });
        assert_eq!((name.as_deref(), out), (Some("inner"), 5));

        let unnamed = rt.spawn(async {});
        assert_eq!(unnamed.name(), None);
        assert!(format!("{unnamed:?}").contains("JoinHandle"));
        rt.block_on(unnamed).unwrap();
    });
}

#[test]
fn is_finished_tracks_completion() {
    let rt = current();
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    let h = rt.spawn(async move { rx.await.unwrap() });
    assert!(!h.is_finished());
    rt.block_on(corral::yield_now());
    assert!(!h.is_finished());
    tx.send(()).unwrap();
    rt.block_on(async {
        for _ in 0..100 {
            if h.is_finished() {
                break;
            }
            corral::yield_now().await;
        }
    });
    assert!(h.is_finished());
    rt.block_on(h).unwrap();
}

// ---- races on the join handle ----------------------------------------------------

#[test]
fn join_handle_dropped_while_the_task_completes() {
    // The handle registers a foreign waker, then is dropped on another
    // thread while a worker completes the task: every output is dropped
    // exactly once, whichever side wins.
    run_with_timeout("join_drop_race", 60, || {
        let rt = multi(2);
        let n = 2000;
        let drops = Arc::new(AtomicUsize::new(0));
        let waker = Waker::from(Arc::new(CountingWaker {
            thread: thread::current(),
            wakes: AtomicUsize::new(0),
        }));
        let (tx, rx) = mpsc::channel::<JoinHandle<DropCounter>>();
        let dropper = thread::spawn(move || {
            for h in rx {
                drop(h);
            }
        });
        for i in 0..n {
            let d = drops.clone();
            let mut h = rt.spawn(async move {
                for _ in 0..(i % 3) {
                    corral::yield_now().await;
                }
                DropCounter(d)
            });
            if let Poll::Ready(out) = Pin::new(&mut h).poll(&mut Context::from_waker(&waker)) {
                drop(out);
                continue;
            }
            tx.send(h).unwrap();
        }
        drop(tx);
        dropper.join().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while drops.load(SeqCst) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {n} outputs dropped",
                drops.load(SeqCst)
            );
            thread::sleep(Duration::from_millis(1));
        }
        thread::sleep(Duration::from_millis(10));
        assert_eq!(drops.load(SeqCst), n, "an output was dropped twice");
        assert_eq!(rt.handle().num_alive_tasks(), 0);
    });
}

/// A waker whose `wake` panics (a buggy foreign executor).
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("foreign waker panicked");
    }
}

#[test]
fn panicking_join_waker_does_not_kill_the_worker() {
    // The runtime wakes the join handle's waker when the task completes; a
    // panic there is foreign code failing and must not take the (only)
    // worker thread, and with it the runtime, down.
    run_with_timeout("panicking_join_waker", 20, || {
        let rt = multi(1);
        let (go_tx, go_rx) = futures_channel::oneshot::channel::<()>();
        let mut h = rt.spawn(async move {
            go_rx.await.unwrap();
            5
        });
        let waker = Waker::from(Arc::new(PanickingWaker));
        assert!(Pin::new(&mut h)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        go_tx.send(()).unwrap();
        // The worker must survive and keep running tasks.
        let (tx, rx) = mpsc::channel();
        drop(rt.spawn(async move { tx.send(thread::current().name().map(str::to_owned)).unwrap() }));
        let name = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the runtime stopped running tasks after a join waker panicked");
        assert_eq!(name.as_deref(), Some("corral-worker-0"));
        assert_eq!(foreign_block_on(h).unwrap(), 5);
    });
}

#[test]
fn spawns_racing_with_runtime_drop_are_all_resolved() {
    // Threads keep spawning through handles while the runtime is dropped:
    // each future is dropped exactly once, and each handle resolves (Ok if
    // it ran, Cancelled if not).
    run_with_timeout("spawn_vs_drop", 60, || {
        for round in 0..20 {
            let rt = if round % 2 == 0 { multi(2) } else { current() };
            let drops = Arc::new(AtomicUsize::new(0));
            let spawned = Arc::new(AtomicUsize::new(0));
            let (ready_tx, ready_rx) = mpsc::channel();
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let (h, d, s, ready) = (
                        rt.handle().clone(),
                        drops.clone(),
                        spawned.clone(),
                        ready_tx.clone(),
                    );
                    thread::spawn(move || {
                        let mut handles = Vec::new();
                        for i in 0..300 {
                            let c = DropCounter(d.clone());
                            handles.push(h.spawn(async move {
                                let _c = c;
                                corral::yield_now().await;
                                i
                            }));
                            s.fetch_add(1, SeqCst);
                            if i == 10 {
                                ready.send(()).unwrap();
                            }
                        }
                        handles
                    })
                })
                .collect();
            for _ in 0..3 {
                ready_rx.recv().unwrap();
            }
            drop(rt);
            let handles: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
            assert_eq!(handles.len(), spawned.load(SeqCst));
            for h in handles {
                match foreign_block_on(h) {
                    Ok(_) => {}
                    Err(e) => assert!(e.is_cancelled(), "{e}"),
                }
            }
            assert_eq!(drops.load(SeqCst), spawned.load(SeqCst), "round {round}");
        }
    });
}
