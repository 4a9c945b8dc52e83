#![doc(test(attr(deny(warnings))))]
//! # corral
//!
//! A lightweight, complete async runtime: a work-stealing executor, structured
//! task groups, and synchronization primitives wired straight into the
//! scheduler.
//!
//! ```
//! #[corral::main]
//! async fn main() {
//!     let task = corral::spawn(async { 6 * 7 });
//!     assert_eq!(task.await.unwrap(), 42);
//! }
//! ```
//!
//! This crate only re-exports; the pieces live in `corral-runtime` (tasks,
//! schedulers, the wait hook), `corral-sync` (primitives) and
//! `corral-macros` (`#[corral::main]`, `#[corral::test]`).

pub use corral_macros::{main, test};
pub use corral_runtime::{
    run_sync, spawn, spawn_blocking, yield_now, Builder, EnterGuard, Handle, Runtime, RuntimeFlavor,
    TryCurrentError, YieldNow,
};

/// Time: sleep, timeouts, intervals, and a clock tests can pause.
pub mod time {
    pub use corral_runtime::time::*;
}

/// Tasks: spawning, joining, cancelling, identifying.
pub mod task {
    pub use corral_runtime::task::{
        spawn_named, try_id, AbortHandle, Id, JoinError, JoinHandle, PanicPayload,
    };
    pub use corral_runtime::{spawn, yield_now};
}
