//! `modem-harness check-driver --contract tcp-echo`: the raw-socket half of the driver check
//! (issue 16 item 6). The contract: the driver opens a TCP socket through the module to
//! `MODEM_TCP_HOST`:`MODEM_TCP_PORT` and writes back, unchanged, every byte the server sends
//! on it; when the socket or the data call breaks, it opens a new one. The checker is the
//! server: a real TCP listener on loopback, which the simulator reaches through `--resolve`.
//! It sends tagged payloads and waits for them to come back, with faults between scenarios.
//!
//! Outcomes, reports and JUnit are the MQTT contract's ([`crate::check`]).

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use modem_sim::fault::Fault;
use modem_sim::net::HostPort;
use modem_sim::sim::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{render, verdict, CheckOptions, Dut, Outcome};
use crate::transcript::Transcript;

/// The host name the driver is given; the simulator routes it to the checker's listener.
pub const HOST: &str = "tcp-echo.check";

struct Scenario {
    name: &'static str,
    fault: Option<&'static str>,
    body: Vec<u8>,
}

/// Every byte value, and the lines a careless AT parser trips on.
fn binary() -> Vec<u8> {
    let mut b: Vec<u8> = (0..=255u8).collect();
    b.extend_from_slice(b"\r\nOK\r\n\r\nERROR\r\n+MIPSTAT: 1,2\r\n>\x1a\x1b");
    b
}

fn scenarios() -> Vec<Scenario> {
    let s = |name, fault, body: &[u8]| Scenario {
        name,
        fault,
        body: body.to_vec(),
    };
    vec![
        s("plain echo", None, b"hello"),
        s(
            "every byte value, with CR LF, OK and Ctrl-Z",
            None,
            &binary(),
        ),
        s(
            "4 KiB: more than one packet each way",
            None,
            &binary().repeat(16)[..4096],
        ),
        s("resumes after closed", Some("closed"), b"after closed"),
        s("resumes after reset", Some("reset"), b"after reset"),
        s(
            "resumes after pdn-deact",
            Some("pdn-deact"),
            b"after pdn-deact",
        ),
    ]
}

/// The payload of scenario `n`'s `attempt`th send: a tag no other send has, then the body.
fn tagged(n: usize, attempt: usize, body: &[u8]) -> Vec<u8> {
    let mut p = format!("#{n}.{attempt} ").into_bytes();
    p.extend_from_slice(body);
    p
}

/// The server side: the driver's latest connection, and what came on it.
struct Server {
    listener: TcpListener,
    conn: Option<TcpStream>,
    got: Vec<u8>,
}

impl Server {
    /// Waits until `until` for a connection, if there is none (or the one there ended).
    async fn connection(&mut self, until: tokio::time::Instant) -> bool {
        if self.conn.is_some() {
            return true;
        }
        match tokio::time::timeout_at(until, self.listener.accept()).await {
            Ok(Ok((s, _))) => {
                self.accepted(s);
                true
            }
            _ => false,
        }
    }

    /// Reads until `until`; `false` when the connection ended (then it is dropped).
    async fn read(&mut self, until: tokio::time::Instant) -> bool {
        let Some(c) = self.conn.as_mut() else {
            return false;
        };
        let mut buf = [0u8; 8192];
        match tokio::time::timeout_at(until, c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.conn = None;
                false
            }
            Ok(Ok(n)) => {
                self.got.extend_from_slice(&buf[..n]);
                true
            }
            Err(_) => true,
        }
    }

    /// A newer connection replaces this one (the driver reopened its socket).
    async fn take_newer(&mut self) {
        if let Ok(Ok((s, _))) =
            tokio::time::timeout(Duration::from_millis(1), self.listener.accept()).await
        {
            self.accepted(s);
        }
    }

    /// `s` is the driver's connection from now on.
    fn accepted(&mut self, s: TcpStream) {
        let _ = s.set_nodelay(true);
        self.conn = Some(s);
        self.got.clear();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends the scenario's payload until it comes back whole, or `deadline` passes. Sends again,
/// with a new tag, every few seconds, and on every new connection.
async fn echo(
    server: &mut Server,
    n: usize,
    body: &[u8],
    deadline: Duration,
    timeline: &Transcript,
) -> std::result::Result<(), String> {
    let until = tokio::time::Instant::now() + deadline;
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut resend_at = tokio::time::Instant::now();
    loop {
        if !server.connection(until).await {
            return Err(format!(
                "the driver opened no TCP connection to {HOST} within {deadline:?}"
            ));
        }
        server.take_newer().await;
        if tokio::time::Instant::now() >= resend_at {
            let p = tagged(n, sent.len() + 1, body);
            timeline.mqtt(
                "check-driver",
                format!(
                    "server sends {} bytes: {}",
                    p.len(),
                    crate::device::show(&p[..p.len().min(40)])
                ),
            );
            if let Some(c) = server.conn.as_mut() {
                if c.write_all(&p).await.is_err() {
                    server.conn = None;
                    continue;
                }
            }
            sent.push(p);
            resend_at = tokio::time::Instant::now() + Duration::from_secs(1 << sent.len().min(3));
        }
        if let Some(p) = sent.iter().find(|p| find(&server.got, p).is_some()) {
            timeline.mqtt(
                "check-driver",
                format!("server received its {} bytes back", p.len()),
            );
            server.got.clear();
            return Ok(());
        }
        // Bytes that match no payload sent on this connection: the driver changed them.
        let longest = sent.iter().map(Vec::len).max().unwrap_or(0);
        if server.got.len() > 2 * longest * sent.len().max(1) + 64 {
            return Err(format!(
                "the echo differs from every payload sent: sent {}, got {}",
                crate::device::show(&sent[0][..sent[0].len().min(48)]),
                crate::device::show(&server.got[..server.got.len().min(48)])
            ));
        }
        if tokio::time::Instant::now() >= until {
            return Err(format!(
                "no echo within {deadline:?} ({} sends; {} bytes came back: {})",
                sent.len(),
                server.got.len(),
                crate::device::show(&server.got[..server.got.len().min(48)])
            ));
        }
        let step = resend_at.min(until);
        if !server.read(step).await {
            timeline.note("the driver's TCP connection ended");
        }
    }
}

/// What a TCP check runs on: the simulator, the driver under test, and the checker's server.
struct TcpBench {
    dut: Dut,
    server: Server,
}

impl TcpBench {
    async fn start(opts: &CheckOptions) -> Result<TcpBench> {
        opts.driver()?; // no driver command: said before anything starts
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the checker's TCP server")?;
        let port = listener.local_addr()?.port();
        let sim = Simulator::start(SimConfig {
            dialect: opts.dialect,
            resolve: vec![(
                HOST.to_string(),
                HostPort {
                    host: "127.0.0.1".into(),
                    port,
                },
            )],
            timing: opts.timing.clone(),
            seed: opts.seed,
            ..SimConfig::default()
        })
        .await
        .context("starting the simulator")?;
        let env = [
            ("MODEM_TCP_HOST", HOST.to_string()),
            ("MODEM_TCP_PORT", port.to_string()),
        ];
        let dut = Dut::spawn(opts, sim, &env, Stdio::null(), Stdio::inherit())?;
        let server = Server {
            listener,
            conn: None,
            got: Vec::new(),
        };
        Ok(TcpBench { dut, server })
    }

    /// Runs scenario `i`: its fault, the echo check, and what the report shows of it.
    async fn scenario(&mut self, opts: &CheckOptions, i: usize, sc: Scenario) -> Result<Outcome> {
        let started = Instant::now();
        let from = self.dut.tap.snapshot().len();
        let timeline = Transcript::new();
        if let Some(text) = sc.fault {
            let f: Fault = text.parse()?;
            timeline.fault(text);
            self.dut.sim.inject(f).await?;
        }
        let deadline = opts.deadline(sc.fault.is_some(), i == 0);
        let result = echo(&mut self.server, i + 1, &sc.body, deadline, &timeline).await;
        let (passed, detail) = verdict(result, &mut self.dut.driver);
        let records = self.dut.tap.snapshot();
        let transcript = if passed {
            String::new()
        } else {
            render(&records[from.min(records.len()).saturating_sub(6)..])
        };
        if !passed {
            timeline.failure(sc.name, None, None, detail.clone());
        }
        let first = records.partition_point(|r| r.at < started);
        timeline.add_uart_tap(&records[first.saturating_sub(6)..]);
        Ok(Outcome {
            name: sc.name,
            passed,
            took: started.elapsed(),
            detail,
            fault: sc.fault.map(str::to_string),
            transcript,
            stale: 0,
            timeline: timeline.events(),
            report: None,
        })
    }

    async fn stop(self) {
        self.dut.stop().await;
    }
}

/// Runs the driver through every TCP echo scenario. `Err` only when the check cannot start.
pub async fn check_tcp_driver(opts: &CheckOptions) -> Result<Vec<Outcome>> {
    let mut bench = TcpBench::start(opts).await?;
    let mut outcomes = Vec::new();
    for (i, sc) in scenarios().into_iter().enumerate() {
        let outcome = bench.scenario(opts, i, sc).await?;
        if !opts.keep(&mut outcomes, outcome) {
            break;
        }
    }
    bench.stop().await;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_differ_and_bodies_follow_unchanged() {
        let b = binary();
        assert_eq!(b.len(), 256 + 33);
        let a = tagged(2, 1, &b);
        assert!(a.starts_with(b"#2.1 ") && a.ends_with(&b));
        assert_ne!(tagged(2, 1, &b), tagged(2, 2, &b));
        assert_eq!(scenarios()[2].body.len(), 4096);
    }
}
