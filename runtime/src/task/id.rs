use std::fmt;
use std::num::NonZeroU64;
// Plain std atomic even under loom: ids never take part in synchronisation,
// and loom forbids its atomics in statics.
use std::sync::atomic::{AtomicU64, Ordering};

/// A task's identity: unique among all tasks of the process, never reused.
///
/// Shown in [`JoinError`](crate::task::JoinError) messages and available
/// from [`JoinHandle::id`](crate::task::JoinHandle::id) and
/// [`task::try_id`](crate::task::try_id).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let a = corral::spawn(async {});
/// let b = corral::spawn(async {});
/// assert_ne!(a.id(), b.id());
/// println!("spawned task {}", a.id());
/// # });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    pub(crate) fn next() -> Id {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Relaxed: only uniqueness matters, which the RMW gives alone.
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        Id(NonZeroU64::new(id).expect("task id counter wrapped"))
    }

    /// The id with this number, if it is one (ids start at 1): the inverse
    /// of [`as_u64`](Self::as_u64), for primitives that keep a holder's id
    /// packed in an atomic word.
    ///
    /// ```
    /// use corral::task::Id;
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let id = corral::spawn(async {}).id();
    /// assert_eq!(Id::from_u64(id.as_u64()), Some(id));
    /// assert_eq!(Id::from_u64(0), None);
    /// # });
    /// ```
    pub fn from_u64(id: u64) -> Option<Id> {
        NonZeroU64::new(id).map(Id)
    }

    /// The id as a number (the first task spawned in a process is 1).
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}
