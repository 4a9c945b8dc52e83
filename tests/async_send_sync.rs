//! Auto traits of the public runtime types: `Send`, `Sync` and `Unpin`
//! where users need them, and not where they would be unsound.
//!
//! Positive properties are compile-time assertions (a missing one breaks the
//! build of this file). Negative properties use autoref-based probes that
//! evaluate to a `bool`, so that a type gaining a trait it must not have
//! fails its own test instead of breaking the whole file.

use std::future::Future;
use std::marker::PhantomData;

use corral::task::{AbortHandle, Id, JoinError, JoinHandle};
use corral::{Builder, EnterGuard, Handle, Runtime, RuntimeFlavor, TryCurrentError, YieldNow};
use corral_runtime::wait::{Removed, StaleWaiter, WaitList, WaitNode, WakeBatch};

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}
fn is_unpin<T: Unpin>() {}
fn is_send_val<T: Send>(_: &T) {}

// ---- probes: does `T` implement the trait? (answered as a bool) ----------

struct Probe<T: ?Sized>(PhantomData<T>);

trait ProbeSendYes {
    fn send(&self) -> bool {
        true
    }
}
impl<T: ?Sized + Send> ProbeSendYes for &Probe<T> {}
trait ProbeSendNo {
    fn send(&self) -> bool {
        false
    }
}
impl<T: ?Sized> ProbeSendNo for Probe<T> {}

trait ProbeSyncYes {
    fn sync(&self) -> bool {
        true
    }
}
impl<T: ?Sized + Sync> ProbeSyncYes for &Probe<T> {}
trait ProbeSyncNo {
    fn sync(&self) -> bool {
        false
    }
}
impl<T: ?Sized> ProbeSyncNo for Probe<T> {}

trait ProbeUnpinYes {
    fn unpin(&self) -> bool {
        true
    }
}
impl<T: ?Sized + Unpin> ProbeUnpinYes for &Probe<T> {}
trait ProbeUnpinNo {
    fn unpin(&self) -> bool {
        false
    }
}
impl<T: ?Sized> ProbeUnpinNo for Probe<T> {}

macro_rules! implements {
    ($t:ty: Send) => {
        (&&Probe::<$t>(PhantomData)).send()
    };
    ($t:ty: Sync) => {
        (&&Probe::<$t>(PhantomData)).sync()
    };
    ($t:ty: Unpin) => {
        (&&Probe::<$t>(PhantomData)).unpin()
    };
}

#[test]
fn probes_work() {
    assert!(implements!(u8: Send) && implements!(u8: Sync) && implements!(u8: Unpin));
    assert!(!implements!(std::rc::Rc<u8>: Send));
    assert!(!implements!(std::cell::Cell<u8>: Sync));
    assert!(!implements!(std::marker::PhantomPinned: Unpin));
}

// ---- task types ------------------------------------------------------------

#[test]
fn join_handle_is_send_sync_unpin() {
    is_send::<JoinHandle<()>>();
    is_sync::<JoinHandle<()>>();
    is_unpin::<JoinHandle<()>>();
    is_send::<JoinHandle<String>>();
    is_sync::<JoinHandle<String>>();
    // Output that is Send but not Sync: the handle only moves it.
    is_send::<JoinHandle<std::cell::Cell<u8>>>();
    is_sync::<JoinHandle<std::cell::Cell<u8>>>();
    // Unpin even when the output is not.
    is_unpin::<JoinHandle<std::marker::PhantomPinned>>();
}

#[test]
fn abort_handle_is_send_sync_unpin() {
    is_send::<AbortHandle>();
    is_sync::<AbortHandle>();
    is_unpin::<AbortHandle>();
}

#[test]
fn join_handle_is_not_send_for_a_non_send_output() {
    assert!(!implements!(JoinHandle<std::rc::Rc<u8>>: Send));
    assert!(!implements!(JoinHandle<std::rc::Rc<u8>>: Sync));
}

#[test]
fn join_error_is_send_and_unpin() {
    is_send::<JoinError>();
    is_unpin::<JoinError>();
}

#[test]
fn join_error_is_sync() {
    // Needed to turn it into `Box<dyn Error + Send + Sync>` (what `?` into
    // anyhow / most error types asks for), as tokio's JoinError allows.
    assert!(
        implements!(JoinError: Sync),
        "JoinError is not Sync: `Box<dyn Error + Send + Sync>::from(join_error)` does not compile"
    );
}

#[test]
fn task_id_is_send_sync_unpin() {
    is_send::<Id>();
    is_sync::<Id>();
    is_unpin::<Id>();
}

// ---- runtime types -----------------------------------------------------------

#[test]
fn handle_is_send_sync_unpin() {
    is_send::<Handle>();
    is_sync::<Handle>();
    is_unpin::<Handle>();
}

#[test]
fn runtime_is_send_sync_unpin() {
    is_send::<Runtime>();
    is_sync::<Runtime>();
    is_unpin::<Runtime>();
}

#[test]
fn builder_is_send_sync_unpin() {
    is_send::<Builder>();
    is_sync::<Builder>();
    is_unpin::<Builder>();
}

#[test]
fn small_types_are_send_sync_unpin() {
    is_send::<RuntimeFlavor>();
    is_sync::<RuntimeFlavor>();
    is_unpin::<RuntimeFlavor>();
    is_send::<TryCurrentError>();
    is_sync::<TryCurrentError>();
    is_unpin::<TryCurrentError>();
}

#[test]
fn yield_now_is_send_sync_unpin() {
    is_send::<YieldNow>();
    is_sync::<YieldNow>();
    is_unpin::<YieldNow>();
}

#[test]
fn enter_guard_is_unpin() {
    is_unpin::<EnterGuard>();
}

#[test]
fn enter_guard_is_not_send() {
    // The guard restores the previous runtime of the thread it was created
    // on; dropped on another thread it would set that thread's context and
    // leave the original thread inside the runtime forever.
    assert!(
        !implements!(EnterGuard: Send),
        "EnterGuard is Send: it can be dropped on another thread than the one it entered"
    );
}

// ---- wait hook ---------------------------------------------------------------

#[test]
fn wait_list_is_send_sync_unpin() {
    is_send::<WaitList<usize>>();
    is_sync::<WaitList<usize>>();
    is_unpin::<WaitList<usize>>();
    // A primitive keeps the list under a std / parking_lot mutex.
    is_send::<std::sync::Mutex<WaitList<usize>>>();
    is_sync::<std::sync::Mutex<WaitList<usize>>>();
    assert!(!implements!(WaitList<std::rc::Rc<u8>>: Send));
}

#[test]
fn wait_node_is_send_sync_and_pinned() {
    is_send::<WaitNode<usize>>();
    is_sync::<WaitNode<usize>>();
    // Nodes are linked by address: they must never be Unpin.
    assert!(!implements!(WaitNode<usize>: Unpin));
    assert!(!implements!(WaitNode<std::rc::Rc<u8>>: Send));
    assert!(!implements!(WaitNode<std::rc::Rc<u8>>: Sync));
}

#[test]
fn wake_batch_is_send_unpin() {
    // Filled under a lock, woken after it is released, possibly having
    // moved with the guard's owner; no need to share it.
    is_send::<WakeBatch>();
    is_unpin::<WakeBatch>();
}

#[test]
fn stale_waiter_and_removed_cross_threads() {
    // A replaced record is dropped after the lock, wherever the guard's
    // owner is by then; `Removed` is a plain value.
    is_send::<StaleWaiter>();
    is_unpin::<StaleWaiter>();
    is_send::<Removed>();
    is_sync::<Removed>();
}

// ---- futures built from them ---------------------------------------------------

#[test]
fn futures_using_the_runtime_are_send() {
    let fut = async {
        let h = corral::spawn(async { 1 });
        corral::yield_now().await;
        let id = h.id();
        let _ = corral::task::try_id();
        (h.await, id)
    };
    is_send_val(&fut);
    fn assert_send_future<F: Future + Send>(_: &F) {}
    assert_send_future(&corral::yield_now());
    // Not run: only its type matters.
    drop(fut);
}

// ---- time ---------------------------------------------------------------------

#[test]
fn time_types_are_send_sync_and_sleep_is_unpin() {
    use corral::time::{Elapsed, Instant, Interval, MissedTickBehavior, MoveOnAfter, Sleep, Timeout};
    is_send::<Sleep>();
    is_sync::<Sleep>();
    // Unlike tokio's, corral's Sleep needs no pinning.
    is_unpin::<Sleep>();
    is_send::<Timeout<std::future::Ready<u8>>>();
    is_sync::<Timeout<std::future::Ready<u8>>>();
    is_unpin::<Timeout<std::future::Ready<u8>>>();
    is_send::<MoveOnAfter<std::future::Ready<u8>>>();
    is_send::<Interval>();
    is_sync::<Interval>();
    is_unpin::<Interval>();
    is_send::<Elapsed>();
    is_sync::<Elapsed>();
    is_send::<Instant>();
    is_sync::<Instant>();
    is_send::<MissedTickBehavior>();
}

#[test]
fn time_futures_are_send() {
    let fut = async {
        let mut i = corral::time::interval(std::time::Duration::from_millis(1));
        i.tick().await;
        corral::time::sleep(std::time::Duration::ZERO).await;
        let _ = corral::time::timeout(std::time::Duration::ZERO, async {}).await;
        let _ = corral::time::move_on_after(std::time::Duration::ZERO, async {}).await;
    };
    is_send_val(&fut);
    drop(fut);
}

// ---- blocking pool and net ----------------------------------------------------------

#[test]
fn run_sync_handle_is_send_sync() {
    is_send::<JoinHandle<Vec<u8>>>();
    is_sync::<JoinHandle<Vec<u8>>>();
}

#[test]
fn net_types_are_send_sync_unpin() {
    use corral::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
    is_send::<TcpListener>();
    is_sync::<TcpListener>();
    is_unpin::<TcpListener>();
    is_send::<TcpStream>();
    is_sync::<TcpStream>();
    is_unpin::<TcpStream>();
    is_send::<UdpSocket>();
    is_sync::<UdpSocket>();
    is_send::<UnixListener>();
    is_sync::<UnixListener>();
    is_send::<UnixStream>();
    is_sync::<UnixStream>();
    is_unpin::<UnixStream>();
    is_send::<corral::net::tcp::OwnedReadHalf>();
    is_send::<corral::net::tcp::OwnedWriteHalf>();
}
