//! `gather` and `try_gather`: every future of a collection, concurrently,
//! in the calling task.

use super::set::FutSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs every future of `futs` concurrently in the calling task and
/// returns their outputs in input order.
///
/// Nothing is spawned: the futures are polled by the task that awaits the
/// gather, each one only when it was woken (a gather of 10,000 timers
/// does O(1) work per timer that fires, not O(n)). That keeps borrowing
/// possible (the futures need not be `Send` or `'static`) but shares one
/// worker: to use several cores, gather [`JoinHandle`](crate::task::JoinHandle)s
/// of spawned tasks, or use
/// [`bounded_map_spawned`](crate::combine::bounded_map_spawned).
///
/// Each future is polled at most once per poll of the gather, and the
/// gather gives way when the task's [cooperative budget](crate::coop) is
/// spent, so a gather of busy futures shares its worker like any task.
///
/// An empty input gives an empty `Vec` at once. For futures that can fail
/// and should stop the rest at the first error, see [`try_gather`]; for a
/// fixed set of futures of different types, [`join!`](crate::join).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
///
/// let sizes = corral::gather((1..=3u64).map(|i| async move {
///     corral::time::sleep(Duration::from_millis(10 * (4 - i))).await;
///     i * 100
/// }))
/// .await;
/// assert_eq!(sizes, [100, 200, 300]); // input order, not finishing order
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping the gather drops every future still running (outputs already
/// produced are dropped with it); none of them keeps running anywhere.
pub fn gather<I>(futs: I) -> Gather<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futs: Vec<_> = futs.into_iter().collect();
    let n = futs.len();
    Gather {
        out: (0..n).map(|_| None).collect(),
        set: FutSet::from_vec(futs),
    }
}

/// The future of [`gather`]: awaiting it gives the outputs in input
/// order. Its `Debug` shows how many futures are still running.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let g: corral::task::Gather<_> = corral::gather((1..=2).map(|i| async move { i }));
/// assert_eq!(format!("{g:?}"), "Gather { total: 2, running: 2 }");
/// assert_eq!(g.await, [1, 2]);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Gather<F: Future> {
    set: FutSet<F>,
    out: Vec<Option<F::Output>>,
}

// No field is structurally pinned: the futures are pinned inside the set's
// heap slots, which do not move when the Gather does.
impl<F: Future> Unpin for Gather<F> {}

impl<F: Future> Future for Gather<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = self.get_mut();
        this.set.begin(cx);
        loop {
            match this.set.poll_next(cx) {
                Poll::Ready(Some((i, v))) => this.out[i] = Some(v),
                Poll::Ready(None) => {
                    let out = std::mem::take(&mut this.out);
                    return Poll::Ready(
                        out.into_iter()
                            .map(|v| v.expect("every slot completed"))
                            .collect(),
                    );
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<F: Future> fmt::Debug for Gather<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gather")
            .field("total", &self.out.len())
            .field("running", &self.set.live())
            .finish()
    }
}

/// Runs every future of `futs` concurrently in the calling task and
/// returns their `Ok` values in input order, or the first `Err`.
///
/// The first error ends the gather at once: every future still running is
/// dropped (cancelled at its current await) before `try_gather` returns,
/// and the values already produced are dropped too. "First" is the first
/// to finish with an error, not the first in input order. Otherwise as
/// [`gather`]: nothing is spawned, and each future is polled only when woken.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// async fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
///     s.parse()
/// }
/// let ok = corral::try_gather(["1", "2", "3"].map(parse)).await;
/// assert_eq!(ok, Ok(vec![1, 2, 3]));
///
/// let err = corral::try_gather(["1", "x", "3"].map(parse)).await;
/// assert!(err.is_err());
/// # });
/// ```
///
/// # Cancel safety
///
/// As [`gather`]: dropping it drops every future still running.
pub fn try_gather<I, T, E>(futs: I) -> TryGather<I::Item>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    let futs: Vec<_> = futs.into_iter().collect();
    let n = futs.len();
    TryGather {
        out: (0..n).map(|_| None).collect(),
        set: Some(FutSet::from_vec(futs)),
    }
}

/// The future of [`try_gather`]: awaiting it gives the `Ok` values in
/// input order, or the first error.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let g: corral::task::TryGather<_> = corral::try_gather([async { Ok::<u8, ()>(1) }]);
/// assert_eq!(g.await, Ok(vec![1]));
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct TryGather<F: Future>
where
    F::Output: Split,
{
    /// None once finished (the futures dropped).
    set: Option<FutSet<F>>,
    out: Vec<Option<<F::Output as Split>::Ok>>,
}

/// The `Ok` / `Err` halves of a `Result`, named for `TryGather`'s fields;
/// implemented for `Result` only (sealed).
///
/// ```
/// use corral_runtime::combine::Split;
/// let r: Result<u8, &str> = Ok(1);
/// assert_eq!(r.split(), Ok(1));
/// ```
pub trait Split: sealed::Sealed {
    /// The success type.
    type Ok;
    /// The error type.
    type Err;
    /// `self` as a plain `Result`.
    fn split(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E> Split for Result<T, E> {
    type Ok = T;
    type Err = E;
    fn split(self) -> Result<T, E> {
        self
    }
}

mod sealed {
    pub trait Sealed {}
    impl<T, E> Sealed for Result<T, E> {}
}

// As for Gather: nothing is structurally pinned.
impl<F: Future> Unpin for TryGather<F> where F::Output: Split {}

impl<F: Future> Future for TryGather<F>
where
    F::Output: Split,
{
    type Output = Result<Vec<<F::Output as Split>::Ok>, <F::Output as Split>::Err>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let set = this.set.as_mut().expect("TryGather polled after it finished");
        set.begin(cx);
        loop {
            match set.poll_next(cx) {
                Poll::Ready(Some((i, v))) => match v.split() {
                    Ok(v) => this.out[i] = Some(v),
                    Err(e) => {
                        // Drop the rest now, not when the TryGather goes.
                        this.set = None;
                        this.out = Vec::new();
                        return Poll::Ready(Err(e));
                    }
                },
                Poll::Ready(None) => {
                    this.set = None;
                    let out = std::mem::take(&mut this.out);
                    return Poll::Ready(Ok(out
                        .into_iter()
                        .map(|v| v.expect("every slot completed"))
                        .collect()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<F: Future> fmt::Debug for TryGather<F>
where
    F::Output: Split,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryGather")
            .field("total", &self.out.len())
            .field("running", &self.set.as_ref().map_or(0, |s| s.live()))
            .finish()
    }
}
