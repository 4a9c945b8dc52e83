//! The blocking pool behind [`run_sync`](crate::run_sync): threads for
//! code that blocks (file I/O, CPU-heavy work, a C library), so the
//! workers stay free for async tasks.
//!
//! A job is an ordinary task (same allocation, `JoinHandle`, panic
//! capture) whose future runs the closure in one poll; the pool is its
//! scheduler. Threads start on demand up to `max_blocking_threads`; when
//! all are busy, jobs wait in a FIFO queue. A thread idle for
//! `blocking_keep_alive` exits.
//!
//! Shutdown: queued jobs are cancelled (their handles report `Cancelled`);
//! running jobs cannot be interrupted, so the runtime waits for them up to
//! its shutdown timeout.
//!
//! All pool state is under one mutex: a job costs a lock and a condvar
//! signal, cheap next to the blocking call it wraps.

use crate::context;
use crate::handle::Handle;
use crate::loom::{condvar_wait, Arc, AtomicUsize, Condvar, Mutex, Ordering::*};
use crate::task::owned::OwnedTasks;
use crate::task::{self, Header, Hint, JoinHandle, Notified, Schedule};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Pool settings, from the `Builder`.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) max_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
}

/// The pool; also the `Schedule` of its jobs.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Idle threads wait here for jobs; shutdown waits here for threads.
    condvar: Condvar,
    owned: OwnedTasks,
    config: Config,
    /// Jobs queued or running: while any is, a paused clock must not jump
    /// (the job may be about to wake a task).
    in_flight: AtomicUsize,
}

struct State {
    queue: VecDeque<Notified>,
    threads: usize,
    idle: usize,
    /// Idle threads told to take a job and not yet awake.
    notified: usize,
    shutdown: bool,
    next_thread_id: usize,
}

impl Pool {
    pub(crate) fn new(config: Config) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                    next_thread_id: 0,
                }),
                condvar: Condvar::new(),
                owned: OwnedTasks::new(4),
                config,
                in_flight: AtomicUsize::new(0),
            }),
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Acquire)
    }

    /// Number of pool threads alive (for statistics and tests).
    pub(crate) fn num_threads(&self) -> usize {
        self.inner.state.lock().threads
    }

    #[track_caller]
    pub(crate) fn spawn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let spawned_at = std::panic::Location::caller();
        task::spawn_task(BlockingTask(Some(f)), self, &self.inner.owned, None, spawned_at)
    }

    /// Cancels queued jobs and waits up to `timeout` for running ones.
    /// Returns false if some were still running when it gave up.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        {
            let mut state = self.inner.state.lock();
            state.shutdown = true;
            self.inner.condvar.notify_all();
        }
        self.inner.owned.close_and_shutdown_all();
        let queued = std::mem::take(&mut self.inner.state.lock().queue);
        for task in queued {
            // Cancelled above: only the queue's reference is left to drop.
            self.inner.in_flight.fetch_sub(1, Release);
            drop(task);
        }
        if IS_POOL_THREAD.with(|t| t.get()) {
            // Dropped from inside a job: that job is this thread.
            return false;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.inner.state.lock();
        while state.threads > 0 {
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return false,
                },
            };
            condvar_wait(&self.inner.condvar, &mut state, left);
        }
        true
    }

    fn spawn_thread(&self, state: &mut State) -> io::Result<()> {
        let id = state.next_thread_id;
        let cfg = &self.inner.config;
        // "corral-worker" names workers; the pool's threads are
        // "corral-blocking-N" (or "PREFIX-blocking-N" for a custom prefix).
        let prefix = cfg
            .thread_name
            .strip_suffix("-worker")
            .unwrap_or(&cfg.thread_name);
        let mut b = std::thread::Builder::new().name(format!("{prefix}-blocking-{id}"));
        if let Some(size) = cfg.stack_size {
            b = b.stack_size(size);
        }
        let pool = self.clone();
        let handle = context::current_handle();
        b.spawn(move || pool.run_thread(handle))?;
        state.next_thread_id += 1;
        state.threads += 1;
        Ok(())
    }

    fn run_thread(&self, handle: Option<Handle>) {
        let _enter = handle.map(context::enter_handle);
        IS_POOL_THREAD.with(|t| t.set(true));
        let inner = &*self.inner;
        let mut state = inner.state.lock();
        'outer: loop {
            while let Some(task) = state.queue.pop_front() {
                drop(state);
                task.run();
                if inner.in_flight.fetch_sub(1, AcqRel) == 1 {
                    // The last job in flight is done: a paused clock that
                    // held still for it may jump now. Wake the driver to
                    // look again.
                    context::with_handle(|h| {
                        if let Some(h) = h {
                            h.driver().unpark();
                        }
                    });
                }
                state = inner.state.lock();
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            loop {
                let waited = Instant::now();
                condvar_wait(&inner.condvar, &mut state, Some(inner.config.keep_alive));
                if state.notified > 0 {
                    // Told to take a job (the notifier took us off `idle`).
                    state.notified -= 1;
                    continue 'outer;
                }
                if state.shutdown {
                    state.idle -= 1;
                    break 'outer;
                }
                if waited.elapsed() >= inner.config.keep_alive {
                    state.idle -= 1;
                    break 'outer;
                }
                // Spurious wake-up: keep waiting.
            }
        }
        state.threads -= 1;
        if state.shutdown && state.threads == 0 {
            inner.condvar.notify_all();
        }
    }
}

std::thread_local! {
    static IS_POOL_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Schedule for Pool {
    fn schedule(&self, task: Notified, _hint: Hint) {
        let inner = &*self.inner;
        let mut state = inner.state.lock();
        if state.shutdown {
            // The owned list cancels it; only the queue reference drops.
            return;
        }
        inner.in_flight.fetch_add(1, Release);
        state.queue.push_back(task);
        if state.idle > 0 {
            state.idle -= 1;
            state.notified += 1;
            inner.condvar.notify_one();
        } else if state.threads < inner.config.max_threads {
            if let Err(e) = self.spawn_thread(&mut state) {
                // No thread for it now: the job stays queued and runs when
                // a pool thread frees up. With no thread at all, it would
                // wait forever: say so.
                if state.threads == 0 {
                    eprintln!("corral: could not start a blocking-pool thread: {e}");
                }
            }
        }
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        self.inner.owned.remove(task)
    }
}

/// A closure run as a task: completes in its first poll.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self.0.take().expect("blocking task polled after it finished");
        Poll::Ready(f())
    }
}
