//! The reactor survives wakers that misbehave: a foreign waker that panics
//! when woken neither kills the thread driving the reactor nor keeps the
//! other waiters of the same turn asleep.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use corral::net::UdpSocket;

#[allow(dead_code)]
mod common;
use common::{current, multi, with_deadline};

struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("a foreign waker that panics when woken");
    }
}

/// One turn of the reactor wakes a panicking foreign waker and a corral
/// task; the task must still run and the runtime keep working.
fn panicking_waker_does_not_take_the_reactor_down(rt: corral::Runtime) {
    rt.block_on(async {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let foreign = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ours = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());

        // A receive polled by "another executor" whose waker panics.
        let mut buf = [0; 8];
        let mut foreign_recv = pin!(foreign.recv(&mut buf));
        let waker = Waker::from(Arc::new(PanickingWaker));
        assert!(foreign_recv
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());

        // A corral task waiting on readiness of the same reactor.
        let task = corral::spawn({
            let ours = ours.clone();
            async move {
                let mut buf = [0; 8];
                ours.recv(&mut buf).await.unwrap()
            }
        });
        corral::time::sleep(Duration::from_millis(50)).await;

        // Both become ready in (most likely) one turn.
        sender.send_to(b"x", foreign.local_addr().unwrap()).await.unwrap();
        sender.send_to(b"yy", ours.local_addr().unwrap()).await.unwrap();
        let n = corral::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the task waiting beside a panicking waker was never woken")
            .unwrap();
        assert_eq!(n, 2);

        // The runtime still drives I/O and timers afterwards.
        sender.send_to(b"zzz", ours.local_addr().unwrap()).await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(ours.recv(&mut buf).await.unwrap(), 3);
        corral::time::sleep(Duration::from_millis(1)).await;
    });
}

#[test]
fn panicking_foreign_waker_current_thread() {
    with_deadline("panicking-waker-current", 20, || {
        panicking_waker_does_not_take_the_reactor_down(current())
    });
}

#[test]
fn panicking_foreign_waker_multi_thread() {
    with_deadline("panicking-waker-multi", 20, || {
        panicking_waker_does_not_take_the_reactor_down(multi(2))
    });
}
