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

use corral_runtime::wait::{Removed, WaitList, WaitNode, WakeBatch};
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
        let mut inner = self.inner.lock().unwrap();
        let (permits, list) = &mut *inner;
        match list.front_mut() {
            Some(got) => {
                *got = true;
                list.wake_front(&mut batch);
            }
            None => *permits += 1,
        }
        batch.wake_after(inner);
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
            let stale = unsafe { list.update_waker(node, cx) };
            stale.drop_after(inner);
            return Poll::Pending;
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
        drop(inner);
        if removed == Removed::Notified {
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
            let mut inner = g.inner.lock().unwrap();
            for got in inner.1.iter_mut() {
                *got = true;
            }
            assert!(!inner.1.wake_all(&mut batch), "the batch holds two under loom");
            assert_eq!(batch.len(), 2);
            batch.wake_after(inner);
        });
        rt.block_on(async {
            a.await.unwrap();
            b.await.unwrap();
        });
        th.join().unwrap();
    });
}

// ---- a counting semaphore with partial handoff ---------------------------------
//
// The models below learn of a wake only through the node's state word (a
// noop foreign waker, no lock taken after the wake), so they fail if the
// NOTIFIED store or the `is_notified` load loses its ordering: the payload
// is then read without a happens-before edge, and loom reports the race on
// its cell.

/// What a waiter asks for and what it was given so far.
#[derive(Clone, Copy, Debug, Default)]
struct Req {
    want: usize,
    got: usize,
}

struct Sem {
    inner: Mutex<SemInner>,
}

struct SemInner {
    permits: usize,
    list: WaitList<Req>,
}

impl SemInner {
    /// Serves the queue head as far as the free permits go: a partial
    /// handoff stays in its payload, a full one wakes it. FIFO: nobody
    /// behind an unserved head is served.
    fn dispatch(&mut self, batch: &mut WakeBatch) {
        while let Some(front) = self.list.front_mut() {
            let give = (front.want - front.got).min(self.permits);
            front.got += give;
            self.permits -= give;
            if front.got < front.want || batch.is_full() {
                break;
            }
            self.list.wake_front(batch);
        }
    }
}

impl Sem {
    fn new(permits: usize) -> Arc<Sem> {
        Arc::new(Sem {
            inner: Mutex::new(SemInner {
                permits,
                list: WaitList::new(),
            }),
        })
    }

    fn release(&self, n: usize) {
        let mut batch = WakeBatch::new();
        let mut inner = self.inner.lock().unwrap();
        inner.permits += n;
        inner.dispatch(&mut batch);
        batch.wake_after(inner);
    }

    fn permits(&self) -> usize {
        let inner = self.inner.lock().unwrap();
        assert!(inner.list.is_empty(), "waiters left queued");
        inner.permits
    }

    fn acquire(this: &Arc<Self>, want: usize) -> AcquireMany {
        AcquireMany {
            sem: this.clone(),
            node: WaitNode::new(Req { want, got: 0 }),
            done: false,
        }
    }
}

struct AcquireMany {
    sem: Arc<Sem>,
    node: WaitNode<Req>,
    done: bool,
}

impl AcquireMany {
    fn node(self: Pin<&mut Self>) -> (Pin<&mut WaitNode<Req>>, &mut bool, &Arc<Sem>) {
        // SAFETY: `node` is structurally pinned; `done` and `sem` are not.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        (
            unsafe { Pin::new_unchecked(&mut this.node) },
            &mut this.done,
            &this.sem,
        )
    }
}

impl Future for AcquireMany {
    /// The permits taken.
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let (mut node, done, sem) = self.node();
        // The lock-free fast path: the payload is read through its loom
        // cell with only the state word's Acquire to order it.
        if node.as_ref().take_notified() {
            let req = *node.as_mut().value_mut().unwrap();
            assert_eq!(req.got, req.want, "woken without the whole handoff");
            *done = true;
            return Poll::Ready(req.got);
        }
        let mut inner = sem.inner.lock().unwrap();
        if node.as_ref().take_notified() {
            drop(inner);
            let req = *node.as_mut().value_mut().unwrap();
            *done = true;
            return Poll::Ready(req.got);
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { inner.list.update_waker(node.as_ref(), cx) };
            stale.drop_after(inner);
            return Poll::Pending;
        }
        let want = node.as_mut().value_mut().unwrap().want;
        if inner.list.is_empty() && inner.permits >= want {
            inner.permits -= want;
            *done = true;
            return Poll::Ready(want);
        }
        // SAFETY: in no list; only ever this one, under its lock; Drop
        // removes it.
        unsafe { inner.list.push_back(node.as_ref(), cx) };
        // Queued at the head with some permits free: a partial handoff.
        let mut batch = WakeBatch::new();
        inner.dispatch(&mut batch);
        batch.wake_after(inner);
        Poll::Pending
    }
}

impl Drop for AcquireMany {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // SAFETY: not moved; only reborrowed.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        let mut batch = WakeBatch::new();
        let mut inner = self.sem.inner.lock().unwrap();
        // SAFETY: the node is in this list or none; lock held.
        match unsafe { inner.list.remove(node) } {
            Removed::Notified | Removed::Unlinked { .. } => {
                // Give back whatever was handed over, whole or partial
                // (SAFETY: in no list now, and we own it).
                let got = unsafe { inner.list.value_of(node) }.got;
                inner.permits += got;
                // A head that goes away may unblock those behind it.
                inner.dispatch(&mut batch);
            }
            Removed::NotQueued => {}
        }
        batch.wake_after(inner);
    }
}

#[test]
fn wait_list_fast_path_reads_the_handoff_without_the_lock() {
    loom::model(|| {
        let sem = Sem::new(0);
        let s = sem.clone();
        let owner = thread::spawn(move || {
            let mut fut = Box::pin(Sem::acquire(&s, 1));
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(n) = fut.as_mut().poll(&mut cx) {
                return n; // the release came first
            }
            // One non-blocking re-poll (no yield loop): a wake that landed
            // is seen through the state word alone.
            let got = match fut.as_mut().poll(&mut cx) {
                Poll::Ready(n) => n,
                Poll::Pending => 0, // cancelled below; Drop passes it on
            };
            drop(fut);
            got
        });
        sem.release(1);
        let got = owner.join().unwrap();
        assert_eq!(sem.permits() + got, 1, "a permit was lost or doubled");
    });
}

#[test]
fn wait_list_update_waker_races_wake() {
    loom::model(|| {
        let sem = Sem::new(0);
        let s = sem.clone();
        let owner = thread::spawn(move || {
            let mut fut = Box::pin(Sem::acquire(&s, 1));
            // Queued with one waker ...
            if let Poll::Ready(n) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                return n; // the release came first
            }
            // ... then waited on with another (block_on's): the wake must
            // reach the new one or this hangs (loom reports a deadlock).
            loom::future::block_on(fut)
        });
        sem.release(1);
        assert_eq!(owner.join().unwrap(), 1);
        assert_eq!(sem.permits(), 0);
    });
}

#[test]
fn wait_list_cancel_middle_node_passes_on() {
    // Three waiters, the middle one cancelled while two permits are
    // released: the other two get them in FIFO order, whatever the
    // interleaving (the cancelled one passes on what reached it).
    loom::model(|| {
        let sem = Sem::new(0);
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = Box::pin(Sem::acquire(&sem, 1));
        let mut b = Box::pin(Sem::acquire(&sem, 1));
        let mut c = Box::pin(Sem::acquire(&sem, 1));
        for f in [&mut a, &mut b, &mut c] {
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        let canceller = thread::spawn(move || drop(b));
        let s = sem.clone();
        let releaser = thread::spawn(move || s.release(2));
        canceller.join().unwrap();
        releaser.join().unwrap();
        assert_eq!(a.as_mut().poll(&mut cx), Poll::Ready(1));
        assert_eq!(c.as_mut().poll(&mut cx), Poll::Ready(1));
        assert_eq!(sem.permits(), 0);
    });
}

#[test]
fn wait_list_cancelled_head_returns_partial_handoff() {
    loom::model(|| {
        // The head wants 2 and holds 1 of them; a small request waits
        // behind it. Cancelling the head gives its permit back and serves
        // the small one (racing a second release).
        let sem = Sem::new(1);
        let mut cx = Context::from_waker(Waker::noop());
        let mut big = Box::pin(Sem::acquire(&sem, 2));
        let mut small = Box::pin(Sem::acquire(&sem, 1));
        assert!(big.as_mut().poll(&mut cx).is_pending());
        assert!(small.as_mut().poll(&mut cx).is_pending());
        let s = sem.clone();
        let releaser = thread::spawn(move || s.release(1));
        drop(big);
        releaser.join().unwrap();
        assert_eq!(small.as_mut().poll(&mut cx), Poll::Ready(1));
        drop(small);
        assert_eq!(sem.permits(), 1);
    });
}

#[test]
fn wait_list_thread_waiter_timeout_races_wake() {
    loom::model(|| {
        let sem = Sem::new(0);
        let s = sem.clone();
        let waiter = thread::spawn(move || {
            let node = Box::pin(WaitNode::new(Req { want: 1, got: 0 }));
            {
                let mut inner = s.inner.lock().unwrap();
                // SAFETY: fresh node; this list only, under its lock;
                // notified or removed below before it drops.
                unsafe { inner.list.push_back_thread(node.as_ref()) };
            }
            // Under loom the deadline passes at once: a timeout that races
            // the release.
            if node.as_ref().park_until_notified_or(std::time::Instant::now()) {
                return true;
            }
            let mut inner = s.inner.lock().unwrap();
            // SAFETY: in this list or none; lock held.
            match unsafe { inner.list.remove(node.as_ref()) } {
                Removed::Notified => true, // the handoff won the race: keep it
                Removed::Unlinked { .. } => false,
                Removed::NotQueued => unreachable!("queued or notified"),
            }
        });
        sem.release(1);
        let got = waiter.join().unwrap();
        assert_eq!(sem.permits() + got as usize, 1);
    });
}

#[test]
fn wait_list_cancel_task_waiter_races_wake() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let sem = Sem::new(0);
        let task = rt.spawn(Sem::acquire(&sem, 1));
        // Let it queue (its record is a task reference, not a waker).
        rt.block_on(async {
            while sem.inner.lock().unwrap().list.is_empty() {
                corral_runtime::yield_now().await;
            }
        });
        let aborter = task.abort_handle();
        let th = thread::spawn(move || aborter.abort());
        sem.release(1);
        let got = match rt.block_on(task) {
            Ok(n) => n,
            Err(e) => {
                assert!(e.is_cancelled(), "{e}");
                0
            }
        };
        th.join().unwrap();
        assert_eq!(sem.permits() + got, 1, "the cancelled task lost the permit");
    });
}

// ---- join handle wakers ------------------------------------------------------------

#[test]
fn join_handle_with_waker_dropped_races_completion() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let output = DropCount(drops.clone());
        let signal = Arc::new(Signal::default());
        let wait = Signal::wait(&signal);
        let mut task = rt.spawn(async move {
            wait.await;
            output
        });
        let th = thread::spawn(move || {
            // Registers a join waker (unless already complete), then lets go.
            let _ = Pin::new(&mut task).poll(&mut Context::from_waker(Waker::noop()));
            drop(task);
        });
        signal.set();
        rt.block_on(async {
            while corral_runtime::Handle::current().num_alive_tasks() > 0 {
                corral_runtime::yield_now().await;
            }
        });
        th.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "the output is dropped exactly once");
    });
}

#[test]
fn join_waker_changed_races_completion() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let signal = Arc::new(Signal::default());
        let wait = Signal::wait(&signal);
        let mut task = rt.spawn(async move {
            wait.await;
            "done"
        });
        let th = thread::spawn(move || {
            // First waker: a noop; then block_on's. The completion must
            // wake whichever is registered, or this hangs.
            if let Poll::Ready(out) = Pin::new(&mut task).poll(&mut Context::from_waker(Waker::noop())) {
                return out.unwrap();
            }
            loom::future::block_on(task).unwrap()
        });
        signal.set();
        rt.block_on(async {
            while corral_runtime::Handle::current().num_alive_tasks() > 0 {
                corral_runtime::yield_now().await;
            }
        });
        assert_eq!(th.join().unwrap(), "done");
    });
}
