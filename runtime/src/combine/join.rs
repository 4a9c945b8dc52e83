//! `join!` and `try_join!`: a fixed set of futures of different types.
//!
//! The macros keep each future in a [`MaybeDone`] pinned on the caller's
//! stack (`core::pin::pin!`, so the expansion has no `unsafe`). Up to
//! [`DIRECT_MAX`] futures, a pass polls every unfinished one with the
//! task's own waker (tokio's way: nothing is allocated, and re-polling a
//! handful costs less than routing wakes); more, and each gets its own
//! waker from a [`JoinWake`] (the engine of `set.rs`), so a pass polls only
//! the futures that were woken, each at most once.

use super::set::WakeSet;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Waits on several futures of different types at once, in the calling
/// task, and returns all their outputs as a tuple, in argument order.
///
/// Nothing is spawned: the futures run concurrently, not in parallel (to
/// use several cores, join [`JoinHandle`](crate::task::JoinHandle)s of
/// spawned tasks). Up to 8 futures, each pass polls every unfinished one
/// with the task's waker and nothing is allocated; past 8, each future is
/// polled only when it was woken. For a
/// collection of futures of one type, use [`gather`](crate::combine::gather).
/// Usable only inside `async` code.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
///
/// let (n, s) = corral::join!(
///     async { 7 },
///     async {
///         corral::time::sleep(Duration::from_millis(5)).await;
///         "slept"
///     },
/// );
/// assert_eq!((n, s), (7, "slept"));
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping the enclosing future drops every joined future.
#[macro_export]
macro_rules! join {
    () => { () };
    ($($fut:expr),+ $(,)?) => {
        $crate::__corral_join!(@munch join [] [] $($fut,)+)
    };
}

/// Waits on several futures returning `Result`s with one error type, in
/// the calling task; returns `Ok` with a tuple of their values in argument
/// order, or the first `Err` as soon as it happens.
///
/// On the first error the other futures are dropped (cancelled at their
/// current await) before the macro returns, as tokio's `try_join!` does.
/// Otherwise as [`join!`](crate::join): nothing is spawned, the futures are
/// polled as there, and it is usable only inside `async` code.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// async fn fetch(id: u32) -> Result<u32, String> {
///     if id < 10 { Ok(id * 2) } else { Err(format!("no item {id}")) }
/// }
/// let both = corral::try_join!(fetch(1), async { Ok::<_, String>("meta") });
/// assert_eq!(both, Ok((2, "meta")));
///
/// let failed = corral::try_join!(fetch(1), fetch(99), std::future::pending::<Result<(), String>>());
/// assert_eq!(failed, Err("no item 99".to_string()));
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping the enclosing future drops every joined future.
#[macro_export]
macro_rules! try_join {
    () => { ::core::result::Result::<(), ::core::convert::Infallible>::Ok(()) };
    ($($fut:expr),+ $(,)?) => {
        $crate::__corral_join!(@munch try_join [] [] $($fut,)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __corral_join {
    // Give each future the `_` patterns that skip the ones before it in the tuple.
    (@munch $kind:ident [$($done:tt)*] [$($skip:tt)*] $head:expr, $($rest:expr,)*) => {
        $crate::__corral_join!(@munch $kind [$($done)* ([$($skip)*] $head)] [$($skip)* _] $($rest,)*)
    };
    (@munch join [$( ([$($skip:tt)*] $fut:expr) )*] [$($all:tt)*]) => {{
        let mut futures = ( $( ::core::pin::pin!($crate::combine::__private::MaybeDone::new($fut)), )* );
        let mut wake = $crate::combine::__private::JoinWake::new(0usize $(+ $crate::__corral_join!(@one $all))*);
        ::core::future::poll_fn(|cx| {
            wake.begin(cx);
            let mut done = true;
            $({
                let ( $($skip,)* fut, .. ) = &mut futures;
                let i: usize = 0usize $(+ $crate::__corral_join!(@one $skip))*;
                if wake.take(i) {
                    let w = wake.waker(i, cx);
                    done &= fut.as_mut().poll_done(&mut ::core::task::Context::from_waker(&w));
                } else {
                    done &= fut.is_done();
                }
            })*
            if done {
                ::core::task::Poll::Ready(( $({
                    let ( $($skip,)* fut, .. ) = &mut futures;
                    fut.as_mut().take_output()
                },)* ))
            } else {
                ::core::task::Poll::Pending
            }
        }).await
    }};
    (@munch try_join [$( ([$($skip:tt)*] $fut:expr) )*] [$($all:tt)*]) => {{
        let mut futures = ( $( ::core::pin::pin!($crate::combine::__private::MaybeDone::new($fut)), )* );
        let mut wake = $crate::combine::__private::JoinWake::new(0usize $(+ $crate::__corral_join!(@one $all))*);
        ::core::future::poll_fn(|cx| {
            wake.begin(cx);
            let mut done = true;
            $({
                let ( $($skip,)* fut, .. ) = &mut futures;
                let i: usize = 0usize $(+ $crate::__corral_join!(@one $skip))*;
                if wake.take(i) {
                    let w = wake.waker(i, cx);
                    match fut.as_mut().poll_try(&mut ::core::task::Context::from_waker(&w)) {
                        ::core::task::Poll::Ready(::core::result::Result::Ok(())) => {}
                        ::core::task::Poll::Ready(::core::result::Result::Err(e)) => {
                            return ::core::task::Poll::Ready(::core::result::Result::Err(e));
                        }
                        ::core::task::Poll::Pending => done = false,
                    }
                } else {
                    done &= fut.is_done();
                }
            })*
            if done {
                ::core::task::Poll::Ready(::core::result::Result::Ok(( $({
                    let ( $($skip,)* fut, .. ) = &mut futures;
                    fut.as_mut().take_ok()
                },)* )))
            } else {
                ::core::task::Poll::Pending
            }
        }).await
    }};
    (@one $t:tt) => { 1usize };
}

/// Up to this many futures, `join!` polls them all with the task's waker.
pub const DIRECT_MAX: usize = 8;

/// Per-future wakers for `join!` / `try_join!` (not public API).
pub struct JoinWake {
    /// `None` up to [`DIRECT_MAX`] futures: no per-future wakers.
    set: Option<WakeSet>,
    /// Woken since the last pass (per-future mode only; empty otherwise).
    ready: Vec<bool>,
}

/// The waker a joined future is polled with: the task's own (few
/// futures), or its own slot's.
pub enum JoinWaker<'a> {
    /// The task's waker, borrowed from its context.
    Task(&'a Waker),
    /// The future's slot waker, borrowed from the [`JoinWake`].
    Slot(ManuallyDrop<Waker>),
}

impl std::ops::Deref for JoinWaker<'_> {
    type Target = Waker;

    fn deref(&self) -> &Waker {
        match self {
            JoinWaker::Task(w) => w,
            JoinWaker::Slot(w) => w,
        }
    }
}

impl JoinWake {
    /// For `n` futures, all to be polled on the first pass.
    pub fn new(n: usize) -> JoinWake {
        if n <= DIRECT_MAX {
            return JoinWake {
                set: None,
                ready: Vec::new(),
            };
        }
        JoinWake {
            set: Some(WakeSet::new(n, true)),
            ready: vec![false; n],
        }
    }

    /// Starts a pass: marks the futures woken since the last one.
    pub fn begin(&mut self, cx: &Context<'_>) {
        if let Some(set) = &mut self.set {
            set.begin(cx);
            while let Some(i) = set.next_ready() {
                self.ready[i] = true;
            }
        }
    }

    /// True (once) if future `i` is to be polled in this pass (always,
    /// with few futures).
    pub fn take(&mut self, i: usize) -> bool {
        match self.set {
            None => true,
            Some(_) => std::mem::replace(&mut self.ready[i], false),
        }
    }

    /// The waker to poll future `i` with.
    pub fn waker<'a>(&'a self, i: usize, cx: &'a Context<'_>) -> JoinWaker<'a> {
        match &self.set {
            None => JoinWaker::Task(cx.waker()),
            Some(set) => JoinWaker::Slot(set.waker(i)),
        }
    }
}

impl fmt::Debug for JoinWake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinWake")
            .field("per_future_wakers", &self.set.is_some())
            .finish()
    }
}

/// A future, then its output, then nothing (taken). Not public API.
#[derive(Debug)]
pub enum MaybeDone<F: Future> {
    /// Still running.
    Future(F),
    /// Finished; the output waits to be taken.
    Done(F::Output),
    /// The output was taken (or the error returned).
    Gone,
}

impl<F: Future> MaybeDone<F> {
    /// Wraps `fut`.
    pub fn new(fut: F) -> Self {
        MaybeDone::Future(fut)
    }

    /// True once the future has finished.
    pub fn is_done(&self) -> bool {
        !matches!(self, MaybeDone::Future(_))
    }

    /// Polls the future if it is still running; true once it has finished.
    pub fn poll_done(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        // SAFETY: the future is never moved out of the pinned enum: it is
        // polled in place and replaced (dropped in place) by its output.
        let this = unsafe { self.get_unchecked_mut() };
        if let MaybeDone::Future(fut) = this {
            // SAFETY: as above; `fut` stays where it is until dropped.
            match unsafe { Pin::new_unchecked(fut) }.poll(cx) {
                Poll::Ready(v) => *this = MaybeDone::Done(v),
                Poll::Pending => return false,
            }
        }
        true
    }

    /// The output of a finished future.
    pub fn take_output(self: Pin<&mut Self>) -> F::Output {
        // SAFETY: only a Done value (no future) is moved out: the variant
        // is checked before anything is replaced, so a still pinned future
        // is never moved.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(
            matches!(this, MaybeDone::Done(_)),
            "join!: output taken before the future finished"
        );
        match std::mem::replace(this, MaybeDone::Gone) {
            MaybeDone::Done(v) => v,
            _ => unreachable!("join!: output taken before the future finished"),
        }
    }
}

impl<F, T, E> MaybeDone<F>
where
    F: Future<Output = Result<T, E>>,
{
    /// Polls a fallible future: `Ok(())` once it finished with `Ok` (the
    /// value kept), its error at once if it failed.
    pub fn poll_try(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        // SAFETY: as in poll_done: the future is only polled in place or
        // dropped in place.
        let this = unsafe { self.get_unchecked_mut() };
        if let MaybeDone::Future(fut) = this {
            // SAFETY: as above.
            match unsafe { Pin::new_unchecked(fut) }.poll(cx) {
                Poll::Ready(Ok(v)) => *this = MaybeDone::Done(Ok(v)),
                Poll::Ready(Err(e)) => {
                    *this = MaybeDone::Gone;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The value of a future that finished with `Ok`.
    pub fn take_ok(self: Pin<&mut Self>) -> T {
        match self.take_output() {
            Ok(v) => v,
            Err(_) => unreachable!("try_join!: an error is returned, never stored"),
        }
    }
}
