//! The `http_server` and `http_client` examples (feature `hyper`) run end
//! to end: the server answers a bounded number of requests from the
//! client and exits on its own; the client with no URL serves itself.
//!
//! `cargo test` builds the examples beside the test binaries
//! (`target/<profile>/examples/`). Loopback only; bounded by a watchdog.
#![cfg(feature = "hyper")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[allow(dead_code)]
mod common;
use common::with_deadline;

/// The path of a built example.
fn example(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap(); // target/<profile>/deps/<test>
    dir.pop();
    dir.pop();
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} not built (run through `cargo test --features hyper`)",
        path.display()
    );
    path
}

#[test]
fn client_without_a_url_serves_itself() {
    with_deadline("client_without_a_url_serves_itself", 30, || {
        let out = Command::new(example("http_client")).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "http_client failed: {out:?}");
        assert!(stdout.starts_with("HTTP/1.1 200 OK"), "{stdout}");
        assert!(stdout.contains("Hello from corral!"), "{stdout}");
    });
}

#[test]
fn server_answers_the_client_and_stops_after_the_limit() {
    with_deadline("server_answers_the_client_and_stops_after_the_limit", 30, || {
        let mut server = Command::new(example("http_server"))
            .args(["127.0.0.1:0", "3"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first.strip_prefix("listening on ").expect(&first).to_owned();
        for _ in 0..3 {
            let out = Command::new(example("http_client")).arg(&url).output().unwrap();
            assert!(out.status.success(), "http_client {url} failed: {out:?}");
            assert!(String::from_utf8_lossy(&out.stdout).contains("Hello from corral!"));
        }
        let status = server.wait().unwrap();
        assert!(status.success(), "http_server exited with {status}");
        assert_eq!(lines.next().unwrap().unwrap(), "answered 3 requests");
    });
}
