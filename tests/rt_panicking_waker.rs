//! A foreign waker that panics when the driver wakes it must not take the
//! driver, a worker or the other due timers down with it.

#[allow(dead_code)]
mod common;

use common::{ms, multi, run_with_timeout};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

/// A waker whose wake panics (a buggy foreign executor).
struct PanickingWaker(AtomicUsize);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
        panic!("foreign waker panicked on purpose");
    }
}

/// Polls `sleep` once with a panicking waker, so the runtime's timer wheel
/// holds that waker.
fn register_with_panicking_waker(sleep: Pin<&mut corral::time::Sleep>) -> Arc<PanickingWaker> {
    let pw = Arc::new(PanickingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(pw.clone());
    assert!(sleep.poll(&mut Context::from_waker(&waker)).is_pending());
    pw
}

#[test]
fn panicking_timer_waker_does_not_wedge_the_runtime() {
    run_with_timeout("panicking_timer_waker", 30, || {
        let rt = multi(2);
        rt.block_on(async {
            // Several rounds: each kills a worker on a runtime that does
            // not contain the panic, until none is left.
            for round in 0..4 {
                let mut bad = Box::pin(corral::time::sleep(ms(20)));
                let pw = register_with_panicking_waker(bad.as_mut());
                // Tasks sleeping to the same tick: woken in the same
                // driver turn as the panicking waker, before or after it.
                let sleepers: Vec<_> = (0..8)
                    .map(|_| corral::spawn(async { corral::time::sleep(ms(20)).await }))
                    .collect();
                let start = Instant::now();
                for s in sleepers {
                    s.await.unwrap();
                }
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "round {round}: sleepers took {:?}",
                    start.elapsed()
                );
                // The panicking waker was called; the runtime still runs
                // new tasks and timers.
                while pw.0.load(SeqCst) == 0 {
                    corral::time::sleep(ms(1)).await;
                }
                let v = corral::spawn(async {
                    corral::time::sleep(ms(5)).await;
                    7
                });
                assert_eq!(v.await.unwrap(), 7, "round {round}");
                drop(bad);
            }
        });
    });
}
