//! The `http_server` and `http_client` examples (feature `hyper`) run end
//! to end: the server answers a bounded number of requests from the
//! client and exits on its own; the client with no URL serves itself.
//!
//! The examples are built binaries (`target/<profile>/examples/`); see
//! `common::example`. Loopback only; bounded by a watchdog.
#![cfg(feature = "hyper")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[allow(dead_code)]
mod common;
use common::{example, with_deadline};

/// Kills the child if the test fails before it exits.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn client_without_a_url_serves_itself() {
    with_deadline("client_without_a_url_serves_itself", 300, || {
        let out = Command::new(example("http_client", &["hyper"])).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "http_client failed: {out:?}");
        assert!(stdout.starts_with("HTTP/1.1 200 OK"), "{stdout}");
        assert!(stdout.contains("Hello from corral!"), "{stdout}");
    });
}

#[test]
fn server_answers_the_client_and_stops_after_the_limit() {
    with_deadline("server_answers_the_client_and_stops_after_the_limit", 300, || {
        let client = example("http_client", &["hyper"]);
        let server = Command::new(example("http_server", &["hyper"]))
            .args(["127.0.0.1:0", "3"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = KillOnDrop(server);
        let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first.strip_prefix("listening on ").expect(&first).to_owned();
        for _ in 0..3 {
            let out = Command::new(&client).arg(&url).output().unwrap();
            assert!(out.status.success(), "http_client {url} failed: {out:?}");
            assert!(String::from_utf8_lossy(&out.stdout).contains("Hello from corral!"));
        }
        let status = server.0.wait().unwrap();
        assert!(status.success(), "http_server exited with {status}");
        assert_eq!(lines.next().unwrap().unwrap(), "answered 3 requests");
    });
}
