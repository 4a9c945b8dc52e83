//! `#[corral::test]` and `#[corral::main]` through the facade: the generated
//! functions really build a runtime and run the body on it. The misuse
//! diagnostics are covered by `macros/tests/ui`.

use std::thread::{self, ThreadId};

use corral::{Handle, RuntimeFlavor};

#[corral::test]
async fn test_runs_body_and_awaits_spawned_task() {
    let handle = corral::spawn(async { 40 + 2 });
    assert_eq!(handle.await.unwrap(), 42);
}

#[corral::test]
async fn test_defaults_to_current_thread() {
    let test_thread = thread::current().id();
    let task_thread = corral::spawn(async { thread::current().id() }).await.unwrap();
    assert_eq!(task_thread, test_thread);
}

#[corral::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_multi_thread_runs_tasks_on_workers() {
    let test_thread = thread::current().id();
    let task_thread: ThreadId = corral::spawn(async { thread::current().id() }).await.unwrap();
    assert_ne!(task_thread, test_thread);
}

#[corral::test]
async fn test_may_return_ok() -> Result<(), String> {
    let n = corral::spawn(async { 7 }).await.map_err(|e| e.to_string())?;
    if n == 7 {
        Ok(())
    } else {
        Err(format!("expected 7, got {n}"))
    }
}

#[corral::test]
async fn test_question_mark_converts_into_boxed_error() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "12".parse()?;
    assert_eq!(n, 12);
    Ok(())
}

/// Attributes below `#[corral::test]` (and doc comments like this one) are
/// kept on the generated test.
#[corral::test]
#[should_panic(expected = "the body panicked")]
async fn test_keeps_should_panic() {
    panic!("the body panicked");
}

#[corral::test]
async fn test_handle_current_is_available() {
    let handle = Handle::current();
    assert_eq!(handle.runtime_flavor(), RuntimeFlavor::CurrentThread);
    assert_eq!(handle.spawn(async { 3 }).await.unwrap(), 3);
}

#[corral::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_multi_thread_flavor_and_worker_count_are_applied() {
    let handle = Handle::current();
    assert_eq!(handle.runtime_flavor(), RuntimeFlavor::MultiThread);
    assert_eq!(handle.num_workers(), 2);
}

#[corral::test]
async fn test_keeps_inner_attributes() {
    #![allow(unused_variables)]
    let unused = 1;
}

// `#[corral::main]` on a function not called `main`: a synchronous function
// that runs its own runtime each time it is called.

#[corral::main(flavor = "current_thread")]
async fn main_current_thread() -> u32 {
    corral::spawn(async { 5 }).await.unwrap() + 1
}

#[corral::main(worker_threads = 2)]
async fn main_multi_thread() -> (usize, ThreadId, ThreadId) {
    let task_thread = corral::spawn(async { thread::current().id() }).await.unwrap();
    (
        Handle::current().num_workers(),
        thread::current().id(),
        task_thread,
    )
}

#[test]
fn main_builds_a_runtime_per_call() {
    assert_eq!(main_current_thread(), 6);
    assert_eq!(main_current_thread(), 6);

    let (workers, body_thread, task_thread) = main_multi_thread();
    assert_eq!(workers, 2);
    assert_eq!(body_thread, thread::current().id());
    assert_ne!(task_thread, body_thread);
}

#[corral::test(start_paused = true)]
async fn start_paused_jumps_over_an_hour_of_sleep() {
    let real = std::time::Instant::now();
    let start = corral::time::Instant::now();
    corral::time::sleep(std::time::Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(3600));
    assert!(real.elapsed() < std::time::Duration::from_secs(30));
}
