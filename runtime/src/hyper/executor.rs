//! [`CorralExecutor`]: hyper's `rt::Executor` on corral tasks.

use crate::Handle;
use std::future::Future;

/// Runs the futures hyper spawns (an HTTP/2 connection's streams, a
/// client connection's background task) as corral tasks.
///
/// [`new`](Self::new) spawns on whichever runtime is current when hyper
/// calls `execute` (hyper calls it from the connection's own task, so
/// that is the connection's runtime); [`with_handle`](Self::with_handle)
/// always spawns on one runtime, even from outside it. The spawned tasks
/// are detached: hyper tracks their work itself.
///
/// ```
/// use corral_runtime::hyper::CorralExecutor;
/// use hyper::rt::Executor;
///
/// let rt = corral_runtime::Runtime::new().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// // From outside the runtime: say which one to spawn on.
/// CorralExecutor::with_handle(rt.handle().clone()).execute(async move {
///     tx.send(42).unwrap();
/// });
/// assert_eq!(rx.recv().unwrap(), 42);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CorralExecutor {
    /// `None`: the current runtime at `execute` time.
    handle: Option<Handle>,
}

impl CorralExecutor {
    /// An executor that spawns on the current runtime (the one running
    /// the task that calls `execute`). Calling `execute` outside any
    /// runtime panics, as [`spawn`](crate::spawn) does.
    ///
    /// ```
    /// use corral_runtime::hyper::CorralExecutor;
    /// use hyper::rt::Executor;
    ///
    /// corral_runtime::Runtime::new().unwrap().block_on(async {
    ///     let (tx, rx) = futures_channel::oneshot::channel();
    ///     CorralExecutor::new().execute(async move {
    ///         tx.send("spawned").unwrap();
    ///     });
    ///     assert_eq!(rx.await.unwrap(), "spawned");
    /// });
    /// ```
    pub fn new() -> CorralExecutor {
        CorralExecutor { handle: None }
    }

    /// An executor that always spawns on `handle`'s runtime, from any
    /// thread.
    ///
    /// ```
    /// use corral_runtime::hyper::CorralExecutor;
    ///
    /// let rt = corral_runtime::Runtime::new().unwrap();
    /// let exec = CorralExecutor::with_handle(rt.handle().clone());
    /// # let _ = exec;
    /// ```
    pub fn with_handle(handle: Handle) -> CorralExecutor {
        CorralExecutor { handle: Some(handle) }
    }
}

impl<F> ::hyper::rt::Executor<F> for CorralExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        // Dropping the JoinHandle detaches the task.
        match &self.handle {
            Some(handle) => drop(handle.spawn(fut)),
            None => drop(crate::spawn(fut)),
        }
    }
}
