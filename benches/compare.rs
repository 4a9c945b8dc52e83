//! Side-by-side comparison of corral and tokio on every workload.
//!
//! ```text
//! cargo bench --bench compare                  # full run (several minutes)
//! cargo bench --bench compare -- --quick       # under a minute
//! cargo bench --bench compare -- --filter spawn --json figures.json
//! cargo bench --bench compare -- --aa          # tokio in both columns: the noise floor
//! ```
//!
//! For each workload both runtimes are built once, warmed up, and then run
//! in alternating rounds (A B, B A, A B, ...), each round a batch of
//! iterations sized to about `sample` of wall time. The table gives the
//! median time per iteration of each side, the ratio of those medians
//! (corral / tokio: lower is better), the median of the per-round ratios
//! (pairs taken in the same round share the machine's mood), and for
//! multi-thread workloads the ratio of CPU time (user + sys), which is far
//! steadier than wall time on a shared 2-core machine. A claim that corral
//! is faster holds only outside the A/A spread of that workload.

// compare is a measuring tool, not API.
#![allow(missing_docs)]

#[path = "workloads/mod.rs"]
mod workloads;

use std::io::Write;
use std::time::Duration;
use workloads::{Iter, Kind, Workload};

struct Options {
    quick: bool,
    aa: bool,
    filter: Option<String>,
    json: Option<String>,
    rounds: Option<usize>,
}

fn parse_args() -> Options {
    let mut o = Options {
        quick: false,
        aa: false,
        filter: None,
        json: None,
        rounds: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--aa" => o.aa = true,
            "--filter" => o.filter = args.next(),
            "--json" => o.json = args.next(),
            "--rounds" => o.rounds = args.next().and_then(|n| n.parse().ok()),
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            other => {
                eprintln!("compare: unknown argument {other:?}");
                eprintln!("usage: compare [--quick] [--aa] [--filter NAME] [--json PATH] [--rounds N]");
                std::process::exit(2);
            }
        }
    }
    o
}

/// Process CPU time (user + sys).
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF
    // is always valid.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One batch: (wall per iteration, cpu per iteration).
fn batch(it: &mut Iter, iters: usize) -> (f64, f64) {
    let cpu0 = cpu_time();
    let mut wall = Duration::ZERO;
    for _ in 0..iters {
        wall += it();
    }
    let cpu = cpu_time() - cpu0;
    (
        wall.as_secs_f64() / iters as f64,
        cpu.as_secs_f64() / iters as f64,
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Row {
    name: &'static str,
    kind: Kind,
    a: f64,
    b: f64,
    ratio: f64,
    paired: f64,
    cpu_ratio: Option<f64>,
    spread: (f64, f64),
    iters: usize,
}

fn run(w: &Workload, o: &Options) -> Row {
    let sample = if o.quick { 0.03 } else { 0.15 };
    let rounds = o.rounds.unwrap_or(if o.quick { 5 } else { 15 });
    let mut a = (w.corral)();
    let mut b = if o.aa { (w.tokio)() } else { (w.tokio)() };
    if o.aa {
        a = (w.tokio)();
    }
    // Warm up both and size the batch from the slower side.
    let mut per = 0f64;
    for it in [&mut a, &mut b] {
        let mut n = 0;
        let start = std::time::Instant::now();
        while n < 2 || start.elapsed().as_secs_f64() < sample / 2.0 {
            it();
            n += 1;
        }
        per = per.max(start.elapsed().as_secs_f64() / n as f64);
    }
    let iters = ((sample / per) as usize).max(1);
    let (mut wa, mut wb, mut ca, mut cb, mut ratios) = (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let (ra, rb) = if round % 2 == 0 {
            let ra = batch(&mut a, iters);
            (ra, batch(&mut b, iters))
        } else {
            let rb = batch(&mut b, iters);
            (batch(&mut a, iters), rb)
        };
        wa.push(ra.0);
        wb.push(rb.0);
        ca.push(ra.1);
        cb.push(rb.1);
        ratios.push(ra.0 / rb.0);
    }
    drop((a, b));
    let (ma, mb) = (median(&mut wa), median(&mut wb));
    let cpu_ratio = (w.kind == Kind::MultiThread).then(|| median(&mut ca) / median(&mut cb));
    let mut sorted = ratios.clone();
    let paired = median(&mut sorted);
    Row {
        name: w.name,
        kind: w.kind,
        a: ma,
        b: mb,
        ratio: ma / mb,
        paired,
        cpu_ratio,
        spread: (sorted[0], sorted[sorted.len() - 1]),
        iters,
    }
}

fn fmt_time(s: f64) -> String {
    if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.1} ns", s * 1e9)
    }
}

fn main() {
    let o = parse_args();
    let list: Vec<_> = workloads::all()
        .into_iter()
        .filter(|w| o.filter.as_deref().is_none_or(|f| w.name.contains(f)))
        .collect();
    if list.is_empty() {
        eprintln!("compare: no workload matches {:?}", o.filter);
        std::process::exit(2);
    }
    let (left, right) = if o.aa {
        ("tokio", "tokio")
    } else {
        ("corral", "tokio")
    };
    let mut rows = Vec::new();
    for (i, w) in list.iter().enumerate() {
        eprint!("[{}/{}] {} ... ", i + 1, list.len(), w.name);
        let _ = std::io::stderr().flush();
        let row = run(w, &o);
        eprintln!("{:.2}", row.ratio);
        rows.push(row);
    }
    println!();
    println!("| workload | {left} | {right} | ratio | paired ratio (min..max) | cpu ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.2} ({:.2}..{:.2}) | {} |",
            r.name,
            fmt_time(r.a),
            fmt_time(r.b),
            r.ratio,
            r.paired,
            r.spread.0,
            r.spread.1,
            r.cpu_ratio.map_or("-".into(), |c| format!("{c:.2}")),
        );
    }
    let geomean = (rows.iter().map(|r| r.ratio.ln()).sum::<f64>() / rows.len() as f64).exp();
    println!();
    println!("geomean ratio: {geomean:.2}");
    if let Some(path) = &o.json {
        let mut out = String::from("{\n  \"mode\": ");
        out += if o.aa { "\"aa\"" } else { "\"ab\"" };
        out += &format!(",\n  \"geomean_ratio\": {geomean:.4},\n  \"workloads\": [\n");
        for (i, r) in rows.iter().enumerate() {
            out += &format!(
                "    {{\"name\": \"{}\", \"kind\": \"{:?}\", \"{left}_s\": {:e}, \"{right}_s\": {:e}, \"ratio\": {:.4}, \"paired_ratio\": {:.4}, \"paired_min\": {:.4}, \"paired_max\": {:.4}, \"cpu_ratio\": {}, \"iters_per_round\": {}}}{}\n",
                r.name,
                r.kind,
                r.a,
                r.b,
                r.ratio,
                r.paired,
                r.spread.0,
                r.spread.1,
                r.cpu_ratio.map_or("null".into(), |c| format!("{c:.4}")),
                r.iters,
                if i + 1 < rows.len() { "," } else { "" }
            );
        }
        out += "  ]\n}\n";
        if let Err(e) = std::fs::write(path, out) {
            eprintln!("compare: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
}
