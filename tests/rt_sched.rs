//! Scheduling: fairness (yielding and ping-ponging tasks do not starve
//! others), remote spawns, parallelism across workers, stealing, wakes from
//! foreign threads, the cooperative budget, and the `Builder` settings.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use corral::{Builder, Runtime, RuntimeFlavor};
use futures_util::StreamExt;

#[allow(dead_code)]
mod common;
use common::{current, multi, run_with_timeout};

// ---- helpers -------------------------------------------------------------

/// Blocks the current (worker) thread until `cond` holds; false after 5 s.
fn spin_until(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        if Instant::now() > deadline {
            return false;
        }
        thread::yield_now();
    }
    true
}

// ---- fairness ------------------------------------------------------------------

fn check_yield_loop_does_not_starve(rt: &Runtime) {
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            rt.spawn(async {
                loop {
                    corral::yield_now().await;
                }
            })
        })
        .collect();
    // Spawned after the spinners, from outside and from inside a task.
    let outside = rt.spawn(async {
        for _ in 0..10 {
            corral::yield_now().await;
        }
        "outside"
    });
    let inside = rt.block_on(async {
        corral::spawn(async { corral::spawn(async { "inside" }).await.unwrap() })
            .await
            .unwrap()
    });
    assert_eq!(inside, "inside");
    assert_eq!(rt.block_on(outside).unwrap(), "outside");
    // A task spinning on a flag set by another task (both on this worker).
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let waiter = rt.spawn(async move {
        while !f.load(SeqCst) {
            corral::yield_now().await;
        }
    });
    let f = flag.clone();
    rt.spawn(async move { f.store(true, SeqCst) });
    rt.block_on(waiter).unwrap();
    for s in &spinners {
        s.abort();
    }
    for s in spinners {
        assert!(rt.block_on(s).unwrap_err().is_cancelled());
    }
}

#[test]
fn yield_loop_does_not_starve_others_current_thread() {
    run_with_timeout("yield_starve_current", 20, || {
        check_yield_loop_does_not_starve(&current())
    });
}

#[test]
fn yield_loop_does_not_starve_others_one_worker() {
    run_with_timeout("yield_starve_one_worker", 20, || {
        check_yield_loop_does_not_starve(&multi(1))
    });
}

#[test]
fn yield_loop_does_not_starve_others_two_workers() {
    run_with_timeout("yield_starve_two_workers", 20, || {
        check_yield_loop_does_not_starve(&multi(2))
    });
}

/// Two tasks waking each other forever (each wake goes to the LIFO slot)
/// must not starve queued tasks.
fn check_ping_pong_does_not_starve(rt: &Runtime) {
    let (ping_tx, mut ping_rx) = futures_channel::mpsc::unbounded::<u64>();
    let (pong_tx, mut pong_rx) = futures_channel::mpsc::unbounded::<u64>();
    let rounds = Arc::new(AtomicUsize::new(0));
    let r = rounds.clone();
    let ponger = rt.spawn(async move {
        while let Some(n) = ping_rx.next().await {
            r.fetch_add(1, SeqCst);
            if pong_tx.unbounded_send(n + 1).is_err() {
                break;
            }
        }
    });
    let (victim_tx, victim_rx) = futures_channel::oneshot::channel();
    let pinger = rt.spawn(async move {
        ping_tx.unbounded_send(0).unwrap();
        // Queued behind the ping-pong, on this worker's queue.
        let victim = corral::spawn(async { "queued task ran" });
        victim_tx.send(victim).unwrap();
        while let Some(n) = pong_rx.next().await {
            if ping_tx.unbounded_send(n + 1).is_err() {
                break;
            }
        }
    });
    let out = rt.block_on(async {
        let victim = victim_rx.await.unwrap();
        let remote = corral::spawn(async { "remote task ran" });
        (victim.await.unwrap(), remote.await.unwrap())
    });
    assert_eq!(out, ("queued task ran", "remote task ran"));
    assert!(rounds.load(SeqCst) > 0);
    pinger.abort();
    ponger.abort();
    let _ = rt.block_on(pinger);
    let _ = rt.block_on(ponger);
}

#[test]
fn ping_pong_tasks_do_not_starve_others_one_worker() {
    run_with_timeout("ping_pong_one_worker", 20, || {
        check_ping_pong_does_not_starve(&multi(1))
    });
}

#[test]
fn ping_pong_tasks_do_not_starve_others_current_thread() {
    run_with_timeout("ping_pong_current", 20, || {
        check_ping_pong_does_not_starve(&current())
    });
}

#[test]
fn cooperative_budget_makes_a_busy_task_give_way() {
    // Awaiting already-finished JoinHandles is always ready; the budget
    // must still make the awaiting task yield to the one queued behind it.
    let rt = current();
    let n = 1000;
    let done: Vec<_> = (0..n).map(|i| rt.spawn(async move { i })).collect();
    rt.block_on(async {
        while !done.iter().all(|h| h.is_finished()) {
            corral::yield_now().await;
        }
    });
    let flag = Arc::new(AtomicBool::new(false));
    let first_seen = rt.block_on(async {
        // Both spawned from the runtime thread: `other` is queued right
        // behind `busy` on the same run queue.
        let f = flag.clone();
        let busy = corral::spawn(async move {
            let mut first_seen = None;
            for (i, h) in done.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), i);
                if first_seen.is_none() && f.load(SeqCst) {
                    first_seen = Some(i);
                }
            }
            first_seen
        });
        let f = flag.clone();
        let other = corral::spawn(async move { f.store(true, SeqCst) });
        let first_seen = busy.await.unwrap();
        other.await.unwrap();
        first_seen
    });
    let at = first_seen.expect("the busy task never gave way while awaiting ready JoinHandles");
    assert!(at < n - 1, "gave way only at {at}");
}

// ---- remote spawns and parallelism --------------------------------------------------

fn check_remote_spawns(rt: &Runtime) {
    let ran = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = thread::scope(|s| {
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let h = rt.handle().clone();
                let ran = ran.clone();
                s.spawn(move || {
                    (0..1000u64)
                        .map(|i| {
                            let ran = ran.clone();
                            h.spawn(async move {
                                ran.fetch_add(1, SeqCst);
                                t * 1000 + i
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    let outs = rt.block_on(async move {
        let mut outs = Vec::new();
        for h in handles {
            outs.push(h.await.unwrap());
        }
        outs
    });
    assert_eq!(outs, (0..4000).collect::<Vec<u64>>());
    assert_eq!(ran.load(SeqCst), 4000);
}

#[test]
fn remote_spawns_from_four_threads_all_run_multi_thread() {
    run_with_timeout("remote_spawn_multi", 30, || check_remote_spawns(&multi(2)));
}

#[test]
fn remote_spawns_from_four_threads_all_run_current_thread() {
    run_with_timeout("remote_spawn_current", 30, || check_remote_spawns(&current()));
}

#[test]
fn remote_spawns_while_a_current_thread_runtime_is_driven() {
    run_with_timeout("remote_spawn_driven", 30, || {
        let rt = current();
        let h = rt.handle().clone();
        let (handles_tx, handles_rx) = futures_channel::oneshot::channel();
        let spawner = thread::spawn(move || {
            let hs: Vec<_> = (0..1000u32).map(|i| h.spawn(async move { i })).collect();
            handles_tx.send(hs).unwrap();
        });
        let sum = rt.block_on(async {
            let mut sum = 0;
            for h in handles_rx.await.unwrap() {
                sum += h.await.unwrap();
            }
            sum
        });
        spawner.join().unwrap();
        assert_eq!(sum, (0..1000).sum::<u32>());
    });
}

#[test]
fn tasks_run_on_more_than_one_worker() {
    run_with_timeout("more_than_one_worker", 30, || {
        let rt = multi(2);
        let ids = rt.block_on(async {
            let hs: Vec<_> = (0..200)
                .map(|_| {
                    corral::spawn(async {
                        thread::sleep(Duration::from_millis(1));
                        thread::current().id()
                    })
                })
                .collect();
            let mut ids = HashSet::new();
            for h in hs {
                ids.insert(h.await.unwrap());
            }
            ids
        });
        assert!(
            ids.len() >= 2,
            "200 blocking tasks all ran on {} worker(s)",
            ids.len()
        );
        assert!(ids.len() <= 2);
        assert!(!ids.contains(&thread::current().id()));
    });
}

#[test]
fn two_workers_run_tasks_in_parallel() {
    // Two tasks that each block until the other has started: only possible
    // if they run at the same time on different workers.
    run_with_timeout("parallel_rendezvous", 30, || {
        let rt = multi(2);
        for _ in 0..20 {
            let arrived = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let a = arrived.clone();
                    rt.spawn(async move {
                        a.fetch_add(1, SeqCst);
                        (spin_until(|| a.load(SeqCst) == 2), thread::current().id())
                    })
                })
                .collect();
            let mut threads = HashSet::new();
            for h in hs {
                let (met, id) = rt.block_on(h).unwrap();
                assert!(met, "the two tasks never ran at the same time");
                threads.insert(id);
            }
            assert_eq!(threads.len(), 2);
        }
    });
}

#[test]
fn child_spawned_by_a_blocked_task_is_stolen() {
    // The child lands in the parent's local queue; the parent then blocks
    // its worker, so the other worker must be woken to steal the child.
    run_with_timeout("steal_child", 30, || {
        let rt = multi(2);
        for i in 0..50 {
            let ok = rt.block_on(rt.spawn(async move {
                let flag = Arc::new(AtomicBool::new(false));
                let f = flag.clone();
                let child = corral::spawn(async move { f.store(true, SeqCst) });
                let ran = spin_until(|| flag.load(SeqCst));
                child.await.unwrap();
                ran
            }));
            assert!(
                ok.unwrap(),
                "iteration {i}: the child was never stolen by the idle worker"
            );
        }
    });
}

#[test]
fn block_on_from_several_threads_of_a_multi_thread_runtime() {
    run_with_timeout("block_on_several", 30, || {
        let rt = multi(2);
        thread::scope(|s| {
            for t in 0..4u32 {
                let rt = &rt;
                s.spawn(move || {
                    let v = rt.block_on(async move {
                        let hs: Vec<_> = (0..500u32).map(|i| corral::spawn(async move { i + t })).collect();
                        let mut sum = 0;
                        for h in hs {
                            sum += h.await.unwrap();
                        }
                        sum
                    });
                    assert_eq!(v, (0..500).map(|i| i + t).sum::<u32>());
                });
            }
        });
    });
}

#[test]
fn current_thread_block_on_from_two_threads() {
    // Only one block_on drives the tasks at a time; the other must still
    // finish (its tasks run on the driving thread, or once it takes over).
    run_with_timeout("current_two_block_on", 30, || {
        let rt = current();
        let (release_tx, release_rx) = futures_channel::oneshot::channel::<()>();
        let (driving_tx, driving_rx) = mpsc::channel();
        thread::scope(|s| {
            let rt = &rt;
            let first = s.spawn(move || {
                rt.block_on(async move {
                    driving_tx.send(()).unwrap();
                    release_rx.await.unwrap();
                    "first"
                })
            });
            driving_rx.recv().unwrap();
            let second = s.spawn(move || {
                rt.block_on(async move {
                    let hs: Vec<_> = (0..100u32).map(|i| corral::spawn(async move { i })).collect();
                    let mut sum = 0;
                    for h in hs {
                        sum += h.await.unwrap();
                    }
                    release_tx.send(()).unwrap();
                    sum
                })
            });
            assert_eq!(second.join().unwrap(), 4950);
            assert_eq!(first.join().unwrap(), "first");
        });
        // The core came back: the runtime still works.
        assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    });
}

// ---- wakes ---------------------------------------------------------------------

/// Pending until `flag` is set; stores the waker for someone else to wake.
struct WaitFlag {
    flag: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    polls: usize,
}

impl Future for WaitFlag {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        // The flag first, then the waker: a waker thread sets the flag only
        // after taking the stored waker, so a poll that publishes its
        // waker always returns Pending and the wake must poll it again.
        // (Publishing first let the first poll see the flag already set:
        // `polls >= 2` failed about once in six runs.)
        if self.flag.load(SeqCst) {
            return Poll::Ready(self.polls);
        }
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn check_foreign_wake(rt: &Runtime, by_value: bool) {
    let flag = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None::<Waker>));
    let (f, s) = (flag.clone(), slot.clone());
    let task = rt.spawn(async move {
        let polls = WaitFlag {
            flag: f,
            slot: s,
            polls: 0,
        }
        .await;
        (polls, thread::current().name().map(str::to_owned))
    });
    let (f, s) = (flag.clone(), slot.clone());
    let waker_thread = thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let waker = loop {
            if let Some(w) = s.lock().unwrap().take() {
                break w;
            }
            assert!(Instant::now() < deadline, "the task never stored a waker");
            thread::yield_now();
        };
        f.store(true, SeqCst);
        if by_value {
            waker.wake();
        } else {
            waker.wake_by_ref();
        }
    });
    let (polls, _name) = rt.block_on(task).unwrap();
    waker_thread.join().unwrap();
    assert!(polls >= 2);
}

#[test]
fn wake_from_a_foreign_thread_reschedules_the_task_multi_thread() {
    run_with_timeout("foreign_wake_multi", 30, || {
        let rt = multi(2);
        for i in 0..100 {
            check_foreign_wake(&rt, i % 2 == 0);
        }
    });
}

#[test]
fn wake_from_a_foreign_thread_reschedules_the_task_current_thread() {
    run_with_timeout("foreign_wake_current", 30, || {
        let rt = current();
        for i in 0..100 {
            check_foreign_wake(&rt, i % 2 == 0);
        }
    });
}

#[test]
fn many_concurrent_wakes_of_one_task_run_it_again() {
    // Hammer one task's waker from several threads: it must keep running
    // (no lost or double scheduling) and finish.
    run_with_timeout("wake_hammer", 30, || {
        let rt = multi(2);
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let flag = Arc::new(AtomicBool::new(false));
        let (f, s) = (flag.clone(), slot.clone());
        let task = rt.spawn(async move {
            let mut polls = 0;
            for _ in 0..200 {
                polls += WaitFlag {
                    flag: f.clone(),
                    slot: s.clone(),
                    polls: 0,
                }
                .await;
                f.store(false, SeqCst);
            }
            polls
        });
        let stop = Arc::new(AtomicBool::new(false));
        thread::scope(|sc| {
            for _ in 0..3 {
                let (f, s, stop) = (flag.clone(), slot.clone(), stop.clone());
                sc.spawn(move || {
                    while !stop.load(SeqCst) {
                        let w = s.lock().unwrap().clone();
                        if let Some(w) = w {
                            f.store(true, SeqCst);
                            w.wake_by_ref();
                            w.wake();
                        }
                        thread::yield_now();
                    }
                });
            }
            let polls = rt.block_on(task).unwrap();
            stop.store(true, SeqCst);
            assert!(polls >= 200);
        });
    });
}

fn check_wake_chain(rt: &Runtime) {
    let n = 1000;
    let (first_tx, mut rx) = futures_channel::oneshot::channel::<u64>();
    let mut hs = Vec::new();
    for _ in 0..n {
        let (tx, next_rx) = futures_channel::oneshot::channel::<u64>();
        let prev = std::mem::replace(&mut rx, next_rx);
        hs.push(rt.spawn(async move {
            let v = prev.await.unwrap();
            tx.send(v + 1).unwrap();
        }));
    }
    first_tx.send(0).unwrap();
    assert_eq!(rt.block_on(rx).unwrap(), n);
    for h in hs {
        rt.block_on(h).unwrap();
    }
}

#[test]
fn wake_chain_through_a_thousand_tasks() {
    run_with_timeout("wake_chain", 30, || {
        check_wake_chain(&multi(2));
        check_wake_chain(&current());
    });
}

// ---- Builder -------------------------------------------------------------------

#[test]
fn builder_refuses_zero_worker_threads() {
    let err = Builder::new_multi_thread().worker_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("worker_threads"), "{err}");
    // Ignored by a current-thread runtime.
    let rt = Builder::new_current_thread().worker_threads(0).build().unwrap();
    assert_eq!(rt.block_on(async { 1 }), 1);
}

#[test]
fn builder_thread_name_and_num_workers() {
    run_with_timeout("builder_names", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rt-sched-test")
            .build()
            .unwrap();
        assert_eq!(rt.handle().num_workers(), 2);
        assert_eq!(rt.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        let names: HashSet<String> = rt.block_on(async {
            let hs: Vec<_> = (0..200)
                .map(|_| {
                    corral::spawn(async {
                        thread::sleep(Duration::from_micros(500));
                        thread::current().name().unwrap_or("<unnamed>").to_owned()
                    })
                })
                .collect();
            let mut names = HashSet::new();
            for h in hs {
                names.insert(h.await.unwrap());
            }
            names
        });
        for name in &names {
            assert!(
                name == "rt-sched-test-0" || name == "rt-sched-test-1",
                "unexpected worker thread name {name:?}"
            );
        }

        let rt = multi(1);
        let name = rt
            .block_on(rt.spawn(async { thread::current().name().map(str::to_owned) }))
            .unwrap();
        assert_eq!(name.as_deref(), Some("corral-worker-0"));

        let rt = current();
        assert_eq!(rt.handle().num_workers(), 1);
        assert_eq!(rt.handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
        assert!(format!("{:?}", rt.handle()).contains("CurrentThread"));
    });
}

#[test]
fn builder_thread_stack_size() {
    run_with_timeout("stack_size", 20, || {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_stack_size(16 << 20)
            .build()
            .unwrap();
        // Uses more than 2.4 MiB of stack: more than the 2 MiB default.
        let v = rt
            .block_on(rt.spawn(async {
                fn deep(n: u32) -> u64 {
                    let buf = [n as u8; 4096];
                    let below = if n == 0 { 0 } else { deep(n - 1) };
                    below + std::hint::black_box(&buf).iter().map(|&b| b as u64).sum::<u64>() / 4096
                }
                deep(600)
            }))
            .unwrap();
        assert_eq!(v, (0..=600u64).map(|n| n % 256).sum::<u64>());
    });
}

fn check_num_alive_tasks(rt: &Runtime) {
    let handle = rt.handle().clone();
    assert_eq!(handle.num_alive_tasks(), 0);
    let (txs, hs): (Vec<_>, Vec<_>) = (0..10)
        .map(|_| {
            let (tx, rx) = futures_channel::oneshot::channel::<()>();
            (tx, rt.spawn(async move { rx.await.unwrap() }))
        })
        .unzip();
    assert_eq!(handle.num_alive_tasks(), 10);
    for tx in txs {
        tx.send(()).unwrap();
    }
    rt.block_on(async {
        for h in hs {
            h.await.unwrap();
        }
    });
    // Every task has been joined: none is alive any more.
    assert_eq!(handle.num_alive_tasks(), 0);

    // Detached tasks are counted until they finish.
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    let (done_tx, done_rx) = futures_channel::oneshot::channel::<()>();
    drop(rt.spawn(async move {
        rx.await.unwrap();
        done_tx.send(()).unwrap();
    }));
    assert_eq!(handle.num_alive_tasks(), 1);
    tx.send(()).unwrap();
    rt.block_on(async {
        done_rx.await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while handle.num_alive_tasks() != 0 {
            assert!(
                Instant::now() < deadline,
                "a finished detached task is still counted"
            );
            corral::yield_now().await;
            thread::yield_now();
        }
    });
}

#[test]
fn num_alive_tasks_goes_to_zero_after_tasks_finish() {
    run_with_timeout("num_alive", 20, || {
        check_num_alive_tasks(&multi(2));
        check_num_alive_tasks(&current());
    });
}

#[test]
fn builder_refuses_too_many_worker_threads() {
    let err = Builder::new_multi_thread()
        .worker_threads(1 << 20)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("worker_threads"), "{err}");
}

// ---- more workers than cores, several runtimes ----------------------------------------

#[test]
fn eight_workers_on_few_cores() {
    // More workers than CPUs: parking, searching and stealing under
    // oversubscription. Tasks spawn children, yield and wake each other.
    run_with_timeout("eight_workers", 60, || {
        let rt = multi(8);
        assert_eq!(rt.handle().num_workers(), 8);
        let total = rt.block_on(async {
            let hs: Vec<_> = (0..200u64)
                .map(|i| {
                    corral::spawn(async move {
                        let (tx, rx) = futures_channel::oneshot::channel();
                        let child = corral::spawn(async move {
                            corral::yield_now().await;
                            tx.send(i).unwrap();
                            i
                        });
                        let mut sum = rx.await.unwrap();
                        for j in 0..20u64 {
                            sum += corral::spawn(async move { j }).await.unwrap();
                            if j % 5 == 0 {
                                corral::yield_now().await;
                            }
                        }
                        sum + child.await.unwrap()
                    })
                })
                .collect();
            let mut total = 0;
            for h in hs {
                total += h.await.unwrap();
            }
            total
        });
        assert_eq!(total, (0..200u64).map(|i| 2 * i + 190).sum::<u64>());
        check_wake_chain(&rt);
        let mut threads = HashSet::new();
        for _ in 0..5 {
            let arrived = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let a = arrived.clone();
                    rt.spawn(async move {
                        a.fetch_add(1, SeqCst);
                        (spin_until(|| a.load(SeqCst) == 4), thread::current().id())
                    })
                })
                .collect();
            for h in hs {
                let (met, id) = rt.block_on(h).unwrap();
                assert!(met, "four tasks never ran at the same time on eight workers");
                threads.insert(id);
            }
        }
        assert!(threads.len() >= 4);
    });
}

#[test]
fn tasks_of_two_runtimes_join_each_other() {
    run_with_timeout("two_runtimes", 30, || {
        let mt = multi(2);
        let ct = current();
        let (tx, rx) = futures_channel::oneshot::channel::<u32>();
        // A multi-thread task that waits for a value from the other runtime.
        let on_mt = mt.spawn(async move { rx.await.unwrap() * 2 });
        // A current-thread task that sends it, then joins the first one.
        let on_ct = ct.spawn(async move {
            tx.send(21).unwrap();
            on_mt.await.unwrap()
        });
        assert_eq!(ct.block_on(on_ct).unwrap(), 42);
        // And the other way round: a multi-thread task joins a task of the
        // current-thread runtime, which runs while that runtime is driven.
        let on_ct = ct.spawn(async { corral::task::try_id().is_some() });
        let on_mt = mt.spawn(async move { on_ct.await.unwrap() });
        ct.block_on(async {
            for _ in 0..10 {
                corral::yield_now().await;
            }
        });
        assert!(mt.block_on(on_mt).unwrap());
    });
}
