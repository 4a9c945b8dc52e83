//! [`Barrier`]: `parties` tasks (or threads) meet, cycle after cycle, and
//! none leaves a cycle before all arrived; with an optional action run once
//! per cycle, and Python's `threading.Barrier` break / reset / abort.
//!
//! # State, and who may touch it
//!
//! One short lock guards [`State`]: `parties`, `arrived` (the parties of
//! the filling cycle that wait), `broken`, `completing` (an action runs),
//! the action itself (taken out while it runs), and two [`WaitList`]s of
//! [`Slot`]s:
//!
//! - `waiters`: parties that arrived, in arrival order. A slot's `phase`
//!   says where it is: `Waiting` (its cycle is filling), `Held` (its cycle
//!   is complete, the action runs), `Passed` / `Broken` (decided, to be
//!   woken). Invariant: `arrived` equals the number of `Waiting` slots, and
//!   decided slots form a prefix of the list (they are woken from the
//!   front).
//! - `entering`: parties that came while an action ran. They are not
//!   counted; when the action is done they are woken and arrive again (as
//!   `threading.Barrier` makes such threads wait in `_enter`).
//!
//! # A cycle, step by step
//!
//! 1. An arrival with `arrived + 1 < parties` queues as `Waiting`.
//! 2. The last arrival numbers the `Waiting` slots 0.. in list (arrival)
//!    order, takes `parties - 1` itself and is the leader, bumps
//!    `generation` and sets `arrived = 0` (the next cycle starts filling
//!    at once, so a waiter of this cycle never counts in the next).
//! 3. Without an action the slots become `Passed` and are woken.
//!    With one, they become `Held`, `completing` is set, the action is
//!    taken out and run by the last arrival *without the lock* (so it may
//!    call the barrier), inside `catch_unwind`. Then, under the lock again,
//!    `Held` becomes `Passed` (or `Broken(ActionPanicked)`, and the barrier
//!    breaks), and the held slots and the `entering` list are woken.
//!
//! # Breaking
//!
//! `abort`, `reset`, a `wait_timeout` that expires, and a panicking action
//! turn every `Waiting` slot into `Broken(cause)`, set `arrived = 0`, and
//! wake the decided prefix. `reset` then clears `broken`, the others leave
//! it set. A cycle whose last party arrived is complete: an `abort` or
//! `reset` during its action affects later arrivals only.
//!
//! # Cancellation
//!
//! A dropped wait future removes its slot: a `Waiting` one frees its place
//! (`arrived -= 1`; the cycle still needs `parties` arrivals). Passing a
//! barrier hands nothing over, so a `Notified` or decided slot has nothing
//! to pass on.
//!
//! The waiter futures ([`BarrierWait`], [`BarrierWaitTimeout`]) live in
//! `barrier/future.rs`; the state, the arrival and release steps and the
//! blocking path here.

use crate::loom::{Lock, LockGuard};
use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::{pin, Pin};
use std::time::{Duration, Instant};

mod future;

pub use future::{BarrierWait, BarrierWaitTimeout};

type Action = Box<dyn FnMut() + Send + 'static>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Arrived; its cycle is filling.
    Waiting,
    /// Its cycle is complete; the action runs.
    Held,
    /// Released: its cycle passed.
    Passed,
    /// Released: the barrier broke.
    Broken(BrokenCause),
    /// Came while an action ran: not counted; arrives again when woken.
    Entering,
}

/// A waiter's payload.
#[derive(Debug)]
struct Slot {
    /// Arrival order in its cycle (set when the cycle completes).
    index: usize,
    phase: Phase,
}

impl Slot {
    const NEW: Slot = Slot {
        index: 0,
        phase: Phase::Waiting,
    };

    /// The result of a decided slot; None if it must arrive (again).
    fn outcome(&self) -> Option<Result<BarrierWaitResult, BrokenBarrier>> {
        match self.phase {
            Phase::Passed => Some(Ok(BarrierWaitResult {
                is_leader: false,
                index: self.index,
            })),
            Phase::Broken(cause) => Some(Err(BrokenBarrier { cause })),
            Phase::Entering => None,
            Phase::Waiting | Phase::Held => unreachable!("an undecided barrier slot was woken"),
        }
    }
}

struct State {
    parties: usize,
    /// The filling cycle's number (cycles completed or broken so far).
    generation: u64,
    /// Cycles completed (passed).
    cycles: u64,
    /// Number of `Waiting` slots.
    arrived: usize,
    broken: Option<BrokenCause>,
    /// An action runs (outside the lock); arrivals go to `entering`.
    completing: bool,
    action: Option<Action>,
    waiters: WaitList<Slot>,
    entering: WaitList<Slot>,
}

impl State {
    /// Marks every `Waiting` slot broken; `arrived = 0`.
    fn break_waiting(&mut self, cause: BrokenCause) {
        for slot in self.waiters.iter_mut() {
            if slot.phase == Phase::Waiting {
                slot.phase = Phase::Broken(cause);
            }
        }
        if self.arrived > 0 {
            self.generation += 1;
        }
        self.arrived = 0;
    }

    /// Moves decided slots (a prefix) and, unless an action runs, the
    /// entering ones into `batch`; true if more remain (batch full).
    fn fill_released(&mut self, batch: &mut WakeBatch) -> bool {
        while let Some(front) = self.waiters.front_mut() {
            if !matches!(front.phase, Phase::Passed | Phase::Broken(_)) {
                break;
            }
            if batch.is_full() {
                return true;
            }
            self.waiters.wake_front(batch);
        }
        if !self.completing {
            return self.entering.wake_all(batch);
        }
        false
    }
}

/// What an arrival must do next.
enum Arrival {
    Done(Result<BarrierWaitResult, BrokenBarrier>),
    /// Queued (waiting, or entering): wait for the wake.
    Queued,
    /// The last arrival of a cycle with an action: run it, then
    /// [`Barrier::finish_cycle`].
    RunAction(Action, usize),
}

/// Lets `parties` tasks or threads wait for each other, cycle after cycle;
/// Python's `threading.Barrier` with tokio's async shape.
///
/// # Semantics
///
/// - **A cycle** completes when `parties` waiters have arrived. All of
///   them are then released together; each gets a [`BarrierWaitResult`]
///   with its arrival `index` (0 to `parties - 1`, as threading's return
///   value) and `is_leader`, true for exactly one per cycle: the last to
///   arrive (tokio's choice; threading names none). The barrier is then
///   ready for the next cycle: a waiter of one cycle is never released by
///   the next cycle's arrivals and never counts twice.
/// - **The action** ([`with_action`](Self::with_action)) runs once per
///   cycle, in the last arriving task or thread, before anyone leaves.
///   Parties that arrive while it runs wait to enter the next cycle. If it
///   panics, the panic is caught (no worker dies), the barrier breaks, and
///   every party of that cycle gets [`BrokenBarrier`] with
///   [`BrokenCause::ActionPanicked`].
/// - **Breaking**, as threading's: [`abort`](Self::abort) and a
///   [`wait_timeout`](Self::wait_timeout) that expires break the barrier:
///   every waiter, and every later `wait`, gets [`BrokenBarrier`] until
///   [`reset`](Self::reset). `reset` breaks the waiting parties too, and
///   leaves the barrier usable at once. A cycle whose last party already
///   arrived is complete: an `abort` or `reset` during its action only
///   affects later arrivals.
/// - **Cancellation** frees the slot: a dropped `wait` future no longer
///   counts ([`n_waiting`](Self::n_waiting) drops), and the cycle still needs
///   `parties` arrivals. (tokio's barrier counts a cancelled waiter as
///   arrived; ours follows threading, where a waiter that left is gone.)
/// - **Zero parties** behave as one, as in tokio (threading raises
///   `ValueError`): every `wait` passes at once as leader, and
///   [`parties`](Self::parties) reports 1.
///
/// Works from corral tasks, futures polled by other executors, and plain
/// threads ([`blocking_wait`](Self::blocking_wait)), in any mix.
///
/// ```
/// use corral::sync::Barrier;
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let barrier = Arc::new(Barrier::new(3));
/// let tasks: Vec<_> = (0..3)
///     .map(|_| {
///         let b = barrier.clone();
///         corral::spawn(async move { b.wait().await.unwrap() })
///     })
///     .collect();
/// let mut leaders = 0;
/// for t in tasks {
///     leaders += t.await.unwrap().is_leader as usize;
/// }
/// assert_eq!(leaders, 1);
/// # });
/// ```
pub struct Barrier {
    state: Lock<State>,
    created_at: &'static Location<'static>,
}

/// What [`Barrier::wait`] returns to a party of a completed cycle.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let b = corral::sync::Barrier::new(1);
/// let r = b.wait().await.unwrap();
/// assert!(r.is_leader());
/// assert_eq!(r.index(), 0);
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BarrierWaitResult {
    /// True for exactly one party per cycle: the last to arrive (the one
    /// that ran the action).
    pub is_leader: bool,
    /// Arrival order in the cycle, 0 to `parties - 1` (cancelled waiters
    /// leave no gap).
    pub index: usize,
}

impl BarrierWaitResult {
    /// True for exactly one party per cycle (the last to arrive).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// assert!(corral::sync::Barrier::new(1).wait().await.unwrap().is_leader());
    /// # });
    /// ```
    pub fn is_leader(&self) -> bool {
        self.is_leader
    }

    /// Arrival order in the cycle, 0 to `parties - 1`.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// assert_eq!(corral::sync::Barrier::new(1).wait().await.unwrap().index(), 0);
    /// # });
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }
}

/// Why a [`Barrier`] is (or was) broken.
///
/// ```
/// use corral::sync::{Barrier, BrokenCause};
/// # corral::Runtime::new().unwrap().block_on(async {
/// let b = Barrier::new(2);
/// b.abort();
/// assert_eq!(b.wait().await.unwrap_err().cause(), BrokenCause::Aborted);
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokenCause {
    /// [`Barrier::abort`] was called.
    Aborted,
    /// [`Barrier::reset`] was called while this party waited.
    Reset,
    /// A party's `wait_timeout` (or `blocking_wait_timeout`) expired.
    TimedOut,
    /// The barrier's action panicked (the panic was caught).
    ActionPanicked,
}

/// A [`Barrier`] wait failed: the barrier is or became broken (see
/// [`cause`](Self::cause)).
///
/// ```
/// use corral::sync::Barrier;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let b = Barrier::new(2);
/// b.abort();
/// let err = b.wait().await.unwrap_err();
/// assert_eq!(err.to_string(), "barrier broken: aborted");
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokenBarrier {
    cause: BrokenCause,
}

impl BrokenBarrier {
    /// What broke the barrier.
    ///
    /// ```
    /// use corral::sync::{Barrier, BrokenCause};
    /// let b = Barrier::new(2);
    /// b.abort();
    /// assert_eq!(b.blocking_wait().unwrap_err().cause(), BrokenCause::Aborted);
    /// ```
    pub fn cause(&self) -> BrokenCause {
        self.cause
    }
}

impl fmt::Display for BrokenBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.cause {
            BrokenCause::Aborted => "barrier broken: aborted",
            BrokenCause::Reset => "barrier broken: reset while waiting",
            BrokenCause::TimedOut => "barrier broken: a party timed out",
            BrokenCause::ActionPanicked => "barrier broken: its action panicked",
        })
    }
}

impl std::error::Error for BrokenBarrier {}

/// Why a `wait_timeout` / `blocking_wait_timeout` failed.
///
/// ```
/// use corral::sync::{Barrier, BarrierTimeoutError, BrokenCause};
/// use std::time::Duration;
/// let b = Barrier::new(2);
/// let err = b.blocking_wait_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, BarrierTimeoutError::TimedOut);
/// // Its expiry broke the barrier for everyone, as threading's does.
/// assert_eq!(b.blocking_wait().unwrap_err().cause(), BrokenCause::TimedOut);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BarrierTimeoutError {
    /// This wait's timeout expired (and broke the barrier).
    TimedOut,
    /// The barrier is or became broken for another reason (or by another
    /// party's timeout).
    Broken(BrokenBarrier),
}

impl fmt::Display for BarrierTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BarrierTimeoutError::TimedOut => {
                f.write_str("timed out waiting at the barrier (it is broken now)")
            }
            BarrierTimeoutError::Broken(b) => b.fmt(f),
        }
    }
}

impl std::error::Error for BarrierTimeoutError {}

impl From<BrokenBarrier> for BarrierTimeoutError {
    fn from(b: BrokenBarrier) -> Self {
        BarrierTimeoutError::Broken(b)
    }
}

/// A snapshot of a [`Barrier`], from [`Barrier::statistics`].
///
/// ```
/// let b = corral::sync::Barrier::new(3);
/// let s = b.statistics();
/// assert_eq!((s.parties, s.n_waiting, s.broken, s.cycles), (3, 0, false, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BarrierStatistics {
    /// Parties needed per cycle.
    pub parties: usize,
    /// Parties of the filling cycle that wait (threading's `n_waiting`).
    pub n_waiting: usize,
    /// Tasks and threads queued at the barrier: `n_waiting`, plus those
    /// released but not yet woken, plus those waiting for an action to
    /// finish (AnyIO's name).
    pub tasks_waiting: usize,
    /// The barrier is broken (until [`Barrier::reset`]).
    pub broken: bool,
    /// Cycles completed so far.
    pub cycles: u64,
    /// Where the barrier was created.
    pub created_at: &'static Location<'static>,
}

impl Barrier {
    /// A barrier for `parties` tasks or threads (0 behaves as 1). Records
    /// the caller's location for statistics and diagnostics.
    ///
    /// ```
    /// let b = corral::sync::Barrier::new(4);
    /// assert_eq!(b.parties(), 4);
    /// assert_eq!(corral::sync::Barrier::new(0).parties(), 1);
    /// ```
    #[track_caller]
    pub fn new(parties: usize) -> Self {
        Self::build(parties, None)
    }

    /// A barrier whose `action` runs once per cycle, in the last arriving
    /// task or thread, before any party leaves. A panic in `action` is
    /// caught and breaks the barrier ([`BrokenCause::ActionPanicked`]).
    ///
    /// The action runs inside that task's poll (or that thread's
    /// `blocking_wait`), without the barrier's lock: keep it short, as any
    /// code between two awaits; it may call the barrier's own methods.
    ///
    /// ```
    /// use corral::sync::Barrier;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let cycles = Arc::new(AtomicUsize::new(0));
    /// let c = cycles.clone();
    /// let b = Arc::new(Barrier::with_action(2, move || {
    ///     c.fetch_add(1, Ordering::SeqCst);
    /// }));
    /// let b2 = b.clone();
    /// let other = corral::spawn(async move { b2.wait().await.unwrap() });
    /// b.wait().await.unwrap();
    /// other.await.unwrap();
    /// assert_eq!(cycles.load(Ordering::SeqCst), 1);
    /// # });
    /// ```
    #[track_caller]
    pub fn with_action<F>(parties: usize, action: F) -> Self
    where
        F: FnMut() + Send + 'static,
    {
        Self::build(parties, Some(Box::new(action)))
    }

    #[track_caller]
    fn build(parties: usize, action: Option<Action>) -> Self {
        Barrier {
            state: Lock::new(State {
                parties: parties.max(1),
                generation: 0,
                cycles: 0,
                arrived: 0,
                broken: None,
                completing: false,
                action,
                waiters: WaitList::new(),
                entering: WaitList::new(),
            }),
            created_at: Location::caller(),
        }
    }

    /// Parties needed per cycle.
    ///
    /// ```
    /// assert_eq!(corral::sync::Barrier::new(3).parties(), 3);
    /// ```
    pub fn parties(&self) -> usize {
        self.state.lock().parties
    }

    /// Parties of the filling cycle waiting right now.
    ///
    /// ```
    /// assert_eq!(corral::sync::Barrier::new(3).n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.state.lock().arrived
    }

    /// True while the barrier is broken (after [`abort`](Self::abort), an
    /// expired timeout or a panicking action, until [`reset`](Self::reset)).
    ///
    /// ```
    /// let b = corral::sync::Barrier::new(3);
    /// b.abort();
    /// assert!(b.is_broken());
    /// b.reset();
    /// assert!(!b.is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
        self.state.lock().broken.is_some()
    }

    /// Where this barrier was created (`#[track_caller]` on the
    /// constructors).
    ///
    /// ```
    /// let b = corral::sync::Barrier::new(2);
    /// println!("created at {}", b.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.created_at
    }

    /// A snapshot of the barrier's state.
    ///
    /// ```
    /// let b = corral::sync::Barrier::new(2);
    /// b.abort();
    /// assert!(b.statistics().broken);
    /// ```
    pub fn statistics(&self) -> BarrierStatistics {
        let st = self.state.lock();
        BarrierStatistics {
            parties: st.parties,
            n_waiting: st.arrived,
            tasks_waiting: st.waiters.len() + st.entering.len(),
            broken: st.broken.is_some(),
            cycles: st.cycles,
            created_at: self.created_at,
        }
    }

    /// Breaks the barrier: the waiting parties, and every later wait, get
    /// [`BrokenBarrier`] ([`BrokenCause::Aborted`]) until
    /// [`reset`](Self::reset). Use it to free the parties when one of
    /// them cannot come.
    ///
    /// ```
    /// use corral::sync::Barrier;
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let b = Arc::new(Barrier::new(2));
    /// let b2 = b.clone();
    /// let waiter = corral::spawn(async move { b2.wait().await });
    /// while b.n_waiting() == 0 {
    ///     corral::yield_now().await;
    /// }
    /// b.abort();
    /// assert!(waiter.await.unwrap().is_err());
    /// # });
    /// ```
    pub fn abort(&self) {
        self.break_barrier(self.state.lock(), BrokenCause::Aborted, false);
    }

    /// Makes the barrier usable again: the parties waiting now get
    /// [`BrokenBarrier`] ([`BrokenCause::Reset`]); later waits start a
    /// fresh cycle. Clears a broken state.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let b = corral::sync::Barrier::new(1);
    /// b.abort();
    /// assert!(b.wait().await.is_err());
    /// b.reset();
    /// assert!(b.wait().await.is_ok());
    /// # });
    /// ```
    pub fn reset(&self) {
        self.break_barrier(self.state.lock(), BrokenCause::Reset, true);
    }

    fn break_barrier(&self, mut st: LockGuard<'_, State>, cause: BrokenCause, reset: bool) {
        st.break_waiting(cause);
        st.broken = if reset { None } else { Some(cause) };
        self.wake_released(st);
    }

    /// Wakes the decided slots and (unless an action runs) the entering
    /// ones, in chunks, after releasing `st`.
    fn wake_released(&self, st: LockGuard<'_, State>) {
        let mut first = Some(st);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state.lock()),
            |st, batch| st.fill_released(batch),
        );
    }

    /// Arrives with `node` (idle, not queued), under `st`. `enqueue` puts
    /// the node into the list it is given (a task's or a thread's way).
    fn arrive(
        &self,
        mut st: LockGuard<'_, State>,
        node: Pin<&WaitNode<Slot>>,
        enqueue: impl FnOnce(&mut WaitList<Slot>),
    ) -> Arrival {
        if let Some(cause) = st.broken {
            return Arrival::Done(Err(BrokenBarrier { cause }));
        }
        if st.completing {
            // SAFETY: not queued: the payload is ours (the owner's).
            unsafe { st.entering.value_of(node) }.phase = Phase::Entering;
            enqueue(&mut st.entering);
            return Arrival::Queued;
        }
        if st.arrived + 1 < st.parties {
            st.arrived += 1;
            // SAFETY: as above.
            *unsafe { st.waiters.value_of(node) } = Slot::NEW;
            enqueue(&mut st.waiters);
            return Arrival::Queued;
        }
        // The last arrival: the cycle is complete.
        let me = st.parties - 1;
        st.arrived = 0;
        st.generation += 1;
        let action = st.action.take();
        let phase = if action.is_some() {
            Phase::Held
        } else {
            Phase::Passed
        };
        let mut index = 0;
        for slot in st.waiters.iter_mut() {
            if slot.phase == Phase::Waiting {
                slot.index = index;
                slot.phase = phase;
                index += 1;
            }
        }
        debug_assert_eq!(index, me, "barrier count out of step with its waiters");
        match action {
            None => {
                st.cycles += 1;
                self.wake_released(st);
                Arrival::Done(Ok(BarrierWaitResult {
                    is_leader: true,
                    index: me,
                }))
            }
            Some(action) => {
                st.completing = true;
                Arrival::RunAction(action, me)
            }
        }
    }

    /// Runs the action (no lock held), then releases the held parties.
    fn run_action(&self, mut action: Action, me: usize) -> Result<BarrierWaitResult, BrokenBarrier> {
        let panicked = panic::catch_unwind(AssertUnwindSafe(&mut action)).is_err();
        let mut st = self.state.lock();
        st.action = Some(action);
        st.completing = false;
        let phase = if panicked {
            Phase::Broken(BrokenCause::ActionPanicked)
        } else {
            Phase::Passed
        };
        for slot in st.waiters.iter_mut() {
            if slot.phase == Phase::Held {
                slot.phase = phase;
            }
        }
        let result = if panicked {
            st.broken = Some(BrokenCause::ActionPanicked);
            Err(BrokenBarrier {
                cause: BrokenCause::ActionPanicked,
            })
        } else {
            st.cycles += 1;
            Ok(BarrierWaitResult {
                is_leader: true,
                index: me,
            })
        };
        self.wake_released(st);
        result
    }

    /// A timed-out waiter leaves: `Some(result)` to return, or None if
    /// its cycle is complete and the action runs (wait on for it).
    fn time_out(&self, node: Pin<&WaitNode<Slot>>) -> Option<Result<BarrierWaitResult, BarrierTimeoutError>> {
        let mut st = self.state.lock();
        if node.is_queued() {
            // SAFETY: queued in this barrier's lists; lock held.
            if unsafe { st.waiters.value_of(node) }.phase == Phase::Held {
                return None;
            }
        }
        // SAFETY: the node is queued in one of this barrier's lists, or in
        // none; lock held.
        let removed = unsafe { remove_any(&mut st, node) };
        // SAFETY: no longer queued: the payload is ours.
        let slot = unsafe { st.waiters.value_of(node) };
        let (phase, index) = (slot.phase, slot.index);
        match (removed, phase) {
            (Removed::Notified | Removed::Unlinked { .. }, Phase::Passed | Phase::Broken(_)) => {
                // Released before the timeout was seen: keep the outcome.
                drop(st);
                let slot = Slot { index, phase };
                Some(slot.outcome().expect("decided").map_err(Into::into))
            }
            (Removed::Unlinked { .. }, Phase::Waiting) => {
                // Arrived in the filling cycle: leave it, and break it.
                st.arrived -= 1;
                self.break_barrier(st, BrokenCause::TimedOut, false);
                Some(Err(BarrierTimeoutError::TimedOut))
            }
            _ => {
                // Not arrived (entering, or not queued yet): the timeout
                // still breaks the barrier, as threading's does.
                self.break_barrier(st, BrokenCause::TimedOut, false);
                Some(Err(BarrierTimeoutError::TimedOut))
            }
        }
    }

    /// Waits until `parties` parties arrived (this one included), or the
    /// barrier breaks.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future leaves the barrier and no longer
    /// counts toward the cycle (the cycle still needs `parties`
    /// arrivals). Dropped after its cycle completed, it has nothing to
    /// pass on; the others are released as usual.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrier`] if the barrier is broken, or breaks while
    /// waiting ([`abort`](Self::abort), [`reset`](Self::reset), another
    /// party's timeout, a panicking action).
    ///
    /// ```
    /// use corral::sync::Barrier;
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let b = Arc::new(Barrier::new(2));
    /// let b2 = b.clone();
    /// let t = corral::spawn(async move { b2.wait().await.unwrap().index });
    /// let mine = b.wait().await.unwrap().index;
    /// assert_eq!(mine + t.await.unwrap(), 1); // indices 0 and 1
    /// # });
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            node: WaitNode::new(Slot::NEW),
            result: None,
        }
    }

    /// As [`wait`](Self::wait), but gives up after `timeout`; expiry
    /// breaks the barrier for everyone ([`BrokenCause::TimedOut`]), as
    /// `threading.Barrier.wait(timeout)` does. A timeout that expires after
    /// this party's cycle completed (while the action runs) does not
    /// count: the party passes.
    ///
    /// Needs a corral runtime for its timer (as
    /// [`corral::time::timeout`](corral_runtime::time::timeout)); from
    /// other executors use [`blocking_wait_timeout`](Self::blocking_wait_timeout)
    /// on a thread, or [`wait`](Self::wait) under that executor's timeout
    /// (which then only cancels, without breaking the barrier).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Errors
    ///
    /// [`BarrierTimeoutError::TimedOut`] if this wait expired;
    /// [`BarrierTimeoutError::Broken`] as [`wait`](Self::wait)'s errors.
    ///
    /// # Panics
    ///
    /// When polled outside a corral runtime (its timer).
    ///
    /// ```
    /// use corral::sync::{Barrier, BarrierTimeoutError};
    /// use std::time::Duration;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let b = Barrier::new(2);
    /// let r = b.wait_timeout(Duration::from_millis(5)).await;
    /// assert_eq!(r.unwrap_err(), BarrierTimeoutError::TimedOut);
    /// assert!(b.is_broken());
    /// # });
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> BarrierWaitTimeout<'_> {
        BarrierWaitTimeout {
            wait: self.wait(),
            timeout,
            sleep: None,
            expired: false,
            timed_out: false,
        }
    }

    /// Blocks the current thread until `parties` parties arrived, or the
    /// barrier breaks. For plain threads; they mix with tasks.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): `.await` [`wait`](Self::wait) there.
    ///
    /// ```
    /// use corral::sync::Barrier;
    /// use std::sync::Arc;
    /// let b = Arc::new(Barrier::new(2));
    /// let b2 = b.clone();
    /// let t = std::thread::spawn(move || b2.blocking_wait().unwrap());
    /// let mine = b.blocking_wait().unwrap();
    /// assert!(mine.is_leader ^ t.join().unwrap().is_leader);
    /// ```
    #[track_caller]
    pub fn blocking_wait(&self) -> Result<BarrierWaitResult, BrokenBarrier> {
        assert_may_block("Barrier::blocking_wait");
        self.blocking(None).map_err(|e| match e {
            BarrierTimeoutError::Broken(b) => b,
            BarrierTimeoutError::TimedOut => unreachable!("no deadline"),
        })
    }

    /// As [`blocking_wait`](Self::blocking_wait), but gives up after
    /// `timeout`, breaking the barrier, as threading's `wait(timeout)`.
    ///
    /// # Errors
    ///
    /// As [`wait_timeout`](Self::wait_timeout).
    ///
    /// # Panics
    ///
    /// As [`blocking_wait`](Self::blocking_wait).
    ///
    /// ```
    /// use corral::sync::{Barrier, BarrierTimeoutError};
    /// use std::time::Duration;
    /// let b = Barrier::new(2);
    /// let err = b.blocking_wait_timeout(Duration::from_millis(2)).unwrap_err();
    /// assert_eq!(err, BarrierTimeoutError::TimedOut);
    /// ```
    #[track_caller]
    pub fn blocking_wait_timeout(&self, timeout: Duration) -> Result<BarrierWaitResult, BarrierTimeoutError> {
        assert_may_block("Barrier::blocking_wait_timeout");
        self.blocking(Instant::now().checked_add(timeout))
    }

    fn blocking(&self, mut deadline: Option<Instant>) -> Result<BarrierWaitResult, BarrierTimeoutError> {
        let mut node = pin!(WaitNode::new(Slot::NEW));
        loop {
            let st = self.state.lock();
            let n = node.as_ref();
            // SAFETY: the node is in no list; it goes only into this
            // barrier's lists, under this lock, and leaves them (woken, or
            // removed by `time_out`) before this function returns.
            match self.arrive(st, n, |list| unsafe { list.push_back_thread(n) }) {
                Arrival::Done(r) => return r.map_err(Into::into),
                Arrival::RunAction(action, me) => return self.run_action(action, me).map_err(Into::into),
                Arrival::Queued => {}
            }
            let notified = node.as_ref().park_until(deadline);
            if !notified {
                match self.time_out(node.as_ref()) {
                    Some(r) => return r,
                    None => {
                        // Held: the cycle passed; wait for the action.
                        deadline = None;
                        node.as_ref().park_until_notified();
                    }
                }
            }
            let slot = node.as_mut().value_mut().expect("a notified node is not queued");
            if let Some(r) = slot.outcome() {
                return r.map_err(Into::into);
            }
            // Entering: arrive again.
        }
    }
}

/// Removes `node` from whichever of the barrier's lists holds it.
///
/// # Safety
///
/// `node` is queued in `st.waiters`, in `st.entering`, or in neither;
/// the lock is held (`st`).
unsafe fn remove_any(st: &mut State, node: Pin<&WaitNode<Slot>>) -> Removed {
    if node.is_queued() {
        // SAFETY: queued in one of our lists, lock held: the payload is
        // readable under the lock.
        let entering = unsafe { st.waiters.value_of(node) }.phase == Phase::Entering;
        let list = if entering {
            &mut st.entering
        } else {
            &mut st.waiters
        };
        // SAFETY: an Entering slot is only ever queued in `entering`, any
        // other in `waiters`; lock held.
        unsafe { list.remove(node) }
    } else {
        // SAFETY: in no list: `remove` only reads its state.
        unsafe { st.waiters.remove(node) }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("Barrier")
            .field("parties", &st.parties)
            .field("n_waiting", &st.arrived)
            .field("broken", &st.broken)
            .field("cycles", &st.cycles)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}
