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
