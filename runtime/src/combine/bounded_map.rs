//! `bounded_map` and friends: a function over items, at most `limit` in
//! flight, results in input order.
//!
//! One engine (`Core`) serves the three entry points: the items are
//! collected up front (so the total is known for progress), `limit` slots
//! of a [`FutSet`] hold the futures in flight, and a finished slot takes
//! the next item at once, in the same poll. `Start` says how an item
//! becomes the future in a slot (call `f`, or spawn `f(item)` as a task),
//! and `split` how an output counts (always a value, or `Ok` / `Err`).

use super::set::FutSet;
use crate::task::{JoinError, JoinHandle};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How an item becomes the future in its slot.
trait Start<Item> {
    type Fut: Future;
    fn start(&mut self, item: Item) -> Self::Fut;
}

/// `f(item)`, polled in the calling task.
struct Local<F>(F);

impl<Item, F, Fut> Start<Item> for Local<F>
where
    F: FnMut(Item) -> Fut,
    Fut: Future,
{
    type Fut = Fut;
    fn start(&mut self, item: Item) -> Fut {
        (self.0)(item)
    }
}

/// `f(item)` spawned as a task; the slot holds its handle.
struct Spawned<F>(F);

impl<Item, F, Fut> Start<Item> for Spawned<F>
where
    F: FnMut(Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Fut = AbortOnDrop<Fut::Output>;
    #[track_caller]
    fn start(&mut self, item: Item) -> Self::Fut {
        AbortOnDrop(crate::spawn((self.0)(item)))
    }
}

/// A join handle that aborts its task when dropped: no orphans.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort(); // nothing happens if the task has finished
    }
}

/// A progress callback that is never set (the default type parameter).
type NoProgress = fn(usize, usize);

struct Core<Item, S, Fut, O, T, E, P> {
    items: std::vec::IntoIter<Item>,
    start: S,
    split: fn(O) -> Result<T, E>,
    /// None once finished (or failed): the futures in flight dropped.
    set: Option<FutSet<Fut>>,
    /// Which item each slot runs.
    slot_item: Vec<usize>,
    free: Vec<usize>,
    next_index: usize,
    out: Vec<Option<T>>,
    done: usize,
    progress: Option<P>,
}

impl<Item, S, Fut, O, T, E, P> Core<Item, S, Fut, O, T, E, P>
where
    S: Start<Item, Fut = Fut>,
    Fut: Future<Output = O>,
    P: FnMut(usize, usize),
{
    #[track_caller]
    fn new<I: IntoIterator<Item = Item>>(
        limit: usize,
        items: I,
        start: S,
        split: fn(O) -> Result<T, E>,
    ) -> Self {
        assert!(
            limit > 0,
            "corral::task::bounded_map: limit must be at least 1 (0 futures in flight would never finish)"
        );
        let items: Vec<Item> = items.into_iter().collect();
        let total = items.len();
        let slots = limit.min(total);
        Core {
            items: items.into_iter(),
            start,
            split,
            set: Some(FutSet::with_slots(slots)),
            slot_item: vec![0; slots],
            free: (0..slots).rev().collect(),
            next_index: 0,
            out: (0..total).map(|_| None).collect(),
            done: 0,
            progress: None,
        }
    }

    fn with_progress<P2>(self, p: P2) -> Core<Item, S, Fut, O, T, E, P2> {
        Core {
            items: self.items,
            start: self.start,
            split: self.split,
            set: self.set,
            slot_item: self.slot_item,
            free: self.free,
            next_index: self.next_index,
            out: self.out,
            done: self.done,
            progress: Some(p),
        }
    }

    fn poll_core(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<T>, E>> {
        let Some(set) = self.set.as_mut() else {
            panic!("bounded_map polled after it finished");
        };
        set.begin(cx);
        while let Some(&s) = self.free.last() {
            let Some(item) = self.items.next() else { break };
            self.free.pop();
            self.slot_item[s] = self.next_index;
            self.next_index += 1;
            set.insert(s, self.start.start(item));
        }
        loop {
            match set.poll_next(cx) {
                Poll::Ready(Some((s, v))) => {
                    match (self.split)(v) {
                        Ok(v) => self.out[self.slot_item[s]] = Some(v),
                        Err(e) => {
                            self.set = None; // drops (or aborts) the rest now
                            self.out = Vec::new();
                            return Poll::Ready(Err(e));
                        }
                    }
                    self.done += 1;
                    if let Some(p) = self.progress.as_mut() {
                        p(self.done, self.out.len());
                    }
                    match self.items.next() {
                        Some(item) => {
                            self.slot_item[s] = self.next_index;
                            self.next_index += 1;
                            set.insert(s, self.start.start(item));
                        }
                        None => self.free.push(s),
                    }
                }
                Poll::Ready(None) => {
                    self.set = None;
                    let out = std::mem::take(&mut self.out);
                    return Poll::Ready(Ok(out
                        .into_iter()
                        .map(|v| v.expect("every item completed"))
                        .collect()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn fmt_fields(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("total", &self.out.len())
            .field("completed", &self.done)
            .field("in_flight", &self.set.as_ref().map_or(0, |s| s.live()))
            .finish()
    }
}

fn always_ok<T>(v: T) -> Result<T, Infallible> {
    Ok(v)
}

fn as_result<T, E>(v: Result<T, E>) -> Result<T, E> {
    v
}

/// Runs `f` over `items` with at most `limit` futures in flight, in the
/// calling task, and returns the outputs in input order: the bounded
/// executor otherwise written by hand with a semaphore, a lock and a
/// counter.
///
/// The items are collected when `bounded_map` is called; `f` is called on
/// the next item as soon as a future finishes (in input order), so
/// `limit` futures stay in flight until the items run out. Nothing is
/// spawned: the futures run concurrently in the calling task, each polled
/// only when woken (as in [`gather`](crate::combine::gather)), so they may
/// borrow and need not be `Send`. For CPU-heavy work use
/// [`bounded_map_spawned`]; for a fallible `f` that should stop at the
/// first error, [`try_bounded_map`].
///
/// [`on_progress`](BoundedMap::on_progress) adds a callback that is called
/// with `(completed, total)` after each item finishes: 1, 2, ... total,
/// in order, from the calling task.
///
/// # Panics
///
/// If `limit` is 0, at the call, as `slice::chunks(0)` does: nothing
/// could ever run.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
///
/// let pages = corral::task::bounded_map(3, 1..=10u64, |page| async move {
///     corral::time::sleep(Duration::from_millis(10 - page)).await; // "download"
///     page * 1000
/// })
/// .on_progress(|done, total| println!("{done}/{total}"))
/// .await;
/// assert_eq!(pages, (1..=10).map(|p| p * 1000).collect::<Vec<_>>());
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping it drops the futures in flight and the items not yet started;
/// the outputs already produced are lost.
#[track_caller]
pub fn bounded_map<I, F, Fut>(limit: usize, items: I, f: F) -> BoundedMap<I::Item, F, Fut>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    BoundedMap {
        core: Core::new(limit, items, Local(f), always_ok),
    }
}

/// The future of [`bounded_map`]; [`on_progress`](Self::on_progress) adds
/// a progress callback before it is awaited. Its `Debug` shows the
/// total, the items completed and the futures in flight.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let m = corral::task::bounded_map(2, [1, 2, 3], |n| async move { n + 1 });
/// assert_eq!(format!("{m:?}"), "BoundedMap { total: 3, completed: 0, in_flight: 0 }");
/// assert_eq!(m.await, [2, 3, 4]);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct BoundedMap<Item, F, Fut: Future, P = NoProgress> {
    core: Core<Item, Local<F>, Fut, Fut::Output, Fut::Output, Infallible, P>,
}

impl<Item, F, Fut, P> BoundedMap<Item, F, Fut, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future,
    P: FnMut(usize, usize),
{
    /// Calls `progress(completed, total)` after each item finishes.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut seen = Vec::new();
    /// let out = corral::task::bounded_map(2, ["a", "b", "c"], |s| async move { s.len() })
    ///     .on_progress(|done, total| seen.push(format!("{done}/{total}")))
    ///     .await;
    /// assert_eq!(out, [1, 1, 1]);
    /// assert_eq!(seen, ["1/3", "2/3", "3/3"]);
    /// # });
    /// ```
    pub fn on_progress<P2: FnMut(usize, usize)>(self, progress: P2) -> BoundedMap<Item, F, Fut, P2> {
        BoundedMap {
            core: self.core.with_progress(progress),
        }
    }
}

// Nothing is structurally pinned: the futures are pinned in the set's heap slots.
impl<Item, F, Fut: Future, P> Unpin for BoundedMap<Item, F, Fut, P> {}

impl<Item, F, Fut, P> Future for BoundedMap<Item, F, Fut, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future,
    P: FnMut(usize, usize),
{
    type Output = Vec<Fut::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut().core.poll_core(cx) {
            Poll::Ready(Ok(v)) => Poll::Ready(v),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<Item, F, Fut, P> fmt::Debug for BoundedMap<Item, F, Fut, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future,
    P: FnMut(usize, usize),
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt_fields("BoundedMap", f)
    }
}

/// [`bounded_map`] for a fallible `f`: the values in input order, or the
/// first error, at which the futures in flight are dropped and no further
/// item is started.
///
/// "First" is the first to finish with an error, not the first in input
/// order. Progress counts successful items only.
///
/// # Panics
///
/// If `limit` is 0, at the call.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let started = std::cell::Cell::new(0);
/// let res = corral::task::try_bounded_map(2, 1..=100u32, |n| {
///     started.set(started.get() + 1);
///     async move { if n == 3 { Err(format!("item {n} failed")) } else { Ok(n) } }
/// })
/// .await;
/// assert_eq!(res, Err("item 3 failed".to_string()));
/// assert!(started.get() <= 4); // stopped early
/// # });
/// ```
///
/// # Cancel safety
///
/// As [`bounded_map`].
#[track_caller]
pub fn try_bounded_map<I, F, Fut, T, E>(limit: usize, items: I, f: F) -> TryBoundedMap<I::Item, F, Fut, T, E>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    TryBoundedMap {
        core: Core::new(limit, items, Local(f), as_result),
    }
}

/// The future of [`try_bounded_map`]: the values in input order, or the
/// first error.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let m = corral::task::try_bounded_map(2, ["1", "2"], |s| async move { s.parse::<u8>() });
/// assert_eq!(m.await, Ok(vec![1, 2]));
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct TryBoundedMap<Item, F, Fut, T, E, P = NoProgress> {
    core: Core<Item, Local<F>, Fut, Result<T, E>, T, E, P>,
}

impl<Item, F, Fut, T, E, P> TryBoundedMap<Item, F, Fut, T, E, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    P: FnMut(usize, usize),
{
    /// Calls `progress(completed, total)` after each item succeeds.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut last = (0, 0);
    /// let out = corral::task::try_bounded_map(4, 0..8, |n| async move { Ok::<_, ()>(n) })
    ///     .on_progress(|done, total| last = (done, total))
    ///     .await;
    /// assert_eq!(out.unwrap().len(), 8);
    /// assert_eq!(last, (8, 8));
    /// # });
    /// ```
    pub fn on_progress<P2: FnMut(usize, usize)>(self, progress: P2) -> TryBoundedMap<Item, F, Fut, T, E, P2> {
        TryBoundedMap {
            core: self.core.with_progress(progress),
        }
    }
}

// Nothing is structurally pinned.
impl<Item, F, Fut, T, E, P> Unpin for TryBoundedMap<Item, F, Fut, T, E, P> {}

impl<Item, F, Fut, T, E, P> Future for TryBoundedMap<Item, F, Fut, T, E, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    P: FnMut(usize, usize),
{
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().core.poll_core(cx)
    }
}

impl<Item, F, Fut, T, E, P> fmt::Debug for TryBoundedMap<Item, F, Fut, T, E, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    P: FnMut(usize, usize),
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt_fields("TryBoundedMap", f)
    }
}

/// [`bounded_map`] with each `f(item)` spawned as a task on the workers
/// (for CPU-heavy work, or to use every core): at most `limit` tasks
/// alive at once, results in input order.
///
/// `f` runs in the calling task (it only builds the future); the future
/// it returns runs as its own task, so it must be `Send + 'static`.
/// A task that panics (or is aborted from elsewhere) ends the map with
/// its [`JoinError`]: the other tasks are aborted and no further item is
/// started. A fallible `f` gets its `Result`s back in the `Vec`.
///
/// # Panics
///
/// If `limit` is 0, at the call; outside a runtime, at the first poll
/// (as [`spawn`](crate::spawn)).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let sums = corral::task::bounded_map_spawned(2, [1_000u64, 2_000, 3_000], |n| async move {
///     (0..n).sum::<u64>() // CPU work, on whichever worker is free
/// })
/// .await
/// .unwrap();
/// assert_eq!(sums, [499_500, 1_999_000, 4_498_500]);
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping it aborts the tasks in flight (each stops at its next await)
/// and starts no more: it leaves no task behind.
#[track_caller]
pub fn bounded_map_spawned<I, F, Fut>(limit: usize, items: I, f: F) -> BoundedMapSpawned<I::Item, F, Fut>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    BoundedMapSpawned {
        core: Core::new(limit, items, Spawned(f), as_result),
    }
}

/// The engine of [`BoundedMapSpawned`]: slots of aborting join handles.
type SpawnedCore<Item, F, T, P> =
    Core<Item, Spawned<F>, AbortOnDrop<T>, Result<T, JoinError>, T, JoinError, P>;

/// The future of [`bounded_map_spawned`]: the outputs in input order, or
/// the [`JoinError`] of the first task that panicked.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let m = corral::task::bounded_map_spawned(2, 0..4u32, |n| async move {
///     if n == 2 {
///         panic!("item 2");
///     }
///     n
/// });
/// assert!(m.await.unwrap_err().is_panic());
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct BoundedMapSpawned<Item, F, Fut: Future, P = NoProgress> {
    core: SpawnedCore<Item, F, Fut::Output, P>,
}

impl<Item, F, Fut, P> BoundedMapSpawned<Item, F, Fut, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    P: FnMut(usize, usize),
{
    /// Calls `progress(completed, total)` after each task finishes.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut calls = 0;
    /// let out = corral::task::bounded_map_spawned(3, 0..6u32, |n| async move { n * n })
    ///     .on_progress(|_, _| calls += 1)
    ///     .await
    ///     .unwrap();
    /// assert_eq!(out, [0, 1, 4, 9, 16, 25]);
    /// assert_eq!(calls, 6);
    /// # });
    /// ```
    pub fn on_progress<P2: FnMut(usize, usize)>(self, progress: P2) -> BoundedMapSpawned<Item, F, Fut, P2> {
        BoundedMapSpawned {
            core: self.core.with_progress(progress),
        }
    }
}

// Nothing is structurally pinned.
impl<Item, F, Fut: Future, P> Unpin for BoundedMapSpawned<Item, F, Fut, P> {}

impl<Item, F, Fut, P> Future for BoundedMapSpawned<Item, F, Fut, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    P: FnMut(usize, usize),
{
    type Output = Result<Vec<Fut::Output>, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().core.poll_core(cx)
    }
}

impl<Item, F, Fut, P> fmt::Debug for BoundedMapSpawned<Item, F, Fut, P>
where
    F: FnMut(Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    P: FnMut(usize, usize),
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt_fields("BoundedMapSpawned", f)
    }
}
