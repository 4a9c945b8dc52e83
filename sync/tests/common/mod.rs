//! Helpers shared by corral-sync's integration tests (`mod common;`).

use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use corral::{Builder, Runtime};

/// Runs `f` on its own thread and fails (instead of hanging the suite) if
/// it does not finish within `secs`; a panic in `f` is re-raised.
pub fn run_with_timeout<F: FnOnce() + Send + 'static>(name: &str, secs: u64, f: F) {
    let (tx, rx) = mpsc::channel();
    let t = thread::Builder::new()
        .name(format!("test-{name}"))
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

/// `CORRAL_STRESS` (iterations; CI sets 200), default 200.
pub fn stress() -> usize {
    std::env::var("CORRAL_STRESS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

struct ThreadWaker(thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` to completion on this plain thread, with a non-corral waker
/// (a foreign executor).
pub fn foreign_block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park_timeout(Duration::from_millis(100));
    }
}

/// Polls once with a no-op waker.
pub fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A tiny deterministic RNG (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A gate the test opens to let holders go.
#[derive(Clone, Default)]
pub struct Gate(Arc<std::sync::atomic::AtomicBool>);

impl Gate {
    pub fn open(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    pub async fn wait(&self) {
        while !self.0.load(std::sync::atomic::Ordering::SeqCst) {
            corral::yield_now().await;
        }
    }
}

/// Awaits `fut`, counting its polls: 1 means it never returned `Pending`
/// (for a `lock()`: the lock was taken without queueing).
pub async fn count_polls<F: Future>(fut: F) -> (F::Output, u32) {
    let mut fut = std::pin::pin!(fut);
    let mut polls = 0;
    let out = std::future::poll_fn(|cx| {
        polls += 1;
        fut.as_mut().poll(cx)
    })
    .await;
    (out, polls)
}
