//! Structured concurrency on a crawler-like fan-out over a loopback
//! "site": task groups, deadlines and a bounded map with a live progress
//! line.
//!
//! Run it with `cargo run --release --example task_groups`.
//!
//! 1. The site (40 pages; page `n` links to `2n + 1` and `2n + 2`; pages
//!    13, 26 and 39 answer after 3 s) runs as a child of a
//!    [`TaskGroup`], started with `start`, which hands back the port it
//!    bound once it is ready to accept.
//! 2. The crawl walks the site level by level with
//!    [`bounded_map`](corral::task::bounded_map): at most 4 fetches in
//!    flight, results in input order, a progress line per level, and
//!    `move_on_after` giving up on a page after 750 ms.
//! 3. A group with a deadline fetches a batch of pages, one of them slow:
//!    results arrive in completion order (`join_next`) until the deadline
//!    cancels the straggler.
//! 4. A group whose child fails (the site answers "404" for page 99):
//!    the failure cancels its siblings, and the error group says who
//!    failed and how many were cancelled.
//! 5. Cancelling the server's group stops the accept loop and every
//!    connection it serves; `join` returns once they are all gone.
//!
//! The site serves each connection in a child of a long-lived
//! `TaskGroup<(), io::Error>`, the server pattern of trio and AnyIO: a
//! group of `()` children drops each one as it ends with `Ok(())`, so it
//! holds only the live connections, however many it has served.

use corral::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use corral::net::{TcpListener, TcpStream};
use corral::task::{bounded_map, Ready, TaskGroup};
use corral::time::move_on_after;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Pages on the site.
const PAGES: usize = 40;
/// Pages that answer after [`SLOW`].
const SLOW_PAGES: [usize; 3] = [13, 26, 39];
const SLOW: Duration = Duration::from_secs(3);

#[corral::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let started = Instant::now();

    // 1. The site, as a child of a group that outlives the crawl.
    let mut site = TaskGroup::<(), io::Error>::new();
    let addr = site.start(serve).await?;
    println!("1. site: {PAGES} pages on {addr}; pages {SLOW_PAGES:?} answer after {SLOW:?}");

    // 2. Crawl level by level, 4 fetches in flight, 750 ms per page.
    println!("2. crawl with bounded_map(4, ..), 750 ms per page:");
    let mut seen = BTreeSet::from([0]);
    let mut level = vec![0];
    let mut gave_up = Vec::new();
    let mut depth = 0;
    while !level.is_empty() {
        let fetched = bounded_map(4, level.clone(), |page| async move {
            (
                page,
                move_on_after(Duration::from_millis(750), fetch(addr, page)).await,
            )
        })
        .on_progress(|done, total| {
            print!("\r   depth {depth}: {done}/{total} pages");
            io::stdout().flush().ok();
        })
        .await;
        println!();
        let mut next = Vec::new();
        for (page, outcome) in fetched {
            match outcome {
                Some(links) => {
                    for link in links? {
                        if seen.insert(link) {
                            next.push(link);
                        }
                    }
                }
                None => gave_up.push(page),
            }
        }
        level = next;
        depth += 1;
    }
    println!(
        "   reached {} pages in {depth} levels; gave up on {gave_up:?} (and never saw what they link to)",
        seen.len()
    );

    // 3. A group with a deadline: results in completion order until the
    //    deadline cancels the slow page.
    println!("3. a group fetching pages 20, 13, 5, 9 with a 750 ms deadline:");
    let mut batch = TaskGroup::<(usize, Vec<usize>), io::Error>::new();
    batch.cancel_after(Duration::from_millis(750));
    for page in [20, 13, 5, 9] {
        batch.spawn_named(format!("page {page}"), async move {
            Ok((page, fetch(addr, page).await?))
        });
    }
    while let Some(result) = batch.join_next().await {
        match result {
            Ok((page, links)) => println!("   page {page} -> links {links:?}"),
            Err(err) => println!("   {err}"),
        }
    }

    // 4. A failing child cancels its siblings.
    println!("4. a group where page 99 does not exist:");
    let mut failing = TaskGroup::<Vec<usize>, io::Error>::new();
    for page in [13, 99, 26] {
        failing.spawn_named(format!("page {page}"), fetch(addr, page));
    }
    let err = failing.join().await.unwrap_err();
    println!("   {err}");
    println!(
        "   first failure: {} ({} sibling(s) cancelled)",
        err.first().map(|e| e.to_string()).unwrap_or_default(),
        err.cancelled()
    );

    // 5. Stop the site: the accept loop and its connections go together.
    site.cancel();
    let stopped = site.join().await.unwrap_err();
    println!(
        "5. site stopped: {} task(s) cancelled, their connections with them; {:?} in all",
        stopped.cancelled(),
        started.elapsed()
    );
    Ok(())
}

/// The site: binds a free port, reports it through `ready`, then serves
/// each connection in a child of its own group (cancelled with it).
async fn serve(ready: Ready<SocketAddr>) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    ready.started(listener.local_addr()?);
    // One child per connection for as long as the site runs. Its children
    // return `()`, so the group reaps each as it ends: nothing to join,
    // and it holds only the live connections (`connections.retained()`).
    let connections = TaskGroup::<(), io::Error>::new();
    loop {
        let (stream, _) = listener.accept().await?;
        connections.spawn(async move {
            // A client that hung up (the crawl gives up on slow pages) is
            // that connection's problem: a failed child would cancel every
            // other connection, as in a nursery.
            let _ = answer(stream).await;
            Ok(())
        });
    }
}

/// One request: `GET n\n` answered with `links a b\n`, or `404\n`.
async fn answer(stream: TcpStream) -> io::Result<()> {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let page: Option<usize> = line.trim().strip_prefix("GET ").and_then(|n| n.parse().ok());
    let reply = match page {
        Some(page) if page < PAGES => {
            let delay = if SLOW_PAGES.contains(&page) {
                SLOW
            } else {
                Duration::from_millis(5 + (page as u64 * 7) % 25)
            };
            corral::time::sleep(delay).await;
            let links: Vec<String> = [2 * page + 1, 2 * page + 2]
                .into_iter()
                .filter(|&link| link < PAGES)
                .map(|link| link.to_string())
                .collect();
            format!("links {}\n", links.join(" "))
        }
        _ => "404\n".to_string(),
    };
    stream.get_mut().write_all(reply.as_bytes()).await
}

/// Fetches page `page`: its links, or an error for a missing page.
async fn fetch(addr: SocketAddr, page: usize) -> io::Result<Vec<usize>> {
    let mut stream = BufReader::new(TcpStream::connect(addr).await?);
    stream
        .get_mut()
        .write_all(format!("GET {page}\n").as_bytes())
        .await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    match line.trim().strip_prefix("links") {
        Some(links) => Ok(links.split_whitespace().filter_map(|l| l.parse().ok()).collect()),
        None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("page {page}: {}", line.trim()),
        )),
    }
}
