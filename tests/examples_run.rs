//! The showcase examples that need no feature run end to end and print
//! what they claim to show: `task_groups` (a crawler with task groups,
//! deadlines and bounded_map) and `chat --demo` (the server, three
//! scripted clients, a refused duplicate name, a leave and a clean
//! shutdown, each client's transcript checked by the example itself).
//!
//! The examples are built binaries (`target/<profile>/examples/`); see
//! `common::example`. Loopback only; bounded by a watchdog.

use std::process::Command;

#[allow(dead_code)]
mod common;
use common::{example, with_deadline};

/// Runs an example to completion and returns its standard output.
fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(example(name, &[])).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn task_groups_crawls_gives_up_on_slow_pages_and_reports_the_error_group() {
    with_deadline("task_groups", 120, || {
        let out = run("task_groups", &[]);
        // The crawl reached every page not behind a slow one, and gave up
        // on exactly the slow ones.
        assert!(out.contains("reached 38 pages"), "{out}");
        assert!(out.contains("gave up on [13, 26, 39]"), "{out}");
        // The progress line counted up to each level's total.
        assert!(out.contains("depth 4: 14/14 pages"), "{out}");
        // The deadline cancelled the slow page and nothing else.
        assert!(out.contains("page 5 -> links [11, 12]"), "{out}");
        assert!(out.contains("(page 13) was cancelled"), "{out}");
        // The missing page failed the group and cancelled its siblings.
        assert!(out.contains("(page 99) failed: page 99: 404"), "{out}");
        assert!(out.contains("(2 sibling(s) cancelled)"), "{out}");
        assert!(out.contains("5. site stopped: 1 task(s) cancelled"), "{out}");
    });
}

#[test]
fn chat_demo_runs_and_checks_every_client() {
    with_deadline("chat_demo", 120, || {
        let out = Command::new(example("chat", &[])).arg("--demo").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "chat --demo failed: {out:?}");
        assert!(stdout.contains("bob < alice: hi all"), "{stdout}");
        assert!(stdout.contains("alice < * carol left"), "{stdout}");
        assert!(
            stdout.contains("every client got exactly what it should"),
            "{stdout}"
        );
    });
}

#[test]
fn chat_rejects_an_unknown_argument() {
    with_deadline("chat_bad_arg", 120, || {
        let out = Command::new(example("chat", &[]))
            .arg("--bogus")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument"));
    });
}
