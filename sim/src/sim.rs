//! A whole simulated module: UART, engine, network links and (by default) an embedded broker,
//! started and stopped as one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::broker::{Broker, BrokerConfig};
use crate::dialect::{self, DialectKind, Effect, Engine};
use crate::modem::{Fault, Identity, Request, Trigger};
use crate::net::link::Links;
use crate::net::{HostPort, Router};
use crate::uart::{Uart, UartError};

/// How a simulator is set up. `Default` is an Air780E with the embedded broker on loopback and
/// the vendor test server's account (`root` / `luat123456`, seed 000 section 4.3).
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub dialect: DialectKind,
    /// A symlink to create to the PTY slave.
    pub link: Option<PathBuf>,
    /// Route every plain connection to this broker instead of starting the embedded one.
    pub broker: Option<HostPort>,
    /// Per-name overrides: `NAME=HOST:PORT`.
    pub resolve: Vec<(String, HostPort)>,
    /// Where the embedded broker listens (port 0: any free port).
    pub broker_bind: SocketAddr,
    /// The embedded broker's accounts.
    pub accounts: Vec<(String, String)>,
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
            link: None,
            broker: None,
            resolve: Vec::new(),
            broker_bind: ([127, 0, 0, 1], 0).into(),
            accounts: vec![("root".into(), "luat123456".into())],
            identity: Identity::default(),
            tls_broker: None,
            tls_bind: ([127, 0, 0, 1], 0).into(),
            tls_server: TlsServer::default(),
            control: None,
            timing: crate::timing::Profile::fast(),
            seed: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Uart(#[from] UartError),
    #[error("cannot start the embedded broker on {addr}: {source} (pick a free address with --broker-bind, or use --broker)")]
    Broker {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Dialect(String),
    #[error("the embedded TLS listener's certificates: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
}

/// Why a fault could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("`{0}` needs the embedded broker, and this simulator routes to --broker")]
    NeedsBroker(Fault),
    #[error("the simulator has stopped")]
    Stopped,
    #[error("`{0}` takes effect in the broker: it can fire now or after a delay, not on a protocol event")]
    Trigger(Fault),
}

/// What `--ready-file` holds once the PTY takes commands.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReadyInfo {
    /// The PTY slave path.
    pub tty: String,
    /// The `--link` path, or empty.
    pub link: String,
    pub dialect: String,
    /// The embedded broker's `host:port`, or empty when `--broker` is used.
    pub mqtt: String,
    /// The embedded broker's TLS listener `host:port`, or empty when `--broker` is used.
    pub mqtts: String,
    /// The CA file that verifies `mqtts` (empty when it is compiled in and not on disk).
    pub ca: String,
    /// The control socket (`modem-sim inject --control PATH`), or empty.
    pub control: String,
    pub pid: u32,
}

enum Control {
    /// A fault, and who to tell once its consequences are queued for the UART and the network.
    Fault(Fault, tokio::sync::oneshot::Sender<()>),
    /// A fault to fire on a protocol event; `done` once armed.
    Arm(Fault, Trigger, tokio::sync::oneshot::Sender<()>),
}

/// How long a fault on the links may take to show (each link reporting `Closed`) before
/// `inject` returns anyway: a link that was ending by itself never reports the fault.
const LINK_FAULT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A handle that injects faults into a running simulator; clones share it. The control socket
/// serves one; [`Simulator::injector`] gives one to in-process code.
#[derive(Clone)]
pub struct Injector {
    control: mpsc::UnboundedSender<Control>,
    broker: Option<Broker>,
}

impl Injector {
    /// Applies a fault; returns once its consequences are queued for the UART (for `closed`
    /// and `reset`: once every link has reported its end to the modem). Logged with tracing.
    pub async fn inject(&self, fault: Fault) -> Result<(), InjectError> {
        self.request(Request {
            fault,
            trigger: Trigger::Now,
        })
        .await
    }

    /// Applies a fault now, or arms it for its trigger (returning once armed: `after` counts
    /// from now, and the protocol events from the next one).
    pub async fn request(&self, req: Request) -> Result<(), InjectError> {
        let Request { fault, trigger } = req;
        match trigger {
            Trigger::Now => {}
            Trigger::After(d) => {
                if self.control.is_closed() {
                    return Err(InjectError::Stopped);
                }
                tracing::info!(%fault, after = ?d, "fault armed");
                let me = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(d).await;
                    if let Err(e) = me.apply_now(fault).await {
                        warn!(error = %e, "a delayed fault could not be applied");
                    }
                });
                return Ok(());
            }
            trigger => {
                if matches!(fault, Fault::KickIdle(_)) {
                    // Applied by this handle, not the modem task: only `now` or `after`.
                    return Err(InjectError::Trigger(fault));
                }
                tracing::info!(%fault, ?trigger, "fault armed");
                let (done, armed) = tokio::sync::oneshot::channel();
                self.control
                    .send(Control::Arm(fault, trigger, done))
                    .map_err(|_| InjectError::Stopped)?;
                return armed.await.map_err(|_| InjectError::Stopped);
            }
        }
        self.apply_now(fault).await
    }

    async fn apply_now(&self, fault: Fault) -> Result<(), InjectError> {
        tracing::info!(%fault, "fault injected");
        if let Fault::KickIdle(t) = &fault {
            let broker = self
                .broker
                .as_ref()
                .ok_or_else(|| InjectError::NeedsBroker(fault.clone()))?;
            broker.set_connect_timeout(t.or(BrokerConfig::default().connect_timeout));
            return Ok(());
        }
        let (done, applied) = tokio::sync::oneshot::channel();
        self.control
            .send(Control::Fault(fault, done))
            .map_err(|_| InjectError::Stopped)?;
        applied.await.map_err(|_| InjectError::Stopped)
    }
}

/// The last UART traffic, both ways, for reports (`modem-harness check-driver` shows it
/// around a failure). Bounded: the oldest records go first.
#[derive(Debug, Clone, Default)]
pub struct UartTap(std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<UartRecord>>>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UartRecord {
    pub at: std::time::Instant,
    /// Written by the host (`true`) or by the module.
    pub from_host: bool,
    pub bytes: Vec<u8>,
}

/// How many writes the tap keeps.
const TAP_RECORDS: usize = 4000;

impl UartTap {
    fn push(&self, from_host: bool, bytes: &[u8]) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == TAP_RECORDS {
            q.pop_front();
        }
        q.push_back(UartRecord {
            at: std::time::Instant::now(),
            from_host,
            bytes: bytes.to_vec(),
        });
    }

    /// What was recorded, oldest first.
    pub fn snapshot(&self) -> Vec<UartRecord> {
        let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.iter().cloned().collect()
    }
}

/// A running simulated module.
pub struct Simulator {
    tty: PathBuf,
    link: Option<PathBuf>,
    dialect: DialectKind,
    broker: Option<Broker>,
    mqtts: Option<SocketAddr>,
    ca_path: Option<PathBuf>,
    injector: Injector,
    tap: UartTap,
    control_path: Option<PathBuf>,
    control_task: Option<JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    pub async fn start(cfg: SimConfig) -> Result<Simulator, SimError> {
        crate::tls::install_default_provider();
        let dialect =
            dialect::make(cfg.dialect, cfg.identity.clone()).map_err(SimError::Dialect)?;
        let broker = match &cfg.broker {
            Some(_) => None,
            None => {
                let bc = BrokerConfig {
                    bind: cfg.broker_bind,
                    accounts: cfg.accounts.clone(),
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
                    SimError::Broker {
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
        let router = Router {
            resolve: cfg
                .resolve
                .iter()
                .map(|(n, t)| (n.to_ascii_lowercase(), t.clone()))
                .collect(),
            default_plain,
            default_tls,
        };
        let uart = Uart::open(cfg.link.as_deref())?;
        let tty = uart.path().to_path_buf();
        let link = uart.link().map(Path::to_path_buf);
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
        let task = tokio::spawn(run_modem(
            uart,
            engine,
            router,
            tap.clone(),
            injector.control.clone(),
            control_rx,
            shutdown_rx,
        ));
        Ok(Simulator {
            tty,
            link,
            dialect: cfg.dialect,
            broker,
            mqtts,
            ca_path: cfg.tls_server.ca_path.clone(),
            injector,
            tap,
            control_path: cfg.control.clone(),
            control_task,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The PTY slave path, e.g. `/dev/pts/3`.
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

    pub fn broker(&self) -> Option<&Broker> {
        self.broker.as_ref()
    }

    pub fn ready_info(&self) -> ReadyInfo {
        ReadyInfo {
            tty: self.tty.display().to_string(),
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
            control: self
                .control_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            pid: std::process::id(),
        }
    }

    /// Applies a fault; returns once the modem has shown its consequences on the UART.
    pub async fn inject(&self, fault: Fault) -> Result<(), InjectError> {
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
    }
}

/// Output waiting for the UART is bounded by bytes: far more than any burst a reading host can
/// produce (10,000 `+MSUB`s are about 0.5 MB), so nothing is lost while the host reads; and a
/// host that never reads cannot grow our memory past it. Past it, output is dropped with a
/// warning, as a real UART without flow control would lose it.
const UART_QUEUE_BYTES: usize = 16 << 20;

async fn run_modem(
    uart: Uart,
    mut engine: Engine,
    router: Router,
    tap: UartTap,
    self_control: mpsc::UnboundedSender<Control>,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let (net_tx, mut net_rx) = mpsc::unbounded_channel();
    let (timer_tx, mut timer_rx) = mpsc::unbounded_channel::<u64>();
    let mut links = Links::new(router, net_tx);
    let (mut rd, mut wr) = tokio::io::split(UartIo(uart));
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let queued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer_queued = queued.clone();
    // Fault `uart-fragment`: the writer splits each write into small pieces.
    let fragment = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer_fragment = fragment.clone();
    let writer = tokio::spawn(async move {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        while let Some(bytes) = out_rx.recv().await {
            let written = if writer_fragment.load(std::sync::atomic::Ordering::Relaxed) {
                write_fragmented(&mut wr, &bytes, &mut seed).await
            } else {
                wr.write_all(&bytes).await
            };
            if let Err(e) = written {
                warn!(error = %e, "UART write failed");
            }
            writer_queued.fetch_sub(bytes.len(), std::sync::atomic::Ordering::Relaxed);
        }
        wr
    });
    let mut uart_faults = UartFaults::default();
    let apply = |effects: Vec<Effect>, links: &mut Links, uart_faults: &mut UartFaults| {
        for e in effects {
            match e {
                Effect::Uart(bytes) => {
                    let bytes = uart_faults.noise(bytes);
                    tap.push(false, &bytes);
                    debug!(out = %String::from_utf8_lossy(&bytes).escape_debug(), "uart <-");
                    let len = bytes.len();
                    if queued.fetch_add(len, std::sync::atomic::Ordering::Relaxed) + len
                        > UART_QUEUE_BYTES
                    {
                        queued.fetch_sub(len, std::sync::atomic::Ordering::Relaxed);
                        warn!(len, "the host is not reading the UART: output dropped");
                    } else if out_tx.send(bytes).is_err() {
                        queued.fetch_sub(len, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Effect::Net(req) => links.handle(req),
                Effect::Timer { id, after } => {
                    // tokio time, so tests with paused time see the timer fire at once.
                    let tx = timer_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = tx.send(id);
                    });
                }
            }
        }
    };
    apply(engine.boot(), &mut links, &mut uart_faults);
    // `closed`/`reset` faults waiting for their links to report the end, with a deadline.
    let mut link_faults: Vec<(Vec<crate::net::LinkId>, tokio::sync::oneshot::Sender<()>)> =
        Vec::new();
    let mut link_fault_deadline: Option<tokio::time::Instant> = None;
    // Faults waiting for a protocol event; when it happens they go round the control channel.
    let mut armed: Vec<(Trigger, Fault)> = Vec::new();
    let fire = |due: Vec<Fault>| {
        for f in due {
            tracing::info!(fault = %f, "triggered fault fires");
            let (done, _) = tokio::sync::oneshot::channel();
            let _ = self_control.send(Control::Fault(f, done));
        }
    };
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            // Control first: a triggered fault, sent to ourselves while handling an event,
            // takes effect before whatever the host sends next.
            biased;
            _ = &mut shutdown => break,
            Some(c) = control.recv() => match c {
                Control::Arm(f, trigger, done) => {
                    armed.push((trigger, f));
                    let _ = done.send(());
                }
                Control::Fault(f, done) => {
                    let cmd = match f {
                        Fault::Closed => Some(crate::net::link::LinkCmd::PeerClose),
                        Fault::Reset => Some(crate::net::link::LinkCmd::Reset),
                        Fault::Blackhole => Some(crate::net::link::LinkCmd::Blackhole),
                        _ => None,
                    };
                    match f {
                        Fault::UartFragment(on) => {
                            fragment.store(on, std::sync::atomic::Ordering::Relaxed)
                        }
                        Fault::UartGarbage(on) => uart_faults.garbage = on,
                        Fault::UrcInResponse => uart_faults.armed = true,
                        Fault::Latency(ms) => links.latency.set(ms),
                        _ => {}
                    }
                    let fx = uart_faults.unsolicited(engine.fault(&f));
                    apply(fx, &mut links, &mut uart_faults);
                    match cmd.map(|c| links.fault_all(c)) {
                        Some(ids) if !ids.is_empty() => {
                            debug!(?ids, fault = %f, "waiting for the links to end");
                            link_faults.push((ids, done));
                            link_fault_deadline = Some(tokio::time::Instant::now() + LINK_FAULT_WAIT);
                        }
                        Some(_) => {
                            if f != Fault::Blackhole {
                                tracing::info!(fault = %f, "no open link: nothing to close");
                            }
                            let _ = done.send(());
                        }
                        None => {
                            let _ = done.send(());
                        }
                    }
                }
            },
            read = rd.read(&mut buf) => match read {
                Ok(0) => {
                    // Cannot happen while we hold the slave open; do not spin if it does.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Ok(n) => {
                    debug!(input = %String::from_utf8_lossy(&buf[..n]).escape_debug(), "uart ->");
                    tap.push(true, &buf[..n]);
                    let fx = uart_faults.answer(engine.feed(&buf[..n]));
                    let due = due_on_requests(&fx, &mut armed);
                    apply(fx, &mut links, &mut uart_faults);
                    fire(due);
                }
                Err(e) => {
                    warn!(error = %e, "UART read failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(ev) = net_rx.recv() => {
                let ended = matches!(
                    ev.kind,
                    crate::net::NetEventKind::Closed(_) | crate::net::NetEventKind::ConnectFailed(_)
                )
                .then_some(ev.link);
                let connack = matches!(
                    ev.kind,
                    crate::net::NetEventKind::ConnAck(crate::net::ConnectReturnCode::Success)
                );
                let fx = uart_faults.unsolicited(engine.net_event(ev));
                let mut due = due_on_requests(&fx, &mut armed);
                apply(fx, &mut links, &mut uart_faults);
                if connack {
                    due.extend(take_armed(&mut armed, |t| *t == Trigger::OnConnack));
                }
                fire(due);
                if let Some(link) = ended {
                    for (waiting, _) in &mut link_faults {
                        waiting.retain(|l| *l != link);
                    }
                    let (applied, waiting): (Vec<_>, Vec<_>) =
                        link_faults.drain(..).partition(|(w, _)| w.is_empty());
                    link_faults = waiting;
                    for (_, done) in applied {
                        let _ = done.send(());
                    }
                    if link_faults.is_empty() {
                        link_fault_deadline = None;
                    }
                }
            }
            _ = tokio::time::sleep_until(link_fault_deadline.unwrap_or_else(tokio::time::Instant::now)), if link_fault_deadline.is_some() => {
                warn!("links did not report a fault in time");
                for (_, done) in link_faults.drain(..) {
                    let _ = done.send(());
                }
                link_fault_deadline = None;
            }
            Some(id) = timer_rx.recv() => {
                let fx = uart_faults.unsolicited(engine.timer(id));
                apply(fx, &mut links, &mut uart_faults)
            }
        }
    }
    drop(links);
    drop(out_tx);
    // Flush what is queued, but a host that stopped reading must not hold up the exit: the
    // writer may be blocked on a full PTY buffer.
    let mut writer = writer;
    if tokio::time::timeout(std::time::Duration::from_millis(500), &mut writer)
        .await
        .is_err()
    {
        warn!("UART output not drained at shutdown (the host is not reading)");
        writer.abort();
    }
}

/// Removes and returns the armed faults whose trigger matches.
fn take_armed(armed: &mut Vec<(Trigger, Fault)>, hit: impl Fn(&Trigger) -> bool) -> Vec<Fault> {
    let (due, keep): (Vec<_>, Vec<_>) = armed.drain(..).partition(|(t, _)| hit(t));
    *armed = keep;
    due.into_iter().map(|(_, f)| f).collect()
}

/// The armed faults that the modem's requests in `effects` set off (PUBLISH counts down,
/// SUBSCRIBE fires).
fn due_on_requests(effects: &[Effect], armed: &mut Vec<(Trigger, Fault)>) -> Vec<Fault> {
    use crate::net::{MqttOp, NetRequest};
    let mut due = Vec::new();
    if armed.is_empty() {
        return due;
    }
    for e in effects {
        match e {
            Effect::Net(NetRequest::Mqtt {
                op: MqttOp::Publish { .. },
                ..
            }) => {
                for (t, _) in armed.iter_mut() {
                    if let Trigger::OnPublish(n) = t {
                        *n = n.saturating_sub(1);
                    }
                }
                due.extend(take_armed(armed, |t| *t == Trigger::OnPublish(0)));
            }
            Effect::Net(NetRequest::Mqtt {
                op: MqttOp::Subscribe(_),
                ..
            }) => due.extend(take_armed(armed, |t| *t == Trigger::OnSubscribe)),
            _ => {}
        }
    }
    due
}

/// Writes `bytes` in random pieces of 1 to 8 bytes, each flushed and a moment apart, so the
/// host's reads see them separately (fault `uart-fragment`).
async fn write_fragmented<W: tokio::io::AsyncWrite + Unpin>(
    wr: &mut W,
    bytes: &[u8],
    seed: &mut u64,
) -> std::io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (next_random(seed) % 8 + 1) as usize;
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        wr.write_all(piece).await?;
        wr.flush().await?;
        rest = tail;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    Ok(())
}

/// xorshift64: the UART faults need variety, not quality.
fn next_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// UART faults that rearrange or add to the module's output: `uart-garbage` and
/// `urc-in-response`. Pure, so they are tested without a PTY.
#[derive(Debug)]
struct UartFaults {
    /// Noise bytes before each line.
    garbage: bool,
    /// The next unsolicited output is held for the next command's answer.
    armed: bool,
    /// Held unsolicited output (and whatever followed it, to keep the order).
    held: Option<Vec<u8>>,
    seed: u64,
}

impl Default for UartFaults {
    fn default() -> Self {
        UartFaults {
            garbage: false,
            armed: false,
            held: None,
            seed: 0x853C_49E6_748F_EA9B,
        }
    }
}

/// What `uart-garbage` puts before a line: bytes no AT line holds.
const NOISE: &[u8] = &[0x00, 0xFF, 0xFE, 0x80, 0x1A];

impl UartFaults {
    /// Output nobody asked for (network events, faults, timers): held under `urc-in-response`.
    fn unsolicited(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        if !self.armed && self.held.is_none() {
            return effects;
        }
        let mut rest = Vec::with_capacity(effects.len());
        for e in effects {
            match e {
                Effect::Uart(bytes) => {
                    self.armed = false;
                    tracing::info!(urc = %String::from_utf8_lossy(&bytes).escape_debug(), "fault urc-in-response: URC held for the next answer");
                    self.held.get_or_insert_with(Vec::new).extend(bytes);
                }
                other => rest.push(other),
            }
        }
        rest
    }

    /// Output answering the host: a held URC goes in after the echo, before the answer (at the
    /// answer's first `\r\n`).
    fn answer(&mut self, mut effects: Vec<Effect>) -> Vec<Effect> {
        let Some(held) = self.held.take() else {
            return effects;
        };
        for e in &mut effects {
            if let Effect::Uart(bytes) = e {
                if let Some(at) = bytes.windows(2).position(|w| w == b"\r\n") {
                    bytes.splice(at..at, held);
                    return effects;
                }
            }
        }
        // Only echo so far: keep waiting for the answer.
        self.held = Some(held);
        effects
    }

    /// Noise before a line under `uart-garbage`: before a write that starts a line, or after
    /// the echo that starts a write (at its first `\r\n`, which no echo holds). Never inside
    /// the rest, which may be a message payload.
    fn noise(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        if !self.garbage {
            return bytes;
        }
        let at = if bytes.starts_with(b"\r\n") {
            0
        } else {
            match bytes.windows(3).position(|w| w == b"\r\r\n") {
                Some(p) => p + 1,
                None => return bytes,
            }
        };
        let n = (next_random(&mut self.seed) % 4 + 1) as usize;
        let noise: Vec<u8> = (0..n)
            .map(|_| NOISE[(next_random(&mut self.seed) % NOISE.len() as u64) as usize])
            .collect();
        bytes.splice(at..at, noise);
        bytes
    }
}

/// Lets the UART (which owns the PTY and the link file) be split like a stream.
struct UartIo(Uart);

impl tokio::io::AsyncRead for UartIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0.pty).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for UartIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0.pty).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0.pty).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0.pty).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uart(b: &[u8]) -> Effect {
        Effect::Uart(b.to_vec())
    }

    #[test]
    fn publish_triggers_count_down_and_subscribe_fires_once() {
        use crate::net::{MqttOp, NetRequest, QoS};
        let publish = Effect::Net(NetRequest::Mqtt {
            link: 1,
            op: MqttOp::Publish {
                topic: "t".into(),
                qos: QoS::AtMostOnce,
                retain: false,
                payload: bytes::Bytes::new(),
            },
        });
        let subscribe = Effect::Net(NetRequest::Mqtt {
            link: 1,
            op: MqttOp::Subscribe(vec![("t".into(), QoS::AtMostOnce)]),
        });
        let mut armed = vec![
            (Trigger::OnPublish(2), Fault::Closed),
            (Trigger::OnSubscribe, Fault::Reset),
            (Trigger::OnConnack, Fault::Signal(1)),
        ];
        assert_eq!(
            due_on_requests(std::slice::from_ref(&publish), &mut armed),
            vec![]
        );
        assert_eq!(
            due_on_requests(std::slice::from_ref(&subscribe), &mut armed),
            vec![Fault::Reset]
        );
        assert_eq!(due_on_requests(&[subscribe], &mut armed), vec![]);
        assert_eq!(
            due_on_requests(std::slice::from_ref(&publish), &mut armed),
            vec![Fault::Closed]
        );
        assert_eq!(due_on_requests(&[publish], &mut armed), vec![]);
        assert_eq!(
            take_armed(&mut armed, |t| *t == Trigger::OnConnack),
            vec![Fault::Signal(1)]
        );
        assert!(armed.is_empty());
    }

    #[test]
    fn urc_in_response_goes_between_echo_and_answer() {
        let mut f = UartFaults::default();
        // Not armed: nothing changes.
        assert_eq!(
            f.unsolicited(vec![uart(b"\r\nCLOSED\r\n")]),
            vec![uart(b"\r\nCLOSED\r\n")]
        );
        f.armed = true;
        assert_eq!(f.unsolicited(vec![uart(b"\r\nCLOSED\r\n")]), vec![]);
        // What follows a held URC waits behind it.
        assert_eq!(f.unsolicited(vec![uart(b"\r\n+MSUB: 0\r\n")]), vec![]);
        // Echo only: still held.
        assert_eq!(f.answer(vec![uart(b"AT+CS")]), vec![uart(b"AT+CS")]);
        assert_eq!(
            f.answer(vec![uart(b"Q\r\r\n+CSQ: 29,99\r\n\r\nOK\r\n")]),
            vec![uart(
                b"Q\r\r\nCLOSED\r\n\r\n+MSUB: 0\r\n\r\n+CSQ: 29,99\r\n\r\nOK\r\n"
            )]
        );
        // Only the next URC.
        assert_eq!(
            f.unsolicited(vec![uart(b"\r\nX\r\n")]),
            vec![uart(b"\r\nX\r\n")]
        );
        assert_eq!(
            f.answer(vec![uart(b"\r\nOK\r\n")]),
            vec![uart(b"\r\nOK\r\n")]
        );
    }

    #[test]
    fn garbage_goes_before_lines_only() {
        let mut f = UartFaults::default();
        assert_eq!(f.noise(b"\r\nOK\r\n".to_vec()), b"\r\nOK\r\n");
        f.garbage = true;
        for _ in 0..50 {
            let out = f.noise(b"\r\nOK\r\n".to_vec());
            let noise = out.len() - 6;
            assert!((1..=4).contains(&noise), "{out:?}");
            assert!(out[..noise].iter().all(|b| NOISE.contains(b)), "{out:?}");
            assert!(out.ends_with(b"\r\nOK\r\n"));
        }
        // An echo is not a line: untouched; after it, before the answer.
        assert_eq!(f.noise(b"AT\r".to_vec()), b"AT\r");
        let out = f.noise(b"AT\r\r\nOK\r\n".to_vec());
        assert!(out.starts_with(b"AT\r") && out.ends_with(b"\r\nOK\r\n") && out.len() > 9);
        assert!(
            out[3..out.len() - 6].iter().all(|b| NOISE.contains(b)),
            "{out:?}"
        );
    }

    /// Records each write call's size.
    #[derive(Default)]
    struct Writes(Vec<usize>, Vec<u8>);

    impl tokio::io::AsyncWrite for Writes {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.0.push(buf.len());
            self.1.extend_from_slice(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fragments_are_small_and_varied() {
        let mut w = Writes::default();
        let data = b"\r\n+CGMR: \"AirM2M_780E_V1169_LTE_AT\"\r\n\r\nOK\r\n";
        let mut seed = 7u64;
        write_fragmented(&mut w, data, &mut seed).await.unwrap();
        assert_eq!(w.1, data);
        assert!(w.0.iter().all(|n| (1..=8).contains(n)), "{:?}", w.0);
        assert!(w.0.len() >= data.len() / 8, "{:?}", w.0);
        let sizes: std::collections::HashSet<_> = w.0.iter().collect();
        assert!(sizes.len() > 1, "always the same size: {:?}", w.0);
    }

    #[tokio::test(start_paused = true)]
    async fn fragments_carry_every_byte_in_order() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let mut seed = 1u64;
        write_fragmented(&mut a, &data, &mut seed).await.unwrap();
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, data);
    }
}
