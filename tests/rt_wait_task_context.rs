//! A task's output (and its future) is dropped inside the task's context:
//! whoever drops it — the worker completing a detached task, a dropped
//! `JoinHandle`, runtime shutdown — `corral::task::try_id()` called from the
//! value's `Drop` returns the task's id. Primitives rely on this to tell
//! which task releases a lock or a permit from a guard's `Drop`.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use corral::task::Id;

#[allow(dead_code)]
mod common;
use common::{current, multi, run_with_timeout};

/// Records `try_id()` at the moment it is dropped.
struct IdOnDrop(Arc<Mutex<Vec<Option<Id>>>>);

impl Drop for IdOnDrop {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(corral::task::try_id());
    }
}

fn seen() -> Arc<Mutex<Vec<Option<Id>>>> {
    Arc::new(Mutex::new(Vec::new()))
}

#[test]
fn detached_task_output_is_dropped_in_its_context() {
    run_with_timeout("detached_output", 20, || {
        for rt in [current(), multi(2)] {
            let ids = seen();
            let (tx, rx) = mpsc::channel::<()>();
            let probe = ids.clone();
            let task = rt.spawn(async move {
                // Wait until the handle is gone, so the output has no reader.
                while rx.try_recv().is_err() {
                    corral::yield_now().await;
                }
                IdOnDrop(probe)
            });
            let id = task.id();
            drop(task);
            tx.send(()).unwrap();
            rt.block_on(async {
                while ids.lock().unwrap().is_empty() {
                    corral::yield_now().await;
                }
            });
            assert_eq!(*ids.lock().unwrap(), vec![Some(id)]);
        }
    });
}

#[test]
fn output_left_in_a_dropped_join_handle_is_dropped_in_the_task_context() {
    run_with_timeout("join_handle_output", 20, || {
        for rt in [current(), multi(2)] {
            let ids = seen();
            let probe = ids.clone();
            let task = rt.spawn(async move { IdOnDrop(probe) });
            let id = task.id();
            rt.block_on(async {
                while !task.is_finished() {
                    corral::yield_now().await;
                }
                // Dropped from block_on's future (no task of its own) ...
                drop(task);
            });
            let probe = ids.clone();
            let task = rt.spawn(async move { IdOnDrop(probe) });
            let id2 = task.id();
            while !task.is_finished() {
                std::thread::sleep(Duration::from_millis(1));
                rt.block_on(corral::yield_now());
            }
            // ... and from a plain thread.
            std::thread::spawn(move || drop(task)).join().unwrap();
            assert_eq!(*ids.lock().unwrap(), vec![Some(id), Some(id2)]);
        }
    });
}

#[test]
fn output_dropped_from_another_task_reports_the_owner_then_restores() {
    run_with_timeout("nested_context", 20, || {
        let rt = multi(2);
        let ids = seen();
        let probe = ids.clone();
        let inner = rt.spawn(async move { IdOnDrop(probe) });
        let inner_id = inner.id();
        let outer = rt.spawn(async move {
            while !inner.is_finished() {
                corral::yield_now().await;
            }
            drop(inner);
            corral::task::try_id()
        });
        let outer_id = outer.id();
        assert_eq!(
            rt.block_on(outer).unwrap(),
            Some(outer_id),
            "the dropper's id is restored"
        );
        assert_eq!(*ids.lock().unwrap(), vec![Some(inner_id)]);
    });
}

#[test]
fn output_unread_at_shutdown_is_dropped_in_the_task_context() {
    run_with_timeout("shutdown_output", 20, || {
        let ids = seen();
        let probe = ids.clone();
        let rt = current();
        let task = rt.spawn(async move { IdOnDrop(probe) });
        let id = task.id();
        rt.block_on(async {
            while !task.is_finished() {
                corral::yield_now().await;
            }
        });
        drop(rt);
        drop(task);
        assert_eq!(*ids.lock().unwrap(), vec![Some(id)]);
    });
}

#[test]
fn future_cancelled_at_shutdown_is_dropped_in_the_task_context() {
    run_with_timeout("shutdown_future", 20, || {
        let ids = seen();
        let probe = IdOnDrop(ids.clone());
        let rt = multi(1);
        let task = rt.spawn(async move {
            let _probe = probe;
            std::future::pending::<()>().await;
        });
        let id = task.id();
        rt.block_on(corral::yield_now());
        drop(rt);
        assert!(task.is_finished());
        drop(task);
        assert_eq!(*ids.lock().unwrap(), vec![Some(id)]);
    });
}
