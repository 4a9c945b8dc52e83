//! The thread's runtime context: `Handle::enter` guards, `try_current`,
//! and dropping a runtime where blocking is not allowed.

use std::panic::{self, AssertUnwindSafe};

use corral::Handle;

#[allow(dead_code)]
mod common;
use common::{current, ms, multi, panic_message};

fn same_runtime(a: &Handle, b: &Handle) -> bool {
    // Two handles of one runtime spawn onto the same task count.
    let before = b.num_alive_tasks();
    let t = a.spawn(std::future::pending::<()>());
    let same = b.num_alive_tasks() == before + 1;
    t.abort();
    same
}

#[test]
fn nested_enter_guards_dropped_in_order_restore_each_level() {
    let a = current();
    let b = current();
    assert!(Handle::try_current().is_err());
    {
        let _ga = a.enter();
        assert!(same_runtime(&Handle::current(), a.handle()));
        {
            let _gb = b.enter();
            assert!(same_runtime(&Handle::current(), b.handle()));
        }
        assert!(same_runtime(&Handle::current(), a.handle()));
    }
    assert!(Handle::try_current().is_err());
}

#[test]
fn enter_guards_dropped_out_of_order_panic_and_leave_the_context_sound() {
    let a = current();
    let b = current();
    let ga = a.enter();
    let gb = b.enter();
    let err = panic::catch_unwind(AssertUnwindSafe(move || drop(ga))).unwrap_err();
    let msg = panic_message(err);
    assert!(msg.contains("EnterGuard dropped out of order"), "{msg}");
    // `gb` still lives: its runtime is still the current one.
    let h = Handle::try_current().expect("no runtime while a guard lives");
    assert!(same_runtime(&h, b.handle()));
    drop(h);
    drop(gb);
    // Both guards are gone: no runtime is current any more.
    assert!(
        Handle::try_current().is_err(),
        "a runtime is current after every guard was dropped"
    );
    drop(a);
    drop(b);
    assert!(Handle::try_current().is_err());
    // A later enter works normally.
    let c = multi(1);
    {
        let _gc = c.enter();
        let t = corral::spawn(async { 5 });
        assert_eq!(c.block_on(t).unwrap(), 5);
    }
    assert!(Handle::try_current().is_err());
}

#[test]
fn three_guards_two_dropped_out_of_order() {
    let (a, b, c) = (current(), current(), current());
    let ga = a.enter();
    let gb = b.enter();
    let gc = c.enter();
    for g in [gb, ga] {
        let err = panic::catch_unwind(AssertUnwindSafe(move || drop(g))).unwrap_err();
        assert!(panic_message(err).contains("out of order"));
        assert!(same_runtime(&Handle::current(), c.handle()));
    }
    drop(gc);
    assert!(Handle::try_current().is_err());
}

// ---- dropping a runtime where blocking is not allowed (issue 8) -----------------

/// A runtime with a `run_sync` job that blocks for `block`, and a pending
/// task whose future reports its drop on the returned channel.
fn busy_runtime(block: std::time::Duration) -> (corral::Runtime, std::sync::mpsc::Receiver<()>) {
    let rt = multi(1);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    drop(rt.handle().run_sync(move || {
        started_tx.send(()).unwrap();
        std::thread::sleep(block);
    }));
    started_rx.recv().unwrap();
    let (dropped_tx, dropped_rx) = std::sync::mpsc::channel();
    struct OnDrop(std::sync::mpsc::Sender<()>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    let guard = OnDrop(dropped_tx);
    drop(rt.spawn(async move {
        let _g = guard;
        std::future::pending::<()>().await;
    }));
    (rt, dropped_rx)
}

const BLOCKING_MSG: &str = "shutdown_background";

#[test]
fn dropping_a_runtime_inside_a_task_of_another_panics_and_shuts_it_down() {
    common::run_with_timeout("drop_in_task", 20, || {
        let (inner, dropped) = busy_runtime(ms(300));
        let outer = multi(1);
        let err = outer
            .block_on(outer.spawn(async move { drop(inner) }))
            .unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        let msg = common::panic_text(&*err.into_panic());
        assert!(msg.contains(BLOCKING_MSG), "{msg}");
        // The inner runtime was still shut down (in the background): its
        // pending task's future is dropped.
        dropped
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the dropped runtime kept running");
        // The outer runtime's worker survived.
        assert_eq!(outer.block_on(outer.spawn(async { 1 })).unwrap(), 1);
    });
}

#[test]
fn dropping_a_runtime_inside_block_on_panics() {
    common::run_with_timeout("drop_in_block_on", 20, || {
        for outer in [current(), multi(1)] {
            let (inner, dropped) = busy_runtime(ms(300));
            let err = panic::catch_unwind(AssertUnwindSafe(|| outer.block_on(async move { drop(inner) })))
                .unwrap_err();
            let msg = panic_message(err);
            assert!(msg.contains(BLOCKING_MSG), "{msg}");
            dropped
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("the dropped runtime kept running");
        }
    });
}

#[test]
fn shutdown_background_inside_a_task_and_drop_in_run_sync_are_fine() {
    common::run_with_timeout("drop_allowed", 20, || {
        let outer = multi(1);
        let (inner, dropped) = busy_runtime(ms(50));
        outer
            .block_on(outer.spawn(async move { inner.shutdown_background() }))
            .unwrap();
        dropped.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        // A blocking-pool thread may block: dropping there waits, as usual.
        let (inner, dropped) = busy_runtime(ms(50));
        outer
            .block_on(outer.handle().run_sync(move || drop(inner)))
            .unwrap();
        dropped.try_recv().unwrap();
        // A plain thread too.
        let (inner, _dropped) = busy_runtime(ms(50));
        drop(inner);
    });
}

#[test]
fn shutdown_timeout_inside_a_task_of_another_runtime_panics() {
    common::run_with_timeout("shutdown_timeout_in_task", 20, || {
        let (inner, dropped) = busy_runtime(ms(300));
        let outer = current();
        let err = outer
            .block_on(outer.spawn(async move { inner.shutdown_timeout(std::time::Duration::from_secs(1)) }))
            .unwrap_err();
        let msg = common::panic_text(&*err.into_panic());
        assert!(msg.contains(BLOCKING_MSG), "{msg}");
        dropped.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    });
}
