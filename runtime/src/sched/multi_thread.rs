//! The multi-thread work-stealing scheduler.
//!
//! Pieces:
//! - `Shared` (one per runtime, the tasks' `Schedule`): the global injector
//!   for work from outside the workers, each worker's stealer and
//!   unparker, idle tracking (`idle.rs`), the owned-task list, and the
//!   shutdown flag. A batch of wakes from outside (`Hint::Batch`: an
//!   `Event` set from `block_on`) is signalled once per batch, or per run
//!   of chunks (`WakeBatch::wake_in_chunks`), at `flush_batch`, and unparks one worker per `REMOTE_TASKS_PER_WORKER`
//!   tasks at once (`REMOTE_BATCH`, `signal_remote_batch`).
//! - `Worker` (one per worker thread, on that thread's stack): the local
//!   FIFO queue (crossbeam-deque), the LIFO slot, and the search state. The
//!   thread context points at it while the worker runs, so a wake from a
//!   task running here lands in the local queue without any lock.
//!
//! The worker loop, each tick:
//! 1. every `GLOBAL_QUEUE_INTERVAL` ticks, poll the driver without
//!    blocking (ready I/O, due timers) and take from the injector first, so
//!    neither is starved by local work;
//! 2. else the LIFO slot, the local queue, then the injector;
//! 3. else become a searcher (at most half the workers at once) and steal
//!    half the queue of the first non-empty worker, visiting them from a
//!    random start;
//! 4. else park: in the driver if no other worker is in it, else on the
//!    worker's condvar (`park.rs`; `idle.rs` for the no-lost-wakeup
//!    protocol).
//!
//! Running a task may fill the LIFO slot (`lifo.rs`: a task woken or
//! spawned by the one that just ran — a message's receiver, a lock's next
//! holder, a helper it will wait for): it runs next, while caches are
//! warm, but at most `MAX_LIFO_POLLS` times in a row so that two tasks
//! waking each other cannot starve the queue (the next goes to the back of
//! the local queue, with a signal to an idle worker only if other tasks
//! were queued there: alone, it is simply this worker's next pop). A
//! searching worker that finds a victim's queue empty takes its LIFO task;
//! but a single wake into an empty slot (or a spill into an empty queue)
//! signals nobody, so if the owner then blocks in a poll the task waits
//! until some worker happens to search. The stall monitor
//! (`monitor.rs`) closes that gap: it sees a worker stuck in one poll for
//! `stall_threshold` (10 ms by default), signals an idle worker to steal
//! the stuck worker's LIFO slot and queue, and if nobody is left in the
//! driver, wakes a condvar sleeper so that it re-parks in the driver and
//! timers and I/O keep firing. Each poll publishes its task in the
//! worker's `PollSlot` for this (`run_one`).
//!
//! A worker does not die: task polls are caught in the task harness, the
//! driver turn in `park.rs`, and anything else that unwinds out of the
//! loop is caught in `Worker::run`, which puts the worker's idle
//! bookkeeping right (`recover`) and resumes the loop.
//!
//! Shutdown: `shutdown` is set and every worker unparked; each worker
//! finishes the task it is running (with at most the LIFO-slot tasks that
//! follow it), drops its queued references and exits. The last worker to
//! exit then cancels every task through the owned list and empties the
//! injector (`worker_exited`), so no future is dropped while a worker may
//! still be polling it. A wake that reaches the injector after that (a foreign thread
//! holding a waker) sees `shutdown` after its push and empties the injector
//! itself, so no task is kept alive by a queue nobody runs.

use super::idle::Idle;
use super::lifo::LifoSlot;
use super::monitor::{Monitor, PollSlot, Watched};
use super::park::{Parker, SharedDriver, Unparker};
use super::SchedRef;
use crate::context;
use crate::driver;
use crate::loom::{condvar_wait, fence, Arc, AtomicBool, Condvar, Mutex, Ordering::SeqCst};
use crate::task::owned::OwnedTasks;
use crate::task::{Header, Hint, Notified, Schedule};
use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
use std::cell::Cell;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// Ticks between forced looks at the injector (a prime, as tokio's, so it
/// does not fall into step with other periodic work).
const GLOBAL_QUEUE_INTERVAL: u32 = 61;
/// LIFO-slot tasks run in a row before the slot's task goes to the queue.
const MAX_LIFO_POLLS: u32 = 3;
/// Most tasks moved from the injector to a local queue in one visit.
const MAX_INJECT_BATCH: usize = 256;
/// A batch of wakes from outside the workers unparks one idle worker per
/// this many tasks (`Shared::signal_remote_batch`): a full `WakeBatch`
/// (32) wakes two.
const REMOTE_TASKS_PER_WORKER: usize = 16;
/// At most this many workers unparked at once by one remote batch (a
/// `WakeBatch` holds 32 tasks: two).
const MAX_REMOTE_UNPARKS: usize = 4;

pub(crate) struct Shared {
    remotes: Box<[Remote]>,
    injector: Injector<Notified>,
    idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) driver: driver::Handle,
    shutdown: AtomicBool,
    /// Worker threads still running; the last to exit finishes shutdown.
    alive: Mutex<usize>,
    all_exited: Condvar,
    /// The stall monitor's shared half (`monitor.rs`).
    monitor: Monitor,
    /// The driver every parker shares: the monitor checks whether anyone
    /// holds it.
    shared_driver: Arc<SharedDriver>,
    /// Idle-worker signals sent (`notify_parked` calls), for unit tests.
    #[cfg(all(test, not(loom)))]
    signals: std::sync::atomic::AtomicUsize,
    /// Which worker each idle-worker unpark woke, and which thread sent
    /// it, for unit tests.
    #[cfg(all(test, not(loom)))]
    unparked_by: std::sync::Mutex<Vec<(usize, std::thread::ThreadId)>>,
}

struct Remote {
    stealer: Stealer<Notified>,
    lifo: LifoSlot,
    unparker: Unparker,
    /// What the worker polls right now, for the monitor.
    poll: PollSlot,
}

/// What a worker thread takes with it.
pub(crate) struct WorkerParts {
    index: usize,
    deque: Deque<Notified>,
    parker: Parker,
}

impl Shared {
    /// Creates the shared state and the parts for each worker thread.
    pub(crate) fn new(
        num_workers: usize,
        driver: driver::Driver,
        driver_handle: driver::Handle,
    ) -> (Arc<Shared>, Vec<WorkerParts>) {
        let shared_driver = SharedDriver::new(driver, driver_handle.clone(), false);
        let mut remotes = Vec::with_capacity(num_workers);
        let mut parts = Vec::with_capacity(num_workers);
        for index in 0..num_workers {
            let deque = Deque::new_fifo();
            let parker = Parker::with_driver(shared_driver.clone());
            remotes.push(Remote {
                stealer: deque.stealer(),
                lifo: LifoSlot::new(),
                unparker: parker.unparker(),
                poll: PollSlot::new(),
            });
            parts.push(WorkerParts { index, deque, parker });
        }
        let shared = Arc::new(Shared {
            remotes: remotes.into_boxed_slice(),
            injector: Injector::new(),
            idle: Idle::new(num_workers),
            owned: OwnedTasks::new(num_workers),
            driver: driver_handle,
            shutdown: AtomicBool::new(false),
            alive: Mutex::new(num_workers),
            all_exited: Condvar::new(),
            monitor: Monitor::new(),
            shared_driver,
            #[cfg(all(test, not(loom)))]
            signals: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(all(test, not(loom)))]
            unparked_by: std::sync::Mutex::new(Vec::new()),
        });
        (shared, parts)
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    fn is_shutdown(&self) -> bool {
        self.shutdown.load(SeqCst)
    }

    fn schedule_remote(&self, task: Notified) {
        self.injector.push(task);
        self.signal_remote_push();
    }

    /// After tasks were pushed to the injector: wake a parked worker if
    /// none is searching (or drain the injector if the runtime shut down).
    fn signal_remote_push(&self) {
        // Pairs with the fence in `shutdown`: either we see the flag, or
        // the shutdown drain sees our task. It is also the producer's fence
        // of the idle protocol (`idle.rs`), issued again in `should_wake`.
        fence(SeqCst);
        if self.is_shutdown() {
            self.drain_injector();
            return;
        }
        self.notify_parked();
    }

    fn notify_parked(&self) {
        self.count_signal();
        if let Some(index) = self.idle.worker_to_notify() {
            self.unpark_worker(index);
        }
    }

    /// Counts an idle-worker signal, for unit tests (nothing otherwise).
    #[inline(always)]
    fn count_signal(&self) {
        #[cfg(all(test, not(loom)))]
        {
            self.signals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tests::SIGNALS_HERE.with(|n| n.set(n.get() + 1));
        }
    }

    fn notify_if_work_pending(&self) {
        // LIFO slots count: a searcher may steal from them, so a task put in
        // one after the last searcher looked must not be left for nobody.
        let pending = !self.injector.is_empty()
            || self
                .remotes
                .iter()
                .any(|r| !r.stealer.is_empty() || !r.lifo.is_empty());
        if pending {
            self.notify_parked();
        }
    }

    fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                // Shutting down: the owned list cancels the task; this
                // only releases the queue's reference.
                Steal::Success(task) => drop(task),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
    }

    /// Step one of shutdown: stop the workers (they exit after their
    /// current poll).
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, SeqCst);
        self.monitor.stop();
        for remote in self.remotes.iter() {
            remote.unparker.unpark();
        }
    }

    /// Called by each worker thread as it exits (even by unwinding). The
    /// last one finishes shutdown, so that tasks are cancelled only once no
    /// worker can be polling them.
    pub(crate) fn worker_exited(&self) {
        let last = {
            let mut alive = self.alive.lock();
            *alive -= 1;
            *alive == 0
        };
        if last {
            self.finish_shutdown();
            let _alive = self.alive.lock();
            self.all_exited.notify_all();
        }
    }

    /// Waits until every worker has exited and shutdown has finished.
    /// False if `timeout` passed first.
    pub(crate) fn wait_for_workers(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut alive = self.alive.lock();
        while *alive > 0 {
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return false,
                },
            };
            condvar_wait(&self.all_exited, &mut alive, left);
        }
        true
    }

    /// True if the current thread is one of this runtime's workers.
    pub(crate) fn is_current_worker(&self) -> bool {
        match context::scheduler() {
            // SAFETY: see `Schedule::schedule` below.
            SchedRef::MultiThread(w) => std::ptr::eq(unsafe { &*w }.shared, self),
            _ => false,
        }
    }

    /// Step two, run by the last worker to exit: cancel every task and
    /// empty the injector.
    fn finish_shutdown(&self) {
        self.owned.close_and_shutdown_all();
        // Tasks of other runtimes (or threads) waiting on our sockets get
        // an error instead of waiting forever.
        self.driver.shutdown();
        // Pairs with the fence in `schedule_remote`.
        fence(SeqCst);
        self.drain_injector();
    }
}

impl Watched for Shared {
    fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    fn poll_slots(&self) -> impl ExactSizeIterator<Item = &PollSlot> {
        self.remotes.iter().map(|r| &r.poll)
    }

    fn all_parked(&self) -> bool {
        self.idle.all_parked()
    }

    fn help_stalled(&self, index: usize) {
        let stalled = &self.remotes[index];
        // Its LIFO task or queue would wait for the poll to end: signal an
        // idle worker, which steals them (`steal`).
        if !stalled.lifo.is_empty() || !stalled.stealer.is_empty() {
            self.notify_parked();
        }
        // Nobody in the driver: timers and I/O go unwatched while the
        // stalled worker (which likely left the driver to run this task)
        // is stuck. A condvar sleeper woken without work parks again, in
        // the driver this time (`Worker::park`).
        if !self.shared_driver.is_held() {
            if let Some(sleeper) = self.idle.a_sleeper() {
                self.remotes[sleeper].unparker.unpark();
            }
        }
    }
}

/// A remote batch (`Hint::Batch` wakes pushed to the injector from a thread
/// that is not one of the runtime's workers): the runtime, as a pointer
/// from `Arc::into_raw` (the batch owns that reference; null: no batch),
/// and how many tasks it got since the last flush. Plain data, so the
/// thread-local needs no destructor and every access is a bare load.
type RemoteBatch = Cell<(*const Shared, usize)>;

#[cfg(not(loom))]
std::thread_local! {
    /// This thread's pending remote batch, signalled at `flush_batch`: one
    /// SeqCst fence and one round of unparks per batch, not one per task.
    static REMOTE_BATCH: RemoteBatch = const { Cell::new((std::ptr::null(), 0)) };
}

#[cfg(loom)]
loom::thread_local! {
    /// See the non-loom declaration.
    static REMOTE_BATCH: RemoteBatch = Cell::new((std::ptr::null(), 0));
}

/// Ends a run of `Hint::Batch` wakes on a thread that is not a worker of
/// the woken tasks' runtime: signal that runtime once (see `REMOTE_BATCH`).
pub(crate) fn flush_remote_batch() {
    let (shared, tasks) = REMOTE_BATCH.with(|slot| slot.replace((std::ptr::null(), 0)));
    if !shared.is_null() {
        // SAFETY: a non-null pointer in the slot came from `Arc::into_raw`
        // and its reference is the slot's; taken out of the slot, it is
        // ours to release, once.
        let shared = unsafe { Arc::from_raw(shared) };
        shared.signal_remote_batch(tasks);
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified, hint: Hint) {
        if let SchedRef::MultiThread(worker) = context::scheduler() {
            // SAFETY: the context points at a live Worker only while that
            // worker runs on this very thread (see `Worker::run`).
            let worker = unsafe { &*worker };
            if std::ptr::eq(worker.shared, &**self) {
                worker.schedule_local(task, hint);
                return;
            }
        }
        if hint == Hint::Batch {
            Shared::schedule_remote_batched(self, task);
        } else {
            self.schedule_remote(task);
        }
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        self.owned.remove(task)
    }
}

impl Shared {
    /// A `Hint::Batch` wake from outside the workers: into the injector,
    /// with the signal left to `flush_remote_batch` at the end of the
    /// batch. A batch that also wakes tasks of another runtime signals
    /// that one at once when its turn comes, so each is signalled after
    /// its last push.
    fn schedule_remote_batched(this: &Arc<Self>, task: Notified) {
        this.injector.push(task);
        REMOTE_BATCH.with(|slot| {
            let (pending, tasks) = slot.get();
            if std::ptr::eq(pending, Arc::as_ptr(this)) {
                slot.set((pending, tasks + 1));
                return;
            }
            slot.set((Arc::into_raw(this.clone()), 1));
            if !pending.is_null() {
                // SAFETY: as in `flush_remote_batch`: the slot's reference,
                // replaced above, is ours to release.
                let other = unsafe { Arc::from_raw(pending) };
                other.signal_remote_batch(tasks);
            }
        });
    }

    /// The end of a remote batch of `tasks` wakes: as `signal_remote_push`,
    /// but if the batch is large enough to keep more than one worker busy
    /// (`REMOTE_TASKS_PER_WORKER` each), unpark that many parked workers
    /// at once rather than one that wakes the next when it finds the work:
    /// every link of that chain is a thread wake-up latency.
    fn signal_remote_batch(&self, tasks: usize) {
        // As in `signal_remote_push`.
        fence(SeqCst);
        if self.is_shutdown() {
            self.drain_injector();
            return;
        }
        self.count_signal();
        let wanted = tasks
            .div_ceil(REMOTE_TASKS_PER_WORKER)
            .clamp(1, MAX_REMOTE_UNPARKS)
            .min(self.num_workers());
        let mut woken = [0; MAX_REMOTE_UNPARKS];
        let n = self.idle.workers_to_notify(&mut woken[..wanted]);
        for &index in &woken[..n] {
            self.unpark_worker(index);
        }
    }

    fn unpark_worker(&self, index: usize) {
        #[cfg(all(test, not(loom)))]
        self.unparked_by
            .lock()
            .unwrap()
            .push((index, std::thread::current().id()));
        self.remotes[index].unparker.unpark();
        self.monitor.worker_unparked();
    }
}

/// A worker thread's own state. Only its thread touches it.
pub(crate) struct Worker {
    shared: *const Shared,
    index: usize,
    deque: Deque<Notified>,
    searching: Cell<bool>,
    /// Between `transition_worker_to_parked` and the end of `park`: what
    /// `recover` must undo.
    parked: Cell<bool>,
    batch_pending: Cell<bool>,
    tick: Cell<u32>,
    rng: Cell<u32>,
    /// This worker's `PollSlot` (in `shared.remotes`, which outlives the
    /// worker) and its copy of the slot's sequence number.
    poll_slot: *const PollSlot,
    poll_seq: Cell<u32>,
    parker: Parker,
}

impl Worker {
    /// Runs the worker loop on the current thread until shutdown.
    pub(crate) fn run(shared: &Arc<Shared>, parts: WorkerParts) {
        let worker = Worker {
            shared: Arc::as_ptr(shared),
            index: parts.index,
            deque: parts.deque,
            searching: Cell::new(false),
            parked: Cell::new(false),
            batch_pending: Cell::new(false),
            tick: Cell::new(0),
            rng: Cell::new(0x9E37_79B9 ^ (parts.index as u32).wrapping_mul(0x85EB_CA6B) | 1),
            poll_slot: &shared.remotes[parts.index].poll,
            poll_seq: Cell::new(0),
            parker: parts.parker,
        };
        let _sched = context::enter_scheduler(SchedRef::MultiThread(&worker));
        // Nothing should unwind out of the loop (task polls and driver
        // turns contain their panics); if something still does, a dead
        // worker would be left counted in the idle state and the runtime
        // would stall. Put the bookkeeping right and carry on instead.
        while crate::contain::run("a worker's scheduling loop", || worker.run_loop()).is_none() {
            worker.recover();
        }
        worker.drain_local();
    }

    /// After a panic escaped `run_loop`: leave the idle state as a worker
    /// that is awake and not searching, so the signal protocol (`idle.rs`)
    /// stays exact, and clear the poll slot.
    fn recover(&self) {
        let shared = self.shared();
        if self.parked.replace(false) && !shared.idle.unpark_worker_by_id(self.index) {
            // A notifier already took us off the sleepers and counted us
            // as searching.
            self.searching.set(true);
        }
        if self.searching.replace(false) && shared.idle.transition_worker_from_searching() {
            shared.notify_parked();
        }
        let seq = self.poll_seq.get();
        if seq % 2 == 1 {
            self.poll_seq.set(seq.wrapping_add(1));
            shared.remotes[self.index].poll.end(seq.wrapping_add(1));
        }
    }

    fn shared(&self) -> &Shared {
        // SAFETY: `run` borrows the Arc for the worker's whole life.
        unsafe { &*self.shared }
    }

    /// Whether a worker of this runtime other than this one is polling
    /// `task` right now (`PollSlot::is_polling`; false on a one-worker
    /// runtime).
    pub(crate) fn polled_elsewhere(&self, task: crate::task::Id) -> bool {
        let remotes = &self.shared().remotes;
        remotes
            .iter()
            .enumerate()
            .any(|(index, remote)| index != self.index && remote.poll.is_polling(task))
    }

    fn lifo(&self) -> &LifoSlot {
        &self.shared().remotes[self.index].lifo
    }

    fn run_loop(&self) {
        while !self.shared().is_shutdown() {
            let tick = self.tick.get().wrapping_add(1);
            self.tick.set(tick);
            if tick % GLOBAL_QUEUE_INTERVAL == 0 {
                // Busy for a while: let ready I/O and due timers in.
                self.parker.poll_driver();
            }
            if let Some(task) = self.next_task(tick).or_else(|| self.steal()) {
                self.run_task(task);
            } else {
                self.park();
            }
        }
    }

    fn next_task(&self, tick: u32) -> Option<Notified> {
        if tick % GLOBAL_QUEUE_INTERVAL == 0 {
            if let Some(task) = self.pop_injector() {
                return Some(task);
            }
        }
        self.lifo()
            .take()
            .or_else(|| self.deque.pop())
            .or_else(|| self.pop_injector())
    }

    /// Takes a task from the injector, and moves this worker's fair share
    /// of the rest (queued / workers, at most `MAX_INJECT_BATCH`) into the
    /// local queue, so a burst of remote spawns is not drained one small
    /// batch per `GLOBAL_QUEUE_INTERVAL` while local work keeps the worker
    /// busy.
    fn pop_injector(&self) -> Option<Notified> {
        let injector = &self.shared().injector;
        let want = (injector.len() / self.shared().num_workers() + 1).min(MAX_INJECT_BATCH);
        let first = loop {
            match injector.steal_batch_with_limit_and_pop(&self.deque, want) {
                Steal::Success(task) => break task,
                Steal::Empty => return None,
                Steal::Retry => crate::loom::spin_loop(),
            }
        };
        // Each steal takes at most one injector block (63 tasks). Other
        // workers may steal from our deque meanwhile, so its length only
        // estimates what arrived: count at least one per successful steal
        // and bound the rounds.
        let mut moved = 1;
        let mut rounds = want / 32 + 1;
        while moved < want && rounds > 0 {
            rounds -= 1;
            let before = self.deque.len();
            match injector.steal_batch_with_limit(&self.deque, want - moved) {
                Steal::Success(()) => moved += self.deque.len().saturating_sub(before).max(1),
                Steal::Empty => break,
                Steal::Retry => crate::loom::spin_loop(),
            }
        }
        Some(first)
    }

    fn steal(&self) -> Option<Notified> {
        let shared = self.shared();
        if !self.searching.get() {
            if !shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.searching.set(true);
        }
        let n = shared.remotes.len();
        let start = self.next_rand() as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index {
                continue;
            }
            loop {
                match shared.remotes[victim].stealer.steal_batch_and_pop(&self.deque) {
                    Steal::Success(task) => return Some(task),
                    Steal::Empty => break,
                    Steal::Retry => crate::loom::spin_loop(),
                }
            }
            // Its queue is empty; if it still has a task in its LIFO slot,
            // it is busy with another (perhaps blocking): take that one.
            if let Some(task) = shared.remotes[victim].lifo.take() {
                return Some(task);
            }
        }
        self.pop_injector()
    }

    fn run_task(&self, task: Notified) {
        if self.searching.replace(false) && self.shared().idle.transition_worker_from_searching() {
            // We were the last searcher: someone else should look for
            // whatever else is pending.
            self.shared().notify_parked();
        }
        self.run_one(task);
        let mut lifo_polls = 0;
        while let Some(task) = self.lifo().take() {
            if lifo_polls == MAX_LIFO_POLLS {
                // Other queued work goes first now; signal an idle worker
                // only if there is some (it may take that, or this task).
                // Alone in the queue, this task is what we pop next: a
                // signal would cost a SeqCst fence (and at times a futex or
                // eventfd wake) every few polls of a ping-pong, for a
                // worker that would find nothing to steal.
                let others = !self.deque.is_empty();
                self.deque.push(task);
                if others {
                    self.shared().notify_parked();
                }
                break;
            }
            lifo_polls += 1;
            self.run_one(task);
        }
    }

    /// Polls one task, published in this worker's `PollSlot` for the stall
    /// monitor while it runs.
    #[inline]
    fn run_one(&self, task: Notified) {
        // SAFETY: `poll_slot` points into `shared.remotes`, which the
        // worker's borrow of `shared` keeps alive (see `run`).
        let slot = unsafe { &*self.poll_slot };
        let seq = self.poll_seq.get().wrapping_add(1);
        let header = task.header();
        slot.begin(seq, header.id, header.spawned_at);
        // Odd while the poll runs: `recover` closes it if the poll unwinds
        // (it cannot: the harness catches panics).
        self.poll_seq.set(seq);
        task.run();
        let seq = seq.wrapping_add(1);
        self.poll_seq.set(seq);
        slot.end(seq);
    }

    fn schedule_local(&self, task: Notified, hint: Hint) {
        match hint {
            Hint::Lifo => {
                if let Some(prev) = self.lifo().replace(task) {
                    self.deque.push(prev);
                    self.shared().notify_parked();
                }
            }
            Hint::Spawn => {
                if let Some(prev) = self.lifo().replace(task) {
                    self.deque.push(prev);
                }
                self.shared().notify_parked();
            }
            Hint::Fifo => {
                self.deque.push(task);
                self.shared().notify_parked();
            }
            Hint::Batch => {
                self.deque.push(task);
                self.batch_pending.set(true);
            }
        }
    }

    /// After a batch of `Hint::Batch` wakes: signal one idle worker.
    pub(crate) fn flush_batch(&self) {
        if self.batch_pending.replace(false) {
            self.shared().notify_parked();
        }
    }

    fn park(&self) {
        let shared = self.shared();
        let last_searcher = shared
            .idle
            .transition_worker_to_parked(self.index, self.searching.replace(false));
        self.parked.set(true);
        if last_searcher {
            shared.notify_if_work_pending();
        }
        while !shared.is_shutdown() {
            self.parker.park(None);
            if self.has_local_work() {
                // The driver woke tasks while we slept in it (I/O, timers):
                // they are in our own queue, so we are not idle any more.
                // If a notifier already took us off the sleepers, it also
                // counted us as searching.
                let unparked_self = shared.idle.unpark_worker_by_id(self.index);
                self.parked.set(false);
                self.searching.set(!unparked_self);
                if unparked_self {
                    shared.monitor.worker_unparked();
                }
                if self.deque.len() > 1 {
                    shared.notify_parked();
                }
                return;
            }
            if shared.idle.transition_worker_from_parked(self.index) {
                // Unparked for work: counted as searching by the notifier.
                self.parked.set(false);
                self.searching.set(true);
                return;
            }
        }
    }

    fn has_local_work(&self) -> bool {
        !self.lifo().is_empty() || !self.deque.is_empty()
    }

    fn drain_local(&self) {
        // Shutting down: the owned list cancels these tasks; dropping the
        // queue entries only releases their references.
        drop(self.lifo().take());
        while let Some(task) = self.deque.pop() {
            drop(task);
        }
    }

    /// xorshift32: cheap victim choice.
    fn next_rand(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::handle::Scheduler;
    use std::cell::Cell;

    std::thread_local! {
        /// Idle-worker signals sent by this thread (`count_signal`).
        pub(super) static SIGNALS_HERE: Cell<usize> = const { Cell::new(0) };
    }

    use std::future::poll_fn;
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::{Arc, Mutex};
    use std::task::{Poll, Waker};

    /// A one-slot turn passed between two tasks through plain `Waker`s
    /// (a wake from a task goes to its worker's LIFO slot, as the wait
    /// hook's does).
    #[derive(Default)]
    struct Turn(Mutex<(bool, Option<Waker>)>);

    impl Turn {
        fn give(&self) {
            let waker = {
                let mut st = self.0.lock().unwrap();
                st.0 = true;
                st.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }

        async fn take(&self) {
            poll_fn(|cx| {
                let mut st = self.0.lock().unwrap();
                if std::mem::take(&mut st.0) {
                    Poll::Ready(())
                } else {
                    st.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await
        }
    }

    /// Tasks parked on one wait list, all woken at once (`open_all`, in
    /// `WakeBatch` chunks) — a minimal `Event`.
    #[derive(Default)]
    struct Gate(Mutex<crate::wait::WaitList<()>>);

    impl Gate {
        fn open_all(&self) {
            crate::wait::WakeBatch::wake_in_chunks(
                || self.0.lock().unwrap(),
                |list, batch| list.wake_all(batch),
            );
        }

        fn len(&self) -> usize {
            self.0.lock().unwrap().len()
        }

        async fn pass(&self) {
            let node = std::pin::pin!(crate::wait::WaitNode::new(()));
            let node = node.as_ref();
            poll_fn(|cx| {
                if node.take_notified() {
                    return Poll::Ready(());
                }
                if !node.is_queued() {
                    // SAFETY: the node is in no list, goes only into this
                    // one under its lock, and the tests open the gate
                    // (which unlinks every node) before dropping a pass.
                    unsafe { self.0.lock().unwrap().push_back(node, cx) };
                }
                Poll::Pending
            })
            .await
        }
    }

    fn two_workers() -> (crate::Runtime, Arc<super::Shared>) {
        let rt = crate::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let Scheduler::MultiThread(shared) = rt.handle().scheduler.clone() else {
            unreachable!("a multi-thread runtime")
        };
        (rt, shared)
    }

    /// Spawns `n` tasks that wait on a new gate, and returns once they all
    /// wait and both workers are parked.
    fn parked_waiters(
        rt: &crate::Runtime,
        shared: &super::Shared,
        n: usize,
    ) -> (Arc<Gate>, Vec<crate::task::JoinHandle<()>>) {
        let gate = Arc::new(Gate::default());
        let tasks = rt.block_on(async {
            (0..n)
                .map(|_| {
                    let gate = gate.clone();
                    crate::spawn(async move { gate.pass().await })
                })
                .collect()
        });
        while gate.len() < n || !shared.idle.all_parked() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        (gate, tasks)
    }

    /// A batch of wakes from a thread that is not a worker (an `Event` set
    /// from `block_on`) goes through the injector. The setter used to
    /// signal the idle workers once per task (a SeqCst fence, a load of the
    /// idle state, at times an unpark); then once per `WakeBatch` chunk, now
    /// once per run of chunks (the next test).
    #[test]
    fn a_batch_wake_from_outside_signals_once_per_chunk() {
        const TASKS: usize = 256;
        let (rt, shared) = two_workers();
        let (gate, tasks) = parked_waiters(&rt, &shared, TASKS);
        let before = SIGNALS_HERE.with(Cell::get);
        gate.open_all();
        let signals = SIGNALS_HERE.with(Cell::get) - before;
        rt.block_on(async {
            for t in tasks {
                t.await.unwrap();
            }
        });
        // 8 chunks of 32 (the workers' own signals are not counted).
        assert!(
            signals <= TASKS / crate::wait::WakeBatch::CAPACITY,
            "{signals} idle-worker signals for a batch wake of {TASKS} tasks from outside"
        );
    }

    /// A batch wake from outside that takes several chunks signals the
    /// idle workers once, after the last chunk (and once per
    /// `SIGNAL_EVERY` chunks of a longer run), not once per chunk. Each
    /// per-chunk signal woke a parked worker that ran the chunk before the
    /// setter had filled the next, found nothing and parked again, to be
    /// woken by the next signal: on two cores a 1,000-waiter `Event` set
    /// from `block_on` spent about 14 µs per chunk in that round trip (32
    /// signals, 450 µs, against 130 µs with one).
    #[test]
    fn a_batch_wake_from_outside_signals_once_per_run_of_chunks() {
        use crate::wait::WakeBatch;
        let (rt, shared) = two_workers();
        let long = WakeBatch::CAPACITY * WakeBatch::SIGNAL_EVERY * 2 + 1;
        // 1,000 tasks: 32 chunks, one run. `long`: two full runs and one
        // chunk of one.
        for (tasks, expected) in [(1000, 1), (long, 3)] {
            let (gate, handles) = parked_waiters(&rt, &shared, tasks);
            let before = SIGNALS_HERE.with(Cell::get);
            gate.open_all();
            let signals = SIGNALS_HERE.with(Cell::get) - before;
            rt.block_on(async {
                for t in handles {
                    t.await.unwrap();
                }
            });
            assert_eq!(
                signals, expected,
                "idle-worker signals for a batch wake of {tasks} tasks from outside"
            );
        }
    }

    /// A run of chunks cut short by a panic (here in the primitive's
    /// `fill`) still signals for the chunks it woke: their tasks sit in
    /// the injector, and with every worker parked nobody else would look.
    #[test]
    fn a_run_of_chunks_cut_short_by_a_panic_still_signals() {
        use crate::wait::WakeBatch;
        let (rt, shared) = two_workers();
        let (gate, handles) = parked_waiters(&rt, &shared, 3 * WakeBatch::CAPACITY);
        let before = SIGNALS_HERE.with(Cell::get);
        let mut rounds = 0;
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            WakeBatch::wake_in_chunks(
                || gate.0.lock().unwrap_or_else(|e| e.into_inner()),
                |list, batch| {
                    rounds += 1;
                    if rounds == 3 {
                        panic!("primitive bug");
                    }
                    list.wake_all(batch)
                },
            )
        }));
        let signals = SIGNALS_HERE.with(Cell::get) - before;
        gate.0.clear_poison();
        let woken = handles.len() - gate.len();
        // The third chunk's waiters are still queued: let them through
        // (before any assertion, so that no task is dropped waiting).
        gate.open_all();
        rt.block_on(async {
            for t in handles {
                t.await.unwrap();
            }
        });
        assert!(res.is_err(), "the panic reaches the caller");
        assert_eq!(woken, 2 * WakeBatch::CAPACITY, "chunks woken before the panic");
        assert_eq!(signals, 1, "signals for the cut-short run");
    }

    /// A batch of wakes from outside that is enough work for both workers
    /// unparks both at once. It used to unpark one, which (as the last
    /// searcher, once it found the work) unparked the other: two thread
    /// wake-up latencies in a row before both ran. (The old code, racing
    /// its own pushes against the first worker's wake-up, now and then
    /// unparked both from the setter: hence several rounds. The new one
    /// takes both off the sleepers under one lock, so the first cannot
    /// wake the second before the setter does.)
    #[test]
    fn a_large_batch_wake_from_outside_unparks_both_parked_workers() {
        const TASKS: usize = 32;
        let (rt, shared) = two_workers();
        let me = std::thread::current().id();
        for round in 0..10 {
            let (gate, tasks) = parked_waiters(&rt, &shared, TASKS);
            shared.unparked_by.lock().unwrap().clear();
            gate.open_all();
            let mut by_me: Vec<usize> = shared
                .unparked_by
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, by)| *by == me)
                .map(|(index, _)| *index)
                .collect();
            rt.block_on(async {
                for t in tasks {
                    t.await.unwrap();
                }
            });
            by_me.sort_unstable();
            assert_eq!(
                by_me,
                [0, 1],
                "the workers the setting thread unparked, round {round}"
            );
        }
    }

    /// Two tasks handing a turn back and forth run from the LIFO slot; every
    /// `MAX_LIFO_POLLS` polls the slot's task goes to the queue instead.
    /// With nothing else queued, that task is the worker's next pop: a
    /// signal to an idle worker then costs a SeqCst fence and, when that
    /// worker is parked, a wake-up syscall for a worker that finds nothing
    /// (or steals the ping-pong, moving it between cores). It used to be
    /// sent on every such spill: about one per two round trips.
    #[test]
    fn a_ping_pong_does_not_signal_idle_workers_every_few_polls() {
        const TRIPS: usize = 10_000;
        let (rt, shared) = two_workers();
        let before = shared.signals.load(Relaxed);
        rt.block_on(async {
            let (ping, pong) = (Arc::new(Turn::default()), Arc::new(Turn::default()));
            let (pi, po) = (ping.clone(), pong.clone());
            let ponger = crate::spawn(async move {
                for _ in 0..TRIPS {
                    pi.take().await;
                    po.give();
                }
            });
            let pinger = crate::spawn(async move {
                for _ in 0..TRIPS {
                    ping.give();
                    pong.take().await;
                }
            });
            pinger.await.unwrap();
            ponger.await.unwrap();
        });
        let signals = shared.signals.load(Relaxed) - before;
        assert!(
            signals < TRIPS / 20,
            "{signals} idle-worker signals for {TRIPS} round trips of two tasks"
        );
    }
}
