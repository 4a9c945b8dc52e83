//! The thread's runtime context: `Handle::enter` guards, `try_current`,
//! and dropping a runtime where blocking is not allowed.

use std::panic::{self, AssertUnwindSafe};

use corral::Handle;

#[allow(dead_code)]
mod common;
use common::{current, multi, panic_message};

fn same_runtime(a: &Handle, b: &Handle) -> bool {
    // Two handles of one runtime spawn onto the same task count.
    let before = b.num_alive_tasks();
    let t = a.spawn(std::future::pending::<()>());
    let same = b.num_alive_tasks() == before + 1;
    t.abort();
    same
}

#[test]
fn nested_enter_guards_dropped_in_order_restore_each_level() {
    let a = current();
    let b = current();
    assert!(Handle::try_current().is_err());
    {
        let _ga = a.enter();
        assert!(same_runtime(&Handle::current(), a.handle()));
        {
            let _gb = b.enter();
            assert!(same_runtime(&Handle::current(), b.handle()));
        }
        assert!(same_runtime(&Handle::current(), a.handle()));
    }
    assert!(Handle::try_current().is_err());
}

#[test]
fn enter_guards_dropped_out_of_order_panic_and_leave_the_context_sound() {
    let a = current();
    let b = current();
    let ga = a.enter();
    let gb = b.enter();
    let err = panic::catch_unwind(AssertUnwindSafe(move || drop(ga))).unwrap_err();
    let msg = panic_message(err);
    assert!(msg.contains("EnterGuard dropped out of order"), "{msg}");
    // `gb` still lives: its runtime is still the current one.
    let h = Handle::try_current().expect("no runtime while a guard lives");
    assert!(same_runtime(&h, b.handle()));
    drop(h);
    drop(gb);
    // Both guards are gone: no runtime is current any more.
    assert!(
        Handle::try_current().is_err(),
        "a runtime is current after every guard was dropped"
    );
    drop(a);
    drop(b);
    assert!(Handle::try_current().is_err());
    // A later enter works normally.
    let c = multi(1);
    {
        let _gc = c.enter();
        let t = corral::spawn(async { 5 });
        assert_eq!(c.block_on(t).unwrap(), 5);
    }
    assert!(Handle::try_current().is_err());
}

#[test]
fn three_guards_two_dropped_out_of_order() {
    let (a, b, c) = (current(), current(), current());
    let ga = a.enter();
    let gb = b.enter();
    let gc = c.enter();
    for g in [gb, ga] {
        let err = panic::catch_unwind(AssertUnwindSafe(move || drop(g))).unwrap_err();
        assert!(panic_message(err).contains("out of order"));
        assert!(same_runtime(&Handle::current(), c.handle()));
    }
    drop(gc);
    assert!(Handle::try_current().is_err());
}
