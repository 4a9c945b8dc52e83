//! A hello-world HTTP/1 server on corral and hyper, with keep-alive.
//!
//! Every request gets `200 OK` and `Hello from corral!`; connections stay
//! open for as many requests as the client sends. The server prints its
//! address, then serves until Ctrl-C, or until it has answered
//! MAX_REQUESTS requests (if given); then it stops accepting, gives open
//! connections two seconds to finish, and says how many requests it
//! answered.
//!
//! ```text
//! cargo run --release --example http_server --features hyper -- [ADDR [MAX_REQUESTS]]
//! ```
//!
//! ADDR defaults to `127.0.0.1:3000` (use port 0 for a free one). Try it
//! with `curl http://127.0.0.1:3000/` or the `http_client` example.

use corral::hyper::CorralTimer;
use corral::net::TcpListener;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Counts answered requests and live connections, to stop after a limit.
#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    connections: AtomicUsize,
}

#[corral::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let limit = match args.next() {
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|e| format!("MAX_REQUESTS {n:?}: {e}"))?,
        ),
        None => None,
    };

    let listener = TcpListener::bind(addr.as_str()).await?;
    println!("listening on http://{}", listener.local_addr()?);

    let counters = Arc::new(Counters::default());
    let acceptor = corral::spawn(accept_loop(listener, counters.clone()));

    // Serve until Ctrl-C, or until `limit` requests were answered.
    let ctrl_c = std::pin::pin!(corral::signal::ctrl_c());
    let reached_limit = std::pin::pin!(async {
        match limit {
            Some(limit) => {
                while counters.requests.load(SeqCst) < limit {
                    corral::time::sleep(Duration::from_millis(5)).await;
                }
            }
            None => std::future::pending().await,
        }
    });
    match futures_util::future::select(ctrl_c, reached_limit).await {
        futures_util::future::Either::Left((signal, _)) => {
            signal?;
            println!("\nCtrl-C: shutting down");
        }
        futures_util::future::Either::Right(_) => {}
    }
    // Stop accepting; let the open connections finish (or give up on them
    // after a grace period, for clients that keep theirs open).
    acceptor.abort();
    let grace = corral::time::Instant::now() + Duration::from_secs(2);
    while counters.connections.load(SeqCst) > 0 && corral::time::Instant::now() < grace {
        corral::time::sleep(Duration::from_millis(5)).await;
    }
    println!("answered {} requests", counters.requests.load(SeqCst));
    Ok(())
}

/// Accepts forever, one task per connection. A failed accept concerns
/// that attempt only: report it and go on.
async fn accept_loop(listener: TcpListener, counters: Arc<Counters>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let counters = counters.clone();
        counters.connections.fetch_add(1, SeqCst);
        corral::spawn(async move {
            let service = service_fn(|_req: Request<Incoming>| {
                let counters = counters.clone();
                async move {
                    let resp = Response::new(Full::new(Bytes::from_static(b"Hello from corral!\n")));
                    counters.requests.fetch_add(1, SeqCst);
                    Ok::<_, Infallible>(resp)
                }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(CorralTimer::new())
                .serve_connection(stream, service)
                .await;
            if let Err(e) = served {
                eprintln!("connection from {peer}: {e}");
            }
            counters.connections.fetch_sub(1, SeqCst);
        });
    }
}
