//! `corral::task::TaskGroup` and `scope`: fail-fast cancellation of
//! siblings waiting on sleep, I/O, a Mutex and a Queue; the error group;
//! results in spawn order; nesting three levels deep; drop without join;
//! `start`; 100,000 children; panics; deadlines. Every test runs on both
//! runtime flavours.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use corral::io::{AsyncReadExt, AsyncWriteExt};
use corral::net::{TcpListener, TcpStream};
use corral::sync::{Mutex, Queue};
use corral::task::{scope, ChildErrorKind, TaskGroup};
use corral::Runtime;

#[allow(dead_code)]
mod common;
use common::{current, multi, run_with_timeout, DropCounter};

fn both() -> [(&'static str, Runtime); 2] {
    [("multi", multi(2)), ("current", current())]
}

fn on_both(name: &'static str, f: fn(&Runtime)) {
    run_with_timeout(name, 60, move || {
        for (flavour, rt) in both() {
            eprintln!("{name}: {flavour}");
            f(&rt);
        }
    });
}

/// Sets its flag when dropped: "this future's destructors ran".
struct Flag(Arc<AtomicBool>);
impl Drop for Flag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

// ---- fail-fast -------------------------------------------------------------

#[test]
fn failing_child_cancels_siblings_waiting_on_sleep_io_mutex_and_queue() {
    on_both("fail_fast", |rt| {
        rt.block_on(async {
            let mutex = Arc::new(Mutex::new(0u32));
            let queue = Arc::new(Queue::<u32>::unbounded());
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (_server_side, _) = listener.accept().await.unwrap();
            let held = mutex.clone().lock_owned().await;

            let dropped: Vec<Arc<AtomicBool>> = (0..4).map(|_| Arc::new(AtomicBool::new(false))).collect();
            let reached = Arc::new(AtomicUsize::new(0));
            let mut group = TaskGroup::<(), String>::new();
            {
                let (flag, reached) = (Flag(dropped[0].clone()), reached.clone());
                group.spawn_named("sleeper", async move {
                    let _flag = flag;
                    reached.fetch_add(1, SeqCst);
                    corral::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                });
            }
            {
                let (flag, reached) = (Flag(dropped[1].clone()), reached.clone());
                let mut client = client;
                group.spawn_named("reader", async move {
                    let _flag = flag;
                    reached.fetch_add(1, SeqCst);
                    let mut buf = [0; 8];
                    let _ = client.read(&mut buf).await;
                    Ok(())
                });
            }
            {
                let (flag, reached, mutex) = (Flag(dropped[2].clone()), reached.clone(), mutex.clone());
                group.spawn_named("locker", async move {
                    let _flag = flag;
                    reached.fetch_add(1, SeqCst);
                    *mutex.lock().await += 1;
                    Ok(())
                });
            }
            {
                let (flag, reached, queue) = (Flag(dropped[3].clone()), reached.clone(), queue.clone());
                group.spawn_named("getter", async move {
                    let _flag = flag;
                    reached.fetch_add(1, SeqCst);
                    let _ = queue.get().await;
                    Ok(())
                });
            }
            // Let every sibling reach its wait, then fail.
            while reached.load(SeqCst) < 4 || mutex.statistics().tasks_waiting < 1 {
                corral::yield_now().await;
            }
            while queue.statistics().tasks_waiting_receive < 1 {
                corral::yield_now().await;
            }
            group.spawn_named("failer", async { Err("boom".to_string()) });

            let err = group.join().await.unwrap_err();
            // join returned: every sibling's future is gone.
            for (i, d) in dropped.iter().enumerate() {
                assert!(d.load(SeqCst), "sibling {i} still alive after join");
            }
            assert_eq!(err.failures().len(), 1, "{err}");
            let first = err.first().unwrap();
            assert_eq!(first.name(), Some("failer"));
            assert_eq!(first.error().map(String::as_str), Some("boom"));
            assert_eq!(err.cancelled(), 4);
            assert!(!err.is_timeout());

            // The primitives are exactly as if never asked.
            let stats = mutex.statistics();
            assert_eq!(stats.tasks_waiting, 0);
            drop(held);
            assert_eq!(*mutex.lock().await, 0, "the cancelled locker never got the lock");
            let qstats = queue.statistics();
            assert_eq!(qstats.tasks_waiting_receive, 0);
            queue.put(7).await.unwrap();
            assert_eq!(
                queue.get().await.unwrap(),
                7,
                "the item was not swallowed by a cancelled getter"
            );
        });
    });
}

#[test]
fn every_failure_is_reported_first_one_first() {
    // Two children fail at once on two workers (a std barrier holds both
    // in their poll); the second fails in the same poll in which it sees
    // the first one's failure cancel the group, so it fails before it can
    // be cancelled: both failures must be in the error group, first first.
    run_with_timeout("all_failures", 30, || {
        let rt = multi(2);
        rt.block_on(async {
            for _ in 0..20 {
                let barrier = Arc::new(Barrier::new(2));
                let mut group = TaskGroup::<(), &'static str>::new();
                let b = barrier.clone();
                group.spawn_named("a", async move {
                    b.wait();
                    Err("a failed")
                });
                let (b, token) = (barrier.clone(), group.token());
                group.spawn_named("b", async move {
                    b.wait();
                    // Still inside this poll: wait (not yield) for "a"'s
                    // failure to be recorded and to cancel the group.
                    while !token.is_cancelled() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    panic!("b panicked");
                });
                let err = group.join().await.unwrap_err();
                assert_eq!(err.failures().len(), 2, "{err}");
                assert_eq!(err.failures()[0].name(), Some("a"));
                assert!(err.failures()[1].is_panic());
                let text = err.to_string();
                assert!(text.contains("2 task group children failed"), "{text}");
                assert!(
                    text.contains("(a) failed: a failed") && text.contains("(b) panicked: b panicked"),
                    "{text}"
                );
            }
        });
    });
}

#[test]
fn results_come_back_in_spawn_order() {
    on_both("spawn_order", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<usize, ()>::new();
            for i in 0..50 {
                group.spawn(async move {
                    corral::time::sleep(Duration::from_millis(((50 - i) % 7) as u64)).await;
                    Ok(i)
                });
            }
            assert_eq!(group.len(), 50);
            assert_eq!(group.join().await.unwrap(), (0..50).collect::<Vec<_>>());
            assert!(group.is_empty());
        });
    });
}

#[test]
fn join_next_is_completion_order_and_join_returns_the_rest() {
    on_both("join_next", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<u32, ()>::new();
            group.spawn(async {
                corral::time::sleep(Duration::from_millis(60)).await;
                Ok(3)
            });
            group.spawn(async { Ok(1) });
            group.spawn(async {
                corral::time::sleep(Duration::from_millis(20)).await;
                Ok(2)
            });
            assert_eq!(group.join_next().await.unwrap().unwrap(), 1);
            assert_eq!(group.len(), 2);
            assert_eq!(group.join_next().await.unwrap().unwrap(), 2);
            assert_eq!(group.join().await.unwrap(), vec![3]);
            assert!(group.join_next().await.is_none());
        });
    });
}

// ---- panics --------------------------------------------------------------

#[test]
fn a_panicking_child_is_a_failure_with_its_name_id_and_spawn_site() {
    on_both("panic", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<(), String>::new();
            let line = line!() + 1;
            group.spawn_named("parser", async { panic!("unexpected byte") });
            group.spawn(std::future::pending());
            let err = group.join().await.unwrap_err();
            let first = err.first().unwrap();
            assert!(first.is_panic());
            assert_eq!(first.name(), Some("parser"));
            assert_eq!(first.spawned_at().line(), line);
            assert!(first.spawned_at().file().ends_with("task_group.rs"));
            match first.kind() {
                ChildErrorKind::Panicked(p) => assert_eq!(p.message(), Some("unexpected byte")),
                other => panic!("{other:?}"),
            }
            assert!(err.to_string().contains(&first.id().to_string()));
            assert_eq!(err.cancelled(), 1);
        });
        // The runtime is fine afterwards.
        assert_eq!(
            rt.block_on(async { corral::spawn(async { 5 }).await.unwrap() }),
            5
        );
    });
}

// ---- nesting -------------------------------------------------------------

#[test]
fn cancelling_reaches_three_levels_down_and_join_waits_for_all_of_them() {
    on_both("three_levels", |rt| {
        rt.block_on(async {
            let probe = Arc::new(());
            let bottoms = Arc::new(AtomicUsize::new(0));
            let mut top = TaskGroup::<(), ()>::new();
            for _ in 0..3 {
                let (probe, bottoms) = (probe.clone(), bottoms.clone());
                top.spawn(async move {
                    let mut middle = TaskGroup::<(), ()>::new();
                    for _ in 0..3 {
                        let (probe, bottoms) = (probe.clone(), bottoms.clone());
                        middle.spawn(async move {
                            let mut bottom = TaskGroup::<(), ()>::new();
                            for _ in 0..3 {
                                let (probe, bottoms) = (probe.clone(), bottoms.clone());
                                bottom.spawn(async move {
                                    let _probe = probe;
                                    bottoms.fetch_add(1, SeqCst);
                                    std::future::pending::<()>().await;
                                    Ok(())
                                });
                            }
                            bottom.join().await.map(drop).map_err(drop)
                        });
                    }
                    middle.join().await.map(drop).map_err(drop)
                });
            }
            while bottoms.load(SeqCst) < 27 {
                corral::time::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(Arc::strong_count(&probe), 1 + 3 + 9 + 27);
            top.cancel();
            let err = top.join().await.unwrap_err();
            assert_eq!(err.cancelled(), 3);
            // No sleep, no polling: join itself waited for the grandchildren's
            // grandchildren to be dropped.
            assert_eq!(
                Arc::strong_count(&probe),
                1,
                "a descendant outlived the top group's join"
            );
        });
    });
}

#[test]
fn outer_join_waits_for_grandchildren_dropped_by_a_cancelled_child() {
    // A grandchild whose destructor takes a while: the outer join must not
    // return before it has run, although the outer group only knows the
    // child (whose future dropped the inner group, which merely aborts).
    on_both("grandchild_drop", |rt| {
        rt.block_on(async {
            struct SlowDrop(Arc<AtomicBool>);
            impl Drop for SlowDrop {
                fn drop(&mut self) {
                    std::thread::sleep(Duration::from_millis(50));
                    self.0.store(true, SeqCst);
                }
            }
            let gone = Arc::new(AtomicBool::new(false));
            let started = Arc::new(AtomicBool::new(false));
            let mut outer = TaskGroup::<(), ()>::new();
            {
                let (gone, started) = (gone.clone(), started.clone());
                outer.spawn(async move {
                    let mut inner = TaskGroup::<(), ()>::new();
                    inner.spawn(async move {
                        let _slow = SlowDrop(gone);
                        started.store(true, SeqCst);
                        std::future::pending::<()>().await;
                        Ok(())
                    });
                    inner.join().await.map(drop).map_err(drop)
                });
            }
            while !started.load(SeqCst) {
                corral::time::sleep(Duration::from_millis(1)).await;
            }
            outer.cancel();
            let _ = outer.join().await;
            assert!(
                gone.load(SeqCst),
                "outer join returned before the grandchild was dropped"
            );
        });
    });
}

/// A group opened inside a child that outlives the child (returned as its
/// value, handed out through `start`, or kept by a plain task) no longer
/// holds up the enclosing group's `join`: only groups dropped inside the
/// child are waited for. (On main, each of these `join`s waited forever.)
#[test]
fn a_group_that_escapes_its_child_does_not_hold_up_the_outer_join() {
    on_both("escaped_group", |rt| {
        rt.block_on(async {
            // Returned as the child's value.
            let mut outer = TaskGroup::<TaskGroup<(), ()>, ()>::new();
            outer.spawn(async { Ok(TaskGroup::<(), ()>::new()) });
            let joined = corral::time::timeout(Duration::from_secs(10), outer.join()).await;
            let mut escaped = joined.expect("outer join hung on a returned group").unwrap();
            assert_eq!(escaped.len(), 1);
            // The escaped group still works on its own.
            let mut inner = escaped.pop().unwrap();
            inner.spawn(async { Ok(()) });
            inner.join().await.unwrap();

            // Handed out through `start` while the child keeps running.
            let mut outer = TaskGroup::<(), ()>::new();
            let server = outer
                .start(|ready| async move {
                    let inner = TaskGroup::<(), ()>::new();
                    inner.spawn(async { Ok(()) });
                    ready.started(inner);
                    Ok(())
                })
                .await
                .unwrap();
            let joined = corral::time::timeout(Duration::from_secs(10), outer.join()).await;
            joined
                .expect("outer join hung on a group handed out by start")
                .unwrap();
            drop(server);

            // Kept alive by a plain task after the child returned.
            let mut outer = TaskGroup::<(), ()>::new();
            let (tx, rx) = corral::sync::oneshot::channel();
            outer.spawn(async move {
                let inner = TaskGroup::<(), ()>::new();
                corral::spawn(async move {
                    let _keep = inner;
                    let _ = rx.await;
                });
                Ok(())
            });
            let joined = corral::time::timeout(Duration::from_secs(10), outer.join()).await;
            joined
                .expect("outer join hung on a group kept by another task")
                .unwrap();
            tx.send(()).unwrap();
        });
    });
}

#[test]
fn an_inner_group_token_is_a_child_of_the_outer_one() {
    on_both("inner_token", |rt| {
        rt.block_on(async {
            let mut outer = TaskGroup::<bool, ()>::new();
            let outer_token = outer.token();
            outer.spawn(async move {
                let inner = TaskGroup::<(), ()>::new();
                let t = inner.token();
                outer_token.cancel();
                // The inner token saw the outer cancellation at once.
                Ok(t.is_cancelled())
            });
            // The child finished in the poll that cancelled: its value stands.
            assert_eq!(outer.join().await.unwrap(), vec![true]);
        });
    });
}

// ---- drop --------------------------------------------------------------------

#[test]
fn dropping_a_group_leaves_no_task_alive() {
    on_both("drop_group", |rt| {
        rt.block_on(async {
            let probe = Arc::new(());
            let started = Arc::new(AtomicUsize::new(0));
            let group = TaskGroup::<(), ()>::new();
            for _ in 0..10 {
                let (probe, started) = (probe.clone(), started.clone());
                group.spawn(async move {
                    let _probe = probe;
                    started.fetch_add(1, SeqCst);
                    corral::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                });
            }
            while started.load(SeqCst) < 10 {
                corral::yield_now().await;
            }
            drop(group);
            let t0 = Instant::now();
            while Arc::strong_count(&probe) > 1 || corral::Handle::current().num_alive_tasks() > 0 {
                assert!(
                    t0.elapsed() < Duration::from_secs(10),
                    "children outlived their dropped group"
                );
                corral::time::sleep(Duration::from_millis(1)).await;
            }
        });
    });
}

// ---- start -------------------------------------------------------------------

#[test]
fn start_hands_back_the_bound_port_of_an_echo_server() {
    on_both("start", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<(), std::io::Error>::new();
            let port = group
                .start(|ready| async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await?;
                    ready.started(listener.local_addr()?.port());
                    let (mut conn, _) = listener.accept().await?;
                    let mut buf = [0; 5];
                    conn.read_exact(&mut buf).await?;
                    conn.write_all(&buf).await?;
                    Ok(())
                })
                .await
                .unwrap();
            let mut client = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            client.write_all(b"hello").await.unwrap();
            let mut buf = [0; 5];
            client.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hello");
            group.join().await.unwrap();
        });
    });
}

#[test]
fn start_returns_the_error_of_a_child_that_fails_before_it_is_ready() {
    on_both("start_fail", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<(), String>::new();
            group.spawn(async {
                corral::time::sleep(Duration::from_millis(20)).await;
                Ok(())
            });
            let err = group
                .start(|_ready: corral::task::Ready<u16>| async { Err("bind failed".to_string()) })
                .await
                .unwrap_err();
            assert_eq!(err.error().map(String::as_str), Some("bind failed"));
            // The failure was the caller's: the group goes on undisturbed.
            assert!(!group.token().is_cancelled());
            group.join().await.unwrap();

            let err = group
                .start(|_ready: corral::task::Ready<u16>| async { Ok(()) })
                .await
                .unwrap_err();
            assert!(matches!(err.kind(), ChildErrorKind::NotStarted), "{err:?}");
            group.join().await.unwrap();

            group.spawn(async { Err("other".to_string()) });
            let err = group
                .start(|_ready: corral::task::Ready<u16>| std::future::pending())
                .await
                .unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");
            assert_eq!(group.join().await.unwrap_err().failures().len(), 1);
        });
    });
}

// ---- scale ---------------------------------------------------------------

#[test]
fn one_hundred_thousand_children() {
    on_both("100k", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<u64, ()>::new();
            for i in 0..100_000u64 {
                group.spawn(async move {
                    if i % 1000 == 0 {
                        corral::yield_now().await;
                    }
                    Ok(i)
                });
            }
            let values = group.join().await.unwrap();
            assert_eq!(values.len(), 100_000);
            assert!(values.iter().enumerate().all(|(i, v)| *v == i as u64));
            assert_eq!(corral::Handle::current().num_alive_tasks(), 0);
        });
    });
}

// ---- deadlines ---------------------------------------------------------------

#[test]
fn a_group_deadline_cancels_its_children_and_an_inner_sooner_deadline_wins() {
    on_both("deadline", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<&'static str, ()>::new();
            group.cancel_after(Duration::from_millis(100));
            group.spawn(async {
                // The inner deadline is sooner: it wins, the child moves on.
                let r = corral::time::move_on_after(
                    Duration::from_millis(10),
                    corral::time::sleep(Duration::from_secs(60)),
                )
                .await;
                assert!(r.is_none());
                Ok("moved on")
            });
            let t0 = Instant::now();
            let dropped = Arc::new(AtomicUsize::new(0));
            let d = DropCounter(dropped.clone());
            group.spawn(async move {
                let _d = d;
                corral::time::sleep(Duration::from_secs(60)).await;
                Ok("never")
            });
            let err = group.join().await.unwrap_err();
            assert!(err.is_timeout(), "{err:?}");
            assert_eq!(err.cancelled(), 1);
            assert_eq!(dropped.load(SeqCst), 1);
            assert!(t0.elapsed() >= Duration::from_millis(90));
            assert!(t0.elapsed() < Duration::from_secs(30));
        });
    });
}

#[test]
fn a_group_inside_fail_after_is_cancelled_when_the_outer_deadline_is_sooner() {
    on_both("outer_deadline", |rt| {
        rt.block_on(async {
            let probe = Arc::new(());
            let p = probe.clone();
            let r = corral::time::fail_after(Duration::from_millis(20), async move {
                let mut group = TaskGroup::<(), ()>::new();
                group.cancel_after(Duration::from_secs(60));
                group.spawn(async move {
                    let _p = p;
                    std::future::pending::<()>().await;
                    Ok(())
                });
                group.join().await
            })
            .await;
            assert!(r.is_err());
            let t0 = Instant::now();
            while Arc::strong_count(&probe) > 1 {
                assert!(t0.elapsed() < Duration::from_secs(10));
                corral::time::sleep(Duration::from_millis(1)).await;
            }
        });
    });
}

// ---- scope ---------------------------------------------------------------

#[test]
fn scope_returns_after_every_child_and_a_body_error_cancels_them() {
    on_both("scope", |rt| {
        rt.block_on(async {
            let finished = Arc::new(AtomicUsize::new(0));
            let f = finished.clone();
            let r = scope(async move |tg: &mut TaskGroup<(), String>| {
                for i in 0..5u64 {
                    let f = f.clone();
                    tg.spawn(async move {
                        corral::time::sleep(Duration::from_millis(5 * i)).await;
                        f.fetch_add(1, SeqCst);
                        Ok(())
                    });
                }
                Ok(42)
            })
            .await;
            assert_eq!(r.unwrap(), 42);
            assert_eq!(finished.load(SeqCst), 5);

            let probe = Arc::new(());
            let p = probe.clone();
            let err = scope(async move |tg: &mut TaskGroup<(), String>| {
                tg.spawn(async move {
                    let _p = p;
                    corral::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                });
                corral::yield_now().await;
                Err::<(), _>("body failed".to_string())
            })
            .await
            .unwrap_err();
            assert_eq!(err.scope_error().map(String::as_str), Some("body failed"));
            assert_eq!(err.cancelled(), 1);
            assert_eq!(
                Arc::strong_count(&probe),
                1,
                "scope returned before its child was gone"
            );

            let err = scope(async |tg: &mut TaskGroup<(), String>| {
                tg.spawn(async { Err("child failed".to_string()) });
                Ok(())
            })
            .await
            .unwrap_err();
            assert_eq!(
                err.first().unwrap().error().map(String::as_str),
                Some("child failed")
            );
        });
    });
}

#[test]
fn children_see_the_group_token_and_debug_shows_them() {
    on_both("token_debug", |rt| {
        rt.block_on(async {
            assert!(corral::task::current_token().is_none());
            let mut group = TaskGroup::<&'static str, ()>::new();
            let token = group.token();
            group.spawn_named("watcher", async move {
                // The group's token is reachable from inside without passing it.
                assert!(corral::task::current_token().is_some());
                token.cancelled().await;
                Ok("saw it")
            });
            let text = format!("{group:?}");
            assert!(text.contains("TaskGroup") && text.contains("watcher"), "{text}");
            corral::yield_now().await;
            group.cancel();
            // Either the watcher was aborted first, or it saw the token; never lost.
            match group.join().await {
                Ok(v) => assert_eq!(v, ["saw it"]),
                Err(e) => assert_eq!(e.cancelled(), 1, "{e:?}"),
            }
        });
    });
}

#[test]
fn children_cancelled_after_being_handed_a_lock_permit_or_item_pass_it_on() {
    // Current-thread, so nothing runs between the hand-off and the cancel:
    // each child has been handed what it waited for, but not yet polled.
    run_with_timeout("handed_then_cancelled", 30, || {
        current().block_on(async {
            let mutex = Arc::new(Mutex::new(0u32));
            let sem = Arc::new(corral::sync::Semaphore::new(0));
            let queue = Arc::new(Queue::<u32>::unbounded());
            let held = mutex.clone().lock_owned().await;
            let mut group = TaskGroup::<(), ()>::new();
            {
                let mutex = mutex.clone();
                group.spawn(async move {
                    *mutex.lock().await += 1;
                    Ok(())
                });
            }
            {
                let sem = sem.clone();
                group.spawn(async move {
                    let _p = sem.acquire().await.unwrap();
                    Ok(())
                });
            }
            {
                let queue = queue.clone();
                group.spawn(async move {
                    let _ = queue.get().await;
                    Ok(())
                });
            }
            while mutex.statistics().tasks_waiting < 1
                || sem.statistics().tasks_waiting < 1
                || queue.statistics().tasks_waiting_receive < 1
            {
                corral::yield_now().await;
            }
            drop(held); // hands the lock to the waiting child
            sem.add_permits(1); // hands it the permit
            queue.put_nowait(9).unwrap(); // hands it the item
            group.cancel();
            let err = group.join().await.unwrap_err();
            assert_eq!(err.cancelled(), 3);
            assert_eq!(*mutex.try_lock().expect("the lock was passed on"), 0);
            assert_eq!(sem.available_permits(), 1, "the permit was passed on");
            assert_eq!(queue.get_nowait().ok(), Some(9), "the item was passed on");
        });
    });
}

#[test]
fn dropping_join_or_join_next_midway_loses_no_result() {
    on_both("join_cancel_safe", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<u32, ()>::new();
            // No child can finish before the gate opens, however slowly
            // this thread runs: both timed-out calls below are midway.
            let gate = Arc::new(corral::sync::Event::new());
            for i in 0..20 {
                let gate = gate.clone();
                group.spawn(async move {
                    gate.wait().await;
                    corral::time::sleep(Duration::from_millis((i % 3) as u64 * 10)).await;
                    Ok(i)
                });
            }
            let r = corral::time::move_on_after(Duration::from_millis(1), group.join()).await;
            assert!(r.is_none());
            let r = corral::time::move_on_after(Duration::from_millis(1), group.join_next()).await;
            assert!(r.is_none());
            gate.set();
            let mut first = Vec::new();
            for _ in 0..5 {
                first.push(group.join_next().await.unwrap().unwrap());
            }
            let mut all = group.join().await.unwrap();
            all.extend(first);
            all.sort();
            assert_eq!(all, (0..20).collect::<Vec<_>>());
        });
    });
}

// ---- try_join_next, long-lived groups ----------------------------------------

#[test]
fn try_join_next_returns_finished_children_only() {
    on_both("try_join_next", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<u32, &'static str>::new();
            assert!(group.try_join_next().is_none(), "empty group");
            let (tx, rx) = corral::sync::oneshot::channel::<()>();
            group.spawn(async move {
                let _ = rx.await;
                Ok(2)
            });
            group.spawn(async { Ok(1) });
            // Wait (without joining) until the quick child has finished.
            let deadline = Instant::now() + Duration::from_secs(20);
            let first = loop {
                if let Some(r) = group.try_join_next() {
                    break r;
                }
                assert!(Instant::now() < deadline, "the quick child never showed up");
                corral::time::sleep(Duration::from_millis(1)).await;
            };
            assert_eq!(first.unwrap(), 1);
            assert_eq!(group.len(), 1);
            assert!(
                group.try_join_next().is_none(),
                "the running child is not returned"
            );
            tx.send(()).unwrap();
            assert_eq!(group.join_next().await.unwrap().unwrap(), 2);
            assert!(group.try_join_next().is_none());

            // A failure cancels the siblings; both come back as from join_next.
            group.spawn_named("sleeper", async {
                corral::time::sleep(Duration::from_secs(60)).await;
                Ok(0)
            });
            group.spawn_named("failer", async { Err("boom") });
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            while seen.len() < 2 && Instant::now() < deadline {
                match group.try_join_next() {
                    Some(Err(e)) => seen.push((e.name().map(str::to_owned), format!("{:?}", e.kind()))),
                    Some(Ok(v)) => panic!("unexpected value {v}"),
                    None => corral::time::sleep(Duration::from_millis(1)).await,
                }
            }
            assert_eq!(seen.len(), 2, "{seen:?}");
            // The sleeper may be gone before the failer's task is.
            seen.sort();
            assert_eq!(seen[0].0.as_deref(), Some("failer"));
            assert!(seen[0].1.contains("Failed"), "{seen:?}");
            assert_eq!(seen[1].0.as_deref(), Some("sleeper"));
            assert!(seen[1].1.contains("Cancelled"), "{seen:?}");
            assert!(group.is_empty());
            assert!(group.try_join_next().is_none());
        });
    });
}

#[test]
fn a_unit_group_of_100k_sequential_children_stays_bounded() {
    on_both("reap_100k", |rt| {
        rt.block_on(async {
            let group = TaskGroup::<(), ()>::new();
            let finished = Arc::new(AtomicUsize::new(0));
            let mut most = 0;
            for i in 0..100_000 {
                let done = finished.clone();
                group.spawn(async move {
                    done.fetch_add(1, SeqCst);
                    Ok(())
                });
                while finished.load(SeqCst) <= i {
                    corral::yield_now().await;
                }
                most = most.max(group.retained());
            }
            assert!(most <= 64, "the group held {most} slots for one child at a time");
            // Nothing was lost: join still counts every child.
            let mut group = group;
            assert_eq!(group.len(), 100_000);
            assert_eq!(group.join().await.unwrap().len(), 100_000);
            assert_eq!(group.retained(), 0);
        });
    });
}

#[test]
fn reaped_unit_children_still_come_back_from_join_next_in_completion_order() {
    on_both("reap_join_next", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<(), &'static str>::new();
            // Two batches, each finished before the next is spawned: the
            // second reuses the slots of the first (reaped as the slab
            // would grow).
            for _ in 0..2 {
                for _ in 0..100 {
                    group.spawn(async { Ok(()) });
                }
                corral::time::sleep(Duration::from_millis(30)).await;
            }
            group.spawn(async { Err("late") });
            corral::time::sleep(Duration::from_millis(30)).await;
            assert!(group.retained() < 201, "{}", group.retained());
            assert_eq!(group.len(), 201);
            for _ in 0..200 {
                group.join_next().await.unwrap().unwrap();
            }
            let err = group.join_next().await.unwrap().unwrap_err();
            assert!(matches!(err.kind(), ChildErrorKind::Failed("late")));
            assert!(group.join_next().await.is_none());
            assert!(group.is_empty());
        });
    });
}

#[test]
fn slots_freed_by_join_next_are_reused_and_join_keeps_spawn_order() {
    on_both("slot_reuse", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<u32, ()>::new();
            group.spawn(async {
                corral::time::sleep(Duration::from_millis(40)).await;
                Ok(0)
            });
            group.spawn(async { Ok(1) });
            assert_eq!(group.join_next().await.unwrap().unwrap(), 1);
            for i in 2..6 {
                group.spawn(async move { Ok(i) }); // the first reuses slot 1
            }
            assert_eq!(group.retained(), 5);
            assert_eq!(group.join().await.unwrap(), vec![0, 2, 3, 4, 5]);
        });
    });
}

#[test]
fn cancel_at_cancels_at_the_instant_and_replaces_cancel_after() {
    on_both("cancel_at", |rt| {
        rt.block_on(async {
            // A deadline in the future: the group is cancelled at it.
            let deadline = corral::time::Instant::now() + Duration::from_millis(50);
            let mut group = TaskGroup::<(), ()>::new();
            group.cancel_after(Duration::from_secs(3600));
            group.cancel_at(deadline); // replaces the hour
            assert_eq!(group.deadline(), Some(deadline));
            group.spawn(async {
                corral::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            });
            let err = group.join().await.unwrap_err();
            assert!(err.is_timeout());
            assert_eq!(err.cancelled(), 1);
            assert!(corral::time::Instant::now() >= deadline);
            assert_eq!(group.deadline(), None);

            // A deadline already past: cancelled at once.
            let mut group = TaskGroup::<(), ()>::new();
            group.cancel_at(corral::time::Instant::now() - Duration::from_millis(1));
            group.spawn(async {
                corral::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            });
            let t0 = Instant::now();
            assert!(group.join().await.unwrap_err().is_timeout());
            assert!(t0.elapsed() < Duration::from_secs(30));

            // cancel_after replaces cancel_at, and a far deadline is no deadline.
            // (Not a deadline already past: that one may fire on another
            // worker before the next line replaces it, which is allowed.)
            let mut group = TaskGroup::<u8, ()>::new();
            group.cancel_at(corral::time::Instant::now() + Duration::from_millis(200));
            group.cancel_after(Duration::MAX);
            group.spawn(async {
                corral::time::sleep(Duration::from_millis(400)).await;
                Ok(7)
            });
            assert_eq!(group.join().await.unwrap(), vec![7]);
        });
    });
}

#[test]
fn join_keeps_spawn_order_when_every_freed_slot_was_reused() {
    on_both("slot_reuse_all", |rt| {
        rt.block_on(async {
            let mut group = TaskGroup::<u32, ()>::new();
            group.spawn(async { Ok(0) });
            for i in 1..3 {
                group.spawn(async move {
                    corral::time::sleep(Duration::from_millis(40)).await;
                    Ok(i)
                });
            }
            assert_eq!(group.join_next().await.unwrap().unwrap(), 0);
            group.spawn(async { Ok(3) }); // takes slot 0: no free slot left
            assert_eq!(group.retained(), 3);
            assert_eq!(group.join().await.unwrap(), vec![1, 2, 3]);
        });
    });
}
