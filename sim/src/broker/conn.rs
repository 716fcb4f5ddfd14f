//! The per-connection task: frames bytes with rumqttc's v4 codec, enforces
//! the connection-level rules (CONNECT first, authentication, keepalive,
//! will), hands everything else to the [`Router`](super::router) and carries out what it
//! decides (through the [`Hub`]).
//!
//! One task per link selects over socket reads, socket writes, the router's wake-up for this
//! link, timers and close signals. Writes are cancel-safe futures inside the select, so a
//! client that stops reading can still be kicked.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, LastWill, Packet, PubAck, PubComp, PubRec, PubRel,
    Publish, UnsubAck,
};
use rumqttc::mqttbytes::{Error as CodecError, Protocol, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn};

use super::hub::{Hub, LinkIo};
use super::router::{CloseReason, Effects, Router};
use super::{topic, BrokerEvent, Inner};

/// Stop reading from the socket (and taking from the router) while this much output is
/// unsent, so a client that floods requests but never reads cannot grow our buffer.
const WRITE_HIGH_WATER: usize = 64 * 1024;
/// Packets taken from the router at a time.
const TAKE_BATCH: usize = 64;
/// How long a refused client gets to receive its CONNACK.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a connected link ended.
#[derive(Debug)]
enum End {
    /// DISCONNECT received: the will is discarded (MQTT-3.14.4-3).
    Disconnect,
    /// Broker shutdown.
    Shutdown,
    PeerClosed,
    Io(std::io::Error),
    KeepAlive,
    Protocol(String),
    Router(CloseReason),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Disconnect => f.write_str("DISCONNECT received"),
            End::Shutdown => f.write_str("broker shutdown"),
            End::PeerClosed => f.write_str("closed by peer"),
            End::Io(e) => write!(f, "I/O error: {e}"),
            End::KeepAlive => f.write_str("keepalive expired"),
            End::Protocol(why) => write!(f, "protocol error: {why}"),
            End::Router(reason) => write!(f, "closed by broker: {reason:?}"),
        }
    }
}

impl End {
    /// MQTT-3.1.2-8: the will is published whenever the network connection
    /// closes without a DISCONNECT. On broker shutdown nobody is left to
    /// receive it, so it is skipped.
    fn publishes_will(&self) -> bool {
        !matches!(self, End::Disconnect | End::Shutdown)
    }
}

/// Serve one byte stream until it closes.
pub(crate) async fn run<S>(stream: S, peer: String, inner: Arc<Inner>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = inner.shutdown.subscribe();
    if *shutdown.borrow_and_update() {
        return;
    }
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut rbuf = BytesMut::with_capacity(4096);
    let admitted = admit(
        &inner,
        &peer,
        &mut reader,
        &mut writer,
        &mut rbuf,
        &mut shutdown,
    )
    .await;
    let Some(connect) = admitted else {
        return;
    };
    let (mut conn, io) = Conn::open(inner, &connect, rbuf, &peer);
    let end = conn
        .serve(
            &mut reader,
            &mut writer,
            io,
            &mut shutdown,
            connect.keep_alive,
        )
        .await;
    // Detached from its session before the socket closes: a client that sees the close can
    // count on the session being offline.
    conn.close(&end, connect.last_will);
    drop((reader, writer));
    info!(client_id = conn.client_id, peer, reason = %end, "client disconnected");
    let _ = conn.inner.events.send(BrokerEvent::Disconnected {
        client_id: conn.client_id,
        graceful: matches!(end, End::Disconnect),
    });
}

/// Reads and checks the CONNECT, answering a refusal. `None`: the link is closed.
async fn admit<S: AsyncRead + AsyncWrite>(
    inner: &Inner,
    peer: &str,
    reader: &mut ReadHalf<S>,
    writer: &mut WriteHalf<S>,
    rbuf: &mut BytesMut,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Connect> {
    let connect = match await_connect(inner, peer, reader, rbuf, shutdown).await {
        Ok(c) => c,
        Err(Some(refusal)) => {
            refuse(peer, writer, refusal).await;
            return None;
        }
        Err(None) => return None,
    };
    if let Some(will) = &connect.last_will {
        // MQTT-3.1.2-14 / 3.1.3.2: the will topic is a topic name.
        if !topic::valid_topic(&will.topic) {
            info!(peer, topic = will.topic, "invalid will topic, closing");
            return None;
        }
    }
    if let Some(code) = check_connect(inner, &connect) {
        let _ = inner.events.send(BrokerEvent::Refused {
            client_id: connect.client_id.clone(),
            code,
        });
        refuse(peer, writer, code).await;
        return None;
    }
    Some(connect)
}

fn will_publish(will: LastWill) -> Publish {
    let mut p = Publish::from_bytes(will.topic, will.qos, will.message);
    p.retain = will.retain;
    p
}

/// Read until the first packet. `Err(Some(code))`: answer with that
/// CONNACK and close; `Err(None)`: just close.
async fn await_connect<R: AsyncRead + Unpin>(
    inner: &Inner,
    peer: &str,
    reader: &mut R,
    rbuf: &mut BytesMut,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Connect, Option<ConnectReturnCode>> {
    let started = Instant::now();
    let mut timeout_rx = inner.connect_timeout.subscribe();
    loop {
        if let Some(first) = first_packet(inner, peer, rbuf) {
            return first;
        }
        // Re-read on every loop so `set_connect_timeout` also applies to
        // links already waiting.
        let deadline = timeout_rx.borrow_and_update().map(|t| started + t);
        rbuf.reserve(4096);
        tokio::select! {
            _ = shutdown.changed() => return Err(None),
            _ = timeout_rx.changed() => {}
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                info!(peer, "no CONNECT within connect_timeout, closing");
                return Err(None);
            }
            n = reader.read_buf(rbuf) => match n {
                Ok(0) | Err(_) => {
                    debug!(peer, "closed before CONNECT");
                    return Err(None);
                }
                Ok(_) => {}
            },
        }
    }
}

/// The first packet, once it is all in `rbuf`: CONNECT, or the answer to anything else.
fn first_packet(
    inner: &Inner,
    peer: &str,
    rbuf: &mut BytesMut,
) -> Option<Result<Connect, Option<ConnectReturnCode>>> {
    match Packet::read(rbuf, inner.max_packet_size) {
        Ok(Packet::Connect(c)) => {
            debug!(peer, client_id = c.client_id, "<- CONNECT");
            Some(Ok(c))
        }
        Ok(other) => {
            // MQTT-3.1.0-1: the first packet must be CONNECT.
            info!(
                peer,
                packet = summary(&other),
                "first packet is not CONNECT, closing"
            );
            Some(Err(None))
        }
        Err(CodecError::InsufficientBytes(_)) => None,
        Err(CodecError::InvalidProtocolLevel(level)) => {
            // MQTT-3.1.2-2: unsupported level -> CONNACK 0x01, close.
            info!(peer, level, "unsupported protocol level");
            Some(Err(Some(ConnectReturnCode::RefusedProtocolVersion)))
        }
        Err(e) => {
            info!(peer, error = %e, "malformed CONNECT, closing");
            Some(Err(None))
        }
    }
}

/// The CONNECT checks in the order of section 3.1.4 / 3.2.2.3.
fn check_connect(inner: &Inner, c: &Connect) -> Option<ConnectReturnCode> {
    if c.protocol != Protocol::V4 {
        // MQTT-3.1.2-2 (rumqttc also parses level 5).
        return Some(ConnectReturnCode::RefusedProtocolVersion);
    }
    if c.client_id.is_empty() && !c.clean_session {
        // MQTT-3.1.3-8.
        return Some(ConnectReturnCode::BadClientId);
    }
    match &c.login {
        Some(login) => {
            let ok = inner
                .accounts
                .iter()
                .any(|(u, p)| *u == login.username && *p == login.password);
            (!ok).then_some(ConnectReturnCode::BadUserNamePassword)
        }
        None if inner.allow_anonymous => None,
        None => Some(ConnectReturnCode::NotAuthorized),
    }
}

/// MQTT-3.2.2-5: a refusing CONNACK, then the connection is closed.
async fn refuse<W: AsyncWrite + Unpin>(peer: &str, writer: &mut W, code: ConnectReturnCode) {
    info!(peer, ?code, "connection refused");
    let mut buf = BytesMut::new();
    let _ = Packet::ConnAck(ConnAck::new(code, false)).write(&mut buf, usize::MAX);
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        writer.write_all(&buf).await?;
        writer.flush().await?;
        writer.shutdown().await
    })
    .await;
}

/// Writes what `wbuf` holds or, once it is empty, flushes (TLS streams buffer). Both are
/// cancel-safe. `Some(n)`: n bytes written; `None`: flushed.
async fn write_or_flush<W: AsyncWrite + Unpin>(
    writer: &mut W,
    wbuf: &[u8],
) -> std::io::Result<Option<usize>> {
    if wbuf.is_empty() {
        writer.flush().await.map(|()| None)
    } else {
        writer.write(wbuf).await.map(Some)
    }
}

/// One established link.
struct Conn {
    inner: Arc<Inner>,
    client_id: String,
    conn_id: u64,
    wbuf: BytesMut,
    rbuf: BytesMut,
    /// When the client last sent a packet (keepalive).
    last_rx: Instant,
    /// Bytes were written since the last flush.
    needs_flush: bool,
    /// The router has packets for this link (it said so through the hub's wake-up).
    out_ready: bool,
    /// Links that our PUBLISHes left congested: this link is not read until they drain
    /// (back-pressure), or until one is found stalled.
    holding: Vec<Held>,
}

/// A congested link a publisher waits for.
struct Held {
    conn_id: u64,
    /// Its `taken` count when the current wait began.
    taken: u64,
    since: Instant,
}

impl Conn {
    /// Attaches the accepted CONNECT to its session: CONNACK goes into the write buffer
    /// before anything the router has for the link (MQTT-3.2.0-1: the first packet from the
    /// server is CONNACK).
    fn open(inner: Arc<Inner>, connect: &Connect, rbuf: BytesMut, peer: &str) -> (Conn, LinkIo) {
        let mut hub = inner.hub.lock().expect("hub lock");
        let conn_id = hub.router.new_conn_id();
        let io = hub.register(conn_id);
        let (accepted, fx) = hub
            .router
            .connect(&connect.client_id, connect.clean_session, conn_id);
        let _ = hub.apply(fx);
        drop(hub);
        info!(
            client_id = accepted.client_id,
            peer,
            clean_session = connect.clean_session,
            keep_alive = connect.keep_alive,
            session_present = accepted.session_present,
            "client connected"
        );
        let mut conn = Conn {
            inner: inner.clone(),
            client_id: accepted.client_id,
            conn_id,
            wbuf: BytesMut::new(),
            rbuf,
            last_rx: Instant::now(),
            needs_flush: false,
            out_ready: true,
            holding: Vec::new(),
        };
        let ack = ConnAck::new(ConnectReturnCode::Success, accepted.session_present);
        conn.queue(Packet::ConnAck(ack));
        let _ = inner.events.send(BrokerEvent::Connected {
            client_id: conn.client_id.clone(),
        });
        (conn, io)
    }

    /// Detaches the link from its session and publishes the will if `end` calls for it.
    fn close(&mut self, end: &End, will: Option<LastWill>) {
        let inner = self.inner.clone();
        let mut hub = inner.hub.lock().expect("hub lock");
        hub.deregister(self.conn_id);
        let fx = hub.router.disconnect(&self.client_id, self.conn_id);
        let _ = hub.apply(fx);
        if let Some(will) = will.filter(|_| end.publishes_will()) {
            info!(
                client_id = self.client_id,
                topic = will.topic,
                "publishing will"
            );
            let _ = route(&inner, &mut hub, will_publish(will));
        }
    }

    fn queue(&mut self, packet: Packet) {
        debug!(client_id = self.client_id, "-> {}", summary(&packet));
        if let Err(e) = packet.write(&mut self.wbuf, usize::MAX) {
            warn!(client_id = self.client_id, error = %e, "cannot encode outgoing packet");
        }
    }

    /// Runs `f` on the router under the hub's lock and carries out its effects; returns
    /// what `f` returned and the links a publisher must wait for.
    fn router<T>(&self, f: impl FnOnce(&mut Router) -> (T, Effects)) -> (T, Vec<(u64, u64)>) {
        let mut hub = self.inner.hub.lock().expect("hub lock");
        let (t, fx) = f(&mut hub.router);
        (t, hub.apply(fx))
    }

    async fn serve<S: AsyncRead + AsyncWrite>(
        &mut self,
        reader: &mut ReadHalf<S>,
        writer: &mut WriteHalf<S>,
        mut io: LinkIo,
        shutdown: &mut watch::Receiver<bool>,
        keep_alive: u16,
    ) -> End {
        // MQTT-3.1.2-24: close if nothing arrives within 1.5 x keepalive;
        // keepalive 0 switches the mechanism off.
        let grace = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        self.last_rx = Instant::now();
        loop {
            // Packets already buffered go first: those that came in the same read as CONNECT
            // (MQTT 3.1.4 lets a client send them before CONNACK), and those behind a PUBLISH
            // that held us.
            if let Err(end) = self.handle_buffered() {
                return end;
            }
            if self.out_ready && self.wbuf.len() < WRITE_HIGH_WATER {
                self.take_out();
            }
            if let Err(end) = self.wait(reader, writer, &mut io, shutdown, grace).await {
                return end;
            }
        }
    }

    /// Handles the complete packets in the read buffer, unless a hold stops us reading.
    fn handle_buffered(&mut self) -> Result<(), End> {
        let was_held = !self.holding.is_empty();
        self.release_holds();
        if was_held && self.holding.is_empty() {
            // What the client sent meanwhile (a PINGREQ) was not read: not its fault.
            self.last_rx = Instant::now();
        }
        while self.holding.is_empty() {
            match Packet::read(&mut self.rbuf, self.inner.max_packet_size) {
                Ok(packet) => {
                    self.last_rx = Instant::now();
                    self.handle(packet)?;
                }
                Err(CodecError::InsufficientBytes(_)) => break,
                Err(e) => return Err(End::Protocol(format!("malformed packet: {e}"))),
            }
        }
        Ok(())
    }

    /// Takes a batch of the packets the router has for this link into the write buffer.
    fn take_out(&mut self) {
        let conn_id = self.conn_id;
        // If more wait, the router names this link again and the wake-up comes back.
        let (packets, _) = self.router(|r| r.take(conn_id, TAKE_BATCH));
        self.out_ready = false;
        for p in packets {
            self.queue(p);
        }
    }

    /// Waits for the next thing to do and does its I/O part.
    async fn wait<S: AsyncRead + AsyncWrite>(
        &mut self,
        reader: &mut ReadHalf<S>,
        writer: &mut WriteHalf<S>,
        io: &mut LinkIo,
        shutdown: &mut watch::Receiver<bool>,
        grace: Option<Duration>,
    ) -> Result<(), End> {
        // Registered before the congestion marks are read again, so a drain in between is
        // not missed.
        let drained = self.inner.drained.clone();
        let notified = drained.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        self.release_holds();
        let held = !self.holding.is_empty();
        let hold = self.inner.publisher_hold;
        let hold_check = self.holding.iter().map(|h| h.since + hold).min();
        let deadline = grace.map(|g| self.last_rx + g).filter(|_| !held);
        self.rbuf.reserve(4096);
        let room = self.wbuf.len() < WRITE_HIGH_WATER;
        let flush = !self.wbuf.is_empty() || self.needs_flush;
        let wake = io.wake.clone();
        tokio::select! {
            biased;
            _ = shutdown.changed() => return Err(End::Shutdown),
            // A dropped sender means the hub forgot the link.
            reason = &mut io.kill => return Err(End::Router(reason.unwrap_or(CloseReason::TakenOver))),
            res = write_or_flush(writer, &self.wbuf), if flush => match res {
                Ok(Some(0)) => return Err(End::PeerClosed),
                Ok(Some(n)) => {
                    self.wbuf.advance(n);
                    self.needs_flush = true;
                }
                Ok(None) => self.needs_flush = false,
                Err(e) => return Err(End::Io(e)),
            },
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                return Err(End::KeepAlive);
            }
            _ = wake.notified(), if room && !self.out_ready => self.out_ready = true,
            _ = &mut notified, if held => {}
            _ = sleep_until(hold_check.unwrap_or_else(Instant::now)), if hold_check.is_some() => {
                self.check_stalled();
            }
            n = reader.read_buf(&mut self.rbuf), if room && !held => match n {
                Ok(0) => return Err(End::PeerClosed),
                Err(e) => return Err(End::Io(e)),
                Ok(_) => {}
            },
        }
        Ok(())
    }

    /// Forgets the holds on links that have drained or gone.
    fn release_holds(&mut self) {
        if self.holding.is_empty() {
            return;
        }
        let mut hub = self.inner.hub.lock().expect("hub lock");
        self.holding.retain(|h| {
            hub.router
                .progress(h.conn_id)
                .is_some_and(|(congested, _)| congested)
        });
    }

    /// A held link that took nothing from its queue for `publisher_hold` is not read by its
    /// client: stop waiting for it (its messages are dropped and counted from now on, as
    /// Mosquitto drops them), and hold nobody for it until it takes something again.
    fn check_stalled(&mut self) {
        let now = Instant::now();
        let hold = self.inner.publisher_hold;
        let inner = self.inner.clone();
        let mut hub = inner.hub.lock().expect("hub lock");
        let mut stalled = 0;
        self.holding.retain_mut(|h| {
            if now < h.since + hold {
                return true;
            }
            match hub.router.progress(h.conn_id) {
                // Slow, but reading: keep waiting.
                Some((true, taken)) if taken != h.taken => {
                    h.taken = taken;
                    h.since = now;
                    true
                }
                Some((true, _)) => {
                    hub.router.stalled(h.conn_id);
                    stalled += 1;
                    false
                }
                _ => false,
            }
        });
        if stalled > 0 {
            info!(
                client_id = self.client_id,
                stalled,
                "a subscriber took nothing for {hold:?}: no longer holding this publisher for it"
            );
        }
    }

    /// Holds this publisher for the links its message left congested (not itself: it could
    /// not read its own acknowledgements).
    fn hold_for(&mut self, congested: Vec<(u64, u64)>) {
        if self.inner.publisher_hold.is_zero() || congested.is_empty() {
            return;
        }
        let was_held = !self.holding.is_empty();
        let now = Instant::now();
        for (conn_id, taken) in congested {
            if conn_id == self.conn_id || self.holding.iter().any(|h| h.conn_id == conn_id) {
                continue;
            }
            self.holding.push(Held {
                conn_id,
                taken,
                since: now,
            });
        }
        if !was_held && !self.holding.is_empty() {
            let _ = self.router(|r| {
                r.held();
                ((), Effects::default())
            });
        }
    }

    /// One inbound packet on an established link.
    fn handle(&mut self, packet: Packet) -> Result<(), End> {
        debug!(client_id = self.client_id, "<- {}", summary(&packet));
        let id = self.client_id.clone();
        match packet {
            // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
            Packet::Connect(_) => return Err(End::Protocol("second CONNECT".into())),
            Packet::Publish(p) => return self.on_publish(p),
            Packet::PubAck(a) => {
                let _ = self.router(|r| ((), r.puback(&id, a.pkid)));
            }
            Packet::PubRec(a) => {
                let _ = self.router(|r| (r.pubrec(&id, a.pkid), Effects::default()));
                // MQTT-4.3.3-1: answer PUBREC with PUBREL.
                self.queue(Packet::PubRel(PubRel::new(a.pkid)));
            }
            Packet::PubRel(a) => {
                let _ = self.router(|r| (r.pubrel(&id, a.pkid), Effects::default()));
                self.queue(Packet::PubComp(PubComp::new(a.pkid)));
            }
            Packet::PubComp(a) => {
                let _ = self.router(|r| ((), r.pubcomp(&id, a.pkid)));
            }
            Packet::Subscribe(s) => {
                let (ack, _) = self.router(|r| r.subscribe(&id, &s));
                // MQTT-3.8.4-1: SUBACK, written ahead of the retained messages the router
                // just queued for the link.
                self.queue(Packet::SubAck(ack));
            }
            Packet::Unsubscribe(u) => {
                let _ = self.router(|r| (r.unsubscribe(&id, &u), Effects::default()));
                // MQTT-3.10.4-4: UNSUBACK even if nothing matched.
                self.queue(Packet::UnsubAck(UnsubAck::new(u.pkid)));
            }
            Packet::PingReq => self.queue(Packet::PingResp), // MQTT-3.12.4-1
            Packet::Disconnect => return Err(End::Disconnect),
            other @ (Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp) => {
                return Err(End::Protocol(format!(
                    "server-only packet from client: {}",
                    summary(&other)
                )))
            }
        }
        Ok(())
    }

    /// An inbound PUBLISH: routed, acknowledged, and the publisher held for the links it
    /// left congested.
    fn on_publish(&mut self, p: Publish) -> Result<(), End> {
        // MQTT-3.3.2-2: no wildcards in a topic name.
        if !topic::valid_topic(&p.topic) {
            return Err(End::Protocol(format!("invalid topic name {:?}", p.topic)));
        }
        let pkid = p.pkid;
        let inner = self.inner.clone();
        let mut hub = inner.hub.lock().expect("hub lock");
        let congested = match p.qos {
            QoS::AtMostOnce => route(&inner, &mut hub, p),
            QoS::AtLeastOnce => {
                // MQTT-4.3.2-2: PUBACK after taking ownership.
                let congested = route(&inner, &mut hub, p);
                self.queue(Packet::PubAck(PubAck::new(pkid)));
                congested
            }
            QoS::ExactlyOnce => {
                // MQTT-4.3.3-2: deliver once, PUBREC every time.
                let congested = if hub.router.incoming_qos2(&self.client_id, pkid) {
                    route(&inner, &mut hub, p)
                } else {
                    debug!(
                        client_id = self.client_id,
                        pkid, "duplicate QoS 2 PUBLISH not routed"
                    );
                    Vec::new()
                };
                self.queue(Packet::PubRec(PubRec::new(pkid)));
                congested
            }
        };
        drop(hub);
        self.hold_for(congested);
        Ok(())
    }
}

/// An application message into the router (a client's PUBLISH or a will), announced to the
/// event subscribers; returns the links a publisher must wait for.
fn route(inner: &Inner, hub: &mut Hub, publish: Publish) -> Vec<(u64, u64)> {
    let _ = inner.events.send(BrokerEvent::Published {
        topic: publish.topic.clone(),
        qos: publish.qos,
        retain: publish.retain,
        payload: publish.payload.clone(),
    });
    let fx = hub.router.publish(publish);
    hub.apply(fx)
}

/// A one-line description of a packet for logs (never the payload).
fn summary(p: &Packet) -> String {
    match p {
        Packet::Connect(c) => format!("CONNECT id={}", c.client_id),
        Packet::ConnAck(c) => format!("CONNACK {:?} sp={}", c.code, c.session_present),
        Packet::Publish(p) => format!(
            "PUBLISH topic={} qos={:?} retain={} dup={} pkid={} len={}",
            p.topic,
            p.qos,
            p.retain,
            p.dup,
            p.pkid,
            p.payload.len()
        ),
        Packet::PubAck(a) => format!("PUBACK {}", a.pkid),
        Packet::PubRec(a) => format!("PUBREC {}", a.pkid),
        Packet::PubRel(a) => format!("PUBREL {}", a.pkid),
        Packet::PubComp(a) => format!("PUBCOMP {}", a.pkid),
        Packet::Subscribe(s) => format!("SUBSCRIBE {} {:?}", s.pkid, s.filters),
        Packet::SubAck(s) => format!("SUBACK {} {:?}", s.pkid, s.return_codes),
        Packet::Unsubscribe(u) => format!("UNSUBSCRIBE {} {:?}", u.pkid, u.topics),
        Packet::UnsubAck(u) => format!("UNSUBACK {}", u.pkid),
        Packet::PingReq => "PINGREQ".into(),
        Packet::PingResp => "PINGRESP".into(),
        Packet::Disconnect => "DISCONNECT".into(),
    }
}
