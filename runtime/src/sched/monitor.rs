//! The stall monitor: notices a worker stuck in one poll, and keeps the
//! rest of the runtime moving while it is stuck.
//!
//! A task that blocks its worker (a long computation, a blocking call)
//! strands whatever only that worker would have run next: the task it
//! just woke into its LIFO slot, the tasks in its local queue, and, if it
//! had been sleeping in the driver, the timers and I/O events nobody else
//! is watching. Idle workers are parked and only look when signalled, so
//! without help those tasks wait until the blocking poll returns. (tokio
//! has the same flaw; Go's runtime solves it with `sysmon`, and so does
//! this.)
//!
//! Pieces:
//! - `PollSlot`, one per worker (in `multi_thread::Remote`): the worker
//!   publishes a sequence number that is odd while it polls a task, with
//!   that task's id and spawn location. Two plain stores per poll. The
//!   slot also answers "is task T being polled on another worker right
//!   now?" (`PollSlot::is_polling`, through
//!   `wait::is_running_on_another_worker`), which a lock's adaptive spin
//!   asks about its holder.
//! - `Monitor` (in `multi_thread::Shared`) and the monitor thread
//!   (`run`): every `threshold / 2` it samples each worker's slot. A worker
//!   whose odd sequence number has not moved for `threshold` is stalled:
//!   on every sample until the poll returns the monitor helps
//!   (`multi_thread::Shared::help_stalled`, before anything else, since
//!   the hook may be slow), and reports the stall once (the `on_stall`
//!   hook, with a [`StallReport`]): if the stalled worker
//!   has queued tasks (LIFO slot or local queue) it signals an idle worker,
//!   which steals them; if nobody holds the driver, it wakes a worker
//!   parked on its condvar, which re-parks in the driver and so watches
//!   timers and I/O again.
//! - When every worker is parked nothing can stall, and the monitor
//!   sleeps until a worker is unparked (`worker_unparked`; the
//!   `sleeping` flag against the idle state is a Dekker handshake, every
//!   access SeqCst), so an idle runtime costs no wake-ups.
//!
//! Precision: a stall is seen between `threshold` and `1.5 * threshold`
//! after the poll began. A worker that runs many short polls never looks
//! stalled (its sequence number moves).

use crate::loom::{condvar_wait, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Condvar, Mutex, Ordering::*};
use crate::task::Id;
use std::fmt;
use std::panic::Location;
use std::ptr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default for [`Builder::stall_threshold`](crate::Builder::stall_threshold).
pub(crate) const DEFAULT_THRESHOLD: Duration = Duration::from_millis(10);

/// A worker thread stuck in one poll of one task, as the stall monitor
/// reports it to the hook set with
/// [`Builder::on_stall`](crate::Builder::on_stall).
///
/// A task stalls its worker when one poll runs for long without returning
/// `Pending` or `Ready`: a blocking call or a long computation in `async`
/// code. Move such work to [`run_sync`](crate::run_sync). While a worker is
/// stalled the monitor hands its queued tasks and the timer/I/O driver to
/// an idle worker, so the rest of the program keeps running.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let rt = corral::Builder::new_multi_thread()
///     .worker_threads(2)
///     .stall_threshold(Duration::from_millis(10))
///     .on_stall(move |report: &corral::StallReport| log.lock().unwrap().push(report.task()))
///     .build()
///     .unwrap();
/// let task = rt.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
/// let id = task.id();
/// rt.block_on(task).unwrap();
/// assert_eq!(seen.lock().unwrap().as_slice(), &[id]);
/// ```
#[derive(Clone)]
pub struct StallReport {
    worker: usize,
    task: Id,
    spawned_at: &'static Location<'static>,
    stalled_for: Duration,
}

impl StallReport {
    /// Index of the stalled worker thread (the `N` of its `corral-worker-N`
    /// name).
    ///
    /// ```
    /// # let rt = corral::Builder::new_multi_thread().worker_threads(1)
    /// #     .on_stall(|r: &corral::StallReport| assert_eq!(r.worker(), 0)).build().unwrap();
    /// # rt.block_on(rt.spawn(async { std::thread::sleep(std::time::Duration::from_millis(50)) })).unwrap();
    /// ```
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// The task whose poll is stuck.
    ///
    /// ```
    /// # let rt = corral::Builder::new_multi_thread().worker_threads(1)
    /// #     .on_stall(|r: &corral::StallReport| assert!(r.task().as_u64() > 0)).build().unwrap();
    /// # rt.block_on(rt.spawn(async { std::thread::sleep(std::time::Duration::from_millis(50)) })).unwrap();
    /// ```
    pub fn task(&self) -> Id {
        self.task
    }

    /// Where that task was spawned (the caller of `spawn`).
    ///
    /// ```
    /// # let rt = corral::Builder::new_multi_thread().worker_threads(1)
    /// #     .on_stall(|r: &corral::StallReport| assert!(r.spawned_at().file().ends_with(".rs"))).build().unwrap();
    /// # rt.block_on(rt.spawn(async { std::thread::sleep(std::time::Duration::from_millis(50)) })).unwrap();
    /// ```
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// How long the poll had been running when the monitor reported it (at
    /// least the threshold; the poll may go on for longer).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let rt = corral::Builder::new_multi_thread().worker_threads(1).stall_threshold(Duration::from_millis(10))
    /// #     .on_stall(|r: &corral::StallReport| assert!(r.stalled_for() >= Duration::from_millis(10))).build().unwrap();
    /// # rt.block_on(rt.spawn(async { std::thread::sleep(Duration::from_millis(50)) })).unwrap();
    /// ```
    pub fn stalled_for(&self) -> Duration {
        self.stalled_for
    }
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} (spawned at {}) has blocked worker {} for {} ms so far without yielding; \
             move blocking work to corral::run_sync",
            self.task,
            self.spawned_at,
            self.worker,
            self.stalled_for.as_millis()
        )
    }
}

impl fmt::Debug for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StallReport")
            .field("worker", &self.worker)
            .field("task", &self.task)
            .field("spawned_at", &format_args!("{}", self.spawned_at))
            .field("stalled_for", &self.stalled_for)
            .finish()
    }
}

/// The hook called with each stall.
pub(crate) type OnStall = Arc<dyn Fn(&StallReport) + Send + Sync + 'static>;

/// The monitor's settings, from the builder.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) threshold: Duration,
    pub(crate) on_stall: Option<OnStall>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold: DEFAULT_THRESHOLD,
            on_stall: None,
        }
    }
}

/// What a worker is polling, published for the monitor.
///
/// `seq` is odd while a poll runs. `task` and `spawned_at` are written
/// (Relaxed) before the Release store that makes `seq` odd, so a monitor
/// that reads that odd value with Acquire sees them. They are not re-read
/// consistently against the next poll (no seqlock): the monitor reads them
/// only once `seq` has stood still for a whole threshold, i.e. while the
/// worker is stuck and writes nothing. At worst a report racing the end of
/// the stall names the next task; every field is an atomic, so nothing
/// worse can happen.
///
/// Aligned to its own cache lines (128 bytes: the adjacent-line prefetcher
/// pairs 64-byte lines): it sits in `multi_thread::Remote` beside the
/// LIFO slot and stealer that other workers read while they search, and
/// the worker writes it twice per poll. Sharing a line cost ~15% on
/// `yield_many`; alone, the line stays in the worker's cache, and only the
/// monitor reads it, once per sample.
#[repr(align(128))]
pub(crate) struct PollSlot {
    seq: AtomicU32,
    task: AtomicU64,
    spawned_at: AtomicPtr<Location<'static>>,
}

impl PollSlot {
    pub(crate) fn new() -> Self {
        PollSlot {
            seq: AtomicU32::new(0),
            task: AtomicU64::new(0),
            spawned_at: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The worker starts polling `task`; `seq` is odd (the worker keeps
    /// its own copy of the number: only it writes the slot).
    #[inline(always)]
    pub(crate) fn begin(&self, seq: u32, task: Id, spawned_at: &'static Location<'static>) {
        debug_assert!(seq % 2 == 1);
        self.task.store(task.as_u64(), Relaxed);
        self.spawned_at
            .store(spawned_at as *const Location<'static> as *mut _, Relaxed);
        // Release: pairs with the Acquire load in `sample`.
        self.seq.store(seq, Release);
    }

    /// The poll returned; `seq` is even.
    #[inline(always)]
    pub(crate) fn end(&self, seq: u32) {
        self.seq.store(seq, Release);
    }

    /// Whether the worker is polling `task` right now, for
    /// [`wait::is_running_on_another_worker`](crate::wait::is_running_on_another_worker)
    /// (a lock's adaptive spin asks whether its holder runs).
    ///
    /// A snapshot, not a seqlock read: racing the end of one poll and the
    /// begin of the next, the answer is true of some moment during the
    /// call (an odd `seq` then `task`: if the worker moved on in between,
    /// `task` names the next task, so the answer is "not polling", which
    /// was true by then). Two loads of a line that its worker writes only
    /// at the edges of a poll, so a reader that repeats the question while
    /// the poll runs reads it from its own cache.
    #[inline]
    pub(crate) fn is_polling(&self, task: Id) -> bool {
        // Acquire: pairs with the Release in `begin`, so an odd `seq`
        // comes with its task's id (or a later one).
        self.seq.load(Acquire) % 2 == 1 && self.task.load(Relaxed) == task.as_u64()
    }
}

/// The monitor thread's view of one worker.
#[derive(Clone, Copy)]
struct Watch {
    seq: u32,
    since: Instant,
    reported: bool,
}

/// The monitor's shared half: how workers wake it, how shutdown stops it.
pub(crate) struct Monitor {
    stop: Mutex<bool>,
    cvar: Condvar,
    /// The monitor waits for a worker to unpark (every worker was parked).
    sleeping: AtomicBool,
}

impl Monitor {
    pub(crate) fn new() -> Self {
        Monitor {
            stop: Mutex::new(false),
            cvar: Condvar::new(),
            sleeping: AtomicBool::new(false),
        }
    }

    /// A parked worker was unparked: wake the monitor if it sleeps. Called
    /// after the idle state's RMW that counted the worker unparked.
    pub(crate) fn worker_unparked(&self) {
        // SeqCst: the Dekker pair of the store in `run` (see the module
        // docs).
        if self.sleeping.load(SeqCst) {
            let _stop = self.stop.lock();
            self.cvar.notify_one();
        }
    }

    /// Shutdown: the monitor thread exits.
    pub(crate) fn stop(&self) {
        *self.stop.lock() = true;
        self.cvar.notify_one();
    }
}

/// What the monitor needs from the scheduler.
pub(crate) trait Watched {
    fn monitor(&self) -> &Monitor;
    fn poll_slots(&self) -> impl ExactSizeIterator<Item = &PollSlot> + '_;
    fn all_parked(&self) -> bool;
    /// Worker `index` is stalled: hand its queued tasks and the driver to
    /// idle workers.
    fn help_stalled(&self, index: usize);
}

/// The monitor thread's loop; returns at shutdown.
pub(crate) fn run<W: Watched>(sched: &W, config: &Config) {
    let period = (config.threshold / 2).max(Duration::from_millis(1));
    let now = Instant::now();
    let mut watches: Vec<Watch> = sched
        .poll_slots()
        .map(|_| Watch {
            seq: 0,
            since: now,
            reported: false,
        })
        .collect();
    let monitor = sched.monitor();
    loop {
        {
            let mut stop = monitor.stop.lock();
            if *stop {
                return;
            }
            if sched.all_parked() {
                // Nothing can stall: sleep until a worker unparks. SeqCst:
                // the Dekker pair of `worker_unparked`'s load.
                monitor.sleeping.store(true, SeqCst);
                if sched.all_parked() {
                    condvar_wait(&monitor.cvar, &mut stop, None);
                }
                monitor.sleeping.store(false, SeqCst);
                continue;
            }
            condvar_wait(&monitor.cvar, &mut stop, Some(period));
            if *stop {
                return;
            }
        }
        // Sampled without the lock, which `stop` and `worker_unparked`
        // take.
        sample(sched, config, &mut watches);
    }
}

fn sample<W: Watched>(sched: &W, config: &Config, watches: &mut [Watch]) {
    let now = Instant::now();
    for (index, (slot, watch)) in sched.poll_slots().zip(watches.iter_mut()).enumerate() {
        // Acquire: pairs with the Release in `PollSlot::begin`.
        let seq = slot.seq.load(Acquire);
        if seq % 2 == 0 || seq != watch.seq {
            *watch = Watch {
                seq,
                since: now,
                reported: false,
            };
            continue;
        }
        let stalled_for = now.saturating_duration_since(watch.since);
        if stalled_for < config.threshold {
            continue;
        }
        // Help first: the hook may be slow.
        sched.help_stalled(index);
        if !watch.reported {
            watch.reported = true;
            if let Some(hook) = &config.on_stall {
                let spawned_at = slot.spawned_at.load(Relaxed);
                // SAFETY: the slot only ever holds null or a `&'static
                // Location` stored by `begin`, which `seq` being odd
                // proves happened.
                let spawned_at = unsafe { spawned_at.as_ref() };
                if let (Some(task), Some(spawned_at)) = (Id::from_u64(slot.task.load(Relaxed)), spawned_at) {
                    let report = StallReport {
                        worker: index,
                        task,
                        spawned_at,
                        stalled_for,
                    };
                    crate::contain::run("the on_stall hook", || hook(&report));
                }
            }
        }
    }
}
