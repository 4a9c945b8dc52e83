//! [`Semaphore`]: a fair counting semaphore with direct handoff, its RAII
//! permits, and its statistics. The engine is [`RawSemaphore`](crate::raw).

use crate::error::{AcquireError, BlockingAcquireError, TryAcquireError};
use crate::raw::{AcquireRecorded, HasRaw, RawSemaphore, Slot, MAX_PERMITS};
use corral_runtime::task::Id;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

/// A counting semaphore: a pool of permits that tasks (and threads)
/// acquire and give back.
///
/// # Semantics
///
/// - **Fair, FIFO, no barging.** Waiters are served first come, first
///   served. A released permit is handed straight to the first waiter (which
///   is woken onto the releasing worker's run queue); a task that arrives
///   later, even one calling [`try_acquire`](Self::try_acquire), cannot
///   snatch it. This is tokio's and asyncio's order; it costs nothing extra
///   here because the handoff is direct.
/// - **Large requests are not starved.** An [`acquire_many`](Self::acquire_many)
///   at the head of the queue collects permits as they are released (a
///   partial handoff) and smaller requests behind it wait their turn. If it
///   is cancelled, what it collected goes back and the waiters behind it
///   proceed.
/// - **Cancellation loses nothing.** A dropped `acquire` future that was
///   already handed its permits passes them on.
/// - **Closing.** [`close`](Self::close) wakes every waiter with
///   [`AcquireError::Closed`] and makes later acquires fail the same way;
///   permits already held stay valid and are returned as usual.
/// - **Holders.** Each outstanding permit records the task that acquired
///   it and how many permits it holds ([`statistics`](Self::statistics)'
///   `holders`): what a task dump or a deadlock detector needs to say
///   "task 12 waits on the Semaphore created at src/main.rs:10, held by
///   tasks 7 and 9". A permit moved into another task (an
///   [`OwnedSemaphorePermit`] sent elsewhere) still names the task that
///   acquired it; one taken from a thread or a foreign executor names no
///   task. The record costs a few stores under the lock the acquire takes
///   anyway, and goes with the permit (dropped or
///   [`forget`](SemaphorePermit::forget)-ed).
/// - **Limits.** At most [`MAX_PERMITS`](Self::MAX_PERMITS) permits;
///   [`new`](Self::new) and [`add_permits`](Self::add_permits) saturate there
///   rather than panic, and a request for more is a typed error
///   ([`AcquireError::TooMany`]), not a hang.
///
/// Unlike Python's `threading.Semaphore`, releasing happens by dropping a
/// permit (RAII), so a task cannot release what it does not hold; use
/// [`add_permits`](Self::add_permits) to grow the pool.
///
/// ```
/// use corral::sync::Semaphore;
/// use std::sync::Arc;
/// # corral::Runtime::new().unwrap().block_on(async {
/// let sem = Arc::new(Semaphore::new(2)); // at most 2 at once
/// let mut tasks = Vec::new();
/// for i in 0..5 {
///     let sem = sem.clone();
///     tasks.push(corral::spawn(async move {
///         let _permit = sem.acquire().await.unwrap();
///         i * 10 // the work, 2 at a time
///     }));
/// }
/// for t in tasks {
///     t.await.unwrap();
/// }
/// assert_eq!(sem.available_permits(), 2);
/// # });
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

/// A snapshot of a [`Semaphore`], from [`Semaphore::statistics`].
///
/// ```
/// let sem = corral::sync::Semaphore::new(3);
/// let _p = sem.try_acquire().unwrap();
/// let stats = sem.statistics();
/// assert_eq!((stats.available, stats.tasks_waiting, stats.closed), (2, 0, false));
/// assert_eq!(stats.holders.len(), 1); // one permit out, held by no task (this thread)
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SemaphoreStatistics {
    /// Free permits (AnyIO's `value`).
    pub available: usize,
    /// Tasks and threads waiting to acquire (AnyIO's name).
    pub tasks_waiting: usize,
    /// [`Semaphore::close`] was called.
    pub closed: bool,
    /// One entry per outstanding permit (or batch of permits from one
    /// `acquire_many`): who acquired it, and how many it holds. Forgotten
    /// permits are not listed.
    pub holders: Vec<PermitHolder>,
    /// Where the semaphore was created.
    pub created_at: &'static Location<'static>,
}

/// An outstanding permit (or batch of permits) of a [`Semaphore`], in
/// [`SemaphoreStatistics::holders`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// let sem = Arc::new(corral::sync::Semaphore::new(4));
/// let s = sem.clone();
/// let task = corral::spawn(async move { s.acquire_many_owned(3).await.unwrap() });
/// let id = task.id();
/// let _permits = task.await.unwrap(); // moved out of the task: still names it
/// let holders = sem.statistics().holders;
/// assert_eq!((holders[0].task, holders[0].permits), (Some(id), 3));
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermitHolder {
    /// The corral task that acquired the permits; None if a thread or a
    /// future outside corral did.
    pub task: Option<Id>,
    /// How many permits it holds.
    pub permits: usize,
}

impl Semaphore {
    /// The most permits a semaphore holds, and the largest single request.
    pub const MAX_PERMITS: usize = MAX_PERMITS;

    /// A semaphore with `permits` permits (at most
    /// [`MAX_PERMITS`](Self::MAX_PERMITS); more saturate there). Records the
    /// caller's location for statistics and diagnostics.
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(4);
    /// assert_eq!(sem.available_permits(), 4);
    /// assert!(sem.created_at().file().ends_with(".rs"));
    /// ```
    #[track_caller]
    pub fn new(permits: usize) -> Self {
        Semaphore {
            raw: RawSemaphore::new(permits, Location::caller()),
        }
    }

    /// A semaphore whose free permits never exceed its initial value.
    #[track_caller]
    pub(crate) fn new_bounded(permits: usize) -> Self {
        Semaphore {
            raw: RawSemaphore::with_bound(permits, permits, Location::caller()),
        }
    }

    /// The engine, for the crate's bounded variant.
    pub(crate) fn raw(&self) -> &RawSemaphore {
        &self.raw
    }

    /// Where this semaphore was created (`#[track_caller]` on
    /// [`new`](Self::new)).
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(1);
    /// println!("created at {}", sem.created_at());
    /// ```
    pub fn created_at(&self) -> &'static Location<'static> {
        self.raw.created_at()
    }

    /// Free permits right now.
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(2);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.raw.available()
    }

    /// True once [`close`](Self::close) was called.
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }

    /// Adds `n` permits, handing them to waiters first (FIFO). Saturates at
    /// [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(0);
    /// sem.add_permits(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.raw.release(n);
    }

    /// Closes the semaphore: every waiter gets [`AcquireError::Closed`], and
    /// so does every later acquire. Permits already held stay valid.
    ///
    /// ```
    /// use corral::sync::{Semaphore, TryAcquireError};
    /// let sem = Semaphore::new(1);
    /// sem.close();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// ```
    pub fn close(&self) {
        self.raw.close();
    }

    /// A snapshot of the semaphore's state.
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(1);
    /// assert_eq!(sem.statistics().tasks_waiting, 0);
    /// ```
    pub fn statistics(&self) -> SemaphoreStatistics {
        let (available, tasks_waiting, closed) = self.raw.snapshot();
        let holders = self
            .raw
            .holders()
            .into_iter()
            .map(|(task, permits)| PermitHolder { task, permits })
            .collect();
        SemaphoreStatistics {
            available,
            tasks_waiting,
            closed,
            holders,
            created_at: self.raw.created_at(),
        }
    }

    /// Waits for one permit.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, and fair: dropping the future gives up its place in the
    /// queue and loses no permit; if a permit had already been handed to it,
    /// the permit passes to the next waiter.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is or becomes closed.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let sem = corral::sync::Semaphore::new(1);
    /// let permit = sem.acquire().await.unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once. At the head of the queue it collects
    /// permits as they come free, and requests behind it wait.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future gives back any permits it had
    /// collected (they go to the waiters behind it, or the pool).
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is or becomes closed;
    /// [`AcquireError::TooMany`] if `n` exceeds
    /// [`MAX_PERMITS`](Self::MAX_PERMITS).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let sem = corral::sync::Semaphore::new(5);
    /// let permits = sem.acquire_many(3).await.unwrap();
    /// assert_eq!(permits.num_permits(), 3);
    /// assert_eq!(sem.available_permits(), 2);
    /// # });
    /// ```
    pub fn acquire_many(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        // A hand-written future rather than an `async fn`: it keeps a
        // waiting task's state small (no generator around the waiter).
        AcquirePermit {
            acquire: AcquireRecorded::new(self, n),
        }
    }

    /// Takes one permit if one is free and nobody waits.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(p);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody waits.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`], [`TryAcquireError::Closed`], or
    /// [`TryAcquireError::TooMany`].
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_err());
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let slot = self.raw.try_acquire_recorded(n)?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n,
            slot,
        })
    }

    /// Waits for one permit, holding the semaphore by `Arc` so the permit
    /// can move into a spawned task.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// ```
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let sem = Arc::new(corral::sync::Semaphore::new(1));
    /// let permit = sem.clone().acquire_owned().await.unwrap();
    /// corral::spawn(async move { drop(permit) }).await.unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// Waits for `n` permits, holding the semaphore by `Arc`.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Self::acquire_many).
    ///
    /// ```
    /// use std::sync::Arc;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let sem = Arc::new(corral::sync::Semaphore::new(4));
    /// let permits = sem.clone().acquire_many_owned(4).await.unwrap();
    /// assert_eq!(permits.num_permits(), 4);
    /// # });
    /// ```
    pub async fn acquire_many_owned(self: Arc<Self>, n: usize) -> Result<OwnedSemaphorePermit, AcquireError> {
        let slot = self.raw.acquire_recorded(n).await?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n,
            slot,
        })
    }

    /// Takes one permit now, holding the semaphore by `Arc`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(corral::sync::Semaphore::new(1));
    /// let _p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(sem.clone().try_acquire_owned().is_err());
    /// ```
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Takes `n` permits now, holding the semaphore by `Arc`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(corral::sync::Semaphore::new(2));
    /// assert_eq!(sem.clone().try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let slot = self.raw.try_acquire_recorded(n)?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n,
            slot,
        })
    }

    /// Blocks the current thread until a permit is free (FIFO with the
    /// async waiters).
    ///
    /// # Errors
    ///
    /// [`BlockingAcquireError::Closed`] if the semaphore is or becomes
    /// closed.
    ///
    /// # Panics
    ///
    /// On a thread that drives a corral runtime (a worker, or inside
    /// `block_on`): blocking there would stall its tasks. Use
    /// [`acquire`](Self::acquire) there, or call this from `corral::run_sync`.
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(1);
    /// let permit = sem.blocking_acquire().unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// ```
    #[track_caller]
    pub fn blocking_acquire(&self) -> Result<SemaphorePermit<'_>, BlockingAcquireError> {
        self.blocking_acquire_many(1)
    }

    /// Blocks the current thread until `n` permits are ours.
    ///
    /// # Errors
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire), plus
    /// [`BlockingAcquireError::TooMany`].
    ///
    /// # Panics
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire).
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(3);
    /// assert_eq!(sem.blocking_acquire_many(3).unwrap().num_permits(), 3);
    /// ```
    #[track_caller]
    pub fn blocking_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, BlockingAcquireError> {
        let slot = self
            .raw
            .blocking_acquire_recorded(n, None, "Semaphore::blocking_acquire")?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n,
            slot,
        })
    }

    /// As [`blocking_acquire`](Self::blocking_acquire), giving up after
    /// `timeout` (Python's `acquire(timeout=...)`).
    ///
    /// # Errors
    ///
    /// [`BlockingAcquireError::Timeout`] if no permit came in time, or
    /// [`BlockingAcquireError::Closed`].
    ///
    /// # Panics
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = corral::sync::Semaphore::new(1);
    /// let _held = sem.try_acquire().unwrap();
    /// assert!(sem.blocking_acquire_timeout(Duration::from_millis(5)).is_err());
    /// ```
    #[track_caller]
    pub fn blocking_acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, BlockingAcquireError> {
        self.blocking_acquire_many_timeout(1, timeout)
    }

    /// As [`blocking_acquire_many`](Self::blocking_acquire_many), giving up
    /// after `timeout`; permits collected meanwhile go back.
    ///
    /// # Errors
    ///
    /// As [`blocking_acquire_timeout`](Self::blocking_acquire_timeout), plus
    /// [`BlockingAcquireError::TooMany`].
    ///
    /// # Panics
    ///
    /// As [`blocking_acquire`](Self::blocking_acquire).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = corral::sync::Semaphore::new(1);
    /// assert!(sem.blocking_acquire_many_timeout(2, Duration::from_millis(5)).is_err());
    /// assert_eq!(sem.available_permits(), 1); // the partial permit came back
    /// ```
    #[track_caller]
    pub fn blocking_acquire_many_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, BlockingAcquireError> {
        let deadline = Instant::now().checked_add(timeout);
        let slot = self
            .raw
            .blocking_acquire_recorded(n, deadline, "Semaphore::blocking_acquire_timeout")?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n,
            slot,
        })
    }
}

/// The future of [`Semaphore::acquire_many`]: the engine's waiter, which
/// keeps the one reference to the semaphore and the count the permit
/// needs (80 bytes; a Mutex's `lock()` is 72).
struct AcquirePermit<'a> {
    acquire: AcquireRecorded<'a, Semaphore>,
}

impl HasRaw for Semaphore {
    #[inline]
    fn raw(&self) -> &RawSemaphore {
        &self.raw
    }
}

impl<'a> Future for AcquirePermit<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `acquire` is structurally pinned (never moved out).
        let mut acquire = unsafe { self.map_unchecked_mut(|a| &mut a.acquire) };
        let slot = ready!(acquire.as_mut().poll(cx))?;
        Poll::Ready(Ok(SemaphorePermit {
            sem: acquire.sem(),
            permits: acquire.as_mut().needed(),
            slot,
        }))
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.statistics();
        f.debug_struct("Semaphore")
            .field("available", &s.available)
            .field("tasks_waiting", &s.tasks_waiting)
            .field("closed", &s.closed)
            .field("created_at", &format_args!("{}", self.raw.created_at()))
            .finish()
    }
}

/// Permits borrowed from a [`Semaphore`]; dropping it gives them back.
///
/// ```
/// let sem = corral::sync::Semaphore::new(2);
/// let permit = sem.try_acquire_many(2).unwrap();
/// assert_eq!(permit.num_permits(), 2);
/// drop(permit);
/// assert_eq!(sem.available_permits(), 2);
/// ```
#[must_use = "the permits go back as soon as this is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
    /// The holder record of this grant.
    slot: Slot,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(1);
    /// assert_eq!(sem.try_acquire().unwrap().num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Drops the permits without giving them back: the semaphore shrinks.
    ///
    /// ```
    /// let sem = corral::sync::Semaphore::new(2);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        // Drop gives back nothing, and drops the holder record.
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.raw.release_recorded(self.slot, self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

/// Permits borrowed from an `Arc<Semaphore>`; dropping it gives them back.
///
/// ```
/// use std::sync::Arc;
/// let sem = Arc::new(corral::sync::Semaphore::new(1));
/// let permit = sem.clone().try_acquire_owned().unwrap();
/// std::thread::spawn(move || drop(permit)).join().unwrap();
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permits go back as soon as this is dropped"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: usize,
    /// The holder record of this grant.
    slot: Slot,
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(corral::sync::Semaphore::new(1));
    /// assert_eq!(sem.try_acquire_owned().unwrap().num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits came from.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(corral::sync::Semaphore::new(1));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(p.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// Drops the permits without giving them back: the semaphore shrinks.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(corral::sync::Semaphore::new(1));
    /// sem.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        // Drop gives back nothing, and drops the holder record.
        self.permits = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.raw.release_recorded(self.slot, self.permits);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}
