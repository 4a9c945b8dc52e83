use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Gives way to the other tasks: the current task goes to the back of its
/// worker's run queue and runs again after the tasks already queued.
///
/// A task that loops without awaiting anything that can block (a busy
/// computation in slices, a retry loop) should call this between slices.
///
/// In the `block_on` future (the body of `#[corral::main]` or
/// `#[corral::test]`) it gives way too: `block_on` runs the ready I/O, the
/// due timers and the queued tasks before it polls the future again.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let mut total = 0u64;
/// for slice in 0..10u64 {
///     total += (slice * 1000..(slice + 1) * 1000).sum::<u64>();
///     corral::yield_now().await; // let other tasks run between slices
/// }
/// assert_eq!(total, (0..10_000).sum());
/// # });
/// ```
///
/// # Cancel safety
///
/// Nothing to lose: dropping it before or after the yield has no effect.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // A wake while the task runs makes its poller requeue it at the
        // back of the queue (never the LIFO slot): see task::raw::poll.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
