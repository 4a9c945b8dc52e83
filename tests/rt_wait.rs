//! The wait hook (`corral_runtime::wait`), exercised through a small
//! semaphore built here the way the module docs describe: FIFO handoff,
//! foreign wakers, `wake_all`, cancellation while queued and after being
//! notified, blocking thread waiters, and a stress loop that checks that
//! permits are conserved (`CORRAL_STRESS` = iterations, default 200).

use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use corral::Runtime;
use corral_runtime::wait::{Removed, WaitList, WaitNode, WakeBatch};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};

#[allow(dead_code)]
mod common;
use common::{counting_waker, current, multi, run_with_timeout};

// ---- the test primitive ------------------------------------------------------

/// A counting semaphore on `WaitList`. Each permit handed out carries a
/// ticket (a number that grows with every grant), so tests can check the
/// order in which waiters were served.
struct Sem {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Permits nobody holds.
    permits: usize,
    /// Permits in existence (held, free, or being handed over).
    total: usize,
    /// Payload: the ticket handed over (0 = nothing yet).
    waiters: WaitList<usize>,
    next_ticket: usize,
}

impl Sem {
    fn new(permits: usize) -> Arc<Sem> {
        Arc::new(Sem {
            inner: Mutex::new(Inner {
                permits,
                total: permits,
                waiters: WaitList::new(),
                next_ticket: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// (free permits, total permits, queued waiters)
    fn stats(&self) -> (usize, usize, usize) {
        let g = self.lock();
        (g.permits, g.total, g.waiters.len())
    }

    fn waiters(&self) -> usize {
        self.lock().waiters.len()
    }

    /// Gives `n` permits back: to the first waiters in line, else to the pool.
    /// Wakes in chunks of at most `WakeBatch::CAPACITY`, unlocking between
    /// them.
    fn release(&self, n: usize) {
        let mut left = n;
        WakeBatch::wake_in_chunks(
            || self.lock(),
            |g, batch| {
                let inner = &mut **g;
                while left > 0 && !batch.is_full() {
                    left -= 1;
                    inner.next_ticket += 1;
                    let ticket = inner.next_ticket;
                    match inner.waiters.front_mut() {
                        Some(slot) => {
                            *slot = ticket; // hand the permit over before waking
                            assert!(inner.waiters.wake_front(batch));
                        }
                        None => inner.permits += 1,
                    }
                }
                left > 0
            },
        );
    }

    /// Puts `n` new permits into circulation.
    fn add_permits(&self, n: usize) {
        self.lock().total += n;
        self.release(n);
    }

    /// Creates one new permit for every queued waiter and hands them all
    /// over with a single `wake_all`. Returns how many were woken.
    /// Creates as many permits as there are waiters at the call, and hands
    /// them to the front of the queue in chunks (unlocking between them);
    /// if the queue runs short meanwhile (a woken holder's release served
    /// one), the rest go to the pool.
    fn grant_all(&self) -> usize {
        let mut batch = WakeBatch::new();
        let mut g = self.lock();
        let mut left = g.waiters.len();
        let woken = left;
        g.total += left;
        loop {
            let inner = &mut *g;
            let mut ticket = inner.next_ticket;
            if inner.waiters.is_empty() {
                inner.permits += left;
                drop(g);
                break woken;
            }
            // Hand over only as many as this chunk wakes.
            let chunk = left.min(WakeBatch::CAPACITY).min(inner.waiters.len());
            for slot in inner.waiters.iter_mut().take(chunk) {
                ticket += 1;
                *slot = ticket;
            }
            inner.next_ticket = ticket;
            for _ in 0..chunk {
                assert!(inner.waiters.wake_front(&mut batch));
            }
            left -= chunk;
            assert_eq!(batch.len(), chunk);
            batch.wake_after(g); // unlock, wake this chunk
            if left == 0 {
                break woken;
            }
            g = self.lock();
        }
    }

    fn acquire(self: &Arc<Self>) -> Acquire {
        Acquire {
            sem: self.clone(),
            node: WaitNode::new(0),
            done: false,
        }
    }

    /// Blocks this (plain) thread until a permit is handed over.
    fn blocking_acquire(self: &Arc<Self>) -> Permit {
        let mut node = std::pin::pin!(WaitNode::new(0usize));
        {
            let mut g = self.lock();
            if g.permits > 0 {
                g.permits -= 1;
                g.next_ticket += 1;
                let ticket = g.next_ticket;
                return Permit {
                    sem: self.clone(),
                    ticket,
                };
            }
            // SAFETY: the node is in no list; it only ever goes into this
            // one, under this lock, and we do not return (or drop it) until
            // a wake has taken it off the list.
            unsafe { g.waiters.push_back_thread(node.as_ref()) };
        }
        node.as_ref().park_until_notified();
        let ticket = *node.as_mut().value_mut().expect("notified node is not queued");
        assert!(ticket > 0);
        Permit {
            sem: self.clone(),
            ticket,
        }
    }
}

/// A held permit; given back on drop.
struct Permit {
    sem: Arc<Sem>,
    ticket: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.sem.release(1);
    }
}

/// Future of `Sem::acquire`.
struct Acquire {
    sem: Arc<Sem>,
    node: WaitNode<usize>,
    done: bool,
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        // SAFETY: `node` is structurally pinned (never moved out of an
        // `Acquire`, which is !Unpin); `sem` and `done` are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "Acquire polled after completion");
        // Fast path: handed a permit since the last poll.
        // SAFETY: `node` is structurally pinned, as above.
        let node = unsafe { Pin::new_unchecked(&mut this.node) };
        if let Some(ticket) = take_handoff(node) {
            this.done = true;
            return Poll::Ready(Permit {
                sem: this.sem.clone(),
                ticket,
            });
        }
        let mut g = this.sem.inner.lock().unwrap();
        // Again under the lock: a release may have notified us in between.
        // SAFETY: `node` is structurally pinned, as above.
        let node = unsafe { Pin::new_unchecked(&mut this.node) };
        if let Some(ticket) = take_handoff(node) {
            drop(g);
            this.done = true;
            return Poll::Ready(Permit {
                sem: this.sem.clone(),
                ticket,
            });
        }
        // SAFETY: as above.
        let node = unsafe { Pin::new_unchecked(&this.node) };
        if node.is_queued() {
            // SAFETY: queued in this list, whose lock we hold.
            let stale = unsafe { g.waiters.update_waker(node, cx) };
            stale.drop_after(g); // the old waker is dropped unlocked
            return Poll::Pending;
        }
        if g.permits > 0 {
            g.permits -= 1;
            g.next_ticket += 1;
            let ticket = g.next_ticket;
            drop(g);
            this.done = true;
            return Poll::Ready(Permit {
                sem: this.sem.clone(),
                ticket,
            });
        }
        // SAFETY: the node is in no list; it only goes into this one, under
        // this lock, and `Drop` removes it before it is freed.
        unsafe { g.waiters.push_back(node, cx) };
        Poll::Pending
    }
}

/// The ticket handed over by a release, if the node was notified. Consumes
/// the notification, so `Acquire`'s `Drop` does not pass the permit on.
fn take_handoff(mut node: Pin<&mut WaitNode<usize>>) -> Option<usize> {
    if !node.as_ref().take_notified() {
        return None;
    }
    // The node is idle again: its payload is ours.
    let ticket = *node.as_mut().value_mut().unwrap();
    assert!(ticket > 0, "notified without a handoff");
    Some(ticket)
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // SAFETY: pinned before (if ever polled); taking a reference does
        // not move it.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return; // never queued
        }
        let mut g = self.sem.inner.lock().unwrap();
        // SAFETY: the node can only be in this list; lock held.
        let removed = unsafe { g.waiters.remove(node) };
        drop(g);
        match removed {
            // Handed a permit we will not use: pass it on.
            Removed::Notified => self.sem.release(1),
            // One permit per waiter, handed over only with the wake:
            // nothing assigned, nobody behind us became servable.
            Removed::Unlinked { .. } | Removed::NotQueued => {}
        }
    }
}

// ---- helpers -------------------------------------------------------------

/// Waits until `sem` has `n` queued waiters, driving `rt` meanwhile (needed
/// for a current-thread runtime).
fn wait_for_waiters(rt: &Runtime, sem: &Arc<Sem>, n: usize) {
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while sem.waiters() != n {
            assert!(
                Instant::now() < deadline,
                "expected {n} waiters, have {}",
                sem.waiters()
            );
            corral::yield_now().await;
            thread::yield_now();
        }
    });
}

fn assert_conserved(sem: &Sem, expected_total: usize) {
    let (free, total, waiting) = sem.stats();
    assert_eq!(waiting, 0, "waiters left queued");
    assert_eq!(total, expected_total);
    assert_eq!(free, total, "permits lost or duplicated: {free} free of {total}");
}

// ---- FIFO ------------------------------------------------------------------

fn check_fifo_batch(rt: &Runtime) {
    let n = 50;
    let sem = Sem::new(0);
    let mut hs = Vec::new();
    for i in 0..n {
        let s = sem.clone();
        hs.push(rt.spawn(async move {
            let p = s.acquire().await;
            p.ticket
        }));
        // Queue them one by one, in spawn order.
        wait_for_waiters(rt, &sem, i + 1);
    }
    sem.add_permits(n);
    let tickets: Vec<usize> = rt.block_on(async {
        let mut v = Vec::new();
        for h in hs {
            v.push(h.await.unwrap());
        }
        v
    });
    assert_eq!(
        tickets,
        (1..=n).collect::<Vec<_>>(),
        "permits were not handed out in FIFO order"
    );
    assert_conserved(&sem, n);
}

fn check_fifo_chain(rt: &Runtime) {
    // One permit passed down the line by each holder as it drops it.
    let n = 50;
    let sem = Sem::new(0);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut hs = Vec::new();
    for i in 0..n {
        let (s, o) = (sem.clone(), order.clone());
        hs.push(rt.spawn(async move {
            let p = s.acquire().await;
            o.lock().unwrap().push(i);
            corral::yield_now().await;
            drop(p);
        }));
        wait_for_waiters(rt, &sem, i + 1);
    }
    sem.add_permits(1);
    rt.block_on(async {
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), (0..n).collect::<Vec<_>>());
    assert_conserved(&sem, 1);
}

#[test]
fn fifo_wake_order_multi_thread() {
    run_with_timeout("fifo_multi", 30, || {
        let rt = multi(2);
        check_fifo_batch(&rt);
        check_fifo_chain(&rt);
    });
}

#[test]
fn fifo_wake_order_current_thread() {
    run_with_timeout("fifo_current", 30, || {
        let rt = current();
        check_fifo_batch(&rt);
        check_fifo_chain(&rt);
    });
}

#[test]
fn no_barging_a_free_permit_goes_to_the_queue_head() {
    // A permit released while someone waits is handed to that waiter, not
    // left for a newcomer to grab.
    let rt = current();
    let sem = Sem::new(0);
    let s = sem.clone();
    let first = rt.spawn(async move { s.acquire().await.ticket });
    wait_for_waiters(&rt, &sem, 1);
    sem.add_permits(1);
    assert!(
        sem.acquire().now_or_never().is_none(),
        "a newcomer barged past the queued waiter"
    );
    assert_eq!(rt.block_on(first).unwrap(), 1);
    assert_conserved(&sem, 1);
}

// ---- foreign wakers -------------------------------------------------------------

#[test]
fn waiter_polled_by_a_foreign_poller_is_woken_by_a_task() {
    run_with_timeout("foreign_poller", 20, || {
        let rt = multi(2);
        let sem = Sem::new(0);
        let mut fut = Box::pin(sem.acquire());
        let (count, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(sem.waiters(), 1);
        // Polling again with the same waker keeps one entry.
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(sem.waiters(), 1);
        let s = sem.clone();
        rt.block_on(rt.spawn(async move { s.add_permits(1) })).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while count.wakes.load(SeqCst) == 0 {
            assert!(Instant::now() < deadline, "foreign waker never woken");
            thread::park_timeout(Duration::from_millis(10));
        }
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(p) => assert_eq!(p.ticket, 1),
            Poll::Pending => panic!("woken but not ready"),
        }
        drop(fut);
        assert_conserved(&sem, 1);
    });
}

#[test]
fn waiter_inside_futures_unordered_is_woken() {
    // FuturesUnordered wraps the task's waker: the node records a foreign
    // Waker although the future runs inside a corral task.
    run_with_timeout("futures_unordered", 20, || {
        for rt in [multi(2), current()] {
            let sem = Sem::new(0);
            let s = sem.clone();
            let h = rt.spawn(async move {
                let mut set: FuturesUnordered<_> = (0..5).map(|_| s.acquire()).collect();
                let mut tickets = Vec::new();
                while let Some(p) = set.next().await {
                    tickets.push(p.ticket);
                    std::mem::forget(p); // keep the permit out of the pool
                }
                tickets.sort();
                tickets
            });
            wait_for_waiters(&rt, &sem, 5);
            let s = sem.clone();
            rt.block_on(rt.spawn(async move { s.add_permits(5) })).unwrap();
            assert_eq!(rt.block_on(h).unwrap(), vec![1, 2, 3, 4, 5]);
            // The 5 forgotten permits are held forever.
            let (free, total, waiting) = sem.stats();
            assert_eq!((free, total, waiting), (0, 5, 0));
        }
    });
}

#[test]
fn waiter_in_select_is_woken() {
    run_with_timeout("select", 20, || {
        let rt = multi(2);
        let sem = Sem::new(0);
        let s = sem.clone();
        let h = rt.spawn(async move {
            let acquire = s.acquire();
            let never = std::future::pending::<()>();
            match futures_util::future::select(std::pin::pin!(acquire), std::pin::pin!(never)).await {
                futures_util::future::Either::Left((p, _)) => p.ticket,
                futures_util::future::Either::Right(_) => unreachable!(),
            }
        });
        wait_for_waiters(&rt, &sem, 1);
        sem.add_permits(1);
        assert_eq!(rt.block_on(h).unwrap(), 1);
        assert_conserved(&sem, 1);
    });
}

#[test]
fn waiter_moved_from_a_foreign_poller_into_a_task_is_woken() {
    // First polled with a foreign waker, then awaited by a corral task:
    // `update_waker` must switch the recorded waiter to the task.
    run_with_timeout("moved_waiter", 20, || {
        for rt in [multi(2), current()] {
            let sem = Sem::new(0);
            let mut fut = Box::pin(sem.acquire());
            let (count, waker) = counting_waker();
            assert!(fut.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
            let polled = Arc::new(AtomicBool::new(false));
            let p = polled.clone();
            let h = rt.spawn(async move {
                std::future::poll_fn(|cx| {
                    let r = fut.as_mut().poll(cx);
                    p.store(true, SeqCst);
                    r
                })
                .await
                .ticket
            });
            // Make sure the task has polled it (re-recording the waiter).
            rt.block_on(async {
                let deadline = Instant::now() + Duration::from_secs(10);
                while !polled.load(SeqCst) {
                    assert!(Instant::now() < deadline, "task never polled the waiter");
                    corral::yield_now().await;
                    thread::yield_now();
                }
            });
            sem.add_permits(1);
            assert_eq!(rt.block_on(h).unwrap(), 1);
            assert_eq!(
                count.wakes.load(SeqCst),
                0,
                "the stale foreign waker was woken instead of the task"
            );
            assert_conserved(&sem, 1);
        }
    });
}

#[test]
fn now_or_never_leaves_nothing_queued() {
    let sem = Sem::new(1);
    let p = sem
        .acquire()
        .now_or_never()
        .expect("a free permit is taken at once");
    assert_eq!(p.ticket, 1);
    // None free: the future is polled once, queued, then dropped.
    assert!(sem.acquire().now_or_never().is_none());
    assert_eq!(sem.waiters(), 0, "a dropped waiter stayed queued");
    drop(p);
    assert_conserved(&sem, 1);
}

// ---- wake_all --------------------------------------------------------------------

#[test]
fn wake_all_wakes_every_waiter() {
    run_with_timeout("wake_all", 30, || {
        let rt = multi(2);
        let n = 100;
        let sem = Sem::new(0);
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let s = sem.clone();
                rt.spawn(async move { s.acquire().await.ticket })
            })
            .collect();
        wait_for_waiters(&rt, &sem, n);
        assert_eq!(sem.grant_all(), n);
        let mut tickets: Vec<usize> = rt.block_on(async {
            let mut v = Vec::new();
            for h in hs {
                v.push(h.await.unwrap());
            }
            v
        });
        tickets.sort();
        assert_eq!(tickets, (1..=n).collect::<Vec<_>>());
        assert_conserved(&sem, n);

        // The same on a current-thread runtime, with a mix of task and
        // foreign waiters.
        let rt = current();
        let sem = Sem::new(0);
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let s = sem.clone();
                rt.spawn(async move {
                    if i % 2 == 0 {
                        s.acquire().await.ticket
                    } else {
                        let mut set = FuturesUnordered::new();
                        set.push(s.acquire());
                        set.next().await.unwrap().ticket
                    }
                })
            })
            .collect();
        wait_for_waiters(&rt, &sem, n);
        assert_eq!(sem.grant_all(), n);
        let tickets: Vec<usize> = rt.block_on(async {
            let mut v = Vec::new();
            for h in hs {
                v.push(h.await.unwrap());
            }
            v
        });
        assert_eq!(tickets, (1..=n).collect::<Vec<_>>());
        assert_conserved(&sem, n);
    });
}

// ---- cancellation ------------------------------------------------------------------

fn check_cancelled_queued_waiter(rt: &Runtime) {
    let sem = Sem::new(0);
    let got = Arc::new(AtomicBool::new(false));
    let (s, g) = (sem.clone(), got.clone());
    let a = rt.spawn(async move {
        let _p = s.acquire().await;
        g.store(true, SeqCst);
    });
    wait_for_waiters(rt, &sem, 1);
    let s = sem.clone();
    let b = rt.spawn(async move { s.acquire().await.ticket });
    wait_for_waiters(rt, &sem, 2);
    a.abort();
    assert!(rt.block_on(a).unwrap_err().is_cancelled());
    assert_eq!(sem.waiters(), 1, "the cancelled waiter is still queued");
    sem.add_permits(1);
    assert_eq!(
        rt.block_on(b).unwrap(),
        1,
        "the permit went to the cancelled waiter"
    );
    assert!(!got.load(SeqCst));
    assert_conserved(&sem, 1);
}

#[test]
fn cancelled_waiter_is_removed_and_takes_no_permit_multi_thread() {
    run_with_timeout("cancel_queued_multi", 20, || {
        check_cancelled_queued_waiter(&multi(2))
    });
}

#[test]
fn cancelled_waiter_is_removed_and_takes_no_permit_current_thread() {
    run_with_timeout("cancel_queued_current", 20, || {
        check_cancelled_queued_waiter(&current())
    });
}

#[test]
fn notified_waiter_dropped_before_running_passes_the_permit_on_current_thread() {
    run_with_timeout("notified_dropped_current", 20, || {
        let rt = current();
        let sem = Sem::new(0);
        let got = Arc::new(AtomicBool::new(false));
        let (s, g) = (sem.clone(), got.clone());
        let a = rt.spawn(async move {
            let _p = s.acquire().await;
            g.store(true, SeqCst);
        });
        wait_for_waiters(&rt, &sem, 1);
        let s = sem.clone();
        let b = rt.spawn(async move { s.acquire().await.ticket });
        wait_for_waiters(&rt, &sem, 2);
        let b_ticket = rt.block_on(async {
            // Hand the permit to `a` and cancel it before it can run.
            sem.add_permits(1);
            assert_eq!(sem.waiters(), 1);
            a.abort();
            assert!(a.await.unwrap_err().is_cancelled());
            b.await.unwrap()
        });
        assert!(!got.load(SeqCst), "the aborted waiter ran");
        assert_eq!(b_ticket, 2, "b should get the permit passed on by a's Drop");
        assert_conserved(&sem, 1);
    });
}

#[test]
fn notified_waiter_dropped_before_running_passes_the_permit_on_multi_thread() {
    run_with_timeout("notified_dropped_multi", 20, || {
        let rt = multi(1);
        let sem = Sem::new(0);
        let got = Arc::new(AtomicBool::new(false));
        let (s, g) = (sem.clone(), got.clone());
        let a = rt.spawn(async move {
            let _p = s.acquire().await;
            g.store(true, SeqCst);
        });
        wait_for_waiters(&rt, &sem, 1);
        let s = sem.clone();
        let b = rt.spawn(async move { s.acquire().await.ticket });
        wait_for_waiters(&rt, &sem, 2);
        // Occupy the only worker so `a` cannot run between wake and abort.
        let (blocked_tx, blocked_rx) = mpsc::channel();
        let unblock = Arc::new(AtomicBool::new(false));
        let u = unblock.clone();
        let blocker = rt.spawn(async move {
            blocked_tx.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while !u.load(SeqCst) && Instant::now() < deadline {
                thread::yield_now();
            }
        });
        blocked_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        sem.add_permits(1);
        a.abort();
        unblock.store(true, SeqCst);
        rt.block_on(blocker).unwrap();
        assert!(rt.block_on(a).unwrap_err().is_cancelled());
        assert_eq!(rt.block_on(b).unwrap(), 2);
        assert!(!got.load(SeqCst));
        assert_conserved(&sem, 1);
    });
}

#[test]
fn notified_foreign_waiter_dropped_passes_the_permit_on() {
    let sem = Sem::new(0);
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut f1 = Box::pin(sem.acquire());
    let mut f2 = Box::pin(sem.acquire());
    assert!(f1.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
    assert!(f2.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
    sem.add_permits(1);
    assert_eq!(c1.wakes.load(SeqCst), 1);
    assert_eq!(c2.wakes.load(SeqCst), 0);
    drop(f1);
    assert_eq!(c2.wakes.load(SeqCst), 1, "the permit was not passed on");
    match f2.as_mut().poll(&mut Context::from_waker(&w2)) {
        Poll::Ready(p) => assert_eq!(p.ticket, 2),
        Poll::Pending => panic!("not handed the passed-on permit"),
    }
    drop(f2);
    assert_conserved(&sem, 1);
}

// ---- blocking thread waiters -------------------------------------------------------

#[test]
fn blocking_thread_waiter_is_woken_by_a_task() {
    run_with_timeout("blocking_waiter", 20, || {
        for rt in [multi(2), current()] {
            let sem = Sem::new(0);
            let s = sem.clone();
            let (tx, rx) = mpsc::channel();
            let t = thread::spawn(move || {
                let p = s.blocking_acquire();
                tx.send(p.ticket).unwrap();
            });
            wait_for_waiters(&rt, &sem, 1);
            let s = sem.clone();
            rt.block_on(rt.spawn(async move { s.add_permits(1) })).unwrap();
            assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
            t.join().unwrap();
            assert_conserved(&sem, 1);
        }
    });
}

#[test]
fn blocking_and_task_waiters_share_one_fifo() {
    run_with_timeout("blocking_fifo", 20, || {
        let rt = multi(2);
        let sem = Sem::new(0);
        let s = sem.clone();
        let task1 = rt.spawn(async move { s.acquire().await.ticket });
        wait_for_waiters(&rt, &sem, 1);
        let s = sem.clone();
        let thread2 = thread::spawn(move || s.blocking_acquire().ticket);
        wait_for_waiters(&rt, &sem, 2);
        let s = sem.clone();
        let task3 = rt.spawn(async move { s.acquire().await.ticket });
        wait_for_waiters(&rt, &sem, 3);
        sem.add_permits(3);
        assert_eq!(rt.block_on(task1).unwrap(), 1);
        assert_eq!(thread2.join().unwrap(), 2);
        assert_eq!(rt.block_on(task3).unwrap(), 3);
        assert_conserved(&sem, 3);
    });
}

// ---- stress ----------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Counts the holders of a permit; flags more holders than permits.
struct Holding(Arc<AtomicUsize>);

impl Holding {
    fn new(holders: Arc<AtomicUsize>, violations: Arc<AtomicUsize>, permits: usize) -> Holding {
        if holders.fetch_add(1, SeqCst) >= permits {
            violations.fetch_add(1, SeqCst);
        }
        Holding(holders)
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

fn stress_iterations() -> usize {
    std::env::var("CORRAL_STRESS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(200)
}

#[test]
fn stress_random_aborts_conserve_permits() {
    let iterations = stress_iterations();
    // Generous: CORRAL_STRESS may ask for many more iterations.
    let secs = 60 + (iterations as u64) / 10;
    run_with_timeout("wait_stress", secs, move || {
        let rt = multi(2);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut total_ok, mut total_cancelled) = (0, 0);
        for iter in 0..iterations {
            let permits = 1 + rng.below(3) as usize;
            let sem = Sem::new(permits);
            let holders = Arc::new(AtomicUsize::new(0));
            let violations = Arc::new(AtomicUsize::new(0));
            let n = 8;
            let mut hs = Vec::new();
            for _ in 0..n {
                let (s, h, v) = (sem.clone(), holders.clone(), violations.clone());
                let mode = rng.below(3);
                let hold = rng.below(4);
                hs.push(rt.spawn(async move {
                    let _p = match mode {
                        0 => s.acquire().await,
                        1 => {
                            let mut set = FuturesUnordered::new();
                            set.push(s.acquire());
                            set.next().await.unwrap()
                        }
                        _ => {
                            // Polled spuriously while queued.
                            let mut acq = std::pin::pin!(s.acquire());
                            loop {
                                if let Some(p) = (&mut acq).now_or_never() {
                                    break p;
                                }
                                corral::yield_now().await;
                            }
                        }
                    };
                    // Declared after `p`, so dropped before it, also
                    // when the task is aborted while holding the permit.
                    let _holding = Holding::new(h, v, permits);
                    for _ in 0..hold {
                        corral::yield_now().await;
                    }
                }));
            }
            // Sometimes a blocking thread competes too.
            let blocking = (iter % 4 == 0).then(|| {
                let (s, h, v) = (sem.clone(), holders.clone(), violations.clone());
                thread::spawn(move || {
                    let _p = s.blocking_acquire();
                    let _holding = Holding::new(h, v, permits);
                    thread::yield_now();
                })
            });
            // Abort some tasks at random points.
            rt.block_on(async {
                for h in &hs {
                    for _ in 0..rng.below(3) {
                        corral::yield_now().await;
                    }
                    if rng.below(3) == 0 {
                        h.abort();
                    }
                }
            });
            let (mut ok, mut cancelled) = (0, 0);
            for h in hs {
                match rt.block_on(h) {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        assert!(e.is_cancelled(), "iteration {iter}: {e}");
                        cancelled += 1;
                    }
                }
            }
            if let Some(t) = blocking {
                t.join().unwrap();
            }
            assert_eq!(ok + cancelled, n);
            total_ok += ok;
            total_cancelled += cancelled;
            assert_eq!(
                violations.load(SeqCst),
                0,
                "iteration {iter}: more holders than permits"
            );
            assert_eq!(holders.load(SeqCst), 0);
            let (free, total, waiting) = sem.stats();
            assert_eq!(
                (free, total, waiting),
                (permits, permits, 0),
                "iteration {iter}: permits not conserved"
            );
        }
        // The loop really exercised both outcomes.
        assert!(
            total_ok > 0 && (iterations < 10 || total_cancelled > 0),
            "{total_ok} ok, {total_cancelled} cancelled"
        );
        println!("wait stress: {iterations} iterations, {total_ok} tasks done, {total_cancelled} cancelled");
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
fn a_panicking_foreign_waker_does_not_stop_the_rest_of_a_batch() {
    run_with_timeout("panicking_waker_batch", 20, || {
        let rt = multi(2);
        let sem = Sem::new(0);
        // First in line: a foreign waiter whose waker panics.
        let mut f1 = Box::pin(sem.acquire());
        let bad = Waker::from(Arc::new(PanickingWaker));
        assert!(f1.as_mut().poll(&mut Context::from_waker(&bad)).is_pending());
        // Then a well-behaved foreign waiter and a task.
        let (c2, w2) = counting_waker();
        let mut f2 = Box::pin(sem.acquire());
        assert!(f2.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
        let s = sem.clone();
        let task = rt.spawn(async move { s.acquire().await.ticket });
        wait_for_waiters(&rt, &sem, 3);
        let res = panic::catch_unwind(panic::AssertUnwindSafe(|| sem.grant_all()));
        assert!(res.is_err(), "the waker's panic should reach the caller of wake");
        assert_eq!(
            c2.wakes.load(SeqCst),
            1,
            "a waiter after the panicking one was not woken"
        );
        assert_eq!(
            rt.block_on(task).unwrap(),
            3,
            "the task after the panicking waker was not woken"
        );
        let (_c, good) = counting_waker();
        match (
            f1.as_mut().poll(&mut Context::from_waker(&good)),
            f2.as_mut().poll(&mut Context::from_waker(&good)),
        ) {
            (Poll::Ready(a), Poll::Ready(b)) => assert_eq!((a.ticket, b.ticket), (1, 2)),
            _ => panic!("handed permits were lost"),
        }
        drop((f1, f2));
        assert_conserved(&sem, 3);
    });
}
