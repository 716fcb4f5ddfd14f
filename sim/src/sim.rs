//! A whole simulated module: UART, engine, network links and (by default) an embedded broker,
//! started and stopped as one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

mod task;

use crate::broker::{Broker, BrokerConfig};
use crate::dialect::{self, DialectKind, Engine};
use crate::fault::{Fault, Request};
use crate::modem::Identity;
use crate::net::{HostPort, Router};
use crate::services::http::HttpServer;
use crate::uart::{Line, LineSettings, Serial, Uart, UartError, UartIo};
use task::ModemTask;

pub use crate::fault::inject::{InjectError, Injector};
pub use crate::uart::{UartRecord, UartTap};

/// How a simulator is set up. `Default` is an Air780E with the embedded broker on loopback and
/// the vendor test server's account (`root` / `luat123456`, seed 000 section 4.3).
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub dialect: DialectKind,
    /// Where the UART is: a PTY (default) or a TCP endpoint (`--serial`).
    pub serial: Serial,
    /// A symlink to create to the PTY slave.
    pub link: Option<PathBuf>,
    /// Route every plain connection to this broker instead of starting the embedded one.
    pub broker: Option<HostPort>,
    /// Per-name overrides: `NAME=HOST:PORT`.
    pub resolve: Vec<(String, HostPort)>,
    /// `--direct`: sockets (and HTTP) to a name not in `resolve` go to the host and port the
    /// AT command names, DNS included. Off: they go to the embedded services (loopback).
    pub direct: bool,
    /// Send unrouted TCP and UDP sockets to these echo services instead of starting one with
    /// the embedded broker (a fleet's modems share modem 0's).
    pub echo: Option<(HostPort, HostPort)>,
    /// Where the embedded broker listens (port 0: any free port).
    pub broker_bind: SocketAddr,
    /// The embedded broker's accounts.
    pub accounts: Vec<(String, String)>,
    /// The embedded broker also accepts clients without a user name (a driver that never
    /// sends `AT+MCONFIG` connects with the module's default: the IMEI, no credentials).
    pub allow_anonymous: bool,
    pub identity: Identity,
    /// Route every TLS connection (`AT+SSLMIPSTART`) to this broker instead of the embedded
    /// TLS listener. `--resolve` still wins.
    pub tls_broker: Option<HostPort>,
    /// Where the embedded broker's TLS listener listens (port 0: any free port).
    pub tls_bind: SocketAddr,
    /// The embedded TLS listener's certificate and client-certificate policy.
    pub tls_server: TlsServer,
    /// Where to serve the control socket (fault injection from other processes); `None`:
    /// no socket, faults only through [`Simulator::inject`].
    pub control: Option<PathBuf>,
    /// How long things take (`fast`: at once; `realistic`: as the captures show).
    pub timing: crate::timing::Profile,
    /// Seeds the timing profile's jitter: the same seed draws the same delays.
    pub seed: u64,
    /// The embedded broker's queue limits and back-pressure (`--broker-max-queued-messages`,
    /// `--broker-max-inflight-messages`, `--broker-publisher-hold`); see [`BrokerConfig`].
    pub broker_max_queued: usize,
    pub broker_max_inflight: usize,
    pub broker_publisher_hold: std::time::Duration,
    /// Where the embedded HTTP test server listens (port 0: any free port); its TLS listener
    /// takes another free port on the same address. Started with the embedded broker.
    pub http_bind: SocketAddr,
}

/// The identity of the embedded TLS listener. `Default` is the committed test PKI
/// (`certs/`), compiled in, one-way.
#[derive(Debug, Clone)]
pub struct TlsServer {
    /// PEM: the server certificate (chain).
    pub cert_pem: String,
    /// PEM: its private key.
    pub key_pem: String,
    /// PEM: the CA that signed the server certificate and that client certificates must chain
    /// to under `require_client_cert`.
    pub ca_pem: String,
    /// Where that CA is on disk, for the banner and the ready file (`None` when compiled in
    /// and the repository's `certs/` is not around).
    pub ca_path: Option<PathBuf>,
    /// Mutual TLS: refuse clients that present no certificate signed by `ca_pem`.
    pub require_client_cert: bool,
}

impl Default for TlsServer {
    fn default() -> Self {
        let pki = crate::tls::pki::Pki::embedded();
        TlsServer {
            cert_pem: pki.server_cert,
            key_pem: pki.server_key,
            ca_pem: pki.ca_cert,
            ca_path: crate::tls::pki::Pki::embedded_dir().map(|d| d.join("ca.crt")),
            require_client_cert: false,
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            dialect: DialectKind::Air780e,
            serial: Serial::Pty,
            link: None,
            broker: None,
            resolve: Vec::new(),
            direct: false,
            echo: None,
            broker_bind: ([127, 0, 0, 1], 0).into(),
            accounts: vec![("root".into(), "luat123456".into())],
            allow_anonymous: false,
            identity: Identity::default(),
            tls_broker: None,
            tls_bind: ([127, 0, 0, 1], 0).into(),
            tls_server: TlsServer::default(),
            control: None,
            timing: crate::timing::Profile::fast(),
            seed: 0,
            broker_max_queued: BrokerConfig::default().max_queued,
            broker_max_inflight: BrokerConfig::default().max_inflight,
            broker_publisher_hold: BrokerConfig::default().publisher_hold,
            http_bind: ([127, 0, 0, 1], 0).into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Uart(#[from] UartError),
    #[error("--broker-bind {addr}: cannot start the embedded broker there: {source} (pick a free address, e.g. 127.0.0.1:0, or use --broker)")]
    Broker {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("--tls-bind {addr}: cannot start the embedded TLS listener there: {source} (pick a free address, e.g. 127.0.0.1:0, or use --tls-broker)")]
    TlsBind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("--http-bind {addr}: cannot start the embedded HTTP server there: {source} (pick a free address, e.g. 127.0.0.1:0)")]
    HttpBind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Dialect(String),
    #[error("the embedded TLS listener's certificates: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
}

/// What `--ready-file` holds once the PTY takes commands.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReadyInfo {
    /// The PTY slave path (empty with a TCP `serial`).
    pub tty: String,
    /// The UART endpoint: `pty`, or `tcp-listen://`, `tcp-connect://`, `rfc2217://` with the
    /// port really bound.
    pub serial: String,
    /// The `--link` path, or empty.
    pub link: String,
    pub dialect: String,
    /// The embedded broker's `host:port`, or empty when `--broker` is used.
    pub mqtt: String,
    /// The embedded broker's TLS listener `host:port`, or empty when `--broker` is used.
    pub mqtts: String,
    /// The CA file that verifies `mqtts` (empty when it is compiled in and not on disk).
    pub ca: String,
    /// The embedded HTTP test server's `host:port` (plain and TLS), or empty when `--broker`
    /// is used.
    pub http: String,
    pub https: String,
    /// The control socket (`modem-sim inject --control PATH`), or empty.
    pub control: String,
    /// The embedded TCP echo service's `host:port` (where raw TCP sockets go unless
    /// `--resolve` or `--direct` says otherwise), or empty when `--broker` is used.
    pub tcp_echo: String,
    /// The embedded UDP echo service's `host:port`, or empty.
    pub udp_echo: String,
    pub pid: u32,
}

/// What a modem talks to: its dialect, the embedded broker (unless `--broker`), and where each
/// connection goes.
struct Network {
    dialect: Box<dyn dialect::Dialect>,
    broker: Option<Broker>,
    mqtts: Option<SocketAddr>,
    http: Option<(HttpServer, HttpServer)>,
    echo: Option<crate::services::echo::EchoService>,
    router: Router,
}

impl Network {
    async fn start(cfg: &SimConfig) -> Result<Network, SimError> {
        crate::tls::install_default_provider();
        let dialect =
            dialect::make(cfg.dialect, cfg.identity.clone()).map_err(SimError::Dialect)?;
        let broker = match &cfg.broker {
            Some(_) => None,
            None => {
                let bc = BrokerConfig {
                    bind: cfg.broker_bind,
                    accounts: cfg.accounts.clone(),
                    allow_anonymous: cfg.allow_anonymous,
                    max_queued: cfg.broker_max_queued,
                    max_inflight: cfg.broker_max_inflight,
                    publisher_hold: cfg.broker_publisher_hold,
                    ..BrokerConfig::default()
                };
                Some(Broker::start(bc).await.map_err(|source| SimError::Broker {
                    addr: cfg.broker_bind,
                    source,
                })?)
            }
        };
        let mqtts = match &broker {
            Some(b) => {
                let ts = &cfg.tls_server;
                let config = crate::tls::server_config(
                    ts.cert_pem.as_bytes(),
                    ts.key_pem.as_bytes(),
                    ts.require_client_cert.then_some(ts.ca_pem.as_bytes()),
                )?;
                Some(b.start_tls(cfg.tls_bind, config).await.map_err(|source| {
                    SimError::TlsBind {
                        addr: cfg.tls_bind,
                        source,
                    }
                })?)
            }
            None => None,
        };
        let default_tls = cfg.tls_broker.clone().or_else(|| {
            mqtts.map(|a| HostPort {
                host: a.ip().to_string(),
                port: a.port(),
            })
        });
        let default_plain = match (&cfg.broker, &broker) {
            (Some(b), _) => Some(b.clone()),
            (None, Some(b)) => {
                let a = b.local_addr();
                Some(HostPort {
                    host: a.ip().to_string(),
                    port: a.port(),
                })
            }
            (None, None) => None,
        };
        let http = match &broker {
            Some(_) => {
                let err = |source| SimError::HttpBind {
                    addr: cfg.http_bind,
                    source,
                };
                let ts = &cfg.tls_server;
                let tls =
                    crate::tls::server_config(ts.cert_pem.as_bytes(), ts.key_pem.as_bytes(), None)?;
                let plain = HttpServer::start(cfg.http_bind, None).await.map_err(err)?;
                let mut tls_bind = cfg.http_bind;
                tls_bind.set_port(0);
                let tls = HttpServer::start(tls_bind, Some(std::sync::Arc::new(tls)))
                    .await
                    .map_err(err)?;
                Some((plain, tls))
            }
            None => None,
        };
        // The echo service comes with the embedded broker, on its address.
        let echo = match &broker {
            Some(_) if cfg.echo.is_none() => {
                let bind = SocketAddr::new(cfg.broker_bind.ip(), 0);
                Some(
                    crate::services::echo::EchoService::start(bind)
                        .await
                        .map_err(|source| SimError::Broker { addr: bind, source })?,
                )
            }
            _ => None,
        };
        let host_port = |a: SocketAddr| HostPort {
            host: a.ip().to_string(),
            port: a.port(),
        };
        let router = Router {
            default_http: http.as_ref().map(|(p, _)| host_port(p.local_addr())),
            default_https: http.as_ref().map(|(_, t)| host_port(t.local_addr())),
            resolve: cfg
                .resolve
                .iter()
                .map(|(n, t)| (n.to_ascii_lowercase(), t.clone()))
                .collect(),
            default_plain,
            default_tls,
            direct: cfg.direct,
            default_tcp: echo
                .as_ref()
                .map(|e| host_port(e.tcp_addr()))
                .or_else(|| cfg.echo.as_ref().map(|e| e.0.clone())),
            default_udp: echo
                .as_ref()
                .map(|e| host_port(e.udp_addr()))
                .or_else(|| cfg.echo.as_ref().map(|e| e.1.clone())),
        };
        Ok(Network {
            dialect,
            broker,
            mqtts,
            http,
            echo,
            router,
        })
    }
}

/// A running simulated module.
pub struct Simulator {
    tty: PathBuf,
    link: Option<PathBuf>,
    serial: Serial,
    line: Line,
    endpoint_task: Option<JoinHandle<()>>,
    dialect: DialectKind,
    broker: Option<Broker>,
    mqtts: Option<SocketAddr>,
    http: Option<(HttpServer, HttpServer)>,
    echo: Option<crate::services::echo::EchoService>,
    ca_path: Option<PathBuf>,
    injector: Injector,
    tap: UartTap,
    control_path: Option<PathBuf>,
    control_task: Option<JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Starts a modem on `cfg.serial`: a new PTY (`cfg.link` names a symlink to it) or a TCP
    /// endpoint.
    pub async fn start(cfg: SimConfig) -> Result<Simulator, SimError> {
        let net = Network::start(&cfg).await?;
        if cfg.serial != Serial::Pty {
            let line = Line::default();
            let opened = crate::uart::endpoint::open(&cfg.serial, line.clone()).await?;
            let transport = Transport {
                serial: opened.serial,
                line,
                task: Some(opened.task),
                ..Transport::default()
            };
            return Self::launch(cfg, net, opened.uart, transport);
        }
        let uart = Uart::open(cfg.link.as_deref())?;
        let transport = Transport {
            tty: uart.path().to_path_buf(),
            link: uart.link().map(Path::to_path_buf),
            ..Transport::default()
        };
        Self::launch(cfg, net, UartIo(uart), transport)
    }

    /// Starts a modem whose UART is `stream`: anything that reads and writes bytes (a socket,
    /// one end of [`tokio::io::duplex`]). The host is whoever holds the other end; when it
    /// closes, the module runs on without a host. `cfg.link` is not used, and
    /// [`tty`](Self::tty) is empty.
    pub async fn start_on<S>(cfg: SimConfig, stream: S) -> Result<Simulator, SimError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let net = Network::start(&cfg).await?;
        Self::launch(cfg, net, stream, Transport::default())
    }

    fn launch<S>(
        cfg: SimConfig,
        net: Network,
        stream: S,
        transport: Transport,
    ) -> Result<Simulator, SimError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let Network {
            dialect,
            broker,
            mqtts,
            http,
            echo,
            router,
        } = net;
        let mut engine = Engine::new(dialect, true);
        engine.set_timing(crate::timing::Sampler::new(cfg.timing.clone(), cfg.seed));
        let (control, control_rx) = mpsc::unbounded_channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
        let injector = Injector {
            control,
            broker: broker.clone(),
        };
        let control_task = match &cfg.control {
            Some(path) => {
                let listener = crate::control::bind(path)?;
                tracing::info!(path = %path.display(), "control socket listening");
                Some(tokio::spawn(crate::control::serve(
                    listener,
                    injector.clone(),
                )))
            }
            None => None,
        };
        let tap = UartTap::default();
        let modem = ModemTask::new(
            stream,
            engine,
            router,
            tap.clone(),
            injector.control.clone(),
            control_rx,
        );
        // Every log line of this modem says which UART it is on.
        let uart = match transport.tty.as_os_str().is_empty() {
            true => transport.serial.to_string(),
            false => transport.tty.display().to_string(),
        };
        let span = tracing::info_span!("modem", %uart);
        let task = tokio::spawn(tracing::Instrument::instrument(
            modem.run(shutdown_rx),
            span,
        ));
        Ok(Simulator {
            tty: transport.tty,
            link: transport.link,
            serial: transport.serial,
            line: transport.line,
            endpoint_task: transport.task,
            dialect: cfg.dialect,
            broker,
            mqtts,
            http,
            echo,
            ca_path: cfg.tls_server.ca_path.clone(),
            injector,
            tap,
            control_path: cfg.control.clone(),
            control_task,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The UART endpoint, with the port really bound (`tcp-listen://127.0.0.1:40001`).
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// The UART's line as the host set it over RFC 2217 (baud rate, framing, DTR/RTS), whether
    /// a host is connected, and how many bytes were lost with none.
    pub fn line(&self) -> LineSettings {
        self.line.get()
    }

    /// The PTY slave path, e.g. `/dev/pts/3` (empty when the UART is not a PTY).
    pub fn tty(&self) -> &Path {
        &self.tty
    }

    pub fn link(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// The embedded broker's address; `None` when every connection goes to `--broker`.
    pub fn mqtt_addr(&self) -> Option<SocketAddr> {
        self.broker.as_ref().map(Broker::local_addr)
    }

    /// The embedded broker's TLS listener; `None` when every connection goes to `--broker`.
    pub fn mqtts_addr(&self) -> Option<SocketAddr> {
        self.mqtts
    }

    /// The embedded HTTP test server (plain), when the broker is embedded.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(p, _)| p.local_addr())
    }

    /// The embedded HTTP test server's TLS listener (the test PKI's server certificate).
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(_, t)| t.local_addr())
    }

    pub fn broker(&self) -> Option<&Broker> {
        self.broker.as_ref()
    }

    /// The embedded TCP echo service; `None` with `--broker`.
    pub fn tcp_echo_addr(&self) -> Option<SocketAddr> {
        self.echo.as_ref().map(|e| e.tcp_addr())
    }

    /// The embedded UDP echo service; `None` with `--broker`.
    pub fn udp_echo_addr(&self) -> Option<SocketAddr> {
        self.echo.as_ref().map(|e| e.udp_addr())
    }

    pub fn ready_info(&self) -> ReadyInfo {
        ReadyInfo {
            tty: self.tty.display().to_string(),
            serial: self.serial.to_string(),
            link: self
                .link
                .as_ref()
                .map(|l| l.display().to_string())
                .unwrap_or_default(),
            dialect: self.dialect.to_string(),
            mqtt: self.mqtt_addr().map(|a| a.to_string()).unwrap_or_default(),
            mqtts: self.mqtts.map(|a| a.to_string()).unwrap_or_default(),
            ca: self
                .ca_path
                .as_ref()
                .filter(|_| self.mqtts.is_some())
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            http: self.http_addr().map(|a| a.to_string()).unwrap_or_default(),
            https: self.https_addr().map(|a| a.to_string()).unwrap_or_default(),
            control: self
                .control_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            tcp_echo: self
                .tcp_echo_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            udp_echo: self
                .udp_echo_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            pid: std::process::id(),
        }
    }

    /// Applies a fault; returns once the modem has shown its consequences on the UART.
    pub async fn inject(&self, fault: impl Into<Fault>) -> Result<(), InjectError> {
        self.injector.inject(fault).await
    }

    /// Applies a fault now or arms it for its trigger (`closed on publish 3`).
    pub async fn request(&self, req: Request) -> Result<(), InjectError> {
        self.injector.request(req).await
    }

    /// The last UART traffic, both ways.
    pub fn uart_tap(&self) -> UartTap {
        self.tap.clone()
    }

    /// A handle for injecting faults from elsewhere (another task).
    pub fn injector(&self) -> Injector {
        self.injector.clone()
    }

    /// The control socket's path, if one is served.
    pub fn control_path(&self) -> Option<&Path> {
        self.control_path.as_deref()
    }

    /// Stops the modem (its links are dropped like at a power cut: no MQTT DISCONNECT), then the
    /// embedded broker. The `--link` symlink is removed.
    pub async fn shutdown(mut self) {
        self.stop().await;
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
    }

    async fn stop(&mut self) {
        if let Some(t) = self.control_task.take() {
            t.abort();
            if let Some(p) = &self.control_path {
                let _ = std::fs::remove_file(p);
            }
        }
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some(t) = self.endpoint_task.take() {
            t.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(t) = self.control_task.take() {
            t.abort();
            if let Some(p) = &self.control_path {
                let _ = std::fs::remove_file(p);
            }
        }
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.endpoint_task.take() {
            t.abort();
        }
    }
}

/// The UART's transport as the simulator reports it.
#[derive(Default)]
struct Transport {
    tty: PathBuf,
    link: Option<PathBuf>,
    serial: Serial,
    line: Line,
    /// The task serving a TCP endpoint.
    task: Option<JoinHandle<()>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// The host's end of a duplex UART: writes commands the way drivers do (`\r\n`), reads
    /// until what it waits for.
    struct Host {
        io: DuplexStream,
        seen: Vec<u8>,
    }

    impl Host {
        async fn until(&mut self, needle: &str) -> String {
            let wait = async {
                let mut buf = [0u8; 1024];
                while !String::from_utf8_lossy(&self.seen).contains(needle) {
                    let n = self.io.read(&mut buf).await.expect("UART read");
                    assert!(n > 0, "the modem closed the UART");
                    self.seen.extend_from_slice(&buf[..n]);
                }
            };
            let got = tokio::time::timeout(std::time::Duration::from_secs(30), wait).await;
            let text = String::from_utf8_lossy(&self.seen).into_owned();
            assert!(got.is_ok(), "no {needle:?} in {text:?}");
            let end = text.find(needle).unwrap() + needle.len();
            self.seen.drain(..end);
            text[..end].to_string()
        }

        async fn at(&mut self, cmd: &str, until: &str) -> String {
            self.io
                .write_all(format!("{cmd}\r\n").as_bytes())
                .await
                .unwrap();
            self.until(until).await
        }
    }

    /// Seed 000 section 6.2 over `tokio::io::duplex`: no PTY, the embedded broker, a real
    /// MQTT client on the other side checking the payloads byte for byte. Paused time: the
    /// broker and the links are on loopback TCP, whose writes reach the peer's socket within
    /// the write call, so the runtime sees them ready before it would advance the clock.
    /// The next SUBACK or PUBLISH the client receives.
    async fn wait_for(events: &mut rumqttc::EventLoop) -> rumqttc::Packet {
        loop {
            match events.poll().await.expect("MQTT client") {
                rumqttc::Event::Incoming(p @ rumqttc::Packet::SubAck(_))
                | rumqttc::Event::Incoming(p @ rumqttc::Packet::Publish(_)) => break p,
                _ => {}
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn seed_000_6_2_flow_over_duplex() {
        let (host, module) = tokio::io::duplex(1 << 16);
        let sim = Simulator::start_on(SimConfig::default(), module)
            .await
            .unwrap();
        assert_eq!(sim.tty(), Path::new(""));
        let mut host = Host {
            io: host,
            seen: Vec::new(),
        };
        let addr = sim.mqtt_addr().unwrap();
        let mut opts = rumqttc::MqttOptions::new("server", addr.ip().to_string(), addr.port());
        opts.set_credentials("root", "luat123456");
        let (client, mut events) = rumqttc::AsyncClient::new(opts, 10);
        client
            .subscribe("mqtt/sub", rumqttc::QoS::AtMostOnce)
            .await
            .unwrap();
        assert!(matches!(
            wait_for(&mut events).await,
            rumqttc::Packet::SubAck(_)
        ));
        host.at("AT", "OK\r\n").await;
        host.at("AT+MCONFIG=868488076771714,root,luat123456", "OK\r\n")
            .await;
        host.at(
            "AT+MIPSTART=\"airtest.openluat.com\",\"1883\"",
            "CONNECT OK\r\n",
        )
        .await;
        host.at("AT+MCONNECT=1,60", "CONNACK OK\r\n").await;
        host.at("AT+MSUB=\"mqtt/pub\",0", "SUBACK\r\n").await;
        host.at("AT+MPUB=\"mqtt/sub\",0,0,\"data from 4G module\"", "OK\r\n")
            .await;
        let rumqttc::Packet::Publish(p) = wait_for(&mut events).await else {
            panic!("no PUBLISH from the module");
        };
        assert_eq!(
            (p.topic.as_str(), &p.payload[..]),
            ("mqtt/sub", &b"data from 4G module"[..])
        );
        client
            .publish(
                "mqtt/pub",
                rumqttc::QoS::AtMostOnce,
                false,
                "data from tcp server",
            )
            .await
            .unwrap();
        let poll = tokio::spawn(async move { while events.poll().await.is_ok() {} });
        let out = host.until("server\r\n").await;
        assert!(
            out.ends_with("\r\n+MSUB: \"mqtt/pub\",20 byte,data from tcp server\r\n"),
            "{out:?}"
        );
        host.at("AT+MDISCONNECT", "OK\r\n").await;
        poll.abort();
        sim.shutdown().await;
    }
}
