//! The one place corral-sync names its lock: parking_lot's mutex in normal
//! builds, loom's under `RUSTFLAGS="--cfg loom"`, with one API, so that the
//! primitives switch together with corral-runtime's own shim (which already
//! hands [`WaitList`](corral_runtime::wait::WaitList) loom's atomics and
//! cells under the same flag).
//!
//! Loom's gap, noted here: the protected data of a `Mutex<T>` lives in a
//! plain `std::cell::UnsafeCell` (guards deref to it), so loom checks the
//! handoff protocol (who holds the permit) rather than each data access.

#[cfg(not(loom))]
mod imp {
    /// parking_lot's mutex: no poisoning, one word, fast uncontended path.
    pub(crate) type Lock<T> = parking_lot::Mutex<T>;
    pub(crate) type LockGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
}

#[cfg(loom)]
mod imp {
    /// loom's mutex behind parking_lot's API (no poisoning).
    #[derive(Debug)]
    pub(crate) struct Lock<T>(loom::sync::Mutex<T>);
    pub(crate) type LockGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }
}

pub(crate) use imp::*;

/// The atomics of the lock-free fast paths (Event's flag), switched with
/// the lock so that loom sees them.
#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicBool;
/// The atomics of the lock-free fast paths (Event's flag), switched with
/// the lock so that loom sees them.
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicBool;
