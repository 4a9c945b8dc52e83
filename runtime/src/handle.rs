use crate::context;
use crate::driver;
use crate::loom::Arc;
use crate::sched::{current_thread, multi_thread};
use crate::task::{self, JoinHandle};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::Location;

/// A cheap, cloneable reference to a runtime: spawn onto it from anywhere,
/// including threads that are not part of it.
///
/// ```
/// let rt = corral::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let from_thread = std::thread::spawn(move || handle.spawn(async { 1 + 1 }))
///     .join()
///     .unwrap();
/// assert_eq!(rt.block_on(from_thread).unwrap(), 2);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) scheduler: Scheduler,
}

#[derive(Clone)]
pub(crate) enum Scheduler {
    MultiThread(Arc<multi_thread::Shared>),
    CurrentThread(Arc<current_thread::Shared>),
}

/// Which scheduler a runtime uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeFlavor {
    /// Work-stealing over a pool of worker threads.
    MultiThread,
    /// Every task on the thread that calls `block_on`.
    CurrentThread,
}

const NO_RUNTIME: &str = "there is no corral runtime on this thread: \
     start one with #[corral::main] or Runtime::block_on, \
     or spawn from outside with Runtime::spawn / Handle::spawn";

impl Handle {
    /// The handle of the runtime this thread is running in.
    ///
    /// # Panics
    ///
    /// Outside a runtime (not in a task, a `block_on`, or under
    /// [`Handle::enter`]). Use [`try_current`](Self::try_current) to check.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let handle = corral::Handle::current();
    /// let task = handle.spawn(async { "hi" });
    /// assert_eq!(task.await.unwrap(), "hi");
    /// # });
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    /// The current runtime's handle, or an error outside any runtime.
    ///
    /// ```
    /// assert!(corral::Handle::try_current().is_err());
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current_handle().ok_or(TryCurrentError(()))
    }

    /// Spawns a task onto this runtime; it starts running at once (on a
    /// worker, or on the next `block_on` for a current-thread runtime).
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// let task = rt.handle().spawn(async { 5 });
    /// assert_eq!(rt.block_on(task).unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, None, Location::caller())
    }

    /// Spawns a task with a name, shown in its [`JoinError`](crate::task::JoinError)
    /// messages and by [`JoinHandle::name`].
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// let task = rt.handle().spawn_named("fetch", async { panic!("no route") });
    /// let err = rt.block_on(task).unwrap_err();
    /// assert!(err.to_string().contains("(fetch) panicked: no route"));
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<String>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, Some(name.into().into_boxed_str()), Location::caller())
    }

    /// Runs a blocking closure on this runtime's blocking pool; see
    /// [`run_sync`](crate::run_sync).
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// let job = rt.handle().run_sync(|| std::fs::metadata(".").is_ok());
    /// assert!(rt.block_on(job).unwrap());
    /// ```
    #[track_caller]
    pub fn run_sync<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        // Pool threads enter the runtime of the caller; make that this one.
        let _enter = context::enter_handle(self.clone());
        self.driver().blocking().spawn(f)
    }

    /// The number of blocking-pool threads alive (running or idle).
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// rt.block_on(rt.handle().run_sync(|| ())).unwrap();
    /// assert!(rt.handle().num_blocking_threads() >= 1);
    /// ```
    pub fn num_blocking_threads(&self) -> usize {
        self.driver().blocking().num_threads()
    }

    pub(crate) fn driver(&self) -> &driver::Handle {
        match &self.scheduler {
            Scheduler::MultiThread(s) => &s.driver,
            Scheduler::CurrentThread(s) => &s.driver,
        }
    }

    pub(crate) fn spawn_inner<F>(
        &self,
        future: F,
        name: Option<Box<str>>,
        spawned_at: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.scheduler {
            Scheduler::MultiThread(s) => task::spawn_task(future, s, &s.owned, name, spawned_at),
            Scheduler::CurrentThread(s) => task::spawn_task(future, s, &s.owned, name, spawned_at),
        }
    }

    /// Makes this runtime current on this thread until the guard drops, so
    /// that [`corral::spawn`](crate::spawn) and [`Handle::current`] work
    /// from plain code.
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// let task = {
    ///     let _guard = rt.handle().enter();
    ///     corral::spawn(async { 3 })
    /// };
    /// assert_eq!(rt.block_on(task).unwrap(), 3);
    /// ```
    ///
    /// # Panics
    ///
    /// Guards must be dropped in the reverse order of their creation (as
    /// they are when each lives in a scope). Dropping one while a guard
    /// created after it is still alive panics: the thread's current runtime
    /// would otherwise silently become the wrong one.
    ///
    /// ```should_panic
    /// let a = corral::Builder::new_current_thread().build().unwrap();
    /// let b = corral::Builder::new_current_thread().build().unwrap();
    /// let ga = a.enter();
    /// let gb = b.enter();
    /// drop(ga); // panics: `gb` is still alive
    /// # drop(gb);
    /// ```
    pub fn enter(&self) -> EnterGuard {
        let depth = ENTER_DEPTH.with(|d| {
            let depth = d.get() + 1;
            d.set(depth);
            depth
        });
        EnterGuard {
            guard: Some(context::enter_handle(self.clone())),
            depth,
        }
    }

    /// Which scheduler this runtime uses.
    ///
    /// ```
    /// let rt = corral::Builder::new_current_thread().build().unwrap();
    /// assert_eq!(rt.handle().runtime_flavor(), corral::RuntimeFlavor::CurrentThread);
    /// ```
    pub fn runtime_flavor(&self) -> RuntimeFlavor {
        match self.scheduler {
            Scheduler::MultiThread(_) => RuntimeFlavor::MultiThread,
            Scheduler::CurrentThread(_) => RuntimeFlavor::CurrentThread,
        }
    }

    /// The number of worker threads (1 for a current-thread runtime).
    ///
    /// ```
    /// let rt = corral::Builder::new_multi_thread().worker_threads(3).build().unwrap();
    /// assert_eq!(rt.handle().num_workers(), 3);
    /// ```
    pub fn num_workers(&self) -> usize {
        match &self.scheduler {
            Scheduler::MultiThread(s) => s.num_workers(),
            Scheduler::CurrentThread(_) => 1,
        }
    }

    /// The number of tasks spawned and not yet finished.
    ///
    /// ```
    /// let rt = corral::Builder::new_current_thread().build().unwrap();
    /// let task = rt.spawn(async {});
    /// assert_eq!(rt.handle().num_alive_tasks(), 1);
    /// rt.block_on(task).unwrap();
    /// assert_eq!(rt.handle().num_alive_tasks(), 0);
    /// ```
    pub fn num_alive_tasks(&self) -> usize {
        match &self.scheduler {
            Scheduler::MultiThread(s) => s.owned.len(),
            Scheduler::CurrentThread(s) => s.owned.len(),
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("flavor", &self.runtime_flavor())
            .field("workers", &self.num_workers())
            .finish()
    }
}

std::thread_local! {
    /// How many `EnterGuard`s are alive on this thread (orphans included).
    /// Each guard records the count after its creation; it is dropped in
    /// order if that is still the count (no younger guard alive). A std
    /// thread-local even under loom: the loom models never enter a runtime
    /// by hand.
    static ENTER_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Guards dropped out of order, with their depth: their context restore
    /// waits until every younger guard is gone.
    static ORPHANS: RefCell<Vec<(usize, context::HandleGuard)>> = const { RefCell::new(Vec::new()) };
}

/// Keeps a runtime current on this thread; see [`Handle::enter`].
///
/// Guards nest: drop them in the reverse order of their creation, or the
/// drop panics (see [`Handle::enter`]).
#[must_use = "the runtime is current only while the guard lives"]
pub struct EnterGuard {
    /// Restores the previously current runtime. Taken by `Drop`.
    guard: Option<context::HandleGuard>,
    /// `ENTER_DEPTH` right after this guard was created.
    depth: usize,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        let Ok(current) = ENTER_DEPTH.try_with(Cell::get) else {
            return; // thread teardown: nothing left to restore for
        };
        if current != self.depth {
            // A younger guard is alive. Restoring our predecessor now would
            // make the younger guard's runtime vanish while it lives, and
            // its own restore would later bring ours back after we are
            // gone. Keep the context as it is; the restore happens when the
            // younger guards are dropped (see below). Then say what went
            // wrong, unless already unwinding.
            let _ = ORPHANS.try_with(|o| o.borrow_mut().push((self.depth, guard)));
            if !std::thread::panicking() {
                panic!(
                    "corral: EnterGuard dropped out of order: a guard from a later \
                     Handle::enter / Runtime::enter on this thread is still alive. Drop \
                     enter guards in the reverse order of their creation (keep each in its \
                     own scope)"
                );
            }
            return;
        }
        // In order: restore our predecessor, then finish the restores of
        // the orphans just below us, youngest first.
        drop(guard);
        let mut depth = self.depth - 1;
        while let Some(orphan) = ORPHANS
            .try_with(|o| {
                let mut o = o.borrow_mut();
                let at = o.iter().position(|(d, _)| *d == depth)?;
                Some(o.swap_remove(at))
            })
            .ok()
            .flatten()
        {
            drop(orphan);
            depth -= 1;
        }
        let _ = ENTER_DEPTH.try_with(|d| d.set(depth));
    }
}

/// [`Handle::try_current`] was called outside a runtime.
#[derive(Debug)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NO_RUNTIME)
    }
}

impl std::error::Error for TryCurrentError {}

/// Spawns a task onto the current runtime.
///
/// The task starts at once and runs to completion even if its
/// [`JoinHandle`] is dropped; await the handle for its output, or call
/// [`JoinHandle::abort`] to cancel it.
///
/// # Panics
///
/// Outside a runtime (see [`Handle::current`]).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let tasks: Vec<_> = (0..10u64).map(|i| corral::spawn(async move { i * i })).collect();
/// let mut sum = 0;
/// for t in tasks {
///     sum += t.await.unwrap();
/// }
/// assert_eq!(sum, 285);
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_inner(future, None, Location::caller())
}

#[track_caller]
pub(crate) fn spawn_inner<F>(
    future: F,
    name: Option<Box<str>>,
    spawned_at: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut future = Some(future);
    let mut name = Some(name);
    let spawned = context::with_handle(|h| {
        h.map(|h| h.spawn_inner(future.take().unwrap(), name.take().unwrap(), spawned_at))
    });
    match spawned {
        Some(join) => join,
        None => panic!("corral::spawn called outside a runtime: {NO_RUNTIME}"),
    }
}

/// Runs the blocking closure `f` on the current runtime's blocking pool and
/// returns a handle to await its result, so the async workers stay free.
///
/// Use it for anything that blocks: file I/O, a CPU-heavy computation,
/// a synchronous library. Pool threads start on demand, up to
/// [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads)
/// (512 by default); beyond that, jobs queue. A panic in `f` becomes
/// [`JoinError::Panicked`](crate::task::JoinError). Aborting the handle
/// cancels a job that has not started; a started one runs to completion.
///
/// # Panics
///
/// Outside a runtime.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let digest = corral::run_sync(|| {
///     // stands in for hashing a large file
///     (0..1_000_000u64).fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(x))
/// })
/// .await
/// .unwrap();
/// # let _ = digest;
/// # });
/// ```
#[track_caller]
pub fn run_sync<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match context::current_handle() {
        Some(h) => h.driver().blocking().spawn(f),
        None => panic!("corral::run_sync called outside a runtime: {NO_RUNTIME}"),
    }
}

/// tokio's name for [`run_sync`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// assert_eq!(corral::spawn_blocking(|| 2 + 2).await.unwrap(), 4);
/// # });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    run_sync(f)
}
