//! `scope`: a task group whose lifetime is a block.

use super::error::GroupError;
use super::task_group::TaskGroup;

/// Runs `body` with a fresh [`TaskGroup`] and returns only after every
/// child the body spawned has finished (trio's `async with
/// open_nursery()`, AnyIO's `async with create_task_group()`).
///
/// - The body returns `Ok(r)`: the scope waits for the children and
///   returns `Ok(r)`, or the children's [`GroupError`] if one failed.
/// - The body returns `Err(e)`: the children are cancelled, waited for,
///   and the scope returns a `GroupError` whose
///   [`scope_error`](GroupError::scope_error) is `e` (plus any child
///   failures).
/// - The body panics: the group is dropped on the way out, which cancels
///   the children.
///
/// The children's `Ok` values are dropped; collect them in the body with
/// [`TaskGroup::join_next`] or [`TaskGroup::join`] if you need them.
///
/// # Cancel safety
///
/// Dropping the scope future drops the group, which cancels the children
/// (they stop at their next await); if the scope itself runs inside a
/// group's child, that group's `join` waits until they are gone.
///
/// ```
/// use corral::task::{scope, TaskGroup};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// # corral::Runtime::new().unwrap().block_on(async {
/// let done = Arc::new(AtomicUsize::new(0));
/// let r = scope(async |tg: &mut TaskGroup<(), std::io::Error>| {
///     for _ in 0..10 {
///         let done = done.clone();
///         tg.spawn(async move {
///             corral::yield_now().await;
///             done.fetch_add(1, Ordering::Relaxed);
///             Ok(())
///         });
///     }
///     Ok("spawned")
/// })
/// .await;
/// assert_eq!(r.unwrap(), "spawned");
/// assert_eq!(done.load(Ordering::Relaxed), 10); // every child finished
/// # });
/// ```
pub async fn scope<T, E, R, F>(body: F) -> Result<R, GroupError<E>>
where
    T: Send + 'static,
    E: Send + 'static,
    F: AsyncFnOnce(&mut TaskGroup<T, E>) -> Result<R, E>,
{
    let mut group = TaskGroup::new();
    let out = body(&mut group).await;
    if out.is_err() {
        group.cancel();
    }
    let joined = group.join().await;
    match (out, joined) {
        (Ok(r), Ok(_)) => Ok(r),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Ok(_)) => Err(GroupError {
            failures: Vec::new(),
            cancelled: 0,
            timed_out: false,
            scope_error: Some(e),
        }),
        (Err(e), Err(mut err)) => {
            err.scope_error = Some(e);
            Err(err)
        }
    }
}
