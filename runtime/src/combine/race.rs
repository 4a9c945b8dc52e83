//! `race`: the first of a collection of futures to finish.

use super::set::FutSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs the futures of `futs` concurrently in the calling task and returns
/// the output of the first one to finish; the others are dropped
/// (cancelled at their current await) before `race` returns.
///
/// Nothing is spawned, and each future is polled only when woken (see
/// [`gather`](crate::combine::gather)). When several are ready in the
/// same poll, the one polled first wins: on the first poll that is input
/// order. To know *which* future won, have each return its index (see the
/// example). A race of `Result`s returns the first to finish, `Ok` or `Err`.
///
/// # Panics
///
/// If `futs` is empty, at the call (not at the await): a race with no
/// runners would never finish (futures' `select_all` makes the same
/// choice). Check for an empty input first if it can happen.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
///
/// let mirrors = [("slow", 5_000u64), ("fast", 5), ("medium", 2_000)];
/// let winner = corral::race(mirrors.map(|(name, ms)| async move {
///     corral::time::sleep(Duration::from_millis(ms)).await;
///     name
/// }))
/// .await;
/// assert_eq!(winner, "fast");
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping the race drops every future in it; nothing keeps running.
#[track_caller]
pub fn race<I>(futs: I) -> Race<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futs: Vec<_> = futs.into_iter().collect();
    assert!(
        !futs.is_empty(),
        "corral::race called with no futures: a race needs at least one runner"
    );
    Race {
        set: Some(FutSet::from_vec(futs)),
    }
}

/// The future of [`race`]: awaiting it gives the first output.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let r: corral::task::Race<_> = corral::race([async { "only" }]);
/// assert_eq!(r.await, "only");
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Race<F> {
    /// None once finished (the losers dropped).
    set: Option<FutSet<F>>,
}

// Nothing is structurally pinned (see FutSet).
impl<F> Unpin for Race<F> {}

impl<F: Future> Future for Race<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let set = this.set.as_mut().expect("Race polled after it finished");
        set.begin(cx);
        match set.poll_next(cx) {
            Poll::Ready(Some((_, v))) => {
                this.set = None; // the losers go now
                Poll::Ready(v)
            }
            Poll::Ready(None) => unreachable!("a race is never empty"),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> fmt::Debug for Race<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Race")
            .field("running", &self.set.as_ref().map_or(0, |s| s.live()))
            .finish()
    }
}
