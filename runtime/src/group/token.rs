//! `CancelToken`: a shareable "stop now" flag with waiters, child tokens
//! and (crate-internal) hooks.
//!
//! One allocation per token: an atomic flag (the fast path of
//! `is_cancelled` and of every poll after cancellation) and a mutex over
//! the waiters (a slab of wakers, so a dropped `Cancelled` removes its own
//! entry in O(1)), the child tokens (weak: a child token that nobody holds
//! any more is pruned) and the hooks (weak: a task group registers one to
//! abort its children). `cancel` sets the flag first and then takes the
//! lists under the lock, and every registration checks the flag under the
//! same lock, so a waiter either sees the flag or is in the list that
//! `cancel` takes: no lost wakeup. Wakers, children and hooks are called
//! after the lock is released.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// Something to run when a token is cancelled (a task group aborting its
/// children).
pub(crate) trait CancelHook: Send + Sync {
    fn on_cancel(&self);
}

/// A cancellation signal that can be cloned, awaited and arranged in a
/// tree: cancelling a token cancels every token made from it with
/// [`child_token`](Self::child_token), never the other way round.
///
/// Clones share one flag. A token never becomes un-cancelled. Each
/// [`TaskGroup`](crate::group::task::TaskGroup) has one
/// ([`TaskGroup::token`](crate::group::task::TaskGroup::token)); a group opened
/// inside a child of another group gets a child of that group's token, so
/// cancellation travels down the tree of groups.
///
/// It works on any executor: `cancelled()` only needs a waker.
///
/// ```
/// use corral::task::CancelToken;
///
/// # corral::Runtime::new().unwrap().block_on(async {
/// let token = CancelToken::new();
/// let child = token.child_token();
/// let waiter = corral::spawn({
///     let child = child.clone();
///     async move { child.cancelled().await; "stopped" }
/// });
/// token.cancel();
/// assert_eq!(waiter.await.unwrap(), "stopped");
/// assert!(child.is_cancelled());
/// # });
/// ```
#[derive(Clone)]
pub struct CancelToken {
    node: Arc<Node>,
}

struct Node {
    cancelled: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Wakers of pending `Cancelled` futures; `None` marks a free slot.
    waiters: Vec<Option<Waker>>,
    free: Vec<usize>,
    children: Vec<Weak<Node>>,
    hooks: Vec<Weak<dyn CancelHook>>,
}

impl Inner {
    /// Drops the children nobody holds any more, when the list has grown
    /// (amortized: a long-lived token with short-lived children stays
    /// small).
    fn push_child(&mut self, child: Weak<Node>) {
        if self.children.len() == self.children.capacity() && self.children.len() >= 8 {
            self.children.retain(|c| c.strong_count() > 0);
        }
        self.children.push(child);
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    /// A new token, not cancelled.
    ///
    /// ```
    /// let token = corral::task::CancelToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn new() -> Self {
        CancelToken {
            node: Arc::new(Node {
                cancelled: AtomicBool::new(false),
                inner: Mutex::new(Inner::default()),
            }),
        }
    }

    /// Cancels this token and, recursively, every child token: wakes every
    /// `cancelled()` waiter and, for a group's token, aborts the group's
    /// children. Cancelling twice does nothing more.
    ///
    /// ```
    /// let token = corral::task::CancelToken::new();
    /// token.cancel();
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        cancel_node(&self.node);
    }

    /// True once [`cancel`](Self::cancel) was called on this token or an
    /// ancestor.
    ///
    /// ```
    /// let parent = corral::task::CancelToken::new();
    /// let child = parent.child_token();
    /// parent.cancel();
    /// assert!(child.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::Acquire)
    }

    /// A new token that is cancelled when this one is (and can be cancelled
    /// on its own without touching this one). A child of a cancelled token
    /// starts cancelled.
    ///
    /// ```
    /// let parent = corral::task::CancelToken::new();
    /// let child = parent.child_token();
    /// child.cancel();
    /// assert!(!parent.is_cancelled());
    /// ```
    pub fn child_token(&self) -> CancelToken {
        let child = CancelToken::new();
        let mut inner = self.node.inner.lock();
        if self.is_cancelled() {
            drop(inner);
            child.node.cancelled.store(true, Ordering::Release);
        } else {
            inner.push_child(Arc::downgrade(&child.node));
        }
        child
    }

    /// Waits until the token is cancelled (at once if it already is).
    ///
    /// The future owns a clone of the token, so it can be moved into a
    /// task or kept in a `select!`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future removes its waker from the token and loses
    /// nothing: a later `cancelled()` still sees the cancellation.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let token = corral::task::CancelToken::new();
    /// let t = token.clone();
    /// std::thread::spawn(move || t.cancel());
    /// token.cancelled().await;
    /// assert!(token.is_cancelled());
    /// # });
    /// ```
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            token: self.clone(),
            key: None,
        }
    }

    /// Runs `future` until it finishes (`Some(output)`) or the token is
    /// cancelled (`None`; the future is dropped). If the token is already
    /// cancelled, `future` is not polled at all.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future` itself: dropping this drops `future`.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let token = corral::task::CancelToken::new();
    /// assert_eq!(token.run_until_cancelled(async { 7 }).await, Some(7));
    /// token.cancel();
    /// assert_eq!(token.run_until_cancelled(std::future::pending::<()>()).await, None);
    /// # });
    /// ```
    pub async fn run_until_cancelled<F: Future>(&self, future: F) -> Option<F::Output> {
        let mut cancelled = std::pin::pin!(self.cancelled());
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            future.as_mut().poll(cx).map(Some)
        })
        .await
    }

    /// Runs `hook` once when the token is cancelled (at once, on this
    /// thread, if it already is). The token keeps only a weak reference.
    pub(crate) fn register_hook(&self, hook: Weak<dyn CancelHook>) {
        let mut inner = self.node.inner.lock();
        if self.is_cancelled() {
            drop(inner);
            if let Some(hook) = hook.upgrade() {
                hook.on_cancel();
            }
        } else {
            inner.hooks.push(hook);
        }
    }
}

fn cancel_node(node: &Arc<Node>) {
    if node.cancelled.swap(true, Ordering::AcqRel) {
        return;
    }
    let inner = std::mem::take(&mut *node.inner.lock());
    for waker in inner.waiters.into_iter().flatten() {
        waker.wake();
    }
    for hook in inner.hooks {
        if let Some(hook) = hook.upgrade() {
            hook.on_cancel();
        }
    }
    for child in inner.children {
        if let Some(child) = child.upgrade() {
            cancel_node(&child);
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Future returned by [`CancelToken::cancelled`].
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// let token = corral::task::CancelToken::new();
/// let fut: corral::task::Cancelled = token.cancelled();
/// token.cancel();
/// fut.await;
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Cancelled {
    token: CancelToken,
    /// Our slot in the token's waiter slab, once registered.
    key: Option<usize>,
}

impl Future for Cancelled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let node = &this.token.node;
        if node.cancelled.load(Ordering::Acquire) {
            this.key = None;
            return Poll::Ready(());
        }
        let mut inner = node.inner.lock();
        // Re-check under the lock: `cancel` sets the flag before it takes
        // the waiters, so either we see it or our waker is taken and woken.
        if node.cancelled.load(Ordering::Acquire) {
            this.key = None;
            return Poll::Ready(());
        }
        match this.key {
            Some(key) => match &mut inner.waiters[key] {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            },
            None => {
                let waker = Some(cx.waker().clone());
                let key = match inner.free.pop() {
                    Some(key) => {
                        inner.waiters[key] = waker;
                        key
                    }
                    None => {
                        inner.waiters.push(waker);
                        inner.waiters.len() - 1
                    }
                };
                this.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let node = &self.token.node;
            let mut inner = node.inner.lock();
            // Once cancelled the slab was taken (or is about to be): the
            // key is stale, leave it.
            if !node.cancelled.load(Ordering::Acquire) {
                inner.waiters[key] = None;
                inner.free.push(key);
            }
        }
    }
}

impl fmt::Debug for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled").field("token", &self.token).finish()
    }
}
