//! `TaskGroup::start`: a child that tells its spawner "I am ready, here is
//! a value" and keeps running.
//!
//! The child's [`Ready`] and the `start` caller share a `Slot`. The slot
//! ends in exactly one of: the value (from `Ready::started`), or the
//! child's end before that (an `Err` or panic, handed to the caller instead
//! of the group; `Ok` without a signal; cancellation). The child's wrapper
//! reports the end through `Report`, after the child's future is dropped,
//! so a `Ready` dropped without signalling decides nothing on its own.

use super::core::{Cancel, End, Report};
use super::error::ChildErrorKind;
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

enum State<V, E> {
    Waiting(Option<Waker>),
    Started(V),
    Ended(ChildErrorKind<E>),
    /// The caller took the outcome (or gave up waiting).
    Taken,
}

pub(crate) struct Slot<V, E> {
    state: Mutex<State<V, E>>,
}

impl<V, E> Slot<V, E> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Slot {
            state: Mutex::new(State::Waiting(None)),
        })
    }

    fn settle(&self, to: State<V, E>) -> Result<(), State<V, E>> {
        let mut state = self.state.lock();
        match &mut *state {
            State::Waiting(waker) => {
                let waker = waker.take();
                *state = to;
                drop(state);
                if let Some(w) = waker {
                    w.wake();
                }
                Ok(())
            }
            _ => Err(to),
        }
    }

    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<V, ChildErrorKind<E>>> {
        let mut state = self.state.lock();
        match &mut *state {
            State::Waiting(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            _ => match std::mem::replace(&mut *state, State::Taken) {
                State::Started(v) => Poll::Ready(Ok(v)),
                State::Ended(kind) => Poll::Ready(Err(kind)),
                _ => panic!("TaskGroup::start polled after it returned"),
            },
        }
    }

    /// The caller stopped waiting: a value sent later is dropped at once.
    pub(crate) fn abandon(&self) {
        let old = std::mem::replace(&mut *self.state.lock(), State::Taken);
        drop(old);
    }
}

/// The child's side of the slot, inside its wrapper.
pub(crate) struct StartReport<V, E>(pub(crate) Arc<Slot<V, E>>);

impl<V: Send + 'static, E: Send + 'static> Report<E> for StartReport<V, E> {
    fn finish(&mut self, end: End<E>) -> Option<End<E>> {
        let kind = match end {
            End::Ok => ChildErrorKind::NotStarted,
            End::Err(e) => ChildErrorKind::Failed(e),
            End::Panicked(p) => ChildErrorKind::Panicked(p),
        };
        match self.0.settle(State::Ended(kind)) {
            Ok(()) => None,
            // Already started (or the caller gave up): the group's.
            Err(State::Ended(kind)) => Some(match kind {
                ChildErrorKind::Failed(e) => End::Err(e),
                ChildErrorKind::Panicked(p) => End::Panicked(p),
                _ => End::Ok,
            }),
            Err(_) => unreachable!(),
        }
    }
}

impl<V, E> Cancel for StartReport<V, E> {
    fn cancelled(&mut self) {
        let _ = self.0.settle(State::Ended(ChildErrorKind::Cancelled));
    }
}

/// Handed to a child started with
/// [`TaskGroup::start`](crate::group::task::TaskGroup::start): call
/// [`started`](Self::started) once the child is ready (a server has bound
/// its socket), and `start` returns the value while the child keeps
/// running in the group.
///
/// ```
/// use corral::task::{Ready, TaskGroup};
///
/// async fn serve(ready: Ready<u16>) -> Result<(), std::io::Error> {
///     let listener = corral::net::TcpListener::bind("127.0.0.1:0").await?;
///     ready.started(listener.local_addr()?.port());
///     let _ = listener.accept().await?;
///     Ok(())
/// }
///
/// # corral::Runtime::new().unwrap().block_on(async {
/// let mut group = TaskGroup::new();
/// let port = group.start(serve).await.unwrap();
/// corral::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
/// group.join().await.unwrap();
/// # });
/// ```
pub struct Ready<V> {
    slot: Arc<dyn Signal<V>>,
}

trait Signal<V>: Send + Sync {
    fn send(&self, value: V);
}

impl<V: Send, E: Send> Signal<V> for Slot<V, E> {
    fn send(&self, value: V) {
        if let Err(State::Started(v)) = self.settle(State::Started(value)) {
            // The caller gave up waiting: drop the value outside the lock.
            drop(v);
        }
    }
}

impl<V: Send + 'static> Ready<V> {
    pub(crate) fn new<E: Send + 'static>(slot: Arc<Slot<V, E>>) -> Self {
        Ready { slot }
    }

    /// Signals readiness: the waiting `start` returns `value`. Consumes
    /// the handle, so it happens at most once.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let mut group = corral::task::TaskGroup::<(), ()>::new();
    /// let v = group.start(|ready| async move { ready.started(5); Ok(()) }).await.unwrap();
    /// assert_eq!(v, 5);
    /// # group.join().await.unwrap();
    /// # });
    /// ```
    pub fn started(self, value: V) {
        self.slot.send(value);
    }
}

impl<V> fmt::Debug for Ready<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready").finish_non_exhaustive()
    }
}
