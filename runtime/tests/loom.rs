//! Loom models of the task state machine and the wait hook.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p corral-runtime --test loom`
//!
//! The task models drive a current-thread runtime (its queues, parker and
//! owned list all go through `loom.rs`) on the model's main thread while a
//! second loom thread races it: a wake, an abort, a join-handle drop. The
//! wait-list models race a wake against a cancellation under a loom mutex.
//! The multi-thread scheduler is not modelled (crossbeam-deque is not
//! loom-aware); stress tests cover it.

#![cfg(loom)]

use corral_runtime::wait::{WaitList, WaitNode, WakeBatch};
use corral_runtime::Builder;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A flag a future waits on, set from another thread.
#[derive(Default)]
struct Signal {
    inner: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn set(&self) {
        let waker = {
            let mut inner = self.inner.lock().unwrap();
            inner.0 = true;
            inner.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn wait(this: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let this = this.clone();
        std::future::poll_fn(move |cx| {
            let mut inner = this.inner.lock().unwrap();
            if inner.0 {
                Poll::Ready(())
            } else {
                inner.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// Counts drops of whatever holds it.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn wake_from_other_thread_while_running_or_idle() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let signal = Arc::new(Signal::default());
        let wait = Signal::wait(&signal);
        let task = rt.spawn(async move {
            wait.await;
            7
        });
        let s = signal.clone();
        let th = thread::spawn(move || s.set());
        assert_eq!(rt.block_on(task).unwrap(), 7);
        th.join().unwrap();
    });
}

#[test]
fn abort_races_completion() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCount(drops.clone());
        let signal = Arc::new(Signal::default());
        let wait = Signal::wait(&signal);
        let task = rt.spawn(async move {
            let _guard = guard;
            wait.await;
            1
        });
        // Abort from another thread while the runtime thread polls the
        // task (idle, running, or already complete).
        let aborter = task.abort_handle();
        let s = signal.clone();
        let th = thread::spawn(move || {
            s.set();
            aborter.abort();
        });
        match rt.block_on(task) {
            Ok(v) => assert_eq!(v, 1),
            Err(e) => assert!(e.is_cancelled(), "{e}"),
        }
        th.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "the future is dropped exactly once");
    });
}

#[test]
fn join_handle_drop_races_completion() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let output = DropCount(drops.clone());
        let task = rt.spawn(async move { output });
        let th = thread::spawn(move || drop(task));
        // Drive the task to completion while the handle is dropped.
        rt.block_on(async {
            while rt_alive_tasks() > 0 {
                corral_runtime::yield_now().await;
            }
        });
        th.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "the output is dropped exactly once");
    });

    fn rt_alive_tasks() -> usize {
        corral_runtime::Handle::current().num_alive_tasks()
    }
}

#[test]
fn join_waker_races_completion() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let signal = Arc::new(Signal::default());
        let wait = Signal::wait(&signal);
        let task = rt.spawn(async move {
            wait.await;
            "done"
        });
        // The task completes on the runtime thread (driven by block_on)
        // while another thread awaits the join handle.
        let s = signal.clone();
        let th = thread::spawn(move || loom::future::block_on(task).unwrap());
        s.set();
        rt.block_on(async {
            while corral_runtime::Handle::current().num_alive_tasks() > 0 {
                corral_runtime::yield_now().await;
            }
        });
        assert_eq!(th.join().unwrap(), "done");
    });
}

#[test]
fn shutdown_races_wake() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCount(drops.clone());
        let signal = Arc::new(Signal::default());
        let wait = Signal::wait(&signal);
        let task = rt.spawn(async move {
            let _guard = guard;
            wait.await;
        });
        // Poll it once so it parks its waker in the signal.
        rt.block_on(corral_runtime::yield_now());
        let s = signal.clone();
        let th = thread::spawn(move || s.set());
        drop(rt);
        th.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        assert!(task.is_finished());
    });
}

// ---- wait list ---------------------------------------------------------------

/// One permit at a time through a WaitList, as a primitive would build it.
struct Gate {
    inner: Mutex<(usize, WaitList<bool>)>,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            inner: Mutex::new((0, WaitList::new())),
        })
    }

    fn release(&self) {
        let mut batch = WakeBatch::new();
        {
            let mut inner = self.inner.lock().unwrap();
            let (permits, list) = &mut *inner;
            match list.front_mut() {
                Some(got) => {
                    *got = true;
                    list.wake_front(&mut batch);
                }
                None => *permits += 1,
            }
        }
        batch.wake();
    }

    fn permits(&self) -> usize {
        self.inner.lock().unwrap().0
    }
}

struct Acquire {
    gate: Arc<Gate>,
    node: WaitNode<bool>,
}

impl Future for Acquire {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `node` is structurally pinned (never moved out).
        let node = unsafe { self.as_ref().map_unchecked(|a| &a.node) };
        if node.take_notified() {
            return Poll::Ready(());
        }
        let mut inner = self.gate.inner.lock().unwrap();
        // Again under the lock: a wake may have come in between.
        if node.take_notified() {
            return Poll::Ready(());
        }
        let (permits, list) = &mut *inner;
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            unsafe { list.update_waker(node, cx) };
        } else if *permits > 0 {
            *permits -= 1;
            return Poll::Ready(());
        } else {
            // SAFETY: in no list; only ever this one, under its lock; Drop
            // removes it.
            unsafe { list.push_back(node, cx) };
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        // SAFETY: not moved; only reborrowed.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        let mut inner = self.gate.inner.lock().unwrap();
        // SAFETY: the node is in this list or none; lock held.
        let removed = unsafe { inner.1.remove(node) };
        if !removed && node.is_notified() {
            drop(inner);
            // Handed a permit it will not use: pass it on.
            self.gate.release();
        }
    }
}

fn acquire(gate: &Arc<Gate>) -> Acquire {
    Acquire {
        gate: gate.clone(),
        node: WaitNode::new(false),
    }
}

#[test]
fn wait_list_wake_races_cancel() {
    loom::model(|| {
        let gate = Gate::new();
        let g = gate.clone();
        let waiter = thread::spawn(move || {
            let mut fut = Box::pin(acquire(&g));
            let waker = Waker::noop();
            let polled = fut.as_mut().poll(&mut Context::from_waker(waker));
            // Cancel (drop) whether or not the permit arrived.
            drop(fut);
            polled.is_ready()
        });
        gate.release();
        let got = waiter.join().unwrap();
        // The permit was either consumed by the waiter or is back in the
        // gate: never lost, never doubled.
        assert_eq!(gate.permits() + got as usize, 1);
        assert!(gate.inner.lock().unwrap().1.is_empty());
    });
}

#[test]
fn wait_list_two_waiters_one_cancels() {
    loom::model(|| {
        let gate = Gate::new();
        let (g1, g2) = (gate.clone(), gate.clone());
        // Waiter one waits for real (parks its thread through a foreign
        // waker); waiter two polls once and gives up, returning the permit
        // if it got one.
        let one = thread::spawn(move || loom::future::block_on(acquire(&g1)));
        let two = thread::spawn(move || {
            let mut fut = Box::pin(acquire(&g2));
            if fut
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_ready()
            {
                g2.release();
            }
        });
        gate.release();
        two.join().unwrap();
        one.join().unwrap();
        assert_eq!(gate.permits(), 0, "the one permit went to the waiter that stayed");
    });
}

#[test]
fn wait_list_thread_waiter() {
    loom::model(|| {
        let gate = Gate::new();
        let g = gate.clone();
        let th = thread::spawn(move || {
            let node = Box::pin(WaitNode::new(false));
            {
                let mut inner = g.inner.lock().unwrap();
                if inner.0 > 0 {
                    inner.0 -= 1;
                    return;
                }
                // SAFETY: fresh node, this list only, under its lock; it is
                // notified (so unlinked) before it drops.
                unsafe { inner.1.push_back_thread(node.as_ref()) };
            }
            node.as_ref().park_until_notified();
        });
        gate.release();
        th.join().unwrap();
        assert_eq!(gate.permits(), 0);
    });
}

#[test]
fn wait_list_wake_all_reaches_task_waiters() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let gate = Gate::new();
        let a = rt.spawn(acquire(&gate));
        let b = rt.spawn(acquire(&gate));
        // Let both queue up.
        rt.block_on(async {
            while gate.inner.lock().unwrap().1.len() < 2 {
                corral_runtime::yield_now().await;
            }
        });
        let g = gate.clone();
        let th = thread::spawn(move || {
            let mut batch = WakeBatch::new();
            {
                let mut inner = g.inner.lock().unwrap();
                for got in inner.1.iter_mut() {
                    *got = true;
                }
                assert_eq!(inner.1.wake_all(&mut batch), 2);
            }
            batch.wake();
        });
        rt.block_on(async {
            a.await.unwrap();
            b.await.unwrap();
        });
        th.join().unwrap();
    });
}
