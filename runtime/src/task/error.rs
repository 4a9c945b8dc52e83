use super::Id;
use std::any::Any;
use std::fmt;
use std::io;

/// Why a task did not produce its output: returned by awaiting a
/// [`JoinHandle`](crate::task::JoinHandle).
///
/// The message names the task (its id and name, if it has one) and, for a
/// panic, the panic text:
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let err = corral::spawn(async { panic!("boom") }).await.unwrap_err();
/// assert!(err.is_panic());
/// assert!(err.to_string().ends_with("panicked: boom"));
/// // The payload can be re-raised on the joining task if wanted:
/// let payload = err.into_panic();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// # });
/// ```
#[non_exhaustive]
pub enum JoinError {
    /// The task was aborted, or its runtime shut down, before it finished.
    Cancelled {
        /// The task that was cancelled.
        id: Id,
        /// Its name, if it was spawned with one.
        name: Option<Box<str>>,
    },
    /// The task's future panicked (while polled, or while dropped on
    /// cancellation). The worker thread and the runtime were not affected.
    Panicked {
        /// The task that panicked.
        id: Id,
        /// Its name, if it was spawned with one.
        name: Option<Box<str>>,
        /// The value the task panicked with.
        payload: PanicPayload,
    },
}

impl JoinError {
    pub(crate) fn cancelled(id: Id, name: Option<&str>) -> JoinError {
        JoinError::Cancelled {
            id,
            name: name.map(Into::into),
        }
    }

    pub(crate) fn panicked(id: Id, name: Option<&str>, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError::Panicked {
            id,
            name: name.map(Into::into),
            payload: PanicPayload(payload),
        }
    }

    /// True if the task was cancelled (aborted or shut down).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled { .. })
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked { .. })
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        match self {
            JoinError::Cancelled { id, .. } | JoinError::Panicked { id, .. } => *id,
        }
    }

    /// The panic payload; pass it to `std::panic::resume_unwind` to
    /// propagate the panic.
    ///
    /// # Panics
    ///
    /// If the error is not a panic; use [`try_into_panic`](Self::try_into_panic)
    /// to check first.
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on a task that was cancelled, not panicked")
    }

    /// The panic payload, or the error back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self {
            JoinError::Panicked { payload, .. } => Ok(payload.into_inner()),
            other => Err(other),
        }
    }

    fn write_task(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, name) = match self {
            JoinError::Cancelled { id, name } | JoinError::Panicked { id, name, .. } => (id, name),
        };
        match name {
            Some(name) => write!(f, "task {id} ({name})"),
            None => write!(f, "task {id}"),
        }
    }
}

/// The value a task panicked with, as in [`JoinError::Panicked`].
///
/// It keeps [`JoinError`] `Sync` (so it fits in `Box<dyn Error + Send +
/// Sync>`) while the payload itself is only `Send`: through a shared
/// reference it shows only the panic message; the value itself comes out
/// by [`into_inner`](Self::into_inner) (or [`JoinError::into_panic`]).
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let err = corral::spawn(async { panic!("{} apples", 3) }).await.unwrap_err();
/// if let corral::task::JoinError::Panicked { payload, .. } = &err {
///     assert_eq!(payload.message(), Some("3 apples"));
/// }
/// # });
/// ```
pub struct PanicPayload(Box<dyn Any + Send + 'static>);

// SAFETY: `&PanicPayload` gives access only to `message`, which reads the
// payload's type id (immutable) and then a `&'static str` or a `String`,
// both Sync. The payload itself is reachable only by value (`into_inner`),
// which needs ownership, so no two threads can share an `&dyn Any + Send`.
unsafe impl Sync for PanicPayload {}

impl PanicPayload {
    /// Wraps a payload caught with `catch_unwind` (task groups catch their
    /// children's panics themselves).
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> Self {
        PanicPayload(payload)
    }

    /// The panic message, if the payload is a string (as with `panic!`
    /// with a message).
    pub fn message(&self) -> Option<&str> {
        self.0
            .downcast_ref::<&'static str>()
            .copied()
            .or_else(|| self.0.downcast_ref::<String>().map(String::as_str))
    }

    /// The payload, e.g. for `std::panic::resume_unwind`.
    pub fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.0
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PanicPayload").field(&self.message()).finish()
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_task(f)?;
        match self {
            JoinError::Cancelled { .. } => f.write_str(" was cancelled"),
            JoinError::Panicked { payload, .. } => match payload.message() {
                Some(msg) => write!(f, " panicked: {msg}"),
                None => f.write_str(" panicked"),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled { id, name } => f
                .debug_struct("Cancelled")
                .field("id", id)
                .field("name", name)
                .finish(),
            JoinError::Panicked {
                id, name, payload, ..
            } => f
                .debug_struct("Panicked")
                .field("id", id)
                .field("name", name)
                .field("message", &payload.message())
                .finish_non_exhaustive(),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    fn from(err: JoinError) -> io::Error {
        let kind = if err.is_cancelled() {
            io::ErrorKind::Interrupted
        } else {
            io::ErrorKind::Other
        };
        io::Error::new(kind, err.to_string())
    }
}
