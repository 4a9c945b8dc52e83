//! `corral::signal`: `ctrl_c` and Unix signals, raised to our own process.
//!
//! Signals are process-wide and the tests of this file run in parallel, so
//! each test uses its own signal number.
#![cfg(unix)]

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use corral::signal::unix::{signal, SignalKind};
use corral::time::timeout;

#[allow(dead_code)]
mod common;
use common::{current, ms, multi, run_with_timeout};

/// Raises `signum` on this thread: its handler has run when this returns
/// (`kill(getpid())` would let any thread take it, later).
fn raise(signum: libc::c_int) {
    // SAFETY: the test installed a handler for `signum` first, so this
    // only runs corral's handler.
    assert_eq!(unsafe { libc::raise(signum) }, 0);
}

/// Sends `signum` to the whole process, as `kill` from a shell does.
fn kill_self(signum: libc::c_int) {
    // SAFETY: as for `raise`.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signum) }, 0);
}

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn recv_returns_after_the_signal_is_raised() {
    run_with_timeout("signal_usr1", 20, || {
        for rt in [current(), multi(2)] {
            rt.block_on(async {
                let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
                assert_eq!(usr1.kind(), SignalKind::user_defined1());
                // Nothing yet.
                assert!(timeout(ms(20), usr1.recv()).await.is_err());
                raise(libc::SIGUSR1);
                assert_eq!(timeout(WAIT, usr1.recv()).await, Ok(Some(())));
                // Arrivals are not replayed.
                assert!(timeout(ms(20), usr1.recv()).await.is_err());
                // Twice more: each recv sees the next one.
                for _ in 0..2 {
                    raise(libc::SIGUSR1);
                    assert_eq!(timeout(WAIT, usr1.recv()).await, Ok(Some(())));
                }
            });
        }
    });
}

#[test]
fn every_listener_in_every_runtime_gets_the_signal() {
    run_with_timeout("signal_usr2_many", 20, || {
        let a = multi(2);
        let b = current();
        let c = multi(1);
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let mut tasks = Vec::new();
        // Three listeners in `a`, one each in `b` (its own thread) and `c`.
        for _ in 0..3 {
            let mut s = a.block_on(async { signal(SignalKind::user_defined2()) }).unwrap();
            tasks.push(a.spawn(async move { timeout(WAIT, s.recv()).await }));
        }
        let mut sc = c.block_on(async { signal(SignalKind::user_defined2()) }).unwrap();
        let tc = c.spawn(async move { timeout(WAIT, sc.recv()).await });
        let b_barrier = barrier.clone();
        let tb = std::thread::spawn(move || {
            b.block_on(async move {
                let mut s = signal(SignalKind::user_defined2()).unwrap();
                b_barrier.wait();
                timeout(WAIT, s.recv()).await
            })
        });
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || barrier.wait())
            })
            .collect();
        barrier.wait();
        for w in waiters {
            w.join().unwrap();
        }
        raise(libc::SIGUSR2);
        for t in tasks {
            assert_eq!(a.block_on(t).unwrap(), Ok(Some(())));
        }
        assert_eq!(c.block_on(tc).unwrap(), Ok(Some(())));
        assert_eq!(tb.join().unwrap(), Ok(Some(())));
    });
}

#[test]
fn arrivals_coalesce_and_earlier_ones_are_not_seen() {
    run_with_timeout("signal_hup", 20, || {
        let rt = current();
        rt.block_on(async {
            let mut first = signal(SignalKind::hangup()).unwrap();
            raise(libc::SIGHUP);
            raise(libc::SIGHUP);
            // A listener created after those arrivals does not see them.
            let mut late = signal(SignalKind::hangup()).unwrap();
            assert!(timeout(ms(20), late.recv()).await.is_err());
            // Two arrivals before a recv coalesce into one.
            assert_eq!(timeout(WAIT, first.recv()).await, Ok(Some(())));
            assert!(timeout(ms(20), first.recv()).await.is_err());
        });
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    run_with_timeout("signal_int", 20, || {
        let rt = multi(2);
        rt.block_on(async {
            let mut pressed = Box::pin(corral::signal::ctrl_c());
            // The first poll installs the handler and registers.
            assert!(futures_util::poll!(pressed.as_mut()).is_pending());
            raise(libc::SIGINT);
            assert!(timeout(WAIT, pressed).await.unwrap().is_ok());
            // Through the unix API too.
            let mut int = signal(SignalKind::interrupt()).unwrap();
            kill_self(libc::SIGINT);
            assert_eq!(timeout(WAIT, int.recv()).await, Ok(Some(())));
        });
    });
}

#[test]
fn a_dropped_recv_loses_nothing() {
    run_with_timeout("signal_alrm", 20, || {
        let rt = current();
        rt.block_on(async {
            let mut alarm = signal(SignalKind::alarm()).unwrap();
            assert!(timeout(ms(10), alarm.recv()).await.is_err());
            raise(libc::SIGALRM);
            // Let the wake happen with no recv pending.
            corral::time::sleep(ms(10)).await;
            assert_eq!(timeout(WAIT, alarm.recv()).await, Ok(Some(())));
        });
    });
}

#[test]
fn recv_returns_none_after_the_runtime_shut_down() {
    run_with_timeout("signal_winch_shutdown", 20, || {
        let rt = current();
        let mut s = rt
            .block_on(async { signal(SignalKind::window_change()) })
            .unwrap();
        drop(rt);
        let other = current();
        assert_eq!(other.block_on(s.recv()), None);
    });
}

#[test]
fn bad_signals_and_no_runtime_are_errors() {
    let rt = current();
    rt.block_on(async {
        for forbidden in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGILL,
            libc::SIGFPE,
        ] {
            let err = signal(SignalKind::from_raw(forbidden)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains("cannot be listened for"), "{err}");
        }
        for out_of_range in [0, -1, 65, 1000] {
            let err = signal(SignalKind::from_raw(out_of_range)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains("out of range"), "{err}");
        }
    });
    // SIGUSR1's handler may be installed by another test; either way there
    // is no runtime here.
    let err = signal(SignalKind::user_defined1()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected);
}

#[test]
fn signal_types_are_send_sync_unpin() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    fn send<T: Send>(_: &T) {}
    send_sync_unpin::<corral::signal::unix::Signal>();
    send_sync_unpin::<SignalKind>();
    send(&corral::signal::ctrl_c());
    let rt = current();
    rt.block_on(async {
        let mut s = signal(SignalKind::user_defined1()).unwrap();
        send(&s.recv());
    });
}
