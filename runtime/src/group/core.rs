//! The part of a group its children share (`Core`), and the wrapper every
//! child's future runs in (`Child`).
//!
//! `Core` counts what the group's `join` waits for: each live child (its
//! `Child` wrapper, until the wrapper's future is dropped) and each live
//! group opened inside one of the children (until that group's `Core` is
//! dropped, i.e. until it and all its own children are gone). That second
//! count is what makes `join` wait for grandchildren: a child cancelled
//! while it awaits its own group drops that group, which aborts the
//! grandchildren, and the outer `join` returns only once they are dropped.
//!
//! A group finds the group it is opened in through `CURRENT`: a
//! thread-local pointer to the polled child's `Guard`, which the `Child`
//! wrapper sets around each poll of the child's future. The guard also
//! remembers the groups opened in its child, so that one which outlives
//! the child (returned as its value, handed out through `start`, kept by
//! another task) stops counting when the child ends: only groups whose
//! handle was dropped inside the child (their children still being torn
//! down) are waited for. A nested core's `link` settles which of the two
//! releases the parent's count: the child's end, if the handle is still
//! alive then (`ATTACHED -> DETACHED`), or the core's own drop otherwise.

use super::token::CancelToken;
use crate::task::PanicPayload;
use parking_lot::Mutex;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

std::thread_local! {
    /// The `Guard` of the group child being polled on this thread (null
    /// outside such a poll). Valid for the duration of the poll: the
    /// polled `Child` is pinned and holds it.
    static CURRENT: Cell<*const Guard> = const { Cell::new(std::ptr::null()) };
}

/// `Core::link`: counted in the parent's `outstanding`, handle alive.
const ATTACHED: u8 = 0;
/// Counted in the parent's `outstanding`; the handle was dropped (the
/// core's drop releases the count, once the children are gone).
const HANDLE_DROPPED: u8 = 1;
/// Not (or no longer) counted in the parent's `outstanding`.
const DETACHED: u8 = 2;

pub(crate) struct Core {
    pub(crate) token: CancelToken,
    /// Live children plus live nested groups.
    outstanding: AtomicUsize,
    /// Failures so far; a failing child takes the next number, so `join`
    /// can put the first failure first.
    failures: AtomicU64,
    pub(crate) timed_out: AtomicBool,
    shared: Mutex<CoreShared>,
    /// The group this one was opened in (a child of it was being polled):
    /// it counts us in its `outstanding` until we drop, or until that
    /// child ends while our handle is still alive (see `link`).
    parent: Option<Arc<Core>>,
    /// `ATTACHED`, `HANDLE_DROPPED` or `DETACHED` (module docs).
    link: AtomicU8,
}

struct CoreShared {
    /// Indexes of the children whose futures are gone, in that order (for
    /// `join_next`), each with whether the child returned `Ok` (so that a
    /// group of `()` children can drop it without reading its output).
    done: std::collections::VecDeque<(usize, bool)>,
    /// The task waiting in `join` / `join_next`.
    joiner: Option<Waker>,
    /// The joiner wants every completion (`join_next`), not only the last
    /// (`join`).
    want_each: bool,
}

impl Core {
    /// A core for a new group: nested in the group whose child is being
    /// polled on this thread, if any.
    pub(crate) fn new() -> Arc<Core> {
        let guard = CURRENT.with(|c| c.get());
        // SAFETY: CURRENT is non-null only while the `Child` owning this
        // guard is polled on this thread (set and restored around the
        // poll; the child is pinned), so the guard is alive.
        let guard = (!guard.is_null()).then(|| unsafe { &*guard });
        let parent = guard.map(|g| g.core.clone());
        let token = match &parent {
            Some(p) => {
                p.outstanding.fetch_add(1, Ordering::Relaxed);
                p.token.child_token()
            }
            None => CancelToken::new(),
        };
        let core = Arc::new(Core {
            token,
            outstanding: AtomicUsize::new(0),
            failures: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
            shared: Mutex::new(CoreShared {
                done: std::collections::VecDeque::new(),
                joiner: None,
                want_each: false,
            }),
            link: AtomicU8::new(if parent.is_some() { ATTACHED } else { DETACHED }),
            parent,
        });
        if let Some(guard) = guard {
            guard.record_nested(&core);
        }
        core
    }

    /// This group's handle is gone: a parent's count is now released by
    /// this core's drop (after the children), not by the child's end.
    pub(crate) fn handle_dropped(&self) {
        let _ = self
            .link
            .compare_exchange(ATTACHED, HANDLE_DROPPED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The token of the group whose child is being polled on this thread.
    pub(crate) fn current_token() -> Option<CancelToken> {
        let current = CURRENT.with(|c| c.get());
        // SAFETY: non-null only while the `Child` owning this guard is
        // being polled on this thread (see `CURRENT`).
        (!current.is_null()).then(|| unsafe { (&*current).core.token.clone() })
    }

    pub(crate) fn add_child(&self) {
        self.outstanding.fetch_add(1, Ordering::Relaxed);
    }

    /// A child's future (index `index`) is gone; `ok`: it returned `Ok`.
    fn child_gone(&self, index: usize, ok: bool) {
        let mut shared = self.shared.lock();
        shared.done.push_back((index, ok));
        let left = self.outstanding.fetch_sub(1, Ordering::AcqRel) - 1;
        let waker = if left == 0 || shared.want_each {
            shared.joiner.take()
        } else {
            None
        };
        drop(shared);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// A nested group is gone.
    fn nested_gone(&self) {
        let left = self.outstanding.fetch_sub(1, Ordering::AcqRel) - 1;
        if left == 0 {
            let waker = self.shared.lock().joiner.take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    /// True once no child and no nested group is alive; otherwise `cx` is
    /// woken at the next change.
    pub(crate) fn poll_idle(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.outstanding.load(Ordering::Acquire) == 0 {
            return Poll::Ready(());
        }
        let mut shared = self.shared.lock();
        if self.outstanding.load(Ordering::Acquire) == 0 {
            return Poll::Ready(());
        }
        shared.want_each = false;
        set_waker(&mut shared.joiner, cx);
        Poll::Pending
    }

    /// The index of the next child whose future is gone; otherwise `cx` is
    /// woken at the next change.
    /// It stays first in line until [`pop_done`](Self::pop_done).
    pub(crate) fn poll_done(&self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        let mut shared = self.shared.lock();
        if let Some(&(i, _)) = shared.done.front() {
            return Poll::Ready(Some(i));
        }
        if self.outstanding.load(Ordering::Acquire) == 0 {
            return Poll::Ready(None);
        }
        shared.want_each = true;
        set_waker(&mut shared.joiner, cx);
        Poll::Pending
    }

    /// The index of the next child whose future is gone, if any (as
    /// `poll_done`, without waiting).
    pub(crate) fn peek_done(&self) -> Option<usize> {
        self.shared.lock().done.front().map(|&(i, _)| i)
    }

    /// Takes the indexes at the front of the completion order whose
    /// children returned `Ok`, stopping at the first that did not (or at
    /// the end), and passes each to `f`.
    pub(crate) fn pop_ok_done(&self, mut f: impl FnMut(usize)) {
        let mut shared = self.shared.lock();
        while let Some(&(i, true)) = shared.done.front() {
            shared.done.pop_front();
            f(i);
        }
    }

    /// Removes the index `poll_done` returned.
    pub(crate) fn pop_done(&self) {
        self.shared.lock().done.pop_front();
    }

    /// Forgets the completion order (after `join` collected everything).
    pub(crate) fn clear_done(&self) {
        let mut shared = self.shared.lock();
        shared.done.clear();
        shared.done.shrink_to(64);
    }

    pub(crate) fn live(&self) -> usize {
        self.outstanding.load(Ordering::Acquire)
    }

    fn fail(&self) -> u64 {
        let seq = self.failures.fetch_add(1, Ordering::AcqRel);
        self.token.cancel();
        seq
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if let Some(parent) = &self.parent {
            if self.link.swap(DETACHED, Ordering::AcqRel) != DETACHED {
                parent.nested_gone();
            }
        }
    }
}

fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// How a child ended, as its task's output.
pub(crate) enum Outcome<T, E> {
    Ok(T),
    /// Failed; the number orders the group's failures.
    Err(E, u64),
    Panicked(PanicPayload, u64),
    /// A `start` child failed before it signalled readiness: the failure
    /// went to the `start` caller instead.
    HandedOff,
}

/// Where a child's failure goes before it counts as the group's: `start`
/// children hand failures before readiness to the `start` caller.
pub(crate) trait Report<E>: Cancel + Send + 'static {
    /// Offers an early failure (`Err` or panic) or end; gives it back if
    /// it belongs to the group.
    fn finish(&mut self, end: End<E>) -> Option<End<E>>;
}

/// The child's wrapper is being dropped (called after `finish`, too).
pub(crate) trait Cancel {
    fn cancelled(&mut self);
}

pub(crate) enum End<E> {
    Err(E),
    Panicked(PanicPayload),
    /// Returned `Ok`.
    Ok,
}

impl<E: Send + 'static> Report<E> for () {
    #[inline]
    fn finish(&mut self, end: End<E>) -> Option<End<E>> {
        Some(end)
    }
}

impl Cancel for () {
    #[inline]
    fn cancelled(&mut self) {}
}

/// The future a child task runs: the user's future, with the group's
/// bookkeeping around it. Field order matters: `future` is dropped before
/// `guard`, so the group hears "gone" only after the child's destructors
/// ran.
pub(crate) struct Child<F, R: Cancel> {
    future: Option<F>,
    report: R,
    guard: Guard,
}

struct Guard {
    core: Arc<Core>,
    /// The child's index, with [`OK`] set once it returned `Ok` and its
    /// output is the group's (a flag in the index's top bit, so that every
    /// child's task is no bigger for it).
    index: usize,
    /// The groups opened while this child was polled (allocated at the
    /// first): those still attached when the child ends have escaped it.
    /// Only touched by the thread polling or dropping the child. Boxed:
    /// one word in every child's task instead of a `Vec`'s three, for
    /// something few children ever use.
    #[allow(clippy::box_collection)]
    nested: UnsafeCell<Option<Box<Vec<Weak<Core>>>>>,
}

impl Guard {
    /// Remembers a group opened in this child (called during its poll).
    fn record_nested(&self, core: &Arc<Core>) {
        // SAFETY: only the thread polling this child gets here (through
        // `CURRENT`), and no other reference into `nested` is live during
        // a poll: `detach_escaped` runs when the child ends, outside polls.
        let nested = unsafe { &mut *self.nested.get() }.get_or_insert_with(Default::default);
        if nested.len() == nested.capacity() {
            // A long-lived child opening group after group: forget the
            // ones already gone before growing.
            nested.retain(|w| w.strong_count() > 0);
        }
        nested.push(Arc::downgrade(core));
    }

    /// The child has ended (its future is gone): a group it opened whose
    /// handle is still alive has escaped it; stop counting it.
    fn detach_escaped(&mut self) {
        let Some(nested) = self.nested.get_mut().take() else {
            return;
        };
        for core in nested.iter().filter_map(Weak::upgrade) {
            if core
                .link
                .compare_exchange(ATTACHED, DETACHED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.core.nested_gone();
            }
        }
    }
}

/// The top bit of `Guard::index`: the child returned `Ok`. Indexes are
/// slots of a `Vec` of pointers, far below it.
const OK: usize = 1 << (usize::BITS - 1);

impl Drop for Guard {
    fn drop(&mut self) {
        // The child's future is gone (dropped before this guard).
        self.detach_escaped();
        self.core.child_gone(self.index & !OK, self.index & OK != 0);
    }
}

impl<F, R: Cancel> Child<F, R> {
    pub(crate) fn new(future: F, report: R, core: Arc<Core>, index: usize) -> Self {
        Child {
            future: Some(future),
            report,
            guard: Guard {
                core,
                index,
                nested: UnsafeCell::new(None),
            },
        }
    }
}

impl<F, R, T, E> Future for Child<F, R>
where
    F: Future<Output = Result<T, E>>,
    R: Report<E>,
{
    type Output = Outcome<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T, E>> {
        // SAFETY: `future` is structurally pinned (never moved out while
        // `Some`; it is only dropped in place via `set(None)`-style
        // assignment below); the other fields are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let guard_ptr: *const Guard = &this.guard;
        let prev = CURRENT.with(|c| c.replace(guard_ptr));
        let res = {
            let Some(future) = this.future.as_mut() else {
                CURRENT.with(|c| c.set(prev));
                return Poll::Pending;
            };
            // SAFETY: see above; the future stays where it is until dropped.
            let future = unsafe { Pin::new_unchecked(future) };
            catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
        };
        let end = match res {
            Ok(Poll::Pending) => {
                CURRENT.with(|c| c.set(prev));
                return Poll::Pending;
            }
            Ok(Poll::Ready(Ok(v))) => {
                // Drop the future (and the nested groups it may hold) while
                // CURRENT still names our group.
                let dropped = catch_unwind(AssertUnwindSafe(|| this.future = None));
                CURRENT.with(|c| c.set(prev));
                if let Err(payload) = dropped {
                    drop(v);
                    End::Panicked(PanicPayload::new(payload))
                } else {
                    return Poll::Ready(match this.report.finish(End::Ok) {
                        Some(_) => {
                            this.guard.index |= OK;
                            Outcome::Ok(v)
                        }
                        None => {
                            drop(v);
                            Outcome::HandedOff
                        }
                    });
                }
            }
            Ok(Poll::Ready(Err(e))) => {
                let _ = catch_unwind(AssertUnwindSafe(|| this.future = None));
                CURRENT.with(|c| c.set(prev));
                End::Err(e)
            }
            Err(payload) => {
                let _ = catch_unwind(AssertUnwindSafe(|| this.future = None));
                CURRENT.with(|c| c.set(prev));
                End::Panicked(PanicPayload::new(payload))
            }
        };
        Poll::Ready(match this.report.finish(end) {
            None => Outcome::HandedOff,
            Some(End::Err(e)) => Outcome::Err(e, this.guard.core.fail()),
            Some(End::Panicked(p)) => Outcome::Panicked(p, this.guard.core.fail()),
            Some(End::Ok) => unreachable!("Ok is handled above"),
        })
    }
}

impl<F, R: Cancel> Drop for Child<F, R> {
    fn drop(&mut self) {
        // Cancelled (aborted, or shut down) before it finished, if the
        // future is still here: drop it (in place: it is pinned) before
        // the guard reports the child gone, then tell a `start` caller.
        self.future = None;
        self.report.cancelled();
    }
}
