//! The channel's own lock: a test-and-set lock whose unlock is one
//! release store, spinning (then yielding the thread) while another thread
//! holds it. Under `cfg(loom)` it is the crate's [`Lock`](crate::loom::Lock)
//! (loom's mutex), so the models see every acquire and release.
//!
//! # Why not parking_lot's mutex
//!
//! A channel's critical sections are a few dozen instructions (push or pop
//! an item, move a waiter's node), never user code that can block or
//! panic: items are dropped and wakers woken after the lock is released,
//! and the only foreign call under it is a `Waker::clone` (which wakers
//! keep cheap). parking_lot's unlock is a compare-exchange, a locked
//! instruction (it must see whether a thread parked), paid twice per item
//! (the send's lock and the receive's); a release store is a plain store
//! and does not wait for the core's earlier stores to drain. kanal's lock
//! makes the same choice. Measured with the `mpsc_1to1`, `mpsc_4to1` and
//! `mpmc_4to4` bodies alone (100 x 50,000 items, 2 workers, task-clock,
//! best of 3 interleaved runs): 87 -> 77 ms, 94 -> 84 ms, 74 -> 67 ms.
//!
//! A thread that finds the lock held spins on a plain load with a growing
//! pause (about 1,000 pauses in all), then yields its time slice, so that
//! a holder the OS preempted gets the core: no thread ever parks on it, so
//! no unlock has to look for one. The cost of that choice is CPU burnt by
//! a waiter while a preempted holder is off-core, bounded by the holder's
//! next time slice.

#[cfg(loom)]
pub(crate) use crate::loom::{Lock, LockGuard};

#[cfg(not(loom))]
pub(crate) use imp::{Lock, LockGuard};

#[cfg(not(loom))]
mod imp {
    use crate::loom::{thread, AtomicBool, Ordering::*};
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};

    /// A spin lock around `T`; see the [module docs](super).
    pub(crate) struct Lock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock hands `&mut T` to one thread at a time (the
    // Acquire CAS in `lock` pairs with the Release store in the guard's
    // drop), so sharing it needs only `T: Send`, as for std's Mutex.
    unsafe impl<T: Send> Sync for Lock<T> {}
    // SAFETY: moving the lock moves its `T`.
    unsafe impl<T: Send> Send for Lock<T> {}

    impl<T> Lock<T> {
        pub(crate) const fn new(value: T) -> Self {
            Lock {
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            // Acquire: pairs with the Release store of the previous
            // holder's unlock, so its writes to `value` are visible.
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_err()
            {
                self.lock_slow();
            }
            LockGuard { lock: self }
        }

        #[cold]
        #[inline(never)]
        fn lock_slow(&self) {
            let mut spins = 0u32;
            loop {
                // Wait on a plain load (the line stays shared while the
                // holder works), then try again.
                while self.locked.load(Relaxed) {
                    if spins < 10 {
                        for _ in 0..(1u32 << spins) {
                            std::hint::spin_loop();
                        }
                        spins += 1;
                    } else {
                        // The holder may have been preempted: give it
                        // the core.
                        thread::yield_now();
                    }
                }
                // Acquire: as in `lock`.
                if self
                    .locked
                    .compare_exchange_weak(false, true, Acquire, Relaxed)
                    .is_ok()
                {
                    return;
                }
            }
        }
    }

    /// Holds the lock; unlocks on drop.
    pub(crate) struct LockGuard<'a, T> {
        lock: &'a Lock<T>,
    }

    impl<T> Deref for LockGuard<'_, T> {
        type Target = T;

        #[inline]
        fn deref(&self) -> &T {
            // SAFETY: the guard is the lock's one holder (Acquire CAS in
            // `lock`), so no `&mut` to the value exists elsewhere.
            unsafe { &*self.lock.value.get() }
        }
    }

    impl<T> DerefMut for LockGuard<'_, T> {
        #[inline]
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`; `&mut self` makes this the only
            // reference through the guard.
            unsafe { &mut *self.lock.value.get() }
        }
    }

    impl<T> Drop for LockGuard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            // Release: publishes this holder's writes to the next one
            // (its Acquire CAS in `lock`).
            self.lock.locked.store(false, Release);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Lock;
    use std::sync::Arc;

    /// Four threads each add 1 a hundred thousand times under the lock,
    /// with a read-modify-write that is not atomic: any overlap of two
    /// holders would lose increments.
    #[test]
    fn excludes_and_publishes() {
        let lock = Arc::new(Lock::new((0u64, 0u64)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        let mut g = lock.lock();
                        let v = g.0;
                        g.0 = v + 1;
                        g.1 = g.0;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let g = lock.lock();
        assert_eq!(*g, (400_000, 400_000));
    }

    /// A panic while holding the lock releases it (no poisoning, as
    /// parking_lot's).
    #[test]
    fn unlocks_on_unwind() {
        let lock = Lock::new(1u8);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = lock.lock();
            panic!("held");
        }));
        assert!(r.is_err());
        assert_eq!(*lock.lock(), 1);
    }
}
