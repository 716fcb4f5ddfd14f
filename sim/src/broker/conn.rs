//! The per-connection task: frames bytes with rumqttc's v4 codec, enforces
//! the connection-level rules (CONNECT first, authentication, keepalive,
//! will) and forwards everything else to the [`Router`](super::router).
//!
//! One task per link selects over socket reads, socket writes, the link's
//! outgoing queue, timers and close signals. Writes are cancel-safe futures
//! inside the select, so a client that stops reading can still be kicked.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, LastWill, Packet, PubAck, PubComp, PubRec, PubRel,
    Publish, UnsubAck,
};
use rumqttc::mqttbytes::{Error as CodecError, Protocol, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn};

use super::router::{CloseReason, Link, LinkState};
use super::{topic, BrokerEvent, Inner};

/// Stop reading from the socket while this much output is unsent, so a
/// client that floods requests but never reads cannot grow our buffer.
const WRITE_HIGH_WATER: usize = 64 * 1024;
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

    let connect = match await_connect(&inner, &peer, &mut reader, &mut rbuf, &mut shutdown).await {
        Ok(c) => c,
        Err(Some(refusal)) => {
            refuse(&peer, &mut writer, refusal).await;
            return;
        }
        Err(None) => return,
    };
    if let Some(will) = &connect.last_will {
        // MQTT-3.1.2-14 / 3.1.3.2: the will topic is a topic name.
        if !topic::valid_topic(&will.topic) {
            info!(peer, topic = will.topic, "invalid will topic, closing");
            return;
        }
    }
    if let Some(code) = check_connect(&inner, &connect) {
        let _ = inner.events.send(BrokerEvent::Refused {
            client_id: connect.client_id.clone(),
            code,
        });
        refuse(&peer, &mut writer, code).await;
        return;
    }

    let (tx, out_rx) = mpsc::channel(inner.limits.channel_capacity());
    let (kill_tx, kill_rx) = oneshot::channel();
    let state = Arc::new(LinkState::default());
    let (conn_id, accepted) = {
        let mut router = inner.router.lock().expect("router lock");
        let conn_id = router.new_conn_id();
        let link = Link {
            conn_id,
            tx,
            kill: kill_tx,
            state: state.clone(),
        };
        (
            conn_id,
            router.connect(&connect.client_id, connect.clean_session, link),
        )
    };
    let client_id = accepted.client_id;
    info!(
        client_id,
        peer,
        clean_session = connect.clean_session,
        keep_alive = connect.keep_alive,
        session_present = accepted.session_present,
        "client connected"
    );
    let mut conn = Conn {
        inner: inner.clone(),
        client_id: client_id.clone(),
        wbuf: BytesMut::new(),
        rbuf,
        state,
        holding: Vec::new(),
    };
    // CONNACK goes into the write buffer before anything from the queue
    // (MQTT-3.2.0-1: the first packet from the server is CONNACK).
    conn.queue(Packet::ConnAck(ConnAck::new(
        ConnectReturnCode::Success,
        accepted.session_present,
    )));
    let _ = inner.events.send(BrokerEvent::Connected {
        client_id: client_id.clone(),
    });

    let keep_alive = connect.keep_alive;
    let end = conn
        .serve(
            &mut reader,
            &mut writer,
            out_rx,
            kill_rx,
            &mut shutdown,
            keep_alive,
        )
        .await;
    drop((reader, writer));

    let graceful = matches!(end, End::Disconnect);
    {
        let mut router = inner.router.lock().expect("router lock");
        router.disconnect(&client_id, conn_id);
        if end.publishes_will() {
            if let Some(will) = connect.last_will {
                info!(client_id, topic = will.topic, "publishing will");
                router.publish(will_publish(will));
            }
        }
    }
    info!(client_id, peer, reason = %end, "client disconnected");
    let _ = inner.events.send(BrokerEvent::Disconnected {
        client_id,
        graceful,
    });
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
        match Packet::read(rbuf, inner.max_packet_size) {
            Ok(Packet::Connect(c)) => {
                debug!(peer, client_id = c.client_id, "<- CONNECT");
                return Ok(c);
            }
            Ok(other) => {
                // MQTT-3.1.0-1: the first packet must be CONNECT.
                info!(
                    peer,
                    packet = summary(&other),
                    "first packet is not CONNECT, closing"
                );
                return Err(None);
            }
            Err(CodecError::InsufficientBytes(_)) => {}
            Err(CodecError::InvalidProtocolLevel(level)) => {
                // MQTT-3.1.2-2: unsupported level -> CONNACK 0x01, close.
                info!(peer, level, "unsupported protocol level");
                return Err(Some(ConnectReturnCode::RefusedProtocolVersion));
            }
            Err(e) => {
                info!(peer, error = %e, "malformed CONNECT, closing");
                return Err(None);
            }
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

struct Conn {
    inner: Arc<Inner>,
    client_id: String,
    wbuf: BytesMut,
    rbuf: BytesMut,
    /// This link's own state, shared with the router.
    state: Arc<LinkState>,
    /// Links that our PUBLISHes left congested: this link is not read until they drain
    /// (back-pressure), or until one is found stalled.
    holding: Vec<Held>,
}

/// A congested link a publisher waits for.
struct Held {
    state: Arc<LinkState>,
    /// Its `taken` count when the current wait began.
    taken: u64,
    since: Instant,
}

impl Conn {
    fn queue(&mut self, packet: Packet) {
        debug!(client_id = self.client_id, "-> {}", summary(&packet));
        if let Err(e) = packet.write(&mut self.wbuf, usize::MAX) {
            warn!(client_id = self.client_id, error = %e, "cannot encode outgoing packet");
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite>(
        &mut self,
        reader: &mut ReadHalf<S>,
        writer: &mut WriteHalf<S>,
        mut out_rx: mpsc::Receiver<Packet>,
        mut kill_rx: oneshot::Receiver<CloseReason>,
        shutdown: &mut watch::Receiver<bool>,
        keep_alive: u16,
    ) -> End {
        // MQTT-3.1.2-24: close if nothing arrives within 1.5 x keepalive;
        // keepalive 0 switches the mechanism off.
        let grace = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        let mut last_rx = Instant::now();
        let mut needs_flush = false;
        let drained = self.inner.drained.clone();
        let low_water = self.inner.limits.low_water();
        loop {
            // Packets already buffered go first: those that came in the same read as CONNECT
            // (MQTT 3.1.4 lets a client send them before CONNACK), and those behind a PUBLISH
            // that held us.
            let was_held = !self.holding.is_empty();
            self.release_holds();
            if was_held && self.holding.is_empty() {
                // What the client sent meanwhile (a PINGREQ) was not read: not its fault.
                last_rx = Instant::now();
            }
            while self.holding.is_empty() {
                match Packet::read(&mut self.rbuf, self.inner.max_packet_size) {
                    Ok(packet) => {
                        last_rx = Instant::now();
                        if let Err(end) = self.handle(packet) {
                            return end;
                        }
                    }
                    Err(CodecError::InsufficientBytes(_)) => break,
                    Err(e) => return End::Protocol(format!("malformed packet: {e}")),
                }
            }
            let held = !self.holding.is_empty();
            // Registered before the congestion marks are read again, so a drain in between
            // is not missed.
            let notified = drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.release_holds();
            let hold_check = self
                .holding
                .iter()
                .map(|h| h.since + self.inner.publisher_hold)
                .min();
            let deadline = grace.map(|g| last_rx + g).filter(|_| !held);
            self.rbuf.reserve(4096);
            let room = self.wbuf.len() < WRITE_HIGH_WATER;
            let wbuf = &self.wbuf;
            tokio::select! {
                biased;
                _ = shutdown.changed() => return End::Shutdown,
                reason = &mut kill_rx => {
                    // A dropped sender means the router forgot the link.
                    return End::Router(reason.unwrap_or(CloseReason::TakenOver));
                }
                // Write or, once drained, flush (TLS streams buffer).
                // Both are cancel-safe.
                res = async {
                    if wbuf.is_empty() {
                        writer.flush().await.map(|()| None)
                    } else {
                        writer.write(wbuf).await.map(Some)
                    }
                }, if !wbuf.is_empty() || needs_flush => match res {
                    Ok(Some(0)) => return End::PeerClosed,
                    Ok(Some(n)) => {
                        self.wbuf.advance(n);
                        needs_flush = true;
                    }
                    Ok(None) => needs_flush = false,
                    Err(e) => return End::Io(e),
                },
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return End::KeepAlive;
                }
                packet = out_rx.recv(), if room => match packet {
                    Some(p) => {
                        self.state.taken.fetch_add(1, Ordering::Relaxed);
                        self.queue(p);
                        if self.state.congested.load(Ordering::Relaxed) && out_rx.len() <= low_water {
                            self.inner.router.lock().expect("router lock").relieve(&self.client_id);
                        }
                    }
                    None => return End::Router(CloseReason::TakenOver),
                },
                _ = &mut notified, if held => {}
                _ = sleep_until(hold_check.unwrap_or_else(Instant::now)), if hold_check.is_some() => {
                    self.check_stalled();
                }
                n = reader.read_buf(&mut self.rbuf), if room && !held => match n {
                    Ok(0) => return End::PeerClosed,
                    Err(e) => return End::Io(e),
                    Ok(_) => {}
                },
            }
        }
    }

    /// Forgets the holds on links that have drained.
    fn release_holds(&mut self) {
        self.holding
            .retain(|h| h.state.congested.load(Ordering::Relaxed));
    }

    /// A held link that took nothing from its queue for `publisher_hold` is not read by its
    /// client: stop waiting for it (its messages are dropped and counted from now on, as
    /// Mosquitto drops them), and hold nobody for it until it takes something again.
    fn check_stalled(&mut self) {
        let now = Instant::now();
        let hold = self.inner.publisher_hold;
        let mut stalled = 0;
        self.holding.retain_mut(|h| {
            if now < h.since + hold {
                return true;
            }
            let taken = h.state.taken.load(Ordering::Relaxed);
            if taken != h.taken {
                // Slow, but reading: keep waiting.
                h.taken = taken;
                h.since = now;
                return true;
            }
            h.state.stalled_at.store(taken + 1, Ordering::Relaxed);
            stalled += 1;
            false
        });
        if stalled > 0 {
            info!(
                client_id = self.client_id,
                stalled,
                "a subscriber took nothing for {hold:?}: no longer holding this publisher for it"
            );
            let mut router = self.inner.router.lock().expect("router lock");
            for _ in 0..stalled {
                router.count_hold(true);
            }
        }
    }

    /// Holds this publisher for the links its message left congested (not itself: it
    /// could not read its own acknowledgements; not a link found stalled).
    fn hold_for(&mut self, congested: Vec<Arc<LinkState>>) {
        if self.inner.publisher_hold.is_zero() {
            return;
        }
        let now = Instant::now();
        for state in congested {
            if Arc::ptr_eq(&state, &self.state)
                || self.holding.iter().any(|h| Arc::ptr_eq(&h.state, &state))
            {
                continue;
            }
            let taken = state.taken.load(Ordering::Relaxed);
            if state.stalled_at.load(Ordering::Relaxed) == taken + 1 {
                continue;
            }
            self.holding.push(Held {
                state,
                taken,
                since: now,
            });
        }
    }

    /// One inbound packet on an established link.
    fn handle(&mut self, packet: Packet) -> Result<(), End> {
        debug!(client_id = self.client_id, "<- {}", summary(&packet));
        let inner = self.inner.clone();
        let mut router = inner.router.lock().expect("router lock");
        let id = self.client_id.as_str();
        match packet {
            // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
            Packet::Connect(_) => return Err(End::Protocol("second CONNECT".into())),
            Packet::Publish(p) => {
                // MQTT-3.3.2-2: no wildcards in a topic name.
                if !topic::valid_topic(&p.topic) {
                    return Err(End::Protocol(format!("invalid topic name {:?}", p.topic)));
                }
                let pkid = p.pkid;
                let congested = match p.qos {
                    QoS::AtMostOnce => {
                        let congested = router.publish(p);
                        drop(router);
                        congested
                    }
                    QoS::AtLeastOnce => {
                        // MQTT-4.3.2-2: PUBACK after taking ownership.
                        let congested = router.publish(p);
                        drop(router);
                        self.queue(Packet::PubAck(PubAck::new(pkid)));
                        congested
                    }
                    QoS::ExactlyOnce => {
                        // MQTT-4.3.3-2: deliver once, PUBREC every time.
                        let congested = if router.incoming_qos2(id, pkid) {
                            router.publish(p)
                        } else {
                            debug!(client_id = id, pkid, "duplicate QoS 2 PUBLISH not routed");
                            Vec::new()
                        };
                        drop(router);
                        self.queue(Packet::PubRec(PubRec::new(pkid)));
                        congested
                    }
                };
                if !congested.is_empty() {
                    let before = self.holding.len();
                    self.hold_for(congested);
                    if before == 0 && !self.holding.is_empty() {
                        inner.router.lock().expect("router lock").count_hold(false);
                    }
                }
            }
            Packet::PubAck(a) => router.puback(id, a.pkid),
            Packet::PubRec(a) => {
                router.pubrec(id, a.pkid);
                drop(router);
                // MQTT-4.3.3-1: answer PUBREC with PUBREL.
                self.queue(Packet::PubRel(PubRel::new(a.pkid)));
            }
            Packet::PubRel(a) => {
                router.pubrel(id, a.pkid);
                drop(router);
                self.queue(Packet::PubComp(PubComp::new(a.pkid)));
            }
            Packet::PubComp(a) => router.pubcomp(id, a.pkid),
            Packet::Subscribe(s) => {
                let ack = router.subscribe(id, &s);
                drop(router);
                // MQTT-3.8.4-1: SUBACK, written ahead of the retained
                // messages the router just queued.
                self.queue(Packet::SubAck(ack));
            }
            Packet::Unsubscribe(u) => {
                router.unsubscribe(id, &u);
                drop(router);
                // MQTT-3.10.4-4: UNSUBACK even if nothing matched.
                self.queue(Packet::UnsubAck(UnsubAck::new(u.pkid)));
            }
            Packet::PingReq => {
                drop(router);
                self.queue(Packet::PingResp); // MQTT-3.12.4-1
            }
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
