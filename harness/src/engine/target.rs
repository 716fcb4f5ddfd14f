//! THE target: where the module is, for the scenarios, `replay` and `check-driver` alike.
//!
//! - [`Target::Simulator`]: a fresh simulator started in this process (with the embedded
//!   broker, a Mosquitto started for it, or a broker named), reached over its tty;
//! - [`Target::Port`]: a device on a serial port or URL (a USB adapter on a real module, a
//!   simulator's tty, `socket://`, `rfc2217://`), and the broker it reaches.
//!
//! [`Target::open`] gives a [`Connection`]: the module's UART as a [`Device`], and the
//! simulator when it is one. What the module's dialect needs from a host (reset commands, its
//! default account) comes from its [`modem_sim::dialect::host::HostProfile`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use modem_sim::dialect::host::HostProfile;
use modem_sim::dialect::DialectKind;
use modem_sim::net::HostPort;
use modem_sim::sim::{SimConfig, Simulator};

use crate::engine::device::{Device, Eol, Item};
use crate::engine::model::{SimModel, BOOT_QUIET};
use crate::engine::mqtt::{Mosquitto, MosquittoTls};
use crate::engine::rewrite::BrokerTarget;
use crate::transcript::Transcript;

/// Where the module is.
#[derive(Debug, Clone)]
pub enum Target {
    Simulator(SimTarget),
    Port(PortTarget),
}

/// The TLS side of a simulator's broker (the scenarios' TLS steps fill it in).
#[derive(Debug, Clone, Default)]
pub struct TlsSetup {
    /// The broker's PKI; `None`: the committed test PKI (`certs/`).
    pub pki: Option<modem_sim::tls::pki::Pki>,
    /// Mutual TLS: the broker refuses clients without a certificate from its CA.
    pub require_client_cert: bool,
}

/// A simulator to start in this process.
#[derive(Debug, Clone)]
pub struct SimTarget {
    pub dialect: DialectKind,
    pub model: SimModel,
    pub timing: modem_sim::timing::Profile,
    /// Seeds the timing profile's jitter.
    pub seed: u64,
    /// Accounts its broker accepts besides the dialect's default one.
    pub accounts: Vec<(String, String)>,
    /// Its embedded broker also lets clients in without a user name.
    pub allow_anonymous: bool,
    /// Where its MQTT connections go instead of the embedded broker, and the account
    /// broker-side clients log in there with.
    pub broker: Option<BrokerTarget>,
    /// Start a Mosquitto (plain and TLS) and send its connections there.
    pub mosquitto: bool,
    pub tls: TlsSetup,
}

/// A device on a port.
#[derive(Debug, Clone)]
pub struct PortTarget {
    /// `/dev/ttyUSB0`, a simulator's `/dev/pts/N`, `socket://HOST:PORT`, `rfc2217://HOST:PORT`.
    pub port: PathBuf,
    pub baud: u32,
    pub dialect: DialectKind,
    /// The device's model (`--model`, `--firmware`): its power-on lines are the ones waited
    /// for. `None`s: the dialect's default.
    pub model: SimModel,
    /// The broker the device reaches: hosts and accounts are rewritten to it
    /// ([`crate::engine::rewrite`]).
    pub broker: Option<BrokerTarget>,
}

/// The module behind an open target. (One per open target: its size does not matter.)
#[allow(clippy::large_enum_variant)]
pub enum Module {
    /// The simulator this process started, and the Mosquitto its connections go to.
    Simulated {
        sim: Simulator,
        mosquitto: Option<Mosquitto>,
    },
    /// A device on a port.
    Port,
}

/// An open target: the module's UART, what is behind it, and the external broker it reaches
/// (`--broker`), if one was named.
pub struct Connection {
    pub device: Device,
    pub module: Module,
    pub dialect: DialectKind,
    pub broker: Option<BrokerTarget>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("device", &self.device)
            .field("sim", &self.sim().map(|s| s.tty().to_path_buf()))
            .finish()
    }
}

impl SimTarget {
    /// A simulator of `dialect`'s default model, answering at once (`fast` timing), with the
    /// embedded broker.
    pub fn new(dialect: DialectKind) -> Self {
        SimTarget {
            dialect,
            model: SimModel::default(),
            timing: modem_sim::timing::Profile::fast(),
            seed: 0,
            accounts: Vec::new(),
            allow_anonymous: false,
            broker: None,
            mosquitto: false,
            tls: TlsSetup::default(),
        }
    }

    /// The PKI of its broker's TLS listener: its own, or the committed one.
    pub fn pki(&self) -> modem_sim::tls::pki::Pki {
        self.tls
            .pki
            .clone()
            .unwrap_or_else(modem_sim::tls::pki::Pki::embedded)
    }

    /// The simulator's configuration (without a Mosquitto: [`SimTarget::start`] adds it).
    pub fn config(&self) -> Result<SimConfig> {
        let mut cfg = SimConfig {
            dialect: self.dialect,
            identity: self.model.identity(self.dialect).map_err(|e| anyhow!(e))?,
            timing: self.timing.clone(),
            seed: self.seed,
            ..SimConfig::default()
        };
        cfg.accounts.extend(self.accounts.iter().cloned());
        cfg.allow_anonymous = self.allow_anonymous;
        cfg.broker = self.broker.as_ref().map(|b| b.addr.clone());
        if let Some(pki) = &self.tls.pki {
            cfg.tls_server.cert_pem = pki.server_cert.clone();
            cfg.tls_server.key_pem = pki.server_key.clone();
            cfg.tls_server.ca_pem = pki.ca_cert.clone();
            cfg.tls_server.ca_path = None;
        }
        cfg.tls_server.require_client_cert = self.tls.require_client_cert;
        Ok(cfg)
    }

    /// Starts it (its Mosquitto first, when it has one).
    pub async fn start(&self, timeout: Duration) -> Result<(Simulator, Option<Mosquitto>)> {
        let mut cfg = self.config()?;
        let mut mosquitto = None;
        if self.mosquitto {
            let (user, password) = self.dialect.host_profile().account;
            let mut accounts = vec![(user.to_string(), password.to_string())];
            accounts.extend(self.accounts.iter().cloned());
            let pki = self.pki();
            let tls = MosquittoTls {
                ca_pem: pki.ca_cert,
                cert_pem: pki.server_cert,
                key_pem: pki.server_key,
                require_client_cert: self.tls.require_client_cert,
            };
            let m = Mosquitto::start_with(&accounts, timeout, Some(&tls)).await?;
            cfg.broker = Some(host_port(m.addr));
            cfg.tls_broker = m.tls_addr.map(host_port);
            mosquitto = Some(m);
        }
        let sim = Simulator::start(cfg)
            .await
            .context("starting the simulator")?;
        Ok((sim, mosquitto))
    }
}

fn host_port(a: SocketAddr) -> HostPort {
    HostPort {
        host: a.ip().to_string(),
        port: a.port(),
    }
}

impl Target {
    pub fn dialect(&self) -> DialectKind {
        match self {
            Target::Simulator(s) => s.dialect,
            Target::Port(p) => p.dialect,
        }
    }

    pub fn model(&self) -> &SimModel {
        match self {
            Target::Simulator(s) => &s.model,
            Target::Port(p) => &p.model,
        }
    }

    /// The external broker the module reaches, if one was named.
    pub fn broker(&self) -> Option<&BrokerTarget> {
        match self {
            Target::Simulator(s) => s.broker.as_ref(),
            Target::Port(p) => p.broker.as_ref(),
        }
    }

    /// How a host drives its dialect.
    pub fn profile(&self) -> &'static HostProfile {
        self.dialect().host_profile()
    }

    /// Starts the simulator (or not, on a port) and opens the module's UART, recording into
    /// `transcript`, sending `eol` after each command line.
    pub async fn open(
        &self,
        transcript: &Transcript,
        eol: Eol,
        timeout: Duration,
    ) -> Result<Connection> {
        let (device, module) = match self {
            Target::Simulator(s) => {
                let (sim, mosquitto) = s.start(timeout).await?;
                let device = Device::open(sim.tty(), 115_200)?;
                (device, Module::Simulated { sim, mosquitto })
            }
            Target::Port(p) => {
                let device = Device::open(&p.port, p.baud)
                    .with_context(|| format!("opening the device on {}", p.port.display()))?;
                (device, Module::Port)
            }
        };
        Ok(Connection {
            device: device.with_transcript(transcript.clone()).with_eol(eol),
            module,
            dialect: self.dialect(),
            broker: self.broker().cloned(),
        })
    }
}

impl Connection {
    /// The simulator, when the target is one.
    pub fn sim(&self) -> Option<&Simulator> {
        match &self.module {
            Module::Simulated { sim, .. } => Some(sim),
            Module::Port => None,
        }
    }

    /// Waits for the module's power-on lines (up to `model`'s last one) and synchronises the
    /// line (`AT` until `OK`), as a driver does before its first command. A device on a port
    /// that stays quiet ([`BOOT_QUIET`]) is taken as already on; the simulator always boots.
    pub async fn boot(&mut self, model: &SimModel, timeout: Duration) -> Result<()> {
        let last = model.boot_end(self.dialect).map_err(|e| anyhow!(e))?;
        let quiet = matches!(self.module, Module::Port).then_some(BOOT_QUIET);
        self.device.wait_boot(&last, quiet, timeout).await?;
        self.device.sync(timeout).await?;
        Ok(())
    }

    /// Takes the module offline whatever its state, with its dialect's reset commands (any
    /// final answer will do: OK, ERROR, `+CME ERROR: 767` when already offline), then
    /// synchronises the line.
    pub async fn reset(&mut self, timeout: Duration) -> Result<()> {
        for cmd in self.dialect.host_profile().reset {
            self.device.send_line(cmd).await?;
            let deadline = tokio::time::Instant::now() + timeout;
            while let Some(item) = self.device.next_answer(deadline).await? {
                if let Item::Line(l) = item {
                    let l = String::from_utf8_lossy(&l);
                    if l == "OK" || l.contains("ERROR") {
                        break;
                    }
                }
            }
        }
        self.device.sync(timeout).await?;
        Ok(())
    }

    /// Where the module's MQTT connections end up, for broker-side clients: the Mosquitto
    /// started for the simulator, the external broker (resolved), or the simulator's
    /// embedded broker.
    pub async fn broker_addr(&self) -> Result<SocketAddr> {
        if let Module::Simulated {
            mosquitto: Some(m), ..
        } = &self.module
        {
            return Ok(m.addr);
        }
        if let Some(b) = &self.broker {
            return resolve(&b.addr).await;
        }
        match &self.module {
            Module::Simulated { sim, .. } => sim
                .mqtt_addr()
                .ok_or_else(|| anyhow!("the simulator has no embedded broker")),
            Module::Port => Err(anyhow!("no broker given (--broker)")),
        }
    }

    /// Stops the simulator, then its Mosquitto.
    pub async fn shutdown(self) {
        drop(self.device);
        if let Module::Simulated { sim, mosquitto } = self.module {
            sim.shutdown().await;
            drop(mosquitto);
        }
    }
}

/// A broker's address, resolved.
pub async fn resolve(addr: &HostPort) -> Result<SocketAddr> {
    tokio::net::lookup_host((addr.host.as_str(), addr.port))
        .await
        .map_err(|e| anyhow!("cannot resolve the broker {}:{}: {e}", addr.host, addr.port))?
        .next()
        .ok_or_else(|| anyhow!("the broker {}:{} has no address", addr.host, addr.port))
}
