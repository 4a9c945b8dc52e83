//! What a task group reports: one child's failure ([`ChildError`]) and the
//! whole group's ([`GroupError`]).

use crate::task::{Id, PanicPayload};
use std::fmt;
use std::panic::Location;

/// Why one child of a [`TaskGroup`](crate::group::task::TaskGroup) gave no value.
#[non_exhaustive]
pub enum ChildErrorKind<E> {
    /// The child returned `Err`.
    Failed(E),
    /// The child panicked (while polled, or while its future was dropped).
    Panicked(PanicPayload),
    /// The child was cancelled (the group was cancelled, a sibling failed,
    /// or the group's deadline passed) before it finished.
    Cancelled,
    /// Only from [`TaskGroup::start`](crate::group::task::TaskGroup::start): the
    /// child returned `Ok` without calling
    /// [`Ready::started`](crate::group::task::Ready::started).
    NotStarted,
}

/// One child's failure, with the child's identity: its task id, its name
/// (from [`spawn_named`](crate::group::task::TaskGroup::spawn_named)) and where
/// it was spawned.
///
/// ```
/// use corral::task::{ChildErrorKind, TaskGroup};
///
/// # corral::Runtime::new().unwrap().block_on(async {
/// let mut group = TaskGroup::<(), &str>::new();
/// group.spawn_named("fetch", async { Err("404") });
/// let err = group.join_next().await.unwrap().unwrap_err();
/// assert_eq!(err.name(), Some("fetch"));
/// assert!(matches!(err.kind(), ChildErrorKind::Failed("404")));
/// assert!(err.to_string().contains("(fetch) failed: 404"));
/// # });
/// ```
pub struct ChildError<E> {
    pub(crate) kind: ChildErrorKind<E>,
    pub(crate) id: Id,
    pub(crate) name: Option<Box<str>>,
    pub(crate) spawned_at: &'static Location<'static>,
}

impl<E> ChildError<E> {
    /// What went wrong.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.spawn(async { panic!("bad input") });
    /// let err = group.join_next().await.unwrap().unwrap_err();
    /// assert!(matches!(err.kind(), corral::task::ChildErrorKind::Panicked(p) if p.message() == Some("bad input")));
    /// # });
    /// ```
    pub fn kind(&self) -> &ChildErrorKind<E> {
        &self.kind
    }

    /// The kind, by value (to get at the `E` or the panic payload).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), String>::new();
    /// group.spawn(async { Err("nope".to_string()) });
    /// let err = group.join_next().await.unwrap().unwrap_err();
    /// assert!(matches!(err.into_kind(), corral::task::ChildErrorKind::Failed(s) if s == "nope"));
    /// # });
    /// ```
    pub fn into_kind(self) -> ChildErrorKind<E> {
        self.kind
    }

    /// The child's error value, if it returned `Err`.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), u8>::new();
    /// group.spawn(async { Err(3) });
    /// assert_eq!(group.join_next().await.unwrap().unwrap_err().error(), Some(&3));
    /// # });
    /// ```
    pub fn error(&self) -> Option<&E> {
        match &self.kind {
            ChildErrorKind::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// True if the child panicked.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.spawn(async { panic!() });
    /// assert!(group.join_next().await.unwrap().unwrap_err().is_panic());
    /// # });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, ChildErrorKind::Panicked(_))
    }

    /// True if the child was cancelled before it finished.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.spawn(std::future::pending());
    /// group.cancel();
    /// assert!(group.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, ChildErrorKind::Cancelled)
    }

    /// The child's task id.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), &str>::new();
    /// group.spawn(async { Err("no") });
    /// let err = group.join_next().await.unwrap().unwrap_err();
    /// assert!(err.to_string().starts_with(&format!("task {}", err.id())));
    /// # });
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }

    /// The child's name, if it was spawned with one.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.spawn(async { Err(()) });
    /// assert_eq!(group.join_next().await.unwrap().unwrap_err().name(), None);
    /// # });
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the child was spawned (the `spawn`/`spawn_named`/`start`
    /// call).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.spawn(async { Err(()) });
    /// let err = group.join_next().await.unwrap().unwrap_err();
    /// assert_eq!(err.spawned_at().line(), line!() - 2);
    /// # });
    /// ```
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }
}

impl<E: fmt::Display> fmt::Display for ChildError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " ({name})")?;
        }
        match &self.kind {
            ChildErrorKind::Failed(e) => write!(f, " failed: {e}")?,
            ChildErrorKind::Panicked(p) => match p.message() {
                Some(msg) => write!(f, " panicked: {msg}")?,
                None => f.write_str(" panicked")?,
            },
            ChildErrorKind::Cancelled => f.write_str(" was cancelled")?,
            ChildErrorKind::NotStarted => f.write_str(" returned without signalling that it started")?,
        }
        write!(f, " (spawned at {})", self.spawned_at)
    }
}

impl<E: fmt::Debug> fmt::Debug for ChildError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildError")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("name", &self.name)
            .field("spawned_at", &format_args!("{}", self.spawned_at))
            .finish()
    }
}

impl<E: fmt::Debug> fmt::Debug for ChildErrorKind<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildErrorKind::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            ChildErrorKind::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            ChildErrorKind::Cancelled => f.write_str("Cancelled"),
            ChildErrorKind::NotStarted => f.write_str("NotStarted"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ChildError<E> {}

/// Why [`TaskGroup::join`](crate::group::task::TaskGroup::join) (or
/// [`scope`](crate::group::task::scope)) did not return every child's value: the
/// error group.
///
/// It holds every failure (a child's `Err` or panic) in the order they
/// happened, the first one first: the one that cancelled the siblings, then
/// any that happened before those siblings stopped. No failure is dropped.
/// It also counts the children that were cancelled, and says whether the
/// group's deadline passed or the group was cancelled without any failure.
///
/// ```
/// use corral::task::TaskGroup;
///
/// # corral::Runtime::new().unwrap().block_on(async {
/// let mut group = TaskGroup::<(), String>::new();
/// group.spawn_named("a", async { Err("a broke".to_string()) });
/// group.spawn(std::future::pending());
/// let err = group.join().await.unwrap_err();
/// assert_eq!(err.failures().len(), 1);
/// assert_eq!(err.first().unwrap().error().unwrap(), "a broke");
/// assert_eq!(err.cancelled(), 1);
/// # });
/// ```
pub struct GroupError<E> {
    pub(crate) failures: Vec<ChildError<E>>,
    pub(crate) cancelled: usize,
    pub(crate) timed_out: bool,
    pub(crate) scope_error: Option<E>,
}

impl<E> GroupError<E> {
    /// Every failure, first one first.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), u8>::new();
    /// group.spawn(async { Err(1) });
    /// assert_eq!(group.join().await.unwrap_err().failures()[0].error(), Some(&1));
    /// # });
    /// ```
    pub fn failures(&self) -> &[ChildError<E>] {
        &self.failures
    }

    /// Every failure, by value.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), u8>::new();
    /// group.spawn(async { Err(1) });
    /// let failures = group.join().await.unwrap_err().into_failures();
    /// assert_eq!(failures.len(), 1);
    /// # });
    /// ```
    pub fn into_failures(self) -> Vec<ChildError<E>> {
        self.failures
    }

    /// The first failure (the one that cancelled the siblings), if any.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), u8>::new();
    /// group.spawn(async { Err(1) });
    /// assert!(group.join().await.unwrap_err().first().is_some());
    /// # });
    /// ```
    pub fn first(&self) -> Option<&ChildError<E>> {
        self.failures.first()
    }

    /// How many children were cancelled before they finished.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.spawn(std::future::pending());
    /// group.cancel();
    /// assert_eq!(group.join().await.unwrap_err().cancelled(), 1);
    /// # });
    /// ```
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }

    /// True if the group's deadline (see
    /// [`TaskGroup::cancel_after`](crate::group::task::TaskGroup::cancel_after))
    /// passed before every child finished.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// group.cancel_after(std::time::Duration::from_millis(5));
    /// group.spawn(std::future::pending());
    /// assert!(group.join().await.unwrap_err().is_timeout());
    /// # });
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }

    /// The error the body of [`scope`](crate::group::task::scope) returned, if
    /// that is what ended the scope.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let err = corral::task::scope(async |tg: &mut corral::task::TaskGroup<(), &str>| {
    ///     tg.spawn(std::future::pending());
    ///     Err::<(), _>("body gave up")
    /// })
    /// .await
    /// .unwrap_err();
    /// assert_eq!(err.scope_error(), Some(&"body gave up"));
    /// # });
    /// ```
    pub fn scope_error(&self) -> Option<&E> {
        self.scope_error.as_ref()
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.scope_error {
            write!(f, "scope body failed: {e}")?;
            if !self.failures.is_empty() {
                f.write_str("; ")?;
            }
        }
        match self.failures.len() {
            0 if self.scope_error.is_some() => {}
            0 if self.timed_out => f.write_str("task group deadline passed")?,
            0 => f.write_str("task group was cancelled")?,
            1 => write!(f, "a task group child failed: {}", self.failures[0])?,
            n => {
                write!(f, "{n} task group children failed: {}", self.failures[0])?;
                for failure in &self.failures[1..] {
                    write!(f, "; {failure}")?;
                }
            }
        }
        if self.cancelled > 0 {
            write!(f, " ({} cancelled)", self.cancelled)?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupError")
            .field("failures", &self.failures)
            .field("cancelled", &self.cancelled)
            .field("timed_out", &self.timed_out)
            .field("scope_error", &self.scope_error)
            .finish()
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GroupError<E> {}
