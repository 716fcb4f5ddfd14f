//! The cucumber world: one simulated module per scenario (or, in device mode, the external
//! device on `--port`), the host's view of its UART, and the broker-side clients.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use modem_sim::dialect::DialectKind;
use modem_sim::net::HostPort;
use modem_sim::sim::{SimConfig, Simulator};

use crate::device::{Device, Eol, DEFAULT_TIMEOUT};
use crate::engine::exec::{Actions, Executor};
use crate::engine::log::{Directive, Line, Log};
use crate::mqtt::{Mosquitto, MqttClient};
use crate::rewrite::{rewrite, BrokerTarget};
use crate::transcript::Transcript;

/// The account of the vendor's test server (seed 000 section 4.3), which broker-side clients
/// use unless a step names another.
pub const ROOT: (&str, &str) = ("root", "luat123456");

/// Device mode (`modem-harness run`): an external device on a serial port, and the broker it
/// connects to.
#[derive(Debug, Clone)]
pub struct Hardware {
    pub port: PathBuf,
    pub baud: u32,
    pub dialect: DialectKind,
    /// The device's model (`run --model`); `None`: the dialect's default. Scenarios tagged
    /// `@model-<name>` for another model are left out.
    pub model: Option<String>,
    pub broker: BrokerTarget,
}

/// Where the running scenario comes from, for divergence reports.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSource {
    pub feature: String,
    pub line: usize,
    pub name: String,
    /// Feature, rule and scenario tags, without `@`.
    pub tags: Vec<String>,
}

#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct ModemWorld {
    pub sim: Option<Simulator>,
    pub device: Option<Device>,
    pub clients: HashMap<String, MqttClient>,
    pub mosquitto: Option<Mosquitto>,
    /// The client id of the last `AT+MCONFIG` the host sent: the id the broker knows the
    /// modem by.
    pub modem_client_id: Option<String>,
    pub timeout: Duration,
    /// The line end the host sends (`--eol`); set by the runner's `before` hook.
    pub eol: Eol,
    /// Device mode: set by the runner's `before` hook.
    pub hardware: Option<Hardware>,
    /// The simulated model and firmware (`features --model/--firmware`, or a scenario's
    /// `Given the module is ...` step).
    pub model: crate::model::SimModel,
    /// The external broker's address, resolved when the device is opened.
    hw_broker: Option<SocketAddr>,
    pub source: Option<ScenarioSource>,
    /// Both directions of the UART, MQTT events and faults of this scenario.
    pub transcript: Transcript,
    /// How the broker's TLS side is set up; read by [`ModemWorld::start`].
    pub tls: TlsSetup,
    /// The last random payload a step made (`steps/payload.rs`), for the steps that check it.
    pub payload: Vec<u8>,
    /// The embedded broker also lets clients in without a user name; read by
    /// [`ModemWorld::start`].
    pub allow_anonymous: bool,
}

/// The TLS side of the broker a scenario starts (steps in `steps/tls.rs` fill it in).
#[derive(Debug, Clone, Default)]
pub struct TlsSetup {
    /// The broker's PKI; `None`: the committed test PKI (`certs/`).
    pub pki: Option<modem_sim::tls::pki::Pki>,
    /// Mutual TLS: the broker refuses clients without a certificate from its CA.
    pub require_client_cert: bool,
}

impl std::fmt::Debug for ModemWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemWorld")
            .field("tty", &self.sim.as_ref().map(|s| s.tty().to_path_buf()))
            .field("device", &self.device)
            .field("clients", &self.clients.keys().collect::<Vec<_>>())
            .field("mosquitto", &self.mosquitto)
            .field("modem_client_id", &self.modem_client_id)
            .field("hardware", &self.hardware)
            .finish()
    }
}

impl ModemWorld {
    pub fn new() -> Self {
        ModemWorld {
            sim: None,
            device: None,
            clients: HashMap::new(),
            mosquitto: None,
            modem_client_id: None,
            timeout: DEFAULT_TIMEOUT,
            eol: Eol::default(),
            tls: TlsSetup::default(),
            payload: Vec::new(),
            hardware: None,
            model: crate::model::SimModel::default(),
            hw_broker: None,
            source: None,
            transcript: Transcript::new(),
            allow_anonymous: false,
        }
    }

    /// Starts the simulator (with the embedded broker, or routed to a Mosquitto started here)
    /// and opens its UART.
    /// `MODEM_HARNESS_MOSQUITTO=1` runs every scenario against Mosquitto (scenarios that need
    /// the embedded broker's fault hooks then fail).
    pub async fn start(
        &mut self,
        mosquitto: bool,
        extra_accounts: Vec<(String, String)>,
    ) -> Result<()> {
        self.start_as(DialectKind::Air780e, mosquitto, extra_accounts, true)
            .await
    }

    /// Like [`ModemWorld::start`], for any module family. With `sync` the line is brought to a
    /// known state first (`AT` ... `OK`, which also drains boot URCs such as the L610's
    /// `AT command ready`); without it the scenario sees everything the module printed since
    /// power-on.
    pub async fn start_as(
        &mut self,
        dialect: DialectKind,
        mosquitto: bool,
        extra_accounts: Vec<(String, String)>,
        sync: bool,
    ) -> Result<()> {
        if self.hardware.is_some() {
            // The external broker has its own accounts: the scenario's credentials are
            // rewritten to --mqtt-user / --mqtt-password (crate::rewrite).
            return self.open_hardware().await;
        }
        let mosquitto =
            mosquitto || std::env::var_os("MODEM_HARNESS_MOSQUITTO").is_some_and(|v| v == "1");
        let mut cfg = SimConfig {
            dialect,
            identity: self.model.identity(dialect).map_err(|e| anyhow!(e))?,
            ..SimConfig::default()
        };
        cfg.accounts.extend(extra_accounts.iter().cloned());
        cfg.allow_anonymous = self.allow_anonymous;
        if mosquitto {
            let mut accounts = vec![(ROOT.0.to_string(), ROOT.1.to_string())];
            accounts.extend(extra_accounts);
            let pki = self.broker_pki();
            let tls = crate::mqtt::MosquittoTls {
                ca_pem: pki.ca_cert,
                cert_pem: pki.server_cert,
                key_pem: pki.server_key,
                require_client_cert: self.tls.require_client_cert,
            };
            let m = Mosquitto::start_with(&accounts, self.timeout, Some(&tls)).await?;
            cfg.broker = Some(HostPort {
                host: m.addr.ip().to_string(),
                port: m.addr.port(),
            });
            cfg.tls_broker = m.tls_addr.map(|a| HostPort {
                host: a.ip().to_string(),
                port: a.port(),
            });
            self.mosquitto = Some(m);
        }
        if let Some(pki) = &self.tls.pki {
            cfg.tls_server.cert_pem = pki.server_cert.clone();
            cfg.tls_server.key_pem = pki.server_key.clone();
            cfg.tls_server.ca_pem = pki.ca_cert.clone();
            cfg.tls_server.ca_path = None;
        }
        cfg.tls_server.require_client_cert = self.tls.require_client_cert;
        let sim = Simulator::start(cfg)
            .await
            .context("starting the simulator")?;
        let mut device = Device::open(sim.tty(), 115_200)?
            .with_transcript(self.transcript.clone())
            .with_eol(self.eol);
        if sync {
            // Starting the simulator powered it on: its lines are waited for, then the line is
            // synchronised, as a driver does before its first command.
            let last = self.model.boot_end(dialect).map_err(|e| anyhow!(e))?;
            device.wait_boot(&last, None, self.timeout).await?;
            device.sync(self.timeout).await?;
        }
        if dialect == DialectKind::L610 {
            // The L610's client id until an `AT+MQTTUSER` names one: the IMEI (mqtt manual
            // transcription, see sim/src/dialect/l610/mqtt.rs).
            self.modem_client_id = Some(modem_sim::modem::Identity::default().imei);
        }
        self.sim = Some(sim);
        self.device = Some(device);
        Ok(())
    }

    /// The PKI of the broker's TLS listener: the scenario's own, or the committed one.
    pub fn broker_pki(&self) -> modem_sim::tls::pki::Pki {
        self.tls
            .pki
            .clone()
            .unwrap_or_else(modem_sim::tls::pki::Pki::embedded)
    }

    /// Device mode: opens the port, brings the line to a known state and puts the module back
    /// offline (an earlier scenario, or an earlier run, may have left it connected).
    async fn open_hardware(&mut self) -> Result<()> {
        let hw = self
            .hardware
            .clone()
            .ok_or_else(|| anyhow!("not in device mode"))?;
        let addr = crate::replay::resolve(&hw.broker.addr).await?;
        self.hw_broker = Some(addr);
        let mut device = Device::open(&hw.port, hw.baud)
            .with_context(|| format!("opening the device on {}", hw.port.display()))?
            .with_transcript(self.transcript.clone())
            .with_eol(self.eol);
        // A module powered on as the port opened prints its lines first; one already on says
        // nothing (crate::model::BOOT_QUIET).
        let last = self.model.boot_end(hw.dialect).map_err(|e| anyhow!(e))?;
        device
            .wait_boot(&last, Some(crate::model::BOOT_QUIET), self.timeout)
            .await?;
        device.sync(self.timeout).await.with_context(|| {
            format!(
                "the device on {} did not answer AT with OK",
                hw.port.display()
            )
        })?;
        self.transcript
            .note("reset: the module is taken offline before the scenario");
        for cmd in reset_commands(hw.dialect) {
            device.send_line(cmd).await?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            // Any final answer will do (OK, ERROR, +CME ERROR: 767 when already offline).
            while let Some(item) = device.next_answer(deadline).await? {
                if let crate::device::Item::Line(l) = item {
                    let l = String::from_utf8_lossy(&l);
                    if l == "OK" || l.contains("ERROR") {
                        break;
                    }
                }
            }
        }
        device.sync(self.timeout).await?;
        self.transcript.note("scenario starts");
        self.device = Some(device);
        Ok(())
    }

    /// The account broker-side clients log in with.
    pub fn broker_credentials(&self) -> (String, String) {
        match &self.hardware {
            Some(Hardware {
                broker:
                    BrokerTarget {
                        user: Some(u),
                        password: Some(p),
                        ..
                    },
                ..
            }) => (u.clone(), p.clone()),
            _ => (ROOT.0.to_string(), ROOT.1.to_string()),
        }
    }

    pub fn sim(&self) -> Result<&Simulator> {
        if self.hardware.is_some() {
            return Err(anyhow!(
                "this step needs the simulator (fault injection or the embedded broker's hooks): tag the scenario @sim"
            ));
        }
        self.sim
            .as_ref()
            .ok_or_else(|| anyhow!("no simulator: start with `Given a simulated Air780E`"))
    }

    pub fn device(&mut self) -> Result<&mut Device> {
        self.device
            .as_mut()
            .ok_or_else(|| anyhow!("no device: start with `Given a simulated Air780E`"))
    }

    pub fn client(&mut self, name: &str) -> Result<&mut MqttClient> {
        self.clients.get_mut(name).ok_or_else(|| {
            anyhow!("no MQTT client named {name:?}: add `Given an MQTT client {name:?}`")
        })
    }

    /// Where the modem's MQTT connections end up, for broker-side clients.
    pub fn broker_addr(&self) -> Result<SocketAddr> {
        if let Some(a) = self.hw_broker {
            return Ok(a);
        }
        if let Some(m) = &self.mosquitto {
            return Ok(m.addr);
        }
        self.sim()?
            .mqtt_addr()
            .ok_or_else(|| anyhow!("the simulator has no embedded broker"))
    }

    /// Sends one command line (rewritten in device mode), remembering the client id of an
    /// `AT+MCONFIG` / `AT+MQTTUSER`.
    pub async fn send_command(&mut self, line: &str) -> Result<()> {
        let line = self.host_line(line);
        self.device()?.send_line(&line).await?;
        Ok(())
    }

    /// The line sent for `cmd`: rewritten in device mode; the client id of an `AT+MCONFIG` /
    /// `AT+MQTTUSER` remembered.
    fn host_line(&mut self, cmd: &str) -> String {
        let line = match &self.hardware {
            Some(hw) => rewrite(cmd, &hw.broker),
            None => cmd.to_string(),
        };
        if let Some(id) = mconfig_client_id(&line).or_else(|| mqttuser_client_id(&line)) {
            self.modem_client_id = Some(id);
        }
        line
    }

    pub async fn expect(&mut self, line: &str) -> Result<()> {
        let t = self.timeout;
        self.device()?.expect_line(line, t).await?;
        Ok(())
    }

    /// Runs a log excerpt (a step's doc string) with the one executor: each host line is sent,
    /// each module line awaited in order (URCs within the executor's window).
    pub async fn run_log(&mut self, text: &str) -> Result<()> {
        let log = Log::parse("the doc string", text)?;
        self.run_lines(log.lines).await
    }

    /// Runs parsed lines against the device.
    pub async fn run_lines(&mut self, lines: Vec<Line>) -> Result<()> {
        let mut device = self
            .device
            .take()
            .ok_or_else(|| anyhow!("no device: start with `Given a simulated Air780E`"))?;
        let timeout = self.timeout;
        let outcome = Executor::new(lines, timeout).run(&mut device, self).await;
        let result = match outcome {
            Ok(o) => match o.stop {
                None => Ok(()),
                Some(stop) => Err(stop.into_device_error(&device, timeout).into()),
            },
            Err(e) => Err(e),
        };
        self.device = Some(device);
        result
    }

    /// Stops everything in order: clients, the simulator, then Mosquitto.
    pub async fn shutdown(&mut self) {
        self.clients.clear();
        self.device = None;
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
        self.mosquitto = None;
    }
}

impl Default for ModemWorld {
    fn default() -> Self {
        Self::new()
    }
}

/// The scenarios' side of the executor: commands rewritten in device mode, the modem's client
/// id remembered. Harness actions (`//@`) are the replay's; a feature has steps for them.
impl Actions for ModemWorld {
    type Error = anyhow::Error;

    fn command(&mut self, _line: &Line, cmd: &str) -> String {
        self.host_line(cmd)
    }

    async fn action(
        &mut self,
        _: &mut Device,
        line: &Line,
        d: &Directive,
    ) -> Result<Option<String>> {
        Err(anyhow!(
            "line {}: `{d:?}` is a replay log's harness action; in a feature, use its step",
            line.no
        ))
    }
}

/// Commands that take a module offline whatever its state; their answers are not checked.
fn reset_commands(dialect: DialectKind) -> &'static [&'static str] {
    match dialect {
        // seed 000 section 6.2 closes with these two; MQTTMSGSET=0 undoes a cache-mode
        // scenario (seed 001).
        DialectKind::Air780e => &["AT+MDISCONNECT", "AT+MIPCLOSE", "AT+MQTTMSGSET=0"],
        // seed 002: AT+MQTTCLOSE=1 closes the MQTT connection.
        #[allow(unreachable_patterns)]
        _ => &["AT+MQTTCLOSE=1"],
    }
}

/// The client id in `AT+MCONFIG=<clientid>,...`, quoted or not (split by the simulator's own
/// splitter, so a quoted id keeps its commas).
pub fn mconfig_client_id(line: &str) -> Option<String> {
    let cmd = modem_sim::at::parse_line(line.as_bytes()).ok()?;
    match (cmd.name.as_str(), cmd.form) {
        ("+MCONFIG", modem_sim::at::Form::Set(raw)) => modem_sim::at::split_args(&raw)
            .ok()?
            .first()
            .map(|a| a.text()),
        _ => None,
    }
}

/// The client id string of an L610 `AT+MQTTUSER=<id>,<user>,<pwd>,<client id>`, if given.
pub fn mqttuser_client_id(line: &str) -> Option<String> {
    let cmd = modem_sim::at::parse_line(line.as_bytes()).ok()?;
    match (cmd.name.as_str(), cmd.form) {
        ("+MQTTUSER", modem_sim::at::Form::Set(raw)) => modem_sim::at::split_args(&raw)
            .ok()?
            .get(3)
            .map(|a| a.text()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_of_mconfig() {
        assert_eq!(
            mconfig_client_id("AT+MCONFIG=868488076771714,root,luat123456").as_deref(),
            Some("868488076771714")
        );
        assert_eq!(
            mconfig_client_id("at+mconfig=\"866289037465624\",\"user\",\"password\"").as_deref(),
            Some("866289037465624")
        );
        assert_eq!(
            mconfig_client_id("AT+MCONFIG=thingscloud,a,b").as_deref(),
            Some("thingscloud")
        );
        assert_eq!(mconfig_client_id("AT+MCONNECT=1,60"), None);
        assert_eq!(
            mconfig_client_id("AT+MCONFIG=\"a1|securemode=3,signmethod=hmacsha1|\",u,p").as_deref(),
            Some("a1|securemode=3,signmethod=hmacsha1|")
        );
        assert_eq!(
            mqttuser_client_id("AT+MQTTUSER=1,\"u\",\"p\",\"dev-7\"").as_deref(),
            Some("dev-7")
        );
        assert_eq!(mqttuser_client_id("AT+MQTTUSER=1,\"u\",\"p\""), None);
    }
}
