//! A counting global allocator for the memory tests (included with
//! `#[path]` by the test files that measure heap bytes; a test binary has
//! one global allocator, so it is not part of `common/mod.rs`).
//!
//! The counters are per thread: the harness runs tests on several threads
//! and each test only sees its own allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting this thread's allocations, the bytes
/// they asked for, and the bytes still live.
pub struct Counting;

#[derive(Clone, Copy)]
struct Counts {
    /// Allocations and reallocations made.
    made: usize,
    /// Bytes those asked for.
    made_bytes: usize,
    /// Bytes allocated and not yet freed (negative if this thread frees
    /// what another allocated).
    live: isize,
}

thread_local! {
    /// A const-initialised `Cell` of plain data: no lazy init and no
    /// destructor, so the allocator may touch it at any time.
    static COUNTS: Cell<Counts> = const { Cell::new(Counts { made: 0, made_bytes: 0, live: 0 }) };
}

fn update(f: impl FnOnce(&mut Counts)) {
    // `try_with`: the allocator may run while a thread is torn down.
    let _ = COUNTS.try_with(|c| {
        let mut counts = c.get();
        f(&mut counts);
        c.set(counts);
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counting
// touches only a const thread-local cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        update(|c| {
            c.made += 1;
            c.made_bytes += layout.size();
            c.live += layout.size() as isize;
        });
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        update(|c| c.live -= layout.size() as isize);
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        update(|c| {
            c.made += 1;
            c.made_bytes += new_size;
            c.live += new_size as isize - layout.size() as isize;
        });
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes this thread has allocated and not freed.
#[allow(dead_code)]
pub fn live() -> isize {
    COUNTS.with(Cell::get).live
}

/// What `f` allocated on this thread: (allocations, bytes asked for).
#[allow(dead_code)]
pub fn allocated<R>(f: impl FnOnce() -> R) -> ((usize, usize), R) {
    let before = COUNTS.with(Cell::get);
    let r = f();
    let after = COUNTS.with(Cell::get);
    (
        (after.made - before.made, after.made_bytes - before.made_bytes),
        r,
    )
}
