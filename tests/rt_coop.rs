//! `corral_runtime::coop`: the budget helpers a primitive's fast path
//! uses, so a task that always finds its lock free or its queue full still
//! lets the other tasks run.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use corral_runtime::coop;

#[allow(dead_code)]
mod common;
use common::{current, multi, run_with_timeout};

/// A primitive that is always available (a lock nobody else wants): its
/// fast path completes at once and never returns `Pending` by itself.
struct AlwaysFree(Arc<AtomicUsize>);

impl AlwaysFree {
    fn acquire(&self) -> Acquire<'_> {
        Acquire(self)
    }
}

struct Acquire<'a>(&'a AlwaysFree);

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ready!(coop::poll_consume_budget(cx));
        self.0 .0.fetch_add(1, SeqCst);
        Poll::Ready(())
    }
}

#[test]
fn always_ready_primitive_loop_lets_other_tasks_run() {
    run_with_timeout("always_free", 10, || {
        current().block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let taken = Arc::new(AtomicUsize::new(0));
            let (s, t) = (stop.clone(), taken.clone());
            let busy = corral::spawn(async move {
                let lock = AlwaysFree(t);
                while !s.load(SeqCst) {
                    lock.acquire().await;
                }
            });
            let s = stop.clone();
            let other = corral::spawn(async move { s.store(true, SeqCst) });
            busy.await.unwrap();
            other.await.unwrap();
            // It gave way after a budget's worth, not before.
            assert!(taken.load(SeqCst) >= usize::from(coop::BUDGET));
        });
    });
}

#[test]
fn always_ready_primitive_loop_in_block_on_lets_tasks_run() {
    run_with_timeout("always_free_block_on", 10, || {
        for rt in [current(), multi(2)] {
            rt.block_on(async {
                let stop = Arc::new(AtomicBool::new(false));
                let s = stop.clone();
                corral::spawn(async move { s.store(true, SeqCst) });
                let lock = AlwaysFree(Arc::new(AtomicUsize::new(0)));
                while !stop.load(SeqCst) {
                    lock.acquire().await;
                }
            });
        }
    });
}

#[test]
fn poll_consume_budget_gives_way_once_per_budget() {
    run_with_timeout("gives_way", 10, || {
        current().block_on(async {
            let polls = corral::spawn(async {
                let lock = AlwaysFree(Arc::new(AtomicUsize::new(0)));
                let mut pending = 0u32;
                let mut acquired = 0u32;
                std::future::poll_fn(|cx| {
                    while acquired < 3 * u32::from(coop::BUDGET) {
                        match Pin::new(&mut lock.acquire()).poll(cx) {
                            Poll::Ready(()) => acquired += 1,
                            Poll::Pending => {
                                pending += 1;
                                return Poll::Pending;
                            }
                        }
                    }
                    Poll::Ready(())
                })
                .await;
                pending
            });
            // 3 x BUDGET acquisitions: two full budgets spent, three polls.
            assert_eq!(polls.await.unwrap(), 2);
        });
    });
}

#[test]
fn consume_budget_loop_lets_other_tasks_run() {
    run_with_timeout("consume_budget", 10, || {
        current().block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let busy = corral::spawn(async move {
                let mut spins = 0u64;
                while !s.load(SeqCst) {
                    spins += 1;
                    coop::consume_budget().await;
                }
                spins
            });
            let s = stop.clone();
            corral::spawn(async move { s.store(true, SeqCst) }).await.unwrap();
            assert!(busy.await.unwrap() >= u64::from(coop::BUDGET));
        });
    });
}

#[test]
fn outside_a_runtime_the_helpers_never_give_way() {
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    for _ in 0..10 * u32::from(coop::BUDGET) {
        assert_eq!(coop::poll_consume_budget(&mut cx), Poll::Ready(()));
    }
    assert!(coop::has_budget_remaining());
}
