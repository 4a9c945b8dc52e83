//! Send / Sync / Unpin of every public primitive, future and guard.

use corral::sync::*;
use std::cell::Cell;
use std::sync::Arc;

fn send<T: Send>(_: &T) {}
fn sync<T: Sync>(_: &T) {}
fn static_<T: 'static>(_: &T) {}

#[test]
fn primitives_futures_and_guards_are_send_and_sync() {
    let sem = Arc::new(Semaphore::new(1));
    let m = Arc::new(Mutex::new(0u32));
    let b = BoundedSemaphore::new(1);
    send(&*sem);
    sync(&*sem);
    send(&*m);
    sync(&*m);
    send(&b);
    sync(&b);

    let f = sem.acquire();
    send(&f);
    sync(&f);
    drop(f);
    let f = sem.clone().acquire_owned();
    send(&f);
    static_(&f);
    drop(f);
    let f = m.lock();
    send(&f);
    sync(&f);
    drop(f);
    let f = m.clone().lock_owned();
    send(&f);
    static_(&f);
    drop(f);
    let f = b.acquire_manual();
    send(&f);
    drop(f);

    let p = sem.try_acquire().unwrap();
    send(&p);
    sync(&p);
    drop(p);
    let p = sem.clone().try_acquire_owned().unwrap();
    send(&p);
    sync(&p);
    static_(&p);
    drop(p);
    let g = m.try_lock().unwrap();
    send(&g);
    sync(&g);
    let g = MutexGuard::map(g, |v| v);
    send(&g);
    sync(&g);
    drop(g);
    let g = m.clone().try_lock_owned().unwrap();
    send(&g);
    sync(&g);
    static_(&g);
}

// A Mutex makes a `Send + !Sync` value shareable; its guards must not hand
// `&Cell` to two threads: `MutexGuard<Cell<_>>` is Send but not Sync
// (the compile-fail doctest on `MutexGuard` checks that half).
#[test]
fn mutex_of_send_only_data_is_sync() {
    let m = Mutex::new(Cell::new(1));
    sync(&m);
    let g = m.try_lock().unwrap();
    send(&g);
}
