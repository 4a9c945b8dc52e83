//! [`CorralTimer`]: hyper's `rt::Timer` on corral's timer wheel.

use crate::time::{self, Instant, Sleep};
use std::pin::Pin;
use std::time::Duration;

/// hyper's timer: sleeps are corral [`Sleep`]s, `reset` moves a sleep's
/// deadline in place (no new allocation, no new wheel entry), and `now`
/// reads corral's clock, so a test that
/// [pauses](crate::time::pause) time pauses hyper's timeouts too.
///
/// Give it to hyper's builders (`.timer(CorralTimer::new())`) to enable
/// what needs a timer: HTTP/1 `header_read_timeout` (on by default in
/// hyper's server once a timer is set), HTTP/2 keep-alive pings, the
/// client pool's idle timeout.
///
/// ```
/// use corral_runtime::hyper::CorralTimer;
/// use hyper::rt::Timer;
/// use std::time::Duration;
///
/// corral_runtime::Runtime::new().unwrap().block_on(async {
///     let timer = CorralTimer::new();
///     let start = timer.now();
///     timer.sleep(Duration::from_millis(5)).await;
///     assert!(timer.now() - start >= Duration::from_millis(5));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct CorralTimer {
    _private: (),
}

impl CorralTimer {
    /// The timer. It is stateless: sleeps register with the runtime that
    /// is current when they are created (or, outside one, first polled).
    ///
    /// ```
    /// let timer = corral_runtime::hyper::CorralTimer::new();
    /// # let _ = timer;
    /// ```
    pub fn new() -> CorralTimer {
        CorralTimer { _private: () }
    }
}

impl ::hyper::rt::Sleep for Sleep {}

impl ::hyper::rt::Timer for CorralTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(time::sleep(duration))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(time::sleep_until(Instant::from_std(deadline)))
    }

    fn now(&self) -> std::time::Instant {
        time::current_time().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.get_mut().reset(Instant::from_std(new_deadline)),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
