//! `modem-harness check-driver`: runs a driver under test against a simulator and an MQTT
//! broker, checks the echo contract through faults, and reports.
//!
//! The contract, like the Autobahn WebSocket suite's echo: the driver subscribes to
//! `MODEM_ECHO_IN` and republishes every payload, unchanged, to `MODEM_ECHO_OUT`. The checker
//! publishes on one topic and waits on the other; between scenarios it injects faults, and
//! each recovery has a stated deadline.

pub mod tcp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::device::Eol;
use anyhow::{anyhow, Context, Result};
use modem_sim::broker::{Broker, BrokerConfig};
use modem_sim::dialect::host::MessageFraming;
use modem_sim::dialect::DialectKind;
use modem_sim::net::HostPort;
use modem_sim::sim::{BrokerSetup, Simulator, UartRecord};
use modem_sim::Fault;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::engine::rewrite::BrokerTarget;
use crate::engine::target::SimTarget;
use crate::transcript::Transcript;

const ECHO_IN: &str = "check/echo/in";
const ECHO_OUT: &str = "check/echo/out";

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub dialect: DialectKind,
    /// The driver and its arguments.
    pub command: Vec<String>,
    /// How long the driver has for its first echo (it boots and connects).
    pub first_deadline: Duration,
    /// How long echo may take to resume after a fault.
    pub recovery_deadline: Duration,
    /// The line end the driver is asked to send (`MODEM_EOL`).
    pub eol: Eol,
    /// How long the simulated module takes (`realistic` by default on the command line).
    pub timing: modem_sim::timing::Profile,
    /// Seeds the profile's jitter.
    pub seed: u64,
    /// Stop after the first failing scenario.
    pub fail_fast: bool,
}

impl CheckOptions {
    /// The driver's program and its arguments.
    fn driver(&self) -> Result<(&String, &[String])> {
        self.command
            .split_first()
            .ok_or_else(|| anyhow!("no driver command given (after --)"))
    }

    /// Starts the driver on `sim`'s tty with the contract's environment: `MODEM_TTY`,
    /// `MODEM_EOL` and `env`.
    fn spawn_driver(
        &self,
        sim: &Simulator,
        env: &[(&str, String)],
        stdout: Stdio,
        stderr: Stdio,
    ) -> Result<tokio::process::Child> {
        let (program, args) = self.driver()?;
        tokio::process::Command::new(program)
            .args(args)
            .env("MODEM_TTY", sim.tty())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("MODEM_EOL", self.eol.name())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the driver `{program}`"))
    }

    /// Adds `outcome` to `outcomes`; whether the check goes on (not after a failure under
    /// `--fail-fast`).
    fn keep(&self, outcomes: &mut Vec<Outcome>, outcome: Outcome) -> bool {
        let failed = !outcome.passed;
        outcomes.push(outcome);
        !(failed && self.fail_fast)
    }

    /// How long a scenario's echo may take: the recovery deadline after a fault, the first
    /// deadline for the first echo (the driver boots and connects), else 10 s.
    fn deadline(&self, recovery: bool, first: bool) -> Duration {
        if recovery {
            self.recovery_deadline
        } else if first {
            self.first_deadline
        } else {
            Duration::from_secs(10)
        }
    }
}

/// Whether the echo passed, and why not; says so if the driver has exited.
fn verdict(
    result: std::result::Result<(), String>,
    driver: &mut tokio::process::Child,
) -> (bool, String) {
    let exited = driver.try_wait().ok().flatten();
    let (passed, mut detail) = match result {
        Ok(()) => (true, String::new()),
        Err(e) => (false, e),
    };
    if let Some(status) = exited {
        detail.push_str(&format!(" (the driver exited: {status})"));
    }
    (passed, detail)
}

/// One scenario's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: &'static str,
    pub passed: bool,
    pub took: Duration,
    /// Why it failed.
    pub detail: String,
    /// The fault the scenario injected, if any.
    pub fault: Option<String>,
    /// The UART traffic during the scenario (on failure).
    pub transcript: String,
    /// Late echoes of earlier scenarios that arrived during this one (ignored).
    pub stale: usize,
    /// Everything during the scenario, time-stamped: UART both ways, the checker's MQTT
    /// publishes and echoes, the fault, the failure (for `--html`).
    pub timeline: Vec<crate::transcript::Event>,
    /// The HTML report written for this scenario (`--html`), named in the JUnit failure.
    pub report: Option<PathBuf>,
}

/// What the scenario does before it checks the echo.
#[derive(Debug, Clone, Copy)]
enum Setup {
    None,
    Inject(&'static str),
    KickIdle,
    BrokerRestart,
}

struct Scenario {
    name: &'static str,
    setup: Setup,
    /// The payload to echo (after its tag, see [`tagged`]); `None`: only the tag. Published
    /// again, with a new tag, until one returns ([`retry_after`]).
    payload: Option<&'static [u8]>,
    qos: QoS,
    /// Recovery (the recovery deadline) or first contact (the first deadline), else 10 s.
    recovery: bool,
    /// A fault to lift after the check.
    after: Option<&'static str>,
}

impl Scenario {
    fn new(
        name: &'static str,
        setup: Setup,
        payload: Option<&'static [u8]>,
        qos: QoS,
        recovery: bool,
    ) -> Self {
        Scenario {
            name,
            setup,
            payload,
            qos,
            recovery,
            after: None,
        }
    }
}

/// The scenarios for `dialect`. A module that frames a received message by its line's end
/// (the L610 prints `+MQTTMSG: ..., <payload>\r\n` with no length, seed 002 section 3.3) lets
/// no driver tell a CR LF in a payload from the line's end: its payloads carry `"`, `,` and
/// `\` but no CR LF (fixtures/DIVERGENCES.md F10).
fn scenarios(dialect: DialectKind) -> Vec<Scenario> {
    let line_framed = matches!(
        dialect.host_profile().message,
        MessageFraming::LineEnd { .. }
    );
    let (special_name, special, fragmented): (_, &[u8], &[u8]) = if line_framed {
        (
            "payload with quote, comma and backslash (no CR LF on the L610)",
            b"a \"quoted\", comma \\ backslash, OK",
            b"fragmented \"payload\", of some length to cut",
        )
    } else {
        (
            "binary payload with quote, comma, backslash and CR LF",
            b"a \"quoted\", comma \\ backslash\r\nOK\r\n\0\xff\x80\x1a> end\n",
            b"fragmented \"payload\", of some length\r\n to cut",
        )
    };
    let q0 = QoS::AtMostOnce;
    vec![
        Scenario::new("plain echo", Setup::None, Some(b"hello"), q0, false),
        Scenario::new(special_name, Setup::None, Some(special), q0, false),
        Scenario::new(
            "QoS 1",
            Setup::None,
            Some(b"at least once"),
            QoS::AtLeastOnce,
            false,
        ),
        Scenario::new(
            "resumes after closed",
            Setup::Inject("closed"),
            None,
            q0,
            true,
        ),
        Scenario::new(
            "resumes after pdn-deact",
            Setup::Inject("pdn-deact"),
            None,
            q0,
            true,
        ),
        Scenario::new(
            "resumes after kick-idle (767)",
            Setup::KickIdle,
            None,
            q0,
            true,
        ),
        Scenario::new(
            "resumes after a broker restart",
            Setup::BrokerRestart,
            None,
            q0,
            true,
        ),
        Scenario {
            after: Some("uart-fragment off"),
            ..Scenario::new(
                "echo under uart-fragment",
                Setup::Inject("uart-fragment"),
                Some(fragmented),
                q0,
                false,
            )
        },
    ]
}

/// The broker-side checker client: publishes to ECHO_IN, and hands over what comes on
/// ECHO_OUT. It resubscribes after every reconnect (the broker restart).
struct Checker {
    client: AsyncClient,
    echoes: mpsc::UnboundedReceiver<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl Checker {
    /// Connects with `account` (the dialect's default one, which the driver is given too).
    fn start(addr: SocketAddr, account: (&str, &str)) -> Checker {
        let mut opts = MqttOptions::new("check-driver", addr.ip().to_string(), addr.port());
        opts.set_credentials(account.0, account.1);
        opts.set_keep_alive(Duration::from_secs(30));
        let (client, mut ev) = AsyncClient::new(opts, 100);
        let (tx, echoes) = mpsc::unbounded_channel();
        let sub = client.clone();
        let task = tokio::spawn(async move {
            loop {
                match ev.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = sub.try_subscribe(ECHO_OUT, QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == ECHO_OUT => {
                        let _ = tx.send(p.payload.to_vec());
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        Checker {
            client,
            echoes,
            task,
        }
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Renders UART records as `-> ` (host) and `<- ` (module) lines.
/// The line printed before the scenarios: which timing the module has, and what a failure
/// under it means.
pub fn timing_note(p: &modem_sim::timing::Profile, seed: u64) -> String {
    if p.is_instant() {
        return format!(
            "timing: {} (the module answers as soon as the network does)",
            p.name
        );
    }
    let connack = p
        .delay(modem_sim::timing::Step::Connack)
        .map(|d| {
            format!(
                "CONNACK OK {}-{} ms after the OK, ",
                d.median_ms.saturating_sub(d.spread_ms),
                d.median_ms + d.spread_ms
            )
        })
        .unwrap_or_default();
    format!(
        "timing: {} ({connack}UART {}; seed {seed}). A driver that fails here and passes with --timing fast waits less than the module takes.",
        p.name,
        if p.pace_uart { "paced at the baud rate" } else { "not paced" }
    )
}

/// Each line carries its time (seconds since the first record shown), when its first byte
/// crossed the UART: `    [  0.235 s] <- CONNACK OK`.
pub fn render(records: &[UartRecord]) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let mut from_host = None;
    let t0 = records.first().map(|r| r.at);
    let mut line_at = t0;
    let flush =
        |line: &mut String, host: bool, at: Option<std::time::Instant>, out: &mut String| {
            if !line.trim().is_empty() {
                let secs = match (at, t0) {
                    (Some(a), Some(t)) => a.saturating_duration_since(t).as_secs_f64(),
                    _ => 0.0,
                };
                out.push_str(&format!("    [{secs:7.3} s] "));
                out.push_str(if host { "-> " } else { "<- " });
                out.push_str(line.trim());
                out.push('\n');
            }
            line.clear();
        };
    for r in records {
        if r.dropped > 0 {
            if let Some(h) = from_host {
                flush(&mut line, h, line_at, &mut out);
            }
            out.push_str(&format!(
                "    !! {} bytes of the module's output lost: the driver was not reading\n",
                r.dropped
            ));
            continue;
        }
        if from_host != Some(r.from_host) {
            if let Some(h) = from_host {
                flush(&mut line, h, line_at, &mut out);
            }
            from_host = Some(r.from_host);
        }
        for &b in &r.bytes {
            if b == b'\n' || b == b'\r' {
                flush(&mut line, r.from_host, line_at, &mut out);
            } else {
                if line.is_empty() {
                    line_at = Some(r.at);
                }
                line.extend(std::ascii::escape_default(b).map(char::from));
            }
        }
    }
    if let Some(h) = from_host {
        flush(&mut line, h, line_at, &mut out);
    }
    out
}

/// Runs the driver through every scenario. `Err` only when the check cannot start.
pub async fn check_driver(opts: &CheckOptions) -> Result<Vec<Outcome>> {
    let mut bench = Bench::start(opts).await?;
    let mut outcomes = Vec::new();
    let mut sent = Sent::default();
    for (index, sc) in scenarios(opts.dialect).into_iter().enumerate() {
        let first = outcomes.is_empty();
        let outcome = bench.scenario(opts, index, &sc, first, &mut sent).await?;
        if !opts.keep(&mut outcomes, outcome) {
            break;
        }
    }
    bench.stop().await;
    Ok(outcomes)
}

/// The driver's output lines, with when they came (for the timeline).
type DriverLog = Arc<Mutex<Vec<(Instant, String)>>>;

/// The simulator the driver talks to: it shares `broker`'s handle, so the broker faults
/// (`kick-idle`) injected into it act on the broker the driver and the checker use.
async fn start_simulator(target: SimTarget, broker: &Broker) -> Result<Simulator> {
    let mut cfg = target.config()?;
    cfg.broker = BrokerSetup::Shared(broker.clone());
    Simulator::start(cfg)
        .await
        .context("starting the simulator")
}

/// Messages the broker dropped during a scenario (its queue limits, Mosquitto's), as a note in
/// the scenario's timeline: nothing lost goes unsaid. A restart starts the counters again.
fn note_broker_drops(
    timeline: &Transcript,
    before: modem_sim::broker::BrokerStats,
    after: modem_sim::broker::BrokerStats,
) {
    let qos0 = after.dropped_qos0.saturating_sub(before.dropped_qos0);
    let queued = after.dropped_queued.saturating_sub(before.dropped_queued);
    if qos0 + queued > 0 {
        timeline.note(format!(
            "the broker dropped {qos0} QoS 0 and {queued} QoS 1/2 messages: a client's queue was full (max_queued_messages / max_queued_bytes)"
        ));
    }
}

/// What a check runs on: the simulator, the broker it reaches, the driver under test, and the
/// checker's own MQTT client.
struct Bench {
    dut: Dut,
    broker: Broker,
    addr: SocketAddr,
    checker: Checker,
    driver_log: DriverLog,
}

/// The simulator, the driver under test running on its UART, and the tap on that UART: what
/// every contract's bench holds (`Bench` here, `tcp::TcpBench`).
pub(crate) struct Dut {
    pub(crate) sim: Simulator,
    pub(crate) driver: tokio::process::Child,
    pub(crate) tap: modem_sim::sim::UartTap,
}

impl Dut {
    /// Starts the driver on `sim`'s UART with `env`.
    pub(crate) fn spawn(
        opts: &CheckOptions,
        sim: Simulator,
        env: &[(&str, String)],
        stdout: Stdio,
        stderr: Stdio,
    ) -> Result<Dut> {
        let driver = opts.spawn_driver(&sim, env, stdout, stderr)?;
        let tap = sim.uart_tap();
        Ok(Dut { sim, driver, tap })
    }

    /// Ends the driver, then the simulator.
    pub(crate) async fn stop(mut self) {
        let _ = self.driver.kill().await;
        self.sim.shutdown().await;
    }
}

impl Bench {
    async fn start(opts: &CheckOptions) -> Result<Bench> {
        opts.driver()?; // no driver command: said before anything starts
        let (user, password) = opts.dialect.host_profile().account;
        let accounts = vec![(user.to_string(), password.to_string())];
        let broker = Broker::start(BrokerConfig {
            accounts,
            ..BrokerConfig::default()
        })
        .await
        .context("starting the broker")?;
        let addr = broker.local_addr();
        let target = SimTarget {
            broker: Some(BrokerTarget {
                addr: HostPort {
                    host: addr.ip().to_string(),
                    port: addr.port(),
                },
                user: Some(user.to_string()),
                password: Some(password.to_string()),
            }),
            timing: opts.timing.clone(),
            seed: opts.seed,
            ..SimTarget::new(opts.dialect)
        };
        let sim = start_simulator(target, &broker).await?;
        let checker = Checker::start(addr, (user, password));
        let env = [
            ("MODEM_BROKER_HOST", addr.ip().to_string()),
            ("MODEM_BROKER_PORT", addr.port().to_string()),
            ("MODEM_MQTT_USER", user.to_string()),
            ("MODEM_MQTT_PASSWORD", password.to_string()),
            ("MODEM_ECHO_IN", ECHO_IN.to_string()),
            ("MODEM_ECHO_OUT", ECHO_OUT.to_string()),
        ];
        let mut dut = Dut::spawn(opts, sim, &env, Stdio::piped(), Stdio::piped())?;
        let driver_log = collect_output(&mut dut.driver);
        Ok(Bench {
            dut,
            broker,
            addr,
            checker,
            driver_log,
        })
    }

    /// What the scenario does before its check; returns the fault, as the report names it.
    async fn setup(&mut self, setup: Setup, timeline: &Transcript) -> Result<Option<String>> {
        match setup {
            Setup::None => Ok(None),
            Setup::Inject(text) => {
                let f: Fault = text.parse()?;
                timeline.fault(text);
                self.dut.sim.inject(f).await?;
                Ok(Some(text.to_string()))
            }
            Setup::KickIdle => {
                // Seed 003: the server closes links that send no CONNECT at once, so the
                // driver's reconnect meets `CLOSED` and `+CME ERROR: 767` on `MCONNECT`
                // for a while; then the server is patient again.
                timeline.fault("kick-idle 0.001, then closed");
                self.dut
                    .sim
                    .inject("kick-idle 0.001".parse::<Fault>()?)
                    .await?;
                self.dut.sim.inject(modem_sim::fault::Closed).await?;
                tokio::time::sleep(Duration::from_secs(2)).await;
                self.dut
                    .sim
                    .inject("kick-idle off".parse::<Fault>()?)
                    .await?;
                timeline.fault("kick-idle off");
                Ok(Some(
                    "kick-idle 0.001, then closed; kick-idle off after 2 s".into(),
                ))
            }
            Setup::BrokerRestart => {
                timeline.fault("broker stopped");
                // In place: the simulator shares this broker's handle, so its broker faults
                // reach the restarted broker too.
                self.broker
                    .restart(Duration::from_secs(1))
                    .await
                    .with_context(|| format!("restarting the broker on {}", self.addr))?;
                timeline.fault("broker started again");
                Ok(Some(
                    "broker stopped, started again on the same port after 1 s".into(),
                ))
            }
        }
    }

    /// Runs one scenario: its fault, the echo check, and what the report shows of it.
    async fn scenario(
        &mut self,
        opts: &CheckOptions,
        index: usize,
        sc: &Scenario,
        first: bool,
        sent: &mut Sent,
    ) -> Result<Outcome> {
        let started = Instant::now();
        let from = self.dut.tap.snapshot().len();
        let drops_before = self.broker.stats();
        let timeline = Transcript::new();
        let fault = self.setup(sc.setup, &timeline).await?;
        let deadline = opts.deadline(sc.recovery, first);
        let stale_before = sent.stale;
        let result = echo(&mut self.checker, sc, index + 1, deadline, sent, &timeline).await;
        if let Some(text) = sc.after {
            if let Ok(f) = text.parse::<Fault>() {
                timeline.fault(text);
                self.dut.sim.inject(f).await?;
            }
        }
        let (passed, mut detail) = verdict(result, &mut self.dut.driver);
        if !passed && !opts.timing.is_instant() {
            detail.push_str(&format!(
                " (under --timing {}: the module takes its real time; see the times in the transcript)",
                opts.timing.name
            ));
        }
        if !passed {
            // Any of the scenario's tagged payloads; the first one stands for them.
            let expected = format!(
                "{ECHO_OUT}: {}",
                crate::device::show(&tagged(index + 1, 1, sc.payload))
            );
            timeline.failure(sc.name, Some(expected), None, detail.clone());
        }
        let transcript = if passed {
            String::new()
        } else {
            self.failure_transcript(from)
        };
        self.record_timeline(&timeline, started);
        note_broker_drops(&timeline, drops_before, self.broker.stats());
        Ok(Outcome {
            name: sc.name,
            passed,
            took: started.elapsed(),
            detail,
            fault,
            transcript,
            stale: sent.stale - stale_before,
            timeline: timeline.events(),
            report: None,
        })
    }

    /// The UART since a little before the scenario (what the driver was doing when the fault
    /// hit), then the driver's last output lines.
    fn failure_transcript(&self, from: usize) -> String {
        let records = self.dut.tap.snapshot();
        let log = self.driver_log.lock().unwrap_or_else(|e| e.into_inner());
        let start = from.min(records.len()).saturating_sub(6);
        let mut t = render(&records[start..]);
        let tail: Vec<&String> = log.iter().rev().take(10).map(|(_, l)| l).collect();
        if !tail.is_empty() {
            t.push_str("    driver output (last lines):\n");
            for l in tail.into_iter().rev() {
                t.push_str(&format!("    | {l}\n"));
            }
        }
        t
    }

    /// The tap's records since a little before the scenario (as the text transcript, and
    /// after it, so it holds every line that one shows), and the driver's output, into the
    /// scenario's timeline.
    fn record_timeline(&self, timeline: &Transcript, started: Instant) {
        let records = self.dut.tap.snapshot();
        let first = records.partition_point(|r| r.at < started);
        let records = &records[first.saturating_sub(6)..];
        if let Some(r) = records.first() {
            timeline.start_earlier(r.at);
        }
        timeline.add_uart_tap(records);
        let since = records.first().map_or(started, |r| r.at.min(started));
        for (at, line) in self
            .driver_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(at, _)| *at >= since)
        {
            let text = format!("driver: {line}");
            timeline.record_at(*at, crate::transcript::Kind::Note { text }, None);
        }
    }

    async fn stop(self) {
        self.dut.stop().await;
        drop(self.checker);
        self.broker.shutdown().await;
    }
}

/// Collects the driver's stdout and stderr lines as they come.
fn collect_output(driver: &mut tokio::process::Child) -> DriverLog {
    let driver_log = DriverLog::default();
    for out in [
        driver
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        driver
            .stderr
            .take()
            .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
    ]
    .into_iter()
    .flatten()
    {
        let log = driver_log.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let mut g = log.lock().unwrap_or_else(|e| e.into_inner());
                g.push((Instant::now(), l));
            }
        });
    }
    driver_log
}

/// Every payload the checker published, so an echo can be told apart: one of this scenario's
/// (the scenario passes), a late one of an earlier scenario's (ignored: a driver may take its
/// time, and the checker republishes while it waits), or neither (the driver changed it).
#[derive(Debug, Default)]
struct Sent {
    earlier: std::collections::HashSet<Vec<u8>>,
    /// Late echoes of earlier scenarios seen, in all.
    stale: usize,
}

/// The payload of scenario `scenario`'s `attempt`th publish. Each carries a tag that no other
/// publish has, so a late echo of an earlier scenario cannot pass for this one's, nor be taken
/// for a changed payload. The tag is a prefix: the scenario's own bytes follow unchanged.
fn tagged(scenario: usize, attempt: usize, body: Option<&[u8]>) -> Vec<u8> {
    match body {
        Some(b) => {
            let mut p = format!("#{scenario}.{attempt} ").into_bytes();
            p.extend_from_slice(b);
            p
        }
        None => format!("echo #{scenario}.{attempt}").into_bytes(),
    }
}

/// How long the checker waits for an echo before it publishes again: 1 s, then 2 s, then
/// 4 s at most. A QoS 0 publish while the driver is away is lost, so it must republish; a
/// driver that echoes late must not be buried under republished payloads.
fn retry_after(attempt: usize) -> Duration {
    Duration::from_secs(1 << attempt.min(2))
}

/// Publishes and waits for the echo until `deadline`. Any latency within it is accepted.
async fn echo(
    checker: &mut Checker,
    sc: &Scenario,
    scenario: usize,
    deadline: Duration,
    sent_before: &mut Sent,
    timeline: &Transcript,
) -> std::result::Result<(), String> {
    let until = tokio::time::Instant::now() + deadline;
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let result = loop {
        let attempt = sent.len();
        let payload = tagged(scenario, attempt + 1, sc.payload);
        // A publish while the checker itself reconnects is retried on the next round.
        timeline.mqtt(
            "check-driver",
            format!("publish {ECHO_IN} {:?}", String::from_utf8_lossy(&payload)),
        );
        let _ = checker
            .client
            .publish(ECHO_IN, sc.qos, false, payload.clone())
            .await;
        sent.push(payload);
        let round = tokio::time::Instant::now() + retry_after(attempt);
        let mut verdict = None;
        loop {
            let wait = round.min(until);
            let got = tokio::time::timeout_at(wait, checker.echoes.recv()).await;
            if let Ok(Some(got)) = &got {
                timeline.mqtt(
                    "check-driver",
                    format!("received {ECHO_OUT} {:?}", String::from_utf8_lossy(got)),
                );
            }
            match got {
                Ok(Some(got)) if sent.contains(&got) => {
                    verdict = Some(Ok(()));
                    break;
                }
                Ok(Some(got)) if sent_before.earlier.contains(&got) => sent_before.stale += 1,
                Ok(Some(got)) => {
                    verdict = Some(Err(format!(
                        "the echo differs from every payload sent: sent {:?}, got {:?}",
                        crate::device::show(&sent[0]),
                        crate::device::show(&got)
                    )));
                    break;
                }
                Ok(None) => {
                    verdict = Some(Err("the checker's MQTT client stopped".into()));
                    break;
                }
                Err(_) => break,
            }
        }
        if let Some(v) = verdict {
            break v;
        }
        if tokio::time::Instant::now() >= until {
            break Err(format!(
                "no echo on {ECHO_OUT} within {deadline:?} ({} publishes on {ECHO_IN})",
                sent.len()
            ));
        }
    };
    sent_before.earlier.extend(sent);
    result
}

/// The report printed to stdout.
pub fn report(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    for o in outcomes {
        let mark = if o.passed { "PASS" } else { "FAIL" };
        s.push_str(&format!(
            "{mark}  {} ({:.1} s)\n",
            o.name,
            o.took.as_secs_f64()
        ));
        if o.stale > 0 {
            s.push_str(&format!(
                "    ({} late echo(es) of earlier scenarios ignored)\n",
                o.stale
            ));
        }
        if !o.passed {
            if let Some(f) = &o.fault {
                s.push_str(&format!("    fault: {f}\n"));
            }
            s.push_str(&format!("    why:   {}\n", o.detail));
            if let Some(p) = &o.report {
                s.push_str(&format!("    report: {}\n", p.display()));
            }
            s.push_str("    AT transcript (-> driver, <- module):\n");
            s.push_str(&o.transcript);
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    s.push_str(&format!(
        "{} passed, {failed} failed\n",
        outcomes.len() - failed
    ));
    s
}

pub(crate) fn xml_escape(s: &str) -> String {
    crate::junit::escape(s)
}

/// The scenarios as JUnit test cases.
pub fn junit_cases(outcomes: &[Outcome]) -> Vec<crate::junit::Case> {
    use crate::junit::{Case, Verdict};
    outcomes
        .iter()
        .map(|o| Case {
            classname: "check-driver".into(),
            name: o.name.to_string(),
            time: Some(o.took.as_secs_f64()),
            verdict: if o.passed {
                Verdict::Passed
            } else {
                Verdict::Failed {
                    message: match &o.report {
                        Some(p) => format!("{} (report: {})", o.detail, p.display()),
                        None => o.detail.clone(),
                    },
                    body: format!(
                        "fault: {}\n{}\n{}",
                        o.fault.as_deref().unwrap_or("none"),
                        o.detail,
                        o.transcript
                    ),
                    output: None,
                }
            },
        })
        .collect()
}

/// JUnit XML, one test case per scenario.
pub fn junit(outcomes: &[Outcome]) -> String {
    crate::junit::to_string("check-driver", &junit_cases(outcomes), None)
}

/// Where a `--junit` report goes.
pub fn write_junit(path: &std::path::Path, outcomes: &[Outcome]) -> Result<()> {
    crate::junit::write(path, "check-driver", &junit_cases(outcomes), None)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// How long the broker lets a link that sends nothing stay (virtual time).
    async fn idle_link_lifetime(addr: SocketAddr) -> Duration {
        let mut link = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = tokio::time::Instant::now();
        let n = link.read(&mut [0u8; 1]).await.unwrap_or(0);
        assert_eq!(n, 0, "the broker closes an idle link without a word");
        started.elapsed()
    }

    /// A scenario during which the broker dropped messages says so in its timeline; one
    /// without drops says nothing.
    #[test]
    fn broker_drops_are_noted_in_the_timeline() {
        let timeline = Transcript::new();
        let before = modem_sim::broker::BrokerStats::default();
        note_broker_drops(&timeline, before, before);
        assert!(timeline.events().is_empty());
        let after = modem_sim::broker::BrokerStats {
            dropped_qos0: 3,
            dropped_queued: 2,
            ..before
        };
        note_broker_drops(&timeline, before, after);
        let events = timeline.events();
        assert_eq!(events.len(), 1);
        assert!(
            matches!(&events[0].kind, crate::transcript::Kind::Note { text }
                if text.contains("dropped 3 QoS 0 and 2 QoS 1/2")),
            "{:?}",
            events[0].kind
        );
    }

    /// `kick-idle` injected into check-driver's simulator acts on the broker the driver uses
    /// (the simulator shares its handle), also after the broker restart scenario. Paused time:
    /// without the fault the link would live the default 10 s.
    #[tokio::test(start_paused = true)]
    async fn kick_idle_reaches_the_check_driver_broker_also_after_a_restart() {
        let broker = Broker::start(BrokerConfig::default()).await.unwrap();
        let sim = start_simulator(SimTarget::new(DialectKind::Air780e), &broker)
            .await
            .unwrap();
        let default = BrokerConfig::default().connect_timeout.unwrap();
        assert!(idle_link_lifetime(broker.local_addr()).await >= default);
        sim.inject("kick-idle 0.001".parse::<Fault>().unwrap())
            .await
            .unwrap();
        assert!(idle_link_lifetime(broker.local_addr()).await < default);
        broker.restart(Duration::from_secs(1)).await.unwrap();
        assert!(idle_link_lifetime(broker.local_addr()).await >= default);
        sim.inject("kick-idle 0.001".parse::<Fault>().unwrap())
            .await
            .unwrap();
        assert!(idle_link_lifetime(broker.local_addr()).await < default);
        sim.shutdown().await;
        broker.shutdown().await;
    }
}
