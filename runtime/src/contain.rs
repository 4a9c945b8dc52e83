//! Containing panics from code the runtime calls but does not own.
//!
//! The driver wakes wakers it was handed by futures (timers, I/O
//! readiness). A corral task's waker never panics, but a foreign executor's
//! may. If such a panic unwound through the driver it would skip the other
//! due wakers (their tasks would hang with their deadline passed) and kill
//! the worker thread that was turning the driver. So every such call goes
//! through here: each waker is woken under `catch_unwind`, all of them are
//! woken whatever happens, and the panic goes no further (the panic hook
//! has already printed it, naming the thread).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Waker;

/// Wakes every waker; a panicking one is contained and does not stop the
/// rest. Returns how many panicked.
pub(crate) fn wake_all(wakers: impl IntoIterator<Item = Waker>) -> usize {
    let mut panicked = 0;
    for waker in wakers {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            panicked += 1;
            drop_payload(payload);
        }
    }
    panicked
}

/// Runs `f`; if it panics, says so on stderr (naming `what`) and returns
/// None instead of unwinding. For loops that must survive code they call:
/// a driver turn, a user-supplied hook on a runtime thread.
pub(crate) fn run<R>(what: &str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            eprintln!("corral: a panic in {what} was contained; the runtime carries on");
            drop_payload(payload);
            None
        }
    }
}

/// Drops a panic payload; a payload whose own `Drop` panics is leaked
/// rather than let that second panic escape.
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
}
