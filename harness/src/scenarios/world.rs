//! The cucumber world: one simulated module per scenario (or, in device mode, the external
//! device on `--port`), the host's view of its UART, and the broker-side clients.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use modem_sim::dialect::host::{DefaultClientId, SocketProfile};
use modem_sim::dialect::DialectKind;
use modem_sim::sim::Simulator;

use crate::engine::device::{Device, Eol, DEFAULT_TIMEOUT};
use crate::engine::exec::{Actions, Executor};
use crate::engine::log::{Directive, Line, Log};
use crate::engine::mqtt::MqttClient;
use crate::engine::rewrite::{client_id, rewrite};
use crate::engine::target::{Connection, PortTarget, SimTarget, Target};
use crate::transcript::Transcript;

pub use crate::engine::target::TlsSetup;

/// Device mode (`modem-harness run`): an external device on a serial port, and the broker it
/// connects to. Scenarios tagged `@model-<name>` for another model than its `model` are left
/// out.
pub type Hardware = PortTarget;

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
    /// The open target: the module's UART and the simulator behind it (or the device).
    pub conn: Option<Connection>,
    pub clients: HashMap<String, MqttClient>,
    /// The client id the broker knows the modem by: the last one a command named
    /// (`AT+MCONFIG`, `AT+MQTTUSER`), else the dialect's default (the IMEI).
    pub modem_client_id: Option<String>,
    pub timeout: Duration,
    /// The line end the host sends (`--eol`); set by the runner's `before` hook.
    pub eol: Eol,
    /// Device mode: set by the runner's `before` hook.
    pub hardware: Option<Hardware>,
    /// The simulated model and firmware (`features --model/--firmware`, or a scenario's
    /// `Given the module is ...` step).
    pub model: crate::model::SimModel,
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
    /// Data the module printed for its sockets, not yet checked (`steps/sockets.rs`).
    pub sockets: crate::steps::sockets::SocketRx,
}

impl std::fmt::Debug for ModemWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemWorld")
            .field("conn", &self.conn)
            .field("clients", &self.clients.keys().collect::<Vec<_>>())
            .field("modem_client_id", &self.modem_client_id)
            .field("hardware", &self.hardware)
            .finish()
    }
}

impl ModemWorld {
    pub fn new() -> Self {
        ModemWorld {
            conn: None,
            clients: HashMap::new(),
            modem_client_id: None,
            timeout: DEFAULT_TIMEOUT,
            eol: Eol::default(),
            tls: TlsSetup::default(),
            payload: Vec::new(),
            hardware: None,
            model: crate::model::SimModel::default(),
            source: None,
            transcript: Transcript::new(),
            allow_anonymous: false,
            sockets: Default::default(),
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
        let target = Target::Simulator(SimTarget {
            accounts: extra_accounts,
            allow_anonymous: self.allow_anonymous,
            mosquitto: mosquitto
                || std::env::var_os("MODEM_HARNESS_MOSQUITTO").is_some_and(|v| v == "1"),
            tls: self.tls.clone(),
            model: self.model.clone(),
            ..SimTarget::new(dialect)
        });
        let mut conn = target
            .open(&self.transcript, self.eol, self.timeout)
            .await?;
        if sync {
            // Starting the simulator powered it on: its lines are waited for, then the line is
            // synchronised, as a driver does before its first command.
            conn.boot(&self.model, self.timeout).await?;
        }
        // The client id until a command names one, as the dialect's profile says (the IMEI:
        // the L610's until `AT+MQTTUSER`, sim/src/dialect/l610/mqtt.rs; the Air780E's
        // without `AT+MCONFIG`, DIVERGENCES A25).
        let identity = self.model.identity(dialect).map_err(|e| anyhow!(e))?;
        self.modem_client_id = Some(match dialect.host_profile().default_client_id {
            DefaultClientId::Imei => identity.imei,
        });
        conn.device.set_frames(dialect.host_profile().sockets.data);
        self.conn = Some(conn);
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
        let mut hw = self
            .hardware
            .clone()
            .ok_or_else(|| anyhow!("not in device mode"))?;
        let shown = hw.port.display().to_string();
        // The scenario's model (its `@model-` tag) is the one whose power-on lines come.
        hw.model = self.model.clone();
        let target = Target::Port(hw);
        let mut conn = target
            .open(&self.transcript, self.eol, self.timeout)
            .await
            .with_context(|| format!("opening the device on {shown}"))?;
        conn.broker_addr().await?;
        // A module powered on as the port opened prints its lines first; one already on says
        // nothing (crate::model::BOOT_QUIET).
        conn.boot(&self.model, self.timeout)
            .await
            .with_context(|| format!("the device on {shown} did not answer AT with OK"))?;
        self.transcript
            .note("reset: the module is taken offline before the scenario");
        conn.reset(self.timeout).await?;
        self.transcript.note("scenario starts");
        conn.device
            .set_frames(conn.dialect.host_profile().sockets.data);
        self.conn = Some(conn);
        Ok(())
    }

    /// The account broker-side clients log in with: `--mqtt-user`/`--mqtt-password` in device
    /// mode, else the dialect's default one.
    pub fn broker_credentials(&self) -> (String, String) {
        if let Some(Hardware {
            broker:
                Some(crate::rewrite::BrokerTarget {
                    user: Some(u),
                    password: Some(p),
                    ..
                }),
            ..
        }) = &self.hardware
        {
            return (u.clone(), p.clone());
        }
        let dialect = self.conn.as_ref().map(|c| c.dialect).unwrap_or_default();
        let (u, p) = dialect.host_profile().account;
        (u.to_string(), p.to_string())
    }

    pub fn sim(&self) -> Result<&Simulator> {
        if self.hardware.is_some() {
            return Err(anyhow!(
                "this step needs the simulator (fault injection or the embedded broker's hooks): tag the scenario @sim"
            ));
        }
        self.conn
            .as_ref()
            .and_then(Connection::sim)
            .ok_or_else(|| anyhow!("no simulator: start with `Given a simulated Air780E`"))
    }

    pub fn device(&mut self) -> Result<&mut Device> {
        self.conn
            .as_mut()
            .map(|c| &mut c.device)
            .ok_or_else(|| anyhow!("no device: start with `Given a simulated Air780E`"))
    }

    /// How the module's raw sockets are driven (its dialect's profile).
    pub fn socket_profile(&self) -> Result<&'static SocketProfile> {
        self.conn
            .as_ref()
            .map(|c| &c.dialect.host_profile().sockets)
            .ok_or_else(|| anyhow!("no device: start with `Given a simulated Air780E`"))
    }

    pub fn client(&mut self, name: &str) -> Result<&mut MqttClient> {
        self.clients.get_mut(name).ok_or_else(|| {
            anyhow!("no MQTT client named {name:?}: add `Given an MQTT client {name:?}`")
        })
    }

    /// Where the modem's MQTT connections end up, for broker-side clients.
    pub async fn broker_addr(&self) -> Result<SocketAddr> {
        match &self.conn {
            Some(c) => c.broker_addr().await,
            None => Err(anyhow!(
                "no simulator: start with `Given a simulated Air780E`"
            )),
        }
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
        let line = match self.hardware.as_ref().and_then(|hw| hw.broker.as_ref()) {
            Some(b) => rewrite(cmd, b),
            None => cmd.to_string(),
        };
        if let Some(id) = client_id(&line) {
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
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| anyhow!("no device: start with `Given a simulated Air780E`"))?;
        let timeout = self.timeout;
        let outcome = Executor::new(lines, timeout)
            .run(&mut conn.device, self)
            .await;
        let result = match outcome {
            Ok(o) => match o.stop {
                None => Ok(()),
                Some(stop) => Err(stop.into_device_error(&conn.device, timeout).into()),
            },
            Err(e) => Err(e),
        };
        self.conn = Some(conn);
        result
    }

    /// Stops everything in order: clients, the simulator, then Mosquitto.
    pub async fn shutdown(&mut self) {
        self.clients.clear();
        if let Some(conn) = self.conn.take() {
            conn.shutdown().await;
        }
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
