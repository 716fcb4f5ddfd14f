//! Timing benchmark (issue 12): what the `realistic` profile makes a driver see, measured on the
//! simulator's real PTY from the host's side, next to the ranges of the vendor's captures; and
//! baud pacing of a 2,233-byte `AT+MPUBEX` at 460,800 and 115,200 baud, and under `fast`.
//!
//! cargo bench -p modem-sim --bench timing [-- --runs 20]
//!
//! A benchmark, not a test: it prints what it measured and whether it is in range; `cargo
//! test` never runs it (harness = false).

#[path = "../tests/support/process.rs"]
#[allow(dead_code)]
mod process;

use std::time::{Duration, Instant};

use modem_sim::sim::{SimConfig, Simulator};
use modem_sim::timing::{wire_time, Profile};
use process::Port;

/// Sends a command line and reads until `end`; returns when the command's `OK` came (the
/// first `OK` line) and all that was read.
fn command(port: &mut Port, line: &str, end: &str) -> (Instant, Instant, String) {
    port.send(format!("{line}\r\n").as_bytes());
    let sent = Instant::now();
    let head = port.until("OK\r\n");
    let ok = Instant::now();
    let rest = if end == "OK\r\n" {
        String::new()
    } else {
        port.until(end)
    };
    (sent, ok, head + &rest)
}

/// One run: a TLS connect, the session, a subscription; the three gaps from the command's `OK`
/// to its result, in ms.
fn gaps(tty: &std::path::Path) -> [f64; 3] {
    let mut port = Port::open(tty);
    command(&mut port, "ATE0", "OK\r\n");
    command(&mut port, "AT+MCONFIG=bench,root,luat123456", "OK\r\n");
    let ms = |a: Instant, b: Instant| b.duration_since(a).as_secs_f64() * 1000.0;
    let (_, ok, _) = command(
        &mut port,
        "AT+SSLMIPSTART=\"airtest.openluat.com\",8883",
        "OK\r\n",
    );
    port.until("CONNECT OK\r\n");
    let tls = ms(ok, Instant::now());
    let (_, ok, _) = command(&mut port, "AT+MCONNECT=1,60", "OK\r\n");
    port.until("CONNACK OK\r\n");
    let connack = ms(ok, Instant::now());
    let (_, ok, _) = command(&mut port, "AT+MSUB=\"bench/t\",0", "OK\r\n");
    port.until("SUBACK\r\n");
    let suback = ms(ok, Instant::now());
    [tls, connack, suback]
}

/// How long a 2,233-byte `AT+MPUBEX` takes to be accepted: from the first payload byte written
/// to its `OK`, at `ipr` (none: leave the rate alone).
fn mpubex(tty: &std::path::Path, ipr: Option<u32>) -> Duration {
    let mut port = Port::open(tty);
    command(&mut port, "ATE0", "OK\r\n");
    if let Some(rate) = ipr {
        command(&mut port, &format!("AT+IPR={rate}"), "OK\r\n");
    }
    command(&mut port, "AT+MCONFIG=bench-pub,root,luat123456", "OK\r\n");
    command(
        &mut port,
        "AT+MIPSTART=\"127.0.0.1\",1883",
        "CONNECT OK\r\n",
    );
    command(&mut port, "AT+MCONNECT=1,60", "CONNACK OK\r\n");
    let payload: Vec<u8> = (0..2233u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        port.send(b"AT+MPUBEX=\"bench/raw\",0,0,2233\r\n");
        port.until(">");
        let t = Instant::now();
        port.send(&payload);
        port.until("OK\r\n");
        best = best.min(t.elapsed());
    }
    best
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(20usize);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // 1. The gaps under `realistic`, one simulator per run (each its own seed), all at once.
    let sims: Vec<Simulator> = rt.block_on(async {
        let mut v = Vec::new();
        for seed in 0..runs as u64 {
            let cfg = SimConfig {
                timing: Profile::realistic(),
                seed,
                ..SimConfig::default()
            };
            v.push(Simulator::start(cfg).await.unwrap());
        }
        v
    });
    let results: Vec<[f64; 3]> = std::thread::scope(|s| {
        let handles: Vec<_> = sims
            .iter()
            .map(|sim| {
                let tty = sim.tty().to_path_buf();
                s.spawn(move || gaps(&tty))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    rt.block_on(async {
        for sim in sims {
            sim.shutdown().await;
        }
    });
    println!(
        "## Timing under `--timing realistic` ({runs} runs, a fresh simulator and seed each)\n"
    );
    println!(
        "| gap (from the command's OK) | min | median | max | captures' range | all in range |"
    );
    println!("|---|---|---|---|---|---|");
    let names = [
        (
            "TLS CONNECT OK (AT+SSLMIPSTART to a host name)",
            1400.0,
            2300.0,
        ),
        ("CONNACK OK (AT+MCONNECT)", 218.0, 252.0),
        ("SUBACK (AT+MSUB)", 300.0, 340.0),
    ];
    for (i, (name, lo, hi)) in names.iter().enumerate() {
        let v: Vec<f64> = results.iter().map(|r| r[i]).collect();
        let inside = v.iter().all(|x| x >= lo && x <= hi);
        let (min, med, max) = stats(v);
        println!(
            "| {name} | {min:.1} ms | {med:.1} ms | {max:.1} ms | {lo:.0}-{hi:.0} ms | {} |",
            if inside { "yes" } else { "**no**" }
        );
    }

    // 2. Baud pacing of a 2,233-byte AT+MPUBEX.
    println!("\n## A 2,233-byte AT+MPUBEX: first payload byte written -> its OK (best of 5)\n");
    println!("| timing | UART rate | accepted after | wire time of 2,233 bytes (8N1) |");
    println!("|---|---|---|---|");
    for (profile, ipr) in [
        (Profile::realistic(), Some(460_800u32)),
        (Profile::realistic(), None),
        (Profile::fast(), Some(460_800)),
    ] {
        let name = profile.name.clone();
        let sim = rt
            .block_on(Simulator::start(SimConfig {
                timing: profile,
                ..SimConfig::default()
            }))
            .unwrap();
        let tty = sim.tty().to_path_buf();
        let took = std::thread::spawn(move || mpubex(&tty, ipr))
            .join()
            .unwrap();
        rt.block_on(sim.shutdown());
        let rate = ipr.unwrap_or(modem_sim::timing::DEFAULT_BAUD);
        println!(
            "| {name} | {rate} (AT+IPR{}) | {:.2} ms | {:.2} ms |",
            if ipr.is_some() { "" } else { " untouched" },
            took.as_secs_f64() * 1000.0,
            wire_time(2233, rate).as_secs_f64() * 1000.0
        );
    }
}
