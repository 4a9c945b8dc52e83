//! CapacityLimiter: semantics, every error, FIFO with the token reserved
//! for the first waiter, set_total_tokens up and down, cancellation,
//! run_sync, OS threads mixed with tasks, a foreign executor, and a
//! cancel-at-random stress test sized by `CORRAL_STRESS`.

#![cfg(not(loom))]

#[allow(dead_code)]
mod common;

use common::{current, foreign_block_on, multi, poll_once, run_with_timeout, stress, Rng};
use corral::sync::{BlockingBorrowError, BorrowError, CapacityLimiter, TryBorrowError};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

async fn settle() {
    for _ in 0..10 {
        corral::yield_now().await;
    }
}

/// Counts how many are inside at once.
#[derive(Default)]
struct Inside {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Inside {
    /// Counts one more borrower inside until the returned guard drops (also
    /// when its task is aborted at an await inside).
    #[must_use]
    fn enter(&self) -> Occupant<'_> {
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(n, SeqCst);
        Occupant(self)
    }
}

struct Occupant<'a>(&'a Inside);

impl Drop for Occupant<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, SeqCst);
    }
}

#[test]
fn counts_guards_detach_and_release() {
    current().block_on(async {
        let line = line!() + 1;
        let limiter = CapacityLimiter::new(3);
        assert_eq!(limiter.created_at().line(), line);
        assert_eq!(
            (
                limiter.total_tokens(),
                limiter.borrowed_tokens(),
                limiter.available_tokens()
            ),
            (3, 0, 3)
        );
        let token = limiter.acquire().await.unwrap();
        // block_on's future is not a task: the borrower is the thread.
        assert_eq!(token.borrower().thread_id(), Some(std::thread::current().id()));
        limiter.acquire_on_behalf_of("named").await.unwrap();
        assert_eq!((limiter.borrowed_tokens(), limiter.available_tokens()), (2, 1));
        let stats = limiter.statistics();
        assert_eq!(
            (stats.borrowed_tokens, stats.total_tokens, stats.tasks_waiting),
            (2, 3, 0)
        );
        let mut names: Vec<String> = stats.borrowers.iter().map(|b| b.to_string()).collect();
        names.sort();
        assert_eq!(names[0], "\"named\"");
        assert!(names[1].starts_with("thread ThreadId("), "{names:?}");
        drop(token);
        assert_eq!(limiter.borrowed_tokens(), 1);
        limiter.release_on_behalf_of(&"named").unwrap();
        assert_eq!(limiter.available_tokens(), 3);
        // AnyIO's manual style: acquire, detach, release.
        limiter.acquire().await.unwrap().detach();
        assert_eq!(limiter.borrowed_tokens(), 1);
        limiter.release().unwrap();
        assert_eq!(limiter.borrowed_tokens(), 0);
        assert!(format!("{limiter:?}").starts_with("CapacityLimiter { total_tokens: 3, borrowed_tokens: 0"));
    });
}

#[test]
fn the_borrower_is_the_task() {
    multi(2).block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(2));
        let l = limiter.clone();
        let task = corral::spawn(async move {
            let token = l.acquire().await.unwrap();
            // Held across awaits (and possibly a move between workers).
            for _ in 0..20 {
                corral::yield_now().await;
            }
            let b = token.borrower();
            let again = l.acquire().await.unwrap_err();
            assert_eq!(again, BorrowError::AlreadyBorrowing(b.clone()));
            (b.task_id(), b.to_string(), again.to_string())
        });
        let id = task.id();
        let (who, name, msg) = task.await.unwrap();
        assert_eq!(who, Some(id));
        assert_eq!(name, format!("task {id}"));
        assert_eq!(
            msg,
            format!("task {id} already holds a token of this CapacityLimiter")
        );
        // A task's id given as a key is that task.
        limiter.try_acquire_on_behalf_of(id).unwrap();
        assert_eq!(limiter.statistics().borrowers[0].task_id(), Some(id));
        limiter.release_on_behalf_of(&id).unwrap();
        assert_eq!(limiter.borrowed_tokens(), 0);
    });
}

/// `acquire()` names its borrower when it is first polled (as an `async
/// fn` body would): a future made outside a task and polled inside one
/// borrows as that task, not as the thread that made it.
#[test]
fn the_borrower_of_acquire_is_whoever_polls_it() {
    multi(2).block_on(async {
        let limiter: &'static CapacityLimiter = Box::leak(Box::new(CapacityLimiter::new(1)));
        let made_here = limiter.acquire();
        let task = corral::spawn(async move {
            let token = made_here.await.unwrap();
            let who = token.borrower();
            assert_eq!(limiter.statistics().borrowers, vec![who.clone()]);
            who.task_id()
        });
        let id = task.id();
        assert_eq!(task.await.unwrap(), Some(id));
        assert_eq!(limiter.borrowed_tokens(), 0);
    });
}

/// A guard remembers where its borrower's entry was put and looks there
/// first on release; after the borrower table was rebuilt (grown by a
/// crowd of task borrowers, swept after they left) that place may hold
/// another task or nothing. Either way the guard gives back its own token
/// and nobody else's: for a token taken at once, and for one granted to a
/// waiter that queued before the crowd came.
#[test]
fn a_token_released_after_the_table_was_rebuilt_gives_back_its_own() {
    use corral::task::Id;
    current().block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let l = limiter.clone();
        let task = corral::spawn(async move {
            let me = corral::task::try_id().unwrap();
            let crowd: Vec<Id> = (1..=2_000)
                .map(|n| Id::from_u64(me.as_u64() + 1_000_000 + n).unwrap())
                .collect();

            // Taken at once, then the crowd comes (as holders) and goes.
            let token = l.acquire().await.unwrap();
            l.set_total_tokens(3_000);
            for &id in &crowd {
                l.try_acquire_on_behalf_of(id).unwrap();
            }
            for &id in &crowd[10..] {
                l.release_on_behalf_of(&id).unwrap();
            }
            drop(token);
            let stats = l.statistics();
            assert_eq!(stats.borrowed_tokens, 10);
            assert!(stats.borrowers.iter().all(|b| b.task_id() != Some(me)));
            assert!(l.release().is_err(), "the guard gave back this task's token");
            for &id in &crowd[..10] {
                l.release_on_behalf_of(&id).unwrap();
            }

            // Queued first, then the crowd queues behind it and leaves
            // (cancelled), then the token comes and goes.
            l.set_total_tokens(1);
            l.try_acquire_on_behalf_of("holder").unwrap();
            let mut mine = Box::pin(l.acquire());
            assert!(poll_once(mine.as_mut()).is_pending());
            let mut waiting: Vec<_> = crowd
                .iter()
                .map(|&id| Box::pin(l.acquire_on_behalf_of(id)))
                .collect();
            for chunk in waiting.chunks_mut(50) {
                for w in chunk {
                    assert!(poll_once(w.as_mut()).is_pending());
                }
                // A fresh cooperative budget: a first poll spends one unit,
                // and one with none left returns Pending unqueued.
                corral::yield_now().await;
            }
            assert_eq!(l.statistics().tasks_waiting, 2_001);
            drop(waiting);
            l.release_on_behalf_of(&"holder").unwrap();
            let token = match poll_once(mine.as_mut()) {
                Poll::Ready(Ok(token)) => token,
                other => panic!("the first waiter was not granted: {other:?}"),
            };
            assert_eq!(token.borrower().task_id(), Some(me));
            l.try_acquire_on_behalf_of(crowd[0]).unwrap_err();
            drop(token);
            assert_eq!(l.borrowed_tokens(), 0);
            assert!(l.statistics().borrowers.is_empty());
            l.try_acquire_on_behalf_of(crowd[0]).unwrap();
            l.release_on_behalf_of(&crowd[0]).unwrap();
        });
        task.await.unwrap();
    });
}

#[test]
fn acquiring_twice_is_refused_at_once_even_when_no_token_is_free() {
    let limiter = CapacityLimiter::new(1);
    limiter.try_acquire_on_behalf_of("a").unwrap();
    // Full, and "a" asks again: an error now, not a wait.
    let mut again = pin!(limiter.acquire_on_behalf_of("a"));
    match poll_once(again.as_mut()) {
        Poll::Ready(Err(BorrowError::AlreadyBorrowing(b))) => {
            assert_eq!(b.downcast_ref::<&str>(), Some(&"a"))
        }
        other => panic!("expected AlreadyBorrowing at once, got {other:?}"),
    }
    assert!(matches!(
        limiter.try_acquire_on_behalf_of("a"),
        Err(TryBorrowError::AlreadyBorrowing(_))
    ));
    assert!(matches!(
        limiter.blocking_acquire_on_behalf_of("a"),
        Err(BlockingBorrowError::AlreadyBorrowing(_))
    ));
    // "b" waits; a second acquire of "b" is refused at once as well.
    let mut b1 = pin!(limiter.acquire_on_behalf_of("b"));
    assert!(poll_once(b1.as_mut()).is_pending());
    let mut b2 = pin!(limiter.acquire_on_behalf_of("b"));
    match poll_once(b2.as_mut()) {
        Poll::Ready(Err(e @ BorrowError::AlreadyWaiting(_))) => {
            assert_eq!(
                e.to_string(),
                "\"b\" is already waiting for a token of this CapacityLimiter"
            )
        }
        other => panic!("expected AlreadyWaiting, got {other:?}"),
    }
    assert!(matches!(
        limiter.try_acquire_on_behalf_of("b"),
        Err(TryBorrowError::AlreadyWaiting(_))
    ));
    assert!(matches!(
        limiter.blocking_acquire_on_behalf_of_timeout("b", Duration::from_millis(1)),
        Err(BlockingBorrowError::AlreadyWaiting(_))
    ));
    // A waiting borrower holds nothing to release; its wait goes on.
    let err = limiter.release_on_behalf_of(&"b").unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"b\" does not hold a token of this CapacityLimiter"
    );
    assert_eq!(limiter.statistics().tasks_waiting, 1);
    limiter.release_on_behalf_of(&"a").unwrap();
    assert!(matches!(poll_once(b1.as_mut()), Poll::Ready(Ok(()))));
    limiter.release_on_behalf_of(&"b").unwrap();
    assert_eq!(limiter.borrowed_tokens(), 0);
}

#[test]
fn releasing_a_token_not_held_is_an_error_that_changes_nothing() {
    let limiter = CapacityLimiter::new(2);
    limiter.try_acquire_on_behalf_of(String::from("job")).unwrap();
    let err = limiter.release_on_behalf_of(&"job").unwrap_err(); // a &str, not a String
    assert_eq!(err.borrower(), "\"job\"");
    let err = limiter.release().unwrap_err();
    assert!(err.to_string().starts_with("thread ThreadId("), "{err}");
    assert!(err
        .to_string()
        .ends_with(" does not hold a token of this CapacityLimiter"));
    assert_eq!(
        limiter.release_on_behalf_of(&42u8).unwrap_err().to_string(),
        "42 does not hold a token of this CapacityLimiter"
    );
    #[derive(Hash, PartialEq, Eq)]
    struct Req(u32);
    assert!(limiter
        .release_on_behalf_of(&Req(1))
        .unwrap_err()
        .to_string()
        .starts_with("a key of type "));
    assert_eq!(limiter.borrowed_tokens(), 1);
    limiter.release_on_behalf_of(&String::from("job")).unwrap();
    assert_eq!(
        limiter
            .release_on_behalf_of(&String::from("job"))
            .unwrap_err()
            .borrower(),
        "\"job\""
    );
}

#[test]
fn a_released_token_is_reserved_for_the_first_waiter() {
    current().block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let held = limiter.acquire().await.unwrap();
        let l = limiter.clone();
        let waiter = corral::spawn(async move {
            let _t = l.acquire().await.unwrap();
            "waiter"
        });
        let waiter_id = waiter.id();
        settle().await;
        assert_eq!(limiter.statistics().tasks_waiting, 1);
        drop(held);
        // The waiter has not run, but the token is already its own.
        let stats = limiter.statistics();
        assert_eq!((stats.borrowed_tokens, stats.tasks_waiting), (1, 0));
        assert_eq!(stats.borrowers[0].task_id(), Some(waiter_id));
        assert_eq!(
            limiter.try_acquire_on_behalf_of("barger"),
            Err(TryBorrowError::NoTokens),
            "try_acquire snatched the token reserved for the waiter"
        );
        assert_eq!(waiter.await.unwrap(), "waiter");
        assert_eq!(limiter.borrowed_tokens(), 0);
    });
}

#[test]
fn waiters_get_tokens_in_fifo_order() {
    run_with_timeout("limiter_fifo", 10, || {
        current().block_on(async {
            let limiter = Arc::new(CapacityLimiter::new(1));
            let order = Arc::new(StdMutex::new(Vec::new()));
            limiter.acquire_on_behalf_of("gate").await.unwrap();
            let mut tasks = Vec::new();
            for i in 0..8 {
                let (l, order) = (limiter.clone(), order.clone());
                tasks.push(corral::spawn(async move {
                    let _t = l.acquire().await.unwrap();
                    order.lock().unwrap().push(i);
                    corral::yield_now().await;
                }));
                settle().await;
            }
            assert_eq!(limiter.statistics().tasks_waiting, 8);
            limiter.release_on_behalf_of(&"gate").unwrap();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
        });
    });
}

#[test]
fn raising_the_total_wakes_that_many_waiters_in_order() {
    current().block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(1));
        limiter.acquire_on_behalf_of("first").await.unwrap();
        let mut waiting = Vec::new();
        for i in 0..4u32 {
            let l = limiter.clone();
            waiting.push(corral::spawn(
                async move { l.acquire_on_behalf_of(i).await.unwrap() },
            ));
            settle().await;
        }
        limiter.set_total_tokens(3); // two new tokens: waiters 0 and 1
        let stats = limiter.statistics();
        assert_eq!(
            (stats.borrowed_tokens, stats.total_tokens, stats.tasks_waiting),
            (3, 3, 2)
        );
        let mut got: Vec<u32> = stats
            .borrowers
            .iter()
            .filter_map(|b| b.downcast_ref::<u32>().copied())
            .collect();
        got.sort();
        assert_eq!(got, [0, 1]);
        assert_eq!(limiter.available_tokens(), 0);
        limiter.set_total_tokens(3); // unchanged: nothing happens
        assert_eq!(limiter.statistics().tasks_waiting, 2);
        limiter.set_total_tokens(10);
        assert_eq!(limiter.statistics().tasks_waiting, 0);
        assert_eq!((limiter.borrowed_tokens(), limiter.available_tokens()), (5, 5));
        for t in waiting {
            t.await.unwrap();
        }
    });
}

#[test]
fn lowering_the_total_takes_nothing_back_and_does_not_reissue() {
    current().block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(3));
        for k in ["a", "b", "c"] {
            limiter.acquire_on_behalf_of(k).await.unwrap();
        }
        let l = limiter.clone();
        let waiter = corral::spawn(async move { l.acquire_on_behalf_of("d").await.unwrap() });
        settle().await;
        limiter.set_total_tokens(1);
        assert_eq!(
            (
                limiter.borrowed_tokens(),
                limiter.total_tokens(),
                limiter.available_tokens()
            ),
            (3, 1, 0)
        );
        limiter.release_on_behalf_of(&"a").unwrap();
        limiter.release_on_behalf_of(&"b").unwrap();
        // Two returned, but the one left already fills the total.
        assert_eq!(limiter.borrowed_tokens(), 1);
        assert_eq!(limiter.statistics().tasks_waiting, 1);
        assert_eq!(
            limiter.try_acquire_on_behalf_of("e"),
            Err(TryBorrowError::NoTokens)
        );
        limiter.release_on_behalf_of(&"c").unwrap(); // now below: to the waiter
        assert_eq!(limiter.statistics().tasks_waiting, 0);
        waiter.await.unwrap();
        assert_eq!(limiter.statistics().borrowers[0].to_string(), "\"d\"");
        // A total of 0 admits nobody until raised.
        limiter.release_on_behalf_of(&"d").unwrap();
        limiter.set_total_tokens(0);
        assert_eq!(
            limiter.try_acquire_on_behalf_of("f"),
            Err(TryBorrowError::NoTokens)
        );
        limiter.set_total_tokens(1);
        limiter.try_acquire_on_behalf_of("f").unwrap();
    });
}

#[test]
fn cancelled_after_the_grant_passes_the_token_on() {
    let limiter = CapacityLimiter::new(1);
    limiter.try_acquire_on_behalf_of(0).unwrap();
    let mut first = Box::pin(limiter.acquire_on_behalf_of(1));
    let mut second = pin!(limiter.acquire_on_behalf_of(2));
    assert!(poll_once(first.as_mut()).is_pending());
    assert!(poll_once(second.as_mut()).is_pending());
    limiter.release_on_behalf_of(&0).unwrap(); // granted to `first`
    assert_eq!(limiter.statistics().borrowers[0].downcast_ref::<i32>(), Some(&1));
    drop(first); // cancelled: the token must reach `second`
    assert!(
        matches!(poll_once(second.as_mut()), Poll::Ready(Ok(()))),
        "the token was lost with the cancelled waiter"
    );
    assert_eq!(limiter.statistics().borrowers[0].downcast_ref::<i32>(), Some(&2));
    // And `1` holds nothing: it may acquire again, and releasing it is an error.
    assert!(limiter.release_on_behalf_of(&1).is_err());
    limiter.release_on_behalf_of(&2).unwrap();
    limiter.try_acquire_on_behalf_of(1).unwrap();
}

#[test]
fn cancelled_while_queued_forgets_the_borrower() {
    current().block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(1));
        limiter.acquire_on_behalf_of("holder").await.unwrap();
        let l = limiter.clone();
        let w = corral::spawn(async move { l.acquire_on_behalf_of("w").await });
        settle().await;
        assert_eq!(limiter.statistics().tasks_waiting, 1);
        w.abort();
        assert!(w.await.unwrap_err().is_cancelled());
        assert_eq!(limiter.statistics().tasks_waiting, 0);
        // A timeout at the await point is a cancellation too.
        let r = corral::time::timeout(Duration::from_millis(5), limiter.acquire_on_behalf_of("w")).await;
        assert!(r.is_err());
        assert_eq!(limiter.statistics().tasks_waiting, 0);
        // "w" is forgotten: not waiting, not holding.
        limiter.release_on_behalf_of(&"holder").unwrap();
        limiter.acquire_on_behalf_of("w").await.unwrap();
        assert_eq!(limiter.borrowed_tokens(), 1);
    });
}

#[test]
fn a_task_that_panics_holding_a_token_gives_it_back() {
    multi(2).block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let l = limiter.clone();
        let t = corral::spawn(async move {
            let _t = l.acquire().await.unwrap();
            panic!("boom while holding a token");
        });
        assert!(t.await.unwrap_err().is_panic());
        assert_eq!(limiter.borrowed_tokens(), 0);
        assert!(limiter.try_acquire_on_behalf_of(1).is_ok());
    });
}

#[test]
fn blocking_acquire_from_threads_timeout_and_handoff() {
    run_with_timeout("limiter_blocking", 20, || {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let token = limiter.blocking_acquire().unwrap();
        assert!(matches!(
            limiter.blocking_acquire(),
            Err(BlockingBorrowError::AlreadyBorrowing(_))
        ));
        let l = limiter.clone();
        let (timed_out, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            assert_eq!(
                l.blocking_acquire_timeout(Duration::from_millis(20)).unwrap_err(),
                BlockingBorrowError::Timeout
            );
            timed_out.send(()).unwrap();
            let tok = l.blocking_acquire().unwrap();
            assert_eq!(tok.borrower().thread_id(), Some(std::thread::current().id()));
        });
        // Wait for the timeout itself (a loaded machine may run the thread
        // late: a fixed sleep could drop the token into the first wait).
        rx.recv().unwrap();
        // The timed-out wait left nothing behind; the second one waits.
        while limiter.statistics().tasks_waiting == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(limiter.statistics().tasks_waiting, 1);
        drop(token);
        t.join().unwrap();
        assert_eq!(limiter.borrowed_tokens(), 0);
        assert_eq!(limiter.statistics().tasks_waiting, 0);
    });
}

#[test]
fn blocking_acquire_on_a_runtime_thread_panics_with_a_hint() {
    let limiter = CapacityLimiter::new(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        current().block_on(async { limiter.blocking_acquire().map(|t| t.detach()) })
    }));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.contains("CapacityLimiter::blocking_acquire cannot block"),
        "{msg}"
    );
    assert_eq!(limiter.borrowed_tokens(), 0);
}

#[test]
fn run_sync_limits_blocking_jobs_and_releases_on_panic() {
    run_with_timeout("limiter_run_sync", 30, || {
        multi(2).block_on(async {
            let limiter = Arc::new(CapacityLimiter::new(2));
            let inside = Arc::new(Inside::default());
            let mut jobs = Vec::new();
            for i in 0..8usize {
                let (l, inside) = (limiter.clone(), inside.clone());
                jobs.push(corral::spawn(async move {
                    l.run_sync(move || {
                        let occupant = inside.enter();
                        std::thread::sleep(Duration::from_millis(5));
                        drop(occupant);
                        i
                    })
                    .await
                    .unwrap()
                }));
            }
            let mut sum = 0;
            for j in jobs {
                sum += j.await.unwrap();
            }
            assert_eq!(sum, 28);
            assert!(inside.max.load(SeqCst) <= 2, "more than 2 jobs ran at once");
            // One task, two jobs at once: each job is its own borrower.
            let (l1, l2) = (limiter.clone(), limiter.clone());
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let seen = Arc::new(StdMutex::new(String::new()));
            let s = seen.clone();
            let check = l1.clone();
            let a = corral::spawn(async move {
                l1.run_sync(move || {
                    *s.lock().unwrap() = check.statistics().borrowers[0].to_string();
                    rx.recv().unwrap()
                })
                .await
            });
            let b = l2.run_sync(move || tx.send(()).unwrap());
            b.await.unwrap();
            a.await.unwrap().unwrap();
            assert!(seen.lock().unwrap().starts_with("blocking job "));
            // A panicking job gives its token back.
            let err = limiter.run_sync(|| panic!("job failed")).await.unwrap_err();
            assert!(err.is_panic());
            assert_eq!(limiter.borrowed_tokens(), 0);
        });
    });
}

#[test]
fn eight_threads_and_tasks_never_exceed_the_total() {
    run_with_timeout("limiter_threads_tasks", 60, || {
        let rt = multi(2);
        let limiter = Arc::new(CapacityLimiter::new(3));
        let inside = Arc::new(Inside::default());
        let rounds = 100;
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (l, inside) = (limiter.clone(), inside.clone());
                std::thread::spawn(move || {
                    for r in 0..rounds {
                        if (i + r) % 2 == 0 {
                            let _t = l.blocking_acquire().unwrap();
                            let occupant = inside.enter();
                            std::thread::yield_now();
                            drop(occupant);
                        } else {
                            l.blocking_acquire_on_behalf_of((i, r)).unwrap();
                            let occupant = inside.enter();
                            drop(occupant);
                            l.release_on_behalf_of(&(i, r)).unwrap();
                        }
                    }
                })
            })
            .collect();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (l, inside) = (limiter.clone(), inside.clone());
                    corral::spawn(async move {
                        for _ in 0..rounds {
                            let _t = l.acquire().await.unwrap();
                            let occupant = inside.enter();
                            corral::yield_now().await;
                            drop(occupant);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        assert!(inside.max.load(SeqCst) <= 3);
        let stats = limiter.statistics();
        assert_eq!((stats.borrowed_tokens, stats.tasks_waiting), (0, 0));
        assert!(stats.borrowers.is_empty());
    });
}

#[test]
fn under_a_foreign_executor_on_several_threads() {
    run_with_timeout("limiter_tokio", 60, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .build()
            .unwrap();
        let limiter = Arc::new(CapacityLimiter::new(2));
        let inside = Arc::new(Inside::default());
        rt.block_on(async {
            let tasks: Vec<_> = (0..16usize)
                .map(|i| {
                    let (l, inside) = (limiter.clone(), inside.clone());
                    tokio::spawn(async move {
                        for r in 0..50usize {
                            // Tokio moves tasks between threads: name the
                            // borrower with a key of our own.
                            l.acquire_on_behalf_of((i, r)).await.unwrap();
                            let occupant = inside.enter();
                            tokio::task::yield_now().await;
                            drop(occupant);
                            l.release_on_behalf_of(&(i, r)).unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert!(inside.max.load(SeqCst) <= 2);
        assert_eq!(limiter.borrowed_tokens(), 0);
        // And a plain foreign block_on on this thread: the borrower is the thread.
        let token = foreign_block_on(limiter.acquire()).unwrap();
        assert_eq!(token.borrower().thread_id(), Some(std::thread::current().id()));
    });
}

#[test]
fn stress_cancel_at_random_never_over_admits_or_loses_a_token() {
    run_with_timeout("limiter_stress", 60, || {
        let rt = multi(2);
        let limiter = Arc::new(CapacityLimiter::new(2));
        let inside = Arc::new(Inside::default());
        let n = stress();
        rt.block_on(async {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let mut tasks = Vec::new();
            for _ in 0..n {
                let (l, inside) = (limiter.clone(), inside.clone());
                let t = corral::spawn(async move {
                    let _t = l.acquire().await.unwrap();
                    let occupant = inside.enter();
                    corral::yield_now().await;
                    drop(occupant);
                });
                if rng.below(3) == 0 {
                    corral::yield_now().await;
                    t.abort();
                }
                tasks.push(t);
            }
            for t in tasks {
                let _ = t.await;
            }
        });
        assert!(inside.max.load(SeqCst) <= 2, "a third borrower got in");
        let stats = limiter.statistics();
        assert_eq!(
            (stats.borrowed_tokens, stats.tasks_waiting),
            (0, 0),
            "a token was lost"
        );
        assert!(limiter.try_acquire_on_behalf_of(1).is_ok() && limiter.try_acquire_on_behalf_of(2).is_ok());
    });
}

#[test]
fn futures_and_tokens_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let limiter = Arc::new(CapacityLimiter::new(1));
    send_sync(&*limiter);
    let f = limiter.acquire();
    send_sync(&f);
    drop(f);
    let f = limiter.acquire_on_behalf_of(String::from("k"));
    send_sync(&f);
    drop(f);
    let f = limiter.run_sync(|| ());
    send_sync(&f);
    drop(f);
    let t = limiter.try_acquire().unwrap();
    send_sync(&t);
    send_sync(&limiter.statistics());
}

#[test]
fn inside_a_run_sync_closure_the_borrower_is_its_task() {
    multi(2).block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(1));
        let l = limiter.clone();
        let job = corral::run_sync(move || {
            let token = l.blocking_acquire().unwrap();
            (token.borrower().task_id(), corral::task::try_id())
        });
        let (borrower, id) = job.await.unwrap();
        assert!(id.is_some(), "run_sync closures run as tasks");
        assert_eq!(borrower, id);
        assert_eq!(limiter.borrowed_tokens(), 0);
    });
}

/// The grant is a watermark over tickets in queue order: a granted waiter
/// holds before it is polled (refused as borrowing, listed, releasable by
/// hand), a cancelled waiter in between is skipped and forgotten, and the
/// next grant after a release by hand goes to the next live waiter.
#[test]
fn a_granted_waiter_holds_before_it_is_polled_and_cancelled_ones_are_skipped() {
    let limiter = CapacityLimiter::new(1);
    limiter.try_acquire_on_behalf_of("a").unwrap();
    let mut b = pin!(limiter.acquire_on_behalf_of("b"));
    assert!(poll_once(b.as_mut()).is_pending());
    {
        let mut c = pin!(limiter.acquire_on_behalf_of("c"));
        assert!(poll_once(c.as_mut()).is_pending());
        // "c" is dropped here, queued between "b" and "d".
    }
    let mut d = pin!(limiter.acquire_on_behalf_of("d"));
    assert!(poll_once(d.as_mut()).is_pending());
    assert_eq!(limiter.statistics().tasks_waiting, 2);

    limiter.release_on_behalf_of(&"a").unwrap();
    // "b" was granted and not polled yet: it holds.
    assert!(matches!(
        limiter.try_acquire_on_behalf_of("b"),
        Err(TryBorrowError::AlreadyBorrowing(_))
    ));
    assert!(matches!(
        limiter.try_acquire_on_behalf_of("d"),
        Err(TryBorrowError::AlreadyWaiting(_))
    ));
    // "c" was forgotten: it is a stranger now, and no token is free.
    assert!(matches!(
        limiter.try_acquire_on_behalf_of("c"),
        Err(TryBorrowError::NoTokens)
    ));
    let stats = limiter.statistics();
    assert_eq!(stats.borrowed_tokens, 1);
    assert_eq!(stats.tasks_waiting, 1);
    assert_eq!(stats.borrowers.len(), 1);
    assert_eq!(stats.borrowers[0].downcast_ref::<&str>(), Some(&"b"));

    // Released by hand before its future ran: the token goes to "d".
    limiter.release_on_behalf_of(&"b").unwrap();
    assert!(matches!(
        limiter.try_acquire_on_behalf_of("d"),
        Err(TryBorrowError::AlreadyBorrowing(_))
    ));
    assert!(matches!(poll_once(b.as_mut()), Poll::Ready(Ok(()))));
    assert!(limiter.release_on_behalf_of(&"b").is_err());
    assert!(matches!(poll_once(d.as_mut()), Poll::Ready(Ok(()))));
    let stats = limiter.statistics();
    assert_eq!(stats.borrowers.len(), 1);
    assert_eq!(stats.borrowers[0].downcast_ref::<&str>(), Some(&"d"));
    limiter.release_on_behalf_of(&"d").unwrap();
    assert_eq!(limiter.borrowed_tokens(), 0);
    assert!(limiter.statistics().borrowers.is_empty());

    // Task keys (kept apart from other keys) behind user keys in the
    // queue: a task waits, is granted, and its id as a key is that task.
    current().block_on(async {
        let limiter = Arc::new(CapacityLimiter::new(1));
        limiter.try_acquire_on_behalf_of(7u32).unwrap();
        let l = limiter.clone();
        let task = corral::spawn(async move {
            let token = l.acquire().await.unwrap();
            token.detach();
        });
        let id = task.id();
        settle().await;
        assert!(matches!(
            limiter.try_acquire_on_behalf_of(id),
            Err(TryBorrowError::AlreadyWaiting(_))
        ));
        limiter.release_on_behalf_of(&7u32).unwrap();
        task.await.unwrap();
        assert_eq!(limiter.statistics().borrowers[0].task_id(), Some(id));
        assert!(matches!(
            limiter.try_acquire_on_behalf_of(id),
            Err(TryBorrowError::AlreadyBorrowing(_))
        ));
        limiter.release_on_behalf_of(&id).unwrap();
        assert_eq!(limiter.borrowed_tokens(), 0);
    });
}
