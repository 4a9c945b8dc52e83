use crate::context;
use crate::handle::{Handle, RuntimeFlavor, Scheduler};
use crate::runtime::Runtime;
use crate::sched::{current_thread, multi_thread};
use std::fmt;
use std::io;

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = corral::Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("my-app-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { corral::spawn(async { 7 }).await.unwrap() }), 7);
/// ```
///
/// Invalid settings are reported by [`build`](Self::build) as an
/// `io::ErrorKind::InvalidInput` error naming the setting:
///
/// ```
/// let err = corral::Builder::new_multi_thread().worker_threads(0).build().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(err.to_string().contains("worker_threads"));
/// ```
pub struct Builder {
    flavor: RuntimeFlavor,
    worker_threads: Option<usize>,
    thread_name: String,
    thread_stack_size: Option<usize>,
}

/// Environment variable that sets the default number of worker threads.
const WORKER_THREADS_ENV: &str = "CORRAL_WORKER_THREADS";

impl Builder {
    /// A work-stealing runtime over a pool of worker threads (one per CPU
    /// unless [`worker_threads`](Self::worker_threads) says otherwise).
    ///
    /// ```
    /// let rt = corral::Builder::new_multi_thread().build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn new_multi_thread() -> Builder {
        Builder {
            flavor: RuntimeFlavor::MultiThread,
            worker_threads: None,
            thread_name: "corral-worker".into(),
            thread_stack_size: None,
        }
    }

    /// A runtime whose tasks all run on the thread that calls
    /// [`Runtime::block_on`]: no worker threads, no `Send` traffic between
    /// cores. Tests use it by default.
    ///
    /// ```
    /// let rt = corral::Builder::new_current_thread().build().unwrap();
    /// let here = std::thread::current().id();
    /// let there = rt.block_on(async { corral::spawn(async { std::thread::current().id() }).await.unwrap() });
    /// assert_eq!(here, there);
    /// ```
    pub fn new_current_thread() -> Builder {
        Builder {
            flavor: RuntimeFlavor::CurrentThread,
            ..Builder::new_multi_thread()
        }
    }

    /// Number of worker threads of a multi-thread runtime. Defaults to
    /// `CORRAL_WORKER_THREADS` if set, else the number of CPUs. Ignored by a
    /// current-thread runtime. Zero is refused by [`build`](Self::build).
    ///
    /// ```
    /// let rt = corral::Builder::new_multi_thread().worker_threads(4).build().unwrap();
    /// assert_eq!(rt.handle().num_workers(), 4);
    /// ```
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// Name prefix of the worker threads (each gets `-N` appended), shown by
    /// debuggers and `top -H`. Default: `corral-worker`.
    ///
    /// ```
    /// let rt = corral::Builder::new_multi_thread().thread_name("db").worker_threads(1).build().unwrap();
    /// let name = rt.block_on(async {
    ///     corral::spawn(async { std::thread::current().name().unwrap().to_owned() }).await.unwrap()
    /// });
    /// assert_eq!(name, "db-0");
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Stack size in bytes of the worker threads (default: the platform's
    /// default for spawned threads, 2 MiB on Linux).
    ///
    /// ```
    /// let rt = corral::Builder::new_multi_thread().thread_stack_size(4 << 20).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Builds the runtime and starts its threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an invalid setting (`worker_threads(0)`, or a
    /// `CORRAL_WORKER_THREADS` that is not a positive number); the OS error
    /// if a thread cannot be started.
    ///
    /// ```
    /// let rt = corral::Builder::new_current_thread().build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        match self.flavor {
            RuntimeFlavor::CurrentThread => {
                let handle = Handle {
                    scheduler: Scheduler::CurrentThread(current_thread::Shared::new()),
                };
                Ok(Runtime::from_parts(handle, Vec::new()))
            }
            RuntimeFlavor::MultiThread => self.build_multi_thread(),
        }
    }

    fn num_workers(&self) -> io::Result<usize> {
        let n = match self.worker_threads {
            Some(n) => n,
            None => match std::env::var(WORKER_THREADS_ENV) {
                Ok(v) => v.trim().parse::<usize>().map_err(|_| {
                    invalid(format!(
                        "{WORKER_THREADS_ENV}={v:?} is not a number of worker threads"
                    ))
                })?,
                Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
            },
        };
        if n == 0 {
            return Err(invalid("worker_threads must be at least 1".into()));
        }
        if n > 1 << 15 {
            return Err(invalid(format!(
                "worker_threads = {n} is more than the 32768 supported"
            )));
        }
        Ok(n)
    }

    fn build_multi_thread(&mut self) -> io::Result<Runtime> {
        let n = self.num_workers()?;
        let (shared, parts) = multi_thread::Shared::new(n);
        let handle = Handle {
            scheduler: Scheduler::MultiThread(shared.clone()),
        };
        let mut threads = Vec::with_capacity(n);
        for (i, parts) in parts.into_iter().enumerate() {
            let mut b = std::thread::Builder::new().name(format!("{}-{i}", self.thread_name));
            if let Some(size) = self.thread_stack_size {
                b = b.stack_size(size);
            }
            let worker_shared = shared.clone();
            let handle = handle.clone();
            // Worker threads are plain std threads even under loom: the
            // multi-thread scheduler is not modelled (see loom.rs).
            let spawned = b.spawn(move || {
                let _enter = context::enter_handle(handle);
                let _blocking = context::enter_blocking_region();
                let _exit = ExitGuard(&worker_shared);
                multi_thread::Worker::run(&worker_shared, parts);
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // Stop the workers already started; the ones never
                    // started count as exited.
                    shared.begin_shutdown();
                    for _ in i..n {
                        shared.worker_exited();
                    }
                    shared.wait_for_workers(None);
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Runtime::from_parts(handle, threads))
    }
}

/// Reports a worker's exit even if it unwinds.
struct ExitGuard<'a>(&'a multi_thread::Shared);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        self.0.worker_exited();
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("flavor", &self.flavor)
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("thread_stack_size", &self.thread_stack_size)
            .finish()
    }
}
