//! The per-thread runtime context: one thread-local holding what the
//! current thread is doing for corral.
//!
//! - `handle`: the runtime entered on this thread (worker threads,
//!   `block_on`, `Runtime::enter`), for `spawn` and `Handle::current`.
//! - `scheduler`: the scheduler core this thread drives right now, so that a
//!   wake from a running task can push straight onto the local queue.
//! - `task` / `budget`: the task being polled and its cooperative budget
//!   (the `block_on` future gets a budget too, but no task id).
//! - `blocking`: true while the thread is a worker or inside `block_on`,
//!   where blocking on another future would stall the runtime.
//!
//! Each field is touched only by its own thread; guards restore the
//! previous value on drop, so nesting (a `block_on` inside `run_sync`)
//! unwinds cleanly, panics included.

use crate::coop::{self, Budget};
use crate::handle::Handle;
use crate::sched::SchedRef;
use crate::task::Id;
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

struct Context {
    handle: RefCell<Option<Handle>>,
    scheduler: Cell<SchedRef>,
    task: Cell<Option<Id>>,
    budget: Cell<Budget>,
    blocking: Cell<bool>,
}

impl Context {
    const fn new() -> Self {
        Context {
            handle: RefCell::new(None),
            scheduler: Cell::new(SchedRef::None),
            task: Cell::new(None),
            budget: Cell::new(Budget::unconstrained()),
            blocking: Cell::new(false),
        }
    }
}

#[cfg(not(loom))]
std::thread_local! {
    static CONTEXT: Context = const { Context::new() };
}

#[cfg(loom)]
loom::thread_local! {
    static CONTEXT: Context = Context::new();
}

/// Runs `f` on the context; `None` while the thread is being torn down.
#[inline]
fn with<R>(f: impl FnOnce(&Context) -> R) -> Option<R> {
    CONTEXT.try_with(f).ok()
}

// ---- runtime handle --------------------------------------------------------

pub(crate) fn current_handle() -> Option<Handle> {
    with(|c| c.handle.borrow().clone()).flatten()
}

pub(crate) fn with_handle<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    match with(|c| {
        let h = c.handle.borrow();
        (f.take().unwrap())(h.as_ref())
    }) {
        Some(r) => r,
        None => (f.take().unwrap())(None),
    }
}

/// Makes `handle` current until the guard drops.
pub(crate) fn enter_handle(handle: Handle) -> HandleGuard {
    let prev = with(|c| c.handle.replace(Some(handle))).flatten();
    HandleGuard {
        prev,
        _not_send: PhantomData,
    }
}

/// Restores the previous handle of *this* thread on drop, so it must not
/// move to another thread (`!Send`).
pub(crate) struct HandleGuard {
    prev: Option<Handle>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        with(|c| *c.handle.borrow_mut() = prev);
    }
}

// ---- scheduler core ----------------------------------------------------------

pub(crate) fn scheduler() -> SchedRef {
    with(|c| c.scheduler.get()).unwrap_or(SchedRef::None)
}

pub(crate) fn enter_scheduler(s: SchedRef) -> SchedulerGuard {
    let prev = with(|c| c.scheduler.replace(s)).unwrap_or(SchedRef::None);
    SchedulerGuard { prev }
}

pub(crate) struct SchedulerGuard {
    prev: SchedRef,
}

impl Drop for SchedulerGuard {
    fn drop(&mut self) {
        with(|c| c.scheduler.set(self.prev));
    }
}

// ---- blocking region ---------------------------------------------------------

/// Marks the thread as driving a runtime. Returns None if it already is:
/// blocking there would stall every task queued behind this thread.
pub(crate) fn enter_blocking_region() -> Option<BlockingGuard> {
    with(|c| {
        if c.blocking.replace(true) {
            None
        } else {
            Some(BlockingGuard(()))
        }
    })
    .flatten()
}

/// True while the thread drives a runtime (a worker, or inside
/// `block_on`): a blocking wait here would stall the tasks behind it.
pub(crate) fn in_blocking_region() -> bool {
    with(|c| c.blocking.get()).unwrap_or(false)
}

pub(crate) struct BlockingGuard(());

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        with(|c| c.blocking.set(false));
    }
}

// ---- current task and budget -------------------------------------------------

pub(crate) fn current_task() -> Option<Id> {
    with(|c| c.task.get()).flatten()
}

/// Marks `id` as the running task with `budget` until the guard drops.
#[inline]
pub(crate) fn enter_task(id: Id, budget: Budget) -> TaskGuard {
    let prev = with(|c| (c.task.replace(Some(id)), c.budget.replace(budget)));
    TaskGuard { prev }
}

pub(crate) struct TaskGuard {
    prev: Option<(Option<Id>, Budget)>,
}

impl Drop for TaskGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some((task, budget)) = self.prev {
            with(|c| {
                c.task.set(task);
                c.budget.set(budget);
            });
        }
    }
}

/// Gives the current thread `budget` until the guard drops (the `block_on`
/// future's polls: it is no task, but it gets a task's budget).
#[inline]
pub(crate) fn enter_budget(budget: Budget) -> BudgetGuard {
    BudgetGuard {
        prev: with(|c| c.budget.replace(budget)),
    }
}

pub(crate) struct BudgetGuard {
    prev: Option<Budget>,
}

impl Drop for BudgetGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(budget) = self.prev {
            with(|c| c.budget.set(budget));
        }
    }
}

pub(crate) fn budget_get() -> Budget {
    with(|c| c.budget.get()).unwrap_or(Budget::unconstrained())
}

pub(crate) fn budget_set(b: Budget) {
    with(|c| c.budget.set(b));
}

/// Spends one unit. Some(previous unit count) if allowed (None inside for
/// unconstrained), None if the budget is spent.
#[inline]
pub(crate) fn budget_spend() -> Option<Option<u8>> {
    with(|c| match coop::spend(c.budget.get()) {
        Ok((next, before)) => {
            c.budget.set(next);
            Some(before)
        }
        Err(()) => None,
    })
    .unwrap_or(Some(None))
}
