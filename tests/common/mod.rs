//! Helpers shared by the integration tests under `tests/`.
//!
//! Each test binary pulls this in with `mod common;` and uses only a subset,
//! so the module is declared `#[allow(dead_code)]` at every use site.

use std::future::Future;
use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use corral::{Builder, Runtime};

// ---- watchdogs -------------------------------------------------------------

/// Runs `f` on a thread called `thread_name` and fails (instead of hanging
/// the whole suite) if it does not finish within `secs`; a panic in `f` is
/// re-raised on the calling thread.
fn watchdog<F: FnOnce() + Send + 'static>(thread_name: String, name: &str, secs: u64, f: F) {
    let (tx, rx) = mpsc::channel();
    let t = thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            f();
            let _ = tx.send(());
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(payload) = t.join() {
                panic::resume_unwind(payload);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("HANG: {name} did not finish within {secs} s"),
    }
}

/// Runs `f` on its own thread (named `test-{name}`) and fails the test
/// (instead of hanging the whole suite) if it does not finish within `secs`.
pub fn run_with_timeout<F: FnOnce() + Send + 'static>(name: &str, secs: u64, f: F) {
    watchdog(format!("test-{name}"), name, secs, f);
}

/// Runs `f` on its own thread (named exactly `name`); fails if it takes
/// longer than `secs`. The watchdog of the networking tests.
pub fn with_deadline(name: &str, secs: u64, f: impl FnOnce() + Send + 'static) {
    watchdog(name.into(), name, secs, f);
}

// ---- runtimes --------------------------------------------------------------

/// A multi-thread runtime with `workers` worker threads.
pub fn multi(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// A current-thread runtime.
pub fn current() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

/// A current-thread runtime whose clock starts paused.
pub fn paused() -> Runtime {
    Builder::new_current_thread().start_paused(true).build().unwrap()
}

// ---- time ------------------------------------------------------------------

/// `n` milliseconds.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Generous upper bound for "not too late" on a loaded CI machine.
pub const SLACK: Duration = Duration::from_millis(500);

// ---- drop probes -----------------------------------------------------------

/// Increments its counter when dropped.
pub struct DropCounter(pub Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Panics with its message when dropped.
pub struct PanicOnDrop(pub &'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

// ---- panic payloads --------------------------------------------------------

/// The text of a panic payload (`&str` or `String`), or
/// `"<non-string payload>"` for anything else.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string payload>".to_owned()
    }
}

/// The text of an owned panic payload (`String` or `&str`), or an empty
/// string for anything else.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

// ---- wakers and foreign polling --------------------------------------------

/// A waker that counts its wakes and unparks a thread (for blocking polls).
pub struct CountingWaker {
    /// The thread to unpark on every wake.
    pub thread: thread::Thread,
    /// How many times the waker was woken (by value or by reference).
    pub wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        self.thread.unpark();
    }
}

/// A [`CountingWaker`] that unparks the current thread, and a `Waker` for it.
pub fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let c = Arc::new(CountingWaker {
        wakes: AtomicUsize::new(0),
        thread: thread::current(),
    });
    (c.clone(), Waker::from(c))
}

/// Polls `fut` to completion on this plain thread, with a non-corral waker.
pub fn foreign_block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(CountingWaker {
        thread: thread::current(),
        wakes: AtomicUsize::new(0),
    }));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park_timeout(Duration::from_millis(100));
    }
}

// ---- examples --------------------------------------------------------------

/// One build of the examples at a time (tests of one binary run in
/// parallel).
static EXAMPLE_BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The path of a built example (`target/<profile>/examples/<name>`).
/// `cargo test` builds the examples when it builds every target; under a
/// filter (`--test NAME`) it does not, so then build them here, with
/// `features`, in the same profile and target dir.
pub fn example(name: &str, features: &[&str]) -> std::path::PathBuf {
    let mut dir = std::env::current_exe().unwrap(); // target/<profile>/deps/<test>
    dir.pop();
    dir.pop();
    let path = dir.join("examples").join(name);
    if !path.exists() {
        let _lock = EXAMPLE_BUILD.lock().unwrap_or_else(|e| e.into_inner());
        if !path.exists() {
            let mut cargo = std::process::Command::new(env!("CARGO"));
            cargo.current_dir(env!("CARGO_MANIFEST_DIR"));
            cargo.args(["build", "--example", name]);
            if !features.is_empty() {
                cargo.args(["--features", &features.join(",")]);
            }
            if dir.ends_with("release") {
                cargo.arg("--release");
            }
            let status = cargo.status().unwrap();
            assert!(status.success(), "building example {name} failed: {status}");
        }
    }
    assert!(path.exists(), "{} not built", path.display());
    path
}
