//! Runtime shutdown: dropping a runtime cancels and drops every pending
//! future, `shutdown_timeout` / `shutdown_background`, handles and wakers
//! that outlive their runtime.

use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use corral::task::JoinHandle;
use corral::{Handle, Runtime};

#[allow(dead_code)]
mod common;
use common::{current, foreign_block_on, multi, panic_text, run_with_timeout, DropCounter, PanicOnDrop};

// ---- helpers -------------------------------------------------------------

/// Sends on a channel when dropped.
struct DropSignal(mpsc::Sender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

struct UnparkWaker(thread::Thread);

impl Wake for UnparkWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Spawns `n` tasks awaiting `pending()` and `n` awaiting a oneshot whose
/// sender is returned; waits until every task has been polled once.
fn spawn_waiters(
    rt: &Runtime,
    n: usize,
    drops: &Arc<AtomicUsize>,
) -> (Vec<JoinHandle<()>>, Vec<futures_channel::oneshot::Sender<()>>) {
    let started = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..n {
        let (d, s) = (DropCounter(drops.clone()), started.clone());
        handles.push(rt.spawn(async move {
            let _d = d;
            s.fetch_add(1, SeqCst);
            std::future::pending::<()>().await;
        }));
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        senders.push(tx);
        let (d, s) = (DropCounter(drops.clone()), started.clone());
        handles.push(rt.spawn(async move {
            let _d = d;
            s.fetch_add(1, SeqCst);
            let _ = rx.await;
            panic!("the sender is never used");
        }));
    }
    // Drive a current-thread runtime (harmless on a multi-thread one).
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while started.load(SeqCst) < 2 * n {
            assert!(Instant::now() < deadline, "tasks never started");
            corral::yield_now().await;
            thread::yield_now();
        }
    });
    (handles, senders)
}

// ---- dropping the runtime -------------------------------------------------------

fn check_drop_drops_pending(rt: Runtime) {
    let n = 100;
    let drops = Arc::new(AtomicUsize::new(0));
    let (handles, senders) = spawn_waiters(&rt, n, &drops);
    let handle = rt.handle().clone();
    assert_eq!(drops.load(SeqCst), 0);
    assert_eq!(handle.num_alive_tasks(), 2 * n);
    drop(rt);
    assert_eq!(
        drops.load(SeqCst),
        2 * n,
        "not every pending future was dropped with the runtime"
    );
    assert!(
        senders.iter().all(|tx| tx.is_canceled()),
        "a receiver outlived its runtime"
    );
    assert_eq!(handle.num_alive_tasks(), 0);

    // The handles report Cancelled, awaited on another runtime.
    let other = current();
    for h in handles {
        let id = h.id();
        let err = other.block_on(h).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(err.id(), id);
    }
    let other = multi(1);
    assert_eq!(other.block_on(other.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn dropping_the_runtime_drops_pending_futures_multi_thread() {
    run_with_timeout("drop_pending_multi", 20, || check_drop_drops_pending(multi(2)));
}

#[test]
fn dropping_the_runtime_drops_pending_futures_current_thread() {
    run_with_timeout("drop_pending_current", 20, || check_drop_drops_pending(current()));
}

#[test]
fn join_handles_awaited_on_a_multi_thread_runtime_after_their_runtime_dropped() {
    run_with_timeout("join_after_drop", 20, || {
        for rt in [multi(2), current()] {
            let drops = Arc::new(AtomicUsize::new(0));
            let (handles, _senders) = spawn_waiters(&rt, 10, &drops);
            drop(rt);
            let other = multi(2);
            let results = other.block_on(async move {
                let mut out = Vec::new();
                for h in handles {
                    out.push(h.await);
                }
                out
            });
            assert!(results
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.is_cancelled())));
        }
    });
}

#[test]
fn never_polled_tasks_of_a_current_thread_runtime_are_dropped() {
    let rt = current();
    let drops = Arc::new(AtomicUsize::new(0));
    let polled = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let (d, p) = (DropCounter(drops.clone()), polled.clone());
            rt.spawn(async move {
                let _d = d;
                p.store(true, SeqCst);
            })
        })
        .collect();
    drop(rt);
    assert_eq!(drops.load(SeqCst), 50);
    assert!(!polled.load(SeqCst), "a task ran without block_on");
    for h in handles {
        assert!(foreign_block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
fn join_handle_polled_by_another_thread_is_woken_by_shutdown() {
    run_with_timeout("join_woken_by_shutdown", 20, || {
        for rt in [multi(2), current()] {
            let drops = Arc::new(AtomicUsize::new(0));
            let (mut handles, _senders) = spawn_waiters(&rt, 1, &drops);
            let h = handles.pop().unwrap();
            let (polling_tx, polling_rx) = mpsc::channel();
            let waiter = thread::spawn(move || {
                let mut h = h;
                let w = Waker::from(Arc::new(UnparkWaker(thread::current())));
                // One poll to register the waker, then park until woken.
                assert!(Pin::new(&mut h).poll(&mut Context::from_waker(&w)).is_pending());
                polling_tx.send(()).unwrap();
                foreign_block_on(h)
            });
            polling_rx.recv().unwrap();
            drop(rt);
            let res = waiter.join().unwrap();
            assert!(res.unwrap_err().is_cancelled());
        }
    });
}

#[test]
fn spawning_through_a_handle_after_the_runtime_dropped() {
    for rt in [multi(1), current()] {
        let handle = rt.handle().clone();
        drop(rt);
        let drops = Arc::new(AtomicUsize::new(0));
        let polled = Arc::new(AtomicBool::new(false));
        let (d, p) = (DropCounter(drops.clone()), polled.clone());
        let h = handle.spawn(async move {
            let _d = d;
            p.store(true, SeqCst);
        });
        assert_eq!(
            drops.load(SeqCst),
            1,
            "a future spawned onto a dead runtime was kept"
        );
        assert!(h.is_finished());
        assert!(foreign_block_on(h).unwrap_err().is_cancelled());
        assert!(!polled.load(SeqCst));
        assert_eq!(handle.num_alive_tasks(), 0);
    }
}

#[test]
fn dropping_the_runtime_with_busy_tasks() {
    run_with_timeout("drop_busy", 20, || {
        for rt in [multi(2), current()] {
            let drops = Arc::new(AtomicUsize::new(0));
            let polls = Arc::new(AtomicUsize::new(0));
            for _ in 0..100 {
                let (d, p) = (DropCounter(drops.clone()), polls.clone());
                drop(rt.spawn(async move {
                    let _d = d;
                    loop {
                        p.fetch_add(1, SeqCst);
                        corral::yield_now().await;
                    }
                }));
            }
            rt.block_on(async {
                while polls.load(SeqCst) < 1000 {
                    corral::yield_now().await;
                }
            });
            drop(rt);
            assert_eq!(drops.load(SeqCst), 100);
            let after = polls.load(SeqCst);
            thread::sleep(Duration::from_millis(5));
            assert_eq!(
                polls.load(SeqCst),
                after,
                "a task was polled after its runtime was dropped"
            );
        }
    });
}

#[test]
fn panics_in_drop_during_shutdown_are_contained() {
    run_with_timeout("drop_panic_shutdown", 20, || {
        for rt in [multi(2), current()] {
            let drops = Arc::new(AtomicUsize::new(0));
            let (started_tx, started_rx) = futures_channel::oneshot::channel();
            let bomb = rt.spawn(async move {
                let _b = PanicOnDrop("shutdown bomb");
                started_tx.send(()).unwrap();
                std::future::pending::<()>().await;
            });
            let (others, _senders) = spawn_waiters(&rt, 20, &drops);
            rt.block_on(async { started_rx.await.unwrap() });
            drop(rt);
            assert_eq!(drops.load(SeqCst), 40, "a panic in one Drop stopped the others");
            let err = foreign_block_on(bomb).unwrap_err();
            assert!(err.is_panic(), "{err:?}");
            assert_eq!(panic_text(&*err.into_panic()), "shutdown bomb");
            for h in others {
                assert!(foreign_block_on(h).unwrap_err().is_cancelled());
            }
        }
    });
}

#[test]
fn drop_of_a_cancelled_future_can_use_the_runtime_handle() {
    run_with_timeout("drop_uses_handle", 20, || {
        for rt in [multi(2), current()] {
            struct SpawnOnDrop {
                out: mpsc::Sender<Option<JoinHandle<()>>>,
                drops: Arc<AtomicUsize>,
            }
            impl Drop for SpawnOnDrop {
                fn drop(&mut self) {
                    // Documented: the runtime is entered while futures drop.
                    let h = Handle::try_current().ok().map(|h| {
                        let d = DropCounter(self.drops.clone());
                        h.spawn(async move {
                            let _d = d;
                        })
                    });
                    self.out.send(h).unwrap();
                }
            }
            let (tx, rx) = mpsc::channel();
            let drops = Arc::new(AtomicUsize::new(0));
            let (started_tx, started_rx) = futures_channel::oneshot::channel();
            let guard = SpawnOnDrop {
                out: tx,
                drops: drops.clone(),
            };
            drop(rt.spawn(async move {
                let _g = guard;
                started_tx.send(()).unwrap();
                std::future::pending::<()>().await;
            }));
            rt.block_on(async { started_rx.await.unwrap() });
            drop(rt);
            let spawned = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            let spawned = spawned.expect("no runtime entered while dropping a cancelled future");
            assert_eq!(
                drops.load(SeqCst),
                1,
                "a task spawned during shutdown was kept alive"
            );
            assert!(foreign_block_on(spawned).unwrap_err().is_cancelled());
        }
    });
}

#[test]
fn dropping_a_runtime_from_inside_its_own_task() {
    run_with_timeout("drop_from_own_task", 20, || {
        let rt = multi(2);
        let (drop_tx, drop_rx) = mpsc::channel();
        let pending = {
            let s = DropSignal(drop_tx);
            rt.spawn(async move {
                let _s = s;
                std::future::pending::<()>().await;
            })
        };
        let (after_tx, after_rx) = mpsc::channel();
        let handle = rt.handle().clone();
        drop(handle.spawn(async move {
            drop(rt);
            // Still running after the drop returned.
            after_tx.send("after drop").unwrap();
        }));
        assert_eq!(
            after_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            "after drop"
        );
        drop_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the other task's future was never dropped");
        assert!(foreign_block_on(pending).unwrap_err().is_cancelled());
    });
}

// ---- shutdown_timeout / shutdown_background -------------------------------------------

#[test]
fn shutdown_timeout_of_an_idle_runtime_returns_true() {
    run_with_timeout("shutdown_idle", 20, || {
        for rt in [multi(2), current()] {
            let drops = Arc::new(AtomicUsize::new(0));
            let (_h, _s) = spawn_waiters(&rt, 10, &drops);
            assert!(rt.shutdown_timeout(Duration::from_secs(5)));
            assert_eq!(
                drops.load(SeqCst),
                20,
                "shutdown_timeout returned true before dropping the futures"
            );
        }
        assert!(multi(1).shutdown_timeout(Duration::from_secs(5)));
        // A zero timeout must not hang; either answer is allowed.
        let _ = multi(1).shutdown_timeout(Duration::ZERO);
    });
}

/// Spawns a task that blocks its worker until `release` is sent to; waits
/// until it does.
fn block_a_worker(rt: &Runtime) -> (mpsc::Sender<()>, JoinHandle<()>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (blocked_tx, blocked_rx) = mpsc::channel();
    let h = rt.spawn(async move {
        blocked_tx.send(()).unwrap();
        // Bounded, so a failing test does not leave the worker stuck.
        let _ = release_rx.recv_timeout(Duration::from_secs(20));
        std::future::pending::<()>().await;
    });
    blocked_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    (release_tx, h)
}

#[test]
fn shutdown_timeout_with_a_blocked_worker_returns_false() {
    run_with_timeout("shutdown_blocked", 30, || {
        let rt = multi(1);
        let (drop_tx, drop_rx) = mpsc::channel();
        let s = DropSignal(drop_tx);
        let (go_tx, go_rx) = futures_channel::oneshot::channel::<()>();
        let other = rt.spawn(async move {
            let _s = s;
            let _ = go_rx.await;
        });
        let (release, blocked) = block_a_worker(&rt);
        // The worker cannot finish its poll until we release it, after.
        assert!(!rt.shutdown_timeout(Duration::from_millis(100)));
        assert!(
            drop_rx.try_recv().is_err(),
            "a future was dropped while its worker was still polling"
        );
        release.send(()).unwrap();
        // The straggler finishes shutdown in the background.
        drop_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the remaining tasks were never cancelled after the worker came back");
        assert!(foreign_block_on(blocked).unwrap_err().is_cancelled());
        assert!(foreign_block_on(other).unwrap_err().is_cancelled());
        drop(go_tx);
    });
}

#[test]
fn shutdown_timeout_with_a_sleeping_worker_returns_false() {
    run_with_timeout("shutdown_sleeping", 30, || {
        let rt = multi(1);
        let (started_tx, started_rx) = mpsc::channel();
        drop(rt.spawn(async move {
            started_tx.send(()).unwrap();
            thread::sleep(Duration::from_secs(2));
        }));
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(!rt.shutdown_timeout(Duration::from_millis(100)));
    });
}

#[test]
fn shutdown_background_does_not_wait_for_a_blocked_worker() {
    run_with_timeout("shutdown_background", 30, || {
        let rt = multi(2);
        let (drop_tx, drop_rx) = mpsc::channel();
        let s = DropSignal(drop_tx);
        let other = rt.spawn(async move {
            let _s = s;
            std::future::pending::<()>().await;
        });
        let (release, blocked) = block_a_worker(&rt);
        // Returns although a worker is stuck until `release` (else: HANG).
        rt.shutdown_background();
        release.send(()).unwrap();
        drop_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("pending future never dropped");
        assert!(foreign_block_on(blocked).unwrap_err().is_cancelled());
        assert!(foreign_block_on(other).unwrap_err().is_cancelled());
    });
}

#[test]
fn current_thread_shutdown_background_drops_futures() {
    let rt = current();
    let drops = Arc::new(AtomicUsize::new(0));
    let (_h, _s) = spawn_waiters(&rt, 5, &drops);
    rt.shutdown_background();
    assert_eq!(drops.load(SeqCst), 10);
}

// ---- wakers outliving their runtime -----------------------------------------------

/// Stores its task's waker in a shared slot, then stays pending.
struct StoreWaker(Arc<Mutex<Option<Waker>>>);

impl Future for StoreWaker {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn check_waker_outlives_runtime(rt: Runtime) {
    let slot = Arc::new(Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCounter(drops.clone());
    let s = slot.clone();
    let h = rt.spawn(async move {
        let _d = d;
        StoreWaker(s).await;
    });
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while slot.lock().unwrap().is_none() {
            assert!(Instant::now() < deadline, "task never stored its waker");
            corral::yield_now().await;
            thread::yield_now();
        }
    });
    let waker = slot.lock().unwrap().take().unwrap();
    let extra = waker.clone();
    drop(rt);
    assert_eq!(drops.load(SeqCst), 1, "the future was kept alive by its waker");
    // Wake after the runtime is gone, from here and from another thread.
    waker.wake_by_ref();
    let w2 = waker.clone();
    thread::spawn(move || {
        w2.wake_by_ref();
        w2.wake();
    })
    .join()
    .unwrap();
    waker.wake();
    assert!(foreign_block_on(h).unwrap_err().is_cancelled());
    extra.wake_by_ref();
    drop(extra);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn waker_outliving_a_multi_thread_runtime_is_harmless() {
    run_with_timeout("waker_outlives_multi", 20, || {
        check_waker_outlives_runtime(multi(2))
    });
}

#[test]
fn waker_outliving_a_current_thread_runtime_is_harmless() {
    run_with_timeout("waker_outlives_current", 20, || {
        check_waker_outlives_runtime(current())
    });
}

#[test]
fn wakes_racing_with_runtime_drop() {
    run_with_timeout("wake_race_drop", 30, || {
        for i in 0..40 {
            let rt = if i % 2 == 0 { multi(2) } else { current() };
            let slot = Arc::new(Mutex::new(None));
            let drops = Arc::new(AtomicUsize::new(0));
            let (d, s) = (DropCounter(drops.clone()), slot.clone());
            drop(rt.spawn(async move {
                let _d = d;
                loop {
                    StoreWaker(s.clone()).await;
                }
            }));
            rt.block_on(async {
                while slot.lock().unwrap().is_none() {
                    corral::yield_now().await;
                    thread::yield_now();
                }
            });
            let waker = slot.lock().unwrap().clone().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let st = stop.clone();
            let (hammering_tx, hammering_rx) = mpsc::channel();
            let hammer = thread::spawn(move || {
                let mut n = 0u64;
                while !st.load(SeqCst) {
                    waker.wake_by_ref();
                    let by_value = waker.clone();
                    by_value.wake();
                    n += 1;
                    if n == 1 {
                        hammering_tx.send(()).unwrap();
                    }
                }
                n
            });
            hammering_rx.recv().unwrap();
            drop(rt);
            stop.store(true, SeqCst);
            assert!(hammer.join().unwrap() > 0);
            assert_eq!(drops.load(SeqCst), 1);
            // Drop the waker stored by the last poll too.
            drop(slot.lock().unwrap().take());
        }
    });
}
