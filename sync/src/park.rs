//! The blocking path of the channels: poll a future on a plain thread,
//! parking it between polls, with an optional deadline.
//!
//! The channels' waiters are futures; a `blocking_*` method drives the same
//! future here with a waker that unparks this thread, so the fairness and
//! cancellation rules are the async ones: on timeout the future is dropped,
//! which gives back whatever it was handed.

use corral_runtime::wait::assert_may_block;
use std::future::Future;
use std::time::Instant;

/// Polls `fut` on this thread until it completes (`Some`) or `deadline`
/// passes (`None`; the future is dropped, running its cancellation).
///
/// # Panics
///
/// On a thread that drives a corral runtime; `what` names the caller.
#[track_caller]
pub(crate) fn block_on<F: Future>(what: &str, fut: F, deadline: Option<Instant>) -> Option<F::Output> {
    assert_may_block(what);
    imp::block_on(fut, deadline)
}

#[cfg(not(loom))]
mod imp {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::{self, Thread};
    use std::time::Instant;

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    pub(super) fn block_on<F: Future>(fut: F, deadline: Option<Instant>) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return Some(v);
            }
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    thread::park_timeout(d - now);
                }
            }
        }
    }
}

#[cfg(loom)]
mod imp {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use std::time::Instant;

    /// Under loom there is no clock: a deadline fires after the first poll,
    /// so models explore the race between the timeout and a wake.
    pub(super) fn block_on<F: Future>(fut: F, deadline: Option<Instant>) -> Option<F::Output> {
        if deadline.is_none() {
            return Some(loom::future::block_on(fut));
        }
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        }
    }
}
