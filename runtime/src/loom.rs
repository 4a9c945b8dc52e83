//! The one place that names atomics, locks, cells and threads.
//!
//! Every other module imports these through `crate::loom` (the exception:
//! wakers built with `std::task::Wake` need `std::sync::Arc`), so that under
//! `RUSTFLAGS="--cfg loom"` the whole runtime runs on loom's model-checked
//! versions. Two arms with one API:
//!
//! - normal builds: `std::sync::atomic`, `parking_lot`, `std::cell`,
//!   `std::thread`;
//! - `cfg(loom)`: loom's types, wrapped where the APIs differ.
//!
//! [`UnsafeCell`] exposes only `with` / `with_mut` (closure access) so loom
//! sees every read and write of shared cells; never hand out a raw pointer
//! that outlives the closure unless the invariant is stated at the call site.
//!
//! Loom's gaps, noted where they matter:
//! - crossbeam-deque's atomics are not loom's, so the multi-thread scheduler
//!   is not modelled; loom models drive the task state machine through the
//!   current-thread scheduler and [`WaitList`](crate::wait::WaitList) directly.
//! - `thread_local!` is loom's own under loom (`loom::thread_local!`).

#![allow(dead_code, unused_imports)]

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread;

    /// parking_lot's mutex: no poisoning, one word, fast uncontended path.
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
    pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
    pub(crate) type Condvar = parking_lot::Condvar;

    /// `UnsafeCell` with closure access, mirroring loom's API.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
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

    /// Waits on `cv` for at most `timeout` (None: forever).
    pub(crate) fn condvar_wait<T>(
        cv: &Condvar,
        guard: &mut MutexGuard<'_, T>,
        timeout: Option<std::time::Duration>,
    ) {
        match timeout {
            None => cv.wait(guard),
            Some(d) => {
                cv.wait_for(guard, d);
            }
        }
    }

    pub(crate) fn spin_loop() {
        std::hint::spin_loop()
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::thread;

    /// loom's mutex behind parking_lot's API (no poisoning, guard by value).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
        /// loom has no `is_locked`; a try-lock stands in (callers of it
        /// are not modelled: the stall monitor).
        pub(crate) fn is_locked(&self) -> bool {
            self.0.try_lock().is_err()
        }
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner().unwrap()
        }
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Self::new(T::default())
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }
        pub(crate) fn notify_one(&self) -> bool {
            self.0.notify_one();
            true
        }
        pub(crate) fn notify_all(&self) -> usize {
            self.0.notify_all();
            0
        }
    }

    /// loom has no timed waits: a timed wait is an untimed one, which is
    /// sound for callers that re-check their condition in a loop and are
    /// always notified (models never rely on a timeout firing).
    pub(crate) fn condvar_wait<'a, T>(
        cv: &Condvar,
        guard: &mut MutexGuard<'a, T>,
        _timeout: Option<std::time::Duration>,
    ) {
        // loom's wait takes the guard by value; swap it through a
        // temporary owner.
        replace_with(guard, |g| cv.0.wait(g).unwrap());
    }

    fn replace_with<T>(slot: &mut T, f: impl FnOnce(T) -> T) {
        // SAFETY: `slot` is read out and written back before anyone can
        // observe it; `f` (a condvar wait) does not unwind under loom unless
        // the model itself is failing, in which case the process aborts.
        unsafe {
            let old = std::ptr::read(slot);
            let guard = AbortOnUnwind;
            let new = f(old);
            std::mem::forget(guard);
            std::ptr::write(slot, new);
        }
    }

    struct AbortOnUnwind;
    impl Drop for AbortOnUnwind {
        fn drop(&mut self) {
            std::process::abort();
        }
    }

    pub(crate) fn spin_loop() {
        loom::thread::yield_now()
    }
}

pub(crate) use imp::*;
