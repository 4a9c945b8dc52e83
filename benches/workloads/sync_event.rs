//! Event rows: corral's `Event` vs tokio (which has no Event: its
//! `Notify::notify_waiters`, the nearest, with the waiters registered
//! before the wake), and event-listener's `Event` + a flag (the pattern
//! smol's crates build on; async-lock has no Event) on the corral runtime
//! as the third column. One body per row, written against `$Event` with
//! `new` / `set` / `wait`, so the columns run the same code.

use super::{corral_mt, tokio_mt, Alternate, Iter, Kind, Workload};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

/// The rows of this file, corral vs tokio.
pub fn rows() -> Vec<Workload> {
    vec![
        Workload {
            name: "event_set_1000_waiters",
            kind: Kind::MultiThread,
            corral: corral_event_set_1000,
            tokio: tokio_event_set_1000,
        },
        Workload {
            name: "event_set_1000_from_outside",
            kind: Kind::MultiThread,
            corral: corral_event_set_1000_outside,
            tokio: tokio_event_set_1000_outside,
        },
        Workload {
            name: "condition_pingpong_2x5k",
            kind: Kind::MultiThread,
            corral: corral_condition_pingpong,
            tokio: tokio_condition_pingpong,
        },
    ]
}

/// The same rows with event-listener on the corral runtime.
pub fn alternates() -> Vec<Alternate> {
    vec![
        Alternate {
            workload: "event_set_1000_waiters",
            label: "event-listener",
            run: event_listener_event_set_1000,
        },
        Alternate {
            workload: "event_set_1000_from_outside",
            label: "event-listener",
            run: event_listener_event_set_1000_outside,
        },
        Alternate {
            workload: "condition_pingpong_2x5k",
            label: "async-lock",
            run: async_lock_condition_pingpong,
        },
    ]
}

/// tokio's stand-in: `Notify::notify_waiters` wakes every registered
/// `notified()` future (it stores nothing; the bodies register every
/// waiter before they set).
mod tk {
    pub struct Event(tokio::sync::Notify);

    impl Event {
        pub fn new() -> Self {
            Event(tokio::sync::Notify::new())
        }
        pub fn set(&self) {
            self.0.notify_waiters();
        }
        pub fn wait(&self) -> tokio::sync::futures::Notified<'_> {
            self.0.notified()
        }
    }
}

/// event-listener's documented pattern: a flag, checked before and after
/// registering a listener.
mod el {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

    pub struct Event {
        flag: AtomicBool,
        event: event_listener::Event,
    }

    impl Event {
        pub fn new() -> Self {
            Event {
                flag: AtomicBool::new(false),
                event: event_listener::Event::new(),
            }
        }
        pub fn set(&self) {
            self.flag.store(true, SeqCst);
            self.event.notify(usize::MAX);
        }
        pub async fn wait(&self) {
            loop {
                if self.flag.load(SeqCst) {
                    return;
                }
                let listener = self.event.listen();
                if self.flag.load(SeqCst) {
                    return;
                }
                listener.await;
            }
        }
    }
}

/// Polls `wait` once (so it is registered: queued, or done), counts it,
/// then waits: the setter starts the clock only once every waiter is in.
async fn registered(wait: impl Future<Output = ()>, count: &AtomicUsize) {
    let mut wait = pin!(wait);
    let first = poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx))).await;
    count.fetch_add(1, Relaxed);
    if first.is_pending() {
        wait.await;
    }
}

macro_rules! event_rows {
    ($corral:ident, $tokio:ident, $el:ident, |$rt:ident, $spawn:ident, $yield_now:ident, $Event:ident| $body:block) => {
        pub fn $corral() -> Iter {
            let $rt = corral_mt();
            #[allow(unused_imports)]
            use corral::sync::Event as $Event;
            #[allow(unused_imports)]
            use corral::{spawn as $spawn, yield_now as $yield_now};
            $body
        }
        pub fn $tokio() -> Iter {
            let $rt = tokio_mt();
            #[allow(unused_imports)]
            use tk::Event as $Event;
            #[allow(unused_imports)]
            use tokio::{spawn as $spawn, task::yield_now as $yield_now};
            $body
        }
        pub fn $el() -> Iter {
            let $rt = corral_mt();
            #[allow(unused_imports)]
            use corral::{spawn as $spawn, yield_now as $yield_now};
            #[allow(unused_imports)]
            use el::Event as $Event;
            $body
        }
    };
}

const WAITERS: usize = 1000;

event_rows!(
    corral_event_set_1000,
    tokio_event_set_1000,
    event_listener_event_set_1000,
    |rt, spawn, yield_now, Event| {
        // 1,000 tasks wait on one event; a task sets it, waking them all.
        // Timed from the set until every waiter has run (joined).
        Box::new(move || {
            rt.block_on(async {
                let ev = Arc::new(Event::new());
                let count = Arc::new(AtomicUsize::new(0));
                let tasks: Vec<_> = (0..WAITERS)
                    .map(|_| {
                        let (ev, count) = (ev.clone(), count.clone());
                        spawn(async move { registered(ev.wait(), &count).await })
                    })
                    .collect();
                while count.load(Relaxed) < WAITERS {
                    yield_now().await;
                }
                let start = Instant::now();
                let setter = ev.clone();
                spawn(async move { setter.set() }).await.unwrap();
                for t in tasks {
                    t.await.unwrap();
                }
                start.elapsed()
            })
        })
    }
);

event_rows!(
    corral_event_set_1000_outside,
    tokio_event_set_1000_outside,
    event_listener_event_set_1000_outside,
    |rt, spawn, yield_now, Event| {
        // As above, but set from the `block_on` thread (not a worker):
        // every wake is a remote schedule.
        Box::new(move || {
            rt.block_on(async {
                let ev = Arc::new(Event::new());
                let count = Arc::new(AtomicUsize::new(0));
                let tasks: Vec<_> = (0..WAITERS)
                    .map(|_| {
                        let (ev, count) = (ev.clone(), count.clone());
                        spawn(async move { registered(ev.wait(), &count).await })
                    })
                    .collect();
                while count.load(Relaxed) < WAITERS {
                    yield_now().await;
                }
                let start = Instant::now();
                ev.set();
                for t in tasks {
                    t.await.unwrap();
                }
                start.elapsed()
            })
        })
    }
);

/// tokio has no Condition: its Mutex plus a `Notify`, the waiter
/// registered (`enable`) before it unlocks so no notification is lost.
mod tk_cond {
    use std::pin::pin;
    use tokio::sync::{Mutex, MutexGuard, Notify};

    pub struct Condition<T> {
        mutex: Mutex<T>,
        notify: Notify,
    }

    impl<T> Condition<T> {
        pub fn new(value: T) -> Self {
            Condition {
                mutex: Mutex::new(value),
                notify: Notify::new(),
            }
        }
        pub async fn lock(&self) -> MutexGuard<'_, T> {
            self.mutex.lock().await
        }
        pub async fn wait<'a>(&'a self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            drop(guard);
            notified.await;
            self.mutex.lock().await
        }
        pub fn notify_all(&self) {
            self.notify.notify_waiters();
        }
    }
}

/// async-lock has no Condition: its Mutex plus an event-listener `Event`
/// (the listener registered before the unlock).
mod al_cond {
    use async_lock::{Mutex, MutexGuard};

    pub struct Condition<T> {
        mutex: Mutex<T>,
        event: event_listener::Event,
    }

    impl<T> Condition<T> {
        pub fn new(value: T) -> Self {
            Condition {
                mutex: Mutex::new(value),
                event: event_listener::Event::new(),
            }
        }
        pub async fn lock(&self) -> MutexGuard<'_, T> {
            self.mutex.lock().await
        }
        pub async fn wait<'a>(&'a self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            let listener = self.event.listen();
            drop(guard);
            listener.await;
            self.mutex.lock().await
        }
        pub fn notify_all(&self) {
            self.event.notify(usize::MAX);
        }
    }
}

macro_rules! condition_rows {
    ($corral:ident, $tokio:ident, $al:ident, |$rt:ident, $spawn:ident, $Condition:ident| $body:block) => {
        pub fn $corral() -> Iter {
            let $rt = corral_mt();
            use corral::spawn as $spawn;
            use corral::sync::Condition as $Condition;
            $body
        }
        pub fn $tokio() -> Iter {
            let $rt = tokio_mt();
            use tk_cond::Condition as $Condition;
            use tokio::spawn as $spawn;
            $body
        }
        pub fn $al() -> Iter {
            let $rt = corral_mt();
            use al_cond::Condition as $Condition;
            use corral::spawn as $spawn;
            $body
        }
    };
}

const PINGPONG: usize = 5_000;

condition_rows!(
    corral_condition_pingpong,
    tokio_condition_pingpong,
    async_lock_condition_pingpong,
    |rt, spawn, Condition| {
        // Two tasks take turns through one Condition: each waits for its
        // parity, increments, and notifies; 5,000 turns each.
        Box::new(move || {
            let start = Instant::now();
            rt.block_on(async {
                let c = Arc::new(Condition::new(0usize));
                let players: Vec<_> = (0..2)
                    .map(|me| {
                        let c = c.clone();
                        spawn(async move {
                            for _ in 0..PINGPONG {
                                let mut g = c.lock().await;
                                while *g % 2 != me {
                                    g = c.wait(g).await;
                                }
                                *g += 1;
                                drop(g);
                                c.notify_all();
                            }
                        })
                    })
                    .collect();
                for p in players {
                    p.await.unwrap();
                }
                assert_eq!(*c.lock().await, 2 * PINGPONG);
            });
            start.elapsed()
        })
    }
);
