use super::sleep::Sleep;
use super::Instant;
use crate::coop;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs `future` with a time limit: `Ok(output)` if it finishes within
/// `duration`, else `Err(Elapsed)` (and the future is dropped).
///
/// The future is polled before the clock is looked at, so a future that is
/// ready at once always succeeds, and costs no timer.
///
/// A future that never waits (a loop over a socket that always has data,
/// or over `yield_now`) still times out: the cooperative budget makes it
/// give way now and then (see [`coop`](crate::coop)), and then the
/// deadline is checked against the clock. This holds in a task and in the
/// `block_on` future (`#[corral::main]`, `#[corral::test]`) alike.
///
/// # Panics
///
/// When `future` returns `Pending` outside a runtime: the timer needs one.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::time::{sleep, timeout};
/// use std::time::Duration;
/// assert_eq!(timeout(Duration::from_secs(1), async { 5 }).await, Ok(5));
/// let slow = sleep(Duration::from_secs(3600));
/// assert!(timeout(Duration::from_millis(10), slow).await.is_err());
/// # });
/// ```
///
/// # Cancel safety
///
/// As cancel-safe as `future`: dropping the `Timeout` drops it.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        // The clock of the current runtime (a test may have paused it):
        // the same reading `sleep(duration)` would take, without holding
        // on to the runtime until the timer is needed.
        deadline: super::current_time().saturating_add(duration),
        sleep: None,
    }
}

/// [`timeout`] with an absolute deadline.
///
/// # Panics
///
/// When `future` returns `Pending` outside a runtime: the timer needs one.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::time::{timeout_at, Instant};
/// let deadline = Instant::now() + std::time::Duration::from_secs(1);
/// assert_eq!(timeout_at(deadline, async { "fast" }).await, Ok("fast"));
/// # });
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        deadline,
        sleep: None,
    }
}

/// Trio's name for [`timeout`]: fail with [`Elapsed`] if `future` takes
/// longer than `duration`.
///
/// # Panics
///
/// When `future` returns `Pending` outside a runtime: the timer needs one.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// let r = corral::time::fail_after(Duration::from_millis(5), std::future::pending::<()>()).await;
/// assert!(r.is_err());
/// # });
/// ```
pub fn fail_after<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout(duration, future)
}

/// Trio's `move_on_after`: give up on `future` after `duration` and carry
/// on: `Some(output)` if it finished, `None` if time ran out.
///
/// # Panics
///
/// When `future` returns `Pending` outside a runtime: the timer needs one.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// let r = corral::time::move_on_after(Duration::from_millis(5), std::future::pending::<()>()).await;
/// assert_eq!(r, None);
/// # });
/// ```
pub fn move_on_after<F: Future>(duration: Duration, future: F) -> MoveOnAfter<F> {
    MoveOnAfter(timeout(duration, future))
}

/// Future returned by [`timeout`], [`timeout_at`] and [`fail_after`].
///
/// It holds only the deadline until the future first returns `Pending`;
/// the timer (and the runtime it belongs to) comes then, so a timeout
/// around a future that is ready at once costs one clock reading.
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: F,
    deadline: Instant,
    /// The timer, from the first `Pending` of `future` on: it joins the
    /// runtime that polls it then.
    sleep: Option<Sleep>,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The wrapped future, unwrapped.
    pub fn into_inner(self) -> F {
        self.future
    }

    /// When the time limit runs out.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out while
        // pinned); `deadline` and `sleep` are Unpin and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(out) = future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let deadline = this.deadline;
        let sleep = this.sleep.get_or_insert_with(|| super::sleep_until(deadline));
        // The timer is polled without spending budget, which the inner
        // future may have used up.
        if sleep.poll_elapsed(cx).is_ready() {
            return Poll::Ready(Err(Elapsed(deadline)));
        }
        // A future that spent the budget is busy, not waiting: it returned
        // Pending only to give way, and its thread may not have run the
        // timer wheel for a while. Look at the clock itself.
        if !coop::has_budget_remaining() && sleep.is_elapsed() {
            return Poll::Ready(Err(Elapsed(deadline)));
        }
        Poll::Pending
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

/// Future returned by [`move_on_after`].
#[must_use = "futures do nothing unless awaited"]
pub struct MoveOnAfter<F>(Timeout<F>);

impl<F: Future> Future for MoveOnAfter<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        // SAFETY: structural pinning of the only field.
        let inner = unsafe { self.map_unchecked_mut(|m| &mut m.0) };
        inner.poll(cx).map(Result::ok)
    }
}

impl<F> fmt::Debug for MoveOnAfter<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MoveOnAfter").field(&self.0).finish()
    }
}

/// A time limit ran out ([`timeout`], [`fail_after`]).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// let err = corral::time::timeout(Duration::from_millis(1), std::future::pending::<()>()).await.unwrap_err();
/// assert_eq!(err.to_string(), "deadline has elapsed");
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(Instant);

impl Elapsed {
    /// The deadline that passed.
    pub fn deadline(&self) -> Instant {
        self.0
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}
