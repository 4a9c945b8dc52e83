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
/// # When its runtime shuts down
///
/// A `Sleep` belongs to the runtime current where it was created (or that
/// first polled it). If that runtime is dropped before the deadline, the
/// sleep is not lost: its next poll moves it, deadline unchanged, to the
/// runtime polling it then, and it completes there at its deadline (a
/// [`timeout`](crate::time::timeout) or [`interval`](crate::time::interval)
/// built on it likewise carries on). A task of another runtime that was
/// waiting on it is woken by the shutdown for that move. (Unlike sockets,
/// which hold OS resources of the old runtime and fail with a "runtime has
/// shut down" error, a timer is just a deadline; tokio panics here.) If the
/// deadline came from a paused clock, it stays a reading of that clock.
///
/// # Panics
///
/// When polled outside a runtime; when polled after its runtime shut down
/// from outside any live runtime (the message says so).
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
        loop {
            match self.poll_registered(cx) {
                Polled::Ready => return Poll::Ready(()),
                Polled::Pending => return Poll::Pending,
                Polled::ShutDown => self.move_to_current(),
            }
        }
    }

    /// One poll against the wheel of `self.driver`.
    #[track_caller]
    fn poll_registered(&mut self, cx: &mut Context<'_>) -> Polled {
        self.driver();
        let Sleep {
            driver: Some(driver),
            deadline,
            key,
        } = self
        else {
            unreachable!("Sleep::driver() sets the driver");
        };
        let deadline = *deadline;
        let time = driver.time();
        let fired = match *key {
            None => {
                if time.now() >= deadline {
                    return Polled::Ready;
                }
                let inserted = time.insert(deadline.into_std(), cx.waker());
                if !inserted.fired {
                    if inserted.unpark {
                        driver.unpark();
                    }
                    *key = Some(inserted.key);
                    return Polled::Pending;
                }
                inserted.key
            }
            Some(key) => {
                if !time.poll_fired(key, cx.waker()) {
                    return Polled::Pending;
                }
                key
            }
        };
        time.remove(fired);
        *key = None;
        // The wheel fires a timer once the clock has reached its deadline,
        // or when the runtime shuts down (`Wheel::shutdown`): only then can
        // the clock still read earlier than the deadline.
        if time.now() < deadline && time.is_shut_down() {
            Polled::ShutDown
        } else {
            Polled::Ready
        }
    }

    /// The sleep's runtime has shut down before its deadline: carry on in
    /// the runtime polling it now.
    #[cold]
    #[track_caller]
    fn move_to_current(&mut self) {
        match driver::Handle::current() {
            Ok(d) if !d.time().is_shut_down() => self.driver = Some(d),
            _ => panic!(
                "corral::time::Sleep: the runtime this sleep (or timeout, or interval) was \
                 registered with has shut down, and it is polled outside any live runtime; \
                 poll it from a task or block_on of a running runtime, where it carries on \
                 until its deadline"
            ),
        }
    }
}

/// What one poll against a wheel found.
enum Polled {
    Ready,
    Pending,
    /// The wheel's runtime shut down before the deadline.
    ShutDown,
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
