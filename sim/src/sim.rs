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

/// Which broker a simulator's plain MQTT connections go to.
#[derive(Debug, Clone)]
pub enum BrokerSetup {
    /// Start an embedded broker with this configuration (and its TLS listener on
    /// `SimConfig::tls_bind`); it stops with the simulator.
    Embedded(BrokerConfig),
    /// Use this running broker (a fleet's, a test's, `check-driver`'s): the simulator does not
    /// stop it, and broker faults (`kick-idle`) injected into the simulator act on it. TLS goes
    /// to its TLS listener, started on `tls_bind` if it has none yet.
    Shared(Broker),
    /// Route every plain connection to this broker (`--broker`); broker faults are refused.
    External(HostPort),
}

impl Default for BrokerSetup {
    fn default() -> Self {
        BrokerSetup::Embedded(BrokerConfig::default())
    }
}

impl BrokerSetup {
    /// The embedded broker's configuration, to adjust it; `None` unless `Embedded`.
    pub fn embedded_mut(&mut self) -> Option<&mut BrokerConfig> {
        match self {
            BrokerSetup::Embedded(c) => Some(c),
            _ => None,
        }
    }
}

/// How a simulator is set up. `Default` is an Air780E with the embedded broker on loopback and
/// the vendor test server's account (`root` / `luat123456`, seed 000 section 4.3).
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub dialect: DialectKind,
    /// Where the UART is: a PTY (default) or a TCP endpoint (`--serial`).
    pub serial: Serial,
    /// A symlink to create to the PTY slave.
    pub link: Option<PathBuf>,
    /// Which broker the modem's plain connections go to, and who owns it.
    pub broker: BrokerSetup,
    /// Per-name overrides: `NAME=HOST:PORT`.
    pub resolve: Vec<(String, HostPort)>,
    /// `--direct`: sockets (and HTTP) to a name not in `resolve` go to the host and port the
    /// AT command names, DNS included. Off: they go to the embedded services (loopback).
    pub direct: bool,
    /// Send unrouted TCP and UDP sockets to these echo services instead of starting one with
    /// the embedded broker (a fleet's modems share modem 0's).
    pub echo: Option<(HostPort, HostPort)>,
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
            broker: BrokerSetup::default(),
            resolve: Vec::new(),
            direct: false,
            echo: None,
            identity: Identity::default(),
            tls_broker: None,
            tls_bind: ([127, 0, 0, 1], 0).into(),
            tls_server: TlsServer::default(),
            control: None,
            timing: crate::timing::Profile::fast(),
            seed: 0,
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

/// What a modem talks to: its dialect, its broker (unless `--broker`), and where each
/// connection goes.
struct Network {
    dialect: Box<dyn dialect::Dialect>,
    ends: Ends,
    router: Router,
}

/// The far ends a simulator's connections reach: its broker and embedded services.
struct Ends {
    broker: Option<Broker>,
    /// The simulator started `broker` and stops it (a shared one runs on).
    owns_broker: bool,
    mqtts: Option<SocketAddr>,
    http: Option<(HttpServer, HttpServer)>,
    echo: Option<crate::services::echo::EchoService>,
}

fn host_port(a: SocketAddr) -> HostPort {
    HostPort {
        host: a.ip().to_string(),
        port: a.port(),
    }
}

impl Network {
    async fn start(cfg: &SimConfig) -> Result<Network, SimError> {
        crate::tls::install_default_provider();
        let dialect =
            dialect::make(cfg.dialect, cfg.identity.clone()).map_err(SimError::Dialect)?;
        let (broker, owns_broker) = match &cfg.broker {
            BrokerSetup::External(_) => (None, false),
            BrokerSetup::Shared(b) => (Some(b.clone()), false),
            BrokerSetup::Embedded(bc) => {
                let b = Broker::start(bc.clone())
                    .await
                    .map_err(|source| SimError::Broker {
                        addr: bc.bind,
                        source,
                    })?;
                (Some(b), true)
            }
        };
        let mqtts = match &broker {
            Some(b) => Some(match b.tls_addr() {
                Some(a) => a,
                None => Self::start_tls(cfg, b).await?,
            }),
            None => None,
        };
        let default_tls = cfg.tls_broker.clone().or_else(|| mqtts.map(host_port));
        let default_plain = match (&cfg.broker, &broker) {
            (BrokerSetup::External(b), _) => Some(b.clone()),
            (_, b) => b.as_ref().map(|b| host_port(b.local_addr())),
        };
        // The HTTP test servers come with the simulator's own embedded broker (a fleet's
        // modems 1..N share modem 0's); the echo service with the broker, on its address.
        let http = match &broker {
            Some(_) if owns_broker => Some(Self::start_http(cfg).await?),
            _ => None,
        };
        let echo = match &broker {
            Some(b) if cfg.echo.is_none() => Some(Self::start_echo(b).await?),
            _ => None,
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
        let ends = Ends {
            broker,
            owns_broker,
            mqtts,
            http,
            echo,
        };
        Ok(Network {
            dialect,
            ends,
            router,
        })
    }

    /// The embedded HTTP test server on `cfg.http_bind`, and its TLS twin on another port.
    async fn start_http(cfg: &SimConfig) -> Result<(HttpServer, HttpServer), SimError> {
        let err = |source| SimError::HttpBind {
            addr: cfg.http_bind,
            source,
        };
        let ts = &cfg.tls_server;
        let tls = crate::tls::server_config(ts.cert_pem.as_bytes(), ts.key_pem.as_bytes(), None)?;
        let plain = HttpServer::start(cfg.http_bind, None).await.map_err(err)?;
        let mut tls_bind = cfg.http_bind;
        tls_bind.set_port(0);
        let tls = HttpServer::start(tls_bind, Some(std::sync::Arc::new(tls)))
            .await
            .map_err(err)?;
        Ok((plain, tls))
    }

    /// The TCP and UDP echo services, on the broker's address.
    async fn start_echo(broker: &Broker) -> Result<crate::services::echo::EchoService, SimError> {
        let bind = SocketAddr::new(broker.local_addr().ip(), 0);
        crate::services::echo::EchoService::start(bind)
            .await
            .map_err(|source| SimError::Broker { addr: bind, source })
    }

    /// The broker's TLS listener on `cfg.tls_bind`, with `cfg.tls_server`'s identity.
    async fn start_tls(cfg: &SimConfig, broker: &Broker) -> Result<SocketAddr, SimError> {
        let ts = &cfg.tls_server;
        let config = crate::tls::server_config(
            ts.cert_pem.as_bytes(),
            ts.key_pem.as_bytes(),
            ts.require_client_cert.then_some(ts.ca_pem.as_bytes()),
        )?;
        broker
            .start_tls(cfg.tls_bind, config)
            .await
            .map_err(|source| SimError::TlsBind {
                addr: cfg.tls_bind,
                source,
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
    ends: Ends,
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
            ends,
            router,
        } = net;
        let mut engine = Engine::new(dialect, true);
        engine.set_timing(crate::timing::Sampler::new(cfg.timing.clone(), cfg.seed));
        // Every log line of this modem (its task, its links, its control socket, its injector)
        // says which UART it is on; in a fleet, inside `fleet{modem=i}`.
        let uart = match transport.tty.as_os_str().is_empty() {
            true => transport.serial.to_string(),
            false => transport.tty.display().to_string(),
        };
        let span = tracing::info_span!("modem", %uart);
        let (control, control_rx) = mpsc::unbounded_channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
        let injector = Injector {
            control,
            broker: ends.broker.clone(),
            span: span.clone(),
        };
        let control_task = serve_control(&cfg, &injector, &span)?;
        let tap = UartTap::default();
        let modem = ModemTask::new(
            stream,
            engine,
            router,
            tap.clone(),
            injector.control.clone(),
            control_rx,
        );
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
            ends,
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

    /// The embedded or shared broker's address; `None` when every connection goes to
    /// `--broker`.
    pub fn mqtt_addr(&self) -> Option<SocketAddr> {
        self.ends.broker.as_ref().map(Broker::local_addr)
    }

    /// The embedded or shared broker's TLS listener; `None` when every connection goes to
    /// `--broker`.
    pub fn mqtts_addr(&self) -> Option<SocketAddr> {
        self.ends.mqtts
    }

    /// The embedded HTTP test server (plain), when the broker is embedded.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.ends.http.as_ref().map(|(p, _)| p.local_addr())
    }

    /// The embedded HTTP test server's TLS listener (the test PKI's server certificate).
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.ends.http.as_ref().map(|(_, t)| t.local_addr())
    }

    pub fn broker(&self) -> Option<&Broker> {
        self.ends.broker.as_ref()
    }

    /// The embedded TCP echo service; `None` with `--broker`.
    pub fn tcp_echo_addr(&self) -> Option<SocketAddr> {
        self.ends.echo.as_ref().map(|e| e.tcp_addr())
    }

    /// The embedded UDP echo service; `None` with `--broker`.
    pub fn udp_echo_addr(&self) -> Option<SocketAddr> {
        self.ends.echo.as_ref().map(|e| e.udp_addr())
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
            mqtts: self.ends.mqtts.map(|a| a.to_string()).unwrap_or_default(),
            ca: self
                .ca_path
                .as_ref()
                .filter(|_| self.ends.mqtts.is_some())
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

    /// Stops the modem (its links are dropped like at a power cut: no MQTT DISCONNECT), then its
    /// embedded broker (a shared one runs on). The `--link` symlink is removed.
    pub async fn shutdown(mut self) {
        self.stop().await;
        if let Some(b) = self.ends.broker.take().filter(|_| self.ends.owns_broker) {
            b.shutdown().await;
        }
    }

    async fn stop(&mut self) {
        self.halt();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.drop_endpoint();
    }

    /// Stops serving the control socket (and removes it), and tells the modem's task to end.
    fn halt(&mut self) {
        if let Some(t) = self.control_task.take() {
            t.abort();
            if let Some(p) = &self.control_path {
                let _ = std::fs::remove_file(p);
            }
        }
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }

    /// Stops serving a TCP endpoint.
    fn drop_endpoint(&mut self) {
        if let Some(t) = self.endpoint_task.take() {
            t.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.halt();
        self.drop_endpoint();
    }
}

/// Serves `cfg.control` (if set) for `injector`, in the modem's span.
fn serve_control(
    cfg: &SimConfig,
    injector: &Injector,
    span: &tracing::Span,
) -> Result<Option<JoinHandle<()>>, SimError> {
    let Some(path) = &cfg.control else {
        return Ok(None);
    };
    let listener = crate::control::bind(path)?;
    span.in_scope(|| tracing::info!(path = %path.display(), "control socket listening"));
    let serve = crate::control::serve(listener, injector.clone());
    Ok(Some(tokio::spawn(tracing::Instrument::instrument(
        serve,
        span.clone(),
    ))))
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
    use crate::seeds::seed_000;
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

    /// A simulator (defaults: Air780E, embedded broker) on a duplex UART, the host's end of it,
    /// and the vendor test server's side of seed 000: an MQTT client with the seed's account,
    /// subscribed to the module's uplink topic.
    async fn started() -> (Simulator, Host, rumqttc::AsyncClient, rumqttc::EventLoop) {
        let (host, module) = tokio::io::duplex(1 << 16);
        let sim = Simulator::start_on(SimConfig::default(), module)
            .await
            .unwrap();
        let host = Host {
            io: host,
            seen: Vec::new(),
        };
        let addr = sim.mqtt_addr().unwrap();
        let mut opts = rumqttc::MqttOptions::new("server", addr.ip().to_string(), addr.port());
        opts.set_credentials("root", "luat123456");
        let (client, mut events) = rumqttc::AsyncClient::new(opts, 10);
        client
            .subscribe(seed_000::UPLINK.0, rumqttc::QoS::AtMostOnce)
            .await
            .unwrap();
        assert!(matches!(
            wait_for(&mut events).await,
            rumqttc::Packet::SubAck(_)
        ));
        (sim, host, client, events)
    }

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

    /// Seed 000 section 6.2 over `tokio::io::duplex`: no PTY, the embedded broker, a real
    /// MQTT client on the other side checking the payloads byte for byte. Paused time: the
    /// broker and the links are on loopback TCP, whose writes reach the peer's socket within
    /// the write call, so the runtime sees them ready before it would advance the clock.
    #[tokio::test(start_paused = true)]
    async fn seed_000_6_2_flow_over_duplex() {
        let (sim, mut host, client, mut events) = started().await;
        assert_eq!(sim.tty(), Path::new(""));
        host.at("AT", "OK\r\n").await;
        for (cmd, answer) in seed_000::FLOW {
            host.at(cmd, answer).await;
        }
        let rumqttc::Packet::Publish(p) = wait_for(&mut events).await else {
            panic!("no PUBLISH from the module");
        };
        assert_eq!((p.topic.as_str(), &p.payload[..]), seed_000::UPLINK);
        let (topic, payload) = seed_000::DOWNLINK;
        client
            .publish(topic, rumqttc::QoS::AtMostOnce, false, payload)
            .await
            .unwrap();
        let poll = tokio::spawn(async move { while events.poll().await.is_ok() {} });
        let out = host.until("server\r\n").await;
        assert!(out.ends_with(seed_000::DOWNLINK_URC), "{out:?}");
        host.at("AT+MDISCONNECT", "OK\r\n").await;
        poll.abort();
        sim.shutdown().await;
    }

    /// Seed 001 "连接被动断开" over `tokio::io::duplex`, paused time: the 6.2 connection,
    /// then the `closed` fault (the embedded broker's side of the link sends a FIN): `CLOSED`,
    /// `AT+MQTTSTATU` 0, `AT+MCONNECT` and `AT+MIPCLOSE` 767, and the recovery (MIPSTART,
    /// MCONNECT, MSUB, MPUB) reaches the broker again, byte for byte.
    #[tokio::test(start_paused = true)]
    async fn closed_fault_and_recovery_over_duplex() {
        let (sim, mut host, client, mut events) = started().await;
        let [mconfig, mipstart, mconnect, ..] = seed_000::FLOW;
        host.at(mconfig.0, mconfig.1).await;
        for round in 0..2 {
            host.at(mipstart.0, mipstart.1).await;
            host.at(mconnect.0, mconnect.1).await;
            let payload = format!("round {round}");
            host.at(&format!("AT+MPUB=\"mqtt/sub\",0,0,\"{payload}\""), "OK\r\n")
                .await;
            let rumqttc::Packet::Publish(p) = wait_for(&mut events).await else {
                panic!("no PUBLISH from the module");
            };
            assert_eq!(&p.payload[..], payload.as_bytes(), "round {round}");
            if round == 1 {
                break;
            }
            sim.inject(crate::fault::Closed).await.unwrap();
            host.until("\r\nCLOSED\r\n").await;
            let statu = host.at("AT+MQTTSTATU", "OK\r\n").await;
            assert!(statu.contains("+MQTTSTATU :0\r\n"), "{statu:?}");
            host.at("AT+MCONNECT=1,60", "\r\n+CME ERROR: 767\r\n").await;
            host.at("AT+MIPCLOSE", "\r\n+CME ERROR: 767\r\n").await;
        }
        host.at("AT+MDISCONNECT", "OK\r\n").await;
        drop(client);
        sim.shutdown().await;
    }
}
