//! [`CapacityLimiter`]: AnyIO's capacity limiter, a pool of tokens that
//! each *borrower* (a task, a thread, a blocking job, or any key) holds at
//! most one of, with its RAII [`CapacityToken`] and its statistics.
//!
//! # State, and who may touch it
//!
//! One short lock (`state`) guards `total` (the tokens there are),
//! `borrowed` (the tokens handed out, which may exceed `total` after it was
//! lowered), `keys` (every known borrower with its *ticket*), the
//! [`WaitList`] of waiters, and the ticket counters `next_ticket` and
//! `granted`. A waiter's payload is its ticket and its table hint (below);
//! its borrower [`Key`] sits beside the node in the waiter future, where
//! only the waiter reads it (to give up its place or its token), and the
//! map holds a copy, so an acquire twice by the same borrower is refused
//! at once, whether it holds or waits.
//!
//! # Tickets: holding or waiting without a second lookup
//!
//! A token taken on the fast path is recorded with ticket 0; a waiter gets
//! the next ticket (`next_ticket`, from 1, rising in queue order). A
//! borrower *holds* iff its ticket is below the watermark `granted`, else
//! it waits. Grants go strictly in queue order (the head first, see
//! below), so granting the head just sets `granted` to its ticket + 1: the
//! handoff touches no map entry. Every ticket below the watermark belongs
//! to a holder or to a borrower already gone (a cancelled waiter leaves
//! the map), every queued waiter's ticket is at or above it. One cycle
//! (queue, be granted, release) costs two map operations: an insert and a
//! remove. Task keys, the common case, live in a table of their own keyed
//! by the task [`Id`] (`task_table.rs`: one multiplication to hash, linear
//! probing, a released entry marked gone and reused in place by the
//! task's next acquire), so the exact borrower check (acquiring twice,
//! releasing what one does not hold: both typed errors) costs one short
//! probe on the way in. The way out needs none: the entry's slot (a
//! [`Hint`]) travels from `enter` in the waiter's payload (or straight
//! from the fast path) to the [`CapacityToken`], and the release looks
//! there first; a slot that no longer holds the task's id (the table was
//! rebuilt meanwhile) falls back to a probe, so a stale hint costs time,
//! never correctness. A release by key (`release`, `release_on_behalf_of`)
//! has no hint and probes.
//!
//! `acquire()` is a hand-written future (`AcquireToken` over the shared
//! `AcquireKey`) rather than an `async fn`: it names its borrower at its
//! first poll (the task that polls it, as an `async fn` body would) and
//! moves the key from the future into the token without a clone. Why it
//! matters: see the `capacity_limiter_4_of_64` row in
//! `docs/performance.md`.
//!
//! It is its own engine on the wait hook rather than a
//! [`RawSemaphore`](crate::raw): tokens are named (the borrower set), and
//! lowering the total takes nothing back but leaves `borrowed` above it,
//! which a semaphore's permit count cannot express.
//!
//! # Invariant: no barging
//!
//! `borrowed < total` only while nobody waits. Every release, every raise
//! of the total and every cancelled handoff goes through
//! [`State::dispatch`], which grants tokens to the head of the queue while
//! `borrowed < total`: it moves the watermark past the head's ticket (its
//! key now reads as holding), counts the token as borrowed and wakes it
//! (`wake_front`: it runs next on the waking worker). The token is therefore already the waiter's when it is
//! woken: a `try_acquire` that runs before the waiter is polled finds no
//! free token. The fast paths (first poll, `try_acquire*`) take a token
//! only when nobody waits.
//!
//! # Cancellation (the handoff-or-pass-on rule)
//!
//! A waiting [`AcquireKey`] dropped locks the state and calls
//! [`WaitList::remove`]:
//!
//! - `Removed::Unlinked`: no token reached it; its key leaves the map.
//!   Nobody behind it becomes servable (one token per waiter, and the
//!   invariant says none is free), so there is nothing to dispatch.
//! - `Removed::Notified`: it was granted a token; the key leaves the map,
//!   the token comes back, and `dispatch` passes it to the next waiter (if
//!   `borrowed` is still below `total`).
//! - `Removed::NotQueued`: nothing to do.
//!
//! A blocking acquire that times out does the same, except that a
//! `Notified` race is kept (reported as success).

mod error;
mod key;
mod task_table;

pub use error::{BlockingBorrowError, BorrowError, ReleaseTokenError, TryBorrowError};
pub use key::Borrower;

use crate::loom::{Lock, LockGuard};
use corral_runtime::coop;
use corral_runtime::task::Id;
use corral_runtime::task::JoinError;
use corral_runtime::wait::{assert_may_block, Removed, WaitList, WaitNode, WakeBatch};
use corral_runtime::Handle;
use key::{describe_to_string, DynKey, Key, KeyMap};
use std::borrow::Borrow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::panic::Location;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};
use task_table::{Hint, TaskTable};

/// A borrower's ticket: its place in the grant order. A borrower holds a
/// token iff its ticket is below [`State::granted`]; a waiter's ticket is
/// at or above it. A token taken on the fast path has ticket
/// [`State::DIRECT`] (0), below every watermark.
type Ticket = u64;

/// A waiter's payload: its ticket and its table hint (both set when it is
/// queued). Who waits is not here but beside the node, in the future
/// ([`AcquireKey::key`]): only the waiter reads it (to give up its place
/// or its token), never the list.
#[derive(Default)]
struct Waiting {
    ticket: Ticket,
    hint: Hint,
}

/// How [`State::enter`] admitted a borrower.
enum Entered {
    /// It holds a token now (taken without queueing).
    Now(Hint),
    /// It was recorded as waiting with this ticket: queue its node.
    Queued(Ticket, Hint),
}

/// Every known borrower and its ticket. Task keys (the common case: an
/// `acquire` borrows as the current task) live in a table of their own
/// ([`TaskTable`]: one multiplication to hash, linear probing, no type
/// test); every other key lives in `others` (never a task key:
/// [`Key::from_value`] stores an [`Id`] as a task key, and a lookup by a
/// user's `&Id` goes to `tasks`). A borrower's entry lives from its
/// acquire (or queueing) to its release (or cancellation).
#[derive(Default)]
struct Tickets {
    tasks: TaskTable,
    others: KeyMap<Ticket>,
}

/// A borrower to look up: a stored [`Key`], or a user's `&K` by its view.
#[derive(Clone, Copy)]
enum Lookup<'a> {
    Task(Id),
    Other(&'a dyn DynKey),
}

impl<'a> Lookup<'a> {
    fn of_key(key: &'a Key) -> Self {
        match key {
            Key::Task(id) => Lookup::Task(*id),
            k => Lookup::Other(k.as_dyn()),
        }
    }

    fn of_dyn(key: &'a dyn DynKey) -> Self {
        match key.as_any().downcast_ref::<Id>() {
            Some(id) => Lookup::Task(*id),
            None => Lookup::Other(key),
        }
    }

    fn describe(self) -> String {
        match self {
            Lookup::Task(id) => describe_to_string(&id),
            Lookup::Other(k) => describe_to_string(k),
        }
    }
}

/// Records `k` with `fresh` (if given) unless it is known: then returns
/// its ticket and its key. One hash lookup (the key is cloned for it: an
/// `Arc` count for a user's key, a copy for the others).
fn admit_in<S: BuildHasher>(
    map: &mut HashMap<Key, Ticket, S>,
    k: &Key,
    fresh: Option<Ticket>,
) -> Result<(), (Ticket, Key)> {
    match map.entry(k.clone()) {
        Entry::Occupied(e) => Err((*e.get(), e.key().clone())),
        Entry::Vacant(v) => {
            if let Some(t) = fresh {
                v.insert(t);
            }
            Ok(())
        }
    }
}

/// Removes `q` if its ticket is below `granted` (it holds); a waiter stays.
/// One hash lookup on the holder's path.
fn take_back_in<K, Q, S>(map: &mut HashMap<K, Ticket, S>, q: &Q, granted: Ticket) -> bool
where
    K: Hash + Eq + Borrow<Q>,
    Q: ?Sized + Hash + Eq,
    S: BuildHasher,
{
    match map.remove_entry(q) {
        Some((_, t)) if t < granted => true,
        Some((k, t)) => {
            // Waiting is not holding: put it back, untouched.
            map.insert(k, t);
            false
        }
        None => false,
    }
}

impl Tickets {
    /// Records `key` with `fresh` (if given) unless it is known. `Ok`: the
    /// [`Hint`] for its removal (task keys; [`Hint::NONE`] for others).
    #[inline]
    fn admit(&mut self, key: &Key, fresh: Option<Ticket>) -> Result<Hint, (Ticket, Key)> {
        match *key {
            Key::Task(id) => self.tasks.admit(id, fresh).map_err(|t| (t, Key::Task(id))),
            _ => admit_in(&mut self.others, key, fresh).map(|()| Hint::NONE),
        }
    }

    #[inline]
    fn take_back(&mut self, who: Lookup<'_>, hint: Hint, granted: Ticket) -> bool {
        match who {
            // Only a holder gives a token back; a waiter stays.
            Lookup::Task(id) => self.tasks.remove_if(id, hint, |t| t < granted),
            Lookup::Other(k) => take_back_in(&mut self.others, k, granted),
        }
    }

    fn forget(&mut self, key: &Key, hint: Hint) {
        match key {
            Key::Task(id) => {
                self.tasks.remove(*id, hint);
            }
            k => {
                self.others.remove(k);
            }
        }
    }

    fn holders(&self, granted: Ticket) -> impl Iterator<Item = Borrower> + '_ {
        let tasks = self.tasks.iter().map(|(id, t)| (Key::Task(id), t));
        let others = self.others.iter().map(|(k, t)| (k.clone(), *t));
        tasks
            .chain(others)
            .filter(move |(_, t)| *t < granted)
            .map(|(k, _)| Borrower(k))
    }
}

struct State {
    total: usize,
    borrowed: usize,
    keys: Tickets,
    waiters: WaitList<Waiting>,
    /// The next waiter's ticket (tickets rise in queue order).
    next_ticket: Ticket,
    /// The grant watermark: one past the last granted waiter's ticket.
    granted: Ticket,
}

impl State {
    /// The ticket of a token taken without queueing.
    const DIRECT: Ticket = 0;

    /// Whether the borrower with `ticket` holds a token (else it waits).
    fn holds(&self, ticket: Ticket) -> bool {
        ticket < self.granted
    }

    /// Admits `key`: a token now if one is free and nobody waits
    /// ([`Entered::Now`]), else, if `queue`, records it as waiting and
    /// returns its ticket ([`Entered::Queued`]: the caller stores it in its
    /// node and queues the node). Refuses a borrower that already holds or
    /// waits. One table probe (task keys) or hash lookup.
    #[inline]
    fn enter(&mut self, key: &Key, queue: bool) -> Result<Entered, TryBorrowError> {
        let free = self.waiters.is_empty() && self.borrowed < self.total;
        let fresh = if free {
            Some(Self::DIRECT)
        } else if queue {
            Some(self.next_ticket)
        } else {
            None
        };
        let hint = match self.keys.admit(key, fresh) {
            Ok(hint) => hint,
            Err((t, k)) => {
                let who = Borrower(k);
                return Err(if self.holds(t) {
                    TryBorrowError::AlreadyBorrowing(who)
                } else {
                    TryBorrowError::AlreadyWaiting(who)
                });
            }
        };
        match fresh {
            None => Err(TryBorrowError::NoTokens),
            Some(Self::DIRECT) => {
                self.borrowed += 1;
                Ok(Entered::Now(hint))
            }
            Some(ticket) => {
                self.next_ticket += 1;
                Ok(Entered::Queued(ticket, hint))
            }
        }
    }

    /// Grants free tokens to the waiters, front first, and marks them for
    /// waking. Returns true if more could be served but the batch is full
    /// (wake it, lock again, call once more).
    ///
    /// No map lookup: granting the front waiter moves the watermark past
    /// its ticket, which turns its map entry into a holder's. Grants go in
    /// queue order and tickets rise in queue order, so every ticket below
    /// the watermark belongs to a holder or to a borrower already gone.
    fn dispatch(&mut self, batch: &mut WakeBatch) -> bool {
        while self.borrowed < self.total {
            let Some(front) = self.waiters.front_mut() else {
                return false;
            };
            if batch.is_full() {
                return true;
            }
            debug_assert!(front.ticket >= self.granted);
            self.granted = front.ticket + 1;
            self.borrowed += 1;
            self.waiters.wake_front(batch);
        }
        false
    }

    /// Takes `key`'s token back. Ok(true): a waiter may be servable now.
    /// `key` is a stored [`Key`] or, for a user's `&K`, its `dyn` view;
    /// `hint` where its entry was put, if known.
    #[inline]
    fn take_back(&mut self, who: Lookup<'_>, hint: Hint) -> Result<bool, ()> {
        if !self.keys.take_back(who, hint, self.granted) {
            return Err(());
        }
        self.borrowed -= 1;
        Ok(!self.waiters.is_empty() && self.borrowed < self.total)
    }
}

/// The error of an async or blocking acquire (which always queue, so never
/// see `NoTokens`).
fn queued_error(e: TryBorrowError) -> BorrowError {
    match e {
        TryBorrowError::AlreadyBorrowing(b) => BorrowError::AlreadyBorrowing(b),
        TryBorrowError::AlreadyWaiting(b) => BorrowError::AlreadyWaiting(b),
        TryBorrowError::NoTokens => {
            unreachable!("an acquire that may queue is never refused for lack of tokens")
        }
    }
}

/// AnyIO's capacity limiter: at most `total_tokens` borrowers at once, each
/// holding at most one token.
///
/// A semaphore that knows *who* holds its permits: a borrower is the
/// current corral task (for [`acquire`](Self::acquire) and friends), a
/// thread, a [`run_sync`](Self::run_sync) job, or any key given to the
/// `*_on_behalf_of` methods (`Hash + Eq + Send + Sync + 'static`: a name, an
/// id, a request). The total can be changed while tokens are out.
///
/// # Semantics, and the choices made
///
/// - **One token per borrower.** A borrower that acquires again while it
///   holds a token, or while another acquire of it still waits, gets
///   [`BorrowError::AlreadyBorrowing`] / [`BorrowError::AlreadyWaiting`]
///   *at once*, even when no token is free (AnyIO raises `RuntimeError`
///   for the first; it does not notice the second, we refuse it). A
///   release by a borrower that holds nothing is [`ReleaseTokenError`].
/// - **Fair, FIFO, direct handoff.** Waiters are served first come, first
///   served. A released token is granted to the first waiter before it is
///   woken (it runs next on the releasing worker), so a
///   [`try_acquire`](Self::try_acquire) arriving in between cannot snatch
///   it. A waiter cancelled after being granted a token passes it on.
/// - **Changing the total.** [`set_total_tokens`](Self::set_total_tokens)
///   may raise or lower it at run time. Raising wakes as many waiters as
///   tokens became free. Lowering takes nothing back: tokens out above the
///   new total stay with their borrowers and are simply not re-issued when
///   returned. (AnyIO wakes `new - old` waiters on a raise even while
///   lowering left more tokens out than the total; we never grant past the
///   total.) A total of 0 is allowed and admits nobody until raised (AnyIO
///   and trio refuse totals below 1; for us it is a pause switch).
/// - **Who "the current borrower" is.** Inside a corral task: the task (by
///   [`Id`](corral_runtime::task::Id)), whichever worker polls it.
///   A `corral::run_sync` closure runs as a task, so it is one too.
///   Outside a task (a plain thread, `block_on`, a future on another
///   executor): the current thread. The thread is the right identity for
///   blocking code and single-threaded executors; another executor that
///   runs several tasks per thread, or moves a task between threads, does
///   not match it: use the `*_on_behalf_of` methods there with a key of
///   your own. The [`CapacityToken`] guard remembers its borrower, so its
///   drop releases the right token even after a move.
/// - **Borrower keys are type-erased**: one limiter mixes tasks, threads
///   and keys of any types (as AnyIO mixes any objects). Keys compare by
///   type *and* value: `"job"` (a `&str`) and `String::from("job")` are
///   two borrowers. A task's [`Id`](corral_runtime::task::Id) given as a
///   key is that task.
/// - **Blocking work.** [`run_sync`](Self::run_sync) runs a closure on
///   corral's blocking pool under a token, borrowed by the job itself (as
///   trio's `to_thread_run_sync`), so a task may run several jobs at once.
/// - **Diagnostics.** The creation site and the borrowers are in
///   [`statistics`](Self::statistics).
///
/// ```
/// use corral::sync::CapacityLimiter;
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let limiter = Arc::new(CapacityLimiter::new(2)); // 2 at a time
/// let mut tasks = Vec::new();
/// for i in 0..5 {
///     let limiter = limiter.clone();
///     tasks.push(corral::spawn(async move {
///         let _token = limiter.acquire().await.unwrap();
///         assert!(limiter.borrowed_tokens() <= 2);
///         i
///     }));
/// }
/// for t in tasks {
///     t.await.unwrap();
/// }
/// assert_eq!(limiter.available_tokens(), 2);
/// # });
/// ```
pub struct CapacityLimiter {
    state: Lock<State>,
    created_at: &'static Location<'static>,
}

/// A snapshot of a [`CapacityLimiter`], from
/// [`CapacityLimiter::statistics`] (AnyIO's field names).
///
/// ```
/// let limiter = corral::sync::CapacityLimiter::new(3);
/// limiter.try_acquire_on_behalf_of("a").unwrap();
/// let stats = limiter.statistics();
/// assert_eq!((stats.borrowed_tokens, stats.total_tokens, stats.tasks_waiting), (1, 3, 0));
/// assert_eq!(stats.borrowers[0].to_string(), "\"a\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapacityLimiterStatistics {
    /// Tokens held (may exceed `total_tokens` after the total was lowered).
    pub borrowed_tokens: usize,
    /// The tokens there are.
    pub total_tokens: usize,
    /// Tasks and threads waiting for a token.
    pub tasks_waiting: usize,
    /// Who holds the tokens (in no particular order).
    pub borrowers: Vec<Borrower>,
    /// Where the limiter was created.
    pub created_at: &'static Location<'static>,
}

impl CapacityLimiter {
    /// A limiter with `total_tokens` tokens; records the caller's location.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(4);
    /// assert_eq!(limiter.total_tokens(), 4);
    /// assert!(limiter.created_at().file().ends_with(".rs"));
    /// ```
    #[track_caller]
    pub fn new(total_tokens: usize) -> Self {
        CapacityLimiter {
            state: Lock::new(State {
                total: total_tokens,
                borrowed: 0,
                keys: Tickets::default(),
                waiters: WaitList::new(),
                next_ticket: 1,
                granted: 1,
            }),
            created_at: Location::caller(),
        }
    }

    /// The tokens there are.
    ///
    /// ```
    /// assert_eq!(corral::sync::CapacityLimiter::new(3).total_tokens(), 3);
    /// ```
    pub fn total_tokens(&self) -> usize {
        self.state.lock().total
    }

    /// Changes the number of tokens. Raising it grants the new tokens to
    /// waiters (FIFO) at once; lowering it takes nothing back: tokens out
    /// above the new total are not re-issued when they are returned.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(2);
    /// limiter.try_acquire_on_behalf_of(1).unwrap();
    /// limiter.try_acquire_on_behalf_of(2).unwrap();
    /// limiter.set_total_tokens(1); // both keep their tokens
    /// assert_eq!((limiter.borrowed_tokens(), limiter.available_tokens()), (2, 0));
    /// limiter.release_on_behalf_of(&1).unwrap(); // not re-issued
    /// assert_eq!(limiter.available_tokens(), 0);
    /// limiter.set_total_tokens(3);
    /// assert_eq!(limiter.available_tokens(), 2);
    /// ```
    pub fn set_total_tokens(&self, total_tokens: usize) {
        let mut st = self.state.lock();
        st.total = total_tokens;
        if st.waiters.is_empty() || st.borrowed >= st.total {
            return;
        }
        self.dispatch_after(st);
    }

    /// Tokens held right now.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(2);
    /// let _t = limiter.try_acquire().unwrap();
    /// assert_eq!(limiter.borrowed_tokens(), 1);
    /// ```
    pub fn borrowed_tokens(&self) -> usize {
        self.state.lock().borrowed
    }

    /// Tokens free right now: `total - borrowed`, or 0 while more are out
    /// than the total.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(2);
    /// let _t = limiter.try_acquire().unwrap();
    /// assert_eq!(limiter.available_tokens(), 1);
    /// ```
    pub fn available_tokens(&self) -> usize {
        let st = self.state.lock();
        st.total.saturating_sub(st.borrowed)
    }

    /// Where this limiter was created.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// println!("created at {}", limiter.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.created_at
    }

    /// A snapshot: tokens borrowed and total, waiters, borrowers.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// let limiter = Arc::new(corral::sync::CapacityLimiter::new(1));
    /// let l = limiter.clone();
    /// let task = corral::spawn(async move {
    ///     let _token = l.acquire().await.unwrap();
    ///     l.statistics()
    /// });
    /// let id = task.id();
    /// let stats = task.await.unwrap();
    /// assert_eq!(stats.borrowed_tokens, 1);
    /// assert_eq!(stats.borrowers[0].task_id(), Some(id));
    /// assert_eq!(limiter.statistics().borrowed_tokens, 0);
    /// # });
    /// ```
    pub fn statistics(&self) -> CapacityLimiterStatistics {
        let st = self.state.lock();
        let borrowers = st.keys.holders(st.granted).collect();
        CapacityLimiterStatistics {
            borrowed_tokens: st.borrowed,
            total_tokens: st.total,
            tasks_waiting: st.waiters.len(),
            borrowers,
            created_at: self.created_at,
        }
    }

    /// Waits for a token for the current borrower (the corral task; outside
    /// a task, the thread: see the [type docs](Self)) and returns it as a
    /// guard that gives it back on drop (AnyIO's `async with limiter`).
    /// [`CapacityToken::detach`] keeps it for a manual
    /// [`release`](Self::release) instead (AnyIO's `acquire()`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe and fair: a dropped future gives up its place; if a
    /// token had already been granted to it, the token passes to the next
    /// waiter.
    ///
    /// # Errors
    ///
    /// [`BorrowError`] if the current borrower already holds a token or
    /// waits for one (at once, without waiting).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// let token = limiter.acquire().await.unwrap();
    /// assert!(limiter.acquire().await.is_err()); // the same borrower again
    /// drop(token);
    /// assert_eq!(limiter.available_tokens(), 1);
    /// # });
    /// ```
    pub fn acquire(&self) -> impl Future<Output = Result<CapacityToken<'_>, BorrowError>> + '_ {
        // The borrower is whoever polls it first (as an `async fn` body
        // would see it), not whoever called `acquire`.
        AcquireToken(AcquireKey {
            limiter: self,
            key: None,
            node: WaitNode::new(Waiting::default()),
        })
    }

    /// Takes a token for the current borrower if one is free and nobody
    /// waits (AnyIO's `acquire_nowait`).
    ///
    /// # Errors
    ///
    /// [`TryBorrowError::NoTokens`] if none is free (or others wait first);
    /// `AlreadyBorrowing` / `AlreadyWaiting` for a second acquire.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// let token = limiter.try_acquire().unwrap();
    /// assert!(limiter.try_acquire_on_behalf_of("other").is_err());
    /// drop(token);
    /// assert!(limiter.try_acquire_on_behalf_of("other").is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<CapacityToken<'_>, TryBorrowError> {
        let key = Key::current();
        let hint = self.try_acquire_key(&key)?;
        Ok(CapacityToken {
            limiter: self,
            key: Some(key),
            hint,
        })
    }

    /// Blocks the current thread until it holds a token (FIFO with the
    /// async waiters); the borrower is the current thread (inside a
    /// `corral::run_sync` closure, which runs as a task: that task).
    ///
    /// # Errors
    ///
    /// `AlreadyBorrowing` / `AlreadyWaiting` for a second acquire.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): blocking there would stall its tasks. Use
    /// [`acquire`](Self::acquire) there, or call this from `corral::run_sync`.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// let token = limiter.blocking_acquire().unwrap();
    /// assert_eq!(limiter.borrowed_tokens(), 1);
    /// drop(token);
    /// ```
    #[track_caller]
    pub fn blocking_acquire(&self) -> Result<CapacityToken<'_>, BlockingBorrowError> {
        let key = Key::current();
        let hint = self.blocking_acquire_key(&key, None, "CapacityLimiter::blocking_acquire")?;
        Ok(CapacityToken {
            limiter: self,
            key: Some(key),
            hint,
        })
    }

    /// As [`blocking_acquire`](Self::blocking_acquire), giving up after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`BlockingBorrowError::Timeout`] if no token was ours in time; as
    /// [`blocking_acquire`](Self::blocking_acquire) otherwise.
    ///
    /// # Panics
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire).
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// limiter.try_acquire_on_behalf_of("busy").unwrap();
    /// assert!(limiter.blocking_acquire_timeout(Duration::from_millis(5)).is_err());
    /// limiter.release_on_behalf_of(&"busy").unwrap();
    /// assert!(limiter.blocking_acquire_timeout(Duration::from_millis(5)).is_ok());
    /// ```
    #[track_caller]
    pub fn blocking_acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<CapacityToken<'_>, BlockingBorrowError> {
        let key = Key::current();
        let deadline = Instant::now().checked_add(timeout);
        let hint = self.blocking_acquire_key(&key, deadline, "CapacityLimiter::blocking_acquire_timeout")?;
        Ok(CapacityToken {
            limiter: self,
            key: Some(key),
            hint,
        })
    }

    /// Gives back the current borrower's token (one kept with
    /// [`CapacityToken::detach`]), granting it to the first waiter.
    ///
    /// # Errors
    ///
    /// [`ReleaseTokenError`] if the current borrower holds no token.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// limiter.acquire().await.unwrap().detach(); // AnyIO's acquire()
    /// assert_eq!(limiter.borrowed_tokens(), 1);
    /// limiter.release().unwrap();
    /// assert!(limiter.release().is_err()); // nothing left to release
    /// # });
    /// ```
    pub fn release(&self) -> Result<(), ReleaseTokenError> {
        self.release_key(Lookup::of_key(&Key::current()), Hint::NONE)
    }

    /// Waits for a token on behalf of `borrower` (any key: a name, a
    /// request id, a task's [`Id`](corral_runtime::task::Id)). Give it back
    /// with [`release_on_behalf_of`](Self::release_on_behalf_of).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire): a dropped future gives up its place
    /// and passes on a token already granted to it; `borrower` then holds
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`BorrowError`] if `borrower` already holds a token or waits for
    /// one (at once, without waiting).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let limiter = corral::sync::CapacityLimiter::new(2);
    /// limiter.acquire_on_behalf_of("indexer").await.unwrap();
    /// assert_eq!(limiter.borrowed_tokens(), 1);
    /// limiter.release_on_behalf_of(&"indexer").unwrap();
    /// # });
    /// ```
    pub async fn acquire_on_behalf_of<K>(&self, borrower: K) -> Result<(), BorrowError>
    where
        K: Hash + Eq + Send + Sync + 'static,
    {
        self.acquire_key(Key::from_value(borrower)).await.map(drop)
    }

    /// Takes a token on behalf of `borrower` if one is free and nobody
    /// waits.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// use corral::sync::{CapacityLimiter, TryBorrowError};
    /// let limiter = CapacityLimiter::new(1);
    /// limiter.try_acquire_on_behalf_of(String::from("a")).unwrap();
    /// assert_eq!(limiter.try_acquire_on_behalf_of("b"), Err(TryBorrowError::NoTokens));
    /// ```
    pub fn try_acquire_on_behalf_of<K>(&self, borrower: K) -> Result<(), TryBorrowError>
    where
        K: Hash + Eq + Send + Sync + 'static,
    {
        self.try_acquire_key(&Key::from_value(borrower)).map(drop)
    }

    /// Blocks the current thread until `borrower` holds a token.
    ///
    /// # Errors
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire).
    ///
    /// # Panics
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire).
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// limiter.blocking_acquire_on_behalf_of("loader").unwrap();
    /// limiter.release_on_behalf_of(&"loader").unwrap();
    /// ```
    #[track_caller]
    pub fn blocking_acquire_on_behalf_of<K>(&self, borrower: K) -> Result<(), BlockingBorrowError>
    where
        K: Hash + Eq + Send + Sync + 'static,
    {
        self.blocking_acquire_key(
            &Key::from_value(borrower),
            None,
            "CapacityLimiter::blocking_acquire_on_behalf_of",
        )
        .map(drop)
    }

    /// As [`blocking_acquire_on_behalf_of`](Self::blocking_acquire_on_behalf_of),
    /// giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As [`blocking_acquire_timeout`](Self::blocking_acquire_timeout).
    ///
    /// # Panics
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire).
    ///
    /// ```
    /// use corral::sync::{BlockingBorrowError, CapacityLimiter};
    /// use std::time::Duration;
    /// let limiter = CapacityLimiter::new(1);
    /// limiter.try_acquire_on_behalf_of(1).unwrap();
    /// let r = limiter.blocking_acquire_on_behalf_of_timeout(2, Duration::from_millis(5));
    /// assert_eq!(r, Err(BlockingBorrowError::Timeout));
    /// ```
    #[track_caller]
    pub fn blocking_acquire_on_behalf_of_timeout<K>(
        &self,
        borrower: K,
        timeout: Duration,
    ) -> Result<(), BlockingBorrowError>
    where
        K: Hash + Eq + Send + Sync + 'static,
    {
        let deadline = Instant::now().checked_add(timeout);
        self.blocking_acquire_key(
            &Key::from_value(borrower),
            deadline,
            "CapacityLimiter::blocking_acquire_on_behalf_of_timeout",
        )
        .map(drop)
    }

    /// Gives back `borrower`'s token, granting it to the first waiter (if
    /// the total still allows).
    ///
    /// # Errors
    ///
    /// [`ReleaseTokenError`] if `borrower` holds no token (keys compare by
    /// type and value: a token taken for `String::from("a")` is not
    /// released by `&"a"`).
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// limiter.try_acquire_on_behalf_of(7u64).unwrap();
    /// assert!(limiter.release_on_behalf_of(&7u32).is_err()); // another type
    /// limiter.release_on_behalf_of(&7u64).unwrap();
    /// ```
    pub fn release_on_behalf_of<K>(&self, borrower: &K) -> Result<(), ReleaseTokenError>
    where
        K: Hash + Eq + Send + Sync + 'static,
    {
        self.release_key(Lookup::of_dyn(borrower), Hint::NONE)
    }

    /// Runs `f` on corral's blocking pool while holding a token: waits for
    /// the token first (FIFO), and the token goes back when `f` returns or
    /// panics. The borrower is the job itself (shown as `blocking job N`),
    /// so one task may run several jobs at once under the limiter.
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting for the token: nothing ran, and a token
    /// already granted passes on. Dropped after `f` started: `f` runs to
    /// the end on the pool, holding its token until then (the limiter keeps
    /// counting what really runs).
    ///
    /// # Errors
    ///
    /// [`JoinError`] if `f` panicked (the token is released all the same),
    /// or the runtime shut down before it ran.
    ///
    /// # Panics
    ///
    /// Outside a corral runtime, as `corral::run_sync`.
    ///
    /// ```
    /// use corral::sync::CapacityLimiter;
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let limiter = Arc::new(CapacityLimiter::new(2));
    /// let jobs: Vec<_> = (0..4u64)
    ///     .map(|i| {
    ///         let limiter = limiter.clone();
    ///         corral::spawn(async move { limiter.run_sync(move || i * i).await.unwrap() })
    ///     })
    ///     .collect();
    /// let mut sum = 0;
    /// for j in jobs {
    ///     sum += j.await.unwrap();
    /// }
    /// assert_eq!(sum, 14);
    /// assert_eq!(limiter.borrowed_tokens(), 0);
    /// # });
    /// ```
    pub async fn run_sync<F, R>(self: &Arc<Self>, f: F) -> Result<R, JoinError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let handle = match Handle::try_current() {
            Ok(h) => h,
            Err(e) => panic!("CapacityLimiter::run_sync called outside a corral runtime: {e}"),
        };
        let key = Key::job();
        if let Err(e) = self.acquire_key(key.clone()).await {
            unreachable!("a fresh job key is never borrowed twice: {e}");
        }
        let token = OwnedToken {
            limiter: self.clone(),
            key: Some(key),
        };
        handle
            .run_sync(move || {
                let _token = token;
                f()
            })
            .await
    }

    /// The waiter future for `key`.
    fn acquire_key(&self, key: Key) -> AcquireKey<'_> {
        AcquireKey {
            limiter: self,
            key: Some(key),
            node: WaitNode::new(Waiting::default()),
        }
    }

    /// Takes a token for `key` now, if one is free and nobody waits.
    fn try_acquire_key(&self, key: &Key) -> Result<Hint, TryBorrowError> {
        match self.state.lock().enter(key, false)? {
            Entered::Now(hint) => Ok(hint),
            Entered::Queued(..) => unreachable!("an enter without queueing queued"),
        }
    }

    /// Gives `key`'s token back; `hint`: where its entry was put, if known.
    #[inline]
    fn release_key(&self, key: Lookup<'_>, hint: Hint) -> Result<(), ReleaseTokenError> {
        let mut st = self.state.lock();
        match st.take_back(key, hint) {
            Ok(false) => Ok(()),
            Ok(true) => {
                self.grant_one_after(st);
                Ok(())
            }
            Err(()) => {
                drop(st);
                Err(ReleaseTokenError {
                    borrower: key.describe(),
                })
            }
        }
    }

    /// Blocks the current (non-runtime) thread until `key` holds a token,
    /// or `deadline` passes.
    #[track_caller]
    fn blocking_acquire_key(
        &self,
        key: &Key,
        deadline: Option<Instant>,
        what: &str,
    ) -> Result<Hint, BlockingBorrowError> {
        assert_may_block(what);
        let mut node = pin!(WaitNode::new(Waiting::default()));
        {
            let mut guard = self.state.lock();
            let st = &mut *guard;
            let (ticket, hint) = match st.enter(key, true).map_err(queued_error)? {
                Entered::Now(hint) => return Ok(hint),
                Entered::Queued(ticket, hint) => (ticket, hint),
            };
            // SAFETY: not queued yet: the payload is ours.
            *unsafe { st.waiters.value_of(node.as_ref()) } = Waiting { ticket, hint };
            // SAFETY: the node is in no list; it only ever goes into this
            // one, under this lock, and leaves it (granted, or `remove`d
            // below) before this function returns and drops it.
            unsafe { st.waiters.push_back_thread(node.as_ref()) };
        }
        if node.as_ref().park_until(deadline) {
            return Ok(hint_of(node.as_mut()));
        }
        let mut guard = self.state.lock();
        let st = &mut *guard;
        // SAFETY: the node is queued in this list or in none; lock held.
        match unsafe { st.waiters.remove(node.as_ref()) } {
            // The grant raced the timeout: the token is ours, keep it.
            Removed::Notified => Ok(hint_of(node.as_mut())),
            Removed::Unlinked { .. } => {
                st.keys.forget(key, hint_of(node.as_mut()));
                Err(BlockingBorrowError::Timeout)
            }
            Removed::NotQueued => unreachable!("a blocking waiter lost its node"),
        }
    }

    /// Grants free tokens to the waiters, waking them after releasing `st`.
    /// After one token came back (a release, a cancelled grant): at most
    /// one waiter becomes servable (`borrowed < total` only while nobody
    /// waits), so one wake, without the chunk loop.
    #[inline]
    fn grant_one_after(&self, mut st: LockGuard<'_, State>) {
        let mut batch = WakeBatch::new();
        let more = st.dispatch(&mut batch);
        debug_assert!(!more && batch.len() <= 1, "one token serves one waiter");
        if more {
            // Cannot happen today (see above); should a change ever break
            // that, the rest still get their wake-ups.
            batch.wake_after(st);
            self.dispatch_after(self.state.lock());
            return;
        }
        batch.wake_after(st);
    }

    fn dispatch_after(&self, st: LockGuard<'_, State>) {
        let mut first = Some(st);
        WakeBatch::wake_in_chunks(
            || first.take().unwrap_or_else(|| self.state.lock()),
            |st, batch| st.dispatch(batch),
        );
    }
}

impl fmt::Debug for CapacityLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("CapacityLimiter")
            .field("total_tokens", &st.total)
            .field("borrowed_tokens", &st.borrowed)
            .field("tasks_waiting", &st.waiters.len())
            .field("created_at", &format_args!("{}", self.created_at))
            .finish()
    }
}

/// The table hint of a waiter's node that is in no list (granted, or
/// removed): the payload is its owner's again.
fn hint_of(node: Pin<&mut WaitNode<Waiting>>) -> Hint {
    node.value_mut().map_or(Hint::NONE, |w| w.hint)
}

/// The waiter future: takes a token for its key if one is free and nobody
/// waits (after spending one unit of the task's cooperative budget), or
/// queues; the grant arrives in `dispatch`. Its `Ok` is the table hint of
/// the borrower's entry, for the release. Dropping it while it waits
/// follows the cancellation rule in the [module docs](self).
struct AcquireKey<'a> {
    limiter: &'a CapacityLimiter,
    /// Who borrows; `None` until the first poll for the current borrower
    /// (`acquire()`: the task, or thread, that polls it). Beside the node,
    /// not in it: the list never reads it, so it needs no lock.
    key: Option<Key>,
    /// Structurally pinned; the other fields are not.
    node: WaitNode<Waiting>,
}

impl AcquireKey<'_> {
    /// The table hint of a node that was granted its token (notified, and
    /// consumed: in no list, so the payload is ours).
    fn granted_hint(&mut self) -> Hint {
        // SAFETY: structural pinning: re-pinned in place, not moved.
        hint_of(unsafe { Pin::new_unchecked(&mut self.node) })
    }
}

impl Future for AcquireKey<'_> {
    type Output = Result<Hint, BorrowError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `node` is never moved out of `self` (structural
        // pinning: every use below re-pins it in place); `key` and
        // `limiter` are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above: `node` is structurally pinned. Shared: while
        // it is queued, the list's lock holder reads it too.
        let node = unsafe { Pin::new_unchecked(&this.node) };
        if node.take_notified() {
            return Poll::Ready(Ok(this.granted_hint()));
        }
        if !node.is_queued() {
            ready!(coop::poll_consume_budget(cx));
            if this.key.is_none() {
                this.key = Some(Key::current());
            }
        }
        let mut guard = this.limiter.state.lock();
        // Again under the lock: a grant may have landed in between.
        if node.take_notified() {
            drop(guard);
            return Poll::Ready(Ok(this.granted_hint()));
        }
        let st = &mut *guard;
        if node.is_queued() {
            // SAFETY: queued in this list; lock held.
            let stale = unsafe { st.waiters.update_waker(node, cx) };
            stale.drop_after(guard);
            return Poll::Pending;
        }
        let key = this.key.as_ref().expect("set before the lock was taken");
        match st.enter(key, true) {
            Ok(Entered::Now(hint)) => Poll::Ready(Ok(hint)),
            Ok(Entered::Queued(ticket, hint)) => {
                // SAFETY: not queued: the payload is ours (the owner's).
                *unsafe { st.waiters.value_of(node) } = Waiting { ticket, hint };
                // SAFETY: the node is in no list; it only ever goes into
                // this one, under this lock, and `Drop` removes it before
                // it is freed.
                unsafe { st.waiters.push_back(node, cx) };
                Poll::Pending
            }
            Err(e) => {
                drop(guard);
                Poll::Ready(Err(queued_error(e)))
            }
        }
    }
}

impl Drop for AcquireKey<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self` is pinned (a `Drop` of a pinned value runs in
        // place); the reference does not move the node.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        if !node.is_queued() && !node.is_notified() {
            return;
        }
        self.drop_slow();
    }
}

impl AcquireKey<'_> {
    /// Drop of a waiter that queued: give up its place, or pass on the
    /// token it was granted.
    #[cold]
    fn drop_slow(&mut self) {
        // SAFETY: as in `drop`.
        let node = unsafe { Pin::new_unchecked(&self.node) };
        let Some(key) = &self.key else {
            unreachable!("a waiter queued without its key")
        };
        let mut guard = self.limiter.state.lock();
        let st = &mut *guard;
        // SAFETY: the node can only be in this limiter's list; lock held.
        let removed = unsafe { st.waiters.remove(node) };
        // SAFETY: no longer queued: the payload is ours again.
        let hint = unsafe { st.waiters.value_of(node) }.hint;
        match removed {
            Removed::NotQueued => {}
            // Never granted: forget the waiting borrower. Nobody behind
            // becomes servable (no token is free while anyone waits).
            Removed::Unlinked { .. } => st.keys.forget(key, hint),
            // Granted a token it will not use: give it back, pass it on.
            Removed::Notified => {
                if st.take_back(Lookup::of_key(key), hint) == Ok(true) {
                    self.limiter.grant_one_after(guard);
                }
            }
        }
    }
}

/// The future of [`CapacityLimiter::acquire`]: an [`AcquireKey`] for the
/// current borrower that returns its token as a guard.
struct AcquireToken<'a>(AcquireKey<'a>);

impl<'a> Future for AcquireToken<'a> {
    type Output = Result<CapacityToken<'a>, BorrowError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field.
        let mut inner = unsafe { self.map_unchecked_mut(|a| &mut a.0) };
        let hint = ready!(inner.as_mut().poll(cx))?;
        // SAFETY: `key` is not structurally pinned (see `AcquireKey`).
        let waiter = unsafe { inner.get_unchecked_mut() };
        // Ready with its node idle: the waiter's drop no longer reads it.
        let key = waiter.key.take().expect("a granted waiter has its key");
        Poll::Ready(Ok(CapacityToken {
            limiter: waiter.limiter,
            key: Some(key),
            hint,
        }))
    }
}

/// A token of a [`CapacityLimiter`], held by its borrower; given back (to
/// the first waiter) when dropped. From [`CapacityLimiter::acquire`],
/// [`try_acquire`](CapacityLimiter::try_acquire) and the blocking variants.
///
/// It remembers its borrower, so it releases the right token wherever it
/// is dropped. Do not also release that borrower's token by hand
/// ([`CapacityLimiter::release`]) while the guard lives.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let limiter = corral::sync::CapacityLimiter::new(1);
/// {
///     let token = limiter.acquire().await.unwrap();
///     assert_eq!(limiter.statistics().borrowers, vec![token.borrower()]);
/// }
/// assert_eq!(limiter.borrowed_tokens(), 0);
/// # });
/// ```
#[must_use = "the token is given back as soon as the guard is dropped"]
pub struct CapacityToken<'a> {
    limiter: &'a CapacityLimiter,
    /// None once detached.
    key: Option<Key>,
    /// Where the borrower's entry was put (task keys): the release looks
    /// there first.
    hint: Hint,
}

impl CapacityToken<'_> {
    /// Who holds the token.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// let token = limiter.try_acquire().unwrap();
    /// assert_eq!(token.borrower().thread_id(), Some(std::thread::current().id()));
    /// ```
    pub fn borrower(&self) -> Borrower {
        Borrower(self.key.clone().expect("a live token has its key"))
    }

    /// Keeps the token borrowed after the guard is gone, for a manual
    /// [`CapacityLimiter::release`] (or `release_on_behalf_of`) later:
    /// AnyIO's `acquire()` / `release()` style.
    ///
    /// ```
    /// let limiter = corral::sync::CapacityLimiter::new(1);
    /// limiter.try_acquire().unwrap().detach();
    /// assert_eq!(limiter.borrowed_tokens(), 1);
    /// limiter.release().unwrap();
    /// assert_eq!(limiter.borrowed_tokens(), 0);
    /// ```
    pub fn detach(mut self) {
        self.key = None;
    }
}

impl Drop for CapacityToken<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Err only if the borrower's token was released by hand too:
            // then there is nothing left to give back.
            let _ = self.limiter.release_key(Lookup::of_key(&key), self.hint);
        }
    }
}

impl fmt::Debug for CapacityToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapacityToken")
            .field("borrower", &self.key.as_ref().map(|k| Borrower(k.clone())))
            .finish()
    }
}

/// The token a `run_sync` job carries onto the blocking pool.
struct OwnedToken {
    limiter: Arc<CapacityLimiter>,
    key: Option<Key>,
}

impl Drop for OwnedToken {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // A job key is no task key: it has no table slot to remember.
            let _ = self.limiter.release_key(Lookup::of_key(&key), Hint::NONE);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A task's entry leaves the table with its token: the table does not
    /// grow with every task that ever borrowed, and stays within its
    /// invariants.
    #[test]
    fn returned_task_entries_leave_the_table() {
        let limiter = CapacityLimiter::new(1);
        for n in 1..=1000u64 {
            let id = Id::from_u64(n).unwrap();
            limiter.try_acquire_on_behalf_of(id).unwrap();
            assert_eq!(limiter.statistics().borrowers.len(), 1);
            limiter.release_on_behalf_of(&id).unwrap();
            assert!(limiter.release_on_behalf_of(&id).is_err());
            let st = limiter.state.lock();
            assert_eq!(st.keys.tasks.len(), 0);
            assert!(
                st.keys.tasks.capacity() <= 128,
                "{} slots",
                st.keys.tasks.capacity()
            );
            st.keys.tasks.check();
        }
        // A returned task borrows again.
        let id = Id::from_u64(1000).unwrap();
        limiter.try_acquire_on_behalf_of(id).unwrap();
        assert!(matches!(
            limiter.try_acquire_on_behalf_of(id),
            Err(TryBorrowError::AlreadyBorrowing(_))
        ));
        assert_eq!(limiter.statistics().borrowers[0].task_id(), Some(id));
        limiter.release_on_behalf_of(&id).unwrap();
        assert!(limiter.statistics().borrowers.is_empty());
    }
}
