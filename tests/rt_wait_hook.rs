//! The wait hook's contract with the primitives built on it: nothing of a
//! waiter runs under the primitive's lock (wakes, replaced wakers, removed
//! records), `remove` says what happened, the batch is bounded and wakes in
//! chunks, panicking wakers skip nobody, deadline parking, and the refusal
//! to block a runtime thread.

use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};

#[allow(dead_code)]
mod common;
use common::{current, multi, panic_message, run_with_timeout};

// ---- a minimal primitive --------------------------------------------------------

/// A list of waiters; `wake_one` hands each its number.
#[derive(Default)]
struct Prim {
    list: Mutex<WaitList<u32>>,
}

impl Prim {
    fn wait(self: &Arc<Self>) -> Wait {
        Wait {
            prim: self.clone(),
            node: WaitNode::new(0),
        }
    }

    fn len(&self) -> usize {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Wakes the first waiter, handing it `n`. The guard goes to the batch.
    fn wake_one(&self, n: u32) -> bool {
        let mut batch = WakeBatch::new();
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let woke = match list.front_mut() {
            Some(slot) => {
                *slot = n;
                list.wake_front(&mut batch)
            }
            None => false,
        };
        batch.wake_after(list);
        woke
    }
}

struct Wait {
    prim: Arc<Prim>,
    node: WaitNode<u32>,
}

impl Future for Wait {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        // SAFETY: `node` is structurally pinned; `prim` is not.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let mut node = unsafe { Pin::new_unchecked(&mut this.node) };
        let mut list = this.prim.list.lock().unwrap_or_else(|e| e.into_inner());
        if node.as_ref().take_notified() {
            drop(list);
            return Poll::Ready(*node.as_mut().value_mut().unwrap());
        }
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { list.update_waker(node.as_ref(), cx) };
            stale.drop_after(list);
        } else {
            // SAFETY: in no list; only this one, under its lock; Drop
            // removes it.
            unsafe { list.push_back(node.as_ref(), cx) };
        }
        Poll::Pending
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        // SAFETY: not moved; only reborrowed.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        let mut list = self.prim.list.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: in this list or none; lock held.
        let removed = unsafe { list.remove(node) };
        drop(list);
        if removed == Removed::Notified {
            let n = *self.node_value();
            self.prim.wake_one(n);
        }
    }
}

impl Wait {
    fn node_value(&mut self) -> &mut u32 {
        // SAFETY: not moved; the node is in no list after `remove`.
        unsafe { Pin::new_unchecked(&mut self.node) }.value_mut().unwrap()
    }
}

/// A foreign waker that notes whether the primitive's lock was held when it
/// was woken or dropped (a `try_lock` that fails on this thread means the
/// caller still held it: a re-entrant primitive would deadlock there).
struct LockProbe {
    prim: Arc<Prim>,
    wakes: AtomicUsize,
    woken_under_lock: Arc<AtomicBool>,
    dropped: Arc<AtomicBool>,
    dropped_under_lock: Arc<AtomicBool>,
    panic_on_wake: bool,
}

struct Probe {
    waker: Waker,
    woken_under_lock: Arc<AtomicBool>,
    dropped: Arc<AtomicBool>,
    dropped_under_lock: Arc<AtomicBool>,
}

fn probe(prim: &Arc<Prim>, panic_on_wake: bool) -> Probe {
    let (w, d, u) = Default::default();
    let (w, d, u): (Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicBool>) = (w, d, u);
    let inner = Arc::new(LockProbe {
        prim: prim.clone(),
        wakes: AtomicUsize::new(0),
        woken_under_lock: w.clone(),
        dropped: d.clone(),
        dropped_under_lock: u.clone(),
        panic_on_wake,
    });
    Probe {
        waker: Waker::from(inner),
        woken_under_lock: w,
        dropped: d,
        dropped_under_lock: u,
    }
}

impl Wake for LockProbe {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        if self.prim.list.try_lock().is_err() {
            self.woken_under_lock.store(true, SeqCst);
        }
        if self.panic_on_wake {
            panic!("foreign waker panicked");
        }
    }
}

impl Drop for LockProbe {
    fn drop(&mut self) {
        self.dropped.store(true, SeqCst);
        if self.prim.list.try_lock().is_err() {
            self.dropped_under_lock.store(true, SeqCst);
        }
    }
}

// ---- nothing of a waiter runs under the lock ---------------------------------------

#[test]
fn a_replaced_waker_is_dropped_after_the_lock_is_released() {
    let prim = Arc::new(Prim::default());
    let mut fut = Box::pin(prim.wait());
    let first = probe(&prim, false);
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&first.waker))
        .is_pending());
    let (woken_under_lock, dropped, dropped_under_lock) =
        (first.woken_under_lock, first.dropped, first.dropped_under_lock);
    drop(first.waker); // the node's clone is now the last one
                       // Polled by another waker: the record is replaced.
    let second = probe(&prim, false);
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&second.waker))
        .is_pending());
    assert!(dropped.load(SeqCst), "the old waker was not released");
    assert!(
        !dropped_under_lock.load(SeqCst),
        "the replaced waker was dropped while the primitive's lock was held"
    );
    assert!(!woken_under_lock.load(SeqCst));
    drop(fut);
}

#[test]
fn a_removed_waiter_record_is_dropped_after_the_lock_is_released() {
    let prim = Arc::new(Prim::default());
    let mut fut = Box::pin(prim.wait());
    let p = probe(&prim, false);
    assert!(fut.as_mut().poll(&mut Context::from_waker(&p.waker)).is_pending());
    drop(p.waker);
    assert_eq!(prim.len(), 1);
    drop(fut); // cancelled while queued
    assert_eq!(prim.len(), 0);
    assert!(p.dropped.load(SeqCst), "the record was not released");
    assert!(
        !p.dropped_under_lock.load(SeqCst),
        "the removed waiter's waker was dropped while the primitive's lock was held"
    );
}

#[test]
fn a_woken_waker_runs_after_the_lock_is_released() {
    let prim = Arc::new(Prim::default());
    let mut fut = Box::pin(prim.wait());
    let p = probe(&prim, false);
    assert!(fut.as_mut().poll(&mut Context::from_waker(&p.waker)).is_pending());
    drop(p.waker);
    assert!(prim.wake_one(5));
    assert!(!p.woken_under_lock.load(SeqCst));
    assert!(!p.dropped_under_lock.load(SeqCst));
    let (_c, w) = common::counting_waker();
    assert_eq!(fut.as_mut().poll(&mut Context::from_waker(&w)), Poll::Ready(5));
}

// ---- remove says what happened ------------------------------------------------------

#[test]
fn remove_reports_unlinked_head_middle_notified_and_not_queued() {
    let mut list = WaitList::new();
    let a = std::pin::pin!(WaitNode::new(0u32));
    let b = std::pin::pin!(WaitNode::new(0u32));
    let c = std::pin::pin!(WaitNode::new(0u32));
    let (_count, w) = common::counting_waker();
    let cx = Context::from_waker(&w);
    // SAFETY: the nodes go only into `list`, which this function owns
    // (`&mut` stands in for the lock), and each is removed or woken before
    // it drops; the blocks below keep to that.
    unsafe {
        list.push_back(a.as_ref(), &cx);
        list.push_back(b.as_ref(), &cx);
        list.push_back(c.as_ref(), &cx);
    }
    // A partial handoff written while b is queued ...
    // SAFETY: queued in this list.
    *unsafe { list.value_of(b.as_ref()) } = 3;
    // SAFETY: as above.
    let removed = unsafe { list.remove(b.as_ref()) };
    assert_eq!(removed, Removed::Unlinked { was_head: false });
    // ... is the owner's to give back after the removal.
    // SAFETY: in no list now.
    assert_eq!(*unsafe { list.value_of(b.as_ref()) }, 3);
    // SAFETY: in no list.
    assert_eq!(unsafe { list.remove(b.as_ref()) }, Removed::NotQueued);
    let mut batch = WakeBatch::new();
    assert!(list.wake_front(&mut batch)); // a
    batch.wake_after(());
    assert!(a.is_notified());
    // SAFETY: notified, in no list.
    assert_eq!(unsafe { list.remove(a.as_ref()) }, Removed::Notified);
    assert!(!a.is_notified(), "remove consumes the notification");
    // SAFETY: as above.
    assert_eq!(unsafe { list.remove(a.as_ref()) }, Removed::NotQueued);
    // SAFETY: c is queued, now first in line.
    let removed = unsafe { list.remove(c.as_ref()) };
    assert_eq!(removed, Removed::Unlinked { was_head: true });
    assert!(list.is_empty());
}

// ---- the bounded batch ------------------------------------------------------------

#[test]
fn wake_all_stops_when_the_batch_is_full_and_wakes_the_rest_in_chunks() {
    let prim = Arc::new(Prim::default());
    let n = 3 * WakeBatch::CAPACITY + 1;
    let probes: Vec<Probe> = (0..n).map(|_| probe(&prim, false)).collect();
    let mut futs: Vec<_> = (0..n).map(|_| Box::pin(prim.wait())).collect();
    for (f, p) in futs.iter_mut().zip(&probes) {
        assert!(f.as_mut().poll(&mut Context::from_waker(&p.waker)).is_pending());
    }
    let mut batch = WakeBatch::new();
    let mut chunks = Vec::new();
    loop {
        let mut list = prim.list.lock().unwrap_or_else(|e| e.into_inner());
        let more = list.wake_all(&mut batch);
        chunks.push(batch.len());
        assert!(batch.len() <= WakeBatch::CAPACITY);
        batch.wake_after(list);
        assert!(batch.is_empty());
        if !more {
            break;
        }
    }
    let cap = WakeBatch::CAPACITY;
    assert_eq!(chunks, vec![cap, cap, cap, 1]);
    for p in &probes {
        assert!(
            !p.woken_under_lock.load(SeqCst),
            "a chunk was woken under the lock"
        );
    }
    assert_eq!(prim.len(), 0);
}

#[test]
fn wake_in_chunks_skips_nobody_when_a_waker_panics() {
    let prim = Arc::new(Prim::default());
    let n = 2 * WakeBatch::CAPACITY + 3;
    // The first waiter's waker panics; everyone else must still be woken.
    let probes: Vec<Probe> = (0..n).map(|i| probe(&prim, i == 0)).collect();
    let mut futs: Vec<_> = (0..n).map(|_| Box::pin(prim.wait())).collect();
    for (f, p) in futs.iter_mut().zip(&probes) {
        assert!(f.as_mut().poll(&mut Context::from_waker(&p.waker)).is_pending());
    }
    let res = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        WakeBatch::wake_in_chunks(
            || prim.list.lock().unwrap_or_else(|e| e.into_inner()),
            |list, batch| list.wake_all(batch),
        )
    }));
    let err = res.expect_err("the waker's panic reaches the caller");
    assert_eq!(panic_message(err), "foreign waker panicked");
    assert_eq!(prim.len(), 0);
    let (_c, w) = common::counting_waker();
    for f in &mut futs {
        assert!(
            f.as_mut().poll(&mut Context::from_waker(&w)).is_ready(),
            "a waiter was skipped"
        );
    }
}

#[test]
#[should_panic(expected = "WakeBatch is full")]
fn wake_front_refuses_a_full_batch() {
    let prim = Arc::new(Prim::default());
    let n = WakeBatch::CAPACITY + 1;
    let (_c, w) = common::counting_waker();
    let mut futs: Vec<_> = (0..n).map(|_| Box::pin(prim.wait())).collect();
    for f in &mut futs {
        assert!(f.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
    }
    let mut batch = WakeBatch::new();
    let mut list = prim.list.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..n {
        list.wake_front(&mut batch);
    }
}

#[test]
fn a_single_panicking_waker_is_woken_after_the_lock_and_the_panic_reaches_the_caller() {
    let prim = Arc::new(Prim::default());
    let mut fut = Box::pin(prim.wait());
    let p = probe(&prim, true);
    assert!(fut.as_mut().poll(&mut Context::from_waker(&p.waker)).is_pending());
    let res = panic::catch_unwind(panic::AssertUnwindSafe(|| prim.wake_one(9)));
    assert_eq!(panic_message(res.unwrap_err()), "foreign waker panicked");
    assert!(!p.woken_under_lock.load(SeqCst));
    // The lock is free and the handoff is there.
    assert_eq!(prim.len(), 0);
    let (_c, w) = common::counting_waker();
    assert_eq!(fut.as_mut().poll(&mut Context::from_waker(&w)), Poll::Ready(9));
}

/// Run in a child process: a batch dropped while the thread is already
/// unwinding, holding a waker that panics too. Before the fix the second
/// panic aborted the process.
fn batch_dropped_while_unwinding(waiters: usize) {
    let prim = Arc::new(Prim::default());
    let probes: Vec<Probe> = (0..waiters).map(|_| probe(&prim, true)).collect();
    let mut futs: Vec<_> = (0..waiters).map(|_| Box::pin(prim.wait())).collect();
    for (f, p) in futs.iter_mut().zip(&probes) {
        assert!(f.as_mut().poll(&mut Context::from_waker(&p.waker)).is_pending());
    }
    let res = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        let mut batch = WakeBatch::new();
        {
            let mut list = prim.list.lock().unwrap_or_else(|e| e.into_inner());
            while list.wake_front(&mut batch) {}
        }
        panic!("primitive bug");
    }));
    assert_eq!(panic_message(res.unwrap_err()), "primitive bug");
    let (_c, w) = common::counting_waker();
    for f in &mut futs {
        assert!(f.as_mut().poll(&mut Context::from_waker(&w)).is_ready());
    }
    println!("child survived");
}

#[test]
fn a_batch_dropped_while_unwinding_survives_panicking_wakers() {
    if let Ok(n) = std::env::var("CORRAL_WAIT_HOOK_CHILD") {
        batch_dropped_while_unwinding(n.parse().unwrap());
        return;
    }
    for n in [1, 3] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_batch_dropped_while_unwinding_survives_panicking_wakers",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CORRAL_WAIT_HOOK_CHILD", n.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("child survived"),
            "with {n} waiter(s) the child died: {:?}\n{}\n{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---- parking with a deadline --------------------------------------------------------

fn push_thread(prim: &Prim, node: Pin<&WaitNode<u32>>) {
    let mut list = prim.list.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: callers pass a node in no list that is woken or removed from
    // this one before it drops.
    unsafe { list.push_back_thread(node) };
}

#[test]
fn park_with_a_deadline_times_out_and_the_node_is_removed() {
    let prim = Arc::new(Prim::default());
    let node = std::pin::pin!(WaitNode::new(0u32));
    push_thread(&prim, node.as_ref());
    let start = Instant::now();
    assert!(!node
        .as_ref()
        .park_until_notified_or(start + Duration::from_millis(30)));
    assert!(start.elapsed() >= Duration::from_millis(30));
    let mut list = prim.list.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: queued in this list; lock held.
    let removed = unsafe { list.remove(node.as_ref()) };
    assert_eq!(removed, Removed::Unlinked { was_head: true });
}

#[test]
fn park_with_a_deadline_returns_when_woken() {
    run_with_timeout("park_deadline_woken", 20, || {
        let prim = Arc::new(Prim::default());
        let mut node = std::pin::pin!(WaitNode::new(0u32));
        push_thread(&prim, node.as_ref());
        let p = prim.clone();
        let waker = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            assert!(p.wake_one(4));
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        assert!(node.as_ref().park_until_notified_or(deadline));
        assert!(Instant::now() < deadline);
        assert_eq!(*node.as_mut().value_mut().unwrap(), 4);
        waker.join().unwrap();
    });
}

#[test]
fn a_handoff_that_races_the_deadline_is_reported_by_remove() {
    let prim = Arc::new(Prim::default());
    let mut node = std::pin::pin!(WaitNode::new(0u32));
    push_thread(&prim, node.as_ref());
    assert!(!node.as_ref().park_until_notified_or(Instant::now()));
    // The wake lands between the timeout and the removal.
    assert!(prim.wake_one(8));
    let mut list = prim.list.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: in this list or none; lock held.
    assert_eq!(unsafe { list.remove(node.as_ref()) }, Removed::Notified);
    drop(list);
    assert_eq!(
        *node.as_mut().value_mut().unwrap(),
        8,
        "the handoff is the caller's"
    );
}

// ---- refusing to block a runtime thread -----------------------------------------------

fn refusal(f: impl FnOnce() + panic::UnwindSafe) -> String {
    panic_message(panic::catch_unwind(f).expect_err("blocking was allowed"))
}

#[test]
fn assert_may_block_refuses_runtime_threads() {
    run_with_timeout("assert_may_block", 30, || {
        let what = "Mutex::blocking_lock";
        // Inside block_on, both flavours.
        for rt in [current(), multi(2)] {
            let msg = refusal(panic::AssertUnwindSafe(|| {
                rt.block_on(async { assert_may_block(what) })
            }));
            assert!(msg.contains(what), "{msg}");
            assert!(msg.contains(".await") && msg.contains("run_sync"), "{msg}");
        }
        // In a task on a worker thread (multi-thread) and on the
        // current-thread runtime.
        for rt in [current(), multi(2)] {
            let err = rt
                .block_on(rt.spawn(async { assert_may_block("Semaphore::blocking_acquire") }))
                .unwrap_err();
            assert!(err.is_panic(), "{err}");
            let msg = panic_message(err.into_panic());
            assert!(msg.contains("Semaphore::blocking_acquire"), "{msg}");
        }
    });
}

#[test]
fn assert_may_block_allows_plain_and_run_sync_threads() {
    run_with_timeout("may_block_allowed", 30, || {
        assert_may_block("plain thread");
        thread::spawn(|| assert_may_block("spawned thread"))
            .join()
            .unwrap();
        for rt in [current(), multi(2)] {
            rt.block_on(async { corral::run_sync(|| assert_may_block("run_sync")).await })
                .unwrap();
            // After block_on returns, the thread may block again.
            assert_may_block("after block_on");
            let _enter = rt.enter();
            assert_may_block("inside Runtime::enter (not driving it)");
        }
    });
}
