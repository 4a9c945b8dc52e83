//! The current-thread scheduler: every task runs on the thread that calls
//! `block_on`.
//!
//! - `Shared` (the tasks' `Schedule`): the injection queue for wakes and
//!   spawns from other threads (closed at shutdown), the owned-task list,
//!   the driver's unparker, and the `Core` while no one drives it.
//! - `Core`: the local run queue. `block_on` takes it out of `Shared` for
//!   as long as it runs (a panic puts it back), and the thread context
//!   points at it so wakes from the running tasks skip the lock.
//!
//! Only one `block_on` drives the tasks at a time; a concurrent `block_on`
//! on another thread polls its own future and takes the core over when the
//! first returns.
//!
//! The loop:
//!
//! 1. Poll the `block_on` future if its waker fired, with a task's
//!    cooperative budget (so an always-ready loop in it gives way after
//!    `coop::BUDGET` operations, as a task's would).
//! 2. Run up to `EVENT_INTERVAL` tasks (the injection queue first every
//!    `INJECT_INTERVAL` ticks, so remote wakes are never starved).
//! 3. If nothing ran and the future was not woken, park in the driver.
//!    Otherwise poll the driver without blocking when the future woke
//!    itself during its poll (a `yield_now`, a spent budget, a busy loop)
//!    or when `EVENT_INTERVAL` polls and task runs went by since the driver
//!    last ran. So the timers and I/O of a busy `block_on` future still
//!    fire (its own `timeout` included), and its tasks still run.

use super::park::{Parker, SharedDriver, Unparker};
use super::{SchedRef, ThreadWaker};
use crate::context;
use crate::coop::Budget;
use crate::driver;
use crate::loom::{Arc, Mutex, Ordering::*};
use crate::task::owned::OwnedTasks;
use crate::task::{Header, Hint, Notified, Schedule};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

const EVENT_INTERVAL: u32 = 61;
const INJECT_INTERVAL: u32 = 31;

pub(crate) struct Shared {
    inject: Mutex<Inject>,
    pub(crate) owned: OwnedTasks,
    pub(crate) driver: driver::Handle,
    unparker: Unparker,
    core: Mutex<Option<Box<Core>>>,
    /// Threads in `block_on` waiting for the core.
    core_waiters: Mutex<Vec<Waker>>,
}

struct Inject {
    queue: VecDeque<Notified>,
    closed: bool,
}

pub(crate) struct Core {
    shared: *const Shared,
    local: RefCell<VecDeque<Notified>>,
    tick: std::cell::Cell<u32>,
    parker: Parker,
}

// SAFETY: the Core is used by one thread at a time (the one that took it
// out of `Shared::core`); its Notified entries are Send.
unsafe impl Send for Core {}

impl Shared {
    pub(crate) fn new(driver: driver::Driver, driver_handle: driver::Handle) -> Arc<Shared> {
        let parker = Parker::with_driver(SharedDriver::new(driver, driver_handle.clone(), true));
        let unparker = parker.unparker();
        let shared = Arc::new(Shared {
            inject: Mutex::new(Inject {
                queue: VecDeque::new(),
                closed: false,
            }),
            owned: OwnedTasks::new(1),
            driver: driver_handle,
            unparker,
            core: Mutex::new(None),
            core_waiters: Mutex::new(Vec::new()),
        });
        *shared.core.lock() = Some(Box::new(Core {
            shared: Arc::as_ptr(&shared),
            local: RefCell::new(VecDeque::with_capacity(64)),
            tick: std::cell::Cell::new(0),
            parker,
        }));
        shared
    }

    fn push_remote(&self, task: Notified) {
        let mut inject = self.inject.lock();
        if inject.closed {
            // Shut down: the owned list already cancelled the task.
            drop(inject);
            drop(task);
            return;
        }
        inject.queue.push_back(task);
        drop(inject);
        self.unparker.unpark();
    }

    fn pop_remote(&self) -> Option<Notified> {
        self.inject.lock().queue.pop_front()
    }

    /// Runs `future` to completion, driving the tasks while it waits.
    pub(crate) fn block_on<F: Future>(this: &Arc<Self>, future: F) -> F::Output {
        let mut future = pin!(future);
        let mut waiting = None;
        loop {
            let core = this.core.lock().take();
            if let Some(core) = core {
                let mut guard = CoreGuard {
                    shared: this,
                    core: Some(core),
                };
                return guard.drive(future.as_mut());
            }
            // Someone else drives the tasks: wait on our own future, or
            // for the core to come back (its return wakes every waiter).
            let (parker, waker) = waiting.get_or_insert_with(|| {
                let parker = Parker::new();
                let waker = ThreadWaker::new_waker(false, parker.unparker());
                (parker, waker)
            });
            {
                let mut waiters = this.core_waiters.lock();
                if !waiters.iter().any(|w| w.will_wake(waker)) {
                    waiters.push(waker.clone());
                }
            }
            if let Poll::Ready(out) = poll_budgeted(future.as_mut(), &mut Context::from_waker(waker)) {
                return out;
            }
            if this.core.lock().is_none() {
                parker.park(None);
            }
        }
    }

    /// Cancels every task and closes the queues. Runs on the dropping
    /// thread with the core (no block_on is running).
    pub(crate) fn shutdown(this: &Arc<Self>) {
        let core = this.core.lock().take();
        let _sched = core
            .as_ref()
            .map(|c| context::enter_scheduler(SchedRef::CurrentThread(&**c)));
        this.owned.close_and_shutdown_all();
        if let Some(core) = &core {
            // Release the queue references (the tasks are complete now).
            core.local.borrow_mut().clear();
        }
        let drained = {
            let mut inject = this.inject.lock();
            inject.closed = true;
            std::mem::take(&mut inject.queue)
        };
        drop(drained);
        this.driver.shutdown();
        drop(_sched);
        *this.core.lock() = core;
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified, _hint: Hint) {
        if let SchedRef::CurrentThread(core) = context::scheduler() {
            // SAFETY: the context points at a Core only while this thread
            // holds it (see `CoreGuard::drive` and `Shared::shutdown`).
            let core = unsafe { &*core };
            if std::ptr::eq(core.shared, &**self) {
                core.local.borrow_mut().push_back(task);
                return;
            }
        }
        self.push_remote(task);
    }

    fn release(&self, task: NonNull<Header>) -> bool {
        self.owned.remove(task)
    }
}

/// Holds the core while `block_on` drives it; gives it back on drop, even
/// when a `block_on` future panics.
struct CoreGuard<'a> {
    shared: &'a Arc<Shared>,
    core: Option<Box<Core>>,
}

impl CoreGuard<'_> {
    fn drive<F: Future>(&mut self, mut future: std::pin::Pin<&mut F>) -> F::Output {
        let core = self.core.as_deref().expect("core present while driving");
        let _sched = context::enter_scheduler(SchedRef::CurrentThread(core));
        let main = std::sync::Arc::new(ThreadWaker::new(true, self.shared.unparker.clone()));
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        // Polls of `future` and task runs since the driver last ran.
        let mut since_driver = 0;
        loop {
            // Set when `future` woke itself while it ran: a `yield_now`, a
            // spent budget, or a loop that never waits.
            let mut yielded = false;
            // Acquire: pairs with the Release in `ThreadWaker::wake`.
            if main.woken.swap(false, AcqRel) {
                if let Poll::Ready(out) = poll_budgeted(future.as_mut(), &mut cx) {
                    return out;
                }
                since_driver += 1;
                yielded = main.woken.load(Acquire);
            }
            let mut ran = 0;
            while ran < EVENT_INTERVAL {
                let tick = core.tick.get().wrapping_add(1);
                core.tick.set(tick);
                let task = if tick % INJECT_INTERVAL == 0 {
                    self.shared
                        .pop_remote()
                        .or_else(|| core.local.borrow_mut().pop_front())
                } else {
                    let local = core.local.borrow_mut().pop_front();
                    local.or_else(|| self.shared.pop_remote())
                };
                let Some(task) = task else { break };
                task.run();
                ran += 1;
            }
            since_driver += ran;
            if ran == 0 && !main.woken.load(Acquire) {
                // Nothing to run: sleep in the driver (I/O, timers, or a
                // paused clock's jump to the next timer).
                core.parker.park(None);
                since_driver = 0;
            } else if yielded || since_driver >= EVENT_INTERVAL {
                // Busy, or `future` gave way: let ready I/O and due timers
                // in before it is polled again, or a future that is always
                // ready would freeze the clock of its own `timeout`.
                core.parker.poll_driver();
                since_driver = 0;
            }
        }
    }
}

/// Polls the `block_on` future with a task's cooperative budget.
#[inline]
fn poll_budgeted<F: Future>(future: std::pin::Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
    let _budget = context::enter_budget(Budget::initial());
    future.poll(cx)
}

impl Drop for CoreGuard<'_> {
    fn drop(&mut self) {
        *self.shared.core.lock() = self.core.take();
        for waker in std::mem::take(&mut *self.shared.core_waiters.lock()) {
            waker.wake();
        }
    }
}
