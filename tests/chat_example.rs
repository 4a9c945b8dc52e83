//! `examples/chat.rs --demo` runs end to end: the server, three scripted
//! clients, a refused duplicate name, a leave and a clean shutdown, each
//! client's transcript checked by the example itself (exit status 0).
//! Loopback only; bounded by a watchdog.

use std::path::PathBuf;
use std::process::Command;

#[allow(dead_code)]
mod common;
use common::with_deadline;

/// The path of the built example; `cargo test` builds examples with every
/// target, but not under a filter (`--test chat_example`): then build it
/// here (same profile, same target dir).
fn example(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap(); // target/<profile>/deps/<test>
    dir.pop();
    dir.pop();
    let path = dir.join("examples").join(name);
    if !path.exists() {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.current_dir(env!("CARGO_MANIFEST_DIR"));
        cargo.args(["build", "--example", name]);
        if dir.ends_with("release") {
            cargo.arg("--release");
        }
        let status = cargo.status().unwrap();
        assert!(status.success(), "building the example failed: {status}");
    }
    assert!(path.exists(), "{} not built", path.display());
    path
}

#[test]
fn chat_demo_runs_and_checks_every_client() {
    with_deadline("chat_demo", 120, || {
        let out = Command::new(example("chat")).arg("--demo").output().unwrap();
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
        let out = Command::new(example("chat")).arg("--bogus").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument"));
    });
}
