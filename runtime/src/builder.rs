use crate::blocking;
use crate::context;
use crate::driver;
use crate::handle::{Handle, RuntimeFlavor, Scheduler};
use crate::runtime::Runtime;
use crate::sched::monitor::{self, StallReport};
use crate::sched::{current_thread, multi_thread};
use std::fmt;
use std::io;
use std::time::Duration;

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
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    start_paused: bool,
    stall: monitor::Config,
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
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            start_paused: false,
            stall: monitor::Config::default(),
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

    /// Most threads the blocking pool ([`run_sync`](crate::run_sync)) may run
    /// at once (default 512). Jobs beyond that wait in a queue. Zero is
    /// refused by [`build`](Self::build).
    ///
    /// ```
    /// let rt = corral::Builder::new_multi_thread().max_blocking_threads(4).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking-pool thread waits for a job before it
    /// exits (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = corral::Builder::new_multi_thread().blocking_keep_alive(Duration::from_secs(1)).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn blocking_keep_alive(&mut self, keep_alive: Duration) -> &mut Self {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// Starts the runtime with its clock paused (see
    /// [`time::pause`](crate::time::pause)): time then jumps to the next
    /// timer whenever every task is waiting.
    ///
    /// Current-thread runtimes only: [`build`](Self::build) refuses a
    /// multi-thread runtime with `start_paused(true)` (`InvalidInput`), as
    /// its workers cannot tell when every task waits, and its sleeps would
    /// never end without [`time::advance`](crate::time::advance).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = corral::Builder::new_current_thread().start_paused(true).build().unwrap();
    /// rt.block_on(async {
    ///     let start = std::time::Instant::now();
    ///     corral::time::sleep(Duration::from_secs(24 * 3600)).await;
    ///     assert!(start.elapsed() < Duration::from_secs(60));
    /// });
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// Name prefix of the worker threads (each gets `-N` appended), shown by
    /// debuggers and `top -H`. Default: `corral-worker`. Blocking-pool
    /// threads are named `PREFIX-blocking-N`, without a `-worker` suffix
    /// (`corral-blocking-0` by default).
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

    /// How long one poll may hold a worker before the stall monitor steps
    /// in (default 10 ms; multi-thread runtimes only).
    ///
    /// A task that blocks inside a poll (a blocking call, a long
    /// computation) holds its worker thread. The monitor samples every
    /// worker each `threshold / 2`; once a poll has run for `threshold` it
    /// reports it (see [`on_stall`](Self::on_stall)) and, while the poll
    /// lasts, hands what only the stuck worker would have run — the task it
    /// just woke, its queued tasks, the timers and I/O it was watching — to
    /// an idle worker. With one worker there is nobody to hand them to.
    /// When every worker is idle the monitor sleeps; when none is stuck it
    /// costs one check per `threshold / 2`. `Duration::MAX` turns it off.
    /// Less than a millisecond is refused by [`build`](Self::build).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let rt = corral::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .stall_threshold(Duration::from_millis(5))
    ///     .build()
    ///     .unwrap();
    /// let late = rt.block_on(async {
    ///     // This task blocks its worker for 300 ms right after the timer
    ///     // below is due; the monitor lets the other worker fire it.
    ///     let timer = corral::spawn(async {
    ///         let start = Instant::now();
    ///         corral::time::sleep(Duration::from_millis(50)).await;
    ///         start.elapsed()
    ///     });
    ///     corral::spawn(async {
    ///         corral::time::sleep(Duration::from_millis(20)).await;
    ///         std::thread::sleep(Duration::from_millis(300)); // blocks its worker
    ///     });
    ///     timer.await.unwrap()
    /// });
    /// assert!(late < Duration::from_millis(250), "fired after {late:?}");
    /// ```
    pub fn stall_threshold(&mut self, threshold: Duration) -> &mut Self {
        self.stall.threshold = threshold;
        self
    }

    /// Calls `hook` (on the monitor thread) once for each poll that stalls
    /// a worker for [`stall_threshold`](Self::stall_threshold), with which
    /// task it is and where it was spawned: the place to log blocking code
    /// in `async` functions. A panic in the hook is contained. Default: no
    /// hook (the monitor still keeps other tasks running).
    ///
    /// ```
    /// let rt = corral::Builder::new_multi_thread()
    ///     .on_stall(|report: &corral::StallReport| eprintln!("warning: {report}"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_stall(&mut self, hook: impl Fn(&StallReport) + Send + Sync + 'static) -> &mut Self {
        self.stall.on_stall = Some(std::sync::Arc::new(hook));
        self
    }

    /// Builds the runtime and starts its threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an invalid setting (`worker_threads(0)`, a
    /// `CORRAL_WORKER_THREADS` that is not a positive number,
    /// `start_paused(true)` on a multi-thread runtime); the OS error
    /// if a thread cannot be started.
    ///
    /// ```
    /// let rt = corral::Builder::new_current_thread().build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        if self.max_blocking_threads == 0 {
            return Err(invalid("max_blocking_threads must be at least 1".into()));
        }
        if self.stall.threshold < Duration::from_millis(1) {
            return Err(invalid(format!(
                "stall_threshold = {:?} is below the 1 ms minimum",
                self.stall.threshold
            )));
        }
        if self.start_paused && self.flavor == RuntimeFlavor::MultiThread {
            return Err(invalid(
                "start_paused(true) needs a current-thread runtime: only it moves a paused \
                 clock to the next timer when every task waits (on a multi-thread runtime \
                 every sleep would hang until `advance`); build with \
                 Builder::new_current_thread().start_paused(true)"
                    .into(),
            ));
        }
        let blocking = blocking::Config {
            max_threads: self.max_blocking_threads,
            keep_alive: self.blocking_keep_alive,
            thread_name: self.thread_name.clone(),
            stack_size: self.thread_stack_size,
        };
        let (driver, driver_handle) = driver::Driver::new(self.start_paused, blocking)?;
        match self.flavor {
            RuntimeFlavor::CurrentThread => {
                let handle = Handle {
                    scheduler: Scheduler::CurrentThread(current_thread::Shared::new(driver, driver_handle)),
                };
                Ok(Runtime::from_parts(handle, Vec::new()))
            }
            RuntimeFlavor::MultiThread => self.build_multi_thread(driver, driver_handle),
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

    fn build_multi_thread(
        &mut self,
        driver: driver::Driver,
        driver_handle: driver::Handle,
    ) -> io::Result<Runtime> {
        let n = self.num_workers()?;
        let (shared, parts) = multi_thread::Shared::new(n, driver, driver_handle);
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
        // The stall monitor: pointless with one worker unless someone
        // wants the reports; off with `Duration::MAX`; not under loom
        // (which does not model the multi-thread scheduler).
        let wanted = (n > 1 || self.stall.on_stall.is_some()) && self.stall.threshold != Duration::MAX;
        if wanted && !cfg!(loom) {
            let config = self.stall.clone();
            let monitor_shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-monitor", self.thread_name))
                .spawn(move || monitor::run(&*monitor_shared, &config));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    drop(Runtime::from_parts(handle, threads));
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
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("blocking_keep_alive", &self.blocking_keep_alive)
            .field("start_paused", &self.start_paused)
            .field("stall_threshold", &self.stall.threshold)
            .field("on_stall", &self.stall.on_stall.is_some())
            .finish()
    }
}
