use super::wheel::TimerKey;
use super::Instant;
use crate::coop;
use crate::driver;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// Waits until `duration` has passed on the runtime's clock.
///
/// Never completes early; on an idle runtime, completes within about a
/// millisecond of the deadline. `sleep(Duration::ZERO)` completes at once.
///
/// It may be created anywhere (so `rt.block_on(sleep(d))` works): it joins
/// the runtime that first polls it.
///
/// # Panics
///
/// When polled outside a runtime.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// let start = corral::time::Instant::now();
/// corral::time::sleep(Duration::from_millis(20)).await;
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping a `Sleep` cancels the timer; nothing else is affected.
pub fn sleep(duration: Duration) -> Sleep {
    let driver = driver::Handle::current().ok();
    let now = match &driver {
        Some(d) => d.time().now(),
        None => Instant::now(),
    };
    Sleep {
        driver,
        deadline: now.saturating_add(duration),
        key: None,
    }
}

/// Waits until `deadline` on the runtime's clock; see [`sleep`].
///
/// # Panics
///
/// When polled outside a runtime.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::time::{sleep_until, Instant};
/// let deadline = Instant::now() + std::time::Duration::from_millis(10);
/// sleep_until(deadline).await;
/// assert!(Instant::now() >= deadline);
/// # });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        driver: driver::Handle::current().ok(),
        deadline,
        key: None,
    }
}

/// Future returned by [`sleep`] and [`sleep_until`].
///
/// It is `Unpin`: keep one in a struct or a `select!` loop and
/// [`reset`](Sleep::reset) it without pinning.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// The runtime whose wheel holds the timer: the current one at
    /// creation, else the first to poll it.
    driver: Option<driver::Handle>,
    deadline: Instant,
    /// The wheel entry, from the first Pending poll until it fires.
    key: Option<TimerKey>,
}

impl Sleep {
    #[track_caller]
    fn driver(&mut self) -> &driver::Handle {
        self.driver
            .get_or_insert_with(|| super::current_driver("Sleep::poll"))
    }

    /// When the sleep completes.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::time::{sleep_until, Instant};
    /// let at = Instant::now() + std::time::Duration::from_secs(1);
    /// assert_eq!(sleep_until(at).deadline(), at);
    /// # });
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// let s = corral::time::sleep(std::time::Duration::ZERO);
    /// assert!(s.is_elapsed());
    /// # });
    /// ```
    pub fn is_elapsed(&self) -> bool {
        let now = match &self.driver {
            Some(d) => d.time().now(),
            None => Instant::now(),
        };
        now >= self.deadline
    }

    /// Moves the deadline (earlier or later), keeping the timer's place in
    /// the wheel if it has one: no new allocation.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use std::time::Duration;
    /// let mut s = corral::time::sleep(Duration::from_secs(3600));
    /// s.reset(corral::time::Instant::now() + Duration::from_millis(1));
    /// (&mut s).await;
    /// # });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let (Some(key), Some(driver)) = (self.key, &self.driver) {
            if driver.time().reset(key, deadline.into_std()) {
                driver.unpark();
            }
        }
    }

    /// Polls without spending the cooperative budget (for `Timeout`, whose
    /// inner future may have spent it).
    #[track_caller]
    pub(crate) fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let key = self.key;
        let deadline = self.deadline;
        let driver = self.driver();
        let time = driver.time();
        match key {
            None => {
                if time.now() >= deadline {
                    return Poll::Ready(());
                }
                let inserted = time.insert(deadline.into_std(), cx.waker());
                if inserted.fired {
                    time.remove(inserted.key);
                    return Poll::Ready(());
                }
                if inserted.unpark {
                    driver.unpark();
                }
                self.key = Some(inserted.key);
                Poll::Pending
            }
            Some(key) => {
                if time.poll_fired(key, cx.waker()) {
                    time.remove(key);
                    self.key = None;
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let coop = ready!(coop::poll_proceed(cx));
        ready!(self.poll_elapsed(cx));
        coop.made_progress();
        Poll::Ready(())
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(key), Some(driver)) = (self.key.take(), &self.driver) {
            driver.time().remove(key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.key.is_some())
            .finish()
    }
}
