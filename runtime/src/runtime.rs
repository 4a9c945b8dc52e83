use crate::builder::Builder;
use crate::context;
use crate::handle::{EnterGuard, Handle, Scheduler};
use crate::sched::{self, current_thread};
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

const NESTED_BLOCK_ON: &str = "cannot block_on inside a corral runtime: this thread is driving \
     async tasks, and blocking it would stall them. Use `.await` instead, or move the blocking \
     code into `corral::run_sync`";

const BLOCKING_SHUTDOWN: &str = "cannot drop a corral runtime (or call shutdown_timeout) in a \
     context where blocking is not allowed: this thread runs async tasks (a task or a block_on), \
     and waiting here for the runtime's workers and run_sync jobs would stall them. The runtime \
     was shut down in the background; call `Runtime::shutdown_background` there instead, or drop \
     the runtime in `corral::run_sync` or on a plain thread";

/// The corral runtime: a scheduler and the threads that run its tasks.
///
/// Most programs start it with `#[corral::main]`;
/// build one by hand with [`Builder`] or [`Runtime::new`].
///
/// Dropping a runtime stops its workers after their current poll, cancels
/// every task that has not finished and drops its future (futures are
/// dropped with the runtime entered, so their `Drop` may use
/// [`Handle::current`]). Awaiting a cancelled task's handle then yields
/// [`JoinError::Cancelled`](crate::task::JoinError::Cancelled).
///
/// Dropping waits for the workers and for running
/// [`run_sync`](crate::run_sync) jobs, so it panics where blocking is not
/// allowed: inside a task or a `block_on` of another runtime (use
/// [`shutdown_background`](Runtime::shutdown_background) there; the runtime
/// is still shut down, in the background, before the panic). A task may
/// drop its own multi-thread runtime: it then does not wait for its own
/// worker.
///
/// ```
/// let rt = corral::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let task = corral::spawn(async { 40 });
///     task.await.unwrap() + 2
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    /// Multi-thread worker threads, joined on shutdown.
    threads: Vec<std::thread::JoinHandle<()>>,
    /// False once `shutdown_timeout` / `shutdown_background` ran.
    live: bool,
}

impl Runtime {
    /// A multi-thread runtime with one worker per CPU (or
    /// `CORRAL_WORKER_THREADS`).
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(async { 1 }), 1);
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().build()
    }

    pub(crate) fn from_parts(handle: Handle, threads: Vec<std::thread::JoinHandle<()>>) -> Runtime {
        Runtime {
            handle,
            threads,
            live: true,
        }
    }

    /// Runs `future` to completion on the current thread and returns its
    /// output. On a multi-thread runtime, spawned tasks run on the workers
    /// meanwhile; on a current-thread runtime, this thread runs them.
    ///
    /// The future itself is not a task ([`task::try_id`](crate::task::try_id)
    /// is `None` in it), but each poll of it gets a task's cooperative
    /// budget (see [`coop`](crate::coop)): a loop in it that is always
    /// ready gives way now and then, so a [`timeout`](crate::time::timeout)
    /// around it fires, and on a current-thread runtime the timers, the I/O
    /// and the spawned tasks keep running while it is busy.
    ///
    /// # Panics
    ///
    /// If called from inside a runtime (a task, or another `block_on`):
    /// blocking there would stall the tasks this thread drives. `.await`
    /// the future instead.
    ///
    /// ```
    /// let rt = corral::Builder::new_current_thread().build().unwrap();
    /// let v = rt.block_on(async {
    ///     let a = corral::spawn(async { 1 });
    ///     let b = corral::spawn(async { 2 });
    ///     a.await.unwrap() + b.await.unwrap()
    /// });
    /// assert_eq!(v, 3);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let Some(_blocking) = context::enter_blocking_region() else {
            panic!("{NESTED_BLOCK_ON}");
        };
        let _enter = context::enter_handle(self.handle.clone());
        match &self.handle.scheduler {
            Scheduler::MultiThread(_) => sched::park_on(future),
            Scheduler::CurrentThread(shared) => current_thread::Shared::block_on(shared, future),
        }
    }

    /// Spawns a task onto this runtime; see [`Handle::spawn`].
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// let task = rt.spawn(async { "done" });
    /// assert_eq!(rt.block_on(task).unwrap(), "done");
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Spawns a named task; see [`Handle::spawn_named`].
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// let task = rt.spawn_named("worker", async {});
    /// assert_eq!(task.name(), Some("worker"));
    /// ```
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<String>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn_named(name, future)
    }

    /// The runtime's handle, to spawn from other threads.
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// let handle: corral::Handle = rt.handle().clone();
    /// # drop(handle);
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes the runtime current on this thread until the guard drops; see
    /// [`Handle::enter`].
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// let _guard = rt.enter();
    /// let task = corral::spawn(async {});
    /// # drop(_guard);
    /// # rt.block_on(task).unwrap();
    /// ```
    pub fn enter(&self) -> EnterGuard {
        self.handle.enter()
    }

    /// Shuts down, waiting at most `timeout` for the workers to finish
    /// their current polls and for running [`run_sync`](crate::run_sync)
    /// jobs to return. Returns true if everything stopped in time; if not,
    /// the stragglers finish in the background (a worker cancels the
    /// remaining tasks when its poll returns).
    ///
    /// # Panics
    ///
    /// Where blocking is not allowed (in a task or a `block_on` of another
    /// runtime), after shutting down in the background, as `Drop` does;
    /// use [`shutdown_background`](Runtime::shutdown_background) there.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = corral::Runtime::new().unwrap();
    /// rt.spawn(std::future::pending::<()>());
    /// assert!(rt.shutdown_timeout(Duration::from_secs(5)));
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> bool {
        self.shutdown(Some(timeout))
    }

    /// Shuts down without waiting for the workers or for running
    /// [`run_sync`](crate::run_sync) jobs. Usable anywhere, including
    /// inside a task of another runtime.
    ///
    /// ```
    /// let rt = corral::Runtime::new().unwrap();
    /// rt.shutdown_background();
    /// ```
    pub fn shutdown_background(mut self) {
        self.shutdown(Some(Duration::ZERO));
    }

    fn shutdown(&mut self, timeout: Option<Duration>) -> bool {
        if !self.live {
            return true;
        }
        if timeout != Some(Duration::ZERO) && !self.may_wait_here() {
            // Waiting here would stall the tasks this thread drives. Stop
            // the runtime without waiting, then tell the caller.
            self.shutdown(Some(Duration::ZERO));
            if !std::thread::panicking() {
                panic!("{BLOCKING_SHUTDOWN}");
            }
            return false;
        }
        self.live = false;
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let left = || deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let _enter = context::enter_handle(self.handle.clone());
        let workers_done = match &self.handle.scheduler {
            Scheduler::MultiThread(shared) => {
                shared.begin_shutdown();
                // A runtime dropped by one of its own tasks cannot wait for
                // its own worker: the last worker finishes shutdown anyway.
                if shared.is_current_worker() {
                    self.threads.clear();
                    false
                } else {
                    let done = shared.wait_for_workers(left());
                    for thread in self.threads.drain(..) {
                        if done {
                            let _ = thread.join();
                        }
                    }
                    done
                }
            }
            Scheduler::CurrentThread(shared) => {
                current_thread::Shared::shutdown(shared);
                true
            }
        };
        // Blocking jobs cannot be interrupted: wait for the running ones
        // with what is left of the timeout (queued ones are cancelled).
        let blocking_done = self.handle.driver().blocking().shutdown(left());
        workers_done && blocking_done
    }
}

impl Runtime {
    /// May this thread wait for the runtime's workers and blocking jobs?
    /// Not if it drives async tasks (a worker, a `block_on`), unless it is
    /// one of this runtime's own workers: a task may drop its own runtime,
    /// whose other tasks are being cancelled anyway.
    fn may_wait_here(&self) -> bool {
        if let Scheduler::MultiThread(shared) = &self.handle.scheduler {
            if shared.is_current_worker() {
                return true;
            }
        }
        // The guard is dropped at once: this only asks.
        context::enter_blocking_region().is_some()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("handle", &self.handle).finish()
    }
}
