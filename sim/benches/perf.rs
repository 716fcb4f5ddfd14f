//! The performance table: every figure measured in the same run as its baseline, reported as a
//! ratio (absolute times vary between machines).
//!
//! ```text
//! cargo build --release -p modem-harness        # for the suite time (optional)
//! cargo bench -p modem-sim --bench perf -- --out perf.md [--fleet 100,1000] [--quick]
//! ```
//!
//! Not a test: it measures wall time, so `cargo test` never runs it.

#[path = "../tests/support/process.rs"]
#[allow(dead_code)]
mod process;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use process::{find, At, Port};

use anyhow::{anyhow, bail, Context, Result};
use modem_sim::broker::{Broker, BrokerConfig};
use modem_sim::sim::{BrokerSetup, SimConfig, Simulator};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(60);
/// `AT\r` plus `\r\nOK\r\n`, 10 bits a byte (8N1) at 115200 baud.
const WIRE_115200: Duration = Duration::from_nanos(9 * 10 * 1_000_000_000 / 115_200);

struct Opts {
    out: PathBuf,
    fleet: Vec<usize>,
    /// Fleet sizes over TCP (`--serial tcp-listen://`, section `fleet-tcp`).
    fleet_tcp: Vec<usize>,
    quick: bool,
    /// Sections to run (`--only at,up,down,qos1,startup,suite,fleet,fleet-tcp`); empty: all.
    only: Vec<String>,
}

impl Opts {
    fn runs(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

fn opts() -> Result<Opts> {
    let mut o = Opts {
        out: PathBuf::from("target/perf.md"),
        fleet: vec![100, 1000],
        fleet_tcp: vec![100, 1000, 10_000],
        quick: false,
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {}
            "--quick" => o.quick = true,
            "--only" => {
                o.only = args
                    .next()
                    .context("--only at,up,down,qos1,startup,suite,fleet")?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .collect()
            }
            "--out" => o.out = args.next().context("--out PATH")?.into(),
            "--fleet-tcp" => o.fleet_tcp = numbers("--fleet-tcp", args.next())?,
            "--fleet" => o.fleet = numbers("--fleet", args.next())?,
            other => bail!(
                "unknown argument {other} (--out PATH, --fleet N,N, --fleet-tcp N,N, --quick, --only SECTION,..)"
            ),
        }
    }
    // cargo runs benches in the package directory; relative paths mean the workspace's.
    if o.out.is_relative() {
        o.out = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(&o.out);
    }
    Ok(o)
}

/// The value of `flag`, `N,N,...`, as numbers.
fn numbers(flag: &str, value: Option<String>) -> Result<Vec<usize>> {
    let value = value.with_context(|| format!("{flag} N,N"))?;
    let each = value.split(',').map(|n| n.trim().parse());
    each.collect::<Result<_, _>>()
        .with_context(|| format!("{flag} takes numbers"))
}

struct Row {
    what: String,
    ours: String,
    base: String,
    ratio: String,
    target: String,
    met: String,
}

/// A row: `what` measured as `ours`, against `base` (`-`: no baseline), their `ratio`, the
/// `target` and whether it was `met` (`None`: no target).
fn row(what: &str, [ours, base, ratio]: [String; 3], target: &str, met: Option<bool>) -> Row {
    let met = match met {
        Some(true) => "yes".into(),
        Some(false) => "**no**".into(),
        None => "-".into(),
    };
    let (what, target) = (what.into(), target.into());
    Row {
        what,
        ours,
        base,
        ratio,
        target,
        met,
    }
}

/// A figure with no baseline to compare with.
fn alone(ours: String) -> [String; 3] {
    [ours, "-".into(), "-".into()]
}

/// A throughput figure against its direct baseline (`base_is` says what that was): met at half
/// the baseline's rate or more.
fn rate_row(what: &str, ours: f64, base: f64, base_is: &str) -> Row {
    let r = ours / base;
    let figures = [
        format!("{ours:.0}/s"),
        format!("{base:.0}/s ({base_is})"),
        format!("{r:.2}"),
    ];
    row(what, figures, ">= 0.5 of direct", Some(r >= 0.5))
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn main() -> Result<()> {
    let o = opts()?;
    let _ = modem_sim::fleet::raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let rounds = if o.quick { 2 } else { 5 };
    let mut rows = Vec::new();
    // The QoS 1 row compares with the bare PTY round trip, so it needs that section too.
    let mut bare_pty = Duration::ZERO;
    if o.runs("at") || o.runs("qos1") {
        eprintln!("AT round trip ...");
        let (at_rows, bare) =
            rt.block_on(at_round_trip(rounds, if o.quick { 200 } else { 1000 }))?;
        rows.extend(at_rows);
        bare_pty = bare;
    }
    let msgs = if o.quick { 2_000 } else { 20_000 };
    if o.runs("up") {
        eprintln!("uplink ...");
        rows.extend(rt.block_on(uplink(msgs))?);
    }
    if o.runs("down") {
        eprintln!("downlink ...");
        rows.push(rt.block_on(downlink(msgs))?);
    }
    if o.runs("qos1") {
        eprintln!("QoS 1 latency ...");
        rows.extend(rt.block_on(qos1(rounds, if o.quick { 100 } else { 500 }, bare_pty))?);
    }
    if o.runs("startup") {
        eprintln!("startup ...");
        rows.push(startup(if o.quick { 5 } else { 20 })?);
    }
    if o.runs("suite") {
        eprintln!("suite ...");
        rows.push(suite()?);
    }
    for (section, over, sizes) in [
        ("fleet", "", &o.fleet),
        ("fleet-tcp", " over TCP", &o.fleet_tcp),
    ] {
        for &n in sizes.iter().filter(|_| o.runs(section)) {
            eprintln!("fleet of {n}{over} ...");
            let measured = if over.is_empty() {
                rt.block_on(fleet(n))
            } else {
                rt.block_on(fleet_tcp(n))
            };
            // A fleet that does not come up is a row of its own, not the end of the table.
            let failed = |e: anyhow::Error| {
                let (what, figure) = (
                    format!("fleet of {n}{over}"),
                    alone(format!("failed: {e:#}")),
                );
                vec![row(&what, figure, "all connected", Some(false))]
            };
            rows.extend(measured.unwrap_or_else(failed));
        }
    }
    let table = render(&rows);
    println!("{table}");
    let machine = machine();
    let doc = format!(
        "Measured by `cargo bench -p modem-sim --bench perf` (release profile) on {machine}.\n\n{table}"
    );
    if let Some(dir) = o.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&o.out, doc).with_context(|| format!("writing {}", o.out.display()))?;
    eprintln!("wrote {}", o.out.display());
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{n} cores (nproc), {cpu}")
}

fn render(rows: &[Row]) -> String {
    let mut s = String::from(
        "| measure | modem-sim | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.what, r.ours, r.base, r.ratio, r.target, r.met
        );
    }
    s
}

/// Reads from `port` until `n` `needle`s have come (dropping what is read).
fn count(port: &mut Port, needle: &str, n: usize) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    let mut seen = 0;
    loop {
        while let Some(p) = find(&port.seen, needle.as_bytes()) {
            seen += 1;
            port.seen.drain(..p + needle.len());
        }
        if seen >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {seen} of {n} {needle:?}");
        }
        port.fill(deadline, needle);
    }
}

fn raw(f: &impl AsFd) -> Result<()> {
    let mut t = nix::sys::termios::tcgetattr(f.as_fd())?;
    nix::sys::termios::cfmakeraw(&mut t);
    nix::sys::termios::tcsetattr(f.as_fd(), nix::sys::termios::SetArg::TCSANOW, &t)?;
    Ok(())
}

/// `n` round trips of `AT\r` -> `\r\nOK\r\n` on `port` (echo off).
fn round_trips(port: &mut Port, n: usize) -> Result<Vec<Duration>> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        port.send(b"AT\r");
        port.until("\r\nOK\r\n");
        v.push(t.elapsed());
    }
    Ok(v)
}

/// The floor: a bare PTY whose other end answers every `\r` with `\r\nOK\r\n`, in a task on
/// the same runtime as the simulator. Returns the slave path; the task lives until the runtime
/// ends.
fn bare_pty_echo() -> Result<PathBuf> {
    let (mut pty, pts) = pty_process::open()?;
    raw(&pts)?;
    let path = nix::unistd::ttyname(pts.as_fd())?;
    tokio::spawn(async move {
        let _pts = pts;
        let mut buf = [0u8; 4096];
        loop {
            let n = match pty.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for _ in buf[..n].iter().filter(|&&b| b == b'\r') {
                if pty.write_all(b"\r\nOK\r\n").await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(path)
}

async fn at_round_trip(rounds: usize, per_round: usize) -> Result<(Vec<Row>, Duration)> {
    let sim = Simulator::start(SimConfig::default()).await?;
    let sim_tty = sim.tty().to_path_buf();
    let bare_tty = bare_pty_echo()?;
    let (ours, base) = tokio::task::spawn_blocking(move || -> Result<_> {
        let mut s = Port::open(&sim_tty);
        s.at("ATE0", "OK\r\n");
        let mut b = Port::open(&bare_tty);
        round_trips(&mut s, 100)?;
        round_trips(&mut b, 100)?;
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        // Interleaved rounds, so drift in the machine's load hits both alike.
        for _ in 0..rounds {
            ours.extend(round_trips(&mut s, per_round)?);
            base.extend(round_trips(&mut b, per_round)?);
        }
        Ok((ours, base))
    })
    .await??;
    sim.shutdown().await;
    let [(om, bm, r), (o99, b99, r99)] = medians_and_p99s(ours, base);
    let w = om.as_secs_f64() / WIRE_115200.as_secs_f64();
    let vs = |ours: Duration, base: String, r: f64| [us(ours), base, format!("{r:.2}x")];
    let bare = |d: Duration| format!("{} (bare PTY echo)", us(d));
    let wire = format!("{} (9 bytes at 115200 baud)", us(WIRE_115200));
    let rows = vec![
        row(
            "AT round trip, median",
            vs(om, bare(bm), r),
            "<= 1.5x bare PTY",
            Some(r <= 1.5),
        ),
        row("AT round trip, p99", vs(o99, bare(b99), r99), "-", None),
        row("AT round trip vs the wire", vs(om, wire, w), "-", None),
    ];
    Ok((rows, bm))
}

/// The medians of `ours` and `base` and their ratio, then the same of the 99th percentiles.
fn medians_and_p99s(
    mut ours: Vec<Duration>,
    mut base: Vec<Duration>,
) -> [(Duration, Duration, f64); 2] {
    [0.5, 0.99].map(|p| {
        let (o, b) = (pct(&mut ours, p), pct(&mut base, p));
        (o, b, o.as_secs_f64() / b.as_secs_f64())
    })
}

fn client(addr: std::net::SocketAddr, id: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut o = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_credentials("root", "luat123456");
    o.set_max_packet_size(1 << 20, 1 << 20);
    o.set_inflight(u16::MAX);
    rumqttc::AsyncClient::new(o, 4096)
}

/// A subscriber to `filter` that sends the arrival time of each message on a channel.
async fn counter(
    addr: std::net::SocketAddr,
    id: &str,
    filter: &str,
) -> Result<tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>> {
    let (c, mut ev) = client(addr, id);
    c.subscribe(filter, rumqttc::QoS::AtMostOnce).await?;
    loop {
        if let rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) =
            tokio::time::timeout(WAIT, ev.poll()).await??
        {
            break;
        }
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _c = c;
        loop {
            match ev.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    if tx.send((p.topic.clone(), Instant::now())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if !tx.is_closed() {
                        eprintln!("subscriber: {e}");
                    }
                    return;
                }
            }
        }
    });
    Ok(rx)
}

/// Waits for `n` arrivals on `topic`; returns the last one's time.
async fn arrivals(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Instant)>,
    topic: &str,
    n: usize,
) -> Result<Instant> {
    let mut got = 0;
    let mut last = Instant::now();
    while got < n {
        let (t, at) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .map_err(|_| anyhow!("{got} of {n} arrived on {topic}"))?
            .ok_or_else(|| anyhow!("subscriber gone"))?;
        if t == topic {
            got += 1;
            last = at;
        }
    }
    Ok(last)
}

/// A modem on `tty`, echo off, with an MQTT session up as `id`.
fn connected(tty: &Path, id: &str) -> Port {
    let mut p = Port::open(tty);
    p.at("ATE0", "OK\r\n");
    p.mqtt_up(&format!("{id},root,luat123456"), START);
    p
}

/// `AT+MIPSTART`'s arguments in these figures.
const START: &str = "\"lbsmqtt.airm2m.com\",1883";

/// `n` QoS 0 messages `payload-<i>` to `topic` from `c`; returns when the first left.
async fn publish_n(c: &rumqttc::AsyncClient, topic: &str, n: usize) -> Result<Instant> {
    let start = Instant::now();
    for i in 0..n {
        let qos = rumqttc::QoS::AtMostOnce;
        c.publish(topic, qos, false, format!("payload-{i}")).await?;
    }
    Ok(start)
}

/// A broker whose per-link queue takes a whole burst (with the embedded default, 1000
/// packets, a pipelining publisher is held whenever a subscriber falls 500 behind, which
/// would measure the hold, not the path), and a simulator that sends its sessions there. Both
/// sides of every throughput figure use this one broker.
async fn bench_sim() -> Result<(Broker, Simulator)> {
    let broker = Broker::start(BrokerConfig {
        max_queued: 1 << 20,
        ..BrokerConfig::default()
    })
    .await?;
    let sim = Simulator::start(SimConfig {
        broker: BrokerSetup::Shared(broker.clone()),
        ..SimConfig::default()
    })
    .await?;
    Ok((broker, sim))
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn uplink(n: usize) -> Result<Vec<Row>> {
    let (broker, sim) = bench_sim().await?;
    let addr = broker.local_addr();
    let mut rx = counter(addr, "bench-up-sub", "bench/up/#").await?;
    let tty = sim.tty().to_path_buf();
    // Through the simulator: a driver sends each AT+MPUB after the previous OK.
    let (mut port, start) = tokio::task::spawn_blocking(move || {
        let mut p = connected(&tty, "bench-up");
        let start = Instant::now();
        for i in 0..n {
            p.at(
                &format!("AT+MPUB=\"bench/up/sim\",0,0,\"payload-{i}\""),
                "OK\r\n",
            );
        }
        (p, start)
    })
    .await?;
    let ours = arrivals(&mut rx, "bench/up/sim", n).await? - start;
    // Pipelined: a host that writes every line without waiting for the OKs (the engine still
    // takes them one at a time, in order); a reader drains the OKs meanwhile.
    let start_pipe = tokio::task::spawn_blocking(move || -> Result<Instant> {
        let mut reader = Port {
            file: port.file.try_clone()?,
            seen: Vec::new(),
        };
        let oks = std::thread::spawn(move || count(&mut reader, "OK\r\n", n));
        let mut lines = Vec::new();
        for i in 0..n {
            let line = format!("AT+MPUB=\"bench/up/pipe\",0,0,\"payload-{i}\"\r");
            lines.extend_from_slice(line.as_bytes());
        }
        let start = Instant::now();
        port.send(&lines);
        oks.join().map_err(|_| anyhow!("reader panicked"))??;
        Ok(start)
    })
    .await??;
    let piped = arrivals(&mut rx, "bench/up/pipe", n).await? - start_pipe;
    // Direct: the same payloads from a rumqttc client.
    let (c, mut ev) = client(addr, "bench-up-direct");
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let start = publish_n(&c, "bench/up/direct", n).await?;
    let base = arrivals(&mut rx, "bench/up/direct", n).await? - start;
    drop(rx); // the broker's shutdown below ends the subscriber; not an error to report
    sim.shutdown().await;
    broker.shutdown().await;
    let (o, p, b) = (rate(n, ours), rate(n, piped), rate(n, base));
    let direct = "direct rumqttc, pipelined";
    let after_each = "uplink QoS 0, AT+MPUB after each OK (msgs/s at a subscriber)";
    let pipelined = "uplink QoS 0, AT+MPUB lines pipelined (msgs/s at a subscriber)";
    Ok(vec![
        rate_row(after_each, o, b, direct),
        rate_row(pipelined, p, b, direct),
    ])
}

async fn downlink(n: usize) -> Result<Row> {
    let (broker, sim) = bench_sim().await?;
    let addr = broker.local_addr();
    let tty = sim.tty().to_path_buf();
    let mut port = tokio::task::spawn_blocking(move || {
        let mut p = connected(&tty, "bench-down");
        p.at("AT+MSUB=\"bench/down/sim\",0", "SUBACK\r\n");
        p
    })
    .await?;
    let (c, mut ev) = client(addr, "bench-down-pub");
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let reader = tokio::task::spawn_blocking(move || -> Result<Instant> {
        count(&mut port, "+MSUB: \"bench/down/sim\"", n)?;
        Ok(Instant::now())
    });
    let start = publish_n(&c, "bench/down/sim", n).await?;
    let ours = reader.await?? - start;
    let mut rx = counter(addr, "bench-down-direct", "bench/down/direct").await?;
    let start = publish_n(&c, "bench/down/direct", n).await?;
    let base = arrivals(&mut rx, "bench/down/direct", n).await? - start;
    drop(rx);
    sim.shutdown().await;
    broker.shutdown().await;
    let what = "downlink QoS 0 (+MSUB read from the tty, msgs/s)";
    Ok(rate_row(
        what,
        rate(n, ours),
        rate(n, base),
        "direct subscriber",
    ))
}

async fn qos1(rounds: usize, per_round: usize, bare_pty: Duration) -> Result<Vec<Row>> {
    let (broker, sim) = bench_sim().await?;
    let addr = broker.local_addr();
    let tty = sim.tty().to_path_buf();
    let mut port = tokio::task::spawn_blocking(move || connected(&tty, "bench-q1")).await?;
    let (c, mut ev) = client(addr, "bench-q1-direct");
    let (acks_tx, mut acks) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(e) = ev.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = e {
                let _ = acks_tx.send(Instant::now());
            }
        }
    });
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (p, o) = tokio::task::spawn_blocking(move || {
            let mut v = Vec::with_capacity(per_round);
            for i in 0..per_round {
                let t = Instant::now();
                let publish = format!("AT+MPUB=\"bench/q1/sim\",1,0,\"payload-{i}\"");
                port.at(&publish, "PUBACK\r\n");
                v.push(t.elapsed());
            }
            (port, v)
        })
        .await?;
        port = p;
        ours.extend(o);
        for i in 0..per_round {
            let t = Instant::now();
            let qos = rumqttc::QoS::AtLeastOnce;
            c.publish("bench/q1/direct", qos, false, format!("payload-{i}"))
                .await?;
            let at = tokio::time::timeout(WAIT, acks.recv())
                .await?
                .context("direct client gone")?;
            base.push(at - t);
        }
    }
    sim.shutdown().await;
    broker.shutdown().await;
    let [(om, bm, r), (o99, b99, _)] = medians_and_p99s(ours, base);
    // The AT path cannot beat one PTY round trip plus one MQTT round trip.
    let floor = bare_pty + bm;
    let rf = om.as_secs_f64() / floor.as_secs_f64();
    let latency = [
        format!("{} / {}", us(om), us(o99)),
        format!("{} / {} (direct publish -> PubAck)", us(bm), us(b99)),
        format!("{r:.2}x"),
    ];
    let vs_floor = [
        us(om),
        format!("{} ({} + {})", us(floor), us(bare_pty), us(bm)),
        format!("{rf:.2}x"),
    ];
    Ok(vec![
        row(
            "QoS 1 latency (AT+MPUB -> PUBACK), median / p99",
            latency,
            "<= 2x direct",
            Some(r <= 2.0),
        ),
        row(
            "QoS 1 latency vs bare PTY round trip + direct",
            vs_floor,
            "-",
            None,
        ),
    ])
}

fn sim_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_modem-sim"))
}

/// Spawns the binary (`--timing fast` unless `extra` names a profile: these figures measure
/// the simulator itself) and waits for its ready file; returns the child, the ready JSON and
/// the time it took.
fn spawn_ready(
    extra: &[&str],
    dir: &Path,
) -> Result<(std::process::Child, serde_json::Value, Duration)> {
    let ready = dir.join("ready.json");
    let _ = std::fs::remove_file(&ready);
    let t = Instant::now();
    let mut cmd = process::sim_command(&ready, extra);
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    while !ready.exists() {
        if t.elapsed() > WAIT {
            let _ = child.kill();
            bail!("no ready file after {WAIT:?}");
        }
        if let Some(s) = child.try_wait()? {
            bail!("modem-sim exited: {s}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let took = t.elapsed();
    let json = serde_json::from_slice(&std::fs::read(&ready)?)?;
    Ok((child, json, took))
}

fn stop(mut child: std::process::Child) -> Result<()> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    child.wait()?;
    Ok(())
}

fn startup(runs: usize) -> Result<Row> {
    let dir = tempfile::tempdir()?;
    let mut v = Vec::new();
    for _ in 0..runs {
        let (child, _, took) = spawn_ready(&[], dir.path())?;
        v.push(took);
        stop(child)?;
    }
    let med = pct(&mut v, 0.5);
    let max = pct(&mut v, 1.0);
    let what = "startup (spawn -> ready file), median / max";
    let figure = alone(format!("{} / {}", ms(med), ms(max)));
    Ok(row(
        what,
        figure,
        "< 50 ms",
        Some(med < Duration::from_millis(50)),
    ))
}

fn suite() -> Result<Row> {
    let harness = sim_bin().with_file_name("modem-harness");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if !harness.exists() {
        let what = "conformance suite (`modem-harness features features/`)";
        let build = "not measured: build it first (`cargo build --release -p modem-harness`)";
        return Ok(row(what, alone(build.into()), "< 60 s", None));
    }
    let t = Instant::now();
    let out = Command::new(&harness)
        .args(["features", "features/"])
        .current_dir(&root)
        .output()?;
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text.lines().rev().find(|l| l.contains("passed"));
    let summary = summary.unwrap_or("").trim().to_string();
    let passed = out.status.success();
    let summary = if passed {
        summary
    } else {
        format!("FAILED: {summary}")
    };
    let what = "conformance suite (`modem-harness features features/`, release, no build)";
    let figure = alone(format!("{:.1} s ({summary})", took.as_secs_f64()));
    Ok(row(
        what,
        figure,
        "< 60 s",
        Some(passed && took < Duration::from_secs(60)),
    ))
}

/// A host side that sends a command line and reads until an answer.
trait AsyncAt {
    async fn at(&mut self, cmd: &str, answer: &str) -> Result<()>;
}

/// Fleet modem `i`'s MQTT session up over `host`.
async fn session_up(host: &mut impl AsyncAt, i: usize) -> Result<()> {
    let config = format!("AT+MCONFIG=fleet-{i},root,luat123456");
    host.at(&config, "OK\r\n").await?;
    host.at(&format!("AT+MIPSTART={START}"), "CONNECT OK\r\n")
        .await?;
    host.at("AT+MCONNECT=1,60", "CONNACK OK\r\n").await
}

/// A fleet of `n` up: the process, how long its ready file took, how long until every
/// modem's session was up, and the hosts (one per modem, each connected by `host` from its
/// address in the ready file's `list` within `wait`).
struct FleetUp<H> {
    child: std::process::Child,
    ready: Duration,
    all: Duration,
    hosts: Vec<H>,
}

async fn fleet_up<H, F>(
    n: usize,
    extra: &[&str],
    list: &str,
    wait: Duration,
    host: impl Fn(usize, String) -> F,
) -> Result<FleetUp<H>>
where
    H: Send + 'static,
    F: std::future::Future<Output = Result<H>> + Send + 'static,
{
    let dir = tempfile::tempdir()?;
    let args: Vec<String> = ["--count".to_string(), n.to_string()]
        .into_iter()
        .chain(extra.iter().map(|s| s.to_string()))
        .collect();
    let t = Instant::now();
    let path = dir.path().to_path_buf();
    let spawn = move || spawn_ready(&args.iter().map(String::as_str).collect::<Vec<_>>(), &path);
    let (child, json, ready) = tokio::task::spawn_blocking(spawn).await??;
    let addrs: Vec<String> = json[list]
        .as_array()
        .context("the modems' list")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if addrs.len() != n {
        bail!("{} {list} for {n} modems", addrs.len());
    }
    let tasks: Vec<_> = addrs
        .into_iter()
        .enumerate()
        .map(|(i, a)| tokio::spawn(host(i, a)))
        .collect();
    let mut hosts = Vec::with_capacity(n);
    for task in tasks {
        hosts.push(tokio::time::timeout(wait, task).await???);
    }
    Ok(FleetUp {
        child,
        ready,
        all: t.elapsed(),
        hosts,
    })
}

/// A tty opened non-blocking, driven by the runtime, so one task per modem can wait on it.
struct AsyncTty {
    fd: AsyncFd<std::fs::File>,
    seen: Vec<u8>,
}

impl AsyncTty {
    fn open(path: &Path) -> Result<AsyncTty> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
            .open(path)
            .with_context(|| format!("open {}", path.display()))?;
        raw(&file)?;
        Ok(AsyncTty {
            // SAFETY: the AsyncFd owns the File, so its fd stays open and the same until the
            // AsyncFd is dropped.
            fd: unsafe { AsyncFd::register(file) }.map_err(|e| anyhow!("register the tty: {e}"))?,
            seen: Vec::new(),
        })
    }
}

impl AsyncAt for AsyncTty {
    async fn at(&mut self, cmd: &str, answer: &str) -> Result<()> {
        let line = format!("{cmd}\r");
        let mut off = 0;
        while off < line.len() {
            let mut g = self.fd.writable().await?;
            if let Ok(r) = g.try_io(|f| f.get_ref().write(&line.as_bytes()[off..])) {
                off += r?;
            }
        }
        loop {
            if let Some(p) = find(&self.seen, answer.as_bytes()) {
                self.seen.drain(..p + answer.len());
                return Ok(());
            }
            let mut g = self.fd.readable().await?;
            let mut buf = [0u8; 4096];
            if let Ok(r) = g.try_io(|f| f.get_ref().read(&mut buf)) {
                let n = r?;
                self.seen.extend_from_slice(&buf[..n]);
            }
        }
    }
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS")
}

async fn fleet(n: usize) -> Result<Vec<Row>> {
    let up = fleet_up(n, &[], "ttys", WAIT, |i, tty| async move {
        let mut port = AsyncTty::open(Path::new(&tty))?;
        session_up(&mut port, i).await?;
        Ok(port)
    })
    .await?;
    let rss = rss_kib(up.child.id())?;
    drop(up.hosts);
    stop(up.child)?;
    let what = format!("fleet of {n}: spawn -> ready file / -> all CONNACK OK; RSS");
    let times = (up.ready, up.all);
    Ok(vec![fleet_row(
        &what,
        n,
        times,
        rss,
        "",
        (1000, "1000 modems in one process"),
    )])
}

/// A fleet's row: the times to its ready file and to every session up, its RSS (and `more`);
/// met once `n` reaches `big`.
fn fleet_row(
    what: &str,
    n: usize,
    (ready, all): (Duration, Duration),
    rss: u64,
    more: &str,
    (big, target): (usize, &str),
) -> Row {
    let (ready, all) = (ms(ready), ms(all));
    let (mib, per) = (rss as f64 / 1024.0, rss as f64 / n as f64);
    let figure = alone(format!(
        "{ready} / {all}; {mib:.1} MiB = {per:.0} KiB per modem{more}"
    ));
    let target = if n >= big { target } else { "-" };
    row(what, figure, target, (n >= big).then_some(true))
}

/// The first UART port of the TCP fleets: below Linux's ephemeral range (32768-60999), so
/// 10,000 listeners leave the ephemeral ports to the hosts' and the MQTT sessions' sockets.
const FLEET_TCP_BASE: u16 = 20_000;

/// CPU time (user + system) of process `pid` so far.
fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = &stat[stat.rfind(')').context("stat")? + 2..];
    let f: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 (utime, stime), counted from the state (field 3) here.
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // SAFETY: sysconf reads a constant of the system; no memory is involved.
    let hz = match unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) } {
        n if n > 0 => n as u64,
        _ => 100,
    };
    Ok(Duration::from_micros(ticks * 1_000_000 / hz))
}

/// A fleet over TCP: spawn with `--count n --serial tcp-listen://127.0.0.1:BASE`, connect a
/// host to each modem's port, all to CONNACK OK; then RSS, and CPU while idle (keepalives
/// only) over 65 s, in which each modem's 60 s keepalive fires once.
async fn fleet_tcp(n: usize) -> Result<Vec<Row>> {
    let serial = format!("tcp-listen://127.0.0.1:{FLEET_TCP_BASE}");
    let up = fleet_up(
        n,
        &["--serial", &serial],
        "serials",
        WAIT * 5,
        |i, serial| async move {
            let addr = serial
                .strip_prefix("tcp-listen://")
                .context("a tcp-listen serial")?;
            let mut host = tokio::net::TcpStream::connect(addr).await?;
            session_up(&mut host, i).await?;
            Ok(host)
        },
    )
    .await?;
    let pid = up.child.id();
    let rss = rss_kib(pid)?;
    let cpu0 = cpu_time(pid)?;
    // Past one keepalive period (AT+MCONNECT=1,60): every modem sends one PINGREQ.
    let idle = Duration::from_secs(65);
    tokio::time::sleep(idle).await;
    let cpu = cpu_time(pid)? - cpu0;
    drop(up.hosts);
    stop(up.child)?;
    let what = format!("fleet of {n} over TCP: spawn -> ready / -> all CONNACK OK; RSS; idle CPU");
    let (cpu_ms, secs) = (cpu.as_millis(), idle.as_secs());
    let core = cpu.as_secs_f64() * 100.0 / idle.as_secs_f64();
    let more = format!("; idle {cpu_ms} ms CPU in {secs} s = {core:.2}% of a core");
    let big = (10_000, "10,000 modems in one process");
    Ok(vec![fleet_row(
        &what,
        n,
        (up.ready, up.all),
        rss,
        &more,
        big,
    )])
}

impl AsyncAt for tokio::net::TcpStream {
    /// Sends `cmd` and reads until `answer`.
    async fn at(&mut self, cmd: &str, answer: &str) -> Result<()> {
        self.write_all(format!("{cmd}\r").as_bytes()).await?;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while find(&seen, answer.as_bytes()).is_none() {
            let n = self.read(&mut buf).await?;
            if n == 0 {
                bail!("the UART closed after {:?}", String::from_utf8_lossy(&seen));
            }
            seen.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }
}
