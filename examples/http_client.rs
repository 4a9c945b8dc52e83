//! An HTTP/1 client on corral and hyper: GETs a URL and prints the
//! response (status, headers, body).
//!
//! ```text
//! cargo run --example http_client --features hyper -- [http://HOST:PORT/PATH]
//! ```
//!
//! With no URL it starts a hello-world server of its own on a free
//! loopback port and GETs from that, so it runs anywhere. Plain `http://`
//! only (no TLS).

use corral::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use std::convert::Infallible;

#[corral::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url: Uri = match std::env::args().nth(1) {
        Some(url) => url.parse().map_err(|e| format!("URL {url:?}: {e}"))?,
        None => format!("http://{}/", start_local_server().await?).parse()?,
    };
    if url.scheme_str() != Some("http") {
        return Err(format!("{url}: only http:// URLs are supported").into());
    }
    let host = url.host().ok_or_else(|| format!("{url}: no host"))?.to_owned();
    let port = url.port_u16().unwrap_or(80);

    let stream = TcpStream::connect((host.as_str(), port)).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await?;
    // The connection runs in its own task; it ends when `sender` is dropped.
    let conn = corral::spawn(conn);

    let authority = url
        .authority()
        .map(|a| a.as_str())
        .unwrap_or(host.as_str())
        .to_owned();
    let path = url.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
    let req = Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "corral-http-client")
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;

    println!("{:?} {}", resp.version(), resp.status());
    for (name, value) in resp.headers() {
        println!("{name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    println!();
    let body = resp.into_body().collect().await?.to_bytes();
    println!("{}", String::from_utf8_lossy(&body));

    drop(sender);
    conn.await??;
    Ok(())
}

/// Serves `Hello from corral!` on a free loopback port; returns the
/// address.
async fn start_local_server() -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    corral::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            corral::spawn(async move {
                let hello = service_fn(|_req: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"Hello from corral!",
                    ))))
                });
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(stream, hello)
                    .await
            });
        }
    });
    Ok(addr)
}
