//! `TaskGroup`: the owner's side (spawn, start, cancel, join).

use super::core::{Child, Core, Outcome};
use super::error::{ChildError, ChildErrorKind, GroupError};
use super::start::{Ready, Slot, StartReport};
use super::token::{CancelHook, CancelToken};
use crate::task::{AbortHandle, JoinError, JoinHandle};
use parking_lot::Mutex;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Duration;

/// A set of child tasks that live and die together: structured
/// concurrency in the manner of trio's nursery and AnyIO's task group,
/// with the ergonomics of tokio's `JoinSet`.
///
/// Children are futures returning `Result<T, E>`, spawned onto the
/// runtime's workers with [`spawn`](Self::spawn) (AnyIO's `start_soon`),
/// [`spawn_named`](Self::spawn_named) or [`start`](Self::start). Then:
///
/// - The first failure (a child returning `Err`, or panicking) cancels
///   every sibling; [`join`](Self::join) returns a [`GroupError`] with that
///   failure first and every other failure that happened before the
///   siblings stopped. A panic is contained: it is a failure like an
///   `Err`, carrying its payload and the child's name, id and spawn site.
/// - Successful results come back in spawn order from `join`, or in
///   completion order from [`join_next`](Self::join_next).
/// - `join` returns only once every child's future is gone (dropped, its
///   destructors run), including those of grandchildren: a group opened
///   inside a child registers with this group, which waits for it too.
/// - Cancelling the group ([`cancel`](Self::cancel), its
///   [`token`](Self::token), a failure, or the deadline set with
///   [`cancel_after`](Self::cancel_after) or [`cancel_at`](Self::cancel_at)) aborts every child: each stops
///   at its next await (a sleep, an I/O wait, a lock or queue wait) and
///   runs its destructors, and groups opened inside the children are
///   cancelled in turn.
/// - Dropping the group before `join` cancels its children: no child can
///   outlive the group unnoticed.
/// - A finished child's result stays in the group until `join`,
///   `join_next` or [`try_join_next`](Self::try_join_next) takes it (as in
///   a `JoinSet`), except in a group of `()` children, which reaps those
///   that returned `Ok(())` on its own (see below).
/// - A child reaches its group's token with
///   [`current_token`](crate::group::task::current_token) (or a clone of
///   [`token`](Self::token) moved into it).
///
/// ```
/// use corral::task::TaskGroup;
/// use std::time::Duration;
///
/// # corral::Runtime::new().unwrap().block_on(async {
/// let mut group = TaskGroup::new();
/// for i in 0..3u64 {
///     group.spawn(async move {
///         corral::time::sleep(Duration::from_millis(10 * (3 - i))).await;
///         Ok::<_, std::io::Error>(i * 10)
///     });
/// }
/// // Spawn order, whatever the order they finished in.
/// assert_eq!(group.join().await.unwrap(), vec![0, 10, 20]);
/// # });
/// ```
///
/// # Long-lived groups
///
/// A group of `()` children (`TaskGroup<(), E>`) never accumulates
/// finished children, like a trio nursery: when `spawn` would grow the
/// group's slot table, it first drops the children that ended with
/// `Ok(())` (their tasks are freed; the group only counts them, so `join`
/// and `join_next` still return one `()` each, in order). A server's
/// accept loop can spawn a handler per connection forever and hold a few
/// slots per live connection ([`retained`](Self::retained)). A group whose
/// children return values keeps them until they are taken: drain it with
/// `join_next` or `try_join_next` as it goes.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let connections = corral::task::TaskGroup::<(), std::io::Error>::new();
/// for _ in 0..10_000 {
///     // accept(), then a handler (that here ends before the next accept):
///     let (done, ended) = corral::sync::oneshot::channel();
///     connections.spawn(async move {
///         let _ = done.send(());
///         Ok(())
///     });
///     ended.await.unwrap();
/// }
/// assert!(connections.retained() < 100);
/// assert_eq!(connections.len(), 10_000); // still counted for join / join_next
/// # });
/// ```
///
/// A failing child cancels the others:
///
/// ```
/// use corral::task::TaskGroup;
///
/// # corral::Runtime::new().unwrap().block_on(async {
/// let mut group = TaskGroup::<(), String>::new();
/// group.spawn_named("sleeper", std::future::pending());
/// group.spawn_named("loader", async { Err("disk full".to_string()) });
/// let err = group.join().await.unwrap_err();
/// assert_eq!(err.first().unwrap().name(), Some("loader"));
/// assert_eq!(err.cancelled(), 1);
/// # });
/// ```
pub struct TaskGroup<T, E> {
    shared: Arc<Shared<T, E>>,
    /// The deadline timer of `cancel_at` / `cancel_after`, if any, and its
    /// deadline.
    timer: Option<(AbortHandle, crate::time::Instant)>,
}

/// The owner's state the group's token hook also needs (to abort).
struct Shared<T, E> {
    core: Arc<Core>,
    slots: Mutex<Slots<T, E>>,
}

struct Slots<T, E> {
    /// One per child since the last `join` (a slab: the index is the
    /// child's, told to `Core` when its future is gone); `None` once
    /// `join_next` returned it or it was reaped, and then in `free`.
    handles: Vec<Option<JoinHandle<Outcome<T, E>>>>,
    /// Free indexes of `handles`, reused before it grows.
    free: Vec<usize>,
    /// A free index was reused since the last `join`: `handles` is no
    /// longer in spawn order, and `join` sorts it by task id (ids grow in
    /// spawn order).
    reused: bool,
    /// Children of a `()` group that returned `Ok(())` and were dropped
    /// (reaped) without being returned: each is one `()` for `join`, and
    /// comes first in `join_next`'s completion order.
    reaped: usize,
    /// Children not yet returned: the `Some` handles plus `reaped`.
    len: usize,
}

impl<T, E> CancelHook for Shared<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    fn on_cancel(&self) {
        let slots = self.slots.lock();
        for handle in slots.handles.iter().flatten() {
            handle.abort();
        }
    }
}

impl<T, E> Default for TaskGroup<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> TaskGroup<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// An empty group.
    ///
    /// Opened inside a child of another group, it becomes part of that
    /// group: its token is a child of that group's token, and that group's
    /// `join` waits until this one and its children are gone. If this
    /// handle outlives the child (returned as its value, handed out
    /// through [`Ready::started`], kept by another task), that group stops
    /// waiting for it when the child ends; the token link stays.
    ///
    /// ```
    /// let group = corral::task::TaskGroup::<u32, std::io::Error>::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> Self {
        let core = Core::new();
        let shared = Arc::new(Shared {
            core,
            slots: Mutex::new(Slots {
                handles: Vec::new(),
                free: Vec::new(),
                reused: false,
                reaped: 0,
                len: 0,
            }),
        });
        let weak: Weak<Shared<T, E>> = Arc::downgrade(&shared);
        shared.core.token.register_hook(weak);
        TaskGroup { shared, timer: None }
    }

    /// Spawns `future` as a child onto the current runtime.
    ///
    /// If the group is already cancelled, the child is cancelled at once
    /// (it may not run at all).
    ///
    /// # Panics
    ///
    /// Outside a runtime, as [`corral::spawn`](crate::spawn).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::new();
    /// group.spawn(async { Ok::<_, ()>(1) });
    /// assert_eq!(group.join().await.unwrap(), vec![1]);
    /// # });
    /// ```
    #[doc(alias = "start_soon")]
    #[track_caller]
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.spawn_inner(future, (), None, Location::caller());
    }

    /// Spawns a named child: the name shows in its [`ChildError`], in the
    /// group's `Debug` output, and in the runtime's own task reports.
    ///
    /// # Panics
    ///
    /// Outside a runtime, as [`corral::spawn`](crate::spawn).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), &str>::new();
    /// group.spawn_named("checker", async { Err("bad checksum") });
    /// let err = group.join().await.unwrap_err();
    /// assert_eq!(err.first().unwrap().name(), Some("checker"));
    /// # });
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<String>, future: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.spawn_inner(future, (), Some(name.into().into_boxed_str()), Location::caller());
    }

    fn spawn_inner<F, R>(
        &self,
        future: F,
        report: R,
        name: Option<Box<str>>,
        at: &'static Location<'static>,
    ) -> crate::task::Id
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        R: super::core::Report<E>,
    {
        let core = &self.shared.core;
        let mut slots = self.shared.slots.lock();
        if is_unit::<T>() && slots.free.is_empty() && slots.handles.len() == slots.handles.capacity() {
            // About to grow: drop the `()` children that ended well
            // first (amortized: once per doubling).
            reap(core, &mut slots);
        }
        // A free slot if there is one (taken below), else a new one.
        let reuse = slots.free.last().copied();
        let index = reuse.unwrap_or(slots.handles.len());
        core.add_child();
        let child = Child::new(future, report, core.clone(), index);
        let handle = crate::handle::spawn_inner(child, name, at);
        // `cancel` sets the token before it takes this lock to abort: it
        // either sees this handle or we see the flag.
        if core.token.is_cancelled() {
            handle.abort();
        }
        let id = handle.id();
        if reuse.is_some() {
            slots.free.pop();
            slots.reused = true;
            slots.handles[index] = Some(handle);
        } else {
            slots.handles.push(Some(handle));
        }
        slots.len += 1;
        id
    }

    /// Starts a child that signals when it is ready, and waits for that
    /// signal: `f` gets a [`Ready`], and `start` returns the value the
    /// child passes to [`Ready::started`] while the child keeps running in
    /// the group (AnyIO's `start`, trio's `nursery.start`).
    ///
    /// If the child fails, panics, returns or is cancelled before it
    /// signals, `start` returns that as a [`ChildError`] (a failure then is
    /// the caller's to handle and does not cancel the group). After the
    /// signal, the child is a child like any other.
    ///
    /// # Cancel safety
    ///
    /// Dropping the `start` future does not stop the child: it stays in
    /// the group, and the value it signals is dropped.
    ///
    /// # Panics
    ///
    /// Outside a runtime, as [`corral::spawn`](crate::spawn).
    ///
    /// ```
    /// use corral::io::{AsyncReadExt, AsyncWriteExt};
    /// use corral::net::{TcpListener, TcpStream};
    /// use corral::task::TaskGroup;
    ///
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = TaskGroup::<(), std::io::Error>::new();
    /// let addr = group
    ///     .start(|ready| async move {
    ///         let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///         ready.started(listener.local_addr()?);
    ///         let (mut conn, _) = listener.accept().await?;
    ///         let mut buf = [0; 4];
    ///         conn.read_exact(&mut buf).await?;
    ///         conn.write_all(&buf).await?;
    ///         Ok(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// let mut client = TcpStream::connect(addr).await.unwrap();
    /// client.write_all(b"ping").await.unwrap();
    /// let mut buf = [0; 4];
    /// client.read_exact(&mut buf).await.unwrap();
    /// assert_eq!(&buf, b"ping");
    /// group.join().await.unwrap();
    /// # });
    /// ```
    #[track_caller]
    pub fn start<V, F, Fut>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<V, ChildError<E>>> + Send + use<T, E, V, F, Fut>
    where
        V: Send + 'static,
        F: FnOnce(Ready<V>) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let at = Location::caller();
        let slot = Slot::<V, E>::new();
        let future = f(Ready::new(slot.clone()));
        let id = self.spawn_inner(future, StartReport(slot.clone()), None, at);
        struct Abandon<V, E>(Arc<Slot<V, E>>);
        impl<V, E> Drop for Abandon<V, E> {
            fn drop(&mut self) {
                self.0.abandon();
            }
        }
        let abandon = Abandon(slot);
        async move {
            let res = poll_fn(|cx| abandon.0.poll(cx)).await;
            res.map_err(|kind| ChildError {
                kind,
                id,
                name: None,
                spawned_at: at,
            })
        }
    }

    /// Cancels every child (and, through them, every group they opened):
    /// each stops at its next await and runs its destructors. Children
    /// spawned afterwards are cancelled at once. Same as
    /// `self.token().cancel()`.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.spawn(std::future::pending());
    /// group.cancel();
    /// let err = group.join().await.unwrap_err();
    /// assert!(err.failures().is_empty());
    /// assert_eq!(err.cancelled(), 1);
    /// # });
    /// ```
    pub fn cancel(&self) {
        self.shared.core.token.cancel();
    }

    /// The group's cancel token: cancelling it cancels the group, and
    /// children can await it (`token.cancelled().await`) to learn that the
    /// group is being cancelled. A group opened inside a child gets a child
    /// of this token.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// let token = group.token();
    /// group.spawn(async move {
    ///     token.cancel(); // a child may cancel its own group
    ///     Ok(())
    /// });
    /// group.join().await.unwrap();
    /// assert!(group.token().is_cancelled());
    /// # });
    /// ```
    pub fn token(&self) -> CancelToken {
        self.shared.core.token.clone()
    }

    /// Cancels the group when `duration` has passed (a deadline for every
    /// child); `join` then reports [`GroupError::is_timeout`]. A deadline
    /// inside a child (`corral::time::move_on_after`, `fail_after`) still
    /// wins when it is sooner; setting this again replaces the timer.
    ///
    /// # Panics
    ///
    /// Outside a runtime, as [`corral::spawn`](crate::spawn).
    ///
    /// ```
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.cancel_after(Duration::from_millis(20));
    /// group.spawn(async {
    ///     corral::time::sleep(Duration::from_secs(60)).await;
    ///     Ok(())
    /// });
    /// assert!(group.join().await.unwrap_err().is_timeout());
    /// # });
    /// ```
    #[track_caller]
    pub fn cancel_after(&mut self, duration: Duration) {
        // Saturating: `Duration::MAX` means never.
        self.cancel_at(crate::time::current_time().saturating_add(duration));
    }

    /// Cancels the group at `deadline` (trio's `cancel_scope.deadline`, an
    /// instant rather than a duration): as
    /// [`cancel_after`](Self::cancel_after), which it replaces (and is
    /// replaced by). A deadline already past cancels the group at once
    /// (on the timer's next turn, which may come on another worker before
    /// a replacing call); `join` then reports [`GroupError::is_timeout`].
    ///
    /// # Panics
    ///
    /// Outside a runtime, as [`corral::spawn`](crate::spawn).
    ///
    /// ```
    /// use corral::time::Instant;
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let deadline = Instant::now() + Duration::from_millis(20);
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.cancel_at(deadline);
    /// assert_eq!(group.deadline(), Some(deadline));
    /// group.spawn(async {
    ///     corral::time::sleep(Duration::from_secs(60)).await;
    ///     Ok(())
    /// });
    /// assert!(group.join().await.unwrap_err().is_timeout());
    /// assert!(Instant::now() >= deadline);
    /// # });
    /// ```
    #[track_caller]
    pub fn cancel_at(&mut self, deadline: crate::time::Instant) {
        let core = Arc::downgrade(&self.shared.core);
        let timer = crate::task::spawn_named("corral::TaskGroup deadline", async move {
            crate::time::sleep_until(deadline).await;
            if let Some(core) = core.upgrade() {
                if !core.token.is_cancelled() {
                    core.timed_out.store(true, Ordering::Release);
                    core.token.cancel();
                }
            }
        });
        if let Some((old, _)) = self.timer.replace((timer.abort_handle(), deadline)) {
            old.abort();
        }
    }

    /// The deadline set with [`cancel_at`](Self::cancel_at) or
    /// [`cancel_after`](Self::cancel_after), until `join` returns (which
    /// clears it).
    ///
    /// ```
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// assert_eq!(group.deadline(), None);
    /// group.cancel_after(Duration::from_secs(5));
    /// assert!(group.deadline().is_some());
    /// group.join().await.unwrap();
    /// assert_eq!(group.deadline(), None);
    /// # });
    /// ```
    pub fn deadline(&self) -> Option<crate::time::Instant> {
        self.timer.as_ref().map(|(_, at)| *at)
    }

    /// Children spawned and not yet returned by `join` / `join_next`
    /// (running or finished).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::new();
    /// group.spawn(async { Ok::<_, ()>(()) });
    /// assert_eq!(group.len(), 1);
    /// group.join().await.unwrap();
    /// assert_eq!(group.len(), 0);
    /// # });
    /// ```
    pub fn len(&self) -> usize {
        self.shared.slots.lock().len
    }

    /// True if [`len`](Self::len) is zero.
    ///
    /// ```
    /// let group = corral::task::TaskGroup::<(), ()>::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for every child, and returns their values in spawn order, or
    /// the [`GroupError`] if any child failed or was cancelled.
    ///
    /// Returns only once every child's future is gone (dropped, destructors
    /// run), and every group opened inside the children too. Afterwards the
    /// group is empty and can be used again (a cancelled group stays
    /// cancelled: its new children are cancelled at once). Children already
    /// returned by `join_next` are not returned again.
    ///
    /// # Cancel safety
    ///
    /// Dropping the `join` future before it returns loses nothing: the
    /// children keep running, and a later `join` (or `join_next`) returns
    /// them.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::new();
    /// group.spawn(async { Ok::<_, ()>("a") });
    /// group.spawn(async { Ok("b") });
    /// assert_eq!(group.join().await.unwrap(), ["a", "b"]);
    /// # });
    /// ```
    pub async fn join(&mut self) -> Result<Vec<T>, GroupError<E>> {
        let core = self.shared.core.clone();
        poll_fn(|cx| core.poll_idle(cx)).await;
        // Every child's future is gone; each output is stored an instant
        // after its future was dropped. Wait for the last of those before
        // taking anything, so that dropping `join` here loses nothing.
        let mut checked = 0;
        poll_fn(|cx| {
            let mut slots = self.shared.slots.lock();
            while let Some(slot) = slots.handles.get_mut(checked) {
                if let Some(h) = slot {
                    std::task::ready!(h.poll_complete(cx));
                }
                checked += 1;
            }
            Poll::Ready(())
        })
        .await;
        let (mut handles, reused, reaped) = {
            let mut slots = self.shared.slots.lock();
            slots.len = 0;
            let reused = std::mem::take(&mut slots.reused);
            slots.free.clear();
            let reaped = std::mem::take(&mut slots.reaped);
            (std::mem::take(&mut slots.handles), reused, reaped)
        };
        core.clear_done();
        if let Some((timer, _)) = self.timer.take() {
            timer.abort();
        }
        if reused {
            // Slots were reused: back to spawn order.
            handles.sort_by_key(|h| h.as_ref().map(|h| h.id()));
        }
        let mut values = Vec::with_capacity(handles.len() + reaped);
        // Reaped children returned `Ok(())`: `T` is `()`.
        values.extend((0..reaped).filter_map(|_| unit::<T>()));
        let mut failures = Vec::new();
        let mut cancelled = 0;
        for handle in handles.into_iter().flatten() {
            let (id, name, spawned_at) = (handle.id(), handle.name().map(Box::from), handle.spawned_at());
            let (kind, seq) = match read_finished(handle) {
                Ok(Outcome::Ok(v)) => {
                    values.push(v);
                    continue;
                }
                Ok(Outcome::HandedOff) => continue,
                Ok(Outcome::Err(e, seq)) => (ChildErrorKind::Failed(e), seq),
                Ok(Outcome::Panicked(p, seq)) => (ChildErrorKind::Panicked(p), seq),
                Err(JoinError::Cancelled { .. }) => {
                    cancelled += 1;
                    continue;
                }
                // Panicked while its future was dropped on cancellation.
                Err(JoinError::Panicked { payload, .. }) => (ChildErrorKind::Panicked(payload), u64::MAX),
            };
            failures.push((
                seq,
                ChildError {
                    kind,
                    id,
                    name,
                    spawned_at,
                },
            ));
        }
        let timed_out = core.timed_out.load(Ordering::Acquire);
        if failures.is_empty() && cancelled == 0 {
            return Ok(values);
        }
        failures.sort_by_key(|(seq, _)| *seq);
        Err(GroupError {
            failures: failures.into_iter().map(|(_, f)| f).collect(),
            cancelled,
            timed_out,
            scope_error: None,
        })
    }

    /// Waits for the next child to finish, in completion order: `None`
    /// when there are none left. A failure still cancels the siblings
    /// (they then come back as [`ChildErrorKind::Cancelled`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped before it returns, no child's
    /// result is lost; the next call returns it.
    ///
    /// ```
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<_, ()>::new();
    /// group.spawn(async {
    ///     corral::time::sleep(Duration::from_millis(500)).await;
    ///     Ok("slow")
    /// });
    /// group.spawn(async { Ok("fast") });
    /// assert_eq!(group.join_next().await.unwrap().unwrap(), "fast");
    /// assert_eq!(group.join_next().await.unwrap().unwrap(), "slow");
    /// assert!(group.join_next().await.is_none());
    /// # });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, ChildError<E>>> {
        let core = self.shared.core.clone();
        let shared = &self.shared;
        let handle = poll_fn(|cx| {
            let coop = std::task::ready!(crate::coop::poll_proceed(cx));
            if let Some(v) = take_reaped(&mut shared.slots.lock()) {
                coop.made_progress();
                return Poll::Ready(Some(Ok(v)));
            }
            loop {
                let Some(index) = std::task::ready!(core.poll_done(cx)) else {
                    coop.made_progress();
                    return Poll::Ready(None);
                };
                let mut slots = shared.slots.lock();
                match slots.handles.get_mut(index) {
                    // Already returned (or from before the last `join`).
                    None | Some(None) => {
                        drop(slots);
                        core.pop_done();
                    }
                    Some(slot) => {
                        // Its output is stored an instant after its future
                        // was dropped: stay first in line until it is.
                        if let Some(h) = slot {
                            std::task::ready!(h.poll_complete(cx));
                        }
                        let h = slot.take();
                        slots.free.push(index);
                        slots.len -= 1;
                        drop(slots);
                        core.pop_done();
                        coop.made_progress();
                        return Poll::Ready(h.map(Err));
                    }
                }
            }
        })
        .await?;
        match handle {
            Ok(v) => Some(Ok(v)),
            Err(handle) => match result_of(handle) {
                Some(res) => Some(res),
                // A `start` child that failed before it was ready: its
                // caller got the failure, the group has nothing to return
                // for it.
                None => Box::pin(self.join_next()).await,
            },
        }
    }

    /// The next finished child, in completion order, without waiting:
    /// `None` if no child has finished since the last `join` / `join_next`
    /// / `try_join_next` took one (children may still be running; see
    /// [`len`](Self::len)). What it returns is what
    /// [`join_next`](Self::join_next) would return; a failure has already
    /// cancelled the siblings.
    ///
    /// A loop beside other work (an accept loop) that only wants to look
    /// at failures as they come can call it after each step.
    ///
    /// ```
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<_, ()>::new();
    /// group.spawn(async {
    ///     corral::time::sleep(Duration::from_secs(60)).await;
    ///     Ok("slow")
    /// });
    /// group.spawn(async { Ok("fast") });
    /// // try_join_next never waits: poll it until "fast" has finished.
    /// let fast = loop {
    ///     match group.try_join_next() {
    ///         Some(result) => break result,
    ///         None => corral::time::sleep(Duration::from_millis(1)).await,
    ///     }
    /// };
    /// assert_eq!(fast.unwrap(), "fast");
    /// assert!(group.try_join_next().is_none()); // "slow" is still running
    /// assert_eq!(group.len(), 1);
    /// group.cancel();
    /// # });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, ChildError<E>>> {
        let core = &self.shared.core;
        loop {
            let handle = loop {
                let mut slots = self.shared.slots.lock();
                if let Some(v) = take_reaped(&mut slots) {
                    return Some(Ok(v));
                }
                let index = core.peek_done()?;
                match slots.handles.get_mut(index) {
                    // Already returned (or from before the last `join`).
                    None | Some(None) => {
                        drop(slots);
                        core.pop_done();
                    }
                    Some(Some(h)) => {
                        // Its future is gone but its output is not stored
                        // yet: not finished for a moment more.
                        if !h.is_finished() {
                            return None;
                        }
                        let h = slots.handles[index].take();
                        slots.free.push(index);
                        slots.len -= 1;
                        drop(slots);
                        core.pop_done();
                        break h?;
                    }
                }
            };
            if let Some(res) = result_of(handle) {
                return Some(res);
            }
        }
    }

    /// How many child slots the group holds: one per child that is running
    /// or whose result waits to be taken, plus free slots kept for reuse.
    /// It shows that a long-lived group stays bounded: in a group of `()`
    /// children, those that end with `Ok(())` free their slot on their own
    /// (see [`TaskGroup`]'s "Long-lived groups").
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let group = corral::task::TaskGroup::<(), ()>::new();
    /// for _ in 0..1000 {
    ///     let (done, ended) = corral::sync::oneshot::channel();
    ///     group.spawn(async move {
    ///         let _ = done.send(());
    ///         Ok(())
    ///     });
    ///     ended.await.unwrap();
    /// }
    /// assert!(group.retained() < 100);
    /// # });
    /// ```
    pub fn retained(&self) -> usize {
        self.shared.slots.lock().handles.len()
    }
}

/// Is `T` the unit type (a child's `Ok(())` carries nothing to keep)?
#[inline]
fn is_unit<T: 'static>() -> bool {
    // The size test folds at compile time, so that no other group carries
    // the reaping code.
    std::mem::size_of::<T>() == 0 && std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>()
}

/// `()` as a `T`, if `T` is `()`.
fn unit<T: 'static>() -> Option<T> {
    // A `Box<()>` does not allocate.
    (Box::new(()) as Box<dyn std::any::Any>)
        .downcast::<T>()
        .ok()
        .map(|b| *b)
}

/// Drops the children at the front of the completion order that returned
/// `Ok(())`, freeing their slots (a `()` group only). Out of line: it runs
/// once per doubling of the slot table.
#[cold]
#[inline(never)]
fn reap<T, E>(core: &Core, slots: &mut Slots<T, E>) {
    core.pop_ok_done(|index| {
        if let Some(slot) = slots.handles.get_mut(index) {
            if slot.take().is_some() {
                slots.free.push(index);
                slots.reaped += 1;
            }
        }
    });
}

/// A reaped child's `()`, first in completion order.
fn take_reaped<T: 'static, E>(slots: &mut Slots<T, E>) -> Option<T> {
    if slots.reaped == 0 {
        return None;
    }
    slots.reaped -= 1;
    slots.len -= 1;
    unit::<T>()
}

/// What `join_next` returns for a finished child; `None` for a `start`
/// child whose failure went to its `start` caller.
fn result_of<T, E>(handle: JoinHandle<Outcome<T, E>>) -> Option<Result<T, ChildError<E>>> {
    let (id, name, spawned_at) = (handle.id(), handle.name().map(Box::from), handle.spawned_at());
    let kind = match read_finished(handle) {
        Ok(Outcome::Ok(v)) => return Some(Ok(v)),
        Ok(Outcome::HandedOff) => return None,
        Ok(Outcome::Err(e, _)) => ChildErrorKind::Failed(e),
        Ok(Outcome::Panicked(p, _)) => ChildErrorKind::Panicked(p),
        Err(JoinError::Cancelled { .. }) => ChildErrorKind::Cancelled,
        Err(JoinError::Panicked { payload, .. }) => ChildErrorKind::Panicked(payload),
    };
    Some(Err(ChildError {
        kind,
        id,
        name,
        spawned_at,
    }))
}

/// The output of a finished child.
fn read_finished<X>(mut handle: JoinHandle<X>) -> Result<X, JoinError> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match handle.poll_output_unbudgeted(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("read_finished: the child has not finished"),
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    /// Cancels the children that are still running. (It cannot wait for
    /// them; a group opened inside another group's child is waited for by
    /// that group's `join`.)
    fn drop(&mut self) {
        // From here the enclosing group (if any) waits for this one's
        // children through the core, not for this handle.
        self.shared.core.handle_dropped();
        if let Some((timer, _)) = self.timer.take() {
            timer.abort();
        }
        let slots = self.shared.slots.lock();
        if slots.handles.iter().flatten().any(|h| !h.is_finished()) {
            for handle in slots.handles.iter().flatten() {
                handle.abort();
            }
        }
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Children<'a, T, E>(&'a [Option<JoinHandle<Outcome<T, E>>>]);
        impl<T, E> fmt::Debug for Children<'_, T, E> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.iter().flatten()).finish()
            }
        }
        let slots = self.shared.slots.lock();
        f.debug_struct("TaskGroup")
            .field("cancelled", &self.shared.core.token.is_cancelled())
            .field("live", &self.shared.core.live())
            .field("children", &Children(&slots.handles))
            .finish()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<X: Send + Sync>() {}
    is::<TaskGroup<u8, std::io::Error>>();
}

/// The [`CancelToken`] of the task group whose child is running this code,
/// or `None` outside a group's child (in `block_on`'s future, a plain
/// spawned task, or a thread). A child can watch it or cancel its group
/// with it without being handed [`TaskGroup::token`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// assert!(corral::task::current_token().is_none());
/// let mut group = corral::task::TaskGroup::<bool, ()>::new();
/// let token = group.token();
/// group.spawn(async move {
///     let mine = corral::task::current_token().expect("inside a child");
///     mine.cancel(); // cancels the group
///     Ok(token.is_cancelled())
/// });
/// assert_eq!(group.join().await.unwrap(), [true]);
/// # });
/// ```
pub fn current_token() -> Option<CancelToken> {
    Core::current_token()
}
