//! corral-runtime: the engine under [corral](https://docs.rs/corral).
//!
//! Applications use the `corral` facade, which re-exports what is public
//! here. This crate is for code that builds on the runtime itself: the
//! [`wait`] hook that every corral primitive stands on, and the
//! cooperative budget ([`coop`]).
//!
//! Layout (see `docs/architecture.md` for the life of a task):
//!
//! - `task/`: the task allocation, its state word, [`task::JoinHandle`].
//! - `sched/`: the multi-thread work-stealing and current-thread schedulers.
//! - [`wait`]: the intrusive wait list primitives hook into.
//! - [`coop`]: the cooperative budget.
//! - [`combine`]: gather, race, `join!`, bounded_map: futures run
//!   concurrently in the calling task.
//! - `driver.rs`, `reactor/`, [`time`], `blocking/`: what parked threads
//!   wait on (I/O readiness, timers) and the blocking pool.
//! - `signal/`: Ctrl-C and Unix signals, delivered through the reactor.
//! - `context.rs`: what the current thread is doing for the runtime.
//! - `hyper` (feature `hyper`): hyper 1.x's executor and timer; the
//!   streams' `hyper::rt::Read`/`Write` impls are in `net/hyper_io.rs`.
//! - `loom.rs`: the only place that names atomics and locks (loom-swappable).

#![doc(test(attr(deny(warnings))))]
// Under loom, parkers never sleep in the driver (see sched/park.rs), which
// leaves the driver's parking path unused.
#![cfg_attr(loom, allow(dead_code))]

mod blocking;
mod builder;
pub mod combine;
mod contain;
mod context;
pub mod coop;
mod driver;
pub mod group;
mod handle;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
mod loom;
pub mod net;
mod reactor;
mod runtime;
mod sched;
#[cfg(unix)]
pub mod signal;
pub mod task;
pub mod time;
pub mod wait;
mod yield_now;

pub use builder::Builder;
pub use handle::{run_sync, spawn, spawn_blocking, EnterGuard, Handle, RuntimeFlavor, TryCurrentError};
pub use runtime::Runtime;
pub use sched::monitor::StallReport;
pub use yield_now::{yield_now, YieldNow};
