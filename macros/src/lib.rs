//! The entry-point attributes of the corral async runtime:
//! `#[corral::main]` and `#[corral::test]`.
//!
//! Use them through the facade (`corral::main`, `corral::test`), not through
//! this crate: the code they generate names `::corral`, so the `corral`
//! package must be a dependency of the crate that uses them.
//!
//! Both turn an `async fn` into a plain function that builds a runtime and
//! blocks on the body:
//!
//! ```rust
//! #[corral::main]
//! async fn main() {
//!     println!("hello from corral");
//! }
//! ```
//!
//! becomes, in effect,
//!
//! ```rust
//! fn main() {
//!     let body = async move {
//!         println!("hello from corral");
//!     };
//!     ::corral::Builder::new_multi_thread()
//!         .build()
//!         .expect("failed to build the corral runtime")
//!         .block_on(body)
//! }
//! ```
//!
//! Misuse (a missing `async`, arguments, generic parameters, an unknown or
//! malformed attribute argument) is a compile error that points at the
//! offending tokens. Errors inside the body keep the body's own spans.

#![deny(missing_docs)]
// The docs show `fn main` on purpose: it is what the macros generate.
#![allow(clippy::needless_doctest_main)]

use proc_macro::TokenStream;

mod entry;

/// Runs an `async fn main` on a corral runtime.
///
/// The function is rewritten into a synchronous `fn main` that builds a
/// runtime with `corral::Builder`, blocks on the body with
/// `Runtime::block_on`, and returns what the body returns: the function may
/// declare a return type such as `Result<(), E>`, exactly as a plain `main`
/// can. The runtime is dropped before the function returns.
///
/// The function must be `async`, take no arguments and have no generic
/// parameters. It does not have to be called `main`; a function with another
/// name becomes a synchronous function that runs its own runtime each time it
/// is called.
///
/// # Attributes
///
/// - `flavor = "multi_thread"` (the default): a work-stealing runtime with
///   one worker thread per CPU core. The body itself runs on the thread that
///   called `main`; tasks it spawns run on the workers.
/// - `flavor = "current_thread"`: everything runs on the thread that called
///   `main`.
/// - `worker_threads = N`: the number of worker threads, an integer literal
///   of at least 1. Only with the multi-thread flavor.
/// - `start_paused = true`: the runtime's clock starts paused (see
///   `corral::time::pause`). Only with `flavor = "current_thread"` (a
///   compile error otherwise, as `Builder::build` refuses it).
///
/// # Examples
///
/// ```rust
/// #[corral::main]
/// async fn main() {
///     let answer = corral::spawn(async { 6 * 7 }).await.unwrap();
///     println!("{answer}");
/// }
/// ```
///
/// With a fixed number of workers, returning an error from `main`:
///
/// ```rust
/// #[corral::main(worker_threads = 4)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let n = corral::spawn(async { "42".parse::<u32>() }).await??;
///     println!("parsed {n} on a worker");
///     Ok(())
/// }
/// ```
///
/// On the calling thread only:
///
/// ```rust
/// #[corral::main(flavor = "current_thread")]
/// async fn main() {
///     corral::yield_now().await;
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a corral runtime.
///
/// The function is rewritten into a synchronous `#[test]` function that
/// builds a fresh runtime, blocks on the body, and returns what the body
/// returns, so a test may return `Result<(), E>` as any `#[test]` can. Other
/// attributes on the function (`#[should_panic]`, `#[ignore]`, doc comments,
/// `#[cfg(...)]`) are kept. Do not add `#[test]` yourself.
///
/// The function must be `async`, take no arguments and have no generic
/// parameters.
///
/// # Attributes
///
/// - `flavor = "current_thread"` (the default): the body and every task it
///   spawns run on the test's own thread, so a test is deterministic unless it
///   asks for threads.
/// - `flavor = "multi_thread"`: a work-stealing runtime; spawned tasks run
///   on worker threads.
/// - `worker_threads = N`: the number of worker threads, an integer literal
///   of at least 1. Only with `flavor = "multi_thread"`.
/// - `start_paused = true`: the clock starts paused; on the default
///   current-thread runtime it then jumps to the next timer whenever every
///   task waits, so time-based tests run instantly and deterministically.
///   Not with `flavor = "multi_thread"` (a compile error).
///
/// # Examples
///
/// ```rust
/// #[corral::test]
/// async fn spawned_task_completes() {
///     let handle = corral::spawn(async { 1 + 1 });
///     assert_eq!(handle.await.unwrap(), 2);
/// }
/// ```
///
/// On two worker threads, with a fallible body:
///
/// ```rust
/// #[corral::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn work_runs_on_a_worker() -> Result<(), String> {
///     let test_thread = std::thread::current().id();
///     let task_thread = corral::spawn(async { std::thread::current().id() })
///         .await
///         .map_err(|e| e.to_string())?;
///     assert_ne!(task_thread, test_thread);
///     Ok(())
/// }
/// ```
///
/// On a paused clock, an hour passes at once:
///
/// ```rust
/// #[corral::test(start_paused = true)]
/// async fn retries_for_an_hour() {
///     let start = corral::time::Instant::now();
///     corral::time::sleep(std::time::Duration::from_secs(3600)).await;
///     assert_eq!(start.elapsed(), std::time::Duration::from_secs(3600));
/// }
/// ```
///
/// Other test attributes go below it:
///
/// ```rust
/// #[corral::test]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     panic!("boom");
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Test, args.into(), item.into()).into()
}
