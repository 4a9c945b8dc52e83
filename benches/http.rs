//! hyper 1.x hello-world server on corral vs the same server on tokio +
//! hyper-util, driven by one closed-loop HTTP/1 client, in one process.
//!
//! ```text
//! cargo bench --bench http --features hyper -- --quick        # ~15 s
//! cargo bench --bench http --features hyper                   # full
//! cargo bench --bench http --features hyper -- --conns 50 --requests 50000 --rounds 9
//! # one side only, for strace / perf / wrk (prints the address, stops after N requests):
//! .../http-HASH --serve corral --requests 10000 [--port 8080]
//! .../http-HASH --load 127.0.0.1:PORT --conns 50 --requests 10000
//! ```
//!
//! **Servers.** Both serve `GET /` with a 13-byte body through
//! `hyper::server::conn::http1` with keep-alive, `TCP_NODELAY` and a timer
//! (corral: [`CorralTimer`], tokio: `TokioTimer`), one task per
//! connection, on a runtime of 2 workers. corral's side hands its
//! `TcpStream` to hyper as it is; tokio's wraps it in `TokioIo`. Both
//! servers live for the whole run; the idle one's workers are parked.
//!
//! **Client.** One thread, one mio event loop, `N` keep-alive
//! connections, each with one request in flight (closed loop): send
//! `GET /`, read until a whole response is there, check the status line,
//! the `content-length` and the body, record the latency, send the next.
//! It is the same code for both sides and costs about two system calls
//! per request, so the server is what is measured. A round connects `N`
//! fresh connections, then times `R` requests over them, then closes
//! them; it fails rather than waits past 60 s.
//!
//! **Rounds.** After a warm-up round per side, rounds alternate (corral,
//! tokio, tokio, corral, ...). Reported per connection count: the median
//! req/s of each side and their ratio (corral / tokio: higher is better),
//! the median of the per-round-pair ratios, median p50 and p99 latency,
//! and the server threads' CPU time per request (from
//! `/proc/self/task/*/schedstat`, so the client's CPU is not in it).

// A measuring tool, not API.
#![allow(missing_docs)]

use corral::hyper::CorralTimer;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BODY: &[u8] = b"Hello, World!";
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
const ROUND_LIMIT: Duration = Duration::from_secs(60);

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

// ---- servers ------------------------------------------------------------------

/// A running server: its address, the prefix of its threads' names (for
/// CPU accounting) and a count of requests answered.
struct Server {
    addr: SocketAddr,
    threads: &'static str,
    served: Arc<AtomicUsize>,
    _rt: Box<dyn std::any::Any>,
}

fn corral_server(port: u16) -> Server {
    let rt = corral::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("csrv")
        .build()
        .unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let listener = rt
        .block_on(corral::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let count = served.clone();
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            let count = count.clone();
            corral::spawn(async move {
                let svc = service_fn(move |req| {
                    count.fetch_add(1, Relaxed);
                    hello(req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(CorralTimer::new())
                    .serve_connection(stream, svc)
                    .await;
            });
        }
    });
    Server {
        addr,
        threads: "csrv",
        served,
        _rt: Box::new(rt),
    }
}

fn tokio_server(port: u16) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tsrv")
        .enable_all()
        .build()
        .unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let count = served.clone();
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).unwrap();
            let count = count.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    count.fetch_add(1, Relaxed);
                    hello(req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server {
        addr,
        threads: "tsrv",
        served,
        _rt: Box::new(rt),
    }
}

/// CPU time (ns) of this process's threads whose name starts with `prefix`.
fn threads_cpu_ns(prefix: &str) -> u64 {
    let mut total = 0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for task in dir.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

// ---- client -------------------------------------------------------------------

struct Conn {
    stream: MioStream,
    buf: Vec<u8>,
    /// Bytes of the current request still to write.
    unsent: &'static [u8],
    sent_at: Instant,
    busy: bool,
}

/// What a round measured.
struct Round {
    elapsed: Duration,
    requests: usize,
    /// Latencies in microseconds, sorted.
    lat_us: Vec<u32>,
    server_cpu_ns: u64,
}

impl Round {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> u32 {
        let i = ((self.lat_us.len() as f64 - 1.0) * p).round() as usize;
        self.lat_us[i]
    }
}

/// The length of the whole response at the front of `buf`, once it is
/// all there; checks status, length and body.
fn complete_response(buf: &[u8]) -> io::Result<Option<usize>> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("response head is not UTF-8"))?;
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(bad(&format!("unexpected status line: {:?}", head.lines().next())));
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .ok_or_else(|| bad("no content-length"))?;
    if buf.len() < head_end + len {
        return Ok(None);
    }
    if &buf[head_end..head_end + len] != BODY {
        return Err(bad("wrong body"));
    }
    Ok(Some(head_end + len))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Writes what is left of the connection's request.
fn flush(conn: &mut Conn) -> io::Result<()> {
    while !conn.unsent.is_empty() {
        match conn.stream.write(conn.unsent) {
            Ok(n) => conn.unsent = &conn.unsent[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn send(conn: &mut Conn) -> io::Result<()> {
    conn.unsent = REQUEST;
    conn.sent_at = Instant::now();
    conn.busy = true;
    flush(conn)
}

/// Runs `requests` requests over `conns` fresh connections to `addr`.
fn load(addr: SocketAddr, conns: usize, requests: usize, cpu_prefix: Option<&str>) -> io::Result<Round> {
    let mut poll = Poll::new()?;
    let mut list = Vec::with_capacity(conns);
    for i in 0..conns {
        let s = std::net::TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        let mut stream = MioStream::from_std(s);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)?;
        list.push(Conn {
            stream,
            buf: Vec::with_capacity(1024),
            unsent: &[],
            sent_at: Instant::now(),
            busy: false,
        });
    }
    let mut lat_us = Vec::with_capacity(requests);
    let mut events = Events::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let cpu0 = cpu_prefix.map(threads_cpu_ns).unwrap_or(0);
    let start = Instant::now();
    let mut issued = 0;
    for conn in &mut list {
        if issued == requests {
            break;
        }
        send(conn)?;
        issued += 1;
    }
    let mut done = 0;
    while done < requests {
        poll.poll(&mut events, Some(Duration::from_secs(1)))?;
        if start.elapsed() > ROUND_LIMIT {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{done} of {requests} requests after {ROUND_LIMIT:?}"),
            ));
        }
        for ev in events.iter() {
            let conn = &mut list[ev.token().0];
            if ev.is_writable() {
                flush(conn)?;
            }
            if !ev.is_readable() {
                continue;
            }
            loop {
                match conn.stream.read(&mut chunk) {
                    Ok(0) => return Err(bad("server closed a connection")),
                    Ok(n) => conn.buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if !conn.busy {
                if !conn.buf.is_empty() {
                    return Err(bad("response to no request"));
                }
                continue;
            }
            if let Some(len) = complete_response(&conn.buf)? {
                if len != conn.buf.len() {
                    return Err(bad("more than one response"));
                }
                conn.buf.clear();
                conn.busy = false;
                lat_us.push(conn.sent_at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                done += 1;
                if issued < requests {
                    send(conn)?;
                    issued += 1;
                }
            }
        }
    }
    let elapsed = start.elapsed();
    let server_cpu_ns = cpu_prefix.map(threads_cpu_ns).unwrap_or(0).saturating_sub(cpu0);
    lat_us.sort_unstable();
    Ok(Round {
        elapsed,
        requests,
        lat_us,
        server_cpu_ns,
    })
}

// ---- driver -------------------------------------------------------------------

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Args {
    quick: bool,
    conns: Vec<usize>,
    requests: Option<usize>,
    rounds: Option<usize>,
    serve: Option<String>,
    load: Option<SocketAddr>,
    port: u16,
}

fn parse_args() -> Args {
    let mut a = Args {
        quick: false,
        conns: vec![50, 500],
        requests: None,
        rounds: None,
        serve: None,
        load: None,
        port: 0,
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> usize {
        v.and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{what} takes a number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--conns" => {
                a.conns = it
                    .next()
                    .expect("--conns takes a list, e.g. 50,500")
                    .split(',')
                    .map(|n| n.parse().expect("--conns takes numbers"))
                    .collect()
            }
            "--requests" => a.requests = Some(num(it.next(), "--requests")),
            "--rounds" => a.rounds = Some(num(it.next(), "--rounds")),
            "--port" => a.port = num(it.next(), "--port") as u16,
            "--serve" => a.serve = Some(it.next().expect("--serve takes corral or tokio")),
            "--load" => {
                a.load = Some(
                    it.next()
                        .and_then(|s| s.parse().ok())
                        .expect("--load takes an address"),
                )
            }
            "--bench" => {} // what `cargo bench` passes
            other => panic!("unknown argument {other:?} (see the header of benches/http.rs)"),
        }
    }
    a
}

fn main() {
    let args = parse_args();

    if let Some(side) = &args.serve {
        let server = match side.as_str() {
            "corral" => corral_server(args.port),
            "tokio" => tokio_server(args.port),
            other => panic!("--serve {other:?}: corral or tokio"),
        };
        println!("{side} serving on {}", server.addr);
        let limit = args.requests.unwrap_or(usize::MAX);
        let start = Instant::now();
        while server.served.load(Relaxed) < limit && start.elapsed() < Duration::from_secs(600) {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100)); // let the last responses go out
        println!("served {} requests", server.served.load(Relaxed));
        return;
    }

    if let Some(addr) = args.load {
        for &conns in &args.conns {
            let r = load(addr, conns, args.requests.unwrap_or(10_000), None).expect("load");
            println!(
                "{conns} conns: {} requests in {:.3?}: {:.0} req/s, p50 {} us, p99 {} us",
                r.requests,
                r.elapsed,
                r.rps(),
                r.pct(0.5),
                r.pct(0.99)
            );
        }
        return;
    }

    let rounds = args.rounds.unwrap_or(if args.quick { 5 } else { 11 });
    let corral = corral_server(0);
    let tokio = tokio_server(0);
    println!(
        "hyper hello world, HTTP/1.1 keep-alive, 2 server workers each, 1 client thread; {rounds} rounds per side"
    );
    println!(
        "{:>6} {:>9} | {:>9} {:>9} {:>6} {:>6} | {:>7} {:>7} {:>7} {:>7} | {:>6} {:>6}",
        "conns",
        "requests",
        "corral/s",
        "tokio/s",
        "ratio",
        "pairs",
        "c p50",
        "t p50",
        "c p99",
        "t p99",
        "c cpu",
        "t cpu"
    );
    for &conns in &args.conns {
        let requests = args.requests.unwrap_or(match (args.quick, conns >= 200) {
            (true, false) => 10_000,
            (true, true) => 20_000,
            (false, false) => 40_000,
            (false, true) => 60_000,
        });
        // Warm up both (connections, allocator, caches).
        for s in [&corral, &tokio] {
            load(s.addr, conns, requests / 4, None).expect("warm-up");
        }
        let mut c_runs = Vec::new();
        let mut t_runs = Vec::new();
        for i in 0..rounds {
            let order: [&Server; 2] = if i % 2 == 0 {
                [&corral, &tokio]
            } else {
                [&tokio, &corral]
            };
            for s in order {
                std::thread::sleep(Duration::from_millis(20)); // let closed connections drain
                let r = load(s.addr, conns, requests, Some(s.threads)).expect("round");
                if std::ptr::eq(s, &corral) {
                    c_runs.push(r);
                } else {
                    t_runs.push(r);
                }
            }
        }
        let med =
            |runs: &[Round], f: &dyn Fn(&Round) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
        let c_rps = med(&c_runs, &|r| r.rps());
        let t_rps = med(&t_runs, &|r| r.rps());
        let mut pair_ratios: Vec<f64> = c_runs
            .iter()
            .zip(&t_runs)
            .map(|(c, t)| c.rps() / t.rps())
            .collect();
        let cpu_us = |r: &Round| r.server_cpu_ns as f64 / 1e3 / r.requests as f64;
        println!(
            "{:>6} {:>9} | {:>9.0} {:>9.0} {:>6.2} {:>6.2} | {:>7.0} {:>7.0} {:>7.0} {:>7.0} | {:>6.2} {:>6.2}",
            conns,
            requests,
            c_rps,
            t_rps,
            c_rps / t_rps,
            median(&mut pair_ratios),
            med(&c_runs, &|r| r.pct(0.5) as f64),
            med(&t_runs, &|r| r.pct(0.5) as f64),
            med(&c_runs, &|r| r.pct(0.99) as f64),
            med(&t_runs, &|r| r.pct(0.99) as f64),
            med(&c_runs, &cpu_us),
            med(&t_runs, &cpu_us),
        );
    }
    println!(
        "ratio: median corral req/s / median tokio req/s (higher is better); pairs: median of per-round ratios;\n\
         p50/p99: median over rounds of each round's latency percentile, in us; cpu: server threads' CPU us per request"
    );
}
