//! The task's atomic state word: lifecycle bits plus a reference count.
//!
//! ```text
//!  63                                   6    5        4           3          2         1         0
//! +-------------------------------------+---------+-----------+-----------+---------+---------+---------+
//! | reference count                     |CANCELLED|JOIN_WAKER |JOIN_INTER.|NOTIFIED |COMPLETE | RUNNING |
//! +-------------------------------------+---------+-----------+-----------+---------+---------+---------+
//! ```
//!
//! - `RUNNING`: someone owns the future (a worker polling it, or the shutdown
//!   path cancelling it). Only the owner touches the stage cell.
//! - `COMPLETE`: the future is gone and the output (or the error) is stored.
//!   Set once, with `RUNNING` cleared in the same step; never cleared.
//! - `NOTIFIED`: a `Notified` reference exists (the task is in a run queue),
//!   or the task was woken while running and must run again. At most one
//!   `Notified` exists at a time, so a task is never queued twice.
//! - `JOIN_INTEREST`: the `JoinHandle` is alive and will read the output.
//! - `JOIN_WAKER`: the join waker cell holds the handle's waker and belongs
//!   to the runtime side. While clear (and the task is not complete) the
//!   handle owns the cell and may write it.
//! - `CANCELLED`: abort or shutdown asked for the task to stop; the next
//!   owner of `RUNNING` drops the future instead of polling it.
//!
//! References are held by: the owned-task list (until completion), the one
//! `Notified` (queued or being polled), the `JoinHandle`, and each `Waker` or
//! wait-list entry. The task is freed when the count drops to zero.
//!
//! Every transition is a single CAS loop (or one fetch op) and returns a
//! `#[must_use]` value telling the caller what to do next.

use crate::loom::{AtomicUsize, Ordering::*};
use std::fmt;

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const JOIN_INTEREST: usize = 1 << 3;
const JOIN_WAKER: usize = 1 << 4;
const CANCELLED: usize = 1 << 5;
const LIFECYCLE: usize = RUNNING | COMPLETE;
const REF_SHIFT: u32 = 6;
const REF_ONE: usize = 1 << REF_SHIFT;

/// A freshly spawned task: three references (owned list, the first
/// `Notified`, the `JoinHandle`), queued, with a live join handle.
const INITIAL: usize = (REF_ONE * 3) | NOTIFIED | JOIN_INTEREST;

pub(crate) struct State {
    word: AtomicUsize,
}

/// A copy of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What the poller does after `transition_to_running`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// Drop the future instead: the task was cancelled.
    Cancel,
    /// The task is running elsewhere or complete: the `Notified` reference
    /// was released; nothing to do.
    Failed,
    /// As `Failed`, and it was the last reference: free the task.
    Dealloc,
}

/// What the poller does after a `Pending` poll.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Idle; the poller's reference was released.
    Ok,
    /// Idle, and it was the last reference: free the task.
    Dealloc,
    /// Woken during the poll: the poller's reference becomes the new
    /// `Notified`; schedule it (at the back, it just ran).
    Notified,
    /// Cancelled during the poll: still `RUNNING`, drop the future.
    Cancel,
}

/// What a waker does after marking the task notified.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// Already queued, running or complete.
    DoNothing,
    /// Push the `Notified` reference (now held) onto a run queue.
    Submit,
    /// Only for `by_val`: nothing to queue and the last reference is gone.
    Dealloc,
}

/// What the join handle owns after it is dropped.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct JoinDropped {
    /// The task completed first: the handle drops the output.
    pub(crate) drop_output: bool,
    /// The handle owns the waker cell: drop its contents.
    pub(crate) drop_waker: bool,
    /// The handle's reference is still held (the caller releases it).
    pub(crate) ref_held: bool,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            word: AtomicUsize::new(INITIAL),
        }
    }

    pub(crate) fn load(&self) -> Snapshot {
        // Acquire: pairs with the AcqRel of every transition, so a snapshot
        // that shows COMPLETE also shows the stored output.
        Snapshot(self.word.load(Acquire))
    }

    /// Runs `f` in a CAS loop. `f` returns the next word (or `None` to stop
    /// without writing) and a result.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(usize) -> (Option<usize>, R)) -> R {
        let mut curr = self.word.load(Acquire);
        loop {
            let (next, out) = f(curr);
            let Some(next) = next else { return out };
            // AcqRel: every transition publishes the writes made while the
            // caller owned a part of the task (stage, waker cell) and
            // acquires those of the previous owner.
            match self.word.compare_exchange_weak(curr, next, AcqRel, Acquire) {
                Ok(_) => return out,
                Err(actual) => curr = actual,
            }
        }
    }

    /// Called with the `Notified` reference by the worker about to poll.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|curr| {
            debug_assert!(
                curr & NOTIFIED != 0 || curr & LIFECYCLE != 0,
                "{:?}",
                Snapshot(curr)
            );
            if curr & LIFECYCLE != 0 {
                // Claimed by shutdown while queued, or already complete:
                // give up the Notified reference.
                let next = ref_dec(curr);
                let out = if next >> REF_SHIFT == 0 {
                    ToRunning::Dealloc
                } else {
                    ToRunning::Failed
                };
                return (Some(next), out);
            }
            let next = (curr | RUNNING) & !NOTIFIED;
            let out = if curr & CANCELLED != 0 {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (Some(next), out)
        })
    }

    /// Called by the poller after the future returned `Pending`.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|curr| {
            debug_assert!(curr & RUNNING != 0);
            if curr & CANCELLED != 0 {
                return (None, ToIdle::Cancel);
            }
            if curr & NOTIFIED != 0 {
                // Keep the poller's reference as the new Notified one; the
                // NOTIFIED bit stays set.
                return (Some(curr & !RUNNING), ToIdle::Notified);
            }
            let next = ref_dec(curr & !RUNNING);
            let out = if next >> REF_SHIFT == 0 {
                ToIdle::Dealloc
            } else {
                ToIdle::Ok
            };
            (Some(next), out)
        })
    }

    /// RUNNING -> COMPLETE in one step. Returns the state before.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        // AcqRel: Release publishes the stored output to the join handle
        // (which loads with Acquire); Acquire sees the handle's last write
        // of the waker cell before it set JOIN_WAKER.
        let prev = Snapshot(self.word.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// After waking the join waker: hand the waker cell back to the handle.
    /// Returns the state before; if the handle is gone the caller drops the
    /// waker.
    pub(crate) fn unset_waker_after_complete(&self) -> Snapshot {
        let prev = Snapshot(self.word.fetch_and(!JOIN_WAKER, AcqRel));
        debug_assert!(prev.is_complete() && prev.is_join_waker_set());
        prev
    }

    /// A waker consumed by value: its reference becomes the `Notified` one,
    /// or is released.
    pub(crate) fn transition_to_notified_by_val(&self) -> ToNotified {
        self.update(|curr| {
            if curr & RUNNING != 0 {
                // The poller holds a reference, so this one cannot be the
                // last; the poller reschedules after its poll.
                return (Some(ref_dec(curr | NOTIFIED)), ToNotified::DoNothing);
            }
            if curr & (COMPLETE | NOTIFIED) != 0 {
                let next = ref_dec(curr);
                let out = if next >> REF_SHIFT == 0 {
                    ToNotified::Dealloc
                } else {
                    ToNotified::DoNothing
                };
                return (Some(next), out);
            }
            (Some(curr | NOTIFIED), ToNotified::Submit)
        })
    }

    /// A waker used by reference: takes a new reference when it must queue.
    pub(crate) fn transition_to_notified_by_ref(&self) -> ToNotified {
        self.update(|curr| {
            if curr & (COMPLETE | NOTIFIED) != 0 {
                (None, ToNotified::DoNothing)
            } else if curr & RUNNING != 0 {
                (Some(curr | NOTIFIED), ToNotified::DoNothing)
            } else {
                (Some(ref_inc(curr) | NOTIFIED), ToNotified::Submit)
            }
        })
    }

    /// Abort: mark cancelled and make sure someone will act on it. Returns
    /// `Submit` when the task was idle (a new `Notified` reference is held
    /// and must be queued so a worker drops the future).
    pub(crate) fn transition_to_notified_and_cancel(&self) -> ToNotified {
        self.update(|curr| {
            if curr & (COMPLETE | CANCELLED) != 0 {
                (None, ToNotified::DoNothing)
            } else if curr & (RUNNING | NOTIFIED) != 0 {
                // The poller (or the queued run) sees CANCELLED.
                (Some(curr | CANCELLED), ToNotified::DoNothing)
            } else {
                (Some(ref_inc(curr) | NOTIFIED | CANCELLED), ToNotified::Submit)
            }
        })
    }

    /// Runtime shutdown: mark cancelled; returns true if the caller now owns
    /// the task (it was idle or queued) and must cancel it in place.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|curr| {
            if curr & LIFECYCLE != 0 {
                (Some(curr | CANCELLED), false)
            } else {
                (Some(curr | CANCELLED | RUNNING), true)
            }
        })
    }

    /// The handle stores its waker: set JOIN_WAKER unless complete.
    /// `Err` carries the snapshot showing completion.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|curr| {
            debug_assert!(curr & JOIN_INTEREST != 0 && curr & JOIN_WAKER == 0);
            if curr & COMPLETE != 0 {
                (None, Err(Snapshot(curr)))
            } else {
                (Some(curr | JOIN_WAKER), Ok(Snapshot(curr | JOIN_WAKER)))
            }
        })
    }

    /// The handle takes the waker cell back to replace its waker.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|curr| {
            debug_assert!(curr & JOIN_INTEREST != 0 && curr & JOIN_WAKER != 0);
            if curr & COMPLETE != 0 {
                (None, Err(Snapshot(curr)))
            } else {
                (Some(curr & !JOIN_WAKER), Ok(Snapshot(curr & !JOIN_WAKER)))
            }
        })
    }

    /// The handle is dropped. In the common case (not complete, no waker
    /// stored) the handle's reference is released in the same step.
    pub(crate) fn transition_to_join_handle_dropped(&self) -> JoinDropped {
        self.update(|curr| {
            debug_assert!(curr & JOIN_INTEREST != 0);
            let mut next = curr & !JOIN_INTEREST;
            if curr & COMPLETE == 0 {
                // The handle takes the waker cell back (the runtime only
                // touches it after completion).
                next &= !JOIN_WAKER;
                if curr & JOIN_WAKER == 0 {
                    // Cell is empty: release the reference now. The owned
                    // list still holds one, so this is never the last.
                    return (
                        Some(ref_dec(next)),
                        JoinDropped {
                            drop_output: false,
                            drop_waker: false,
                            ref_held: false,
                        },
                    );
                }
            }
            let out = JoinDropped {
                drop_output: curr & COMPLETE != 0,
                drop_waker: next & JOIN_WAKER == 0,
                ref_held: true,
            };
            (Some(next), out)
        })
    }

    pub(crate) fn ref_inc(&self) {
        // Relaxed: a new reference is made from an existing one, which keeps
        // the task alive; nothing is published (as in `Arc::clone`).
        let prev = self.word.fetch_add(REF_ONE, Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Returns true if this was the last reference.
    pub(crate) fn ref_dec(&self) -> bool {
        self.ref_dec_by(1)
    }

    /// Releases `n` references at once (completion drops the poller's and
    /// the owned list's together). Returns true if they were the last.
    pub(crate) fn ref_dec_by(&self, n: usize) -> bool {
        // AcqRel: Release publishes this owner's writes; Acquire makes the
        // freeing thread see every other owner's (as in `Arc::drop`).
        let prev = self.word.fetch_sub(n * REF_ONE, AcqRel);
        debug_assert!(prev >> REF_SHIFT >= n, "{:?}", Snapshot(prev));
        prev >> REF_SHIFT == n
    }
}

fn ref_inc(word: usize) -> usize {
    word + REF_ONE
}

fn ref_dec(word: usize) -> usize {
    debug_assert!(word >> REF_SHIFT > 0);
    word - REF_ONE
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn spawn_poll_complete() {
        let s = State::new();
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert!(s.load().is_running() && !s.load().is_notified());
        let prev = s.transition_to_complete();
        assert!(prev.is_join_interested());
        assert!(s.load().is_complete() && !s.load().is_running());
        assert!(!s.ref_dec_by(2));
        assert_eq!(s.load().ref_count(), 1);
    }

    #[test]
    fn wake_while_running_reschedules_without_new_ref() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_notified_by_ref(), ToNotified::DoNothing);
        assert_eq!(s.load().ref_count(), 3);
        assert_eq!(s.transition_to_idle(), ToIdle::Notified);
        assert_eq!(s.load().ref_count(), 3);
        assert!(s.load().is_notified() && !s.load().is_running() && !s.load().is_complete());
    }

    #[test]
    fn wake_idle_submits_once() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_idle(), ToIdle::Ok);
        assert_eq!(s.load().ref_count(), 2);
        assert_eq!(s.transition_to_notified_by_ref(), ToNotified::Submit);
        assert_eq!(s.transition_to_notified_by_ref(), ToNotified::DoNothing);
        assert_eq!(s.load().ref_count(), 3);
    }

    #[test]
    fn abort_idle_submits_and_cancels() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_idle(), ToIdle::Ok);
        assert_eq!(s.transition_to_notified_and_cancel(), ToNotified::Submit);
        assert_eq!(s.transition_to_notified_and_cancel(), ToNotified::DoNothing);
        assert_eq!(s.transition_to_running(), ToRunning::Cancel);
    }

    #[test]
    fn abort_running_cancels_after_poll() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert_eq!(s.transition_to_notified_and_cancel(), ToNotified::DoNothing);
        assert_eq!(s.transition_to_idle(), ToIdle::Cancel);
        assert!(s.load().is_running());
    }

    #[test]
    fn shutdown_claims_queued_task_and_queue_entry_fails() {
        let s = State::new();
        assert!(s.transition_to_shutdown());
        let _ = s.transition_to_complete();
        assert_eq!(s.transition_to_running(), ToRunning::Failed);
    }

    #[test]
    fn detach_before_complete_releases_ref_in_one_step() {
        let s = State::new();
        let d = s.transition_to_join_handle_dropped();
        assert!(!d.ref_held && !d.drop_output && !d.drop_waker);
        assert_eq!(s.load().ref_count(), 2);
    }

    #[test]
    fn detach_after_complete_drops_output() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        let _ = s.transition_to_complete();
        let d = s.transition_to_join_handle_dropped();
        assert!(d.ref_held && d.drop_output && d.drop_waker);
    }

    #[test]
    fn join_waker_is_refused_after_complete() {
        let s = State::new();
        assert!(s.set_join_waker().is_ok());
        assert!(s.unset_join_waker().is_ok());
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        let _ = s.transition_to_complete();
        assert!(s.set_join_waker().is_err());
    }
}
