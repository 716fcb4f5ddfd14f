//! `modem-harness replay`: a log as the vendor guides print it, replayed against a module.
//!
//! The log format is the one parser's ([`crate::engine::log`]: `AT` lines sent, other lines
//! expected in order, `//` comments, `>` prompts and their payload, `//@` harness actions, see
//! [`Directive`]), and the matching the one executor's ([`crate::engine::exec`]), the same as
//! the features' doc strings get.
//!
//! The dialect is the target's ([`Target::dialect`], `--dialect`), not the log's: a log does not
//! say which module printed it. `harness/tests/replay.rs` replays seed 002's blocks (the
//! Fibocom L610 guide, files named `002-*`) on the L610 and every other seed's on the Air780E.
//!
//! An expected line may hold `{}` for a value that differs per module and per moment (the
//! time, an address, an IMEI): it matches one or more characters within the line, the rest is
//! compared exactly ([`crate::pattern`], the matcher `run` and the features use too).
//!
//! Matching: each expected line must be the module's next line (blank lines and the echo of
//! commands skipped), except that unsolicited lines may arrive up to [`WINDOW`] expected lines
//! early or late; nothing else may come between: an extra line is a divergence.

use std::path::PathBuf;
use std::time::Duration;

use modem_sim::dialect::DialectKind;
use modem_sim::sim::Simulator;
use modem_sim::Fault;

use crate::engine::device::{show, Device, DeviceError, Eol, DEFAULT_TIMEOUT};
use crate::engine::exec::{expected_text, Actions, Executor, Miss, Stop};
use crate::engine::mqtt::MqttClient;
use crate::engine::rewrite::{client_id, rewrite, BrokerTarget};
use crate::engine::target::{self, Connection, Module, PortTarget, SimTarget};
use crate::transcript::Transcript;

pub use crate::engine::exec::WINDOW;
pub use crate::engine::log::{Directive, Entry, Line, Lines, Log, ParseError};

/// Where to replay.
#[derive(Debug, Clone)]
pub struct Target {
    /// An external device (a USB serial adapter, or a simulator's tty) and its baud rate;
    /// `None` starts a fresh in-process simulator.
    pub port: Option<(PathBuf, u32)>,
    pub dialect: DialectKind,
    /// The broker the module connects to. Host lines and credentials are rewritten to it
    /// ([`crate::rewrite`]). For the in-process simulator, `None` means its embedded broker.
    pub broker: Option<BrokerTarget>,
    /// How long to wait for each expected line.
    pub timeout: Duration,
    /// The in-process simulator's timing profile (`fast` by default: a replay checks what
    /// the module says; `--timing realistic` also how long it takes).
    pub timing: modem_sim::timing::Profile,
    /// Seeds the profile's jitter.
    pub seed: u64,
    /// The model and firmware (`--model`, `--firmware`): the in-process simulator's, and on a
    /// port the one whose power-on lines are waited for.
    pub model: crate::model::SimModel,
    /// The line end after each command line the host sends.
    pub eol: Eol,
}

impl Target {
    /// The one target ([`crate::engine::target`]) this replay runs on: a fresh simulator
    /// whose broker also accepts `accounts` (the log's own), or the device on `port`.
    pub fn target(&self, accounts: Vec<(String, String)>) -> target::Target {
        match &self.port {
            Some((port, baud)) => target::Target::Port(PortTarget {
                port: port.clone(),
                baud: *baud,
                dialect: self.dialect,
                model: self.model.clone(),
                broker: self.broker.clone(),
            }),
            None => target::Target::Simulator(SimTarget {
                model: self.model.clone(),
                timing: self.timing.clone(),
                seed: self.seed,
                accounts,
                broker: self.broker.clone(),
                ..SimTarget::new(self.dialect)
            }),
        }
    }
}

impl Default for Target {
    fn default() -> Self {
        Target {
            port: None,
            dialect: DialectKind::Air780e,
            broker: None,
            timeout: DEFAULT_TIMEOUT,
            timing: modem_sim::timing::Profile::fast(),
            seed: 1,
            model: crate::model::SimModel::default(),
            eol: Eol::default(),
        }
    }
}

/// The first point where the module did not do what the log says.
#[derive(Debug, Clone)]
pub struct Divergence {
    pub log: String,
    pub line: usize,
    pub expected: String,
    pub actual: String,
    /// Which field of the line differed ([`crate::pattern::differing_field`]), when the
    /// module printed a line.
    pub detail: Option<String>,
    pub log_context: String,
    /// The last lines of the UART transcript.
    pub transcript: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "first divergence at {}:{}", self.log, self.line)?;
        writeln!(f, "  expected: {}", self.expected)?;
        writeln!(f, "  actual:   {}", self.actual)?;
        if let Some(d) = &self.detail {
            writeln!(f, "  {d}")?;
        }
        writeln!(f, "the log around it:")?;
        write!(f, "{}", self.log_context)?;
        write!(f, "{}", self.transcript)
    }
}

/// The result of a replay that ran to a verdict.
#[derive(Debug)]
pub struct Report {
    pub divergence: Option<Divergence>,
    pub transcript: Transcript,
    /// Entries replayed (up to the divergence).
    pub replayed: usize,
    /// The HTML report written for this log (`--html`), named in the JUnit failure.
    pub html: Option<std::path::PathBuf>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.divergence.is_none()
    }
}

/// A replay that could not reach a verdict: the device could not be opened, the log needs a
/// broker nobody gave, ...
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("starting the simulator: {0}")]
    Sim(#[from] modem_sim::sim::SimError),
    #[error("{0}")]
    Needs(String),
    #[error("{0:#}")]
    Broker(anyhow::Error),
    #[error("{0}")]
    Model(String),
    /// The target could not be started or opened.
    #[error("{0:#}")]
    Target(anyhow::Error),
}

/// The replay's side of the executor: commands rewritten for `--broker` and shown as they go,
/// and the harness actions (`//@`).
struct Run<'a> {
    log: &'a dyn Steps,
    target: &'a Target,
    sim: Option<&'a Simulator>,
    client: Option<MqttClient>,
    modem_client_id: Option<String>,
    progress: &'a mut dyn FnMut(&str),
}

/// Replays `log` on `target`, its transcript kept in memory. `progress` gets one line per
/// command sent.
pub async fn replay(
    log: &Log,
    target: &Target,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, ReplayError> {
    replay_steps(log, target, Transcript::new(), progress).await
}

/// Replays `log` (a [`Log`] in memory, or a [`LogFile`] read as the run goes) on `target`,
/// recording into `transcript` (a file-backed one keeps nothing in memory): what
/// `modem-harness replay` runs, in memory that does not grow with the log.
pub async fn replay_steps(
    log: &dyn Steps,
    target: &Target,
    transcript: Transcript,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, ReplayError> {
    let prelude = log.prelude();
    let mut conn = target
        .target(prelude.accounts.clone())
        .open(&transcript, target.eol, target.timeout)
        .await
        .map_err(ReplayError::Target)?;
    let result = replay_on(log, &prelude, target, &mut conn, &transcript, progress).await;
    conn.shutdown().await;
    let (divergence, replayed) = result?;
    Ok(Report {
        html: None,
        divergence,
        transcript,
        replayed,
    })
}

async fn replay_on(
    log: &dyn Steps,
    prelude: &Prelude,
    target: &Target,
    conn: &mut Connection,
    transcript: &Transcript,
    progress: &mut dyn FnMut(&str),
) -> Result<(Option<Divergence>, usize), ReplayError> {
    transcript.note(format!(
        "replay {} on {}",
        log.name(),
        conn.device.path().display()
    ));
    // A log that begins with the module's own lines (its power-on lines) expects them; one
    // that begins with a command is sent once the boot is over, as a driver would.
    if prelude.starts_with_send {
        conn.boot(&target.model, target.timeout)
            .await
            .map_err(ReplayError::Target)?;
    }
    let Connection { device, module, .. } = conn;
    let mut run = Run {
        log,
        target,
        sim: match module {
            Module::Simulated { sim, .. } => Some(&*sim),
            Module::Port => None,
        },
        client: None,
        modem_client_id: None,
        progress,
    };
    // The entries were checked before the run ([`LogFile::scan`]); one that no longer parses
    // (the file changed meanwhile) ends them, and is caught by the count below.
    let outcome = Executor::new(log.entries().map_while(Result::ok), target.timeout)
        .run(device, &mut run)
        .await?;
    if outcome.stop.is_none() && outcome.done != log.len() {
        return Err(ReplayError::Needs(format!(
            "{}: the log changed while it was replayed ({} of its {} entries read): replay it again",
            log.name(),
            outcome.done,
            log.len()
        )));
    }
    let divergence = outcome.stop.map(|s| run.divergence(device, s));
    Ok((divergence, outcome.done))
}

impl Actions for Run<'_> {
    type Error = ReplayError;

    fn command(&mut self, line: &Line, cmd: &str) -> String {
        let cmd = match &self.target.broker {
            Some(b) => rewrite(cmd, b),
            None => cmd.to_string(),
        };
        if let Some(id) = client_id(&cmd) {
            self.modem_client_id = Some(id);
        }
        (self.progress)(&format!("{:>5}  {cmd}", line.no));
        cmd
    }

    async fn action(
        &mut self,
        device: &mut Device,
        line: &Line,
        d: &Directive,
    ) -> Result<Option<String>, ReplayError> {
        (self.progress)(&format!("{:>5}  //@ {d:?}", line.no));
        let t = self.target.timeout;
        let record = device.recording().clone();
        match d {
            Directive::Publish { topic, payload } => {
                record.mqtt("replay", format!("publish {topic:?} {:?}", show(payload)));
                self.client()
                    .await?
                    .publish(topic, rumqttc::QoS::AtMostOnce, false, payload.clone(), t)
                    .await
                    .map_err(ReplayError::Broker)?;
            }
            Directive::Subscribe { topic } => {
                record.mqtt("replay", format!("subscribe {topic:?}"));
                self.client()
                    .await?
                    .subscribe(topic, rumqttc::QoS::ExactlyOnce, t)
                    .await
                    .map_err(ReplayError::Broker)?;
            }
            Directive::Received { topic, payload } => {
                let r = self.client().await?.receive(topic, payload, t).await;
                match r {
                    Ok(_) => {
                        record.mqtt("replay", format!("received {topic:?} {:?}", show(payload)))
                    }
                    Err(e) => return Ok(Some(format!("{e:#}"))),
                }
            }
            Directive::Drop => {
                let id = self.modem_client_id.clone().ok_or_else(|| {
                    ReplayError::Needs(format!(
                        "{}: `//@ drop` before any AT+MCONFIG: which client should be dropped?",
                        self.log.name()
                    ))
                })?;
                let sim = self.sim("//@ drop")?;
                let kicked = sim.broker().is_some_and(|b| b.kick_client(&id));
                record.fault(format!("broker drops client {id}"));
                if !kicked {
                    return Ok(Some(format!("the broker has no client {id:?} to drop")));
                }
            }
            Directive::PdnDeact => {
                record.fault("network deactivates the PDP context");
                self.sim("//@ pdn-deact")?
                    .inject(Fault::PDN_DEACT)
                    .await
                    .map_err(|e| ReplayError::Needs(e.to_string()))?;
            }
            Directive::Fault(fault) => {
                record.fault(fault.to_string());
                self.sim("//@ fault")?
                    .inject(fault.clone())
                    .await
                    .map_err(|e| ReplayError::Needs(e.to_string()))?;
            }
            Directive::ConnectTimeout(dur) => {
                record.fault(format!("broker closes links without CONNECT after {dur:?}"));
                let sim = self.sim("//@ connect-timeout")?;
                let b = sim
                    .broker()
                    .ok_or_else(|| ReplayError::Needs("needs the embedded broker".into()))?;
                b.set_connect_timeout(Some(*dur));
            }
        }
        Ok(None)
    }
}

impl Run<'_> {
    /// The first point where the module did not do what the log says.
    fn divergence(&self, device: &Device, stop: Stop) -> Divergence {
        let (actual, detail) = match stop.miss {
            Miss::Mismatch { actual, detail } => (actual, detail),
            Miss::Timeout { said } => (
                format!("nothing within {:?} ({said})", self.target.timeout),
                None,
            ),
            Miss::Closed => ("the device closed (end of file)".into(), None),
            Miss::Action(actual) => (actual, None),
        };
        Divergence {
            log: self.log.name().to_string(),
            line: stop.line.no,
            expected: match &stop.line.entry {
                Entry::Directive(d) => format!("{d:?}"),
                e => expected_text(e),
            },
            actual,
            detail,
            log_context: self.log.around(stop.line.no),
            transcript: device.transcript(),
        }
    }

    fn sim(&self, what: &str) -> Result<&Simulator, ReplayError> {
        self.sim.ok_or_else(|| {
            ReplayError::Needs(format!(
                "{}: `{what}` needs the in-process simulator (replay without --port)",
                self.log.name()
            ))
        })
    }

    async fn client(&mut self) -> Result<&mut MqttClient, ReplayError> {
        if self.client.is_none() {
            let (user, password) = self.target.dialect.host_profile().account;
            let (addr, user, password) = match (&self.target.broker, self.sim) {
                (Some(b), _) => (
                    resolve(&b.addr).await?,
                    b.user.clone().unwrap_or_else(|| user.into()),
                    b.password.clone().unwrap_or_else(|| password.into()),
                ),
                (None, Some(sim)) => (
                    sim.mqtt_addr().ok_or_else(|| {
                        ReplayError::Needs("the simulator has no embedded broker".into())
                    })?,
                    user.to_string(),
                    password.to_string(),
                ),
                (None, None) => {
                    return Err(ReplayError::Needs(format!(
                        "{}: its broker-side actions (`//@ publish`, ...) need --broker",
                        self.log.name()
                    )))
                }
            };
            let id = format!("harness-replay-{}", std::process::id());
            let c = MqttClient::connect(&id, addr, &user, &password, self.target.timeout)
                .await
                .map_err(ReplayError::Broker)?;
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| ReplayError::Needs("no MQTT client".into()))
    }
}

/// A broker's address, resolved once.
pub async fn resolve(addr: &modem_sim::net::HostPort) -> Result<std::net::SocketAddr, ReplayError> {
    target::resolve(addr)
        .await
        .map_err(|e| ReplayError::Needs(e.to_string()))
}

pub mod stream;
pub mod timing;

pub use stream::{LogFile, LogFileError, Prelude, Steps};
