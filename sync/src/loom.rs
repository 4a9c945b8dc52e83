//! The one place corral-sync names its lock, its atomics and its data
//! cells: parking_lot's mutex, std's atomics and a `std::cell::UnsafeCell`
//! in normal builds, loom's under `RUSTFLAGS="--cfg loom"`, with one API, so
//! that the primitives switch together with corral-runtime's own shim
//! (which already hands [`WaitList`](corral_runtime::wait::WaitList) loom's
//! atomics and cells under the same flag).
//!
//! The protected data of a `Mutex<T>` lives in this module's [`UnsafeCell`]
//! and is reached only through `with` / `with_mut` (closure access), so
//! under loom every guard access is checked: two accesses that the lock's
//! handoff does not order are reported as a data race.

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicI8, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread;

    /// parking_lot's mutex: no poisoning, one word, fast uncontended path.
    pub(crate) type Lock<T> = parking_lot::Mutex<T>;
    pub(crate) type LockGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
    /// parking_lot's reader-writer lock (the watch channel's value).
    pub(crate) type RwCell<T> = parking_lot::RwLock<T>;
    pub(crate) type RwCellRead<'a, T> = parking_lot::RwLockReadGuard<'a, T>;

    /// `UnsafeCell` with closure access, mirroring loom's API.
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicI8, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::thread;

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

    /// loom's reader-writer lock behind parking_lot's API (the watch
    /// channel's value).
    #[derive(Debug)]
    pub(crate) struct RwCell<T>(loom::sync::RwLock<T>);
    pub(crate) type RwCellRead<'a, T> = loom::sync::RwLockReadGuard<'a, T>;

    impl<T> RwCell<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::RwLock::new(value))
        }
        pub(crate) fn read(&self) -> RwCellRead<'_, T> {
            self.0.read().unwrap()
        }
        pub(crate) fn write(&self) -> loom::sync::RwLockWriteGuard<'_, T> {
            self.0.write().unwrap()
        }
    }
}

pub(crate) use imp::*;
