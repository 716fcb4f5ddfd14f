//! One TCP link of the modem, run as a task: connect, then MQTT 3.1.1 over any byte stream.
//!
//! The session side is generic over `AsyncRead + AsyncWrite` (the rumqttc way), so the TLS
//! link wraps the same code.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    Connect, LastWill, Login, Packet, PubAck, PubComp, PubRec, PubRel, Publish, Subscribe,
    Unsubscribe,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_rustls::TlsConnector;
use tracing::{debug, info, warn};

use super::{CloseReason, HostPort, LinkId, MqttOp, NetEvent, NetEventKind, TlsOptions};

/// Largest MQTT packet accepted from the broker. The module's own limits are smaller (4100
/// bytes of payload); anything bigger is a broken peer.
const MAX_PACKET: usize = 1 << 20;

/// How long a TCP connect may take before `CONNECT FAIL`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the modem task sends to a running link.
#[derive(Debug, Clone)]
pub enum LinkCmd {
    Mqtt(MqttOp),
    /// Bytes for a raw socket link ([`super::socket`]); an MQTT link ignores them.
    Send(bytes::Bytes),
    Close,
    /// Fault `closed`: the link ends as if the peer had closed it. The socket is shut down
    /// (FIN, so the broker sees the connection end without DISCONNECT) and the modem is told
    /// [`CloseReason::PeerClosed`].
    PeerClose,
    /// Fault `reset`: the socket is aborted (`SO_LINGER` 0, so the broker gets an RST) and the
    /// modem is told [`CloseReason::Reset`].
    Reset,
    /// Fault `blackhole`: from now on every byte either way vanishes, FIN and RST included.
    /// The modem's keepalive expires (`Closed(KeepaliveTimeout)`), and the socket is kept
    /// open, silent, so the broker sees nothing either until its own keepalive (1.5 x) ends
    /// the session and publishes the will.
    Blackhole,
}

/// Fault `latency MS`: a delay (with +-25 % jitter) before each packet goes out and before each
/// packet that came in is handled, on every link, open or new. Shared by the links.
#[derive(Debug, Clone, Default)]
pub struct Latency(Arc<std::sync::atomic::AtomicU64>);

impl Latency {
    pub fn set(&self, ms: u64) {
        self.0.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits the current latency, jittered; at once when it is 0.
    pub(crate) async fn wait(&self, seed: &mut u64) {
        let ms = self.0.load(std::sync::atomic::Ordering::Relaxed);
        if ms == 0 {
            return;
        }
        // xorshift: cheap, and reproducible jitter is not needed.
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let jitter = ms / 4;
        let ms = ms - jitter + (*seed % (2 * jitter + 1));
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// The modem cannot take more from the network: its UART output is backed up because the host
/// reads more slowly than messages arrive. While raised, the links stop reading their sockets,
/// so TCP slows the broker down, as the module's own small buffers would (raised and lowered
/// by the UART writer, `uart/writer.rs`). Shared by the links.
#[derive(Debug, Clone, Default)]
pub struct Backpressure(Arc<BackpressureInner>);

#[derive(Debug, Default)]
struct BackpressureInner {
    raised: std::sync::atomic::AtomicBool,
    lowered: tokio::sync::Notify,
}

impl Backpressure {
    pub fn set(&self, raised: bool) {
        let was = self
            .0
            .raised
            .swap(raised, std::sync::atomic::Ordering::Relaxed);
        if was && !raised {
            self.0.lowered.notify_waiters();
        }
    }

    pub fn is_raised(&self) -> bool {
        self.0.raised.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Resolves when the back-pressure is lowered next. Register it (`enable`) before reading
    /// [`Backpressure::is_raised`], so that a lowering in between is not missed.
    pub(crate) fn lowered(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.lowered.notified()
    }
}

/// How long a blackholed socket is held after the modem gave up on it, at most.
const BLACKHOLE_HOLD: Duration = Duration::from_secs(600);

/// A blackholed link the module gave up on: the socket stays open and every byte from the
/// broker vanishes, for up to [`BLACKHOLE_HOLD`] (the network never tells the broker).
async fn hold_silently<R: AsyncRead + Unpin, W>(mut rd: R, wr: W) {
    let mut sink = [0u8; 1024];
    let _hold = wr;
    let _ = tokio::time::timeout(BLACKHOLE_HOLD, async {
        while let Ok(1..) = rd.read(&mut sink).await {}
    })
    .await;
}

/// A stream that can be made to end with an RST instead of a FIN when dropped.
pub trait Abort {
    fn abort_on_drop(&self);
}

impl Abort for TcpStream {
    fn abort_on_drop(&self) {
        if let Err(e) = self.set_zero_linger() {
            warn!(error = %e, "cannot set SO_LINGER 0: the link ends with a FIN");
        }
    }
}

impl Abort for tokio_rustls::client::TlsStream<TcpStream> {
    fn abort_on_drop(&self) {
        self.get_ref().0.abort_on_drop()
    }
}

impl Abort for tokio::io::DuplexStream {
    fn abort_on_drop(&self) {}
}

/// Connects to `target` (then handshakes TLS when `tls` is given) and runs the link until it
/// ends. Every outcome is reported on `events`; a TLS failure of any kind (a certificate that
/// does not parse, an unknown CA, a wrong name, a refused client certificate) is a
/// `ConnectFailed`, as a failed connect is on the module.
pub async fn run(
    link: LinkId,
    target: HostPort,
    tls: Option<TlsOptions>,
    commands: mpsc::UnboundedReceiver<LinkCmd>,
    events: mpsc::UnboundedSender<NetEvent>,
    latency: Latency,
    backpressure: Backpressure,
) {
    let send = |kind| {
        let _ = events.send(NetEvent { link, kind });
    };
    let (stream, _) = match dial(link, &target, tls.as_ref()).await {
        Ok(dialed) => dialed,
        Err(why) => return send(NetEventKind::ConnectFailed(why)),
    };
    let mut session = Session::new(link, events.clone());
    session.latency = latency;
    session.backpressure = backpressure;
    send(NetEventKind::Connected);
    let ended = match stream {
        Dialed::Tcp(s) => session.run(s, commands).await,
        Dialed::Tls(s) => session.run(*s, commands).await,
    };
    if let Some(reason) = ended {
        send(NetEventKind::Closed(reason));
    }
}

/// A TCP stream to the target, or TLS over one.
pub(crate) enum Dialed {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Connects to `target` within [`CONNECT_TIMEOUT`], then (with `tls`) handshakes TLS within
/// it too; returns the stream and the peer's address. `Err` is the `ConnectFailed` text (and
/// was logged). The TLS configuration is built first: a certificate that does not parse fails
/// the connect without touching the network. Both MQTT links and raw sockets dial here.
pub(crate) async fn dial(
    link: LinkId,
    target: &HostPort,
    tls: Option<&TlsOptions>,
) -> Result<(Dialed, std::net::SocketAddr), String> {
    let tls = match tls.map(tls_parts).transpose() {
        Ok(t) => t,
        Err(e) => {
            warn!(link, %target, error = %e, "TLS configuration refused");
            return Err(format!("TLS configuration: {e}"));
        }
    };
    let connect = TcpStream::connect((target.host.as_str(), target.port));
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            info!(link, %target, error = %e, "TCP connect failed");
            return Err(e.to_string());
        }
        Err(_) => {
            info!(link, %target, "TCP connect timed out");
            return Err("timed out".into());
        }
    };
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    info!(link, %target, %peer, "TCP connected");
    let Some((connector, name)) = tls else {
        return Ok((Dialed::Tcp(stream), peer));
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, stream)).await {
        Ok(Ok(tls)) => {
            let (_, conn) = tls.get_ref();
            info!(link, %target, version = ?conn.protocol_version(), suite = ?conn.negotiated_cipher_suite().map(|s| s.suite()), "TLS handshake done");
            Ok((Dialed::Tls(Box::new(tls)), peer))
        }
        Ok(Err(e)) => {
            info!(link, %target, error = %e, "TLS handshake failed");
            Err(format!("TLS handshake: {e}"))
        }
        Err(_) => {
            info!(link, %target, "TLS handshake timed out");
            Err("TLS handshake timed out".into())
        }
    }
}

/// The connector and server name for a TLS link: a certificate that does not parse fails
/// here, without touching the network.
pub(crate) fn tls_parts(
    o: &TlsOptions,
) -> Result<(TlsConnector, rustls::pki_types::ServerName<'static>), crate::tls::TlsError> {
    let config = crate::tls::client_config(o)?;
    let name = crate::tls::server_name(&o.server_name)?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}

/// The MQTT client state of one link. It holds no socket; [`Session::run`] lends it one.
struct Session {
    link: LinkId,
    events: mpsc::UnboundedSender<NetEvent>,
    keepalive: Option<Duration>,
    last_sent: Instant,
    ping_outstanding: bool,
    next_pkid: u16,
    /// Our QoS 1/2 publishes, subscribes and unsubscribes waiting for their ack.
    outgoing: HashMap<u16, Pending>,
    /// QoS 2 publishes from the broker between PUBREC and PUBREL (exactly-once dedup).
    incoming_qos2: HashSet<u16>,
    /// Fault `blackhole`: nothing is sent, nothing received.
    blackhole: bool,
    latency: Latency,
    backpressure: Backpressure,
    jitter_seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Publish,
    Subscribe,
    Unsubscribe,
}

impl Session {
    fn new(link: LinkId, events: mpsc::UnboundedSender<NetEvent>) -> Self {
        Session {
            link,
            events,
            keepalive: None,
            last_sent: Instant::now(),
            ping_outstanding: false,
            next_pkid: 0,
            outgoing: HashMap::new(),
            incoming_qos2: HashSet::new(),
            blackhole: false,
            latency: Latency::default(),
            backpressure: Backpressure::default(),
            jitter_seed: 0x9E37_79B9_7F4A_7C15 ^ link,
        }
    }

    fn emit(&self, kind: NetEventKind) {
        let _ = self.events.send(NetEvent {
            link: self.link,
            kind,
        });
    }

    /// Runs until the link ends. Returns `None` when the modem closed it (or went away), and
    /// the reason when the network did.
    async fn run<S>(
        mut self,
        stream: S,
        mut commands: mpsc::UnboundedReceiver<LinkCmd>,
    ) -> Option<CloseReason>
    where
        S: AsyncRead + AsyncWrite + Unpin + Abort + Send + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut inbuf = BytesMut::with_capacity(4096);
        // Under `blackhole`, the peer's FIN or RST vanishes too: stop reading, keep waiting.
        let mut reading = true;
        let backpressure = self.backpressure.clone();
        loop {
            let ping_at = self.keepalive.map(|k| self.last_sent + k);
            // Registered before the flag is read, so a lowering in between is not missed.
            let lowered = backpressure.0.lowered.notified();
            tokio::pin!(lowered);
            lowered.as_mut().enable();
            let paused = backpressure.is_raised();
            tokio::select! {
                _ = &mut lowered, if paused => {}
                cmd = commands.recv() => match cmd {
                    None => {
                        // The modem is gone: a power cut. Drop the socket without a word.
                        return None;
                    }
                    Some(LinkCmd::Close) => {
                        let _ = wr.shutdown().await;
                        return None;
                    }
                    Some(LinkCmd::PeerClose) => {
                        info!(link = self.link, "fault: the peer closes the link");
                        let _ = wr.shutdown().await;
                        return Some(CloseReason::PeerClosed);
                    }
                    Some(LinkCmd::Blackhole) => {
                        info!(link = self.link, "fault: the link is blackholed");
                        self.blackhole = true;
                    }
                    Some(LinkCmd::Reset) => {
                        info!(link = self.link, "fault: the link is reset");
                        let stream = rd.unsplit(wr);
                        stream.abort_on_drop();
                        drop(stream);
                        return Some(CloseReason::Reset("connection reset (fault)".into()));
                    }
                    Some(LinkCmd::Send(_)) => {
                        warn!(link = self.link, "raw bytes for an MQTT link: dropped");
                    }
                    Some(LinkCmd::Mqtt(op)) => {
                        let packet = self.packet_for(op);
                        if let Err(reason) = self.write(&mut wr, &packet).await {
                            return Some(reason);
                        }
                    }
                },
                read = rd.read_buf(&mut inbuf), if reading && !paused => {
                    match self.on_read(read, &mut inbuf, &mut wr).await {
                        Ok(more) => reading = more,
                        Err(reason) => return Some(reason),
                    }
                }
                _ = sleep_until(ping_at.unwrap_or_else(Instant::now)), if ping_at.is_some() => {
                    if self.ping_outstanding {
                        warn!(link = self.link, "no PINGRESP within the keepalive interval");
                        if self.blackhole {
                            // The module gives up; the network never tells the broker.
                            tokio::spawn(hold_silently(rd, wr));
                        }
                        return Some(CloseReason::KeepaliveTimeout);
                    }
                    self.ping_outstanding = true;
                    if let Err(reason) = self.write(&mut wr, &Packet::PingReq).await {
                        return Some(reason);
                    }
                }
            }
        }
    }

    /// What a read from the broker brought: its packets handled (after the latency fault's
    /// delay), or dropped under `blackhole`. `Ok(false)`: stop reading (a blackholed link's
    /// FIN or RST vanishes too); `Err`: the link ended.
    async fn on_read<W: AsyncWrite + Unpin>(
        &mut self,
        read: std::io::Result<usize>,
        inbuf: &mut BytesMut,
        wr: &mut W,
    ) -> Result<bool, CloseReason> {
        match read {
            Ok(0) | Err(_) if self.blackhole => return Ok(false),
            Ok(0) => return Err(CloseReason::PeerClosed),
            Err(e) => return Err(CloseReason::Reset(e.to_string())),
            Ok(_) if self.blackhole => inbuf.clear(),
            Ok(_) => loop {
                match Packet::read(inbuf, MAX_PACKET) {
                    Ok(packet) => {
                        let mut seed = self.jitter_seed;
                        self.latency.wait(&mut seed).await;
                        self.jitter_seed = seed;
                        self.incoming(packet, wr).await?;
                    }
                    Err(CodecError::InsufficientBytes(_)) => break,
                    Err(e) => return Err(CloseReason::Protocol(e.to_string())),
                }
            },
        }
        Ok(true)
    }

    fn pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            if !self.outgoing.contains_key(&self.next_pkid) {
                return self.next_pkid;
            }
        }
    }

    fn packet_for(&mut self, op: MqttOp) -> Packet {
        match op {
            MqttOp::Connect(p) => {
                self.keepalive = (p.keepalive > 0).then(|| Duration::from_secs(p.keepalive.into()));
                let mut c = Connect::new(p.client_id);
                c.keep_alive = p.keepalive;
                c.clean_session = p.clean_session;
                c.login = p
                    .username
                    .map(|u| Login::new(u, p.password.unwrap_or_default()));
                c.last_will = p
                    .will
                    .map(|w| LastWill::new(w.topic, w.payload, w.qos, w.retain));
                Packet::Connect(c)
            }
            MqttOp::Subscribe(filters) => {
                let pkid = self.pkid();
                self.outgoing.insert(pkid, Pending::Subscribe);
                let mut s = Subscribe::new_many(
                    filters
                        .into_iter()
                        .map(|(t, q)| rumqttc::mqttbytes::v4::SubscribeFilter::new(t, q)),
                );
                s.pkid = pkid;
                Packet::Subscribe(s)
            }
            MqttOp::Unsubscribe(topics) => {
                let pkid = self.pkid();
                self.outgoing.insert(pkid, Pending::Unsubscribe);
                let mut u = Unsubscribe::new(topics.first().cloned().unwrap_or_default());
                u.topics = topics;
                u.pkid = pkid;
                Packet::Unsubscribe(u)
            }
            MqttOp::Publish {
                topic,
                qos,
                retain,
                payload,
            } => {
                let mut p = Publish::from_bytes(topic, qos, payload);
                p.retain = retain;
                if qos != QoS::AtMostOnce {
                    p.pkid = self.pkid();
                    self.outgoing.insert(p.pkid, Pending::Publish);
                }
                Packet::Publish(p)
            }
            MqttOp::Disconnect => Packet::Disconnect,
        }
    }

    async fn write<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        packet: &Packet,
    ) -> Result<(), CloseReason> {
        let mut buf = BytesMut::with_capacity(packet.size() + 5);
        packet
            .write(&mut buf, usize::MAX)
            .map_err(|e| CloseReason::Protocol(e.to_string()))?;
        if self.blackhole {
            debug!(link = self.link, ?packet, "-> blackhole");
            self.last_sent = Instant::now();
            return Ok(());
        }
        let mut seed = self.jitter_seed;
        self.latency.wait(&mut seed).await;
        self.jitter_seed = seed;
        debug!(link = self.link, ?packet, "-> broker");
        wr.write_all(&buf)
            .await
            .map_err(|e| CloseReason::Reset(e.to_string()))?;
        self.last_sent = Instant::now();
        Ok(())
    }

    async fn incoming<W: AsyncWrite + Unpin>(
        &mut self,
        packet: Packet,
        wr: &mut W,
    ) -> Result<(), CloseReason> {
        debug!(link = self.link, ?packet, "<- broker");
        match packet {
            Packet::ConnAck(ack) => self.emit(NetEventKind::ConnAck(ack.code)),
            Packet::Publish(p) => {
                let deliver = match p.qos {
                    QoS::AtMostOnce => true,
                    QoS::AtLeastOnce => {
                        self.write(wr, &Packet::PubAck(PubAck::new(p.pkid))).await?;
                        true
                    }
                    QoS::ExactlyOnce => {
                        let first = self.incoming_qos2.insert(p.pkid);
                        self.write(wr, &Packet::PubRec(PubRec::new(p.pkid))).await?;
                        first
                    }
                };
                if deliver {
                    self.emit(NetEventKind::Message {
                        topic: p.topic,
                        qos: p.qos,
                        retain: p.retain,
                        payload: p.payload,
                    });
                }
            }
            Packet::PubRel(rel) => {
                self.incoming_qos2.remove(&rel.pkid);
                self.write(wr, &Packet::PubComp(PubComp::new(rel.pkid)))
                    .await?;
            }
            Packet::PubAck(ack) => {
                if self.outgoing.remove(&ack.pkid) == Some(Pending::Publish) {
                    self.emit(NetEventKind::PubAck);
                }
            }
            Packet::PubRec(rec) => {
                if self.outgoing.get(&rec.pkid) == Some(&Pending::Publish) {
                    self.write(wr, &Packet::PubRel(PubRel::new(rec.pkid)))
                        .await?;
                    self.emit(NetEventKind::PubRec);
                }
            }
            Packet::PubComp(comp) => {
                if self.outgoing.remove(&comp.pkid) == Some(Pending::Publish) {
                    self.emit(NetEventKind::PubComp);
                }
            }
            Packet::SubAck(ack) => {
                if self.outgoing.remove(&ack.pkid) == Some(Pending::Subscribe) {
                    use rumqttc::mqttbytes::v4::SubscribeReasonCode as R;
                    let granted = ack
                        .return_codes
                        .iter()
                        .map(|c| match c {
                            R::Success(q) => Some(*q),
                            R::Failure => None,
                        })
                        .collect();
                    self.emit(NetEventKind::SubAck(granted));
                }
            }
            Packet::UnsubAck(ack) => {
                if self.outgoing.remove(&ack.pkid) == Some(Pending::Unsubscribe) {
                    self.emit(NetEventKind::UnsubAck);
                }
            }
            Packet::PingResp => self.ping_outstanding = false,
            other => {
                return Err(CloseReason::Protocol(format!(
                    "unexpected packet from the broker: {other:?}"
                )));
            }
        }
        Ok(())
    }
}

/// The modem's handle on its links: routes each request to the task that owns the link.
pub struct Links {
    /// Fault `latency MS`, for every link.
    pub latency: Latency,
    /// Raised by the UART writer while its queue is long: no link reads its socket.
    pub backpressure: Backpressure,
    router: super::Router,
    events: mpsc::UnboundedSender<NetEvent>,
    links: HashMap<LinkId, mpsc::UnboundedSender<LinkCmd>>,
}

impl Links {
    pub fn new(router: super::Router, events: mpsc::UnboundedSender<NetEvent>) -> Self {
        Links {
            latency: Latency::default(),
            backpressure: Backpressure::default(),
            router,
            events,
            links: HashMap::new(),
        }
    }

    pub fn handle(&mut self, req: super::NetRequest) {
        use super::NetRequest::*;
        match req {
            Open {
                link,
                host,
                port,
                tls,
            } => self.open(link, host, port, tls),
            Mqtt { link, op } => {
                if let Some(l) = self.links.get(&link) {
                    let _ = l.send(LinkCmd::Mqtt(op));
                }
            }
            Close { link } => {
                if let Some(l) = self.links.remove(&link) {
                    let _ = l.send(LinkCmd::Close);
                }
            }
            Http { link, req } => {
                let target = super::http::parse_url(&req.url).and_then(|url| {
                    let tls = url.https || req.tls.is_some();
                    let default = if tls {
                        self.router.default_https.as_ref()
                    } else {
                        self.router.default_http.as_ref()
                    };
                    self.router.route_service(&url.host, url.port, default)
                });
                let Some(target) = target else {
                    warn!(link, url = %req.url, "no route for the HTTP request");
                    let no_route = super::http::HttpError::NoRoute;
                    return self.refuse(link, NetEventKind::HttpFailed(no_route));
                };
                info!(link, url = %req.url, %target, "HTTP request");
                self.spawn(link, tracing::Span::current(), |rx, events, latency, _| {
                    super::http::run(link, target, req, rx, events, latency)
                });
            }
            SockOpen {
                link,
                proto,
                host,
                port,
                tls,
            } => self.open_socket(link, proto, host, port, tls),
            Resolve { link, host } => self.resolve(link, host),
            SockSend { link, data } => match self.links.get(&link) {
                Some(l) if l.send(LinkCmd::Send(data.clone())).is_ok() => {}
                _ => warn!(
                    link,
                    bytes = data.len(),
                    "send on a socket that is gone: dropped"
                ),
            },
        }
    }

    /// An MQTT link (plain or TLS) to the broker that `host` routes to, as its own task.
    fn open(&mut self, link: LinkId, host: String, port: u16, tls: Option<super::TlsOptions>) {
        let Some(target) = self.router.route(&host, tls.is_some()) else {
            let what = if tls.is_some() {
                "no TLS broker (the embedded one is off: give --tls-broker)"
            } else {
                "no route"
            };
            warn!(link, %host, port, "{what}");
            let why = format!("{what} for {host}:{port}");
            return self.refuse(link, NetEventKind::ConnectFailed(why));
        };
        info!(link, %host, port, %target, tls = tls.is_some(), "opening link");
        // Every line this link logs says which link (inside its modem's span).
        let span = tracing::info_span!("link", id = link, %host, port);
        self.spawn(link, span, |rx, events, latency, backpressure| {
            run(link, target, tls, rx, events, latency, backpressure)
        });
    }

    /// A name looked up as [`Router::lookup`](super::Router::lookup) says: an address at once,
    /// a name (a `--resolve` target's, or any under `--direct`) through the system's resolver,
    /// IPv4 first.
    fn resolve(&self, link: LinkId, host: String) {
        let found = self.router.lookup(&host);
        info!(link, %host, ?found, "DNS lookup");
        let Some(name) = found else {
            return self.refuse(link, NetEventKind::Resolved(None));
        };
        if let Ok(ip) = name.parse() {
            return self.refuse(link, NetEventKind::Resolved(Some(ip)));
        }
        let events = self.events.clone();
        tokio::spawn(async move {
            let addrs: Vec<_> = match tokio::net::lookup_host((name.as_str(), 0)).await {
                Ok(a) => a.map(|a| a.ip()).collect(),
                Err(e) => {
                    warn!(link, %name, "DNS lookup failed: {e}");
                    Vec::new()
                }
            };
            let ip = addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .copied();
            let _ = events.send(NetEvent {
                link,
                kind: NetEventKind::Resolved(ip),
            });
        });
    }

    /// Tells the modem that `link` did not start: `kind` says why.
    fn refuse(&self, link: LinkId, kind: NetEventKind) {
        let _ = self.events.send(NetEvent { link, kind });
    }

    /// Registers `link` (forgetting the links that ended) and runs its task in `span`. `task`
    /// makes it from the link's command receiver, the modem's event sender, and the shared
    /// latency and back-pressure.
    fn spawn<T>(
        &mut self,
        link: LinkId,
        span: tracing::Span,
        task: impl FnOnce(
            mpsc::UnboundedReceiver<LinkCmd>,
            mpsc::UnboundedSender<NetEvent>,
            Latency,
            Backpressure,
        ) -> T,
    ) where
        T: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        self.links.retain(|_, l| !l.is_closed());
        self.links.insert(link, tx);
        let (events, latency) = (self.events.clone(), self.latency.clone());
        let task = task(rx, events, latency, self.backpressure.clone());
        tokio::spawn(tracing::Instrument::instrument(task, span));
    }

    /// A raw TCP/UDP socket to where `host` routes (the echo service by default), as its own
    /// task.
    fn open_socket(
        &mut self,
        link: LinkId,
        proto: super::SockProto,
        host: String,
        port: u16,
        tls: Option<super::TlsOptions>,
    ) {
        let default = match (proto, &tls) {
            (super::SockProto::Tcp, None) => self.router.default_tcp.as_ref(),
            (super::SockProto::Udp, _) => self.router.default_udp.as_ref(),
            // No embedded TLS echo: a TLS socket needs --resolve or --direct.
            (super::SockProto::Tcp, Some(_)) => None,
        };
        let Some(target) = self.router.route_service(&host, port, default) else {
            warn!(link, %host, port, proto = proto.as_str(), "no route for the socket (give --resolve NAME=HOST:PORT or --direct)");
            let why =
                format!("no route for {host}:{port}: give --resolve {host}=HOST:PORT or --direct");
            return self.refuse(link, NetEventKind::ConnectFailed(why));
        };
        info!(link, proto = proto.as_str(), %host, port, %target, tls = tls.is_some(), "opening socket");
        let span = tracing::info_span!("link", id = link, proto = proto.as_str(), %host, port);
        let spec = super::socket::Spec {
            link,
            proto,
            target,
            tls,
        };
        self.spawn(link, span, |rx, events, latency, backpressure| {
            super::socket::run(spec, rx, events, latency, backpressure)
        });
    }

    /// Sends a fault command (`PeerClose` or `Reset`) to every open link. Returns the links
    /// that took it; each will report `Closed` (unless it was ending anyway).
    pub fn fault_all(&mut self, cmd: LinkCmd) -> Vec<LinkId> {
        if matches!(cmd, LinkCmd::Blackhole) {
            // Nothing to wait for: the links end when their keepalive says so.
            self.links.retain(|_, l| !l.is_closed());
            self.links.values().for_each(|l| {
                let _ = l.send(LinkCmd::Blackhole);
            });
            return Vec::new();
        }
        self.links.retain(|_, l| !l.is_closed());
        self.links
            .iter()
            .filter(|(_, l)| l.send(cmd.clone()).is_ok())
            .map(|(id, _)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paused tokio time: the delays are exact virtual time, not the machine's speed.
    #[tokio::test(start_paused = true)]
    async fn latency_waits_with_jitter_and_zero_is_off() {
        let l = Latency::default();
        let mut seed = 12345u64;
        let t = Instant::now();
        l.wait(&mut seed).await;
        assert_eq!(t.elapsed(), Duration::ZERO);
        l.set(400);
        let mut seen = HashSet::new();
        for _ in 0..20 {
            let t = Instant::now();
            l.wait(&mut seed).await;
            let ms = t.elapsed().as_millis();
            assert!((300..=500).contains(&ms), "{ms} ms");
            seen.insert(ms);
        }
        assert!(seen.len() > 1, "no jitter: {seen:?}");
    }
    use crate::net::{ConnectParams, MqttOp};
    use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode};
    use tokio::io::DuplexStream;

    /// The broker's end of an in-memory link.
    struct FakeBroker {
        io: DuplexStream,
        buf: BytesMut,
    }

    impl FakeBroker {
        async fn recv(&mut self) -> Packet {
            loop {
                match Packet::read(&mut self.buf, MAX_PACKET) {
                    Ok(p) => return p,
                    Err(CodecError::InsufficientBytes(_)) => {
                        let n = self.io.read_buf(&mut self.buf).await.unwrap();
                        assert!(n > 0, "the modem closed the link");
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }

        async fn send(&mut self, p: Packet) {
            let mut b = BytesMut::new();
            p.write(&mut b, usize::MAX).unwrap();
            self.io.write_all(&b).await.unwrap();
        }
    }

    struct Rig {
        broker: FakeBroker,
        cmds: mpsc::UnboundedSender<LinkCmd>,
        events: mpsc::UnboundedReceiver<NetEvent>,
        task: tokio::task::JoinHandle<Option<CloseReason>>,
    }

    async fn connected(keepalive: u16) -> Rig {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (cmds, rx) = mpsc::unbounded_channel();
        let (etx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(Session::new(7, etx).run(a, rx));
        let mut broker = FakeBroker {
            io: b,
            buf: BytesMut::new(),
        };
        let params = ConnectParams {
            client_id: "dev".into(),
            keepalive,
            clean_session: true,
            ..Default::default()
        };
        cmds.send(LinkCmd::Mqtt(MqttOp::Connect(params))).unwrap();
        let Packet::Connect(c) = broker.recv().await else {
            panic!("CONNECT first")
        };
        assert_eq!((c.client_id.as_str(), c.keep_alive), ("dev", keepalive));
        broker
            .send(Packet::ConnAck(ConnAck::new(
                ConnectReturnCode::Success,
                false,
            )))
            .await;
        let mut rig = Rig {
            broker,
            cmds,
            events,
            task,
        };
        assert_eq!(
            rig.event().await,
            NetEventKind::ConnAck(ConnectReturnCode::Success)
        );
        rig
    }

    impl Rig {
        async fn event(&mut self) -> NetEventKind {
            self.events.recv().await.expect("event").kind
        }
    }

    #[tokio::test(start_paused = true)]
    async fn keepalive_pings_and_gives_up_without_pingresp() {
        let mut r = connected(60).await;
        let t0 = Instant::now();
        assert_eq!(r.broker.recv().await, Packet::PingReq);
        assert!(
            t0.elapsed() >= Duration::from_secs(60),
            "no ping before the keepalive is due"
        );
        r.broker.send(Packet::PingResp).await;
        assert_eq!(r.broker.recv().await, Packet::PingReq);
        // This time the broker stays silent: the link is declared dead one interval later.
        assert_eq!(r.task.await.unwrap(), Some(CloseReason::KeepaliveTimeout));
    }

    #[tokio::test(start_paused = true)]
    async fn qos2_both_ways() {
        let mut r = connected(0).await;
        let publish = MqttOp::Publish {
            topic: "t".into(),
            qos: QoS::ExactlyOnce,
            retain: false,
            payload: "x".into(),
        };
        r.cmds.send(LinkCmd::Mqtt(publish)).unwrap();
        let Packet::Publish(p) = r.broker.recv().await else {
            panic!()
        };
        assert!(p.pkid != 0 && p.qos == QoS::ExactlyOnce);
        r.broker.send(Packet::PubRec(PubRec::new(p.pkid))).await;
        assert_eq!(r.event().await, NetEventKind::PubRec);
        assert_eq!(r.broker.recv().await, Packet::PubRel(PubRel::new(p.pkid)));
        r.broker.send(Packet::PubComp(PubComp::new(p.pkid))).await;
        assert_eq!(r.event().await, NetEventKind::PubComp);

        // Inbound: delivered once even when the broker re-sends before PUBREL.
        let mut inbound = Publish::new("down", QoS::ExactlyOnce, "y");
        inbound.pkid = 9;
        r.broker.send(Packet::Publish(inbound.clone())).await;
        assert_eq!(r.broker.recv().await, Packet::PubRec(PubRec::new(9)));
        inbound.dup = true;
        r.broker.send(Packet::Publish(inbound)).await;
        assert_eq!(r.broker.recv().await, Packet::PubRec(PubRec::new(9)));
        r.broker.send(Packet::PubRel(PubRel::new(9))).await;
        assert_eq!(r.broker.recv().await, Packet::PubComp(PubComp::new(9)));
        let NetEventKind::Message { topic, payload, .. } = r.event().await else {
            panic!()
        };
        assert_eq!((topic.as_str(), &payload[..]), ("down", &b"y"[..]));
        assert!(
            r.events.try_recv().is_err(),
            "the duplicate was not delivered twice"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn qos1_inbound_is_acked_and_peer_close_is_reported() {
        let mut r = connected(0).await;
        let mut inbound = Publish::new("down", QoS::AtLeastOnce, "z");
        inbound.pkid = 3;
        r.broker.send(Packet::Publish(inbound)).await;
        assert_eq!(r.broker.recv().await, Packet::PubAck(PubAck::new(3)));
        assert!(matches!(r.event().await, NetEventKind::Message { .. }));
        drop(r.broker);
        assert_eq!(r.task.await.unwrap(), Some(CloseReason::PeerClosed));
    }
}
