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
//! thread-local pointer that the `Child` wrapper sets around each poll of
//! the child's future.

use super::token::CancelToken;
use crate::task::PanicPayload;
use parking_lot::Mutex;
use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

std::thread_local! {
    /// The `Core` of the group whose child is being polled on this thread
    /// (null outside such a poll). Valid for the duration of the poll: the
    /// polled `Child` holds an `Arc` to it.
    static CURRENT: Cell<*const Core> = const { Cell::new(std::ptr::null()) };
}

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
    /// it counts us in its `outstanding` until we drop.
    parent: Option<Arc<Core>>,
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
        let parent = CURRENT.with(|c| c.get());
        let parent = if parent.is_null() {
            None
        } else {
            // SAFETY: CURRENT is non-null only while a `Child` holding an
            // `Arc<Core>` to it is polled on this thread (set and restored
            // around the poll), so the pointee is alive and came from
            // `Arc::into_raw`/`as_ptr` of a std Arc: taking one more strong
            // reference and wrapping it is sound.
            unsafe {
                Arc::increment_strong_count(parent);
                Some(Arc::from_raw(parent))
            }
        };
        let token = match &parent {
            Some(p) => {
                p.outstanding.fetch_add(1, Ordering::Relaxed);
                p.token.child_token()
            }
            None => CancelToken::new(),
        };
        Arc::new(Core {
            token,
            outstanding: AtomicUsize::new(0),
            failures: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
            shared: Mutex::new(CoreShared {
                done: std::collections::VecDeque::new(),
                joiner: None,
                want_each: false,
            }),
            parent,
        })
    }

    /// The token of the group whose child is being polled on this thread.
    pub(crate) fn current_token() -> Option<CancelToken> {
        let current = CURRENT.with(|c| c.get());
        // SAFETY: non-null only while a `Child` holding an `Arc` to this
        // core is being polled on this thread (see `CURRENT`).
        (!current.is_null()).then(|| unsafe { (*current).token.clone() })
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
            parent.nested_gone();
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
}

/// The top bit of `Guard::index`: the child returned `Ok`. Indexes are
/// slots of a `Vec` of pointers, far below it.
const OK: usize = 1 << (usize::BITS - 1);

impl Drop for Guard {
    fn drop(&mut self) {
        self.core.child_gone(self.index & !OK, self.index & OK != 0);
    }
}

impl<F, R: Cancel> Child<F, R> {
    pub(crate) fn new(future: F, report: R, core: Arc<Core>, index: usize) -> Self {
        Child {
            future: Some(future),
            report,
            guard: Guard { core, index },
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
        let core_ptr = Arc::as_ptr(&this.guard.core);
        let prev = CURRENT.with(|c| c.replace(core_ptr));
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
